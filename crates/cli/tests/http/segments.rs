//! Segment definitions (CRUD), validation errors that point at the node,
//! references and cycles, `preview` and `count` (with `as_of`).

use serde_json::{Value, json};

use crate::support::{Account, Server, enc};

fn detail_paths(error: &Value) -> Vec<String> {
    error["details"]
        .as_array()
        .expect("details")
        .iter()
        .map(|d| d["path"].as_str().expect("a path").to_string())
        .collect()
}

fn create(a: &Account, name: &str, rule: Value) -> crate::support::Resp {
    a.api.post(
        "/v1/segments",
        &json!({"name": name, "description": "d", "rule": rule}),
    )
}

#[test]
fn create_read_list_update_and_delete() {
    let srv = Server::start();
    let a = srv.account();
    let rule = json!({"field": "Email", "op": "ends_with", "value": "@shop.test"});
    let created = a
        .api
        .post(
            "/v1/segments",
            &json!({"name": "Shoppers", "description": "People of the shop", "rule": rule}),
        )
        .ok();
    let id = created["id"].as_str().expect("an id").to_string();
    assert_eq!(created["name"], "Shoppers");
    assert_eq!(created["description"], "People of the shop");
    assert_eq!(created["rule"], rule);

    let read = a.api.get(&format!("/v1/segments/{id}")).expect(200);
    for key in ["id", "name", "description", "rule"] {
        assert_eq!(read[key], created[key], "{key}");
    }
    let other = a.segment("Everyone", json!({"all": []}));
    let list = a.api.get("/v1/segments").expect(200);
    let listed: Vec<&str> = list["segments"]
        .as_array()
        .unwrap_or_else(|| panic!("{list}"))
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 2, "{list}");
    assert!(listed.contains(&id.as_str()) && listed.contains(&other.as_str()));

    let new_rule = json!({"any": [
        {"field": "Email", "op": "ends_with", "value": "@shop.test"},
        {"event": "MailClick", "within": {"last": "30d"}}
    ]});
    let updated = a
        .api
        .put(
            &format!("/v1/segments/{id}"),
            &json!({"name": "Shoppers and clickers", "description": "", "rule": new_rule}),
        )
        .expect(200);
    assert_eq!(updated["id"], id.as_str());
    assert_eq!(updated["name"], "Shoppers and clickers");
    let read = a.api.get(&format!("/v1/segments/{id}")).expect(200);
    assert_eq!(read["rule"], new_rule);
    assert_eq!(read["name"], "Shoppers and clickers");

    let r = a.api.delete(&format!("/v1/segments/{id}"));
    assert!(r.status == 200 || r.status == 204, "{r:?}");
    a.api.get(&format!("/v1/segments/{id}")).error(404);
    a.api.delete(&format!("/v1/segments/{id}")).error(404);
    a.api
        .put(
            &format!("/v1/segments/{id}"),
            &json!({"name": "x", "rule": {"all": []}}),
        )
        .error(404);
    a.api.get(&format!("/v1/segments/{id}/count")).error(404);
    let list = a.api.get("/v1/segments").expect(200);
    assert_eq!(list["segments"].as_array().unwrap().len(), 1, "{list}");
}

#[test]
fn invalid_rules_are_422_with_a_pointer_to_the_key_at_fault() {
    let srv = Server::start();
    let a = srv.account();
    a.field("Age", "number");
    for (rule, path) in [
        (
            json!({"all": [{"field": "Email", "op": "has_value"}, {"field": "Age", "op": "contains", "value": "3"}]}),
            "/rule/all/1/op",
        ),
        (
            json!({"all": [{"field": "Email", "op": "has_value"}, {"field": "Email", "op": "has_value"}, {"field": "Age", "op": "gt", "value": "old"}]}),
            "/rule/all/2/value",
        ),
        (
            json!({"any": [{"field": "Nope", "op": "equals", "value": "x"}]}),
            "/rule/any/0/field",
        ),
        (
            json!({"all": [{"not": {"field": "Email", "op": "equals", "value": ""}}]}),
            "/rule/all/0/not/value",
        ),
        (
            json!({"all": [{"field": "Age", "op": "between", "value": [5, 1]}]}),
            "/rule/all/0/value",
        ),
        (
            json!({"event": "MailOpen", "within": {"last": "30 days"}}),
            "/rule/within/last",
        ),
        (
            json!({"field": "Email", "op": "matches", "value": "(unclosed"}),
            "/rule/value",
        ),
        (
            json!({"all": [{"field": "Email", "op": "in", "value": []}]}),
            "/rule/all/0/value",
        ),
    ] {
        for response in [
            create(&a, "bad", rule.clone()),
            a.api
                .post("/v1/segments/preview", &json!({"rule": rule.clone()})),
        ] {
            let e = response.error(422);
            let paths = detail_paths(&e);
            assert!(
                paths.iter().any(|p| p == path),
                "{rule}: expected a detail at {path}, got {e}"
            );
        }
    }
    // `any` must not be empty: the node is at fault.
    let e = create(&a, "bad", json!({"all": [{"any": []}]})).error(422);
    assert!(
        detail_paths(&e)
            .iter()
            .any(|p| p.starts_with("/rule/all/0")),
        "{e}"
    );
    // One detail per problem.
    let e = create(
        &a,
        "bad",
        json!({"all": [{"field": "Nope", "op": "has_value"}, {"field": "Age", "op": "contains", "value": "x"}]}),
    )
    .error(422);
    let paths = detail_paths(&e);
    assert!(paths.len() >= 2, "{e}");
    assert!(paths.iter().any(|p| p.starts_with("/rule/all/0")), "{e}");
    assert!(paths.iter().any(|p| p.starts_with("/rule/all/1")), "{e}");
    // Nothing was saved.
    let list = a.api.get("/v1/segments").expect(200);
    assert_eq!(list["segments"], json!([]), "{list}");
}

#[test]
fn names_are_unique_per_account() {
    let srv = Server::start();
    let a = srv.account();
    let first = a.segment("VIP", json!({"all": []}));
    create(&a, "VIP", json!({"all": []})).error(409);
    let second = a.segment("Regulars", json!({"all": []}));
    a.api
        .put(
            &format!("/v1/segments/{second}"),
            &json!({"name": "VIP", "rule": {"all": []}}),
        )
        .error(409);
    assert_eq!(
        a.api.get(&format!("/v1/segments/{second}")).expect(200)["name"],
        "Regulars"
    );
    // Renaming a segment to its own name is fine.
    a.api
        .put(
            &format!("/v1/segments/{first}"),
            &json!({"name": "VIP", "description": "still", "rule": {"all": []}}),
        )
        .expect(200);
    // Another account may use the same name.
    srv.account().segment("VIP", json!({"all": []}));
}

#[test]
fn references_work_and_cycles_and_unknown_targets_are_refused() {
    let srv = Server::start();
    let a = srv.account();
    a.contacts(&[
        json!({"Email": "ann@shop.test"}),
        json!({"Email": "bob@shop.test"}),
        json!({"Email": "cid@other.test"}),
    ]);
    let shop = a.segment(
        "shop",
        json!({"field": "Email", "op": "ends_with", "value": "@shop.test"}),
    );
    let not_shop = a.segment("not shop", json!({"not": {"segment": shop}}));
    assert_eq!(a.count(&shop), 2);
    assert_eq!(a.count(&not_shop), 1);

    // Self reference and a two-segment cycle.
    let e = a
        .api
        .put(
            &format!("/v1/segments/{shop}"),
            &json!({"name": "shop", "rule": {"segment": shop}}),
        )
        .error(422);
    assert!(!detail_paths(&e).is_empty(), "{e}");
    let e = a
        .api
        .put(
            &format!("/v1/segments/{shop}"),
            &json!({"name": "shop", "rule": {"all": [{"field": "Email", "op": "has_value"}, {"segment": not_shop}]}}),
        )
        .error(422);
    assert!(
        detail_paths(&e).iter().any(|p| p.starts_with("/rule")),
        "{e}"
    );
    // Unchanged.
    assert_eq!(a.count(&shop), 2);
    assert_eq!(
        a.api.get(&format!("/v1/segments/{shop}")).expect(200)["rule"]["op"],
        "ends_with"
    );

    let e = create(&a, "dangling", json!({"all": [{"segment": "seg_999"}]})).error(422);
    assert!(
        detail_paths(&e)
            .iter()
            .any(|p| p.starts_with("/rule/all/0"))
    );

    // A referenced segment cannot be deleted.
    let r = a.api.delete(&format!("/v1/segments/{shop}"));
    assert!(r.status == 409 || r.status == 422, "{r:?}");
    r.error(r.status);
    a.api.get(&format!("/v1/segments/{shop}")).expect(200);
    assert_eq!(a.count(&not_shop), 1);
    // Once the reference is gone, it can.
    let r = a.api.delete(&format!("/v1/segments/{not_shop}"));
    assert!(r.status == 200 || r.status == 204, "{r:?}");
    let r = a.api.delete(&format!("/v1/segments/{shop}"));
    assert!(r.status == 200 || r.status == 204, "{r:?}");
}

#[test]
fn preview_counts_an_unsaved_rule_with_a_sample_of_at_most_ten() {
    let srv = Server::start();
    let a = srv.account();
    let mut batch: Vec<Value> = (0..12)
        .map(|i| json!({"Email": format!("p{i}@shop.test"), "ExternalId": format!("x{i}")}))
        .collect();
    batch.push(json!({"Email": "out@other.test"}));
    a.contacts(&batch);
    let preview = a
        .api
        .post(
            "/v1/segments/preview",
            &json!({"rule": {"field": "Email", "op": "ends_with", "value": "@SHOP.test"}}),
        )
        .expect(200);
    assert_eq!(preview["count"], 12, "{preview}");
    let sample = preview["sample"].as_array().expect("a sample");
    assert_eq!(sample.len(), 10, "{preview}");
    for c in sample {
        for key in ["id", "Email", "MobilePhone", "ExternalId"] {
            assert!(c.get(key).is_some(), "{key} in {c}");
        }
        assert!(c["Email"].as_str().unwrap().ends_with("@shop.test"));
    }
    let small = a
        .api
        .post(
            "/v1/segments/preview",
            &json!({"rule": {"field": "Email", "op": "equals", "value": "out@other.test"}}),
        )
        .expect(200);
    assert_eq!(small["count"], 1);
    assert_eq!(small["sample"].as_array().unwrap().len(), 1);
    assert_eq!(small["sample"][0]["Email"], "out@other.test");
    // Nothing was saved.
    let list = a.api.get("/v1/segments").expect(200);
    assert_eq!(list["segments"], json!([]));
}

#[test]
fn count_answers_count_as_of_and_took_ms_and_as_of_hides_later_events() {
    let srv = Server::start();
    let a = srv.account();
    let ann = a.contact(json!({"Email": "ann@example.com"}));
    let bob = a.contact(json!({"Email": "bob@example.com"}));
    a.events(json!([
        {"name": "MailClick", "contact": {"id": ann}, "time": "2025-03-10T12:00:00Z"},
        {"name": "MailClick", "contact": {"id": bob}, "time": "2025-03-12T12:00:00Z"},
    ]));
    let clicked = a.segment("clicked", json!({"event": "MailClick"}));
    let count_at = |as_of: Option<&str>| -> Value {
        let path = match as_of {
            Some(t) => format!("/v1/segments/{clicked}/count?as_of={}", enc(t)),
            None => format!("/v1/segments/{clicked}/count"),
        };
        a.api.get(&path).expect(200)
    };
    let now = count_at(None);
    assert_eq!(now["count"], 2, "{now}");
    assert!(now["as_of"].as_str().is_some_and(|t| t > "2025"), "{now}");
    assert!(now["took_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{now}");

    let before = count_at(Some("2025-03-10T11:59:59.999Z"));
    assert_eq!(before["count"], 0, "{before}");
    assert!(
        before["as_of"]
            .as_str()
            .unwrap()
            .starts_with("2025-03-10T11:59:59.999"),
        "{before}"
    );
    // An event exactly at `as_of` counts.
    assert_eq!(count_at(Some("2025-03-10T12:00:00Z"))["count"], 1);
    assert_eq!(count_at(Some("2025-03-10T14:00:00+02:00"))["count"], 1);
    assert_eq!(count_at(Some("2025-03-12T12:00:00Z"))["count"], 2);

    // Relative windows are measured from `as_of`.
    let recent = a.segment(
        "recent",
        json!({"event": "MailClick", "within": {"last": "1d"}}),
    );
    let recent_at = |t: &str| {
        a.api
            .get(&format!("/v1/segments/{recent}/count?as_of={}", enc(t)))
            .expect(200)["count"]
            .clone()
    };
    assert_eq!(recent_at("2025-03-11T00:00:00Z"), 1);
    assert_eq!(recent_at("2025-03-12T13:00:00Z"), 1);
    assert_eq!(recent_at("2025-03-20T00:00:00Z"), 0);

    // Referenced segments are evaluated at the same `as_of`.
    let via_reference = a.segment("via reference", json!({"segment": clicked}));
    let reference_at = |t: &str| {
        a.api
            .get(&format!(
                "/v1/segments/{via_reference}/count?as_of={}",
                enc(t)
            ))
            .expect(200)["count"]
            .clone()
    };
    assert_eq!(reference_at("2025-03-11T00:00:00Z"), 1);
    assert_eq!(reference_at("2025-03-01T00:00:00Z"), 0);

    // Preview takes `as_of` in its body.
    let preview = a
        .api
        .post(
            "/v1/segments/preview",
            &json!({"rule": {"event": "MailClick"}, "as_of": "2025-03-11T00:00:00Z"}),
        )
        .expect(200);
    assert_eq!(preview["count"], 1, "{preview}");
    assert_eq!(preview["sample"][0]["id"], ann.as_str());
}

#[test]
fn events_stamped_in_the_future_count_once_now_reaches_them() {
    let srv = Server::start();
    let a = srv.account();
    let ann = a.contact(json!({"Email": "ann@example.com"}));
    let answer = a.events(
        json!({"name": "MailOpen", "contact": {"id": ann}, "time": "2099-01-01T00:00:00Z"}),
    );
    assert_eq!(answer["accepted"], 1, "stored: {answer}");
    let opened = a.segment("opened", json!({"event": "MailOpen"}));
    assert_eq!(a.count(&opened), 0);
    let later = a
        .api
        .get(&format!(
            "/v1/segments/{opened}/count?as_of={}",
            enc("2099-01-01T00:00:00Z")
        ))
        .expect(200);
    assert_eq!(later["count"], 1, "{later}");
}

#[test]
fn rules_beyond_the_limits_are_refused_and_the_server_stays_up() {
    let srv = Server::start();
    let a = srv.account();
    a.contact(json!({"Email": "ann@example.com"}));
    let mut deep = json!({"field": "Email", "op": "has_value"});
    for _ in 0..60 {
        deep = json!({"not": deep});
    }
    let e = a
        .api
        .post("/v1/segments/preview", &json!({"rule": deep}))
        .error(422);
    assert!(!e["details"].as_array().unwrap().is_empty(), "{e}");
    // Far deeper than any JSON nesting the server reads: refused, not a
    // crash.
    let mut body = String::new();
    for _ in 0..100_000 {
        body.push_str("{\"not\": ");
    }
    let r = a.api.raw(
        "POST",
        "/v1/segments/preview",
        "application/json",
        body.as_bytes(),
    );
    assert!(r.status == 400 || r.status == 422, "{}", r.status);
    r.error(r.status);
    let r = a.api.raw(
        "POST",
        "/v1/events",
        "application/json",
        "[".repeat(100_000).as_bytes(),
    );
    r.error(400);
    // A chain of references deeper than the limit is refused when saved.
    let mut previous = a.segment("s0", json!({"field": "Email", "op": "has_value"}));
    let mut refused = None;
    for i in 1..100 {
        let r = a.api.post(
            "/v1/segments",
            &json!({"name": format!("s{i}"), "rule": {"segment": previous}}),
        );
        if r.status == 422 {
            refused = Some(r.error(422));
            break;
        }
        previous = r.ok()["id"].as_str().unwrap().to_string();
    }
    let e = refused.expect("a chain of 100 references is beyond any sane limit");
    assert!(!e["details"].as_array().unwrap().is_empty(), "{e}");
    // The deepest saved segment still evaluates.
    assert_eq!(a.count(&previous), 1);
    srv.anon().get("/healthz").expect(200);
}
