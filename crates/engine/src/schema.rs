//! Property and attribute schemas of resource types, and validation of property values against
//! them with the coercions Heat's `properties.py` applies (numbers from strings, `"true"` to a
//! boolean, scalars to strings), so that the same templates are accepted and refused.

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The data type of a property, as Heat names them in resource-type schemas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyType {
    String,
    Integer,
    Number,
    Boolean,
    List,
    Map,
    Any,
}

impl PropertyType {
    pub fn heat_name(self) -> &'static str {
        match self {
            PropertyType::String => "string",
            PropertyType::Integer => "integer",
            PropertyType::Number => "number",
            PropertyType::Boolean => "boolean",
            PropertyType::List => "list",
            PropertyType::Map => "map",
            PropertyType::Any => "any",
        }
    }
}

/// A constraint on a property value.
#[derive(Debug, Clone, PartialEq)]
pub enum Constraint {
    Range {
        min: Option<f64>,
        max: Option<f64>,
    },
    Length {
        min: Option<usize>,
        max: Option<usize>,
    },
    AllowedValues(Vec<Value>),
    AllowedPattern(String),
    /// A named check (`nova.flavor`, `test_constr`); the type's `validate` performs it.
    Custom(String),
}

/// The schema of one property.
#[derive(Debug, Clone)]
pub struct PropertySchema {
    pub kind: PropertyType,
    pub description: String,
    pub required: bool,
    pub default: Option<Value>,
    pub update_allowed: bool,
    pub immutable: bool,
    pub constraints: Vec<Constraint>,
    /// For maps: the schema of each known key. For lists: the schema of every item, under `"*"`.
    pub nested: Option<BTreeMap<String, PropertySchema>>,
}

impl PropertySchema {
    pub fn new(kind: PropertyType, description: &str) -> Self {
        PropertySchema {
            kind,
            description: description.to_string(),
            required: false,
            default: None,
            update_allowed: false,
            immutable: false,
            constraints: Vec::new(),
            nested: None,
        }
    }
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub fn default(mut self, value: Value) -> Self {
        self.default = Some(value);
        self
    }
    pub fn update_allowed(mut self) -> Self {
        self.update_allowed = true;
        self
    }
    pub fn immutable(mut self) -> Self {
        self.immutable = true;
        self
    }
    pub fn constraint(mut self, constraint: Constraint) -> Self {
        self.constraints.push(constraint);
        self
    }
    /// Known keys of a map property.
    pub fn with_keys(mut self, keys: Vec<(&str, PropertySchema)>) -> Self {
        self.nested = Some(keys.into_iter().map(|(k, s)| (k.to_string(), s)).collect());
        self
    }
    /// The schema of each item of a list property.
    pub fn with_items(mut self, item: PropertySchema) -> Self {
        self.nested = Some(BTreeMap::from([(LIST_ITEM.to_string(), item)]));
        self
    }

    /// The schema as `GET /resource_types/{type}` shows it.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("type".into(), json!(self.kind.heat_name()));
        out.insert("description".into(), json!(self.description));
        out.insert("required".into(), json!(self.required));
        out.insert("update_allowed".into(), json!(self.update_allowed));
        out.insert("immutable".into(), json!(self.immutable));
        if let Some(d) = &self.default {
            out.insert("default".into(), d.clone());
        }
        if !self.constraints.is_empty() {
            let cs: Vec<Value> = self.constraints.iter().map(constraint_json).collect();
            out.insert("constraints".into(), Value::Array(cs));
        }
        if let Some(nested) = &self.nested {
            let schema = match (self.kind, nested.get(LIST_ITEM)) {
                (PropertyType::List, Some(item)) => json!({"*": item.to_json()}),
                _ => Value::Object(
                    nested
                        .iter()
                        .map(|(k, s)| (k.clone(), s.to_json()))
                        .collect(),
                ),
            };
            out.insert("schema".into(), schema);
        }
        Value::Object(out)
    }
}

const LIST_ITEM: &str = "*";

fn constraint_json(c: &Constraint) -> Value {
    match c {
        Constraint::Range { min, max } => {
            let mut r = Map::new();
            if let Some(m) = min {
                r.insert("min".into(), num_json(*m));
            }
            if let Some(m) = max {
                r.insert("max".into(), num_json(*m));
            }
            json!({ "range": r })
        }
        Constraint::Length { min, max } => {
            let mut r = Map::new();
            if let Some(m) = min {
                r.insert("min".into(), json!(m));
            }
            if let Some(m) = max {
                r.insert("max".into(), json!(m));
            }
            json!({ "length": r })
        }
        Constraint::AllowedValues(v) => json!({ "allowed_values": v }),
        Constraint::AllowedPattern(p) => json!({ "allowed_pattern": p }),
        Constraint::Custom(name) => json!({ "custom_constraint": name }),
    }
}

fn num_json(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        json!(n as i64)
    } else {
        json!(n)
    }
}

/// The schema of one attribute.
#[derive(Debug, Clone)]
pub struct AttributeSchema {
    pub description: String,
    /// Heat's attribute type when declared (`string`, `map`, ...).
    pub kind: Option<&'static str>,
}

impl AttributeSchema {
    pub fn new(description: &str) -> Self {
        AttributeSchema {
            description: description.to_string(),
            kind: None,
        }
    }
}

/// The full schema of a resource type.
#[derive(Debug, Clone, Default)]
pub struct TypeSchema {
    pub properties: BTreeMap<String, PropertySchema>,
    pub attributes: BTreeMap<String, AttributeSchema>,
    /// Types such as `OS::Heat::None` take any property and validate none.
    pub accepts_any_property: bool,
    pub description: String,
    /// `SUPPORTED`, `DEPRECATED`, `HIDDEN`, `UNSUPPORTED`.
    pub support_status: &'static str,
    pub since_version: Option<&'static str>,
}

/// A validation failure with the path of the offending value inside the properties
/// (`["length"]`, `["character_classes", "0", "class"]`), so the caller can prefix
/// `resources.<name>.properties` and show where it is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}: {message}", path.join("."))]
pub struct PropertyError {
    pub path: Vec<String>,
    pub message: String,
}

impl PropertyError {
    fn at(path: &[String], message: impl Into<String>) -> Self {
        PropertyError {
            path: path.to_vec(),
            message: message.into(),
        }
    }
}

/// Validates and coerces resolved property values against `schema`, filling defaults.
/// Unknown keys are refused (`Unknown Property x`) unless the type accepts any property.
pub fn validate_properties(
    schema: &TypeSchema,
    values: &Map<String, Value>,
) -> Result<Map<String, Value>, PropertyError> {
    if schema.accepts_any_property {
        return Ok(values.clone());
    }
    validate_map(&schema.properties, values, &mut Vec::new())
}

fn validate_map(
    schemas: &BTreeMap<String, PropertySchema>,
    values: &Map<String, Value>,
    path: &mut Vec<String>,
) -> Result<Map<String, Value>, PropertyError> {
    if let Some(key) = values.keys().find(|k| !schemas.contains_key(*k)) {
        return Err(PropertyError::at(path, format!("Unknown Property {key}")));
    }
    let mut out = Map::new();
    for (key, schema) in schemas {
        path.push(key.clone());
        let given = values.get(key).filter(|v| !v.is_null());
        let value = match (given, &schema.default) {
            (Some(v), _) => Some(coerce(schema, v, path)?),
            (None, Some(d)) => Some(coerce(schema, d, path)?),
            (None, None) if schema.required => {
                path.pop();
                return Err(PropertyError::at(
                    path,
                    format!("Property {key} not assigned"),
                ));
            }
            (None, None) => None,
        };
        if let Some(v) = &value {
            check_constraints(schema, v, path)?;
        }
        path.pop();
        out.insert(key.clone(), value.unwrap_or(Value::Null));
    }
    Ok(out)
}

fn coerce(
    schema: &PropertySchema,
    value: &Value,
    path: &mut Vec<String>,
) -> Result<Value, PropertyError> {
    match schema.kind {
        PropertyType::Any => Ok(value.clone()),
        PropertyType::String => match value {
            Value::String(_) => Ok(value.clone()),
            Value::Bool(b) => Ok(json!(if *b { "True" } else { "False" })),
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(json!(n.to_string())),
            other => Err(PropertyError::at(
                path,
                format!("Value must be a string; got {}", python_repr(other)),
            )),
        },
        PropertyType::Integer => match to_number(value) {
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(Value::Number(n)),
            Some(Value::Number(n)) => Ok(json!(n.as_f64().unwrap_or(0.0).trunc() as i64)),
            _ => Err(PropertyError::at(
                path,
                format!("Value '{}' is not an integer", python_str(value)),
            )),
        },
        PropertyType::Number => to_number(value).ok_or_else(|| {
            PropertyError::at(
                path,
                format!("could not convert string to float: '{}'", python_str(value)),
            )
        }),
        PropertyType::Boolean => match value {
            Value::Bool(_) => Ok(value.clone()),
            Value::String(s) => match s.to_lowercase().as_str() {
                "true" => Ok(json!(true)),
                "false" => Ok(json!(false)),
                other => Err(PropertyError::at(
                    path,
                    format!("\"{other}\" is not a valid boolean"),
                )),
            },
            other => Err(PropertyError::at(
                path,
                format!("\"{}\" is not a valid boolean", python_str(other)),
            )),
        },
        PropertyType::Map => match value {
            Value::Object(m) => match &schema.nested {
                Some(keys) => Ok(Value::Object(validate_map(keys, m, path)?)),
                None => Ok(value.clone()),
            },
            other => Err(PropertyError::at(
                path,
                format!("\"{}\" is not a map", python_str(other)),
            )),
        },
        PropertyType::List => {
            let items: Vec<Value> = match value {
                Value::Array(items) => items.clone(),
                other => {
                    return Err(PropertyError::at(
                        path,
                        format!("\"{}\" is not a list", python_repr(other)),
                    ))
                }
            };
            match schema.nested.as_ref().and_then(|n| n.get(LIST_ITEM)) {
                Some(item_schema) => {
                    let mut out = Vec::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        path.push(i.to_string());
                        let v = if item.is_null() {
                            item_schema.default.clone().unwrap_or(Value::Null)
                        } else {
                            coerce(item_schema, item, path)?
                        };
                        check_constraints(item_schema, &v, path)?;
                        path.pop();
                        out.push(v);
                    }
                    Ok(Value::Array(out))
                }
                None => Ok(Value::Array(items)),
            }
        }
    }
}

/// Python's `int()`/`float()` reading of a value, as `Schema.str_to_num` does.
fn to_number(value: &Value) -> Option<Value> {
    match value {
        Value::Number(_) => Some(value.clone()),
        Value::String(s) => {
            let t = s.trim();
            if let Ok(i) = t.parse::<i64>() {
                Some(json!(i))
            } else {
                t.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
            }
        }
        _ => None,
    }
}

fn check_constraints(
    schema: &PropertySchema,
    value: &Value,
    path: &[String],
) -> Result<(), PropertyError> {
    for c in &schema.constraints {
        match c {
            Constraint::Range { min, max } => {
                if let Some(n) = to_number(value).and_then(|v| v.as_f64()) {
                    if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                        return Err(PropertyError::at(
                            path,
                            format!(
                                "{} is out of range (min: {}, max: {})",
                                python_str(value),
                                opt_num(*min),
                                opt_num(*max)
                            ),
                        ));
                    }
                }
            }
            Constraint::Length { min, max } => {
                let len = match value {
                    Value::String(s) => s.chars().count(),
                    Value::Array(a) => a.len(),
                    Value::Object(m) => m.len(),
                    _ => continue,
                };
                if min.is_some_and(|m| len < m) || max.is_some_and(|m| len > m) {
                    return Err(PropertyError::at(
                        path,
                        format!(
                            "length ({len}) is out of range (min: {}, max: {})",
                            min.map_or("None".to_string(), |m| m.to_string()),
                            max.map_or("None".to_string(), |m| m.to_string())
                        ),
                    ));
                }
            }
            Constraint::AllowedValues(allowed) => {
                let ok = match value {
                    Value::Array(items) => items.iter().all(|v| allowed_contains(allowed, v)),
                    v => allowed_contains(allowed, v),
                };
                if !ok {
                    let list: Vec<String> = allowed.iter().map(|a| a.to_string()).collect();
                    return Err(PropertyError::at(
                        path,
                        format!("{value} is not an allowed value [{}]", list.join(", ")),
                    ));
                }
            }
            Constraint::AllowedPattern(pattern) => {
                if let Value::String(s) = value {
                    let matches = regex::Regex::new(&format!("^(?:{pattern})$"))
                        .map(|re| re.is_match(s))
                        .unwrap_or(false);
                    if !matches {
                        return Err(PropertyError::at(
                            path,
                            format!("\"{s}\" does not match pattern \"{pattern}\""),
                        ));
                    }
                }
            }
            Constraint::Custom(_) => {}
        }
    }
    Ok(())
}

fn allowed_contains(allowed: &[Value], v: &Value) -> bool {
    allowed.iter().any(|a| {
        a == v
            || match (a.as_f64(), to_number(v).and_then(|n| n.as_f64())) {
                (Some(x), Some(y)) => x == y,
                _ => false,
            }
    })
}

fn opt_num(n: Option<f64>) -> String {
    n.map_or("None".to_string(), |n| num_json(n).to_string())
}

/// How Python's `str()` shows a JSON value in Heat's messages.
pub fn python_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => python_repr(other),
    }
}

/// How Python's `repr()` shows a JSON value.
pub fn python_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("'{s}'"),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(python_repr).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("'{k}': {}", python_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> TypeSchema {
        let mut s = TypeSchema::default();
        s.properties.insert(
            "length".into(),
            PropertySchema::new(PropertyType::Integer, "")
                .default(json!(32))
                .constraint(Constraint::Range {
                    min: Some(1.0),
                    max: Some(512.0),
                }),
        );
        s.properties.insert(
            "flag".into(),
            PropertySchema::new(PropertyType::Boolean, ""),
        );
        s.properties
            .insert("name".into(), PropertySchema::new(PropertyType::String, ""));
        s.properties.insert(
            "classes".into(),
            PropertySchema::new(PropertyType::List, "").with_items(
                PropertySchema::new(PropertyType::Map, "").with_keys(vec![(
                    "class",
                    PropertySchema::new(PropertyType::String, "")
                        .default(json!("digits"))
                        .constraint(Constraint::AllowedValues(vec![
                            json!("digits"),
                            json!("letters"),
                        ])),
                )]),
            ),
        );
        s
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn coerces_as_heat_does() {
        let out = validate_properties(
            &schema(),
            &obj(json!({"length": "12", "flag": "TRUE", "name": 5})),
        )
        .unwrap();
        assert_eq!(out["length"], json!(12));
        assert_eq!(out["flag"], json!(true));
        assert_eq!(out["name"], json!("5"));
        assert_eq!(out["classes"], Value::Null);
    }

    #[test]
    fn errors_name_the_path() {
        let e = validate_properties(&schema(), &obj(json!({"length": 600}))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "length: 600 is out of range (min: 1, max: 512)"
        );
        let e =
            validate_properties(&schema(), &obj(json!({"classes": [{"class": "x"}]}))).unwrap_err();
        assert_eq!(e.path, vec!["classes", "0", "class"]);
        assert_eq!(
            e.message,
            "\"x\" is not an allowed value [\"digits\", \"letters\"]"
        );
        let e = validate_properties(&schema(), &obj(json!({"bogus": 1}))).unwrap_err();
        assert_eq!(e.message, "Unknown Property bogus");
        let e = validate_properties(&schema(), &obj(json!({"flag": 1}))).unwrap_err();
        assert_eq!(e.message, "\"1\" is not a valid boolean");
        let e = validate_properties(&schema(), &obj(json!({"length": "x"}))).unwrap_err();
        assert_eq!(e.message, "Value 'x' is not an integer");
    }

    #[test]
    fn nested_defaults_are_filled() {
        let out = validate_properties(&schema(), &obj(json!({"classes": [{}]}))).unwrap();
        assert_eq!(out["classes"], json!([{"class": "digits"}]));
    }
}
