//! Heat's admin types of Keystone, Cinder, Nova and Neutron against the lab (admin session):
//! Domain, Group, Region, Service, Endpoint; QoSSpecs, QoSAssociation, EncryptedVolumeType;
//! HostAggregate; AddressScope, SubnetPool, RBACPolicy, ExtraRouteSet; the three Quotas.
//! Each: create, update in place, replacement where Heat replaces, delete (and again, already
//! gone), and one refusal of the service as the resource's reason. Quotas are set on projects
//! made for the test, so the lab's own projects keep theirs.

mod common;
mod lab_types;

use common::{compiled, json_request, lab_service, reason, resources, start_create, status, wait};
use ember_openstack::services::block_storage::BlockStorage;
use ember_openstack::services::compute::Compute;
use ember_openstack::services::identity::{Identity, IdentityKind};
use ember_openstack::services::network::{Network, NeutronKind};
use ember_openstack::ServiceClient;
use lab_types::{lab, suffix, Res};
use serde_json::{json, Value};

/// A project made for the test (removed by the caller).
async fn scratch_project(keystone: &Identity, tag: &str, what: &str) -> String {
    let created = keystone
        .create(
            IdentityKind::Project,
            json!({"name": format!("{what}-{tag}"), "domain_id": "default"}),
        )
        .await
        .unwrap();
    created["id"].as_str().unwrap().to_string()
}

async fn get(client: &ServiceClient, path: String) -> Value {
    client.get(path).send_json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keystone_domain_group_region_service_and_endpoint() {
    let Some(lab) = lab().await else { return };
    let keystone = Identity::new(&lab.admin).await.unwrap();
    let tag = suffix();
    let types = &lab.admin_types;

    // Domain: create, update in place, the same name again is Keystone's conflict.
    let mut domain = Res::new(
        types,
        "OS::Keystone::Domain",
        "domain",
        json!({"name": format!("ksd-{tag}"), "description": "one"}),
    );
    domain.create().await.unwrap();
    assert_eq!(domain.attr("show").await["name"], format!("ksd-{tag}"));
    assert!(domain
        .update(json!({"name": format!("ksd-{tag}"), "description": "two", "enabled": false}))
        .await
        .unwrap());
    let shown = keystone
        .find(IdentityKind::Domain, &domain.id())
        .await
        .unwrap();
    assert_eq!(
        (shown["description"].clone(), shown["enabled"].clone()),
        (json!("two"), json!(false))
    );
    assert!(domain
        .update(json!({"name": format!("ksd-{tag}"), "description": "two"}))
        .await
        .unwrap());
    let mut twin = Res::new(
        types,
        "OS::Keystone::Domain",
        "twin",
        json!({"name": format!("ksd-{tag}")}),
    );
    let error = twin.create().await.unwrap_err().to_string();
    assert!(error.starts_with("Conflict: "), "{error}");

    // Group in that domain, with a role grant; renamed and regranted in place.
    let mut group = Res::new(
        types,
        "OS::Keystone::Group",
        "group",
        json!({"name": format!("ksg-{tag}"), "domain": format!("ksd-{tag}"),
               "roles": [{"role": "reader", "project": "demo"}]}),
    );
    group.create().await.unwrap();
    let shown = group.attr("show").await;
    assert_eq!(shown["domain_id"], Value::String(domain.id()));
    let demo = keystone.find(IdentityKind::Project, "demo").await.unwrap();
    let demo_id = demo["id"].as_str().unwrap().to_string();
    let roles = |listed: Value| -> Vec<String> {
        let mut names: Vec<String> = listed["roles"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["name"].as_str().map(str::to_string))
            .collect();
        names.sort();
        names
    };
    let group_roles = format!("/projects/{demo_id}/groups/{}/roles", group.id());
    assert_eq!(
        roles(get(keystone.client(), group_roles.clone()).await),
        ["reader"]
    );
    assert!(group
        .update(json!({"name": format!("ksg2-{tag}"), "domain": format!("ksd-{tag}"), "description": "d",
                       "roles": [{"role": "member", "project": "demo"}]}))
        .await
        .unwrap());
    assert_eq!(group.attr("show").await["name"], format!("ksg2-{tag}"));
    assert_eq!(
        roles(get(keystone.client(), group_roles.clone()).await),
        ["member"]
    );

    // Region: a parent Keystone does not know is refused; description in place; a new id
    // is a replacement.
    let mut orphan = Res::new(
        types,
        "OS::Keystone::Region",
        "orphan",
        json!({"id": format!("ksr-orphan-{tag}"), "parent_region": "no-such-region"}),
    );
    let error = orphan.create().await.unwrap_err().to_string();
    assert!(
        error.starts_with("NotFound: ") && error.contains("no-such-region"),
        "{error}"
    );
    let mut region = Res::new(
        types,
        "OS::Keystone::Region",
        "region",
        json!({"id": format!("ksr {tag}"), "parent_region": "RegionOne", "description": "r1"}),
    );
    region.create().await.unwrap();
    assert_eq!(region.id(), format!("ksr%20{tag}"));
    assert_eq!(region.attr("show").await["parent_region_id"], "RegionOne");
    assert!(region
        .update(json!({"id": format!("ksr {tag}"), "description": "r2"}))
        .await
        .unwrap());
    let shown = keystone
        .find(IdentityKind::Region, &region.id())
        .await
        .unwrap();
    assert_eq!(
        (
            shown["description"].clone(),
            shown["parent_region_id"].clone()
        ),
        (json!("r2"), Value::Null)
    );
    assert!(!region
        .update(json!({"id": format!("ksr2-{tag}"), "description": "r2"}))
        .await
        .unwrap());

    // Service and an endpoint of it in that region.
    let mut service = Res::new(
        types,
        "OS::Keystone::Service",
        "service",
        json!({"name": format!("kss-{tag}"), "type": format!("ember-{tag}")}),
    );
    service.create().await.unwrap();
    assert!(service
        .update(json!({"name": format!("kss-{tag}"), "type": format!("ember2-{tag}"), "description": "s"}))
        .await
        .unwrap());
    assert_eq!(service.attr("show").await["type"], format!("ember2-{tag}"));

    let endpoint_props = |url: &str, interface: &str| json!({"service": format!("kss-{tag}"), "region": region.id(), "interface": interface, "url": url});
    let unknown = Res::new(
        types,
        "OS::Keystone::Endpoint",
        "unknown",
        json!({"service": "no-such-service", "interface": "public", "url": "http://x"}),
    );
    assert_eq!(
        unknown.ty.validate_with_cloud(None, &unknown.cx.properties).await,
        Err((
            "service".to_string(),
            "Error validating value 'no-such-service': The KeystoneService (no-such-service) could not be found.".to_string()
        ))
    );
    let mut bad_url = Res::new(
        types,
        "OS::Keystone::Endpoint",
        "bad_url",
        endpoint_props("not a url", "public"),
    );
    let error = bad_url.create().await.unwrap_err().to_string();
    assert!(error.starts_with("BadRequest: "), "{error}");
    let mut endpoint = Res::new(
        types,
        "OS::Keystone::Endpoint",
        "endpoint",
        endpoint_props("http://127.0.0.1:1/a", "public"),
    );
    endpoint.create().await.unwrap();
    let shown = endpoint.attr("show").await;
    assert_eq!(shown["service_id"], Value::String(service.id()));
    assert_eq!(shown["region_id"], Value::String(region.id()));
    assert!(endpoint
        .update(endpoint_props("http://127.0.0.1:1/b", "internal"))
        .await
        .unwrap());
    let shown = keystone
        .find(IdentityKind::Endpoint, &endpoint.id())
        .await
        .unwrap();
    assert_eq!(
        (shown["url"].clone(), shown["interface"].clone()),
        (json!("http://127.0.0.1:1/b"), json!("internal"))
    );

    // Delete, and again once gone.
    for res in [
        &mut endpoint,
        &mut service,
        &mut region,
        &mut group,
        &mut domain,
    ] {
        res.delete().await.unwrap();
        res.delete().await.unwrap();
    }
    for (kind, id) in [
        (IdentityKind::Endpoint, endpoint.id()),
        (IdentityKind::Service, service.id()),
        (IdentityKind::Region, region.id()),
        (IdentityKind::Group, group.id()),
        (IdentityKind::Domain, domain.id()),
    ] {
        assert!(
            keystone.find(kind, &id).await.unwrap_err().is_not_found(),
            "{kind:?} {id}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cinder_qos_specs_association_encryption_and_quota() {
    let Some(lab) = lab().await else { return };
    let storage = BlockStorage::new(&lab.admin).await.unwrap();
    let keystone = Identity::new(&lab.admin).await.unwrap();
    let tag = suffix();
    let types = &lab.admin_types;
    let mut volume_types = Vec::new();
    for name in ["vt1", "vt2"] {
        let mut vt = Res::new(
            types,
            "OS::Cinder::VolumeType",
            name,
            json!({"name": format!("{name}-{tag}")}),
        );
        vt.create().await.unwrap();
        volume_types.push(vt);
    }

    // QoS specs: keys set and unset in place, a new name replaces, the same name is refused.
    let mut qos = Res::new(
        types,
        "OS::Cinder::QoSSpecs",
        "qos",
        json!({"name": format!("qos-{tag}"), "specs": {"read_iops_sec": 100, "write_iops_sec": "200"}}),
    );
    qos.create().await.unwrap();
    assert_eq!(
        qos.attr("show").await["specs"],
        json!({"read_iops_sec": "100", "write_iops_sec": "200"})
    );
    assert!(qos
        .update(json!({"name": format!("qos-{tag}"), "specs": {"read_iops_sec": "150", "total_bytes_sec": "9"}}))
        .await
        .unwrap());
    let shown = get(storage.client(), format!("/qos-specs/{}", qos.id())).await;
    assert_eq!(
        shown["qos_specs"]["specs"],
        json!({"read_iops_sec": "150", "total_bytes_sec": "9"})
    );
    assert!(!qos
        .update(json!({"name": format!("qos2-{tag}"), "specs": {}}))
        .await
        .unwrap());
    let mut twin = Res::new(
        types,
        "OS::Cinder::QoSSpecs",
        "twin",
        json!({"name": format!("qos-{tag}"), "specs": {"a": "1"}}),
    );
    let error = twin.create().await.unwrap_err().to_string();
    assert!(error.starts_with("Conflict: "), "{error}");

    // Association by names; moved to the other type in place; a type already associated
    // with other specs is refused by Cinder.
    let associations = |id: String| {
        let client = storage.client().clone();
        async move {
            let listed = get(&client, format!("/qos-specs/{id}/associations")).await;
            let mut names: Vec<String> = listed["qos_associations"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a["name"].as_str().map(str::to_string))
                .collect();
            names.sort();
            names
        }
    };
    let mut association = Res::new(
        types,
        "OS::Cinder::QoSAssociation",
        "assoc",
        json!({"qos_specs": format!("qos-{tag}"), "volume_types": [format!("vt1-{tag}")]}),
    );
    association.create().await.unwrap();
    assert_eq!(associations(qos.id()).await, [format!("vt1-{tag}")]);
    assert!(association
        .update(json!({"qos_specs": format!("qos-{tag}"), "volume_types": [format!("vt2-{tag}")]}))
        .await
        .unwrap());
    assert_eq!(associations(qos.id()).await, [format!("vt2-{tag}")]);
    assert!(!association
        .update(json!({"qos_specs": qos.id(), "volume_types": [format!("vt2-{tag}")]}))
        .await
        .unwrap());
    let mut other = Res::new(
        types,
        "OS::Cinder::QoSSpecs",
        "other",
        json!({"name": format!("qos-other-{tag}"), "specs": {"read_iops_sec": "1"}}),
    );
    other.create().await.unwrap();
    let mut taken = Res::new(
        types,
        "OS::Cinder::QoSAssociation",
        "taken",
        json!({"qos_specs": format!("qos-other-{tag}"), "volume_types": [format!("vt2-{tag}")]}),
    );
    let error = taken.create().await.unwrap_err().to_string();
    assert!(error.starts_with("BadRequest: "), "{error}");
    association.delete().await.unwrap();
    assert!(associations(qos.id()).await.is_empty());
    association.delete().await.unwrap();

    // Encryption of a type: key size in place, another type replaces, a second one refused.
    let encrypted_props = |volume_type: String, key_size: u32| json!({"volume_type": volume_type, "provider": "luks", "cipher": "aes-xts-plain64", "key_size": key_size});
    let mut encrypted = Res::new(
        types,
        "OS::Cinder::EncryptedVolumeType",
        "encrypted",
        encrypted_props(format!("vt1-{tag}"), 256),
    );
    encrypted.create().await.unwrap();
    assert_eq!(encrypted.id(), volume_types[0].id());
    assert_eq!(encrypted.attr("show").await["key_size"], 256);
    assert!(encrypted
        .update(encrypted_props(format!("vt1-{tag}"), 512))
        .await
        .unwrap());
    let shown = get(
        storage.client(),
        format!("/types/{}/encryption", encrypted.id()),
    )
    .await;
    assert_eq!(
        (shown["key_size"].clone(), shown["control_location"].clone()),
        (json!(512), json!("front-end"))
    );
    assert!(!encrypted
        .update(encrypted_props(format!("vt2-{tag}"), 512))
        .await
        .unwrap());
    let mut again = Res::new(
        types,
        "OS::Cinder::EncryptedVolumeType",
        "again",
        encrypted_props(format!("vt1-{tag}"), 128),
    );
    let error = again.create().await.unwrap_err().to_string();
    assert!(
        error.starts_with("BadRequest: ") || error.starts_with("Conflict: "),
        "{error}"
    );
    encrypted.delete().await.unwrap();
    let shown = get(
        storage.client(),
        format!("/types/{}/encryption", encrypted.id()),
    )
    .await;
    assert!(shown.get("provider").is_none_or(Value::is_null), "{shown}");
    encrypted.delete().await.unwrap();

    // Quota of a scratch project: in place, refused to a non-admin, reset on delete.
    let project = scratch_project(&keystone, &tag, "cq").await;
    let quota_path = format!("/os-quota-sets/{project}");
    let defaults = get(storage.client(), quota_path.clone()).await;
    let refused = Res::new(
        &lab.types,
        "OS::Cinder::Quota",
        "refused",
        json!({"project": project, "volumes": 3}),
    );
    let mut refused = refused;
    let error = refused.create().await.unwrap_err().to_string();
    assert!(error.starts_with("Forbidden: "), "{error}");
    let mut quota = Res::new(
        types,
        "OS::Cinder::Quota",
        "quota",
        json!({"project": format!("cq-{tag}"), "volumes": 7, "gigabytes": 70}),
    );
    quota.create().await.unwrap();
    let set = get(storage.client(), quota_path.clone()).await;
    assert_eq!(
        (
            set["quota_set"]["volumes"].clone(),
            set["quota_set"]["gigabytes"].clone()
        ),
        (json!(7), json!(70))
    );
    assert!(quota
        .update(json!({"project": format!("cq-{tag}"), "volumes": 8, "snapshots": 2}))
        .await
        .unwrap());
    let set = get(storage.client(), quota_path.clone()).await;
    assert_eq!(
        (
            set["quota_set"]["volumes"].clone(),
            set["quota_set"]["snapshots"].clone()
        ),
        (json!(8), json!(2))
    );
    assert!(!quota
        .update(json!({"project": "demo", "volumes": 8}))
        .await
        .unwrap());
    quota.delete().await.unwrap();
    assert_eq!(get(storage.client(), quota_path.clone()).await, defaults);

    for res in [&mut qos, &mut other] {
        res.delete().await.unwrap();
        res.delete().await.unwrap();
    }
    for vt in &mut volume_types {
        vt.delete().await.unwrap();
    }
    keystone
        .delete(IdentityKind::Project, &project)
        .await
        .unwrap();
    quota.delete().await.unwrap(); // the project is gone: nothing to reset
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nova_host_aggregate_and_quota() {
    let Some(lab) = lab().await else { return };
    let compute = Compute::new(&lab.admin).await.unwrap();
    let keystone = Identity::new(&lab.admin).await.unwrap();
    let tag = suffix();
    let types = &lab.admin_types;
    let host = get(compute.client(), "/os-hypervisors".into()).await["hypervisors"][0]
        ["hypervisor_hostname"]
        .as_str()
        .unwrap()
        .to_string();

    // A host Nova does not know: checked against Nova before anything is made, and refused
    // by Nova after the aggregate exists (which the delete then removes).
    let mut stray = Res::new(
        types,
        "OS::Nova::HostAggregate",
        "stray",
        json!({"name": format!("agg-stray-{tag}"), "hosts": ["no-such-host"]}),
    );
    let (path, message) = stray
        .ty
        .validate_with_cloud(None, &stray.cx.properties)
        .await
        .unwrap_err();
    assert_eq!(path, "hosts.0");
    assert!(message.starts_with("Error validating value 'no-such-host': No hypervisor matching 'no-such-host' could be found."), "{message}");
    let error = stray.create().await.unwrap_err().to_string();
    assert!(error.starts_with("NotFound: "), "{error}");
    stray.delete().await.unwrap();
    let aggregate_gone = |id: String| {
        let client = compute.client().clone();
        async move {
            client
                .get(format!("/os-aggregates/{id}"))
                .send_json()
                .await
                .unwrap_err()
                .is_not_found()
        }
    };
    assert!(aggregate_gone(stray.id()).await);

    // Metadata and hosts follow the properties in place (a host joins, then leaves before the
    // aggregate gets a zone, so the lab's host keeps its zone).
    let mut aggregate = Res::new(
        types,
        "OS::Nova::HostAggregate",
        "aggregate",
        json!({"name": format!("agg-{tag}"), "metadata": {"a": "1", "b": 2}}),
    );
    aggregate.create().await.unwrap();
    assert_eq!(
        aggregate.attr("show").await["metadata"],
        json!({"a": "1", "b": "2"})
    );
    assert!(aggregate
        .update(json!({"name": format!("agg2-{tag}"), "metadata": {"a": "3"}, "hosts": [host]}))
        .await
        .unwrap());
    let shown = aggregate.attr("show").await;
    assert_eq!(
        (
            shown["name"].clone(),
            shown["metadata"].clone(),
            shown["hosts"].clone()
        ),
        (
            json!(format!("agg2-{tag}")),
            json!({"a": "3"}),
            json!([host])
        )
    );
    assert!(aggregate
        .update(json!({"name": format!("agg2-{tag}"), "metadata": {"a": "3"}, "hosts": [], "availability_zone": format!("az-{tag}")}))
        .await
        .unwrap());
    let shown = aggregate.attr("show").await;
    assert_eq!(
        (shown["availability_zone"].clone(), shown["hosts"].clone()),
        (json!(format!("az-{tag}")), json!([]))
    );
    let mut twin = Res::new(
        types,
        "OS::Nova::HostAggregate",
        "twin",
        json!({"name": format!("agg2-{tag}")}),
    );
    let error = twin.create().await.unwrap_err().to_string();
    assert!(error.starts_with("Conflict: "), "{error}");
    aggregate.delete().await.unwrap();
    assert!(aggregate_gone(aggregate.id()).await);
    aggregate.delete().await.unwrap();

    // Quota of a scratch project. At Ember's microversion Nova no longer takes the network
    // limits Heat still lists: its refusal is the reason.
    let project = scratch_project(&keystone, &tag, "nq").await;
    let quota_path = format!("/os-quota-sets/{project}");
    let defaults = get(compute.client(), quota_path.clone()).await;
    let mut refused = Res::new(
        types,
        "OS::Nova::Quota",
        "refused",
        json!({"project": project, "floating_ips": 3}),
    );
    let error = refused.create().await.unwrap_err().to_string();
    assert!(error.starts_with("BadRequest: "), "{error}");
    let mut quota = Res::new(
        types,
        "OS::Nova::Quota",
        "quota",
        json!({"project": project, "cores": 5, "instances": 3}),
    );
    quota.create().await.unwrap();
    assert!(quota
        .update(json!({"project": project, "cores": 5, "instances": 4, "key_pairs": 9}))
        .await
        .unwrap());
    let set = get(compute.client(), quota_path.clone()).await["quota_set"].clone();
    assert_eq!(
        (
            set["cores"].clone(),
            set["instances"].clone(),
            set["key_pairs"].clone()
        ),
        (json!(5), json!(4), json!(9))
    );
    assert!(!quota
        .update(json!({"project": "demo", "cores": 5}))
        .await
        .unwrap());
    quota.delete().await.unwrap();
    assert_eq!(get(compute.client(), quota_path).await, defaults);
    keystone
        .delete(IdentityKind::Project, &project)
        .await
        .unwrap();
    quota.delete().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neutron_address_scope_subnet_pool_rbac_quota_and_extra_routes() {
    let Some(lab) = lab().await else { return };
    let network = Network::new(&lab.admin).await.unwrap();
    let keystone = Identity::new(&lab.admin).await.unwrap();
    let tag = suffix();
    let types = &lab.admin_types;
    // The second octet from the tag, so concurrent runs do not overlap.
    let octet = 100 + u8::from_str_radix(&tag[..2], 16).unwrap() % 100;

    // Address scope: renamed in place, a new IP version replaces, sharing refused to a
    // non-admin by Neutron's policy.
    let mut shared = Res::new(
        &lab.types,
        "OS::Neutron::AddressScope",
        "shared",
        json!({"name": format!("as-shared-{tag}"), "shared": true}),
    );
    let error = shared.create().await.unwrap_err().to_string();
    assert!(error.starts_with("Forbidden: "), "{error}");
    let mut scope = Res::new(
        types,
        "OS::Neutron::AddressScope",
        "scope",
        json!({"name": format!("as-{tag}")}),
    );
    scope.create().await.unwrap();
    assert_eq!(scope.attr("show").await["ip_version"], 4);
    assert!(scope
        .update(json!({"name": format!("as2-{tag}")}))
        .await
        .unwrap());
    assert_eq!(
        network
            .show(NeutronKind::AddressScope, &scope.id())
            .await
            .unwrap()["name"],
        format!("as2-{tag}")
    );
    assert!(!scope
        .update(json!({"name": format!("as2-{tag}"), "ip_version": 6}))
        .await
        .unwrap());

    // Subnet pool in the scope (by name): prefixes grow and tags change in place, a shrink is
    // Heat's refusal, an overlapping pool in the same scope Neutron's conflict.
    let pool_props = |prefixes: Value, tags: Value| {
        json!({"name": format!("sp-{tag}"), "prefixes": prefixes, "address_scope": format!("as2-{tag}"),
               "default_prefixlen": 26, "tags": tags})
    };
    let mut pool = Res::new(
        types,
        "OS::Neutron::SubnetPool",
        "pool",
        pool_props(json!([format!("10.{octet}.0.0/24")]), json!(["a"])),
    );
    pool.create().await.unwrap();
    let shown = pool.attr("show").await;
    assert_eq!(
        (shown["address_scope_id"].clone(), shown["tags"].clone()),
        (Value::String(scope.id()), json!(["a"]))
    );
    assert!(pool
        .update(pool_props(
            json!([format!("10.{octet}.0.0/23")]),
            json!(["b"])
        ))
        .await
        .unwrap());
    let shown = network
        .show(NeutronKind::SubnetPool, &pool.id())
        .await
        .unwrap();
    assert_eq!(
        (shown["prefixes"].clone(), shown["tags"].clone()),
        (json!([format!("10.{octet}.0.0/23")]), json!(["b"]))
    );
    let error = pool
        .update(pool_props(
            json!([format!("10.{octet}.1.0/24")]),
            json!(["b"]),
        ))
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(error, format!("StackValidationFailed: Property prefixes updated value ['10.{octet}.1.0/24'] should be superset of existing value ['10.{octet}.0.0/23']."));
    let mut overlapping = Res::new(
        types,
        "OS::Neutron::SubnetPool",
        "overlapping",
        json!({"prefixes": [format!("10.{octet}.0.0/16")], "address_scope": scope.id()}),
    );
    let error = overlapping.create().await.unwrap_err().to_string();
    assert!(error.starts_with("Conflict: "), "{error}");

    // RBAC: the pool cannot be shared with a project that cannot use its scope (Neutron's
    // refusal); the scope (by name) is shared with one project, then moved to another in place;
    // the same policy twice is Neutron's conflict.
    let first = scratch_project(&keystone, &tag, "rbac1").await;
    let second = scratch_project(&keystone, &tag, "rbac2").await;
    let rbac_props = |object_type: &str, object: String, target: &str| {
        json!({"object_type": object_type, "object_id": object,
               "action": "access_as_shared", "target_tenant": target})
    };
    let mut pool_rbac = Res::new(
        types,
        "OS::Neutron::RBACPolicy",
        "pool_rbac",
        rbac_props("subnetpool", format!("sp-{tag}"), &first),
    );
    let error = pool_rbac.create().await.unwrap_err().to_string();
    assert!(
        error.starts_with("BadRequest: ") && error.contains("address scope"),
        "{error}"
    );
    let scope_rbac = |target: &str| rbac_props("address_scope", format!("as2-{tag}"), target);
    let mut rbac = Res::new(types, "OS::Neutron::RBACPolicy", "rbac", scope_rbac(&first));
    rbac.create().await.unwrap();
    assert_eq!(
        rbac.attr("show").await["object_id"],
        Value::String(scope.id())
    );
    let mut twice = Res::new(
        types,
        "OS::Neutron::RBACPolicy",
        "twice",
        scope_rbac(&first),
    );
    let error = twice.create().await.unwrap_err().to_string();
    assert!(error.starts_with("Conflict: "), "{error}");
    assert!(rbac.update(scope_rbac(&second)).await.unwrap());
    assert_eq!(
        network
            .show(NeutronKind::RbacPolicy, &rbac.id())
            .await
            .unwrap()["target_tenant"],
        Value::String(second.clone())
    );
    assert!(!rbac
        .update(rbac_props("subnetpool", format!("sp-{tag}"), &second))
        .await
        .unwrap());
    let mut external = scope_rbac(&second);
    external["action"] = json!("access_as_external");
    assert_eq!(
        Res::try_new(types, "OS::Neutron::RBACPolicy", "external", external).err(),
        Some("Invalid action \"access_as_external\" for object type address_scope. Valid actions: access_as_shared".to_string())
    );
    rbac.delete().await.unwrap();
    rbac.delete().await.unwrap();

    // Neutron quota of a scratch project: in place, refused to a non-admin, reset on delete.
    let quota_path = format!("/quotas/{first}");
    let defaults = get(network.client(), quota_path.clone()).await;
    let mut refused = Res::new(
        &lab.types,
        "OS::Neutron::Quota",
        "refused",
        json!({"project": first, "network": 3}),
    );
    let error = refused.create().await.unwrap_err().to_string();
    assert!(
        error.starts_with("Forbidden: ") || error.starts_with("NotFound: "),
        "{error}"
    );
    let mut quota = Res::new(
        types,
        "OS::Neutron::Quota",
        "quota",
        json!({"project": first, "network": 7, "port": 20}),
    );
    quota.create().await.unwrap();
    assert!(quota
        .update(json!({"project": first, "network": 8, "router": 2}))
        .await
        .unwrap());
    let set = get(network.client(), quota_path.clone()).await["quota"].clone();
    assert_eq!(
        (
            set["network"].clone(),
            set["port"].clone(),
            set["router"].clone()
        ),
        (json!(8), json!(20), json!(2))
    );
    quota.delete().await.unwrap();
    assert_eq!(get(network.client(), quota_path).await, defaults);
    quota.delete().await.unwrap();

    // Extra routes on a router with an interface on a subnet: routes added and removed in
    // place (others of the router kept), a route already there is Heat's refusal, a next hop
    // off the router's subnets Neutron's.
    let mut net = Res::new(types, "OS::Neutron::Net", "net", json!({}));
    net.create().await.unwrap();
    let mut subnet = Res::new(
        types,
        "OS::Neutron::Subnet",
        "subnet",
        json!({"network": net.id(), "cidr": format!("10.{octet}.8.0/24")}),
    );
    subnet.create().await.unwrap();
    let mut router = Res::new(types, "OS::Neutron::Router", "router", json!({}));
    router.create().await.unwrap();
    let mut interface = Res::new(
        types,
        "OS::Neutron::RouterInterface",
        "interface",
        json!({"router": router.id(), "subnet": subnet.id()}),
    );
    interface.create().await.unwrap();
    let route = |dest: u8, hop: u8| json!({"destination": format!("10.{octet}.{dest}.0/24"), "nexthop": format!("10.{octet}.8.{hop}")});
    let routes_now = || async {
        let mut routes = network
            .show(NeutronKind::Router, &router.id())
            .await
            .unwrap()["routes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        routes.sort_by_key(|r| r["destination"].as_str().unwrap_or_default().to_string());
        routes
    };
    let mut offlink = Res::new(
        types,
        "OS::Neutron::ExtraRouteSet",
        "offlink",
        json!({"router": router.id(), "routes": [{"destination": "10.250.0.0/24", "nexthop": "192.0.2.1"}]}),
    );
    let error = offlink.create().await.unwrap_err().to_string();
    assert!(error.starts_with("BadRequest: "), "{error}");
    let mut routes = Res::new(
        types,
        "OS::Neutron::ExtraRouteSet",
        "routes",
        json!({"router": router.id(), "routes": [route(20, 10), route(21, 11)]}),
    );
    routes.create().await.unwrap();
    assert_eq!(routes.id(), router.id());
    let mut elsewhere = Res::new(
        types,
        "OS::Neutron::ExtraRouteSet",
        "elsewhere",
        json!({"router": router.id(), "routes": [route(30, 12)]}),
    );
    elsewhere.create().await.unwrap();
    assert_eq!(
        routes_now().await,
        [route(20, 10), route(21, 11), route(30, 12)]
    );
    assert!(routes
        .update(json!({"router": router.id(), "routes": [route(21, 11), route(22, 13)]}))
        .await
        .unwrap());
    assert_eq!(
        routes_now().await,
        [route(21, 11), route(22, 13), route(30, 12)]
    );
    let mut duplicate = Res::new(
        types,
        "OS::Neutron::ExtraRouteSet",
        "duplicate",
        json!({"router": router.id(), "routes": [route(30, 12)]}),
    );
    let error = duplicate.create().await.unwrap_err().to_string();
    assert_eq!(
        error,
        format!("PhysicalResourceExists: The physical resource for ({},10.{octet}.30.0/24=10.{octet}.8.12) exists.", router.id())
    );
    routes.delete().await.unwrap();
    assert_eq!(routes_now().await, [route(30, 12)]);
    elsewhere.delete().await.unwrap();
    assert!(routes_now().await.is_empty());

    for res in [
        &mut interface,
        &mut router,
        &mut subnet,
        &mut net,
        &mut pool,
        &mut scope,
    ] {
        res.delete().await.unwrap();
        res.delete().await.unwrap();
    }
    routes.delete().await.unwrap(); // the router is gone: so are its routes
    assert!(network
        .show(NeutronKind::AddressScope, &scope.id())
        .await
        .unwrap_err()
        .is_not_found());
    for project in [first, second] {
        keystone
            .delete(IdentityKind::Project, &project)
            .await
            .unwrap();
    }
}

/// Heat's implicit dependency of an extra route set: the interfaces of its router (no cloud).
#[test]
fn extra_route_set_waits_for_its_routers_interfaces() {
    let template = r#"
heat_template_version: 2018-08-31
resources:
  router: {type: OS::Neutron::Router}
  other_router: {type: OS::Neutron::Router}
  interface: {type: OS::Neutron::RouterInterface, properties: {router: {get_resource: router}, subnet: s1}}
  old_style: {type: OS::Neutron::RouterInterface, properties: {router_id: {get_resource: router}, subnet: s2}}
  elsewhere: {type: OS::Neutron::RouterInterface, properties: {router: {get_resource: other_router}, subnet: s3}}
  routes: {type: OS::Neutron::ExtraRouteSet, properties: {router: {get_resource: router}, routes: []}}
"#;
    let defn = compiled(Value::String(template.into()));
    let registry = ember_resources::registry();
    let ty = registry.get("OS::Neutron::ExtraRouteSet").unwrap();
    let mut found = ty.implicit_dependencies("routes", &defn);
    found.sort();
    assert_eq!(found, ["interface", "old_style"]);
}

/// Heat's own checks before anything is made (no cloud): a quota needs a limit, a subnet
/// pool's prefix lengths must be ordered.
#[test]
fn quotas_and_subnet_pools_are_checked_as_heat_checks_them() {
    let registry = ember_resources::registry();
    for (type_name, limits) in [
        (
            "OS::Cinder::Quota",
            "gigabytes, snapshots, volumes, backups, backup_gigabytes",
        ),
        (
            "OS::Neutron::Quota",
            "floatingip, network, port, rbac_policy, router, security_group, security_group_rule, subnet, subnetpool",
        ),
    ] {
        let error = Res::try_new(&registry, type_name, "q", json!({"project": "p"})).err();
        assert_eq!(
            error,
            Some(format!(
                "At least one of the following properties must be specified: {limits}."
            )),
            "{type_name}"
        );
    }
    let error = Res::try_new(
        &registry,
        "OS::Nova::Quota",
        "q",
        json!({"project": "p", "cores": -2}),
    )
    .err()
    .unwrap_or_default();
    assert!(error.contains("cores"), "{error}");
    assert_eq!(
        Res::try_new(
            &registry,
            "OS::Neutron::SubnetPool",
            "pool",
            json!({"prefixes": ["10.0.0.0/8"], "min_prefixlen": 28, "max_prefixlen": 24}),
        )
        .err(),
        Some("Illegal prefix bounds: max_prefixlen=24, min_prefixlen=28.".to_string())
    );
}

/// The new custom constraints, checked against the lab before anything is made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_constraints_name_what_is_missing() {
    let Some(lab) = lab().await else { return };
    for (type_name, props, path, message) in [
        (
            "OS::Keystone::Region",
            json!({"parent_region": "no-such"}),
            "parent_region",
            "The KeystoneRegion (no-such) could not be found.",
        ),
        (
            "OS::Neutron::SubnetPool",
            json!({"prefixes": ["10.0.0.0/8"], "address_scope": "no-such"}),
            "address_scope",
            "Unable to find address_scope with name or id 'no-such'",
        ),
        (
            "OS::Cinder::QoSAssociation",
            json!({"qos_specs": "no-such", "volume_types": []}),
            "qos_specs",
            "The QoSSpecs (no-such) could not be found.",
        ),
    ] {
        let res = Res::new(&lab.admin_types, type_name, "r", props);
        assert_eq!(
            res.ty.validate_with_cloud(None, &res.cx.properties).await,
            Err((
                path.to_string(),
                format!("Error validating value 'no-such': {message}")
            )),
            "{type_name}"
        );
    }
}

/// Through the engine: a stack of a domain and a group in it (by the domain's id), whose
/// second domain of the same name Keystone refuses: the refusal is that resource's reason and
/// the stack's; the stack delete removes the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keystones_refusal_is_the_resources_reason_in_a_stack() {
    let Some(lab) = lab().await else { return };
    let keystone = Identity::new(&lab.admin).await.unwrap();
    let svc = lab_service(&lab.admin);
    let tag = suffix();
    let template = json!({
        "heat_template_version": "2018-08-31",
        "resources": {
            "domain": {"type": "OS::Keystone::Domain", "properties": {"name": format!("ksd-stack-{tag}")}},
            "group": {"type": "OS::Keystone::Group", "properties": {
                "domain": {"get_resource": "domain"}, "roles": [{"role": "reader", "domain": {"get_resource": "domain"}}]}},
            "twin": {"type": "OS::Keystone::Domain", "depends_on": ["group"],
                     "properties": {"name": format!("ksd-stack-{tag}")}}
        }
    });
    let id = start_create(&svc, json_request(&format!("ks-{tag}"), template)).await;
    let stack = wait(&svc, &id).await;
    assert_eq!(status(&stack), "CREATE_FAILED");
    let listed = resources(&svc, &id).await;
    let why = listed["twin"]["resource_status_reason"]
        .as_str()
        .unwrap_or_default();
    assert!(why.starts_with("Conflict: resources.twin: "), "{why}");
    assert!(
        reason(&stack).contains("resources.twin"),
        "{}",
        reason(&stack)
    );
    let domain = listed["domain"]["physical_resource_id"]
        .as_str()
        .unwrap()
        .to_string();
    let group = listed["group"]["physical_resource_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        keystone.find(IdentityKind::Group, &group).await.unwrap()["domain_id"],
        Value::String(domain.clone())
    );
    svc.delete_stack(&common::cx(), &id)
        .await
        .expect("delete accepted");
    let stack = wait(&svc, &id).await;
    assert_eq!(status(&stack), "DELETE_COMPLETE", "{}", reason(&stack));
    for (kind, id) in [(IdentityKind::Group, group), (IdentityKind::Domain, domain)] {
        assert!(keystone.find(kind, &id).await.unwrap_err().is_not_found());
    }
}
