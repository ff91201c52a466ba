//! Stored state: stacks, resources, events and snapshots, as the engine reads and writes them
//! through [`crate::store::StateStore`].

use crate::definition::{DeletionPolicy, TemplateSource};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

macro_rules! string_enum {
    ($name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum $name { $($variant),* }
        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)* _ => None }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

string_enum!(Action {
    Init = "INIT",
    Create = "CREATE",
    Delete = "DELETE",
    Update = "UPDATE",
    Rollback = "ROLLBACK",
    Suspend = "SUSPEND",
    Resume = "RESUME",
    Adopt = "ADOPT",
    Snapshot = "SNAPSHOT",
    Check = "CHECK",
    Restore = "RESTORE",
    Abandon = "ABANDON",
    Signal = "SIGNAL",
});

string_enum!(Status {
    InProgress = "IN_PROGRESS",
    Complete = "COMPLETE",
    Failed = "FAILED",
});

/// A stack as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StackRecord {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub username: String,
    pub action: Action,
    pub status: Status,
    pub status_reason: String,
    pub source: TemplateSource,
    /// User parameter values as given (hidden ones are encrypted by the store).
    pub parameters: Map<String, Value>,
    /// The definition the last successful action reached, for rollback.
    pub previous: Option<PreviousDefinition>,
    pub timeout_mins: Option<u32>,
    pub disable_rollback: bool,
    pub tags: Vec<String>,
    pub parent: Option<String>,
    /// The resource of the parent stack that owns this (nested) stack.
    #[serde(default)]
    pub parent_resource: Option<String>,
    /// How deep this stack is nested: 0 for a root stack.
    #[serde(default)]
    pub nested_depth: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// Set by `cancel_update`; the engine running the action stops at its next step.
    pub cancel: Option<CancelMode>,
    /// The Keystone trust the stack's deferred work acts under (`crate::cloud`); a nested
    /// stack holds its root's.
    #[serde(default)]
    pub trust_id: Option<crate::cloud::TrustId>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum CancelMode {
    Rollback,
    NoRollback,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PreviousDefinition {
    pub source: TemplateSource,
    pub parameters: Map<String, Value>,
}

/// One resource row. A replaced resource keeps its row (not current) until cleanup deletes it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ResourceRecord {
    /// Unique per row (a uuid).
    pub id: String,
    pub stack_id: String,
    pub name: String,
    pub type_name: String,
    pub physical_id: Option<String>,
    pub action: Action,
    pub status: Status,
    pub status_reason: String,
    /// The validated property values the resource last reached.
    pub properties: Map<String, Value>,
    pub metadata: Value,
    /// Type-specific data kept across calls and restarts (Heat's resource_data).
    pub data: BTreeMap<String, String>,
    /// Whether this row is the resource the stack currently uses under `name`.
    pub current: bool,
    /// Names this resource required when it was last acted on (for reverse-order deletes).
    pub requires: Vec<String>,
    /// 12 characters that make the physical resource name unique.
    pub short_id: String,
    /// The policy of the definition the resource was last acted on with: a resource removed
    /// from the template is deleted (or kept) as its old definition said.
    pub deletion_policy: DeletionPolicy,
    /// The template's `external_id`: an existing physical resource the stack manages but did
    /// not create.
    #[serde(default)]
    pub external_id: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl ResourceRecord {
    pub fn status_string(&self) -> String {
        format!("{}_{}", self.action, self.status)
    }
}

/// A status change of a resource or (with `resource_name` = the stack name) of the stack.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EventRecord {
    pub id: String,
    pub stack_id: String,
    /// Monotonic per store, for stable ordering and paging.
    pub seq: u64,
    pub resource_name: String,
    pub physical_id: String,
    pub resource_type: String,
    pub action: Action,
    pub status: Status,
    pub reason: String,
    pub properties: Value,
    pub time: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SnapshotRecord {
    pub id: String,
    pub stack_id: String,
    pub name: Option<String>,
    pub status: Status,
    pub status_reason: Option<String>,
    pub data: Value,
    pub created_at: DateTime<Utc>,
}

/// Heat's time format in API bodies: `2026-11-25T23:04:49Z`.
pub fn heat_time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
