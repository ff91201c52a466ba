//! Property tests: no environment document, merge or registry lookup panics or runs away.

use ember_template::environment::{
    merge_environment_files, parse_environment, Environment, GlobalRegistry,
};
use ember_template::parameters::ParamType;
use ember_template::{parse_document, Limits, Node};
use indexmap::IndexMap;
use proptest::prelude::*;
use serde_json::Value;

fn word() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "parameters",
        "parameter_defaults",
        "resource_registry",
        "resources",
        "hooks",
        "restricted_actions",
        "event_sinks",
        "encrypted_param_names",
        "parameter_merge_strategies",
        "default",
        "merge",
        "deep_merge",
        "overwrite",
        "pre-create",
        "update",
        "replace",
        "OS::*",
        "OS::A",
        "OS::B",
        "A::*",
        "a.yaml",
        "b.template",
        "web_*",
        "web_1",
        "nest*",
        "nested",
        "base_url",
        "zaqar-queue",
        "type",
        "p",
        "q",
        "[!a]*",
    ])
    .prop_map(str::to_string)
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        word().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((word(), inner), 0..5)
                .prop_map(|e| Value::Object(e.into_iter().collect())),
        ]
    })
}

/// A well-formed environment document: parameters, parameter defaults, registry entries
/// (provider templates, aliases, globs, per-resource entries with hooks), event sinks and
/// encrypted names, each section present or not.
fn environment_doc() -> impl Strategy<Value = Value> {
    let names = || prop::sample::select(vec!["p", "q", "r", "web_1", "nested"]);
    let parameters = || prop::collection::btree_map(names(), value(), 0..4);
    let registry_entry = prop_oneof![
        prop::sample::select(vec!["a.yaml", "b.template", "OS::B", "OS::A"])
            .prop_map(|t| Value::String(t.to_string())),
        Just(serde_json::json!({"hooks": "pre-create"})),
        Just(serde_json::json!({"OS::A": "a.yaml", "restricted_actions": ["update"]})),
    ];
    let registry = prop::collection::btree_map(
        prop::sample::select(vec!["OS::A", "A::*", "x.yaml", "OS::C"]),
        prop::sample::select(vec!["a.yaml", "b.template", "OS::B", "OS::*"])
            .prop_map(|t| Value::String(t.to_string())),
        0..3,
    );
    let resources = prop::collection::btree_map(names(), registry_entry, 0..3);
    (
        prop::option::of(parameters()),
        prop::option::of(parameters()),
        prop::option::of((registry, resources)),
        prop::option::of(prop::collection::vec(names(), 0..3)),
    )
        .prop_map(|(parameters, defaults, registry, encrypted)| {
            let mut doc = serde_json::Map::new();
            if let Some(p) = parameters {
                doc.insert("parameters".into(), serde_json::to_value(p).unwrap());
            }
            if let Some(d) = defaults {
                doc.insert(
                    "parameter_defaults".into(),
                    serde_json::to_value(d).unwrap(),
                );
            }
            if let Some((mut r, resources)) = registry {
                if !resources.is_empty() {
                    r.insert("resources", serde_json::to_value(resources).unwrap());
                }
                doc.insert("resource_registry".into(), serde_json::to_value(r).unwrap());
            }
            if let Some(e) = encrypted {
                doc.insert(
                    "encrypted_param_names".into(),
                    serde_json::to_value(e).unwrap(),
                );
            }
            Value::Object(doc)
        })
}

fn builtin(name: &str) -> bool {
    name == "OS::B"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn environments_never_panic(docs in prop::collection::vec(value(), 1..4), name in word(), rtype in word()) {
        let types: IndexMap<String, ParamType> = [
            ("p".to_string(), ParamType::Json),
            ("q".to_string(), ParamType::CommaDelimitedList),
        ].into_iter().collect();
        let files: Vec<_> = docs
            .iter()
            .filter_map(|d| parse_environment(&Node::from_json(d), "e.yaml").ok())
            .collect();
        let global = GlobalRegistry::new(&builtin);
        if let Ok(env) = merge_environment_files(&Environment::default(), &files, &types) {
            let _ = env.resolve_resource(&global, &[&name], &name, &rtype);
            let _ = env.user_env_json();
        }
        for d in &docs {
            if let Ok(env) = Environment::from_json(d) {
                let _ = env.resolve_resource(&global, &[], &name, &rtype);
                if let Ok(child) = env.child(Some(d), None, Some(&name)) {
                    let _ = child.resolve_resource(&global, &[], &name, &rtype);
                }
            }
        }
    }

    /// What an environment shows of itself loads back as the same environment.
    #[test]
    fn shown_environments_load_back_unchanged(doc in environment_doc(), other in value()) {
        let env = Environment::from_json(&doc).expect("a well-formed environment loads");
        let shown = env.user_env_json();
        let again = Environment::from_json(&shown).expect("a shown environment loads");
        prop_assert_eq!(again.user_env_json(), shown);
        if let Ok(env) = Environment::from_json(&other) {
            let shown = env.user_env_json();
            let again = Environment::from_json(&shown).expect("a shown environment loads");
            prop_assert_eq!(again.user_env_json(), shown);
        }
    }

    /// One environment file merged onto an empty environment gives the file's sections.
    #[test]
    fn one_file_merges_to_itself(doc in environment_doc()) {
        let file = parse_environment(&Node::from_json(&doc), "e.yaml").expect("parses");
        let alone = Environment::from_json(&doc).expect("loads");
        let types = IndexMap::new();
        let merged = merge_environment_files(&Environment::default(), &[file], &types)
            .expect("one file merges");
        prop_assert_eq!(merged.user_env_json(), alone.user_env_json());
    }

    #[test]
    fn environment_text_never_panics(text in "[a-z_:*\\-\\[\\] {},\n]{0,80}") {
        if let Ok(node) = parse_document(&text, "e.yaml", &Limits::default()) {
            let _ = parse_environment(&node, "e.yaml");
        }
    }
}
