//! Environment hooks (heat-tempest-plugin functional/test_hooks.py): a hooked resource pauses
//! with Heat's event reason until `{"unset_hook": ...}` clears it; `hook poll` lists it.

mod common;

use common::*;
use ember_engine::Service;
use serde_json::{json, Value};
use std::time::Duration;

const TEMPLATE: &str = r#"
heat_template_version: 2016-10-14
resources:
  a: {type: OS::Heat::None}
  b: {type: OS::Heat::None}
  c: {type: OS::Heat::None, depends_on: b}
"#;

/// Waits until `hook poll` lists `resource` with `hook`.
async fn paused(svc: &Service, id: &str, resource: &str, hook: &str) -> Value {
    for _ in 0..500 {
        let pending = svc.hook_poll(&cx(), id, 0).await.unwrap();
        if let Some(row) = pending
            .iter()
            .find(|r| r["resource_name"] == json!(resource) && r["hook_type"] == json!(hook))
        {
            return row.clone();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{resource} never paused on {hook}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pre_create_pauses_until_cleared() {
    let svc = service();
    let mut req = request("hooked", TEMPLATE);
    req.environment =
        Some(json!({"resource_registry": {"resources": {"b": {"hooks": "pre-create"}}}}));
    let created = svc.create_stack(&cx(), req).await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    let row = paused(&svc, &id, "b", "pre-create").await;
    assert_eq!(
        row["resource_status_reason"],
        json!("CREATE paused until Hook pre-create is cleared")
    );
    // The rest of the stack goes on where it does not depend on b.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let rs = resources(&svc, &id).await;
    assert_eq!(rs["a"]["resource_status"], json!("CREATE_COMPLETE"));
    assert_eq!(rs["b"]["resource_status"], json!("INIT_COMPLETE"));
    assert!(rs
        .get("c")
        .is_none_or(|c| c["resource_status"] == json!("INIT_COMPLETE")));
    let show = svc.show_stack(&cx(), &id, false).await.unwrap();
    assert_eq!(status(&show), "CREATE_IN_PROGRESS");

    // Clearing a hook that is not pending is refused.
    let err = svc
        .signal_resource(&cx(), &id, "b", json!({"unset_hook": "pre-update"}))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "The \"pre-update\" hook is not defined on OS::Heat::None \"b\""
    );
    let err = svc
        .signal_resource(&cx(), &id, "b", json!({"unset_hook": "pre-nothing"}))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("Invalid hook type \"pre-nothing\""),
        "{err}"
    );

    svc.signal_resource(&cx(), &id, "b", json!({"unset_hook": "pre-create"}))
        .await
        .unwrap();
    let stack = wait(&svc, &id).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    assert!(svc.hook_poll(&cx(), &id, 0).await.unwrap().is_empty());
    let evs = events(&svc, &id).await;
    let b: Vec<(String, String)> = evs
        .into_iter()
        .filter(|(r, _, _)| r == "b")
        .map(|(_, s, r)| (s, r))
        .collect();
    assert_eq!(
        b,
        vec![
            (
                "INIT_COMPLETE".into(),
                "CREATE paused until Hook pre-create is cleared".into()
            ),
            ("INIT_COMPLETE".into(), "Hook pre-create is cleared".into()),
            ("CREATE_IN_PROGRESS".into(), "state changed".into()),
            ("CREATE_COMPLETE".into(), "state changed".into()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pre_delete_hook_by_pattern() {
    let svc = service();
    let mut req = request("hookdel", TEMPLATE);
    req.environment =
        Some(json!({"resource_registry": {"resources": {"?": {"hooks": ["pre-delete"]}}}}));
    let stack = create(&svc, req).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let id = stack["id"].as_str().unwrap().to_string();
    svc.delete_stack(&cx(), &id).await.unwrap();
    // c goes first (it depends on b); a pauses alongside it.
    paused(&svc, &id, "c", "pre-delete").await;
    paused(&svc, &id, "a", "pre-delete").await;
    for r in ["a", "c"] {
        svc.signal_resource(&cx(), &id, r, json!({"unset_hook": "pre-delete"}))
            .await
            .unwrap();
    }
    paused(&svc, &id, "b", "pre-delete").await;
    svc.signal_resource(&cx(), &id, "b", json!({"unset_hook": "pre-delete"}))
        .await
        .unwrap();
    let stack = wait(&svc, &id).await;
    assert_eq!(status(&stack), "DELETE_COMPLETE", "{}", reason(&stack));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_reach_resources_of_nested_stacks() {
    let svc = service();
    let inner = "heat_template_version: 2016-10-14\nresources:\n  deep: {type: OS::Heat::None}\n";
    let outer = "heat_template_version: 2016-10-14\nresources:\n  nest: {type: inner.yaml}\n";
    let mut req = request("hooknest", outer);
    req.files.insert("inner.yaml".into(), json!(inner));
    req.environment = Some(
        json!({"resource_registry": {"resources": {"nest": {"deep": {"hooks": "pre-create"}}}}}),
    );
    let created = svc.create_stack(&cx(), req).await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    let mut row = Value::Null;
    for _ in 0..500 {
        if let Some(r) = svc.hook_poll(&cx(), &id, 1).await.unwrap().pop() {
            row = r;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(row["resource_name"], json!("deep"));
    let child = row["stack_id"].as_str().unwrap().to_string();
    svc.signal_resource(&cx(), &child, "deep", json!({"unset_hook": "pre-create"}))
        .await
        .unwrap();
    let stack = wait(&svc, &id).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
}

/// The events of one resource as `(status, reason)`.
async fn events_of(svc: &Service, id: &str, resource: &str) -> Vec<(String, String)> {
    events(svc, id)
        .await
        .into_iter()
        .filter(|(r, _, _)| r == resource)
        .map(|(_, s, r)| (s, r))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_hooks_pause_after_create_update_and_delete() {
    let svc = service();
    let mut req = request("posthooks", TEMPLATE);
    req.environment = Some(json!({"resource_registry": {"resources": {
        "b": {"hooks": ["post-create", "post-update", "post-delete"]}}}}));
    let created = svc.create_stack(&cx(), req).await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();

    // post-create: b is created, and c (which depends on b) waits for the hook.
    let row = paused(&svc, &id, "b", "post-create").await;
    assert_eq!(row["resource_status"], json!("CREATE_COMPLETE"));
    assert_eq!(
        row["resource_status_reason"],
        json!("CREATE paused until Hook post-create is cleared")
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let rs = resources(&svc, &id).await;
    assert!(rs
        .get("c")
        .is_none_or(|c| c["resource_status"] == json!("INIT_COMPLETE")));
    assert_eq!(
        status(&svc.show_stack(&cx(), &id, false).await.unwrap()),
        "CREATE_IN_PROGRESS"
    );
    svc.signal_resource(&cx(), &id, "b", json!({"unset_hook": "post-create"}))
        .await
        .unwrap();
    let stack = wait(&svc, &id).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    // The completed resource keeps its own reason once the hook is cleared.
    let rs = resources(&svc, &id).await;
    assert_eq!(rs["b"]["resource_status_reason"], json!("state changed"));
    assert_eq!(
        events_of(&svc, &id, "b").await,
        vec![
            ("CREATE_IN_PROGRESS".into(), "state changed".into()),
            ("CREATE_COMPLETE".into(), "state changed".into()),
            (
                "CREATE_COMPLETE".into(),
                "CREATE paused until Hook post-create is cleared".into()
            ),
            (
                "CREATE_COMPLETE".into(),
                "Hook post-create is cleared".into()
            ),
        ]
    );

    // post-update after an update in place (OS::Heat::Value updates in place).
    let updated = TEMPLATE.replace(
        "b: {type: OS::Heat::None}",
        "b: {type: OS::Heat::Value, properties: {value: v2}}",
    );
    let template_with_value = TEMPLATE.replace(
        "b: {type: OS::Heat::None}",
        "b: {type: OS::Heat::Value, properties: {value: v1}}",
    );
    // First move b to a Value (a type change replaces: no post-update on the replacement).
    let mut req = request("posthooks", &template_with_value);
    req.environment = Some(json!({"resource_registry": {"resources": {
        "b": {"hooks": ["post-update", "post-delete"]}}}}));
    svc.update_stack(&cx(), &id, req).await.unwrap();
    let stack = wait(&svc, &id).await;
    assert_eq!(status(&stack), "UPDATE_COMPLETE", "{}", reason(&stack));
    let mut req = request("posthooks", &updated);
    req.environment = Some(json!({"resource_registry": {"resources": {
        "b": {"hooks": ["post-update", "post-delete"]}}}}));
    svc.update_stack(&cx(), &id, req).await.unwrap();
    let row = paused(&svc, &id, "b", "post-update").await;
    assert_eq!(row["resource_status"], json!("UPDATE_COMPLETE"));
    svc.signal_resource(&cx(), &id, "b", json!({"unset_hook": "post-update"}))
        .await
        .unwrap();
    let stack = wait(&svc, &id).await;
    assert_eq!(status(&stack), "UPDATE_COMPLETE", "{}", reason(&stack));

    // post-delete: b is deleted, then paused; the stack delete waits for the hook.
    svc.delete_stack(&cx(), &id).await.unwrap();
    let row = paused(&svc, &id, "b", "post-delete").await;
    assert_eq!(row["resource_status"], json!("DELETE_COMPLETE"));
    svc.signal_resource(&cx(), &id, "b", json!({"unset_hook": "post-delete"}))
        .await
        .unwrap();
    let stack = wait(&svc, &id).await;
    assert_eq!(status(&stack), "DELETE_COMPLETE", "{}", reason(&stack));
}
