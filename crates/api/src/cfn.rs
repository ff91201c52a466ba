//! The CFN-compatible signal endpoints reached through pre-signed URLs (see [`crate::signing`]):
//! no token, the signature in the query string authorises exactly one resource. Also the check of
//! a wait condition handle's token on the native signal path ([`handle_token_context`]).

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::engine::{EngineCall, RequestContext, StackRef};
use crate::fault::ApiError;
use crate::http::{ok, HeatBody, Query};
use crate::signing::{verify, verify_token, SignalKind, SignatureError, SignedTarget};
use crate::ApiState;
use percent_encoding::percent_decode_str;

fn check(
    state: &ApiState,
    kind: SignalKind,
    arn: &str,
    query: &Query,
) -> Result<SignedTarget, ApiError> {
    let now = chrono::Utc::now().timestamp();
    verify(
        &state.signing_key,
        kind,
        arn,
        query.get("Expires"),
        query.get("Signature"),
        now,
    )
    .map_err(|e| match e {
        SignatureError::BadArn(_) => ApiError::not_found(e.to_string()),
        _ => ApiError::http(StatusCode::FORBIDDEN, e.to_string()),
    })
}

/// The signal runs as the stack's project: the signature stands for the caller's identity.
fn context_for(target: &SignedTarget, request_id: String) -> RequestContext {
    RequestContext {
        project_id: target.tenant.clone(),
        user_id: None,
        username: None,
        roles: Vec::new(),
        is_admin: false,
        auth_token: None,
        request_id,
    }
}

/// A wait condition handle's `token` sent as `X-Auth-Token` (see [`crate::signing::sign_token`]):
/// the context of that request when it is `POST /v1/{tenant}/stacks/{name}/{id}/resources/{res}/signal`
/// of the very resource the token was minted for, as Heat accepts its per-stack user's token
/// there. Anything else is left to Keystone.
pub fn handle_token_context(
    state: &ApiState,
    method: &Method,
    path: &str,
    token: &str,
    request_id: &str,
) -> Option<RequestContext> {
    if method != Method::POST {
        return None;
    }
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let [v1, tenant, stacks, stack_name, stack_id, resources, resource_name, signal] =
        segments.as_slice()
    else {
        return None;
    };
    if (
        v1.as_str(),
        stacks.as_str(),
        resources.as_str(),
        signal.as_str(),
    ) != ("v1", "stacks", "resources", "signal")
    {
        return None;
    }
    let target = SignedTarget {
        kind: SignalKind::Signal,
        tenant: tenant.clone(),
        stack_name: stack_name.clone(),
        stack_id: stack_id.clone(),
        resource_name: resource_name.clone(),
    };
    let now = chrono::Utc::now().timestamp();
    verify_token(&state.signing_key, &target, token, now).ok()?;
    Some(context_for(&target, request_id.to_string()))
}

fn signal_call(target: &SignedTarget, details: Option<Value>) -> EngineCall {
    EngineCall::SignalResource {
        stack: StackRef {
            stack_name: target.stack_name.clone(),
            stack_id: target.stack_id.clone(),
        },
        resource: target.resource_name.clone(),
        details,
    }
}

/// `PUT /v1/waitcondition/{arn}`: a wait condition handle's signal; answers with the handle's
/// new metadata as Heat's CFN API does.
pub async fn waitcondition(
    State(state): State<ApiState>,
    Path(arn): Path<String>,
    query: Query,
    body: HeatBody,
) -> Result<Response, ApiError> {
    let target = check(&state, SignalKind::WaitCondition, &arn, &query)?;
    let metadata = state
        .call(
            &context_for(&target, format!("req-{}", uuid::Uuid::new_v4())),
            signal_call(&target, body.0),
        )
        .await?;
    Ok(ok(
        json!({"resource": target.resource_name, "metadata": metadata}),
    ))
}

/// `POST /v1/signal/{arn}`: a resource signal such as a scaling policy's `alarm_url`.
pub async fn signal(
    State(state): State<ApiState>,
    Path(arn): Path<String>,
    query: Query,
    body: HeatBody,
) -> Result<Response, ApiError> {
    let target = check(&state, SignalKind::Signal, &arn, &query)?;
    state
        .call(
            &context_for(&target, format!("req-{}", uuid::Uuid::new_v4())),
            signal_call(&target, body.0),
        )
        .await?;
    Ok(ok(Value::Null))
}

/// `GET /v1/metadata/{arn}`: what a server polls through os-collect-config's `request`
/// collector: the resource's metadata as `GET .../metadata` shows it, which for a
/// SOFTWARE_CONFIG server holds its deployments read at this moment. Heat pushes the same
/// document to a Swift temp URL whenever the deployments change; read here on each poll it
/// cannot be stale.
pub async fn metadata(
    State(state): State<ApiState>,
    Path(arn): Path<String>,
    query: Query,
) -> Result<Response, ApiError> {
    let target = check(&state, SignalKind::Metadata, &arn, &query)?;
    let cx = context_for(&target, format!("req-{}", uuid::Uuid::new_v4()));
    let metadata = state
        .call(
            &cx,
            EngineCall::ResourceMetadata {
                stack: StackRef {
                    stack_name: target.stack_name.clone(),
                    stack_id: target.stack_id.clone(),
                },
                resource: target.resource_name.clone(),
            },
        )
        .await?;
    Ok(ok(metadata))
}
