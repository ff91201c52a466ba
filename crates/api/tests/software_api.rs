//! `/software_configs` and `/software_deployments` through the router over the real engine:
//! the requests heat-samples/record.py made against Heat 27, answered with the same status
//! codes and key structure, and a deployment resource signalled through the resource-signal
//! route as a server's agent does.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{json, Value};

use common::{app, sample, send};

/// The sorted keys of every object along the value, paths included, so nested shapes compare.
fn shape(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let p = format!("{path}.{k}");
                out.push(p.clone());
                shape(v, &p, out);
            }
        }
        Value::Array(items) => {
            if let Some(first) = items.first() {
                shape(first, &format!("{path}[]"), out);
            }
        }
        _ => {}
    }
}

fn keys(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    shape(v, "", &mut out);
    out.sort();
    out
}

/// Replays the recorded request against Ember; the status and the key structure must be
/// Heat's. Returns Ember's body.
async fn replay(app: &axum::Router, name: &str, path: String, body: Option<Value>) -> Value {
    let heat = sample(name);
    let method = heat["request"]["method"].as_str().unwrap().to_string();
    let (status, _, ours) = send(app, &method, &path, body).await;
    assert_eq!(
        status.as_u16(),
        heat["status"].as_u64().unwrap() as u16,
        "{name}: {ours}"
    );
    if heat["body"].is_object() {
        // Heat's samples were recorded as admin, whose config list also names the project;
        // this router runs without Keystone, as a plain user.
        let mut expected = keys(&heat["body"]);
        expected.retain(|k| !k.ends_with("[].project"));
        assert_eq!(keys(&ours), expected, "{name}: {ours}");
    }
    ours
}

#[tokio::test]
async fn software_config_and_deployment_calls_answer_as_heat() {
    let app = app();
    let t = "/v1/tenant";
    let create = sample("software_config_create");
    let config = replay(
        &app,
        "software_config_create",
        format!("{t}/software_configs"),
        Some(create["request"]["body"].clone()),
    )
    .await["software_config"]
        .clone();
    assert_eq!(
        config["inputs"],
        create["body"]["software_config"]["inputs"]
    );
    let cfg = config["id"].as_str().unwrap().to_string();
    replay(
        &app,
        "software_config_list",
        format!("{t}/software_configs"),
        None,
    )
    .await;
    let shown = replay(
        &app,
        "software_config_show",
        format!("{t}/software_configs/{cfg}"),
        None,
    )
    .await;
    assert_eq!(shown["software_config"], config);
    let (status, _, missing) = send(
        &app,
        "GET",
        &format!("{t}/software_configs/00000000-0000-0000-0000-000000000000"),
        None,
    )
    .await;
    let heat_missing = sample("software_config_missing");
    assert_eq!(
        status.as_u16() as u64,
        heat_missing["status"].as_u64().unwrap()
    );
    assert_eq!(
        missing["error"]["type"],
        heat_missing["body"]["error"]["type"]
    );

    let mut body = sample("software_deployment_create")["request"]["body"].clone();
    body["config_id"] = json!(cfg);
    let deployment = replay(
        &app,
        "software_deployment_create",
        format!("{t}/software_deployments"),
        Some(body),
    )
    .await["software_deployment"]
        .clone();
    let dep = deployment["id"].as_str().unwrap().to_string();
    replay(
        &app,
        "software_deployment_list",
        format!("{t}/software_deployments?server_id=srv-1"),
        None,
    )
    .await;
    replay(
        &app,
        "software_deployment_show",
        format!("{t}/software_deployments/{dep}"),
        None,
    )
    .await;
    let updated = replay(
        &app,
        "software_deployment_update",
        format!("{t}/software_deployments/{dep}"),
        Some(json!({"status": "COMPLETE", "status_reason": "done"})),
    )
    .await;
    assert_eq!(updated["software_deployment"]["status"], json!("COMPLETE"));
    let metadata = replay(
        &app,
        "software_deployment_metadata",
        format!("{t}/software_deployments/metadata/srv-1"),
        None,
    )
    .await;
    assert_eq!(metadata["metadata"][0], config);
    replay(
        &app,
        "software_deployment_delete",
        format!("{t}/software_deployments/{dep}"),
        None,
    )
    .await;
    replay(
        &app,
        "software_config_delete",
        format!("{t}/software_configs/{cfg}"),
        None,
    )
    .await;
    let (status, _, _) = send(&app, "GET", &format!("{t}/software_configs/{cfg}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_deployment_resource_waits_for_the_signal_sent_through_the_api() {
    let app = app();
    let t = "/v1/tenant";
    let template = json!({
        "heat_template_version": "2016-10-14",
        "resources": {
            "config": {"type": "OS::Heat::SoftwareConfig",
                       "properties": {"config": "echo hi", "outputs": [{"name": "result"}]}},
            "deploy": {"type": "OS::Heat::SoftwareDeployment",
                       "properties": {"config": {"get_resource": "config"}, "server": "srv-9",
                                      "signal_transport": "HEAT_SIGNAL"}}
        },
        "outputs": {"result": {"value": {"get_attr": ["deploy", "result"]}}}
    });
    let (status, _, created) = send(
        &app,
        "POST",
        &format!("{t}/stacks"),
        Some(json!({"stack_name": "dep", "template": template})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["stack"]["id"].as_str().unwrap().to_string();
    // What the server's agent reads: its deployments' configs, with the signal path.
    let mut signal_path = String::new();
    for _ in 0..400 {
        let (_, _, metadata) = send(
            &app,
            "GET",
            &format!("{t}/software_deployments/metadata/srv-9"),
            None,
        )
        .await;
        if let Some(input) = metadata["metadata"][0]["inputs"]
            .as_array()
            .and_then(|i| i.iter().find(|i| i["name"] == json!("deploy_signal_id")))
        {
            signal_path = input["value"].as_str().unwrap_or_default().to_string();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        signal_path.ends_with(&format!("/stacks/dep/{id}/resources/deploy/signal")),
        "{signal_path}"
    );
    let path = signal_path.trim_start_matches("http://heat.test");
    let (status, _, body) = send(
        &app,
        "POST",
        path,
        Some(json!({"deploy_status_code": 0, "deploy_stdout": "hi", "result": "ok"})),
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
    let mut stack = Value::Null;
    for _ in 0..400 {
        let (_, _, body) = send(&app, "GET", &format!("{t}/stacks/dep/{id}"), None).await;
        stack = body["stack"].clone();
        if !stack["stack_status"]
            .as_str()
            .unwrap_or("")
            .ends_with("IN_PROGRESS")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(stack["stack_status"], json!("CREATE_COMPLETE"), "{stack}");
    let (_, _, output) = send(
        &app,
        "GET",
        &format!("{t}/stacks/dep/{id}/outputs/result"),
        None,
    )
    .await;
    assert_eq!(output["output"]["output_value"], json!("ok"));
}
