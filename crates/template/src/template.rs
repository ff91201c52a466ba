//! A parsed template: version, sections, resource and output definitions with their expressions,
//! condition definitions and mappings. Structure errors carry Heat's messages and a location.

use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;

use crate::conditions::ConditionDefinition;
use crate::error::{ErrorKind, TemplateError};
use crate::expr::{Expr, ParseContext};
use crate::load::{parse_document, Limits};
use crate::node::{Location, Node, NodeValue, Path, Span};
use crate::parameters::{ParamType, ParameterSchemas, ParameterSyntax};
use crate::version::{FnContext, Version, AWS_KEY, HEAT_CFN_KEY, HOT_KEY};

/// A template, parsed and structurally checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub file: String,
    pub version: Version,
    pub description: String,
    /// The `parameters`/`Parameters` section as written (null when absent).
    pub parameters: Node,
    /// The `parameter_groups` section as written (null when absent).
    pub parameter_groups: Node,
    pub resources: Vec<ResourceDefinition>,
    pub outputs: Vec<OutputDefinition>,
    pub conditions: Vec<ConditionDefinition>,
    /// The CFN `Mappings` section (an empty map for HOT).
    pub mappings: Value,
}

/// One entry of the resources section.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceDefinition {
    pub name: String,
    /// Where the resource's name is written; its path is `resources.<name>`.
    pub location: Location,
    pub resource_type: String,
    pub properties: Option<Arc<Expr>>,
    pub metadata: Option<Arc<Expr>>,
    /// Explicit `depends_on` names, each located.
    pub depends_on: Vec<(String, Location)>,
    pub deletion_policy: Option<Expr>,
    pub update_policy: Option<Arc<Expr>>,
    pub description: Option<String>,
    /// A condition name, a boolean, or a condition expression.
    pub condition: Option<Expr>,
    pub external_id: Option<Expr>,
}

/// One entry of the outputs section.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputDefinition {
    pub name: String,
    pub location: Location,
    pub description: Option<String>,
    pub value: Expr,
    pub condition: Option<Expr>,
}

/// The key names of a version's sections, so HOT and CFN share one parser.
struct Keys {
    description: &'static str,
    parameters: &'static str,
    resources: &'static str,
    outputs: &'static str,
    conditions: &'static str,
    res_type: &'static str,
    properties: &'static str,
    metadata: &'static str,
    depends_on: &'static str,
    deletion_policy: &'static str,
    update_policy: &'static str,
    res_description: &'static str,
    condition: &'static str,
    value: &'static str,
}

const HOT_KEYS: Keys = Keys {
    description: "description",
    parameters: "parameters",
    resources: "resources",
    outputs: "outputs",
    conditions: "conditions",
    res_type: "type",
    properties: "properties",
    metadata: "metadata",
    depends_on: "depends_on",
    deletion_policy: "deletion_policy",
    update_policy: "update_policy",
    res_description: "description",
    condition: "condition",
    value: "value",
};

const CFN_KEYS: Keys = Keys {
    description: "Description",
    parameters: "Parameters",
    resources: "Resources",
    outputs: "Outputs",
    conditions: "Conditions",
    res_type: "Type",
    properties: "Properties",
    metadata: "Metadata",
    depends_on: "DependsOn",
    deletion_policy: "DeletionPolicy",
    update_policy: "UpdatePolicy",
    res_description: "Description",
    condition: "Condition",
    value: "Value",
};

/// Loads and parses a template (YAML or JSON) with Heat's checks of versions and sections.
pub fn parse_template(text: &str, file: &str, limits: &Limits) -> Result<Template, TemplateError> {
    let root = parse_document(text, file, limits)?;
    Template::from_node(root, file)
}

fn structure(location: Location, message: impl Into<String>) -> TemplateError {
    TemplateError::new(ErrorKind::Structure, location, message)
}

/// Python's type name for a node, as Heat's messages print `type(x)`.
fn python_type(node: &Node) -> &'static str {
    match node.value {
        NodeValue::Null => "NoneType",
        NodeValue::Bool(_) => "bool",
        NodeValue::Int(_) => "int",
        NodeValue::Float(_) => "float",
        NodeValue::String(_) => "str",
        NodeValue::List(_) => "list",
        NodeValue::Map(_) => "dict",
    }
}

/// Moves the value under a string key out of a map's entries (leaving a null in its place).
fn take(entries: &mut [(Node, Node)], key: &str) -> Option<Node> {
    let (_, value) = entries.iter_mut().find(|(k, _)| k.as_str() == Some(key))?;
    let span = value.span;
    Some(std::mem::replace(value, Node::new(NodeValue::Null, span)))
}

fn is_empty(node: &Node) -> bool {
    match &node.value {
        NodeValue::Null => true,
        NodeValue::Bool(b) => !b,
        NodeValue::String(s) => s.is_empty(),
        NodeValue::List(l) => l.is_empty(),
        NodeValue::Map(m) => m.is_empty(),
        NodeValue::Int(i) => *i == 0,
        NodeValue::Float(f) => *f == 0.0,
    }
}

impl Template {
    /// Builds a template from an already loaded document, moving its values into expressions.
    pub fn from_node(root: Node, file: &str) -> Result<Template, TemplateError> {
        let at = |node: &Node, path: Path| Location::new(file, node.span, path);
        let Some(entries) = root.as_map() else {
            return Err(structure(
                at(&root, Path::root()),
                "The template is not a JSON object or YAML mapping.",
            ));
        };
        if !entries
            .iter()
            .any(|(k, _)| matches!(k.as_str(), Some(HOT_KEY | HEAT_CFN_KEY | AWS_KEY)))
        {
            return Err(structure(
                Location::in_file(file),
                "Template format version not found.",
            ));
        }
        let version = Version::detect(&root, file)?;
        let keys = if version.is_hot() {
            &HOT_KEYS
        } else {
            &CFN_KEYS
        };
        let sections = version.sections();
        for (key, _) in entries {
            let name = key.key_text();
            if !sections.contains(&name.as_str()) {
                return Err(structure(
                    at(key, Path::root().child(name.clone())),
                    format!("The template section is invalid: {name}"),
                ));
            }
        }
        let null = Node::new(NodeValue::Null, root.span);
        let file: Arc<str> = file.into();
        let cx = ParseContext {
            version,
            file: &file,
        };

        let description = match root.get(keys.description) {
            Some(d) if !is_empty(d) => match &d.value {
                NodeValue::String(s) => s.clone(),
                _ => d.to_json().to_string(),
            },
            _ => "No description".to_string(),
        };

        let mappings = if version.is_hot() {
            Value::Object(serde_json::Map::new())
        } else {
            match root.get("Mappings") {
                Some(m) if !is_empty(m) => m.to_json(),
                _ => Value::Object(serde_json::Map::new()),
            }
        };

        let mut entries = match root.value {
            NodeValue::Map(entries) => entries,
            _ => Vec::new(),
        };
        let mut section = |name: &str| take(&mut entries, name).unwrap_or_else(|| null.clone());
        let conditions = if version.has_conditions() {
            parse_conditions(section(keys.conditions), keys, &cx)?
        } else {
            Vec::new()
        };
        let resources = parse_resources(section(keys.resources), keys, &cx)?;
        let outputs = parse_outputs(section(keys.outputs), keys, &cx)?;
        let parameters = section(keys.parameters);
        let parameter_groups = if version.is_hot() {
            section("parameter_groups")
        } else {
            null
        };

        Ok(Template {
            file: file.to_string(),
            version,
            description,
            parameters,
            parameter_groups,
            resources,
            outputs,
            conditions,
            mappings,
        })
    }

    /// Each declared parameter's type, as environment merging needs it.
    pub fn parameter_types(&self) -> Result<IndexMap<String, ParamType>, TemplateError> {
        let schemas = ParameterSchemas::parse(
            Some(&self.parameters),
            &self.file,
            ParameterSyntax::for_version(self.version),
        )?;
        Ok(schemas.types())
    }

    pub fn resource(&self, name: &str) -> Option<&ResourceDefinition> {
        self.resources.iter().find(|r| r.name == name)
    }

    pub fn output(&self, name: &str) -> Option<&OutputDefinition> {
        self.outputs.iter().find(|o| o.name == name)
    }
}

fn parse_conditions(
    node: Node,
    keys: &Keys,
    cx: &ParseContext<'_>,
) -> Result<Vec<ConditionDefinition>, TemplateError> {
    let section = Path::root().child(keys.conditions);
    let entries = match node.value {
        NodeValue::Null => return Ok(Vec::new()),
        NodeValue::Map(entries) => entries,
        other => {
            let node = Node::new(other, node.span);
            return Err(structure(
                Location::new(cx.file.clone(), node.span, section),
                format!(
                    "Condition definitions must be a map. Found a {} instead",
                    python_type(&node)
                ),
            ));
        }
    };
    entries
        .into_iter()
        .map(|(k, v)| {
            let span = k.span;
            let name = k.into_key_text();
            let path = section.child(name.clone());
            Ok(ConditionDefinition {
                expr: Expr::parse(v, &path, cx, FnContext::Condition)?,
                location: Location::new(cx.file.clone(), span, path),
                name,
            })
        })
        .collect()
}

fn parse_resources(
    node: Node,
    keys: &Keys,
    cx: &ParseContext<'_>,
) -> Result<Vec<ResourceDefinition>, TemplateError> {
    let section = Path::root().child(keys.resources);
    let entries = match node.value {
        NodeValue::Null => return Ok(Vec::new()),
        NodeValue::Map(entries) => entries,
        other => {
            let node = Node::new(other, node.span);
            if is_empty(&node) {
                return Ok(Vec::new());
            }
            return Err(structure(
                Location::new(cx.file.clone(), node.span, section),
                format!(
                    "\"{}\" must contain a map of resource maps. Found a [<class '{}'>] instead",
                    keys.resources,
                    python_type(&node)
                ),
            ));
        }
    };
    let hot = cx.version.is_hot();
    let allowed = cx.version.resource_keys();
    let type_missing = if hot {
        "Each resource must contain a type key."
    } else {
        "Each Resource must contain a Type key."
    };
    let mut out = Vec::with_capacity(entries.len());
    for (key, body) in entries {
        let key_span = key.span;
        let name = key.into_key_text();
        let path = section.child(name.clone());
        let location = Location::new(cx.file.clone(), key_span, path.clone());
        let at = |span: Span, p: Path| Location::new(cx.file.clone(), span, p);
        let mut fields = match body.value {
            NodeValue::Map(fields) => fields,
            other => {
                let body = Node::new(other, body.span);
                if is_empty(&body) {
                    return Err(structure(location, type_missing));
                }
                return Err(structure(
                    at(body.span, path),
                    if hot {
                        format!(
                            "\"{}\" must contain a map of resource maps. Found a [<class '{}'>] \
                             instead",
                            keys.resources,
                            python_type(&body)
                        )
                    } else {
                        format!(
                            "Resources must contain Resource. Found a [<class '{}'>] instead",
                            python_type(&body)
                        )
                    },
                ));
            }
        };
        if fields.is_empty() {
            return Err(structure(location, type_missing));
        }
        if hot {
            // Keys are compared as written; a key's text is made only to report it.
            let unknown = fields
                .iter()
                .find(|(field, _)| !field.as_str().is_some_and(|f| allowed.contains(&f)));
            if let Some((field, _)) = unknown {
                let field_name = field.key_text();
                return Err(structure(
                    at(field.span, path.child(field_name.clone())),
                    format!("\"{field_name}\" is not a valid keyword inside a resource definition"),
                ));
            }
        }
        if name.contains('/') {
            return Err(structure(location, "Resource name may not contain \"/\""));
        }
        let mut get = |k: &str| {
            if allowed.contains(&k) {
                take(&mut fields, k)
            } else {
                None
            }
        };
        let type_error = |k: &str, typename: &str, span: Span| {
            structure(
                at(span, path.child(k)),
                format!("Resource {name} {k} type must be {typename}"),
            )
        };
        let resource_type = match get(keys.res_type) {
            None => return Err(structure(location, type_missing)),
            Some(t) => match t.value {
                // CFN requires a non-empty Type; HOT only a string (the engine refuses unknown types).
                NodeValue::String(s) if hot || !s.is_empty() => s,
                NodeValue::String(_) => return Err(structure(location, type_missing)),
                _ => return Err(type_error(keys.res_type, "string", t.span)),
            },
        };
        // A field's expression and where its value is written.
        let mut parse_field =
            |k: &str, object: bool| -> Result<Option<(Expr, Span)>, TemplateError> {
                let Some(n) = get(k) else { return Ok(None) };
                let span = n.span;
                let expr = Expr::parse(n, &path.child(k), cx, FnContext::Value)?;
                if object && !matches!(expr, Expr::Map(_) | Expr::Call(_) | Expr::Null) {
                    return Err(type_error(k, "object", span));
                }
                Ok(Some((expr, span)).filter(|(e, _)| !matches!(e, Expr::Null)))
            };
        let mut object_field = |k: &str| -> Result<Option<Arc<Expr>>, TemplateError> {
            Ok(parse_field(k, true)?.map(|(expr, _)| Arc::new(expr)))
        };
        let properties = object_field(keys.properties)?;
        let metadata = object_field(keys.metadata)?;
        let update_policy = object_field(keys.update_policy)?;
        let deletion_policy = parse_field(keys.deletion_policy, false)?;
        if let Some((dp, span)) = &deletion_policy {
            match dp {
                Expr::Str(policy) => {
                    if cx.version.deletion_policy(policy).is_none() {
                        return Err(TemplateError::new(
                            ErrorKind::Structure,
                            at(*span, path.child(keys.deletion_policy)),
                            format!("Invalid deletion policy \"{policy}\""),
                        ));
                    }
                }
                Expr::Call(_) => {}
                _ => return Err(type_error(keys.deletion_policy, "string", *span)),
            }
        }
        let deletion_policy = deletion_policy.map(|(expr, _)| expr);
        let depends_on = match get(keys.depends_on) {
            None => Vec::new(),
            Some(d) => {
                let dpath = path.child(keys.depends_on);
                match d.value {
                    NodeValue::Null => Vec::new(),
                    NodeValue::String(s) => vec![(s, at(d.span, dpath))],
                    NodeValue::List(items) => items
                        .into_iter()
                        .enumerate()
                        .map(|(i, item)| match item.value {
                            NodeValue::String(s) => Ok((s, at(item.span, dpath.index(i)))),
                            _ => Err(TemplateError::new(
                                ErrorKind::Dependency,
                                at(item.span, dpath.index(i)),
                                format!(
                                    "Resource {name} {} must be a list of strings",
                                    keys.depends_on
                                ),
                            )),
                        })
                        .collect::<Result<_, _>>()?,
                    _ => return Err(type_error(keys.depends_on, "list or string", d.span)),
                }
            }
        };
        let description = match get(keys.res_description) {
            None => None,
            Some(d) => match d.value {
                NodeValue::String(s) => Some(s),
                NodeValue::Null => None,
                _ => return Err(type_error(keys.res_description, "string", d.span)),
            },
        };
        let condition = match get(keys.condition) {
            None => None,
            Some(c) => {
                let span = c.span;
                let expr = Expr::parse(c, &path.child(keys.condition), cx, FnContext::Condition)?;
                match expr {
                    Expr::Str(_) | Expr::Bool(_) | Expr::Call(_) => Some(expr),
                    Expr::Null => None,
                    _ => {
                        return Err(type_error(
                            keys.condition,
                            if hot {
                                "string_or_boolean"
                            } else {
                                "string or boolean"
                            },
                            span,
                        ))
                    }
                }
            }
        };
        let external_id = match get("external_id") {
            None => None,
            Some(e) => {
                let span = e.span;
                let expr = Expr::parse(e, &path.child("external_id"), cx, FnContext::Value)?;
                match expr {
                    Expr::Str(_) | Expr::Call(_) => Some(expr),
                    Expr::Null => None,
                    _ => return Err(type_error("external_id", "string", span)),
                }
            }
        };
        out.push(ResourceDefinition {
            name,
            location,
            resource_type,
            properties,
            metadata,
            depends_on,
            deletion_policy,
            update_policy,
            description,
            condition,
            external_id,
        });
    }
    Ok(out)
}

fn parse_outputs(
    node: Node,
    keys: &Keys,
    cx: &ParseContext<'_>,
) -> Result<Vec<OutputDefinition>, TemplateError> {
    let section = Path::root().child(keys.outputs);
    let entries = match node.value {
        NodeValue::Map(entries) => entries,
        other => {
            let node = Node::new(other, node.span);
            if is_empty(&node) {
                return Ok(Vec::new());
            }
            return Err(structure(
                Location::new(cx.file.clone(), node.span, section),
                format!(
                    "\"{}\" must contain a map of output maps. Found a [<class '{}'>] instead",
                    keys.outputs,
                    python_type(&node)
                ),
            ));
        }
    };
    let allowed = cx.version.output_keys();
    let mut out = Vec::with_capacity(entries.len());
    for (key, body) in entries {
        let key_span = key.span;
        let name = key.into_key_text();
        let path = section.child(name.clone());
        let location = Location::new(cx.file.clone(), key_span, path.clone());
        // Unknown keys in an output are ignored, as Heat never checks them.
        let mut fields = match body.value {
            NodeValue::Map(fields) => fields,
            other => {
                return Err(structure(
                    location,
                    format!(
                        "Output definitions must be a map. Found a {} instead",
                        python_type(&Node::new(other, body.span))
                    ),
                ));
            }
        };
        let Some(value) = take(&mut fields, keys.value) else {
            return Err(structure(
                location,
                format!("Each output definition must contain a {} key.", keys.value),
            ));
        };
        let description = take(&mut fields, keys.res_description).and_then(|d| match d.value {
            NodeValue::Null => None,
            NodeValue::String(s) => Some(s),
            _ => Some(d.to_json().to_string()),
        });
        let condition = match take(&mut fields, keys.condition) {
            Some(c) if allowed.contains(&keys.condition) => Some(Expr::parse(
                c,
                &path.child(keys.condition),
                cx,
                FnContext::Condition,
            )?)
            .filter(|e| !matches!(e, Expr::Null)),
            _ => None,
        };
        out.push(OutputDefinition {
            value: Expr::parse(value, &path.child(keys.value), cx, FnContext::Value)?,
            name,
            location,
            description,
            condition,
        });
    }
    Ok(out)
}
