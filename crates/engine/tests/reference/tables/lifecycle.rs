//! Evaluation over time and the index's write path: `as_of`, removals,
//! re-puts and replacements.

use serde_json::json;

use super::*;

/// Evaluates one rule on a world at `now` on both sides.
fn both(world: &World, rule: &Json, now: i64) -> (BTreeSet<u32>, BTreeSet<u32>) {
    let index = load(world);
    let rule = parse(rule);
    let segments = HashMap::new();
    let p = plan(&rule, &world.schema, &segments);
    (
        reference_members(&rule, world, &segments, now),
        engine_members(&index, &p, now),
    )
}

#[test]
fn future_events_count_once_now_reaches_them() {
    let t = now() + H;
    let world = world_of(&[purchase(t)], now());
    let rule = json!({"event": "purchase", "within": {"last": "30d"}});
    for (when, member) in [
        (now(), false),
        (t - 1, false),
        (t, true),
        (t + 30 * D - 1, true),
        (t + 30 * D, false),
    ] {
        let want: BTreeSet<u32> = if member { [0].into() } else { [].into() };
        let (reference, engine) = both(&world, &rule, when);
        assert_eq!(reference, want, "reference at {}", iso(when));
        assert_eq!(engine, want, "engine at {}", iso(when));
    }
}

#[test]
fn not_followed_by_waits_for_its_window() {
    let a = ago(30 * MINUTE);
    let world = world_of(&[evs(&[cart(a, json!({}))])], now());
    let rule =
        json!({"event": "cart_add", "not_followed_by": {"event": "purchase", "window": "1h"}});
    for (when, member) in [
        (now(), false),
        (a + H - 1, false),
        (a + H, true),
        (a + D, true),
    ] {
        let want: BTreeSet<u32> = if member { [0].into() } else { [].into() };
        let (reference, engine) = both(&world, &rule, when);
        assert_eq!(reference, want, "reference at {}", iso(when));
        assert_eq!(engine, want, "engine at {}", iso(when));
    }
}

#[test]
fn removed_contacts_are_not_members_and_reput_contacts_lose_their_events() {
    let schema = schema();
    let c = |o: u32, city: &str| Contact {
        id: contact_id(o),
        fields: [("City".to_string(), Value::Text(city.into()))].into(),
    };
    let e = |o: u32| Event {
        id: None,
        name: "purchase".into(),
        contact_id: contact_id(o),
        time: ago(H),
        attributes: Attributes::new(),
    };
    let script = vec![
        Step::Put(0, c(0, "Warsaw")),
        Step::Put(1, c(1, "Warsaw")),
        Step::Put(2, c(2, "Warsaw")),
        Step::Event(0, e(0)),
        Step::Event(1, e(1)),
        Step::Event(2, e(2)),
        Step::Remove(1),
        Step::Remove(2),
        Step::Put(2, c(2, "Paris")),
        Step::Put(0, c(0, "Berlin")),
    ];
    let world = World {
        now: now(),
        schema,
        schema_late: false,
        script,
        contacts: vec![(0, c(0, "Berlin")), (2, c(2, "Paris"))],
        events: vec![(0, e(0))],
    };
    let index = load(&world);
    let live: BTreeSet<u32> = index.live().iter().collect();
    assert_eq!(live, [0, 2].into(), "live contacts");
    assert_eq!(index.contact_id(0).as_deref(), Some("c0"));
    assert_eq!(index.contact_id(2).as_deref(), Some("c2"));
    assert_eq!(index.contact_id(1), None, "a removed contact has no id");
    for (rule, want) in [
        (json!({"all": []}), vec![0, 2]),
        (json!({"event": "purchase"}), vec![0]),
        (
            json!({"event": "purchase", "count": {"op": "equals", "value": 0}}),
            vec![2],
        ),
        (
            json!({"field": "City", "op": "equals", "value": "warsaw"}),
            vec![],
        ),
        (
            json!({"field": "City", "op": "in", "value": ["berlin", "paris"]}),
            vec![0, 2],
        ),
        (
            json!({"field": "City", "op": "not_equals", "value": "warsaw"}),
            vec![0, 2],
        ),
    ] {
        let want: BTreeSet<u32> = want.into_iter().collect();
        let (reference, engine) = both(&world, &rule, now());
        assert_eq!(reference, want, "reference: {rule}");
        assert_eq!(engine, want, "engine: {rule}");
    }
}

#[test]
fn put_contact_replaces_every_field() {
    let mut world = world_of(
        &[fx(json!({"City": "Warsaw", "Age": 30, "Vip": true}))],
        now(),
    );
    let replaced = Contact {
        id: contact_id(0),
        fields: [("Tag".to_string(), Value::Text("x".into()))].into(),
    };
    world.script.push(Step::Put(0, replaced.clone()));
    world.contacts = vec![(0, replaced)];
    for (rule, member) in [
        (json!({"field": "City", "op": "has_no_value"}), true),
        (json!({"field": "Age", "op": "equals", "value": 30}), false),
        (json!({"field": "Vip", "op": "is_true"}), false),
        (json!({"field": "Tag", "op": "equals", "value": "X"}), true),
    ] {
        let want: BTreeSet<u32> = if member { [0].into() } else { [].into() };
        let (reference, engine) = both(&world, &rule, now());
        assert_eq!(reference, want, "reference: {rule}");
        assert_eq!(engine, want, "engine: {rule}");
    }
}

/// `remove_contact` erases the contact's events: putting the same ordinal
/// again must not bring them back, whether the contact then gets a new
/// event or the partition is compacted (on the incremental and the bulk
/// load path alike).
#[test]
fn a_reput_contact_does_not_get_its_erased_events_back() {
    let c = Contact {
        id: contact_id(0),
        fields: Default::default(),
    };
    let e = |t: i64| Event {
        id: None,
        name: "purchase".into(),
        contact_id: contact_id(0),
        time: t,
        attributes: Attributes::new(),
    };
    let old = e(ago(H));
    let future = e(now() + H);
    let scripts = [
        (
            "add_event, remove, put, add_event (future)",
            vec![
                Step::Event(0, old.clone()),
                Step::Remove(0),
                Step::Put(0, c.clone()),
                Step::Event(0, future.clone()),
            ],
        ),
        (
            "add_event, remove, put, compact",
            vec![
                Step::Event(0, old.clone()),
                Step::Remove(0),
                Step::Put(0, c.clone()),
                Step::Compact,
            ],
        ),
        (
            "load_event, compact, remove, put, add_event (future)",
            vec![
                Step::LoadEvent(0, old.clone()),
                Step::Compact,
                Step::Remove(0),
                Step::Put(0, c.clone()),
                Step::Event(0, future.clone()),
            ],
        ),
    ];
    let mut problems = Vec::new();
    for (name, steps) in scripts {
        let mut script = vec![Step::Put(0, c.clone())];
        script.extend(steps);
        let has_future = script
            .iter()
            .any(|s| matches!(s, Step::Event(_, e) if e.time > now()));
        let world = World {
            now: now(),
            schema: schema(),
            schema_late: false,
            script,
            contacts: vec![(0, c.clone())],
            events: if has_future {
                vec![(0, future.clone())]
            } else {
                vec![]
            },
        };
        let (reference, engine) = both(&world, &json!({"event": "purchase"}), now());
        let want = BTreeSet::new();
        assert_eq!(reference, want, "reference after {name}");
        if engine != want {
            problems.push(format!(
                "after `{name}`, {{\"event\": \"purchase\"}} at now holds for the re-put contact: its erased event came back"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
