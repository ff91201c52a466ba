//! `ember serve --auth keystone`: each stack's resources act as the user who created the stack,
//! through a Keystone trust from that user to the service user (Heat's
//! `deferred_auth_method = trusts`; see `ember_engine::cloud`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ember_engine::{CloudHandle, CloudProvider, EngineError, RequestContext, TrustId};
use ember_openstack::services::identity::Identity;
use ember_openstack::{CloudConfig, Credentials, NameOrId, Reauthentication, Scope, Session};

use super::Cloud;

/// Sessions kept at most: past this the cache starts again empty (a dropped session costs one
/// Keystone login when its stack next acts), so memory stays bounded however many stacks act.
const CACHED_TRUSTS: usize = 4096;

/// Trusts to one service user and the sessions acting through them, one per trust, made on
/// first use and kept (a `Session` renews its token itself) until the trust is revoked.
pub struct KeystoneTrusts {
    /// The service user's login: the trustee of every trust.
    service: CloudConfig,
    /// The service user's own session, for its user id.
    service_session: tokio::sync::OnceCell<Session>,
    by_trust: Mutex<HashMap<String, Arc<Cloud>>>,
}

impl std::fmt::Debug for KeystoneTrusts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeystoneTrusts")
            .field("auth_url", &self.service.auth_url)
            .finish_non_exhaustive()
    }
}

impl KeystoneTrusts {
    /// `service`: the service user's credentials, scoped to its own project (the settings
    /// `ember serve` validates tokens with).
    pub fn new(service: CloudConfig) -> Self {
        KeystoneTrusts {
            service,
            service_session: tokio::sync::OnceCell::new(),
            by_trust: Mutex::new(HashMap::new()),
        }
    }

    /// The service user's credentials scoped to `trust`: a token acting as its trustor.
    fn trust_config(&self, trust: &TrustId) -> CloudConfig {
        self.service.with_credentials(
            self.service.credentials.clone(),
            Scope::Trust(trust.as_str().to_string()),
        )
    }

    /// The cloud acting through `trust`, connected on first use.
    fn trust_cloud(&self, trust: &TrustId) -> Arc<Cloud> {
        let mut clouds = self.by_trust.lock().unwrap_or_else(|p| p.into_inner());
        if clouds.len() >= CACHED_TRUSTS && !clouds.contains_key(trust.as_str()) {
            clouds.clear();
        }
        clouds
            .entry(trust.as_str().to_string())
            .or_insert_with(|| Cloud::from_config(self.trust_config(trust)))
            .clone()
    }

    /// The requester's own access: their token, rescoped to their project.
    fn requester_config(&self, requester: &RequestContext) -> Option<CloudConfig> {
        let token = requester.auth_token.clone()?;
        Some(self.service.with_credentials(
            Credentials::Token { token },
            Scope::Project(NameOrId::Id(requester.project_id.clone())),
        ))
    }

    async fn trustee_id(&self) -> Result<String, ember_openstack::Error> {
        let session = self
            .service_session
            .get_or_try_init(|| Session::connect(self.service.clone()))
            .await?;
        Ok(session.token().await?.user_id)
    }
}

/// Keystone's refusal as the request's error: a refusal of the caller's rights is Heat's 403,
/// anything else the missing credential Heat reports.
fn refused(what: &str, error: ember_openstack::Error) -> EngineError {
    let message = format!("{what}: {error}");
    match error.status() {
        Some(401 | 403) => EngineError::Forbidden(message),
        _ => EngineError::MissingCredential(message),
    }
}

#[async_trait]
impl CloudProvider for KeystoneTrusts {
    fn for_request(&self, requester: &RequestContext) -> Option<CloudHandle> {
        let cloud = Cloud::from_config(self.requester_config(requester)?);
        cloud.handle()
    }

    fn for_stack(&self, trust: Option<&TrustId>) -> Option<CloudHandle> {
        self.trust_cloud(trust?).handle()
    }

    /// The requester's token, with the trust as the session's reauthentication.
    fn for_action(
        &self,
        requester: &RequestContext,
        trust: Option<&TrustId>,
    ) -> Option<CloudHandle> {
        let mut config = self.requester_config(requester)?;
        config.reauthentication = trust.map(|trust| {
            let trusted = self.trust_config(trust);
            Box::new(Reauthentication {
                credentials: trusted.credentials,
                scope: trusted.scope,
            })
        });
        Cloud::from_config(config).handle()
    }

    /// A trust from the requester to the service user on the requester's project, with the
    /// roles of the requester's token and impersonation, as Heat's `create_trust_context`.
    async fn delegate(&self, requester: &RequestContext) -> Result<Option<TrustId>, EngineError> {
        const WHAT: &str = "a Keystone trust for the stack's deferred work";
        let config = self.requester_config(requester).ok_or_else(|| {
            EngineError::MissingCredential(format!("{WHAT} needs the caller's token"))
        })?;
        let requester_session = Session::connect(config)
            .await
            .map_err(|e| refused(WHAT, e))?;
        let token = requester_session
            .token()
            .await
            .map_err(|e| refused(WHAT, e))?;
        let trustee = self.trustee_id().await.map_err(|e| {
            EngineError::MissingCredential(format!("{WHAT}: the service user cannot log in: {e}"))
        })?;
        let project = token.project_id.clone().unwrap_or_default();
        let roles: Vec<&str> = token.roles.iter().map(String::as_str).collect();
        let identity = Identity::new(&requester_session)
            .await
            .map_err(|e| refused(WHAT, e))?;
        let trust = identity
            .create_trust(&token.user_id, &trustee, &project, &roles)
            .await
            .map_err(|e| refused(&format!("{WHAT} (roles {roles:?})"), e))?;
        let id = trust["id"].as_str().ok_or_else(|| {
            EngineError::MissingCredential(format!("{WHAT}: Keystone answered without an id"))
        })?;
        Ok(Some(TrustId::new(id)))
    }

    /// Deleted through the trust itself (Keystone lets a trust-scoped token delete its own
    /// trust), so no token of the trustor is needed when the stack's delete ends. A trust that
    /// no longer authenticates is already gone.
    async fn revoke(&self, trust: &TrustId) -> Result<(), EngineError> {
        let cloud = self
            .by_trust
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(trust.as_str());
        let session = match cloud.as_ref().and_then(|c| c.connected()) {
            Some(session) => session.clone(),
            None => match Session::connect(self.trust_config(trust)).await {
                Ok(session) => session,
                Err(e) if matches!(e.status(), Some(401 | 404)) => return Ok(()),
                Err(e) => return Err(refused("deleting a stack's trust", e)),
            },
        };
        let deleted = async {
            Identity::new(&session)
                .await?
                .delete_trust(trust.as_str())
                .await
        };
        deleted
            .await
            .map_err(|e| refused("deleting a stack's trust", e))
    }
}
