//! Heat's custom constraints checked against the cloud (`nova.flavor`, `glance.image`,
//! `neutron.network`, ...): the named thing must exist and be unique, and the error names it as
//! Heat does: `Error validating value 'm9': The Flavor (m9) could not be found.`
//!
//! The engine calls [`check_properties`] through `ResourceType::validate_with_cloud` before a
//! create or update is accepted.

use ember_engine::resource::Properties;
use ember_engine::schema::{Constraint, PropertySchema, TypeSchema};
use ember_openstack::services::block_storage::BlockStorage;
use ember_openstack::services::compute::Compute;
use ember_openstack::services::identity::{Identity, IdentityKind};
use ember_openstack::services::image::Image;
use ember_openstack::services::network::{Network, NeutronKind};
use ember_openstack::{Error, Session};
use serde_json::Value;

/// The constraints checked here.
pub const NAMES: &[&str] = &[
    "nova.flavor",
    "nova.keypair",
    "glance.image",
    "neutron.network",
    "neutron.subnet",
    "neutron.port",
    "neutron.router",
    "neutron.security_group",
    "cinder.volume",
    "cinder.snapshot",
    "cinder.backup",
    "cinder.vtype",
    "keystone.project",
    "keystone.user",
    "keystone.role",
    "keystone.domain",
    "keystone.group",
    "keystone.region",
    "keystone.service",
    "neutron.subnetpool",
    "neutron.address_scope",
    "nova.host",
    "cinder.qos_specs",
];

/// Check one value against one constraint. `Ok(false)` when the constraint is not one of
/// [`NAMES`] (someone else's to check).
pub async fn check(session: &Session, constraint: &str, value: &str) -> Result<bool, String> {
    let neutron = |kind| async move { Network::new(session).await?.find(kind, value).await };
    let identity = |kind| async move { Identity::new(session).await?.find(kind, value).await };
    let found: Result<Value, Error> = match constraint {
        "nova.flavor" => async { Compute::new(session).await?.find_flavor(value).await }.await,
        "nova.keypair" => async { Compute::new(session).await?.find_keypair(value).await }.await,
        "glance.image" => async { Image::new(session).await?.find(value).await }.await,
        "neutron.network" => neutron(NeutronKind::Network).await,
        "neutron.subnet" => neutron(NeutronKind::Subnet).await,
        "neutron.port" => neutron(NeutronKind::Port).await,
        "neutron.router" => neutron(NeutronKind::Router).await,
        "neutron.security_group" => neutron(NeutronKind::SecurityGroup).await,
        "cinder.volume" => {
            async { BlockStorage::new(session).await?.find_volume(value).await }.await
        }
        "cinder.snapshot" => cinder_by_id(session, "VolumeSnapshot", "snapshots", value).await,
        "cinder.backup" => cinder_by_id(session, "Volume backup", "backups", value).await,
        "cinder.vtype" => {
            async {
                BlockStorage::new(session)
                    .await?
                    .find_volume_type(value)
                    .await
            }
            .await
        }
        "keystone.project" => identity(IdentityKind::Project).await,
        "keystone.user" => identity(IdentityKind::User).await,
        "keystone.role" => identity(IdentityKind::Role).await,
        "keystone.domain" => identity(IdentityKind::Domain).await,
        "keystone.group" => identity(IdentityKind::Group).await,
        "keystone.region" => identity(IdentityKind::Region).await,
        "keystone.service" => identity(IdentityKind::Service).await,
        "neutron.subnetpool" => neutron(NeutronKind::SubnetPool).await,
        "neutron.address_scope" => neutron(NeutronKind::AddressScope).await,
        // Nova's hypervisor search (its 404 names the host).
        "nova.host" => {
            async {
                Compute::new(session)
                    .await?
                    .client()
                    .get("/os-hypervisors")
                    .query("hypervisor_hostname_pattern", value)
                    .send_json()
                    .await
            }
            .await
        }
        "cinder.qos_specs" => {
            async {
                BlockStorage::new(session)
                    .await?
                    .find_qos_specs(value)
                    .await
            }
            .await
        }
        _ => return Ok(false),
    };
    let message = match found {
        Ok(_) => return Ok(true),
        // neutronclient's words for a missing Neutron object, which Heat passes on.
        Err(Error::NotFound { kind, name }) if constraint.starts_with("neutron.") => {
            format!("Unable to find {kind} with name or id '{name}'")
        }
        Err(error) => error.to_string(),
    };
    Err(format!("Error validating value '{value}': {message}"))
}

/// A Cinder snapshot or backup (`collection`, its answer's key without the `s`) by id: Heat
/// looks these up by id only, and names them `kind` when they are missing.
async fn cinder_by_id(
    session: &Session,
    kind: &'static str,
    collection: &str,
    id: &str,
) -> Result<Value, Error> {
    let storage = BlockStorage::new(session).await?;
    match storage
        .client()
        .get(format!("/{collection}/{id}"))
        .send_json()
        .await
    {
        Ok(found) => Ok(found[collection.trim_end_matches('s')].clone()),
        Err(e) if e.is_not_found() => Err(Error::NotFound {
            kind,
            name: id.to_string(),
        }),
        Err(e) => Err(e),
    }
}

/// Check every string value of `properties` whose schema carries one of these constraints,
/// nested ones too (`networks[].network`, `block_device_mapping_v2[].image`); the first failure
/// as (property path in Heat's spelling, `networks.0.network`, message).
pub async fn check_properties(
    session: &Session,
    schema: &TypeSchema,
    properties: &Properties,
) -> Result<(), (String, String)> {
    let mut found = Vec::new();
    for (name, property) in &schema.properties {
        if let Some(value) = properties.get(name) {
            constrained_values(property, value, name.clone(), &mut found);
        }
    }
    for (path, constraint, value) in found {
        check(session, constraint, value)
            .await
            .map_err(|message| (path, message))?;
    }
    Ok(())
}

/// The (path, constraint, value) of every string under `value` that `schema` constrains.
fn constrained_values<'a>(
    schema: &'a PropertySchema,
    value: &'a Value,
    path: String,
    found: &mut Vec<(String, &'a str, &'a str)>,
) {
    match (value, &schema.nested) {
        (Value::String(text), _) => {
            for constraint in &schema.constraints {
                if let Constraint::Custom(name) = constraint {
                    found.push((path.clone(), name, text));
                }
            }
        }
        (Value::Array(items), Some(nested)) => {
            // A list's nested schema is its one item schema.
            if let Some(item) = nested.values().next() {
                for (index, value) in items.iter().enumerate() {
                    constrained_values(item, value, format!("{path}.{index}"), found);
                }
            }
        }
        (Value::Object(map), Some(nested)) => {
            for (key, schema) in nested {
                if let Some(value) = map.get(key) {
                    constrained_values(schema, value, format!("{path}.{key}"), found);
                }
            }
        }
        _ => {}
    }
}
