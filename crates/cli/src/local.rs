//! In-process mode: ember-api's router with the engine on the embedded store, called without a
//! socket. Requests take the same path through the same handlers as against `ember serve`.

use async_trait::async_trait;
use axum::body::Body;
use axum::Router;
use ember_api::engine::Orchestrator;
use ember_engine::nested::SignalUrls;
use ember_engine::stack_domain::StackDomain;
use ember_engine::store_adapter::SqlStore;
use ember_engine::{CloudProvider, EngineConfig, Service, TemplateCompiler};
use ember_openstack::{CloudConfig, Session};
use ember_resources::openstack::Cloud;
use ember_store::EncryptionKey;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;
use tower::ServiceExt;

use crate::client::{ApiRequest, ApiResponse, Transport};
use crate::error::CliError;

/// The tenant of in-process requests (`auth = none` takes the project from the URL).
pub const LOCAL_TENANT: &str = "default";

/// The largest response body read back from the router.
const MAX_BODY: usize = 256 * 1024 * 1024;

/// The router is built on the first request, so that commands failing before they need the
/// service (a bad template file, `ember info`) never open the store or reach the cloud.
pub struct InProcessTransport {
    store_url: String,
    router: OnceCell<Router>,
    /// The cloud every stack of this process uses (see [`cloud_session`]).
    cloud: OnceCell<Option<Arc<Cloud>>>,
}

impl InProcessTransport {
    pub fn new(store_url: String) -> Self {
        Self {
            store_url,
            router: OnceCell::new(),
            cloud: OnceCell::new(),
        }
    }

    async fn router(&self) -> Result<Router, CliError> {
        let router = self
            .router
            .get_or_try_init(|| async {
                let cloud = self
                    .cloud
                    .get_or_init(|| async { cloud_session().await.map(Cloud::from_session) })
                    .await;
                let clouds = cloud.clone().map(|c| c as Arc<dyn CloudProvider>);
                // The stack user domain, as `ember serve` reads it from `EMBER_*`/`OS_*`
                // (only that: the server's other settings do not apply in process).
                let mut settings = ember_api::ServerConfig::default();
                settings
                    .apply_env(|key| std::env::var(key).ok())
                    .map_err(|e| CliError::Config(e.to_string()))?;
                let engine =
                    engine(&self.store_url, clouds, None, stack_domain(&settings)?).await?;
                // In process the user is the operator: abandon/export are not a server policy.
                let config = ember_api::ServerConfig {
                    enable_stack_abandon: true,
                    ..Default::default()
                };
                let state = ember_api::ApiState::new(config, engine)
                    .map_err(|e| CliError::Config(e.to_string()))?;
                Ok::<_, CliError>(ember_api::router(state))
            })
            .await?;
        Ok(router.clone())
    }
}

/// The API calls this process made to each service, logged (target `ember::cloud`, level
/// debug, shown with `EMBER_LOG=ember::cloud=debug`) when the command is done.
impl Drop for InProcessTransport {
    fn drop(&mut self) {
        if let Some(session) = self.cloud.get().and_then(|c| c.as_ref()?.connected()) {
            let counts = session.call_counts();
            let total: u64 = counts.values().sum();
            let per_service = counts
                .iter()
                .map(|(service, n)| format!("{service}={n}"))
                .collect::<Vec<_>>()
                .join(" ");
            tracing::debug!(target: "ember::cloud", "cloud API calls: {total} ({per_service})");
        }
    }
}

/// The cloud session of local mode: credentials from `OS_*` variables or `OS_CLOUD` (they never
/// switch the CLI into client mode). `None` without credentials; when the cloud cannot be
/// reached, a warning and `None`, so that commands not touching the cloud still work (OpenStack
/// resources then fail with the connection error as their reason).
async fn cloud_session() -> Option<Session> {
    let has_credentials = ["OS_AUTH_URL", "OS_CLOUD"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
    if !has_credentials {
        return None;
    }
    let connected = async { Session::connect(CloudConfig::from_env()?).await }.await;
    match connected {
        Ok(session) => Some(session),
        Err(error) => {
            tracing::warn!("OS_* credentials are set but the cloud cannot be reached: {error}");
            None
        }
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
            .router()
            .await?
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

/// How long a stack lock of this process stays valid without a heartbeat.
const LOCK_LEASE: Duration = Duration::from_secs(30);

/// The engine on the store at `store_url`, with every built-in resource type, started (actions
/// that a previous process left in progress are resumed). `clouds` gives each stack's resource
/// handlers their `ResourceContext::cloud` (and makes the trusts of `--auth keystone`); without
/// it the OpenStack types read `OS_*` themselves.
/// `signal_urls` (from `ember serve`) mints the signal URLs and tokens the server accepts;
/// `stack_domain` is Heat's stack user domain (see [`stack_domain`]).
pub async fn engine(
    store_url: &str,
    clouds: Option<Arc<dyn CloudProvider>>,
    signal_urls: Option<Arc<dyn SignalUrls>>,
    stack_domain: Option<Arc<dyn StackDomain>>,
) -> Result<Arc<dyn Orchestrator>, CliError> {
    let key = encryption_key()?;
    let store = SqlStore::open(store_url, &key, LOCK_LEASE)
        .await
        .map_err(|e| CliError::Config(format!("cannot open the store {store_url}: {e}")))?;
    let service = Service::new(
        Arc::new(store),
        ember_resources::registry(),
        Arc::new(TemplateCompiler::default()),
        EngineConfig {
            clouds,
            signal_urls,
            stack_domain,
            ..EngineConfig::default()
        },
    );
    service
        .start()
        .await
        .map_err(|e| CliError::Config(format!("cannot start the engine on {store_url}: {e}")))?;
    Ok(Arc::new(service))
}

/// Heat's stack user domain from the settings (`stack_user_domain_*`, `stack_domain_admin*`),
/// acting as the domain admin at the `[keystone]` auth URL; `None` without a domain.
pub fn stack_domain(
    config: &ember_api::ServerConfig,
) -> Result<Option<Arc<dyn StackDomain>>, CliError> {
    let Some(vars) = config
        .stack_domain_vars()
        .map_err(|e| CliError::Config(e.to_string()))?
    else {
        return Ok(None);
    };
    let admin = CloudConfig::from_vars(&vars, &[])
        .map_err(|e| CliError::Config(format!("the stack domain admin's login: {e}")))?;
    Ok(Some(Arc::new(
        ember_resources::openstack::KeystoneStackDomain::new(admin),
    )))
}

/// The key hidden parameter values are encrypted with: `EMBER_ENCRYPTION_KEY` (32 bytes), else
/// a random key kept in `encryption.key` in the user's data directory, made on first use.
fn encryption_key() -> Result<EncryptionKey, CliError> {
    EncryptionKey::from_bytes(&encryption_key_bytes()?).map_err(|e| CliError::Config(e.to_string()))
}

/// `ember serve`'s URL signing secret when none is configured: derived from the store's
/// encryption key, so signal URLs minted before a restart keep working after it.
pub fn derived_signing_secret() -> Result<String, CliError> {
    Ok(ember_api::signing::derive_secret(
        &encryption_key_bytes()?,
        "ember signal URLs",
    ))
}

fn encryption_key_bytes() -> Result<Vec<u8>, CliError> {
    if let Ok(text) = std::env::var("EMBER_ENCRYPTION_KEY") {
        return Ok(text.into_bytes());
    }
    let path = crate::mode::data_dir()?.join("encryption.key");
    match std::fs::read(&path) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            rand::Rng::fill(&mut rand::rngs::OsRng, &mut key);
            write_private(&path, &key)
                .map_err(|e| CliError::io(format!("cannot write {}", path.display()), e))?;
            Ok(key.to_vec())
        }
        Err(e) => Err(CliError::io(format!("cannot read {}", path.display()), e)),
    }
}

/// Writes a file only its owner can read.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}
