//! The store's behaviour, one body per test run on both backends.

mod backends;
mod inputs;
mod listing;

use backends::Db;
use chrono::Duration as Span;
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

fn secret_definition(secret: &str) -> StackDefinition {
    let mut d = definition();
    d.parameters.insert("db_password".into(), json!(secret));
    d.hidden_parameters = vec!["db_password".into()];
    d
}

fn stack(name: &str, tenant: &str) -> StackRecord {
    StackRecord::new(name, tenant, definition())
}

fn is_not_found<T: std::fmt::Debug>(r: Result<T>) -> bool {
    matches!(r, Err(StoreError::NotFound { .. }))
}

fn names(stacks: &[StackRecord]) -> Vec<&str> {
    stacks.iter().map(|s| s.name.as_str()).collect()
}

async fn stack_round_trip(store: Db) {
    let mut s = stack("web", "t1");
    s.tags = vec!["a".into(), "b".into()];
    s.timeout_mins = Some(60);
    s.engine_data = json!({"cancel": null});
    s.previous = Some(definition());
    s.user_id = "u1".into();
    s.username = "demo".into();
    s.current_traversal = Some("trav-1".into());
    store.create_stack(&s).await.unwrap();
    assert_eq!(store.stack(s.id).await.unwrap(), s);
    assert_eq!(store.find_stack("t1", "web").await.unwrap(), s);
    assert_eq!(store.find_stack("t1", &s.id.to_string()).await.unwrap(), s);
    assert!(is_not_found(store.find_stack("t2", "web").await));
    assert!(is_not_found(
        store.find_stack("t2", &s.id.to_string()).await
    ));
    assert!(is_not_found(store.stack(Uuid::new_v4()).await));
}

async fn stack_names_are_unique_among_live_stacks(store: Db) {
    let mut first = stack("app", "t1");
    store.create_stack(&first).await.unwrap();
    match store.create_stack(&stack("app", "t1")).await {
        Err(StoreError::Conflict(Conflict::StackNameTaken(name))) => assert_eq!(name, "app"),
        other => panic!("expected the name to be taken, got {other:?}"),
    }
    // Another tenant may use the name.
    store.create_stack(&stack("app", "t2")).await.unwrap();
    // Soft delete frees the name; the deleted stack stays readable by id.
    first.deleted_at = Some(now());
    first.action = "DELETE".into();
    store.update_stack(&mut first).await.unwrap();
    let second = stack("app", "t1");
    store.create_stack(&second).await.unwrap();
    assert_eq!(store.find_stack("t1", "app").await.unwrap().id, second.id);
    assert_eq!(
        store
            .find_stack("t1", &first.id.to_string())
            .await
            .unwrap()
            .deleted_at,
        first.deleted_at
    );
    let live = StackQuery {
        tenant: Some("t1".into()),
        ..Default::default()
    };
    assert_eq!(store.list_stacks(&live).await.unwrap().len(), 1);
    let all = StackQuery {
        show_deleted: true,
        ..live
    };
    assert_eq!(store.list_stacks(&all).await.unwrap().len(), 2);
    assert_eq!(store.count_stacks(&all).await.unwrap(), 2);
    // Renaming onto a live name is refused too.
    let mut other = stack("other", "t1");
    store.create_stack(&other).await.unwrap();
    other.name = "app".into();
    assert!(matches!(
        store.update_stack(&mut other).await,
        Err(StoreError::Conflict(Conflict::StackNameTaken(_)))
    ));
}

async fn purge_removes_everything_of_a_stack(store: Db) {
    let s = stack("gone", "t1");
    store.create_stack(&s).await.unwrap();
    let r = ResourceRecord::new(s.id, "r", "OS::Heat::None");
    let mut writes = vec![
        Write::InsertResource(Box::new(r.clone())),
        Write::InsertEvent(Box::new(EventRecord::new(s.id, "r", "CREATE", "COMPLETE"))),
    ];
    store.apply(&mut writes).await.unwrap();
    store
        .acquire_stack_lock(s.id, "e", Duration::from_secs(60))
        .await
        .unwrap();
    // Nested stacks, a soft-deleted one included, go with their owner.
    let mut child = stack("gone-child", "t1");
    child.owner_id = Some(s.id);
    child.deleted_at = Some(now());
    store.create_stack(&child).await.unwrap();
    let mut grandchild = stack("gone-grandchild", "t1");
    grandchild.owner_id = Some(child.id);
    store.create_stack(&grandchild).await.unwrap();
    store
        .acquire_stack_lock(grandchild.id, "e", Duration::from_secs(60))
        .await
        .unwrap();
    let survivor = stack("stays", "t1");
    store.create_stack(&survivor).await.unwrap();
    store.purge_stack(s.id).await.unwrap();
    assert!(is_not_found(store.stack(child.id).await));
    assert!(is_not_found(store.stack(grandchild.id).await));
    assert!(store.stack_lock(grandchild.id).await.unwrap().is_none());
    assert_eq!(store.stack(survivor.id).await.unwrap(), survivor);
    assert!(is_not_found(store.stack(s.id).await));
    assert!(is_not_found(store.resource(r.id).await));
    assert!(store.stack_lock(s.id).await.unwrap().is_none());
    assert!(is_not_found(store.purge_stack(s.id).await));
}

async fn hidden_parameters_are_encrypted_at_rest(store: Db) {
    let mut s = StackRecord::new("secret", "t1", secret_definition("hunter2-plaintext"));
    s.previous = Some(secret_definition("older-plaintext"));
    store.create_stack(&s).await.unwrap();
    let read = store.stack(s.id).await.unwrap();
    assert_eq!(
        read.definition.parameters["db_password"],
        json!("hunter2-plaintext")
    );
    assert_eq!(read.definition.hidden_parameters, ["db_password"]);
    assert_eq!(
        read.previous.as_ref().unwrap().parameters["db_password"],
        json!("older-plaintext")
    );
    assert_eq!(read, s);
    let id = s.id.to_string();
    for column in ["parameters", "hidden_parameters", "previous"] {
        let raw = store
            .raw_text(&format!("SELECT {column} FROM stacks WHERE id = $1"), &id)
            .await;
        assert!(
            !raw.contains("plaintext"),
            "{column} holds a secret in the clear: {raw}"
        );
    }
    assert!(store
        .raw_text("SELECT parameters FROM stacks WHERE id = $1", &id)
        .await
        .contains("m1.small"));
    // Debug output (what logs would show) masks hidden values.
    let shown = format!("{read:?}");
    assert!(
        !shown.contains("plaintext") && shown.contains("******"),
        "{shown}"
    );
    // Another key cannot read the stack.
    let other = Store::open(&store.url, &EncryptionKey::from_bytes(&[1; 32]).unwrap())
        .await
        .unwrap();
    assert!(matches!(
        other.stack(s.id).await,
        Err(StoreError::Corrupt(_))
    ));
    other.close().await;
}

/// The trust of a stack's deferred work is sealed like hidden parameters: bound to its row,
/// masked in `Debug`; a store made before the column existed gains it on open.
async fn trust_ids_are_encrypted_at_rest_and_migrated_in(store: Db) {
    let older = stack("older", "t1");
    store.create_stack(&older).await.unwrap();
    let mut s = stack("trusted", "t1");
    s.trust_id = Some(TrustId::new("trust-plaintext-0123"));
    store.create_stack(&s).await.unwrap();
    let read = store.stack(s.id).await.unwrap();
    assert_eq!(
        read.trust_id.as_ref().map(TrustId::as_str),
        Some("trust-plaintext-0123")
    );
    assert_eq!(store.stack(older.id).await.unwrap().trust_id, None);
    let raw = store
        .raw_text(
            "SELECT trust_id FROM stacks WHERE id = $1",
            &s.id.to_string(),
        )
        .await;
    assert!(!raw.contains("plaintext") && !raw.is_empty(), "{raw}");
    let shown = format!("{read:?}");
    assert!(!shown.contains("plaintext"), "{shown}");
    // An update keeps it (the row is rewritten and sealed again).
    let mut updated = read.clone();
    updated.status_reason = "moved on".into();
    store.update_stack(&mut updated).await.unwrap();
    assert_eq!(store.stack(s.id).await.unwrap().trust_id, s.trust_id);
    // Sealed for its row: copied onto another stack it does not open.
    let mut raw_conn = store.raw().await;
    sqlx::query("UPDATE stacks SET trust_id = $1 WHERE id = $2")
        .bind(&raw)
        .bind(older.id.to_string())
        .execute(&mut raw_conn)
        .await
        .unwrap();
    assert!(matches!(
        store.stack(older.id).await,
        Err(StoreError::Corrupt(_))
    ));
    // A store at schema version 1 (no trust column): opening it adds the column.
    sqlx::query("DELETE FROM stacks WHERE id = $1")
        .bind(older.id.to_string())
        .execute(&mut raw_conn)
        .await
        .unwrap();
    sqlx::query("ALTER TABLE stacks DROP COLUMN trust_id")
        .execute(&mut raw_conn)
        .await
        .unwrap();
    sqlx::query("DELETE FROM ember_migrations WHERE version > 1")
        .execute(&mut raw_conn)
        .await
        .unwrap();
    drop(raw_conn);
    let reopened = Store::open(&store.url, &backends::key()).await.unwrap();
    let kept = reopened.stack(s.id).await.unwrap();
    assert_eq!((kept.name.as_str(), kept.trust_id), ("trusted", None));
    reopened.close().await;
}

async fn resource_data_is_encrypted_at_rest(store: Db) {
    let s = stack("data", "t1");
    store.create_stack(&s).await.unwrap();
    let mut r = ResourceRecord::new(s.id, "password", "OS::Heat::RandomString");
    r.data.insert("value".into(), "generated-plaintext".into());
    store.create_resource(&r).await.unwrap();
    assert_eq!(
        store.resource(r.id).await.unwrap().data["value"],
        "generated-plaintext"
    );
    let raw = store
        .raw_text(
            "SELECT data FROM resources WHERE id = $1",
            &r.id.to_string(),
        )
        .await;
    assert!(!raw.contains("plaintext"), "{raw}");
    assert!(!format!("{r:?}").contains("plaintext"));
}

async fn resources_round_trip_and_lookups(store: Db) {
    let s = stack("res", "t1");
    store.create_stack(&s).await.unwrap();
    let mut old = ResourceRecord::new(s.id, "server", "OS::Nova::Server");
    old.physical_id = Some("phys-1".into());
    old.properties = json!({"flavor": "m1.small"});
    old.attributes = json!({"first_address": "10.0.0.5"});
    old.metadata = json!({"k": "v"});
    old.requires = vec!["port".into()];
    old.engine_id = Some("engine-a".into());
    old.engine_data = json!({"short_id": "abcdef123456"});
    old.updated_at = Some(now());
    let mut new = ResourceRecord::new(s.id, "server", "OS::Nova::Server");
    new.replaces = Some(old.id);
    old.replaced_by = Some(new.id);
    old.current = false;
    let mut writes = vec![
        Write::InsertResource(Box::new(old.clone())),
        Write::InsertResource(Box::new(new.clone())),
    ];
    store.apply(&mut writes).await.unwrap();
    assert_eq!(store.resource(old.id).await.unwrap(), old);
    assert_eq!(store.resources(s.id).await.unwrap().len(), 2);
    assert_eq!(store.current_resource(s.id, "server").await.unwrap(), new);
    assert!(is_not_found(store.current_resource(s.id, "port").await));
    assert_eq!(
        store.resources_by_physical_id("phys-1").await.unwrap(),
        vec![old.clone()]
    );
    store
        .apply(&mut [Write::DeleteResource { id: old.id }])
        .await
        .unwrap();
    assert_eq!(store.resources(s.id).await.unwrap(), vec![new]);
    assert!(is_not_found(
        store
            .apply(&mut [Write::DeleteResource { id: old.id }])
            .await
    ));
}

async fn batch_assigns_versions_and_sequences(store: Db) {
    let mut s = stack("batch", "t1");
    store.create_stack(&s).await.unwrap();
    let mut r = ResourceRecord::new(s.id, "server", "OS::Heat::None");
    store.create_resource(&r).await.unwrap();
    r.status = "COMPLETE".into();
    s.status = "COMPLETE".into();
    let mut writes = vec![
        Write::UpdateResource(Box::new(r.clone())),
        Write::InsertEvent(Box::new(EventRecord::new(
            s.id,
            "server",
            "CREATE",
            "IN_PROGRESS",
        ))),
        Write::InsertEvent(Box::new(EventRecord::new(
            s.id, "server", "CREATE", "COMPLETE",
        ))),
        Write::UpdateStack(Box::new(s.clone())),
    ];
    store.apply(&mut writes).await.unwrap();
    let [Write::UpdateResource(r1), Write::InsertEvent(e1), Write::InsertEvent(e2), Write::UpdateStack(s1)] =
        &writes[..]
    else {
        panic!("writes reordered")
    };
    assert_eq!((r1.version, s1.version), (1, 1));
    assert_eq!(e2.seq, e1.seq + 1);
    assert_eq!(store.resource(r.id).await.unwrap(), **r1);
    assert_eq!(store.stack(s.id).await.unwrap(), **s1);
    // Sequences keep increasing across batches.
    let mut later = [Write::InsertEvent(Box::new(EventRecord::new(
        s.id, "x", "CREATE", "COMPLETE",
    )))];
    store.apply(&mut later).await.unwrap();
    let Write::InsertEvent(e3) = &later[0] else {
        unreachable!()
    };
    assert!(e3.seq > e2.seq);
}

async fn batched_updates_of_many_resources(store: Db) {
    let s = stack("many", "t1");
    store.create_stack(&s).await.unwrap();
    let rows: Vec<ResourceRecord> = (0..20)
        .map(|i| ResourceRecord::new(s.id, format!("r{i}"), "OS::Heat::None"))
        .collect();
    let mut inserts: Vec<Write> = rows
        .iter()
        .map(|r| Write::InsertResource(Box::new(r.clone())))
        .collect();
    store.apply(&mut inserts).await.unwrap();
    let versions = |writes: &[Write]| -> Vec<i64> {
        writes
            .iter()
            .filter_map(|w| {
                if let Write::UpdateResource(r) = w {
                    Some(r.version)
                } else {
                    None
                }
            })
            .collect()
    };
    // Every row in one batch (several multi-row statements), twice for r0.
    let mut updates: Vec<Write> = rows
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.status = "COMPLETE".into();
            r.physical_id = Some(format!("phys-{}", r.name));
            Write::UpdateResource(Box::new(r))
        })
        .collect();
    let Write::UpdateResource(first) = &updates[0] else {
        unreachable!()
    };
    let mut again = (**first).clone();
    again.version = 1;
    again.status_reason = "second write".into();
    updates.push(Write::UpdateResource(Box::new(again)));
    store.apply(&mut updates).await.unwrap();
    let mut expected = vec![1; 20];
    expected.push(2);
    assert_eq!(versions(&updates), expected);
    let stored = store.resources(s.id).await.unwrap();
    assert!(stored
        .iter()
        .all(|r| r.status == "COMPLETE" && r.physical_id == Some(format!("phys-{}", r.name))));
    let r0 = stored.iter().find(|r| r.name == "r0").unwrap();
    assert_eq!((r0.version, r0.status_reason.as_str()), (2, "second write"));
    // One stale row in the middle of a run fails the batch, naming that row.
    let mut stale_batch: Vec<Write> = stored
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.status = "FAILED".into();
            if r.name == "r13" {
                r.version = 0;
            }
            Write::UpdateResource(Box::new(r))
        })
        .collect();
    match store.apply(&mut stale_batch).await {
        Err(StoreError::Conflict(Conflict::VersionMismatch { id, .. })) => {
            assert_eq!(id, stored.iter().find(|r| r.name == "r13").unwrap().id)
        }
        other => panic!("expected a version conflict, got {other:?}"),
    }
    assert!(store
        .resources(s.id)
        .await
        .unwrap()
        .iter()
        .all(|r| r.status == "COMPLETE"));
    assert_eq!(
        versions(&stale_batch).iter().filter(|v| **v == 0).count(),
        1,
        "records left as they were"
    );
}

async fn a_failed_batch_changes_nothing(store: Db) {
    let s = stack("atomic", "t1");
    store.create_stack(&s).await.unwrap();
    let mut r = ResourceRecord::new(s.id, "a", "OS::Heat::None");
    store.create_resource(&r).await.unwrap();
    let mut stale = r.clone();
    store.update_resource(&mut r).await.unwrap();
    let added = ResourceRecord::new(s.id, "b", "OS::Heat::None");
    let mut event = EventRecord::new(s.id, "b", "CREATE", "COMPLETE");
    event.seq = -7;
    stale.status = "FAILED".into();
    let mut writes = vec![
        Write::InsertResource(Box::new(added.clone())),
        Write::InsertEvent(Box::new(event)),
        Write::UpdateResource(Box::new(stale)),
    ];
    match store.apply(&mut writes).await {
        Err(StoreError::Conflict(Conflict::VersionMismatch { id, expected, .. })) => {
            assert_eq!((id, expected), (r.id, 0))
        }
        other => panic!("expected a version conflict, got {other:?}"),
    }
    assert!(is_not_found(store.resource(added.id).await));
    assert!(store
        .events(&EventQuery {
            stack_id: s.id,
            ..Default::default()
        })
        .await
        .unwrap()
        .is_empty());
    let Write::InsertEvent(event) = &writes[1] else {
        unreachable!()
    };
    assert_eq!(
        event.seq, -7,
        "a failed batch leaves the records as they were"
    );
}

async fn optimistic_versions_refuse_stale_writers(store: Db) {
    let mut s = stack("versions", "t1");
    store.create_stack(&s).await.unwrap();
    let mut stale = s.clone();
    s.status = "IN_PROGRESS".into();
    store.update_stack(&mut s).await.unwrap();
    assert_eq!(s.version, 1);
    stale.status_reason = "late writer".into();
    assert!(matches!(
        store.update_stack(&mut stale).await,
        Err(StoreError::Conflict(Conflict::VersionMismatch {
            expected: 0,
            ..
        }))
    ));
    assert_eq!(stale.version, 0);
    assert_eq!(store.stack(s.id).await.unwrap().status, "IN_PROGRESS");
    let mut missing = stack("missing", "t1");
    assert!(is_not_found(store.update_stack(&mut missing).await));
    // Of many concurrent writers starting from one version, exactly one wins.
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.store.clone();
            let mut copy = s.clone();
            tokio::spawn(async move {
                copy.status_reason = format!("writer {i}");
                store.update_stack(&mut copy).await
            })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => wins += 1,
            Err(StoreError::Conflict(Conflict::VersionMismatch { .. })) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(wins, 1);
}

/// Stacks for the listing tests: (name, tenant, status, action, tags, owner index).
async fn seed_listing(store: &Store) -> Vec<StackRecord> {
    let specs: [(&str, &str, &str, &str, &[&str]); 6] = [
        ("alpha", "t1", "COMPLETE", "CREATE", &["web", "prod"]),
        ("bravo", "t1", "FAILED", "CREATE", &["web"]),
        ("charlie", "t1", "COMPLETE", "UPDATE", &["db", "prod"]),
        ("delta", "t1", "IN_PROGRESS", "DELETE", &[]),
        ("echo", "t2", "COMPLETE", "CREATE", &["web", "prod"]),
        ("foxtrot", "t1", "COMPLETE", "CREATE", &["prod"]),
    ];
    let base = now();
    let mut stacks = Vec::new();
    for (i, (name, tenant, status, action, tags)) in specs.into_iter().enumerate() {
        let mut s = stack(name, tenant);
        s.status = status.into();
        s.action = action.into();
        s.tags = tags.iter().map(|t| t.to_string()).collect();
        s.username = if i % 2 == 0 {
            "even".into()
        } else {
            "odd".into()
        };
        s.created_at = base + Span::seconds(i as i64);
        // Updated in reverse creation order; "charlie" never updated.
        s.updated_at = (name != "charlie").then(|| base + Span::seconds(100 - i as i64));
        store.create_stack(&s).await.unwrap();
        stacks.push(s);
    }
    // A nested stack under alpha.
    let mut nested = stack("alpha-inner", "t1");
    nested.owner_id = Some(stacks[0].id);
    nested.parent_resource = Some("inner".into());
    nested.nested_depth = 1;
    nested.created_at = base + Span::seconds(50);
    store.create_stack(&nested).await.unwrap();
    stacks.push(nested);
    stacks
}

async fn stack_list_filters(store: Db) {
    let stacks = seed_listing(&store).await;
    let t1 = |f: fn(&mut StackQuery)| {
        let mut q = StackQuery {
            tenant: Some("t1".into()),
            sort_dir: SortDir::Asc,
            ..Default::default()
        };
        f(&mut q);
        q
    };
    let list = |q: StackQuery| {
        let store = store.store.clone();
        async move { store.list_stacks(&q).await.unwrap() }
    };
    assert_eq!(
        names(&list(t1(|_| {})).await),
        ["alpha", "bravo", "charlie", "delta", "foxtrot"]
    );
    assert_eq!(
        names(
            &list(StackQuery {
                sort_dir: SortDir::Asc,
                ..Default::default()
            })
            .await
        )
        .len(),
        6
    );
    assert_eq!(
        names(&list(t1(|q| q.statuses = vec!["COMPLETE".into()])).await),
        ["alpha", "charlie", "foxtrot"]
    );
    assert_eq!(
        names(
            &list(t1(
                |q| q.statuses = vec!["FAILED".into(), "IN_PROGRESS".into()]
            ))
            .await
        ),
        ["bravo", "delta"]
    );
    assert_eq!(
        names(&list(t1(|q| q.actions = vec!["UPDATE".into()])).await),
        ["charlie"]
    );
    assert_eq!(
        names(&list(t1(|q| q.names = vec!["bravo".into(), "echo".into()])).await),
        ["bravo"]
    );
    assert_eq!(
        names(&list(t1(|q| q.usernames = vec!["odd".into()])).await),
        ["bravo", "delta", "foxtrot"]
    );
    let mut by_id = t1(|_| {});
    by_id.ids = vec![stacks[2].id, stacks[4].id];
    assert_eq!(names(&list(by_id).await), ["charlie"]);
    // Tags: all of, any of, not all of, none of.
    assert_eq!(
        names(&list(t1(|q| q.tags = vec!["web".into(), "prod".into()])).await),
        ["alpha"]
    );
    assert_eq!(
        names(&list(t1(|q| q.tags_any = vec!["db".into(), "web".into()])).await),
        ["alpha", "bravo", "charlie"]
    );
    assert_eq!(
        names(&list(t1(|q| q.not_tags = vec!["web".into(), "prod".into()])).await),
        ["bravo", "charlie", "delta", "foxtrot"]
    );
    assert_eq!(
        names(&list(t1(|q| q.not_tags_any = vec!["web".into(), "db".into()])).await),
        ["delta", "foxtrot"]
    );
    // A repeated tag counts once.
    assert_eq!(
        names(&list(t1(|q| q.tags = vec!["db".into(), "db".into()])).await),
        ["charlie"]
    );
    // Nested stacks: hidden unless asked for, or listed by owner.
    assert_eq!(list(t1(|q| q.show_nested = true)).await.len(), 6);
    let mut by_owner = t1(|_| {});
    by_owner.owner_ids = vec![stacks[0].id];
    // As in Heat, nested stacks are only listed with show_nested, even by owner.
    assert!(list(by_owner.clone()).await.is_empty());
    by_owner.show_nested = true;
    assert_eq!(names(&list(by_owner).await), ["alpha-inner"]);
    assert_eq!(
        store
            .count_stacks(&t1(|q| q.statuses = vec!["COMPLETE".into()]))
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        store
            .count_stacks(&t1(|q| q.show_nested = true))
            .await
            .unwrap(),
        6
    );
}

async fn stack_list_sorting_and_paging(store: Db) {
    seed_listing(&store).await;
    let query = |keys: Vec<StackSortKey>, dir: SortDir| StackQuery {
        tenant: Some("t1".into()),
        sort_keys: keys,
        sort_dir: dir,
        ..Default::default()
    };
    let list = |q: StackQuery| {
        let store = store.store.clone();
        async move { store.list_stacks(&q).await.unwrap() }
    };
    // Heat's default: newest first.
    assert_eq!(
        names(
            &list(StackQuery {
                tenant: Some("t1".into()),
                ..Default::default()
            })
            .await
        ),
        ["foxtrot", "delta", "charlie", "bravo", "alpha"]
    );
    assert_eq!(
        names(&list(query(vec![StackSortKey::StackName], SortDir::Desc)).await),
        ["foxtrot", "delta", "charlie", "bravo", "alpha"]
    );
    // Never-updated stacks sort as oldest.
    assert_eq!(
        names(&list(query(vec![StackSortKey::UpdatedTime], SortDir::Asc)).await),
        ["charlie", "foxtrot", "delta", "bravo", "alpha"]
    );
    let by_status_then_name = query(
        vec![StackSortKey::StackStatus, StackSortKey::StackName],
        SortDir::Asc,
    );
    let expected = ["alpha", "charlie", "foxtrot", "bravo", "delta"];
    assert_eq!(names(&list(by_status_then_name.clone()).await), expected);
    // Paging with limit and marker walks the same order, for every key and direction.
    for keys in [
        vec![StackSortKey::StackStatus, StackSortKey::StackName],
        vec![StackSortKey::CreationTime],
        vec![StackSortKey::UpdatedTime],
        vec![StackSortKey::StackStatus],
    ] {
        for dir in [SortDir::Asc, SortDir::Desc] {
            let whole = list(query(keys.clone(), dir)).await;
            let mut paged = Vec::new();
            let mut marker = None;
            loop {
                let page = list(StackQuery {
                    limit: Some(2),
                    marker,
                    ..query(keys.clone(), dir)
                })
                .await;
                assert!(page.len() <= 2);
                let Some(last) = page.last() else { break };
                marker = Some(last.id);
                paged.extend(page);
            }
            assert_eq!(names(&paged), names(&whole), "paging by {keys:?} {dir:?}");
        }
    }
    let unknown = StackQuery {
        marker: Some(Uuid::new_v4()),
        ..query(vec![], SortDir::Asc)
    };
    assert!(is_not_found(store.list_stacks(&unknown).await));
}

async fn nested_resources_and_events(store: Db) {
    let root = stack("root", "t1");
    store.create_stack(&root).await.unwrap();
    let mut chain = vec![root.clone()];
    for depth in 1..=3 {
        let mut child = stack(&format!("level{depth}"), "t1");
        child.owner_id = Some(chain[depth - 1].id);
        child.nested_depth = depth as i64;
        store.create_stack(&child).await.unwrap();
        chain.push(child);
    }
    let mut writes = Vec::new();
    for s in &chain {
        writes.push(Write::InsertResource(Box::new(ResourceRecord::new(
            s.id,
            format!("in-{}", s.name),
            "T",
        ))));
        writes.push(Write::InsertEvent(Box::new(EventRecord::new(
            s.id,
            format!("in-{}", s.name),
            "CREATE",
            "COMPLETE",
        ))));
    }
    store.apply(&mut writes).await.unwrap();
    let resource_names =
        |rs: Vec<ResourceRecord>| rs.into_iter().map(|r| r.name).collect::<Vec<_>>();
    assert_eq!(
        resource_names(store.resources(root.id).await.unwrap()),
        ["in-root"]
    );
    assert_eq!(
        resource_names(store.resources_nested(root.id, 2).await.unwrap()),
        ["in-root", "in-level1", "in-level2"]
    );
    assert_eq!(store.resources_nested(root.id, 10).await.unwrap().len(), 4);
    assert_eq!(
        names(&store.nested_stacks(root.id, 10).await.unwrap()),
        ["level1", "level2", "level3"]
    );
    assert_eq!(
        names(&store.nested_stacks(chain[1].id, 1).await.unwrap()),
        ["level2"]
    );
    let events = store
        .events(&EventQuery {
            stack_id: root.id,
            nested_depth: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        events
            .iter()
            .map(|e| e.resource_name.as_str())
            .collect::<Vec<_>>(),
        ["in-root", "in-level1"]
    );
    // A deleted nested stack drops out of the tree.
    let mut gone = chain[2].clone();
    gone.deleted_at = Some(now());
    store.update_stack(&mut gone).await.unwrap();
    assert_eq!(
        names(&store.nested_stacks(root.id, 10).await.unwrap()),
        ["level1"]
    );
}

async fn event_filters_sorting_and_paging(store: Db) {
    let s = stack("events", "t1");
    store.create_stack(&s).await.unwrap();
    let specs = [
        ("a", "OS::Heat::None", "CREATE", "IN_PROGRESS"),
        ("a", "OS::Heat::None", "CREATE", "COMPLETE"),
        ("b", "OS::Heat::Value", "CREATE", "IN_PROGRESS"),
        ("b", "OS::Heat::Value", "CREATE", "FAILED"),
        ("events", "OS::Heat::Stack", "CREATE", "FAILED"),
        ("a", "OS::Heat::None", "DELETE", "COMPLETE"),
    ];
    let mut writes: Vec<Write> = specs
        .iter()
        .map(|(name, kind, action, status)| {
            let mut e = EventRecord::new(s.id, *name, action, status);
            e.resource_type = kind.to_string();
            e.physical_id = format!("phys-{name}");
            e.reason = format!("{action} {status}");
            e.properties = json!({"p": name});
            Write::InsertEvent(Box::new(e))
        })
        .collect();
    store.apply(&mut writes).await.unwrap();
    let ids: Vec<Uuid> = writes
        .iter()
        .map(|w| {
            if let Write::InsertEvent(e) = w {
                e.id
            } else {
                unreachable!()
            }
        })
        .collect();
    let query = |f: fn(&mut EventQuery)| {
        let mut q = EventQuery {
            stack_id: s.id,
            ..Default::default()
        };
        f(&mut q);
        q
    };
    let got = |events: Vec<EventRecord>| events.into_iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(got(store.events(&query(|_| {})).await.unwrap()), ids);
    let newest_first: Vec<Uuid> = ids.iter().rev().copied().collect();
    assert_eq!(
        got(store
            .events(&query(|q| q.sort_dir = Some(SortDir::Desc)))
            .await
            .unwrap()),
        newest_first
    );
    assert_eq!(
        got(store
            .events(&query(|q| q.resource_names = vec!["b".into()]))
            .await
            .unwrap()),
        ids[2..4]
    );
    assert_eq!(
        got(store
            .events(&query(|q| q.resource_statuses = vec!["FAILED".into()]))
            .await
            .unwrap()),
        [ids[3], ids[4]]
    );
    assert_eq!(
        got(store
            .events(&query(|q| q.resource_actions = vec!["DELETE".into()]))
            .await
            .unwrap()),
        [ids[5]]
    );
    assert_eq!(
        got(store
            .events(&query(
                |q| q.resource_types = vec!["OS::Heat::Value".into(), "OS::Heat::Stack".into()]
            ))
            .await
            .unwrap()),
        ids[2..5]
    );
    let page = store
        .events(&EventQuery {
            limit: Some(2),
            marker: Some(ids[1]),
            ..query(|_| {})
        })
        .await
        .unwrap();
    assert_eq!(got(page), ids[2..4]);
    let page = store
        .events(&EventQuery {
            limit: Some(2),
            marker: Some(ids[4]),
            sort_dir: Some(SortDir::Desc),
            ..query(|_| {})
        })
        .await
        .unwrap();
    assert_eq!(got(page), [ids[3], ids[2]]);
    // By resource type, then time; paging walks the same order.
    let by_type = EventQuery {
        sort_keys: vec![EventSortKey::ResourceType],
        ..query(|_| {})
    };
    let expected = [ids[0], ids[1], ids[5], ids[4], ids[2], ids[3]];
    assert_eq!(got(store.events(&by_type).await.unwrap()), expected);
    let page = store
        .events(&EventQuery {
            limit: Some(3),
            marker: Some(ids[5]),
            ..by_type.clone()
        })
        .await
        .unwrap();
    assert_eq!(got(page), expected[3..6]);
    let newest = EventQuery {
        sort_dir: Some(SortDir::Desc),
        ..by_type
    };
    let reversed: Vec<Uuid> = expected.iter().rev().copied().collect();
    assert_eq!(got(store.events(&newest).await.unwrap()), reversed);
    assert!(is_not_found(
        store
            .events(&EventQuery {
                marker: Some(Uuid::new_v4()),
                ..query(|_| {})
            })
            .await
    ));
    let one = store.event(s.id, ids[3]).await.unwrap();
    assert_eq!(
        (one.reason.as_str(), one.physical_id.as_str()),
        ("CREATE FAILED", "phys-b")
    );
    assert_eq!(one.properties, json!({"p": "b"}));
    assert!(is_not_found(store.event(Uuid::new_v4(), ids[3]).await));
}

async fn snapshots_round_trip(store: Db) {
    let s = stack("snap", "t1");
    store.create_stack(&s).await.unwrap();
    let mut snap = SnapshotRecord {
        id: Uuid::new_v4(),
        stack_id: s.id,
        name: Some("before-upgrade".into()),
        status: "IN_PROGRESS".into(),
        status_reason: String::new(),
        data: json!({"resources": {}}),
        created_at: now(),
        version: 0,
    };
    store.create_snapshot(&snap).await.unwrap();
    let mut stale = snap.clone();
    snap.status = "COMPLETE".into();
    let mut update = [Write::UpdateSnapshot(Box::new(snap.clone()))];
    store.apply(&mut update).await.unwrap();
    assert!(matches!(
        store
            .apply(&mut [Write::UpdateSnapshot(Box::new(stale.clone()))])
            .await,
        Err(StoreError::Conflict(Conflict::VersionMismatch { .. }))
    ));
    snap.version = 1;
    assert_eq!(store.snapshot(snap.id).await.unwrap(), snap);
    assert_eq!(store.snapshots(s.id).await.unwrap(), vec![snap.clone()]);
    store
        .apply(&mut [Write::DeleteSnapshot { id: snap.id }])
        .await
        .unwrap();
    assert!(store.snapshots(s.id).await.unwrap().is_empty());
    stale.id = Uuid::new_v4();
    assert!(is_not_found(store.snapshot(stale.id).await));
}

async fn software_configs_and_deployments(store: Db) {
    let base = now();
    let mut configs = Vec::new();
    for i in 0..5 {
        let config = SoftwareConfigRecord {
            id: Uuid::new_v4(),
            name: format!("config{i}"),
            group: "script".into(),
            config: json!("#!/bin/sh\necho hi"),
            inputs: json!([{"name": "in"}]),
            outputs: json!([]),
            options: json!({}),
            tenant: if i == 4 { "t2".into() } else { "t1".into() },
            created_at: base + Span::seconds(i),
        };
        store.create_software_config(&config).await.unwrap();
        configs.push(config);
    }
    assert_eq!(
        store.software_config(configs[1].id).await.unwrap(),
        configs[1]
    );
    let page1 = store
        .list_software_configs(Some("t1"), Some(2), None)
        .await
        .unwrap();
    assert_eq!(page1, configs[0..2]);
    let page2 = store
        .list_software_configs(Some("t1"), Some(2), Some(page1[1].id))
        .await
        .unwrap();
    assert_eq!(page2, configs[2..4]);
    assert_eq!(
        store
            .list_software_configs(None, None, None)
            .await
            .unwrap()
            .len(),
        5
    );
    assert!(is_not_found(
        store
            .list_software_configs(None, None, Some(Uuid::new_v4()))
            .await
    ));

    let mut deployment = SoftwareDeploymentRecord {
        id: Uuid::new_v4(),
        config_id: configs[0].id,
        server_id: "server-1".into(),
        input_values: json!({"in": 1}),
        action: "CREATE".into(),
        status: "IN_PROGRESS".into(),
        status_reason: String::new(),
        output_values: json!({}),
        tenant: "t1".into(),
        created_at: base,
        updated_at: None,
        version: 0,
    };
    store.create_software_deployment(&deployment).await.unwrap();
    let mut other = SoftwareDeploymentRecord {
        id: Uuid::new_v4(),
        server_id: "server-2".into(),
        ..deployment.clone()
    };
    other.created_at = base + Span::seconds(1);
    store.create_software_deployment(&other).await.unwrap();
    // A config in use cannot be deleted.
    assert!(matches!(
        store.delete_software_config(configs[0].id).await,
        Err(StoreError::Conflict(Conflict::Constraint(_)))
    ));
    let mut stale = deployment.clone();
    deployment.status = "COMPLETE".into();
    deployment.output_values = json!({"result": "ok"});
    deployment.updated_at = Some(now());
    store
        .update_software_deployment(&mut deployment)
        .await
        .unwrap();
    assert_eq!(
        store.software_deployment(deployment.id).await.unwrap(),
        deployment
    );
    assert!(matches!(
        store.update_software_deployment(&mut stale).await,
        Err(StoreError::Conflict(Conflict::VersionMismatch { .. }))
    ));
    let server1 = DeploymentQuery {
        server_id: Some("server-1".into()),
        ..Default::default()
    };
    assert_eq!(
        store.list_software_deployments(&server1).await.unwrap(),
        vec![deployment.clone()]
    );
    let paged = DeploymentQuery {
        tenant: Some("t1".into()),
        marker: Some(deployment.id),
        ..Default::default()
    };
    assert_eq!(
        store.list_software_deployments(&paged).await.unwrap(),
        vec![other.clone()]
    );
    let limited = DeploymentQuery {
        limit: Some(1),
        ..Default::default()
    };
    assert_eq!(
        store.list_software_deployments(&limited).await.unwrap(),
        vec![deployment.clone()]
    );
    store
        .delete_software_deployment(deployment.id)
        .await
        .unwrap();
    store.delete_software_deployment(other.id).await.unwrap();
    store.delete_software_config(configs[0].id).await.unwrap();
    assert!(is_not_found(store.software_config(configs[0].id).await));
    assert!(is_not_found(
        store.delete_software_deployment(other.id).await
    ));
}

async fn stack_lock_conflict_release_and_expiry(store: Db) {
    let s = stack("locked", "t1");
    store.create_stack(&s).await.unwrap();
    let long = Duration::from_secs(60);
    let mut lock = store
        .acquire_stack_lock(s.id, "engine-a", long)
        .await
        .unwrap();
    for engine in ["engine-b", "engine-a"] {
        match store.acquire_stack_lock(s.id, engine, long).await {
            Err(StoreError::Conflict(Conflict::StackLocked { engine_id, .. })) => {
                assert_eq!(engine_id, "engine-a")
            }
            other => panic!("expected a lock conflict, got {other:?}"),
        }
    }
    store
        .renew_stack_lock(&mut lock, Duration::from_secs(120))
        .await
        .unwrap();
    assert_eq!(store.stack_lock(s.id).await.unwrap(), Some(lock.clone()));
    store.release_stack_lock(&lock).await.unwrap();
    assert!(store.stack_lock(s.id).await.unwrap().is_none());
    assert!(matches!(
        store.release_stack_lock(&lock).await,
        Err(StoreError::Conflict(_))
    ));
    // An expired lease is taken over, and the old holder learns it lost the lock.
    let mut short = store
        .acquire_stack_lock(s.id, "engine-b", Duration::from_millis(1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let stolen = store
        .acquire_stack_lock(s.id, "engine-c", long)
        .await
        .unwrap();
    assert_eq!(stolen.engine_id, "engine-c");
    assert!(matches!(
        store.renew_stack_lock(&mut short, long).await,
        Err(StoreError::Conflict(Conflict::StackLocked { ref engine_id, .. })) if engine_id == "engine-c"
    ));
}

async fn concurrent_lock_attempts_have_one_winner(store: Db) {
    let s = stack("race", "t1");
    store.create_stack(&s).await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.store.clone();
            tokio::spawn(async move {
                store
                    .acquire_stack_lock(s.id, &format!("engine-{i}"), Duration::from_secs(60))
                    .await
            })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => winners += 1,
            Err(StoreError::Conflict(Conflict::StackLocked { .. })) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners, 1);
}

async fn heartbeat_keeps_claims_and_recovery_takes_the_dead_ones(store: Db) {
    let alive = stack("alive", "t1");
    let dead = stack("dead", "t1");
    store.create_stack(&alive).await.unwrap();
    store.create_stack(&dead).await.unwrap();
    let short = Duration::from_millis(1);
    store.heartbeat("engine-alive", short).await.unwrap();
    store.heartbeat("engine-dead", short).await.unwrap();
    store
        .acquire_stack_lock(alive.id, "engine-alive", short)
        .await
        .unwrap();
    store
        .acquire_stack_lock(dead.id, "engine-dead", short)
        .await
        .unwrap();
    // The live engine's heartbeat extends its lock; the dead engine's lease runs out.
    store
        .heartbeat("engine-alive", Duration::from_secs(60))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let engines: Vec<String> = store
        .engines()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.engine_id)
        .collect();
    assert_eq!(engines, ["engine-alive", "engine-dead"]);
    let taken = store
        .take_expired_locks("engine-new", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        taken.iter().map(|l| l.stack_id).collect::<Vec<_>>(),
        [dead.id]
    );
    assert_eq!(
        store.stack_lock(dead.id).await.unwrap().unwrap().engine_id,
        "engine-new"
    );
    assert!(store
        .take_expired_locks("engine-other", Duration::from_secs(60))
        .await
        .unwrap()
        .is_empty());
    // A clean shutdown releases everything at once.
    store.retire_engine("engine-alive").await.unwrap();
    assert!(store.stack_lock(alive.id).await.unwrap().is_none());
    assert_eq!(store.engines().await.unwrap().len(), 1);
}

async fn work_queue_survives_a_dead_engine(store: Db) {
    let s = stack("queued", "t1");
    store.create_stack(&s).await.unwrap();
    let first = store
        .enqueue_work(Some(s.id), "stack_create", &json!({"n": 1}))
        .await
        .unwrap();
    let second = store
        .enqueue_work(None, "resource_signal", &json!({"n": 2}))
        .await
        .unwrap();
    let third = store
        .enqueue_work(Some(s.id), "stack_delete", &json!({"n": 3}))
        .await
        .unwrap();
    assert_eq!(store.work_items(Some(s.id)).await.unwrap().len(), 2);
    let claimed = store
        .claim_work("engine-a", Duration::from_millis(1000), 2)
        .await
        .unwrap();
    assert_eq!(
        claimed.iter().map(|w| w.id).collect::<Vec<_>>(),
        [first.id, second.id]
    );
    assert!(claimed
        .iter()
        .all(|w| w.claimed_by.as_deref() == Some("engine-a") && w.attempts == 1));
    let rest = store
        .claim_work("engine-b", Duration::from_secs(60), 10)
        .await
        .unwrap();
    assert_eq!(rest.iter().map(|w| w.id).collect::<Vec<_>>(), [third.id]);
    assert!(store
        .claim_work("engine-b", Duration::from_secs(60), 10)
        .await
        .unwrap()
        .is_empty());
    // engine-a dies: its claims expire and engine-b takes them over.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let retried = store
        .claim_work("engine-b", Duration::from_secs(60), 10)
        .await
        .unwrap();
    assert_eq!(
        retried
            .iter()
            .map(|w| (w.id, w.attempts))
            .collect::<Vec<_>>(),
        [(first.id, 2), (second.id, 2)]
    );
    assert_eq!(retried[0].payload, json!({"n": 1}));
    assert!(matches!(
        store.complete_work(first.id, "engine-a").await,
        Err(StoreError::Conflict(_))
    ));
    for item in [first, second, third] {
        store.complete_work(item.id, "engine-b").await.unwrap();
    }
    assert!(store.work_items(None).await.unwrap().is_empty());
}

async fn concurrent_claims_never_share_an_item(store: Db) {
    for i in 0..20 {
        store.enqueue_work(None, "signal", &json!(i)).await.unwrap();
    }
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            let store = store.store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = store
                        .claim_work(&format!("engine-{i}"), Duration::from_secs(60), 3)
                        .await
                        .unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got.into_iter().map(|w| w.id));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let distinct: std::collections::BTreeSet<_> = all.iter().collect();
    assert_eq!((all.len(), distinct.len()), (20, 20));
}

async fn reopening_migrates_once_and_keeps_data(store: Db) {
    let s = StackRecord::new("kept", "t1", secret_definition("pw"));
    store.create_stack(&s).await.unwrap();
    // Several openers at once (several engine processes starting together).
    let opens: Vec<_> = (0..3)
        .map(|_| {
            let url = store.url.clone();
            tokio::spawn(async move { Store::open(&url, &backends::key()).await })
        })
        .collect();
    for open in opens {
        let again = open.await.unwrap().unwrap();
        assert_eq!(again.stack(s.id).await.unwrap(), s);
        again.close().await;
    }
    let mut raw = store.raw().await;
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM ember_migrations")
        .fetch_all(&mut raw)
        .await
        .unwrap();
    assert_eq!(versions, (1..=SCHEMA_VERSION).collect::<Vec<_>>());
}

on_both_backends!(
    stack_round_trip,
    stack_names_are_unique_among_live_stacks,
    purge_removes_everything_of_a_stack,
    hidden_parameters_are_encrypted_at_rest,
    trust_ids_are_encrypted_at_rest_and_migrated_in,
    resource_data_is_encrypted_at_rest,
    resources_round_trip_and_lookups,
    batch_assigns_versions_and_sequences,
    a_failed_batch_changes_nothing,
    batched_updates_of_many_resources,
    optimistic_versions_refuse_stale_writers,
    stack_list_filters,
    stack_list_sorting_and_paging,
    nested_resources_and_events,
    event_filters_sorting_and_paging,
    snapshots_round_trip,
    software_configs_and_deployments,
    stack_lock_conflict_release_and_expiry,
    concurrent_lock_attempts_have_one_winner,
    heartbeat_keeps_claims_and_recovery_takes_the_dead_ones,
    work_queue_survives_a_dead_engine,
    concurrent_claims_never_share_an_item,
    reopening_migrates_once_and_keeps_data,
);

/// An empty SQLite file made by someone else is migrated on open; the in-memory store works
/// with its single connection.
#[tokio::test]
async fn sqlite_existing_file_and_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("existing.db");
    std::fs::write(&path, b"").unwrap();
    let store = Store::open(&format!("sqlite://{}", path.display()), &backends::key())
        .await
        .unwrap();
    let s = stack("x", "t");
    store.create_stack(&s).await.unwrap();
    store.close().await;
    let store = Store::open(&format!("sqlite://{}", path.display()), &backends::key())
        .await
        .unwrap();
    assert_eq!(store.stack(s.id).await.unwrap(), s);
    store.close().await;

    let memory = Store::open("sqlite::memory:", &backends::key())
        .await
        .unwrap();
    memory.create_stack(&s).await.unwrap();
    let mut writes = [Write::InsertEvent(Box::new(EventRecord::new(
        s.id, "x", "CREATE", "COMPLETE",
    )))];
    memory.apply(&mut writes).await.unwrap();
    assert_eq!(memory.find_stack("t", "x").await.unwrap(), s);
    assert!(matches!(
        Store::open("mysql://x", &backends::key()).await,
        Err(StoreError::Config(_))
    ));
}

/// The in-memory store has a single connection: no call may wait for a second one while
/// holding the first (that would hang), including the error paths that look rows up again.
#[tokio::test]
async fn sqlite_memory_store_never_waits_on_itself() {
    let store = Store::open("sqlite::memory:", &backends::key())
        .await
        .unwrap();
    let body = async {
        let mut s = stack("solo", "t");
        store.create_stack(&s).await.unwrap();
        let mut stale = s.clone();
        store.update_stack(&mut s).await.unwrap();
        assert!(matches!(
            store.update_stack(&mut stale).await,
            Err(StoreError::Conflict(_))
        ));
        let mut r = ResourceRecord::new(s.id, "r", "T");
        store.create_resource(&r).await.unwrap();
        let mut stale = r.clone();
        store.update_resource(&mut r).await.unwrap();
        assert!(matches!(
            store.update_resource(&mut stale).await,
            Err(StoreError::Conflict(_))
        ));
        let mut lock = store
            .acquire_stack_lock(s.id, "a", Duration::from_millis(1))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        store
            .acquire_stack_lock(s.id, "b", Duration::from_secs(60))
            .await
            .unwrap();
        assert!(matches!(
            store
                .acquire_stack_lock(s.id, "c", Duration::from_secs(60))
                .await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            store
                .renew_stack_lock(&mut lock, Duration::from_secs(1))
                .await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            store.release_stack_lock(&lock).await,
            Err(StoreError::Conflict(_))
        ));
        let page = StackQuery {
            marker: Some(s.id),
            ..Default::default()
        };
        store.list_stacks(&page).await.unwrap();
        let mut events = [Write::InsertEvent(Box::new(EventRecord::new(
            s.id, "r", "CREATE", "COMPLETE",
        )))];
        store.apply(&mut events).await.unwrap();
        let Write::InsertEvent(e) = &events[0] else {
            unreachable!()
        };
        store
            .events(&EventQuery {
                stack_id: s.id,
                marker: Some(e.id),
                nested_depth: 2,
                ..Default::default()
            })
            .await
            .unwrap();
        let config = SoftwareConfigRecord {
            id: Uuid::new_v4(),
            name: "c".into(),
            group: "script".into(),
            config: json!({"a": [1]}),
            inputs: json!([]),
            outputs: json!([]),
            options: json!({}),
            tenant: "t".into(),
            created_at: now(),
        };
        store.create_software_config(&config).await.unwrap();
        store
            .list_software_configs(None, Some(1), Some(config.id))
            .await
            .unwrap();
        let mut d = SoftwareDeploymentRecord {
            id: Uuid::new_v4(),
            config_id: config.id,
            server_id: "s".into(),
            input_values: json!({}),
            action: "CREATE".into(),
            status: "COMPLETE".into(),
            status_reason: String::new(),
            output_values: json!({}),
            tenant: "t".into(),
            created_at: now(),
            updated_at: None,
            version: 0,
        };
        store.create_software_deployment(&d).await.unwrap();
        let mut stale = d.clone();
        store.update_software_deployment(&mut d).await.unwrap();
        assert!(matches!(
            store.update_software_deployment(&mut stale).await,
            Err(StoreError::Conflict(_))
        ));
        let item = store
            .enqueue_work(Some(s.id), "k", &json!(null))
            .await
            .unwrap();
        assert!(matches!(
            store.complete_work(item.id, "nobody").await,
            Err(StoreError::Conflict(_))
        ));
        store.heartbeat("a", Duration::from_secs(1)).await.unwrap();
        store.retire_engine("a").await.unwrap();
        store.purge_stack(s.id).await.unwrap();
    };
    tokio::time::timeout(Duration::from_secs(30), body)
        .await
        .expect("the in-memory store hung");
}
