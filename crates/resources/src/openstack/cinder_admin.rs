//! `OS::Cinder::{QoSSpecs, QoSAssociation, EncryptedVolumeType}` (admin, as Heat's).

use std::sync::Arc;

use async_trait::async_trait;
use ember_engine::resource::{Properties, UpdateRequest};
use ember_engine::schema::TypeSchema;
use ember_engine::{Registry, ResourceContext, ResourceError, ResourceType, Started};
use ember_openstack::services::block_storage::BlockStorage;
use ember_openstack::services::ignore_not_found;
use serde_json::{json, Map, Value};

use super::cinder::string_values;
use super::props::{allowed, custom, integer, list, map, string, type_schema};
use super::{cloud_error, list_changes, name_or_generated, physical_id, Cloud};

pub(super) fn register(registry: &mut Registry, cloud: &Arc<Cloud>) {
    registry.register(
        "OS::Cinder::QoSSpecs",
        Arc::new(QosSpecs {
            schema: type_schema(
                "A resource for creating cinder QoS specs.",
                vec![
                    ("name", string("Name of the QoS.")),
                    (
                        "specs",
                        map("The specs key and value pairs of the QoS.")
                            .required()
                            .update_allowed(),
                    ),
                ],
                &[],
            ),
            cloud: cloud.clone(),
        }),
    );
    registry.register(
        "OS::Cinder::QoSAssociation",
        Arc::new(QosAssociation {
            schema: type_schema(
                "A resource to associate cinder QoS specs with volume types.",
                vec![
                    (
                        "qos_specs",
                        custom(
                            string("ID or Name of the QoS specs.").required(),
                            "cinder.qos_specs",
                        ),
                    ),
                    (
                        "volume_types",
                        list("List of volume type IDs or Names to be attached to QoS specs.")
                            .required()
                            .update_allowed()
                            .with_items(custom(
                                string("A volume type to attach specs."),
                                "cinder.vtype",
                            )),
                    ),
                ],
                &[],
            ),
            cloud: cloud.clone(),
        }),
    );
    registry.register(
        "OS::Cinder::EncryptedVolumeType",
        Arc::new(EncryptedVolumeType {
            schema: type_schema(
                "A resource for encrypting a cinder volume type.",
                vec![
                    (
                        "provider",
                        string("The class that provides encryption support. For example, nova.volume.encryptors.luks.LuksEncryptor.")
                            .required()
                            .update_allowed(),
                    ),
                    (
                        "control_location",
                        allowed(
                            string("Notional service where encryption is performed For example, front-end. For Nova.")
                                .default(json!("front-end"))
                                .update_allowed(),
                            &["front-end", "back-end"],
                        ),
                    ),
                    (
                        "cipher",
                        allowed(
                            string("The encryption algorithm or mode. For example, aes-xts-plain64.")
                                .update_allowed(),
                            &["aes-xts-plain64", "aes-cbc-essiv"],
                        ),
                    ),
                    (
                        "key_size",
                        integer("Size of encryption key, in bits. For example, 128 or 256.")
                            .update_allowed(),
                    ),
                    (
                        "volume_type",
                        custom(
                            string("Name or id of volume type (OS::Cinder::VolumeType).")
                                .required(),
                            "cinder.vtype",
                        ),
                    ),
                ],
                &[],
            ),
            cloud: cloud.clone(),
        }),
    );
}

async fn storage(cloud: &Cloud, cx: &ResourceContext) -> Result<BlockStorage, ResourceError> {
    super::client(cloud, cx, BlockStorage::new).await
}

/// The id of a volume type given by name or id.
async fn volume_type_id(storage: &BlockStorage, name_or_id: &str) -> Result<String, ResourceError> {
    let found = storage
        .find_volume_type(name_or_id)
        .await
        .map_err(cloud_error)?;
    Ok(found["id"].as_str().unwrap_or(name_or_id).to_string())
}

struct QosSpecs {
    schema: TypeSchema,
    cloud: Arc<Cloud>,
}

#[async_trait]
impl ResourceType for QosSpecs {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    fn creates_synchronously(&self) -> bool {
        true
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let storage = storage(&self.cloud, cx).await?;
        let mut body = string_values(cx.properties.get("specs"));
        body["name"] = json!(name_or_generated(cx));
        let created = storage
            .client()
            .post("/qos-specs", json!({ "qos_specs": body }))
            .send_json()
            .await
            .map_err(cloud_error)?;
        Ok(Started {
            physical_id: created["qos_specs"]["id"].as_str().map(str::to_string),
            data: Default::default(),
        })
    }

    /// Heat's update: the new and changed keys set, the keys no longer given unset.
    async fn update(
        &self,
        cx: &ResourceContext,
        request: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        let id = physical_id(cx)?;
        let storage = storage(&self.cloud, cx).await?;
        let old = string_values(request.old_properties.get("specs"));
        let new = string_values(cx.properties.get("specs"));
        let (old, new) = (
            old.as_object().cloned().unwrap_or_default(),
            new.as_object().cloned().unwrap_or_default(),
        );
        let set: Map<String, Value> = new
            .iter()
            .filter(|(k, v)| old.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let unset: Vec<&String> = old.keys().filter(|k| !new.contains_key(*k)).collect();
        if !set.is_empty() {
            storage
                .client()
                .put(format!("/qos-specs/{id}"), json!({ "qos_specs": set }))
                .send()
                .await
                .map_err(cloud_error)?;
        }
        if !unset.is_empty() {
            storage
                .client()
                .put(
                    format!("/qos-specs/{id}/delete_keys"),
                    json!({ "keys": unset }),
                )
                .send()
                .await
                .map_err(cloud_error)?;
        }
        Ok(Started::default())
    }

    /// Disassociated from every volume type first, as Heat does; already gone counts as
    /// deleted.
    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let Some(id) = cx.physical_id.as_deref() else {
            return Ok(Started::default());
        };
        let storage = storage(&self.cloud, cx).await?;
        let disassociated = ignore_not_found(
            storage
                .client()
                .get(format!("/qos-specs/{id}/disassociate_all"))
                .send()
                .await,
        )
        .map_err(cloud_error)?;
        if disassociated.is_some() {
            storage
                .client()
                .delete_if_present(format!("/qos-specs/{id}"))
                .await
                .map_err(cloud_error)?;
        }
        Ok(Started::default())
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        super::attribute_of(&self.schema, cx, name, |id| async move {
            let storage = storage(&self.cloud, cx).await?;
            storage.find_qos_specs(id).await.map_err(cloud_error)
        })
        .await
    }
}

/// Heat's QoSAssociation: its physical id is a fresh uuid; the associations are derived from
/// the properties each time.
struct QosAssociation {
    schema: TypeSchema,
    cloud: Arc<Cloud>,
}

impl QosAssociation {
    /// Associate (or disassociate) each named volume type with the QoS specs of `props`.
    async fn change(
        storage: &BlockStorage,
        props: &Properties,
        volume_types: &[Value],
        associate: bool,
    ) -> Result<(), ResourceError> {
        let specs = props
            .get("qos_specs")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let specs_id = match storage.find_qos_specs(specs).await {
            // Disassociating from specs already deleted: nothing left to do.
            Err(e) if !associate && e.is_not_found() => return Ok(()),
            other => other.map_err(cloud_error)?["id"]
                .as_str()
                .unwrap_or(specs)
                .to_string(),
        };
        let action = if associate {
            "associate"
        } else {
            "disassociate"
        };
        for volume_type in volume_types.iter().filter_map(Value::as_str) {
            let type_id = match volume_type_id(storage, volume_type).await {
                Err(_) if !associate => continue,
                other => other?,
            };
            let result = storage
                .client()
                .get(format!("/qos-specs/{specs_id}/{action}"))
                .query("vol_type_id", type_id)
                .send()
                .await;
            if associate {
                result.map_err(cloud_error)?;
            } else {
                ignore_not_found(result).map_err(cloud_error)?;
            }
        }
        Ok(())
    }
}

fn volume_types(props: &Properties) -> Vec<Value> {
    props
        .get("volume_types")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

#[async_trait]
impl ResourceType for QosAssociation {
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

    fn creates_synchronously(&self) -> bool {
        true
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let storage = storage(&self.cloud, cx).await?;
        QosAssociation::change(
            &storage,
            &cx.properties,
            &volume_types(&cx.properties),
            true,
        )
        .await?;
        Ok(Started {
            physical_id: Some(uuid::Uuid::new_v4().to_string()),
            data: Default::default(),
        })
    }

    async fn update(
        &self,
        cx: &ResourceContext,
        request: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        let storage = storage(&self.cloud, cx).await?;
        let (removed, added) = list_changes(request.old_properties, &cx.properties, "volume_types");
        QosAssociation::change(&storage, &cx.properties, &added, true).await?;
        QosAssociation::change(&storage, &cx.properties, &removed, false).await?;
        Ok(Started::default())
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let storage = storage(&self.cloud, cx).await?;
        QosAssociation::change(
            &storage,
            &cx.properties,
            &volume_types(&cx.properties),
            false,
        )
        .await?;
        Ok(Started::default())
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        super::id_attribute(&self.schema, cx, name).await
    }
}

/// Heat's EncryptedVolumeType: its physical id is the volume type's id.
struct EncryptedVolumeType {
    schema: TypeSchema,
    cloud: Arc<Cloud>,
}

/// The encryption fields of the properties (`only`: the changed ones, for an update).
fn encryption(props: &Properties, only: Option<&[String]>) -> Value {
    let fields = ["provider", "cipher", "key_size", "control_location"];
    Value::Object(
        fields
            .iter()
            .filter(|f| only.is_none_or(|changed| changed.iter().any(|c| c == *f)))
            .map(|f| (f.to_string(), props.get(*f).cloned().unwrap_or(Value::Null)))
            .collect(),
    )
}

#[async_trait]
impl ResourceType for EncryptedVolumeType {
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

    fn creates_synchronously(&self) -> bool {
        true
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let storage = storage(&self.cloud, cx).await?;
        let volume_type = cx.prop_str("volume_type").unwrap_or_default();
        let type_id = volume_type_id(&storage, volume_type).await?;
        storage
            .client()
            .post(
                format!("/types/{type_id}/encryption"),
                json!({ "encryption": encryption(&cx.properties, None) }),
            )
            .send()
            .await
            .map_err(cloud_error)?;
        Ok(Started {
            physical_id: Some(type_id),
            data: Default::default(),
        })
    }

    async fn update(
        &self,
        cx: &ResourceContext,
        request: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        let id = physical_id(cx)?;
        let storage = storage(&self.cloud, cx).await?;
        storage
            .client()
            .put(
                format!("/types/{id}/encryption/{id}"),
                json!({ "encryption": encryption(&cx.properties, Some(request.changed)) }),
            )
            .send()
            .await
            .map_err(cloud_error)?;
        Ok(Started::default())
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let Some(id) = cx.physical_id.as_deref() else {
            return Ok(Started::default());
        };
        let storage = storage(&self.cloud, cx).await?;
        storage
            .client()
            .delete_if_present(format!("/types/{id}/encryption/provider"))
            .await
            .map_err(cloud_error)?;
        Ok(Started::default())
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        super::attribute_of(&self.schema, cx, name, |id| async move {
            let storage = storage(&self.cloud, cx).await?;
            storage
                .client()
                .get(format!("/types/{id}/encryption"))
                .send_json()
                .await
                .map_err(cloud_error)
        })
        .await
    }
}
