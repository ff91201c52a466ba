//! Evaluates JSON lines `[expression, data]` from stdin and prints
//! `{"result": ...}` or `{"error": ...}` per line; the driver for
//! `tests/oracle/fuzz.py`, which compares ember-yaql with Python yaql.

use std::io::BufRead;

fn main() {
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let out = match serde_json::from_str::<serde_json::Value>(&line) {
            Ok(case) => match ember_yaql::evaluate(
                case[0].as_str().unwrap_or_default(),
                &case[1],
                &ember_yaql::Limits::default(),
            ) {
                Ok(v) => serde_json::json!({ "result": v }),
                Err(e) => serde_json::json!({ "error": format!("{e:?}") }),
            },
            Err(e) => serde_json::json!({ "error": format!("bad input line: {e}") }),
        };
        println!("{out}");
    }
}
