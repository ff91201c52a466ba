//! OS::Heat::ResourceGroup against Heat's behaviour (heat-tempest-plugin
//! functional/test_resource_group.py): member naming, %index%, attributes, scaling that touches
//! only the members that change, removal policies.

mod common;

use common::*;
use ember_engine::{Service, StackRequest};
use serde_json::{json, Map, Value};
use std::time::Instant;

fn group(count: usize, extra: &str) -> String {
    format!(
        r#"
heat_template_version: 2016-10-14
resources:
  group:
    type: OS::Heat::ResourceGroup
    properties:
      count: {count}
      {extra}
      resource_def:
        type: OS::Heat::TestResource
        properties: {{value: "member-%index%"}}
outputs:
  refs: {{value: {{get_attr: [group, refs]}}}}
  refs_map: {{value: {{get_attr: [group, refs_map]}}}}
  values: {{value: {{get_attr: [group, output]}}}}
  first: {{value: {{get_attr: [group, resource.0]}}}}
  second_value: {{value: {{get_attr: [group, resource.1.output]}}}}
  removed: {{value: {{get_attr: [group, removed_rsrc_list]}}}}
"#
    )
}

async fn update(svc: &Service, id: &str, template: &str) -> Value {
    let req = StackRequest {
        template: Some(json!(template)),
        ..StackRequest::default()
    };
    svc.update_stack(&cx(), id, req)
        .await
        .expect("update accepted");
    wait(svc, id).await
}

/// The group's child stack resources: name → (physical id, status).
async fn members(svc: &Service, stack: &str) -> Map<String, Value> {
    let rs = resources(svc, stack).await;
    let child = rs["group"]["physical_resource_id"]
        .as_str()
        .unwrap()
        .to_string();
    resources(svc, &child)
        .await
        .into_iter()
        .map(|(k, v)| (k, json!([v["physical_resource_id"], v["resource_status"]])))
        .collect()
}

/// Member names in numeric order.
fn names(members: &Map<String, Value>) -> Vec<String> {
    let mut names: Vec<String> = members.keys().cloned().collect();
    names.sort_by_key(|n| n.parse::<u64>().unwrap_or(u64::MAX));
    names
}

async fn out(svc: &Service, id: &str, key: &str) -> Value {
    output(svc, id, key).await["output_value"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_are_numbered_with_index_substituted() {
    let svc = service();
    let stack = create(&svc, request("grp", &group(3, ""))).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let id = stack["id"].as_str().unwrap();
    let m = members(&svc, id).await;
    assert_eq!(names(&m), vec!["0", "1", "2"]);
    assert_eq!(
        out(&svc, id, "values").await,
        json!(["member-0", "member-1", "member-2"])
    );
    assert_eq!(out(&svc, id, "second_value").await, json!("member-1"));
    let refs = out(&svc, id, "refs").await;
    assert_eq!(refs.as_array().unwrap().len(), 3);
    assert_eq!(out(&svc, id, "first").await, refs[0]);
    assert_eq!(
        out(&svc, id, "refs_map").await,
        json!({"0": refs[0], "1": refs[1], "2": refs[2]})
    );
    assert_eq!(out(&svc, id, "removed").await, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_touches_only_the_members_that_change() {
    let svc = service();
    let stack = create(&svc, request("grpscale", &group(3, ""))).await;
    let id = stack["id"].as_str().unwrap().to_string();
    let before = members(&svc, &id).await;

    let stack = update(&svc, &id, &group(5, "")).await;
    assert_eq!(status(&stack), "UPDATE_COMPLETE", "{}", reason(&stack));
    let grown = members(&svc, &id).await;
    assert_eq!(grown.len(), 5);
    for name in ["0", "1", "2"] {
        // Same physical resource, never updated.
        assert_eq!(grown[name], before[name], "member {name} was touched");
    }
    assert_eq!(grown["4"][1], json!("CREATE_COMPLETE"));

    let stack = update(&svc, &id, &group(2, "")).await;
    assert_eq!(status(&stack), "UPDATE_COMPLETE", "{}", reason(&stack));
    let shrunk = members(&svc, &id).await;
    assert_eq!(names(&shrunk), vec!["0", "1"]);
    assert_eq!(shrunk["0"], before["0"]);
    assert_eq!(
        out(&svc, &id, "values").await,
        json!(["member-0", "member-1"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removal_policies_remove_named_members_and_skip_their_names() {
    let svc = service();
    let stack = create(&svc, request("grprm", &group(3, ""))).await;
    let id = stack["id"].as_str().unwrap().to_string();
    let before = members(&svc, &id).await;
    let stack = update(
        &svc,
        &id,
        &group(3, "removal_policies: [{resource_list: ['1']}]"),
    )
    .await;
    assert_eq!(status(&stack), "UPDATE_COMPLETE", "{}", reason(&stack));
    let after = members(&svc, &id).await;
    // Heat keeps the count: "1" goes, "3" is created in its place.
    assert_eq!(names(&after), vec!["0", "2", "3"]);
    assert_eq!(after["2"], before["2"]);
    assert_eq!(out(&svc, &id, "removed").await, json!(["1"]));
    assert_eq!(
        out(&svc, &id, "values").await,
        json!(["member-0", "member-2", "member-3"])
    );

    // Append mode keeps "1" removed when another member is removed by its reference id.
    let ref2 = after["2"][0].as_str().unwrap().to_string();
    let extra = format!("removal_policies: [{{resource_list: ['{ref2}']}}]");
    let stack = update(&svc, &id, &group(3, &extra)).await;
    assert_eq!(status(&stack), "UPDATE_COMPLETE", "{}", reason(&stack));
    let after = members(&svc, &id).await;
    assert_eq!(names(&after), vec!["0", "3", "4"]);
    assert_eq!(out(&svc, &id, "removed").await, json!(["1", "2"]));

    // Update mode starts over from the new list (empty): the removed names come back.
    let stack = update(&svc, &id, &group(3, "removal_policies_mode: update")).await;
    assert_eq!(status(&stack), "UPDATE_COMPLETE", "{}", reason(&stack));
    let after = members(&svc, &id).await;
    assert_eq!(names(&after), vec!["0", "1", "2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_index_var_and_zero_count() {
    let svc = service();
    let template = r#"
heat_template_version: 2016-10-14
resources:
  group:
    type: OS::Heat::ResourceGroup
    properties:
      count: 2
      index_var: __n__
      resource_def:
        type: OS::Heat::Value
        properties: {value: "x-__n__-%index%"}
  empty:
    type: OS::Heat::ResourceGroup
    properties:
      count: 0
      resource_def: {type: OS::Heat::None}
outputs:
  values: {value: {get_attr: [group, value]}}
  none: {value: {get_attr: [empty, refs]}}
"#;
    let stack = create(&svc, request("grpidx", template)).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let id = stack["id"].as_str().unwrap();
    assert_eq!(
        out(&svc, id, "values").await,
        json!(["x-0-%index%", "x-1-%index%"])
    );
    assert_eq!(out(&svc, id, "none").await, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_member_fails_the_group() {
    let svc = service();
    let template = r#"
heat_template_version: 2016-10-14
resources:
  group:
    type: OS::Heat::ResourceGroup
    properties:
      count: 2
      resource_def: {type: OS::Heat::TestResource, properties: {fail: true}}
"#;
    let stack = create(&svc, request("grpfail", template)).await;
    assert_eq!(status(&stack), "CREATE_FAILED");
    assert!(
        reason(&stack).starts_with("Resource CREATE failed: "),
        "{}",
        reason(&stack)
    );
    assert!(
        reason(&stack).contains("Test Resource failed"),
        "{}",
        reason(&stack)
    );
}

/// The issue's benchmark: 1,000 RandomString members, scaled to 1,500 and back to 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_member_group_scales_up_and_down() {
    let template = |n: usize| {
        format!(
            "heat_template_version: 2016-10-14\nresources:\n  group:\n    type: OS::Heat::ResourceGroup\n    properties:\n      count: {n}\n      resource_def: {{type: OS::Heat::RandomString, properties: {{length: 8}}}}\n"
        )
    };
    let mut config = config();
    config.max_resources_per_stack = -1;
    let svc = service_on(
        std::sync::Arc::new(ember_engine::store::MemoryStore::new()),
        config,
    );
    let started = Instant::now();
    let stack = create(&svc, request("bench", &template(1000))).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let created = started.elapsed();
    let id = stack["id"].as_str().unwrap().to_string();
    let stack = update(&svc, &id, &template(1500)).await;
    assert_eq!(status(&stack), "UPDATE_COMPLETE", "{}", reason(&stack));
    let grown = started.elapsed();
    let stack = update(&svc, &id, &template(500)).await;
    assert_eq!(status(&stack), "UPDATE_COMPLETE", "{}", reason(&stack));
    let total = started.elapsed();
    assert_eq!(members(&svc, &id).await.len(), 500);
    eprintln!(
        "ResourceGroup bench: create 1000 {created:?}, +500 at {grown:?}, -1000 at {total:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_chain_creates_members_in_order() {
    let svc = service();
    let template = r#"
heat_template_version: 2016-10-14
resources:
  chain:
    type: OS::Heat::ResourceChain
    properties:
      resources: [OS::Heat::Value, OS::Heat::Value, OS::Heat::RandomString]
      resource_properties: {value: shared, length: 4}
outputs:
  values: {value: {get_attr: [chain, resource.1.value]}}
  refs: {value: {get_attr: [chain, refs]}}
"#;
    // The chain hands every member the same properties: Value takes no `length`, so the first
    // member's properties are refused, as in Heat.
    let stack = create(&svc, request("chainbad", template)).await;
    assert_eq!(status(&stack), "CREATE_FAILED");
    assert!(
        reason(&stack).contains("Unknown Property length"),
        "{}",
        reason(&stack)
    );

    let template = template
        .replace(", length: 4", "")
        .replace(", OS::Heat::RandomString", ", OS::Heat::None");
    let stack = create(&svc, request("chain", &template)).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let id = stack["id"].as_str().unwrap().to_string();
    assert_eq!(out(&svc, &id, "values").await, json!("shared"));
    assert_eq!(out(&svc, &id, "refs").await.as_array().unwrap().len(), 3);
    // Each member waited for the one before it.
    let child = resources(&svc, &id).await["chain"]["physical_resource_id"]
        .as_str()
        .unwrap()
        .to_string();
    let order: Vec<String> = events(&svc, &child)
        .await
        .into_iter()
        .filter(|(_, s, _)| s == "CREATE_COMPLETE")
        .map(|(r, _, _)| r)
        .filter(|r| r.len() == 1)
        .collect();
    assert_eq!(order, vec!["0", "1", "2"]);
}

/// The group's child stack id.
async fn child_of(svc: &Service, stack: &str) -> String {
    resources(svc, stack).await["group"]["physical_resource_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Positions (in event order) of a member's events with this status.
fn positions(events: &[(String, String, String)], member: &str, status: &str) -> Vec<usize> {
    events
        .iter()
        .enumerate()
        .filter(|(_, (name, s, _))| name == member && s == status)
        .map(|(i, _)| i)
        .collect()
}

/// Asserts that the members of each batch start only after every member of the batch before
/// finished: `action` is CREATE or UPDATE.
fn assert_batches(events: &[(String, String, String)], batches: &[&[&str]], action: &str) {
    let started = format!("{action}_IN_PROGRESS");
    let done = format!("{action}_COMPLETE");
    for pair in batches.windows(2) {
        let last_done = pair[0]
            .iter()
            .flat_map(|m| positions(events, m, &done))
            .max()
            .unwrap_or_else(|| panic!("{:?} finished: {events:?}", pair[0]));
        let first_start = pair[1]
            .iter()
            .flat_map(|m| positions(events, m, &started))
            .min()
            .unwrap_or_else(|| panic!("{:?} started: {events:?}", pair[1]));
        assert!(
            last_done < first_start,
            "{:?} started before {:?} finished: {events:?}",
            pair[1],
            pair[0]
        );
    }
}

/// How many child actions of `action` the child stack itself went through.
fn stack_actions(events: &[(String, String, String)], child_name: &str, action: &str) -> usize {
    let started = format!("{action}_IN_PROGRESS");
    events
        .iter()
        .filter(|(name, s, _)| name == child_name && *s == started)
        .count()
}

fn group_with_policy(count: usize, value: &str, policy: &str) -> String {
    format!(
        r#"
heat_template_version: 2016-10-14
resources:
  group:
    type: OS::Heat::ResourceGroup
    update_policy: {policy}
    properties:
      count: {count}
      resource_def:
        type: OS::Heat::TestResource
        properties: {{value: "{value}-%index%", action_wait_secs: {{create: 0.05, update: 0.05}}}}
outputs:
  values: {{value: {{get_attr: [group, output]}}}}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_create_creates_members_in_batches() {
    let svc = service();
    let stack = create(
        &svc,
        request(
            "batchc",
            &group_with_policy(5, "v", "{batch_create: {max_batch_size: 2}}"),
        ),
    )
    .await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let id = stack["id"].as_str().unwrap();
    let child = child_of(&svc, id).await;
    let child_name = svc.show_stack(&cx(), &child, true).await.unwrap()["stack_name"]
        .as_str()
        .unwrap()
        .to_string();
    let events = events(&svc, &child).await;
    // Batches 0-1, 2-3, 4: the first is the child's create, the others two child updates.
    assert_eq!(
        stack_actions(&events, &child_name, "CREATE"),
        1,
        "{events:?}"
    );
    assert_eq!(
        stack_actions(&events, &child_name, "UPDATE"),
        2,
        "{events:?}"
    );
    assert_batches(&events, &[&["0", "1"], &["2", "3"], &["4"]], "CREATE");
    // Each member was created once and never touched again.
    for m in ["0", "1", "2", "3", "4"] {
        assert_eq!(positions(&events, m, "CREATE_IN_PROGRESS").len(), 1);
        assert!(positions(&events, m, "UPDATE_IN_PROGRESS").is_empty());
    }
    assert_eq!(
        out(&svc, id, "values").await,
        json!(["v-0", "v-1", "v-2", "v-3", "v-4"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_batch_create_the_members_are_one_child_create() {
    let svc = service();
    let stack = create(&svc, request("nobatch", &group_with_policy(5, "v", "{}"))).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let child = child_of(&svc, stack["id"].as_str().unwrap()).await;
    let child_name = svc.show_stack(&cx(), &child, true).await.unwrap()["stack_name"]
        .as_str()
        .unwrap()
        .to_string();
    let events = events(&svc, &child).await;
    assert_eq!(
        stack_actions(&events, &child_name, "UPDATE"),
        0,
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_update_updates_members_in_batches() {
    let svc = service();
    let policy = "{rolling_update: {max_batch_size: 2, pause_time: 0}}";
    let stack = create(&svc, request("rolling", &group_with_policy(4, "a", policy))).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let id = stack["id"].as_str().unwrap().to_string();
    let child = child_of(&svc, &id).await;
    let before = events(&svc, &child).await.len();
    let updated = update(&svc, &id, &group_with_policy(4, "b", policy)).await;
    assert_eq!(status(&updated), "UPDATE_COMPLETE", "{}", reason(&updated));
    let child_name = svc.show_stack(&cx(), &child, true).await.unwrap()["stack_name"]
        .as_str()
        .unwrap()
        .to_string();
    let events: Vec<_> = events(&svc, &child).await.split_off(before);
    assert_eq!(
        stack_actions(&events, &child_name, "UPDATE"),
        2,
        "{events:?}"
    );
    assert_batches(&events, &[&["0", "1"], &["2", "3"]], "UPDATE");
    assert_eq!(
        out(&svc, &id, "values").await,
        json!(["b-0", "b-1", "b-2", "b-3"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_in_service_limits_how_many_members_update_at_once() {
    let svc = service();
    // A batch of 4 would take every member out of service; 3 must stay: one at a time.
    let policy = "{rolling_update: {max_batch_size: 4, min_in_service: 3}}";
    let stack = create(&svc, request("insvc", &group_with_policy(4, "a", policy))).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let id = stack["id"].as_str().unwrap().to_string();
    let child = child_of(&svc, &id).await;
    let before = events(&svc, &child).await.len();
    let updated = update(&svc, &id, &group_with_policy(4, "b", policy)).await;
    assert_eq!(status(&updated), "UPDATE_COMPLETE", "{}", reason(&updated));
    let events: Vec<_> = events(&svc, &child).await.split_off(before);
    assert_batches(&events, &[&["0"], &["1"], &["2"], &["3"]], "UPDATE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_attr_paths_reach_member_attributes() {
    let svc = service();
    let template = r#"
heat_template_version: 2016-10-14
resources:
  group:
    type: OS::Heat::ResourceGroup
    properties:
      count: 3
      resource_def:
        type: OS::Heat::Value
        properties: {value: {name: "m-%index%", index: "%index%"}, type: json}
  chain:
    type: OS::Heat::ResourceChain
    properties:
      resources: [OS::Heat::Value, OS::Heat::Value]
      resource_properties: {value: {k: chained}, type: json}
outputs:
  by_member: {value: {get_attr: [group, attributes, value]}}
  names: {value: {get_attr: [group, attributes, value, name]}}
  one: {value: {get_attr: [group, resource.1, value, name]}}
  dotted: {value: {get_attr: [group, resource.2.value, index]}}
  each: {value: {get_attr: [group, value, name]}}
  second_ref: {value: {get_attr: [group, refs, 1]}}
  chain_values: {value: {get_attr: [chain, attributes, value, k]}}
"#;
    let stack = create(&svc, request("paths", template)).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let id = stack["id"].as_str().unwrap();
    assert_eq!(
        out(&svc, id, "by_member").await,
        json!({"0": {"name": "m-0", "index": "0"}, "1": {"name": "m-1", "index": "1"},
               "2": {"name": "m-2", "index": "2"}})
    );
    assert_eq!(
        out(&svc, id, "names").await,
        json!({"0": "m-0", "1": "m-1", "2": "m-2"})
    );
    assert_eq!(out(&svc, id, "one").await, json!("m-1"));
    assert_eq!(out(&svc, id, "dotted").await, json!("2"));
    assert_eq!(out(&svc, id, "each").await, json!(["m-0", "m-1", "m-2"]));
    let refs = out(&svc, id, "second_ref").await;
    let members = members(&svc, id).await;
    assert_eq!(refs, members["1"][0]);
    assert_eq!(
        out(&svc, id, "chain_values").await,
        json!({"0": "chained", "1": "chained"})
    );
}
