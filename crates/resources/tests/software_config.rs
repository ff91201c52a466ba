//! Software configuration resources (heat-tempest-plugin functional/test_software_config.py):
//! the config attribute, immutability (any change is a new config), structured and cloud
//! configs, component validation, multi-part MIME messages; each resource's physical id is a
//! config in the software-config store, deleted with the resource.

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
    assert_eq!(show["inputs"], json!([{"name": "foo", "type": "String"}]));
    // The resource's config is the one the software-config API shows.
    let stored = svc
        .show_software_config(&cx(), config_id.as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(stored["config"], json!("#!/bin/sh\necho hi"));
    assert_eq!(
        stored["outputs"],
        json!([{"name": "result", "type": "String", "error_output": false}])
    );
    assert!(stored["name"].as_str().unwrap().starts_with("sc-script-"));

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
    let old = config_id.as_str().unwrap();
    assert!(
        svc.show_software_config(&cx(), old).await.is_err(),
        "the replaced config is deleted"
    );
    let before = svc.list_software_configs(&cx()).await.unwrap().len();
    assert_eq!(before, 3);
    svc.delete_stack(&cx(), &id).await.unwrap();
    wait(&svc, &id).await;
    assert!(svc.list_software_configs(&cx()).await.unwrap().is_empty());
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_is_stored_with_the_component_group() {
    let svc = service();
    let template = r#"
heat_template_version: 2016-10-14
resources:
  component:
    type: OS::Heat::SoftwareComponent
    properties:
      configs:
        - {actions: [CREATE], config: "make", tool: script}
outputs:
  id: {value: {get_resource: component}}
"#;
    let stack = create(&svc, request("comp", template)).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let id = output(&svc, stack["id"].as_str().unwrap(), "id").await["output_value"].clone();
    let stored = svc
        .show_software_config(&cx(), id.as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(stored["group"], json!("component"));
    assert_eq!(
        stored["config"],
        json!({"configs": [{"actions": ["CREATE"], "config": "make", "tool": "script"}]})
    );
}

const MIME: &str = r##"
heat_template_version: 2016-10-14
resources:
  script:
    type: OS::Heat::SoftwareConfig
    properties:
      config: "#!/bin/sh\necho from-config"
  inner:
    type: OS::Heat::MultipartMime
    properties:
      parts:
        - {config: "inner one", subtype: x-shellscript, filename: one.sh}
        - {config: "inner two"}
  mime:
    type: OS::Heat::MultipartMime
    properties:
      parts:
        - config: {get_resource: script}
          filename: boot.sh
        - {config: "#cloud-config\n{}", subtype: cloud-config}
        - config: {get_resource: inner}
          type: multipart
outputs:
  message: {value: {get_attr: [mime, config]}}
"##;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_mime_assembles_configs_and_nested_messages() {
    let svc = service();
    let stack = create(&svc, request("mime", MIME)).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let message = output(&svc, stack["id"].as_str().unwrap(), "message").await["output_value"]
        .as_str()
        .unwrap()
        .to_string();
    let boundary = message
        .split("boundary=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    assert!(boundary.starts_with("===============") && boundary.ends_with("=="));
    let parts: Vec<&str> = message.split(&format!("--{boundary}")).collect();
    // Preamble headers, four parts, the closing `--`.
    assert_eq!(parts.len(), 6, "{message}");
    assert!(parts[0].starts_with("Content-Type: multipart/mixed; boundary="));
    assert!(parts[1].contains("Content-Type: text/boot; charset=\"us-ascii\"\n"));
    assert!(parts[1].contains(
        "Content-Disposition: attachment; filename=\"boot.sh\"\n\n#!/bin/sh\necho from-config\n"
    ));
    assert!(parts[2].contains("Content-Type: text/cloud-config;"));
    assert!(parts[3].contains("Content-Type: text/x-shellscript;"));
    assert!(parts[3].contains("filename=\"one.sh\"\n\ninner one\n"));
    assert!(parts[4].contains("Content-Type: text/plain;"));
    assert!(parts[4].ends_with("\n\ninner two\n"));
    assert_eq!(parts[5], "--\n");

    let bad = MIME.replace("type: multipart", "type: binary");
    let err = svc
        .create_stack(&cx(), request("mime2", &bad))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not an allowed value"), "{err}");
}
