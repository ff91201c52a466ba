//! Parameter constraints: parsing the HOT `constraints` list and the CFN constraint keys, and
//! checking values with Heat's messages.

use fancy_regex::Regex;
use serde_json::Value;

use super::coerce::{as_f64, bool_from_string, python_type, str_to_num};
use super::custom::{self, CustomConstraintChecker, CustomOutcome};
use super::ParamType;
use crate::node::{Node, NodeValue};
use crate::pycompat;

/// One constraint on a parameter, with the description that replaces its message on failure.
#[derive(Debug, Clone)]
pub struct Constraint {
    pub kind: ConstraintKind,
    pub description: Option<String>,
}

#[derive(Debug, Clone)]
pub enum ConstraintKind {
    /// `length`: bounds on the length of a string, list or map. Bounds are integers.
    Length {
        min: Option<Value>,
        max: Option<Value>,
    },
    /// `range`: bounds on a number.
    Range {
        min: Option<Value>,
        max: Option<Value>,
    },
    /// `modulo` (HOT 2017-02-24+): `value % step == offset`.
    Modulo {
        step: Value,
        offset: Value,
    },
    AllowedValues(Vec<Value>),
    /// `allowed_pattern`: a Python regular expression that must match the whole value.
    AllowedPattern {
        pattern: String,
        regex: Regex,
    },
    /// `custom_constraint`: a named check (see [`super::custom`]).
    Custom(String),
}

/// What checking a constraint found.
pub(crate) enum Check {
    Passed,
    Failed(String),
    /// A cloud custom constraint left for the engine.
    Skipped,
}

impl Constraint {
    /// Heat's class name, used in `<Name> constraint invalid for <type>`.
    pub fn class_name(&self) -> &'static str {
        match self.kind {
            ConstraintKind::Length { .. } => "Length",
            ConstraintKind::Range { .. } => "Range",
            ConstraintKind::Modulo { .. } => "Modulo",
            ConstraintKind::AllowedValues(_) => "AllowedValues",
            ConstraintKind::AllowedPattern { .. } => "AllowedPattern",
            ConstraintKind::Custom(_) => "CustomConstraint",
        }
    }

    /// Whether Heat accepts this constraint on a parameter of `param_type`.
    pub fn applies_to(&self, param_type: ParamType) -> bool {
        use ParamType::*;
        match self.kind {
            ConstraintKind::Range { .. } | ConstraintKind::Modulo { .. } => param_type == Number,
            ConstraintKind::Length { .. } => {
                matches!(param_type, String | CommaDelimitedList | Json)
            }
            ConstraintKind::AllowedPattern { .. } => param_type == String,
            ConstraintKind::AllowedValues(_) | ConstraintKind::Custom(_) => {
                matches!(param_type, String | Number | Boolean | CommaDelimitedList)
            }
        }
    }

    /// Checks a value (already parsed for list and json parameters). `type_name` is the
    /// parameter type as the template spells it, for conversion messages. Custom constraints
    /// are not checked when `checker` is `None` and `run_custom` is false (template defaults).
    pub(crate) fn check(
        &self,
        value: &Value,
        param_type: ParamType,
        type_name: &str,
        run_custom: bool,
        checker: Option<&dyn CustomConstraintChecker>,
    ) -> Check {
        let outcome = match &self.kind {
            ConstraintKind::Custom(name) => {
                if !run_custom {
                    return Check::Passed;
                }
                match custom::check(name, value, checker) {
                    CustomOutcome::Valid => Ok(true),
                    CustomOutcome::Skipped => return Check::Skipped,
                    CustomOutcome::Invalid(message) => Err(message),
                }
            }
            other => other.is_valid(value, param_type, type_name),
        };
        match outcome {
            Ok(true) => Check::Passed,
            // A conversion error is Python's ValueError: Heat shows it, not the description.
            Err(message) if !matches!(self.kind, ConstraintKind::Custom(_)) => {
                Check::Failed(message)
            }
            Ok(false) | Err(_) => Check::Failed(match &self.description {
                Some(description) => description.clone(),
                None => match outcome {
                    Err(message) => message,
                    _ => self.kind.message(value),
                },
            }),
        }
    }
}

impl ConstraintKind {
    fn is_valid(
        &self,
        value: &Value,
        param_type: ParamType,
        type_name: &str,
    ) -> Result<bool, String> {
        match self {
            ConstraintKind::Range { min, max } => {
                let v = as_f64(&str_to_num(value)?).unwrap_or(f64::NAN);
                Ok(within(v, min.as_ref(), max.as_ref()))
            }
            ConstraintKind::Length { min, max } => {
                let len = python_len(value)?;
                Ok(within(len as f64, min.as_ref(), max.as_ref()))
            }
            ConstraintKind::Modulo { step, offset } => {
                let v = str_to_num(value)?;
                let (step, offset) = (as_f64(step).unwrap_or(1.0), as_f64(offset).unwrap_or(0.0));
                let v = as_f64(&v).unwrap_or(f64::NAN);
                // Python's % takes the sign of the divisor.
                let remainder = v - step * (v / step).floor();
                Ok(remainder == offset)
            }
            ConstraintKind::AllowedValues(allowed) => {
                if let Value::Array(items) = value {
                    return Ok(items
                        .iter()
                        .all(|item| allowed.iter().any(|a| pycompat::equal(item, a))));
                }
                let typed = |v: &Value| to_schema_type(v, param_type, type_name);
                let value = typed(value)?;
                for a in allowed {
                    if pycompat::equal(&typed(a)?, &value) {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            ConstraintKind::AllowedPattern { regex, .. } => {
                let Value::String(text) = value else {
                    return Err(format!(
                        "expected string or bytes-like object, got '{}'",
                        python_type(value)
                    ));
                };
                // Python's re.match: anchored at the start; Heat also wants it to reach the end.
                Ok(
                    matches!(regex.find(text), Ok(Some(m)) if m.start() == 0 && m.end() == text.len()),
                )
            }
            ConstraintKind::Custom(_) => Ok(true),
        }
    }

    /// Heat's message when the value fails and the constraint has no description.
    fn message(&self, value: &Value) -> String {
        let bound = |b: &Option<Value>| b.as_ref().map_or("None".to_string(), pycompat::str_of);
        match self {
            ConstraintKind::Range { min, max } => format!(
                "{} is out of range (min: {}, max: {})",
                pycompat::str_of(value),
                bound(min),
                bound(max)
            ),
            ConstraintKind::Length { min, max } => format!(
                "length ({}) is out of range (min: {}, max: {})",
                python_len(value).unwrap_or(0),
                bound(min),
                bound(max)
            ),
            ConstraintKind::Modulo { step, offset } => format!(
                "{} is not a multiple of {} with an offset of {}",
                pycompat::str_of(value),
                pycompat::str_of(step),
                pycompat::str_of(offset)
            ),
            ConstraintKind::AllowedValues(allowed) => {
                let allowed: Vec<String> = allowed
                    .iter()
                    .map(|a| pycompat::json_dumps(a, false))
                    .collect();
                format!(
                    "{} is not an allowed value [{}]",
                    pycompat::json_dumps(value, false),
                    allowed.join(", ")
                )
            }
            ConstraintKind::AllowedPattern { pattern, .. } => format!(
                "\"{}\" does not match pattern \"{pattern}\"",
                pycompat::str_of(value)
            ),
            ConstraintKind::Custom(name) => {
                format!("\"{}\" does not validate {name}", pycompat::str_of(value))
            }
        }
    }
}

fn within(v: f64, min: Option<&Value>, max: Option<&Value>) -> bool {
    !(min.and_then(as_f64).is_some_and(|m| v < m) || max.and_then(as_f64).is_some_and(|m| v > m))
}

/// Python `len()`: characters of a string, items of a list or map.
fn python_len(value: &Value) -> Result<usize, String> {
    match value {
        Value::String(s) => Ok(s.chars().count()),
        Value::Array(a) => Ok(a.len()),
        Value::Object(o) => Ok(o.len()),
        other => Err(format!(
            "object of type '{}' has no len()",
            python_type(other)
        )),
    }
}

/// Heat's `Schema.to_schema_type`, used to compare allowed values with the parameter's type.
fn to_schema_type(value: &Value, param_type: ParamType, type_name: &str) -> Result<Value, String> {
    let invalid = || {
        format!(
            "Value \"{}\" is invalid for data type \"{type_name}\".",
            pycompat::str_of(value)
        )
    };
    match param_type {
        ParamType::Number => str_to_num(value).map_err(|_| invalid()),
        ParamType::String => Ok(Value::String(pycompat::str_of(value))),
        ParamType::Boolean => bool_from_string(&Value::String(pycompat::str_of(value)))
            .map(Value::Bool)
            .map_err(|_| invalid()),
        ParamType::CommaDelimitedList | ParamType::Json => Ok(value.clone()),
    }
}

/// A schema error before it is located (the caller knows the node).
pub(crate) type SchemaResult<T> = Result<T, (String, Option<Node>)>;

/// Heat's `get_num` on a bound: null is absent, anything else goes through `str_to_num`.
fn number_bound(node: Option<&Node>) -> SchemaResult<Option<Value>> {
    match node {
        None => Ok(None),
        Some(n) if matches!(n.value, NodeValue::Null) => Ok(None),
        Some(n) => str_to_num(&n.to_json())
            .map(Some)
            .map_err(|m| (m, Some(n.clone()))),
    }
}

fn is_integral(v: &Value) -> bool {
    matches!(v, Value::Number(n) if !n.is_f64())
}

pub(crate) fn range(
    min: Option<&Node>,
    max: Option<&Node>,
    description: Option<String>,
) -> SchemaResult<Constraint> {
    let (min, max) = (number_bound(min)?, number_bound(max)?);
    if min.is_none() && max.is_none() {
        return Err((
            "A range constraint must have a min value and/or a max value specified.".into(),
            None,
        ));
    }
    Ok(Constraint {
        kind: ConstraintKind::Range { min, max },
        description,
    })
}

pub(crate) fn length(
    min: Option<&Node>,
    max: Option<&Node>,
    description: Option<String>,
) -> SchemaResult<Constraint> {
    let (min, max) = (number_bound(min)?, number_bound(max)?);
    if min.is_none() && max.is_none() {
        return Err((
            "A length constraint must have a min value and/or a max value specified.".into(),
            None,
        ));
    }
    if [&min, &max]
        .iter()
        .any(|b| b.as_ref().is_some_and(|v| !is_integral(v)))
    {
        return Err(("min/max length must be integral".into(), None));
    }
    Ok(Constraint {
        kind: ConstraintKind::Length { min, max },
        description,
    })
}

pub(crate) fn modulo(
    step: Option<&Node>,
    offset: Option<&Node>,
    description: Option<String>,
) -> SchemaResult<Constraint> {
    let (Some(step), Some(offset)) = (number_bound(step)?, number_bound(offset)?) else {
        return Err((
            "A modulo constraint must have a step value and an offset value specified.".into(),
            None,
        ));
    };
    let (s, o) = (as_f64(&step).unwrap_or(0.0), as_f64(&offset).unwrap_or(0.0));
    let message = if s.fract() != 0.0 || o.fract() != 0.0 {
        Some("step/offset must be integer")
    } else if s == 0.0 {
        Some("step cannot be 0.")
    } else if o.abs() >= s.abs() {
        Some("offset must be smaller (by absolute value) than step.")
    } else if s * o < 0.0 {
        Some("step and offset must be both positive or both negative.")
    } else {
        None
    };
    match message {
        Some(m) => Err((m.into(), None)),
        None => Ok(Constraint {
            kind: ConstraintKind::Modulo { step, offset },
            description,
        }),
    }
}

pub(crate) fn allowed_values(node: &Node, description: Option<String>) -> SchemaResult<Constraint> {
    match &node.value {
        NodeValue::List(items) => Ok(Constraint {
            kind: ConstraintKind::AllowedValues(items.iter().map(Node::to_json).collect()),
            description,
        }),
        _ => Err(("AllowedValues must be a list".into(), Some(node.clone()))),
    }
}

pub(crate) fn allowed_pattern(
    node: &Node,
    description: Option<String>,
) -> SchemaResult<Constraint> {
    let Some(pattern) = node.as_str() else {
        return Err(("AllowedPattern must be a string".into(), Some(node.clone())));
    };
    let regex = Regex::new(&python_pattern(pattern)).map_err(|e| {
        (
            format!("Invalid allowed_pattern \"{pattern}\": {e}"),
            Some(node.clone()),
        )
    })?;
    Ok(Constraint {
        kind: ConstraintKind::AllowedPattern {
            pattern: pattern.to_string(),
            regex,
        },
        description,
    })
}

pub(crate) fn custom(node: &Node, description: Option<String>) -> Constraint {
    let name = match node.as_str() {
        Some(s) => s.to_string(),
        None => pycompat::str_of(&node.to_json()),
    };
    Constraint {
        kind: ConstraintKind::Custom(name),
        description,
    }
}

/// Rewrites the Python `re` syntax that the Rust engine spells differently or reads otherwise,
/// so a pattern matches what it matches in Heat (which uses Python's `re.match`):
/// - `\Z` (end of text) is Rust's `\z`;
/// - `$` outside multiline mode also matches before a final newline in Python: `(?=\n?\z)`;
/// - `{,n}` is a repetition `{0,n}` in Python (Rust reads no lower bound as an error);
/// - `(?P=name)` (a named backreference) is `\k<name>`.
///
/// `\A`, `(?P<name>...)`, numbered backreferences and lookaround are read alike by both. Escapes
/// and character classes are copied untouched (inside a class `$` and `{` are literal).
fn python_pattern(pattern: &str) -> String {
    let multiline = global_flags(pattern).contains('m');
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.char_indices().peekable();
    let mut in_class = false;
    while let Some((at, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, 'Z')) if !in_class => out.push_str("\\z"),
                Some((_, escaped)) => {
                    out.push('\\');
                    out.push(escaped);
                }
                None => out.push('\\'),
            },
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // A `]` (after an optional `^`) right at the start of a class is a literal.
                if let Some(&(_, '^')) = chars.peek() {
                    out.push('^');
                    chars.next();
                }
                if let Some(&(_, ']')) = chars.peek() {
                    out.push_str("\\]");
                    chars.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '$' if !in_class && !multiline => out.push_str("(?=\\n?\\z)"),
            '{' if !in_class && pattern[at..].starts_with("{,") => {
                let rest = &pattern[at + 2..];
                let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                if digits > 0 && rest.as_bytes().get(digits) == Some(&b'}') {
                    out.push_str("{0,");
                    out.push_str(&rest[..=digits]);
                    for _ in 0..digits + 2 {
                        chars.next();
                    }
                } else {
                    // Python reads a `{` that starts no repetition as a literal.
                    out.push_str("\\{");
                }
            }
            '(' if !in_class && pattern[at..].starts_with("(?P=") => {
                let rest = &pattern[at + 4..];
                match rest.find(')') {
                    Some(end) => {
                        out.push_str("\\k<");
                        out.push_str(&rest[..end]);
                        out.push('>');
                        for _ in 0..end + 4 {
                            chars.next();
                        }
                    }
                    None => out.push('('),
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// The flags of a leading `(?aiLmsux)` group: Python applies them to the whole pattern.
fn global_flags(pattern: &str) -> &str {
    pattern
        .strip_prefix("(?")
        .and_then(|rest| {
            let end = rest.find(')')?;
            let flags = &rest[..end];
            flags
                .chars()
                .all(|c| "aiLmsux".contains(c))
                .then_some(flags)
        })
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(text: &str) -> Node {
        Node::from_json(&Value::String(text.to_string()))
    }

    /// Heat's AllowedPattern check: `re.match(pattern, value)` reaching the end of the value.
    fn accepts(pattern: &str, value: &str) -> bool {
        let constraint = allowed_pattern(&node(pattern), None).expect("pattern compiles");
        matches!(
            constraint.check(
                &Value::String(value.to_string()),
                ParamType::String,
                "string",
                false,
                None
            ),
            Check::Passed
        )
    }

    #[test]
    fn python_only_syntax_is_translated() {
        assert_eq!(python_pattern(r"\Aab\Z"), r"\Aab\z");
        assert_eq!(python_pattern(r"a{,3}"), r"a{0,3}");
        assert_eq!(python_pattern(r"(?P<q>a)(?P=q)"), r"(?P<q>a)\k<q>");
        assert_eq!(python_pattern(r"[$\Z{,]x$"), r"[$\Z{,]x(?=\n?\z)");
        assert_eq!(python_pattern(r"(?m)x$"), r"(?m)x$");
        assert_eq!(python_pattern(r"[]a]\{,"), r"[\]a]\{,");
    }

    #[test]
    fn python_patterns_match_as_pythons_re_match_does() {
        // Each row was checked against Python 3: re.match(p, v) and m.end() == len(v).
        let cases: &[(&str, &str, bool)] = &[
            (r"\A[a-z]+\Z", "abc", true),
            (r"\A[a-z]+\Z", "abc1", false),
            (r"[a-z]+\Z", "abc\n", false),
            (r"(?P<quote>['\x22]).*(?P=quote)", "'text'", true),
            (r"(?P<quote>['\x22]).*(?P=quote)", "'text\"", false),
            (r"(?P<word>\w+)-(?P=word)", "ab-ab", true),
            (r"(?P<word>\w+)-(?P=word)", "ab-cd", false),
            (r"x{,2}", "xx", true),
            (r"x{,2}", "xxx", false),
            (r"a{,x}", "a{,x}", true),
            (r"abc$", "abc", true),
            (r"abc$", "abc\n", false),
            (r"a$\n", "a\n", true),
            (r"(?m)^a$", "a", true),
            (r"[$]", "$", true),
            (r"a|ab", "ab", false),
            (r"^(?=.*\d)(?=.*[a-z]).{8,}$", "passw0rd", true),
            (r"^(?=.*\d)(?=.*[a-z]).{8,}$", "password", false),
        ];
        for (pattern, value, expected) in cases {
            assert_eq!(accepts(pattern, value), *expected, "{pattern} on {value:?}");
        }
    }
}
