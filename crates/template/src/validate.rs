//! Static validation of a whole template, answering what Heat's validate API answers.

use serde_json::{Map, Value};

use crate::error::TemplateError;
use crate::eval::PlaceholderResolver;
use crate::stack::{StackDefinition, StackInput};
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
    let user_values = input.parameters.clone();
    let stack = StackDefinition::new(template, input)?;
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
    answer.insert(
        "Parameters".into(),
        crate::parameter_values::validate_view(template, &user_values),
    );
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
