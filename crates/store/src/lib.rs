//! ember-store: Ember's persistence over SQLite (embedded default) and PostgreSQL (scale-out).
//!
//! One [`Store`] type, one SQL text per query for both databases (sqlx's `Any` driver with
//! portable column types and `$n` placeholders); the only dialect differences are how a write
//! transaction starts and how concurrent migrations are serialised ([`Dialect`]).
//!
//! What the engine relies on:
//! - every write is durable when the call returns; [`Store::apply`] commits many writes (stack,
//!   resources, events, snapshots) in one transaction, all or nothing;
//! - stack, resource, snapshot and deployment rows carry a `version`: an update names the version
//!   it read and fails with [`Conflict::VersionMismatch`] if another writer got there first;
//! - one action lock per stack ([`Store::acquire_stack_lock`]) with a lease renewed by the
//!   holder's [`Store::heartbeat`]; a lock whose lease ran out can be taken over
//!   ([`Store::take_expired_locks`]), which is how restart recovery finds in-flight actions;
//! - [`WorkItem`]s queue asynchronous work (API-requested actions, signals) until an engine
//!   completes it, so a crash loses none;
//! - hidden parameter values and resource data are encrypted at rest with the key given at open.

mod codec;
mod crypto;
mod error;
mod locks;
mod records;
mod schema;
mod software;
mod stacks;
mod writes;

pub use crypto::EncryptionKey;
pub use error::{Conflict, Result, StoreError};
pub use records::{
    now, EngineRecord, EventRecord, ResourceRecord, SnapshotRecord, SoftwareConfigRecord,
    SoftwareDeploymentRecord, StackDefinition, StackLock, StackRecord, StackSummary, TrustId,
    WorkItem,
};
pub use schema::SCHEMA_VERSION;
pub use software::DeploymentQuery;
pub use stacks::{EventQuery, EventSortKey, SortDir, StackQuery, StackSortKey};
pub use writes::Write;

use crypto::Cipher;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, ConnectOptions, Executor, Transaction};
use std::str::FromStr;
use std::time::Duration;

/// The database behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// SQLite write transactions take the write lock up front so that a transaction that read
    /// first never fails to upgrade (which the busy timeout cannot retry).
    fn begin_write(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        }
    }
}

/// Connection settings beyond the URL.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Pool size (SQLite in-memory stores always use one connection: each connection would
    /// otherwise see its own empty database).
    pub max_connections: u32,
    /// How long SQLite waits for another writer before failing.
    pub busy_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 8,
            busy_timeout: Duration::from_secs(30),
        }
    }
}

/// Ember's persistent state. Cheap to clone (one shared pool).
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
    cipher: Cipher,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dialect", &self.dialect)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the store at `url` and brings its schema up to date.
    ///
    /// URLs: `sqlite:///abs/path/ember.db`, `sqlite://relative.db`, `sqlite::memory:`,
    /// `postgres://user@host:port/db` (add `?options[search_path]=schema` to use a schema).
    pub async fn open(url: &str, key: &EncryptionKey) -> Result<Store> {
        Store::open_with(url, key, &StoreOptions::default()).await
    }

    pub async fn open_with(
        url: &str,
        key: &EncryptionKey,
        options: &StoreOptions,
    ) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let (dialect, url) = connect_url(url)?;
        let in_memory = dialect == Dialect::Sqlite && url.contains(":memory:");
        let connect = AnyConnectOptions::from_str(&url)
            .map_err(|e| StoreError::Config(format!("bad store URL: {e}")))?
            .disable_statement_logging();
        let busy_ms = options.busy_timeout.as_millis();
        let mut pool = AnyPoolOptions::new().max_connections(if in_memory {
            1
        } else {
            options.max_connections.max(1)
        });
        if in_memory {
            pool = pool
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
        let pool = pool
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute(format!("PRAGMA busy_timeout = {busy_ms}").as_str())
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(connect)
            .await?;
        let store = Store {
            pool,
            dialect,
            cipher: Cipher::new(key),
        };
        schema::migrate(&mut *store.pool.acquire().await?, dialect).await?;
        Ok(store)
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Closes every connection (waiting for ones in use to come back).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn write_tx(&self) -> Result<Transaction<'static, Any>> {
        Ok(self.pool.begin_with(self.dialect.begin_write()).await?)
    }

    async fn conn(&self) -> Result<PoolConnection<Any>> {
        Ok(self.pool.acquire().await?)
    }
}

/// Recognises the backend and, for SQLite files, asks for the file to be created if missing.
fn connect_url(url: &str) -> Result<(Dialect, String)> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((Dialect::Postgres, url.to_string()));
    }
    if !url.starts_with("sqlite:") {
        return Err(StoreError::Config(format!(
            "unsupported store URL {url:?}: use sqlite:///path/ember.db, sqlite::memory: or postgres://..."
        )));
    }
    if url.contains(":memory:") || url.contains("mode=") {
        return Ok((Dialect::Sqlite, url.to_string()));
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    Ok((Dialect::Sqlite, format!("{url}{separator}mode=rwc")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_recognised() {
        assert_eq!(
            connect_url("sqlite:///tmp/e.db").unwrap(),
            (Dialect::Sqlite, "sqlite:///tmp/e.db?mode=rwc".into())
        );
        assert_eq!(connect_url("sqlite::memory:").unwrap().0, Dialect::Sqlite);
        assert_eq!(
            connect_url("postgres://u@h/db").unwrap().0,
            Dialect::Postgres
        );
        assert!(matches!(
            connect_url("mysql://x"),
            Err(StoreError::Config(_))
        ));
    }
}
