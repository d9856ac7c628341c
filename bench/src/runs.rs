//! How many measured runs a segment gets, and in what order.
//!
//! **How many:** at least the requested number, and more while they add up
//! to less than a least total time (by default [`MIN_MS`]; `bench.sh
//! --check` sets 0), up to [`MAX_RUNS`]. A fixed count of runs of a 1 ms
//! segment is over in a few milliseconds, so on a shared machine its median
//! reports whatever the neighbours were doing in that instant (at `large`,
//! the same `status_vip` measured 0.45 and 1.06 ms in two runs of the same
//! binary). Half a second of runs samples the machine over a span like a
//! slow segment's.
//!
//! **In what order:** in rounds ([`in_rounds`]): every segment once to warm
//! up, then one measured run of each segment still due per round. Running
//! one segment's runs back to back let a burst of host noise of a second or
//! two decide that segment's median alone (at `large`, two segments' runs
//! in one report were bimodal, at about 4 and 7.5 ms, while the same phase
//! repeated right after gave 3.9 ms with quartiles within 10%); in rounds,
//! a burst spreads over every segment it meets, as a share of each one's
//! runs. It also means no segment finds its own data left in the caches by
//! its previous run, as in a server answering different segments in turn.
//! The peers' runner (`peers/run.py`) follows the same rules.

/// Least total measured time per segment and engine, in ms, by default.
pub const MIN_MS: f64 = 500.0;
/// Most measured runs per segment and engine.
pub const MAX_RUNS: usize = 1000;

/// Whether another run is due after `times` (ms), with `reps` runs and
/// `min_ms` of them requested.
pub fn more(times: &[f64], reps: usize, min_ms: f64) -> bool {
    times.len() < reps || (times.iter().sum::<f64>() < min_ms && times.len() < MAX_RUNS)
}

/// What [`in_rounds`] measured: per segment, the warm-up run's time and the
/// measured runs' times, in ms.
pub struct Rounds {
    pub first_ms: Vec<f64>,
    pub times_ms: Vec<Vec<f64>>,
}

/// Runs segments `0..n` in rounds: a warm-up round of every segment, then
/// rounds of one run of each segment for which [`more`] holds, until none
/// does. `run(i)` evaluates segment `i` once and returns its time in ms;
/// its first error ends the whole.
pub fn in_rounds<E>(
    n: usize,
    reps: usize,
    min_ms: f64,
    mut run: impl FnMut(usize) -> Result<f64, E>,
) -> Result<Rounds, E> {
    let first_ms = (0..n).map(&mut run).collect::<Result<Vec<_>, E>>()?;
    let mut times_ms = vec![Vec::with_capacity(reps); n];
    loop {
        let due: Vec<usize> = (0..n)
            .filter(|&i| more(&times_ms[i], reps, min_ms))
            .collect();
        if due.is_empty() {
            return Ok(Rounds { first_ms, times_ms });
        }
        for i in due {
            times_ms[i].push(run(i)?);
        }
    }
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

    #[test]
    fn rounds_warm_every_segment_up_then_take_one_run_of_each_due_segment() {
        // Segment 0 takes 100 ms a run, 1 takes 10 ms, 2 takes 40 ms: with
        // 2 runs and 200 ms requested, 0 is done after 2 runs, 2 after 5, 1
        // after 20.
        let cost = [100.0, 10.0, 40.0];
        let mut order = Vec::new();
        let rounds = in_rounds::<()>(3, 2, 200.0, |i| {
            order.push(i);
            Ok(cost[i] + order.len() as f64 / 1e3)
        })
        .unwrap();
        let mut expected = vec![0, 1, 2, 0, 1, 2, 0, 1, 2];
        expected.extend([1, 2, 1, 2, 1, 2]);
        expected.extend(std::iter::repeat_n(1, 15));
        assert_eq!(order, expected);
        assert_eq!(
            rounds.times_ms.iter().map(Vec::len).collect::<Vec<_>>(),
            [2, 20, 5]
        );
        assert_eq!(rounds.first_ms, [100.001, 10.002, 40.003]);
        // The measured times are the runs' own, in order.
        assert_eq!(rounds.times_ms[0], [100.004, 100.007]);
    }

    #[test]
    fn a_runs_error_ends_the_rounds() {
        let mut calls = 0;
        let r = in_rounds(3, 5, 0.0, |i| {
            calls += 1;
            if calls == 5 { Err(i) } else { Ok(1.0) }
        });
        assert_eq!(
            r.err(),
            Some(1),
            "the first measured round's second segment"
        );
        assert_eq!(calls, 5);
    }
}
