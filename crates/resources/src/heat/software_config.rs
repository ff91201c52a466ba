//! Software configuration resources: `OS::Heat::SoftwareConfig`, `StructuredConfig`,
//! `CloudConfig` and `SoftwareComponent`.
//!
//! Each creates one immutable config (any change replaces it, as in Heat) whose id is the
//! physical id. The config body is kept in the resource data until the engine exposes the
//! software-config store to resource types (see crates/engine/NEEDS.md).

use async_trait::async_trait;
use chrono::Utc;
use ember_engine::resource::Properties;
use ember_engine::schema::{AttributeSchema, PropertySchema, PropertyType, TypeSchema};
use ember_engine::{ResourceContext, ResourceError, ResourceType, Started};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Resource data key holding the config as the store would show it.
const CONFIG: &str = "software_config";

/// Which of the config types this is: what its `config` is made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKind {
    /// `config` is a script (a string).
    Software,
    /// `config` is a map, kept as structured data.
    Structured,
    /// `cloud_config` becomes a `#cloud-config` document.
    Cloud,
    /// `configs` (per-action configs for one tool) become the config.
    Component,
}

pub struct SoftwareConfig {
    kind: ConfigKind,
    schema: TypeSchema,
}

impl SoftwareConfig {
    pub fn new(kind: ConfigKind) -> Self {
        let mut properties = BTreeMap::new();
        let list = |d: &str| PropertySchema::new(PropertyType::List, d);
        if kind != ConfigKind::Cloud {
            properties.insert(
                "group".into(),
                PropertySchema::new(
                    PropertyType::String,
                    "Namespace to group this software config by when delivered to a server.",
                )
                .default(json!("Heat::Ungrouped")),
            );
            properties.insert(
                "inputs".into(),
                list("Schema representing the inputs that this software config is expecting."),
            );
            properties.insert(
                "outputs".into(),
                list("Schema representing the outputs that this software config will produce."),
            );
            properties.insert("options".into(), PropertySchema::new(PropertyType::Map, "Map containing options specific to the configuration management tool used by this resource."));
        }
        match kind {
            ConfigKind::Software => {
                properties.insert(
                    "config".into(),
                    PropertySchema::new(PropertyType::String, "Configuration script or manifest which specifies what actual configuration is performed."),
                );
            }
            ConfigKind::Structured => {
                properties.insert("config".into(), PropertySchema::new(PropertyType::Map, "Map representing the configuration data structure which will be serialized to JSON format."));
            }
            ConfigKind::Cloud => {
                properties.insert("cloud_config".into(), PropertySchema::new(PropertyType::Map, "Map representing the cloud-config data structure which will be formatted as YAML."));
            }
            ConfigKind::Component => {
                properties.insert("configs".into(), list("The list of configurations for the different lifecycle actions of the represented software component.").required());
            }
        }
        let mut attributes = BTreeMap::new();
        attributes.insert(
            "config".into(),
            AttributeSchema::new("The config value of the software config."),
        );
        SoftwareConfig {
            kind,
            schema: TypeSchema {
                properties,
                attributes,
                description: "A resource for describing and storing software configuration.".into(),
                support_status: "SUPPORTED",
                since_version: Some("2014.1"),
                accepts_any_property: false,
            },
        }
    }

    /// The `config` value this resource stores.
    fn config(&self, props: &Properties) -> Value {
        match self.kind {
            ConfigKind::Software | ConfigKind::Structured => {
                props.get("config").cloned().unwrap_or(Value::Null)
            }
            // JSON is YAML: the document parses as the same cloud-config Heat writes.
            ConfigKind::Cloud => {
                let body = props
                    .get("cloud_config")
                    .cloned()
                    .unwrap_or_else(|| json!({}));
                Value::String(format!("#cloud-config\n{body}\n"))
            }
            ConfigKind::Component => {
                json!({"configs": props.get("configs").cloned().unwrap_or_else(|| json!([]))})
            }
        }
    }
}

#[async_trait]
impl ResourceType for SoftwareConfig {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    fn validate(&self, properties: &Properties) -> Result<(), String> {
        if self.kind != ConfigKind::Component {
            return Ok(());
        }
        // Heat: each lifecycle action may be configured by one entry only.
        let mut seen = std::collections::BTreeSet::new();
        for entry in properties
            .get("configs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for action in entry
                .get("actions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let action = action.as_str().unwrap_or_default();
                if !seen.insert(action.to_string()) {
                    return Err(format!(
                        "Defining more than one configuration for the same action ({action}) in SoftwareComponent is not allowed."
                    ));
                }
            }
        }
        Ok(())
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let id = uuid::Uuid::new_v4().to_string();
        let group = match self.kind {
            ConfigKind::Cloud => json!("Heat::Ungrouped"),
            ConfigKind::Component => cx
                .properties
                .get("configs")
                .and_then(|c| c.get(0))
                .and_then(|c| c.get("tool"))
                .cloned()
                .unwrap_or(json!("Heat::Ungrouped")),
            _ => cx
                .properties
                .get("group")
                .cloned()
                .unwrap_or(json!("Heat::Ungrouped")),
        };
        let empty = || json!([]);
        let stored = json!({
            "id": id,
            "name": cx.physical_resource_name(),
            "group": group,
            "config": self.config(&cx.properties),
            "inputs": cx.properties.get("inputs").filter(|v| !v.is_null()).cloned().unwrap_or_else(empty),
            "outputs": cx.properties.get("outputs").filter(|v| !v.is_null()).cloned().unwrap_or_else(empty),
            "options": cx.properties.get("options").filter(|v| !v.is_null()).cloned().unwrap_or_else(|| json!({})),
            "creation_time": ember_engine::model::heat_time(&Utc::now()),
        });
        Ok(Started {
            physical_id: Some(id),
            data: BTreeMap::from([(CONFIG.to_string(), stored.to_string())]),
        })
    }

    /// Configs are immutable: every change makes a new one.
    fn needs_replace(&self, changed: &[String], _old: &Properties, _new: &Properties) -> bool {
        !changed.is_empty()
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        let stored: Value = cx
            .data
            .get(CONFIG)
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or(Value::Null);
        match name {
            "config" => Ok(Some(stored.get("config").cloned().unwrap_or(Value::Null))),
            "show" => Ok(Some(stored)),
            _ => Ok(None),
        }
    }
}
