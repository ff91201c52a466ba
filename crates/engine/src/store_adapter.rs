//! [`StateStore`] over ember-store (SQLite embedded, PostgreSQL scale-out).
//!
//! ember-store's updates are optimistic (each names the row version it read); the adapter
//! remembers the version of every row it read or wrote, so the engine's upserts become inserts
//! or versioned updates. A version mismatch (another engine wrote the row) fails the write.
//! Locks are leases that the engine heartbeat renews; a lock whose lease ran out is stale.

use crate::definition::{DeletionPolicy, TemplateSource};
use crate::model::{
    Action, CancelMode, EventRecord, PreviousDefinition, ResourceRecord, SnapshotRecord,
    StackRecord, Status,
};
use crate::software::{SoftwareConfig, SoftwareDeployment};
use crate::store::{StateStore, StoreError, Write};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ember_store as db;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;
use uuid::Uuid;

pub struct SqlStore {
    store: db::Store,
    /// How long a lock or heartbeat stays valid without renewal.
    lease: Duration,
    versions: Mutex<HashMap<Uuid, i64>>,
}

impl SqlStore {
    pub fn new(store: db::Store, lease: Duration) -> Self {
        SqlStore {
            store,
            lease,
            versions: Mutex::new(HashMap::new()),
        }
    }

    /// Opens the store at `url` (e.g. `sqlite:///path/ember.db`).
    pub async fn open(
        url: &str,
        key: &db::EncryptionKey,
        lease: Duration,
    ) -> Result<Self, StoreError> {
        let store = db::Store::open(url, key).await.map_err(backend)?;
        Ok(Self::new(store, lease))
    }

    /// Records that `id` is stored at `version` or later. Versions only grow, and a read may
    /// finish after a write of the same row that it did not see (a client listing resources
    /// while the engine writes them), so the highest version seen wins: a stale read must not
    /// make the next write name an old version and fail as "changed by someone else".
    fn remember(&self, id: Uuid, version: i64) {
        if let Ok(mut v) = self.versions.lock() {
            let known = v.entry(id).or_insert(version);
            *known = (*known).max(version);
        }
    }

    fn forget(&self, id: &Uuid) {
        if let Ok(mut v) = self.versions.lock() {
            v.remove(id);
        }
    }

    fn known(&self, id: &Uuid) -> Option<i64> {
        self.versions.lock().ok().and_then(|v| v.get(id).copied())
    }

    /// The version an update of `id` must name (`None`: the row is new, insert it), counting
    /// the writes already queued in this batch (each update advances the version by one).
    fn next_version(&self, pending: &mut HashMap<Uuid, i64>, id: Uuid) -> Option<i64> {
        let current = pending.get(&id).copied().or_else(|| self.known(&id));
        pending.insert(id, current.map_or(0, |v| v + 1));
        current
    }
}

fn backend(e: db::StoreError) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn uuid(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|_| StoreError::Backend(format!("not a uuid: {s}")))
}

fn template_text(v: &Value) -> (String, &'static str) {
    match v {
        Value::String(s) => (s.clone(), "text"),
        other => (other.to_string(), "json"),
    }
}

fn template_value(text: &str, kind: &str) -> Value {
    if kind == "json" {
        serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
    } else {
        Value::String(text.to_string())
    }
}

fn files_out(files: &Map<String, Value>) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), str::to_string),
            )
        })
        .collect()
}

/// The environment sections whose hidden values are stored with the hidden parameters.
const ENVIRONMENT_VALUE_SECTIONS: [&str; 2] = ["parameters", "parameter_defaults"];

/// The key under which a hidden value of an environment section is kept among the stored
/// parameters, so that the store encrypts it like a hidden request parameter.
fn environment_value_key(section: &str, name: &str) -> String {
    format!("environment/{section}/{name}")
}

fn definition_out(
    source: &TemplateSource,
    parameters: &Map<String, Value>,
) -> (db::StackDefinition, &'static str) {
    let (template, kind) = template_text(&source.template);
    let mut environment = source.environment.clone();
    let mut stored = parameters.clone();
    let has_environment_values = ENVIRONMENT_VALUE_SECTIONS.iter().any(|section| {
        environment
            .get(section)
            .and_then(Value::as_object)
            .is_some_and(|m| !m.is_empty())
    });
    // Only templates given values need parsing for which values to encrypt.
    let names = if parameters.is_empty() && !has_environment_values {
        Vec::new()
    } else {
        crate::template_compiler::hidden_parameter_names(&source.template)
    };
    let mut hidden: Vec<String> = names
        .iter()
        .filter(|n| parameters.contains_key(*n))
        .cloned()
        .collect();
    for section in ENVIRONMENT_VALUE_SECTIONS {
        let Some(values) = environment.get_mut(section).and_then(Value::as_object_mut) else {
            continue;
        };
        for name in &names {
            if let Some(value) = values.remove(name) {
                let key = environment_value_key(section, name);
                stored.insert(key.clone(), value);
                hidden.push(key);
            }
        }
    }
    (
        db::StackDefinition {
            template,
            environment,
            files: files_out(&source.files),
            parameters: stored,
            hidden_parameters: hidden,
        },
        kind,
    )
}

/// The stored definition back as the engine's source and request parameters, the hidden
/// environment values returned to their sections.
fn definition_in(
    d: &db::StackDefinition,
    kind: &str,
    environment_files: Vec<String>,
) -> (TemplateSource, Map<String, Value>) {
    let mut environment = d.environment.clone();
    let mut parameters = Map::new();
    for (key, value) in &d.parameters {
        let section = key
            .strip_prefix("environment/")
            .and_then(|rest| rest.split_once('/'))
            .filter(|(section, _)| ENVIRONMENT_VALUE_SECTIONS.contains(section))
            .filter(|_| d.hidden_parameters.contains(key));
        match (section, environment.as_object_mut()) {
            (Some((section, name)), Some(env)) => {
                if let Some(values) = env
                    .entry(section)
                    .or_insert_with(|| Value::Object(Map::new()))
                    .as_object_mut()
                {
                    values.insert(name.to_string(), value.clone());
                }
            }
            _ => {
                parameters.insert(key.clone(), value.clone());
            }
        }
    }
    let source = TemplateSource {
        template: template_value(&d.template, kind),
        environment,
        files: d
            .files
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
        environment_files,
        facade: Value::Null,
    };
    (source, parameters)
}

fn stack_out(s: &StackRecord, version: i64) -> Result<db::StackRecord, StoreError> {
    let (definition, kind) = definition_out(&s.source, &s.parameters);
    let (previous, previous_kind) = match &s.previous {
        Some(p) => {
            let (d, k) = definition_out(&p.source, &p.parameters);
            (Some(d), Some(k))
        }
        None => (None, None),
    };
    Ok(db::StackRecord {
        id: uuid(&s.id)?,
        name: s.name.clone(),
        tenant: s.project_id.clone(),
        // The owner column lets the store list top-level stacks only (`show_nested`).
        owner_id: s.parent.as_deref().map(uuid).transpose()?,
        parent_resource: s.parent_resource.clone(),
        nested_depth: i64::from(s.nested_depth),
        action: s.action.as_str().into(),
        status: s.status.as_str().into(),
        status_reason: s.status_reason.clone(),
        definition,
        previous,
        timeout_mins: s.timeout_mins.map(i64::from),
        disable_rollback: s.disable_rollback,
        tags: s.tags.clone(),
        user_id: String::new(),
        username: s.username.clone(),
        current_traversal: None,
        engine_data: json!({
            "template_kind": kind,
            "previous_template_kind": previous_kind,
            "environment_files": s.source.environment_files,
            "facade": s.source.facade,
            "previous_environment_files": s.previous.as_ref().map(|p| p.source.environment_files.clone()),
            "cancel": s.cancel.map(|c| match c { CancelMode::Rollback => "rollback", CancelMode::NoRollback => "no_rollback" }),
            "parent": s.parent,
        }),
        created_at: s.created_at,
        updated_at: s.updated_at,
        deleted_at: s.deleted_at,
        trust_id: s.trust_id.clone(),
        version,
    })
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn stack_in(s: db::StackRecord) -> StackRecord {
    let e = &s.engine_data;
    let kind = e
        .get("template_kind")
        .and_then(Value::as_str)
        .unwrap_or("text");
    let previous_kind = e
        .get("previous_template_kind")
        .and_then(Value::as_str)
        .unwrap_or("text");
    let (mut source, parameters) =
        definition_in(&s.definition, kind, strings(e.get("environment_files")));
    source.facade = e.get("facade").cloned().unwrap_or(Value::Null);
    StackRecord {
        id: s.id.to_string(),
        name: s.name,
        project_id: s.tenant,
        username: s.username,
        action: Action::parse(&s.action).unwrap_or(Action::Init),
        status: Status::parse(&s.status).unwrap_or(Status::Failed),
        status_reason: s.status_reason,
        source,
        parameters,
        previous: s.previous.as_ref().map(|p| {
            let (source, parameters) = definition_in(
                p,
                previous_kind,
                strings(e.get("previous_environment_files")),
            );
            PreviousDefinition { source, parameters }
        }),
        timeout_mins: s.timeout_mins.and_then(|m| u32::try_from(m).ok()),
        disable_rollback: s.disable_rollback,
        tags: s.tags,
        parent: e.get("parent").and_then(Value::as_str).map(str::to_string),
        parent_resource: s.parent_resource,
        nested_depth: u32::try_from(s.nested_depth).unwrap_or(0),
        created_at: s.created_at,
        updated_at: s.updated_at,
        deleted_at: s.deleted_at,
        cancel: match e.get("cancel").and_then(Value::as_str) {
            Some("rollback") => Some(CancelMode::Rollback),
            Some("no_rollback") => Some(CancelMode::NoRollback),
            _ => None,
        },
        trust_id: s.trust_id,
    }
}

fn resource_out(r: &ResourceRecord, version: i64) -> Result<db::ResourceRecord, StoreError> {
    Ok(db::ResourceRecord {
        id: uuid(&r.id)?,
        stack_id: uuid(&r.stack_id)?,
        name: r.name.clone(),
        type_name: r.type_name.clone(),
        physical_id: r.physical_id.clone(),
        action: r.action.as_str().into(),
        status: r.status.as_str().into(),
        status_reason: r.status_reason.clone(),
        properties: Value::Object(r.properties.clone()),
        data: r.data.clone(),
        attributes: json!({}),
        metadata: r.metadata.clone(),
        requires: r.requires.clone(),
        replaces: None,
        replaced_by: None,
        current: r.current,
        engine_id: None,
        engine_data: json!({
            "short_id": r.short_id,
            "deletion_policy": r.deletion_policy,
            "external_id": r.external_id,
            "created": r.created_at,
        }),
        created_at: r.created_at.unwrap_or_else(Utc::now),
        updated_at: r.updated_at,
        version,
    })
}

fn resource_in(r: db::ResourceRecord) -> ResourceRecord {
    let e = &r.engine_data;
    ResourceRecord {
        id: r.id.to_string(),
        stack_id: r.stack_id.to_string(),
        name: r.name,
        type_name: r.type_name,
        physical_id: r.physical_id,
        action: Action::parse(&r.action).unwrap_or(Action::Init),
        status: Status::parse(&r.status).unwrap_or(Status::Failed),
        status_reason: r.status_reason,
        properties: r.properties.as_object().cloned().unwrap_or_default(),
        metadata: r.metadata,
        data: r.data,
        current: r.current,
        requires: r.requires,
        short_id: e
            .get("short_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        deletion_policy: e
            .get("deletion_policy")
            .and_then(|v| serde_json::from_value::<DeletionPolicy>(v.clone()).ok())
            .unwrap_or_default(),
        external_id: e
            .get("external_id")
            .and_then(Value::as_str)
            .map(str::to_string),
        created_at: e
            .get("created")
            .and_then(|v| serde_json::from_value::<Option<DateTime<Utc>>>(v.clone()).ok())
            .flatten(),
        updated_at: r.updated_at,
    }
}

fn event_out(e: &EventRecord) -> Result<db::EventRecord, StoreError> {
    Ok(db::EventRecord {
        id: uuid(&e.id)?,
        stack_id: uuid(&e.stack_id)?,
        seq: 0,
        resource_name: e.resource_name.clone(),
        physical_id: e.physical_id.clone(),
        resource_type: e.resource_type.clone(),
        action: e.action.as_str().into(),
        status: e.status.as_str().into(),
        reason: e.reason.clone(),
        properties: e.properties.clone(),
        time: e.time,
    })
}

fn event_in(e: db::EventRecord) -> EventRecord {
    EventRecord {
        id: e.id.to_string(),
        stack_id: e.stack_id.to_string(),
        seq: u64::try_from(e.seq).unwrap_or_default(),
        resource_name: e.resource_name,
        physical_id: e.physical_id,
        resource_type: e.resource_type,
        action: Action::parse(&e.action).unwrap_or(Action::Init),
        status: Status::parse(&e.status).unwrap_or(Status::Failed),
        reason: e.reason,
        properties: e.properties,
        time: e.time,
    }
}

fn snapshot_out(s: &SnapshotRecord, version: i64) -> Result<db::SnapshotRecord, StoreError> {
    Ok(db::SnapshotRecord {
        id: uuid(&s.id)?,
        stack_id: uuid(&s.stack_id)?,
        name: s.name.clone(),
        status: s.status.as_str().into(),
        status_reason: s.status_reason.clone().unwrap_or_default(),
        data: s.data.clone(),
        created_at: s.created_at,
        version,
    })
}

fn snapshot_in(s: db::SnapshotRecord) -> SnapshotRecord {
    SnapshotRecord {
        id: s.id.to_string(),
        stack_id: s.stack_id.to_string(),
        name: s.name,
        status: Status::parse(&s.status).unwrap_or(Status::Failed),
        status_reason: Some(s.status_reason),
        data: s.data,
        created_at: s.created_at,
    }
}

#[async_trait]
impl StateStore for SqlStore {
    async fn insert_stack(&self, stack: &StackRecord) -> Result<(), StoreError> {
        let record = stack_out(stack, 0)?;
        let mut writes = [db::Write::InsertStack(Box::new(record))];
        match self.store.apply(&mut writes).await {
            Ok(()) => {
                if let db::Write::InsertStack(r) = &writes[0] {
                    self.remember(r.id, r.version);
                }
                Ok(())
            }
            Err(db::StoreError::Conflict(db::Conflict::StackNameTaken(n))) => {
                Err(StoreError::NameTaken(n))
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn apply(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        // Within one batch a row may be written several times: only the first is an insert.
        let mut pending: HashMap<Uuid, i64> = HashMap::new();
        let mut out = Vec::with_capacity(writes.len());
        for w in writes {
            match w {
                Write::Stack(s) => {
                    let id = uuid(&s.id)?;
                    match self.next_version(&mut pending, id) {
                        Some(v) => out.push(db::Write::UpdateStack(Box::new(stack_out(&s, v)?))),
                        None => out.push(db::Write::InsertStack(Box::new(stack_out(&s, 0)?))),
                    }
                }
                Write::Resource(r) => {
                    let id = uuid(&r.id)?;
                    match self.next_version(&mut pending, id) {
                        Some(v) => {
                            out.push(db::Write::UpdateResource(Box::new(resource_out(&r, v)?)))
                        }
                        None => out.push(db::Write::InsertResource(Box::new(resource_out(&r, 0)?))),
                    }
                }
                Write::RemoveResource { id, .. } => {
                    out.push(db::Write::DeleteResource { id: uuid(&id)? })
                }
                Write::Event(e) => out.push(db::Write::InsertEvent(Box::new(event_out(&e)?))),
                Write::Snapshot(s) => {
                    let id = uuid(&s.id)?;
                    match self.next_version(&mut pending, id) {
                        Some(v) => {
                            out.push(db::Write::UpdateSnapshot(Box::new(snapshot_out(&s, v)?)))
                        }
                        None => out.push(db::Write::InsertSnapshot(Box::new(snapshot_out(&s, 0)?))),
                    }
                }
                Write::RemoveSnapshot { id } => {
                    out.push(db::Write::DeleteSnapshot { id: uuid(&id)? })
                }
            }
        }
        self.store.apply(&mut out).await.map_err(backend)?;
        for w in &out {
            match w {
                db::Write::InsertStack(r) | db::Write::UpdateStack(r) => {
                    self.remember(r.id, r.version)
                }
                db::Write::InsertResource(r) | db::Write::UpdateResource(r) => {
                    self.remember(r.id, r.version)
                }
                db::Write::InsertSnapshot(r) | db::Write::UpdateSnapshot(r) => {
                    self.remember(r.id, r.version)
                }
                db::Write::DeleteResource { id } | db::Write::DeleteSnapshot { id } => {
                    self.forget(id)
                }
                db::Write::InsertEvent(_) => {}
            }
        }
        Ok(())
    }

    async fn stack(&self, id: &str) -> Result<Option<StackRecord>, StoreError> {
        let Ok(id) = Uuid::parse_str(id) else {
            return Ok(None);
        };
        match self.store.stack(id).await {
            Ok(s) => {
                self.remember(s.id, s.version);
                Ok(Some(stack_in(s)))
            }
            Err(db::StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(backend(e)),
        }
    }

    async fn stack_by_name(
        &self,
        project_id: &str,
        name: &str,
    ) -> Result<Option<StackRecord>, StoreError> {
        match self.store.find_stack(project_id, name).await {
            Ok(s) if s.name == name && s.deleted_at.is_none() => {
                self.remember(s.id, s.version);
                Ok(Some(stack_in(s)))
            }
            Ok(_) | Err(db::StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(backend(e)),
        }
    }

    async fn stacks(
        &self,
        project_id: Option<&str>,
        show_deleted: bool,
    ) -> Result<Vec<StackRecord>, StoreError> {
        let query = db::StackQuery {
            tenant: project_id.map(str::to_string),
            show_deleted,
            sort_dir: db::SortDir::Asc,
            ..db::StackQuery::default()
        };
        let rows = self.store.list_stacks(&query).await.map_err(backend)?;
        Ok(rows
            .into_iter()
            .map(|s| {
                self.remember(s.id, s.version);
                stack_in(s)
            })
            .collect())
    }

    async fn stack_summaries(
        &self,
        query: &db::StackQuery,
    ) -> Result<(Vec<db::StackSummary>, u64), StoreError> {
        let page = self.store.stack_summaries(query).await.map_err(backend)?;
        let count = self.store.count_stacks(query).await.map_err(backend)?;
        Ok((page, count))
    }

    async fn resources(&self, stack_id: &str) -> Result<Vec<ResourceRecord>, StoreError> {
        let rows = self
            .store
            .resources(uuid(stack_id)?)
            .await
            .map_err(backend)?;
        Ok(rows
            .into_iter()
            .map(|r| {
                self.remember(r.id, r.version);
                resource_in(r)
            })
            .collect())
    }

    async fn events(&self, stack_id: &str) -> Result<Vec<EventRecord>, StoreError> {
        let query = db::EventQuery {
            stack_id: uuid(stack_id)?,
            ..db::EventQuery::default()
        };
        let rows = self.store.events(&query).await.map_err(backend)?;
        Ok(rows.into_iter().map(event_in).collect())
    }

    async fn snapshots(&self, stack_id: &str) -> Result<Vec<SnapshotRecord>, StoreError> {
        let rows = self
            .store
            .snapshots(uuid(stack_id)?)
            .await
            .map_err(backend)?;
        Ok(rows
            .into_iter()
            .map(|s| {
                self.remember(s.id, s.version);
                snapshot_in(s)
            })
            .collect())
    }

    async fn try_lock(
        &self,
        stack_id: &str,
        engine_id: &str,
    ) -> Result<Option<String>, StoreError> {
        match self
            .store
            .acquire_stack_lock(uuid(stack_id)?, engine_id, self.lease)
            .await
        {
            Ok(_) => Ok(None),
            Err(db::StoreError::Conflict(db::Conflict::StackLocked { engine_id, .. })) => {
                Ok(Some(engine_id))
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn unlock(&self, stack_id: &str, engine_id: &str) -> Result<(), StoreError> {
        let lock = db::StackLock {
            stack_id: uuid(stack_id)?,
            engine_id: engine_id.to_string(),
            expires_at: Utc::now(),
        };
        match self.store.release_stack_lock(&lock).await {
            // Already released or taken over: nothing of ours to release.
            Ok(()) | Err(db::StoreError::Conflict(_)) | Err(db::StoreError::NotFound { .. }) => {
                Ok(())
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn heartbeat(&self, engine_id: &str, _now: DateTime<Utc>) -> Result<(), StoreError> {
        self.store
            .heartbeat(engine_id, self.lease)
            .await
            .map_err(backend)
    }

    async fn take_stale_locks(
        &self,
        engine_id: &str,
        _stale_before: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        let locks = self
            .store
            .take_expired_locks(engine_id, self.lease)
            .await
            .map_err(backend)?;
        Ok(locks.into_iter().map(|l| l.stack_id.to_string()).collect())
    }

    async fn insert_software_config(&self, config: &SoftwareConfig) -> Result<(), StoreError> {
        let record = db::SoftwareConfigRecord {
            id: uuid(&config.id)?,
            name: config.name.clone(),
            group: config.group.clone(),
            config: config.config.clone(),
            inputs: config.inputs.clone(),
            outputs: config.outputs.clone(),
            options: config.options.clone(),
            tenant: config.project_id.clone(),
            created_at: config.created_at,
        };
        self.store
            .create_software_config(&record)
            .await
            .map_err(backend)
    }

    async fn software_config(&self, id: &str) -> Result<Option<SoftwareConfig>, StoreError> {
        let Ok(id) = Uuid::parse_str(id) else {
            return Ok(None);
        };
        match self.store.software_config(id).await {
            Ok(c) => Ok(Some(config_in(c))),
            Err(db::StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(backend(e)),
        }
    }

    async fn software_configs(
        &self,
        project_id: Option<&str>,
    ) -> Result<Vec<SoftwareConfig>, StoreError> {
        let rows = self
            .store
            .list_software_configs(project_id, None, None)
            .await
            .map_err(backend)?;
        Ok(rows.into_iter().map(config_in).collect())
    }

    async fn delete_software_config(&self, id: &str) -> Result<bool, StoreError> {
        let Ok(id) = Uuid::parse_str(id) else {
            return Ok(false);
        };
        match self.store.delete_software_config(id).await {
            Ok(()) => Ok(true),
            Err(db::StoreError::NotFound { .. }) => Ok(false),
            Err(e) => Err(backend(e)),
        }
    }

    async fn save_software_deployment(
        &self,
        deployment: &SoftwareDeployment,
    ) -> Result<(), StoreError> {
        let id = uuid(&deployment.id)?;
        let mut record = db::SoftwareDeploymentRecord {
            id,
            config_id: uuid(&deployment.config_id)?,
            server_id: deployment.server_id.clone(),
            input_values: deployment.input_values.clone(),
            action: deployment.action.clone(),
            status: deployment.status.clone(),
            status_reason: deployment.status_reason.clone(),
            output_values: deployment.output_values.clone(),
            tenant: deployment.project_id.clone(),
            created_at: deployment.created_at,
            updated_at: deployment.updated_at,
            version: 0,
        };
        match self.known(&id) {
            Some(version) => {
                record.version = version;
                self.store
                    .update_software_deployment(&mut record)
                    .await
                    .map_err(backend)?;
            }
            None => self
                .store
                .create_software_deployment(&record)
                .await
                .map_err(backend)?,
        }
        self.remember(id, record.version);
        Ok(())
    }

    async fn software_deployment(
        &self,
        id: &str,
    ) -> Result<Option<SoftwareDeployment>, StoreError> {
        let Ok(id) = Uuid::parse_str(id) else {
            return Ok(None);
        };
        match self.store.software_deployment(id).await {
            Ok(d) => {
                self.remember(d.id, d.version);
                Ok(Some(deployment_in(d)))
            }
            Err(db::StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(backend(e)),
        }
    }

    async fn software_deployments(
        &self,
        project_id: Option<&str>,
        server_id: Option<&str>,
    ) -> Result<Vec<SoftwareDeployment>, StoreError> {
        let query = db::DeploymentQuery {
            tenant: project_id.map(str::to_string),
            server_id: server_id.map(str::to_string),
            ..db::DeploymentQuery::default()
        };
        let rows = self
            .store
            .list_software_deployments(&query)
            .await
            .map_err(backend)?;
        Ok(rows
            .into_iter()
            .map(|d| {
                self.remember(d.id, d.version);
                deployment_in(d)
            })
            .collect())
    }

    async fn delete_software_deployment(&self, id: &str) -> Result<bool, StoreError> {
        let Ok(id) = Uuid::parse_str(id) else {
            return Ok(false);
        };
        match self.store.delete_software_deployment(id).await {
            Ok(()) => Ok(true),
            Err(db::StoreError::NotFound { .. }) => Ok(false),
            Err(e) => Err(backend(e)),
        }
    }
}

fn config_in(c: db::SoftwareConfigRecord) -> SoftwareConfig {
    SoftwareConfig {
        id: c.id.to_string(),
        name: c.name,
        group: c.group,
        config: c.config,
        inputs: c.inputs,
        outputs: c.outputs,
        options: c.options,
        project_id: c.tenant,
        created_at: c.created_at,
    }
}

fn deployment_in(d: db::SoftwareDeploymentRecord) -> SoftwareDeployment {
    SoftwareDeployment {
        id: d.id.to_string(),
        config_id: d.config_id.to_string(),
        server_id: d.server_id,
        input_values: d.input_values,
        action: d.action,
        status: d.status,
        status_reason: d.status_reason,
        output_values: d.output_values,
        project_id: d.tenant,
        created_at: d.created_at,
        updated_at: d.updated_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack() -> StackRecord {
        serde_json::from_value(json!({
            "id": Uuid::new_v4().to_string(), "name": "s", "project_id": "p", "username": "u",
            "action": "CREATE", "status": "IN_PROGRESS", "status_reason": "",
            "source": {"template": {"heat_template_version": "2021-04-16"},
                "environment": {}, "files": {}},
            "parameters": {}, "previous": null, "timeout_mins": null,
            "disable_rollback": true, "tags": [], "parent": null,
            "created_at": Utc::now(), "updated_at": null, "deleted_at": null, "cancel": null
        }))
        .expect("a stack record")
    }

    fn resource(stack: &StackRecord) -> ResourceRecord {
        serde_json::from_value(json!({
            "id": Uuid::new_v4().to_string(), "stack_id": stack.id, "name": "r",
            "type_name": "OS::Heat::None", "physical_id": null, "action": "CREATE",
            "status": "IN_PROGRESS", "status_reason": "", "properties": {}, "metadata": {},
            "data": {}, "current": true, "requires": [], "short_id": "abcdefghijkl",
            "deletion_policy": "Delete", "created_at": null, "updated_at": null
        }))
        .expect("a resource record")
    }

    /// A reader whose query ran before a write of the row and whose answer is taken in after
    /// it (a client listing resources while the engine writes) must not turn the adapter's
    /// version of the row back: the engine's next write of the row still succeeds.
    #[tokio::test]
    async fn a_read_that_finishes_after_a_write_does_not_make_the_next_write_conflict() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("ember.db").display());
        let key = db::EncryptionKey::from_bytes(&[7u8; 32]).expect("key");
        let adapter = SqlStore::open(&url, &key, Duration::from_secs(30))
            .await
            .expect("store opens");
        let stack = stack();
        adapter.insert_stack(&stack).await.expect("stack stored");
        let mut row = resource(&stack);
        adapter
            .apply(vec![Write::Resource(Box::new(row.clone()))])
            .await
            .expect("row inserted");
        let id = uuid(&row.id).expect("uuid");

        // The reader's query sees the row as it is now...
        let read = adapter.store.resources(id_of(&stack)).await.expect("read");
        // ...the engine writes the row meanwhile...
        row.status = Status::Complete;
        adapter
            .apply(vec![Write::Resource(Box::new(row.clone()))])
            .await
            .expect("row updated");
        // ...and the reader takes its answer in afterwards, as `resources()` does.
        for r in read {
            adapter.remember(r.id, r.version);
        }

        row.current = false;
        adapter
            .apply(vec![Write::Resource(Box::new(row.clone()))])
            .await
            .expect("the next write names the row's real version");
        let stored = adapter.resources(&stack.id).await.expect("rows");
        assert_eq!(stored, vec![row.clone()]);
        assert_eq!(adapter.known(&id), Some(2));

        adapter
            .apply(vec![Write::RemoveResource {
                stack_id: stack.id.clone(),
                id: row.id.clone(),
            }])
            .await
            .expect("row removed");
        assert_eq!(adapter.known(&id), None);
    }

    fn id_of(stack: &StackRecord) -> Uuid {
        uuid(&stack.id).expect("uuid")
    }
}
