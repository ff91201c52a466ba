//! The store's behaviour, one body per test run on both backends.

mod backends;

use ember_store::*;
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;

fn definition() -> StackDefinition {
    StackDefinition {
        template: "heat_template_version: 2021-04-16\nresources: {}\n".into(),
        environment: json!({"parameters": {}}),
        files: [("a.yaml".to_string(), "x: 1".to_string())].into(),
        parameters: serde_json::Map::from_iter([("flavor".to_string(), json!("m1.small"))]),
        hidden_parameters: Vec::new(),
    }
}

fn stack(name: &str, tenant: &str) -> StackRecord {
    StackRecord::new(name, tenant, definition())
}

async fn stack_round_trip(store: Store) {
    let mut s = stack("web", "t1");
    s.tags = vec!["a".into(), "b".into()];
    s.timeout_mins = Some(60);
    s.engine_data = json!({"cancel": null});
    s.previous = Some(definition());
    store.create_stack(&s).await.unwrap();
    assert_eq!(store.stack(s.id).await.unwrap(), s);
    assert_eq!(store.find_stack("t1", "web").await.unwrap(), s);
    assert_eq!(store.find_stack("t1", &s.id.to_string()).await.unwrap(), s);
    assert!(matches!(
        store.find_stack("t2", "web").await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.stack(Uuid::new_v4()).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn resources_and_events_in_one_batch(store: Store) {
    let s = stack("batch", "t1");
    store.create_stack(&s).await.unwrap();
    let mut r = ResourceRecord::new(s.id, "server", "OS::Heat::None");
    r.data.insert("value".into(), "generated-secret".into());
    r.requires = vec!["net".into()];
    let mut writes = vec![
        Write::InsertResource(Box::new(r.clone())),
        Write::InsertEvent(Box::new(EventRecord::new(
            s.id,
            "server",
            "CREATE",
            "IN_PROGRESS",
        ))),
        Write::InsertEvent(Box::new(EventRecord::new(
            s.id, "server", "CREATE", "COMPLETE",
        ))),
    ];
    store.apply(&mut writes).await.unwrap();
    let seqs: Vec<i64> = writes
        .iter()
        .filter_map(|w| {
            if let Write::InsertEvent(e) = w {
                Some(e.seq)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(seqs[1], seqs[0] + 1);
    assert_eq!(store.resources(s.id).await.unwrap(), vec![r.clone()]);
    let events = store
        .events(&EventQuery {
            stack_id: s.id,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        events.iter().map(|e| e.status.as_str()).collect::<Vec<_>>(),
        ["IN_PROGRESS", "COMPLETE"]
    );

    r.status = "COMPLETE".into();
    let mut moved = r.clone();
    store.update_resource(&mut moved).await.unwrap();
    assert_eq!(moved.version, 1);
    // The copy still at version 0 is refused.
    assert!(matches!(
        store.update_resource(&mut r).await,
        Err(StoreError::Conflict(Conflict::VersionMismatch { .. }))
    ));
}

async fn lock_conflict_and_expiry(store: Store) {
    let s = stack("locked", "t1");
    store.create_stack(&s).await.unwrap();
    let lock = store
        .acquire_stack_lock(s.id, "engine-a", Duration::from_secs(60))
        .await
        .unwrap();
    match store
        .acquire_stack_lock(s.id, "engine-b", Duration::from_secs(60))
        .await
    {
        Err(StoreError::Conflict(Conflict::StackLocked { engine_id, .. })) => {
            assert_eq!(engine_id, "engine-a")
        }
        other => panic!("expected a lock conflict, got {other:?}"),
    }
    store.release_stack_lock(&lock).await.unwrap();
    store
        .acquire_stack_lock(s.id, "engine-b", Duration::from_millis(1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let stolen = store
        .acquire_stack_lock(s.id, "engine-c", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(stolen.engine_id, "engine-c");
}

on_both_backends!(
    stack_round_trip,
    resources_and_events_in_one_batch,
    lock_conflict_and_expiry
);
