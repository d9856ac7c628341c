//! Every ```rule example in docs/rules.md parses, validates against a
//! schema with the fields the docs use, and prints back to the same rule.
//! (Evaluating the examples against data belongs to the engine's tests.)

use flowseg_model::{FieldDef, FieldType, Schema};
use flowseg_rules::text::ParsedRule;
use flowseg_rules::{Rule, format_rule, parse_rule};

const DOCS: &str = include_str!("../../../docs/rules.md");

/// The fields the docs use, beside the standard ones.
fn schema() -> Schema {
    let f = |n: &str, t| FieldDef {
        name: n.into(),
        field_type: t,
    };
    Schema {
        custom: vec![
            f("Customer_Status", FieldType::Text),
            f("Customer Status", FieldType::Text),
            f("City", FieldType::Text),
            f("Age", FieldType::Number),
            f("Birthday", FieldType::Date),
            f("Vip", FieldType::Boolean),
        ],
    }
}

/// The saved segments the docs reference.
fn segments(id: &str) -> Option<Rule> {
    matches!(id, "newsletter" | "churned").then(Rule::everyone)
}

/// The ```rule blocks, with the line each starts on.
fn examples() -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (n, line) in DOCS.lines().enumerate() {
        match &mut current {
            None if line.trim() == "```rule" => current = Some((n + 2, String::new())),
            Some(_) if line.trim() == "```" => out.extend(current.take()),
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
            None => {}
        }
    }
    assert!(current.is_none(), "an unclosed ```rule block");
    out
}

#[test]
fn every_example_in_the_docs_parses_and_validates() {
    let examples = examples();
    assert!(examples.len() >= 70, "only {} examples", examples.len());
    for (line, text) in examples {
        let parsed = ParsedRule::parse(&text, None)
            .unwrap_or_else(|d| panic!("docs/rules.md:{line} does not parse:\n{d}"));
        if let Err(problems) = parsed.plan(&schema(), &segments, None) {
            let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
            panic!("docs/rules.md:{line} is not valid:\n{}", shown.join("\n\n"));
        }
        let printed = format_rule(&parsed.rule);
        assert_eq!(
            parse_rule(&printed).as_ref(),
            Ok(&parsed.rule),
            "docs/rules.md:{line} prints as {printed:?}"
        );
    }
}

#[test]
fn every_operator_appears_in_an_example() {
    let examples: Vec<String> = examples().into_iter().map(|(_, t)| t).collect();
    let all = examples.join("\n");
    for needle in [
        " = ",
        " != ",
        " > ",
        " >= ",
        " < ",
        " <= ",
        " contains ",
        " does not contain ",
        " starts with ",
        " ends with ",
        " in [",
        " not in [",
        " matches ",
        " has value",
        " has no value",
        " between ",
        " before ",
        " after ",
        " within last ",
        " more than 2w ago",
        " within next ",
        " is true",
        " is false",
        "case-sensitive",
        " where (",
        " at least ",
        " at most ",
        " more than 3 times",
        " less than ",
        " exactly ",
        " not exactly ",
        " times",
        " with sum of ",
        " with avg of ",
        " with min of ",
        " with max of ",
        " in last ",
        " more than 30d ago",
        " from ",
        " since ",
        " before 2026",
        " not followed by ",
        " followed by ",
        " on cart_id",
        " on [",
        "in segment ",
        "everyone",
        "all of (",
        "any of (",
        "not (",
        " or ",
    ] {
        assert!(all.contains(needle), "no example uses {needle:?}");
    }
}
