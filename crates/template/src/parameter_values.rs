//! Parameter values for a stack definition: user values over environment defaults over template
//! defaults, typed by the declared parameter type, plus the pseudo parameters.
//!
//! This is the minimal resolution the stack facade needs; constraint checking and the full Heat
//! schema (labels, hidden, constraints, groups) belong to the `parameters` module.

use indexmap::IndexMap;
use serde_json::Value;

use crate::error::{ErrorKind, TemplateError};
use crate::node::{Location, Node};
use crate::stack::StackInput;
use crate::template::Template;

pub(crate) fn resolve(
    template: &Template,
    input: &StackInput,
) -> Result<IndexMap<String, Value>, TemplateError> {
    let hot = template.version.is_hot();
    let (type_key, default_key) = if hot {
        ("type", "default")
    } else {
        ("Type", "Default")
    };
    let section_path =
        crate::node::Path::root().child(if hot { "parameters" } else { "Parameters" });
    let declared: &[(Node, Node)] = template.parameters.as_map().unwrap_or_default();
    let mut values = IndexMap::new();
    for name in input.parameters.keys() {
        if !declared.iter().any(|(k, _)| &k.key_text() == name) && !is_pseudo(name) {
            return Err(TemplateError::new(
                ErrorKind::Parameter,
                Location::new(
                    &template.file,
                    template.parameters.span,
                    section_path.clone(),
                ),
                format!("The Parameter ({name}) was not defined in template."),
            ));
        }
    }
    for (key, schema) in declared {
        let name = key.key_text();
        let location = Location::new(&template.file, key.span, section_path.child(name.clone()));
        let declared_type = schema
            .get(type_key)
            .and_then(|t| t.as_str())
            .unwrap_or("string");
        let given = input
            .parameters
            .get(&name)
            .or_else(|| input.parameter_defaults.get(&name))
            .cloned()
            .or_else(|| schema.get(default_key).map(Node::to_json));
        let Some(given) = given else {
            return Err(TemplateError::new(
                ErrorKind::Parameter,
                location,
                format!("The Parameter ({name}) was not provided."),
            ));
        };
        let typed = coerce(declared_type, given).map_err(|message| {
            TemplateError::new(
                ErrorKind::Parameter,
                location.clone(),
                format!("Parameter '{name}' is invalid: {message}"),
            )
        })?;
        values.insert(name, typed);
    }
    let identity = &input.identity;
    if hot {
        values.insert(
            "OS::stack_name".into(),
            Value::String(identity.name.clone()),
        );
        values.insert("OS::stack_id".into(), Value::String(identity.id.clone()));
        values.insert(
            "OS::project_id".into(),
            Value::String(identity.project_id.clone()),
        );
    } else {
        values.insert(
            "AWS::StackName".into(),
            Value::String(identity.name.clone()),
        );
        values.insert(
            "AWS::StackId".into(),
            Value::String(format!(
                "arn:openstack:heat::{}:stacks/{}/{}",
                identity.project_id, identity.name, identity.id
            )),
        );
        values.insert("AWS::Region".into(), Value::String("ap-southeast-1".into()));
    }
    Ok(values)
}

fn is_pseudo(name: &str) -> bool {
    name.starts_with("OS::") || name.starts_with("AWS::")
}

fn coerce(declared_type: &str, value: Value) -> Result<Value, String> {
    match (declared_type, value) {
        ("number" | "Number", Value::String(s)) => {
            if let Ok(i) = s.trim().parse::<i64>() {
                Ok(Value::from(i))
            } else {
                s.trim()
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .ok_or_else(|| format!("could not convert string to float: '{s}'"))
            }
        }
        ("comma_delimited_list" | "CommaDelimitedList", Value::String(s)) => Ok(if s.is_empty() {
            Value::Array(Vec::new())
        } else {
            Value::Array(s.split(',').map(|p| Value::String(p.to_string())).collect())
        }),
        ("json" | "Json", Value::String(s)) => {
            serde_json::from_str(&s).map_err(|e| format!("Value must be valid JSON: {e}"))
        }
        ("boolean" | "Boolean", Value::String(s)) => match s.to_lowercase().as_str() {
            "true" | "yes" | "1" | "on" | "t" | "y" => Ok(Value::Bool(true)),
            "false" | "no" | "0" | "off" | "f" | "n" => Ok(Value::Bool(false)),
            _ => Err(format!("Unrecognized value '{s}', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'")),
        },
        ("string" | "String", v @ (Value::Number(_) | Value::Bool(_))) => {
            Ok(Value::String(crate::pycompat::str_of(&v)))
        }
        (_, v) => Ok(v),
    }
}

/// The `Parameters` part of Heat's validate answer: each declared parameter with CFN-style keys.
/// `Value` appears when the user gave one.
pub(crate) fn validate_view(template: &Template, user_values: &IndexMap<String, Value>) -> Value {
    let hot = template.version.is_hot();
    let declared: &[(Node, Node)] = template.parameters.as_map().unwrap_or_default();
    let mut out = serde_json::Map::new();
    for (key, schema) in declared {
        let name = key.key_text();
        let field = |hot_key: &str, cfn_key: &str| schema.get(if hot { hot_key } else { cfn_key });
        let declared_type = field("type", "Type")
            .and_then(Node::as_str)
            .unwrap_or("string");
        let mut view = serde_json::Map::new();
        view.insert(
            "Type".into(),
            Value::String(cfn_type_name(declared_type).to_string()),
        );
        view.insert(
            "Description".into(),
            Value::String(
                field("description", "Description")
                    .and_then(Node::as_str)
                    .unwrap_or("")
                    .to_string(),
            ),
        );
        if let Some(default) = field("default", "Default") {
            view.insert("Default".into(), default.to_json());
        }
        let hidden = if hot {
            matches!(
                schema.get("hidden").map(|h| &h.value),
                Some(crate::node::NodeValue::Bool(true))
            )
        } else {
            schema.get("NoEcho").and_then(Node::as_str) == Some("true")
        };
        view.insert("NoEcho".into(), Value::String(hidden.to_string()));
        view.insert(
            "Label".into(),
            Value::String(
                field("label", "Label")
                    .and_then(Node::as_str)
                    .unwrap_or(&name)
                    .to_string(),
            ),
        );
        // Heat shows the value the user gave, when it is truthy.
        if let Some(v) = user_values.get(&name).filter(|v| !crate::eval::is_falsy(v)) {
            view.insert("Value".into(), v.clone());
        }
        out.insert(name, Value::Object(view));
    }
    Value::Object(out)
}

fn cfn_type_name(hot_type: &str) -> &str {
    match hot_type {
        "string" => "String",
        "number" => "Number",
        "comma_delimited_list" => "CommaDelimitedList",
        "json" => "Json",
        "boolean" => "Boolean",
        other => other,
    }
}
