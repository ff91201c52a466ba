//! The AWS autoscaling family: `AWS::AutoScaling::LaunchConfiguration`, `AutoScalingGroup`,
//! `ScalingPolicy`, and `AWS::CloudWatch::Alarm` as Heat provides it on a cloud with Aodh.
//!
//! The group and the policy are the Heat types (`OS::Heat::AutoScalingGroup`,
//! `OS::Heat::ScalingPolicy`) under AWS names: each call is handed to the Heat type with the
//! AWS properties translated, so sizing, cooldowns, signals, batching and member attributes
//! are one mechanism. Unlike the cloud aliases of `mod.rs`, a group's translation needs
//! another resource: its members are `AWS::EC2::Instance`s built from the launch
//! configuration the group references (or from an existing server, `InstanceId`), so the
//! member definition is built when the group is created or its launch configuration, tags or
//! subnet change, and kept in the group's data for the resizes in between.
//!
//! The launch configuration creates nothing: like Heat, it keeps its properties (rebuilt from
//! a server when `InstanceId` is given) as its stored state, which groups read.
//!
//! `AWS::CloudWatch::Alarm` is what Heat's global environment makes of it: a nested stack of
//! one `OS::Aodh::Alarm` (`__alarm__`) with the CloudWatch names mapped onto Aodh's.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use ember_engine::model::Action;
use ember_engine::nested::StackHandle;
use ember_engine::resource::{Properties, UpdateRequest};
use ember_engine::schema::{Constraint, PropertySchema, PropertyType, TypeSchema};
use ember_engine::{Progress, Registry, ResourceContext, ResourceError, ResourceType, Started};
use ember_openstack::services::compute::Compute;
use serde_json::{json, Map, Value};

use super::vpc::not_implemented;
use super::{custom, integer, key_values, list, map, schema, string};
use crate::heat::autoscaling_group::AutoScalingGroup as HeatGroup;
use crate::heat::scaling_policy::ScalingPolicy as HeatPolicy;
use crate::heat::stack::ProviderResource;
use crate::openstack::{client, cloud_error, Cloud};

/// Launch configuration data key: `{"properties", "metadata"}` as JSON, what groups build
/// their members from.
const LAUNCH_CONFIGURATION: &str = "launch_configuration";
/// Group data key: the member definition (JSON) the group scales with.
const MEMBER_DEFINITION: &str = "member_definition";
/// The type of the members (Heat maps its `OS::Heat::ScaledResource` onto it).
const MEMBER_TYPE: &str = "AWS::EC2::Instance";

pub(super) fn register(registry: &mut Registry, cloud: &Arc<Cloud>) {
    let handle = StackHandle::new();
    registry.add_stack_handle(handle.clone());
    registry.register(
        "AWS::AutoScaling::LaunchConfiguration",
        Arc::new(LaunchConfiguration::new(cloud.clone())),
    );
    registry.register(
        "AWS::AutoScaling::AutoScalingGroup",
        Arc::new(AutoScalingGroup::new(handle.clone(), cloud.clone())),
    );
    registry.register(
        "AWS::AutoScaling::ScalingPolicy",
        Arc::new(ScalingPolicy::new(handle.clone())),
    );
    registry.register(
        "AWS::CloudWatch::Alarm",
        Arc::new(ProviderResource::builtin(
            "AWS::CloudWatch::Alarm",
            CLOUDWATCH_ALARM,
            handle,
        )),
    );
}

/// The launch properties of an existing server (Heat's `rebuild_lc_properties`): its image,
/// flavor, key pair and security group names.
async fn server_launch_properties(
    cloud: &Cloud,
    cx: &ResourceContext,
    server_id: &str,
) -> Result<Map<String, Value>, ResourceError> {
    let compute = client(cloud, cx, Compute::new).await?;
    let server = compute.server(server_id).await.map_err(cloud_error)?;
    let groups: Vec<Value> = server["security_groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g.get("name").cloned())
        .collect();
    let mut out = Map::new();
    out.insert("ImageId".into(), server["image"]["id"].clone());
    // Nova gives the flavor's id before microversion 2.47 and its name from then on; the
    // flavor property takes either.
    let flavor = &server["flavor"];
    out.insert(
        "InstanceType".into(),
        flavor
            .get("id")
            .or_else(|| flavor.get("original_name"))
            .cloned()
            .unwrap_or(Value::Null),
    );
    out.insert("KeyName".into(), server["key_name"].clone());
    out.insert("SecurityGroups".into(), Value::Array(groups));
    Ok(out)
}

/// The given (non-null) properties, as Heat's `properties.data`.
fn given(props: &Properties) -> Map<String, Value> {
    props
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

pub struct LaunchConfiguration {
    schema: TypeSchema,
    cloud: Arc<Cloud>,
}

impl LaunchConfiguration {
    fn new(cloud: Arc<Cloud>) -> Self {
        let not_implemented = |t: PropertyType| PropertySchema::new(t, "Not Implemented.");
        let ebs = map("The ebs volume to attach to the instance.").with_keys(vec![
            ("DeleteOnTermination", PropertySchema::new(PropertyType::Boolean, "Indicate whether the volume should be deleted when the instance is terminated.").default(json!(true))),
            ("Iops", PropertySchema::new(PropertyType::Number, "The number of I/O operations per second that the volume supports.")),
            ("SnapshotId", custom(string("The ID of the snapshot to create a volume from."), "cinder.snapshot")),
            ("VolumeSize", string("The size of the volume, in GB. Must be equal or greater than the size of the snapshot. It is safe to leave this blank and have the Compute service infer the size.")),
            ("VolumeType", string("The volume type.")),
        ]);
        let mapping = map("").with_keys(vec![
            ("DeviceName", string("A device name where the volume will be attached in the system at /dev/device_name.e.g. vdb").required()),
            ("Ebs", ebs),
            ("NoDevice", map("The can be used to unmap a defined device.")),
            ("VirtualName", string("The name of the virtual device. The name must be in the form ephemeralX where X is a number starting from zero (0); for example, ephemeral0.")),
        ]);
        let schema = schema(
            "",
            vec![
                ("ImageId", custom(string("Glance image ID or name."), "glance.image")),
                ("InstanceType", custom(string("Nova instance type (flavor)."), "nova.flavor")),
                ("InstanceId", custom(string("The ID of an existing instance you want to use to create the launch configuration. All properties are derived from the instance with the exception of BlockDeviceMapping."), "nova.server")),
                ("KeyName", custom(string("Optional Nova keypair name."), "nova.keypair")),
                ("UserData", string("User data to pass to instance.")),
                ("SecurityGroups", list("Security group names to assign.")),
                ("KernelId", not_implemented(PropertyType::String)),
                ("RamDiskId", not_implemented(PropertyType::String)),
                ("BlockDeviceMappings", list("Block device mappings to attach to instance.").with_items(mapping)),
                ("NovaSchedulerHints", key_values("Scheduler hints to pass to Nova (Heat extension).")),
            ],
            &[],
        );
        LaunchConfiguration { schema, cloud }
    }
}

#[async_trait]
impl ResourceType for LaunchConfiguration {
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

    /// Heat's checks: no unimplemented property is given, every block device mapping is a
    /// snapshot, and without `InstanceId` the image and flavor are needed.
    fn validate(&self, properties: &Properties) -> Result<(), String> {
        not_implemented(properties, &["KernelId", "RamDiskId"])?;
        let mappings = properties
            .get("BlockDeviceMappings")
            .and_then(Value::as_array);
        for mapping in mappings.into_iter().flatten().filter_map(Value::as_object) {
            not_implemented(mapping, &["NoDevice", "VirtualName"])?;
            if let Some(ebs) = mapping.get("Ebs").and_then(Value::as_object) {
                not_implemented(ebs, &["Iops", "VolumeType"])?;
            }
        }
        for mapping in mappings.into_iter().flatten() {
            match mapping.get("Ebs").filter(|e| !e.is_null()) {
                Some(ebs)
                    if ebs
                        .get("SnapshotId")
                        .and_then(Value::as_str)
                        .is_some_and(|s| !s.is_empty()) => {}
                Some(_) => return Err(
                    "SnapshotId is missing, this is required when specifying BlockDeviceMappings."
                        .into(),
                ),
                None => {
                    return Err(
                        "Ebs is missing, this is required when specifying BlockDeviceMappings."
                            .into(),
                    )
                }
            }
        }
        let has = |k: &str| {
            properties
                .get(k)
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty())
        };
        if !(has("InstanceId") || has("ImageId") && has("InstanceType")) {
            return Err("If without InstanceId, ImageId and InstanceType are required.".into());
        }
        Ok(())
    }

    fn creates_synchronously(&self) -> bool {
        true
    }

    /// Stores the properties and metadata groups build members from; with `InstanceId`, the
    /// server's image, flavor, key pair and security groups fill in what the template does not
    /// give.
    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let mut launch = given(&cx.properties);
        if let Some(server) = cx.prop_str("InstanceId") {
            for (key, value) in server_launch_properties(&self.cloud, cx, server).await? {
                launch.entry(key).or_insert(value);
            }
        }
        Ok(Started {
            physical_id: Some(cx.physical_resource_name()),
            data: BTreeMap::from([(
                LAUNCH_CONFIGURATION.to_string(),
                json!({"properties": launch, "metadata": cx.metadata}).to_string(),
            )]),
        })
    }

    async fn attribute(
        &self,
        _cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        Ok((name == "show").then_some(Value::Null))
    }
}

/// Heat's adjustment type names for the CloudFormation ones.
fn heat_adjustment_type(aws: &str) -> Option<&'static str> {
    match aws {
        "ChangeInCapacity" => Some("change_in_capacity"),
        "ExactCapacity" => Some("exact_capacity"),
        "PercentChangeInCapacity" => Some("percent_change_in_capacity"),
        _ => None,
    }
}

/// An ISO 8601 duration of hours, minutes and seconds (`PT1M30S`) in seconds (Heat's
/// `parse_isoduration`).
fn iso_duration_secs(text: &str) -> Option<f64> {
    let rest = text.strip_prefix("PT")?;
    let mut total = 0.0;
    let mut number = String::new();
    for c in rest.chars() {
        match c {
            '0'..='9' | '.' => number.push(c),
            'H' | 'M' | 'S' => {
                let n: f64 = number.parse().ok()?;
                total += n * match c {
                    'H' => 3600.0,
                    'M' => 60.0,
                    _ => 1.0,
                };
                number.clear();
            }
            _ => return None,
        }
    }
    number.is_empty().then_some(total)
}

pub struct AutoScalingGroup {
    group: HeatGroup,
    handle: StackHandle,
    cloud: Arc<Cloud>,
    schema: TypeSchema,
}

impl AutoScalingGroup {
    fn new(handle: StackHandle, cloud: Arc<Cloud>) -> Self {
        let size = |d: &str| integer(d).required().update_allowed();
        let mut schema = schema(
            "",
            vec![
                ("AvailabilityZones", list("Not Implemented.").required()),
                ("LaunchConfigurationName", string("The reference to a LaunchConfiguration resource.").update_allowed()),
                ("InstanceId", custom(string("The ID of an existing instance to use to create the Auto Scaling group. If specify this property, will create the group use an existing instance instead of a launch configuration."), "nova.server")),
                ("MaxSize", size("Maximum number of instances in the group.")),
                ("MinSize", size("Minimum number of instances in the group.")),
                ("Cooldown", integer("Cooldown period, in seconds.").update_allowed()),
                ("DesiredCapacity", integer("Desired initial number of instances.").update_allowed()),
                ("HealthCheckGracePeriod", integer("Not Implemented.")),
                ("HealthCheckType", string("Not Implemented.").constraint(Constraint::AllowedValues(vec![json!("EC2"), json!("ELB")]))),
                ("LoadBalancerNames", list("List of LoadBalancer resources.")),
                ("VPCZoneIdentifier", list("Use only with Neutron, to list the internal subnet to which the instance will be attached; needed only if multiple exist; list length must be exactly 1.").with_items(string("UUID of the internal subnet to which the instance will be attached."))),
                ("Tags", key_values("Tags to attach to this group.")),
            ],
            &[("InstanceList", "A comma-delimited list of server ip addresses. (Heat extension).")],
        );
        schema.since_version = Some("2014.1");
        AutoScalingGroup {
            group: HeatGroup::new(handle.clone()),
            handle,
            cloud,
            schema,
        }
    }

    /// Heat's member tags: the group's, a `metering.groupname` tag unless the template gives a
    /// `metering.` one, and `metering.AutoScalingGroupName`, both the group's reference (what
    /// an alarm's `Dimensions` match).
    fn member_tags(cx: &ResourceContext, reference: &Value) -> Value {
        let mut tags: Vec<Value> = cx
            .properties
            .get("Tags")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let metering = tags.iter().any(|t| {
            t.get("Key")
                .and_then(Value::as_str)
                .is_some_and(|k| k.starts_with("metering."))
        });
        if !metering {
            tags.push(json!({"Key": "metering.groupname", "Value": reference}));
        }
        tags.push(json!({"Key": "metering.AutoScalingGroupName", "Value": reference}));
        Value::Array(tags)
    }

    /// The member definition: the launch configuration's properties and metadata (or the
    /// server's properties, with `InstanceId`), the member tags and the subnet of
    /// `VPCZoneIdentifier`.
    async fn member_definition(&self, cx: &ResourceContext) -> Result<Value, ResourceError> {
        let (mut props, metadata) = match cx.prop_str("InstanceId") {
            Some(server) => (
                server_launch_properties(&self.cloud, cx, server).await?,
                Value::Null,
            ),
            None => self.launch_configuration(cx).await?,
        };
        props.remove("InstanceId");
        props.insert("Tags".into(), Self::member_tags(cx, &self.reference_id(cx)));
        if let Some(subnet) = cx
            .properties
            .get("VPCZoneIdentifier")
            .and_then(|v| v.get(0))
        {
            props.insert("SubnetId".into(), subnet.clone());
        }
        let mut member = json!({"type": MEMBER_TYPE, "properties": props});
        if metadata.as_object().is_some_and(|m| !m.is_empty()) {
            member["metadata"] = metadata;
        }
        Ok(member)
    }

    /// The stored properties and metadata of the launch configuration
    /// `LaunchConfigurationName` refers to.
    async fn launch_configuration(
        &self,
        cx: &ResourceContext,
    ) -> Result<(Map<String, Value>, Value), ResourceError> {
        let reference = cx.prop_str("LaunchConfigurationName").unwrap_or_default();
        let not_found = || {
            ResourceError::new(
                "ValueError",
                format!("LaunchConfigurationName ({reference}) reference can not be found."),
            )
        };
        let control = self.handle.get()?;
        let name = control
            .resource_by_reference(&cx.stack_id, reference)
            .await?
            .ok_or_else(not_found)?;
        let data = control
            .resource_data(&cx.stack_id, &name)
            .await?
            .unwrap_or_default();
        let mut stored: Value = data
            .get(LAUNCH_CONFIGURATION)
            .and_then(|text| serde_json::from_str(text).ok())
            .ok_or_else(not_found)?;
        let properties = stored["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        Ok((properties, stored["metadata"].take()))
    }

    /// The Heat group's view: the sizes, the member definition as `resource`, and the
    /// `AutoScalingRollingUpdate` policy as `rolling_updates` (none without one: then, as in
    /// Heat, a changed launch configuration reaches only the members added later).
    fn heat_context(cx: &ResourceContext, member: Value) -> ResourceContext {
        let mut heat = cx.clone();
        let mut props = Properties::new();
        for (aws, name) in [
            ("MinSize", "min_size"),
            ("MaxSize", "max_size"),
            ("DesiredCapacity", "desired_capacity"),
            ("Cooldown", "cooldown"),
        ] {
            if let Some(value) = cx.properties.get(aws).filter(|v| !v.is_null()) {
                props.insert(name.into(), value.clone());
            }
        }
        props.insert("resource".into(), member);
        let rolling = cx
            .update_policy
            .get("AutoScalingRollingUpdate")
            .filter(|p| p.is_object());
        props.insert(
            "rolling_updates".into(),
            rolling.map_or(Value::Null, |policy| {
                let number = |key: &str, default: i64| {
                    policy.get(key).and_then(Value::as_i64).unwrap_or(default)
                };
                let pause = policy
                    .get("PauseTime")
                    .and_then(Value::as_str)
                    .and_then(iso_duration_secs)
                    .unwrap_or(0.0);
                json!({
                    "min_in_service": number("MinInstancesInService", 0),
                    "max_batch_size": number("MaxBatchSize", 1),
                    "pause_time": pause,
                })
            }),
        );
        heat.properties = props;
        heat.update_policy = Value::Null;
        heat
    }

    /// The Heat group's view with the member definition kept in the data.
    fn stored_context(cx: &ResourceContext) -> ResourceContext {
        let member = cx
            .data
            .get(MEMBER_DEFINITION)
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or(Value::Null);
        Self::heat_context(cx, member)
    }

    fn with_member(mut started: Started, member: &Value) -> Started {
        started
            .data
            .insert(MEMBER_DEFINITION.into(), member.to_string());
        started
    }
}

#[async_trait]
impl ResourceType for AutoScalingGroup {
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

    /// Heat's checks and messages, in its order.
    fn validate(&self, properties: &Properties) -> Result<(), String> {
        let int = |k: &str| properties.get(k).and_then(Value::as_i64);
        let (min, max) = (int("MinSize").unwrap_or(0), int("MaxSize").unwrap_or(0));
        if max < min {
            return Err("MinSize can not be greater than MaxSize".into());
        }
        if min < 0 {
            return Err("The size of AutoScalingGroup can not be less than zero".into());
        }
        if int("DesiredCapacity").is_some_and(|d| d < min || d > max) {
            return Err("DesiredCapacity must be between MinSize and MaxSize".into());
        }
        if properties
            .get("VPCZoneIdentifier")
            .and_then(Value::as_array)
            .is_some_and(|z| !z.is_empty() && z.len() != 1)
        {
            return Err("Anything other than one VPCZoneIdentifier is not supported.".into());
        }
        let has = |k: &str| {
            properties
                .get(k)
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty())
        };
        if has("InstanceId") == has("LaunchConfigurationName") {
            return Err(
                "Either 'InstanceId' or 'LaunchConfigurationName' must be provided.".into(),
            );
        }
        // Heat validates the properties themselves last.
        not_implemented(properties, &["HealthCheckGracePeriod", "HealthCheckType"])
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let member = self.member_definition(cx).await?;
        let started = self
            .group
            .create(&Self::heat_context(cx, member.clone()))
            .await?;
        Ok(Self::with_member(started, &member))
    }

    async fn check_create_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        self.group
            .check_create_complete(&Self::stored_context(cx))
            .await
    }

    fn completion_data(&self, cx: &ResourceContext, action: Action) -> BTreeMap<String, String> {
        self.group
            .completion_data(&Self::stored_context(cx), action)
    }

    /// The member definition is rebuilt when what it is made of changed; a changed definition
    /// rolls through the members as `AutoScalingRollingUpdate` says.
    async fn update(
        &self,
        cx: &ResourceContext,
        req: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        let sources = [
            "LaunchConfigurationName",
            "InstanceId",
            "Tags",
            "VPCZoneIdentifier",
        ];
        let stored = Self::stored_context(cx);
        let member = match stored.properties.get("resource") {
            Some(member)
                if !member.is_null()
                    && !req.changed.iter().any(|c| sources.contains(&c.as_str())) =>
            {
                member.clone()
            }
            _ => self.member_definition(cx).await?,
        };
        let heat = Self::heat_context(cx, member.clone());
        let mut changed: Vec<String> = Vec::new();
        if stored.properties.get("resource") != Some(&member) {
            changed.push("resource".into());
        }
        changed.extend(
            heat.properties
                .keys()
                .filter(|k| {
                    *k != "resource" && stored.properties.get(*k) != heat.properties.get(*k)
                })
                .cloned(),
        );
        let heat_old = Self::stored_context(&ResourceContext {
            properties: req.old_properties.clone(),
            ..cx.clone()
        });
        let started = self
            .group
            .update(
                &heat,
                UpdateRequest {
                    old_properties: &heat_old.properties,
                    changed: &changed,
                },
            )
            .await?;
        Ok(Self::with_member(started, &member))
    }

    async fn check_update_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        self.group
            .check_update_complete(&Self::stored_context(cx))
            .await
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        self.group.delete(&Self::stored_context(cx)).await
    }

    async fn check_delete_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        self.group
            .check_delete_complete(&Self::stored_context(cx))
            .await
    }

    async fn handle_signal(
        &self,
        cx: &ResourceContext,
        details: &Value,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        self.group
            .handle_signal(&Self::stored_context(cx), details)
            .await
    }

    /// `InstanceList`: the members' `PublicIp`s joined with commas (null for no members).
    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        match name {
            "InstanceList" => {
                let ips = self
                    .group
                    .attribute_with_path(
                        &Self::stored_context(cx),
                        "outputs_list",
                        &[json!("PublicIp")],
                    )
                    .await?
                    .unwrap_or(Value::Null);
                let ips: Vec<&str> = ips
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                Ok(Some(if ips.is_empty() {
                    Value::Null
                } else {
                    Value::String(ips.join(","))
                }))
            }
            "show" => Ok(Some(Value::Null)),
            _ => Ok(None),
        }
    }
}

pub struct ScalingPolicy {
    policy: HeatPolicy,
    schema: TypeSchema,
}

impl ScalingPolicy {
    fn new(handle: StackHandle) -> Self {
        let adjustment_types = [
            "ChangeInCapacity",
            "ExactCapacity",
            "PercentChangeInCapacity",
        ];
        let schema = schema(
            "",
            vec![
                ("AutoScalingGroupName", string("AutoScaling group name to apply policy to.").required()),
                ("ScalingAdjustment", integer("Size of adjustment.").required().update_allowed()),
                ("AdjustmentType", string("Type of adjustment (absolute or percentage).").required().update_allowed()
                    .constraint(Constraint::AllowedValues(adjustment_types.iter().map(|t| json!(t)).collect()))),
                ("Cooldown", integer("Cooldown period, in seconds.").update_allowed()),
                ("MinAdjustmentStep", integer("Minimum number of resources that are added or removed when the AutoScaling group scales up or down. This can be used only when specifying PercentChangeInCapacity for the AdjustmentType property.")
                    .update_allowed().constraint(Constraint::Range { min: Some(0.0), max: None })),
            ],
            &[("AlarmUrl", "A signed url to handle the alarm. (Heat extension).")],
        );
        ScalingPolicy {
            policy: HeatPolicy::new(handle),
            schema,
        }
    }

    /// The Heat policy's view of this one.
    fn heat_context(cx: &ResourceContext) -> ResourceContext {
        let mut heat = cx.clone();
        let mut props = Properties::new();
        for (aws, name) in [
            ("AutoScalingGroupName", "auto_scaling_group_id"),
            ("ScalingAdjustment", "scaling_adjustment"),
            ("Cooldown", "cooldown"),
            ("MinAdjustmentStep", "min_adjustment_step"),
        ] {
            if let Some(value) = cx.properties.get(aws).filter(|v| !v.is_null()) {
                props.insert(name.into(), value.clone());
            }
        }
        if let Some(kind) = cx.prop_str("AdjustmentType").and_then(heat_adjustment_type) {
            props.insert("adjustment_type".into(), json!(kind));
        }
        heat.properties = props;
        heat
    }
}

#[async_trait]
impl ResourceType for ScalingPolicy {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    /// Heat's `ResourcePropertyValueDependency`.
    fn validate(&self, properties: &Properties) -> Result<(), String> {
        let step = properties
            .get("MinAdjustmentStep")
            .is_some_and(|v| !v.is_null());
        if step
            && properties.get("AdjustmentType").and_then(Value::as_str)
                != Some("PercentChangeInCapacity")
        {
            return Err("MinAdjustmentStep property should only be specified for AdjustmentType with value PercentChangeInCapacity.".into());
        }
        Ok(())
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        self.policy.create(&Self::heat_context(cx)).await
    }

    async fn update(
        &self,
        cx: &ResourceContext,
        req: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        self.policy.update(&Self::heat_context(cx), req).await
    }

    async fn handle_signal(
        &self,
        cx: &ResourceContext,
        details: &Value,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        self.policy
            .handle_signal(&Self::heat_context(cx), details)
            .await
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        match name {
            "AlarmUrl" => self.policy.attribute(cx, "alarm_url").await,
            "show" => Ok(Some(Value::Null)),
            _ => Ok(None),
        }
    }

    /// As in Heat, the policy's `Ref` is its pre-signed URL once it exists, so an alarm's
    /// `AlarmActions: [{Ref: policy}]` signals it.
    fn reference_id(&self, cx: &ResourceContext) -> Value {
        match (&cx.physical_id, cx.data.get("alarm_url")) {
            (Some(_), Some(url)) => Value::String(url.clone()),
            _ => Value::String(cx.name.clone()),
        }
    }
}

/// Heat's global environment maps `AWS::CloudWatch::Alarm` onto a template of one Aodh alarm;
/// this is that mapping: the CloudWatch properties are the parameters, the operator and
/// statistic names are translated, `Dimensions` become the matching metadata.
const CLOUDWATCH_ALARM: &str = r#"
HeatTemplateFormatVersion: '2012-12-12'
Description: AWS::CloudWatch::Alarm as an Aodh alarm.
Parameters:
  AlarmDescription: {Type: String, Default: An alarm}
  EvaluationPeriods: {Type: String}
  MetricName: {Type: String}
  Namespace: {Type: String, Default: system/linux}
  Period: {Type: String}
  ComparisonOperator:
    Type: String
    AllowedValues: [GreaterThanOrEqualToThreshold, GreaterThanThreshold, LessThanThreshold, LessThanOrEqualToThreshold]
  Statistic:
    Type: String
    AllowedValues: [SampleCount, Average, Sum, Minimum, Maximum]
  Threshold: {Type: String}
  Units:
    Type: String
    Default: None
    AllowedValues: [Seconds, Microseconds, Milliseconds, Bytes, Kilobytes, Megabytes, Gigabytes,
      Terabytes, Bits, Kilobits, Megabits, Gigabits, Terabits, Percent, Count, Bytes/Second,
      Kilobytes/Second, Megabytes/Second, Gigabytes/Second, Terabytes/Second, Bits/Second,
      Kilobits/Second, Megabits/Second, Gigabits/Second, Terabits/Second, Count/Second, None]
  AlarmActions: {Type: CommaDelimitedList, Default: ''}
  OKActions: {Type: CommaDelimitedList, Default: ''}
  InsufficientDataActions: {Type: CommaDelimitedList, Default: ''}
  Dimensions: {Type: CommaDelimitedList, Default: ''}
Mappings:
  Operator:
    GreaterThanOrEqualToThreshold: {Aodh: ge}
    GreaterThanThreshold: {Aodh: gt}
    LessThanThreshold: {Aodh: lt}
    LessThanOrEqualToThreshold: {Aodh: le}
  Statistic:
    SampleCount: {Aodh: count}
    Average: {Aodh: avg}
    Sum: {Aodh: sum}
    Minimum: {Aodh: min}
    Maximum: {Aodh: max}
Resources:
  __alarm__:
    Type: OS::Aodh::Alarm
    Properties:
      description: {Ref: AlarmDescription}
      meter_name: {Ref: MetricName}
      period: {Ref: Period}
      evaluation_periods: {Ref: EvaluationPeriods}
      threshold: {Ref: Threshold}
      repeat_actions: true
      alarm_actions: {Ref: AlarmActions}
      ok_actions: {Ref: OKActions}
      insufficient_data_actions: {Ref: InsufficientDataActions}
      statistic: {'Fn::FindInMap': [Statistic, {Ref: Statistic}, Aodh]}
      comparison_operator: {'Fn::FindInMap': [Operator, {Ref: ComparisonOperator}, Aodh]}
      matching_metadata: {'Fn::MemberListToMap': [Name, Value, {Ref: Dimensions}]}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_time_is_an_iso_duration() {
        assert_eq!(iso_duration_secs("PT0S"), Some(0.0));
        assert_eq!(iso_duration_secs("PT1M30S"), Some(90.0));
        assert_eq!(iso_duration_secs("PT1H"), Some(3600.0));
        assert_eq!(iso_duration_secs("PT5"), None);
        assert_eq!(iso_duration_secs("5S"), None);
    }
}
