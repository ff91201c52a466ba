//! A stack restore gives each resource the definition its type restores from the snapshot's
//! data (`ResourceType::restore_properties`, Heat's `handle_restore`), then converges to it:
//! the stored template names what the stack was restored to, and a type that cannot restore
//! from the snapshot refuses the restore before anything changes.

mod common;

use async_trait::async_trait;
use common::{create_named, cx, echo_attribute, echo_schema, finished, sqlite_store, status};
use ember_engine::schema::{PropertySchema, PropertyType, TypeSchema};
use ember_engine::store::{StateStore, Write};
use ember_engine::{
    EngineConfig, EngineError, Registry, ResourceContext, ResourceError, ResourceType, Service,
    StackRequest, Started, TemplateCompiler,
};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, Mutex};

/// `Test::Imaged`: `image` changes in place; a snapshot keeps `<image>-copy` as
/// `snapshot_image_id`, and a restore puts that back as the `image` (what a Nova server does).
/// Deleting a snapshot records the image it removes in `removed`.
#[derive(Default)]
struct Imaged {
    removed: Mutex<Vec<String>>,
}

const KEPT: &str = "snapshot_image_id";

static SCHEMA: LazyLock<TypeSchema> = LazyLock::new(|| {
    let image = PropertySchema::new(PropertyType::String, "The image.")
        .required()
        .update_allowed();
    echo_schema("image", image, "The image.")
});

#[async_trait]
impl ResourceType for Imaged {
    fn schema(&self) -> &TypeSchema {
        &SCHEMA
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        create_named(cx)
    }

    async fn snapshot(
        &self,
        cx: &ResourceContext,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let image = cx.prop_str("image").unwrap_or_default();
        Ok(BTreeMap::from([(
            KEPT.to_string(),
            format!("{image}-copy"),
        )]))
    }

    async fn delete_snapshot(
        &self,
        _cx: &ResourceContext,
        data: &BTreeMap<String, String>,
    ) -> Result<(), ResourceError> {
        let image = data.get(KEPT).cloned().unwrap_or_default();
        self.removed.lock().unwrap().push(image);
        Ok(())
    }

    fn restore_properties(
        &self,
        properties: &Map<String, Value>,
        data: &BTreeMap<String, String>,
    ) -> Result<Option<Map<String, Value>>, ResourceError> {
        let image = data
            .get(KEPT)
            .ok_or_else(|| ResourceError::new("Error", "no image kept"))?;
        let mut restored = properties.clone();
        restored.insert("image".into(), json!(image));
        Ok(Some(restored))
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        Ok(echo_attribute(cx, "image", name))
    }
}

fn service(store: Arc<dyn StateStore>) -> Service {
    service_with(store, Arc::new(Imaged::default()))
}

fn service_with(store: Arc<dyn StateStore>, imaged: Arc<Imaged>) -> Service {
    let mut registry = Registry::new();
    registry.register("Test::Imaged", imaged);
    Service::new(
        store,
        registry,
        Arc::new(TemplateCompiler::default()),
        EngineConfig::default(),
    )
}

const HOT: &str = r#"
heat_template_version: 2021-04-16
parameters:
  image: {type: string, default: base}
resources:
  server:
    type: Test::Imaged
    properties: {image: {get_param: image}}
outputs:
  image:
    value: {get_attr: [server, image]}
"#;

/// Creates the stack and takes a snapshot; the stack's id and the snapshot's id.
async fn stack_with_snapshot(svc: &Service, name: &str, template: &str) -> (String, String) {
    let created = svc
        .create_stack(
            &cx(),
            StackRequest {
                stack_name: Some(name.into()),
                template: Some(Value::String(template.into())),
                ..StackRequest::default()
            },
        )
        .await
        .expect("create accepted");
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(
        status(&finished(svc, &id).await),
        "CREATE_COMPLETE: Stack CREATE completed successfully"
    );
    let snapshot = svc
        .create_snapshot(&cx(), &id, Some("s".into()))
        .await
        .expect("snapshot");
    assert_eq!(snapshot["status"], "COMPLETE", "{snapshot}");
    (id, snapshot["id"].as_str().unwrap().to_string())
}

async fn physical_id(svc: &Service, id: &str) -> Value {
    svc.show_resource(&cx(), id, "server", &[])
        .await
        .expect("resource")["physical_resource_id"]
        .clone()
}

/// Restores the stack `id` from `snapshot`, to RESTORE_COMPLETE.
async fn restore(svc: &Service, id: &str, snapshot: &str) {
    svc.restore_snapshot(&cx(), id, snapshot)
        .await
        .expect("restore accepted");
    assert_eq!(
        status(&finished(svc, id).await),
        "RESTORE_COMPLETE: Stack RESTORE completed successfully"
    );
}

#[tokio::test]
async fn restore_converges_to_the_definition_the_type_restores() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(sqlite_store(dir.path()).await);
    let (id, snapshot) = stack_with_snapshot(&svc, "restored", HOT).await;
    let before = physical_id(&svc, &id).await;
    restore(&svc, &id, &snapshot).await;
    // The image kept by the snapshot, updated in place (the type allows it).
    let output = svc.show_output(&cx(), &id, "image").await.unwrap();
    assert_eq!(output["output_value"], "base-copy");
    assert_eq!(physical_id(&svc, &id).await, before);
    // The stored template says what the stack was restored to, the function replaced.
    let template = svc.get_template(&cx(), &id).await.unwrap();
    assert_eq!(
        template["resources"]["server"]["properties"],
        json!({"image": "base-copy"})
    );
}

#[tokio::test]
async fn restore_rewrites_cfn_style_templates_too() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(sqlite_store(dir.path()).await);
    let cfn = r#"{"AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {"server": {"Type": "Test::Imaged", "Properties": {"image": "cfn"}}}}"#;
    let (id, snapshot) = stack_with_snapshot(&svc, "cfn", cfn).await;
    restore(&svc, &id, &snapshot).await;
    let template = svc.get_template(&cx(), &id).await.unwrap();
    assert_eq!(
        template["Resources"]["server"]["Properties"],
        json!({"image": "cfn-copy"})
    );
}

#[tokio::test]
async fn a_type_that_cannot_restore_refuses_the_restore_before_anything_changes() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path()).await;
    let svc = service(store.clone());
    let (id, snapshot) = stack_with_snapshot(&svc, "refused", HOT).await;
    // A snapshot whose data for the server lost what the type restores from.
    let mut record = store
        .snapshots(&id)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.id == snapshot)
        .unwrap();
    record.data["resources"]["server"]["resource_data"] = json!({});
    store
        .apply(vec![Write::Snapshot(Box::new(record))])
        .await
        .unwrap();
    let before = svc.show_stack(&cx(), &id, false).await.unwrap();
    let template_before = svc.get_template(&cx(), &id).await.unwrap();
    let error = svc
        .restore_snapshot(&cx(), &id, &snapshot)
        .await
        .expect_err("refused");
    assert!(
        matches!(error, EngineError::StackValidationFailed(_)),
        "{error:?}"
    );
    assert_eq!(error.to_string(), "Error: resources.server: no image kept");
    let after = svc.show_stack(&cx(), &id, false).await.unwrap();
    assert_eq!(status(&after), status(&before));
    assert_eq!(svc.get_template(&cx(), &id).await.unwrap(), template_before);
}

#[tokio::test]
async fn deleting_a_snapshot_removes_what_each_resource_made_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let imaged = Arc::new(Imaged::default());
    let svc = service_with(sqlite_store(dir.path()).await, imaged.clone());
    let (id, snapshot) = stack_with_snapshot(&svc, "deleted", HOT).await;
    svc.delete_snapshot(&cx(), &id, &snapshot)
        .await
        .expect("deleted");
    assert_eq!(
        *imaged.removed.lock().unwrap(),
        vec!["base-copy".to_string()]
    );
    assert!(svc.list_snapshots(&cx(), &id).await.unwrap().is_empty());
}

#[tokio::test]
async fn deleting_the_stack_deletes_its_snapshots_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path()).await;
    let imaged = Arc::new(Imaged::default());
    let svc = service_with(store.clone(), imaged.clone());
    let (id, _) = stack_with_snapshot(&svc, "gone", HOT).await;
    svc.delete_stack(&cx(), &id).await.expect("delete accepted");
    assert_eq!(
        status(&finished(&svc, &id).await),
        "DELETE_COMPLETE: Stack DELETE completed successfully"
    );
    assert_eq!(
        *imaged.removed.lock().unwrap(),
        vec!["base-copy".to_string()]
    );
    assert!(store.snapshots(&id).await.unwrap().is_empty());
}
