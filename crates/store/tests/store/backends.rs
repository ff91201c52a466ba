//! Runs each test body against SQLite (a fresh temporary file) and PostgreSQL (a fresh schema
//! in the local `test` database, dropped afterwards), so both backends pass one suite.

use ember_store::{EncryptionKey, Store};
use sqlx::{Connection, Executor};
use std::future::Future;
use std::ops::Deref;

/// An open store and the URL it was opened with (to open more stores or raw connections on
/// the same database).
pub struct Db {
    pub store: Store,
    pub url: String,
}

impl Deref for Db {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

impl Db {
    /// A raw connection, to look at what is really stored.
    pub async fn raw(&self) -> sqlx::AnyConnection {
        sqlx::any::install_default_drivers();
        sqlx::AnyConnection::connect(&self.url)
            .await
            .expect("raw connection")
    }

    /// The text of one column of one row, as stored.
    pub async fn raw_text(&self, sql: &str, id: &str) -> String {
        let mut conn = self.raw().await;
        sqlx::query_scalar::<_, String>(sql)
            .bind(id.to_string())
            .fetch_one(&mut conn)
            .await
            .expect("raw query")
    }
}

pub const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn key() -> EncryptionKey {
    EncryptionKey::from_bytes(b"0123456789abcdef0123456789abcdef").expect("32 bytes")
}

pub async fn with_sqlite<F, Fut>(body: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("ember.db").display());
    let store = Store::open(&url, &key()).await.expect("open sqlite store");
    body(Db {
        store: store.clone(),
        url,
    })
    .await;
    store.close().await;
}

/// A unique schema per test, dropped even when the body panics.
pub async fn with_postgres<F, Fut>(body: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let schema = format!("ember_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(PG_URL)
        .await
        .expect("connect to postgres");
    admin
        .execute(format!("CREATE SCHEMA {schema}").as_str())
        .await
        .expect("create schema");
    let url = format!("{PG_URL}?options[search_path]={schema}");
    let store = Store::open(&url, &key())
        .await
        .expect("open postgres store in schema");
    let outcome = tokio::spawn(body(Db {
        store: store.clone(),
        url,
    }))
    .await;
    store.close().await;
    admin
        .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
        .await
        .expect("drop schema");
    if let Err(err) = outcome {
        std::panic::resume_unwind(err.into_panic());
    }
}

/// Declares `sqlite::<name>` and `postgres::<name>` tests running `async fn <name>(Db)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::backends::with_sqlite(super::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::backends::with_postgres(super::$name).await;
                }
            )*
        }
    };
}
