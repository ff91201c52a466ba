//! The AWS::EC2 VPC types and the Neutron types' `tags` against ../shared/openstack-lab: a VPC
//! stack run by the engine (create, updates in place and by replacement, a delete that finds
//! things already gone, a Neutron refusal as the resource's reason, nothing left behind), and
//! tags set and changed in place. Without a lab the tests say so and pass, unless
//! `EMBER_REQUIRE_LAB=1`.

mod common;
mod lab_types;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::{compiled, cx, json_request, lab_service, reason, resources, start_create, status};
use ember_engine::{Service, StackRequest};
use ember_lab::holdings;
use ember_openstack::services::compute::Compute;
use ember_openstack::services::network::{Network, NeutronKind};
use ember_openstack::Session;
use lab_types::{lab, suffix, Res};
use serde_json::{json, Value};

/// Stacks with servers and router interfaces take longer than the shared helper waits.
async fn finished(svc: &Service, id: &str) -> Value {
    tokio::time::timeout(Duration::from_secs(300), svc.wait(&cx(), id))
        .await
        .expect("action finished in time")
        .expect("stack readable")
}

/// Updates the stack `id` to `template`; the stack once the update has finished.
async fn update(svc: &Service, id: &str, template: Value) -> Value {
    let request = StackRequest {
        template: Some(template),
        ..StackRequest::default()
    };
    svc.update_stack(&cx(), id, request)
        .await
        .expect("update accepted");
    finished(svc, id).await
}

/// Asserts that nothing in `after` that was not in `before` is the stack's: named after it,
/// one of `ours`, or a port of one of `ours` (router interfaces, a server's port). Other users
/// of the lab may create things meanwhile; those are only counted.
fn nothing_left(
    before: &BTreeMap<&'static str, Vec<Value>>,
    after: &BTreeMap<&'static str, Vec<Value>>,
    stack_name: &str,
    ours: &BTreeSet<String>,
) {
    for (service, items) in after {
        let id = |item: &Value| item["id"].as_str().unwrap_or_default().to_string();
        let known: BTreeSet<String> = before[service].iter().map(id).collect();
        let new: Vec<&Value> = items.iter().filter(|i| !known.contains(&id(i))).collect();
        let leaked: Vec<&&Value> = new
            .iter()
            .filter(|i| {
                let text = |k: &str| i[k].as_str().unwrap_or_default().to_string();
                text("name").contains(stack_name)
                    || ours.contains(&text("id"))
                    || ours.contains(&text("device_id"))
            })
            .collect();
        assert!(leaked.is_empty(), "{service} left behind: {leaked:?}");
        eprintln!(
            "{service}: {} before, {} after ({} new, none of them the stack's)",
            before[service].len(),
            items.len(),
            new.len()
        );
    }
}

/// A VPC with one subnet moved onto a route table that has the internet gateway, a network
/// interface with a fixed address and security group, and an instance on that interface.
fn vpc_template(group: &str, address: &str, cidr: &str) -> Value {
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.77.0.0/16",
                "Tags": [{"Key": "purpose", "Value": "test"}]}},
            "subnet": {"Type": "AWS::EC2::Subnet", "Properties": {
                "VpcId": {"Ref": "vpc"}, "CidrBlock": cidr, "AvailabilityZone": "nova"}},
            "gateway": {"Type": "AWS::EC2::InternetGateway"},
            "attachment": {"Type": "AWS::EC2::VPCGatewayAttachment", "Properties": {
                "VpcId": {"Ref": "vpc"}, "InternetGatewayId": {"Ref": "gateway"}}},
            "table": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "vpc"}}},
            "association": {"Type": "AWS::EC2::SubnetRouteTableAssociation", "Properties": {
                "RouteTableId": {"Ref": "table"}, "SubnetId": {"Ref": "subnet"}}},
            "web": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "web"}},
            "db": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "db"}},
            "nic": {"Type": "AWS::EC2::NetworkInterface", "Properties": {
                "SubnetId": {"Ref": "subnet"}, "GroupSet": [{"Ref": group}],
                "PrivateIpAddress": address}},
            "vm": {"Type": "AWS::EC2::Instance", "Properties": {
                "ImageId": "cirros", "InstanceType": "m1.tiny",
                "NetworkInterfaces": [{"NetworkInterfaceId": {"Ref": "nic"}, "DeviceIndex": "0"}]}}
        },
        "Outputs": {
            "nic_ip": {"Value": {"Fn::GetAtt": ["nic", "PrivateIpAddress"]}},
            "vm_ip": {"Value": {"Fn::GetAtt": ["vm", "PrivateIp"]}},
            "subnet_az": {"Value": {"Fn::GetAtt": ["subnet", "AvailabilityZone"]}}
        }
    })
}

/// `name → physical id` of the stack's resources, all of them in `expected` status.
async fn physical_ids(svc: &Service, id: &str, expected: &[&str]) -> BTreeMap<String, String> {
    resources(svc, id)
        .await
        .into_iter()
        .map(|(name, r)| {
            let state = r["resource_status"].as_str().unwrap_or_default();
            assert!(expected.contains(&state), "{name}: {r}");
            let physical = r["physical_resource_id"].as_str().unwrap_or_default();
            (name, physical.to_string())
        })
        .collect()
}

/// The subnets a router has interfaces on.
async fn interface_subnets(network: &Network, router: &str) -> Vec<String> {
    network
        .list(NeutronKind::Port, &[("device_id", router)])
        .await
        .unwrap()
        .iter()
        .flat_map(|p| p["fixed_ips"].as_array().cloned().unwrap_or_default())
        .filter_map(|ip| ip["subnet_id"].as_str().map(str::to_string))
        .collect()
}

async fn output(svc: &Service, id: &str, key: &str) -> Value {
    common::output(svc, id, key).await["output_value"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vpc_stack_create_update_delete_on_the_lab() {
    let Some(lab) = lab().await else { return };
    let network = Network::new(&lab.demo).await.unwrap();
    let compute = Compute::new(&lab.demo).await.unwrap();
    // The stack's own session, so its call counts are the stack's alone.
    let stack_session = Session::connect(lab.demo.config().clone()).await.unwrap();
    let svc = lab_service(&stack_session);
    let mut figures = Vec::new();
    let name = format!("vpc-{}", suffix());
    let external = network.find(NeutronKind::Network, "public").await.unwrap()["id"].clone();
    let before = holdings(&lab.demo).await.unwrap();
    let mut ours = BTreeSet::new();

    // Create.
    let started = Instant::now();
    let request = json_request(&name, vpc_template("web", "10.77.1.10", "10.77.1.0/24"));
    let id = start_create(&svc, request).await;
    let stack = finished(&svc, &id).await;
    figures.push(("create", started.elapsed(), stack_session.call_counts()));
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let ids = physical_ids(&svc, &id, &["CREATE_COMPLETE"]).await;
    ours.extend(ids.values().filter(|v| !v.is_empty()).cloned());

    // The VPC is a net and a router of the same name; the subnet left that router for the
    // route table's, which the attachment gave the external gateway.
    let net = network
        .show(NeutronKind::Network, &ids["vpc"])
        .await
        .unwrap();
    let vpc_routers = network
        .list(
            NeutronKind::Router,
            &[("name", net["name"].as_str().unwrap())],
        )
        .await
        .unwrap();
    assert_eq!(vpc_routers.len(), 1, "{vpc_routers:?}");
    let vpc_router = vpc_routers[0]["id"].as_str().unwrap().to_string();
    ours.insert(vpc_router.clone());
    let subnet = network
        .show(NeutronKind::Subnet, &ids["subnet"])
        .await
        .unwrap();
    assert_eq!(subnet["network_id"], json!(ids["vpc"]));
    assert_eq!(subnet["cidr"], "10.77.1.0/24");
    assert_eq!(
        interface_subnets(&network, &ids["table"]).await,
        [ids["subnet"].clone()]
    );
    assert!(interface_subnets(&network, &vpc_router).await.is_empty());
    let table = network
        .show(NeutronKind::Router, &ids["table"])
        .await
        .unwrap();
    assert_eq!(table["external_gateway_info"]["network_id"], external);
    // The gateway is a name; the attachment has no physical resource, as in Heat.
    assert!(ids["gateway"].starts_with(&format!("{name}-gateway-")));
    assert_eq!(ids["attachment"], "");
    assert_eq!(ids["association"], "");
    // The interface: its address, its group, and the instance on it.
    let port = network.show(NeutronKind::Port, &ids["nic"]).await.unwrap();
    assert_eq!(port["fixed_ips"][0]["ip_address"], "10.77.1.10");
    assert_eq!(port["security_groups"], json!([ids["web"]]));
    assert_eq!(port["device_id"], json!(ids["vm"]));
    assert_eq!(output(&svc, &id, "nic_ip").await, "10.77.1.10");
    assert_eq!(output(&svc, &id, "vm_ip").await, "10.77.1.10");
    assert_eq!(output(&svc, &id, "subnet_az").await, "nova");

    // Update 1: GroupSet changes in place (the same port).
    let started = Instant::now();
    let stack = update(&svc, &id, vpc_template("db", "10.77.1.10", "10.77.1.0/24")).await;
    figures.push((
        "update in place",
        started.elapsed(),
        stack_session.call_counts(),
    ));
    assert_eq!(status(&stack), "UPDATE_COMPLETE", "{}", reason(&stack));
    let updated = physical_ids(&svc, &id, &["CREATE_COMPLETE", "UPDATE_COMPLETE"]).await;
    assert_eq!(updated["nic"], ids["nic"]);
    let port = network.show(NeutronKind::Port, &ids["nic"]).await.unwrap();
    assert_eq!(port["security_groups"], json!([ids["db"]]));

    // Update 2: a new address replaces the interface; the instance moves to the new port in
    // place and the old port is deleted.
    let started = Instant::now();
    let stack = update(&svc, &id, vpc_template("db", "10.77.1.11", "10.77.1.0/24")).await;
    figures.push((
        "replacement",
        started.elapsed(),
        stack_session.call_counts(),
    ));
    assert_eq!(status(&stack), "UPDATE_COMPLETE", "{}", reason(&stack));
    let replaced = physical_ids(&svc, &id, &["CREATE_COMPLETE", "UPDATE_COMPLETE"]).await;
    ours.extend(replaced.values().filter(|v| !v.is_empty()).cloned());
    assert_ne!(replaced["nic"], ids["nic"]);
    assert_eq!(replaced["vm"], ids["vm"]);
    assert_eq!(replaced["vpc"], ids["vpc"]);
    assert!(network
        .show(NeutronKind::Port, &ids["nic"])
        .await
        .is_err_and(|e| e.is_not_found()));
    let port = network
        .show(NeutronKind::Port, &replaced["nic"])
        .await
        .unwrap();
    assert_eq!(port["fixed_ips"][0]["ip_address"], "10.77.1.11");
    assert_eq!(port["device_id"], json!(ids["vm"]));
    assert_eq!(output(&svc, &id, "nic_ip").await, "10.77.1.11");

    // Delete, after someone removed the subnet from the route table and deleted the VPC's
    // (now empty) router behind the stack's back: both count as already gone.
    network
        .remove_router_interface(&ids["table"], json!({"subnet_id": ids["subnet"]}))
        .await
        .unwrap();
    network
        .delete(NeutronKind::Router, &vpc_router)
        .await
        .unwrap();
    let started = Instant::now();
    svc.delete_stack(&cx(), &id).await.expect("delete accepted");
    let stack = finished(&svc, &id).await;
    figures.push(("delete", started.elapsed(), stack_session.call_counts()));
    assert_eq!(status(&stack), "DELETE_COMPLETE", "{}", reason(&stack));
    // Each step's wall time and API calls (the counts are cumulative).
    for (step, took, calls) in &figures {
        let calls: Vec<String> = calls.iter().map(|(k, v)| format!("{k}={v}")).collect();
        eprintln!(
            "vpc stack {step}: {:.1} s, calls so far: {}",
            took.as_secs_f64(),
            calls.join(" ")
        );
    }
    for (kind, name) in [
        (NeutronKind::Network, "vpc"),
        (NeutronKind::Subnet, "subnet"),
        (NeutronKind::Router, "table"),
        (NeutronKind::Port, "nic"),
    ] {
        assert!(
            network
                .show(kind, &replaced[name])
                .await
                .is_err_and(|e| e.is_not_found()),
            "{name} still exists"
        );
    }
    match compute.server(&ids["vm"]).await {
        Err(e) => assert!(e.is_not_found(), "{e}"),
        Ok(server) => assert_eq!(server["status"], "DELETED", "{server}"),
    }
    let after = holdings(&lab.demo).await.unwrap();
    nothing_left(&before, &after, &name, &ours);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neutron_refusal_is_the_vpc_subnets_reason() {
    let Some(lab) = lab().await else { return };
    let svc = lab_service(&lab.demo);
    let name = format!("vpcbad-{}", suffix());
    let before = holdings(&lab.demo).await.unwrap();
    let template = json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "vpc": {"Type": "AWS::EC2::VPC"},
            "subnet": {"Type": "AWS::EC2::Subnet", "Properties": {
                "VpcId": {"Ref": "vpc"}, "CidrBlock": "10.78.1.0/33"}}
        }
    });
    let id = start_create(&svc, json_request(&name, template)).await;
    let stack = finished(&svc, &id).await;
    assert_eq!(status(&stack), "CREATE_FAILED");
    let subnet = &resources(&svc, &id).await["subnet"];
    assert_eq!(subnet["resource_status"], "CREATE_FAILED");
    let why = subnet["resource_status_reason"]
        .as_str()
        .unwrap_or_default();
    assert!(
        why.starts_with("BadRequest: ") && why.contains("10.78.1.0/33"),
        "{why}"
    );
    assert!(
        reason(&stack).contains("resources.subnet") && reason(&stack).contains("10.78.1.0/33"),
        "{}",
        reason(&stack)
    );
    let vpc = resources(&svc, &id).await["vpc"]["physical_resource_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    svc.delete_stack(&cx(), &id).await.expect("delete accepted");
    let stack = finished(&svc, &id).await;
    assert_eq!(status(&stack), "DELETE_COMPLETE", "{}", reason(&stack));
    let after = holdings(&lab.demo).await.unwrap();
    nothing_left(&before, &after, &name, &BTreeSet::from([vpc]));
}

/// Tags as Neutron shows them, sorted.
async fn tags_of(network: &Network, kind: NeutronKind, id: &str) -> Vec<Value> {
    let mut tags = network.show(kind, id).await.unwrap()["tags"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    tags.sort_by_key(Value::to_string);
    tags
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neutron_tags_set_at_create_and_changed_in_place() {
    let Some(lab) = lab().await else { return };
    let network = Network::new(&lab.demo).await.unwrap();
    let t = &lab.types;
    let tag = suffix();
    let mut net = Res::new(t, "OS::Neutron::Net", "net", json!({"tags": ["web", tag]}));
    net.create().await.unwrap();
    let mut subnet = Res::new(
        t,
        "OS::Neutron::Subnet",
        "subnet",
        json!({"network": net.id(), "cidr": "10.79.0.0/24", "tags": ["a"]}),
    );
    let mut port = Res::new(
        t,
        "OS::Neutron::Port",
        "port",
        json!({"network": net.id(), "tags": ["a"]}),
    );
    let mut router = Res::new(t, "OS::Neutron::Router", "router", json!({"tags": ["a"]}));
    subnet.create().await.unwrap();
    port.create().await.unwrap();
    router.create().await.unwrap();
    assert_eq!(
        tags_of(&network, NeutronKind::Network, &net.id()).await,
        [json!(tag), json!("web")]
    );
    for (res, kind) in [
        (&subnet, NeutronKind::Subnet),
        (&port, NeutronKind::Port),
        (&router, NeutronKind::Router),
    ] {
        assert_eq!(tags_of(&network, kind, &res.id()).await, [json!("a")]);
    }

    // Changed in place: the same objects, the new tags only; none removes them all.
    let net_id = net.id();
    assert!(net.update(json!({"tags": ["db"]})).await.unwrap());
    assert_eq!(net.id(), net_id);
    assert_eq!(
        tags_of(&network, NeutronKind::Network, &net_id).await,
        [json!("db")]
    );
    let port_id = port.id();
    assert!(port
        .update(json!({"network": net.id(), "tags": ["b", "c"]}))
        .await
        .unwrap());
    assert_eq!(port.id(), port_id);
    assert_eq!(
        tags_of(&network, NeutronKind::Port, &port_id).await,
        [json!("b"), json!("c")]
    );
    assert!(router.update(json!({})).await.unwrap());
    assert!(tags_of(&network, NeutronKind::Router, &router.id())
        .await
        .is_empty());
    assert!(subnet
        .update(json!({"network": net.id(), "cidr": "10.79.0.0/24", "tags": ["z"]}))
        .await
        .unwrap());
    assert_eq!(
        tags_of(&network, NeutronKind::Subnet, &subnet.id()).await,
        [json!("z")]
    );

    // A tag Neutron refuses fails the update with Neutron's words.
    let long = "x".repeat(300);
    let error = net
        .update(json!({"tags": [long.clone()]}))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("BadRequest: "), "{error}");

    // Refused at create: the network exists with its id recorded, so the delete finds it.
    let mut refused = Res::new(t, "OS::Neutron::Net", "refused", json!({"tags": [long]}));
    let error = refused.create().await.unwrap_err().to_string();
    assert!(error.starts_with("BadRequest: "), "{error}");
    assert!(network
        .show(NeutronKind::Network, &refused.id())
        .await
        .is_ok());

    for res in [&mut port, &mut subnet, &mut router, &mut net, &mut refused] {
        res.delete().await.unwrap();
    }
    assert!(network
        .show(NeutronKind::Network, &refused.id())
        .await
        .is_err_and(|e| e.is_not_found()));
    assert!(network
        .show(NeutronKind::Network, &net_id)
        .await
        .is_err_and(|e| e.is_not_found()));
}

#[test]
fn vpc_types_refuse_what_heat_does_not_implement() {
    let registry = ember_resources::registry();
    let refused = |type_name: &str, props: Value| {
        Res::try_new(&registry, type_name, "r", props)
            .err()
            .unwrap_or_default()
    };
    assert_eq!(
        refused(
            "AWS::EC2::VPCGatewayAttachment",
            json!({"VpcId": "v", "VpnGatewayId": "g"})
        ),
        "Property VpnGatewayId not implemented yet"
    );
    assert_eq!(
        refused(
            "AWS::EC2::NetworkInterface",
            json!({"SubnetId": "s", "SourceDestCheck": true})
        ),
        "Property SourceDestCheck not implemented yet"
    );
    assert_eq!(
        refused("AWS::EC2::VPC", json!({"InstanceTenancy": "dedicated"})),
        "Property InstanceTenancy not implemented yet"
    );
    assert!(refused("AWS::EC2::Subnet", json!({"VpcId": "v"})).contains("CidrBlock"));
    assert!(Res::try_new(
        &registry,
        "AWS::EC2::VPC",
        "r",
        json!({"CidrBlock": "10.0.0.0/16"})
    )
    .is_ok());
}

#[test]
fn gateway_attachment_waits_for_the_route_tables_of_its_vpc() {
    let template = json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "vpc": {"Type": "AWS::EC2::VPC"},
            "other": {"Type": "AWS::EC2::VPC"},
            "gateway": {"Type": "AWS::EC2::InternetGateway"},
            "table": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "vpc"}}},
            "elsewhere": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "other"}}},
            "attachment": {"Type": "AWS::EC2::VPCGatewayAttachment", "Properties": {
                "VpcId": {"Ref": "vpc"}, "InternetGatewayId": {"Ref": "gateway"}}}
        }
    });
    let defn = compiled(template);
    let registry = ember_resources::registry();
    let attachment = registry.get("AWS::EC2::VPCGatewayAttachment").unwrap();
    assert_eq!(
        attachment.implicit_dependencies("attachment", &defn),
        ["table".to_string()]
    );
}

#[test]
fn instance_refuses_groups_beside_interfaces_and_unimplemented_properties() {
    let registry = ember_resources::registry();
    let refused = |props: Value| {
        Res::try_new(&registry, "AWS::EC2::Instance", "vm", props)
            .err()
            .unwrap_or_default()
    };
    let base = json!({"ImageId": "cirros", "InstanceType": "m1.tiny"});
    let with = |extra: Value| {
        let mut props = base.clone();
        for (k, v) in extra.as_object().into_iter().flatten() {
            props[k] = v.clone();
        }
        props
    };
    assert_eq!(
        refused(with(json!({"SecurityGroupIds": ["sg"], "NetworkInterfaces": ["port"]}))),
        "Cannot define the following properties at the same time: SecurityGroups/SecurityGroupIds, NetworkInterfaces."
    );
    assert_eq!(
        refused(with(json!({"KernelId": "k"}))),
        "Property KernelId not implemented yet"
    );
    assert!(Res::try_new(
        &registry,
        "AWS::EC2::Instance",
        "vm",
        with(json!({"NetworkInterfaces": ["port"]}))
    )
    .is_ok());
}
