//! Stack-backed resources: provider templates (a type that is a template file, directly or
//! through the environment's `resource_registry`) and `OS::Heat::Stack`.
//!
//! Each owns one child stack through the engine's [`StackControl`] (see `ember_engine::nested`):
//! the resource's physical id is the child's id, its properties are the child's parameters and
//! the child's outputs are its attributes. [`StackBacked`] is the one mechanism every
//! stack-backed type (groups included) uses to drive its child.

use async_trait::async_trait;
use ember_engine::error::EngineError;
use ember_engine::model::Action;
use ember_engine::nested::{ChildLookup, ChildTemplate, StackControl, StackHandle};
use ember_engine::registry::ProviderFactory;
use ember_engine::resource::{Properties, UpdateRequest};
use ember_engine::schema::{AttributeSchema, PropertySchema, PropertyType, TypeSchema};
use ember_engine::{Progress, ResourceContext, ResourceError, ResourceType, Started};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The attribute every stack-backed resource has: the child stack's id.
pub const STACK_ID_ATTR: &str = "OS::stack_id";

/// Drives the child stack of a stack-backed resource.
#[derive(Clone, Debug, Default)]
pub struct StackBacked {
    pub handle: StackHandle,
}

impl StackBacked {
    pub fn new(handle: StackHandle) -> Self {
        StackBacked { handle }
    }

    pub fn control(&self) -> Result<Arc<dyn StackControl>, ResourceError> {
        self.handle.get()
    }

    pub async fn create(
        &self,
        cx: &ResourceContext,
        child: ChildTemplate,
    ) -> Result<Started, ResourceError> {
        let id = self.control()?.create_child(cx, child).await?;
        Ok(Started {
            physical_id: Some(id),
            data: BTreeMap::new(),
        })
    }

    /// Polls the child's action; a resource without a child has nothing to wait for.
    pub async fn progress(
        &self,
        cx: &ResourceContext,
        action: Action,
    ) -> Result<Progress, ResourceError> {
        match &cx.physical_id {
            Some(id) => self.control()?.child_progress(id, action).await,
            None => Ok(Progress::Done),
        }
    }

    pub async fn update(
        &self,
        cx: &ResourceContext,
        child: ChildTemplate,
    ) -> Result<Started, ResourceError> {
        match &cx.physical_id {
            Some(id) => {
                self.control()?.update_child(id, child).await?;
                Ok(Started::default())
            }
            // The create never produced a child: make it now.
            None => self.create(cx, child).await,
        }
    }

    pub async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        if let Some(id) = &cx.physical_id {
            self.control()?.delete_child(id).await?;
        }
        Ok(Started::default())
    }

    pub async fn lookups(
        &self,
        cx: &ResourceContext,
        lookups: &[ChildLookup],
    ) -> Result<Vec<Value>, ResourceError> {
        match &cx.physical_id {
            Some(id) => self.control()?.child_values(id, lookups).await,
            None => Ok(vec![Value::Null; lookups.len()]),
        }
    }

    /// The attributes every group of numbered members has: `refs`, `refs_map`, `resource.N`
    /// (the member's reference), `resource.N.attr`, and any other name as that attribute of
    /// every member, in member order.
    pub async fn member_attribute(
        &self,
        cx: &ResourceContext,
        members: Vec<String>,
        name: &str,
    ) -> Result<Value, ResourceError> {
        match name {
            "refs" | "refs_map" => {
                let lookups: Vec<ChildLookup> =
                    members.iter().cloned().map(ChildLookup::Ref).collect();
                let refs = self.lookups(cx, &lookups).await?;
                Ok(if name == "refs" {
                    Value::Array(refs)
                } else {
                    Value::Object(members.into_iter().zip(refs).collect())
                })
            }
            _ => {
                if let Some(member) = name.strip_prefix("resource.") {
                    let lookup = match member.split_once('.') {
                        Some((n, attr)) => {
                            ChildLookup::Attr(n.to_string(), attr.to_string(), Vec::new())
                        }
                        None => ChildLookup::Ref(member.to_string()),
                    };
                    let mut v = self.lookups(cx, &[lookup]).await?;
                    return Ok(v.pop().unwrap_or(Value::Null));
                }
                let lookups: Vec<ChildLookup> = members
                    .into_iter()
                    .map(|n| ChildLookup::Attr(n, name.to_string(), Vec::new()))
                    .collect();
                Ok(Value::Array(self.lookups(cx, &lookups).await?))
            }
        }
    }

    /// One output of the child (`null` when absent or unresolvable).
    pub async fn output(&self, cx: &ResourceContext, name: &str) -> Result<Value, ResourceError> {
        let mut values = self
            .lookups(cx, &[ChildLookup::Output(name.to_string())])
            .await?;
        Ok(values.pop().unwrap_or(Value::Null))
    }
}

/// Property values that are known become the child's parameters (unresolved ones are left to
/// the child's defaults).
fn parameters_of(properties: &Properties) -> Map<String, Value> {
    properties
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A resource whose type is a template (Heat's `TemplateResource`).
pub struct ProviderResource {
    template_name: String,
    nested: StackBacked,
    schema: TypeSchema,
}

impl ProviderResource {
    pub fn new(template_name: &str, handle: StackHandle) -> Self {
        let mut attributes = BTreeMap::new();
        attributes.insert(
            STACK_ID_ATTR.into(),
            AttributeSchema::new("The nested stack's id."),
        );
        ProviderResource {
            template_name: template_name.to_string(),
            nested: StackBacked::new(handle),
            schema: TypeSchema {
                attributes,
                // The properties are the template's parameters; the child validates them.
                accepts_any_property: true,
                description: format!("Provider template {template_name}"),
                support_status: "SUPPORTED",
                ..TypeSchema::default()
            },
        }
    }

    async fn child(&self, cx: &ResourceContext) -> Result<ChildTemplate, ResourceError> {
        let template = self
            .nested
            .control()?
            .stack_file(&cx.stack_id, &self.template_name)
            .await?
            .ok_or_else(|| {
                ResourceError::new(
                    "NotFound",
                    format!(
                        "Could not fetch remote template \"{}\": file not found",
                        self.template_name
                    ),
                )
            })?;
        Ok(ChildTemplate {
            template,
            parameters: parameters_of(&cx.properties),
        })
    }
}

#[async_trait]
impl ResourceType for ProviderResource {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let child = self.child(cx).await?;
        self.nested.create(cx, child).await
    }

    async fn check_create_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        self.nested.progress(cx, Action::Create).await
    }

    /// Every property is a parameter the child can take in place.
    fn needs_replace(&self, _changed: &[String], _old: &Properties, _new: &Properties) -> bool {
        false
    }

    async fn update(
        &self,
        cx: &ResourceContext,
        _req: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        let child = self.child(cx).await?;
        self.nested.update(cx, child).await
    }

    async fn check_update_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        self.nested.progress(cx, Action::Update).await
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        self.nested.delete(cx).await
    }

    async fn check_delete_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        self.nested.progress(cx, Action::Delete).await
    }

    /// `OS::stack_id` is the child's id; any other name is an output of the template.
    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        match name {
            STACK_ID_ATTR => Ok(Some(
                cx.physical_id.clone().map_or(Value::Null, Value::String),
            )),
            "show" => Ok(Some(Value::Null)),
            _ => Ok(Some(self.nested.output(cx, name).await?)),
        }
    }
}

/// Builds [`ProviderResource`]s for template names found by the registry.
pub struct Providers {
    handle: StackHandle,
}

impl Providers {
    pub fn new(handle: StackHandle) -> Self {
        Providers { handle }
    }
}

impl ProviderFactory for Providers {
    fn provider(&self, template_name: &str) -> Result<Arc<dyn ResourceType>, EngineError> {
        Ok(Arc::new(ProviderResource::new(
            template_name,
            self.handle.clone(),
        )))
    }
}

/// `OS::Heat::Stack` with the template inline: a child stack of this engine.
pub struct NestedStack {
    nested: StackBacked,
    schema: TypeSchema,
}

impl NestedStack {
    pub fn new(handle: StackHandle) -> Self {
        let mut properties = BTreeMap::new();
        properties.insert(
            "context".into(),
            PropertySchema::new(PropertyType::Map, "Context for this stack."),
        );
        properties.insert(
            "template".into(),
            PropertySchema::new(
                PropertyType::String,
                "Template that specifies the stack to be created as a resource.",
            )
            .required()
            .update_allowed(),
        );
        properties.insert(
            "timeout".into(),
            PropertySchema::new(
                PropertyType::Integer,
                "Number of minutes to wait for this stack creation.",
            )
            .update_allowed(),
        );
        properties.insert(
            "parameters".into(),
            PropertySchema::new(PropertyType::Map, "Set of parameters passed to this stack.")
                .default(Value::Object(Map::new()))
                .update_allowed(),
        );
        let mut attributes = BTreeMap::new();
        attributes.insert(
            "stack_name".into(),
            AttributeSchema::new("Name of the stack."),
        );
        attributes.insert(
            "outputs".into(),
            AttributeSchema::new("A dict of key-value pairs output from the stack."),
        );
        attributes.insert(
            STACK_ID_ATTR.into(),
            AttributeSchema::new("The nested stack's id."),
        );
        NestedStack {
            nested: StackBacked::new(handle),
            schema: TypeSchema {
                properties,
                attributes,
                description: "A Resource representing a stack.".into(),
                support_status: "SUPPORTED",
                since_version: Some("2014.2"),
                accepts_any_property: false,
            },
        }
    }

    fn child(cx: &ResourceContext) -> ChildTemplate {
        ChildTemplate {
            template: cx
                .properties
                .get("template")
                .cloned()
                .unwrap_or(Value::Null),
            parameters: cx
                .properties
                .get("parameters")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
        }
    }
}

#[async_trait]
impl ResourceType for NestedStack {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        self.nested.create(cx, Self::child(cx)).await
    }

    async fn check_create_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        self.nested.progress(cx, Action::Create).await
    }

    async fn update(
        &self,
        cx: &ResourceContext,
        _req: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        self.nested.update(cx, Self::child(cx)).await
    }

    async fn check_update_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        self.nested.progress(cx, Action::Update).await
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        self.nested.delete(cx).await
    }

    async fn check_delete_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        self.nested.progress(cx, Action::Delete).await
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        match name {
            STACK_ID_ATTR => Ok(Some(
                cx.physical_id.clone().map_or(Value::Null, Value::String),
            )),
            "stack_name" => Ok(Some(Value::String(cx.physical_resource_name()))),
            "outputs" => {
                let Some(id) = &cx.physical_id else {
                    return Ok(Some(Value::Null));
                };
                Ok(Some(Value::Object(
                    self.nested.control()?.child_outputs(id).await?,
                )))
            }
            "show" => Ok(Some(Value::Null)),
            _ => Ok(None),
        }
    }
}
