//! `OS::Neutron::{AddressScope, SubnetPool, RBACPolicy, ExtraRouteSet}`.
//!
//! AddressScope, SubnetPool and RBACPolicy are plain Neutron objects: they are `neutron`'s
//! [`NeutronResource`] with the schemas and Heat's checks of this file. ExtraRouteSet acts on
//! a router's routes (the `extraroute-atomic` extension) and has its own type.
//!
//! The lab's Neutron lacks the extensions of Heat's Trunk, QoSPolicy and QoS rules, Segment,
//! MeteringLabel/Rule and FloatingIPPortForward, so those types are not offered.

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use ember_engine::resource::{Properties, UpdateRequest};
use ember_engine::schema::{Constraint, TypeSchema};
use ember_engine::{Registry, ResourceContext, ResourceError, ResourceType, Started};
use ember_openstack::services::network::{Network, NeutronKind};
use serde_json::{json, Map, Value};

use super::neutron::NeutronResource;
use super::props::{allowed, boolean, custom, integer, list, map, string, type_schema};
use super::{cloud_error, physical_id, Cloud};

pub(super) fn register(registry: &mut Registry, cloud: &Arc<Cloud>) {
    for (type_name, kind, schema) in [
        (
            "OS::Neutron::AddressScope",
            NeutronKind::AddressScope,
            address_scope_schema(),
        ),
        (
            "OS::Neutron::SubnetPool",
            NeutronKind::SubnetPool,
            subnet_pool_schema(),
        ),
        (
            "OS::Neutron::RBACPolicy",
            NeutronKind::RbacPolicy,
            rbac_policy_schema(),
        ),
    ] {
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
        "OS::Neutron::ExtraRouteSet",
        Arc::new(ExtraRouteSet {
            schema: type_schema(
                "Resource for specifying extra routes for a Neutron router.",
                vec![
                    (
                        "router",
                        custom(string("The router id.").required(), "neutron.router"),
                    ),
                    (
                        "routes",
                        list("A set of route dictionaries for the router.")
                            .default(json!([]))
                            .update_allowed()
                            .with_items(map("").with_keys(vec![
                                (
                                    "destination",
                                    custom(
                                        string("The destination network in CIDR notation.")
                                            .required(),
                                        "net_cidr",
                                    ),
                                ),
                                (
                                    "nexthop",
                                    custom(
                                        string("The next hop for the destination.").required(),
                                        "ip_addr",
                                    ),
                                ),
                            ])),
                    ),
                ],
                &[],
            ),
            cloud: cloud.clone(),
        }),
    );
}

fn non_negative(
    schema: ember_engine::schema::PropertySchema,
) -> ember_engine::schema::PropertySchema {
    schema.constraint(Constraint::Range {
        min: Some(0.0),
        max: None,
    })
}

fn address_scope_schema() -> TypeSchema {
    type_schema(
        "A resource for Neutron address scope.",
        vec![
            ("name", string("The name for the address scope.").update_allowed()),
            (
                "shared",
                boolean("Whether the address scope should be shared to other tenants. Note that the default policy setting restricts usage of this attribute to administrative users only, and restricts changing of shared address scope to unshared with update.")
                    .default(json!(false))
                    .update_allowed(),
            ),
            (
                "tenant_id",
                custom(
                    string("The owner tenant ID of the address scope. Only administrative users can specify a tenant ID other than their own."),
                    "keystone.project",
                ),
            ),
            (
                "ip_version",
                integer("Address family of the address scope, which is 4 or 6.")
                    .default(json!(4))
                    .constraint(Constraint::AllowedValues(vec![json!(4), json!(6)])),
            ),
        ],
        &[],
    )
}

fn subnet_pool_schema() -> TypeSchema {
    type_schema(
        "A resource that implements neutron subnet pool.",
        vec![
            ("name", string("Name of the subnet pool.").update_allowed()),
            (
                "prefixes",
                list("List of subnet prefixes to assign.")
                    .required()
                    .update_allowed()
                    .constraint(Constraint::Length {
                        min: Some(1),
                        max: None,
                    })
                    .with_items(custom(string(""), "net_cidr")),
            ),
            (
                "address_scope",
                custom(
                    string("An address scope ID to assign to the subnet pool.").update_allowed(),
                    "neutron.address_scope",
                ),
            ),
            (
                "default_quota",
                non_negative(integer("A per-tenant quota on the prefix space that can be allocated from the subnet pool for tenant subnets.").update_allowed()),
            ),
            (
                "default_prefixlen",
                non_negative(integer("The size of the prefix to allocate when the cidr or prefixlen attributes are not specified while creating a subnet.").update_allowed()),
            ),
            (
                "min_prefixlen",
                non_negative(integer("Smallest prefix size that can be allocated from the subnet pool.").update_allowed()),
            ),
            (
                "max_prefixlen",
                non_negative(integer("Maximum prefix size that can be allocated from the subnet pool.").update_allowed()),
            ),
            (
                "is_default",
                boolean("Whether this is default IPv4/IPv6 subnet pool. There can only be one default subnet pool for each IP family. Note that the default policy setting restricts administrative users to set this to True.")
                    .default(json!(false))
                    .update_allowed(),
            ),
            (
                "tenant_id",
                string("The ID of the tenant who owns the subnet pool. Only administrative users can specify a tenant ID other than their own."),
            ),
            (
                "shared",
                boolean("Whether the subnet pool will be shared across all tenants. Note that the default policy setting restricts usage of this attribute to administrative users only.")
                    .default(json!(false)),
            ),
            (
                "tags",
                list("The tags to be added to the subnetpool.")
                    .with_items(string(""))
                    .update_allowed(),
            ),
        ],
        &[],
    )
}

/// Heat's RBAC object types and the actions each allows.
const RBAC_ACTIONS: [(&str, &[&str]); 5] = [
    ("network", &["access_as_shared", "access_as_external"]),
    ("qos_policy", &["access_as_shared"]),
    ("security_group", &["access_as_shared"]),
    ("address_scope", &["access_as_shared"]),
    ("subnetpool", &["access_as_shared"]),
];

fn rbac_policy_schema() -> TypeSchema {
    let object_types: Vec<&str> = RBAC_ACTIONS.iter().map(|(t, _)| *t).collect();
    type_schema(
        "A Resource for managing RBAC policy in Neutron.",
        vec![
            (
                "object_type",
                allowed(
                    string("Type of the object that RBAC policy affects.").required(),
                    &object_types,
                ),
            ),
            (
                "target_tenant",
                string("ID of the tenant to which the RBAC policy will be enforced.")
                    .required()
                    .update_allowed(),
            ),
            (
                "action",
                allowed(
                    string("Action for the RBAC policy. The allowed actions differ for different object types - only network objects can have an access_as_external action.").required(),
                    &["access_as_shared", "access_as_external"],
                ),
            ),
            (
                "object_id",
                string("ID or name of the RBAC object.").required(),
            ),
            (
                "tenant_id",
                string("The owner tenant ID. Only required if the caller has an administrative role and wants to create a RBAC for another tenant."),
            ),
        ],
        &[],
    )
}

/// The Neutron kind an RBAC policy's `object_id` names, looked up by name or id as Heat does
/// (`None`: a kind Ember does not look up, passed as given).
pub(super) fn rbac_object_kind(object_type: Option<&str>) -> Option<NeutronKind> {
    match object_type? {
        "network" => Some(NeutronKind::Network),
        "security_group" => Some(NeutronKind::SecurityGroup),
        "address_scope" => Some(NeutronKind::AddressScope),
        "subnetpool" => Some(NeutronKind::SubnetPool),
        _ => None,
    }
}

/// Heat's RBACPolicy check: the action must be one the object type allows.
pub(super) fn rbac_action_checks(props: &Map<String, Value>) -> Result<(), String> {
    let text = |k: &str| props.get(k).and_then(Value::as_str).unwrap_or_default();
    let (action, object_type) = (text("action"), text("object_type"));
    match RBAC_ACTIONS.iter().find(|(t, _)| *t == object_type) {
        Some((_, actions)) if !actions.contains(&action) => Err(format!(
            "Invalid action \"{action}\" for object type {object_type}. Valid actions: {}",
            actions.join(", ")
        )),
        _ => Ok(()),
    }
}

/// Heat's SubnetPool check of the prefix lengths (unset or 0 is not checked, as in Heat).
pub(super) fn prefix_bounds_checks(props: &Map<String, Value>) -> Result<(), String> {
    let length = |k: &str| props.get(k).and_then(Value::as_i64).filter(|v| *v != 0);
    let illegal = |(k1, v1): (&str, i64), (k2, v2): (&str, i64)| {
        Err(format!("Illegal prefix bounds: {k1}={v1}, {k2}={v2}."))
    };
    let (min, default, max) = (
        length("min_prefixlen"),
        length("default_prefixlen"),
        length("max_prefixlen"),
    );
    if let (Some(min), Some(max)) = (min, max) {
        if min > max {
            return illegal(("max_prefixlen", max), ("min_prefixlen", min));
        }
    }
    if let Some(default) = default {
        if let Some(max) = max.filter(|max| default > *max) {
            return illegal(("max_prefixlen", max), ("default_prefixlen", default));
        }
        if let Some(min) = min.filter(|min| *min > default) {
            return illegal(("min_prefixlen", min), ("default_prefixlen", default));
        }
    }
    Ok(())
}

/// A CIDR as (network address bits, prefix length, IPv6?).
fn parse_cidr(text: &str) -> Option<(u128, u32, bool)> {
    let (address, length) = text.split_once('/')?;
    let length: u32 = length.parse().ok()?;
    match address.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) if length <= 32 => Some((u128::from(u32::from(v4)) << 96, length, false)),
        IpAddr::V6(v6) if length <= 128 => Some((u128::from(v6), length, true)),
        _ => None,
    }
}

/// Whether CIDR `outer` contains CIDR `inner`.
fn contains(outer: (u128, u32, bool), inner: (u128, u32, bool)) -> bool {
    let (outer_bits, outer_len, outer_v6) = outer;
    let (inner_bits, inner_len, inner_v6) = inner;
    // IPv4 lengths count from bit 96 of the shifted address.
    let shift = |len: u32, v6: bool| if v6 { len } else { len + 96 };
    let outer_len = shift(outer_len, outer_v6);
    let mask = if outer_len == 0 {
        0
    } else {
        u128::MAX << (128 - outer_len)
    };
    outer_v6 == inner_v6
        && shift(inner_len, inner_v6) >= outer_len
        && outer_bits & mask == inner_bits & mask
}

/// Heat's SubnetPool update check: the new prefixes must cover the old ones.
pub(super) fn prefixes_grow(old: &Properties, new: &Properties) -> Result<(), ResourceError> {
    let prefixes = |p: &Properties| -> Vec<String> {
        p.get("prefixes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    };
    let (mut old, mut new) = (prefixes(old), prefixes(new));
    let covered = old.iter().all(|o| {
        parse_cidr(o).is_some_and(|inner| {
            new.iter()
                .filter_map(|n| parse_cidr(n))
                .any(|outer| contains(outer, inner))
        })
    });
    if covered {
        return Ok(());
    }
    old.sort();
    new.sort();
    Err(ResourceError::new(
        "StackValidationFailed",
        format!(
            "Property prefixes updated value {} should be superset of existing value {}.",
            python_list(&new),
            python_list(&old)
        ),
    ))
}

/// A list of strings as Python prints it (`['10.0.0.0/16']`), as in Heat's messages.
fn python_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("'{i}'")).collect();
    format!("[{}]", quoted.join(", "))
}

/// `OS::Neutron::ExtraRouteSet`: its physical id is the router's id (as in Heat); the routes
/// are added and removed with the atomic extra-route calls, so routes of the same router
/// managed elsewhere stay.
struct ExtraRouteSet {
    schema: TypeSchema,
    cloud: Arc<Cloud>,
}

/// The `routes` property as Neutron's route objects (`destination`, `nexthop`).
fn routes(props: &Properties) -> Vec<Value> {
    props
        .get("routes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| json!({"destination": r["destination"], "nexthop": r["nexthop"]}))
        .collect()
}

/// Heat's refusal to add a route the router already has: `PhysicalResourceExists` naming
/// `<router>,<destination>=<nexthop>`.
fn refuse_duplicates(
    router: &Value,
    router_id: &str,
    adding: &[Value],
) -> Result<(), ResourceError> {
    let existing = router["routes"].as_array().cloned().unwrap_or_default();
    match adding.iter().find(|route| existing.contains(route)) {
        Some(route) => Err(ResourceError::new(
            "PhysicalResourceExists",
            format!(
                "The physical resource for ({router_id},{}={}) exists.",
                route["destination"].as_str().unwrap_or_default(),
                route["nexthop"].as_str().unwrap_or_default()
            ),
        )),
        None => Ok(()),
    }
}

impl ExtraRouteSet {
    async fn router_id(network: &Network, props: &Properties) -> Result<String, ResourceError> {
        let router = props
            .get("router")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let found = network
            .find(NeutronKind::Router, router)
            .await
            .map_err(cloud_error)?;
        Ok(found["id"].as_str().unwrap_or(router).to_string())
    }
}

#[async_trait]
impl ResourceType for ExtraRouteSet {
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

    /// Heat's rule: after the router interfaces of the same router (a nexthop must be on one of
    /// its subnets).
    fn implicit_dependencies(
        &self,
        name: &str,
        stack: &ember_engine::definition::StackDefinition,
    ) -> Vec<String> {
        super::dependencies::extra_route_set(stack, name)
    }

    fn creates_synchronously(&self) -> bool {
        true
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let network = super::client(&self.cloud, cx, Network::new).await?;
        let router_id = Self::router_id(&network, &cx.properties).await?;
        let adding = routes(&cx.properties);
        let router = network
            .show(NeutronKind::Router, &router_id)
            .await
            .map_err(cloud_error)?;
        refuse_duplicates(&router, &router_id, &adding)?;
        network
            .change_extra_routes(&router_id, true, &adding)
            .await
            .map_err(cloud_error)?;
        Ok(Started {
            physical_id: Some(router_id),
            data: Default::default(),
        })
    }

    async fn update(
        &self,
        cx: &ResourceContext,
        request: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        let router_id = physical_id(cx)?;
        let network = super::client(&self.cloud, cx, Network::new).await?;
        let (old, new) = (routes(request.old_properties), routes(&cx.properties));
        let adding: Vec<Value> = new.iter().filter(|r| !old.contains(r)).cloned().collect();
        let removing: Vec<Value> = old.iter().filter(|r| !new.contains(r)).cloned().collect();
        let router = network
            .show(NeutronKind::Router, router_id)
            .await
            .map_err(cloud_error)?;
        refuse_duplicates(&router, router_id, &adding)?;
        network
            .change_extra_routes(router_id, false, &removing)
            .await
            .map_err(cloud_error)?;
        network
            .change_extra_routes(router_id, true, &adding)
            .await
            .map_err(cloud_error)?;
        Ok(Started::default())
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let Some(router_id) = cx.physical_id.as_deref() else {
            return Ok(Started::default());
        };
        let network = super::client(&self.cloud, cx, Network::new).await?;
        // A router already gone took its routes with it.
        ember_openstack::services::ignore_not_found(
            network
                .change_extra_routes(router_id, false, &routes(&cx.properties))
                .await,
        )
        .map_err(cloud_error)?;
        Ok(Started::default())
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        super::attribute_of(&self.schema, cx, name, |id| async move {
            let network = super::client(&self.cloud, cx, Network::new).await?;
            network
                .show(NeutronKind::Router, id)
                .await
                .map_err(cloud_error)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_must_cover_the_old_ones() {
        let props = |p: Value| json!({ "prefixes": p }).as_object().cloned().unwrap();
        let old = props(json!(["10.10.0.0/24"]));
        assert!(prefixes_grow(&old, &props(json!(["10.10.0.0/16"]))).is_ok());
        assert!(prefixes_grow(&old, &props(json!(["10.10.0.0/24", "10.20.0.0/24"]))).is_ok());
        let error = prefixes_grow(&old, &props(json!(["10.20.0.0/24"]))).unwrap_err();
        assert_eq!(
            error.to_string(),
            "StackValidationFailed: Property prefixes updated value ['10.20.0.0/24'] should be superset of existing value ['10.10.0.0/24']."
        );
        assert!(prefixes_grow(&props(json!(["fd00::/64"])), &props(json!(["fd00::/48"]))).is_ok());
        assert!(prefixes_grow(&old, &props(json!(["fd00::/8"]))).is_err());
    }

    #[test]
    fn prefix_bounds_and_rbac_actions_as_heat_checks_them() {
        let props = |p: Value| p.as_object().cloned().unwrap();
        assert_eq!(
            prefix_bounds_checks(&props(json!({"min_prefixlen": 28, "max_prefixlen": 24}))),
            Err("Illegal prefix bounds: max_prefixlen=24, min_prefixlen=28.".into())
        );
        assert_eq!(
            prefix_bounds_checks(&props(
                json!({"default_prefixlen": 20, "min_prefixlen": 24})
            )),
            Err("Illegal prefix bounds: min_prefixlen=24, default_prefixlen=20.".into())
        );
        assert!(
            prefix_bounds_checks(&props(json!({"min_prefixlen": 8, "default_prefixlen": 24})))
                .is_ok()
        );
        assert_eq!(
            rbac_action_checks(&props(json!({"object_type": "subnetpool", "action": "access_as_external"}))),
            Err("Invalid action \"access_as_external\" for object type subnetpool. Valid actions: access_as_shared".into())
        );
        assert!(rbac_action_checks(&props(
            json!({"object_type": "network", "action": "access_as_external"})
        ))
        .is_ok());
    }
}
