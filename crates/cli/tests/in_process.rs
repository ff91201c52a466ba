//! The `ember` binary in in-process mode (engine and API in the process, SQLite store in a
//! temporary directory): templates, stacks and their parts, with the output shapes of
//! `openstack stack ... -f json` and the exit codes of `openstack`.

mod common;

use common::{ember, stderr, stdout};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

fn run(store: &Path, args: &[&str]) -> std::process::Output {
    ember(store).args(args).output().unwrap()
}

fn json(store: &Path, args: &[&str]) -> Value {
    let output = run(store, args);
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", stdout(&output)))
}

fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn validate_prints_what_heats_validate_returns() {
    let store = tempfile::tempdir().unwrap();
    let hello = example("hello.yaml");
    let result = json(
        store.path(),
        &[
            "template",
            "validate",
            "-t",
            hello.to_str().unwrap(),
            "-f",
            "json",
        ],
    );
    assert_eq!(keys(&result)[..2], ["Description", "Parameters"]);
    assert_eq!(
        result["Description"],
        "A first Ember stack, with no cloud needed."
    );
    let greeting = &result["Parameters"]["greeting"];
    assert_eq!(greeting["Type"], "String");
    assert_eq!(greeting["Default"], "hello");
    assert_eq!(greeting["NoEcho"], "false");
    assert_eq!(greeting["Label"], "greeting");

    // The table shows one row per key of the answer, complex values as Python repr.
    let table = run(
        store.path(),
        &[
            "orchestration",
            "template",
            "validate",
            "-t",
            hello.to_str().unwrap(),
            "-f",
            "table",
        ],
    );
    assert!(table.status.success(), "{}", stderr(&table));
    let text = stdout(&table);
    assert!(text.starts_with("+-"), "{text}");
    assert!(text.contains("| Field       | Value"), "{text}");
    assert!(text.contains("| Parameters  | {'greeting': {"), "{text}");

    // The default format is YAML, as `openstack orchestration template validate` prints.
    let yaml = stdout(&run(
        store.path(),
        &["template", "validate", "-t", hello.to_str().unwrap()],
    ));
    assert!(
        yaml.starts_with(
            "Description: A first Ember stack, with no cloud needed.\nParameters:\n  greeting:\n"
        ),
        "{yaml}"
    );
}

#[test]
fn template_errors_name_file_line_and_column() {
    let store = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bad_param = write(
        dir.path(),
        "bad.yaml",
        "heat_template_version: 2018-08-31\nresources:\n  first:\n    type: OS::Heat::TestResource\n    properties:\n      value: {get_param: nope}\n",
    );
    let output = run(store.path(), &["template", "validate", "-t", &bad_param]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains(&format!("{bad_param}:6:15")), "{err}");
    assert!(
        err.contains("The Parameter (nope) was not provided."),
        "{err}"
    );
    assert!(
        err.contains("resources.first.properties.value.get_param"),
        "{err}"
    );

    // A YAML syntax error is found before anything is sent.
    let bad_yaml = write(
        dir.path(),
        "syntax.yaml",
        "heat_template_version: 2021-04-16\nresources:\n  a: [1, 2\n",
    );
    let output = run(store.path(), &["stack", "create", "-t", &bad_yaml, "s"]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains(&format!("{bad_yaml}:")), "{err}");
    assert!(err.contains("Error parsing template"), "{err}");
}

#[test]
fn template_versions_and_functions() {
    let store = tempfile::tempdir().unwrap();
    let versions = json(store.path(), &["template", "version", "list", "-f", "json"]);
    let versions = versions.as_array().unwrap();
    assert_eq!(keys(&versions[0]), ["Version", "Type", "Aliases"]);
    let wallaby = versions
        .iter()
        .find(|v| v["Version"] == "heat_template_version.2021-04-16")
        .expect("2021-04-16 is listed");
    assert_eq!(wallaby["Type"], "hot");
    assert!(versions
        .iter()
        .any(|v| v["Version"] == "AWSTemplateFormatVersion.2010-09-09" && v["Type"] == "cfn"));

    let functions = json(
        store.path(),
        &[
            "template",
            "function",
            "list",
            "heat_template_version.2013-05-23",
            "-f",
            "json",
        ],
    );
    let names: Vec<&str> = functions
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["Functions"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"get_param") && names.contains(&"get_file"),
        "{names:?}"
    );
    assert!(
        !names.contains(&"yaql"),
        "yaql came with 2016-10-14: {names:?}"
    );

    let missing = run(
        store.path(),
        &["template", "function", "list", "2016-10-14"],
    );
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(stderr(&missing), "Template version not found: 2016-10-14\n");
}

#[test]
fn stack_lifecycle_as_openstack_prints_it() {
    let store = tempfile::tempdir().unwrap();
    let s = store.path();
    let hello = example("hello.yaml");

    // The README's command: live progress, then the short stack table.
    let created = run(
        s,
        &[
            "stack",
            "create",
            "-t",
            hello.to_str().unwrap(),
            "--wait",
            "hello",
        ],
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let text = stdout(&created);
    assert!(
        text.contains("[hello]: CREATE_IN_PROGRESS  Stack CREATE started"),
        "{text}"
    );
    assert!(
        text.contains("[hello.secret]: CREATE_COMPLETE  state changed"),
        "{text}"
    );
    assert!(
        text.contains("[hello]: CREATE_COMPLETE  Stack CREATE completed successfully"),
        "{text}"
    );
    assert!(
        text.contains("| stack_status        | CREATE_COMPLETE"),
        "{text}"
    );

    let list = json(s, &["stack", "list", "-f", "json"]);
    assert_eq!(
        keys(&list[0]),
        [
            "ID",
            "Stack Name",
            "Stack Status",
            "Creation Time",
            "Updated Time"
        ]
    );
    assert_eq!(list[0]["Stack Name"], "hello");
    assert_eq!(list[0]["Stack Status"], "CREATE_COMPLETE");

    let show = json(s, &["stack", "show", "hello", "-f", "json"]);
    assert_eq!(
        keys(&show)[..10],
        [
            "id",
            "stack_name",
            "description",
            "creation_time",
            "updated_time",
            "stack_status",
            "stack_status_reason",
            "parameters",
            "outputs",
            "links"
        ]
    );
    assert!(!keys(&show).contains(&"template_description"));
    assert_eq!(show["parameters"]["OS::stack_name"], "hello");
    assert_eq!(show["parameters"]["greeting"], "hello");
    let output = &show["outputs"][0];
    assert_eq!(output["output_key"], "message");
    let message = output["output_value"].as_str().unwrap();
    assert!(message.starts_with("hello from hello (token "), "{message}");

    let value = stdout(&run(
        s,
        &[
            "stack",
            "output",
            "show",
            "hello",
            "message",
            "-c",
            "output_value",
            "-f",
            "value",
        ],
    ));
    assert_eq!(value.trim_end(), message);

    let resources = json(s, &["stack", "resource", "list", "hello", "-f", "json"]);
    let resources = resources.as_array().unwrap();
    assert_eq!(resources.len(), 2);
    assert_eq!(
        keys(&resources[0]),
        [
            "resource_name",
            "physical_resource_id",
            "resource_type",
            "resource_status",
            "updated_time"
        ]
    );
    let mut types: Vec<&str> = resources
        .iter()
        .map(|r| r["resource_type"].as_str().unwrap())
        .collect();
    types.sort();
    assert_eq!(types, ["OS::Heat::RandomString", "OS::Heat::Value"]);

    let events = json(s, &["stack", "event", "list", "hello", "-f", "json"]);
    let events = events.as_array().unwrap();
    assert_eq!(
        keys(&events[0]),
        [
            "resource_name",
            "id",
            "resource_status",
            "resource_status_reason",
            "event_time",
            "physical_resource_id",
            "logical_resource_id"
        ]
    );
    assert_eq!(events.len(), 6, "{events:?}");
    let log = stdout(&run(s, &["stack", "event", "list", "hello"]));
    assert_eq!(log.lines().count(), 6, "{log}");
    assert!(
        log.lines()
            .last()
            .unwrap()
            .ends_with("[hello]: CREATE_COMPLETE  Stack CREATE completed successfully"),
        "{log}"
    );

    let outputs = json(s, &["stack", "output", "list", "hello", "-f", "json"]);
    assert_eq!(
        outputs,
        serde_json::json!([{"output_key": "message", "description": "The composed greeting."}])
    );

    // An `--existing` update changes only what is given.
    let updated = run(
        s,
        &[
            "stack",
            "update",
            "hello",
            "--existing",
            "--parameter",
            "greeting=bonjour",
            "--wait",
        ],
    );
    assert!(updated.status.success(), "{}", stderr(&updated));
    assert!(stdout(&updated).contains("UPDATE_COMPLETE"));
    let value = stdout(&run(
        s,
        &[
            "stack",
            "output",
            "show",
            "hello",
            "message",
            "-c",
            "output_value",
            "-f",
            "value",
        ],
    ));
    assert!(value.starts_with("bonjour from hello (token "), "{value}");

    let deleted = run(s, &["stack", "delete", "--yes", "--wait", "hello"]);
    assert!(deleted.status.success(), "{}", stderr(&deleted));
    // An empty list prints an empty line, as cliff's table formatter does.
    assert_eq!(stdout(&run(s, &["stack", "list"])), "\n");
    let gone = run(s, &["stack", "show", "hello"]);
    assert_eq!(gone.status.code(), Some(1));
    assert_eq!(stderr(&gone), "Stack not found: hello\n");
}

#[test]
fn in_process_create_finishes_without_wait() {
    let store = tempfile::tempdir().unwrap();
    let hello = example("hello.yaml");
    let created = run(
        store.path(),
        &[
            "stack",
            "create",
            "-t",
            hello.to_str().unwrap(),
            "h2",
            "-f",
            "json",
        ],
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let shown: Value = serde_json::from_slice(&created.stdout).unwrap();
    assert_eq!(
        keys(&shown),
        [
            "id",
            "stack_name",
            "description",
            "creation_time",
            "updated_time",
            "stack_status",
            "stack_status_reason"
        ]
    );
    assert_eq!(shown["stack_status"], "CREATE_COMPLETE");
}

#[test]
fn failed_create_exits_non_zero_with_the_reason() {
    let store = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let template = write(
        dir.path(),
        "fail.yaml",
        "heat_template_version: 2018-08-31\nresources:\n  broken:\n    type: OS::Heat::TestResource\n    properties:\n      fail: true\n",
    );
    let output = run(
        store.path(),
        &["stack", "create", "-t", &template, "--wait", "f"],
    );
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("Stack f CREATE_FAILED"), "{err}");
    assert!(err.contains("Test Resource failed broken"), "{err}");
    let failures = stdout(&run(store.path(), &["stack", "failures", "list", "f"]));
    assert!(
        failures.starts_with("f.broken:\n  resource_type: OS::Heat::TestResource\n"),
        "{failures}"
    );
    assert!(failures.contains("  status: CREATE_FAILED\n"), "{failures}");
}

#[test]
fn environment_files_parameters_and_get_file_reach_the_engine() {
    let store = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    write(dir.path(), "data/motd.txt", "welcome aboard");
    let template = write(
        dir.path(),
        "t.yaml",
        "heat_template_version: 2021-04-16\nparameters:\n  who:\n    type: string\n  count:\n    type: number\n    default: 1\nresources:\n  motd:\n    type: OS::Heat::Value\n    properties:\n      value: {get_file: data/motd.txt}\noutputs:\n  motd:\n    value: {get_attr: [motd, value]}\n  who:\n    value: {get_param: who}\n  count:\n    value: {get_param: count}\n",
    );
    let env = write(dir.path(), "env.yaml", "parameters:\n  who: from-env\n");
    write(dir.path(), "count.txt", "7");
    let created = run(
        store.path(),
        &[
            "stack",
            "create",
            "-t",
            &template,
            "-e",
            &env,
            "--parameter-file",
            "count=count.txt",
            "--wait",
            "e",
        ],
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let show = json(store.path(), &["stack", "show", "e", "-f", "json"]);
    let outputs: Vec<(&str, &Value)> = show["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["output_key"].as_str().unwrap(), &o["output_value"]))
        .collect();
    assert!(
        outputs.contains(&("motd", &Value::from("welcome aboard"))),
        "{outputs:?}"
    );
    assert!(
        outputs.contains(&("who", &Value::from("from-env"))),
        "{outputs:?}"
    );
    // --parameter-file (relative to the template) reaches the engine as a request parameter.
    // (Heat merges environment files over request parameters; the engine tests cover that order.)
    assert!(outputs.contains(&("count", &Value::from(7))), "{outputs:?}");
    let files = json(store.path(), &["stack", "file", "list", "e", "-f", "json"]);
    assert_eq!(files["files"]["data/motd.txt"], "welcome aboard");
}

#[test]
fn the_mode_rule() {
    let store = tempfile::tempdir().unwrap();
    // OpenStack credentials alone never switch to client mode.
    let info = ember(store.path())
        .args(["info", "-f", "json"])
        .env("OS_AUTH_URL", "http://127.0.0.1:1/v3")
        .env("OS_USERNAME", "u")
        .env("OS_PASSWORD", "p")
        .env("OS_CLOUD", "somecloud")
        .output()
        .unwrap();
    let info: Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(info["mode"], "in-process");
    assert!(info["store_url"].as_str().unwrap().starts_with("sqlite://"));
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));

    // An endpoint does.
    let info = ember(store.path())
        .args(["info", "-f", "json"])
        .env("EMBER_URL", "http://127.0.0.1:8004")
        .output()
        .unwrap();
    let info: Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(info["mode"], "client");
    assert_eq!(info["endpoint"], "http://127.0.0.1:8004/v1/default");
}

#[test]
fn template_show_prints_the_stored_template() {
    let store = tempfile::tempdir().unwrap();
    let hello = example("hello.yaml");
    let created = run(
        store.path(),
        &["stack", "create", "-t", hello.to_str().unwrap(), "t"],
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let template = stdout(&run(store.path(), &["stack", "template", "show", "t"]));
    assert!(
        template.starts_with(
            "heat_template_version: '2021-04-16'\ndescription: A first Ember stack, with no cloud needed.\n"
        ),
        "{template}"
    );
}

#[test]
fn update_dry_run_lists_changes_by_kind() {
    let store = tempfile::tempdir().unwrap();
    let hello = example("hello.yaml");
    let created = run(
        store.path(),
        &["stack", "create", "-t", hello.to_str().unwrap(), "p"],
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let preview = json(
        store.path(),
        &[
            "stack",
            "update",
            "p",
            "-t",
            hello.to_str().unwrap(),
            "--dry-run",
            "-f",
            "json",
        ],
    );
    assert_eq!(
        keys(&preview),
        ["added", "deleted", "replaced", "unchanged", "updated"]
    );
}

/// `--show-nested` sends Heat's `show_nested=True`: the answer carries `NestedParameters` for a
/// provider template the CLI put in `files` (as heatclient does for a `*.yaml` type), with the
/// value the resource passes; without the flag there is none.
#[test]
fn validate_show_nested_prints_nested_parameters() {
    let store = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "server.yaml",
        "heat_template_version: 2016-10-14\ndescription: One inner server\nparameters:\n  flavor:\n    type: string\n    description: Flavor of the server\nresources:\n  inner:\n    type: OS::Heat::None\n",
    );
    let parent = write(
        dir.path(),
        "parent.yaml",
        "heat_template_version: 2016-10-14\nparameters:\n  size:\n    type: string\n    default: small\nresources:\n  server:\n    type: server.yaml\n    properties:\n      flavor: {get_param: size}\n",
    );
    let plain = json(
        store.path(),
        &["template", "validate", "-t", &parent, "-f", "json"],
    );
    assert!(plain.get("NestedParameters").is_none(), "{plain}");
    for group in [&["template"][..], &["orchestration", "template"][..]] {
        let mut args = group.to_vec();
        args.extend(["validate", "-t", &parent, "--show-nested", "-f", "json"]);
        let nested = json(store.path(), &args);
        let server = &nested["NestedParameters"]["server"];
        assert_eq!(server["Type"], "server.yaml", "{nested}");
        assert_eq!(server["Description"], "One inner server", "{nested}");
        assert_eq!(server["Parameters"]["flavor"]["Value"], "small", "{nested}");
        assert_eq!(nested["Parameters"], plain["Parameters"]);
    }
}

/// A parameter without a value does not hide an unknown resource type from validate.
#[test]
fn validate_refuses_unknown_type_when_a_parameter_has_no_value() {
    let store = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let template = write(
        dir.path(),
        "unknown.yaml",
        "heat_template_version: 2016-10-14\nparameters:\n  size:\n    type: number\nresources:\n  thing:\n    type: OS::No::Such\n    properties:\n      value: {get_param: size}\n",
    );
    let output = run(store.path(), &["template", "validate", "-t", &template]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let err = stderr(&output);
    assert!(
        err.contains("resources.thing: The Resource Type (OS::No::Such) could not be found."),
        "{err}"
    );
}
