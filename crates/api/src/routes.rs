//! The routes of Heat's orchestration API v1, one handler per Heat controller action.
//!
//! Each handler checks the request the way Heat's controller does (query parameter types, body
//! shape), turns it into one [`EngineCall`], and wraps the engine's JSON in Heat's envelope with
//! `links` made absolute against the URL the client used.

use axum::extract::{Extension, Path, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put, MethodRouter};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::engine::{EngineCall, RequestContext, StackAction, StackRef};
use crate::fault::ApiError;
use crate::http::{
    accepted, found, no_content, ok, segment, BaseUrl, HeatBody, ParamKind, Query, MALFORMED,
};
use crate::ApiState;

type Ctx = Extension<RequestContext>;
type Result<T> = std::result::Result<T, ApiError>;

/// Answers OPTIONS with the allowed methods and other unrouted methods with Heat's 405, as
/// Heat's router does for every path it knows.
fn methods(router: MethodRouter<ApiState>, allow: &'static str) -> MethodRouter<ApiState> {
    // axum answers HEAD with the GET handler; Heat's router refuses HEAD everywhere.
    let refuse_head = move || async move { ApiError::method_not_allowed(allow) };
    router
        .head(refuse_head)
        .fallback(move |method: Method| async move {
            if method == Method::OPTIONS {
                let mut response = StatusCode::NO_CONTENT.into_response();
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static(allow));
                response
            } else {
                ApiError::method_not_allowed(allow).into_response()
            }
        })
}

/// Every route under `/v1/{tenant_id}`.
pub fn tenant_routes() -> Router<ApiState> {
    Router::new()
        .route("/validate", methods(post(validate_template), "POST"))
        .route("/resource_types", methods(get(list_resource_types), "GET"))
        .route(
            "/resource_types/{type_name}",
            methods(get(resource_schema), "GET"),
        )
        .route(
            "/resource_types/{type_name}/template",
            methods(get(generate_template), "GET"),
        )
        .route(
            "/template_versions",
            methods(get(list_template_versions), "GET"),
        )
        .route(
            "/template_versions/{version}/functions",
            methods(get(list_template_functions), "GET"),
        )
        .route(
            "/stacks",
            methods(get(list_stacks).post(create_stack), "GET,POST"),
        )
        .route("/stacks/preview", methods(post(preview_stack), "POST"))
        .route("/stacks/detail", methods(get(list_stacks_detail), "GET"))
        .route(
            "/stacks/{stack_name}",
            methods(
                get(lookup)
                    .post(lookup)
                    .put(lookup)
                    .patch(lookup)
                    .delete(lookup),
                "GET,POST,PUT,PATCH,DELETE",
            ),
        )
        .route(
            "/stacks/{stack_name}/{stack_id}",
            methods(
                get(show_stack)
                    .post(lookup_subpath_post)
                    .put(update_stack)
                    .patch(update_stack_patch)
                    .delete(delete_stack),
                "GET,PUT,PATCH,DELETE",
            ),
        )
        .route(
            "/stacks/{stack_name}/{stack_id}/template",
            methods(get(get_template), "GET"),
        )
        .route(
            "/stacks/{stack_name}/{stack_id}/environment",
            methods(get(get_environment), "GET"),
        )
        .route(
            "/stacks/{stack_name}/{stack_id}/files",
            methods(get(get_files), "GET"),
        )
        .route(
            "/stacks/{stack_name}/{stack_id}/preview",
            methods(put(preview_update).patch(preview_update_patch), "PUT,PATCH"),
        )
        .route(
            "/stacks/{stack_name}/{stack_id}/abandon",
            methods(delete(abandon_stack), "DELETE"),
        )
        .route(
            "/stacks/{stack_name}/{stack_id}/export",
            methods(get(export_stack), "GET"),
        )
        .route(
            "/stacks/{stack_name}/{stack_id}/snapshots",
            methods(post(create_snapshot).get(list_snapshots), "POST,GET"),
        )
        .route(
            "/stacks/{stack_name}/{stack_id}/snapshots/{snapshot_id}",
            methods(get(show_snapshot).delete(delete_snapshot), "GET,DELETE"),
        )
        .route(
            "/stacks/{stack_name}/{stack_id}/snapshots/{snapshot_id}/restore",
            methods(post(restore_snapshot), "POST"),
        )
        .route(
            "/stacks/{stack_name}/{stack_id}/outputs",
            methods(get(list_outputs), "GET"),
        )
        .route(
            "/stacks/{stack_name}/{stack_id}/outputs/{output_key}",
            methods(get(show_output), "GET"),
        )
        .route(
            "/stacks/{stack_name}/{stack_id}/resources",
            methods(get(list_resources), "GET"),
        )
        .route(
            "/stacks/{stack_name}/{stack_id}/resources/{resource_name}",
            methods(get(show_resource).patch(mark_unhealthy), "GET,PATCH"),
        )
        .route(
            "/stacks/{stack_name}/{stack_id}/resources/{resource_name}/metadata",
            methods(get(resource_metadata), "GET"),
        )
        .route(
            "/stacks/{stack_name}/{stack_id}/resources/{resource_name}/signal",
            methods(post(signal_resource), "POST"),
        )
        .route(
            "/stacks/{stack_name}/{stack_id}/events",
            methods(get(list_stack_events), "GET"),
        )
        .route(
            "/stacks/{stack_name}/{stack_id}/resources/{resource_name}/events",
            methods(get(list_resource_events), "GET"),
        )
        .route(
            "/stacks/{stack_name}/{stack_id}/resources/{resource_name}/events/{event_id}",
            methods(get(show_event), "GET"),
        )
        .route(
            "/stacks/{stack_name}/{stack_id}/actions",
            methods(post(stack_action), "POST"),
        )
        .route("/build_info", methods(get(build_info), "GET"))
        .route(
            "/software_configs",
            methods(
                get(list_software_configs).post(create_software_config),
                "GET,POST",
            ),
        )
        .route(
            "/software_configs/{config_id}",
            methods(
                get(show_software_config).delete(delete_software_config),
                "GET,DELETE",
            ),
        )
        .route(
            "/software_deployments",
            methods(
                get(list_software_deployments).post(create_software_deployment),
                "GET,POST",
            ),
        )
        .route(
            "/software_deployments/metadata/{server_id}",
            methods(get(deployment_metadata), "GET"),
        )
        .route(
            "/software_deployments/{deployment_id}",
            methods(
                get(show_software_deployment)
                    .put(update_software_deployment)
                    .delete(delete_software_deployment),
                "GET,PUT,DELETE",
            ),
        )
        .route("/services", methods(get(list_services), "GET"))
}

// ---- path shapes -------------------------------------------------------------------------

#[derive(Deserialize)]
struct TenantPath {
    tenant_id: String,
}

#[derive(Deserialize)]
struct StackPath {
    tenant_id: String,
    stack_name: String,
    stack_id: String,
}

impl StackPath {
    fn stack(&self) -> StackRef {
        StackRef {
            stack_name: self.stack_name.clone(),
            stack_id: self.stack_id.clone(),
        }
    }
}

#[derive(Deserialize)]
struct LookupPath {
    tenant_id: String,
    stack_name: String,
}

#[derive(Deserialize)]
struct ResourcePath {
    #[serde(flatten)]
    stack: StackPath,
    resource_name: String,
}

#[derive(Deserialize)]
struct EventPath {
    #[serde(flatten)]
    resource: ResourcePath,
    event_id: String,
}

#[derive(Deserialize)]
struct SnapshotPath {
    #[serde(flatten)]
    stack: StackPath,
    snapshot_id: String,
}

#[derive(Deserialize)]
struct OutputPath {
    #[serde(flatten)]
    stack: StackPath,
    output_key: String,
}

// ---- helpers -----------------------------------------------------------------------------

fn stack_url(base: &BaseUrl, tenant: &str, name: &str, id: &str) -> String {
    format!(
        "{}/v1/{}/stacks/{}/{}",
        base.0,
        segment(tenant),
        segment(name),
        segment(id)
    )
}

fn link(href: String, rel: &str) -> Value {
    json!({"href": href, "rel": rel})
}

/// Makes engine-given relative `href`s absolute, so links point at the host the client used.
fn absolutize(value: &mut Value, base: &BaseUrl) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    Value::String(href) if key == "href" && href.starts_with('/') => {
                        *href = format!("{}{}", base.0, href);
                    }
                    other => absolutize(other, base),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| absolutize(v, base)),
        _ => {}
    }
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// `links` for a stack object that has none: its canonical URL.
fn with_stack_links(mut stack: Value, base: &BaseUrl, ctx: &RequestContext) -> Value {
    absolutize(&mut stack, base);
    if stack.get("links").is_none() {
        let tenant = text(&stack, "project")
            .unwrap_or(&ctx.project_id)
            .to_string();
        if let (Some(name), Some(id)) = (text(&stack, "stack_name"), text(&stack, "id")) {
            let href = stack_url(base, &tenant, name, id);
            if let Value::Object(map) = &mut stack {
                map.insert("links".into(), json!([link(href, "self")]));
            }
        }
    }
    stack
}

fn with_resource_links(
    mut resource: Value,
    base: &BaseUrl,
    tenant: &str,
    stack: &StackRef,
) -> Value {
    absolutize(&mut resource, base);
    if resource.get("links").is_none() {
        let stack_href = stack_url(base, tenant, &stack.stack_name, &stack.stack_id);
        if let Some(name) = text(&resource, "resource_name").map(segment) {
            let links = json!([
                link(format!("{stack_href}/resources/{name}"), "self"),
                link(stack_href, "stack")
            ]);
            if let Value::Object(map) = &mut resource {
                map.insert("links".into(), links);
            }
        }
    }
    resource
}

fn with_event_links(mut event: Value, base: &BaseUrl, tenant: &str, stack: &StackRef) -> Value {
    absolutize(&mut event, base);
    if event.get("links").is_none() {
        let stack_href = stack_url(base, tenant, &stack.stack_name, &stack.stack_id);
        if let (Some(res), Some(id)) = (
            text(&event, "resource_name").map(segment),
            text(&event, "id").map(segment),
        ) {
            let res_href = format!("{stack_href}/resources/{res}");
            let links = json!([
                link(format!("{res_href}/events/{id}"), "self"),
                link(res_href, "resource"),
                link(stack_href, "stack"),
            ]);
            if let Value::Object(map) = &mut event {
                map.insert("links".into(), links);
            }
        }
    }
    event
}

fn items(value: Value, key: &str) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        Value::Object(mut map) => match map.remove(key) {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// The `next` link of a page that came back full (Heat's `get_collection_links`).
fn next_link(base: &BaseUrl, path: &str, query: &Query, items: &[Value]) -> Option<Value> {
    let limit: usize = query.get("limit")?.parse().ok()?;
    if limit == 0 || limit != items.len() {
        return None;
    }
    let marker = text(items.last()?, "id")?;
    let mut pairs: Vec<(String, String)> = query
        .0
        .iter()
        .filter(|(k, _)| k != "marker")
        .cloned()
        .collect();
    pairs.push(("marker".into(), marker.to_string()));
    let qs: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", segment(k), segment(v)))
        .collect();
    Some(link(format!("{}{}?{}", base.0, path, qs.join("&")), "next"))
}

/// Heat's envelope `{key: value}`; a value the engine already wrapped is not wrapped twice.
fn wrap(key: &str, value: Value) -> Response {
    match value {
        Value::Object(map) if map.len() == 1 && map.contains_key(key) => ok(Value::Object(map)),
        value => ok(json!({ key: value })),
    }
}

/// The body fields Heat checks before calling the engine for create, update and preview.
fn check_instantiation(body: &Map<String, Value>, require_template: bool) -> Result<()> {
    let template = body.get("template");
    let has_template = match template {
        Some(Value::Object(_)) => true,
        // Heat's API parses a template given as text itself: YAML/JSON it cannot read is its
        // HTTPBadRequest "Template not in valid format".
        Some(Value::String(text)) => {
            match ember_template::parse_document(text, "", &ember_template::Limits::default()) {
                Err(e) if e.kind == ember_template::ErrorKind::Syntax => {
                    return Err(ApiError::bad_request(format!(
                        "Template not in valid format: Error parsing template [root stack] {}",
                        e.message
                    )))
                }
                _ => true,
            }
        }
        Some(Value::Null) | None => false,
        // Heat fails in its template parser with a TypeError: the generic 400.
        Some(_) => return Err(ApiError::bad_request(MALFORMED)),
    };
    let has_source =
        has_template || body.contains_key("template_url") || body.contains_key("adopt_stack_data");
    if require_template && !has_source {
        return Err(ApiError::bad_request("No template specified"));
    }
    if let Some(timeout) = body.get("timeout_mins") {
        let valid = match timeout {
            Value::Number(n) => n.as_i64().is_some_and(|n| n >= 0),
            Value::String(s) => s.trim().parse::<i64>().is_ok_and(|n| n >= 0),
            Value::Null => true,
            _ => false,
        };
        if !valid {
            return Err(ApiError::bad_request(
                "Only integer is acceptable by 'timeout_mins'.",
            ));
        }
    }
    for key in ["parameters", "files"] {
        if let Some(v) = body.get(key) {
            if !v.is_object() && !v.is_null() {
                return Err(ApiError::bad_request(MALFORMED));
            }
        }
    }
    Ok(())
}

async fn call(state: &ApiState, ctx: &RequestContext, call: EngineCall) -> Result<Value> {
    state.call(ctx, call).await
}

// ---- stacks ------------------------------------------------------------------------------

const STACK_LIST_PARAMS: &[(&str, ParamKind)] = &[
    ("limit", ParamKind::Int),
    ("marker", ParamKind::Single),
    ("sort_dir", ParamKind::Single),
    ("sort_keys", ParamKind::Multi),
    ("show_deleted", ParamKind::Bool),
    ("show_nested", ParamKind::Bool),
    ("show_hidden", ParamKind::Bool),
    ("tags", ParamKind::Tags),
    ("tags_any", ParamKind::Tags),
    ("not_tags", ParamKind::Tags),
    ("not_tags_any", ParamKind::Tags),
    ("with_count", ParamKind::Bool),
    ("global_tenant", ParamKind::Bool),
];

const STACK_FILTERS: &[(&str, ParamKind)] = &[
    ("id", ParamKind::Mixed),
    ("status", ParamKind::Mixed),
    ("name", ParamKind::Mixed),
    ("action", ParamKind::Mixed),
    ("tenant", ParamKind::Mixed),
    ("username", ParamKind::Mixed),
    ("owner_id", ParamKind::Mixed),
    ("stack_name", ParamKind::Mixed),
    ("stack_status", ParamKind::Mixed),
    ("stack_owner", ParamKind::Mixed),
    ("parent", ParamKind::Mixed),
    ("stack_user_project_id", ParamKind::Mixed),
];

/// The keys a stack has in a list (Heat's `stacks_view.basic_keys`).
const STACK_LIST_KEYS: &[&str] = &[
    "id",
    "links",
    "project",
    "stack_name",
    "description",
    "stack_status",
    "stack_status_reason",
    "creation_time",
    "deletion_time",
    "updated_time",
    "stack_owner",
    "parent",
    "stack_user_project_id",
    "tags",
];

async fn list_stacks_inner(
    state: ApiState,
    ctx: RequestContext,
    base: BaseUrl,
    path: TenantPath,
    query: Query,
    detail: bool,
) -> Result<Response> {
    let mut params = query.allowed(STACK_LIST_PARAMS)?;
    if let Some(Value::String(dir)) = params.get("sort_dir") {
        if dir != "asc" && dir != "desc" {
            return Err(ApiError::from_heat_type(
                "ValueError",
                "Unknown sort direction, must be 'desc' or 'asc'",
            ));
        }
    }
    if params.get("global_tenant") == Some(&Value::Bool(true)) {
        state.require_admin(&ctx)?;
    }
    let filters = query.allowed(STACK_FILTERS)?;
    if !filters.is_empty() {
        params.insert("filters".into(), Value::Object(filters));
    }
    let with_count = params.get("with_count") == Some(&Value::Bool(true));
    let result = call(&state, &ctx, EngineCall::ListStacks { params, detail }).await?;
    let count = result.get("count").cloned();
    let stacks: Vec<Value> = items(result, "stacks")
        .into_iter()
        .map(|s| {
            let s = with_stack_links(s, &base, &ctx);
            // The list keeps Heat's basic keys (detail keeps all); the owning project is
            // shown to admins only, as in Heat.
            match s {
                Value::Object(map) => Value::Object(
                    map.into_iter()
                        .filter(|(k, _)| {
                            (detail || STACK_LIST_KEYS.contains(&k.as_str()))
                                && (k != "project" || ctx.is_admin)
                        })
                        .collect(),
                ),
                other => other,
            }
        })
        .collect();
    let mut body = Map::new();
    let list_path = format!(
        "/v1/{}/stacks{}",
        segment(&path.tenant_id),
        if detail { "/detail" } else { "" }
    );
    if let Some(next) = next_link(&base, &list_path, &query, &stacks) {
        body.insert("links".into(), json!([next]));
    }
    body.insert("stacks".into(), Value::Array(stacks));
    if with_count {
        body.insert("count".into(), count.unwrap_or(Value::from(0)));
    }
    Ok(ok(Value::Object(body)))
}

async fn list_stacks(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    base: BaseUrl,
    Path(path): Path<TenantPath>,
    query: Query,
) -> Result<Response> {
    list_stacks_inner(state, ctx, base, path, query, false).await
}

async fn list_stacks_detail(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    base: BaseUrl,
    Path(path): Path<TenantPath>,
    query: Query,
) -> Result<Response> {
    list_stacks_inner(state, ctx, base, path, query, true).await
}

async fn create_stack(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    base: BaseUrl,
    body: HeatBody,
) -> Result<Response> {
    let mut body = body.object()?;
    if !body.contains_key("stack_name") {
        return Err(ApiError::bad_request("No stack name specified"));
    }
    take_adopt_template(&mut body)?;
    check_instantiation(&body, true)?;
    let identity = call(
        &state,
        &ctx,
        EngineCall::CreateStack {
            body: Value::Object(body),
        },
    )
    .await?;
    let (name, id, tenant) = identity_parts(&identity, &ctx)?;
    let href = stack_url(&base, &tenant, &name, &id);
    let mut response = (
        StatusCode::CREATED,
        axum::Json(json!({"stack": {"id": id, "links": [link(href.clone(), "self")]}})),
    )
        .into_response();
    if let Ok(location) = HeaderValue::from_str(&href) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Adopt data arrives as JSON text (heatclient) or an object; as in Heat's API, its `template`
/// becomes the stack's template.
fn take_adopt_template(body: &mut Map<String, Value>) -> Result<()> {
    let Some(adopt) = body.get("adopt_stack_data") else {
        return Ok(());
    };
    let invalid = |why: String| ApiError::bad_request(format!("Invalid adopt data: {why}"));
    let adopt = match adopt {
        Value::String(text) => {
            serde_json::from_str::<Value>(text).map_err(|e| invalid(e.to_string()))?
        }
        other => other.clone(),
    };
    let template = adopt
        .get("template")
        .cloned()
        .ok_or_else(|| invalid("'template'".into()))?;
    body.insert("template".into(), template);
    body.insert("adopt_stack_data".into(), adopt);
    Ok(())
}

/// Name, id and tenant of an engine stack identity (`{"stack_name","stack_id","tenant"}`).
fn identity_parts(identity: &Value, ctx: &RequestContext) -> Result<(String, String, String)> {
    let name = text(identity, "stack_name");
    let id = text(identity, "stack_id").or_else(|| text(identity, "id"));
    match (name, id) {
        (Some(name), Some(id)) => Ok((
            name.to_string(),
            id.to_string(),
            text(identity, "tenant")
                .unwrap_or(&ctx.project_id)
                .to_string(),
        )),
        _ => Err(ApiError::http(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Invalid Stack address",
        )),
    }
}

async fn preview_stack(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    base: BaseUrl,
    body: HeatBody,
) -> Result<Response> {
    let body = body.object()?;
    if !body.contains_key("stack_name") {
        return Err(ApiError::bad_request("No stack name specified"));
    }
    check_instantiation(&body, true)?;
    let stack = call(
        &state,
        &ctx,
        EngineCall::PreviewStack {
            body: Value::Object(body),
        },
    )
    .await?;
    Ok(wrap("stack", with_stack_links(stack, &base, &ctx)))
}

/// Redirects a name or id to the canonical `/stacks/{name}/{id}[/sub]` URL, keeping the query.
async fn redirect_to_stack(
    state: &ApiState,
    ctx: &RequestContext,
    base: &BaseUrl,
    name_or_id: &str,
    subpath: Option<&str>,
    raw_query: Option<&str>,
) -> Result<Response> {
    let identity = call(
        state,
        ctx,
        EngineCall::IdentifyStack {
            name_or_id: name_or_id.to_string(),
        },
    )
    .await?;
    let (name, id, tenant) = identity_parts(&identity, ctx)?;
    let mut location = stack_url(base, &tenant, &name, &id);
    if let Some(sub) = subpath {
        location.push('/');
        location.push_str(sub);
    }
    if let Some(q) = raw_query.filter(|q| !q.is_empty()) {
        location.push('?');
        location.push_str(q);
    }
    Ok(found(&location))
}

async fn lookup(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    base: BaseUrl,
    Path(path): Path<LookupPath>,
    uri: axum::http::Uri,
) -> Result<Response> {
    let _ = &path.tenant_id;
    redirect_to_stack(&state, &ctx, &base, &path.stack_name, None, uri.query()).await
}

/// Subpaths that `/stacks/{name}/{sub}` redirects for on GET (POST takes the first four).
const LOOKUP_GET_SUBPATHS: &[&str] = &[
    "resources",
    "events",
    "template",
    "actions",
    "environment",
    "files",
];
const LOOKUP_POST_SUBPATHS: &[&str] = &["resources", "events", "template", "actions"];

async fn lookup_subpath_post(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    base: BaseUrl,
    Path(path): Path<StackPath>,
    uri: axum::http::Uri,
) -> Result<Response> {
    if !LOOKUP_POST_SUBPATHS.contains(&path.stack_id.as_str()) {
        return Err(ApiError::method_not_allowed("GET,PUT,PATCH,DELETE"));
    }
    redirect_to_stack(
        &state,
        &ctx,
        &base,
        &path.stack_name,
        Some(&path.stack_id),
        uri.query(),
    )
    .await
}

async fn show_stack(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    base: BaseUrl,
    Path(path): Path<StackPath>,
    query: Query,
    uri: axum::http::Uri,
) -> Result<Response> {
    if LOOKUP_GET_SUBPATHS.contains(&path.stack_id.as_str()) {
        return redirect_to_stack(
            &state,
            &ctx,
            &base,
            &path.stack_name,
            Some(&path.stack_id),
            uri.query(),
        )
        .await;
    }
    let resolve_outputs = query.bool_or("resolve_outputs", true)?;
    let stack = call(
        &state,
        &ctx,
        EngineCall::ShowStack {
            stack: path.stack(),
            resolve_outputs,
        },
    )
    .await?;
    Ok(wrap("stack", with_stack_links(stack, &base, &ctx)))
}

async fn get_template(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    Path(path): Path<StackPath>,
) -> Result<Response> {
    Ok(ok(call(
        &state,
        &ctx,
        EngineCall::GetTemplate {
            stack: path.stack(),
        },
    )
    .await?))
}

async fn get_environment(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    Path(path): Path<StackPath>,
) -> Result<Response> {
    Ok(ok(call(
        &state,
        &ctx,
        EngineCall::GetEnvironment {
            stack: path.stack(),
        },
    )
    .await?))
}

async fn get_files(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    Path(path): Path<StackPath>,
) -> Result<Response> {
    Ok(ok(call(
        &state,
        &ctx,
        EngineCall::GetFiles {
            stack: path.stack(),
        },
    )
    .await?))
}

async fn update(
    state: ApiState,
    ctx: RequestContext,
    path: StackPath,
    body: HeatBody,
    patch: bool,
) -> Result<Response> {
    let body = body.object()?;
    check_instantiation(&body, !patch)?;
    call(
        &state,
        &ctx,
        EngineCall::UpdateStack {
            stack: path.stack(),
            body: Value::Object(body),
            patch,
        },
    )
    .await?;
    Ok(accepted())
}

async fn update_stack(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    Path(path): Path<StackPath>,
    body: HeatBody,
) -> Result<Response> {
    update(state, ctx, path, body, false).await
}

async fn update_stack_patch(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    Path(path): Path<StackPath>,
    body: HeatBody,
) -> Result<Response> {
    update(state, ctx, path, body, true).await
}

async fn preview(
    state: ApiState,
    ctx: RequestContext,
    path: StackPath,
    query: Query,
    body: HeatBody,
    patch: bool,
) -> Result<Response> {
    let body = body.object()?;
    check_instantiation(&body, !patch)?;
    let show_nested = query.bool_or("show_nested", false)?;
    let changes = call(
        &state,
        &ctx,
        EngineCall::PreviewUpdate {
            stack: path.stack(),
            body: Value::Object(body),
            patch,
            show_nested,
        },
    )
    .await?;
    Ok(wrap("resource_changes", changes))
}

async fn preview_update(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    Path(path): Path<StackPath>,
    query: Query,
    body: HeatBody,
) -> Result<Response> {
    preview(state, ctx, path, query, body, false).await
}

async fn preview_update_patch(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    Path(path): Path<StackPath>,
    query: Query,
    body: HeatBody,
) -> Result<Response> {
    preview(state, ctx, path, query, body, true).await
}

async fn delete_stack(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    Path(path): Path<StackPath>,
) -> Result<Response> {
    call(
        &state,
        &ctx,
        EngineCall::DeleteStack {
            stack: path.stack(),
        },
    )
    .await?;
    Ok(no_content())
}

/// Heat refuses abandon and export unless the operator enabled them (`enable_stack_abandon`).
fn require_stack_abandon(state: &ApiState) -> Result<()> {
    if state.config.enable_stack_abandon {
        Ok(())
    } else {
        Err(ApiError::from_heat_type(
            "NotSupported",
            "Stack Abandon is not supported.",
        ))
    }
}

async fn abandon_stack(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    Path(path): Path<StackPath>,
) -> Result<Response> {
    require_stack_abandon(&state)?;
    let stack = path.stack();
    Ok(ok(
        call(&state, &ctx, EngineCall::AbandonStack { stack }).await?
    ))
}

async fn export_stack(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    Path(path): Path<StackPath>,
) -> Result<Response> {
    require_stack_abandon(&state)?;
    let stack = path.stack();
    Ok(ok(
        call(&state, &ctx, EngineCall::ExportStack { stack }).await?
    ))
}

async fn stack_action(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    Path(path): Path<StackPath>,
    body: HeatBody,
) -> Result<Response> {
    let body = body.object_or_empty()?;
    let mut keys = body.keys();
    let action = match (keys.next(), keys.next()) {
        (None, _) => return Err(ApiError::bad_request("No action specified")),
        (Some(_), Some(_)) => return Err(ApiError::bad_request("Multiple actions specified")),
        (Some(key), None) => StackAction::from_key(key)
            .ok_or_else(|| ApiError::bad_request(format!("Invalid action {key} specified")))?,
    };
    call(
        &state,
        &ctx,
        EngineCall::Action {
            stack: path.stack(),
            action,
        },
    )
    .await?;
    Ok(ok(Value::Null))
}

async fn list_outputs(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    Path(path): Path<StackPath>,
) -> Result<Response> {
    let outputs = call(
        &state,
        &ctx,
        EngineCall::ListOutputs {
            stack: path.stack(),
        },
    )
    .await?;
    Ok(wrap("outputs", Value::Array(items(outputs, "outputs"))))
}

async fn show_output(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    Path(path): Path<OutputPath>,
) -> Result<Response> {
    let output = call(
        &state,
        &ctx,
        EngineCall::ShowOutput {
            stack: path.stack.stack(),
            output_key: path.output_key,
        },
    )
    .await?;
    Ok(wrap("output", output))
}

// ---- snapshots ---------------------------------------------------------------------------

async fn create_snapshot(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    Path(path): Path<StackPath>,
    body: HeatBody,
) -> Result<Response> {
    let body = body.object()?;
    let name = body.get("name").and_then(Value::as_str).map(str::to_string);
    Ok(ok(call(
        &state,
        &ctx,
        EngineCall::CreateSnapshot {
            stack: path.stack(),
            name,
        },
    )
    .await?))
}

async fn list_snapshots(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    Path(path): Path<StackPath>,
) -> Result<Response> {
    let snapshots = call(
        &state,
        &ctx,
        EngineCall::ListSnapshots {
            stack: path.stack(),
        },
    )
    .await?;
    Ok(wrap(
        "snapshots",
        Value::Array(items(snapshots, "snapshots")),
    ))
}

async fn show_snapshot(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    Path(path): Path<SnapshotPath>,
) -> Result<Response> {
    let snapshot = call(
        &state,
        &ctx,
        EngineCall::ShowSnapshot {
            stack: path.stack.stack(),
            snapshot_id: path.snapshot_id,
        },
    )
    .await?;
    Ok(wrap("snapshot", snapshot))
}

async fn delete_snapshot(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    Path(path): Path<SnapshotPath>,
) -> Result<Response> {
    call(
        &state,
        &ctx,
        EngineCall::DeleteSnapshot {
            stack: path.stack.stack(),
            snapshot_id: path.snapshot_id,
        },
    )
    .await?;
    Ok(no_content())
}

async fn restore_snapshot(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    Path(path): Path<SnapshotPath>,
) -> Result<Response> {
    call(
        &state,
        &ctx,
        EngineCall::RestoreSnapshot {
            stack: path.stack.stack(),
            snapshot_id: path.snapshot_id,
        },
    )
    .await?;
    Ok(accepted())
}

// ---- resources ---------------------------------------------------------------------------

const RESOURCE_FILTERS: &[(&str, ParamKind)] = &[
    ("type", ParamKind::Mixed),
    ("status", ParamKind::Mixed),
    ("name", ParamKind::Mixed),
    ("action", ParamKind::Mixed),
    ("id", ParamKind::Mixed),
    ("physical_resource_id", ParamKind::Mixed),
];

async fn list_resources(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    base: BaseUrl,
    Path(path): Path<StackPath>,
    query: Query,
) -> Result<Response> {
    let mut invalid: Vec<&str> = query
        .keys()
        .filter(|k| {
            !["nested_depth", "with_detail"].contains(k)
                && !RESOURCE_FILTERS.iter().any(|(f, _)| f == k)
        })
        .collect();
    if !invalid.is_empty() {
        invalid.dedup();
        return Err(ApiError::bad_request(format!(
            "Invalid filter parameters {invalid:?}"
        )));
    }
    let mut params = query.allowed(&[
        ("nested_depth", ParamKind::Int),
        ("with_detail", ParamKind::Bool),
    ])?;
    let filters = query.allowed(RESOURCE_FILTERS)?;
    params.insert("filters".into(), Value::Object(filters));
    let stack = path.stack();
    let resources = call(
        &state,
        &ctx,
        EngineCall::ListResources {
            stack: stack.clone(),
            params,
        },
    )
    .await?;
    let resources: Vec<Value> = items(resources, "resources")
        .into_iter()
        .map(|r| with_resource_links(r, &base, &path.tenant_id, &stack))
        .collect();
    Ok(wrap("resources", Value::Array(resources)))
}

async fn show_resource(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    base: BaseUrl,
    Path(path): Path<ResourcePath>,
    query: Query,
) -> Result<Response> {
    let stack = path.stack.stack();
    let resource = call(
        &state,
        &ctx,
        EngineCall::ShowResource {
            stack: stack.clone(),
            resource: path.resource_name,
            with_attr: query.all("with_attr"),
        },
    )
    .await?;
    Ok(wrap(
        "resource",
        with_resource_links(resource, &base, &path.stack.tenant_id, &stack),
    ))
}

async fn resource_metadata(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    Path(path): Path<ResourcePath>,
) -> Result<Response> {
    let metadata = call(
        &state,
        &ctx,
        EngineCall::ResourceMetadata {
            stack: path.stack.stack(),
            resource: path.resource_name,
        },
    )
    .await?;
    Ok(wrap("metadata", metadata))
}

async fn signal_resource(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    Path(path): Path<ResourcePath>,
    body: HeatBody,
) -> Result<Response> {
    call(
        &state,
        &ctx,
        EngineCall::SignalResource {
            stack: path.stack.stack(),
            resource: path.resource_name,
            details: body.0,
        },
    )
    .await?;
    Ok(ok(Value::Null))
}

async fn mark_unhealthy(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    Path(path): Path<ResourcePath>,
    body: HeatBody,
) -> Result<Response> {
    let body = body.object()?;
    let mut invalid: Vec<&String> = body
        .keys()
        .filter(|k| *k != "mark_unhealthy" && *k != "resource_status_reason")
        .collect();
    if !invalid.is_empty() {
        invalid.sort();
        return Err(ApiError::bad_request(format!(
            "Invalid keys in resource mark unhealthy {invalid:?}"
        )));
    }
    let mark = match body.get("mark_unhealthy") {
        None => {
            return Err(ApiError::bad_request(
                "Missing mandatory (mark_unhealthy) key from mark unhealthy request",
            ))
        }
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => crate::http::parse_bool("mark_unhealthy", s)?,
        Some(other) => crate::http::parse_bool("mark_unhealthy", &other.to_string())?,
    };
    let reason = match body.get("resource_status_reason") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    call(
        &state,
        &ctx,
        EngineCall::MarkUnhealthy {
            stack: path.stack.stack(),
            resource: path.resource_name,
            mark_unhealthy: mark,
            reason,
        },
    )
    .await?;
    Ok(ok(Value::Null))
}

// ---- events ------------------------------------------------------------------------------

const EVENT_PARAMS: &[(&str, ParamKind)] = &[
    ("limit", ParamKind::Int),
    ("marker", ParamKind::Single),
    ("sort_dir", ParamKind::Single),
    ("sort_keys", ParamKind::Multi),
    ("nested_depth", ParamKind::Int),
];

const EVENT_FILTERS: &[(&str, ParamKind)] = &[
    ("resource_status", ParamKind::Mixed),
    ("resource_action", ParamKind::Mixed),
    ("resource_name", ParamKind::Mixed),
    ("resource_type", ParamKind::Mixed),
];

async fn list_events(
    state: ApiState,
    ctx: RequestContext,
    base: BaseUrl,
    path: StackPath,
    resource: Option<String>,
    query: Query,
) -> Result<Response> {
    let mut params = query.allowed(EVENT_PARAMS)?;
    let mut filters = query.allowed(EVENT_FILTERS)?;
    if let Some(name) = &resource {
        filters.insert("resource_name".into(), Value::String(name.clone()));
    }
    if !filters.is_empty() {
        params.insert("filters".into(), Value::Object(filters));
    }
    let stack = path.stack();
    let events = call(
        &state,
        &ctx,
        EngineCall::ListEvents {
            stack: stack.clone(),
            resource: resource.clone(),
            params,
        },
    )
    .await?;
    let events: Vec<Value> = items(events, "events")
        .into_iter()
        .map(|e| with_event_links(e, &base, &path.tenant_id, &stack))
        .collect();
    if let (Some(name), true) = (&resource, events.is_empty()) {
        return Err(ApiError::not_found(format!(
            "No events found for resource {name}"
        )));
    }
    Ok(wrap("events", Value::Array(events)))
}

async fn list_stack_events(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    base: BaseUrl,
    Path(path): Path<StackPath>,
    query: Query,
) -> Result<Response> {
    list_events(state, ctx, base, path, None, query).await
}

async fn list_resource_events(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    base: BaseUrl,
    Path(path): Path<ResourcePath>,
    query: Query,
) -> Result<Response> {
    list_events(
        state,
        ctx,
        base,
        path.stack,
        Some(path.resource_name),
        query,
    )
    .await
}

async fn show_event(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    base: BaseUrl,
    Path(path): Path<EventPath>,
) -> Result<Response> {
    let stack = path.resource.stack.stack();
    let event = call(
        &state,
        &ctx,
        EngineCall::ShowEvent {
            stack: stack.clone(),
            resource: path.resource.resource_name,
            event_id: path.event_id,
        },
    )
    .await?;
    Ok(wrap(
        "event",
        with_event_links(event, &base, &path.resource.stack.tenant_id, &stack),
    ))
}

// ---- templates, types, validation -------------------------------------------------------

async fn validate_template(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    query: Query,
    body: HeatBody,
) -> Result<Response> {
    let body = body.object()?;
    check_instantiation(&body, true)?;
    let show_nested = query.bool_or("show_nested", false)?;
    let ignore_errors = query
        .get("ignore_errors")
        .filter(|v| !v.is_empty())
        .map(|v| v.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let result = call(
        &state,
        &ctx,
        EngineCall::ValidateTemplate {
            body: Value::Object(body),
            show_nested,
            ignore_errors,
        },
    )
    .await
    .map_err(|e| {
        // Heat's engine answers a template that fails validation with `{"Error": message}`,
        // which its API raises as HTTPBadRequest; other errors keep their class.
        if e.error_type == "StackValidationFailed" {
            ApiError::bad_request(e.message)
        } else {
            e
        }
    })?;
    Ok(ok(result))
}

async fn list_resource_types(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    query: Query,
) -> Result<Response> {
    let params = query.allowed(&[
        ("support_status", ParamKind::Single),
        ("name", ParamKind::Single),
        ("version", ParamKind::Single),
        ("with_description", ParamKind::Bool),
    ])?;
    let types = call(&state, &ctx, EngineCall::ListResourceTypes { params }).await?;
    Ok(wrap(
        "resource_types",
        Value::Array(items(types, "resource_types")),
    ))
}

#[derive(Deserialize)]
struct TypePath {
    type_name: String,
}

async fn resource_schema(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    Path(path): Path<TypePath>,
    query: Query,
) -> Result<Response> {
    let with_description = query.bool_or("with_description", false)?;
    Ok(ok(call(
        &state,
        &ctx,
        EngineCall::ResourceSchema {
            type_name: path.type_name,
            with_description,
        },
    )
    .await?))
}

async fn generate_template(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    Path(path): Path<TypePath>,
    query: Query,
) -> Result<Response> {
    let template_type = match query.get("template_type") {
        None => "cfn".to_string(),
        Some(t) if ["cfn", "hot"].contains(&t.to_ascii_lowercase().as_str()) => t.to_ascii_lowercase(),
        Some(t) => {
            return Err(ApiError::bad_request(format!(
                "Template type is not supported: Invalid template type \"{t}\", valid types are: cfn, hot."
            )))
        }
    };
    Ok(ok(call(
        &state,
        &ctx,
        EngineCall::GenerateTemplate {
            type_name: path.type_name,
            template_type,
        },
    )
    .await?))
}

async fn list_template_versions(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
) -> Result<Response> {
    let versions = call(&state, &ctx, EngineCall::ListTemplateVersions).await?;
    Ok(wrap(
        "template_versions",
        Value::Array(items(versions, "template_versions")),
    ))
}

#[derive(Deserialize)]
struct VersionPath {
    version: String,
}

async fn list_template_functions(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    Path(path): Path<VersionPath>,
    query: Query,
) -> Result<Response> {
    let with_condition = query.bool_or("with_condition_func", false)?;
    let functions = call(
        &state,
        &ctx,
        EngineCall::ListTemplateFunctions {
            version: path.version,
            with_condition,
        },
    )
    .await?;
    Ok(wrap(
        "template_functions",
        Value::Array(items(functions, "template_functions")),
    ))
}

async fn build_info() -> Response {
    let revision = env!("CARGO_PKG_VERSION");
    ok(json!({"api": {"revision": revision}, "engine": {"revision": revision}}))
}

async fn list_services(State(state): State<ApiState>, Extension(ctx): Ctx) -> Result<Response> {
    state.require_admin(&ctx)?;
    let services = call(&state, &ctx, EngineCall::ListServices).await?;
    Ok(wrap("services", Value::Array(items(services, "services"))))
}

// ---- software configs and deployments ---------------------------------------------------

/// One engine call whose answer goes out as `{key: answer}`.
async fn wrapped(
    state: &ApiState,
    ctx: &RequestContext,
    key: &str,
    engine_call: EngineCall,
) -> Result<Response> {
    Ok(wrap(key, call(state, ctx, engine_call).await?))
}

/// One engine call answered with an empty 204.
async fn done(state: &ApiState, ctx: &RequestContext, engine_call: EngineCall) -> Result<Response> {
    call(state, ctx, engine_call).await?;
    Ok(no_content())
}

async fn list_software_configs(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    query: Query,
) -> Result<Response> {
    let params = query.allowed(&[("limit", ParamKind::Int), ("marker", ParamKind::Single)])?;
    let configs = call(&state, &ctx, EngineCall::ListSoftwareConfigs { params }).await?;
    Ok(wrap(
        "software_configs",
        Value::Array(items(configs, "software_configs")),
    ))
}

async fn create_software_config(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    body: HeatBody,
) -> Result<Response> {
    let body = Value::Object(body.object()?);
    let engine_call = EngineCall::CreateSoftwareConfig { body };
    wrapped(&state, &ctx, "software_config", engine_call).await
}

#[derive(Deserialize)]
struct ConfigPath {
    config_id: String,
}

async fn show_software_config(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    Path(ConfigPath { config_id }): Path<ConfigPath>,
) -> Result<Response> {
    let engine_call = EngineCall::ShowSoftwareConfig { config_id };
    wrapped(&state, &ctx, "software_config", engine_call).await
}

async fn delete_software_config(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    Path(ConfigPath { config_id }): Path<ConfigPath>,
) -> Result<Response> {
    done(&state, &ctx, EngineCall::DeleteSoftwareConfig { config_id }).await
}

async fn list_software_deployments(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    query: Query,
) -> Result<Response> {
    let params = query.allowed(&[("server_id", ParamKind::Single)])?;
    let deployments = call(&state, &ctx, EngineCall::ListSoftwareDeployments { params }).await?;
    Ok(wrap(
        "software_deployments",
        Value::Array(items(deployments, "software_deployments")),
    ))
}

async fn create_software_deployment(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    body: HeatBody,
) -> Result<Response> {
    let body = Value::Object(body.object()?);
    let engine_call = EngineCall::CreateSoftwareDeployment { body };
    wrapped(&state, &ctx, "software_deployment", engine_call).await
}

#[derive(Deserialize)]
struct DeploymentPath {
    deployment_id: String,
}

async fn show_software_deployment(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    Path(DeploymentPath { deployment_id }): Path<DeploymentPath>,
) -> Result<Response> {
    let engine_call = EngineCall::ShowSoftwareDeployment { deployment_id };
    wrapped(&state, &ctx, "software_deployment", engine_call).await
}

async fn update_software_deployment(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    Path(DeploymentPath { deployment_id }): Path<DeploymentPath>,
    body: HeatBody,
) -> Result<Response> {
    let body = Value::Object(body.object()?);
    let engine_call = EngineCall::UpdateSoftwareDeployment {
        deployment_id,
        body,
    };
    wrapped(&state, &ctx, "software_deployment", engine_call).await
}

async fn delete_software_deployment(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    Path(DeploymentPath { deployment_id }): Path<DeploymentPath>,
) -> Result<Response> {
    done(
        &state,
        &ctx,
        EngineCall::DeleteSoftwareDeployment { deployment_id },
    )
    .await
}

#[derive(Deserialize)]
struct ServerPath {
    server_id: String,
}

async fn deployment_metadata(
    State(state): State<ApiState>,
    Extension(ctx): Ctx,
    Path(ServerPath { server_id }): Path<ServerPath>,
) -> Result<Response> {
    wrapped(
        &state,
        &ctx,
        "metadata",
        EngineCall::DeploymentMetadata { server_id },
    )
    .await
}
