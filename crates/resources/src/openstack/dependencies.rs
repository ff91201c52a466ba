//! Heat's implicit dependencies between OpenStack resources (`add_dependencies` in Heat's Port,
//! Router, FloatingIP, FloatingIPAssociation, ExtraRouteSet and Server, and
//! AWS::EC2::VPCGatewayAttachment), found before anything exists.
//!
//! As in Heat, two properties "name the same thing" when their values are equal with every
//! reference to another resource still unresolved: here `get_resource: net` evaluates to a
//! marker of `net` (and `get_attr` to a marker of the resource, attribute and path), so
//! `network: {get_resource: net}` on a port and on a subnet match, and so do two equal
//! literal names. A resource whose properties cannot be evaluated that way is skipped, as Heat
//! skips properties it cannot read yet.

use ember_engine::definition::{Resolver, StackDefinition};
use serde_json::{Map, Value};

/// Evaluates with every reference as a marker of what it refers to.
struct Markers;

impl Resolver for Markers {
    fn resource_ref(&self, name: &str) -> Option<Value> {
        Some(Value::String(format!("\u{0}ref:{name}")))
    }
    fn resource_attr(&self, name: &str, attr: &str, path: &[Value]) -> Result<Value, String> {
        let path: Vec<String> = path.iter().map(Value::to_string).collect();
        Ok(Value::String(format!(
            "\u{0}attr:{name}/{attr}/{}",
            path.join("/")
        )))
    }
    fn resource_attrs(&self, name: &str) -> Result<Value, String> {
        Ok(Value::String(format!("\u{0}attrs:{name}")))
    }
}

/// One resource of the stack with its properties evaluated against [`Markers`].
struct View<'a> {
    name: &'a str,
    props: Map<String, Value>,
}

impl View<'_> {
    /// The first non-null of `keys` (a property and its deprecated spelling).
    fn get(&self, keys: &[&str]) -> Option<&Value> {
        keys.iter()
            .find_map(|k| self.props.get(*k).filter(|v| !v.is_null()))
    }
    fn network(&self) -> Option<&Value> {
        self.get(&["network", "network_id"])
    }
}

/// The resources of these types, evaluated.
fn views<'a>(stack: &'a StackDefinition, types: &[&str]) -> Vec<View<'a>> {
    stack
        .resources
        .values()
        .filter(|d| types.contains(&d.type_name.as_str()))
        .filter_map(|d| {
            let Ok(Value::Object(props)) = d.properties.evaluate(&Markers) else {
                return None;
            };
            Some(View {
                name: &d.name,
                props,
            })
        })
        .collect()
}

fn me<'a>(stack: &'a StackDefinition, name: &str) -> Option<View<'a>> {
    let def = stack.resources.get(name)?;
    views(stack, &[def.type_name.as_str()])
        .into_iter()
        .find(|v| v.name == name)
}

const SUBNET: &str = "OS::Neutron::Subnet";
const PORT: &str = "OS::Neutron::Port";
const ROUTER: &str = "OS::Neutron::Router";
const ROUTER_INTERFACE: &str = "OS::Neutron::RouterInterface";

/// Names of the subnets on `network`.
fn subnets_on(stack: &StackDefinition, network: &Value) -> Vec<String> {
    views(stack, &[SUBNET])
        .into_iter()
        .filter(|s| s.network() == Some(network))
        .map(|s| s.name.to_string())
        .collect()
}

/// A port waits for the subnets of its network (its addresses come from them).
pub(crate) fn port(stack: &StackDefinition, name: &str) -> Vec<String> {
    let Some(port) = me(stack, name) else {
        return Vec::new();
    };
    port.network()
        .map(|net| subnets_on(stack, net))
        .unwrap_or_default()
}

/// A router with a gateway waits for the subnets of the external network it names.
pub(crate) fn router(stack: &StackDefinition, name: &str) -> Vec<String> {
    let Some(router) = me(stack, name) else {
        return Vec::new();
    };
    router
        .get(&["external_gateway_info"])
        .and_then(|gateway| gateway.get("network").or_else(|| gateway.get("network_id")))
        .filter(|net| !net.is_null())
        .map(|net| subnets_on(stack, net))
        .unwrap_or_default()
}

/// An extra route set waits for the interfaces of its router (Heat's rule: a route's next hop
/// must be on one of the router's subnets).
pub(crate) fn extra_route_set(stack: &StackDefinition, name: &str) -> Vec<String> {
    let Some(routes) = me(stack, name) else {
        return Vec::new();
    };
    let router = routes.get(&["router"]);
    views(stack, &[ROUTER_INTERFACE])
        .into_iter()
        .filter(|i| router.is_some() && i.get(&["router", "router_id"]) == router)
        .map(|i| i.name.to_string())
        .collect()
}

/// A floating IP waits for the routers whose gateway is on its floating network, and for the
/// router interfaces on the subnet of the port it is given (Heat's rules; without them the
/// association is refused while the port's subnet has no route to the external network).
pub(crate) fn floating_ip(stack: &StackDefinition, name: &str) -> Vec<String> {
    let Some(fip) = me(stack, name) else {
        return Vec::new();
    };
    let floating_network = fip.get(&["floating_network", "floating_network_id"]);
    let mut needed: Vec<String> = views(stack, &[ROUTER])
        .into_iter()
        .filter(|router| {
            router
                .get(&["external_gateway_info"])
                .and_then(|g| g.get("network").or_else(|| g.get("network_id")))
                .is_some_and(|net| Some(net) == floating_network)
        })
        .map(|r| r.name.to_string())
        .collect();
    if let Some(port) = fip.get(&["port_id"]) {
        needed.extend(interfaces_for_port(stack, port));
    }
    needed
}

/// The router interfaces on the subnet(s) of the stack's port that `port` refers to: its
/// fixed IPs' subnets, or, without fixed IPs, every subnet of its network.
fn interfaces_for_port(stack: &StackDefinition, port: &Value) -> Vec<String> {
    let Some(port) = views(stack, &[PORT])
        .into_iter()
        .find(|p| Some(port) == Markers.resource_ref(p.name).as_ref())
    else {
        return Vec::new();
    };
    let fixed_subnets: Vec<&Value> = port
        .get(&["fixed_ips"])
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|ip| {
            ip.get("subnet")
                .filter(|v| !v.is_null())
                .or_else(|| ip.get("subnet_id"))
        })
        .filter(|v| !v.is_null())
        .collect();
    let network_subnets: Vec<Value> = port
        .network()
        .map(|net| subnets_on(stack, net))
        .unwrap_or_default()
        .iter()
        .filter_map(|s| Markers.resource_ref(s))
        .collect();
    views(stack, &[ROUTER_INTERFACE])
        .into_iter()
        .filter(|interface| {
            interface
                .get(&["subnet", "subnet_id"])
                .is_some_and(|subnet| {
                    if fixed_subnets.is_empty() {
                        network_subnets.contains(subnet)
                    } else {
                        fixed_subnets.contains(&subnet)
                    }
                })
        })
        .map(|i| i.name.to_string())
        .collect()
}

/// A server waits for the subnets of the networks it is on; a subnet whose network is not
/// known, or a `networks` entry without a network (a port), makes it wait for the subnet
/// anyway (Heat: it may be the one).
pub(crate) fn server(stack: &StackDefinition, name: &str) -> Vec<String> {
    let Some(server) = me(stack, name) else {
        return Vec::new();
    };
    let Some(entries) = server.get(&["networks"]).and_then(Value::as_array) else {
        return Vec::new();
    };
    if entries.is_empty() {
        return Vec::new();
    }
    let networks: Vec<Option<&Value>> = entries
        .iter()
        .map(|e| {
            e.get("network")
                .filter(|v| !v.is_null())
                .or_else(|| e.get("uuid"))
                .filter(|v| !v.is_null())
        })
        .collect();
    views(stack, &[SUBNET])
        .into_iter()
        .filter(|subnet| match subnet.network() {
            None => true,
            Some(net) => networks.iter().any(|n| n.is_none_or(|n| n == net)),
        })
        .map(|s| s.name.to_string())
        .collect()
}

/// What Heat lacks (issue 6 (a)): a floating IP association waits for the router interface on
/// the network of the port it associates. The port comes from a resource it references (a
/// Port, or a Server by its `addresses`), whose networks are the `OS::Neutron::Net`s that
/// resource references; an interface is on one when its subnet references that network.
pub(crate) fn floating_ip_association(stack: &StackDefinition, name: &str) -> Vec<String> {
    let of_type = |names: &std::collections::BTreeSet<String>, wanted: &str| {
        names
            .iter()
            .filter(|n| {
                stack
                    .resources
                    .get(*n)
                    .is_some_and(|d| d.type_name == wanted)
            })
            .cloned()
            .collect::<Vec<_>>()
    };
    let Some(me) = stack.resources.get(name) else {
        return Vec::new();
    };
    let networks: Vec<String> = me
        .requires
        .iter()
        .filter_map(|n| stack.resources.get(n))
        .flat_map(|port_owner| of_type(&port_owner.requires, "OS::Neutron::Net"))
        .collect();
    stack
        .resources
        .values()
        .filter(|d| d.type_name == ROUTER_INTERFACE)
        .filter(|interface| {
            of_type(&interface.requires, SUBNET)
                .iter()
                .filter_map(|s| stack.resources.get(s))
                .any(|subnet| networks.iter().any(|n| subnet.requires.contains(n)))
        })
        .map(|interface| interface.name.clone())
        .collect()
}

/// A VPC gateway attachment waits for the route tables of its VPC (Heat's
/// `VPCGatewayAttachment.add_dependencies`): it gives each of them the external gateway.
pub(crate) fn vpc_gateway_attachment(stack: &StackDefinition, name: &str) -> Vec<String> {
    let Some(attachment) = me(stack, name) else {
        return Vec::new();
    };
    let Some(vpc) = attachment.get(&["VpcId"]) else {
        return Vec::new();
    };
    views(stack, &["AWS::EC2::RouteTable"])
        .into_iter()
        .filter(|table| table.get(&["VpcId"]) == Some(vpc))
        .map(|table| table.name.to_string())
        .collect()
}
