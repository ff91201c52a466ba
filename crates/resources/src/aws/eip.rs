//! `AWS::EC2::EIP` and `AWS::EC2::EIPAssociation`: a Neutron floating IP on the cloud's external
//! network, and its association with an instance's (or a given) port. Unlike the other AWS
//! types these are not aliases: Heat gives them their own semantics (the EIP's `Ref` is the
//! address; the external network is discovered, not named).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use ember_engine::resource::{Properties, UpdateRequest};
use ember_engine::schema::{Constraint, TypeSchema};
use ember_engine::{Registry, ResourceContext, ResourceError, ResourceType, Started};
use ember_openstack::services::ignore_not_found;
use ember_openstack::services::network::{Network, NeutronKind};
use serde_json::{json, Value};

use super::{custom, schema, string};
use crate::openstack::{cloud_error, session, Cloud};

/// Data key of the EIP's address (its reference id).
const ADDRESS: &str = "ip_address";

pub(super) fn register(registry: &mut Registry, cloud: &Arc<Cloud>) {
    registry.register(
        "AWS::EC2::EIP",
        Arc::new(Eip {
            schema: schema(
                "Elastic IP resource.",
                vec![
                    ("Domain", string("Set to \"vpc\" to have IP address allocation associated to your VPC.").constraint(Constraint::AllowedValues(vec![json!("vpc")]))),
                    ("InstanceId", custom(string("Instance ID to associate with EIP.").update_allowed(), "nova.server")),
                ],
                &[("AllocationId", "ID that AWS assigns to represent the allocation of the address for use with Amazon VPC. Returned only for VPC elastic IP addresses.")],
            ),
            cloud: cloud.clone(),
        }),
    );
    registry.register(
        "AWS::EC2::EIPAssociation",
        Arc::new(EipAssociation {
            schema: schema(
                "Elastic IP association resource.",
                vec![
                    (
                        "InstanceId",
                        custom(
                            string("Instance ID to associate with EIP specified by EIP property.")
                                .update_allowed(),
                            "nova.server",
                        ),
                    ),
                    (
                        "EIP",
                        string("EIP address to associate with instance.").update_allowed(),
                    ),
                    (
                        "AllocationId",
                        string("Allocation ID for VPC EIP address.").update_allowed(),
                    ),
                    (
                        "NetworkInterfaceId",
                        string("Network interface ID to associate with EIP.").update_allowed(),
                    ),
                ],
                &[],
            ),
            cloud: cloud.clone(),
        }),
    );
}

async fn neutron(cloud: &Cloud, cx: &ResourceContext) -> Result<Network, ResourceError> {
    Network::new(session(cloud, cx).await?)
        .await
        .map_err(cloud_error)
}

/// The first port of an instance (Heat's choice), or a given port.
async fn port_of(
    network: &Network,
    instance: Option<&str>,
    interface: Option<&str>,
) -> Result<Option<String>, ResourceError> {
    if let Some(port) = interface {
        return Ok(Some(port.to_string()));
    }
    let Some(instance) = instance else {
        return Ok(None);
    };
    let ports = network
        .list(NeutronKind::Port, &[("device_id", instance)])
        .await
        .map_err(cloud_error)?;
    match ports.first().and_then(|p| p["id"].as_str()) {
        Some(port) => Ok(Some(port.to_string())),
        None => Err(ResourceError::new(
            "NotFound",
            format!("The instance {instance} has no port to associate an address with."),
        )),
    }
}

/// Points the floating IP at `port` (or at nothing).
async fn associate(
    network: &Network,
    floating_ip: &str,
    port: Option<&str>,
) -> Result<(), ResourceError> {
    network
        .update(
            NeutronKind::FloatingIp,
            floating_ip,
            json!({ "port_id": port }),
        )
        .await
        .map_err(cloud_error)?;
    Ok(())
}

struct Eip {
    schema: TypeSchema,
    cloud: Arc<Cloud>,
}

#[async_trait]
impl ResourceType for Eip {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    fn creates_synchronously(&self) -> bool {
        true
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let network = neutron(&self.cloud, cx).await?;
        let external = super::vpc::external_network(&network).await?;
        let port = port_of(&network, cx.prop_str("InstanceId"), None).await?;
        let created = network
            .create(
                NeutronKind::FloatingIp,
                json!({ "floating_network_id": external, "port_id": port }),
            )
            .await
            .map_err(cloud_error)?;
        let address = created["floating_ip_address"].as_str().unwrap_or_default();
        Ok(Started {
            physical_id: created["id"].as_str().map(str::to_string),
            data: BTreeMap::from([(ADDRESS.to_string(), address.to_string())]),
        })
    }

    async fn update(
        &self,
        cx: &ResourceContext,
        _request: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        let network = neutron(&self.cloud, cx).await?;
        let port = port_of(&network, cx.prop_str("InstanceId"), None).await?;
        associate(
            &network,
            crate::openstack::physical_id(cx)?,
            port.as_deref(),
        )
        .await?;
        Ok(Started::default())
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        if let Some(id) = cx.physical_id.as_deref() {
            let network = neutron(&self.cloud, cx).await?;
            network
                .delete(NeutronKind::FloatingIp, id)
                .await
                .map_err(cloud_error)?;
        }
        Ok(Started::default())
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        match name {
            "AllocationId" => Ok(Some(
                cx.physical_id.clone().map_or(Value::Null, Value::String),
            )),
            "show" => match cx.physical_id.as_deref() {
                Some(id) => {
                    let network = neutron(&self.cloud, cx).await?;
                    Ok(Some(
                        network
                            .show(NeutronKind::FloatingIp, id)
                            .await
                            .map_err(cloud_error)?,
                    ))
                }
                None => Ok(Some(Value::Null)),
            },
            _ => Ok(None),
        }
    }

    /// The address, as in Heat (`Ref` of an EIP is the IP).
    fn reference_id(&self, cx: &ResourceContext) -> Value {
        Value::String(
            cx.data
                .get(ADDRESS)
                .cloned()
                .unwrap_or_else(|| cx.name.clone()),
        )
    }
}

struct EipAssociation {
    schema: TypeSchema,
    cloud: Arc<Cloud>,
}

impl EipAssociation {
    /// The floating IP's id from `EIP` (an address) or `AllocationId` (an id).
    async fn floating_ip(network: &Network, props: &Properties) -> Result<String, ResourceError> {
        let text = |k: &str| {
            props
                .get(k)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
        };
        if let Some(id) = text("AllocationId") {
            return Ok(id.to_string());
        }
        let address = text("EIP").unwrap_or_default();
        let found = network
            .list(NeutronKind::FloatingIp, &[("floating_ip_address", address)])
            .await
            .map_err(cloud_error)?;
        found
            .first()
            .and_then(|f| f["id"].as_str())
            .map(str::to_string)
            .ok_or_else(|| {
                ResourceError::new(
                    "NotFound",
                    format!("The floating IP ({address}) could not be found."),
                )
            })
    }

    async fn associate_from(
        &self,
        network: &Network,
        props: &Properties,
    ) -> Result<String, ResourceError> {
        let text = |k: &str| {
            props
                .get(k)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
        };
        let floating_ip = EipAssociation::floating_ip(network, props).await?;
        let port = port_of(network, text("InstanceId"), text("NetworkInterfaceId")).await?;
        associate(network, &floating_ip, port.as_deref()).await?;
        Ok(floating_ip)
    }
}

#[async_trait]
impl ResourceType for EipAssociation {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    fn validate(&self, props: &Properties) -> Result<(), String> {
        let has = |k: &str| {
            props
                .get(k)
                .and_then(Value::as_str)
                .is_some_and(|v| !v.is_empty())
        };
        if has("EIP") == has("AllocationId") {
            return Err("Either 'EIP' or 'AllocationId' must be provided.".into());
        }
        if has("EIP") && !has("InstanceId") {
            return Err("Must specify 'InstanceId' if you specify 'EIP'.".into());
        }
        if !has("InstanceId") && !has("NetworkInterfaceId") {
            return Err("At least one of the following properties must be specified: InstanceId, NetworkInterfaceId".into());
        }
        Ok(())
    }

    fn creates_synchronously(&self) -> bool {
        true
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let network = neutron(&self.cloud, cx).await?;
        let floating_ip = self.associate_from(&network, &cx.properties).await?;
        Ok(Started {
            physical_id: Some(floating_ip),
            data: BTreeMap::new(),
        })
    }

    async fn update(
        &self,
        cx: &ResourceContext,
        request: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        let network = neutron(&self.cloud, cx).await?;
        let old = EipAssociation::floating_ip(&network, request.old_properties).await;
        let floating_ip = self.associate_from(&network, &cx.properties).await?;
        // A different address: the old one is let go.
        match old {
            Ok(old) if old != floating_ip => {
                ignore_not_found(
                    network
                        .update(NeutronKind::FloatingIp, &old, json!({"port_id": null}))
                        .await,
                )
                .map_err(cloud_error)?;
            }
            _ => {}
        }
        Ok(Started {
            physical_id: Some(floating_ip),
            data: BTreeMap::new(),
        })
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        if let Some(id) = cx.physical_id.as_deref() {
            let network = neutron(&self.cloud, cx).await?;
            ignore_not_found(
                network
                    .update(NeutronKind::FloatingIp, id, json!({"port_id": null}))
                    .await,
            )
            .map_err(cloud_error)?;
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

    /// Heat's `Ref` of an association is its physical resource name.
    fn reference_id(&self, cx: &ResourceContext) -> Value {
        Value::String(cx.physical_resource_name())
    }
}
