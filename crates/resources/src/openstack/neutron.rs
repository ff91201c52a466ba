//! `OS::Neutron::{Net, ProviderNet, Subnet, Port, Router, RouterInterface, SecurityGroup,
//! SecurityGroupRule, FloatingIP, FloatingIPAssociation}`.
//!
//! Net, ProviderNet, Subnet, Port, Router, SecurityGroup, SecurityGroupRule and FloatingIP (and
//! `neutron_more`'s AddressScope, SubnetPool and RBACPolicy) share one implementation: their
//! properties map onto the API object field by field, with the few renames and name-or-id
//! lookups Heat does in [`api_fields`]. `tags` (Net, ProviderNet, Subnet, Port, Router) are not a
//! field: Heat sets them with Neutron's tag call once the object exists and replaces them in
//! place on update. RouterInterface and FloatingIPAssociation act on another object and have
//! their own types.

use std::sync::Arc;

use async_trait::async_trait;
use ember_engine::resource::UpdateRequest;
use ember_engine::schema::{Constraint, PropertySchema, TypeSchema};
use ember_engine::{Progress, Registry, ResourceContext, ResourceError, ResourceType, Started};
use ember_openstack::services::network::{Network, NeutronKind};
use serde_json::{json, Map, Value};

use super::props::{allowed, boolean, custom, integer, list, map, string, type_schema};
use super::{cloud_error, name_or_generated, next_check, physical_id, Cloud};

pub(super) fn register(registry: &mut Registry, cloud: &Arc<Cloud>) {
    for kind in [
        NeutronKind::Network,
        NeutronKind::Subnet,
        NeutronKind::Port,
        NeutronKind::Router,
        NeutronKind::SecurityGroup,
        NeutronKind::FloatingIp,
        NeutronKind::SecurityGroupRule,
    ] {
        let Some((type_name, schema)) = schema_of(kind) else {
            continue;
        };
        registry.register(
            type_name,
            Arc::new(NeutronResource {
                kind,
                schema,
                cloud: cloud.clone(),
            }),
        );
    }
    registry.register(
        "OS::Neutron::ProviderNet",
        Arc::new(NeutronResource {
            kind: NeutronKind::Network,
            schema: provider_net_schema(),
            cloud: cloud.clone(),
        }),
    );
    registry.register(
        "OS::Neutron::RouterInterface",
        Arc::new(RouterInterface {
            schema: type_schema(
                "A resource for managing Neutron router interfaces.",
                vec![
                    ("router", custom(string("The router."), "neutron.router")),
                    (
                        "router_id",
                        custom(
                            string("ID of the router (deprecated: use router)."),
                            "neutron.router",
                        ),
                    ),
                    (
                        "subnet",
                        custom(
                            string("The subnet, either subnet or port should be specified."),
                            "neutron.subnet",
                        ),
                    ),
                    (
                        "subnet_id",
                        custom(string("Deprecated: use subnet."), "neutron.subnet"),
                    ),
                    (
                        "port",
                        custom(
                            string("The port, either subnet or port should be specified."),
                            "neutron.port",
                        ),
                    ),
                    (
                        "port_id",
                        custom(string("Deprecated: use port."), "neutron.port"),
                    ),
                ],
                &[],
            ),
            cloud: cloud.clone(),
        }),
    );
    registry.register(
        "OS::Neutron::FloatingIPAssociation",
        Arc::new(FloatingIpAssociation {
            schema: type_schema(
                "A resource for associating floating ips and ports.",
                vec![
                    ("floatingip_id", string("ID of the floating IP to associate.").required().update_allowed()),
                    ("port_id", custom(string("ID of an existing port with at least one IP address to associate with this floating IP."), "neutron.port").required().update_allowed()),
                    ("fixed_ip_address", string("IP address to use if the port has multiple addresses.").update_allowed()),
                ],
                &[],
            ),
            cloud: cloud.clone(),
        }),
    );
}

/// The schemas of this file's kinds; `None` for those of `neutron_more`.
fn schema_of(kind: NeutronKind) -> Option<(&'static str, TypeSchema)> {
    let name = || string("A string specifying a symbolic name for the resource.").update_allowed();
    let value_specs = || {
        map("Extra parameters to include in the request.")
            .update_allowed()
            .default(json!({}))
    };
    let admin_state_up = || {
        boolean("The administrative state.")
            .update_allowed()
            .default(json!(true))
    };
    let tenant_id = || string("The ID of the tenant who owns the resource.");
    Some(match kind {
        NeutronKind::Network => (
            "OS::Neutron::Net",
            type_schema(
                "A resource for managing Neutron net.",
                vec![
                    ("name", name()),
                    ("value_specs", value_specs()),
                    ("admin_state_up", admin_state_up()),
                    ("tenant_id", tenant_id()),
                    (
                        "shared",
                        boolean("Whether this network should be shared across all tenants.")
                            .update_allowed()
                            .default(json!(false)),
                    ),
                    (
                        "dhcp_agent_ids",
                        list("The IDs of the DHCP agent to schedule the network.").update_allowed(),
                    ),
                    (
                        "port_security_enabled",
                        boolean("Flag to enable/disable port security on the network.")
                            .update_allowed(),
                    ),
                    (
                        "qos_policy",
                        custom(
                            string("The name or ID of QoS policy to attach to this network.")
                                .update_allowed(),
                            "neutron.qos_policy",
                        ),
                    ),
                    (
                        "dns_domain",
                        string("DNS domain associated with this network.").update_allowed(),
                    ),
                    (
                        "availability_zone_hints",
                        list("Availability zone candidates for the network."),
                    ),
                    (
                        "tags",
                        list("The tags to be added to the network.")
                            .with_items(string(""))
                            .update_allowed(),
                    ),
                ],
                &[
                    "status",
                    "name",
                    "subnets",
                    "admin_state_up",
                    "tenant_id",
                    "port_security_enabled",
                    "mtu",
                    "qos_policy_id",
                    "l2_adjacency",
                    "segments",
                ],
            ),
        ),
        NeutronKind::Subnet => (
            "OS::Neutron::Subnet",
            type_schema(
                "A resource for managing Neutron subnets.",
                vec![
                    (
                        "network",
                        custom(string("The ID of the attached network."), "neutron.network"),
                    ),
                    (
                        "network_id",
                        custom(string("Deprecated: use network."), "neutron.network"),
                    ),
                    (
                        "subnetpool",
                        custom(
                            string("The name or ID of the subnet pool."),
                            "neutron.subnetpool",
                        ),
                    ),
                    (
                        "prefixlen",
                        integer("Prefix length for subnet allocation from subnet pool."),
                    ),
                    ("cidr", string("The CIDR.")),
                    ("value_specs", value_specs()),
                    ("name", name()),
                    (
                        "ip_version",
                        integer("The IP version, which is 4 or 6.")
                            .default(json!(4))
                            .constraint(Constraint::AllowedValues(vec![json!(4), json!(6)])),
                    ),
                    (
                        "dns_nameservers",
                        list("A specified set of DNS name servers to be used.")
                            .update_allowed()
                            .default(json!([])),
                    ),
                    (
                        "gateway_ip",
                        string("The gateway IP address.").update_allowed(),
                    ),
                    (
                        "enable_dhcp",
                        boolean("Set to true if DHCP is enabled and false if DHCP is disabled.")
                            .update_allowed()
                            .default(json!(true)),
                    ),
                    (
                        "allocation_pools",
                        list("The start and end addresses for the allocation pools.")
                            .update_allowed(),
                    ),
                    ("tenant_id", tenant_id()),
                    (
                        "host_routes",
                        list("A list of host route dictionaries for the subnet.").update_allowed(),
                    ),
                    (
                        "ipv6_ra_mode",
                        allowed(
                            string("IPv6 RA (Router Advertisement) mode."),
                            &["dhcpv6-stateful", "dhcpv6-stateless", "slaac"],
                        ),
                    ),
                    (
                        "ipv6_address_mode",
                        allowed(
                            string("IPv6 address mode."),
                            &["dhcpv6-stateful", "dhcpv6-stateless", "slaac"],
                        ),
                    ),
                    (
                        "segment",
                        custom(
                            string("The name/ID of the segment to associate.").update_allowed(),
                            "neutron.segment",
                        ),
                    ),
                    (
                        "tags",
                        list("The tags to be added to the subnet.")
                            .with_items(string(""))
                            .update_allowed(),
                    ),
                ],
                &[
                    "name",
                    "network_id",
                    "tenant_id",
                    "allocation_pools",
                    "gateway_ip",
                    "host_routes",
                    "ip_version",
                    "cidr",
                    "dns_nameservers",
                    "enable_dhcp",
                ],
            ),
        ),
        NeutronKind::Port => (
            "OS::Neutron::Port",
            type_schema(
                "A resource for managing Neutron ports.",
                vec![
                    ("name", name()),
                    (
                        "network",
                        custom(string("Network this port belongs to."), "neutron.network"),
                    ),
                    (
                        "network_id",
                        custom(string("Deprecated: use network."), "neutron.network"),
                    ),
                    (
                        "device_id",
                        string("Device ID of this port.")
                            .update_allowed()
                            .default(json!("")),
                    ),
                    (
                        "device_owner",
                        string("Name of the network owning the port.")
                            .update_allowed()
                            .default(json!("")),
                    ),
                    (
                        "fixed_ips",
                        list("Desired IPs for this port.").update_allowed(),
                    ),
                    (
                        "security_groups",
                        list("Security group IDs to associate with this port.").update_allowed(),
                    ),
                    (
                        "dns_name",
                        string("DNS name associated with the port.").update_allowed(),
                    ),
                    (
                        "tags",
                        list("The tags to be added to the port.")
                            .with_items(string(""))
                            .update_allowed(),
                    ),
                    ("value_specs", value_specs()),
                    ("admin_state_up", admin_state_up()),
                    ("mac_address", string("MAC address to give to this port.")),
                    (
                        "allowed_address_pairs",
                        list("Additional MAC/IP address pairs allowed to pass through the port.")
                            .update_allowed(),
                    ),
                    (
                        "binding:vnic_type",
                        allowed(
                            string("The vnic type to be bound on the neutron port.")
                                .update_allowed()
                                .default(json!("normal")),
                            &[
                                "normal",
                                "direct",
                                "macvtap",
                                "direct-physical",
                                "baremetal",
                                "virtio-forwarder",
                                "smart-nic",
                                "remote-managed",
                            ],
                        ),
                    ),
                    (
                        "port_security_enabled",
                        boolean("Flag to enable/disable port security on the port.")
                            .update_allowed(),
                    ),
                    (
                        "qos_policy",
                        custom(
                            string("The name or ID of QoS policy to attach to this port.")
                                .update_allowed(),
                            "neutron.qos_policy",
                        ),
                    ),
                    (
                        "propagate_uplink_status",
                        boolean("Flag to enable/disable propagate uplink status on the port.")
                            .update_allowed(),
                    ),
                    (
                        "no_fixed_ips",
                        boolean("Flag to disable all fixed ips on the port.")
                            .update_allowed()
                            .default(json!(false)),
                    ),
                ],
                &[
                    "admin_state_up",
                    "device_id",
                    "device_owner",
                    "fixed_ips",
                    "mac_address",
                    "name",
                    "network_id",
                    "security_groups",
                    "status",
                    "tenant_id",
                    "allowed_address_pairs",
                    "subnets",
                    "port_security_enabled",
                    "qos_policy_id",
                    "dns_assignment",
                    "network",
                    "propagate_uplink_status",
                ],
            ),
        ),
        NeutronKind::Router => (
            "OS::Neutron::Router",
            type_schema(
                "A resource that implements Neutron router.",
                vec![
                    ("name", name()),
                    (
                        "external_gateway_info",
                        map("External network gateway configuration for a router.")
                            .update_allowed(),
                    ),
                    ("value_specs", value_specs()),
                    ("admin_state_up", admin_state_up()),
                    (
                        "l3_agent_ids",
                        list("ID list of the L3 agent.").update_allowed(),
                    ),
                    (
                        "distributed",
                        boolean("Indicates whether or not to create a distributed router."),
                    ),
                    (
                        "ha",
                        boolean("Indicates whether or not to create a highly available router."),
                    ),
                    (
                        "availability_zone_hints",
                        list("Availability zone candidates for the router.").update_allowed(),
                    ),
                    (
                        "tags",
                        list("The tags to be added to the router.")
                            .with_items(string(""))
                            .update_allowed(),
                    ),
                    ("tenant_id", tenant_id()),
                ],
                &[
                    "status",
                    "external_gateway_info",
                    "name",
                    "admin_state_up",
                    "tenant_id",
                ],
            ),
        ),
        NeutronKind::SecurityGroup => (
            "OS::Neutron::SecurityGroup",
            type_schema(
                "A resource for managing Neutron security groups.",
                vec![
                    ("name", name()),
                    (
                        "description",
                        string("Description of the security group.").update_allowed(),
                    ),
                    (
                        "rules",
                        list("List of security group rules.")
                            .update_allowed()
                            .default(json!([])),
                    ),
                    (
                        "stateful",
                        boolean("Whether the security group is stateful.").update_allowed(),
                    ),
                ],
                &[],
            ),
        ),
        NeutronKind::SecurityGroupRule => (
            "OS::Neutron::SecurityGroupRule",
            type_schema(
                "A resource for managing Neutron security group rules.",
                vec![
                    ("security_group", custom(string("Security group name or ID to add rule.").required(), "neutron.security_group")),
                    ("description", string("Description of the security group rule.")),
                    ("direction", allowed(string("The direction in which the security group rule is applied.").default(json!("ingress")), &["ingress", "egress"])),
                    ("ethertype", allowed(string("Ethertype of the traffic.").default(json!("IPv4")), &["IPv4", "IPv6"])),
                    ("port_range_min", port_number("The minimum port number in the range that is matched by the security group rule.")),
                    ("port_range_max", port_number("The maximum port number in the range that is matched by the security group rule.")),
                    ("protocol", string("The protocol that is matched by the security group rule.").default(json!("tcp")).constraint(Constraint::AllowedValues(security_group_protocols()))),
                    ("remote_group", custom(string("The remote group name or ID to be associated with this security group rule."), "neutron.security_group")),
                    ("remote_ip_prefix", custom(string("The remote IP prefix (CIDR) to be associated with this security group rule."), "net_cidr")),
                ],
                &[],
            ),
        ),
        NeutronKind::FloatingIp => (
            "OS::Neutron::FloatingIP",
            type_schema(
                "A resource for managing Neutron floating ips.",
                vec![
                    (
                        "floating_network",
                        custom(
                            string("Network to allocate floating IP from."),
                            "neutron.network",
                        ),
                    ),
                    (
                        "floating_network_id",
                        custom(
                            string("Deprecated: use floating_network."),
                            "neutron.network",
                        ),
                    ),
                    (
                        "floating_subnet",
                        custom(
                            string("Subnet to allocate floating IP from."),
                            "neutron.subnet",
                        ),
                    ),
                    (
                        "value_specs",
                        map("Extra parameters to include in the request.").default(json!({})),
                    ),
                    (
                        "port_id",
                        custom(
                            string("ID of an existing port to associate with this floating IP.")
                                .update_allowed(),
                            "neutron.port",
                        ),
                    ),
                    (
                        "fixed_ip_address",
                        string("IP address to use if the port has multiple addresses.")
                            .update_allowed(),
                    ),
                    (
                        "floating_ip_address",
                        string("IP address of the floating IP."),
                    ),
                    (
                        "dns_name",
                        string("DNS name associated with floating ip.").update_allowed(),
                    ),
                    (
                        "dns_domain",
                        string("DNS domain associated with floating ip.").update_allowed(),
                    ),
                ],
                &[
                    "router_id",
                    "tenant_id",
                    "floating_network_id",
                    "fixed_ip_address",
                    "floating_ip_address",
                    "port_id",
                ],
            ),
        ),
        NeutronKind::AddressScope | NeutronKind::SubnetPool | NeutronKind::RbacPolicy => {
            return None
        }
    })
}

/// A port number (0-65535).
fn port_number(description: &str) -> PropertySchema {
    integer(description).constraint(Constraint::Range {
        min: Some(0.0),
        max: Some(65535.0),
    })
}

/// Neutron's protocol names and the numbers 0-255, which Heat allows for a rule's `protocol`.
fn security_group_protocols() -> Vec<Value> {
    let names = [
        "ah",
        "dccp",
        "egp",
        "esp",
        "gre",
        "hopopt",
        "icmp",
        "icmpv6",
        "igmp",
        "ipip",
        "ipv6-encap",
        "ipv6-frag",
        "ipv6-icmp",
        "ipv6-nonxt",
        "ipv6-opts",
        "ipv6-route",
        "ospf",
        "pgm",
        "rsvp",
        "sctp",
        "tcp",
        "udp",
        "udplite",
        "vrrp",
    ];
    (0..256)
        .map(|n| json!(n.to_string()))
        .chain(names.iter().map(|n| json!(n)))
        .collect()
}

/// `OS::Neutron::ProviderNet` (admin): a network with its physical realisation; its provider
/// properties become Neutron's `provider:*` and `router:external` fields.
fn provider_net_schema() -> TypeSchema {
    type_schema(
        "A resource for managing Neutron provider networks.",
        vec![
            (
                "name",
                string("A string specifying a symbolic name for the network.").update_allowed(),
            ),
            (
                "network_type",
                allowed(
                    string("A string specifying the provider network type for the network.")
                        .required()
                        .update_allowed(),
                    &["local", "vlan", "vxlan", "gre", "geneve", "flat"],
                ),
            ),
            (
                "physical_network",
                string("A string specifying physical network mapping for the network.")
                    .update_allowed(),
            ),
            (
                "segmentation_id",
                string("A string specifying the segmentation id for the network.").update_allowed(),
            ),
            (
                "admin_state_up",
                boolean("A boolean value specifying the administrative status of the network.")
                    .update_allowed()
                    .default(json!(true)),
            ),
            (
                "shared",
                boolean("Whether this network should be shared across all tenants.")
                    .update_allowed()
                    .default(json!(true)),
            ),
            (
                "port_security_enabled",
                boolean("Flag to enable/disable port security on the network.").update_allowed(),
            ),
            (
                "router_external",
                boolean("Whether the network contains an external router.")
                    .update_allowed()
                    .default(json!(false)),
            ),
            (
                "dns_domain",
                string("DNS domain associated with this network.").update_allowed(),
            ),
            (
                "availability_zone_hints",
                list("Availability zone candidates for the network.").update_allowed(),
            ),
            (
                "tags",
                list("The tags to be added to the provider network.")
                    .with_items(string(""))
                    .update_allowed(),
            ),
            (
                "tenant_id",
                string("The ID of the tenant which will own the provider network."),
            ),
        ],
        &["status", "subnets", "segments"],
    )
}

/// Net, ProviderNet, Subnet, Port, Router, SecurityGroup, SecurityGroupRule and FloatingIP, and
/// `neutron_more`'s AddressScope, SubnetPool and RBACPolicy.
pub(super) struct NeutronResource {
    pub(super) kind: NeutronKind,
    pub(super) schema: TypeSchema,
    pub(super) cloud: Arc<Cloud>,
}

impl NeutronResource {
    /// Whether the object has a name (Heat's generated one when the template gives none).
    fn named(&self) -> bool {
        !matches!(
            self.kind,
            NeutronKind::FloatingIp | NeutronKind::SecurityGroupRule | NeutronKind::RbacPolicy
        )
    }
}

/// Properties that are not API fields: handled apart, or agent scheduling that needs admin
/// APIs Heat calls separately.
const NOT_FIELDS: &[&str] = &[
    "value_specs",
    "rules",
    "dhcp_agent_ids",
    "l3_agent_ids",
    "tags",
    "no_fixed_ips",
];

/// The `tags` property (Net, ProviderNet, Subnet, Port, Router), empty when not given.
fn tags(props: &Map<String, Value>) -> Vec<Value> {
    props
        .get("tags")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

async fn find_id(
    network: &Network,
    kind: NeutronKind,
    name_or_id: &Value,
) -> Result<Value, ResourceError> {
    let text = name_or_id.as_str().unwrap_or_default();
    let found = network.find(kind, text).await.map_err(cloud_error)?;
    Ok(found["id"].clone())
}

/// Security group names or ids as ids (Heat's `get_secgroup_uuids`).
pub(crate) async fn security_group_ids(
    network: &Network,
    groups: &[Value],
) -> Result<Vec<Value>, ResourceError> {
    let mut ids = Vec::new();
    for group in groups {
        ids.push(find_id(network, NeutronKind::SecurityGroup, group).await?);
    }
    Ok(ids)
}

/// The API fields for `props` (only the keys in `only`, for an update), with Heat's renames and
/// name-or-id lookups.
async fn api_fields(
    network: &Network,
    props: &Map<String, Value>,
    only: Option<&[String]>,
) -> Result<Map<String, Value>, ResourceError> {
    let mut body = Map::new();
    for (key, value) in props {
        if only.is_some_and(|keys| !keys.contains(key)) || NOT_FIELDS.contains(&key.as_str()) {
            continue;
        }
        if value.is_null() {
            // A property removed in an update goes back to Neutron's default.
            if only.is_some() && key == "external_gateway_info" {
                body.insert(key.clone(), json!({}));
            }
            if only.is_some() && key == "address_scope" {
                body.insert("address_scope_id".into(), Value::Null);
            }
            continue;
        }
        let (field, value) = match key.as_str() {
            "network" | "network_id" => (
                "network_id",
                find_id(network, NeutronKind::Network, value).await?,
            ),
            "floating_network" | "floating_network_id" => (
                "floating_network_id",
                find_id(network, NeutronKind::Network, value).await?,
            ),
            "floating_subnet" => (
                "subnet_id",
                find_id(network, NeutronKind::Subnet, value).await?,
            ),
            "security_group" => (
                "security_group_id",
                find_id(network, NeutronKind::SecurityGroup, value).await?,
            ),
            "remote_group" => (
                "remote_group_id",
                find_id(network, NeutronKind::SecurityGroup, value).await?,
            ),
            "network_type" => ("provider:network_type", value.clone()),
            "physical_network" => ("provider:physical_network", value.clone()),
            "segmentation_id" => ("provider:segmentation_id", value.clone()),
            "router_external" => ("router:external", value.clone()),
            "subnetpool" => ("subnetpool_id", value.clone()),
            "address_scope" => (
                "address_scope_id",
                find_id(network, NeutronKind::AddressScope, value).await?,
            ),
            "object_id" => {
                let object_type = props.get("object_type").and_then(Value::as_str);
                match super::neutron_more::rbac_object_kind(object_type) {
                    Some(kind) => ("object_id", find_id(network, kind, value).await?),
                    None => ("object_id", value.clone()),
                }
            }
            "qos_policy" => ("qos_policy_id", value.clone()),
            "segment" => ("segment_id", value.clone()),
            "security_groups" => {
                let groups = value.as_array().map(Vec::as_slice).unwrap_or_default();
                let ids = security_group_ids(network, groups).await?;
                ("security_groups", Value::Array(ids))
            }
            "fixed_ips" => ("fixed_ips", fixed_ips(network, value).await?),
            "external_gateway_info" => {
                let mut gateway = Map::new();
                if let Some(net) = value.get("network").or_else(|| value.get("network_id")) {
                    gateway.insert(
                        "network_id".into(),
                        find_id(network, NeutronKind::Network, net).await?,
                    );
                }
                if let Some(snat) = value.get("enable_snat").filter(|v| !v.is_null()) {
                    gateway.insert("enable_snat".into(), snat.clone());
                }
                if let Some(ips) = value.get("external_fixed_ips").filter(|v| !v.is_null()) {
                    gateway.insert("external_fixed_ips".into(), fixed_ips(network, ips).await?);
                }
                ("external_gateway_info", Value::Object(gateway))
            }
            other => (other, value.clone()),
        };
        body.insert(field.to_string(), value);
    }
    if props.get("no_fixed_ips") == Some(&Value::Bool(true))
        && only.is_none_or(|k| k.iter().any(|k| k == "no_fixed_ips"))
    {
        body.insert("fixed_ips".into(), json!([]));
    }
    if only.is_none_or(|keys| keys.iter().any(|k| k == "value_specs")) {
        if let Some(Value::Object(specs)) = props.get("value_specs") {
            body.extend(specs.clone());
        }
    }
    Ok(body)
}

/// `[{subnet: name-or-id, ip_address}]` → `[{subnet_id, ip_address}]`.
async fn fixed_ips(network: &Network, value: &Value) -> Result<Value, ResourceError> {
    let mut out = Vec::new();
    for entry in value.as_array().into_iter().flatten() {
        let mut ip = Map::new();
        if let Some(subnet) = entry
            .get("subnet")
            .or_else(|| entry.get("subnet_id"))
            .filter(|v| !v.is_null())
        {
            ip.insert(
                "subnet_id".into(),
                find_id(network, NeutronKind::Subnet, subnet).await?,
            );
        }
        if let Some(address) = entry.get("ip_address").filter(|v| !v.is_null()) {
            ip.insert("ip_address".into(), address.clone());
        }
        out.push(Value::Object(ip));
    }
    Ok(Value::Array(out))
}

/// A rule as compared between the template and Neutron: Heat's defaults filled in.
fn normalized_rule(rule: &Value, group_id: &str) -> Value {
    let get = |k: &str| rule.get(k).cloned().unwrap_or(Value::Null);
    let mut remote_group = get("remote_group_id");
    let mut remote_prefix = get("remote_ip_prefix");
    if rule.get("remote_mode").and_then(Value::as_str) == Some("remote_group_id") {
        if remote_group.is_null() {
            remote_group = json!(group_id);
        }
        remote_prefix = Value::Null;
    }
    let direction = rule
        .get("direction")
        .and_then(Value::as_str)
        .unwrap_or("ingress");
    let ethertype = rule
        .get("ethertype")
        .and_then(Value::as_str)
        .unwrap_or("IPv4");
    json!({
        "direction": direction,
        "ethertype": ethertype,
        "protocol": get("protocol"),
        "port_range_min": get("port_range_min"),
        "port_range_max": get("port_range_max"),
        "remote_ip_prefix": remote_prefix,
        "remote_group_id": remote_group,
    })
}

/// Make the group's rules those of the template: Neutron's default egress rules stay unless the
/// template says something about egress (as Heat does).
async fn sync_rules(network: &Network, group_id: &str, rules: &Value) -> Result<(), ResourceError> {
    let wanted: Vec<Value> = rules
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| normalized_rule(r, group_id))
        .collect();
    let egress_managed = wanted.iter().any(|r| r["direction"] == "egress");
    let existing = network
        .list(
            NeutronKind::SecurityGroupRule,
            &[("security_group_id", group_id)],
        )
        .await
        .map_err(cloud_error)?;
    let mut present = Vec::new();
    for rule in existing {
        let normal = normalized_rule(&rule, group_id);
        if wanted.contains(&normal) {
            present.push(normal);
        } else if normal["direction"] == "ingress" || egress_managed {
            let id = rule["id"].as_str().unwrap_or_default();
            network
                .delete(NeutronKind::SecurityGroupRule, id)
                .await
                .map_err(cloud_error)?;
        }
    }
    for rule in wanted.iter().filter(|r| !present.contains(r)) {
        let mut body: Map<String, Value> = rule
            .as_object()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .collect();
        body.insert("security_group_id".into(), json!(group_id));
        network
            .create(NeutronKind::SecurityGroupRule, Value::Object(body))
            .await
            .map_err(cloud_error)?;
    }
    Ok(())
}

/// Heat's ProviderNet checks (nothing for a plain Net, which has none of these properties).
fn provider_net_checks(props: &Map<String, Value>) -> Result<(), String> {
    let network_type = props.get("network_type").and_then(Value::as_str);
    let given = |k: &str| props.get(k).is_some_and(|v| !v.is_null() && *v != "");
    if given("segmentation_id") && matches!(network_type, Some("local" | "flat")) {
        return Err("segmentation_id not allowed for network types: local, flat".into());
    }
    if given("physical_network")
        && matches!(network_type, Some("vxlan" | "gre" | "geneve" | "local"))
    {
        // Heat's words (its list says flat where it checks local).
        return Err(
            "physical_network not allowed for network types: vxlan, gre, geneve, flat".into(),
        );
    }
    Ok(())
}

/// Heat's SecurityGroupRule checks.
fn security_group_rule_checks(props: &Map<String, Value>) -> Result<(), String> {
    let given = |k: &str| props.get(k).is_some_and(|v| !v.is_null());
    if given("remote_group") && given("remote_ip_prefix") {
        return Err(
            "Cannot define the following properties at the same time: remote_group, remote_ip_prefix"
                .into(),
        );
    }
    let port = |k: &str| props.get(k).and_then(Value::as_i64);
    let icmp = matches!(
        props.get("protocol").and_then(Value::as_str),
        Some("icmp" | "icmpv6" | "ipv6-icmp")
    );
    match (port("port_range_min"), port("port_range_max")) {
        (Some(min), Some(max)) if !icmp && max < min => Err(
            "The minimum port number must be less than or equal to the maximum port number.".into(),
        ),
        _ => Ok(()),
    }
}

#[async_trait]
impl ResourceType for NeutronResource {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    async fn validate_with_cloud(
        &self,
        handle: Option<&ember_engine::CloudHandle>,
        properties: &ember_engine::Properties,
    ) -> Result<(), (String, String)> {
        super::check_constraints(&self.cloud, handle, &self.schema, properties).await
    }

    /// Heat's implicit dependencies of ports, routers and floating IPs.
    fn implicit_dependencies(
        &self,
        name: &str,
        stack: &ember_engine::definition::StackDefinition,
    ) -> Vec<String> {
        match self.kind {
            NeutronKind::Port => super::dependencies::port(stack, name),
            NeutronKind::Router => super::dependencies::router(stack, name),
            NeutronKind::FloatingIp => super::dependencies::floating_ip(stack, name),
            _ => Vec::new(),
        }
    }

    fn validate(&self, props: &Map<String, Value>) -> Result<(), String> {
        let has = |k: &str| props.get(k).is_some_and(|v| !v.is_null());
        match self.kind {
            NeutronKind::Subnet | NeutronKind::Port if !has("network") && !has("network_id") => {
                Err("Property network not assigned".into())
            }
            NeutronKind::FloatingIp if !has("floating_network") && !has("floating_network_id") => {
                Err("Property floating_network not assigned".into())
            }
            NeutronKind::Subnet if !has("cidr") && !has("subnetpool") => Err(
                "At least one of the following properties must be specified: cidr, subnetpool."
                    .into(),
            ),
            NeutronKind::Network => provider_net_checks(props),
            NeutronKind::SecurityGroupRule => security_group_rule_checks(props),
            NeutronKind::SubnetPool => super::neutron_more::prefix_bounds_checks(props),
            NeutronKind::RbacPolicy => super::neutron_more::rbac_action_checks(props),
            _ => Ok(()),
        }
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let network = super::client(&self.cloud, cx, Network::new).await?;
        let mut body = api_fields(&network, &cx.properties, None).await?;
        if self.named() {
            body.insert("name".into(), json!(name_or_generated(cx)));
        }
        let created = network
            .create(self.kind, Value::Object(body))
            .await
            .map_err(cloud_error)?;
        let id = created["id"].as_str().unwrap_or_default().to_string();
        if self.kind == NeutronKind::SecurityGroup {
            let rules = cx.properties.get("rules").cloned().unwrap_or(json!([]));
            if let Err(e) = sync_rules(&network, &id, &rules).await {
                // A failed create records no physical id, so nothing else would delete the
                // group: remove it, and give Neutron's refusal as the reason.
                network.delete(self.kind, &id).await.map_err(cloud_error)?;
                return Err(e);
            }
        }
        Ok(Started {
            physical_id: Some(id),
            data: Default::default(),
        })
    }

    /// Tags are set once the object's id is stored, so an object whose tags Neutron refuses is
    /// still found by the rollback or delete.
    async fn check_create_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        let tags = tags(&cx.properties);
        if !tags.is_empty() {
            let network = super::client(&self.cloud, cx, Network::new).await?;
            network
                .replace_tags(self.kind, physical_id(cx)?, &tags)
                .await
                .map_err(cloud_error)?;
        }
        Ok(Progress::Done)
    }

    async fn update(
        &self,
        cx: &ResourceContext,
        request: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        let id = physical_id(cx)?;
        if self.kind == NeutronKind::SubnetPool && request.changed.iter().any(|k| k == "prefixes") {
            super::neutron_more::prefixes_grow(request.old_properties, &cx.properties)?;
        }
        let network = super::client(&self.cloud, cx, Network::new).await?;
        if request.changed.iter().any(|k| k == "tags") {
            // In place, as Heat's `set_tags`: the new list replaces the old (none removes all).
            network
                .replace_tags(self.kind, id, &tags(&cx.properties))
                .await
                .map_err(cloud_error)?;
        }
        let mut body = api_fields(&network, &cx.properties, Some(request.changed)).await?;
        if request.changed.iter().any(|k| k == "name") && self.named() {
            body.insert("name".into(), json!(name_or_generated(cx)));
        }
        if !body.is_empty() {
            network
                .update(self.kind, id, Value::Object(body))
                .await
                .map_err(cloud_error)?;
        }
        if self.kind == NeutronKind::SecurityGroup && request.changed.iter().any(|k| k == "rules") {
            let rules = cx.properties.get("rules").cloned().unwrap_or(json!([]));
            sync_rules(&network, id, &rules).await?;
        }
        Ok(Started::default())
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let Some(id) = cx.physical_id.as_deref() else {
            // The service refused the create: nothing was made (Heat: no resource_id).
            return Ok(Started::default());
        };
        let network = super::client(&self.cloud, cx, Network::new).await?;
        network.delete(self.kind, id).await.map_err(cloud_error)?;
        Ok(Started::default())
    }

    async fn check(&self, cx: &ResourceContext) -> Result<(), ResourceError> {
        let network = super::client(&self.cloud, cx, Network::new).await?;
        network
            .show(self.kind, physical_id(cx)?)
            .await
            .map_err(cloud_error)?;
        Ok(())
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        super::attribute_of(&self.schema, cx, name, |id| async move {
            let network = super::client(&self.cloud, cx, Network::new).await?;
            let shown = network.show(self.kind, id).await.map_err(cloud_error)?;
            Ok(match name {
                "show" => shown,
                "tenant_id" => shown
                    .get("tenant_id")
                    .or_else(|| shown.get("project_id"))
                    .cloned()
                    .unwrap_or(Value::Null),
                "network" => match shown["network_id"].as_str() {
                    Some(net) => network
                        .show(NeutronKind::Network, net)
                        .await
                        .map_err(cloud_error)?,
                    None => Value::Null,
                },
                "subnets" if self.kind == NeutronKind::Port => {
                    let mut subnets = Vec::new();
                    for ip in shown["fixed_ips"].as_array().into_iter().flatten() {
                        if let Some(subnet) = ip["subnet_id"].as_str() {
                            subnets.push(
                                network
                                    .show(NeutronKind::Subnet, subnet)
                                    .await
                                    .map_err(cloud_error)?,
                            );
                        }
                    }
                    Value::Array(subnets)
                }
                other => shown.get(other).cloned().unwrap_or(Value::Null),
            })
        })
        .await
    }
}

/// `OS::Neutron::RouterInterface`: physical id `<router id>:subnet_id=<id>` (or `port_id=`), as
/// Heat records it.
struct RouterInterface {
    schema: TypeSchema,
    cloud: Arc<Cloud>,
}

fn first_of<'a>(props: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    keys.iter()
        .find_map(|k| props.get(*k).filter(|v| !v.is_null()))
}

fn parse_interface_id(id: &str) -> Option<(&str, &str, &str)> {
    let (router, rest) = id.split_once(':')?;
    let (key, value) = rest.split_once('=')?;
    Some((router, key, value))
}

#[async_trait]
impl ResourceType for RouterInterface {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    fn validate(&self, props: &Map<String, Value>) -> Result<(), String> {
        if first_of(props, &["router", "router_id"]).is_none() {
            return Err("Property router not assigned".into());
        }
        let subnet = first_of(props, &["subnet", "subnet_id"]).is_some();
        let port = first_of(props, &["port", "port_id"]).is_some();
        match (subnet, port) {
            (true, true) => Err("Only one of subnet or port is allowed.".into()),
            (false, false) => Err(
                "At least one of the following properties must be specified: subnet, port.".into(),
            ),
            _ => Ok(()),
        }
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let network = super::client(&self.cloud, cx, Network::new).await?;
        let router = first_of(&cx.properties, &["router", "router_id"])
            .cloned()
            .unwrap_or(Value::Null);
        let router_id = find_id(&network, NeutronKind::Router, &router).await?;
        let router_id = router_id.as_str().unwrap_or_default();
        let (key, id) = match first_of(&cx.properties, &["subnet", "subnet_id"]) {
            Some(subnet) => (
                "subnet_id",
                find_id(&network, NeutronKind::Subnet, subnet).await?,
            ),
            None => {
                let port = first_of(&cx.properties, &["port", "port_id"])
                    .cloned()
                    .unwrap_or(Value::Null);
                (
                    "port_id",
                    find_id(&network, NeutronKind::Port, &port).await?,
                )
            }
        };
        network
            .add_router_interface(router_id, json!({ key: id }))
            .await
            .map_err(cloud_error)?;
        Ok(Started {
            physical_id: Some(format!(
                "{router_id}:{key}={}",
                id.as_str().unwrap_or_default()
            )),
            data: Default::default(),
        })
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        // None when the service refused the create: nothing to remove.
        let Some((router, key, value)) = cx.physical_id.as_deref().and_then(parse_interface_id)
        else {
            return Ok(Started::default());
        };
        let network = super::client(&self.cloud, cx, Network::new).await?;
        network
            .remove_router_interface(router, json!({ key: value }))
            .await
            .map_err(cloud_error)?;
        Ok(Started::default())
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        super::id_attribute(&self.schema, cx, name).await
    }
}

/// `OS::Neutron::FloatingIPAssociation`. The association needs the port's subnet to be on a
/// router with a gateway to the floating network; Heat only orders it after the server and the
/// floating IP, so it fails when the router interface happens to come later (issue 6 (a)). Here
/// that refusal is not final: the check retries until the interface exists or the action times
/// out.
struct FloatingIpAssociation {
    schema: TypeSchema,
    cloud: Arc<Cloud>,
}

/// Neutron's answer while the port's subnet has no router to the floating network.
fn is_unreachable(error: &ember_openstack::Error) -> bool {
    error.to_string().contains("is not reachable from subnet")
}

impl FloatingIpAssociation {
    async fn associate(&self, cx: &ResourceContext) -> Result<bool, ResourceError> {
        let network = super::client(&self.cloud, cx, Network::new).await?;
        let fip = cx.prop_str("floatingip_id").unwrap_or_default();
        let mut body = json!({ "port_id": cx.prop_str("port_id") });
        if let Some(address) = cx.prop_str("fixed_ip_address") {
            body["fixed_ip_address"] = json!(address);
        }
        match network.update(NeutronKind::FloatingIp, fip, body).await {
            Ok(_) => Ok(true),
            Err(e) if is_unreachable(&e) => Ok(false),
            Err(e) => Err(cloud_error(e)),
        }
    }
}

#[async_trait]
impl ResourceType for FloatingIpAssociation {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    fn implicit_dependencies(
        &self,
        name: &str,
        stack: &ember_engine::definition::StackDefinition,
    ) -> Vec<String> {
        super::dependencies::floating_ip_association(stack, name)
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        self.associate(cx).await?;
        Ok(Started {
            physical_id: cx.prop_str("floatingip_id").map(str::to_string),
            data: super::started_now(),
        })
    }

    async fn check_create_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        let network = super::client(&self.cloud, cx, Network::new).await?;
        let fip = network
            .show(NeutronKind::FloatingIp, physical_id(cx)?)
            .await
            .map_err(cloud_error)?;
        if fip["port_id"].as_str() == cx.prop_str("port_id") {
            return Ok(Progress::Done);
        }
        Ok(if self.associate(cx).await? {
            Progress::Done
        } else {
            Progress::Pending(next_check(cx))
        })
    }

    async fn update(
        &self,
        cx: &ResourceContext,
        _request: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        if cx.physical_id.as_deref() != cx.prop_str("floatingip_id") {
            // Another floating IP: free the old one first.
            self.delete(cx).await?;
        }
        self.associate(cx).await?;
        Ok(Started {
            physical_id: cx.prop_str("floatingip_id").map(str::to_string),
            data: super::started_now(),
        })
    }

    async fn check_update_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        self.check_create_complete(cx).await
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let Some(id) = cx.physical_id.as_deref() else {
            // The service refused the create: nothing was made (Heat: no resource_id).
            return Ok(Started::default());
        };
        let network = super::client(&self.cloud, cx, Network::new).await?;
        match network
            .update(NeutronKind::FloatingIp, id, json!({ "port_id": null }))
            .await
        {
            Ok(_) => Ok(Started::default()),
            Err(e) if e.is_not_found() => Ok(Started::default()),
            Err(e) => Err(cloud_error(e)),
        }
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        super::id_attribute(&self.schema, cx, name).await
    }
}
