//! The `custom_events` add-on gate and usage metering (`GET /v1/usage`).

use serde_json::json;

use crate::support::{Server, enc, utc_month};

#[test]
fn without_the_addon_a_request_with_a_custom_event_stores_nothing() {
    let srv = Server::start();
    let a = srv.account();
    let ann = a.contact(json!({"Email": "ann@example.com"}));
    let mixed = json!([
        {"id": "s1", "name": "MailOpen", "contact": {"id": ann}, "time": "2025-05-01T10:00:00Z"},
        {"id": "s2", "name": "MailOpen", "contact": {"email": "new@example.com"}, "time": "2025-05-01T10:00:00Z"},
        {"id": "c1", "name": "purchase", "contact": {"id": ann}, "attributes": {"price": 10}},
        {"id": "v1", "name": "Visit", "contact": {"id": ann}, "attributes": {"url": "https://shop.test/"}},
    ]);
    let e = a.api.post("/v1/events", &mixed).error(403);
    assert_eq!(e["code"], "addon_required", "{e}");
    // Also as NDJSON.
    let ndjson: String = mixed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{e}\n"))
        .collect();
    let e = a
        .api
        .raw(
            "POST",
            "/v1/events",
            "application/x-ndjson",
            ndjson.as_bytes(),
        )
        .error(403);
    assert_eq!(e["code"], "addon_required", "{e}");

    // Nothing stored: not the system events, not the visit, not the
    // contact the second event would have created.
    assert!(a.contact_events(&ann).is_empty());
    a.api
        .get(&format!("/v1/contacts?email={}", enc("new@example.com")))
        .error(404);
    let catalog = a.api.get("/v1/events/catalog").expect(200);
    assert_eq!(catalog["events"], json!([]), "{catalog}");
    assert_eq!(a.usage_for(&utc_month()), 0);

    // The system events alone need no add-on, and their ids were not
    // taken by the refused request.
    let answer = a.events(json!([mixed[0], mixed[1], mixed[3]]));
    assert_eq!(answer["accepted"], 3, "{answer}");
    assert_eq!(answer["duplicates"], 0, "{answer}");
}

#[test]
fn custom_events_are_metered_per_month_system_events_and_visits_never() {
    let srv = Server::start();
    let a = srv.account_with_custom_events();
    let month = utc_month();
    let ann = a.contact(json!({"Email": "ann@example.com"}));
    let answer = a.events(json!([
        {"id": "p1", "name": "purchase", "contact": {"id": ann}, "attributes": {"price": 10}},
        {"id": "p2", "name": "purchase", "contact": {"id": ann}, "time": "2024-01-15T10:00:00Z"},
        {"id": "p1", "name": "purchase", "contact": {"id": ann}},
        {"name": "cart_add", "contact": {"email": "bob@example.com"}},
        {"name": "purchase", "contact": {"id": "c999999"}},
        // Names are case-sensitive: `mailopen` is a custom event.
        {"name": "mailopen", "contact": {"id": ann}},
        {"name": "MailOpen", "contact": {"id": ann}},
        {"name": "MailClick", "contact": {"id": ann}, "attributes": {"url": "https://shop.test/"}},
        {"name": "Visit", "contact": {"id": ann}, "attributes": {"url": "https://shop.test/"}},
    ]));
    assert_eq!(answer["accepted"], 7, "{answer}");
    assert_eq!(answer["duplicates"], 1, "{answer}");
    assert_eq!(answer["rejected"].as_array().unwrap().len(), 1, "{answer}");

    // p1, p2 (metered in the month of acceptance, not of its time),
    // cart_add and mailopen.
    let usage = a.api.get("/v1/usage").expect(200);
    let months = usage["months"].as_array().expect("months");
    assert_eq!(
        months.len(),
        1,
        "only the month of acceptance is metered: {usage}"
    );
    assert_eq!(months[0]["month"], month.as_str(), "{usage}");
    assert_eq!(months[0]["custom_events"], 4, "{usage}");

    // The public key's visits and more system events add nothing.
    let visit = a
        .public_api
        .post(
            "/v1/events",
            &json!({"name": "Visit", "contact": {"id": ann}, "attributes": {"url": "https://shop.test/x"}}),
        )
        .expect(200);
    assert_eq!(visit["accepted"], 1, "{visit}");
    a.events(json!([
        {"name": "SmsSent", "contact": {"id": ann}},
        {"name": "PushOpen", "contact": {"id": ann}},
    ]));
    assert_eq!(a.usage_for(&month), 4);
    // Retries of metered events are duplicates, not metered again.
    let retry = a.events(json!([
        {"id": "p1", "name": "purchase", "contact": {"id": ann}},
        {"id": "p3", "name": "purchase", "contact": {"id": ann}},
    ]));
    assert_eq!(retry["duplicates"], 1, "{retry}");
    assert_eq!(a.usage_for(&month), 5);
}

#[test]
fn an_account_without_custom_events_has_no_usage() {
    let srv = Server::start();
    let a = srv.account();
    a.events(json!([
        {"name": "MailOpen", "contact": {"email": "ann@example.com"}},
        {"name": "Visit", "contact": {"email": "ann@example.com"}, "attributes": {"url": "https://shop.test/"}},
    ]));
    let usage = a.api.get("/v1/usage").expect(200);
    let months = usage["months"].as_array().expect("months");
    assert!(
        months.iter().all(|m| m["custom_events"] == 0),
        "system events and visits are never metered: {usage}"
    );
}

#[test]
fn the_public_key_posts_visits_only() {
    let srv = Server::start();
    let a = srv.account_with_custom_events();
    let ann = a.contact(json!({"Email": "ann@example.com"}));
    let visit = json!({"name": "Visit", "contact": {"id": ann}, "attributes": {"url": "https://shop.test/", "referrer": "", "title": "Home", "session_id": "s1"}});
    let answer = a.public_api.post("/v1/events", &visit).expect(200);
    assert_eq!(answer["accepted"], 1, "{answer}");
    for forbidden in [
        json!({"name": "MailOpen", "contact": {"id": ann}}),
        json!({"name": "purchase", "contact": {"id": ann}}),
        json!([visit, {"name": "MailClick", "contact": {"id": ann}}]),
    ] {
        a.public_api.post("/v1/events", &forbidden).error(403);
    }
    // Only the first visit is stored.
    let stored = a.contact_events(&ann);
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0]["name"], "Visit");
    assert_eq!(a.usage_for(&utc_month()), 0);
}

#[test]
fn erasing_a_contact_does_not_unmeter_its_accepted_custom_events() {
    let srv = Server::start();
    let a = srv.account_with_custom_events();
    let ann = a.contact(json!({"Email": "ann@example.com"}));
    let answer = a.events(json!([
        {"name": "purchase", "contact": {"id": ann}},
        {"name": "purchase", "contact": {"id": ann}},
        {"name": "cart_add", "contact": {"id": ann}},
    ]));
    assert_eq!(answer["accepted"], 3, "{answer}");
    let month = utc_month();
    assert_eq!(a.usage_for(&month), 3);
    let r = a.api.delete(&format!("/v1/contacts/{ann}"));
    assert!(r.status == 200 || r.status == 204, "{r:?}");
    assert_eq!(a.usage_for(&month), 3, "accepted events stay billed");
}
