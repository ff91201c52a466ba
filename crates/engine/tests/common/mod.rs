//! Shared set-up of the engine's tests: a resource type that needs nothing outside the engine,
//! a service over the SQL store (SQLite, or PostgreSQL when the local `test` database answers).
#![allow(dead_code)]

use async_trait::async_trait;
use ember_engine::schema::{AttributeSchema, PropertySchema, PropertyType, TypeSchema};
use ember_engine::store::StateStore;
use ember_engine::store_adapter::SqlStore;
use ember_engine::{
    EngineConfig, Registry, RequestContext, ResourceContext, ResourceError, ResourceType, Service,
    Started, TemplateCompiler,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// `Test::Replaceable`: a resource whose `value` cannot change in place (every change
/// replaces it) and whose attribute `value` gives it back.
pub struct Replaceable;

static SCHEMA: LazyLock<TypeSchema> = LazyLock::new(|| {
    echo_schema(
        "value",
        PropertySchema::new(PropertyType::String, "Replaced when changed.").required(),
        "The value.",
    )
});

/// The schema of a test type with the one property `name`, which its attribute `name`
/// (described as `attribute`) gives back (see `echo_attribute`).
pub fn echo_schema(name: &str, property: PropertySchema, attribute: &str) -> TypeSchema {
    TypeSchema {
        properties: BTreeMap::from([(name.to_string(), property)]),
        attributes: BTreeMap::from([(name.to_string(), AttributeSchema::new(attribute))]),
        ..TypeSchema::default()
    }
}

/// A create that makes nothing outside the engine: the physical id is the physical name.
pub fn create_named(cx: &ResourceContext) -> Result<Started, ResourceError> {
    Ok(Started {
        physical_id: Some(cx.physical_resource_name()),
        data: BTreeMap::new(),
    })
}

/// The attribute `name` of a type made with `echo_schema(property, ..)`: the property's value.
pub fn echo_attribute(cx: &ResourceContext, property: &str, name: &str) -> Option<Value> {
    (name == property).then(|| cx.properties.get(property).cloned().unwrap_or_default())
}

#[async_trait]
impl ResourceType for Replaceable {
    fn schema(&self) -> &TypeSchema {
        &SCHEMA
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        create_named(cx)
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        Ok(echo_attribute(cx, "value", name))
    }
}

pub fn cx() -> RequestContext {
    RequestContext {
        project_id: "tenant".into(),
        username: "demo".into(),
        is_admin: false,
        auth_token: None,
    }
}

pub fn service(store: Arc<dyn StateStore>) -> Service {
    let mut registry = Registry::new();
    registry.register("Test::Replaceable", Arc::new(Replaceable));
    Service::new(
        store,
        registry,
        Arc::new(TemplateCompiler::default()),
        EngineConfig::default(),
    )
}

/// Waits for the end of the stack's action; its `stack show`.
pub async fn finished(svc: &Service, id: &str) -> Value {
    tokio::time::timeout(Duration::from_secs(60), svc.wait(&cx(), id))
        .await
        .expect("action finished in time")
        .expect("stack readable")
}

/// `STATUS: reason` of a `stack show`.
pub fn status(stack: &Value) -> String {
    format!(
        "{}: {}",
        stack["stack_status"].as_str().unwrap_or_default(),
        stack["stack_status_reason"].as_str().unwrap_or_default()
    )
}

pub fn key() -> ember_store::EncryptionKey {
    ember_store::EncryptionKey::from_bytes(&[7u8; 32]).expect("32 bytes")
}

const LEASE: Duration = Duration::from_secs(30);

/// A SQL store in a file of `dir`.
pub async fn sqlite_store(dir: &std::path::Path) -> Arc<dyn StateStore> {
    let url = format!("sqlite://{}", dir.join("ember.db").display());
    Arc::new(
        SqlStore::open(&url, &key(), LEASE)
            .await
            .expect("sqlite store opens"),
    )
}

const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Runs `body` on a SQL store in a fresh schema of the local PostgreSQL `test` database,
/// dropped afterwards (also when the body panics); skipped when no PostgreSQL answers there.
pub async fn with_postgres<F, Fut>(body: F)
where
    F: FnOnce(Arc<dyn StateStore>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    use sqlx::{Connection, Executor};
    let Ok(mut admin) = sqlx::PgConnection::connect(PG_URL).await else {
        eprintln!("skipped: no PostgreSQL at {PG_URL}");
        return;
    };
    let schema = format!("ember_engine_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute(format!("CREATE SCHEMA {schema}").as_str())
        .await
        .expect("schema created");
    let url = format!("{PG_URL}?options[search_path]={schema}");
    let store = SqlStore::open(&url, &key(), LEASE)
        .await
        .expect("postgres store opens");
    let outcome = tokio::spawn(body(Arc::new(store))).await;
    admin
        .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
        .await
        .expect("schema dropped");
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic.into_panic());
    }
}
