//! Runs one phase of the parse + validate benchmark once, for instruction counts under
//! `valgrind --tool=callgrind` (deterministic where wall time on a shared machine is not):
//! `phases <none|events|document|template|validate> [resources]`; subtract `none` (the text's
//! generation) from the others.

use std::collections::BTreeMap;

use ember_template::environment::Environment;
use ember_template::{parse_document, parse_template, validate, Limits};
use saphyr_parser::Parser;

#[path = "../benches/support/generated.rs"]
mod generated;

fn main() {
    let mut args = std::env::args().skip(1);
    let phase = args.next().unwrap_or_else(|| "validate".into());
    let resources = args.next().and_then(|n| n.parse().ok()).unwrap_or(1_000);
    let text = generated::template(resources);
    let limits = Limits {
        max_template_size: usize::MAX,
        ..Limits::default()
    };
    match phase.as_str() {
        "none" => {}
        "events" => {
            let mut parser = Parser::new_from_str(&text);
            let mut events = 0usize;
            while let Some(Ok(_)) = parser.next_event() {
                events += 1;
            }
            println!("{events} events");
        }
        "document" => drop(parse_document(&text, "gen.yaml", &limits).expect("loads")),
        "template" => drop(parse_template(&text, "gen.yaml", &limits).expect("parses")),
        "validate" => {
            let template = parse_template(&text, "gen.yaml", &limits).expect("parses");
            drop(validate(template, &Environment::default(), BTreeMap::new()).expect("validates"));
        }
        other => eprintln!("unknown phase {other}"),
    }
}
