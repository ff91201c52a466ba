//! Type names to implementations, and the environment's `resource_registry` on top of them.

use crate::error::EngineError;
use crate::nested::{StackControl, StackHandle};
use crate::resource::ResourceType;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Builds implementations for provider templates (type names mapped to template files in the
/// environment). Nested stacks are issue 4; until a factory is installed such mappings are
/// refused with a clear message.
pub trait ProviderFactory: Send + Sync {
    fn provider(&self, template_name: &str) -> Result<Arc<dyn ResourceType>, EngineError>;
}

/// The global registry: every built-in type by name.
#[derive(Default, Clone)]
pub struct Registry {
    types: BTreeMap<String, Arc<dyn ResourceType>>,
    providers: Option<Arc<dyn ProviderFactory>>,
    /// Handles through which stack-backed types reach the engine, filled by [`Registry::attach`].
    stack_handles: Vec<StackHandle>,
}

/// How many alias hops a lookup follows before refusing (a loop in the environment).
const MAX_ALIAS_HOPS: usize = 16;

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a type; the resource crates call this once per type they provide.
    pub fn register(&mut self, name: &str, implementation: Arc<dyn ResourceType>) {
        self.types.insert(name.to_string(), implementation);
    }

    pub fn set_provider_factory(&mut self, factory: Arc<dyn ProviderFactory>) {
        self.providers = Some(factory);
    }

    /// Registers a handle that stack-backed types share; the engine fills it when built.
    pub fn add_stack_handle(&mut self, handle: StackHandle) {
        self.stack_handles.push(handle);
    }

    /// Gives every registered handle the engine's [`StackControl`].
    pub fn attach(&self, control: Arc<dyn StackControl>) {
        for handle in &self.stack_handles {
            handle.attach(control.clone());
        }
    }

    /// Registered type names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.types.keys().map(String::as_str)
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn ResourceType>> {
        self.types.get(name)
    }

    /// The implementation of resource `resource_name` declared with `type_name`, after the
    /// environment's per-resource overrides and global mappings (exact names first, then
    /// `Prefix::*` globs, longest prefix first), followed through chains of aliases.
    pub fn resolve(
        &self,
        type_name: &str,
        resource_name: &str,
        resource_registry: &Value,
    ) -> Result<Arc<dyn ResourceType>, EngineError> {
        let per_resource = resource_registry
            .get("resources")
            .and_then(|r| r.get(resource_name));
        let mut current = type_name.to_string();
        for _ in 0..MAX_ALIAS_HOPS {
            let mapped = per_resource
                .and_then(|m| lookup(m, &current))
                .or_else(|| lookup(resource_registry, &current));
            match mapped {
                Some(target) if target == current => break,
                Some(target) if is_template_name(&target) => {
                    return match &self.providers {
                        Some(factory) => factory.provider(&target),
                        None => Err(EngineError::StackValidationFailed(format!(
                            "resources.{resource_name}: provider template {target} for type \
                             {current} is not supported yet"
                        ))),
                    };
                }
                Some(target) => current = target,
                None => break,
            }
        }
        // A type that is itself a template file (`type: server.yaml`).
        if is_template_name(&current) && !self.types.contains_key(&current) {
            if let Some(factory) = &self.providers {
                return factory.provider(&current);
            }
        }
        self.types.get(&current).cloned().ok_or_else(|| {
            EngineError::StackValidationFailed(format!(
                "Failed to validate: resources.{resource_name}: The Resource Type ({current}) could not be found."
            ))
        })
    }
}

fn lookup(mapping: &Value, type_name: &str) -> Option<String> {
    let map = mapping.as_object()?;
    if let Some(Value::String(t)) = map.get(type_name) {
        return Some(t.clone());
    }
    map.iter()
        .filter_map(|(k, v)| {
            let prefix = k.strip_suffix('*')?;
            let target = v.as_str()?;
            type_name
                .starts_with(prefix)
                .then(|| (prefix.len(), target.to_string()))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, target)| {
            // `OS::Neutron::*: OS::Heat::None` maps the whole namespace to one type;
            // `OS::Neutron::*: My::Neutron::*` keeps the suffix.
            match target.strip_suffix('*') {
                Some(new_prefix) => {
                    let prefix_len = map
                        .keys()
                        .filter_map(|k| k.strip_suffix('*'))
                        .filter(|p| type_name.starts_with(p))
                        .map(str::len)
                        .max()
                        .unwrap_or(0);
                    format!("{new_prefix}{}", &type_name[prefix_len..])
                }
                None => target,
            }
        })
}

fn is_template_name(target: &str) -> bool {
    target.ends_with(".yaml")
        || target.ends_with(".yml")
        || target.ends_with(".template")
        || target.ends_with(".json")
        || target.contains("://")
}
