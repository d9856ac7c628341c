//! Black-box tests of the `flowseg` binary: imports, rule evaluation, and
//! an import killed with SIGKILL losing nothing it reported and doubling
//! nothing.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

fn flowseg(data: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_flowseg"))
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .expect("the flowseg binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn account(data: &Path) -> String {
    let (ok, out, err) = flowseg(data, &["account", "create"]);
    assert!(ok, "{err}");
    out.trim().to_string()
}

#[test]
fn imports_contacts_and_events_then_counts_and_explains() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let acc = account(&data);
    assert!(flowseg(&data, &["field", "add", "--account", &acc, "Age", "number"]).0);
    assert!(
        flowseg(
            &data,
            &["field", "add", "--account", &acc, "Vip", "boolean"]
        )
        .0
    );
    let csv = dir.path().join("c.csv");
    std::fs::write(&csv, "Email,Age,Vip,Colour\nann@example.com,31,true,\nbob@example.com,abc,false,\ncid@example.com,40,no,red\ndan@example.com,,yes,\n").unwrap();
    let (ok, out, err) = flowseg(
        &data,
        &[
            "import",
            "contacts",
            "--account",
            &acc,
            csv.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("4 rows: 2 accepted (2 new contacts), 0 duplicates, 2 rejected"),
        "{out}"
    );
    // Row errors name the line and the field.
    assert!(
        err.contains("line 3: field `Age`: `abc` is not a number"),
        "{err}"
    );
    assert!(err.contains("line 4: field `Colour`"), "{err}");

    let events = dir.path().join("e.ndjson");
    std::fs::write(&events, concat!(
        "{\"name\": \"purchase\", \"contact\": {\"email\": \"ANN@example.com\"}, \"time\": \"2026-06-01T10:00:00Z\", \"attributes\": {\"price\": 120}}\n",
        "{\"name\": \"purchase\", \"contact\": {\"email\": \"eve@example.com\"}, \"time\": \"2026-06-02T10:00:00Z\", \"attributes\": {\"price\": 80}}\n",
        "{\"name\": \"purchase\", \"contact\": {\"phone\": \"12345\"}}\n",
        "not json\n",
    )).unwrap();
    let (ok, out, err) = flowseg(
        &data,
        &[
            "import",
            "events",
            "--account",
            &acc,
            events.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("4 rows: 2 accepted (1 new contacts), 0 duplicates, 2 rejected"),
        "{out}"
    );
    assert!(
        err.contains("line 3: ") && err.contains("line 4: not valid JSON"),
        "{err}"
    );

    let rule =
        r#"{"event": "purchase", "where": [{"attribute": "price", "op": "gt", "value": 100}]}"#;
    let (ok, out, err) = flowseg(
        &data,
        &[
            "count",
            "--account",
            &acc,
            "--rule-json",
            rule,
            "--as-of",
            "2026-07-01T00:00:00Z",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("\"count\":1"), "{out}");
    // Before the purchase happened, nobody matches.
    let (_, out, _) = flowseg(
        &data,
        &[
            "count",
            "--account",
            &acc,
            "--rule-json",
            rule,
            "--as-of",
            "2026-05-01",
        ],
    );
    assert!(out.contains("\"count\":0"), "{out}");
    let (ok, out, _) = flowseg(
        &data,
        &[
            "members",
            "--account",
            &acc,
            "--rule-json",
            rule,
            "--as-of",
            "2026-07-01T00:00:00Z",
            "--fields",
            "Age",
        ],
    );
    assert!(
        ok && out.contains("ann@example.com") && out.contains("\"Age\":31"),
        "{out}"
    );
    let (ok, out, err) = flowseg(
        &data,
        &[
            "explain",
            "--account",
            &acc,
            "--rule-json",
            rule,
            "--contact",
            "c0",
            "--as-of",
            "2026-07-01T00:00:00Z",
        ],
    );
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["member"], true);
    assert_eq!(v["tree"]["evidence"]["count"], 1);
    // An invalid rule is refused with the pointer of the fault.
    let (ok, _, err) = flowseg(
        &data,
        &[
            "count",
            "--account",
            &acc,
            "--rule-json",
            r#"{"field": "Agee", "op": "gt", "value": 1}"#,
        ],
    );
    assert!(
        !ok && err.contains("/rule/field") && err.contains("Did you mean `Age`?"),
        "{err}"
    );
}

#[test]
fn an_import_killed_mid_way_loses_nothing_reported_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let acc = account(&data);
    let total = 60_000usize;
    let file = dir.path().join("events.ndjson");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        for i in 0..total {
            writeln!(f, r#"{{"id": "ev-{i}", "name": "page_view", "contact": {{"external_id": "x{}"}}, "time": "2026-06-01T00:00:00Z", "attributes": {{"n": {i}}}}}"#, i % 500).unwrap();
        }
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowseg"))
        .arg("--data")
        .arg(&data)
        .args(["import", "events", "--account", &acc, "--batch", "1000"])
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut acknowledged = 0u64;
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut batches = 0;
    while let Some(Ok(line)) = lines.next() {
        if let Some(rest) = line.strip_prefix("committed ") {
            acknowledged = rest.split(' ').next().unwrap().parse().unwrap();
            batches += 1;
            if batches == 8 {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        acknowledged >= 8000,
        "the import acknowledged {acknowledged} rows"
    );

    let ids = stored_ids(&data, &acc);
    assert!(
        ids.len() as u64 >= acknowledged,
        "acknowledged {acknowledged}, stored {}",
        ids.len()
    );
    assert_no_doubles(&ids);

    // Running the same import again completes it: retries are safe with ids.
    let (ok, out, err) = flowseg(
        &data,
        &[
            "import",
            "events",
            "--account",
            &acc,
            "--batch",
            "5000",
            file.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    let stored_before = ids.len();
    assert!(
        out.contains(&format!("{} duplicates", stored_before)),
        "{out}"
    );
    let ids = stored_ids(&data, &acc);
    assert_eq!(ids.len(), total);
    assert_no_doubles(&ids);
}

fn stored_ids(data: &Path, account: &str) -> Vec<String> {
    let store = flowseg_store::Store::open(data).unwrap();
    let mut ids = Vec::new();
    store
        .for_each_event(account, |_, _, e| ids.push(e.id.unwrap_or_default()))
        .unwrap();
    ids
}

fn assert_no_doubles(ids: &[String]) {
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "some event is stored twice");
}
