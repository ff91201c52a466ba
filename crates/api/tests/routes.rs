//! Route-level tests: status codes, headers and bodies compared with the samples recorded from
//! real Heat 27 (tests/heat-samples), driven through the router with `oneshot`. The engine is a
//! small in-memory double that keeps stacks per project, so ownership, lookups and errors take
//! the same paths as with the real engine.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use ember_api::engine::{EngineCall, EngineError, Orchestrator, RequestContext};
use ember_api::signing::{SignalKind, SignedTarget};
use ember_api::{router, ApiState, AuthMode, ServerConfig};
use serde_json::{json, Value};
use tower::ServiceExt;

#[derive(Default)]
struct Stacks {
    /// (project, id) → name
    by_id: HashMap<(String, String), String>,
    calls: Vec<EngineCall>,
}

#[derive(Default)]
struct FakeEngine(Mutex<Stacks>);

fn not_found(name: &str) -> EngineError {
    EngineError::new(
        "EntityNotFound",
        format!("The Stack ({name}) could not be found."),
    )
}

#[async_trait]
impl Orchestrator for FakeEngine {
    async fn call(&self, ctx: &RequestContext, call: EngineCall) -> Result<Value, EngineError> {
        let mut s = self.0.lock().unwrap();
        s.calls.push(call.clone());
        let project = ctx.project_id.clone();
        let find = |s: &Stacks, name: &str, id: &str| {
            s.by_id
                .get(&(project.clone(), id.to_string()))
                .filter(|n| *n == name)
                .cloned()
        };
        match call {
            EngineCall::CreateStack { body } => {
                let name = body["stack_name"].as_str().unwrap_or_default().to_string();
                if s.by_id.iter().any(|((p, _), n)| *p == project && *n == name) {
                    return Err(EngineError::new("StackExists", format!("The Stack ({name}) already exists.")));
                }
                let id = format!("{:08}-0000-0000-0000-000000000000", s.by_id.len() + 1);
                s.by_id.insert((project.clone(), id.clone()), name.clone());
                Ok(json!({"stack_name": name, "stack_id": id, "tenant": project, "path": ""}))
            }
            EngineCall::IdentifyStack { name_or_id } => s
                .by_id
                .iter()
                .find(|((p, id), n)| *p == project && (**n == name_or_id || *id == name_or_id))
                .map(|((p, id), n)| json!({"stack_name": n, "stack_id": id, "tenant": p, "path": ""}))
                .ok_or_else(|| not_found(&name_or_id)),
            EngineCall::ShowStack { stack, .. } => find(&s, &stack.stack_name, &stack.stack_id)
                .map(|n| json!({"id": stack.stack_id, "stack_name": n, "stack_status": "CREATE_COMPLETE",
                                "parameters": {"secret": "******"}}))
                .ok_or_else(|| not_found(&stack.stack_name)),
            EngineCall::ListStacks { .. } => Ok(json!({"stacks": s.by_id.iter()
                .filter(|((p, _), _)| *p == project)
                .map(|((_, id), n)| json!({"id": id, "stack_name": n, "stack_status": "CREATE_COMPLETE",
                                           "parameters": {}, "template_description": "x"}))
                .collect::<Vec<_>>(), "count": s.by_id.len()})),
            EngineCall::UpdateStack { stack, .. }
            | EngineCall::DeleteStack { stack }
            | EngineCall::Action { stack, .. } => find(&s, &stack.stack_name, &stack.stack_id)
                .map(|_| Value::Null)
                .ok_or_else(|| not_found(&stack.stack_name)),
            EngineCall::ListResources { stack, .. } => find(&s, &stack.stack_name, &stack.stack_id)
                .map(|_| json!([{"resource_name": "rs", "resource_status": "CREATE_COMPLETE"}]))
                .ok_or_else(|| not_found(&stack.stack_name)),
            EngineCall::SignalResource { resource, details, .. } => Ok(json!({"signalled": resource, "details": details})),
            EngineCall::ListServices => Ok(json!([])),
            // The engine may answer with Heat's envelope already in place.
            EngineCall::PreviewUpdate { .. } => Ok(json!({"resource_changes": {"added": [], "deleted": [],
                "replaced": [], "unchanged": [{"resource_name": "rs"}], "updated": []}})),
            other => Err(EngineError::new("NotSupported", format!("{other:?}"))),
        }
    }
}

struct Server {
    app: axum::Router,
    engine: Arc<FakeEngine>,
    state: ApiState,
}

fn server_with(config: ServerConfig) -> Server {
    let engine = Arc::new(FakeEngine::default());
    let state = ApiState::new(config, engine.clone()).unwrap();
    Server {
        app: router(state.clone()),
        engine,
        state,
    }
}

fn server() -> Server {
    server_with(ServerConfig {
        signing_key: Some("test-key".into()),
        ..Default::default()
    })
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

async fn send(
    app: &axum::Router,
    method: &str,
    path: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("Host", "heat.test:8004");
    if body.is_some() {
        req = req.header("Content-Type", "application/json");
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(
            body.map(|b| Body::from(b.to_string()))
                .unwrap_or_else(Body::empty),
        )
        .unwrap();
    let response = app.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = if bytes.is_empty() {
        Value::String(String::new())
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    Reply {
        status,
        headers,
        body,
    }
}

/// A response recorded from real Heat.
fn sample(name: &str) -> Value {
    let path = format!(
        "{}/tests/heat-samples/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Same status and, for errors, the same Heat error type, title, explanation (and message
/// when `same_message`).
fn assert_like_heat(reply: &Reply, name: &str, same_message: bool) {
    let heat = sample(name);
    assert_eq!(
        reply.status.as_u16(),
        heat["status"].as_u64().unwrap() as u16,
        "{name}: status"
    );
    let hb = &heat["body"];
    if hb.get("error").is_some() {
        for key in ["code", "title", "explanation"] {
            assert_eq!(reply.body[key], hb[key], "{name}: {key}");
        }
        assert_eq!(
            reply.body["error"]["type"], hb["error"]["type"],
            "{name}: type"
        );
        if same_message {
            assert_eq!(
                reply.body["error"]["message"], hb["error"]["message"],
                "{name}: message"
            );
        }
    }
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

const TEMPLATE: &str = r#"{"heat_template_version": "2018-08-31", "resources": {}}"#;

async fn create(app: &axum::Router, tenant: &str, name: &str) -> Reply {
    let body = format!(r#"{{"stack_name": "{name}", "template": {TEMPLATE}}}"#);
    send(
        app,
        "POST",
        &format!("/v1/{tenant}/stacks"),
        Some(&body),
        &[],
    )
    .await
}

#[tokio::test]
async fn version_document_and_unknown_paths() {
    let s = server();
    let r = send(&s.app, "GET", "/", None, &[]).await;
    assert_eq!(r.status, StatusCode::MULTIPLE_CHOICES);
    assert_eq!(
        r.body,
        json!({"versions": [{"id": "v1.0", "links": [{"href": "http://heat.test:8004/v1/", "rel": "self"}], "status": "CURRENT"}]})
    );
    assert_eq!(keys(&r.body), keys(&sample("versions")["body"]));
    let r = send(&s.app, "GET", "/v2/x/stacks", None, &[]).await;
    assert_eq!(r.status, StatusCode::MULTIPLE_CHOICES);
    let r = send(&s.app, "GET", "/v1/t/nothing-here", None, &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body, sample("unknown_path")["body"]);
}

#[tokio::test]
async fn options_and_405_as_heat() {
    let s = server();
    let r = send(&s.app, "OPTIONS", "/v1/t/stacks", None, &[]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(r.headers["allow"], "GET,POST");
    let r = send(&s.app, "OPTIONS", "/v1/t/stacks/a/b", None, &[]).await;
    assert_eq!(
        r.headers["allow"],
        sample("stack_show_options")["headers"]["Allow"]
            .as_str()
            .unwrap()
    );
    let r = send(&s.app, "DELETE", "/v1/t/stacks", None, &[]).await;
    assert_like_heat(&r, "stacks_delete_405", true);
    assert_eq!(r.headers["allow"], "GET,POST");
    let r = send(&s.app, "POST", "/v1/t/stacks/a/b", Some("{}"), &[]).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    let r = send(&s.app, "HEAD", "/v1/t/stacks", None, &[]).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn create_returns_201_with_location_and_self_link() {
    let s = server();
    let r = create(&s.app, "t1", "web").await;
    let heat = sample("create");
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(keys(&r.body["stack"]), keys(&heat["body"]["stack"]));
    let location = r.headers["location"].to_str().unwrap();
    assert_eq!(
        location,
        "http://heat.test:8004/v1/t1/stacks/web/00000001-0000-0000-0000-000000000000"
    );
    assert_eq!(
        r.body["stack"]["links"],
        json!([{"href": location, "rel": "self"}])
    );
    let r = create(&s.app, "t1", "web").await;
    assert_like_heat(&r, "create_duplicate", false);
    assert_eq!(
        r.body["error"]["message"],
        "The Stack (web) already exists."
    );
}

#[tokio::test]
async fn bad_bodies_are_400_like_heat() {
    let s = server();
    let post = |body: String| {
        let app = s.app.clone();
        async move { send(&app, "POST", "/v1/t/stacks", Some(&body), &[]).await }
    };
    assert_like_heat(
        &post(r#"{"stack_name": "x", "#.into()).await,
        "create_malformed_json",
        false,
    );
    assert_like_heat(&post(r#"["a"]"#.into()).await, "create_not_object", true);
    assert_like_heat(
        &post(format!(r#"{{"template": {TEMPLATE}}}"#)).await,
        "create_no_name",
        true,
    );
    assert_like_heat(
        &post(r#"{"stack_name": "x"}"#.into()).await,
        "create_no_template",
        true,
    );
    assert_like_heat(
        &post(r#"{"stack_name": "x", "template": 5}"#.into()).await,
        "create_template_wrong_type",
        true,
    );
    assert_like_heat(
        &post(format!(
            r#"{{"stack_name": "x", "template": {TEMPLATE}, "timeout_mins": "abc"}}"#
        ))
        .await,
        "create_timeout_wrong_type",
        true,
    );
    assert_like_heat(
        &post(r#"{"stack_name": "x", "template": "{{{"}"#.into()).await,
        "create_bad_template_string",
        false,
    );
    let huge = format!(
        r#"{{"stack_name": "x", "template": {TEMPLATE}, "pad": "{}"}}"#,
        "x".repeat(1 << 20)
    );
    let r = post(huge.clone()).await;
    assert_like_heat(&r, "create_huge_body", false);
    assert_eq!(
        r.body["error"]["message"],
        format!("Request limit exceeded: JSON body size ({} bytes) exceeds maximum allowed size (1048576 bytes).", huge.len())
    );
    assert!(
        s.engine.0.lock().unwrap().calls.is_empty(),
        "no bad body reaches the engine"
    );
}

#[tokio::test]
async fn abandon_and_export_follow_enable_stack_abandon() {
    let path = |sub: &str| format!("/v1/t/stacks/s/00000001-0000-0000-0000-000000000000/{sub}");
    let s = server();
    let abandon = send(&s.app, "DELETE", &path("abandon"), None, &[]).await;
    assert_like_heat(&abandon, "abandon_disabled", true);
    assert_like_heat(
        &send(&s.app, "GET", &path("export"), None, &[]).await,
        "export",
        true,
    );
    assert!(s.engine.0.lock().unwrap().calls.is_empty());
    let enabled = server_with(ServerConfig {
        enable_stack_abandon: true,
        ..Default::default()
    });
    send(&enabled.app, "DELETE", &path("abandon"), None, &[]).await;
    send(&enabled.app, "GET", &path("export"), None, &[]).await;
    let calls = enabled.engine.0.lock().unwrap().calls.clone();
    assert!(matches!(
        calls.as_slice(),
        [
            EngineCall::AbandonStack { .. },
            EngineCall::ExportStack { .. }
        ]
    ));
}

#[tokio::test]
async fn query_parameters_are_checked_like_heat() {
    let s = server();
    for (query, name) in [
        ("limit=abc", "list_bad_limit"),
        ("show_deleted=maybe", "list_bad_bool"),
        ("sort_dir=sideways", "list_bad_sort_dir"),
    ] {
        let r = send(&s.app, "GET", &format!("/v1/t/stacks?{query}"), None, &[]).await;
        assert_like_heat(&r, name, name != "list_bad_sort_dir");
    }
}

#[tokio::test]
async fn name_lookup_redirects_to_canonical_url_with_subpath_and_query() {
    let s = server();
    create(&s.app, "t1", "web").await;
    let canonical = "http://heat.test:8004/v1/t1/stacks/web/00000001-0000-0000-0000-000000000000";
    let r = send(&s.app, "GET", "/v1/t1/stacks/web", None, &[]).await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(r.headers["location"], canonical);
    assert_eq!(keys(&r.body), keys(&sample("lookup_redirect")["body"]));
    assert_eq!(r.body["code"], "302 Found");
    let r = send(
        &s.app,
        "GET",
        "/v1/t1/stacks/00000001-0000-0000-0000-000000000000",
        None,
        &[],
    )
    .await;
    assert_eq!(r.headers["location"], canonical);
    let r = send(
        &s.app,
        "GET",
        "/v1/t1/stacks/web/resources?nested_depth=1",
        None,
        &[],
    )
    .await;
    assert_eq!(
        r.headers["location"],
        format!("{canonical}/resources?nested_depth=1")
    );
    let r = send(
        &s.app,
        "POST",
        "/v1/t1/stacks/web/actions",
        Some(r#"{"check": null}"#),
        &[],
    )
    .await;
    assert_eq!(r.headers["location"], format!("{canonical}/actions"));
    let r = send(&s.app, "DELETE", "/v1/t1/stacks/web", None, &[]).await;
    assert_eq!(
        (r.status, r.headers["location"].to_str().unwrap()),
        (StatusCode::FOUND, canonical)
    );
    let r = send(&s.app, "DELETE", "/v1/t1/stacks/sample-missing", None, &[]).await;
    assert_like_heat(&r, "lookup_redirect_delete", true);
}

#[tokio::test]
async fn another_projects_stack_is_not_found() {
    let s = server();
    create(&s.app, "t1", "web").await;
    let r = send(&s.app, "GET", "/v1/t2/stacks/web", None, &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = send(
        &s.app,
        "GET",
        "/v1/t2/stacks/web/00000001-0000-0000-0000-000000000000",
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["error"]["type"], "EntityNotFound");
    let r = send(&s.app, "GET", "/v1/t2/stacks", None, &[]).await;
    assert_eq!(r.body["stacks"], json!([]));
}

#[tokio::test]
async fn show_list_update_delete_actions() {
    let s = server();
    create(&s.app, "t1", "web").await;
    let base = "/v1/t1/stacks/web/00000001-0000-0000-0000-000000000000";
    let r = send(&s.app, "GET", base, None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["stack"]["links"][0]["href"],
        format!("http://heat.test:8004{base}")
    );
    assert_eq!(r.body["stack"]["parameters"]["secret"], "******");
    assert_like_heat(
        &send(
            &s.app,
            "GET",
            &format!("{base}?resolve_outputs=perhaps"),
            None,
            &[],
        )
        .await,
        "show_bad_resolve_outputs",
        true,
    );

    let r = send(&s.app, "GET", "/v1/t1/stacks?limit=1", None, &[]).await;
    let stack = &r.body["stacks"][0];
    assert!(
        stack.get("parameters").is_none() && stack.get("template_description").is_none(),
        "list keeps basic keys"
    );
    assert_eq!(
        r.body["links"],
        json!([{"rel": "next", "href": "http://heat.test:8004/v1/t1/stacks?limit=1&marker=00000001-0000-0000-0000-000000000000"}])
    );
    let r = send(&s.app, "GET", "/v1/t1/stacks/detail", None, &[]).await;
    assert!(
        r.body["stacks"][0].get("parameters").is_some(),
        "detail keeps everything"
    );
    let r = send(&s.app, "GET", "/v1/t1/stacks?with_count=true", None, &[]).await;
    assert_eq!(r.body["count"], 1);

    let r = send(
        &s.app,
        "PUT",
        base,
        Some(&format!(r#"{{"template": {TEMPLATE}}}"#)),
        &[],
    )
    .await;
    assert_eq!(
        (r.status, &r.body),
        (StatusCode::ACCEPTED, &sample("update_put")["body"])
    );
    assert_like_heat(
        &send(&s.app, "PUT", base, Some(r#"{"parameters": {}}"#), &[]).await,
        "update_put_no_template",
        true,
    );
    let r = send(
        &s.app,
        "PATCH",
        base,
        Some(r#"{"parameters": {"a": 1}}"#),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert!(matches!(
        s.engine.0.lock().unwrap().calls.last(),
        Some(EngineCall::UpdateStack { patch: true, .. })
    ));

    let actions = format!("{base}/actions");
    let r = send(&s.app, "POST", &actions, Some(r#"{"check": null}"#), &[]).await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::OK, Value::Null));
    assert_like_heat(
        &send(&s.app, "POST", &actions, Some(r#"{"explode": null}"#), &[]).await,
        "action_unknown",
        true,
    );
    assert_like_heat(
        &send(
            &s.app,
            "POST",
            &actions,
            Some(r#"{"suspend": null, "resume": null}"#),
            &[],
        )
        .await,
        "action_two",
        true,
    );

    let r = send(&s.app, "GET", &format!("{base}/resources"), None, &[]).await;
    assert_eq!(
        r.body["resources"][0]["links"],
        json!([{"href": format!("http://heat.test:8004{base}/resources/rs"), "rel": "self"},
               {"href": format!("http://heat.test:8004{base}"), "rel": "stack"}])
    );
    assert_like_heat(
        &send(
            &s.app,
            "GET",
            &format!("{base}/resources?nested_depth=x"),
            None,
            &[],
        )
        .await,
        "resources_bad_depth",
        true,
    );
    let r = send(
        &s.app,
        "PATCH",
        &format!("{base}/resources/none"),
        Some(r#"{"mark_unhealthy": "perhaps"}"#),
        &[],
    )
    .await;
    assert_like_heat(&r, "mark_unhealthy_bad", true);
    assert_like_heat(
        &send(&s.app, "GET", &format!("{base}/events?limit=-1"), None, &[]).await,
        "events_bad_limit",
        true,
    );

    let r = send(&s.app, "DELETE", base, None, &[]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = send(
        &s.app,
        "GET",
        "/v1/t1/resource_types/OS::Heat::None/template?template_type=xml",
        None,
        &[],
    )
    .await;
    assert_like_heat(&r, "resource_type_template_bad", true);
}

#[tokio::test]
async fn signed_waitcondition_url_works_without_token_and_only_for_its_resource() {
    let s = server_with(ServerConfig {
        signing_key: Some("k".into()),
        auth: AuthMode::Keystone,
        keystone: ember_api::config::KeystoneConfig {
            auth_url: Some("http://127.0.0.1:9/v3".into()),
            username: Some("heat".into()),
            password: Some("service".into()),
            project_name: Some("service".into()),
            ..Default::default()
        },
        ..Default::default()
    });
    let target = SignedTarget {
        kind: SignalKind::WaitCondition,
        tenant: "t1".into(),
        stack_name: "web".into(),
        stack_id: "id1".into(),
        resource_name: "handle".into(),
    };
    let url = s.state.signed_url(&target);
    // A signer made from the same configuration (as the engine gets) mints URLs the server takes.
    let mut config = s.state.config.clone();
    config.ensure_signing_key();
    assert_eq!(
        config.signing_key.as_deref(),
        Some("k"),
        "a configured key is kept"
    );
    let engine_url = ember_api::UrlSigner::new(&config).url(&target);
    let engine_path = engine_url.strip_prefix("http://127.0.0.1:8004").unwrap();
    let r = send(
        &s.app,
        "PUT",
        engine_path,
        Some(r#"{"Status": "SUCCESS"}"#),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let path = url.strip_prefix("http://127.0.0.1:8004").unwrap();
    let body = r#"{"Status": "SUCCESS", "Reason": "ok", "UniqueId": "1", "Data": "d"}"#;
    let r = send(&s.app, "PUT", path, Some(body), &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["resource"], "handle");
    assert_eq!(r.body["metadata"]["details"]["Status"], "SUCCESS");
    let forged = path.replace("handle", "other");
    assert_eq!(
        send(&s.app, "PUT", &forged, Some(body), &[]).await.status,
        StatusCode::FORBIDDEN
    );
    let as_signal = path.replace("/waitcondition/", "/signal/");
    assert_eq!(
        send(&s.app, "POST", &as_signal, Some(body), &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let unsigned = path.split('?').next().unwrap();
    assert_eq!(
        send(&s.app, "PUT", unsigned, Some(body), &[]).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn every_documented_openapi_operation_is_routed() {
    let s = server();
    let spec: Value = serde_json::from_str(ember_api::OPENAPI_JSON).unwrap();
    let no_route = sample("unknown_path")["body"].clone();
    let mut checked = 0;
    for (path, methods) in spec["paths"].as_object().unwrap() {
        let concrete: String = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x1" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for method in methods.as_object().unwrap().keys() {
            let r = send(&s.app, &method.to_uppercase(), &concrete, Some("{}"), &[]).await;
            assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert_ne!(r.body, no_route, "{method} {path} is not routed");
            assert!(!r.status.is_server_error(), "{method} {path}: {}", r.status);
            checked += 1;
        }
    }
    assert!(checked >= 55, "only {checked} operations documented");
}

#[tokio::test]
async fn openapi_is_served() {
    let s = server();
    let r = send(&s.app, "GET", "/openapi.json", None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["openapi"], "3.0.3");
}

mod robustness {
    use super::*;
    use proptest::prelude::*;

    const PATHS: &[(&str, &str)] = &[
        ("POST", "/v1/t1/stacks"),
        ("POST", "/v1/t1/validate"),
        ("POST", "/v1/t1/stacks/preview"),
        (
            "PUT",
            "/v1/t1/stacks/web/00000001-0000-0000-0000-000000000000",
        ),
        (
            "PATCH",
            "/v1/t1/stacks/web/00000001-0000-0000-0000-000000000000",
        ),
        (
            "POST",
            "/v1/t1/stacks/web/00000001-0000-0000-0000-000000000000/actions",
        ),
        (
            "PATCH",
            "/v1/t1/stacks/web/00000001-0000-0000-0000-000000000000/resources/rs",
        ),
        ("POST", "/v1/t1/software_configs"),
        ("GET", "/v1/t1/stacks?limit=%ff%fe&sort_dir=%00"),
    ];

    fn body() -> impl Strategy<Value = String> {
        prop_oneof![
            ".{0,64}",
            "\\{\"[a-z_]{1,12}\": (null|true|1|\"x\"|\\[\\]|\\{\\})\\}",
            (1usize..3000).prop_map(|depth| format!("{}1{}", "[".repeat(depth), "]".repeat(depth))),
            (1usize..3000).prop_map(|depth| format!(
                "{}1{}",
                "{\"a\":".repeat(depth),
                "}".repeat(depth)
            )),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn arbitrary_bodies_never_give_a_server_error(body in body(), route in 0..PATHS.len()) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let status = rt.block_on(async {
                let s = server();
                create(&s.app, "t1", "web").await;
                let (method, path) = PATHS[route];
                send_raw(&s.app, method, path, body.clone()).await
            });
            prop_assert!(!status.is_server_error(), "{status} for {body:?}");
        }
    }

    async fn send_raw(app: &axum::Router, method: &str, path: &str, body: String) -> StatusCode {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("Content-Type", "application/json")
            .body(Body::from(body))
            .unwrap();
        app.clone().oneshot(req).await.unwrap().status()
    }
}

#[tokio::test]
async fn adopt_data_as_text_gives_its_template_to_the_engine() {
    let s = server();
    let adopt =
        json!({"template": {"heat_template_version": "2018-08-31"}, "resources": {}}).to_string();
    let body = json!({"stack_name": "adopted", "adopt_stack_data": adopt}).to_string();
    let r = send(&s.app, "POST", "/v1/t1/stacks", Some(&body), &[]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    match s.engine.0.lock().unwrap().calls.last() {
        Some(EngineCall::CreateStack { body }) => {
            assert_eq!(
                body["template"],
                json!({"heat_template_version": "2018-08-31"})
            );
            assert!(body["adopt_stack_data"].is_object());
        }
        other => panic!("{other:?}"),
    }
    let bad = json!({"stack_name": "x", "adopt_stack_data": "{not json"}).to_string();
    let r = send(&s.app, "POST", "/v1/t1/stacks", Some(&bad), &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Invalid adopt data: "));
}

#[tokio::test]
async fn envelopes_are_not_doubled() {
    let s = server();
    create(&s.app, "t1", "web").await;
    let r = send(
        &s.app,
        "GET",
        "/v1/t1/stacks/web/00000001-0000-0000-0000-000000000000/resources",
        None,
        &[],
    )
    .await;
    assert!(r.body["resources"].is_array(), "{:?}", r.body);
}

#[tokio::test]
async fn urls_signed_by_a_server_without_configured_key_verify() {
    let s = server_with(ServerConfig::default());
    let target = SignedTarget {
        kind: SignalKind::Signal,
        tenant: "t1".into(),
        stack_name: "web".into(),
        stack_id: "id1".into(),
        resource_name: "policy".into(),
    };
    let url = s.state.signed_url(&target);
    let path = url.strip_prefix("http://127.0.0.1:8004").unwrap();
    let r = send(&s.app, "POST", path, Some("{}"), &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}
