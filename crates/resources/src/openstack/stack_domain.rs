//! Heat's stack user domain on Keystone (`ember_engine::stack_domain`): the domain admin's
//! domain-scoped session makes, per stack tree, a project named as Heat names it in the stack
//! user domain, and in it users with the `heat_stack_user` role, their EC2 keypairs (Keystone
//! `ec2` credentials), enables and disables them, and deletes all of it with the root stack.
//! Like Heat's `KsClientWrapper` it checks that a user it is asked to change is in the domain
//! and the stack's project before touching it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use ember_engine::nested::StackControl;
use ember_engine::stack_domain::{Ec2Keypair, StackDomain, StackScope};
use ember_engine::{ResourceContext, ResourceError};
use ember_openstack::services::identity::{Identity, IdentityKind};
use ember_openstack::{CloudConfig, NameOrId, Scope, Session};
use serde_json::json;

use super::cloud_error;

/// The role Heat gives a stack user (its `heat_stack_user_role` default).
pub(crate) const STACK_USER_ROLE: &str = "heat_stack_user";
/// Heat's description of a stack's domain project.
const PROJECT_DESCRIPTION: &str = "Heat stack user project";
/// Domain projects remembered by name at most (a forgotten one costs one lookup).
const CACHED_PROJECTS: usize = 4096;

/// The stack user domain, acting as its admin (Heat's `stack_domain_admin`).
pub struct KeystoneStackDomain {
    /// The admin's login, scoped to the stack user domain (user and scope in that domain).
    admin: CloudConfig,
    session: tokio::sync::OnceCell<Session>,
    domain_id: tokio::sync::OnceCell<String>,
    role_id: tokio::sync::OnceCell<String>,
    projects: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for KeystoneStackDomain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeystoneStackDomain")
            .field("auth_url", &self.admin.auth_url)
            .field("scope", &self.admin.scope)
            .finish_non_exhaustive()
    }
}

/// A refusal of the stack user domain's own rules (Heat's `ValueError`s).
fn invalid(message: String) -> ResourceError {
    ResourceError::new("ValueError", message)
}

impl KeystoneStackDomain {
    /// `admin`: the domain admin's credentials scoped to the stack user domain.
    pub fn new(admin: CloudConfig) -> Self {
        KeystoneStackDomain {
            admin,
            session: tokio::sync::OnceCell::new(),
            domain_id: tokio::sync::OnceCell::new(),
            role_id: tokio::sync::OnceCell::new(),
            projects: Mutex::new(HashMap::new()),
        }
    }

    async fn identity(&self) -> Result<Identity, ResourceError> {
        let session = self
            .session
            .get_or_try_init(|| Session::connect(self.admin.clone()))
            .await
            .map_err(|e| {
                ResourceError::new(
                    "AuthorizationFailure",
                    format!("the stack domain admin cannot log in: {e}"),
                )
            })?;
        Identity::new(session).await.map_err(cloud_error)
    }

    /// The stack user domain's id: the configured one, else the admin token's domain (as
    /// Heat's `stack_domain_id` reads it from the domain admin's access).
    async fn domain_id(&self, keystone: &Identity) -> Result<String, ResourceError> {
        self.domain_id
            .get_or_try_init(|| async {
                if let Scope::Domain(NameOrId::Id(id)) = &self.admin.scope {
                    return Ok(id.clone());
                }
                let token = keystone
                    .client()
                    .session()
                    .token()
                    .await
                    .map_err(cloud_error)?;
                let shown = keystone
                    .client()
                    .get("/auth/tokens")
                    .header("X-Subject-Token", token.secret())
                    .send_json()
                    .await
                    .map_err(cloud_error)?;
                shown["token"]["domain"]["id"]
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| {
                        ResourceError::new(
                            "AuthorizationFailure",
                            "the stack domain admin's token is not scoped to a domain",
                        )
                    })
            })
            .await
            .cloned()
    }

    async fn role_id(&self, keystone: &Identity) -> Result<String, ResourceError> {
        self.role_id
            .get_or_try_init(|| async {
                let role = keystone
                    .find(IdentityKind::Role, STACK_USER_ROLE)
                    .await
                    .map_err(|e| match e {
                        e if e.is_not_found() => ResourceError::new(
                            "Error",
                            format!("Can't find role {STACK_USER_ROLE}"),
                        ),
                        e => cloud_error(e),
                    })?;
                Ok(role["id"].as_str().unwrap_or_default().to_string())
            })
            .await
            .cloned()
    }

    /// The id of `scope`'s domain project, if it exists.
    async fn find_project(
        &self,
        keystone: &Identity,
        scope: &StackScope,
    ) -> Result<Option<String>, ResourceError> {
        let name = scope.project_name();
        if let Some(id) = self.cached(&name) {
            return Ok(Some(id));
        }
        let domain = self.domain_id(keystone).await?;
        let listed = keystone
            .client()
            .get("/projects")
            .query("name", name.clone())
            .query("domain_id", domain)
            .send_json()
            .await
            .map_err(cloud_error)?;
        let id = listed["projects"]
            .as_array()
            .and_then(|projects| projects.first())
            .and_then(|p| p["id"].as_str())
            .map(str::to_string);
        if let Some(id) = &id {
            self.remember(name, id.clone());
        }
        Ok(id)
    }

    fn cached(&self, name: &str) -> Option<String> {
        self.projects
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    fn remember(&self, name: String, id: String) {
        let mut projects = self.projects.lock().unwrap_or_else(|p| p.into_inner());
        if projects.len() >= CACHED_PROJECTS {
            projects.clear();
        }
        projects.insert(name, id);
    }

    fn forget(&self, name: &str) {
        self.projects
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
    }

    /// Heat's `_check_stack_domain_user`: the user must be in the stack user domain and have
    /// `scope`'s project as its default. `None` when the user is gone.
    async fn checked_user(
        &self,
        keystone: &Identity,
        scope: &StackScope,
        user_id: &str,
        action: &str,
    ) -> Result<Option<()>, ResourceError> {
        let user = match keystone
            .client()
            .get(format!("/users/{user_id}"))
            .send_json()
            .await
        {
            Ok(user) => user["user"].clone(),
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(cloud_error(e)),
        };
        if user["domain_id"].as_str() != Some(self.domain_id(keystone).await?.as_str()) {
            return Err(invalid(format!("User {action} in invalid domain")));
        }
        let project = self.find_project(keystone, scope).await?;
        if project.is_none() || user["default_project_id"].as_str() != project.as_deref() {
            return Err(invalid(format!("User {action} in invalid project")));
        }
        Ok(Some(()))
    }
}

#[async_trait]
impl StackDomain for KeystoneStackDomain {
    /// Found by its name, else made; two resources making it at once both end up with the one
    /// Keystone kept (names are unique in a domain).
    async fn project(&self, scope: &StackScope) -> Result<String, ResourceError> {
        let keystone = self.identity().await?;
        if let Some(id) = self.find_project(&keystone, scope).await? {
            return Ok(id);
        }
        let domain = self.domain_id(&keystone).await?;
        let made = keystone
            .create(
                IdentityKind::Project,
                json!({
                    "name": scope.project_name(),
                    "domain_id": domain,
                    "description": PROJECT_DESCRIPTION,
                }),
            )
            .await;
        match made {
            Ok(project) => {
                let id = project["id"].as_str().unwrap_or_default().to_string();
                self.remember(scope.project_name(), id.clone());
                Ok(id)
            }
            Err(e) if e.status() == Some(409) => self
                .find_project(&keystone, scope)
                .await?
                .ok_or_else(|| cloud_error(e)),
            Err(e) => Err(cloud_error(e)),
        }
    }

    /// As Heat's `create_stack_domain_user`: the role is looked up first, the name keeps its
    /// last 255 characters, Keystone's password rules for people are switched off for it; a
    /// user whose role cannot be granted is removed again.
    async fn create_user(
        &self,
        scope: &StackScope,
        name: &str,
        password: Option<&str>,
    ) -> Result<String, ResourceError> {
        let keystone = self.identity().await?;
        let role = self.role_id(&keystone).await?;
        let project = self.project(scope).await?;
        let domain = self.domain_id(&keystone).await?;
        let skipped = name.chars().count().saturating_sub(255);
        let mut body = json!({
            "name": name.chars().skip(skipped).collect::<String>(),
            "default_project_id": project,
            "domain_id": domain,
            "enabled": true,
            "options": {
                "ignore_change_password_upon_first_use": true,
                "ignore_password_expiry": true,
                "ignore_lockout_failure_attempts": true,
            },
        });
        if let Some(password) = password {
            body["password"] = json!(password);
        }
        keystone
            .create_user_with_role(body, &project, &role)
            .await
            .map_err(cloud_error)
    }

    async fn delete_user(&self, scope: &StackScope, user_id: &str) -> Result<(), ResourceError> {
        let keystone = self.identity().await?;
        if self
            .checked_user(&keystone, scope, user_id, "delete")
            .await?
            .is_none()
        {
            return Ok(());
        }
        keystone
            .delete(IdentityKind::User, user_id)
            .await
            .map_err(cloud_error)
    }

    async fn set_user_enabled(
        &self,
        scope: &StackScope,
        user_id: &str,
        enabled: bool,
    ) -> Result<(), ResourceError> {
        let keystone = self.identity().await?;
        let action = if enabled { "enable" } else { "disable" };
        self.checked_user(&keystone, scope, user_id, action)
            .await?
            .ok_or_else(|| {
                ResourceError::new("NotFound", format!("Could not find user: {user_id}."))
            })?;
        keystone
            .update(IdentityKind::User, user_id, json!({ "enabled": enabled }))
            .await
            .map(drop)
            .map_err(cloud_error)
    }

    /// As Heat's `create_stack_domain_user_keypair`: a v3 `ec2` credential whose blob holds a
    /// random access key and an OpenStack password as the secret.
    async fn create_ec2_keypair(
        &self,
        scope: &StackScope,
        user_id: &str,
    ) -> Result<Ec2Keypair, ResourceError> {
        let keystone = self.identity().await?;
        let project = self.project(scope).await?;
        let access = uuid::Uuid::new_v4().simple().to_string();
        let secret = generate_password();
        let blob = json!({ "access": access, "secret": secret }).to_string();
        let made = keystone
            .client()
            .post(
                "/credentials",
                json!({"credential": {
                    "type": "ec2",
                    "user_id": user_id,
                    "project_id": project,
                    "blob": blob,
                }}),
            )
            .send_json()
            .await
            .map_err(cloud_error)?;
        Ok(Ec2Keypair {
            credential_id: made["credential"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            access,
            secret,
        })
    }

    async fn delete_ec2_keypair(
        &self,
        scope: &StackScope,
        user_id: &str,
        credential_id: &str,
    ) -> Result<(), ResourceError> {
        let keystone = self.identity().await?;
        if self
            .checked_user(&keystone, scope, user_id, "delete_keypair")
            .await?
            .is_none()
        {
            // Keystone deleted the user's credentials with it.
            return Ok(());
        }
        match keystone
            .client()
            .delete(format!("/credentials/{credential_id}"))
            .send()
            .await
        {
            Err(e) if !e.is_not_found() => Err(cloud_error(e)),
            _ => Ok(()),
        }
    }

    /// The users holding a role on the project go first (Heat leaves that to each resource;
    /// a resource whose delete failed or was abandoned would leave its user behind), then the
    /// project. A project outside the stack user domain is never touched.
    async fn delete_project(&self, scope: &StackScope) -> Result<(), ResourceError> {
        let keystone = self.identity().await?;
        let Some(project) = self.find_project(&keystone, scope).await? else {
            return Ok(());
        };
        let assignments = keystone
            .client()
            .get("/role_assignments")
            .query("scope.project.id", project.clone())
            .send_json()
            .await
            .map_err(cloud_error)?;
        let users: Vec<&str> = assignments["role_assignments"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["user"]["id"].as_str())
            .collect();
        for user in users {
            // Only the stack's own users: anyone else granted a role there stays.
            let ours = self.checked_user(&keystone, scope, user, "delete").await;
            if !matches!(ours, Ok(Some(()))) {
                continue;
            }
            keystone
                .delete(IdentityKind::User, user)
                .await
                .map_err(cloud_error)?;
        }
        keystone
            .delete(IdentityKind::Project, &project)
            .await
            .map_err(cloud_error)?;
        self.forget(&scope.project_name());
        Ok(())
    }

    fn auth_url(&self) -> String {
        let url = self.admin.auth_url.trim_end_matches('/');
        match url.ends_with("/v3") {
            true => url.to_string(),
            false => format!("{url}/v3"),
        }
    }

    fn region(&self) -> Option<String> {
        self.admin.region.clone()
    }
}

/// A resource's data: the id and password of the stack user its server-side agent
/// authenticates as (Heat's `user_id` and `password` resource data).
const USER_ID: &str = "user_id";
const PASSWORD: &str = "password";

/// The credentials of a resource's stack user, as in-instance agents get them.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ResourceUser {
    pub user_id: String,
    pub password: String,
    pub project_id: String,
    pub auth_url: String,
    pub region: Option<String>,
}

impl std::fmt::Debug for ResourceUser {
    // The password never reaches logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceUser")
            .field("user_id", &self.user_id)
            .field("project_id", &self.project_id)
            .finish_non_exhaustive()
    }
}

impl ResourceUser {
    /// What the resource stores so later calls find the same user.
    pub(crate) fn data(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (USER_ID.to_string(), self.user_id.clone()),
            (PASSWORD.to_string(), self.password.clone()),
        ])
    }
}

/// The stack user of the resource `cx` (Heat's `_create_user` with a generated password,
/// for POLL_SERVER_HEAT servers and HEAT_SIGNAL deployments): the one its data records, else
/// a new one named after the resource in the stack's domain project.
pub(crate) async fn resource_user(
    control: &dyn StackControl,
    cx: &ResourceContext,
) -> Result<ResourceUser, ResourceError> {
    let users = control.stack_users(&cx.stack_id).await?.ok_or_else(|| {
        ResourceError::new(
            "Error",
            "Cannot get stack domain user token, no stack domain id configured",
        )
    })?;
    let (user_id, password) = match (cx.data.get(USER_ID), cx.data.get(PASSWORD)) {
        (Some(user), Some(password)) => (user.clone(), password.clone()),
        _ => {
            let password = generate_password();
            let user = users
                .create_user(&cx.physical_resource_name(), Some(&password))
                .await?;
            (user, password)
        }
    };
    Ok(ResourceUser {
        user_id,
        password,
        project_id: users.project().await?,
        auth_url: users.auth_url(),
        region: users.region(),
    })
}

/// A project token of a resource's stack user (Heat's `stack_domain_user_token`), what a
/// native wait condition handle hands out.
pub(crate) async fn user_token(user: &ResourceUser) -> Result<String, ResourceError> {
    let mut vars = BTreeMap::from([
        ("OS_AUTH_URL".to_string(), user.auth_url.clone()),
        ("OS_USER_ID".to_string(), user.user_id.clone()),
        ("OS_PASSWORD".to_string(), user.password.clone()),
        ("OS_PROJECT_ID".to_string(), user.project_id.clone()),
    ]);
    if let Some(region) = &user.region {
        vars.insert("OS_REGION_NAME".into(), region.clone());
    }
    let config = CloudConfig::from_vars(&vars, &[]).map_err(cloud_error)?;
    let session = Session::connect(config).await.map_err(cloud_error)?;
    let token = session.token().await.map_err(cloud_error)?;
    Ok(token.secret().to_string())
}

/// A native API URL (`.../v1/{project}/...`) with the project replaced by `project` (Heat's
/// `_get_resource_endpoint`: a stack user signals under its own project).
pub(crate) fn in_project(url: &str, project: &str) -> String {
    let Some(at) = url.find("/v1/") else {
        return url.to_string();
    };
    let (head, rest) = url.split_at(at + "/v1/".len());
    match rest.split_once('/') {
        Some((_, tail)) => format!("{head}{project}/{tail}"),
        None => format!("{head}{project}"),
    }
}

/// Deletes the stack user the resource's data records, if any.
pub(crate) async fn delete_resource_user(
    control: &dyn StackControl,
    cx: &ResourceContext,
) -> Result<(), ResourceError> {
    let Some(user) = cx.data.get(USER_ID) else {
        return Ok(());
    };
    match control.stack_users(&cx.stack_id).await? {
        Some(users) => users.delete_user(user).await,
        // Made with a stack user domain that is no longer configured: the domain admin's
        // cleanup of the stack's project is out of reach too.
        None => Err(ResourceError::new(
            "Error",
            format!("cannot delete stack user {user}: no stack user domain is configured"),
        )),
    }
}

/// Heat's `generate_openstack_password`: 32 characters with at least one lowercase letter,
/// uppercase letter, digit and one of `!@#%^&*`.
pub(crate) fn generate_password() -> String {
    let rules: ember_engine::Properties = [
        ("length", json!(32)),
        (
            "character_classes",
            json!([
                {"class": "lowercase", "min": 1},
                {"class": "uppercase", "min": 1},
                {"class": "digits", "min": 1},
            ]),
        ),
        (
            "character_sequences",
            json!([{"sequence": "!@#%^&*", "min": 1}]),
        ),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value))
    .collect();
    crate::heat::random_string::generate(&rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_urls_move_under_the_stack_users_project() {
        assert_eq!(
            in_project(
                "http://ember:8004/v1/owner/stacks/s/0a1b/resources/handle/signal",
                "domainproject"
            ),
            "http://ember:8004/v1/domainproject/stacks/s/0a1b/resources/handle/signal"
        );
        assert_eq!(in_project("/v1/owner", "p"), "/v1/p");
        assert_eq!(in_project("no-api-path", "p"), "no-api-path");
    }

    #[test]
    fn passwords_have_every_class_heat_asks_for() {
        let password = generate_password();
        assert_eq!(password.chars().count(), 32);
        assert!(password.chars().any(|c| c.is_ascii_lowercase()));
        assert!(password.chars().any(|c| c.is_ascii_uppercase()));
        assert!(password.chars().any(|c| c.is_ascii_digit()));
        assert!(password.chars().any(|c| "!@#%^&*".contains(c)));
        assert_ne!(password, generate_password());
    }
}
