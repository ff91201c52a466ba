//! Replacement updates through the SQL store while clients read the stack.
//!
//! Readers (the CLI's `--wait`, `stack show`, `resource list`) share the store adapter with the
//! engine. A read that started before an engine write and finished after it must not make the
//! adapter forget the newer row version: the next write of that row (the old row's delete
//! after its replacement was created) would then name a stale version and fail with
//! "changed by someone else". Runs on SQLite and, when the local `test` database answers, on
//! PostgreSQL.

use async_trait::async_trait;
use ember_engine::schema::{AttributeSchema, PropertySchema, PropertyType, TypeSchema};
use ember_engine::store::StateStore;
use ember_engine::store_adapter::SqlStore;
use ember_engine::{
    EngineConfig, Registry, RequestContext, ResourceContext, ResourceError, ResourceType, Service,
    StackRequest, Started, TemplateCompiler,
};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// A resource whose `value` cannot change in place: every change replaces it.
struct Replaceable;

static SCHEMA: LazyLock<TypeSchema> = LazyLock::new(|| TypeSchema {
    properties: BTreeMap::from([(
        "value".to_string(),
        PropertySchema::new(PropertyType::String, "Replaced when changed.").required(),
    )]),
    attributes: BTreeMap::from([("value".to_string(), AttributeSchema::new("The value."))]),
    ..TypeSchema::default()
});

#[async_trait]
impl ResourceType for Replaceable {
    fn schema(&self) -> &TypeSchema {
        &SCHEMA
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        Ok(Started {
            physical_id: Some(cx.physical_resource_name()),
            data: BTreeMap::new(),
        })
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        Ok((name == "value").then(|| cx.properties.get("value").cloned().unwrap_or_default()))
    }
}

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

fn cx() -> RequestContext {
    RequestContext {
        project_id: "tenant".into(),
        username: "demo".into(),
        is_admin: false,
    }
}

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

fn service(store: Arc<dyn StateStore>) -> Service {
    let mut registry = Registry::new();
    registry.register("Test::Replaceable", Arc::new(Replaceable));
    Service::new(
        store,
        registry,
        Arc::new(TemplateCompiler::default()),
        EngineConfig::default(),
    )
}

async fn finished(svc: &Service, id: &str) -> Value {
    tokio::time::timeout(Duration::from_secs(60), svc.wait(&cx(), id))
        .await
        .expect("action finished in time")
        .expect("stack readable")
}

fn status(stack: &Value) -> String {
    format!(
        "{}: {}",
        stack["stack_status"].as_str().unwrap_or_default(),
        stack["stack_status_reason"].as_str().unwrap_or_default()
    )
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

fn key() -> ember_store::EncryptionKey {
    ember_store::EncryptionKey::from_bytes(&[7u8; 32]).expect("32 bytes")
}

const LEASE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacement_updates_while_reading_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("ember.db").display());
    let store = SqlStore::open(&url, &key(), LEASE)
        .await
        .expect("sqlite store opens");
    replacements_while_reading(Arc::new(store)).await;
}

/// The same on PostgreSQL, in a fresh schema of the local `test` database that is dropped
/// afterwards; skipped when no PostgreSQL answers there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacement_updates_while_reading_on_postgres() {
    use sqlx::{Connection, Executor};
    const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
    let Ok(mut admin) = sqlx::PgConnection::connect(PG_URL).await else {
        eprintln!("skipped: no PostgreSQL at {PG_URL}");
        return;
    };
    let schema = format!("ember_replacement_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute(format!("CREATE SCHEMA {schema}").as_str())
        .await
        .expect("schema created");
    let url = format!("{PG_URL}?options[search_path]={schema}");
    let outcome = tokio::spawn(async move {
        let store = SqlStore::open(&url, &key(), LEASE)
            .await
            .expect("postgres store opens");
        replacements_while_reading(Arc::new(store)).await;
    })
    .await;
    admin
        .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
        .await
        .expect("schema dropped");
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic.into_panic());
    }
}
