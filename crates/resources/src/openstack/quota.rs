//! `OS::Cinder::Quota`, `OS::Nova::Quota`, `OS::Neutron::Quota` (admin, as Heat's).
//!
//! One mechanism: the quota set of a project (`PUT {path}/{project id}` with the given limits,
//! `DELETE` back to the defaults), differing only in the service, the path, the body key and
//! the limits. As in Heat the physical id is the resource's physical name; the project's id is
//! kept in the data, so the delete resets the project the quota was set on. Cinder's limits
//! are checked against the project's usage first, as Heat does.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use ember_engine::resource::{Properties, UpdateRequest};
use ember_engine::schema::{Constraint, TypeSchema};
use ember_engine::{Registry, ResourceContext, ResourceError, ResourceType, Started};
use ember_openstack::catalog::ServiceType;
use ember_openstack::services::identity::IdentityKind;
use ember_openstack::ServiceClient;
use serde_json::{json, Map, Value};

use super::keystone::{id_of, identity};
use super::props::{custom, integer, string, type_schema};
use super::{cloud_error, Cloud};

/// Where a service keeps quota sets.
struct QuotaApi {
    service: ServiceType,
    /// `/os-quota-sets` (Nova, Cinder) or `/quotas` (Neutron).
    path: &'static str,
    /// `quota_set` or `quota`.
    key: &'static str,
}

/// The data key of the project whose quota was set.
const PROJECT_ID: &str = "project_id";

pub(super) fn register(registry: &mut Registry, cloud: &Arc<Cloud>) {
    let removes = "Setting the value to -1 removes the limit.";
    let cinder = [
        (
            "gigabytes",
            format!("Quota for the amount of disk space (in Gigabytes). {removes}"),
        ),
        (
            "volumes",
            format!("Quota for the number of volumes. {removes}"),
        ),
        (
            "backups",
            format!("Quota for the number of backups. {removes}"),
        ),
        (
            "backup_gigabytes",
            format!("Quota for the amount of backups disk space (in Gigabytes). {removes}"),
        ),
        (
            "snapshots",
            format!("Quota for the number of snapshots. {removes}"),
        ),
    ];
    let nova_counts = [
        ("cores", "cores"),
        ("fixed_ips", "fixed IPs"),
        ("floating_ips", "floating IPs"),
        ("instances", "instances"),
        ("injected_files", "injected files"),
        ("injected_file_content_bytes", "injected file content bytes"),
        ("injected_file_path_bytes", "injected file path bytes"),
        ("key_pairs", "key pairs"),
        ("metadata_items", "metadata items"),
        ("security_groups", "security groups"),
        ("security_group_rules", "security group rules"),
        ("server_groups", "server groups"),
        ("server_group_members", "server group members"),
    ];
    let mut nova: Vec<(&str, String)> = nova_counts
        .iter()
        .map(|(name, what)| (*name, format!("Quota for the number of {what}. {removes}")))
        .collect();
    nova.push((
        "ram",
        format!("Quota for the amount of ram (in megabytes). {removes}"),
    ));
    let neutron: Vec<(&str, String)> = [
        ("subnet", "subnets"),
        ("network", "networks"),
        ("floatingip", "floating IPs"),
        ("security_group_rule", "security group rules"),
        ("security_group", "security groups"),
        ("router", "routers"),
        ("port", "ports"),
        ("subnetpool", "subnet pools"),
        ("rbac_policy", "rbac policies"),
    ]
    .iter()
    .map(|(name, what)| {
        (
            *name,
            format!("Quota for the number of {what}. Setting -1 means unlimited."),
        )
    })
    .collect();
    let types = [
        (
            "OS::Cinder::Quota",
            "A resource for creating cinder quotas.",
            "OpenStack Keystone Project.",
            cinder.to_vec(),
            QuotaApi {
                service: ServiceType::BlockStorage,
                path: "/os-quota-sets",
                key: "quota_set",
            },
        ),
        (
            "OS::Nova::Quota",
            "A resource for creating nova quotas.",
            "Name or id of the project to set the quota for.",
            nova,
            QuotaApi {
                service: ServiceType::Compute,
                path: "/os-quota-sets",
                key: "quota_set",
            },
        ),
        (
            "OS::Neutron::Quota",
            "A resource for managing neutron quotas.",
            "Name or id of the project to set the quota for.",
            neutron,
            QuotaApi {
                service: ServiceType::Network,
                path: "/quotas",
                key: "quota",
            },
        ),
    ];
    for (type_name, description, project, limits, api) in types {
        let mut properties = vec![(
            "project",
            custom(string(project).required(), "keystone.project"),
        )];
        // Heat's message lists Cinder's limits in its own order and the others' sorted.
        let mut unspecified: Vec<&str> = limits.iter().map(|(name, _)| *name).collect();
        if api.service == ServiceType::BlockStorage {
            unspecified = vec![
                "gigabytes",
                "snapshots",
                "volumes",
                "backups",
                "backup_gigabytes",
            ];
        } else {
            unspecified.sort();
        }
        for (name, text) in &limits {
            properties.push((
                name,
                integer(text)
                    .update_allowed()
                    .constraint(Constraint::Range {
                        min: Some(-1.0),
                        max: None,
                    }),
            ));
        }
        registry.register(
            type_name,
            Arc::new(Quota {
                schema: type_schema(description, properties, &[]),
                unspecified: unspecified.join(", "),
                api,
                cloud: cloud.clone(),
            }),
        );
    }
}

struct Quota {
    schema: TypeSchema,
    api: QuotaApi,
    /// The limits as Heat's "At least one of ..." message names them.
    unspecified: String,
    cloud: Arc<Cloud>,
}

/// The limits given (every property but `project`).
fn limits(props: &Properties) -> Map<String, Value> {
    props
        .iter()
        .filter(|(k, v)| *k != "project" && !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

impl Quota {
    async fn client(&self, cx: &ResourceContext) -> Result<ServiceClient, ResourceError> {
        super::session(&self.cloud, cx)
            .await?
            .service(self.api.service)
            .await
            .map_err(cloud_error)
    }

    async fn set(&self, cx: &ResourceContext) -> Result<String, ResourceError> {
        let keystone = identity(&self.cloud, cx).await?;
        let project = cx.prop_str("project").unwrap_or_default();
        let project_id = id_of(&keystone, IdentityKind::Project, project).await?;
        let client = self.client(cx).await?;
        let limits = limits(&cx.properties);
        if self.api.service == ServiceType::BlockStorage {
            check_cinder_usage(&client, &project_id, &limits).await?;
        }
        client
            .put(
                format!("{}/{project_id}", self.api.path),
                json!({ self.api.key: limits }),
            )
            .send()
            .await
            .map_err(cloud_error)?;
        Ok(project_id)
    }
}

/// Heat's check before a Cinder quota is set: no limit (but -1) below what the project
/// already uses.
async fn check_cinder_usage(
    client: &ServiceClient,
    project_id: &str,
    limits: &Map<String, Value>,
) -> Result<(), ResourceError> {
    let limit = |k: &str| limits.get(k).and_then(Value::as_i64).filter(|v| *v != -1);
    let list = |path: &'static str, key: &'static str| async move {
        let listed = client
            .get(path)
            .query("all_tenants", "1")
            .query("project_id", project_id)
            .send_json()
            .await
            .map_err(cloud_error)?;
        Ok::<_, ResourceError>(listed[key].as_array().cloned().unwrap_or_default())
    };
    let size = |items: &[Value]| items.iter().filter_map(|i| i["size"].as_i64()).sum::<i64>();
    let mut usage: BTreeMap<&str, i64> = BTreeMap::new();
    if limit("gigabytes").is_some() || limit("volumes").is_some() || limit("snapshots").is_some() {
        let volumes = list("/volumes/detail", "volumes").await?;
        let snapshots = list("/snapshots/detail", "snapshots").await?;
        usage.insert("gigabytes", size(&volumes) + size(&snapshots));
        usage.insert("volumes", volumes.len() as i64);
        usage.insert("snapshots", snapshots.len() as i64);
    }
    if limit("backups").is_some() || limit("backup_gigabytes").is_some() {
        let backups = list("/backups/detail", "backups").await?;
        usage.insert("backups", backups.len() as i64);
        usage.insert("backup_gigabytes", size(&backups));
    }
    for name in [
        "gigabytes",
        "volumes",
        "backups",
        "backup_gigabytes",
        "snapshots",
    ] {
        if let (Some(value), Some(total)) = (limit(name), usage.get(name)) {
            if value < *total {
                return Err(ResourceError::new(
                    "ValueError",
                    format!("Invalid quota {name} value(s): {value}. Can not be less than the current usage value(s): {total}."),
                ));
            }
        }
    }
    Ok(())
}

#[async_trait]
impl ResourceType for Quota {
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
        if limits(props).is_empty() {
            return Err(format!(
                "At least one of the following properties must be specified: {}.",
                self.unspecified
            ));
        }
        Ok(())
    }

    fn creates_synchronously(&self) -> bool {
        true
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let project_id = self.set(cx).await?;
        Ok(Started {
            physical_id: Some(cx.physical_resource_name()),
            data: BTreeMap::from([(PROJECT_ID.to_string(), project_id)]),
        })
    }

    /// The new limits are set; a limit no longer given keeps its value, as in Heat.
    async fn update(
        &self,
        cx: &ResourceContext,
        _request: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        self.set(cx).await?;
        Ok(Started::default())
    }

    /// The project's quota back to the defaults; a project already gone counts as reset.
    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let Some(project_id) = cx.data.get(PROJECT_ID) else {
            return Ok(Started::default());
        };
        let client = self.client(cx).await?;
        client
            .delete_if_present(format!("{}/{project_id}", self.api.path))
            .await
            .map_err(cloud_error)?;
        Ok(Started::default())
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        let project_id = cx.data.get(PROJECT_ID).cloned();
        super::attribute_of(&self.schema, cx, name, |_| async move {
            let Some(project_id) = project_id else {
                return Ok(Value::Null);
            };
            let shown = self
                .client(cx)
                .await?
                .get(format!("{}/{project_id}", self.api.path))
                .send_json()
                .await
                .map_err(cloud_error)?;
            Ok(shown[self.api.key].clone())
        })
        .await
    }
}
