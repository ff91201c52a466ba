//! Property test: the stack summaries the store selects in SQL (filters, sort keys, direction,
//! marker, limit) are the page `StackQuery::page` selects in memory from the same stacks, and
//! `count_stacks` counts what `StackQuery::matches` accepts, on both backends.

use crate::backends;
use crate::on_both_backends;
use chrono::Duration as Span;
use ember_store::{
    now, SortDir, StackDefinition, StackQuery, StackRecord, StackSortKey, StackSummary, Store,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use uuid::Uuid;

const STATUSES: [&str; 3] = ["COMPLETE", "FAILED", "IN_PROGRESS"];
const ACTIONS: [&str; 3] = ["CREATE", "UPDATE", "DELETE"];
const TAGS: [&str; 3] = ["a", "b", "c"];
const KEYS: [StackSortKey; 4] = [
    StackSortKey::StackName,
    StackSortKey::StackStatus,
    StackSortKey::CreationTime,
    StackSortKey::UpdatedTime,
];

#[derive(Debug, Clone)]
struct Shape {
    /// Lower-case letters only: PostgreSQL's collation then orders names as bytes do.
    name: String,
    status: usize,
    action: usize,
    tags: Vec<usize>,
    /// Index of an earlier stack owning this one.
    owner: Option<usize>,
    deleted: bool,
    /// Seconds after a common start; equal values make sort ties (broken by id).
    created: i64,
    updated: Option<i64>,
}

#[derive(Debug, Clone)]
struct Selection {
    names: Vec<usize>,
    statuses: Vec<usize>,
    actions: Vec<usize>,
    owners: Vec<usize>,
    tags: Vec<usize>,
    tags_any: Vec<usize>,
    not_tags: Vec<usize>,
    not_tags_any: Vec<usize>,
    show_deleted: bool,
    show_nested: bool,
    keys: Vec<usize>,
    descending: bool,
    limit: Option<u64>,
    marker: Option<usize>,
}

fn shapes() -> impl Strategy<Value = Vec<Shape>> {
    prop::collection::vec(
        (
            "[a-c]{1,2}",
            0..STATUSES.len(),
            0..ACTIONS.len(),
            prop::collection::vec(0..TAGS.len(), 0..3),
            prop::option::of(0usize..8),
            any::<bool>(),
            0i64..4,
            prop::option::of(0i64..4),
        )
            .prop_map(
                |(name, status, action, tags, owner, deleted, created, updated)| Shape {
                    name,
                    status,
                    action,
                    tags,
                    owner,
                    deleted,
                    created,
                    updated,
                },
            ),
        1..10,
    )
}

fn picks(n: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0..n, 0..3)
}

fn selections() -> impl Strategy<Value = Selection> {
    (
        (picks(10), picks(3), picks(3), picks(10)),
        (picks(3), picks(3), picks(3), picks(3)),
        (
            any::<bool>(),
            any::<bool>(),
            picks(KEYS.len()),
            any::<bool>(),
        ),
        (prop::option::of(0u64..6), prop::option::of(0usize..10)),
    )
        .prop_map(
            |(
                (names, statuses, actions, owners),
                (tags, tags_any, not_tags, not_tags_any),
                (show_deleted, show_nested, keys, descending),
                (limit, marker),
            )| Selection {
                names,
                statuses,
                actions,
                owners,
                tags,
                tags_any,
                not_tags,
                not_tags_any,
                show_deleted,
                show_nested,
                keys,
                descending,
                limit,
                marker,
            },
        )
}

fn words(picked: &[usize], vocabulary: &[&str]) -> Vec<String> {
    picked.iter().map(|i| vocabulary[*i].to_string()).collect()
}

async fn check(store: &Store, shapes: Vec<Shape>, pick: Selection) -> Result<(), TestCaseError> {
    let fail = |e: ember_store::StoreError| TestCaseError::fail(e.to_string());
    let tenant = Uuid::new_v4().to_string();
    let start = now();
    let mut stored: Vec<StackRecord> = Vec::new();
    for (i, shape) in shapes.iter().enumerate() {
        // The index keeps live names unique within the tenant.
        let mut s = StackRecord::new(
            format!("{}{i}", shape.name),
            tenant.clone(),
            StackDefinition::default(),
        );
        s.status = STATUSES[shape.status].into();
        s.action = ACTIONS[shape.action].into();
        s.tags = words(&shape.tags, &TAGS);
        s.tags.sort();
        s.tags.dedup();
        s.owner_id = shape.owner.filter(|o| *o < i).map(|o| stored[o].id);
        s.created_at = start + Span::seconds(shape.created);
        s.updated_at = shape.updated.map(|u| start + Span::seconds(u));
        s.deleted_at = shape.deleted.then_some(start);
        s.username = format!("user{}", i % 2);
        store.create_stack(&s).await.map_err(fail)?;
        stored.push(s);
    }
    let stack_ids = |picked: &[usize]| -> Vec<Uuid> {
        picked
            .iter()
            .filter_map(|i| stored.get(*i).map(|s| s.id))
            .collect()
    };
    let query = StackQuery {
        tenant: Some(tenant.clone()),
        names: pick
            .names
            .iter()
            .filter_map(|i| stored.get(*i).map(|s| s.name.clone()))
            .collect(),
        statuses: words(&pick.statuses, &STATUSES),
        actions: words(&pick.actions, &ACTIONS),
        owner_ids: stack_ids(&pick.owners),
        tags: words(&pick.tags, &TAGS),
        tags_any: words(&pick.tags_any, &TAGS),
        not_tags: words(&pick.not_tags, &TAGS),
        not_tags_any: words(&pick.not_tags_any, &TAGS),
        show_deleted: pick.show_deleted,
        show_nested: pick.show_nested,
        sort_keys: pick.keys.iter().map(|k| KEYS[*k]).collect(),
        sort_dir: if pick.descending {
            SortDir::Desc
        } else {
            SortDir::Asc
        },
        limit: pick.limit,
        marker: pick.marker.and_then(|i| stored.get(i)).map(|s| s.id),
        ..StackQuery::default()
    };
    let summaries: Vec<StackSummary> = stored.iter().map(StackSummary::from).collect();
    let expected = query.page(summaries.clone()).map_err(fail)?;
    let listed = store.stack_summaries(&query).await.map_err(fail)?;
    prop_assert_eq!(&listed, &expected);
    let full = store.list_stacks(&query).await.map_err(fail)?;
    prop_assert_eq!(
        full.iter().map(|s| s.id).collect::<Vec<_>>(),
        listed.iter().map(|s| s.id).collect::<Vec<_>>()
    );
    let count = store.count_stacks(&query).await.map_err(fail)?;
    let matching = summaries.iter().filter(|s| query.matches(s)).count();
    prop_assert_eq!(count, matching as u64);
    Ok(())
}

/// The runner is synchronous; each case blocks this worker on the async check.
async fn sql_listing_is_the_in_memory_selection(db: backends::Db) {
    let runtime = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(Config {
        cases: 64,
        ..Config::default()
    });
    let outcome = tokio::task::block_in_place(|| {
        runner
            .run(&(shapes(), selections()), |(shapes, pick)| {
                runtime.block_on(check(&db, shapes, pick))
            })
            .map_err(|failure| failure.to_string())
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

on_both_backends!(sql_listing_is_the_in_memory_selection);
