//! The persistence the engine needs, as a trait: ember-store's SQLite/PostgreSQL backends
//! implement it (see `store_adapter`), and [`MemoryStore`] serves tests and dry runs.
//!
//! Writes are batched: the engine's [`GroupWriter`] gathers every write issued while the
//! previous transaction was running into one `apply` call, so a scheduling wave of thousands of
//! status changes costs one transaction, and each writer still waits for its own write to be
//! durable before acting on it.

use crate::model::{EventRecord, ResourceRecord, SnapshotRecord, StackRecord};
use crate::software::{SoftwareConfig, SoftwareDeployment};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::{mpsc, oneshot};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    #[error("a live stack named {0} already exists")]
    NameTaken(String),
    #[error("store failure: {0}")]
    Backend(String),
}

/// One write inside a transaction.
#[derive(Debug, Clone)]
pub enum Write {
    Stack(Box<StackRecord>),
    Resource(Box<ResourceRecord>),
    RemoveResource {
        stack_id: String,
        id: String,
    },
    /// The store assigns `seq`.
    Event(Box<EventRecord>),
    Snapshot(Box<SnapshotRecord>),
    RemoveSnapshot {
        id: String,
    },
}

#[async_trait]
pub trait StateStore: Send + Sync {
    /// Inserts a new stack; refuses a live stack of the same name in the same project.
    async fn insert_stack(&self, stack: &StackRecord) -> Result<(), StoreError>;
    /// Applies writes atomically, in order.
    async fn apply(&self, writes: Vec<Write>) -> Result<(), StoreError>;
    async fn stack(&self, id: &str) -> Result<Option<StackRecord>, StoreError>;
    /// A live (not deleted) stack by name.
    async fn stack_by_name(
        &self,
        project_id: &str,
        name: &str,
    ) -> Result<Option<StackRecord>, StoreError>;
    /// Stacks of a project (every project when `None`), oldest first.
    async fn stacks(
        &self,
        project_id: Option<&str>,
        show_deleted: bool,
    ) -> Result<Vec<StackRecord>, StoreError>;
    /// The list rows of the stacks `query` selects (filtered, sorted, paged, as in Heat's
    /// stack list) and how many stacks match it in all (paging aside).
    async fn stack_summaries(
        &self,
        query: &ember_store::StackQuery,
    ) -> Result<(Vec<ember_store::StackSummary>, u64), StoreError>;
    async fn resources(&self, stack_id: &str) -> Result<Vec<ResourceRecord>, StoreError>;
    /// Events of a stack, in `seq` order.
    async fn events(&self, stack_id: &str) -> Result<Vec<EventRecord>, StoreError>;
    async fn snapshots(&self, stack_id: &str) -> Result<Vec<SnapshotRecord>, StoreError>;
    /// Takes the stack's action lock for `engine_id`. `Ok(None)` when taken, `Ok(Some(holder))`
    /// when another engine holds it.
    async fn try_lock(&self, stack_id: &str, engine_id: &str)
        -> Result<Option<String>, StoreError>;
    async fn unlock(&self, stack_id: &str, engine_id: &str) -> Result<(), StoreError>;
    /// Records that `engine_id` is alive now.
    async fn heartbeat(&self, engine_id: &str, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Moves to `engine_id` every lock whose holder's last heartbeat is before `stale_before`
    /// (or that has no heartbeat at all); returns the stacks whose locks were taken over.
    async fn take_stale_locks(
        &self,
        engine_id: &str,
        stale_before: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError>;
    async fn insert_software_config(&self, config: &SoftwareConfig) -> Result<(), StoreError>;
    async fn software_config(&self, id: &str) -> Result<Option<SoftwareConfig>, StoreError>;
    /// Configs of a project (every project when `None`), oldest first.
    async fn software_configs(
        &self,
        project_id: Option<&str>,
    ) -> Result<Vec<SoftwareConfig>, StoreError>;
    /// `false` when there was no such config.
    async fn delete_software_config(&self, id: &str) -> Result<bool, StoreError>;
    /// Inserts a new deployment, or replaces the stored one of the same id.
    async fn save_software_deployment(
        &self,
        deployment: &SoftwareDeployment,
    ) -> Result<(), StoreError>;
    async fn software_deployment(&self, id: &str)
        -> Result<Option<SoftwareDeployment>, StoreError>;
    /// Deployments of a project (every project when `None`), of one server when given, oldest
    /// first.
    async fn software_deployments(
        &self,
        project_id: Option<&str>,
        server_id: Option<&str>,
    ) -> Result<Vec<SoftwareDeployment>, StoreError>;
    /// `false` when there was no such deployment.
    async fn delete_software_deployment(&self, id: &str) -> Result<bool, StoreError>;
}

/// Writes and the channel on which their writer waits for the outcome.
type WriteRequest = (Vec<Write>, oneshot::Sender<Result<(), StoreError>>);

/// Batches concurrent writes into single transactions (group commit).
#[derive(Clone)]
pub struct GroupWriter {
    tx: mpsc::UnboundedSender<WriteRequest>,
}

/// Upper bound on writes merged into one transaction, so one batch never grows without bound.
const MAX_BATCH_WRITES: usize = 8_192;

impl GroupWriter {
    /// Starts the writer task on the current tokio runtime.
    pub fn start(store: std::sync::Arc<dyn StateStore>) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<WriteRequest>();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut writes = first.0;
                let mut waiters = vec![first.1];
                while writes.len() < MAX_BATCH_WRITES {
                    match rx.try_recv() {
                        Ok((more, waiter)) => {
                            writes.extend(more);
                            waiters.push(waiter);
                        }
                        Err(_) => break,
                    }
                }
                let result = store.apply(writes).await;
                for waiter in waiters {
                    // A waiter that went away no longer needs the answer.
                    let _ = waiter.send(result.clone());
                }
            }
        });
        GroupWriter { tx }
    }

    /// Writes and waits until the writes are durable.
    pub async fn write(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send((writes, done))
            .map_err(|_| StoreError::Backend("the store writer has stopped".into()))?;
        wait.await
            .map_err(|_| StoreError::Backend("the store writer has stopped".into()))?
    }
}

/// An in-memory store: every table in one mutex.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<MemoryTables>,
}

#[derive(Default)]
struct MemoryTables {
    stacks: Vec<StackRecord>,
    /// stack id → resource rows in insertion order.
    resources: HashMap<String, Vec<ResourceRecord>>,
    /// resource id → its index in its stack's rows.
    resource_index: HashMap<String, usize>,
    events: HashMap<String, Vec<EventRecord>>,
    snapshots: Vec<SnapshotRecord>,
    locks: HashMap<String, String>,
    heartbeats: HashMap<String, DateTime<Utc>>,
    next_seq: u64,
    software_configs: Vec<SoftwareConfig>,
    software_deployments: Vec<SoftwareDeployment>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn tables(&self) -> Result<std::sync::MutexGuard<'_, MemoryTables>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError::Backend("memory store poisoned".into()))
    }
}

/// A stack's list row; the engine makes every id a uuid (anything else lists as the nil id).
fn summary_of(s: &StackRecord) -> ember_store::StackSummary {
    let uuid = |id: &str| uuid::Uuid::parse_str(id).unwrap_or_default();
    ember_store::StackSummary {
        id: uuid(&s.id),
        name: s.name.clone(),
        tenant: s.project_id.clone(),
        owner_id: s.parent.as_deref().map(uuid),
        action: s.action.as_str().into(),
        status: s.status.as_str().into(),
        status_reason: s.status_reason.clone(),
        tags: s.tags.clone(),
        username: s.username.clone(),
        created_at: s.created_at,
        updated_at: s.updated_at,
        deleted_at: s.deleted_at,
    }
}

#[async_trait]
impl StateStore for MemoryStore {
    async fn insert_stack(&self, stack: &StackRecord) -> Result<(), StoreError> {
        let mut t = self.tables()?;
        if t.stacks.iter().any(|s| {
            s.project_id == stack.project_id && s.name == stack.name && s.deleted_at.is_none()
        }) {
            return Err(StoreError::NameTaken(stack.name.clone()));
        }
        t.stacks.push(stack.clone());
        Ok(())
    }

    async fn apply(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let mut t = self.tables()?;
        for w in writes {
            match w {
                Write::Stack(s) => {
                    if let Some(slot) = t.stacks.iter_mut().find(|x| x.id == s.id) {
                        *slot = *s;
                    } else {
                        t.stacks.push(*s);
                    }
                }
                Write::Resource(r) => {
                    let tables = &mut *t;
                    let rows = tables.resources.entry(r.stack_id.clone()).or_default();
                    match tables.resource_index.get(&r.id) {
                        Some(&i) if rows.get(i).is_some_and(|x| x.id == r.id) => rows[i] = *r,
                        _ => {
                            tables.resource_index.insert(r.id.clone(), rows.len());
                            rows.push(*r);
                        }
                    }
                }
                Write::RemoveResource { stack_id, id } => {
                    let tables = &mut *t;
                    if let Some(rows) = tables.resources.get_mut(&stack_id) {
                        rows.retain(|r| r.id != id);
                        tables.resource_index.remove(&id);
                        for (i, r) in rows.iter().enumerate() {
                            tables.resource_index.insert(r.id.clone(), i);
                        }
                    }
                }
                Write::Event(mut e) => {
                    t.next_seq += 1;
                    e.seq = t.next_seq;
                    t.events.entry(e.stack_id.clone()).or_default().push(*e);
                }
                Write::Snapshot(s) => {
                    if let Some(slot) = t.snapshots.iter_mut().find(|x| x.id == s.id) {
                        *slot = *s;
                    } else {
                        t.snapshots.push(*s);
                    }
                }
                Write::RemoveSnapshot { id } => t.snapshots.retain(|s| s.id != id),
            }
        }
        Ok(())
    }

    async fn stack(&self, id: &str) -> Result<Option<StackRecord>, StoreError> {
        Ok(self.tables()?.stacks.iter().find(|s| s.id == id).cloned())
    }

    async fn stack_by_name(
        &self,
        project_id: &str,
        name: &str,
    ) -> Result<Option<StackRecord>, StoreError> {
        Ok(self
            .tables()?
            .stacks
            .iter()
            .find(|s| s.project_id == project_id && s.name == name && s.deleted_at.is_none())
            .cloned())
    }

    async fn stacks(
        &self,
        project_id: Option<&str>,
        show_deleted: bool,
    ) -> Result<Vec<StackRecord>, StoreError> {
        Ok(self
            .tables()?
            .stacks
            .iter()
            .filter(|s| project_id.is_none_or(|p| s.project_id == p))
            .filter(|s| show_deleted || s.deleted_at.is_none())
            .cloned()
            .collect())
    }

    async fn stack_summaries(
        &self,
        query: &ember_store::StackQuery,
    ) -> Result<(Vec<ember_store::StackSummary>, u64), StoreError> {
        let summaries: Vec<ember_store::StackSummary> =
            self.tables()?.stacks.iter().map(summary_of).collect();
        let count = summaries.iter().filter(|s| query.matches(s)).count();
        let page = query
            .page(summaries)
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok((page, u64::try_from(count).unwrap_or(u64::MAX)))
    }

    async fn resources(&self, stack_id: &str) -> Result<Vec<ResourceRecord>, StoreError> {
        Ok(self
            .tables()?
            .resources
            .get(stack_id)
            .cloned()
            .unwrap_or_default())
    }

    async fn events(&self, stack_id: &str) -> Result<Vec<EventRecord>, StoreError> {
        Ok(self
            .tables()?
            .events
            .get(stack_id)
            .cloned()
            .unwrap_or_default())
    }

    async fn snapshots(&self, stack_id: &str) -> Result<Vec<SnapshotRecord>, StoreError> {
        Ok(self
            .tables()?
            .snapshots
            .iter()
            .filter(|s| s.stack_id == stack_id)
            .cloned()
            .collect())
    }

    async fn try_lock(
        &self,
        stack_id: &str,
        engine_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let mut t = self.tables()?;
        match t.locks.get(stack_id) {
            Some(holder) => Ok(Some(holder.clone())),
            None => {
                t.locks.insert(stack_id.to_string(), engine_id.to_string());
                Ok(None)
            }
        }
    }

    async fn unlock(&self, stack_id: &str, engine_id: &str) -> Result<(), StoreError> {
        let mut t = self.tables()?;
        if t.locks.get(stack_id).is_some_and(|h| h == engine_id) {
            t.locks.remove(stack_id);
        }
        Ok(())
    }

    async fn heartbeat(&self, engine_id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.tables()?.heartbeats.insert(engine_id.to_string(), now);
        Ok(())
    }

    async fn take_stale_locks(
        &self,
        engine_id: &str,
        stale_before: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        let mut t = self.tables()?;
        let stale: Vec<String> = t
            .locks
            .iter()
            .filter(|(_, holder)| {
                holder.as_str() != engine_id
                    && t.heartbeats
                        .get(*holder)
                        .is_none_or(|beat| *beat < stale_before)
            })
            .map(|(stack, _)| stack.clone())
            .collect();
        for s in &stale {
            t.locks.insert(s.clone(), engine_id.to_string());
        }
        Ok(stale)
    }

    async fn insert_software_config(&self, config: &SoftwareConfig) -> Result<(), StoreError> {
        self.tables()?.software_configs.push(config.clone());
        Ok(())
    }

    async fn software_config(&self, id: &str) -> Result<Option<SoftwareConfig>, StoreError> {
        Ok(self
            .tables()?
            .software_configs
            .iter()
            .find(|c| c.id == id)
            .cloned())
    }

    async fn software_configs(
        &self,
        project_id: Option<&str>,
    ) -> Result<Vec<SoftwareConfig>, StoreError> {
        Ok(self
            .tables()?
            .software_configs
            .iter()
            .filter(|c| project_id.is_none_or(|p| c.project_id == p))
            .cloned()
            .collect())
    }

    async fn delete_software_config(&self, id: &str) -> Result<bool, StoreError> {
        let mut t = self.tables()?;
        let before = t.software_configs.len();
        t.software_configs.retain(|c| c.id != id);
        Ok(t.software_configs.len() != before)
    }

    async fn save_software_deployment(
        &self,
        deployment: &SoftwareDeployment,
    ) -> Result<(), StoreError> {
        let mut t = self.tables()?;
        match t
            .software_deployments
            .iter_mut()
            .find(|d| d.id == deployment.id)
        {
            Some(slot) => *slot = deployment.clone(),
            None => t.software_deployments.push(deployment.clone()),
        }
        Ok(())
    }

    async fn software_deployment(
        &self,
        id: &str,
    ) -> Result<Option<SoftwareDeployment>, StoreError> {
        Ok(self
            .tables()?
            .software_deployments
            .iter()
            .find(|d| d.id == id)
            .cloned())
    }

    async fn software_deployments(
        &self,
        project_id: Option<&str>,
        server_id: Option<&str>,
    ) -> Result<Vec<SoftwareDeployment>, StoreError> {
        Ok(self
            .tables()?
            .software_deployments
            .iter()
            .filter(|d| project_id.is_none_or(|p| d.project_id == p))
            .filter(|d| server_id.is_none_or(|s| d.server_id == s))
            .cloned()
            .collect())
    }

    async fn delete_software_deployment(&self, id: &str) -> Result<bool, StoreError> {
        let mut t = self.tables()?;
        let before = t.software_deployments.len();
        t.software_deployments.retain(|d| d.id != id);
        Ok(t.software_deployments.len() != before)
    }
}
