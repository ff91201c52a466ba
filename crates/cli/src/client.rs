//! One client of Heat's orchestration API v1 for both modes. Every command speaks REST through a
//! [`Transport`]: HTTP to a server in client mode, or ember-api's router in this process. The
//! JSON every command formats is therefore the API's own in both modes.

use async_trait::async_trait;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use serde_json::{json, Value};

use crate::error::CliError;

/// The HTTP methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// A request relative to the tenant prefix (`/v1/{tenant_id}`).
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: Method,
    /// Path below the tenant prefix, starting with `/`, segments already percent-encoded.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: u16,
    /// The `Location` header, for Heat's name → id redirects.
    pub location: Option<String>,
    /// The JSON body (`Null` for empty bodies).
    pub body: Value,
}

/// Where requests go. Implementations must not follow redirects: the client does, the same way
/// for both transports.
#[async_trait]
pub trait Transport: Send + Sync {
    async fn send(&self, request: ApiRequest) -> Result<ApiResponse, CliError>;
}

const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'?')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// One path segment, percent-encoded.
pub fn seg(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

/// A stack's canonical address, `{name}/{id}`, as the API's redirects give it.
#[derive(Debug, Clone)]
pub struct StackRef {
    pub name: String,
    pub id: String,
}

impl StackRef {
    fn path(&self) -> String {
        format!("/stacks/{}/{}", seg(&self.name), seg(&self.id))
    }
}

pub struct Heat {
    transport: Box<dyn Transport>,
}

impl Heat {
    pub fn new(transport: Box<dyn Transport>) -> Self {
        Self { transport }
    }

    /// Sends a request, follows one name → id redirect for GETs, and turns Heat's error bodies
    /// into [`CliError::Api`].
    pub async fn call(&self, request: ApiRequest) -> Result<Value, CliError> {
        let mut response = self.transport.send(request.clone()).await?;
        if matches!(response.status, 301 | 302 | 303 | 307) {
            if let Some(path) = response.location.as_deref().and_then(path_below_tenant) {
                let mut next = request;
                next.path = path;
                response = self.transport.send(next).await?;
            }
        }
        if response.status >= 400 {
            return Err(api_error(response.status, &response.body));
        }
        Ok(response.body)
    }

    async fn get(&self, path: String, query: Vec<(String, String)>) -> Result<Value, CliError> {
        self.call(ApiRequest {
            method: Method::Get,
            path,
            query,
            body: None,
        })
        .await
    }

    async fn send_body(
        &self,
        method: Method,
        path: String,
        body: Value,
    ) -> Result<Value, CliError> {
        self.call(ApiRequest {
            method,
            path,
            query: Vec::new(),
            body: Some(body),
        })
        .await
    }

    // --- stacks -------------------------------------------------------------------------------

    /// `GET /stacks/{name_or_id}` (following the redirect): the stack object.
    pub async fn stack_get(
        &self,
        name_or_id: &str,
        resolve_outputs: bool,
    ) -> Result<Value, CliError> {
        let query = if resolve_outputs {
            Vec::new()
        } else {
            vec![("resolve_outputs".into(), "False".into())]
        };
        let body = self
            .get(format!("/stacks/{}", seg(name_or_id)), query)
            .await?;
        Ok(body.get("stack").cloned().unwrap_or(body))
    }

    /// `GET /stacks/{name}/{id}`: a stack already identified.
    pub async fn stack_show(
        &self,
        stack: &StackRef,
        resolve_outputs: bool,
    ) -> Result<Value, CliError> {
        let query = if resolve_outputs {
            Vec::new()
        } else {
            vec![("resolve_outputs".into(), "False".into())]
        };
        let body = self.get(stack.path(), query).await?;
        Ok(body.get("stack").cloned().unwrap_or(body))
    }

    /// The canonical `{name}/{id}` of a stack given by name or id.
    pub async fn stack_ref(&self, name_or_id: &str) -> Result<StackRef, CliError> {
        let stack = self.stack_get(name_or_id, false).await?;
        Ok(StackRef {
            name: text(&stack, "stack_name"),
            id: text(&stack, "id"),
        })
    }

    pub async fn stack_list(&self, query: Vec<(String, String)>) -> Result<Vec<Value>, CliError> {
        let body = self.get("/stacks".into(), query).await?;
        Ok(list_of(&body, "stacks"))
    }

    pub async fn stack_create(&self, body: Value) -> Result<Value, CliError> {
        let reply = self.send_body(Method::Post, "/stacks".into(), body).await?;
        Ok(reply.get("stack").cloned().unwrap_or(reply))
    }

    pub async fn stack_preview(&self, body: Value) -> Result<Value, CliError> {
        let reply = self
            .send_body(Method::Post, "/stacks/preview".into(), body)
            .await?;
        Ok(reply.get("stack").cloned().unwrap_or(reply))
    }

    /// `PUT` (full) or `PATCH` (`--existing`) update.
    pub async fn stack_update(
        &self,
        stack: &StackRef,
        existing: bool,
        body: Value,
    ) -> Result<(), CliError> {
        let method = if existing { Method::Patch } else { Method::Put };
        self.send_body(method, stack.path(), body).await?;
        Ok(())
    }

    pub async fn stack_preview_update(
        &self,
        stack: &StackRef,
        existing: bool,
        show_nested: bool,
        body: Value,
    ) -> Result<Value, CliError> {
        let method = if existing { Method::Patch } else { Method::Put };
        let query = if show_nested {
            vec![("show_nested".into(), "True".into())]
        } else {
            Vec::new()
        };
        self.call(ApiRequest {
            method,
            path: format!("{}/preview", stack.path()),
            query,
            body: Some(body),
        })
        .await
    }

    pub async fn stack_delete(&self, stack: &StackRef) -> Result<(), CliError> {
        self.call(ApiRequest {
            method: Method::Delete,
            path: stack.path(),
            query: Vec::new(),
            body: None,
        })
        .await?;
        Ok(())
    }

    pub async fn stack_abandon(&self, stack: &StackRef) -> Result<Value, CliError> {
        self.call(ApiRequest {
            method: Method::Delete,
            path: format!("{}/abandon", stack.path()),
            query: Vec::new(),
            body: None,
        })
        .await
    }

    /// `GET {stack}/{part}` for `template`, `environment`, `files`, `export`.
    pub async fn stack_part(&self, stack: &StackRef, part: &str) -> Result<Value, CliError> {
        self.get(format!("{}/{part}", stack.path()), Vec::new())
            .await
    }

    /// `POST {stack}/actions` with `{action: null}`.
    pub async fn stack_action(&self, stack: &StackRef, action: &str) -> Result<(), CliError> {
        self.send_body(
            Method::Post,
            format!("{}/actions", stack.path()),
            json!({ action: null }),
        )
        .await?;
        Ok(())
    }

    pub async fn output_list(&self, stack: &StackRef) -> Result<Vec<Value>, CliError> {
        let body = self.stack_part(stack, "outputs").await?;
        Ok(list_of(&body, "outputs"))
    }

    pub async fn output_show(&self, stack: &StackRef, key: &str) -> Result<Value, CliError> {
        let body = self
            .get(format!("{}/outputs/{}", stack.path(), seg(key)), Vec::new())
            .await?;
        Ok(body.get("output").cloned().unwrap_or(body))
    }

    // --- resources ----------------------------------------------------------------------------

    pub async fn resource_list(
        &self,
        stack: &StackRef,
        query: Vec<(String, String)>,
    ) -> Result<Vec<Value>, CliError> {
        let body = self
            .get(format!("{}/resources", stack.path()), query)
            .await?;
        Ok(list_of(&body, "resources"))
    }

    pub async fn resource_show(
        &self,
        stack: &StackRef,
        resource: &str,
        with_attr: &[String],
    ) -> Result<Value, CliError> {
        let query = with_attr
            .iter()
            .map(|a| ("with_attr".to_owned(), a.clone()))
            .collect();
        let body = self
            .get(
                format!("{}/resources/{}", stack.path(), seg(resource)),
                query,
            )
            .await?;
        Ok(body.get("resource").cloned().unwrap_or(body))
    }

    pub async fn resource_metadata(
        &self,
        stack: &StackRef,
        resource: &str,
    ) -> Result<Value, CliError> {
        let body = self
            .get(
                format!("{}/resources/{}/metadata", stack.path(), seg(resource)),
                Vec::new(),
            )
            .await?;
        Ok(body.get("metadata").cloned().unwrap_or(body))
    }

    pub async fn resource_signal(
        &self,
        stack: &StackRef,
        resource: &str,
        data: Option<Value>,
    ) -> Result<(), CliError> {
        self.call(ApiRequest {
            method: Method::Post,
            path: format!("{}/resources/{}/signal", stack.path(), seg(resource)),
            query: Vec::new(),
            body: data,
        })
        .await?;
        Ok(())
    }

    pub async fn resource_mark_unhealthy(
        &self,
        stack: &StackRef,
        resource: &str,
        unhealthy: bool,
        reason: &str,
    ) -> Result<(), CliError> {
        self.send_body(
            Method::Patch,
            format!("{}/resources/{}", stack.path(), seg(resource)),
            json!({"mark_unhealthy": unhealthy, "resource_status_reason": reason}),
        )
        .await?;
        Ok(())
    }

    // --- events -------------------------------------------------------------------------------

    pub async fn event_list(
        &self,
        stack: &StackRef,
        resource: Option<&str>,
        query: Vec<(String, String)>,
    ) -> Result<Vec<Value>, CliError> {
        let path = match resource {
            Some(r) => format!("{}/resources/{}/events", stack.path(), seg(r)),
            None => format!("{}/events", stack.path()),
        };
        let body = self.get(path, query).await?;
        Ok(list_of(&body, "events"))
    }

    pub async fn event_show(
        &self,
        stack: &StackRef,
        resource: &str,
        event: &str,
    ) -> Result<Value, CliError> {
        let body = self
            .get(
                format!(
                    "{}/resources/{}/events/{}",
                    stack.path(),
                    seg(resource),
                    seg(event)
                ),
                Vec::new(),
            )
            .await?;
        Ok(body.get("event").cloned().unwrap_or(body))
    }

    // --- snapshots ----------------------------------------------------------------------------

    pub async fn snapshot_create(
        &self,
        stack: &StackRef,
        name: Option<&str>,
    ) -> Result<Value, CliError> {
        let body = match name {
            Some(n) => json!({ "name": n }),
            None => json!({}),
        };
        self.send_body(Method::Post, format!("{}/snapshots", stack.path()), body)
            .await
    }

    pub async fn snapshot_list(&self, stack: &StackRef) -> Result<Vec<Value>, CliError> {
        let body = self
            .get(format!("{}/snapshots", stack.path()), Vec::new())
            .await?;
        Ok(list_of(&body, "snapshots"))
    }

    pub async fn snapshot_show(&self, stack: &StackRef, snapshot: &str) -> Result<Value, CliError> {
        let body = self
            .get(
                format!("{}/snapshots/{}", stack.path(), seg(snapshot)),
                Vec::new(),
            )
            .await?;
        Ok(body.get("snapshot").cloned().unwrap_or(body))
    }

    pub async fn snapshot_restore(&self, stack: &StackRef, snapshot: &str) -> Result<(), CliError> {
        self.send_body(
            Method::Post,
            format!("{}/snapshots/{}/restore", stack.path(), seg(snapshot)),
            json!({}),
        )
        .await?;
        Ok(())
    }

    pub async fn snapshot_delete(&self, stack: &StackRef, snapshot: &str) -> Result<(), CliError> {
        self.call(ApiRequest {
            method: Method::Delete,
            path: format!("{}/snapshots/{}", stack.path(), seg(snapshot)),
            query: Vec::new(),
            body: None,
        })
        .await?;
        Ok(())
    }

    // --- templates, types, service ------------------------------------------------------------

    pub async fn validate(
        &self,
        body: Value,
        show_nested: bool,
        ignore_errors: Option<&str>,
    ) -> Result<Value, CliError> {
        let mut query = Vec::new();
        if show_nested {
            query.push(("show_nested".into(), "True".into()));
        }
        if let Some(errors) = ignore_errors {
            query.push(("ignore_errors".into(), errors.into()));
        }
        self.call(ApiRequest {
            method: Method::Post,
            path: "/validate".into(),
            query,
            body: Some(body),
        })
        .await
    }

    pub async fn template_versions(&self) -> Result<Vec<Value>, CliError> {
        let body = self.get("/template_versions".into(), Vec::new()).await?;
        Ok(list_of(&body, "template_versions"))
    }

    pub async fn template_functions(
        &self,
        version: &str,
        with_conditions: bool,
    ) -> Result<Vec<Value>, CliError> {
        let query = if with_conditions {
            vec![("with_condition_func".into(), "True".into())]
        } else {
            Vec::new()
        };
        let body = self
            .get(
                format!("/template_versions/{}/functions", seg(version)),
                query,
            )
            .await?;
        Ok(list_of(&body, "template_functions"))
    }

    pub async fn resource_types(
        &self,
        query: Vec<(String, String)>,
    ) -> Result<Vec<Value>, CliError> {
        let body = self.get("/resource_types".into(), query).await?;
        Ok(list_of(&body, "resource_types"))
    }

    pub async fn resource_type_show(
        &self,
        name: &str,
        with_description: bool,
    ) -> Result<Value, CliError> {
        let query = if with_description {
            vec![("with_description".into(), "True".into())]
        } else {
            Vec::new()
        };
        self.get(format!("/resource_types/{}", seg(name)), query)
            .await
    }

    pub async fn resource_type_template(
        &self,
        name: &str,
        template_type: &str,
    ) -> Result<Value, CliError> {
        self.get(
            format!("/resource_types/{}/template", seg(name)),
            vec![("template_type".into(), template_type.into())],
        )
        .await
    }

    pub async fn build_info(&self) -> Result<Value, CliError> {
        self.get("/build_info".into(), Vec::new()).await
    }

    // --- software configs ---------------------------------------------------------------------

    pub async fn software_config_list(
        &self,
        query: Vec<(String, String)>,
    ) -> Result<Vec<Value>, CliError> {
        let body = self.get("/software_configs".into(), query).await?;
        Ok(list_of(&body, "software_configs"))
    }

    pub async fn software_config_create(&self, body: Value) -> Result<Value, CliError> {
        let reply = self
            .send_body(Method::Post, "/software_configs".into(), body)
            .await?;
        Ok(reply.get("software_config").cloned().unwrap_or(reply))
    }

    pub async fn software_config_show(&self, id: &str) -> Result<Value, CliError> {
        let body = self
            .get(format!("/software_configs/{}", seg(id)), Vec::new())
            .await?;
        Ok(body.get("software_config").cloned().unwrap_or(body))
    }

    pub async fn software_config_delete(&self, id: &str) -> Result<(), CliError> {
        self.call(ApiRequest {
            method: Method::Delete,
            path: format!("/software_configs/{}", seg(id)),
            query: Vec::new(),
            body: None,
        })
        .await?;
        Ok(())
    }
}

/// A string field of an object, or empty.
pub fn text(object: &Value, key: &str) -> String {
    object
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn list_of(body: &Value, key: &str) -> Vec<Value> {
    body.get(key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The part of a redirect's `Location` below `/v1/{tenant_id}`.
fn path_below_tenant(location: &str) -> Option<String> {
    let after_v1 = location.split_once("/v1/")?.1;
    let (_, rest) = after_v1.split_once('/')?;
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    Some(format!("/{rest}"))
}

/// Heat's error body `{"explanation", "code", "error": {"message", "type", ...}, "title"}`, read
/// as heatclient's `HTTPException` reads it: the message defaults to `Internal Error`.
fn api_error(status: u16, body: &Value) -> CliError {
    let error = body.get("error");
    let message = match (error, body) {
        (Some(e), _) => e
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("Internal Error")
            .to_owned(),
        (None, Value::String(text)) => text.clone(),
        (None, other) => other
            .get("explanation")
            .and_then(Value::as_str)
            .map_or_else(|| format!("HTTP {status}"), str::to_owned),
    };
    let kind = error
        .and_then(|e| e.get("type"))
        .and_then(Value::as_str)
        .or_else(|| body.get("title").and_then(Value::as_str))
        .unwrap_or("")
        .to_owned();
    CliError::Api {
        status,
        kind,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_map_to_paths_below_the_tenant() {
        assert_eq!(
            path_below_tenant("http://h:8004/v1/abc/stacks/web/123?x=1").as_deref(),
            Some("/stacks/web/123")
        );
        assert_eq!(path_below_tenant("/nowhere"), None);
    }

    #[test]
    fn heat_error_bodies_become_api_errors() {
        let body = json!({"code": 404, "error": {"message": "The Stack (x) could not be found.",
            "type": "EntityNotFound", "traceback": null}, "explanation": "The resource could not be found.",
            "title": "Not Found"});
        match api_error(404, &body) {
            CliError::Api {
                status,
                kind,
                message,
            } => {
                assert_eq!(status, 404);
                assert_eq!(kind, "EntityNotFound");
                assert_eq!(message, "The Stack (x) could not be found.");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(seg("a b/c"), "a%20b%2Fc");
    }
}
