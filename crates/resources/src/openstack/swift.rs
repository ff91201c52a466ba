//! `OS::Swift::Container`: a Swift container with its ACLs and metadata, and metadata of the
//! account it lives in. As in Heat, no property updates in place (any change replaces the
//! container), and delete refuses a container that still holds objects unless `PurgeOnDelete`.
//!
//! The storage URL attributes, the container headers and the object-store client are shared
//! with `AWS::S3::Bucket` (`aws/s3.rs`), which is a container too, and with
//! `OS::Heat::SwiftSignalHandle`/`SwiftSignal` (`swift/signal.rs`), Heat's wait condition over a
//! Swift temp URL.

mod signal;

pub(crate) use signal::{delete_signal_object, put_url};

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use ember_engine::resource::Properties;
use ember_engine::schema::{AttributeSchema, TypeSchema};
use ember_engine::{Progress, Registry, ResourceContext, ResourceError, ResourceType, Started};
use ember_openstack::services::swift::{Headers, ObjectStore};
use serde_json::{json, Value};

use super::props::{boolean, map, string, type_schema};
use super::{cloud_error, name_or_generated, next_check, started_now, Cloud};

const CONTAINER_META: &str = "X-Container-Meta";
const ACCOUNT_META: &str = "X-Account-Meta";
const ACLS: [&str; 2] = ["X-Container-Read", "X-Container-Write"];
const PURGE_ON_DELETE: &str = "PurgeOnDelete";

pub(super) fn register(registry: &mut Registry, cloud: &Arc<Cloud>) {
    let mut schema = type_schema(
        "A resource for managing Swift containers.",
        vec![
            ("name", string("Name for the container. If not specified, a unique name will be generated.")),
            ("X-Container-Read", string("Specify the ACL permissions on who can read objects in the container.")),
            ("X-Container-Write", string("Specify the ACL permissions on who can write objects to the container.")),
            (CONTAINER_META, map("A map of user-defined meta data to associate with the container. Each key in the map will set the header X-Container-Meta-{key} with the corresponding value.").default(json!({}))),
            (ACCOUNT_META, map("A map of user-defined meta data to associate with the account. Each key in the map will set the header X-Account-Meta-{key} with the corresponding value.").default(json!({}))),
            (PURGE_ON_DELETE, boolean("If True, delete any objects in the container when the container is deleted. Otherwise, deleting a non-empty container will result in an error.").default(json!(false))),
        ],
        &[],
    );
    for (name, kind, description) in [
        ("DomainName", "string", "The host from the container URL."),
        ("WebsiteURL", "string", "The URL of the container."),
        ("RootURL", "string", "The parent URL of the container."),
        (
            "ObjectCount",
            "integer",
            "The number of objects stored in the container.",
        ),
        (
            "BytesUsed",
            "integer",
            "The number of bytes stored in the container.",
        ),
        (
            "HeadContainer",
            "map",
            "A map containing all headers for the container.",
        ),
    ] {
        let mut attribute = AttributeSchema::new(description);
        attribute.kind = Some(kind);
        schema.attributes.insert(name.into(), attribute);
    }
    registry.register(
        "OS::Swift::Container",
        Arc::new(Container {
            schema,
            cloud: cloud.clone(),
        }),
    );
    signal::register(registry, cloud);
}

/// The object store of this handler call's session.
pub(crate) async fn object_store(
    cloud: &Cloud,
    cx: &ResourceContext,
) -> Result<ObjectStore, ResourceError> {
    super::client(cloud, cx, ObjectStore::new).await
}

/// The object store for a type registered without a [`Cloud`] of its own (a software
/// deployment's `TEMP_URL_SIGNAL`): the handler call's cloud, else, as for the OpenStack types
/// registered without one, the cloud the `OS_*` variables describe.
pub(crate) async fn context_object_store(
    cx: &ResourceContext,
) -> Result<ObjectStore, ResourceError> {
    static ENVIRONMENT: OnceLock<Arc<Cloud>> = OnceLock::new();
    object_store(ENVIRONMENT.get_or_init(Cloud::from_env), cx).await
}

/// Heat's attributes derived from the storage URL: `DomainName` (its host, without the port),
/// `WebsiteURL` (the container's URL) and `RootURL` (the storage URL); `None` for other names.
pub(crate) fn url_attribute(account_url: &str, name: &str, container: &str) -> Option<Value> {
    let (scheme, rest) = account_url.split_once("://").unwrap_or(("", account_url));
    let (netloc, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let value = match name {
        "DomainName" => netloc.split(':').next().unwrap_or_default().to_string(),
        "WebsiteURL" => format!("{scheme}://{netloc}{path}/{container}"),
        "RootURL" => format!("{scheme}://{netloc}{path}"),
        _ => return None,
    };
    Some(Value::String(value))
}

/// A property value as the header text Heat's Swift client sends (Python's `str()`).
fn header_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        other => other.to_string(),
    }
}

/// One request header, refused (with the reason) when HTTP cannot carry it: a name of token
/// characters, a value without control characters.
pub(crate) fn header(name: String, value: &Value) -> Result<(String, String), String> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return Err(format!("{name:?} is not a valid HTTP header name"));
    }
    let text = header_text(value);
    if text.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!("the value of {name} has control characters"));
    }
    Ok((name, text))
}

/// `{prefix}-{key}: value` headers of a metadata map property (`X-Container-Meta`,
/// `X-Account-Meta`).
fn meta_headers(props: &Properties, prefix: &str) -> Result<Vec<(String, String)>, String> {
    props
        .get(prefix)
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(key, value)| header(format!("{prefix}-{key}"), value))
        .collect()
}

/// The container's headers (metadata, then the ACLs given) and the account's.
type ContainerHeaders = (Vec<(String, String)>, Vec<(String, String)>);

fn container_headers(props: &Properties) -> Result<ContainerHeaders, String> {
    let mut container = meta_headers(props, CONTAINER_META)?;
    for acl in ACLS {
        if let Some(value) = props.get(acl).filter(|v| !v.is_null()) {
            container.push(header(acl.to_string(), value)?);
        }
    }
    Ok((container, meta_headers(props, ACCOUNT_META)?))
}

/// The headers as Heat's `HeadContainer` gives them: a map of lower-case names to text.
fn headers_json(headers: &Headers) -> Value {
    Value::Object(
        headers
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(value.clone())))
            .collect(),
    )
}

struct Container {
    schema: TypeSchema,
    cloud: Arc<Cloud>,
}

impl Container {
    fn refuse_non_empty(id: &str) -> ResourceError {
        ResourceError::NotSupported(format!(
            "Deleting non-empty container ({id}) when {PURGE_ON_DELETE} is False"
        ))
    }
}

#[async_trait]
impl ResourceType for Container {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    fn validate(&self, properties: &Properties) -> Result<(), String> {
        container_headers(properties).map(|_| ())
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let swift = object_store(&self.cloud, cx).await?;
        let (container, account) =
            container_headers(&cx.properties).map_err(|e| ResourceError::new("Error", e))?;
        let name = name_or_generated(cx);
        swift
            .put_container(&name, &container)
            .await
            .map_err(cloud_error)?;
        if !account.is_empty() {
            swift.post_account(&account).await.map_err(cloud_error)?;
        }
        Ok(Started {
            physical_id: Some(name),
            data: Default::default(),
        })
    }

    fn creates_synchronously(&self) -> bool {
        true
    }

    /// Refuses a non-empty container unless `PurgeOnDelete`; the objects and the container go
    /// in `check_delete_complete`, a listing page per look.
    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let Some(id) = cx.physical_id.as_deref() else {
            return Ok(Started::default());
        };
        let swift = object_store(&self.cloud, cx).await?;
        let objects = swift.object_names(id).await.map_err(cloud_error)?;
        if objects.is_some_and(|o| !o.is_empty()) && !cx.prop_bool(PURGE_ON_DELETE) {
            return Err(Self::refuse_non_empty(id));
        }
        Ok(Started {
            physical_id: None,
            data: started_now(),
        })
    }

    async fn check_delete_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        let Some(id) = cx.physical_id.as_deref() else {
            return Ok(Progress::Done);
        };
        let swift = object_store(&self.cloud, cx).await?;
        let Some(objects) = swift.object_names(id).await.map_err(cloud_error)? else {
            return Ok(Progress::Done);
        };
        let purge = cx.prop_bool(PURGE_ON_DELETE);
        if !objects.is_empty() && !purge {
            // Written into after the delete started.
            return Err(Self::refuse_non_empty(id));
        }
        for object in &objects {
            swift.delete_object(id, object).await.map_err(cloud_error)?;
        }
        match swift.delete_container(id).await {
            Ok(()) => Ok(Progress::Done),
            // More objects than one listing page, or new ones: the next look deletes them.
            Err(e) if e.is_conflict() && purge => Ok(Progress::Pending(next_check(cx))),
            Err(e) => Err(cloud_error(e)),
        }
    }

    async fn check(&self, cx: &ResourceContext) -> Result<(), ResourceError> {
        let swift = object_store(&self.cloud, cx).await?;
        swift
            .head_container(super::physical_id(cx)?)
            .await
            .map_err(cloud_error)?;
        Ok(())
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        super::attribute_of(&self.schema, cx, name, |id| async move {
            let swift = object_store(&self.cloud, cx).await?;
            if let Some(url) = url_attribute(swift.account_url(), name, id) {
                return Ok(url);
            }
            // Heat answers None when Swift refuses the HEAD (the container is gone).
            let headers = match swift.head_container(id).await {
                Ok(headers) => headers,
                Err(e) if e.is_not_found() => return Ok(Value::Null),
                Err(e) => return Err(cloud_error(e)),
            };
            // Swift's header texts, as Heat gives them.
            let header = |key: &str| headers.get(key).cloned().map_or(Value::Null, Value::from);
            Ok(match name {
                "ObjectCount" => header("x-container-object-count"),
                "BytesUsed" => header("x-container-bytes-used"),
                _ => headers_json(&headers),
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_attributes_follow_the_storage_url() {
        let url = "http://127.0.0.1:8080/v1/AUTH_p1";
        assert_eq!(
            url_attribute(url, "DomainName", "c"),
            Some(json!("127.0.0.1"))
        );
        assert_eq!(
            url_attribute(url, "WebsiteURL", "c"),
            Some(json!("http://127.0.0.1:8080/v1/AUTH_p1/c"))
        );
        assert_eq!(url_attribute(url, "RootURL", "c"), Some(json!(url)));
        assert_eq!(url_attribute(url, "ObjectCount", "c"), None);
    }

    #[test]
    fn headers_from_properties_as_heat_sends_them() {
        let props = json!({
            "X-Container-Meta": {"Web-Index": "index.html", "count": 3, "on": true},
            "X-Account-Meta": {"Temp-Url-Key": "k"},
            "X-Container-Read": ".r:*",
            "X-Container-Write": null,
        });
        let (container, account) = container_headers(props.as_object().unwrap()).unwrap();
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(
            container,
            pairs(&[
                ("X-Container-Meta-Web-Index", "index.html"),
                ("X-Container-Meta-count", "3"),
                ("X-Container-Meta-on", "True"),
                ("X-Container-Read", ".r:*"),
            ])
        );
        assert_eq!(account, pairs(&[("X-Account-Meta-Temp-Url-Key", "k")]));
        let bad = json!({"X-Container-Meta": {"a b": "x"}});
        assert!(container_headers(bad.as_object().unwrap())
            .unwrap_err()
            .contains("not a valid HTTP header name"));
        let bad = json!({"X-Container-Read": "a\r\nX-Evil: 1"});
        assert!(container_headers(bad.as_object().unwrap()).is_err());
    }
}
