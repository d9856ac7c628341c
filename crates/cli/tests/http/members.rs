//! A segment's members: paging (`limit`, `next_cursor`, consistency while
//! data changes), export (CSV and NDJSON), explain, and snapshots.

use std::collections::{BTreeSet, HashSet};

use serde_json::{Value, json};

use crate::support::{Server, enc, ids, parse_csv};

#[test]
fn limit_defaults_to_100_and_is_capped_at_1000() {
    let srv = Server::start();
    let a = srv.account();
    let batch: Vec<Value> = (0..1005)
        .map(|i| json!({"Email": format!("m{i}@shop.test")}))
        .collect();
    let created: BTreeSet<String> = a.contacts(&batch).into_iter().collect();
    let all = a.segment("all", json!({"all": []}));

    let page = a
        .api
        .get(&format!("/v1/segments/{all}/members"))
        .expect(200);
    assert_eq!(page["members"].as_array().unwrap().len(), 100);
    assert!(page["next_cursor"].is_string(), "{}", page["next_cursor"]);

    let page = a
        .api
        .get(&format!("/v1/segments/{all}/members?limit=5000"))
        .expect(200);
    assert_eq!(page["members"].as_array().unwrap().len(), 1000);
    let cursor = page["next_cursor"].as_str().expect("a next cursor");
    let rest = a
        .api
        .get(&format!(
            "/v1/segments/{all}/members?limit=5000&cursor={}",
            enc(cursor)
        ))
        .expect(200);
    assert_eq!(rest["members"].as_array().unwrap().len(), 5);
    assert!(rest["next_cursor"].is_null(), "{}", rest["next_cursor"]);

    let mut seen = ids(&page["members"]);
    seen.extend(ids(&rest["members"]));
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no member twice");
    assert_eq!(unique, created);

    // Following the cursor with the default page size gives the same set.
    let paged: BTreeSet<String> = a.member_ids(&all, 100).into_iter().collect();
    assert_eq!(paged, created);
}

#[test]
fn members_rows_carry_the_identities_and_the_fields_asked_for() {
    let srv = Server::start();
    let a = srv.account();
    a.field("Age", "number");
    a.contacts(&[
        json!({"Email": "ann@shop.test", "MobilePhone": "+48600100200", "ExternalId": "x1", "FirstName": "Ann", "Age": 31}),
        json!({"Email": "bob@shop.test"}),
    ]);
    let seg = a.segment("shop", json!({"field": "Email", "op": "has_value"}));
    let page = a
        .api
        .get(&format!("/v1/segments/{seg}/members?fields=FirstName,Age"))
        .expect(200);
    let members = page["members"].as_array().unwrap();
    assert_eq!(members.len(), 2);
    let ann = members
        .iter()
        .find(|m| m["Email"] == "ann@shop.test")
        .expect("Ann");
    assert_eq!(ann["MobilePhone"], "+48600100200");
    assert_eq!(ann["ExternalId"], "x1");
    assert_eq!(ann["FirstName"], "Ann");
    assert_eq!(ann["Age"].as_f64(), Some(31.0));
    assert!(ann["id"].is_string());
    let bob = members
        .iter()
        .find(|m| m["Email"] == "bob@shop.test")
        .expect("Bob");
    for key in ["id", "Email", "MobilePhone", "ExternalId"] {
        assert!(bob.get(key).is_some(), "{key} in {bob}");
    }
    assert!(bob["MobilePhone"].is_null());

    // A last page that is exactly full has no next cursor.
    let first = a
        .api
        .get(&format!("/v1/segments/{seg}/members?limit=1"))
        .expect(200);
    let cursor = first["next_cursor"].as_str().expect("a cursor");
    let last = a
        .api
        .get(&format!(
            "/v1/segments/{seg}/members?limit=1&cursor={}",
            enc(cursor)
        ))
        .expect(200);
    assert_eq!(last["members"].as_array().unwrap().len(), 1);
    assert!(last["next_cursor"].is_null(), "{last}");
}

#[test]
fn a_cursor_pages_only_the_listing_it_came_from() {
    let srv = Server::start();
    let a = srv.account();
    a.contacts(&[
        json!({"Email": "x1@x.test"}),
        json!({"Email": "x2@x.test"}),
        json!({"Email": "x3@x.test"}),
        json!({"Email": "y1@y.test"}),
    ]);
    let xs = a.segment(
        "x",
        json!({"field": "Email", "op": "ends_with", "value": "@x.test"}),
    );
    let ys = a.segment(
        "y",
        json!({"field": "Email", "op": "ends_with", "value": "@y.test"}),
    );
    let first = a
        .api
        .get(&format!("/v1/segments/{xs}/members?limit=1"))
        .expect(200);
    let cursor = first["next_cursor"].as_str().expect("a cursor");
    // X's cursor on Y's path must not answer X's members as Y's.
    let r = a.api.get(&format!(
        "/v1/segments/{ys}/members?limit=10&cursor={}",
        enc(cursor)
    ));
    if r.status == 200 {
        let members = r.json()["members"].clone();
        for m in members.as_array().unwrap() {
            assert!(
                m["Email"].as_str().unwrap().ends_with("@y.test"),
                "segment {ys} answered a member of {xs}: {m}"
            );
        }
    } else {
        r.error(400);
    }
}

#[test]
fn a_snapshot_outlives_its_segment() {
    let srv = Server::start();
    let a = srv.account();
    let ids_made = a.contacts(&[json!({"Email": "a@shop.test"})]);
    let seg = a.segment("shop", json!({"all": []}));
    let snap = a
        .api
        .post(&format!("/v1/segments/{seg}/snapshots"), &json!({}))
        .ok()["snapshot_id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = a.api.delete(&format!("/v1/segments/{seg}"));
    assert!(r.status == 200 || r.status == 204, "{r:?}");
    // The recipient list of a send is a record of what was sent.
    let page = a
        .api
        .get(&format!("/v1/snapshots/{snap}/members"))
        .expect(200);
    assert_eq!(ids(&page["members"]), ids_made);
}

#[test]
fn an_empty_segment_exports_the_header_only() {
    let srv = Server::start();
    let a = srv.account();
    a.contact(json!({"Email": "a@shop.test"}));
    let none = a.segment("none", json!({"not": {"all": []}}));
    let csv_text = a
        .api
        .get(&format!("/v1/segments/{none}/export?format=csv"))
        .expect_text(200);
    assert_eq!(
        parse_csv(&csv_text),
        vec![vec!["id", "Email", "MobilePhone", "ExternalId"]]
    );
    let ndjson = a
        .api
        .get(&format!("/v1/segments/{none}/export?format=ndjson"))
        .expect_text(200);
    assert!(ndjson.trim().is_empty(), "{ndjson:?}");
    let page = a
        .api
        .get(&format!("/v1/segments/{none}/members"))
        .expect(200);
    assert_eq!(page["members"], json!([]));
    assert!(page["next_cursor"].is_null());
}

#[test]
fn the_cursor_pages_one_consistent_result_while_data_changes() {
    let srv = Server::start();
    let a = srv.account();
    let batch: Vec<Value> = (0..25)
        .map(|i| json!({"Email": format!("m{i:02}@shop.test"), "ExternalId": format!("k{i}")}))
        .collect();
    let original = a.contacts(&batch);
    let outsiders = a.contacts(&[
        json!({"Email": "o1@other.test"}),
        json!({"Email": "o2@other.test"}),
    ]);
    let seg = a.segment(
        "shop or pricing visitors",
        json!({"any": [
            {"field": "Email", "op": "ends_with", "value": "@shop.test"},
            {"event": "Visit", "where": [{"attribute": "url", "op": "contains", "value": "/pricing"}]}
        ]}),
    );
    let first = a
        .api
        .get(&format!("/v1/segments/{seg}/members?limit=10"))
        .expect(200);
    let mut seen = ids(&first["members"]);
    assert_eq!(seen.len(), 10);
    let mut cursor = first["next_cursor"]
        .as_str()
        .expect("a next cursor")
        .to_string();

    // Change the data between pages: new matching contacts, contacts that
    // start to match through an event, a member that stops matching, and
    // an erased member not yet listed.
    let newcomers = a.contacts(&[
        json!({"Email": "a-new@shop.test"}),
        json!({"Email": "zz-new@shop.test"}),
    ]);
    let answer = a.events(json!([
        {"name": "Visit", "contact": {"id": outsiders[0]}, "attributes": {"url": "https://shop.test/pricing"}},
        {"name": "Visit", "contact": {"email": "visitor@other.test"}, "attributes": {"url": "https://shop.test/pricing"}},
    ]));
    assert_eq!(answer["accepted"], 2, "{answer}");
    let unseen: Vec<&String> = original.iter().filter(|id| !seen.contains(id)).collect();
    let erased = unseen[0].clone();
    let leaver = unseen[1].clone();
    let r = a.api.delete(&format!("/v1/contacts/{erased}"));
    assert!(r.status == 200 || r.status == 204, "{r:?}");
    let k = original.iter().position(|id| *id == leaver).unwrap();
    assert_eq!(
        a.contact(json!({"ExternalId": format!("k{k}"), "Email": "leaver@other.test"})),
        leaver
    );
    assert_eq!(
        a.api.get(&format!("/v1/segments/{seg}/count")).expect(200)["count"],
        25 + 2 + 2 - 1 - 1,
        "the data did change"
    );

    let mut pages = 1;
    loop {
        let page = a
            .api
            .get(&format!(
                "/v1/segments/{seg}/members?limit=10&cursor={}",
                enc(&cursor)
            ))
            .expect(200);
        seen.extend(ids(&page["members"]));
        pages += 1;
        assert!(pages < 10);
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no member twice: {seen:?}");
    for id in newcomers.iter().chain(&outsiders) {
        assert!(
            !seen.contains(id),
            "{id} joined after the first page: {seen:?}"
        );
    }
    // The member that stopped matching is still in the frozen result.
    assert!(seen.contains(&leaver), "{leaver} missing: {seen:?}");
    // Every original member is listed once; the erased one may be left
    // out (it no longer exists).
    let expected: HashSet<&String> = original.iter().filter(|id| **id != erased).collect();
    let listed: HashSet<&String> = seen.iter().filter(|id| **id != erased).collect();
    assert_eq!(listed, expected);

    // A fresh listing sees the new data.
    let fresh: HashSet<String> = a.member_ids(&seg, 10).into_iter().collect();
    assert!(fresh.contains(&newcomers[0]) && fresh.contains(&outsiders[0]));
    assert!(!fresh.contains(&leaver) && !fresh.contains(&erased));
}

#[test]
fn members_as_of_evaluates_at_that_instant() {
    let srv = Server::start();
    let a = srv.account();
    let ann = a.contact(json!({"Email": "ann@example.com"}));
    let bob = a.contact(json!({"Email": "bob@example.com"}));
    a.events(json!([
        {"name": "MailOpen", "contact": {"id": ann}, "time": "2025-02-01T00:00:00Z"},
        {"name": "MailOpen", "contact": {"id": bob}, "time": "2025-02-03T00:00:00Z"},
    ]));
    let opened = a.segment("opened", json!({"event": "MailOpen"}));
    let page = a
        .api
        .get(&format!(
            "/v1/segments/{opened}/members?as_of={}",
            enc("2025-02-02T00:00:00Z")
        ))
        .expect(200);
    assert_eq!(ids(&page["members"]), vec![ann.clone()]);
    let export = a
        .api
        .get(&format!(
            "/v1/segments/{opened}/export?format=ndjson&as_of={}",
            enc("2025-02-02T00:00:00Z")
        ))
        .expect_text(200);
    assert_eq!(export.lines().count(), 1, "{export}");
    assert!(export.contains(&format!("\"{ann}\"")), "{export}");
}

#[test]
fn export_streams_every_member_as_csv_or_ndjson() {
    let srv = Server::start();
    let a = srv.account();
    a.field("Age", "number");
    a.field("Vip", "boolean");
    let mut batch: Vec<Value> = (0..30)
        .map(|i| json!({"Email": format!("m{i}@shop.test"), "Age": i, "Vip": i % 2 == 0}))
        .collect();
    batch[0] = json!({"Email": "first@shop.test", "MobilePhone": "+48600100200", "ExternalId": "crm, \"quoted\"", "Age": 40.5, "Vip": true});
    batch.push(json!({"Email": "out@other.test"}));
    let created = a.contacts(&batch);
    let seg = a.segment(
        "shop",
        json!({"field": "Email", "op": "ends_with", "value": "@shop.test"}),
    );
    let members: BTreeSet<String> = created[..30].iter().cloned().collect();

    let r = a.api.get(&format!(
        "/v1/segments/{seg}/export?format=csv&fields=Age,Vip"
    ));
    let csv_text = r.expect_text(200);
    assert!(
        r.content_type.as_deref().is_some_and(|t| t.contains("csv")),
        "{:?}",
        r.content_type
    );
    let mut records = parse_csv(&csv_text).into_iter();
    let header = records.next().expect("a header row");
    assert_eq!(
        header,
        ["id", "Email", "MobilePhone", "ExternalId", "Age", "Vip"]
    );
    let rows: Vec<Vec<String>> = records.collect();
    assert_eq!(rows.len(), 30);
    assert!(rows.iter().all(|r| r.len() == 6), "{rows:?}");
    let row_ids: BTreeSet<String> = rows.iter().map(|r| r[0].to_string()).collect();
    assert_eq!(row_ids, members);
    let first = rows
        .iter()
        .find(|r| r[0] == created[0])
        .expect("the first contact");
    assert_eq!(first[1], "first@shop.test");
    assert_eq!(first[2], "+48600100200");
    assert_eq!(first[3], "crm, \"quoted\"");
    assert_eq!(first[4].parse::<f64>().ok(), Some(40.5));
    assert_eq!(first[5], "true");

    let ndjson = a
        .api
        .get(&format!(
            "/v1/segments/{seg}/export?format=ndjson&fields=Age"
        ))
        .expect_text(200);
    let lines: Vec<Value> = ndjson
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 30);
    for line in &lines {
        let keys: BTreeSet<&str> = line
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["id", "Email", "MobilePhone", "ExternalId", "Age"]),
            "{line}"
        );
    }
    let line_ids: BTreeSet<String> = lines
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(line_ids, members);
    let first = lines
        .iter()
        .find(|l| l["id"] == created[0].as_str())
        .unwrap();
    assert_eq!(first["ExternalId"], "crm, \"quoted\"");
    assert_eq!(first["Age"].as_f64(), Some(40.5));

    a.api
        .get("/v1/segments/seg_999/export?format=csv")
        .error(404);
}

#[test]
fn explain_gives_the_tree_with_verdicts_and_evidence() {
    let srv = Server::start();
    let a = srv.account();
    let ann = a.contact(json!({"Email": "ann@shop.test"}));
    let bob = a.contact(json!({"Email": "bob@other.test"}));
    a.events(json!([
        {"name": "MailClick", "contact": {"id": ann}, "time": "2025-04-01T10:00:00Z", "attributes": {"url": "https://shop.test/a"}},
        {"name": "MailClick", "contact": {"id": ann}, "time": "2025-04-02T10:00:00Z", "attributes": {"url": "https://shop.test/b"}},
        {"name": "MailClick", "contact": {"id": bob}, "time": "2025-04-02T10:00:00Z"},
    ]));
    let rule = json!({"all": [
        {"field": "Email", "op": "ends_with", "value": "@shop.test"},
        {"event": "MailClick", "count": {"op": "gte", "value": 2}}
    ]});
    let seg = a.segment("shop clickers", rule.clone());
    let explain = |contact: &str| {
        a.api
            .get(&format!(
                "/v1/segments/{seg}/explain?contact={contact}&as_of={}",
                enc("2025-05-01T00:00:00Z")
            ))
            .expect(200)
    };
    let yes = explain(&ann);
    assert_eq!(yes["contact_id"], ann.as_str());
    assert!(
        yes["as_of"]
            .as_str()
            .unwrap()
            .starts_with("2025-05-01T00:00:00"),
        "{yes}"
    );
    assert_eq!(yes["member"], true, "{yes}");
    let tree = &yes["tree"];
    for key in ["rule", "result", "children", "evidence"] {
        assert!(tree.get(key).is_some(), "{key} in {tree}");
    }
    assert_eq!(tree["result"], true);
    assert!(tree["rule"].get("all").is_some(), "{tree}");
    let children = tree["children"].as_array().expect("children");
    assert_eq!(children.len(), 2, "{tree}");
    // The node's own rule comes without its children.
    assert!(
        !tree["rule"].to_string().contains("MailClick"),
        "{}",
        tree["rule"]
    );
    assert_eq!(children[0]["rule"], rule["all"][0]);
    assert_eq!(children[0]["result"], true);
    assert!(
        children[0]["evidence"]
            .to_string()
            .contains("ann@shop.test"),
        "the field's value: {}",
        children[0]["evidence"]
    );
    assert_eq!(children[1]["rule"]["event"], "MailClick");
    assert_eq!(children[1]["result"], true);
    let evidence = children[1]["evidence"].to_string();
    assert!(
        evidence.contains("2025-04-01T10:00:00") && evidence.contains("2025-04-02T10:00:00"),
        "the matching events with their times: {evidence}"
    );
    // The count reached.
    assert!(
        children[1]["evidence"]
            .as_object()
            .is_some_and(|o| o.values().any(|v| v == 2)),
        "{evidence}"
    );

    let no = explain(&bob);
    assert_eq!(no["member"], false);
    assert_eq!(no["tree"]["result"], false);
    assert_eq!(no["tree"]["children"][0]["result"], false);
    assert_eq!(no["tree"]["children"][1]["result"], false);

    a.api
        .get(&format!("/v1/segments/{seg}/explain?contact=c999999"))
        .error(404);
    a.api
        .get(&format!("/v1/segments/seg_999/explain?contact={ann}"))
        .error(404);
}

#[test]
fn snapshots_freeze_the_members_at_send_time() {
    let srv = Server::start();
    let a = srv.account();
    let members = a.contacts(&[
        json!({"Email": "a@shop.test", "ExternalId": "k0"}),
        json!({"Email": "b@shop.test"}),
        json!({"Email": "c@shop.test"}),
    ]);
    a.contact(json!({"Email": "out@other.test"}));
    let seg = a.segment(
        "shop",
        json!({"field": "Email", "op": "ends_with", "value": "@shop.test"}),
    );
    let snap = a
        .api
        .post(&format!("/v1/segments/{seg}/snapshots"), &json!({}))
        .ok();
    let snap_id = snap["snapshot_id"]
        .as_str()
        .expect("a snapshot id")
        .to_string();
    assert_eq!(snap["count"], 3, "{snap}");
    assert!(
        snap["taken_at"].as_str().is_some_and(|t| t > "2025"),
        "{snap}"
    );

    let frozen = |a: &crate::support::Account| -> BTreeSet<String> {
        let page = a
            .api
            .get(&format!("/v1/snapshots/{snap_id}/members"))
            .expect(200);
        ids(&page["members"]).into_iter().collect()
    };
    let expected: BTreeSet<String> = members.iter().cloned().collect();
    assert_eq!(frozen(&a), expected);
    let rows = a
        .api
        .get(&format!("/v1/snapshots/{snap_id}/members"))
        .expect(200);
    for row in rows["members"].as_array().unwrap() {
        for key in ["id", "Email", "MobilePhone", "ExternalId"] {
            assert!(row.get(key).is_some(), "{key} in {row}");
        }
    }

    // Data changes after the send do not change the recipients.
    a.contacts(&[
        json!({"Email": "d@shop.test"}),
        json!({"ExternalId": "k0", "Email": "a@other.test"}),
    ]);
    assert_eq!(a.count(&seg), 3, "the live segment did change");
    assert_eq!(frozen(&a), expected);

    // A second snapshot sees the new data.
    let later = a
        .api
        .post(&format!("/v1/segments/{seg}/snapshots"), &json!({}))
        .ok();
    assert_ne!(later["snapshot_id"], snap["snapshot_id"]);
    assert_eq!(later["count"], 3);

    a.api.get("/v1/snapshots/snap_999/members").error(404);
    a.api
        .post("/v1/segments/seg_999/snapshots", &json!({}))
        .error(404);
}

#[test]
fn a_cursor_survives_other_accounts_listings() {
    let srv = Server::start();
    let a = srv.account();
    let b = srv.account();
    let mine = a.contacts(
        &(0..5)
            .map(|i| json!({"Email": format!("a{i}@a.test")}))
            .collect::<Vec<_>>(),
    );
    let seg = a.segment("all", json!({"all": []}));
    let first = a
        .api
        .get(&format!("/v1/segments/{seg}/members?limit=2"))
        .expect(200);
    let cursor = first["next_cursor"].as_str().expect("a cursor").to_string();
    // Another account starts many listings meanwhile.
    b.contact(json!({"Email": "b@b.test"}));
    let theirs = b.segment("all", json!({"all": []}));
    for _ in 0..300 {
        b.api
            .get(&format!("/v1/segments/{theirs}/members?limit=1"))
            .expect(200);
    }
    let second = a.api.get(&format!(
        "/v1/segments/{seg}/members?limit=10&cursor={}",
        enc(&cursor)
    ));
    let second = second.expect(200);
    let mut seen = ids(&first["members"]);
    seen.extend(ids(&second["members"]));
    let seen: BTreeSet<String> = seen.into_iter().collect();
    assert_eq!(seen, mine.into_iter().collect::<BTreeSet<_>>());
}

#[test]
fn explain_shows_the_aggregate_reached() {
    let srv = Server::start();
    let a = srv.account_with_custom_events();
    let ann = a.contact(json!({"Email": "ann@example.com"}));
    a.events(json!([
        {"name": "purchase", "contact": {"id": ann}, "time": "2025-04-01T10:00:00Z", "attributes": {"price": 60}},
        {"name": "purchase", "contact": {"id": ann}, "time": "2025-04-02T10:00:00Z", "attributes": {"price": 70.5}},
        {"name": "purchase", "contact": {"id": ann}, "time": "2025-04-03T10:00:00Z", "attributes": {"price": "n/a"}},
    ]));
    let seg = a.segment(
        "big spenders",
        json!({"event": "purchase", "aggregate": {"fn": "sum", "attribute": "price", "op": "gt", "value": 100}}),
    );
    let explain = a
        .api
        .get(&format!("/v1/segments/{seg}/explain?contact={ann}"))
        .expect(200);
    assert_eq!(explain["member"], true, "{explain}");
    assert_eq!(explain["tree"]["result"], true);
    let evidence = explain["tree"]["evidence"].to_string();
    assert!(evidence.contains("130.5"), "the sum reached: {evidence}");
    assert!(
        evidence.contains("2025-04-01T10:00:00"),
        "the matching events with their times: {evidence}"
    );
}
