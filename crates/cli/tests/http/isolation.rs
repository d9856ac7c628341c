//! Tenant isolation, endpoint by endpoint: account B's secret key can
//! neither read nor change account A's data (A's ids answer 404 to B, and
//! A's data is unchanged afterwards); the public key only posts visits.

use serde_json::{Value, json};

use crate::support::{Account, Server, enc};

/// Everything of A's that B must not see or change.
struct World {
    contacts: Vec<String>,
    segment: String,
    referenced: String,
    snapshot: String,
}

/// A has five contacts with events, a custom field, two segments (one
/// referencing the other) and a snapshot; B has one contact (its own `c1`
/// style id may coincide with A's first) and nothing else.
fn world(a: &Account, b: &Account) -> World {
    a.field("Tier", "text");
    let contacts = a.contacts(
        &(0..5)
            .map(|i| json!({"Email": format!("a{i}@a.test"), "Tier": "gold", "ExternalId": format!("ext-{i}")}))
            .collect::<Vec<_>>(),
    );
    let answer = a.events(json!(
        contacts
            .iter()
            .enumerate()
            .map(|(i, c)| json!({"id": format!("a-ev-{i}"), "name": "purchase", "contact": {"id": c}, "time": "2025-05-01T10:00:00Z", "attributes": {"price": 10}}))
            .collect::<Vec<_>>()
    ));
    assert_eq!(answer["accepted"], 5, "{answer}");
    let referenced = a.segment(
        "gold",
        json!({"field": "Tier", "op": "equals", "value": "gold"}),
    );
    let segment = a.segment(
        "gold buyers",
        json!({"all": [{"segment": referenced}, {"event": "purchase"}]}),
    );
    let snapshot = a
        .api
        .post(&format!("/v1/segments/{segment}/snapshots"), &json!({}))
        .ok()["snapshot_id"]
        .as_str()
        .unwrap()
        .to_string();
    b.contact(json!({"Email": "b0@b.test"}));
    World {
        contacts,
        segment,
        referenced,
        snapshot,
    }
}

/// What A can read of its own data, to compare before and after B tries.
fn state_of(a: &Account, w: &World) -> Value {
    let contacts: Vec<Value> = w
        .contacts
        .iter()
        .map(|c| {
            let mut contact = a.api.get(&format!("/v1/contacts/{c}")).expect(200);
            contact.as_object_mut().unwrap().remove("UpdateTime");
            json!({"contact": contact, "events": a.contact_events(c)})
        })
        .collect();
    let mut segments = a.api.get("/v1/segments").expect(200);
    for s in segments["segments"].as_array_mut().unwrap() {
        s.as_object_mut().unwrap().remove("updated_at");
    }
    json!({
        "contacts": contacts,
        "fields": a.api.get("/v1/fields").expect(200),
        "segments": segments,
        "count": a.count(&w.segment),
        "snapshot": a.api.get(&format!("/v1/snapshots/{}/members", w.snapshot)).expect(200),
        "usage": a.api.get("/v1/usage").expect(200),
        "catalog": a.api.get("/v1/events/catalog").expect(200),
    })
}

#[test]
fn another_accounts_secret_key_can_neither_read_nor_change_contacts_and_events() {
    let srv = Server::start();
    let a = srv.account_with_custom_events();
    let b = srv.account_with_custom_events();
    let w = world(&a, &b);
    let before = state_of(&a, &w);
    // A's ids beyond B's own single contact.
    for c in &w.contacts[1..] {
        b.api.get(&format!("/v1/contacts/{c}")).error(404);
        b.api.get(&format!("/v1/contacts/{c}/events")).error(404);
        b.api.get(&format!("/v1/contacts/{c}/segments")).error(404);
        b.api.delete(&format!("/v1/contacts/{c}")).error(404);
        b.api
            .get(&format!("/v1/segments/{}/explain?contact={c}", w.segment))
            .error(404);
    }
    b.api
        .get(&format!("/v1/contacts?email={}", enc("a1@a.test")))
        .error(404);
    // B's own first contact is B's, never A's.
    let b_first = b.api.get(&format!("/v1/contacts/{}", w.contacts[0]));
    if b_first.status == 200 {
        assert_eq!(b_first.json()["Email"], "b0@b.test");
    }

    // Events naming A's contacts by id are rejected in B; by email or
    // external id they create B's own contacts.
    let answer = b.events(json!([
        {"name": "purchase", "contact": {"id": w.contacts[3]}},
        {"id": "a-ev-1", "name": "purchase", "contact": {"email": "a1@a.test"}},
        {"name": "purchase", "contact": {"external_id": "ext-2"}},
    ]));
    assert_eq!(answer["rejected"][0]["index"], 0, "{answer}");
    assert_eq!(
        answer["accepted"], 2,
        "A's event ids do not make B's events duplicates: {answer}"
    );
    // Upserts with A's identities create B's own contacts.
    let b_copy = b.contact(json!({"Email": "a2@a.test", "FirstName": "Mallory"}));
    let b_ext = b.contact(json!({"ExternalId": "ext-3", "FirstName": "Eve"}));
    assert_eq!(
        b.api.get(&format!("/v1/contacts/{b_copy}")).expect(200)["FirstName"],
        "Mallory"
    );
    assert_ne!(b_ext, "");

    assert_eq!(state_of(&a, &w), before, "A's data is unchanged");
    // And B sees only its own.
    assert_eq!(b.all_contact_ids().len(), 5);
}

#[test]
fn another_accounts_secret_key_can_neither_read_nor_change_segments_and_snapshots() {
    let srv = Server::start();
    let a = srv.account_with_custom_events();
    let b = srv.account();
    let w = world(&a, &b);
    let before = state_of(&a, &w);
    let list = b.api.get("/v1/segments").expect(200);
    assert_eq!(list["segments"], json!([]), "{list}");
    for seg in [&w.segment, &w.referenced] {
        b.api.get(&format!("/v1/segments/{seg}")).error(404);
        b.api
            .put(
                &format!("/v1/segments/{seg}"),
                &json!({"name": "stolen", "rule": {"all": []}}),
            )
            .error(404);
        b.api.delete(&format!("/v1/segments/{seg}")).error(404);
        b.api.get(&format!("/v1/segments/{seg}/count")).error(404);
        b.api.get(&format!("/v1/segments/{seg}/members")).error(404);
        b.api
            .get(&format!("/v1/segments/{seg}/export?format=csv"))
            .error(404);
        b.api
            .get(&format!("/v1/segments/{seg}/export?format=ndjson"))
            .error(404);
        b.api
            .post(&format!("/v1/segments/{seg}/snapshots"), &json!({}))
            .error(404);
    }
    b.api
        .get(&format!("/v1/snapshots/{}/members", w.snapshot))
        .error(404);
    // A's segment cannot be referenced from B.
    b.api
        .post(
            "/v1/segments/preview",
            &json!({"rule": {"segment": w.referenced}}),
        )
        .error(422);
    b.api
        .post(
            "/v1/segments",
            &json!({"name": "ref", "rule": {"segment": w.referenced}}),
        )
        .error(422);
    // A's custom field does not exist in B.
    b.api
        .post(
            "/v1/segments/preview",
            &json!({"rule": {"field": "Tier", "op": "has_value"}}),
        )
        .error(422);
    // A's member cursor is not B's.
    let page = a
        .api
        .get(&format!("/v1/segments/{}/members?limit=1", w.segment))
        .expect(200);
    let cursor = page["next_cursor"].as_str().expect("a cursor").to_string();
    let own = b.segment("mine", json!({"all": []}));
    let r = b.api.get(&format!(
        "/v1/segments/{own}/members?limit=10&cursor={}",
        enc(&cursor)
    ));
    assert!(r.status >= 400 && r.status < 500, "{r:?}");
    assert!(
        !r.body.contains("@a.test"),
        "A's members through A's cursor: {r:?}"
    );

    assert_eq!(state_of(&a, &w), before, "A's data is unchanged");
}

#[test]
fn another_accounts_secret_key_can_neither_read_nor_change_fields_usage_or_catalog() {
    let srv = Server::start();
    let a = srv.account_with_custom_events();
    let b = srv.account();
    let w = world(&a, &b);
    let before = state_of(&a, &w);
    let fields = b.api.get("/v1/fields").expect(200).to_string();
    assert!(!fields.contains("Tier"), "{fields}");
    b.api.delete("/v1/fields/Tier").error(404);
    // B may declare its own `Tier` of another type.
    b.api
        .post("/v1/fields", &json!({"name": "Tier", "type": "number"}))
        .ok();
    let usage = b.api.get("/v1/usage").expect(200);
    assert!(
        usage["months"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["custom_events"] == 0),
        "{usage}"
    );
    let catalog = b.api.get("/v1/events/catalog").expect(200);
    assert!(!catalog.to_string().contains("purchase"), "{catalog}");
    // B cannot change A's add-ons.
    let r = b.api.patch(
        &format!("/v1/accounts/{}", a.id),
        &json!({"addons": {"custom_events": false}}),
    );
    assert!(r.status == 401 || r.status == 403, "{r:?}");
    assert_eq!(state_of(&a, &w), before, "A's data is unchanged");
    // A's custom events are still accepted.
    let ok = a.events(json!({"name": "purchase", "contact": {"id": w.contacts[0]}}));
    assert_eq!(ok["accepted"], 1, "{ok}");
}

#[test]
fn the_public_key_posts_visits_only_to_its_own_account() {
    let srv = Server::start();
    let a = srv.account_with_custom_events();
    let b = srv.account();
    let w = world(&a, &b);
    let before = state_of(&a, &w);
    let c = &w.contacts[2];
    let forbidden: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", "/v1/fields".into(), None),
        (
            "POST",
            "/v1/fields".into(),
            Some(json!({"name": "X", "type": "text"})),
        ),
        ("DELETE", "/v1/fields/Tier".into(), None),
        (
            "POST",
            "/v1/contacts".into(),
            Some(json!({"Email": "p@a.test"})),
        ),
        ("GET", format!("/v1/contacts/{c}"), None),
        (
            "GET",
            format!("/v1/contacts?email={}", enc("a2@a.test")),
            None,
        ),
        ("DELETE", format!("/v1/contacts/{c}"), None),
        ("GET", format!("/v1/contacts/{c}/events"), None),
        ("GET", format!("/v1/contacts/{c}/segments"), None),
        ("GET", "/v1/events/catalog".into(), None),
        ("GET", "/v1/usage".into(), None),
        ("GET", "/v1/segments".into(), None),
        (
            "POST",
            "/v1/segments".into(),
            Some(json!({"name": "p", "rule": {"all": []}})),
        ),
        ("GET", format!("/v1/segments/{}", w.segment), None),
        (
            "PUT",
            format!("/v1/segments/{}", w.segment),
            Some(json!({"name": "p", "rule": {"all": []}})),
        ),
        ("DELETE", format!("/v1/segments/{}", w.segment), None),
        (
            "POST",
            "/v1/segments/preview".into(),
            Some(json!({"rule": {"all": []}})),
        ),
        ("GET", format!("/v1/segments/{}/count", w.segment), None),
        ("GET", format!("/v1/segments/{}/members", w.segment), None),
        (
            "GET",
            format!("/v1/segments/{}/export?format=csv", w.segment),
            None,
        ),
        (
            "GET",
            format!("/v1/segments/{}/explain?contact={c}", w.segment),
            None,
        ),
        (
            "POST",
            format!("/v1/segments/{}/snapshots", w.segment),
            Some(json!({})),
        ),
        ("GET", format!("/v1/snapshots/{}/members", w.snapshot), None),
        (
            "POST",
            "/v1/events".into(),
            Some(json!({"name": "MailOpen", "contact": {"id": c}})),
        ),
        (
            "POST",
            "/v1/events".into(),
            Some(json!({"name": "purchase", "contact": {"id": c}})),
        ),
    ];
    for (method, path, body) in &forbidden {
        let r = a.public_api.send(
            method,
            path,
            body.as_ref()
                .map(|b| ("application/json", b.to_string().into_bytes())),
        );
        let e = r.error(403);
        assert!(
            !e["message"].as_str().unwrap().is_empty(),
            "{method} {path}"
        );
    }
    assert_eq!(state_of(&a, &w), before, "A's data is unchanged");

    // A's public key posts a visit into A, never into B.
    let visit = json!({"name": "Visit", "contact": {"email": "b0@b.test"}, "attributes": {"url": "https://a.test/"}});
    assert_eq!(
        a.public_api.post("/v1/events", &visit).expect(200)["accepted"],
        1
    );
    let b0 = b
        .api
        .get(&format!("/v1/contacts?email={}", enc("b0@b.test")))
        .expect(200);
    assert!(b.contact_events(b0["id"].as_str().unwrap()).is_empty());
    let a_copy = a
        .api
        .get(&format!("/v1/contacts?email={}", enc("b0@b.test")))
        .expect(200);
    assert_eq!(a.contact_events(a_copy["id"].as_str().unwrap()).len(), 1);
}
