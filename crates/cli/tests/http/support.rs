//! Starting the real `flowseg serve` binary on a free loopback port in a
//! temporary data directory, and a small blocking HTTP client over it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The administrator token every test server is started with.
pub const ADMIN: &str = "adm_test_token_0123456789";

/// How a server is started.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub rate_limit: Option<u32>,
    pub max_body_mib: Option<u32>,
}

/// A running `flowseg serve`, killed when dropped.
pub struct Server {
    child: Option<Child>,
    pub base: String,
    /// Keeps the data directory alive (when the server made it).
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// A server on a fresh data directory.
    pub fn start() -> Server {
        Server::start_with(Options::default())
    }

    pub fn start_with(options: Options) -> Server {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let data = dir.path().join("data");
        let mut server = Server::start_on(&data, &options);
        server._dir = Some(dir);
        server
    }

    /// A server on `data` (which may hold a previous server's data); the
    /// caller keeps the directory alive.
    pub fn start_on(data: &Path, options: &Options) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowseg"));
        cmd.arg("--data").arg(data).args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-token",
            ADMIN,
        ]);
        if let Some(n) = options.rate_limit {
            cmd.args(["--rate-limit", &n.to_string()]);
        }
        if let Some(n) = options.max_body_mib {
            cmd.args(["--max-body-mib", &n.to_string()]);
        }
        std::fs::create_dir_all(data).expect("the data directory can be made");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data.with_extension("log"))
            .expect("the server log can be opened");
        cmd.env(
            "FLOWSEG_LOG",
            std::env::var("FLOWSEG_TEST_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log);
        let mut child = cmd.spawn().expect("the flowseg binary starts");
        let stdout = child.stdout.take().expect("piped stdout");
        // Read the greeting on a thread so a server that never prints
        // cannot hang the test; the thread keeps draining stdout after.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("flowseg listens on ")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
        });
        let mut server = Server {
            child: Some(child),
            base: String::new(),
            _dir: None,
        };
        let base = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(base) => base,
            Err(_) => panic!(
                "the server did not print its address; log:\n{}",
                std::fs::read_to_string(data.with_extension("log")).unwrap_or_default()
            ),
        };
        assert!(base.starts_with("http://127.0.0.1:"), "{base}");
        server.base = base;
        server.wait_healthy();
        server
    }

    /// Polls `/healthz` until it answers 200.
    fn wait_healthy(&mut self) {
        let client = self.anon();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("the server exited early: {status}");
            }
            if let Ok(r) = client.try_send("GET", "/healthz", None)
                && r.status == 200
            {
                assert_eq!(r.json()["status"], "ok");
                return;
            }
            assert!(Instant::now() < deadline, "the server never became healthy");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("a running server").id()
    }

    /// Sends SIGTERM.
    pub fn signal_term(&self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
    }

    /// Sends SIGTERM and waits (at most `timeout`) for the server to exit;
    /// its exit status.
    pub fn terminate(&mut self, timeout: Duration) -> std::process::ExitStatus {
        self.signal_term();
        self.wait_exit(timeout)
    }

    /// Waits (at most `timeout`) for the server to exit; its exit status.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("a running server");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().expect("the server can be waited for") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the server did not stop within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the server with SIGKILL (no chance to flush) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A client without a key.
    pub fn anon(&self) -> Client {
        Client::new(&self.base, None)
    }

    /// A client with the administrator token.
    pub fn admin(&self) -> Client {
        Client::new(&self.base, Some(ADMIN))
    }

    /// A new account (without add-ons).
    pub fn account(&self) -> Account {
        self.account_from(&json!({}))
    }

    /// A new account with the `custom_events` add-on.
    pub fn account_with_custom_events(&self) -> Account {
        self.account_from(&json!({"addons": {"custom_events": true}}))
    }

    fn account_from(&self, body: &Value) -> Account {
        let created = self.admin().post("/v1/accounts", body).ok();
        let id = created["id"].as_str().expect("an account id").to_string();
        let secret = created["secret_key"]
            .as_str()
            .expect("a secret key")
            .to_string();
        let public = created["public_key"]
            .as_str()
            .expect("a public key")
            .to_string();
        assert_ne!(secret, public);
        Account {
            api: Client::new(&self.base, Some(&secret)),
            public_api: Client::new(&self.base, Some(&public)),
            id,
            secret,
            public,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An account and clients holding its keys.
pub struct Account {
    pub id: String,
    pub secret: String,
    pub public: String,
    /// With the secret key.
    pub api: Client,
    /// With the public key.
    pub public_api: Client,
}

impl Account {
    /// Declares a custom field.
    pub fn field(&self, name: &str, field_type: &str) {
        self.api
            .post("/v1/fields", &json!({"name": name, "type": field_type}))
            .ok();
    }

    /// Upserts one contact and returns its id.
    pub fn contact(&self, contact: Value) -> String {
        self.api.post("/v1/contacts", &contact).ok()["id"]
            .as_str()
            .expect("a contact id")
            .to_string()
    }

    /// Upserts contacts in one batch; every item must succeed. Their ids.
    pub fn contacts(&self, contacts: &[Value]) -> Vec<String> {
        let answer = self.api.post("/v1/contacts", &json!(contacts)).expect(200);
        let results = answer["results"].as_array().expect("results");
        assert_eq!(results.len(), contacts.len());
        results
            .iter()
            .enumerate()
            .map(|(i, r)| {
                assert_eq!(r["index"], i, "{r}");
                r["id"]
                    .as_str()
                    .unwrap_or_else(|| panic!("item {i} failed: {r}"))
                    .to_string()
            })
            .collect()
    }

    /// Posts events (one object or an array); the `{accepted, duplicates,
    /// rejected}` answer.
    pub fn events(&self, events: Value) -> Value {
        self.api.post("/v1/events", &events).expect(200)
    }

    /// Creates a segment and returns its id.
    pub fn segment(&self, name: &str, rule: Value) -> String {
        let created = self
            .api
            .post(
                "/v1/segments",
                &json!({"name": name, "description": "", "rule": rule}),
            )
            .ok();
        created["id"].as_str().expect("a segment id").to_string()
    }

    /// A saved segment's member count.
    pub fn count(&self, segment: &str) -> u64 {
        self.api
            .get(&format!("/v1/segments/{segment}/count"))
            .expect(200)["count"]
            .as_u64()
            .expect("a count")
    }

    /// A contact's events, every page, newest first.
    pub fn contact_events(&self, contact: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/v1/contacts/{contact}/events?limit=1000");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={}", enc(c)));
            }
            let page = self.api.get(&path).expect(200);
            out.extend(page["events"].as_array().expect("events").iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return out,
            }
        }
    }

    /// Every member id of a segment, following the cursor.
    pub fn member_ids(&self, segment: &str, limit: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/v1/segments/{segment}/members?limit={limit}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={}", enc(c)));
            }
            let page = self.api.get(&path).expect(200);
            out.extend(ids(&page["members"]));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return out,
            }
        }
    }

    /// The one contact whose `field` equals `value` (found through a
    /// preview), as `GET /v1/contacts/{id}` answers it.
    #[track_caller]
    pub fn find(&self, field: &str, value: &str) -> Value {
        let preview = self
            .api
            .post(
                "/v1/segments/preview",
                &json!({"rule": {"field": field, "op": "equals", "value": value, "case_sensitive": true}}),
            )
            .expect(200);
        assert_eq!(preview["count"], 1, "{field} = {value}: {preview}");
        let id = preview["sample"][0]["id"].as_str().expect("an id");
        self.api.get(&format!("/v1/contacts/{id}")).expect(200)
    }

    /// Every contact's id (through a preview of `{"all": []}` and a
    /// throwaway segment's members).
    pub fn all_contact_ids(&self) -> Vec<String> {
        let preview = self
            .api
            .post("/v1/segments/preview", &json!({"rule": {"all": []}}))
            .expect(200);
        let count = preview["count"].as_u64().expect("a count") as usize;
        if count <= 10 {
            return ids(&preview["sample"]);
        }
        let name = format!("all-{}", std::process::id());
        let id = self.segment(&name, json!({"all": []}));
        let out = self.member_ids(&id, 1000);
        self.api.delete(&format!("/v1/segments/{id}"));
        assert_eq!(out.len(), count);
        out
    }

    /// The custom events metered for `month`.
    pub fn usage_for(&self, month: &str) -> u64 {
        let usage = self.api.get("/v1/usage").expect(200);
        usage["months"]
            .as_array()
            .expect("months")
            .iter()
            .find(|m| m["month"] == month)
            .map_or(0, |m| m["custom_events"].as_u64().expect("a number"))
    }
}

/// The `id`s of a JSON array of contacts.
pub fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("an array")
        .iter()
        .map(|c| c["id"].as_str().expect("an id").to_string())
        .collect()
}

/// Parses CSV text (RFC 4180: quoted fields, doubled quotes, CRLF or LF)
/// into records.
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records
}

/// Percent-encodes a query value.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The current calendar month in UTC, `YYYY-MM`.
pub fn utc_month() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs();
    let (y, m, _) = civil_from_days((secs / 86_400) as i64);
    format!("{y:04}-{m:02}")
}

/// Days since 1970-01-01 to (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// An answer: status, the headers we look at, and the body as text.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub retry_after: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}), status {}: {}", self.status, self.body))
    }

    /// Asserts a 200 or 201 answer (SPEC leaves which one to the server)
    /// and returns the JSON body.
    #[track_caller]
    pub fn ok(&self) -> Value {
        assert!(
            self.status == 200 || self.status == 201,
            "expected 200 or 201, got {}: {}",
            self.status,
            self.body
        );
        self.json()
    }

    /// Asserts the status and returns the body as text.
    #[track_caller]
    pub fn expect_text(&self, status: u16) -> String {
        assert_eq!(
            self.status, status,
            "expected {status}, got {}: {}",
            self.status, self.body
        );
        self.body.clone()
    }

    /// Asserts the status and returns the JSON body (`null` when empty).
    #[track_caller]
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(
            self.status, status,
            "expected {status}, got {}: {}",
            self.status, self.body
        );
        if self.body.trim().is_empty() {
            Value::Null
        } else {
            self.json()
        }
    }

    /// Asserts an error answer of SPEC §4's shape with this status, and
    /// returns its `error` object.
    #[track_caller]
    pub fn error(&self, status: u16) -> Value {
        let body = self.expect(status);
        let error = &body["error"];
        assert!(
            error["code"].as_str().is_some_and(|c| !c.is_empty()),
            "{body}"
        );
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        let details = error["details"]
            .as_array()
            .unwrap_or_else(|| panic!("`details` must be an array: {body}"));
        for d in details {
            assert!(d["path"].is_string(), "{body}");
            assert!(d["message"].is_string(), "{body}");
        }
        error.clone()
    }
}

/// A blocking client bound to one server and (optionally) one key.
#[derive(Clone)]
pub struct Client {
    base: String,
    key: Option<String>,
    agent: ureq::Agent,
}

impl Client {
    pub fn new(base: &str, key: Option<&str>) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Client {
            base: base.to_string(),
            key: key.map(str::to_string),
            agent,
        }
    }

    /// The same server with another key (or none).
    pub fn with_key(&self, key: Option<&str>) -> Client {
        Client {
            base: self.base.clone(),
            key: key.map(str::to_string),
            agent: self.agent.clone(),
        }
    }

    pub fn get(&self, path: &str) -> Resp {
        self.send("GET", path, None)
    }

    pub fn delete(&self, path: &str) -> Resp {
        self.send("DELETE", path, None)
    }

    pub fn post(&self, path: &str, body: &Value) -> Resp {
        self.send(
            "POST",
            path,
            Some(("application/json", body.to_string().into_bytes())),
        )
    }

    pub fn put(&self, path: &str, body: &Value) -> Resp {
        self.send(
            "PUT",
            path,
            Some(("application/json", body.to_string().into_bytes())),
        )
    }

    pub fn patch(&self, path: &str, body: &Value) -> Resp {
        self.send(
            "PATCH",
            path,
            Some(("application/json", body.to_string().into_bytes())),
        )
    }

    /// A request with a raw body and content type.
    pub fn raw(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> Resp {
        self.send(method, path, Some((content_type, body.to_vec())))
    }

    /// A request with extra headers (e.g. a malformed `Authorization`).
    pub fn with_headers(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
        let url = format!("{}{path}", self.base);
        let mut req = ureq::http::Request::builder().method(method).uri(&url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(()).expect("a request");
        finish(self.agent.run(req)).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// POSTs a body over a plain socket, reading the answer while the body
    /// is still being written: a server may answer (413) and close before
    /// it has read a large body, which an ordinary client reports as a
    /// broken pipe.
    pub fn post_early_answer(&self, path: &str, content_type: &str, body: Vec<u8>) -> Resp {
        self.post_over_socket(path, content_type, body, false)
    }

    /// Like [`Client::post_early_answer`], with `Transfer-Encoding: chunked`
    /// instead of a `Content-Length`.
    pub fn post_early_answer_chunked(&self, path: &str, content_type: &str, body: Vec<u8>) -> Resp {
        self.post_over_socket(path, content_type, body, true)
    }

    fn post_over_socket(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
        chunked: bool,
    ) -> Resp {
        use std::io::Write;
        let addr = self.base.strip_prefix("http://").expect("an http base");
        let stream = std::net::TcpStream::connect(addr).expect("the server accepts");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("a read timeout");
        let mut head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nConnection: close\r\n"
        );
        let body = if chunked {
            head.push_str("Transfer-Encoding: chunked\r\n");
            let mut out = Vec::with_capacity(body.len() + body.len() / 1000);
            for piece in body.chunks(64 << 10) {
                out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                out.extend_from_slice(piece);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
            out
        } else {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
            body
        };
        if let Some(key) = &self.key {
            head.push_str(&format!("Authorization: Bearer {key}\r\n"));
        }
        head.push_str("\r\n");
        let mut writer = stream.try_clone().expect("a second handle");
        let writing = std::thread::spawn(move || {
            let _ = writer.write_all(head.as_bytes());
            let _ = writer.write_all(&body);
        });
        let mut reader = stream;
        let answer = read_answer(&mut reader, path);
        let _ = writing.join();
        answer
    }

    /// Opens a POST over a plain socket and sends its head only (with a
    /// `Content-Length`); the caller writes the body and then reads the
    /// answer with [`read_answer`].
    pub fn start_post(
        &self,
        path: &str,
        content_type: &str,
        content_length: usize,
    ) -> std::net::TcpStream {
        use std::io::Write;
        let addr = self.base.strip_prefix("http://").expect("an http base");
        let mut stream = std::net::TcpStream::connect(addr).expect("the server accepts");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("a read timeout");
        let mut head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {content_length}\r\nConnection: close\r\n"
        );
        if let Some(key) = &self.key {
            head.push_str(&format!("Authorization: Bearer {key}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).expect("the head is sent");
        stream
    }

    #[track_caller]
    pub fn send(&self, method: &str, path: &str, body: Option<(&str, Vec<u8>)>) -> Resp {
        self.try_send(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// Like [`Client::send`], but a transport error is returned.
    pub fn try_send(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<Resp, ureq::Error> {
        let url = format!("{}{path}", self.base);
        let auth = self.key.as_ref().map(|k| format!("Bearer {k}"));
        let with_auth = |b: ureq::http::request::Builder| match &auth {
            Some(a) => b.header("Authorization", a.as_str()),
            None => b,
        };
        let builder = with_auth(ureq::http::Request::builder().method(method).uri(&url));
        let result = match body {
            Some((content_type, bytes)) => {
                let req = builder
                    .header("Content-Type", content_type)
                    .body(bytes)
                    .expect("a request");
                self.agent.run(req)
            }
            None => {
                let req = builder.body(()).expect("a request");
                self.agent.run(req)
            }
        };
        finish(result)
    }
}

/// Reads one HTTP/1.1 answer (with a `Content-Length`) from a socket and
/// shuts the socket down.
pub fn read_answer(reader: &mut std::net::TcpStream, path: &str) -> Resp {
    use std::io::Read;
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 8192];
    let complete = |bytes: &[u8]| -> bool {
        let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
            return false;
        };
        let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok());
        length.is_some_and(|n| bytes.len() >= end + 4 + n)
    };
    while !complete(&bytes) {
        match reader.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
        }
    }
    let _ = reader.shutdown(std::net::Shutdown::Both);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no answer to POST {path}: {text:?}"));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {head}"));
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    Resp {
        status,
        retry_after: header("retry-after"),
        content_type: header("content-type"),
        body: body.to_string(),
    }
}

fn finish(
    result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Resp, ureq::Error> {
    let mut response = result?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let retry_after = header("retry-after");
    let content_type = header("content-type");
    let body = response
        .body_mut()
        .with_config()
        .limit(256 << 20)
        .read_to_string()?;
    Ok(Resp {
        status: response.status().as_u16(),
        retry_after,
        content_type,
        body,
    })
}
