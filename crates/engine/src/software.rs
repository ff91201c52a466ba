//! Software configs and deployments (Heat's `/software_configs` and `/software_deployments`):
//! records kept for servers to fetch their configuration, shaped as Heat's API shows them.
//!
//! Two callers share one set of rules: the [`Service`] facade (the REST API, acting for a
//! request's project) and resource types through [`SoftwareControl`] (the config and deployment
//! resources, acting for their stack's project). A deployment's state moves from
//! `IN_PROGRESS` to `COMPLETE`/`FAILED` when its server signals it ([`signal_outcome`]).

use crate::error::{EngineError, ResourceError};
use crate::model::heat_time;
use crate::nested::EngineControl;
use crate::service::{RequestContext, Service};
use crate::store::{StateStore, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// A software config: immutable once created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SoftwareConfig {
    pub id: String,
    pub name: String,
    pub group: String,
    /// A script (string), or structured data for `StructuredConfig` and components.
    pub config: Value,
    /// Input declarations, each normalised as Heat stores them (see [`normalise_inputs`]).
    pub inputs: Value,
    pub outputs: Value,
    pub options: Value,
    pub project_id: String,
    pub created_at: DateTime<Utc>,
}

/// A deployment of a config to a server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SoftwareDeployment {
    pub id: String,
    pub config_id: String,
    pub server_id: String,
    pub input_values: Value,
    pub action: String,
    pub status: String,
    pub status_reason: String,
    pub output_values: Value,
    pub project_id: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// Deployment status values (Heat's `SOFTWARE_DEPLOYMENT_STATUSES`).
pub const IN_PROGRESS: &str = "IN_PROGRESS";
pub const COMPLETE: &str = "COMPLETE";
pub const FAILED: &str = "FAILED";

/// The outputs every deployment has besides its config's (Heat's `SOFTWARE_DEPLOYMENT_OUTPUTS`).
pub const DEPLOY_OUTPUTS: [&str; 3] = ["deploy_stdout", "deploy_stderr", "deploy_status_code"];

/// `POST /software_configs`. Unknown keys are refused: a body meant for another call is an
/// error, not an empty config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigRequest {
    pub name: Option<String>,
    pub group: Option<String>,
    pub config: Option<Value>,
    pub inputs: Option<Value>,
    pub outputs: Option<Value>,
    pub options: Option<Value>,
}

/// `POST /software_deployments` and `PUT /software_deployments/{id}`: absent fields keep their
/// value on update and take Heat's defaults on create. Unknown keys are refused.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeploymentRequest {
    pub config_id: Option<String>,
    pub server_id: Option<String>,
    pub input_values: Option<Value>,
    pub output_values: Option<Value>,
    pub action: Option<String>,
    pub status: Option<String>,
    pub status_reason: Option<String>,
    /// Sent by heatclient; Ember keeps no separate stack-user projects, so it is accepted and
    /// not stored.
    #[serde(rename = "stack_user_project_id")]
    pub _stack_user_project_id: Option<String>,
}

fn store_error(e: StoreError) -> EngineError {
    EngineError::Store(e.to_string())
}

/// The value types a config input or output may declare (Heat's `software_config_io.TYPES`).
const IO_TYPES: [&str; 5] = ["String", "Number", "CommaDelimitedList", "Json", "Boolean"];

/// One input or output declaration as Heat persists it: `name` required, `type` defaulting to
/// `String`; inputs keep `description`, `default`, `value` and `replace_on_change` only when
/// true; outputs keep `description` and always carry `error_output`.
fn normalise_io(entry: &Value, input: bool) -> Result<Value, String> {
    let Some(map) = entry.as_object() else {
        return Err("Software Config I/O Schema must be a dict".into());
    };
    let allowed: &[&str] = if input {
        &[
            "name",
            "description",
            "type",
            "default",
            "replace_on_change",
            "value",
        ]
    } else {
        &["name", "description", "type", "error_output"]
    };
    if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!("Unknown Property {unknown}"));
    }
    let Some(name) = map.get("name").and_then(Value::as_str) else {
        return Err("Property name not assigned".into());
    };
    let ty = match map.get("type") {
        None | Some(Value::Null) => "String",
        Some(Value::String(t)) if IO_TYPES.contains(&t.as_str()) => t.as_str(),
        Some(other) => {
            return Err(format!(
                "Property error: type: \"{}\" is not an allowed value {IO_TYPES:?}",
                crate::schema::python_str(other)
            ))
        }
    };
    let mut out = Map::new();
    out.insert("name".into(), json!(name));
    out.insert("type".into(), json!(ty));
    if let Some(d) = map.get("description").filter(|v| !v.is_null()) {
        out.insert("description".into(), d.clone());
    }
    if input {
        for key in ["default", "value"] {
            if let Some(v) = map.get(key) {
                if key == "value" || !v.is_null() {
                    out.insert(key.into(), v.clone());
                }
            }
        }
        if map.get("replace_on_change").and_then(Value::as_bool) == Some(true) {
            out.insert("replace_on_change".into(), json!(true));
        }
    } else {
        let error_output = map
            .get("error_output")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        out.insert("error_output".into(), json!(error_output));
    }
    Ok(Value::Object(out))
}

fn normalise_list(list: Option<Value>, input: bool) -> Result<Value, String> {
    match list {
        None | Some(Value::Null) => Ok(json!([])),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| normalise_io(i, input))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Some(_) => Err("Software Config I/O Schema must be in a list".into()),
    }
}

/// A config's `inputs` as Heat stores them.
pub fn normalise_inputs(inputs: Option<Value>) -> Result<Value, String> {
    normalise_list(inputs, true)
}

/// A new config of `project_id` from a request (Heat's defaults for absent fields).
fn new_config(req: ConfigRequest, project_id: &str) -> Result<SoftwareConfig, String> {
    Ok(SoftwareConfig {
        id: uuid::Uuid::new_v4().to_string(),
        name: req.name.unwrap_or_default(),
        group: req
            .group
            .filter(|g| !g.is_empty())
            .unwrap_or_else(|| "Heat::Ungrouped".into()),
        config: req.config.unwrap_or_else(|| json!("")),
        inputs: normalise_list(req.inputs, true)?,
        outputs: normalise_list(req.outputs, false)?,
        options: req
            .options
            .filter(|o| !o.is_null())
            .unwrap_or_else(|| json!({})),
        project_id: project_id.to_string(),
        created_at: Utc::now(),
    })
}

/// A new deployment of `project_id`; `id` is given when the caller already named it (a
/// deployment resource sets its physical id first, as Heat does).
fn new_deployment(
    id: Option<String>,
    req: DeploymentRequest,
    project_id: &str,
) -> Result<SoftwareDeployment, String> {
    let Some(server_id) = req.server_id else {
        return Err("server_id is required".into());
    };
    Ok(SoftwareDeployment {
        id: id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        config_id: req.config_id.unwrap_or_default(),
        server_id,
        input_values: req.input_values.unwrap_or_else(|| json!({})),
        output_values: req.output_values.unwrap_or(Value::Null),
        action: req.action.unwrap_or_else(|| "INIT".into()),
        status: req.status.unwrap_or_else(|| COMPLETE.into()),
        // Heat's API stores the absent reason as the text of Python's None.
        status_reason: req.status_reason.unwrap_or_else(|| "None".into()),
        project_id: project_id.to_string(),
        created_at: Utc::now(),
        updated_at: None,
    })
}

/// Heat's update: the fields given (and not empty) replace the stored ones.
fn apply_update(d: &mut SoftwareDeployment, req: DeploymentRequest) {
    if let Some(v) = req.config_id.filter(|v| !v.is_empty()) {
        d.config_id = v;
    }
    if let Some(v) = req.input_values.filter(|v| !is_empty(v)) {
        d.input_values = v;
    }
    if let Some(v) = req.output_values.filter(|v| !is_empty(v)) {
        d.output_values = v;
    }
    if let Some(v) = req.action.filter(|v| !v.is_empty()) {
        d.action = v;
    }
    if let Some(v) = req.status.filter(|v| !v.is_empty()) {
        d.status = v;
    }
    if let Some(v) = req.status_reason.filter(|v| !v.is_empty()) {
        d.status_reason = v;
    }
    d.updated_at = Some(Utc::now());
}

/// Python's falsiness for JSON values (Heat tests `if input_values:`).
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// What a server's signal does to an `IN_PROGRESS` deployment (Heat's
/// `signal_software_deployment`): the config's outputs found in `details` and the three
/// `deploy_*` values become the output values; a non-zero `deploy_status_code` or a value for
/// an `error_output` output fails it, with every such output in the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalOutcome {
    pub status: &'static str,
    pub status_reason: String,
    pub output_values: Value,
    /// The event reason Heat records for the signal.
    pub event_reason: String,
}

pub fn signal_outcome(
    deployment: &SoftwareDeployment,
    config: Option<&SoftwareConfig>,
    details: &Value,
) -> SignalOutcome {
    let empty = Map::new();
    let details = details.as_object().unwrap_or(&empty);
    let mut values = deployment
        .output_values
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut failures: Vec<(String, String)> = Vec::new();
    let mut event_reason = "deployment succeeded".to_string();
    let code = details.get("deploy_status_code");
    if let Some(code) = code.filter(|c| !is_empty(c) && !is_zero(c)) {
        let code = crate::schema::python_str(code);
        failures.push((
            "deploy_status_code".into(),
            format!("Deployment exited with non-zero status code: {code}"),
        ));
        event_reason = format!("deployment failed ({code})");
    }
    let outputs = config
        .and_then(|c| c.outputs.as_array())
        .map(Vec::as_slice)
        .unwrap_or_default();
    for output in outputs {
        let Some(name) = output.get("name").and_then(Value::as_str) else {
            continue;
        };
        if let Some(v) = details.get(name) {
            values.insert(name.into(), v.clone());
            if output.get("error_output").and_then(Value::as_bool) == Some(true) {
                failures.push((name.into(), crate::schema::python_str(v)));
                event_reason = "deployment failed".into();
            }
        }
    }
    for key in DEPLOY_OUTPUTS {
        values.insert(key.into(), details.get(key).cloned().unwrap_or(Value::Null));
    }
    let (status, status_reason) = if failures.is_empty() {
        (COMPLETE, "Outputs received".to_string())
    } else {
        let reason = failures
            .iter()
            .map(|(k, v)| format!("{k} : {v}"))
            .collect::<Vec<_>>()
            .join(", ");
        (FAILED, reason)
    };
    SignalOutcome {
        status,
        status_reason,
        output_values: Value::Object(values),
        event_reason,
    }
}

/// Heat compares `str(status_code) != '0'`.
fn is_zero(v: &Value) -> bool {
    crate::schema::python_str(v) == "0"
}

/// Heat's body of a config: the summary in lists, everything when shown; the owning project
/// only in an admin's list.
fn config_body(c: &SoftwareConfig, detail: bool, include_project: bool) -> Value {
    let mut body = json!({
        "id": c.id,
        "name": c.name,
        "group": c.group,
        "creation_time": heat_time(&c.created_at),
    });
    if let Some(map) = body.as_object_mut() {
        if detail {
            map.insert("config".into(), c.config.clone());
            map.insert("inputs".into(), c.inputs.clone());
            map.insert("outputs".into(), c.outputs.clone());
            map.insert("options".into(), c.options.clone());
        }
        if include_project {
            map.insert("project".into(), json!(c.project_id));
        }
    }
    body
}

/// Heat's body of a deployment (`updated_time` only once it was updated).
fn deployment_body(d: &SoftwareDeployment) -> Value {
    let mut body = json!({
        "id": d.id,
        "config_id": d.config_id,
        "server_id": d.server_id,
        "input_values": d.input_values,
        "output_values": d.output_values,
        "action": d.action,
        "status": d.status,
        "status_reason": d.status_reason,
        "creation_time": heat_time(&d.created_at),
    });
    if let (Some(updated), Some(map)) = (&d.updated_at, body.as_object_mut()) {
        map.insert("updated_time".into(), json!(heat_time(updated)));
    }
    body
}

fn visible(cx: &RequestContext, project_id: &str) -> bool {
    cx.is_admin || cx.project_id == project_id
}

/// The configs deployed to a server, as a server fetches them: each deployment's config
/// (a deployment resource's derived config carries the input values), sorted by config name
/// as Heat sorts them so the order is under the template author's control.
async fn server_metadata(
    store: &dyn StateStore,
    project_id: Option<&str>,
    server_id: &str,
) -> Result<Vec<Value>, StoreError> {
    let deployments = store
        .software_deployments(project_id, Some(server_id))
        .await?;
    let mut configs = Vec::with_capacity(deployments.len());
    for d in &deployments {
        if let Some(config) = store.software_config(&d.config_id).await? {
            configs.push(config);
        }
    }
    configs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(configs
        .iter()
        .map(|c| config_body(c, true, false))
        .collect())
}

impl Service {
    pub async fn create_software_config(
        &self,
        cx: &RequestContext,
        req: ConfigRequest,
    ) -> Result<Value, EngineError> {
        let config = new_config(req, &cx.project_id).map_err(EngineError::InvalidRequest)?;
        self.state_store()
            .insert_software_config(&config)
            .await
            .map_err(store_error)?;
        Ok(config_body(&config, true, false))
    }

    async fn config_record(
        &self,
        cx: &RequestContext,
        id: &str,
    ) -> Result<SoftwareConfig, EngineError> {
        match self
            .state_store()
            .software_config(id)
            .await
            .map_err(store_error)?
        {
            Some(c) if visible(cx, &c.project_id) => Ok(c),
            _ => Err(EngineError::SoftwareConfigNotFound(id.to_string())),
        }
    }

    pub async fn show_software_config(
        &self,
        cx: &RequestContext,
        id: &str,
    ) -> Result<Value, EngineError> {
        Ok(config_body(&self.config_record(cx, id).await?, true, false))
    }

    /// The project's configs (every project's for an admin, with their project), oldest
    /// first (Heat's list shows no config text).
    pub async fn list_software_configs(
        &self,
        cx: &RequestContext,
    ) -> Result<Vec<Value>, EngineError> {
        let configs = self
            .state_store()
            .software_configs((!cx.is_admin).then_some(cx.project_id.as_str()))
            .await
            .map_err(store_error)?;
        Ok(configs
            .iter()
            .map(|c| config_body(c, false, cx.is_admin))
            .collect())
    }

    pub async fn delete_software_config(
        &self,
        cx: &RequestContext,
        id: &str,
    ) -> Result<(), EngineError> {
        self.config_record(cx, id).await?;
        if self
            .state_store()
            .delete_software_config(id)
            .await
            .map_err(store_error)?
        {
            Ok(())
        } else {
            Err(EngineError::SoftwareConfigNotFound(id.to_string()))
        }
    }

    async fn deployment_record(
        &self,
        cx: &RequestContext,
        id: &str,
    ) -> Result<SoftwareDeployment, EngineError> {
        match self
            .state_store()
            .software_deployment(id)
            .await
            .map_err(store_error)?
        {
            Some(d) if visible(cx, &d.project_id) => Ok(d),
            _ => Err(EngineError::DeploymentNotFound(id.to_string())),
        }
    }

    pub async fn create_software_deployment(
        &self,
        cx: &RequestContext,
        req: DeploymentRequest,
    ) -> Result<Value, EngineError> {
        self.config_record(cx, req.config_id.as_deref().unwrap_or_default())
            .await?;
        let deployment =
            new_deployment(None, req, &cx.project_id).map_err(EngineError::InvalidRequest)?;
        self.state_store()
            .save_software_deployment(&deployment)
            .await
            .map_err(store_error)?;
        Ok(deployment_body(&deployment))
    }

    pub async fn show_software_deployment(
        &self,
        cx: &RequestContext,
        id: &str,
    ) -> Result<Value, EngineError> {
        Ok(deployment_body(&self.deployment_record(cx, id).await?))
    }

    /// The project's deployments (of one server when `server_id` is given), oldest first.
    pub async fn list_software_deployments(
        &self,
        cx: &RequestContext,
        server_id: Option<&str>,
    ) -> Result<Vec<Value>, EngineError> {
        let deployments = self
            .state_store()
            .software_deployments(Some(&cx.project_id), server_id)
            .await
            .map_err(store_error)?;
        Ok(deployments.iter().map(deployment_body).collect())
    }

    pub async fn update_software_deployment(
        &self,
        cx: &RequestContext,
        id: &str,
        req: DeploymentRequest,
    ) -> Result<Value, EngineError> {
        let mut deployment = self.deployment_record(cx, id).await?;
        if let Some(config_id) = req.config_id.as_deref().filter(|c| !c.is_empty()) {
            self.config_record(cx, config_id).await?;
        }
        apply_update(&mut deployment, req);
        self.state_store()
            .save_software_deployment(&deployment)
            .await
            .map_err(store_error)?;
        Ok(deployment_body(&deployment))
    }

    pub async fn delete_software_deployment(
        &self,
        cx: &RequestContext,
        id: &str,
    ) -> Result<(), EngineError> {
        self.deployment_record(cx, id).await?;
        if self
            .state_store()
            .delete_software_deployment(id)
            .await
            .map_err(store_error)?
        {
            Ok(())
        } else {
            Err(EngineError::DeploymentNotFound(id.to_string()))
        }
    }

    /// What a server fetches (`GET /software_deployments/metadata/{server_id}`): the config of
    /// each of its deployments, sorted by config name.
    pub async fn deployment_metadata(
        &self,
        cx: &RequestContext,
        server_id: &str,
    ) -> Result<Vec<Value>, EngineError> {
        let project = (!cx.is_admin).then_some(cx.project_id.as_str());
        server_metadata(self.state_store(), project, server_id)
            .await
            .map_err(store_error)
    }
}

/// The software-config store as resource types reach it (through
/// [`crate::nested::StackHandle`]): every call acts for the project of the stack given.
#[async_trait]
pub trait SoftwareControl: Send + Sync {
    /// Stores a new config in the project of `stack_id`.
    async fn create_software_config(
        &self,
        stack_id: &str,
        req: ConfigRequest,
    ) -> Result<SoftwareConfig, ResourceError>;
    async fn software_config(&self, id: &str) -> Result<Option<SoftwareConfig>, ResourceError>;
    /// Nothing to do when it is already gone.
    async fn delete_software_config(&self, id: &str) -> Result<(), ResourceError>;
    /// Stores a new deployment named `id` in the project of `stack_id`.
    async fn create_software_deployment(
        &self,
        stack_id: &str,
        id: &str,
        req: DeploymentRequest,
    ) -> Result<SoftwareDeployment, ResourceError>;
    async fn software_deployment(
        &self,
        id: &str,
    ) -> Result<Option<SoftwareDeployment>, ResourceError>;
    /// Heat's update: the given, non-empty fields replace the stored ones.
    async fn update_software_deployment(
        &self,
        id: &str,
        req: DeploymentRequest,
    ) -> Result<SoftwareDeployment, ResourceError>;
    /// Nothing to do when it is already gone.
    async fn delete_software_deployment(&self, id: &str) -> Result<(), ResourceError>;
    /// A server's signal with its outputs; `None` when the deployment was not waiting for one
    /// (Heat ignores it then), else the event reason.
    async fn signal_software_deployment(
        &self,
        id: &str,
        details: &Value,
    ) -> Result<Option<String>, ResourceError>;
    /// The configs deployed to a server of the project of `stack_id` (what it fetches).
    async fn server_metadata(
        &self,
        stack_id: &str,
        server_id: &str,
    ) -> Result<Vec<Value>, ResourceError>;
}

fn resource_store_error(e: StoreError) -> ResourceError {
    ResourceError::new("Error", e.to_string())
}

impl EngineControl {
    fn store(&self) -> Result<std::sync::Arc<dyn StateStore>, ResourceError> {
        self.engine
            .upgrade()
            .map(|e| e.store.clone())
            .ok_or_else(|| ResourceError::new("Error", "the engine has stopped"))
    }

    async fn project_of(&self, stack_id: &str) -> Result<String, ResourceError> {
        let stack = self
            .store()?
            .stack(stack_id)
            .await
            .map_err(resource_store_error)?;
        stack.map(|s| s.project_id).ok_or_else(|| {
            ResourceError::new(
                "NotFound",
                format!("The Stack ({stack_id}) could not be found."),
            )
        })
    }

    async fn deployment_of(&self, id: &str) -> Result<SoftwareDeployment, ResourceError> {
        self.store()?
            .software_deployment(id)
            .await
            .map_err(resource_store_error)?
            .ok_or_else(|| {
                ResourceError::new(
                    "NotFound",
                    EngineError::DeploymentNotFound(id.into()).to_string(),
                )
            })
    }
}

#[async_trait]
impl SoftwareControl for EngineControl {
    async fn create_software_config(
        &self,
        stack_id: &str,
        req: ConfigRequest,
    ) -> Result<SoftwareConfig, ResourceError> {
        let project = self.project_of(stack_id).await?;
        let config = new_config(req, &project).map_err(|m| ResourceError::new("ValueError", m))?;
        self.store()?
            .insert_software_config(&config)
            .await
            .map_err(resource_store_error)?;
        Ok(config)
    }

    async fn software_config(&self, id: &str) -> Result<Option<SoftwareConfig>, ResourceError> {
        self.store()?
            .software_config(id)
            .await
            .map_err(resource_store_error)
    }

    async fn delete_software_config(&self, id: &str) -> Result<(), ResourceError> {
        self.store()?
            .delete_software_config(id)
            .await
            .map(|_| ())
            .map_err(resource_store_error)
    }

    async fn create_software_deployment(
        &self,
        stack_id: &str,
        id: &str,
        req: DeploymentRequest,
    ) -> Result<SoftwareDeployment, ResourceError> {
        let project = self.project_of(stack_id).await?;
        let deployment = new_deployment(Some(id.to_string()), req, &project)
            .map_err(|m| ResourceError::new("ValueError", m))?;
        self.store()?
            .save_software_deployment(&deployment)
            .await
            .map_err(resource_store_error)?;
        Ok(deployment)
    }

    async fn software_deployment(
        &self,
        id: &str,
    ) -> Result<Option<SoftwareDeployment>, ResourceError> {
        self.store()?
            .software_deployment(id)
            .await
            .map_err(resource_store_error)
    }

    async fn update_software_deployment(
        &self,
        id: &str,
        req: DeploymentRequest,
    ) -> Result<SoftwareDeployment, ResourceError> {
        let mut deployment = self.deployment_of(id).await?;
        apply_update(&mut deployment, req);
        self.store()?
            .save_software_deployment(&deployment)
            .await
            .map_err(resource_store_error)?;
        Ok(deployment)
    }

    async fn delete_software_deployment(&self, id: &str) -> Result<(), ResourceError> {
        self.store()?
            .delete_software_deployment(id)
            .await
            .map(|_| ())
            .map_err(resource_store_error)
    }

    async fn signal_software_deployment(
        &self,
        id: &str,
        details: &Value,
    ) -> Result<Option<String>, ResourceError> {
        let store = self.store()?;
        let mut deployment = self.deployment_of(id).await?;
        if deployment.status != IN_PROGRESS {
            return Ok(None);
        }
        let config = store
            .software_config(&deployment.config_id)
            .await
            .map_err(resource_store_error)?;
        let outcome = signal_outcome(&deployment, config.as_ref(), details);
        deployment.status = outcome.status.to_string();
        deployment.status_reason = outcome.status_reason;
        deployment.output_values = outcome.output_values;
        deployment.updated_at = Some(Utc::now());
        store
            .save_software_deployment(&deployment)
            .await
            .map_err(resource_store_error)?;
        Ok(Some(outcome.event_reason))
    }

    async fn server_metadata(
        &self,
        stack_id: &str,
        server_id: &str,
    ) -> Result<Vec<Value>, ResourceError> {
        let project = self.project_of(stack_id).await?;
        server_metadata(self.store()?.as_ref(), Some(&project), server_id)
            .await
            .map_err(resource_store_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use crate::{EngineConfig, Registry, TemplateCompiler};
    use std::sync::Arc;

    fn service() -> Service {
        Service::new(
            Arc::new(MemoryStore::new()),
            Registry::new(),
            Arc::new(TemplateCompiler::default()),
            EngineConfig::default(),
        )
    }

    fn cx(project: &str) -> RequestContext {
        RequestContext {
            project_id: project.into(),
            username: "demo".into(),
            is_admin: false,
            auth_token: None,
        }
    }

    fn config_req(body: Value) -> ConfigRequest {
        serde_json::from_value(body).expect("config request")
    }

    fn deployment_req(body: Value) -> DeploymentRequest {
        serde_json::from_value(body).expect("deployment request")
    }

    #[tokio::test]
    async fn configs_are_created_shown_listed_and_deleted_per_project() {
        let svc = service();
        let created = svc
            .create_software_config(
                &cx("p1"),
                config_req(json!({"name": "cfg", "group": "script", "config": "echo hi",
                    "inputs": [{"name": "foo"}], "outputs": [{"name": "out", "error_output": true}]})),
            )
            .await
            .unwrap();
        let id = created["id"].as_str().unwrap().to_string();
        assert_eq!(
            created["inputs"],
            json!([{"name": "foo", "type": "String"}])
        );
        assert_eq!(
            created["outputs"],
            json!([{"name": "out", "type": "String", "error_output": true}])
        );
        assert_eq!(created["options"], json!({}));
        let shown = svc.show_software_config(&cx("p1"), &id).await.unwrap();
        assert_eq!(shown, created);
        let listed = svc.list_software_configs(&cx("p1")).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert!(listed[0].get("config").is_none(), "lists show no body");
        assert!(svc
            .list_software_configs(&cx("p2"))
            .await
            .unwrap()
            .is_empty());
        let admin = RequestContext {
            is_admin: true,
            ..cx("p2")
        };
        let all = svc.list_software_configs(&admin).await.unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0]["project"], json!("p1"), "admins see the owner");
        assert_eq!(
            svc.show_software_config(&cx("p2"), &id).await.unwrap_err(),
            EngineError::SoftwareConfigNotFound(id.clone())
        );
        svc.delete_software_config(&cx("p1"), &id).await.unwrap();
        assert!(svc.show_software_config(&cx("p1"), &id).await.is_err());
        assert!(svc.delete_software_config(&cx("p1"), &id).await.is_err());
    }

    #[tokio::test]
    async fn structured_configs_keep_their_data_and_bad_io_is_refused() {
        let svc = service();
        let created = svc
            .create_software_config(&cx("p"), config_req(json!({"config": {"a": [1, 2]}})))
            .await
            .unwrap();
        assert_eq!(created["config"], json!({"a": [1, 2]}));
        assert_eq!(created["group"], json!("Heat::Ungrouped"));
        let err = svc
            .create_software_config(
                &cx("p"),
                config_req(json!({"inputs": [{"type": "String"}]})),
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("name"), "{err}");
        let err = svc
            .create_software_config(
                &cx("p"),
                config_req(json!({"inputs": [{"name": "x", "type": "Float"}]})),
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("allowed value"), "{err}");
    }

    #[tokio::test]
    async fn deployments_follow_heats_create_update_and_metadata_rules() {
        let svc = service();
        let p = cx("p");
        let b = svc
            .create_software_config(&p, config_req(json!({"name": "b", "config": "two"})))
            .await
            .unwrap();
        let a = svc
            .create_software_config(&p, config_req(json!({"name": "a", "config": "one"})))
            .await
            .unwrap();
        let err = svc
            .create_software_deployment(
                &p,
                deployment_req(json!({"config_id": "nope", "server_id": "s"})),
            )
            .await
            .unwrap_err();
        assert_eq!(err, EngineError::SoftwareConfigNotFound("nope".into()));
        let mut ids = Vec::new();
        for c in [&b, &a] {
            let d = svc
                .create_software_deployment(
                    &p,
                    deployment_req(json!({"config_id": c["id"], "server_id": "srv-1",
                        "action": "CREATE", "status": "IN_PROGRESS"})),
                )
                .await
                .unwrap();
            assert_eq!(d["output_values"], Value::Null);
            assert_eq!(d["status_reason"], json!("None"));
            assert!(d.get("updated_time").is_none());
            ids.push(d["id"].as_str().unwrap().to_string());
        }
        let updated = svc
            .update_software_deployment(
                &p,
                &ids[0],
                deployment_req(
                    json!({"status": "COMPLETE", "status_reason": "done", "action": ""}),
                ),
            )
            .await
            .unwrap();
        assert_eq!(updated["status"], json!("COMPLETE"));
        assert_eq!(
            updated["action"],
            json!("CREATE"),
            "empty fields keep their value"
        );
        assert!(updated["updated_time"].is_string());
        let listed = svc
            .list_software_deployments(&p, Some("srv-1"))
            .await
            .unwrap();
        assert_eq!(listed.len(), 2);
        assert!(svc
            .list_software_deployments(&p, Some("srv-2"))
            .await
            .unwrap()
            .is_empty());
        let metadata = svc.deployment_metadata(&p, "srv-1").await.unwrap();
        let names: Vec<&Value> = metadata.iter().map(|m| &m["name"]).collect();
        assert_eq!(names, [&json!("a"), &json!("b")], "sorted by config name");
        assert_eq!(metadata[0]["config"], json!("one"));
        assert!(svc
            .deployment_metadata(&cx("q"), "srv-1")
            .await
            .unwrap()
            .is_empty());
        svc.delete_software_deployment(&p, &ids[1]).await.unwrap();
        assert_eq!(
            svc.show_software_deployment(&p, &ids[1]).await.unwrap_err(),
            EngineError::DeploymentNotFound(ids[1].clone())
        );
        assert_eq!(svc.deployment_metadata(&p, "srv-1").await.unwrap().len(), 1);
    }

    fn waiting(outputs: Value) -> (SoftwareDeployment, SoftwareConfig) {
        let config = new_config(config_req(json!({"outputs": outputs})), "p").unwrap();
        let deployment = new_deployment(
            None,
            deployment_req(json!({"config_id": config.id, "server_id": "s",
                "status": IN_PROGRESS})),
            "p",
        )
        .unwrap();
        (deployment, config)
    }

    #[test]
    fn a_signal_completes_or_fails_the_deployment_as_heat_words_it() {
        let (d, c) = waiting(json!([{"name": "result"}]));
        let ok = signal_outcome(
            &d,
            Some(&c),
            &json!({"deploy_stdout": "out", "deploy_status_code": 0, "result": 7, "other": 1}),
        );
        assert_eq!(ok.status, COMPLETE);
        assert_eq!(ok.status_reason, "Outputs received");
        assert_eq!(
            ok.output_values,
            json!({"result": 7, "deploy_stdout": "out", "deploy_stderr": null,
                   "deploy_status_code": 0})
        );
        assert_eq!(ok.event_reason, "deployment succeeded");

        let failed = signal_outcome(&d, Some(&c), &json!({"deploy_status_code": 2}));
        assert_eq!(failed.status, FAILED);
        assert_eq!(
            failed.status_reason,
            "deploy_status_code : Deployment exited with non-zero status code: 2"
        );
        assert_eq!(failed.event_reason, "deployment failed (2)");

        let (d, c) = waiting(json!([{"name": "err", "error_output": true}]));
        let failed = signal_outcome(&d, Some(&c), &json!({"err": "disk full"}));
        assert_eq!(failed.status, FAILED);
        assert_eq!(failed.status_reason, "err : disk full");
        let ok = signal_outcome(&d, Some(&c), &json!({"deploy_status_code": "0"}));
        assert_eq!(ok.status, COMPLETE);
    }
}
