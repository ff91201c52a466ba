//! `OS::Keystone::{Project, User, Role, UserRoleAssignment, GroupRoleAssignment}` (admin).
//!
//! Role grants are one mechanism ([`RoleGrants`]) shared by `User` (its `roles` property) and the
//! two assignment types, which differ only in whether the actor is a user or a group.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use ember_engine::resource::{Properties, UpdateRequest};
use ember_engine::schema::{PropertySchema, TypeSchema};
use ember_engine::{Registry, ResourceContext, ResourceError, ResourceType, Started};
use ember_openstack::services::identity::{Identity, IdentityKind};
use serde_json::{json, Map, Value};

use super::props::{boolean, custom, list, map, string, type_schema};
use super::{cloud_error, name_or_generated, physical_id, Cloud};

/// Heat's `roles` property of users, groups and the assignment types.
pub(super) fn roles() -> (&'static str, PropertySchema) {
    (
        "roles",
        list("List of role assignments.")
            .update_allowed()
            .with_items(
                map("Map between role with either project or domain.").with_keys(vec![
                    (
                        "role",
                        custom(string("Keystone role.").required(), "keystone.role"),
                    ),
                    (
                        "project",
                        custom(string("Keystone project."), "keystone.project"),
                    ),
                    (
                        "domain",
                        custom(string("Keystone domain."), "keystone.domain"),
                    ),
                ]),
            ),
    )
}

pub(super) fn register(registry: &mut Registry, cloud: &Arc<Cloud>) {
    let domain = |what: &str| {
        custom(
            string(&format!("Name or id of keystone domain{what}."))
                .default(json!("default"))
                .update_allowed(),
            "keystone.domain",
        )
    };
    registry.register(
        "OS::Keystone::Project",
        Arc::new(Project {
            schema: type_schema(
                "Heat Template Resource for Keystone Project.",
                vec![
                    ("name", string("Name of keystone project.").update_allowed()),
                    ("domain", domain("")),
                    (
                        "description",
                        string("Description of keystone project.")
                            .default(json!(""))
                            .update_allowed(),
                    ),
                    (
                        "enabled",
                        boolean("This project is enabled or disabled.")
                            .default(json!(true))
                            .update_allowed(),
                    ),
                    (
                        "parent",
                        custom(
                            string(
                                "The name or ID of parent of this keystone project in hierarchy.",
                            ),
                            "keystone.project",
                        ),
                    ),
                    (
                        "tags",
                        list("A list of tags for labeling and sorting projects.")
                            .default(json!([]))
                            .update_allowed(),
                    ),
                ],
                &[
                    "name",
                    "parent_id",
                    "domain_id",
                    "enabled",
                    "description",
                    "is_domain",
                ],
            ),
            cloud: cloud.clone(),
        }),
    );
    registry.register(
        "OS::Keystone::User",
        Arc::new(User {
            schema: type_schema(
                "Heat Template Resource for Keystone User.",
                vec![
                    ("name", string("Name of keystone user.").update_allowed()),
                    ("domain", domain("")),
                    (
                        "description",
                        string("Description of keystone user.")
                            .default(json!(""))
                            .update_allowed(),
                    ),
                    (
                        "enabled",
                        boolean("Keystone user is enabled or disabled")
                            .default(json!(true))
                            .update_allowed(),
                    ),
                    (
                        "email",
                        string("Email address of keystone user.").update_allowed(),
                    ),
                    (
                        "password",
                        string("Password of keystone user.").update_allowed(),
                    ),
                    (
                        "default_project",
                        custom(
                            string("Default project of keystone user.").update_allowed(),
                            "keystone.project",
                        ),
                    ),
                    (
                        "groups",
                        list("keystone user groups.")
                            .update_allowed()
                            .with_items(custom(string("keystone user group."), "keystone.group")),
                    ),
                    roles(),
                ],
                &[
                    "name",
                    "default_project_id",
                    "domain_id",
                    "enabled",
                    "password_expires_at",
                ],
            ),
            cloud: cloud.clone(),
        }),
    );
    registry.register(
        "OS::Keystone::Role",
        Arc::new(Role {
            schema: type_schema(
                "Heat Template Resource for Keystone Role.",
                vec![
                    ("name", string("Name of keystone role.").update_allowed()),
                    (
                        "domain",
                        custom(string("Name or id of keystone domain."), "keystone.domain"),
                    ),
                ],
                &[],
            ),
            cloud: cloud.clone(),
        }),
    );
    for (type_name, actor, description) in [
        (
            "OS::Keystone::UserRoleAssignment",
            Actor::User,
            "Resource for granting roles to a user.",
        ),
        (
            "OS::Keystone::GroupRoleAssignment",
            Actor::Group,
            "Resource for granting roles to a group.",
        ),
    ] {
        let key = actor.property();
        registry.register(
            type_name,
            Arc::new(RoleAssignment {
                schema: type_schema(
                    description,
                    vec![
                        (
                            key,
                            custom(
                                string(&format!("Name or id of keystone {key}."))
                                    .required()
                                    .update_allowed(),
                                &format!("keystone.{key}"),
                            ),
                        ),
                        roles(),
                    ],
                    &[],
                ),
                cloud: cloud.clone(),
                actor,
            }),
        );
    }
}

pub(crate) async fn identity(
    cloud: &Cloud,
    cx: &ResourceContext,
) -> Result<Identity, ResourceError> {
    super::client(cloud, cx, Identity::new).await
}

/// The id of a Keystone object given by name or id.
pub(crate) async fn find_id(
    keystone: &Identity,
    kind: IdentityKind,
    name_or_id: &str,
) -> Result<String, ember_openstack::Error> {
    let found = keystone.find(kind, name_or_id).await?;
    Ok(found["id"].as_str().unwrap_or(name_or_id).to_string())
}

pub(super) async fn id_of(
    keystone: &Identity,
    kind: IdentityKind,
    name_or_id: &str,
) -> Result<String, ResourceError> {
    find_id(keystone, kind, name_or_id)
        .await
        .map_err(cloud_error)
}

/// Heat's checks on `roles`: each entry names exactly one of project and domain.
pub(super) fn validate_roles(props: &Properties) -> Result<(), String> {
    for entry in props
        .get("roles")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let has = |k: &str| entry.get(k).is_some_and(|v| !v.is_null());
        match (has("project"), has("domain")) {
            (true, true) => {
                return Err(
                    "Cannot define the following properties at the same time: project, domain"
                        .into(),
                )
            }
            (false, false) => {
                return Err(format!(
                    "Either project or domain must be specified for role {}",
                    entry
                        .get("role")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Who receives the roles.
#[derive(Clone, Copy)]
pub(super) enum Actor {
    User,
    Group,
}

impl Actor {
    fn property(self) -> &'static str {
        match self {
            Actor::User => "user",
            Actor::Group => "group",
        }
    }

    fn kind(self) -> IdentityKind {
        match self {
            Actor::User => IdentityKind::User,
            Actor::Group => IdentityKind::Group,
        }
    }
}

/// One `roles` entry as written: (role, "projects" | "domains", target), names or ids.
pub(super) type Grant = (String, &'static str, String);

pub(super) fn grants(props: &Properties) -> BTreeSet<Grant> {
    props
        .get("roles")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let role = entry.get("role")?.as_str()?.to_string();
            let text = |k: &str| entry.get(k).and_then(Value::as_str).map(str::to_string);
            match (text("project"), text("domain")) {
                (Some(project), _) => Some((role, "projects", project)),
                (None, Some(domain)) => Some((role, "domains", domain)),
                (None, None) => None,
            }
        })
        .collect()
}

/// Grants and revokes the `roles` of one actor.
pub(super) struct RoleGrants<'a> {
    pub(super) keystone: &'a Identity,
    pub(super) actor: Actor,
    pub(super) actor_id: &'a str,
}

impl RoleGrants<'_> {
    pub(super) async fn apply(
        &self,
        grants: &BTreeSet<Grant>,
        revoke: bool,
    ) -> Result<(), ResourceError> {
        let actor = format!("{}s/{}", self.actor.property(), self.actor_id);
        for (role, target_kind, target) in grants {
            let target_type = if *target_kind == "projects" {
                IdentityKind::Project
            } else {
                IdentityKind::Domain
            };
            let lookup = async {
                Ok::<_, ember_openstack::Error>((
                    find_id(self.keystone, IdentityKind::Role, role).await?,
                    find_id(self.keystone, target_type, target).await?,
                ))
            };
            let (role_id, target_id) = match lookup.await {
                // Revoking from a project or role already deleted outside Ember: nothing to do.
                Err(e) if revoke && e.is_not_found() => continue,
                other => other.map_err(cloud_error)?,
            };
            let target = format!("/{target_kind}/{target_id}/");
            let result = if revoke {
                self.keystone.revoke(&target, &actor, &role_id).await
            } else {
                self.keystone.grant(&target, &actor, &role_id).await
            };
            result.map_err(cloud_error)?;
        }
        Ok(())
    }

    pub(super) async fn update(
        &self,
        old: &Properties,
        new: &Properties,
    ) -> Result<(), ResourceError> {
        let (old, new) = (grants(old), grants(new));
        self.apply(&new.difference(&old).cloned().collect(), false)
            .await?;
        self.apply(&old.difference(&new).cloned().collect(), true)
            .await
    }
}

/// Fields Keystone takes as given in the properties.
pub(super) fn copy_fields(props: &Properties, fields: &[&str], into: &mut Map<String, Value>) {
    for key in fields {
        if let Some(value) = props.get(*key).filter(|v| !v.is_null()) {
            into.insert(key.to_string(), value.clone());
        }
    }
}

/// The attributes Keystone shows for one object (`show` is the whole object).
pub(super) async fn shown_attribute(
    cloud: &Cloud,
    cx: &ResourceContext,
    kind: IdentityKind,
    schema: &TypeSchema,
    name: &str,
) -> Result<Option<Value>, ResourceError> {
    if !schema.attributes.contains_key(name) {
        return Ok(None);
    }
    let Some(id) = cx.physical_id.as_deref() else {
        return Ok(Some(Value::Null));
    };
    let keystone = identity(cloud, cx).await?;
    let object = keystone.find(kind, id).await.map_err(cloud_error)?;
    Ok(Some(if name == "show" {
        object
    } else {
        object.get(name).cloned().unwrap_or(Value::Null)
    }))
}

pub(super) async fn delete_object(
    cloud: &Cloud,
    cx: &ResourceContext,
    kind: IdentityKind,
) -> Result<Started, ResourceError> {
    if let Some(id) = cx.physical_id.as_deref() {
        identity(cloud, cx)
            .await?
            .delete(kind, id)
            .await
            .map_err(cloud_error)?;
    }
    Ok(Started::default())
}

struct Project {
    schema: TypeSchema,
    cloud: Arc<Cloud>,
}

impl Project {
    async fn body(
        &self,
        keystone: &Identity,
        cx: &ResourceContext,
    ) -> Result<Value, ResourceError> {
        let mut body = Map::new();
        body.insert("name".into(), json!(name_or_generated(cx)));
        copy_fields(
            &cx.properties,
            &["description", "enabled", "tags"],
            &mut body,
        );
        let domain = cx.prop_str("domain").unwrap_or("default");
        body.insert(
            "domain_id".into(),
            json!(id_of(keystone, IdentityKind::Domain, domain).await?),
        );
        Ok(Value::Object(body))
    }
}

#[async_trait]
impl ResourceType for Project {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    async fn validate_with_cloud(
        &self,
        handle: Option<&ember_engine::CloudHandle>,
        properties: &Properties,
    ) -> Result<(), (String, String)> {
        super::check_constraints(&self.cloud, handle, &self.schema, properties).await
    }

    fn creates_synchronously(&self) -> bool {
        true
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let keystone = identity(&self.cloud, cx).await?;
        let mut body = self.body(&keystone, cx).await?;
        if let Some(parent) = cx.prop_str("parent") {
            body["parent_id"] = json!(id_of(&keystone, IdentityKind::Project, parent).await?);
        }
        let created = keystone
            .create(IdentityKind::Project, body)
            .await
            .map_err(cloud_error)?;
        Ok(Started {
            physical_id: created["id"].as_str().map(str::to_string),
            data: Default::default(),
        })
    }

    async fn update(
        &self,
        cx: &ResourceContext,
        _request: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        let keystone = identity(&self.cloud, cx).await?;
        let body = self.body(&keystone, cx).await?;
        keystone
            .update(IdentityKind::Project, physical_id(cx)?, body)
            .await
            .map_err(cloud_error)?;
        Ok(Started::default())
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        delete_object(&self.cloud, cx, IdentityKind::Project).await
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        shown_attribute(&self.cloud, cx, IdentityKind::Project, &self.schema, name).await
    }
}

struct User {
    schema: TypeSchema,
    cloud: Arc<Cloud>,
}

impl User {
    async fn body(
        &self,
        keystone: &Identity,
        cx: &ResourceContext,
    ) -> Result<Value, ResourceError> {
        let mut body = Map::new();
        body.insert("name".into(), json!(name_or_generated(cx)));
        copy_fields(
            &cx.properties,
            &["description", "enabled", "email", "password"],
            &mut body,
        );
        let domain = cx.prop_str("domain").unwrap_or("default");
        body.insert(
            "domain_id".into(),
            json!(id_of(keystone, IdentityKind::Domain, domain).await?),
        );
        if let Some(project) = cx.prop_str("default_project") {
            body.insert(
                "default_project_id".into(),
                json!(id_of(keystone, IdentityKind::Project, project).await?),
            );
        }
        Ok(Value::Object(body))
    }

    /// Adds the user to (or removes it from) the named groups.
    async fn membership(
        keystone: &Identity,
        user_id: &str,
        groups: &BTreeSet<String>,
        remove: bool,
    ) -> Result<(), ResourceError> {
        for group in groups {
            let group_id = match find_id(keystone, IdentityKind::Group, group).await {
                Err(e) if remove && e.is_not_found() => continue,
                other => other.map_err(cloud_error)?,
            };
            let path = format!("/groups/{group_id}/users/{user_id}");
            let result = if remove {
                keystone.client().delete_if_present(path).await
            } else {
                keystone
                    .client()
                    .put(path, json!({}))
                    .idempotent(true)
                    .send()
                    .await
                    .map(|_| ())
            };
            result.map_err(cloud_error)?;
        }
        Ok(())
    }
}

fn groups(props: &Properties) -> BTreeSet<String> {
    props
        .get("groups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|g| g.as_str().map(str::to_string))
        .collect()
}

#[async_trait]
impl ResourceType for User {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    async fn validate_with_cloud(
        &self,
        handle: Option<&ember_engine::CloudHandle>,
        properties: &Properties,
    ) -> Result<(), (String, String)> {
        super::check_constraints(&self.cloud, handle, &self.schema, properties).await
    }

    fn validate(&self, props: &Properties) -> Result<(), String> {
        validate_roles(props)
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let keystone = identity(&self.cloud, cx).await?;
        let body = self.body(&keystone, cx).await?;
        let created = keystone
            .create(IdentityKind::User, body)
            .await
            .map_err(cloud_error)?;
        let id = created["id"].as_str().unwrap_or_default().to_string();
        // The engine stores the id only from `Started`: a failure after this point would leave
        // the user behind, so it is removed before the failure is reported.
        let finish = async {
            User::membership(&keystone, &id, &groups(&cx.properties), false).await?;
            RoleGrants {
                keystone: &keystone,
                actor: Actor::User,
                actor_id: &id,
            }
            .apply(&grants(&cx.properties), false)
            .await
        };
        if let Err(error) = finish.await {
            keystone
                .delete(IdentityKind::User, &id)
                .await
                .map_err(cloud_error)?;
            return Err(error);
        }
        Ok(Started {
            physical_id: Some(id),
            data: Default::default(),
        })
    }

    async fn update(
        &self,
        cx: &ResourceContext,
        request: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        let keystone = identity(&self.cloud, cx).await?;
        let id = physical_id(cx)?;
        let mut body = self.body(&keystone, cx).await?;
        if !request.changed.iter().any(|c| c == "password") {
            // Setting the same password again may be refused by password-history rules.
            if let Some(fields) = body.as_object_mut() {
                fields.remove("password");
            }
        }
        keystone
            .update(IdentityKind::User, id, body)
            .await
            .map_err(cloud_error)?;
        let (old, new) = (groups(request.old_properties), groups(&cx.properties));
        User::membership(
            &keystone,
            id,
            &new.difference(&old).cloned().collect(),
            false,
        )
        .await?;
        User::membership(
            &keystone,
            id,
            &old.difference(&new).cloned().collect(),
            true,
        )
        .await?;
        RoleGrants {
            keystone: &keystone,
            actor: Actor::User,
            actor_id: id,
        }
        .update(request.old_properties, &cx.properties)
        .await?;
        Ok(Started::default())
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        // Keystone drops a deleted user's grants and memberships itself.
        delete_object(&self.cloud, cx, IdentityKind::User).await
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        shown_attribute(&self.cloud, cx, IdentityKind::User, &self.schema, name).await
    }
}

struct Role {
    schema: TypeSchema,
    cloud: Arc<Cloud>,
}

#[async_trait]
impl ResourceType for Role {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    async fn validate_with_cloud(
        &self,
        handle: Option<&ember_engine::CloudHandle>,
        properties: &Properties,
    ) -> Result<(), (String, String)> {
        super::check_constraints(&self.cloud, handle, &self.schema, properties).await
    }

    fn creates_synchronously(&self) -> bool {
        true
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let keystone = identity(&self.cloud, cx).await?;
        let mut body = json!({ "name": name_or_generated(cx) });
        if let Some(domain) = cx.prop_str("domain") {
            body["domain_id"] = json!(id_of(&keystone, IdentityKind::Domain, domain).await?);
        }
        let created = keystone
            .create(IdentityKind::Role, body)
            .await
            .map_err(cloud_error)?;
        Ok(Started {
            physical_id: created["id"].as_str().map(str::to_string),
            data: Default::default(),
        })
    }

    async fn update(
        &self,
        cx: &ResourceContext,
        _request: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        identity(&self.cloud, cx)
            .await?
            .update(
                IdentityKind::Role,
                physical_id(cx)?,
                json!({ "name": name_or_generated(cx) }),
            )
            .await
            .map_err(cloud_error)?;
        Ok(Started::default())
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        delete_object(&self.cloud, cx, IdentityKind::Role).await
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        shown_attribute(&self.cloud, cx, IdentityKind::Role, &self.schema, name).await
    }
}

/// Heat's assignment types have no physical resource (their `Ref` is the resource name); the
/// grants are derived from the properties each time.
struct RoleAssignment {
    schema: TypeSchema,
    cloud: Arc<Cloud>,
    actor: Actor,
}

impl RoleAssignment {
    /// The actor's id; `None` when it no longer exists (nothing left to revoke).
    async fn actor_id(
        &self,
        keystone: &Identity,
        props: &Properties,
    ) -> Result<Option<String>, ResourceError> {
        let name = props
            .get(self.actor.property())
            .and_then(Value::as_str)
            .unwrap_or_default();
        match keystone.find(self.actor.kind(), name).await {
            Ok(found) => Ok(found["id"].as_str().map(str::to_string)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(cloud_error(e)),
        }
    }
}

#[async_trait]
impl ResourceType for RoleAssignment {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    async fn validate_with_cloud(
        &self,
        handle: Option<&ember_engine::CloudHandle>,
        properties: &Properties,
    ) -> Result<(), (String, String)> {
        super::check_constraints(&self.cloud, handle, &self.schema, properties).await
    }

    fn validate(&self, props: &Properties) -> Result<(), String> {
        validate_roles(props)
    }

    fn creates_synchronously(&self) -> bool {
        true
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let keystone = identity(&self.cloud, cx).await?;
        let name = cx.prop_str(self.actor.property()).unwrap_or_default();
        let actor_id = id_of(&keystone, self.actor.kind(), name).await?;
        RoleGrants {
            keystone: &keystone,
            actor: self.actor,
            actor_id: &actor_id,
        }
        .apply(&grants(&cx.properties), false)
        .await?;
        Ok(Started::default())
    }

    async fn update(
        &self,
        cx: &ResourceContext,
        request: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        let keystone = identity(&self.cloud, cx).await?;
        let old_actor = self.actor_id(&keystone, request.old_properties).await?;
        let new_actor = self.actor_id(&keystone, &cx.properties).await?;
        if old_actor == new_actor {
            if let Some(id) = &new_actor {
                RoleGrants {
                    keystone: &keystone,
                    actor: self.actor,
                    actor_id: id,
                }
                .update(request.old_properties, &cx.properties)
                .await?;
            }
            return Ok(Started::default());
        }
        // Another user or group: move every grant.
        if let Some(old) = &old_actor {
            RoleGrants {
                keystone: &keystone,
                actor: self.actor,
                actor_id: old,
            }
            .apply(&grants(request.old_properties), true)
            .await?;
        }
        let new = match new_actor {
            Some(id) => id,
            None => {
                let name = cx.prop_str(self.actor.property()).unwrap_or_default();
                id_of(&keystone, self.actor.kind(), name).await?
            }
        };
        RoleGrants {
            keystone: &keystone,
            actor: self.actor,
            actor_id: &new,
        }
        .apply(&grants(&cx.properties), false)
        .await?;
        Ok(Started::default())
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let keystone = identity(&self.cloud, cx).await?;
        if let Some(id) = self.actor_id(&keystone, &cx.properties).await? {
            RoleGrants {
                keystone: &keystone,
                actor: self.actor,
                actor_id: &id,
            }
            .apply(&grants(&cx.properties), true)
            .await?;
        }
        Ok(Started::default())
    }

    async fn attribute(
        &self,
        _cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        Ok((name == "show").then_some(Value::Null))
    }
}
