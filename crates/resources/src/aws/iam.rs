//! `AWS::IAM::User` and `AWS::IAM::AccessKey`: a Keystone user of the stack and its EC2
//! credential.
//!
//! With a stack user domain (`ember serve --stack-user-domain-name ...`, Heat's default mode)
//! the user is made by the engine's stack domain (`StackControl::stack_users`) in the stack's
//! domain project with the `heat_stack_user` role there, and the access key is an `ec2`
//! credential on that project; the resources never see the domain admin's credentials.
//! Without one, Ember does what Heat does then (its "legacy" mode): the user is created with
//! the stack's own session in the stack owner's project (its default project, Keystone's
//! domain of the token's project), given the `heat_stack_user` role there, and its EC2
//! credential is made on that project; this needs a stack owner allowed to create users.
//! A user's `Ref` is its name (`<stack>-<resource>-<id>`), as in Heat; the access key finds
//! the Keystone id through the User resource of its stack, never by listing Keystone users.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use ember_engine::nested::StackHandle;
use ember_engine::resource::Properties;
use ember_engine::schema::{Constraint, TypeSchema};
use ember_engine::{Registry, ResourceContext, ResourceError, ResourceType, Started};
use ember_openstack::services::identity::{Identity, IdentityKind};
use serde_json::{json, Value};

use super::{integer, list, map, schema, string, vpc::not_implemented};
use crate::openstack::keystone::{find_id, identity};
use crate::openstack::stack_domain::STACK_USER_ROLE;
use crate::openstack::{cloud_error, session, Cloud};

/// The User resource's data: its Keystone id, which its access keys need.
const USER_ID: &str = "user_id";
/// The AccessKey resource's data: the secret of its credential.
const SECRET_KEY: &str = "secret_key";
/// The AccessKey resource's data in domain mode: the Keystone credential's id.
const CREDENTIAL_ID: &str = "credential_id";

pub(super) fn register(registry: &mut Registry, cloud: &Arc<Cloud>) {
    let handle = StackHandle::new();
    registry.add_stack_handle(handle.clone());
    registry.register(
        "AWS::IAM::User",
        Arc::new(User {
            schema: schema(
                // Heat's classes have no docstring.
                "No description available",
                vec![
                    ("Path", string("Not Implemented.")),
                    ("Groups", list("Not Implemented.")),
                    (
                        "LoginProfile",
                        map("A login profile for the user.")
                            .with_keys(vec![("Password", string(""))]),
                    ),
                    ("Policies", list("Access policies to apply to the user.")),
                ],
                &[],
            ),
            cloud: cloud.clone(),
            handle: handle.clone(),
        }),
    );
    registry.register(
        "AWS::IAM::AccessKey",
        Arc::new(AccessKey {
            schema: schema(
                // Heat's classes have no docstring.
                "No description available",
                vec![
                    ("Serial", integer("Not Implemented.")),
                    (
                        "UserName",
                        string("The name of the user that the new key will belong to.").required(),
                    ),
                    (
                        "Status",
                        string("Not Implemented.").constraint(Constraint::AllowedValues(vec![
                            json!("Active"),
                            json!("Inactive"),
                        ])),
                    ),
                ],
                &[
                    ("UserName", "Username associated with the AccessKey."),
                    ("SecretAccessKey", "Keypair secret key."),
                ],
            ),
            cloud: cloud.clone(),
            handle,
        }),
    );
}

/// The project of the stack's session: where the legacy stack user lives.
async fn stack_project(cloud: &Cloud, cx: &ResourceContext) -> Result<String, ResourceError> {
    let token = session(cloud, cx)
        .await?
        .token()
        .await
        .map_err(cloud_error)?;
    token
        .project_id
        .ok_or_else(|| ResourceError::new("Error", "the stack's session is not project-scoped"))
}

struct User {
    schema: TypeSchema,
    cloud: Arc<Cloud>,
    handle: StackHandle,
}

impl User {
    /// Heat's check of `Policies`: each name must be an access policy resource of the stack
    /// (maps, inline IAM policies, are ignored). Ember has no access policy type, so no name
    /// can be one.
    fn check_policies(cx: &ResourceContext) -> Result<(), ResourceError> {
        let named = cx
            .properties
            .get("Policies")
            .and_then(Value::as_array)
            .is_some_and(|policies| policies.iter().any(Value::is_string));
        if named {
            return Err(ResourceError::new(
                "InvalidTemplateAttribute",
                format!(
                    "The Referenced Attribute ({} Policies) is incorrect.",
                    cx.name
                ),
            ));
        }
        Ok(())
    }

    /// The user in the stack owner's project with the stack user role there; on a failure
    /// after the user exists, the user is removed (nothing would record its id).
    async fn create_user(
        keystone: &Identity,
        cx: &ResourceContext,
        project: &str,
    ) -> Result<String, ResourceError> {
        let role = find_id(keystone, IdentityKind::Role, STACK_USER_ROLE)
            .await
            .map_err(|e| match e {
                e if e.is_not_found() => {
                    ResourceError::new("Error", format!("Can't find role {STACK_USER_ROLE}"))
                }
                e => cloud_error(e),
            })?;
        // Keystone takes at most 255 characters; Heat keeps the last ones.
        let name = cx.physical_resource_name();
        let skipped = name.chars().count().saturating_sub(255);
        let name: String = name.chars().skip(skipped).collect();
        let mut body = json!({
            "name": name,
            "default_project_id": project,
            "enabled": true,
        });
        if let Some(password) = cx
            .properties
            .get("LoginProfile")
            .and_then(|p| p.get("Password"))
            .filter(|p| !p.is_null())
        {
            body["password"] = password.clone();
        }
        keystone
            .create_user_with_role(body, project, &role)
            .await
            .map_err(cloud_error)
    }
}

impl User {
    async fn set_enabled(
        &self,
        cx: &ResourceContext,
        enabled: bool,
    ) -> Result<Started, ResourceError> {
        let users = self.handle.get()?.stack_users(&cx.stack_id).await?;
        if let (Some(users), Some(id)) = (users, cx.physical_id.as_deref()) {
            users.set_user_enabled(id, enabled).await?;
        }
        Ok(Started::default())
    }
}

#[async_trait]
impl ResourceType for User {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    fn validate(&self, props: &Properties) -> Result<(), String> {
        not_implemented(props, &["Path", "Groups"])
    }

    fn creates_synchronously(&self) -> bool {
        true
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        User::check_policies(cx)?;
        let id = match self.handle.get()?.stack_users(&cx.stack_id).await? {
            Some(users) => {
                let password = cx
                    .properties
                    .get("LoginProfile")
                    .and_then(|p| p.get("Password"))
                    .and_then(Value::as_str);
                users
                    .create_user(&cx.physical_resource_name(), password)
                    .await?
            }
            None => {
                let keystone = identity(&self.cloud, cx).await?;
                let project = stack_project(&self.cloud, cx).await?;
                User::create_user(&keystone, cx, &project).await?
            }
        };
        Ok(Started {
            physical_id: Some(id.clone()),
            data: BTreeMap::from([(USER_ID.to_string(), id)]),
        })
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        // Keystone drops the user's grants and EC2 credentials with it; a user already
        // deleted outside Ember counts as deleted.
        let Some(id) = cx.physical_id.as_deref() else {
            return Ok(Started::default());
        };
        if let Some(users) = self.handle.get()?.stack_users(&cx.stack_id).await? {
            match users.delete_user(id).await {
                // Heat's fallback: a user made before the stack user domain was configured
                // is not in it, and goes by the legacy path.
                Err(ResourceError::Failed { kind, .. }) if kind == "ValueError" => {}
                other => return other.map(|()| Started::default()),
            }
        }
        identity(&self.cloud, cx)
            .await?
            .delete(IdentityKind::User, id)
            .await
            .map_err(cloud_error)?;
        Ok(Started::default())
    }

    /// Heat's `handle_suspend`/`handle_resume` of a stack user: it is disabled while its
    /// resource is suspended (domain mode: the domain admin may; legacy users stay as they are,
    /// the owner may not be allowed to change users).
    async fn suspend(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        self.set_enabled(cx, false).await
    }

    async fn resume(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        self.set_enabled(cx, true).await
    }

    async fn attribute(
        &self,
        _cx: &ResourceContext,
        _name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        Ok(None)
    }

    /// Heat's `Ref` of a user is its name.
    fn reference_id(&self, cx: &ResourceContext) -> Value {
        json!(cx.physical_resource_name())
    }
}

struct AccessKey {
    schema: TypeSchema,
    cloud: Arc<Cloud>,
    handle: StackHandle,
}

impl AccessKey {
    /// The Keystone id of the stack's User whose `Ref` is `UserName` (Heat's
    /// `resource_by_refid`), if there is one.
    async fn user_id(&self, cx: &ResourceContext) -> Result<Option<String>, ResourceError> {
        let reference = cx.prop_str("UserName").unwrap_or_default();
        let control = self.handle.get()?;
        let Some(name) = control
            .resource_by_reference(&cx.stack_id, reference)
            .await?
        else {
            return Ok(None);
        };
        Ok(control
            .resource_data(&cx.stack_id, &name)
            .await?
            .and_then(|mut data| data.remove(USER_ID)))
    }
}

#[async_trait]
impl ResourceType for AccessKey {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    fn validate(&self, props: &Properties) -> Result<(), String> {
        not_implemented(props, &["Serial", "Status"])
    }

    fn creates_synchronously(&self) -> bool {
        true
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let user = self.user_id(cx).await?.ok_or_else(|| {
            ResourceError::new(
                "NotFound",
                format!(
                    "could not find user {}",
                    cx.prop_str("UserName").unwrap_or_default()
                ),
            )
        })?;
        if let Some(users) = self.handle.get()?.stack_users(&cx.stack_id).await? {
            let keypair = users.create_ec2_keypair(&user).await?;
            return Ok(Started {
                physical_id: Some(keypair.access),
                data: BTreeMap::from([
                    (USER_ID.to_string(), user),
                    (SECRET_KEY.to_string(), keypair.secret),
                    (CREDENTIAL_ID.to_string(), keypair.credential_id),
                ]),
            });
        }
        let keystone = identity(&self.cloud, cx).await?;
        let project = stack_project(&self.cloud, cx).await?;
        let credential = keystone
            .create_ec2_credential(&user, &project)
            .await
            .map_err(cloud_error)?;
        let field = |key: &str| credential[key].as_str().unwrap_or_default().to_string();
        Ok(Started {
            physical_id: Some(field("access")),
            data: BTreeMap::from([
                (USER_ID.to_string(), user),
                (SECRET_KEY.to_string(), field("secret")),
            ]),
        })
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        // The user recorded at create: the User resource may already be gone.
        let (Some(access), Some(user)) = (cx.physical_id.as_deref(), cx.data.get(USER_ID)) else {
            return Ok(Started::default());
        };
        match cx.data.get(CREDENTIAL_ID) {
            Some(credential) => {
                match self.handle.get()?.stack_users(&cx.stack_id).await? {
                    Some(users) => users.delete_ec2_keypair(user, credential).await?,
                    None => return Err(ResourceError::new(
                        "Error",
                        "the key was made in the stack user domain, which is no longer configured",
                    )),
                }
            }
            None => identity(&self.cloud, cx)
                .await?
                .delete_ec2_credential(user, access)
                .await
                .map_err(cloud_error)?,
        }
        Ok(Started::default())
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        Ok(match name {
            "UserName" => Some(
                cx.properties
                    .get("UserName")
                    .cloned()
                    .unwrap_or(Value::Null),
            ),
            // Heat's placeholder while there is no secret.
            "SecretAccessKey" => Some(json!(cx
                .data
                .get(SECRET_KEY)
                .map_or("000-000-000", String::as_str))),
            _ => None,
        })
    }
}
