//! Parameter schemas, coercions, constraints and messages, with expected outcomes from Heat's
//! behaviour (heat/tests/test_parameters.py, test_constraints.py, test_validate.py).

use ember_template::parameters::{
    ParamType, ParameterInput, ParameterSchemas, ParameterSyntax, ResolvedParameters,
};
use ember_template::{parse_document, Limits, StackIdentity, TemplateError};
use indexmap::IndexMap;
use serde_json::{json, Value};

const HOT: ParameterSyntax = ParameterSyntax::Hot {
    modulo: true,
    tags: true,
};
const HOT_2013: ParameterSyntax = ParameterSyntax::Hot {
    modulo: false,
    tags: false,
};

fn schemas(yaml: &str, syntax: ParameterSyntax) -> Result<ParameterSchemas, TemplateError> {
    let node = parse_document(yaml, "t.yaml", &Limits::default()).expect("yaml");
    ParameterSchemas::parse(Some(&node), "t.yaml", syntax)
}

fn resolve_with(
    yaml: &str,
    syntax: ParameterSyntax,
    values: Value,
    defaults: Value,
) -> Result<ResolvedParameters, String> {
    let schemas = schemas(yaml, syntax).map_err(|e| e.message)?;
    let to_map = |v: Value| -> IndexMap<String, Value> {
        v.as_object()
            .map(|m| m.clone().into_iter().collect())
            .unwrap_or_default()
    };
    let input = ParameterInput {
        values: to_map(values),
        defaults: to_map(defaults),
        identity: Some(StackIdentity {
            name: "teststack".into(),
            id: "1ba8c334-2297-4312-8c7c-43763a988ced".into(),
            project_id: "tenant".into(),
        }),
    };
    schemas.resolve(&input, true, None).map_err(|e| e.message)
}

fn resolve(yaml: &str, values: Value) -> Result<ResolvedParameters, String> {
    resolve_with(yaml, HOT, values, json!({}))
}

fn value_of(yaml: &str, given: Value) -> Result<Value, String> {
    resolve(yaml, json!({ "p": given })).map(|r| r.value("p").cloned().expect("value"))
}

#[test]
fn string_type_makes_strings() {
    let t = "p: {type: string}";
    assert_eq!(value_of(t, json!(5)), Ok(json!("5")));
    assert_eq!(value_of(t, json!(true)), Ok(json!("True")));
    assert_eq!(
        value_of(t, json!("test\u{2665}")),
        Ok(json!("test\u{2665}"))
    );
}

#[test]
fn number_type_tries_int_then_float() {
    let t = "p: {type: number}";
    assert_eq!(value_of(t, json!("10")), Ok(json!(10)));
    assert_eq!(value_of(t, json!("0.5")), Ok(json!(0.5)));
    assert_eq!(value_of(t, json!(7)), Ok(json!(7)));
    assert_eq!(
        value_of(t, json!("str")),
        Err("Parameter 'p' is invalid: could not convert string to float: 'str'".into())
    );
    assert!(value_of(t, json!(["foo"])).unwrap_err().contains("int()"));
}

#[test]
fn list_type_splits_without_trimming() {
    let t = "p: {type: comma_delimited_list}";
    assert_eq!(value_of(t, json!("a, b,c")), Ok(json!(["a", " b", "c"])));
    assert_eq!(value_of(t, json!("")), Ok(json!([])));
    assert_eq!(value_of(t, json!([1, 3, 5])), Ok(json!(["1", "3", "5"])));
    let r = resolve(t, json!({"p": ["a", "b", "c"]})).unwrap();
    assert_eq!(r.display_values()["p"], "a,b,c");
}

#[test]
fn json_type_parses_text_and_keeps_data() {
    let t = "p: {type: json}";
    assert_eq!(value_of(t, json!("{\"a\": 1}")), Ok(json!({"a": 1})));
    assert_eq!(
        value_of(t, json!(["fizz", "buzz"])),
        Ok(json!(["fizz", "buzz"]))
    );
    assert!(value_of(t, json!("I am not a map"))
        .unwrap_err()
        .starts_with("Parameter 'p' is invalid: Value must be valid JSON"));
    let r = resolve(t, json!({"p": {"a": "1"}})).unwrap();
    assert_eq!(r.display_values()["p"], "{\"a\": \"1\"}");
}

#[test]
fn boolean_type_is_strict() {
    let t = "p: {type: boolean}";
    assert_eq!(value_of(t, json!("yes")), Ok(json!(true)));
    assert_eq!(value_of(t, json!("0")), Ok(json!(false)));
    assert_eq!(
        value_of(t, json!("maybe")),
        Err(
            "Parameter 'p' is invalid: Unrecognized value 'maybe', acceptable values are: \
             '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'"
                .into()
        )
    );
    let r = resolve(t, json!({"p": true})).unwrap();
    assert_eq!(r.display_values()["p"], "True");
}

#[test]
fn constraint_messages() {
    let cases = [
        (
            "{type: string, constraints: [{length: {min: 4}}]}",
            json!("foo"),
            "length (3) is out of range (min: 4, max: None)",
        ),
        (
            "{type: number, constraints: [{range: {min: 4, max: 8}}]}",
            json!("3"),
            "3 is out of range (min: 4, max: 8)",
        ),
        (
            "{type: number, constraints: [{modulo: {step: 2, offset: 1}}]}",
            json!(4),
            "4 is not a multiple of 2 with an offset of 1",
        ),
        (
            "{type: string, constraints: [{allowed_values: [foo, bar]}]}",
            json!("blarg"),
            "\"blarg\" is not an allowed value [\"foo\", \"bar\"]",
        ),
        (
            "{type: string, constraints: [{allowed_pattern: '[a-z]*'}]}",
            json!("foo1"),
            "\"foo1\" does not match pattern \"[a-z]*\"",
        ),
        (
            "{type: string, constraints: [{allowed_pattern: '[a-z]*'}]}",
            json!("1foo"),
            "\"1foo\" does not match pattern \"[a-z]*\"",
        ),
        (
            "{type: comma_delimited_list, constraints: [{allowed_values: [foo, bar, baz]}]}",
            json!("foo,baz,blarg"),
            "[\"foo\", \"baz\", \"blarg\"] is not an allowed value [\"foo\", \"bar\", \"baz\"]",
        ),
        (
            "{type: json, constraints: [{length: {max: 1}}]}",
            json!({"foo": "bar", "items": [1]}),
            "length (2) is out of range (min: None, max: 1)",
        ),
        (
            "{type: string, constraints: [{custom_constraint: ip_addr}]}",
            json!("1.2.3"),
            "Error validating value '1.2.3': Invalid IP address",
        ),
    ];
    for (schema, value, message) in cases {
        let t = format!("p: {schema}");
        assert_eq!(
            value_of(&t, value),
            Err(format!("Parameter 'p' is invalid: {message}")),
            "{schema}"
        );
    }
}

#[test]
fn passing_constraints() {
    assert_eq!(
        value_of(
            "p: {type: number, constraints: [{modulo: {step: 2, offset: 1}}]}",
            json!(-3)
        ),
        Ok(json!(-3))
    );
    assert_eq!(
        value_of(
            "p: {type: number, constraints: [{allowed_values: ['1', '3', '5']}]}",
            json!(3)
        ),
        Ok(json!(3))
    );
    assert_eq!(
        value_of(
            "p: {type: boolean, constraints: [{allowed_values: [true]}]}",
            json!("yes")
        ),
        Ok(json!(true))
    );
    assert_eq!(
        value_of(
            "p: {type: string, constraints: [{allowed_pattern: '(?=.*[A-Z])[A-Za-z]+'}]}",
            json!("Password")
        ),
        Ok(json!("Password"))
    );
}

#[test]
fn description_replaces_the_message() {
    let t = "p: {type: string, constraints: [{length: {min: 4}, description: wibble}]}";
    assert_eq!(
        value_of(t, json!("foo")),
        Err("Parameter 'p' is invalid: wibble".into())
    );
    let cfn = "p: {Type: String, MinLength: '4', ConstraintDescription: wibble}";
    assert_eq!(
        resolve_with(cfn, ParameterSyntax::Cfn, json!({"p": "foo"}), json!({})).unwrap_err(),
        "Parameter 'p' is invalid: wibble"
    );
}

#[test]
fn constraint_on_wrong_type() {
    let err = resolve(
        "p: {type: number, constraints: [{length: {min: 1}}]}",
        json!({"p": 1}),
    );
    assert_eq!(
        err.unwrap_err(),
        "Parameter 'p' is invalid: Length constraint invalid for number"
    );
    let cfn = "p: {Type: Json, AllowedValues: [{foo: bar}]}";
    assert!(
        resolve_with(cfn, ParameterSyntax::Cfn, json!({}), json!({}))
            .unwrap_err()
            .contains("AllowedValues constraint invalid for Json")
    );
}

#[test]
fn defaults_are_validated_without_custom_constraints() {
    let bad = "p: {type: string, default: foo, constraints: [{length: {min: 4}}]}";
    assert_eq!(
        resolve(bad, json!({"p": "long enough"})).unwrap_err(),
        "Parameter 'p' is invalid: Invalid default foo (length (3) is out of range (min: 4, max: None))"
    );
    // The custom constraint is skipped for the default, but checked for a given value.
    let custom = "p: {type: string, default: bad, constraints: [{custom_constraint: ip_addr}]}";
    assert!(resolve(custom, json!({"p": "10.0.0.1"})).is_ok());
    assert!(resolve(custom, json!({"p": "nope"})).is_err());
}

#[test]
fn cloud_constraints_are_reported_skipped() {
    let t = "p: {type: string, constraints: [{custom_constraint: nova.flavor}]}";
    let r = resolve(t, json!({"p": "m1.small"})).unwrap();
    assert_eq!(r.skipped.len(), 1);
    assert_eq!(r.skipped[0].constraint, "nova.flavor");
    assert_eq!(r.skipped[0].value, json!("m1.small"));
}

#[test]
fn unknown_and_missing_parameters() {
    assert_eq!(
        resolve("p: {type: string}", json!({"p": "x", "q": "y"})).unwrap_err(),
        "The Parameter (q) was not defined in template."
    );
    assert_eq!(
        resolve("p: {type: string}", json!({})).unwrap_err(),
        "The Parameter (p) was not provided."
    );
}

#[test]
fn parameter_defaults_override_template_defaults() {
    let t = "p: {type: number, default: 1}\nq: {type: string, default: a}";
    let r = resolve_with(
        t,
        HOT,
        json!({"q": "user"}),
        json!({"p": "2", "q": "env", "zz": 1}),
    )
    .unwrap();
    assert_eq!(r.value("p"), Some(&json!(2)));
    assert_eq!(r.value("q"), Some(&json!("user")));
}

#[test]
fn schema_errors() {
    let cases = [
        (
            "p: {type: string, foo: 1}",
            HOT,
            "Invalid key 'foo' for parameter (p)",
        ),
        (
            "p: {default: 1}",
            HOT,
            "Missing parameter type for parameter: p",
        ),
        ("p: {type: String}", HOT, "Invalid type (String)"),
        (
            "p: {type: string, tags: a}",
            HOT,
            "Tags property should be a list for parameter: p",
        ),
        (
            "p: {type: string, tags: [a]}",
            HOT_2013,
            "Invalid key 'tags' for parameter (p)",
        ),
        (
            "p: {type: number, constraints: {range: {min: 1}}}",
            HOT,
            "Invalid parameter constraints for parameter p, expected a list",
        ),
        (
            "p: {type: number, constraints: [{range: {}}]}",
            HOT,
            "A range constraint must have a min value and/or a max value specified.",
        ),
        (
            "p: {type: number, constraints: [{range: {low: 1}}]}",
            HOT,
            "Invalid key 'low' for range constraint",
        ),
        (
            "p: {type: string, constraints: [{length: {min: 1.5}}]}",
            HOT,
            "min/max length must be integral",
        ),
        (
            "p: {type: number, constraints: [{modulo: {step: 2, offset: 1}}]}",
            HOT_2013,
            "No constraint expressed",
        ),
        (
            "p: {type: number, constraints: [{modulo: {step: 0, offset: 0}}]}",
            HOT,
            "step cannot be 0.",
        ),
        (
            "p: {type: number, constraints: [{modulo: {step: 2, offset: 3}}]}",
            HOT,
            "offset must be smaller (by absolute value) than step.",
        ),
        (
            "p: {type: number, constraints: [{modulo: {step: -3, offset: 1}}]}",
            HOT,
            "step and offset must be both positive or both negative.",
        ),
        (
            "p: {type: string, constraints: [{allowed_values: foo}]}",
            HOT,
            "AllowedValues must be a list",
        ),
        (
            "p: {type: string, constraints: [{wibble: 1}]}",
            HOT,
            "Invalid key 'wibble' for parameter constraints",
        ),
        (
            "p: {Type: String, NoEcho: true, Foo: 1}",
            ParameterSyntax::Cfn,
            "Invalid key 'Foo' for parameter (p)",
        ),
    ];
    for (yaml, syntax, message) in cases {
        assert_eq!(
            schemas(yaml, syntax).unwrap_err().message,
            message,
            "{yaml}"
        );
    }
}

#[test]
fn errors_are_located() {
    let yaml = "p:\n  type: string\n  constraints:\n    - range: {min: 1}\n      wibble: 2\n";
    let err = schemas(yaml, HOT).unwrap_err();
    assert_eq!(err.location.span.line, 5);
    assert_eq!(err.location.path.to_string(), "parameters.p.constraints[0]");
}

#[test]
fn hidden_values_are_masked() {
    let t = "p: {type: string, hidden: true}";
    let r = resolve(t, json!({"p": "secret"})).unwrap();
    assert_eq!(r.display_values()["p"], "******");
    assert_eq!(r.value("p"), Some(&json!("secret")));
    let cfn = "p: {Type: String, NoEcho: TrUe}";
    let r = resolve_with(cfn, ParameterSyntax::Cfn, json!({"p": "x"}), json!({})).unwrap();
    assert_eq!(r.display_values()["p"], "******");
}

#[test]
fn pseudo_parameters() {
    let r = resolve("{}", json!({})).unwrap();
    assert_eq!(r.value("OS::stack_name"), Some(&json!("teststack")));
    assert_eq!(
        r.value("OS::stack_id"),
        Some(&json!("1ba8c334-2297-4312-8c7c-43763a988ced"))
    );
    assert_eq!(r.value("OS::project_id"), Some(&json!("tenant")));
    let r = resolve_with("{}", ParameterSyntax::Cfn, json!({}), json!({})).unwrap();
    assert_eq!(
        r.value("AWS::StackId"),
        Some(&json!(
            "arn:openstack:heat::tenant:stacks/teststack/1ba8c334-2297-4312-8c7c-43763a988ced"
        ))
    );
    assert_eq!(r.value("AWS::Region"), Some(&json!("ap-southeast-1")));
    assert_eq!(
        resolve("{}", json!({"OS::stack_name": "x"})).unwrap_err(),
        "The Parameter (OS::stack_name) was not defined in template."
    );
}

#[test]
fn validate_view_matches_heat() {
    let t = "p:\n  type: number\n  label: Size\n  description: how big\n  default: 5\n  tags: [a]\n  \
             constraints:\n    - range: {min: 1, max: 10}\n      description: one to ten\n    \
             - modulo: {step: 5, offset: 0}\n      description: fives\n\
             q: {type: comma_delimited_list, hidden: true, constraints: [{allowed_values: [x]}, {custom_constraint: nova.flavor}]}\n";
    let r = resolve(t, json!({"q": "x"})).unwrap();
    let view = r.validate_view();
    assert_eq!(
        Value::Object(view),
        json!({
            "p": {"Type": "Number", "Description": "how big", "NoEcho": "false", "Label": "Size",
                  "Default": 5, "Tags": ["a"], "MinValue": 1, "MaxValue": 10, "Step": 5,
                  "Offset": 0, "ConstraintDescription": "one to ten fives"},
            "q": {"Type": "CommaDelimitedList", "Description": "", "NoEcho": "true", "Label": "q",
                  "Value": "x", "AllowedValues": ["x"], "CustomConstraint": "nova.flavor"}
        })
    );
}

#[test]
fn immutable_update_check() {
    let t = "p: {type: string, immutable: true}\nq: {type: string, immutable: false}";
    let old = resolve(t, json!({"p": "a", "q": "a"})).unwrap();
    let same = resolve(t, json!({"p": "a", "q": "b"})).unwrap();
    assert!(old.check_immutable_update(&same).is_ok());
    let changed = resolve(t, json!({"p": "b", "q": "b"})).unwrap();
    assert_eq!(
        old.check_immutable_update(&changed).unwrap_err().message,
        "The following parameters are immutable and may not be updated: p"
    );
}

#[test]
fn parameter_groups() {
    let params = "KeyName: {type: string}\nImageId: {type: string}";
    let check = |groups: &str| -> Result<(), String> {
        let s = schemas(params, HOT).unwrap();
        let node = parse_document(groups, "t.yaml", &Limits::default()).unwrap();
        s.validate_groups(Some(&node)).map_err(|e| e.message)
    };
    assert_eq!(
        check("- {label: A, parameters: [KeyName, OS::stack_id]}"),
        Ok(())
    );
    assert_eq!(
        check("{label: A}"),
        Err(
            "Parameter Groups error: parameter_groups: The parameter_groups should be a list."
                .into()
        )
    );
    assert_eq!(
        check("- {label: Server Group}"),
        Err(
            "Parameter Groups error: parameter_groups.Server Group: The parameters must be \
             provided for each parameter group."
                .into()
        )
    );
    assert_eq!(
        check("- {label: Server Group, parameters: KeyName}"),
        Err(
            "Parameter Groups error: parameter_groups.Server Group: The parameters of parameter \
             group should be a list."
                .into()
        )
    );
    assert_eq!(
        check("- {parameters: [KeyName]}\n- {parameters: [KeyName]}"),
        Err(
            "Parameter Groups error: parameter_groups.: The KeyName parameter must be assigned \
             to one parameter group only."
                .into()
        )
    );
    assert_eq!(
        check("- {label: Database Group, parameters: [SomethingNotHere]}"),
        Err(
            "Parameter Groups error: parameter_groups.Database Group: The grouped parameter \
             SomethingNotHere does not reference a valid parameter."
                .into()
        )
    );
}

#[test]
fn types_for_merging() {
    let s = schemas("a: {type: json}\nb: {type: boolean}", HOT).unwrap();
    let types = s.types();
    assert_eq!(types["a"], ParamType::Json);
    assert_eq!(types["b"], ParamType::Boolean);
}

/// The shapes recorded from a real Heat 27 (crates/api/tests/heat-samples: validate.json and the
/// `parameters` of show.json for the same template created with `len: 10`).
#[test]
fn matches_recorded_heat_answers() {
    let t =
        "len: {default: 8, type: number}\nsecret: {default: s3cret, hidden: true, type: string}";
    let validate = resolve_with(t, HOT, json!({}), json!({})).unwrap();
    assert_eq!(
        Value::Object(validate.validate_view()),
        json!({
            "len": {"Default": 8, "Description": "", "Label": "len", "NoEcho": "false", "Type": "Number"},
            "secret": {"Default": "s3cret", "Description": "", "Label": "secret", "NoEcho": "true",
                       "Type": "String"}
        })
    );
    let s = schemas(t, HOT).unwrap();
    let input = ParameterInput {
        values: [("len".to_string(), json!(10))].into_iter().collect(),
        defaults: IndexMap::new(),
        identity: Some(StackIdentity {
            name: "sample".into(),
            id: "b2a150ce-0a08-4cc9-bf79-0801a5aa7bfe".into(),
            project_id: "cb698c85c26444d68d426ee47c103cfd".into(),
        }),
    };
    let shown = s.resolve(&input, true, None).unwrap().display_values();
    let shown: serde_json::Map<String, Value> = shown
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    assert_eq!(
        Value::Object(shown),
        json!({"OS::project_id": "cb698c85c26444d68d426ee47c103cfd",
               "OS::stack_id": "b2a150ce-0a08-4cc9-bf79-0801a5aa7bfe", "OS::stack_name": "sample",
               "len": "10", "secret": "******"})
    );
}

#[test]
fn parameters_section_must_be_a_map() {
    assert_eq!(
        schemas("[a, b]", HOT).unwrap_err().message,
        "Parameter definitions must be a map. Found a list instead"
    );
}
