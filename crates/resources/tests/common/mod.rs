//! Shared set-up of the lifecycle tests: a service over a store, with the built-in types and
//! the ember-template compiler.
#![allow(dead_code)]

use ember_engine::definition::{Compiler, StackDefinition, StackIdentity, TemplateSource};
use ember_engine::store::{MemoryStore, StateStore};
use ember_engine::{EngineConfig, RequestContext, Service, StackRequest, TemplateCompiler};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

pub fn cx() -> RequestContext {
    RequestContext {
        project_id: "tenant".into(),
        username: "demo".into(),
        is_admin: false,
        auth_token: None,
    }
}

pub fn config() -> EngineConfig {
    EngineConfig {
        heartbeat_interval: Duration::from_millis(200),
        ..EngineConfig::default()
    }
}

pub fn service_on(store: Arc<dyn StateStore>, config: EngineConfig) -> Service {
    Service::new(
        store,
        ember_resources::registry(),
        Arc::new(TemplateCompiler::default()),
        config,
    )
}

pub fn service() -> Service {
    service_on(Arc::new(MemoryStore::new()), config())
}

/// The tests' configuration with the OpenStack types calling the cloud through `session`.
pub fn lab_config(session: &ember_openstack::Session) -> EngineConfig {
    EngineConfig {
        clouds: Some(ember_resources::openstack::Cloud::from_session(
            session.clone(),
        )),
        ..config()
    }
}

/// A service whose OpenStack types call the cloud through `session` (the lab tests).
pub fn lab_service(session: &ember_openstack::Session) -> Service {
    service_on(Arc::new(MemoryStore::new()), lab_config(session))
}

/// The engine minting signal URLs under `public_url` as `ember serve` does, and the API
/// router over it (requests go to the router; nothing listens at `public_url`).
pub fn engine_and_api(public_url: &str, config: EngineConfig) -> (Service, axum::Router) {
    let mut api_config = ember_api::ServerConfig {
        public_url: Some(public_url.into()),
        ..ember_api::ServerConfig::default()
    };
    api_config.ensure_signing_key();
    let svc = service_on(
        Arc::new(MemoryStore::new()),
        EngineConfig {
            signal_urls: Some(Arc::new(ember_api::UrlSigner::new(&api_config))),
            ..config
        },
    );
    let state = ember_api::ApiState::new(api_config, Arc::new(svc.clone())).unwrap();
    (svc, ember_api::router(state))
}

pub fn request(name: &str, template: &str) -> StackRequest {
    StackRequest {
        stack_name: Some(name.into()),
        template: Some(Value::String(template.into())),
        ..StackRequest::default()
    }
}

/// A request for the stack `name` with a JSON template.
pub fn json_request(name: &str, template: Value) -> StackRequest {
    StackRequest {
        stack_name: Some(name.into()),
        template: Some(template),
        ..StackRequest::default()
    }
}

/// Starts a create; the stack's id.
pub async fn start_create(svc: &Service, req: StackRequest) -> String {
    let created = svc.create_stack(&cx(), req).await.expect("create accepted");
    created["id"].as_str().unwrap().to_string()
}

/// Creates a stack and waits for the end of the create; returns the final `stack show`.
pub async fn create(svc: &Service, req: StackRequest) -> Value {
    let id = start_create(svc, req).await;
    wait(svc, &id).await
}

pub async fn wait(svc: &Service, id: &str) -> Value {
    tokio::time::timeout(Duration::from_secs(60), svc.wait(&cx(), id))
        .await
        .expect("action finished in time")
        .expect("stack readable")
}

pub fn status(stack: &Value) -> &str {
    stack["stack_status"].as_str().unwrap_or_default()
}

pub fn reason(stack: &Value) -> &str {
    stack["stack_status_reason"].as_str().unwrap_or_default()
}

/// `name → resource JSON` of the stack's current resources.
pub async fn resources(svc: &Service, id: &str) -> serde_json::Map<String, Value> {
    svc.list_resources(&cx(), id, false)
        .await
        .expect("resources")
        .into_iter()
        .map(|r| {
            (
                r["resource_name"].as_str().unwrap_or_default().to_string(),
                r,
            )
        })
        .collect()
}

/// Events of a stack, oldest first, as Heat's API shows them.
pub async fn stack_events(svc: &Service, id: &str) -> Vec<Value> {
    let query = ember_engine::EventQuery {
        ascending: true,
        ..Default::default()
    };
    svc.list_events(&cx(), id, &query).await.expect("events")
}

/// Events oldest first as `(resource, STATUS, reason)`.
pub async fn events(svc: &Service, id: &str) -> Vec<(String, String, String)> {
    stack_events(svc, id)
        .await
        .into_iter()
        .map(|e| {
            (
                e["resource_name"].as_str().unwrap_or_default().to_string(),
                e["resource_status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                e["resource_status_reason"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

pub async fn output(svc: &Service, id: &str, key: &str) -> Value {
    svc.show_output(&cx(), id, key).await.expect("output")
}

pub fn params(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// `template` (a JSON template, or a YAML one as a string) compiled as the engine compiles a
/// stack's, for what a type reads from the whole stack (its implicit dependencies).
pub fn compiled(template: Value) -> StackDefinition {
    let source = TemplateSource {
        template,
        environment: json!({}),
        ..Default::default()
    };
    let identity = StackIdentity {
        stack_id: "s".into(),
        stack_name: "deps".into(),
        project_id: "p".into(),
    };
    TemplateCompiler::default()
        .compile(&source, &Default::default(), &identity)
        .expect("compiles")
}

pub fn json_template(v: Value) -> Option<Value> {
    Some(json!(v))
}
