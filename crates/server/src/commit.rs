//! Group commit for event ingest: concurrent requests share durable
//! commits. A request queues its batch and waits for its answer; one
//! committer thread drains the whole queue, writes every batch in it in one
//! durable transaction, and answers each request. While a commit (and its
//! fsync) is in progress, new requests gather in the queue for the next one.
//!
//! A dedicated thread, not "whoever gets the lock": when every request had
//! to pass a committer mutex itself, the mutex handed off one waiter at a
//! time and commits carried ~1 request each (measured: 1.05 requests per
//! commit with 128 concurrent single-event clients).
//!
//! A second thread, the applier, applies each stored commit to the indexes
//! and answers its requests, while the committer goes on to store the next
//! commit: the index work of one commit overlaps the store work (and the
//! fsync) of the next. A request is answered only once its events are in
//! the indexes, so what it wrote is visible to whatever the client does
//! next.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use flowseg_engine::{Engine, EngineError, StoredBatches};
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
struct Queue {
    jobs: Vec<Job>,
    closed: bool,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
    /// Transactions written, and the requests they carried: their ratio is
    /// how well commits are shared (exported at `GET /metrics`).
    commits: AtomicU64,
    committed_requests: AtomicU64,
}

pub struct GroupCommit {
    shared: Arc<Shared>,
    committer: Option<JoinHandle<()>>,
    applier: Option<JoinHandle<()>>,
}

/// A commit handed from the committer to the applier.
type Stored = (Vec<Job>, StoredBatches);

impl GroupCommit {
    /// Starts the committer and applier threads for `engine`.
    pub fn new(engine: Arc<Engine>) -> GroupCommit {
        let shared = Arc::new(Shared::default());
        let for_thread = shared.clone();
        // One stored commit may wait while another is applied: enough to
        // overlap the two stages, and it bounds what waits in memory.
        let (to_applier, stored) = std::sync::mpsc::sync_channel::<Stored>(1);
        let engine_for_applier = engine.clone();
        let applier = std::thread::Builder::new()
            .name("flowseg-apply".into())
            .spawn(move || apply(&stored, &engine_for_applier))
            .expect("the applier thread starts");
        let committer = std::thread::Builder::new()
            .name("flowseg-commit".into())
            .spawn(move || run(&for_thread, &engine, &to_applier))
            .expect("the committer thread starts");
        GroupCommit {
            shared,
            committer: Some(committer),
            applier: Some(applier),
        }
    }

    /// Appends `events` durably, sharing the commit with concurrent calls.
    pub async fn append(
        &self,
        account: &str,
        events: Vec<EventInput>,
        now: i64,
    ) -> ApiResult<AppendOutcome> {
        let (reply, answer) = oneshot::channel();
        {
            let mut queue = self.shared.lock();
            if queue.closed {
                return Err(ApiError::internal("the server is stopping"));
            }
            queue.jobs.push(Job {
                account: account.to_string(),
                events,
                now,
                reply,
            });
        }
        self.shared.wake.notify_one();
        match answer.await {
            Ok(result) => result.map_err(ApiError::from),
            Err(_) => Err(ApiError::internal("the commit of this request was lost")),
        }
    }

    /// Appends the group-commit counters in the Prometheus text format.
    pub fn render_metrics(&self, out: &mut String) {
        for (name, help, counter) in [
            (
                "flowseg_ingest_commits_total",
                "Durable event-ingest transactions (one fsync each).",
                &self.shared.commits,
            ),
            (
                "flowseg_ingest_committed_requests_total",
                "Event-ingest requests those transactions carried.",
                &self.shared.committed_requests,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                counter.load(Ordering::Relaxed)
            );
        }
    }
}

impl Drop for GroupCommit {
    /// Lets the committer finish what is queued, then stops it.
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
        // The committer ends first; its end closes the applier's channel.
        if let Some(thread) = self.committer.take() {
            let _ = thread.join();
        }
        if let Some(thread) = self.applier.take() {
            let _ = thread.join();
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The committer: waits for jobs, stores all that are queued in one
/// transaction, hands them to the applier; returns once closed and drained.
fn run(shared: &Shared, engine: &Engine, to_applier: &SyncSender<Stored>) {
    loop {
        let jobs = {
            let mut queue = shared.lock();
            while queue.jobs.is_empty() && !queue.closed {
                queue = shared.wake.wait(queue).unwrap_or_else(|e| e.into_inner());
            }
            if queue.jobs.is_empty() {
                return;
            }
            std::mem::take(&mut queue.jobs)
        };
        let stored = engine.store_event_batches(&batches_of(&jobs));
        shared.commits.fetch_add(1, Ordering::Relaxed);
        shared
            .committed_requests
            .fetch_add(jobs.len() as u64, Ordering::Relaxed);
        if to_applier.send((jobs, stored)).is_err() {
            // The applier is gone (it panicked). What was handed to it is
            // dropped, which ends its turn; nothing more can be answered,
            // so the queue closes and its requests (and any later one) get
            // an error instead of waiting for ever.
            let mut queue = shared.lock();
            queue.closed = true;
            queue.jobs.clear();
            return;
        }
    }
}

/// The applier: applies each stored commit in turn and answers its
/// requests; returns when the committer has ended.
fn apply(stored: &Receiver<Stored>, engine: &Engine) {
    for (jobs, commit) in stored {
        let results = engine.apply_stored(commit, &batches_of(&jobs));
        for (job, result) in jobs.into_iter().zip(results) {
            let _ = job.reply.send(result);
        }
    }
}

/// The jobs' batches as the engine takes them.
fn batches_of(jobs: &[Job]) -> Vec<(&str, &[EventInput], i64)> {
    jobs.iter()
        .map(|j| (j.account.as_str(), j.events.as_slice(), j.now))
        .collect()
}
