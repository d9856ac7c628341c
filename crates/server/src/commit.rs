//! Group commit for event ingest: concurrent requests share durable
//! commits. Each request queues its batch and then tries to become the
//! committer; the committer drains the whole queue and writes every batch
//! in it in one durable transaction, then answers each request. While one
//! commit (and its fsync) is in progress, new requests gather in the queue
//! for the next one.

use std::sync::{Arc, Mutex};

use flowseg_engine::{Engine, EngineError};
use flowseg_model::EventInput;
use flowseg_store::AppendOutcome;
use tokio::sync::oneshot;

use crate::error::{ApiError, ApiResult};

struct Job {
    account: String,
    events: Vec<EventInput>,
    now: i64,
    reply: oneshot::Sender<Result<AppendOutcome, EngineError>>,
}

#[derive(Default)]
pub struct GroupCommit {
    queue: Mutex<Vec<Job>>,
    /// Held by the committer while it writes.
    committer: Mutex<()>,
}

impl GroupCommit {
    /// Appends `events` durably, sharing the commit with concurrent calls.
    pub async fn append(
        self: &Arc<Self>,
        engine: &Arc<Engine>,
        account: &str,
        events: Vec<EventInput>,
        now: i64,
    ) -> ApiResult<AppendOutcome> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Job {
                account: account.to_string(),
                events,
                now,
                reply,
            });
        let me = self.clone();
        let engine = engine.clone();
        tokio::task::spawn_blocking(move || me.commit_pending(&engine)).await?;
        match answer.await {
            Ok(result) => result.map_err(ApiError::from),
            Err(_) => Err(ApiError::internal("the commit of this request was lost")),
        }
    }

    /// Becomes the committer and writes whatever is queued (possibly
    /// nothing, when an earlier committer took this request's batch).
    fn commit_pending(&self, engine: &Engine) {
        let _committer = self.committer.lock().unwrap_or_else(|e| e.into_inner());
        let jobs: Vec<Job> =
            std::mem::take(&mut *self.queue.lock().unwrap_or_else(|e| e.into_inner()));
        if jobs.is_empty() {
            return;
        }
        let batches: Vec<(&str, &[EventInput], i64)> = jobs
            .iter()
            .map(|j| (j.account.as_str(), j.events.as_slice(), j.now))
            .collect();
        let results = engine.append_event_batches(&batches);
        for (job, result) in jobs.into_iter().zip(results) {
            let _ = job.reply.send(result);
        }
    }
}
