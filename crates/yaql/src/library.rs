//! yaql's standard library: the functions Heat templates use, with yaql's
//! names (camelCase), argument order and Python semantics. Every function
//! can be called as `f(x, ...)` or as a method `x.f(...)`; the receiver is
//! the first parameter.

use crate::eval::{Machine, Scope};
use crate::parser::{Arg, Expr};
use crate::pyvalue::{
    contains, float_value, key_of, lookup_key, merge_dicts, no_match, py_cmp, py_eq, py_repr,
    py_str, truthy, Num,
};
use crate::Error;
use serde_json::{Map, Value};
use std::cmp::Ordering;

pub(crate) enum Param<'e> {
    Value(Value),
    Lambda(&'e Expr),
}

pub(crate) struct Params<'e> {
    pub name: String,
    /// Called as a method: the receiver is `positional[0]`.
    pub has_receiver: bool,
    pub positional: Vec<Param<'e>>,
    pub named: Vec<(String, Param<'e>)>,
}

impl<'e> Params<'e> {
    fn fail(&self) -> Error {
        no_match(&self.name)
    }

    fn len(&self) -> usize {
        self.positional.len()
    }

    /// Positional parameter `i`, or the keyword argument `keyword`.
    fn get(&self, i: usize, keyword: &str) -> Option<&Param<'e>> {
        self.positional.get(i).or_else(|| {
            self.named
                .iter()
                .find(|(k, _)| k == keyword)
                .map(|(_, p)| p)
        })
    }

    fn opt(&self, i: usize, keyword: &str) -> Option<&Value> {
        match self.get(i, keyword) {
            Some(Param::Value(v)) => Some(v),
            _ => None,
        }
    }

    fn value(&self, i: usize) -> Result<&Value, Error> {
        match self.positional.get(i) {
            Some(Param::Value(v)) => Ok(v),
            _ => Err(self.fail()),
        }
    }

    fn lambda(&self, i: usize, keyword: &str) -> Option<&'e Expr> {
        match self.get(i, keyword) {
            Some(Param::Lambda(e)) => Some(e),
            _ => None,
        }
    }

    fn string(&self, i: usize) -> Result<&str, Error> {
        match self.value(i)? {
            Value::String(s) => Ok(s),
            _ => Err(self.fail()),
        }
    }

    fn opt_string(&self, i: usize, keyword: &str) -> Result<Option<&str>, Error> {
        match self.opt(i, keyword) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.fail()),
        }
    }

    fn opt_int(&self, i: usize, keyword: &str, default: i64) -> Result<i64, Error> {
        match self.opt(i, keyword) {
            None => Ok(default),
            Some(v) => self.as_int(v),
        }
    }

    fn int(&self, i: usize) -> Result<i64, Error> {
        self.as_int(self.value(i)?)
    }

    /// An `int` parameter; Python's bool is an int subclass.
    fn as_int(&self, value: &Value) -> Result<i64, Error> {
        match (value, Num::of(value)) {
            (Value::Bool(b), _) => Ok(i64::from(*b)),
            (_, Some(Num::Int(n))) => Ok(n),
            _ => Err(self.fail()),
        }
    }

    fn dict(&self, i: usize) -> Result<&Map<String, Value>, Error> {
        match self.value(i)? {
            v @ Value::Object(m) if !is_regex(v) => Ok(m),
            _ => Err(self.fail()),
        }
    }

    fn expect_len(&self, range: std::ops::RangeInclusive<usize>) -> Result<(), Error> {
        if range.contains(&self.len()) {
            Ok(())
        } else {
            Err(self.fail())
        }
    }
}

/// Which positional parameters (the receiver is position 0) are lambdas,
/// i.e. evaluated per element rather than once.
pub(crate) fn is_lambda_position(name: &str, index: usize, count: usize) -> bool {
    match name {
        "where" | "filter" | "select" | "map" | "selectMany" | "takeWhile" | "skipWhile"
        | "indexWhere" | "lastIndexWhere" | "any" | "all" | "distinct" | "aggregate" | "reduce"
        | "accumulate" | "splitWhere" | "sliceWhere" => index == 1,
        "toDict" => index == 1 || index == 2,
        "groupBy" => (1..=3).contains(&index),
        "mergeWith" => index == 2 || index == 3,
        "join" => count >= 4 && (index == 2 || index == 3),
        "coalesce" | "selectCase" | "examine" => true,
        "switchCase" => index >= 1,
        _ => false,
    }
}

pub(crate) fn is_lambda_keyword(name: &str, keyword: &str) -> bool {
    matches!(
        (name, keyword),
        ("distinct", "keySelector")
            | ("groupBy", "keySelector" | "valueSelector" | "aggregator")
            | ("toDict", "keySelector" | "valueSelector")
            | ("mergeWith", "listMerger" | "itemMerger")
            | ("any" | "all" | "where" | "filter", "predicate")
            | ("select" | "map" | "selectMany", "selector")
    )
}

/// How yaql lets a function be called: as `f(x)`, as `x.f()`, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    Function,
    Method,
    Both,
}

/// The calling form of each library function, as yaql declares it
/// (`@specs.method`, `@specs.extension_method` or neither). `None` for
/// names yaql does not define.
pub(crate) fn call_form(name: &str) -> Option<Form> {
    Some(match name {
        "abs" | "coalesce" | "dict" | "escapeRegex" | "examine" | "let" | "with" | "list"
        | "pow" | "range" | "regex" | "round" | "selectCase" | "sequence" | "sign" | "str"
        | "switch" | "int" | "float" | "bool" | "isList" | "isDict" | "isString" | "isInteger"
        | "isNumber" | "isBoolean" | "isIterable" | "isRegex" => Form::Function,
        "all" | "any" | "append" | "concat" | "distinct" | "enumerate" | "isEmpty" | "len"
        | "max" | "min" | "norm" | "set" => Form::Both,
        "accumulate" | "aggregate" | "contains" | "containsKey" | "containsValue" | "count"
        | "cycle" | "defaultIfEmpty" | "delete" | "deleteAll" | "endsWith" | "filter" | "first"
        | "flatten" | "get" | "groupBy" | "indexOf" | "indexWhere" | "items" | "join" | "keys"
        | "last" | "lastIndexOf" | "lastIndexWhere" | "limit" | "map" | "matches" | "memorize"
        | "mergeWith" | "orderBy" | "orderByDescending" | "reduce" | "repeat" | "replace"
        | "reverse" | "rightSplit" | "search" | "searchAll" | "select" | "selectMany"
        | "single" | "skip" | "skipWhile" | "slice" | "split" | "splitAt" | "startsWith"
        | "substring" | "sum" | "switchCase" | "take" | "takeWhile" | "thenBy"
        | "thenByDescending" | "toCharArray" | "toDict" | "toList" | "toLower" | "toUpper"
        | "trim" | "trimLeft" | "trimRight" | "unpack" | "values" | "where" | "zip"
        | "zipLongest" => Form::Method,
        _ => return None,
    })
}

/// Refuses a call in a form yaql does not offer for `name`.
pub(crate) fn check_form(name: &str, receiver: Option<&Value>) -> Result<(), Error> {
    match (call_form(name), receiver) {
        (None, _) | (Some(Form::Method), None) => Err(Error::UnknownFunction(name.to_string())),
        (Some(Form::Function), Some(r)) => Err(Error::Runtime(format!(
            "No method \"{name}\" for receiver {} matches supplied arguments",
            py_repr(r)
        ))),
        _ => Ok(()),
    }
}

/// Functions whose arguments need their syntax, not just their values.
pub(crate) fn special_form(
    m: &mut Machine<'_>,
    name: &str,
    receiver: Option<&Value>,
    args: &[Arg],
    scope: &Scope<'_>,
) -> Result<Option<Value>, Error> {
    check_form(name, receiver)?;
    let has_rules = args
        .iter()
        .any(|a| matches!(a, Arg::Named(k, _) if !matches!(k, Expr::Keyword(_))));
    Ok(Some(match (name, receiver) {
        ("switch", None) => {
            for arg in args {
                let Arg::Named(condition, result) = arg else {
                    return Err(no_match("switch"));
                };
                let condition = m.eval(condition, scope)?;
                if truthy(&condition) {
                    return m.eval(result, scope).map(Some);
                }
            }
            Value::Null
        }
        ("dict", None) if args.iter().all(|a| matches!(a, Arg::Named(..))) => {
            let pairs = m.mapping_rules(args, scope, "dict")?;
            m.dict_from_pairs(pairs)?
        }
        ("set", Some(Value::Object(base)))
            if has_rules
                || (!args.is_empty() && args.iter().all(|a| matches!(a, Arg::Named(..)))) =>
        {
            let pairs = m.mapping_rules(args, scope, "set")?;
            let mut out = Value::Object(base.clone());
            m.charge_memory([(1, &out)])?;
            for (k, v) in pairs {
                m.charge_memory([(1, &k), (1, &v)])?;
                if let Value::Object(map) = &mut out {
                    map.insert(key_of(&k), v);
                }
            }
            out
        }
        ("list", None) => {
            // yaql's list() flattens arguments that are iterators (query
            // results) and keeps lists and dicts as single items.
            let mut items = Vec::new();
            for arg in args {
                let Arg::Positional(e) = arg else {
                    return Err(no_match("list"));
                };
                let value = m.eval(e, scope)?;
                match value {
                    Value::Array(inner) if yields_iterator(e) => {
                        m.collection(&Value::Array(inner.clone()), "list")?;
                        items.extend(inner)
                    }
                    other => items.push(other),
                }
            }
            m.charge_memory(items.iter().map(|v| (1, v)))?;
            Value::Array(items)
        }
        ("let" | "with", None) => {
            return Err(Error::Runtime(format!(
                "{name}() builds a context and can only be used before '->'"
            )))
        }
        _ => return Ok(None),
    }))
}

/// Whether yaql would produce a lazy iterator (rather than a list, tuple
/// or dict view) for this expression.
pub(crate) fn yields_iterator(expr: &Expr) -> bool {
    match expr {
        Expr::Call { name, .. } => matches!(
            name.as_str(),
            "where"
                | "filter"
                | "select"
                | "map"
                | "selectMany"
                | "distinct"
                | "take"
                | "limit"
                | "skip"
                | "append"
                | "range"
                | "sequence"
                | "repeat"
                | "cycle"
                | "takeWhile"
                | "skipWhile"
                | "zip"
                | "zipLongest"
                | "flatten"
                | "reverse"
                | "enumerate"
                | "orderBy"
                | "orderByDescending"
                | "thenBy"
                | "thenByDescending"
                | "groupBy"
                | "searchAll"
                | "splitWhere"
                | "sliceWhere"
                | "slice"
                | "accumulate"
                | "examine"
                | "selectAllCases"
                | "concat"
                | "defaultIfEmpty"
        ),
        _ => false,
    }
}

/// `orderBy`/`orderByDescending` followed by `thenBy`/`thenByDescending`:
/// one stable sort over composite keys.
pub(crate) fn ordering(
    m: &mut Machine<'_>,
    expr: &Expr,
    scope: &Scope<'_>,
) -> Result<Value, Error> {
    let mut keys: Vec<(&Expr, bool)> = Vec::new();
    let mut current = expr;
    let base = loop {
        let Expr::Call {
            name,
            receiver,
            args,
        } = current
        else {
            return Err(no_match("thenBy"));
        };
        let (Some(source), [Arg::Positional(selector)]) = (receiver, args.as_slice()) else {
            // orderBy and thenBy are methods only.
            return Err(match receiver {
                None => Error::UnknownFunction(name.clone()),
                Some(_) => no_match(name),
            });
        };
        let ascending = !name.ends_with("Descending");
        keys.push((selector, ascending));
        match name.as_str() {
            "orderBy" | "orderByDescending" => break &**source,
            _ => current = &**source,
        }
    };
    keys.reverse();
    let collection = m.eval(base, scope)?;
    let items = m.collection(&collection, "orderBy")?;
    let mut keyed = Vec::with_capacity(items.len());
    for item in items {
        let mut item_keys = Vec::with_capacity(keys.len());
        for (selector, _) in &keys {
            item_keys.push(m.call_lambda(selector, scope, std::slice::from_ref(&item))?);
        }
        keyed.push((item_keys, item));
    }
    let directions: Vec<bool> = keys.iter().map(|(_, asc)| *asc).collect();
    let sorted = stable_sort(m, keyed, |a, b| {
        for ((x, y), ascending) in a.0.iter().zip(&b.0).zip(&directions) {
            let ordering = py_cmp(x, y, "#operator_<")?;
            if ordering != Ordering::Equal {
                return Ok(if *ascending {
                    ordering
                } else {
                    ordering.reverse()
                });
            }
        }
        Ok(Ordering::Equal)
    })?;
    Ok(Value::Array(sorted.into_iter().map(|(_, v)| v).collect()))
}

/// Insertion sort with a fallible comparator (collections are at most
/// `max_iterations` long, and a failing comparison must not panic).
fn stable_sort<T>(
    m: &mut Machine<'_>,
    items: Vec<T>,
    mut compare: impl FnMut(&T, &T) -> Result<Ordering, Error>,
) -> Result<Vec<T>, Error> {
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    for item in items {
        let mut at = out.len();
        while at > 0 {
            m.tick(1)?;
            if compare(&out[at - 1], &item)? == Ordering::Greater {
                at -= 1;
            } else {
                break;
            }
        }
        out.insert(at, item);
    }
    Ok(out)
}

const REGEX_MARK: &str = "\u{1}yaql-regex";

/// yaql's regex objects are carried as a marked dict holding the pattern
/// and flags; they never reach a result (`check_output` refuses them).
pub(crate) fn is_regex(value: &Value) -> bool {
    matches!(value, Value::Object(m) if m.contains_key(REGEX_MARK))
}

fn compile_regex(m: &mut Machine<'_>, value: &Value) -> Result<regex::Regex, Error> {
    let (pattern, ignore_case, multi_line, dot_all) = match value {
        Value::String(p) => (p.as_str(), false, false, false),
        Value::Object(map) if is_regex(value) => {
            let flag = |k: &str| map.get(k).is_some_and(truthy);
            (
                map.get(REGEX_MARK).and_then(Value::as_str).unwrap_or(""),
                flag("ignoreCase"),
                flag("multiLine"),
                flag("dotAll"),
            )
        }
        _ => return Err(no_match("regex")),
    };
    let key = (pattern.to_string(), [ignore_case, multi_line, dot_all]);
    if let Some((_, re)) = m.regexes.iter().find(|(k, _)| *k == key) {
        return Ok(re.clone());
    }
    m.tick(pattern.len() as u64)?;
    // Python's `\Z` is Rust's `\z`.
    let translated = pattern.replace("\\Z", "\\z");
    let re = regex::RegexBuilder::new(&translated)
        .case_insensitive(ignore_case)
        .multi_line(multi_line)
        .dot_matches_new_line(dot_all)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| Error::Runtime(format!("invalid regular expression {pattern:?}: {e}")))?;
    // A handful of distinct patterns per expression is the norm; the cap
    // keeps pathological ones from holding many compiled programs.
    if m.regexes.len() < 32 {
        m.regexes.push((key, re.clone()));
    }
    Ok(re)
}

/// `string =~ pattern`: does the pattern match anywhere in the string.
pub(crate) fn regex_operator(m: &mut Machine<'_>, l: &Value, r: &Value) -> Result<bool, Error> {
    let Value::String(s) = l else {
        return Err(no_match("#operator_=~"));
    };
    let re = compile_regex(m, r)?;
    m.tick(s.len() as u64 / 16)?;
    Ok(re.is_match(s))
}

/// Python's `re.split`: captured groups are kept between the pieces.
fn regex_split(
    m: &mut Machine<'_>,
    re: &regex::Regex,
    s: &str,
    max_split: i64,
) -> Result<Value, Error> {
    let mut out = Vec::new();
    let mut last = 0;
    for (n, caps) in re.captures_iter(s).enumerate() {
        if max_split > 0 && n as i64 >= max_split {
            break;
        }
        m.tick(1)?;
        let Some(whole) = caps.get(0) else { continue };
        out.push(Value::String(s[last..whole.start()].to_string()));
        for group in caps.iter().skip(1) {
            out.push(group.map_or(Value::Null, |g| Value::String(g.as_str().to_string())));
        }
        last = whole.end();
    }
    out.push(Value::String(s[last..].to_string()));
    Ok(Value::Array(out))
}

/// Translates a Python replacement template (`\1`, `\g<name>`) to the
/// regex crate's (`${1}`, `${name}`).
fn python_replacement(repl: &str) -> String {
    let chars: Vec<char> = repl.chars().collect();
    let mut out = String::with_capacity(repl.len());
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '$' => out.push_str("$$"),
            '\\' if i + 1 < chars.len() => {
                let next = chars[i + 1];
                if next.is_ascii_digit() {
                    let mut end = i + 1;
                    while end < chars.len() && end < i + 3 && chars[end].is_ascii_digit() {
                        end += 1;
                    }
                    let group: String = chars[i + 1..end].iter().collect();
                    out.push_str(&format!("${{{group}}}"));
                    i = end;
                    continue;
                }
                if next == 'g' && chars.get(i + 2) == Some(&'<') {
                    if let Some(close) = chars[i + 3..].iter().position(|c| *c == '>') {
                        let group: String = chars[i + 3..i + 3 + close].iter().collect();
                        out.push_str(&format!("${{{group}}}"));
                        i += 4 + close;
                        continue;
                    }
                }
                match next {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    '\\' => out.push('\\'),
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
                i += 2;
                continue;
            }
            c => out.push(c),
        }
        i += 1;
    }
    out
}

fn regex_replace(
    m: &mut Machine<'_>,
    re: &regex::Regex,
    s: &str,
    repl: &str,
    count: i64,
) -> Result<Value, Error> {
    m.tick(s.len() as u64 / 16)?;
    let template = python_replacement(repl);
    let limit = usize::try_from(count).unwrap_or(0);
    let replaced = re.replacen(s, limit, template.as_str()).into_owned();
    m.check_string_len(replaced.len())?;
    Ok(Value::String(replaced))
}

/// Python's `str.split(sep, maxsplit)`; `sep = None` splits on runs of
/// whitespace.
fn py_split(
    s: &str,
    sep: Option<&str>,
    max_splits: i64,
    from_right: bool,
) -> Result<Vec<Value>, Error> {
    let limit = usize::try_from(max_splits).ok();
    let pieces: Vec<String> = match sep {
        Some("") => return Err(Error::Runtime("empty separator".into())),
        Some(sep) => match (limit, from_right) {
            (None, _) => s.split(sep).map(String::from).collect(),
            (Some(n), false) => s.splitn(n + 1, sep).map(String::from).collect(),
            (Some(n), true) => {
                let mut v: Vec<String> = s.rsplitn(n + 1, sep).map(String::from).collect();
                v.reverse();
                v
            }
        },
        None => whitespace_split(s, limit, from_right),
    };
    Ok(pieces.into_iter().map(Value::String).collect())
}

fn whitespace_split(s: &str, limit: Option<usize>, from_right: bool) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut rest = if from_right {
        s.trim_end()
    } else {
        s.trim_start()
    };
    loop {
        if rest.is_empty() {
            break;
        }
        if limit.is_some_and(|n| pieces.len() >= n) {
            pieces.push(rest.to_string());
            break;
        }
        if from_right {
            match rest.rfind(char::is_whitespace) {
                Some(at) => {
                    let ws_len = rest[at..].chars().next().map_or(1, char::len_utf8);
                    pieces.push(rest[at + ws_len..].to_string());
                    rest = rest[..at].trim_end();
                }
                None => {
                    pieces.push(rest.to_string());
                    break;
                }
            }
        } else {
            match rest.find(char::is_whitespace) {
                Some(at) => {
                    pieces.push(rest[..at].to_string());
                    rest = rest[at..].trim_start();
                }
                None => {
                    pieces.push(rest.to_string());
                    break;
                }
            }
        }
    }
    if from_right {
        pieces.reverse();
    }
    pieces
}

fn strip<'s>(s: &'s str, chars: Option<&str>, left: bool, right: bool) -> &'s str {
    let matches = |c: char| match chars {
        Some(set) => set.contains(c),
        None => c.is_whitespace(),
    };
    let s = if left {
        s.trim_start_matches(matches)
    } else {
        s
    };
    if right {
        s.trim_end_matches(matches)
    } else {
        s
    }
}

/// Python's `int(value)` as yaql's `int()` uses it (`null` is 0).
fn to_int(value: &Value) -> Result<Value, Error> {
    let bad = || Error::Runtime(format!("invalid literal for int(): {}", py_repr(value)));
    match value {
        Value::Null => Ok(Value::from(0)),
        Value::Bool(b) => Ok(Value::from(i64::from(*b))),
        Value::Number(_) => match Num::of(value) {
            Some(Num::Int(i)) => Ok(Value::from(i)),
            Some(Num::Float(f)) if f.is_finite() && f.abs() < 9.2e18 => {
                Ok(Value::from(f.trunc() as i64))
            }
            _ => Err(bad()),
        },
        Value::String(s) => s
            .trim()
            .replace('_', "")
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| bad()),
        _ => Err(bad()),
    }
}

fn to_float(value: &Value) -> Result<Value, Error> {
    let bad = || Error::Runtime(format!("could not convert to float: {}", py_repr(value)));
    match value {
        Value::Null => float_value(0.0),
        Value::Bool(b) => float_value(f64::from(u8::from(*b))),
        Value::Number(n) => float_value(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => {
            let f: f64 = s.trim().parse().map_err(|_| bad())?;
            float_value(f)
        }
        _ => Err(bad()),
    }
}

fn empty_collection(name: &str) -> Error {
    Error::Runtime(format!("{name}(): the collection is empty"))
}

/// Produces at most `max_iterations + 1` items of an endless or huge
/// sequence: consumers that read a prefix work as in yaql, and anything
/// that needs the whole sequence hits the collection limit.
fn bounded(m: &Machine<'_>, mut items: impl Iterator<Item = Value>) -> Value {
    let mut out: Vec<Value> = items.by_ref().take(m.limits.max_iterations).collect();
    if items.next().is_some() {
        let mut mark = Map::new();
        mark.insert(TRUNCATION_MARK.into(), Value::Bool(true));
        out.push(Value::Object(mark));
    }
    Value::Array(out)
}

const TRUNCATION_MARK: &str = "\u{1}yaql-truncated";

/// The element [`bounded`] puts after the last real one of a sequence it
/// cut short. Lists holding it are longer than `max_iterations`, so every
/// whole-collection consumer refuses them; prefix consumers that reach it
/// refuse too, because yaql would have read on.
pub(crate) fn is_truncation_mark(value: &Value) -> bool {
    matches!(value, Value::Object(m) if m.contains_key(TRUNCATION_MARK))
}

fn distinct_by(m: &mut Machine<'_>, items: Vec<Value>, keys: Vec<Value>) -> Result<Value, Error> {
    let mut seen: Vec<Value> = Vec::new();
    let mut out = Vec::new();
    for (item, key) in items.into_iter().zip(keys) {
        m.tick(seen.len() as u64)?;
        if !seen.iter().any(|k| py_eq(k, &key)) {
            seen.push(key);
            m.charge_memory([(1, &Value::Array(Vec::new())), (seen.len(), &Value::Null)])?;
            out.push(item);
        }
    }
    Ok(Value::Array(out))
}

fn flatten_into(
    m: &mut Machine<'_>,
    value: &Value,
    out: &mut Vec<Value>,
    depth: usize,
) -> Result<(), Error> {
    m.tick(1)?;
    match value {
        Value::Array(items) if depth < m.limits.max_depth => {
            for item in items {
                flatten_into(m, item, out, depth + 1)?;
            }
            if out.len() > m.limits.max_iterations {
                return Err(Error::CollectionTooLarge(m.limits.max_iterations));
            }
            Ok(())
        }
        other => {
            out.push(other.clone());
            Ok(())
        }
    }
}

/// Runs the standard function `params.name`. Functions that evaluate
/// lambdas each have their own small function, so that the stack frames on
/// the lambda recursion path stay small.
pub(crate) fn call(m: &mut Machine<'_>, p: &Params<'_>, scope: &Scope<'_>) -> Result<Value, Error> {
    match p.name.as_str() {
        "join" if p.len() >= 4 => join_collections(m, p, scope),
        "where" | "filter" | "select" | "map" | "takeWhile" | "skipWhile" | "selectMany"
        | "indexWhere" | "lastIndexWhere" => query_each(m, p, scope),
        "any" | "all" => any_all(m, p, scope),
        "distinct" => distinct(m, p, scope),
        "aggregate" | "reduce" | "accumulate" => aggregate(m, p, scope),
        "groupBy" => group_by(m, p, scope),
        "toDict" => to_dict(m, p, scope),
        "mergeWith" => merge_with(m, p, scope),
        "coalesce" => coalesce(m, p, scope),
        "selectCase" => select_case(m, p, scope),
        "switchCase" => switch_case(m, p, scope),
        "examine" => examine(m, p, scope),
        _ => call_plain(m, p),
    }
}

/// The functions that take no lambdas.
fn call_plain(m: &mut Machine<'_>, p: &Params<'_>) -> Result<Value, Error> {
    let name = p.name.as_str();
    let n = p.len();
    Ok(match name {
        // ---- queries over collections
        "len" | "count" => {
            p.expect_len(1..=1)?;
            match p.value(0)? {
                Value::String(s) if name == "len" => Value::from(s.chars().count() as i64),
                v @ Value::Object(map) if name == "len" && !is_regex(v) => {
                    Value::from(map.len() as i64)
                }
                // `len` takes a sequence (no iterator limit); `count` an iterable.
                Value::Array(items) if name == "len" => {
                    if items.last().is_some_and(is_truncation_mark) {
                        return Err(Error::CollectionTooLarge(m.limits.max_iterations));
                    }
                    Value::from(items.len() as i64)
                }
                v => Value::from(m.collection(v, name)?.len() as i64),
            }
        }
        "sum" => {
            p.expect_len(1..=2)?;
            let items = m.collection(p.value(0)?, name)?;
            let mut iter = items.into_iter();
            let mut acc = match p.opt(1, "initial") {
                Some(initial) => initial.clone(),
                None => iter.next().ok_or_else(|| {
                    Error::Runtime("reduce() of empty sequence with no initial value".into())
                })?,
            };
            for item in iter.by_ref() {
                acc = m.add(&acc, &item)?;
            }
            acc
        }
        "max" | "min" => {
            let pick_right = |a: &Value, b: &Value| -> Result<bool, Error> {
                let o = py_cmp(b, a, "#operator_>")?;
                Ok(if name == "max" {
                    o == Ordering::Greater
                } else {
                    o != Ordering::Greater
                })
            };
            // `coll.max(initial)` is the query; `max(a, b)` compares two values.
            match p.value(0)? {
                Value::Array(_) if p.has_receiver => {
                    p.expect_len(1..=2)?;
                    let items = m.collection(p.value(0)?, name)?;
                    let mut iter = items.into_iter();
                    let mut best = match p.opt(1, "initial") {
                        Some(v) => v.clone(),
                        None => iter.next().ok_or_else(|| empty_collection(name))?,
                    };
                    for item in iter {
                        if pick_right(&best, &item)? {
                            best = item;
                        }
                    }
                    best
                }
                _ if p.has_receiver => return Err(p.fail()),
                a => {
                    p.expect_len(2..=2)?;
                    let b = p.value(1)?;
                    if pick_right(a, b)? {
                        b.clone()
                    } else {
                        a.clone()
                    }
                }
            }
        }
        "first" | "last" | "single" => {
            p.expect_len(1..=2)?;
            let items = if name == "first" {
                m.prefix_collection(p.value(0)?, name)?
            } else {
                m.collection(p.value(0)?, name)?
            };
            if name == "single" && items.len() > 1 {
                return Err(Error::Runtime(
                    "Collection contains more than one item".into(),
                ));
            }
            let picked = if name == "last" {
                items.last()
            } else {
                items.first()
            };
            match (picked, p.opt(1, "default")) {
                (Some(v), _) => v.clone(),
                (None, Some(default)) => default.clone(),
                (None, None) => return Err(empty_collection(name)),
            }
        }
        "flatten" => {
            p.expect_len(1..=1)?;
            let items = m.collection(p.value(0)?, name)?;
            let mut out = Vec::new();
            for item in &items {
                flatten_into(m, item, &mut out, 0)?;
            }
            Value::Array(out)
        }
        "take" | "limit" | "skip" => {
            p.expect_len(2..=2)?;
            let items = m.prefix_collection(p.value(0)?, name)?;
            let count = usize::try_from(p.int(1)?).unwrap_or(0);
            if name == "skip" {
                if items.len() > m.limits.max_iterations {
                    return Err(Error::CollectionTooLarge(m.limits.max_iterations));
                }
                Value::Array(items.into_iter().skip(count).collect())
            } else {
                Value::Array(items.into_iter().take(count).collect())
            }
        }
        "append" => {
            let mut items = m.collection(p.value(0)?, name)?;
            for i in 1..n {
                items.push(p.value(i)?.clone());
            }
            Value::Array(items)
        }
        "concat" => {
            let values: Vec<&Value> = (0..n).map(|i| p.value(i)).collect::<Result<_, _>>()?;
            // concat() of strings is a function; `x.concat(...)` chains lists.
            if !p.has_receiver && values.iter().all(|v| v.is_string()) {
                let total: usize = values.iter().filter_map(|v| v.as_str()).map(str::len).sum();
                m.check_string_len(total)?;
                Value::String(values.iter().filter_map(|v| v.as_str()).collect())
            } else {
                let mut out = Vec::new();
                for v in values {
                    out.extend(m.collection(v, name)?);
                }
                Value::Array(out)
            }
        }
        "range" => {
            p.expect_len(1..=3)?;
            let (start, stop, step) = if n == 1 {
                (0, p.int(0)?, 1)
            } else {
                (p.int(0)?, p.int(1)?, p.opt_int(2, "step", 1)?)
            };
            if step == 0 {
                return Err(Error::Runtime("range() arg 3 must not be zero".into()));
            }
            let mut next = start;
            bounded(
                m,
                std::iter::from_fn(|| {
                    let more = if step > 0 { next < stop } else { next > stop };
                    more.then(|| {
                        let v = next;
                        next = next.saturating_add(step);
                        Value::from(v)
                    })
                }),
            )
        }
        "sequence" => {
            p.expect_len(0..=2)?;
            let start = p.opt_int(0, "start", 0)?;
            let step = p.opt_int(1, "step", 1)?;
            let mut next = start;
            bounded(
                m,
                std::iter::from_fn(|| {
                    let v = next;
                    next = next.saturating_add(step);
                    Some(Value::from(v))
                }),
            )
        }
        "repeat" => {
            p.expect_len(1..=2)?;
            let value = p.value(0)?.clone();
            let times = p.opt_int(1, "times", -1)?;
            let times = usize::try_from(times).unwrap_or(usize::MAX);
            bounded(m, std::iter::repeat_n(value, times))
        }
        "cycle" => {
            p.expect_len(1..=1)?;
            let items = m.collection(p.value(0)?, name)?;
            if items.is_empty() {
                Value::Array(items)
            } else {
                bounded(m, items.into_iter().cycle())
            }
        }
        "reverse" => {
            p.expect_len(1..=1)?;
            let mut items = m.collection(p.value(0)?, name)?;
            items.reverse();
            Value::Array(items)
        }
        "enumerate" => {
            p.expect_len(1..=2)?;
            let items = m.collection(p.value(0)?, name)?;
            let start = p.opt_int(1, "start", 0)?;
            Value::Array(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| {
                        Value::Array(vec![Value::from(start.saturating_add(i as i64)), v])
                    })
                    .collect(),
            )
        }
        "zip" | "zipLongest" => {
            let mut columns = Vec::with_capacity(n);
            for i in 0..n {
                columns.push(m.prefix_collection(p.value(i)?, name)?);
            }
            let len = if name == "zip" {
                columns.iter().map(Vec::len).min().unwrap_or(0)
            } else {
                columns.iter().map(Vec::len).max().unwrap_or(0)
            };
            let fill = p
                .named
                .iter()
                .find(|(k, _)| k == "default")
                .and_then(|(_, v)| match v {
                    Param::Value(v) => Some(v.clone()),
                    Param::Lambda(_) => None,
                })
                .unwrap_or(Value::Null);
            if len > m.limits.max_iterations {
                return Err(Error::CollectionTooLarge(m.limits.max_iterations));
            }
            let rows: Vec<Value> = (0..len)
                .map(|row| {
                    Value::Array(
                        columns
                            .iter()
                            .map(|c| c.get(row).cloned().unwrap_or_else(|| fill.clone()))
                            .collect(),
                    )
                })
                .collect();
            Value::Array(rows)
        }
        "join" => {
            p.expect_len(2..=2)?;
            let (separator, sequence) = match (p.value(0)?, p.value(1)?) {
                (Value::String(sep), seq @ Value::Array(_)) => (sep, seq),
                (seq @ Value::Array(_), Value::String(sep)) => (sep, seq),
                _ => return Err(p.fail()),
            };
            let items = m.collection(sequence, name)?;
            let parts: Vec<String> = items.iter().map(py_str).collect();
            let total =
                parts.iter().map(String::len).sum::<usize>() + separator.len() * parts.len();
            m.check_string_len(total)?;
            Value::String(parts.join(separator))
        }
        "indexOf" | "lastIndexOf" => match p.value(0)? {
            Value::String(s) => {
                p.expect_len(2..=4)?;
                let sub = p.string(1)?;
                let chars: Vec<char> = s.chars().collect();
                let len = chars.len() as i64;
                let mut start = p.opt_int(2, "start", 0)?;
                if n == 4 && start < 0 {
                    start += len;
                }
                let start = start.clamp(0, len) as usize;
                let end = if n == 4 {
                    let length = p.opt_int(3, "length", -1)?;
                    let length = if length < 0 {
                        len - start as i64
                    } else {
                        length
                    };
                    (start as i64 + length).clamp(start as i64, len) as usize
                } else {
                    len as usize
                };
                let hay: String = chars[start..end].iter().collect();
                let found = if name == "indexOf" {
                    hay.find(sub)
                } else {
                    hay.rfind(sub)
                };
                match found {
                    Some(byte) => Value::from((start + hay[..byte].chars().count()) as i64),
                    None => Value::from(-1),
                }
            }
            collection => {
                p.expect_len(2..=2)?;
                let items = m.collection(collection, name)?;
                let item = p.value(1)?;
                let positions = items.iter().enumerate().filter(|(_, v)| py_eq(v, item));
                let found = if name == "indexOf" {
                    positions.map(|(i, _)| i).next()
                } else {
                    positions.map(|(i, _)| i).next_back()
                };
                Value::from(found.map_or(-1, |i| i as i64))
            }
        },
        "slice" => {
            p.expect_len(2..=2)?;
            let items = m.collection(p.value(0)?, name)?;
            let size = usize::try_from(p.int(1)?).unwrap_or(0).max(1);
            Value::Array(
                items
                    .chunks(size)
                    .map(|c| Value::Array(c.to_vec()))
                    .collect(),
            )
        }
        "splitAt" => {
            p.expect_len(2..=2)?;
            let items = m.collection(p.value(0)?, name)?;
            let at = p.int(1)?;
            let len = items.len() as i64;
            let at = if at < 0 {
                (at + len).max(0)
            } else {
                at.min(len)
            } as usize;
            Value::Array(vec![
                Value::Array(items[..at].to_vec()),
                Value::Array(items[at..].to_vec()),
            ])
        }
        "defaultIfEmpty" => {
            p.expect_len(2..=2)?;
            let items = m.collection(p.value(0)?, name)?;
            if items.is_empty() {
                p.value(1)?.clone()
            } else {
                Value::Array(items)
            }
        }
        "memorize" | "toList" => {
            p.expect_len(1..=1)?;
            Value::Array(m.collection(p.value(0)?, name)?)
        }
        "isIterable" => Value::Bool(matches!(p.value(0)?, Value::Array(_))),
        "contains" => {
            p.expect_len(2..=2)?;
            let collection = p.value(0)?;
            m.collection(collection, name)?;
            Value::Bool(contains(collection, p.value(1)?))
        }

        // ---- dictionaries
        "dict" => {
            p.expect_len(0..=1)?;
            let mut pairs = Vec::new();
            if n == 1 {
                for item in m.collection(p.value(0)?, name)? {
                    match item {
                        Value::Array(pair) if pair.len() >= 2 => {
                            pairs.push((pair[0].clone(), pair[1].clone()))
                        }
                        _ => {
                            return Err(Error::Runtime(
                                "dict(): every item must be a [key, value] pair".into(),
                            ))
                        }
                    }
                }
            }
            for (key, value) in &p.named {
                if let Param::Value(v) = value {
                    pairs.push((Value::String(key.clone()), v.clone()));
                }
            }
            m.dict_from_pairs(pairs)?
        }
        "keys" | "values" | "items" => {
            p.expect_len(1..=1)?;
            let map = p.dict(0)?;
            if map.len() > m.limits.max_iterations {
                return Err(Error::CollectionTooLarge(m.limits.max_iterations));
            }
            m.tick(map.len() as u64)?;
            Value::Array(match name {
                "keys" => map.keys().map(|k| Value::String(k.clone())).collect(),
                "values" => map.values().cloned().collect(),
                _ => map
                    .iter()
                    .map(|(k, v)| Value::Array(vec![Value::String(k.clone()), v.clone()]))
                    .collect(),
            })
        }
        "get" => {
            p.expect_len(2..=3)?;
            let map = p.dict(0)?;
            match lookup_key(p.value(1)?).and_then(|k| map.get(k)) {
                Some(v) => v.clone(),
                None => p.opt(2, "default").cloned().unwrap_or(Value::Null),
            }
        }
        "set" => {
            let mut map = p.dict(0)?.clone();
            match n {
                2 => {
                    let replacements = p.dict(1)?;
                    m.charge_memory([(1, p.value(0)?), (1, p.value(1)?)])?;
                    for (k, v) in replacements {
                        map.insert(k.clone(), v.clone());
                    }
                }
                3 => {
                    m.charge_memory([(1, p.value(0)?), (1, p.value(1)?), (1, p.value(2)?)])?;
                    map.insert(key_of(p.value(1)?), p.value(2)?.clone());
                }
                _ => return Err(p.fail()),
            }
            Value::Object(map)
        }
        "delete" if matches!(p.value(0)?, Value::Object(_)) => {
            let mut map = p.dict(0)?.clone();
            for i in 1..n {
                if let Some(k) = lookup_key(p.value(i)?) {
                    map.shift_remove(k);
                }
            }
            Value::Object(map)
        }
        "delete" => {
            p.expect_len(2..=3)?;
            let mut items = m.collection(p.value(0)?, name)?;
            let len = items.len() as i64;
            let mut position = p.int(1)?;
            if position < 0 {
                position += len;
            }
            let count = p.opt_int(2, "count", 1)?;
            let start = position.clamp(0, len) as usize;
            let end = if count < 0 {
                len
            } else {
                position.saturating_add(count).clamp(0, len)
            } as usize;
            if start < end {
                items.drain(start..end);
            }
            Value::Array(items)
        }
        "deleteAll" => {
            p.expect_len(2..=2)?;
            let mut map = p.dict(0)?.clone();
            for key in m.collection(p.value(1)?, name)? {
                if let Some(k) = lookup_key(&key) {
                    map.shift_remove(k);
                }
            }
            Value::Object(map)
        }
        "containsKey" => {
            p.expect_len(2..=2)?;
            let map = p.dict(0)?;
            Value::Bool(lookup_key(p.value(1)?).is_some_and(|k| map.contains_key(k)))
        }
        "containsValue" => {
            p.expect_len(2..=2)?;
            let value = p.value(1)?;
            Value::Bool(p.dict(0)?.values().any(|v| py_eq(v, value)))
        }
        // ---- type tests
        "isList" => Value::Bool(matches!(p.value(0)?, Value::Array(_))),
        "isDict" => Value::Bool(matches!(p.value(0)?, v @ Value::Object(_) if !is_regex(v))),
        "isString" => Value::Bool(p.value(0)?.is_string()),
        "isBoolean" => Value::Bool(p.value(0)?.is_boolean()),
        "isInteger" => Value::Bool(matches!(Num::of(p.value(0)?), Some(Num::Int(_)))),
        "isNumber" => Value::Bool(p.value(0)?.is_number()),
        "isRegex" => Value::Bool(is_regex(p.value(0)?)),

        // ---- conversions and math
        "str" => {
            p.expect_len(1..=1)?;
            let text = py_str(p.value(0)?);
            m.check_string_len(text.len())?;
            Value::String(text)
        }
        "int" => {
            p.expect_len(1..=1)?;
            to_int(p.value(0)?)?
        }
        "float" => {
            p.expect_len(1..=1)?;
            to_float(p.value(0)?)?
        }
        "bool" => {
            p.expect_len(1..=1)?;
            Value::Bool(truthy(p.value(0)?))
        }
        "abs" => match Num::of(p.value(0)?) {
            Some(Num::Int(i)) => Value::from(
                i.checked_abs()
                    .ok_or_else(|| Error::Runtime("integer overflow".into()))?,
            ),
            Some(Num::Float(f)) => float_value(f.abs())?,
            None => return Err(p.fail()),
        },
        "sign" => match Num::of(p.value(0)?) {
            Some(num) => Value::from(match num.as_f64() {
                x if x > 0.0 => 1,
                x if x < 0.0 => -1,
                _ => 0,
            }),
            None => return Err(p.fail()),
        },
        "round" => {
            p.expect_len(1..=2)?;
            let digits = p.opt_int(1, "ndigits", 0)?.clamp(-300, 300);
            match Num::of(p.value(0)?) {
                Some(Num::Int(i)) if digits >= 0 => Value::from(i),
                Some(num) => {
                    let scale = 10f64.powi(digits as i32);
                    let x = num.as_f64() * scale;
                    // Python rounds half to even.
                    let r = x.round();
                    let r = if (x - x.trunc()).abs() == 0.5 {
                        2.0 * (x / 2.0).round()
                    } else {
                        r
                    };
                    let rounded = r / scale;
                    match num {
                        Num::Int(_) => Value::from(rounded as i64),
                        Num::Float(_) => float_value(rounded)?,
                    }
                }
                None => return Err(p.fail()),
            }
        }
        "pow" => {
            p.expect_len(2..=3)?;
            let (a, b) = (Num::of(p.value(0)?), Num::of(p.value(1)?));
            match (a, b, p.opt(2, "c")) {
                (Some(Num::Int(a)), Some(Num::Int(b)), modulus) if b >= 0 => {
                    let exp =
                        u32::try_from(b).map_err(|_| Error::Runtime("integer overflow".into()))?;
                    match modulus.and_then(Num::of) {
                        Some(Num::Int(c)) if c != 0 => {
                            let mut result: i128 = 1;
                            let (base, c) =
                                (i128::from(a).rem_euclid(i128::from(c)), i128::from(c));
                            for _ in 0..exp.min(1 << 16) {
                                m.tick(1)?;
                                result = (result * base).rem_euclid(c);
                            }
                            Value::from(result as i64)
                        }
                        _ => Value::from(
                            a.checked_pow(exp)
                                .ok_or_else(|| Error::Runtime("integer overflow".into()))?,
                        ),
                    }
                }
                (Some(a), Some(b), None) => float_value(a.as_f64().powf(b.as_f64()))?,
                _ => return Err(p.fail()),
            }
        }

        // ---- strings
        "toLower" | "toUpper" => {
            p.expect_len(1..=1)?;
            let s = p.string(0)?;
            m.check_string_len(s.len())?;
            Value::String(if name == "toLower" {
                s.to_lowercase()
            } else {
                s.to_uppercase()
            })
        }
        "trim" | "trimLeft" | "trimRight" | "norm" => {
            p.expect_len(1..=2)?;
            if name == "norm" && p.value(0)?.is_null() {
                return Ok(Value::Null);
            }
            let s = p.string(0)?;
            let chars = p.opt_string(1, "chars")?;
            let out = strip(s, chars, name != "trimRight", name != "trimLeft");
            if name == "norm" && out.is_empty() {
                Value::Null
            } else {
                Value::String(out.to_string())
            }
        }
        "isEmpty" => {
            p.expect_len(1..=3)?;
            match p.value(0)? {
                Value::Null => Value::Bool(true),
                Value::String(s) => {
                    let trim = p.opt(1, "trim").is_none_or(truthy);
                    let chars = p.opt_string(2, "chars")?;
                    let s = if trim {
                        strip(s, chars, true, true)
                    } else {
                        s.as_str()
                    };
                    Value::Bool(s.is_empty())
                }
                _ => return Err(p.fail()),
            }
        }
        "split" | "rightSplit" => {
            p.expect_len(1..=3)?;
            match p.value(0)? {
                v if is_regex(v) => {
                    let re = compile_regex(m, v)?;
                    let s = p.string(1)?;
                    regex_split(m, &re, s, p.opt_int(2, "maxSplit", 0)?)?
                }
                Value::String(s) if p.opt(1, "separator").is_some_and(is_regex) => {
                    let re = compile_regex(m, p.opt(1, "separator").unwrap_or(&Value::Null))?;
                    regex_split(m, &re, s, p.opt_int(2, "maxSplit", 0)?)?
                }
                Value::String(s) => {
                    m.tick(s.len() as u64 / 16)?;
                    let separator = p.opt_string(1, "separator")?;
                    let max_splits = p.opt_int(2, "maxSplits", -1)?;
                    Value::Array(py_split(s, separator, max_splits, name == "rightSplit")?)
                }
                _ => return Err(p.fail()),
            }
        }
        "replace" => match p.value(0)? {
            v if is_regex(v) => {
                p.expect_len(3..=4)?;
                let re = compile_regex(m, v)?;
                regex_replace(
                    m,
                    &re,
                    p.string(1)?,
                    p.string(2)?,
                    p.opt_int(3, "count", 0)?,
                )?
            }
            Value::String(s) => match p.value(1)? {
                pattern if is_regex(pattern) => {
                    p.expect_len(3..=4)?;
                    let re = compile_regex(m, pattern)?;
                    regex_replace(m, &re, s, p.string(2)?, p.opt_int(3, "count", 0)?)?
                }
                Value::Object(replacements) => {
                    p.expect_len(2..=3)?;
                    let count = p.opt_int(2, "count", -1)?;
                    let mut out = s.clone();
                    for (old, new) in replacements {
                        out = replace_count(m, &out, old, &py_str(new), count)?;
                    }
                    Value::String(out)
                }
                Value::String(old) => {
                    p.expect_len(3..=4)?;
                    let new = p.string(2)?;
                    Value::String(replace_count(m, s, old, new, p.opt_int(3, "count", -1)?)?)
                }
                _ => return Err(p.fail()),
            },
            collection @ Value::Array(_) => {
                p.expect_len(3..=4)?;
                let mut items = m.collection(collection, name)?;
                let len = items.len() as i64;
                let mut position = p.int(1)?;
                if position < 0 {
                    position += len;
                }
                let count = p.opt_int(3, "count", 1)?;
                let start = position.clamp(0, len) as usize;
                let end = if count < 0 {
                    len
                } else {
                    position.saturating_add(count).clamp(0, len)
                } as usize;
                if start < end {
                    items.splice(start..end, [p.value(2)?.clone()]);
                }
                Value::Array(items)
            }
            _ => return Err(p.fail()),
        },
        "startsWith" | "endsWith" => {
            let s = p.string(0)?;
            let mut hit = false;
            for i in 1..n {
                let affix = p.string(i)?;
                hit |= if name == "startsWith" {
                    s.starts_with(affix)
                } else {
                    s.ends_with(affix)
                };
            }
            Value::Bool(hit)
        }
        "substring" => {
            p.expect_len(2..=3)?;
            let chars: Vec<char> = p.string(0)?.chars().collect();
            let len = chars.len() as i64;
            let mut start = p.int(1)?;
            let mut length = p.opt_int(2, "length", -1)?;
            if length < 0 {
                length = len;
            }
            if start < 0 {
                start += len;
            }
            let start = start.clamp(0, len);
            let end = start.saturating_add(length).clamp(start, len);
            Value::String(chars[start as usize..end as usize].iter().collect())
        }
        "toCharArray" => {
            let s = p.string(0)?;
            let chars: Vec<Value> = s.chars().map(|c| Value::String(c.to_string())).collect();
            Value::Array(chars)
        }
        // ---- regular expressions
        "regex" => {
            p.expect_len(1..=4)?;
            let pattern = p.string(0)?;
            let mut map = Map::new();
            map.insert(REGEX_MARK.into(), Value::String(pattern.to_string()));
            for (i, flag) in ["ignoreCase", "multiLine", "dotAll"].iter().enumerate() {
                if let Some(v) = p.opt(i + 1, flag) {
                    map.insert((*flag).into(), Value::Bool(truthy(v)));
                }
            }
            let value = Value::Object(map);
            compile_regex(m, &value)?;
            value
        }
        "matches" => {
            p.expect_len(2..=2)?;
            // regex.matches(string) or string.matches(pattern).
            let (string, pattern) = if is_regex(p.value(0)?) {
                (p.value(1)?, p.value(0)?)
            } else {
                (p.value(0)?, p.value(1)?)
            };
            Value::Bool(regex_operator(m, string, pattern)?)
        }
        "search" | "searchAll" => {
            p.expect_len(2..=2)?;
            let re = compile_regex(m, p.value(0)?)?;
            let s = p.string(1)?;
            m.tick(s.len() as u64 / 16)?;
            if name == "search" {
                re.find(s)
                    .map_or(Value::Null, |f| Value::String(f.as_str().to_string()))
            } else {
                let found: Vec<Value> = re
                    .find_iter(s)
                    .take(m.limits.max_iterations + 1)
                    .map(|f| Value::String(f.as_str().to_string()))
                    .collect();
                Value::Array(found)
            }
        }
        "escapeRegex" => {
            p.expect_len(1..=1)?;
            Value::String(regex::escape(p.string(0)?))
        }

        // ---- branching
        _ => return Err(Error::UnknownFunction(name.to_string())),
    })
}

/// Python's `str.replace(old, new, count)` (`count < 0` replaces all).
fn replace_count(
    m: &mut Machine<'_>,
    s: &str,
    old: &str,
    new: &str,
    count: i64,
) -> Result<String, Error> {
    m.tick(s.len() as u64 / 16)?;
    let occurrences = if old.is_empty() {
        s.chars().count() + 1
    } else {
        s.matches(old).count()
    };
    let replaced = usize::try_from(count).map_or(occurrences, |c| c.min(occurrences));
    let len = s.len() + replaced.saturating_mul(new.len());
    m.check_string_len(len)?;
    Ok(match usize::try_from(count) {
        Ok(c) => s.replacen(old, new, c),
        Err(_) => s.replace(old, new),
    })
}

fn any_all(m: &mut Machine<'_>, p: &Params<'_>, scope: &Scope<'_>) -> Result<Value, Error> {
    let name = p.name.as_str();
    let lambda1 = |m: &mut Machine<'_>, body: &Expr, x: &Value| {
        m.call_lambda(body, scope, std::slice::from_ref(x))
    };
    Ok({
        p.expect_len(1..=2)?;
        let items = m.collection(p.value(0)?, name)?;
        let predicate = p.lambda(1, "predicate");
        let want = name == "any";
        let mut answer = !want;
        for item in &items {
            let hit = match predicate {
                Some(body) => truthy(&lambda1(m, body, item)?),
                None => truthy(item),
            };
            if hit == want {
                answer = want;
                break;
            }
        }
        Value::Bool(answer)
    })
}

fn distinct(m: &mut Machine<'_>, p: &Params<'_>, scope: &Scope<'_>) -> Result<Value, Error> {
    let name = p.name.as_str();
    let lambda1 = |m: &mut Machine<'_>, body: &Expr, x: &Value| {
        m.call_lambda(body, scope, std::slice::from_ref(x))
    };
    Ok({
        p.expect_len(1..=2)?;
        let items = m.collection(p.value(0)?, name)?;
        let keys = match p.lambda(1, "keySelector") {
            Some(body) => {
                let mut keys = Vec::with_capacity(items.len());
                for item in &items {
                    keys.push(lambda1(m, body, item)?);
                }
                keys
            }
            None => items.clone(),
        };
        distinct_by(m, items, keys)?
    })
}

fn aggregate(m: &mut Machine<'_>, p: &Params<'_>, scope: &Scope<'_>) -> Result<Value, Error> {
    let name = p.name.as_str();
    Ok({
        p.expect_len(2..=3)?;
        let items = m.collection(p.value(0)?, name)?;
        let body = p.lambda(1, "selector").ok_or_else(|| p.fail())?;
        let mut iter = items.into_iter();
        let seed = match p.opt(2, "seed") {
            Some(seed) => Some(seed.clone()),
            None => iter.next(),
        };
        let mut history = Vec::new();
        let Some(mut acc) = seed else {
            if name == "accumulate" {
                return Ok(Value::Array(history));
            }
            return Err(Error::Runtime(
                "reduce() of empty sequence with no initial value".into(),
            ));
        };
        for item in iter {
            if name == "accumulate" {
                history.push(acc.clone());
            }
            acc = m.call_lambda(body, scope, &[acc, item])?;
            // The accumulator is the one value that can grow deeper on
            // every step (`aggregate([$1])`); deep values would overflow
            // the stack when compared, printed or dropped.
            m.check_value_depth(&acc)?;
        }
        if name == "accumulate" {
            history.push(acc);
            Value::Array(history)
        } else {
            acc
        }
    })
}

fn group_by(m: &mut Machine<'_>, p: &Params<'_>, scope: &Scope<'_>) -> Result<Value, Error> {
    let name = p.name.as_str();
    let lambda1 = |m: &mut Machine<'_>, body: &Expr, x: &Value| {
        m.call_lambda(body, scope, std::slice::from_ref(x))
    };
    Ok({
        p.expect_len(2..=4)?;
        let items = m.collection(p.value(0)?, name)?;
        let key_selector = p.lambda(1, "keySelector").ok_or_else(|| p.fail())?;
        let value_selector = p.lambda(2, "valueSelector");
        let aggregator = p.lambda(3, "aggregator");
        let mut groups: Vec<(Value, Vec<Value>)> = Vec::new();
        for item in &items {
            let key = lambda1(m, key_selector, item)?;
            let value = match value_selector {
                Some(body) => lambda1(m, body, item)?,
                None => item.clone(),
            };
            m.tick(groups.len() as u64)?;
            match groups.iter_mut().find(|(k, _)| py_eq(k, &key)) {
                Some((_, values)) => values.push(value),
                None => groups.push((key, vec![value])),
            }
            m.charge_memory([
                (1, &Value::Object(Map::new())),
                (groups.len(), &Value::Null),
            ])?;
        }
        let mut out = Vec::with_capacity(groups.len());
        for (key, values) in groups {
            let values = Value::Array(values);
            let values = match aggregator {
                Some(body) => lambda1(m, body, &values)?,
                None => values,
            };
            out.push(Value::Array(vec![key, values]));
        }
        Value::Array(out)
    })
}

fn to_dict(m: &mut Machine<'_>, p: &Params<'_>, scope: &Scope<'_>) -> Result<Value, Error> {
    let name = p.name.as_str();
    let lambda1 = |m: &mut Machine<'_>, body: &Expr, x: &Value| {
        m.call_lambda(body, scope, std::slice::from_ref(x))
    };
    Ok({
        p.expect_len(2..=3)?;
        let items = m.collection(p.value(0)?, name)?;
        let key_selector = p.lambda(1, "keySelector").ok_or_else(|| p.fail())?;
        let value_selector = p.lambda(2, "valueSelector");
        let mut pairs = Vec::with_capacity(items.len());
        for item in &items {
            let key = lambda1(m, key_selector, item)?;
            let value = match value_selector {
                Some(body) => lambda1(m, body, item)?,
                None => item.clone(),
            };
            pairs.push((key, value));
        }
        m.dict_from_pairs(pairs)?
    })
}

fn merge_with(m: &mut Machine<'_>, p: &Params<'_>, scope: &Scope<'_>) -> Result<Value, Error> {
    Ok({
        p.expect_len(2..=5)?;
        let base = p.dict(0)?;
        let other = p.dict(1)?;
        let list_merger = p.lambda(2, "listMerger");
        let item_merger = p.lambda(3, "itemMerger");
        let levels = p.opt_int(4, "maxLevels", 0)?;
        // Both merge callbacks need the machine (lambdas, budgets).
        let machine = std::cell::RefCell::new(&mut *m);
        let mut merge_lists = |a: &Value, b: &Value| -> Result<Value, Error> {
            let mut m = machine.borrow_mut();
            match list_merger {
                Some(body) => m.call_lambda(body, scope, &[a.clone(), b.clone()]),
                None => {
                    let joined = m.add(a, b)?;
                    let items = m.collection(&joined, "mergeWith")?;
                    distinct_by(&mut m, items.clone(), items)
                }
            }
        };
        let mut merge_items = |a: &Value, b: &Value| -> Result<Value, Error> {
            match item_merger {
                Some(body) => {
                    machine
                        .borrow_mut()
                        .call_lambda(body, scope, &[a.clone(), b.clone()])
                }
                None => Ok(b.clone()),
            }
        };
        Value::Object(merge_dicts(
            base,
            other,
            levels,
            &mut merge_lists,
            &mut merge_items,
        )?)
    })
}

fn coalesce(m: &mut Machine<'_>, p: &Params<'_>, scope: &Scope<'_>) -> Result<Value, Error> {
    let n = p.len();
    Ok({
        for i in 0..n {
            if let Some(body) = p.lambda(i, "") {
                let value = m.eval(body, scope)?;
                if !value.is_null() {
                    return Ok(value);
                }
            }
        }
        Value::Null
    })
}

fn select_case(m: &mut Machine<'_>, p: &Params<'_>, scope: &Scope<'_>) -> Result<Value, Error> {
    let n = p.len();
    Ok({
        let mut index = 0;
        while index < n {
            let body = p.lambda(index, "").ok_or_else(|| p.fail())?;
            if truthy(&m.eval(body, scope)?) {
                break;
            }
            index += 1;
        }
        Value::from(index as i64)
    })
}

fn switch_case(m: &mut Machine<'_>, p: &Params<'_>, scope: &Scope<'_>) -> Result<Value, Error> {
    let n = p.len();
    Ok({
        let case = p.int(0)?;
        let branches = n.saturating_sub(1);
        if branches == 0 {
            return Ok(Value::Null);
        }
        let chosen = if (0..branches as i64).contains(&case) {
            case as usize + 1
        } else {
            branches
        };
        let body = p.lambda(chosen, "").ok_or_else(|| p.fail())?;
        m.eval(body, scope)?
    })
}

fn examine(m: &mut Machine<'_>, p: &Params<'_>, scope: &Scope<'_>) -> Result<Value, Error> {
    let n = p.len();
    Ok({
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let body = p.lambda(i, "").ok_or_else(|| p.fail())?;
            out.push(Value::Bool(truthy(&m.eval(body, scope)?)));
        }
        Value::Array(out)
    })
}

fn query_each(m: &mut Machine<'_>, p: &Params<'_>, scope: &Scope<'_>) -> Result<Value, Error> {
    let name = p.name.as_str();
    p.expect_len(2..=2)?;
    let items = if matches!(name, "takeWhile" | "indexWhere") {
        m.prefix_collection(p.value(0)?, name)?
    } else {
        m.collection(p.value(0)?, name)?
    };
    let body = p
        .lambda(1, "predicate")
        .or(p.lambda(1, "selector"))
        .ok_or_else(|| p.fail())?;
    let mut out = Vec::new();
    let mut skipping = true;
    let mut found = -1i64;
    for (i, item) in items.into_iter().enumerate() {
        if is_truncation_mark(&item) {
            return Err(Error::CollectionTooLarge(m.limits.max_iterations));
        }
        let result = m.call_lambda(body, scope, std::slice::from_ref(&item))?;
        match name {
            "where" | "filter" => {
                if truthy(&result) {
                    out.push(item)
                }
            }
            "select" | "map" => out.push(result),
            "selectMany" => match result {
                Value::Array(inner) => out.extend(inner),
                other => out.push(other),
            },
            "takeWhile" => {
                if !truthy(&result) {
                    break;
                }
                out.push(item)
            }
            "skipWhile" => {
                skipping = skipping && truthy(&result);
                if !skipping {
                    out.push(item)
                }
            }
            _ => {
                if truthy(&result) {
                    found = i as i64;
                    if name == "indexWhere" {
                        break;
                    }
                }
            }
        }
    }
    if matches!(name, "indexWhere" | "lastIndexWhere") {
        Ok(Value::from(found))
    } else {
        Ok(Value::Array(out))
    }
}

/// `left.join(right, predicate, selector)`: the inner join of two lists.
fn join_collections(
    m: &mut Machine<'_>,
    p: &Params<'_>,
    scope: &Scope<'_>,
) -> Result<Value, Error> {
    let name = p.name.as_str();
    p.expect_len(4..=4)?;
    let left = m.collection(p.value(0)?, name)?;
    let right = m.collection(p.value(1)?, name)?;
    let predicate = p.lambda(2, "predicate").ok_or_else(|| p.fail())?;
    let selector = p.lambda(3, "selector").ok_or_else(|| p.fail())?;
    let mut out = Vec::new();
    for l in &left {
        for r in &right {
            let pair = [l.clone(), r.clone()];
            if truthy(&m.call_lambda(predicate, scope, &pair)?) {
                out.push(m.call_lambda(selector, scope, &pair)?);
            }
        }
    }
    Ok(Value::Array(out))
}
