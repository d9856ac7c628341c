//! The custom field schema: `GET/POST /v1/fields`, `DELETE /v1/fields/{name}`.

use serde_json::json;

use crate::support::{Account, Server};

/// The fields of a `GET /v1/fields` answer as (name, type) pairs.
pub fn fields(a: &Account) -> Vec<(String, String)> {
    let answer = a.api.get("/v1/fields").expect(200);
    let list = answer
        .get("fields")
        .unwrap_or(&answer)
        .as_array()
        .unwrap_or_else(|| panic!("a list of fields: {answer}"))
        .clone();
    list.iter()
        .map(|f| {
            (
                f["name"].as_str().expect("a name").to_string(),
                f["type"].as_str().expect("a type").to_string(),
            )
        })
        .collect()
}

fn has(a: &Account, name: &str, field_type: &str) -> bool {
    fields(a).iter().any(|(n, t)| n == name && t == field_type)
}

#[test]
fn the_standard_fields_are_always_listed_with_their_types() {
    let srv = Server::start();
    let a = srv.account();
    let listed = fields(&a);
    for (name, field_type) in [
        ("Email", "text"),
        ("MobilePhone", "text"),
        ("ExternalId", "text"),
        ("FirstName", "text"),
        ("LastName", "text"),
        ("CreateTime", "date"),
        ("EmailUnsubscribed", "boolean"),
        ("SmsUnsubscribed", "boolean"),
        ("PushUnsubscribed", "boolean"),
        ("UpdateTime", "date"),
    ] {
        assert!(
            listed.iter().any(|(n, t)| n == name && t == field_type),
            "{name}: {field_type} missing from {listed:?}"
        );
    }
}

#[test]
fn create_list_and_delete_custom_fields() {
    let srv = Server::start();
    let a = srv.account();
    for (name, field_type) in [
        ("Customer_Status", "text"),
        ("Age", "number"),
        ("Birthday", "date"),
        ("Vip", "boolean"),
    ] {
        let created = a
            .api
            .post("/v1/fields", &json!({"name": name, "type": field_type}))
            .ok();
        assert_eq!(created, json!({"name": name, "type": field_type}));
        assert!(has(&a, name, field_type), "{name}");
    }
    // The longest name the pattern allows.
    let long = format!("F{}", "x".repeat(63));
    a.api
        .post("/v1/fields", &json!({"name": long, "type": "text"}))
        .ok();
    assert!(has(&a, &long, "text"));

    let r = a.api.delete("/v1/fields/Vip");
    assert!(r.status == 200 || r.status == 204, "{r:?}");
    assert!(!fields(&a).iter().any(|(n, _)| n == "Vip"));
    a.api.delete("/v1/fields/Vip").error(404);
    a.api.delete("/v1/fields/Never_Declared").error(404);
    // The others stay.
    assert!(has(&a, "Age", "number"));
}

#[test]
fn a_declared_field_takes_values_of_its_type() {
    let srv = Server::start();
    let a = srv.account();
    a.field("Age", "number");
    let id = a.contact(json!({"Email": "ann@example.com", "Age": 31}));
    let ann = a.api.get(&format!("/v1/contacts/{id}")).expect(200);
    assert_eq!(ann["Age"].as_f64(), Some(31.0), "{ann}");
    // Once deleted, the field can no longer be written.
    let r = a.api.delete("/v1/fields/Age");
    assert!(r.status == 200 || r.status == 204, "{r:?}");
    let e = a
        .api
        .post(
            "/v1/contacts",
            &json!({"Email": "bob@example.com", "Age": 5}),
        )
        .error(422);
    assert!(e["message"].as_str().unwrap().contains("Age"), "{e}");
}

#[test]
fn invalid_declarations_are_refused_and_change_nothing() {
    let srv = Server::start();
    let a = srv.account();
    let before = fields(&a);
    for bad in [
        json!({"name": "1abc", "type": "text"}),
        json!({"name": "has space", "type": "text"}),
        json!({"name": "", "type": "text"}),
        json!({"name": format!("F{}", "x".repeat(64)), "type": "text"}),
        json!({"name": "Good", "type": "string"}),
        json!({"name": "Good"}),
        json!({"type": "number"}),
    ] {
        let e = a.api.post("/v1/fields", &bad).error(422);
        assert!(!e["message"].as_str().unwrap().is_empty(), "{bad}");
    }
    assert_eq!(fields(&a), before);
}

#[test]
fn a_name_already_declared_or_standard_is_a_conflict() {
    let srv = Server::start();
    let a = srv.account();
    a.field("Tier", "text");
    a.api
        .post("/v1/fields", &json!({"name": "Tier", "type": "number"}))
        .error(409);
    assert!(has(&a, "Tier", "text"), "the first declaration stays");
    let r = a
        .api
        .post("/v1/fields", &json!({"name": "Email", "type": "number"}));
    assert!(r.status == 409 || r.status == 422, "{r:?}");
    r.error(r.status);
    assert!(has(&a, "Email", "text"));
    // Standard fields cannot be deleted.
    let r = a.api.delete("/v1/fields/Email");
    assert!(r.status >= 400 && r.status < 500, "{r:?}");
    assert!(has(&a, "Email", "text"));
}

#[test]
fn a_deleted_fields_values_do_not_come_back_with_a_new_declaration() {
    let srv = Server::start();
    let a = srv.account();
    a.field("Age", "number");
    let id = a.contact(json!({"Email": "ann@example.com", "Age": 31}));
    let r = a.api.delete("/v1/fields/Age");
    assert!(r.status == 200 || r.status == 204, "{r:?}");
    let ann = a.api.get(&format!("/v1/contacts/{id}")).expect(200);
    assert!(ann["Age"].is_null(), "{ann}");
    a.field("Age", "text");
    let ann = a.api.get(&format!("/v1/contacts/{id}")).expect(200);
    assert!(ann["Age"].is_null(), "the old number came back: {ann}");
    let preview = a
        .api
        .post(
            "/v1/segments/preview",
            &json!({"rule": {"field": "Age", "op": "has_value"}}),
        )
        .expect(200);
    assert_eq!(preview["count"], 0, "{preview}");
}
