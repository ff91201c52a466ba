//! Environment files, the resource registry and merging, with expected outcomes from Heat's
//! behaviour (heat/tests/test_environment.py, test_environment_format.py,
//! test_common_env_util.py).

use ember_template::environment::{
    merge_environment_files, parse_environment, request_environment, Environment, EnvironmentFile,
    GlobalRegistry, Hook, Implementation, RestrictedAction,
};
use ember_template::parameters::ParamType;
use ember_template::{parse_document, Limits};
use indexmap::IndexMap;
use serde_json::{json, Value};

fn file(name: &str, text: &str) -> Result<EnvironmentFile, String> {
    let node = parse_document(text, name, &Limits::default()).map_err(|e| e.message)?;
    parse_environment(&node, name).map_err(|e| e.message)
}

fn env(value: Value) -> Environment {
    Environment::from_json(&value).expect("environment")
}

const BUILTIN: [&str; 6] = [
    "OS::Heat::None",
    "OS::Heat::RandomString",
    "OS::Nova::Server",
    "OS::Nova::FloatingIP",
    "CloudX::Nova::Server",
    "OS::Neutron::Net",
];

fn is_builtin(name: &str) -> bool {
    BUILTIN.contains(&name)
}

fn lookup(env: &Environment, name: &str, rtype: &str) -> Result<Implementation, String> {
    let global = GlobalRegistry::new(&is_builtin);
    env.resolve_resource(&global, &[], name, rtype)
        .map(|r| r.implementation)
        .map_err(|e| e.message)
}

fn builtin(name: &str) -> Result<Implementation, String> {
    Ok(Implementation::Builtin(name.into()))
}

fn template(name: &str) -> Result<Implementation, String> {
    Ok(Implementation::Template(name.into()))
}

#[test]
fn file_format_errors() {
    assert_eq!(
        file("e.yaml", "parameters: {}\nresource_regis: {}\n").unwrap_err(),
        "environment has wrong section \"resource_regis\""
    );
    assert_eq!(
        file("e.yaml", "parameters:\n").unwrap_err(),
        "environment has empty section \"parameters\""
    );
    assert_eq!(
        file("e.yaml", "just string").unwrap_err(),
        "The environment is not a valid YAML mapping data type."
    );
    assert_eq!(
        file("e.yaml", "[\"foo\" , \"bar\"]").unwrap_err(),
        "The environment is not a valid YAML mapping data type."
    );
    assert!(file("e.yaml", "").unwrap().sections.is_empty());
    let every = "parameters: {}\nencrypted_param_names: []\nparameter_defaults: {}\n\
                 parameter_merge_strategies: {}\nevent_sinks: []\nresource_registry: {}\n";
    assert_eq!(file("e.yaml", every).unwrap().sections.len(), 6);
}

#[test]
fn errors_name_file_line_and_path() {
    let node =
        parse_document("parameters: {}\nwrong: 1\n", "env.yaml", &Limits::default()).unwrap();
    let err = parse_environment(&node, "env.yaml").unwrap_err();
    assert_eq!(&*err.location.file, "env.yaml");
    assert_eq!(err.location.span.line, 2);
    assert_eq!(err.location.path.to_string(), "wrong");
}

#[test]
fn empty_environment_shows_as_heat_does() {
    let e = Environment::default();
    assert_eq!(
        e.user_env_json(),
        json!({"resource_registry": {"resources": {}}, "parameters": {},
               "parameter_defaults": {}, "event_sinks": []})
    );
    assert_eq!(e.env_json()["encrypted_param_names"], json!([]));
}

#[test]
fn aliases_and_globs() {
    let e = env(json!({"resource_registry": {"OS::*": "CloudX::*"}}));
    assert_eq!(
        lookup(&e, "my_db_server", "OS::Nova::Server"),
        builtin("CloudX::Nova::Server")
    );
    let e = env(json!({"resource_registry": {"OS::Nova::*": "OS::Heat::None"}}));
    assert_eq!(
        lookup(&e, "my_db_server", "OS::Nova::Server"),
        builtin("OS::Heat::None")
    );
    // A many-to-one glob does not map its own target again.
    let e = env(json!({"resource_registry": {"OS::*": "OS::Heat::None"}}));
    assert_eq!(lookup(&e, "x", "OS::Some::Name"), builtin("OS::Heat::None"));
    let e = env(json!({"resource_registry": {
        "OS::Networking::FloatingIP": "OS::Nova::FloatingIP", "OS::Loadbalancer": "lb.yaml"}}));
    assert_eq!(
        lookup(&e, "my_fip", "OS::Networking::FloatingIP"),
        builtin("OS::Nova::FloatingIP")
    );
    assert_eq!(lookup(&e, "lb", "OS::Loadbalancer"), template("lb.yaml"));
}

#[test]
fn unknown_types_are_refused() {
    let e = env(json!({"resource_registry": {"test::R2": "BROKEN"}}));
    assert_eq!(
        lookup(&e, "r", "test::R2"),
        Err("The Resource Type (test::R2) could not be found.".into())
    );
    // An alias loop ends as not found instead of recursing.
    let e = env(json!({"resource_registry": {"A::B": "C::D", "C::D": "A::B"}}));
    assert_eq!(
        lookup(&e, "r", "A::B"),
        Err("The Resource Type (A::B) could not be found.".into())
    );
    // A type named as a template is a provider template without any registry entry.
    assert_eq!(
        lookup(&Environment::default(), "r", "my.yaml"),
        template("my.yaml")
    );
}

#[test]
fn per_resource_entries_are_more_specific() {
    let e = env(json!({"resource_registry": {
        "resources": {"my_fip": {"OS::Networking::FloatingIP": "ip.yaml"}},
        "OS::Networking::FloatingIP": "OS::Nova::FloatingIP"}}));
    assert_eq!(
        lookup(&e, "my_fip", "OS::Networking::FloatingIP"),
        template("ip.yaml")
    );
    assert_eq!(
        lookup(&e, "other", "OS::Networking::FloatingIP"),
        builtin("OS::Nova::FloatingIP")
    );
}

#[test]
fn user_entries_before_global_ones() {
    let node = parse_document(
        "OS::Quantum*: OS::Neutron*\nOS::Nova::Server: OS::Heat::None\n",
        "g.yaml",
        &Limits::default(),
    )
    .unwrap();
    let mut global = GlobalRegistry::new(&is_builtin);
    global.load(&node, "g.yaml").unwrap();
    let e = env(json!({"resource_registry": {"OS::Nova::Server": "server.yaml"}}));
    let found = |e: &Environment, t: &str| {
        e.resolve_resource(&global, &[], "r", t)
            .map(|r| r.implementation)
    };
    assert_eq!(
        found(&e, "OS::Quantum::Net").unwrap(),
        Implementation::Builtin("OS::Neutron::Net".into())
    );
    assert_eq!(
        found(&e, "OS::Nova::Server").unwrap(),
        Implementation::Template("server.yaml".into())
    );
    assert_eq!(
        found(&Environment::default(), "OS::Nova::Server").unwrap(),
        Implementation::Builtin("OS::Heat::None".into())
    );
}

#[test]
fn hooks_and_restricted_actions() {
    let e = env(json!({"resource_registry": {"resources": {
        "pre_create": {"OS::Fruit": "apples.yaml", "hooks": "pre-create"},
        "both": {"hooks": ["pre-create", "pre-update"], "restricted_actions": "replace"},
        "web_*": {"hooks": "post-delete", "restricted_actions": ["update", "replace"]},
    }}}));
    assert_eq!(e.registry.hooks("pre_create"), vec![Hook::PreCreate]);
    assert_eq!(
        e.registry.hooks("both"),
        vec![Hook::PreCreate, Hook::PreUpdate]
    );
    assert_eq!(e.registry.hooks("web_1"), vec![Hook::PostDelete]);
    assert!(e.registry.hooks("other").is_empty());
    assert_eq!(
        e.registry.restricted_actions("both"),
        vec![RestrictedAction::Replace]
    );
    assert_eq!(
        e.registry.restricted_actions("web_2"),
        vec![RestrictedAction::Update, RestrictedAction::Replace]
    );
    let global = GlobalRegistry::new(&is_builtin);
    let r = e
        .resolve_resource(&global, &[], "pre_create", "OS::Fruit")
        .unwrap();
    assert_eq!(
        r.implementation,
        Implementation::Template("apples.yaml".into())
    );
    assert_eq!(r.path, vec!["resources", "pre_create", "OS::Fruit"]);
    assert_eq!(r.hooks, vec![Hook::PreCreate]);
    assert_eq!(
        e.user_env_json()["resource_registry"]["resources"]["both"]["hooks"],
        json!(["pre-create", "pre-update"])
    );
}

#[test]
fn invalid_hooks_and_actions() {
    let err = file(
        "e.yaml",
        "resource_registry:\n  resources:\n    a:\n      hooks: invalid-type\n",
    )
    .unwrap_err();
    assert_eq!(
        err,
        "Invalid hook type \"invalid-type\" for resource breakpoint, acceptable hook types are: \
         ('pre-create', 'pre-update', 'pre-delete', 'post-create', 'post-update', 'post-delete')"
    );
    let err = file(
        "e.yaml",
        "resource_registry:\n  resources:\n    a:\n      restricted_actions: [delete]\n",
    )
    .unwrap_err();
    assert_eq!(
        err,
        "Invalid restricted_action type \"['delete']\" for resource, acceptable \
         restricted_action types are: ('update', 'replace')"
    );
}

#[test]
fn null_removes_entries_when_loaded_over() {
    let mut e = env(
        json!({"resource_registry": {"OS::Food": "fruity.yaml", "OS::Fruit": "a.yaml", "X::Y": "b.yaml"}}),
    );
    e.load_json(&json!({"resource_registry": {"OS::*": null, "X::Y": null}}))
        .unwrap();
    assert_eq!(
        e.user_env_json()["resource_registry"],
        json!({"resources": {}})
    );
}

#[test]
fn base_url_is_kept() {
    let e = env(json!({"resource_registry": {"base_url": "http://example.com/templates/"}}));
    assert_eq!(e.registry.base_url(), Some("http://example.com/templates/"));
}

#[test]
fn child_environment() {
    // The child's registry is loaded after the parent's, so it wins.
    let parent = env(
        json!({"resource_registry": {"OS::Food": "carrots.yaml"}, "parameters": {"p": 1},
                            "parameter_defaults": {"d": 2}}),
    );
    let child = parent
        .child(
            Some(&json!({"resource_registry": {"OS::Food": "apples.yaml"}})),
            None,
            None,
        )
        .unwrap();
    assert_eq!(lookup(&child, "x", "OS::Food"), template("apples.yaml"));
    assert!(child.parameters.is_empty());
    assert_eq!(child.parameter_defaults["d"], json!(2));
    // Flat child parameters become the child's parameters.
    let child = parent.child(Some(&json!({"a": "b"})), None, None).unwrap();
    assert_eq!(child.parameters["a"], json!("b"));

    // Removing the provider template entry that made the nested stack.
    let parent = env(json!({"resource_registry": {"OS::Food": "fruity.yaml",
                                                  "resources": {"abc": {"OS::Food": "nutty.yaml"}}}}));
    let global = GlobalRegistry::new(&is_builtin);
    let victim = parent
        .resolve_resource(&global, &[], "abc", "OS::Food")
        .unwrap();
    assert_eq!(victim.path, vec!["resources", "abc", "OS::Food"]);
    let child = parent.child(None, Some(&victim.path), None).unwrap();
    let r = child
        .resolve_resource(&global, &[], "abc", "OS::Food")
        .unwrap();
    assert_eq!(r.path, vec!["OS::Food"]);
    assert_eq!(lookup(&parent, "abc", "OS::Food"), template("nutty.yaml"));
}

#[test]
fn drilling_down_to_nested_resources() {
    let parent = env(json!({"resource_registry": {
    "OS::Food": "fruity.yaml",
    "resources": {
        "a": {"OS::Fruit": "apples.yaml", "hooks": "pre-create"},
        "nested": {"b": {"OS::Fruit": "carrots.yaml"}, "nested_res": {"hooks": "pre-create"}},
        "nest*": {"w": {"hooks": "pre-delete"}},
        "*_doesnt_match_nested": {"x": {"hooks": "pre-create"}}
    }}}));
    let child = parent.child(None, None, Some("nested")).unwrap();
    let resources = &child.user_env_json()["resource_registry"]["resources"];
    assert!(resources.get("nested_res").is_some());
    assert!(resources.get("w").is_some());
    assert!(resources.get("x").is_none());
    assert_eq!(lookup(&child, "abc", "OS::Food"), template("fruity.yaml"));
    assert_eq!(
        lookup(&child, "a", "OS::Fruit"),
        Err("The Resource Type (OS::Fruit) could not be found.".into())
    );
    assert_eq!(lookup(&child, "b", "OS::Fruit"), template("carrots.yaml"));
    assert_eq!(child.registry.hooks("nested_res"), vec![Hook::PreCreate]);

    // The same answers through the path API, without building the child.
    let global = GlobalRegistry::new(&is_builtin);
    let r = parent
        .resolve_resource(&global, &["nested"], "b", "OS::Fruit")
        .unwrap();
    assert_eq!(
        r.implementation,
        Implementation::Template("carrots.yaml".into())
    );
    let r = parent
        .resolve_resource(&global, &["nested"], "nested_res", "OS::Heat::None")
        .unwrap();
    assert_eq!(r.hooks, vec![Hook::PreCreate]);
}

#[test]
fn drill_down_prefers_the_exact_match() {
    let parent = env(json!({"resource_registry": {"resources": {
        "*esource": {"hooks": "pre-create"},
        "res*": {"hooks": "pre-create"},
        "resource": {"OS::Fruit": "carrots.yaml", "hooks": "pre-update"},
        "resource*": {"hooks": "pre-create"},
        "*resource": {"hooks": "pre-create"},
        "*sour*": {"hooks": "pre-create"}}}}));
    let child = parent.child(None, None, Some("resource")).unwrap();
    let resources = &child.user_env_json()["resource_registry"]["resources"];
    assert_eq!(resources["OS::Fruit"], json!("carrots.yaml"));
    assert_eq!(resources["hooks"], json!("pre-update"));
}

fn merge_types() -> IndexMap<String, ParamType> {
    use ParamType::*;
    [
        ("str_value1", String),
        ("str_value2", String),
        ("del_lst_value1", CommaDelimitedList),
        ("del_lst_value2", CommaDelimitedList),
        ("lst_value1", CommaDelimitedList),
        ("lst_value2", CommaDelimitedList),
        ("json_value1", Json),
        ("json_value2", Json),
        ("flag", Boolean),
    ]
    .into_iter()
    .map(|(n, t)| (n.to_string(), t))
    .collect()
}

fn env_1(strategies: Option<Value>) -> Value {
    let mut e = json!({
        "parameters": {"str_value1": "string1", "str_value2": "string2", "del_lst_value1": "1,2",
                       "del_lst_value2": "3,4", "lst_value1": [1, 2],
                       "json_value1": {"1": ["str1", "str2"]}, "json_value2": {"2": ["test1", "test2"]}},
        "resource_registry": {"test::R1": "OS::Heat::RandomString", "test::R2": "BROKEN"},
        "parameter_defaults": {"lst_value2": [3, 4]}});
    if let Some(s) = strategies {
        e["parameter_merge_strategies"] = s;
    }
    e
}

fn env_2() -> Value {
    json!({
        "parameters": {"str_value1": "string3", "str_value2": "string4", "del_lst_value1": "5,6",
                       "del_lst_value2": "7,8", "lst_value1": [5, 6],
                       "json_value1": {"3": ["str3", "str4"]}, "json_value2": {"4": ["test3", "test4"]}},
        "resource_registry": {"test::R2": "OS::Heat::None"},
        "parameter_defaults": {"lst_value2": [7, 8]}})
}

fn as_file(name: &str, value: &Value) -> EnvironmentFile {
    file(name, &value.to_string()).expect("environment file")
}

fn merged(files: &[Value]) -> Result<Environment, String> {
    let files: Vec<EnvironmentFile> = files
        .iter()
        .enumerate()
        .map(|(i, v)| as_file(&format!("env_{}", i + 1), v))
        .collect();
    merge_environment_files(&Environment::default(), &files, &merge_types()).map_err(|e| e.message)
}

fn object(map: &IndexMap<String, Value>) -> Value {
    Value::Object(map.clone().into_iter().collect())
}

#[test]
fn merge_overwrites_by_default() {
    let e = merged(&[env_1(None), env_2()]).unwrap();
    assert_eq!(
        object(&e.parameters),
        json!({"str_value1": "string3", "str_value2": "string4", "del_lst_value1": "5,6",
               "del_lst_value2": "7,8", "lst_value1": [5, 6], "json_value1": {"3": ["str3", "str4"]},
               "json_value2": {"4": ["test3", "test4"]}})
    );
    assert_eq!(object(&e.parameter_defaults), json!({"lst_value2": [7, 8]}));
    assert_eq!(
        e.user_env_json()["resource_registry"],
        json!({"resources": {}, "test::R1": "OS::Heat::RandomString", "test::R2": "OS::Heat::None"})
    );
}

#[test]
fn merge_with_deep_merge_default() {
    let e = merged(&[env_1(Some(json!({"default": "deep_merge"}))), env_2()]).unwrap();
    assert_eq!(
        object(&e.parameters),
        json!({"str_value1": "string1string3", "str_value2": "string2string4",
               "del_lst_value1": "1,2,5,6", "del_lst_value2": "3,4,7,8", "lst_value1": [1, 2, 5, 6],
               "json_value1": {"1": ["str1", "str2"], "3": ["str3", "str4"]},
               "json_value2": {"2": ["test1", "test2"], "4": ["test3", "test4"]}})
    );
    assert_eq!(
        object(&e.parameter_defaults),
        json!({"lst_value2": [3, 4, 7, 8]})
    );
}

#[test]
fn merge_with_per_parameter_strategies() {
    let strategies = json!({"default": "overwrite", "lst_value1": "merge", "lst_value2": "merge",
                            "json_value1": "deep_merge"});
    let e = merged(&[env_1(Some(strategies)), env_2()]).unwrap();
    assert_eq!(e.parameters["lst_value1"], json!([1, 2, 5, 6]));
    assert_eq!(
        e.parameters["json_value1"],
        json!({"1": ["str1", "str2"], "3": ["str3", "str4"]})
    );
    assert_eq!(
        e.parameters["json_value2"],
        json!({"4": ["test3", "test4"]})
    );
    assert_eq!(e.parameters["str_value1"], json!("string3"));
    assert_eq!(e.parameter_defaults["lst_value2"], json!([3, 4, 7, 8]));
}

#[test]
fn conflicting_strategies_are_refused() {
    let s1 = json!({"default": "overwrite", "lst_value1": "merge", "json_value1": "deep_merge"});
    let env_3 = json!({"parameters": {"lst_value1": [9, 10], "json_value1": {"5": ["str5"]}},
                       "parameter_merge_strategies": {"default": "overwrite", "lst_value1": "deep_merge",
                                                      "json_value1": "merge"}});
    assert_eq!(
        merged(&[env_1(Some(s1)), env_2(), env_3]).unwrap_err(),
        "Conflicting merge strategy 'deep_merge' for parameter 'lst_value1' in file 'env_3'."
    );
    let s1 = json!({"default": "overwrite", "lst_value2": "merge"});
    let env_4 = json!({"parameter_defaults": {"lst_value2": [9, 10]},
                       "parameter_merge_strategies": {"default": "overwrite", "lst_value2": "overwrite"}});
    assert_eq!(
        merged(&[env_1(Some(s1)), env_2(), env_4]).unwrap_err(),
        "Conflicting merge strategy 'overwrite' for parameter 'lst_value2' in file 'env_3'."
    );
}

#[test]
fn merging_booleans_is_refused() {
    let a =
        json!({"parameters": {"flag": "true"}, "parameter_merge_strategies": {"flag": "merge"}});
    let b = json!({"parameters": {"flag": "false"}});
    assert_eq!(
        merged(&[a, b]).unwrap_err(),
        "Invalid merge strategy 'merge' for parameter 'flag'."
    );
}

#[test]
fn merge_keeps_zeros() {
    let types: IndexMap<String, ParamType> = [("value1".to_string(), ParamType::Json)]
        .into_iter()
        .collect();
    let a = as_file(
        "a",
        &json!({"parameter_defaults": {"value1": {"foo": 1}},
                                 "parameter_merge_strategies": {"value1": "deep_merge"}}),
    );
    let b = as_file("b", &json!({"parameter_defaults": {"value1": {"foo": 0}}}));
    let e = merge_environment_files(&Environment::default(), &[a, b], &types).unwrap();
    assert_eq!(e.parameter_defaults["value1"], json!({"foo": 0}));
}

#[test]
fn request_environment_rules() {
    let inline = as_file(
        "inline",
        &json!({"parameters": {"str_value1": "inline", "x": 1}}),
    );
    let params: IndexMap<String, Value> = [("str_value1".to_string(), json!("body"))]
        .into_iter()
        .collect();
    // Without environment files the inline environment is the base and body parameters win.
    let e = request_environment(Some(&inline), &[], &params, &merge_types()).unwrap();
    assert_eq!(e.parameters["str_value1"], json!("body"));
    assert_eq!(e.parameters["x"], json!(1));
    // With environment files the inline environment is ignored; the files merge over the body.
    let f = as_file("f", &json!({"parameters": {"str_value1": "file"}}));
    let e = request_environment(Some(&inline), &[f], &params, &merge_types()).unwrap();
    assert_eq!(e.parameters["str_value1"], json!("file"));
    assert!(!e.parameters.contains_key("x"));
}

/// The stack environment recorded from a real Heat 27 (crates/api/tests/heat-samples/
/// environment.json): a stack created with `parameters: {len: 10}`.
#[test]
fn matches_recorded_heat_environment() {
    let params: IndexMap<String, Value> = [("len".to_string(), json!(10))].into_iter().collect();
    let e = request_environment(None, &[], &params, &IndexMap::new()).unwrap();
    assert_eq!(
        e.env_json(),
        json!({"encrypted_param_names": [], "event_sinks": [], "parameter_defaults": {},
               "parameters": {"len": 10}, "resource_registry": {"resources": {}}})
    );
}
