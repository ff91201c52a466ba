//! `AWS::CloudFormation::Stack`: `OS::Heat::Stack` with its template at a URL.
//!
//! Every call goes to the Heat type with the template fetched (`TemplateURL`: a file of the
//! stack's `files` map by that name, as provider templates are found, else an `http(s)` GET as
//! Heat's `urlfetch` does, bounded by Heat's `max_template_size`), `Parameters` as its
//! parameters. Attributes are `Outputs.<name>`: that output of the child. `Ref` is the child
//! stack's ARN, as Heat's `nested_identifier().arn()`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ember_engine::nested::StackHandle;
use ember_engine::resource::{follow_path, Properties, UpdateRequest};
use ember_engine::schema::TypeSchema;
use ember_engine::{Progress, Registry, ResourceContext, ResourceError, ResourceType, Started};
use serde_json::{json, Map, Value};

use super::{integer, map, schema, string};
use crate::heat::stack::NestedStack;

/// Resource data: the child stack's ARN, the resource's reference.
const ARN: &str = "stack_arn";

/// Heat's `max_template_size`.
const MAX_TEMPLATE_SIZE: usize = 524_288;
/// How long a template fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(60);

pub(super) fn register(registry: &mut Registry) {
    let handle = StackHandle::new();
    registry.add_stack_handle(handle.clone());
    registry.register(
        "AWS::CloudFormation::Stack",
        Arc::new(CfnStack::new(handle)),
    );
}

pub struct CfnStack {
    stack: NestedStack,
    handle: StackHandle,
    schema: TypeSchema,
}

fn fetch_error(url: &str, reason: impl std::fmt::Display) -> ResourceError {
    ResourceError::new(
        "ValueError",
        format!("Could not fetch remote template '{url}': {reason}"),
    )
}

/// The template text at `url` over http(s).
async fn fetch(url: &str) -> Result<String, ResourceError> {
    let scheme = url.split_once("://").map_or("", |(s, _)| s);
    if !matches!(scheme, "http" | "https") {
        return Err(fetch_error(url, format!("Invalid URL scheme {scheme}")));
    }
    let client = reqwest::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .build()
        .map_err(|e| fetch_error(url, e))?;
    let mut response = client
        .get(url)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| fetch_error(url, e))?;
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| fetch_error(url, e))? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_TEMPLATE_SIZE {
            return Err(fetch_error(
                url,
                format!("Template exceeds maximum allowed size ({MAX_TEMPLATE_SIZE} bytes)"),
            ));
        }
    }
    String::from_utf8(body).map_err(|e| fetch_error(url, e))
}

impl CfnStack {
    fn new(handle: StackHandle) -> Self {
        let schema = schema(
            "Represents a child stack to allow composition of templates.",
            vec![
                ("TemplateURL", string("The URL of a template that specifies the stack to be created as a resource.").required().update_allowed()),
                ("TimeoutInMinutes", integer("The length of time, in minutes, to wait for the nested stack creation.").update_allowed()),
                ("Parameters", map("The set of parameters passed to this nested stack.").update_allowed()),
            ],
            &[],
        );
        CfnStack {
            stack: NestedStack::new(handle.clone()),
            handle,
            schema,
        }
    }

    /// The Heat stack's view: the fetched template and the parameters.
    async fn heat_context(&self, cx: &ResourceContext) -> Result<ResourceContext, ResourceError> {
        let url = cx.prop_str("TemplateURL").unwrap_or_default();
        let file = self.handle.get()?.stack_file(&cx.stack_id, url).await?;
        let template = match file {
            Some(template) => template,
            None => Value::String(fetch(url).await?),
        };
        let parameters = cx
            .properties
            .get("Parameters")
            .filter(|p| p.is_object())
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new()));
        let mut heat = cx.clone();
        heat.properties = Properties::from_iter([
            ("template".to_string(), template),
            ("parameters".to_string(), parameters),
            (
                "timeout".to_string(),
                cx.properties
                    .get("TimeoutInMinutes")
                    .cloned()
                    .unwrap_or(Value::Null),
            ),
        ]);
        Ok(heat)
    }
}

#[async_trait]
impl ResourceType for CfnStack {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let mut started = self.stack.create(&self.heat_context(cx).await?).await?;
        if let Some(child) = &started.physical_id {
            let arn = self.handle.get()?.stack_arn(child).await?;
            started.data.insert(ARN.into(), arn);
        }
        Ok(started)
    }

    async fn check_create_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        self.stack.check_create_complete(cx).await
    }

    /// The template is fetched again, as Heat does: it may have changed behind the same URL.
    fn needs_update(&self, _old: &Properties, _new: &Properties) -> bool {
        true
    }

    async fn update(
        &self,
        cx: &ResourceContext,
        req: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        self.stack.update(&self.heat_context(cx).await?, req).await
    }

    async fn check_update_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        self.stack.check_update_complete(cx).await
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        self.stack.delete(cx).await
    }

    async fn check_delete_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        self.stack.check_delete_complete(cx).await
    }

    /// The child stack's ARN once it exists, else the resource's name.
    fn reference_id(&self, cx: &ResourceContext) -> Value {
        Value::String(cx.data.get(ARN).cloned().unwrap_or_else(|| cx.name.clone()))
    }

    /// `Outputs.<name>`: that output of the child; any other name is not an attribute.
    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        self.attribute_with_path(cx, name, &[]).await
    }

    async fn attribute_with_path(
        &self,
        cx: &ResourceContext,
        name: &str,
        path: &[Value],
    ) -> Result<Option<Value>, ResourceError> {
        if name == "show" {
            return Ok(Some(Value::Null));
        }
        let Some(output) = name.strip_prefix("Outputs.") else {
            return Ok(None);
        };
        let outputs = self
            .stack
            .attribute(cx, "outputs")
            .await?
            .unwrap_or(json!({}));
        Ok(outputs.get(output).map(|value| follow_path(value, path)))
    }
}
