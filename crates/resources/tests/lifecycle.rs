//! Every lifecycle path with OS::Heat::TestResource, checked against Heat's outcomes and
//! reason strings.

mod common;

use common::*;
use ember_engine::{EngineConfig, EngineError, StackAction, StackRequest};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const PARALLEL: &str = r#"
heat_template_version: 2018-08-31
resources:
  a: {type: OS::Heat::TestResource, properties: {wait_secs: 1, value: A}}
  b: {type: OS::Heat::TestResource, properties: {wait_secs: 1, value: B}}
  c: {type: OS::Heat::TestResource, properties: {wait_secs: 1, value: C}}
  d: {type: OS::Heat::TestResource, properties: {wait_secs: 1, value: D}}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn independent_resources_are_created_in_parallel() {
    let svc = service();
    let started = Instant::now();
    let stack = create(&svc, request("par", PARALLEL)).await;
    let elapsed = started.elapsed();
    assert_eq!(status(&stack), "CREATE_COMPLETE");
    assert_eq!(reason(&stack), "Stack CREATE completed successfully");
    assert!(
        elapsed < Duration::from_millis(1900),
        "4 waits of 1 s took {elapsed:?}"
    );
    let rs = resources(&svc, stack["id"].as_str().unwrap()).await;
    assert_eq!(rs.len(), 4);
    assert!(rs
        .values()
        .all(|r| r["resource_status"] == "CREATE_COMPLETE"));
    assert!(rs["a"]["physical_resource_id"]
        .as_str()
        .unwrap()
        .starts_with("par-a-"));
}

const CHAIN: &str = r#"
heat_template_version: 2018-08-31
resources:
  first: {type: OS::Heat::TestResource, properties: {value: one}}
  second:
    type: OS::Heat::TestResource
    properties: {value: {get_attr: [first, output]}}
  third:
    type: OS::Heat::TestResource
    depends_on: second
    properties: {value: {get_resource: second}}
outputs:
  copied: {value: {get_attr: [second, output]}}
  ref: {value: {get_resource: third}}
  broken: {value: {get_attr: [first, output, missing, 3]}, description: bad path}
"#;

#[tokio::test]
async fn dependents_wait_for_their_dependencies_and_see_their_values() {
    let svc = service();
    let stack = create(&svc, request("chain", CHAIN)).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE");
    let id = stack["id"].as_str().unwrap().to_string();
    let evs = events(&svc, &id).await;
    let at = |name: &str, st: &str| {
        evs.iter()
            .position(|(n, s, _)| n == name && s == st)
            .unwrap()
    };
    assert!(at("first", "CREATE_COMPLETE") < at("second", "CREATE_IN_PROGRESS"));
    assert!(at("second", "CREATE_COMPLETE") < at("third", "CREATE_IN_PROGRESS"));
    assert_eq!(
        evs[0],
        (
            "chain".into(),
            "CREATE_IN_PROGRESS".into(),
            "Stack CREATE started".into()
        )
    );
    assert_eq!(evs.last().unwrap().2, "Stack CREATE completed successfully");
    assert_eq!(output(&svc, &id, "copied").await["output_value"], "one");
    let rs = resources(&svc, &id).await;
    assert_eq!(
        output(&svc, &id, "ref").await["output_value"],
        rs["third"]["physical_resource_id"]
    );
    assert_eq!(rs["first"]["required_by"], json!(["second"]));
    // Deletion goes in reverse order.
    svc.delete_stack(&cx(), &id).await.unwrap();
    let gone = wait(&svc, &id).await;
    assert_eq!(status(&gone), "DELETE_COMPLETE");
    let evs = events(&svc, &id).await;
    let at = |name: &str, st: &str| {
        evs.iter()
            .rposition(|(n, s, _)| n == name && s == st)
            .unwrap()
    };
    assert!(at("third", "DELETE_COMPLETE") < at("second", "DELETE_IN_PROGRESS"));
    assert!(at("second", "DELETE_COMPLETE") < at("first", "DELETE_IN_PROGRESS"));
    assert!(matches!(
        svc.show_stack(&cx(), "chain", true).await,
        Err(EngineError::StackNotFound(_))
    ));
}

const FAILING: &str = r#"
heat_template_version: 2018-08-31
resources:
  ok: {type: OS::Heat::TestResource}
  slow: {type: OS::Heat::TestResource, properties: {wait_secs: 1}}
  bad: {type: OS::Heat::TestResource, properties: {fail: true}}
  after:
    type: OS::Heat::TestResource
    depends_on: bad
"#;

#[tokio::test]
async fn a_failure_stops_new_work_and_lets_running_work_finish() {
    let svc = service();
    let stack = create(&svc, request("fails", FAILING)).await;
    assert_eq!(status(&stack), "CREATE_FAILED");
    assert_eq!(
        reason(&stack),
        "Resource CREATE failed: ValueError: resources.bad: Test Resource failed bad"
    );
    let rs = resources(&svc, stack["id"].as_str().unwrap()).await;
    assert_eq!(rs["bad"]["resource_status"], "CREATE_FAILED");
    assert_eq!(
        rs["slow"]["resource_status"], "CREATE_COMPLETE",
        "running work finishes"
    );
    assert!(
        !rs.contains_key("after"),
        "nothing new starts after a failure"
    );
}

#[tokio::test]
async fn a_failed_create_rolls_back_when_rollback_is_enabled() {
    let svc = service();
    let req = StackRequest {
        disable_rollback: Some(false),
        ..request("rollsback", FAILING)
    };
    let stack = create(&svc, req).await;
    assert_eq!(status(&stack), "ROLLBACK_COMPLETE");
    assert_eq!(reason(&stack), "Stack ROLLBACK completed successfully");
    let id = stack["id"].as_str().unwrap();
    assert!(resources(&svc, id).await.is_empty());
    let evs = events(&svc, id).await;
    assert!(evs.iter().any(|(n, s, r)| n == "rollsback"
        && s == "CREATE_FAILED"
        && r.starts_with("Resource CREATE failed: ValueError")));
    assert!(evs
        .iter()
        .any(|(n, s, _)| n == "ok" && s == "DELETE_COMPLETE"));
}

fn single(props: Value) -> String {
    format!(
        "heat_template_version: 2018-08-31\nresources:\n  r:\n    type: OS::Heat::TestResource\n    properties: {props}\n  dep:\n    type: OS::Heat::TestResource\n    properties: {{value: {{get_resource: r}}}}\noutputs:\n  out: {{value: {{get_attr: [r, output]}}}}\n"
    )
}

async fn update(svc: &ember_engine::Service, id: &str, req: StackRequest) -> Value {
    svc.update_stack(&cx(), id, req)
        .await
        .expect("update accepted");
    wait(svc, id).await
}

#[tokio::test]
async fn update_in_place_keeps_the_physical_resource_and_replace_makes_a_new_one() {
    let svc = service();
    let stack = create(&svc, request("upd", &single(json!({"value": "v1"})))).await;
    let id = stack["id"].as_str().unwrap().to_string();
    let before = resources(&svc, &id).await;

    let stack = update(&svc, &id, request("upd", &single(json!({"value": "v2"})))).await;
    assert_eq!(status(&stack), "UPDATE_COMPLETE");
    assert_eq!(reason(&stack), "Stack UPDATE completed successfully");
    let after = resources(&svc, &id).await;
    assert_eq!(
        after["r"]["physical_resource_id"],
        before["r"]["physical_resource_id"]
    );
    assert_eq!(after["r"]["resource_status"], "UPDATE_COMPLETE");
    assert_eq!(output(&svc, &id, "out").await["output_value"], "v2");
    assert_eq!(
        after["dep"]["resource_status"], "CREATE_COMPLETE",
        "dependent unchanged"
    );

    let stack = update(
        &svc,
        &id,
        request(
            "upd",
            &single(json!({"value": "v3", "update_replace": true})),
        ),
    )
    .await;
    assert_eq!(status(&stack), "UPDATE_COMPLETE");
    let replaced = resources(&svc, &id).await;
    assert_ne!(
        replaced["r"]["physical_resource_id"],
        before["r"]["physical_resource_id"]
    );
    assert_eq!(replaced["r"]["resource_status"], "CREATE_COMPLETE");
    assert_eq!(output(&svc, &id, "out").await["output_value"], "v3");
    // The dependent was repointed: its value is the new reference id, updated in place.
    assert_eq!(replaced["dep"]["resource_status"], "UPDATE_COMPLETE");
    assert_eq!(replaced.len(), 2, "the old resource was cleaned up");
}

#[tokio::test]
async fn identical_update_is_a_no_op_that_still_completes() {
    let svc = service();
    let tpl = single(json!({"value": "same"}));
    let stack = create(&svc, request("same", &tpl)).await;
    let id = stack["id"].as_str().unwrap().to_string();
    let n = events(&svc, &id).await.len();
    let stack = update(&svc, &id, request("same", &tpl)).await;
    assert_eq!(status(&stack), "UPDATE_COMPLETE");
    let evs = events(&svc, &id).await;
    assert_eq!(evs.len(), n + 2, "only the stack's UPDATE events: {evs:?}");
}

#[tokio::test]
async fn a_failed_update_rolls_back_to_the_previous_definition() {
    let svc = service();
    let req = StackRequest {
        disable_rollback: Some(false),
        ..request("urb", &single(json!({"value": "good"})))
    };
    let stack = create(&svc, req).await;
    let id = stack["id"].as_str().unwrap().to_string();
    let req = StackRequest {
        disable_rollback: Some(false),
        ..request("urb", &single(json!({"value": "bad", "fail": true})))
    };
    let stack = update(&svc, &id, req).await;
    assert_eq!(status(&stack), "ROLLBACK_COMPLETE");
    let evs = events(&svc, &id).await;
    assert!(evs.iter().any(|(n, s, r)| n == "urb"
        && s == "UPDATE_FAILED"
        && r == "Resource UPDATE failed: ValueError: resources.r: Test Resource failed r"));
    assert_eq!(output(&svc, &id, "out").await["output_value"], "good");
    let tpl = svc.get_template(&cx(), &id).await.unwrap();
    assert_eq!(
        tpl["resources"]["r"]["properties"]["value"], "good",
        "the previous template is current again"
    );
}

#[tokio::test]
async fn a_replacement_rolled_back_brings_back_the_original_resource() {
    let svc = service();
    let req = StackRequest {
        disable_rollback: Some(false),
        ..request("rrb", &single(json!({"value": "orig"})))
    };
    let stack = create(&svc, req).await;
    let id = stack["id"].as_str().unwrap().to_string();
    let original = resources(&svc, &id).await["r"]["physical_resource_id"].clone();
    // `r` is replaced, then `dep` (updated with r's new id) fails: rollback swaps r back.
    let failing = "heat_template_version: 2018-08-31\nresources:\n  r:\n    type: OS::Heat::TestResource\n    properties: {value: new, update_replace: true}\n  dep:\n    type: OS::Heat::TestResource\n    properties: {value: {get_resource: r}, fail: true}\noutputs:\n  out: {value: {get_attr: [r, output]}}\n";
    let req = StackRequest {
        disable_rollback: Some(false),
        ..request("rrb", failing)
    };
    let stack = update(&svc, &id, req).await;
    assert_eq!(status(&stack), "ROLLBACK_COMPLETE");
    let rs = resources(&svc, &id).await;
    assert_eq!(rs["r"]["physical_resource_id"], original);
    assert_eq!(output(&svc, &id, "out").await["output_value"], "orig");
}

#[tokio::test]
async fn cancel_update_with_and_without_rollback() {
    for (action, expected) in [
        (StackAction::CancelUpdate, "ROLLBACK_COMPLETE"),
        (StackAction::CancelWithoutRollback, "UPDATE_FAILED"),
    ] {
        let svc = service();
        let stack = create(&svc, request("cancel", &single(json!({"value": "a"})))).await;
        let id = stack["id"].as_str().unwrap().to_string();
        let slow = single(json!({"value": "b", "action_wait_secs": {"update": 30}}));
        svc.update_stack(&cx(), &id, request("cancel", &slow))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        svc.stack_action(&cx(), &id, action).await.unwrap();
        let stack = wait(&svc, &id).await;
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(status(&stack), expected);
        let evs = events(&svc, &id).await;
        assert!(evs.iter().any(|(n, s, r)| n == "cancel"
            && s == "UPDATE_FAILED"
            && r == "Stack UPDATE cancelled"));
    }
    let svc = service();
    let stack = create(&svc, request("idle", &single(json!({})))).await;
    let err = svc
        .stack_action(
            &cx(),
            stack["id"].as_str().unwrap(),
            StackAction::CancelUpdate,
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Cancelling update when stack is CREATE_COMPLETE is not supported."
    );
    assert_eq!(err.heat_type(), "NotSupported");
}

#[tokio::test]
async fn an_action_that_outlives_its_timeout_fails_with_a_clear_reason() {
    let svc = service_on(
        std::sync::Arc::new(ember_engine::store::MemoryStore::new()),
        EngineConfig {
            default_timeout: Duration::from_millis(500),
            ..config()
        },
    );
    let stack = create(&svc, request("slow", &single(json!({"wait_secs": 30})))).await;
    assert_eq!(status(&stack), "CREATE_FAILED");
    assert_eq!(reason(&stack), "Timed out");
    let rs = resources(&svc, stack["id"].as_str().unwrap()).await;
    assert_eq!(rs["r"]["resource_status"], "CREATE_FAILED");
    assert_eq!(
        rs["r"]["resource_status_reason"],
        "Error: resources.r: CREATE aborted"
    );
}

#[tokio::test]
async fn retained_resources_are_not_deleted() {
    let tpl = |policy: &str| {
        format!(
            "heat_template_version: 2018-08-31\nresources:\n  r:\n    type: OS::Heat::TestResource\n    deletion_policy: {policy}\n    properties: {{action_wait_secs: {{delete: 1}}}}\n"
        )
    };
    for (policy, slow) in [("Retain", false), ("Delete", true)] {
        let svc = service();
        let stack = create(&svc, request("ret", &tpl(policy))).await;
        let id = stack["id"].as_str().unwrap().to_string();
        let started = Instant::now();
        svc.delete_stack(&cx(), &id).await.unwrap();
        let stack = wait(&svc, &id).await;
        assert_eq!(status(&stack), "DELETE_COMPLETE");
        // Only a real delete runs the resource's delete handler (and its 1 s wait).
        assert_eq!(
            started.elapsed() >= Duration::from_secs(1),
            slow,
            "{policy}"
        );
    }
}

#[tokio::test]
async fn suspend_resume_and_check() {
    let svc = service();
    let stack = create(&svc, request("srv", CHAIN)).await;
    let id = stack["id"].as_str().unwrap().to_string();
    for (action, expected) in [
        (StackAction::Suspend, "SUSPEND_COMPLETE"),
        (StackAction::Resume, "RESUME_COMPLETE"),
        (StackAction::Check, "CHECK_COMPLETE"),
    ] {
        svc.stack_action(&cx(), &id, action).await.unwrap();
        let stack = wait(&svc, &id).await;
        assert_eq!(status(&stack), expected);
        let rs = resources(&svc, &id).await;
        assert!(
            rs.values().all(|r| r["resource_status"] == expected),
            "{rs:?}"
        );
    }
    let evs = events(&svc, &id).await;
    let at = |name: &str, st: &str| {
        evs.iter()
            .position(|(n, s, _)| n == name && s == st)
            .unwrap()
    };
    // Suspend goes dependents first, resume dependencies first.
    assert!(at("third", "SUSPEND_COMPLETE") < at("first", "SUSPEND_IN_PROGRESS"));
    assert!(at("first", "RESUME_COMPLETE") < at("third", "RESUME_IN_PROGRESS"));
    svc.mark_unhealthy(&cx(), &id, "first", true, Some("broken".into()))
        .await
        .unwrap();
    let rs = resources(&svc, &id).await;
    assert_eq!(rs["first"]["resource_status"], "CHECK_FAILED");
    assert_eq!(rs["first"]["resource_status_reason"], "broken");
}

#[tokio::test]
async fn one_action_at_a_time() {
    let svc = service();
    let created = svc
        .create_stack(&cx(), request("busy", &single(json!({"wait_secs": 1}))))
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    let err = svc
        .update_stack(&cx(), &id, request("busy", &single(json!({}))))
        .await
        .unwrap_err();
    assert_eq!(err.heat_type(), "ActionInProgress");
    assert_eq!(
        err.to_string(),
        "Stack busy already has an action (CREATE) in progress."
    );
    let err = svc
        .create_stack(&cx(), request("busy", &single(json!({}))))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "The Stack (busy) already exists.");
    assert_eq!(status(&wait(&svc, &id).await), "CREATE_COMPLETE");
}

#[tokio::test]
async fn abandon_then_adopt_keeps_the_physical_resources() {
    let svc = service();
    let stack = create(&svc, request("ab", CHAIN)).await;
    let id = stack["id"].as_str().unwrap().to_string();
    let before = resources(&svc, &id).await;
    let data = svc.abandon_stack(&cx(), &id).await.unwrap();
    assert_eq!(data["name"], "ab");
    assert_eq!(
        data["resources"]["first"]["resource_id"],
        before["first"]["physical_resource_id"]
    );
    assert_eq!(data["resources"]["first"]["resource_data"]["value"], "one");
    wait(&svc, &id).await;
    let evs = events(&svc, &id).await;
    assert!(
        !evs.iter()
            .any(|(n, s, _)| n == "first" && s.starts_with("DELETE")),
        "abandon deletes nothing"
    );

    let req = StackRequest {
        stack_name: Some("adopted".into()),
        adopt_stack_data: Some(data.clone()),
        template: Some(data["template"].clone()),
        ..StackRequest::default()
    };
    let stack = create(&svc, req).await;
    assert_eq!(status(&stack), "ADOPT_COMPLETE");
    let nid = stack["id"].as_str().unwrap().to_string();
    let after = resources(&svc, &nid).await;
    for name in ["first", "second", "third"] {
        assert_eq!(
            after[name]["physical_resource_id"],
            before[name]["physical_resource_id"]
        );
    }
    assert_eq!(output(&svc, &nid, "copied").await["output_value"], "one");
}

#[tokio::test]
async fn snapshot_then_restore_brings_back_data() {
    let svc = service();
    let rs_tpl = "heat_template_version: 2018-08-31\nresources:\n  pw: {type: OS::Heat::RandomString, properties: {length: 12}}\n  t: {type: OS::Heat::TestResource, properties: {value: {get_resource: pw}}}\noutputs:\n  pw: {value: {get_attr: [pw, value]}}\n";
    let stack = create(&svc, request("snap", rs_tpl)).await;
    let id = stack["id"].as_str().unwrap().to_string();
    let original = output(&svc, &id, "pw").await["output_value"].clone();
    assert_eq!(original.as_str().unwrap().len(), 12);
    let snap = svc
        .create_snapshot(&cx(), &id, Some("s1".into()))
        .await
        .unwrap();
    assert_eq!(snap["status"], "COMPLETE");
    assert_eq!(
        snap["data"]["resources"]["pw"]["resource_data"]["value"],
        original
    );
    // A salt change replaces the string.
    let salted = rs_tpl.replace("length: 12}", "length: 12, salt: x}");
    let stack = update(&svc, &id, request("snap", &salted)).await;
    assert_eq!(status(&stack), "UPDATE_COMPLETE");
    assert_ne!(output(&svc, &id, "pw").await["output_value"], original);
    svc.restore_snapshot(&cx(), &id, snap["id"].as_str().unwrap())
        .await
        .unwrap();
    let stack = wait(&svc, &id).await;
    assert_eq!(status(&stack), "RESTORE_COMPLETE");
    let listed = svc.list_snapshots(&cx(), &id).await.unwrap();
    assert_eq!(listed.len(), 1);
    // The restored definition has no salt, so the string is regenerated from the original
    // definition; the stack is back on the snapshot's template.
    let tpl = svc.get_template(&cx(), &id).await.unwrap();
    assert_eq!(tpl["resources"]["pw"]["properties"], json!({"length": 12}));
}

#[tokio::test]
async fn outputs_report_errors_per_output() {
    let svc = service();
    let stack = create(&svc, request("outs", CHAIN)).await;
    let outputs = stack["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 3);
    let copied = outputs
        .iter()
        .find(|o| o["output_key"] == "copied")
        .unwrap();
    assert_eq!(copied["output_value"], "one");
    let err = svc.show_output(&cx(), "outs", "nope").await.unwrap_err();
    assert_eq!(err.to_string(), "Specified output key nope not found.");
}

#[tokio::test]
async fn invalid_properties_are_refused_before_anything_is_stored() {
    let svc = service();
    let bad = "heat_template_version: 2018-08-31\nresources:\n  pw: {type: OS::Heat::RandomString, properties: {length: 600}}\n";
    let err = svc
        .create_stack(&cx(), request("invalid", bad))
        .await
        .unwrap_err();
    assert_eq!(err.heat_type(), "StackValidationFailed");
    assert_eq!(
        err.to_string(),
        "Property error: resources.pw.properties.length: 600 is out of range (min: 1, max: 512)"
    );
    assert!(svc
        .list_stacks(
            &cx(),
            ember_engine::service::StackQuery {
                show_deleted: true,
                ..Default::default()
            }
        )
        .await
        .unwrap()
        .0
        .is_empty());
    let unknown = "heat_template_version: 2018-08-31\nresources:\n  x: {type: OS::Heat::TestResource, properties: {nope: 1}}\n";
    let err = svc
        .create_stack(&cx(), request("invalid", unknown))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Property error: resources.x.properties: Unknown Property nope"
    );
}

#[tokio::test]
async fn preview_update_classifies_every_resource() {
    let svc = service();
    let tpl = "heat_template_version: 2018-08-31\nresources:\n  same: {type: OS::Heat::TestResource, properties: {value: s}}\n  upd: {type: OS::Heat::TestResource, properties: {value: u}}\n  rep: {type: OS::Heat::TestResource, properties: {update_replace_value: a}}\n  gone: {type: OS::Heat::None}\n";
    let stack = create(&svc, request("pv", tpl)).await;
    let id = stack["id"].as_str().unwrap().to_string();
    let new = "heat_template_version: 2018-08-31\nresources:\n  same: {type: OS::Heat::TestResource, properties: {value: s}}\n  upd: {type: OS::Heat::TestResource, properties: {value: u2}}\n  rep: {type: OS::Heat::TestResource, properties: {update_replace_value: b}}\n  added: {type: OS::Heat::None}\n";
    let preview = svc
        .preview_update(&cx(), &id, request("pv", new))
        .await
        .unwrap();
    let names = |k: &str| -> Vec<String> {
        preview["resource_changes"][k]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["resource_name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names("unchanged"), vec!["same"]);
    assert_eq!(names("updated"), vec!["upd"]);
    assert_eq!(names("replaced"), vec!["rep"]);
    assert_eq!(names("added"), vec!["added"]);
    assert_eq!(names("deleted"), vec!["gone"]);
    // Nothing changed.
    assert_eq!(
        status(&svc.show_stack(&cx(), &id, false).await.unwrap()),
        "CREATE_COMPLETE"
    );
}

#[tokio::test]
async fn patch_update_keeps_parameters_and_clears_named_ones() {
    let svc = service();
    let tpl = "heat_template_version: 2018-08-31\nparameters:\n  v: {type: string, default: dflt}\n  w: {type: string, default: w0}\nresources:\n  r: {type: OS::Heat::TestResource, properties: {value: {list_join: ['-', [{get_param: v}, {get_param: w}]]}}}\noutputs:\n  out: {value: {get_attr: [r, output]}}\n";
    let req = StackRequest {
        parameters: params(json!({"v": "given", "w": "w1"})),
        ..request("patch", tpl)
    };
    let stack = create(&svc, req).await;
    let id = stack["id"].as_str().unwrap().to_string();
    assert_eq!(output(&svc, &id, "out").await["output_value"], "given-w1");
    let patch = StackRequest {
        existing: true,
        parameters: params(json!({"w": "w2"})),
        ..StackRequest::default()
    };
    assert_eq!(status(&update(&svc, &id, patch).await), "UPDATE_COMPLETE");
    assert_eq!(output(&svc, &id, "out").await["output_value"], "given-w2");
    let clear = StackRequest {
        existing: true,
        clear_parameters: vec!["v".into()],
        ..StackRequest::default()
    };
    assert_eq!(status(&update(&svc, &id, clear).await), "UPDATE_COMPLETE");
    assert_eq!(output(&svc, &id, "out").await["output_value"], "dflt-w2");
}

#[tokio::test]
async fn value_random_string_none_and_delay_behave_as_in_heat() {
    let svc = service();
    let tpl = r#"
heat_template_version: 2018-08-31
resource_registry: {}
resources:
  num: {type: OS::Heat::Value, properties: {value: "42", type: number}}
  pw:
    type: OS::Heat::RandomString
    properties:
      length: 8
      character_classes: [{class: digits, min: 8}]
  stub: {type: OS::Heat::None, properties: {anything: [1, 2]}}
  pause: {type: OS::Heat::Delay, properties: {min_wait: 0.3}}
outputs:
  num: {value: {get_attr: [num, value]}}
  ref: {value: {get_resource: pw}}
  val: {value: {get_attr: [pw, value]}}
  stub: {value: {get_attr: [stub, whatever]}}
"#;
    let tpl = tpl.replace("resource_registry: {}\n", "");
    let started = Instant::now();
    let stack = create(&svc, request("kinds", &tpl)).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{stack}");
    let id = stack["id"].as_str().unwrap().to_string();
    assert_eq!(output(&svc, &id, "num").await["output_value"], json!(42));
    let r = output(&svc, &id, "ref").await["output_value"].clone();
    assert_eq!(r, output(&svc, &id, "val").await["output_value"]);
    assert!(
        r.as_str().unwrap().chars().all(|c| c.is_ascii_digit()) && r.as_str().unwrap().len() == 8
    );
    assert_eq!(output(&svc, &id, "stub").await["output_value"], Value::Null);
    // None never updates, whatever its properties.
    let changed = tpl.replace("anything: [1, 2]", "anything: [3]");
    update(&svc, &id, request("kinds", &changed)).await;
    assert_eq!(
        resources(&svc, &id).await["stub"]["resource_status"],
        "CREATE_COMPLETE"
    );
}

#[tokio::test]
async fn environment_registry_maps_types_to_none() {
    let svc = service();
    let tpl = "heat_template_version: 2018-08-31\nresources:\n  server: {type: OS::Nova::Server, properties: {flavor: m1.tiny}}\n";
    let req = StackRequest {
        environment: Some(json!({"resource_registry": {"OS::Nova::*": "OS::Heat::None"}})),
        ..request("stubbed", tpl)
    };
    let stack = create(&svc, req).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{stack}");
    let rs = resources(&svc, stack["id"].as_str().unwrap()).await;
    assert_eq!(rs["server"]["resource_type"], "OS::Nova::Server");
}

#[tokio::test]
async fn environment_files_merge_parameters_by_their_strategies() {
    let svc = service();
    let tpl = "heat_template_version: 2018-08-31\nparameters:\n  names: {type: comma_delimited_list}\n  greeting: {type: string}\n  size: {type: string}\nresources:\n  r: {type: OS::Heat::TestResource, properties: {value: {list_join: ['|', [{list_join: [',', {get_param: names}]}, {get_param: greeting}, {get_param: size}]]}}}\noutputs:\n  out: {value: {get_attr: [r, output]}}\n";
    // Every file naming a parameter must agree on its strategy (Heat refuses a conflict);
    // `size` has none, so the default (overwrite) applies to it.
    let strategies = "parameter_merge_strategies:\n  names: merge\n  greeting: merge\n";
    let first = format!("{strategies}parameters:\n  names: a,b\n  greeting: hello\n  size: 1\n");
    let second = format!("{strategies}parameters:\n  names: c\n  greeting: ' world'\n  size: 5\n");
    let req = StackRequest {
        files: json!({"first.yaml": first, "second.yaml": second})
            .as_object()
            .cloned()
            .unwrap(),
        environment_files: vec!["first.yaml".into(), "second.yaml".into()],
        // The files are merged over the request's parameters, as Heat does.
        parameters: params(json!({"size": 9})),
        ..request("merged", tpl)
    };
    let stack = create(&svc, req).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{stack}");
    let id = stack["id"].as_str().unwrap().to_string();
    assert_eq!(
        output(&svc, &id, "out").await["output_value"],
        "a,b,c|hello world|5"
    );
    // A boolean cannot be merged: Heat refuses the request.
    let bad_tpl =
        "heat_template_version: 2018-08-31\nparameters:\n  flag: {type: boolean}\nresources: {}\n";
    let flag = "parameter_merge_strategies: {flag: merge}\nparameters: {flag: 'true'}\n";
    let req = StackRequest {
        files: json!({"a.yaml": flag, "b.yaml": flag})
            .as_object()
            .cloned()
            .unwrap(),
        environment_files: vec!["a.yaml".into(), "b.yaml".into()],
        ..request("flagged", bad_tpl)
    };
    let err = svc.create_stack(&cx(), req).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("Invalid merge strategy 'merge' for parameter 'flag'."),
        "{err}"
    );
}

#[tokio::test]
async fn in_progress_events_show_the_physical_name_until_the_resource_has_an_id() {
    let svc = service();
    let tpl = "heat_template_version: 2018-08-31\nresources:\n  thing: {type: OS::Heat::None}\n";
    let stack = create(&svc, request("named", tpl)).await;
    let id = stack["id"].as_str().unwrap().to_string();
    let q = ember_engine::EventQuery {
        ascending: true,
        ..Default::default()
    };
    let evs = svc.list_events(&cx(), &id, &q).await.unwrap();
    let of = |status: &str| {
        evs.iter()
            .find(|e| e["resource_name"] == "thing" && e["resource_status"] == status)
            .map(|e| e["physical_resource_id"].as_str().unwrap().to_string())
            .unwrap()
    };
    // Heat: `<stack>-<resource>-<12-character short id>` while no physical id is stored.
    let name = of("CREATE_IN_PROGRESS");
    let short = name.strip_prefix("named-thing-").expect(&name);
    assert_eq!(short.len(), 12, "{name}");
    assert!(short
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    let physical = resources(&svc, &id).await["thing"]["physical_resource_id"].clone();
    assert_eq!(of("CREATE_COMPLETE"), physical.as_str().unwrap());
    assert_ne!(physical.as_str().unwrap(), name);
}

#[tokio::test]
async fn a_cancel_requested_through_another_engine_stops_the_update() {
    let store: std::sync::Arc<dyn ember_engine::store::StateStore> =
        std::sync::Arc::new(ember_engine::store::MemoryStore::new());
    let running = service_on(store.clone(), config());
    let other = service_on(store, config());
    let stack = create(&running, request("remote", &single(json!({"value": "a"})))).await;
    let id = stack["id"].as_str().unwrap().to_string();
    let slow = single(json!({"value": "b", "action_wait_secs": {"update": 30}}));
    running
        .update_stack(&cx(), &id, request("remote", &slow))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    other
        .stack_action(&cx(), &id, StackAction::CancelWithoutRollback)
        .await
        .unwrap();
    let stack = wait(&running, &id).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(status(&stack), "UPDATE_FAILED");
    assert_eq!(reason(&stack), "Stack UPDATE cancelled");
}

#[tokio::test]
async fn external_resources_are_adopted_and_checked_not_created() {
    let svc = service();
    let tpl = |ext: &str| {
        format!(
            "heat_template_version: 2016-10-14\nresources:\n  ext:\n    type: OS::Heat::TestResource\n    external_id: {ext}\n"
        )
    };
    let stack = create(&svc, request("outer", &tpl("existing-1"))).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{stack}");
    let id = stack["id"].as_str().unwrap().to_string();
    let rs = resources(&svc, &id).await;
    assert_eq!(rs["ext"]["physical_resource_id"], "existing-1");
    assert_eq!(rs["ext"]["resource_status"], "CHECK_COMPLETE");
    let evs = events(&svc, &id).await;
    assert!(!evs
        .iter()
        .any(|(n, s, _)| n == "ext" && s.starts_with("CREATE")));
    let stack = update(&svc, &id, request("outer", &tpl("existing-2"))).await;
    assert_eq!(status(&stack), "UPDATE_FAILED");
    assert_eq!(
        reason(&stack),
        "Resource UPDATE failed: NotSupported: resources.ext: Update to property external_id of ext (OS::Heat::TestResource) is not supported."
    );
}
