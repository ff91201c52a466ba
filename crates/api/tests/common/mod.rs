//! What the router-over-the-real-engine tests share: the app on an in-memory store and one
//! request helper.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use ember_api::{router, ApiState, ServerConfig};
use ember_engine::service::Service;
use ember_engine::store::MemoryStore;
use ember_engine::{EngineConfig, TemplateCompiler};
use serde_json::Value;
use tower::ServiceExt;

pub fn app() -> axum::Router {
    let service = Service::new(
        Arc::new(MemoryStore::new()),
        ember_resources::registry(),
        Arc::new(TemplateCompiler::default()),
        EngineConfig::default(),
    );
    router(ApiState::new(ServerConfig::default(), Arc::new(service)).unwrap())
}

pub async fn send(
    app: &axum::Router,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("Host", "heat.test");
    if body.is_some() {
        req = req.header("Content-Type", "application/json");
    }
    let req = req
        .body(
            body.map(|b| Body::from(b.to_string()))
                .unwrap_or_else(Body::empty),
        )
        .unwrap();
    let response = app.clone().oneshot(req).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

pub fn sample(name: &str) -> Value {
    let path = format!(
        "{}/tests/heat-samples/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}
