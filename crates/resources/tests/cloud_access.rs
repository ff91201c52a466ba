//! How the engine uses its `CloudProvider` (the seam `ember serve --auth keystone` fills with
//! Keystone trusts; the lab tests in ember-cli's `autoscaling_lab.rs` prove the real one): the
//! trust is made once at create and stored with the stack and its nested stacks, the actions a
//! request starts act with that request's access (nested ones too), other work through the
//! stack's trust, the trust is deleted once with the root stack, and a refused delegation or a
//! stack that cannot be stored leaves nothing behind.

mod common;

use async_trait::async_trait;
use common::{config, cx, wait};
use ember_engine::schema::TypeSchema;
use ember_engine::store::{MemoryStore, StateStore};
use ember_engine::{
    CloudHandle, CloudProvider, EngineConfig, EngineError, RequestContext, ResourceContext,
    ResourceError, ResourceType, Service, StackAction, StackRequest, Started, TemplateCompiler,
    TrustId,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Which access a handle stands for, as the provider below hands them out.
fn described(handle: Option<&CloudHandle>) -> String {
    handle
        .and_then(|h| h.get::<String>().cloned())
        .unwrap_or_else(|| "none".into())
}

/// Records what the engine asks: delegations made, revoked trusts.
#[derive(Debug, Default)]
struct RecordingClouds {
    delegated: Mutex<Vec<String>>,
    revoked: Mutex<Vec<String>>,
}

#[async_trait]
impl CloudProvider for RecordingClouds {
    fn for_request(&self, requester: &RequestContext) -> Option<CloudHandle> {
        let token = requester.auth_token.as_ref()?;
        Some(CloudHandle(Arc::new(format!("request:{token}"))))
    }

    fn for_stack(&self, trust: Option<&TrustId>) -> Option<CloudHandle> {
        Some(CloudHandle(Arc::new(format!(
            "trust:{}",
            trust.map_or("none", TrustId::as_str)
        ))))
    }

    fn for_action(
        &self,
        requester: &RequestContext,
        trust: Option<&TrustId>,
    ) -> Option<CloudHandle> {
        let token = requester.auth_token.as_ref()?;
        Some(CloudHandle(Arc::new(format!(
            "request:{token} then trust:{}",
            trust.map_or("none", TrustId::as_str)
        ))))
    }

    async fn delegate(&self, requester: &RequestContext) -> Result<Option<TrustId>, EngineError> {
        if requester.auth_token.as_deref() == Some("refused") {
            return Err(EngineError::Forbidden("no trust for you".into()));
        }
        let mut delegated = self.delegated.lock().unwrap();
        let trust = format!("trust-{}", delegated.len() + 1);
        delegated.push(trust.clone());
        Ok(Some(TrustId::new(trust)))
    }

    async fn revoke(&self, trust: &TrustId) -> Result<(), EngineError> {
        self.revoked
            .lock()
            .unwrap()
            .push(trust.as_str().to_string());
        Ok(())
    }
}

/// `Test::SeesCloud`: logs the access each of its actions gets.
struct SeesCloud(Arc<Mutex<Vec<(String, String)>>>);

impl SeesCloud {
    fn log(&self, action: &str, cx: &ResourceContext) {
        let seen = described(cx.cloud.as_ref());
        self.0.lock().unwrap().push((action.to_string(), seen));
    }
}

#[async_trait]
impl ResourceType for SeesCloud {
    fn schema(&self) -> &TypeSchema {
        static SCHEMA: std::sync::LazyLock<TypeSchema> =
            std::sync::LazyLock::new(TypeSchema::default);
        &SCHEMA
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        self.log("create", cx);
        Ok(Started {
            physical_id: Some(cx.physical_resource_name()),
            data: BTreeMap::new(),
        })
    }

    async fn check(&self, cx: &ResourceContext) -> Result<(), ResourceError> {
        self.log("check", cx);
        Ok(())
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        self.log("delete", cx);
        Ok(Started::default())
    }

    async fn attribute(
        &self,
        _cx: &ResourceContext,
        _name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        Ok(None)
    }
}

const TEMPLATE: &str = "heat_template_version: 2021-04-16
resources:
  top: {type: Test::SeesCloud}
  group:
    type: OS::Heat::ResourceGroup
    properties:
      count: 1
      resource_def: {type: Test::SeesCloud}
";

fn as_user(token: &str) -> RequestContext {
    RequestContext {
        auth_token: Some(token.into()),
        ..cx()
    }
}

fn request(name: &str) -> StackRequest {
    StackRequest {
        stack_name: Some(name.into()),
        template: Some(Value::String(TEMPLATE.into())),
        ..StackRequest::default()
    }
}

struct Setup {
    svc: Service,
    store: Arc<dyn StateStore>,
    clouds: Arc<RecordingClouds>,
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

fn setup() -> Setup {
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let clouds = Arc::new(RecordingClouds::default());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut registry = ember_resources::registry();
    registry.register("Test::SeesCloud", Arc::new(SeesCloud(seen.clone())));
    let svc = Service::new(
        store.clone(),
        registry,
        Arc::new(TemplateCompiler::default()),
        EngineConfig {
            clouds: Some(clouds.clone()),
            ..config()
        },
    );
    Setup {
        svc,
        store,
        clouds,
        seen,
    }
}

/// What the resources saw, and forget it.
fn take(seen: &Mutex<Vec<(String, String)>>) -> Vec<(String, String)> {
    std::mem::take(&mut *seen.lock().unwrap())
}

fn pairs(action: &str, access: &str, n: usize) -> Vec<(String, String)> {
    vec![(action.to_string(), access.to_string()); n]
}

#[tokio::test]
async fn a_stack_acts_with_its_request_then_through_its_trust() {
    let Setup {
        svc,
        store,
        clouds,
        seen,
    } = setup();
    let created = svc
        .create_stack(&as_user("tok-1"), request("s"))
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(common::status(&wait(&svc, &id).await), "CREATE_COMPLETE");
    // The create (the nested group's too) acted with the creator's token, and the stack's
    // trust once Keystone no longer takes it.
    assert_eq!(
        take(&seen),
        pairs("create", "request:tok-1 then trust:trust-1", 2)
    );
    assert_eq!(*clouds.delegated.lock().unwrap(), ["trust-1"]);
    // The trust is stored with the stack and its nested stack.
    let root = store.stack(&id).await.unwrap().unwrap();
    assert_eq!(root.trust_id, Some(TrustId::new("trust-1")));
    let group = store
        .resources(&id)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.name == "group")
        .unwrap();
    let child = store
        .stack(group.physical_id.as_deref().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(child.trust_id, root.trust_id);

    // Work with no token of the user (a pre-signed URL's signal, a resumed action) acts
    // through the trust.
    svc.stack_action(&cx(), &id, StackAction::Check)
        .await
        .unwrap();
    wait(&svc, &id).await;
    let checks = take(&seen);
    assert!(!checks.is_empty());
    assert!(
        checks.iter().all(|(_, access)| access == "trust:trust-1"),
        "{checks:?}"
    );

    // A delete with a fresh token acts with it, then deletes the trust once (not per stack).
    svc.delete_stack(&as_user("tok-2"), &id).await.unwrap();
    assert_eq!(common::status(&wait(&svc, &id).await), "DELETE_COMPLETE");
    assert_eq!(
        take(&seen),
        pairs("delete", "request:tok-2 then trust:trust-1", 2)
    );
    assert_eq!(*clouds.revoked.lock().unwrap(), ["trust-1"]);
}

#[tokio::test]
async fn a_refused_or_unstored_delegation_leaves_nothing() {
    let Setup {
        svc,
        store,
        clouds,
        seen,
    } = setup();
    let refused = svc
        .create_stack(&as_user("refused"), request("r"))
        .await
        .unwrap_err();
    assert_eq!(refused.heat_type(), "Forbidden");
    assert!(store.stack_by_name("tenant", "r").await.unwrap().is_none());
    assert!(clouds.delegated.lock().unwrap().is_empty());

    // A name already taken: the trust made for the refused stack is deleted again.
    let first = svc
        .create_stack(&as_user("tok"), request("taken"))
        .await
        .unwrap();
    wait(&svc, first["id"].as_str().unwrap()).await;
    let clash = svc
        .create_stack(&as_user("tok"), request("taken"))
        .await
        .unwrap_err();
    assert_eq!(clash.heat_type(), "StackExists");
    assert_eq!(*clouds.delegated.lock().unwrap(), ["trust-1", "trust-2"]);
    assert_eq!(*clouds.revoked.lock().unwrap(), ["trust-2"]);
    take(&seen);
}
