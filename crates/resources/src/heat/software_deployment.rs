//! `OS::Heat::SoftwareDeployment` and `OS::Heat::StructuredDeployment`: a config deployed to
//! a server.
//!
//! For each lifecycle action listed in `actions`, the resource stores a *derived* config (the
//! source config with every input's value plus Heat's `deploy_*` inputs: server, action, stack,
//! resource name, signal transport and how to signal) and points its deployment record (the
//! physical id) at it; the server finds it in `GET /software_deployments/metadata/{server}`.
//! Unless `signal_transport` is `NO_SIGNAL` the deployment is `IN_PROGRESS` and the action
//! waits until the server signals the resource with `deploy_status_code`, `deploy_stdout`,
//! `deploy_stderr` and the config's outputs; those become attributes, and a failure
//! (non-zero status code, or a value for an `error_output` output) fails the action with
//! Heat's `Deployment to server failed: ...` reason. The state lives in the software-config
//! store, not in resource data, so a signal and the engine's poll never race on one row.
//!
//! `TEMP_URL_SIGNAL` (Heat's `_get_swift_signal_url`): the server PUTs its signal to a Swift
//! temp URL of an object named after the resource in the stack's container; each action's
//! run empties the object and the completion check reads it, a non-empty body being the
//! signal, given to the engine's software deployment signal as the other transports' are.

use super::software_config::DEPLOY_ACTIONS;
use crate::openstack::swift::{context_object_store, delete_signal_object, put_url};
use crate::openstack::{cloud_error, stack_domain};
use async_trait::async_trait;
use ember_engine::nested::{SignalUrlKind, StackHandle};
use ember_engine::resource::{Properties, UpdateRequest};
use ember_engine::schema::{AttributeSchema, Constraint, PropertySchema, PropertyType, TypeSchema};
use ember_engine::software::{
    ConfigRequest, DeploymentRequest, SoftwareConfig, COMPLETE, DEPLOY_OUTPUTS, FAILED, IN_PROGRESS,
};
use ember_engine::{Progress, Registry, ResourceContext, ResourceError, ResourceType, Started};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Heat's `SIGNAL_TRANSPORTS`; the default is Heat's `default_deployment_signal_transport`.
const TRANSPORTS: [&str; 5] = [
    "CFN_SIGNAL",
    "TEMP_URL_SIGNAL",
    "HEAT_SIGNAL",
    "NO_SIGNAL",
    "ZAQAR_SIGNAL",
];

/// Data keys of the `TEMP_URL_SIGNAL` object (Heat's names).
const SWIFT_SIGNAL_URL: &str = "swift_signal_url";
const SWIFT_SIGNAL_OBJECT: &str = "swift_signal_object_name";

/// Which deployment type this is: how the derived config is made from the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentKind {
    /// The source config is used as it is.
    Software,
    /// `{<input_key>: name}` maps in the (structured) config are replaced by input values.
    Structured,
}

/// Registers the deployment types on the engine `handle` the stack-backed types share.
pub fn register(registry: &mut Registry, handle: &StackHandle) {
    for (name, kind) in [
        ("OS::Heat::SoftwareDeployment", DeploymentKind::Software),
        ("OS::Heat::StructuredDeployment", DeploymentKind::Structured),
    ] {
        registry.register(
            name,
            Arc::new(SoftwareDeployment::new(kind, handle.clone())),
        );
    }
}

pub struct SoftwareDeployment {
    kind: DeploymentKind,
    handle: StackHandle,
    schema: TypeSchema,
}

fn strings(values: &[&str]) -> Vec<Value> {
    values.iter().map(|v| json!(v)).collect()
}

impl SoftwareDeployment {
    pub fn new(kind: DeploymentKind, handle: StackHandle) -> Self {
        let mut properties = BTreeMap::new();
        properties.insert(
            "config".into(),
            PropertySchema::new(
                PropertyType::String,
                "ID of software configuration resource to execute when applying to the server.",
            )
            .update_allowed(),
        );
        properties.insert(
            "server".into(),
            PropertySchema::new(
                PropertyType::String,
                "ID of resource to apply configuration to. Normally this should be a Nova server ID.",
            )
            .required(),
        );
        properties.insert(
            "input_values".into(),
            PropertySchema::new(
                PropertyType::Map,
                "Input values to apply to the software configuration on this server.",
            )
            .update_allowed(),
        );
        properties.insert(
            "actions".into(),
            PropertySchema::new(
                PropertyType::List,
                "Which lifecycle actions of the deployment resource will result in this deployment being triggered.",
            )
            .default(json!(["CREATE", "UPDATE"]))
            .update_allowed()
            .constraint(Constraint::AllowedValues(strings(&DEPLOY_ACTIONS))),
        );
        properties.insert(
            "name".into(),
            PropertySchema::new(
                PropertyType::String,
                "Name of the derived config associated with this deployment. This is used to apply a sort order to the list of configurations currently deployed to a server.",
            )
            .update_allowed(),
        );
        properties.insert(
            "signal_transport".into(),
            PropertySchema::new(
                PropertyType::String,
                "How the server should signal to heat with the deployment output values.",
            )
            .default(json!("CFN_SIGNAL"))
            .constraint(Constraint::AllowedValues(strings(&TRANSPORTS))),
        );
        if kind == DeploymentKind::Structured {
            properties.insert(
                "input_key".into(),
                PropertySchema::new(
                    PropertyType::String,
                    "Name of key to use for substituting inputs during deployment.",
                )
                .default(json!("get_input")),
            );
            properties.insert(
                "input_values_validate".into(),
                PropertySchema::new(
                    PropertyType::String,
                    "Perform a check on the input values passed to verify that each required input has a corresponding value. When the property is set to STRICT and no value is passed, an exception is raised.",
                )
                .default(json!("LAX"))
                .constraint(Constraint::AllowedValues(strings(&["LAX", "STRICT"]))),
            );
        }
        let mut attributes = BTreeMap::new();
        for (name, description) in [
            (
                "deploy_stdout",
                "Captured stdout from the configuration execution.",
            ),
            (
                "deploy_stderr",
                "Captured stderr from the configuration execution.",
            ),
            (
                "deploy_status_code",
                "Returned status code from the configuration execution.",
            ),
        ] {
            attributes.insert(name.into(), AttributeSchema::new(description));
        }
        SoftwareDeployment {
            kind,
            handle,
            schema: TypeSchema {
                properties,
                attributes,
                description: "This resource associates a server with some configuration.".into(),
                support_status: "SUPPORTED",
                since_version: Some("2014.1"),
                accepts_any_property: false,
            },
        }
    }

    fn transport<'a>(&self, props: &'a Properties) -> &'a str {
        props
            .get("signal_transport")
            .and_then(Value::as_str)
            .unwrap_or("CFN_SIGNAL")
    }

    /// Whether `action` runs the deployment: a `component` config's entries decide, else the
    /// `actions` property.
    fn runs_for(&self, props: &Properties, source: Option<&SoftwareConfig>, action: &str) -> bool {
        if let Some(config) = source.filter(|c| c.group == "component") {
            return config.config["configs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["actions"].as_array())
                .flatten()
                .any(|a| a.as_str() == Some(action));
        }
        props
            .get("actions")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(action)))
    }

    /// The derived inputs: each declared input with its value (the given one, else its
    /// default), undeclared given values as extra inputs, then Heat's `deploy_*` inputs.
    async fn derived_inputs(
        &self,
        cx: &ResourceContext,
        source: Option<&SoftwareConfig>,
        action: &str,
    ) -> Result<Vec<Value>, ResourceError> {
        let mut values: Map<String, Value> = cx
            .properties
            .get("input_values")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut inputs = Vec::new();
        for declared in source
            .and_then(|c| c.inputs.as_array())
            .into_iter()
            .flatten()
        {
            let mut input = declared.as_object().cloned().unwrap_or_default();
            let name = input
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let value = values
                .remove(&name)
                .or_else(|| input.get("default").cloned())
                .unwrap_or(Value::Null);
            input.insert("value".into(), value);
            inputs.push(Value::Object(input));
        }
        for (name, value) in values {
            inputs.push(json!({"name": name, "type": "String", "value": value}));
        }
        let control = self.handle.get()?;
        let stack_path = control
            .signal_url(&cx.stack_id, &cx.name, SignalUrlKind::Native)
            .await?;
        // `/v1/{project}/stacks/{name}/{id}/resources/...` → Heat's `{name}/{id}` stack path.
        let stack_id = stack_path
            .split("/stacks/")
            .nth(1)
            .and_then(|rest| rest.split("/resources/").next())
            .unwrap_or(&cx.stack_id)
            .to_string();
        let transport = self.transport(&cx.properties);
        let server = cx.prop_str("server").unwrap_or_default();
        let mut derived = vec![
            input(
                "deploy_server_id",
                json!(server),
                "ID of the server being deployed to",
            ),
            input(
                "deploy_action",
                json!(action),
                "Name of the current action being deployed",
            ),
            input(
                "deploy_stack_id",
                json!(stack_id),
                "ID of the stack this deployment belongs to",
            ),
            input(
                "deploy_resource_name",
                json!(cx.name),
                "Name of this deployment resource in the stack",
            ),
            input(
                "deploy_signal_transport",
                json!(transport),
                "How the server should signal to heat with the deployment output values.",
            ),
        ];
        match transport {
            "CFN_SIGNAL" => {
                let url = control
                    .signal_url(&cx.stack_id, &cx.name, SignalUrlKind::PresignedSignal)
                    .await?;
                derived.extend(signal_inputs(&url, "POST"));
            }
            "TEMP_URL_SIGNAL" => {
                let url = cx.data.get(SWIFT_SIGNAL_URL).ok_or_else(|| {
                    ResourceError::new("Error", "the deployment has no Swift signal URL")
                })?;
                derived.extend(signal_inputs(url, "PUT"));
            }
            // Heat's `_get_heat_signal_credentials`: the deployment's stack user, which
            // heat-config-notify authenticates as to signal this resource.
            "HEAT_SIGNAL" if control.has_stack_domain() => {
                let user = stack_domain::resource_user(control.as_ref(), cx).await?;
                derived.extend([
                    input(
                        "deploy_auth_url",
                        json!(user.auth_url),
                        "URL for API authentication",
                    ),
                    input(
                        "deploy_username",
                        json!(cx.physical_resource_name()),
                        "Username for API authentication",
                    ),
                    input(
                        "deploy_user_id",
                        json!(user.user_id),
                        "User ID for API authentication",
                    ),
                    input(
                        "deploy_password",
                        json!(user.password),
                        "Password for API authentication",
                    ),
                    input(
                        "deploy_project_id",
                        json!(user.project_id),
                        "ID of project for API authentication",
                    ),
                ]);
                if let Some(region) = user.region {
                    derived.push(input(
                        "deploy_region_name",
                        json!(region),
                        "Region name for API authentication",
                    ));
                }
            }
            "HEAT_SIGNAL" => {
                // Without a stack user domain there is no user to hand out: the server
                // signals the native resource-signal path with the resource's own token.
                let token = control.signal_token(&cx.stack_id, &cx.name).await?;
                let [id, verb] = signal_inputs(&stack_path, "POST");
                derived.extend([
                    id,
                    input(
                        "deploy_signal_token",
                        json!(token),
                        "Token authorising the signal of this resource",
                    ),
                    verb,
                ]);
            }
            _ => {}
        }
        inputs.extend(derived);
        Ok(inputs)
    }

    /// The config the server runs: the source's text, or for a structured deployment the
    /// source's data with every `{<input_key>: name}` replaced by that input's value.
    fn derived_config(
        &self,
        cx: &ResourceContext,
        source: Option<&SoftwareConfig>,
        inputs: &[Value],
    ) -> Result<Value, ResourceError> {
        let config = source.map(|c| c.config.clone()).unwrap_or(Value::Null);
        match self.kind {
            DeploymentKind::Software if config.is_null() => Ok(json!("")),
            DeploymentKind::Software => Ok(config),
            DeploymentKind::Structured if config.is_null() => Ok(json!({})),
            DeploymentKind::Structured => {
                let values: Map<String, Value> = inputs
                    .iter()
                    .filter_map(|i| Some((i["name"].as_str()?.to_string(), i["value"].clone())))
                    .collect();
                let key = cx.prop_str("input_key").unwrap_or("get_input");
                let strict = cx.prop_str("input_values_validate") == Some("STRICT");
                substitute_inputs(&config, key, &values, strict)
            }
        }
    }

    /// Runs the deployment for `action` when it is one of its actions: stores a new derived
    /// config and points the deployment at it (creating the deployment the first time), then
    /// deletes the previous derived config. Returns the deployment id.
    async fn run_action(
        &self,
        cx: &ResourceContext,
        action: &str,
    ) -> Result<Option<String>, ResourceError> {
        let control = self.handle.get()?;
        let source = match cx.prop_str("config").filter(|c| !c.is_empty()) {
            Some(id) => Some(control.software_config(id).await?.ok_or_else(|| {
                ResourceError::new(
                    "NotFound",
                    format!("Software config with id {id} not found"),
                )
            })?),
            None => None,
        };
        if !self.runs_for(&cx.properties, source.as_ref(), action) {
            return Ok(cx.physical_id.clone());
        }
        let inputs = self.derived_inputs(cx, source.as_ref(), action).await?;
        let config = self.derived_config(cx, source.as_ref(), &inputs)?;
        if let Some(object) = cx.data.get(SWIFT_SIGNAL_OBJECT) {
            // An empty object is no signal: what the server PUT for an earlier action must
            // not answer this one.
            context_object_store(cx)
                .await?
                .put_object(&cx.stack_id, object, Vec::new(), "text/plain")
                .await
                .map_err(cloud_error)?;
        }
        let name = cx
            .prop_str("name")
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .or_else(|| {
                source
                    .as_ref()
                    .map(|s| s.name.clone())
                    .filter(|n| !n.is_empty())
            })
            .unwrap_or_else(|| cx.physical_resource_name());
        let derived = control
            .create_software_config(
                &cx.stack_id,
                ConfigRequest {
                    name: Some(name),
                    group: source.as_ref().map(|s| s.group.clone()),
                    config: Some(config),
                    inputs: Some(Value::Array(inputs)),
                    outputs: source.as_ref().map(|s| s.outputs.clone()),
                    options: source.as_ref().map(|s| s.options.clone()),
                },
            )
            .await?;
        let (status, reason) = if self.transport(&cx.properties) == "NO_SIGNAL" {
            (COMPLETE, "Not waiting for outputs signal")
        } else {
            (IN_PROGRESS, "Deploy data available")
        };
        let req = DeploymentRequest {
            config_id: Some(derived.id.clone()),
            server_id: cx.prop_str("server").map(str::to_string),
            input_values: Some(
                cx.properties
                    .get("input_values")
                    .cloned()
                    .filter(|v| !v.is_null())
                    .unwrap_or_else(|| json!({})),
            ),
            action: Some(action.to_string()),
            status: Some(status.to_string()),
            status_reason: Some(reason.to_string()),
            ..DeploymentRequest::default()
        };
        let previous = match &cx.physical_id {
            Some(id) => control.software_deployment(id).await?,
            None => None,
        };
        let id = match previous {
            Some(previous) => {
                control
                    .update_software_deployment(&previous.id, req)
                    .await?;
                control.delete_software_config(&previous.config_id).await?;
                previous.id
            }
            None => {
                let id = cx
                    .physical_id
                    .clone()
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                control
                    .create_software_deployment(&cx.stack_id, &id, req)
                    .await?
                    .id
            }
        };
        Ok(Some(id))
    }

    /// Done once the deployment is no longer waiting for its server; its failure fails the
    /// action with Heat's reason.
    async fn progress(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        let Some(id) = &cx.physical_id else {
            return Ok(Progress::Done);
        };
        let control = self.handle.get()?;
        let Some(mut d) = control.software_deployment(id).await? else {
            return Ok(Progress::Done);
        };
        if d.status == IN_PROGRESS {
            if let Some(signal) = swift_signal(cx).await? {
                control.signal_software_deployment(id, &signal).await?;
                let Some(signalled) = control.software_deployment(id).await? else {
                    return Ok(Progress::Done);
                };
                d = signalled;
            }
        }
        match d.status.as_str() {
            IN_PROGRESS => Ok(Progress::Pending(poll_interval(cx.checks))),
            FAILED => Err(ResourceError::new(
                "Error",
                format!("Deployment to server failed: {}", d.status_reason),
            )),
            _ => Ok(Progress::Done),
        }
    }

    fn started(id: Option<String>) -> Started {
        Started {
            physical_id: id,
            data: BTreeMap::new(),
        }
    }
}

/// Signals come from a server minutes later: poll the stored state from 50 ms, doubling up to
/// 2 s, so short tests stay fast and long waits cost little.
fn poll_interval(checks: u32) -> Duration {
    let ms = 50u64.saturating_mul(1u64 << checks.min(6));
    Duration::from_millis(ms.min(2000))
}

fn input(name: &str, value: Value, description: &str) -> Value {
    json!({"name": name, "type": "String", "description": description, "value": value})
}

/// Where and with which HTTP verb the server signals its outputs.
fn signal_inputs(id: &str, verb: &str) -> [Value; 2] {
    [
        input(
            "deploy_signal_id",
            json!(id),
            "ID of signal to use for signaling output values",
        ),
        input(
            "deploy_signal_verb",
            json!(verb),
            "HTTP verb to use for signaling outputvalues",
        ),
    ]
}

/// Heat's `_get_swift_signal_url` for one signal: the stack's container, and the data naming
/// the resource's object there and its PUT temp URL (the object is made by each action's run).
async fn swift_signal_data(
    cx: &ResourceContext,
) -> Result<BTreeMap<String, String>, ResourceError> {
    let swift = context_object_store(cx).await?;
    let object = cx.physical_resource_name();
    swift
        .put_container(&cx.stack_id, &[])
        .await
        .map_err(cloud_error)?;
    let url = put_url(&swift, &cx.stack_id, &object)
        .await
        .map_err(cloud_error)?;
    Ok(BTreeMap::from([
        (SWIFT_SIGNAL_URL.to_string(), url),
        (SWIFT_SIGNAL_OBJECT.to_string(), object),
    ]))
}

/// What the server PUT to the `TEMP_URL_SIGNAL` object, once it did (Heat's
/// `_refresh_swift_software_deployment`); a missing object (Swift not yet consistent) is no
/// signal either.
async fn swift_signal(cx: &ResourceContext) -> Result<Option<Value>, ResourceError> {
    let Some(object) = cx.data.get(SWIFT_SIGNAL_OBJECT) else {
        return Ok(None);
    };
    let body = match context_object_store(cx)
        .await?
        .get_object(&cx.stack_id, object)
        .await
    {
        Ok(body) => body,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(cloud_error(e)),
    };
    parse_swift_signal(&body)
}

/// A signal object's body: empty is no signal yet, else a JSON object.
fn parse_swift_signal(body: &[u8]) -> Result<Option<Value>, ResourceError> {
    if body.is_empty() {
        return Ok(None);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(signal @ Value::Object(_)) => Ok(Some(signal)),
        _ => Err(ResourceError::new(
            "Error",
            format!(
                "Failed to parse JSON data: {}",
                String::from_utf8_lossy(body)
            ),
        )),
    }
}

/// Heat's `StructuredDeployment.parse`: a one-entry map `{key: "name"}` becomes the input's
/// value (null when missing, refused under `STRICT`), other maps and lists are walked.
fn substitute_inputs(
    snippet: &Value,
    key: &str,
    values: &Map<String, Value>,
    strict: bool,
) -> Result<Value, ResourceError> {
    match snippet {
        Value::Object(map) => {
            if map.len() == 1 {
                if let Some(Value::String(name)) = map.get(key) {
                    return match values.get(name) {
                        Some(v) => Ok(v.clone()),
                        None if strict => Err(ResourceError::new(
                            "UserParameterMissing",
                            format!("The Parameter ({name}) was not provided."),
                        )),
                        None => Ok(Value::Null),
                    };
                }
            }
            map.iter()
                .map(|(k, v)| Ok((k.clone(), substitute_inputs(v, key, values, strict)?)))
                .collect::<Result<Map<_, _>, _>>()
                .map(Value::Object)
        }
        Value::Array(items) => items
            .iter()
            .map(|v| substitute_inputs(v, key, values, strict))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

#[async_trait]
impl ResourceType for SoftwareDeployment {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    fn validate(&self, properties: &Properties) -> Result<(), String> {
        match self.transport(properties) {
            t @ "ZAQAR_SIGNAL" => Err(format!(
                "signal_transport {t} is not supported by Ember (it needs Zaqar); use CFN_SIGNAL, TEMP_URL_SIGNAL, HEAT_SIGNAL or NO_SIGNAL."
            )),
            _ => Ok(()),
        }
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        // The stack user or the Swift signal URL is made first and stored with the deployment,
        // so every later action hands the server the same way to signal.
        let control = self.handle.get()?;
        let data = match self.transport(&cx.properties) {
            "HEAT_SIGNAL" if control.has_stack_domain() => {
                stack_domain::resource_user(control.as_ref(), cx)
                    .await?
                    .data()
            }
            "TEMP_URL_SIGNAL" => swift_signal_data(cx).await?,
            _ => BTreeMap::new(),
        };
        let mut with_data = cx.clone();
        with_data.data.extend(data.clone());
        let mut started = Self::started(self.run_action(&with_data, "CREATE").await?);
        started.data = data;
        Ok(started)
    }

    async fn check_create_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        self.progress(cx).await
    }

    /// A changed input declared `replace_on_change` replaces the deployment (Heat's rule);
    /// everything else updates in place (the server and transport are not update-allowed).
    async fn update(
        &self,
        cx: &ResourceContext,
        _req: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        let control = self.handle.get()?;
        if let Some(id) = &cx.physical_id {
            if let Some(d) = control.software_deployment(id).await? {
                let old = control.software_config(&d.config_id).await?;
                let source = match cx.prop_str("config").filter(|c| !c.is_empty()) {
                    Some(c) => control.software_config(c).await?,
                    None => None,
                };
                let new_inputs = self.derived_inputs(cx, source.as_ref(), "UPDATE").await?;
                let old_inputs = old.map(|c| c.inputs).unwrap_or_else(|| json!([]));
                let old_value = |name: &str| {
                    old_inputs
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|i| i["name"].as_str() == Some(name))
                        .map(|i| i["value"].clone())
                };
                let replace = new_inputs.iter().any(|i| {
                    i["replace_on_change"].as_bool() == Some(true)
                        && i["name"]
                            .as_str()
                            .and_then(old_value)
                            .is_some_and(|v| v != i["value"])
                });
                if replace {
                    return Err(ResourceError::UpdateReplace);
                }
            }
        }
        Ok(Self::started(self.run_action(cx, "UPDATE").await?))
    }

    async fn check_update_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        self.progress(cx).await
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        if cx.physical_id.is_none() {
            return Ok(Started::default());
        }
        Ok(Self::started(self.run_action(cx, "DELETE").await?))
    }

    /// Once the server answered the DELETE run (or none was asked), the deployment and its
    /// derived config go.
    async fn check_delete_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        if let Some(id) = &cx.physical_id {
            let control = self.handle.get()?;
            if let Some(d) = control.software_deployment(id).await? {
                // Only a DELETE run is waited for (Heat's `check_delete_complete` without a
                // deployment): an earlier action's failure does not keep the resource.
                if d.action == "DELETE" {
                    let progress = self.progress(cx).await?;
                    if progress != Progress::Done {
                        return Ok(progress);
                    }
                }
                control.delete_software_deployment(id).await?;
                control.delete_software_config(&d.config_id).await?;
            }
        }
        // Heat's `_delete_resource`: the signal object and the stack user go last.
        if let Some(object) = cx.data.get(SWIFT_SIGNAL_OBJECT) {
            delete_signal_object(&context_object_store(cx).await?, &cx.stack_id, object).await?;
        }
        stack_domain::delete_resource_user(self.handle.get()?.as_ref(), cx).await?;
        Ok(Progress::Done)
    }

    async fn suspend(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        Ok(Self::started(self.run_action(cx, "SUSPEND").await?))
    }

    async fn resume(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        Ok(Self::started(self.run_action(cx, "RESUME").await?))
    }

    async fn check_action_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        self.progress(cx).await
    }

    /// Attributes are the deployment's output values: the three `deploy_*` ones and the
    /// config's outputs (null until the server signals them).
    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        let control = self.handle.get()?;
        let deployment = match &cx.physical_id {
            Some(id) => control.software_deployment(id).await?,
            None => None,
        };
        if let Some(v) = deployment.as_ref().and_then(|d| d.output_values.get(name)) {
            return Ok(Some(v.clone()));
        }
        if DEPLOY_OUTPUTS.contains(&name) {
            return Ok(Some(Value::Null));
        }
        if name == "show" {
            return Ok(Some(deployment.map_or(Value::Null, |d| {
                json!({
                    "id": d.id, "config_id": d.config_id, "server_id": d.server_id,
                    "input_values": d.input_values, "output_values": d.output_values,
                    "action": d.action, "status": d.status, "status_reason": d.status_reason,
                })
            })));
        }
        let config = match cx.prop_str("config").filter(|c| !c.is_empty()) {
            Some(id) => control.software_config(id).await?,
            None => None,
        };
        let declared = config
            .and_then(|c| c.outputs.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .any(|o| o["name"].as_str() == Some(name));
        Ok(declared.then_some(Value::Null))
    }

    /// The server's signal with its outputs (ignored unless the deployment waits for one).
    async fn handle_signal(
        &self,
        cx: &ResourceContext,
        details: &Value,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let Some(id) = &cx.physical_id else {
            return Err(ResourceError::new(
                "Error",
                "the deployment has not been created",
            ));
        };
        self.handle
            .get()?
            .signal_software_deployment(id, details)
            .await?;
        Ok(BTreeMap::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_inputs_are_substituted_as_heat_parses_them() {
        let values: Map<String, Value> =
            serde_json::from_value(json!({"a": 1, "deploy_action": "CREATE"})).unwrap();
        let config = json!({"x": {"get_input": "a"}, "l": [{"get_input": "deploy_action"}],
            "two": {"get_input": "a", "other": 1}, "missing": {"get_input": "b"}});
        assert_eq!(
            substitute_inputs(&config, "get_input", &values, false).unwrap(),
            json!({"x": 1, "l": ["CREATE"], "two": {"get_input": "a", "other": 1}, "missing": null})
        );
        let err = substitute_inputs(&config, "get_input", &values, true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "UserParameterMissing: The Parameter (b) was not provided."
        );
        assert_eq!(
            substitute_inputs(&json!({"my_key": "a"}), "my_key", &values, false).unwrap(),
            json!(1)
        );
    }

    #[test]
    fn a_swift_signal_is_a_json_object_and_an_empty_object_none() {
        assert_eq!(parse_swift_signal(b"").unwrap(), None);
        assert_eq!(
            parse_swift_signal(br#"{"deploy_status_code": 0, "result": "ok"}"#).unwrap(),
            Some(json!({"deploy_status_code": 0, "result": "ok"}))
        );
        for bad in [&b"{oops"[..], b"[1]"] {
            assert!(parse_swift_signal(bad)
                .unwrap_err()
                .to_string()
                .starts_with("Error: Failed to parse JSON data: "));
        }
    }

    #[test]
    fn polling_backs_off_to_two_seconds() {
        assert_eq!(poll_interval(0), Duration::from_millis(50));
        assert_eq!(poll_interval(3), Duration::from_millis(400));
        assert_eq!(poll_interval(40), Duration::from_secs(2));
    }
}
