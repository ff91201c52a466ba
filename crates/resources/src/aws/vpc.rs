//! The AWS VPC types Heat maps onto Neutron: `AWS::EC2::VPC` (a network plus a router of the
//! same name, the VPC's "default route table"), `Subnet` (a subnet on it, an interface of that
//! router), `InternetGateway` (a name: the cloud's one external network is discovered when it is
//! attached), `VPCGatewayAttachment` (the external gateway of every route table of the VPC in
//! the stack), `RouteTable` (a router), `SubnetRouteTableAssociation` (moves a subnet from the
//! VPC's router to a route table's) and `NetworkInterface` (a port on a subnet).
//!
//! Like `EIP`, these are not aliases of OpenStack types: Heat gives them their own semantics
//! (a VPC is two objects, a subnet joins a router). They call Neutron through
//! `ember_openstack::services::network` and, as in Heat, nothing of them updates in place but
//! a network interface's security groups.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use ember_engine::nested::{ChildLookup, StackHandle};
use ember_engine::resource::{Properties, UpdateRequest};
use ember_engine::schema::{Constraint, PropertySchema, PropertyType, TypeSchema};
use ember_engine::{Progress, Registry, ResourceContext, ResourceError, ResourceType, Started};
use ember_openstack::services::ignore_not_found;
use ember_openstack::services::network::{Network, NeutronKind};
use serde_json::{json, Value};

use super::{custom, key_values, list, schema, string};
use crate::openstack::{
    check_constraints, client, cloud_error, next_check, physical_id, security_group_ids,
    started_now, Cloud,
};

/// Data key of a route table: the VPC it was made for, which its VPC's gateway attachment
/// looks for among the stack's resources.
const ROUTE_TABLE_VPC: &str = "vpc_id";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ec2Kind {
    Vpc,
    Subnet,
    InternetGateway,
    GatewayAttachment,
    RouteTable,
    SubnetRouteTableAssociation,
    NetworkInterface,
}

const KINDS: [Ec2Kind; 7] = [
    Ec2Kind::Vpc,
    Ec2Kind::Subnet,
    Ec2Kind::InternetGateway,
    Ec2Kind::GatewayAttachment,
    Ec2Kind::RouteTable,
    Ec2Kind::SubnetRouteTableAssociation,
    Ec2Kind::NetworkInterface,
];

/// Heat's type name and schema of each kind.
fn schema_of(kind: Ec2Kind) -> (&'static str, TypeSchema) {
    match kind {
        Ec2Kind::Vpc => (
            "AWS::EC2::VPC",
            schema(
                "VPC resource.",
                vec![
                    ("CidrBlock", string("CIDR block to apply to the VPC.")),
                    (
                        "InstanceTenancy",
                        string("Allowed tenancy of instances launched in the VPC. default - any tenancy; dedicated - instance will be dedicated, regardless of the tenancy option specified at instance launch.")
                            .default(json!("default"))
                            .constraint(Constraint::AllowedValues(vec![json!("default"), json!("dedicated")])),
                    ),
                    ("Tags", key_values("List of tags to attach to the instance.")),
                ],
                &[],
            ),
        ),
        Ec2Kind::Subnet => (
            "AWS::EC2::Subnet",
            schema(
                "Subnet resource.",
                vec![
                    (
                        "AvailabilityZone",
                        string("Availability zone in which you want the subnet."),
                    ),
                    (
                        "CidrBlock",
                        string("CIDR block to apply to subnet.").required(),
                    ),
                    (
                        "VpcId",
                        string("Ref structure that contains the ID of the VPC on which you want to create the subnet.").required(),
                    ),
                    ("Tags", key_values("List of tags to attach to this resource.")),
                ],
                &[("AvailabilityZone", "Availability Zone of the subnet.")],
            ),
        ),
        Ec2Kind::InternetGateway => (
            "AWS::EC2::InternetGateway",
            schema(
                "Internet gateway resource.",
                vec![("Tags", key_values(""))],
                &[],
            ),
        ),
        Ec2Kind::GatewayAttachment => (
            "AWS::EC2::VPCGatewayAttachment",
            schema(
                "VPC gateway attachment resource.",
                vec![
                    (
                        "VpcId",
                        string("VPC ID for this gateway association.").required(),
                    ),
                    ("InternetGatewayId", string("ID of the InternetGateway.")),
                    (
                        "VpnGatewayId",
                        string("ID of the VPNGateway to attach to the VPC."),
                    ),
                ],
                &[],
            ),
        ),
        Ec2Kind::RouteTable => (
            "AWS::EC2::RouteTable",
            schema(
                "Route table resource.",
                vec![
                    (
                        "VpcId",
                        string("VPC ID for where the route table is created.").required(),
                    ),
                    ("Tags", key_values("List of tags to be attached to this resource.")),
                ],
                &[],
            ),
        ),
        Ec2Kind::SubnetRouteTableAssociation => (
            "AWS::EC2::SubnetRouteTableAssociation",
            schema(
                "Subnet route table association resource.",
                vec![
                    ("RouteTableId", string("Route table ID.").required()),
                    (
                        "SubnetId",
                        custom(string("Subnet ID.").required(), "neutron.subnet"),
                    ),
                ],
                &[],
            ),
        ),
        Ec2Kind::NetworkInterface => (
            "AWS::EC2::NetworkInterface",
            schema(
                "Network interface resource.",
                vec![
                    ("Description", string("Description for this interface.")),
                    (
                        "GroupSet",
                        list("List of security group IDs associated with this interface.")
                            .update_allowed(),
                    ),
                    ("PrivateIpAddress", string("")),
                    (
                        "SourceDestCheck",
                        PropertySchema::new(
                            PropertyType::Boolean,
                            "Flag indicating if traffic to or from instance is validated.",
                        ),
                    ),
                    (
                        "SubnetId",
                        custom(
                            string("Subnet ID to associate with this interface.").required(),
                            "neutron.subnet",
                        ),
                    ),
                    ("Tags", key_values("List of tags associated with this interface.")),
                ],
                &[(
                    "PrivateIpAddress",
                    "Private IP address of the network interface.",
                )],
            ),
        ),
    }
}

pub(super) fn register(registry: &mut Registry, cloud: &Arc<Cloud>) {
    // The gateway attachment reads its stack's route tables through the engine.
    let stack = StackHandle::new();
    registry.add_stack_handle(stack.clone());
    for kind in KINDS {
        let (name, schema) = schema_of(kind);
        registry.register(
            name,
            Arc::new(Ec2Network {
                kind,
                schema,
                cloud: cloud.clone(),
                stack: stack.clone(),
            }),
        );
    }
}

struct Ec2Network {
    kind: Ec2Kind,
    schema: TypeSchema,
    cloud: Arc<Cloud>,
    stack: StackHandle,
}

/// Heat's `NeutronResource.is_built`: whether a network or router has finished building.
fn is_built(object: &Value) -> Result<bool, ResourceError> {
    match object["status"].as_str().unwrap_or_default() {
        "BUILD" => Ok(false),
        "ACTIVE" | "DOWN" => Ok(true),
        status @ ("ERROR" | "DEGRADED") => Err(ResourceError::new(
            "ResourceInError",
            format!("Went to status {status} due to \"Unknown\""),
        )),
        status => Err(ResourceError::new(
            "ResourceUnknownStatus",
            format!("Resource is not built - Unknown status {status} due to \"Unknown\""),
        )),
    }
}

/// The VPC's router: the one named like its network (Heat's `router_for_vpc`). None when the
/// network was made by hand, without one.
async fn vpc_router(network: &Network, vpc: &str) -> Result<Option<Value>, ember_openstack::Error> {
    let net = network.show(NeutronKind::Network, vpc).await?;
    let name = net["name"].as_str().unwrap_or_default();
    let mut routers = network.list(NeutronKind::Router, &[("name", name)]).await?;
    if routers.len() > 1 {
        return Err(ember_openstack::Error::Ambiguous {
            kind: "router",
            name: name.to_string(),
        });
    }
    Ok(routers.pop())
}

/// The router of the VPC that `subnet` is on.
async fn router_of_subnet(
    network: &Network,
    subnet: &str,
) -> Result<Option<Value>, ember_openstack::Error> {
    let shown = network.show(NeutronKind::Subnet, subnet).await?;
    vpc_router(network, shown["network_id"].as_str().unwrap_or_default()).await
}

/// The cloud's external network, which must be the only one (Heat's
/// `InternetGateway.get_external_network_id`, also used by `AWS::EC2::EIP`).
pub(super) async fn external_network(network: &Network) -> Result<String, ResourceError> {
    let external = network
        .list(NeutronKind::Network, &[("router:external", "True")])
        .await
        .map_err(cloud_error)?;
    match external.as_slice() {
        [only] => Ok(only["id"].as_str().unwrap_or_default().to_string()),
        several => Err(ResourceError::new(
            "Error",
            format!("Expected 1 external network, found {}", several.len()),
        )),
    }
}

fn id_of(object: &Value) -> String {
    object["id"].as_str().unwrap_or_default().to_string()
}

/// `step` on an object just created: when it fails, the object is deleted again, since its id
/// is not stored yet and nothing else would find it.
async fn or_undo<T>(
    network: &Network,
    kind: NeutronKind,
    id: &str,
    step: Result<T, ember_openstack::Error>,
) -> Result<T, ResourceError> {
    match step {
        Ok(value) => Ok(value),
        Err(error) => {
            // The step's failure is the one to report; a failed undo adds nothing to it.
            let _ = network.delete(kind, id).await;
            Err(cloud_error(error))
        }
    }
}

/// Heat's `properties.Schema(implemented=False)`: accepted in the schema, refused when given.
pub(super) fn not_implemented(props: &Properties, keys: &[&str]) -> Result<(), String> {
    match keys
        .iter()
        .find(|k| props.get(**k).is_some_and(|v| !v.is_null()))
    {
        Some(key) => Err(format!("Property {key} not implemented yet")),
        None => Ok(()),
    }
}

impl Ec2Network {
    async fn network(&self, cx: &ResourceContext) -> Result<Network, ResourceError> {
        client(&self.cloud, cx, Network::new).await
    }

    /// The routers of the stack's route tables made for this attachment's VPC.
    async fn route_tables(&self, cx: &ResourceContext) -> Result<Vec<String>, ResourceError> {
        let control = self.stack.get()?;
        let vpc = cx.prop_str("VpcId").unwrap_or_default();
        let mut tables = Vec::new();
        for member in control.child_members(&cx.stack_id).await? {
            let data = control.resource_data(&cx.stack_id, &member).await?;
            if data
                .and_then(|d| d.get(ROUTE_TABLE_VPC).cloned())
                .as_deref()
                == Some(vpc)
            {
                tables.push(ChildLookup::Ref(member));
            }
        }
        if tables.is_empty() {
            return Ok(Vec::new());
        }
        Ok(control
            .child_values(&cx.stack_id, &tables)
            .await?
            .iter()
            .filter_map(|router| router.as_str().map(str::to_string))
            .collect())
    }

    async fn create_vpc(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let network = self.network(cx).await?;
        // The net and its router are paired by having the same name.
        let name = cx.physical_resource_name();
        let net = network
            .create(NeutronKind::Network, json!({ "name": name }))
            .await
            .map_err(cloud_error)?;
        let net = id_of(&net);
        let router = network
            .create(NeutronKind::Router, json!({ "name": name }))
            .await;
        or_undo(&network, NeutronKind::Network, &net, router).await?;
        Ok(Started {
            physical_id: Some(net),
            data: started_now(),
        })
    }

    async fn create_subnet(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let network = self.network(cx).await?;
        let vpc = cx.prop_str("VpcId").unwrap_or_default();
        let subnet = network
            .create(
                NeutronKind::Subnet,
                json!({
                    "network_id": vpc,
                    "cidr": cx.prop_str("CidrBlock"),
                    "name": cx.physical_resource_name(),
                    "ip_version": 4,
                }),
            )
            .await
            .map_err(cloud_error)?;
        let subnet = id_of(&subnet);
        let joined = async {
            if let Some(router) = vpc_router(&network, vpc).await? {
                network
                    .add_router_interface(&id_of(&router), json!({ "subnet_id": subnet }))
                    .await?;
            }
            Ok(())
        }
        .await;
        or_undo(&network, NeutronKind::Subnet, &subnet, joined).await?;
        Ok(Started {
            physical_id: Some(subnet),
            data: BTreeMap::new(),
        })
    }

    async fn set_route_table_gateways(
        &self,
        cx: &ResourceContext,
        gateway: Value,
    ) -> Result<(), ResourceError> {
        let network = self.network(cx).await?;
        for router in self.route_tables(cx).await? {
            ignore_not_found(
                network
                    .update(
                        NeutronKind::Router,
                        &router,
                        json!({ "external_gateway_info": gateway }),
                    )
                    .await,
            )
            .map_err(cloud_error)?;
        }
        Ok(())
    }

    async fn create_port(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let network = self.network(cx).await?;
        let subnet = cx.prop_str("SubnetId").unwrap_or_default();
        let shown = network
            .show(NeutronKind::Subnet, subnet)
            .await
            .map_err(cloud_error)?;
        let mut fixed_ip = json!({ "subnet_id": subnet });
        if let Some(address) = cx.prop_str("PrivateIpAddress").filter(|a| !a.is_empty()) {
            fixed_ip["ip_address"] = json!(address);
        }
        let mut body = json!({
            "name": cx.physical_resource_name(),
            "admin_state_up": true,
            "network_id": shown["network_id"],
            "fixed_ips": [fixed_ip],
        });
        // Without GroupSet Neutron gives the port the project's default group; an empty
        // GroupSet means no group at all.
        if let Some(groups) = cx.properties.get("GroupSet").and_then(Value::as_array) {
            body["security_groups"] = json!(security_group_ids(&network, groups).await?);
        }
        let port = network
            .create(NeutronKind::Port, body)
            .await
            .map_err(cloud_error)?;
        Ok(Started {
            physical_id: Some(id_of(&port)),
            data: BTreeMap::new(),
        })
    }

    async fn associate(&self, cx: &ResourceContext) -> Result<(), ResourceError> {
        let network = self.network(cx).await?;
        let subnet = cx.prop_str("SubnetId").unwrap_or_default();
        let table = cx.prop_str("RouteTableId").unwrap_or_default();
        // A subnet is on one router at a time: off the VPC's own router first.
        if let Some(Some(router)) =
            ignore_not_found(router_of_subnet(&network, subnet).await).map_err(cloud_error)?
        {
            network
                .remove_router_interface(&id_of(&router), json!({ "subnet_id": subnet }))
                .await
                .map_err(cloud_error)?;
        }
        network
            .add_router_interface(table, json!({ "subnet_id": subnet }))
            .await
            .map_err(cloud_error)?;
        Ok(())
    }

    async fn dissociate(&self, cx: &ResourceContext) -> Result<(), ResourceError> {
        let network = self.network(cx).await?;
        let subnet = cx.prop_str("SubnetId").unwrap_or_default();
        let table = cx.prop_str("RouteTableId").unwrap_or_default();
        network
            .remove_router_interface(table, json!({ "subnet_id": subnet }))
            .await
            .map_err(cloud_error)?;
        // Back on the VPC's own router (none when the subnet or the VPC is gone).
        if let Some(Some(router)) =
            ignore_not_found(router_of_subnet(&network, subnet).await).map_err(cloud_error)?
        {
            ignore_not_found(
                network
                    .add_router_interface(&id_of(&router), json!({ "subnet_id": subnet }))
                    .await,
            )
            .map_err(cloud_error)?;
        }
        Ok(())
    }

    /// The Neutron object `show` answers with, if the kind has one.
    fn shown_kind(&self) -> Option<NeutronKind> {
        match self.kind {
            Ec2Kind::Vpc => Some(NeutronKind::Network),
            Ec2Kind::Subnet => Some(NeutronKind::Subnet),
            Ec2Kind::RouteTable => Some(NeutronKind::Router),
            Ec2Kind::NetworkInterface => Some(NeutronKind::Port),
            Ec2Kind::InternetGateway
            | Ec2Kind::GatewayAttachment
            | Ec2Kind::SubnetRouteTableAssociation => None,
        }
    }
}

#[async_trait]
impl ResourceType for Ec2Network {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    async fn validate_with_cloud(
        &self,
        handle: Option<&ember_engine::CloudHandle>,
        properties: &Properties,
    ) -> Result<(), (String, String)> {
        check_constraints(&self.cloud, handle, &self.schema, properties).await
    }

    fn validate(&self, props: &Properties) -> Result<(), String> {
        match self.kind {
            // InstanceTenancy has a default, so only a value other than it shows it was given.
            Ec2Kind::Vpc if props.get("InstanceTenancy") == Some(&json!("dedicated")) => {
                Err("Property InstanceTenancy not implemented yet".into())
            }
            Ec2Kind::GatewayAttachment => not_implemented(props, &["VpnGatewayId"]),
            Ec2Kind::NetworkInterface => not_implemented(props, &["SourceDestCheck"]),
            _ => Ok(()),
        }
    }

    fn implicit_dependencies(
        &self,
        name: &str,
        stack: &ember_engine::definition::StackDefinition,
    ) -> Vec<String> {
        match self.kind {
            Ec2Kind::GatewayAttachment => {
                crate::openstack::dependencies::vpc_gateway_attachment(stack, name)
            }
            _ => Vec::new(),
        }
    }

    fn creates_synchronously(&self) -> bool {
        !matches!(self.kind, Ec2Kind::Vpc | Ec2Kind::RouteTable)
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        match self.kind {
            Ec2Kind::Vpc => self.create_vpc(cx).await,
            Ec2Kind::Subnet => self.create_subnet(cx).await,
            Ec2Kind::InternetGateway => Ok(Started {
                physical_id: Some(cx.physical_resource_name()),
                data: BTreeMap::new(),
            }),
            Ec2Kind::GatewayAttachment => {
                let network = self.network(cx).await?;
                let external = external_network(&network).await?;
                self.set_route_table_gateways(cx, json!({ "network_id": external }))
                    .await?;
                Ok(Started::default())
            }
            Ec2Kind::RouteTable => {
                let network = self.network(cx).await?;
                let router = network
                    .create(
                        NeutronKind::Router,
                        json!({ "name": cx.physical_resource_name() }),
                    )
                    .await
                    .map_err(cloud_error)?;
                let mut data = started_now();
                data.insert(
                    ROUTE_TABLE_VPC.to_string(),
                    cx.prop_str("VpcId").unwrap_or_default().to_string(),
                );
                Ok(Started {
                    physical_id: Some(id_of(&router)),
                    data,
                })
            }
            Ec2Kind::SubnetRouteTableAssociation => {
                self.associate(cx).await?;
                Ok(Started::default())
            }
            Ec2Kind::NetworkInterface => self.create_port(cx).await,
        }
    }

    async fn check_create_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        if self.creates_synchronously() {
            return Ok(Progress::Done);
        }
        let network = self.network(cx).await?;
        let id = physical_id(cx)?;
        let pending = Ok(Progress::Pending(next_check(cx)));
        match self.kind {
            Ec2Kind::Vpc => {
                let net = network
                    .show(NeutronKind::Network, id)
                    .await
                    .map_err(cloud_error)?;
                if !is_built(&net)? {
                    return pending;
                }
                let router = vpc_router(&network, id).await.map_err(cloud_error)?;
                match router {
                    Some(router) if !is_built(&router)? => pending,
                    _ => Ok(Progress::Done),
                }
            }
            Ec2Kind::RouteTable => {
                let router = network
                    .show(NeutronKind::Router, id)
                    .await
                    .map_err(cloud_error)?;
                if !is_built(&router)? {
                    return pending;
                }
                // A VPC whose own router has a gateway gives it to its route tables too.
                let vpc = cx.prop_str("VpcId").unwrap_or_default();
                let gateway = vpc_router(&network, vpc)
                    .await
                    .map_err(cloud_error)?
                    .and_then(|r| {
                        r["external_gateway_info"]["network_id"]
                            .as_str()
                            .map(str::to_string)
                    });
                if let Some(external) = gateway {
                    network
                        .update(
                            NeutronKind::Router,
                            id,
                            json!({ "external_gateway_info": { "network_id": external } }),
                        )
                        .await
                        .map_err(cloud_error)?;
                }
                Ok(Progress::Done)
            }
            _ => Ok(Progress::Done),
        }
    }

    async fn update(
        &self,
        cx: &ResourceContext,
        request: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        // GroupSet is the only property any of these types updates in place; without it the
        // port goes back to the default group, as when it was created.
        if self.kind == Ec2Kind::NetworkInterface && request.changed.iter().any(|k| k == "GroupSet")
        {
            let network = self.network(cx).await?;
            let groups = match cx.properties.get("GroupSet").and_then(Value::as_array) {
                Some(groups) => groups.clone(),
                None => vec![json!("default")],
            };
            let ids = security_group_ids(&network, &groups).await?;
            network
                .update(
                    NeutronKind::Port,
                    physical_id(cx)?,
                    json!({ "security_groups": ids }),
                )
                .await
                .map_err(cloud_error)?;
        }
        Ok(Started::default())
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let network = || self.network(cx);
        match (self.kind, cx.physical_id.as_deref()) {
            (Ec2Kind::Vpc, Some(net)) => {
                let network = network().await?;
                if let Some(Some(router)) =
                    ignore_not_found(vpc_router(&network, net).await).map_err(cloud_error)?
                {
                    network
                        .delete(NeutronKind::Router, &id_of(&router))
                        .await
                        .map_err(cloud_error)?;
                }
                network
                    .delete(NeutronKind::Network, net)
                    .await
                    .map_err(cloud_error)?;
            }
            (Ec2Kind::Subnet, Some(subnet)) => {
                let network = network().await?;
                let vpc = cx.prop_str("VpcId").unwrap_or_default();
                if let Some(Some(router)) =
                    ignore_not_found(vpc_router(&network, vpc).await).map_err(cloud_error)?
                {
                    network
                        .remove_router_interface(&id_of(&router), json!({ "subnet_id": subnet }))
                        .await
                        .map_err(cloud_error)?;
                }
                network
                    .delete(NeutronKind::Subnet, subnet)
                    .await
                    .map_err(cloud_error)?;
            }
            (Ec2Kind::GatewayAttachment, _) => {
                self.set_route_table_gateways(cx, json!({})).await?;
            }
            (Ec2Kind::RouteTable, Some(router)) => {
                // Its gateway goes with it.
                network()
                    .await?
                    .delete(NeutronKind::Router, router)
                    .await
                    .map_err(cloud_error)?;
            }
            (Ec2Kind::SubnetRouteTableAssociation, _) => self.dissociate(cx).await?,
            (Ec2Kind::NetworkInterface, Some(port)) => {
                network()
                    .await?
                    .delete(NeutronKind::Port, port)
                    .await
                    .map_err(cloud_error)?;
            }
            _ => {}
        }
        Ok(Started::default())
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        match (self.kind, name) {
            (Ec2Kind::Subnet, "AvailabilityZone") => Ok(Some(
                cx.properties
                    .get("AvailabilityZone")
                    .cloned()
                    .unwrap_or(Value::Null),
            )),
            (Ec2Kind::NetworkInterface, "PrivateIpAddress") | (_, "show") => {
                let (Some(kind), Some(id)) = (self.shown_kind(), cx.physical_id.as_deref()) else {
                    return Ok(Some(Value::Null));
                };
                let shown = self
                    .network(cx)
                    .await?
                    .show(kind, id)
                    .await
                    .map_err(cloud_error)?;
                Ok(Some(if name == "show" {
                    shown
                } else {
                    shown["fixed_ips"][0]["ip_address"].clone()
                }))
            }
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_states_as_heat() {
        assert_eq!(is_built(&json!({"status": "BUILD"})).ok(), Some(false));
        assert_eq!(is_built(&json!({"status": "ACTIVE"})).ok(), Some(true));
        assert_eq!(is_built(&json!({"status": "DOWN"})).ok(), Some(true));
        assert_eq!(
            is_built(&json!({"status": "ERROR"}))
                .unwrap_err()
                .to_string(),
            "ResourceInError: Went to status ERROR due to \"Unknown\""
        );
        assert!(is_built(&json!({"status": "WEIRD"})).is_err());
    }

    #[test]
    fn unimplemented_properties_are_refused_when_given() {
        let props = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert_eq!(
            not_implemented(&props(json!({"VpcId": "v"})), &["VpnGatewayId"]),
            Ok(())
        );
        assert_eq!(
            not_implemented(&props(json!({"VpnGatewayId": "g"})), &["VpnGatewayId"]),
            Err("Property VpnGatewayId not implemented yet".to_string())
        );
    }
}
