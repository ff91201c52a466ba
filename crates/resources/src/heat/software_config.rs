//! Software configuration resources: `OS::Heat::SoftwareConfig`, `StructuredConfig`,
//! `CloudConfig`, `SoftwareComponent` and `MultipartMime`.
//!
//! Each stores one immutable config in the engine's software-config store (any change replaces
//! it, as in Heat); the physical id is the config's id, so `openstack software config show`
//! shows what the resource made, and deleting the resource deletes the config. Attributes read
//! the stored config back.

use super::multipart_mime;
use async_trait::async_trait;
use ember_engine::nested::StackHandle;
use ember_engine::resource::Properties;
use ember_engine::schema::{AttributeSchema, PropertySchema, PropertyType, TypeSchema};
use ember_engine::software::{ConfigRequest, SoftwareControl};
use ember_engine::{Registry, ResourceContext, ResourceError, ResourceType, Started};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Which of the config types this is: what its `config` is made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKind {
    /// `config` is a script (a string).
    Software,
    /// `config` is a map, kept as structured data.
    Structured,
    /// `cloud_config` becomes a `#cloud-config` document.
    Cloud,
    /// `configs` (per-action configs for one tool) become the config of group `component`.
    Component,
    /// `parts` (inline text or other configs by id) become one multi-part MIME message.
    Multipart,
}

/// Registers the config types on the engine `handle` the stack-backed types share.
pub fn register(registry: &mut Registry, handle: &StackHandle) {
    for (name, kind) in [
        ("OS::Heat::SoftwareConfig", ConfigKind::Software),
        ("OS::Heat::StructuredConfig", ConfigKind::Structured),
        ("OS::Heat::CloudConfig", ConfigKind::Cloud),
        ("OS::Heat::SoftwareComponent", ConfigKind::Component),
        ("OS::Heat::MultipartMime", ConfigKind::Multipart),
    ] {
        registry.register(name, Arc::new(SoftwareConfig::new(kind, handle.clone())));
    }
}

pub struct SoftwareConfig {
    kind: ConfigKind,
    handle: StackHandle,
    schema: TypeSchema,
}

/// The lifecycle actions a config or deployment can be run for.
pub const DEPLOY_ACTIONS: [&str; 5] = ["CREATE", "UPDATE", "DELETE", "SUSPEND", "RESUME"];

fn io_properties(properties: &mut BTreeMap<String, PropertySchema>) {
    let list = |d: &str| PropertySchema::new(PropertyType::List, d);
    properties.insert(
        "inputs".into(),
        list("Schema representing the inputs that this software config is expecting."),
    );
    properties.insert(
        "outputs".into(),
        list("Schema representing the outputs that this software config will produce."),
    );
    properties.insert(
        "options".into(),
        PropertySchema::new(
            PropertyType::Map,
            "Map containing options specific to the configuration management tool used by this resource.",
        ),
    );
}

impl SoftwareConfig {
    pub fn new(kind: ConfigKind, handle: StackHandle) -> Self {
        let mut properties = BTreeMap::new();
        let group = || {
            PropertySchema::new(
                PropertyType::String,
                "Namespace to group this software config by when delivered to a server. This may imply what configuration tool is going to perform the configuration.",
            )
            .default(json!("Heat::Ungrouped"))
        };
        match kind {
            ConfigKind::Software => {
                properties.insert("group".into(), group());
                properties.insert(
                    "config".into(),
                    PropertySchema::new(PropertyType::String, "Configuration script or manifest which specifies what actual configuration is performed."),
                );
                io_properties(&mut properties);
            }
            ConfigKind::Structured => {
                properties.insert("group".into(), group());
                properties.insert("config".into(), PropertySchema::new(PropertyType::Map, "Map representing the configuration data structure which will be serialized to JSON format."));
                io_properties(&mut properties);
            }
            ConfigKind::Cloud => {
                properties.insert("cloud_config".into(), PropertySchema::new(PropertyType::Map, "Map representing the cloud-config data structure which will be formatted as YAML."));
            }
            ConfigKind::Component => {
                properties.insert(
                    "configs".into(),
                    PropertySchema::new(
                        PropertyType::List,
                        "The list of configurations for the different lifecycle actions of the represented software component.",
                    )
                    .required(),
                );
                io_properties(&mut properties);
            }
            ConfigKind::Multipart => {
                properties.insert(
                    "parts".into(),
                    PropertySchema::new(PropertyType::List, "Parts belonging to this message.")
                        .default(json!([])),
                );
            }
        }
        let mut attributes = BTreeMap::new();
        attributes.insert(
            "config".into(),
            AttributeSchema::new("The config value of the software config."),
        );
        SoftwareConfig {
            kind,
            handle,
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

    /// The config this resource stores (`control` to read the configs a MIME message names).
    async fn request(
        &self,
        cx: &ResourceContext,
        control: &dyn SoftwareControl,
    ) -> Result<ConfigRequest, ResourceError> {
        let prop = |k: &str| cx.properties.get(k).filter(|v| !v.is_null()).cloned();
        let mut req = ConfigRequest {
            name: Some(cx.physical_resource_name()),
            inputs: prop("inputs"),
            outputs: prop("outputs"),
            options: prop("options"),
            ..ConfigRequest::default()
        };
        match self.kind {
            ConfigKind::Software | ConfigKind::Structured => {
                req.group = prop("group").and_then(|g| g.as_str().map(str::to_string));
                req.config = prop("config");
            }
            ConfigKind::Cloud => {
                let body = prop("cloud_config").unwrap_or_else(|| json!({}));
                // JSON is YAML: cloud-init reads the same document Heat writes in block style.
                req.config = Some(Value::String(format!("#cloud-config\n{body}\n")));
            }
            ConfigKind::Component => {
                // The group tells the in-instance hook to pick the entry for its action.
                req.group = Some("component".into());
                req.config = Some(json!({"configs": prop("configs").unwrap_or_else(|| json!([]))}));
            }
            ConfigKind::Multipart => {
                let parts = prop("parts").unwrap_or_else(|| json!([]));
                let message = multipart_mime::message(
                    parts.as_array().map(Vec::as_slice).unwrap_or_default(),
                    control,
                )
                .await?;
                req.config = Some(Value::String(message));
            }
        }
        Ok(req)
    }

    async fn stored(&self, cx: &ResourceContext) -> Result<Value, ResourceError> {
        let Some(id) = &cx.physical_id else {
            return Ok(Value::Null);
        };
        let config = self.handle.get()?.software_config(id).await?;
        Ok(config
            .map(|c| {
                json!({
                    "id": c.id, "name": c.name, "group": c.group, "config": c.config,
                    "inputs": c.inputs, "outputs": c.outputs, "options": c.options,
                    "creation_time": ember_engine::model::heat_time(&c.created_at),
                })
            })
            .unwrap_or(Value::Null))
    }
}

/// Heat's checks of a `SoftwareComponent`'s `configs`: each entry names its `tool`, lists only
/// lifecycle actions, and no action is configured twice.
fn validate_component(properties: &Properties) -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    let configs = properties.get("configs").and_then(Value::as_array);
    for (i, entry) in configs.into_iter().flatten().enumerate() {
        if entry.get("tool").and_then(Value::as_str).is_none() {
            return Err(format!(
                "Property error: configs[{i}]: Property tool not assigned"
            ));
        }
        let default = json!(["CREATE", "UPDATE"]);
        let actions = entry.get("actions").unwrap_or(&default);
        for action in actions.as_array().into_iter().flatten() {
            let action = action.as_str().unwrap_or_default();
            if !DEPLOY_ACTIONS.contains(&action) {
                return Err(format!(
                    "Property error: configs[{i}].actions: \"{action}\" is not an allowed value {DEPLOY_ACTIONS:?}"
                ));
            }
            if !seen.insert(action.to_string()) {
                return Err(format!(
                    "Defining more than one configuration for the same action ({action}) in SoftwareComponent is not allowed."
                ));
            }
        }
    }
    Ok(())
}

/// Heat's schema of a `MultipartMime` part: `config` required, `type` text or multipart.
fn validate_parts(properties: &Properties) -> Result<(), String> {
    let parts = properties.get("parts").and_then(Value::as_array);
    for (i, part) in parts.into_iter().flatten().enumerate() {
        let Some(part) = part.as_object() else {
            return Err(format!("Property error: parts[{i}]: Value must be a map"));
        };
        if let Some(k) = part
            .keys()
            .find(|k| !["config", "filename", "type", "subtype"].contains(&k.as_str()))
        {
            return Err(format!("Property error: parts[{i}]: Unknown Property {k}"));
        }
        if !part.get("config").is_some_and(Value::is_string) {
            return Err(format!(
                "Property error: parts[{i}]: Property config not assigned"
            ));
        }
        if let Some(ty) = part.get("type").filter(|t| !t.is_null()) {
            if !matches!(ty.as_str(), Some("text" | "multipart")) {
                return Err(format!(
                    "Property error: parts[{i}].type: \"{}\" is not an allowed value ['text', 'multipart']",
                    ty.as_str().unwrap_or_default(),
                ));
            }
        }
    }
    Ok(())
}

#[async_trait]
impl ResourceType for SoftwareConfig {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    fn validate(&self, properties: &Properties) -> Result<(), String> {
        match self.kind {
            ConfigKind::Component => validate_component(properties),
            ConfigKind::Multipart => validate_parts(properties),
            _ => Ok(()),
        }
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let control = self.handle.get()?;
        let req = self.request(cx, control.as_ref()).await?;
        let config = control.create_software_config(&cx.stack_id, req).await?;
        Ok(Started {
            physical_id: Some(config.id),
            data: BTreeMap::new(),
        })
    }

    fn creates_synchronously(&self) -> bool {
        true
    }

    /// Configs are immutable: every change makes a new one.
    fn needs_replace(&self, changed: &[String], _old: &Properties, _new: &Properties) -> bool {
        !changed.is_empty()
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        if let Some(id) = &cx.physical_id {
            self.handle.get()?.delete_software_config(id).await?;
        }
        Ok(Started::default())
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        match name {
            "config" => Ok(Some(self.stored(cx).await?["config"].clone())),
            "show" => Ok(Some(self.stored(cx).await?)),
            _ => Ok(None),
        }
    }
}
