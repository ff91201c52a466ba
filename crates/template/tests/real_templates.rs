//! Real templates (openstack/heat-templates `hot/` and the project's seed stacks) parse and
//! validate, and the validate answer describes their parameters as Heat does.

use std::path::Path;

use std::collections::BTreeMap;

use ember_template::environment::Environment;
use ember_template::{parse_template, validate, Limits};
use serde_json::Value;

fn templates(dir: &str) -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(dir);
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

fn validate_text(name: &str, text: &str) -> Value {
    let template = parse_template(text, name, &Limits::default())
        .unwrap_or_else(|e| panic!("{name} does not parse: {e}"));
    validate(template, &Environment::default(), BTreeMap::new())
        .unwrap_or_else(|e| panic!("{name} is refused: {e}"))
}

#[test]
fn heat_templates_validate() {
    let all = templates("heat-templates");
    assert!(all.len() >= 10);
    for (name, text) in &all {
        let answer = validate_text(name, text);
        assert!(answer["Parameters"].is_object(), "{name}");
    }
}

#[test]
fn seed_templates_validate() {
    let all = templates("seed");
    assert!(!all.is_empty());
    for (name, text) in &all {
        validate_text(name, text);
    }
}

#[test]
fn hello_world_answer_matches_heats_shape() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/heat-templates/hello_world.yaml"),
    )
    .unwrap();
    let answer = validate_text("hello_world.yaml", &text);
    assert!(answer["Description"]
        .as_str()
        .unwrap()
        .starts_with("Hello world HOT template"));
    let key_name = &answer["Parameters"]["key_name"];
    assert_eq!(key_name["Type"], "String");
    assert_eq!(key_name["NoEcho"], "false");
    assert_eq!(key_name["Label"], "key_name");
    assert_eq!(key_name["CustomConstraint"], "nova.keypair");
    let db_port = &answer["Parameters"]["db_port"];
    assert_eq!(db_port["Type"], "Number");
    assert_eq!(db_port["Default"], 50000);
    assert_eq!(db_port["MinValue"], 40000);
    assert!(answer["Parameters"].get("OS::stack_name").is_none());
}
