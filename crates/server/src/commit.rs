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

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

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
}

impl GroupCommit {
    /// Starts the committer thread for `engine`.
    pub fn new(engine: Arc<Engine>) -> GroupCommit {
        let shared = Arc::new(Shared::default());
        let for_thread = shared.clone();
        let committer = std::thread::Builder::new()
            .name("flowseg-commit".into())
            .spawn(move || run(&for_thread, &engine))
            .expect("the committer thread starts");
        GroupCommit {
            shared,
            committer: Some(committer),
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
        if let Some(thread) = self.committer.take() {
            let _ = thread.join();
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The committer: waits for jobs, writes all that are queued in one
/// transaction, answers them; returns once closed and drained.
fn run(shared: &Shared, engine: &Engine) {
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
        let batches: Vec<(&str, &[EventInput], i64)> = jobs
            .iter()
            .map(|j| (j.account.as_str(), j.events.as_slice(), j.now))
            .collect();
        let results = engine.append_event_batches(&batches);
        shared.commits.fetch_add(1, Ordering::Relaxed);
        shared
            .committed_requests
            .fetch_add(jobs.len() as u64, Ordering::Relaxed);
        for (job, result) in jobs.into_iter().zip(results) {
            let _ = job.reply.send(result);
        }
    }
}
