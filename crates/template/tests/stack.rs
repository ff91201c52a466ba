//! The engine-facing facade: parameters, conditions, active resources, dependencies, outputs.

use ember_template::{
    parse_template, ErrorKind, Limits, PlaceholderResolver, StackDefinition, StackIdentity,
    StackInput,
};
use indexmap::IndexMap;
use serde_json::{json, Value};

const WEB: &str = r#"
heat_template_version: 2021-04-16
parameters:
  flavor:
    type: string
    default: m1.small
  count:
    type: number
    default: 2
  prod:
    type: boolean
    default: false
conditions:
  is_prod: {get_param: prod}
  not_prod: {not: is_prod}
resources:
  net:
    type: OS::Neutron::Net
  port:
    type: OS::Neutron::Port
    properties:
      network: {get_resource: net}
  server:
    type: OS::Nova::Server
    depends_on: [net]
    deletion_policy: retain
    properties:
      flavor: {get_param: flavor}
      networks:
        - port: {get_resource: port}
        - if: [is_prod, {network: public}]
      name: {list_join: ['-', [{get_param: 'OS::stack_name'}, web]]}
  backup:
    type: OS::Cinder::Volume
    condition: is_prod
outputs:
  ip:
    description: The address
    value: {get_attr: [server, first_address]}
  backup_id:
    value: {get_resource: backup}
    condition: is_prod
"#;

fn input(params: &[(&str, Value)]) -> StackInput {
    StackInput {
        parameters: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<IndexMap<_, _>>(),
        identity: StackIdentity {
            name: "web".into(),
            id: "1234".into(),
            project_id: "p1".into(),
        },
        ..StackInput::default()
    }
}

#[test]
fn definition_has_active_resources_dependencies_and_outputs() {
    let template = parse_template(WEB, "web.yaml", &Limits::default()).unwrap();
    let stack = StackDefinition::new(template, input(&[])).unwrap();
    assert_eq!(stack.conditions.get("is_prod"), Some(&false));
    assert_eq!(stack.conditions.get("not_prod"), Some(&true));
    let names: Vec<&str> = stack.resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["net", "port", "server"]);
    let server = stack.resource("server").unwrap();
    assert_eq!(server.deletion_policy.as_deref(), Some("Retain"));
    let deps: Vec<&str> = server.dependencies.iter().map(String::as_str).collect();
    assert_eq!(deps, ["net", "port"]);
    assert_eq!(stack.creation_order(), ["net", "port", "server"]);
    let props = stack
        .resolve_properties("server", &PlaceholderResolver)
        .unwrap();
    assert_eq!(
        props,
        json!({"flavor": "m1.small", "networks": [{"port": "port"}], "name": "web-web"})
    );
    assert_eq!(stack.outputs.len(), 2);
    assert!(!stack.outputs[1].enabled);
    assert_eq!(
        stack
            .resolve_output("backup_id", &PlaceholderResolver)
            .unwrap(),
        Value::Null
    );
}

#[test]
fn conditions_follow_parameter_values() {
    let template = parse_template(WEB, "web.yaml", &Limits::default()).unwrap();
    let stack = StackDefinition::new(template, input(&[("prod", json!("yes"))])).unwrap();
    assert!(stack.resource("backup").is_some());
    let props = stack
        .resolve_properties("server", &PlaceholderResolver)
        .unwrap();
    assert_eq!(
        props["networks"],
        json!([{"port": "port"}, {"network": "public"}])
    );
}

#[test]
fn undeclared_parameter_is_refused() {
    let template = parse_template(WEB, "web.yaml", &Limits::default()).unwrap();
    let err = StackDefinition::new(template, input(&[("nope", json!(1))])).unwrap_err();
    assert_eq!(
        err.message,
        "The Parameter (nope) was not defined in template."
    );
}

#[test]
fn references_to_disabled_and_unknown_resources() {
    // depends_on a resource whose condition is false: the dependency is dropped, as in Heat.
    let text = WEB.replace("depends_on: [net]", "depends_on: [backup]");
    let template = parse_template(&text, "web.yaml", &Limits::default()).unwrap();
    let stack = StackDefinition::new(template, input(&[])).unwrap();
    let deps: Vec<&str> = stack
        .resource("server")
        .unwrap()
        .dependencies
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(deps, ["port"]);
    // depends_on a name no resource has.
    let text = WEB.replace("depends_on: [net]", "depends_on: [ghost]");
    let template = parse_template(&text, "web.yaml", &Limits::default()).unwrap();
    let err = StackDefinition::new(template, input(&[])).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Dependency);
    assert_eq!(
        err.message,
        "The specified reference \"ghost\" (in server) is incorrect."
    );
    assert_eq!(
        err.location.path.to_string(),
        "resources.server.depends_on[0]"
    );
    // get_resource of a disabled resource in properties names Heat's path.
    let text = WEB.replace("port: {get_resource: port}", "port: {get_resource: backup}");
    let template = parse_template(&text, "web.yaml", &Limits::default()).unwrap();
    let err = StackDefinition::new(template, input(&[])).unwrap_err();
    assert_eq!(
        err.message,
        "The specified reference \"backup\" (in server.Properties.networks[0].port) is incorrect."
    );
    assert_eq!(
        err.location.path.to_string(),
        "resources.server.properties.networks[0].port.get_resource"
    );
}

#[test]
fn dependency_cycles_name_the_resources() {
    let text = r#"
heat_template_version: 2015-04-30
resources:
  a:
    type: OS::Heat::None
    properties: {x: {get_resource: b}}
  b:
    type: OS::Heat::None
    properties: {x: {get_attr: [a, foo]}}
"#;
    let template = parse_template(text, "c.yaml", &Limits::default()).unwrap();
    let err = StackDefinition::new(template, input(&[])).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Dependency);
    assert_eq!(err.message, "Circular Dependency Found: a -> b -> a");
}

#[test]
fn validate_answers_like_heats_validate_api() {
    use ember_template::environment::Environment;
    // The request and answer of Heat 27's validate call (crates/api/tests/heat-samples/validate.json),
    // with a user value added for `len`.
    let text = r#"{"description": "sample", "heat_template_version": "2018-08-31",
      "outputs": {"r": {"description": "the string", "value": {"get_attr": ["rs", "value"]}}},
      "parameters": {"len": {"default": 8, "type": "number"},
                     "secret": {"default": "s3cret", "hidden": true, "type": "string"}},
      "resources": {"none": {"type": "OS::Heat::None"},
                    "rs": {"properties": {"length": {"get_param": "len"}}, "type": "OS::Heat::RandomString"}}}"#;
    let template = parse_template(text, "t.json", &Limits::default()).unwrap();
    let env = Environment::from_json(&json!({"parameters": {"len": 12}})).unwrap();
    let answer = ember_template::validate(template, &env, Default::default()).unwrap();
    assert_eq!(answer["Description"], "sample");
    assert_eq!(
        answer["Parameters"],
        json!({
            "len": {"Default": 8, "Description": "", "Label": "len", "NoEcho": "false", "Type": "Number", "Value": 12},
            "secret": {"Default": "s3cret", "Description": "", "Label": "secret", "NoEcho": "true", "Type": "String"}
        })
    );
    assert_eq!(answer["Environment"]["parameters"], json!({"len": 12}));
    assert!(answer.get("ParameterGroups").is_none());
}

#[test]
fn stack_definition_is_shareable_across_threads() {
    fn assert_sync<T: Send + Sync>() {}
    assert_sync::<StackDefinition>();
    let template = parse_template(WEB, "web.yaml", &Limits::default()).unwrap();
    let types = template.parameter_types().unwrap();
    assert_eq!(types.len(), 3);
}

#[test]
fn external_resources_have_no_dependencies() {
    let text = r#"
heat_template_version: 2016-10-14
resources:
  net:
    type: OS::Neutron::Net
  server:
    type: OS::Nova::Server
    external_id: abc
    properties: {network: {get_resource: net}}
"#;
    let template = parse_template(text, "e.yaml", &Limits::default()).unwrap();
    let stack = StackDefinition::new(template, input(&[])).unwrap();
    let server = stack.resource("server").unwrap();
    assert_eq!(server.external_id.as_deref(), Some("abc"));
    assert!(server.dependencies.is_empty());
    let text = text.replace("external_id: abc", "external_id: abc\n    depends_on: net");
    let template = parse_template(&text, "e.yaml", &Limits::default()).unwrap();
    assert_eq!(
        StackDefinition::new(template, input(&[]))
            .unwrap_err()
            .message,
        "Invalid dependency with external OS::Nova::Server resource: abc"
    );
}
