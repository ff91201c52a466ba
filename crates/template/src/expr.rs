//! The intrinsic-function tree: template values parsed into literals, lists, maps and function
//! calls, with the per-version function set and Heat's argument checks done once, at parse time.

use std::sync::Arc;

use crate::error::{ErrorKind, TemplateError};
use crate::node::{Location, Node, NodeValue, Path};
use crate::version::{AttrForm, FacadeNames, FnContext, Func, JoinForm, RepeatForm, Version};

/// A parsed template value.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Expr>),
    /// Keys as Heat sees them (strings), in document order.
    Map(Vec<(String, Expr)>),
    Call(Box<Call>),
    /// A branch of `if` that failed to parse. Heat parses only the branch its condition picks, so
    /// the error is raised only if this branch is picked.
    Invalid(Box<TemplateError>),
}

/// A function call, located so that evaluation errors name where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub func: Func,
    /// The name as written (`get_attr`, `Fn::GetAtt`).
    pub name: String,
    pub args: Expr,
    /// Where the call is; its path ends with the function name, as Heat's paths do.
    pub location: Location,
}

/// What parsing needs to know besides the node.
#[derive(Debug, Clone, Copy)]
pub struct ParseContext<'a> {
    pub version: Version,
    pub file: &'a Arc<str>,
}

impl Expr {
    /// Parses a template value in the given context (ordinary values or condition definitions).
    /// The node's strings are moved into the expression, not copied.
    pub fn parse(
        node: Node,
        path: &Path,
        cx: &ParseContext<'_>,
        context: FnContext,
    ) -> Result<Expr, TemplateError> {
        parse_node(node, &Trail::Base(path), cx, context)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Expr::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_call(&self) -> Option<&Call> {
        match self {
            Expr::Call(c) => Some(c),
            _ => None,
        }
    }

    /// The expression as JSON when it contains no function call.
    pub fn literal(&self) -> Option<serde_json::Value> {
        use serde_json::Value;
        Some(match self {
            Expr::Null => Value::Null,
            Expr::Bool(b) => Value::Bool(*b),
            Expr::Int(i) => Value::from(*i),
            Expr::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Expr::Str(s) => Value::String(s.clone()),
            Expr::List(items) => Value::Array(
                items
                    .iter()
                    .map(Expr::literal)
                    .collect::<Option<Vec<_>>>()?,
            ),
            Expr::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| Some((k.clone(), v.literal()?)))
                    .collect::<Option<serde_json::Map<_, _>>>()?,
            ),
            Expr::Call(_) | Expr::Invalid(_) => return None,
        })
    }

    /// Every call in the expression, depth first (including calls in both branches of `if`).
    pub fn calls(&self) -> Vec<&Call> {
        let mut out = Vec::new();
        self.visit_calls(&mut |c| out.push(c));
        out
    }

    fn visit_calls<'a>(&'a self, f: &mut dyn FnMut(&'a Call)) {
        match self {
            Expr::List(items) => items.iter().for_each(|i| i.visit_calls(f)),
            Expr::Map(entries) => entries.iter().for_each(|(_, v)| v.visit_calls(f)),
            Expr::Call(call) => {
                f(call);
                call.args.visit_calls(f);
            }
            _ => {}
        }
    }

    /// Arguments of a call as a list, when written as one.
    pub fn items(&self) -> Option<&[Expr]> {
        match self {
            Expr::List(items) => Some(items),
            _ => None,
        }
    }

    /// The value under a key, when the expression is a literal map.
    pub fn get(&self, key: &str) -> Option<&Expr> {
        match self {
            Expr::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// The path to the node being parsed, kept as links on the stack and only turned into a [`Path`]
/// where one is stored (at calls): most nodes are plain data and never need theirs.
enum Trail<'a> {
    Base(&'a Path),
    Key(&'a Trail<'a>, &'a str),
    Index(&'a Trail<'a>, usize),
}

impl Trail<'_> {
    fn to_path(&self) -> Path {
        match self {
            Trail::Base(path) => (*path).clone(),
            Trail::Key(parent, key) => parent.to_path().child(*key),
            Trail::Index(parent, i) => parent.to_path().index(*i),
        }
    }
}

fn parse_node(
    node: Node,
    path: &Trail<'_>,
    cx: &ParseContext<'_>,
    context: FnContext,
) -> Result<Expr, TemplateError> {
    Ok(match node.value {
        NodeValue::Null => Expr::Null,
        NodeValue::Bool(b) => Expr::Bool(b),
        NodeValue::Int(i) => Expr::Int(i),
        NodeValue::Float(f) => Expr::Float(f),
        NodeValue::String(s) => Expr::Str(s),
        NodeValue::List(items) => Expr::List(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| parse_node(item, &Trail::Index(path, i), cx, context))
                .collect::<Result<_, _>>()?,
        ),
        NodeValue::Map(mut entries) => {
            let func = match entries.as_slice() {
                [(key, _)] => key
                    .as_str()
                    .and_then(|name| cx.version.lookup(name, context)),
                _ => None,
            };
            // A one-entry map whose key is a function is a call (`entries` has that one entry).
            if let Some((func, (key, args))) = func.and_then(|f| Some((f, entries.pop()?))) {
                let span = key.span;
                let name = key.into_key_text();
                let call_path = path.to_path().child(name.as_str());
                let location = Location::new(cx.file.clone(), span, call_path.clone());
                return parse_call(func, name, args, &call_path, location, cx, context);
            }
            Expr::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| {
                        let key = k.into_key_text();
                        let value = parse_node(v, &Trail::Key(path, &key), cx, context)?;
                        Ok((key, value))
                    })
                    .collect::<Result<_, TemplateError>>()?,
            )
        }
    })
}

fn parse_call(
    func: Func,
    name: String,
    args_node: Node,
    path: &Path,
    location: Location,
    cx: &ParseContext<'_>,
    context: FnContext,
) -> Result<Expr, TemplateError> {
    let fail =
        |kind: ErrorKind, message: String| Err(TemplateError::new(kind, location.clone(), message));
    match func {
        Func::Removed => {
            return fail(
                ErrorKind::Function,
                format!(
                    "The template version is invalid: The function {name} is not supported in \
                     this version of HOT."
                ),
            )
        }
        Func::Invalid => {
            return fail(
                ErrorKind::Function,
                format!("The function \"{name}\" is invalid in this context"),
            )
        }
        _ => {}
    }
    let args = match func {
        Func::If { .. } => parse_if_args(&name, func, args_node, path, cx, &location)?,
        // In conditions, `and`, `or` and `not` take condition expressions (which may be names).
        _ => parse_node(args_node, &Trail::Base(path), cx, context)?,
    };
    check_args(func, &name, &args)
        .map_err(|(kind, message)| TemplateError::new(kind, location.clone(), message))?;
    Ok(Expr::Call(Box::new(Call {
        func,
        name,
        args,
        location,
    })))
}

/// `if: [condition, value_if_true, value_if_false]`: the condition is parsed with the condition
/// functions, the values as ordinary values.
fn parse_if_args(
    name: &str,
    func: Func,
    args: Node,
    path: &Path,
    cx: &ParseContext<'_>,
    location: &Location,
) -> Result<Expr, TemplateError> {
    let nullable = matches!(func, Func::If { nullable: true });
    let items = match args.value {
        NodeValue::List(items) if (items.len() == 3 || (nullable && items.len() == 2)) => items,
        _ => {
            return Err(TemplateError::new(
                ErrorKind::Function,
                location.clone(),
                format!(
                    "Arguments to \"{name}\" must be of the form: [condition_name, \
                     value_if_true, value_if_false]"
                ),
            ))
        }
    };
    let mut parsed = Vec::with_capacity(items.len());
    let base = Trail::Base(path);
    for (i, item) in items.into_iter().enumerate() {
        if i == 0 {
            parsed.push(parse_node(item, &base, cx, FnContext::Condition)?);
        } else {
            let branch = parse_node(item, &Trail::Index(&base, i), cx, FnContext::Value)
                .unwrap_or_else(|e| Expr::Invalid(Box::new(e)));
            parsed.push(branch);
        }
    }
    Ok(Expr::List(parsed))
}

type ArgError = (ErrorKind, String);

fn bad(message: String) -> Result<(), ArgError> {
    Err((ErrorKind::Function, message))
}

/// Heat's construction-time and `validate()` checks of a function's arguments. Checks that need
/// resolved values happen at evaluation instead; here only literal shapes are judged, so an
/// argument that is itself a function call passes.
fn check_args(func: Func, name: &str, args: &Expr) -> Result<(), ArgError> {
    let is_call = matches!(args, Expr::Call(_));
    let list = args.items();
    match func {
        Func::GetAttr(form) => {
            let all_allowed = form == AttrForm::AllAttributes;
            match list {
                _ if all_allowed
                    && (matches!(args, Expr::Null) || list.is_some_and(<[Expr]>::is_empty)) =>
                {
                    bad(format!(
                        "Arguments to \"{name}\" can be of the next forms: [resource_name] or \
                         [resource_name, attribute, (path), ...]"
                    ))
                }
                None if is_call => Ok(()),
                None => bad(format!("Argument to \"{name}\" must be a list")),
                Some(l) if l.len() < 2 && !all_allowed => bad(format!(
                    "Arguments to \"{name}\" must be of the form [resource_name, attribute, \
                     (path), ...]"
                )),
                Some(_) => Ok(()),
            }
        }
        Func::CfnGetAtt => match list {
            Some(l) if l.len() == 2 => Ok(()),
            _ => bad(format!(
                "Arguments to \"{name}\" must be of the form [resource_name, attribute]"
            )),
        },
        Func::StrReplace(_) => {
            let Expr::Map(_) = args else {
                return bad(format!("Arguments to \"{name}\" must be a map"));
            };
            match (args.get("params"), args.get("template")) {
                (Some(params), Some(_)) => {
                    if matches!(params, Expr::Map(_) | Expr::Call(_)) {
                        Ok(())
                    } else {
                        bad(format!("\"{name}\" parameters must be a mapping"))
                    }
                }
                _ => bad(format!(
                    "\"{name}\" syntax should be {name}:\n  template: This is var1 template \
                     var2\n  params:\n    var1: a\n    var2: string"
                )),
            }
        }
        Func::CfnReplace => {
            let example = format!(
                "{{\"{name}\": [ {{\"$var1\": \"foo\", \"%var2%\": \"bar\"}}, \"$var1 is \
                 %var2%\"]}}"
            );
            match list {
                Some(l) if l.len() == 2 => {
                    if matches!(l[0], Expr::Map(_) | Expr::Call(_)) {
                        Ok(())
                    } else {
                        bad(format!("\"{name}\" parameters must be a mapping"))
                    }
                }
                _ => bad(format!(
                    "Incorrect arguments to \"{name}\" should be: {example}"
                )),
            }
        }
        Func::ListJoin(form) => {
            let example = match form {
                JoinForm::Single => format!("\"{name}\" : [ \" \", [ \"str1\", \"str2\"]]"),
                JoinForm::Multiple => {
                    format!("\"{name}\" : [ \" \", [ \"str1\", \"str2\"] ...]")
                }
            };
            let ok = match (list, form) {
                (Some(l), JoinForm::Single) => l.len() == 2,
                (Some(l), JoinForm::Multiple) => l.len() >= 2,
                (None, _) => false,
            };
            if ok {
                Ok(())
            } else {
                bad(format!(
                    "Incorrect arguments to \"{name}\" should be: {example}"
                ))
            }
        }
        Func::ResourceFacade(names) => {
            let allowed: &[&str] = match names {
                FacadeNames::Hot => &["metadata", "deletion_policy", "update_policy"],
                FacadeNames::Cfn => &["Metadata", "DeletionPolicy", "UpdatePolicy"],
            };
            match args.as_str() {
                Some(a) if allowed.contains(&a) => Ok(()),
                _ => bad(format!(
                    "Incorrect arguments to \"{name}\" should be one of: {}",
                    allowed.join(", ")
                )),
            }
        }
        Func::Repeat(form) => {
            let Expr::Map(_) = args else {
                return bad(format!("Arguments to \"{name}\" must be a map"));
            };
            let (Some(for_each), Some(_)) = (args.get("for_each"), args.get("template")) else {
                return bad(
                    "\"repeat\" syntax should be repeat:\n  template: This is %var%\n  \
                     for_each:\n    %var%: ['a', 'b', 'c']"
                        .to_string(),
                );
            };
            if form == RepeatForm::NestedLoop {
                if let Some(p) = args.get("permutations") {
                    if !matches!(p, Expr::Bool(_)) {
                        return bad(format!(
                            "\"permutations\" should be boolean type for {name} function."
                        ));
                    }
                }
            }
            if matches!(for_each, Expr::Map(_) | Expr::Call(_)) {
                Ok(())
            } else {
                bad(format!(
                    "The \"for_each\" argument to \"{name}\" must contain a map"
                ))
            }
        }
        Func::StrSplit | Func::Split => {
            if matches!(args, Expr::Str(_) | Expr::Map(_)) {
                let example = if func == Func::StrSplit {
                    format!("\"{name}\" : [ \",\", \"apples,pears\", <index>]")
                } else {
                    format!("\"{name}\" : [ \",\", \"str1,str2\"]]")
                };
                return bad(format!(
                    "Incorrect arguments to \"{name}\" should be: {example}"
                ));
            }
            if func == Func::Split && list.is_none_or(|l| l.len() != 2) {
                return bad(format!(
                    "Incorrect arguments to \"{name}\" should be: \"{name}\" : [ \",\", \
                     \"str1,str2\"]]"
                ));
            }
            Ok(())
        }
        Func::Yaql => {
            let Expr::Map(entries) = args else {
                return bad(format!("Arguments to \"{name}\" must be a map."));
            };
            let well_formed = args.get("expression").is_some()
                && entries
                    .iter()
                    .all(|(k, _)| k == "expression" || k == "data");
            if !well_formed {
                return bad(format!(
                    "\"{name}\" syntax should be {name}:\n  expression: $.data.var1.sum()\n  \
                     data:\n    var1: [3, 2, 1]"
                ));
            }
            match args.get("expression") {
                Some(Expr::Str(expression)) => match ember_yaql::parse(expression) {
                    Ok(_) => Ok(()),
                    Err(e) => bad(format!("Bad expression {e}.")),
                },
                Some(Expr::Call(_)) => Ok(()),
                _ => bad(format!(
                    "The \"expression\" argument to {name} must contain a string."
                )),
            }
        }
        Func::Equals => match list {
            Some(l) if l.len() == 2 => Ok(()),
            _ => bad(format!(
                "Arguments to \"{name}\" must be of the form: [value_1, value_2]"
            )),
        },
        Func::Not { cfn: false } => {
            if matches!(args, Expr::Null) {
                bad(format!("Argument to \"{name}\" must be a condition"))
            } else {
                Ok(())
            }
        }
        Func::Not { cfn: true } => match list {
            Some(l) if l.len() == 1 => Ok(()),
            _ => bad(format!(
                "Arguments to \"{name}\" must be of the form: [condition]"
            )),
        },
        Func::And | Func::Or => match list {
            None => bad(format!(
                "Arguments to \"{name}\" must be a list of conditions"
            )),
            Some(l) if l.len() < 2 => bad(format!(
                "The minimum number of condition arguments to \"{name}\" is 2."
            )),
            Some(_) => Ok(()),
        },
        Func::Filter => match list {
            None => bad(format!("Argument to \"{name}\" must be a list")),
            Some(l) if l.len() != 2 => bad(format!(
                "\"{name}\" expected 2 arguments of the form [values, sequence] but got {} \
                 arguments instead",
                l.len()
            )),
            Some(_) => Ok(()),
        },
        Func::MakeUrl => check_make_url(name, args),
        Func::Contains => match list {
            Some(l) if !l.is_empty() => {
                if l.len() == 2 {
                    Ok(())
                } else {
                    bad(format!(
                        "Arguments to \"{name}\" must be of the form: [value1, [value1, value2]]"
                    ))
                }
            }
            _ => bad(format!(
                "Incorrect arguments to \"{name}\" should be: \"{name}\" : [ \"value1\", [ \
                 \"value1\", \"value2\"]]"
            )),
        },
        Func::Select => match list {
            Some(l) if l.len() == 2 => Ok(()),
            _ => bad(format!(
                "Arguments to \"{name}\" must be of the form [index, collection]"
            )),
        },
        Func::MemberListToMap => match list {
            Some(l) if l.len() == 3 => {
                if l[0].as_str().is_none() {
                    bad(format!("{name} Key Name must be a string"))
                } else if l[1].as_str().is_none() {
                    bad(format!("{name} Value Name must be a string"))
                } else {
                    Ok(())
                }
            }
            _ => bad(
                "Wrong Arguments try: \"{'Fn::MemberListToMap': ['Name', 'Value', \
                 ['.member.0.Name=key', '.member.0.Value=door']]}\""
                    .to_string(),
            ),
        },
        Func::FindInMap => match list {
            Some(l) if l.len() == 3 => Ok(()),
            Some(l) if l.len() < 3 => bad(format!(
                "not enough values to unpack (expected 3, got {})",
                l.len()
            )),
            Some(_) => bad("too many values to unpack (expected 3)".to_string()),
            None => bad(format!("Arguments to \"{name}\" must be a list")),
        },
        _ => Ok(()),
    }
}

const URL_KEYS: [&str; 8] = [
    "scheme", "username", "password", "host", "port", "path", "query", "fragment",
];

fn check_make_url(name: &str, args: &Expr) -> Result<(), ArgError> {
    let entries = match args {
        Expr::Map(entries) => entries,
        Expr::Call(_) => return Ok(()),
        _ => return bad(format!("The arguments to \"{name}\" must be a map")),
    };
    let invalid: Vec<&str> = entries
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !URL_KEYS.contains(k))
        .collect();
    if !invalid.is_empty() {
        return bad(format!(
            "Invalid arguments to \"{name}\": {}",
            invalid.join(", ")
        ));
    }
    for key in URL_KEYS {
        let Some(value) = args.get(key) else { continue };
        if matches!(value, Expr::Call(_)) {
            continue;
        }
        match key {
            "query" => {
                if !matches!(value, Expr::Map(_)) {
                    return bad(format!(
                        "The \"query\" argument to \"{name}\" must be a map"
                    ));
                }
            }
            "port" => {
                let port = match value {
                    Expr::Int(i) => Some(*i),
                    Expr::Str(s) => s.trim().parse::<i64>().ok(),
                    _ => None,
                };
                match port {
                    Some(p) if (1..=65535).contains(&p) => {}
                    Some(p) => {
                        return bad(format!("Invalid URL port {p}, must be in range 1-65535"))
                    }
                    None => {
                        return bad(format!(
                            "Invalid URL port \"{}\" for {name}",
                            value.literal().map(|v| v.to_string()).unwrap_or_default()
                        ))
                    }
                }
            }
            _ => {
                if !matches!(value, Expr::Str(_)) {
                    return bad(format!(
                        "The \"{key}\" argument to \"{name}\" must be a string"
                    ));
                }
            }
        }
    }
    Ok(())
}
