//! The seeded world: contacts with custom fields of every type (values
//! missing on purpose, mixed case, Polish letters) and their events over the
//! 180 days before a fixed `now`.
//!
//! Activity per contact is Zipf-shaped: 15% of contacts have no events, the
//! others get a share of the events proportional to 1/(rank + 10)^0.8 with
//! the ranks shuffled. Each contact's events are drawn from its own random
//! stream (seed, contact), so the data depends only on the seed and the
//! scale. A few event times fall exactly on whole hours before `now` so that
//! window boundaries (`now − D < t`) are exercised.
//!
//! Every attribute name has one JSON type across all events (strings,
//! numbers or booleans); a value may be absent, `null` or (strings) `""`.
//! The peers get one wide events table with a typed column per attribute
//! (absent, null and `""` are all SQL NULL there, which SPEC §2 treats alike
//! as "no value").

use crate::rng::Rng;
use crate::vocab::{CATEGORIES, CITIES, DOMAINS, FIRST_NAMES, LAST_NAMES, PATHS, QUERIES};

pub const DAY: i64 = 86_400_000;
pub const HOUR: i64 = 3_600_000;
pub const MINUTE: i64 = 60_000;
/// How far back events go.
pub const HISTORY_DAYS: i64 = 180;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    Str,
    Num,
    Bool,
}

/// The attribute columns of the events table, in column order.
pub const ATTRS: &[(&str, Ty)] = &[
    ("url", Ty::Str),
    ("referrer", Ty::Str),
    ("title", Ty::Str),
    ("session_id", Ty::Str),
    ("campaign_id", Ty::Str),
    ("product_id", Ty::Str),
    ("category", Ty::Str),
    ("price", Ty::Num),
    ("quantity", Ty::Num),
    ("cart_id", Ty::Str),
    ("order_value", Ty::Num),
    ("currency", Ty::Str),
    ("items", Ty::Num),
    ("coupon", Ty::Str),
    ("query", Ty::Str),
    ("results", Ty::Num),
    ("method", Ty::Str),
    ("success", Ty::Bool),
    ("platform", Ty::Str),
    ("version", Ty::Str),
    ("rating", Ty::Num),
    ("verified", Ty::Bool),
    ("plan", Ty::Str),
    ("amount", Ty::Num),
    ("auto", Ty::Bool),
    ("priority", Ty::Str),
    ("resolved", Ty::Bool),
    ("reason", Ty::Str),
    ("code", Ty::Str),
    ("discount", Ty::Num),
];

fn attr(name: &str) -> u8 {
    ATTRS
        .iter()
        .position(|(n, _)| *n == name)
        .expect("a known attribute") as u8
}

/// Event names; the first ones are drawn directly with these weights,
/// `MailOpen`/`MailClick` and most purchases follow other events.
pub const EVENT_NAMES: &[(&str, f64)] = &[
    ("Visit", 0.36),
    ("MailSent", 0.14),
    ("MailOpen", 0.0),
    ("MailClick", 0.0),
    ("product_view", 0.12),
    ("cart_add", 0.05),
    ("purchase", 0.012),
    ("search", 0.06),
    ("login", 0.05),
    ("app_open", 0.06),
    ("review", 0.01),
    ("wishlist_add", 0.02),
    ("subscription_renewed", 0.01),
    ("support_ticket", 0.01),
    ("refund", 0.005),
    ("coupon_used", 0.01),
];

const VISIT: u8 = 0;
const MAIL_SENT: u8 = 1;
const MAIL_OPEN: u8 = 2;
const MAIL_CLICK: u8 = 3;
const PRODUCT_VIEW: u8 = 4;
const CART_ADD: u8 = 5;
const PURCHASE: u8 = 6;
const SEARCH: u8 = 7;
const LOGIN: u8 = 8;
const APP_OPEN: u8 = 9;
const REVIEW: u8 = 10;
const WISHLIST_ADD: u8 = 11;
const SUBSCRIPTION_RENEWED: u8 = 12;
const SUPPORT_TICKET: u8 = 13;
const REFUND: u8 = 14;
const COUPON_USED: u8 = 15;

/// An attribute value as generated. `Empty` is the string `""`.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Null,
    Empty,
    Str(String),
    Num(f64),
    Bool(bool),
}

#[derive(Clone, Debug)]
pub struct GenEvent {
    pub name: u8,
    pub time: i64,
    pub attrs: Vec<(u8, Val)>,
}

/// A contact field value as generated; `None` in [`GenContact`] is absent.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldVal {
    Text(String),
    Num(f64),
    /// Epoch ms; `plain` dates are written `YYYY-MM-DD`.
    Date {
        ms: i64,
        plain: bool,
    },
    Bool(bool),
}

/// Custom fields, declared in this order (standard fields come first in the
/// contact record).
pub const CUSTOM_FIELDS: &[(&str, &str)] = &[
    ("City", "text"),
    ("Country", "text"),
    ("Customer_Status", "text"),
    ("Age", "number"),
    ("LifetimeValue", "number"),
    ("Birthday", "date"),
    ("LastOrderDate", "date"),
    ("Newsletter", "boolean"),
    ("Score", "number"),
];

/// Every field written, in the contacts table's column order.
pub const CONTACT_FIELDS: &[&str] = &[
    "ExternalId",
    "Email",
    "FirstName",
    "LastName",
    "EmailUnsubscribed",
    "CreateTime",
    "City",
    "Country",
    "Customer_Status",
    "Age",
    "LifetimeValue",
    "Birthday",
    "LastOrderDate",
    "Newsletter",
    "Score",
];

pub type GenContact = Vec<Option<FieldVal>>;

/// Zipf-like sampling over a short list: cumulative weights 1/(i+1)^s.
struct Table(Vec<f64>);

impl Table {
    fn zipf(n: usize, s: f64) -> Table {
        let mut acc = 0.0;
        Table(
            (0..n)
                .map(|i| {
                    acc += 1.0 / ((i + 1) as f64).powf(s);
                    acc
                })
                .collect(),
        )
    }

    fn draw(&self, rng: &mut Rng) -> usize {
        let x = rng.f64() * self.0[self.0.len() - 1];
        self.0.partition_point(|c| *c <= x).min(self.0.len() - 1)
    }
}

/// The generator of one world.
pub struct World {
    pub seed: u64,
    pub contacts: u64,
    pub now: i64,
    /// Events per contact (sums to the scale's event count).
    pub counts: Vec<u32>,
    name_weights: Vec<f64>,
    cities: Table,
    campaigns: Table,
    products: Table,
}

impl World {
    pub fn new(seed: u64, contacts: u64, events: u64, now: i64) -> World {
        let n = contacts as usize;
        let mut active: Vec<u32> = (0..contacts as u32)
            .filter(|i| Rng::new(seed ^ 0xA5A5, u64::from(*i)).f64() >= 0.15)
            .collect();
        // Shuffle the ranks (Fisher-Yates).
        let mut rng = Rng::new(seed, u64::MAX);
        for i in (1..active.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            active.swap(i, j);
        }
        let weights: Vec<f64> = (0..active.len())
            .map(|r| 1.0 / ((r + 10) as f64).powf(0.8))
            .collect();
        let total: f64 = weights.iter().sum();
        let mut counts = vec![0u32; n];
        let mut assigned = 0u64;
        for (rank, c) in active.iter().enumerate() {
            let k = (events as f64 * weights[rank] / total).floor() as u64;
            counts[*c as usize] = k as u32;
            assigned += k;
        }
        let mut rank = 0;
        while assigned < events && !active.is_empty() {
            counts[active[rank % active.len()] as usize] += 1;
            assigned += 1;
            rank += 1;
        }
        World {
            seed,
            contacts,
            now,
            counts,
            name_weights: EVENT_NAMES.iter().map(|(_, w)| *w).collect(),
            cities: Table::zipf(CITIES.len(), 1.0),
            campaigns: Table::zipf(60, 0.7),
            products: Table::zipf(5000, 1.0),
        }
    }

    /// The fields of contact `i` (in [`CONTACT_FIELDS`] order).
    pub fn contact(&self, i: u64) -> GenContact {
        let r = &mut Rng::new(self.seed ^ 0xC0C0, i);
        let now = self.now;
        let first = *r.pick(FIRST_NAMES);
        let last = *r.pick(LAST_NAMES);
        let mut domain = r.pick(DOMAINS).to_string();
        if r.chance(0.05) {
            domain = domain.to_uppercase();
        }
        let email = format!("{}.{}{}@{}", ascii(first), ascii(last), i, domain);
        let text = |s: &str| Some(FieldVal::Text(s.to_string()));
        let mut city = CITIES[self.cities.draw(r)].to_string();
        if r.chance(0.05) {
            city = city.to_uppercase();
        } else if r.chance(0.05) {
            city = city.to_lowercase();
        }
        let status = match r.weighted(&[5.0, 1.0, 1.0, 50.0, 20.0, 10.0, 13.0]) {
            0 => text("vip"),
            1 => text("VIP"),
            2 => text("Vip"),
            3 => text("regular"),
            4 => text("new"),
            5 => text("churned"),
            _ => None,
        };
        let country = match r.weighted(&[55.0, 5.0, 10.0, 10.0, 8.0, 7.0, 5.0]) {
            0 => text("PL"),
            1 => text("pl"),
            2 => text("DE"),
            3 => text("GB"),
            4 => text("FR"),
            5 => text("CZ"),
            _ => None,
        };
        let age = (r.f64() * 3.0 + r.f64() * 3.0 + r.f64() * 3.0) / 9.0;
        vec![
            text(&format!("x{i}")),
            (!r.chance(0.08)).then_some(FieldVal::Text(email)),
            (!r.chance(0.05)).then(|| FieldVal::Text(first.to_string())),
            (!r.chance(0.05)).then(|| FieldVal::Text(last.to_string())),
            match r.weighted(&[8.0, 80.0, 12.0]) {
                0 => Some(FieldVal::Bool(true)),
                1 => Some(FieldVal::Bool(false)),
                _ => None,
            },
            Some(FieldVal::Date {
                ms: now - r.range(DAY, 730 * DAY),
                plain: false,
            }),
            if r.chance(0.10) {
                None
            } else if r.chance(0.02) {
                text("")
            } else {
                Some(FieldVal::Text(city))
            },
            country,
            status,
            (!r.chance(0.15)).then(|| FieldVal::Num((16.0 + age * 64.0).round())),
            (!r.chance(0.20)).then(|| FieldVal::Num(r.range(0, 20_000) as f64 * 0.25)),
            (!r.chance(0.30)).then(|| {
                // A plain date between 1950 and 2008, 00:00 UTC.
                let day = r.range(-7305, 14245);
                FieldVal::Date {
                    ms: day * DAY,
                    plain: true,
                }
            }),
            (!r.chance(0.35)).then(|| FieldVal::Date {
                ms: now - r.range(0, 365 * DAY),
                plain: false,
            }),
            match r.weighted(&[45.0, 40.0, 15.0]) {
                0 => Some(FieldVal::Bool(true)),
                1 => Some(FieldVal::Bool(false)),
                _ => None,
            },
            (!r.chance(0.10)).then(|| FieldVal::Num(r.range(0, 100) as f64)),
        ]
    }

    /// A random time in (now − 180 d, now]; 2% fall on a whole hour.
    fn time(&self, r: &mut Rng) -> i64 {
        if r.chance(0.02) {
            self.now - r.range(0, HISTORY_DAYS * 24 - 1) * HOUR
        } else {
            self.now - r.below((HISTORY_DAYS * DAY) as u64) as i64
        }
    }

    /// The events of contact `i`, sorted by time.
    pub fn events(&self, i: u64) -> Vec<GenEvent> {
        let k = self.counts[i as usize] as usize;
        let mut out = Vec::with_capacity(k);
        let r = &mut Rng::new(self.seed ^ 0xE7E7, i);
        let platform = ["ios", "android", "web"][r.below(3) as usize];
        let mut carts = 0u32;
        while out.len() < k {
            let t = self.time(r);
            let name = r.weighted(&self.name_weights) as u8;
            let mut attrs = Vec::new();
            match name {
                VISIT => {
                    attrs.push((attr("url"), Val::Str(self.url(r))));
                    attrs.push((
                        attr("referrer"),
                        match r.below(5) {
                            0 | 1 => Val::Empty,
                            2 => Val::Str("https://www.google.com/".into()),
                            3 => Val::Str("https://facebook.com/".into()),
                            _ => Val::Str("newsletter".into()),
                        },
                    ));
                    if r.chance(0.9) {
                        attrs.push((attr("title"), Val::Str(format!("Page {}", r.below(50)))));
                    }
                    attrs.push((
                        attr("session_id"),
                        Val::Str(format!("s{:x}", r.next_u64() >> 24)),
                    ));
                }
                MAIL_SENT => {
                    let campaign = format!("cmp_{}", self.campaigns.draw(r) + 1);
                    attrs.push((attr("campaign_id"), Val::Str(campaign.clone())));
                    // Opens and clicks follow some sends.
                    if r.chance(0.35) && out.len() + 1 < k {
                        let t_open = t + r.exp(6.0 * HOUR as f64) as i64;
                        if t_open <= self.now {
                            let mut open = vec![(attr("campaign_id"), Val::Str(campaign.clone()))];
                            if r.chance(0.03) {
                                open = vec![(attr("campaign_id"), Val::Null)];
                            }
                            out.push(GenEvent {
                                name: MAIL_OPEN,
                                time: t_open,
                                attrs: open,
                            });
                            if r.chance(0.25) && out.len() + 1 < k {
                                let t_click = t_open + r.exp(10.0 * MINUTE as f64) as i64;
                                if t_click <= self.now {
                                    out.push(GenEvent {
                                        name: MAIL_CLICK,
                                        time: t_click,
                                        attrs: vec![
                                            (attr("campaign_id"), Val::Str(campaign)),
                                            (attr("url"), Val::Str(self.url(r))),
                                        ],
                                    });
                                }
                            }
                        }
                    }
                }
                PRODUCT_VIEW | WISHLIST_ADD => {
                    attrs.push((attr("product_id"), Val::Str(self.product(r))));
                    attrs.push((attr("category"), Val::Str(r.pick(CATEGORIES).to_string())));
                    if name == PRODUCT_VIEW && !r.chance(0.03) {
                        attrs.push((attr("price"), Val::Num(price(r))));
                    }
                }
                CART_ADD => {
                    carts += 1;
                    let cart = format!("cart_{i}_{carts}");
                    attrs.push((attr("cart_id"), Val::Str(cart.clone())));
                    attrs.push((attr("product_id"), Val::Str(self.product(r))));
                    attrs.push((attr("category"), Val::Str(r.pick(CATEGORIES).to_string())));
                    attrs.push((attr("price"), Val::Num(price(r))));
                    attrs.push((attr("quantity"), Val::Num(r.range(1, 5) as f64)));
                    // 45% are bought: most within the hour, some days later.
                    if r.chance(0.45) && out.len() + 1 < k {
                        let delay = if r.chance(0.6) {
                            r.exp(25.0 * MINUTE as f64)
                        } else {
                            r.exp(2.0 * DAY as f64)
                        } as i64
                            + 1;
                        if t + delay <= self.now {
                            out.push(GenEvent {
                                name: PURCHASE,
                                time: t + delay,
                                attrs: self.purchase(r, Some(cart)),
                            });
                        }
                    }
                }
                PURCHASE => {
                    let cart = (!r.chance(0.3)).then(|| {
                        carts += 1;
                        format!("cart_{i}_{carts}")
                    });
                    attrs = self.purchase(r, cart);
                }
                SEARCH => {
                    attrs.push((attr("query"), Val::Str(r.pick(QUERIES).to_string())));
                    attrs.push((attr("results"), Val::Num(r.range(0, 200) as f64)));
                }
                LOGIN => {
                    attrs.push((
                        attr("method"),
                        Val::Str(
                            r.pick(&["password", "google", "apple", "magic_link"])
                                .to_string(),
                        ),
                    ));
                    attrs.push((
                        attr("success"),
                        match r.below(50) {
                            0 => Val::Null,
                            1..=5 => Val::Bool(false),
                            _ => Val::Bool(true),
                        },
                    ));
                }
                APP_OPEN => {
                    let p = if r.chance(0.1) {
                        r.pick(&["ios", "android", "web", "IOS"]).to_string()
                    } else {
                        platform.to_string()
                    };
                    attrs.push((attr("platform"), Val::Str(p)));
                    attrs.push((attr("version"), Val::Str(format!("3.{}", r.below(12)))));
                }
                REVIEW => {
                    attrs.push((attr("product_id"), Val::Str(self.product(r))));
                    if !r.chance(0.05) {
                        attrs.push((attr("rating"), Val::Num(r.range(1, 5) as f64)));
                    }
                    attrs.push((attr("verified"), Val::Bool(r.chance(0.7))));
                }
                SUBSCRIPTION_RENEWED => {
                    attrs.push((
                        attr("plan"),
                        Val::Str(r.pick(&["basic", "pro", "team"]).to_string()),
                    ));
                    attrs.push((attr("amount"), Val::Num(price(r))));
                    attrs.push((attr("auto"), Val::Bool(r.chance(0.8))));
                }
                SUPPORT_TICKET => {
                    attrs.push((
                        attr("priority"),
                        Val::Str(r.pick(&["low", "normal", "high", "urgent"]).to_string()),
                    ));
                    if !r.chance(0.2) {
                        attrs.push((attr("resolved"), Val::Bool(r.chance(0.7))));
                    }
                }
                REFUND => {
                    attrs.push((attr("amount"), Val::Num(price(r))));
                    attrs.push((
                        attr("reason"),
                        Val::Str(r.pick(&["damaged", "wrong size", "late"]).to_string()),
                    ));
                }
                COUPON_USED => {
                    attrs.push((
                        attr("code"),
                        Val::Str(
                            r.pick(&["SPRING10", "VIP20", "WELCOME", "BF50"])
                                .to_string(),
                        ),
                    ));
                    attrs.push((attr("discount"), Val::Num(r.range(1, 50) as f64)));
                }
                _ => {}
            }
            out.push(GenEvent {
                name,
                time: t,
                attrs,
            });
        }
        out.truncate(k);
        out.sort_by_key(|e| e.time);
        out
    }

    fn url(&self, r: &mut Rng) -> String {
        let path = *r.pick(PATHS);
        let tail = match path {
            "/product/" => self.product(r),
            "/category/" => r.pick(CATEGORIES).to_string(),
            "/blog/" => format!("post-{}", r.below(300)),
            _ => String::new(),
        };
        let utm = if r.chance(0.1) {
            "?utm_source=mail"
        } else {
            ""
        };
        format!("https://shop.example.com{path}{tail}{utm}")
    }

    fn product(&self, r: &mut Rng) -> String {
        format!("p{}", self.products.draw(r))
    }

    fn purchase(&self, r: &mut Rng, cart: Option<String>) -> Vec<(u8, Val)> {
        let mut attrs = Vec::new();
        if let Some(cart) = cart {
            attrs.push((attr("cart_id"), Val::Str(cart)));
        }
        attrs.push((
            attr("order_value"),
            Val::Num(price(r) * r.range(1, 3) as f64),
        ));
        match r.below(30) {
            0 => {}
            1..=15 => attrs.push((attr("currency"), Val::Str("PLN".into()))),
            16..=24 => attrs.push((attr("currency"), Val::Str("EUR".into()))),
            _ => attrs.push((attr("currency"), Val::Str("USD".into()))),
        }
        attrs.push((attr("items"), Val::Num(r.range(1, 6) as f64)));
        match r.below(20) {
            0 => attrs.push((attr("coupon"), Val::Empty)),
            1 | 2 => attrs.push((attr("coupon"), Val::Str("VIP20".into()))),
            _ => {}
        }
        attrs
    }
}

/// A price in quarter units (exact in binary, so sums are the same in any
/// order and every engine compares the same numbers).
fn price(r: &mut Rng) -> f64 {
    r.range(20, 2000) as f64 * 0.25
}

/// Drops Polish and German diacritics for e-mail addresses.
fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'ą' => 'a',
            'ć' => 'c',
            'ę' => 'e',
            'ł' | 'Ł' => 'l',
            'ń' => 'n',
            'ó' => 'o',
            'ś' => 's',
            'ź' | 'ż' => 'z',
            'ü' => 'u',
            c => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_makes_the_same_world_and_the_counts_add_up() {
        let now = 1_782_777_600_000;
        let a = World::new(7, 300, 20_000, now);
        let b = World::new(7, 300, 20_000, now);
        assert_eq!(a.counts, b.counts);
        assert_eq!(a.counts.iter().map(|c| u64::from(*c)).sum::<u64>(), 20_000);
        assert!(a.counts.iter().filter(|c| **c == 0).count() > 10);
        for i in 0..300 {
            assert_eq!(a.contact(i), b.contact(i));
            let events = a.events(i);
            assert_eq!(events.len(), a.counts[i as usize] as usize);
            assert!(events.windows(2).all(|w| w[0].time <= w[1].time));
            assert!(
                events
                    .iter()
                    .all(|e| e.time <= now && e.time > now - HISTORY_DAYS * DAY)
            );
        }
        assert_ne!(World::new(8, 300, 20_000, now).counts, a.counts);
    }
}
