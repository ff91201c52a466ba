//! Property tests: no parameter schema or value makes parsing, validation or the views panic.

use ember_template::parameters::{ParameterInput, ParameterSchemas, ParameterSyntax};
use ember_template::{Node, StackIdentity};
use proptest::prelude::*;
use serde_json::{json, Value};

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-z0-9 ,._:/*\\[\\]()?+-]{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "string",
            "number",
            "json",
            "boolean",
            "comma_delimited_list",
            "String",
            "Number",
            "Json",
            "Boolean",
            "CommaDelimitedList",
            "ip_addr",
            "net_cidr",
            "nova.flavor",
            "cron_expression",
            "iso_8601",
            "dns_name",
            "mac_addr",
            "json_string",
            "expiration",
            "(a|ab)*",
            "[",
            "true",
            "1e3",
            " 7 ",
            "{\"a\": 1}",
        ])
        .prop_map(|s| Value::String(s.to_string())),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..4)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "type",
        "default",
        "constraints",
        "hidden",
        "label",
        "description",
        "immutable",
        "tags",
        "range",
        "length",
        "modulo",
        "min",
        "max",
        "step",
        "offset",
        "allowed_values",
        "allowed_pattern",
        "custom_constraint",
        "Type",
        "Default",
        "NoEcho",
        "AllowedValues",
        "AllowedPattern",
        "MinLength",
        "MaxLength",
        "MinValue",
        "MaxValue",
        "ConstraintDescription",
        "p",
        "q",
    ])
    .prop_map(str::to_string)
}

fn schema() -> impl Strategy<Value = Value> {
    let constraint = prop::collection::vec((key(), value()), 0..3)
        .prop_map(|e| Value::Object(e.into_iter().collect()));
    (
        scalar(),
        prop::option::of(value()),
        prop::collection::vec(constraint, 0..3),
        prop::collection::vec((key(), value()), 0..3),
    )
        .prop_map(|(t, default, constraints, extra)| {
            let mut m: serde_json::Map<String, Value> = extra.into_iter().collect();
            m.insert("type".into(), t.clone());
            m.insert("Type".into(), t);
            if let Some(d) = default {
                m.insert("default".into(), d);
            }
            m.insert("constraints".into(), Value::Array(constraints));
            Value::Object(m)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parameters_never_panic(
        schemas in prop::collection::vec(("[pq]", schema()), 0..3),
        values in prop::collection::vec(("[pqr]", value()), 0..3),
        defaults in prop::collection::vec(("[pqr]", value()), 0..3),
        hot in any::<bool>(),
        check in any::<bool>(),
        groups in value(),
    ) {
        let section = Node::from_json(&Value::Object(schemas.into_iter().collect()));
        let syntax = if hot {
            ParameterSyntax::Hot { modulo: true, tags: true }
        } else {
            ParameterSyntax::Cfn
        };
        if let Ok(parsed) = ParameterSchemas::parse(Some(&section), "t.yaml", syntax) {
            let _ = parsed.validate_groups(Some(&Node::from_json(&groups)));
            let input = ParameterInput {
                values: values.into_iter().collect(),
                defaults: defaults.into_iter().collect(),
                identity: Some(StackIdentity { name: "s".into(), id: "i".into(), project_id: "t".into() }),
            };
            if let Ok(resolved) = parsed.resolve(&input, check, None) {
                let _ = resolved.display_values();
                let _ = resolved.validate_view();
                let _ = resolved.values();
                let _ = resolved.check_immutable_update(&resolved);
            }
        }
    }

    #[test]
    fn every_type_takes_any_value(given in value()) {
        for t in ["string", "number", "json", "boolean", "comma_delimited_list"] {
            let section = Node::from_json(&json!({"p": {"type": t, "constraints": [
                {"length": {"min": 1}}, {"range": {"max": 5}}, {"allowed_values": [1, "a"]},
                {"allowed_pattern": "[a-z]+"}, {"custom_constraint": "ip_addr"},
                {"modulo": {"step": 3, "offset": 1}}]}}));
            let syntax = ParameterSyntax::Hot { modulo: true, tags: true };
            let parsed = ParameterSchemas::parse(Some(&section), "t", syntax).unwrap();
            let input = ParameterInput {
                values: [("p".to_string(), given.clone())].into_iter().collect(),
                ..Default::default()
            };
            let _ = parsed.resolve(&input, true, None);
        }
    }

    /// Valid values of each type resolve to what they mean, and hidden ones never show.
    #[test]
    fn values_resolve_to_their_typed_meaning(
        text in "[ -~]{0,16}",
        number in any::<i64>(),
        items in prop::collection::vec("[a-z0-9]{1,6}", 1..5),
        truth in prop::sample::select(vec![("true", true), ("yes", true), ("on", true), ("1", true),
            ("t", true), ("y", true), ("false", false), ("no", false), ("off", false), ("0", false),
            ("f", false), ("n", false), ("TRUE", true), ("False", false)]),
    ) {
        let section = Node::from_json(&json!({
            "s": {"type": "string", "hidden": true},
            "n": {"type": "number"},
            "l": {"type": "comma_delimited_list"},
            "b": {"type": "boolean"},
        }));
        let syntax = ParameterSyntax::Hot { modulo: true, tags: true };
        let parsed = ParameterSchemas::parse(Some(&section), "t", syntax).unwrap();
        let input = ParameterInput {
            values: [
                ("s".to_string(), json!(text)),
                ("n".to_string(), json!(number.to_string())),
                ("l".to_string(), json!(items.join(","))),
                ("b".to_string(), json!(truth.0)),
            ].into_iter().collect(),
            ..Default::default()
        };
        let resolved = parsed.resolve(&input, true, None).unwrap();
        prop_assert_eq!(resolved.value("s"), Some(&json!(text)));
        prop_assert_eq!(resolved.value("n"), Some(&json!(number)));
        prop_assert_eq!(resolved.value("l"), Some(&json!(items)));
        prop_assert_eq!(resolved.value("b"), Some(&json!(truth.1)));
        let shown = resolved.display_values();
        prop_assert_eq!(shown["s"].as_str(), "******");
    }

    #[test]
    fn json_text_never_panics(text in "\\PC{0,40}") {
        let section = Node::from_json(&json!({"p": {"type": "json"}, "q": {"type": "string",
            "constraints": [{"custom_constraint": "json_string"}]}}));
        let syntax = ParameterSyntax::Hot { modulo: true, tags: true };
        let parsed = ParameterSchemas::parse(Some(&section), "t", syntax).unwrap();
        let input = ParameterInput {
            values: [("p".to_string(), json!(text)), ("q".to_string(), json!(text))].into_iter().collect(),
            ..Default::default()
        };
        let _ = parsed.resolve(&input, true, None);
    }
}
