//! Template parameters: schemas (HOT and CFN spellings), Heat's type coercions and constraints,
//! values resolved from user input and `parameter_defaults`, pseudo parameters, `parameter_groups`,
//! the immutable-update check, and the views Heat's API shows (stack-show strings, the validate
//! answer's per-parameter map).
//!
//! Error texts are Heat's. Schema errors (bad keys, bad constraint definitions) are Heat's bare
//! `InvalidSchemaError` texts; errors found while validating a parameter (constraint on the wrong
//! type, bad default, bad value) are wrapped as `Parameter 'name' is invalid: ...`.

pub(crate) mod coerce;
mod constraints;
mod custom;

use indexmap::IndexMap;
use serde_json::{Map, Value};

pub use constraints::{Constraint, ConstraintKind};
pub use custom::{CustomConstraintChecker, CLOUD_CONSTRAINTS};

use crate::error::{ErrorKind, TemplateError};
use crate::node::{Location, Node, NodeValue, Path, Span};
use crate::pycompat;
use crate::stack::StackIdentity;
use crate::version::Version;
use constraints::{Check, SchemaResult};

/// Which parameter schema spelling and features a template has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParameterSyntax {
    /// CFN keys (`Type`, `Default`, `NoEcho`, `AllowedValues`, ...).
    Cfn,
    /// HOT keys; `modulo` exists from 2017-02-24 and `tags` from 2018-03-02.
    Hot { modulo: bool, tags: bool },
}

impl ParameterSyntax {
    pub fn for_version(version: Version) -> Self {
        if version.is_hot() {
            ParameterSyntax::Hot {
                modulo: version.date() >= "2017-02-24",
                tags: version.date() >= "2018-03-02",
            }
        } else {
            ParameterSyntax::Cfn
        }
    }

    fn is_hot(self) -> bool {
        matches!(self, ParameterSyntax::Hot { .. })
    }

    /// The name of the `parameters` section, for error paths.
    fn section(self) -> &'static str {
        if self.is_hot() {
            "parameters"
        } else {
            "Parameters"
        }
    }
}

/// A parameter's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamType {
    String,
    Number,
    CommaDelimitedList,
    Json,
    Boolean,
}

const TYPES: [ParamType; 5] = [
    ParamType::String,
    ParamType::Number,
    ParamType::CommaDelimitedList,
    ParamType::Json,
    ParamType::Boolean,
];

impl ParamType {
    pub fn hot_name(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Number => "number",
            ParamType::CommaDelimitedList => "comma_delimited_list",
            ParamType::Json => "json",
            ParamType::Boolean => "boolean",
        }
    }

    /// The CFN spelling, which is also what Heat's API shows for every template.
    pub fn cfn_name(self) -> &'static str {
        match self {
            ParamType::String => "String",
            ParamType::Number => "Number",
            ParamType::CommaDelimitedList => "CommaDelimitedList",
            ParamType::Json => "Json",
            ParamType::Boolean => "Boolean",
        }
    }

    fn name(self, syntax: ParameterSyntax) -> &'static str {
        if syntax.is_hot() {
            self.hot_name()
        } else {
            self.cfn_name()
        }
    }

    /// Converts a given or default value into this type, as Heat's `Parameter.value()` does.
    pub fn coerce(self, raw: &Value) -> Result<Value, String> {
        match self {
            ParamType::String => Ok(Value::String(pycompat::str_of(raw))),
            ParamType::Number => coerce::str_to_num(raw),
            ParamType::Boolean => coerce::bool_from_string(raw).map(Value::Bool),
            ParamType::CommaDelimitedList => coerce::parse_list(raw),
            ParamType::Json => coerce::parse_json(raw),
        }
    }
}

/// One declared parameter.
#[derive(Debug, Clone)]
pub struct ParameterSchema {
    pub name: String,
    /// Where the parameter is declared (its key in the `parameters` section).
    pub location: Location,
    pub param_type: ParamType,
    /// The type as the template's syntax spells it (`number` / `Number`), for messages.
    pub type_name: &'static str,
    pub label: Option<String>,
    pub description: Option<String>,
    /// The template default (`null` counts as none, as in Heat).
    pub default: Option<Value>,
    pub hidden: bool,
    pub immutable: bool,
    pub tags: Option<Vec<Value>>,
    pub constraints: Vec<Constraint>,
}

fn schema_error(location: &Location, message: impl Into<String>) -> TemplateError {
    TemplateError::new(ErrorKind::Parameter, location.clone(), message)
}

const HOT_KEYS: [&str; 8] = [
    "type",
    "description",
    "default",
    "schema",
    "constraints",
    "hidden",
    "label",
    "immutable",
];
const CFN_KEYS: [&str; 12] = [
    "Type",
    "Default",
    "NoEcho",
    "AllowedValues",
    "AllowedPattern",
    "MaxLength",
    "MinLength",
    "MaxValue",
    "MinValue",
    "Description",
    "ConstraintDescription",
    "Label",
];
const HOT_CONSTRAINT_KEYS: [&str; 7] = [
    "description",
    "length",
    "range",
    "modulo",
    "allowed_values",
    "allowed_pattern",
    "custom_constraint",
];

/// Heat's `_check_dict`: a mapping whose keys are all allowed.
fn check_dict<'a>(
    node: &'a Node,
    allowed: &[&str],
    entity: &str,
) -> Result<&'a [(Node, Node)], (String, Node)> {
    let Some(entries) = node.as_map() else {
        return Err((
            format!("Invalid {entity}, expected a mapping"),
            node.clone(),
        ));
    };
    for (key, _) in entries {
        let text = key.key_text();
        if !allowed.contains(&text.as_str()) {
            return Err((format!("Invalid key '{text}' for {entity}"), key.clone()));
        }
    }
    Ok(entries)
}

fn text_of(node: Option<&Node>) -> Option<String> {
    node.filter(|n| !matches!(n.value, NodeValue::Null))
        .map(|n| match n.as_str() {
            Some(s) => s.to_string(),
            None => pycompat::str_of(&n.to_json()),
        })
}

impl ParameterSchema {
    /// Parses one parameter declaration.
    pub fn parse(
        name: &str,
        node: &Node,
        syntax: ParameterSyntax,
        location: Location,
    ) -> Result<Self, TemplateError> {
        let here = |n: &Node, path: Path| Location::new(location.file.clone(), n.span, path);
        let mut keys: Vec<&str> = match syntax {
            ParameterSyntax::Hot { .. } => HOT_KEYS.to_vec(),
            ParameterSyntax::Cfn => CFN_KEYS.to_vec(),
        };
        if let ParameterSyntax::Hot { tags: true, .. } = syntax {
            keys.push("tags");
        }
        check_dict(node, &keys, &format!("parameter ({name})")).map_err(|(m, n)| {
            let path = if n.span == node.span {
                location.path.clone()
            } else {
                location.path.child(n.key_text())
            };
            schema_error(&here(&n, path), m)
        })?;
        let key = |hot: &str, cfn: &str| node.get(if syntax.is_hot() { hot } else { cfn });
        let Some(type_node) = key("type", "Type") else {
            return Err(schema_error(
                &location,
                format!("Missing parameter type for parameter: {name}"),
            ));
        };
        let tags = match syntax {
            ParameterSyntax::Hot { tags: true, .. } => match node.get("tags") {
                None => None,
                Some(t) => match &t.value {
                    NodeValue::List(items) => Some(items.iter().map(Node::to_json).collect()),
                    _ => {
                        return Err(schema_error(
                            &here(t, location.path.child("tags")),
                            format!("Tags property should be a list for parameter: {name}"),
                        ))
                    }
                },
            },
            _ => None,
        };
        let type_path = location
            .path
            .child(if syntax.is_hot() { "type" } else { "Type" });
        let param_type = type_node
            .as_str()
            .and_then(|t| TYPES.into_iter().find(|p| p.name(syntax) == t))
            .ok_or_else(|| {
                let written = match type_node.as_str() {
                    Some(s) => s.to_string(),
                    None => pycompat::str_of(&type_node.to_json()),
                };
                schema_error(
                    &here(type_node, type_path),
                    format!("Invalid type ({written})"),
                )
            })?;
        let constraints = match syntax {
            ParameterSyntax::Hot { modulo, .. } => {
                hot_constraints(name, node.get("constraints"), modulo, &location)?
            }
            ParameterSyntax::Cfn => cfn_constraints(node, &location)?,
        };
        let hidden = match syntax {
            ParameterSyntax::Hot { .. } => {
                key("hidden", "").is_some_and(|h| coerce::truthy(&h.to_json()))
            }
            ParameterSyntax::Cfn => node
                .get("NoEcho")
                .is_some_and(|n| pycompat::str_of(&n.to_json()).to_lowercase() == "true"),
        };
        let immutable = syntax.is_hot()
            && node
                .get("immutable")
                .is_some_and(|i| coerce::truthy(&i.to_json()));
        Ok(ParameterSchema {
            name: name.to_string(),
            location: location.clone(),
            param_type,
            type_name: param_type.name(syntax),
            label: text_of(key("label", "Label")),
            description: text_of(key("description", "Description")),
            default: key("default", "Default")
                .filter(|d| !matches!(d.value, NodeValue::Null))
                .map(Node::to_json),
            hidden,
            immutable,
            tags,
            constraints,
        })
    }

    /// A pseudo parameter: a string with a fixed default.
    fn pseudo(
        name: &str,
        description: Option<&str>,
        value: String,
        constraints: Vec<Constraint>,
    ) -> Self {
        ParameterSchema {
            name: name.to_string(),
            location: Location::default(),
            param_type: ParamType::String,
            type_name: "String",
            label: None,
            description: description.map(str::to_string),
            default: Some(Value::String(value)),
            hidden: false,
            immutable: false,
            tags: None,
            constraints,
        }
    }

    fn invalid(&self, message: impl std::fmt::Display) -> TemplateError {
        schema_error(
            &self.location,
            format!("Parameter '{}' is invalid: {message}", self.name),
        )
    }

    /// Heat's `Schema.validate`: every constraint suits the type, and the template default
    /// passes the constraints (custom constraints are not run on defaults).
    pub fn validate(&self) -> Result<(), TemplateError> {
        for c in &self.constraints {
            if !c.applies_to(self.param_type) {
                return Err(self.invalid(format!(
                    "{} constraint invalid for {}",
                    c.class_name(),
                    self.type_name
                )));
            }
        }
        let Some(default) = &self.default else {
            return Ok(());
        };
        let checked = match (self.param_type, default) {
            (ParamType::CommaDelimitedList, Value::String(s)) => {
                Value::Array(s.split(',').map(|p| Value::String(p.to_string())).collect())
            }
            (ParamType::CommaDelimitedList, Value::Array(_)) => coerce::parse_list(default)
                .unwrap_or_else(|_| default.clone()),
            (ParamType::CommaDelimitedList, other) => {
                return Err(self.invalid(format!(
                    "Default must be a comma-delimited list string: '{}' object has no attribute 'split'",
                    coerce::python_type(other)
                )))
            }
            _ => default.clone(),
        };
        let failure = self.constraints.iter().find_map(|c| {
            match c.check(&checked, self.param_type, self.type_name, false, None) {
                Check::Failed(message) => Some(message),
                Check::Passed | Check::Skipped => None,
            }
        });
        match failure {
            Some(message) => Err(self.invalid(format!(
                "Invalid default {} ({message})",
                pycompat::str_of(default)
            ))),
            None => Ok(()),
        }
    }

    /// Checks a given (or effective default) value: its type, then every constraint. Cloud
    /// custom constraints without a checker are added to `skipped`.
    fn validate_value(
        &self,
        raw: &Value,
        checker: Option<&dyn CustomConstraintChecker>,
        skipped: &mut Vec<SkippedCheck>,
    ) -> Result<Value, TemplateError> {
        let checked = match self.param_type {
            ParamType::Number => {
                coerce::str_to_num(raw).map_err(|m| self.invalid(m))?;
                raw.clone()
            }
            ParamType::Boolean => {
                coerce::bool_from_string(raw).map_err(|m| self.invalid(m))?;
                raw.clone()
            }
            ParamType::CommaDelimitedList => {
                coerce::parse_list(raw).map_err(|m| self.invalid(m))?
            }
            ParamType::Json => coerce::parse_json(raw).map_err(|m| self.invalid(m))?,
            ParamType::String => raw.clone(),
        };
        for c in &self.constraints {
            match c.check(&checked, self.param_type, self.type_name, true, checker) {
                Check::Passed => {}
                Check::Failed(message) => return Err(self.invalid(message)),
                Check::Skipped => {
                    if let ConstraintKind::Custom(name) = &c.kind {
                        skipped.push(SkippedCheck {
                            parameter: self.name.clone(),
                            constraint: name.clone(),
                            value: checked.clone(),
                        });
                    }
                }
            }
        }
        self.param_type.coerce(raw).map_err(|m| self.invalid(m))
    }
}

fn hot_constraints(
    name: &str,
    node: Option<&Node>,
    modulo_allowed: bool,
    location: &Location,
) -> Result<Vec<Constraint>, TemplateError> {
    let Some(node) = node.filter(|n| !matches!(n.value, NodeValue::Null)) else {
        return Ok(Vec::new());
    };
    let path = location.path.child("constraints");
    let Some(items) = node.as_list() else {
        return Err(schema_error(
            &Location::new(location.file.clone(), node.span, path),
            format!("Invalid parameter constraints for parameter {name}, expected a list"),
        ));
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let item_path = path.index(i);
        let at = |n: Option<&Node>| {
            Location::new(
                location.file.clone(),
                n.unwrap_or(item).span,
                item_path.clone(),
            )
        };
        check_dict(item, &HOT_CONSTRAINT_KEYS, "parameter constraints")
            .map_err(|(m, n)| schema_error(&at(Some(&n)), m))?;
        let description = text_of(item.get("description"));
        let parsed: SchemaResult<Constraint> =
            if let (true, Some(def)) = (modulo_allowed, item.get("modulo")) {
                bounds(def, "modulo constraint", ["step", "offset"])
                    .and_then(|(s, o)| constraints::modulo(s, o, description))
            } else if let Some(def) = item.get("range") {
                bounds(def, "range constraint", ["min", "max"])
                    .and_then(|(a, b)| constraints::range(a, b, description))
            } else if let Some(def) = item.get("length") {
                bounds(def, "length constraint", ["min", "max"])
                    .and_then(|(a, b)| constraints::length(a, b, description))
            } else if let Some(def) = item.get("allowed_values") {
                constraints::allowed_values(def, description)
            } else if let Some(def) = item.get("allowed_pattern") {
                constraints::allowed_pattern(def, description)
            } else if let Some(def) = item.get("custom_constraint") {
                Ok(constraints::custom(def, description))
            } else {
                Err(("No constraint expressed".to_string(), None))
            };
        out.push(parsed.map_err(|(m, n)| schema_error(&at(n.as_ref()), m))?);
    }
    Ok(out)
}

fn cfn_constraints(node: &Node, location: &Location) -> Result<Vec<Constraint>, TemplateError> {
    let description = text_of(node.get("ConstraintDescription"));
    let at = |n: Option<Node>| {
        Location::new(
            location.file.clone(),
            n.map_or(location.span, |n| n.span),
            location.path.clone(),
        )
    };
    let located = |r: SchemaResult<Constraint>| r.map_err(|(m, n)| schema_error(&at(n), m));
    let mut out = Vec::new();
    if node.get("MinValue").is_some() || node.get("MaxValue").is_some() {
        out.push(located(constraints::range(
            node.get("MinValue"),
            node.get("MaxValue"),
            description.clone(),
        ))?);
    }
    if node.get("MinLength").is_some() || node.get("MaxLength").is_some() {
        out.push(located(constraints::length(
            node.get("MinLength"),
            node.get("MaxLength"),
            description.clone(),
        ))?);
    }
    if let Some(values) = node.get("AllowedValues") {
        out.push(located(constraints::allowed_values(
            values,
            description.clone(),
        ))?);
    }
    if let Some(pattern) = node.get("AllowedPattern") {
        out.push(located(constraints::allowed_pattern(pattern, description))?);
    }
    Ok(out)
}

/// The declared parameters of a template, in document order.
#[derive(Debug, Clone)]
pub struct ParameterSchemas {
    pub syntax: ParameterSyntax,
    pub file: String,
    schemas: IndexMap<String, ParameterSchema>,
}

/// What a stack's parameter values come from.
#[derive(Debug, Clone, Default)]
pub struct ParameterInput {
    /// User values: the merged environment's `parameters` (with the request's parameters).
    /// A null value counts as not given, as in Heat.
    pub values: IndexMap<String, Value>,
    /// The merged environment's `parameter_defaults`: they replace template defaults; names the
    /// template does not declare are ignored.
    pub defaults: IndexMap<String, Value>,
    /// The stack, for the pseudo parameters. `None` before the stack exists (Heat's validate).
    pub identity: Option<StackIdentity>,
}

/// A custom constraint that needs a cloud and was not checked.
#[derive(Debug, Clone, PartialEq)]
pub struct SkippedCheck {
    pub parameter: String,
    pub constraint: String,
    pub value: Value,
}

impl ParameterSchemas {
    /// Parses the `parameters` (HOT) / `Parameters` (CFN) section; `None` or null is empty.
    pub fn parse(
        section: Option<&Node>,
        file: &str,
        syntax: ParameterSyntax,
    ) -> Result<Self, TemplateError> {
        let mut schemas = IndexMap::new();
        let root = Path::root().child(syntax.section());
        if let Some(section) = section.filter(|s| !matches!(s.value, NodeValue::Null)) {
            let Some(entries) = section.as_map() else {
                return Err(schema_error(
                    &Location::new(file, section.span, root),
                    // Heat has no message of its own here (it fails on `.items()`); this one
                    // follows its wording for outputs and conditions.
                    format!(
                        "Parameter definitions must be a map. Found a {} instead",
                        coerce::python_type(&section.to_json())
                    ),
                ));
            };
            for (key, value) in entries {
                let name = key.key_text();
                let location = Location::new(file, key.span, root.child(name.clone()));
                let schema = ParameterSchema::parse(&name, value, syntax, location)?;
                schemas.insert(name, schema);
            }
        }
        Ok(Self {
            syntax,
            file: file.to_string(),
            schemas,
        })
    }

    pub fn get(&self, name: &str) -> Option<&ParameterSchema> {
        self.schemas.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &ParameterSchema> {
        self.schemas.values()
    }

    pub fn len(&self) -> usize {
        self.schemas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.schemas.is_empty()
    }

    /// Each declared parameter's type, as environment merging needs it.
    pub fn types(&self) -> IndexMap<String, ParamType> {
        self.schemas
            .iter()
            .map(|(n, s)| (n.clone(), s.param_type))
            .collect()
    }

    /// The pseudo parameters Heat adds, in its order.
    fn pseudo_parameters(&self, identity: Option<&StackIdentity>) -> Vec<ParameterSchema> {
        let name = identity.map_or("", |i| i.name.as_str());
        let mut out = Vec::new();
        if self.syntax.is_hot() {
            let id = identity.map_or(String::new(), |i| i.id.clone());
            let project = identity.map_or(String::new(), |i| i.project_id.clone());
            out.push(ParameterSchema::pseudo(
                "OS::stack_id",
                Some("Stack ID"),
                id,
                Vec::new(),
            ));
            out.push(ParameterSchema::pseudo(
                "OS::project_id",
                Some("Project ID"),
                project,
                Vec::new(),
            ));
            if !name.is_empty() {
                out.push(ParameterSchema::pseudo(
                    "OS::stack_name",
                    Some("Stack Name"),
                    name.to_string(),
                    Vec::new(),
                ));
            }
        } else {
            let arn = identity.map_or("None".to_string(), stack_arn);
            out.push(ParameterSchema::pseudo(
                "AWS::StackId",
                Some("Stack ID"),
                arn,
                Vec::new(),
            ));
            if !name.is_empty() {
                out.push(ParameterSchema::pseudo(
                    "AWS::StackName",
                    Some("Stack Name"),
                    name.to_string(),
                    Vec::new(),
                ));
                let regions = [
                    "us-east-1",
                    "us-west-1",
                    "us-west-2",
                    "sa-east-1",
                    "eu-west-1",
                    "ap-southeast-1",
                    "ap-northeast-1",
                ];
                let allowed = Constraint {
                    kind: ConstraintKind::AllowedValues(
                        regions
                            .iter()
                            .map(|r| Value::String(r.to_string()))
                            .collect(),
                    ),
                    description: None,
                };
                out.push(ParameterSchema::pseudo(
                    "AWS::Region",
                    None,
                    "ap-southeast-1".into(),
                    vec![allowed],
                ));
            }
        }
        out
    }

    /// The names `parameter_groups` may refer to: the pseudo parameters Heat has before the
    /// stack exists, then the declared ones.
    fn groupable_names(&self) -> Vec<String> {
        self.pseudo_parameters(None)
            .into_iter()
            .map(|p| p.name)
            .chain(self.schemas.keys().cloned())
            .collect()
    }

    /// Heat's `Parameters.validate`: refuses user values for undeclared names, validates each
    /// schema and its default, then each value (user value, else `parameter_defaults`, else the
    /// template default). With `check_values` false (template-only validation) missing and
    /// invalid values are not errors. Custom constraints that need a cloud go to `checker`, or
    /// are listed in [`ResolvedParameters::skipped`].
    pub fn resolve(
        &self,
        input: &ParameterInput,
        check_values: bool,
        checker: Option<&dyn CustomConstraintChecker>,
    ) -> Result<ResolvedParameters, TemplateError> {
        for name in input.values.keys() {
            if !self.schemas.contains_key(name) {
                return Err(TemplateError::new(
                    ErrorKind::UnknownParameter,
                    Location::new(
                        self.file.as_str(),
                        Span::default(),
                        Path::root().child(self.syntax.section()),
                    ),
                    format!("The Parameter ({name}) was not defined in template."),
                ));
            }
        }
        let mut resolved = ResolvedParameters {
            params: IndexMap::new(),
            skipped: Vec::new(),
        };
        let pseudo = self.pseudo_parameters(input.identity.as_ref());
        for schema in pseudo.iter().chain(self.schemas.values()) {
            let is_pseudo = !self.schemas.contains_key(&schema.name);
            let user_value = if is_pseudo {
                None
            } else {
                input
                    .values
                    .get(&schema.name)
                    .filter(|v| !v.is_null())
                    .cloned()
            };
            let user_default = if is_pseudo {
                None
            } else {
                input
                    .defaults
                    .get(&schema.name)
                    .filter(|v| !v.is_null())
                    .cloned()
            };
            schema.validate()?;
            let effective = user_value
                .clone()
                .or_else(|| user_default.clone())
                .or_else(|| schema.default.clone());
            let value = match &effective {
                Some(raw) if check_values => {
                    Some(schema.validate_value(raw, checker, &mut resolved.skipped)?)
                }
                Some(raw) => schema.param_type.coerce(raw).ok(),
                None if check_values => {
                    return Err(schema_error(
                        &schema.location,
                        format!("The Parameter ({}) was not provided.", schema.name),
                    ))
                }
                None => None,
            };
            resolved.params.insert(
                schema.name.clone(),
                ResolvedParameter {
                    schema: schema.clone(),
                    pseudo: is_pseudo,
                    user_value,
                    user_default,
                    value,
                },
            );
        }
        Ok(resolved)
    }

    /// Heat's `parameter_groups` checks (`Parameter Groups error: ...`).
    pub fn validate_groups(&self, groups: Option<&Node>) -> Result<(), TemplateError> {
        let Some(groups) = groups.filter(|g| coerce::truthy(&g.to_json())) else {
            return Ok(());
        };
        let root = Path::root().child("parameter_groups");
        let fail = |node: &Node, label: Option<String>, message: String| {
            let mut shown = "parameter_groups".to_string();
            let mut path = root.clone();
            if let Some(label) = label {
                if !label.is_empty() && label.bytes().all(|b| b.is_ascii_digit()) {
                    shown.push_str(&format!("[{label}]"));
                } else {
                    shown.push('.');
                    shown.push_str(&label);
                }
                path = path.child(label);
            }
            schema_error(
                &Location::new(self.file.as_str(), node.span, path),
                format!("Parameter Groups error: {shown}: {message}"),
            )
        };
        let Some(list) = groups.as_list() else {
            return Err(fail(
                groups,
                None,
                "The parameter_groups should be a list.".into(),
            ));
        };
        let names = self.groupable_names();
        let mut grouped: Vec<String> = Vec::new();
        for group in list {
            let label = Some(group.get("label").map_or(String::new(), |l| {
                l.as_str()
                    .map_or_else(|| pycompat::str_of(&l.to_json()), str::to_string)
            }));
            let parameters = group
                .get("parameters")
                .filter(|p| !matches!(p.value, NodeValue::Null));
            let Some(parameters) = parameters else {
                return Err(fail(
                    group,
                    label,
                    "The parameters must be provided for each parameter group.".into(),
                ));
            };
            let Some(members) = parameters.as_list() else {
                return Err(fail(
                    parameters,
                    label,
                    "The parameters of parameter group should be a list.".into(),
                ));
            };
            for member in members {
                let name = member
                    .as_str()
                    .map_or_else(|| pycompat::str_of(&member.to_json()), str::to_string);
                if grouped.contains(&name) {
                    return Err(fail(
                        member,
                        label,
                        format!(
                            "The {name} parameter must be assigned to one parameter group only."
                        ),
                    ));
                }
                grouped.push(name.clone());
                if member.as_str().is_none() || !names.contains(&name) {
                    return Err(fail(
                        member,
                        label,
                        format!(
                            "The grouped parameter {name} does not reference a valid parameter."
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Heat's stack ARN: `arn:openstack:heat::<tenant>:stacks/<name>/<id>`, each part quoted.
fn stack_arn(identity: &StackIdentity) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    // Python's quote(s, safe='') keeps only letters, digits and "_.-~".
    const QUOTE: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'_')
        .remove(b'.')
        .remove(b'-')
        .remove(b'~');
    let q = |s: &str| utf8_percent_encode(s, QUOTE).to_string();
    format!(
        "arn:openstack:heat::{}:stacks/{}/{}",
        q(&identity.project_id),
        q(&identity.name),
        q(&identity.id)
    )
}

/// One parameter with the value the stack uses.
#[derive(Debug, Clone)]
pub struct ResolvedParameter {
    pub schema: ParameterSchema,
    pub pseudo: bool,
    /// The value the user gave, as given.
    pub user_value: Option<Value>,
    /// The `parameter_defaults` value, as given.
    pub user_default: Option<Value>,
    /// The typed value; `None` only when values were not checked and none was available.
    pub value: Option<Value>,
}

impl ResolvedParameter {
    /// The default Heat reports: `parameter_defaults` over the template default.
    pub fn default(&self) -> Option<&Value> {
        self.user_default.as_ref().or(self.schema.default.as_ref())
    }

    /// Heat's `str(parameter)`: `******` when hidden; lists joined with ','; json dumped.
    pub fn display(&self) -> Option<String> {
        let value = self.value.as_ref()?;
        if self.schema.hidden {
            return Some("******".to_string());
        }
        Some(match (self.schema.param_type, value) {
            (ParamType::CommaDelimitedList, Value::Array(items)) => items
                .iter()
                .map(pycompat::str_of)
                .collect::<Vec<_>>()
                .join(","),
            (ParamType::Json, v) => pycompat::json_dumps(v, false),
            (_, v) => pycompat::str_of(v),
        })
    }

    /// The parameter as Heat's validate API shows it (`format_validate_parameter`).
    pub fn validate_view(&self) -> Value {
        let schema = &self.schema;
        let mut view = Map::new();
        view.insert(
            "Type".into(),
            Value::String(schema.param_type.cfn_name().into()),
        );
        view.insert(
            "Description".into(),
            Value::String(schema.description.clone().unwrap_or_default()),
        );
        view.insert(
            "NoEcho".into(),
            Value::String(if schema.hidden { "true" } else { "false" }.into()),
        );
        view.insert(
            "Label".into(),
            Value::String(
                schema
                    .label
                    .clone()
                    .filter(|l| !l.is_empty())
                    .unwrap_or_else(|| schema.name.clone()),
            ),
        );
        if let Some(default) = self.default() {
            view.insert("Default".into(), default.clone());
        }
        if let Some(value) = self.user_value.as_ref().filter(|v| coerce::truthy(v)) {
            view.insert("Value".into(), value.clone());
        }
        if let Some(tags) = schema.tags.as_ref().filter(|t| !t.is_empty()) {
            view.insert("Tags".into(), Value::Array(tags.clone()));
        }
        let mut descriptions = Vec::new();
        for c in &schema.constraints {
            let mut put = |key: &str, v: &Option<Value>| {
                if let Some(v) = v {
                    view.insert(key.into(), v.clone());
                }
            };
            match &c.kind {
                ConstraintKind::Length { min, max } => {
                    put("MinLength", min);
                    put("MaxLength", max);
                }
                ConstraintKind::Range { min, max } => {
                    put("MinValue", min);
                    put("MaxValue", max);
                }
                ConstraintKind::Modulo { step, offset } => {
                    put("Step", &Some(step.clone()));
                    put("Offset", &Some(offset.clone()));
                }
                ConstraintKind::AllowedValues(values) => {
                    view.insert("AllowedValues".into(), Value::Array(values.clone()));
                }
                ConstraintKind::AllowedPattern { pattern, .. } => {
                    view.insert("AllowedPattern".into(), Value::String(pattern.clone()));
                }
                ConstraintKind::Custom(name) => {
                    view.insert("CustomConstraint".into(), Value::String(name.clone()));
                }
            }
            if let Some(d) = c.description.as_ref().filter(|d| !d.is_empty()) {
                descriptions.push(d.clone());
            }
        }
        if !descriptions.is_empty() {
            view.insert(
                "ConstraintDescription".into(),
                Value::String(descriptions.join(" ")),
            );
        }
        Value::Object(view)
    }
}

/// A stack's parameters with their values: pseudo parameters first, then the declared ones in
/// template order (Heat's order).
#[derive(Debug, Clone)]
pub struct ResolvedParameters {
    params: IndexMap<String, ResolvedParameter>,
    /// Cloud custom constraints that were not checked (no checker was given).
    pub skipped: Vec<SkippedCheck>,
}

impl ResolvedParameters {
    pub fn get(&self, name: &str) -> Option<&ResolvedParameter> {
        self.params.get(name)
    }

    /// The typed value `get_param` / `Ref` reads.
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.params.get(name)?.value.as_ref()
    }

    pub fn iter(&self) -> impl Iterator<Item = &ResolvedParameter> {
        self.params.values()
    }

    /// Every typed value by name, pseudo parameters included.
    pub fn values(&self) -> IndexMap<String, Value> {
        self.params
            .iter()
            .filter_map(|(n, p)| Some((n.clone(), p.value.clone()?)))
            .collect()
    }

    /// All values as strings, as stack-show returns them (hidden ones as `******`).
    pub fn display_values(&self) -> IndexMap<String, String> {
        self.params
            .iter()
            .filter_map(|(n, p)| Some((n.clone(), p.display()?)))
            .collect()
    }

    /// The validate API's `Parameters` map: the declared parameters, without pseudo ones.
    pub fn validate_view(&self) -> Map<String, Value> {
        self.params
            .iter()
            .filter(|(_, p)| !p.pseudo)
            .map(|(n, p)| (n.clone(), p.validate_view()))
            .collect()
    }

    /// Heat's update check: a parameter declared immutable in the new template, present in both,
    /// whose new value differs. `input` is what the update request gave. Values are compared
    /// after typing (Heat compares the raw input, which refuses "5" for an unchanged number 5).
    pub fn check_immutable_update(&self, new: &ResolvedParameters) -> Result<(), TemplateError> {
        let changed: Vec<&str> = new
            .params
            .values()
            .filter(|p| !p.pseudo && p.schema.immutable)
            .filter_map(|p| {
                let old = self.params.get(&p.schema.name).filter(|o| !o.pseudo)?;
                match (&old.value, &p.value) {
                    (Some(a), Some(b)) if pycompat::equal(a, b) => None,
                    _ => Some(p.schema.name.as_str()),
                }
            })
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        let location = new
            .params
            .get(changed[0])
            .map(|p| p.schema.location.clone())
            .unwrap_or_default();
        Err(schema_error(
            &location,
            format!(
                "The following parameters are immutable and may not be updated: {}",
                changed.join(", ")
            ),
        ))
    }
}

/// A `range`/`length`/`modulo` definition: a mapping with only the two bound keys.
fn bounds<'a>(
    def: &'a Node,
    entity: &str,
    keys: [&str; 2],
) -> SchemaResult<(Option<&'a Node>, Option<&'a Node>)> {
    check_dict(def, &keys, entity)
        .map(|_| (def.get(keys[0]), def.get(keys[1])))
        .map_err(|(m, n)| (m, Some(n)))
}
