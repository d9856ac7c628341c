//! The demo: a seeded sample shop (contacts with custom fields, visits,
//! campaign opens and clicks, purchases and abandoned carts over the last 90
//! days, times relative to now), imported through the same streamed import
//! as user files, with example segments that are then counted and explained.

use std::fmt::Write as _;
use std::path::Path;

use flowseg_engine::Engine;
use flowseg_model::time::{DAY_MS, format_instant, now_ms};
use flowseg_model::{FieldDef, FieldType};
use flowseg_store::{SegmentRecord, Store};
use serde_json::{Value, json};

use crate::ImportArgs;
use crate::import::{Kind, import_into};
use crate::query::{create_account_in, explain_in};

/// A small deterministic generator (SplitMix64), so the sample is the same
/// shape on every run without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const FIRST: &[&str] = &[
    "Anna", "Jan", "Maria", "Piotr", "Kasia", "Tomasz", "Ewa", "Paweł", "Zofia", "Adam", "Lena",
    "Oskar",
];
const LAST: &[&str] = &[
    "Nowak",
    "Kowalski",
    "Wiśniewska",
    "Wójcik",
    "Kamińska",
    "Lewandowski",
    "Zieliński",
    "Szymańska",
];
const CITIES: &[&str] = &[
    "Warszawa", "Kraków", "Gdańsk", "Wrocław", "Poznań", "Berlin", "London",
];
const STATUSES: &[&str] = &["vip", "regular", "regular", "regular", "new", "new"];
const CATEGORIES: &[&str] = &["shoes", "shirts", "bags", "accessories"];
const PAGES: &[&str] = &[
    "/",
    "/pricing",
    "/shoes",
    "/shirts",
    "/blog/summer-sale",
    "/contact",
];

/// The custom fields of the sample shop.
pub fn fields() -> Vec<FieldDef> {
    let f = |n: &str, t| FieldDef {
        name: n.into(),
        field_type: t,
    };
    vec![
        f("Customer_Status", FieldType::Text),
        f("City", FieldType::Text),
        f("Age", FieldType::Number),
        f("Birthday", FieldType::Date),
        f("Newsletter", FieldType::Boolean),
    ]
}

/// Writes `contacts.csv` and `events.ndjson` for `n` contacts into `dir`.
pub fn generate(dir: &Path, n: usize, now: i64, seed: u64) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut rng = Rng::new(seed);
    let mut csv = String::from(
        "ExternalId,Email,FirstName,LastName,MobilePhone,CreateTime,Customer_Status,City,Age,Birthday,Newsletter\n",
    );
    let mut events = String::new();
    let mut event_no = 0u64;
    for i in 0..n {
        let first = rng.pick(FIRST);
        let last = rng.pick(LAST);
        let email = format!(
            "{}.{}{}@example.com",
            first.to_lowercase(),
            last.to_lowercase(),
            i
        );
        let phone = if rng.chance(0.6) {
            format!("+48 600 {:03} {:03}", i / 1000, i % 1000)
        } else {
            String::new()
        };
        let created = now - (rng.below(400) as i64 + 1) * DAY_MS;
        let age = if rng.chance(0.8) {
            (18 + rng.below(50)).to_string()
        } else {
            String::new()
        };
        let birthday = if rng.chance(0.5) {
            format_instant(created - (20 + rng.below(40) as i64) * 365 * DAY_MS)[..10].to_string()
        } else {
            String::new()
        };
        let _ = writeln!(
            csv,
            "crm-{i},{email},{first},{last},{phone},{},{},{},{age},{birthday},{}",
            format_instant(created),
            rng.pick(STATUSES),
            rng.pick(CITIES),
            rng.chance(0.7)
        );
        // Activity is skewed: a few contacts do most things.
        let activity = match rng.below(10) {
            0 => 40,
            1..=3 => 10,
            _ => 2,
        };
        let mut emit = |name: &str, t: i64, attrs: Value| {
            event_no += 1;
            let e = json!({"id": format!("demo-{event_no}"), "name": name, "contact": {"external_id": format!("crm-{i}")}, "time": format_instant(t), "attributes": attrs});
            let _ = writeln!(events, "{e}");
        };
        for _ in 0..rng.below(activity) {
            let t = now - rng.below(90 * DAY_MS as u64) as i64;
            match rng.below(6) {
                0 | 1 => emit(
                    "Visit",
                    t,
                    json!({"url": format!("https://shop.example.com{}", rng.pick(PAGES)), "session_id": format!("s{}", rng.below(1_000_000))}),
                ),
                2 => {
                    let campaign = format!("cmp-{}", rng.below(12));
                    emit("MailSent", t, json!({"campaign_id": campaign}));
                    if rng.chance(0.5) {
                        emit("MailOpen", t + 3_600_000, json!({"campaign_id": campaign}));
                        if rng.chance(0.3) {
                            emit(
                                "MailClick",
                                t + 3_700_000,
                                json!({"campaign_id": campaign, "url": "https://shop.example.com/pricing"}),
                            );
                        }
                    }
                }
                3 => emit(
                    "product_purchased",
                    t,
                    json!({"category": rng.pick(CATEGORIES), "price": 20 + rng.below(300)}),
                ),
                _ => {
                    let cart = format!("cart-{i}-{}", rng.below(1_000_000));
                    emit(
                        "cart_add",
                        t,
                        json!({"cart_id": cart, "price": 20 + rng.below(300)}),
                    );
                    if rng.chance(0.6) {
                        emit(
                            "purchase",
                            t + rng.below(2 * 3_600_000) as i64,
                            json!({"cart_id": cart}),
                        );
                    }
                }
            }
        }
        // A few fresh carts so "abandoned in the last day" has members.
        if rng.chance(0.05) {
            let t = now - (2 + rng.below(20) as i64) * 3_600_000;
            emit(
                "cart_add",
                t,
                json!({"cart_id": format!("cart-{i}-fresh"), "price": 99}),
            );
        }
    }
    std::fs::write(dir.join("contacts.csv"), csv)?;
    std::fs::write(dir.join("events.ndjson"), events)
}

/// The example segments: (name, description, rule).
pub fn segments() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "VIP in Warsaw",
            "VIP customers living in Warsaw",
            json!({"all": [
            {"field": "Customer_Status", "op": "equals", "value": "vip"},
            {"field": "City", "op": "contains", "value": "warsz"}]}),
        ),
        (
            "Abandoned cart, last day",
            "Added to cart in the last day, no purchase of that cart within an hour",
            json!(
            {"event": "cart_add", "within": {"last": "1d"}, "not_followed_by": {"event": "purchase", "window": "1h", "on": ["cart_id"]}}),
        ),
        (
            "Pricing page visitors",
            "Visited /pricing at least twice this week",
            json!(
            {"event": "Visit", "where": [{"attribute": "url", "op": "contains", "value": "/pricing"}], "within": {"last": "7d"}, "count": {"op": "gte", "value": 2}}),
        ),
        (
            "Inactive 60 days",
            "No visit and no purchase in 60 days",
            json!({"all": [
            {"event": "Visit", "within": {"last": "60d"}, "count": {"op": "equals", "value": 0}},
            {"event": "product_purchased", "within": {"last": "60d"}, "count": {"op": "equals", "value": 0}}]}),
        ),
        (
            "Opened, never clicked",
            "Opened a mail in 90 days and never clicked one",
            json!({"all": [
            {"event": "MailOpen", "within": {"last": "90d"}},
            {"not": {"event": "MailClick"}}]}),
        ),
        (
            "Shoe lovers",
            "Bought shoes at least twice in 30 days",
            json!(
            {"event": "product_purchased", "where": [{"attribute": "category", "op": "equals", "value": "shoes"}], "within": {"last": "30d"}, "count": {"op": "gte", "value": 2}}),
        ),
        (
            "Big spenders",
            "Spent more than 500 in 90 days",
            json!(
            {"event": "product_purchased", "within": {"last": "90d"}, "aggregate": {"fn": "sum", "attribute": "price", "op": "gt", "value": 500}}),
        ),
        (
            "Reachable by SMS",
            "Has a phone and did not unsubscribe from SMS",
            json!({"all": [
            {"field": "MobilePhone", "op": "has_value"},
            {"not": {"field": "SmsUnsubscribed", "op": "is_true"}}]}),
        ),
        (
            "Young newsletter readers",
            "Aged 18 to 30, subscribed to the newsletter, opened a mail this month",
            json!({"all": [
            {"field": "Age", "op": "between", "value": [18, 30]},
            {"field": "Newsletter", "op": "is_true"},
            {"event": "MailOpen", "within": {"last": "30d"}}]}),
        ),
        (
            "Clicked then bought",
            "Clicked a campaign mail and bought something within 2 days",
            json!({"event": "MailClick", "within": {"last": "90d"},
                   "followed_by": {"event": "product_purchased", "window": "2d"}}),
        ),
        (
            "New this month, never bought",
            "Created in the last 30 days without any purchase",
            json!({"all": [
            {"field": "CreateTime", "op": "within_last", "value": "30d"},
            {"event": "product_purchased", "count": {"op": "equals", "value": 0}}]}),
        ),
        (
            "VIPs to win back",
            "VIP in Warsaw (by reference) who bought nothing in 30 days but visited recently",
            json!({"all": [
            {"segment": "@VIP in Warsaw"},
            {"event": "product_purchased", "within": {"last": "30d"}, "count": {"op": "equals", "value": 0}},
            {"event": "Visit", "within": {"last": "14d"}}]}),
        ),
    ]
}

/// Replaces `{"segment": "@Name"}` in the sample rules with the id of the
/// saved segment of that name.
fn resolve_references(rule: &mut Value, saved: &[SegmentRecord]) {
    match rule {
        Value::Object(obj) => {
            if let Some(Value::String(target)) = obj.get_mut("segment")
                && let Some(name) = target.strip_prefix('@')
                && let Some(s) = saved.iter().find(|s| s.name == name)
            {
                *target = s.id.clone();
            }
            obj.values_mut().for_each(|v| resolve_references(v, saved));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| resolve_references(v, saved)),
        _ => {}
    }
}

/// Generates, imports, saves the example segments, counts and explains.
pub fn demo(data: &Path, contacts: usize, serve: Option<&crate::ServeArgs>) -> Result<(), String> {
    let now = now_ms();
    let account = {
        let store = Store::open(data).map_err(|e| e.to_string())?;
        let account = match store.meta_get("demo_account").map_err(|e| e.to_string())? {
            Some(id) => String::from_utf8_lossy(&id).into_owned(),
            None => {
                let id = create_account_in(&store)?;
                store
                    .meta_put("demo_account", id.as_bytes())
                    .map_err(|e| e.to_string())?;
                for f in fields() {
                    store.add_field(&id, f).map_err(|e| e.to_string())?;
                }
                // The demo shop sends custom events through the API too.
                let mut record = store
                    .account(&id)
                    .map_err(|e| e.to_string())?
                    .ok_or("the demo account vanished")?;
                record.addons.insert("custom_events".into(), true);
                store.update_account(&record).map_err(|e| e.to_string())?;
                id
            }
        };
        let dir = data.join("sample");
        generate(&dir, contacts, now, 42).map_err(|e| format!("writing the sample: {e}"))?;
        println!(
            "account {account}: importing the sample shop from {}",
            dir.display()
        );
        for (file, kind) in [
            ("contacts.csv", Kind::Contacts),
            ("events.ndjson", Kind::Events),
        ] {
            let args = ImportArgs {
                account: account.clone(),
                file: dir.join(file),
                format: None,
                batch: 5000,
                errors: None,
            };
            import_into(&store, &args, kind)?;
        }
        for (name, description, mut rule) in segments() {
            let existing = store.segments(&account).map_err(|e| e.to_string())?;
            if existing.iter().any(|s| s.name == name) {
                continue;
            }
            resolve_references(&mut rule, &existing);
            let record = SegmentRecord {
                id: String::new(),
                name: name.into(),
                description: description.into(),
                rule,
                created_at: now,
                updated_at: now,
            };
            store
                .create_segment(&account, record)
                .map_err(|e| e.to_string())?;
        }
        account
    };
    let engine = Engine::open(data).map_err(|e| e.to_string())?;
    let index = engine.index(&account).map_err(|e| e.to_string())?;
    let saved = engine
        .store()
        .segments(&account)
        .map_err(|e| e.to_string())?;
    println!("\n{:<28} {:>8} {:>10}", "segment", "members", "took ms");
    let mut example = None;
    for seg in &saved {
        let (rule, plan) = crate::query::plan(&engine, &account, &seg.rule)?;
        let guard = index.read().unwrap_or_else(|e| e.into_inner());
        let started = std::time::Instant::now();
        let members = guard.evaluate(&plan, now);
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        println!("{:<28} {:>8} {:>10.3}", seg.name, members.len(), ms);
        if example.is_none()
            && let Some(first) = members.min()
        {
            example = Some((
                seg.name.clone(),
                rule,
                plan,
                guard.contact_id(first).unwrap_or_default().to_string(),
            ));
        }
    }
    if let Some((name, rule, plan, contact)) = example {
        println!("\nwhy is {contact} in \"{name}\"?");
        let tree = explain_in(&engine, &account, &rule, &plan, &contact, now)?;
        println!(
            "{}",
            serde_json::to_string_pretty(&tree).unwrap_or_default()
        );
    }
    let Some(args) = serve else {
        println!(
            "\ntry: flowseg --data {} count --account {account} --rule-json '{{\"field\": \"City\", \"op\": \"equals\", \"value\": \"Kraków\"}}'",
            data.display()
        );
        return Ok(());
    };
    // A fresh secret key for this run (keys are stored hashed, so an old
    // one cannot be shown again).
    let secret_key = flowseg_server::auth::new_key("sk_");
    let store = engine.store();
    let mut record = store
        .account(&account)
        .map_err(|e| e.to_string())?
        .ok_or("the demo account vanished")?;
    record.keys.push(flowseg_store::ApiKeyRecord {
        kind: flowseg_store::KeyKind::Secret,
        hash: flowseg_server::auth::hash_key(&secret_key),
        prefix: secret_key[..7].to_string(),
    });
    store.update_account(&record).map_err(|e| e.to_string())?;
    let segment_id = saved.first().map(|s| s.id.clone());
    drop(index);
    drop(engine);
    crate::serve::run(
        data,
        args,
        Some(crate::serve::Greeting {
            account,
            secret_key,
            segment_id,
        }),
    )
}
