//! The AWS-compatible types Heat maps onto OpenStack services (`AWS::EC2::Instance`,
//! `SecurityGroup`, `Volume`, `VolumeAttachment`).
//!
//! Each is an [`Alias`] of the OpenStack type that does the work: the alias has Heat's AWS
//! schema (so templates are accepted, refused and updated in place or replaced as in Heat),
//! translates its properties into the OpenStack type's, and hands every lifecycle call to that
//! type. There is no second copy of any service call.
//!
//! `AWS::EC2::EIP` and `EIPAssociation` have their own handlers (`eip.rs`): Heat gives them
//! semantics of their own (the EIP's `Ref` is its address, the external network is discovered).
//! So do the VPC types (`vpc.rs`: `VPC`, `Subnet`, `InternetGateway`, `VPCGatewayAttachment`,
//! `RouteTable`, `SubnetRouteTableAssociation`, `NetworkInterface`).
//! The autoscaling family, `AWS::CloudWatch::Alarm` (`autoscaling.rs`) and
//! `AWS::CloudFormation::Stack` (`cfn_stack.rs`) are the Heat types under AWS names.
//! `AWS::IAM::User` and `AccessKey` (`iam.rs`) are a Keystone user of the stack and its EC2
//! credential.
//! `AWS::ElasticLoadBalancing::LoadBalancer` (`lb.rs`) is Heat's HAProxy instance as a nested
//! stack of a template built into Ember.
//! `AWS::S3::Bucket` (`s3.rs`) is a Swift container, as in Heat.
//!
//! [`register`] reads the OpenStack types from the registry, so it runs after them.

mod autoscaling;
mod cfn_stack;
mod eip;
mod iam;
mod lb;
mod s3;
mod vpc;

use std::sync::Arc;

use async_trait::async_trait;
use ember_engine::resource::{Properties, UpdateRequest};
use ember_engine::schema::{
    validate_properties, AttributeSchema, Constraint, PropertySchema, PropertyType, TypeSchema,
};
use ember_engine::{Progress, Registry, ResourceContext, ResourceError, ResourceType, Started};
use serde_json::{json, Map, Value};

use crate::openstack::Cloud;

/// The OpenStack type's properties from the AWS type's.
type Translate = fn(&Properties) -> Properties;

/// The attribute of the OpenStack type that answers an AWS attribute, and how to read it.
type AttributeMap = fn(&str) -> Option<(&'static str, AttributeRead)>;

/// Heat's own checks of the AWS type, before the OpenStack type's.
type Check = fn(&Properties) -> Result<(), String>;

/// An AWS type as a translation of an OpenStack one.
struct Alias {
    schema: TypeSchema,
    /// For the custom constraints of the AWS schema (errors name the AWS property).
    cloud: Arc<Cloud>,
    target: Arc<dyn ResourceType>,
    translate: Translate,
    attribute: AttributeMap,
    check: Check,
}

/// How an AWS attribute is read from the OpenStack one.
#[derive(Clone, Copy)]
enum AttributeRead {
    AsIs,
    /// A key of the `show` map.
    ShowKey(&'static str),
}

impl Alias {
    /// The OpenStack type's validated properties (its defaults filled in) for the AWS ones.
    fn target_properties(&self, props: &Properties) -> Result<Properties, String> {
        validate_properties(self.target.schema(), &(self.translate)(props))
            .map_err(|e| e.to_string())
    }

    /// The context the OpenStack type sees. Properties that passed [`ResourceType::validate`]
    /// translate without error; the raw translation is only a fallback.
    fn translated(&self, cx: &ResourceContext) -> ResourceContext {
        let mut target = cx.clone();
        target.properties = self
            .target_properties(&cx.properties)
            .unwrap_or_else(|_| (self.translate)(&cx.properties));
        target
    }
}

#[async_trait]
impl ResourceType for Alias {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    async fn validate_with_cloud(
        &self,
        handle: Option<&ember_engine::CloudHandle>,
        properties: &Properties,
    ) -> Result<(), (String, String)> {
        crate::openstack::check_constraints(&self.cloud, handle, &self.schema, properties).await
    }

    fn validate(&self, properties: &Properties) -> Result<(), String> {
        (self.check)(properties)?;
        self.target.validate(&self.target_properties(properties)?)
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        self.target.create(&self.translated(cx)).await
    }

    async fn check_create_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        self.target
            .check_create_complete(&self.translated(cx))
            .await
    }

    fn creates_synchronously(&self) -> bool {
        self.target.creates_synchronously()
    }

    async fn update(
        &self,
        cx: &ResourceContext,
        request: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        let new = self.translated(cx);
        let old = self
            .target_properties(request.old_properties)
            .unwrap_or_else(|_| (self.translate)(request.old_properties));
        let changed: Vec<String> = new
            .properties
            .keys()
            .chain(old.keys())
            .filter(|k| new.properties.get(*k) != old.get(*k))
            .cloned()
            .collect();
        if self.target.needs_replace(&changed, &old, &new.properties) {
            return Err(ResourceError::UpdateReplace);
        }
        self.target
            .update(
                &new,
                UpdateRequest {
                    old_properties: &old,
                    changed: &changed,
                },
            )
            .await
    }

    async fn check_update_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        self.target
            .check_update_complete(&self.translated(cx))
            .await
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        self.target.delete(&self.translated(cx)).await
    }

    async fn check_delete_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        self.target
            .check_delete_complete(&self.translated(cx))
            .await
    }

    async fn suspend(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        self.target.suspend(&self.translated(cx)).await
    }

    async fn resume(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        self.target.resume(&self.translated(cx)).await
    }

    async fn check_action_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        self.target
            .check_action_complete(&self.translated(cx))
            .await
    }

    async fn check(&self, cx: &ResourceContext) -> Result<(), ResourceError> {
        self.target.check(&self.translated(cx)).await
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        let cx = self.translated(cx);
        let (target_name, read) = match (self.attribute)(name) {
            Some(found) => found,
            None if name == "show" => ("show", AttributeRead::AsIs),
            None => return Ok(None),
        };
        let value = self.target.attribute(&cx, target_name).await?;
        Ok(match read {
            AttributeRead::AsIs => value,
            AttributeRead::ShowKey(key) => {
                value.map(|shown| shown.get(key).cloned().unwrap_or(Value::Null))
            }
        })
    }

    fn reference_id(&self, cx: &ResourceContext) -> Value {
        self.target.reference_id(cx)
    }
}

fn string(description: &str) -> PropertySchema {
    PropertySchema::new(PropertyType::String, description)
}

fn integer(description: &str) -> PropertySchema {
    PropertySchema::new(PropertyType::Integer, description)
}

fn list(description: &str) -> PropertySchema {
    PropertySchema::new(PropertyType::List, description)
}

fn map(description: &str) -> PropertySchema {
    PropertySchema::new(PropertyType::Map, description)
}

fn custom(schema: PropertySchema, name: &str) -> PropertySchema {
    schema.constraint(Constraint::Custom(name.to_string()))
}

/// AWS `Tags` / `NovaSchedulerHints`: a list of `{Key, Value}`.
fn key_values(description: &str) -> PropertySchema {
    list(description).with_items(map("").with_keys(vec![
        ("Key", string("").required()),
        ("Value", string("").required()),
    ]))
}

fn schema(
    description: &str,
    properties: Vec<(&str, PropertySchema)>,
    attributes: &[(&str, &str)],
) -> TypeSchema {
    let mut attrs: std::collections::BTreeMap<String, AttributeSchema> = attributes
        .iter()
        .map(|(name, help)| (name.to_string(), AttributeSchema::new(help)))
        .collect();
    attrs.insert(
        "show".into(),
        AttributeSchema::new("Detailed information about resource."),
    );
    TypeSchema {
        properties: properties
            .into_iter()
            .map(|(name, schema)| (name.to_string(), schema))
            .collect(),
        attributes: attrs,
        accepts_any_property: false,
        description: description.to_string(),
        support_status: "SUPPORTED",
        since_version: None,
    }
}

/// `[{Key, Value}]` as a map (Nova metadata, Cinder metadata, scheduler hints).
fn key_value_map(value: Option<&Value>) -> Value {
    let map: Map<String, Value> = value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|tag| {
            Some((
                tag.get("Key")?.as_str()?.to_string(),
                tag.get("Value")?.clone(),
            ))
        })
        .collect();
    Value::Object(map)
}

/// Copies `from` (AWS name) to `to` (OpenStack name) when given.
fn rename(props: &Properties, out: &mut Properties, pairs: &[(&str, &str)]) {
    for (from, to) in pairs {
        if let Some(value) = props.get(*from).filter(|v| !v.is_null()) {
            out.insert(to.to_string(), value.clone());
        }
    }
}

fn volume_properties(props: &Properties) -> Properties {
    let mut out = Properties::new();
    rename(
        props,
        &mut out,
        &[
            ("Size", "size"),
            ("AvailabilityZone", "availability_zone"),
            ("BackupId", "backup_id"),
        ],
    );
    out.insert("metadata".into(), key_value_map(props.get("Tags")));
    out
}

fn volume_attachment_properties(props: &Properties) -> Properties {
    let mut out = Properties::new();
    rename(
        props,
        &mut out,
        &[
            ("InstanceId", "instance_uuid"),
            ("VolumeId", "volume_id"),
            ("Device", "mountpoint"),
        ],
    );
    out
}

/// AWS ports are strings; `-1` (ICMP "any") means no range.
fn port(value: Option<&Value>) -> Option<i64> {
    let port = match value? {
        Value::String(text) => text.trim().parse::<i64>().ok()?,
        other => other.as_i64()?,
    };
    (port >= 0).then_some(port)
}

fn security_group_rules(props: &Properties, key: &str, direction: &str) -> Vec<Value> {
    props
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|rule| {
            let mut out = json!({ "direction": direction, "ethertype": "IPv4" });
            if let Some(protocol) = rule
                .get("IpProtocol")
                .and_then(Value::as_str)
                .filter(|p| *p != "-1")
            {
                out["protocol"] = json!(protocol);
            }
            if let Some(min) = port(rule.get("FromPort")) {
                out["port_range_min"] = json!(min);
            }
            if let Some(max) = port(rule.get("ToPort")) {
                out["port_range_max"] = json!(max);
            }
            if let Some(cidr) = rule.get("CidrIp").and_then(Value::as_str) {
                out["remote_ip_prefix"] = json!(cidr);
            }
            let group = ["SourceSecurityGroupId", "DestinationSecurityGroupId"]
                .iter()
                .find_map(|k| rule.get(*k).and_then(Value::as_str));
            if let Some(group) = group {
                out["remote_mode"] = json!("remote_group_id");
                out["remote_group_id"] = json!(group);
            }
            out
        })
        .collect()
}

fn security_group_properties(props: &Properties) -> Properties {
    let mut out = Properties::new();
    rename(props, &mut out, &[("GroupDescription", "description")]);
    let mut rules = security_group_rules(props, "SecurityGroupIngress", "ingress");
    rules.extend(security_group_rules(props, "SecurityGroupEgress", "egress"));
    out.insert("rules".into(), Value::Array(rules));
    out
}

fn instance_properties(props: &Properties) -> Properties {
    let mut out = Properties::new();
    rename(
        props,
        &mut out,
        &[
            ("ImageId", "image"),
            ("InstanceType", "flavor"),
            ("KeyName", "key_name"),
            ("AvailabilityZone", "availability_zone"),
            ("UserData", "user_data"),
        ],
    );
    out.insert("user_data_format".into(), json!("HEAT_CFNTOOLS"));
    let groups: Vec<Value> = ["SecurityGroups", "SecurityGroupIds"]
        .iter()
        .flat_map(|k| {
            props
                .get(*k)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    out.insert("security_groups".into(), Value::Array(groups));
    // Interfaces first (they name ports), else the subnet; neither lets Nova pick the network.
    // Heat orders interfaces by `DeviceIndex`; a bare port id takes its position as its index.
    let mut interfaces: Vec<(i64, Value)> = props
        .get("NetworkInterfaces")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(position, nic)| match nic {
            Value::String(port) => Some((position as i64, json!({ "port": port }))),
            Value::Object(nic) => {
                let index = match nic.get("DeviceIndex") {
                    Some(Value::String(text)) => text.trim().parse().ok(),
                    Some(number) => number.as_i64(),
                    None => None,
                };
                let port = nic.get("NetworkInterfaceId")?;
                Some((index.unwrap_or(position as i64), json!({ "port": port })))
            }
            _ => None,
        })
        .collect();
    interfaces.sort_by_key(|(index, _)| *index);
    let interfaces: Vec<Value> = interfaces.into_iter().map(|(_, nic)| nic).collect();
    if !interfaces.is_empty() {
        out.insert("networks".into(), Value::Array(interfaces));
    } else if let Some(subnet) = props.get("SubnetId").and_then(Value::as_str) {
        out.insert("networks".into(), json!([{ "subnet": subnet }]));
    }
    out.insert("metadata".into(), key_value_map(props.get("Tags")));
    if props.get("NovaSchedulerHints").is_some_and(Value::is_array) {
        out.insert(
            "scheduler_hints".into(),
            key_value_map(props.get("NovaSchedulerHints")),
        );
    }
    let volumes: Vec<Value> = props
        .get("Volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| {
            Some(json!({ "device_name": v.get("Device")?, "volume_id": v.get("VolumeId")? }))
        })
        .collect();
    if !volumes.is_empty() {
        out.insert("block_device_mapping".into(), Value::Array(volumes));
    }
    out
}

/// Heat answers all four address attributes of an instance with its first address.
fn instance_attribute(name: &str) -> Option<(&'static str, AttributeRead)> {
    match name {
        "PrivateIp" | "PublicIp" | "PrivateDnsName" | "PublicDnsName" => {
            Some(("first_address", AttributeRead::AsIs))
        }
        "AvailabilityZone" => Some((
            "show",
            AttributeRead::ShowKey("OS-EXT-AZ:availability_zone"),
        )),
        _ => None,
    }
}

fn no_attributes(_: &str) -> Option<(&'static str, AttributeRead)> {
    None
}

fn no_check(_: &Properties) -> Result<(), String> {
    Ok(())
}

/// Heat's Instance checks: its unimplemented properties refused when given, then security
/// groups beside network interfaces (the interfaces carry their own groups).
fn instance_check(props: &Properties) -> Result<(), String> {
    vpc::not_implemented(
        props,
        &[
            "DisableApiTermination",
            "KernelId",
            "Monitoring",
            "PlacementGroupName",
            "PrivateIpAddress",
            "RamDiskId",
            "SourceDestCheck",
            "Tenancy",
        ],
    )?;
    let given = |k: &str| {
        props
            .get(k)
            .and_then(Value::as_array)
            .is_some_and(|v| !v.is_empty())
    };
    if (given("SecurityGroups") || given("SecurityGroupIds")) && given("NetworkInterfaces") {
        return Err("Cannot define the following properties at the same time: SecurityGroups/SecurityGroupIds, NetworkInterfaces.".into());
    }
    Ok(())
}

/// Register the AWS types with credentials from the environment (see [`register_with`]).
pub fn register(registry: &mut Registry) {
    register_with(registry, Cloud::from_env());
}

/// Register the AWS types over the OpenStack types already in `registry` (an alias whose
/// target is missing is left out); the EIP types use `cloud`.
pub fn register_with(registry: &mut Registry, cloud: Arc<Cloud>) {
    eip::register(registry, &cloud);
    autoscaling::register(registry, &cloud);
    cfn_stack::register(registry);
    vpc::register(registry, &cloud);
    iam::register(registry, &cloud);
    lb::register(registry, &cloud);
    s3::register(registry, &cloud);
    let aliases: Vec<(&str, &str, TypeSchema, Translate, AttributeMap, Check)> = vec![
        (
            "AWS::EC2::Volume",
            "OS::Cinder::Volume",
            schema(
                "Volume resource.",
                vec![
                    ("AvailabilityZone", string("The availability zone in which the volume will be created.").required()),
                    ("Size", integer("The size of the volume in GB.").constraint(Constraint::Range { min: Some(1.0), max: None })),
                    ("BackupId", custom(string("If specified, the backup used as the source to create the volume."), "cinder.backup")),
                    ("Tags", key_values("The list of tags to associate with the volume.")),
                ],
                &[],
            ),
            volume_properties,
            no_attributes,
            no_check,
        ),
        (
            "AWS::EC2::VolumeAttachment",
            "OS::Cinder::VolumeAttachment",
            schema(
                "VolumeAttachment resource.",
                vec![
                    ("InstanceId", custom(string("The ID of the instance to which the volume attaches.").required(), "nova.server")),
                    ("VolumeId", custom(string("The ID of the volume to be attached.").required(), "cinder.volume")),
                    ("Device", string("The device where the volume is exposed on the instance. This assignment may not be honored and it is advised that the path /dev/disk/by-id/virtio-<VolumeId> be used instead.").required().constraint(Constraint::AllowedPattern("/dev/vd[b-z]".into()))),
                ],
                &[],
            ),
            volume_attachment_properties,
            no_attributes,
            no_check,
        ),
        (
            "AWS::EC2::SecurityGroup",
            "OS::Neutron::SecurityGroup",
            schema(
                "Security group resource.",
                vec![
                    ("GroupDescription", string("Description of the security group.").required()),
                    ("VpcId", string("Physical ID of the VPC. Not implemented.")),
                    ("SecurityGroupIngress", list("List of security group ingress rules.").update_allowed().with_items(map("").with_keys(vec![
                        ("CidrIp", string("")), ("FromPort", string("")), ("ToPort", string("")), ("IpProtocol", string("")),
                        ("SourceSecurityGroupId", string("")), ("SourceSecurityGroupName", string("")), ("SourceSecurityGroupOwnerId", string("Not implemented.")),
                    ]))),
                    ("SecurityGroupEgress", list("List of security group egress rules.").update_allowed().with_items(map("").with_keys(vec![
                        ("CidrIp", string("")), ("FromPort", string("")), ("ToPort", string("")), ("IpProtocol", string("")),
                        ("DestinationSecurityGroupId", string("")),
                    ]))),
                ],
                &[],
            ),
            security_group_properties,
            no_attributes,
            no_check,
        ),
        (
            "AWS::EC2::Instance",
            "OS::Nova::Server",
            schema(
                "Instance resource.",
                vec![
                    ("ImageId", custom(string("Glance image ID or name.").required(), "glance.image")),
                    ("InstanceType", custom(string("Nova instance type (flavor).").required().update_allowed(), "nova.flavor")),
                    ("KeyName", custom(string("Optional Nova keypair name."), "nova.keypair")),
                    ("AvailabilityZone", string("Availability zone to launch the instance in.")),
                    ("DisableApiTermination", string("Not Implemented.")),
                    ("KernelId", string("Not Implemented.")),
                    ("Monitoring", PropertySchema::new(PropertyType::Boolean, "Not Implemented.")),
                    ("PlacementGroupName", string("Not Implemented.")),
                    ("PrivateIpAddress", string("Not Implemented.")),
                    ("RamDiskId", string("Not Implemented.")),
                    ("SecurityGroups", list("Security group names to assign.")),
                    ("SecurityGroupIds", list("Security group IDs to assign.")),
                    ("NetworkInterfaces", list("Network interfaces to associate with instance.").update_allowed()),
                    ("SourceDestCheck", PropertySchema::new(PropertyType::Boolean, "Not Implemented.")),
                    ("SubnetId", string("Subnet ID to launch instance in.").update_allowed()),
                    ("Tags", key_values("Tags to attach to instance.").update_allowed()),
                    ("NovaSchedulerHints", key_values("Scheduler hints to pass to Nova (Heat extension).")),
                    ("Tenancy", string("Not Implemented.").constraint(Constraint::AllowedValues(vec![json!("dedicated"), json!("default")]))),
                    ("UserData", string("User data to pass to instance.")),
                    ("Volumes", list("Volumes to attach to instance.").default(json!([])).with_items(map("").with_keys(vec![
                        ("Device", string("The device where the volume is exposed on the instance. This assignment may not be honored and it is advised that the path /dev/disk/by-id/virtio-<VolumeId> be used instead.").required()),
                        ("VolumeId", custom(string("The ID of the volume to be attached.").required(), "cinder.volume")),
                    ]))),
                ],
                &[
                    ("AvailabilityZone", "The Availability Zone where the specified instance is launched."),
                    ("PrivateDnsName", "Private DNS name of the specified instance."),
                    ("PublicDnsName", "Public DNS name of the specified instance."),
                    ("PrivateIp", "Private IP address of the specified instance."),
                    ("PublicIp", "Public IP address of the specified instance."),
                ],
            ),
            instance_properties,
            instance_attribute,
            instance_check,
        ),
    ];
    for (name, target, schema, translate, attribute, check) in aliases {
        if let Some(target) = registry.get(target).cloned() {
            registry.register(
                name,
                Arc::new(Alias {
                    schema,
                    cloud: cloud.clone(),
                    target,
                    translate,
                    attribute,
                    check,
                }),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(value: Value) -> Properties {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn instance_translates_to_server_properties() {
        let out = instance_properties(&props(json!({
            "ImageId": "cirros", "InstanceType": "m1.small", "KeyName": "k",
            "SecurityGroups": ["default"], "SecurityGroupIds": ["0b69e70e-03b5-464f-b20a-5a9f83412ef6"],
            "SubnetId": "sub", "Tags": [{"Key": "role", "Value": "web"}], "UserData": "#!/bin/sh",
            "Volumes": [{"Device": "/dev/vdb", "VolumeId": "v1"}],
        })));
        assert_eq!(out["image"], "cirros");
        assert_eq!(out["flavor"], "m1.small");
        assert_eq!(out["key_name"], "k");
        assert_eq!(
            out["security_groups"],
            json!(["default", "0b69e70e-03b5-464f-b20a-5a9f83412ef6"])
        );
        assert_eq!(out["networks"], json!([{"subnet": "sub"}]));
        assert_eq!(out["metadata"], json!({"role": "web"}));
        assert_eq!(out["user_data_format"], "HEAT_CFNTOOLS");
        assert_eq!(
            out["block_device_mapping"],
            json!([{"device_name": "/dev/vdb", "volume_id": "v1"}])
        );
        // Interfaces win over the subnet.
        let out = instance_properties(&props(json!({
            "SubnetId": "sub", "NetworkInterfaces": ["p1", {"NetworkInterfaceId": "p2", "DeviceIndex": "1"}],
        })));
        assert_eq!(out["networks"], json!([{"port": "p1"}, {"port": "p2"}]));
        // In DeviceIndex order, as Heat attaches them.
        let out = instance_properties(&props(json!({
            "NetworkInterfaces": [{"NetworkInterfaceId": "p2", "DeviceIndex": "1"}, {"NetworkInterfaceId": "p1", "DeviceIndex": 0}],
        })));
        assert_eq!(out["networks"], json!([{"port": "p1"}, {"port": "p2"}]));
    }

    #[test]
    fn security_group_rules_translate_ports_and_any_protocol() {
        let out = security_group_properties(&props(json!({
            "GroupDescription": "web",
            "SecurityGroupIngress": [
                {"IpProtocol": "tcp", "FromPort": "80", "ToPort": "80", "CidrIp": "0.0.0.0/0"},
                {"IpProtocol": "icmp", "FromPort": "-1", "ToPort": "-1", "SourceSecurityGroupId": "sg1"},
            ],
            "SecurityGroupEgress": [{"IpProtocol": "-1", "CidrIp": "10.0.0.0/8"}],
        })));
        assert_eq!(out["description"], "web");
        assert_eq!(
            out["rules"],
            json!([
                {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 80, "port_range_max": 80, "remote_ip_prefix": "0.0.0.0/0"},
                {"direction": "ingress", "ethertype": "IPv4", "protocol": "icmp", "remote_mode": "remote_group_id", "remote_group_id": "sg1"},
                {"direction": "egress", "ethertype": "IPv4", "remote_ip_prefix": "10.0.0.0/8"},
            ])
        );
    }

    #[test]
    fn volume_tags_become_metadata() {
        let out = volume_properties(&props(
            json!({"Size": 2, "AvailabilityZone": "nova", "Tags": [{"Key": "a", "Value": "b"}]}),
        ));
        assert_eq!(
            out,
            props(json!({"size": 2, "availability_zone": "nova", "metadata": {"a": "b"}}))
        );
    }
}
