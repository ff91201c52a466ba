//! `AWS::S3::Bucket`: a Swift container, as Heat makes it. The canned `AccessControl` ACL
//! becomes the container's `X-Container-Read`/`X-Container-Write` (Keystone
//! `<project>:<user>` of the stack's user, the project, or `.r:*`), `Tags` become
//! `X-Container-Meta-S3-Tag-<Key>` and `WebsiteConfiguration` Swift staticweb's
//! `X-Container-Meta-Web-Index`/`-Error`. Any change replaces the bucket; delete refuses a
//! bucket that holds objects. `Ref` is the container name.

use std::sync::Arc;

use async_trait::async_trait;
use ember_engine::resource::Properties;
use ember_engine::schema::{Constraint, TypeSchema};
use ember_engine::{Registry, ResourceContext, ResourceError, ResourceType, Started};
use serde_json::{json, Value};

use super::{list, map, schema, string};
use crate::openstack::keystone::identity;
use crate::openstack::swift::{header, object_store, url_attribute};
use crate::openstack::{cloud_error, session, Cloud};

const CANNED_ACLS: [&str; 6] = [
    "Private",
    "PublicRead",
    "PublicReadWrite",
    "AuthenticatedRead",
    "BucketOwnerRead",
    "BucketOwnerFullControl",
];

pub(super) fn register(registry: &mut Registry, cloud: &Arc<Cloud>) {
    registry.register(
        "AWS::S3::Bucket",
        Arc::new(Bucket {
            schema: schema(
                // Heat's class has no docstring.
                "No description available",
                vec![
                    (
                        "AccessControl",
                        string("A predefined access control list (ACL) that grants permissions on the bucket.")
                            .constraint(Constraint::AllowedValues(CANNED_ACLS.iter().map(|a| json!(a)).collect())),
                    ),
                    (
                        "WebsiteConfiguration",
                        map("Information used to configure the bucket as a static website.").with_keys(vec![
                            ("IndexDocument", string("The name of the index document.")),
                            ("ErrorDocument", string("The name of the error document.")),
                        ]),
                    ),
                    (
                        "Tags",
                        list("Tags to attach to the bucket.").with_items(map("").with_keys(vec![
                            ("Key", string("The tag key name.").required()),
                            ("Value", string("The tag value.").required()),
                        ])),
                    ),
                ],
                &[
                    ("DomainName", "The DNS name of the specified bucket."),
                    ("WebsiteURL", "The website endpoint for the specified bucket."),
                ],
            ),
            cloud: cloud.clone(),
        }),
    );
}

/// Who the canned ACL grants reading and writing, in Swift's ACL syntax: `project` and `user`
/// are the Keystone names of the stack's user (`<project>:<user>` is that user alone).
fn acl_headers(access_control: Option<&str>, project: &str, user: &str) -> [(String, String); 2] {
    let owner = format!("{project}:{user}");
    let read = match access_control {
        Some("PublicRead" | "PublicReadWrite") => ".r:*".to_string(),
        Some("AuthenticatedRead") => project.to_string(),
        _ => owner.clone(),
    };
    let write = match access_control {
        Some("PublicReadWrite") => ".r:*".to_string(),
        _ => owner,
    };
    [
        ("X-Container-Read".to_string(), read),
        ("X-Container-Write".to_string(), write),
    ]
}

/// The tag and website headers (the ACLs are added at create, when the user is known).
fn bucket_headers(props: &Properties) -> Result<Vec<(String, String)>, String> {
    let mut headers = Vec::new();
    for tag in props
        .get("Tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = tag["Key"].as_str().unwrap_or_default();
        headers.push(header(
            format!("X-Container-Meta-S3-Tag-{key}"),
            &tag["Value"],
        )?);
    }
    let website = props.get("WebsiteConfiguration").filter(|w| w.is_object());
    for (key, suffix) in [("IndexDocument", "Index"), ("ErrorDocument", "Error")] {
        // Heat assumes Swift's staticweb middleware reads these.
        if let Some(document) = website.and_then(|w| w.get(key)).filter(|d| !d.is_null()) {
            headers.push(header(format!("X-Container-Meta-Web-{suffix}"), document)?);
        }
    }
    Ok(headers)
}

struct Bucket {
    schema: TypeSchema,
    cloud: Arc<Cloud>,
}

impl Bucket {
    /// The Keystone names of the project and user the stack acts as (Heat's request context).
    async fn project_and_user(
        &self,
        cx: &ResourceContext,
    ) -> Result<(String, String), ResourceError> {
        let token = session(&self.cloud, cx)
            .await?
            .token()
            .await
            .map_err(cloud_error)?;
        let keystone = identity(&self.cloud, cx).await?;
        let validated = keystone
            .client()
            .get("/auth/tokens")
            .header("X-Subject-Token", token.secret())
            .send_json()
            .await
            .map_err(cloud_error)?;
        let name = |key: &str| {
            validated["token"][key]["name"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| {
                    ResourceError::new("Error", format!("the stack's token names no {key}"))
                })
        };
        Ok((name("project")?, name("user")?))
    }
}

#[async_trait]
impl ResourceType for Bucket {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    fn validate(&self, properties: &Properties) -> Result<(), String> {
        bucket_headers(properties).map(|_| ())
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let mut headers =
            bucket_headers(&cx.properties).map_err(|e| ResourceError::new("Error", e))?;
        let (project, user) = self.project_and_user(cx).await?;
        headers.extend(acl_headers(cx.prop_str("AccessControl"), &project, &user));
        let swift = object_store(&self.cloud, cx).await?;
        let name = cx.physical_resource_name();
        swift
            .put_container(&name, &headers)
            .await
            .map_err(cloud_error)?;
        Ok(Started {
            physical_id: Some(name),
            data: Default::default(),
        })
    }

    fn creates_synchronously(&self) -> bool {
        true
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let Some(id) = cx.physical_id.as_deref() else {
            return Ok(Started::default());
        };
        let swift = object_store(&self.cloud, cx).await?;
        match swift.delete_container(id).await {
            Ok(()) => Ok(Started::default()),
            Err(e) if e.is_conflict() => {
                let objects = swift.object_names(id).await.map_err(cloud_error)?;
                if objects.is_some_and(|o| !o.is_empty()) {
                    return Err(ResourceError::NotSupported(format!(
                        "The bucket you tried to delete is not empty ({id})."
                    )));
                }
                Err(cloud_error(e))
            }
            Err(e) => Err(cloud_error(e)),
        }
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        if name == "show" {
            // Heat's bucket has no entity to show.
            return Ok(self
                .schema
                .attributes
                .contains_key(name)
                .then_some(Value::Null));
        }
        crate::openstack::attribute_of(&self.schema, cx, name, |id| async move {
            let swift = object_store(&self.cloud, cx).await?;
            Ok(url_attribute(swift.account_url(), name, id).unwrap_or(Value::Null))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canned_acls_map_to_swift_acls_as_heat_does() {
        let acl = |ac: Option<&str>| {
            let [(_, read), (_, write)] = acl_headers(ac, "demo", "alice");
            (read, write)
        };
        let pair = |r: &str, w: &str| (r.to_string(), w.to_string());
        assert_eq!(acl(None), pair("demo:alice", "demo:alice"));
        assert_eq!(acl(Some("Private")), pair("demo:alice", "demo:alice"));
        assert_eq!(acl(Some("PublicRead")), pair(".r:*", "demo:alice"));
        assert_eq!(acl(Some("PublicReadWrite")), pair(".r:*", ".r:*"));
        assert_eq!(acl(Some("AuthenticatedRead")), pair("demo", "demo:alice"));
        assert_eq!(
            acl(Some("BucketOwnerRead")),
            pair("demo:alice", "demo:alice")
        );
        assert_eq!(
            acl(Some("BucketOwnerFullControl")),
            pair("demo:alice", "demo:alice")
        );
    }

    #[test]
    fn tags_and_website_become_container_metadata() {
        let props = json!({
            "Tags": [{"Key": "env", "Value": "test"}],
            "WebsiteConfiguration": {"IndexDocument": "index.html", "ErrorDocument": "error.html"},
        });
        let headers = bucket_headers(props.as_object().unwrap()).unwrap();
        let expected: Vec<(String, String)> = [
            ("X-Container-Meta-S3-Tag-env", "test"),
            ("X-Container-Meta-Web-Index", "index.html"),
            ("X-Container-Meta-Web-Error", "error.html"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(headers, expected);
    }
}
