//! The OpenStack resource types (`OS::Neutron::*`, `OS::Nova::*`, `OS::Cinder::*`,
//! `OS::Glance::WebImage`, `OS::Swift::Container`), each calling the real service through `ember-openstack`.
//!
//! Handlers are stateless, as the engine requires: `create`/`update`/`delete` start the work and
//! store what later checks need in the resource's data; `check_*_complete` take one look and
//! answer `Pending` with an interval that grows with the time the action has taken (so a slow
//! server costs few calls), or fail with the service's own message.
//!
//! Cloud access: a handler uses the context's `CloudHandle`, which the engine gets per stack from
//! its `CloudProvider`: a [`Cloud`] (one shared session: local mode, `ember serve --auth none`),
//! or [`KeystoneTrusts`] (`--auth keystone`: each stack's trust-scoped session). A handle may
//! also hold a connected `ember_openstack::Session` (tests). Without a handle, the types share a
//! [`Cloud`] that connects on first use from `OS_*` / `clouds.yaml`.

mod aodh;
mod cinder;
mod cinder_admin;
pub mod constraints;
pub(crate) mod dependencies;
mod glance;
pub(crate) mod keystone;
mod keystone_admin;
mod neutron;
mod neutron_more;
mod nova;
mod nova_admin;
mod props;
mod quota;
pub(crate) mod stack_domain;
pub(crate) mod swift;
mod trusts;
mod user_data;

pub(crate) use neutron::security_group_ids;
pub use stack_domain::KeystoneStackDomain;
pub use trusts::KeystoneTrusts;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ember_engine::{
    CloudHandle, CloudProvider, EngineError, Progress, Registry, RequestContext, ResourceContext,
    ResourceError, TrustId,
};
use ember_openstack::{CloudConfig, Poll, Session};

/// Where the types get their session: connected once, on first use, and shared.
pub struct Cloud {
    source: CloudSource,
    session: tokio::sync::OnceCell<Session>,
    /// This cloud itself, for the handles it gives as a `CloudProvider`.
    me: std::sync::Weak<Cloud>,
}

enum CloudSource {
    Environment,
    Config(CloudConfig),
}

impl Cloud {
    fn new(source: CloudSource, session: Option<Session>) -> Arc<Cloud> {
        Arc::new_cyclic(|me| Cloud {
            source,
            session: tokio::sync::OnceCell::new_with(session),
            me: me.clone(),
        })
    }

    /// Credentials from `OS_*` variables or `OS_CLOUD` + clouds.yaml, read at first use.
    pub fn from_env() -> Arc<Cloud> {
        Cloud::new(CloudSource::Environment, None)
    }

    pub fn from_config(config: CloudConfig) -> Arc<Cloud> {
        Cloud::new(CloudSource::Config(config), None)
    }

    /// An already connected session (local mode, tests).
    pub fn from_session(session: Session) -> Arc<Cloud> {
        Cloud::new(CloudSource::Environment, Some(session))
    }

    pub async fn session(&self) -> Result<&Session, ResourceError> {
        self.session
            .get_or_try_init(|| async {
                let config = match &self.source {
                    CloudSource::Environment => CloudConfig::from_env()?,
                    CloudSource::Config(config) => config.clone(),
                };
                Session::connect(config).await
            })
            .await
            .map_err(cloud_error)
    }
}

/// Shared access: every stack (and every request check) uses this one cloud; nothing is
/// delegated.
#[async_trait::async_trait]
impl CloudProvider for Cloud {
    fn for_request(&self, _requester: &RequestContext) -> Option<CloudHandle> {
        self.handle()
    }

    fn for_stack(&self, _trust: Option<&TrustId>) -> Option<CloudHandle> {
        self.handle()
    }

    fn for_action(
        &self,
        _requester: &RequestContext,
        _trust: Option<&TrustId>,
    ) -> Option<CloudHandle> {
        self.handle()
    }

    async fn delegate(&self, _requester: &RequestContext) -> Result<Option<TrustId>, EngineError> {
        Ok(None)
    }

    async fn revoke(&self, _trust: &TrustId) -> Result<(), EngineError> {
        Ok(())
    }
}

impl std::fmt::Debug for Cloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cloud")
            .field("connected", &self.session.initialized())
            .finish_non_exhaustive()
    }
}

impl Cloud {
    /// A handle to this cloud for `ResourceContext::cloud`.
    fn handle(&self) -> Option<CloudHandle> {
        self.me
            .upgrade()
            .map(|me| CloudHandle(me as Arc<dyn std::any::Any + Send + Sync>))
    }

    /// The session, if connected: for the call counts a program reports at exit.
    pub fn connected(&self) -> Option<&Session> {
        self.session.get()
    }
}

/// The session for this handler call: the context's, else the shared one.
pub(crate) async fn session<'a>(
    cloud: &'a Cloud,
    cx: &'a ResourceContext,
) -> Result<&'a Session, ResourceError> {
    match cx.cloud.as_ref() {
        Some(handle) => handle_session(handle, cloud).await,
        None => cloud.session().await,
    }
}

/// The session a handle gives: its connected session, or its cloud's (connected on first use);
/// `fallback`'s for a handle of another kind.
async fn handle_session<'a>(
    handle: &'a CloudHandle,
    fallback: &'a Cloud,
) -> Result<&'a Session, ResourceError> {
    if let Some(session) = handle.get::<Session>() {
        return Ok(session);
    }
    handle.get::<Cloud>().unwrap_or(fallback).session().await
}

/// A service client (`Compute::new`, `Network::new`, ...) on this handler call's session, its
/// failure to connect as the resource's failure.
pub(crate) async fn client<'a, C, F>(
    cloud: &'a Cloud,
    cx: &'a ResourceContext,
    connect: impl FnOnce(&'a Session) -> F,
) -> Result<C, ResourceError>
where
    F: std::future::Future<Output = Result<C, ember_openstack::Error>>,
{
    connect(session(cloud, cx).await?)
        .await
        .map_err(cloud_error)
}

/// An attribute of the schema: `fetch(physical id)` gives its value, `null` before the resource
/// exists; `None` for a name the type does not have.
pub(crate) async fn attribute_of<'a, F>(
    schema: &ember_engine::schema::TypeSchema,
    cx: &'a ResourceContext,
    name: &str,
    fetch: impl FnOnce(&'a str) -> F,
) -> Result<Option<serde_json::Value>, ResourceError>
where
    F: std::future::Future<Output = Result<serde_json::Value, ResourceError>>,
{
    if !schema.attributes.contains_key(name) {
        return Ok(None);
    }
    match cx.physical_id.as_deref() {
        Some(id) => fetch(id).await.map(Some),
        None => Ok(Some(serde_json::Value::Null)),
    }
}

/// The `show` of a type that acts on another object and has no object of its own to look up
/// (attachments, interfaces, associations): its own id.
pub(crate) async fn id_attribute(
    schema: &ember_engine::schema::TypeSchema,
    cx: &ResourceContext,
    name: &str,
) -> Result<Option<serde_json::Value>, ResourceError> {
    attribute_of(schema, cx, name, |id| async move {
        Ok(serde_json::Value::String(id.to_string()))
    })
    .await
}

/// Heat's custom constraints of `schema` (`nova.flavor`, `glance.image`, ...) checked against
/// the cloud, for `ResourceType::validate_with_cloud`. Without a reachable cloud nothing is
/// checked here: the create then fails with the connection error as the resource's reason.
pub(crate) async fn check_constraints(
    cloud: &Cloud,
    handle: Option<&ember_engine::CloudHandle>,
    schema: &ember_engine::schema::TypeSchema,
    properties: &ember_engine::Properties,
) -> Result<(), (String, String)> {
    let session = match handle {
        Some(handle) => handle_session(handle, cloud).await,
        None => cloud.session().await,
    };
    let Ok(session) = session else {
        return Ok(());
    };
    constraints::check_properties(session, schema, properties).await
}

/// Register every OpenStack type, sharing `cloud`.
pub fn register_with(registry: &mut Registry, cloud: Arc<Cloud>) {
    neutron::register(registry, &cloud);
    nova::register(registry, &cloud);
    cinder::register(registry, &cloud);
    glance::register(registry, &cloud);
    keystone::register(registry, &cloud);
    aodh::register(registry, &cloud);
    keystone_admin::register(registry, &cloud);
    cinder_admin::register(registry, &cloud);
    nova_admin::register(registry, &cloud);
    neutron_more::register(registry, &cloud);
    quota::register(registry, &cloud);
    swift::register(registry, &cloud);
}

/// Register every OpenStack type with credentials from the environment.
pub fn register(registry: &mut Registry) {
    register_with(registry, Cloud::from_env());
}

/// A service error as the resource's failure: Heat's class name and the service's message.
pub(crate) fn cloud_error(error: ember_openstack::Error) -> ResourceError {
    ResourceError::new(error.heat_class(), error.to_string())
}

/// The data key under which the start time of the current action is kept.
pub(crate) const STARTED_AT: &str = "action_started_at";

/// Data recording that an action starts now.
pub(crate) fn started_now() -> BTreeMap<String, String> {
    BTreeMap::from([(
        STARTED_AT.to_string(),
        chrono::Utc::now().timestamp_millis().to_string(),
    )])
}

/// The wait before the next look: a third of the time the action has taken so far, between
/// 0.5 s and 10 s (a server that boots in 2 s is seen quickly; a 10-minute volume copy costs
/// about a hundred calls, not a thousand).
pub(crate) fn next_check(cx: &ResourceContext) -> Duration {
    let started = cx
        .data
        .get(STARTED_AT)
        .and_then(|t| t.parse::<i64>().ok())
        .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
    let elapsed = (chrono::Utc::now().timestamp_millis() - started).max(0) as u64;
    Duration::from_millis((elapsed / 3).clamp(500, 10_000))
}

/// A one-look check as the engine's progress.
pub(crate) fn progress<T>(
    cx: &ResourceContext,
    check: Result<Poll<T>, ember_openstack::Error>,
) -> Result<Progress, ResourceError> {
    match check.map_err(cloud_error)? {
        Poll::Ready(_) => Ok(Progress::Done),
        Poll::Pending(_) => Ok(Progress::Pending(next_check(cx))),
    }
}

/// The items of list property `key` that an update removes and adds (`tenants`, `projects`).
pub(crate) fn list_changes(
    old: &ember_engine::Properties,
    new: &ember_engine::Properties,
    key: &str,
) -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
    let items = |p: &ember_engine::Properties| {
        p.get(key)
            .and_then(serde_json::Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let (old, new) = (items(old), items(new));
    let removed = old.iter().filter(|i| !new.contains(i)).cloned().collect();
    let added = new.iter().filter(|i| !old.contains(i)).cloned().collect();
    (removed, added)
}

/// The physical id, which every handler after `create` relies on.
pub(crate) fn physical_id(cx: &ResourceContext) -> Result<&str, ResourceError> {
    cx.physical_id
        .as_deref()
        .ok_or_else(|| ResourceError::new("Error", format!("{} has no physical resource", cx.name)))
}

/// The `name` property, or Heat's generated `<stack>-<resource>-<id>` name.
pub(crate) fn name_or_generated(cx: &ResourceContext) -> String {
    cx.prop_str("name")
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| cx.physical_resource_name())
}
