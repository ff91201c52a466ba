//! The store's typed errors.

use uuid::Uuid;

/// What a refused write collided with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    /// Another engine holds the stack's action lock (and its lease has not run out).
    #[error("stack {stack_id} is locked by engine {engine_id}")]
    StackLocked { stack_id: Uuid, engine_id: String },
    /// The row changed since it was read (optimistic concurrency).
    #[error("{kind} {id} was changed by someone else (expected version {expected})")]
    VersionMismatch {
        kind: &'static str,
        id: Uuid,
        expected: i64,
    },
    /// A live stack of that name already exists in the tenant.
    #[error("a stack named {0} already exists")]
    StackNameTaken(String),
    /// A row with the same identity exists, or a row another row refers to cannot be removed.
    #[error("{0}")]
    Constraint(String),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{kind} {id} not found")]
    NotFound { kind: &'static str, id: String },
    #[error("conflict: {0}")]
    Conflict(#[from] Conflict),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// Stored data that cannot be read back (bad JSON, bad id, failed decryption).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The store cannot be opened as asked (unsupported URL, bad key).
    #[error("store configuration: {0}")]
    Config(String),
}

impl StoreError {
    pub(crate) fn not_found(kind: &'static str, id: impl ToString) -> Self {
        StoreError::NotFound {
            kind,
            id: id.to_string(),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation
                | sqlx::error::ErrorKind::ForeignKeyViolation => {
                    return StoreError::Conflict(Conflict::Constraint(db.message().to_string()));
                }
                _ => {}
            }
        }
        StoreError::Database(err)
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
