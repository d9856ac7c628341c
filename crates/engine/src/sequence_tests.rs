//! Sequence counts checked against a plain reading of the events: for
//! each contact, each A event in the window that passes A's conditions is
//! kept if a B event passing B's conditions comes after it within the
//! window (or after it at all) and agrees on the `on` attributes;
//! `not_followed_by` keeps the others whose window has fully passed. The
//! evaluator's two passes ([`crate::eval`]'s `sequences`), its contact-by-
//! contact path and its general path (contacts with tail rows) must all
//! agree with it.

use flowseg_model::AttrValue;
use flowseg_model::time::DAY_MS;
use flowseg_rules::plan::{MeasurePlan, Plan};
use flowseg_rules::{NoSegments, parse_and_plan};
use serde_json::{Value as J, json};

use crate::AccountIndex;
use crate::unit_tests::{contact, event, now, xorshift};

const HOUR_MS: i64 = 3_600_000;

/// One stored event, as the plain reading sees it.
struct Stored {
    name: &'static str,
    time: i64,
    cart: Option<AttrValue>,
    ok: bool,
    v: f64,
}

/// A's events by name: `cart_add` (a few a contact: its partition keeps
/// ticks for the row pass) and `view` (many a contact: it does not).
const A_NAMES: [&str; 2] = ["cart_add", "view"];

fn store(ix: &mut AccountIndex, all: &mut [Vec<Stored>], o: u32, e: Stored, load: bool, seq: u32) {
    let id = format!("c{o}");
    let mut attrs = vec![("ok", AttrValue::Bool(e.ok)), ("v", AttrValue::Num(e.v))];
    if let Some(cart) = &e.cart {
        attrs.push(("cart_id", cart.clone()));
    }
    let stored = event(e.name, &id, e.time, &attrs);
    if load {
        ix.load_event(o, seq, &stored);
    } else {
        ix.add_event(o, seq, &stored);
    }
    all[o as usize].push(e);
}

/// Whether `a`'s and `b`'s carts are the same value (present on both, of
/// the same type, strings non-empty).
fn same_cart(a: &Option<AttrValue>, b: &Option<AttrValue>) -> bool {
    match (a, b) {
        (Some(AttrValue::Str(x)), Some(AttrValue::Str(y))) => !x.is_empty() && x == y,
        (Some(AttrValue::Num(x)), Some(AttrValue::Num(y))) => x == y,
        _ => false,
    }
}

/// The plain reading of `rule` (a sequence, perhaps with a count) for
/// one contact's events, `plan` being its plan (for the window's ends
/// and the comparison).
fn plainly(rule: &J, plan: &Plan, events: &[Stored], at: i64) -> bool {
    let Plan::Event(e) = plan else {
        panic!("an event condition: {rule}")
    };
    let s = e.sequence.as_ref().expect("a sequence");
    let (lo, hi) = e.window.resolve(at);
    let hi = hi.min(at);
    let a_ok = rule["where"].is_array();
    let b_ok = rule[if s.negated {
        "not_followed_by"
    } else {
        "followed_by"
    }]["where"]
        .is_array();
    let on = !s.on.is_empty();
    let kept = events
        .iter()
        .filter(|a| a.name == e.event && lo <= a.time && a.time <= hi && (a.ok || !a_ok))
        .filter(|a| {
            let limit = match s.window_ms {
                Some(d) if s.negated && a.time + d > at => return false,
                Some(d) => (a.time + d).min(at),
                None => at,
            };
            let found = events.iter().any(|b| {
                b.name == "purchase"
                    && a.time < b.time
                    && b.time <= limit
                    && (b.v > 50.0 || !b_ok)
                    && (!on || same_cart(&a.cart, &b.cart))
            });
            found != s.negated
        })
        .count();
    match e.measure {
        MeasurePlan::Count(c) => c.holds(kept as f64),
        MeasurePlan::Aggregate { .. } => panic!("a count: {rule}"),
    }
}

#[test]
fn sequence_counts_agree_with_a_plain_reading_of_the_events() {
    let mut next = xorshift(29);
    let n: u32 = 9_000;
    let mut ix = AccountIndex::new(&flowseg_model::Schema::default());
    let mut all: Vec<Vec<Stored>> = (0..n).map(|_| Vec::new()).collect();
    let mut seq = 0u32;
    let draw = |next: &mut dyn FnMut(u64) -> u64, name: &'static str, o: u32| {
        // Mostly the last 10 days, some within the last hours (a window
        // not yet passed), a few after now; carts from a small pool so
        // that some agree, sometimes a number, empty or absent.
        let time = match next(20) {
            0 | 1 => now() - next(3 * HOUR_MS as u64) as i64,
            2 | 3 => now() + 1 + next(HOUR_MS as u64) as i64,
            // An A event whose hour ends exactly now (passed), or at now.
            4 => now() - HOUR_MS,
            5 => now(),
            _ => now() - next(10 * DAY_MS as u64) as i64,
        };
        let cart = match next(8) {
            0 => None,
            1 => Some(AttrValue::Num(next(3) as f64)),
            2 => Some(AttrValue::Str(String::new())),
            _ => Some(AttrValue::Str(format!("k{o}-{}", next(4)))),
        };
        Stored {
            name,
            time,
            cart,
            ok: next(3) > 0,
            v: next(100) as f64,
        }
    };
    for o in 0..n {
        ix.put_contact(o, &contact(&format!("c{o}"), &[]));
        // Some contacts without any event of a name.
        let (adds, views, buys) = (next(6), next(40) * next(2), next(5));
        for (name, k) in [("cart_add", adds), ("view", views), ("purchase", buys)] {
            for _ in 0..k {
                let e = draw(&mut next, name, o);
                // B events soon after A events, so that windows of an
                // hour find them.
                let earlier = &all[o as usize];
                let a = earlier.get(next(earlier.len() as u64 + 1) as usize);
                let e = match (name, a) {
                    ("purchase", Some(a)) if next(3) > 0 => Stored {
                        // On the window's ends too: at A's time (not
                        // after it) and an hour after (within it).
                        time: match next(4) {
                            0 => a.time,
                            1 => a.time + HOUR_MS,
                            _ => a.time + next(2 * HOUR_MS as u64) as i64,
                        },
                        cart: a.cart.clone(),
                        ..e
                    },
                    _ => e,
                };
                seq += 1;
                store(&mut ix, &mut all, o, e, true, seq);
            }
        }
    }
    ix.compact();
    assert!(ix.partitions["cart_add"].base_ticks().is_some());
    assert!(ix.partitions["view"].base_ticks().is_none());
    // A tail below the merge threshold: its contacts take the general path.
    for _ in 0..300 {
        let o = next(u64::from(n)) as u32;
        let name = ["cart_add", "view", "purchase"][next(3) as usize];
        let e = draw(&mut next, name, o);
        seq += 1;
        store(&mut ix, &mut all, o, e, false, seq);
    }

    let counts = [
        None,
        Some(json!({"op": "gte", "value": 2})),
        Some(json!({"op": "equals", "value": 0})),
        Some(json!({"op": "equals", "value": 1})),
        Some(json!({"op": "lt", "value": 2})),
        Some(json!({"op": "between", "value": [1, 3]})),
        Some(json!({"op": "gte", "value": 5})),
    ];
    // The last two hours keep few rows: the first pass then visits only
    // their contacts.
    let withins = [
        None,
        Some(json!({"last": "7d"})),
        Some(json!({"before": "3d"})),
        Some(json!({"last": "2h"})),
    ];
    let mut rules = Vec::new();
    for a in A_NAMES {
        for follow in ["followed_by", "not_followed_by"] {
            for window in [None, Some("1h"), Some("2d")] {
                for on in [false, true] {
                    for count in &counts {
                        // The rest drawn, to keep the run short.
                        let mut b = json!({"event": "purchase"});
                        if let Some(w) = window {
                            b["window"] = json!(w);
                        }
                        if on {
                            b["on"] = json!(["cart_id"]);
                        }
                        if next(3) == 0 {
                            b["where"] = json!([{"attribute": "v", "op": "gt", "value": 50}]);
                        }
                        let mut rule = json!({"event": a, follow: b});
                        if let Some(w) = &withins[next(4) as usize] {
                            rule["within"] = w.clone();
                        }
                        if next(3) == 0 {
                            rule["where"] = json!([{"attribute": "ok", "op": "is_true"}]);
                        }
                        if let Some(c) = count {
                            rule["count"] = c.clone();
                        }
                        rules.push(rule);
                    }
                }
            }
        }
    }
    let mut deciding = 0;
    for rule in &rules {
        let (_, plan) = parse_and_plan(rule, "/rule", ix.schema(), &NoSegments, None).unwrap();
        let swept = ix.evaluate(&plan, now());
        let mut members = 0;
        for o in 0..n {
            let want = plainly(rule, &plan, &all[o as usize], now());
            assert_eq!(swept.contains(o), want, "contact {o}, {rule}");
            members += usize::from(want);
            // Contact by contact too, for every seventh.
            if o % 7 == 0 {
                assert_eq!(
                    ix.contains(&plan, o, now()),
                    want,
                    "one contact {o}, {rule}"
                );
            }
        }
        deciding += usize::from(0 < members && members < n as usize);
    }
    // Neither everyone nor no one, for most rules: the check decides
    // something.
    assert!(
        deciding * 10 >= rules.len() * 9,
        "{deciding} of {}",
        rules.len()
    );
}
