//! Choosing between in-process mode and client mode, by one documented rule:
//!
//! 1. `--os-endpoint URL` (or `EMBER_URL`) → client mode against that orchestration endpoint.
//! 2. Else `--os-cloud NAME` naming a `clouds.yaml` cloud whose service catalog lists an
//!    `orchestration` endpoint → client mode against it, with that cloud's token.
//! 3. Else in-process mode: engine and API in this process on the embedded store
//!    (`--store-url`/`EMBER_STORE_URL`, default SQLite in the user's data directory).
//!
//! `OS_*` variables never switch modes: in-process mode uses them to reach the cloud for
//! OpenStack resources, and client mode only reads `OS_TOKEN`/`OS_AUTH_URL`... for a token.

use async_trait::async_trait;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

use crate::client::{ApiRequest, ApiResponse, Transport};
use crate::error::CliError;

/// The global options that decide the mode.
#[derive(Debug, Clone, clap::Args)]
pub struct ModeArgs {
    /// Orchestration endpoint to talk to (client mode), e.g. http://127.0.0.1:8004/v1/TENANT.
    #[arg(
        long = "os-endpoint",
        env = "EMBER_URL",
        global = true,
        value_name = "URL"
    )]
    pub endpoint: Option<String>,
    /// A clouds.yaml cloud; client mode when its catalog lists an orchestration endpoint.
    #[arg(long = "os-cloud", global = true, value_name = "NAME")]
    pub cloud: Option<String>,
    /// Token for client mode (otherwise obtained from Keystone when credentials are set).
    #[arg(
        long = "os-token",
        env = "OS_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Store for in-process mode (sqlite://PATH or postgres://...).
    #[arg(
        long = "store-url",
        env = "EMBER_STORE_URL",
        global = true,
        value_name = "URL"
    )]
    pub store_url: Option<String>,
}

/// The mode a command runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    InProcess {
        store_url: String,
    },
    Client {
        endpoint: String,
        token: Option<String>,
        source: String,
    },
}

impl Mode {
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        match self {
            Mode::InProcess { store_url } => vec![
                ("mode", "in-process".into()),
                ("store_url", store_url.clone()),
            ],
            Mode::Client {
                endpoint, source, ..
            } => vec![
                ("mode", "client".into()),
                ("endpoint", endpoint.clone()),
                ("chosen_by", source.clone()),
            ],
        }
    }
}

/// The embedded default store: `ember.db` in the user's data directory.
pub fn default_store_url() -> Result<String, CliError> {
    let dirs = directories::ProjectDirs::from("org", "ember", "ember").ok_or_else(|| {
        CliError::Config(
            "cannot find a home directory for the embedded store; set --store-url or \
             EMBER_STORE_URL"
                .into(),
        )
    })?;
    let path = dirs.data_dir().join("ember.db");
    Ok(format!("sqlite://{}?mode=rwc", path.display()))
}

impl ModeArgs {
    pub async fn resolve(&self) -> Result<Mode, CliError> {
        if let Some(endpoint) = &self.endpoint {
            let token = match &self.token {
                Some(t) => Some(t.clone()),
                None => match Credentials::from_env() {
                    Some(creds) => Some(creds.authenticate().await?.token),
                    None => None,
                },
            };
            return Ok(Mode::Client {
                endpoint: normalize_endpoint(endpoint),
                token,
                source: "--os-endpoint / EMBER_URL".into(),
            });
        }
        if let Some(cloud) = &self.cloud {
            let creds = Credentials::from_clouds_yaml(cloud)?;
            let session = creds.authenticate().await?;
            if let Some(endpoint) = session.orchestration_endpoint(&creds) {
                return Ok(Mode::Client {
                    endpoint: normalize_endpoint(&endpoint),
                    token: Some(session.token),
                    source: format!("--os-cloud {cloud} (catalog)"),
                });
            }
        }
        Ok(Mode::InProcess {
            store_url: match &self.store_url {
                Some(url) => url.clone(),
                None => default_store_url()?,
            },
        })
    }
}

/// An endpoint without a `/v1/{tenant}` part gets the local-mode tenant `default`.
fn normalize_endpoint(url: &str) -> String {
    let url = url.trim_end_matches('/');
    if url.contains("/v1/") {
        url.to_owned()
    } else if url.ends_with("/v1") {
        format!("{url}/default")
    } else {
        format!("{url}/v1/default")
    }
}

/// Keystone v3 password credentials, from `OS_*` variables or a clouds.yaml entry.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub auth_url: String,
    pub username: String,
    pub password: String,
    pub project_name: String,
    pub user_domain: String,
    pub project_domain: String,
    pub region: Option<String>,
    pub interface: String,
}

pub struct Session {
    pub token: String,
    catalog: Value,
}

impl Credentials {
    fn from_env() -> Option<Self> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Some(Self {
            auth_url: var("OS_AUTH_URL")?,
            username: var("OS_USERNAME")?,
            password: var("OS_PASSWORD")?,
            project_name: var("OS_PROJECT_NAME").unwrap_or_default(),
            user_domain: var("OS_USER_DOMAIN_NAME").unwrap_or_else(|| "Default".into()),
            project_domain: var("OS_PROJECT_DOMAIN_NAME").unwrap_or_else(|| "Default".into()),
            region: var("OS_REGION_NAME"),
            interface: var("OS_INTERFACE").unwrap_or_else(|| "public".into()),
        })
    }

    /// Reads the cloud from the first clouds.yaml found where openstacksdk looks.
    fn from_clouds_yaml(cloud: &str) -> Result<Self, CliError> {
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Ok(path) = std::env::var("OS_CLIENT_CONFIG_FILE") {
            candidates.push(path.into());
        }
        candidates.push("clouds.yaml".into());
        if let Some(base) = directories::BaseDirs::new() {
            candidates.push(base.config_dir().join("openstack/clouds.yaml"));
        }
        candidates.push("/etc/openstack/clouds.yaml".into());
        let path = candidates
            .iter()
            .find(|p| p.is_file())
            .ok_or_else(|| CliError::Config(format!("--os-cloud {cloud}: no clouds.yaml found")))?;
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::io(format!("cannot read {}", path.display()), e))?;
        let file = path.display().to_string();
        let doc = ember_template::parse_document(&text, &file, &Default::default())
            .map_err(|e| CliError::located(&e, Some(&text)))?
            .to_json();
        let entry = doc
            .get("clouds")
            .and_then(|c| c.get(cloud))
            .ok_or_else(|| CliError::Config(format!("cloud {cloud} is not in {file}")))?;
        let auth = entry.get("auth").cloned().unwrap_or(json!({}));
        let field = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        Ok(Self {
            auth_url: field(&auth, "auth_url")
                .ok_or_else(|| CliError::Config(format!("cloud {cloud} has no auth.auth_url")))?,
            username: field(&auth, "username").unwrap_or_default(),
            password: field(&auth, "password").unwrap_or_default(),
            project_name: field(&auth, "project_name").unwrap_or_default(),
            user_domain: field(&auth, "user_domain_name").unwrap_or_else(|| "Default".into()),
            project_domain: field(&auth, "project_domain_name").unwrap_or_else(|| "Default".into()),
            region: field(entry, "region_name"),
            interface: field(entry, "interface").unwrap_or_else(|| "public".into()),
        })
    }

    async fn authenticate(&self) -> Result<Session, CliError> {
        let base = self.auth_url.trim_end_matches('/');
        let url = if base.ends_with("/v3") {
            format!("{base}/auth/tokens")
        } else {
            format!("{base}/v3/auth/tokens")
        };
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": self.username, "domain": {"name": self.user_domain},
                "password": self.password}}},
            "scope": {"project": {"name": self.project_name,
                "domain": {"name": self.project_domain}}}}});
        let response = reqwest::Client::new()
            .post(&url)
            .timeout(Duration::from_secs(30))
            .json(&body)
            .send()
            .await
            .map_err(|source| CliError::Http {
                url: url.clone(),
                source,
            })?;
        let status = response.status();
        let token = response
            .headers()
            .get("X-Subject-Token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body: Value = response.json().await.unwrap_or(Value::Null);
        match token {
            Some(token) if status.is_success() => Ok(Session {
                token,
                catalog: body
                    .pointer("/token/catalog")
                    .cloned()
                    .unwrap_or(Value::Null),
            }),
            _ => Err(CliError::Command(format!(
                "Keystone authentication at {url} failed ({status}): {}",
                body.pointer("/error/message")
                    .and_then(Value::as_str)
                    .unwrap_or("no token returned")
            ))),
        }
    }
}

impl Session {
    fn orchestration_endpoint(&self, creds: &Credentials) -> Option<String> {
        let service = self
            .catalog
            .as_array()?
            .iter()
            .find(|s| s.get("type").and_then(Value::as_str) == Some("orchestration"))?;
        service
            .get("endpoints")?
            .as_array()?
            .iter()
            .find(|e| {
                e.get("interface").and_then(Value::as_str) == Some(creds.interface.as_str())
                    && creds.region.as_deref().is_none_or(|r| {
                        e.get("region").and_then(Value::as_str) == Some(r)
                            || e.get("region_id").and_then(Value::as_str) == Some(r)
                    })
            })
            .and_then(|e| e.get("url").and_then(Value::as_str))
            .map(str::to_owned)
    }
}

/// Client mode's transport: HTTP to the endpoint with reqwest, redirects left to the client.
pub struct HttpTransport {
    endpoint: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl HttpTransport {
    pub fn new(endpoint: String, token: Option<String>) -> Result<Self, CliError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|source| CliError::Http {
                url: endpoint.clone(),
                source,
            })?;
        Ok(Self {
            endpoint,
            token,
            http,
        })
    }
}

#[async_trait]
impl Transport for HttpTransport {
    async fn send(&self, request: ApiRequest) -> Result<ApiResponse, CliError> {
        let url = format!("{}{}", self.endpoint, request.path);
        let method = reqwest::Method::from_bytes(request.method.as_str().as_bytes())
            .unwrap_or(reqwest::Method::GET);
        let mut builder = self
            .http
            .request(method, &url)
            .query(&request.query)
            .header("Accept", "application/json");
        if let Some(token) = &self.token {
            builder = builder.header("X-Auth-Token", token);
        }
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        let response = builder.send().await.map_err(|source| CliError::Http {
            url: url.clone(),
            source,
        })?;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("Location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response.bytes().await.map_err(|source| CliError::Http {
            url: url.clone(),
            source,
        })?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_without_a_tenant_get_the_default_one() {
        assert_eq!(
            normalize_endpoint("http://h:8004"),
            "http://h:8004/v1/default"
        );
        assert_eq!(
            normalize_endpoint("http://h:8004/v1/"),
            "http://h:8004/v1/default"
        );
        assert_eq!(
            normalize_endpoint("http://h:8004/v1/abc"),
            "http://h:8004/v1/abc"
        );
    }

    #[test]
    fn catalog_lookup_matches_interface_and_region() {
        let session = Session {
            token: "t".into(),
            catalog: json!([{"type": "orchestration", "endpoints": [
                {"interface": "internal", "region": "R", "url": "http://internal"},
                {"interface": "public", "region": "R", "url": "http://public/v1/p"}]}]),
        };
        let creds = Credentials {
            interface: "public".into(),
            region: Some("R".into()),
            ..Default::default()
        };
        assert_eq!(
            session.orchestration_endpoint(&creds).as_deref(),
            Some("http://public/v1/p")
        );
        let no_heat = Session {
            token: "t".into(),
            catalog: json!([{"type": "identity", "endpoints": []}]),
        };
        assert_eq!(no_heat.orchestration_endpoint(&creds), None);
    }
}
