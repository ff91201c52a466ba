//! Intrinsic functions per version, with the semantics and messages of Heat's
//! `heat/engine/hot/functions.py` and `cfn/functions.py` (see the inventory footnotes).

use std::cell::RefCell;
use std::collections::BTreeMap;

use ember_template::eval::select_path;
use ember_template::{
    parse_template, EvalError, Limits, Resolver, StackDefinition, StackIdentity, StackInput,
    TemplateError,
};
use serde_json::{json, Value};

/// Resources answer fixed attributes and record the paths they are asked for.
#[derive(Default)]
struct FakeResolver {
    attr_paths: RefCell<Vec<Vec<Value>>>,
}

impl Resolver for FakeResolver {
    fn resource_ref(&self, name: &str) -> Result<Value, EvalError> {
        Ok(json!(format!("{name}-id")))
    }
    fn resource_attr(&self, _: &str, attr: &str, path: &[Value]) -> Result<Value, EvalError> {
        self.attr_paths.borrow_mut().push(path.to_vec());
        let whole = json!({"attr": attr, "nested": {"k": "v"}, "list": ["a", "b"]});
        Ok(select_path(&whole, path))
    }
    fn resource_attrs(&self, name: &str) -> Result<Value, EvalError> {
        Ok(json!({"name": name, "all": true}))
    }
    fn resource_facade(&self, what: &str) -> Result<Value, EvalError> {
        Ok(json!(format!("facade-{what}")))
    }
    fn availability_zones(&self) -> Vec<String> {
        vec!["az1".into(), "az2".into()]
    }
}

fn param_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "boolean",
        _ => "json",
    }
}

fn hot_template(version: &str, snippet: &str, params: &[(&str, Value)], extra: &str) -> String {
    let mut text = format!("heat_template_version: {version}\nparameters:\n");
    for (name, value) in params {
        text.push_str(&format!(
            "  {name}:\n    type: {}\n    default: {value}\n",
            param_type(value)
        ));
    }
    text.push_str(&format!(
        "{extra}resources:\n  server:\n    type: OS::Nova::Server\noutputs:\n  o:\n    value: {snippet}\n"
    ));
    text
}

fn run(text: &str, resolver: &FakeResolver) -> Result<Value, TemplateError> {
    let template = parse_template(text, "t.yaml", &Limits::default())?;
    let mut files = BTreeMap::new();
    files.insert("a.sh".to_string(), "echo hi".to_string());
    let input = StackInput {
        files,
        identity: StackIdentity {
            name: "st".into(),
            id: "id1".into(),
            project_id: "pr".into(),
        },
        ..StackInput::default()
    };
    let stack = StackDefinition::new(template, input)?;
    stack.resolve_output("o", resolver)
}

fn eval(version: &str, snippet: &str, params: &[(&str, Value)]) -> Result<Value, TemplateError> {
    run(
        &hot_template(version, snippet, params, ""),
        &FakeResolver::default(),
    )
}

fn ok(version: &str, snippet: &str, params: &[(&str, Value)]) -> Value {
    eval(version, snippet, params).unwrap_or_else(|e| panic!("{snippet}: {e}"))
}

fn err(version: &str, snippet: &str, params: &[(&str, Value)]) -> String {
    match eval(version, snippet, params) {
        Ok(v) => panic!("{snippet} gave {v}"),
        Err(e) => e.message,
    }
}

const NEWEST: &str = "2021-04-16";

#[test]
fn get_param_walks_paths_and_gives_empty_string_for_missing_ones() {
    let p = [("m", json!({"a": [10, 20], "b": {"c": "d"}}))];
    assert_eq!(ok(NEWEST, "{get_param: [m, a, '1']}", &p), json!(20));
    assert_eq!(ok(NEWEST, "{get_param: [m, b, c]}", &p), json!("d"));
    assert_eq!(ok(NEWEST, "{get_param: [m, zz]}", &p), json!(""));
    assert_eq!(ok(NEWEST, "{get_param: [m, a, 7]}", &p), json!(""));
    assert_eq!(
        ok(NEWEST, "{get_param: 'OS::stack_name'}", &[]),
        json!("st")
    );
    assert_eq!(
        err(NEWEST, "{get_param: nope}", &[]),
        "The Parameter (nope) was not provided."
    );
}

#[test]
fn get_resource_and_unknown_references() {
    assert_eq!(
        ok(NEWEST, "{get_resource: server}", &[]),
        json!("server-id")
    );
    let e = eval(NEWEST, "{get_resource: ghost}", &[]).unwrap_err();
    assert_eq!(
        e.message,
        "The specified reference \"ghost\" (in unknown) is incorrect."
    );
    assert_eq!(e.location.span.line, 8);
}

#[test]
fn get_attr_forms_per_version() {
    // 2013-05-23 reads the attribute, then selects the path in it.
    let r = FakeResolver::default();
    let v = run(
        &hot_template("2013-05-23", "{get_attr: [server, x, nested, k]}", &[], ""),
        &r,
    )
    .unwrap();
    assert_eq!(v, json!("v"));
    assert_eq!(r.attr_paths.borrow().last().unwrap(), &Vec::<Value>::new());
    // Later versions pass the path to the resource.
    let r = FakeResolver::default();
    let v = run(
        &hot_template("2014-10-16", "{get_attr: [server, x, list, 1]}", &[], ""),
        &r,
    )
    .unwrap();
    assert_eq!(v, json!("b"));
    assert_eq!(
        r.attr_paths.borrow().last().unwrap(),
        &vec![json!("list"), json!(1)]
    );
    // All attributes from 2015-10-15.
    assert_eq!(
        ok("2015-10-15", "{get_attr: [server]}", &[]),
        json!({"name": "server", "all": true})
    );
    assert_eq!(
        err("2015-04-30", "{get_attr: [server]}", &[]),
        "Arguments to \"get_attr\" must be of the form [resource_name, attribute, (path), ...]"
    );
    assert_eq!(
        err(NEWEST, "{get_attr: server}", &[]),
        "Argument to \"get_attr\" must be a list"
    );
}

#[test]
fn get_file_reads_the_files_map() {
    assert_eq!(ok(NEWEST, "{get_file: a.sh}", &[]), json!("echo hi"));
    assert_eq!(
        err(NEWEST, "{get_file: b.sh}", &[]),
        "No content found in the \"files\" section for get_file path: b.sh"
    );
}

#[test]
fn str_replace_prefers_longer_keys_and_does_not_rescan() {
    let snippet = "{str_replace: {template: 'var varx', params: {var: varx, varx: Y}}}";
    assert_eq!(ok(NEWEST, snippet, &[]), json!("varx Y"));
    let snippet =
        "{str_replace: {template: 'a b c', params: {a: true, b: 1.0, c: [1, {z: 1, y: 2}]}}}";
    assert_eq!(
        ok(NEWEST, snippet, &[]),
        json!("True 1.0 [1, {\"y\": 2, \"z\": 1}]")
    );
    assert_eq!(
        err(
            "2015-04-30",
            "{str_replace: {template: 'a', params: {a: [1]}}}",
            &[]
        ),
        "\"str_replace\" params must be strings or numbers, param a is not valid"
    );
    assert_eq!(
        ok(
            "2015-04-30",
            "{str_replace: {template: 'a-b', params: {a: null, b: 2}}}",
            &[]
        ),
        json!("-2")
    );
    assert!(err(NEWEST, "{str_replace: {template: 'a'}}", &[])
        .starts_with("\"str_replace\" syntax should be"));
}

#[test]
fn strict_replacements() {
    assert_eq!(
        err(
            "2017-02-24",
            "{str_replace_strict: {template: 'a', params: {a: 1, bb: 2, c: 3}}}",
            &[]
        ),
        "The following params were not found in the template: bb,c"
    );
    assert_eq!(
        err("2017-09-01", "{str_replace_vstrict: {template: 'a b', params: {a: 1, b: ''}}}", &[]),
        "str_replace_vstrict has an undefined or empty value for param b, must be a defined non-empty value"
    );
    // Not a function before 2017-09-01: the map stays literal data.
    assert_eq!(
        ok("2017-02-24", "{str_replace_vstrict: 1}", &[]),
        json!({"str_replace_vstrict": 1})
    );
}

#[test]
fn list_join_old_and_new_forms() {
    assert_eq!(
        ok("2015-04-30", "{list_join: [',', [a, null, b]]}", &[]),
        json!("a,,b")
    );
    assert_eq!(
        err("2015-04-30", "{list_join: [',', [a, 1]]}", &[]),
        "Items to join must be strings not 1"
    );
    assert_eq!(
        err("2015-04-30", "{list_join: [',', [a], [b]]}", &[]),
        "Incorrect arguments to \"list_join\" should be: \"list_join\" : [ \" \", [ \"str1\", \"str2\"]]"
    );
    assert_eq!(
        ok(NEWEST, "{list_join: [',', [a, {k: v}], [[1]]]}", &[]),
        json!("a,{\"k\": \"v\"},[1]")
    );
}

#[test]
fn digest_algorithms() {
    assert_eq!(
        ok(NEWEST, "{digest: [md5, abc]}", &[]),
        json!("900150983cd24fb0d6963f7d28e17f72")
    );
    assert_eq!(
        ok(NEWEST, "{digest: [sha256, abc]}", &[]),
        json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    assert_eq!(
        ok(NEWEST, "{digest: [sha1, abc]}", &[]),
        json!("a9993e364706816aba3e25717850c26c9cd0d89d")
    );
    assert_eq!(
        err(NEWEST, "{digest: [md5]}", &[]),
        "Function \"digest\" usage: [\"<algorithm>\", \"<value>\"]"
    );
    assert_eq!(
        ok("2014-10-16", "{digest: [md5, abc]}", &[]),
        json!({"digest": ["md5", "abc"]})
    );
}

#[test]
fn repeat_products_zips_and_maps() {
    let snippet = "{repeat: {for_each: {'%a%': [1, 2], '%b%': [x, y]}, template: '%a%-%b%'}}";
    assert_eq!(
        ok("2015-04-30", snippet, &[]),
        json!(["1-x", "1-y", "2-x", "2-y"])
    );
    let zipped = "{repeat: {for_each: {'%a%': [1, 2], '%b%': [x, y]}, template: {'k%a%': '%b%'}, permutations: false}}";
    assert_eq!(
        ok("2017-09-01", zipped, &[]),
        json!([{"k1": "x"}, {"k2": "y"}])
    );
    assert_eq!(
        err("2017-09-01", "{repeat: {for_each: {'%a%': [1, 2], '%b%': [x]}, template: '%a%', permutations: false}}", &[]),
        "For repeat, the length of for_each values should be equal if no nested loop."
    );
    let over_map = "{repeat: {for_each: {'%k%': {p: 1, q: 2}}, template: '%k%'}}";
    assert_eq!(ok("2016-10-14", over_map, &[]), json!(["p", "q"]));
    assert_eq!(
        err("2016-04-08", over_map, &[]),
        "The values of the \"for_each\" argument to \"repeat\" must be lists"
    );
    assert_eq!(
        err(NEWEST, "{repeat: {for_each: [1], template: x}}", &[]),
        "The \"for_each\" argument to \"repeat\" must contain a map"
    );
}

#[test]
fn repeat_cannot_run_away() {
    let big: Vec<i32> = (0..1000).collect();
    let lists = serde_json::to_string(&big).unwrap();
    let snippet =
        format!("{{repeat: {{for_each: {{a: {lists}, b: {lists}, c: {lists}}}, template: abc}}}}");
    let e = eval(NEWEST, &snippet, &[]).unwrap_err();
    assert_eq!(e.kind, ember_template::ErrorKind::Limit);
}

#[test]
fn str_split_with_and_without_index() {
    assert_eq!(
        ok(NEWEST, "{str_split: [',', 'a,b,c']}", &[]),
        json!(["a", "b", "c"])
    );
    assert_eq!(
        ok(NEWEST, "{str_split: [',', 'a,b,c', 1]}", &[]),
        json!("b")
    );
    assert_eq!(
        err(NEWEST, "{str_split: [',', 'a,b,c', 5]}", &[]),
        "Incorrect index to \"str_split\" should be between 0 and 2"
    );
}

#[test]
fn map_merge_and_map_replace() {
    assert_eq!(
        ok(NEWEST, "{map_merge: [{a: 1, b: 2}, null, {b: 3}]}", &[]),
        json!({"a": 1, "b": 3})
    );
    assert_eq!(
        ok(
            NEWEST,
            "{map_replace: [{a: 1, b: x}, {keys: {a: A}, values: {x: X}}]}",
            &[]
        ),
        json!({"A": 1, "b": "X"})
    );
    assert_eq!(
        err(NEWEST, "{map_replace: [{a: 1, b: 2}, {keys: {a: b}}]}", &[]),
        "key replacement b collides with a key in the input map"
    );
}

#[test]
fn if_with_two_and_three_arguments() {
    let extra = "conditions:\n  yes_c: true\n  no_c: false\n";
    let r = FakeResolver::default();
    let t = hot_template(NEWEST, "{if: [yes_c, a, b]}", &[], extra);
    assert_eq!(run(&t, &r).unwrap(), json!("a"));
    let t = hot_template(NEWEST, "[1, {if: [no_c, 2]}, 3]", &[], extra);
    assert_eq!(run(&t, &r).unwrap(), json!([1, 3]));
    let t = hot_template(NEWEST, "{k: {if: [no_c, 2]}, j: 1}", &[], extra);
    assert_eq!(run(&t, &r).unwrap(), json!({"j": 1}));
    let t = hot_template("2018-08-31", "[{if: [no_c, 2]}]", &[], extra);
    assert_eq!(
        run(&t, &r).unwrap_err().message,
        "Arguments to \"if\" must be of the form: [condition_name, value_if_true, value_if_false]"
    );
    let t = hot_template(NEWEST, "{if: [{equals: [1, 1.0]}, eq, ne]}", &[], extra);
    assert_eq!(run(&t, &r).unwrap(), json!("eq"));
    let t = hot_template(NEWEST, "{if: [missing, a, b]}", &[], extra);
    assert_eq!(
        run(&t, &r).unwrap_err().message,
        "Invalid condition \"missing\""
    );
}

#[test]
fn list_functions() {
    assert_eq!(
        ok("2017-02-24", "{filter: [[2], [1, 2, 3, 2]]}", &[]),
        json!([1, 3])
    );
    assert_eq!(
        ok(NEWEST, "{list_concat: [[1], null, [2, 1]]}", &[]),
        json!([1, 2, 1])
    );
    assert_eq!(
        ok(NEWEST, "{list_concat_unique: [[1], [2, 1]]}", &[]),
        json!([1, 2])
    );
    assert_eq!(ok(NEWEST, "{contains: [b, [a, b]]}", &[]), json!(true));
    assert_eq!(
        err(NEWEST, "{list_concat: [[1], 2]}", &[]),
        "Incorrect arguments: Items to concat must be lists. [[1], 2] contains an item that is not a list: 2"
    );
    assert_eq!(
        err(NEWEST, "{filter: [[1]]}", &[]),
        "\"filter\" expected 2 arguments of the form [values, sequence] but got 1 arguments instead"
    );
}

#[test]
fn make_url_quotes_like_python() {
    let snippet = "{make_url: {scheme: http, host: 'fe80::1', port: 8080, path: '/a b', query: {q: 'x/y z'}, fragment: f}}";
    assert_eq!(
        ok(NEWEST, snippet, &[]),
        json!("http://[fe80::1]:8080/a%20b?q=x/y+z#f")
    );
    let snippet = "{make_url: {scheme: https, username: 'u@', password: p, host: example.com}}";
    assert_eq!(
        ok(NEWEST, snippet, &[]),
        json!("https://u%40:p@example.com")
    );
    assert_eq!(
        err(NEWEST, "{make_url: {host: h, port: 0}}", &[]),
        "Invalid URL port 0, must be in range 1-65535"
    );
    assert_eq!(
        err(NEWEST, "{make_url: {hots: h}}", &[]),
        "Invalid arguments to \"make_url\": hots"
    );
}

#[test]
fn resource_facade_names() {
    assert_eq!(
        ok(NEWEST, "{resource_facade: metadata}", &[]),
        json!("facade-metadata")
    );
    assert_eq!(
        err(NEWEST, "{resource_facade: nope}", &[]),
        "Incorrect arguments to \"resource_facade\" should be one of: metadata, deletion_policy, update_policy"
    );
}

#[test]
fn removed_cfn_functions_are_refused_in_later_hot() {
    assert_eq!(
        err("2015-10-15", "{'Fn::Join': [',', [a]]}", &[]),
        "The template version is invalid: The function Fn::Join is not supported in this version of HOT."
    );
    assert_eq!(
        err("2015-10-15", "{'Fn::Select': [0, [a]]}", &[]),
        "The template version is invalid: The function Fn::Select is not supported in this version of HOT."
    );
    assert_eq!(
        ok("2015-04-30", "{'Fn::Select': [1, [a, b]]}", &[]),
        json!("b")
    );
    assert_eq!(
        ok("2013-05-23", "{'Fn::Join': [',', [a, b]]}", &[]),
        json!("a,b")
    );
    assert_eq!(ok("2013-05-23", "{Ref: server}", &[]), json!("server-id"));
    // A map with two keys is data even when one is a function name.
    assert_eq!(
        ok(NEWEST, "{get_param: x, other: 1}", &[]),
        json!({"get_param": "x", "other": 1})
    );
}

#[test]
fn yaql_evaluates_against_data() {
    assert_eq!(
        ok(
            NEWEST,
            "{yaql: {expression: '$.data.a.sum()', data: {a: [1, 2, 3]}}}",
            &[]
        ),
        json!(6)
    );
    let p = [("servers", json!(["s1", "s2"]))];
    assert_eq!(
        ok(
            NEWEST,
            "{yaql: {expression: '$.data.s.len()', data: {s: {get_param: servers}}}}",
            &p
        ),
        json!(2)
    );
    assert_eq!(
        err(NEWEST, "{yaql: {expression: 1}}", &[]),
        "The \"expression\" argument to yaql must contain a string."
    );
    assert!(err(NEWEST, "{yaql: {expression: '$.data.'}}", &[]).starts_with("Bad expression "));
    assert!(err(NEWEST, "{yaql: {expression: '$.data', extra: 1}}", &[])
        .starts_with("\"yaql\" syntax should be"));
    assert_eq!(
        ok("2016-04-08", "{yaql: {expression: x}}", &[]),
        json!({"yaql": {"expression": "x"}})
    );
}

fn cfn(snippet: &str) -> Result<Value, TemplateError> {
    let text = format!(
        r#"{{"AWSTemplateFormatVersion": "2010-09-09",
  "Parameters": {{"Size": {{"Type": "String", "Default": "large"}}}},
  "Mappings": {{"Sizes": {{"large": {{"flavor": "m1.large"}}}}}},
  "Conditions": {{"Big": {{"Fn::Equals": [{{"Ref": "Size"}}, "large"]}}, "Small": {{"Fn::Not": ["Big"]}}}},
  "Resources": {{"Srv": {{"Type": "AWS::EC2::Instance"}}}},
  "Outputs": {{"o": {{"Value": {snippet}}}}}}}"#
    );
    run(&text, &FakeResolver::default())
}

#[test]
fn cfn_functions() {
    assert_eq!(cfn(r#"{"Ref": "Size"}"#).unwrap(), json!("large"));
    assert_eq!(cfn(r#"{"Ref": "Srv"}"#).unwrap(), json!("Srv-id"));
    assert_eq!(cfn(r#"{"Ref": "AWS::StackName"}"#).unwrap(), json!("st"));
    assert_eq!(
        cfn(r#"{"Fn::GetAtt": ["Srv", "PublicIp"]}"#).unwrap(),
        json!({"attr": "PublicIp", "nested": {"k": "v"}, "list": ["a", "b"]})
    );
    assert_eq!(
        cfn(r#"{"Fn::Join": ["-", ["a", "b"]]}"#).unwrap(),
        json!("a-b")
    );
    assert_eq!(
        cfn(r#"{"Fn::Select": ["1", ["a", "b"]]}"#).unwrap(),
        json!("b")
    );
    assert_eq!(
        cfn(r#"{"Fn::Select": ["9", ["a", "b"]]}"#).unwrap(),
        json!("")
    );
    assert_eq!(
        cfn(r#"{"Fn::Split": [",", "a,b"]}"#).unwrap(),
        json!(["a", "b"])
    );
    assert_eq!(
        cfn(r#"{"Fn::Replace": [{"$x": "1"}, "v=$x"]}"#).unwrap(),
        json!("v=1")
    );
    assert_eq!(cfn(r#"{"Fn::Base64": "plain"}"#).unwrap(), json!("plain"));
    assert_eq!(cfn(r#"{"Fn::GetAZs": ""}"#).unwrap(), json!(["az1", "az2"]));
    assert_eq!(
        cfn(r#"{"Fn::FindInMap": ["Sizes", {"Ref": "Size"}, "flavor"]}"#).unwrap(),
        json!("m1.large")
    );
    assert_eq!(
        cfn(r#"{"Fn::MemberListToMap": ["Name", "Value", [".member.0.Name=k", ".member.0.Value=v"]]}"#).unwrap(),
        json!({"k": "v"})
    );
    assert_eq!(
        cfn(r#"{"Fn::If": ["Big", "yes", "no"]}"#).unwrap(),
        json!("yes")
    );
    assert_eq!(
        cfn(r#"{"Fn::ResourceFacade": "Metadata"}"#).unwrap(),
        json!("facade-metadata")
    );
    // Condition functions are not value functions: the map stays data.
    assert_eq!(
        cfn(r#"{"Fn::Equals": [1, 1]}"#).unwrap(),
        json!({"Fn::Equals": [1, 1]})
    );
}

#[test]
fn if_branches_are_checked_only_when_picked() {
    // Heat parses only the branch the condition picks.
    let extra = "conditions:\n  yes_c: true\n";
    let r = FakeResolver::default();
    let t = hot_template(NEWEST, "{if: [yes_c, a, {list_join: [',']}]}", &[], extra);
    assert_eq!(run(&t, &r).unwrap(), json!("a"));
    let t = hot_template(NEWEST, "{if: [yes_c, {list_join: [',']}, a]}", &[], extra);
    assert!(run(&t, &r)
        .unwrap_err()
        .message
        .starts_with("Incorrect arguments to \"list_join\""));
}
