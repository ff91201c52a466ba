//! The boundary between the HTTP layer and the orchestration engine.
//!
//! Each HTTP route turns into one [`EngineCall`], the equivalent of one of Heat's engine RPC
//! calls, and the [`Orchestrator`] answers it with JSON shaped like Heat's REST body (without the
//! outer key, which the route adds). The routes never touch the store or the engine's types, so
//! the same router serves the real engine and the test doubles of the route tests.

use async_trait::async_trait;
use serde_json::{Map, Value};

/// Who is calling, taken from the validated token (Keystone mode) or the URL (no-auth mode).
#[derive(Clone, PartialEq, Eq)]
pub struct RequestContext {
    pub project_id: String,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub roles: Vec<String>,
    pub is_admin: bool,
    /// The caller's Keystone token, for the engine's calls to other OpenStack services.
    pub auth_token: Option<String>,
    pub request_id: String,
}

impl std::fmt::Debug for RequestContext {
    // The token never reaches logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestContext")
            .field("project_id", &self.project_id)
            .field("user_id", &self.user_id)
            .field("username", &self.username)
            .field("roles", &self.roles)
            .field("is_admin", &self.is_admin)
            .field("auth_token", &self.auth_token.as_ref().map(|_| "******"))
            .field("request_id", &self.request_id)
            .finish()
    }
}

/// A stack as named by the canonical URL `/stacks/{stack_name}/{stack_id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackRef {
    pub stack_name: String,
    pub stack_id: String,
}

/// The stack actions of `POST .../actions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackAction {
    Suspend,
    Resume,
    Check,
    CancelUpdate,
    CancelWithoutRollback,
}

impl StackAction {
    pub fn from_key(key: &str) -> Option<Self> {
        Some(match key {
            "suspend" => StackAction::Suspend,
            "resume" => StackAction::Resume,
            "check" => StackAction::Check,
            "cancel_update" => StackAction::CancelUpdate,
            "cancel_without_rollback" => StackAction::CancelWithoutRollback,
            _ => return None,
        })
    }
}

/// Query parameters after Heat's per-route whitelist and type conversion: booleans are JSON
/// booleans, integers JSON numbers, repeated keys JSON arrays.
pub type Params = Map<String, Value>;

/// One request to the engine; the variants follow Heat's engine RPC API.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineCall {
    /// Name or id → `{"stack_name","stack_id","tenant"}`; a stack of another project is not found.
    IdentifyStack {
        name_or_id: String,
    },
    /// → `{"stacks":[...]}`, plus `"count"` when `with_count` is set.
    ListStacks {
        params: Params,
        detail: bool,
    },
    /// Heat-shaped create body (adopt when it has `adopt_stack_data`) → the identity.
    CreateStack {
        body: Value,
    },
    PreviewStack {
        body: Value,
    },
    ShowStack {
        stack: StackRef,
        resolve_outputs: bool,
    },
    GetTemplate {
        stack: StackRef,
    },
    GetEnvironment {
        stack: StackRef,
    },
    GetFiles {
        stack: StackRef,
    },
    /// `patch` is Heat's `existing` update (HTTP PATCH).
    UpdateStack {
        stack: StackRef,
        body: Value,
        patch: bool,
    },
    PreviewUpdate {
        stack: StackRef,
        body: Value,
        patch: bool,
        show_nested: bool,
    },
    DeleteStack {
        stack: StackRef,
    },
    AbandonStack {
        stack: StackRef,
    },
    ExportStack {
        stack: StackRef,
    },
    Action {
        stack: StackRef,
        action: StackAction,
    },
    ListOutputs {
        stack: StackRef,
    },
    ShowOutput {
        stack: StackRef,
        output_key: String,
    },
    ListResources {
        stack: StackRef,
        params: Params,
    },
    ShowResource {
        stack: StackRef,
        resource: String,
        with_attr: Vec<String>,
    },
    ResourceMetadata {
        stack: StackRef,
        resource: String,
    },
    /// Signal with the request body as details (`None` for an empty body).
    SignalResource {
        stack: StackRef,
        resource: String,
        details: Option<Value>,
    },
    MarkUnhealthy {
        stack: StackRef,
        resource: String,
        mark_unhealthy: bool,
        reason: String,
    },
    ListEvents {
        stack: StackRef,
        resource: Option<String>,
        params: Params,
    },
    ShowEvent {
        stack: StackRef,
        resource: String,
        event_id: String,
    },
    CreateSnapshot {
        stack: StackRef,
        name: Option<String>,
    },
    ListSnapshots {
        stack: StackRef,
    },
    ShowSnapshot {
        stack: StackRef,
        snapshot_id: String,
    },
    DeleteSnapshot {
        stack: StackRef,
        snapshot_id: String,
    },
    RestoreSnapshot {
        stack: StackRef,
        snapshot_id: String,
    },
    ListSoftwareConfigs {
        params: Params,
    },
    CreateSoftwareConfig {
        body: Value,
    },
    ShowSoftwareConfig {
        config_id: String,
    },
    DeleteSoftwareConfig {
        config_id: String,
    },
    ListSoftwareDeployments {
        params: Params,
    },
    CreateSoftwareDeployment {
        body: Value,
    },
    ShowSoftwareDeployment {
        deployment_id: String,
    },
    UpdateSoftwareDeployment {
        deployment_id: String,
        body: Value,
    },
    DeleteSoftwareDeployment {
        deployment_id: String,
    },
    DeploymentMetadata {
        server_id: String,
    },
    ListResourceTypes {
        params: Params,
    },
    ResourceSchema {
        type_name: String,
        with_description: bool,
    },
    GenerateTemplate {
        type_name: String,
        template_type: String,
    },
    ListTemplateVersions,
    ListTemplateFunctions {
        version: String,
        with_condition: bool,
    },
    ValidateTemplate {
        body: Value,
        show_nested: bool,
        ignore_errors: Vec<String>,
    },
    ListServices,
}

/// An engine failure, named by Heat's exception class so the API can pick the status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{heat_type}: {message}")]
pub struct EngineError {
    pub heat_type: String,
    pub message: String,
}

impl EngineError {
    pub fn new(heat_type: impl Into<String>, message: impl Into<String>) -> Self {
        EngineError {
            heat_type: heat_type.into(),
            message: message.into(),
        }
    }
}

/// The engine as the API sees it.
#[async_trait]
pub trait Orchestrator: Send + Sync + 'static {
    async fn call(&self, ctx: &RequestContext, call: EngineCall) -> Result<Value, EngineError>;
}
