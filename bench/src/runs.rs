//! How many measured runs a segment gets: at least the requested number,
//! and more while they add up to less than a least total time (by default
//! [`MIN_MS`]; `bench.sh --check` sets 0), up to [`MAX_RUNS`].
//!
//! A fixed count of runs of a 1 ms segment is over in a few milliseconds,
//! so on a shared machine its median reports whatever the neighbours were
//! doing in that instant (at `large`, the same `status_vip` measured 0.45
//! and 1.06 ms in two runs of the same binary). Half a second of runs
//! samples the machine over a span like a slow segment's. The peers'
//! runner (`peers/run.py`) follows the same rule.

/// Least total measured time per segment and engine, in ms, by default.
pub const MIN_MS: f64 = 500.0;
/// Most measured runs per segment and engine.
pub const MAX_RUNS: usize = 1000;

/// Whether another run is due after `times` (ms), with `reps` runs and
/// `min_ms` of them requested.
pub fn more(times: &[f64], reps: usize, min_ms: f64) -> bool {
    times.len() < reps || (times.iter().sum::<f64>() < min_ms && times.len() < MAX_RUNS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_least_the_requested_runs_and_half_a_second_of_them() {
        assert!(more(&[900.0; 2], 3, MIN_MS), "3 runs requested");
        assert!(
            !more(&[900.0; 3], 3, MIN_MS),
            "requested runs done, over 0.5 s"
        );
        assert!(more(&[1.0; 3], 3, MIN_MS), "3 ms so far");
        assert!(!more(&[1.0; 500], 3, MIN_MS), "0.5 s reached");
        assert!(!more(&[0.001; MAX_RUNS], 3, MIN_MS), "run cap");
        assert!(!more(&[1.0; 3], 3, 0.0), "exactly the requested runs");
    }
}
