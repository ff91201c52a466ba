//! Neutron: every kind of object shares the same create/show/update/delete/list shape
//! (`POST /v2.0/networks {"network": {...}}`), so one set of calls serves them all.

use serde_json::{json, Value};

use super::{ignore_not_found, Collection};
use crate::catalog::ServiceType;
use crate::error::Error;
use crate::session::{ServiceClient, Session};

/// The kinds of Neutron objects Ember manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeutronKind {
    Network,
    Subnet,
    Port,
    Router,
    SecurityGroup,
    SecurityGroupRule,
    FloatingIp,
    AddressScope,
    SubnetPool,
    RbacPolicy,
}

impl NeutronKind {
    /// The body key of one object (`{"security_group": ...}`).
    pub fn key(self) -> &'static str {
        match self {
            NeutronKind::Network => "network",
            NeutronKind::Subnet => "subnet",
            NeutronKind::Port => "port",
            NeutronKind::Router => "router",
            NeutronKind::SecurityGroup => "security_group",
            NeutronKind::SecurityGroupRule => "security_group_rule",
            NeutronKind::FloatingIp => "floatingip",
            NeutronKind::AddressScope => "address_scope",
            NeutronKind::SubnetPool => "subnetpool",
            NeutronKind::RbacPolicy => "rbac_policy",
        }
    }

    /// The body key of a list (`{"security_groups": [...]}`).
    pub fn plural_key(self) -> &'static str {
        match self {
            NeutronKind::Network => "networks",
            NeutronKind::Subnet => "subnets",
            NeutronKind::Port => "ports",
            NeutronKind::Router => "routers",
            NeutronKind::SecurityGroup => "security_groups",
            NeutronKind::SecurityGroupRule => "security_group_rules",
            NeutronKind::FloatingIp => "floatingips",
            NeutronKind::AddressScope => "address_scopes",
            NeutronKind::SubnetPool => "subnetpools",
            NeutronKind::RbacPolicy => "rbac_policies",
        }
    }

    /// The collection path (`/security-groups`).
    pub fn path(self) -> &'static str {
        match self {
            NeutronKind::Network => "/networks",
            NeutronKind::Subnet => "/subnets",
            NeutronKind::Port => "/ports",
            NeutronKind::Router => "/routers",
            NeutronKind::SecurityGroup => "/security-groups",
            NeutronKind::SecurityGroupRule => "/security-group-rules",
            NeutronKind::FloatingIp => "/floatingips",
            NeutronKind::AddressScope => "/address-scopes",
            NeutronKind::SubnetPool => "/subnetpools",
            NeutronKind::RbacPolicy => "/rbac-policies",
        }
    }

    /// The name Neutron uses in its own messages.
    pub fn label(self) -> &'static str {
        match self {
            NeutronKind::Network => "network",
            NeutronKind::Subnet => "subnet",
            NeutronKind::Port => "port",
            NeutronKind::Router => "router",
            NeutronKind::SecurityGroup => "security_group",
            NeutronKind::SecurityGroupRule => "security_group_rule",
            NeutronKind::FloatingIp => "floatingip",
            NeutronKind::AddressScope => "address_scope",
            NeutronKind::SubnetPool => "subnetpool",
            NeutronKind::RbacPolicy => "rbac_policy",
        }
    }
}

/// Neutron's API for one session.
#[derive(Clone)]
pub struct Network {
    client: ServiceClient,
}

impl Network {
    pub async fn new(session: &Session) -> Result<Network, Error> {
        Ok(Network {
            client: session.service(ServiceType::Network).await?,
        })
    }

    pub fn client(&self) -> &ServiceClient {
        &self.client
    }

    /// Create one object; not retried (a lost answer would otherwise create two).
    pub async fn create(&self, kind: NeutronKind, body: Value) -> Result<Value, Error> {
        let created = self
            .client
            .post(kind.path(), json!({ kind.key(): body }))
            .send_json()
            .await?;
        Ok(created[kind.key()].clone())
    }

    pub async fn show(&self, kind: NeutronKind, id: &str) -> Result<Value, Error> {
        Ok(self
            .client
            .get(format!("{}/{id}", kind.path()))
            .send_json()
            .await?[kind.key()]
        .clone())
    }

    /// Change the given fields in place.
    pub async fn update(
        &self,
        kind: NeutronKind,
        id: &str,
        changes: Value,
    ) -> Result<Value, Error> {
        Ok(self
            .client
            .put(
                format!("{}/{id}", kind.path()),
                json!({ kind.key(): changes }),
            )
            .send_json()
            .await?[kind.key()]
        .clone())
    }

    /// Delete; something already gone counts as deleted. A 409 (a network whose ports are still
    /// being removed) is retried with backoff by the session before it becomes the error.
    pub async fn delete(&self, kind: NeutronKind, id: &str) -> Result<(), Error> {
        ignore_not_found(
            self.client
                .delete(format!("{}/{id}", kind.path()))
                .send()
                .await,
        )?;
        Ok(())
    }

    /// Make the object's tags exactly `tags` (`PUT /v2.0/{collection}/{id}/tags`, Heat's
    /// `replace_tag`); an empty list removes them all. Idempotent, so retried like any PUT.
    pub async fn replace_tags(
        &self,
        kind: NeutronKind,
        id: &str,
        tags: &[Value],
    ) -> Result<(), Error> {
        self.client
            .put(
                format!("{}/{id}/tags", kind.path()),
                json!({ "tags": tags }),
            )
            .send()
            .await?;
        Ok(())
    }

    /// Objects matching the filters (`[("network_id", id)]`).
    pub async fn list(
        &self,
        kind: NeutronKind,
        filters: &[(&str, &str)],
    ) -> Result<Vec<Value>, Error> {
        let mut request = self.client.get(kind.path());
        for (key, value) in filters {
            request = request.query(key, *value);
        }
        Ok(request.send_json().await?[kind.plural_key()]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// The object whose id or name is `name_or_id` (what Heat's `neutron.*` constraints and
    /// name-or-id properties accept).
    pub async fn find(&self, kind: NeutronKind, name_or_id: &str) -> Result<Value, Error> {
        Collection {
            client: &self.client,
            kind: kind.label(),
            path: kind.path(),
            list_path: kind.path(),
            one_key: kind.key(),
            many_key: kind.plural_key(),
            filters_by_name: true,
        }
        .find(name_or_id, true)
        .await
    }

    /// Attach a subnet or port to a router (`{"subnet_id": ..}` or `{"port_id": ..}`). Not
    /// idempotent: a repeated add is refused, so it is not retried.
    pub async fn add_router_interface(
        &self,
        router_id: &str,
        interface: Value,
    ) -> Result<Value, Error> {
        self.client
            .put(
                format!("/routers/{router_id}/add_router_interface"),
                interface,
            )
            .idempotent(false)
            .send_json()
            .await
    }

    /// Add (`add_extraroutes`) or remove (`remove_extraroutes`) extra routes of a router in one
    /// atomic call (the `extraroute-atomic` extension); returns the router.
    pub async fn change_extra_routes(
        &self,
        router_id: &str,
        add: bool,
        routes: &[Value],
    ) -> Result<Value, Error> {
        let action = if add {
            "add_extraroutes"
        } else {
            "remove_extraroutes"
        };
        Ok(self
            .client
            .put(
                format!("/routers/{router_id}/{action}"),
                json!({"router": {"routes": routes}}),
            )
            .send_json()
            .await?["router"]
            .clone())
    }

    /// Detach; a router or interface already gone counts as detached.
    pub async fn remove_router_interface(
        &self,
        router_id: &str,
        interface: Value,
    ) -> Result<(), Error> {
        ignore_not_found(
            self.client
                .put(
                    format!("/routers/{router_id}/remove_router_interface"),
                    interface,
                )
                .send()
                .await,
        )?;
        Ok(())
    }
}
