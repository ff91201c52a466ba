//! Heat's validate call: `show_nested` and templates whose parameters have no value.

use std::collections::BTreeMap;

use ember_template::environment::Environment;
use ember_template::{parse_template, validate, validate_with, ErrorKind, Limits, ValidateOptions};
use serde_json::{json, Value};

const NESTED_URL: &str = "https://server.test/nested.template";

fn show_nested(
    text: &str,
    env: Value,
    files: &[(&str, &str)],
) -> Result<Value, ember_template::TemplateError> {
    let template = parse_template(text, "root.yaml", &Limits::default())?;
    let environment = Environment::from_json(&env)?;
    let files: BTreeMap<String, String> = files
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    validate_with(
        template,
        &environment,
        files,
        ValidateOptions { show_nested: true },
    )
}

fn plain_parameter(name: &str) -> Value {
    json!({"Description": "", "Label": name, "NoEcho": "false", "Type": "String"})
}

#[test]
fn provider_template_parameters_are_shown_as_heat_shows_them() {
    // Heat's test_validate_parameter_group_output (heat/tests/test_validate.py).
    let root = "
heat_template_version: 2015-10-15
parameters:
    test_root_param:
        type: string
parameter_groups:
-   label: RootTest
    parameters:
    -   test_root_param
resources:
    Nested:
        type: OS::Test::TestResource
";
    let nested = "
heat_template_version: 2015-10-15
parameters:
    test_param:
        type: string
parameter_groups:
-   label: Test
    parameters:
    -   test_param
";
    let env = json!({"resource_registry": {"OS::Test::TestResource": NESTED_URL}});
    let answer = show_nested(root, env, &[(NESTED_URL, nested)]).unwrap();
    assert_eq!(
        answer,
        json!({
            "Description": "No description",
            "ParameterGroups": [{"label": "RootTest", "parameters": ["test_root_param"]}],
            "Parameters": {"test_root_param": plain_parameter("test_root_param")},
            "NestedParameters": {
                "Nested": {
                    "Description": "No description",
                    "ParameterGroups": [{"label": "Test", "parameters": ["test_param"]}],
                    "Parameters": {"test_param": plain_parameter("test_param")},
                    "Type": "OS::Test::TestResource"}},
            "Environment": {
                "event_sinks": [],
                "parameter_defaults": {},
                "parameters": {},
                "resource_registry": {"OS::Test::TestResource": NESTED_URL, "resources": {}}}
        })
    );
}

#[test]
fn a_resource_group_shows_its_one_member_even_when_empty() {
    // Heat's test_validate_empty_resource_group.
    let root = "
heat_template_version: 2015-10-15
parameters:
    test_root_param:
        type: string
resources:
    Group:
        type: OS::Heat::ResourceGroup
        properties:
            count: 0
            resource_def:
                type: OS::Test::TestResource
";
    let nested = "
heat_template_version: 2015-10-15
parameters:
    test_param:
        type: string
";
    let env = json!({"resource_registry": {"OS::Test::TestResource": NESTED_URL}});
    let answer = show_nested(root, env, &[(NESTED_URL, nested)]).unwrap();
    assert_eq!(
        answer["NestedParameters"],
        json!({
            "Group": {
                "Description": "No description",
                "Parameters": {},
                "Type": "OS::Heat::ResourceGroup",
                "NestedParameters": {
                    "0": {
                        "Description": "No description",
                        "Parameters": {"test_param": plain_parameter("test_param")},
                        "Type": "OS::Test::TestResource"}}}})
    );
    assert_eq!(
        answer["Parameters"],
        json!({"test_root_param": plain_parameter("test_root_param")})
    );
}

#[test]
fn properties_are_the_nested_parameter_values() {
    let root = "
heat_template_version: 2016-10-14
parameters:
  size:
    type: number
    default: 3
resources:
  db:
    type: db.yaml
    properties:
      name: db-%index%
      size: {get_param: size}
      zones: [a, b]
  dbs:
    type: OS::Heat::ResourceGroup
    properties:
      resource_def:
        type: db.yaml
        properties: {name: db-%index%}
  plain:
    type: OS::Heat::None
";
    let nested = "
heat_template_version: 2016-10-14
description: one database
parameters:
  name: {type: string}
  size: {type: number, default: 1}
  zones: {type: comma_delimited_list}
";
    let answer = show_nested(root, json!({}), &[("db.yaml", nested)]).unwrap();
    let nested_parameters = answer["NestedParameters"].as_object().unwrap();
    assert_eq!(
        nested_parameters.keys().collect::<Vec<_>>(),
        ["db", "dbs"],
        "{answer:#}"
    );
    let db = &answer["NestedParameters"]["db"];
    assert_eq!(db["Type"], "db.yaml");
    assert_eq!(db["Description"], "one database");
    assert_eq!(db["Parameters"]["name"]["Value"], "db-%index%");
    assert_eq!(db["Parameters"]["size"]["Value"], 3);
    assert_eq!(db["Parameters"]["size"]["Default"], 1);
    assert_eq!(db["Parameters"]["zones"]["Value"], "a,b");
    assert_eq!(db["Parameters"]["zones"]["Type"], "CommaDelimitedList");
    let member = &answer["NestedParameters"]["dbs"]["NestedParameters"]["0"];
    assert_eq!(member["Parameters"]["name"]["Value"], "db-0");
    // Without show_nested the answer has no NestedParameters.
    let template = parse_template(root, "root.yaml", &Limits::default()).unwrap();
    let files = [("db.yaml".to_string(), nested.to_string())].into();
    let answer = validate(template, &Environment::default(), files).unwrap();
    assert!(answer.get("NestedParameters").is_none());
}

#[test]
fn nested_templates_are_validated_and_errors_name_their_file() {
    let root = "
heat_template_version: 2016-10-14
resources:
  db:
    type: db.yaml
";
    let nested = "
heat_template_version: 2016-10-14
resources:
  r:
    type: OS::Heat::None
    properties:
      v: {get_resource: missing}
";
    let err = show_nested(root, json!({}), &[("db.yaml", nested)]).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Reference);
    assert_eq!(&*err.location.file, "db.yaml");
    assert_eq!(err.location.span.line, 7);
    let err = show_nested(root, json!({}), &[]).unwrap_err();
    assert_eq!(
        err.message,
        "Could not fetch remote template \"db.yaml\": file not found"
    );
}

#[test]
fn self_nesting_templates_stop_at_heats_depth_limit() {
    let text = "
heat_template_version: 2016-10-14
resources:
  again:
    type: loop.yaml
";
    let err = show_nested(text, json!({}), &[("loop.yaml", text)]).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Limit);
    assert_eq!(
        err.message,
        "Request limit exceeded: Recursion depth exceeds 5."
    );
}

const NO_VALUE: &str = "
heat_template_version: 2016-10-14
parameters:
  image:
    type: string
  count:
    type: number
  zones:
    type: comma_delimited_list
resources:
  server:
    type: OS::Nova::Server
    properties:
      image: {get_param: image}
      name: {list_join: ['-', {get_param: zones}]}
      size: {get_param: count}
";

#[test]
fn parameters_without_values_are_shown_without_value_and_the_rest_is_checked() {
    // Heat's validate does not require values (strict_validate=False): the answer lists the
    // parameter without Default or Value, and every value-independent check still runs.
    let template = parse_template(NO_VALUE, "t.yaml", &Limits::default()).unwrap();
    let answer = validate(template, &Environment::default(), BTreeMap::new()).unwrap();
    assert_eq!(answer["Parameters"]["image"], plain_parameter("image"));
    assert_eq!(
        answer["Parameters"]["count"],
        json!({"Description": "", "Label": "count", "NoEcho": "false", "Type": "Number"})
    );
    for (addition, kind, message) in [
        (
            "    depends_on: noexist\n",
            ErrorKind::Dependency,
            "The specified reference \"noexist\" (in server) is incorrect.",
        ),
        (
            "  other:\n    type: OS::Heat::None\n    properties: {v: {get_attr: [nope, x]}}\n",
            ErrorKind::Reference,
            "The specified reference \"nope\" (in other.Properties.v) is incorrect.",
        ),
        (
            "  other:\n    type: OS::Heat::None\n    properties: {v: {get_resource: gone}}\n",
            ErrorKind::Reference,
            "",
        ),
    ] {
        let text = format!("{NO_VALUE}{addition}");
        let template = parse_template(&text, "t.yaml", &Limits::default());
        let err = match template {
            Err(err) => err,
            Ok(template) => {
                validate(template, &Environment::default(), BTreeMap::new()).unwrap_err()
            }
        };
        assert_eq!(err.kind, kind, "{addition}: {err}");
        if !message.is_empty() {
            assert_eq!(err.message, message, "{addition}");
        }
    }
}
