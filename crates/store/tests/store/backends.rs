//! Runs each test body against SQLite (a fresh temporary file) and PostgreSQL (a fresh schema
//! in the local `test` database, dropped afterwards), so both backends pass one suite.

use ember_store::{EncryptionKey, Store};
use sqlx::{Connection, Executor};
use std::future::Future;

pub const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn key() -> EncryptionKey {
    EncryptionKey::from_bytes(b"0123456789abcdef0123456789abcdef").expect("32 bytes")
}

pub async fn with_sqlite<F, Fut>(body: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("ember.db").display());
    let store = Store::open(&url, &key()).await.expect("open sqlite store");
    body(store.clone()).await;
    store.close().await;
}

/// A unique schema per test, dropped even when the body panics.
pub async fn with_postgres<F, Fut>(body: F)
where
    F: FnOnce(Store) -> Fut,
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
    let outcome = tokio::spawn(body(store.clone())).await;
    store.close().await;
    admin
        .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
        .await
        .expect("drop schema");
    if let Err(err) = outcome {
        std::panic::resume_unwind(err.into_panic());
    }
}

/// Declares `sqlite_<name>` and `postgres_<name>` tests running `async fn <name>(Store)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    $crate::backends::with_sqlite(super::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    $crate::backends::with_postgres(super::$name).await;
                }
            )*
        }
    };
}
