//! What the engine stores of a request and gives back: the template as an object whatever form
//! it was sent in (Heat's `GET .../template`, abandon/export and snapshot data), and the
//! environment that environment files merge into, with hidden values kept out of plain text.

mod common;

use common::{cx, finished, service, sqlite_store, status};
use ember_engine::StackRequest;
use serde_json::{json, Map, Value};

const TEMPLATE_TEXT: &str = "# sent as text, as the CLI sends it
heat_template_version: 2021-04-16
description: Kept as an object.
resources:
  holder:
    type: Test::Replaceable
    properties: {value: one}
";

fn object(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_sent_as_text_is_answered_as_an_object() {
    let dir = tempfile::tempdir().expect("temp dir");
    let svc = service(sqlite_store(dir.path()).await);
    let created = svc
        .create_stack(
            &cx(),
            StackRequest {
                stack_name: Some("texted".into()),
                template: Some(Value::String(TEMPLATE_TEXT.into())),
                ..StackRequest::default()
            },
        )
        .await
        .expect("create accepted");
    let id = created["id"].as_str().expect("id").to_string();
    let shown = finished(&svc, &id).await;
    assert_eq!(
        status(&shown),
        "CREATE_COMPLETE: Stack CREATE completed successfully"
    );
    let expected = json!({
        "heat_template_version": "2021-04-16",
        "description": "Kept as an object.",
        "resources": {"holder": {"type": "Test::Replaceable", "properties": {"value": "one"}}},
    });
    assert_eq!(
        svc.get_template(&cx(), &id).await.expect("template"),
        expected
    );
    let exported = svc.export_stack(&cx(), &id).await.expect("export");
    assert_eq!(exported["template"], expected);
    let snapshot = svc
        .create_snapshot(&cx(), &id, Some("snap".into()))
        .await
        .expect("snapshot taken");
    let snapshot_id = snapshot["id"].as_str().expect("snapshot id");
    let snapshot = svc
        .show_snapshot(&cx(), &id, snapshot_id)
        .await
        .expect("snapshot shown");
    assert_eq!(snapshot["data"]["template"], expected, "{snapshot}");
}

const HIDDEN: &str = "
heat_template_version: 2021-04-16
parameters:
  secret: {type: string, hidden: true}
  plain: {type: string}
resources:
  holder:
    type: Test::Replaceable
    properties: {value: {get_param: plain}}
outputs:
  joined:
    value: {list_join: [':', [{get_param: secret}, {get_attr: [holder, value]}]]}
";

/// The hidden value, which must appear in no stored byte. (The template uses it in an output
/// only: resource properties are stored as they are, whatever parameters they came from.)
const SECRET: &str = "s3cret-in-an-env-file";

fn files(entries: &[(&str, &str)]) -> Map<String, Value> {
    entries
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect()
}

/// Does any file of the store's directory (the database and its write-ahead log) hold `text`?
fn stored_anywhere(dir: &std::path::Path, text: &str) -> bool {
    std::fs::read_dir(dir).expect("store dir").any(|entry| {
        let bytes = std::fs::read(entry.expect("entry").path()).unwrap_or_default();
        bytes.windows(text.len()).any(|w| w == text.as_bytes())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hidden_values_from_environment_files_are_stored_merged_and_masked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let svc = service(sqlite_store(dir.path()).await);
    let env = format!("parameters:\n  secret: {SECRET}\n  plain: visible\n");
    let created = svc
        .create_stack(
            &cx(),
            StackRequest {
                stack_name: Some("hiding".into()),
                template: Some(Value::String(HIDDEN.into())),
                environment_files: vec!["env.yaml".into()],
                files: files(&[("env.yaml", &env), ("note.txt", "kept")]),
                ..StackRequest::default()
            },
        )
        .await
        .expect("create accepted");
    let id = created["id"].as_str().expect("id").to_string();
    let shown = finished(&svc, &id).await;
    assert_eq!(
        status(&shown),
        "CREATE_COMPLETE: Stack CREATE completed successfully"
    );
    // The stack got the value...
    let joined = svc.show_output(&cx(), &id, "joined").await.expect("output");
    assert_eq!(joined["output_value"], json!(format!("{SECRET}:visible")));
    // ...which is shown masked, and the file that held it is not kept as text.
    assert_eq!(shown["parameters"]["secret"], "******");
    let environment = svc.get_environment(&cx(), &id).await.expect("environment");
    assert_eq!(
        environment["parameters"],
        json!({"secret": "******", "plain": "visible"})
    );
    assert_eq!(
        object(svc.get_files(&cx(), &id).await.expect("files")),
        files(&[("note.txt", "kept")])
    );
    assert!(!stored_anywhere(dir.path(), SECRET));

    // A PATCH update's environment files merge over the stored environment.
    let more = "parameter_merge_strategies: {plain: merge}\nparameters:\n  plain: -more\n";
    svc.update_stack(
        &cx(),
        &id,
        StackRequest {
            existing: true,
            environment_files: vec!["more.yaml".into()],
            files: files(&[("more.yaml", more)]),
            ..StackRequest::default()
        },
    )
    .await
    .expect("update accepted");
    let shown = finished(&svc, &id).await;
    assert_eq!(
        status(&shown),
        "UPDATE_COMPLETE: Stack UPDATE completed successfully"
    );
    let joined = svc.show_output(&cx(), &id, "joined").await.expect("output");
    assert_eq!(
        joined["output_value"],
        json!(format!("{SECRET}:visible-more"))
    );
    let environment = svc.get_environment(&cx(), &id).await.expect("environment");
    assert_eq!(
        environment["parameters"],
        json!({"secret": "******", "plain": "visible-more"})
    );
    assert_eq!(
        object(svc.get_files(&cx(), &id).await.expect("files")),
        files(&[("note.txt", "kept")])
    );
    assert!(!stored_anywhere(dir.path(), SECRET));
}
