//! What the engine needs from a compiled template: resource definitions whose property
//! expressions are evaluated against live stack state through [`Resolver`], and the compiler
//! seam through which the template crate turns stored template text into them.

use crate::error::EngineError;
use indexmap::IndexMap;
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

/// Live stack state as intrinsic functions see it.
pub trait Resolver: Send + Sync {
    /// `get_resource` / `Ref`: the resource's reference id; `None` when it is not in the stack.
    fn resource_ref(&self, name: &str) -> Option<Value>;
    /// `get_attr` / `Fn::GetAtt` with an optional path into the value.
    fn resource_attr(&self, name: &str, attr: &str, path: &[Value]) -> Result<Value, String>;
    /// `get_attr: [name]` with no attribute: every attribute of the resource.
    fn resource_attrs(&self, name: &str) -> Result<Value, String>;
}

/// An unevaluated template value (properties, metadata, an output).
pub trait Evaluate: Send + Sync + fmt::Debug {
    fn evaluate(&self, resolver: &dyn Resolver) -> Result<Value, String>;
}

/// A plain value with no function in it.
#[derive(Debug, Clone)]
pub struct Literal(pub Value);

impl Evaluate for Literal {
    fn evaluate(&self, _: &dyn Resolver) -> Result<Value, String> {
        Ok(self.0.clone())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum DeletionPolicy {
    #[default]
    Delete,
    Retain,
    Snapshot,
}

impl DeletionPolicy {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Delete" | "delete" => Some(DeletionPolicy::Delete),
            "Retain" | "retain" => Some(DeletionPolicy::Retain),
            "Snapshot" | "snapshot" => Some(DeletionPolicy::Snapshot),
            _ => None,
        }
    }
}

/// One active resource of a stack definition.
#[derive(Debug, Clone)]
pub struct ResourceDefinition {
    pub name: String,
    pub type_name: String,
    pub properties: Arc<dyn Evaluate>,
    pub metadata: Arc<dyn Evaluate>,
    /// Every resource this one needs first: `depends_on` plus the targets of `get_resource`,
    /// `get_attr`, `Ref` and `Fn::GetAtt` in its properties and metadata.
    pub requires: BTreeSet<String>,
    pub deletion_policy: DeletionPolicy,
    pub update_policy: Value,
    pub description: String,
    pub external_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct OutputDefinition {
    pub value: Arc<dyn Evaluate>,
    pub description: String,
}

/// A validated stack definition, ready for the engine.
#[derive(Debug, Clone, Default)]
pub struct StackDefinition {
    pub description: String,
    pub resources: IndexMap<String, ResourceDefinition>,
    pub outputs: IndexMap<String, OutputDefinition>,
    /// Parameter values as `stack show` lists them (strings, hidden ones as `******`),
    /// including the pseudo parameters.
    pub parameters: Map<String, Value>,
    /// The merged environment's `resource_registry` section.
    pub resource_registry: Value,
}

/// The template, environment and parameters of a stack as stored.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct TemplateSource {
    pub template: Value,
    /// The user environment (`parameters`, `parameter_defaults`, `resource_registry`, ...).
    pub environment: Value,
    pub files: Map<String, Value>,
    /// Ordered names of environment files, merged in the server as Heat does.
    #[serde(default)]
    pub environment_files: Vec<String>,
    /// For a nested stack: what `resource_facade` answers, the parent resource's
    /// `{metadata, deletion_policy, update_policy}`; `null` for a root stack.
    #[serde(default)]
    pub facade: Value,
}

/// Identity of the stack being compiled, for the pseudo parameters.
#[derive(Debug, Clone)]
pub struct StackIdentity {
    pub stack_id: String,
    pub stack_name: String,
    pub project_id: String,
}

/// Turns stored template sources into stack definitions. The template crate provides the
/// real implementation; the engine calls it for every action, for outputs and for validation.
/// `parameters` are the request's parameter values (applied over the inline environment's,
/// then the environment files are merged on top, as Heat's API does).
pub trait Compiler: Send + Sync {
    fn compile(
        &self,
        source: &TemplateSource,
        parameters: &Map<String, Value>,
        stack: &StackIdentity,
    ) -> Result<StackDefinition, EngineError>;
    /// The merged environment's `resource_registry` alone, for walks over stored rows (delete,
    /// suspend, resume, check): they resolve each row's type and hooks but evaluate nothing,
    /// so they need no resource definitions.
    fn resource_registry(
        &self,
        source: &TemplateSource,
        parameters: &Map<String, Value>,
    ) -> Result<Value, EngineError>;
    /// The environment Heat stores for a request naming `environment_files`: `base` (the
    /// stored environment, for a PATCH update; none otherwise, as the API then ignores the
    /// inline environment) with `parameters` over it and each file merged in order.
    fn merge_environment_files(
        &self,
        source: &TemplateSource,
        parameters: &Map<String, Value>,
        base: Option<&Value>,
    ) -> Result<Value, EngineError>;
    /// `POST /validate` for this template; `show_nested` adds Heat's `NestedParameters`.
    fn validate(
        &self,
        source: &TemplateSource,
        parameters: &Map<String, Value>,
        show_nested: bool,
    ) -> Result<Validation, EngineError>;
}

/// What validating a template gives the engine.
#[derive(Debug, Clone)]
pub struct Validation {
    /// Heat's validate body (Description, Parameters, ParameterGroups, NestedParameters,
    /// Environment).
    pub answer: Value,
    /// `(name, type)` of every active resource, with parameters that have no value bound to
    /// placeholders: the types to check when the stack cannot be compiled for lack of values.
    pub resource_types: Vec<(String, String)>,
}
