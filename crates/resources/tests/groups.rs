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
