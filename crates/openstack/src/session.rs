//! An authenticated connection to one cloud: the Keystone token (renewed before it expires or
//! when a service answers 401), per-service clients, retries with backoff and call counting.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::Method;
use serde_json::{json, Value};

use crate::catalog::{Catalog, ServiceType};
use crate::config::{CloudConfig, Credentials, NameOrId, Scope};
use crate::error::{service_message, Error};
use crate::retry::RetryPolicy;

/// Nova microversion: 2.84 adds `details` (the fault message) to instance action events, which is
/// how a refused resize is explained; key pair generation (removed in 2.92) still works.
pub const COMPUTE_MICROVERSION: &str = "2.84";
/// Cinder microversion: user messages (3.3, the reason a volume went to `error`) and filters.
pub const VOLUME_MICROVERSION: &str = "3.60";

/// Renew a token this long before Keystone says it expires.
const TOKEN_RENEW_MARGIN: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// A Keystone token and what came with it.
#[derive(Clone)]
pub struct Token {
    value: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub user_id: String,
    pub project_id: Option<String>,
    pub roles: Vec<String>,
    /// The trust this token acts under (`OS-TRUST:trust.id`), if any.
    pub trust_id: Option<String>,
    pub catalog: Catalog,
}

impl Token {
    /// The token itself, to send as `X-Auth-Token` (e.g. when handing it to another component).
    pub fn secret(&self) -> &str {
        &self.value
    }

    /// Valid for longer than the renewal margin (a token without an expiry always is).
    fn is_fresh(&self) -> bool {
        self.expires_at
            .is_none_or(|at| at - TOKEN_RENEW_MARGIN > Utc::now())
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("user_id", &self.user_id)
            .field("project_id", &self.project_id)
            .field("trust_id", &self.trust_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A connection to one cloud, cheap to clone and shared by every resource of a stack action.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: CloudConfig,
    retry: RetryPolicy,
    token: tokio::sync::Mutex<Option<Token>>,
    /// The session logs in with `config.reauthentication` from now on.
    reauthenticated: AtomicBool,
    calls: Mutex<BTreeMap<ServiceType, u64>>,
}

impl Session {
    /// Authenticate against Keystone and keep the token.
    pub async fn connect(config: CloudConfig) -> Result<Session, Error> {
        Self::connect_with(config, RetryPolicy::default()).await
    }

    pub async fn connect_with(config: CloudConfig, retry: RetryPolicy) -> Result<Session, Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.timeouts.connect)
            .danger_accept_invalid_certs(config.insecure)
            .user_agent(concat!("ember/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| Error::Transport {
                service: ServiceType::Identity,
                source,
            })?;
        let session = Session {
            inner: Arc::new(Inner {
                http,
                config,
                retry,
                token: tokio::sync::Mutex::new(None),
                reauthenticated: AtomicBool::new(false),
                calls: Mutex::new(BTreeMap::new()),
            }),
        };
        session.token().await?;
        Ok(session)
    }

    pub fn config(&self) -> &CloudConfig {
        &self.inner.config
    }

    /// A token valid for at least a few more minutes, renewed if needed.
    pub async fn token(&self) -> Result<Token, Error> {
        let mut slot = self.inner.token.lock().await;
        if let Some(token) = slot.as_ref().filter(|t| t.is_fresh()) {
            return Ok(token.clone());
        }
        let token = self.authenticate().await?;
        *slot = Some(token.clone());
        Ok(token)
    }

    /// Forget `rejected` (a service answered 401 with it) so the next call authenticates again.
    async fn drop_token(&self, rejected: &Token) {
        let mut slot = self.inner.token.lock().await;
        if slot.as_ref().is_some_and(|t| t.value == rejected.value) {
            *slot = None;
        }
    }

    /// The client of one service, at the endpoint the catalog gives for the configured region and
    /// interface.
    pub async fn service(&self, service: ServiceType) -> Result<ServiceClient, Error> {
        let token = self.token().await?;
        let mut endpoint = token.catalog.endpoint(
            service,
            self.inner.config.region.as_deref(),
            self.inner.config.interface,
        )?;
        // Cinder's v3 root without the project id needs microversion 3.67; adding the id works
        // with every microversion.
        if service == ServiceType::BlockStorage && endpoint.ends_with("/v3") {
            if let Some(project) = &token.project_id {
                endpoint = format!("{endpoint}/{project}");
            }
        }
        let microversion = match service {
            ServiceType::Compute => Some(("compute", COMPUTE_MICROVERSION)),
            ServiceType::BlockStorage => Some(("volume", VOLUME_MICROVERSION)),
            _ => None,
        };
        Ok(ServiceClient {
            session: self.clone(),
            service,
            endpoint,
            microversion,
        })
    }

    /// HTTP requests made so far to each service, retries and polls included (Keystone token
    /// requests count under `identity`).
    pub fn call_counts(&self) -> BTreeMap<ServiceType, u64> {
        self.inner
            .calls
            .lock()
            .map(|calls| calls.clone())
            .unwrap_or_default()
    }

    fn count(&self, service: ServiceType) {
        if let Ok(mut calls) = self.inner.calls.lock() {
            *calls.entry(service).or_default() += 1;
        }
    }

    /// A new token from the configured login, or from the reauthentication login once the
    /// first one is refused (401/404: the token it presents is gone) or only yields a token
    /// about to expire (a token renewed from a token keeps the original's expiry).
    async fn authenticate(&self) -> Result<Token, Error> {
        let config = &self.inner.config;
        let Some(second) = &config.reauthentication else {
            return self.login(&config.credentials, &config.scope).await;
        };
        if !self.inner.reauthenticated.load(Ordering::Relaxed) {
            match self.login(&config.credentials, &config.scope).await {
                Ok(token) if token.is_fresh() => return Ok(token),
                Ok(_) => {}
                Err(e) if matches!(e.status(), Some(401 | 404)) => {}
                Err(e) => return Err(e),
            }
            tracing::info!("the session's own login no longer gives a token: reauthenticating");
            self.inner.reauthenticated.store(true, Ordering::Relaxed);
        }
        self.login(&second.credentials, &second.scope).await
    }

    async fn login(&self, credentials: &Credentials, scope: &Scope) -> Result<Token, Error> {
        let config = &self.inner.config;
        let url = format!("{}/auth/tokens", config.auth_url.trim_end_matches('/'));
        let body = auth_body(credentials, scope);
        let mut attempt = 0;
        loop {
            self.count(ServiceType::Identity);
            let sent = self
                .inner
                .http
                .post(&url)
                .timeout(config.timeouts.request)
                .json(&body)
                .send()
                .await;
            let response = match sent {
                Ok(response) => response,
                Err(source) => {
                    // Asking for a token has no side effect: retry any transport failure.
                    if let Some(delay) = self.inner.retry.delay(attempt, None) {
                        attempt += 1;
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    return Err(transport(ServiceType::Identity, source, config));
                }
            };
            let status = response.status().as_u16();
            if status >= 500 {
                if let Some(delay) = self.inner.retry.delay(attempt, None) {
                    attempt += 1;
                    tokio::time::sleep(delay).await;
                    continue;
                }
            }
            let headers = response.headers().clone();
            let text = response
                .text()
                .await
                .map_err(|source| transport(ServiceType::Identity, source, config))?;
            if status >= 300 {
                return Err(api_error(ServiceType::Identity, status, &headers, &text));
            }
            let value = headers
                .get("x-subject-token")
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| Error::Decode {
                    service: ServiceType::Identity,
                    detail: "no X-Subject-Token header".into(),
                })?
                .to_string();
            let body: Value = serde_json::from_str(&text).map_err(|e| Error::Decode {
                service: ServiceType::Identity,
                detail: e.to_string(),
            })?;
            return parse_token(value, &body);
        }
    }

    /// Send one request, with the retry policy of its method; see [`Request`].
    async fn execute(&self, client: &ServiceClient, request: Request) -> Result<Response, Error> {
        let url = if request.path.starts_with("http://") || request.path.starts_with("https://") {
            request.path.clone()
        } else {
            format!("{}{}", client.endpoint, request.path)
        };
        let idempotent = request.idempotent.unwrap_or(matches!(
            request.method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE
        ));
        let timeout = request
            .timeout
            .unwrap_or(self.inner.config.timeouts.request);
        let mut attempt = 0;
        let mut renewed_token = false;
        loop {
            let token = self.token().await?;
            self.count(client.service);
            let mut builder = self
                .inner
                .http
                .request(request.method.clone(), &url)
                .timeout(timeout)
                .header("X-Auth-Token", token.value.as_str())
                .header("Accept", "application/json")
                .query(&request.query);
            if let Some((name, version)) = client.microversion {
                builder = builder.header("OpenStack-API-Version", format!("{name} {version}"));
                if name == "compute" {
                    builder = builder.header("X-OpenStack-Nova-API-Version", version);
                }
            }
            for (name, value) in &request.headers {
                builder = builder.header(name.as_str(), value.as_str());
            }
            builder = match &request.body {
                Body::None => builder,
                Body::Json(value) => builder.json(value),
                Body::Raw {
                    bytes,
                    content_type,
                } => builder
                    .header(CONTENT_TYPE, HeaderValue::from_static(content_type))
                    // Sent even for an empty body, which otherwise goes without one and
                    // Swift's object PUT refuses (411).
                    .header(CONTENT_LENGTH, bytes.len())
                    .body(bytes.clone()),
            };
            let outcome = builder.send().await;
            let response = match outcome {
                Ok(response) => response,
                Err(source) => {
                    // A refused connection never reached the service, so even a POST is safe to
                    // send again; anything later may have been acted on.
                    let retry = source.is_connect() || idempotent;
                    if retry {
                        if let Some(delay) = self.inner.retry.delay(attempt, None) {
                            tracing::debug!(service = %client.service, %url, attempt, "retrying after {source}");
                            attempt += 1;
                            tokio::time::sleep(delay).await;
                            continue;
                        }
                    }
                    if source.is_timeout() {
                        return Err(Error::Timeout {
                            service: client.service,
                            secs: timeout.as_secs(),
                        });
                    }
                    return Err(Error::Transport {
                        service: client.service,
                        source,
                    });
                }
            };
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            if status == 401 && !renewed_token {
                // The token was revoked or expired early: authenticate again once.
                renewed_token = true;
                self.drop_token(&token).await;
                continue;
            }
            // 429 (rate limited) was refused before any work; 409 and 5xx may be transient
            // (a port still being deleted, a service restarting) and are retried when repeating
            // the call cannot do the work twice.
            let retryable = status == 429 || (idempotent && (status == 409 || status >= 500));
            if retryable {
                if let Some(delay) = self.inner.retry.delay(attempt, retry_after(&headers)) {
                    tracing::debug!(service = %client.service, %url, status, attempt, "retrying");
                    attempt += 1;
                    tokio::time::sleep(delay).await;
                    continue;
                }
            }
            let bytes = response.bytes().await.map_err(|source| Error::Transport {
                service: client.service,
                source,
            })?;
            if status >= 400 {
                let text = String::from_utf8_lossy(&bytes);
                return Err(api_error(client.service, status, &headers, &text));
            }
            return Ok(Response {
                service: client.service,
                status,
                headers,
                body: bytes.to_vec(),
            });
        }
    }
}

fn transport(service: ServiceType, source: reqwest::Error, config: &CloudConfig) -> Error {
    if source.is_timeout() {
        Error::Timeout {
            service,
            secs: config.timeouts.request.as_secs(),
        }
    } else {
        Error::Transport { service, source }
    }
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

fn api_error(service: ServiceType, status: u16, headers: &HeaderMap, body: &str) -> Error {
    let request_id = headers
        .get("x-openstack-request-id")
        .or_else(|| headers.get("x-compute-request-id"))
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut message = service_message(body);
    if message.is_empty() {
        message = format!("HTTP {status}");
    }
    Error::Api {
        service,
        status,
        message,
        request_id,
    }
}

fn name_or_id_json(value: &NameOrId) -> Value {
    match value {
        NameOrId::Id(id) => json!({ "id": id }),
        NameOrId::Name { name, domain } => {
            let mut object = json!({ "name": name });
            if let Some(domain) = domain {
                object["domain"] = name_or_id_json(domain);
            }
            object
        }
    }
}

fn auth_body(credentials: &Credentials, scope: &Scope) -> Value {
    let identity = match credentials {
        Credentials::Password { user, password } => {
            let mut user = name_or_id_json(user);
            user["password"] = json!(password);
            json!({"methods": ["password"], "password": {"user": user}})
        }
        Credentials::Token { token } => {
            json!({"methods": ["token"], "token": {"id": token}})
        }
        Credentials::ApplicationCredential { id, secret } => json!({
            "methods": ["application_credential"],
            "application_credential": {"id": id, "secret": secret}
        }),
    };
    let mut auth = json!({ "identity": identity });
    // An application credential carries its own scope; Keystone refuses another one.
    if !matches!(credentials, Credentials::ApplicationCredential { .. }) {
        match scope {
            Scope::Project(project) => {
                auth["scope"] = json!({ "project": name_or_id_json(project) })
            }
            Scope::Domain(domain) => auth["scope"] = json!({ "domain": name_or_id_json(domain) }),
            Scope::Trust(trust) => auth["scope"] = json!({ "OS-TRUST:trust": { "id": trust } }),
            Scope::Default => {}
        }
    }
    json!({ "auth": auth })
}

fn parse_token(value: String, body: &Value) -> Result<Token, Error> {
    let token = &body["token"];
    let decode = |detail: &str| Error::Decode {
        service: ServiceType::Identity,
        detail: detail.to_string(),
    };
    let expires_at = match token["expires_at"].as_str() {
        Some(text) => Some(
            DateTime::parse_from_rfc3339(text)
                .map_err(|e| decode(&format!("expires_at {text:?}: {e}")))?
                .with_timezone(&Utc),
        ),
        None => None,
    };
    let catalog = match token.get("catalog") {
        Some(catalog) => Catalog::from_token_body(catalog)?,
        None => Catalog::default(),
    };
    Ok(Token {
        value,
        expires_at,
        user_id: token["user"]["id"]
            .as_str()
            .ok_or_else(|| decode("token has no user id"))?
            .to_string(),
        project_id: token["project"]["id"].as_str().map(str::to_string),
        roles: token["roles"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["name"].as_str().map(str::to_string))
            .collect(),
        trust_id: token["OS-TRUST:trust"]["id"].as_str().map(str::to_string),
        catalog,
    })
}

/// One OpenStack service reached through a [`Session`].
#[derive(Clone)]
pub struct ServiceClient {
    session: Session,
    service: ServiceType,
    endpoint: String,
    microversion: Option<(&'static str, &'static str)>,
}

enum Body {
    None,
    Json(Value),
    Raw {
        bytes: Vec<u8>,
        content_type: &'static str,
    },
}

/// A request being built; [`Request::send`] runs it.
///
/// GET, HEAD, PUT and DELETE are retried on 409, 5xx, timeouts and broken connections; POST and
/// PATCH only when the connection was refused or the service rate-limited the call (429), unless
/// [`Request::idempotent`] says otherwise.
pub struct Request {
    client: ServiceClient,
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Body,
    idempotent: Option<bool>,
    timeout: Option<Duration>,
}

impl Request {
    pub fn query(mut self, key: &str, value: impl Into<String>) -> Self {
        self.query.push((key.to_string(), value.into()));
        self
    }

    /// Add a header; names made at run time are for Swift's `X-Container-Meta-{key}`.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn json(mut self, body: Value) -> Self {
        self.body = Body::Json(body);
        self
    }

    pub fn raw(mut self, bytes: Vec<u8>, content_type: &'static str) -> Self {
        self.body = Body::Raw {
            bytes,
            content_type,
        };
        self
    }

    /// Override whether repeating this call is harmless (e.g. a PUT that adds a router
    /// interface is not: the second one is refused).
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = Some(idempotent);
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    pub async fn send(self) -> Result<Response, Error> {
        let client = self.client.clone();
        client.session.execute(&client, self).await
    }

    /// Send and decode the JSON answer (`Value::Null` for an empty body).
    pub async fn send_json(self) -> Result<Value, Error> {
        self.send().await?.json()
    }
}

/// A successful answer.
#[derive(Debug)]
pub struct Response {
    service: ServiceType,
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> Result<Value, Error> {
        if self.body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.body).map_err(|e| Error::Decode {
            service: self.service,
            detail: e.to_string(),
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The id the service gave this request (Nova records instance actions under it).
    pub fn request_id(&self) -> Option<&str> {
        self.header("x-openstack-request-id")
            .or_else(|| self.header("x-compute-request-id"))
    }
}

impl ServiceClient {
    pub fn service(&self) -> ServiceType {
        self.service
    }

    /// The versioned endpoint URL, without a trailing slash.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    /// A request to `path` (relative to the endpoint, starting with `/`; an absolute URL is
    /// used as is, for `next` links).
    pub fn request(&self, method: Method, path: impl Into<String>) -> Request {
        Request {
            client: self.clone(),
            method,
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: Body::None,
            idempotent: None,
            timeout: None,
        }
    }

    pub fn get(&self, path: impl Into<String>) -> Request {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: impl Into<String>, body: Value) -> Request {
        self.request(Method::POST, path).json(body)
    }

    pub fn put(&self, path: impl Into<String>, body: Value) -> Request {
        self.request(Method::PUT, path).json(body)
    }

    pub fn patch(&self, path: impl Into<String>) -> Request {
        self.request(Method::PATCH, path)
    }

    pub fn delete(&self, path: impl Into<String>) -> Request {
        self.request(Method::DELETE, path)
    }

    /// Deletes `path`; something already gone counts as deleted (as Heat's delete handlers
    /// treat it).
    pub async fn delete_if_present(&self, path: impl Into<String>) -> Result<(), Error> {
        match self.delete(path).send().await {
            Err(e) if e.is_not_found() => Ok(()),
            other => other.map(drop),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_body_with_project_scope() {
        let body = auth_body(
            &Credentials::Password {
                user: NameOrId::Name {
                    name: "demo".into(),
                    domain: Some(Box::new(NameOrId::Name {
                        name: "Default".into(),
                        domain: None,
                    })),
                },
                password: "pw".into(),
            },
            &Scope::Project(NameOrId::Id("p1".into())),
        );
        assert_eq!(
            body,
            json!({"auth": {
                "identity": {"methods": ["password"], "password": {"user":
                    {"name": "demo", "domain": {"name": "Default"}, "password": "pw"}}},
                "scope": {"project": {"id": "p1"}}}})
        );
    }

    #[test]
    fn trust_scope_and_application_credentials() {
        let trust = auth_body(
            &Credentials::Password {
                user: NameOrId::Id("heat".into()),
                password: "s".into(),
            },
            &Scope::Trust("t1".into()),
        );
        assert_eq!(
            trust["auth"]["scope"],
            json!({"OS-TRUST:trust": {"id": "t1"}})
        );
        let app = auth_body(
            &Credentials::ApplicationCredential {
                id: "a".into(),
                secret: "b".into(),
            },
            &Scope::Project(NameOrId::Id("p".into())),
        );
        assert!(app["auth"].get("scope").is_none());
    }

    #[test]
    fn token_body_is_parsed() {
        let token = parse_token(
            "gAAA".into(),
            &json!({"token": {
                "expires_at": "2026-11-26T00:00:00.000000Z",
                "user": {"id": "u1"}, "project": {"id": "p1"},
                "roles": [{"id": "r", "name": "member"}],
                "OS-TRUST:trust": {"id": "t1"},
                "catalog": []}}),
        )
        .unwrap();
        assert_eq!(token.user_id, "u1");
        assert_eq!(token.project_id.as_deref(), Some("p1"));
        assert_eq!(token.roles, vec!["member"]);
        assert_eq!(token.trust_id.as_deref(), Some("t1"));
        assert!(!format!("{token:?}").contains("gAAA"));
        assert!(parse_token("x".into(), &json!({"token": {}})).is_err());
    }
}
