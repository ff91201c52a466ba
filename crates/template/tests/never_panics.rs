//! No input makes the loader, the template parser or the evaluator panic or run away.

use std::collections::BTreeMap;

use ember_template::environment::Environment;
use ember_template::{parse_document, parse_template, validate, Limits};
use proptest::prelude::*;

/// YAML-ish text built from the tokens templates are made of, so inputs reach deep into the
/// parser and evaluator instead of failing at the first character.
fn yamlish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("heat_template_version: 2021-04-16\n".to_string()),
        Just("heat_template_version: 2013-05-23\n".to_string()),
        Just("resources:\n".to_string()),
        Just("  r:\n    type: T\n    properties:\n".to_string()),
        Just("outputs:\n  o:\n    value: ".to_string()),
        Just("conditions:\n  c: ".to_string()),
        Just("parameters:\n  p:\n    type: json\n    default: ".to_string()),
        Just("{get_param: p}".to_string()),
        Just("{get_attr: [r, a, 0]}".to_string()),
        Just("{get_resource: r}".to_string()),
        Just("{repeat: {for_each: {x: [1, 2, 3]}, template: {k: x}}}".to_string()),
        Just("{list_join: [',', [a, b]]}".to_string()),
        Just("{str_replace: {template: ab, params: {a: [1]}}}".to_string()),
        Just("{if: [c, 1]}".to_string()),
        Just("{not: c}".to_string()),
        Just("{equals: [1, 1.0]}".to_string()),
        Just("{map_merge: [{a: 1}, null]}".to_string()),
        Just("{make_url: {host: h, port: 99}}".to_string()),
        Just("{str_split: [',', 'a,b', 9]}".to_string()),
        Just("&a [1, 2]".to_string()),
        Just("*a".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just(": ".to_string()),
        Just("- ".to_string()),
        Just("\n".to_string()),
        Just("  ".to_string()),
        Just("'".to_string()),
        Just("\"".to_string()),
        Just("!!str ".to_string()),
        Just("<<: ".to_string()),
        "[a-z0-9_:%.\\-]{0,8}".prop_map(|s| s),
    ];
    prop::collection::vec(token, 0..40).prop_map(|parts| parts.concat())
}

fn run_all(text: &str) {
    let limits = Limits::default();
    let _ = parse_document(text, "fuzz.yaml", &limits);
    if let Ok(template) = parse_template(text, "fuzz.yaml", &limits) {
        let _ = validate(template, &Environment::default(), BTreeMap::new());
    }
}

/// Document data: JSON values without floats (YAML 1.1 and JSON type float text differently).
fn data() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[ -~\u{e9}\u{2603}]{0,10}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-z0-9_ .-]{0,8}", inner), 0..5)
                .prop_map(|e| Value::Object(e.into_iter().collect())),
        ]
    })
}

/// Writes data as block-style YAML (strings double-quoted, which JSON's escapes are valid in).
fn block_yaml(value: &serde_json::Value, indent: usize, out: &mut String) {
    use serde_json::Value;
    let pad = " ".repeat(indent);
    let nested = |v: &Value| match v {
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
        _ => false,
    };
    match value {
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                out.push_str(&pad);
                out.push('-');
                if nested(item) {
                    out.push('\n');
                    block_yaml(item, indent + 2, out);
                } else {
                    out.push_str(&format!(" {item}\n"));
                }
            }
        }
        Value::Object(map) if !map.is_empty() => {
            for (key, item) in map {
                out.push_str(&format!("{pad}{}:", Value::String(key.clone())));
                if nested(item) {
                    out.push('\n');
                    block_yaml(item, indent + 2, out);
                } else {
                    out.push_str(&format!(" {item}\n"));
                }
            }
        }
        scalar => out.push_str(&format!("{pad}{scalar}\n")),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn template_like_text_never_panics(text in yamlish()) {
        run_all(&text);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        run_all(&text);
    }

    #[test]
    fn syntax_errors_point_inside_the_text(text in yamlish()) {
        if let Err(e) = parse_document(&text, "fuzz.yaml", &Limits::default()) {
            let lines = text.lines().count() as u32 + 1;
            prop_assert!(e.location.span.line <= lines, "{e} for {text:?}");
            prop_assert_eq!(&*e.location.file, "fuzz.yaml");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Data written as JSON, or as block YAML, loads back as the same data.
    #[test]
    fn written_data_loads_back(value in data()) {
        let json = serde_json::to_string(&value).unwrap();
        let loaded = parse_document(&json, "d.json", &Limits::default()).unwrap();
        prop_assert_eq!(loaded.to_json(), value.clone(), "{}", json);
        let mut yaml = String::new();
        block_yaml(&value, 0, &mut yaml);
        let loaded = parse_document(&yaml, "d.yaml", &Limits::default()).unwrap();
        prop_assert_eq!(loaded.to_json(), value, "{}", yaml);
    }
}

#[test]
fn nested_repeat_products_are_bounded() {
    // Each repeat multiplies the size; the evaluator's budget stops it.
    let mut value = "x".to_string();
    for _ in 0..8 {
        value = format!(
            "{{repeat: {{for_each: {{'%i%': [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}}, template: [{value}, {value}]}}}}"
        );
    }
    let text = format!("heat_template_version: 2021-04-16\noutputs:\n  o:\n    value: {value}\n");
    let template = parse_template(&text, "bomb.yaml", &Limits::default()).unwrap();
    let err = validate(template, &Environment::default(), BTreeMap::new()).unwrap_err();
    assert_eq!(err.kind, ember_template::ErrorKind::Limit);
}

#[test]
fn deep_nesting_is_refused_or_evaluated_without_overflowing_the_stack() {
    // Nesting just under the loader's depth limit, as function calls (each `not` is one level):
    // the evaluator refuses it cleanly instead of exhausting the test thread's 2 MiB stack.
    let depth = Limits::default().max_depth - 5;
    let condition = format!("{}true{}", "{not: ".repeat(depth), "}".repeat(depth));
    let text = format!(
        "heat_template_version: 2016-10-14\nconditions:\n  c: {condition}\noutputs:\n  o:\n    value: {{if: [c, a, b]}}\n"
    );
    let template = parse_template(&text, "deep.yaml", &Limits::default()).unwrap();
    let err = validate(template, &Environment::default(), BTreeMap::new()).unwrap_err();
    assert_eq!(err.kind, ember_template::ErrorKind::Limit);
    // Nesting within the call limit evaluates.
    let condition = format!("{}true{}", "{not: ".repeat(60), "}".repeat(60));
    let text = format!(
        "heat_template_version: 2016-10-14\nconditions:\n  c: {condition}\noutputs:\n  o:\n    value: {{if: [c, a, b]}}\n"
    );
    let template = parse_template(&text, "deep.yaml", &Limits::default()).unwrap();
    assert!(validate(template, &Environment::default(), BTreeMap::new()).is_ok());
    let lists = format!(
        "{}1{}",
        "{list_concat: [".repeat(depth / 2),
        "]}".repeat(depth / 2)
    );
    let text = format!("heat_template_version: 2018-08-31\noutputs:\n  o:\n    value: {lists}\n");
    let template = parse_template(&text, "deep.yaml", &Limits::default()).unwrap();
    let _ = validate(template, &Environment::default(), BTreeMap::new());
}

#[test]
fn call_shaped_arguments_never_panic() {
    // Functions whose arguments are themselves calls, in every version that has them.
    for (version, snippet) in [
        ("2013-05-23", "{'Fn::Split': {get_param: p}}"),
        ("2013-05-23", "{'Fn::Select': {get_param: p}}"),
        ("2013-05-23", "{'Fn::Join': {get_param: p}}"),
        ("2013-05-23", "{'Fn::Replace': {get_param: p}}"),
        ("2013-05-23", "{'Fn::MemberListToMap': {get_param: p}}"),
        ("2021-04-16", "{get_attr: {get_param: p}}"),
        ("2021-04-16", "{list_join: {get_param: p}}"),
        ("2021-04-16", "{str_split: {get_param: p}}"),
        ("2021-04-16", "{map_replace: {get_param: p}}"),
        ("2021-04-16", "{contains: {get_param: p}}"),
        ("2021-04-16", "{filter: {get_param: p}}"),
        ("2021-04-16", "{if: {get_param: p}}"),
        ("2021-04-16", "{make_url: {get_param: p}}"),
    ] {
        let text = format!(
            "heat_template_version: {version}\nparameters:\n  p:\n    type: json\n    default: [1]\noutputs:\n  o:\n    value: {snippet}\n"
        );
        if let Ok(template) = parse_template(&text, "t.yaml", &Limits::default()) {
            let _ = validate(template, &Environment::default(), BTreeMap::new());
        }
    }
}
