//! Stacks, resources, events and snapshots: row codecs, the queries the API needs, and the
//! single-record conveniences over [`Store::apply`]'s building blocks.

use crate::codec::{
    from_json, insert_sql, micros, to_json, update_many_sql, update_sql, Cols, Sql, Values,
};
use crate::crypto::Cipher;
use crate::error::{Conflict, Result, StoreError};
use crate::records::{
    EventRecord, ResourceRecord, SnapshotRecord, StackDefinition, StackRecord, StackSummary,
    TrustId,
};
use crate::Store;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::any::{AnyQueryResult, AnyRow};
use sqlx::AnyConnection;
use std::collections::BTreeMap;
use std::sync::LazyLock;
use uuid::Uuid;

// ---------------------------------------------------------------------------------------------
// Stack rows

const STACK_COLUMNS: &str = "id, name, tenant, owner_id, parent_resource, nested_depth, action, status, \
    status_reason, template, environment, files, parameters, hidden_parameters, previous, timeout_mins, \
    disable_rollback, tags, user_id, username, current_traversal, engine_data, created_at, updated_at, \
    deleted_at, trust_id, version";

/// The columns of a [`StackSummary`]: a listing reads no definition.
const SUMMARY_COLUMNS: &str = "id, name, tenant, owner_id, action, status, status_reason, tags, \
    username, created_at, updated_at, deleted_at";

static INSERT_STACK: LazyLock<String> = LazyLock::new(|| insert_sql("stacks", STACK_COLUMNS, 1));
static UPDATE_STACK: LazyLock<String> = LazyLock::new(|| update_sql("stacks", STACK_COLUMNS));

/// Rows per multi-row statement. Fewer statements save a worker round trip each (SQLite) or a
/// network round trip (PostgreSQL); but sqlx's SQLite binding looks up every parameter's name,
/// which costs linear time per parameter, so a statement's binding grows quadratically with its
/// parameter count. Eight rows (168 values for resources) balances the two.
const ROWS_PER_STATEMENT: usize = 8;

/// Hidden parameter names and values, encrypted together as one JSON document.
#[derive(Serialize, Deserialize)]
struct HiddenParameters {
    names: Vec<String>,
    values: Map<String, Value>,
}

/// A definition as stored: the visible parameters in the clear, the hidden ones sealed.
struct SealedDefinition {
    template: String,
    environment: String,
    files: String,
    parameters: String,
    hidden: Option<String>,
}

/// The `previous` column: a whole sealed definition as one JSON document.
#[derive(Serialize, Deserialize)]
struct StoredPrevious {
    template: String,
    environment: Value,
    files: BTreeMap<String, String>,
    parameters: Map<String, Value>,
    hidden: Option<String>,
}

fn hidden_context(stack_id: Uuid, column: &str) -> String {
    format!("stacks.{column}:{stack_id}")
}

fn split_parameters(
    cipher: &Cipher,
    context: &str,
    definition: &StackDefinition,
) -> Result<(Map<String, Value>, Option<String>)> {
    let mut visible = Map::new();
    let mut hidden = Map::new();
    for (name, value) in &definition.parameters {
        if definition.hidden_parameters.contains(name) {
            hidden.insert(name.clone(), value.clone());
        } else {
            visible.insert(name.clone(), value.clone());
        }
    }
    let sealed = if definition.hidden_parameters.is_empty() {
        None
    } else {
        let plain = to_json(&HiddenParameters {
            names: definition.hidden_parameters.clone(),
            values: hidden,
        })?;
        Some(cipher.encrypt(context, plain.as_bytes())?)
    };
    Ok((visible, sealed))
}

fn join_parameters(
    cipher: &Cipher,
    context: &str,
    mut parameters: Map<String, Value>,
    sealed: Option<&str>,
) -> Result<(Map<String, Value>, Vec<String>)> {
    let Some(sealed) = sealed else {
        return Ok((parameters, Vec::new()));
    };
    let plain = cipher.decrypt(context, sealed)?;
    let hidden: HiddenParameters = serde_json::from_slice(&plain)
        .map_err(|e| StoreError::Corrupt(format!("{context}: {e}")))?;
    parameters.extend(hidden.values);
    Ok((parameters, hidden.names))
}

fn seal_definition(
    cipher: &Cipher,
    stack_id: Uuid,
    definition: &StackDefinition,
) -> Result<SealedDefinition> {
    let (visible, hidden) = split_parameters(
        cipher,
        &hidden_context(stack_id, "hidden_parameters"),
        definition,
    )?;
    Ok(SealedDefinition {
        template: definition.template.clone(),
        environment: to_json(&definition.environment)?,
        files: to_json(&definition.files)?,
        parameters: to_json(&visible)?,
        hidden,
    })
}

fn seal_previous(cipher: &Cipher, stack_id: Uuid, previous: &StackDefinition) -> Result<String> {
    let (parameters, hidden) =
        split_parameters(cipher, &hidden_context(stack_id, "previous"), previous)?;
    to_json(&StoredPrevious {
        template: previous.template.clone(),
        environment: previous.environment.clone(),
        files: previous.files.clone(),
        parameters,
        hidden,
    })
}

fn open_previous(cipher: &Cipher, stack_id: Uuid, text: &str) -> Result<StackDefinition> {
    let stored: StoredPrevious = from_json("stacks.previous", text)?;
    let (parameters, hidden_parameters) = join_parameters(
        cipher,
        &hidden_context(stack_id, "previous"),
        stored.parameters,
        stored.hidden.as_deref(),
    )?;
    Ok(StackDefinition {
        template: stored.template,
        environment: stored.environment,
        files: stored.files,
        parameters,
        hidden_parameters,
    })
}

fn stack_from_row(cipher: &Cipher, row: &AnyRow) -> Result<StackRecord> {
    let c = Cols(row);
    let id = c.uuid("id")?;
    let (parameters, hidden_parameters) = join_parameters(
        cipher,
        &hidden_context(id, "hidden_parameters"),
        c.json("parameters")?,
        c.opt_text("hidden_parameters")?.as_deref(),
    )?;
    let previous = c
        .opt_text("previous")?
        .map(|text| open_previous(cipher, id, &text))
        .transpose()?;
    Ok(StackRecord {
        id,
        name: c.text("name")?,
        tenant: c.text("tenant")?,
        owner_id: c.opt_uuid("owner_id")?,
        parent_resource: c.opt_text("parent_resource")?,
        nested_depth: c.int("nested_depth")?,
        action: c.text("action")?,
        status: c.text("status")?,
        status_reason: c.text("status_reason")?,
        definition: StackDefinition {
            template: c.text("template")?,
            environment: c.json("environment")?,
            files: c.json("files")?,
            parameters,
            hidden_parameters,
        },
        previous,
        timeout_mins: c.opt_int("timeout_mins")?,
        disable_rollback: c.flag("disable_rollback")?,
        tags: c.json("tags")?,
        user_id: c.text("user_id")?,
        username: c.text("username")?,
        current_traversal: c.opt_text("current_traversal")?,
        engine_data: c.json("engine_data")?,
        created_at: c.time("created_at")?,
        updated_at: c.opt_time("updated_at")?,
        deleted_at: c.opt_time("deleted_at")?,
        trust_id: c
            .opt_text("trust_id")?
            .map(|sealed| {
                let plain = cipher.decrypt(&hidden_context(id, "trust_id"), &sealed)?;
                String::from_utf8(plain)
                    .map(TrustId::new)
                    .map_err(|e| StoreError::Corrupt(format!("stacks.trust_id:{id}: {e}")))
            })
            .transpose()?,
        version: c.int("version")?,
    })
}

fn summary_from_row(row: &AnyRow) -> Result<StackSummary> {
    let c = Cols(row);
    Ok(StackSummary {
        id: c.uuid("id")?,
        name: c.text("name")?,
        tenant: c.text("tenant")?,
        owner_id: c.opt_uuid("owner_id")?,
        action: c.text("action")?,
        status: c.text("status")?,
        status_reason: c.text("status_reason")?,
        tags: c.json("tags")?,
        username: c.text("username")?,
        created_at: c.time("created_at")?,
        updated_at: c.opt_time("updated_at")?,
        deleted_at: c.opt_time("deleted_at")?,
    })
}

/// A stack's column values in `STACK_COLUMNS` order.
fn push_stack(values: &mut Values, cipher: &Cipher, stack: &StackRecord) -> Result<()> {
    let sealed = seal_definition(cipher, stack.id, &stack.definition)?;
    let previous = stack
        .previous
        .as_ref()
        .map(|p| seal_previous(cipher, stack.id, p))
        .transpose()?;
    let trust_id = stack
        .trust_id
        .as_ref()
        .map(|t| cipher.encrypt(&hidden_context(stack.id, "trust_id"), t.as_str().as_bytes()))
        .transpose()?;
    values
        .add(stack.id.to_string())
        .add(stack.name.clone())
        .add(stack.tenant.clone())
        .add(stack.owner_id.map(|id| id.to_string()))
        .add(stack.parent_resource.clone())
        .add(stack.nested_depth)
        .add(stack.action.clone())
        .add(stack.status.clone())
        .add(stack.status_reason.clone())
        .add(sealed.template)
        .add(sealed.environment)
        .add(sealed.files)
        .add(sealed.parameters)
        .add(sealed.hidden)
        .add(previous)
        .add(stack.timeout_mins)
        .add(i64::from(stack.disable_rollback))
        .add(to_json(&stack.tags)?)
        .add(stack.user_id.clone())
        .add(stack.username.clone())
        .add(stack.current_traversal.clone())
        .add(to_json(&stack.engine_data)?)
        .add(micros(&stack.created_at))
        .add(stack.updated_at.as_ref().map(micros))
        .add(stack.deleted_at.as_ref().map(micros))
        .add(trust_id)
        .add(stack.version);
    Ok(())
}

/// Whether a failed write collided with another live stack's name.
fn is_name_clash(result: &std::result::Result<AnyQueryResult, sqlx::Error>) -> bool {
    match result {
        Err(sqlx::Error::Database(db)) => {
            db.is_unique_violation()
                && (db.constraint() == Some("stacks_live_name")
                    || db.message().contains("stacks.name"))
        }
        _ => false,
    }
}

pub(crate) async fn insert_stack(
    conn: &mut AnyConnection,
    cipher: &Cipher,
    stack: &StackRecord,
) -> Result<()> {
    let mut values = Values::default();
    push_stack(&mut values, cipher, stack)?;
    let result = sqlx::query_with(&INSERT_STACK, values.into_args()?)
        .execute(&mut *conn)
        .await;
    if is_name_clash(&result) {
        return Err(Conflict::StackNameTaken(stack.name.clone()).into());
    }
    result?;
    write_tags(conn, stack.id, &stack.tags).await
}

async fn write_tags(conn: &mut AnyConnection, stack_id: Uuid, tags: &[String]) -> Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for tag in tags.iter().filter(|tag| seen.insert(tag.as_str())) {
        sqlx::query("INSERT INTO stack_tags (stack_id, tag) VALUES ($1, $2)")
            .bind(stack_id.to_string())
            .bind(tag.as_str())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Returns the new version.
pub(crate) async fn update_stack(
    conn: &mut AnyConnection,
    cipher: &Cipher,
    stack: &StackRecord,
) -> Result<i64> {
    let mut values = Values::default();
    push_stack(&mut values, cipher, stack)?;
    let result = sqlx::query_with(&UPDATE_STACK, values.into_args()?)
        .execute(&mut *conn)
        .await;
    if is_name_clash(&result) {
        return Err(Conflict::StackNameTaken(stack.name.clone()).into());
    }
    check_versioned_update(
        conn,
        "stacks",
        "stack",
        stack.id,
        stack.version,
        result?.rows_affected(),
    )
    .await?;
    sqlx::query("DELETE FROM stack_tags WHERE stack_id = $1")
        .bind(stack.id.to_string())
        .execute(&mut *conn)
        .await?;
    write_tags(conn, stack.id, &stack.tags).await?;
    Ok(stack.version + 1)
}

/// Turns "no row updated" into NotFound or VersionMismatch.
async fn check_versioned_update(
    conn: &mut AnyConnection,
    table: &'static str,
    kind: &'static str,
    id: Uuid,
    expected: i64,
    rows_affected: u64,
) -> Result<()> {
    if rows_affected > 0 {
        return Ok(());
    }
    let exists: Option<i64> =
        sqlx::query_scalar(&format!("SELECT version FROM {table} WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    Err(match exists {
        None => StoreError::not_found(kind, id),
        Some(_) => Conflict::VersionMismatch { kind, id, expected }.into(),
    })
}

// ---------------------------------------------------------------------------------------------
// Resource rows

const RESOURCE_COLUMNS: &str = "id, stack_id, name, type_name, physical_id, action, status, status_reason, \
    properties, data, attributes, metadata, requires, replaces, replaced_by, is_current, engine_id, engine_data, \
    created_at, updated_at, version";

fn data_context(id: Uuid) -> String {
    format!("resources.data:{id}")
}

fn seal_data(cipher: &Cipher, resource: &ResourceRecord) -> Result<Option<String>> {
    if resource.data.is_empty() {
        return Ok(None);
    }
    cipher
        .encrypt(
            &data_context(resource.id),
            to_json(&resource.data)?.as_bytes(),
        )
        .map(Some)
}

fn resource_from_row(cipher: &Cipher, row: &AnyRow) -> Result<ResourceRecord> {
    let c = Cols(row);
    let id = c.uuid("id")?;
    let data = match c.opt_text("data")? {
        None => BTreeMap::new(),
        Some(sealed) => {
            let plain = cipher.decrypt(&data_context(id), &sealed)?;
            serde_json::from_slice(&plain)
                .map_err(|e| StoreError::Corrupt(format!("resources.data: {e}")))?
        }
    };
    Ok(ResourceRecord {
        id,
        stack_id: c.uuid("stack_id")?,
        name: c.text("name")?,
        type_name: c.text("type_name")?,
        physical_id: c.opt_text("physical_id")?,
        action: c.text("action")?,
        status: c.text("status")?,
        status_reason: c.text("status_reason")?,
        properties: c.json("properties")?,
        data,
        attributes: c.json("attributes")?,
        metadata: c.json("metadata")?,
        requires: c.json("requires")?,
        replaces: c.opt_uuid("replaces")?,
        replaced_by: c.opt_uuid("replaced_by")?,
        current: c.flag("is_current")?,
        engine_id: c.opt_text("engine_id")?,
        engine_data: c.json("engine_data")?,
        created_at: c.time("created_at")?,
        updated_at: c.opt_time("updated_at")?,
        version: c.int("version")?,
    })
}

/// A resource's column values in `RESOURCE_COLUMNS` order.
fn push_resource(values: &mut Values, cipher: &Cipher, r: &ResourceRecord) -> Result<()> {
    values
        .add(r.id.to_string())
        .add(r.stack_id.to_string())
        .add(r.name.clone())
        .add(r.type_name.clone())
        .add(r.physical_id.clone())
        .add(r.action.clone())
        .add(r.status.clone())
        .add(r.status_reason.clone())
        .add(to_json(&r.properties)?)
        .add(seal_data(cipher, r)?)
        .add(to_json(&r.attributes)?)
        .add(to_json(&r.metadata)?)
        .add(to_json(&r.requires)?)
        .add(r.replaces.map(|id| id.to_string()))
        .add(r.replaced_by.map(|id| id.to_string()))
        .add(i64::from(r.current))
        .add(r.engine_id.clone())
        .add(to_json(&r.engine_data)?)
        .add(micros(&r.created_at))
        .add(r.updated_at.as_ref().map(micros))
        .add(r.version);
    Ok(())
}

/// The rows of one multi-row statement, in `RESOURCE_COLUMNS` order.
fn resource_values(cipher: &Cipher, chunk: &[&ResourceRecord]) -> Result<Values> {
    let mut values = Values::default();
    for r in chunk {
        push_resource(&mut values, cipher, r)?;
    }
    Ok(values)
}

/// Inserts many resource rows, several per statement.
pub(crate) async fn insert_resources(
    conn: &mut AnyConnection,
    cipher: &Cipher,
    rows: &[&ResourceRecord],
) -> Result<()> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = insert_sql("resources", RESOURCE_COLUMNS, chunk.len());
        sqlx::query_with(&sql, resource_values(cipher, chunk)?.into_args()?)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Versioned updates of many resources (distinct ids), several per statement. Fails with the
/// first row whose version moved on (or that is gone).
pub(crate) async fn update_resources(
    conn: &mut AnyConnection,
    cipher: &Cipher,
    rows: &[&ResourceRecord],
) -> Result<()> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = update_many_sql("resources", RESOURCE_COLUMNS, chunk.len());
        let updated: Vec<String> =
            sqlx::query_scalar_with(&sql, resource_values(cipher, chunk)?.into_args()?)
                .fetch_all(&mut *conn)
                .await?;
        if let Some(missed) = chunk.iter().find(|r| !updated.contains(&r.id.to_string())) {
            check_versioned_update(conn, "resources", "resource", missed.id, missed.version, 0)
                .await?;
        }
    }
    Ok(())
}

pub(crate) async fn delete_resource(conn: &mut AnyConnection, id: Uuid) -> Result<()> {
    let done = sqlx::query("DELETE FROM resources WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::not_found("resource", id));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Event rows

const EVENT_COLUMNS: &str =
    "seq, id, stack_id, resource_name, physical_id, resource_type, action, status, reason, properties, created_at";

/// Reserves `count` event sequence numbers and returns the first. The counter row stays locked
/// until the transaction ends, so sequence order is commit order.
pub(crate) async fn reserve_event_seqs(conn: &mut AnyConnection, count: usize) -> Result<i64> {
    reserve_seqs(conn, "event_seq", count).await
}

pub(crate) async fn reserve_seqs(
    conn: &mut AnyConnection,
    counter: &str,
    count: usize,
) -> Result<i64> {
    if count == 0 {
        return Ok(0);
    }
    let count = i64::try_from(count)
        .map_err(|_| StoreError::Corrupt("too many rows in one write".into()))?;
    let last: i64 = sqlx::query_scalar(
        "UPDATE ember_counters SET value = value + $1 WHERE name = $2 RETURNING value",
    )
    .bind(count)
    .bind(counter)
    .fetch_one(&mut *conn)
    .await?;
    Ok(last - count + 1)
}

/// Inserts many events (each with its sequence number), several per statement.
pub(crate) async fn insert_events(
    conn: &mut AnyConnection,
    rows: &[(&EventRecord, i64)],
) -> Result<()> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut values = Values::default();
        for (e, seq) in chunk {
            values
                .add(*seq)
                .add(e.id.to_string())
                .add(e.stack_id.to_string())
                .add(e.resource_name.clone())
                .add(e.physical_id.clone())
                .add(e.resource_type.clone())
                .add(e.action.clone())
                .add(e.status.clone())
                .add(e.reason.clone())
                .add(to_json(&e.properties)?)
                .add(micros(&e.time));
        }
        let sql = insert_sql("events", EVENT_COLUMNS, chunk.len());
        sqlx::query_with(&sql, values.into_args()?)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

fn event_from_row(row: &AnyRow) -> Result<EventRecord> {
    let c = Cols(row);
    Ok(EventRecord {
        id: c.uuid("id")?,
        stack_id: c.uuid("stack_id")?,
        seq: c.int("seq")?,
        resource_name: c.text("resource_name")?,
        physical_id: c.text("physical_id")?,
        resource_type: c.text("resource_type")?,
        action: c.text("action")?,
        status: c.text("status")?,
        reason: c.text("reason")?,
        properties: c.json("properties")?,
        time: c.time("created_at")?,
    })
}

// ---------------------------------------------------------------------------------------------
// Snapshot rows

const SNAPSHOT_COLUMNS: &str =
    "id, stack_id, name, status, status_reason, data, created_at, version";

pub(crate) async fn insert_snapshot(conn: &mut AnyConnection, s: &SnapshotRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO snapshots (id, stack_id, name, status, status_reason, data, created_at, version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(s.id.to_string())
    .bind(s.stack_id.to_string())
    .bind(s.name.as_deref())
    .bind(s.status.as_str())
    .bind(s.status_reason.as_str())
    .bind(to_json(&s.data)?)
    .bind(micros(&s.created_at))
    .bind(s.version)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn update_snapshot(conn: &mut AnyConnection, s: &SnapshotRecord) -> Result<i64> {
    let done = sqlx::query(
        "UPDATE snapshots SET name = $2, status = $3, status_reason = $4, data = $5, version = version + 1 \
         WHERE id = $1 AND version = $6",
    )
    .bind(s.id.to_string())
    .bind(s.name.as_deref())
    .bind(s.status.as_str())
    .bind(s.status_reason.as_str())
    .bind(to_json(&s.data)?)
    .bind(s.version)
    .execute(&mut *conn)
    .await?;
    check_versioned_update(
        conn,
        "snapshots",
        "snapshot",
        s.id,
        s.version,
        done.rows_affected(),
    )
    .await?;
    Ok(s.version + 1)
}

pub(crate) async fn delete_snapshot(conn: &mut AnyConnection, id: Uuid) -> Result<()> {
    let done = sqlx::query("DELETE FROM snapshots WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::not_found("snapshot", id));
    }
    Ok(())
}

fn snapshot_from_row(row: &AnyRow) -> Result<SnapshotRecord> {
    let c = Cols(row);
    Ok(SnapshotRecord {
        id: c.uuid("id")?,
        stack_id: c.uuid("stack_id")?,
        name: c.opt_text("name")?,
        status: c.text("status")?,
        status_reason: c.text("status_reason")?,
        data: c.json("data")?,
        created_at: c.time("created_at")?,
        version: c.int("version")?,
    })
}

// ---------------------------------------------------------------------------------------------
// Queries

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortDir {
    Asc,
    #[default]
    Desc,
}

impl SortDir {
    fn sql(self) -> &'static str {
        match self {
            SortDir::Asc => "ASC",
            SortDir::Desc => "DESC",
        }
    }
    fn after(self) -> &'static str {
        match self {
            SortDir::Asc => ">",
            SortDir::Desc => "<",
        }
    }
}

/// Heat's stack list sort keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackSortKey {
    StackName,
    StackStatus,
    CreationTime,
    UpdatedTime,
}

impl StackSortKey {
    /// Heat's API name (`stack_name`, `stack_status`, `creation_time`, `updated_time`).
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "stack_name" => StackSortKey::StackName,
            "stack_status" => StackSortKey::StackStatus,
            "creation_time" => StackSortKey::CreationTime,
            "updated_time" => StackSortKey::UpdatedTime,
            _ => return None,
        })
    }
    /// Never NULL, so paging comparisons are total (a never-updated stack sorts as oldest).
    fn expr(self) -> &'static str {
        match self {
            StackSortKey::StackName => "name",
            StackSortKey::StackStatus => "status",
            StackSortKey::CreationTime => "created_at",
            StackSortKey::UpdatedTime => "COALESCE(updated_at, 0)",
        }
    }
}

/// Stack list filters. Empty lists mean "no filter"; several values of one filter match any.
#[derive(Debug, Clone, Default)]
pub struct StackQuery {
    /// Only this tenant's stacks (`None`: every tenant, for global admin listings).
    pub tenant: Option<String>,
    pub ids: Vec<Uuid>,
    pub names: Vec<String>,
    pub statuses: Vec<String>,
    pub actions: Vec<String>,
    pub owner_ids: Vec<Uuid>,
    pub usernames: Vec<String>,
    /// Stacks having all of these tags.
    pub tags: Vec<String>,
    /// Stacks having at least one of these tags.
    pub tags_any: Vec<String>,
    /// Stacks not having all of these tags.
    pub not_tags: Vec<String>,
    /// Stacks having none of these tags. (Heat's `hidden_stack_tags`, applied unless
    /// `show_hidden`, are more tags for this list.)
    pub not_tags_any: Vec<String>,
    pub show_deleted: bool,
    /// Include nested stacks; otherwise only stacks without an owner are listed (as in Heat,
    /// even when `owner_ids` is given).
    pub show_nested: bool,
    /// Default: creation time.
    pub sort_keys: Vec<StackSortKey>,
    pub sort_dir: SortDir,
    pub limit: Option<u64>,
    /// Id of the last stack of the previous page.
    pub marker: Option<Uuid>,
}

impl StackQuery {
    fn sort_keys_or_default(&self) -> Vec<StackSortKey> {
        if self.sort_keys.is_empty() {
            vec![StackSortKey::CreationTime]
        } else {
            self.sort_keys.clone()
        }
    }

    /// Whether `stack` passes the query's filters (paging aside), decided as the SQL does.
    pub fn matches(&self, stack: &StackSummary) -> bool {
        fn within(values: &[String], value: &str) -> bool {
            values.is_empty() || values.iter().any(|v| v == value)
        }
        let has = |tag: &String| stack.tags.contains(tag);
        self.tenant.as_ref().is_none_or(|t| *t == stack.tenant)
            && (self.ids.is_empty() || self.ids.contains(&stack.id))
            && within(&self.names, &stack.name)
            && within(&self.statuses, &stack.status)
            && within(&self.actions, &stack.action)
            && (self.owner_ids.is_empty()
                || stack.owner_id.is_some_and(|o| self.owner_ids.contains(&o)))
            && within(&self.usernames, &stack.username)
            && (self.show_deleted || stack.deleted_at.is_none())
            && (self.show_nested || stack.owner_id.is_none())
            && self.tags.iter().all(has)
            && (self.tags_any.is_empty() || self.tags_any.iter().any(has))
            && (self.not_tags.is_empty() || !self.not_tags.iter().all(has))
            && !self.not_tags_any.iter().any(has)
    }

    /// The page the query selects from `stacks`, in memory, with the filters, order and paging
    /// of [`Store::stack_summaries`] (for engines that keep their stacks in memory). The marker
    /// is looked up among all of `stacks`, filtered or not, as in SQL.
    pub fn page(&self, stacks: Vec<StackSummary>) -> Result<Vec<StackSummary>> {
        let keys = self.sort_keys_or_default();
        let sort_values = |s: &StackSummary| -> Vec<SqlValue> {
            let mut values: Vec<SqlValue> =
                keys.iter().map(|key| stack_sort_value(s, *key)).collect();
            values.push(SqlValue::Text(s.id.to_string()));
            values
        };
        let after = match self.marker {
            Some(marker) => Some(
                stacks
                    .iter()
                    .find(|s| s.id == marker)
                    .map(sort_values)
                    .ok_or_else(|| StoreError::not_found("stack", marker))?,
            ),
            None => None,
        };
        let ordered = |a: &Vec<SqlValue>, b: &Vec<SqlValue>| match self.sort_dir {
            SortDir::Asc => a.cmp(b),
            SortDir::Desc => b.cmp(a),
        };
        let mut page: Vec<(Vec<SqlValue>, StackSummary)> = stacks
            .into_iter()
            .filter(|s| self.matches(s))
            .map(|s| (sort_values(&s), s))
            .filter(|(values, _)| {
                after
                    .as_ref()
                    .is_none_or(|m| ordered(m, values) == std::cmp::Ordering::Less)
            })
            .collect();
        page.sort_by(|(a, _), (b, _)| ordered(a, b));
        let limit = self
            .limit
            .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
        Ok(page.into_iter().take(limit).map(|(_, s)| s).collect())
    }
}

fn push_in_filter(sql: &mut Sql, column: &str, values: &[String]) -> Result<()> {
    if values.is_empty() {
        return Ok(());
    }
    sql.push(" AND ").push(column).push(" IN ");
    sql.bind_list(values.iter().cloned())?;
    Ok(())
}

fn ids(values: &[Uuid]) -> Vec<String> {
    values.iter().map(Uuid::to_string).collect()
}

/// `(SELECT COUNT(*) FROM stack_tags WHERE stack_id = s.id AND tag IN (...))`, distinct tags.
fn push_tag_count(sql: &mut Sql, tags: &[String]) -> Result<usize> {
    let distinct: std::collections::BTreeSet<&String> = tags.iter().collect();
    sql.push("(SELECT COUNT(*) FROM stack_tags t WHERE t.stack_id = s.id AND t.tag IN ");
    sql.bind_list(distinct.iter().map(|t| (*t).clone()))?;
    sql.push(")");
    Ok(distinct.len())
}

fn push_stack_filters(sql: &mut Sql, q: &StackQuery) -> Result<()> {
    if let Some(tenant) = &q.tenant {
        sql.push(" AND s.tenant = ").bind(tenant.clone())?;
    }
    push_in_filter(sql, "s.id", &ids(&q.ids))?;
    push_in_filter(sql, "s.name", &q.names)?;
    push_in_filter(sql, "s.status", &q.statuses)?;
    push_in_filter(sql, "s.action", &q.actions)?;
    push_in_filter(sql, "s.owner_id", &ids(&q.owner_ids))?;
    push_in_filter(sql, "s.username", &q.usernames)?;
    if !q.show_deleted {
        sql.push(" AND s.deleted_at IS NULL");
    }
    if !q.show_nested {
        sql.push(" AND s.owner_id IS NULL");
    }
    if !q.tags.is_empty() {
        sql.push(" AND ");
        let n = push_tag_count(sql, &q.tags)?;
        sql.push(&format!(" = {n}"));
    }
    if !q.tags_any.is_empty() {
        sql.push(" AND ");
        push_tag_count(sql, &q.tags_any)?;
        sql.push(" > 0");
    }
    if !q.not_tags.is_empty() {
        sql.push(" AND ");
        let n = push_tag_count(sql, &q.not_tags)?;
        sql.push(&format!(" < {n}"));
    }
    if !q.not_tags_any.is_empty() {
        sql.push(" AND ");
        push_tag_count(sql, &q.not_tags_any)?;
        sql.push(" = 0");
    }
    Ok(())
}

/// Appends `AND (k1, ..., id) is after the marker row's values` in the sort direction, as the
/// expanded OR-chain both databases understand.
fn push_after_marker(sql: &mut Sql, keys: &[(&str, SqlValue)], dir: SortDir) -> Result<()> {
    sql.push(" AND (");
    for i in 0..keys.len() {
        if i > 0 {
            sql.push(" OR ");
        }
        sql.push("(");
        for (expr, value) in &keys[..i] {
            sql.push(expr).push(" = ");
            value.bind(sql)?;
            sql.push(" AND ");
        }
        let (expr, value) = &keys[i];
        sql.push(expr).push(" ").push(dir.after()).push(" ");
        value.bind(sql)?;
        sql.push(")");
    }
    sql.push(")");
    Ok(())
}

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
enum SqlValue {
    Text(String),
    Int(i64),
}

impl SqlValue {
    fn bind(&self, sql: &mut Sql) -> Result<()> {
        match self {
            SqlValue::Text(text) => sql.bind(text.clone())?,
            SqlValue::Int(n) => sql.bind(*n)?,
        };
        Ok(())
    }
}

/// Heat's event list sort keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventSortKey {
    EventTime,
    ResourceType,
}

impl EventSortKey {
    /// Heat's API name (`event_time`, `resource_type`).
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "event_time" => EventSortKey::EventTime,
            "resource_type" => EventSortKey::ResourceType,
            _ => return None,
        })
    }
    /// The event sequence orders by time (it increases with commit order).
    fn expr(self) -> &'static str {
        match self {
            EventSortKey::EventTime => "seq",
            EventSortKey::ResourceType => "resource_type",
        }
    }
}

/// Event listing of a stack.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub stack_id: Uuid,
    /// Also the events of nested stacks down to this depth (0: this stack only).
    pub nested_depth: u32,
    pub resource_names: Vec<String>,
    pub resource_statuses: Vec<String>,
    pub resource_actions: Vec<String>,
    pub resource_types: Vec<String>,
    /// Default: by time. Ties are broken by time.
    pub sort_keys: Vec<EventSortKey>,
    /// Default: oldest first.
    pub sort_dir: Option<SortDir>,
    pub limit: Option<u64>,
    /// Id of the last event of the previous page.
    pub marker: Option<Uuid>,
}

impl Store {
    // -- stacks ---------------------------------------------------------------------------

    /// Inserts a new stack. Refused with [`Conflict::StackNameTaken`] when the tenant has a live
    /// stack of that name.
    pub async fn create_stack(&self, stack: &StackRecord) -> Result<()> {
        let mut tx = self.write_tx().await?;
        insert_stack(&mut tx, &self.cipher, stack).await?;
        Ok(tx.commit().await?)
    }

    /// Stores `stack` if its stored version is still `stack.version`, then advances it.
    pub async fn update_stack(&self, stack: &mut StackRecord) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let version = update_stack(&mut tx, &self.cipher, stack).await?;
        tx.commit().await?;
        stack.version = version;
        Ok(())
    }

    /// Removes a stack and every stack nested under it (deleted or not) for good, with their
    /// resources, events, snapshots, tags and locks. (Soft delete is an update setting
    /// `deleted_at`.)
    pub async fn purge_stack(&self, id: Uuid) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let mut locks = Sql::default();
        push_whole_stack_tree(&mut locks, id)?;
        locks.push("DELETE FROM stack_locks WHERE stack_id IN (SELECT id FROM tree)");
        sqlx::query_with(&locks.text, locks.args)
            .execute(&mut *tx)
            .await?;
        let mut stacks = Sql::default();
        push_whole_stack_tree(&mut stacks, id)?;
        stacks.push("DELETE FROM stacks WHERE id IN (SELECT id FROM tree)");
        let done = sqlx::query_with(&stacks.text, stacks.args)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("stack", id));
        }
        Ok(tx.commit().await?)
    }

    /// A stack by id, deleted or not, in any tenant.
    pub async fn stack(&self, id: Uuid) -> Result<StackRecord> {
        let row = sqlx::query(&format!("SELECT {STACK_COLUMNS} FROM stacks WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&mut *self.conn().await?)
            .await?
            .ok_or_else(|| StoreError::not_found("stack", id))?;
        stack_from_row(&self.cipher, &row)
    }

    /// Heat's stack identification within a tenant: a uuid names a stack by id (deleted ones
    /// included); anything else, or a uuid matching no id, names a live stack by name.
    pub async fn find_stack(&self, tenant: &str, name_or_id: &str) -> Result<StackRecord> {
        let mut conn = self.conn().await?;
        if let Ok(id) = Uuid::parse_str(name_or_id) {
            let row = sqlx::query(&format!(
                "SELECT {STACK_COLUMNS} FROM stacks WHERE id = $1 AND tenant = $2"
            ))
            .bind(id.to_string())
            .bind(tenant)
            .fetch_optional(&mut *conn)
            .await?;
            if let Some(row) = row {
                return stack_from_row(&self.cipher, &row);
            }
        }
        let row = sqlx::query(&format!(
            "SELECT {STACK_COLUMNS} FROM stacks WHERE tenant = $1 AND name = $2 AND deleted_at IS NULL"
        ))
        .bind(tenant)
        .bind(name_or_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::not_found("stack", name_or_id))?;
        stack_from_row(&self.cipher, &row)
    }

    /// Stacks matching `query`, sorted and paged as asked.
    pub async fn list_stacks(&self, query: &StackQuery) -> Result<Vec<StackRecord>> {
        let rows = self.select_stacks(STACK_COLUMNS, query).await?;
        rows.iter()
            .map(|row| stack_from_row(&self.cipher, row))
            .collect()
    }

    /// The list rows of the stacks matching `query`, sorted and paged as asked: what a stack
    /// listing needs without reading any definition.
    pub async fn stack_summaries(&self, query: &StackQuery) -> Result<Vec<StackSummary>> {
        let rows = self.select_stacks(SUMMARY_COLUMNS, query).await?;
        rows.iter().map(summary_from_row).collect()
    }

    /// `columns` of the stacks matching `query`: filtered, sorted and paged in SQL.
    async fn select_stacks(&self, columns: &str, query: &StackQuery) -> Result<Vec<AnyRow>> {
        let mut conn = self.conn().await?;
        let keys = query.sort_keys_or_default();
        let mut sql = Sql::new(&format!("SELECT {columns} FROM stacks s WHERE 1 = 1"));
        push_stack_filters(&mut sql, query)?;
        if let Some(marker) = query.marker {
            let row = sqlx::query(&format!(
                "SELECT {SUMMARY_COLUMNS} FROM stacks WHERE id = $1"
            ))
            .bind(marker.to_string())
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| StoreError::not_found("stack", marker))?;
            let marker_row = summary_from_row(&row)?;
            let mut values: Vec<(&str, SqlValue)> = keys
                .iter()
                .map(|key| (key.expr(), stack_sort_value(&marker_row, *key)))
                .collect();
            values.push(("s.id", SqlValue::Text(marker.to_string())));
            push_after_marker(&mut sql, &values, query.sort_dir)?;
        }
        sql.push(" ORDER BY ");
        for key in &keys {
            sql.push(key.expr())
                .push(" ")
                .push(query.sort_dir.sql())
                .push(", ");
        }
        sql.push("s.id ").push(query.sort_dir.sql());
        push_limit(&mut sql, query.limit)?;
        Ok(sqlx::query_with(&sql.text, sql.args)
            .persistent(false)
            .fetch_all(&mut *conn)
            .await?)
    }

    /// How many stacks match `query` (its sort, limit and marker are ignored).
    pub async fn count_stacks(&self, query: &StackQuery) -> Result<u64> {
        let mut sql = Sql::new("SELECT COUNT(*) FROM stacks s WHERE 1 = 1");
        push_stack_filters(&mut sql, query)?;
        let count: i64 = sqlx::query_scalar_with(&sql.text, sql.args)
            .persistent(false)
            .fetch_one(&mut *self.conn().await?)
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// The live stacks nested under `root` down to `depth` levels (1: children only),
    /// shallowest first.
    pub async fn nested_stacks(&self, root: Uuid, depth: u32) -> Result<Vec<StackRecord>> {
        let mut sql = Sql::default();
        push_stack_tree(&mut sql, root, depth)?;
        sql.push(&format!(
            "SELECT {STACK_COLUMNS} FROM stacks WHERE id IN (SELECT id FROM tree WHERE depth > 0) \
             ORDER BY nested_depth, created_at, id"
        ));
        let rows = sqlx::query_with(&sql.text, sql.args)
            .fetch_all(&mut *self.conn().await?)
            .await?;
        rows.iter()
            .map(|row| stack_from_row(&self.cipher, row))
            .collect()
    }

    // -- resources ------------------------------------------------------------------------

    pub async fn create_resource(&self, resource: &ResourceRecord) -> Result<()> {
        self.apply(&mut [crate::Write::InsertResource(Box::new(resource.clone()))])
            .await
    }

    /// Stores `resource` if its stored version is still `resource.version`, then advances it.
    pub async fn update_resource(&self, resource: &mut ResourceRecord) -> Result<()> {
        let mut tx = self.write_tx().await?;
        update_resources(&mut tx, &self.cipher, &[resource]).await?;
        tx.commit().await?;
        resource.version += 1;
        Ok(())
    }

    pub async fn resource(&self, id: Uuid) -> Result<ResourceRecord> {
        let row = sqlx::query(&format!(
            "SELECT {RESOURCE_COLUMNS} FROM resources WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&mut *self.conn().await?)
        .await?
        .ok_or_else(|| StoreError::not_found("resource", id))?;
        resource_from_row(&self.cipher, &row)
    }

    /// The row a stack currently uses under `name` (not a replaced one).
    pub async fn current_resource(&self, stack_id: Uuid, name: &str) -> Result<ResourceRecord> {
        let row = sqlx::query(&format!(
            "SELECT {RESOURCE_COLUMNS} FROM resources WHERE stack_id = $1 AND name = $2 AND is_current = 1 \
             ORDER BY created_at DESC, id LIMIT 1"
        ))
        .bind(stack_id.to_string())
        .bind(name)
        .fetch_optional(&mut *self.conn().await?)
        .await?
        .ok_or_else(|| StoreError::not_found("resource", name))?;
        resource_from_row(&self.cipher, &row)
    }

    /// Every resource row of a stack (current and replaced), by creation.
    pub async fn resources(&self, stack_id: Uuid) -> Result<Vec<ResourceRecord>> {
        self.resources_nested(stack_id, 0).await
    }

    /// The resources of `stack_id` and of its live nested stacks down to `depth` levels.
    pub async fn resources_nested(
        &self,
        stack_id: Uuid,
        depth: u32,
    ) -> Result<Vec<ResourceRecord>> {
        let mut sql = Sql::default();
        push_stack_tree(&mut sql, stack_id, depth)?;
        sql.push(&format!(
            "SELECT {RESOURCE_COLUMNS} FROM resources WHERE stack_id IN (SELECT id FROM tree) ORDER BY created_at, id"
        ));
        let rows = sqlx::query_with(&sql.text, sql.args)
            .fetch_all(&mut *self.conn().await?)
            .await?;
        rows.iter()
            .map(|row| resource_from_row(&self.cipher, row))
            .collect()
    }

    /// The resource rows with this physical id (any stack).
    pub async fn resources_by_physical_id(&self, physical_id: &str) -> Result<Vec<ResourceRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {RESOURCE_COLUMNS} FROM resources WHERE physical_id = $1 ORDER BY created_at, id"
        ))
        .bind(physical_id)
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter()
            .map(|row| resource_from_row(&self.cipher, row))
            .collect()
    }

    // -- events ---------------------------------------------------------------------------

    /// Events matching `query`, by time, paged.
    pub async fn events(&self, query: &EventQuery) -> Result<Vec<EventRecord>> {
        let mut conn = self.conn().await?;
        let dir = query.sort_dir.unwrap_or(SortDir::Asc);
        let mut sql = Sql::default();
        push_stack_tree(&mut sql, query.stack_id, query.nested_depth)?;
        sql.push(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE stack_id IN (SELECT id FROM tree)"
        ));
        push_in_filter(&mut sql, "resource_name", &query.resource_names)?;
        push_in_filter(&mut sql, "status", &query.resource_statuses)?;
        push_in_filter(&mut sql, "action", &query.resource_actions)?;
        push_in_filter(&mut sql, "resource_type", &query.resource_types)?;
        let keys = if query.sort_keys.is_empty() {
            vec![EventSortKey::EventTime]
        } else {
            query.sort_keys.clone()
        };
        if let Some(marker) = query.marker {
            let row = sqlx::query("SELECT seq, resource_type FROM events WHERE id = $1")
                .bind(marker.to_string())
                .fetch_optional(&mut *conn)
                .await?
                .ok_or_else(|| StoreError::not_found("event", marker))?;
            let c = Cols(&row);
            let (seq, resource_type) = (c.int("seq")?, c.text("resource_type")?);
            let mut values: Vec<(&str, SqlValue)> = keys
                .iter()
                .map(|key| {
                    let value = match key {
                        EventSortKey::EventTime => SqlValue::Int(seq),
                        EventSortKey::ResourceType => SqlValue::Text(resource_type.clone()),
                    };
                    (key.expr(), value)
                })
                .collect();
            values.push(("seq", SqlValue::Int(seq)));
            push_after_marker(&mut sql, &values, dir)?;
        }
        sql.push(" ORDER BY ");
        for key in &keys {
            sql.push(key.expr()).push(" ").push(dir.sql()).push(", ");
        }
        sql.push("seq ").push(dir.sql());
        push_limit(&mut sql, query.limit)?;
        let rows = sqlx::query_with(&sql.text, sql.args)
            .persistent(false)
            .fetch_all(&mut *conn)
            .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// One event of a stack.
    pub async fn event(&self, stack_id: Uuid, id: Uuid) -> Result<EventRecord> {
        let row = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE id = $1 AND stack_id = $2"
        ))
        .bind(id.to_string())
        .bind(stack_id.to_string())
        .fetch_optional(&mut *self.conn().await?)
        .await?
        .ok_or_else(|| StoreError::not_found("event", id))?;
        event_from_row(&row)
    }

    // -- snapshots ------------------------------------------------------------------------

    pub async fn create_snapshot(&self, snapshot: &SnapshotRecord) -> Result<()> {
        self.apply(&mut [crate::Write::InsertSnapshot(Box::new(snapshot.clone()))])
            .await
    }

    pub async fn snapshot(&self, id: Uuid) -> Result<SnapshotRecord> {
        let row = sqlx::query(&format!(
            "SELECT {SNAPSHOT_COLUMNS} FROM snapshots WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&mut *self.conn().await?)
        .await?
        .ok_or_else(|| StoreError::not_found("snapshot", id))?;
        snapshot_from_row(&row)
    }

    /// A stack's snapshots, oldest first.
    pub async fn snapshots(&self, stack_id: Uuid) -> Result<Vec<SnapshotRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {SNAPSHOT_COLUMNS} FROM snapshots WHERE stack_id = $1 ORDER BY created_at, id"
        ))
        .bind(stack_id.to_string())
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter().map(snapshot_from_row).collect()
    }
}

/// A stack's value of a sort key, as the key's SQL expression computes it.
fn stack_sort_value(stack: &StackSummary, key: StackSortKey) -> SqlValue {
    match key {
        StackSortKey::StackName => SqlValue::Text(stack.name.clone()),
        StackSortKey::StackStatus => SqlValue::Text(stack.status.clone()),
        StackSortKey::CreationTime => SqlValue::Int(micros(&stack.created_at)),
        StackSortKey::UpdatedTime => {
            SqlValue::Int(stack.updated_at.as_ref().map(micros).unwrap_or(0))
        }
    }
}

/// `WITH RECURSIVE tree (id, depth)`: `root` and its live nested stacks down to `depth` levels.
fn push_stack_tree(sql: &mut Sql, root: Uuid, depth: u32) -> Result<()> {
    push_tree(sql, root, depth, " AND s.deleted_at IS NULL")
}

/// The same tree with soft-deleted nested stacks included, all levels.
fn push_whole_stack_tree(sql: &mut Sql, root: Uuid) -> Result<()> {
    push_tree(sql, root, u32::MAX, "")
}

fn push_tree(sql: &mut Sql, root: Uuid, depth: u32, condition: &str) -> Result<()> {
    sql.push("WITH RECURSIVE tree (id, depth) AS (SELECT id, 0 FROM stacks WHERE id = ");
    sql.bind(root.to_string())?;
    sql.push(" UNION ALL SELECT s.id, tree.depth + 1 FROM stacks s JOIN tree ON s.owner_id = tree.id WHERE tree.depth < ");
    sql.bind(i64::from(depth))?;
    sql.push(condition).push(") ");
    Ok(())
}

pub(crate) fn push_limit(sql: &mut Sql, limit: Option<u64>) -> Result<()> {
    if let Some(limit) = limit {
        sql.push(" LIMIT ")
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_condition_is_an_or_chain() {
        let mut sql = Sql::new("");
        push_after_marker(
            &mut sql,
            &[
                ("name", SqlValue::Text("a".into())),
                ("s.id", SqlValue::Text("x".into())),
            ],
            SortDir::Asc,
        )
        .unwrap();
        assert_eq!(sql.text, " AND ((name > $1) OR (name = $2 AND s.id > $3))");
    }

    #[test]
    fn sort_keys_parse_heat_names() {
        assert_eq!(
            StackSortKey::parse("stack_name"),
            Some(StackSortKey::StackName)
        );
        assert_eq!(
            StackSortKey::parse("updated_time"),
            Some(StackSortKey::UpdatedTime)
        );
        assert_eq!(StackSortKey::parse("name"), None);
    }
}
