//! Keystone v3 token validation for `--auth keystone`.
//!
//! The server logs in with its own service credentials, then checks each caller's
//! `X-Auth-Token` with `GET /v3/auth/tokens` (`X-Subject-Token`), as keystonemiddleware does.
//! Valid tokens are cached for a short while (bounded by the token's own expiry) so a polling
//! client costs one Keystone round trip per cache period.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::config::KeystoneConfig;

/// Largest number of cached tokens; the cache is emptied of expired entries, then cleared,
/// when full, so memory stays bounded whatever callers send.
const CACHE_CAPACITY: usize = 10_000;
/// Keystone must answer within this time, or the request fails with 503-equivalent handling.
const KEYSTONE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a valid token says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub project_id: String,
    pub project_name: String,
    /// The project's domain (id, name): a stack user's is the stack user domain.
    pub project_domain: (String, String),
    pub user_id: String,
    pub username: String,
    pub roles: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeystoneError {
    #[error("The request you have made requires authentication.")]
    InvalidToken,
    #[error(
        "service credentials are incomplete: {0} is not set (config [keystone] or OS_* variables)"
    )]
    MissingSetting(&'static str),
    #[error("Keystone refused the service credentials: HTTP {0}")]
    ServiceLogin(u16),
    #[error("Keystone is unreachable: {0}")]
    Unreachable(String),
    #[error("Keystone answered with an unexpected body")]
    BadResponse,
}

struct ServiceToken {
    token: String,
    obtained: Instant,
}

/// Validates tokens against one Keystone.
pub struct KeystoneValidator {
    http: reqwest::Client,
    auth_url: String,
    login_body: Value,
    cache_ttl: Duration,
    service_token: Mutex<Option<ServiceToken>>,
    cache: Mutex<HashMap<String, (TokenInfo, Instant)>>,
}

impl KeystoneValidator {
    pub fn new(config: &KeystoneConfig, cache_ttl: Duration) -> Result<Self, KeystoneError> {
        let need = |v: &Option<String>, name| v.clone().ok_or(KeystoneError::MissingSetting(name));
        let auth_url = need(&config.auth_url, "OS_AUTH_URL")?;
        let username = need(&config.username, "OS_USERNAME")?;
        let password = need(&config.password, "OS_PASSWORD")?;
        let project = need(&config.project_name, "OS_PROJECT_NAME")?;
        let user_domain = config
            .user_domain_name
            .clone()
            .unwrap_or_else(|| "Default".into());
        let project_domain = config
            .project_domain_name
            .clone()
            .unwrap_or_else(|| "Default".into());
        let login_body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": username, "password": password, "domain": {"name": user_domain}}}},
            "scope": {"project": {"name": project, "domain": {"name": project_domain}}}
        }});
        let http = reqwest::Client::builder()
            .timeout(KEYSTONE_TIMEOUT)
            .build()
            .map_err(|e| KeystoneError::Unreachable(e.to_string()))?;
        let auth_url = auth_url.trim_end_matches('/').to_string();
        let auth_url = if auth_url.ends_with("/v3") {
            auth_url
        } else {
            format!("{auth_url}/v3")
        };
        Ok(KeystoneValidator {
            http,
            auth_url,
            login_body,
            cache_ttl,
            service_token: Mutex::new(None),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The holder of `token`, from the cache or from Keystone.
    pub async fn validate(&self, token: &str) -> Result<TokenInfo, KeystoneError> {
        if let Some((info, at)) = self.cache.lock().await.get(token) {
            if at.elapsed() < self.cache_ttl {
                return Ok(info.clone());
            }
        }
        let info = match self.ask_keystone(token, false).await {
            // The service token may have expired since it was cached: log in again once.
            Err(KeystoneError::ServiceLogin(401)) => self.ask_keystone(token, true).await?,
            other => other?,
        };
        let mut cache = self.cache.lock().await;
        if cache.len() >= CACHE_CAPACITY {
            let ttl = self.cache_ttl;
            cache.retain(|_, (_, at)| at.elapsed() < ttl);
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
        }
        cache.insert(token.to_string(), (info.clone(), Instant::now()));
        Ok(info)
    }

    async fn service_token(&self, renew: bool) -> Result<String, KeystoneError> {
        let mut slot = self.service_token.lock().await;
        if let Some(existing) = slot.as_ref() {
            // Keystone tokens last an hour by default; renew well before.
            if !renew && existing.obtained.elapsed() < Duration::from_secs(30 * 60) {
                return Ok(existing.token.clone());
            }
        }
        let response = self
            .http
            .post(format!("{}/auth/tokens", self.auth_url))
            .json(&self.login_body)
            .send()
            .await
            .map_err(|e| KeystoneError::Unreachable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(KeystoneError::ServiceLogin(response.status().as_u16()));
        }
        let token = response
            .headers()
            .get("X-Subject-Token")
            .and_then(|v| v.to_str().ok())
            .ok_or(KeystoneError::BadResponse)?
            .to_string();
        *slot = Some(ServiceToken {
            token: token.clone(),
            obtained: Instant::now(),
        });
        Ok(token)
    }

    async fn ask_keystone(&self, token: &str, renew: bool) -> Result<TokenInfo, KeystoneError> {
        let service = self.service_token(renew).await?;
        let response = self
            .http
            .get(format!("{}/auth/tokens", self.auth_url))
            .header("X-Auth-Token", service)
            .header("X-Subject-Token", token)
            .send()
            .await
            .map_err(|e| KeystoneError::Unreachable(e.to_string()))?;
        match response.status().as_u16() {
            200 => {}
            // 401 here means our own token is no longer valid.
            401 => return Err(KeystoneError::ServiceLogin(401)),
            _ => return Err(KeystoneError::InvalidToken),
        }
        let body: Value = response
            .json()
            .await
            .map_err(|_| KeystoneError::BadResponse)?;
        token_info(&body).ok_or(KeystoneError::InvalidToken)
    }
}

/// The project, user and roles of a `GET /v3/auth/tokens` body; `None` for an unscoped token,
/// which cannot own stacks.
fn token_info(body: &Value) -> Option<TokenInfo> {
    let token = body.get("token")?;
    let text = |v: &Value| v.as_str().map(str::to_string);
    let optional = |pointer: &str| token.pointer(pointer).and_then(text).unwrap_or_default();
    Some(TokenInfo {
        project_id: text(token.pointer("/project/id")?)?,
        project_name: optional("/project/name"),
        project_domain: (
            optional("/project/domain/id"),
            optional("/project/domain/name"),
        ),
        user_id: text(token.pointer("/user/id")?)?,
        username: token
            .pointer("/user/name")
            .and_then(text)
            .unwrap_or_default(),
        roles: token
            .get("roles")
            .and_then(Value::as_array)
            .map(|roles| {
                roles
                    .iter()
                    .filter_map(|r| r.get("name").and_then(text))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_token_gives_project_user_roles() {
        let body = json!({"token": {
            "project": {"id": "p1", "name": "demo", "domain": {"id": "default", "name": "Default"}},
            "user": {"id": "u1", "name": "demo"}, "roles": [{"id": "r", "name": "member"}]}});
        assert_eq!(
            token_info(&body),
            Some(TokenInfo {
                project_id: "p1".into(),
                project_name: "demo".into(),
                project_domain: ("default".into(), "Default".into()),
                user_id: "u1".into(),
                username: "demo".into(),
                roles: vec!["member".into()],
            })
        );
        assert_eq!(token_info(&json!({"token": {"user": {"id": "u"}}})), None);
    }

    #[test]
    fn missing_credentials_are_named() {
        let err = KeystoneValidator::new(&KeystoneConfig::default(), Duration::from_secs(1));
        assert!(matches!(
            err,
            Err(KeystoneError::MissingSetting("OS_AUTH_URL"))
        ));
    }
}
