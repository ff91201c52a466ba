//! Software configuration resources (heat-tempest-plugin functional/test_software_config.py):
//! the config attribute, immutability (any change is a new config), structured and cloud
//! configs, component validation.

mod common;

use common::*;
use ember_engine::StackRequest;
use serde_json::json;

const TEMPLATE: &str = r##"
heat_template_version: 2016-10-14
parameters:
  body: {type: string, default: "#!/bin/sh\necho hi"}
resources:
  script:
    type: OS::Heat::SoftwareConfig
    properties:
      group: script
      config: {get_param: body}
      inputs: [{name: foo}]
      outputs: [{name: result}]
  structured:
    type: OS::Heat::StructuredConfig
    properties: {config: {a: [1, 2]}}
  cloud:
    type: OS::Heat::CloudConfig
    properties: {cloud_config: {runcmd: [ls]}}
outputs:
  script: {value: {get_attr: [script, config]}}
  structured: {value: {get_attr: [structured, config]}}
  cloud: {value: {get_attr: [cloud, config]}}
  id: {value: {get_resource: script}}
  show: {value: {get_attr: [script, show]}}
"##;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configs_are_stored_and_replaced_on_change() {
    let svc = service();
    let stack = create(&svc, request("sc", TEMPLATE)).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let id = stack["id"].as_str().unwrap().to_string();
    let out = |k: &'static str| {
        let svc = svc.clone();
        let id = id.clone();
        async move { output(&svc, &id, k).await["output_value"].clone() }
    };
    assert_eq!(out("script").await, json!("#!/bin/sh\necho hi"));
    assert_eq!(out("structured").await, json!({"a": [1, 2]}));
    let cloud = out("cloud").await;
    assert!(
        cloud.as_str().unwrap().starts_with("#cloud-config\n"),
        "{cloud}"
    );
    let show = out("show").await;
    let config_id = out("id").await;
    assert_eq!(show["id"], config_id);
    assert_eq!(show["group"], json!("script"));
    assert_eq!(show["inputs"], json!([{"name": "foo"}]));

    let mut params = serde_json::Map::new();
    params.insert("body".into(), json!("echo changed"));
    let req = StackRequest {
        template: Some(json!(TEMPLATE)),
        parameters: params,
        ..StackRequest::default()
    };
    svc.update_stack(&cx(), &id, req).await.unwrap();
    let stack = wait(&svc, &id).await;
    assert_eq!(status(&stack), "UPDATE_COMPLETE", "{}", reason(&stack));
    assert_eq!(out("script").await, json!("echo changed"));
    assert_ne!(
        out("id").await,
        config_id,
        "a changed config is a new config"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_configures_each_action_once() {
    let svc = service();
    let template = r#"
heat_template_version: 2016-10-14
resources:
  component:
    type: OS::Heat::SoftwareComponent
    properties:
      configs:
        - {actions: [CREATE], config: "make", tool: script}
        - {actions: [CREATE, UPDATE], config: "again", tool: script}
"#;
    let err = svc
        .create_stack(&cx(), request("comp", template))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("same action (CREATE)"), "{err}");
    let ok = template.replace("[CREATE, UPDATE]", "[UPDATE]");
    let stack = create(&svc, request("comp", &ok)).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
}
