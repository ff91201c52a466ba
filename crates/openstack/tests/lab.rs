//! Against the real services of ../shared/openstack-lab. Credentials: the `OS_*` variables
//! (`. env.sh demo`) or, without them, the lab's own clouds.yaml (`lab-demo`); admin steps use its
//! `lab-admin`. When the lab is unreachable the tests say so and pass, unless
//! `EMBER_REQUIRE_LAB=1` (CI), where they fail.

use std::time::Duration;

use ember_openstack::services::block_storage::BlockStorage;
use ember_openstack::services::compute::Compute;
use ember_openstack::services::identity::{Identity, IdentityKind};
use ember_openstack::services::image::Image;
use ember_openstack::services::network::{Network, NeutronKind};
use ember_openstack::{Credentials, Error, NameOrId, PollPolicy, Scope, ServiceType, Session};
use serde_json::json;

/// The demo user's session (from OS_* when set) and the lab admin's, or `None` (test skipped)
/// when no lab answers and the lab is not required.
async fn lab() -> Option<(Session, Session)> {
    ember_lab::demo_and_admin(ember_lab::demo_cloud()).await
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

fn quick_poll() -> PollPolicy {
    PollPolicy::default().with_deadline(Duration::from_secs(180))
}

#[tokio::test]
async fn auth_catalog_and_a_list_call_per_service() {
    let Some((demo, _)) = lab().await else { return };
    let token = demo.token().await.unwrap();
    assert!(token.project_id.is_some());
    assert!(
        token.roles.iter().any(|r| r == "member"),
        "{:?}",
        token.roles
    );
    let before = demo.call_counts();
    let calls = [
        (ServiceType::Compute, "/flavors", "flavors"),
        (ServiceType::Network, "/networks", "networks"),
        (ServiceType::BlockStorage, "/volumes", "volumes"),
        (ServiceType::Image, "/images", "images"),
        (ServiceType::Identity, "/auth/projects", "projects"),
    ];
    for (service, path, key) in calls {
        let client = demo.service(service).await.unwrap();
        let listed = client.get(path).send_json().await.unwrap();
        assert!(listed[key].is_array(), "{service}: {listed}");
    }
    let after = demo.call_counts();
    for (service, _, _) in calls {
        assert_eq!(
            after.get(&service).copied().unwrap_or(0) - before.get(&service).copied().unwrap_or(0),
            1,
            "{service}"
        );
    }
    // The lab's flavor and image are found by name, and a missing one is named.
    let compute = Compute::new(&demo).await.unwrap();
    assert_eq!(compute.find_flavor("m1.small").await.unwrap()["ram"], 2048);
    let missing = compute.find_flavor("m9.nothing").await.unwrap_err();
    assert_eq!(
        missing.to_string(),
        "The Flavor (m9.nothing) could not be found."
    );
    let image = Image::new(&demo).await.unwrap();
    assert_eq!(image.find("cirros").await.unwrap()["name"], "cirros");
}

#[tokio::test]
async fn a_revoked_token_is_replaced_transparently() {
    let Some((demo, admin)) = lab().await else {
        return;
    };
    let old = demo.token().await.unwrap();
    let identity = admin.service(ServiceType::Identity).await.unwrap();
    identity
        .delete("/auth/tokens")
        .header("X-Subject-Token", old.secret())
        .send()
        .await
        .unwrap();
    let network = demo.service(ServiceType::Network).await.unwrap();
    network.get("/networks").send_json().await.unwrap();
    assert_ne!(demo.token().await.unwrap().secret(), old.secret());
}

#[tokio::test]
async fn a_trust_gives_the_trustee_a_token_acting_for_the_trustor() {
    let Some((demo, admin)) = lab().await else {
        return;
    };
    let demo_token = demo.token().await.unwrap();
    let heat = Identity::new(&admin)
        .await
        .unwrap()
        .find(IdentityKind::User, "heat")
        .await
        .unwrap();
    let heat_id = heat["id"].as_str().unwrap();
    let identity = Identity::new(&demo).await.unwrap();
    let trust = identity
        .create_trust(
            &demo_token.user_id,
            heat_id,
            demo_token.project_id.as_deref().unwrap(),
            &["member"],
        )
        .await
        .unwrap();
    let trust_id = trust["id"].as_str().unwrap().to_string();
    let trustee = demo.config().with_credentials(
        Credentials::Password {
            user: NameOrId::Id(heat_id.to_string()),
            password: "service".into(),
        },
        Scope::Trust(trust_id.clone()),
    );
    let acting = Session::connect(trustee).await.unwrap();
    let token = acting.token().await.unwrap();
    assert_eq!(token.trust_id.as_deref(), Some(trust_id.as_str()));
    assert_eq!(token.user_id, demo_token.user_id, "impersonation");
    assert_eq!(token.project_id, demo_token.project_id);
    Network::new(&acting)
        .await
        .unwrap()
        .find(NeutronKind::Network, "private-net")
        .await
        .unwrap();
    identity.delete_trust(&trust_id).await.unwrap();
    identity.delete_trust(&trust_id).await.unwrap();
}

#[tokio::test]
async fn service_errors_keep_the_service_message() {
    let Some((demo, _)) = lab().await else { return };
    let network = Network::new(&demo).await.unwrap();
    let error = network
        .show(NeutronKind::Network, "00000000-0000-0000-0000-000000000000")
        .await
        .unwrap_err();
    assert!(error.is_not_found());
    assert!(
        error
            .to_string()
            .starts_with("Network 00000000-0000-0000-0000-000000000000 could not be found."),
        "{error}"
    );
    let error = network
        .create(
            NeutronKind::Subnet,
            json!({"network_id": "nope", "cidr": "10.9.0.0/24", "ip_version": 4}),
        )
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(400), "{error}");
    assert!(
        error
            .to_string()
            .starts_with("Invalid input for network_id. Reason: 'nope' is not a valid UUID."),
        "{error}"
    );
    let error = network
        .create(NeutronKind::Network, json!({"bogus_field": 1}))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(400));
    assert!(error.to_string().contains("bogus_field"), "{error}");
    let compute = Compute::new(&demo).await.unwrap();
    let error = compute
        .server("00000000-0000-0000-0000-000000000000")
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("Instance 00000000-0000-0000-0000-000000000000 could not be found."),
        "{error}"
    );
}

/// Net, subnet, router with gateway and interface, security group and rule, port, floating IP
/// associated to the port; then everything deleted in reverse, and deleted again (already gone).
#[tokio::test]
async fn neutron_objects_round_trip() {
    let Some((demo, _)) = lab().await else { return };
    let network = Network::new(&demo).await.unwrap();
    let name = unique("ost-net");
    let public = network.find(NeutronKind::Network, "public").await.unwrap();
    let net = network
        .create(NeutronKind::Network, json!({"name": name}))
        .await
        .unwrap();
    let net_id = net["id"].as_str().unwrap();
    let subnet = network
        .create(
            NeutronKind::Subnet,
            json!({"network_id": net_id, "cidr": "10.77.1.0/24", "ip_version": 4, "name": name}),
        )
        .await
        .unwrap();
    let subnet_id = subnet["id"].as_str().unwrap();
    let router = network
        .create(
            NeutronKind::Router,
            json!({"name": name, "external_gateway_info": {"network_id": public["id"]}}),
        )
        .await
        .unwrap();
    let router_id = router["id"].as_str().unwrap();
    network
        .add_router_interface(router_id, json!({"subnet_id": subnet_id}))
        .await
        .unwrap();
    let group = network
        .create(
            NeutronKind::SecurityGroup,
            json!({"name": name, "description": "web"}),
        )
        .await
        .unwrap();
    let group_id = group["id"].as_str().unwrap();
    network
        .create(NeutronKind::SecurityGroupRule, json!({"security_group_id": group_id, "direction": "ingress", "protocol": "tcp", "port_range_min": 80, "port_range_max": 80, "remote_ip_prefix": "0.0.0.0/0", "ethertype": "IPv4"}))
        .await
        .unwrap();
    let updated = network
        .update(
            NeutronKind::SecurityGroup,
            group_id,
            json!({"description": "web servers"}),
        )
        .await
        .unwrap();
    assert_eq!(updated["description"], "web servers");
    let port = network
        .create(
            NeutronKind::Port,
            json!({"network_id": net_id, "security_groups": [group_id], "name": name}),
        )
        .await
        .unwrap();
    let port_id = port["id"].as_str().unwrap();
    assert!(port["fixed_ips"][0]["ip_address"]
        .as_str()
        .unwrap()
        .starts_with("10.77.1."));
    let fip = network
        .create(
            NeutronKind::FloatingIp,
            json!({"floating_network_id": public["id"]}),
        )
        .await
        .unwrap();
    let fip_id = fip["id"].as_str().unwrap();
    let associated = network
        .update(NeutronKind::FloatingIp, fip_id, json!({"port_id": port_id}))
        .await
        .unwrap();
    assert_eq!(associated["port_id"], port_id);
    assert_eq!(associated["router_id"], router_id);
    // Deleting a network with ports is refused (409) with Neutron's reason, after the retries.
    let in_use = network
        .delete(NeutronKind::Network, net_id)
        .await
        .unwrap_err();
    assert!(in_use.is_conflict(), "{in_use}");
    assert!(in_use.to_string().contains("in use"), "{in_use}");

    network
        .delete(NeutronKind::FloatingIp, fip_id)
        .await
        .unwrap();
    network.delete(NeutronKind::Port, port_id).await.unwrap();
    network
        .delete(NeutronKind::SecurityGroup, group_id)
        .await
        .unwrap();
    network
        .remove_router_interface(router_id, json!({"subnet_id": subnet_id}))
        .await
        .unwrap();
    network
        .remove_router_interface(router_id, json!({"subnet_id": subnet_id}))
        .await
        .unwrap();
    network
        .delete(NeutronKind::Router, router_id)
        .await
        .unwrap();
    network
        .delete(NeutronKind::Subnet, subnet_id)
        .await
        .unwrap();
    network.delete(NeutronKind::Network, net_id).await.unwrap();
    for (kind, id) in [
        (NeutronKind::FloatingIp, fip_id),
        (NeutronKind::Router, router_id),
        (NeutronKind::Network, net_id),
    ] {
        network.delete(kind, id).await.unwrap();
        assert!(network.show(kind, id).await.unwrap_err().is_not_found());
    }
}

/// A server boots, resizes (confirmed), has a refused resize reported with Nova's reason instead
/// of a hang, gets a volume attached, and is deleted (twice).
#[tokio::test]
async fn server_resize_refusal_and_delete() {
    let Some((demo, admin)) = lab().await else {
        return;
    };
    let compute = Compute::new(&demo).await.unwrap();
    let admin_compute = Compute::new(&admin).await.unwrap();
    let name = unique("ost-srv");
    // A bigger disk than the one fake host can give one server (placement max_unit 600000 GB),
    // and no quota on disk: Nova accepts the resize call and its scheduler refuses it afterwards.
    let huge = admin_compute
        .create_flavor(
            json!({"name": name, "vcpus": 1, "ram": 512, "disk": 700000}),
            None,
        )
        .await
        .unwrap();
    let huge_id = huge["id"].as_str().unwrap().to_string();
    let keypair = compute.create_keypair(json!({"name": name})).await.unwrap();
    assert!(keypair["private_key"]
        .as_str()
        .unwrap()
        .contains("PRIVATE KEY"));
    let network = Network::new(&demo).await.unwrap();
    let private = network
        .find(NeutronKind::Network, "private-net")
        .await
        .unwrap();
    let cirros = Image::new(&demo)
        .await
        .unwrap()
        .find("cirros")
        .await
        .unwrap();
    let tiny = compute.find_flavor("m1.tiny").await.unwrap();
    let small = compute.find_flavor("m1.small").await.unwrap();
    let id = compute
        .create_server(json!({
            "name": name, "imageRef": cirros["id"], "flavorRef": tiny["id"], "key_name": name,
            "networks": [{"uuid": private["id"]}], "metadata": {"role": "test"},
            "user_data": "IyEvYmluL3NoCmVjaG8gaGkK"}))
        .await
        .unwrap();
    let server = compute.wait_active(&id, &quick_poll()).await.unwrap();
    assert!(server["addresses"]["private-net"][0]["addr"]
        .as_str()
        .unwrap()
        .starts_with("10."));
    assert_eq!(server["flavor"]["original_name"], "m1.tiny");

    let resized = compute.resize(&id, &small, &quick_poll()).await.unwrap();
    assert_eq!(resized["status"], "ACTIVE");
    assert_eq!(resized["flavor"]["original_name"], "m1.small");

    let started = std::time::Instant::now();
    let refused = compute.resize(&id, &huge, &quick_poll()).await.unwrap_err();
    assert!(matches!(refused, Error::Failed { .. }), "{refused}");
    assert!(
        refused
            .to_string()
            .contains("Nova refused the request: cold_migrate failed"),
        "{refused}"
    );
    // Nova shows the reason itself to admins only.
    let refused = admin_compute
        .resize(&id, &huge, &quick_poll())
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("No valid host was found"),
        "{refused}"
    );
    assert!(started.elapsed() < Duration::from_secs(120));
    assert_eq!(
        compute.server(&id).await.unwrap()["flavor"]["original_name"],
        "m1.small"
    );

    let storage = BlockStorage::new(&demo).await.unwrap();
    let volume = storage
        .create_volume(json!({"size": 1, "name": name}))
        .await
        .unwrap();
    let volume_id = volume["id"].as_str().unwrap().to_string();
    storage
        .wait_status(&volume_id, &["available"], &quick_poll())
        .await
        .unwrap();
    compute.attach_volume(&id, &volume_id, None).await.unwrap();
    storage
        .wait_status(&volume_id, &["in-use"], &quick_poll())
        .await
        .unwrap();
    compute.detach_volume(&id, &volume_id).await.unwrap();
    storage
        .wait_status(&volume_id, &["available"], &quick_poll())
        .await
        .unwrap();
    storage
        .delete_volume(&volume_id, &quick_poll())
        .await
        .unwrap();

    compute.delete_server(&id, &quick_poll()).await.unwrap();
    compute.delete_server(&id, &quick_poll()).await.unwrap();
    compute.delete_keypair(&name).await.unwrap();
    compute.delete_keypair(&name).await.unwrap();
    admin_compute.delete_flavor(&huge_id).await.unwrap();
    assert!(compute.server(&id).await.unwrap_err().is_not_found());
}

/// A volume is created, extended, and one the scheduler cannot place fails with Cinder's own
/// user message.
#[tokio::test]
async fn volume_extend_and_scheduler_failure() {
    let Some((demo, admin)) = lab().await else {
        return;
    };
    let storage = BlockStorage::new(&demo).await.unwrap();
    let name = unique("ost-vol");
    let volume = storage
        .create_volume(json!({"size": 1, "name": name}))
        .await
        .unwrap();
    let id = volume["id"].as_str().unwrap().to_string();
    storage
        .wait_status(&id, &["available"], &quick_poll())
        .await
        .unwrap();
    let extended = storage.extend(&id, 2, &quick_poll()).await.unwrap();
    assert_eq!(extended["size"], 2);
    storage.delete_volume(&id, &quick_poll()).await.unwrap();
    storage.delete_volume(&id, &quick_poll()).await.unwrap();

    let admin_storage = BlockStorage::new(&admin).await.unwrap();
    let nowhere = admin_storage
        .create_volume_type(
            json!({"name": name, "extra_specs": {"volume_backend_name": "nowhere"}}),
        )
        .await
        .unwrap();
    let type_id = nowhere["id"].as_str().unwrap().to_string();
    assert_eq!(
        storage.find_volume_type(&name).await.unwrap()["id"],
        type_id.as_str()
    );
    let doomed = storage
        .create_volume(json!({"size": 1, "name": name, "volume_type": name}))
        .await
        .unwrap();
    let doomed_id = doomed["id"].as_str().unwrap().to_string();
    let error = storage
        .wait_status(&doomed_id, &["available"], &quick_poll())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Failed { status, .. } if status == "error"),
        "{error}"
    );
    assert!(
        error.to_string().contains("No valid backend")
            || error.to_string().contains("available weighted backend"),
        "{error}"
    );
    storage
        .delete_volume(&doomed_id, &quick_poll())
        .await
        .unwrap();
    admin_storage.delete_volume_type(&type_id).await.unwrap();
    let missing = storage.find_volume_type("no-such-type").await.unwrap_err();
    assert_eq!(
        missing.to_string(),
        "The VolumeType (no-such-type) could not be found."
    );
}

#[tokio::test]
async fn image_upload_and_delete() {
    let Some((demo, _)) = lab().await else { return };
    let images = Image::new(&demo).await.unwrap();
    let name = unique("ost-img");
    let image = images
        .create(json!({"name": name, "disk_format": "raw", "container_format": "bare", "visibility": "private"}))
        .await
        .unwrap();
    let id = image["id"].as_str().unwrap().to_string();
    let active = images
        .upload(&id, vec![7u8; 4096], &quick_poll())
        .await
        .unwrap();
    assert_eq!(active["size"], 4096);
    assert_eq!(images.find(&name).await.unwrap()["id"], id.as_str());
    images.delete(&id).await.unwrap();
    images.delete(&id).await.unwrap();
    assert!(images.find(&id).await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn identity_objects_round_trip() {
    let Some((_, admin)) = lab().await else {
        return;
    };
    let identity = Identity::new(&admin).await.unwrap();
    let name = unique("ost-id");
    let project = identity
        .create(
            IdentityKind::Project,
            json!({"name": name, "domain_id": "default"}),
        )
        .await
        .unwrap();
    let project_id = project["id"].as_str().unwrap().to_string();
    let user = identity
        .create(
            IdentityKind::User,
            json!({"name": name, "password": "pw", "default_project_id": project_id}),
        )
        .await
        .unwrap();
    let user_id = user["id"].as_str().unwrap().to_string();
    let role = identity
        .create(IdentityKind::Role, json!({"name": name}))
        .await
        .unwrap();
    let role_id = role["id"].as_str().unwrap().to_string();
    let target = format!("/projects/{project_id}");
    let actor = format!("/users/{user_id}");
    identity.grant(&target, &actor, &role_id).await.unwrap();
    // The new user can now get a token scoped to the new project.
    let config = ember_lab::cloud("lab-admin").unwrap().with_credentials(
        Credentials::Password {
            user: NameOrId::Id(user_id.clone()),
            password: "pw".into(),
        },
        Scope::Project(NameOrId::Id(project_id.clone())),
    );
    let token = Session::connect(config)
        .await
        .unwrap()
        .token()
        .await
        .unwrap();
    assert_eq!(token.roles, vec![name.clone()]);
    let renamed = identity
        .update(
            IdentityKind::Project,
            &project_id,
            json!({"description": "changed"}),
        )
        .await
        .unwrap();
    assert_eq!(renamed["description"], "changed");
    identity.revoke(&target, &actor, &role_id).await.unwrap();
    identity.revoke(&target, &actor, &role_id).await.unwrap();
    for (kind, id) in [
        (IdentityKind::Role, &role_id),
        (IdentityKind::User, &user_id),
        (IdentityKind::Project, &project_id),
    ] {
        identity.delete(kind, id).await.unwrap();
        identity.delete(kind, id).await.unwrap();
    }
    let missing = identity
        .find(IdentityKind::Project, &name)
        .await
        .unwrap_err();
    assert!(missing.is_not_found(), "{missing}");
}
