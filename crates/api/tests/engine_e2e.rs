//! The router over the real engine (in-memory store, built-in resource types): the asynchronous
//! lifecycle as a client sees it, compared with the shapes recorded from Heat 27.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{json, Value};

use common::{app, sample, send};

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

async fn wait_for(app: &axum::Router, url: &str) -> Value {
    for _ in 0..200 {
        let (status, _, body) = send(app, "GET", url, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if !body["stack"]["stack_status"]
            .as_str()
            .unwrap_or("")
            .ends_with("IN_PROGRESS")
        {
            return body["stack"].clone();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{url} stayed in progress");
}

fn template() -> Value {
    json!({
        "heat_template_version": "2018-08-31",
        "description": "sample",
        "parameters": {"len": {"type": "number", "default": 8},
                       "secret": {"type": "string", "hidden": true, "default": "s3cret"}},
        "resources": {"rs": {"type": "OS::Heat::RandomString", "properties": {"length": {"get_param": "len"}}},
                      "none": {"type": "OS::Heat::None"}},
        "outputs": {"r": {"value": {"get_attr": ["rs", "value"]}, "description": "the string"}}
    })
}

#[tokio::test]
async fn lifecycle_through_the_api() {
    let app = app();
    let (status, headers, body) = send(
        &app,
        "POST",
        "/v1/t1/stacks",
        Some(json!({"stack_name": "sample", "template": template(), "parameters": {"len": 10}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let location = headers["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with("http://heat.test/v1/t1/stacks/sample/"),
        "{location}"
    );
    assert_eq!(keys(&body), keys(&sample("create")["body"]));
    let url = location.trim_start_matches("http://heat.test").to_string();

    let (status, headers, _) = send(&app, "GET", "/v1/t1/stacks/sample", None).await;
    assert_eq!(
        (status, headers["location"].to_str().unwrap()),
        (StatusCode::FOUND, location.as_str())
    );

    let stack = wait_for(&app, &url).await;
    assert_eq!(stack["stack_status"], "CREATE_COMPLETE", "{stack}");
    assert_eq!(stack["links"][0]["href"], location.as_str());
    assert_eq!(stack["parameters"]["secret"], "******");
    let heat_show = &sample("show")["body"]["stack"];
    let missing: Vec<String> = keys(heat_show)
        .into_iter()
        .filter(|k| stack.get(k).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "stack show lacks Heat's keys {missing:?}"
    );

    let (_, _, list) = send(&app, "GET", "/v1/t1/stacks", None).await;
    assert_eq!(list["stacks"][0]["stack_name"], "sample");
    assert!(list["stacks"][0].get("parameters").is_none());
    let (_, _, other) = send(&app, "GET", "/v1/t2/stacks", None).await;
    assert_eq!(other["stacks"], json!([]), "another project sees nothing");
    let (status, _, _) = send(&app, "GET", &url.replace("/t1/", "/t2/"), None).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another project's stack is not found"
    );
    let (status, _, _) = send(&app, "GET", &url.replace("/sample/", "/other/"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the name must match the id");

    let (_, _, output) = send(&app, "GET", &format!("{url}/outputs/r"), None).await;
    assert_eq!(
        output["output"]["output_value"].as_str().map(str::len),
        Some(10)
    );
    let (_, _, resources) = send(&app, "GET", &format!("{url}/resources"), None).await;
    assert_eq!(resources["resources"].as_array().map(Vec::len), Some(2));
    assert!(resources["resources"][0]["links"][0]["href"]
        .as_str()
        .unwrap()
        .starts_with("http://heat.test/v1/t1/"));
    let (_, _, filtered) = send(
        &app,
        "GET",
        &format!("{url}/resources?type=OS::Nova::Server"),
        None,
    )
    .await;
    assert_eq!(filtered["resources"], json!([]));
    let (_, _, events) = send(&app, "GET", &format!("{url}/events"), None).await;
    assert!(!events["events"].as_array().unwrap().is_empty());
    let (status, _, _) = send(&app, "POST", &format!("{url}/resources/none/signal"), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, _, _) = send(
        &app,
        "PATCH",
        &url,
        Some(json!({"parameters": {"len": 12}})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let stack = wait_for(&app, &url).await;
    assert_eq!(stack["stack_status"], "UPDATE_COMPLETE", "{stack}");
    let (_, _, output) = send(&app, "GET", &format!("{url}/outputs/r"), None).await;
    assert_eq!(
        output["output"]["output_value"].as_str().map(str::len),
        Some(12)
    );

    let (status, _, _) = send(
        &app,
        "POST",
        &format!("{url}/actions"),
        Some(json!({"check": null})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(wait_for(&app, &url).await["stack_status"], "CHECK_COMPLETE");

    let (status, _, _) = send(&app, "DELETE", &url, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for _ in 0..200 {
        if send(&app, "GET", "/v1/t1/stacks/sample", None).await.0 == StatusCode::NOT_FOUND {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("deleted stack still found by name");
}

#[tokio::test]
async fn heat_errors_from_the_engine() {
    let app = app();
    let body = json!({"stack_name": "dup", "template": {"heat_template_version": "2018-08-31"}});
    assert_eq!(
        send(&app, "POST", "/v1/t1/stacks", Some(body.clone()))
            .await
            .0,
        StatusCode::CREATED
    );
    let (status, _, err) = send(&app, "POST", "/v1/t1/stacks", Some(body)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        err["error"]["type"],
        sample("create_duplicate")["body"]["error"]["type"]
    );
    assert_eq!(err["error"]["message"], "The Stack (dup) already exists.");
    let (status, _, err) = send(&app, "POST", "/v1/t1/stacks", Some(json!({"stack_name": "bad",
        "template": {"heat_template_version": "2018-08-31", "resources": {"a": {"type": "OS::No::Such"}}}}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    let (status, _, err) = send(&app, "GET", "/v1/t1/stacks/missing", None).await;
    assert_eq!(
        (status, &err["error"]["type"]),
        (StatusCode::NOT_FOUND, &json!("EntityNotFound"))
    );
    let (status, _, versions) = send(&app, "GET", "/v1/t1/template_versions", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(versions["template_versions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["version"] == "heat_template_version.2016-04-08"));
    let (status, _, _) = send(&app, "GET", "/v1/t1/template_versions/nope/functions", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // `validate` answers a template failing validation with Heat's HTTPBadRequest.
    let (status, _, err) = send(
        &app,
        "POST",
        "/v1/t1/validate",
        Some(sample("validate_invalid")["request"]["body"].clone()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        err["error"]["type"],
        sample("validate_invalid")["body"]["error"]["type"]
    );
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("OS::No::Such"),
        "{err}"
    );
    // An unknown event of a known stack is Heat's HTTPNotFound "No event ... found".
    let redirect = send(&app, "GET", "/v1/t1/stacks/dup", None).await.1;
    let stack = redirect["location"]
        .to_str()
        .unwrap()
        .trim_start_matches("http://heat.test");
    let missing = "00000000-0000-0000-0000-000000000000";
    let event = format!("{stack}/resources/none/events/{missing}");
    let (status, _, err) = send(&app, "GET", &event, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{err}");
    assert_eq!(
        err["error"]["type"],
        sample("event_missing")["body"]["error"]["type"]
    );
    assert_eq!(err["error"]["message"], format!("No event {missing} found"));
}

/// A value for an undeclared parameter and an unknown template version answer with Heat's own
/// classes and messages (UnknownUserParameter, InvalidTemplateVersion), not
/// StackValidationFailed, exactly as recorded from Heat.
#[tokio::test]
async fn unknown_parameter_and_bad_version_keep_heats_classes() {
    let app = app();
    for case in ["create_unknown_param", "validate_bad_version"] {
        let heat = sample(case);
        let path = heat["request"]["path"].as_str().unwrap().replacen(
            "cb698c85c26444d68d426ee47c103cfd",
            "t1",
            1,
        );
        let (status, _, err) =
            send(&app, "POST", &path, Some(heat["request"]["body"].clone())).await;
        assert_eq!(status.as_u16(), heat["status"], "{case}: {err}");
        assert_eq!(
            err["error"]["type"], heat["body"]["error"]["type"],
            "{case}"
        );
        assert_eq!(
            err["error"]["message"], heat["body"]["error"]["message"],
            "{case}"
        );
    }
}

/// `POST /validate?show_nested=true` answers Heat's `NestedParameters` for a provider template
/// of the `files` map, with the values the resource passes; the query parameter is read with
/// Heat's `extract_bool` (true/false in any case, anything else a 400).
#[tokio::test]
async fn validate_show_nested() {
    let app = app();
    let nested = "heat_template_version: 2016-10-14\n\
                  description: One inner server\n\
                  parameters:\n  \
                    flavor:\n    type: string\n    description: Flavor of the server\n  \
                    count:\n    type: number\n    default: 2\n\
                  resources:\n  inner:\n    type: OS::Heat::None\n";
    let body = json!({
        "template": "heat_template_version: 2016-10-14\n\
                     parameters:\n  size:\n    type: string\n    default: small\n\
                     resources:\n  server:\n    type: server.yaml\n    \
                       properties:\n      flavor: {get_param: size}\n",
        "files": {"server.yaml": nested},
    });
    let (status, _, plain) = send(&app, "POST", "/v1/t1/validate", Some(body.clone())).await;
    assert_eq!(status, StatusCode::OK, "{plain}");
    assert!(plain.get("NestedParameters").is_none(), "{plain}");
    for query in ["show_nested=false", "show_nested=FALSE"] {
        let path = format!("/v1/t1/validate?{query}");
        let (status, _, answer) = send(&app, "POST", &path, Some(body.clone())).await;
        assert_eq!((status, &answer), (StatusCode::OK, &plain));
    }

    for query in ["show_nested=true", "show_nested=True"] {
        let path = format!("/v1/t1/validate?{query}");
        let (status, _, answer) = send(&app, "POST", &path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let server = &answer["NestedParameters"]["server"];
        assert_eq!(server["Type"], "server.yaml", "{answer}");
        assert_eq!(server["Description"], "One inner server", "{answer}");
        let flavor = &server["Parameters"]["flavor"];
        assert_eq!(flavor["Value"], "small", "{answer}");
        assert_eq!(flavor["Description"], "Flavor of the server", "{answer}");
        assert_eq!(server["Parameters"]["count"]["Default"], 2, "{answer}");
        // The rest of the answer is the one without show_nested.
        let mut outer = answer.clone();
        outer.as_object_mut().unwrap().remove("NestedParameters");
        assert_eq!(outer, plain);
    }

    // Heat's extract_bool knows only true and false.
    for bad in ["yes", "1", "maybe"] {
        let path = format!("/v1/t1/validate?show_nested={bad}");
        let (status, _, err) = send(&app, "POST", &path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
        assert_eq!(
            err["error"]["message"],
            format!(
                "Unrecognized value \"{bad}\" for \"show_nested\", acceptable values are: true, false."
            )
        );
    }
}

/// A parameter without a value does not stop validate from refusing an unknown resource type,
/// as Heat's validate still builds every resource then.
#[tokio::test]
async fn validate_refuses_unknown_type_when_a_parameter_has_no_value() {
    let app = app();
    let template = |resource_type: &str| {
        json!({
            "template": format!(
                "heat_template_version: 2016-10-14\n\
                 parameters:\n  size:\n    type: number\n\
                 resources:\n  thing:\n    type: {resource_type}\n    \
                   properties:\n      value: {{get_param: size}}\n"
            )
        })
    };
    let (status, _, err) = send(
        &app,
        "POST",
        "/v1/t1/validate",
        Some(template("OS::No::Such")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    assert_eq!(err["error"]["type"], "HTTPBadRequest", "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("resources.thing: The Resource Type (OS::No::Such) could not be found."),
        "{err}"
    );
    // The same template with a known type validates: the parameter's missing value is no error.
    let (status, _, answer) = send(
        &app,
        "POST",
        "/v1/t1/validate",
        Some(template("OS::Heat::Value")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["Parameters"]["size"]["Type"], "Number", "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_event_list_links_every_event_to_the_root_stack() {
    let app = app();
    let body = json!({"stack_name": "outer", "template": {"heat_template_version": "2018-08-31",
        "resources": {"inner": {"type": "inner.yaml"}}},
        "files": {"inner.yaml": "heat_template_version: 2018-08-31\nresources:\n  v: {type: OS::Heat::None}\n"}});
    let (status, headers, created) = send(&app, "POST", "/v1/t1/stacks", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let location = headers["location"].to_str().unwrap().to_string();
    let url = location.trim_start_matches("http://heat.test").to_string();
    assert_eq!(
        wait_for(&app, &url).await["stack_status"],
        "CREATE_COMPLETE"
    );
    let (_, _, flat) = send(&app, "GET", &format!("{url}/events"), None).await;
    let (_, _, nested) = send(&app, "GET", &format!("{url}/events?nested_depth=1"), None).await;
    let (flat, nested) = (
        flat["events"].as_array().unwrap(),
        nested["events"].as_array().unwrap(),
    );
    assert!(
        nested.len() > flat.len(),
        "the nested stack's events are listed too"
    );
    for event in nested {
        let root: Vec<&Value> = event["links"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["rel"] == "root_stack")
            .collect();
        assert_eq!(root.len(), 1, "{event}");
        assert_eq!(root[0]["href"], location.as_str());
    }
    assert!(flat
        .iter()
        .all(|e| !e["links"].to_string().contains("root_stack")));
}

mod query_fuzz {
    use super::*;
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    use proptest::prelude::*;

    /// Every query parameter the list routes know, plus one they do not.
    const KEYS: &[&str] = &[
        "limit",
        "marker",
        "sort_keys",
        "sort_dir",
        "show_deleted",
        "show_nested",
        "tags",
        "tags_any",
        "not_tags",
        "not_tags_any",
        "with_count",
        "global_tenant",
        "id",
        "name",
        "status",
        "action",
        "tenant",
        "username",
        "owner_id",
        "stack_name",
        "stack_status",
        "parent",
        "nested_depth",
        "with_detail",
        "resource_status",
        "resource_action",
        "resource_name",
        "resource_type",
        "type",
        "unknown",
    ];
    const PATHS: &[&str] = &[
        "/stacks",
        "/stacks/detail",
        "/stacks/web/{id}/resources",
        "/stacks/web/{id}/events",
        "/stacks/web/{id}/resources/v/events",
    ];

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            "[^\u{0}]{0,12}",
            Just("00000000-0000-0000-0000-000000000000".to_string()),
            Just("-1".to_string()),
            Just("99999999999999999999".to_string()),
            Just("true".to_string()),
            Just("stack_name".to_string()),
            Just("asc".to_string()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Arbitrary query strings on the list routes, through the real engine and store
        /// query: answered, never a server error.
        #[test]
        fn arbitrary_list_queries_never_give_a_server_error(
            pairs in prop::collection::vec((0..KEYS.len(), value()), 0..5),
            route in 0..PATHS.len(),
        ) {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            let (status, body) = rt.block_on(async {
                let app = app();
                let template = json!({"heat_template_version": "2018-08-31",
                    "resources": {"v": {"type": "OS::Heat::None"}}});
                let (_, headers, _) = send(&app, "POST", "/v1/t1/stacks",
                    Some(json!({"stack_name": "web", "template": template, "tags": "a,b"}))).await;
                let location = headers["location"].to_str().unwrap().to_string();
                let id = location.rsplit('/').next().unwrap().to_string();
                let query: Vec<String> = pairs.iter().map(|(k, v)| {
                    format!("{}={}", KEYS[*k], utf8_percent_encode(v, NON_ALPHANUMERIC))
                }).collect();
                let path = format!("/v1/t1{}?{}", PATHS[route].replace("{id}", &id), query.join("&"));
                let (status, _, body) = send(&app, "GET", &path, None).await;
                (status, body)
            });
            prop_assert!(!status.is_server_error(), "{status}: {body}");
        }
    }
}
