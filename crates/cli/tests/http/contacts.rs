//! Contacts: upsert one and many with per-item results, read by id and by
//! email, erase (the contact and all its events), and the streamed import.

use serde_json::{Value, json};

use crate::support::{Account, Server, enc};

fn get(a: &Account, id: &str) -> Value {
    a.api.get(&format!("/v1/contacts/{id}")).expect(200)
}

#[test]
fn upsert_one_creates_then_updates_the_same_contact() {
    let srv = Server::start();
    let a = srv.account();
    a.field("Age", "number");
    a.field("Birthday", "date");
    let created = a
        .api
        .post(
            "/v1/contacts",
            &json!({"Email": "ann@example.com", "FirstName": "Ann", "Age": 31, "Birthday": "1990-04-01", "EmailUnsubscribed": true, "SmsUnsubscribed": false}),
        )
        .ok();
    let id = created["id"].as_str().expect("an id").to_string();
    let ann = get(&a, &id);
    assert_eq!(ann["id"], id.as_str());
    assert_eq!(ann["Email"], "ann@example.com");
    assert_eq!(ann["FirstName"], "Ann");
    assert_eq!(ann["Age"].as_f64(), Some(31.0));
    assert!(
        ann["Birthday"]
            .as_str()
            .is_some_and(|d| d.starts_with("1990-04-01")),
        "{ann}"
    );
    assert!(ann["CreateTime"].is_string(), "{ann}");
    assert!(ann["UpdateTime"].is_string(), "{ann}");
    assert_eq!(ann["EmailUnsubscribed"], true);
    assert_eq!(ann["SmsUnsubscribed"], false);

    // Matched by email, case-insensitively: present fields are set, null
    // clears, absent fields stay.
    let updated = a
        .api
        .post(
            "/v1/contacts",
            &json!({"Email": "ANN@Example.com", "LastName": "Lee", "FirstName": null}),
        )
        .ok();
    assert_eq!(updated["id"], id.as_str(), "{updated}");
    let ann = get(&a, &id);
    assert_eq!(ann["LastName"], "Lee");
    assert!(ann["FirstName"].is_null(), "{ann}");
    assert_eq!(ann["Age"].as_f64(), Some(31.0));
    assert!(ann["Birthday"].as_str().unwrap().starts_with("1990-04-01"));
}

#[test]
fn upserts_match_by_external_id_then_email_then_phone() {
    let srv = Server::start();
    let a = srv.account();
    let crm = a.contact(json!({"ExternalId": "crm-1", "Email": "x@example.com"}));
    let phone = a.contact(json!({"MobilePhone": "+48 600-100-200"}));
    assert_ne!(crm, phone);
    assert_eq!(
        a.contact(json!({"ExternalId": "crm-1", "FirstName": "Xena"})),
        crm
    );
    assert_eq!(get(&a, &crm)["FirstName"], "Xena");
    assert_eq!(
        a.contact(json!({"MobilePhone": "0048 (600) 100.200", "FirstName": "Pat"})),
        phone
    );
    let pat = get(&a, &phone);
    assert_eq!(pat["FirstName"], "Pat");
    assert_eq!(pat["MobilePhone"], "+48600100200");
    // ExternalId wins over a phone that matches nobody else.
    assert_eq!(
        a.contact(json!({"ExternalId": "crm-1", "MobilePhone": "+1 202 555 0100"})),
        crm
    );
    assert_eq!(get(&a, &crm)["MobilePhone"], "+12025550100");
}

#[test]
fn server_maintains_update_time_and_keeps_a_supplied_create_time() {
    let srv = Server::start();
    let a = srv.account();
    let id = a.contact(json!({
        "Email": "old@example.com",
        "CreateTime": "2020-01-02T03:04:05Z",
        "UpdateTime": "2000-01-01T00:00:00Z",
    }));
    let c = get(&a, &id);
    assert!(
        c["CreateTime"]
            .as_str()
            .unwrap()
            .starts_with("2020-01-02T03:04:05"),
        "{c}"
    );
    assert!(
        !c["UpdateTime"].as_str().unwrap().starts_with("2000"),
        "UpdateTime is always the server's: {c}"
    );
    // An update leaves the creation time alone.
    a.contact(json!({"Email": "old@example.com", "CreateTime": "2024-05-05T00:00:00Z"}));
    let c = get(&a, &id);
    assert!(
        c["CreateTime"]
            .as_str()
            .unwrap()
            .starts_with("2020-01-02T03:04:05"),
        "{c}"
    );
    // Without one, CreateTime is set by the server.
    let id = a.contact(json!({"Email": "new@example.com"}));
    let c = get(&a, &id);
    assert!(c["CreateTime"].as_str().unwrap() > "2025", "{c}");
}

#[test]
fn invalid_phones_and_values_are_refused_naming_the_field() {
    let srv = Server::start();
    let a = srv.account();
    a.field("Age", "number");
    a.field("Birthday", "date");
    for (contact, field) in [
        (json!({"MobilePhone": "600100200"}), "MobilePhone"),
        (json!({"MobilePhone": "+48 600 abc"}), "MobilePhone"),
        (json!({"MobilePhone": "+48/600/100/200"}), "MobilePhone"),
        (
            json!({"MobilePhone": "+48 600 100 200 ext 5"}),
            "MobilePhone",
        ),
        (json!({"MobilePhone": "+"}), "MobilePhone"),
        (json!({"MobilePhone": "48600100200"}), "MobilePhone"),
        (json!({"Email": "a@example.com", "Age": "abc"}), "Age"),
        (json!({"Email": "a@example.com", "Age": true}), "Age"),
        (
            json!({"Email": "a@example.com", "FirstName": 5}),
            "FirstName",
        ),
        (
            json!({"Email": "a@example.com", "Birthday": "01/04/1990"}),
            "Birthday",
        ),
        (
            json!({"Email": "a@example.com", "Birthday": "1990-04-01 12:00:00"}),
            "Birthday",
        ),
        (
            json!({"Email": "a@example.com", "Birthday": 19900401}),
            "Birthday",
        ),
        (json!({"Email": "a@example.com", "Colour": "red"}), "Colour"),
        (
            json!({"Email": "a@example.com", "EmailUnsubscribed": "yes"}),
            "EmailUnsubscribed",
        ),
    ] {
        let e = a.api.post("/v1/contacts", &contact).error(422);
        assert!(
            e["message"].as_str().unwrap().contains(field),
            "{contact}: {e}"
        );
    }
    // Nothing was written.
    a.api
        .get(&format!("/v1/contacts?email={}", enc("a@example.com")))
        .error(404);
}

#[test]
fn batch_answers_per_item_and_writes_the_good_items() {
    let srv = Server::start();
    let a = srv.account();
    a.field("Age", "number");
    let p = a.contact(json!({"Email": "p@example.com", "FirstName": "Pia"}));
    let q = a.contact(json!({"ExternalId": "q-1", "FirstName": "Quinn"}));
    let answer = a
        .api
        .post(
            "/v1/contacts",
            &json!([
                {"Email": "one@example.com", "Age": 1},
                {"Email": "two@example.com", "Age": "abc"},
                {"Email": "p@example.com", "ExternalId": "q-1", "FirstName": "Bad"},
                {"Email": "four@example.com", "Colour": "red"},
                {"Email": "five@example.com", "FirstName": "Five"},
            ]),
        )
        .expect(200);
    let results = answer["results"].as_array().expect("results");
    assert_eq!(results.len(), 5, "{answer}");
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["index"], i, "{answer}");
    }
    assert!(results[0]["id"].is_string(), "{answer}");
    assert!(results[4]["id"].is_string(), "{answer}");
    let item_error = |i: usize, status: u16, field: Option<&str>| {
        let e = &results[i]["error"];
        assert_eq!(e["status"], status, "item {i}: {answer}");
        assert!(e["code"].as_str().is_some_and(|c| !c.is_empty()), "{e}");
        let message = e["message"].as_str().expect("a message");
        if let Some(field) = field {
            assert!(message.contains(field), "item {i}: {message}");
        }
        assert!(results[i].get("id").is_none_or(Value::is_null), "{answer}");
    };
    item_error(1, 422, Some("Age"));
    item_error(2, 409, None);
    item_error(3, 422, Some("Colour"));

    // The good items are written, the bad ones are not, and the conflict
    // changed neither of the contacts it matched.
    let one = get(&a, results[0]["id"].as_str().unwrap());
    assert_eq!(one["Email"], "one@example.com");
    let five = get(&a, results[4]["id"].as_str().unwrap());
    assert_eq!(five["FirstName"], "Five");
    for email in ["two@example.com", "four@example.com"] {
        a.api
            .get(&format!("/v1/contacts?email={}", enc(email)))
            .error(404);
    }
    let pia = get(&a, &p);
    assert_eq!(pia["FirstName"], "Pia");
    assert!(pia["ExternalId"].is_null(), "{pia}");
    let quinn = get(&a, &q);
    assert_eq!(quinn["FirstName"], "Quinn");
    assert!(quinn["Email"].is_null(), "{quinn}");
}

#[test]
fn a_single_identity_conflict_is_409_and_changes_nothing() {
    let srv = Server::start();
    let a = srv.account();
    let p = a.contact(json!({"Email": "p@example.com"}));
    let q = a.contact(json!({"MobilePhone": "+48600100200"}));
    let e = a
        .api
        .post(
            "/v1/contacts",
            &json!({"Email": "p@example.com", "MobilePhone": "+48 600 100 200", "LastName": "X"}),
        )
        .error(409);
    assert!(!e["message"].as_str().unwrap().is_empty());
    assert!(get(&a, &p)["LastName"].is_null());
    assert!(get(&a, &p)["MobilePhone"].is_null());
    assert!(get(&a, &q)["Email"].is_null());
}

#[test]
fn a_malformed_batch_is_refused_whole() {
    let srv = Server::start();
    let a = srv.account();
    a.api
        .raw(
            "POST",
            "/v1/contacts",
            "application/json",
            br#"[{"Email": "ok@example.com"}, {"Email": "#,
        )
        .error(400);
    a.api
        .get(&format!("/v1/contacts?email={}", enc("ok@example.com")))
        .error(404);
}

#[test]
fn get_by_id_and_by_email_case_insensitively() {
    let srv = Server::start();
    let a = srv.account();
    let id = a.contact(json!({"Email": "Ann.Lee@Example.com", "FirstName": "Ann"}));
    a.contact(json!({"Email": "bob@example.com"}));
    let by_id = get(&a, &id);
    for query in [
        "Ann.Lee@Example.com",
        "ann.lee@example.com",
        "ANN.LEE@EXAMPLE.COM",
    ] {
        let found = a
            .api
            .get(&format!("/v1/contacts?email={}", enc(query)))
            .expect(200);
        assert_eq!(found["id"], id.as_str(), "{query}: {found}");
        assert_eq!(found, by_id);
    }
    // Emails are stored as sent.
    assert_eq!(by_id["Email"], "Ann.Lee@Example.com");
    a.api
        .get(&format!("/v1/contacts?email={}", enc("nobody@example.com")))
        .error(404);
    a.api.get("/v1/contacts/c999999").error(404);
    a.api.get("/v1/contacts/not-an-id").error(404);
}

#[test]
fn erase_removes_the_contact_and_all_its_events() {
    let srv = Server::start();
    let a = srv.account();
    let gone = a.contact(json!({"Email": "gone@example.com"}));
    let kept = a.contact(json!({"Email": "kept@example.com"}));
    let answer = a.events(json!([
        {"id": "e1", "name": "MailOpen", "contact": {"id": gone}, "time": "2025-05-01T10:00:00Z", "attributes": {"campaign_id": "c1"}},
        {"id": "e2", "name": "MailClick", "contact": {"id": gone}, "time": "2025-05-01T10:01:00Z", "attributes": {"campaign_id": "c1", "url": "https://shop.test/"}},
        {"id": "e3", "name": "MailOpen", "contact": {"id": kept}, "time": "2025-05-01T10:00:00Z", "attributes": {"campaign_id": "c1"}},
    ]));
    assert_eq!(answer["accepted"], 3, "{answer}");
    let opened = a.segment("opened", json!({"event": "MailOpen"}));
    assert_eq!(a.count(&opened), 2);

    let r = a.api.delete(&format!("/v1/contacts/{gone}"));
    assert!(r.status == 200 || r.status == 204, "{r:?}");
    a.api.get(&format!("/v1/contacts/{gone}")).error(404);
    a.api.get(&format!("/v1/contacts/{gone}/events")).error(404);
    a.api
        .get(&format!("/v1/contacts?email={}", enc("gone@example.com")))
        .error(404);
    a.api.delete(&format!("/v1/contacts/{gone}")).error(404);
    assert_eq!(a.count(&opened), 1);
    let catalog = a.api.get("/v1/events/catalog").expect(200);
    let names: Vec<&str> = catalog["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert!(
        !names.contains(&"MailClick"),
        "the erased contact's only MailClick is gone: {catalog}"
    );
    assert_eq!(a.contact_events(&kept).len(), 1);
    // An event for the erased id is rejected, not stored.
    let late = a.events(json!({"name": "MailOpen", "contact": {"id": gone}}));
    assert_eq!(late["accepted"], 0, "{late}");
    assert_eq!(late["rejected"][0]["index"], 0, "{late}");
    assert_eq!(a.count(&opened), 1);

    // The email is free again, and the new contact has no events.
    let again = a.contact(json!({"Email": "gone@example.com"}));
    assert!(a.contact_events(&again).is_empty());
    assert_eq!(a.count(&opened), 1);
}

#[test]
fn import_csv_and_ndjson_with_per_row_errors() {
    let srv = Server::start();
    let a = srv.account();
    a.field("Age", "number");
    let r = a.api.raw(
        "POST",
        "/v1/contacts/import",
        "text/csv",
        b"Email,FirstName,Age\nann@example.com,Ann,31\nbob@example.com,Bob,abc\ncid@example.com,Cid,40\n",
    );
    assert!(r.status == 200 || r.status == 201, "{r:?}");
    assert!(
        r.body.contains("Age"),
        "the row error names the field: {r:?}"
    );
    let ann = a
        .api
        .get(&format!("/v1/contacts?email={}", enc("ann@example.com")))
        .expect(200);
    assert_eq!(ann["Age"].as_f64(), Some(31.0));
    a.api
        .get(&format!("/v1/contacts?email={}", enc("cid@example.com")))
        .expect(200);
    a.api
        .get(&format!("/v1/contacts?email={}", enc("bob@example.com")))
        .error(404);

    let r = a.api.raw(
        "POST",
        "/v1/contacts/import",
        "application/x-ndjson",
        b"{\"Email\": \"dan@example.com\", \"Age\": 5}\n{\"Email\": \"eve@example.com\", \"Age\": \"x\"}\n",
    );
    assert!(r.status == 200 || r.status == 201, "{r:?}");
    a.api
        .get(&format!("/v1/contacts?email={}", enc("dan@example.com")))
        .expect(200);
    a.api
        .get(&format!("/v1/contacts?email={}", enc("eve@example.com")))
        .error(404);
}

#[test]
fn later_items_of_a_batch_match_contacts_created_by_earlier_ones() {
    let srv = Server::start();
    let a = srv.account();
    let answer = a
        .api
        .post(
            "/v1/contacts",
            &json!([
                {"Email": "dup@example.com", "FirstName": "Ann"},
                {"Email": "DUP@example.com", "LastName": "Lee"},
                {"ExternalId": "k1", "MobilePhone": "+48 600 100 200"},
                {"MobilePhone": "+48600100200", "FirstName": "Pat"},
                {"Email": "dup@example.com", "ExternalId": "k1"},
            ]),
        )
        .expect(200);
    let results = answer["results"].as_array().expect("results");
    assert_eq!(results[0]["id"], results[1]["id"], "{answer}");
    assert_eq!(results[2]["id"], results[3]["id"], "{answer}");
    assert_ne!(results[0]["id"], results[2]["id"], "{answer}");
    // The last item matches both contacts the batch made.
    assert_eq!(results[4]["error"]["status"], 409, "{answer}");
    let ann = get(&a, results[0]["id"].as_str().unwrap());
    assert_eq!(ann["FirstName"], "Ann");
    assert_eq!(ann["LastName"], "Lee");
    assert!(ann["ExternalId"].is_null(), "{ann}");
    let pat = get(&a, results[2]["id"].as_str().unwrap());
    assert_eq!(pat["FirstName"], "Pat");
    assert_eq!(pat["ExternalId"], "k1");
    assert_eq!(a.all_contact_ids().len(), 2);
}

#[test]
fn null_clears_an_identity_which_another_contact_may_then_take() {
    let srv = Server::start();
    let a = srv.account();
    let first = a.contact(json!({"ExternalId": "k1", "Email": "shared@example.com"}));
    let second = a.contact(json!({"ExternalId": "k2"}));
    a.api
        .post(
            "/v1/contacts",
            &json!({"ExternalId": "k2", "Email": "shared@example.com"}),
        )
        .error(409);
    assert_eq!(a.contact(json!({"ExternalId": "k1", "Email": null})), first);
    assert!(get(&a, &first)["Email"].is_null());
    assert_eq!(
        a.contact(json!({"ExternalId": "k2", "Email": "Shared@example.com"})),
        second
    );
    let found = a
        .api
        .get(&format!("/v1/contacts?email={}", enc("shared@example.com")))
        .expect(200);
    assert_eq!(found["id"], second.as_str());
}
