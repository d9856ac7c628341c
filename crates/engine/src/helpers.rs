//! Helper threads that take parts of a split evaluation step alongside the
//! thread that asked for it.
//!
//! A scan or sweep over every contact is split into parts (whole words of
//! contacts). Spawning a scoped thread per part cost ~40 µs here (2-core
//! AMD EPYC, spawn and join of an empty thread), as much as a whole scan
//! of a 1M-value column in the cache, so the attribute segments at
//! `large` ran faster on one core than on two. The helpers are started
//! once and wait for work; and the asking thread never waits for a helper
//! to arrive: it claims the parts itself, one after another, and a helper
//! that wakes in time claims the ones left. The asker waits only for parts
//! a helper has already claimed, so a step is never slower than on one
//! thread by more than the cost of the wake-up call.
//!
//! A helper that runs out of work keeps looking for a short while
//! ([`LINGER`]) before it sleeps: an evaluation's steps follow each other
//! within microseconds, and waking a sleeping thread costs ~25 µs.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How long a helper keeps looking for parts once it finds none, before
/// it sleeps until woken.
const LINGER: Duration = Duration::from_micros(200);

/// How long the asking thread spins on parts a helper is running before
/// it parks (parts are short; parking and waking costs tens of µs).
const SPIN_FOR_CLAIMED: Duration = Duration::from_micros(100);

/// `part(0) … part(parts − 1)`, in that order, each run once: on the
/// calling thread and on whichever helpers claim a part first. A panic in
/// any part is raised again here, once every claimed part has finished.
pub(crate) fn in_parts<R: Send>(parts: usize, part: impl Fn(usize) -> R + Sync) -> Vec<R> {
    if parts <= 1 {
        return (0..parts).map(part).collect();
    }
    let results: Vec<Mutex<Option<R>>> = (0..parts).map(|_| Mutex::new(None)).collect();
    let run = |i: usize| {
        let r = part(i);
        if let Ok(mut slot) = results[i].lock() {
            *slot = Some(r);
        }
    };
    let job = Arc::new(Job {
        task: Task::erase(&run),
        parts,
        next: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        panic: Mutex::new(None),
        asker: std::thread::current(),
    });
    let crew = crew();
    crew.offer(&job);
    while job.run_one() {}
    crew.withdraw(&job);
    job.wait_for_claimed();
    // Every part has finished: no helper reads `run` any more.
    if let Some(p) = job.panic.lock().ok().and_then(|mut p| p.take()) {
        resume_unwind(p);
    }
    results
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .ok()
                .flatten()
                .expect("every part ran and left its result")
        })
        .collect()
}

/// A borrowed `Fn(usize) + Sync` with its lifetime erased, so that a
/// helper (a `'static` thread) can call it.
///
/// Sound because [`in_parts`] does not return, and so does not drop the
/// closure, before every part that was claimed has finished (`done ==
/// parts`), and a part is only run after it is claimed.
struct Task(*const (dyn Fn(usize) + Sync + 'static));

// SAFETY: the pointee is `Sync`, so calling it from another thread is
// sound; the pointer is only dereferenced while the closure is alive (see
// `Task`).
unsafe impl Send for Task {}
// SAFETY: as above.
unsafe impl Sync for Task {}

impl Task {
    fn erase<'a>(f: &'a (dyn Fn(usize) + Sync + 'a)) -> Task {
        // SAFETY: only the lifetime changes (a fat pointer to a fat
        // pointer of the same layout); see `Task` for why it is never
        // called after `'a` ends.
        Task(unsafe {
            std::mem::transmute::<
                *const (dyn Fn(usize) + Sync + 'a),
                *const (dyn Fn(usize) + Sync + 'static),
            >(f)
        })
    }
}

/// One split step: its parts, claimed in order by whichever thread asks
/// first.
struct Job {
    task: Task,
    parts: usize,
    /// The next part to claim (past `parts`: none left).
    next: AtomicUsize,
    /// Parts finished.
    done: AtomicUsize,
    /// The first panic of a part run by a helper.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    /// The thread that asked, woken when the last part finishes.
    asker: Thread,
}

impl Job {
    fn has_unclaimed(&self) -> bool {
        self.next.load(Ordering::Relaxed) < self.parts
    }

    /// Claims and runs one part; `false` when none was left to claim.
    fn run_one(&self) -> bool {
        let i = self.next.fetch_add(1, Ordering::AcqRel);
        if i >= self.parts {
            return false;
        }
        // SAFETY: part `i` is claimed and not yet counted done, so the
        // asker is still in `in_parts` and the closure alive.
        let task = unsafe { &*self.task.0 };
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| task(i)))
            && let Ok(mut first) = self.panic.lock()
        {
            first.get_or_insert(p);
        }
        // After this count the closure may be gone: only `self` (kept
        // alive by its `Arc`) is touched.
        if self.done.fetch_add(1, Ordering::AcqRel) + 1 == self.parts {
            self.asker.unpark();
        }
        true
    }

    /// Waits until every claimed part has finished (the asker has claimed
    /// the rest, so every part is claimed).
    fn wait_for_claimed(&self) {
        let start = Instant::now();
        while self.done.load(Ordering::Acquire) < self.parts {
            if start.elapsed() < SPIN_FOR_CLAIMED {
                std::hint::spin_loop();
            } else {
                // A wake-up may come before the park; the loop checks again.
                std::thread::park_timeout(Duration::from_millis(1));
            }
        }
    }
}

/// The helper threads and the jobs that still have parts to claim.
struct Crew {
    jobs: Mutex<Vec<Arc<Job>>>,
    /// Jobs in `jobs`, read by lingering helpers without the lock.
    offered: AtomicUsize,
    /// Helpers asleep on `wake` (counted under `jobs`' lock).
    sleeping: AtomicUsize,
    wake: Condvar,
}

/// The crew, its helpers started on first use: one fewer than the
/// evaluation's threads (the asker is the other).
fn crew() -> &'static Crew {
    static CREW: OnceLock<&'static Crew> = OnceLock::new();
    CREW.get_or_init(|| {
        let crew: &'static Crew = Box::leak(Box::new(Crew {
            jobs: Mutex::new(Vec::new()),
            offered: AtomicUsize::new(0),
            sleeping: AtomicUsize::new(0),
            wake: Condvar::new(),
        }));
        for n in 1..crate::cores::evaluation_threads() {
            // Without a helper the askers run every part themselves.
            let _ = std::thread::Builder::new()
                .name(format!("flowseg-eval-{n}"))
                .spawn(move || crew.help());
        }
        crew
    })
}

impl Crew {
    /// Makes `job`'s parts claimable, waking a sleeping helper.
    fn offer(&self, job: &Arc<Job>) {
        let Ok(mut jobs) = self.jobs.lock() else {
            return;
        };
        jobs.push(Arc::clone(job));
        self.offered.store(jobs.len(), Ordering::Release);
        if self.sleeping.load(Ordering::Relaxed) > 0 {
            self.wake.notify_all();
        }
    }

    /// Takes `job` off the list (all its parts are claimed).
    fn withdraw(&self, job: &Arc<Job>) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.retain(|j| !Arc::ptr_eq(j, job));
            self.offered.store(jobs.len(), Ordering::Release);
        }
    }

    /// A job with a part left to claim, if any.
    fn claimable(&self) -> Option<Arc<Job>> {
        if self.offered.load(Ordering::Acquire) == 0 {
            return None;
        }
        let jobs = self.jobs.lock().ok()?;
        jobs.iter().find(|j| j.has_unclaimed()).cloned()
    }

    /// A helper's life: claim parts while there are any, linger, sleep.
    fn help(&self) {
        let mut idle = Instant::now();
        loop {
            if let Some(job) = self.claimable() {
                while job.run_one() {}
                idle = Instant::now();
                continue;
            }
            if idle.elapsed() < LINGER {
                for _ in 0..64 {
                    std::hint::spin_loop();
                }
                continue;
            }
            let Ok(mut jobs) = self.jobs.lock() else {
                return;
            };
            while !jobs.iter().any(|j| j.has_unclaimed()) {
                self.sleeping.fetch_add(1, Ordering::Relaxed);
                jobs = match self.wake.wait(jobs) {
                    Ok(jobs) => jobs,
                    Err(_) => return,
                };
                self.sleeping.fetch_sub(1, Ordering::Relaxed);
            }
            idle = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_runs_once_and_results_come_in_order() {
        for parts in [0usize, 1, 2, 3, 8, 33] {
            let runs: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
            let got = in_parts(parts, |i| {
                runs[i].fetch_add(1, Ordering::Relaxed);
                i * 10
            });
            assert_eq!(got, (0..parts).map(|i| i * 10).collect::<Vec<_>>());
            assert!(runs.iter().all(|r| r.load(Ordering::Relaxed) == 1));
        }
    }

    #[test]
    fn parts_borrow_from_the_caller_and_run_side_by_side_with_others() {
        let data: Vec<u64> = (0..100_000).collect();
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let data = &data;
                s.spawn(move || {
                    for _ in 0..50 {
                        let sums = in_parts(7, |i| {
                            data[i * 1000..(i + 1) * 1000].iter().sum::<u64>() + t
                        });
                        for (i, sum) in sums.iter().enumerate() {
                            let want: u64 = (i as u64 * 1000..(i as u64 + 1) * 1000).sum();
                            assert_eq!(*sum, want + t);
                        }
                    }
                });
            }
        });
    }

    #[test]
    fn a_part_may_split_its_own_work() {
        let got = in_parts(3, |i| in_parts(4, |j| i * 4 + j).into_iter().sum::<usize>());
        assert_eq!(got, vec![6, 22, 38]);
    }

    #[test]
    fn a_panicking_part_is_raised_in_the_caller_after_the_others_finish() {
        let finished = AtomicUsize::new(0);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            in_parts(6, |i| {
                if i == 3 {
                    panic!("part three");
                }
                std::thread::sleep(Duration::from_millis(2));
                finished.fetch_add(1, Ordering::SeqCst);
            })
        }));
        let p = outcome.expect_err("the panic is raised");
        assert_eq!(p.downcast_ref::<&str>(), Some(&"part three"));
        assert_eq!(finished.load(Ordering::SeqCst), 5);
        // The crew still works afterwards.
        assert_eq!(in_parts(2, |i| i), vec![0, 1]);
    }
}
