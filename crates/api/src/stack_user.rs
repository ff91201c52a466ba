//! Tokens of stack users (`--auth keystone`): the Keystone users Heat makes for servers and
//! in-instance agents, recognised as Heat's policy recognises them (the `heat_stack_user`
//! role) or by a project of the stack user domain.
//!
//! Heat's `deny_stack_user` rule refuses them every call but reading a resource's metadata
//! and signalling a resource, and its engine lets a token whose project is a stack's
//! `stack_user_project_id` reach that stack. Ember names a stack tree's domain project as Heat
//! does (`<owner project>-<root stack id>`, `ember_engine::stack_domain::StackScope`), so no
//! mapping is stored: the stack the URL names, its root and its owner are looked up and the
//! name compared. A metadata read is further limited to the resource the user was made for
//! (Heat's `_authorize_stack_user`; its user name is the resource's physical name). The
//! request then runs as the stack's owner project without a token, as a
//! wait condition handle's signal does (work it starts acts through the stack's trust).

use axum::http::Method;
use ember_engine::stack_domain::StackScope;
use percent_encoding::percent_decode_str;
use serde_json::Value;

use crate::config::ServerConfig;
use crate::engine::{EngineCall, RequestContext, StackRef};
use crate::fault::ApiError;
use crate::keystone::TokenInfo;
use crate::ApiState;

/// The role Heat's policy knows stack users by (`heat_stack_user_role`).
const STACK_USER_ROLE: &str = "heat_stack_user";
/// Parents followed at most to a root (Heat's nesting limit is 5 by default).
const MAX_DEPTH: usize = 32;

/// Whether the token is a stack user's.
pub(crate) fn is_stack_user(config: &ServerConfig, info: &TokenInfo) -> bool {
    let (domain_id, domain_name) = &info.project_domain;
    info.roles.iter().any(|r| r == STACK_USER_ROLE)
        || config.is_stack_user_domain(domain_id, domain_name)
}

/// One of the two calls a stack user may make.
#[derive(Debug, PartialEq, Eq)]
struct AllowedCall {
    /// The URL's project.
    tenant: String,
    stack: StackRef,
    resource: String,
    /// `GET .../metadata` (else `POST .../signal`).
    metadata: bool,
}

/// The call of `GET .../stacks/{name}/{id}/resources/{res}/metadata` or
/// `POST .../resources/{res}/signal`; `None` for any other request.
fn allowed_call(method: &Method, path: &str) -> Option<AllowedCall> {
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let [v1, tenant, stacks, stack_name, stack_id, resources, resource, call] = segments.as_slice()
    else {
        return None;
    };
    let allowed = matches!(
        (method, call.as_str()),
        (&Method::GET, "metadata") | (&Method::POST, "signal")
    );
    let shape = (v1.as_str(), stacks.as_str(), resources.as_str()) == ("v1", "stacks", "resources");
    (allowed && shape).then(|| AllowedCall {
        tenant: tenant.clone(),
        stack: StackRef {
            stack_name: stack_name.clone(),
            stack_id: stack_id.clone(),
        },
        resource: resource.clone(),
        metadata: call == "metadata",
    })
}

/// The context of a stack user's request, or Heat's refusal (403; 404 for a stack that does
/// not exist).
pub(crate) async fn context(
    state: &ApiState,
    method: &Method,
    path: &str,
    info: &TokenInfo,
    request_id: &str,
) -> Result<RequestContext, ApiError> {
    let call = allowed_call(method, path).ok_or_else(ApiError::forbidden)?;
    if call.tenant != info.project_id {
        return Err(ApiError::forbidden());
    }
    // Heat's `_authorize_stack_user`: a stack user reads only the metadata of the resource it
    // was made for, whose physical name (`<stack>-<resource>-<id>`) is its user name.
    let own = format!(
        "{}-{}-",
        call.stack.stack_name.trim_end_matches('*'),
        call.resource
    );
    if call.metadata && !info.username.starts_with(&own) {
        return Err(ApiError::forbidden());
    }
    let stack = call.stack;
    // The lookups need to see every project's stacks; nothing else runs with this context.
    let lookup = RequestContext {
        project_id: info.project_id.clone(),
        user_id: Some(info.user_id.clone()),
        username: Some(info.username.clone()),
        roles: info.roles.clone(),
        is_admin: true,
        auth_token: None,
        request_id: request_id.to_string(),
    };
    let owner = identify(state, &lookup, &stack.stack_id).await?.tenant;
    // A stack user in the owner's project (Heat's mode without a stack user domain) reaches
    // the owner's stacks; a domain user only its own stack tree.
    if owner != info.project_id {
        let (domain_id, domain_name) = &info.project_domain;
        let scope = StackScope {
            owner_project: owner.clone(),
            root_stack_id: root_id(state, &lookup, stack).await?,
        };
        if !state.config.is_stack_user_domain(domain_id, domain_name)
            || scope.project_name() != info.project_name
        {
            return Err(ApiError::forbidden());
        }
    }
    Ok(RequestContext {
        project_id: owner,
        auth_token: None,
        is_admin: false,
        ..lookup
    })
}

/// What `IdentifyStack` answers.
struct Identity {
    stack: StackRef,
    tenant: String,
}

async fn identify(state: &ApiState, cx: &RequestContext, id: &str) -> Result<Identity, ApiError> {
    let found = state
        .call(
            cx,
            EngineCall::IdentifyStack {
                name_or_id: id.to_string(),
            },
        )
        .await?;
    let text = |key: &str| found[key].as_str().unwrap_or_default().to_string();
    Ok(Identity {
        stack: StackRef {
            stack_name: text("stack_name"),
            stack_id: text("stack_id"),
        },
        tenant: text("tenant"),
    })
}

/// The id of the root of `stack`'s tree, following each stack's `parent`.
async fn root_id(
    state: &ApiState,
    cx: &RequestContext,
    mut stack: StackRef,
) -> Result<String, ApiError> {
    for _ in 0..MAX_DEPTH {
        let shown = state
            .call(
                cx,
                EngineCall::ShowStack {
                    stack: stack.clone(),
                    resolve_outputs: false,
                },
            )
            .await?;
        match shown.get("parent").and_then(Value::as_str) {
            Some(parent) if !parent.is_empty() => {
                stack = identify(state, cx, parent).await?.stack;
            }
            _ => return Ok(stack.stack_id),
        }
    }
    Err(ApiError::forbidden())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_metadata_reads_and_signals_are_allowed() {
        let base = "/v1/p1/stacks/s/0a1b/resources/server";
        assert_eq!(
            allowed_call(&Method::GET, &format!("{base}/metadata")),
            Some(AllowedCall {
                tenant: "p1".into(),
                stack: StackRef {
                    stack_name: "s".into(),
                    stack_id: "0a1b".into()
                },
                resource: "server".into(),
                metadata: true,
            })
        );
        assert!(allowed_call(&Method::POST, &format!("{base}/signal"))
            .is_some_and(|call| !call.metadata));
        for (method, path) in [
            (Method::POST, format!("{base}/metadata")),
            (Method::GET, format!("{base}/signal")),
            (Method::GET, base.to_string()),
            (Method::GET, "/v1/p1/stacks".to_string()),
            (Method::GET, "/v1/p1/stacks/s/0a1b".to_string()),
            (Method::DELETE, "/v1/p1/stacks/s/0a1b".to_string()),
        ] {
            assert!(allowed_call(&method, &path).is_none(), "{method} {path}");
        }
    }
}
