//! Bulk writes: 10,000 resource rows and 20,000 events in one transaction, then 10,000 status
//! updates, the shape of a 10,000-resource stack create. Through the embedded SQLite store and,
//! when `EMBER_BENCH_POSTGRES` names a database URL, through PostgreSQL (in a scratch schema).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use ember_store::{
    EncryptionKey, EventRecord, ResourceRecord, StackDefinition, StackRecord, Store, Write,
};
use sqlx::{Connection, Executor};
use uuid::Uuid;

const RESOURCES: usize = 10_000;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    stack_id: Uuid,
}

/// Drops the schemas of earlier iterations (so the database does not fill up) and returns the
/// admin connection.
async fn drop_bench_schemas(base: &str) -> sqlx::PgConnection {
    let mut admin = sqlx::PgConnection::connect(base)
        .await
        .expect("connect to postgres");
    let old: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'ember_bench_%'",
    )
    .fetch_all(&mut admin)
    .await
    .expect("list schemas");
    for name in old {
        admin
            .execute(format!("DROP SCHEMA {name} CASCADE").as_str())
            .await
            .expect("drop schema");
    }
    admin
}

/// A store with one stack: a fresh SQLite file, or a fresh PostgreSQL schema under `postgres`.
async fn fixture(postgres: Option<&str>) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = EncryptionKey::from_bytes(&[3; 32]).expect("key");
    let url = match postgres {
        None => format!("sqlite://{}", dir.path().join("bench.db").display()),
        Some(base) => {
            let schema = format!("ember_bench_{}", Uuid::new_v4().simple());
            let mut admin = drop_bench_schemas(base).await;
            admin
                .execute(format!("CREATE SCHEMA {schema}").as_str())
                .await
                .expect("create schema");
            format!("{base}?options[search_path]={schema}")
        }
    };
    let store = Store::open(&url, &key).await.expect("open");
    let stack = StackRecord::new("bench", "tenant", StackDefinition::default());
    store.create_stack(&stack).await.expect("stack");
    Fixture {
        _dir: dir,
        store,
        stack_id: stack.id,
    }
}

fn resources(stack_id: Uuid) -> Vec<ResourceRecord> {
    (0..RESOURCES)
        .map(|i| ResourceRecord::new(stack_id, format!("r{i}"), "OS::Heat::None"))
        .collect()
}

fn creates(stack_id: Uuid, resources: &[ResourceRecord]) -> Vec<Write> {
    let mut writes = Vec::with_capacity(RESOURCES * 3);
    for r in resources {
        writes.push(Write::InsertResource(Box::new(r.clone())));
        writes.push(Write::InsertEvent(Box::new(EventRecord::new(
            stack_id,
            &r.name,
            "CREATE",
            "IN_PROGRESS",
        ))));
        writes.push(Write::InsertEvent(Box::new(EventRecord::new(
            stack_id, &r.name, "CREATE", "COMPLETE",
        ))));
    }
    writes
}

fn bench_backend(
    c: &mut Criterion,
    runtime: &tokio::runtime::Runtime,
    name: &str,
    postgres: Option<&str>,
) {
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    group.bench_function("insert 10k resources + 20k events", |b| {
        b.iter_batched(
            || {
                let fixture = runtime.block_on(fixture(postgres));
                let writes = creates(fixture.stack_id, &resources(fixture.stack_id));
                (fixture, writes)
            },
            |(fixture, mut writes)| {
                runtime
                    .block_on(fixture.store.apply(&mut writes))
                    .expect("apply")
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("update 10k resource statuses", |b| {
        b.iter_batched(
            || {
                let fixture = runtime.block_on(fixture(postgres));
                let rows = resources(fixture.stack_id);
                let mut writes = creates(fixture.stack_id, &rows);
                runtime
                    .block_on(fixture.store.apply(&mut writes))
                    .expect("seed");
                let updates: Vec<Write> = rows
                    .into_iter()
                    .map(|mut r| {
                        r.status = "COMPLETE".into();
                        r.physical_id = Some(r.id.to_string());
                        Write::UpdateResource(Box::new(r))
                    })
                    .collect();
                (fixture, updates)
            },
            |(fixture, mut writes)| {
                runtime
                    .block_on(fixture.store.apply(&mut writes))
                    .expect("apply")
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    bench_backend(c, &runtime, "sqlite", None);
    if let Ok(url) = std::env::var("EMBER_BENCH_POSTGRES") {
        bench_backend(c, &runtime, "postgres", Some(&url));
        runtime.block_on(drop_bench_schemas(&url));
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
