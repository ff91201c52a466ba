//! `auth = keystone` against a stand-in Keystone that speaks the two v3 calls the server makes
//! (service login, token validation), counting validations to check the cache.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use ember_api::config::KeystoneConfig;
use ember_api::engine::{EngineCall, EngineError, Orchestrator, RequestContext};
use ember_api::{router, ApiState, AuthMode, ServerConfig};
use serde_json::{json, Value};
use tower::ServiceExt;

/// Echoes the context the API built, so tests see the project and admin flag.
struct EchoEngine;

#[async_trait]
impl Orchestrator for EchoEngine {
    async fn call(&self, ctx: &RequestContext, _call: EngineCall) -> Result<Value, EngineError> {
        Ok(
            json!({"stacks": [], "services": [{"seen_project": ctx.project_id, "admin": ctx.is_admin}]}),
        )
    }
}

async fn fake_keystone(validations: Arc<AtomicUsize>) -> String {
    let login = |body: axum::Json<Value>| async move {
        let ok = body.0.pointer("/auth/identity/password/user/password") == Some(&json!("service"));
        if ok {
            (
                [("X-Subject-Token", "service-token")],
                axum::Json(json!({"token": {}})),
            )
                .into_response()
        } else {
            StatusCode::UNAUTHORIZED.into_response()
        }
    };
    let validate = move |headers: HeaderMap| {
        let validations = validations.clone();
        async move {
            validations.fetch_add(1, Ordering::SeqCst);
            if headers.get("X-Auth-Token").and_then(|v| v.to_str().ok()) != Some("service-token") {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            let (project, roles) =
                match headers.get("X-Subject-Token").and_then(|v| v.to_str().ok()) {
                    Some("demo-token") => ("p-demo", vec!["member"]),
                    Some("admin-token") => ("p-admin", vec!["admin", "member"]),
                    _ => return StatusCode::NOT_FOUND.into_response(),
                };
            let roles: Vec<Value> = roles
                .into_iter()
                .map(|r| json!({"id": r, "name": r}))
                .collect();
            axum::Json(json!({"token": {"project": {"id": project}, "user": {"id": "u", "name": "user"}, "roles": roles}}))
                .into_response()
        }
    };
    let app = Router::new().route("/v3/auth/tokens", post(login).get(validate));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/v3")
}

async fn keystone_app() -> (Router, Arc<AtomicUsize>) {
    let validations = Arc::new(AtomicUsize::new(0));
    let auth_url = fake_keystone(validations.clone()).await;
    let config = ServerConfig {
        auth: AuthMode::Keystone,
        keystone: KeystoneConfig {
            auth_url: Some(auth_url),
            username: Some("heat".into()),
            password: Some("service".into()),
            project_name: Some("service".into()),
            admin_roles: vec!["admin".into()],
            ..Default::default()
        },
        ..Default::default()
    };
    (
        router(ApiState::new(config, Arc::new(EchoEngine)).unwrap()),
        validations,
    )
}

async fn get(app: &Router, path: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut req = Request::builder().uri(path);
    if let Some(t) = token {
        req = req.header("X-Auth-Token", t);
    }
    let response = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn heat_sample_body(name: &str) -> Value {
    let path = format!(
        "{}/tests/heat-samples/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str::<Value>(&std::fs::read_to_string(path).unwrap()).unwrap()["body"].clone()
}

#[tokio::test]
async fn missing_or_invalid_token_is_401_like_keystonemiddleware() {
    let (app, _) = keystone_app().await;
    assert_eq!(
        get(&app, "/v1/p-demo/stacks", None).await,
        (StatusCode::UNAUTHORIZED, heat_sample_body("no_token"))
    );
    assert_eq!(
        get(&app, "/v1/p-demo/stacks", Some("junk")).await,
        (StatusCode::UNAUTHORIZED, heat_sample_body("bad_token"))
    );
    // The version document needs no token, as in Heat.
    assert_eq!(get(&app, "/", None).await.0, StatusCode::MULTIPLE_CHOICES);
}

#[tokio::test]
async fn project_comes_from_the_token_and_other_projects_are_refused() {
    let (app, _) = keystone_app().await;
    assert_eq!(
        get(&app, "/v1/p-demo/stacks", Some("demo-token")).await.0,
        StatusCode::OK
    );
    let (status, body) = get(&app, "/v1/p-other/stacks", Some("demo-token")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["type"], "HTTPForbidden");
    // Admins may use another project's URL; they act in their own project, as in Heat.
    assert_eq!(
        get(&app, "/v1/p-other/stacks", Some("admin-token")).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn admin_only_calls_check_roles() {
    let (app, _) = keystone_app().await;
    assert_eq!(
        get(&app, "/v1/p-demo/services", Some("demo-token")).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = get(&app, "/v1/p-admin/services", Some("admin-token")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["services"][0],
        json!({"seen_project": "p-admin", "admin": true})
    );
    assert_eq!(
        get(
            &app,
            "/v1/p-demo/stacks?global_tenant=true",
            Some("demo-token")
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn validations_are_cached() {
    let (app, validations) = keystone_app().await;
    for _ in 0..5 {
        assert_eq!(
            get(&app, "/v1/p-demo/stacks", Some("demo-token")).await.0,
            StatusCode::OK
        );
    }
    assert_eq!(validations.load(Ordering::SeqCst), 1);
}
