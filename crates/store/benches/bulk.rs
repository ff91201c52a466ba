//! Bulk writes through the embedded store: 10,000 resource rows and 20,000 events in one
//! transaction, then 10,000 status updates, the shape of a 10,000-resource stack create.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use ember_store::{
    EncryptionKey, EventRecord, ResourceRecord, StackDefinition, StackRecord, Store, Write,
};
use uuid::Uuid;

const RESOURCES: usize = 10_000;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    stack_id: Uuid,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = EncryptionKey::from_bytes(&[3; 32]).expect("key");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
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

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut group = c.benchmark_group("sqlite");
    group.sample_size(10);
    group.bench_function("insert 10k resources + 20k events", |b| {
        b.iter_batched(
            || {
                let fixture = runtime.block_on(fixture());
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
                let fixture = runtime.block_on(fixture());
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

criterion_group!(benches, bench);
criterion_main!(benches);
