//! Differential test against the real Python yaql 3.2.0: `oracle/cases.json`
//! holds expressions with the result (or the refusal) yaql gave when run
//! the way Heat runs it (see `oracle/generate.py`).

use ember_yaql::{evaluate, Error, Limits};
use serde_json::Value;

/// Where ember deliberately differs from Python yaql, and why.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "{a => 1, b => 2}.items()",
        "yaql turns a final dict-items view into a set of lists and fails with \
         TypeError; ember returns the pairs",
    ),
    (
        "set({a => 1}, b, 2)",
        "ember has no Python sets; the function form of `set` acts like the method",
    ),
    (
        "100000000000 * 100000000000",
        "integers beyond 64 bits: Python's are unbounded, ember reports an overflow",
    ),
    (
        "9223372036854775807 + 1",
        "integers beyond 64 bits: Python's are unbounded, ember reports an overflow",
    ),
];

#[test]
fn agrees_with_python_yaql() {
    let cases: Vec<Value> =
        serde_json::from_str(include_str!("oracle/cases.json")).expect("cases.json is JSON");
    let mut disagreements = Vec::new();
    for case in &cases {
        let expression = case["expression"].as_str().unwrap_or_default();
        if KNOWN_DIFFERENCES.iter().any(|(e, _)| *e == expression) {
            continue;
        }
        let ours = evaluate(expression, &case["data"], &Limits::default());
        let agrees = match (
            &ours,
            case.get("result"),
            case.get("error"),
            case.get("parse_error"),
        ) {
            (Ok(v), Some(expected), _, _) => v == expected,
            (Ok(Value::Array(items)), None, None, None) => {
                let mut ours = items.clone();
                ours.sort_by_key(|v| v.to_string());
                case.get("unordered") == Some(&Value::Array(ours))
            }
            (Err(e), _, _, Some(Value::String(message))) => {
                e.is_parse_error()
                    && (e.to_string() == *message
                        || !matches!(e, Error::Parse { .. } | Error::UnexpectedEnd))
            }
            (Err(Error::CollectionTooLarge(_)), _, Some(kind), _) => kind == "CollectionTooLarge",
            (Err(Error::MemoryQuota), _, Some(kind), _) => kind == "MemoryQuota",
            (Err(e), _, Some(kind), _) => {
                !e.is_parse_error() && kind != "CollectionTooLarge" && kind != "MemoryQuota"
            }
            _ => false,
        };
        if !agrees {
            disagreements.push(format!(
                "{expression}  data={}\n    yaql: {}\n    ours: {ours:?}",
                case["data"],
                case.get("result")
                    .or(case.get("unordered"))
                    .or(case.get("error"))
                    .or(case.get("parse_error"))
                    .unwrap_or(&Value::Null)
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} cases disagree:\n{}",
        disagreements.len(),
        cases.len(),
        disagreements.join("\n")
    );
}
