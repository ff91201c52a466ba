//! Property test: whatever text arrives as a stack name, tag or filter value (quotes, SQL
//! fragments, unicode), the store neither panics nor misreads it, and stores it verbatim.

use crate::backends;
use crate::on_both_backends;
use ember_store::{SortDir, StackDefinition, StackQuery, StackRecord, StackSortKey, Store};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        // PostgreSQL TEXT cannot hold NUL; everything else goes.
        "[^\u{0}]{0,40}",
        Just("'; DROP TABLE stacks; --".to_string()),
        Just("\" OR 1=1 --".to_string()),
        Just("$1".to_string()),
        Just("%_\\".to_string()),
        Just("Robert'); DELETE FROM stack_tags WHERE ('1'='1".to_string()),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    name: String,
    tags: Vec<String>,
    filter: String,
    sort_key: usize,
    descending: bool,
    limit: Option<u64>,
}

fn cases() -> impl Strategy<Value = Case> {
    (
        text(),
        prop::collection::vec(text(), 0..4),
        text(),
        0usize..4,
        any::<bool>(),
        prop::option::of(0u64..5),
    )
        .prop_map(|(name, tags, filter, sort_key, descending, limit)| Case {
            name,
            tags,
            filter,
            sort_key,
            descending,
            limit,
        })
}

async fn check(store: &Store, case: Case) -> Result<(), TestCaseError> {
    let tenant = uuid::Uuid::new_v4().to_string();
    let mut stack = StackRecord::new(
        case.name.clone(),
        tenant.clone(),
        StackDefinition::default(),
    );
    stack.tags = case.tags.clone();
    store
        .create_stack(&stack)
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let read = store
        .stack(stack.id)
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&read, &stack);
    if uuid::Uuid::parse_str(&case.name).is_err() {
        let found = store
            .find_stack(&tenant, &case.name)
            .await
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(found.id, stack.id);
    }
    let keys = [
        StackSortKey::StackName,
        StackSortKey::StackStatus,
        StackSortKey::CreationTime,
        StackSortKey::UpdatedTime,
    ];
    let query = StackQuery {
        tenant: Some(tenant.clone()),
        names: vec![case.name.clone()],
        tags: case.tags.clone(),
        sort_keys: vec![keys[case.sort_key]],
        sort_dir: if case.descending {
            SortDir::Desc
        } else {
            SortDir::Asc
        },
        ..Default::default()
    };
    let listed = store
        .list_stacks(&query)
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(
        listed.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![stack.id]
    );
    // Arbitrary filter values: answered, never an error.
    let query = StackQuery {
        tenant: Some(case.filter.clone()),
        names: vec![case.filter.clone()],
        statuses: vec![case.filter.clone()],
        tags_any: vec![case.filter.clone()],
        not_tags: vec![case.filter.clone()],
        limit: case.limit,
        marker: Some(stack.id),
        ..Default::default()
    };
    store
        .list_stacks(&query)
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    store
        .count_stacks(&query)
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    Ok(())
}

/// The runner is synchronous; each case blocks this worker on the async check.
async fn any_text_is_stored_verbatim(db: backends::Db) {
    let runtime = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(Config {
        cases: 96,
        ..Config::default()
    });
    let outcome = tokio::task::block_in_place(|| {
        runner
            .run(&cases(), |case| runtime.block_on(check(&db, case)))
            .map_err(|failure| failure.to_string())
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

on_both_backends!(any_text_is_stored_verbatim);
