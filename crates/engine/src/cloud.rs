//! How a stack's resources reach the cloud: the engine asks the [`CloudProvider`] the
//! embedding program set as `EngineConfig::clouds`, per stack, for the [`CloudHandle`] its
//! handlers get as `ResourceContext::cloud`.
//!
//! `ember serve --auth keystone` delegates as Heat does with `deferred_auth_method = trusts`:
//! when a stack is created or adopted, the requester's token makes a Keystone trust from the
//! requester to the service user (impersonation, the token's project and roles). Its id is
//! stored, encrypted, with the stack and copied to its nested stacks; everything the engine
//! later does for the stack (the background create itself, signals, scaling, timeouts,
//! updates, delete, an action resumed after a restart) acts through a trust-scoped session, so
//! it works when the requester's token has expired or was revoked. An action a request starts
//! acts with the requester's token, as Heat runs a request's work with its context, and
//! switches to the trust once Keystone no longer takes the token. The trust is deleted once
//! the root stack is deleted. Local mode and `--auth none` have one shared session.

use async_trait::async_trait;

use crate::error::EngineError;
use crate::resource::CloudHandle;
use crate::service::RequestContext;

pub use ember_store::TrustId;

/// Cloud access per stack (see the module documentation).
#[async_trait]
pub trait CloudProvider: Send + Sync + std::fmt::Debug {
    /// Access with the requester's own rights, for what is checked while the request is
    /// answered (Heat's custom constraints: does the flavor exist for this user).
    fn for_request(&self, requester: &RequestContext) -> Option<CloudHandle>;

    /// Access for the resources of a stack holding `trust` (and for one holding none).
    fn for_stack(&self, trust: Option<&TrustId>) -> Option<CloudHandle>;

    /// Access for an action a request starts on a stack holding `trust`: the requester's own
    /// while Keystone still takes their token, then the trust's (Heat's
    /// `reauthentication_auth_method = trusts`), so an action may outlive the token.
    fn for_action(
        &self,
        requester: &RequestContext,
        trust: Option<&TrustId>,
    ) -> Option<CloudHandle>;

    /// Delegates the requester's rights for a stack's deferred work, before the stack is
    /// stored: the trust to store with it, or `None` when this provider needs none. A refusal
    /// is the request's error.
    async fn delegate(&self, requester: &RequestContext) -> Result<Option<TrustId>, EngineError>;

    /// Deletes a delegation whose stack is gone (or was never stored); one already gone counts
    /// as deleted.
    async fn revoke(&self, trust: &TrustId) -> Result<(), EngineError>;
}
