//! `auth = keystone` against the real Keystone of ../shared/openstack-lab (service user `heat`,
//! callers `demo` and `alt_demo`). Skipped when no lab answers, unless `EMBER_REQUIRE_LAB=1`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use ember_api::config::KeystoneConfig;
use ember_api::engine::{EngineCall, EngineError, Orchestrator, RequestContext};
use ember_api::keystone::{KeystoneError, KeystoneValidator};
use ember_api::{router, ApiState, AuthMode, ServerConfig};
use serde_json::{json, Value};
use tower::ServiceExt;

fn auth_url() -> String {
    std::env::var("EMBER_LAB_AUTH_URL").unwrap_or_else(|_| "http://127.0.0.1:5000/v3".into())
}

async fn lab_up() -> bool {
    let up = reqwest::get(auth_url())
        .await
        .map(|r| r.status().is_success())
        .unwrap_or(false);
    if !up && std::env::var("EMBER_REQUIRE_LAB").as_deref() == Ok("1") {
        panic!("EMBER_REQUIRE_LAB=1 but no Keystone at {}", auth_url());
    }
    up
}

fn service_config() -> KeystoneConfig {
    KeystoneConfig {
        auth_url: Some(auth_url()),
        username: Some("heat".into()),
        password: Some("service".into()),
        project_name: Some("service".into()),
        user_domain_name: Some("Default".into()),
        project_domain_name: Some("Default".into()),
        admin_roles: vec!["admin".into()],
        ..KeystoneConfig::default()
    }
}

/// A token of `user` (password `demo`) scoped to the project of the same name, and its project id.
async fn user_token(user: &str) -> (String, String) {
    let body = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {"name": user, "password": "demo", "domain": {"name": "Default"}}}},
        "scope": {"project": {"name": user, "domain": {"name": "Default"}}}}});
    let r = reqwest::Client::new()
        .post(format!("{}/auth/tokens", auth_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "lab login of {user}: {}",
        r.status()
    );
    let token = r.headers()["X-Subject-Token"].to_str().unwrap().to_string();
    let v: Value = r.json().await.unwrap();
    (
        token,
        v["token"]["project"]["id"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn validates_real_tokens() {
    if !lab_up().await {
        return;
    }
    let validator = KeystoneValidator::new(&service_config(), Duration::from_secs(60)).unwrap();
    let (token, project) = user_token("demo").await;
    let info = validator.validate(&token).await.unwrap();
    assert_eq!(info.project_id, project);
    assert_eq!(info.username, "demo");
    assert!(info.roles.iter().any(|r| r == "member"), "{:?}", info.roles);
    assert!(matches!(
        validator.validate("gAAAAAB-not-a-token").await,
        Err(KeystoneError::InvalidToken)
    ));
}

struct EchoEngine;

#[async_trait]
impl Orchestrator for EchoEngine {
    async fn call(&self, ctx: &RequestContext, _: EngineCall) -> Result<Value, EngineError> {
        Ok(json!({"stacks": [{"id": "i", "stack_name": ctx.project_id}]}))
    }
}

#[tokio::test]
async fn router_takes_the_project_from_the_token() {
    if !lab_up().await {
        return;
    }
    let config = ServerConfig {
        auth: AuthMode::Keystone,
        keystone: service_config(),
        ..Default::default()
    };
    let app = router(ApiState::new(config, Arc::new(EchoEngine)).unwrap());
    let (demo, demo_project) = user_token("demo").await;
    let (_, alt_project) = user_token("alt_demo").await;
    let get = |path: String, token: String| {
        let app = app.clone();
        async move {
            let req = Request::builder()
                .uri(path)
                .header("X-Auth-Token", token)
                .body(Body::empty())
                .unwrap();
            let response = app.oneshot(req).await.unwrap();
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            (
                status,
                serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
            )
        }
    };
    let (status, body) = get(format!("/v1/{demo_project}/stacks"), demo.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["stacks"][0]["stack_name"], demo_project.as_str());
    let (status, _) = get(format!("/v1/{alt_project}/stacks"), demo.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = get(format!("/v1/{demo_project}/stacks"), "junk".into()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = get(format!("/v1/{demo_project}/services"), demo).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "demo is not an admin");
}
