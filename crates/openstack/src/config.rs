//! Where credentials come from: `OS_*` variables, `clouds.yaml`, or a caller-built config
//! (server mode: the requesting user's token, or a trust).
//!
//! Both sources are first flattened into the same settings map (`OS_PROJECT_NAME` and
//! `clouds.<name>.auth.project_name` both become `project_name`), and one function turns that map
//! into a [`CloudConfig`], so they accept the same keys and give the same errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::catalog::Interface;
use crate::error::Error;

/// A user, project or domain given by id or by name (names of users and projects are only
/// unique within a domain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameOrId {
    Id(String),
    Name {
        name: String,
        domain: Option<Box<NameOrId>>,
    },
}

/// What proves who the caller is.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    Password {
        user: NameOrId,
        password: String,
    },
    /// An existing token (server mode: the requesting user's `X-Auth-Token`), rescoped as asked.
    Token {
        token: String,
    },
    ApplicationCredential {
        id: String,
        secret: String,
    },
}

impl std::fmt::Debug for Credentials {
    // Secrets never reach logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Password { user, .. } => {
                write!(f, "Password {{ user: {user:?}, password: *** }}")
            }
            Credentials::Token { .. } => f.write_str("Token { *** }"),
            Credentials::ApplicationCredential { id, .. } => {
                write!(f, "ApplicationCredential {{ id: {id:?}, secret: *** }}")
            }
        }
    }
}

/// What the token is scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Project(NameOrId),
    Domain(NameOrId),
    /// Heat's deferred auth: the trustee's credentials plus the trust give a token acting as the
    /// trustor in the trust's project.
    Trust(String),
    /// No scope in the request: Keystone uses the user's default project, if any.
    Default,
}

/// Per-request limits and the retry policy for idempotent calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(60),
        }
    }
}

/// Everything needed to open a [`crate::Session`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudConfig {
    pub auth_url: String,
    pub credentials: Credentials,
    pub scope: Scope,
    pub region: Option<String>,
    pub interface: Interface,
    pub timeouts: Timeouts,
    /// Accept any TLS certificate (`OS_INSECURE` / `verify: false`).
    pub insecure: bool,
    /// Heat's `reauthentication_auth_method = trusts`: the login a session switches to, for
    /// good, once `credentials` stop giving a token that is not about to expire (a user's
    /// token that expired or was revoked while a long action it started still runs).
    pub reauthentication: Option<Box<Reauthentication>>,
}

/// The second login of [`CloudConfig::reauthentication`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reauthentication {
    pub credentials: Credentials,
    pub scope: Scope,
}

impl CloudConfig {
    /// From `OS_*` variables, or from `clouds.yaml` when `OS_CLOUD` names a cloud (the variables
    /// then still override region and interface, as the OpenStack client does).
    pub fn from_env() -> Result<CloudConfig, Error> {
        let vars: BTreeMap<String, String> = std::env::vars().collect();
        Self::from_vars(&vars, &clouds_yaml_paths(&vars))
    }

    /// [`CloudConfig::from_env`] over an explicit variable map and `clouds.yaml` search path.
    pub fn from_vars(
        vars: &BTreeMap<String, String>,
        clouds_yaml_paths: &[PathBuf],
    ) -> Result<CloudConfig, Error> {
        let from_env = env_settings(vars);
        match vars.get("OS_CLOUD").filter(|c| !c.is_empty()) {
            Some(cloud) => {
                let path = clouds_yaml_paths
                    .iter()
                    .find(|p| p.is_file())
                    .ok_or_else(|| {
                        Error::Config(format!(
                            "OS_CLOUD={cloud} but no clouds.yaml in {}",
                            clouds_yaml_paths
                                .iter()
                                .map(|p| p.display().to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    })?;
                let mut settings = clouds_yaml_settings(&read_file(path)?, cloud)
                    .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
                for key in ["region_name", "interface"] {
                    if let Some(value) = from_env.get(key) {
                        settings.insert(key.to_string(), value.clone());
                    }
                }
                from_settings(&settings)
            }
            None => from_settings(&from_env),
        }
    }

    /// The cloud `cloud` of a `clouds.yaml` text.
    pub fn from_clouds_yaml(text: &str, cloud: &str) -> Result<CloudConfig, Error> {
        from_settings(&clouds_yaml_settings(text, cloud).map_err(Error::Config)?)
    }

    /// The same cloud and scope reached with another credential (server mode: the requesting
    /// user's token; deferred work: a trust).
    pub fn with_credentials(&self, credentials: Credentials, scope: Scope) -> CloudConfig {
        CloudConfig {
            credentials,
            scope,
            reauthentication: None,
            ..self.clone()
        }
    }
}

fn read_file(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))
}

/// The standard `clouds.yaml` search order: `OS_CLIENT_CONFIG_FILE`, the working directory,
/// the user's config directory, `/etc/openstack`.
pub fn clouds_yaml_paths(vars: &BTreeMap<String, String>) -> Vec<PathBuf> {
    if let Some(file) = vars.get("OS_CLIENT_CONFIG_FILE") {
        return vec![PathBuf::from(file)];
    }
    let mut paths = vec![PathBuf::from("clouds.yaml")];
    let config_home = vars
        .get("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| vars.get("HOME").map(|h| Path::new(h).join(".config")));
    if let Some(dir) = config_home {
        paths.push(dir.join("openstack").join("clouds.yaml"));
    }
    paths.push(PathBuf::from("/etc/openstack/clouds.yaml"));
    paths
}

/// `OS_FOO_BAR=x` → `foo_bar: x`, with the legacy spellings mapped to the current ones.
fn env_settings(vars: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut settings = BTreeMap::new();
    for (key, value) in vars {
        let Some(name) = key.strip_prefix("OS_") else {
            continue;
        };
        if value.is_empty() {
            continue;
        }
        let name = match name {
            "TENANT_NAME" => "PROJECT_NAME",
            "TENANT_ID" => "PROJECT_ID",
            "ENDPOINT_TYPE" => "INTERFACE",
            other => other,
        };
        settings
            .entry(name.to_ascii_lowercase())
            .or_insert_with(|| value.clone());
    }
    settings
}

/// The settings of one cloud of a `clouds.yaml`: its `auth` map and its top-level keys, flattened.
fn clouds_yaml_settings(text: &str, cloud: &str) -> Result<BTreeMap<String, String>, String> {
    use saphyr::{LoadableYamlNode, Yaml};
    let docs = Yaml::load_from_str(text).map_err(|e| e.to_string())?;
    let root = docs.first().ok_or("empty clouds.yaml")?;
    let entry = root
        .as_mapping_get("clouds")
        .and_then(|clouds| clouds.as_mapping_get(cloud))
        .ok_or_else(|| format!("cloud {cloud:?} is not defined"))?;
    let mut settings = BTreeMap::new();
    let mapping = entry
        .as_mapping()
        .ok_or_else(|| format!("cloud {cloud:?} is not a mapping"))?;
    for (key, value) in mapping {
        let Some(key) = key.as_str() else { continue };
        if key == "auth" {
            for (auth_key, auth_value) in value.as_mapping().into_iter().flatten() {
                if let (Some(k), Some(v)) = (auth_key.as_str(), scalar_text(auth_value)) {
                    settings.insert(k.to_string(), v);
                }
            }
        } else if let Some(v) = scalar_text(value) {
            settings.insert(key.to_string(), v);
        }
    }
    Ok(settings)
}

fn scalar_text(value: &saphyr::Yaml) -> Option<String> {
    if let Some(s) = value.as_str() {
        Some(s.to_string())
    } else if let Some(b) = value.as_bool() {
        Some(b.to_string())
    } else {
        value.as_integer().map(|i| i.to_string())
    }
}

fn named(
    settings: &BTreeMap<String, String>,
    prefix: &str,
    domain: Option<NameOrId>,
) -> Option<NameOrId> {
    if let Some(id) = settings.get(&format!("{prefix}_id")) {
        return Some(NameOrId::Id(id.clone()));
    }
    let name = settings.get(&format!("{prefix}_name")).or_else(|| {
        (prefix == "user")
            .then(|| settings.get("username"))
            .flatten()
    })?;
    Some(NameOrId::Name {
        name: name.clone(),
        domain: domain.map(Box::new),
    })
}

/// The domain of a user or project: its own `<prefix>_domain_*`, else the shared `domain_*`,
/// else `default_domain`.
fn domain_of(settings: &BTreeMap<String, String>, prefix: &str) -> Option<NameOrId> {
    named(settings, &format!("{prefix}_domain"), None)
        .or_else(|| named(settings, "domain", None))
        .or_else(|| {
            settings
                .get("default_domain")
                .map(|d| NameOrId::Id(d.clone()))
        })
}

fn from_settings(settings: &BTreeMap<String, String>) -> Result<CloudConfig, Error> {
    let get = |k: &str| settings.get(k).cloned();
    let auth_url = get("auth_url").ok_or_else(|| {
        Error::Config("no auth URL: set OS_AUTH_URL or auth.auth_url in clouds.yaml".into())
    })?;
    let auth_type = get("auth_type").unwrap_or_else(|| {
        if settings.contains_key("application_credential_id") {
            "v3applicationcredential".into()
        } else if settings.contains_key("token") && !settings.contains_key("password") {
            "token".into()
        } else {
            "password".into()
        }
    });
    let credentials = match auth_type.trim_start_matches("v3") {
        "password" => Credentials::Password {
            user: named(settings, "user", domain_of(settings, "user")).ok_or_else(|| {
                Error::Config("password auth needs a user name or id (OS_USERNAME)".into())
            })?,
            password: get("password").ok_or_else(|| {
                Error::Config("password auth needs a password (OS_PASSWORD)".into())
            })?,
        },
        "token" => Credentials::Token {
            token: get("token")
                .ok_or_else(|| Error::Config("token auth needs a token (OS_TOKEN)".into()))?,
        },
        "applicationcredential" => Credentials::ApplicationCredential {
            id: get("application_credential_id")
                .ok_or_else(|| Error::Config("application credential auth needs its id".into()))?,
            secret: get("application_credential_secret").ok_or_else(|| {
                Error::Config("application credential auth needs its secret".into())
            })?,
        },
        other => {
            return Err(Error::Config(format!(
                "auth type {other:?} is not supported (password, token, applicationcredential)"
            )))
        }
    };
    let scope = if let Some(trust) = get("trust_id") {
        Scope::Trust(trust)
    } else if let Some(project) = named(settings, "project", domain_of(settings, "project")) {
        Scope::Project(project)
    } else if let Some(domain) = named(settings, "domain", None) {
        Scope::Domain(domain)
    } else {
        Scope::Default
    };
    let interface = match get("interface") {
        Some(text) => Interface::parse(&text)?,
        None => Interface::Public,
    };
    let insecure = get("insecure").is_some_and(|v| v == "true" || v == "1")
        || get("verify").is_some_and(|v| v == "false");
    Ok(CloudConfig {
        auth_url,
        credentials,
        scope,
        region: get("region_name"),
        interface,
        timeouts: Timeouts::default(),
        insecure,
        reauthentication: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn os_variables_give_password_auth_scoped_to_a_named_project() {
        let config = CloudConfig::from_vars(
            &vars(&[
                ("OS_AUTH_URL", "http://127.0.0.1:5000/v3"),
                ("OS_USERNAME", "demo"),
                ("OS_PASSWORD", "demo"),
                ("OS_PROJECT_NAME", "demo"),
                ("OS_USER_DOMAIN_NAME", "Default"),
                ("OS_PROJECT_DOMAIN_ID", "default"),
                ("OS_REGION_NAME", "RegionOne"),
                ("OS_INTERFACE", "internal"),
            ]),
            &[],
        )
        .unwrap();
        let default_name = NameOrId::Name {
            name: "Default".into(),
            domain: None,
        };
        assert_eq!(
            config.credentials,
            Credentials::Password {
                user: NameOrId::Name {
                    name: "demo".into(),
                    domain: Some(Box::new(default_name))
                },
                password: "demo".into()
            }
        );
        assert_eq!(
            config.scope,
            Scope::Project(NameOrId::Name {
                name: "demo".into(),
                domain: Some(Box::new(NameOrId::Id("default".into())))
            })
        );
        assert_eq!(config.region.as_deref(), Some("RegionOne"));
        assert_eq!(config.interface, Interface::Internal);
    }

    #[test]
    fn legacy_tenant_and_trust_variables() {
        let config = CloudConfig::from_vars(
            &vars(&[
                ("OS_AUTH_URL", "http://k/v3"),
                ("OS_USER_ID", "u1"),
                ("OS_PASSWORD", "p"),
                ("OS_TENANT_ID", "p1"),
            ]),
            &[],
        )
        .unwrap();
        assert_eq!(config.scope, Scope::Project(NameOrId::Id("p1".into())));
        let trust = CloudConfig::from_vars(
            &vars(&[
                ("OS_AUTH_URL", "http://k/v3"),
                ("OS_USER_ID", "u1"),
                ("OS_PASSWORD", "p"),
                ("OS_PROJECT_ID", "p1"),
                ("OS_TRUST_ID", "t1"),
            ]),
            &[],
        )
        .unwrap();
        assert_eq!(trust.scope, Scope::Trust("t1".into()));
    }

    #[test]
    fn missing_pieces_are_named() {
        let error = CloudConfig::from_vars(&vars(&[("OS_USERNAME", "x")]), &[]).unwrap_err();
        assert!(error.to_string().contains("OS_AUTH_URL"), "{error}");
        let error = CloudConfig::from_vars(
            &vars(&[("OS_AUTH_URL", "http://k/v3"), ("OS_USERNAME", "x")]),
            &[],
        )
        .unwrap_err();
        assert!(error.to_string().contains("OS_PASSWORD"), "{error}");
        let error = CloudConfig::from_vars(
            &vars(&[("OS_AUTH_URL", "http://k/v3"), ("OS_CLOUD", "nowhere")]),
            &[PathBuf::from("/nonexistent/clouds.yaml")],
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("/nonexistent/clouds.yaml"),
            "{error}"
        );
    }

    const CLOUDS: &str = "
clouds:
  lab-demo:
    auth:
      auth_url: http://127.0.0.1:5000/v3
      username: demo
      password: demo
      project_name: demo
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: public
    identity_api_version: 3
  tokened:
    auth_type: v3token
    auth:
      auth_url: http://k/v3
      token: gAAAA
      project_id: p9
    verify: false
";

    #[test]
    fn clouds_yaml_entries() {
        let demo = CloudConfig::from_clouds_yaml(CLOUDS, "lab-demo").unwrap();
        assert_eq!(demo.auth_url, "http://127.0.0.1:5000/v3");
        assert!(
            matches!(demo.credentials, Credentials::Password { ref password, .. } if password == "demo")
        );
        assert_eq!(demo.region.as_deref(), Some("RegionOne"));
        let tokened = CloudConfig::from_clouds_yaml(CLOUDS, "tokened").unwrap();
        assert_eq!(
            tokened.credentials,
            Credentials::Token {
                token: "gAAAA".into()
            }
        );
        assert!(tokened.insecure);
        let error = CloudConfig::from_clouds_yaml(CLOUDS, "other").unwrap_err();
        assert_eq!(
            error.to_string(),
            "cloud configuration: cloud \"other\" is not defined"
        );
    }

    #[test]
    fn os_cloud_reads_the_file_and_env_overrides_region() {
        let dir = std::env::temp_dir().join(format!("ember-os-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("clouds.yaml");
        std::fs::write(&path, CLOUDS).unwrap();
        let config = CloudConfig::from_vars(
            &vars(&[("OS_CLOUD", "lab-demo"), ("OS_REGION_NAME", "RegionTwo")]),
            &[PathBuf::from("/nonexistent/clouds.yaml"), path],
        )
        .unwrap();
        assert_eq!(config.region.as_deref(), Some("RegionTwo"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn secrets_are_not_debug_printed() {
        let text = format!(
            "{:?}",
            Credentials::Password {
                user: NameOrId::Id("u".into()),
                password: "hunter2".into()
            }
        );
        assert!(!text.contains("hunter2"));
    }
}
