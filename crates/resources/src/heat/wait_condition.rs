//! Wait condition handles and wait conditions, native (`OS::Heat::*`) and CloudFormation
//! (`AWS::CloudFormation::*`).
//!
//! A handle keeps the signals it received in its resource data, one entry per signal id in
//! arrival order; a condition polls its handle's data (through the engine's [`StackControl`])
//! until `count` successes arrive, a failure arrives, or its timeout passes, failing with Heat's
//! `WaitConditionFailure` / `WaitConditionTimeout` reasons.

use crate::openstack::stack_domain;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ember_engine::nested::{SignalUrlKind, StackControl, StackHandle};
use ember_engine::resource::{Properties, UpdateRequest};
use ember_engine::schema::{AttributeSchema, Constraint, PropertySchema, PropertyType, TypeSchema};
use ember_engine::{Progress, ResourceContext, ResourceError, ResourceType, Started};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Data keys of the signals: `signal.<arrival number>`, zero-padded so they sort in order.
const SIGNAL_PREFIX: &str = "signal.";
const TOKEN: &str = "token";
const ENDPOINT: &str = "endpoint";
const STARTED_AT: &str = "started_at";

const SUCCESS: &str = "SUCCESS";
const FAILURE: &str = "FAILURE";

/// One received signal.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    pub id: String,
    pub status: String,
    pub reason: String,
    pub data: Value,
}

/// The signals kept in a handle's data, in arrival order.
pub fn signals(data: &BTreeMap<String, String>) -> Vec<Signal> {
    data.iter()
        .filter(|(k, _)| k.starts_with(SIGNAL_PREFIX))
        .filter_map(|(_, v)| serde_json::from_str::<Value>(v).ok())
        .map(|v| Signal {
            id: v["id"].as_str().unwrap_or_default().to_string(),
            status: v["status"].as_str().unwrap_or_default().to_string(),
            reason: v["reason"].as_str().unwrap_or_default().to_string(),
            data: v["data"].clone(),
        })
        .collect()
}

/// The flavour of a handle: what signals look like and what its reference is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandleKind {
    /// `OS::Heat::WaitConditionHandle`: `{status, reason, data, id}`, all optional.
    Native,
    /// `OS::Heat::UpdateWaitConditionHandle`: native signals, replaced (signals cleared) on
    /// every stack update.
    ReplacedOnUpdate,
    /// `AWS::CloudFormation::WaitConditionHandle`: `{Status, Reason, UniqueId, Data}`, all
    /// required; its reference is the URL to signal.
    Cfn,
}

pub struct WaitConditionHandle {
    kind: HandleKind,
    handle: StackHandle,
    schema: TypeSchema,
}

impl WaitConditionHandle {
    pub fn new(kind: HandleKind, handle: StackHandle) -> Self {
        let mut properties = BTreeMap::new();
        let mut attributes = BTreeMap::new();
        if kind != HandleKind::Cfn {
            properties.insert(
                "signal_transport".into(),
                PropertySchema::new(
                    PropertyType::String,
                    "How the client will signal the wait condition.",
                )
                .default(json!("TOKEN_SIGNAL"))
                .constraint(Constraint::AllowedValues(
                    [
                        "CFN_SIGNAL",
                        "TEMP_URL_SIGNAL",
                        "HEAT_SIGNAL",
                        "NO_SIGNAL",
                        "ZAQAR_SIGNAL",
                        "TOKEN_SIGNAL",
                    ]
                    .iter()
                    .map(|s| json!(s))
                    .collect(),
                )),
            );
            for (name, description) in [
                (
                    "token",
                    "Token for stack-user which can be used for signalling handle.",
                ),
                (
                    "endpoint",
                    "Endpoint/url which can be used for signalling handle.",
                ),
                (
                    "curl_cli",
                    "Convenience attribute, provides curl CLI command prefix.",
                ),
                (
                    "signal",
                    "JSON serialized map that includes the endpoint and token.",
                ),
            ] {
                attributes.insert(name.into(), AttributeSchema::new(description));
            }
        }
        WaitConditionHandle {
            kind,
            handle,
            schema: TypeSchema {
                properties,
                attributes,
                description: "A resource for managing signals to wait conditions.".into(),
                support_status: "SUPPORTED",
                since_version: None,
                accepts_any_property: false,
            },
        }
    }

    fn control(&self) -> Result<Arc<dyn StackControl>, ResourceError> {
        self.handle.get()
    }

    /// The signal in a body, with Heat's defaults for the native handle (success, `Signal N
    /// received`, the arrival number as id) and its checks of the CloudFormation format.
    fn parse(&self, details: &Value, number: usize) -> Result<Signal, ResourceError> {
        let invalid = || ResourceError::new("ValueError", "Metadata format invalid");
        let text = |v: Option<&Value>| -> Option<String> {
            v.filter(|v| !v.is_null()).map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        };
        let (status, reason, id, data, keys): (_, _, _, _, &[&str]) = match self.kind {
            HandleKind::Cfn => (
                text(details.get("Status")),
                text(details.get("Reason")),
                text(details.get("UniqueId")),
                details.get("Data").cloned(),
                &["Status", "Reason", "UniqueId", "Data"],
            ),
            _ => (
                text(details.get("status")).or(Some(SUCCESS.into())),
                text(details.get("reason")).or(Some(format!("Signal {number} received"))),
                text(details.get("id")).or(Some(number.to_string())),
                Some(details.get("data").cloned().unwrap_or(Value::Null)),
                &["status", "reason", "id", "data"],
            ),
        };
        let body = match details {
            Value::Object(m) => m.clone(),
            Value::Null => Map::new(),
            _ => return Err(invalid()),
        };
        if body.keys().any(|k| !keys.contains(&k.as_str())) {
            return Err(invalid());
        }
        let (Some(status), Some(reason), Some(id), Some(data)) = (status, reason, id, data) else {
            return Err(invalid());
        };
        if status != SUCCESS && status != FAILURE {
            return Err(invalid());
        }
        Ok(Signal {
            id,
            status,
            reason,
            data,
        })
    }
}

#[async_trait]
impl ResourceType for WaitConditionHandle {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let control = self.control()?;
        let url_kind = match self.kind {
            HandleKind::Cfn => SignalUrlKind::PresignedWaitCondition,
            _ => SignalUrlKind::Native,
        };
        let endpoint = control.signal_url(&cx.stack_id, &cx.name, url_kind).await?;
        if self.kind != HandleKind::Cfn && control.has_stack_domain() {
            // Heat's `HeatWaitConditionHandle`: a stack user of the handle, its Keystone
            // token, and the native signal path under the stack's domain project.
            let user = stack_domain::resource_user(control.as_ref(), cx).await?;
            let token = stack_domain::user_token(&user).await?;
            let mut data = user.data();
            data.insert(TOKEN.into(), token);
            data.insert(
                ENDPOINT.into(),
                stack_domain::in_project(&endpoint, &user.project_id),
            );
            return Ok(Started {
                physical_id: Some(cx.physical_resource_name()),
                data,
            });
        }
        let mut data = BTreeMap::from([(ENDPOINT.to_string(), endpoint)]);
        if self.kind != HandleKind::Cfn {
            // Without an API server to check a minted token (in-process mode) the token is
            // only a value for templates to pass on; signals then go through the CLI.
            let token = match control.signal_token(&cx.stack_id, &cx.name).await? {
                Some(token) => token,
                None => uuid::Uuid::new_v4().simple().to_string(),
            };
            data.insert(TOKEN.into(), token);
        }
        Ok(Started {
            physical_id: Some(cx.physical_resource_name()),
            data,
        })
    }

    /// The handle's stack user goes with it.
    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        if let Ok(control) = self.control() {
            stack_domain::delete_resource_user(control.as_ref(), cx).await?;
        }
        Ok(Started::default())
    }

    fn needs_update(&self, old: &Properties, new: &Properties) -> bool {
        self.kind == HandleKind::ReplacedOnUpdate || old != new
    }

    async fn update(
        &self,
        _cx: &ResourceContext,
        _req: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        match self.kind {
            HandleKind::ReplacedOnUpdate => Err(ResourceError::UpdateReplace),
            _ => Ok(Started::default()),
        }
    }

    /// The CloudFormation handle is referenced by the URL to signal.
    fn reference_id(&self, cx: &ResourceContext) -> Value {
        match (self.kind, cx.data.get(ENDPOINT)) {
            (HandleKind::Cfn, Some(url)) => Value::String(url.clone()),
            _ => Value::String(cx.physical_id.clone().unwrap_or_else(|| cx.name.clone())),
        }
    }

    async fn handle_signal(
        &self,
        cx: &ResourceContext,
        details: &Value,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let received = signals(&cx.data);
        let signal = self.parse(details, received.len() + 1)?;
        // A signal with an id already received replaces that one, in place.
        let key = cx
            .data
            .iter()
            .filter(|(k, _)| k.starts_with(SIGNAL_PREFIX))
            .find(|(_, v)| {
                serde_json::from_str::<Value>(v).is_ok_and(|v| v["id"] == json!(signal.id))
            })
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| format!("{SIGNAL_PREFIX}{:06}", received.len() + 1));
        let value = json!({"id": signal.id, "status": signal.status, "reason": signal.reason, "data": signal.data});
        Ok(BTreeMap::from([(key, value.to_string())]))
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        let token = cx.data.get(TOKEN).cloned().unwrap_or_default();
        let endpoint = cx.data.get(ENDPOINT).cloned().unwrap_or_default();
        match (self.kind, name) {
            (HandleKind::Cfn, "show") | (_, "show") => Ok(Some(Value::Null)),
            (HandleKind::Cfn, _) => Ok(None),
            (_, "token") => Ok(Some(json!(token))),
            (_, "endpoint") => Ok(Some(json!(endpoint))),
            (_, "curl_cli") => Ok(Some(json!(format!(
                "curl -i -X POST -H 'X-Auth-Token: {token}' -H 'Content-Type: application/json' \
                 -H 'Accept: application/json' {endpoint}"
            )))),
            (_, "signal") => Ok(Some(json!({"url": endpoint, "token": token}))),
            _ => Ok(None),
        }
    }
}

pub struct WaitCondition {
    cfn: bool,
    handle: StackHandle,
    schema: TypeSchema,
}

impl WaitCondition {
    pub fn new(cfn: bool, handle: StackHandle) -> Self {
        let name = |native: &'static str, aws: &'static str| if cfn { aws } else { native };
        let mut properties = BTreeMap::new();
        properties.insert(
            name("handle", "Handle").into(),
            PropertySchema::new(
                PropertyType::String,
                "A reference to the wait condition handle.",
            )
            .required(),
        );
        properties.insert(
            name("timeout", "Timeout").into(),
            PropertySchema::new(
                PropertyType::Number,
                "The number of seconds to wait for the correct number of signals to arrive.",
            )
            .required()
            .constraint(Constraint::Range {
                min: Some(1.0),
                max: Some(43200.0),
            }),
        );
        properties.insert(
            name("count", "Count").into(),
            PropertySchema::new(PropertyType::Integer, "The number of success signals that must be received before the stack creation process continues.")
                .default(json!(1))
                .update_allowed()
                .constraint(Constraint::Range {
                    min: Some(1.0),
                    max: None,
                }),
        );
        let mut attributes = BTreeMap::new();
        attributes.insert(
            name("data", "Data").into(),
            AttributeSchema::new("JSON string containing data associated with wait condition signals sent to the handle."),
        );
        WaitCondition {
            cfn,
            handle,
            schema: TypeSchema {
                properties,
                attributes,
                description: "Resource for handling signals received by WaitConditionHandle."
                    .into(),
                support_status: "SUPPORTED",
                since_version: None,
                accepts_any_property: false,
            },
        }
    }

    fn prop<'a>(&self, cx: &'a ResourceContext, native: &str) -> Option<&'a Value> {
        let key = if self.cfn {
            let mut c = native.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        } else {
            native.to_string()
        };
        cx.properties.get(&key)
    }

    /// The handle's signals, found by the handle's reference id (or name).
    async fn handle_signals(&self, cx: &ResourceContext) -> Result<Vec<Signal>, ResourceError> {
        let control = self.handle.get()?;
        let reference = self
            .prop(cx, "handle")
            .and_then(Value::as_str)
            .unwrap_or_default();
        // A CFN handle is given by its URL; the resource name is its last path element.
        let name = match control
            .resource_by_reference(&cx.stack_id, reference)
            .await?
        {
            Some(name) => name,
            None => {
                return Err(ResourceError::new(
                    "ValueError",
                    format!("WaitCondition invalid Handle {reference}"),
                ))
            }
        };
        let data = control
            .resource_data(&cx.stack_id, &name)
            .await?
            .unwrap_or_default();
        Ok(signals(&data))
    }
}

#[async_trait]
impl ResourceType for WaitCondition {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        Ok(Started {
            physical_id: Some(cx.physical_resource_name()),
            data: BTreeMap::from([(STARTED_AT.to_string(), Utc::now().to_rfc3339())]),
        })
    }

    async fn check_create_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        let count = self.prop(cx, "count").and_then(Value::as_u64).unwrap_or(1) as usize;
        let timeout = self
            .prop(cx, "timeout")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        let received = self.handle_signals(cx).await?;
        let started = cx
            .data
            .get(STARTED_AT)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map_or_else(Utc::now, |t| t.with_timezone(&Utc));
        let elapsed = (Utc::now() - started)
            .to_std()
            .unwrap_or_default()
            .as_secs_f64();
        let waited = Waited {
            count,
            elapsed,
            timeout,
        };
        if verdict(
            &received,
            &waited,
            ("WaitConditionFailure", "WaitConditionTimeout"),
        )? {
            return Ok(Progress::Done);
        }
        let left = (timeout - elapsed).max(0.0);
        Ok(Progress::Pending(Duration::from_secs_f64(
            left.min(0.05) + 0.001,
        )))
    }

    /// Only `count` changes in place; the new count applies to later waits.
    async fn update(
        &self,
        _cx: &ResourceContext,
        _req: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        Ok(Started::default())
    }

    /// `data`: a JSON string of `{id: data}` over the handle's signals.
    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        match name {
            "data" | "Data" if (name == "Data") == self.cfn => {
                let received = self.handle_signals(cx).await.unwrap_or_default();
                let map: Map<String, Value> =
                    received.into_iter().map(|s| (s.id, s.data)).collect();
                Ok(Some(Value::String(python_json(&Value::Object(map)))))
            }
            "show" => Ok(Some(Value::Null)),
            _ => Ok(None),
        }
    }
}

/// How long a condition has waited for how many successes.
pub(crate) struct Waited {
    pub count: usize,
    pub elapsed: f64,
    pub timeout: f64,
}

/// Heat's verdict over the signals received so far (also `OS::Heat::SwiftSignal`'s, with its
/// own error classes): any failure fails with the failures' reasons joined by `;`, `count`
/// signals complete (`Ok(true)`), a passed timeout fails with "N of COUNT received - reasons";
/// else the wait goes on (`Ok(false)`).
pub(crate) fn verdict(
    received: &[Signal],
    waited: &Waited,
    (failure_class, timeout_class): (&str, &str),
) -> Result<bool, ResourceError> {
    let failures: Vec<&str> = received
        .iter()
        .filter(|s| s.status != SUCCESS)
        .map(|s| s.reason.as_str())
        .collect();
    if !failures.is_empty() {
        return Err(ResourceError::new(failure_class, failures.join(";")));
    }
    if received.len() >= waited.count {
        return Ok(true);
    }
    if waited.elapsed > waited.timeout {
        let reasons: Vec<&str> = received.iter().map(|s| s.reason.as_str()).collect();
        let mut message = format!("{} of {} received", received.len(), waited.count);
        if !reasons.is_empty() {
            message.push_str(" - ");
            message.push_str(&reasons.join(";"));
        }
        return Err(ResourceError::new(timeout_class, message));
    }
    Ok(false)
}

/// JSON text as Python's `json.dumps` writes it (`", "` and `": "` separators), which is what
/// Heat's `data` attribute holds.
pub(crate) fn python_json(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", Value::String(k.clone()), python_json(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(python_json).collect();
            format!("[{}]", items.join(", "))
        }
        scalar => scalar.to_string(),
    }
}
