//! Static validation of a whole template, answering what Heat's validate API answers.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::environment::{Environment, GlobalRegistry, Implementation};
use crate::error::{ErrorKind, TemplateError};
use crate::eval::PlaceholderResolver;
use crate::load::Limits;
use crate::node::{Node, NodeValue};
use crate::parameters::ParamType;
use crate::stack::{resolve_parameters, StackDefinition, StackIdentity, StackInput, StackResource};
use crate::template::{parse_template, Template};

/// What the validate call is asked for beyond the template itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ValidateOptions {
    /// Heat's `show_nested`: also validate the nested templates (provider templates from the
    /// `files` map, chosen by type name or by the environment's `resource_registry`, and the
    /// member of an `OS::Heat::ResourceGroup`) and show their parameters under
    /// `NestedParameters`, keyed by resource name.
    pub show_nested: bool,
}

/// Heat's `max_nested_stack_depth`: how deep `show_nested` follows nested templates.
const MAX_NESTED_DEPTH: usize = 5;

/// Validates a template offline with its (merged) environment and files, and returns Heat's
/// validate answer: `Description`, `Parameters` (CFN-style keys), `ParameterGroups` when the
/// template has them, and `Environment` (the user environment).
///
/// Everything checkable without a cloud is checked: sections and keys (at parse), parameters,
/// conditions, references to unknown parameters/resources/conditions, `depends_on`, dependency
/// cycles; every active resource's properties, metadata and update policy and every output are
/// resolved with placeholders, and the errors that do not depend on values are reported.
pub fn validate(
    template: Template,
    environment: &Environment,
    files: BTreeMap<String, String>,
) -> Result<Value, TemplateError> {
    validate_with(template, environment, files, ValidateOptions::default())
}

/// [`validate`] with options (`show_nested`).
pub fn validate_with(
    template: Template,
    environment: &Environment,
    files: BTreeMap<String, String>,
    options: ValidateOptions,
) -> Result<Value, TemplateError> {
    validate_definition(template, environment, files, options).map(|(answer, _)| answer)
}

/// [`validate_with`], also giving the stack definition it checked (stack "dummy", parameters
/// without a value bound to placeholders of their type), so that a caller can run checks of
/// its own on the active resources (the engine checks their types, as Heat's validate does).
pub fn validate_definition(
    template: Template,
    environment: &Environment,
    files: BTreeMap<String, String>,
    options: ValidateOptions,
) -> Result<(Value, StackDefinition), TemplateError> {
    // Heat validates as a stack named "dummy".
    let (stack, parameters_view) = validate_stack(template, environment, files, "dummy")?;
    let template = stack.template();
    let mut answer = Map::new();
    answer.insert(
        "Description".into(),
        Value::String(template.description.clone()),
    );
    answer.insert("Parameters".into(), parameters_view);
    if let Some(groups) = parameter_groups(template) {
        answer.insert("ParameterGroups".into(), groups);
    }
    if options.show_nested {
        if let Some(nested) = nested_parameters(&stack, environment, 1)? {
            answer.insert("NestedParameters".into(), nested);
        }
    }
    answer.insert("Environment".into(), environment.user_env_json());
    Ok((Value::Object(answer), stack))
}

/// Checks one stack's template as Heat's validate does and gives its definition and the
/// parameters as the validate answer shows them.
fn validate_stack(
    template: Template,
    environment: &Environment,
    files: BTreeMap<String, String>,
    stack_name: &str,
) -> Result<(StackDefinition, Value), TemplateError> {
    let identity = StackIdentity {
        name: stack_name.to_string(),
        ..StackIdentity::default()
    };
    let input = StackInput::new(environment, files, identity);
    let details = resolve_parameters(&template, &input, false)?;
    // Heat validates without requiring values for parameters that have none: those get a
    // placeholder of their type so the rest of the template can be checked.
    let mut values = details.values();
    for parameter in details.iter() {
        if parameter.value.is_none() {
            values.insert(
                parameter.schema.name.clone(),
                placeholder(parameter.schema.param_type),
            );
        }
    }
    let parameters_view = Value::Object(details.validate_view());
    let stack = StackDefinition::with_parameters(template, input, values, details)?;
    let resolver = PlaceholderResolver;
    for resource in &stack.resources {
        for expr in [
            &resource.properties,
            &resource.metadata,
            &resource.update_policy,
        ]
        .into_iter()
        .flatten()
        {
            value_independent(stack.evaluate(expr, &resolver))?;
        }
    }
    for output in &stack.outputs {
        stack.output_references(&output.name)?;
        value_independent(stack.resolve_output(&output.name, &resolver))?;
    }
    Ok((stack, parameters_view))
}

fn parameter_groups(template: &Template) -> Option<Value> {
    (!matches!(template.parameter_groups.value, NodeValue::Null))
        .then(|| template.parameter_groups.to_json())
}

/// Heat's `Stack.get_nested_parameters`: for each resource backed by a nested template, that
/// template's type, description, parameters (with the values the resource passes), parameter
/// groups and, recursively, its own nested parameters. None when no resource has one.
fn nested_parameters(
    stack: &StackDefinition,
    environment: &Environment,
    depth: usize,
) -> Result<Option<Value>, TemplateError> {
    let mut result = Map::new();
    for resource in &stack.resources {
        let Some((template, child_environment)) = nested_template(stack, environment, resource)?
        else {
            continue;
        };
        if depth > MAX_NESTED_DEPTH {
            return Err(TemplateError::new(
                ErrorKind::Limit,
                resource.location.clone(),
                format!("Request limit exceeded: Recursion depth exceeds {MAX_NESTED_DEPTH}."),
            ));
        }
        let name = format!("{}-{}", stack.identity().name, resource.name);
        let (child, parameters_view) =
            validate_stack(template, &child_environment, stack.files().clone(), &name)?;
        let mut entry = Map::new();
        entry.insert("Type".into(), Value::String(resource.resource_type.clone()));
        entry.insert(
            "Description".into(),
            Value::String(child.template().description.clone()),
        );
        entry.insert("Parameters".into(), parameters_view);
        if let Some(groups) = parameter_groups(child.template()) {
            entry.insert("ParameterGroups".into(), groups);
        }
        if let Some(nested) = nested_parameters(&child, &child_environment, depth + 1)? {
            entry.insert("NestedParameters".into(), nested);
        }
        result.insert(resource.name.clone(), Value::Object(entry));
    }
    Ok((!result.is_empty()).then_some(Value::Object(result)))
}

/// The nested template behind a resource and the environment its stack gets (Heat's
/// `get_nested_parameters_stack`), or None for a resource without one.
fn nested_template(
    stack: &StackDefinition,
    environment: &Environment,
    resource: &StackResource,
) -> Result<Option<(Template, Environment)>, TemplateError> {
    // Types the environment does not map are the engine's; only the environment's provider
    // templates and the group below are nested here.
    let builtin = |_: &str| true;
    let global = GlobalRegistry::new(&builtin);
    let resolution = environment
        .resolve_resource(&global, &[], &resource.name, &resource.resource_type)
        .map_err(|e| TemplateError {
            location: resource.location.clone(),
            ..e
        })?;
    let properties = match &resource.properties {
        Some(expr) => match stack.evaluate(expr, &PlaceholderResolver) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        },
        None => Map::new(),
    };
    match resolution.implementation {
        Implementation::Template(file) => {
            let Some(text) = stack.files().get(&file) else {
                return Err(TemplateError::new(
                    ErrorKind::Reference,
                    resource.location.clone(),
                    format!("Could not fetch remote template \"{file}\": file not found"),
                ));
            };
            let template = parse_template(text, &file, &Limits::default())?;
            let parameters = provider_parameters(&template, properties)?;
            let child = environment.child(
                Some(&Value::Object(parameters)),
                Some(&resolution.path),
                Some(&resource.name),
            )?;
            Ok(Some((template, child)))
        }
        Implementation::Builtin(name) if name == RESOURCE_GROUP => {
            let template = group_member_template(&properties, &resource.location)?;
            let child = environment.child(None, None, Some(&resource.name))?;
            Ok(Some((template, child)))
        }
        Implementation::Builtin(_) => Ok(None),
    }
}

const RESOURCE_GROUP: &str = "OS::Heat::ResourceGroup";

/// Heat's `TemplateResource.child_params`: the resource's properties that have a value become
/// the provider template's parameters; a list for a `comma_delimited_list` parameter is passed
/// joined with commas.
fn provider_parameters(
    template: &Template,
    properties: Map<String, Value>,
) -> Result<Map<String, Value>, TemplateError> {
    let types = template.parameter_types()?;
    Ok(properties
        .into_iter()
        .filter(|(_, value)| !value.is_null())
        .map(|(name, value)| {
            let value = match (&value, types.get(&name)) {
                (Value::Array(items), Some(ParamType::CommaDelimitedList)) => Value::String(
                    items
                        .iter()
                        .map(crate::pycompat::str_of)
                        .collect::<Vec<_>>()
                        .join(","),
                ),
                _ => value,
            };
            (name, value)
        })
        .collect())
}

/// The nested template a resource group validates with: Heat builds a group of one member,
/// named `0`, from `resource_def` (whatever `count` says), its `index_var` (`%index%`) replaced
/// by the member's index in the definition's strings.
fn group_member_template(
    properties: &Map<String, Value>,
    location: &crate::node::Location,
) -> Result<Template, TemplateError> {
    let definition = properties
        .get("resource_def")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let index_var = properties
        .get("index_var")
        .and_then(Value::as_str)
        .unwrap_or("%index%");
    let mut member = Map::new();
    for key in ["type", "properties", "metadata"] {
        if let Some(value) = definition.get(key).filter(|v| !v.is_null()) {
            member.insert(key.into(), replace_index(value, index_var, "0"));
        }
    }
    let template = serde_json::json!({
        "heat_template_version": "2015-04-30",
        "resources": {"0": member},
    });
    Template::from_node(Node::from_json(&template), &location.file)
}

/// Keeps the errors that do not depend on values: with placeholder parameters and attributes a
/// function may fail on a value that the real stack would not have (Heat's validate does not
/// resolve values at all), but unknown parameters, resources and conditions, malformed calls and
/// budgets are errors whatever the values.
fn value_independent(result: Result<Value, TemplateError>) -> Result<(), TemplateError> {
    match result {
        Err(e) if e.kind != ErrorKind::Evaluation => Err(e),
        _ => Ok(()),
    }
}

fn replace_index(value: &Value, index_var: &str, index: &str) -> Value {
    match value {
        Value::String(s) if !index_var.is_empty() => Value::String(s.replace(index_var, index)),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| replace_index(v, index_var, index))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), replace_index(v, index_var, index)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn placeholder(param_type: ParamType) -> Value {
    match param_type {
        ParamType::String => Value::String(String::new()),
        ParamType::Number => Value::from(0),
        ParamType::CommaDelimitedList => Value::Array(Vec::new()),
        ParamType::Json => Value::Object(Map::new()),
        ParamType::Boolean => Value::Bool(false),
    }
}
