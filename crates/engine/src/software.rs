//! Software configs and deployments (Heat's `/software_configs` and `/software_deployments`):
//! records kept for servers to fetch their configuration, shaped as Heat's API shows them.

use crate::error::EngineError;
use crate::model::heat_time;
use crate::service::{RequestContext, Service};
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// A software config: immutable once created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SoftwareConfig {
    pub id: String,
    pub name: String,
    pub group: String,
    pub config: String,
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

/// `POST /software_configs`. Unknown keys are refused: a body meant for another call is an
/// error, not an empty config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigRequest {
    pub name: Option<String>,
    pub group: Option<String>,
    pub config: Option<String>,
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

/// Heat's body of a config: the summary in lists, everything when shown.
fn config_body(c: &SoftwareConfig, detail: bool) -> Value {
    let mut body = json!({
        "id": c.id,
        "name": c.name,
        "group": c.group,
        "creation_time": heat_time(&c.created_at),
        "project": c.project_id,
    });
    if let (true, Some(map)) = (detail, body.as_object_mut()) {
        map.insert("config".into(), Value::String(c.config.clone()));
        map.insert("inputs".into(), c.inputs.clone());
        map.insert("outputs".into(), c.outputs.clone());
        map.insert("options".into(), c.options.clone());
    }
    body
}

fn deployment_body(d: &SoftwareDeployment) -> Value {
    json!({
        "id": d.id,
        "config_id": d.config_id,
        "server_id": d.server_id,
        "input_values": d.input_values,
        "output_values": d.output_values,
        "action": d.action,
        "status": d.status,
        "status_reason": d.status_reason,
        "creation_time": heat_time(&d.created_at),
        "updated_time": d.updated_at.as_ref().map(heat_time),
    })
}

fn visible(cx: &RequestContext, project_id: &str) -> bool {
    cx.is_admin || cx.project_id == project_id
}

impl Service {
    pub async fn create_software_config(
        &self,
        cx: &RequestContext,
        req: ConfigRequest,
    ) -> Result<Value, EngineError> {
        let config = SoftwareConfig {
            id: uuid::Uuid::new_v4().to_string(),
            name: req.name.unwrap_or_default(),
            group: req.group.unwrap_or_else(|| "Heat::Ungrouped".into()),
            config: req.config.unwrap_or_default(),
            inputs: req.inputs.unwrap_or_else(|| json!([])),
            outputs: req.outputs.unwrap_or_else(|| json!([])),
            options: req.options.unwrap_or_else(|| json!({})),
            project_id: cx.project_id.clone(),
            created_at: Utc::now(),
        };
        self.state_store()
            .insert_software_config(&config)
            .await
            .map_err(store_error)?;
        Ok(config_body(&config, true))
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
        Ok(config_body(&self.config_record(cx, id).await?, true))
    }

    /// The project's configs, oldest first (Heat's list shows no config text).
    pub async fn list_software_configs(
        &self,
        cx: &RequestContext,
    ) -> Result<Vec<Value>, EngineError> {
        let configs = self
            .state_store()
            .software_configs(Some(&cx.project_id))
            .await
            .map_err(store_error)?;
        Ok(configs.iter().map(|c| config_body(c, false)).collect())
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
        let config_id = req.config_id.unwrap_or_default();
        self.config_record(cx, &config_id).await?;
        let Some(server_id) = req.server_id else {
            return Err(EngineError::InvalidRequest("server_id is required".into()));
        };
        let deployment = SoftwareDeployment {
            id: uuid::Uuid::new_v4().to_string(),
            config_id,
            server_id,
            input_values: req.input_values.unwrap_or_else(|| json!({})),
            output_values: req.output_values.unwrap_or_else(|| json!({})),
            action: req.action.unwrap_or_else(|| "INIT".into()),
            status: req.status.unwrap_or_else(|| "COMPLETE".into()),
            status_reason: req.status_reason.unwrap_or_default(),
            project_id: cx.project_id.clone(),
            created_at: Utc::now(),
            updated_at: None,
        };
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
        if let Some(config_id) = req.config_id {
            self.config_record(cx, &config_id).await?;
            deployment.config_id = config_id;
        }
        if let Some(v) = req.input_values {
            deployment.input_values = v;
        }
        if let Some(v) = req.output_values {
            deployment.output_values = v;
        }
        if let Some(v) = req.action {
            deployment.action = v;
        }
        if let Some(v) = req.status {
            deployment.status = v;
        }
        if let Some(v) = req.status_reason {
            deployment.status_reason = v;
        }
        deployment.updated_at = Some(Utc::now());
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

    /// What a server fetches: the config of each of its deployments, oldest first, each input
    /// carrying the deployment's value for it.
    pub async fn deployment_metadata(
        &self,
        cx: &RequestContext,
        server_id: &str,
    ) -> Result<Vec<Value>, EngineError> {
        let deployments = self
            .state_store()
            .software_deployments(Some(&cx.project_id), Some(server_id))
            .await
            .map_err(store_error)?;
        let mut metadata = Vec::with_capacity(deployments.len());
        for d in &deployments {
            let Ok(config) = self.config_record(cx, &d.config_id).await else {
                continue;
            };
            let mut body = config_body(&config, true);
            let values = d.input_values.as_object().cloned().unwrap_or_default();
            let inputs: Vec<Value> = config
                .inputs
                .as_array()
                .map(|inputs| {
                    inputs
                        .iter()
                        .map(|input| with_value(input, &values))
                        .collect()
                })
                .unwrap_or_default();
            if let Some(map) = body.as_object_mut() {
                map.insert("inputs".into(), Value::Array(inputs));
            }
            metadata.push(body);
        }
        Ok(metadata)
    }
}

/// A config input with the deployment's value for it (its default when none is given).
fn with_value(input: &Value, values: &Map<String, Value>) -> Value {
    let mut input = input.clone();
    if let Some(map) = input.as_object_mut() {
        let name = map.get("name").and_then(Value::as_str).unwrap_or_default();
        let value = values
            .get(name)
            .or_else(|| map.get("default"))
            .cloned()
            .unwrap_or(Value::Null);
        map.insert("value".into(), value);
    }
    input
}
