//! Environments: parsing environment files, the resource registry and its lookups (type aliases,
//! provider templates, globs, per-resource entries, hooks, restricted actions), merging several
//! environment files in order as Heat's API does, and the child environment of a nested stack.
//!
//! Texts of errors are Heat's (`environment has wrong section "x"`, `Invalid hook type ...`,
//! `Conflicting merge strategy ...`, `The Resource Type (x) could not be found.`).

mod fnmatch;
mod merge;
mod registry;

use indexmap::IndexMap;
use serde_json::{Map, Value};

pub use merge::{merge_environment_files, request_environment, MergeStrategy};
pub use registry::{
    GlobalRegistry, Hook, Implementation, ResourceRegistry, ResourceResolution, RestrictedAction,
};

use crate::error::{ErrorKind, TemplateError};
use crate::node::{Location, Node, NodeValue, Path};

/// The sections an environment may have.
pub const SECTIONS: [&str; 6] = [
    "parameters",
    "resource_registry",
    "parameter_defaults",
    "encrypted_param_names",
    "event_sinks",
    "parameter_merge_strategies",
];

/// One environment file, checked as Heat's `environment_format.parse` checks it: a mapping whose
/// keys are all known sections, none of them null. Sections keep their file order.
#[derive(Debug, Clone)]
pub struct EnvironmentFile {
    pub file: String,
    pub sections: IndexMap<String, Node>,
}

fn env_error(location: Location, message: impl Into<String>) -> TemplateError {
    TemplateError::new(ErrorKind::Structure, location, message)
}

/// Parses a loaded environment document (see [`crate::parse_document`]).
pub fn parse_environment(node: &Node, file: &str) -> Result<EnvironmentFile, TemplateError> {
    let entries: &[(Node, Node)] = match &node.value {
        NodeValue::Null => &[],
        NodeValue::Map(entries) => entries,
        _ => {
            return Err(env_error(
                Location::new(file, node.span, Path::root()),
                "The environment is not a valid YAML mapping data type.",
            ))
        }
    };
    let mut sections = IndexMap::new();
    for (key, value) in entries {
        let name = key.key_text();
        let at = Location::new(file, key.span, Path::root().child(name.clone()));
        if !SECTIONS.contains(&name.as_str()) {
            return Err(env_error(
                at,
                format!("environment has wrong section \"{name}\""),
            ));
        }
        if matches!(value.value, NodeValue::Null) {
            return Err(env_error(
                at,
                format!("environment has empty section \"{name}\""),
            ));
        }
        sections.insert(name, value.clone());
    }
    let parsed = EnvironmentFile {
        file: file.to_string(),
        sections,
    };
    // Load it once so that a bad registry or section shape is reported against this file.
    Environment::from_sections(&parsed.sections, file)?;
    Ok(parsed)
}

/// A stack's environment: what the engine consults.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// Values for the root template's parameters.
    pub parameters: IndexMap<String, Value>,
    /// Defaults for parameters of that name in the root template and every nested one.
    pub parameter_defaults: IndexMap<String, Value>,
    pub registry: ResourceRegistry,
    /// Stored as given (Heat encrypts hidden parameters when configured to).
    pub encrypted_param_names: Vec<Value>,
    /// `{type: zaqar-queue, target: ..., ttl: ...}` entries.
    pub event_sinks: Vec<Value>,
}

fn mapping_of(
    node: &Node,
    file: &str,
    section: &str,
) -> Result<IndexMap<String, Value>, TemplateError> {
    match node.as_map() {
        Some(entries) => Ok(entries
            .iter()
            .map(|(k, v)| (k.key_text(), v.to_json()))
            .collect()),
        None => Err(env_error(
            Location::new(file, node.span, Path::root().child(section)),
            format!("environment section \"{section}\" must be a mapping"),
        )),
    }
}

fn list_of(node: &Node, file: &str, section: &str) -> Result<Vec<Value>, TemplateError> {
    match node.as_list() {
        Some(items) => Ok(items.iter().map(Node::to_json).collect()),
        None => Err(env_error(
            Location::new(file, node.span, Path::root().child(section)),
            format!("environment section \"{section}\" must be a list"),
        )),
    }
}

impl Environment {
    /// Heat's `Environment(env)`: `env` is either sectioned or the old flat form, in which every
    /// key that is not a section is a parameter value.
    pub fn from_json(env: &Value) -> Result<Self, TemplateError> {
        let node = Node::from_json(env);
        let entries = node.as_map().unwrap_or_default();
        let mut sections: IndexMap<String, Node> = IndexMap::new();
        let mut flat = Vec::new();
        for (k, v) in entries {
            let name = k.key_text();
            if SECTIONS.contains(&name.as_str()) {
                sections.insert(name, v.clone());
            } else {
                flat.push((k.clone(), v.clone()));
            }
        }
        if !sections.contains_key("parameters") {
            sections.insert(
                "parameters".into(),
                Node::new(NodeValue::Map(flat), node.span),
            );
        }
        Self::from_sections(&sections, "")
    }

    /// Builds an environment from checked sections (as [`EnvironmentFile::sections`]).
    pub fn from_sections(
        sections: &IndexMap<String, Node>,
        file: &str,
    ) -> Result<Self, TemplateError> {
        let mut env = Environment::default();
        env.load_sections(sections, file)?;
        Ok(env)
    }

    /// Heat's `Environment.load`: the registry is loaded over the current one, parameters and
    /// parameter defaults are updated, event sinks appended.
    pub fn load_sections(
        &mut self,
        sections: &IndexMap<String, Node>,
        file: &str,
    ) -> Result<(), TemplateError> {
        for (name, node) in sections {
            if matches!(node.value, NodeValue::Null) {
                continue;
            }
            match name.as_str() {
                "parameters" => self.parameters.extend(mapping_of(node, file, name)?),
                "parameter_defaults" => self
                    .parameter_defaults
                    .extend(mapping_of(node, file, name)?),
                "resource_registry" => self.registry.load(node, file)?,
                "encrypted_param_names" => self.encrypted_param_names = list_of(node, file, name)?,
                "event_sinks" => {
                    let sinks = list_of(node, file, name)?;
                    for (i, sink) in sinks.iter().enumerate() {
                        if sink.get("type").and_then(Value::as_str) != Some("zaqar-queue") {
                            return Err(env_error(
                                Location::new(
                                    file,
                                    node.span,
                                    Path::root().child(name.clone()).index(i),
                                ),
                                "an event sink must be a mapping with type zaqar-queue",
                            ));
                        }
                    }
                    self.event_sinks.extend(sinks);
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Loads a JSON environment snippet over this one (`Environment.load`).
    pub fn load_json(&mut self, env: &Value) -> Result<(), TemplateError> {
        let node = Node::from_json(env);
        let sections: IndexMap<String, Node> = node
            .as_map()
            .unwrap_or_default()
            .iter()
            .filter(|(k, _)| SECTIONS.contains(&k.key_text().as_str()))
            .map(|(k, v)| (k.key_text(), v.clone()))
            .collect();
        self.load_sections(&sections, "")
    }

    /// Heat's `user_env_as_dict`: what the API shows and what nested stacks inherit.
    pub fn user_env_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("resource_registry".into(), self.registry.to_json());
        out.insert(
            "parameters".into(),
            Value::Object(self.parameters.clone().into_iter().collect()),
        );
        out.insert(
            "parameter_defaults".into(),
            Value::Object(self.parameter_defaults.clone().into_iter().collect()),
        );
        out.insert("event_sinks".into(), Value::Array(self.event_sinks.clone()));
        Value::Object(out)
    }

    /// Heat's `env_as_dict`: the user environment plus `encrypted_param_names` (for storing).
    pub fn env_json(&self) -> Value {
        let mut out = self.user_env_json();
        if let Value::Object(map) = &mut out {
            map.insert(
                "encrypted_param_names".into(),
                Value::Array(self.encrypted_param_names.clone()),
            );
        }
        out
    }

    /// Heat's `get_child_environment`: the environment of a nested stack. It starts from this
    /// environment's user part with no parameters; `child_params` are either flat parameter
    /// values (the nested resource's properties) or a sectioned environment loaded on top.
    /// `remove_template` drops the registry entry (by its path) that made the parent resource a
    /// provider template, so the child does not map its own types back to itself.
    /// `child_resource_name` narrows the `resources:` section to what applies inside that
    /// resource.
    pub fn child(
        &self,
        child_params: Option<&Value>,
        remove_template: Option<&[String]>,
        child_resource_name: Option<&str>,
    ) -> Result<Environment, TemplateError> {
        let flat = child_params.is_some_and(|p| match p {
            Value::Object(map) => !SECTIONS.iter().any(|s| map.contains_key(*s)),
            _ => true,
        });
        let mut child = Environment {
            parameters: IndexMap::new(),
            parameter_defaults: self.parameter_defaults.clone(),
            registry: self.registry.user_copy(),
            encrypted_param_names: Vec::new(),
            event_sinks: self.event_sinks.clone(),
        };
        match child_params {
            Some(Value::Object(map)) if flat => {
                child.parameters = map.clone().into_iter().collect();
            }
            Some(params) if !flat => child.load_json(params)?,
            _ => {}
        }
        if let Some(path) = remove_template {
            child.registry.remove_template(path);
        }
        if let Some(name) = child_resource_name.filter(|n| !n.is_empty()) {
            child.registry.narrow_to(name);
        }
        Ok(child)
    }

    /// What implements a resource, and which hooks and restricted actions apply to it.
    /// `nested_path` names the resources (from the root stack down) whose nested stacks contain
    /// this one; the registry's `resources:` section is narrowed along it as Heat's child
    /// environments are.
    pub fn resolve_resource(
        &self,
        global: &GlobalRegistry,
        nested_path: &[&str],
        resource_name: &str,
        resource_type: &str,
    ) -> Result<ResourceResolution, TemplateError> {
        if nested_path.is_empty() {
            return self.registry.resolve(global, resource_name, resource_type);
        }
        let mut registry = self.registry.clone();
        for name in nested_path {
            registry.narrow_to(name);
        }
        registry.resolve(global, resource_name, resource_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flat_form_is_parameters() {
        let env = Environment::from_json(&json!({"a": "ff", "b": "ss"})).unwrap();
        assert_eq!(env.parameters["a"], json!("ff"));
        let env = Environment::from_json(&json!({"parameters": {"a": 1}, "b": 2})).unwrap();
        assert!(!env.parameters.contains_key("b"));
    }

    /// A removal below a level creates the level, as in Heat; an empty mapping does too, so
    /// what the environment shows loads back the same (a case the property test found).
    #[test]
    fn registry_levels_show_back_as_given() {
        for doc in [
            json!({"resource_registry": {"event_sinks": {"parameters": null}}}),
            json!({"resource_registry": {"resources": {"server": {}}}}),
        ] {
            let shown = Environment::from_json(&doc).unwrap().user_env_json();
            let again = Environment::from_json(&shown).unwrap().user_env_json();
            assert_eq!(again, shown);
        }
        let cleared = json!({"resource_registry": {"resources": {"server": {"hooks": null}}}});
        let shown = Environment::from_json(&cleared).unwrap().user_env_json();
        assert_eq!(shown["resource_registry"]["resources"]["server"], json!({}));
        // A level given as an empty mapping does not drop an entry already there.
        let mut env =
            Environment::from_json(&json!({"resource_registry": {"OS::X": "OS::Y"}})).unwrap();
        let later: IndexMap<String, Node> = [(
            "resource_registry".to_string(),
            Node::from_json(&json!({"OS::X": {}})),
        )]
        .into_iter()
        .collect();
        env.load_sections(&later, "e.yaml").unwrap();
        assert_eq!(
            env.user_env_json()["resource_registry"]["OS::X"],
            json!("OS::Y")
        );
    }
}
