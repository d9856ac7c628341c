//! A 2xx answer to a write means the data is durable: client threads post
//! batches of events with ids, the server is killed with SIGKILL in the
//! middle of the stream and restarted on the same data directory, and
//! every acknowledged event is there exactly once (and every acknowledged
//! contact upsert).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Client, Options, Server, utc_month};

const THREADS: usize = 4;
const BATCH: usize = 20;
/// Acknowledged batches to wait for before the kill.
const BEFORE_KILL: usize = 40;
/// Contacts per upsert batch of the contact writer.
const CONTACT_BATCH: usize = 10;

fn batch(thread: usize, n: usize) -> Value {
    json!(
        (0..BATCH)
            .map(|i| json!({
                "id": format!("t{thread}-b{n}-e{i}"),
                "name": "order_paid",
                "contact": {"email": format!("writer{thread}@example.com")},
                "attributes": {"batch": n, "i": i},
            }))
            .collect::<Vec<_>>()
    )
}

#[test]
fn every_acknowledged_event_survives_sigkill_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut srv = Server::start_on(&data, &Options::default());
    let a = srv.account_with_custom_events();
    let writers: Vec<String> = (0..THREADS)
        .map(|t| a.contact(json!({"Email": format!("writer{t}@example.com")})))
        .collect();

    let acked: Arc<Mutex<Vec<(usize, usize)>>> = Arc::default();
    let attempted: Arc<Mutex<HashSet<(usize, usize)>>> = Arc::default();
    let acked_count = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let client: Client = a.api.clone();
            let (acked, attempted, acked_count, stop) = (
                acked.clone(),
                attempted.clone(),
                acked_count.clone(),
                stop.clone(),
            );
            std::thread::spawn(move || {
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    attempted.lock().unwrap().insert((t, n));
                    let body = batch(t, n).to_string().into_bytes();
                    match client.try_send("POST", "/v1/events", Some(("application/json", body))) {
                        Ok(r) if r.status == 200 => {
                            let answer = r.json();
                            assert_eq!(answer["accepted"], BATCH, "{answer}");
                            assert_eq!(answer["duplicates"], 0, "{answer}");
                            acked.lock().unwrap().push((t, n));
                            acked_count.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(r) => panic!("unexpected answer {}: {}", r.status, r.body),
                        // The server is gone.
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();

    // One more writer upserts batches of new contacts.
    let contacts_acked: Arc<Mutex<Vec<usize>>> = Arc::default();
    let contacts_attempted = Arc::new(AtomicUsize::new(0));
    let contact_writer = {
        let client: Client = a.api.clone();
        let (acked, attempted, stop) = (
            contacts_acked.clone(),
            contacts_attempted.clone(),
            stop.clone(),
        );
        std::thread::spawn(move || {
            for n in 0.. {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                attempted.store(n + 1, Ordering::SeqCst);
                let body = json!(
                    (0..CONTACT_BATCH)
                        .map(|i| json!({"Email": format!("cw-{n}-{i}@cw.test"), "FirstName": "Writer"}))
                        .collect::<Vec<_>>()
                );
                match client.try_send(
                    "POST",
                    "/v1/contacts",
                    Some(("application/json", body.to_string().into_bytes())),
                ) {
                    Ok(r) if r.status == 200 => {
                        let answer = r.json();
                        let results = answer["results"].as_array().expect("results");
                        assert!(results.iter().all(|r| r["id"].is_string()), "{answer}");
                        acked.lock().unwrap().push(n);
                    }
                    Ok(r) => panic!("unexpected answer {}: {}", r.status, r.body),
                    Err(_) => return,
                }
            }
        })
    };

    let deadline = Instant::now() + Duration::from_secs(60);
    while acked_count.load(Ordering::SeqCst) < BEFORE_KILL {
        assert!(Instant::now() < deadline, "the writers made no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    // SIGKILL while the writers are still posting.
    srv.kill();
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("a writer thread");
    }
    contact_writer.join().expect("the contact writer");
    let contacts_acked = contacts_acked.lock().unwrap().clone();
    let contacts_attempted = contacts_attempted.load(Ordering::SeqCst);
    let acked = acked.lock().unwrap().clone();
    let attempted = attempted.lock().unwrap().clone();
    assert!(acked.len() >= BEFORE_KILL);

    let srv = Server::start_on(&data, &Options::default());
    let a = crate::support::Account {
        api: srv.anon().with_key(Some(&a.secret)),
        public_api: srv.anon().with_key(Some(&a.public)),
        ..a
    };

    // Each writer's events: every acknowledged one once, nothing twice,
    // and nothing that was never sent.
    let acked_ids: HashSet<String> = acked
        .iter()
        .flat_map(|(t, n)| (0..BATCH).map(move |i| format!("t{t}-b{n}-e{i}")))
        .collect();
    let mut stored_total = 0;
    let mut per_batch: HashMap<(usize, usize), usize> = HashMap::new();
    for (t, contact) in writers.iter().enumerate() {
        let events = a.contact_events(contact);
        let ids: Vec<String> = events
            .iter()
            .map(|e| e["id"].as_str().expect("an id").to_string())
            .collect();
        let unique: HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "an event stored twice");
        for id in &ids {
            let (tb, _) = id.rsplit_once("-e").unwrap();
            let (tt, nb) = tb.split_once("-b").unwrap();
            let key = (tt[1..].parse().unwrap(), nb.parse().unwrap());
            assert_eq!(key.0, t, "{id} on writer {t}");
            assert!(attempted.contains(&key), "{id} was never sent");
            *per_batch.entry(key).or_default() += 1;
        }
        stored_total += ids.len();
    }
    for id in &acked_ids {
        let (tb, _) = id.rsplit_once("-e").unwrap();
        let (tt, nb) = tb.split_once("-b").unwrap();
        let key: (usize, usize) = (tt[1..].parse().unwrap(), nb.parse().unwrap());
        assert_eq!(
            per_batch.get(&key),
            Some(&BATCH),
            "batch {key:?} incomplete"
        );
    }
    // A batch is all or nothing.
    for (key, n) in &per_batch {
        assert_eq!(*n, BATCH, "batch {key:?} partly stored");
    }
    assert!(stored_total >= acked_ids.len());

    // The engine's indexes were rebuilt with the same events: a segment
    // of the writers with at least one stored event.
    let writers_with_events = (0..THREADS)
        .filter(|t| per_batch.keys().any(|(tt, _)| tt == t))
        .count();
    let seg = a.segment("writers", json!({"event": "order_paid"}));
    assert_eq!(a.count(&seg), writers_with_events as u64);
    // Metering counted each stored custom event once.
    assert_eq!(a.usage_for(&utc_month()), stored_total as u64);

    // Every acknowledged contact is there; at most the attempted ones.
    let preview = a
        .api
        .post(
            "/v1/segments/preview",
            &json!({"rule": {"field": "Email", "op": "ends_with", "value": "@cw.test"}}),
        )
        .expect(200);
    let stored_contacts = preview["count"].as_u64().expect("a count") as usize;
    assert!(
        stored_contacts >= contacts_acked.len() * CONTACT_BATCH
            && stored_contacts <= contacts_attempted * CONTACT_BATCH,
        "{stored_contacts} contacts stored, {} batches acknowledged, {contacts_attempted} attempted",
        contacts_acked.len()
    );
    for n in &contacts_acked {
        for i in [0, CONTACT_BATCH - 1] {
            let email = format!("cw-{n}-{i}@cw.test");
            let found = a
                .api
                .get(&format!(
                    "/v1/contacts?email={}",
                    crate::support::enc(&email)
                ))
                .expect(200);
            assert_eq!(found["FirstName"], "Writer", "{found}");
        }
    }

    // Re-posting every acknowledged batch: all duplicates.
    for (t, n) in &acked {
        let answer = a.events(batch(*t, *n));
        assert_eq!(answer["accepted"], 0, "{answer}");
        assert_eq!(answer["duplicates"], BATCH, "{answer}");
    }
    // And still nothing doubled.
    let after: usize = writers.iter().map(|c| a.contact_events(c).len()).sum();
    assert_eq!(after, stored_total);
}

#[test]
fn accounts_fields_contacts_segments_and_snapshots_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut srv = Server::start_on(&data, &Options::default());
    let a = srv.account_with_custom_events();
    a.field("Tier", "text");
    let ids = a.contacts(&[
        json!({"Email": "a@shop.test", "Tier": "gold"}),
        json!({"Email": "b@shop.test", "Tier": "silver"}),
    ]);
    a.events(json!({"id": "k1", "name": "purchase", "contact": {"id": ids[0]}}));
    let seg = a.segment(
        "gold",
        json!({"field": "Tier", "op": "equals", "value": "gold"}),
    );
    let snap = a
        .api
        .post(&format!("/v1/segments/{seg}/snapshots"), &json!({}))
        .ok()["snapshot_id"]
        .as_str()
        .unwrap()
        .to_string();
    let erased = a.contact(json!({"Email": "gone@shop.test"}));
    let r = a.api.delete(&format!("/v1/contacts/{erased}"));
    assert!(r.status == 200 || r.status == 204, "{r:?}");
    srv.kill();

    let srv = Server::start_on(&data, &Options::default());
    let api = srv.anon().with_key(Some(&a.secret));
    let fields = api.get("/v1/fields").expect(200).to_string();
    assert!(fields.contains("Tier"), "{fields}");
    let first = api.get(&format!("/v1/contacts/{}", ids[0])).expect(200);
    assert_eq!(first["Tier"], "gold");
    api.get(&format!("/v1/contacts/{erased}")).error(404);
    let count = api.get(&format!("/v1/segments/{seg}/count")).expect(200);
    assert_eq!(count["count"], 1, "the indexes were rebuilt: {count}");
    let frozen = api
        .get(&format!("/v1/snapshots/{snap}/members"))
        .expect(200);
    assert_eq!(
        crate::support::ids(&frozen["members"]),
        vec![ids[0].clone()]
    );
    let again = api
        .post(
            "/v1/events",
            &json!({"id": "k1", "name": "purchase", "contact": {"id": ids[0]}}),
        )
        .expect(200);
    assert_eq!(
        again["duplicates"], 1,
        "the add-on and the event ids survived: {again}"
    );
    // The public key still works too, for visits only.
    let public = srv.anon().with_key(Some(&a.public));
    public.get("/v1/fields").error(403);
}

#[test]
fn sigterm_stops_the_server_gracefully_keeping_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut srv = Server::start_on(&data, &Options::default());
    let a = srv.account();
    let id = a.contact(json!({"Email": "ann@example.com"}));
    let answer = a.events(json!(
        (0..50)
            .map(|i| json!({"id": format!("g{i}"), "name": "MailOpen", "contact": {"id": id}}))
            .collect::<Vec<_>>()
    ));
    assert_eq!(answer["accepted"], 50);
    let status = srv.terminate(Duration::from_secs(20));
    assert!(status.success(), "{status}");

    let srv = Server::start_on(&data, &Options::default());
    let api = srv.anon().with_key(Some(&a.secret));
    let events = api
        .get(&format!("/v1/contacts/{id}/events?limit=1000"))
        .expect(200);
    assert_eq!(events["events"].as_array().unwrap().len(), 50);
}

#[test]
fn sigterm_lets_a_request_in_flight_finish() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut srv = Server::start_on(&data, &Options::default());
    let a = srv.account();
    let id = a.contact(json!({"Email": "ann@example.com"}));
    let body: String = (0..100)
        .map(|i| {
            format!(
                "{}\n",
                json!({"id": format!("f{i}"), "name": "MailOpen", "contact": {"id": id}})
            )
        })
        .collect();
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    let mut stream = a
        .api
        .start_post("/v1/events", "application/x-ndjson", body.len());
    stream.write_all(first).expect("half the body");
    // Let the server take the request in before the signal.
    std::thread::sleep(Duration::from_millis(200));
    srv.signal_term();
    std::thread::sleep(Duration::from_millis(200));
    stream.write_all(rest).expect("the rest of the body");
    let answer = crate::support::read_answer(&mut stream, "/v1/events").expect(200);
    assert_eq!(answer["accepted"], 100, "{answer}");
    let status = srv.wait_exit(Duration::from_secs(20));
    assert!(status.success(), "{status}");

    let srv = Server::start_on(&data, &Options::default());
    let api = srv.anon().with_key(Some(&a.secret));
    let events = api
        .get(&format!("/v1/contacts/{id}/events?limit=1000"))
        .expect(200);
    assert_eq!(events["events"].as_array().unwrap().len(), 100);
}
