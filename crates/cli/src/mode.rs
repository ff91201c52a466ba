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
use ember_openstack::config::clouds_yaml_paths;
use ember_openstack::{CloudConfig, ServiceType, Session};
use serde_json::Value;
use std::collections::BTreeMap;
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

/// The user's data directory (created if missing): the embedded store and its key live here.
pub fn data_dir() -> Result<std::path::PathBuf, CliError> {
    let dirs = directories::ProjectDirs::from("org", "ember", "ember").ok_or_else(|| {
        CliError::Config(
            "cannot find a home directory for the embedded store; set --store-url or \
             EMBER_STORE_URL"
                .into(),
        )
    })?;
    let dir = dirs.data_dir().to_path_buf();
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError::io(format!("cannot create {}", dir.display()), e))?;
    Ok(dir)
}

/// The embedded default store: `ember.db` in the user's data directory.
pub fn default_store_url() -> Result<String, CliError> {
    let path = data_dir()?.join("ember.db");
    Ok(format!("sqlite://{}", path.display()))
}

impl ModeArgs {
    pub async fn resolve(&self) -> Result<Mode, CliError> {
        if let Some(endpoint) = &self.endpoint {
            let token = match &self.token {
                Some(t) => Some(t.clone()),
                // Credentials in the environment only supply a token for the chosen server.
                None if std::env::var_os("OS_AUTH_URL").is_some() => {
                    let config = CloudConfig::from_env().map_err(openstack_error)?;
                    Some(
                        connect(config)
                            .await?
                            .token()
                            .await
                            .map_err(openstack_error)?
                            .secret()
                            .to_owned(),
                    )
                }
                None => None,
            };
            return Ok(Mode::Client {
                endpoint: normalize_endpoint(endpoint),
                token,
                source: "--os-endpoint / EMBER_URL".into(),
            });
        }
        if let Some(cloud) = &self.cloud {
            let vars: BTreeMap<String, String> = std::env::vars().collect();
            let paths = clouds_yaml_paths(&vars);
            let path = paths.iter().find(|p| p.is_file()).ok_or_else(|| {
                CliError::Config(format!("--os-cloud {cloud}: no clouds.yaml found"))
            })?;
            let text = std::fs::read_to_string(path)
                .map_err(|e| CliError::io(format!("cannot read {}", path.display()), e))?;
            let config = CloudConfig::from_clouds_yaml(&text, cloud).map_err(openstack_error)?;
            let session = connect(config).await?;
            let token = session.token().await.map_err(openstack_error)?;
            let found = token.catalog.endpoint(
                ServiceType::Orchestration,
                session.config().region.as_deref(),
                session.config().interface,
            );
            if let Ok(endpoint) = found {
                return Ok(Mode::Client {
                    endpoint: normalize_endpoint(&endpoint),
                    token: Some(token.secret().to_owned()),
                    source: format!("--os-cloud {cloud} (its catalog lists orchestration)"),
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

async fn connect(config: CloudConfig) -> Result<Session, CliError> {
    Session::connect(config).await.map_err(openstack_error)
}

fn openstack_error(error: ember_openstack::Error) -> CliError {
    CliError::Command(error.to_string())
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
}
