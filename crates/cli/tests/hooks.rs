//! `ember stack hook poll` / `hook clear` (`openstack stack hook poll/clear`) in both modes: a
//! `pre-create` hook and a `post-create` hook listed while pending and cleared by name.

mod common;

use common::{ember, serve, stderr, stdout};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const TEMPLATE: &str = "heat_template_version: 2016-10-14
resources:
  first: {type: OS::Heat::None}
  second: {type: OS::Heat::None, depends_on: first}
";

const ENVIRONMENT: &str = "resource_registry:
  resources:
    first: {hooks: pre-create}
    second: {hooks: post-create}
";

/// Runs `hook poll` until it lists exactly `resource` paused with `reason`.
fn wait_for_hook(command: &dyn Fn(&[&str]) -> Command, resource: &str, reason: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let polled = command(&["stack", "hook", "poll", "hooked", "-f", "json"])
            .output()
            .unwrap();
        // Until the create has stored the stack, poll answers that it is not found.
        let rows: Value = serde_json::from_slice(&polled.stdout).unwrap_or(Value::Null);
        let pending: Vec<(&str, &str)> = rows
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                (
                    r["Resource Name"].as_str().unwrap_or_default(),
                    r["Resource Status Reason"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        if pending == [(resource, reason)] {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{resource} never listed as paused: {pending:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Pauses on both hooks and clears them with `hook clear`; `command` runs `ember` in one mode.
fn pause_and_clear(dir: &Path, command: &dyn Fn(&[&str]) -> Command) -> std::process::Child {
    let template = dir.join("hooked.yaml");
    let environment = dir.join("hooks.yaml");
    std::fs::write(&template, TEMPLATE).unwrap();
    std::fs::write(&environment, ENVIRONMENT).unwrap();
    let create = command(&[
        "stack",
        "create",
        "-t",
        template.to_str().unwrap(),
        "-e",
        environment.to_str().unwrap(),
        "hooked",
    ])
    .stdout(std::process::Stdio::null())
    .spawn()
    .unwrap();
    wait_for_hook(
        command,
        "first",
        "CREATE paused until Hook pre-create is cleared",
    );
    // A hook that is not pending is refused with Heat's message.
    let wrong = command(&["stack", "hook", "clear", "--pre-update", "hooked", "first"])
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        stderr(&wrong)
            .contains("The \"pre-update\" hook is not defined on OS::Heat::None \"first\""),
        "{}",
        stderr(&wrong)
    );
    let cleared = command(&["stack", "hook", "clear", "hooked", "first"])
        .output()
        .unwrap();
    assert!(cleared.status.success(), "{}", stderr(&cleared));
    // first is created, then second pauses after its create; no flag: the pending hook.
    wait_for_hook(
        command,
        "second",
        "CREATE paused until Hook post-create is cleared",
    );
    let cleared = command(&["stack", "hook", "clear", "hooked", "sec*"])
        .output()
        .unwrap();
    assert!(cleared.status.success(), "{}", stderr(&cleared));
    create
}

fn wait_for_complete(command: &dyn Fn(&[&str]) -> Command) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let shown = command(&[
            "stack",
            "show",
            "hooked",
            "-f",
            "value",
            "-c",
            "stack_status",
        ])
        .output()
        .unwrap();
        if stdout(&shown) == "CREATE_COMPLETE\n" {
            break;
        }
        assert!(Instant::now() < deadline, "{}", stdout(&shown));
        std::thread::sleep(Duration::from_millis(200));
    }
    // heatclient's rule: hooks belong to an action in progress.
    let polled = command(&["stack", "hook", "poll", "hooked"])
        .output()
        .unwrap();
    assert_eq!(polled.status.code(), Some(1));
    assert!(
        stderr(&polled).contains("Unexpected stack status CREATE_COMPLETE"),
        "{}",
        stderr(&polled)
    );
}

#[test]
fn hooks_are_polled_and_cleared_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let command = |args: &[&str]| {
        let mut c = ember(dir.path());
        c.args(args);
        c
    };
    // In process the create waits for its own engine; other commands share the store.
    let mut create = pause_and_clear(dir.path(), &command);
    let status = create.wait().unwrap();
    assert!(status.success());
    wait_for_complete(&command);
}

#[test]
fn hooks_are_polled_and_cleared_against_ember_serve() {
    let server_dir = tempfile::tempdir().unwrap();
    let client_dir = tempfile::tempdir().unwrap();
    let server = serve(ember(server_dir.path()), &["--auth", "none"]);
    let endpoint = format!("http://{}/v1/tenant-h", server.bind);
    let command = |args: &[&str]| {
        let mut c = ember(client_dir.path());
        c.env("EMBER_URL", &endpoint).args(args);
        c
    };
    let mut create = pause_and_clear(client_dir.path(), &command);
    assert!(create.wait().unwrap().success());
    wait_for_complete(&command);
}
