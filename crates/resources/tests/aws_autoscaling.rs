//! The AWS autoscaling family and `AWS::CloudFormation::Stack`, end to end through the engine.
//!
//! The engine tests map `AWS::EC2::Instance` onto a cloud-free provider template in the
//! environment (as Heat's functional tests do), so a group's members are real nested stacks
//! built from the launch configuration. Alarms are POSTed, without a token as Aodh does, to the
//! pre-signed `AlarmUrl`s the engine mints as `ember serve` does, through ember-api's router.
//! The lab tests at the end scale real Nova servers and send a CloudWatch alarm to Aodh.

mod common;
mod lab_types;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use ember_engine::{Service, StackRequest};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;
use tower::ServiceExt;

/// What a member receives from the launch configuration, answered back as outputs.
const INSTANCE: &str = r#"
heat_template_version: 2016-10-14
parameters:
  ImageId: {type: string}
  InstanceType: {type: string}
  KeyName: {type: string, default: ""}
  UserData: {type: string, default: ""}
  SecurityGroups: {type: comma_delimited_list, default: []}
  SubnetId: {type: string, default: ""}
  Tags: {type: json, default: []}
resources:
  ip: {type: OS::Heat::RandomString, properties: {length: 8, character_classes: [{class: digits}]}}
outputs:
  PublicIp: {value: {get_attr: [ip, value]}}
  image: {value: {get_param: ImageId}}
  tags: {value: {get_param: Tags}}
  subnet: {value: {get_param: SubnetId}}
  metadata: {value: {resource_facade: metadata}}
"#;

fn group_template(image: &str, sizes: &str, rolling: bool) -> String {
    let policy = if rolling {
        "    UpdatePolicy:\n      AutoScalingRollingUpdate: {MinInstancesInService: 1, MaxBatchSize: 1, PauseTime: PT0S}\n"
    } else {
        ""
    };
    format!(
        r#"
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Config:
    Type: AWS::AutoScaling::LaunchConfiguration
    Metadata: {{config: {{packages: [httpd]}}}}
    Properties: {{ImageId: {image}, InstanceType: m1.tiny, SecurityGroups: [default]}}
  Group:
    Type: AWS::AutoScaling::AutoScalingGroup
    Properties:
      AvailabilityZones: [nova]
      LaunchConfigurationName: {{Ref: Config}}
      {sizes}
      Cooldown: '0'
      VPCZoneIdentifier: [subnet-1]
      Tags: [{{Key: role, Value: web}}]
{policy}  Up:
    Type: AWS::AutoScaling::ScalingPolicy
    Properties: {{AutoScalingGroupName: {{Ref: Group}}, AdjustmentType: ChangeInCapacity, ScalingAdjustment: 2, Cooldown: 2}}
  Down:
    Type: AWS::AutoScaling::ScalingPolicy
    Properties: {{AutoScalingGroupName: {{Ref: Group}}, AdjustmentType: PercentChangeInCapacity, ScalingAdjustment: -50, MinAdjustmentStep: 1}}
Outputs:
  Ips: {{Value: {{'Fn::GetAtt': [Group, InstanceList]}}}}
  UpUrl: {{Value: {{'Fn::GetAtt': [Up, AlarmUrl]}}}}
  UpRef: {{Value: {{Ref: Up}}}}
  DownUrl: {{Value: {{'Fn::GetAtt': [Down, AlarmUrl]}}}}
"#
    )
}

const SIZES: &str = "MinSize: '1'\n      MaxSize: '4'\n      DesiredCapacity: '2'";

fn group_request(name: &str, template: &str) -> StackRequest {
    let mut req = request(name, template);
    req.files.insert("instance.yaml".into(), json!(INSTANCE));
    req.environment = Some(json!({"resource_registry": {"AWS::EC2::Instance": "instance.yaml"}}));
    req
}

async fn out(svc: &Service, id: &str, key: &str) -> Value {
    output(svc, id, key).await["output_value"].clone()
}

/// Where the test's API server would listen (the URLs the engine mints point there).
const PUBLIC_URL: &str = "http://127.0.0.1:18006";

/// POSTs an alarm to a pre-signed alarm URL, as Aodh does (no token), through the router;
/// then waits for any resize of the group's child.
async fn alarm(svc: &Service, api: &axum::Router, url: &Value, child: &str) {
    let path = url
        .as_str()
        .and_then(|u| u.strip_prefix(PUBLIC_URL))
        .unwrap_or_else(|| panic!("a URL of the test server: {url}"));
    let body = json!({"previous": "ok", "current": "alarm", "reason": "threshold crossed"});
    let request = Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = api.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    let child = wait(svc, child).await;
    assert!(status(&child).ends_with("_COMPLETE"), "{}", reason(&child));
}

async fn members(svc: &Service, child: &str) -> BTreeSet<String> {
    resources(svc, child).await.keys().cloned().collect()
}

async fn member_outputs(svc: &Service, child: &str, key: &str) -> Vec<Value> {
    let mut values = Vec::new();
    for (_, row) in resources(svc, child).await {
        let nested = row["physical_resource_id"].as_str().unwrap().to_string();
        values.push(out(svc, &nested, key).await);
    }
    values
}

async fn group_child(svc: &Service, id: &str) -> String {
    resources(svc, id).await["Group"]["physical_resource_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Creates the group stack `name` from `template`: its id and the group's child stack.
async fn create_group(svc: &Service, name: &str, template: &str) -> (String, String) {
    let stack = create(svc, group_request(name, template)).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let id = stack["id"].as_str().unwrap().to_string();
    let child = group_child(svc, &id).await;
    (id, child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_from_launch_configuration_scales_on_alarm_urls_with_cooldown() {
    let (svc, api) = engine_and_api(PUBLIC_URL, config());
    let (id, child) = create_group(&svc, "awsasg", &group_template("cirros", SIZES, false)).await;
    let rows = resources(&svc, &child).await;
    assert_eq!(rows.len(), 2, "DesiredCapacity members");
    assert!(rows
        .values()
        .all(|r| r["resource_type"] == "AWS::EC2::Instance"));

    // Members carry the launch configuration's properties and metadata, the subnet and Heat's
    // metering tags.
    assert_eq!(
        member_outputs(&svc, &child, "image").await,
        vec![json!("cirros"); 2]
    );
    assert_eq!(
        member_outputs(&svc, &child, "metadata").await,
        vec![json!({"config": {"packages": ["httpd"]}}); 2]
    );
    assert_eq!(
        member_outputs(&svc, &child, "subnet").await,
        vec![json!("subnet-1"); 2]
    );
    for tags in member_outputs(&svc, &child, "tags").await {
        let keys: Vec<&str> = tags
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["Key"].as_str().unwrap())
            .collect();
        assert_eq!(
            keys,
            [
                "role",
                "metering.groupname",
                "metering.AutoScalingGroupName"
            ],
            "{tags}"
        );
    }
    let ips = out(&svc, &id, "Ips").await;
    assert_eq!(ips.as_str().unwrap().split(',').count(), 2, "{ips}");

    // The policy's Ref is its AlarmUrl: a pre-signed URL of the CFN signal endpoint.
    let up = out(&svc, &id, "UpUrl").await;
    assert_eq!(out(&svc, &id, "UpRef").await, up);
    let signal_path = format!("{PUBLIC_URL}/v1/signal/");
    assert!(
        up.as_str().unwrap().starts_with(&signal_path)
            && up.as_str().unwrap().contains("Signature="),
        "{up}"
    );

    // Up by 2; the policy's 2 s cooldown, which the group takes on as in Heat, then ignores
    // the next alarms of both policies (recorded).
    let first = members(&svc, &child).await;
    alarm(&svc, &api, &up, &child).await;
    let grown = members(&svc, &child).await;
    assert_eq!(grown.len(), 4);
    assert!(first.is_subset(&grown), "existing members stay");
    alarm(&svc, &api, &up, &child).await;
    assert_eq!(members(&svc, &child).await, grown);
    let up_signals = events(&svc, &id)
        .await
        .into_iter()
        .filter(|(r, s, _)| r == "Up" && s == "SIGNAL_COMPLETE")
        .count();
    assert_eq!(up_signals, 2);
    let down = out(&svc, &id, "DownUrl").await;
    alarm(&svc, &api, &down, &child).await;
    assert_eq!(members(&svc, &child).await, grown);
    assert_eq!(
        out(&svc, &id, "Ips")
            .await
            .as_str()
            .unwrap()
            .split(',')
            .count(),
        4
    );

    // After the cooldown, down by 50 %: the two oldest members go.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    alarm(&svc, &api, &down, &child).await;
    let shrunk = members(&svc, &child).await;
    assert_eq!(shrunk.len(), 2);
    assert!(shrunk.is_disjoint(&first), "the oldest members are removed");

    svc.delete_stack(&cx(), &id).await.expect("delete accepted");
    let gone = wait(&svc, &id).await;
    assert_eq!(status(&gone), "DELETE_COMPLETE", "{}", reason(&gone));
}

/// Updates a stack to `template` with the group's files and environment, to UPDATE_COMPLETE.
async fn update(svc: &Service, id: &str, template: &str) {
    let req = StackRequest {
        stack_name: None,
        ..group_request("", template)
    };
    svc.update_stack(&cx(), id, req)
        .await
        .expect("update accepted");
    let updated = wait(svc, id).await;
    assert_eq!(status(&updated), "UPDATE_COMPLETE", "{}", reason(&updated));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sizes_update_in_place_and_a_new_launch_configuration_rolls_through_the_members() {
    let svc = service();
    let (id, child) = create_group(&svc, "awsroll", &group_template("cirros", SIZES, true)).await;
    let first = members(&svc, &child).await;

    // DesiredCapacity 3 within new bounds: one member added, the others untouched.
    let sizes = "MinSize: '2'\n      MaxSize: '5'\n      DesiredCapacity: '3'";
    update(&svc, &id, &group_template("cirros", sizes, true)).await;
    assert_eq!(group_child(&svc, &id).await, child, "updated in place");
    let three = members(&svc, &child).await;
    assert_eq!(three.len(), 3);
    assert!(first.is_subset(&three));
    let before = events(&svc, &child).await.len();

    // A new image replaces the launch configuration; the members are replaced one at a time
    // (MaxBatchSize 1) and keep their names.
    update(&svc, &id, &group_template("fedora", sizes, true)).await;
    assert_eq!(members(&svc, &child).await, three);
    assert_eq!(
        member_outputs(&svc, &child, "image").await,
        vec![json!("fedora"); 3]
    );
    let child_name = svc.show_stack(&cx(), &child, false).await.unwrap()["stack_name"]
        .as_str()
        .unwrap()
        .to_string();
    let rolled: Vec<_> = events(&svc, &child).await.split_off(before);
    let child_updates = rolled
        .iter()
        .filter(|(n, s, _)| *n == child_name && s == "UPDATE_IN_PROGRESS")
        .count();
    assert_eq!(child_updates, 3, "one batch per member: {rolled:?}");

    svc.delete_stack(&cx(), &id).await.expect("delete accepted");
    assert_eq!(status(&wait(&svc, &id).await), "DELETE_COMPLETE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_rolling_policy_a_new_launch_configuration_reaches_only_new_members() {
    let (svc, api) = engine_and_api(PUBLIC_URL, config());
    let (id, child) = create_group(&svc, "awskeep", &group_template("cirros", SIZES, false)).await;
    let first = members(&svc, &child).await;

    // As in Heat (a resize that replaces no member), the members keep their image...
    update(&svc, &id, &group_template("fedora", SIZES, false)).await;
    assert_eq!(members(&svc, &child).await, first);
    assert_eq!(
        member_outputs(&svc, &child, "image").await,
        vec![json!("cirros"); 2]
    );
    // ... and the members a scale-up adds are built from the new launch configuration.
    alarm(&svc, &api, &out(&svc, &id, "UpUrl").await, &child).await;
    let mut images = Vec::new();
    for (name, row) in resources(&svc, &child).await {
        let nested = row["physical_resource_id"].as_str().unwrap().to_string();
        images.push((first.contains(&name), out(&svc, &nested, "image").await));
    }
    images.sort_by_key(|(old, _)| !old);
    assert_eq!(
        images,
        [
            (true, json!("cirros")),
            (true, json!("cirros")),
            (false, json!("fedora")),
            (false, json!("fedora"))
        ]
    );
}

/// A template's validation message (the create is refused before anything is stored).
async fn refusal(template: &str) -> String {
    let svc = service();
    match svc
        .create_stack(&cx(), group_request("awsbad", template))
        .await
    {
        Err(e) => e.to_string(),
        Ok(created) => {
            let id = created["id"].as_str().unwrap().to_string();
            reason(&wait(&svc, &id).await).to_string()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_groups_policies_and_launch_configurations_are_refused_with_heats_messages() {
    let cases = [
        (
            group_template("cirros", "MinSize: '3'\n      MaxSize: '2'", false),
            "MinSize can not be greater than MaxSize",
        ),
        (
            group_template(
                "cirros",
                "MinSize: '1'\n      MaxSize: '2'\n      DesiredCapacity: '5'",
                false,
            ),
            "DesiredCapacity must be between MinSize and MaxSize",
        ),
        (
            group_template("cirros", SIZES, false).replace("[subnet-1]", "[subnet-1, subnet-2]"),
            "Anything other than one VPCZoneIdentifier is not supported.",
        ),
        (
            group_template("cirros", SIZES, false).replace(
                "LaunchConfigurationName: {Ref: Config}",
                "InstanceId: server-1\n      LaunchConfigurationName: {Ref: Config}",
            ),
            "Either 'InstanceId' or 'LaunchConfigurationName' must be provided.",
        ),
        (
            group_template("cirros", SIZES, false).replace("ImageId: cirros, ", ""),
            "If without InstanceId, ImageId and InstanceType are required.",
        ),
        (
            group_template("cirros", SIZES, false)
                .replace("ScalingAdjustment: 2,", "ScalingAdjustment: 2, MinAdjustmentStep: 1,"),
            "MinAdjustmentStep property should only be specified for AdjustmentType with value PercentChangeInCapacity.",
        ),
        (
            group_template("cirros", SIZES, false).replace(
                "SecurityGroups: [default]",
                "BlockDeviceMappings: [{DeviceName: vdb}]",
            ),
            "Ebs is missing, this is required when specifying BlockDeviceMappings.",
        ),
        (
            group_template("cirros", SIZES, false).replace(
                "SecurityGroups: [default]",
                "BlockDeviceMappings: [{DeviceName: vdb, Ebs: {SnapshotId: s1, Iops: 5}}]",
            ),
            "Property Iops not implemented yet",
        ),
        (
            group_template("cirros", SIZES, false)
                .replace("Cooldown: '0'", "Cooldown: '0'\n      HealthCheckType: EC2"),
            "Property HealthCheckType not implemented yet",
        ),
    ];
    for (template, message) in cases {
        let got = refusal(&template).await;
        assert!(got.contains(message), "{message}: {got}");
    }
    // A group naming something that is not a launch configuration fails its create.
    let template = group_template("cirros", SIZES, false).replace(
        "LaunchConfigurationName: {Ref: Config}",
        "LaunchConfigurationName: nothing",
    );
    let got = refusal(&template).await;
    assert!(
        got.contains("LaunchConfigurationName (nothing) reference can not be found."),
        "{got}"
    );
}

const CHILD: &str = r#"
AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  Word: {Type: String}
Resources:
  Secret:
    Type: OS::Heat::RandomString
    Properties: {length: 4}
Outputs:
  Greeting: {Value: {'Fn::Join': ['-', [{Ref: Word}, {'Fn::GetAtt': [Secret, value]}]]}}
  Word: {Value: {Ref: Word}}
"#;

fn cfn_parent(url: &str, word: &str) -> String {
    format!(
        r#"
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Nested:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: {url}
      TimeoutInMinutes: '5'
      Parameters: {{Word: {word}}}
Outputs:
  Greeting: {{Value: {{'Fn::GetAtt': [Nested, Outputs.Greeting]}}}}
  Word: {{Value: {{'Fn::GetAtt': [Nested, Outputs.Word]}}}}
  Ref: {{Value: {{Ref: Nested}}}}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudformation_stack_from_a_url_answers_its_outputs_and_updates() {
    let svc = service();
    let url = lab_types::serve(CHILD.as_bytes().to_vec()).await;
    let stack = create(&svc, request("cfnstack", &cfn_parent(&url, "hello"))).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let id = stack["id"].as_str().unwrap().to_string();
    let greeting = out(&svc, &id, "Greeting").await;
    assert!(
        greeting.as_str().unwrap().starts_with("hello-"),
        "{greeting}"
    );
    let nested = resources(&svc, &id).await["Nested"]["physical_resource_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(out(&svc, &nested, "Word").await, json!("hello"));
    // `Ref` is the child stack's ARN (Heat's `nested_identifier().arn()`).
    let child = svc.show_stack(&cx(), &nested, false).await.unwrap();
    assert_eq!(
        out(&svc, &id, "Ref").await,
        json!(format!(
            "arn:openstack:heat::{}:stacks/{}/{nested}",
            cx().project_id,
            child["stack_name"].as_str().unwrap()
        ))
    );

    // New parameters update the same child in place.
    update(&svc, &id, &cfn_parent(&url, "bye")).await;
    assert_eq!(out(&svc, &id, "Word").await, json!("bye"));
    assert_eq!(
        resources(&svc, &id).await["Nested"]["physical_resource_id"],
        json!(nested)
    );

    svc.delete_stack(&cx(), &id).await.expect("delete accepted");
    assert_eq!(status(&wait(&svc, &id).await), "DELETE_COMPLETE");
    let child = svc.show_stack(&cx(), &nested, false).await.unwrap();
    assert_eq!(status(&child), "DELETE_COMPLETE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudformation_stack_with_an_unreachable_url_fails_with_heats_message() {
    let svc = service();
    let stack = create(
        &svc,
        request("cfnbad", &cfn_parent("ftp://example.invalid/t.yaml", "x")),
    )
    .await;
    assert_eq!(status(&stack), "CREATE_FAILED");
    assert!(
        reason(&stack)
            .contains("Could not fetch remote template 'ftp://example.invalid/t.yaml': Invalid URL scheme ftp"),
        "{}",
        reason(&stack)
    );
}

/// The ids of the demo project's servers whose names start with `prefix` (other tests share
/// the project; a stack's servers, nested ones included, are named after it).
async fn servers(
    compute: &ember_openstack::services::compute::Compute,
    prefix: &str,
) -> BTreeSet<String> {
    let listed = compute
        .client()
        .get("/servers")
        .send_json()
        .await
        .expect("servers");
    listed["servers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["name"].as_str().is_some_and(|n| n.starts_with(prefix)))
        .filter_map(|s| s["id"].as_str().map(str::to_string))
        .collect()
}

/// Real `AWS::EC2::Instance` members on the lab's Nova, scaled up and down by their policies'
/// alarm URLs, and a group cloned from an existing server (`InstanceId`); every server the
/// stack made is gone afterwards, even when a check fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_group_of_instances_scales_up_and_down_via_alarm_urls() {
    let Some(lab) = lab_types::lab().await else {
        return;
    };
    let compute = ember_openstack::services::compute::Compute::new(&lab.demo)
        .await
        .unwrap();
    let name = format!("awsasg-{}", lab_types::suffix());
    let inventory = servers(&compute, &name).await;
    let network = ember_openstack::services::network::Network::new(&lab.demo)
        .await
        .unwrap();
    let subnet = network
        .find(
            ember_openstack::services::network::NeutronKind::Subnet,
            "private-subnet",
        )
        .await
        .unwrap();
    let template = format!(
        r#"
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Config:
    Type: AWS::AutoScaling::LaunchConfiguration
    Properties: {{ImageId: cirros, InstanceType: m1.tiny}}
  Group:
    Type: AWS::AutoScaling::AutoScalingGroup
    Properties:
      AvailabilityZones: [nova]
      LaunchConfigurationName: {{Ref: Config}}
      MinSize: '1'
      MaxSize: '3'
      VPCZoneIdentifier: ['{subnet}']
  Up:
    Type: AWS::AutoScaling::ScalingPolicy
    Properties: {{AutoScalingGroupName: {{Ref: Group}}, AdjustmentType: ChangeInCapacity, ScalingAdjustment: 2}}
  Down:
    Type: AWS::AutoScaling::ScalingPolicy
    Properties: {{AutoScalingGroupName: {{Ref: Group}}, AdjustmentType: ExactCapacity, ScalingAdjustment: 1}}
  Seed:
    Type: AWS::EC2::Instance
    Properties: {{ImageId: cirros, InstanceType: m1.small, SubnetId: '{subnet}'}}
  Clones:
    Type: AWS::AutoScaling::AutoScalingGroup
    Properties:
      AvailabilityZones: [nova]
      InstanceId: {{Ref: Seed}}
      MinSize: '1'
      MaxSize: '1'
      VPCZoneIdentifier: ['{subnet}']
Outputs:
  Ips: {{Value: {{'Fn::GetAtt': [Group, InstanceList]}}}}
  UpUrl: {{Value: {{'Fn::GetAtt': [Up, AlarmUrl]}}}}
  DownUrl: {{Value: {{'Fn::GetAtt': [Down, AlarmUrl]}}}}
"#,
        subnet = subnet["id"].as_str().unwrap()
    );
    let (svc, api) = engine_and_api(PUBLIC_URL, lab_config(&lab.demo));
    let id = start_create(&svc, request(&name, &template)).await;
    let checks = {
        let (svc, api, id, compute, name) = (
            svc.clone(),
            api.clone(),
            id.clone(),
            compute.clone(),
            name.clone(),
        );
        tokio::spawn(async move {
            let stack = wait(&svc, &id).await;
            assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
            let child = group_child(&svc, &id).await;
            let count_ips = |ips: Value| ips.as_str().map_or(0, |s| s.split(',').count());
            assert_eq!(count_ips(out(&svc, &id, "Ips").await), 1);
            let up = out(&svc, &id, "UpUrl").await;
            alarm(&svc, &api, &up, &child).await;
            assert_eq!(count_ips(out(&svc, &id, "Ips").await), 3);
            // Three members, the seed and its clone.
            assert_eq!(servers(&compute, &name).await.len(), 5);
            let down = out(&svc, &id, "DownUrl").await;
            alarm(&svc, &api, &down, &child).await;
            assert_eq!(count_ips(out(&svc, &id, "Ips").await), 1);
            assert_eq!(servers(&compute, &name).await.len(), 3);

            // The clone has the seed's image and flavor.
            let rows = resources(&svc, &id).await;
            let seed = compute
                .server(rows["Seed"]["physical_resource_id"].as_str().unwrap())
                .await
                .unwrap();
            let clones = rows["Clones"]["physical_resource_id"].as_str().unwrap();
            let members = resources(&svc, clones).await;
            assert_eq!(members.len(), 1);
            let member = members.values().next().unwrap();
            let clone = compute
                .server(member["physical_resource_id"].as_str().unwrap())
                .await
                .unwrap();
            assert_eq!(clone["image"]["id"], seed["image"]["id"]);
            assert_eq!(clone["flavor"]["original_name"], "m1.small");
        })
    }
    .await;
    svc.delete_stack(&cx(), &id).await.expect("delete accepted");
    let gone = wait(&svc, &id).await;
    if let Err(failed) = checks {
        std::panic::resume_unwind(failed.into_panic());
    }
    assert_eq!(status(&gone), "DELETE_COMPLETE", "{}", reason(&gone));
    // Nova may take a moment to forget deleted servers.
    for _ in 0..30 {
        if servers(&compute, &name).await == inventory {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(
        servers(&compute, &name).await,
        inventory,
        "inventory before/after"
    );
}

/// Records what an `OS::Aodh::Alarm` receives.
const AODH_ALARM: &str = r#"
heat_template_version: 2016-10-14
parameters:
  description: {type: string}
  meter_name: {type: string}
  period: {type: number}
  evaluation_periods: {type: number}
  threshold: {type: number}
  repeat_actions: {type: boolean}
  alarm_actions: {type: json}
  ok_actions: {type: json}
  insufficient_data_actions: {type: json}
  statistic: {type: string}
  comparison_operator: {type: string}
  matching_metadata: {type: json}
resources:
  none: {type: OS::Heat::None}
outputs:
  received:
    value:
      meter_name: {get_param: meter_name}
      period: {get_param: period}
      threshold: {get_param: threshold}
      statistic: {get_param: statistic}
      comparison_operator: {get_param: comparison_operator}
      alarm_actions: {get_param: alarm_actions}
      matching_metadata: {get_param: matching_metadata}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudwatch_alarm_is_an_aodh_alarm_in_a_nested_stack() {
    let svc = service();
    let template = r#"
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Up:
    Type: AWS::AutoScaling::ScalingPolicy
    Properties: {AutoScalingGroupName: g1, AdjustmentType: ChangeInCapacity, ScalingAdjustment: 1}
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      MetricName: cpu_util
      Statistic: Average
      Period: '60'
      EvaluationPeriods: '1'
      Threshold: '50'
      ComparisonOperator: GreaterThanThreshold
      AlarmActions: [{Ref: Up}]
      Dimensions: [{Name: AutoScalingGroupName, Value: g1}]
Outputs:
  Url: {Value: {'Fn::GetAtt': [Up, AlarmUrl]}}
"#;
    let mut req = request("cwalarm", template);
    req.files.insert("alarm.yaml".into(), json!(AODH_ALARM));
    req.environment = Some(json!({"resource_registry": {"OS::Aodh::Alarm": "alarm.yaml"}}));
    let stack = create(&svc, req).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let id = stack["id"].as_str().unwrap().to_string();
    let rows = resources(&svc, &id).await;
    assert_eq!(rows["Alarm"]["resource_type"], "AWS::CloudWatch::Alarm");
    let nested = rows["Alarm"]["physical_resource_id"]
        .as_str()
        .unwrap()
        .to_string();
    let alarm = resources(&svc, &nested).await["__alarm__"]["physical_resource_id"]
        .as_str()
        .unwrap()
        .to_string();
    let url = out(&svc, &id, "Url").await;
    let received = out(&svc, &alarm, "received").await;
    assert_eq!(
        received,
        json!({
            "meter_name": "cpu_util", "period": 60, "threshold": 50, "statistic": "avg",
            "comparison_operator": "gt", "alarm_actions": [url],
            "matching_metadata": {"AutoScalingGroupName": "g1"},
        })
    );
}

/// On the lab's Aodh (23.0), as with Heat: the CloudWatch alarm's nested `OS::Aodh::Alarm` is
/// a `threshold` alarm, a kind Aodh no longer has, so Aodh refuses it; nothing is left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_cloudwatch_alarm_reaches_aodh_as_a_threshold_alarm() {
    let Some(lab) = lab_types::lab().await else {
        return;
    };
    let template = r#"
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      MetricName: cpu_util
      Statistic: Average
      Period: '60'
      EvaluationPeriods: '1'
      Threshold: '50'
      ComparisonOperator: GreaterThanThreshold
      Dimensions: [{Name: AutoScalingGroupName, Value: g1}]
"#;
    let svc = lab_service(&lab.demo);
    let name = format!("cw-{}", lab_types::suffix());
    let stack = create(&svc, request(&name, template)).await;
    let id = stack["id"].as_str().unwrap().to_string();
    svc.delete_stack(&cx(), &id).await.expect("delete accepted");
    let gone = wait(&svc, &id).await;
    assert_eq!(status(&stack), "CREATE_FAILED");
    assert!(
        reason(&stack).contains("BadRequest: resources.__alarm__:")
            && reason(&stack).contains("Unknown attribute for argument data: threshold_rule"),
        "{}",
        reason(&stack)
    );
    assert_eq!(status(&gone), "DELETE_COMPLETE", "{}", reason(&gone));
}
