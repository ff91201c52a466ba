//! The engine: runs stack actions as dependency-graph traversals over stored state.
//!
//! Every action is one mechanism, *converge*: bring the stored resources to a definition (the
//! new template for create/update, the previous one for rollback, the empty one for a rollback
//! of a create), then clean up rows that are no longer current in reverse dependency order.
//! Delete, suspend, resume and check are plain traversals of the stored rows.

use crate::definition::Compiler;
use crate::definition::{Evaluate, Resolver, StackDefinition, StackIdentity, TemplateSource};
use crate::error::{EngineError, ResourceError};
use crate::graph::{run_graph, GraphOutcome, StepFailure};
use crate::model::{Action, CancelMode, EventRecord, ResourceRecord, StackRecord, Status};
use crate::registry::Registry;
use crate::resource::{
    physical_resource_name, CloudHandle, Progress, ResourceContext, ResourceType, UpdateRequest,
};
use crate::schema::{validate_properties, PropertyError};
use crate::store::{GroupWriter, StateStore, Write};
use chrono::Utc;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{broadcast, watch};

pub mod hooks;

/// Which completion check a poll runs.
#[derive(Debug, Clone, Copy)]
enum Step {
    Create,
    Update,
    Delete,
    /// Suspend or resume.
    Action,
}

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Identifies this engine process in stack locks.
    pub engine_id: String,
    /// How many resource actions run at once within one stack action.
    pub concurrency: usize,
    /// `stack_action_timeout`: the timeout of actions of stacks without `timeout_mins`.
    pub default_timeout: Duration,
    /// How often this engine records that it is alive; locks of engines silent for three
    /// intervals are taken over by `recover`.
    pub heartbeat_interval: Duration,
    pub enable_abandon: bool,
    pub enable_adopt: bool,
    /// `max_resources_per_stack` (-1: unlimited); nested stacks count toward their root's total.
    pub max_resources_per_stack: i64,
    /// `max_nested_stack_depth`: how deep stacks may nest (a root stack is depth 0).
    pub max_nested_stack_depth: usize,
    /// Cloud access per stack (`ResourceContext::cloud`) and the trusts of deferred work
    /// (`crate::cloud`); without it the OpenStack types use the process's `OS_*` credentials.
    pub clouds: Option<Arc<dyn crate::cloud::CloudProvider>>,
    /// The API server's signal URLs and tokens; without it resources get native paths.
    pub signal_urls: Option<Arc<dyn crate::nested::SignalUrls>>,
    /// Heat's stack user domain (`crate::stack_domain`); without it types that need a stack
    /// user make it as Heat does without one (in the stack owner's project).
    pub stack_domain: Option<Arc<dyn crate::stack_domain::StackDomain>>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            engine_id: uuid::Uuid::new_v4().to_string(),
            concurrency: 256,
            default_timeout: Duration::from_secs(3600),
            heartbeat_interval: Duration::from_secs(10),
            enable_abandon: true,
            enable_adopt: true,
            max_resources_per_stack: 1000,
            max_nested_stack_depth: 5,
            clouds: None,
            signal_urls: None,
            stack_domain: None,
        }
    }
}

/// A status change, as `subscribe` reports it for live progress.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusChange {
    pub stack_id: String,
    /// `None` for the stack itself.
    pub resource_name: Option<String>,
    pub action: Action,
    pub status: Status,
    pub reason: String,
}

pub(crate) struct EngineInner {
    pub store: Arc<dyn StateStore>,
    pub writer: GroupWriter,
    pub registry: Arc<Registry>,
    pub compiler: Arc<dyn Compiler>,
    pub config: EngineConfig,
    /// Actions running in this process: their cancel signal and completion.
    running: Mutex<HashMap<String, RunningAction>>,
    /// The cloud access of the actions a request started, by stack id, while they run (their
    /// nested stacks' actions inherit it): they act with the requester's token, as Heat runs a
    /// request's work with its context. Everything else (signals, scaling, an action resumed by
    /// another engine) acts through the stack's trust.
    acting: Mutex<HashMap<String, CloudHandle>>,
    /// Definitions the service compiled to check a request, by stack id, taken by the action
    /// the request starts so a template is compiled once per action.
    prepared: Mutex<HashMap<String, Prepared>>,
    changes: broadcast::Sender<StatusChange>,
}

/// A compiled definition and the source it was compiled from.
struct Prepared {
    source: TemplateSource,
    parameters: Map<String, Value>,
    defn: StackDefinition,
}

struct RunningAction {
    cancel: watch::Sender<Option<CancelMode>>,
    done: watch::Receiver<bool>,
}

/// What a background action does.
#[derive(Debug, Clone)]
pub(crate) enum Job {
    /// Converge to the stored definition (create, update, adopt, restore).
    Converge(Action),
    /// Roll back to the stored previous definition (or nothing, after a failed create).
    Rollback,
    Delete {
        abandon: bool,
    },
    Walk(Action),
}

impl EngineInner {
    pub fn new(
        store: Arc<dyn StateStore>,
        registry: Arc<Registry>,
        compiler: Arc<dyn Compiler>,
        config: EngineConfig,
    ) -> Arc<Self> {
        let writer = GroupWriter::start(store.clone());
        let (changes, _) = broadcast::channel(4096);
        let engine = Arc::new(EngineInner {
            store,
            writer,
            registry,
            compiler,
            config,
            acting: Mutex::new(HashMap::new()),
            running: Mutex::new(HashMap::new()),
            prepared: Mutex::new(HashMap::new()),
            changes,
        });
        engine
            .registry
            .attach(Arc::new(crate::nested::EngineControl {
                engine: Arc::downgrade(&engine),
            }));
        engine
    }

    pub fn subscribe(&self) -> broadcast::Receiver<StatusChange> {
        self.changes.subscribe()
    }

    pub async fn commit(&self, writes: Vec<Write>) -> Result<(), EngineError> {
        for w in &writes {
            if let Write::Event(e) = w {
                let resource_name =
                    (e.resource_type != STACK_TYPE).then(|| e.resource_name.clone());
                // Nobody listening is fine: progress display is optional.
                let _ = self.changes.send(StatusChange {
                    stack_id: e.stack_id.clone(),
                    resource_name,
                    action: e.action,
                    status: e.status,
                    reason: e.reason.clone(),
                });
            }
        }
        self.writer
            .write(writes)
            .await
            .map_err(|e| EngineError::Store(e.to_string()))
    }

    /// Sets the stack's status and records its event, durably.
    pub async fn set_stack_state(
        &self,
        stack: &mut StackRecord,
        action: Action,
        status: Status,
        reason: String,
    ) -> Result<(), EngineError> {
        stack.action = action;
        stack.status = status;
        stack.status_reason = reason.clone();
        // Heat's updated_time stays null until the stack is first changed after its creation.
        if !matches!(action, Action::Create | Action::Adopt | Action::Init) {
            stack.updated_at = Some(Utc::now());
        }
        let event = stack_event(stack, action, status, reason);
        self.commit(vec![
            Write::Stack(Box::new(stack.clone())),
            Write::Event(Box::new(event)),
        ])
        .await
    }

    pub fn identity(stack: &StackRecord) -> StackIdentity {
        StackIdentity {
            stack_id: stack.id.clone(),
            stack_name: stack.name.clone(),
            project_id: stack.project_id.clone(),
        }
    }

    pub fn compile(&self, stack: &StackRecord) -> Result<StackDefinition, EngineError> {
        let mut defn =
            self.compiler
                .compile(&stack.source, &stack.parameters, &Self::identity(stack))?;
        // The types' implicit dependencies (Heat's add_dependencies), added as graph edges.
        let implicit: Vec<(String, Vec<String>)> = defn
            .resources
            .iter()
            .filter_map(|(name, def)| {
                let ty = self
                    .registry
                    .resolve(&def.type_name, name, &defn.resource_registry)
                    .ok()?;
                Some((name.clone(), ty.implicit_dependencies(name, &defn)))
            })
            .collect();
        for (name, extra) in implicit {
            if let Some(def) = defn.resources.get_mut(&name) {
                def.requires
                    .extend(extra.into_iter().filter(|e| *e != name));
            }
        }
        Ok(defn)
    }

    /// What walks over stored rows (delete, suspend, resume, check) need of the definition:
    /// the environment's resource registry, for types and hooks. The template is not compiled
    /// (for 10,000 resources that was 20 MB of transient memory); a stack whose environment
    /// no longer loads is still walked, with types from the global registry.
    fn walk_definition(&self, stack: &StackRecord) -> StackDefinition {
        StackDefinition {
            resource_registry: self
                .compiler
                .resource_registry(&stack.source, &stack.parameters)
                .unwrap_or_default(),
            ..StackDefinition::default()
        }
    }

    /// Keeps the definition compiled for a request for the action it is about to start.
    pub fn prepare(&self, stack: &StackRecord, defn: StackDefinition) {
        if let Ok(mut prepared) = self.prepared.lock() {
            prepared.insert(
                stack.id.clone(),
                Prepared {
                    source: stack.source.clone(),
                    parameters: stack.parameters.clone(),
                    defn,
                },
            );
        }
    }

    /// Drops a prepared definition whose action did not start.
    pub fn discard_prepared(&self, stack_id: &str) {
        if let Ok(mut prepared) = self.prepared.lock() {
            prepared.remove(stack_id);
        }
    }

    /// The prepared definition of the stack when it was compiled from what is stored now,
    /// else a fresh compile (another process started the action, or the stack changed).
    fn compile_for_action(&self, stack: &StackRecord) -> Result<StackDefinition, EngineError> {
        let prepared = self
            .prepared
            .lock()
            .ok()
            .and_then(|mut p| p.remove(&stack.id));
        match prepared {
            Some(p) if p.source == stack.source && p.parameters == stack.parameters => Ok(p.defn),
            _ => self.compile(stack),
        }
    }

    /// The cloud access of `stack`'s resources: through its trust, if it has one.
    pub fn stack_cloud(&self, stack: &StackRecord) -> Option<CloudHandle> {
        if let Some(acting) = self.acting_cloud(&stack.id) {
            return Some(acting);
        }
        let clouds = self.config.clouds.as_ref()?;
        clouds.for_stack(stack.trust_id.as_ref())
    }

    /// The cloud access a request gave the stack's running action, if any.
    pub fn acting_cloud(&self, stack_id: &str) -> Option<CloudHandle> {
        self.acting.lock().ok()?.get(stack_id).cloned()
    }

    /// Deletes a root stack's trust (nested stacks share it): the last step of its delete, or
    /// the cleanup of a stack that was not stored. A failure is logged, not the stack's: as in
    /// Heat's `_delete_credentials`, a trust that cannot be deleted does not keep a stack alive.
    pub async fn revoke_trust(&self, stack: &StackRecord) {
        let (Some(clouds), Some(trust), None) =
            (&self.config.clouds, &stack.trust_id, &stack.parent)
        else {
            return;
        };
        if let Err(error) = clouds.revoke(trust).await {
            tracing::warn!(stack = %stack.id, %error, "Error deleting trust");
        }
    }

    /// Deletes a root stack's domain project and its users (nested stacks share the root's),
    /// when the engine has a stack user domain.
    async fn delete_domain_project(&self, stack: &StackRecord) -> Result<(), ResourceError> {
        let (Some(domain), None) = (&self.config.stack_domain, &stack.parent) else {
            return Ok(());
        };
        domain
            .delete_project(&crate::stack_domain::StackScope {
                owner_project: stack.project_id.clone(),
                root_stack_id: stack.id.clone(),
            })
            .await
    }

    /// What a handler sees of a stored resource; `cloud` is its stack's ([`Self::stack_cloud`]).
    pub fn context(
        &self,
        stack_id: &str,
        stack_name: &str,
        cloud: Option<CloudHandle>,
        row: &ResourceRecord,
        action: Action,
    ) -> ResourceContext {
        ResourceContext {
            stack_id: stack_id.to_string(),
            stack_name: stack_name.to_string(),
            name: row.name.clone(),
            physical_id: row.physical_id.clone(),
            properties: row.properties.clone(),
            data: row.data.clone(),
            action,
            short_id: row.short_id.clone(),
            cloud,
            checks: 0,
            update_policy: Value::Null,
            metadata: row.metadata.clone(),
        }
    }

    /// Is an action of this stack running in this process?
    pub fn is_running(&self, stack_id: &str) -> bool {
        self.running
            .lock()
            .map(|r| r.contains_key(stack_id))
            .unwrap_or(false)
    }

    /// Asks the running action of a stack to stop; returns whether one was running here.
    pub fn request_cancel(&self, stack_id: &str, mode: CancelMode) -> bool {
        let running = match self.running.lock() {
            Ok(r) => r,
            Err(_) => return false,
        };
        match running.get(stack_id) {
            Some(action) => {
                // The receiver lives as long as the action; a finished action needs no signal.
                let _ = action.cancel.send(Some(mode));
                true
            }
            None => false,
        }
    }

    /// Waits until the action running here for this stack (if any) has finished.
    pub async fn wait_idle(&self, stack_id: &str) {
        let done = self
            .running
            .lock()
            .ok()
            .and_then(|r| r.get(stack_id).map(|a| a.done.clone()));
        if let Some(mut done) = done {
            // An error means the action's task ended, which is what we wait for.
            let _ = done.wait_for(|d| *d).await;
        }
    }

    /// Runs `job` on a stack whose lock this engine holds and whose in-progress state is
    /// stored; releases the lock at the end. `acting`: the cloud access of the request that
    /// started it (see `acting`), else the stack's own.
    pub fn spawn(self: &Arc<Self>, stack_id: String, job: Job, acting: Option<CloudHandle>) {
        if let (Some(cloud), Ok(mut clouds)) = (acting, self.acting.lock()) {
            clouds.insert(stack_id.clone(), cloud);
        }
        let (cancel_tx, cancel_rx) = watch::channel(None);
        let (done_tx, done_rx) = watch::channel(false);
        if let Ok(mut running) = self.running.lock() {
            running.insert(
                stack_id.clone(),
                RunningAction {
                    cancel: cancel_tx,
                    done: done_rx,
                },
            );
        }
        let engine = self.clone();
        // A cancel may be requested through another process: it is stored on the stack, and
        // this watcher forwards it to the running action.
        let watcher = {
            let engine = self.clone();
            let stack_id = stack_id.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(CANCEL_POLL).await;
                    if let Ok(Some(stack)) = engine.store.stack(&stack_id).await {
                        if let Some(mode) = stack.cancel {
                            engine.request_cancel(&stack_id, mode);
                            return;
                        }
                    }
                }
            })
        };
        tokio::spawn(async move {
            if let Err(e) = engine.clone().run_job(&stack_id, job, cancel_rx).await {
                tracing::error!(stack = %stack_id, error = %e, "stack action ended with a store error");
            }
            watcher.abort();
            // Unlock before reporting idle, so that whoever waited can start the next action.
            if let Err(e) = engine
                .store
                .unlock(&stack_id, &engine.config.engine_id)
                .await
            {
                tracing::error!(stack = %stack_id, error = %e, "could not release the stack lock");
            }
            if let Ok(mut running) = engine.running.lock() {
                running.remove(&stack_id);
            }
            if let Ok(mut clouds) = engine.acting.lock() {
                clouds.remove(&stack_id);
            }
            // Waiters may be gone; that is fine.
            let _ = done_tx.send(true);
        });
    }

    async fn run_job(
        self: Arc<Self>,
        stack_id: &str,
        job: Job,
        cancel: watch::Receiver<Option<CancelMode>>,
    ) -> Result<(), EngineError> {
        let mut stack = self
            .store
            .stack(stack_id)
            .await
            .map_err(|e| EngineError::Store(e.to_string()))?
            .ok_or_else(|| EngineError::StackNotFound(stack_id.to_string()))?;
        let timeout = stack
            .timeout_mins
            .map(|m| Duration::from_secs(u64::from(m) * 60))
            .unwrap_or(self.config.default_timeout);
        let deadline = tokio::time::Instant::now() + timeout;
        match job {
            Job::Converge(action) => {
                let outcome = self
                    .converge_stack(&stack, action, deadline, cancel.clone())
                    .await?;
                self.finish(&mut stack, action, outcome, deadline, cancel)
                    .await
            }
            Job::Rollback => self.rollback(&mut stack, deadline, cancel).await,
            Job::Delete { abandon } => {
                // As Heat's `delete_all_snapshots`: the snapshots go first, with what they
                // made; one that cannot be removed fails the delete (which can be repeated).
                if let Err(e) = crate::snapshot::delete_all_snapshots(&self, &stack).await {
                    let reason = format!("Stack {stack_id} failed when delete all snapshots: {e}.");
                    return self
                        .set_stack_state(&mut stack, Action::Delete, Status::Failed, reason)
                        .await;
                }
                let rows = self.rows(stack_id).await?;
                let defn = self.walk_definition(&stack);
                let run = Run::new(self.clone(), &stack, defn, rows, Action::Delete, cancel);
                let targets: Vec<String> = run.all_row_ids();
                let outcome = run.delete_rows(targets, deadline, abandon, false).await;
                match outcome {
                    // As Heat's `_delete_credentials`: the trust goes before the stack is
                    // marked deleted.
                    GraphOutcome::Complete => {
                        // Heat's `_delete_credentials` also deletes the stack user project
                        // (not when abandoning: the resources left behind may use it); a
                        // failure fails the delete, which can be repeated.
                        let project_deleted = match abandon {
                            true => Ok(()),
                            false => self.delete_domain_project(&stack).await,
                        };
                        if let Err(e) = project_deleted {
                            let reason = format!("Error deleting project: {e}");
                            return self
                                .set_stack_state(&mut stack, Action::Delete, Status::Failed, reason)
                                .await;
                        }
                        self.revoke_trust(&stack).await;
                        stack.deleted_at = Some(Utc::now());
                        let reason = "Stack DELETE completed successfully".to_string();
                        self.set_stack_state(&mut stack, Action::Delete, Status::Complete, reason)
                            .await
                    }
                    other => {
                        let reason = other.reason(Action::Delete);
                        self.set_stack_state(&mut stack, Action::Delete, Status::Failed, reason)
                            .await
                    }
                }
            }
            Job::Walk(action) => {
                let rows = self.rows(stack_id).await?;
                let defn = self.walk_definition(&stack);
                let run = Run::new(self.clone(), &stack, defn, rows, action, cancel);
                let outcome = run.walk(action, deadline).await;
                let (status, reason) = match outcome {
                    GraphOutcome::Complete => (
                        Status::Complete,
                        format!("Stack {action} completed successfully"),
                    ),
                    other => (Status::Failed, other.reason(action)),
                };
                self.set_stack_state(&mut stack, action, status, reason)
                    .await
            }
        }
    }

    async fn converge_stack(
        self: &Arc<Self>,
        stack: &StackRecord,
        action: Action,
        deadline: tokio::time::Instant,
        cancel: watch::Receiver<Option<CancelMode>>,
    ) -> Result<GraphOutcome, EngineError> {
        let rows = self.rows(&stack.id).await?;
        let defn = match self.compile_for_action(stack) {
            Ok(d) => d,
            Err(e) => return Ok(GraphOutcome::Failed(StepFailure::stack(e.to_string()))),
        };
        let run = Run::new(self.clone(), stack, defn, rows, action, cancel);
        Ok(run.converge(deadline).await)
    }

    /// Records the end of a converge action, rolling back when it failed and rollback is on.
    async fn finish(
        self: &Arc<Self>,
        stack: &mut StackRecord,
        action: Action,
        outcome: GraphOutcome,
        deadline: tokio::time::Instant,
        cancel: watch::Receiver<Option<CancelMode>>,
    ) -> Result<(), EngineError> {
        // The stack may have changed (cancel flag) while running.
        if let Ok(Some(latest)) = self.store.stack(&stack.id).await {
            stack.cancel = latest.cancel;
        }
        match outcome {
            GraphOutcome::Complete => {
                stack.previous = None;
                stack.cancel = None;
                let reason = format!("Stack {action} completed successfully");
                self.set_stack_state(stack, action, Status::Complete, reason)
                    .await
            }
            failed => {
                let rollback = match &failed {
                    GraphOutcome::Cancelled(mode) => *mode == CancelMode::Rollback,
                    _ => {
                        !stack.disable_rollback && matches!(action, Action::Create | Action::Update)
                    }
                };
                stack.cancel = None;
                let reason = failed.reason(action);
                self.set_stack_state(stack, action, Status::Failed, reason)
                    .await?;
                if rollback {
                    // A rollback cannot itself be cancelled (Heat cancels only updates); the
                    // cancel that led here must not stop it.
                    drop(cancel);
                    let (_, never) = watch::channel(None);
                    self.rollback(stack, deadline, never).await?;
                }
                Ok(())
            }
        }
    }

    async fn rollback(
        self: &Arc<Self>,
        stack: &mut StackRecord,
        deadline: tokio::time::Instant,
        cancel: watch::Receiver<Option<CancelMode>>,
    ) -> Result<(), EngineError> {
        self.set_stack_state(
            stack,
            Action::Rollback,
            Status::InProgress,
            "Stack ROLLBACK started".into(),
        )
        .await?;
        let rows = self.rows(&stack.id).await?;
        // A failed create rolls back to nothing; a failed update to the previous definition.
        let defn = match stack.previous.clone() {
            Some(previous) => {
                stack.source = previous.source;
                stack.parameters = previous.parameters;
                self.commit(vec![Write::Stack(Box::new(stack.clone()))])
                    .await?;
                self.compile(stack)
            }
            None => Ok(StackDefinition::default()),
        };
        let outcome = match defn {
            Ok(defn) => {
                let run = Run::new(self.clone(), stack, defn, rows, Action::Rollback, cancel);
                run.converge(deadline).await
            }
            Err(e) => GraphOutcome::Failed(StepFailure::stack(e.to_string())),
        };
        stack.previous = None;
        let (status, reason) = match outcome {
            GraphOutcome::Complete => (
                Status::Complete,
                "Stack ROLLBACK completed successfully".to_string(),
            ),
            other => (Status::Failed, other.reason(Action::Rollback)),
        };
        self.set_stack_state(stack, Action::Rollback, status, reason)
            .await
    }

    pub async fn rows(&self, stack_id: &str) -> Result<Vec<ResourceRecord>, EngineError> {
        self.store
            .resources(stack_id)
            .await
            .map_err(|e| EngineError::Store(e.to_string()))
    }

    /// A read-only run over stored state, for attribute reads outside any action.
    pub async fn snapshot_run(
        self: &Arc<Self>,
        stack: &StackRecord,
    ) -> Result<Arc<Run>, EngineError> {
        let defn = self.compile(stack).unwrap_or_default();
        self.snapshot_run_with(stack, defn).await
    }

    /// The same over an already compiled definition.
    pub async fn snapshot_run_with(
        self: &Arc<Self>,
        stack: &StackRecord,
        defn: StackDefinition,
    ) -> Result<Arc<Run>, EngineError> {
        let rows = self.rows(&stack.id).await?;
        let (_, rx) = watch::channel(None);
        Ok(Run::new(self.clone(), stack, defn, rows, stack.action, rx))
    }
}

/// How often a running action looks for a cancel stored by another process.
const CANCEL_POLL: Duration = Duration::from_secs(1);

/// The resource type name stack events carry.
pub const STACK_TYPE: &str = "OS::Heat::Stack";

pub(crate) fn stack_event(
    stack: &StackRecord,
    action: Action,
    status: Status,
    reason: String,
) -> EventRecord {
    EventRecord {
        id: uuid::Uuid::new_v4().to_string(),
        stack_id: stack.id.clone(),
        seq: 0,
        resource_name: stack.name.clone(),
        physical_id: stack.id.clone(),
        resource_type: STACK_TYPE.to_string(),
        action,
        status,
        reason,
        properties: Value::Object(Map::new()),
        time: Utc::now(),
    }
}

/// Stored rows of the stack during one action, shared by its tasks.
#[derive(Default)]
struct Rows {
    by_id: HashMap<String, ResourceRecord>,
    current: HashMap<String, String>,
}

/// One action over one stack.
pub(crate) struct Run {
    engine: Arc<EngineInner>,
    stack_id: String,
    stack_name: String,
    /// The stack's cloud access, asked for once per action.
    cloud: Option<CloudHandle>,
    defn: StackDefinition,
    /// Implementations by resource name (from the definition, with the environment).
    types: HashMap<String, Result<Arc<dyn ResourceType>, String>>,
    rows: RwLock<Rows>,
    action: Action,
    cancel: watch::Receiver<Option<CancelMode>>,
    /// Raised on timeout or cancel: pollers stop waiting.
    stop: watch::Sender<bool>,
}

impl Run {
    fn new(
        engine: Arc<EngineInner>,
        stack: &StackRecord,
        defn: StackDefinition,
        rows: Vec<ResourceRecord>,
        action: Action,
        cancel: watch::Receiver<Option<CancelMode>>,
    ) -> Arc<Run> {
        let mut types = HashMap::new();
        for (name, def) in &defn.resources {
            let t = engine
                .registry
                .resolve(&def.type_name, name, &defn.resource_registry)
                .map_err(|e| e.to_string());
            types.insert(name.clone(), t);
        }
        let mut table = Rows::default();
        for row in rows {
            if row.current {
                table.current.insert(row.name.clone(), row.id.clone());
            }
            table.by_id.insert(row.id.clone(), row);
        }
        let (stop, _) = watch::channel(false);
        Arc::new(Run {
            cloud: engine.stack_cloud(stack),
            engine,
            stack_id: stack.id.clone(),
            stack_name: stack.name.clone(),
            defn,
            types,
            rows: RwLock::new(table),
            action,
            cancel,
            stop,
        })
    }

    fn read_rows(&self) -> std::sync::RwLockReadGuard<'_, Rows> {
        self.rows.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_rows(&self) -> std::sync::RwLockWriteGuard<'_, Rows> {
        self.rows.write().unwrap_or_else(|p| p.into_inner())
    }

    fn current_row(&self, name: &str) -> Option<ResourceRecord> {
        let rows = self.read_rows();
        rows.current
            .get(name)
            .and_then(|id| rows.by_id.get(id))
            .cloned()
    }

    fn all_row_ids(&self) -> Vec<String> {
        self.read_rows().by_id.keys().cloned().collect()
    }

    /// The implementation of a stored row: the definition's when the resource is still defined
    /// with the same type, otherwise resolved from the row's own type name.
    fn type_of_row(&self, row: &ResourceRecord) -> Result<Arc<dyn ResourceType>, String> {
        if let (Some(def), Some(t)) = (
            self.defn.resources.get(&row.name),
            self.types.get(&row.name),
        ) {
            if def.type_name == row.type_name {
                return t.clone();
            }
        }
        self.engine
            .registry
            .resolve(&row.type_name, &row.name, &self.defn.resource_registry)
            .map_err(|e| e.to_string())
    }

    fn context(&self, row: &ResourceRecord, action: Action) -> ResourceContext {
        let mut cx = self.engine.context(
            &self.stack_id,
            &self.stack_name,
            self.cloud.clone(),
            row,
            action,
        );
        if let Some(def) = self.defn.resources.get(&row.name) {
            cx.update_policy = def.update_policy.clone();
        }
        cx
    }

    /// Stores a row (and an event when the status changed) and waits until it is durable.
    async fn save(&self, row: &ResourceRecord, event: bool) -> Result<(), String> {
        let mut writes = vec![Write::Resource(Box::new(row.clone()))];
        if event {
            writes.push(Write::Event(Box::new(EventRecord {
                id: uuid::Uuid::new_v4().to_string(),
                stack_id: self.stack_id.clone(),
                seq: 0,
                resource_name: row.name.clone(),
                // Before the physical resource exists Heat's events show its physical name.
                physical_id: row.physical_id.clone().unwrap_or_else(|| {
                    physical_resource_name(&self.stack_name, &row.name, &row.short_id)
                }),
                resource_type: row.type_name.clone(),
                action: row.action,
                status: row.status,
                reason: row.status_reason.clone(),
                properties: Value::Object(row.properties.clone()),
                time: Utc::now(),
            })));
        }
        self.engine
            .commit(writes)
            .await
            .map_err(|e| e.to_string())?;
        let mut rows = self.write_rows();
        if row.current {
            rows.current.insert(row.name.clone(), row.id.clone());
        }
        rows.by_id.insert(row.id.clone(), row.clone());
        Ok(())
    }

    async fn set_state(
        &self,
        row: &mut ResourceRecord,
        action: Action,
        status: Status,
        reason: &str,
    ) -> Result<(), String> {
        row.action = action;
        row.status = status;
        row.status_reason = reason.to_string();
        row.updated_at = Some(Utc::now());
        if action == Action::Create && status == Status::InProgress {
            row.created_at = row.created_at.or(row.updated_at);
        }
        self.save(row, true).await
    }

    /// Marks the row failed with Heat's located reason and returns the step failure.
    async fn fail(
        &self,
        row: &mut ResourceRecord,
        action: Action,
        err: &ResourceError,
    ) -> StepFailure {
        let reason = err.located(&format!("resources.{}", row.name));
        if let Err(store) = self.set_state(row, action, Status::Failed, &reason).await {
            return StepFailure::resource(action, store);
        }
        StepFailure::resource(action, reason)
    }

    /// Evaluates an expression against the rows, fetching attributes the expression reads.
    pub async fn evaluate(&self, expr: &dyn Evaluate) -> Result<Value, String> {
        let mut attrs: HashMap<AttrKey, Value> = HashMap::new();
        // Each round fetches every attribute the previous evaluation found missing; nested
        // get_attr inside get_attr arguments need one round per level.
        for _ in 0..8 {
            let resolver = RunResolver {
                run: self,
                attrs: &attrs,
                missing: Mutex::new(Vec::new()),
            };
            let value = expr.evaluate(&resolver);
            let missing = resolver.missing.into_inner().unwrap_or_default();
            if missing.is_empty() {
                return value;
            }
            for key in missing {
                let v = self.fetch_attribute(&key.0, &key.1, &key.2).await?;
                attrs.insert(key, v);
            }
        }
        Err("attribute references nest too deeply".into())
    }

    async fn fetch_attribute(
        &self,
        name: &str,
        attr: &str,
        path: &[Value],
    ) -> Result<Value, String> {
        let Some(row) = self.current_row(name) else {
            return Ok(Value::Null);
        };
        if row.action == Action::Init
            || (row.action == Action::Delete && row.status == Status::Complete)
        {
            return Ok(Value::Null);
        }
        let ty = self.type_of_row(&row)?;
        let cx = self.context(&row, row.action);
        if attr == "show" {
            return Ok(match ty.attribute(&cx, "show").await {
                Ok(Some(v)) => v,
                _ => Value::Null,
            });
        }
        match ty.attribute_with_path(&cx, attr, path).await {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Ok(Value::Null),
            Err(e) => Err(e.located(&format!("resources.{name}"))),
        }
    }

    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// Polls `check` until done, or until the action is stopped (timeout, cancel).
    async fn poll(
        &self,
        cx: &ResourceContext,
        ty: &dyn ResourceType,
        step: Step,
    ) -> Result<(), ResourceError> {
        let mut stop = self.stop.subscribe();
        let mut cx = cx.clone();
        loop {
            let progress = match step {
                Step::Create => ty.check_create_complete(&cx).await,
                Step::Update => ty.check_update_complete(&cx).await,
                Step::Delete => ty.check_delete_complete(&cx).await,
                Step::Action => ty.check_action_complete(&cx).await,
            };
            match progress? {
                Progress::Done => return Ok(()),
                Progress::Pending(after) => {
                    if self.stopped() {
                        return Err(ResourceError::new(
                            "Error",
                            format!("{} aborted", cx.action),
                        ));
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(after) => {}
                        _ = stop.wait_for(|s| *s) => {
                            return Err(ResourceError::new("Error", format!("{} aborted", cx.action)));
                        }
                    }
                    cx.checks = cx.checks.saturating_add(1);
                }
            }
        }
    }

    // ---- converge -------------------------------------------------------------------------

    async fn converge(self: &Arc<Self>, deadline: tokio::time::Instant) -> GraphOutcome {
        if let Err(e) = self.check_limits() {
            return GraphOutcome::Failed(StepFailure::stack(e));
        }
        let names: Vec<String> = self.defn.resources.keys().cloned().collect();
        let prereqs: HashMap<String, Vec<String>> = self
            .defn
            .resources
            .iter()
            .map(|(n, d)| (n.clone(), d.requires.iter().cloned().collect()))
            .collect();
        let outcome = run_graph(
            self.clone(),
            names,
            prereqs,
            self.engine.config.concurrency,
            deadline,
            self.cancel.clone(),
            |run: Arc<Run>, name: String| async move { run.converge_resource(&name).await },
        )
        .await;
        if outcome != GraphOutcome::Complete {
            return outcome;
        }
        // Cleanup: rows replaced or no longer in the definition.
        let stale: Vec<String> = {
            let rows = self.read_rows();
            rows.by_id
                .values()
                .filter(|r| !r.current || !self.defn.resources.contains_key(&r.name))
                .map(|r| r.id.clone())
                .collect()
        };
        self.delete_rows(stale, deadline, false, true).await
    }

    fn check_limits(&self) -> Result<(), String> {
        let max = self.engine.config.max_resources_per_stack;
        if max >= 0 && self.defn.resources.len() as i64 > max {
            return Err("Request limit exceeded: Maximum resources per stack exceeded.".into());
        }
        for t in self.types.values() {
            t.as_ref().map_err(Clone::clone)?;
        }
        Ok(())
    }

    async fn converge_resource(self: &Arc<Self>, name: &str) -> Result<(), StepFailure> {
        let Some(def) = self.defn.resources.get(name) else {
            return Ok(());
        };
        let ty = match self.types.get(name) {
            Some(Ok(t)) => t.clone(),
            Some(Err(e)) => return Err(StepFailure::resource(self.action, e.clone())),
            None => return Ok(()),
        };
        let located = |msg: String| ResourceError::new("StackValidationFailed", msg);
        let resolved = self.evaluate(def.properties.as_ref()).await;
        let metadata = self.evaluate(def.metadata.as_ref()).await;
        let current = self.current_row(name);
        let row_action = |row: &Option<ResourceRecord>| match row {
            Some(r) if r.action != Action::Init => Action::Update,
            _ => Action::Create,
        };
        let properties = match resolved
            .map_err(located)
            .and_then(|v| validate_resolved(ty.as_ref(), name, &v).map_err(located))
        {
            Ok(p) => p,
            Err(e) => {
                let mut row = current.unwrap_or_else(|| self.new_row(name, &def.type_name, true));
                let action = row_action(&Some(row.clone()));
                return Err(self.fail(&mut row, action, &e).await);
            }
        };
        let metadata = metadata.unwrap_or(Value::Object(Map::new()));
        let requires: Vec<String> = def.requires.iter().cloned().collect();

        let Some(mut row) = current else {
            let mut row = self.new_row(name, &def.type_name, true);
            if let Some(external) = &def.external_id {
                return self
                    .take_external(&ty, &mut row, external, properties, metadata, requires)
                    .await;
            }
            return self
                .create_row(&ty, &mut row, properties, metadata, requires)
                .await;
        };
        if row.external_id != def.external_id && row.action != Action::Init {
            let err = ResourceError::new(
                "NotSupported",
                format!(
                    "Update to property external_id of {name} ({}) is not supported.",
                    def.type_name
                ),
            );
            return Err(self.fail(&mut row, Action::Update, &err).await);
        }
        if def.external_id.is_some() && row.status == Status::Complete {
            // Heat skips updates of external resources.
            return Ok(());
        }
        if row.action == Action::Init {
            return self
                .create_row(&ty, &mut row, properties, metadata, requires)
                .await;
        }
        if row.action == Action::Create && row.status == Status::InProgress {
            // Restart: a create was started; resume it on the same row.
            return self.resume_create(&ty, &mut row).await;
        }
        let broken = (row.action == Action::Create && row.status == Status::Failed)
            || (row.action == Action::Delete && row.status == Status::Complete)
            || row.type_name != def.type_name;
        if broken {
            return self.replace(&ty, row, properties, metadata, requires).await;
        }
        if row.properties != properties {
            if let Some(mut back) = self.restorable(&row, &properties) {
                // A rollback of a replacement: the original, not yet deleted, is current again;
                // cleanup deletes the replacement.
                let store_err = |e: String| StepFailure::resource(Action::Update, e);
                row.current = false;
                self.save(&row, false).await.map_err(store_err)?;
                back.current = true;
                return self.save(&back, false).await.map_err(store_err);
            }
        }
        let changed: Vec<String> = changed_keys(&row.properties, &properties);
        let settled = row.status == Status::Complete;
        if settled && !ty.needs_update(&row.properties, &properties) && row.metadata == metadata {
            if row.requires != requires || row.deletion_policy != def.deletion_policy {
                row.requires = requires;
                row.deletion_policy = def.deletion_policy;
                return self
                    .save(&row, false)
                    .await
                    .map_err(|e| StepFailure::resource(Action::Update, e));
            }
            return Ok(());
        }
        let schema = ty.schema();
        let immutable: Vec<&String> = changed
            .iter()
            .filter(|k| schema.properties.get(*k).is_some_and(|s| s.immutable))
            .collect();
        if !immutable.is_empty() {
            let names: Vec<&str> = immutable.iter().map(|s| s.as_str()).collect();
            let err = ResourceError::new(
                "NotSupported",
                format!(
                    "Update to properties {} of {} ({}) is not supported.",
                    names.join(", "),
                    name,
                    def.type_name
                ),
            );
            return Err(self.fail(&mut row, Action::Update, &err).await);
        }
        if !changed.is_empty() && ty.needs_replace(&changed, &row.properties, &properties) {
            return self.replace(&ty, row, properties, metadata, requires).await;
        }
        self.update_row(&ty, row, properties, metadata, requires, changed)
            .await
    }

    fn new_row(&self, name: &str, type_name: &str, current: bool) -> ResourceRecord {
        ResourceRecord {
            id: uuid::Uuid::new_v4().to_string(),
            stack_id: self.stack_id.clone(),
            name: name.to_string(),
            type_name: type_name.to_string(),
            physical_id: None,
            action: Action::Init,
            status: Status::Complete,
            status_reason: String::new(),
            properties: Map::new(),
            metadata: Value::Object(Map::new()),
            data: BTreeMap::new(),
            current,
            requires: Vec::new(),
            short_id: short_id(),
            deletion_policy: self
                .defn
                .resources
                .get(name)
                .map(|d| d.deletion_policy)
                .unwrap_or_default(),
            external_id: None,
            created_at: None,
            updated_at: None,
        }
    }

    /// A resource with `external_id` is not created: the engine records the existing physical
    /// resource (ADOPT) and checks it (CHECK), as Heat does.
    async fn take_external(
        &self,
        ty: &Arc<dyn ResourceType>,
        row: &mut ResourceRecord,
        external_id: &str,
        properties: Map<String, Value>,
        metadata: Value,
        requires: Vec<String>,
    ) -> Result<(), StepFailure> {
        let store_err = |e: String| StepFailure::resource(Action::Adopt, e);
        row.physical_id = Some(external_id.to_string());
        row.external_id = Some(external_id.to_string());
        row.properties = properties;
        row.metadata = metadata;
        row.requires = requires;
        self.set_state(row, Action::Adopt, Status::InProgress, "state changed")
            .await
            .map_err(store_err)?;
        self.set_state(row, Action::Adopt, Status::Complete, "state changed")
            .await
            .map_err(store_err)?;
        self.set_state(row, Action::Check, Status::InProgress, "state changed")
            .await
            .map_err(store_err)?;
        match ty.check(&self.context(row, Action::Check)).await {
            Ok(()) => self
                .set_state(row, Action::Check, Status::Complete, "state changed")
                .await
                .map_err(store_err),
            Err(e) => Err(self.fail(row, Action::Check, &e).await),
        }
    }

    async fn create_row(
        &self,
        ty: &Arc<dyn ResourceType>,
        row: &mut ResourceRecord,
        properties: Map<String, Value>,
        metadata: Value,
        requires: Vec<String>,
    ) -> Result<(), StepFailure> {
        let store_err = |e: String| StepFailure::resource(Action::Create, e);
        row.properties = properties;
        row.metadata = metadata;
        row.requires = requires;
        self.pause_before(row, Action::Create).await?;
        self.set_state(row, Action::Create, Status::InProgress, "state changed")
            .await
            .map_err(store_err)?;
        let cx = self.context(row, Action::Create);
        match ty.create(&cx).await {
            Ok(started) => {
                row.physical_id = started.physical_id.or(row.physical_id.take());
                row.data.extend(started.data);
                if ty.creates_synchronously() {
                    let cx = self.context(row, Action::Create);
                    row.data.extend(ty.completion_data(&cx, Action::Create));
                    self.set_state(row, Action::Create, Status::Complete, "state changed")
                        .await
                        .map_err(store_err)?;
                    return self.pause_after(row, Action::Create).await;
                }
                // The physical id is durable before the engine waits on it.
                self.save(row, false).await.map_err(store_err)?;
            }
            Err(e) => return Err(self.fail(row, Action::Create, &e).await),
        }
        self.resume_create(ty, row).await
    }

    async fn resume_create(
        &self,
        ty: &Arc<dyn ResourceType>,
        row: &mut ResourceRecord,
    ) -> Result<(), StepFailure> {
        let cx = self.context(row, Action::Create);
        match self.poll(&cx, ty.as_ref(), Step::Create).await {
            Ok(()) => {
                row.data.extend(ty.completion_data(&cx, Action::Create));
                self.set_state(row, Action::Create, Status::Complete, "state changed")
                    .await
                    .map_err(|e| StepFailure::resource(Action::Create, e))?;
                self.pause_after(row, Action::Create).await
            }
            Err(e) => Err(self.fail(row, Action::Create, &e).await),
        }
    }

    async fn update_row(
        &self,
        ty: &Arc<dyn ResourceType>,
        mut row: ResourceRecord,
        properties: Map<String, Value>,
        metadata: Value,
        requires: Vec<String>,
        changed: Vec<String>,
    ) -> Result<(), StepFailure> {
        let store_err = |e: String| StepFailure::resource(Action::Update, e);
        let old = row.properties.clone();
        self.pause_before(&mut row, Action::Update).await?;
        self.set_state(
            &mut row,
            Action::Update,
            Status::InProgress,
            "state changed",
        )
        .await
        .map_err(store_err)?;
        let mut cx = self.context(&row, Action::Update);
        cx.properties = properties.clone();
        cx.metadata = metadata.clone();
        let req = UpdateRequest {
            old_properties: &old,
            changed: &changed,
        };
        match ty.update(&cx, req).await {
            Ok(started) => {
                row.data.extend(started.data);
                if let Some(id) = started.physical_id {
                    row.physical_id = Some(id);
                }
                self.save(&row, false).await.map_err(store_err)?;
            }
            Err(ResourceError::UpdateReplace) => {
                return self.replace(ty, row, properties, metadata, requires).await;
            }
            Err(e) => return Err(self.fail(&mut row, Action::Update, &e).await),
        }
        let cx = ResourceContext {
            data: row.data.clone(),
            physical_id: row.physical_id.clone(),
            ..cx
        };
        match self.poll(&cx, ty.as_ref(), Step::Update).await {
            Ok(()) => {
                row.data.extend(ty.completion_data(&cx, Action::Update));
                row.properties = properties;
                row.metadata = metadata;
                row.requires = requires;
                if let Some(def) = self.defn.resources.get(&row.name) {
                    row.deletion_policy = def.deletion_policy;
                }
                self.set_state(&mut row, Action::Update, Status::Complete, "state changed")
                    .await
                    .map_err(store_err)?;
                self.pause_after(&mut row, Action::Update).await
            }
            Err(e) => Err(self.fail(&mut row, Action::Update, &e).await),
        }
    }

    /// Replaces a resource: a new row is created and becomes current; the old row stays
    /// (not current) until cleanup deletes it. When an earlier, not yet deleted row already
    /// matches the target (a rollback of a replacement), it is swapped back instead.
    async fn replace(
        &self,
        ty: &Arc<dyn ResourceType>,
        mut old: ResourceRecord,
        properties: Map<String, Value>,
        metadata: Value,
        requires: Vec<String>,
    ) -> Result<(), StepFailure> {
        let store_err = |e: String| StepFailure::resource(Action::Create, e);
        let previous = self.restorable(&old, &properties);
        old.current = false;
        self.save(&old, false).await.map_err(store_err)?;
        if let Some(mut back) = previous {
            back.current = true;
            return self.save(&back, false).await.map_err(store_err);
        }
        let type_name = self
            .defn
            .resources
            .get(&old.name)
            .map(|d| d.type_name.clone())
            .unwrap_or(old.type_name.clone());
        let mut row = self.new_row(&old.name, &type_name, true);
        self.create_row(ty, &mut row, properties, metadata, requires)
            .await
    }

    /// An earlier row of the same resource, replaced but not yet deleted, that already has
    /// the target properties.
    fn restorable(
        &self,
        current: &ResourceRecord,
        properties: &Map<String, Value>,
    ) -> Option<ResourceRecord> {
        let rows = self.read_rows();
        rows.by_id
            .values()
            .find(|r| {
                !r.current
                    && r.id != current.id
                    && r.name == current.name
                    && r.status == Status::Complete
                    && r.action != Action::Delete
                    && r.type_name == current.type_name
                    && &r.properties == properties
            })
            .cloned()
    }

    // ---- delete ---------------------------------------------------------------------------

    /// Deletes rows in reverse dependency order: a row waits for every row that requires it.
    /// `remove` drops the rows from the store once deleted (update cleanup).
    async fn delete_rows(
        self: &Arc<Self>,
        ids: Vec<String>,
        deadline: tokio::time::Instant,
        abandon: bool,
        remove: bool,
    ) -> GraphOutcome {
        let prereqs = {
            let rows = self.read_rows();
            let targets: BTreeSet<&String> = ids.iter().collect();
            let mut by_name: HashMap<&str, Vec<&String>> = HashMap::new();
            for id in &ids {
                if let Some(r) = rows.by_id.get(id) {
                    by_name.entry(r.name.as_str()).or_default().push(id);
                }
            }
            let mut prereqs: HashMap<String, Vec<String>> =
                ids.iter().map(|i| (i.clone(), Vec::new())).collect();
            for id in &ids {
                let Some(r) = rows.by_id.get(id) else {
                    continue;
                };
                for needed in &r.requires {
                    for target in by_name.get(needed.as_str()).into_iter().flatten() {
                        if targets.contains(target) && *target != id {
                            prereqs
                                .entry((*target).clone())
                                .or_default()
                                .push(id.clone());
                        }
                    }
                }
            }
            prereqs
        };
        run_graph(
            self.clone(),
            ids,
            prereqs,
            self.engine.config.concurrency,
            deadline,
            self.cancel.clone(),
            move |run: Arc<Run>, id: String| async move { run.delete_row(&id, abandon, remove).await },
        )
        .await
    }

    async fn delete_row(&self, id: &str, abandon: bool, remove: bool) -> Result<(), StepFailure> {
        let Some(mut row) = self.read_rows().by_id.get(id).cloned() else {
            return Ok(());
        };
        let store_err = |e: String| StepFailure::resource(Action::Delete, e);
        let untouched = row.action == Action::Init;
        let gone = row.action == Action::Delete && row.status == Status::Complete;
        if !(untouched || gone || abandon) {
            self.pause_before(&mut row, Action::Delete).await?;
            self.set_state(
                &mut row,
                Action::Delete,
                Status::InProgress,
                "state changed",
            )
            .await
            .map_err(store_err)?;
            let keep = row.deletion_policy == crate::definition::DeletionPolicy::Retain;
            if !keep {
                let ty = self.type_of_row(&row).map_err(store_err)?;
                let cx = self.context(&row, Action::Delete);
                if row.deletion_policy == crate::definition::DeletionPolicy::Snapshot {
                    match ty.snapshot(&cx).await {
                        Ok(data) => row.data.extend(data),
                        Err(e) => return Err(self.fail(&mut row, Action::Delete, &e).await),
                    }
                }
                match ty.delete(&cx).await {
                    Ok(started) => row.data.extend(started.data),
                    Err(e) => return Err(self.fail(&mut row, Action::Delete, &e).await),
                }
                let cx = self.context(&row, Action::Delete);
                if let Err(e) = self.poll(&cx, ty.as_ref(), Step::Delete).await {
                    return Err(self.fail(&mut row, Action::Delete, &e).await);
                }
            }
            self.set_state(&mut row, Action::Delete, Status::Complete, "state changed")
                .await
                .map_err(store_err)?;
            self.pause_after(&mut row, Action::Delete).await?;
        }
        if remove {
            self.engine
                .commit(vec![Write::RemoveResource {
                    stack_id: self.stack_id.clone(),
                    id: row.id.clone(),
                }])
                .await
                .map_err(|e| store_err(e.to_string()))?;
            self.write_rows().by_id.remove(&row.id);
        }
        Ok(())
    }

    // ---- suspend / resume / check ---------------------------------------------------------

    async fn walk(
        self: &Arc<Self>,
        action: Action,
        deadline: tokio::time::Instant,
    ) -> GraphOutcome {
        let (ids, prereqs) = {
            let rows = self.read_rows();
            let current: Vec<&ResourceRecord> = rows.by_id.values().filter(|r| r.current).collect();
            let ids: Vec<String> = current.iter().map(|r| r.name.clone()).collect();
            let mut prereqs: HashMap<String, Vec<String>> =
                ids.iter().map(|n| (n.clone(), Vec::new())).collect();
            let names: BTreeSet<&String> = ids.iter().collect();
            for r in &current {
                for needed in r.requires.iter().filter(|n| names.contains(n)) {
                    // Suspend goes dependents first (like delete); resume and check go forward.
                    if action == Action::Suspend {
                        prereqs
                            .entry(needed.clone())
                            .or_default()
                            .push(r.name.clone());
                    } else {
                        prereqs
                            .entry(r.name.clone())
                            .or_default()
                            .push(needed.clone());
                    }
                }
            }
            (ids, prereqs)
        };
        run_graph(
            self.clone(),
            ids,
            prereqs,
            self.engine.config.concurrency,
            deadline,
            self.cancel.clone(),
            move |run: Arc<Run>, name: String| async move { run.walk_resource(&name, action).await },
        )
        .await
    }

    async fn walk_resource(&self, name: &str, action: Action) -> Result<(), StepFailure> {
        let Some(mut row) = self.current_row(name) else {
            return Ok(());
        };
        if row.action == action && row.status == Status::Complete {
            return Ok(());
        }
        let store_err = |e: String| StepFailure::resource(action, e);
        let ty = self.type_of_row(&row).map_err(store_err)?;
        self.set_state(&mut row, action, Status::InProgress, "state changed")
            .await
            .map_err(store_err)?;
        let cx = self.context(&row, action);
        let result = match action {
            Action::Check => ty.check(&cx).await,
            Action::Suspend | Action::Resume => {
                let started = if action == Action::Suspend {
                    ty.suspend(&cx).await
                } else {
                    ty.resume(&cx).await
                };
                match started {
                    Ok(s) => {
                        row.data.extend(s.data);
                        let cx = self.context(&row, action);
                        self.poll(&cx, ty.as_ref(), Step::Action).await
                    }
                    Err(e) => Err(e),
                }
            }
            _ => Ok(()),
        };
        match result {
            Ok(()) => self
                .set_state(&mut row, action, Status::Complete, "state changed")
                .await
                .map_err(store_err),
            Err(e) => Err(self.fail(&mut row, action, &e).await),
        }
    }

    /// Called by the graph runner on timeout or cancel.
    pub(crate) fn stop(&self) {
        self.stop.send_replace(true);
    }
}

fn validate_resolved(
    ty: &dyn ResourceType,
    name: &str,
    value: &Value,
) -> Result<Map<String, Value>, String> {
    let empty = Map::new();
    let given = match value {
        Value::Object(m) => m,
        Value::Null => &empty,
        other => {
            return Err(format!(
                "Property error: resources.{name}.properties: \"{}\" is not a map",
                crate::schema::python_str(other)
            ))
        }
    };
    let props = validate_properties(ty.schema(), given).map_err(|e| property_error(name, &e))?;
    ty.validate(&props)
        .map_err(|m| format!("resources.{name}: {m}"))?;
    Ok(props)
}

/// Heat's `Property error: resources.<name>.properties.<path>: <message>`.
pub(crate) fn property_error(name: &str, e: &PropertyError) -> String {
    let mut path = format!("resources.{name}.properties");
    for seg in &e.path {
        path.push('.');
        path.push_str(seg);
    }
    format!("Property error: {path}: {}", e.message)
}

fn changed_keys(old: &Map<String, Value>, new: &Map<String, Value>) -> Vec<String> {
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    keys.into_iter()
        .filter(|k| old.get(*k).unwrap_or(&Value::Null) != new.get(*k).unwrap_or(&Value::Null))
        .cloned()
        .collect()
}

fn short_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    bytes[..12]
        .iter()
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect()
}

/// An attribute read by `get_attr`: resource, attribute and the path into it (the path is part
/// of the key because types such as groups read it as an argument).
type AttrKey = (String, String, Vec<Value>);

struct RunResolver<'a> {
    run: &'a Run,
    attrs: &'a HashMap<AttrKey, Value>,
    missing: Mutex<Vec<AttrKey>>,
}

impl Resolver for RunResolver<'_> {
    fn resource_ref(&self, name: &str) -> Option<Value> {
        let defined = self.run.defn.resources.contains_key(name);
        match self.run.current_row(name) {
            Some(row) if row.action != Action::Init => {
                let ty = self.run.type_of_row(&row).ok()?;
                Some(ty.reference_id(&self.run.context(&row, row.action)))
            }
            _ if defined => Some(Value::String(name.to_string())),
            _ => None,
        }
    }

    fn resource_attr(&self, name: &str, attr: &str, path: &[Value]) -> Result<Value, String> {
        let key = (name.to_string(), attr.to_string(), path.to_vec());
        match self.attrs.get(&key) {
            Some(v) => Ok(v.clone()),
            None => {
                if let Ok(mut m) = self.missing.lock() {
                    if !m.contains(&key) {
                        m.push(key);
                    }
                }
                Ok(Value::Null)
            }
        }
    }

    fn resource_attrs(&self, name: &str) -> Result<Value, String> {
        let Some(row) = self.run.current_row(name) else {
            return Ok(Value::Null);
        };
        let ty = self.run.type_of_row(&row)?;
        let mut out = Map::new();
        for attr in ty.schema().attributes.keys() {
            out.insert(attr.clone(), self.resource_attr(name, attr, &[])?);
        }
        Ok(Value::Object(out))
    }
}
