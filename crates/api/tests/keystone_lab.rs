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

fn service_config(auth_url: String) -> KeystoneConfig {
    KeystoneConfig {
        auth_url: Some(auth_url),
        username: Some("heat".into()),
        password: Some("service".into()),
        project_name: Some("service".into()),
        user_domain_name: Some("Default".into()),
        project_domain_name: Some("Default".into()),
        admin_roles: vec!["admin".into()],
        ..KeystoneConfig::default()
    }
}

/// A user of the lab logged in to its Keystone.
struct Caller {
    token: String,
    project_id: String,
    auth_url: String,
}

/// The user of the lab's cloud `cloud` (`lab-demo`, `lab-alt-demo`: scoped to the project of the
/// user's name); `None` (test skipped) without a lab.
async fn login(cloud: &str) -> Option<Caller> {
    let session = ember_lab::or_skip(ember_lab::session(cloud).await)?;
    let token = session.token().await.unwrap();
    Some(Caller {
        token: token.secret().to_string(),
        project_id: token.project_id.clone().unwrap(),
        auth_url: session.config().auth_url.clone(),
    })
}

#[tokio::test]
async fn validates_real_tokens() {
    let Some(demo) = login("lab-demo").await else {
        return;
    };
    let validator =
        KeystoneValidator::new(&service_config(demo.auth_url), Duration::from_secs(60)).unwrap();
    let info = validator.validate(&demo.token).await.unwrap();
    assert_eq!(info.project_id, demo.project_id);
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
    let Some(Caller {
        token: demo,
        project_id: demo_project,
        auth_url,
    }) = login("lab-demo").await
    else {
        return;
    };
    let alt_project = login("lab-alt-demo").await.unwrap().project_id;
    let config = ServerConfig {
        auth: AuthMode::Keystone,
        keystone: service_config(auth_url),
        ..Default::default()
    };
    let app = router(ApiState::new(config, Arc::new(EchoEngine)).unwrap());
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
