//! Static validation of a whole template, answering what Heat's validate API answers.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::environment::Environment;
use crate::error::{ErrorKind, TemplateError};
use crate::eval::PlaceholderResolver;
use crate::parameters::ParamType;
use crate::stack::{resolve_parameters, StackDefinition, StackIdentity, StackInput};
use crate::template::Template;

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
    // Heat validates as a stack named "dummy".
    let identity = StackIdentity {
        name: "dummy".to_string(),
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
    answer.insert("Environment".into(), environment.user_env_json());
    Ok(Value::Object(answer))
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

fn placeholder(param_type: ParamType) -> Value {
    match param_type {
        ParamType::String => Value::String(String::new()),
        ParamType::Number => Value::from(0),
        ParamType::CommaDelimitedList => Value::Array(Vec::new()),
        ParamType::Json => Value::Object(Map::new()),
        ParamType::Boolean => Value::Bool(false),
    }
}
