//! The rows the store keeps, as plain serde-friendly structs.
//!
//! Actions and statuses are Heat's words (`CREATE`, `IN_PROGRESS`, ...) kept as strings: the
//! store filters on them but gives them no meaning, so the engine owns their vocabulary.
//! `version` fields are the optimistic-concurrency keys: an update names the version it read
//! and is refused with [`crate::Conflict::VersionMismatch`] when the row moved on.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use uuid::Uuid;

/// What a stack is made from: the template text as given, its environment, files and the user's
/// parameter values. Kept twice per stack: the current definition and the previous one (for
/// rollback).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StackDefinition {
    /// The raw template text (YAML or JSON) exactly as submitted.
    pub template: String,
    /// The merged environment document.
    pub environment: Value,
    /// `get_file`/provider-template contents by name.
    pub files: BTreeMap<String, String>,
    /// Parameter values as given by the user, hidden ones included (in the clear in memory).
    pub parameters: Map<String, Value>,
    /// Names in `parameters` whose values are hidden: stored encrypted, never logged.
    pub hidden_parameters: Vec<String>,
}

impl fmt::Debug for StackDefinition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parameters: BTreeMap<&str, &dyn fmt::Debug> = self
            .parameters
            .iter()
            .map(|(name, value)| {
                let shown: &dyn fmt::Debug = if self.hidden_parameters.contains(name) {
                    &"******"
                } else {
                    value
                };
                (name.as_str(), shown)
            })
            .collect();
        f.debug_struct("StackDefinition")
            .field("template", &format_args!("<{} bytes>", self.template.len()))
            .field("environment", &self.environment)
            .field("files", &self.files.keys().collect::<Vec<_>>())
            .field("parameters", &parameters)
            .field("hidden_parameters", &self.hidden_parameters)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackRecord {
    pub id: Uuid,
    pub name: String,
    /// The tenant (project) id.
    pub tenant: String,
    /// The stack owning this one when it is nested.
    pub owner_id: Option<Uuid>,
    /// The resource of the owner stack that this nested stack implements.
    pub parent_resource: Option<String>,
    /// 0 for a top-level stack, owner's depth + 1 for a nested one.
    pub nested_depth: i64,
    pub action: String,
    pub status: String,
    pub status_reason: String,
    pub definition: StackDefinition,
    /// The definition the last successful action reached, for rollback.
    pub previous: Option<StackDefinition>,
    pub timeout_mins: Option<i64>,
    pub disable_rollback: bool,
    pub tags: Vec<String>,
    pub user_id: String,
    pub username: String,
    /// Identifies the action run currently driving the stack (a traversal id), if any.
    pub current_traversal: Option<String>,
    /// Engine-owned JSON the store neither filters on nor interprets (cancel requests, ...).
    pub engine_data: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
    /// Set when the stack is soft-deleted; the name becomes free again.
    pub deleted_at: Option<DateTime<Utc>>,
    /// The Keystone trust the stack's deferred work acts under (server mode with Keystone).
    pub trust_id: Option<TrustId>,
    pub version: i64,
}

/// The id of a Keystone trust from a stack's creator to the service (Heat's `user_creds` under
/// `deferred_auth_method = trusts`): with the service's password it yields a token acting as the
/// creator, so it is stored encrypted and `Debug` masks it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TrustId(String);

impl TrustId {
    pub fn new(id: impl Into<String>) -> Self {
        TrustId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TrustId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TrustId(******)")
    }
}

impl StackRecord {
    /// A fresh top-level stack in `INIT_COMPLETE`, created now.
    pub fn new(
        name: impl Into<String>,
        tenant: impl Into<String>,
        definition: StackDefinition,
    ) -> Self {
        StackRecord {
            id: Uuid::new_v4(),
            name: name.into(),
            tenant: tenant.into(),
            owner_id: None,
            parent_resource: None,
            nested_depth: 0,
            action: "INIT".into(),
            status: "COMPLETE".into(),
            status_reason: String::new(),
            definition,
            previous: None,
            timeout_mins: None,
            disable_rollback: true,
            tags: Vec::new(),
            user_id: String::new(),
            username: String::new(),
            current_traversal: None,
            engine_data: Value::Null,
            created_at: now(),
            updated_at: None,
            deleted_at: None,
            trust_id: None,
            version: 0,
        }
    }
}

/// What a row of a stack list shows: a stack without its definitions (template, environment,
/// files, parameters), so a listing neither reads nor decrypts them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackSummary {
    pub id: Uuid,
    pub name: String,
    pub tenant: String,
    pub owner_id: Option<Uuid>,
    pub action: String,
    pub status: String,
    pub status_reason: String,
    pub tags: Vec<String>,
    pub username: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl From<&StackRecord> for StackSummary {
    fn from(s: &StackRecord) -> Self {
        StackSummary {
            id: s.id,
            name: s.name.clone(),
            tenant: s.tenant.clone(),
            owner_id: s.owner_id,
            action: s.action.clone(),
            status: s.status.clone(),
            status_reason: s.status_reason.clone(),
            tags: s.tags.clone(),
            username: s.username.clone(),
            created_at: s.created_at,
            updated_at: s.updated_at,
            deleted_at: s.deleted_at,
        }
    }
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceRecord {
    /// Unique per row: a replacement gets a new row under the same name.
    pub id: Uuid,
    pub stack_id: Uuid,
    pub name: String,
    pub type_name: String,
    pub physical_id: Option<String>,
    pub action: String,
    pub status: String,
    pub status_reason: String,
    /// The property values the resource was last acted on with.
    pub properties: Value,
    /// Heat's resource data: values a type keeps across calls (generated secrets, tokens).
    /// Stored encrypted as a whole.
    pub data: BTreeMap<String, String>,
    /// Cached attribute values.
    pub attributes: Value,
    pub metadata: Value,
    /// Names of the resources this one required when last acted on.
    pub requires: Vec<String>,
    /// The row this one replaces (update by replacement).
    pub replaces: Option<Uuid>,
    /// The row that replaces this one.
    pub replaced_by: Option<Uuid>,
    /// Whether this row is the one the stack currently uses under `name`.
    pub current: bool,
    /// The engine working on this resource right now, if any.
    pub engine_id: Option<String>,
    /// Engine-owned JSON the store neither filters on nor interprets.
    pub engine_data: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
    pub version: i64,
}

impl fmt::Debug for ResourceRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Resource data holds secrets: show only the keys.
        f.debug_struct("ResourceRecord")
            .field("id", &self.id)
            .field("stack_id", &self.stack_id)
            .field("name", &self.name)
            .field("type_name", &self.type_name)
            .field("physical_id", &self.physical_id)
            .field("action", &self.action)
            .field("status", &self.status)
            .field("status_reason", &self.status_reason)
            .field("properties", &self.properties)
            .field("data", &self.data.keys().collect::<Vec<_>>())
            .field("attributes", &self.attributes)
            .field("metadata", &self.metadata)
            .field("requires", &self.requires)
            .field("replaces", &self.replaces)
            .field("replaced_by", &self.replaced_by)
            .field("current", &self.current)
            .field("engine_id", &self.engine_id)
            .field("engine_data", &self.engine_data)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("version", &self.version)
            .finish()
    }
}

impl ResourceRecord {
    /// A fresh current resource row in `INIT_COMPLETE`, created now.
    pub fn new(stack_id: Uuid, name: impl Into<String>, type_name: impl Into<String>) -> Self {
        ResourceRecord {
            id: Uuid::new_v4(),
            stack_id,
            name: name.into(),
            type_name: type_name.into(),
            physical_id: None,
            action: "INIT".into(),
            status: "COMPLETE".into(),
            status_reason: String::new(),
            properties: Value::Object(Map::new()),
            data: BTreeMap::new(),
            attributes: Value::Object(Map::new()),
            metadata: Value::Object(Map::new()),
            requires: Vec::new(),
            replaces: None,
            replaced_by: None,
            current: true,
            engine_id: None,
            engine_data: Value::Null,
            created_at: now(),
            updated_at: None,
            version: 0,
        }
    }
}

/// A status change of a resource, or of the stack itself (then `resource_name` is the stack's
/// name, as in Heat).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    pub id: Uuid,
    pub stack_id: Uuid,
    /// Assigned by the store on insert: increases in commit order across all processes.
    pub seq: i64,
    pub resource_name: String,
    pub physical_id: String,
    pub resource_type: String,
    pub action: String,
    pub status: String,
    pub reason: String,
    pub properties: Value,
    pub time: DateTime<Utc>,
}

impl EventRecord {
    pub fn new(
        stack_id: Uuid,
        resource_name: impl Into<String>,
        action: &str,
        status: &str,
    ) -> Self {
        EventRecord {
            id: Uuid::new_v4(),
            stack_id,
            seq: 0,
            resource_name: resource_name.into(),
            physical_id: String::new(),
            resource_type: String::new(),
            action: action.into(),
            status: status.into(),
            reason: String::new(),
            properties: Value::Null,
            time: now(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotRecord {
    pub id: Uuid,
    pub stack_id: Uuid,
    pub name: Option<String>,
    pub status: String,
    pub status_reason: String,
    pub data: Value,
    pub created_at: DateTime<Utc>,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SoftwareConfigRecord {
    pub id: Uuid,
    pub name: String,
    pub group: String,
    /// A script (string) or structured data (Heat's `StructuredConfig`, components).
    pub config: Value,
    pub inputs: Value,
    pub outputs: Value,
    pub options: Value,
    pub tenant: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SoftwareDeploymentRecord {
    pub id: Uuid,
    pub config_id: Uuid,
    pub server_id: String,
    pub input_values: Value,
    pub action: String,
    pub status: String,
    pub status_reason: String,
    pub output_values: Value,
    pub tenant: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
    pub version: i64,
}

/// A unit of asynchronous work (a stack action requested through the API, a resource signal)
/// kept until an engine finishes it, so a restart loses none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkItem {
    pub id: Uuid,
    pub stack_id: Option<Uuid>,
    /// What to do (engine vocabulary, e.g. `stack_create`, `resource_signal`).
    pub kind: String,
    pub payload: Value,
    /// The engine that claimed it and until when, or `None` while pending.
    pub claimed_by: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// How many times it has been claimed (a retry after a crash claims it again).
    pub attempts: i64,
    pub created_at: DateTime<Utc>,
}

/// The action lock of one stack, as held by one engine until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackLock {
    pub stack_id: Uuid,
    pub engine_id: String,
    pub expires_at: DateTime<Utc>,
}

/// An engine process known to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineRecord {
    pub engine_id: String,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
}

/// Current time at the store's resolution (microseconds), so a record read back equals the
/// record written.
pub fn now() -> DateTime<Utc> {
    crate::codec::from_micros(Utc::now().timestamp_micros()).unwrap_or_else(Utc::now)
}
