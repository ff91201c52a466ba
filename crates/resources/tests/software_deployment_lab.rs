//! A software deployment to a real Nova server on ../shared/openstack-lab: the server is booted
//! with `user_data_format: SOFTWARE_CONFIG`, the deployment publishes its derived config under
//! the server's real id (what os-collect-config fetches), waits for the signal, and the whole
//! stack is deleted with the server. Without a lab the test says so and passes, unless
//! `EMBER_REQUIRE_LAB=1`.

mod common;
mod lab_types;

use common::*;
use ember_engine::Service;
use ember_openstack::services::compute::Compute;
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_to_a_nova_server_waits_for_its_signal() {
    let Some(lab) = lab_types::lab().await else {
        return;
    };
    let name = format!("swdep-{}", lab_types::suffix());
    let svc = lab_service(&lab.demo);
    let template = json!({
        "heat_template_version": "2016-10-14",
        "resources": {
            "server": {"type": "OS::Nova::Server", "properties": {
                "image": "cirros", "flavor": "m1.tiny",
                "networks": [{"network": "private-net"}],
                "user_data_format": "SOFTWARE_CONFIG"}},
            "config": {"type": "OS::Heat::SoftwareConfig", "properties": {
                "group": "script", "config": "#!/bin/sh\necho $msg",
                "inputs": [{"name": "msg"}], "outputs": [{"name": "result"}]}},
            "deploy": {"type": "OS::Heat::SoftwareDeployment", "properties": {
                "config": {"get_resource": "config"}, "server": {"get_resource": "server"},
                "input_values": {"msg": "hello"}, "signal_transport": "HEAT_SIGNAL"}}
        },
        "outputs": {"result": {"value": {"get_attr": ["deploy", "result"]}},
                    "server": {"value": {"get_resource": "server"}}}
    });
    let id = start_create(&svc, json_request(&name, template)).await;
    let outcome = run(&svc, &id).await;
    // Delete whatever happened, so no server is left behind.
    svc.delete_stack(&cx(), &id).await.expect("delete accepted");
    let gone = wait(&svc, &id).await;
    let server_id = outcome.expect("deployment flow");
    assert_eq!(status(&gone), "DELETE_COMPLETE", "{}", reason(&gone));
    let compute = Compute::new(&lab.demo).await.unwrap();
    match compute.server(&server_id).await {
        Err(e) if e.is_not_found() => {}
        // Nova may still show it while it goes away.
        Ok(server) => assert_eq!(server["status"], json!("DELETED"), "{server}"),
        Err(e) => panic!("{e}"),
    }
}

/// Waits for the deployment, checks what the server would fetch, signals and checks the
/// outputs; returns the server's id.
async fn run(svc: &Service, id: &str) -> Result<String, String> {
    let mut deploy = Value::Null;
    for _ in 0..1200 {
        deploy = resources(svc, id)
            .await
            .remove("deploy")
            .unwrap_or_default();
        if deploy["resource_status"] == json!("CREATE_IN_PROGRESS")
            && deploy["physical_resource_id"]
                .as_str()
                .is_some_and(|p| !p.is_empty())
        {
            break;
        }
        let stack = svc
            .show_stack(&cx(), id, false)
            .await
            .map_err(|e| e.to_string())?;
        if status(&stack).ends_with("FAILED") {
            return Err(reason(&stack).to_string());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let server_id = resources(svc, id).await["server"]["physical_resource_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let metadata = svc
        .deployment_metadata(&cx(), &server_id)
        .await
        .map_err(|e| e.to_string())?;
    let inputs = metadata
        .first()
        .map(|m| m["inputs"].clone())
        .unwrap_or_default();
    let value = |n: &str| {
        inputs
            .as_array()
            .and_then(|i| i.iter().find(|i| i["name"] == json!(n)))
            .map(|i| i["value"].clone())
            .unwrap_or_default()
    };
    if value("deploy_server_id") != json!(server_id) || value("msg") != json!("hello") {
        return Err(format!(
            "unexpected metadata for {server_id}: {metadata:?} ({deploy})"
        ));
    }
    svc.signal_resource(
        &cx(),
        id,
        "deploy",
        json!({"deploy_status_code": 0, "result": "configured"}),
    )
    .await
    .map_err(|e| e.to_string())?;
    let stack = wait(svc, id).await;
    if status(&stack) != "CREATE_COMPLETE" {
        return Err(reason(&stack).to_string());
    }
    let result = output(svc, id, "result").await["output_value"].clone();
    if result != json!("configured") {
        return Err(format!("result output {result}"));
    }
    Ok(server_id)
}
