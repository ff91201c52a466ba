//! Python data semantics over JSON values: what yaql (running on Python)
//! does for truthiness, equality, ordering, `str()` and `sys.getsizeof`.

use crate::Error;
use serde_json::{Map, Number, Value};
use std::cmp::Ordering;

/// A number as Python sees it: `int` or `float`. Booleans are not numbers
/// for yaql's arithmetic.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    pub(crate) fn of(value: &Value) -> Option<Num> {
        let Value::Number(n) = value else {
            return None;
        };
        if let Some(i) = n.as_i64() {
            Some(Num::Int(i))
        } else {
            n.as_f64().map(Num::Float)
        }
    }

    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    pub(crate) fn into_value(self) -> Result<Value, Error> {
        match self {
            Num::Int(i) => Ok(Value::from(i)),
            Num::Float(f) => float_value(f),
        }
    }
}

pub(crate) fn float_value(f: f64) -> Result<Value, Error> {
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| Error::Runtime(format!("float result {f} cannot be represented")))
}

/// Python's `bool(value)`.
pub(crate) fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// A number or boolean as a float, as Python compares them (`True == 1`).
fn numeric(value: &Value) -> Option<f64> {
    match value {
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// Python's `==`: `1 == 1.0`, `True == 1`, `"1" != 1`, deep for containers.
pub(crate) fn py_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| py_eq(v, w)))
        }
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        _ => match (numeric(a), numeric(b)) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        },
    }
}

/// yaql's ordering operators: numbers with numbers, strings with strings,
/// and `null` below everything (yaql's null comparison functions).
pub(crate) fn py_cmp(a: &Value, b: &Value, op: &str) -> Result<Ordering, Error> {
    match (a, b) {
        (Value::Null, Value::Null) => Ok(Ordering::Equal),
        (Value::Null, _) => Ok(Ordering::Less),
        (_, Value::Null) => Ok(Ordering::Greater),
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        (Value::Number(_), Value::Number(_)) => match (Num::of(a), Num::of(b)) {
            (Some(Num::Int(i)), Some(Num::Int(j))) => Ok(i.cmp(&j)),
            (Some(x), Some(y)) => Ok(x
                .as_f64()
                .partial_cmp(&y.as_f64())
                .unwrap_or(Ordering::Equal)),
            _ => Err(no_match(op)),
        },
        _ => Err(no_match(op)),
    }
}

pub(crate) fn no_match(function: &str) -> Error {
    Error::NoMatchingFunction(function.to_string())
}

/// yaql's `str()`: `null`, `true`, `false` in yaql spelling, strings as
/// they are, everything else as Python's `str()`.
pub(crate) fn py_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        other => py_repr(other),
    }
}

/// Python's `repr()` of the value (how lists and dicts print inside `str()`).
pub(crate) fn py_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => match n.as_u64() {
                Some(u) => u.to_string(),
                None => py_float(n.as_f64().unwrap_or(0.0)),
            },
        },
        Value::String(s) => {
            let quote = if s.contains('\'') && !s.contains('"') {
                '"'
            } else {
                '\''
            };
            let mut out = String::with_capacity(s.len() + 2);
            out.push(quote);
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c if c == quote => {
                        out.push('\\');
                        out.push(c);
                    }
                    c => out.push(c),
                }
            }
            out.push(quote);
            out
        }
        // yaql keeps lists as tuples, so they print as tuples.
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(py_repr).collect();
            match inner.as_slice() {
                [one] => format!("({one},)"),
                _ => format!("({})", inner.join(", ")),
            }
        }
        Value::Object(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", py_repr(&Value::String(k.clone())), py_repr(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}

/// Python's `repr(float)`: shortest round-trip digits, `.0` for integral
/// values, exponent form outside [1e-4, 1e16).
pub(crate) fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    let magnitude = f.abs();
    if magnitude != 0.0 && !(1e-4..1e16).contains(&magnitude) {
        // Rust's `{:e}` gives `1e16`, Python gives `1e+16`.
        let s = format!("{f:e}");
        return match s.split_once('e') {
            Some((mantissa, exp)) if !exp.starts_with('-') => format!("{mantissa}e+{exp:0>2}"),
            Some((mantissa, exp)) => format!("{mantissa}e-{:0>2}", &exp[1..]),
            None => s,
        };
    }
    let s = format!("{f}");
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

/// The text a value becomes as a dict key (JSON objects only have string
/// keys; yaql allows any hashable key).
pub(crate) fn key_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// The key a lookup (`d[k]`, `get`, `containsKey`, `in`) can match: JSON
/// dict keys are strings, and Python never finds `1` under `"1"`.
pub(crate) fn lookup_key(value: &Value) -> Option<&str> {
    value.as_str()
}

/// Estimate of CPython's `sys.getsizeof(value)` (shallow, as yaql measures
/// its memory quota).
pub(crate) fn py_size(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 16,
        Value::Number(_) => 28,
        Value::String(s) => 49 + s.len(),
        Value::Array(a) => 40 + 8 * a.len(),
        Value::Object(o) if o.is_empty() => 64,
        Value::Object(o) => 160 + 24 * o.len(),
    }
}

/// Python's `in` for a value in a list, a key in a dict, or a substring.
pub(crate) fn contains(container: &Value, item: &Value) -> bool {
    match container {
        Value::Array(a) => a.iter().any(|v| py_eq(v, item)),
        Value::Object(o) => lookup_key(item).is_some_and(|k| o.contains_key(k)),
        Value::String(s) => matches!(item, Value::String(sub) if s.contains(sub.as_str())),
        _ => false,
    }
}

/// Merges `other` into `base` as yaql's `mergeWith` does by default:
/// nested dicts merge, lists become the distinct union, other values are
/// replaced. `levels` stops the recursion (0 means unlimited).
pub(crate) fn merge_dicts(
    base: &Map<String, Value>,
    other: &Map<String, Value>,
    levels: i64,
    merge_lists: &mut dyn FnMut(&Value, &Value) -> Result<Value, Error>,
    merge_items: &mut dyn FnMut(&Value, &Value) -> Result<Value, Error>,
) -> Result<Map<String, Value>, Error> {
    let mut out = Map::new();
    for (key, left) in base {
        let merged = match other.get(key) {
            None => left.clone(),
            Some(right) => match (left, right) {
                (Value::Object(l), Value::Object(r)) if levels != 1 => {
                    Value::Object(merge_dicts(l, r, levels - 1, merge_lists, merge_items)?)
                }
                (_, Value::Object(_)) if levels != 1 => {
                    return Err(Error::Runtime(format!(
                        "Cannot merge {} with {}",
                        py_repr(left),
                        py_repr(right)
                    )))
                }
                (Value::Array(_), Value::Array(_)) if levels != 1 => merge_lists(left, right)?,
                (_, Value::Array(_)) if levels != 1 => {
                    return Err(Error::Runtime(format!(
                        "Cannot merge {} with {}",
                        py_repr(left),
                        py_repr(right)
                    )))
                }
                _ => merge_items(left, right)?,
            },
        };
        out.insert(key.clone(), merged);
    }
    for (key, right) in other {
        if !out.contains_key(key) {
            out.insert(key.clone(), right.clone());
        }
    }
    Ok(out)
}
