//! The service facade the CLI and the API call: one method per Heat engine RPC, taking request
//! structs shaped like Heat's API bodies and returning JSON shaped exactly like Heat's API
//! responses (without the outer `{"stack": ...}` key, which the API adds).
//!
//! Create, update, delete, actions and restore store the stack with its in-flight action under
//! the stack's lock and return at once; the work continues in a background task.

use crate::definition::{Compiler, StackDefinition, StackIdentity, TemplateSource};
use crate::engine::{EngineConfig, EngineInner, Job, StatusChange};
use crate::error::EngineError;
use crate::model::{
    heat_time, Action, CancelMode, EventRecord, PreviousDefinition, ResourceRecord, SnapshotRecord,
    StackRecord, Status,
};
use crate::registry::Registry;
use crate::resource::{CloudHandle, ResourceContext, ResourceType};
use crate::schema::validate_properties;
use crate::snapshot;
use crate::store::{StateStore, StoreError, Write};
use crate::template_compiler::{hidden_parameter_names, template_as_json};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// The stack list query callers of [`Service::list_stacks`] build.
pub use ember_store::{SortDir, StackQuery, StackSortKey};

/// Who is asking.
#[derive(Clone, Default)]
pub struct RequestContext {
    pub project_id: String,
    pub username: String,
    pub is_admin: bool,
    /// The caller's Keystone token (`--auth keystone`): what a stack's trust is made from and
    /// what request-time cloud checks use.
    pub auth_token: Option<String>,
}

impl std::fmt::Debug for RequestContext {
    // The token never reaches logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestContext")
            .field("project_id", &self.project_id)
            .field("username", &self.username)
            .field("is_admin", &self.is_admin)
            .field("auth_token", &self.auth_token.as_ref().map(|_| "******"))
            .finish()
    }
}

/// A create, update or preview body (`POST /stacks`, `PUT|PATCH /stacks/{name}/{id}`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StackRequest {
    pub stack_name: Option<String>,
    pub template: Option<Value>,
    pub parameters: Map<String, Value>,
    pub environment: Option<Value>,
    pub files: Map<String, Value>,
    pub environment_files: Vec<String>,
    pub timeout_mins: Option<u32>,
    pub disable_rollback: Option<bool>,
    /// Comma-separated, as Heat's API takes it.
    pub tags: Option<String>,
    pub adopt_stack_data: Option<Value>,
    pub clear_parameters: Vec<String>,
    /// PATCH semantics: keep what is not given.
    pub existing: bool,
}

/// The bodies of `POST /stacks/{name}/{id}/actions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackAction {
    Suspend,
    Resume,
    Check,
    CancelUpdate,
    CancelWithoutRollback,
}

/// Event list options.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub resource_name: Option<String>,
    pub limit: Option<usize>,
    pub marker: Option<String>,
    /// Oldest first when true; Heat's default is newest first.
    pub ascending: bool,
}

/// The engine's facade.
#[derive(Clone)]
pub struct Service {
    engine: Arc<EngineInner>,
}

impl Service {
    /// Builds the service; must run inside a tokio runtime (it starts the store writer).
    pub fn new(
        store: Arc<dyn StateStore>,
        registry: Registry,
        compiler: Arc<dyn Compiler>,
        config: EngineConfig,
    ) -> Service {
        Service {
            engine: EngineInner::new(store, Arc::new(registry), compiler, config),
        }
    }

    /// The facade over an engine already built (nested stacks signal through it).
    pub(crate) fn from_engine(engine: Arc<EngineInner>) -> Service {
        Service { engine }
    }

    pub fn config(&self) -> &EngineConfig {
        &self.engine.config
    }

    /// Starts the heartbeat and resumes actions left in progress by engines that stopped
    /// (their locks expired). Returns the ids of the stacks it resumed.
    pub async fn start(&self) -> Result<Vec<String>, EngineError> {
        let engine = self.engine.clone();
        let interval = engine.config.heartbeat_interval;
        engine
            .store
            .heartbeat(&engine.config.engine_id, Utc::now())
            .await
            .map_err(store_error)?;
        let beat = engine.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                if let Err(e) = beat
                    .store
                    .heartbeat(&beat.config.engine_id, Utc::now())
                    .await
                {
                    tracing::warn!(error = %e, "engine heartbeat failed");
                }
            }
        });
        self.recover().await
    }

    /// Takes over stale locks and continues (or fails) their stacks' actions.
    pub async fn recover(&self) -> Result<Vec<String>, EngineError> {
        let engine = &self.engine;
        let stale =
            chrono::Duration::from_std(engine.config.heartbeat_interval * 3).unwrap_or_default();
        let taken = engine
            .store
            .take_stale_locks(&engine.config.engine_id, Utc::now() - stale)
            .await
            .map_err(store_error)?;
        let mut resumed = Vec::new();
        for stack_id in taken {
            let Some(mut stack) = engine.store.stack(&stack_id).await.map_err(store_error)? else {
                continue;
            };
            if stack.status != Status::InProgress {
                engine
                    .store
                    .unlock(&stack_id, &engine.config.engine_id)
                    .await
                    .map_err(store_error)?;
                continue;
            }
            let job = match stack.action {
                Action::Create | Action::Update | Action::Adopt | Action::Restore => {
                    Some(Job::Converge(stack.action))
                }
                Action::Rollback => Some(Job::Rollback),
                Action::Delete => Some(Job::Delete { abandon: false }),
                Action::Suspend | Action::Resume | Action::Check => Some(Job::Walk(stack.action)),
                _ => None,
            };
            match job {
                Some(job) => {
                    engine.spawn(stack_id.clone(), job, None);
                    resumed.push(stack_id);
                }
                None => {
                    let reason = format!("Engine went down during stack {}", stack.action);
                    let action = stack.action;
                    engine
                        .set_stack_state(&mut stack, action, Status::Failed, reason)
                        .await?;
                    engine
                        .store
                        .unlock(&stack_id, &engine.config.engine_id)
                        .await
                        .map_err(store_error)?;
                }
            }
        }
        Ok(resumed)
    }

    /// Status changes of every stack, for live progress.
    pub fn subscribe(&self) -> broadcast::Receiver<StatusChange> {
        self.engine.subscribe()
    }

    /// Waits until the stack's action has finished; returns the final `stack show` body.
    /// An action running in this process is awaited directly (including a rollback that
    /// follows a failure); one running elsewhere is polled through the store.
    pub async fn wait(&self, cx: &RequestContext, stack: &str) -> Result<Value, EngineError> {
        loop {
            let record = self.lookup(cx, stack, true).await?;
            if self.engine.is_running(&record.id) {
                self.engine.wait_idle(&record.id).await;
                continue;
            }
            if record.status != Status::InProgress {
                return self.format_stack(&record, true).await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // ---- stacks ----------------------------------------------------------------------------

    pub async fn create_stack(
        &self,
        cx: &RequestContext,
        req: StackRequest,
    ) -> Result<Value, EngineError> {
        let name = req
            .stack_name
            .clone()
            .ok_or_else(|| EngineError::InvalidRequest("No stack name specified".into()))?;
        if let Some(adopt) = &req.adopt_stack_data {
            if !self.engine.config.enable_adopt {
                return Err(EngineError::NotSupported(
                    "Stack Adopt is not supported.".into(),
                ));
            }
            return self.adopt(cx, name, &req, adopt.clone()).await;
        }
        let mut stack = self.new_record(cx, &name, &req)?;
        let defn = self.compile_checked(&stack)?;
        self.check_against_cloud(self.request_cloud(cx).as_ref(), &defn)
            .await?;
        self.delegate(cx, &mut stack).await?;
        self.engine.prepare(&stack, defn);
        let started = self
            .insert_and_start(
                cx,
                &mut stack,
                Action::Create,
                "Stack CREATE started",
                Job::Converge(Action::Create),
            )
            .await;
        if let Err(e) = started {
            self.engine.discard_prepared(&stack.id);
            self.engine.revoke_trust(&stack).await;
            return Err(e);
        }
        Ok(json!({"id": stack.id, "links": [self.link(&stack)]}))
    }

    /// The cloud access of work done for `cx` now: the requester's own (their token).
    fn request_cloud(&self, cx: &RequestContext) -> Option<CloudHandle> {
        self.engine.config.clouds.as_ref()?.for_request(cx)
    }

    /// The cloud access of an action `cx` starts on `stack`: the requester's token, then the
    /// stack's trust once the token is no longer taken.
    fn action_cloud(&self, cx: &RequestContext, stack: &StackRecord) -> Option<CloudHandle> {
        self.engine
            .config
            .clouds
            .as_ref()?
            .for_action(cx, stack.trust_id.as_ref())
    }

    /// The trust for the stack's deferred work, made from the requester's token before the
    /// stack is stored (see [`crate::cloud`]).
    async fn delegate(
        &self,
        cx: &RequestContext,
        stack: &mut StackRecord,
    ) -> Result<(), EngineError> {
        if let Some(clouds) = &self.engine.config.clouds {
            stack.trust_id = clouds.delegate(cx).await?;
        }
        Ok(())
    }

    fn new_record(
        &self,
        cx: &RequestContext,
        name: &str,
        req: &StackRequest,
    ) -> Result<StackRecord, EngineError> {
        let template = req
            .template
            .clone()
            .ok_or_else(|| EngineError::InvalidRequest("No template specified".into()))?;
        let mut stack = StackRecord {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_string(),
            project_id: cx.project_id.clone(),
            username: cx.username.clone(),
            action: Action::Init,
            status: Status::Complete,
            status_reason: String::new(),
            source: TemplateSource {
                template,
                environment: req.environment.clone().unwrap_or_else(|| json!({})),
                files: req.files.clone(),
                environment_files: req.environment_files.clone(),
                facade: Value::Null,
            },
            parameters: req.parameters.clone(),
            previous: None,
            timeout_mins: req.timeout_mins,
            disable_rollback: req.disable_rollback.unwrap_or(true),
            tags: parse_tags(req.tags.as_deref()),
            parent: None,
            parent_resource: None,
            nested_depth: 0,
            created_at: Utc::now(),
            updated_at: None,
            deleted_at: None,
            cancel: None,
            trust_id: None,
        };
        self.merge_environment_files(&mut stack, None)?;
        Ok(stack)
    }

    /// Heat stores the environment that a request's environment files merge into, not the
    /// files: the merged environment takes the request's parameters with it (the files merge
    /// over them) and the files leave `files`. So a hidden value written in a file is stored
    /// encrypted and shown as `******` like any other, and `GET .../files` does not show it.
    /// `base` is the environment the files merge over (a PATCH update's stored one).
    fn merge_environment_files(
        &self,
        stack: &mut StackRecord,
        base: Option<&Value>,
    ) -> Result<(), EngineError> {
        if stack.source.environment_files.is_empty() {
            return Ok(());
        }
        let merged =
            self.engine
                .compiler
                .merge_environment_files(&stack.source, &stack.parameters, base)?;
        for name in std::mem::take(&mut stack.source.environment_files) {
            stack.source.files.remove(&name);
        }
        stack.source.environment = merged;
        stack.parameters.clear();
        Ok(())
    }

    /// Compiles and validates every resource's properties and type before anything is stored,
    /// as Heat refuses an invalid stack synchronously.
    fn compile_checked(&self, stack: &StackRecord) -> Result<StackDefinition, EngineError> {
        let defn = self.engine.compile(stack)?;
        let max = self.engine.config.max_resources_per_stack;
        if max >= 0 && defn.resources.len() as i64 > max {
            return Err(EngineError::RequestLimitExceeded(
                "Maximum resources per stack exceeded.".into(),
            ));
        }
        self.check_resources(&defn)?;
        self.engine
            .check_nesting(&stack.source.files, &defn, stack.nested_depth as usize)?;
        Ok(defn)
    }

    /// Every resource's type is known and its properties (as far as they are known before
    /// anything exists) fit the type's schema: create, update and `POST /validate` all refuse
    /// a stack that fails this, with `StackValidationFailed`.
    fn check_resources(&self, defn: &StackDefinition) -> Result<(), EngineError> {
        for (name, def) in &defn.resources {
            let ty = self
                .engine
                .registry
                .resolve(&def.type_name, name, &defn.resource_registry)?;
            let placeholder = PlaceholderState;
            let value = def
                .properties
                .evaluate(&placeholder)
                .map_err(EngineError::StackValidationFailed)?;
            let mut given = value.as_object().cloned().unwrap_or_default();
            // Values that depend on other resources are unknown until they exist; a required
            // property given that way is assigned (Heat checks the key, not its value, here).
            let unknown: Vec<String> = given
                .iter()
                .filter(|(_, v)| v.is_null())
                .map(|(k, _)| k.clone())
                .collect();
            given.retain(|_, v| !v.is_null());
            let mut schema = std::borrow::Cow::Borrowed(ty.schema());
            for key in &unknown {
                if schema.properties.get(key).is_some_and(|p| p.required) {
                    if let Some(p) = schema.to_mut().properties.get_mut(key) {
                        p.required = false;
                    }
                }
            }
            let props = validate_properties(&schema, &given).map_err(|e| {
                EngineError::StackValidationFailed(crate::engine::property_error(name, &e))
            })?;
            ty.validate(&props).map_err(|m| {
                EngineError::StackValidationFailed(format!("resources.{name}: {m}"))
            })?;
        }
        Ok(())
    }

    /// Every resource's [`crate::resource::ResourceType::validate_with_cloud`], as Heat checks custom constraints
    /// (a missing flavor or image) before accepting a stack.
    async fn check_against_cloud(
        &self,
        cloud: Option<&CloudHandle>,
        defn: &StackDefinition,
    ) -> Result<(), EngineError> {
        for (name, def) in &defn.resources {
            let ty = self
                .engine
                .registry
                .resolve(&def.type_name, name, &defn.resource_registry)?;
            // Only values known before anything exists are checked: references to other
            // resources are unknown, and a value built from them is not checked at all.
            let Ok(Value::Object(mut given)) = def.properties.evaluate(&UnknownResources) else {
                continue;
            };
            given.retain(|_, v| !v.is_null());
            ty.validate_with_cloud(cloud, &given)
                .await
                .map_err(|(property, message)| {
                    EngineError::StackValidationFailed(format!(
                        "Property error: resources.{name}.properties.{property}: {message}"
                    ))
                })?;
        }
        Ok(())
    }

    async fn insert_and_start(
        &self,
        cx: &RequestContext,
        stack: &mut StackRecord,
        action: Action,
        reason: &str,
        job: Job,
    ) -> Result<(), EngineError> {
        let engine = &self.engine;
        engine
            .store
            .insert_stack(stack)
            .await
            .map_err(|e| match e {
                StoreError::NameTaken(n) => EngineError::StackExists(n),
                other => store_error(other),
            })?;
        self.lock(stack).await?;
        engine
            .set_stack_state(stack, action, Status::InProgress, reason.to_string())
            .await?;
        engine.spawn(stack.id.clone(), job, self.action_cloud(cx, stack));
        Ok(())
    }

    async fn lock(&self, stack: &StackRecord) -> Result<(), EngineError> {
        let engine = &self.engine;
        match engine
            .store
            .try_lock(&stack.id, &engine.config.engine_id)
            .await
            .map_err(store_error)?
        {
            None => Ok(()),
            Some(_) => Err(EngineError::ActionInProgress {
                stack: stack.name.clone(),
                action: stack.action.to_string(),
            }),
        }
    }

    /// Starts an action on an existing stack: lock, store the in-progress state, spawn.
    async fn start_action(
        &self,
        cx: &RequestContext,
        stack: &mut StackRecord,
        action: Action,
        job: Job,
    ) -> Result<(), EngineError> {
        self.lock(stack).await?;
        let reason = format!("Stack {action} started");
        if let Err(e) = self
            .engine
            .set_stack_state(stack, action, Status::InProgress, reason)
            .await
        {
            // Storing failed: nothing runs, so the lock must not stay held.
            let _ = self
                .engine
                .store
                .unlock(&stack.id, &self.engine.config.engine_id)
                .await;
            return Err(e);
        }
        self.engine
            .spawn(stack.id.clone(), job, self.action_cloud(cx, stack));
        Ok(())
    }

    pub async fn preview_stack(
        &self,
        cx: &RequestContext,
        req: StackRequest,
    ) -> Result<Value, EngineError> {
        let name = req
            .stack_name
            .clone()
            .ok_or_else(|| EngineError::InvalidRequest("No stack name specified".into()))?;
        let mut stack = self.new_record(cx, &name, &req)?;
        stack.id = "None".into();
        let defn = self.compile_checked(&stack)?;
        let mut body = self.format_stack_with(&stack, &defn, false).await?;
        let outputs: Vec<Value> = defn
            .outputs
            .iter()
            .map(|(k, o)| json!({"output_key": k, "output_value": null, "description": o.description}))
            .collect();
        let mut resources = Vec::new();
        for (rname, def) in &defn.resources {
            let props = def
                .properties
                .evaluate(&PlaceholderState)
                .unwrap_or(Value::Null);
            resources.push(self.preview_resource(
                &stack,
                rname,
                &def.type_name,
                &defn,
                Some(props),
            ));
        }
        if let Some(b) = body.as_object_mut() {
            b.insert("outputs".into(), Value::Array(outputs));
            b.insert("resources".into(), Value::Array(resources));
            b.remove("stack_status");
            b.remove("stack_status_reason");
        }
        Ok(body)
    }

    fn preview_resource(
        &self,
        stack: &StackRecord,
        name: &str,
        type_name: &str,
        defn: &StackDefinition,
        properties: Option<Value>,
    ) -> Value {
        let attributes: Map<String, Value> = self
            .engine
            .registry
            .resolve(type_name, name, &defn.resource_registry)
            .map(|t| {
                t.schema()
                    .attributes
                    .keys()
                    .map(|k| (k.clone(), Value::Null))
                    .collect()
            })
            .unwrap_or_default();
        let identity = |path: String| json!({"path": path, "stack_id": stack.id, "stack_name": stack.name, "tenant": stack.project_id});
        let mut out = json!({
            "attributes": attributes,
            "creation_time": null,
            "description": defn.resources.get(name).map(|d| d.description.clone()).unwrap_or_default(),
            "metadata": {},
            "physical_resource_id": "",
            "required_by": required_by(defn, name),
            "resource_action": "INIT",
            "resource_identity": identity(format!("/resources/{name}")),
            "resource_name": name,
            "resource_status": "COMPLETE",
            "resource_status_reason": "",
            "resource_type": type_name,
            "stack_identity": identity(String::new()),
            "stack_name": stack.name,
            "updated_time": null,
        });
        if let (Some(p), Some(o)) = (properties, out.as_object_mut()) {
            o.insert("properties".into(), p);
        }
        out
    }

    /// One page of the stacks `query` selects, as Heat's list rows, and how many stacks match
    /// in all.
    pub async fn list_stacks(
        &self,
        cx: &RequestContext,
        query: StackQuery,
    ) -> Result<(Vec<Value>, u64), EngineError> {
        // Only an admin lists other projects' stacks (`tenant` none: every project).
        let tenant = match cx.is_admin {
            true => query.tenant.clone(),
            false => Some(cx.project_id.clone()),
        };
        let query = StackQuery { tenant, ..query };
        let (stacks, count) = self
            .engine
            .store
            .stack_summaries(&query)
            .await
            .map_err(store_error)?;
        Ok((stacks.iter().map(format_stack_summary).collect(), count))
    }

    /// Finds a stack of the caller's project by name or id (another project's stack is
    /// "not found", never forbidden).
    pub async fn lookup(
        &self,
        cx: &RequestContext,
        name_or_id: &str,
        show_deleted: bool,
    ) -> Result<StackRecord, EngineError> {
        let store = &self.engine.store;
        let by_id = store.stack(name_or_id).await.map_err(store_error)?;
        let found = match by_id {
            Some(s) => Some(s),
            None => store
                .stack_by_name(&cx.project_id, name_or_id)
                .await
                .map_err(store_error)?,
        };
        found
            .filter(|s| s.project_id == cx.project_id || cx.is_admin)
            .filter(|s| show_deleted || s.deleted_at.is_none())
            .ok_or_else(|| EngineError::StackNotFound(name_or_id.to_string()))
    }

    /// `{stack_name, stack_id, tenant, path}` for redirects.
    pub async fn identify_stack(
        &self,
        cx: &RequestContext,
        name_or_id: &str,
    ) -> Result<Value, EngineError> {
        let s = self.lookup(cx, name_or_id, false).await?;
        Ok(json!({"stack_name": s.name, "stack_id": s.id, "tenant": s.project_id, "path": ""}))
    }

    pub async fn show_stack(
        &self,
        cx: &RequestContext,
        name_or_id: &str,
        resolve_outputs: bool,
    ) -> Result<Value, EngineError> {
        let s = self.lookup(cx, name_or_id, true).await?;
        self.format_stack(&s, resolve_outputs).await
    }

    pub async fn update_stack(
        &self,
        cx: &RequestContext,
        name_or_id: &str,
        req: StackRequest,
    ) -> Result<Value, EngineError> {
        let mut stack = self.lookup(cx, name_or_id, false).await?;
        let old = stack.clone();
        self.apply_update_request(&mut stack, &req)?;
        let defn = self.compile_checked(&stack)?;
        stack.previous = Some(PreviousDefinition {
            source: old.source.clone(),
            parameters: old.parameters.clone(),
        });
        self.engine.prepare(&stack, defn);
        let started = self
            .start_action(
                cx,
                &mut stack,
                Action::Update,
                Job::Converge(Action::Update),
            )
            .await;
        if let Err(e) = started {
            self.engine.discard_prepared(&stack.id);
            return Err(e);
        }
        Ok(json!({"id": stack.id, "links": [self.link(&stack)]}))
    }

    /// PUT replaces template and parameters; PATCH (`existing`) keeps what is not given and
    /// resets `clear_parameters`.
    fn apply_update_request(
        &self,
        stack: &mut StackRecord,
        req: &StackRequest,
    ) -> Result<(), EngineError> {
        if req.existing {
            if let Some(t) = &req.template {
                stack.source.template = t.clone();
            }
            for p in &req.clear_parameters {
                stack.parameters.remove(p);
                if let Some(Value::Object(env_params)) =
                    stack.source.environment.get_mut("parameters")
                {
                    env_params.remove(p);
                }
            }
            stack.parameters.extend(req.parameters.clone());
            if let Some(env) = &req.environment {
                stack.source.environment = env.clone();
            }
            stack.source.files.extend(req.files.clone());
            if !req.environment_files.is_empty() {
                stack.source.environment_files = req.environment_files.clone();
                let base = stack.source.environment.clone();
                self.merge_environment_files(stack, Some(&base))?;
            }
        } else {
            stack.source.template = req
                .template
                .clone()
                .ok_or_else(|| EngineError::InvalidRequest("No template specified".into()))?;
            stack.parameters = req.parameters.clone();
            stack.source.environment = req.environment.clone().unwrap_or_else(|| json!({}));
            stack.source.files = req.files.clone();
            stack.source.environment_files = req.environment_files.clone();
            self.merge_environment_files(stack, None)?;
        }
        if let Some(t) = req.timeout_mins {
            stack.timeout_mins = Some(t);
        }
        if let Some(d) = req.disable_rollback {
            stack.disable_rollback = d;
        }
        if req.tags.is_some() {
            stack.tags = parse_tags(req.tags.as_deref());
        }
        Ok(())
    }

    /// The type of resource `name` (`def` in `defn`) and its properties as far as `run`'s stored state
    /// gives them (validated against the schema; empty when they cannot be known yet), for the
    /// update preview and adopt, which act without converging.
    async fn known_properties(
        &self,
        run: &crate::engine::Run,
        defn: &StackDefinition,
        name: &str,
        def: &crate::definition::ResourceDefinition,
    ) -> Result<(Arc<dyn crate::resource::ResourceType>, Map<String, Value>), EngineError> {
        let ty = self
            .engine
            .registry
            .resolve(&def.type_name, name, &defn.resource_registry)?;
        let properties = run
            .evaluate(def.properties.as_ref())
            .await
            .ok()
            .and_then(|v| v.as_object().cloned())
            .and_then(|m| validate_properties(ty.schema(), &m).ok())
            .unwrap_or_default();
        Ok((ty, properties))
    }

    /// `{added, deleted, replaced, updated, unchanged}` lists of Heat's update preview.
    pub async fn preview_update(
        &self,
        cx: &RequestContext,
        name_or_id: &str,
        req: StackRequest,
    ) -> Result<Value, EngineError> {
        let stack = self.lookup(cx, name_or_id, false).await?;
        let mut target = stack.clone();
        self.apply_update_request(&mut target, &req)?;
        let new_defn = self.compile_checked(&target)?;
        self.check_against_cloud(self.request_cloud(cx).as_ref(), &new_defn)
            .await?;
        let rows = self.engine.rows(&stack.id).await?;
        let current: BTreeMap<&str, &ResourceRecord> = rows
            .iter()
            .filter(|r| r.current)
            .map(|r| (r.name.as_str(), r))
            .collect();
        let run = self.engine.snapshot_run(&stack).await?;
        let mut lists: BTreeMap<&str, Vec<Value>> =
            ["added", "deleted", "replaced", "updated", "unchanged"]
                .into_iter()
                .map(|k| (k, Vec::new()))
                .collect();
        for (name, def) in &new_defn.resources {
            let entry = self.preview_resource(&stack, name, &def.type_name, &new_defn, None);
            let Some(row) = current.get(name.as_str()) else {
                lists.entry("added").or_default().push(entry);
                continue;
            };
            let (ty, new_props) = self.known_properties(&run, &new_defn, name, def).await?;
            let changed: Vec<String> = {
                let keys: std::collections::BTreeSet<&String> =
                    row.properties.keys().chain(new_props.keys()).collect();
                keys.into_iter()
                    .filter(|k| row.properties.get(*k) != new_props.get(*k))
                    .cloned()
                    .collect()
            };
            let kind = if row.type_name != def.type_name
                || row.status == Status::Failed && row.action == Action::Create
            {
                "replaced"
            } else if !ty.needs_update(&row.properties, &new_props) {
                "unchanged"
            } else if ty.needs_replace(&changed, &row.properties, &new_props) {
                "replaced"
            } else {
                "updated"
            };
            lists.entry(kind).or_default().push(entry);
        }
        for row in current
            .values()
            .filter(|r| !new_defn.resources.contains_key(&r.name))
        {
            let entry = self.preview_resource(&stack, &row.name, &row.type_name, &new_defn, None);
            lists.entry("deleted").or_default().push(entry);
        }
        Ok(json!({"resource_changes": lists}))
    }

    pub async fn delete_stack(
        &self,
        cx: &RequestContext,
        name_or_id: &str,
    ) -> Result<(), EngineError> {
        let mut stack = self.lookup(cx, name_or_id, false).await?;
        // Heat lets a delete stop an action in progress: stop it here, then delete.
        if self
            .engine
            .request_cancel(&stack.id, CancelMode::NoRollback)
        {
            self.engine.wait_idle(&stack.id).await;
            stack = self.lookup(cx, name_or_id, false).await?;
        }
        self.start_action(
            cx,
            &mut stack,
            Action::Delete,
            Job::Delete { abandon: false },
        )
        .await
    }

    /// Abandon data, then the stack is deleted leaving every physical resource in place.
    pub async fn abandon_stack(
        &self,
        cx: &RequestContext,
        name_or_id: &str,
    ) -> Result<Value, EngineError> {
        if !self.engine.config.enable_abandon {
            return Err(EngineError::NotSupported(
                "Stack Abandon is not supported.".into(),
            ));
        }
        let mut stack = self.lookup(cx, name_or_id, false).await?;
        let data = self.export_data(&stack).await?;
        self.start_action(
            cx,
            &mut stack,
            Action::Delete,
            Job::Delete { abandon: true },
        )
        .await?;
        Ok(data)
    }

    pub async fn export_stack(
        &self,
        cx: &RequestContext,
        name_or_id: &str,
    ) -> Result<Value, EngineError> {
        if !self.engine.config.enable_abandon {
            return Err(EngineError::NotSupported(
                "Stack Abandon is not supported.".into(),
            ));
        }
        let stack = self.lookup(cx, name_or_id, false).await?;
        self.export_data(&stack).await
    }

    async fn export_data(&self, stack: &StackRecord) -> Result<Value, EngineError> {
        let rows = self.engine.rows(&stack.id).await?;
        let resources: Map<String, Value> = rows
            .iter()
            .filter(|r| r.current)
            .map(|r| {
                (
                    r.name.clone(),
                    json!({
                        "name": r.name,
                        "resource_id": r.physical_id,
                        "type": r.type_name,
                        "action": r.action.as_str(),
                        "status": r.status.as_str(),
                        "metadata": r.metadata,
                        "resource_data": r.data,
                    }),
                )
            })
            .collect();
        Ok(json!({
            "name": stack.name,
            "id": stack.id,
            "action": stack.action.as_str(),
            "status": stack.status.as_str(),
            "template": template_as_json(&stack.source.template),
            "environment": self.environment_body(stack, false),
            "files": stack.source.files,
            "resources": resources,
            "project_id": stack.project_id,
            "stack_user_project_id": null,
            "tags": stack.tags,
        }))
    }

    async fn adopt(
        &self,
        cx: &RequestContext,
        name: String,
        req: &StackRequest,
        data: Value,
    ) -> Result<Value, EngineError> {
        let mut req = req.clone();
        if req.template.is_none() {
            req.template = data.get("template").cloned();
        }
        let mut stack = self.new_record(cx, &name, &req)?;
        let defn = self.compile_checked(&stack)?;
        let adopted = data
            .get("resources")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        self.delegate(cx, &mut stack).await?;
        if let Err(e) = self.engine.store.insert_stack(&stack).await {
            self.engine.revoke_trust(&stack).await;
            return Err(match e {
                StoreError::NameTaken(n) => EngineError::StackExists(n),
                other => store_error(other),
            });
        }
        self.lock(&stack).await?;
        self.engine
            .set_stack_state(
                &mut stack,
                Action::Adopt,
                Status::InProgress,
                "Stack ADOPT started".into(),
            )
            .await?;
        // Adopted resources are stored as they are; the converge that follows only checks
        // them against the template (and creates what the data lacks).
        let mut writes = Vec::new();
        let run = self.engine.snapshot_run_with(&stack, defn.clone()).await?;
        for (rname, def) in &defn.resources {
            let Some(r) = adopted.get(rname) else {
                continue;
            };
            let data: BTreeMap<String, String> = r
                .get("resource_data")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                v.as_str().map_or_else(|| v.to_string(), str::to_string),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let (_, props) = self.known_properties(&run, &defn, rname, def).await?;
            let now = Utc::now();
            let row = ResourceRecord {
                id: uuid::Uuid::new_v4().to_string(),
                stack_id: stack.id.clone(),
                name: rname.clone(),
                type_name: def.type_name.clone(),
                physical_id: r
                    .get("resource_id")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                action: Action::Adopt,
                status: Status::Complete,
                status_reason: "state changed".into(),
                properties: props,
                metadata: r.get("metadata").cloned().unwrap_or(json!({})),
                data,
                current: true,
                requires: def.requires.iter().cloned().collect(),
                short_id: uuid::Uuid::new_v4().simple().to_string()[..12].to_string(),
                deletion_policy: def.deletion_policy,
                external_id: def.external_id.clone(),
                created_at: Some(now),
                updated_at: Some(now),
            };
            writes.push(Write::Event(Box::new(resource_event(&row))));
            writes.push(Write::Resource(Box::new(row)));
        }
        self.engine.commit(writes).await?;
        self.engine.spawn(
            stack.id.clone(),
            Job::Converge(Action::Adopt),
            self.action_cloud(cx, &stack),
        );
        Ok(json!({"id": stack.id, "links": [self.link(&stack)]}))
    }

    pub async fn get_template(
        &self,
        cx: &RequestContext,
        name_or_id: &str,
    ) -> Result<Value, EngineError> {
        let s = self.lookup(cx, name_or_id, true).await?;
        Ok(template_as_json(&s.source.template))
    }

    pub async fn get_environment(
        &self,
        cx: &RequestContext,
        name_or_id: &str,
    ) -> Result<Value, EngineError> {
        let s = self.lookup(cx, name_or_id, true).await?;
        let mut body = self.environment_body(&s, true);
        // Heat's environment show names the parameters its `encrypt_parameters_and_properties`
        // option encrypted: none by default (hidden values here are masked instead).
        body["encrypted_param_names"] = json!([]);
        Ok(body)
    }

    /// The stored environment with the request's parameters over its own. `mask_hidden` shows
    /// hidden values as `******` wherever they were given (environment show); abandon data
    /// keeps them, since adopting the stack again needs them.
    fn environment_body(&self, s: &StackRecord, mask_hidden: bool) -> Value {
        let env = s
            .source
            .environment
            .as_object()
            .cloned()
            .unwrap_or_default();
        let hidden = if mask_hidden {
            hidden_parameter_names(&s.source.template)
        } else {
            Vec::new()
        };
        let section = |name: &str| {
            let mut values = env
                .get(name)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            if name == "parameters" {
                values.extend(s.parameters.clone());
            }
            for name in &hidden {
                if let Some(v) = values.get_mut(name) {
                    *v = json!("******");
                }
            }
            values
        };
        let mut registry = env
            .get("resource_registry")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        registry.entry("resources").or_insert_with(|| json!({}));
        json!({
            "event_sinks": env.get("event_sinks").cloned().unwrap_or(json!([])),
            "parameter_defaults": section("parameter_defaults"),
            "parameters": section("parameters"),
            "resource_registry": registry,
        })
    }

    pub async fn get_files(
        &self,
        cx: &RequestContext,
        name_or_id: &str,
    ) -> Result<Value, EngineError> {
        let s = self.lookup(cx, name_or_id, true).await?;
        Ok(Value::Object(s.source.files))
    }

    // ---- outputs ---------------------------------------------------------------------------

    pub async fn list_outputs(
        &self,
        cx: &RequestContext,
        name_or_id: &str,
    ) -> Result<Vec<Value>, EngineError> {
        let s = self.lookup(cx, name_or_id, true).await?;
        let defn = self.engine.compile(&s)?;
        Ok(defn
            .outputs
            .iter()
            .map(|(k, o)| json!({"output_key": k, "description": o.description}))
            .collect())
    }

    pub async fn show_output(
        &self,
        cx: &RequestContext,
        name_or_id: &str,
        key: &str,
    ) -> Result<Value, EngineError> {
        let s = self.lookup(cx, name_or_id, true).await?;
        let defn = self.engine.compile(&s)?;
        if !defn.outputs.contains_key(key) {
            return Err(EngineError::OutputNotFound(key.to_string()));
        }
        let all = self.resolve_outputs(&s, defn).await;
        all.into_iter()
            .find(|o| o.get("output_key").and_then(Value::as_str) == Some(key))
            .ok_or_else(|| EngineError::OutputNotFound(key.to_string()))
    }

    async fn resolve_outputs(&self, s: &StackRecord, defn: StackDefinition) -> Vec<Value> {
        let outputs: Vec<(String, crate::definition::OutputDefinition)> = defn
            .outputs
            .iter()
            .map(|(k, o)| (k.clone(), o.clone()))
            .collect();
        let mut out = Vec::new();
        let run = match self.engine.snapshot_run_with(s, defn).await {
            Ok(r) => r,
            Err(_) => return out,
        };
        for (key, o) in outputs {
            let mut entry = json!({"output_key": key, "description": o.description});
            match run.evaluate(o.value.as_ref()).await {
                Ok(v) => {
                    entry["output_value"] = v;
                }
                Err(e) => {
                    entry["output_value"] = Value::Null;
                    entry["output_error"] = json!(e);
                }
            }
            out.push(entry);
        }
        out
    }

    // ---- actions ---------------------------------------------------------------------------

    pub async fn stack_action(
        &self,
        cx: &RequestContext,
        name_or_id: &str,
        action: StackAction,
    ) -> Result<(), EngineError> {
        let mut stack = self.lookup(cx, name_or_id, false).await?;
        match action {
            StackAction::Suspend => {
                self.start_action(cx, &mut stack, Action::Suspend, Job::Walk(Action::Suspend))
                    .await
            }
            StackAction::Resume => {
                self.start_action(cx, &mut stack, Action::Resume, Job::Walk(Action::Resume))
                    .await
            }
            StackAction::Check => {
                self.start_action(cx, &mut stack, Action::Check, Job::Walk(Action::Check))
                    .await
            }
            StackAction::CancelUpdate | StackAction::CancelWithoutRollback => {
                if !(stack.action == Action::Update && stack.status == Status::InProgress) {
                    return Err(EngineError::NotSupported(format!(
                        "Cancelling update when stack is {}_{} is not supported.",
                        stack.action, stack.status
                    )));
                }
                let mode = if action == StackAction::CancelUpdate {
                    CancelMode::Rollback
                } else {
                    CancelMode::NoRollback
                };
                stack.cancel = Some(mode);
                self.engine
                    .commit(vec![Write::Stack(Box::new(stack.clone()))])
                    .await?;
                self.engine.request_cancel(&stack.id, mode);
                Ok(())
            }
        }
    }

    // ---- resources -------------------------------------------------------------------------

    async fn current_rows(&self, stack: &StackRecord) -> Result<Vec<ResourceRecord>, EngineError> {
        Ok(self
            .engine
            .rows(&stack.id)
            .await?
            .into_iter()
            .filter(|r| r.current)
            .collect())
    }

    pub async fn list_resources(
        &self,
        cx: &RequestContext,
        name_or_id: &str,
        with_detail: bool,
    ) -> Result<Vec<Value>, EngineError> {
        let s = self.lookup(cx, name_or_id, true).await?;
        let rows = self.current_rows(&s).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut body = self.format_resource(&s, r, &rows, with_detail);
            // Heat's detailed list shows each resource's attribute values, as show does.
            if let (true, Some(b)) = (with_detail, body.as_object_mut()) {
                let attributes = self.resource_attributes(&s, r, &[]).await;
                b.insert("attributes".into(), Value::Object(attributes));
            }
            out.push(body);
        }
        Ok(out)
    }

    pub async fn show_resource(
        &self,
        cx: &RequestContext,
        name_or_id: &str,
        resource: &str,
        with_attr: &[String],
    ) -> Result<Value, EngineError> {
        let s = self.lookup(cx, name_or_id, true).await?;
        let rows = self.current_rows(&s).await?;
        let row = rows.iter().find(|r| r.name == resource).ok_or_else(|| {
            EngineError::ResourceNotFound {
                resource: resource.to_string(),
                stack: s.name.clone(),
            }
        })?;
        let mut body = self.format_resource(&s, row, &rows, true);
        let attributes = self.resource_attributes(&s, row, with_attr).await;
        if let Some(b) = body.as_object_mut() {
            b.insert("attributes".into(), Value::Object(attributes));
        }
        Ok(body)
    }

    /// The values of a resource's schema attributes and of `extra` ones (null when unknown).
    async fn resource_attributes(
        &self,
        s: &StackRecord,
        row: &ResourceRecord,
        extra: &[String],
    ) -> Map<String, Value> {
        let mut attributes = Map::new();
        let Ok((ty, cx)) = self.handler(s, row) else {
            return attributes;
        };
        let names: Vec<String> = ty
            .schema()
            .attributes
            .keys()
            .cloned()
            .chain(extra.iter().cloned())
            .collect();
        for attr in names {
            let v = ty
                .attribute(&cx, &attr)
                .await
                .ok()
                .flatten()
                .unwrap_or(Value::Null);
            attributes.insert(attr, v);
        }
        attributes
    }

    pub async fn resource_metadata(
        &self,
        cx: &RequestContext,
        name_or_id: &str,
        resource: &str,
    ) -> Result<Value, EngineError> {
        let s = self.lookup(cx, name_or_id, true).await?;
        let row = self.find_row(&s, resource).await?;
        let Ok((ty, rcx)) = self.handler(&s, &row) else {
            return Ok(row.metadata);
        };
        ty.shown_metadata(&rcx)
            .await
            .map_err(|e| EngineError::Store(e.to_string()))
    }

    /// The type of a stored resource and the context its handlers see outside an action.
    fn handler(
        &self,
        s: &StackRecord,
        row: &ResourceRecord,
    ) -> Result<(Arc<dyn ResourceType>, ResourceContext), EngineError> {
        let ty = self.engine.registry.resolve(
            &row.type_name,
            &row.name,
            &run_registry(&self.engine, s),
        )?;
        let cx = self
            .engine
            .context(&s.id, &s.name, self.engine.stack_cloud(s), row, row.action);
        Ok((ty, cx))
    }

    async fn find_row(
        &self,
        s: &StackRecord,
        resource: &str,
    ) -> Result<ResourceRecord, EngineError> {
        self.current_rows(s)
            .await?
            .into_iter()
            .find(|r| r.name == resource)
            .ok_or_else(|| EngineError::ResourceNotFound {
                resource: resource.to_string(),
                stack: s.name.clone(),
            })
    }

    pub async fn signal_resource(
        &self,
        cx: &RequestContext,
        name_or_id: &str,
        resource: &str,
        details: Value,
    ) -> Result<(), EngineError> {
        let s = self.lookup(cx, name_or_id, false).await?;
        let mut row = self.find_row(&s, resource).await?;
        let (ty, rcx) = self.handler(&s, &row)?;
        if let Some(hook) = details.get("unset_hook") {
            return self.clear_hook(row, resource, hook).await;
        }
        match ty.handle_signal(&rcx, &details).await {
            Ok(data) => {
                row.data.extend(data);
                // Heat records every signal as a SIGNAL event with the signal's summary.
                self.store_row_with_event(row, |event| {
                    event.action = Action::Signal;
                    event.reason = signal_summary(&details);
                })
                .await
            }
            Err(crate::error::ResourceError::NotSupported(action)) => {
                Err(EngineError::ResourceActionNotSupported { action })
            }
            Err(e) => Err(EngineError::InvalidRequest(
                e.located(&format!("resources.{resource}")),
            )),
        }
    }

    /// `hook poll`: the resources of the stack (and of its nested stacks down to
    /// `nested_depth`) paused on a hook, one row per pending hook.
    pub async fn hook_poll(
        &self,
        cx: &RequestContext,
        name_or_id: &str,
        nested_depth: u32,
    ) -> Result<Vec<Value>, EngineError> {
        let root = self.lookup(cx, name_or_id, true).await?;
        let mut pending = Vec::new();
        for (stack_id, _) in self.nested_stacks(cx, &root.id, nested_depth).await? {
            let stack = self.lookup(cx, &stack_id, true).await?;
            for row in self
                .engine
                .rows(&stack_id)
                .await?
                .into_iter()
                .filter(|r| r.current)
            {
                for hook in row.data.keys().filter_map(|k| k.strip_prefix("hook:")) {
                    pending.push(json!({
                        "resource_name": row.name,
                        "stack_name": stack.name,
                        "stack_id": stack.id,
                        "hook_type": hook,
                        "resource_status": row.status_string(),
                        "resource_status_reason": row.status_reason,
                    }));
                }
            }
        }
        Ok(pending)
    }

    /// The signal `{"unset_hook": "<hook>"}`: releases a resource paused on that hook.
    async fn clear_hook(
        &self,
        mut row: ResourceRecord,
        resource: &str,
        hook: &Value,
    ) -> Result<(), EngineError> {
        let hook = hook.as_str().unwrap_or_default();
        let described = format!("{} \"{resource}\"", row.type_name);
        if crate::engine::hooks::hook_named(hook).is_none() {
            return Err(EngineError::InvalidRequest(format!(
                "Invalid hook type \"{hook}\" for {described}"
            )));
        }
        if row
            .data
            .remove(&crate::engine::hooks::hook_key(hook))
            .is_none()
        {
            return Err(EngineError::InvalidRequest(format!(
                "The \"{hook}\" hook is not defined on {described}"
            )));
        }
        self.store_row_with_event(row, |event| {
            event.reason = format!("Hook {hook} is cleared")
        })
        .await
    }

    /// Stores a row changed outside any stack action (a signal, a cleared hook, a health mark)
    /// together with the event recording the change; `amend` makes the event say what Heat's
    /// says for that change.
    async fn store_row_with_event(
        &self,
        row: ResourceRecord,
        amend: impl FnOnce(&mut EventRecord),
    ) -> Result<(), EngineError> {
        let mut event = resource_event(&row);
        amend(&mut event);
        self.engine
            .commit(vec![
                Write::Resource(Box::new(row)),
                Write::Event(Box::new(event)),
            ])
            .await
    }

    /// `PATCH .../resources/{res}`: `mark_unhealthy` true sets CHECK_FAILED; false resets a
    /// CHECK_FAILED resource to CHECK_COMPLETE.
    pub async fn mark_unhealthy(
        &self,
        cx: &RequestContext,
        name_or_id: &str,
        resource: &str,
        unhealthy: bool,
        reason: Option<String>,
    ) -> Result<(), EngineError> {
        let s = self.lookup(cx, name_or_id, false).await?;
        let mut row = self.find_row(&s, resource).await?;
        let reason =
            reason.unwrap_or_else(|| "state changed by resource_mark_unhealthy api".into());
        if unhealthy {
            row.action = Action::Check;
            row.status = Status::Failed;
        } else if row.action == Action::Check && row.status == Status::Failed {
            row.status = Status::Complete;
        } else {
            return Ok(());
        }
        row.status_reason = reason;
        row.updated_at = Some(Utc::now());
        self.store_row_with_event(row, |_| {}).await
    }

    // ---- events ----------------------------------------------------------------------------

    pub async fn list_events(
        &self,
        cx: &RequestContext,
        name_or_id: &str,
        query: &EventQuery,
    ) -> Result<Vec<Value>, EngineError> {
        let s = self.lookup(cx, name_or_id, true).await?;
        let mut events = self.engine.store.events(&s.id).await.map_err(store_error)?;
        if let Some(r) = &query.resource_name {
            events.retain(|e| &e.resource_name == r);
        }
        if !query.ascending {
            events.reverse();
        }
        if let Some(marker) = &query.marker {
            match events.iter().position(|e| &e.id == marker) {
                Some(i) => {
                    events.drain(..=i);
                }
                None => return Err(EngineError::EventNotFound(marker.clone())),
            }
        }
        if let Some(limit) = query.limit {
            events.truncate(limit);
        }
        Ok(events
            .iter()
            .map(|e| self.format_event(&s, e, false))
            .collect())
    }

    pub async fn show_event(
        &self,
        cx: &RequestContext,
        name_or_id: &str,
        resource: &str,
        event_id: &str,
    ) -> Result<Value, EngineError> {
        let s = self.lookup(cx, name_or_id, true).await?;
        let events = self.engine.store.events(&s.id).await.map_err(store_error)?;
        events
            .iter()
            .find(|e| e.id == event_id && e.resource_name == resource)
            .map(|e| self.format_event(&s, e, true))
            .ok_or_else(|| EngineError::EventNotFound(event_id.to_string()))
    }

    // ---- snapshots -------------------------------------------------------------------------

    pub async fn create_snapshot(
        &self,
        cx: &RequestContext,
        name_or_id: &str,
        name: Option<String>,
    ) -> Result<Value, EngineError> {
        let mut stack = self.lookup(cx, name_or_id, false).await?;
        self.lock(&stack).await?;
        let result = self.take_snapshot(&mut stack, name).await;
        self.engine
            .store
            .unlock(&stack.id, &self.engine.config.engine_id)
            .await
            .map_err(store_error)?;
        result
    }

    async fn take_snapshot(
        &self,
        stack: &mut StackRecord,
        name: Option<String>,
    ) -> Result<Value, EngineError> {
        let engine = &self.engine;
        engine
            .set_stack_state(
                stack,
                Action::Snapshot,
                Status::InProgress,
                "Stack SNAPSHOT started".into(),
            )
            .await?;
        let mut data = self.export_data(stack).await?;
        let rows = self.current_rows(stack).await?;
        let mut failure = None;
        for row in &rows {
            let Ok(ty) =
                engine
                    .registry
                    .resolve(&row.type_name, &row.name, &run_registry(engine, stack))
            else {
                continue;
            };
            let rcx = self.engine.context(
                &stack.id,
                &stack.name,
                engine.stack_cloud(stack),
                row,
                Action::Snapshot,
            );
            match ty.snapshot(&rcx).await {
                Ok(d) => {
                    if let Some(r) = data.pointer_mut(&format!(
                        "/resources/{}",
                        row.name.replace('~', "~0").replace('/', "~1")
                    )) {
                        r["resource_data"] = json!(d);
                        r["action"] = json!("SNAPSHOT");
                        r["status"] = json!("COMPLETE");
                    }
                }
                Err(e) => {
                    failure.get_or_insert(format!(
                        "Resource SNAPSHOT failed: {}",
                        e.located(&format!("resources.{}", row.name))
                    ));
                }
            }
        }
        data["action"] = json!("SNAPSHOT");
        let (status, reason) = match &failure {
            None => (
                Status::Complete,
                "Stack SNAPSHOT completed successfully".to_string(),
            ),
            Some(r) => (Status::Failed, r.clone()),
        };
        data["status"] = json!(status.as_str());
        let snapshot = SnapshotRecord {
            id: uuid::Uuid::new_v4().to_string(),
            stack_id: stack.id.clone(),
            name,
            status,
            status_reason: Some(reason.clone()),
            data,
            created_at: Utc::now(),
        };
        engine
            .commit(vec![Write::Snapshot(Box::new(snapshot.clone()))])
            .await?;
        engine
            .set_stack_state(stack, Action::Snapshot, status, reason)
            .await?;
        Ok(format_snapshot(&snapshot))
    }

    pub async fn list_snapshots(
        &self,
        cx: &RequestContext,
        name_or_id: &str,
    ) -> Result<Vec<Value>, EngineError> {
        let s = self.lookup(cx, name_or_id, true).await?;
        let snaps = self
            .engine
            .store
            .snapshots(&s.id)
            .await
            .map_err(store_error)?;
        Ok(snaps.iter().map(format_snapshot).collect())
    }

    async fn find_snapshot(
        &self,
        s: &StackRecord,
        id: &str,
    ) -> Result<SnapshotRecord, EngineError> {
        self.engine
            .store
            .snapshots(&s.id)
            .await
            .map_err(store_error)?
            .into_iter()
            .find(|x| x.id == id)
            .ok_or_else(|| EngineError::SnapshotNotFound(id.to_string()))
    }

    pub async fn show_snapshot(
        &self,
        cx: &RequestContext,
        name_or_id: &str,
        id: &str,
    ) -> Result<Value, EngineError> {
        let s = self.lookup(cx, name_or_id, true).await?;
        Ok(format_snapshot(&self.find_snapshot(&s, id).await?))
    }

    pub async fn delete_snapshot(
        &self,
        cx: &RequestContext,
        name_or_id: &str,
        id: &str,
    ) -> Result<(), EngineError> {
        let s = self.lookup(cx, name_or_id, true).await?;
        let snap = self.find_snapshot(&s, id).await?;
        snapshot::delete_snapshot(&self.engine, &s, &snap).await
    }

    /// Restores the snapshot's template, environment and resource data, then converges to it.
    pub async fn restore_snapshot(
        &self,
        cx: &RequestContext,
        name_or_id: &str,
        id: &str,
    ) -> Result<(), EngineError> {
        let mut stack = self.lookup(cx, name_or_id, false).await?;
        let snap = self.find_snapshot(&stack, id).await?;
        stack.previous = Some(PreviousDefinition {
            source: stack.source.clone(),
            parameters: stack.parameters.clone(),
        });
        if let Some(t) = snap.data.get("template") {
            stack.source.template = t.clone();
        }
        if let Some(Value::Object(env)) = snap.data.get("environment") {
            stack.parameters = env
                .get("parameters")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
        }
        let mut rows = self.current_rows(&stack).await?;
        let snap_resources = snap
            .data
            .get("resources")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        // A template that no longer compiles is left to the converge, which reports it.
        if let Ok(defn) = self.engine.compile(&stack) {
            snapshot::apply_restore_properties(
                &mut stack.source.template,
                &defn,
                &self.engine.registry,
                &snap_resources,
            )?;
        }
        let mut writes = Vec::new();
        for row in rows.iter_mut() {
            if let Some(saved) = snap_resources.get(&row.name) {
                let same =
                    saved.get("resource_id").and_then(Value::as_str) == row.physical_id.as_deref();
                if let (true, Some(data)) = (same, snapshot::resource_data(saved)) {
                    row.data = data;
                    writes.push(Write::Resource(Box::new(row.clone())));
                }
            }
        }
        self.lock(&stack).await?;
        let engine = &self.engine;
        let stored = async {
            engine.commit(writes).await?;
            engine
                .set_stack_state(
                    &mut stack,
                    Action::Restore,
                    Status::InProgress,
                    "Stack RESTORE started".into(),
                )
                .await
        }
        .await;
        if let Err(e) = stored {
            let _ = engine
                .store
                .unlock(&stack.id, &engine.config.engine_id)
                .await;
            return Err(e);
        }
        engine.spawn(
            stack.id.clone(),
            Job::Converge(Action::Restore),
            self.action_cloud(cx, &stack),
        );
        Ok(())
    }

    /// The engine's store, for the facade's other modules.
    pub(crate) fn state_store(&self) -> &dyn StateStore {
        self.engine.store.as_ref()
    }

    // ---- templates and types ---------------------------------------------------------------

    /// Heat's validate call; `show_nested` adds the nested templates' `NestedParameters`.
    pub fn validate_template(
        &self,
        req: &StackRequest,
        show_nested: bool,
    ) -> Result<Value, EngineError> {
        let source = TemplateSource {
            template: req
                .template
                .clone()
                .ok_or_else(|| EngineError::InvalidRequest("No template specified".into()))?,
            environment: req.environment.clone().unwrap_or_else(|| json!({})),
            files: req.files.clone(),
            environment_files: req.environment_files.clone(),
            facade: Value::Null,
        };
        let validation = self
            .engine
            .compiler
            .validate(&source, &req.parameters, show_nested)?;
        let identity = StackIdentity {
            stack_id: String::new(),
            stack_name: "dummy".into(),
            project_id: String::new(),
        };
        match self
            .engine
            .compiler
            .compile(&source, &req.parameters, &identity)
        {
            Ok(defn) => self.check_resources(&defn)?,
            // Heat validates without values for parameters that have none: the stack cannot
            // be compiled then and properties are not checked, but every active resource's
            // type still must be known (`The Resource Type (X) could not be found.`).
            Err(_) => {
                let registry = self
                    .engine
                    .compiler
                    .resource_registry(&source, &req.parameters)?;
                for (name, type_name) in &validation.resource_types {
                    self.engine.registry.resolve(type_name, name, &registry)?;
                }
            }
        }
        Ok(validation.answer)
    }

    pub fn list_resource_types(&self) -> Vec<String> {
        self.engine
            .registry
            .names()
            .filter(|n| {
                self.engine
                    .registry
                    .get(n)
                    .is_some_and(|t| t.schema().support_status != "HIDDEN")
            })
            .map(str::to_string)
            .collect()
    }

    pub fn resource_type_schema(&self, type_name: &str) -> Result<Value, EngineError> {
        let ty = self
            .engine
            .registry
            .get(type_name)
            .ok_or_else(|| EngineError::ResourceTypeNotFound(type_name.to_string()))?;
        let schema = ty.schema();
        let mut attributes: Map<String, Value> = schema
            .attributes
            .iter()
            .map(|(k, a)| {
                let mut v = json!({"description": a.description});
                if let Some(kind) = a.kind {
                    v["type"] = json!(kind);
                }
                (k.clone(), v)
            })
            .collect();
        attributes.insert(
            "show".into(),
            json!({"description": "Detailed information about resource.", "type": "map"}),
        );
        let properties: Map<String, Value> = schema
            .properties
            .iter()
            .map(|(k, p)| (k.clone(), p.to_json()))
            .collect();
        Ok(json!({
            "resource_type": type_name,
            "properties": properties,
            "attributes": attributes,
            "support_status": {
                "status": schema.support_status,
                "version": schema.since_version,
                "message": null,
                "previous_status": null
            },
            "description": schema.description,
        }))
    }

    // ---- formatting ------------------------------------------------------------------------

    fn link(&self, s: &StackRecord) -> Value {
        json!({"href": stack_path(s), "rel": "self"})
    }

    async fn format_stack(
        &self,
        s: &StackRecord,
        resolve_outputs: bool,
    ) -> Result<Value, EngineError> {
        let defn = self.engine.compile(s).unwrap_or_default();
        self.format_stack_with(s, &defn, resolve_outputs).await
    }

    async fn format_stack_with(
        &self,
        s: &StackRecord,
        defn: &StackDefinition,
        resolve_outputs: bool,
    ) -> Result<Value, EngineError> {
        let mut body = json!({
            "capabilities": [],
            "creation_time": heat_time(&s.created_at),
            "deletion_time": s.deleted_at.as_ref().map(heat_time),
            "description": defn.description,
            "disable_rollback": s.disable_rollback,
            "id": s.id,
            "links": [self.link(s)],
            "notification_topics": [],
            "parameters": defn.parameters,
            "parent": s.parent,
            "stack_name": s.name,
            "stack_owner": s.username,
            "stack_status": format!("{}_{}", s.action, s.status),
            "stack_status_reason": s.status_reason,
            "stack_user_project_id": null,
            "tags": tags_value(&s.tags),
            "template_description": defn.description,
            "timeout_mins": s.timeout_mins,
            "updated_time": s.updated_at.as_ref().map(heat_time),
        });
        if resolve_outputs {
            // Without outputs nothing is evaluated: no copy of the definition, no rows read.
            let outputs = if defn.outputs.is_empty() {
                Vec::new()
            } else {
                self.resolve_outputs(s, defn.clone()).await
            };
            body["outputs"] = Value::Array(outputs);
        }
        Ok(body)
    }

    fn format_resource(
        &self,
        s: &StackRecord,
        r: &ResourceRecord,
        all: &[ResourceRecord],
        detail: bool,
    ) -> Value {
        let required_by: Vec<&str> = all
            .iter()
            .filter(|o| o.requires.iter().any(|n| n == &r.name))
            .map(|o| o.name.as_str())
            .collect();
        let mut body = json!({
            "creation_time": r.created_at.as_ref().map(heat_time),
            "links": [
                {"href": format!("{}/resources/{}", stack_path(s), r.name), "rel": "self"},
                {"href": stack_path(s), "rel": "stack"},
            ],
            "logical_resource_id": r.name,
            "physical_resource_id": r.physical_id.clone().unwrap_or_default(),
            "required_by": required_by,
            "resource_name": r.name,
            "resource_status": r.status_string(),
            "resource_status_reason": r.status_reason,
            "resource_type": r.type_name,
            "updated_time": r.updated_at.as_ref().map(heat_time),
        });
        if detail {
            body["description"] = json!("");
        }
        body
    }

    fn format_event(&self, s: &StackRecord, e: &EventRecord, detail: bool) -> Value {
        let resource_path = format!("{}/resources/{}", stack_path(s), e.resource_name);
        let mut body = json!({
            "event_time": heat_time(&e.time),
            "id": e.id,
            "links": [
                {"href": format!("{resource_path}/events/{}", e.id), "rel": "self"},
                {"href": resource_path, "rel": "resource"},
                {"href": stack_path(s), "rel": "stack"},
            ],
            "logical_resource_id": e.resource_name,
            "physical_resource_id": e.physical_id,
            "resource_name": e.resource_name,
            "resource_status": format!("{}_{}", e.action, e.status),
            "resource_status_reason": e.reason,
        });
        if detail {
            body["resource_type"] = json!(e.resource_type);
            body["resource_properties"] = e.properties.clone();
        }
        body
    }
}

/// Resolves references to nothing (refs to the resource name, attributes to null), as Heat's
/// validation does before resources exist.
pub(crate) struct PlaceholderState;

impl crate::definition::Resolver for PlaceholderState {
    fn resource_ref(&self, name: &str) -> Option<Value> {
        Some(Value::String(name.to_string()))
    }
    fn resource_attr(&self, _: &str, _: &str, _: &[Value]) -> Result<Value, String> {
        Ok(Value::Null)
    }
    fn resource_attrs(&self, _: &str) -> Result<Value, String> {
        Ok(Value::Null)
    }
}

/// Resolves every reference to another resource as unknown (null).
struct UnknownResources;

impl crate::definition::Resolver for UnknownResources {
    fn resource_ref(&self, _: &str) -> Option<Value> {
        Some(Value::Null)
    }
    fn resource_attr(&self, _: &str, _: &str, _: &[Value]) -> Result<Value, String> {
        Ok(Value::Null)
    }
    fn resource_attrs(&self, _: &str) -> Result<Value, String> {
        Ok(Value::Null)
    }
}

pub(crate) fn run_registry(engine: &EngineInner, s: &StackRecord) -> Value {
    engine
        .compile(s)
        .map(|d| d.resource_registry)
        .unwrap_or(Value::Null)
}

fn required_by(defn: &StackDefinition, name: &str) -> Vec<String> {
    defn.resources
        .iter()
        .filter(|(_, d)| d.requires.contains(name))
        .map(|(n, _)| n.clone())
        .collect()
}

/// The reason of a signal's event, as Heat words it: an alarm transition for Aodh's bodies,
/// the text of a string signal, otherwise `Unknown`.
fn signal_summary(details: &Value) -> String {
    match details {
        Value::Null => "No signal details provided".into(),
        Value::String(s) => s.clone(),
        Value::Object(m)
            if ["previous", "current", "reason"]
                .iter()
                .all(|k| m.contains_key(*k)) =>
        {
            let text = |k: &str| crate::schema::python_str(&m[k]);
            format!(
                "alarm state changed from {} to {} ({})",
                text("previous"),
                text("current"),
                text("reason")
            )
        }
        _ => "Unknown".into(),
    }
}

fn resource_event(row: &ResourceRecord) -> EventRecord {
    EventRecord {
        id: uuid::Uuid::new_v4().to_string(),
        stack_id: row.stack_id.clone(),
        seq: 0,
        resource_name: row.name.clone(),
        physical_id: row.physical_id.clone().unwrap_or_default(),
        resource_type: row.type_name.clone(),
        action: row.action,
        status: row.status,
        reason: row.status_reason.clone(),
        properties: Value::Object(row.properties.clone()),
        time: Utc::now(),
    }
}

fn format_snapshot(s: &SnapshotRecord) -> Value {
    json!({
        "id": s.id,
        "name": s.name,
        "status": s.status.as_str(),
        "status_reason": s.status_reason,
        "data": s.data,
        "creation_time": heat_time(&s.created_at),
        "action": "CREATE",
    })
}

/// The path of a stack's canonical URL; the API prefixes scheme and host.
fn format_stack_summary(s: &ember_store::StackSummary) -> Value {
    json!({
        "creation_time": heat_time(&s.created_at),
        "deletion_time": s.deleted_at.as_ref().map(heat_time),
        "description": "",
        "id": s.id,
        "links": [{"href": format!("/v1/{}/stacks/{}/{}", s.tenant, s.name, s.id), "rel": "self"}],
        "parent": s.owner_id,
        "project": s.tenant,
        "stack_name": s.name,
        "stack_owner": s.username,
        "stack_status": format!("{}_{}", s.action, s.status),
        "stack_status_reason": s.status_reason,
        "stack_user_project_id": null,
        "tags": tags_value(&s.tags),
        "updated_time": s.updated_at.as_ref().map(heat_time),
    })
}

pub(crate) fn stack_path(s: &StackRecord) -> String {
    format!("/v1/{}/stacks/{}/{}", s.project_id, s.name, s.id)
}

fn parse_tags(tags: Option<&str>) -> Vec<String> {
    tags.map(|t| {
        t.split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

fn tags_value(tags: &[String]) -> Value {
    if tags.is_empty() {
        Value::Null
    } else {
        json!(tags)
    }
}

fn store_error(e: StoreError) -> EngineError {
    EngineError::Store(e.to_string())
}
