//! The OpenStack resource types (`OS::Neutron::*`, `OS::Nova::*`, `OS::Cinder::*`,
//! `OS::Glance::WebImage`), each calling the real service through `ember-openstack`.
//!
//! Handlers are stateless, as the engine requires: `create`/`update`/`delete` start the work and
//! store what later checks need in the resource's data; `check_*_complete` take one look and
//! answer `Pending` with an interval that grows with the time the action has taken (so a slow
//! server costs few calls), or fail with the service's own message.
//!
//! Cloud access: a handler uses the `ember_openstack::Session` the embedding program put in the
//! context's `CloudHandle` (server mode: the stack's trust-scoped session); without one, the
//! types share a [`Cloud`] that connects on first use from `OS_*` / `clouds.yaml` (local mode).

mod aodh;
mod cinder;
pub mod constraints;
pub(crate) mod dependencies;
mod glance;
mod keystone;
mod neutron;
mod nova;
mod props;
mod user_data;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ember_engine::{Progress, Registry, ResourceContext, ResourceError};
use ember_openstack::{CloudConfig, Poll, Session};

/// Where the types get their session: connected once, on first use, and shared.
pub struct Cloud {
    source: CloudSource,
    session: tokio::sync::OnceCell<Session>,
}

enum CloudSource {
    Environment,
    Config(CloudConfig),
}

impl Cloud {
    /// Credentials from `OS_*` variables or `OS_CLOUD` + clouds.yaml, read at first use.
    pub fn from_env() -> Arc<Cloud> {
        Arc::new(Cloud {
            source: CloudSource::Environment,
            session: tokio::sync::OnceCell::new(),
        })
    }

    pub fn from_config(config: CloudConfig) -> Arc<Cloud> {
        Arc::new(Cloud {
            source: CloudSource::Config(config),
            session: tokio::sync::OnceCell::new(),
        })
    }

    /// An already connected session (tests, server mode).
    pub fn from_session(session: Session) -> Arc<Cloud> {
        Arc::new(Cloud {
            source: CloudSource::Environment,
            session: tokio::sync::OnceCell::new_with(Some(session)),
        })
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

/// The session for this handler call: the context's, else the shared one.
pub(crate) async fn session<'a>(
    cloud: &'a Cloud,
    cx: &'a ResourceContext,
) -> Result<&'a Session, ResourceError> {
    match cx.cloud.as_ref().and_then(|handle| handle.get::<Session>()) {
        Some(session) => Ok(session),
        None => cloud.session().await,
    }
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
    let session = match handle.and_then(|h| h.get::<Session>()) {
        Some(session) => session,
        None => match cloud.session().await {
            Ok(session) => session,
            Err(_) => return Ok(()),
        },
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
