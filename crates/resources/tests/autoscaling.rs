//! OS::Heat::AutoScalingGroup and OS::Heat::ScalingPolicy, end to end: a group of nested
//! provider-template members scales 2 → 4 → 2 on policy signals, with the cooldown respected
//! (a signal during it is recorded and ignored, as in Heat), outputs following the members and
//! every member created and deleted exactly once; the group's own cooldown starts when its
//! create completes (Heat's `_finished_scaling`).

mod common;

use common::*;
use ember_engine::Service;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

const MEMBER: &str = r#"
heat_template_version: 2016-10-14
parameters:
  word: {type: string}
resources:
  secret: {type: OS::Heat::RandomString, properties: {length: 6}}
outputs:
  value: {value: {list_join: ["-", [{get_param: word}, {get_attr: [secret, value]}]]}}
"#;

const GROUP: &str = r#"
heat_template_version: 2016-10-14
resources:
  asg:
    type: OS::Heat::AutoScalingGroup
    properties:
      min_size: 1
      max_size: 5
      desired_capacity: 2
      resource: {type: member.yaml, properties: {word: hi}}
  up:
    type: OS::Heat::ScalingPolicy
    properties:
      auto_scaling_group_id: {get_resource: asg}
      adjustment_type: change_in_capacity
      scaling_adjustment: 2
      cooldown: 1
  down:
    type: OS::Heat::ScalingPolicy
    properties:
      auto_scaling_group_id: {get_resource: asg}
      adjustment_type: change_in_capacity
      scaling_adjustment: -2
      cooldown: 1
outputs:
  size: {value: {get_attr: [asg, current_size]}}
  values: {value: {get_attr: [asg, outputs_list, value]}}
  by_member: {value: {get_attr: [asg, outputs, value]}}
  refs: {value: {get_attr: [asg, refs]}}
  url: {value: {get_attr: [up, signal_url]}}
"#;

async fn out(svc: &Service, id: &str, key: &str) -> Value {
    output(svc, id, key).await["output_value"].clone()
}

/// Signals a policy and waits for any resize it started.
async fn signal(svc: &Service, stack: &str, group_child: &str, policy: &str) {
    svc.signal_resource(&cx(), stack, policy, Value::Null)
        .await
        .expect("signal accepted");
    let child = wait(svc, group_child).await;
    assert!(status(&child).ends_with("_COMPLETE"), "{}", reason(&child));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_of_provider_members_scales_up_and_down_with_cooldown() {
    let svc = service();
    let mut req = request("asg", GROUP);
    req.files.insert("member.yaml".into(), json!(MEMBER));
    let stack = create(&svc, req).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let id = stack["id"].as_str().unwrap().to_string();
    let rs = resources(&svc, &id).await;
    let child = rs["asg"]["physical_resource_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(out(&svc, &id, "size").await, json!(2));
    let values = out(&svc, &id, "values").await;
    assert_eq!(values.as_array().unwrap().len(), 2);
    assert!(values
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v.as_str().unwrap().starts_with("hi-")));
    let url = out(&svc, &id, "url").await;
    assert_eq!(
        url,
        json!(format!("/v1/tenant/stacks/asg/{id}/resources/up/signal"))
    );
    let first_members: Vec<String> = resources(&svc, &child).await.keys().cloned().collect();

    // Up by 2.
    signal(&svc, &id, &child, "up").await;
    assert_eq!(out(&svc, &id, "size").await, json!(4));
    let by_member = out(&svc, &id, "by_member").await;
    assert_eq!(by_member.as_object().unwrap().len(), 4);
    for m in &first_members {
        assert!(by_member.get(m).is_some(), "original member {m} kept");
    }
    // During the cooldown both policies' signals are recorded and ignored.
    signal(&svc, &id, &child, "up").await;
    signal(&svc, &id, &child, "down").await;
    assert_eq!(out(&svc, &id, "size").await, json!(4));
    let signals: Vec<(String, String, String)> = events(&svc, &id)
        .await
        .into_iter()
        .filter(|(r, s, _)| s == "SIGNAL_COMPLETE" && r != "asg")
        .collect();
    assert_eq!(signals.len(), 3, "{signals:?}");
    assert!(signals
        .iter()
        .all(|(_, _, r)| r == "No signal details provided"));

    // After the cooldown, down by 2: the oldest members go.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    signal(&svc, &id, &child, "down").await;
    assert_eq!(out(&svc, &id, "size").await, json!(2));
    let remaining: Vec<String> = resources(&svc, &child).await.keys().cloned().collect();
    for m in &first_members {
        assert!(!remaining.contains(m), "oldest member {m} removed first");
    }
    assert_eq!(out(&svc, &id, "values").await.as_array().unwrap().len(), 2);
    assert_eq!(out(&svc, &id, "refs").await.as_array().unwrap().len(), 2);

    // Every member was created once; the removed ones were deleted once.
    let mut creates: BTreeMap<String, usize> = BTreeMap::new();
    let mut deletes: BTreeMap<String, usize> = BTreeMap::new();
    for (name, st, _) in events(&svc, &child).await {
        match st.as_str() {
            "CREATE_IN_PROGRESS" => *creates.entry(name).or_default() += 1,
            "DELETE_IN_PROGRESS" => *deletes.entry(name).or_default() += 1,
            _ => {}
        }
    }
    creates.remove(stack_name_of(&svc, &child).await.as_str());
    assert_eq!(creates.len(), 4, "{creates:?}");
    assert!(creates.values().all(|n| *n == 1), "{creates:?}");
    assert_eq!(deletes.len(), 2, "{deletes:?}");
    assert!(deletes.values().all(|n| *n == 1));
    assert!(first_members.iter().all(|m| deletes.contains_key(m)));

    // Deleting the stack deletes the group's child and every member stack.
    svc.delete_stack(&cx(), &id).await.expect("delete accepted");
    let stack = wait(&svc, &id).await;
    assert_eq!(status(&stack), "DELETE_COMPLETE", "{}", reason(&stack));
    let child = svc.show_stack(&cx(), &child, false).await.unwrap();
    assert_eq!(status(&child), "DELETE_COMPLETE");
}

async fn stack_name_of(svc: &Service, id: &str) -> String {
    svc.show_stack(&cx(), id, false).await.unwrap()["stack_name"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_and_percent_policies_stay_within_bounds() {
    let svc = service();
    let template = r#"
heat_template_version: 2016-10-14
resources:
  asg:
    type: OS::Heat::AutoScalingGroup
    properties:
      min_size: 1
      max_size: 3
      resource: {type: OS::Heat::None}
  exact:
    type: OS::Heat::ScalingPolicy
    properties: {auto_scaling_group_id: {get_resource: asg}, adjustment_type: exact_capacity, scaling_adjustment: 10}
  shrink:
    type: OS::Heat::ScalingPolicy
    properties:
      auto_scaling_group_id: {get_resource: asg}
      adjustment_type: percent_change_in_capacity
      scaling_adjustment: -10
outputs:
  size: {value: {get_attr: [asg, current_size]}}
"#;
    let stack = create(&svc, request("asgb", template)).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let id = stack["id"].as_str().unwrap().to_string();
    let child = resources(&svc, &id).await["asg"]["physical_resource_id"]
        .as_str()
        .unwrap()
        .to_string();
    // No desired_capacity: min_size members.
    assert_eq!(out(&svc, &id, "size").await, json!(1));
    signal(&svc, &id, &child, "exact").await;
    assert_eq!(
        out(&svc, &id, "size").await,
        json!(3),
        "clamped to max_size"
    );
    // -10% of 3 is -0.3: rounded away from zero to one member.
    signal(&svc, &id, &child, "shrink").await;
    assert_eq!(out(&svc, &id, "size").await, json!(2));
    // An alarm going back to ok does not scale.
    svc.signal_resource(
        &cx(),
        &id,
        "shrink",
        json!({"previous": "alarm", "current": "ok", "reason": "fine"}),
    )
    .await
    .unwrap();
    assert_eq!(out(&svc, &id, "size").await, json!(2));
    let last = events(&svc, &id).await.pop().unwrap();
    assert_eq!(last.2, "alarm state changed from alarm to ok (fine)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_for_a_missing_group_is_refused() {
    let svc = service();
    let template = r#"
heat_template_version: 2016-10-14
resources:
  lost:
    type: OS::Heat::ScalingPolicy
    properties: {auto_scaling_group_id: nowhere, adjustment_type: change_in_capacity, scaling_adjustment: 1}
"#;
    let stack = create(&svc, request("asgm", template)).await;
    let id = stack["id"].as_str().unwrap();
    let err = svc
        .signal_resource(&cx(), id, "lost", Value::Null)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("Alarm lost could not find scaling group named \"nowhere\""),
        "{err}"
    );
}

fn rolling_group(value: &str) -> String {
    format!(
        r#"
heat_template_version: 2016-10-14
resources:
  asg:
    type: OS::Heat::AutoScalingGroup
    properties:
      min_size: 1
      max_size: 5
      desired_capacity: 4
      rolling_updates: {{max_batch_size: 2, min_in_service: 1}}
      resource:
        type: OS::Heat::TestResource
        properties: {{value: {value}, action_wait_secs: {{update: 0.05}}}}
outputs:
  values: {{value: {{get_attr: [asg, outputs_list, output]}}}}
  one: {{value: {{get_attr: [asg, outputs, output]}}}}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_updates_replace_the_definition_in_batches() {
    let svc = service();
    let stack = create(&svc, request("asgroll", &rolling_group("a"))).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let id = stack["id"].as_str().unwrap().to_string();
    let child = resources(&svc, &id).await["asg"]["physical_resource_id"]
        .as_str()
        .unwrap()
        .to_string();
    let child_name = svc.show_stack(&cx(), &child, false).await.unwrap()["stack_name"]
        .as_str()
        .unwrap()
        .to_string();
    let members_before: Vec<String> = resources(&svc, &child).await.keys().cloned().collect();
    let before = events(&svc, &child).await.len();
    let req = ember_engine::StackRequest {
        template: Some(json!(rolling_group("b"))),
        ..Default::default()
    };
    svc.update_stack(&cx(), &id, req)
        .await
        .expect("update accepted");
    let updated = wait(&svc, &id).await;
    assert_eq!(status(&updated), "UPDATE_COMPLETE", "{}", reason(&updated));
    let events: Vec<_> = events(&svc, &child).await.split_off(before);
    // Two batches of two: two child updates, and the second pair starts after the first ended.
    let child_updates = events
        .iter()
        .filter(|(n, s, _)| *n == child_name && s == "UPDATE_IN_PROGRESS")
        .count();
    assert_eq!(child_updates, 2, "{events:?}");
    let first = |member: &str, status: &str| {
        events
            .iter()
            .position(|(n, s, _)| n == member && s == status)
            .unwrap_or_else(|| panic!("{member} {status}: {events:?}"))
    };
    let mut order = members_before.clone();
    order.sort_by_key(|m| first(m, "UPDATE_IN_PROGRESS"));
    let first_batch_done =
        first(&order[0], "UPDATE_COMPLETE").max(first(&order[1], "UPDATE_COMPLETE"));
    assert!(
        first_batch_done < first(&order[2], "UPDATE_IN_PROGRESS"),
        "{events:?}"
    );
    assert!(
        first_batch_done < first(&order[3], "UPDATE_IN_PROGRESS"),
        "{events:?}"
    );
    // The same members, updated in place, each once.
    let mut members_after: Vec<String> = resources(&svc, &child).await.keys().cloned().collect();
    members_after.sort();
    let mut sorted_before = members_before;
    sorted_before.sort();
    assert_eq!(members_after, sorted_before);
    for m in &members_after {
        let updates = events
            .iter()
            .filter(|(n, s, _)| n == m && s == "UPDATE_IN_PROGRESS")
            .count();
        assert_eq!(updates, 1, "{m}: {events:?}");
    }
    assert_eq!(out(&svc, &id, "values").await, json!(["b", "b", "b", "b"]));
    let one = out(&svc, &id, "one").await;
    assert_eq!(one.as_object().map(|m| m.len()), Some(4), "{one}");
    assert!(one.as_object().unwrap().values().all(|v| v == "b"), "{one}");
}

/// Heat's groups start their own `cooldown` when their create completes: a policy's signal
/// right after the create is ignored, one after the cooldown scales.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_groups_cooldown_starts_when_its_create_completes() {
    let svc = service();
    let template = GROUP
        .replace(
            "      desired_capacity: 2\n",
            "      desired_capacity: 2\n      cooldown: 2\n",
        )
        .replace("      cooldown: 1\n", "");
    let mut req = request("asg-cooldown", &template);
    req.files.insert("member.yaml".into(), json!(MEMBER));
    let stack = create(&svc, req).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let id = stack["id"].as_str().unwrap().to_string();
    let child = resources(&svc, &id).await["asg"]["physical_resource_id"]
        .as_str()
        .unwrap()
        .to_string();
    signal(&svc, &id, &child, "up").await;
    assert_eq!(
        out(&svc, &id, "size").await,
        json!(2),
        "ignored in the cooldown"
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    signal(&svc, &id, &child, "up").await;
    assert_eq!(out(&svc, &id, "size").await, json!(4));
}
