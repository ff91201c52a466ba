//! In-process mode: ember-api's router with the engine on the embedded store, called without a
//! socket. Requests take the same path through the same handlers as against `ember serve`.

use async_trait::async_trait;
use axum::body::Body;
use axum::Router;
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;

use crate::client::{ApiRequest, ApiResponse, Transport};
use crate::error::CliError;

/// The tenant of in-process requests (`auth = none` takes the project from the URL).
pub const LOCAL_TENANT: &str = "default";

/// The largest response body read back from the router.
const MAX_BODY: usize = 256 * 1024 * 1024;

pub struct InProcessTransport {
    router: Router,
}

impl InProcessTransport {
    pub fn new(engine: Arc<dyn ember_api::engine::Orchestrator>) -> Result<Self, CliError> {
        let config = ember_api::ServerConfig::default();
        let state = ember_api::ApiState::new(config, engine)
            .map_err(|e| CliError::Config(e.to_string()))?;
        Ok(Self {
            router: ember_api::router(state),
        })
    }
}

fn query_string(query: &[(String, String)]) -> String {
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    query
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, NON_ALPHANUMERIC),
                utf8_percent_encode(v, NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[async_trait]
impl Transport for InProcessTransport {
    async fn send(&self, request: ApiRequest) -> Result<ApiResponse, CliError> {
        let mut uri = format!("/v1/{LOCAL_TENANT}{}", request.path);
        if !request.query.is_empty() {
            uri.push('?');
            uri.push_str(&query_string(&request.query));
        }
        let body = match &request.body {
            Some(value) => Body::from(value.to_string()),
            None => Body::empty(),
        };
        let http_request = axum::http::Request::builder()
            .method(request.method.as_str())
            .uri(&uri)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .header("Host", "localhost")
            .body(body)
            .map_err(|e| CliError::Command(format!("cannot build request {uri}: {e}")))?;
        let response = self
            .router
            .clone()
            .oneshot(http_request)
            .await
            .map_err(|e| CliError::Command(format!("in-process request {uri} failed: {e}")))?;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("Location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = axum::body::to_bytes(response.into_body(), MAX_BODY)
            .await
            .map_err(|e| CliError::Command(format!("in-process response to {uri}: {e}")))?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok(ApiResponse {
            status,
            location,
            body,
        })
    }
}

/// The engine on the store at `store_url`.
pub async fn engine(store_url: &str) -> Result<Arc<dyn ember_api::engine::Orchestrator>, CliError> {
    Err(CliError::Config(format!(
        "the in-process engine is not in this build yet (store {store_url}); use --os-endpoint \
         to talk to a server"
    )))
}
