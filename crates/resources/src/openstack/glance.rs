//! `OS::Glance::WebImage` and the hidden v1-era `OS::Glance::Image`: an image whose data Glance
//! fetches itself from `location` (interoperable import, `web-download`).
//!
//! Both types are one handler: `Image` only translates its v1 property `is_public` into the
//! v2 `visibility` before the shared code runs.

use std::sync::Arc;

use async_trait::async_trait;
use ember_engine::resource::Properties;
use ember_engine::resource::UpdateRequest;
use ember_engine::schema::{Constraint, TypeSchema};
use ember_engine::{Progress, Registry, ResourceContext, ResourceError, ResourceType, Started};
use ember_openstack::services::image::Image;
use serde_json::{json, Value};

use super::props::{allowed, boolean, custom, integer, list, map, string, type_schema};
use super::{cloud_error, name_or_generated, physical_id, progress, started_now, Cloud};

const DISK_FORMATS: &[&str] = &[
    "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop",
];
const CONTAINER_FORMATS: &[&str] = &[
    "ami",
    "ari",
    "aki",
    "bare",
    "ovf",
    "ova",
    "docker",
    "compressed",
];

/// Image properties Glance stores as plain top-level string fields, updatable with a JSON patch.
const STRING_FIELDS: &[&str] = &[
    "architecture",
    "kernel_id",
    "os_distro",
    "os_version",
    "owner",
    "ramdisk_id",
];

pub(super) fn register(registry: &mut Registry, cloud: &Arc<Cloud>) {
    let common = || {
        let non_negative = || Constraint::Range {
            min: Some(0.0),
            max: None,
        };
        vec![
            ("name", string("Name for the image. The name of an image is not unique to a Image Service node.").update_allowed()),
            ("id", string("The image ID. Glance will generate a UUID if not specified.")),
            ("location", string("URL where the data for this image already resides. For example, if the image data is stored in swift, you could specify \"swift://example.com/container/obj\".").required()),
            ("disk_format", allowed(string("Disk format of image.").required(), DISK_FORMATS)),
            ("container_format", allowed(string("Container format of image.").required(), CONTAINER_FORMATS)),
            ("min_disk", integer("Amount of disk space (in GB) required to boot image. Default value is 0 if not specified and means no limit on the disk size.").default(json!(0)).constraint(non_negative())),
            ("min_ram", integer("Amount of ram (in MB) required to boot image. Default value is 0 if not specified and means no limit on the ram size.").default(json!(0)).constraint(non_negative())),
            ("protected", boolean("Whether the image can be deleted. If the value is True, the image is protected and cannot be deleted.").default(json!(false)).update_allowed()),
            ("tags", list("List of image tags.").default(json!([])).update_allowed()),
            ("architecture", string("Operating system architecture.").update_allowed()),
            ("kernel_id", custom(string("ID of image stored in Glance that should be used as the kernel when booting an AMI-style image.").update_allowed(), "glance.image")),
            ("os_distro", string("The common name of the operating system distribution in lowercase.").update_allowed()),
            ("os_version", string("Operating system version as specified by the distributor.").update_allowed()),
            ("owner", string("Owner of the image.").update_allowed()),
            ("ramdisk_id", custom(string("ID of image stored in Glance that should be used as the ramdisk when booting an AMI-style image.").update_allowed(), "glance.image")),
            ("extra_properties", map("Arbitrary properties to associate with the image.").default(json!({})).update_allowed()),
        ]
    };
    let mut web = common();
    web.push((
        "visibility",
        allowed(
            string("Scope of image accessibility.")
                .default(json!("private"))
                .update_allowed(),
            &["public", "private", "community", "shared"],
        ),
    ));
    registry.register(
        "OS::Glance::WebImage",
        Arc::new(WebImage {
            schema: type_schema(
                "A resource managing images in Glance using web-download import.",
                web,
                &[],
            ),
            cloud: cloud.clone(),
            translate_is_public: false,
        }),
    );
    let mut v1 = common();
    v1.push((
        "is_public",
        boolean("Scope of image accessibility. Public or private. Default value is False means private. Note: The policy setting of glance allows only users with admin roles to create public image by default.")
            .default(json!(false))
            .update_allowed(),
    ));
    let mut image_schema = type_schema("A resource managing images in Glance.", v1, &[]);
    image_schema.support_status = "HIDDEN";
    registry.register(
        "OS::Glance::Image",
        Arc::new(WebImage {
            schema: image_schema,
            cloud: cloud.clone(),
            translate_is_public: true,
        }),
    );
}

struct WebImage {
    schema: TypeSchema,
    cloud: Arc<Cloud>,
    /// `OS::Glance::Image`: `is_public` stands for `visibility`.
    translate_is_public: bool,
}

impl WebImage {
    fn visibility(&self, props: &Properties) -> String {
        if self.translate_is_public {
            let public = props.get("is_public").and_then(Value::as_bool) == Some(true);
            return if public { "public" } else { "private" }.to_string();
        }
        props
            .get("visibility")
            .and_then(Value::as_str)
            .unwrap_or("private")
            .to_string()
    }

    async fn glance(&self, cx: &ResourceContext) -> Result<Image, ResourceError> {
        super::client(&self.cloud, cx, Image::new).await
    }
}

/// `extra_properties` values as Glance stores them (strings).
fn extra_properties(props: &Properties) -> impl Iterator<Item = (String, Value)> + '_ {
    props
        .get("extra_properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let text = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            (k.clone(), Value::String(text))
        })
}

/// A JSON-patch "add", which replaces an existing member too (RFC 6902).
fn add_op(field: &str, value: Value) -> Value {
    json!({"op": "add", "path": format!("/{field}"), "value": value})
}

fn remove_op(field: &str) -> Value {
    json!({"op": "remove", "path": format!("/{field}")})
}

#[async_trait]
impl ResourceType for WebImage {
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

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let glance = self.glance(cx).await?;
        let props = &cx.properties;
        let mut image = json!({
            "name": name_or_generated(cx),
            "disk_format": props["disk_format"],
            "container_format": props["container_format"],
            "min_disk": props["min_disk"],
            "min_ram": props["min_ram"],
            "protected": props["protected"],
            "tags": props["tags"],
            "visibility": self.visibility(props),
        });
        for key in STRING_FIELDS.iter().chain(&["id"]) {
            if let Some(value) = cx.prop_str(key) {
                image[*key] = json!(value);
            }
        }
        for (key, value) in extra_properties(props) {
            image[key] = value;
        }
        let created = glance.create(image).await.map_err(cloud_error)?;
        let id = created["id"].as_str().map(str::to_string);
        if let Some(id) = &id {
            // The record exists from here on: a failed import leaves it for delete to remove.
            if let Err(error) = glance
                .start_import_from_url(id, cx.prop_str("location").unwrap_or_default())
                .await
            {
                glance.delete(id).await.map_err(cloud_error)?;
                return Err(cloud_error(error));
            }
        }
        Ok(Started {
            physical_id: id,
            data: started_now(),
        })
    }

    async fn check_create_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        let glance = self.glance(cx).await?;
        progress(cx, glance.check_active(physical_id(cx)?).await)
    }

    async fn update(
        &self,
        cx: &ResourceContext,
        request: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        let glance = self.glance(cx).await?;
        let id = physical_id(cx)?;
        let current = glance.image(id).await.map_err(cloud_error)?;
        let new = &cx.properties;
        let mut patch = Vec::new();
        for changed in request.changed {
            match changed.as_str() {
                "name" => patch.push(add_op("name", json!(name_or_generated(cx)))),
                "visibility" | "is_public" => {
                    patch.push(add_op("visibility", json!(self.visibility(new))))
                }
                "protected" | "tags" => patch.push(add_op(changed, new[changed.as_str()].clone())),
                "extra_properties" => {}
                field => match new.get(field).and_then(Value::as_str) {
                    Some(value) => patch.push(add_op(field, json!(value))),
                    None if current.get(field).is_some() => patch.push(remove_op(field)),
                    None => {}
                },
            }
        }
        if request.changed.iter().any(|c| c == "extra_properties") {
            let kept: Vec<(String, Value)> = extra_properties(new).collect();
            let old = request
                .old_properties
                .get("extra_properties")
                .and_then(Value::as_object);
            for gone in old.into_iter().flatten().map(|(k, _)| k) {
                if !kept.iter().any(|(k, _)| k == gone) && current.get(gone).is_some() {
                    patch.push(remove_op(gone));
                }
            }
            for (key, value) in kept {
                patch.push(add_op(&key, value));
            }
        }
        if !patch.is_empty() {
            let body = serde_json::to_vec(&patch)
                .map_err(|e| ResourceError::new("Error", e.to_string()))?;
            glance
                .client()
                .patch(format!("/images/{id}"))
                .raw(body, "application/openstack-images-v2.1-json-patch")
                .idempotent(true)
                .send()
                .await
                .map_err(cloud_error)?;
        }
        Ok(Started::default())
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let Some(id) = cx.physical_id.as_deref() else {
            // Glance refused the create: nothing was made (Heat: no resource_id).
            return Ok(Started::default());
        };
        let glance = self.glance(cx).await?;
        glance.delete(id).await.map_err(cloud_error)?;
        Ok(Started::default())
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        super::attribute_of(&self.schema, cx, name, |id| async move {
            let glance = self.glance(cx).await?;
            glance.image(id).await.map_err(cloud_error)
        })
        .await
    }
}
