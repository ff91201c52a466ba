//! `OS::Cinder::{Volume, VolumeAttachment, VolumeType}`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ember_engine::resource::UpdateRequest;
use ember_engine::schema::{Constraint, TypeSchema};
use ember_engine::{Progress, Registry, ResourceContext, ResourceError, ResourceType, Started};
use ember_openstack::services::block_storage::BlockStorage;
use ember_openstack::services::compute::Compute;
use ember_openstack::services::image::Image;
use ember_openstack::{Poll, PollPolicy};
use serde_json::{json, Map, Value};

use super::props::{boolean, custom, integer, list, map, string, type_schema};
use super::{
    cloud_error, name_or_generated, next_check, physical_id, progress, started_now, Cloud,
};

pub(super) fn register(registry: &mut Registry, cloud: &Arc<Cloud>) {
    registry.register(
        "OS::Cinder::Volume",
        Arc::new(Volume {
            schema: type_schema(
                "A resource that implements Cinder volumes.",
                vec![
                    ("availability_zone", string("The availability zone in which the volume will be created.")),
                    ("size", integer("The size of the volume in GB.").update_allowed().constraint(Constraint::Range { min: Some(1.0), max: None })),
                    ("snapshot_id", custom(string("If specified, the snapshot to create the volume from."), "cinder.snapshot")),
                    ("backup_id", custom(string("If specified, the backup to create the volume from.").update_allowed(), "cinder.backup")),
                    ("name", string("A name used to distinguish the volume.").update_allowed()),
                    ("description", string("A description of the volume.").update_allowed()),
                    ("volume_type", custom(string("If specified, the type of volume to use, mapping to a specific backend.").update_allowed(), "cinder.vtype")),
                    ("metadata", map("Key/value pairs to associate with the volume.").update_allowed().default(json!({}))),
                    ("image", custom(string("If specified, the name or ID of the image to create the volume from."), "glance.image")),
                    ("source_volid", custom(string("If specified, the volume to use as source."), "cinder.volume")),
                    ("scheduler_hints", map("Arbitrary key-value pairs specified by the client to help the Cinder scheduler creating a volume.")),
                    ("read_only", boolean("Enables or disables read-only access mode of volume.").update_allowed()),
                    ("multiattach", boolean("Whether allow the volume to be attached more than once.")),
                ],
                &["availability_zone", "size", "snapshot_id", "display_name", "display_description", "volume_type", "metadata", "source_volid", "status", "created_at", "bootable", "metadata_values", "encrypted", "attachments", "attachments_list", "multiattach"],
            ),
            cloud: cloud.clone(),
        }),
    );
    registry.register(
        "OS::Cinder::VolumeAttachment",
        Arc::new(VolumeAttachment {
            schema: type_schema(
                "Resource for associating volume to instance.",
                vec![
                    (
                        "instance_uuid",
                        string("The ID of the server to which the volume attaches.")
                            .required()
                            .update_allowed(),
                    ),
                    (
                        "volume_id",
                        custom(
                            string("The ID of the volume to be attached.")
                                .required()
                                .update_allowed(),
                            "cinder.volume",
                        ),
                    ),
                    (
                        "mountpoint",
                        string("The location where the volume is exposed on the instance.")
                            .update_allowed(),
                    ),
                ],
                &[],
            ),
            cloud: cloud.clone(),
        }),
    );
    registry.register(
        "OS::Cinder::VolumeType",
        Arc::new(VolumeType {
            schema: type_schema(
                "A resource for creating cinder volume types.",
                vec![
                    (
                        "name",
                        string("Name of the volume type.")
                            .required()
                            .update_allowed(),
                    ),
                    (
                        "metadata",
                        map("The extra specs key and value pairs of the volume type.")
                            .update_allowed(),
                    ),
                    (
                        "is_public",
                        boolean("Whether the volume type is accessible to the public.")
                            .update_allowed()
                            .default(json!(true)),
                    ),
                    (
                        "description",
                        string("Description of the volume type.").update_allowed(),
                    ),
                    (
                        "projects",
                        list("Projects to add volume type access to.")
                            .update_allowed()
                            .default(json!([])),
                    ),
                ],
                &[],
            ),
            cloud: cloud.clone(),
        }),
    );
}

/// Data keys of the volume type.
const EXTEND_TO: &str = "extend_to";
const BACK_TO: &str = "back_to_status";
/// Heat's data key for the backup a snapshot made.
const BACKUP: &str = "backup_id";
/// The sources a volume is made from besides a backup (a backup excludes them, as in Heat).
const SOURCES: [&str; 3] = ["snapshot_id", "source_volid", "image"];

pub(super) fn string_values(value: Option<&Value>) -> Value {
    let mut out = Map::new();
    for (k, v) in value.and_then(Value::as_object).into_iter().flatten() {
        out.insert(
            k.clone(),
            json!(v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())),
        );
    }
    Value::Object(out)
}

struct Volume {
    schema: TypeSchema,
    cloud: Arc<Cloud>,
}

#[async_trait]
impl ResourceType for Volume {
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

    fn validate(&self, props: &Map<String, Value>) -> Result<(), String> {
        let has = |k: &str| props.get(k).is_some_and(|v| !v.is_null());
        if !["size", "snapshot_id", "source_volid", "image", "backup_id"]
            .iter()
            .any(|k| has(k))
        {
            return Err("Property size not assigned".into());
        }
        Ok(())
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let session = super::session(&self.cloud, cx).await?;
        let storage = BlockStorage::new(session).await.map_err(cloud_error)?;
        let mut volume = json!({
            "name": name_or_generated(cx),
            "metadata": string_values(cx.properties.get("metadata")),
        });
        // Heat makes a volume with a backup from the backup alone (Cinder's restore), whatever
        // other source the definition names; Cinder (3.47+) takes `backup_id` at create.
        let from_backup = cx.prop_str("backup_id").is_some();
        for key in [
            "size",
            "description",
            "volume_type",
            "availability_zone",
            "snapshot_id",
            "source_volid",
            "backup_id",
            "multiattach",
        ] {
            if from_backup && SOURCES.contains(&key) {
                continue;
            }
            if let Some(value) = cx.properties.get(key).filter(|v| !v.is_null()) {
                volume[key] = value.clone();
            }
        }
        if let Some(image) = cx.prop_str("image").filter(|_| !from_backup) {
            let found = Image::new(session)
                .await
                .map_err(cloud_error)?
                .find(image)
                .await
                .map_err(cloud_error)?;
            volume["imageRef"] = found["id"].clone();
        }
        let mut body = json!({ "volume": volume });
        if let Some(hints) = cx
            .properties
            .get("scheduler_hints")
            .filter(|h| h.is_object())
        {
            body["OS-SCH-HNT:scheduler_hints"] = hints.clone();
        }
        let created = storage
            .client()
            .post("/volumes", body)
            .send_json()
            .await
            .map_err(cloud_error)?;
        Ok(Started {
            physical_id: created["volume"]["id"].as_str().map(str::to_string),
            data: started_now(),
        })
    }

    async fn check_create_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        let storage = super::client(&self.cloud, cx, BlockStorage::new).await?;
        let id = physical_id(cx)?;
        let step = progress(cx, storage.check_status(id, &["available"]).await)?;
        if step == Progress::Done && cx.prop_bool("read_only") {
            storage
                .client()
                .post(
                    format!("/volumes/{id}/action"),
                    json!({"os-update_readonly_flag": {"readonly": true}}),
                )
                .idempotent(true)
                .send()
                .await
                .map_err(cloud_error)?;
        }
        Ok(step)
    }

    async fn update(
        &self,
        cx: &ResourceContext,
        request: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        let changed = |k: &str| request.changed.iter().any(|c| c == k);
        let id = physical_id(cx)?;
        let storage = super::client(&self.cloud, cx, BlockStorage::new).await?;
        let current = storage.volume(id).await.map_err(cloud_error)?;
        // A new backup is restored into the volume, as Heat does (a stack restore gives the
        // volume its snapshot's backup). Cinder restores only into an available volume and
        // one change at a time: an attached volume, or a restore with a new size, is replaced
        // by a volume made from the backup instead (Heat detaches and re-attaches).
        let restore = cx.prop_str("backup_id").filter(|_| changed("backup_id"));
        if restore.is_some() && (current["status"] != "available" || changed("size")) {
            return Err(ResourceError::UpdateReplace);
        }
        let mut data = started_now();
        data.insert(EXTEND_TO.into(), String::new());
        // Cinder marks the volume `restoring-backup` before answering, so the update's check
        // waits for `available` (or stops at `error_restoring` with Cinder's reason).
        if let Some(backup) = restore {
            storage
                .client()
                .post(
                    format!("/backups/{backup}/restore"),
                    json!({"restore": {"volume_id": id}}),
                )
                .send()
                .await
                .map_err(cloud_error)?;
        }
        if changed("size") {
            let old = current["size"].as_u64().unwrap_or(0);
            let new = cx
                .properties
                .get("size")
                .and_then(Value::as_u64)
                .unwrap_or(old);
            if new < old {
                return Err(ResourceError::new(
                    "NotSupported",
                    format!("Shrinking volume is not supported (size {old} -> {new})."),
                ));
            }
            if new > old {
                storage
                    .client()
                    .post(
                        format!("/volumes/{id}/action"),
                        json!({"os-extend": {"new_size": new}}),
                    )
                    .send()
                    .await
                    .map_err(cloud_error)?;
                data.insert(EXTEND_TO.into(), new.to_string());
                data.insert(
                    BACK_TO.into(),
                    current["status"]
                        .as_str()
                        .unwrap_or("available")
                        .to_string(),
                );
            }
        }
        if changed("name") || changed("description") {
            storage
                .client()
                .put(format!("/volumes/{id}"), json!({"volume": {"name": name_or_generated(cx), "description": cx.prop_str("description")}}))
                .send()
                .await
                .map_err(cloud_error)?;
        }
        if changed("metadata") {
            storage
                .client()
                .put(
                    format!("/volumes/{id}/metadata"),
                    json!({"metadata": string_values(cx.properties.get("metadata"))}),
                )
                .send()
                .await
                .map_err(cloud_error)?;
        }
        if changed("read_only") {
            storage
                .client()
                .post(
                    format!("/volumes/{id}/action"),
                    json!({"os-update_readonly_flag": {"readonly": cx.prop_bool("read_only")}}),
                )
                .idempotent(true)
                .send()
                .await
                .map_err(cloud_error)?;
        }
        if changed("volume_type") {
            storage
                .client()
                .post(format!("/volumes/{id}/action"), json!({"os-retype": {"new_type": cx.prop_str("volume_type"), "migration_policy": "on-demand"}}))
                .send()
                .await
                .map_err(cloud_error)?;
        }
        Ok(Started {
            physical_id: None,
            data,
        })
    }

    async fn check_update_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        let storage = super::client(&self.cloud, cx, BlockStorage::new).await?;
        let id = physical_id(cx)?;
        let back_to = cx
            .data
            .get(BACK_TO)
            .map(String::as_str)
            .unwrap_or("available");
        let check = storage
            .check_status(id, &[back_to, "available", "in-use"])
            .await;
        let Some(size) = cx.data.get(EXTEND_TO).and_then(|s| s.parse::<u64>().ok()) else {
            return progress(cx, check);
        };
        match check.map_err(cloud_error)? {
            Poll::Ready(volume) if volume["size"].as_u64() == Some(size) => Ok(Progress::Done),
            _ => Ok(Progress::Pending(next_check(cx))),
        }
    }

    /// Heat's volume snapshot is a Cinder *backup* (a snapshot would keep the volume from being
    /// deleted): made with `force` (attached volumes too), waited for, its id kept as
    /// `backup_id`. `deletion_policy: Snapshot` runs this before the delete, so a volume whose
    /// backup fails is not deleted.
    async fn snapshot(
        &self,
        cx: &ResourceContext,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let storage = super::client(&self.cloud, cx, BlockStorage::new).await?;
        let backup = storage
            .create_backup(physical_id(cx)?, &cx.physical_resource_name())
            .await
            .map_err(cloud_error)?;
        let policy = PollPolicy::default().with_deadline(Duration::from_secs(600));
        ember_openstack::poll(&policy, "Backup", &backup, || storage.check_backup(&backup))
            .await
            .map_err(cloud_error)?;
        let mut data = cx.data.clone();
        data.insert(BACKUP.into(), backup);
        Ok(data)
    }

    /// Heat's `handle_delete_snapshot`: the snapshot's backup goes with it.
    async fn delete_snapshot(
        &self,
        cx: &ResourceContext,
        data: &BTreeMap<String, String>,
    ) -> Result<(), ResourceError> {
        let Some(backup) = data.get(BACKUP).filter(|b| !b.is_empty()) else {
            return Ok(());
        };
        let storage = super::client(&self.cloud, cx, BlockStorage::new).await?;
        storage.delete_backup(backup).await.map_err(cloud_error)
    }

    /// Heat's `handle_restore`: the volume comes back from its snapshot's backup, so
    /// `backup_id` names it (`size` stays: a volume grown since the snapshot is replaced by one
    /// of the snapshot's size). An unchanged volume gets the backup restored in place.
    fn restore_properties(
        &self,
        properties: &Map<String, Value>,
        data: &BTreeMap<String, String>,
    ) -> Result<Option<Map<String, Value>>, ResourceError> {
        let backup = data.get(BACKUP).filter(|b| !b.is_empty()).ok_or_else(|| {
            ResourceError::new("Error", "The snapshot holds no backup of this volume")
        })?;
        let mut restored = properties.clone();
        // As Heat: the image and the source volume go; a snapshot named stays (unused).
        restored.remove("image");
        restored.remove("source_volid");
        restored.insert("backup_id".into(), json!(backup));
        Ok(Some(restored))
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let Some(id) = cx.physical_id.as_deref() else {
            // The service refused the create: nothing was made (Heat: no resource_id).
            return Ok(Started::default());
        };
        let storage = super::client(&self.cloud, cx, BlockStorage::new).await?;
        // Deleted outside Ember meanwhile: Cinder refuses a second delete while the first runs
        // (Heat waits for that one too).
        let deleting = storage
            .volume(id)
            .await
            .is_ok_and(|volume| volume["status"] == "deleting");
        if !deleting {
            storage.start_delete_volume(id).await.map_err(cloud_error)?;
        }
        Ok(Started {
            physical_id: None,
            data: started_now(),
        })
    }

    async fn check_delete_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        let storage = super::client(&self.cloud, cx, BlockStorage::new).await?;
        match cx.physical_id.as_deref() {
            Some(id) => progress(cx, storage.check_volume_gone(id).await),
            None => Ok(Progress::Done),
        }
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        super::attribute_of(&self.schema, cx, name, |id| async move {
            let storage = super::client(&self.cloud, cx, BlockStorage::new).await?;
            let volume = storage.volume(id).await.map_err(cloud_error)?;
            Ok(match name {
                "show" => volume,
                "display_name" => volume["name"].clone(),
                "display_description" => volume["description"].clone(),
                "metadata" => json!(volume["metadata"].to_string()),
                "metadata_values" => volume["metadata"].clone(),
                "attachments" => json!(volume["attachments"].to_string()),
                "attachments_list" => volume["attachments"].clone(),
                other => volume.get(other).cloned().unwrap_or(Value::Null),
            })
        })
        .await
    }
}

/// The physical id is the volume id (Nova's attachment id); the server is a property.
struct VolumeAttachment {
    schema: TypeSchema,
    cloud: Arc<Cloud>,
}

impl VolumeAttachment {
    async fn attach(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let compute = super::client(&self.cloud, cx, Compute::new).await?;
        let attached = compute
            .attach_volume(
                cx.prop_str("instance_uuid").unwrap_or_default(),
                cx.prop_str("volume_id").unwrap_or_default(),
                cx.prop_str("mountpoint")
                    .filter(|m| !m.is_empty() && *m != "auto"),
            )
            .await
            .map_err(cloud_error)?;
        Ok(Started {
            physical_id: attached["id"]
                .as_str()
                .or(cx.prop_str("volume_id"))
                .map(str::to_string),
            data: started_now(),
        })
    }
}

#[async_trait]
impl ResourceType for VolumeAttachment {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        self.attach(cx).await
    }

    async fn check_create_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        let storage = super::client(&self.cloud, cx, BlockStorage::new).await?;
        progress(
            cx,
            storage
                .check_status(cx.prop_str("volume_id").unwrap_or_default(), &["in-use"])
                .await,
        )
    }

    /// Detach from the old server/volume, wait until the volume is free, attach as now asked.
    async fn update(
        &self,
        cx: &ResourceContext,
        request: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        let old_server = request
            .old_properties
            .get("instance_uuid")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let old_volume = request
            .old_properties
            .get("volume_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let session = super::session(&self.cloud, cx).await?;
        let compute = Compute::new(session).await.map_err(cloud_error)?;
        compute
            .detach_volume(old_server, old_volume)
            .await
            .map_err(cloud_error)?;
        let storage = BlockStorage::new(session).await.map_err(cloud_error)?;
        storage
            .wait_status(
                old_volume,
                &["available"],
                &PollPolicy::default().with_deadline(Duration::from_secs(600)),
            )
            .await
            .map_err(cloud_error)?;
        self.attach(cx).await
    }

    async fn check_update_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        self.check_create_complete(cx).await
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let Some(id) = cx.physical_id.as_deref() else {
            // The service refused the create: nothing was made (Heat: no resource_id).
            return Ok(Started::default());
        };
        let compute = super::client(&self.cloud, cx, Compute::new).await?;
        let detached = compute
            .detach_volume(cx.prop_str("instance_uuid").unwrap_or_default(), id)
            .await;
        // Nova answers 400 when the volume is no longer attached (detached outside Ember, or
        // detaching): as in Heat, there is nothing left to detach.
        match detached {
            Err(e) if e.status() != Some(400) => return Err(cloud_error(e)),
            _ => {}
        }
        Ok(Started {
            physical_id: None,
            data: started_now(),
        })
    }

    async fn check_delete_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        let storage = super::client(&self.cloud, cx, BlockStorage::new).await?;
        let Some(id) = cx.physical_id.as_deref() else {
            return Ok(Progress::Done);
        };
        match storage.check_status(id, &["available"]).await {
            Err(e) if e.is_not_found() => Ok(Progress::Done),
            other => progress(cx, other),
        }
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        super::id_attribute(&self.schema, cx, name).await
    }
}

struct VolumeType {
    schema: TypeSchema,
    cloud: Arc<Cloud>,
}

#[async_trait]
impl ResourceType for VolumeType {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let storage = super::client(&self.cloud, cx, BlockStorage::new).await?;
        let mut volume_type = json!({
            "name": cx.prop_str("name"),
            "os-volume-type-access:is_public": cx.properties.get("is_public").cloned().unwrap_or(json!(true)),
        });
        if let Some(description) = cx.prop_str("description") {
            volume_type["description"] = json!(description);
        }
        if cx.properties.get("metadata").is_some_and(Value::is_object) {
            volume_type["extra_specs"] = string_values(cx.properties.get("metadata"));
        }
        let created = storage
            .create_volume_type(volume_type)
            .await
            .map_err(cloud_error)?;
        let id = created["id"].as_str().unwrap_or_default().to_string();
        for project in cx
            .properties
            .get("projects")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            storage
                .client()
                .post(
                    format!("/types/{id}/action"),
                    json!({"addProjectAccess": {"project": project}}),
                )
                .send()
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
        let changed = |k: &str| request.changed.iter().any(|c| c == k);
        let id = physical_id(cx)?;
        let storage = super::client(&self.cloud, cx, BlockStorage::new).await?;
        if changed("name") || changed("description") || changed("is_public") {
            storage
                .client()
                .put(
                    format!("/types/{id}"),
                    json!({"volume_type": {
                    "name": cx.prop_str("name"), "description": cx.prop_str("description"),
                    "is_public": cx.properties.get("is_public").cloned().unwrap_or(json!(true))}}),
                )
                .send()
                .await
                .map_err(cloud_error)?;
        }
        if changed("metadata") {
            let old = request
                .old_properties
                .get("metadata")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let new = string_values(cx.properties.get("metadata"));
            for key in old.keys().filter(|k| new.get(k.as_str()).is_none()) {
                storage
                    .client()
                    .delete(format!("/types/{id}/extra_specs/{key}"))
                    .send()
                    .await
                    .map_err(cloud_error)?;
            }
            storage
                .client()
                .post(
                    format!("/types/{id}/extra_specs"),
                    json!({ "extra_specs": new }),
                )
                .idempotent(true)
                .send()
                .await
                .map_err(cloud_error)?;
        }
        if changed("projects") {
            let (removed, added) =
                super::list_changes(request.old_properties, &cx.properties, "projects");
            for project in removed {
                storage
                    .client()
                    .post(
                        format!("/types/{id}/action"),
                        json!({"removeProjectAccess": {"project": project}}),
                    )
                    .send()
                    .await
                    .map_err(cloud_error)?;
            }
            for project in added {
                storage
                    .client()
                    .post(
                        format!("/types/{id}/action"),
                        json!({"addProjectAccess": {"project": project}}),
                    )
                    .send()
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
        let storage = super::client(&self.cloud, cx, BlockStorage::new).await?;
        storage.delete_volume_type(id).await.map_err(cloud_error)?;
        Ok(Started::default())
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        super::attribute_of(&self.schema, cx, name, |id| async move {
            let storage = super::client(&self.cloud, cx, BlockStorage::new).await?;
            storage.find_volume_type(id).await.map_err(cloud_error)
        })
        .await
    }
}
