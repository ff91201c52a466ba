//! Template structure and conditions: Heat's refusals, located.

use ember_template::{
    parse_template, ErrorKind, Limits, StackDefinition, StackInput, TemplateError,
};

fn parse(text: &str) -> Result<ember_template::Template, TemplateError> {
    parse_template(text, "t.yaml", &Limits::default())
}

fn parse_err(text: &str) -> TemplateError {
    parse(text).expect_err("template should be refused")
}

fn stack_err(text: &str) -> TemplateError {
    StackDefinition::new(parse(text).unwrap(), StackInput::default())
        .expect_err("stack should be refused")
}

#[test]
fn version_key_is_required() {
    assert_eq!(
        parse_err("description: x\n").message,
        "Template format version not found."
    );
    assert_eq!(
        parse_err("- a\n").message,
        "The template is not a JSON object or YAML mapping."
    );
}

#[test]
fn sections_per_version() {
    let e = parse_err("heat_template_version: 2016-04-08\nconditions: {}\n");
    assert_eq!(e.message, "The template section is invalid: conditions");
    assert_eq!((e.location.span.line, e.location.span.column), (2, 1));
    assert!(parse("heat_template_version: 2016-10-14\nconditions: {}\n").is_ok());
    assert_eq!(
        parse_err("heat_template_version: 2013-05-23\nParameters: {}\n").message,
        "The template section is invalid: Parameters"
    );
    let t = parse("heat_template_version: 2013-05-23\n").unwrap();
    assert_eq!(t.description, "No description");
}

#[test]
fn resource_keys_per_version() {
    let e = parse_err(
        "heat_template_version: 2016-04-08\nresources:\n  r:\n    type: T\n    condition: c\n",
    );
    assert_eq!(
        e.message,
        "\"condition\" is not a valid keyword inside a resource definition"
    );
    assert_eq!(e.location.path.to_string(), "resources.r.condition");
    assert_eq!((e.location.span.line, e.location.span.column), (5, 5));
    assert_eq!(
        e.to_string(),
        "t.yaml:5:5 at resources.r.condition: \"condition\" is not a valid keyword inside a resource definition"
    );
    let ok = parse(
        "heat_template_version: 2016-10-14\nresources:\n  r:\n    type: T\n    condition: true\n    external_id: abc\n",
    )
    .unwrap();
    assert_eq!(ok.resources[0].resource_type, "T");
    assert_eq!(
        parse_err("heat_template_version: 2015-04-30\nresources:\n  r:\n    properties: {}\n")
            .message,
        "Each resource must contain a type key."
    );
    assert_eq!(
        parse_err("heat_template_version: 2015-04-30\nresources:\n  r:\n    type: T\n    properties: [1]\n").message,
        "Resource r properties type must be object"
    );
    assert_eq!(
        parse_err("heat_template_version: 2015-04-30\nresources:\n  a/b:\n    type: T\n").message,
        "Resource name may not contain \"/\""
    );
    assert_eq!(
        parse_err("heat_template_version: 2015-04-30\nresources:\n  r:\n    type: T\n    depends_on: [1]\n").message,
        "Resource r depends_on must be a list of strings"
    );
}

#[test]
fn deletion_policies_per_version() {
    let tpl = |v: &str, p: &str| {
        format!(
            "heat_template_version: {v}\nresources:\n  r:\n    type: T\n    deletion_policy: {p}\n"
        )
    };
    assert_eq!(
        parse_err(&tpl("2015-10-15", "retain")).message,
        "Invalid deletion policy \"retain\""
    );
    assert!(parse(&tpl("2016-10-14", "retain")).is_ok());
    assert!(parse(&tpl("2015-10-15", "Snapshot")).is_ok());
    assert_eq!(
        parse_err(&tpl("2021-04-16", "Keep")).message,
        "Invalid deletion policy \"Keep\""
    );
}

#[test]
fn outputs_need_a_value() {
    assert_eq!(
        parse_err("heat_template_version: 2015-04-30\noutputs:\n  o:\n    description: d\n")
            .message,
        "Each output definition must contain a value key."
    );
    assert_eq!(
        parse_err("heat_template_version: 2015-04-30\noutputs:\n  o: 3\n").message,
        "Output definitions must be a map. Found a int instead"
    );
}

#[test]
fn condition_errors() {
    let base = "heat_template_version: 2016-10-14\nconditions:\n";
    assert_eq!(
        stack_err(&format!("{base}  a: {{not: b}}\n  b: {{not: a}}\n")).message,
        "Circular definition for condition \"a\""
    );
    assert_eq!(
        parse_err(&format!("{base}  a: {{and: [true]}}\n")).message,
        "The minimum number of condition arguments to \"and\" is 2."
    );
    assert_eq!(
        parse_err(&format!("{base}  a: {{get_resource: r}}\n")).message,
        "The function \"get_resource\" is invalid in this context"
    );
    // `contains` is no function before 2017-09-01, so the definition is plain data.
    assert_eq!(
        stack_err(&format!("{base}  a: {{contains: [1, [1]]}}\n")).message,
        "The definition of condition \"a\" is invalid: {'contains': [1, [1]]}"
    );
    assert!(
        parse("heat_template_version: 2017-09-01\nconditions:\n  a: {contains: [1, [1]]}\n")
            .is_ok()
    );
    assert_eq!(
        stack_err(&format!("{base}  a: other\n")).message,
        "The definition of condition \"a\" is invalid: other"
    );
    assert_eq!(
        stack_err(&format!("{base}  a: {{not: nope}}\n")).message,
        "Invalid condition \"nope\""
    );
    let e = stack_err(&format!(
        "{base}  a: true\nresources:\n  r:\n    type: T\n    condition: zz\n"
    ));
    assert_eq!(e.message, "Invalid condition \"zz\"");
    assert_eq!(e.location.path.to_string(), "resources.r.condition");
    assert_eq!(e.kind, ErrorKind::Reference);
}

#[test]
fn json_templates_keep_locations() {
    let text = "{\n  \"heat_template_version\": \"2015-04-30\",\n  \"resources\": {\"r\": {\"type\": \"T\", \"bogus\": 1}}\n}";
    let e = parse_err(text);
    assert_eq!(
        e.message,
        "\"bogus\" is not a valid keyword inside a resource definition"
    );
    assert_eq!(e.location.span.line, 3);
}

#[test]
fn heat_cfn_format_has_no_conditions() {
    let e = parse_err("HeatTemplateFormatVersion: '2012-12-12'\nConditions: {}\n");
    assert_eq!(e.message, "The template section is invalid: Conditions");
    let t = parse(
        "HeatTemplateFormatVersion: '2012-12-12'\nResources:\n  R:\n    Type: T\n    Properties:\n      a: {'Fn::If': [c, 1, 2]}\n",
    )
    .unwrap();
    // Fn::If is no function in this format: the map is data.
    assert!(matches!(
        t.resources[0].properties.as_deref(),
        Some(ember_template::Expr::Map(_))
    ));
    assert_eq!(
        parse_err("AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  R:\n    Properties: {}\n")
            .message,
        "Each Resource must contain a Type key."
    );
}

#[test]
fn function_lists_per_version() {
    let names = |v: &str| -> Vec<String> {
        ember_template::template_functions(v, false)
            .unwrap()
            .into_iter()
            .map(|f| f.functions)
            .collect()
    };
    let old = names("heat_template_version.2013-05-23");
    assert!(old.contains(&"Fn::Join".to_string()));
    assert!(!old.contains(&"repeat".to_string()));
    let newest = names("heat_template_version.wallaby");
    assert!(newest.contains(&"list_concat_unique".to_string()));
    assert!(!newest.contains(&"Fn::Join".to_string()));
    let with_conditions =
        ember_template::template_functions("heat_template_version.2017-09-01", true).unwrap();
    assert!(with_conditions.iter().any(|f| f.functions == "equals"));
}
