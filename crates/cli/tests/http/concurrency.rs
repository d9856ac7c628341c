//! Concurrent requests: identities stay unique, event ids stay
//! deduplicated across requests that share a commit, names stay unique.

use std::collections::HashSet;
use std::sync::{Arc, Barrier};

use serde_json::{Value, json};

use crate::support::{Client, Resp, Server, enc};

const WRITERS: usize = 8;

/// Sends `body(i)` from `WRITERS` threads released together.
fn race(client: &Client, path: &str, body: impl Fn(usize) -> Value) -> Vec<Resp> {
    let barrier = Arc::new(Barrier::new(WRITERS));
    let handles: Vec<_> = (0..WRITERS)
        .map(|i| {
            let client = client.clone();
            let barrier = barrier.clone();
            let path = path.to_string();
            let body = body(i);
            std::thread::spawn(move || {
                barrier.wait();
                client.post(&path, &body)
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("a writer"))
        .collect()
}

#[test]
fn concurrent_upserts_of_one_new_email_make_one_contact() {
    let srv = Server::start();
    let a = srv.account();
    for round in 0..5 {
        let email = format!("race{round}@example.com");
        let answers = race(
            &a.api,
            "/v1/contacts",
            |i| json!({"Email": if i % 2 == 0 { email.to_uppercase() } else { email.clone() }, "FirstName": format!("W{i}")}),
        );
        let ids: HashSet<String> = answers
            .iter()
            .map(|r| r.ok()["id"].as_str().expect("an id").to_string())
            .collect();
        assert_eq!(ids.len(), 1, "one contact per email: {ids:?}");
    }
    assert_eq!(a.all_contact_ids().len(), 5);
}

#[test]
fn concurrent_events_for_one_new_email_make_one_contact() {
    let srv = Server::start();
    let a = srv.account();
    let answers = race(
        &a.api,
        "/v1/events",
        |i| json!([{"name": "MailOpen", "contact": {"email": "new@example.com"}, "attributes": {"w": i}}]),
    );
    for r in &answers {
        assert_eq!(r.expect(200)["accepted"], 1, "{r:?}");
    }
    assert_eq!(a.all_contact_ids().len(), 1);
    let c = a
        .api
        .get(&format!("/v1/contacts?email={}", enc("new@example.com")))
        .expect(200);
    assert_eq!(a.contact_events(c["id"].as_str().unwrap()).len(), WRITERS);
}

#[test]
fn concurrent_requests_with_the_same_event_ids_store_each_id_once() {
    let srv = Server::start();
    let a = srv.account();
    let ann = a.contact(json!({"Email": "ann@example.com"}));
    for round in 0..5 {
        let answers = race(&a.api, "/v1/events", |_| {
            json!((0..10)
                .map(|e| json!({"id": format!("r{round}-e{e}"), "name": "MailOpen", "contact": {"id": ann}}))
                .collect::<Vec<_>>())
        });
        let (mut accepted, mut duplicates) = (0, 0);
        for r in &answers {
            let answer = r.expect(200);
            accepted += answer["accepted"].as_u64().unwrap();
            duplicates += answer["duplicates"].as_u64().unwrap();
        }
        assert_eq!(accepted, 10, "round {round}");
        assert_eq!(duplicates, 10 * (WRITERS as u64 - 1), "round {round}");
    }
    let stored = a.contact_events(&ann);
    let ids: HashSet<&str> = stored.iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(stored.len(), 50);
    assert_eq!(ids.len(), 50);
}

#[test]
fn concurrent_creates_with_one_name_keep_names_unique() {
    let srv = Server::start();
    let a = srv.account();
    let segments = race(
        &a.api,
        "/v1/segments",
        |_| json!({"name": "Same", "rule": {"all": []}}),
    );
    let created = segments
        .iter()
        .filter(|r| r.status == 200 || r.status == 201)
        .count();
    assert_eq!(created, 1, "{segments:?}");
    for r in segments
        .iter()
        .filter(|r| r.status != 200 && r.status != 201)
    {
        r.error(409);
    }
    let list = a.api.get("/v1/segments").expect(200);
    assert_eq!(list["segments"].as_array().unwrap().len(), 1, "{list}");

    let fields = race(
        &a.api,
        "/v1/fields",
        |i| json!({"name": "Same", "type": if i % 2 == 0 { "text" } else { "number" }}),
    );
    let created = fields
        .iter()
        .filter(|r| r.status == 200 || r.status == 201)
        .count();
    assert_eq!(created, 1, "{fields:?}");
    for r in fields.iter().filter(|r| r.status != 200 && r.status != 201) {
        r.error(409);
    }
    let listed = crate::fields::fields(&a);
    assert_eq!(listed.iter().filter(|(n, _)| n == "Same").count(), 1);
}
