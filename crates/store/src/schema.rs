//! The schema and its migrations, applied in order when a store is opened.
//!
//! The DDL is written once in the subset SQLite and PostgreSQL share (TEXT, BIGINT, partial
//! indexes, `ON DELETE CASCADE`); applied versions are recorded in `ember_migrations`. Event
//! sequence numbers come from a counter row rather than an autoincrement column: the row lock
//! serialises event writers, so sequence order is also commit order and paging by `seq` never
//! skips a late commit.

use crate::error::Result;
use crate::Dialect;
use sqlx::{AnyConnection, Executor};

/// (version, statements). Append only: never edit an applied migration.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        r#"
CREATE TABLE ember_counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
INSERT INTO ember_counters (name, value) VALUES ('event_seq', 0);
INSERT INTO ember_counters (name, value) VALUES ('work_seq', 0);

CREATE TABLE stacks (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    tenant TEXT NOT NULL,
    owner_id TEXT,
    parent_resource TEXT,
    nested_depth BIGINT NOT NULL,
    action TEXT NOT NULL,
    status TEXT NOT NULL,
    status_reason TEXT NOT NULL,
    template TEXT NOT NULL,
    environment TEXT NOT NULL,
    files TEXT NOT NULL,
    parameters TEXT NOT NULL,
    hidden_parameters TEXT,
    previous TEXT,
    timeout_mins BIGINT,
    disable_rollback BIGINT NOT NULL,
    tags TEXT NOT NULL,
    user_id TEXT NOT NULL,
    username TEXT NOT NULL,
    current_traversal TEXT,
    engine_data TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT,
    deleted_at BIGINT,
    version BIGINT NOT NULL
);
CREATE UNIQUE INDEX stacks_live_name ON stacks (tenant, name) WHERE deleted_at IS NULL;
CREATE INDEX stacks_tenant_created ON stacks (tenant, created_at);
CREATE INDEX stacks_owner ON stacks (owner_id);

CREATE TABLE stack_tags (
    stack_id TEXT NOT NULL REFERENCES stacks (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (stack_id, tag)
);
CREATE INDEX stack_tags_tag ON stack_tags (tag);

CREATE TABLE resources (
    id TEXT PRIMARY KEY,
    stack_id TEXT NOT NULL REFERENCES stacks (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    type_name TEXT NOT NULL,
    physical_id TEXT,
    action TEXT NOT NULL,
    status TEXT NOT NULL,
    status_reason TEXT NOT NULL,
    properties TEXT NOT NULL,
    data TEXT,
    attributes TEXT NOT NULL,
    metadata TEXT NOT NULL,
    requires TEXT NOT NULL,
    replaces TEXT,
    replaced_by TEXT,
    is_current BIGINT NOT NULL,
    engine_id TEXT,
    engine_data TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT,
    version BIGINT NOT NULL
);
CREATE INDEX resources_stack_name ON resources (stack_id, name);
CREATE INDEX resources_physical ON resources (physical_id);

CREATE TABLE events (
    seq BIGINT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    stack_id TEXT NOT NULL REFERENCES stacks (id) ON DELETE CASCADE,
    resource_name TEXT NOT NULL,
    physical_id TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    action TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    properties TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX events_stack_seq ON events (stack_id, seq);

CREATE TABLE snapshots (
    id TEXT PRIMARY KEY,
    stack_id TEXT NOT NULL REFERENCES stacks (id) ON DELETE CASCADE,
    name TEXT,
    status TEXT NOT NULL,
    status_reason TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX snapshots_stack ON snapshots (stack_id, created_at);

CREATE TABLE software_configs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    group_name TEXT NOT NULL,
    config TEXT NOT NULL,
    inputs TEXT NOT NULL,
    outputs TEXT NOT NULL,
    options TEXT NOT NULL,
    tenant TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX software_configs_tenant ON software_configs (tenant, created_at);

CREATE TABLE software_deployments (
    id TEXT PRIMARY KEY,
    config_id TEXT NOT NULL REFERENCES software_configs (id),
    server_id TEXT NOT NULL,
    input_values TEXT NOT NULL,
    action TEXT NOT NULL,
    status TEXT NOT NULL,
    status_reason TEXT NOT NULL,
    output_values TEXT NOT NULL,
    tenant TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT,
    version BIGINT NOT NULL
);
CREATE INDEX software_deployments_tenant ON software_deployments (tenant, created_at);
CREATE INDEX software_deployments_server ON software_deployments (server_id);

CREATE TABLE engines (
    engine_id TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);

CREATE TABLE stack_locks (
    stack_id TEXT PRIMARY KEY,
    engine_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX stack_locks_engine ON stack_locks (engine_id);

CREATE TABLE work_items (
    id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    stack_id TEXT,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    claimed_by TEXT,
    lease_expires_at BIGINT,
    attempts BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX work_items_seq ON work_items (seq);
"#,
    ),
    (
        2,
        // A stack's Keystone trust for deferred work, encrypted like hidden parameters.
        "ALTER TABLE stacks ADD COLUMN trust_id TEXT;",
    ),
];

/// The newest schema version this build knows.
pub const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// Applies every migration not applied yet, each in its own transaction. Concurrent openers
/// are serialised (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: a transaction-scoped advisory lock).
pub(crate) async fn migrate(conn: &mut AnyConnection, dialect: Dialect) -> Result<()> {
    conn.execute(
        "CREATE TABLE IF NOT EXISTS ember_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .await?;
    for (version, ddl) in MIGRATIONS {
        conn.execute(dialect.begin_write()).await?;
        let outcome = apply_one(conn, dialect, *version, ddl).await;
        let end = if outcome.is_ok() {
            "COMMIT"
        } else {
            "ROLLBACK"
        };
        conn.execute(end).await?;
        outcome?;
    }
    Ok(())
}

async fn apply_one(
    conn: &mut AnyConnection,
    dialect: Dialect,
    version: i64,
    ddl: &str,
) -> Result<()> {
    if let Dialect::Postgres = dialect {
        // An arbitrary constant naming "ember schema migration".
        conn.execute("SELECT pg_advisory_xact_lock(7242130911)")
            .await?;
    }
    let applied: Option<i64> =
        sqlx::query_scalar("SELECT version FROM ember_migrations WHERE version = $1")
            .bind(version)
            .fetch_optional(&mut *conn)
            .await?;
    if applied.is_some() {
        return Ok(());
    }
    conn.execute(ddl).await?;
    sqlx::query("INSERT INTO ember_migrations (version, applied_at) VALUES ($1, $2)")
        .bind(version)
        .bind(chrono::Utc::now().timestamp_micros())
        .execute(&mut *conn)
        .await?;
    Ok(())
}
