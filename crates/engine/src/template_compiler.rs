//! The [`Compiler`] over ember-template: parses the stored template, merges the environment,
//! binds parameters and hands the engine resource definitions whose expressions evaluate
//! through the template crate against the engine's live state.

use crate::definition::{
    Compiler, DeletionPolicy, Evaluate, Literal, OutputDefinition, Resolver, ResourceDefinition,
    StackDefinition, StackIdentity, TemplateSource, Validation,
};
use crate::error::EngineError;
use crate::schema::python_str;
use ember_template as tpl;
use indexmap::IndexMap;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Compiles Heat templates with ember-template.
#[derive(Debug, Clone, Default)]
pub struct TemplateCompiler {
    pub limits: tpl::Limits,
}

impl TemplateCompiler {
    /// The stack's environment as Heat's API builds it: the inline environment, the request's
    /// parameters over it, then the environment files merged in order by the template crate
    /// (with each file's `parameter_merge_strategies` and the template's parameter `types`;
    /// parameters without a type are not merged).
    fn environment(
        &self,
        source: &TemplateSource,
        parameters: &Map<String, Value>,
        types: &IndexMap<String, tpl::parameters::ParamType>,
    ) -> Result<tpl::environment::Environment, EngineError> {
        let files = self.environment_files(source)?;
        let inline = tpl::environment::parse_environment(
            &tpl::Node::from_json(&source.environment),
            "environment",
        )
        .map_err(template_error)?;
        let parameters: IndexMap<String, Value> = parameters
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        tpl::environment::request_environment(Some(&inline), &files, &parameters, types)
            .map_err(template_error)
    }

    /// The source's environment files, parsed, in merge order.
    fn environment_files(
        &self,
        source: &TemplateSource,
    ) -> Result<Vec<tpl::environment::EnvironmentFile>, EngineError> {
        source
            .environment_files
            .iter()
            .map(|name| {
                let text = source.files.get(name).ok_or_else(|| {
                    EngineError::InvalidRequest(format!(
                        "Environment file {name} is missing from files"
                    ))
                })?;
                let node = match text {
                    Value::String(s) => {
                        tpl::parse_document(s, name, &self.limits).map_err(template_error)?
                    }
                    other => tpl::Node::from_json(other),
                };
                tpl::environment::parse_environment(&node, name).map_err(template_error)
            })
            .collect()
    }

    fn template(&self, source: &TemplateSource) -> Result<tpl::Template, EngineError> {
        let text = match &source.template {
            Value::String(s) => s.clone(),
            other => serde_json::to_string(other)
                .map_err(|e| EngineError::InvalidRequest(e.to_string()))?,
        };
        tpl::parse_template(&text, "template", &self.limits).map_err(template_error)
    }

    fn files(source: &TemplateSource) -> BTreeMap<String, String> {
        source
            .files
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str().map_or_else(|| v.to_string(), str::to_string),
                )
            })
            .collect()
    }

    fn input(
        env: &tpl::environment::Environment,
        source: &TemplateSource,
        identity: &StackIdentity,
    ) -> tpl::StackInput {
        let identity = tpl::StackIdentity {
            name: identity.stack_name.clone(),
            id: identity.stack_id.clone(),
            project_id: identity.project_id.clone(),
        };
        tpl::StackInput::new(env, Self::files(source), identity)
    }
}

fn template_error(e: tpl::TemplateError) -> EngineError {
    match e.kind {
        tpl::ErrorKind::Limit => EngineError::RequestLimitExceeded(e.message),
        tpl::ErrorKind::UnknownParameter => EngineError::UnknownUserParameter(e.message),
        tpl::ErrorKind::InvalidVersion => EngineError::InvalidTemplateVersion(e.message),
        _ => EngineError::StackValidationFailed(e.to_string()),
    }
}

/// Names of parameters declared hidden (`hidden: true`, CFN `NoEcho: "true"`).
fn hidden_parameters(template: &tpl::Template) -> Vec<String> {
    hidden_in(&template.parameters.to_json())
}

fn hidden_in(declared: &Value) -> Vec<String> {
    let Some(map) = declared.as_object() else {
        return Vec::new();
    };
    map.iter()
        .filter(|(_, schema)| {
            let flag = |key: &str| match schema.get(key) {
                Some(Value::Bool(b)) => *b,
                Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
                _ => false,
            };
            flag("hidden") || flag("NoEcho")
        })
        .map(|(k, _)| k.clone())
        .collect()
}

/// Names of the hidden parameters a stored template declares (text or JSON), for the store to
/// encrypt their values. Unreadable templates declare none.
pub fn hidden_parameter_names(template: &Value) -> Vec<String> {
    let parsed;
    let root = match template {
        Value::String(text) => match tpl::parse_document(text, "template", &tpl::Limits::default())
        {
            Ok(node) => {
                parsed = node.to_json();
                &parsed
            }
            Err(_) => return Vec::new(),
        },
        other => other,
    };
    let declared = root.get("parameters").or_else(|| root.get("Parameters"));
    declared.map(hidden_in).unwrap_or_default()
}

/// The template as Heat's API returns it: a JSON object, whatever format it was given in.
pub fn template_as_json(template: &Value) -> Value {
    match template {
        Value::String(text) => tpl::parse_document(text, "template", &tpl::Limits::default())
            .map(|node| node.to_json())
            .unwrap_or_else(|_| template.clone()),
        other => other.clone(),
    }
}

/// How `stack show` prints a parameter value.
fn shown_parameter(value: &Value) -> Value {
    match value {
        Value::Array(items) => {
            Value::String(items.iter().map(python_str).collect::<Vec<_>>().join(","))
        }
        Value::Object(_) => Value::String(value.to_string()),
        other => Value::String(python_str(other)),
    }
}

#[derive(Debug, Clone)]
enum Field {
    Properties(String),
    Metadata(String),
    Output(String),
}

/// One expression of a compiled template, evaluated by the template crate.
struct TemplateExpr {
    /// Behind a mutex because `tpl::StackDefinition` is not `Sync` (see NEEDS.md).
    definition: Arc<Mutex<tpl::StackDefinition>>,
    field: Field,
    /// What `resource_facade` answers (the stack's [`TemplateSource::facade`]).
    facade: Arc<Value>,
}

impl std::fmt::Debug for TemplateExpr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TemplateExpr({:?})", self.field)
    }
}

impl Evaluate for TemplateExpr {
    fn evaluate(&self, resolver: &dyn Resolver) -> Result<Value, String> {
        let bridge = Bridge(resolver, &self.facade);
        let definition = self
            .definition
            .lock()
            .map_err(|_| "template state poisoned".to_string())?;
        let result = match &self.field {
            Field::Properties(name) => definition.resolve_properties(name, &bridge),
            Field::Metadata(name) => definition.resolve_metadata(name, &bridge),
            Field::Output(name) => definition.resolve_output(name, &bridge),
        };
        result.map_err(|e| e.message)
    }
}

/// The engine's resolver seen through the template crate's trait, with the stack's facade.
struct Bridge<'a>(&'a dyn Resolver, &'a Value);

impl tpl::Resolver for Bridge<'_> {
    fn resource_ref(&self, name: &str) -> Result<Value, tpl::EvalError> {
        self.0.resource_ref(name).ok_or_else(|| {
            tpl::EvalError::new(
                tpl::ErrorKind::Reference,
                format!("The specified reference \"{name}\" (in unknown) is incorrect."),
            )
        })
    }
    fn resource_attr(
        &self,
        name: &str,
        attr: &str,
        path: &[Value],
    ) -> Result<Value, tpl::EvalError> {
        self.0
            .resource_attr(name, attr, path)
            .map_err(|m| tpl::EvalError::new(tpl::ErrorKind::Evaluation, m))
    }
    fn resource_attrs(&self, name: &str) -> Result<Value, tpl::EvalError> {
        self.0
            .resource_attrs(name)
            .map_err(|m| tpl::EvalError::new(tpl::ErrorKind::Evaluation, m))
    }
    fn resource_facade(&self, what: &str) -> Result<Value, tpl::EvalError> {
        // A root stack has no parent resource: null.
        Ok(self.1.get(what).cloned().unwrap_or(Value::Null))
    }
    fn availability_zones(&self) -> Vec<String> {
        vec!["nova".to_string()]
    }
}

impl Compiler for TemplateCompiler {
    fn compile(
        &self,
        source: &TemplateSource,
        parameters: &Map<String, Value>,
        identity: &StackIdentity,
    ) -> Result<StackDefinition, EngineError> {
        let template = self.template(source)?;
        let types = template.parameter_types().map_err(template_error)?;
        let env = self.environment(source, parameters, &types)?;
        let hidden = hidden_parameters(&template);
        let description = template.description.clone();
        let input = Self::input(&env, source, identity);
        let compiled = tpl::StackDefinition::new(template, input).map_err(template_error)?;
        // The compiled template is shared by every expression that needs evaluating; the
        // engine's definitions are read from it in place (no per-resource copies).
        let shared = Arc::new(Mutex::new(compiled));
        // Just created: nothing can have poisoned it.
        let compiled = shared.lock().unwrap_or_else(PoisonError::into_inner);
        let parameters = compiled
            .parameters
            .iter()
            .map(|(k, v)| {
                let shown = if hidden.contains(k) {
                    Value::String("******".into())
                } else {
                    shown_parameter(v)
                };
                (k.clone(), shown)
            })
            .collect();
        let facade = Arc::new(source.facade.clone());
        let expr = |field: Field| -> Arc<dyn Evaluate> {
            Arc::new(TemplateExpr {
                definition: shared.clone(),
                field,
                facade: facade.clone(),
            })
        };
        // Values without any function need no evaluation (and no lock): most properties.
        let literal_or = |written: &Option<Arc<tpl::Expr>>, field: Field| -> Arc<dyn Evaluate> {
            match written {
                None => Arc::new(Literal(Value::Object(Map::new()))),
                Some(e) => match e.literal() {
                    Some(v) => Arc::new(Literal(v)),
                    None => expr(field),
                },
            }
        };
        let mut resources = IndexMap::with_capacity(compiled.resources.len());
        for r in &compiled.resources {
            let update_policy = compiled
                .resolve_update_policy(&r.name, &tpl::PlaceholderResolver)
                .unwrap_or(Value::Null);
            resources.insert(
                r.name.clone(),
                ResourceDefinition {
                    properties: literal_or(&r.properties, Field::Properties(r.name.clone())),
                    metadata: literal_or(&r.metadata, Field::Metadata(r.name.clone())),
                    requires: r.dependencies.iter().cloned().collect(),
                    deletion_policy: r
                        .deletion_policy
                        .as_deref()
                        .and_then(DeletionPolicy::parse)
                        .unwrap_or_default(),
                    update_policy,
                    description: r.description.clone().unwrap_or_default(),
                    external_id: r.external_id.clone(),
                    type_name: r.resource_type.clone(),
                    name: r.name.clone(),
                },
            );
        }
        let outputs = compiled
            .outputs
            .iter()
            .map(|o| {
                let value = expr(Field::Output(o.name.clone()));
                let description = o
                    .description
                    .clone()
                    .unwrap_or_else(|| "No description given".into());
                (o.name.clone(), OutputDefinition { value, description })
            })
            .collect();
        drop(compiled);
        Ok(StackDefinition {
            description,
            resources,
            outputs,
            parameters,
            resource_registry: env.registry.to_json(),
        })
    }

    /// The template is not parsed: the registry does not depend on it (parameter types only
    /// decide how parameter values merge).
    fn resource_registry(
        &self,
        source: &TemplateSource,
        parameters: &Map<String, Value>,
    ) -> Result<Value, EngineError> {
        let env = self.environment(source, parameters, &IndexMap::new())?;
        Ok(env.registry.to_json())
    }

    fn merge_environment_files(
        &self,
        source: &TemplateSource,
        parameters: &Map<String, Value>,
        base: Option<&Value>,
    ) -> Result<Value, EngineError> {
        let files = self.environment_files(source)?;
        let types = self
            .template(source)?
            .parameter_types()
            .map_err(template_error)?;
        let mut start = match base {
            Some(env) => tpl::environment::Environment::from_json(env).map_err(template_error)?,
            None => tpl::environment::Environment::default(),
        };
        start
            .parameters
            .extend(parameters.iter().map(|(k, v)| (k.clone(), v.clone())));
        let merged = tpl::environment::merge_environment_files(&start, &files, &types)
            .map_err(template_error)?;
        Ok(merged.env_json())
    }

    fn validate(
        &self,
        source: &TemplateSource,
        parameters: &Map<String, Value>,
        show_nested: bool,
    ) -> Result<Validation, EngineError> {
        let template = self.template(source)?;
        let types = template.parameter_types().map_err(template_error)?;
        let environment = self.environment(source, parameters, &types)?;
        let (answer, checked) = tpl::validate_definition(
            template,
            &environment,
            Self::files(source),
            tpl::ValidateOptions { show_nested },
        )
        .map_err(template_error)?;
        let resource_types = checked
            .resources
            .iter()
            .map(|r| (r.name.clone(), r.resource_type.clone()))
            .collect();
        Ok(Validation {
            answer,
            resource_types,
        })
    }
}
