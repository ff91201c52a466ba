//! Software deployments against a server id (as heat-tempest-plugin's
//! functional/test_software_deployment_group.py and test_software_config.py use them): the
//! deployment record and derived config a server fetches, the wait for the server's signal,
//! the outputs as attributes, failure with Heat's reason, updates, replacement on a
//! `replace_on_change` input, structured input substitution, and cleanup on delete.

mod common;

use common::*;
use ember_engine::{Service, StackRequest};
use serde_json::{json, Value};
use std::time::Duration;

fn template(transport: &str, server: &str) -> String {
    format!(
        r##"
heat_template_version: 2016-10-14
parameters:
  greeting: {{type: string, default: hello}}
resources:
  config:
    type: OS::Heat::SoftwareConfig
    properties:
      group: script
      config: "#!/bin/sh\necho $greeting"
      inputs:
        - {{name: greeting}}
        - {{name: pinned, default: one, replace_on_change: true}}
      outputs:
        - {{name: result}}
        - {{name: problem, error_output: true}}
  deploy:
    type: OS::Heat::SoftwareDeployment
    properties:
      config: {{get_resource: config}}
      server: {server}
      signal_transport: {transport}
      input_values:
        greeting: {{get_param: greeting}}
        extra: 42
outputs:
  stdout: {{value: {{get_attr: [deploy, deploy_stdout]}}}}
  code: {{value: {{get_attr: [deploy, deploy_status_code]}}}}
  result: {{value: {{get_attr: [deploy, result]}}}}
  deployment: {{value: {{get_resource: deploy}}}}
"##
    )
}

async fn out(svc: &Service, id: &str, key: &str) -> Value {
    output(svc, id, key).await["output_value"].clone()
}

/// The input named `name` of a derived config, with its value.
fn input<'a>(config: &'a Value, name: &str) -> &'a Value {
    config["inputs"]
        .as_array()
        .and_then(|inputs| inputs.iter().find(|i| i["name"] == json!(name)))
        .unwrap_or(&Value::Null)
}

/// Waits until the resource `name` of stack `id` has a physical id and is in progress (the
/// deployment waits for its server).
async fn deployment_waiting(svc: &Service, id: &str, name: &str) -> String {
    for _ in 0..600 {
        let r = resources(svc, id).await.remove(name);
        if let Some(r) = r {
            let status = r["resource_status"].as_str().unwrap_or_default();
            let physical = r["physical_resource_id"].as_str().unwrap_or_default();
            if status.ends_with("IN_PROGRESS") && !physical.is_empty() {
                return physical.to_string();
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{name} never waited for its signal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_signal_deployment_publishes_its_config_to_the_server() {
    let svc = service();
    let stack = create(&svc, request("nosig", &template("NO_SIGNAL", "server-abc"))).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let id = stack["id"].as_str().unwrap().to_string();
    let deployment_id = out(&svc, &id, "deployment").await;
    let deployment = svc
        .show_software_deployment(&cx(), deployment_id.as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(deployment["server_id"], json!("server-abc"));
    assert_eq!(deployment["action"], json!("CREATE"));
    assert_eq!(deployment["status"], json!("COMPLETE"));
    assert_eq!(
        deployment["status_reason"],
        json!("Not waiting for outputs signal")
    );
    assert_eq!(
        deployment["input_values"],
        json!({"greeting": "hello", "extra": 42})
    );
    assert_eq!(out(&svc, &id, "stdout").await, Value::Null);

    // What os-collect-config fetches: the derived config with every input's value.
    let metadata = svc.deployment_metadata(&cx(), "server-abc").await.unwrap();
    assert_eq!(metadata.len(), 1);
    let derived = &metadata[0];
    assert_eq!(derived["id"], deployment["config_id"]);
    assert_eq!(derived["group"], json!("script"));
    assert_eq!(derived["config"], json!("#!/bin/sh\necho $greeting"));
    assert_eq!(input(derived, "greeting")["value"], json!("hello"));
    assert_eq!(input(derived, "pinned")["value"], json!("one"));
    assert_eq!(input(derived, "extra")["value"], json!(42));
    assert_eq!(
        input(derived, "deploy_server_id")["value"],
        json!("server-abc")
    );
    assert_eq!(input(derived, "deploy_action")["value"], json!("CREATE"));
    assert_eq!(
        input(derived, "deploy_resource_name")["value"],
        json!("deploy")
    );
    assert_eq!(
        input(derived, "deploy_stack_id")["value"],
        json!(format!("nosig/{id}"))
    );
    assert_eq!(
        input(derived, "deploy_signal_transport")["value"],
        json!("NO_SIGNAL")
    );
    assert!(input(derived, "deploy_signal_id").is_null());

    // Source config, derived config and deployment all go with the stack.
    assert_eq!(svc.list_software_configs(&cx()).await.unwrap().len(), 2);
    svc.delete_stack(&cx(), &id).await.unwrap();
    assert_eq!(status(&wait(&svc, &id).await), "DELETE_COMPLETE");
    assert!(svc.list_software_configs(&cx()).await.unwrap().is_empty());
    assert!(svc
        .list_software_deployments(&cx(), None)
        .await
        .unwrap()
        .is_empty());
    assert!(svc
        .deployment_metadata(&cx(), "server-abc")
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signalled_deployment_completes_with_its_outputs_as_attributes() {
    signalled(&service()).await;
}

async fn signalled(svc: &Service) {
    let created = svc
        .create_stack(&cx(), request("sig", &template("HEAT_SIGNAL", "srv-1")))
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    let deployment_id = deployment_waiting(svc, &id, "deploy").await;
    let waiting = svc
        .show_software_deployment(&cx(), &deployment_id)
        .await
        .unwrap();
    assert_eq!(waiting["status"], json!("IN_PROGRESS"));
    assert_eq!(waiting["status_reason"], json!("Deploy data available"));
    let derived = svc.deployment_metadata(&cx(), "srv-1").await.unwrap();
    assert_eq!(
        input(&derived[0], "deploy_signal_id")["value"],
        json!(format!(
            "/v1/tenant/stacks/sig/{id}/resources/deploy/signal"
        ))
    );
    assert_eq!(
        input(&derived[0], "deploy_signal_verb")["value"],
        json!("POST")
    );

    svc.signal_resource(
        &cx(),
        &id,
        "deploy",
        json!({"deploy_stdout": "hello\n", "deploy_stderr": "", "deploy_status_code": 0,
               "result": "built", "unrelated": 1}),
    )
    .await
    .unwrap();
    let stack = wait(svc, &id).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    assert_eq!(out(svc, &id, "stdout").await, json!("hello\n"));
    assert_eq!(out(svc, &id, "code").await, json!(0));
    assert_eq!(out(svc, &id, "result").await, json!("built"));
    let done = svc
        .show_software_deployment(&cx(), &deployment_id)
        .await
        .unwrap();
    assert_eq!(done["status"], json!("COMPLETE"));
    assert_eq!(done["status_reason"], json!("Outputs received"));
    assert!(done["output_values"].get("unrelated").is_none());

    // A later signal is ignored: the deployment is not waiting any more.
    svc.signal_resource(&cx(), &id, "deploy", json!({"deploy_status_code": 9}))
        .await
        .unwrap();
    assert_eq!(out(svc, &id, "code").await, json!(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_deployment_fails_the_resource_with_heats_reason() {
    let svc = service();
    for (name, signal, expected) in [
        (
            "code",
            json!({"deploy_status_code": 2, "deploy_stderr": "boom"}),
            "Error: resources.deploy: Deployment to server failed: deploy_status_code : \
             Deployment exited with non-zero status code: 2",
        ),
        (
            "errout",
            json!({"problem": "disk full"}),
            "Error: resources.deploy: Deployment to server failed: problem : disk full",
        ),
    ] {
        let created = svc
            .create_stack(&cx(), request(name, &template("CFN_SIGNAL", "srv-2")))
            .await
            .unwrap();
        let id = created["id"].as_str().unwrap().to_string();
        deployment_waiting(&svc, &id, "deploy").await;
        svc.signal_resource(&cx(), &id, "deploy", signal)
            .await
            .unwrap();
        let stack = wait(&svc, &id).await;
        assert_eq!(status(&stack), "CREATE_FAILED");
        let deploy = &resources(&svc, &id).await["deploy"];
        assert_eq!(deploy["resource_status_reason"], json!(expected));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_redeploy_in_place_and_replace_on_change_inputs_replace() {
    updates(&service()).await;
}

async fn updates(svc: &Service) {
    let tmpl = template("NO_SIGNAL", "srv-3");
    let stack = create(svc, request("upd", &tmpl)).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let id = stack["id"].as_str().unwrap().to_string();
    let first = out(svc, &id, "deployment").await;
    let first_config = svc
        .show_software_deployment(&cx(), first.as_str().unwrap())
        .await
        .unwrap()["config_id"]
        .clone();

    let update = |tmpl: String, greeting: &str| StackRequest {
        template: Some(json!(tmpl)),
        parameters: params(json!({"greeting": greeting})),
        ..StackRequest::default()
    };
    svc.update_stack(&cx(), &id, update(tmpl.clone(), "bonjour"))
        .await
        .unwrap();
    let stack = wait(svc, &id).await;
    assert_eq!(status(&stack), "UPDATE_COMPLETE", "{}", reason(&stack));
    assert_eq!(out(svc, &id, "deployment").await, first, "updated in place");
    let d = svc
        .show_software_deployment(&cx(), first.as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(d["action"], json!("UPDATE"));
    assert_ne!(d["config_id"], first_config);
    assert!(
        svc.show_software_config(&cx(), first_config.as_str().unwrap())
            .await
            .is_err(),
        "the previous derived config is deleted"
    );
    let metadata = svc.deployment_metadata(&cx(), "srv-3").await.unwrap();
    assert_eq!(metadata.len(), 1);
    assert_eq!(input(&metadata[0], "greeting")["value"], json!("bonjour"));
    assert_eq!(
        input(&metadata[0], "deploy_action")["value"],
        json!("UPDATE")
    );

    // A new value for the replace_on_change input replaces the deployment.
    let pinned = tmpl.replace("extra: 42", "extra: 42\n        pinned: two");
    svc.update_stack(&cx(), &id, update(pinned, "bonjour"))
        .await
        .unwrap();
    let stack = wait(svc, &id).await;
    assert_eq!(status(&stack), "UPDATE_COMPLETE", "{}", reason(&stack));
    let second = out(svc, &id, "deployment").await;
    assert_ne!(second, first, "replaced");
    assert!(svc
        .show_software_deployment(&cx(), first.as_str().unwrap())
        .await
        .is_err());
    let deployments = svc
        .list_software_deployments(&cx(), Some("srv-3"))
        .await
        .unwrap();
    assert_eq!(deployments.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn structured_deployment_substitutes_inputs_and_delete_action_waits() {
    let svc = service();
    let tmpl = r#"
heat_template_version: 2016-10-14
resources:
  config:
    type: OS::Heat::StructuredConfig
    properties:
      group: os-apply-config
      config:
        service: {port: {get_input: port}, action: {get_input: deploy_action}}
        literal: [1, {get_input: missing}]
  deploy:
    type: OS::Heat::StructuredDeployment
    properties:
      config: {get_resource: config}
      server: srv-4
      signal_transport: HEAT_SIGNAL
      actions: [CREATE, DELETE]
      input_values: {port: 8080}
"#;
    let created = svc
        .create_stack(&cx(), request("structured", tmpl))
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    deployment_waiting(&svc, &id, "deploy").await;
    let metadata = svc.deployment_metadata(&cx(), "srv-4").await.unwrap();
    assert_eq!(
        metadata[0]["config"],
        json!({"service": {"port": 8080, "action": "CREATE"}, "literal": [1, null]})
    );
    assert_eq!(metadata[0]["group"], json!("os-apply-config"));
    svc.signal_resource(&cx(), &id, "deploy", json!({"deploy_status_code": 0}))
        .await
        .unwrap();
    assert_eq!(status(&wait(&svc, &id).await), "CREATE_COMPLETE");

    // DELETE is one of its actions: the delete waits for the server's answer.
    svc.delete_stack(&cx(), &id).await.unwrap();
    let mut action = Value::Null;
    for _ in 0..600 {
        let metadata = svc.deployment_metadata(&cx(), "srv-4").await.unwrap();
        action = metadata[0]["config"]["service"]["action"].clone();
        if action == json!("DELETE") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(action, json!("DELETE"));
    deployment_waiting(&svc, &id, "deploy").await;
    svc.signal_resource(&cx(), &id, "deploy", json!({"deploy_status_code": 0}))
        .await
        .unwrap();
    assert_eq!(status(&wait(&svc, &id).await), "DELETE_COMPLETE");
    assert!(svc.list_software_configs(&cx()).await.unwrap().is_empty());

    let strict = tmpl.replace(
        "input_values: {port: 8080}",
        "input_values: {port: 8080}\n      input_values_validate: STRICT",
    );
    let stack = create(&svc, request("strict", &strict)).await;
    assert_eq!(status(&stack), "CREATE_FAILED");
    assert!(
        reason(&stack).contains("The Parameter (missing) was not provided."),
        "{}",
        reason(&stack)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_zaqar_transport_is_refused_clearly() {
    let svc = service();
    let err = svc
        .create_stack(&cx(), request("t", &template("ZAQAR_SIGNAL", "srv")))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("signal_transport ZAQAR_SIGNAL is not supported by Ember (it needs Zaqar)"),
        "{err}"
    );
    let err = svc
        .create_stack(&cx(), request("t", &template("CARRIER_PIGEON", "srv")))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not an allowed value"), "{err}");
}

/// The same flows on the SQLite store: deployments are versioned rows there and point at their
/// configs by foreign key, so the order of updates and deletes matters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployments_work_on_the_sql_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ember.db").to_string_lossy().to_string();
    let key = ember_store::EncryptionKey::from_bytes(&[7u8; 32]).expect("key");
    let store = ember_engine::store_adapter::SqlStore::open(
        &format!("sqlite://{path}?mode=rwc"),
        &key,
        Duration::from_secs(30),
    )
    .await
    .expect("store opens");
    let svc = service_on(std::sync::Arc::new(store), config());
    signalled(&svc).await;
    updates(&svc).await;
    for name in ["sig", "upd"] {
        let id = svc.lookup(&cx(), name, false).await.unwrap().id;
        svc.delete_stack(&cx(), &id).await.unwrap();
        assert_eq!(status(&wait(&svc, &id).await), "DELETE_COMPLETE");
    }
    assert!(svc.list_software_configs(&cx()).await.unwrap().is_empty());
    assert!(svc
        .list_software_deployments(&cx(), None)
        .await
        .unwrap()
        .is_empty());
}
