//! Replacement updates through the SQL store while clients read the stack.
//!
//! Readers (the CLI's `--wait`, `stack show`, `resource list`) share the store adapter with the
//! engine. A read that started before an engine write and finished after it must not make the
//! adapter forget the newer row version: the next write of that row (the old row's delete
//! after its replacement was created) would then name a stale version and fail with
//! "changed by someone else". Runs on SQLite and, when the local `test` database answers, on
//! PostgreSQL.

mod common;

use common::{cx, finished, service, sqlite_store, status, with_postgres};
use ember_engine::store::StateStore;
use ember_engine::StackRequest;
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const TEMPLATE: &str = r#"
heat_template_version: 2021-04-16
parameters:
  generation: {type: string}
resources:
  first:
    type: Test::Replaceable
    properties: {value: {get_param: generation}}
  second:
    type: Test::Replaceable
    properties: {value: {get_attr: [first, value]}}
  third:
    type: Test::Replaceable
    properties: {value: {list_join: ['-', [{get_attr: [second, value]}, x]]}}
  fourth:
    type: Test::Replaceable
    properties: {value: {get_param: generation}}
outputs:
  last:
    value: {get_attr: [third, value]}
"#;

/// How many replacement updates each backend runs.
const UPDATES: usize = 12;

fn request(generation: usize) -> StackRequest {
    let mut parameters = Map::new();
    parameters.insert("generation".into(), json!(format!("g{generation}")));
    StackRequest {
        stack_name: Some("replaced".into()),
        template: Some(Value::String(TEMPLATE.into())),
        parameters,
        ..StackRequest::default()
    }
}

/// Creates the stack, then replaces every resource `UPDATES` times while two readers list the
/// resources and show the stack without pause; every update completes, and afterwards the
/// stack holds exactly one row per resource, of the last generation.
async fn replacements_while_reading(store: Arc<dyn StateStore>) {
    let svc = service(store.clone());
    let created = svc
        .create_stack(&cx(), request(0))
        .await
        .expect("create accepted");
    let id = created["id"].as_str().expect("stack id").to_string();
    let shown = finished(&svc, &id).await;
    assert_eq!(
        status(&shown),
        "CREATE_COMPLETE: Stack CREATE completed successfully"
    );

    let reading = Arc::new(AtomicBool::new(true));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (svc, id, reading) = (svc.clone(), id.clone(), reading.clone());
            tokio::spawn(async move {
                let mut reads = 0u64;
                while reading.load(Ordering::Relaxed) {
                    svc.list_resources(&cx(), &id, false)
                        .await
                        .expect("resources readable");
                    svc.show_stack(&cx(), &id, false)
                        .await
                        .expect("stack readable");
                    reads += 1;
                    tokio::task::yield_now().await;
                }
                reads
            })
        })
        .collect();

    for generation in 1..=UPDATES {
        svc.update_stack(&cx(), &id, request(generation))
            .await
            .expect("update accepted");
        let shown = finished(&svc, &id).await;
        assert_eq!(
            status(&shown),
            "UPDATE_COMPLETE: Stack UPDATE completed successfully",
            "update {generation}"
        );
    }
    reading.store(false, Ordering::Relaxed);
    for reader in readers {
        assert!(reader.await.expect("reader ran") > 0);
    }

    // The replaced rows are gone from the store: one row per resource remains.
    let rows = store.resources(&id).await.expect("rows readable");
    let mut names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["first", "fourth", "second", "third"]);
    let out = svc.show_output(&cx(), &id, "last").await.expect("output");
    assert_eq!(out["output_value"], json!(format!("g{UPDATES}-x")), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacement_updates_while_reading_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    replacements_while_reading(sqlite_store(dir.path()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacement_updates_while_reading_on_postgres() {
    with_postgres(replacements_while_reading).await;
}
