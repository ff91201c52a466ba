//! Stack snapshots' resource hooks. A restore converges to the snapshot's template with the
//! definition of each resource whose type restores itself from the snapshot's data
//! (`ResourceType::restore_properties`, Heat's `handle_restore`) rewritten in the template, so
//! the stored template says what the stack was restored to (as Heat stores it). Deleting a
//! snapshot, or the stack, first lets each resource remove what its snapshot made
//! (`ResourceType::delete_snapshot`, Heat's `handle_delete_snapshot`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::definition::StackDefinition;
use crate::engine::EngineInner;
use crate::error::EngineError;
use crate::model::{Action, SnapshotRecord, StackRecord};
use crate::registry::Registry;
use crate::service::run_registry;
use crate::store::Write;

/// A snapshot's `resource_data` of one resource as a row stores data (values that are not
/// strings as their JSON text); `None` when the snapshot kept none.
pub(crate) fn resource_data(saved: &Value) -> Option<BTreeMap<String, String>> {
    let Value::Object(data) = saved.get("resource_data")? else {
        return None;
    };
    Some(
        data.iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str().map_or_else(|| v.to_string(), str::to_string),
                )
            })
            .collect(),
    )
}

/// Rewrites the properties, in `template` (the snapshot's, as JSON), of each active resource of
/// `defn` (its compiled definition) whose type gives restore properties from the data the
/// snapshot kept in `saved` (the snapshot's `resources`). A type's refusal (e.g. a server
/// snapshot without an image) refuses the restore before anything changes.
pub(crate) fn apply_restore_properties(
    template: &mut Value,
    defn: &StackDefinition,
    registry: &Registry,
    saved: &Map<String, Value>,
) -> Result<(), EngineError> {
    // HOT sections are lower case; CFN-style templates (AWSTemplateFormatVersion,
    // HeatTemplateFormatVersion) capitalise them.
    let (resources_key, properties_key) = if template.get("heat_template_version").is_some() {
        ("resources", "properties")
    } else {
        ("Resources", "Properties")
    };
    for (name, def) in &defn.resources {
        let Some(data) = saved.get(name).and_then(resource_data) else {
            continue;
        };
        let Ok(ty) = registry.resolve(&def.type_name, name, &defn.resource_registry) else {
            continue;
        };
        let Some(Value::Object(resource)) = template
            .get_mut(resources_key)
            .and_then(|resources| resources.get_mut(name))
        else {
            continue;
        };
        let written = resource
            .get(properties_key)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let restored = ty.restore_properties(&written, &data).map_err(|e| {
            EngineError::StackValidationFailed(e.located(&format!("resources.{name}")))
        })?;
        if let Some(properties) = restored {
            resource.insert(properties_key.to_string(), Value::Object(properties));
        }
    }
    Ok(())
}

/// Heat's `Stack.delete_snapshot`: each resource of the stack removes what its snapshot made
/// (a server's image, a volume's backup), then the record goes. A failure keeps the record, so
/// the delete can be asked again.
pub(crate) async fn delete_snapshot(
    engine: &EngineInner,
    stack: &StackRecord,
    snap: &SnapshotRecord,
) -> Result<(), EngineError> {
    if let Some(Value::Object(saved)) = snap.data.get("resources") {
        let registry = run_registry(engine, stack);
        for row in engine.rows(&stack.id).await?.iter().filter(|r| r.current) {
            let Some(entry) = saved.get(&row.name) else {
                continue;
            };
            let Some(data) = resource_data(entry) else {
                continue;
            };
            // The type that made the snapshot data, whatever the resource is now.
            let type_name = entry["type"].as_str().unwrap_or(&row.type_name);
            let Ok(ty) = engine.registry.resolve(type_name, &row.name, &registry) else {
                continue;
            };
            let cx = engine.context(
                &stack.id,
                &stack.name,
                engine.stack_cloud(stack),
                row,
                Action::Snapshot,
            );
            ty.delete_snapshot(&cx, &data).await.map_err(|e| {
                EngineError::InvalidRequest(e.located(&format!("resources.{}", row.name)))
            })?;
        }
    }
    engine
        .commit(vec![Write::RemoveSnapshot {
            id: snap.id.clone(),
        }])
        .await
}

/// Heat's `delete_all_snapshots`, the first step of a stack delete.
pub(crate) async fn delete_all_snapshots(
    engine: &EngineInner,
    stack: &StackRecord,
) -> Result<(), EngineError> {
    let snapshots = engine
        .store
        .snapshots(&stack.id)
        .await
        .map_err(|e| EngineError::Store(e.to_string()))?;
    for snap in &snapshots {
        delete_snapshot(engine, stack, snap).await?;
    }
    Ok(())
}
