//! Reading templates, environment files and parameters from disk the way heatclient does, so the
//! request carries everything the engine needs and the engine reads nothing itself:
//!
//! - the template goes as its text (so the service reports errors with line and column);
//! - every `get_file` target and every provider template (`type: x.yaml` / `.template`) it names
//!   is read into `files`, recursively through the templates read;
//! - each `-e` file goes into `files` under its path, listed in order in `environment_files`, and
//!   the provider templates its `resource_registry` names are read relative to it (or its
//!   `base_url`), so the service merges the environments as Heat does.
//!
//! Unlike heatclient, which rewrites every reference to an absolute `file://` URL, files are keyed
//! by the reference as written: the template text then stays untouched. Two different files
//! behind one reference (from templates in different directories) are refused, not guessed.

use base64::Engine as _;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

use crate::error::CliError;

/// What the template and environment options turn into in a create/update/validate body.
#[derive(Debug, Default)]
pub struct StackFiles {
    /// The root template's text; `None` for `--existing` updates without `-t`.
    pub template: Option<String>,
    pub template_path: Option<PathBuf>,
    pub files: Map<String, Value>,
    pub environment_files: Vec<String>,
    /// Each document sent, by the name the service knows it by (`template` for the root):
    /// its path on disk and its text, to point the service's located errors at the file.
    sources: Vec<(String, String, String)>,
}

/// Turns the service's located errors (`NAME:LINE:COLUMN[ at PATH]: MESSAGE`, where NAME is
/// `template` or a `files` key) back into errors about the user's files, with the source line.
#[derive(Debug, Default, Clone)]
pub struct Locator {
    sources: Vec<(String, String, String)>,
}

impl Locator {
    pub fn locate(&self, error: CliError) -> CliError {
        let CliError::Api { message, .. } = &error else {
            return error;
        };
        for (name, path, text) in &self.sources {
            let Some(rest) = message
                .strip_prefix(name.as_str())
                .and_then(|r| r.strip_prefix(':'))
            else {
                continue;
            };
            let Some((line, rest)) = rest.split_once(':') else {
                continue;
            };
            let digits_end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            let (column, rest) = rest.split_at(digits_end);
            let (Ok(line), Ok(column)) = (line.parse::<u32>(), column.parse::<u32>()) else {
                continue;
            };
            let (node_path, text_after) = match rest.strip_prefix(" at ") {
                Some(at) => match at.split_once(": ") {
                    Some((p, m)) => (p, m),
                    None => continue,
                },
                None => match rest.strip_prefix(": ") {
                    Some(m) => ("", m),
                    None => continue,
                },
            };
            let mut located_path = ember_template::Path::root();
            for segment in node_path.split('.').filter(|s| !s.is_empty()) {
                located_path = located_path.child(segment);
            }
            let located = ember_template::TemplateError::new(
                ember_template::ErrorKind::Structure,
                ember_template::Location::new(
                    path.as_str(),
                    ember_template::Span { line, column },
                    located_path,
                ),
                text_after,
            );
            return CliError::located(&located, Some(text));
        }
        error
    }
}

impl StackFiles {
    /// Reads `-t` and the `-e` files.
    pub fn read(template: Option<&Path>, environments: &[PathBuf]) -> Result<Self, CliError> {
        let mut out = StackFiles::default();
        let mut sources: Map<String, Value> = Map::new();
        if let Some(path) = template {
            let text = read_text(path)?;
            let tree = parse(&text, path)?;
            resolve_template_files(&tree, base_dir(path), &mut out.files, &mut sources)?;
            out.sources
                .push(("template".into(), path.display().to_string(), text.clone()));
            out.template = Some(text);
            out.template_path = Some(path.to_owned());
        }
        for env_path in environments {
            let text = read_text(env_path)?;
            let tree = parse(&text, env_path)?;
            if let Some(registry) = tree.get("resource_registry") {
                resolve_registry(registry, base_dir(env_path), &mut out.files, &mut sources)?;
            }
            let key = env_path.display().to_string();
            out.sources.push((key.clone(), key.clone(), text.clone()));
            out.files.insert(key.clone(), Value::String(text));
            out.environment_files.push(key);
        }
        Ok(out)
    }

    /// What points the service's errors back at these files.
    pub fn locator(&self) -> Locator {
        let mut sources = self.sources.clone();
        // Templates and files read through references are known by their reference.
        for (key, value) in &self.files {
            if let Some(text) = value.as_str() {
                if !sources.iter().any(|(name, ..)| name == key) {
                    sources.push((key.clone(), key.clone(), text.to_owned()));
                }
            }
        }
        Locator { sources }
    }

    /// The create/update/preview/validate body fields heatclient sends: `template`, `files`,
    /// `environment` (hooks only: environment files travel in `files`) and `environment_files`.
    pub fn into_body(self, body: &mut Map<String, Value>, environment: Value) {
        if let Some(text) = self.template {
            body.insert("template".into(), Value::String(text));
        }
        body.insert("files".into(), Value::Object(self.files));
        body.insert("environment".into(), environment);
        if !self.environment_files.is_empty() {
            body.insert(
                "environment_files".into(),
                Value::Array(
                    self.environment_files
                        .into_iter()
                        .map(Value::String)
                        .collect(),
                ),
            );
        }
    }
}

fn base_dir(path: &Path) -> PathBuf {
    path.parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn read_text(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path)
        .map_err(|e| CliError::io(format!("cannot read {}", path.display()), e))
}

fn parse(text: &str, path: &Path) -> Result<Value, CliError> {
    let name = path.display().to_string();
    ember_template::parse_document(text, &name, &Default::default())
        .map(|node| node.to_json())
        .map_err(|e| CliError::located(&e, Some(text)))
}

/// heatclient's `is_template`: a document with a template version key.
fn is_template(tree: &Value) -> bool {
    [
        "heat_template_version",
        "HeatTemplateFormatVersion",
        "AWSTemplateFormatVersion",
    ]
    .iter()
    .any(|k| tree.get(k).is_some())
}

/// A local reference: a relative or absolute path, or a `file://` URL. Other URLs are left to
/// the service, as Heat fetches those itself.
fn local_target(reference: &str, base: &Path) -> Option<PathBuf> {
    if let Some(path) = reference.strip_prefix("file://") {
        return Some(PathBuf::from(path));
    }
    if reference.contains("://") {
        return None;
    }
    Some(base.join(reference))
}

/// Reads one referenced file into `files` under `reference`, and recurses into it when it is a
/// template. `sources` remembers which file each key came from.
fn add_file(
    reference: &str,
    base: &Path,
    files: &mut Map<String, Value>,
    sources: &mut Map<String, Value>,
) -> Result<(), CliError> {
    let Some(target) = local_target(reference, base) else {
        return Ok(());
    };
    let canonical = target
        .canonicalize()
        .map_err(|e| CliError::io(format!("cannot read {}", target.display()), e))?;
    let canonical_text = canonical.display().to_string();
    if let Some(seen) = sources.get(reference).and_then(Value::as_str) {
        if seen == canonical_text {
            return Ok(());
        }
        return Err(CliError::Command(format!(
            "the file reference {reference:?} names two different files: {seen} and \
             {canonical_text}; rename one of them"
        )));
    }
    sources.insert(reference.to_owned(), Value::String(canonical_text));
    let bytes = std::fs::read(&canonical)
        .map_err(|e| CliError::io(format!("cannot read {}", canonical.display()), e))?;
    let content = match String::from_utf8(bytes) {
        Ok(text) => {
            // Only text that parses as a template is followed, as heatclient does.
            let name = target.display().to_string();
            if let Ok(node) = ember_template::parse_document(&text, &name, &Default::default()) {
                let tree = node.to_json();
                if is_template(&tree) {
                    resolve_template_files(&tree, base_dir(&target), files, sources)?;
                }
            }
            text
        }
        // heatclient sends binary content base64-encoded.
        Err(e) => base64::engine::general_purpose::STANDARD.encode(e.as_bytes()),
    };
    files.insert(reference.to_owned(), Value::String(content));
    Ok(())
}

/// Every `get_file: X` and every `type: X.yaml|X.template` anywhere in a template.
fn resolve_template_files(
    tree: &Value,
    base: PathBuf,
    files: &mut Map<String, Value>,
    sources: &mut Map<String, Value>,
) -> Result<(), CliError> {
    match tree {
        Value::Object(map) => {
            for (key, value) in map {
                if let Value::String(reference) = value {
                    let wanted = key == "get_file"
                        || (key == "type"
                            && (reference.ends_with(".yaml") || reference.ends_with(".template")));
                    if wanted {
                        add_file(reference, &base, files, sources)?;
                    }
                }
                resolve_template_files(value, base.clone(), files, sources)?;
            }
        }
        Value::Array(items) => {
            for item in items {
                resolve_template_files(item, base.clone(), files, sources)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The provider templates a `resource_registry` names (top level and per resource), relative to
/// its `base_url` or the environment file's directory. Built-in types (`A::B`), hooks and
/// restricted actions are not files.
fn resolve_registry(
    registry: &Value,
    env_base: PathBuf,
    files: &mut Map<String, Value>,
    sources: &mut Map<String, Value>,
) -> Result<(), CliError> {
    let base_of =
        |section: &Value, default: &Path| match section.get("base_url").and_then(Value::as_str) {
            Some(url) => url
                .strip_prefix("file://")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(url)),
            None => default.to_path_buf(),
        };
    let base = base_of(registry, &env_base);
    let mut add_section = |section: &Value, base: &Path| -> Result<(), CliError> {
        if let Some(map) = section.as_object() {
            for (key, value) in map {
                let Some(reference) = value.as_str() else {
                    continue;
                };
                if matches!(key.as_str(), "base_url" | "hooks" | "restricted_actions")
                    || reference.contains("::")
                {
                    continue;
                }
                add_file(reference, base, files, sources)?;
            }
        }
        Ok(())
    };
    add_section(registry, &base)?;
    if let Some(resources) = registry.get("resources").and_then(Value::as_object) {
        for section in resources.values() {
            let section_base = base_of(section, &base);
            add_section(section, &section_base)?;
        }
    }
    Ok(())
}

/// heatclient's `format_parameters`: `k=v` pairs; a single option may hold several pairs split
/// by `;`; a key given twice becomes a list.
pub fn format_parameters(
    params: &[String],
    parse_semicolon: bool,
) -> Result<Map<String, Value>, CliError> {
    let split: Vec<String> = if parse_semicolon && params.len() == 1 {
        params[0].split(';').map(str::to_owned).collect()
    } else {
        params.to_vec()
    };
    let mut out = Map::new();
    for p in split {
        let (name, value) = p.split_once('=').ok_or_else(|| {
            CliError::Command(format!(
                "Malformed parameter({p}). Use the key=value format."
            ))
        })?;
        let value = Value::String(value.to_owned());
        match out.get_mut(name) {
            None => {
                out.insert(name.to_owned(), value);
            }
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
        }
    }
    Ok(out)
}

/// `--parameter` values plus `--parameter-file k=path` values (file contents; paths relative to
/// the template's directory, as heatclient resolves them against the template URL).
pub fn all_parameters(
    params: &[String],
    param_files: &[String],
    template: Option<&Path>,
) -> Result<Map<String, Value>, CliError> {
    let mut out = format_parameters(params, true)?;
    let base = template.map(base_dir).unwrap_or_else(|| PathBuf::from("."));
    for (key, value) in format_parameters(param_files, false)? {
        let path = value.as_str().map(|p| base.join(p)).unwrap_or_default();
        let bytes = std::fs::read(&path).map_err(|_| {
            CliError::Command(format!("Could not fetch contents for {}", path.display()))
        })?;
        let content = String::from_utf8(bytes)
            .unwrap_or_else(|e| base64::engine::general_purpose::STANDARD.encode(e.as_bytes()));
        out.insert(key, Value::String(content));
    }
    Ok(out)
}

/// heatclient's `hooks_to_env`: `--pre-create a/b/c` becomes
/// `resource_registry.resources.a.b.c.hooks: pre-create`.
pub fn hooks_environment(hooks: &[String], hook: &str) -> Value {
    let mut env = Map::new();
    if hooks.is_empty() {
        return Value::Object(env);
    }
    let mut resources = Map::new();
    for declaration in hooks {
        let parts: Vec<&str> = declaration.split('/').filter(|p| !p.is_empty()).collect();
        insert_hook(&mut resources, &parts, hook);
    }
    let mut registry = Map::new();
    registry.insert("resources".into(), Value::Object(resources));
    env.insert("resource_registry".into(), Value::Object(registry));
    Value::Object(env)
}

fn insert_hook(level: &mut Map<String, Value>, parts: &[&str], hook: &str) {
    match parts.split_first() {
        None => {
            level.insert("hooks".into(), Value::String(hook.into()));
        }
        Some((first, rest)) => {
            let entry = level
                .entry(first.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(next) = entry {
                insert_hook(next, rest, hook);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn parameters_split_like_heatclient() {
        let p = format_parameters(&["a=1;b=x=y".into()], true).unwrap();
        assert_eq!(Value::Object(p), json!({"a": "1", "b": "x=y"}));
        let p = format_parameters(&["a=1".into(), "a=2".into(), "a=3".into()], true).unwrap();
        assert_eq!(Value::Object(p), json!({"a": ["1", "2", "3"]}));
        let err = format_parameters(&["nokey".into()], true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Malformed parameter(nokey). Use the key=value format."
        );
    }

    #[test]
    fn hooks_nest_by_slashes() {
        assert_eq!(
            hooks_environment(&["nested/res".into(), "top".into()], "pre-create"),
            json!({"resource_registry": {"resources": {
                "nested": {"res": {"hooks": "pre-create"}}, "top": {"hooks": "pre-create"}}}})
        );
    }

    #[test]
    fn reads_get_file_and_provider_templates_recursively() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::write(root.join("script.sh"), "echo hi\n").unwrap();
        std::fs::write(
            root.join("sub/nested.yaml"),
            "heat_template_version: 2018-08-31\nresources:\n  c:\n    type: OS::Heat::Value\n    properties:\n      value: {get_file: data.txt}\n",
        )
        .unwrap();
        std::fs::write(root.join("sub/data.txt"), "payload").unwrap();
        std::fs::write(
            root.join("main.yaml"),
            "heat_template_version: 2018-08-31\nresources:\n  a:\n    type: sub/nested.yaml\n  b:\n    type: OS::Heat::Value\n    properties:\n      value: {get_file: script.sh}\n",
        )
        .unwrap();
        std::fs::write(
            root.join("env.yaml"),
            "resource_registry:\n  My::Type: sub/nested.yaml\n  Other::Type: OS::Heat::None\n",
        )
        .unwrap();
        let read =
            StackFiles::read(Some(&root.join("main.yaml")), &[root.join("env.yaml")]).unwrap();
        let mut keys: Vec<&String> = read.files.keys().collect();
        keys.sort();
        let env_key = root.join("env.yaml").display().to_string();
        let mut expected = vec!["data.txt", "script.sh", "sub/nested.yaml", env_key.as_str()];
        expected.sort();
        assert_eq!(keys, expected);
        assert_eq!(read.files["data.txt"], json!("payload"));
        assert_eq!(read.environment_files, vec![env_key]);
    }

    #[test]
    fn one_reference_to_two_files_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::write(root.join("x.txt"), "root").unwrap();
        std::fs::write(root.join("sub/x.txt"), "sub").unwrap();
        std::fs::write(
            root.join("sub/n.yaml"),
            "heat_template_version: 2018-08-31\noutputs:\n  o:\n    value: {get_file: x.txt}\n",
        )
        .unwrap();
        std::fs::write(
            root.join("main.yaml"),
            "heat_template_version: 2018-08-31\nresources:\n  n:\n    type: sub/n.yaml\noutputs:\n  o:\n    value: {get_file: x.txt}\n",
        )
        .unwrap();
        let err = StackFiles::read(Some(&root.join("main.yaml")), &[]).unwrap_err();
        assert!(
            err.to_string().contains("names two different files"),
            "{err}"
        );
    }

    proptest! {
        #[test]
        fn parameter_parsing_never_panics(items in proptest::collection::vec(".{0,20}", 0..4)) {
            let _ = format_parameters(&items, true);
        }
    }
}
