//! `OS::Keystone::{Domain, Group, Region, Service, Endpoint}` (admin, as Heat's).
//!
//! One implementation: each kind's properties become the Keystone object's fields (names and
//! ids of domains, regions and services resolved as Heat's translation rules do); a Group also
//! holds role grants, through `keystone`'s [`RoleGrants`] like a User. None has attributes but
//! `show`, as in Heat.

use std::sync::Arc;

use async_trait::async_trait;
use ember_engine::resource::{Properties, UpdateRequest};
use ember_engine::schema::TypeSchema;
use ember_engine::{Registry, ResourceContext, ResourceError, ResourceType, Started};
use ember_openstack::services::identity::{quote, Identity, IdentityKind};
use serde_json::{json, Map, Value};

use super::keystone::{
    copy_fields, delete_object, grants, id_of, identity, roles, shown_attribute, validate_roles,
    Actor, RoleGrants,
};
use super::props::{allowed, boolean, custom, string, type_schema};
use super::{cloud_error, name_or_generated, physical_id, Cloud};

pub(super) fn register(registry: &mut Registry, cloud: &Arc<Cloud>) {
    let enabled = |what: &str| {
        boolean(&format!("This {what} is enabled or disabled."))
            .default(json!(true))
            .update_allowed()
    };
    let kinds = [
        (
            "OS::Keystone::Domain",
            IdentityKind::Domain,
            type_schema(
                "Heat Template Resource for Keystone Domain.",
                vec![
                    ("name", string("The name of the domain.").update_allowed()),
                    (
                        "description",
                        string("Description of keystone domain.").update_allowed(),
                    ),
                    ("enabled", enabled("domain")),
                ],
                &[],
            ),
        ),
        (
            "OS::Keystone::Group",
            IdentityKind::Group,
            type_schema(
                "Heat Template Resource for Keystone Group.",
                vec![
                    ("name", string("Name of keystone group.").update_allowed()),
                    (
                        "domain",
                        custom(
                            string("Name or id of keystone domain.")
                                .default(json!("default"))
                                .update_allowed(),
                            "keystone.domain",
                        ),
                    ),
                    (
                        "description",
                        string("Description of keystone group.")
                            .default(json!(""))
                            .update_allowed(),
                    ),
                    roles(),
                ],
                &[],
            ),
        ),
        (
            "OS::Keystone::Region",
            IdentityKind::Region,
            type_schema(
                "Heat Template Resource for Keystone Region.",
                vec![
                    ("id", string("The user-defined region ID and should unique to the OpenStack deployment. While creating the region, heat will url encode this ID.")),
                    (
                        "parent_region",
                        custom(
                            string("If the region is hierarchically a child of another region, set this parameter to the ID of the parent region.").update_allowed(),
                            "keystone.region",
                        ),
                    ),
                    (
                        "description",
                        string("Description of keystone region.").update_allowed(),
                    ),
                    ("enabled", enabled("region")),
                ],
                &[],
            ),
        ),
        (
            "OS::Keystone::Service",
            IdentityKind::Service,
            type_schema(
                "Heat Template Resource for Keystone Service.",
                vec![
                    ("name", string("Name of keystone service.").update_allowed()),
                    (
                        "description",
                        string("Description of keystone service.").update_allowed(),
                    ),
                    (
                        "type",
                        string("Type of keystone Service.")
                            .required()
                            .update_allowed(),
                    ),
                    ("enabled", enabled("service")),
                ],
                &[],
            ),
        ),
        (
            "OS::Keystone::Endpoint",
            IdentityKind::Endpoint,
            type_schema(
                "Heat Template Resource for Keystone Service Endpoint.",
                vec![
                    ("name", string("Name of keystone endpoint.").update_allowed()),
                    (
                        "region",
                        custom(
                            string("Name or Id of keystone region.").update_allowed(),
                            "keystone.region",
                        ),
                    ),
                    (
                        "service",
                        custom(
                            string("Name or Id of keystone service.")
                                .required()
                                .update_allowed(),
                            "keystone.service",
                        ),
                    ),
                    (
                        "interface",
                        allowed(
                            string("Interface type of keystone service endpoint.")
                                .required()
                                .update_allowed(),
                            &["public", "internal", "admin"],
                        ),
                    ),
                    (
                        "url",
                        string("URL of keystone service endpoint.")
                            .required()
                            .update_allowed(),
                    ),
                    ("enabled", enabled("endpoint")),
                ],
                &[],
            ),
        ),
    ];
    for (type_name, kind, schema) in kinds {
        registry.register(
            type_name,
            Arc::new(KeystoneObject {
                kind,
                schema,
                cloud: cloud.clone(),
            }),
        );
    }
}

/// Domain, Group, Region, Service and Endpoint.
struct KeystoneObject {
    kind: IdentityKind,
    schema: TypeSchema,
    cloud: Arc<Cloud>,
}

impl KeystoneObject {
    /// The object's fields for a create (`creating`) or an update.
    async fn body(
        &self,
        keystone: &Identity,
        cx: &ResourceContext,
        creating: bool,
    ) -> Result<Value, ResourceError> {
        let props = &cx.properties;
        let mut body = Map::new();
        let text = |k: &str| props.get(k).and_then(Value::as_str);
        match self.kind {
            IdentityKind::Region => {
                if let Some(id) = text("id").filter(|_| creating) {
                    body.insert("id".into(), json!(quote(id, "/")));
                }
                // Keystone refuses a parent it does not know: its message is the reason.
                body.insert("parent_region_id".into(), json!(text("parent_region")));
                copy_fields(props, &["description", "enabled"], &mut body);
            }
            IdentityKind::Endpoint => {
                body.insert("name".into(), json!(name_or_generated(cx)));
                copy_fields(props, &["interface", "url", "enabled"], &mut body);
                let service = text("service").unwrap_or_default();
                body.insert(
                    "service_id".into(),
                    json!(id_of(keystone, IdentityKind::Service, service).await?),
                );
                if let Some(region) = text("region") {
                    body.insert(
                        "region_id".into(),
                        json!(id_of(keystone, IdentityKind::Region, region).await?),
                    );
                }
            }
            IdentityKind::Group => {
                body.insert("name".into(), json!(name_or_generated(cx)));
                copy_fields(props, &["description"], &mut body);
                let domain = text("domain").unwrap_or("default");
                body.insert(
                    "domain_id".into(),
                    json!(id_of(keystone, IdentityKind::Domain, domain).await?),
                );
            }
            _ => {
                body.insert("name".into(), json!(name_or_generated(cx)));
                copy_fields(props, &["description", "type", "enabled"], &mut body);
            }
        }
        Ok(Value::Object(body))
    }

    fn grants<'a>(&self, keystone: &'a Identity, group_id: &'a str) -> Option<RoleGrants<'a>> {
        (self.kind == IdentityKind::Group).then_some(RoleGrants {
            keystone,
            actor: Actor::Group,
            actor_id: group_id,
        })
    }
}

#[async_trait]
impl ResourceType for KeystoneObject {
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
        let body = self.body(&keystone, cx, true).await?;
        let created = keystone
            .create(self.kind, body)
            .await
            .map_err(cloud_error)?;
        let id = created["id"].as_str().unwrap_or_default().to_string();
        if let Some(grants_of) = self.grants(&keystone, &id) {
            // The engine stores the id only from `Started`: a group whose grants are refused is
            // removed before the refusal is reported, so nothing is left behind.
            if let Err(error) = grants_of.apply(&grants(&cx.properties), false).await {
                keystone.delete(self.kind, &id).await.map_err(cloud_error)?;
                return Err(error);
            }
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
        let changed = |k: &str| request.changed.iter().any(|c| c == k);
        if request.changed.iter().any(|c| c != "roles") {
            let body = self.body(&keystone, cx, false).await?;
            keystone
                .update(self.kind, id, body)
                .await
                .map_err(cloud_error)?;
        }
        if let Some(grants_of) = self.grants(&keystone, id).filter(|_| changed("roles")) {
            grants_of
                .update(request.old_properties, &cx.properties)
                .await?;
        }
        Ok(Started::default())
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        // Keystone drops a deleted group's grants itself; a domain is disabled first.
        delete_object(&self.cloud, cx, self.kind).await
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        shown_attribute(&self.cloud, cx, self.kind, &self.schema, name).await
    }
}
