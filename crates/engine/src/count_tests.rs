//! Windowed counts over a partition with many rows a contact (one that
//! keeps its contacts' latest ticks rather than the row pass's), checked
//! against a plain reading of the events. The sweep skips the contacts
//! whose latest row is on a tick before the window's start
//! ([`crate::eval`]'s `sweep_recent`), so the events are placed on both
//! sides of that tick, on it, and on the window's ends; the counts include
//! those that hold for a contact with no row in the window.

use flowseg_model::AttrValue;
use flowseg_model::time::DAY_MS;
use flowseg_rules::plan::{MeasurePlan, Plan};
use flowseg_rules::{NoSegments, parse_and_plan};
use serde_json::json;

use crate::AccountIndex;
use crate::snapshot::{Reader, Writer};
use crate::unit_tests::{contact, event, now, xorshift};

/// One stored `view`, as the plain reading sees it.
struct Stored {
    time: i64,
    ok: bool,
}

fn plainly(plan: &Plan, events: &[Stored], with_where: bool, at: i64) -> bool {
    let Plan::Event(e) = plan else {
        panic!("an event condition")
    };
    let (lo, hi) = e.window.resolve(at);
    let hi = hi.min(at);
    let n = events
        .iter()
        .filter(|v| lo <= v.time && v.time <= hi && (v.ok || !with_where))
        .count();
    match e.measure {
        MeasurePlan::Count(c) => c.holds(n as f64),
        MeasurePlan::Aggregate { .. } => panic!("a count"),
    }
}

#[test]
fn counts_over_many_rows_a_contact_agree_with_a_plain_reading() {
    let mut next = xorshift(41);
    let mut times = xorshift(47);
    let n: u32 = 9_000;
    let mut ix = AccountIndex::new(&flowseg_model::Schema::default());
    let mut all: Vec<Vec<Stored>> = (0..n).map(|_| Vec::new()).collect();
    let mut seq = 0u32;
    let week_ago = now() - 7 * DAY_MS;
    // Half a year of history, so that a tick is a few minutes and a
    // week's start falls inside one.
    let draw = |next: &mut dyn FnMut(u64) -> u64| match next(24) {
        // On the week's start: exactly, a millisecond either side, and
        // a minute before (the same tick or the one before).
        0 => week_ago + next(3) as i64 - 1,
        1 => week_ago - 60_000,
        2 => week_ago - 10 * 60_000,
        3 => now(),
        4 => now() - next(2 * 3_600_000) as i64,
        5..=9 => now() - next(7 * DAY_MS as u64) as i64,
        _ => now() - next(180 * DAY_MS as u64) as i64,
    };
    let mut put = |ix: &mut AccountIndex, all: &mut [Vec<Stored>], o: u32, load: bool| {
        let (time, ok) = (draw(&mut times), times(3) > 0);
        let attrs = [("ok", AttrValue::Bool(ok))];
        let stored = event("view", &format!("c{o}"), time, &attrs);
        seq += 1;
        if load {
            ix.load_event(o, seq, &stored);
        } else {
            ix.add_event(o, seq, &stored);
        }
        all[o as usize].push(Stored { time, ok });
    };
    for o in 0..n {
        ix.put_contact(o, &contact(&format!("c{o}"), &[]));
        // Some contacts without any view; most with many (about 30).
        let views = next(61) * u64::from(next(8) > 0);
        for _ in 0..views {
            put(&mut ix, &mut all, o, true);
        }
    }
    ix.compact();
    assert!(ix.partitions["view"].base_ticks().is_none());
    assert!(!ix.partitions["view"].latest_ticks().is_empty());
    // Saved and read back: the latest ticks are rebuilt on reading.
    let mut bytes = Vec::new();
    ix.write_to(&mut Writer(&mut bytes)).unwrap();
    let mut ix = AccountIndex::read_from(&mut Reader(&bytes[..])).unwrap();
    assert!(!ix.partitions["view"].latest_ticks().is_empty());
    // A tail below the merge threshold: its contacts take the general path.
    for _ in 0..300 {
        let o = next(u64::from(n)) as u32;
        put(&mut ix, &mut all, o, false);
    }

    let counts = [
        json!({"op": "gte", "value": 1}),
        json!({"op": "gte", "value": 2}),
        json!({"op": "equals", "value": 0}),
        json!({"op": "equals", "value": 1}),
        json!({"op": "lt", "value": 2}),
        json!({"op": "between", "value": [1, 3]}),
        json!({"op": "gte", "value": 20}),
    ];
    let withins = [
        json!({"last": "7d"}),
        json!({"last": "2h"}),
        json!({"last": "30d"}),
        json!({"before": "3d"}),
        json!({"from": "2026-06-23T12:00:00Z", "to": "2026-06-29T00:00:00Z"}),
    ];
    let mut deciding = 0;
    let mut rules = 0;
    for within in &withins {
        for count in &counts {
            for with_where in [false, true] {
                let mut rule = json!({"event": "view", "within": within, "count": count});
                if with_where {
                    rule["where"] = json!([{"attribute": "ok", "op": "is_true"}]);
                }
                let (_, plan) =
                    parse_and_plan(&rule, "/rule", ix.schema(), &NoSegments, None).unwrap();
                let swept = ix.evaluate(&plan, now());
                let mut members = 0;
                for o in 0..n {
                    let want = plainly(&plan, &all[o as usize], with_where, now());
                    assert_eq!(swept.contains(o), want, "contact {o}, {rule}");
                    members += usize::from(want);
                    if o % 11 == 0 {
                        assert_eq!(
                            ix.contains(&plan, o, now()),
                            want,
                            "one contact {o}, {rule}"
                        );
                    }
                }
                rules += 1;
                deciding += usize::from(0 < members && members < n as usize);
            }
        }
    }
    assert!(deciding * 10 >= rules * 9, "{deciding} of {rules}");
}
