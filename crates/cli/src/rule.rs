//! `flowseg rule check|fmt|to-json|from-json`: the rule language offline.
//! With `--account`, rules are also validated against that account's
//! schema and segment references are resolved by name.

use std::io::Read;
use std::path::Path;

use flowseg_rules::text::{ParsedRule, format_rule, parse_rule};
use flowseg_rules::{NoSegments, rule_from_json, rule_to_json};
use flowseg_store::Store;

use crate::RuleToolArgs;

fn read_input(file: &Path) -> Result<String, String> {
    if file.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| format!("reading standard input: {e}"))?;
        Ok(s)
    } else {
        std::fs::read_to_string(file).map_err(|e| format!("cannot read `{}`: {e}", file.display()))
    }
}

/// Parses rule text, and with an account validates it too; every problem
/// is rendered rustc-style.
fn parse_checked(
    data: &Path,
    args: &RuleToolArgs,
    text: &str,
) -> Result<flowseg_rules::Rule, String> {
    let Some(account) = &args.account else {
        return parse_rule(text).map_err(|d| d.to_string());
    };
    let store = Store::open(data).map_err(|e| e.to_string())?;
    let segments = store.segments(account).map_err(|e| e.to_string())?;
    let resolve = |label: &str| flowseg_store::resolve_segment_label(&segments, label);
    let parsed = ParsedRule::parse(text, Some(&resolve)).map_err(|d| d.to_string())?;
    let schema = store.schema(account).map_err(|e| e.to_string())?;
    let source = |id: &str| {
        segments
            .iter()
            .find(|s| s.id == id)
            .and_then(|s| rule_from_json(&s.rule, "").ok())
    };
    parsed.plan(&schema, &source, None).map_err(|ds| {
        ds.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    Ok(parsed.rule)
}

pub fn check(data: &Path, args: &RuleToolArgs) -> Result<(), String> {
    parse_checked(data, args, &read_input(&args.file)?)?;
    println!("ok");
    Ok(())
}

pub fn fmt(data: &Path, args: &RuleToolArgs) -> Result<(), String> {
    let rule = parse_checked(data, args, &read_input(&args.file)?)?;
    println!("{}", format_rule(&rule));
    Ok(())
}

pub fn to_json(data: &Path, args: &RuleToolArgs) -> Result<(), String> {
    let rule = parse_checked(data, args, &read_input(&args.file)?)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&rule_to_json(&rule)).unwrap_or_default()
    );
    Ok(())
}

pub fn from_json(_data: &Path, args: &RuleToolArgs) -> Result<(), String> {
    let json: serde_json::Value = serde_json::from_str(&read_input(&args.file)?)
        .map_err(|e| format!("the rule is not valid JSON: {e}"))?;
    let rule = rule_from_json(&json, "").map_err(|problems| {
        problems
            .iter()
            .map(|p| {
                format!(
                    "{}: {}",
                    if p.path.is_empty() { "/" } else { &p.path },
                    p.message
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    // Structural validation only: with no account there is no schema.
    let _ = NoSegments;
    println!("{}", format_rule(&rule));
    Ok(())
}
