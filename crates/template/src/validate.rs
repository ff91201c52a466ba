//! Static validation of a whole template, answering what Heat's validate API answers.

use serde_json::{Map, Value};

use crate::error::TemplateError;
use crate::eval::PlaceholderResolver;
use crate::parameters::ParamType;
use crate::stack::{resolve_parameters, StackDefinition, StackInput};
use crate::template::Template;

/// Validates a template offline and returns Heat's validate answer: `Description`, `Parameters`
/// (CFN-style keys), `ParameterGroups` when the template has them, and `Environment` when one is
/// given.
///
/// Everything checkable without a cloud is checked: sections and keys (at parse), parameters,
/// conditions, references to unknown parameters/resources/conditions, `depends_on`, dependency
/// cycles, and every active resource's properties, metadata and update policy and every output
/// resolved with placeholders (so malformed function arguments fail here, located).
pub fn validate(
    template: Template,
    input: StackInput,
    environment: Option<&Value>,
) -> Result<Value, TemplateError> {
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
    // Before a stack exists Heat has no stack name; properties may still read it.
    for pseudo in ["OS::stack_name", "AWS::StackName", "AWS::Region"] {
        let wanted = template.version.is_hot() == pseudo.starts_with("OS::");
        if wanted && !values.contains_key(pseudo) {
            values.insert(
                pseudo.to_string(),
                Value::String(input.identity.name.clone()),
            );
        }
    }
    let parameters_view = Value::Object(details.validate_view());
    let stack = StackDefinition::with_parameters(template, input, values, details)?;
    let resolver = PlaceholderResolver;
    for resource in &stack.resources {
        stack.resolve_properties(&resource.name, &resolver)?;
        stack.resolve_metadata(&resource.name, &resolver)?;
        stack.resolve_update_policy(&resource.name, &resolver)?;
    }
    for output in &stack.outputs {
        stack.output_references(&output.name)?;
        stack.resolve_output(&output.name, &resolver)?;
    }
    let template = stack.template();
    let mut answer = Map::new();
    answer.insert(
        "Description".into(),
        Value::String(template.description.clone()),
    );
    answer.insert("Parameters".into(), parameters_view);
    if !matches!(
        template.parameter_groups.value,
        crate::node::NodeValue::Null
    ) {
        answer.insert(
            "ParameterGroups".into(),
            template.parameter_groups.to_json(),
        );
    }
    if let Some(env) = environment {
        answer.insert("Environment".into(), env.clone());
    }
    Ok(Value::Object(answer))
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
