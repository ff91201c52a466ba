//! The CFN-compatible signal endpoints reached through pre-signed URLs (see [`crate::signing`]):
//! no token, the signature in the query string authorises exactly one resource.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use crate::engine::{EngineCall, RequestContext, StackRef};
use crate::fault::ApiError;
use crate::http::{ok, HeatBody, Query};
use crate::signing::{verify, SignalKind, SignatureError, SignedTarget};
use crate::ApiState;

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
fn context_for(target: &SignedTarget) -> RequestContext {
    RequestContext {
        project_id: target.tenant.clone(),
        user_id: None,
        username: None,
        roles: Vec::new(),
        is_admin: false,
        auth_token: None,
        request_id: format!("req-{}", uuid::Uuid::new_v4()),
    }
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
        .call(&context_for(&target), signal_call(&target, body.0))
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
        .call(&context_for(&target), signal_call(&target, body.0))
        .await?;
    Ok(ok(Value::Null))
}
