//! `signal_transport: TEMP_URL_SIGNAL` against the lab's Swift (`scripts/lab_swift`, started by
//! `bash scripts/lab up`): the test plays the server. It reads each deployment's inputs from
//! the server's deployment metadata, PUTs its signal to the Swift temp URL they name with no
//! token, and the deployments complete or fail with what was signalled; the stack's delete
//! leaves nothing in Swift. Skipped, like every lab test, without a lab.

mod common;
mod lab_types;

use common::*;
use ember_engine::Service;
use ember_openstack::services::swift::ObjectStore;
use serde_json::{json, Value};
use std::time::Duration;

/// Waits until both deployments wait for their signal (in progress with a deployment id).
async fn wait_in_progress(svc: &Service, id: &str, names: &[&str]) {
    for _ in 0..600 {
        let listed = resources(svc, id).await;
        if names.iter().all(|name| {
            listed.get(*name).is_some_and(|r| {
                r["resource_status"] == json!("CREATE_IN_PROGRESS")
                    && r["physical_resource_id"]
                        .as_str()
                        .is_some_and(|p| !p.is_empty())
            })
        }) {
            return;
        }
        let stack = svc.show_stack(&cx(), id, false).await.unwrap();
        assert!(!status(&stack).ends_with("FAILED"), "{}", reason(&stack));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the deployments never waited for their signals");
}

/// `name → value` of the inputs of the deployment `resource` published for `server`.
async fn deployment_inputs(svc: &Service, server: &str, resource: &str) -> Value {
    let metadata = svc.deployment_metadata(&cx(), server).await.unwrap();
    let inputs = metadata
        .iter()
        .map(|config| {
            config["inputs"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| {
                    (
                        i["name"].as_str().unwrap_or_default().to_string(),
                        i["value"].clone(),
                    )
                })
                .collect::<serde_json::Map<_, _>>()
        })
        .find(|inputs| inputs.get("deploy_resource_name") == Some(&json!(resource)))
        .unwrap_or_else(|| panic!("no deployment of {resource} in {metadata:?}"));
    Value::Object(inputs)
}

/// What heat-config-notify does: PUT the signal to the temp URL, with no token.
async fn put_signal(inputs: &Value, signal: Value) {
    assert_eq!(inputs["deploy_signal_verb"], json!("PUT"), "{inputs}");
    let url = inputs["deploy_signal_id"].as_str().unwrap();
    let response = reqwest::Client::new()
        .put(url)
        .json(&signal)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "PUT {url}: {response:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temp_url_deployments_complete_and_fail_with_what_the_server_put_and_leave_nothing() {
    let Some(lab) = lab_types::lab().await else {
        return;
    };
    let swift = ObjectStore::new(&lab.demo)
        .await
        .expect("the lab has Swift (bash scripts/lab up runs scripts/lab_swift)");
    let tag = lab_types::suffix();
    let server = format!("server-{tag}");
    let svc = lab_service(&lab.demo);
    let deployment = |signal_transport: &str| {
        json!({"type": "OS::Heat::SoftwareDeployment", "properties": {
            "config": {"get_resource": "config"}, "server": server,
            "signal_transport": signal_transport}})
    };
    let template = json!({
        "heat_template_version": "2016-10-14",
        "resources": {
            "config": {"type": "OS::Heat::SoftwareConfig", "properties": {
                "group": "script", "config": "#!/bin/sh\necho hi",
                "outputs": [{"name": "result"}]}},
            "good": deployment("TEMP_URL_SIGNAL"),
            "bad": deployment("TEMP_URL_SIGNAL"),
        },
        "outputs": {"result": {"value": {"get_attr": ["good", "result"]}},
                    "stdout": {"value": {"get_attr": ["good", "deploy_stdout"]}}}
    });
    let id = start_create(&svc, json_request(&format!("swsig-{tag}"), template)).await;
    wait_in_progress(&svc, &id, &["good", "bad"]).await;

    // Heat's layout: a container named after the stack, an empty object per deployment, named
    // after the resource, whose PUT temp URL is the deployment's signal id.
    let good = deployment_inputs(&svc, &server, "good").await;
    let bad = deployment_inputs(&svc, &server, "bad").await;
    assert_eq!(good["deploy_signal_transport"], json!("TEMP_URL_SIGNAL"));
    let mut objects = swift.object_names(&id).await.unwrap().expect("container");
    objects.sort();
    let listed = resources(&svc, &id).await;
    for (name, inputs) in [("good", &good), ("bad", &bad)] {
        let url = inputs["deploy_signal_id"].as_str().unwrap();
        let object = objects
            .iter()
            .find(|o| url.contains(&format!("/{id}/{o}?temp_url_sig=")))
            .unwrap_or_else(|| panic!("{url} is no temp URL of an object in {objects:?}"));
        assert!(object.contains(&format!("-{name}-")), "{object}");
        assert_eq!(swift.get_object(&id, object).await.unwrap(), b"");
        assert_eq!(listed[name]["resource_status"], json!("CREATE_IN_PROGRESS"));
    }
    assert_eq!(objects.len(), 2, "{objects:?}");

    put_signal(
        &good,
        json!({"deploy_status_code": 0, "deploy_stdout": "done", "result": "configured"}),
    )
    .await;
    for _ in 0..600 {
        if resources(&svc, &id).await["good"]["resource_status"] == json!("CREATE_COMPLETE") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        resources(&svc, &id).await["bad"]["resource_status"],
        json!("CREATE_IN_PROGRESS"),
        "one deployment's signal is not the other's"
    );
    put_signal(
        &bad,
        json!({"deploy_status_code": 3, "deploy_stderr": "broken"}),
    )
    .await;
    let stack = wait(&svc, &id).await;
    assert_eq!(status(&stack), "CREATE_FAILED");
    let listed = resources(&svc, &id).await;
    assert_eq!(listed["good"]["resource_status"], json!("CREATE_COMPLETE"));
    assert_eq!(listed["bad"]["resource_status"], json!("CREATE_FAILED"));
    assert_eq!(
        listed["bad"]["resource_status_reason"],
        json!("Error: resources.bad: Deployment to server failed: deploy_status_code : Deployment exited with non-zero status code: 3")
    );
    assert_eq!(
        output(&svc, &id, "result").await["output_value"],
        json!("configured")
    );
    assert_eq!(
        output(&svc, &id, "stdout").await["output_value"],
        json!("done")
    );

    // The delete removes both objects and the stack's container: nothing is left in Swift.
    svc.delete_stack(&cx(), &id).await.expect("delete accepted");
    let gone = wait(&svc, &id).await;
    assert_eq!(status(&gone), "DELETE_COMPLETE", "{}", reason(&gone));
    assert_eq!(
        swift.object_names(&id).await.unwrap(),
        None,
        "container {id} left"
    );
}

/// With DELETE among its actions the delete runs the deployment again: the object the CREATE
/// signal filled is emptied, so only the server's DELETE signal ends the delete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_run_waits_for_its_own_temp_url_signal() {
    let Some(lab) = lab_types::lab().await else {
        return;
    };
    let swift = ObjectStore::new(&lab.demo)
        .await
        .expect("the lab has Swift");
    let tag = lab_types::suffix();
    let server = format!("server-{tag}");
    let svc = lab_service(&lab.demo);
    let template = json!({
        "heat_template_version": "2016-10-14",
        "resources": {"deploy": {"type": "OS::Heat::SoftwareDeployment", "properties": {
            "server": server, "actions": ["CREATE", "DELETE"],
            "signal_transport": "TEMP_URL_SIGNAL"}}}
    });
    let id = start_create(&svc, json_request(&format!("swdel-{tag}"), template)).await;
    wait_in_progress(&svc, &id, &["deploy"]).await;
    let created = deployment_inputs(&svc, &server, "deploy").await;
    assert_eq!(created["deploy_action"], json!("CREATE"));
    put_signal(&created, json!({"deploy_status_code": 0})).await;
    let stack = wait(&svc, &id).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));

    svc.delete_stack(&cx(), &id).await.expect("delete accepted");
    let mut deleting = Value::Null;
    for _ in 0..600 {
        deleting = deployment_inputs(&svc, &server, "deploy").await;
        if deleting["deploy_action"] == json!("DELETE") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(deleting["deploy_action"], json!("DELETE"), "{deleting}");
    // The same object and URL, emptied for this run: the delete waits.
    assert_eq!(deleting["deploy_signal_id"], created["deploy_signal_id"]);
    let objects = swift.object_names(&id).await.unwrap().expect("container");
    assert_eq!(objects.len(), 1, "{objects:?}");
    assert_eq!(swift.get_object(&id, &objects[0]).await.unwrap(), b"");
    let listed = resources(&svc, &id).await;
    assert_eq!(
        listed["deploy"]["resource_status"],
        json!("DELETE_IN_PROGRESS")
    );

    put_signal(&deleting, json!({"deploy_status_code": 0})).await;
    let gone = wait(&svc, &id).await;
    assert_eq!(status(&gone), "DELETE_COMPLETE", "{}", reason(&gone));
    assert_eq!(
        swift.object_names(&id).await.unwrap(),
        None,
        "container {id} left"
    );
}
