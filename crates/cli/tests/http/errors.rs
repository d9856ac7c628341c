//! Every error status of SPEC §4 with the error shape `{"error": {"code",
//! "message", "details": [{"path", "message"}]}}`: 400, 401, 403, 404,
//! 409, 413, 422, 429; and a refused request changes nothing.

use std::time::Duration;

use serde_json::json;

use crate::support::{Options, Server, enc};

#[test]
fn malformed_json_is_400_and_changes_nothing() {
    let srv = Server::start();
    let a = srv.account();
    for path in [
        "/v1/contacts",
        "/v1/events",
        "/v1/fields",
        "/v1/segments",
        "/v1/segments/preview",
    ] {
        for body in [
            &b"{\"Email\": "[..],
            b"[1, 2",
            b"not json at all",
            b"{\"a\": 1,}",
        ] {
            let e = a.api.raw("POST", path, "application/json", body).error(400);
            assert!(!e["message"].as_str().unwrap().is_empty(), "{path}: {e}");
        }
    }
    let seg = a.segment("all", json!({"all": []}));
    a.api
        .raw(
            "PUT",
            &format!("/v1/segments/{seg}"),
            "application/json",
            b"{\"name\": ",
        )
        .error(400);
    assert_eq!(
        a.api.get(&format!("/v1/segments/{seg}")).expect(200)["name"],
        "all"
    );
    srv.admin()
        .raw("POST", "/v1/accounts", "application/json", b"{\"addons\"")
        .error(400);
    // Nothing was stored.
    assert!(a.all_contact_ids().is_empty());
    let catalog = a.api.get("/v1/events/catalog").expect(200);
    assert_eq!(catalog["events"], json!([]));
    // Bad query parameters are malformed too.
    a.api
        .get(&format!("/v1/segments/{seg}/count?as_of=yesterday"))
        .error(400);
    a.api
        .get(&format!("/v1/segments/{seg}/members?limit=-1"))
        .error(400);
}

#[test]
fn a_missing_or_invalid_key_is_401() {
    let srv = Server::start();
    let a = srv.account();
    let paths = [
        ("GET", "/v1/fields"),
        ("GET", "/v1/contacts/c1"),
        ("POST", "/v1/events"),
        ("GET", "/v1/segments"),
        ("GET", "/v1/usage"),
        ("GET", "/v1/events/catalog"),
        ("GET", "/v1/snapshots/snap_1/members"),
    ];
    for (method, path) in paths {
        srv.anon().send(method, path, None).error(401);
        for key in ["sk_not_a_real_key", "", " "] {
            srv.anon()
                .with_key(Some(key))
                .send(method, path, None)
                .error(401);
        }
        // Another scheme, or the key alone.
        for header in [format!("Basic {}", a.secret), a.secret.clone()] {
            srv.anon()
                .with_headers(method, path, &[("Authorization", &header)])
                .error(401);
        }
        // The administrator token is not an account key.
        let r = srv.admin().send(method, path, None);
        assert!(r.status == 401 || r.status == 403, "{method} {path}: {r:?}");
        r.error(r.status);
    }
    // A key that differs by one character.
    let mut near = a.secret.clone();
    let last = near.pop().unwrap();
    near.push(if last == '0' { '1' } else { '0' });
    srv.anon()
        .with_key(Some(&near))
        .get("/v1/fields")
        .error(401);
    a.api.get("/v1/fields").expect(200);
}

#[test]
fn the_public_key_is_403_and_custom_events_without_the_addon_are_403() {
    let srv = Server::start();
    let a = srv.account();
    a.public_api.get("/v1/segments").error(403);
    a.public_api
        .post("/v1/contacts", &json!({"Email": "p@example.com"}))
        .error(403);
    let e = a
        .api
        .post(
            "/v1/events",
            &json!({"name": "order_paid", "contact": {"email": "p@example.com"}}),
        )
        .error(403);
    assert_eq!(e["code"], "addon_required");
    assert!(a.all_contact_ids().is_empty());
}

#[test]
fn unknown_things_are_404() {
    let srv = Server::start();
    let a = srv.account();
    for path in [
        "/v1/contacts/c424242",
        "/v1/contacts/c424242/events",
        "/v1/contacts/c424242/segments",
        "/v1/segments/seg_424242",
        "/v1/segments/seg_424242/count",
        "/v1/segments/seg_424242/members",
        "/v1/segments/seg_424242/export?format=ndjson",
        "/v1/snapshots/snap_424242/members",
        "/v1/nothing-here",
    ] {
        a.api.get(path).error(404);
    }
    a.api.delete("/v1/contacts/c424242").error(404);
    a.api.delete("/v1/segments/seg_424242").error(404);
    a.api.delete("/v1/fields/Nope").error(404);
    a.api
        .get(&format!("/v1/contacts?email={}", enc("nobody@example.com")))
        .error(404);
    srv.admin()
        .patch(
            "/v1/accounts/acc_424242",
            &json!({"addons": {"custom_events": true}}),
        )
        .error(404);
}

#[test]
fn conflicts_are_409_and_invalid_bodies_422() {
    let srv = Server::start();
    let a = srv.account();
    a.field("Tier", "text");
    a.api
        .post("/v1/fields", &json!({"name": "Tier", "type": "text"}))
        .error(409);
    assert_eq!(a.segment("one", json!({"all": []})), "seg_1");
    a.api
        .post("/v1/segments", &json!({"name": "one", "rule": {"all": []}}))
        .error(409);
    a.contact(json!({"Email": "p@example.com"}));
    a.contact(json!({"ExternalId": "q"}));
    a.api
        .post(
            "/v1/contacts",
            &json!({"Email": "p@example.com", "ExternalId": "q"}),
        )
        .error(409);

    a.api
        .post("/v1/fields", &json!({"name": "9lives", "type": "text"}))
        .error(422);
    a.api
        .post("/v1/segments", &json!({"name": "no rule"}))
        .error(422);
    let e = a
        .api
        .post(
            "/v1/segments",
            &json!({"name": "bad", "rule": {"field": "Tier", "op": "gt", "value": 1}}),
        )
        .error(422);
    assert!(!e["details"].as_array().unwrap().is_empty(), "{e}");
    a.api
        .post(
            "/v1/contacts",
            &json!({"Email": "x@example.com", "Tier": 5}),
        )
        .error(422);
    // The refused creations above took no segment id.
    assert_eq!(a.segment("two", json!({"all": []})), "seg_2");
}

#[test]
fn a_batch_over_the_item_limit_is_413_naming_the_limit_and_stores_nothing() {
    let srv = Server::start();
    let a = srv.account();
    let event = json!({"name": "MailOpen", "contact": {"email": "many@example.com"}});
    let mut events = vec![event; 100_001];
    // All valid (read the fast way), and with one invalid item (read item
    // by item): both refused whole.
    for invalid in [false, true] {
        if invalid {
            events[7] = json!({"name": "MailOpen", "contact": {}});
        }
        let e = a.api.post("/v1/events", &json!(events)).error(413);
        let message = e["message"].as_str().unwrap();
        assert!(
            message.contains("100001") && message.contains("100000"),
            "the message names the count and the limit: {message}"
        );
    }
    assert!(a.all_contact_ids().is_empty());
}

#[test]
fn a_body_over_the_limit_is_413_naming_the_limit() {
    let srv = Server::start_with(Options {
        max_body_mib: Some(1),
        ..Options::default()
    });
    let a = srv.account();
    // A valid JSON array of 2 MiB: events that would all be accepted.
    let mut body = String::from("[");
    let mut i = 0;
    while body.len() < 2 << 20 {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!(
            "{{\"id\": \"big-{i}\", \"name\": \"MailOpen\", \"contact\": {{\"email\": \"big@example.com\"}}, \"attributes\": {{\"campaign_id\": \"c-{i:08}\"}}}}"
        ));
        i += 1;
    }
    body.push(']');
    for path in ["/v1/events", "/v1/contacts"] {
        let e = a
            .api
            .post_early_answer(path, "application/json", body.clone().into_bytes())
            .error(413);
        let message = e["message"].as_str().unwrap();
        assert!(
            message.contains("1 MiB") || message.contains("1048576"),
            "the message names the limit: {message}"
        );
    }
    // Without a Content-Length (chunked), the limit holds while reading.
    let e = a
        .api
        .post_early_answer_chunked("/v1/events", "application/json", body.clone().into_bytes())
        .error(413);
    assert!(e["message"].as_str().unwrap().contains("1 MiB"), "{e}");
    // NDJSON is limited alike.
    let ndjson = body
        .trim_start_matches('[')
        .trim_end_matches(']')
        .replace("}},{", "}}\n{");
    assert!(ndjson.len() > 1 << 20);
    let e = a
        .api
        .post_early_answer("/v1/events", "application/x-ndjson", ndjson.into_bytes())
        .error(413);
    assert!(e["message"].as_str().unwrap().contains("1 MiB"), "{e}");
    // Nothing was stored; a small request still works.
    a.api
        .get(&format!("/v1/contacts?email={}", enc("big@example.com")))
        .error(404);
    let ok = a.events(json!({"name": "MailOpen", "contact": {"email": "small@example.com"}}));
    assert_eq!(ok["accepted"], 1);
}

#[test]
fn too_many_requests_are_429_with_retry_after() {
    let srv = Server::start_with(Options {
        rate_limit: Some(5),
        ..Options::default()
    });
    let a = srv.account();
    let b = srv.account();
    let mut limited = None;
    for _ in 0..100 {
        let r = a.api.get("/v1/fields");
        if r.status == 429 {
            limited = Some(r);
            break;
        }
        assert_eq!(r.status, 200, "{r:?}");
    }
    let r = limited.expect("a 429 within 100 quick requests at 5 per second");
    let e = r.error(429);
    assert!(!e["message"].as_str().unwrap().is_empty());
    let retry = r.retry_after.as_deref().expect("a Retry-After header");
    let secs: u64 = retry.trim().parse().expect("Retry-After in seconds");
    assert!((1..=60).contains(&secs), "{secs}");
    // The limit is per key: another account is not throttled.
    b.api.get("/v1/fields").expect(200);
    // After the time it said, the key may send again.
    std::thread::sleep(Duration::from_secs(secs));
    a.api.get("/v1/fields").expect(200);
}

/// Writes `request` on `stream` and reads one answer: its head (lower
/// case) and its body, by `Content-Length`.
fn exchange(stream: &mut std::net::TcpStream, request: &[u8]) -> (String, String) {
    use std::io::{Read, Write};
    stream.write_all(request).expect("the request is sent");
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .expect("a content-length");
            if bytes.len() >= end + 4 + length {
                let body = String::from_utf8_lossy(&bytes[end + 4..end + 4 + length]);
                return (head, body.into_owned());
            }
        }
        let n = stream.read(&mut chunk).expect("the answer is read");
        assert!(n > 0, "the server closed before answering: {bytes:?}");
        bytes.extend_from_slice(&chunk[..n]);
    }
}

/// A client on a kept-alive connection whose request is refused before
/// its body was read must not send its next request on that connection:
/// the server cannot tell where the unread body ends, so it closes the
/// connection, and says so in the refusal (`Connection: close`). A request
/// whose body was read keeps the connection for the next one.
#[test]
fn a_refusal_before_the_body_was_read_says_the_connection_closes() {
    let srv = Server::start();
    let a = srv.account();
    let addr = srv.base.strip_prefix("http://").unwrap().to_string();
    let connect = || {
        let s = std::net::TcpStream::connect(&addr).expect("the server accepts");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s
    };
    // A key is missing and the body is not sent yet: refused at once.
    let mut stream = connect();
    let (head, body) = exchange(
        &mut stream,
        format!(
            "POST /v1/segments/preview HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n"
        )
        .as_bytes(),
    );
    assert!(head.starts_with("http/1.1 401"), "{head}");
    assert!(body.contains("unauthorized"), "{body}");
    assert!(head.contains("\r\nconnection: close"), "{head}");
    // The public key on a secret-key endpoint, with the body sent.
    let payload = json!({"rule": {"all": []}}).to_string();
    let mut stream = connect();
    let (head, _) = exchange(
        &mut stream,
        format!(
            "POST /v1/segments/preview HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
            a.public,
            payload.len()
        )
        .as_bytes(),
    );
    assert!(head.starts_with("http/1.1 403"), "{head}");
    assert!(head.contains("\r\nconnection: close"), "{head}");
    // Read and answered: two requests on one connection.
    let mut stream = connect();
    for _ in 0..2 {
        let (head, body) = exchange(
            &mut stream,
            format!(
                "POST /v1/segments/preview HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
                a.secret,
                payload.len()
            )
            .as_bytes(),
        );
        assert!(head.starts_with("http/1.1 200"), "{head}\n{body}");
        assert!(!head.contains("connection: close"), "{head}");
    }
}
