//! ember-api: Heat's orchestration REST API v1 over HTTP (`ember serve`).
//!
//! - [`router`] builds the axum [`Router`]: every route of Heat's API v1 under
//!   `/v1/{tenant_id}`, the version document at `/`, the CFN signal endpoints
//!   (`/v1/waitcondition/{arn}`, `/v1/signal/{arn}`), a server's pre-signed metadata
//!   (`/v1/metadata/{arn}`) and `/openapi.json`.
//! - [`serve`] binds [`ServerConfig::bind`] and serves that router until Ctrl-C or SIGTERM.
//! - The engine is reached through the [`engine::Orchestrator`] trait, one [`engine::EngineCall`]
//!   per Heat engine RPC; [`ApiState::new`] takes the engine and the configuration.
//! - [`signing`] mints and checks the pre-signed URLs of wait conditions and signals.
//!
//! For the CLI: build `ServerConfig::load(config_file)`, apply the flags (`bind`, `auth`), make
//! the engine, then `serve(ApiState::new(config, engine)?)`; in-process mode uses
//! `router(state)` with `tower::ServiceExt::oneshot` and `auth = none`.

pub mod cfn;
pub mod config;
pub mod engine;
mod engine_adapter;
pub mod fault;
pub mod http;
pub mod keystone;
mod routes;
pub mod signing;
mod stack_user;

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use axum::Router;
use serde_json::{json, Value};

pub use config::{AuthMode, ServerConfig};
use engine::{EngineCall, EngineError, Orchestrator, RequestContext};
use fault::ApiError;
use keystone::{KeystoneError, KeystoneValidator};
use signing::{SignedTarget, SigningKey};

/// The OpenAPI 3 description of the routes, served at `/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct ApiState(Arc<StateInner>);

pub struct StateInner {
    pub config: ServerConfig,
    pub engine: Arc<dyn Orchestrator>,
    pub signing_key: SigningKey,
    keystone: Option<KeystoneValidator>,
}

impl Deref for ApiState {
    type Target = StateInner;
    fn deref(&self) -> &StateInner {
        &self.0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Keystone(#[from] KeystoneError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
}

impl ApiState {
    /// Checks the Keystone settings when `auth = keystone` (the first token check logs in).
    /// Without a configured signing key one is made here (see [`ServerConfig::ensure_signing_key`]).
    pub fn new(config: ServerConfig, engine: Arc<dyn Orchestrator>) -> Result<Self, ServeError> {
        let keystone = match config.auth {
            AuthMode::None => None,
            AuthMode::Keystone => Some(KeystoneValidator::new(
                &config.keystone,
                Duration::from_secs(config.token_cache_seconds),
            )?),
        };
        let mut config = config;
        config.ensure_signing_key();
        let signing_key =
            SigningKey::new(config.signing_key.as_deref().unwrap_or_default().as_bytes());
        Ok(ApiState(Arc::new(StateInner {
            config,
            engine,
            signing_key,
            keystone,
        })))
    }

    /// One engine call, its error turned into Heat's HTTP error.
    pub async fn call(&self, ctx: &RequestContext, call: EngineCall) -> Result<Value, ApiError> {
        self.engine
            .call(ctx, call)
            .await
            .map_err(|EngineError { heat_type, message }| {
                ApiError::from_heat_type(&heat_type, message)
            })
    }

    /// Heat's `context_is_admin` policy; with `auth = none` the caller owns the server.
    pub fn require_admin(&self, ctx: &RequestContext) -> Result<(), ApiError> {
        if self.config.auth == AuthMode::None || ctx.is_admin {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }

    /// The pre-signed URL for `target` (see [`UrlSigner`]).
    pub fn signed_url(&self, target: &SignedTarget) -> String {
        UrlSigner::new(&self.config).url(target)
    }
}

/// Mints the pre-signed wait-condition and signal URLs the server accepts: the engine's wait
/// handles and scaling policies take one, built from the same [`ServerConfig`] as the server
/// (call [`ServerConfig::ensure_signing_key`] first so both share the key).
#[derive(Debug, Clone)]
pub struct UrlSigner {
    key: SigningKey,
    base_url: String,
    lifetime_seconds: i64,
}

impl UrlSigner {
    pub fn new(config: &ServerConfig) -> Self {
        UrlSigner {
            key: config
                .signing_key
                .as_deref()
                .map_or_else(SigningKey::random, |k| SigningKey::new(k.as_bytes())),
            base_url: config
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", config.bind)),
            lifetime_seconds: i64::try_from(config.signed_url_lifetime_seconds).unwrap_or(i64::MAX),
        }
    }

    /// The URL for `target`, valid for the configured lifetime from now.
    pub fn url(&self, target: &SignedTarget) -> String {
        signing::sign_url(&self.key, target, &self.base_url, self.expiry())
    }
}

/// The whole HTTP API.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/", any(versions))
        .route("/versions", any(versions))
        .route("/openapi.json", get(openapi))
        .route("/v1/waitcondition/{*arn}", put(cfn::waitcondition))
        .route("/v1/signal/{*arn}", post(cfn::signal))
        .route("/v1/metadata/{*arn}", get(cfn::metadata))
        .nest("/v1/{tenant_id}", routes::tenant_routes())
        .fallback(negotiate_version)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate,
        ))
        .with_state(state)
}

/// Serves [`router`] on `state.config.bind` until Ctrl-C or SIGTERM.
pub async fn serve(state: ApiState) -> Result<(), ServeError> {
    let addr = state.config.bind;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    tracing::info!(%addr, auth = ?state.config.auth, "ember-api listening");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        // If the handler cannot be installed, run until terminated otherwise.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

fn base_url(state: &ApiState, req: &Request) -> String {
    if let Some(url) = &state.config.public_url {
        return url.trim_end_matches('/').to_string();
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| state.config.bind.to_string());
    format!("http://{host}")
}

/// Heat's version document, with status 300 Multiple Choices.
async fn versions(State(state): State<ApiState>, req: Request) -> Response {
    let href = format!("{}/v1/", base_url(&state, &req));
    let body = json!({"versions": [{"id": "v1.0", "links": [{"href": href, "rel": "self"}], "status": "CURRENT"}]});
    (StatusCode::MULTIPLE_CHOICES, axum::Json(body)).into_response()
}

async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI_JSON,
    )
        .into_response()
}

/// Paths no route knows: another API version gets the version document (Heat's version
/// negotiation), anything else webob's 404.
async fn negotiate_version(State(state): State<ApiState>, req: Request) -> Response {
    let first = req
        .uri()
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("");
    let versioned = first.strip_prefix('v').is_some_and(|v| {
        let mut parts = v.splitn(2, '.');
        parts
            .next()
            .is_some_and(|major| !major.is_empty() && major.bytes().all(|b| b.is_ascii_digit()))
    });
    if versioned && first != "v1" && first != "v1.0" {
        return versions(State(state), req).await;
    }
    http::no_route()
}

/// keystonemiddleware's 401 body.
fn unauthorized() -> Response {
    let body = json!({"error": {"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}});
    let mut response = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Keystone"),
    );
    response
}

/// Builds the [`RequestContext`] of every `/v1/{tenant_id}/...` request: from the URL with
/// `auth = none`, from the validated token with `auth = keystone`. A token of another project
/// than the URL's is refused (403) unless it is an admin's, as in Heat.
async fn authenticate(State(state): State<ApiState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let mut segments = path.trim_start_matches('/').split('/');
    let tenant = match (segments.next(), segments.next()) {
        (Some("v1"), Some(t))
            if !t.is_empty() && !["waitcondition", "signal", "metadata"].contains(&t) =>
        {
            t.to_string()
        }
        _ => return next.run(req).await,
    };
    let request_id = format!("req-{}", uuid::Uuid::new_v4());
    // With Keystone, a wait condition handle's token is accepted for that handle's signal.
    let handle_token = state.keystone.as_ref().and_then(|_| {
        let token = req.headers().get("X-Auth-Token")?.to_str().ok()?;
        cfn::handle_token_context(&state, req.method(), &path, token, &request_id)
    });
    let ctx = match (&state.keystone, handle_token) {
        (_, Some(ctx)) => ctx,
        (None, None) => RequestContext {
            project_id: tenant,
            user_id: None,
            username: None,
            roles: Vec::new(),
            is_admin: false,
            auth_token: None,
            request_id,
        },
        (Some(keystone), None) => {
            let Some(token) = req
                .headers()
                .get("X-Auth-Token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
            else {
                return unauthorized();
            };
            let info = match keystone.validate(&token).await {
                Ok(info) => info,
                Err(KeystoneError::InvalidToken) => return unauthorized(),
                Err(other) => {
                    tracing::error!(error = %other, "token validation failed");
                    return ApiError::http(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Authentication service unavailable",
                    )
                    .into_response();
                }
            };
            // Stack users may only read metadata and signal, as their stack's owner.
            if stack_user::is_stack_user(&state.config, &info) {
                match stack_user::context(&state, req.method(), &path, &info, &request_id).await {
                    Ok(ctx) => ctx,
                    Err(refused) => return refused.into_response(),
                }
            } else {
                let is_admin = info
                    .roles
                    .iter()
                    .any(|r| state.config.keystone.admin_roles.contains(r));
                if info.project_id != tenant && !is_admin {
                    return ApiError::forbidden().into_response();
                }
                RequestContext {
                    project_id: info.project_id,
                    user_id: Some(info.user_id),
                    username: Some(info.username),
                    roles: info.roles,
                    is_admin,
                    auth_token: Some(token),
                    request_id,
                }
            }
        }
    };
    let request_id = HeaderValue::from_str(&ctx.request_id).ok();
    req.extensions_mut().insert(ctx);
    let mut response = next.run(req).await;
    if let Some(id) = request_id {
        response.headers_mut().insert("x-openstack-request-id", id);
    }
    response
}
