//! Crash and restart: a child process (this test binary re-executed) starts a create of slow
//! resources on a SQLite file and is killed mid-create; a new engine on the same file resumes
//! the create, and every resource is created exactly once.

mod common;

use common::*;
use ember_engine::store::StateStore;
use ember_engine::store_adapter::SqlStore;
use ember_engine::{EngineConfig, Service};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const DB_VAR: &str = "EMBER_RESTART_TEST_DB";
const LEASE: Duration = Duration::from_millis(1000);

const SLOW: &str = r#"
heat_template_version: 2018-08-31
resources:
  a: {type: OS::Heat::TestResource, properties: {value: a, wait_secs: 2}}
  b: {type: OS::Heat::TestResource, properties: {value: b, wait_secs: 2}}
  c: {type: OS::Heat::TestResource, properties: {value: c, wait_secs: 2}}
  after_a:
    type: OS::Heat::TestResource
    properties: {value: {get_attr: [a, output]}, wait_secs: 1}
"#;

async fn open(path: &str) -> Arc<dyn StateStore> {
    let key = ember_store::EncryptionKey::from_bytes(&[7u8; 32]).expect("key");
    Arc::new(
        SqlStore::open(&format!("sqlite://{path}?mode=rwc"), &key, LEASE)
            .await
            .expect("store opens"),
    )
}

fn engine_config(id: &str) -> EngineConfig {
    EngineConfig {
        engine_id: id.into(),
        heartbeat_interval: Duration::from_millis(200),
        ..EngineConfig::default()
    }
}

/// The child: starts the create and keeps running until killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by crash_mid_create_then_restart_completes_once in a child process"]
async fn child_starts_a_create() {
    let Ok(path) = std::env::var(DB_VAR) else {
        return;
    };
    let svc = service_on(open(&path).await, engine_config("child-engine"));
    svc.start().await.expect("engine starts");
    svc.create_stack(&cx(), request("survivor", SLOW))
        .await
        .expect("create accepted");
    tokio::time::sleep(Duration::from_secs(120)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_mid_create_then_restart_completes_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ember.db").to_string_lossy().to_string();
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "child_starts_a_create",
            "--ignored",
            "--nocapture",
        ])
        .env(DB_VAR, &path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("child starts");

    // Wait until the child has stored the physical ids of the first wave, mid-wait.
    let store = open(&path).await;
    let started = Instant::now();
    let stack_id = loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "child never started the create"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        let Ok(stacks) = store.stacks(None, false).await else {
            continue;
        };
        let Some(stack) = stacks.first() else {
            continue;
        };
        let rows = store.resources(&stack.id).await.unwrap_or_default();
        let waiting = rows
            .iter()
            .filter(|r| r.physical_id.is_some() && r.status.as_str() == "IN_PROGRESS")
            .count();
        if waiting == 3 {
            break stack.id.clone();
        }
    };
    child.kill().expect("kill child");
    child.wait().expect("child reaped");
    let before: Vec<(String, Option<String>)> = store
        .resources(&stack_id)
        .await
        .expect("rows")
        .into_iter()
        .map(|r| (r.name, r.physical_id))
        .collect();

    // A new engine on the same file: the dead engine's lock lease runs out, then it resumes.
    tokio::time::sleep(LEASE + Duration::from_millis(300)).await;
    let svc: Service = service_on(store.clone(), engine_config("second-engine"));
    let resumed = svc.start().await.expect("engine starts");
    assert_eq!(resumed, vec![stack_id.clone()]);
    let stack = wait(&svc, &stack_id).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{stack}");

    let rows = store.resources(&stack_id).await.expect("rows");
    assert_eq!(rows.len(), 4, "every resource exists once");
    for (name, physical_id) in before {
        let row = rows.iter().find(|r| r.name == name).expect("row kept");
        assert_eq!(row.physical_id, physical_id, "{name} was not created again");
    }
    let evs = events(&svc, &stack_id).await;
    for name in ["a", "b", "c", "after_a"] {
        let creates = evs
            .iter()
            .filter(|(n, s, _)| n == name && s == "CREATE_IN_PROGRESS")
            .count();
        assert_eq!(creates, 1, "{name} started once: {evs:?}");
    }
    assert_eq!(output_value(&svc, &stack_id).await, "a");
}

async fn output_value(svc: &Service, id: &str) -> String {
    let rows = svc
        .list_resources(&cx(), id, false)
        .await
        .expect("resources");
    let after = rows
        .iter()
        .find(|r| r["resource_name"] == "after_a")
        .expect("after_a");
    let shown = svc
        .show_resource(&cx(), id, "after_a", &[])
        .await
        .expect("show");
    assert_eq!(after["resource_status"], "CREATE_COMPLETE");
    shown["attributes"]["output"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn hidden_parameter_values_are_not_stored_in_the_clear() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ember.db").to_string_lossy().to_string();
    let svc = service_on(open(&path).await, engine_config("hidden-engine"));
    let tpl = "heat_template_version: 2018-08-31\nparameters:\n  secret: {type: string, hidden: true}\n  from_env: {type: string, hidden: true}\n  from_defaults: {type: string, hidden: true}\nresources:\n  r: {type: OS::Heat::None}\noutputs:\n  joined: {value: {list_join: ['+', [{get_param: from_env}, {get_param: from_defaults}]]}}\n";
    let req = ember_engine::StackRequest {
        parameters: params(serde_json::json!({"secret": "plain-text-canary"})),
        environment: Some(serde_json::json!({
            "parameters": {"from_env": "env-canary"},
            "parameter_defaults": {"from_defaults": "defaults-canary"},
        })),
        ..request("hidden", tpl)
    };
    let stack = create(&svc, req).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE");
    for name in ["secret", "from_env", "from_defaults"] {
        assert_eq!(stack["parameters"][name], "******", "{name}");
    }
    let id = stack["id"].as_str().expect("id").to_string();
    let env = svc.get_environment(&cx(), &id).await.expect("environment");
    assert_eq!(env["parameters"]["secret"], "******");
    assert_eq!(env["parameters"]["from_env"], "******");
    assert_eq!(env["parameter_defaults"]["from_defaults"], "******");
    let evs = svc
        .list_events(&cx(), &id, &Default::default())
        .await
        .expect("events");
    // Outputs show what the template computes from the values (as Heat's do); the rest of
    // stack show, environment show and events never show them.
    let mut shown_stack = stack.clone();
    if let Some(fields) = shown_stack.as_object_mut() {
        fields.remove("outputs");
    }
    let shown = format!("{shown_stack}{env}{evs:?}");
    // The values still reach the template after a round trip through the store.
    let restarted = service_on(open(&path).await, engine_config("hidden-engine-2"));
    let joined = restarted
        .show_output(&cx(), &id, "joined")
        .await
        .expect("output");
    assert_eq!(joined["output_value"], "env-canary+defaults-canary");
    let mut bytes = std::fs::read(&path).expect("db file");
    bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
    let text = String::from_utf8_lossy(&bytes);
    for canary in ["plain-text-canary", "env-canary", "defaults-canary"] {
        assert!(!text.contains(canary), "{canary} stored in the clear");
        assert!(!shown.contains(canary), "{canary} shown");
    }
}
