//! Merging environment files as Heat's API does (`environment_util.merge_environments`) and the
//! request's environment (`InstantiationData.environment`).

use indexmap::IndexMap;
use serde_json::Value;

use super::{Environment, EnvironmentFile};
use crate::error::{ErrorKind, TemplateError};
use crate::node::{Location, Node, NodeValue, Path};
use crate::parameters::ParamType;
use crate::pycompat;

/// How a parameter's values from several files combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeStrategy {
    /// The later value replaces the earlier (the default).
    Overwrite,
    /// Strings concatenate, lists extend, json maps update one level.
    Merge,
    /// As `Merge`, recursively through json maps.
    DeepMerge,
}

impl MergeStrategy {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "overwrite" => Some(MergeStrategy::Overwrite),
            "merge" => Some(MergeStrategy::Merge),
            "deep_merge" => Some(MergeStrategy::DeepMerge),
            _ => None,
        }
    }
}

fn merge_error(file: &str, message: impl Into<String>) -> TemplateError {
    TemplateError::new(ErrorKind::Parameter, Location::in_file(file), message)
}

/// Heat's `get_param_merge_strategy`: the file's choice for the key, else the one an earlier
/// file chose, else the file's `default`. An unknown name falls back to the file's default,
/// which Heat uses as written (an unknown default then behaves as overwrite).
fn strategy_for(
    in_file: &IndexMap<String, String>,
    key: &str,
    chosen: &IndexMap<String, String>,
) -> String {
    let default = in_file
        .get("default")
        .cloned()
        .unwrap_or_else(|| "overwrite".into());
    let strategy = in_file
        .get(key)
        .or_else(|| chosen.get(key))
        .cloned()
        .unwrap_or_else(|| default.clone());
    if MergeStrategy::parse(&strategy).is_some() {
        strategy
    } else {
        default
    }
}

fn is_sequence(v: &Value) -> bool {
    matches!(v, Value::String(_) | Value::Array(_))
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Heat's `merge_list`: lists extend, comma-delimited strings join with ','.
fn merge_list(old: Option<&Value>, new: &Value) -> Result<Value, String> {
    match (old, new) {
        (None, _) => Ok(new.clone()),
        (Some(o), _) if !truthy(o) => Ok(new.clone()),
        (Some(Value::Array(o)), Value::Array(n)) => {
            Ok(Value::Array(o.iter().chain(n).cloned().collect()))
        }
        (Some(Value::String(o)), Value::String(n)) => Ok(Value::String(format!("{o},{n}"))),
        (Some(o), n) => Err(format!(
            "can not merge {} with {}",
            pycompat::json_dumps(o, false),
            pycompat::json_dumps(n, false)
        )),
    }
}

/// Heat's `merge_map`: null values are skipped; one level, or recursively for `deep`.
fn merge_map(old: &Value, new: &Value, deep: bool) -> Result<Value, String> {
    if !truthy(old) {
        return Ok(new.clone());
    }
    let (Value::Object(old_map), Value::Object(new_map)) = (old, new) else {
        return Ok(new.clone());
    };
    let mut out = old_map.clone();
    for (k, v) in new_map {
        if v.is_null() {
            continue;
        }
        let merged = match (deep, v, out.get(k)) {
            (false, _, _) => v.clone(),
            (true, Value::Object(_), Some(o)) if truthy(o) => merge_map(o, v, true)?,
            (true, Value::Array(_), Some(o)) if truthy(o) => merge_list(Some(o), v)?,
            (true, Value::String(s), Some(Value::String(o))) => Value::String(format!("{o}{s}")),
            _ => v.clone(),
        };
        out.insert(k.clone(), merged);
    }
    Ok(Value::Object(out))
}

/// Heat's `parse_param` for merging: json text is parsed; other types must be text or a list.
fn parse_param(value: &Value, ptype: ParamType) -> Result<Value, String> {
    if ptype == ParamType::Json {
        return match value {
            Value::String(s) if s.is_empty() => Ok(value.clone()),
            Value::String(s) => crate::parameters::coerce::json_loads(s)
                .map_err(|e| format!("Invalid parameter in environment {e}.")),
            other => Ok(other.clone()),
        };
    }
    if is_sequence(value) {
        Ok(value.clone())
    } else {
        Err("Invalid parameter in environment .".to_string())
    }
}

fn merge_one(
    old: &mut IndexMap<String, Value>,
    key: &str,
    value: &Value,
    ptype: ParamType,
    deep: bool,
) -> Result<(), String> {
    let value = parse_param(value, ptype)?;
    let merged = match ptype {
        ParamType::Json => merge_map(
            old.get(key).unwrap_or(&Value::Object(Default::default())),
            &value,
            deep,
        )?,
        ParamType::CommaDelimitedList => merge_list(old.get(key), &value)?,
        ParamType::String | ParamType::Number => match (old.get(key), &value) {
            (None, Value::String(n)) if ptype == ParamType::String => Value::String(n.clone()),
            (Some(Value::String(o)), Value::String(n)) => Value::String(format!("{o}{n}")),
            (o, n) => {
                return Err(format!(
                    "unsupported operand type(s) for +: '{}' and '{}'",
                    o.map_or("int", python_type),
                    python_type(n)
                ))
            }
        },
        ParamType::Boolean => {
            return Err(format!(
                "Invalid merge strategy 'merge' for parameter '{key}'."
            ))
        }
    };
    old.insert(key.to_string(), merged);
    Ok(())
}

fn python_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::Null => "NoneType",
    }
}

/// Heat's `merge_parameters` for one section of one file.
fn merge_parameters(
    old: &mut IndexMap<String, Value>,
    new: &IndexMap<String, Value>,
    types: &IndexMap<String, ParamType>,
    in_file: &IndexMap<String, String>,
    chosen: &mut IndexMap<String, String>,
    file: &str,
) -> Result<(), TemplateError> {
    for (key, value) in new {
        if !types.contains_key(key) || value.is_null() {
            continue;
        }
        let strategy = strategy_for(in_file, key, chosen);
        match chosen.get(key) {
            None => {
                chosen.insert(key.clone(), strategy);
            }
            Some(previous) if *previous != strategy => {
                return Err(merge_error(
                    file,
                    format!("Conflicting merge strategy '{strategy}' for parameter '{key}' in file '{file}'."),
                ));
            }
            Some(_) => {}
        }
    }
    if old.is_empty() {
        *old = new.clone();
        return Ok(());
    }
    for (key, value) in new {
        let (Some(ptype), false) = (types.get(key), value.is_null()) else {
            continue;
        };
        let strategy = chosen
            .get(key)
            .and_then(|s| MergeStrategy::parse(s))
            .unwrap_or(MergeStrategy::Overwrite);
        match strategy {
            MergeStrategy::Overwrite => {
                old.insert(key.clone(), value.clone());
            }
            MergeStrategy::Merge | MergeStrategy::DeepMerge => {
                merge_one(
                    old,
                    key,
                    value,
                    *ptype,
                    strategy == MergeStrategy::DeepMerge,
                )
                .map_err(|m| merge_error(file, m))?;
            }
        }
    }
    Ok(())
}

/// The sections of an environment being assembled, as Heat's dict before `Environment(...)`.
#[derive(Debug, Clone, Default)]
struct EnvDict {
    parameters: IndexMap<String, Value>,
    parameter_defaults: IndexMap<String, Value>,
    resource_registry: Vec<(Node, Node)>,
    encrypted_param_names: Option<Node>,
    event_sinks: Option<Node>,
}

impl EnvDict {
    fn from_file(file: &EnvironmentFile) -> Result<Self, TemplateError> {
        let mut dict = EnvDict::default();
        for (name, node) in &file.sections {
            let as_map = |n: &Node| -> IndexMap<String, Value> {
                n.as_map()
                    .unwrap_or_default()
                    .iter()
                    .map(|(k, v)| (k.key_text(), v.to_json()))
                    .collect()
            };
            match name.as_str() {
                "parameters" => dict.parameters = as_map(node),
                "parameter_defaults" => dict.parameter_defaults = as_map(node),
                "resource_registry" => {
                    dict.resource_registry = node.as_map().unwrap_or_default().to_vec()
                }
                "encrypted_param_names" => dict.encrypted_param_names = Some(node.clone()),
                "event_sinks" => dict.event_sinks = Some(node.clone()),
                _ => {}
            }
        }
        Ok(dict)
    }

    fn into_environment(self) -> Result<Environment, TemplateError> {
        let mut sections: IndexMap<String, Node> = IndexMap::new();
        let map =
            |m: IndexMap<String, Value>| Node::from_json(&Value::Object(m.into_iter().collect()));
        sections.insert("parameter_defaults".into(), map(self.parameter_defaults));
        sections.insert(
            "resource_registry".into(),
            Node::new(NodeValue::Map(self.resource_registry), Default::default()),
        );
        if let Some(names) = self.encrypted_param_names {
            sections.insert("encrypted_param_names".into(), names);
        }
        sections.insert("parameters".into(), map(self.parameters));
        if let Some(sinks) = self.event_sinks {
            sections.insert("event_sinks".into(), sinks);
        }
        Environment::from_sections(&sections, "")
    }
}

/// Heat's `merge_map` on a registry level: later non-null keys replace earlier ones (an empty
/// earlier registry takes the later one whole, nulls included).
fn merge_registry(old: &mut Vec<(Node, Node)>, new: &[(Node, Node)]) {
    if old.is_empty() {
        *old = new.to_vec();
        return;
    }
    for (k, v) in new {
        if matches!(v.value, NodeValue::Null) {
            continue;
        }
        let name = k.key_text();
        match old.iter_mut().find(|(ok, _)| ok.key_text() == name) {
            Some(slot) => slot.1 = v.clone(),
            None => old.push((k.clone(), v.clone())),
        }
    }
}

fn strategies_of(file: &EnvironmentFile) -> Result<IndexMap<String, String>, TemplateError> {
    let Some(node) = file.sections.get("parameter_merge_strategies") else {
        return Ok(IndexMap::new());
    };
    let Some(entries) = node.as_map() else {
        return Err(TemplateError::new(
            ErrorKind::Structure,
            Location::new(
                file.file.as_str(),
                node.span,
                Path::root().child("parameter_merge_strategies"),
            ),
            "environment section \"parameter_merge_strategies\" must be a mapping",
        ));
    };
    Ok(entries
        .iter()
        .map(|(k, v)| {
            (
                k.key_text(),
                v.as_str()
                    .map_or_else(|| pycompat::str_of(&v.to_json()), str::to_string),
            )
        })
        .collect())
}

fn merge_files_into(
    dict: &mut EnvDict,
    files: &[EnvironmentFile],
    types: &IndexMap<String, ParamType>,
) -> Result<(), TemplateError> {
    let mut chosen: IndexMap<String, String> = IndexMap::new();
    for file in files {
        let strategies = strategies_of(file)?;
        let parsed = EnvDict::from_file(file)?;
        for name in file.sections.keys() {
            match name.as_str() {
                "parameters" if !parsed.parameters.is_empty() => merge_parameters(
                    &mut dict.parameters,
                    &parsed.parameters,
                    types,
                    &strategies,
                    &mut chosen,
                    &file.file,
                )?,
                "parameter_defaults" if !parsed.parameter_defaults.is_empty() => merge_parameters(
                    &mut dict.parameter_defaults,
                    &parsed.parameter_defaults,
                    types,
                    &strategies,
                    &mut chosen,
                    &file.file,
                )?,
                "resource_registry" => {
                    merge_registry(&mut dict.resource_registry, &parsed.resource_registry)
                }
                // Lists: Heat's shallow dict update only works when the earlier one is empty;
                // a later non-empty list replaces it.
                "encrypted_param_names" => {
                    if let Some(n) = parsed
                        .encrypted_param_names
                        .clone()
                        .filter(|n| n.as_list().is_some_and(|l| !l.is_empty()))
                    {
                        dict.encrypted_param_names = Some(n);
                    }
                }
                "event_sinks" => {
                    if let Some(n) = parsed
                        .event_sinks
                        .clone()
                        .filter(|n| n.as_list().is_some_and(|l| !l.is_empty()))
                    {
                        dict.event_sinks = Some(n);
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Merges environment files in order over `base` (Heat's `merge_environments`): `parameters`
/// and `parameter_defaults` by each parameter's merge strategy (only names in `types`, the
/// parameters of the template and its nested templates, are merged once something is there),
/// the other sections by a shallow update.
pub fn merge_environment_files(
    base: &Environment,
    files: &[EnvironmentFile],
    types: &IndexMap<String, ParamType>,
) -> Result<Environment, TemplateError> {
    let registry = Node::from_json(&base.registry.to_json());
    let mut dict = EnvDict {
        parameters: base.parameters.clone(),
        parameter_defaults: base.parameter_defaults.clone(),
        resource_registry: registry.as_map().unwrap_or_default().to_vec(),
        encrypted_param_names: Some(Node::from_json(&Value::Array(
            base.encrypted_param_names.clone(),
        ))),
        event_sinks: Some(Node::from_json(&Value::Array(base.event_sinks.clone()))),
    };
    // An empty `resources: {}` is what an empty registry shows; it must not count as content.
    dict.resource_registry
        .retain(|(k, v)| !(k.key_text() == "resources" && v.as_map().is_some_and(<[_]>::is_empty)));
    merge_files_into(&mut dict, files, types)?;
    dict.into_environment()
}

/// The environment of a create/update/validate request, as Heat's API builds it: the inline
/// `environment` (ignored when `environment_files` are given), the request's `parameters` on
/// top, then the environment files merged in order.
pub fn request_environment(
    inline: Option<&EnvironmentFile>,
    environment_files: &[EnvironmentFile],
    parameters: &IndexMap<String, Value>,
    types: &IndexMap<String, ParamType>,
) -> Result<Environment, TemplateError> {
    let mut dict = match inline.filter(|_| environment_files.is_empty()) {
        Some(file) => EnvDict::from_file(file)?,
        None => EnvDict::default(),
    };
    dict.parameters
        .extend(parameters.iter().map(|(k, v)| (k.clone(), v.clone())));
    merge_files_into(&mut dict, environment_files, types)?;
    dict.into_environment()
}
