//! `POST /v1/accounts` and `PATCH /v1/accounts/{id}` (administrator token).

use serde_json::json;

use crate::support::Server;

#[test]
fn admin_creates_accounts_with_distinct_ids_and_working_keys() {
    let srv = Server::start();
    let first = srv.admin().post("/v1/accounts", &json!({})).ok();
    let second = srv.admin().post("/v1/accounts", &json!({})).ok();
    for account in [&first, &second] {
        for key in ["id", "secret_key", "public_key"] {
            assert!(
                account[key].as_str().is_some_and(|s| !s.is_empty()),
                "{key} in {account}"
            );
        }
        assert_ne!(account["secret_key"], account["public_key"]);
    }
    assert_ne!(first["id"], second["id"]);
    assert_ne!(first["secret_key"], second["secret_key"]);
    assert_ne!(first["public_key"], second["public_key"]);

    // The secret key reads the account's data; an account starts with the
    // standard fields only and no segments.
    let api = srv.anon().with_key(first["secret_key"].as_str());
    api.get("/v1/fields").expect(200);
    let segments = api.get("/v1/segments").expect(200);
    assert_eq!(segments["segments"], json!([]), "{segments}");
}

#[test]
fn account_creation_needs_the_administrator_token() {
    let srv = Server::start();
    let a = srv.account();
    srv.anon().post("/v1/accounts", &json!({})).error(401);
    srv.anon()
        .with_key(Some("adm_wrong"))
        .post("/v1/accounts", &json!({}))
        .error(401);
    // An account's own keys are not the administrator's.
    for key in [&a.secret, &a.public] {
        let r = srv
            .anon()
            .with_key(Some(key))
            .post("/v1/accounts", &json!({}));
        assert!(r.status == 401 || r.status == 403, "{r:?}");
        r.error(r.status);
    }
    // And the administrator's token reads no account, which it is told.
    let e = srv.admin().get("/v1/segments").error(401);
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("administrator token")),
        "{e}"
    );
}

#[test]
fn patch_turns_the_custom_events_addon_on_and_off() {
    let srv = Server::start();
    let a = srv.account();
    let custom = json!({"name": "purchase", "contact": {"email": "ann@example.com"}});
    let refused = a.api.post("/v1/events", &custom).error(403);
    assert_eq!(refused["code"], "addon_required");
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("`purchase`")),
        "the refusal names the custom event: {refused}"
    );

    srv.admin()
        .patch(
            &format!("/v1/accounts/{}", a.id),
            &json!({"addons": {"custom_events": true}}),
        )
        .expect(200);
    let answer = a.events(custom.clone());
    assert_eq!(answer["accepted"], 1, "{answer}");

    srv.admin()
        .patch(
            &format!("/v1/accounts/{}", a.id),
            &json!({"addons": {"custom_events": false}}),
        )
        .expect(200);
    let refused = a.api.post("/v1/events", &custom).error(403);
    assert_eq!(refused["code"], "addon_required");
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("`purchase`")),
        "the refusal names the custom event: {refused}"
    );
}

#[test]
fn patch_needs_the_administrator_token_and_an_existing_account() {
    let srv = Server::start();
    let a = srv.account();
    let body = json!({"addons": {"custom_events": true}});
    let path = format!("/v1/accounts/{}", a.id);
    srv.anon().patch(&path, &body).error(401);
    for key in [&a.secret, &a.public] {
        let r = srv.anon().with_key(Some(key)).patch(&path, &body);
        assert!(r.status == 401 || r.status == 403, "{r:?}");
        r.error(r.status);
    }
    // Nothing changed: custom events are still refused.
    let refused = a
        .api
        .post(
            "/v1/events",
            &json!({"name": "purchase", "contact": {"email": "x@example.com"}}),
        )
        .error(403);
    assert_eq!(refused["code"], "addon_required");

    srv.admin()
        .patch("/v1/accounts/acc_999999", &body)
        .error(404);
    srv.admin()
        .raw("PATCH", &path, "application/json", b"{\"addons\": ")
        .error(400);
}
