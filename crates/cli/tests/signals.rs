//! The signal path through `ember serve`: a scaling policy's pre-signed `alarm_url` and its
//! `signal_url`, a native wait condition handle's `curl_cli`, and the CloudFormation handle's
//! pre-signed URL, each used with plain curl and no token, as an alarm service or a booting
//! server would; tampered, expired and other-resource URLs refused.

mod common;

use common::{ember, serve, stderr, Server};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const TEMPLATE: &str = r#"
heat_template_version: 2016-10-14
resources:
  group:
    type: OS::Heat::AutoScalingGroup
    properties:
      min_size: 1
      max_size: 3
      resource: {type: OS::Heat::None}
  up:
    type: OS::Heat::ScalingPolicy
    properties:
      adjustment_type: change_in_capacity
      auto_scaling_group_id: {get_resource: group}
      scaling_adjustment: 1
  handle: {type: OS::Heat::WaitConditionHandle}
  cfn_handle: {type: AWS::CloudFormation::WaitConditionHandle}
outputs:
  alarm_url: {value: {get_attr: [up, alarm_url]}}
  signal_url: {value: {get_attr: [up, signal_url]}}
  size: {value: {get_attr: [group, current_size]}}
  endpoint: {value: {get_attr: [handle, endpoint]}}
  token: {value: {get_attr: [handle, token]}}
  curl_cli: {value: {get_attr: [handle, curl_cli]}}
  cfn_url: {value: {get_resource: cfn_handle}}
"#;

/// The same stack waiting on both handles.
const WAITING: &str = r#"
  wait:
    type: OS::Heat::WaitCondition
    properties: {handle: {get_resource: handle}, timeout: 300}
  cfn_wait:
    type: AWS::CloudFormation::WaitCondition
    properties: {Handle: {get_resource: cfn_handle}, Timeout: 300}
"#;

/// `curl -s -X METHOD [-d BODY] URL [extra]`: status code and body.
fn curl(method: &str, url: &str, body: Option<&str>, extra: &[&str]) -> (u16, String) {
    let mut command = Command::new("curl");
    command.args(["-s", "-L", "-w", "\n%{http_code}", "-X", method]);
    if let Some(body) = body {
        command.args(["-H", "Content-Type: application/json", "-d", body]);
    }
    let output = command.args(extra).arg(url).output().expect("curl runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// The stack's outputs by key, read from the API.
fn outputs(api: &str, stack: &str) -> serde_json::Map<String, Value> {
    let (code, body) = curl("GET", &format!("{api}/stacks/{stack}"), None, &[]);
    assert_eq!(code, 200, "{body}");
    let shown: Value = serde_json::from_str(&body).unwrap();
    shown["stack"]["outputs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| {
            (
                o["output_key"].as_str().unwrap_or_default().to_string(),
                o["output_value"].clone(),
            )
        })
        .collect()
}

fn text(outputs: &serde_json::Map<String, Value>, key: &str) -> String {
    outputs[key].as_str().unwrap_or_default().to_string()
}

/// Waits until the group has `size` members.
fn wait_for_size(api: &str, stack: &str, size: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while outputs(api, stack)["size"] != json!(size) {
        assert!(Instant::now() < deadline, "the group never reached {size}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn client(dir: &Path, server: &Server, args: &[&str]) -> std::process::Output {
    ember(dir)
        .env("EMBER_URL", format!("http://{}/v1/tenant-a", server.bind))
        .args(args)
        .output()
        .unwrap()
}

/// A URL with its `Signature` query value changed in its first character.
fn tampered(url: &str) -> String {
    let (head, signature) = url.split_once("Signature=").unwrap();
    let first = if signature.starts_with('A') { 'B' } else { 'A' };
    format!("{head}Signature={first}{}", &signature[1..])
}

#[test]
fn signal_urls_work_with_plain_curl_through_ember_serve() {
    let server_dir = tempfile::tempdir().unwrap();
    let client_dir = tempfile::tempdir().unwrap();
    let server = serve(ember(server_dir.path()), &["--auth", "none"]);
    let api = format!("http://{}/v1/tenant-a", server.bind);
    let template = client_dir.path().join("signals.yaml");
    std::fs::write(&template, TEMPLATE).unwrap();
    let created = client(
        client_dir.path(),
        &server,
        &[
            "stack",
            "create",
            "-t",
            template.to_str().unwrap(),
            "--wait",
            "--poll",
            "0.2",
            "sig",
        ],
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let out = outputs(&api, "sig");
    assert_eq!(out["size"], json!(1));

    // alarm_url: pre-signed for the policy on this server's endpoint; no token needed.
    let alarm_url = text(&out, "alarm_url");
    let prefix = format!(
        "http://{}/v1/signal/arn%3Aopenstack%3Aheat%3A%3Atenant-a%3Astacks%2Fsig%2F",
        server.bind
    );
    assert!(alarm_url.starts_with(&prefix), "{alarm_url}");
    assert!(
        alarm_url.contains("%2Fresources%2Fup?Expires="),
        "{alarm_url}"
    );
    assert!(alarm_url.contains("&Signature="), "{alarm_url}");
    // The URLs are minted once: the outputs read them back unchanged.
    assert_eq!(text(&outputs(&api, "sig"), "alarm_url"), alarm_url);
    let alarm = r#"{"current": "alarm", "previous": "ok", "reason": "cpu high"}"#;

    // Refused: a tampered signature, another resource, a changed expiry, the wrong method.
    let (code, body) = curl("POST", &tampered(&alarm_url), Some(alarm), &[]);
    assert_eq!(code, 403, "{body}");
    let other = alarm_url.replace("%2Fresources%2Fup?", "%2Fresources%2Fgroup?");
    let (code, body) = curl("POST", &other, Some(alarm), &[]);
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("Signature does not match"), "{body}");
    let expires = alarm_url
        .split("Expires=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let later = alarm_url.replace(
        &format!("Expires={expires}"),
        &format!("Expires={}", expires.parse::<i64>().unwrap() + 1),
    );
    assert_eq!(curl("POST", &later, Some(alarm), &[]).0, 403);
    assert_eq!(curl("PUT", &alarm_url, Some(alarm), &[]).0, 405);
    assert_eq!(outputs(&api, "sig")["size"], json!(1));

    let (code, body) = curl("POST", &alarm_url, Some(alarm), &[]);
    assert_eq!(code, 200, "{body}");
    wait_for_size(&api, "sig", 2);

    // signal_url: the native signal API on the server's endpoint (no-auth server: no token).
    let signal_url = text(&out, "signal_url");
    assert!(
        signal_url.starts_with(&format!("http://{}/v1/tenant-a/stacks/sig/", server.bind))
            && signal_url.ends_with("/resources/up/signal"),
        "{signal_url}"
    );
    let (code, body) = curl("POST", &signal_url, Some(alarm), &[]);
    assert_eq!(code, 200, "{body}");
    wait_for_size(&api, "sig", 3);

    // Wait conditions: start an update that waits on both handles, then signal them.
    let endpoint = text(&out, "endpoint");
    let token = text(&out, "token");
    assert!(
        endpoint.starts_with(&format!("http://{}/v1/tenant-a/stacks/sig/", server.bind))
            && endpoint.ends_with("/resources/handle/signal"),
        "{endpoint}"
    );
    let curl_cli = text(&out, "curl_cli");
    assert!(
        curl_cli.contains(&format!("X-Auth-Token: {token}")) && curl_cli.ends_with(&endpoint),
        "{curl_cli}"
    );
    let cfn_url = text(&out, "cfn_url");
    assert!(
        cfn_url.starts_with(&format!("http://{}/v1/waitcondition/", server.bind))
            && cfn_url.contains("%2Fresources%2Fcfn_handle?Expires="),
        "{cfn_url}"
    );
    let waiting = client_dir.path().join("waiting.yaml");
    std::fs::write(
        &waiting,
        TEMPLATE.replace("outputs:", &format!("{WAITING}outputs:")),
    )
    .unwrap();
    let update = client(
        client_dir.path(),
        &server,
        &["stack", "update", "-t", waiting.to_str().unwrap(), "sig"],
    );
    assert!(update.status.success(), "{}", stderr(&update));

    let cfn_signal =
        r#"{"Status": "SUCCESS", "Reason": "booted", "UniqueId": "1", "Data": "cfn-data"}"#;
    assert_eq!(
        curl("PUT", &tampered(&cfn_url), Some(cfn_signal), &[]).0,
        403
    );
    let (code, body) = curl("PUT", &cfn_url, Some(cfn_signal), &[]);
    assert_eq!(code, 200, "{body}");
    // The handle's own command line, as a server's user_data runs it.
    let native =
        r#"{"status": "SUCCESS", "reason": "configured", "id": "1", "data": "native-data"}"#;
    let ran = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{curl_cli} -s -o /dev/null -w '%{{http_code}}' --data-binary '{native}'"
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "200");

    let deadline = Instant::now() + Duration::from_secs(60);
    let stack_id = loop {
        let (_, body) = curl("GET", &format!("{api}/stacks/sig"), None, &[]);
        let shown: Value = serde_json::from_str(&body).unwrap();
        let status = shown["stack"]["stack_status"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if status == "UPDATE_COMPLETE" {
            break shown["stack"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
        }
        assert_eq!(status, "UPDATE_IN_PROGRESS", "{shown}");
        assert!(
            Instant::now() < deadline,
            "the wait conditions never completed"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let attr = |resource: &str, name: &str| {
        let (code, body) = curl(
            "GET",
            &format!("{api}/stacks/sig/{stack_id}/resources/{resource}"),
            None,
            &[],
        );
        assert_eq!(code, 200, "{body}");
        let shown: Value = serde_json::from_str(&body).unwrap();
        shown["resource"]["attributes"][name].clone()
    };
    assert_eq!(attr("wait", "data"), json!(r#"{"1": "native-data"}"#));
    assert_eq!(attr("cfn_wait", "Data"), json!(r#"{"1": "cfn-data"}"#));
}

#[test]
fn expired_urls_are_refused() {
    let server_dir = tempfile::tempdir().unwrap();
    let client_dir = tempfile::tempdir().unwrap();
    let config = server_dir.path().join("ember.toml");
    std::fs::write(&config, "signed_url_lifetime_seconds = 1\n").unwrap();
    let server = serve(
        ember(server_dir.path()),
        &["--auth", "none", "--config", config.to_str().unwrap()],
    );
    let api = format!("http://{}/v1/tenant-a", server.bind);
    let template = client_dir.path().join("signals.yaml");
    std::fs::write(&template, TEMPLATE).unwrap();
    let created = client(
        client_dir.path(),
        &server,
        &[
            "stack",
            "create",
            "-t",
            template.to_str().unwrap(),
            "--wait",
            "--poll",
            "0.2",
            "old",
        ],
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let alarm_url = text(&outputs(&api, "old"), "alarm_url");
    std::thread::sleep(Duration::from_millis(2100));
    let (code, body) = curl("POST", &alarm_url, Some("{}"), &[]);
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("Signature expired"), "{body}");
}

#[test]
fn urls_stay_valid_across_a_server_restart() {
    let server_dir = tempfile::tempdir().unwrap();
    let client_dir = tempfile::tempdir().unwrap();
    let server = serve(ember(server_dir.path()), &["--auth", "none"]);
    let template = client_dir.path().join("signals.yaml");
    std::fs::write(&template, TEMPLATE).unwrap();
    let created = client(
        client_dir.path(),
        &server,
        &[
            "stack",
            "create",
            "-t",
            template.to_str().unwrap(),
            "--wait",
            "--poll",
            "0.2",
            "kept",
        ],
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let old_api = format!("http://{}/v1/tenant-a", server.bind);
    let alarm_url = text(&outputs(&old_api, "kept"), "alarm_url");
    let old_bind = server.bind.clone();
    drop(server);

    // Same store, no configured signing key: the key is derived from the store's key again.
    let server = serve(ember(server_dir.path()), &["--auth", "none"]);
    let api = format!("http://{}/v1/tenant-a", server.bind);
    let moved = alarm_url.replace(&old_bind, &server.bind);
    let (code, body) = curl("POST", &moved, Some("{}"), &[]);
    assert_eq!(code, 200, "{body}");
    wait_for_size(&api, "kept", 2);
}
