//! `AWS::ElasticLoadBalancing::LoadBalancer`, end to end through the engine.
//!
//! The nested stack's types (instance, IAM user and key, CloudWatch alarm, wait condition) are
//! mapped onto `OS::Heat::None` in the environment, which the nested stack inherits as in Heat,
//! so what is checked is the nested stack Ember builds: its resources and the HAProxy
//! configuration in the instance's `AWS::CloudFormation::Init` metadata. The configuration
//! names the balanced instances' addresses, which only Nova knows: those tests run on the lab,
//! with a real server (fake driver) and an id Nova does not have (Heat then writes `0.0.0.0`,
//! as Ember does).

mod common;
mod lab_types;

use common::*;
use ember_engine::{Service, StackRequest};
use serde_json::{json, Value};

/// Every type of the nested template as a resource that creates nothing.
fn cloud_free(mut req: StackRequest) -> StackRequest {
    let none = "OS::Heat::None";
    req.environment = Some(json!({"resource_registry": {
        "AWS::EC2::Instance": none,
        "AWS::IAM::User": none,
        "AWS::IAM::AccessKey": none,
        "AWS::CloudWatch::Alarm": none,
        "AWS::CloudFormation::WaitCondition": none,
    }}));
    req
}

fn template(instances: Value) -> String {
    template_with(instances, "")
}

/// The load balancer template with more resources (`resources`, indented under `Resources`).
fn template_with(instances: Value, resources: &str) -> String {
    format!(
        r#"
AWSTemplateFormatVersion: '2010-09-09'
Resources:{resources}
  LB:
    Type: AWS::ElasticLoadBalancing::LoadBalancer
    Properties:
      AvailabilityZones: [nova]
      Instances: {instances}
      Listeners: [{{LoadBalancerPort: '80', InstancePort: '8080', Protocol: HTTP}}]
      HealthCheck: {{HealthyThreshold: '3', Interval: '10', Target: 'HTTP:8080/', Timeout: '5', UnhealthyThreshold: '5'}}
Outputs:
  Ref: {{Value: {{Ref: LB}}}}
  Zone: {{Value: {{'Fn::GetAtt': [LB, CanonicalHostedZoneName]}}}}
"#
    )
}

/// The nested stack of `LB` and the HAProxy configuration in its instance's metadata.
async fn haproxy_config(svc: &Service, stack: &str) -> (String, String) {
    let nested = resources(svc, stack).await["LB"]["physical_resource_id"]
        .as_str()
        .expect("the load balancer's nested stack")
        .to_string();
    let metadata = svc
        .resource_metadata(&cx(), &nested, "LB_instance")
        .await
        .expect("the instance's metadata");
    let config = metadata["AWS::CloudFormation::Init"]["config"]["files"]
        ["/etc/haproxy/haproxy.cfg"]["content"]
        .as_str()
        .unwrap_or_else(|| panic!("a configuration file: {metadata}"))
        .to_string();
    (nested, config)
}

const HEADER: &str = "\nglobal\n    daemon\n    maxconn 256\n    stats socket /tmp/.haproxy-stats\n\ndefaults\n    mode http\n    timeout connect 5000ms\n    timeout client 50000ms\n    timeout server 50000ms\n\nfrontend http\n    bind *:80\n    default_backend servers\n\nbackend servers\n    balance roundrobin\n    option http-server-close\n    option forwardfor\n    option httpchk\n    timeout check 5s\n";

/// Without instances the nested stack is Heat's: the five resources of the template, the
/// configuration file empty; the reference is the resource's name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_balancer_without_instances_is_the_nested_haproxy_stack() {
    let svc = service();
    let stack = create(&svc, cloud_free(request("lb", &template(json!([]))))).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let id = stack["id"].as_str().unwrap().to_string();
    let (nested, config) = haproxy_config(&svc, &id).await;
    assert_eq!(config, "");
    let mut names: Vec<String> = resources(&svc, &nested).await.keys().cloned().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "CfnLBAccessKey",
            "CfnLBUser",
            "LB_instance",
            "WaitCondition",
            "WaitHandle",
            "latency_watcher"
        ]
    );
    assert_eq!(output(&svc, &id, "Ref").await["output_value"], "LB");
    assert_eq!(output(&svc, &id, "Zone").await["output_value"], "");
}

/// The owning stack's `KeyName`, `LbImageId`, `LbFlavor` and `LBTimeout` reach the nested
/// stack when it declares them (Heat's "magic" parameters); others keep the built-in defaults.
/// Without a `KeyName` the instance has none (Heat removes the property).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_balancer_takes_the_owning_stacks_instance_parameters() {
    let svc = service();
    let owning = template_with_parameters(
        "Parameters:\n  LbFlavor: {Type: String, Default: m1.tiny}\n  LBTimeout: {Type: String}\n  Unrelated: {Type: String, Default: x}\nResources:",
    );
    let mut req = cloud_free(request("lb-params", &owning));
    req.parameters = params(json!({"LBTimeout": "30"}));
    let stack = create(&svc, req).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let (nested, _) = haproxy_config(&svc, stack["id"].as_str().unwrap()).await;
    let shown = svc.show_stack(&cx(), &nested, false).await.unwrap();
    let parameters = &shown["parameters"];
    assert_eq!(parameters["LbFlavor"], "m1.tiny", "{parameters}");
    assert_eq!(parameters["LBTimeout"], "30", "{parameters}");
    assert_eq!(
        parameters["LbImageId"], "Fedora-Cloud-Base-20141203-21.x86_64",
        "{parameters}"
    );
    assert!(parameters.get("Unrelated").is_none(), "{parameters}");
    let template = svc.get_template(&cx(), &nested).await.unwrap();
    let instance = &template["Resources"]["LB_instance"]["Properties"];
    assert!(instance.get("KeyName").is_none(), "{instance}");

    let keyed = template_with_parameters(
        "Parameters:\n  KeyName: {Type: String, Default: lb-key}\nResources:",
    );
    let stack = create(&svc, cloud_free(request("lb-key", &keyed))).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let (nested, _) = haproxy_config(&svc, stack["id"].as_str().unwrap()).await;
    let shown = svc.show_stack(&cx(), &nested, false).await.unwrap();
    assert_eq!(shown["parameters"]["KeyName"], "lb-key");
    let template = svc.get_template(&cx(), &nested).await.unwrap();
    assert_eq!(
        template["Resources"]["LB_instance"]["Properties"]["KeyName"],
        json!({"Ref": "KeyName"})
    );
}

/// The load balancer template without instances, its `Resources:` line replaced by `head`.
fn template_with_parameters(head: &str) -> String {
    template(json!([])).replace("Resources:", head)
}

/// Heat's refusals, at validation (nothing is stored): properties it does not implement, an
/// interval shorter than the timeout, a protocol other than TCP or HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_balancer_refusals_are_heats() {
    let svc = service();
    let refused = |properties: &str| {
        format!(
            r#"
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  LB:
    Type: AWS::ElasticLoadBalancing::LoadBalancer
    Properties:
      AvailabilityZones: [nova]
      {properties}
"#
        )
    };
    let listeners = "Listeners: [{LoadBalancerPort: '80', InstancePort: '80', Protocol: HTTP}]";
    for (properties, message) in [
        (
            format!("{listeners}\n      Subnets: [s1]"),
            "Property Subnets not implemented yet",
        ),
        (
            "Listeners: [{LoadBalancerPort: '443', InstancePort: '80', Protocol: HTTP, SSLCertificateId: c}]".to_string(),
            "Property SSLCertificateId not implemented yet",
        ),
        (
            format!("{listeners}\n      HealthCheck: {{HealthyThreshold: 3, Interval: 5, Target: 'HTTP:80/', Timeout: 10, UnhealthyThreshold: 5}}"),
            "Interval must be larger than Timeout",
        ),
        (
            "Listeners: [{LoadBalancerPort: '80', InstancePort: '80', Protocol: UDP}]".to_string(),
            "UDP",
        ),
    ] {
        let error = svc
            .create_stack(&cx(), cloud_free(request("lbbad", &refused(&properties))))
            .await
            .expect_err(&properties)
            .to_string();
        assert!(error.contains(message), "{error}");
    }
}

/// On the lab: the configuration lists the instances (a real server at its address, an id Nova
/// does not know at `0.0.0.0`) on the listener's instance port with the health check's
/// settings, and an update of `Instances` regenerates it in the nested instance's metadata, in
/// place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_load_balancer_config_follows_instances() {
    let Some(lab) = lab_types::lab().await else {
        return;
    };
    let svc = lab_service(&lab.demo);
    let name = format!("lb-{}", lab_types::suffix());
    let missing = "00000000-0000-0000-0000-00000000000";
    let web = r#"
  Web:
    Type: OS::Nova::Server
    Properties: {image: cirros, flavor: m1.tiny, networks: [{network: private-net}]}"#;
    let web_output = "\n  WebAddress: {Value: {'Fn::GetAtt': [Web, first_address]}}";
    let lb = |instances| template_with(instances, web) + web_output;
    let one = json!([{"Ref": "Web"}, format!("{missing}1")]);
    let stack = create(&svc, cloud_free(request(&name, &lb(one)))).await;
    let stack = match status(&stack) {
        "CREATE_COMPLETE" => stack,
        _ => panic!("{}", reason(&stack)),
    };
    let id = stack["id"].as_str().unwrap().to_string();
    let check = " check inter 10s fall 5 rise 3";
    let address = output(&svc, &id, "WebAddress").await["output_value"].clone();
    let address = address.as_str().expect("the server's address");
    let (nested, config) = haproxy_config(&svc, &id).await;
    assert_eq!(
        config,
        format!("{HEADER}    server server1 {address}:8080{check}\n    server server2 0.0.0.0:8080{check}\n")
    );

    let instance = |nested: String| {
        let svc = &svc;
        async move { resources(svc, &nested).await["LB_instance"]["physical_resource_id"].clone() }
    };
    let before = instance(nested.clone()).await;
    let two = json!([format!("{missing}2"), {"Ref": "Web"}]);
    let update = cloud_free(request(&name, &lb(two)));
    svc.update_stack(&cx(), &id, update)
        .await
        .expect("update accepted");
    let updated = wait(&svc, &id).await;
    assert_eq!(status(&updated), "UPDATE_COMPLETE", "{}", reason(&updated));
    let (same_nested, config) = haproxy_config(&svc, &id).await;
    assert_eq!(same_nested, nested, "the nested stack is updated in place");
    assert_eq!(
        instance(nested).await,
        before,
        "only the instance's metadata changes"
    );
    assert_eq!(
        config,
        format!(
            "{HEADER}    server server1 0.0.0.0:8080{check}\n    server server2 {address}:8080{check}\n"
        )
    );
    svc.delete_stack(&cx(), &id).await.expect("delete accepted");
    let deleted = wait(&svc, &id).await;
    assert_eq!(status(&deleted), "DELETE_COMPLETE", "{}", reason(&deleted));
}

/// `SecurityGroups` updates the nested stack in place; a listener change (not updatable, as in
/// Heat) replaces the load balancer with a new nested stack.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_balancer_updates_groups_in_place_and_replaces_on_listener_change() {
    let svc = service();
    let stack = create(&svc, cloud_free(request("lbup", &template(json!([]))))).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let id = stack["id"].as_str().unwrap().to_string();
    let nested = |svc: &Service, id: String| {
        let svc = svc.clone();
        async move { resources(&svc, &id).await["LB"]["physical_resource_id"].clone() }
    };
    let first = nested(&svc, id.clone()).await;
    let update = |text: String| {
        let svc = svc.clone();
        let id = id.clone();
        async move {
            svc.update_stack(&cx(), &id, cloud_free(request("lbup", &text)))
                .await
                .expect("update accepted");
            let updated = wait(&svc, &id).await;
            assert_eq!(status(&updated), "UPDATE_COMPLETE", "{}", reason(&updated));
        }
    };
    let grouped = template(json!([])).replace(
        "      AvailabilityZones: [nova]",
        "      AvailabilityZones: [nova]\n      SecurityGroups: [web]",
    );
    update(grouped.clone()).await;
    assert_eq!(nested(&svc, id.clone()).await, first);
    update(grouped.replace("InstancePort: '8080'", "InstancePort: '8081'")).await;
    assert_ne!(nested(&svc, id.clone()).await, first);
}
