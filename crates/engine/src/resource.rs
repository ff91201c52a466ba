//! The resource-type trait every type implements, and the context a handler sees.
//!
//! Handlers are stateless: everything a type needs between calls lives in the resource's stored
//! row (physical id, `data`, properties), so that any engine process can continue a lifecycle
//! step another one started. That is why `create` returns as soon as the physical resource exists
//! (the engine stores its id) and completion is polled separately by `check_create_complete`.

use crate::error::ResourceError;
use crate::model::Action;
use crate::schema::TypeSchema;
use async_trait::async_trait;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// Validated property values of one resource.
pub type Properties = Map<String, Value>;

/// What a handler sees of the resource it acts on.
#[derive(Debug, Clone)]
pub struct ResourceContext {
    pub stack_id: String,
    pub stack_name: String,
    pub name: String,
    pub physical_id: Option<String>,
    pub properties: Properties,
    pub data: BTreeMap<String, String>,
    /// The action being performed.
    pub action: Action,
    /// Unique short id of this resource row, for physical names.
    pub short_id: String,
    /// How to reach the cloud, as the embedding program configured it (see [`CloudHandle`]).
    pub cloud: Option<CloudHandle>,
    /// How many times the current step's completion has been polled (for growing intervals).
    pub checks: u32,
    /// The definition's `update_policy` (`UpdatePolicy` in CFN templates), resolved; `null`
    /// when the template gives none. Groups read `batch_create`/`rolling_update` from it.
    pub update_policy: Value,
    /// The definition's `Metadata`, evaluated (`{}` when the template gives none): what Heat's
    /// `metadata_get()` gives a handler (a server puts it in its user data).
    pub metadata: Value,
}

/// An opaque handle to whatever the resource types need to reach their services (e.g. an
/// `ember_openstack::Session`); the engine passes it through without knowing its type, and
/// types downcast it with [`CloudHandle::get`].
#[derive(Clone)]
pub struct CloudHandle(pub std::sync::Arc<dyn std::any::Any + Send + Sync>);

impl CloudHandle {
    pub fn get<T: 'static>(&self) -> Option<&T> {
        self.0.downcast_ref::<T>()
    }
}

impl std::fmt::Debug for CloudHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CloudHandle")
    }
}

/// Follows a `get_attr` path (map keys, list indexes) into a value; `null` when absent.
pub fn follow_path(value: &Value, path: &[Value]) -> Value {
    let mut v = value;
    for step in path {
        let next = match (v, step) {
            (Value::Object(m), Value::String(k)) => m.get(k),
            (Value::Array(a), Value::Number(n)) => n.as_u64().and_then(|i| a.get(i as usize)),
            (Value::Array(a), Value::String(s)) => s.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
        match next {
            Some(n) => v = n,
            None => return Value::Null,
        }
    }
    v.clone()
}

/// Heat's `<stack>-<resource>-<short id>` physical resource name.
pub fn physical_resource_name(stack_name: &str, resource_name: &str, short_id: &str) -> String {
    format!(
        "{}-{resource_name}-{short_id}",
        stack_name.trim_end_matches('*')
    )
}

impl ResourceContext {
    /// Heat's `<stack>-<resource>-<short id>` physical resource name.
    pub fn physical_resource_name(&self) -> String {
        physical_resource_name(&self.stack_name, &self.name, &self.short_id)
    }
    pub fn prop_str(&self, key: &str) -> Option<&str> {
        self.properties.get(key).and_then(Value::as_str)
    }
    pub fn prop_bool(&self, key: &str) -> bool {
        self.properties
            .get(key)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
    pub fn prop_f64(&self, key: &str) -> Option<f64> {
        self.properties.get(key).and_then(Value::as_f64)
    }
}

/// The result of starting an action: the physical id (when the action gives one) and data to
/// store before the engine polls for completion.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Started {
    pub physical_id: Option<String>,
    pub data: BTreeMap<String, String>,
}

/// Whether a polled action has finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Done,
    /// Poll again after this long.
    Pending(Duration),
}

/// The changes an update carries.
#[derive(Debug, Clone)]
pub struct UpdateRequest<'a> {
    pub old_properties: &'a Properties,
    /// Names of the properties whose values differ.
    pub changed: &'a [String],
}

/// A resource type. One instance serves every resource of the type.
#[async_trait]
pub trait ResourceType: Send + Sync {
    fn schema(&self) -> &TypeSchema;

    /// Cross-property checks beyond the schema (Heat's `validate()`); messages are wrapped as
    /// `StackValidationFailed` located at the resource.
    fn validate(&self, _properties: &Properties) -> Result<(), String> {
        Ok(())
    }

    /// Checks that need the cloud (Heat's custom constraints such as `nova.flavor`), run before
    /// a create or update is accepted. `properties` hold the values known before anything is
    /// created (those depending on other resources are absent). A failure is (property, message).
    async fn validate_with_cloud(
        &self,
        _cloud: Option<&CloudHandle>,
        _properties: &Properties,
    ) -> Result<(), (String, String)> {
        Ok(())
    }

    /// Resources of `stack` this one must wait for although its properties do not reference
    /// them (Heat's `add_dependencies`, e.g. a floating IP association after the router
    /// interface of its port's subnet).
    fn implicit_dependencies(
        &self,
        _name: &str,
        _stack: &crate::definition::StackDefinition,
    ) -> Vec<String> {
        Vec::new()
    }

    /// For a stack-backed type: where its child stack's template comes from with these
    /// properties, so validation can walk nested templates (depth limit) before anything exists.
    fn child_source(&self, _properties: &Properties) -> Option<crate::nested::ChildSource> {
        None
    }

    /// Starts creating; returns as soon as the physical resource exists.
    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError>;

    async fn check_create_complete(
        &self,
        _cx: &ResourceContext,
    ) -> Result<Progress, ResourceError> {
        Ok(Progress::Done)
    }

    /// Data to store as the resource's create or update (`action`) completes, with its
    /// `COMPLETE` state. Heat's autoscaling groups start their cooldown there.
    fn completion_data(&self, _cx: &ResourceContext, _action: Action) -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    /// True for types whose `create` finishes the work (nothing to poll): the engine then
    /// stores the physical id together with `CREATE_COMPLETE` in one write.
    fn creates_synchronously(&self) -> bool {
        false
    }

    /// Whether a change of stored properties needs any action at all (`OS::Heat::None` never does).
    fn needs_update(&self, old: &Properties, new: &Properties) -> bool {
        old != new
    }

    /// Whether the changed properties force a replacement. By default: any changed property
    /// whose schema does not allow update.
    fn needs_replace(&self, changed: &[String], _old: &Properties, _new: &Properties) -> bool {
        let props = &self.schema().properties;
        changed
            .iter()
            .any(|k| props.get(k).is_none_or(|s| !s.update_allowed))
    }

    /// Updates in place (`cx.properties` are the new values). May return
    /// `ResourceError::UpdateReplace` to ask for a replacement instead.
    async fn update(
        &self,
        _cx: &ResourceContext,
        _req: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        Ok(Started::default())
    }

    async fn check_update_complete(
        &self,
        _cx: &ResourceContext,
    ) -> Result<Progress, ResourceError> {
        Ok(Progress::Done)
    }

    /// Starts deleting. Called for every resource whose create was started, with or without a
    /// physical id (a type without one has nothing to delete).
    async fn delete(&self, _cx: &ResourceContext) -> Result<Started, ResourceError> {
        Ok(Started::default())
    }

    async fn check_delete_complete(
        &self,
        _cx: &ResourceContext,
    ) -> Result<Progress, ResourceError> {
        Ok(Progress::Done)
    }

    async fn suspend(&self, _cx: &ResourceContext) -> Result<Started, ResourceError> {
        Ok(Started::default())
    }

    async fn resume(&self, _cx: &ResourceContext) -> Result<Started, ResourceError> {
        Ok(Started::default())
    }

    /// Polls a suspend or resume started by the methods above.
    async fn check_action_complete(
        &self,
        _cx: &ResourceContext,
    ) -> Result<Progress, ResourceError> {
        Ok(Progress::Done)
    }

    /// Verifies that the physical resource exists and is healthy.
    async fn check(&self, _cx: &ResourceContext) -> Result<(), ResourceError> {
        Ok(())
    }

    /// Data to keep in a stack snapshot (merged into the resource's stored data on restore).
    async fn snapshot(
        &self,
        cx: &ResourceContext,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        Ok(cx.data.clone())
    }

    /// Heat's `handle_delete_snapshot`: removes what `snapshot` made for a stack snapshot that
    /// is being deleted (`data` is what it kept), e.g. a server's image or a volume's backup.
    /// Something already gone counts as removed.
    async fn delete_snapshot(
        &self,
        _cx: &ResourceContext,
        _data: &BTreeMap<String, String>,
    ) -> Result<(), ResourceError> {
        Ok(())
    }

    /// Heat's `handle_restore`: the properties this resource is restored with from a stack
    /// snapshot. `properties` are the snapshot template's, as written (functions unresolved);
    /// `data` is what `snapshot` kept for the resource. `None` keeps the template's
    /// definition. The restore converges to the result like an update, so a changed property
    /// updates or replaces the resource by the type's usual rules (a server's new image
    /// rebuilds it).
    fn restore_properties(
        &self,
        _properties: &Map<String, Value>,
        _data: &BTreeMap<String, String>,
    ) -> Result<Option<Map<String, Value>>, ResourceError> {
        Ok(None)
    }

    /// The resource's metadata as `GET .../metadata` (and the pre-signed metadata URL a server
    /// polls) show it: the stored `Metadata` by default. A type that adds what it keeps
    /// elsewhere overrides it (a SOFTWARE_CONFIG server: its deployments, read when asked, and
    /// its `os-collect-config`, as Heat writes both into the server's metadata).
    async fn shown_metadata(&self, cx: &ResourceContext) -> Result<Value, ResourceError> {
        Ok(cx.metadata.clone())
    }

    /// An attribute value (`get_attr`). `None` when the type has no such attribute.
    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError>;

    /// `get_attr: [resource, name, path...]`: the attribute with the path followed. Types whose
    /// attributes take the path as an argument (a group's `attributes` reads the member
    /// attribute named by the path) override this; the default follows the path into the value.
    async fn attribute_with_path(
        &self,
        cx: &ResourceContext,
        name: &str,
        path: &[Value],
    ) -> Result<Option<Value>, ResourceError> {
        Ok(self
            .attribute(cx, name)
            .await?
            .map(|value| follow_path(&value, path)))
    }

    /// The value of `get_resource` / `Ref`.
    fn reference_id(&self, cx: &ResourceContext) -> Value {
        Value::String(cx.physical_id.clone().unwrap_or_else(|| cx.name.clone()))
    }

    /// Handles a signal; returns data to merge into the stored data.
    async fn handle_signal(
        &self,
        _cx: &ResourceContext,
        _details: &Value,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        Err(ResourceError::NotSupported("signal".into()))
    }
}
