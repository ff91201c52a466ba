//! Wait conditions and their handles, with Heat's outcomes (heat-tempest-plugin
//! functional/test_waitcondition.py; heat/engine/resources/wait_condition.py reasons).

mod common;

use common::*;
use ember_engine::{Service, StackRequest};
use serde_json::{json, Value};
use std::time::Duration;

fn template(count: u32, timeout: u32) -> String {
    format!(
        r#"
heat_template_version: 2016-10-14
resources:
  handle: {{type: OS::Heat::WaitConditionHandle}}
  wc:
    type: OS::Heat::WaitCondition
    properties: {{handle: {{get_resource: handle}}, count: {count}, timeout: {timeout}}}
outputs:
  data: {{value: {{get_attr: [wc, data]}}}}
  curl: {{value: {{get_attr: [handle, curl_cli]}}}}
  endpoint: {{value: {{get_attr: [handle, endpoint]}}}}
"#
    )
}

/// Starts a create and waits until `resource` exists.
async fn start(svc: &Service, req: StackRequest, resource: &str) -> String {
    let created = svc.create_stack(&cx(), req).await.expect("create accepted");
    let id = created["id"].as_str().unwrap().to_string();
    for _ in 0..500 {
        let rs = resources(svc, &id).await;
        if rs
            .get(resource)
            .is_some_and(|r| r["resource_status"] == "CREATE_COMPLETE")
        {
            return id;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{resource} was not created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_signals_complete_the_condition_with_their_data() {
    let svc = service();
    let id = start(&svc, request("wcok", &template(2, 30)), "handle").await;
    svc.signal_resource(
        &cx(),
        &id,
        "handle",
        json!({"status": "SUCCESS", "data": "one", "id": "a"}),
    )
    .await
    .unwrap();
    // Defaults: success, "Signal 2 received", id 2.
    svc.signal_resource(&cx(), &id, "handle", json!({"data": {"k": [1, 2]}}))
        .await
        .unwrap();
    let stack = wait(&svc, &id).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    assert_eq!(
        output(&svc, &id, "data").await["output_value"],
        json!(r#"{"a": "one", "2": {"k": [1, 2]}}"#)
    );
    let endpoint = output(&svc, &id, "endpoint").await["output_value"].clone();
    assert_eq!(
        endpoint,
        json!(format!(
            "/v1/tenant/stacks/wcok/{id}/resources/handle/signal"
        ))
    );
    let curl = output(&svc, &id, "curl").await["output_value"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        curl.starts_with("curl -i -X POST -H 'X-Auth-Token: "),
        "{curl}"
    );
    assert!(curl.ends_with(endpoint.as_str().unwrap()), "{curl}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_signal_fails_the_condition_with_its_reason() {
    let svc = service();
    let id = start(&svc, request("wcfail", &template(1, 30)), "handle").await;
    svc.signal_resource(
        &cx(),
        &id,
        "handle",
        json!({"status": "FAILURE", "reason": "broken"}),
    )
    .await
    .unwrap();
    let stack = wait(&svc, &id).await;
    assert_eq!(status(&stack), "CREATE_FAILED");
    assert_eq!(
        reason(&stack),
        "Resource CREATE failed: WaitConditionFailure: resources.wc: broken"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_fails_with_the_count_received() {
    let svc = service();
    let id = start(&svc, request("wcto", &template(2, 1)), "handle").await;
    svc.signal_resource(&cx(), &id, "handle", json!({"reason": "first"}))
        .await
        .unwrap();
    let stack = wait(&svc, &id).await;
    assert_eq!(status(&stack), "CREATE_FAILED");
    assert_eq!(
        reason(&stack),
        "Resource CREATE failed: WaitConditionTimeout: resources.wc: 1 of 2 received - first"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_signals_are_refused() {
    let svc = service();
    let id = start(&svc, request("wcbad", &template(1, 5)), "handle").await;
    for body in [json!({"status": "MAYBE"}), json!({"bogus": 1}), json!([1])] {
        let err = svc
            .signal_resource(&cx(), &id, "handle", body)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("Metadata format invalid"), "{err}");
    }
    svc.signal_resource(&cx(), &id, "handle", Value::Null)
        .await
        .unwrap();
    let stack = wait(&svc, &id).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudformation_pair_waits_on_its_url() {
    let svc = service();
    let template = r#"
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Handle: {Type: 'AWS::CloudFormation::WaitConditionHandle'}
  Wait:
    Type: 'AWS::CloudFormation::WaitCondition'
    Properties: {Handle: {Ref: Handle}, Timeout: 30}
Outputs:
  Data: {Value: {'Fn::GetAtt': [Wait, Data]}}
  Url: {Value: {Ref: Handle}}
"#;
    let id = start(&svc, request("cfnwc", template), "Handle").await;
    // CloudFormation bodies need every key.
    let err = svc
        .signal_resource(&cx(), &id, "Handle", json!({"Status": "SUCCESS"}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Metadata format invalid"), "{err}");
    svc.signal_resource(
        &cx(),
        &id,
        "Handle",
        json!({"Status": "SUCCESS", "Reason": "ok", "UniqueId": "i-1", "Data": "up"}),
    )
    .await
    .unwrap();
    let stack = wait(&svc, &id).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    assert_eq!(
        output(&svc, &id, "Data").await["output_value"],
        json!(r#"{"i-1": "up"}"#)
    );
    let url = output(&svc, &id, "Url").await["output_value"].clone();
    assert!(
        url.as_str().unwrap().ends_with("/resources/Handle/signal"),
        "{url}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_wait_condition_handle_is_replaced_on_every_update() {
    let svc = service();
    let template = r#"
heat_template_version: 2016-10-14
resources:
  handle: {type: OS::Heat::UpdateWaitConditionHandle}
  plain: {type: OS::Heat::WaitConditionHandle}
"#;
    let stack = create(&svc, request("uwch", template)).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let id = stack["id"].as_str().unwrap().to_string();
    let before = resources(&svc, &id).await;
    let req = StackRequest {
        template: Some(json!(template)),
        ..StackRequest::default()
    };
    svc.update_stack(&cx(), &id, req).await.unwrap();
    let stack = wait(&svc, &id).await;
    assert_eq!(status(&stack), "UPDATE_COMPLETE", "{}", reason(&stack));
    let after = resources(&svc, &id).await;
    assert_ne!(
        after["handle"]["physical_resource_id"],
        before["handle"]["physical_resource_id"]
    );
    assert_eq!(
        after["plain"]["physical_resource_id"],
        before["plain"]["physical_resource_id"]
    );
}
