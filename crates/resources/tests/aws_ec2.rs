//! AWS::EC2 aliases against the lab, through the OpenStack types they translate to.

mod lab_types;

use ember_openstack::services::block_storage::BlockStorage;
use ember_openstack::services::compute::Compute;
use ember_openstack::services::network::{Network, NeutronKind};
use lab_types::{lab, suffix, Res};
use serde_json::{json, Value};

/// `(protocol, port_range_min)` of the group's ingress rules.
async fn ingress(network: &Network, id: &str) -> Vec<(Value, Value)> {
    let group = network.show(NeutronKind::SecurityGroup, id).await.unwrap();
    let mut rules: Vec<(Value, Value)> = group["security_group_rules"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["direction"] == "ingress")
        .map(|r| (r["protocol"].clone(), r["port_range_min"].clone()))
        .collect();
    rules.sort_by_key(|(p, m)| format!("{p}{m}"));
    rules
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_group_volume_instance_and_attachment() {
    let Some(lab) = lab().await else { return };
    let network = Network::new(&lab.demo).await.unwrap();
    let storage = BlockStorage::new(&lab.demo).await.unwrap();
    let compute = Compute::new(&lab.demo).await.unwrap();
    let tag = suffix();

    // SecurityGroup: rules from AWS ingress entries, updated in place.
    let rule = |port: &str| json!({"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "CidrIp": "0.0.0.0/0"});
    let mut group = Res::new(
        &lab.types,
        "AWS::EC2::SecurityGroup",
        "sg",
        json!({"GroupDescription": "web", "SecurityGroupIngress": [rule("22")]}),
    );
    group.create().await.unwrap();
    assert_eq!(
        ingress(&network, &group.id()).await,
        [(json!("tcp"), json!(22))]
    );
    assert!(group
        .update(
            json!({"GroupDescription": "web", "SecurityGroupIngress": [rule("22"), rule("80")]})
        )
        .await
        .unwrap());
    assert_eq!(
        ingress(&network, &group.id()).await,
        [(json!("tcp"), json!(22)), (json!("tcp"), json!(80))]
    );
    // The description is not updatable in AWS: a replacement.
    assert!(!group
        .update(
            json!({"GroupDescription": "other", "SecurityGroupIngress": [rule("22"), rule("80")]})
        )
        .await
        .unwrap());

    // Volume: Tags become metadata; any change replaces it.
    let mut volume = Res::new(
        &lab.types,
        "AWS::EC2::Volume",
        "vol",
        json!({"Size": 1, "AvailabilityZone": "nova", "Tags": [{"Key": "owner", "Value": tag}]}),
    );
    volume.create().await.unwrap();
    let shown = storage.volume(&volume.id()).await.unwrap();
    assert_eq!(shown["size"], 1);
    assert_eq!(shown["metadata"]["owner"], Value::String(tag.clone()));
    assert!(!volume
        .update(json!({"Size": 2, "AvailabilityZone": "nova"}))
        .await
        .unwrap());

    // Instance on the lab's private subnet, with the group; addresses as Heat answers them.
    let subnet = network
        .find(NeutronKind::Subnet, "private-subnet")
        .await
        .unwrap();
    let mut instance = Res::new(
        &lab.types,
        "AWS::EC2::Instance",
        "vm",
        json!({"ImageId": "cirros", "InstanceType": "m1.tiny", "SubnetId": subnet["id"],
               "SecurityGroupIds": [group.id()], "Tags": [{"Key": "role", "Value": "web"}], "UserData": "#!/bin/sh\necho hi\n"}),
    );
    instance.create().await.unwrap();
    let private_ip = instance.attr("PrivateIp").await;
    assert!(
        private_ip
            .as_str()
            .is_some_and(|ip| ip.starts_with("10.0.0.")),
        "{private_ip}"
    );
    assert_eq!(instance.attr("PublicIp").await, private_ip);
    assert_eq!(instance.attr("AvailabilityZone").await, "nova");
    let server = compute.server(&instance.id()).await.unwrap();
    assert_eq!(server["metadata"]["role"], "web");
    // Tags update in place (Nova metadata).
    assert!(instance
        .update(json!({"ImageId": "cirros", "InstanceType": "m1.tiny", "SubnetId": subnet["id"],
                       "SecurityGroupIds": [group.id()], "Tags": [{"Key": "role", "Value": "db"}], "UserData": "#!/bin/sh\necho hi\n"}))
        .await
        .unwrap());
    assert_eq!(
        compute.server(&instance.id()).await.unwrap()["metadata"]["role"],
        "db"
    );

    // VolumeAttachment: in-use while attached, available after delete.
    let mut attachment = Res::new(
        &lab.types,
        "AWS::EC2::VolumeAttachment",
        "att",
        json!({"InstanceId": instance.id(), "VolumeId": volume.id(), "Device": "/dev/vdb"}),
    );
    attachment.create().await.unwrap();
    assert_eq!(
        storage.volume(&volume.id()).await.unwrap()["status"],
        "in-use"
    );
    attachment.delete().await.unwrap();
    assert_eq!(
        storage.volume(&volume.id()).await.unwrap()["status"],
        "available"
    );

    // EIP: an address on the external network; its Ref is the address.
    let port = network
        .list(NeutronKind::Port, &[("device_id", &instance.id())])
        .await
        .unwrap()[0]["id"]
        .clone();
    let mut eip = Res::new(&lab.types, "AWS::EC2::EIP", "eip", json!({}));
    eip.create().await.unwrap();
    let address = eip.ty.reference_id(&eip.cx);
    assert!(
        address.as_str().is_some_and(|a| a.starts_with("172.24.4.")),
        "{address}"
    );
    assert_eq!(eip.attr("AllocationId").await, Value::String(eip.id()));
    let fip_port = |network: &Network, id: String| {
        let network = network.clone();
        async move { network.show(NeutronKind::FloatingIp, &id).await.unwrap()["port_id"].clone() }
    };
    // EIPAssociation by address, then let go on delete.
    let mut association = Res::new(
        &lab.types,
        "AWS::EC2::EIPAssociation",
        "assoc",
        json!({"EIP": address, "InstanceId": instance.id()}),
    );
    association.create().await.unwrap();
    assert_eq!(fip_port(&network, eip.id()).await, port);
    association.delete().await.unwrap();
    assert_eq!(fip_port(&network, eip.id()).await, Value::Null);
    // InstanceId updates the EIP in place.
    assert!(eip
        .update(json!({"InstanceId": instance.id()}))
        .await
        .unwrap());
    assert_eq!(fip_port(&network, eip.id()).await, port);
    assert!(eip.update(json!({})).await.unwrap());
    assert_eq!(fip_port(&network, eip.id()).await, Value::Null);
    eip.delete().await.unwrap();
    eip.delete().await.unwrap();
    association.delete().await.unwrap(); // its address is gone: nothing to let go

    // Delete, then delete again what is already gone.
    for res in [&mut instance, &mut volume, &mut group] {
        res.delete().await.unwrap();
        res.delete().await.unwrap();
    }
    assert!(compute
        .server(&instance.id())
        .await
        .is_err_and(|e| e.is_not_found()));
    assert!(storage
        .volume(&volume.id())
        .await
        .is_err_and(|e| e.is_not_found()));
    assert!(network
        .show(NeutronKind::SecurityGroup, &group.id())
        .await
        .is_err_and(|e| e.is_not_found()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_refusal_is_the_resource_reason() {
    let Some(lab) = lab().await else { return };
    // Custom constraints are checked on the AWS schema, so the error names the AWS property.
    let instance = Res::new(
        &lab.types,
        "AWS::EC2::Instance",
        "vm",
        json!({"ImageId": "no-such-image", "InstanceType": "m1.tiny"}),
    );
    assert_eq!(
        instance
            .ty
            .validate_with_cloud(None, &instance.cx.properties)
            .await,
        Err((
            "ImageId".to_string(),
            "Error validating value 'no-such-image': The Image (no-such-image) could not be found."
                .to_string()
        ))
    );
    let mut volume = Res::new(
        &lab.types,
        "AWS::EC2::Volume",
        "vol",
        json!({"Size": 1, "AvailabilityZone": "nowhere"}),
    );
    let error = volume.create().await.unwrap_err().to_string();
    assert!(
        error.starts_with("BadRequest: ") && error.contains("nowhere"),
        "{error}"
    );
}

#[test]
fn aws_schemas_refuse_as_heat() {
    let registry = ember_resources::registry();
    let error = Res::try_new(
        &registry,
        "AWS::EC2::VolumeAttachment",
        "a",
        json!({"InstanceId": "i", "VolumeId": "v", "Device": "/dev/sdb"}),
    )
    .err();
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.starts_with("Device: ") && e.contains("/dev/vd[b-z]")),
        "{error:?}"
    );
    let error = Res::try_new(
        &registry,
        "AWS::EC2::Instance",
        "i",
        json!({"ImageId": "cirros"}),
    )
    .err();
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.ends_with("Property InstanceType not assigned")),
        "{error:?}"
    );
}
