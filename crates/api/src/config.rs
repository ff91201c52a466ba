//! `ember serve` settings: defaults, then a TOML file, then environment variables, then the
//! command line (which the CLI applies on the returned value).

use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// How callers prove who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// No tokens; the project is the `{tenant_id}` of the URL (embedded, single-user setups).
    #[default]
    None,
    /// `X-Auth-Token` validated against Keystone v3; the project comes from the token.
    Keystone,
}

impl std::str::FromStr for AuthMode {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s {
            "none" => Ok(AuthMode::None),
            "keystone" => Ok(AuthMode::Keystone),
            other => Err(ConfigError::Invalid {
                key: "auth",
                value: other.to_string(),
                expected: "none or keystone",
            }),
        }
    }
}

/// The service's own Keystone credentials, used to validate callers' tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct KeystoneConfig {
    /// Identity v3 URL, e.g. `http://127.0.0.1:5000/v3` (`OS_AUTH_URL`).
    pub auth_url: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub project_name: Option<String>,
    pub user_domain_name: Option<String>,
    pub project_domain_name: Option<String>,
    /// Region and interface of the endpoints stacks use (`OS_REGION_NAME`, `OS_INTERFACE`).
    pub region_name: Option<String>,
    pub interface: Option<String>,
    /// Roles that make a caller an admin (Heat's policy: `admin`).
    pub admin_roles: Vec<String>,
}

impl KeystoneConfig {
    /// These settings as the `OS_*` variables an OpenStack client reads: how the engine logs
    /// in as the service user, the trustee of every stack's trust.
    pub fn os_vars(&self) -> std::collections::BTreeMap<String, String> {
        [
            ("OS_AUTH_URL", &self.auth_url),
            ("OS_USERNAME", &self.username),
            ("OS_PASSWORD", &self.password),
            ("OS_PROJECT_NAME", &self.project_name),
            ("OS_USER_DOMAIN_NAME", &self.user_domain_name),
            ("OS_PROJECT_DOMAIN_NAME", &self.project_domain_name),
            ("OS_REGION_NAME", &self.region_name),
            ("OS_INTERFACE", &self.interface),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name.to_string(), value.clone()?)))
        .collect()
    }
}

/// Settings of the API server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Listen address; Heat's port by default.
    pub bind: SocketAddr,
    pub auth: AuthMode,
    /// Store URL handed to the engine (`sqlite:...` or `postgres://...`); `None` = the CLI's default.
    pub database_url: Option<String>,
    /// Heat's `max_json_body_size`: larger request bodies are refused before parsing.
    pub max_json_body_size: usize,
    /// Base URL for `Location` and `links` when behind a proxy; by default the request's Host.
    pub public_url: Option<String>,
    /// Seconds a validated token is trusted without asking Keystone again.
    pub token_cache_seconds: u64,
    /// Secret for the CFN pre-signed URLs (wait conditions, signals). Without it a random key is
    /// made at start, and URLs minted before a restart stop working.
    pub signing_key: Option<String>,
    /// Lifetime of a pre-signed URL.
    pub signed_url_lifetime_seconds: u64,
    /// Heat's `enable_stack_abandon`: abandon and export are refused (NotSupported) unless set.
    pub enable_stack_abandon: bool,
    /// Heat's `stack_user_domain_id` / `stack_user_domain_name`: the Keystone domain where
    /// each stack that needs users (servers polling Heat, signalling deployments, IAM users)
    /// gets a project and its users. Without one, Heat's legacy mode: users in the stack
    /// owner's project.
    pub stack_user_domain_id: Option<String>,
    pub stack_user_domain_name: Option<String>,
    /// Heat's `stack_domain_admin` / `stack_domain_admin_password`: a user of that domain
    /// with the admin role on it, which manages the stack projects and users.
    pub stack_domain_admin: Option<String>,
    pub stack_domain_admin_password: Option<String>,
    pub keystone: KeystoneConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 8004)),
            auth: AuthMode::None,
            database_url: None,
            max_json_body_size: 1_048_576,
            public_url: None,
            token_cache_seconds: 60,
            signing_key: None,
            // Heat's wait handles live as long as the stack; a year bounds a leaked URL.
            signed_url_lifetime_seconds: 365 * 24 * 3600,
            enable_stack_abandon: false,
            stack_user_domain_id: None,
            stack_user_domain_name: None,
            stack_domain_admin: None,
            stack_domain_admin_password: None,
            keystone: KeystoneConfig {
                admin_roles: vec!["admin".into()],
                ..Default::default()
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {source}")]
    Parse {
        path: String,
        source: Box<toml::de::Error>,
    },
    #[error("invalid value {value:?} for {key}: expected {expected}")]
    Invalid {
        key: &'static str,
        value: String,
        expected: &'static str,
    },
    /// Settings that make no sense together (Heat's startup sanity check).
    #[error("{0}")]
    Inconsistent(&'static str),
}

impl ServerConfig {
    /// Defaults, then `file` (when given), then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) => Self::from_toml_file(path)?,
            None => ServerConfig::default(),
        };
        config.apply_env(|key| std::env::var(key).ok())?;
        Ok(config)
    }

    /// Sets a random signing key when none is configured, so the server and the engine's URL
    /// signer made from this config agree (URLs then stop working after a restart).
    pub fn ensure_signing_key(&mut self) {
        if self.signing_key.is_none() {
            self.signing_key = Some(format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            ));
        }
    }

    pub fn from_toml_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.display().to_string(),
            source: Box::new(source),
        })
    }

    /// Overrides from `EMBER_*` variables and, for the service credentials, the standard `OS_*`
    /// variables (so `ember serve --auth keystone` runs with an openrc sourced).
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = var("EMBER_BIND") {
            self.bind = v.parse().map_err(|_| ConfigError::Invalid {
                key: "EMBER_BIND",
                value: v,
                expected: "ADDRESS:PORT",
            })?;
        }
        if let Some(v) = var("EMBER_AUTH") {
            self.auth = v.parse()?;
        }
        if let Some(v) = var("EMBER_DATABASE_URL") {
            self.database_url = Some(v);
        }
        if let Some(v) = var("EMBER_MAX_JSON_BODY_SIZE") {
            self.max_json_body_size = v.parse().map_err(|_| ConfigError::Invalid {
                key: "EMBER_MAX_JSON_BODY_SIZE",
                value: v,
                expected: "a number of bytes",
            })?;
        }
        if let Some(v) = var("EMBER_PUBLIC_URL") {
            self.public_url = Some(v);
        }
        if let Some(v) = var("EMBER_SIGNING_KEY") {
            self.signing_key = Some(v);
        }
        if let Some(v) = var("EMBER_ENABLE_STACK_ABANDON") {
            self.enable_stack_abandon = match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => {
                    return Err(ConfigError::Invalid {
                        key: "EMBER_ENABLE_STACK_ABANDON",
                        value: v,
                        expected: "true or false",
                    })
                }
            };
        }
        for (name, slot) in [
            ("EMBER_STACK_USER_DOMAIN_ID", &mut self.stack_user_domain_id),
            (
                "EMBER_STACK_USER_DOMAIN_NAME",
                &mut self.stack_user_domain_name,
            ),
            ("EMBER_STACK_DOMAIN_ADMIN", &mut self.stack_domain_admin),
            (
                "EMBER_STACK_DOMAIN_ADMIN_PASSWORD",
                &mut self.stack_domain_admin_password,
            ),
        ] {
            if let Some(v) = var(name) {
                *slot = Some(v);
            }
        }
        let keystone = &mut self.keystone;
        for (name, slot) in [
            ("OS_AUTH_URL", &mut keystone.auth_url),
            ("OS_USERNAME", &mut keystone.username),
            ("OS_PASSWORD", &mut keystone.password),
            ("OS_PROJECT_NAME", &mut keystone.project_name),
            ("OS_USER_DOMAIN_NAME", &mut keystone.user_domain_name),
            ("OS_PROJECT_DOMAIN_NAME", &mut keystone.project_domain_name),
            ("OS_REGION_NAME", &mut keystone.region_name),
            ("OS_INTERFACE", &mut keystone.interface),
        ] {
            if slot.is_none() {
                *slot = var(name);
            }
        }
        Ok(())
    }

    /// The stack domain admin's login as the `OS_*` variables an OpenStack client reads
    /// (Keystone's URL, region and interface from `[keystone]`; user and scope in the stack
    /// user domain), or `None` without a stack user domain. A domain without its admin is
    /// refused, as Heat refuses it at start.
    pub fn stack_domain_vars(
        &self,
    ) -> Result<Option<std::collections::BTreeMap<String, String>>, ConfigError> {
        let domain = match (&self.stack_user_domain_id, &self.stack_user_domain_name) {
            (Some(id), _) => ("ID", id),
            (None, Some(name)) => ("NAME", name),
            (None, None) => return Ok(None),
        };
        let (Some(admin), Some(password)) =
            (&self.stack_domain_admin, &self.stack_domain_admin_password)
        else {
            return Err(ConfigError::Inconsistent(
                "cannot specify stack_user_domain_id or stack_user_domain_name without \
                 stack_domain_admin and stack_domain_admin_password",
            ));
        };
        let mut vars: std::collections::BTreeMap<String, String> = self
            .keystone
            .os_vars()
            .into_iter()
            .filter(|(name, _)| {
                ["OS_AUTH_URL", "OS_REGION_NAME", "OS_INTERFACE"].contains(&name.as_str())
            })
            .collect();
        let (kind, value) = domain;
        vars.insert("OS_USERNAME".into(), admin.clone());
        vars.insert("OS_PASSWORD".into(), password.clone());
        vars.insert(format!("OS_USER_DOMAIN_{kind}"), value.clone());
        vars.insert(format!("OS_DOMAIN_{kind}"), value.clone());
        Ok(Some(vars))
    }

    /// Whether a Keystone project domain (id and name) is the stack user domain.
    pub fn is_stack_user_domain(&self, id: &str, name: &str) -> bool {
        match (&self.stack_user_domain_id, &self.stack_user_domain_name) {
            (Some(wanted), _) => wanted == id,
            (None, Some(wanted)) => wanted == name,
            (None, None) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn toml_then_env() {
        let mut config: ServerConfig = toml::from_str(
            "bind = \"0.0.0.0:9000\"\nauth = \"keystone\"\n[keystone]\nusername = \"heat\"\n",
        )
        .unwrap();
        let env: HashMap<&str, &str> = [
            ("EMBER_MAX_JSON_BODY_SIZE", "2048"),
            ("OS_USERNAME", "ignored-because-file-set-it"),
            ("OS_PASSWORD", "service"),
            ("EMBER_ENABLE_STACK_ABANDON", "True"),
        ]
        .into();
        config
            .apply_env(|k| env.get(k).map(|v| v.to_string()))
            .unwrap();
        assert_eq!(config.bind.port(), 9000);
        assert_eq!(config.auth, AuthMode::Keystone);
        assert_eq!(config.max_json_body_size, 2048);
        assert!(config.enable_stack_abandon && !ServerConfig::default().enable_stack_abandon);
        assert_eq!(config.keystone.username.as_deref(), Some("heat"));
        assert_eq!(config.keystone.password.as_deref(), Some("service"));
        // The same login, for the engine's client of the service user.
        let vars = config.keystone.os_vars();
        assert_eq!(vars["OS_USERNAME"], "heat");
        assert_eq!(vars["OS_PASSWORD"], "service");
        assert!(!vars.contains_key("OS_AUTH_URL"));
    }

    #[test]
    fn stack_user_domain_gives_the_domain_admins_login() {
        let mut config: ServerConfig = toml::from_str(
            "stack_user_domain_name = \"heat\"\nstack_domain_admin = \"heat_domain_admin\"\n\
             [keystone]\nauth_url = \"http://127.0.0.1:5000/v3\"\nusername = \"heat\"\n",
        )
        .unwrap();
        assert_eq!(
            config.stack_domain_vars().unwrap_err().to_string(),
            "cannot specify stack_user_domain_id or stack_user_domain_name without \
             stack_domain_admin and stack_domain_admin_password"
        );
        config
            .apply_env(|k| (k == "EMBER_STACK_DOMAIN_ADMIN_PASSWORD").then(|| "service".into()))
            .unwrap();
        let vars = config
            .stack_domain_vars()
            .unwrap()
            .expect("a stack user domain");
        assert_eq!(vars["OS_AUTH_URL"], "http://127.0.0.1:5000/v3");
        assert_eq!(vars["OS_USERNAME"], "heat_domain_admin");
        assert_eq!(vars["OS_PASSWORD"], "service");
        assert_eq!(vars["OS_USER_DOMAIN_NAME"], "heat");
        assert_eq!(vars["OS_DOMAIN_NAME"], "heat");
        assert!(config.is_stack_user_domain("d1", "heat"));
        assert!(!config.is_stack_user_domain("default", "Default"));
        assert_eq!(ServerConfig::default().stack_domain_vars().unwrap(), None);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(toml::from_str::<ServerConfig>("bnd = \"x\"").is_err());
        let mut config = ServerConfig::default();
        let err = config.apply_env(|k| (k == "EMBER_AUTH").then(|| "ldap".to_string()));
        assert!(matches!(err, Err(ConfigError::Invalid { key: "auth", .. })));
    }
}
