//! Evaluation of [`Expr`] trees to JSON values against a [`Resolver`] the engine implements.
//!
//! The same walk also reports which resources an expression refers to (for dependencies and
//! reference checks), following `if` branches the way the conditions decide.

use std::cell::Cell;
use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::conditions::Conditions;
use crate::error::{ErrorKind, TemplateError};
use crate::expr::{Call, Expr};
use crate::node::Location;
use crate::pycompat;
use crate::version::{AttrForm, Func, JoinForm, RepeatForm, ReplaceForm};

/// An error while resolving a resource reference or attribute; the evaluator locates it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EvalError {
    pub kind: ErrorKind,
    pub message: String,
}

impl EvalError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

/// What the engine answers about the stack's resources while expressions are evaluated.
pub trait Resolver {
    /// The reference id of a resource (`get_resource`, `Ref`): usually its physical id.
    fn resource_ref(&self, name: &str) -> Result<Value, EvalError>;
    /// An attribute, with the path to select inside it (empty for none). `Null` while the
    /// resource is not ready, as Heat gives `None`.
    fn resource_attr(&self, name: &str, attr: &str, path: &[Value]) -> Result<Value, EvalError>;
    /// All attributes of a resource as a map (`get_attr: [name]`).
    fn resource_attrs(&self, name: &str) -> Result<Value, EvalError>;
    /// `resource_facade`: `metadata`, `deletion_policy` or `update_policy` of the parent resource
    /// of a nested stack.
    fn resource_facade(&self, what: &str) -> Result<Value, EvalError>;
    fn availability_zones(&self) -> Vec<String>;
}

/// The resolver validation uses: no resource exists yet, so references resolve to the resource
/// name and attributes to `None`, as in Heat's validate.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlaceholderResolver;

impl Resolver for PlaceholderResolver {
    fn resource_ref(&self, name: &str) -> Result<Value, EvalError> {
        Ok(Value::String(name.to_string()))
    }
    fn resource_attr(&self, _: &str, _: &str, _: &[Value]) -> Result<Value, EvalError> {
        Ok(Value::Null)
    }
    fn resource_attrs(&self, _: &str) -> Result<Value, EvalError> {
        Ok(Value::Null)
    }
    fn resource_facade(&self, _: &str) -> Result<Value, EvalError> {
        Ok(Value::Null)
    }
    fn availability_zones(&self) -> Vec<String> {
        vec!["nova".to_string()]
    }
}

/// Walks `path` into an attribute value as Heat's `select_from_attribute` does: a missing key,
/// bad index or untraversable value gives `Null`. List indexes may be digit strings.
pub fn select_path(value: &Value, path: &[Value]) -> Value {
    let mut current = value;
    for key in path {
        let next = match (current, key) {
            (Value::Object(map), Value::String(k)) => map.get(k),
            (Value::Array(items), Value::Number(n)) => n
                .as_i64()
                .and_then(|i| python_index(items.len(), i))
                .and_then(|i| items.get(i)),
            _ => None,
        };
        match next {
            Some(v) => current = v,
            None => return Value::Null,
        }
    }
    current.clone()
}

/// A Python list index (negative counts from the end).
fn python_index(len: usize, index: i64) -> Option<usize> {
    let len_i = i64::try_from(len).ok()?;
    let i = if index < 0 { len_i + index } else { index };
    if (0..len_i).contains(&i) {
        usize::try_from(i).ok()
    } else {
        None
    }
}

/// Bounds evaluation so no template can make it run away (`repeat` products, joins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvalLimits {
    /// Values produced by one evaluation, counting list items and map entries.
    pub max_values: usize,
    /// Bytes of text one evaluation may build.
    pub max_text: usize,
    /// How deeply function calls may nest.
    pub max_call_depth: usize,
}

impl Default for EvalLimits {
    fn default() -> Self {
        Self {
            max_values: 1_000_000,
            max_text: 16 * 1024 * 1024,
            max_call_depth: 64,
        }
    }
}

/// Everything an expression can refer to.
pub struct Scope<'a> {
    /// Parameter values, already validated and typed (pseudo parameters included).
    pub parameters: &'a IndexMap<String, Value>,
    /// Names of the stack's active resources (for reference checks and CFN `Ref`).
    pub resources: &'a dyn Fn(&str) -> bool,
    pub files: &'a BTreeMap<String, String>,
    pub mappings: &'a Value,
    pub conditions: &'a Conditions,
    pub resolver: &'a dyn Resolver,
    pub limits: EvalLimits,
    values: Cell<usize>,
    text: Cell<usize>,
    depth: Cell<usize>,
}

impl<'a> Scope<'a> {
    pub fn new(
        parameters: &'a IndexMap<String, Value>,
        resources: &'a dyn Fn(&str) -> bool,
        files: &'a BTreeMap<String, String>,
        mappings: &'a Value,
        conditions: &'a Conditions,
        resolver: &'a dyn Resolver,
    ) -> Self {
        Self {
            parameters,
            resources,
            files,
            mappings,
            conditions,
            resolver,
            limits: EvalLimits::default(),
            values: Cell::new(0),
            text: Cell::new(0),
            depth: Cell::new(0),
        }
    }

    fn spend(&self, values: usize, text: usize, location: &Location) -> Result<(), TemplateError> {
        let v = self.values.get().saturating_add(values);
        let t = self.text.get().saturating_add(text);
        self.values.set(v);
        self.text.set(t);
        if v > self.limits.max_values || t > self.limits.max_text {
            return Err(TemplateError::new(
                ErrorKind::Limit,
                location.clone(),
                format!(
                    "Evaluation exceeds its budget ({} values, {} bytes of text)",
                    self.limits.max_values, self.limits.max_text
                ),
            ));
        }
        Ok(())
    }
}

/// A resource an expression refers to.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub resource: String,
    /// The attribute for `get_attr`/`Fn::GetAtt` (None for `get_resource`/`Ref` and all-attributes).
    pub attribute: Option<String>,
    pub location: Location,
}

/// Evaluates an expression. An item dropped by a two-argument `if` at the top level gives
/// `Null`.
pub fn evaluate(expr: &Expr, scope: &Scope<'_>) -> Result<Value, TemplateError> {
    Ok(eval(expr, scope)?.unwrap_or(Value::Null))
}

/// Evaluates an expression; `None` means "omit the enclosing item" (2021-04-16 `if`).
pub fn eval(expr: &Expr, scope: &Scope<'_>) -> Result<Option<Value>, TemplateError> {
    Ok(Some(match expr {
        Expr::Null => Value::Null,
        Expr::Bool(b) => Value::Bool(*b),
        Expr::Int(i) => Value::from(*i),
        Expr::Float(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Expr::Str(s) => Value::String(s.clone()),
        Expr::List(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                if let Some(v) = eval(item, scope)? {
                    out.push(v);
                }
            }
            Value::Array(out)
        }
        Expr::Map(entries) => {
            let mut out = Map::with_capacity(entries.len());
            for (k, v) in entries {
                if let Some(v) = eval(v, scope)? {
                    out.insert(k.clone(), v);
                }
            }
            Value::Object(out)
        }
        Expr::Call(call) => return eval_call(call, scope),
        Expr::Invalid(error) => return Err((**error).clone()),
    }))
}

/// The resources an expression refers to, following `if` branches as the conditions decide.
/// Names given by functions (`get_resource: {get_param: x}`) are evaluated.
pub fn references(expr: &Expr, scope: &Scope<'_>) -> Result<Vec<Reference>, TemplateError> {
    let mut out = Vec::new();
    collect_references(expr, scope, &mut out)?;
    Ok(out)
}

fn collect_references(
    expr: &Expr,
    scope: &Scope<'_>,
    out: &mut Vec<Reference>,
) -> Result<(), TemplateError> {
    match expr {
        Expr::Invalid(error) => return Err((**error).clone()),
        Expr::List(items) => {
            for item in items {
                collect_references(item, scope, out)?;
            }
        }
        Expr::Map(entries) => {
            for (_, v) in entries {
                collect_references(v, scope, out)?;
            }
        }
        Expr::Call(call) => {
            if let Func::If { .. } = call.func {
                let items = list_args(call, 2)?;
                let branch = if condition_value(&items[0], call, scope)? {
                    1
                } else {
                    2
                };
                if let Some(chosen) = items.get(branch) {
                    collect_references(chosen, scope, out)?;
                }
                return Ok(());
            }
            collect_references(&call.args, scope, out)?;
            let reference =
                |name: &Expr, attribute: Option<&Expr>| -> Result<Reference, TemplateError> {
                    let resource = text_arg(name, call, scope)?;
                    let attribute = match attribute {
                        Some(a) => Some(pycompat::str_of(&evaluate(a, scope)?)),
                        None => None,
                    };
                    Ok(Reference {
                        resource,
                        attribute,
                        location: call.location.clone(),
                    })
                };
            match call.func {
                Func::GetResource => out.push(reference(&call.args, None)?),
                Func::Ref => {
                    let name = text_arg(&call.args, call, scope)?;
                    if (scope.resources)(&name) {
                        out.push(reference(&call.args, None)?);
                    }
                }
                Func::GetAttr(_) | Func::CfnGetAtt => {
                    if let Some(items) = call.args.items() {
                        if let Some(name) = items.first() {
                            out.push(reference(name, items.get(1))?);
                        }
                    } else if let Ok(Value::Array(items)) = evaluate(&call.args, scope) {
                        if let Some(Value::String(name)) = items.first() {
                            out.push(Reference {
                                resource: name.clone(),
                                attribute: items.get(1).map(pycompat::str_of),
                                location: call.location.clone(),
                            });
                        }
                    }
                }
                _ => {}
            }
        }
        _ => {}
    }
    Ok(())
}

fn text_arg(expr: &Expr, call: &Call, scope: &Scope<'_>) -> Result<String, TemplateError> {
    match evaluate(expr, scope)? {
        Value::String(s) => Ok(s),
        other => Err(fail(
            call,
            ErrorKind::Function,
            format!(
                "Argument to \"{}\" must be a string, not {}",
                call.name,
                pycompat::repr(&other)
            ),
        )),
    }
}

/// The call's arguments as a list of at least `n` items. Parsing already checked the shape;
/// this keeps evaluation total should a shape ever slip through.
fn list_args(call: &Call, n: usize) -> Result<&[Expr], TemplateError> {
    match call.args.items() {
        Some(items) if items.len() >= n => Ok(items),
        _ => Err(fail(
            call,
            ErrorKind::Function,
            format!("Incorrect arguments to \"{}\"", call.name),
        )),
    }
}

fn fail(call: &Call, kind: ErrorKind, message: impl Into<String>) -> TemplateError {
    TemplateError::new(kind, call.location.clone(), message)
}

fn located(call: &Call, e: EvalError) -> TemplateError {
    TemplateError::new(e.kind, call.location.clone(), e.message)
}

/// Evaluates the condition argument of `if`/`and`/`or`/`not`: a boolean, or the name of a
/// condition of the template.
fn condition_value(expr: &Expr, call: &Call, scope: &Scope<'_>) -> Result<bool, TemplateError> {
    match evaluate(expr, scope)? {
        Value::Bool(b) => Ok(b),
        Value::String(name) => scope.conditions.is_enabled(&name, scope, &call.location),
        other => Err(fail(
            call,
            ErrorKind::Reference,
            format!("Invalid condition \"{}\"", pycompat::str_of(&other)),
        )),
    }
}

fn eval_call(call: &Call, scope: &Scope<'_>) -> Result<Option<Value>, TemplateError> {
    // Function calls recurse through several frames each; bounding their nesting keeps deep
    // templates from exhausting the thread's stack.
    let depth = scope.depth.get() + 1;
    if depth > scope.limits.max_call_depth {
        return Err(TemplateError::new(
            ErrorKind::Limit,
            call.location.clone(),
            format!(
                "Function calls are nested deeper than {}",
                scope.limits.max_call_depth
            ),
        ));
    }
    scope.depth.set(depth);
    let result = dispatch(call, scope);
    scope.depth.set(depth - 1);
    result
}

fn dispatch(call: &Call, scope: &Scope<'_>) -> Result<Option<Value>, TemplateError> {
    let args = &call.args;
    let name = call.name.as_str();
    let value = match call.func {
        Func::If { .. } => return eval_if(call, scope),
        Func::GetParam => get_param(call, scope)?,
        Func::ParamRef => eval_param_ref(call, scope)?,
        Func::Ref => eval_ref(call, scope)?,
        Func::GetResource => eval_get_resource(call, scope)?,
        Func::GetAttr(form) => get_attr(call, form, scope)?,
        Func::CfnGetAtt => get_attr(call, AttrForm::ThenSelect, scope)?,
        Func::GetFile => eval_get_file(call, scope)?,
        Func::StrReplace(form) => eval_str_replace(call, form, scope)?,
        Func::CfnReplace => eval_cfn_replace(call, scope)?,
        Func::ListJoin(form) => Value::String(list_join(call, form, scope)?),
        Func::ResourceFacade(_) => eval_resource_facade(call, scope)?,
        Func::Repeat(form) => repeat(call, form, scope)?,
        Func::Digest => digest(call, scope)?,
        Func::StrSplit => str_split(call, scope)?,
        Func::MapMerge => map_merge(call, scope)?,
        Func::MapReplace => map_replace(call, scope)?,
        Func::Yaql => yaql(call, scope)?,
        Func::Filter => filter(call, scope)?,
        Func::MakeUrl => Value::String(crate::url::make_url(call, &evaluate(args, scope)?)?),
        Func::ListConcat { unique } => list_concat(call, unique, scope)?,
        Func::Contains => eval_contains(call, scope)?,
        Func::Equals => eval_equals(call, scope)?,
        Func::Not { cfn } => eval_not(call, cfn, scope)?,
        Func::And | Func::Or => eval_and_or(call, scope)?,
        Func::Select => select(call, scope)?,
        Func::Split => eval_split(call, scope)?,
        Func::Base64 => match evaluate(args, scope)? {
            Value::String(s) => Value::String(s),
            _ => {
                return Err(fail(
                    call,
                    ErrorKind::Evaluation,
                    format!("\"{name}\" argument must be a string"),
                ))
            }
        },
        Func::GetAzs => Value::Array(
            scope
                .resolver
                .availability_zones()
                .into_iter()
                .map(Value::String)
                .collect(),
        ),
        Func::MemberListToMap => member_list_to_map(call, scope)?,
        Func::FindInMap => eval_find_in_map(call, scope)?,
        Func::Removed | Func::Invalid => eval_refused(call)?,
    };
    scope.spend(1, 0, &call.location)?;
    Ok(Some(value))
}

/// `if`: the branch the condition picks; `None` when a two-argument `if` is false.
fn eval_if(call: &Call, scope: &Scope<'_>) -> Result<Option<Value>, TemplateError> {
    let items = list_args(call, 2)?;
    let chosen = if condition_value(&items[0], call, scope)? {
        1
    } else {
        2
    };
    match items.get(chosen) {
        Some(branch) => eval(branch, scope),
        None => Ok(None),
    }
}

#[inline(never)]
fn eval_param_ref(call: &Call, scope: &Scope<'_>) -> Result<Value, TemplateError> {
    let args = &call.args;
    Ok({
        let name = text_arg(args, call, scope)?;
        match scope.parameters.get(&name) {
            Some(v) => v.clone(),
            None => {
                return Err(fail(
                    call,
                    ErrorKind::Reference,
                    format!("The specified reference \"{name}\" (in unknown) is incorrect."),
                ))
            }
        }
    })
}

#[inline(never)]
fn eval_ref(call: &Call, scope: &Scope<'_>) -> Result<Value, TemplateError> {
    let args = &call.args;
    Ok({
        let target = text_arg(args, call, scope)?;
        if (scope.resources)(&target) {
            scope
                .resolver
                .resource_ref(&target)
                .map_err(|e| located(call, e))?
        } else {
            match scope.parameters.get(&target) {
                Some(v) => v.clone(),
                None => {
                    return Err(fail(
                        call,
                        ErrorKind::Reference,
                        format!("The specified reference \"{target}\" (in unknown) is incorrect."),
                    ))
                }
            }
        }
    })
}

#[inline(never)]
fn eval_get_resource(call: &Call, scope: &Scope<'_>) -> Result<Value, TemplateError> {
    let args = &call.args;
    Ok({
        let target = text_arg(args, call, scope)?;
        check_resource(&target, call, scope)?;
        scope
            .resolver
            .resource_ref(&target)
            .map_err(|e| located(call, e))?
    })
}

#[inline(never)]
fn eval_get_file(call: &Call, scope: &Scope<'_>) -> Result<Value, TemplateError> {
    let args = &call.args;
    let name = call.name.as_str();
    Ok({
        let key = match evaluate(args, scope)? {
            Value::String(s) => s,
            _ => {
                return Err(fail(
                    call,
                    ErrorKind::Function,
                    format!("Argument to \"{name}\" must be a string"),
                ))
            }
        };
        match scope.files.get(&key) {
            Some(content) => Value::String(content.clone()),
            None => {
                return Err(fail(
                    call,
                    ErrorKind::Reference,
                    format!("No content found in the \"files\" section for {name} path: {key}"),
                ))
            }
        }
    })
}

#[inline(never)]
fn eval_str_replace(
    call: &Call,
    form: ReplaceForm,
    scope: &Scope<'_>,
) -> Result<Value, TemplateError> {
    let args = &call.args;
    Ok({
        let params = evaluate(args.get("params").unwrap_or(&Expr::Null), scope)?;
        let template = evaluate(args.get("template").unwrap_or(&Expr::Null), scope)?;
        Value::String(str_replace(call, form, &template, &params, scope)?)
    })
}

#[inline(never)]
fn eval_cfn_replace(call: &Call, scope: &Scope<'_>) -> Result<Value, TemplateError> {
    Ok({
        let items = list_args(call, 2)?;
        let params = evaluate(&items[0], scope)?;
        let template = evaluate(&items[1], scope)?;
        Value::String(str_replace(
            call,
            ReplaceForm::Plain,
            &template,
            &params,
            scope,
        )?)
    })
}

#[inline(never)]
fn eval_resource_facade(call: &Call, scope: &Scope<'_>) -> Result<Value, TemplateError> {
    let args = &call.args;
    Ok({
        let what = text_arg(args, call, scope)?;
        let canonical = match what.as_str() {
            "Metadata" => "metadata",
            "DeletionPolicy" => "deletion_policy",
            "UpdatePolicy" => "update_policy",
            other => other,
        };
        scope
            .resolver
            .resource_facade(canonical)
            .map_err(|e| located(call, e))?
    })
}

#[inline(never)]
fn eval_contains(call: &Call, scope: &Scope<'_>) -> Result<Value, TemplateError> {
    let name = call.name.as_str();
    Ok({
        let items = list_args(call, 2)?;
        let needle = evaluate(&items[0], scope)?;
        let haystack = evaluate(&items[1], scope)?;
        match pycompat::contains(&haystack, &needle) {
            Some(b) => Value::Bool(b),
            None => {
                return Err(fail(
                    call,
                    ErrorKind::Evaluation,
                    format!("Second argument to \"{name}\" should be a sequence."),
                ))
            }
        }
    })
}

#[inline(never)]
fn eval_equals(call: &Call, scope: &Scope<'_>) -> Result<Value, TemplateError> {
    Ok({
        let items = list_args(call, 2)?;
        let a = evaluate(&items[0], scope)?;
        let b = evaluate(&items[1], scope)?;
        Value::Bool(pycompat::equal(&a, &b))
    })
}

#[inline(never)]
fn eval_not(call: &Call, cfn: bool, scope: &Scope<'_>) -> Result<Value, TemplateError> {
    let args = &call.args;
    Ok({
        let operand = if cfn { &list_args(call, 1)?[0] } else { args };
        Value::Bool(!condition_value(operand, call, scope)?)
    })
}

#[inline(never)]
fn eval_and_or(call: &Call, scope: &Scope<'_>) -> Result<Value, TemplateError> {
    Ok({
        let items = list_args(call, 0)?;
        let want_all = call.func == Func::And;
        let mut result = want_all;
        for item in items {
            let v = condition_value(item, call, scope)?;
            if v != want_all {
                result = v;
                break;
            }
        }
        Value::Bool(result)
    })
}

#[inline(never)]
fn eval_split(call: &Call, scope: &Scope<'_>) -> Result<Value, TemplateError> {
    let name = call.name.as_str();
    Ok({
        let items = list_args(call, 2)?;
        let Some(delim) = items[0].as_str() else {
            return Err(fail(
                call,
                ErrorKind::Evaluation,
                format!("Delimiter for {name} must be string"),
            ));
        };
        match evaluate(&items[1], scope)? {
            Value::String(s) => split_values(&s, delim),
            other => {
                return Err(fail(
                    call,
                    ErrorKind::Evaluation,
                    format!(
                        "String to split must be string; got <class '{}'>",
                        python_type(&other)
                    ),
                ))
            }
        }
    })
}

#[inline(never)]
fn eval_find_in_map(call: &Call, scope: &Scope<'_>) -> Result<Value, TemplateError> {
    let name = call.name.as_str();
    Ok({
        let items = list_args(call, 3)?;
        let map_name = evaluate(&items[0], scope)?;
        let key = evaluate(&items[1], scope)?;
        let value = evaluate(&items[2], scope)?;
        let found = [&map_name, &key, &value]
            .iter()
            .try_fold(scope.mappings, |current, k| {
                current.get(pycompat::str_of(k).as_str())
            });
        match found {
            Some(v) => v.clone(),
            None => {
                return Err(fail(
                    call,
                    ErrorKind::Reference,
                    format!(
                        "{name}: no value for {} in Mappings",
                        pycompat::repr(&Value::Array(vec![map_name, key, value]))
                    ),
                ))
            }
        }
    })
}

/// Removed and invalid functions are refused at parse time and never reach evaluation.
#[inline(never)]
fn eval_refused(call: &Call) -> Result<Value, TemplateError> {
    Err(fail(
        call,
        ErrorKind::Function,
        format!("The function \"{}\" is invalid in this context", call.name),
    ))
}

fn python_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

fn check_resource(name: &str, call: &Call, scope: &Scope<'_>) -> Result<(), TemplateError> {
    if (scope.resources)(name) {
        Ok(())
    } else {
        Err(fail(
            call,
            ErrorKind::Reference,
            // Heat resolves without a path here and says "unknown".
            format!("The specified reference \"{name}\" (in unknown) is incorrect."),
        ))
    }
}

fn get_param(call: &Call, scope: &Scope<'_>) -> Result<Value, TemplateError> {
    let name = call.name.as_str();
    let args = evaluate(&call.args, scope)?;
    let (param, path): (Value, Vec<Value>) = match args {
        Value::Null => {
            return Err(fail(
                call,
                ErrorKind::Function,
                format!("Function \"{name}\" must have arguments"),
            ))
        }
        Value::String(ref s) if s.is_empty() => {
            return Err(fail(
                call,
                ErrorKind::Function,
                format!("Function \"{name}\" must have arguments"),
            ))
        }
        Value::Array(ref items) if items.is_empty() => {
            return Err(fail(
                call,
                ErrorKind::Function,
                format!("Function \"{name}\" must have arguments"),
            ))
        }
        Value::String(_) => (args, Vec::new()),
        Value::Array(mut items) => {
            let first = items.remove(0);
            (first, items)
        }
        _ => {
            return Err(fail(
                call,
                ErrorKind::Function,
                format!("Argument to \"{name}\" must be string or list"),
            ))
        }
    };
    let Value::String(param) = param else {
        return Err(fail(
            call,
            ErrorKind::Function,
            format!("Parameter name in \"{name}\" must be string"),
        ));
    };
    let Some(value) = scope.parameters.get(&param) else {
        return Err(fail(
            call,
            ErrorKind::Reference,
            format!("The Parameter ({param}) was not provided."),
        ));
    };
    let mut current = value;
    for key in &path {
        let next = match (current, key) {
            (Value::Object(map), Value::String(k)) => map.get(k),
            (Value::Object(map), Value::Number(n)) => map.get(&n.to_string()),
            (Value::Array(items), Value::String(k)) => {
                let Ok(index) = k.parse::<i64>() else {
                    return Err(fail(
                        call,
                        ErrorKind::Function,
                        format!(
                            "Path components in '{name}' must be a string that can be parsed \
                             into an integer."
                        ),
                    ));
                };
                python_index(items.len(), index).and_then(|i| items.get(i))
            }
            (Value::Array(items), Value::Number(n)) => n
                .as_i64()
                .and_then(|i| python_index(items.len(), i))
                .and_then(|i| items.get(i)),
            (Value::Object(_) | Value::Array(_), _) => {
                return Err(fail(
                    call,
                    ErrorKind::Function,
                    format!("Path components in \"{name}\" must be strings"),
                ))
            }
            _ => {
                return Err(fail(
                    call,
                    ErrorKind::Function,
                    format!("\"{name}\" can't traverse path"),
                ))
            }
        };
        match next {
            Some(v) => current = v,
            // A missing key or index gives '' rather than an error, as in Heat.
            None => return Ok(Value::String(String::new())),
        }
    }
    Ok(current.clone())
}

fn get_attr(call: &Call, form: AttrForm, scope: &Scope<'_>) -> Result<Value, TemplateError> {
    let items = match evaluate(&call.args, scope)? {
        Value::Array(items) => items,
        _ => {
            return Err(fail(
                call,
                ErrorKind::Function,
                format!("Argument to \"{}\" must be a list", call.name),
            ))
        }
    };
    let Some(Value::String(resource)) = items.first() else {
        return Err(fail(
            call,
            ErrorKind::Function,
            format!(
                "Arguments to \"{}\" must be of the form [resource_name, attribute, (path), ...]",
                call.name
            ),
        ));
    };
    check_resource(resource, call, scope)?;
    let Some(attribute) = items.get(1) else {
        return scope
            .resolver
            .resource_attrs(resource)
            .map_err(|e| located(call, e));
    };
    let attribute = pycompat::str_of(attribute);
    let path = &items[2..];
    match form {
        AttrForm::ThenSelect => {
            let whole = scope
                .resolver
                .resource_attr(resource, &attribute, &[])
                .map_err(|e| located(call, e))?;
            Ok(select_path(&whole, path))
        }
        AttrForm::Path | AttrForm::AllAttributes => scope
            .resolver
            .resource_attr(resource, &attribute, path)
            .map_err(|e| located(call, e)),
    }
}

fn str_replace(
    call: &Call,
    form: ReplaceForm,
    template: &Value,
    params: &Value,
    scope: &Scope<'_>,
) -> Result<String, TemplateError> {
    let name = call.name.as_str();
    let Value::String(template) = template else {
        return Err(fail(
            call,
            ErrorKind::Evaluation,
            format!("\"{name}\" template must be a string"),
        ));
    };
    let Value::Object(params) = params else {
        return Err(fail(
            call,
            ErrorKind::Evaluation,
            format!("\"{name}\" params must be a map"),
        ));
    };
    let empty_error = |param: &str| {
        fail(
            call,
            ErrorKind::Evaluation,
            format!(
                "{name} has an undefined or empty value for param {param}, must be a defined \
                 non-empty value"
            ),
        )
    };
    let allow_empty = form != ReplaceForm::VeryStrict;
    // Longest key first; equal lengths in lexical order.
    let mut keys: Vec<(&String, String)> = Vec::with_capacity(params.len());
    for (key, value) in params {
        let text = match value {
            Value::Null if allow_empty => String::new(),
            Value::Null => return Err(empty_error(key)),
            Value::String(_) | Value::Number(_) | Value::Bool(_) => pycompat::str_of(value),
            Value::Array(_) | Value::Object(_) if form != ReplaceForm::Plain => {
                let empty = match value {
                    Value::Array(a) => a.is_empty(),
                    Value::Object(o) => o.is_empty(),
                    _ => false,
                };
                if empty && !allow_empty {
                    return Err(empty_error(key));
                }
                pycompat::json_dumps(value, true)
            }
            _ => {
                return Err(fail(
                    call,
                    ErrorKind::Evaluation,
                    if form == ReplaceForm::Plain {
                        format!("\"{name}\" params must be strings or numbers, param {key} is not valid")
                    } else {
                        format!("\"{name}\" params must be strings, numbers, list or map.")
                    },
                ))
            }
        };
        if text.is_empty() && !allow_empty {
            return Err(empty_error(key));
        }
        keys.push((key, text));
    }
    keys.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(b.0)));
    let mut found: Vec<&str> = Vec::new();
    let result = replace_all(template, &keys, &mut found);
    scope.spend(0, result.len(), &call.location)?;
    let unreplaced: Vec<&str> = keys
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !found.contains(k))
        .collect();
    if matches!(form, ReplaceForm::Strict | ReplaceForm::VeryStrict) && !unreplaced.is_empty() {
        let names = unreplaced;
        return Err(fail(
            call,
            ErrorKind::Evaluation,
            format!(
                "The following params were not found in the template: {}",
                names.join(",")
            ),
        ));
    }
    Ok(result)
}

/// Replaces keys in order of precedence without re-scanning substituted text: the text is split
/// on the first key, the pieces are processed with the remaining keys, and joined with the value.
/// Keys that occur somewhere are recorded in `found` (for the strict forms).
fn replace_all<'k>(
    text: &str,
    keys: &'k [(&'k String, String)],
    found: &mut Vec<&'k str>,
) -> String {
    let Some(((key, value), rest)) = keys.split_first() else {
        return text.to_string();
    };
    if key.is_empty() {
        // Python's str.split('') raises; an empty key replaces nothing here.
        return replace_all(text, rest, found);
    }
    let pieces: Vec<&str> = text.split(key.as_str()).collect();
    if pieces.len() > 1 && !found.contains(&key.as_str()) {
        found.push(key.as_str());
    }
    pieces
        .iter()
        .map(|piece| replace_all(piece, rest, found))
        .collect::<Vec<_>>()
        .join(value)
}

fn list_join(call: &Call, form: JoinForm, scope: &Scope<'_>) -> Result<String, TemplateError> {
    let name = call.name.as_str();
    let items = list_args(call, 1)?;
    let delim = evaluate(&items[0], scope)?;
    let mut strings: Vec<Value> = Vec::new();
    for list_expr in &items[1..] {
        match evaluate(list_expr, scope)? {
            Value::Null => {}
            Value::Array(list) => strings.extend(list),
            v if form == JoinForm::Multiple && is_falsy(&v) => {}
            _ => {
                return Err(fail(
                    call,
                    ErrorKind::Evaluation,
                    format!("\"{name}\" must operate on a list"),
                ))
            }
        }
    }
    let Value::String(delim) = delim else {
        return Err(fail(
            call,
            ErrorKind::Evaluation,
            format!("\"{name}\" delimiter must be a string"),
        ));
    };
    let mut parts = Vec::with_capacity(strings.len());
    for s in &strings {
        parts.push(match s {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            Value::Array(_) | Value::Object(_) if form == JoinForm::Multiple => {
                pycompat::json_dumps(s, true)
            }
            other => {
                let shown: String = pycompat::repr(other).chars().take(200).collect();
                return Err(fail(
                    call,
                    ErrorKind::Evaluation,
                    match form {
                        JoinForm::Single => format!("Items to join must be strings not {shown}"),
                        JoinForm::Multiple => {
                            format!("Items to join must be string, map or list not {shown}")
                        }
                    },
                ));
            }
        });
    }
    let joined = parts.join(&delim);
    scope.spend(0, joined.len(), &call.location)?;
    Ok(joined)
}

/// Python truthiness.
fn is_falsy(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

fn repeat(call: &Call, form: RepeatForm, scope: &Scope<'_>) -> Result<Value, TemplateError> {
    let name = call.name.as_str();
    let args = &call.args;
    let for_each = evaluate(args.get("for_each").unwrap_or(&Expr::Null), scope)?;
    let Value::Object(for_each) = for_each else {
        return Err(fail(
            call,
            ErrorKind::Evaluation,
            format!("The \"for_each\" argument to \"{name}\" must contain a map"),
        ));
    };
    let nested = match args.get("permutations") {
        Some(Expr::Bool(b)) => *b || form != RepeatForm::NestedLoop,
        _ => true,
    };
    let maps_allowed = form != RepeatForm::Lists && nested;
    let mut keys = Vec::with_capacity(for_each.len());
    let mut lists: Vec<Vec<String>> = Vec::with_capacity(for_each.len());
    for (key, value) in &for_each {
        let items: Vec<Value> = match value {
            Value::Null => Vec::new(),
            Value::Array(items) => items.clone(),
            Value::Object(map) if maps_allowed => {
                map.keys().map(|k| Value::String(k.clone())).collect()
            }
            _ => {
                return Err(fail(
                    call,
                    ErrorKind::Evaluation,
                    if maps_allowed {
                        format!("The values of the \"for_each\" argument to \"{name}\" must be lists or maps")
                    } else {
                        format!(
                            "The values of the \"for_each\" argument to \"{name}\" must be lists"
                        )
                    },
                ))
            }
        };
        keys.push(key.clone());
        // Values replace text, so they are used as Python's str() shows them.
        lists.push(items.iter().map(pycompat::str_of).collect());
    }
    if !nested {
        let lengths: Vec<usize> = for_each
            .values()
            .zip(&lists)
            .filter(|(v, _)| !v.is_null())
            .map(|(_, l)| l.len())
            .collect();
        if lengths.windows(2).any(|w| w[0] != w[1]) {
            return Err(fail(
                call,
                ErrorKind::Evaluation,
                format!(
                    "For {name}, the length of for_each values should be equal if no nested loop."
                ),
            ));
        }
    }
    let template = evaluate(args.get("template").unwrap_or(&Expr::Null), scope)?;
    let combinations: usize = if nested {
        lists
            .iter()
            .try_fold(1usize, |acc, l| acc.checked_mul(l.len()))
            .unwrap_or(usize::MAX)
    } else {
        lists.iter().map(Vec::len).min().unwrap_or(0)
    };
    if keys.is_empty() {
        return Ok(Value::Array(Vec::new()));
    }
    let per_copy = count_values(&template);
    scope.spend(combinations.saturating_mul(per_copy), 0, &call.location)?;
    let mut out = Vec::with_capacity(combinations);
    let mut index = vec![0usize; lists.len()];
    for n in 0..combinations {
        if nested {
            // Odometer over the lists, last list fastest, as itertools.product iterates.
            let mut rem = n;
            for i in (0..lists.len()).rev() {
                let len = lists[i].len().max(1);
                index[i] = rem % len;
                rem /= len;
            }
        } else {
            index.iter_mut().for_each(|i| *i = n);
        }
        let pairs: Vec<(&str, &str)> = keys
            .iter()
            .zip(&lists)
            .zip(&index)
            .map(|((k, l), i)| (k.as_str(), l[*i].as_str()))
            .collect();
        out.push(substitute(&template, &pairs));
    }
    Ok(Value::Array(out))
}

fn count_values(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(count_values).sum::<usize>(),
        Value::Object(map) => 1 + map.values().map(count_values).sum::<usize>(),
        _ => 1,
    }
}

fn substitute(template: &Value, pairs: &[(&str, &str)]) -> Value {
    let replace = |s: &str| {
        pairs.iter().fold(s.to_string(), |acc, (k, v)| {
            if k.is_empty() {
                acc
            } else {
                acc.replace(k, v)
            }
        })
    };
    match template {
        Value::String(s) => Value::String(replace(s)),
        Value::Array(items) => Value::Array(items.iter().map(|i| substitute(i, pairs)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (replace(k), substitute(v, pairs)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn digest(call: &Call, scope: &Scope<'_>) -> Result<Value, TemplateError> {
    use sha2::Digest as _;
    let name = call.name.as_str();
    let args = evaluate(&call.args, scope)?;
    let strings: Option<Vec<&str>> = args
        .as_array()
        .and_then(|items| items.iter().map(Value::as_str).collect());
    let Some(strings) = strings else {
        return Err(fail(
            call,
            ErrorKind::Evaluation,
            format!("Argument to function \"{name}\" must be a list of strings"),
        ));
    };
    let [algorithm, value] = strings.as_slice() else {
        return Err(fail(
            call,
            ErrorKind::Evaluation,
            format!("Function \"{name}\" usage: [\"<algorithm>\", \"<value>\"]"),
        ));
    };
    let mut bytes = Vec::with_capacity(value.len());
    for c in value.chars() {
        match u8::try_from(u32::from(c)) {
            Ok(b) => bytes.push(b),
            Err(_) => {
                return Err(fail(
                    call,
                    ErrorKind::Evaluation,
                    format!("'latin-1' codec can't encode character '{c}'"),
                ))
            }
        }
    }
    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
    let out =
        match algorithm.to_lowercase().as_str() {
            "md5" => hex(&md5::Md5::digest(&bytes)),
            "sha1" => hex(&sha1::Sha1::digest(&bytes)),
            "sha224" => hex(&sha2::Sha224::digest(&bytes)),
            "sha256" => hex(&sha2::Sha256::digest(&bytes)),
            "sha384" => hex(&sha2::Sha384::digest(&bytes)),
            "sha512" => hex(&sha2::Sha512::digest(&bytes)),
            _ => return Err(fail(
                call,
                ErrorKind::Evaluation,
                "Algorithm must be one of {'md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512'}",
            )),
        };
    Ok(Value::String(out))
}

fn split_values(s: &str, delim: &str) -> Value {
    if delim.is_empty() {
        // Python raises "empty separator"; returning the whole string keeps evaluation total.
        return Value::Array(vec![Value::String(s.to_string())]);
    }
    Value::Array(
        s.split(delim)
            .map(|p| Value::String(p.to_string()))
            .collect(),
    )
}

fn str_split(call: &Call, scope: &Scope<'_>) -> Result<Value, TemplateError> {
    let name = call.name.as_str();
    let example = format!("\"{name}\" : [ \",\", \"apples,pears\", <index>]");
    let args = evaluate(&call.args, scope)?;
    let items = match args {
        Value::Array(items) if items.len() >= 2 => items,
        _ => {
            return Err(fail(
                call,
                ErrorKind::Evaluation,
                format!("Incorrect arguments to \"{name}\" should be: {example}"),
            ))
        }
    };
    let string = match &items[1] {
        Value::Null => return Ok(Value::Null),
        Value::String(s) => s.clone(),
        other => {
            return Err(fail(
                call,
                ErrorKind::Evaluation,
                format!(
                    "Incorrect arguments to \"{name}\" should be: {example}; got {}",
                    pycompat::repr(other)
                ),
            ))
        }
    };
    let Value::String(delim) = &items[0] else {
        return Err(fail(
            call,
            ErrorKind::Evaluation,
            format!("Incorrect arguments to \"{name}\" should be: {example}"),
        ));
    };
    let parts = split_values(&string, delim);
    let Some(index) = items.get(2) else {
        return Ok(parts);
    };
    let index = match index {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    };
    let Some(index) = index else {
        return Err(fail(
            call,
            ErrorKind::Evaluation,
            format!("Incorrect index to \"{name}\" should be: {example}"),
        ));
    };
    let list = parts.as_array().map(Vec::as_slice).unwrap_or_default();
    match python_index(list.len(), index) {
        Some(i) => Ok(list[i].clone()),
        None => Err(fail(
            call,
            ErrorKind::Evaluation,
            format!(
                "Incorrect index to \"{name}\" should be between 0 and {}",
                list.len() as i64 - 1
            ),
        )),
    }
}

fn map_merge(call: &Call, scope: &Scope<'_>) -> Result<Value, TemplateError> {
    let name = call.name.as_str();
    let Value::Array(maps) = evaluate(&call.args, scope)? else {
        return Err(fail(
            call,
            ErrorKind::Evaluation,
            format!(
                "Incorrect arguments to \"{name}\" should be: \"{name}\" : [ {{ \"key1\": \"val1\" }}, {{ \"key2\": \"val2\" }} ]"
            ),
        ));
    };
    let mut out = Map::new();
    for m in maps {
        match m {
            Value::Null => {}
            Value::Object(entries) => out.extend(entries),
            other => {
                return Err(fail(
                    call,
                    ErrorKind::Evaluation,
                    format!(
                        "Incorrect arguments: Items to merge must be maps. {} is type <class '{}'> instead of a dict",
                        pycompat::repr(&other).chars().take(200).collect::<String>(),
                        python_type(&other)
                    ),
                ))
            }
        }
    }
    Ok(Value::Object(out))
}

fn map_replace(call: &Call, scope: &Scope<'_>) -> Result<Value, TemplateError> {
    let name = call.name.as_str();
    let example = format!(
        "\"{name}\" : [ {{ \"key1\": \"val1\" }}, {{\"keys\": {{\"key1\": \"key2\"}}, \"values\": {{\"val1\": \"val2\"}}}}]"
    );
    let as_map = |v: Value| -> Result<Map<String, Value>, TemplateError> {
        match v {
            Value::Null => Ok(Map::new()),
            Value::Object(m) => Ok(m),
            _ => Err(fail(
                call,
                ErrorKind::Evaluation,
                format!(
                    "Incorrect arguments: to \"{name}\", arguments must be a list of maps. Example:  {example}"
                ),
            )),
        }
    };
    let items = match evaluate(&call.args, scope)? {
        Value::Array(items) if items.len() == 2 => items,
        _ => {
            return Err(fail(
                call,
                ErrorKind::Evaluation,
                format!("Incorrect arguments to \"{name}\" should be: {example}"),
            ))
        }
    };
    let mut items = items.into_iter();
    let input = as_map(items.next().unwrap_or(Value::Null))?;
    let replacements = as_map(items.next().unwrap_or(Value::Null))?;
    if replacements.keys().any(|k| k != "keys" && k != "values") {
        return Err(fail(
            call,
            ErrorKind::Evaluation,
            format!("Incorrect arguments to \"{name}\" should be: {example}"),
        ));
    }
    let keys = as_map(replacements.get("keys").cloned().unwrap_or(Value::Null))?;
    let values = as_map(replacements.get("values").cloned().unwrap_or(Value::Null))?;
    let mut out = Map::new();
    for (k, v) in &input {
        let key = match keys.get(k) {
            None | Some(Value::Null) => k.clone(),
            Some(new) => {
                let new = pycompat::str_of(new);
                if input.contains_key(&new) && &new != k {
                    return Err(fail(
                        call,
                        ErrorKind::Evaluation,
                        format!("key replacement {new} collides with a key in the input map"),
                    ));
                }
                if out.contains_key(&new) {
                    return Err(fail(
                        call,
                        ErrorKind::Evaluation,
                        format!("key replacement {new} collides with a key in the output map"),
                    ));
                }
                new
            }
        };
        // Only hashable (scalar) values can be looked up in the values map.
        let value = match v {
            Value::String(_) | Value::Number(_) | Value::Bool(_) => values
                .get(&pycompat::str_of(v))
                .cloned()
                .unwrap_or_else(|| v.clone()),
            _ => v.clone(),
        };
        out.insert(key, value);
    }
    Ok(Value::Object(out))
}

fn yaql(call: &Call, scope: &Scope<'_>) -> Result<Value, TemplateError> {
    let expression = evaluate(call.args.get("expression").unwrap_or(&Expr::Null), scope)?;
    let data = match call.args.get("data") {
        Some(d) => evaluate(d, scope)?,
        None => Value::Object(Map::new()),
    };
    let Value::String(expression) = expression else {
        return Err(fail(
            call,
            ErrorKind::Evaluation,
            format!(
                "The \"expression\" argument to {} must contain a string.",
                call.name
            ),
        ));
    };
    ember_yaql::evaluate(&expression, &data, &ember_yaql::Limits::default()).map_err(|e| {
        let message = if e.is_parse_error() {
            format!("Bad expression {e}.")
        } else {
            e.to_string()
        };
        fail(call, ErrorKind::Evaluation, message)
    })
}

fn filter(call: &Call, scope: &Scope<'_>) -> Result<Value, TemplateError> {
    let name = call.name.as_str();
    let items = list_args(call, 2)?;
    let sequence = evaluate(&items[1], scope)?;
    if is_falsy(&sequence) {
        return Ok(sequence);
    }
    let Value::Array(sequence) = sequence else {
        return Err(fail(
            call,
            ErrorKind::Evaluation,
            format!("\"{name}\" only works with lists"),
        ));
    };
    let values = evaluate(&items[0], scope)?;
    if is_falsy(&values) {
        return Ok(Value::Array(sequence));
    }
    let Value::Array(values) = values else {
        return Err(fail(
            call,
            ErrorKind::Evaluation,
            format!("\"{name}\" filters a list of values"),
        ));
    };
    Ok(Value::Array(
        sequence
            .into_iter()
            .filter(|i| !values.iter().any(|v| pycompat::equal(v, i)))
            .collect(),
    ))
}

fn list_concat(call: &Call, unique: bool, scope: &Scope<'_>) -> Result<Value, TemplateError> {
    let name = call.name.as_str();
    let args = evaluate(&call.args, scope)?;
    let Value::Array(lists) = &args else {
        return Err(fail(
            call,
            ErrorKind::Evaluation,
            format!(
                "Incorrect arguments to \"{name}\" should be: \"{name}\" : [ [ <value 1>, <value 2> ], [ <value 3>, <value 4> ] ]"
            ),
        ));
    };
    let mut out: Vec<Value> = Vec::new();
    for list in lists {
        match list {
            Value::Null => {}
            Value::Array(items) => {
                for item in items {
                    if !unique || !out.iter().any(|o| pycompat::equal(o, item)) {
                        out.push(item.clone());
                    }
                }
            }
            other => {
                return Err(fail(
                    call,
                    ErrorKind::Evaluation,
                    format!(
                        "Incorrect arguments: Items to concat must be lists. {} contains an item that is not a list: {}",
                        pycompat::json_dumps(&args, false),
                        pycompat::json_dumps(other, false)
                    ),
                ))
            }
        }
    }
    Ok(Value::Array(out))
}

fn select(call: &Call, scope: &Scope<'_>) -> Result<Value, TemplateError> {
    let name = call.name.as_str();
    let items = list_args(call, 2)?;
    let index = evaluate(&items[0], scope)?;
    let mut collection = evaluate(&items[1], scope)?;
    if collection == Value::String(String::new()) {
        return Ok(collection);
    }
    if let Value::String(s) = &collection {
        collection = serde_json::from_str(s)
            .map_err(|e| fail(call, ErrorKind::Evaluation, format!("\"{name}\": {e}")))?;
    }
    match &collection {
        Value::Object(map) => match index {
            Value::String(k) => Ok(map.get(&k).cloned().unwrap_or(Value::String(String::new()))),
            _ => Err(fail(
                call,
                ErrorKind::Evaluation,
                format!("Index to \"{name}\" must be a string"),
            )),
        },
        Value::Array(list) => {
            let i = match &index {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            };
            let Some(i) = i else {
                return Err(fail(
                    call,
                    ErrorKind::Evaluation,
                    format!("Index to \"{name}\" must be an integer"),
                ));
            };
            Ok(python_index(list.len(), i)
                .and_then(|i| list.get(i).cloned())
                .unwrap_or(Value::String(String::new())))
        }
        Value::Null => Ok(Value::String(String::new())),
        _ => Err(fail(
            call,
            ErrorKind::Evaluation,
            format!("Arguments to {name} not fully resolved"),
        )),
    }
}

fn member_list_to_map(call: &Call, scope: &Scope<'_>) -> Result<Value, TemplateError> {
    let items = list_args(call, 3)?;
    let key_name = items[0].as_str().unwrap_or_default();
    let value_name = items[1].as_str().unwrap_or_default();
    let Value::Array(members) = evaluate(&items[2], scope)? else {
        return Err(fail(
            call,
            ErrorKind::Evaluation,
            "Member list must be a list",
        ));
    };
    let mut partials: Vec<(String, String)> = Vec::new();
    for member in &members {
        let Value::String(s) = member else {
            return Err(fail(
                call,
                ErrorKind::Evaluation,
                "Member list items must be strings",
            ));
        };
        let (k, v) = s.split_once('=').unwrap_or((s.as_str(), ""));
        match partials.iter_mut().find(|(pk, _)| pk == k) {
            Some(slot) => slot.1 = v.to_string(),
            None => partials.push((k.to_string(), v.to_string())),
        }
    }
    // `.member.N.Field=value`, grouped by N in numeric order.
    let mut groups: BTreeMap<u64, Map<String, Value>> = BTreeMap::new();
    for (k, v) in partials {
        let Some(rest) = k.strip_prefix(".member.") else {
            continue;
        };
        let Some((n, field)) = rest.split_once('.') else {
            continue;
        };
        let Ok(n) = n.parse::<u64>() else { continue };
        groups
            .entry(n)
            .or_default()
            .insert(field.to_string(), Value::String(v));
    }
    let mut out = Map::new();
    for group in groups.values() {
        if let (Some(Value::String(k)), Some(v)) = (group.get(key_name), group.get(value_name)) {
            out.insert(k.clone(), v.clone());
        }
    }
    Ok(Value::Object(out))
}
