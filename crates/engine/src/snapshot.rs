//! What a stack restore converges to (Heat's `Stack.restore_data`): the snapshot's template,
//! with the definition of each resource whose type restores itself from the snapshot's data
//! (`ResourceType::restore_properties`, Heat's `handle_restore`) rewritten in the template, so
//! the stored template says what the stack was restored to (as Heat stores it).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::definition::StackDefinition;
use crate::error::EngineError;
use crate::registry::Registry;

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
