//! Account and field administration, and rule evaluation on a local data
//! directory.

use std::path::Path;
use std::time::Instant;

use flowseg_engine::Engine;
use flowseg_model::time::{format_instant, now_ms, parse_instant};
use flowseg_model::{FieldDef, FieldType};
use flowseg_rules::{Plan, Rule};
use flowseg_store::{AccountRecord, Store, contact_seq};
use serde_json::{Value, json};

use crate::RuleArgs;

fn open_store(data: &Path) -> Result<Store, String> {
    Store::open(data).map_err(|e| e.to_string())
}

fn open_engine(data: &Path) -> Result<Engine, String> {
    Engine::open(data).map_err(|e| e.to_string())
}

/// Creates an account (the CLI works without API keys: those belong to the server).
pub fn create_account_in(store: &Store) -> Result<String, String> {
    let id = store.new_account_id().map_err(|e| e.to_string())?;
    store
        .create_account(AccountRecord {
            id: id.clone(),
            created_at: now_ms(),
            addons: Default::default(),
            keys: Vec::new(),
        })
        .map_err(|e| e.to_string())?;
    Ok(id)
}

pub fn create_account(data: &Path) -> Result<(), String> {
    let id = create_account_in(&open_store(data)?)?;
    println!("{id}");
    Ok(())
}

pub fn list_accounts(data: &Path) -> Result<(), String> {
    for a in open_store(data)?.accounts().map_err(|e| e.to_string())? {
        println!("{}\tcreated {}", a.id, format_instant(a.created_at));
    }
    Ok(())
}

pub fn add_field(data: &Path, account: &str, name: &str, ty: &str) -> Result<(), String> {
    let field_type = FieldType::parse(ty)
        .ok_or_else(|| format!("`{ty}` is not a field type: use text, number, date or boolean"))?;
    open_store(data)?
        .add_field(
            account,
            FieldDef {
                name: name.into(),
                field_type,
            },
        )
        .map_err(|e| e.to_string())?;
    println!("declared {name} ({field_type})");
    Ok(())
}

pub fn list_fields(data: &Path, account: &str) -> Result<(), String> {
    for f in open_store(data)?
        .schema(account)
        .map_err(|e| e.to_string())?
        .fields()
    {
        println!("{}\t{}", f.name, f.field_type);
    }
    Ok(())
}

pub fn delete_field(data: &Path, account: &str, name: &str) -> Result<(), String> {
    open_store(data)?
        .delete_field(account, name)
        .map_err(|e| e.to_string())?;
    println!("deleted {name}");
    Ok(())
}

/// Reads the rule given on the command line.
pub fn rule_json(args: &RuleArgs) -> Result<Value, String> {
    let text = match (&args.rule, &args.rule_json) {
        (Some(path), _) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?,
        (None, Some(s)) => s.clone(),
        (None, None) => return Err("give the rule with --rule FILE or --rule-json JSON".into()),
    };
    if text.trim_start().starts_with('{') {
        return serde_json::from_str(&text).map_err(|e| format!("the rule is not valid JSON: {e}"));
    }
    // Rule text (SPEC §3).
    flowseg_rules::text::parse_rule(&text)
        .map(|r| flowseg_rules::rule_to_json(&r))
        .map_err(|d| d.to_string())
}

pub fn evaluation_time(as_of: Option<&str>) -> Result<i64, String> {
    match as_of {
        Some(s) => parse_instant(s).map_err(|e| format!("--as-of: {e}")),
        None => Ok(now_ms()),
    }
}

/// Validates and plans a rule against an account.
pub fn plan(engine: &Engine, account: &str, json: &Value) -> Result<(Rule, Plan), String> {
    let schema = engine.schema(account).map_err(|e| e.to_string())?;
    engine
        .segment_source(account)
        .plan(json, "/rule", &schema, None)
        .map_err(|problems| {
            let lines: Vec<String> = problems
                .iter()
                .map(|p| format!("  {}: {}", p.path, p.message))
                .collect();
            format!("the rule is invalid:\n{}", lines.join("\n"))
        })
}

pub fn count(data: &Path, args: &RuleArgs) -> Result<(), String> {
    let engine = open_engine(data)?;
    let now = evaluation_time(args.as_of.as_deref())?;
    let (_, plan) = plan(&engine, &args.account, &rule_json(args)?)?;
    let index = engine.index(&args.account).map_err(|e| e.to_string())?;
    let index = index.read().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let members = index.evaluate(&plan, now);
    let took = started.elapsed();
    println!(
        "{}",
        json!({"count": members.len(), "as_of": format_instant(now), "took_ms": took.as_secs_f64() * 1000.0})
    );
    Ok(())
}

pub fn members(
    data: &Path,
    args: &RuleArgs,
    limit: usize,
    fields: &[String],
) -> Result<(), String> {
    let engine = open_engine(data)?;
    let now = evaluation_time(args.as_of.as_deref())?;
    let (_, plan) = plan(&engine, &args.account, &rule_json(args)?)?;
    let index = engine.index(&args.account).map_err(|e| e.to_string())?;
    let index = index.read().unwrap_or_else(|e| e.into_inner());
    for ordinal in index.evaluate(&plan, now).iter().take(limit) {
        let mut row = serde_json::Map::new();
        row.insert(
            "id".into(),
            index.contact_id(ordinal).unwrap_or_default().into(),
        );
        for name in ["Email", "MobilePhone", "ExternalId"]
            .into_iter()
            .chain(fields.iter().map(String::as_str))
        {
            let value = index
                .field_value(ordinal, name)
                .map_or(Value::Null, |v| v.to_json());
            row.insert(name.to_string(), value);
        }
        println!("{}", Value::Object(row));
    }
    Ok(())
}

pub fn explain(data: &Path, args: &RuleArgs, contact: &str) -> Result<(), String> {
    let engine = open_engine(data)?;
    let now = evaluation_time(args.as_of.as_deref())?;
    let (rule, plan) = plan(&engine, &args.account, &rule_json(args)?)?;
    let tree = explain_in(&engine, &args.account, &rule, &plan, contact, now)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&tree).unwrap_or_default()
    );
    Ok(())
}

pub fn explain_in(
    engine: &Engine,
    account: &str,
    rule: &Rule,
    plan: &Plan,
    contact: &str,
    now: i64,
) -> Result<Value, String> {
    let index = engine.index(account).map_err(|e| e.to_string())?;
    let index = index.read().unwrap_or_else(|e| e.into_inner());
    let ordinal = contact_seq(contact)
        .and_then(|s| u32::try_from(s).ok())
        .filter(|o| index.live().contains(*o))
        .ok_or_else(|| format!("there is no contact `{contact}` in account `{account}`"))?;
    let (member, tree) = index.explain(rule, plan, &engine.segment_source(account), ordinal, now);
    Ok(json!({"contact_id": contact, "as_of": format_instant(now), "member": member, "tree": tree}))
}
