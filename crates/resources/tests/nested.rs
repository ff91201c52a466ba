//! Nested stacks: provider templates and OS::Heat::Stack as real child stacks, with Heat's
//! outcomes (heat-tempest-plugin functional/test_template_resource.py, test_nested_get_attr).

mod common;

use common::*;
use ember_engine::StackRequest;
use serde_json::{json, Value};

const PROVIDER: &str = r#"
heat_template_version: 2016-10-14
parameters:
  value: {type: string, default: dflt}
  length: {type: number, default: 8}
resources:
  secret: {type: OS::Heat::RandomString, properties: {length: {get_param: length}}}
  echo: {type: OS::Heat::TestResource, properties: {value: {get_param: value}}}
outputs:
  echoed: {value: {get_attr: [echo, output]}}
  secret: {value: {get_attr: [secret, value]}}
  parent: {value: {get_param: "OS::stack_name"}}
"#;

fn with_files(name: &str, template: &str, files: &[(&str, &str)]) -> StackRequest {
    let mut req = request(name, template);
    for (k, v) in files {
        req.files.insert((*k).to_string(), json!(v));
    }
    req
}

async fn stack_of_child(svc: &ember_engine::Service, parent: &str, resource: &str) -> Value {
    let rs = resources(svc, parent).await;
    let child = rs[resource]["physical_resource_id"]
        .as_str()
        .unwrap()
        .to_string();
    svc.show_stack(&cx(), &child, true)
        .await
        .expect("child stack")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_template_from_files_is_a_child_stack() {
    let svc = service();
    let parent = r#"
heat_template_version: 2016-10-14
resources:
  inner:
    type: provider.yaml
    properties: {value: hello, length: 12}
outputs:
  echoed: {value: {get_attr: [inner, echoed]}}
  secret_len: {value: {str_split: [",", {get_attr: [inner, secret]}]}}
  child_id: {value: {get_attr: [inner, "OS::stack_id"]}}
  ref: {value: {get_resource: inner}}
"#;
    let stack = create(
        &svc,
        with_files("outer", parent, &[("provider.yaml", PROVIDER)]),
    )
    .await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let id = stack["id"].as_str().unwrap();
    let child = stack_of_child(&svc, id, "inner").await;
    assert_eq!(child["parent"], json!(id));
    assert_eq!(status(&child), "CREATE_COMPLETE");
    assert!(child["stack_name"]
        .as_str()
        .unwrap()
        .starts_with("outer-inner-"));
    let child_id = child["id"].as_str().unwrap();
    // The child's own resources and events.
    let child_rs = resources(&svc, child_id).await;
    assert_eq!(child_rs.len(), 2);
    assert_eq!(
        output(&svc, id, "echoed").await["output_value"],
        json!("hello")
    );
    let secret = output(&svc, id, "secret_len").await["output_value"].clone();
    assert_eq!(secret[0].as_str().unwrap().len(), 12);
    assert_eq!(
        output(&svc, id, "child_id").await["output_value"],
        json!(child_id)
    );
    assert_eq!(
        output(&svc, id, "ref").await["output_value"],
        json!(child_id)
    );
    // The child is named after the parent resource in its pseudo parameters.
    let parent_out = output(&svc, child_id, "parent").await["output_value"].clone();
    assert_eq!(parent_out, child["stack_name"]);
    // Nested stacks are not listed among the project's stacks.
    let listed: Vec<String> = svc
        .list_stacks(&cx(), Default::default())
        .await
        .unwrap()
        .0
        .iter()
        .map(|s| s["stack_name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, vec!["outer".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_mapped_provider_updates_in_place_and_delete_cascades() {
    let svc = service();
    let parent = |value: &str| {
        format!(
            r#"
heat_template_version: 2016-10-14
resources:
  inner: {{type: My::Echo, properties: {{value: {value}}}}}
outputs:
  echoed: {{value: {{get_attr: [inner, echoed]}}}}
"#
        )
    };
    let mut req = with_files("mapped", &parent("one"), &[("provider.yaml", PROVIDER)]);
    req.environment = Some(json!({"resource_registry": {"My::Echo": "provider.yaml"}}));
    let stack = create(&svc, req.clone()).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let id = stack["id"].as_str().unwrap().to_string();
    let rs = resources(&svc, &id).await;
    assert_eq!(rs["inner"]["resource_type"], json!("My::Echo"));
    let child_id = rs["inner"]["physical_resource_id"]
        .as_str()
        .unwrap()
        .to_string();
    let secret_before = output(&svc, &child_id, "secret").await["output_value"].clone();

    let mut update = req.clone();
    update.stack_name = None;
    update.template = Some(json!(parent("two")));
    svc.update_stack(&cx(), &id, update)
        .await
        .expect("update accepted");
    let stack = wait(&svc, &id).await;
    assert_eq!(status(&stack), "UPDATE_COMPLETE", "{}", reason(&stack));
    assert_eq!(
        output(&svc, &id, "echoed").await["output_value"],
        json!("two")
    );
    // Same child, updated in place: the untouched RandomString keeps its value.
    let rs = resources(&svc, &id).await;
    assert_eq!(rs["inner"]["physical_resource_id"], json!(child_id));
    let child = svc.show_stack(&cx(), &child_id, false).await.unwrap();
    assert_eq!(status(&child), "UPDATE_COMPLETE");
    assert_eq!(
        output(&svc, &child_id, "secret").await["output_value"],
        secret_before
    );

    svc.delete_stack(&cx(), &id).await.expect("delete accepted");
    let stack = wait(&svc, &id).await;
    assert_eq!(status(&stack), "DELETE_COMPLETE", "{}", reason(&stack));
    let child = svc.show_stack(&cx(), &child_id, false).await.unwrap();
    assert_eq!(
        status(&child),
        "DELETE_COMPLETE",
        "the child is deleted with its parent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn os_heat_stack_inline_template_outputs() {
    let svc = service();
    let parent = r#"
heat_template_version: 2016-10-14
resources:
  inner:
    type: OS::Heat::Stack
    properties:
      parameters: {word: hi}
      template: |
        heat_template_version: 2016-10-14
        parameters:
          word: {type: string}
        outputs:
          shout: {value: {str_replace: {template: W!, params: {W: {get_param: word}}}}}
outputs:
  all: {value: {get_attr: [inner, outputs]}}
"#;
    let stack = create(&svc, request("inline", parent)).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let id = stack["id"].as_str().unwrap();
    assert_eq!(
        output(&svc, id, "all").await["output_value"],
        json!({"shout": "hi!"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_child_fails_the_parent_resource() {
    let svc = service();
    let failing = r#"
heat_template_version: 2016-10-14
resources:
  bad: {type: OS::Heat::TestResource, properties: {fail: true}}
"#;
    let parent = r#"
heat_template_version: 2016-10-14
resources:
  inner: {type: failing.yaml}
"#;
    let stack = create(
        &svc,
        with_files("fails", parent, &[("failing.yaml", failing)]),
    )
    .await;
    assert_eq!(status(&stack), "CREATE_FAILED");
    assert!(
        reason(&stack).contains("Test Resource failed bad"),
        "{}",
        reason(&stack)
    );
    let child = stack_of_child(&svc, stack["id"].as_str().unwrap(), "inner").await;
    assert_eq!(status(&child), "CREATE_FAILED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recursion_deeper_than_five_is_refused_before_anything_is_stored() {
    let svc = service();
    // A template that nests itself: validation walks the nested templates as Heat's does and
    // refuses the sixth level, for create and preview alike.
    let recursive = r#"
heat_template_version: 2016-10-14
resources:
  again: {type: recursive.yaml}
"#;
    let req = with_files("deep", recursive, &[("recursive.yaml", recursive)]);
    for refused in [
        svc.create_stack(&cx(), req.clone()).await,
        svc.preview_stack(&cx(), req).await,
    ] {
        let err = refused.expect_err("refused");
        assert_eq!(err.heat_type(), "RequestLimitExceeded");
        assert_eq!(
            err.to_string(),
            "Request limit exceeded: Recursion depth exceeds 5."
        );
    }
    assert!(svc.show_stack(&cx(), "deep", false).await.is_err());
}

/// A service whose engine allows `depth` levels of nesting and `resources` resources per tree.
fn limited(depth: usize, resources: i64) -> ember_engine::Service {
    service_on(
        std::sync::Arc::new(ember_engine::store::MemoryStore::new()),
        ember_engine::EngineConfig {
            max_nested_stack_depth: depth,
            max_resources_per_stack: resources,
            ..config()
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nesting_depth_is_configurable_and_checked_again_at_create() {
    let leaf = r#"
heat_template_version: 2016-10-14
resources:
  v: {type: OS::Heat::None}
"#;
    // mid.yaml needs a parameter that is only known once `v` exists, so validation cannot
    // build it: the depth is found when the child is created.
    let mid = r#"
heat_template_version: 2016-10-14
parameters:
  p: {type: string}
resources:
  leaf: {type: leaf.yaml}
"#;
    let parent = r#"
heat_template_version: 2016-10-14
resources:
  v: {type: OS::Heat::Value, properties: {value: x}}
  inner: {type: mid.yaml, properties: {p: {get_attr: [v, value]}}}
"#;
    let files = [("mid.yaml", mid), ("leaf.yaml", leaf)];
    let svc = limited(1, 1000);
    let stack = create(&svc, with_files("cfgdepth", parent, &files)).await;
    assert_eq!(status(&stack), "CREATE_FAILED");
    assert!(
        reason(&stack).contains("Recursion depth exceeds 1."),
        "{}",
        reason(&stack)
    );
    // One level is allowed, and a static second level is refused at validation.
    let one = r#"
heat_template_version: 2016-10-14
resources:
  inner: {type: leaf.yaml}
"#;
    let stack = create(&svc, with_files("onelevel", one, &files)).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let two = r#"
heat_template_version: 2016-10-14
resources:
  inner: {type: two.yaml}
"#;
    let refused = svc
        .create_stack(
            &cx(),
            with_files("twolevels", two, &[("two.yaml", one), ("leaf.yaml", leaf)]),
        )
        .await
        .expect_err("too deep");
    assert_eq!(
        refused.to_string(),
        "Request limit exceeded: Recursion depth exceeds 1."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_resources_count_toward_the_root_limit() {
    let three = r#"
heat_template_version: 2016-10-14
resources:
  a: {type: OS::Heat::None}
  b: {type: OS::Heat::None}
  c: {type: OS::Heat::None}
"#;
    let parent = r#"
heat_template_version: 2016-10-14
resources:
  own: {type: OS::Heat::None}
  inner: {type: three.yaml}
"#;
    // Two resources in the root and three in the child: five in the tree.
    let svc = limited(5, 4);
    let stack = create(
        &svc,
        with_files("toomany", parent, &[("three.yaml", three)]),
    )
    .await;
    assert_eq!(status(&stack), "CREATE_FAILED");
    assert!(
        reason(&stack).contains("Request limit exceeded: Maximum resources per stack exceeded."),
        "{}",
        reason(&stack)
    );
    let svc = limited(5, 5);
    let stack = create(&svc, with_files("fits", parent, &[("three.yaml", three)])).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    // An update of the child does not count its current resources twice.
    let id = stack["id"].as_str().unwrap().to_string();
    let renamed = parent.replace(
        "own: {type: OS::Heat::None}",
        "own: {type: OS::Heat::None, metadata: {k: v}}",
    );
    let req = ember_engine::StackRequest {
        template: Some(serde_json::json!(renamed)),
        files: with_files("x", &renamed, &[("three.yaml", three)]).files,
        ..Default::default()
    };
    svc.update_stack(&cx(), &id, req)
        .await
        .expect("update accepted");
    let updated = wait(&svc, &id).await;
    assert_eq!(status(&updated), "UPDATE_COMPLETE", "{}", reason(&updated));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_provider_parameter_fails_the_resource() {
    let svc = service();
    let parent = r#"
heat_template_version: 2016-10-14
resources:
  inner: {type: provider.yaml, properties: {bogus: 1}}
"#;
    let stack = create(
        &svc,
        with_files("unknownp", parent, &[("provider.yaml", PROVIDER)]),
    )
    .await;
    assert_eq!(status(&stack), "CREATE_FAILED");
    assert!(reason(&stack).contains("bogus"), "{}", reason(&stack));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_descend_to_the_nested_depth_asked() {
    let svc = service();
    let middle = r#"
heat_template_version: 2016-10-14
resources:
  leaf: {type: provider.yaml}
"#;
    let parent = r#"
heat_template_version: 2016-10-14
resources:
  mid: {type: middle.yaml}
  plain: {type: OS::Heat::None}
"#;
    let req = with_files(
        "depths",
        parent,
        &[("middle.yaml", middle), ("provider.yaml", PROVIDER)],
    );
    let stack = create(&svc, req).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let id = stack["id"].as_str().unwrap();
    let names = |rows: &[Value]| -> Vec<(String, String)> {
        rows.iter()
            .map(|r| {
                (
                    r["resource_name"].as_str().unwrap().to_string(),
                    r["parent_resource"].as_str().unwrap_or("-").to_string(),
                )
            })
            .collect()
    };
    let top = svc
        .list_resources_nested(&cx(), id, false, 0)
        .await
        .unwrap();
    assert_eq!(top.len(), 2);
    let one = svc
        .list_resources_nested(&cx(), id, false, 1)
        .await
        .unwrap();
    assert!(
        names(&one).contains(&("leaf".into(), "mid".into())),
        "{:?}",
        names(&one)
    );
    assert_eq!(one.len(), 3);
    let two = svc
        .list_resources_nested(&cx(), id, false, 2)
        .await
        .unwrap();
    assert_eq!(two.len(), 5);
    assert!(names(&two).contains(&("echo".into(), "leaf".into())));

    let q = ember_engine::EventQuery {
        ascending: true,
        ..Default::default()
    };
    let flat = svc.list_events(&cx(), id, &q).await.unwrap();
    let deep = svc.list_events_nested(&cx(), id, &q, 2).await.unwrap();
    // Each nested stack adds its two stack events and two per resource: 2 + 2 for the middle
    // stack (one resource), 2 + 4 for the leaf (two resources).
    assert_eq!(deep.len(), flat.len() + 4 + 6);
    let limited = svc
        .list_events_nested(
            &cx(),
            id,
            &ember_engine::EventQuery {
                limit: Some(3),
                ..q.clone()
            },
            2,
        )
        .await
        .unwrap();
    assert_eq!(limited.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_facade_reads_the_parent_resource_definition() {
    let svc = service();
    let facade = r#"
heat_template_version: 2016-10-14
resources:
  v: {type: OS::Heat::Value, properties: {value: {resource_facade: metadata}, type: json}}
outputs:
  metadata: {value: {get_attr: [v, value]}}
  deletion_policy: {value: {resource_facade: deletion_policy}}
  update_policy: {value: {resource_facade: update_policy}}
"#;
    let parent = r#"
heat_template_version: 2016-10-14
resources:
  inner:
    type: facade.yaml
    metadata: {role: web, weight: 3}
    deletion_policy: Retain
    update_policy: {pause: 2}
  plain: {type: facade.yaml}
outputs:
  metadata: {value: {get_attr: [inner, metadata]}}
  deletion_policy: {value: {get_attr: [inner, deletion_policy]}}
  update_policy: {value: {get_attr: [inner, update_policy]}}
  plain_policy: {value: {get_attr: [plain, deletion_policy]}}
  plain_metadata: {value: {get_attr: [plain, metadata]}}
"#;
    let stack = create(
        &svc,
        with_files("facade", parent, &[("facade.yaml", facade)]),
    )
    .await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let id = stack["id"].as_str().unwrap();
    let out = |key: &'static str| {
        let svc = svc.clone();
        let id = id.to_string();
        async move { output(&svc, &id, key).await["output_value"].clone() }
    };
    assert_eq!(out("metadata").await, json!({"role": "web", "weight": 3}));
    assert_eq!(out("deletion_policy").await, json!("Retain"));
    assert_eq!(out("update_policy").await, json!({"pause": 2}));
    assert_eq!(out("plain_policy").await, json!("Delete"));
    assert_eq!(out("plain_metadata").await, json!({}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_knows_owner_parent_resource_and_depth_of_nested_stacks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("nested.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let key = ember_store::EncryptionKey::from_bytes(&[3u8; 32]).expect("key");
    let store =
        ember_engine::store_adapter::SqlStore::open(&url, &key, std::time::Duration::from_secs(30))
            .await
            .expect("store opens");
    let svc = service_on(std::sync::Arc::new(store), config());
    let outer = r#"
heat_template_version: 2016-10-14
resources:
  mid: {type: mid.yaml}
"#;
    let mid = r#"
heat_template_version: 2016-10-14
resources:
  leaf: {type: OS::Heat::Stack, properties: {template: "heat_template_version: 2016-10-14"}}
"#;
    let stack = create(&svc, with_files("stored", outer, &[("mid.yaml", mid)])).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let root: uuid::Uuid = stack["id"].as_str().unwrap().parse().unwrap();
    let db = ember_store::Store::open(&url, &key)
        .await
        .expect("store reopens");
    let nested = db.nested_stacks(root, 5).await.expect("nested stacks");
    let shape: Vec<(Option<String>, i64, bool)> = nested
        .iter()
        .map(|s| {
            (
                s.parent_resource.clone(),
                s.nested_depth,
                s.owner_id.is_some(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        vec![
            (Some("mid".into()), 1, true),
            (Some("leaf".into()), 2, true)
        ],
        "{nested:?}"
    );
    assert_eq!(nested[0].owner_id, Some(root));
    assert_eq!(nested[1].owner_id, Some(nested[0].id));
    // Stack lists show only the root unless nested stacks are asked for.
    let top = db
        .list_stacks(&ember_store::StackQuery {
            tenant: Some("tenant".into()),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(top.iter().map(|s| s.id).collect::<Vec<_>>(), vec![root]);
}
