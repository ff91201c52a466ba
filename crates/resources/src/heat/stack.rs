//! Stack-backed resources: provider templates (a type that is a template file, directly or
//! through the environment's `resource_registry`) and `OS::Heat::Stack`.
//!
//! Each owns one child stack through the engine's [`StackControl`] (see `ember_engine::nested`):
//! the resource's physical id is the child's id, its properties are the child's parameters and
//! the child's outputs are its attributes. [`StackBacked`] is the one mechanism every
//! stack-backed type (groups included) uses to drive its child.

use async_trait::async_trait;
use chrono::Utc;
use ember_engine::error::EngineError;
use ember_engine::model::Action;
use ember_engine::nested::{ChildLookup, ChildSource, ChildTemplate, StackControl, StackHandle};
use ember_engine::registry::ProviderFactory;
use ember_engine::resource::{follow_path, Properties, UpdateRequest};
use ember_engine::schema::{AttributeSchema, PropertySchema, PropertyType, TypeSchema};
use ember_engine::{Progress, ResourceContext, ResourceError, ResourceType, Started};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The attribute every stack-backed resource has: the child stack's id.
pub const STACK_ID_ATTR: &str = "OS::stack_id";

/// How often a batched group looks at its child between batches.
const BATCH_POLL: Duration = Duration::from_millis(20);

/// Members of a group's child stack: name and resource definition, in member order.
pub type Members = Vec<(String, Value)>;

/// The child template of a group: its members as the only resources.
pub fn members_template(members: &[(String, Value)]) -> ChildTemplate {
    let resources: Map<String, Value> = members.iter().cloned().collect();
    ChildTemplate {
        template: json!({"heat_template_version": "2015-04-30", "resources": resources}),
        parameters: Map::new(),
    }
}

/// How a group paces the changes of its members (Heat's `batch_create`, `rolling_update` and
/// the autoscaling group's `rolling_updates`): at most `max_batch_size` members are created or
/// updated per child action, `pause` passes between actions, and at least `min_in_service`
/// members that are in service keep running while others update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Batching {
    pub max_batch_size: usize,
    pub min_in_service: usize,
    pub pause: Duration,
}

impl Batching {
    /// Reads `{max_batch_size, min_in_service, pause_time}` (Heat's defaults 1, 0, 0); `None`
    /// when the policy is not given.
    pub fn from_policy(policy: Option<&Value>) -> Option<Batching> {
        let policy = policy.filter(|p| p.is_object())?;
        let number = |key: &str| policy.get(key).and_then(number_of);
        Some(Batching {
            max_batch_size: number("max_batch_size").map_or(1, |n| (n as usize).max(1)),
            min_in_service: number("min_in_service").map_or(0, |n| n as usize),
            pause: Duration::from_secs_f64(number("pause_time").unwrap_or(0.0)),
        })
    }

    /// The next child content on the way from `current` (the child's members now) to `target`,
    /// or `None` when the child already is the target. Members no longer wanted go at once;
    /// missing ones are created and changed ones updated, at most `max_batch_size` per step,
    /// and an update never takes the members in service below `min_in_service` (at least one
    /// member changes per step, so the sequence always ends).
    pub fn next_batch(
        &self,
        current: &Map<String, Value>,
        target: &[(String, Value)],
    ) -> Option<Members> {
        let in_target = |name: &str| target.iter().any(|(n, _)| n == name);
        let done =
            current.len() == target.len() && target.iter().all(|(n, d)| current.get(n) == Some(d));
        if done {
            return None;
        }
        let in_service = current.keys().filter(|n| in_target(n)).count();
        let mut budget = self.max_batch_size;
        let mut out_of_service = in_service.saturating_sub(self.min_in_service).max(1);
        let mut next = Vec::with_capacity(target.len());
        for (name, def) in target {
            match current.get(name) {
                Some(now) if now == def => next.push((name.clone(), def.clone())),
                Some(now) => {
                    if budget > 0 && out_of_service > 0 {
                        budget -= 1;
                        out_of_service -= 1;
                        next.push((name.clone(), def.clone()));
                    } else {
                        next.push((name.clone(), now.clone()));
                    }
                }
                None if budget > 0 => {
                    budget -= 1;
                    next.push((name.clone(), def.clone()));
                }
                None => {}
            }
        }
        Some(next)
    }
}

fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n: &f64| n.is_finite() && *n >= 0.0)
}

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

    /// Starts the first child action towards `target`: everything at once, or the first batch.
    pub async fn create_members(
        &self,
        cx: &ResourceContext,
        target: &[(String, Value)],
        batching: Option<Batching>,
    ) -> Result<Started, ResourceError> {
        let first = match batching {
            Some(b) => b.next_batch(&Map::new(), target).unwrap_or_default(),
            None => target.to_vec(),
        };
        self.create(cx, members_template(&first)).await
    }

    /// Starts an update of the child towards `target` (the first batch when batching).
    pub async fn update_members(
        &self,
        cx: &ResourceContext,
        target: &[(String, Value)],
        batching: Option<Batching>,
    ) -> Result<Started, ResourceError> {
        let step = match (batching, &cx.physical_id) {
            (Some(b), Some(id)) => {
                let current = match self.control()?.child_state(id).await? {
                    Some(state) => resources_of(&state.template),
                    None => Map::new(),
                };
                b.next_batch(&current, target)
                    .unwrap_or_else(|| target.to_vec())
            }
            _ => target.to_vec(),
        };
        self.update(cx, members_template(&step)).await
    }

    /// Polls the child; when batching, starts the next batch once the last one finished and
    /// `pause` passed, until the child holds `target`. The batch reached is read from the
    /// child's stored template, so an engine that takes over continues where it stopped.
    pub async fn members_progress(
        &self,
        cx: &ResourceContext,
        action: Action,
        target: &[(String, Value)],
        batching: Option<Batching>,
    ) -> Result<Progress, ResourceError> {
        let progress = self.progress(cx, action).await?;
        let (Some(b), Some(id), Progress::Done) = (batching, &cx.physical_id, progress) else {
            return Ok(progress);
        };
        let control = self.control()?;
        let Some(state) = control.child_state(id).await? else {
            return Ok(Progress::Done);
        };
        let Some(next) = b.next_batch(&resources_of(&state.template), target) else {
            return Ok(Progress::Done);
        };
        if let Some(finished) = state.updated_at {
            let since = (Utc::now() - finished).to_std().unwrap_or_default();
            if since < b.pause {
                return Ok(Progress::Pending(b.pause - since));
            }
        }
        control.update_child(id, members_template(&next)).await?;
        Ok(Progress::Pending(BATCH_POLL))
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

    /// The attributes a group answers without its members: `OS::stack_id` (the child stack's
    /// id) and `show` (null, as Heat's groups show nothing of their own).
    pub fn group_own_attribute(cx: &ResourceContext, name: &str) -> Option<Value> {
        match name {
            STACK_ID_ATTR => Some(cx.physical_id.clone().map_or(Value::Null, Value::String)),
            "show" => Some(Value::Null),
            _ => None,
        }
    }

    /// The attributes every group has, with the `get_attr` path: `refs` and `refs_map` (the
    /// path selects from them), `attributes` (`[attributes, name, path...]`: that attribute of
    /// every member by member name), `outputs`/`outputs_list` (the autoscaling group's names
    /// for the same by name and in member order), `resource.N` (the member's reference, or
    /// `[resource.N, attr, path...]`), `resource.N.attr`, and any other name as that attribute
    /// of every member, in member order. `attributes`/`outputs` without a name are null.
    pub async fn member_attribute(
        &self,
        cx: &ResourceContext,
        members: Vec<String>,
        name: &str,
        path: &[Value],
    ) -> Result<Value, ResourceError> {
        let each = |attr: String, rest: &[Value]| -> Vec<ChildLookup> {
            members
                .iter()
                .map(|n| ChildLookup::Attr(n.clone(), attr.clone(), rest.to_vec()))
                .collect()
        };
        match name {
            "refs" | "refs_map" => {
                let lookups: Vec<ChildLookup> =
                    members.iter().cloned().map(ChildLookup::Ref).collect();
                let refs = self.lookups(cx, &lookups).await?;
                let all = if name == "refs" {
                    Value::Array(refs)
                } else {
                    Value::Object(members.into_iter().zip(refs).collect())
                };
                Ok(follow_path(&all, path))
            }
            "attributes" | "outputs" | "outputs_list" => {
                let Some((attr, rest)) = path.split_first() else {
                    return Ok(Value::Null);
                };
                let values = self.lookups(cx, &each(path_key(attr), rest)).await?;
                Ok(if name == "outputs_list" {
                    Value::Array(values)
                } else {
                    Value::Object(members.into_iter().zip(values).collect())
                })
            }
            _ => {
                if let Some(member) = name.strip_prefix("resource.") {
                    let lookup = match (member.split_once('.'), path.split_first()) {
                        (Some((n, attr)), _) => {
                            ChildLookup::Attr(n.to_string(), attr.to_string(), path.to_vec())
                        }
                        (None, Some((attr, rest))) => {
                            ChildLookup::Attr(member.to_string(), path_key(attr), rest.to_vec())
                        }
                        (None, None) => ChildLookup::Ref(member.to_string()),
                    };
                    let mut v = self.lookups(cx, &[lookup]).await?;
                    return Ok(v.pop().unwrap_or(Value::Null));
                }
                Ok(Value::Array(
                    self.lookups(cx, &each(name.to_string(), path)).await?,
                ))
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

/// A `get_attr` path element used as a name (numbers name members and outputs too).
fn path_key(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The resources of a child template document (a group's members by name).
fn resources_of(template: &Value) -> Map<String, Value> {
    template
        .get("resources")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
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

/// Where a provider's template comes from.
enum ProviderTemplate {
    /// A file of the stack's `files` map.
    File(String),
    /// A template Ember carries for a type Heat's global environment maps onto a template
    /// (`AWS::CloudWatch::Alarm`). Its list parameters are all `CommaDelimitedList`s, so list
    /// properties are passed as Heat's `TemplateResource` passes them to those (see
    /// [`comma_delimited`]).
    Builtin(&'static str),
}

/// A list property as Heat's `TemplateResource` passes it to a `CommaDelimitedList`
/// parameter: the items joined with commas, a list of maps as an AWS member list
/// (`.member.0.Name=x,.member.0.Value=y`, what `Fn::MemberListToMap` reads).
/// The child of a template built into Ember, given `properties` as its parameters (list
/// parameters as [`comma_delimited`] text).
pub(crate) fn builtin_child(text: &str, properties: &Properties) -> ChildTemplate {
    let mut parameters = parameters_of(properties);
    for value in parameters.values_mut() {
        if let Value::Array(items) = value {
            *value = Value::String(comma_delimited(items));
        }
    }
    ChildTemplate {
        template: Value::String(text.to_string()),
        parameters,
    }
}

fn comma_delimited(items: &[Value]) -> String {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if !items.first().is_some_and(Value::is_object) {
        return items.iter().map(text).collect::<Vec<_>>().join(",");
    }
    let mut members = Vec::new();
    for (index, item) in items.iter().enumerate() {
        for (key, value) in item.as_object().into_iter().flatten() {
            members.push(format!(".member.{index}.{key}={}", text(value)));
        }
    }
    members.join(",")
}

/// A resource whose type is a template (Heat's `TemplateResource`).
pub struct ProviderResource {
    template: ProviderTemplate,
    nested: StackBacked,
    schema: TypeSchema,
}

impl ProviderResource {
    pub fn new(template_name: &str, handle: StackHandle) -> Self {
        Self::with_template(
            ProviderTemplate::File(template_name.to_string()),
            template_name,
            handle,
        )
    }

    /// A type backed by a template built into Ember (`text`, HOT or CFN), described as
    /// `type_name`.
    pub fn builtin(type_name: &str, text: &'static str, handle: StackHandle) -> Self {
        Self::with_template(ProviderTemplate::Builtin(text), type_name, handle)
    }

    fn with_template(template: ProviderTemplate, template_name: &str, handle: StackHandle) -> Self {
        let mut attributes = BTreeMap::new();
        attributes.insert(
            STACK_ID_ATTR.into(),
            AttributeSchema::new("The nested stack's id."),
        );
        ProviderResource {
            template,
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
        let name = match &self.template {
            ProviderTemplate::File(name) => name,
            ProviderTemplate::Builtin(text) => return Ok(builtin_child(text, &cx.properties)),
        };
        let template = self
            .nested
            .control()?
            .stack_file(&cx.stack_id, name)
            .await?
            .ok_or_else(|| {
                ResourceError::new(
                    "NotFound",
                    format!("Could not fetch remote template \"{name}\": file not found"),
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

    fn child_source(&self, _properties: &Properties) -> Option<ChildSource> {
        Some(match &self.template {
            ProviderTemplate::File(name) => ChildSource::File(name.clone()),
            ProviderTemplate::Builtin(text) => ChildSource::Inline(Value::String(text.to_string())),
        })
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

    fn child_source(&self, properties: &Properties) -> Option<ChildSource> {
        properties
            .get("template")
            .filter(|t| !t.is_null())
            .map(|t| ChildSource::Inline(t.clone()))
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
