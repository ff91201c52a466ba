//! `OS::Heat::SwiftSignalHandle` and `OS::Heat::SwiftSignal`: Heat's wait condition whose
//! signals are objects PUT to a Swift temp URL, so whatever signals needs no token and no
//! route to the orchestration service, only to Swift.
//!
//! As in Heat, the handle makes the container named after the stack id (shared by the
//! stack's handles) with `X-Versions-Location` on itself, so every PUT to the same object keeps
//! the previous one as a version; the object (the handle's physical name) starts as `in
//! progress`. Its reference and `endpoint` are the PUT temp URL (expiring at Heat's
//! `MAX_EPOCH - 60`). The signal reads every version of the object, parses each body as Heat
//! does (empty = `{}`, defaults for `id`, `reason`, `status`, a repeated `id` replacing the
//! earlier one) and judges them with the wait condition's rules under its own error classes.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use ember_engine::schema::{AttributeSchema, Constraint, TypeSchema};
use ember_engine::{Progress, Registry, ResourceContext, ResourceError, ResourceType, Started};
use ember_openstack::services::swift::ObjectStore;
use serde_json::{json, Map, Value};

use super::object_store;
use crate::heat::wait_condition::{python_json, verdict, Signal, Waited};
use crate::openstack::props::{integer, number, string, type_schema};
use crate::openstack::{cloud_error, next_check, session, started_now, Cloud, STARTED_AT};

/// The handle's first object body, which is no signal.
const IN_PROGRESS: &str = "in progress";
/// Heat's temp URL expiry: `MAX_EPOCH - 60`.
const EXPIRES: u64 = 2_147_483_647 - 60;
/// Data key of the handle's temp URL.
const ENDPOINT: &str = "endpoint";

pub(in crate::openstack) fn register(registry: &mut Registry, cloud: &Arc<Cloud>) {
    let mut handle = type_schema(
        "Resource for managing signals from Swift resources.",
        vec![],
        &[],
    );
    for (name, description) in [
        ("token", "Tokens are not needed for Swift TempURLs. This attribute is being kept for compatibility with the OS::Heat::WaitConditionHandle resource."),
        ("endpoint", "Endpoint/url which can be used for signalling handle."),
        ("curl_cli", "Convenience attribute, provides curl CLI command prefix, which can be used for signalling handle completion or failure. You can signal success by adding --data-binary '{\"status\": \"SUCCESS\"}' , or signal failure by adding --data-binary '{\"status\": \"FAILURE\"}'."),
    ] {
        let mut attribute = AttributeSchema::new(description);
        attribute.kind = Some("string");
        handle.attributes.insert(name.into(), attribute);
    }
    handle.since_version = Some("2014.2");
    registry.register(
        "OS::Heat::SwiftSignalHandle",
        Arc::new(SwiftSignalHandle {
            schema: handle,
            cloud: cloud.clone(),
        }),
    );
    let range = |min: f64, max: f64| Constraint::Range {
        min: Some(min),
        max: Some(max),
    };
    let mut signal = type_schema(
        "Resource for handling signals received by SwiftSignalHandle.",
        vec![
            ("handle", string("URL of TempURL where resource will signal completion and optionally upload data.").required()),
            ("timeout", number("The maximum number of seconds to wait for the resource to signal completion. Once the timeout is reached, creation of the signal resource will fail.").required().constraint(range(1.0, 43200.0))),
            ("count", integer("The number of success signals that must be received before the stack creation process continues.").default(json!(1)).constraint(range(1.0, 1000.0))),
        ],
        &[],
    );
    let mut data = AttributeSchema::new("JSON data that was uploaded via the SwiftSignalHandle.");
    data.kind = Some("string");
    signal.attributes.insert("data".into(), data);
    signal.since_version = Some("2014.2");
    registry.register(
        "OS::Heat::SwiftSignal",
        Arc::new(SwiftSignal {
            schema: signal,
            cloud: cloud.clone(),
        }),
    );
}

/// The PUT temp URL of a signal object, expiring when Heat's do.
pub(crate) async fn put_url(
    swift: &ObjectStore,
    container: &str,
    object: &str,
) -> Result<String, ember_openstack::Error> {
    swift.temp_url(container, object, "PUT", EXPIRES).await
}

/// Every version of a signal object, then its container unless other signal objects of the
/// stack still use it (Heat's `_delete_swift_signal_url`).
pub(crate) async fn delete_signal_object(
    swift: &ObjectStore,
    container: &str,
    object: &str,
) -> Result<(), ResourceError> {
    while swift
        .delete_object(container, object)
        .await
        .map_err(cloud_error)?
    {}
    match swift.delete_container(container).await {
        Err(e) if !e.is_conflict() => Err(cloud_error(e)),
        _ => Ok(()),
    }
}

struct SwiftSignalHandle {
    schema: TypeSchema,
    cloud: Arc<Cloud>,
}

#[async_trait]
impl ResourceType for SwiftSignalHandle {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let swift = object_store(&self.cloud, cx).await?;
        let container = cx.stack_id.as_str();
        let object = cx.physical_resource_name();
        let versions = [("X-Versions-Location".to_string(), container.to_string())];
        let url = async {
            swift.put_container(container, &versions).await?;
            swift
                .put_object(container, &object, IN_PROGRESS.into(), "text/plain")
                .await?;
            put_url(&swift, container, &object).await
        }
        .await
        .map_err(cloud_error)?;
        Ok(Started {
            physical_id: Some(object),
            data: BTreeMap::from([(ENDPOINT.to_string(), url)]),
        })
    }

    fn creates_synchronously(&self) -> bool {
        true
    }

    /// Every version of the object, then the container unless other handles still use it.
    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let Some(object) = cx.physical_id.as_deref() else {
            return Ok(Started::default());
        };
        let swift = object_store(&self.cloud, cx).await?;
        delete_signal_object(&swift, &cx.stack_id, object).await?;
        Ok(Started::default())
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        let endpoint = cx.data.get(ENDPOINT).filter(|_| cx.physical_id.is_some());
        let value = match (name, endpoint) {
            ("token" | "endpoint" | "curl_cli", None) | ("show", _) => Value::Null,
            ("token", Some(_)) => json!(""),
            ("endpoint", Some(url)) => json!(url),
            ("curl_cli", Some(url)) => json!(format!("curl -i -X PUT '{url}'")),
            _ => return Ok(None),
        };
        Ok(Some(value))
    }

    fn reference_id(&self, cx: &ResourceContext) -> Value {
        cx.data.get(ENDPOINT).map_or(Value::Null, |url| json!(url))
    }
}

struct SwiftSignal {
    schema: TypeSchema,
    cloud: Arc<Cloud>,
}

/// The path of a URL (no scheme, host, query or fragment).
fn url_path(url: &str) -> &str {
    let path = url.split_once("://").map_or(url, |(_, rest)| {
        &rest[rest.find('/').unwrap_or(rest.len())..]
    });
    path.split(['?', '#']).next().unwrap_or_default()
}

/// A handle URL's container and object, when it is a Swift temp URL path of `project`
/// (`/v1/<...project>/<container>/<object>`).
fn handle_parts<'a>(url: &'a str, project: &str) -> Option<(&'a str, &'a str)> {
    let parts: Vec<&str> = url_path(url).splitn(5, '/').collect();
    match parts.as_slice() {
        ["", "v1", account, container, object]
            if account.ends_with(project)
                && !container.is_empty()
                && !object.trim_matches('/').is_empty() =>
        {
            Some((container, object))
        }
        _ => None,
    }
}

/// The signals in the object bodies, in listing order, with Heat's defaults: `data` null,
/// `id` the signal's number, `reason` "Signal <id> received", `status` SUCCESS; a signal
/// repeating an earlier `id` replaces it.
fn parse_signals(bodies: &[String]) -> Result<Vec<Signal>, ResourceError> {
    let mut signals: Vec<(Value, Signal)> = Vec::new();
    for (index, body) in bodies.iter().enumerate() {
        let mut signal: Map<String, Value> = if body.is_empty() {
            Map::new()
        } else {
            match serde_json::from_str::<Value>(body) {
                Ok(Value::Object(map)) => map,
                _ => {
                    return Err(ResourceError::new(
                        "Error",
                        format!("Failed to parse JSON data: {body}"),
                    ))
                }
            }
        };
        if let Some(id) = signal.get("id") {
            signals.retain(|(earlier, _)| earlier != id);
        }
        let id = signal.entry("id").or_insert(json!(index + 1)).clone();
        let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
        let reason = signal
            .get("reason")
            .map_or_else(|| format!("Signal {} received", text(&id)), text);
        let status = signal.get("status").map_or_else(|| "SUCCESS".into(), text);
        let data = signal.remove("data").unwrap_or(Value::Null);
        signals.push((
            id.clone(),
            Signal {
                id: text(&id),
                status,
                reason,
                data,
            },
        ));
    }
    Ok(signals.into_iter().map(|(_, signal)| signal).collect())
}

impl SwiftSignal {
    /// The signals PUT to the handle so far (none while the container is missing).
    async fn signals(
        &self,
        swift: &ObjectStore,
        cx: &ResourceContext,
    ) -> Result<Vec<Signal>, ResourceError> {
        let handle = cx.prop_str("handle").unwrap_or_default();
        let object = handle
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .split('?')
            .next()
            .unwrap_or_default();
        let container = cx.stack_id.as_str();
        let Some(names) = swift.object_names(container).await.map_err(cloud_error)? else {
            return Ok(Vec::new());
        };
        let mut bodies = Vec::new();
        // Other handles of the stack share the container; versions are named after the object.
        for name in names.iter().filter(|n| n.contains(object)) {
            match swift.get_object(container, name).await {
                Ok(body) => {
                    let body = String::from_utf8_lossy(&body).into_owned();
                    if body != IN_PROGRESS {
                        bodies.push(body);
                    }
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(cloud_error(e)),
            }
        }
        parse_signals(&bodies)
    }
}

#[async_trait]
impl ResourceType for SwiftSignal {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let handle = cx.prop_str("handle").unwrap_or_default();
        let project = session(&self.cloud, cx)
            .await?
            .token()
            .await
            .map_err(cloud_error)?
            .project_id
            .unwrap_or_default();
        let invalid = |part: &str| {
            ResourceError::new(
                "ValueError",
                format!(
                    "\"{}\" is not a valid SwiftSignalHandle.  The {part} is invalid",
                    url_path(handle)
                ),
            )
        };
        let (container, _) =
            handle_parts(handle, &project).ok_or_else(|| invalid("Swift TempURL path"))?;
        if container != cx.stack_id {
            return Err(invalid("container name"));
        }
        Ok(Started {
            physical_id: None,
            data: started_now(),
        })
    }

    async fn check_create_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        let swift = object_store(&self.cloud, cx).await?;
        let received = self.signals(&swift, cx).await?;
        if let Some(unknown) = received
            .iter()
            .find(|s| s.status != "SUCCESS" && s.status != "FAILURE")
        {
            return Err(ResourceError::new(
                "Error",
                format!("Unknown status: {}", unknown.status),
            ));
        }
        let started = cx
            .data
            .get(STARTED_AT)
            .and_then(|t| t.parse::<i64>().ok())
            .unwrap_or_else(|| Utc::now().timestamp_millis());
        let waited = Waited {
            count: cx
                .properties
                .get("count")
                .and_then(Value::as_u64)
                .unwrap_or(1) as usize,
            elapsed: (Utc::now().timestamp_millis() - started).max(0) as f64 / 1000.0,
            timeout: cx.prop_f64("timeout").unwrap_or(0.0),
        };
        if verdict(
            &received,
            &waited,
            ("SwiftSignalFailure", "SwiftSignalTimeout"),
        )? {
            return Ok(Progress::Done);
        }
        Ok(Progress::Pending(next_check(cx)))
    }

    /// `data`: a JSON string of `{id: data}` over the signals (`"null"` before any).
    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        match name {
            "data" => {
                let swift = object_store(&self.cloud, cx).await?;
                let received = self.signals(&swift, cx).await?;
                let data = if received.is_empty() {
                    Value::Null
                } else {
                    Value::Object(received.into_iter().map(|s| (s.id, s.data)).collect())
                };
                Ok(Some(Value::String(python_json(&data))))
            }
            "show" => Ok(Some(Value::Null)),
            _ => Ok(None),
        }
    }
}

/// Only the Heat checks of the handle URL; the polling is against the lab.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_urls_must_be_temp_url_paths_of_the_project() {
        let url =
            "http://127.0.0.1:8080/v1/AUTH_p1/stack-id/stack-h-x?temp_url_sig=a&temp_url_expires=1";
        assert_eq!(handle_parts(url, "p1"), Some(("stack-id", "stack-h-x")));
        assert_eq!(handle_parts(url, "p2"), None);
        assert_eq!(
            handle_parts("http://127.0.0.1:8080/v1/AUTH_p1/stack-id/", "p1"),
            None
        );
        assert_eq!(
            handle_parts("http://127.0.0.1:8080/v2/AUTH_p1/c/o", "p1"),
            None
        );
    }

    #[test]
    fn signals_get_heats_defaults_and_a_repeated_id_replaces() {
        let bodies: Vec<String> = [
            "",
            r#"{"status": "SUCCESS", "data": "a", "id": "x"}"#,
            r#"{"reason": "second x", "data": "b", "id": "x"}"#,
            r#"{"status": "FAILURE", "reason": "broke"}"#,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let signals = parse_signals(&bodies).unwrap();
        let summary: Vec<(&str, &str, &str, &Value)> = signals
            .iter()
            .map(|s| (s.id.as_str(), s.status.as_str(), s.reason.as_str(), &s.data))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("1", "SUCCESS", "Signal 1 received", &Value::Null),
                ("x", "SUCCESS", "second x", &json!("b")),
                ("4", "FAILURE", "broke", &Value::Null),
            ]
        );
        assert!(parse_signals(&["{oops".to_string()])
            .unwrap_err()
            .to_string()
            .contains("Failed to parse JSON data: {oops"));
    }
}
