//! Every diagnostic the text language gives, pinned as rendered: what a
//! marketer sees for each slip, with the caret under the place to fix.

use flowseg_model::{FieldDef, FieldType, Schema};
use flowseg_rules::{NoSegments, check_rule_text, parse_rule};

fn schema() -> Schema {
    let f = |n: &str, t| FieldDef {
        name: n.into(),
        field_type: t,
    };
    Schema {
        custom: vec![
            f("Customer_Status", FieldType::Text),
            f("City", FieldType::Text),
            f("Age", FieldType::Number),
            f("Vip", FieldType::Boolean),
        ],
    }
}

/// (rule text, the syntax error as rendered)
#[rustfmt::skip]
const SYNTAX: &[(&str, &str)] = &[
    ("Customer_Status == \"vip\"", "error: expected an operator (`=`, `contains`, `in`, `between`, `has value`, …), found `==`\n --> 1:17\n  |\n1 | Customer_Status == \"vip\"\n  |                 ^^\n  |\n  = help: compare with a single `=`"),
    ("City = \"x\" && Age > 5", "error: expected `and`, `or` or the end of the rule, found `&&`\n --> 1:12\n  |\n1 | City = \"x\" && Age > 5\n  |            ^^\n  |\n  = help: write `and`"),
    ("City = \"x\" || Age > 5", "error: expected `and`, `or` or the end of the rule, found `||`\n --> 1:12\n  |\n1 | City = \"x\" || Age > 5\n  |            ^^\n  |\n  = help: write `or`"),
    ("!did MailOpen", "error: expected a condition (`City = \"Warsaw\"`, `did MailOpen`, `in segment \"vip\"`, …), found `!`\n --> 1:1\n  |\n1 | !did MailOpen\n  | ^\n  |\n  = help: write `not` before a condition, or `!=` to compare"),
    ("Age <> 5", "error: expected an operator (`=`, `contains`, `in`, `between`, `has value`, …), found `<>`\n --> 1:5\n  |\n1 | Age <> 5\n  |     ^^\n  |\n  = help: write `!=`"),
    ("City = 'vip'", "error: expected a value (`\"text\"`, `42`, `2026-06-01`, `[\"a\", \"b\"]`, …), found `'vip'`\n --> 1:8\n  |\n1 | City = 'vip'\n  |        ^^^^^\n  |\n  = help: write text in double quotes: `\"vip\"`"),
    ("City = “vip”", "error: expected a value (`\"text\"`, `42`, `2026-06-01`, `[\"a\", \"b\"]`, …), found `“vip”`\n --> 1:8\n  |\n1 | City = “vip”\n  |        ^^^^^\n  |\n  = help: replace the curly quotes with straight double quotes: `\"vip\"`"),
    ("City = \"war", "error: this string is not closed\n --> 1:8\n  |\n1 | City = \"war\n  |        ^^^^\n  |\n  = help: add the closing `\"`; a string ends on the line it starts on (write `\\n` for a line break)"),
    ("City = \"a\\qb\"", "error: `\\q` is not an escape sequence\n --> 1:10\n  |\n1 | City = \"a\\qb\"\n  |          ^^\n  |\n  = help: write `\\\\` for a backslash, `\\\"` for a quote, `\\n` for a line break"),
    ("did MailOpen in last 30", "error: the duration `30` has no unit\n --> 1:22\n  |\n1 | did MailOpen in last 30\n  |                      ^^\n  |\n  = help: add a unit: `30d` for days (or `30m` minutes, `30h` hours, `30w` weeks)"),
    ("CreateTime within last 30 days", "error: the duration `30` has no unit\n --> 1:24\n  |\n1 | CreateTime within last 30 days\n  |                        ^^^^^^^\n  |\n  = help: write the unit right after the number: `30d`"),
    ("did MailOpen in last 30days", "error: `30days` is not a duration\n --> 1:22\n  |\n1 | did MailOpen in last 30days\n  |                      ^^^^^^\n  |\n  = help: write `30d`"),
    ("did MailOpen in last 1.5h", "error: `1.5h` is not a duration\n --> 1:22\n  |\n1 | did MailOpen in last 1.5h\n  |                      ^^^^\n  |\n  = help: write a whole number and a unit, such as `90m` or `30d`; units are `m` minutes, `h` hours, `d` days and `w` weeks"),
    ("did MailOpen in last 0d", "error: `0d` is not a duration\n --> 1:22\n  |\n1 | did MailOpen in last 0d\n  |                      ^^\n  |\n  = help: a duration must be longer than zero"),
    ("did MailOpen in last 3months", "error: `3months` is not a duration\n --> 1:22\n  |\n1 | did MailOpen in last 3months\n  |                      ^^^^^^^\n  |\n  = help: there is no month unit: write days, such as `90d`"),
    ("Age betwen 18 and 35", "error: expected an operator (`=`, `contains`, `in`, `between`, `has value`, …), found `betwen`\n --> 1:5\n  |\n1 | Age betwen 18 and 35\n  |     ^^^^^^\n  |\n  = help: did you mean `between`?"),
    ("did MailOpen whre url contains \"x\"", "error: expected a clause (`where …`, `at least 2 times`, `in last 30d`, …), `and`, `or` or the end of the rule, found `whre`\n --> 1:14\n  |\n1 | did MailOpen whre url contains \"x\"\n  |              ^^^^\n  |\n  = help: did you mean `where`?"),
    ("did MailOpen in lst 30d", "error: expected `last`, found `lst`\n --> 1:17\n  |\n1 | did MailOpen in lst 30d\n  |                 ^^^\n  |\n  = help: did you mean `last`?"),
    ("City = \"Warsaw\" Age > 30", "error: expected `and`, `or` or the end of the rule, found `Age`\n --> 1:17\n  |\n1 | City = \"Warsaw\" Age > 30\n  |                 ^^^\n  |\n  = help: to combine two conditions, put `and` or `or` before `Age`"),
    ("did MailOpen did MailClick", "error: expected a clause (`where …`, `at least 2 times`, `in last 30d`, …), `and`, `or` or the end of the rule, found `did`\n --> 1:14\n  |\n1 | did MailOpen did MailClick\n  |              ^^^\n  |\n  = help: to combine two conditions, put `and` or `or` before `did`"),
    ("(City = \"Warsaw\" and Age > 30", "error: expected `and`, `or` or `)`, found the end of the rule\n --> 1:30\n  |\n1 | (City = \"Warsaw\" and Age > 30\n  |                              ^\n  |\n  = help: close the parenthesis with `)`"),
    ("City = \"Warsaw\")", "error: expected `and`, `or` or the end of the rule, found `)`\n --> 1:16\n  |\n1 | City = \"Warsaw\")\n  |                ^\n  |\n  = help: this `)` has no matching `(`: remove it"),
    ("", "error: the rule is empty\n --> 1:1\n  |\n1 | \n  | ^\n  |\n  = help: write a condition such as `City = \"Warsaw\"`, or `everyone`"),
    ("City = Warsaw", "error: expected a value, found the name `Warsaw`\n --> 1:8\n  |\n1 | City = Warsaw\n  |        ^^^^^^\n  |\n  = help: write text in double quotes: `\"Warsaw\"`"),
    ("did not MailOpen", "error: `did not` is written `not did`\n --> 1:1\n  |\n1 | did not MailOpen\n  | ^^^^^^^\n  |\n  = help: for contacts who never did it write `not did <event>`, or count with `did <event> exactly 0 times`"),
    ("Vip is \"yes\"", "error: `is` takes `true` or `false`, found `\"yes\"`\n --> 1:5\n  |\n1 | Vip is \"yes\"\n  |     ^^^^^^^^\n  |\n  = help: write `=` to compare with a value"),
    ("did X where a = 1 where b = 2", "error: this event condition already has a `where`\n --> 1:19\n  |\n1 | did X where a = 1 where b = 2\n  |                   ^^^^^\n  |\n  = help: put all attribute conditions in one `where (… and …)`"),
    ("did X where (a = 1 or b = 2)", "error: conditions inside `where` are joined with `and` only: every one must hold\n --> 1:20\n  |\n1 | did X where (a = 1 or b = 2)\n  |                    ^^\n  |\n  = help: to accept either, write two event conditions joined by `or`: `did X where a = 1 or did X where b = 2`"),
    ("did X within 1h", "error: `within 1h` sets the time allowed between two events\n --> 1:7\n  |\n1 | did X within 1h\n  |       ^^^^^^^^^\n  |\n  = help: put it after `followed by <event>`; for a time window write `in last 1h`"),
    ("did X in next 7d", "error: events are counted up to now, so their window looks back\n --> 1:7\n  |\n1 | did X in next 7d\n  |       ^^^^^^^\n  |\n  = help: write `in last 7d`; `within next` is for date fields such as a birthday"),
    ("did X before 30d", "error: `before 30d` is not a window\n --> 1:7\n  |\n1 | did X before 30d\n  |       ^^^^^^^^^^\n  |\n  = help: for events older than that write `more than 30d ago`"),
    ("did X from 2026-07-01 to 2026-06-01", "error: the window ends before it starts\n --> 1:12\n  |\n1 | did X from 2026-07-01 to 2026-06-01\n  |            ^^^^^^^^^^^^^^^^^^^^^^^^\n  |\n  = help: write the earlier date first: `from <start> to <end>` (the end is not included)"),
    ("did X between 5 and 2 times", "error: the low bound 5 is greater than the high bound 2\n --> 1:15\n  |\n1 | did X between 5 and 2 times\n  |               ^^^^^^^\n  |\n  = help: write `between 2 and 5 times`"),
    ("did X from 2026-02-30", "error: `2026-02-30` is not a date: use an RFC 3339 date-time such as `2026-06-01T12:00:00Z` or a plain date such as `2026-06-01`\n --> 1:12\n  |\n1 | did X from 2026-02-30\n  |            ^^^^^^^^^^\n  |\n  = help: write a date that exists, as `YYYY-MM-DD` (a month 01–12, a day that month has), optionally with a time such as `T12:00:00Z` (hours 00–23)"),
    ("did `X Y`", "error: `X Y` is not a valid event name: use 1 to 100 letters, digits, `_`, `.`, `:` or `-`\n --> 1:5\n  |\n1 | did `X Y`\n  |     ^^^^^\n  |\n  = help: write the name the events are sent with, such as `purchase` or `MailOpen`"),
    ("did X at least 2", "error: expected `times`, found the end of the rule\n --> 1:17\n  |\n1 | did X at least 2\n  |                 ^\n  |\n  = help: add `times` after `2`"),
    ("did X more than 30 ago", "error: a duration needs a unit\n --> 1:17\n  |\n1 | did X more than 30 ago\n  |                 ^^^^^^\n  |\n  = help: write it with a unit, such as `more than 30d ago` (units: `m` minutes, `h` hours, `d` days, `w` weeks)"),
    ("did X with total of price > 5", "error: expected `sum`, `avg`, `min` or `max`, found `total`\n --> 1:12\n  |\n1 | did X with total of price > 5\n  |            ^^^^^\n  |\n  = help: write `sum` for a total"),
    ("any of ()", "error: `any of ()` is empty, and an empty `any` matches nobody\n --> 1:8\n  |\n1 | any of ()\n  |        ^^\n  |\n  = help: give at least one condition; for nobody write `not everyone`"),
    ("Age greater than 5", "error: expected an operator (`=`, `contains`, `in`, `between`, `has value`, …), found `greater`\n --> 1:5\n  |\n1 | Age greater than 5\n  |     ^^^^^^^\n  |\n  = help: write `>` (or `>=`)"),
    ("Age not_equals 5", "error: expected an operator (`=`, `contains`, `in`, `between`, `has value`, …), found `not_equals`\n --> 1:5\n  |\n1 | Age not_equals 5\n  |     ^^^^^^^^^^\n  |\n  = help: write `!=`"),
    ("City = \"Warsaw\"\nand Age betwen 1 and 2", "error: expected an operator (`=`, `contains`, `in`, `between`, `has value`, …), found `betwen`\n --> 2:9\n  |\n2 | and Age betwen 1 and 2\n  |         ^^^^^^\n  |\n  = help: did you mean `between`?"),
    ("Age between 1 and", "error: expected a value (`\"text\"`, `42`, `2026-06-01`, `[\"a\", \"b\"]`, …), found the end of the rule\n --> 1:18\n  |\n1 | Age between 1 and\n  |                  ^\n  |\n  = help: add a value (`\"text\"`, `42`, `2026-06-01`, `[\"a\", \"b\"]`, …) after `and`"),
    ("Age in [1, 2", "error: expected `,` or `]`, found the end of the rule\n --> 1:13\n  |\n1 | Age in [1, 2\n  |             ^\n  |\n  = help: add `,` or `]` after `2`"),
    ("did X at least 2 times at most 3 times", "error: this event condition already has a count or an aggregate\n --> 1:24\n  |\n1 | did X at least 2 times at most 3 times\n  |                        ^^\n  |\n  = help: an event condition takes one count (`at least 2 times`) or one aggregate (`with sum of price > 100`)"),
    ("City = 30d", "error: `30d` is a duration, which is not a value here\n --> 1:8\n  |\n1 | City = 30d\n  |        ^^^\n  |\n  = help: durations follow `in last`, `within next` or `more than`, as in `CreateTime in last 30d`; for text write `\"…\"`"),
    ("Age > 5 and", "error: expected a condition (`City = \"Warsaw\"`, `did MailOpen`, `in segment \"vip\"`, …), found the end of the rule\n --> 1:12\n  |\n1 | Age > 5 and\n  |            ^\n  |\n  = help: add a condition (`City = \"Warsaw\"`, `did MailOpen`, `in segment \"vip\"`, …) after `and`"),
    ("did X followed purchase", "error: expected `by`, found `purchase`\n --> 1:16\n  |\n1 | did X followed purchase\n  |                ^^^^^^^^\n  |\n  = help: put `by` before `purchase`"),
    ("Age 5", "error: expected an operator (`=`, `contains`, `in`, `between`, `has value`, …), found `5`\n --> 1:5\n  |\n1 | Age 5\n  |     ^\n  |\n  = help: put an operator before the value, such as `= 5`"),
    ("City = \"x\" and or Age > 1", "error: expected a condition (`City = \"Warsaw\"`, `did MailOpen`, `in segment \"vip\"`, …), found `or`\n --> 1:16\n  |\n1 | City = \"x\" and or Age > 1\n  |                ^^\n  |\n  = help: write a condition (`City = \"Warsaw\"`, `did MailOpen`, `in segment \"vip\"`, …) in place of `or`"),
    ("did X where", "error: expected an attribute name such as `price`, found the end of the rule\n --> 1:12\n  |\n1 | did X where\n  |            ^\n  |\n  = help: add an attribute name such as `price` after `where`"),
    ("City in [\"a\" \"b\"]", "error: expected `,` or `]`, found `\"b\"`\n --> 1:14\n  |\n1 | City in [\"a\" \"b\"]\n  |              ^^^\n  |\n  = help: put `,` or `]` before `\"b\"`"),
    ("# only a comment", "error: the rule is empty\n --> 1:17\n  |\n1 | # only a comment\n  |                 ^\n  |\n  = help: write a condition such as `City = \"Warsaw\"`, or `everyone`"),
    ("Age > 18 and $", "error: expected a condition (`City = \"Warsaw\"`, `did MailOpen`, `in segment \"vip\"`, …), found `$`\n --> 1:14\n  |\n1 | Age > 18 and $\n  |              ^\n  |\n  = help: `$` is not part of the rule language; text values go in double quotes"),
    ("did X with sum of price > 5 times", "error: expected a clause (`where …`, `at least 2 times`, `in last 30d`, …), `and`, `or` or the end of the rule, found `times`\n --> 1:29\n  |\n1 | did X with sum of price > 5 times\n  |                             ^^^^^\n  |\n  = help: remove `times` and what follows, or write a clause (`where …`, `at least 2 times`, `in last 30d`, …), `and` or `or` in its place"),
    ("did X in last 7d in last 8d", "error: this event condition already has a time window\n --> 1:18\n  |\n1 | did X in last 7d in last 8d\n  |                  ^^\n  |\n  = help: give one window: `in last 30d`, `more than 30d ago`, or `from 2026-06-01 to 2026-07-01`"),
    ("did X followed by Y within 1h within 2h", "error: this `followed by` already has a `within`\n --> 1:31\n  |\n1 | did X followed by Y within 1h within 2h\n  |                               ^^^^^^\n  |\n  = help: remove this one: a `followed by` takes a `within` once"),
    ("did MailOpen and in segment", "error: expected a segment in double quotes, such as `\"newsletter\"`, found the end of the rule\n --> 1:28\n  |\n1 | did MailOpen and in segment\n  |                            ^\n  |\n  = help: add a segment in double quotes, such as `\"newsletter\"` after `segment`"),
];

/// (rule text, its validation problems as rendered)
#[rustfmt::skip]
const SCHEMA: &[(&str, &str)] = &[
    ("Cutsomer_Status = \"vip\"", "error: there is no field `Cutsomer_Status` in this account's schema\n --> 1:1\n  |\n1 | Cutsomer_Status = \"vip\"\n  | ^^^^^^^^^^^^^^^\n  |\n  = help: did you mean `Customer_Status`?"),
    ("Age contains \"5\"", "error: `contains` does not apply to the number field `Age`\n --> 1:5\n  |\n1 | Age contains \"5\"\n  |     ^^^^^^^^\n  |\n  = help: use one of `=`, `!=`, `>`, `>=`, `<`, `<=`, `between`, `in`, `not in`, `has value`, `has no value`"),
    ("Age = 5 case-sensitive", "error: `case-sensitive` applies to text fields only, and `Age` is a number field\n --> 1:9\n  |\n1 | Age = 5 case-sensitive\n  |         ^^^^^^^^^^^^^^"),
    ("City = 5", "error: expected a text value but got a number\n --> 1:8\n  |\n1 | City = 5\n  |        ^"),
    ("Vip = true", "error: `=` does not apply to the boolean field `Vip`\n --> 1:5\n  |\n1 | Vip = true\n  |     ^\n  |\n  = help: use one of `is true`, `is false`, `has value`, `has no value`"),
    ("City = \"\"", "error: an empty text operand is not allowed: to find contacts without a value use `has no value`\n --> 1:8\n  |\n1 | City = \"\"\n  |        ^^"),
    ("did X where a = 1 and b = 2", "error: there is no field `b` in this account's schema\n --> 1:23\n  |\n1 | did X where a = 1 and b = 2\n  |                       ^\n  |\n  = help: if `b` is an attribute of `X`, put the conditions in parentheses: `where (a … and b …)`"),
    ("in segment \"nope\"", "error: there is no segment with id `nope`: reference a saved segment by its id\n --> 1:12\n  |\n1 | in segment \"nope\"\n  |            ^^^^^^"),
    ("Age > 1 and City matches \"(\"", "error: `(` is not a valid regular expression: error: unclosed group\n --> 1:26\n  |\n1 | Age > 1 and City matches \"(\"\n  |                          ^^^"),
    ("CreateTime within last \"30x\"", "error: `30x` is not a duration: write a positive whole number and a unit m, h, d or w, such as `30d` or `12h`\n --> 1:24\n  |\n1 | CreateTime within last \"30x\"\n  |                        ^^^^^"),
    ("did X where d before \"soon\"", "error: `soon` is not a date: use an RFC 3339 date-time such as `2026-06-01T12:00:00Z` or a plain date such as `2026-06-01`\n --> 1:22\n  |\n1 | did X where d before \"soon\"\n  |                      ^^^^^^"),
    ("Age between 5 and 1", "error: the low bound 5 is greater than the high bound 1\n --> 1:13\n  |\n1 | Age between 5 and 1\n  |             ^^^^^^^\n  |\n  = help: write the lower bound first"),
    ("City = \"a\" and not (Age > \"x\" or Vip = 1)", "error: expected a number but got a string\n --> 1:27\n  |\n1 | City = \"a\" and not (Age > \"x\" or Vip = 1)\n  |                           ^^^\n\nerror: `=` does not apply to the boolean field `Vip`\n --> 1:38\n  |\n1 | City = \"a\" and not (Age > \"x\" or Vip = 1)\n  |                                      ^\n  |\n  = help: use one of `is true`, `is false`, `has value`, `has no value`"),
];

#[test]
fn syntax_errors_are_pinned() {
    for (text, expected) in SYNTAX {
        let rendered = match parse_rule(text) {
            Ok(rule) => format!("parsed: {rule:?}"),
            Err(d) => d.to_string(),
        };
        assert_eq!(&rendered, expected, "for {text:?}:\n{rendered}");
    }
}

/// SPEC §3: a syntax error points at its place "with a caret and a hint".
#[test]
fn every_syntax_error_has_a_hint() {
    let more = [
        "City = \"a\" and",
        "City = \"a\"\nand Age >> 3",
        "did purchase at least two times",
        "City contains",
        "Age between 1 35",
        "did cart_add not followed purchase",
        "Age >",
        "did",
        "Age between 5",
        "Age >\n and",
        "did X on",
        "did X followed by Y on ()",
        "did X where price > 1e999",
        "all of (",
        "not",
        "in segment",
        "did X at most",
        "did X with avg price > 2",
        "(",
        ")",
        "Age in [",
        "Age = 5 5",
    ];
    for text in SYNTAX.iter().map(|(t, _)| *t).chain(more) {
        let d = parse_rule(text).expect_err(text);
        let hint = d.hint.as_deref().unwrap_or("");
        assert!(!hint.is_empty(), "no hint for {text:?}:\n{d}");
    }
}

#[test]
fn validation_problems_are_pinned() {
    for (text, expected) in SCHEMA {
        let rendered = match check_rule_text(text, &schema(), &NoSegments) {
            Ok(_) => "valid".to_string(),
            Err(ds) => ds
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n\n"),
        };
        assert_eq!(&rendered, expected, "for {text:?}:\n{rendered}");
    }
}

#[test]
fn diagnostics_carry_their_parts() {
    let d = parse_rule("City = \"Warsaw\"\nand Age betwen 1 and 2").unwrap_err();
    assert_eq!((d.line, d.column, d.span.clone()), (2, 9, 24..30));
    assert_eq!(
        d.expected,
        vec!["an operator (`=`, `contains`, `in`, `between`, `has value`, …)".to_string()]
    );
    assert_eq!(d.hint.as_deref(), Some("did you mean `between`?"));
    assert_eq!(d.source_line, "and Age betwen 1 and 2");
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["span"], serde_json::json!({"start": 24, "end": 30}));
}

#[test]
fn columns_count_characters_and_carets_keep_tabs() {
    let d = parse_rule("Miasto = \"Łódź\"\tand\tWiek == 5").unwrap_err();
    assert_eq!((d.line, d.column), (1, 26));
    assert!(d.to_string().ends_with("1 | Miasto = \"Łódź\"\tand\tWiek == 5\n  |                \t   \t     ^^\n  |\n  = help: compare with a single `=`"), "{d}");
}
