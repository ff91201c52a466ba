//! `OS::Nova::HostAggregate` (admin, as Heat's).
//!
//! The aggregate is made by `create`; its metadata and hosts are set once its id is stored
//! (in `check_create_complete`), so an aggregate whose host Nova refuses is still deleted by
//! the rollback or the stack delete.

use std::sync::Arc;

use async_trait::async_trait;
use ember_engine::resource::{Properties, UpdateRequest};
use ember_engine::schema::TypeSchema;
use ember_engine::{Progress, Registry, ResourceContext, ResourceError, ResourceType, Started};
use ember_openstack::services::compute::Compute;
use ember_openstack::services::ignore_not_found;
use serde_json::{json, Map, Value};

use super::cinder::string_values;
use super::props::{custom, list, map, string, type_schema};
use super::{cloud_error, list_changes, physical_id, Cloud};

pub(super) fn register(registry: &mut Registry, cloud: &Arc<Cloud>) {
    registry.register(
        "OS::Nova::HostAggregate",
        Arc::new(HostAggregate {
            schema: type_schema(
                "A resource for further partition an availability zone with hosts.",
                vec![
                    (
                        "name",
                        string("Name for the aggregate.")
                            .required()
                            .update_allowed(),
                    ),
                    (
                        "availability_zone",
                        string("Name for the availability zone.").update_allowed(),
                    ),
                    (
                        "hosts",
                        list("List of hosts to join aggregate.")
                            .update_allowed()
                            .with_items(custom(string(""), "nova.host")),
                    ),
                    (
                        "metadata",
                        map("Arbitrary key/value metadata to store information for aggregate.")
                            .update_allowed()
                            .default(json!({})),
                    ),
                ],
                &[],
            ),
            cloud: cloud.clone(),
        }),
    );
}

struct HostAggregate {
    schema: TypeSchema,
    cloud: Arc<Cloud>,
}

async fn compute(cloud: &Cloud, cx: &ResourceContext) -> Result<Compute, ResourceError> {
    super::client(cloud, cx, Compute::new).await
}

/// One aggregate action (`set_metadata`, `add_host`, `remove_host`).
async fn action(compute: &Compute, id: &str, action: Value) -> Result<(), ResourceError> {
    compute
        .client()
        .post(format!("/os-aggregates/{id}/action"), action)
        .send()
        .await
        .map_err(cloud_error)?;
    Ok(())
}

/// Add (or remove) the hosts.
async fn hosts(
    compute: &Compute,
    id: &str,
    hosts: &[Value],
    add: bool,
) -> Result<(), ResourceError> {
    let verb = if add { "add_host" } else { "remove_host" };
    for host in hosts {
        action(compute, id, json!({ verb: { "host": host } })).await?;
    }
    Ok(())
}

/// `set_metadata` making the aggregate's metadata `new`: keys of `old` no longer given are
/// removed (Nova removes a key set to null).
async fn set_metadata(
    compute: &Compute,
    id: &str,
    old: &Properties,
    new: &Properties,
) -> Result<(), ResourceError> {
    let mut metadata: Map<String, Value> = string_values(new.get("metadata"))
        .as_object()
        .cloned()
        .unwrap_or_default();
    for key in old
        .get("metadata")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(Map::keys)
    {
        metadata.entry(key.clone()).or_insert(Value::Null);
    }
    if metadata.is_empty() {
        return Ok(());
    }
    action(compute, id, json!({"set_metadata": {"metadata": metadata}})).await
}

fn host_list(props: &Properties) -> Vec<Value> {
    props
        .get("hosts")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

#[async_trait]
impl ResourceType for HostAggregate {
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

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let compute = compute(&self.cloud, cx).await?;
        let created = compute
            .client()
            .post(
                "/os-aggregates",
                json!({"aggregate": {
                    "name": cx.prop_str("name"),
                    "availability_zone": cx.prop_str("availability_zone"),
                }}),
            )
            .send_json()
            .await
            .map_err(cloud_error)?;
        Ok(Started {
            physical_id: created["aggregate"]["id"].as_u64().map(|id| id.to_string()),
            data: Default::default(),
        })
    }

    async fn check_create_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        let id = physical_id(cx)?;
        let compute = compute(&self.cloud, cx).await?;
        set_metadata(&compute, id, &Properties::new(), &cx.properties).await?;
        hosts(&compute, id, &host_list(&cx.properties), true).await?;
        Ok(Progress::Done)
    }

    async fn update(
        &self,
        cx: &ResourceContext,
        request: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        let id = physical_id(cx)?;
        let compute = compute(&self.cloud, cx).await?;
        let changed = |k: &str| request.changed.iter().any(|c| c == k);
        if changed("hosts") {
            let (removed, added) = list_changes(request.old_properties, &cx.properties, "hosts");
            hosts(&compute, id, &added, true).await?;
            hosts(&compute, id, &removed, false).await?;
        }
        if changed("metadata") {
            set_metadata(&compute, id, request.old_properties, &cx.properties).await?;
        }
        if changed("name") || changed("availability_zone") {
            let mut aggregate = Map::new();
            for key in ["name", "availability_zone"]
                .into_iter()
                .filter(|k| changed(k))
            {
                aggregate.insert(key.into(), json!(cx.prop_str(key)));
            }
            compute
                .client()
                .put(
                    format!("/os-aggregates/{id}"),
                    json!({ "aggregate": aggregate }),
                )
                .send()
                .await
                .map_err(cloud_error)?;
        }
        Ok(Started::default())
    }

    /// Its hosts removed first (Nova refuses to delete an aggregate with hosts); already gone
    /// counts as deleted.
    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let Some(id) = cx.physical_id.as_deref() else {
            return Ok(Started::default());
        };
        let compute = compute(&self.cloud, cx).await?;
        let shown = ignore_not_found(
            compute
                .client()
                .get(format!("/os-aggregates/{id}"))
                .send_json()
                .await,
        )
        .map_err(cloud_error)?;
        let Some(shown) = shown else {
            return Ok(Started::default());
        };
        let members = shown["aggregate"]["hosts"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        hosts(&compute, id, &members, false).await?;
        compute
            .client()
            .delete_if_present(format!("/os-aggregates/{id}"))
            .await
            .map_err(cloud_error)?;
        Ok(Started::default())
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        super::attribute_of(&self.schema, cx, name, |id| async move {
            let compute = compute(&self.cloud, cx).await?;
            let shown = compute
                .client()
                .get(format!("/os-aggregates/{id}"))
                .send_json()
                .await
                .map_err(cloud_error)?;
            Ok(shown["aggregate"].clone())
        })
        .await
    }
}
