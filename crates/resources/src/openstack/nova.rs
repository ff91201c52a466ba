//! `OS::Nova::{Server, KeyPair, Flavor, ServerGroup}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use ember_engine::nested::{SignalUrlKind, StackHandle};
use ember_engine::resource::UpdateRequest;
use ember_engine::schema::{Constraint, TypeSchema};
use ember_engine::{Progress, Registry, ResourceContext, ResourceError, ResourceType, Started};
use ember_openstack::services::compute::Compute;
use ember_openstack::services::image::Image;
use ember_openstack::services::network::{Network, NeutronKind};
use ember_openstack::{ServiceType, Session};
use serde_json::{json, Map, Value};

use super::props::{allowed, boolean, custom, integer, list, map, number, string, type_schema};
use super::{cloud_error, name_or_generated, physical_id, progress, started_now, Cloud};

pub(super) fn register(registry: &mut Registry, cloud: &Arc<Cloud>) {
    // The server reads software configs and mints its metadata URL through the engine.
    let handle = StackHandle::new();
    registry.add_stack_handle(handle.clone());
    registry.register(
        "OS::Nova::Server",
        Arc::new(Server {
            schema: server_schema(),
            cloud: cloud.clone(),
            handle,
        }),
    );
    registry.register(
        "OS::Nova::KeyPair",
        Arc::new(KeyPair {
            schema: type_schema(
                "A resource for creating Nova key pairs.",
                vec![
                    ("name", string("The name of the key pair.").required()),
                    ("save_private_key", boolean("True if the system should remember a generated private key; False otherwise.").default(json!(false))),
                    ("public_key", string("The optional public key. This allows users to supply the public key from a pre-existing key pair. If not supplied, a new key pair will be generated.")),
                    ("type", allowed(string("Keypair type."), &["ssh", "x509"])),
                    ("user", string("ID or name of user to whom to add key-pair.")),
                ],
                &["private_key", "public_key"],
            ),
            cloud: cloud.clone(),
        }),
    );
    registry.register(
        "OS::Nova::Flavor",
        Arc::new(Flavor {
            schema: type_schema(
                "A resource for creating OpenStack virtual hardware templates.",
                vec![
                    ("name", string("Name of the flavor.")),
                    ("flavorid", string("Unique ID of the flavor. If not specified, an UUID will be auto generated and used.")),
                    ("ram", integer("Memory in MB for the flavor.").required()),
                    ("vcpus", integer("Number of VCPUs for the flavor.").required()),
                    ("disk", integer("Size of local disk in GB.").default(json!(0))),
                    ("swap", integer("Swap space in MB.").default(json!(0))),
                    ("ephemeral", integer("Size of a secondary ephemeral data disk in GB.").default(json!(0))),
                    ("rxtx_factor", number("RX/TX factor.").default(json!(1.0))),
                    ("is_public", boolean("Scope of flavor accessibility. Public or private.").default(json!(true))),
                    ("extra_specs", map("Key/Value pairs to extend the capabilities of the flavor.").update_allowed()),
                    ("tenants", list("List of tenants.").update_allowed().default(json!([]))),
                    ("description", string("Description of the flavor.").update_allowed()),
                ],
                &["is_public", "extra_specs"],
            ),
            cloud: cloud.clone(),
        }),
    );
    registry.register(
        "OS::Nova::ServerGroup",
        Arc::new(ServerGroup {
            schema: type_schema(
                "A resource for managing a Nova server group.",
                vec![
                    ("name", string("Server Group name.")),
                    (
                        "policies",
                        list("A list of string policies to apply. Defaults to anti-affinity.")
                            .default(json!(["anti-affinity"])),
                    ),
                    ("rules", map("Rules for a policy.")),
                ],
                &[],
            ),
            cloud: cloud.clone(),
        }),
    );
}

fn server_schema() -> TypeSchema {
    type_schema(
        "A resource for managing Nova instances.",
        vec![
            ("name", string("Server name.").update_allowed()),
            ("image", custom(string("The ID or name of the image to boot with.").update_allowed(), "glance.image")),
            ("block_device_mapping", list("Block device mappings for this server.").with_items(map("A block device mapping.").with_keys(vec![
                ("device_name", string("A device name where the volume will be attached in the system at /dev/device_name.").required()),
                ("volume_id", custom(string("The ID of the volume to boot from."), "cinder.volume")),
                ("snapshot_id", custom(string("The ID of the snapshot to create a volume from."), "cinder.snapshot")),
                ("volume_size", integer("The size of the volume, in GB.")),
                ("delete_on_termination", boolean("Indicate whether the volume should be deleted when the server is terminated.")),
            ]))),
            ("block_device_mapping_v2", list("Block device mappings v2 for this server.").with_items(map("A block device mapping v2.").with_keys(vec![
                ("device_name", string("A device name where the volume will be attached in the system at /dev/device_name.")),
                ("volume_id", custom(string("The volume_id can be boot or non-boot device to the server."), "cinder.volume")),
                ("image_id", custom(string("The ID of the image to create a volume from."), "glance.image")),
                ("image", custom(string("The ID or name of the image to create a volume from."), "glance.image")),
                ("snapshot_id", custom(string("The ID of the snapshot to create a volume from."), "cinder.snapshot")),
                ("swap_size", integer("The size of the swap, in MB.")),
                ("ephemeral_size", integer("The size of the local ephemeral block device, in GB.").constraint(Constraint::Range { min: Some(1.0), max: None })),
                ("ephemeral_format", allowed(string("The format of the local ephemeral block device."), &["ext2", "ext3", "ext4", "xfs", "ntfs"])),
                ("device_type", allowed(string("Device type: at the moment we can make distinction only between disk and cdrom."), &["cdrom", "disk"])),
                ("disk_bus", allowed(string("Bus of the device: hypervisor driver chooses a suitable default if omitted."), &["ide", "lame_bus", "sata", "scsi", "usb", "virtio"])),
                ("boot_index", integer("Integer used for ordering the boot disks.")),
                ("volume_size", integer("Size of the block device in GB.")),
                ("delete_on_termination", boolean("Indicate whether the volume should be deleted when the server is terminated.")),
                ("volume_type", custom(string("The type of volume to use when creating a volume from image, snapshot, or blank source."), "cinder.vtype")),
            ]))),
            ("flavor", custom(string("The ID or name of the flavor to boot onto.").required().update_allowed(), "nova.flavor")),
            ("flavor_update_policy", allowed(string("Policy on how to apply a flavor update; either by requesting a server resize or by replacing the entire server.").update_allowed().default(json!("RESIZE")), &["RESIZE", "REPLACE"])),
            ("image_update_policy", allowed(string("Policy on how to apply an image-id update.").update_allowed().default(json!("REBUILD")), &["REBUILD", "REPLACE", "REBUILD_PRESERVE_EPHEMERAL"])),
            ("key_name", custom(string("Name of keypair to inject into the server."), "nova.keypair")),
            ("availability_zone", string("Name of the availability zone for server placement.")),
            ("security_groups", list("List of security group names or IDs.").default(json!([]))),
            ("networks", list("An ordered list of nics to be added to this server.").update_allowed().with_items(map("A nic.").with_keys(vec![
                ("uuid", custom(string("ID of network to create a port on."), "neutron.network")),
                ("network", custom(string("Name or ID of network to create a port on."), "neutron.network")),
                ("allocate_network", allowed(string("The special string values of network, auto or none.").update_allowed(), &["none", "auto"])),
                ("fixed_ip", string("Fixed IP address to specify for the port created on the requested network.")),
                ("port", custom(string("ID of an existing port to associate with this server."), "neutron.port")),
                ("port_extra_properties", map("Dict, which has expand properties for port.").update_allowed()),
                ("subnet", string("Subnet in which to allocate the IP address for port.")),
                ("floating_ip", string("ID of the floating IP to associate.")),
                ("tag", string("Port tag.")),
            ]))),
            ("scheduler_hints", map("Arbitrary key-value pairs specified by the client to help boot a server.")),
            ("metadata", map("Arbitrary key/value metadata to store for this server.").update_allowed().default(json!({}))),
            ("user_data_format", allowed(string("How the user_data should be formatted for the server.").default(json!("HEAT_CFNTOOLS")), &["HEAT_CFNTOOLS", "RAW", "SOFTWARE_CONFIG"])),
            ("software_config_transport", allowed(string("How the server should receive the metadata required for software configuration.").update_allowed().default(json!("POLL_SERVER_CFN")), &["POLL_SERVER_CFN", "POLL_SERVER_HEAT", "POLL_TEMP_URL", "ZAQAR_MESSAGE"])),
            ("user_data_update_policy", allowed(string("Policy on how to apply a user_data update.").update_allowed().default(json!("REPLACE")), &["REPLACE", "IGNORE", "REBUILD"])),
            ("user_data", string("User data script to be executed by cloud-init or CoreOS ignition.").update_allowed().default(json!(""))),
            ("reservation_id", string("A UUID for the set of servers being requested.")),
            ("config_drive", boolean("If True, enable config drive on the server.")),
            ("diskConfig", allowed(string("Control how the disk is partitioned when the server is created."), &["AUTO", "MANUAL"])),
            ("personality", map("A map of files to create/overwrite on the server upon boot.").default(json!({}))),
            ("admin_pass", string("The administrator password for the server.").update_allowed()),
            ("tags", list("Server tags.").update_allowed()),
            ("deployment_swift_data", map("Swift container and object to use for storing deployment data.").update_allowed().default(json!({}))),
        ],
        &["name", "addresses", "networks", "first_address", "instance_name", "accessIPv4", "accessIPv6", "console_urls", "tags", "os_collect_config"],
    )
}

/// Nova takes user data base64-encoded.
fn base64_text(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Nova metadata values are strings: Heat sends other JSON values serialized.
fn string_map(value: Option<&Value>) -> Value {
    let mut out = Map::new();
    for (key, value) in value.and_then(Value::as_object).into_iter().flatten() {
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.insert(key.clone(), Value::String(text));
    }
    Value::Object(out)
}

/// Data keys of the server type.
const INTERNAL_PORTS: &str = "internal_ports";
const RESIZE_REQUEST: &str = "resize_request_id";
const RESIZE_FLAVOR: &str = "resize_flavor";
const REBUILD_IMAGE: &str = "rebuild_image";
const DETACHING: &str = "detaching_ports";
/// Heat's data key for the image a snapshot made.
const SNAPSHOT_IMAGE: &str = "snapshot_image_id";
/// The `os-collect-config` settings a SOFTWARE_CONFIG server booted with (JSON), for the
/// `os_collect_config` attribute.
const OS_COLLECT_CONFIG: &str = "os_collect_config";

struct Server {
    schema: TypeSchema,
    cloud: Arc<Cloud>,
    handle: StackHandle,
}

/// What a server boots with: the user data Nova gets (base64; none for an empty RAW text) and
/// the metadata in it.
struct BootData {
    user_data: Option<String>,
    metadata: Value,
    /// The stack user of a POLL_SERVER_HEAT server.
    stack_user: Option<super::stack_domain::ResourceUser>,
}

impl BootData {
    /// Data to store: the `os-collect-config` a SOFTWARE_CONFIG server got, and its stack user.
    fn record(&self, data: &mut BTreeMap<String, String>) {
        if let Some(occ) = self.metadata.get("os-collect-config") {
            data.insert(OS_COLLECT_CONFIG.into(), occ.to_string());
        }
        if let Some(user) = &self.stack_user {
            data.extend(user.data());
        }
    }
}

impl Server {
    async fn image_id(session: &Session, image: &str) -> Result<String, ResourceError> {
        let found = Image::new(session)
            .await
            .map_err(cloud_error)?
            .find(image)
            .await
            .map_err(cloud_error)?;
        Ok(found["id"].as_str().unwrap_or_default().to_string())
    }

    /// The `networks` of the request. An entry with only a `subnet` gets a port made here on
    /// that subnet (as Heat does), listed in `ports_made` so delete removes it.
    async fn nics(
        session: &Session,
        cx: &ResourceContext,
        ports_made: &mut Vec<String>,
    ) -> Result<Value, ResourceError> {
        let Some(entries) = cx.properties.get("networks").and_then(Value::as_array) else {
            return Ok(json!("auto"));
        };
        if entries.is_empty() {
            return Ok(json!("none"));
        }
        let network = Network::new(session).await.map_err(cloud_error)?;
        let mut nics = Vec::new();
        for entry in entries {
            nics.push(Value::Object(
                Self::nic(&network, cx, entry, ports_made).await?,
            ));
        }
        Ok(Value::Array(nics))
    }

    /// One `networks` entry as Nova's nic (`port`, or `uuid` with `fixed_ip`); a subnet-only
    /// entry gets a port made here, pushed on `ports_made`.
    async fn nic(
        network: &Network,
        cx: &ResourceContext,
        entry: &Value,
        ports_made: &mut Vec<String>,
    ) -> Result<Map<String, Value>, ResourceError> {
        let get = |k: &str| {
            entry
                .get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let mut nic = Map::new();
        if let Some(port) = get("port") {
            nic.insert("port".into(), json!(port));
        } else if let Some(net) = get("network").or_else(|| get("uuid")) {
            let found = network
                .find(NeutronKind::Network, net)
                .await
                .map_err(cloud_error)?;
            nic.insert("uuid".into(), found["id"].clone());
            if let Some(ip) = get("fixed_ip") {
                nic.insert("fixed_ip".into(), json!(ip));
            }
        } else if let Some(subnet) = get("subnet") {
            let subnet = network
                .find(NeutronKind::Subnet, subnet)
                .await
                .map_err(cloud_error)?;
            let mut fixed = json!({"subnet_id": subnet["id"]});
            if let Some(ip) = get("fixed_ip") {
                fixed["ip_address"] = json!(ip);
            }
            let mut port = json!({
                "network_id": subnet["network_id"],
                "fixed_ips": [fixed],
                "name": format!("{}-port-{}", name_or_generated(cx), ports_made.len()),
            });
            let groups = cx
                .properties
                .get("security_groups")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let groups = super::security_group_ids(network, groups).await?;
            if !groups.is_empty() {
                port["security_groups"] = json!(groups);
            }
            let made = network
                .create(NeutronKind::Port, port)
                .await
                .map_err(cloud_error)?;
            let id = made["id"].as_str().unwrap_or_default().to_string();
            ports_made.push(id.clone());
            nic.insert("port".into(), json!(id));
        }
        if let Some(tag) = get("tag") {
            nic.insert("tag".into(), json!(tag));
        }
        Ok(nic)
    }

    /// Heat's in-place `networks` update: the interfaces of entries that went away are
    /// detached (all of them when the old value let Nova choose), those of new entries attached.
    /// Returns the ports being detached (Nova detaches asynchronously) and the ports made here.
    async fn update_networks(
        session: &Session,
        cx: &ResourceContext,
        id: &str,
        old: &Map<String, Value>,
    ) -> Result<(Vec<String>, Vec<String>), ResourceError> {
        let compute = Compute::new(session).await.map_err(cloud_error)?;
        let network = Network::new(session).await.map_err(cloud_error)?;
        let entries = |props: &Map<String, Value>| -> Option<Vec<Value>> {
            props.get("networks").and_then(Value::as_array).cloned()
        };
        let mut added = entries(&cx.properties).unwrap_or_default();
        let mut interfaces = compute.interfaces(id).await.map_err(cloud_error)?;
        let mut detach = Vec::new();
        match entries(old) {
            None => detach.append(&mut interfaces),
            Some(old_entries) => {
                for entry in old_entries {
                    if let Some(kept) = added.iter().position(|e| *e == entry) {
                        added.remove(kept);
                        continue;
                    }
                    let matched = Self::interface_of(&network, &entry, &interfaces).await?;
                    if let Some(index) = matched {
                        detach.push(interfaces.remove(index));
                    }
                }
            }
        }
        let mut detaching = Vec::new();
        for interface in detach {
            let port = interface["port_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            compute
                .detach_interface(id, &port)
                .await
                .map_err(cloud_error)?;
            detaching.push(port);
        }
        let mut ports_made = Vec::new();
        for entry in &added {
            let nic = Self::nic(&network, cx, entry, &mut ports_made).await?;
            let mut attachment = Map::new();
            if let Some(port) = nic.get("port") {
                attachment.insert("port_id".into(), port.clone());
            } else if let Some(net) = nic.get("uuid") {
                attachment.insert("net_id".into(), net.clone());
                if let Some(ip) = nic.get("fixed_ip") {
                    attachment.insert("fixed_ips".into(), json!([{ "ip_address": ip }]));
                }
            } else {
                continue;
            }
            compute
                .attach_interface(id, Value::Object(attachment))
                .await
                .map_err(cloud_error)?;
        }
        Ok((detaching, ports_made))
    }

    /// The index in `interfaces` of the one an old `networks` entry made: its port, else one on
    /// its network (with its fixed IP when given), else one on its subnet.
    async fn interface_of(
        network: &Network,
        entry: &Value,
        interfaces: &[Value],
    ) -> Result<Option<usize>, ResourceError> {
        let get = |k: &str| {
            entry
                .get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let has_ip = |interface: &Value, key: &str, wanted: &str| {
            interface["fixed_ips"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|ip| ip[key] == wanted)
        };
        if let Some(port) = get("port") {
            return Ok(interfaces.iter().position(|i| i["port_id"] == port));
        }
        if let Some(net) = get("network").or_else(|| get("uuid")) {
            let found = network
                .find(NeutronKind::Network, net)
                .await
                .map_err(cloud_error)?;
            return Ok(interfaces.iter().position(|i| {
                i["net_id"] == found["id"]
                    && get("fixed_ip").is_none_or(|ip| has_ip(i, "ip_address", ip))
            }));
        }
        if let Some(subnet) = get("subnet") {
            let found = network
                .find(NeutronKind::Subnet, subnet)
                .await
                .map_err(cloud_error)?;
            let subnet_id = found["id"].as_str().unwrap_or_default();
            return Ok(interfaces
                .iter()
                .position(|i| has_ip(i, "subnet_id", subnet_id)));
        }
        Ok(None)
    }

    /// The user data Nova gets, built per `user_data_format` (see `user_data.rs`) as Heat's
    /// `handle_create` builds it: a RAW or SOFTWARE_CONFIG `user_data` that is the id of a
    /// software config stands for that config's body; HEAT_CFNTOOLS carries the resource's
    /// `Metadata`, SOFTWARE_CONFIG that metadata with the deployments and os-collect-config.
    async fn boot_data(
        &self,
        session: &Session,
        cx: &ResourceContext,
    ) -> Result<BootData, ResourceError> {
        let format = cx.prop_str("user_data_format").unwrap_or("HEAT_CFNTOOLS");
        let given = cx.prop_str("user_data").unwrap_or_default();
        let text = match format {
            "HEAT_CFNTOOLS" => None,
            _ => self.software_config_body(given).await?,
        };
        let text = text.as_deref().unwrap_or(given);
        if format == "RAW" {
            return Ok(BootData {
                user_data: (!text.is_empty()).then(|| base64_text(text)),
                metadata: Value::Null,
                stack_user: None,
            });
        }
        let metadata_url = self.metadata_url(cx).await?;
        let transport = cx
            .prop_str("software_config_transport")
            .unwrap_or("POLL_SERVER_CFN");
        // Heat's `_create_transport_credentials`: POLL_SERVER_HEAT polls as a stack user.
        let stack_user = match (format, transport) {
            ("SOFTWARE_CONFIG", "POLL_SERVER_HEAT") => {
                Some(super::stack_domain::resource_user(self.handle.get()?.as_ref(), cx).await?)
            }
            _ => None,
        };
        let metadata = if format == "SOFTWARE_CONFIG" {
            let stack_path = format!("{}/{}", cx.stack_name, cx.stack_id);
            let heat = stack_user
                .as_ref()
                .map(|user| super::user_data::heat_collector(user, &stack_path, &cx.name));
            super::user_data::software_config_metadata(
                &cx.metadata,
                transport,
                metadata_url.as_deref(),
                heat,
            )
        } else {
            cx.metadata.clone()
        };
        // Ember's own CFN-compatible endpoint (where its pre-signed URLs point), else the
        // catalog's, as Heat's `get_cfn_metadata_server_url`.
        let cfn_url = match metadata_url
            .as_deref()
            .and_then(|url| url.find("/v1/").map(|at| &url[..at]))
        {
            Some(base) => Some(format!("{base}/v1/")),
            None => match session.service(ServiceType::CloudFormation).await {
                Ok(client) => Some(format!("{}/", client.endpoint().trim_end_matches('/'))),
                Err(_) => None,
            },
        };
        let built = super::user_data::build(&super::user_data::UserDataInput {
            format,
            user_data: text,
            metadata: &metadata,
            cfn_url: cfn_url.as_deref(),
            boundary: None,
        });
        Ok(BootData {
            user_data: Some(base64_text(&built)),
            metadata,
            stack_user,
        })
    }

    /// The body of the software config whose id `user_data` is (Heat's `get_software_config`);
    /// `None` when it is no id of a stored config, or no engine is attached.
    async fn software_config_body(&self, user_data: &str) -> Result<Option<String>, ResourceError> {
        if uuid::Uuid::parse_str(user_data).is_err() {
            return Ok(None);
        }
        let Ok(control) = self.handle.get() else {
            return Ok(None);
        };
        Ok(control
            .software_config(user_data)
            .await?
            .map(|config| match config.config {
                Value::String(text) => text,
                other => other.to_string(),
            }))
    }

    /// Ember's pre-signed URL of this server's metadata, when an API server mints URLs.
    async fn metadata_url(&self, cx: &ResourceContext) -> Result<Option<String>, ResourceError> {
        let Ok(control) = self.handle.get() else {
            return Ok(None);
        };
        control
            .presigned_url(&cx.stack_id, &cx.name, SignalUrlKind::PresignedMetadata)
            .await
    }

    /// Starts the server action `action` (`suspend`, `resume`); `check_action_complete` waits.
    async fn start_action(
        &self,
        cx: &ResourceContext,
        action: &str,
    ) -> Result<Started, ResourceError> {
        let compute = super::client(&self.cloud, cx, Compute::new).await?;
        compute
            .action(physical_id(cx)?, json!({ action: null }))
            .await
            .map_err(cloud_error)?;
        Ok(Started {
            physical_id: None,
            data: started_now(),
        })
    }

    async fn delete_internal_ports(&self, cx: &ResourceContext) -> Result<(), ResourceError> {
        let Some(ports) = cx.data.get(INTERNAL_PORTS).filter(|p| !p.is_empty()) else {
            return Ok(());
        };
        let network = super::client(&self.cloud, cx, Network::new).await?;
        for port in ports.split(',') {
            network
                .delete(NeutronKind::Port, port)
                .await
                .map_err(cloud_error)?;
        }
        Ok(())
    }

    /// Nova's `addresses`, each address with the id of its Neutron port (`port`), which
    /// templates use to associate floating IPs; and the network ids by name.
    async fn addresses(
        &self,
        session: &Session,
        server: &Value,
    ) -> Result<(Value, BTreeMap<String, String>), ResourceError> {
        let network = Network::new(session).await.map_err(cloud_error)?;
        let id = server["id"].as_str().unwrap_or_default();
        let ports = network
            .list(NeutronKind::Port, &[("device_id", id)])
            .await
            .map_err(cloud_error)?;
        let mut addresses = server["addresses"].clone();
        let mut network_ids = BTreeMap::new();
        if let Some(by_network) = addresses.as_object_mut() {
            for (name, list) in by_network.iter_mut() {
                for address in list.as_array_mut().into_iter().flatten() {
                    let mac = address["OS-EXT-IPS-MAC:mac_addr"]
                        .as_str()
                        .map(str::to_string);
                    let port = ports
                        .iter()
                        .find(|p| p["mac_address"].as_str() == mac.as_deref());
                    if let (Some(port), Some(object)) = (port, address.as_object_mut()) {
                        object.insert("port".into(), port["id"].clone());
                        if let Some(net) = port["network_id"].as_str() {
                            network_ids.insert(name.clone(), net.to_string());
                        }
                    }
                }
            }
        }
        Ok((addresses, network_ids))
    }
}

#[async_trait]
impl ResourceType for Server {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    async fn validate_with_cloud(
        &self,
        handle: Option<&ember_engine::CloudHandle>,
        properties: &ember_engine::Properties,
    ) -> Result<(), (String, String)> {
        super::check_constraints(&self.cloud, handle, &self.schema, properties).await
    }

    /// Heat's: after the subnets of the networks the server is on.
    fn implicit_dependencies(
        &self,
        name: &str,
        stack: &ember_engine::definition::StackDefinition,
    ) -> Vec<String> {
        super::dependencies::server(stack, name)
    }

    fn validate(&self, props: &Map<String, Value>) -> Result<(), String> {
        let has = |k: &str| {
            props
                .get(k)
                .is_some_and(|v| !v.is_null() && v != &json!([]))
        };
        if !has("image") && !has("block_device_mapping") && !has("block_device_mapping_v2") {
            return Err("Neither image nor bootable volume is specified for instance".into());
        }
        if props.get("user_data_format").and_then(Value::as_str) == Some("SOFTWARE_CONFIG") {
            let transport = props
                .get("software_config_transport")
                .and_then(Value::as_str);
            let has_stack_domain = self.handle.get().is_ok_and(|c| c.has_stack_domain());
            if let Some(refusal) =
                transport.and_then(|t| super::user_data::unserved_transport(t, has_stack_domain))
            {
                return Err(refusal);
            }
        }
        for entry in props
            .get("networks")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let given: Vec<&str> = ["network", "port", "subnet"]
                .into_iter()
                .filter(|k| entry.get(*k).is_some_and(|v| !v.is_null()))
                .collect();
            let allocate = entry.get("allocate_network").is_some_and(|v| !v.is_null());
            if given.is_empty() && entry.get("uuid").is_none_or(Value::is_null) && !allocate {
                return Err("One of the properties \"network\", \"port\", \"allocate_network\" or \"subnet\" should be set for the specified network of server".into());
            }
        }
        Ok(())
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let session = super::session(&self.cloud, cx).await?;
        let compute = Compute::new(session).await.map_err(cloud_error)?;
        let flavor = compute
            .find_flavor(cx.prop_str("flavor").unwrap_or_default())
            .await
            .map_err(cloud_error)?;
        let mut server = json!({
            "name": name_or_generated(cx),
            "flavorRef": flavor["id"],
            "metadata": string_map(cx.properties.get("metadata")),
        });
        if let Some(image) = cx.prop_str("image").filter(|i| !i.is_empty()) {
            server["imageRef"] = json!(Self::image_id(session, image).await?);
        }
        for (property, field) in [
            ("key_name", "key_name"),
            ("availability_zone", "availability_zone"),
            ("admin_pass", "adminPass"),
            ("diskConfig", "OS-DCF:diskConfig"),
            ("reservation_id", "reservation_id"),
        ] {
            if let Some(value) = cx.prop_str(property) {
                server[field] = json!(value);
            }
        }
        if let Some(drive) = cx.properties.get("config_drive").and_then(Value::as_bool) {
            server["config_drive"] = json!(drive);
        }
        if let Some(tags) = cx.properties.get("tags").filter(|t| t.is_array()) {
            server["tags"] = tags.clone();
        }
        let boot = self.boot_data(session, cx).await?;
        if let Some(user_data) = &boot.user_data {
            server["user_data"] = json!(user_data);
        }
        let groups: Vec<Value> = cx
            .properties
            .get("security_groups")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|g| json!({ "name": g }))
            .collect();
        if !groups.is_empty() {
            server["security_groups"] = json!(groups);
        }
        if let Some(mappings) = cx
            .properties
            .get("block_device_mapping_v2")
            .and_then(Value::as_array)
        {
            server["block_device_mapping_v2"] =
                json!(mappings.iter().map(block_device).collect::<Vec<_>>());
        }
        let mut ports_made = Vec::new();
        server["networks"] = Self::nics(session, cx, &mut ports_made).await?;
        let mut request = json!({ "server": server });
        if let Some(hints) = cx
            .properties
            .get("scheduler_hints")
            .filter(|h| h.is_object())
        {
            request["os:scheduler_hints"] = hints.clone();
        }
        let created = compute
            .client()
            .post("/servers", request)
            .send_json()
            .await
            .map_err(cloud_error)?;
        let mut data = started_now();
        data.insert(INTERNAL_PORTS.into(), ports_made.join(","));
        boot.record(&mut data);
        Ok(Started {
            physical_id: created["server"]["id"].as_str().map(str::to_string),
            data,
        })
    }

    async fn check_create_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        let compute = super::client(&self.cloud, cx, Compute::new).await?;
        progress(cx, compute.check_active(physical_id(cx)?).await)
    }

    async fn update(
        &self,
        cx: &ResourceContext,
        request: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        let changed = |k: &str| request.changed.iter().any(|c| c == k);
        let policy = |k: &str| cx.prop_str(k).unwrap_or_default().to_string();
        // Decide on replacement before touching anything.
        if (changed("flavor") && policy("flavor_update_policy") == "REPLACE")
            || (changed("image") && policy("image_update_policy") == "REPLACE")
            || (changed("user_data") && policy("user_data_update_policy") == "REPLACE")
        {
            return Err(ResourceError::UpdateReplace);
        }
        let id = physical_id(cx)?;
        let session = super::session(&self.cloud, cx).await?;
        let compute = Compute::new(session).await.map_err(cloud_error)?;
        if changed("name") {
            compute
                .client()
                .put(
                    format!("/servers/{id}"),
                    json!({"server": {"name": name_or_generated(cx)}}),
                )
                .send()
                .await
                .map_err(cloud_error)?;
        }
        if changed("metadata") {
            compute
                .client()
                .put(
                    format!("/servers/{id}/metadata"),
                    json!({"metadata": string_map(cx.properties.get("metadata"))}),
                )
                .send()
                .await
                .map_err(cloud_error)?;
        }
        if changed("tags") {
            compute
                .client()
                .put(
                    format!("/servers/{id}/tags"),
                    json!({"tags": cx.properties.get("tags").cloned().unwrap_or(json!([]))}),
                )
                .send()
                .await
                .map_err(cloud_error)?;
        }
        if changed("admin_pass") {
            if let Some(password) = cx.prop_str("admin_pass") {
                compute
                    .action(id, json!({"changePassword": {"adminPass": password}}))
                    .await
                    .map_err(cloud_error)?;
            }
        }
        let mut data = started_now();
        // Clear what an earlier update left, so its checks do not run again.
        data.insert(RESIZE_FLAVOR.into(), String::new());
        data.insert(REBUILD_IMAGE.into(), String::new());
        data.insert(DETACHING.into(), String::new());
        if changed("networks") {
            let (detaching, made) =
                Self::update_networks(session, cx, id, request.old_properties).await?;
            data.insert(DETACHING.into(), detaching.join(","));
            if !made.is_empty() {
                let mut ports: Vec<&str> = cx
                    .data
                    .get(INTERNAL_PORTS)
                    .map(|p| p.split(',').filter(|p| !p.is_empty()).collect())
                    .unwrap_or_default();
                ports.extend(made.iter().map(String::as_str));
                data.insert(INTERNAL_PORTS.into(), ports.join(","));
            }
        }
        let rebuild_user_data =
            changed("user_data") && policy("user_data_update_policy") == "REBUILD";
        if changed("image") || rebuild_user_data {
            let image = Self::image_id(session, cx.prop_str("image").unwrap_or_default()).await?;
            let mut rebuild = json!({
                "imageRef": image,
                "preserve_ephemeral": policy("image_update_policy") == "REBUILD_PRESERVE_EPHEMERAL",
            });
            let boot = self.boot_data(session, cx).await?;
            if let Some(user_data) = &boot.user_data {
                rebuild["user_data"] = json!(user_data);
            }
            boot.record(&mut data);
            compute
                .action(id, json!({ "rebuild": rebuild }))
                .await
                .map_err(cloud_error)?;
            data.insert(REBUILD_IMAGE.into(), image);
        }
        if changed("flavor") {
            let flavor = compute
                .find_flavor(cx.prop_str("flavor").unwrap_or_default())
                .await
                .map_err(cloud_error)?;
            if changed("image") || rebuild_user_data {
                // One change at a time: Nova refuses a resize while a rebuild runs.
                compute
                    .wait_active(id, &Default::default())
                    .await
                    .map_err(cloud_error)?;
            }
            let request_id = compute
                .start_resize(id, &flavor)
                .await
                .map_err(cloud_error)?;
            data.insert(RESIZE_REQUEST.into(), request_id.unwrap_or_default());
            data.insert(
                RESIZE_FLAVOR.into(),
                flavor["name"].as_str().unwrap_or_default().to_string(),
            );
        }
        Ok(Started {
            physical_id: None,
            data,
        })
    }

    async fn check_update_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        let compute = super::client(&self.cloud, cx, Compute::new).await?;
        let id = physical_id(cx)?;
        let get = |k: &str| cx.data.get(k).filter(|v| !v.is_empty());
        if let Some(detaching) = get(DETACHING) {
            let interfaces = compute.interfaces(id).await.map_err(cloud_error)?;
            if detaching
                .split(',')
                .any(|port| interfaces.iter().any(|i| i["port_id"] == port))
            {
                return Ok(Progress::Pending(super::next_check(cx)));
            }
            // Ports made here for the detached entries go with them.
            let network = super::client(&self.cloud, cx, Network::new).await?;
            for port in detaching.split(',').filter(|p| {
                cx.data
                    .get(INTERNAL_PORTS)
                    .is_some_and(|made| made.split(',').any(|m| m == *p))
            }) {
                network
                    .delete(NeutronKind::Port, port)
                    .await
                    .map_err(cloud_error)?;
            }
        }
        if let Some(flavor) = get(RESIZE_FLAVOR) {
            let request_id = get(RESIZE_REQUEST).map(String::as_str);
            return progress(cx, compute.check_resize(id, request_id, flavor).await);
        }
        if let Some(image) = get(REBUILD_IMAGE) {
            return progress(cx, compute.check_rebuild(id, image).await);
        }
        progress(cx, compute.check_active(id).await)
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        // Heat's `_delete`: the server's stack user goes first (also when Nova refused the
        // server, which the user was made for).
        if let Ok(control) = self.handle.get() {
            super::stack_domain::delete_resource_user(control.as_ref(), cx).await?;
        }
        let Some(id) = cx.physical_id.as_deref() else {
            // The service refused the create: nothing was made (Heat: no resource_id).
            return Ok(Started::default());
        };
        let compute = super::client(&self.cloud, cx, Compute::new).await?;
        compute.start_delete_server(id).await.map_err(cloud_error)?;
        Ok(Started {
            physical_id: None,
            data: started_now(),
        })
    }

    async fn check_delete_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        let compute = super::client(&self.cloud, cx, Compute::new).await?;
        let step = match cx.physical_id.as_deref() {
            Some(id) => progress(cx, compute.check_server_gone(id).await)?,
            None => Progress::Done,
        };
        if step == Progress::Done {
            self.delete_internal_ports(cx).await?;
        }
        Ok(step)
    }

    async fn check(&self, cx: &ResourceContext) -> Result<(), ResourceError> {
        let compute = super::client(&self.cloud, cx, Compute::new).await?;
        match compute
            .check_active(physical_id(cx)?)
            .await
            .map_err(cloud_error)?
        {
            ember_openstack::Poll::Ready(_) => Ok(()),
            ember_openstack::Poll::Pending(status) => Err(ResourceError::new(
                "Error",
                format!("Server is {status}, not ACTIVE"),
            )),
        }
    }

    /// Heat's server snapshot: an image of the server, waited for until Glance has it and
    /// Nova has finished uploading; its id is kept as `snapshot_image_id` (also what
    /// `deletion_policy: Snapshot` leaves behind).
    async fn snapshot(
        &self,
        cx: &ResourceContext,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let id = physical_id(cx)?;
        let session = super::session(&self.cloud, cx).await?;
        let compute = Compute::new(session).await.map_err(cloud_error)?;
        let image = compute
            .create_image(id, &cx.physical_resource_name())
            .await
            .map_err(cloud_error)?;
        let glance = Image::new(session).await.map_err(cloud_error)?;
        let policy = ember_openstack::PollPolicy::default()
            .with_deadline(std::time::Duration::from_secs(600));
        let made = ember_openstack::poll(&policy, "Image", &image, || async {
            // The server first: once Nova has no image task left, the image must be there.
            let server = compute.server(id).await?;
            let task = server["OS-EXT-STS:task_state"].as_str().unwrap_or_default();
            let look = glance.check_active(&image).await?;
            match (look, task.starts_with("image_")) {
                (ember_openstack::Poll::Ready(_), false) => Ok(ember_openstack::Poll::Ready(())),
                (ember_openstack::Poll::Pending(status), false) => {
                    Err(ember_openstack::Error::Failed {
                        kind: "Image",
                        id: image.clone(),
                        message: format!(
                            "Nova finished the snapshot but Glance never received the image (status {status})"
                        ),
                        status,
                    })
                }
                (_, true) => Ok(ember_openstack::Poll::Pending(task.to_string())),
            }
        })
        .await;
        if let Err(e) = made {
            // Nothing usable was made: do not leave an empty image behind.
            glance.delete(&image).await.map_err(cloud_error)?;
            return Err(cloud_error(e));
        }
        let mut data = cx.data.clone();
        data.insert(SNAPSHOT_IMAGE.into(), image);
        Ok(data)
    }

    /// Heat's `handle_delete_snapshot`: the snapshot's image goes with it.
    async fn delete_snapshot(
        &self,
        cx: &ResourceContext,
        data: &BTreeMap<String, String>,
    ) -> Result<(), ResourceError> {
        let Some(image) = data.get(SNAPSHOT_IMAGE).filter(|i| !i.is_empty()) else {
            return Ok(());
        };
        let glance = super::client(&self.cloud, cx, Image::new).await?;
        glance.delete(image).await.map_err(cloud_error)
    }

    /// Heat's `handle_restore`: the snapshot's image becomes the server's `image`, so the
    /// restore rebuilds the server from it (or replaces it, per `image_update_policy`).
    fn restore_properties(
        &self,
        properties: &Map<String, Value>,
        data: &BTreeMap<String, String>,
    ) -> Result<Option<Map<String, Value>>, ResourceError> {
        let image = data
            .get(SNAPSHOT_IMAGE)
            .filter(|i| !i.is_empty())
            .ok_or_else(|| {
                ResourceError::new("Error", "The snapshot holds no image of this server")
            })?;
        let mut restored = properties.clone();
        restored.insert("image".into(), json!(image));
        Ok(Some(restored))
    }

    async fn suspend(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        self.start_action(cx, "suspend").await
    }

    async fn resume(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        self.start_action(cx, "resume").await
    }

    async fn check_action_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        let compute = super::client(&self.cloud, cx, Compute::new).await?;
        let server = compute
            .server(physical_id(cx)?)
            .await
            .map_err(cloud_error)?;
        let wanted = if cx.action.as_str() == "SUSPEND" {
            "SUSPENDED"
        } else {
            "ACTIVE"
        };
        match server["status"].as_str() {
            Some(status) if status == wanted => Ok(Progress::Done),
            Some("ERROR") => Err(ResourceError::new(
                "ResourceInError",
                ember_openstack::services::compute::fault_message(&server),
            )),
            _ => Ok(Progress::Pending(super::next_check(cx))),
        }
    }

    /// A SOFTWARE_CONFIG server's metadata as Heat keeps it: the template's `Metadata` with the
    /// `os-collect-config` it booted with and its deployments (read now, so never stale).
    async fn shown_metadata(&self, cx: &ResourceContext) -> Result<Value, ResourceError> {
        let booted = cx
            .data
            .get(OS_COLLECT_CONFIG)
            .and_then(|occ| serde_json::from_str::<Value>(occ).ok());
        let (Some(occ), Some(server_id)) = (booted, cx.physical_id.as_deref()) else {
            return Ok(cx.metadata.clone());
        };
        let deployments = self
            .handle
            .get()?
            .server_metadata(&cx.stack_id, server_id)
            .await?;
        let mut shown = cx.metadata.as_object().cloned().unwrap_or_default();
        shown.insert("os-collect-config".into(), occ);
        shown.insert("deployments".into(), Value::Array(deployments));
        Ok(Value::Object(shown))
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        super::attribute_of(&self.schema, cx, name, |id| async move {
            let session = super::session(&self.cloud, cx).await?;
            let compute = Compute::new(session).await.map_err(cloud_error)?;
            let server = compute.server(id).await.map_err(cloud_error)?;
            Ok(match name {
                "show" => server,
                "instance_name" => server["OS-EXT-SRV-ATTR:instance_name"].clone(),
                "console_urls" => console_urls(&compute, id).await,
                // Heat's: the os-collect-config settings in the server's metadata.
                "os_collect_config" => cx
                    .data
                    .get(OS_COLLECT_CONFIG)
                    .and_then(|occ| serde_json::from_str(occ).ok())
                    .unwrap_or_else(|| json!({})),
                "addresses" => self.addresses(session, &server).await?.0,
                "first_address" => {
                    // Heat's deprecated first_address: the first IPv4 address of the server.
                    let first = server["addresses"]
                        .as_object()
                        .into_iter()
                        .flat_map(|by_net| by_net.values())
                        .flat_map(|list| list.as_array().into_iter().flatten())
                        .find(|a| a["version"] == 4)
                        .and_then(|a| a["addr"].as_str())
                        .unwrap_or_default();
                    json!(first)
                }
                "networks" => {
                    let (addresses, ids) = self.addresses(session, &server).await?;
                    let mut networks = Map::new();
                    for (net, list) in addresses.as_object().into_iter().flatten() {
                        let ips: Vec<Value> = list
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|a| a["addr"].clone())
                            .collect();
                        networks.insert(net.clone(), json!(ips));
                        if let Some(id) = ids.get(net) {
                            networks.insert(id.clone(), json!(ips));
                        }
                    }
                    Value::Object(networks)
                }
                other => server.get(other).cloned().unwrap_or(Value::Null),
            })
        })
        .await
    }
}

/// Heat's `console_urls`: the URL of each console type, or the reason there is none.
async fn console_urls(compute: &Compute, id: &str) -> Value {
    let mut urls = Map::new();
    for (kind, protocol) in [
        ("novnc", "vnc"),
        ("xvpvnc", "vnc"),
        ("spice-html5", "spice"),
        ("rdp-html5", "rdp"),
        ("serial", "serial"),
        ("webmks", "mks"),
    ] {
        let url = match compute.console_url(id, protocol, kind).await {
            Ok(url) => url,
            Err(e) => format!("Cannot get console url: {e}"),
        };
        urls.insert(kind.into(), json!(url));
    }
    Value::Object(urls)
}

/// A `block_device_mapping_v2` entry in Nova's words.
fn block_device(entry: &Value) -> Value {
    let get = |k: &str| entry.get(k).filter(|v| !v.is_null()).cloned();
    let mut device = Map::new();
    let (source, uuid) = if let Some(volume) = get("volume_id") {
        ("volume", Some(volume))
    } else if let Some(snapshot) = get("snapshot_id") {
        ("snapshot", Some(snapshot))
    } else if let Some(image) = get("image").or_else(|| get("image_id")) {
        ("image", Some(image))
    } else {
        ("blank", None)
    };
    device.insert("source_type".into(), json!(source));
    if let Some(uuid) = uuid {
        device.insert("uuid".into(), uuid);
    }
    let destination = if source == "blank" && get("volume_size").is_none() {
        "local"
    } else {
        "volume"
    };
    device.insert("destination_type".into(), json!(destination));
    for (from, to) in [
        ("boot_index", "boot_index"),
        ("device_name", "device_name"),
        ("volume_size", "volume_size"),
        ("delete_on_termination", "delete_on_termination"),
        ("disk_bus", "disk_bus"),
        ("device_type", "device_type"),
        ("ephemeral_format", "guest_format"),
        ("swap_size", "volume_size"),
    ] {
        if let Some(value) = get(from) {
            device.insert(to.into(), value);
        }
    }
    Value::Object(device)
}

struct KeyPair {
    schema: TypeSchema,
    cloud: Arc<Cloud>,
}

#[async_trait]
impl ResourceType for KeyPair {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let compute = super::client(&self.cloud, cx, Compute::new).await?;
        let mut keypair = json!({ "name": cx.prop_str("name") });
        for key in ["public_key", "type", "user"] {
            if let Some(value) = cx.prop_str(key) {
                keypair[if key == "user" { "user_id" } else { key }] = json!(value);
            }
        }
        let created = compute.create_keypair(keypair).await.map_err(cloud_error)?;
        let mut data = BTreeMap::new();
        if cx.prop_bool("save_private_key") {
            if let Some(private) = created["private_key"].as_str() {
                data.insert("private_key".into(), private.to_string());
            }
        }
        Ok(Started {
            physical_id: created["name"].as_str().map(str::to_string),
            data,
        })
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let Some(id) = cx.physical_id.as_deref() else {
            // The service refused the create: nothing was made (Heat: no resource_id).
            return Ok(Started::default());
        };
        let compute = super::client(&self.cloud, cx, Compute::new).await?;
        compute.delete_keypair(id).await.map_err(cloud_error)?;
        Ok(Started::default())
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        match name {
            "private_key" => Ok(Some(json!(cx
                .data
                .get("private_key")
                .cloned()
                .unwrap_or_default()))),
            "public_key" | "show" => {
                let Some(id) = cx.physical_id.as_deref() else {
                    return Ok(Some(Value::Null));
                };
                let compute = super::client(&self.cloud, cx, Compute::new).await?;
                let keypair = compute.find_keypair(id).await.map_err(cloud_error)?;
                Ok(Some(if name == "show" {
                    keypair
                } else {
                    keypair["public_key"].clone()
                }))
            }
            _ => Ok(None),
        }
    }
}

struct Flavor {
    schema: TypeSchema,
    cloud: Arc<Cloud>,
}

#[async_trait]
impl ResourceType for Flavor {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let compute = super::client(&self.cloud, cx, Compute::new).await?;
        let mut flavor = json!({
            "name": name_or_generated(cx),
            "ram": cx.properties.get("ram"),
            "vcpus": cx.properties.get("vcpus"),
            "disk": cx.properties.get("disk").cloned().unwrap_or(json!(0)),
            "swap": cx.properties.get("swap").cloned().unwrap_or(json!(0)),
            "OS-FLV-EXT-DATA:ephemeral": cx.properties.get("ephemeral").cloned().unwrap_or(json!(0)),
            "os-flavor-access:is_public": cx.properties.get("is_public").cloned().unwrap_or(json!(true)),
        });
        if let Some(id) = cx.prop_str("flavorid") {
            flavor["id"] = json!(id);
        }
        if let Some(factor) = cx.prop_f64("rxtx_factor") {
            flavor["rxtx_factor"] = json!(factor);
        }
        if let Some(description) = cx.prop_str("description") {
            flavor["description"] = json!(description);
        }
        let specs = cx
            .properties
            .get("extra_specs")
            .filter(|s| s.is_object())
            .map(|s| string_map(Some(s)));
        let created = compute
            .create_flavor(flavor, specs)
            .await
            .map_err(cloud_error)?;
        let id = created["id"].as_str().unwrap_or_default().to_string();
        for tenant in cx
            .properties
            .get("tenants")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            compute
                .flavor_action(&id, json!({"addTenantAccess": {"tenant": tenant}}))
                .await
                .map_err(cloud_error)?;
        }
        Ok(Started {
            physical_id: Some(id),
            data: BTreeMap::new(),
        })
    }

    async fn update(
        &self,
        cx: &ResourceContext,
        request: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        let id = physical_id(cx)?;
        let compute = super::client(&self.cloud, cx, Compute::new).await?;
        if request.changed.iter().any(|c| c == "extra_specs") {
            let old = request
                .old_properties
                .get("extra_specs")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let new = string_map(cx.properties.get("extra_specs"));
            for key in old.keys().filter(|k| new.get(k.as_str()).is_none()) {
                compute
                    .client()
                    .delete(format!("/flavors/{id}/os-extra_specs/{key}"))
                    .send()
                    .await
                    .map_err(cloud_error)?;
            }
            if new.as_object().is_some_and(|o| !o.is_empty()) {
                compute
                    .client()
                    .post(
                        format!("/flavors/{id}/os-extra_specs"),
                        json!({ "extra_specs": new }),
                    )
                    .idempotent(true)
                    .send()
                    .await
                    .map_err(cloud_error)?;
            }
        }
        if request.changed.iter().any(|c| c == "description") {
            compute
                .client()
                .put(
                    format!("/flavors/{id}"),
                    json!({"flavor": {"description": cx.prop_str("description")}}),
                )
                .send()
                .await
                .map_err(cloud_error)?;
        }
        if request.changed.iter().any(|c| c == "tenants") {
            let (removed, added) =
                super::list_changes(request.old_properties, &cx.properties, "tenants");
            for tenant in removed {
                compute
                    .flavor_action(id, json!({"removeTenantAccess": {"tenant": tenant}}))
                    .await
                    .map_err(cloud_error)?;
            }
            for tenant in added {
                compute
                    .flavor_action(id, json!({"addTenantAccess": {"tenant": tenant}}))
                    .await
                    .map_err(cloud_error)?;
            }
        }
        Ok(Started::default())
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let Some(id) = cx.physical_id.as_deref() else {
            // The service refused the create: nothing was made (Heat: no resource_id).
            return Ok(Started::default());
        };
        let compute = super::client(&self.cloud, cx, Compute::new).await?;
        compute.delete_flavor(id).await.map_err(cloud_error)?;
        Ok(Started::default())
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        super::attribute_of(&self.schema, cx, name, |id| async move {
            let compute = super::client(&self.cloud, cx, Compute::new).await?;
            let flavor = compute.find_flavor(id).await.map_err(cloud_error)?;
            Ok(match name {
                "show" => flavor,
                "is_public" => flavor["os-flavor-access:is_public"].clone(),
                _ => flavor["extra_specs"].clone(),
            })
        })
        .await
    }
}

struct ServerGroup {
    schema: TypeSchema,
    cloud: Arc<Cloud>,
}

#[async_trait]
impl ResourceType for ServerGroup {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    fn validate(&self, props: &Map<String, Value>) -> Result<(), String> {
        let allowed = [
            "anti-affinity",
            "affinity",
            "soft-anti-affinity",
            "soft-affinity",
        ];
        for policy in props
            .get("policies")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !policy.as_str().is_some_and(|p| allowed.contains(&p)) {
                return Err(format!(
                    "\"{}\" is not an allowed value [{}]",
                    policy.as_str().unwrap_or_default(),
                    allowed.join(", ")
                ));
            }
        }
        Ok(())
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let compute = super::client(&self.cloud, cx, Compute::new).await?;
        // Since microversion 2.64 a group has one policy.
        let policy = cx
            .properties
            .get("policies")
            .and_then(Value::as_array)
            .and_then(|p| p.first())
            .cloned()
            .unwrap_or(json!("anti-affinity"));
        let mut group = json!({ "name": name_or_generated(cx), "policy": policy });
        if let Some(rules) = cx.properties.get("rules").filter(|r| r.is_object()) {
            group["rules"] = rules.clone();
        }
        let created = compute
            .create_server_group(group)
            .await
            .map_err(cloud_error)?;
        Ok(Started {
            physical_id: created["id"].as_str().map(str::to_string),
            data: BTreeMap::new(),
        })
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let Some(id) = cx.physical_id.as_deref() else {
            // The service refused the create: nothing was made (Heat: no resource_id).
            return Ok(Started::default());
        };
        let compute = super::client(&self.cloud, cx, Compute::new).await?;
        compute.delete_server_group(id).await.map_err(cloud_error)?;
        Ok(Started::default())
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        super::attribute_of(&self.schema, cx, name, |id| async move {
            let compute = super::client(&self.cloud, cx, Compute::new).await?;
            let shown = compute
                .client()
                .get(format!("/os-server-groups/{id}"))
                .send_json()
                .await
                .map_err(cloud_error)?;
            Ok(shown["server_group"].clone())
        })
        .await
    }
}
