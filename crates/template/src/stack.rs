//! The facade the engine uses: a template plus parameter values, files and the stack's identity
//! become a checked stack definition (conditions decided, active resources with their dependency
//! sets, outputs), whose expressions then resolve against the engine's [`Resolver`].

use std::collections::BTreeMap;
use std::sync::Arc;

use indexmap::{IndexMap, IndexSet};
use serde_json::Value;

use crate::conditions::Conditions;
use crate::environment::Environment;
use crate::error::{ErrorKind, TemplateError};
use crate::eval::{evaluate, references, PlaceholderResolver, Reference, Resolver, Scope};
use crate::expr::Expr;
use crate::node::Location;
use crate::parameters::{ParameterInput, ParameterSchemas, ParameterSyntax, ResolvedParameters};
use crate::pycompat;
use crate::template::Template;

/// Who the stack is, for the pseudo parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StackIdentity {
    pub name: String,
    pub id: String,
    pub project_id: String,
}

/// What, besides the template, a stack definition is built from.
#[derive(Debug, Clone, Default)]
pub struct StackInput {
    /// Values the user gave (the merged environment's `parameters` plus command-line values).
    pub parameters: IndexMap<String, Value>,
    /// The merged environment's `parameter_defaults`: they replace template defaults, and names
    /// the template does not declare are ignored.
    pub parameter_defaults: IndexMap<String, Value>,
    /// The `files` map, for `get_file`.
    pub files: BTreeMap<String, String>,
    pub identity: StackIdentity,
}

impl StackInput {
    /// The input for a stack from its merged environment (its `parameters` and
    /// `parameter_defaults`), its files and its identity.
    pub fn new(
        environment: &Environment,
        files: BTreeMap<String, String>,
        identity: StackIdentity,
    ) -> Self {
        Self {
            parameters: environment.parameters.clone(),
            parameter_defaults: environment.parameter_defaults.clone(),
            files,
            identity,
        }
    }
}

/// A resource that is part of the stack (its condition, if any, holds).
#[derive(Debug, Clone, PartialEq)]
pub struct StackResource {
    pub name: String,
    pub resource_type: String,
    pub location: Location,
    /// Shared with the template's definition (expressions are not copied per stack).
    pub properties: Option<Arc<Expr>>,
    pub metadata: Option<Arc<Expr>>,
    pub update_policy: Option<Arc<Expr>>,
    /// `Delete`, `Retain` or `Snapshot` (lower-case aliases made canonical); None when unset.
    pub deletion_policy: Option<String>,
    pub description: Option<String>,
    /// The condition name when the resource has a named condition.
    pub condition: Option<String>,
    pub external_id: Option<String>,
    /// The explicit `depends_on` names.
    pub depends_on: Vec<String>,
    /// Every resource this one needs first: `depends_on` plus every resource its properties,
    /// metadata and update policy refer to.
    pub dependencies: IndexSet<String>,
    /// The references its expressions make (for attribute checks against resource schemas).
    pub references: Vec<Reference>,
}

/// One output of the stack.
#[derive(Debug, Clone, PartialEq)]
pub struct StackOutput {
    pub name: String,
    pub description: Option<String>,
    pub location: Location,
    /// False when the output's condition does not hold: its value is then `null`.
    pub enabled: bool,
    pub value: Expr,
}

/// A template bound to its parameter values, with conditions decided and dependencies known.
#[derive(Debug)]
pub struct StackDefinition {
    template: Template,
    files: BTreeMap<String, String>,
    identity: StackIdentity,
    /// Parameter values after defaults and typing, pseudo parameters included.
    pub parameters: IndexMap<String, Value>,
    /// The parameters with their schemas, user values and skipped cloud checks (for stack show,
    /// immutable-update checks and the engine's custom-constraint checks).
    pub parameter_details: ResolvedParameters,
    /// The value of every condition in the conditions section.
    pub conditions: IndexMap<String, bool>,
    condition_set: Conditions,
    pub resources: Vec<StackResource>,
    /// Position of each active resource in `resources`.
    resource_index: IndexMap<String, usize>,
    pub outputs: Vec<StackOutput>,
}

impl StackDefinition {
    /// Binds a template to its input and checks everything that can be checked without the
    /// resources existing: parameters, conditions, references, `depends_on`, dependency cycles.
    pub fn new(template: Template, input: StackInput) -> Result<Self, TemplateError> {
        let parameter_details = resolve_parameters(&template, &input, true)?;
        let parameters = parameter_details.values();
        Self::with_parameters(template, input, parameters, parameter_details)
    }

    /// Binds a template to parameter values resolved by the caller (validation resolves them
    /// without requiring values).
    pub(crate) fn with_parameters(
        template: Template,
        input: StackInput,
        parameters: IndexMap<String, Value>,
        parameter_details: ResolvedParameters,
    ) -> Result<Self, TemplateError> {
        let condition_set = Conditions::new(&template.conditions);
        condition_set.check_definitions()?;
        let mut definition = StackDefinition {
            files: input.files,
            identity: input.identity,
            parameters,
            parameter_details,
            conditions: IndexMap::new(),
            condition_set,
            resources: Vec::new(),
            resource_index: IndexMap::new(),
            outputs: Vec::new(),
            template,
        };
        definition.decide_conditions()?;
        definition.build_resources()?;
        definition.build_outputs()?;
        Ok(definition)
    }

    pub fn template(&self) -> &Template {
        &self.template
    }

    pub fn identity(&self) -> &StackIdentity {
        &self.identity
    }

    pub fn files(&self) -> &BTreeMap<String, String> {
        &self.files
    }

    pub fn resource(&self, name: &str) -> Option<&StackResource> {
        self.resource_index.get(name).map(|&i| &self.resources[i])
    }

    /// Evaluates any expression of this stack against a resolver.
    pub fn evaluate(&self, expr: &Expr, resolver: &dyn Resolver) -> Result<Value, TemplateError> {
        let active = |name: &str| self.resource_index.contains_key(name);
        let scope = self.scope(&active, resolver);
        evaluate(expr, &scope)
    }

    fn scope<'a>(
        &'a self,
        active: &'a dyn Fn(&str) -> bool,
        resolver: &'a dyn Resolver,
    ) -> Scope<'a> {
        Scope::new(
            &self.parameters,
            active,
            &self.files,
            &self.template.mappings,
            &self.condition_set,
            resolver,
        )
    }

    fn field(
        &self,
        name: &str,
        pick: impl Fn(&StackResource) -> Option<&Expr>,
        resolver: &dyn Resolver,
    ) -> Result<Value, TemplateError> {
        let resource = self.resource(name).ok_or_else(|| unknown_resource(name))?;
        match pick(resource) {
            Some(expr) => self.evaluate(expr, resolver),
            None => Ok(Value::Object(serde_json::Map::new())),
        }
    }

    /// A resource's properties, resolved (an empty map when it has none).
    pub fn resolve_properties(
        &self,
        name: &str,
        resolver: &dyn Resolver,
    ) -> Result<Value, TemplateError> {
        self.field(name, |r| r.properties.as_deref(), resolver)
    }

    /// A resource's metadata, resolved (an empty map when it has none).
    pub fn resolve_metadata(
        &self,
        name: &str,
        resolver: &dyn Resolver,
    ) -> Result<Value, TemplateError> {
        self.field(name, |r| r.metadata.as_deref(), resolver)
    }

    /// A resource's update policy, resolved (an empty map when it has none).
    pub fn resolve_update_policy(
        &self,
        name: &str,
        resolver: &dyn Resolver,
    ) -> Result<Value, TemplateError> {
        self.field(name, |r| r.update_policy.as_deref(), resolver)
    }

    /// An output's value; `null` when its condition does not hold.
    pub fn resolve_output(
        &self,
        name: &str,
        resolver: &dyn Resolver,
    ) -> Result<Value, TemplateError> {
        let output = self
            .outputs
            .iter()
            .find(|o| o.name == name)
            .ok_or_else(|| {
                TemplateError::new(
                    ErrorKind::Reference,
                    Location::default(),
                    format!("Output {name} not found"),
                )
            })?;
        if !output.enabled {
            return Ok(Value::Null);
        }
        self.evaluate(&output.value, resolver)
    }

    /// Resource names in an order where every resource comes after its dependencies.
    pub fn creation_order(&self) -> Vec<&str> {
        topological_order(&self.resources).unwrap_or_default()
    }

    fn decide_conditions(&mut self) -> Result<(), TemplateError> {
        let none = |_: &str| false;
        let scope = self.scope(&none, &PlaceholderResolver);
        let values = self.condition_set.evaluate_all(&scope)?;
        self.conditions = values;
        Ok(())
    }

    fn build_resources(&mut self) -> Result<(), TemplateError> {
        let count = self.template.resources.len();
        let mut active_names: IndexSet<String> = IndexSet::with_capacity(count);
        let mut named_conditions: IndexMap<String, Option<String>> = IndexMap::with_capacity(count);
        {
            let none = |_: &str| false;
            let scope = self.scope(&none, &PlaceholderResolver);
            for r in &self.template.resources {
                let (enabled, name) = match &r.condition {
                    None => (true, None),
                    Some(expr) => {
                        let at = r.location.path.child(condition_key(&self.template));
                        let at = Location::new(r.location.file.clone(), r.location.span, at);
                        let value = evaluate(expr, &scope)?;
                        match value {
                            Value::Bool(b) => (b, None),
                            Value::String(n) => {
                                (self.condition_set.is_enabled(&n, &scope, &at)?, Some(n))
                            }
                            other => {
                                return Err(TemplateError::new(
                                    ErrorKind::Reference,
                                    at,
                                    format!("Invalid condition \"{}\"", pycompat::str_of(&other)),
                                ))
                            }
                        }
                    }
                };
                if enabled {
                    active_names.insert(r.name.clone());
                    named_conditions.insert(r.name.clone(), name);
                }
            }
            // Heat refuses a name used both for a parameter and a resource.
            let duplicates: Vec<&String> = self
                .template
                .resources
                .iter()
                .map(|r| &r.name)
                .filter(|n| active_names.contains(*n) && self.parameters.contains_key(*n))
                .collect();
            if let Some(first) = duplicates.first() {
                let shown: Vec<String> = duplicates.iter().map(|d| format!("'{d}'")).collect();
                let location = self
                    .template
                    .resource(first)
                    .map(|r| r.location.clone())
                    .unwrap_or_default();
                return Err(TemplateError::new(
                    ErrorKind::Structure,
                    location,
                    format!("Duplicate names {{{}}}", shown.join(", ")),
                ));
            }
        }
        let is_active = |name: &str| active_names.contains(name);
        let scope = self.scope(&is_active, &PlaceholderResolver);
        let mut resources = Vec::with_capacity(active_names.len());
        for r in &self.template.resources {
            if !active_names.contains(&r.name) {
                continue;
            }
            let mut refs = Vec::new();
            for expr in [&r.properties, &r.metadata, &r.update_policy]
                .into_iter()
                .flatten()
            {
                refs.extend(references(expr, &scope)?);
            }
            let mut dependencies: IndexSet<String> = IndexSet::new();
            // A reference to a resource whose condition is false is allowed in `depends_on`
            // (the dependency is dropped), as in Heat; a name no resource has is an error.
            for (dep, location) in &r.depends_on {
                if active_names.contains(dep) {
                    dependencies.insert(dep.clone());
                } else if self.template.resource(dep).is_none() {
                    return Err(TemplateError::new(
                        ErrorKind::Dependency,
                        location.clone(),
                        format!(
                            "The specified reference \"{dep}\" (in {}) is incorrect.",
                            r.name
                        ),
                    ));
                }
            }
            for reference in &refs {
                if !active_names.contains(&reference.resource) {
                    return Err(TemplateError::new(
                        ErrorKind::Reference,
                        reference.location.clone(),
                        format!(
                            "The specified reference \"{}\" (in {}) is incorrect.",
                            reference.resource,
                            heat_reference_path(&reference.location.path, self.template.version)
                        ),
                    ));
                }
                dependencies.insert(reference.resource.clone());
            }
            let deletion_policy = match &r.deletion_policy {
                None => None,
                Some(expr) => {
                    let value = evaluate(expr, &scope)?;
                    let written = pycompat::str_of(&value);
                    match self.template.version.deletion_policy(&written) {
                        Some(p) => Some(p.to_string()),
                        None => {
                            return Err(TemplateError::new(
                                ErrorKind::Structure,
                                r.location.clone(),
                                format!("Invalid deletion policy \"{written}\""),
                            ))
                        }
                    }
                }
            };
            let external_id = match &r.external_id {
                None => None,
                Some(expr) => match evaluate(expr, &scope)? {
                    Value::Null => None,
                    Value::String(s) => Some(s),
                    _ => {
                        return Err(TemplateError::new(
                            ErrorKind::Structure,
                            r.location.clone(),
                            format!("Resource {} external_id type must be string", r.name),
                        ))
                    }
                },
            };
            // An external resource depends on nothing, and may not declare dependencies.
            if let Some(id) = external_id.as_deref().filter(|id| !id.is_empty()) {
                if !r.depends_on.is_empty() {
                    return Err(TemplateError::new(
                        ErrorKind::Dependency,
                        r.location.clone(),
                        format!(
                            "Invalid dependency with external {} resource: {id}",
                            r.resource_type
                        ),
                    ));
                }
                dependencies.clear();
            }
            resources.push(StackResource {
                name: r.name.clone(),
                resource_type: r.resource_type.clone(),
                location: r.location.clone(),
                properties: r.properties.clone(),
                metadata: r.metadata.clone(),
                update_policy: r.update_policy.clone(),
                deletion_policy,
                description: r.description.clone(),
                condition: named_conditions.get(&r.name).cloned().flatten(),
                external_id,
                depends_on: r.depends_on.iter().map(|(d, _)| d.clone()).collect(),
                dependencies,
                references: refs,
            });
        }
        if let Err(cycle) = topological_order(&resources) {
            let location = resources
                .iter()
                .find(|r| Some(&r.name) == cycle.first())
                .map(|r| r.location.clone())
                .unwrap_or_default();
            return Err(TemplateError::new(
                ErrorKind::Dependency,
                location,
                format!("Circular Dependency Found: {}", cycle.join(" -> ")),
            ));
        }
        self.resource_index = resources
            .iter()
            .enumerate()
            .map(|(i, r)| (r.name.clone(), i))
            .collect();
        self.resources = resources;
        Ok(())
    }

    fn build_outputs(&mut self) -> Result<(), TemplateError> {
        let none = |_: &str| false;
        let scope = self.scope(&none, &PlaceholderResolver);
        let mut outputs = Vec::with_capacity(self.template.outputs.len());
        for o in &self.template.outputs {
            let enabled = match &o.condition {
                None => true,
                Some(expr) => {
                    let at = Location::new(
                        o.location.file.clone(),
                        o.location.span,
                        o.location.path.child(condition_key(&self.template)),
                    );
                    match evaluate(expr, &scope)? {
                        Value::Bool(b) => b,
                        Value::String(n) => self.condition_set.is_enabled(&n, &scope, &at)?,
                        other => {
                            return Err(TemplateError::new(
                                ErrorKind::Reference,
                                at,
                                format!("Invalid condition \"{}\"", pycompat::str_of(&other)),
                            ))
                        }
                    }
                }
            };
            outputs.push(StackOutput {
                name: o.name.clone(),
                description: o.description.clone(),
                location: o.location.clone(),
                enabled,
                value: o.value.clone(),
            });
        }
        self.outputs = outputs;
        Ok(())
    }

    /// The references an output's value makes (empty for a disabled output).
    pub fn output_references(&self, name: &str) -> Result<Vec<Reference>, TemplateError> {
        let Some(output) = self.outputs.iter().find(|o| o.name == name) else {
            return Ok(Vec::new());
        };
        if !output.enabled {
            return Ok(Vec::new());
        }
        let active = |n: &str| self.resource_index.contains_key(n);
        let scope = self.scope(&active, &PlaceholderResolver);
        references(&output.value, &scope)
    }
}

/// Resolves the template's parameters against the input with the parameters module. With
/// `check_values` false, missing or invalid values are not errors (Heat's template validation).
pub(crate) fn resolve_parameters(
    template: &Template,
    input: &StackInput,
    check_values: bool,
) -> Result<ResolvedParameters, TemplateError> {
    let schemas = ParameterSchemas::parse(
        Some(&template.parameters),
        &template.file,
        ParameterSyntax::for_version(template.version),
    )?;
    schemas.validate_groups(Some(&template.parameter_groups))?;
    let parameter_input = ParameterInput {
        values: input.parameters.clone(),
        defaults: input.parameter_defaults.clone(),
        identity: Some(input.identity.clone()),
    };
    schemas.resolve(&parameter_input, check_values, None)
}

/// The path Heat names in a reference error from a resource's properties or metadata:
/// `server.Properties.networks[0].port` (the resource, its CFN-style section, then the keys and
/// indexes, without function names).
fn heat_reference_path(path: &crate::node::Path, version: crate::version::Version) -> String {
    let segments = path.segments();
    let mut out = String::new();
    for (i, segment) in segments.iter().enumerate().skip(1) {
        let shown = match (i, *segment) {
            (2, "properties" | "Properties") => "Properties",
            (2, "metadata" | "Metadata") => "Metadata",
            (2, "update_policy" | "UpdatePolicy") => "UpdatePolicy",
            _ if i > 2
                && version
                    .lookup(segment, crate::version::FnContext::Value)
                    .is_some() =>
            {
                continue
            }
            _ => segment,
        };
        if !out.is_empty() && !shown.starts_with('[') {
            out.push('.');
        }
        out.push_str(shown);
    }
    out
}

fn condition_key(template: &Template) -> &'static str {
    if template.version.is_hot() {
        "condition"
    } else {
        "Condition"
    }
}

fn unknown_resource(name: &str) -> TemplateError {
    TemplateError::new(
        ErrorKind::Reference,
        Location::default(),
        format!("The Resource ({name}) could not be found."),
    )
}

/// Orders resources so each follows its dependencies; on a cycle, returns the names in it.
fn topological_order(resources: &[StackResource]) -> Result<Vec<&str>, Vec<String>> {
    let index: IndexMap<&str, usize> = resources
        .iter()
        .enumerate()
        .map(|(i, r)| (r.name.as_str(), i))
        .collect();
    let mut remaining: Vec<usize> = resources
        .iter()
        .map(|r| {
            r.dependencies
                .iter()
                .filter(|d| index.contains_key(d.as_str()))
                .count()
        })
        .collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); resources.len()];
    for (i, r) in resources.iter().enumerate() {
        for d in &r.dependencies {
            if let Some(&j) = index.get(d.as_str()) {
                dependents[j].push(i);
            }
        }
    }
    let mut ready: Vec<usize> = (0..resources.len())
        .filter(|&i| remaining[i] == 0)
        .collect();
    ready.reverse();
    let mut order = Vec::with_capacity(resources.len());
    while let Some(i) = ready.pop() {
        order.push(resources[i].name.as_str());
        for &k in &dependents[i] {
            remaining[k] -= 1;
            if remaining[k] == 0 {
                ready.push(k);
            }
        }
    }
    if order.len() == resources.len() {
        return Ok(order);
    }
    // Walk dependencies from a resource left over until one repeats: that loop is a cycle.
    let start = (0..resources.len())
        .find(|&i| remaining[i] > 0)
        .unwrap_or(0);
    let mut path: Vec<usize> = vec![start];
    let mut current = start;
    loop {
        let next = resources[current]
            .dependencies
            .iter()
            .filter_map(|d| index.get(d.as_str()).copied())
            .find(|&j| remaining[j] > 0);
        let Some(next) = next else { break };
        if let Some(pos) = path.iter().position(|&p| p == next) {
            let mut cycle: Vec<String> = path[pos..]
                .iter()
                .map(|&p| resources[p].name.clone())
                .collect();
            cycle.push(resources[next].name.clone());
            return Err(cycle);
        }
        path.push(next);
        current = next;
    }
    Err(path.iter().map(|&p| resources[p].name.clone()).collect())
}
