//! The resource registry: Heat's `ResourceRegistry` and its lookup order.

use indexmap::IndexMap;
use serde_json::Value;

use super::env_error;
use super::fnmatch::fnmatchcase;
use crate::error::{ErrorKind, TemplateError};
use crate::node::{Location, Node, NodeValue, Path};
use crate::pycompat;

/// A lifecycle hook (breakpoint) a resource can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hook {
    PreCreate,
    PreUpdate,
    PreDelete,
    PostCreate,
    PostUpdate,
    PostDelete,
}

const HOOKS: [(&str, Hook); 6] = [
    ("pre-create", Hook::PreCreate),
    ("pre-update", Hook::PreUpdate),
    ("pre-delete", Hook::PreDelete),
    ("post-create", Hook::PostCreate),
    ("post-update", Hook::PostUpdate),
    ("post-delete", Hook::PostDelete),
];

impl Hook {
    pub fn as_str(self) -> &'static str {
        HOOKS
            .iter()
            .find(|(_, h)| *h == self)
            .map_or("", |(n, _)| n)
    }
}

/// An action the environment forbids on a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RestrictedAction {
    Update,
    Replace,
}

const RESTRICTED: [(&str, RestrictedAction); 2] = [
    ("update", RestrictedAction::Update),
    ("replace", RestrictedAction::Replace),
];

/// What implements a resource type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Implementation {
    /// A type the engine implements (found in the global registry).
    Builtin(String),
    /// A provider template, by file name or URL (looked up in the `files` map).
    Template(String),
}

/// The answer to a registry lookup for one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceResolution {
    pub implementation: Implementation,
    /// The registry path of the entry that decided it (`["resources", "db", "OS::DB"]`); pass it
    /// to [`super::Environment::child`] as `remove_template` for a provider template.
    pub path: Vec<String>,
    pub hooks: Vec<Hook>,
    pub restricted_actions: Vec<RestrictedAction>,
}

#[derive(Debug, Clone, PartialEq)]
enum InfoKind {
    /// A provider template.
    Template(String),
    /// One type mapped to another.
    Map(String),
    /// `Prefix*` mapped to `Other*` or to one type.
    Glob(String),
    /// A built-in type (global registry only).
    Builtin,
}

#[derive(Debug, Clone, PartialEq)]
struct Info {
    path: Vec<String>,
    kind: InfoKind,
    user: bool,
}

impl Info {
    fn name(&self) -> &str {
        self.path.last().map_or("", String::as_str)
    }

    /// The registry value as the environment shows it.
    fn value(&self) -> Value {
        match &self.kind {
            InfoKind::Template(v) | InfoKind::Map(v) | InfoKind::Glob(v) => {
                Value::String(v.clone())
            }
            InfoKind::Builtin => Value::String(self.name().to_string()),
        }
    }

    /// Heat's `GlobResourceInfo.matches`: the prefix matches and it is not a self-mapping.
    fn glob_matches(&self, resource_type: &str) -> bool {
        match &self.kind {
            InfoKind::Glob(value) => {
                let prefix = self.name().strip_suffix('*').unwrap_or(self.name());
                resource_type != value && resource_type.starts_with(prefix)
            }
            _ => false,
        }
    }
}

fn is_template_name(s: &str) -> bool {
    s.ends_with(".yaml") || s.ends_with(".template")
}

#[derive(Debug, Clone, PartialEq)]
enum Item {
    Info(Info),
    /// A `hooks` entry: the value as written, and the hooks it names.
    Hooks(Value, Vec<Hook>),
    /// A `restricted_actions` entry.
    Restricted(Value, Vec<RestrictedAction>),
    Dict(IndexMap<String, Item>),
}

/// A registry of type mappings. A user registry comes from environments; the global one
/// ([`GlobalRegistry`]) holds the built-in types and the operator's global environment.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceRegistry {
    user: bool,
    items: IndexMap<String, Item>,
}

impl Default for ResourceRegistry {
    fn default() -> Self {
        Self::new(true)
    }
}

/// The global registry: built-in types (known to the engine) plus the operator's global
/// environment mappings (Heat's `environment.d`).
pub struct GlobalRegistry<'a> {
    registry: ResourceRegistry,
    builtin: &'a dyn Fn(&str) -> bool,
}

impl<'a> GlobalRegistry<'a> {
    /// `builtin` tells whether the engine implements a type name.
    pub fn new(builtin: &'a dyn Fn(&str) -> bool) -> Self {
        Self {
            registry: ResourceRegistry::new(false),
            builtin,
        }
    }

    /// Loads a global environment's `resource_registry` (e.g. `"OS::Quantum*": "OS::Neutron*"`).
    pub fn load(&mut self, registry: &Node, file: &str) -> Result<(), TemplateError> {
        self.registry.load(registry, file)
    }
}

/// Heat's hook validation message.
fn hook_error(value: &Value) -> String {
    format!(
        "Invalid hook type \"{}\" for resource breakpoint, acceptable hook types are: ('pre-create', \
         'pre-update', 'pre-delete', 'post-create', 'post-update', 'post-delete')",
        pycompat::str_of(value)
    )
}

fn restricted_error(value: &Value) -> String {
    format!(
        "Invalid restricted_action type \"{}\" for resource, acceptable restricted_action types \
         are: ('update', 'replace')",
        pycompat::str_of(value)
    )
}

/// A `hooks`/`restricted_actions` value: one name or a list of names, all known.
fn names_of<T: Copy>(value: &Value, table: &[(&str, T)]) -> Option<Vec<T>> {
    let lookup = |v: &Value| {
        let s = v.as_str()?;
        table.iter().find(|(n, _)| *n == s).map(|(_, t)| *t)
    };
    match value {
        Value::String(_) => lookup(value).map(|t| vec![t]),
        Value::Array(items) => items.iter().map(lookup).collect(),
        _ => None,
    }
}

/// The most nested lookups a type may chain through (aliases of aliases), so that a mapping
/// cycle ends as "not found" rather than recursing for ever.
const MAX_ALIAS_DEPTH: usize = 32;

impl ResourceRegistry {
    fn new(user: bool) -> Self {
        let mut items = IndexMap::new();
        items.insert("resources".to_string(), Item::Dict(IndexMap::new()));
        Self { user, items }
    }

    /// Heat's `_load_registry`: loads a `resource_registry` mapping over this registry. A null
    /// value removes an entry (`Prefix*: null` removes every entry with that prefix).
    pub fn load(&mut self, node: &Node, file: &str) -> Result<(), TemplateError> {
        let root = Path::root().child("resource_registry");
        self.load_level(&[], node, file, &root)
    }

    fn load_level(
        &mut self,
        path: &[String],
        node: &Node,
        file: &str,
        at: &Path,
    ) -> Result<(), TemplateError> {
        let Some(entries) = node.as_map() else {
            return Err(env_error(
                Location::new(file, node.span, at.clone()),
                "environment section \"resource_registry\" must be a mapping",
            ));
        };
        for (key, value) in entries {
            let name = key.key_text();
            let mut full: Vec<String> = path.to_vec();
            full.push(name.clone());
            let here = at.child(name.clone());
            let located = |m: String| {
                TemplateError::new(
                    ErrorKind::Structure,
                    Location::new(file, value.span, here.clone()),
                    m,
                )
            };
            let json = value.to_json();
            if matches!(value.value, NodeValue::Null) {
                self.remove(&full);
            } else if name == "hooks" {
                let hooks = names_of(&json, &HOOKS).ok_or_else(|| located(hook_error(&json)))?;
                self.put(&full, Item::Hooks(json, hooks));
            } else if name == "restricted_actions" {
                let actions =
                    names_of(&json, &RESTRICTED).ok_or_else(|| located(restricted_error(&json)))?;
                self.put(&full, Item::Restricted(json, actions));
            } else if let NodeValue::Map(entries) = &value.value {
                if entries.is_empty() {
                    self.ensure_level(&full);
                }
                self.load_level(&full, value, file, &here)?;
            } else {
                let kind = if is_template_name(&name) {
                    InfoKind::Template(name.clone())
                } else {
                    let Some(target) = value.as_str() else {
                        return Err(located(format!(
                            "Invalid resource_registry value for \"{name}\": expected a type name \
                             or a template, got {}",
                            value.kind_name()
                        )));
                    };
                    if is_template_name(target) {
                        InfoKind::Template(target.to_string())
                    } else if name.ends_with('*') {
                        InfoKind::Glob(target.to_string())
                    } else {
                        InfoKind::Map(target.to_string())
                    }
                };
                let user = self.user;
                self.put(
                    &full,
                    Item::Info(Info {
                        path: full.clone(),
                        kind,
                        user,
                    }),
                );
            }
        }
        Ok(())
    }

    /// The dict at `path` (created as needed).
    fn dict_at(&mut self, path: &[String]) -> &mut IndexMap<String, Item> {
        let mut level = &mut self.items;
        for key in path {
            let entry = level
                .entry(key.clone())
                .or_insert_with(|| Item::Dict(IndexMap::new()));
            if !matches!(entry, Item::Dict(_)) {
                *entry = Item::Dict(IndexMap::new());
            }
            level = match entry {
                Item::Dict(d) => d,
                _ => unreachable!("just made a dict"),
            };
        }
        level
    }

    /// An empty mapping still names a level, as a removal below a level creates it (Heat makes
    /// the levels of every path it registers), so the registry shows it back as given. An
    /// entry already there stays.
    fn ensure_level(&mut self, path: &[String]) {
        if let Some((name, parent)) = path.split_last() {
            self.dict_at(parent)
                .entry(name.clone())
                .or_insert_with(|| Item::Dict(IndexMap::new()));
        }
    }

    fn put(&mut self, path: &[String], item: Item) {
        if let Some((name, parent)) = path.split_last() {
            self.dict_at(parent).insert(name.clone(), item);
        }
    }

    fn remove(&mut self, path: &[String]) {
        let Some((name, parent)) = path.split_last() else {
            return;
        };
        let level = self.dict_at(parent);
        match name.strip_suffix('*') {
            Some(prefix) => {
                level.retain(|k, v| !(matches!(v, Item::Info(_)) && k.starts_with(prefix)))
            }
            None => {
                level.shift_remove(name);
            }
        }
    }

    /// The `resource_registry` as Heat's `as_dict` shows it (user entries only).
    pub fn to_json(&self) -> Value {
        fn level(items: &IndexMap<String, Item>) -> Value {
            let mut out = serde_json::Map::new();
            for (k, v) in items {
                match v {
                    Item::Dict(d) => {
                        out.insert(k.clone(), level(d));
                    }
                    Item::Hooks(raw, _) | Item::Restricted(raw, _) => {
                        out.insert(k.clone(), raw.clone());
                    }
                    Item::Info(info) if info.user => {
                        out.insert(k.clone(), info.value());
                    }
                    Item::Info(_) => {}
                }
            }
            Value::Object(out)
        }
        level(&self.items)
    }

    /// The user part of this registry, as a child environment inherits it.
    pub(crate) fn user_copy(&self) -> Self {
        fn level(items: &IndexMap<String, Item>) -> IndexMap<String, Item> {
            items
                .iter()
                .filter_map(|(k, v)| match v {
                    Item::Dict(d) => Some((k.clone(), Item::Dict(level(d)))),
                    Item::Info(info) if !info.user => None,
                    other => Some((k.clone(), other.clone())),
                })
                .collect()
        }
        Self {
            user: true,
            items: level(&self.items),
        }
    }

    /// Heat's `remove_item`: drops the provider-template entry at `path`.
    pub fn remove_template(&mut self, path: &[String]) {
        let Some((name, parent)) = path.split_last() else {
            return;
        };
        let mut level = &mut self.items;
        for key in parent {
            match level.get_mut(key) {
                Some(Item::Dict(d)) => level = d,
                _ => return,
            }
        }
        if matches!(
            level.get(name),
            Some(Item::Info(Info {
                kind: InfoKind::Template(_),
                ..
            }))
        ) {
            level.shift_remove(name);
        }
    }

    /// Heat's `remove_resources_except`: `resources:` becomes the merged contents of the entries
    /// whose name pattern matches `name`, the exact entry applied last.
    pub fn narrow_to(&mut self, name: &str) {
        let Some(Item::Dict(resources)) = self.items.get("resources") else {
            return;
        };
        let mut narrowed: IndexMap<String, Item> = IndexMap::new();
        for (pattern, entry) in resources {
            if let (true, Item::Dict(d)) = (fnmatchcase(name, pattern), entry) {
                narrowed.extend(d.clone());
            }
        }
        if let Some(Item::Dict(exact)) = resources.get(name) {
            narrowed.extend(exact.clone());
        }
        self.items.insert("resources".into(), Item::Dict(narrowed));
    }

    /// The `resources:` entries whose name pattern matches `name` (fnmatch, case-sensitive).
    fn matching_entries<'s>(
        &'s self,
        name: &'s str,
    ) -> impl Iterator<Item = &'s IndexMap<String, Item>> + 's {
        let resources = match self.items.get("resources") {
            Some(Item::Dict(d)) => Some(d),
            _ => None,
        };
        resources
            .into_iter()
            .flat_map(|d| d.iter())
            .filter(move |(pattern, _)| fnmatchcase(name, pattern))
            .filter_map(|(_, v)| match v {
                Item::Dict(d) => Some(d),
                _ => None,
            })
    }

    /// The hooks set on a resource, from every matching `resources:` entry.
    pub fn hooks(&self, resource_name: &str) -> Vec<Hook> {
        let mut hooks: Vec<Hook> = self
            .matching_entries(resource_name)
            .filter_map(|d| match d.get("hooks") {
                Some(Item::Hooks(_, h)) => Some(h.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        hooks.sort();
        hooks.dedup();
        hooks
    }

    /// Heat's `get_rsrc_restricted_actions`.
    pub fn restricted_actions(&self, resource_name: &str) -> Vec<RestrictedAction> {
        let mut actions: Vec<RestrictedAction> = self
            .matching_entries(resource_name)
            .filter_map(|d| match d.get("restricted_actions") {
                Some(Item::Restricted(_, a)) => Some(a.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        actions.sort();
        actions.dedup();
        actions
    }

    /// The `base_url` entry, which heatclient uses to resolve relative template names.
    pub fn base_url(&self) -> Option<&str> {
        match self.items.get("base_url") {
            Some(Item::Info(Info {
                kind: InfoKind::Map(v) | InfoKind::Glob(v) | InfoKind::Template(v),
                ..
            })) => Some(v),
            _ => None,
        }
    }

    /// Heat's `iterable_by`: the candidate entries of this registry for a type and resource.
    fn candidates(
        &self,
        resource_type: &str,
        resource_name: &str,
        builtin: Option<&dyn Fn(&str) -> bool>,
    ) -> Vec<Info> {
        let mut out = Vec::new();
        if self.user && is_template_name(resource_type) {
            match self.items.get(resource_type) {
                Some(Item::Info(info)) => out.push(info.clone()),
                _ => out.push(Info {
                    path: vec![resource_type.to_string()],
                    kind: InfoKind::Template(resource_type.to_string()),
                    user: true,
                }),
            }
        }
        if !resource_name.is_empty() {
            if let Some(Item::Dict(entry)) = match self.items.get("resources") {
                Some(Item::Dict(r)) => r.get(resource_name),
                _ => None,
            } {
                if let Some(Item::Info(info)) = entry.get(resource_type) {
                    out.push(info.clone());
                }
            }
        }
        match self.items.get(resource_type) {
            Some(Item::Info(info)) => out.push(info.clone()),
            _ => {
                if builtin.is_some_and(|b| b(resource_type)) {
                    out.push(Info {
                        path: vec![resource_type.to_string()],
                        kind: InfoKind::Builtin,
                        user: false,
                    });
                }
            }
        }
        for (key, item) in &self.items {
            if let (true, Item::Info(info)) = (key.ends_with('*'), item) {
                if info.glob_matches(resource_type) {
                    out.push(info.clone());
                }
            }
        }
        out
    }

    /// Heat's `get_resource_info`: user entries before global ones, longer paths first, then
    /// by path; aliases and globs are followed (an alias whose target is unknown is skipped).
    fn find(
        &self,
        global: &GlobalRegistry,
        resource_type: &str,
        resource_name: &str,
        depth: usize,
    ) -> Option<(Implementation, Vec<String>)> {
        if depth > MAX_ALIAS_DEPTH {
            return None;
        }
        let mut candidates = self.candidates(resource_type, resource_name, None);
        candidates.extend(global.registry.candidates(
            resource_type,
            resource_name,
            Some(global.builtin),
        ));
        candidates.sort_by(|a, b| {
            b.user
                .cmp(&a.user)
                .then(b.path.len().cmp(&a.path.len()))
                .then(a.path.cmp(&b.path))
        });
        for info in candidates {
            let found = match &info.kind {
                InfoKind::Template(t) => {
                    Some((Implementation::Template(t.clone()), info.path.clone()))
                }
                InfoKind::Builtin => Some((
                    Implementation::Builtin(info.name().to_string()),
                    info.path.clone(),
                )),
                InfoKind::Map(target) => self.find(global, target, resource_name, depth + 1),
                InfoKind::Glob(target) => {
                    let prefix = info.name().strip_suffix('*').unwrap_or(info.name());
                    let new_type = match target.strip_suffix('*') {
                        Some(t) => {
                            format!("{t}{}", resource_type.get(prefix.len()..).unwrap_or(""))
                        }
                        None => target.clone(),
                    };
                    self.find(global, &new_type, resource_name, depth + 1)
                }
            };
            if found.is_some() {
                return found;
            }
        }
        None
    }

    /// What implements `resource_type` for the resource `resource_name`, with its hooks and
    /// restricted actions.
    pub fn resolve(
        &self,
        global: &GlobalRegistry,
        resource_name: &str,
        resource_type: &str,
    ) -> Result<ResourceResolution, TemplateError> {
        if resource_type.is_empty() {
            return Err(env_error(
                Location::default(),
                format!("Resource \"{resource_name}\" has no type"),
            ));
        }
        let (implementation, path) = self
            .find(global, resource_type, resource_name, 0)
            .ok_or_else(|| {
                TemplateError::new(
                    ErrorKind::Reference,
                    Location::default(),
                    format!("The Resource Type ({resource_type}) could not be found."),
                )
            })?;
        Ok(ResourceResolution {
            implementation,
            path,
            hooks: self.hooks(resource_name),
            restricted_actions: self.restricted_actions(resource_name),
        })
    }
}
