//! Compact schema declarations for the OpenStack types (Heat's property tables, one line each).

use std::collections::BTreeMap;

use ember_engine::schema::{AttributeSchema, Constraint, PropertySchema, PropertyType, TypeSchema};
use serde_json::Value;

pub(crate) fn string(description: &str) -> PropertySchema {
    PropertySchema::new(PropertyType::String, description)
}

pub(crate) fn integer(description: &str) -> PropertySchema {
    PropertySchema::new(PropertyType::Integer, description)
}

pub(crate) fn number(description: &str) -> PropertySchema {
    PropertySchema::new(PropertyType::Number, description)
}

pub(crate) fn boolean(description: &str) -> PropertySchema {
    PropertySchema::new(PropertyType::Boolean, description)
}

pub(crate) fn list(description: &str) -> PropertySchema {
    PropertySchema::new(PropertyType::List, description)
}

pub(crate) fn map(description: &str) -> PropertySchema {
    PropertySchema::new(PropertyType::Map, description)
}

/// A property checked against the cloud (`nova.flavor`, `neutron.network`, ...).
pub(crate) fn custom(schema: PropertySchema, constraint: &str) -> PropertySchema {
    schema.constraint(Constraint::Custom(constraint.to_string()))
}

pub(crate) fn allowed(schema: PropertySchema, values: &[&str]) -> PropertySchema {
    schema.constraint(Constraint::AllowedValues(
        values
            .iter()
            .map(|v| Value::String(v.to_string()))
            .collect(),
    ))
}

/// A type's schema from its property list and attribute names (`show` is added, as on every
/// Heat resource).
pub(crate) fn type_schema(
    description: &str,
    properties: Vec<(&str, PropertySchema)>,
    attributes: &[&str],
) -> TypeSchema {
    let mut attrs: BTreeMap<String, AttributeSchema> = attributes
        .iter()
        .map(|name| (name.to_string(), AttributeSchema::new(name)))
        .collect();
    attrs.insert(
        "show".into(),
        AttributeSchema::new("Detailed information about resource."),
    );
    TypeSchema {
        properties: properties
            .into_iter()
            .map(|(name, schema)| (name.to_string(), schema))
            .collect(),
        attributes: attrs,
        accepts_any_property: false,
        description: description.to_string(),
        support_status: "SUPPORTED",
        since_version: None,
    }
}
