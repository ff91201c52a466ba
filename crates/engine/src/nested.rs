//! Nested stacks: the engine's side of stack-backed resources (provider templates,
//! `OS::Heat::Stack`, groups).
//!
//! A stack-backed resource owns one child stack: a real stack row whose `parent` is the
//! parent stack's id, with its own resources, events, lock and background action. The
//! resource's physical id is the child's id. The resource starts child actions through
//! [`StackControl`] and its `check_*_complete` polls the child's status, so the parent's graph
//! waits on the child without holding anything but a poll; an engine restart finds the child's
//! action continuing (or resumed by `recover`) and the parent polling it again.
//!
//! Resource types reach the engine through a [`StackHandle`] that the engine fills when the
//! service is built ([`crate::registry::Registry::attach`]); the handle holds the engine weakly,
//! so the registry inside the engine does not keep the engine alive.

use crate::definition::{Evaluate, Resolver, StackDefinition, TemplateSource};
use crate::engine::{EngineInner, Job};
use crate::error::{EngineError, ResourceError};
use crate::model::{Action, PreviousDefinition, StackRecord, Status};
use crate::resource::{Progress, ResourceContext};
use crate::stack_domain::{StackScope, StackUsers};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

/// How often a parent resource polls its child stack.
const CHILD_POLL: Duration = Duration::from_millis(20);

/// The template of a child stack, as a stack-backed resource builds it.
#[derive(Debug, Clone, Default)]
pub struct ChildTemplate {
    /// Template text or a template document.
    pub template: Value,
    /// The child's parameters (a provider's properties).
    pub parameters: Map<String, Value>,
}

/// Where the child stack of a stack-backed resource takes its template from, as validation
/// sees it before anything exists ([`crate::resource::ResourceType::child_source`]).
#[derive(Debug, Clone, PartialEq)]
pub enum ChildSource {
    /// A file of the stack's `files` map (a provider template); the properties are its parameters.
    File(String),
    /// A template built from the properties (`OS::Heat::Stack`, groups).
    Inline(Value),
}

/// The stored state of a child stack that a group needs to pace its batches.
#[derive(Debug, Clone, PartialEq)]
pub struct ChildState {
    /// The child's current template as the resource gave it.
    pub template: Value,
    /// Whether an action of the child is still running.
    pub in_progress: bool,
    /// When the child's last status change was stored (the end of a finished action).
    pub updated_at: Option<DateTime<Utc>>,
}

/// What a stack-backed resource reads from its child.
#[derive(Debug, Clone, PartialEq)]
pub enum ChildLookup {
    /// A stack output's value.
    Output(String),
    /// `get_resource` of a child resource.
    Ref(String),
    /// `get_attr` of a child resource, with a path into the value.
    Attr(String, String, Vec<Value>),
}

/// The engine operations stack-backed resources use (and, through its supertrait, the
/// software-config store the config and deployment resources use).
#[async_trait]
pub trait StackControl: crate::software::SoftwareControl + Send + Sync {
    /// Creates the child stack of the resource `cx` and starts its create; returns the child's id.
    /// The child inherits the parent's files and environment (the `resource_registry` entries
    /// scoped to this resource become the child's own).
    async fn create_child(
        &self,
        cx: &ResourceContext,
        child: ChildTemplate,
    ) -> Result<String, ResourceError>;
    /// Starts an update of the child to a new template and parameters.
    async fn update_child(&self, child_id: &str, child: ChildTemplate)
        -> Result<(), ResourceError>;
    /// Starts deleting the child (nothing to do when it is gone).
    async fn delete_child(&self, child_id: &str) -> Result<(), ResourceError>;
    /// Whether the child's `action` has finished; its failure reason fails the resource.
    async fn child_progress(
        &self,
        child_id: &str,
        action: Action,
    ) -> Result<Progress, ResourceError>;
    /// Values read from the child's live state, in the order asked.
    async fn child_values(
        &self,
        child_id: &str,
        lookups: &[ChildLookup],
    ) -> Result<Vec<Value>, ResourceError>;
    /// Every output of the child by name.
    async fn child_outputs(&self, child_id: &str) -> Result<Map<String, Value>, ResourceError>;
    /// The current resource names of the child, oldest first.
    async fn child_members(&self, child_id: &str) -> Result<Vec<String>, ResourceError>;
    /// The child's template and action state (`None` when the child is gone).
    async fn child_state(&self, child_id: &str) -> Result<Option<ChildState>, ResourceError>;
    /// A file of the parent stack's `files` map (provider templates live there).
    async fn stack_file(&self, stack_id: &str, name: &str) -> Result<Option<Value>, ResourceError>;
    /// A stack's parameter values as `stack show` lists them (hidden ones as `******`), pseudo
    /// parameters included: what Heat's resources read as `self.stack.parameters`.
    async fn stack_parameters(&self, stack_id: &str) -> Result<Map<String, Value>, ResourceError>;
    /// Heat's ARN of a stack, `arn:openstack:heat::{project}:stacks/{name}/{id}`.
    async fn stack_arn(&self, stack_id: &str) -> Result<String, ResourceError>;
    /// Sends a signal to another resource of a stack through the engine's signal path
    /// (a scaling policy signals its group).
    async fn signal(
        &self,
        stack_id: &str,
        resource: &str,
        details: &Value,
    ) -> Result<(), ResourceError>;
    /// The URL that signals a resource (see [`SignalUrlKind`]), minted by the engine's
    /// [`SignalUrls`] when the embedding server gave one, else the native path
    /// `/v1/{project}/stacks/{name}/{id}/resources/{res}/signal`.
    async fn signal_url(
        &self,
        stack_id: &str,
        resource: &str,
        kind: SignalUrlKind,
    ) -> Result<String, ResourceError>;
    /// The pre-signed URL of `kind` for a resource, or `None` when no embedding server mints
    /// URLs (local mode: nothing could call it).
    async fn presigned_url(
        &self,
        stack_id: &str,
        resource: &str,
        kind: SignalUrlKind,
    ) -> Result<Option<String>, ResourceError>;
    /// A token that authorises the native signal of this one resource (a wait condition
    /// handle's `token`), when the embedding server can check one.
    async fn signal_token(
        &self,
        stack_id: &str,
        resource: &str,
    ) -> Result<Option<String>, ResourceError>;
    /// The stored data of a current resource (a wait condition reads its handle's signals).
    async fn resource_data(
        &self,
        stack_id: &str,
        resource: &str,
    ) -> Result<Option<std::collections::BTreeMap<String, String>>, ResourceError>;
    /// The name of the current resource of `stack_id` whose reference id is `reference`.
    async fn resource_by_reference(
        &self,
        stack_id: &str,
        reference: &str,
    ) -> Result<Option<String>, ResourceError>;
    /// Heat's stack user domain bound to the tree of `stack_id` (its root's domain project),
    /// when the engine has one (`EngineConfig::stack_domain`); `None` is Heat's legacy mode.
    async fn stack_users(&self, stack_id: &str) -> Result<Option<StackUsers>, ResourceError>;
    /// Whether stack users live in a stack user domain (for validation).
    fn has_stack_domain(&self) -> bool;
}

/// Which URL a resource hands out for signalling it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalUrlKind {
    /// The native `POST .../resources/{res}/signal` of the orchestration API (needs a token).
    Native,
    /// A pre-signed CFN `POST /v1/signal/{arn}` URL (a scaling policy's `alarm_url`).
    PresignedSignal,
    /// A pre-signed CFN `PUT /v1/waitcondition/{arn}` URL (the CFN wait condition handle).
    PresignedWaitCondition,
    /// A pre-signed `GET /v1/metadata/{arn}` URL: the resource's metadata with the deployments
    /// of its server, which os-collect-config's `request` collector polls. Without a signer
    /// the native path stands in, which no server can poll.
    PresignedMetadata,
}

/// The resource a signal URL or token is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalTarget {
    pub kind: SignalUrlKind,
    pub tenant: String,
    pub stack_name: String,
    pub stack_id: String,
    pub resource_name: String,
}

impl SignalTarget {
    /// The native signal path, without an endpoint.
    pub fn native_path(&self) -> String {
        format!(
            "/v1/{}/stacks/{}/{}/resources/{}/signal",
            self.tenant, self.stack_name, self.stack_id, self.resource_name
        )
    }
}

/// Mints signal URLs and tokens that the embedding API server accepts (`ember serve` builds
/// one from its URL signer, so URLs carry the server's public endpoint and pre-signed ones a
/// signature); set as [`crate::EngineConfig::signal_urls`].
pub trait SignalUrls: Send + Sync + std::fmt::Debug {
    fn url(&self, target: &SignalTarget) -> String;
    /// A token that authorises `POST` on the native signal path of `target` only.
    fn token(&self, target: &SignalTarget) -> String;
}

/// The engine as resource types reach it; empty until a service is built over the registry.
#[derive(Clone, Default)]
pub struct StackHandle {
    control: Arc<RwLock<Option<Arc<dyn StackControl>>>>,
}

impl std::fmt::Debug for StackHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StackHandle")
    }
}

impl StackHandle {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn attach(&self, control: Arc<dyn StackControl>) {
        if let Ok(mut slot) = self.control.write() {
            *slot = Some(control);
        }
    }

    /// The engine, or a failure when no engine was attached (or it has stopped).
    pub fn get(&self) -> Result<Arc<dyn StackControl>, ResourceError> {
        self.control
            .read()
            .ok()
            .and_then(|slot| slot.clone())
            .ok_or_else(|| ResourceError::new("Error", "no engine is attached for nested stacks"))
    }
}

fn store_failure(e: impl std::fmt::Display) -> ResourceError {
    ResourceError::new("Error", e.to_string())
}

impl EngineInner {
    async fn stack_record(&self, id: &str) -> Result<Option<StackRecord>, ResourceError> {
        self.store.stack(id).await.map_err(store_failure)
    }

    /// The root of `stack`'s tree (itself for a root; the oldest ancestor still stored).
    async fn root_stack(&self, stack: &StackRecord) -> Result<StackRecord, ResourceError> {
        let mut root = stack.clone();
        while let Some(parent) = root.parent.clone() {
            match self.stack_record(&parent).await? {
                Some(p) => root = p,
                None => break,
            }
        }
        Ok(root)
    }

    /// Heat's `max_nested_stack_depth` refusal for a stack at `depth`.
    fn check_depth(&self, depth: usize) -> Result<(), EngineError> {
        let max = self.config.max_nested_stack_depth;
        if depth > max {
            return Err(EngineError::RequestLimitExceeded(format!(
                "Recursion depth exceeds {max}."
            )));
        }
        Ok(())
    }

    /// How many current resources the whole tree of `stack` holds (Heat counts nested
    /// resources toward the root stack's `max_resources_per_stack`).
    async fn tree_resources(&self, stack: &StackRecord) -> Result<usize, ResourceError> {
        let root = self.root_stack(stack).await?;
        let mut total = 0;
        let mut seen = HashSet::new();
        let mut frontier = vec![root];
        while let Some(stack) = frontier.pop() {
            let id = stack.id.clone();
            if !seen.insert(id.clone()) {
                continue;
            }
            let rows = self.rows(&id).await.map_err(store_failure)?;
            let current: Vec<_> = rows.into_iter().filter(|r| r.current).collect();
            // A stack whose action runs has rows only for the resources started so far; Heat
            // counts every resource of its template.
            let defined = match stack.status {
                Status::InProgress => self.compile(&stack).map_or(0, |d| d.resources.len()),
                _ => 0,
            };
            total += current.len().max(defined);
            // A child stack's id is its resource's physical id (always a uuid).
            for physical in current
                .into_iter()
                .filter_map(|r| r.physical_id)
                .filter(|p| uuid::Uuid::parse_str(p).is_ok())
            {
                if let Some(child) = self.stack_record(&physical).await? {
                    if child.parent.as_deref() == Some(id.as_str()) && child.deleted_at.is_none() {
                        frontier.push(child);
                    }
                }
            }
        }
        Ok(total)
    }

    /// Refuses a child definition that would take its root's tree over
    /// `max_resources_per_stack`; `replaced` are the child's current resources (an update
    /// does not count them twice).
    async fn check_tree_size(
        &self,
        parent: &StackRecord,
        child: &StackDefinition,
        replaced: usize,
    ) -> Result<(), ResourceError> {
        let max = self.config.max_resources_per_stack;
        if max < 0 {
            return Ok(());
        }
        let total =
            (self.tree_resources(parent).await? + child.resources.len()).saturating_sub(replaced);
        if total as i64 > max {
            let e =
                EngineError::RequestLimitExceeded("Maximum resources per stack exceeded.".into());
            return Err(ResourceError::new(e.heat_type(), e.to_string()));
        }
        Ok(())
    }

    /// Validation of the nested templates `defn` reaches (provider templates, inline stacks,
    /// group members), as Heat's validate of a stack-backed resource builds its child: nesting
    /// deeper than `max_nested_stack_depth` is refused before anything is stored. A child
    /// template that does not compile yet (its values depend on resources) is left to create.
    pub(crate) fn check_nesting(
        &self,
        files: &Map<String, Value>,
        defn: &StackDefinition,
        depth: usize,
    ) -> Result<(), EngineError> {
        for (name, def) in &defn.resources {
            let Ok(ty) = self
                .registry
                .resolve(&def.type_name, name, &defn.resource_registry)
            else {
                continue;
            };
            let properties = match def.properties.evaluate(&crate::service::PlaceholderState) {
                Ok(Value::Object(p)) => p,
                _ => continue,
            };
            let Some(source) = ty.child_source(&properties) else {
                continue;
            };
            self.check_depth(depth + 1)?;
            let (template, parameters) = match source {
                ChildSource::File(file) => match files.get(&file) {
                    Some(t) => (t.clone(), properties),
                    None => continue,
                },
                ChildSource::Inline(t) => (t, Map::new()),
            };
            let child = TemplateSource {
                template,
                environment: json!({"resource_registry": defn.resource_registry}),
                files: files.clone(),
                environment_files: Vec::new(),
                facade: Value::Null,
            };
            let identity = crate::definition::StackIdentity {
                stack_id: String::new(),
                stack_name: name.clone(),
                project_id: String::new(),
            };
            let parameters = parameters
                .into_iter()
                .filter(|(_, v)| !v.is_null())
                .collect();
            if let Ok(nested) = self.compiler.compile(&child, &parameters, &identity) {
                self.check_nesting(files, &nested, depth + 1)?;
            }
        }
        Ok(())
    }

    /// What `resource_facade` answers in the child of `parent`'s resource `resource`: the
    /// resource's stored metadata and its definition's deletion and update policies.
    async fn facade(&self, parent: &StackRecord, resource: &str) -> Result<Value, ResourceError> {
        let defn = self.compile(parent).unwrap_or_default();
        let def = defn.resources.get(resource);
        let metadata = self
            .rows(&parent.id)
            .await
            .map_err(store_failure)?
            .into_iter()
            .find(|r| r.current && r.name == resource)
            .map(|r| r.metadata)
            .filter(|m| !m.is_null())
            .unwrap_or_else(|| json!({}));
        Ok(json!({
            "metadata": metadata,
            "deletion_policy": def.map(|d| d.deletion_policy).unwrap_or_default(),
            "update_policy": def
                .map(|d| d.update_policy.clone())
                .filter(|p| !p.is_null())
                .unwrap_or_else(|| json!({})),
        }))
    }

    /// The child's environment: the parent's merged registry (with the entries scoped to this
    /// resource as the child's own `resources` section) and the parent's parameter defaults.
    fn child_environment(&self, parent: &StackRecord, resource: &str) -> Value {
        let defn = self.compile(parent).unwrap_or_default();
        let mut registry = defn
            .resource_registry
            .as_object()
            .cloned()
            .unwrap_or_default();
        let scoped = registry
            .get("resources")
            .and_then(|r| r.get(resource))
            .cloned()
            .and_then(|v| match v {
                Value::Object(m) => Some(m),
                _ => None,
            })
            .unwrap_or_default();
        registry.remove("resources");
        // Entries of the scoped map that are themselves maps address the child's resources.
        let child_resources: Map<String, Value> =
            scoped.into_iter().filter(|(_, v)| v.is_object()).collect();
        if !child_resources.is_empty() {
            registry.insert("resources".into(), Value::Object(child_resources));
        }
        let parameter_defaults = parent
            .source
            .environment
            .get("parameter_defaults")
            .cloned()
            .unwrap_or_else(|| json!({}));
        json!({
            "parameter_defaults": parameter_defaults,
            "resource_registry": registry,
        })
    }
}

/// [`StackControl`] over an engine, held weakly (see the module comment).
pub(crate) struct EngineControl {
    pub engine: Weak<EngineInner>,
}

impl EngineControl {
    fn engine(&self) -> Result<Arc<EngineInner>, ResourceError> {
        self.engine
            .upgrade()
            .ok_or_else(|| ResourceError::new("Error", "the engine has stopped"))
    }

    async fn signal_target(
        &self,
        engine: &EngineInner,
        stack_id: &str,
        resource: &str,
        kind: SignalUrlKind,
    ) -> Result<SignalTarget, ResourceError> {
        let record = self.record(engine, stack_id).await?;
        Ok(SignalTarget {
            kind,
            tenant: record.project_id,
            stack_name: record.name,
            stack_id: record.id,
            resource_name: resource.to_string(),
        })
    }

    async fn record(&self, engine: &EngineInner, id: &str) -> Result<StackRecord, ResourceError> {
        engine.stack_record(id).await?.ok_or_else(|| {
            ResourceError::new("NotFound", format!("The Stack ({id}) could not be found."))
        })
    }

    /// Locks the child, stores its in-progress state and runs `job` in the background.
    async fn start(
        &self,
        engine: &Arc<EngineInner>,
        child: &mut StackRecord,
        action: Action,
        job: Job,
    ) -> Result<(), ResourceError> {
        // A child action that just finished may still hold its lock for a moment.
        engine.wait_idle(&child.id).await;
        if let Some(holder) = engine
            .store
            .try_lock(&child.id, &engine.config.engine_id)
            .await
            .map_err(store_failure)?
        {
            return Err(ResourceError::new(
                "ActionInProgress",
                format!(
                    "Stack {} already has an action ({holder}) in progress.",
                    child.name
                ),
            ));
        }
        let reason = format!("Stack {action} started");
        if let Err(e) = engine
            .set_stack_state(child, action, Status::InProgress, reason)
            .await
        {
            // Nothing runs, so the lock must not stay held.
            let _ = engine
                .store
                .unlock(&child.id, &engine.config.engine_id)
                .await;
            return Err(store_failure(e));
        }
        // A child's action is part of its parent's: it acts with the same cloud access.
        let acting = child.parent.as_deref().and_then(|p| engine.acting_cloud(p));
        engine.spawn(child.id.clone(), job, acting);
        Ok(())
    }
}

/// Reads [`ChildLookup`]s (and output expressions) against a stack's live state.
#[derive(Debug)]
struct Lookups {
    items: Vec<ChildLookup>,
    outputs: Vec<Option<Arc<dyn Evaluate>>>,
}

impl Evaluate for Lookups {
    fn evaluate(&self, resolver: &dyn Resolver) -> Result<Value, String> {
        let mut out = Vec::with_capacity(self.items.len());
        for (item, output) in self.items.iter().zip(&self.outputs) {
            let v = match item {
                // An output that cannot be resolved reads as null, as in `stack show`.
                ChildLookup::Output(_) => output
                    .as_ref()
                    .and_then(|o| o.evaluate(resolver).ok())
                    .unwrap_or(Value::Null),
                ChildLookup::Ref(name) => resolver.resource_ref(name).unwrap_or(Value::Null),
                ChildLookup::Attr(name, attr, path) => resolver.resource_attr(name, attr, path)?,
            };
            out.push(v);
        }
        Ok(Value::Array(out))
    }
}

#[async_trait]
impl StackControl for EngineControl {
    async fn create_child(
        &self,
        cx: &ResourceContext,
        child: ChildTemplate,
    ) -> Result<String, ResourceError> {
        let engine = self.engine()?;
        let parent = self.record(&engine, &cx.stack_id).await?;
        let depth = parent.nested_depth + 1;
        engine
            .check_depth(depth as usize)
            .map_err(|e| ResourceError::new(e.heat_type(), e.to_string()))?;
        let mut record = StackRecord {
            id: uuid::Uuid::new_v4().to_string(),
            name: cx.physical_resource_name(),
            project_id: parent.project_id.clone(),
            username: parent.username.clone(),
            action: Action::Init,
            status: Status::Complete,
            status_reason: String::new(),
            source: TemplateSource {
                template: child.template,
                environment: engine.child_environment(&parent, &cx.name),
                files: parent.source.files.clone(),
                environment_files: Vec::new(),
                facade: engine.facade(&parent, &cx.name).await?,
            },
            parameters: child.parameters,
            previous: None,
            timeout_mins: parent.timeout_mins,
            // The parent decides about rollback; a child never rolls back on its own.
            disable_rollback: true,
            tags: Vec::new(),
            parent: Some(parent.id.clone()),
            parent_resource: Some(cx.name.clone()),
            nested_depth: depth,
            created_at: Utc::now(),
            updated_at: None,
            deleted_at: None,
            cancel: None,
            // Nested stacks act under their root's trust (Heat shares the parent's user_creds).
            trust_id: parent.trust_id.clone(),
        };
        let defn = engine
            .compile(&record)
            .map_err(|e| ResourceError::new(e.heat_type(), e.to_string()))?;
        engine.check_tree_size(&parent, &defn, 0).await?;
        engine
            .store
            .insert_stack(&record)
            .await
            .map_err(store_failure)?;
        self.start(
            &engine,
            &mut record,
            Action::Create,
            Job::Converge(Action::Create),
        )
        .await?;
        Ok(record.id)
    }

    async fn update_child(
        &self,
        child_id: &str,
        child: ChildTemplate,
    ) -> Result<(), ResourceError> {
        let engine = self.engine()?;
        let mut record = self.record(&engine, child_id).await?;
        let previous = PreviousDefinition {
            source: record.source.clone(),
            parameters: record.parameters.clone(),
        };
        record.source.template = child.template;
        record.parameters = child.parameters;
        let parent = match &record.parent {
            Some(p) => engine.stack_record(p).await?,
            None => None,
        };
        if let Some(parent) = &parent {
            // Files given with a parent update reach the child's next action.
            record.source.files = parent.source.files.clone();
            if let Some(resource) = &record.parent_resource {
                record.source.facade = engine.facade(parent, resource).await?;
            }
        }
        let defn = engine
            .compile(&record)
            .map_err(|e| ResourceError::new(e.heat_type(), e.to_string()))?;
        if let Some(parent) = &parent {
            let existing = engine
                .rows(child_id)
                .await
                .map_err(store_failure)?
                .iter()
                .filter(|r| r.current)
                .count();
            engine.check_tree_size(parent, &defn, existing).await?;
        }
        record.previous = Some(previous);
        self.start(
            &engine,
            &mut record,
            Action::Update,
            Job::Converge(Action::Update),
        )
        .await
    }

    async fn delete_child(&self, child_id: &str) -> Result<(), ResourceError> {
        let engine = self.engine()?;
        let Some(mut record) = engine.stack_record(child_id).await? else {
            return Ok(());
        };
        if record.deleted_at.is_some() {
            return Ok(());
        }
        // As for a user's delete: an action still running on the child is stopped first.
        if engine.request_cancel(child_id, crate::model::CancelMode::NoRollback) {
            engine.wait_idle(child_id).await;
            record = self.record(&engine, child_id).await?;
        }
        self.start(
            &engine,
            &mut record,
            Action::Delete,
            Job::Delete { abandon: false },
        )
        .await
    }

    async fn child_progress(
        &self,
        child_id: &str,
        action: Action,
    ) -> Result<Progress, ResourceError> {
        let engine = self.engine()?;
        let Some(record) = engine.stack_record(child_id).await? else {
            return match action {
                Action::Delete => Ok(Progress::Done),
                _ => Err(ResourceError::new(
                    "NotFound",
                    format!("The Stack ({child_id}) could not be found."),
                )),
            };
        };
        if record.deleted_at.is_some() {
            return Ok(Progress::Done);
        }
        if record.status == Status::InProgress || engine.is_running(child_id) {
            return Ok(Progress::Pending(CHILD_POLL));
        }
        match record.status {
            Status::Failed => Err(ResourceError::new("Error", record.status_reason)),
            _ => Ok(Progress::Done),
        }
    }

    async fn child_values(
        &self,
        child_id: &str,
        lookups: &[ChildLookup],
    ) -> Result<Vec<Value>, ResourceError> {
        let engine = self.engine()?;
        let record = self.record(&engine, child_id).await?;
        let defn = engine.compile(&record).unwrap_or_default();
        let outputs = lookups
            .iter()
            .map(|l| match l {
                ChildLookup::Output(name) => defn.outputs.get(name).map(|o| o.value.clone()),
                _ => None,
            })
            .collect();
        let expr = Lookups {
            items: lookups.to_vec(),
            outputs,
        };
        let run = engine.snapshot_run(&record).await.map_err(store_failure)?;
        match run
            .evaluate(&expr)
            .await
            .map_err(|m| ResourceError::new("Error", m))?
        {
            Value::Array(values) => Ok(values),
            _ => Ok(Vec::new()),
        }
    }

    async fn child_outputs(&self, child_id: &str) -> Result<Map<String, Value>, ResourceError> {
        let engine = self.engine()?;
        let record = self.record(&engine, child_id).await?;
        let names: Vec<String> = engine
            .compile(&record)
            .map(|d| d.outputs.keys().cloned().collect())
            .unwrap_or_default();
        let lookups: Vec<ChildLookup> = names.iter().cloned().map(ChildLookup::Output).collect();
        let values = self.child_values(child_id, &lookups).await?;
        Ok(names.into_iter().zip(values).collect())
    }

    async fn child_members(&self, child_id: &str) -> Result<Vec<String>, ResourceError> {
        let engine = self.engine()?;
        let mut rows = engine.rows(child_id).await.map_err(store_failure)?;
        rows.retain(|r| r.current);
        rows.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.name.cmp(&b.name))
        });
        Ok(rows.into_iter().map(|r| r.name).collect())
    }

    async fn child_state(&self, child_id: &str) -> Result<Option<ChildState>, ResourceError> {
        let engine = self.engine()?;
        Ok(engine
            .stack_record(child_id)
            .await?
            .filter(|r| r.deleted_at.is_none())
            .map(|r| ChildState {
                in_progress: r.status == Status::InProgress || engine.is_running(child_id),
                updated_at: r.updated_at,
                template: r.source.template,
            }))
    }

    async fn stack_file(&self, stack_id: &str, name: &str) -> Result<Option<Value>, ResourceError> {
        let engine = self.engine()?;
        let record = self.record(&engine, stack_id).await?;
        Ok(record.source.files.get(name).cloned())
    }

    async fn stack_arn(&self, stack_id: &str) -> Result<String, ResourceError> {
        let engine = self.engine()?;
        let record = self.record(&engine, stack_id).await?;
        Ok(format!(
            "arn:openstack:heat::{}:stacks/{}/{}",
            record.project_id, record.name, record.id
        ))
    }

    async fn stack_parameters(&self, stack_id: &str) -> Result<Map<String, Value>, ResourceError> {
        let engine = self.engine()?;
        let record = self.record(&engine, stack_id).await?;
        let defn = engine
            .compile(&record)
            .map_err(|e| ResourceError::new(e.heat_type(), e.to_string()))?;
        Ok(defn.parameters)
    }

    async fn signal(
        &self,
        stack_id: &str,
        resource: &str,
        details: &Value,
    ) -> Result<(), ResourceError> {
        let engine = self.engine()?;
        let record = self.record(&engine, stack_id).await?;
        let cx = crate::service::RequestContext {
            project_id: record.project_id.clone(),
            username: record.username.clone(),
            is_admin: true,
            auth_token: None,
        };
        crate::service::Service::from_engine(engine)
            .signal_resource(&cx, stack_id, resource, details.clone())
            .await
            .map_err(|e| ResourceError::new(e.heat_type(), e.to_string()))
    }

    async fn signal_url(
        &self,
        stack_id: &str,
        resource: &str,
        kind: SignalUrlKind,
    ) -> Result<String, ResourceError> {
        let engine = self.engine()?;
        let target = self
            .signal_target(&engine, stack_id, resource, kind)
            .await?;
        Ok(match &engine.config.signal_urls {
            Some(urls) => urls.url(&target),
            None => target.native_path(),
        })
    }

    async fn presigned_url(
        &self,
        stack_id: &str,
        resource: &str,
        kind: SignalUrlKind,
    ) -> Result<Option<String>, ResourceError> {
        let engine = self.engine()?;
        let Some(urls) = engine.config.signal_urls.clone() else {
            return Ok(None);
        };
        let target = self
            .signal_target(&engine, stack_id, resource, kind)
            .await?;
        Ok(Some(urls.url(&target)))
    }

    async fn signal_token(
        &self,
        stack_id: &str,
        resource: &str,
    ) -> Result<Option<String>, ResourceError> {
        let engine = self.engine()?;
        let Some(urls) = engine.config.signal_urls.clone() else {
            return Ok(None);
        };
        let target = self
            .signal_target(&engine, stack_id, resource, SignalUrlKind::Native)
            .await?;
        Ok(Some(urls.token(&target)))
    }

    async fn resource_data(
        &self,
        stack_id: &str,
        resource: &str,
    ) -> Result<Option<std::collections::BTreeMap<String, String>>, ResourceError> {
        let engine = self.engine()?;
        Ok(engine
            .rows(stack_id)
            .await
            .map_err(store_failure)?
            .into_iter()
            .find(|r| r.current && r.name == resource)
            .map(|r| r.data))
    }

    async fn resource_by_reference(
        &self,
        stack_id: &str,
        reference: &str,
    ) -> Result<Option<String>, ResourceError> {
        let engine = self.engine()?;
        let names: Vec<String> = engine
            .rows(stack_id)
            .await
            .map_err(store_failure)?
            .into_iter()
            .filter(|r| r.current)
            .map(|r| r.name)
            .collect();
        let lookups: Vec<ChildLookup> = names.iter().cloned().map(ChildLookup::Ref).collect();
        let refs = self.child_values(stack_id, &lookups).await?;
        Ok(names
            .into_iter()
            .zip(refs)
            .find(|(name, r)| r.as_str() == Some(reference) || name == reference)
            .map(|(name, _)| name))
    }

    async fn stack_users(&self, stack_id: &str) -> Result<Option<StackUsers>, ResourceError> {
        let engine = self.engine()?;
        let Some(domain) = engine.config.stack_domain.clone() else {
            return Ok(None);
        };
        let stack = self.record(&engine, stack_id).await?;
        let root = engine.root_stack(&stack).await?;
        Ok(Some(StackUsers {
            domain,
            scope: StackScope {
                owner_project: root.project_id,
                root_stack_id: root.id,
            },
        }))
    }

    fn has_stack_domain(&self) -> bool {
        self.engine
            .upgrade()
            .is_some_and(|engine| engine.config.stack_domain.is_some())
    }
}

/// Listings that descend into nested stacks (`--nested-depth N`), built on the facade's own
/// listings so the rows are formatted exactly as at the top level.
impl crate::service::Service {
    /// The stacks nested in `stack_id` down to `depth` levels: `(stack id, parent resource name)`
    /// in breadth-first order, the stack itself first (with no parent resource).
    pub(crate) async fn nested_stacks(
        &self,
        cx: &crate::service::RequestContext,
        stack_id: &str,
        depth: u32,
    ) -> Result<Vec<(String, Option<String>)>, crate::error::EngineError> {
        let mut all = vec![(stack_id.to_string(), None)];
        let mut frontier = vec![stack_id.to_string()];
        for _ in 0..depth {
            let mut next = Vec::new();
            for parent in &frontier {
                for row in self.list_resources(cx, parent, false).await? {
                    let Some(physical) = row["physical_resource_id"]
                        .as_str()
                        .filter(|p| !p.is_empty())
                    else {
                        continue;
                    };
                    match self.lookup(cx, physical, false).await {
                        Ok(child) if child.parent.as_deref() == Some(parent.as_str()) => {
                            let name = row["resource_name"]
                                .as_str()
                                .unwrap_or_default()
                                .to_string();
                            all.push((child.id.clone(), Some(name)));
                            next.push(child.id);
                        }
                        _ => {}
                    }
                }
            }
            frontier = next;
        }
        Ok(all)
    }

    /// `resource list --nested-depth N`: the stack's resources, then those of its nested stacks
    /// (each with `parent_resource`, the resource of the parent stack that owns it).
    pub async fn list_resources_nested(
        &self,
        cx: &crate::service::RequestContext,
        name_or_id: &str,
        with_detail: bool,
        nested_depth: u32,
    ) -> Result<Vec<Value>, crate::error::EngineError> {
        let root = self.lookup(cx, name_or_id, true).await?;
        let mut out = Vec::new();
        for (stack, parent_resource) in self.nested_stacks(cx, &root.id, nested_depth).await? {
            for mut row in self.list_resources(cx, &stack, with_detail).await? {
                if let (Some(parent), Some(body)) = (&parent_resource, row.as_object_mut()) {
                    body.insert("parent_resource".into(), Value::String(parent.clone()));
                }
                out.push(row);
            }
        }
        Ok(out)
    }

    /// `event list --nested-depth N`: the events of the stack and of its nested stacks, in time
    /// order (oldest first when `query.ascending`), the limit applied to the merged list.
    pub async fn list_events_nested(
        &self,
        cx: &crate::service::RequestContext,
        name_or_id: &str,
        query: &crate::service::EventQuery,
        nested_depth: u32,
    ) -> Result<Vec<Value>, crate::error::EngineError> {
        let root = self.lookup(cx, name_or_id, true).await?;
        let per_stack = crate::service::EventQuery {
            limit: None,
            marker: None,
            ascending: true,
            ..query.clone()
        };
        let mut merged: Vec<(usize, Value)> = Vec::new();
        for (stack, _) in self.nested_stacks(cx, &root.id, nested_depth).await? {
            for event in self.list_events(cx, &stack, &per_stack).await? {
                merged.push((merged.len(), event));
            }
        }
        // Events of different stacks interleave by time; within a stack they keep their order.
        merged.sort_by(|(ia, a), (ib, b)| {
            a["event_time"]
                .as_str()
                .cmp(&b["event_time"].as_str())
                .then(ia.cmp(ib))
        });
        // Heat links every event of a nested listing to the root stack; clients (heatclient)
        // take that link as the sign that the server did the nesting, and otherwise walk the
        // nested stacks themselves.
        let root_link = serde_json::json!({
            "href": crate::service::stack_path(&root),
            "rel": "root_stack",
        });
        let mut events: Vec<Value> = merged
            .into_iter()
            .map(|(_, mut event)| {
                if let Some(Value::Array(links)) = event.get_mut("links") {
                    links.push(root_link.clone());
                }
                event
            })
            .collect();
        if !query.ascending {
            events.reverse();
        }
        if let Some(marker) = &query.marker {
            match events
                .iter()
                .position(|e| e["id"].as_str() == Some(marker.as_str()))
            {
                Some(i) => {
                    events.drain(..=i);
                }
                None => return Err(crate::error::EngineError::EventNotFound(marker.clone())),
            }
        }
        if let Some(limit) = query.limit {
            events.truncate(limit);
        }
        Ok(events)
    }
}
