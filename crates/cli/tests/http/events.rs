//! Event ingest (`POST /v1/events`: one, an array, NDJSON), duplicates and
//! rejections, contacts created by events, the catalog, a contact's events
//! and segments.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::support::{Server, enc};

fn ev(id: &str, email: &str, time: &str) -> Value {
    json!({"id": id, "name": "MailOpen", "contact": {"email": email}, "time": time, "attributes": {"campaign_id": "spring"}})
}

fn rejected_indexes(answer: &Value) -> Vec<u64> {
    answer["rejected"]
        .as_array()
        .unwrap_or_else(|| panic!("`rejected` must be a list: {answer}"))
        .iter()
        .map(|r| {
            assert!(r["error"].is_object() || r["error"].is_string(), "{r}");
            r["index"].as_u64().expect("an index")
        })
        .collect()
}

#[test]
fn one_event_an_array_and_ndjson_are_accepted() {
    let srv = Server::start();
    let a = srv.account();
    let id = a.contact(json!({"Email": "ann@example.com"}));

    let one = a.events(ev("e1", "ann@example.com", "2025-05-01T10:00:00Z"));
    assert_eq!(one["accepted"], 1, "{one}");
    assert_eq!(one["duplicates"], 0, "{one}");
    assert_eq!(one["rejected"], json!([]), "{one}");

    let array = a.events(json!([
        ev("e2", "ann@example.com", "2025-05-02T10:00:00Z"),
        ev("e3", "ann@example.com", "2025-05-03T10:00:00Z"),
    ]));
    assert_eq!(array["accepted"], 2, "{array}");
    assert_eq!(array["rejected"], json!([]), "{array}");

    let ndjson = format!(
        "{}\n{}\n{}\n",
        ev("e4", "ann@example.com", "2025-05-04T10:00:00Z"),
        "{not json",
        ev("e5", "ann@example.com", "2025-05-05T10:00:00Z"),
    );
    let answer = a
        .api
        .raw(
            "POST",
            "/v1/events",
            "application/x-ndjson",
            ndjson.as_bytes(),
        )
        .expect(200);
    assert_eq!(answer["accepted"], 2, "{answer}");
    assert_eq!(rejected_indexes(&answer), vec![1], "{answer}");

    let stored = a.contact_events(&id);
    let ids: HashSet<&str> = stored.iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(ids, HashSet::from(["e1", "e2", "e3", "e4", "e5"]));
    assert_eq!(stored.len(), 5);
}

#[test]
fn duplicate_ids_within_and_across_batches_are_counted_not_stored() {
    let srv = Server::start();
    let a = srv.account();
    let ann = a.contact(json!({"Email": "ann@example.com"}));
    let bob = a.contact(json!({"Email": "bob@example.com"}));
    let first = json!({"id": "d1", "name": "MailOpen", "contact": {"id": ann}, "time": "2025-05-01T10:00:00Z", "attributes": {"campaign_id": "first"}});
    // The same id again in the same batch, with another name and contact.
    let again = json!({"id": "d1", "name": "MailClick", "contact": {"id": bob}, "time": "2025-05-02T10:00:00Z", "attributes": {"campaign_id": "second"}});
    let answer = a.events(json!([
        first,
        again,
        ev("d2", "ann@example.com", "2025-05-03T10:00:00Z")
    ]));
    assert_eq!(answer["accepted"], 2, "{answer}");
    assert_eq!(answer["duplicates"], 1, "{answer}");
    assert_eq!(answer["rejected"], json!([]), "{answer}");

    // Across batches: a retry of the whole batch stores nothing.
    let retry = a.events(json!([
        first,
        ev("d2", "ann@example.com", "2025-05-03T10:00:00Z"),
        ev("d3", "bob@example.com", "2025-05-04T10:00:00Z")
    ]));
    assert_eq!(retry["accepted"], 1, "{retry}");
    assert_eq!(retry["duplicates"], 2, "{retry}");

    // The first of the duplicates is the one kept.
    let anns = a.contact_events(&ann);
    assert_eq!(anns.len(), 2, "{anns:?}");
    let d1 = anns.iter().find(|e| e["id"] == "d1").expect("d1 is stored");
    assert_eq!(d1["name"], "MailOpen");
    assert_eq!(d1["attributes"]["campaign_id"], "first");
    let bobs = a.contact_events(&bob);
    assert_eq!(bobs.len(), 1, "{bobs:?}");
    assert_eq!(bobs[0]["id"], "d3");

    // Events without an id are never duplicates.
    let no_id = json!({"name": "MailOpen", "contact": {"id": bob}, "time": "2025-06-01T10:00:00Z"});
    let twice = a.events(json!([no_id, no_id]));
    assert_eq!(twice["accepted"], 2, "{twice}");
    assert_eq!(twice["duplicates"], 0, "{twice}");
    assert_eq!(a.events(no_id)["accepted"], 1);
    assert_eq!(a.contact_events(&bob).len(), 4);
}

#[test]
fn bad_items_are_rejected_by_index_and_the_rest_accepted() {
    let srv = Server::start();
    let a = srv.account_with_custom_events();
    let ann = a.contact(json!({"Email": "ann@example.com"}));
    let answer = a.events(json!([
        {"name": "MailOpen", "contact": {"id": ann}},
        {"name": "MailOpen", "contact": {"id": "c999999"}},
        {"name": "MailOpen", "contact": {"phone": "12345"}},
        {"name": "MailOpen", "contact": {"email": ""}},
        {"name": "MailOpen", "contact": {"email": null}},
        {"name": "MailOpen", "contact": {}},
        {"name": "MailOpen", "contact": {"email": "ann@example.com"}, "time": "yesterday"},
        {"name": "MailOpen", "contact": {"email": "ann@example.com"}, "attributes": {"nested": {"a": 1}}},
        {"name": "not a name!", "contact": {"email": "ann@example.com"}},
        {"contact": {"email": "ann@example.com"}},
        {"name": "MailOpen", "contact": {"email": "ann@example.com"}, "time": "2025-05-01T10:00:00Z"},
    ]));
    assert_eq!(answer["accepted"], 2, "{answer}");
    assert_eq!(answer["duplicates"], 0, "{answer}");
    assert_eq!(
        rejected_indexes(&answer),
        vec![1, 2, 3, 4, 5, 6, 7, 8, 9],
        "{answer}"
    );
    for r in answer["rejected"].as_array().unwrap() {
        let message = r["error"]["message"]
            .as_str()
            .or(r["error"].as_str())
            .unwrap_or_default();
        assert!(!message.is_empty(), "{r}");
    }
    assert_eq!(a.contact_events(&ann).len(), 2);
    // The rejected items created no contact.
    assert_eq!(a.all_contact_ids().len(), 1);
}

#[test]
fn an_event_for_a_new_identity_creates_the_contact() {
    let srv = Server::start();
    let a = srv.account();
    let existing = a.contact(json!({"Email": "ann@example.com", "FirstName": "Ann"}));
    let answer = a.events(json!([
        {"name": "MailOpen", "contact": {"email": "new@example.com"}, "time": "2025-05-01T10:00:00Z"},
        {"name": "SmsSent", "contact": {"phone": "+48 500-600-700"}, "time": "2025-05-01T10:00:00Z"},
        {"name": "MailSent", "contact": {"external_id": "crm-42"}, "time": "2025-05-01T10:00:00Z"},
        {"name": "MailOpen", "contact": {"email": "ANN@EXAMPLE.COM"}, "time": "2025-05-01T10:00:00Z"},
    ]));
    assert_eq!(answer["accepted"], 4, "{answer}");
    assert_eq!(a.all_contact_ids().len(), 4);
    for (field, value) in [
        ("Email", "new@example.com"),
        ("MobilePhone", "+48500600700"),
        ("ExternalId", "crm-42"),
    ] {
        let c = a.find(field, value);
        assert_eq!(c[field], value, "{c}");
        let keys: HashSet<&str> = c
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(
            keys,
            HashSet::from(["id", field, "CreateTime", "UpdateTime"]),
            "only that identity, plus CreateTime/UpdateTime: {c}"
        );
        assert_eq!(
            a.contact_events(c["id"].as_str().unwrap()).len(),
            1,
            "{value}"
        );
    }
    // An email in another case is the existing contact.
    assert_eq!(a.contact_events(&existing).len(), 1);
    // Event names are case-sensitive.
    let exact = a
        .api
        .post(
            "/v1/segments/preview",
            &json!({"rule": {"event": "MailOpen"}}),
        )
        .expect(200);
    assert_eq!(exact["count"], 2, "{exact}");
    let other_case = a
        .api
        .post(
            "/v1/segments/preview",
            &json!({"rule": {"event": "mailopen"}}),
        )
        .expect(200);
    assert_eq!(other_case["count"], 0, "{other_case}");
}

#[test]
fn times_are_kept_to_the_millisecond_and_default_to_now() {
    let srv = Server::start();
    let a = srv.account();
    let id = a.contact(json!({"Email": "ann@example.com"}));
    a.events(json!([
        {"id": "fine", "name": "MailOpen", "contact": {"id": id}, "time": "2025-01-02T03:04:05.123456789Z"},
        {"id": "offset", "name": "MailOpen", "contact": {"id": id}, "time": "2025-01-02T05:04:06+02:00"},
        {"id": "now", "name": "MailOpen", "contact": {"id": id}},
    ]));
    let events = a.contact_events(&id);
    let time_of = |eid: &str| {
        events
            .iter()
            .find(|e| e["id"] == eid)
            .and_then(|e| e["time"].as_str())
            .unwrap_or_else(|| panic!("{eid} in {events:?}"))
            .to_string()
    };
    let fine = time_of("fine");
    assert!(fine.starts_with("2025-01-02T03:04:05.123"), "{fine}");
    assert!(!fine.contains("1234"), "finer than a millisecond: {fine}");
    assert!(time_of("offset").starts_with("2025-01-02T03:04:06"));
    let now = time_of("now");
    assert!(now.as_str() > "2025-06", "missing time means now: {now}");
}

#[test]
fn catalog_lists_names_sources_counts_times_and_attribute_types() {
    let srv = Server::start();
    let a = srv.account_with_custom_events();
    a.events(json!([
        {"name": "Visit", "contact": {"email": "ann@example.com"}, "time": "2025-05-01T10:00:00Z",
         "attributes": {"url": "https://shop.test/pricing", "referrer": "", "title": "Pricing", "session_id": "s1"}},
        {"name": "Visit", "contact": {"email": "bob@example.com"}, "time": "2025-05-03T10:00:00Z",
         "attributes": {"url": "https://shop.test/", "title": "Home", "session_id": "s2"}},
        {"name": "MailClick", "contact": {"email": "ann@example.com"}, "time": "2025-05-02T10:00:00Z",
         "attributes": {"campaign_id": "spring", "url": "https://shop.test/sale"}},
        {"name": "purchase", "contact": {"email": "ann@example.com"}, "time": "2025-05-04T10:00:00Z",
         "attributes": {"price": 120.5, "sku": "A-1", "gift": true}},
        {"name": "purchase", "contact": {"email": "bob@example.com"}, "time": "2025-05-05T11:12:13Z",
         "attributes": {"price": "n/a", "coupon": null}},
    ]));
    let catalog = a.api.get("/v1/events/catalog").expect(200);
    let entries = catalog["events"]
        .as_array()
        .unwrap_or_else(|| panic!("{catalog}"));
    let entry = |name: &str| {
        entries
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing from {catalog}"))
            .clone()
    };
    let attribute_types = |e: &Value, attr: &str| -> HashSet<String> {
        let attrs = e["attributes"].as_array().expect("attributes");
        let a = attrs
            .iter()
            .find(|a| a["name"] == attr)
            .unwrap_or_else(|| panic!("{attr} missing from {e}"));
        a["types"]
            .as_array()
            .expect("types")
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect()
    };
    let visit = entry("Visit");
    assert_eq!(visit["source"], "visit");
    assert_eq!(visit["count"], 2);
    assert!(
        visit["last_time"]
            .as_str()
            .unwrap()
            .starts_with("2025-05-03T10:00:00")
    );
    assert_eq!(
        attribute_types(&visit, "url"),
        HashSet::from(["string".into()])
    );
    let click = entry("MailClick");
    assert_eq!(click["source"], "system");
    assert_eq!(click["count"], 1);
    let purchase = entry("purchase");
    assert_eq!(purchase["source"], "custom");
    assert_eq!(purchase["count"], 2);
    assert!(
        purchase["last_time"]
            .as_str()
            .unwrap()
            .starts_with("2025-05-05T11:12:13")
    );
    assert_eq!(
        attribute_types(&purchase, "price"),
        HashSet::from(["number".into(), "string".into()])
    );
    assert_eq!(
        attribute_types(&purchase, "gift"),
        HashSet::from(["boolean".into()])
    );
    assert_eq!(entries.len(), 3, "only the names seen: {catalog}");
}

#[test]
fn contact_events_are_newest_first_with_cursor_paging() {
    let srv = Server::start();
    let a = srv.account();
    let id = a.contact(json!({"Email": "ann@example.com"}));
    let other = a.contact(json!({"Email": "bob@example.com"}));
    let times = [
        "2025-05-03T10:00:00Z",
        "2025-05-01T10:00:00Z",
        "2025-05-05T10:00:00Z",
        "2025-05-02T10:00:00Z",
        "2025-05-04T10:00:00Z",
    ];
    let batch: Vec<Value> = times
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"id": format!("e{i}"), "name": "MailOpen", "contact": {"id": id}, "time": t}))
        .chain([json!({"name": "MailOpen", "contact": {"id": other}, "time": "2025-05-06T10:00:00Z"})])
        .collect();
    assert_eq!(a.events(json!(batch))["accepted"], 6);

    let mut seen: Vec<String> = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/contacts/{id}/events?limit=2");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", enc(c)));
        }
        let page = a.api.get(&path).expect(200);
        let events = page["events"].as_array().expect("events");
        assert!(events.len() <= 2, "{page}");
        for e in events {
            assert_eq!(e["name"], "MailOpen");
            seen.push(e["time"].as_str().unwrap().to_string());
        }
        pages += 1;
        assert!(pages <= 10, "the cursor must end");
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert!(pages >= 3, "{pages} pages of at most 2");
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(seen, sorted, "newest first");
    assert!(seen[0].starts_with("2025-05-05"));
    a.api.get("/v1/contacts/c999999/events").error(404);
}

#[test]
fn contact_segments_lists_the_saved_segments_the_contact_is_in() {
    let srv = Server::start();
    let a = srv.account();
    let ann = a.contact(json!({"Email": "ann@shop.test"}));
    let bob = a.contact(json!({"Email": "bob@other.test"}));
    a.events(json!({"name": "MailClick", "contact": {"id": ann}, "time": "2025-05-10T12:00:00Z"}));
    let shop = a.segment(
        "shop",
        json!({"field": "Email", "op": "ends_with", "value": "@shop.test"}),
    );
    let clicked = a.segment("clicked", json!({"event": "MailClick"}));
    let everyone = a.segment("everyone", json!({"all": []}));
    let segment_ids = |contact: &str, as_of: Option<&str>| -> HashSet<String> {
        let mut path = format!("/v1/contacts/{contact}/segments");
        if let Some(t) = as_of {
            path.push_str(&format!("?as_of={}", enc(t)));
        }
        let answer = a.api.get(&path).expect(200);
        answer["segments"]
            .as_array()
            .unwrap_or_else(|| panic!("{answer}"))
            .iter()
            .map(|s| s["id"].as_str().expect("a segment id").to_string())
            .collect()
    };
    assert_eq!(
        segment_ids(&ann, None),
        HashSet::from([shop.clone(), clicked.clone(), everyone.clone()])
    );
    assert_eq!(segment_ids(&bob, None), HashSet::from([everyone.clone()]));
    // Before the click, Ann was not in `clicked`.
    assert_eq!(
        segment_ids(&ann, Some("2025-05-10T11:59:59Z")),
        HashSet::from([shop, everyone])
    );
    a.api.get("/v1/contacts/c999999/segments").error(404);
}

#[test]
fn an_invalid_name_is_rejected_as_an_item_without_the_addon() {
    // SPEC §1: custom events are names matching `[A-Za-z0-9_.:-]{1,100}`
    // (other than the reserved ones); an item that is not an event at all
    // is rejected for that item, and the rest of the request is accepted.
    let srv = Server::start();
    let a = srv.account();
    let answer = a.events(json!([
        {"name": "MailOpen", "contact": {"email": "ann@example.com"}},
        {"name": "not a name!", "contact": {"email": "ann@example.com"}},
        {"contact": {"email": "ann@example.com"}},
    ]));
    assert_eq!(answer["accepted"], 1, "{answer}");
    assert_eq!(rejected_indexes(&answer), vec![1, 2], "{answer}");
}

#[test]
fn events_for_one_new_identity_in_a_batch_make_one_contact() {
    let srv = Server::start();
    let a = srv.account();
    let pat = a.contact(json!({"MobilePhone": "+48600100200"}));
    let answer = a.events(json!([
        {"name": "MailOpen", "contact": {"email": "new@example.com"}},
        {"name": "MailClick", "contact": {"email": "NEW@example.com"}},
        {"name": "SmsSent", "contact": {"phone": "+48 600-100-200"}},
        {"name": "SmsClick", "contact": {"phone": "0048600100200"}},
        {"name": "MailOpen", "contact": {"email": "ann@example.com"}, "attributes": {"list": [1, 2]}},
    ]));
    assert_eq!(answer["accepted"], 4, "{answer}");
    assert_eq!(
        rejected_indexes(&answer),
        vec![4],
        "arrays are not flat: {answer}"
    );
    assert_eq!(a.all_contact_ids().len(), 2);
    let new = a
        .api
        .get(&format!("/v1/contacts?email={}", enc("new@example.com")))
        .expect(200);
    assert_eq!(a.contact_events(new["id"].as_str().unwrap()).len(), 2);
    assert_eq!(a.contact_events(&pat).len(), 2);
}
