//! Loading YAML and JSON text into located [`Node`] trees.
//!
//! Heat loads templates with `json.loads` first and falls back to PyYAML's safe loader (YAML 1.1
//! typing, timestamps kept as strings). We build the tree from `saphyr-parser` events so that each
//! node keeps its line and column, and type plain scalars with PyYAML's YAML 1.1 rules ourselves.
//! The loader is bounded: input size, nesting depth and the number of nodes (including the copies
//! that aliases make) are capped, so no document can make it hang or exhaust memory.

use std::borrow::Cow;
use std::collections::hash_map::{Entry, HashMap};

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError};

use crate::error::{ErrorKind, TemplateError};
use crate::node::{Location, Node, NodeValue, Path, Span};

/// Bounds on what the loader accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Heat's `max_template_size`: the largest accepted document, in characters as Heat counts.
    pub max_template_size: usize,
    /// The deepest nesting of lists and maps.
    pub max_depth: usize,
    /// The most nodes a document may expand to, counting every copy an alias makes.
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_template_size: 524_288,
            max_depth: 200,
            max_nodes: 1_000_000,
        }
    }
}

/// Loads one YAML or JSON document. Text that is valid JSON is read as JSON (as Heat tries
/// `json.loads` first); anything else as YAML 1.1. An empty document loads as an empty map.
///
/// YAML in the subset templates are written in is loaded by [`crate::block_yaml`] straight from
/// the text; everything else (and every error) goes through `saphyr-parser`'s events.
pub fn parse_document(text: &str, file: &str, limits: &Limits) -> Result<Node, TemplateError> {
    check_size(text, file, limits)?;
    // PyYAML drops a leading byte-order mark; so do we (JSON with one falls back to YAML there).
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let json = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
    if !json {
        if let Some(node) = crate::block_yaml::load(text, limits) {
            return Ok(node);
        }
    }
    load_with_events(text, file, limits, json)
}

/// Loads a document from `saphyr-parser`'s events (`json`: the text is valid JSON, typed so).
pub(crate) fn load_with_events(
    text: &str,
    file: &str,
    limits: &Limits,
    json: bool,
) -> Result<Node, TemplateError> {
    let mut loader = Loader {
        file,
        limits,
        json,
        nodes: 0,
        anchors: Vec::new(),
    };
    let loaded = match loader.load(text) {
        Ok(loaded) => loaded,
        // Valid JSON that the YAML parser refuses (tab indentation is one case) is still a
        // template for Heat: read it as JSON, without positions.
        Err(e) if json && e.kind == ErrorKind::Syntax => {
            let value: serde_json::Value = serde_json::from_str(text).map_err(|_| e)?;
            Some(Node::from_json(&value))
        }
        Err(e) => return Err(e),
    };
    Ok(
        loaded
            .unwrap_or_else(|| Node::new(NodeValue::Map(Vec::new()), Span { line: 1, column: 1 })),
    )
}

fn check_size(text: &str, file: &str, limits: &Limits) -> Result<(), TemplateError> {
    // Heat measures the Python string length (characters); bytes are never fewer than characters.
    if text.len() > limits.max_template_size {
        let chars = text.chars().count();
        if chars > limits.max_template_size {
            return Err(TemplateError::new(
                ErrorKind::Limit,
                Location::in_file(file),
                format!(
                    "Request limit exceeded: Template size ({chars} bytes) exceeds maximum \
                     allowed size ({} bytes).",
                    limits.max_template_size
                ),
            ));
        }
    }
    Ok(())
}

struct Loader<'a> {
    file: &'a str,
    limits: &'a Limits,
    json: bool,
    nodes: usize,
    /// Anchored nodes by anchor id, with the number of nodes each contains.
    anchors: Vec<Option<(Node, usize)>>,
}

/// A collection being built while its events arrive.
enum Open {
    List(Vec<Node>, Span, usize),
    Map(Vec<(Node, Node)>, Option<Node>, Span, usize),
}

/// A collection being built, with the number of nodes it holds so far (for anchors).
struct Building {
    open: Open,
    size: usize,
}

impl Loader<'_> {
    fn error(&self, kind: ErrorKind, span: Span, message: impl Into<String>) -> TemplateError {
        TemplateError::new(
            kind,
            Location {
                file: self.file.into(),
                span,
                path: Path::root(),
            },
            message,
        )
    }

    fn scan_error(&self, e: &ScanError) -> TemplateError {
        let m = e.marker();
        self.error(
            ErrorKind::Syntax,
            span_of(m.line(), m.col()),
            format!("Error parsing template: {}", e.info()),
        )
    }

    fn count(&mut self, n: usize, span: Span) -> Result<(), TemplateError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > self.limits.max_nodes {
            return Err(self.error(
                ErrorKind::Limit,
                span,
                format!(
                    "Document expands to more than {} nodes (YAML aliases are limited to refuse \
                     alias bombs)",
                    self.limits.max_nodes
                ),
            ));
        }
        Ok(())
    }

    fn load(&mut self, text: &str) -> Result<Option<Node>, TemplateError> {
        let mut parser = Parser::new_from_str(text);
        let mut stack: Vec<Building> = Vec::new();
        let mut root: Option<Node> = None;
        let mut documents = 0usize;
        while let Some(event) = parser.next_event() {
            let (event, marker_span) = event.map_err(|e| self.scan_error(&e))?;
            let span = span_of(marker_span.start.line(), marker_span.start.col());
            let finished: Option<(Node, usize, usize)> = match event {
                Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => None,
                Event::DocumentStart(_) => {
                    documents += 1;
                    if documents > 1 {
                        return Err(self.error(
                            ErrorKind::Syntax,
                            span,
                            "Error parsing template: expected a single document in the stream",
                        ));
                    }
                    None
                }
                Event::Alias(id) => {
                    let Some(Some((node, size))) = self.anchors.get(id).cloned() else {
                        return Err(self.error(
                            ErrorKind::Syntax,
                            span,
                            "Error parsing template: found undefined alias",
                        ));
                    };
                    self.count(size, span)?;
                    Some((node, 0, size))
                }
                Event::Scalar(value, style, anchor, tag) => {
                    self.count(1, span)?;
                    let tag = tag.map(|t| {
                        if t.is_yaml_core_schema() {
                            t.suffix.clone()
                        } else {
                            t.to_string()
                        }
                    });
                    let v = self.scalar(value, style, tag.as_deref(), span)?;
                    Some((Node::new(v, span), anchor, 1))
                }
                Event::SequenceStart(anchor, _) => {
                    self.count(1, span)?;
                    self.open(&mut stack, Open::List(Vec::new(), span, anchor), span)?;
                    None
                }
                Event::MappingStart(anchor, _) => {
                    self.count(1, span)?;
                    self.open(&mut stack, Open::Map(Vec::new(), None, span, anchor), span)?;
                    None
                }
                Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                    Some(Building {
                        open: Open::List(items, span, anchor),
                        size,
                    }) => Some((Node::new(NodeValue::List(items), span), anchor, size)),
                    Some(Building {
                        open: Open::Map(entries, _, span, anchor),
                        size,
                    }) => {
                        let entries = merge_keys(entries, self.json);
                        Some((Node::new(NodeValue::Map(entries), span), anchor, size))
                    }
                    None => None,
                },
            };
            if let Some((node, anchor, size)) = finished {
                if anchor > 0 {
                    if self.anchors.len() <= anchor {
                        self.anchors.resize(anchor + 1, None);
                    }
                    self.anchors[anchor] = Some((node.clone(), size));
                }
                let Some(parent) = stack.last_mut() else {
                    root = Some(node);
                    continue;
                };
                parent.size = parent.size.saturating_add(size);
                match &mut parent.open {
                    Open::List(items, _, _) => items.push(node),
                    Open::Map(entries, pending, _, _) => match pending.take() {
                        Some(key) => entries.push((key, node)),
                        None => *pending = Some(node),
                    },
                }
            }
        }
        Ok(root)
    }

    fn open(&self, stack: &mut Vec<Building>, open: Open, span: Span) -> Result<(), TemplateError> {
        if stack.len() >= self.limits.max_depth {
            return Err(self.error(
                ErrorKind::Limit,
                span,
                format!("Document nesting exceeds {} levels", self.limits.max_depth),
            ));
        }
        stack.push(Building { open, size: 1 });
        Ok(())
    }

    fn scalar(
        &self,
        text: Cow<'_, str>,
        style: ScalarStyle,
        tag: Option<&str>,
        span: Span,
    ) -> Result<NodeValue, TemplateError> {
        match tag {
            None => {}
            Some("str") | Some("timestamp") | Some("binary") => {
                return Ok(NodeValue::String(text.into_owned()))
            }
            Some(t @ ("int" | "float" | "bool" | "null")) => {
                let typed = resolve_plain(&text);
                let matches = matches!(
                    (t, &typed),
                    ("int", NodeValue::Int(_))
                        | ("float", NodeValue::Float(_))
                        | ("bool", NodeValue::Bool(_))
                        | ("null", NodeValue::Null)
                );
                if matches {
                    return Ok(typed);
                }
                if let ("float", NodeValue::Int(i)) = (t, &typed) {
                    return Ok(NodeValue::Float(*i as f64));
                }
                return Err(self.error(
                    ErrorKind::Syntax,
                    span,
                    format!("Error parsing template: cannot read {text:?} as !!{t}"),
                ));
            }
            Some(other) => {
                return Err(self.error(
                    ErrorKind::Syntax,
                    span,
                    format!(
                        "Error parsing template: could not determine a constructor for the tag \
                         '{other}'"
                    ),
                ))
            }
        }
        if style != ScalarStyle::Plain {
            return Ok(NodeValue::String(text.into_owned()));
        }
        let typed = if self.json {
            json_typed(&text)
        } else {
            yaml11_typed(&text)
        };
        // The scanner hands over an owned string: a string scalar keeps it rather than a copy.
        Ok(typed.unwrap_or_else(|| NodeValue::String(text.into_owned())))
    }
}

fn span_of(line: usize, col: usize) -> Span {
    // saphyr's lines are 1-based and its columns 0-based.
    Span {
        line: u32::try_from(line).unwrap_or(u32::MAX),
        column: u32::try_from(col.saturating_add(1)).unwrap_or(u32::MAX),
    }
}

/// How a map key is identified for Python dict semantics: by type and value.
fn key_identity(key: &Node) -> (u8, String) {
    match &key.value {
        NodeValue::String(s) => (0, s.clone()),
        NodeValue::Null => (1, String::new()),
        // Python: True == 1 and 1 == 1.0 as dict keys.
        NodeValue::Bool(b) => (2, i64::from(*b).to_string()),
        NodeValue::Int(i) => (2, i.to_string()),
        NodeValue::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => (2, (*f as i64).to_string()),
        NodeValue::Float(f) => (3, f.to_string()),
        other => (4, Node::new(other.clone(), key.span).to_json().to_string()),
    }
}

fn same_key(a: &Node, b: &Node) -> bool {
    match (&a.value, &b.value) {
        (NodeValue::String(x), NodeValue::String(y)) => x == y,
        (NodeValue::String(_), _) | (_, NodeValue::String(_)) => false,
        _ => key_identity(a) == key_identity(b),
    }
}

/// Applies YAML merge keys (`<<: *base`) and Python dict semantics for repeated keys: a repeated
/// key keeps its first position and takes its last value. Keys written in the map win over
/// merged ones; among merge sources the earlier wins.
pub(crate) fn merge_keys(entries: Vec<(Node, Node)>, json: bool) -> Vec<(Node, Node)> {
    // Small maps (most of them) are cheaper to check without hashing.
    if entries.len() <= 8 && (json || !entries.iter().any(|(k, _)| k.as_str() == Some("<<"))) {
        let repeated = entries
            .iter()
            .enumerate()
            .any(|(i, (key, _))| entries[..i].iter().any(|(k, _)| same_key(k, key)));
        if !repeated {
            return entries;
        }
        let mut out: Vec<(Node, Node)> = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            match out.iter_mut().find(|(k, _)| same_key(k, &key)) {
                Some(slot) => slot.1 = value,
                None => out.push((key, value)),
            }
        }
        return out;
    }
    let mut out: Vec<(Node, Node)> = Vec::with_capacity(entries.len());
    let mut positions: HashMap<(u8, String), usize> = HashMap::with_capacity(entries.len());
    let mut merged: Vec<(Node, Node)> = Vec::new();
    for (key, value) in entries {
        if !json && key.as_str() == Some("<<") {
            let sources: Vec<&Node> = match &value.value {
                NodeValue::Map(_) => vec![&value],
                NodeValue::List(items) => items.iter().collect(),
                _ => Vec::new(),
            };
            if !sources.is_empty() {
                for source in sources {
                    merged.extend(source.as_map().unwrap_or_default().iter().cloned());
                }
                continue;
            }
        }
        match positions.entry(key_identity(&key)) {
            Entry::Occupied(slot) => out[*slot.get()].1 = value,
            Entry::Vacant(slot) => {
                slot.insert(out.len());
                out.push((key, value));
            }
        }
    }
    for (k, v) in merged {
        if let Entry::Vacant(slot) = positions.entry(key_identity(&k)) {
            slot.insert(out.len());
            out.push((k, v));
        }
    }
    out
}

/// Types a plain JSON scalar: `true`, `false`, `null` or a number; None for a string.
fn json_typed(text: &str) -> Option<NodeValue> {
    Some(match text {
        "true" => NodeValue::Bool(true),
        "false" => NodeValue::Bool(false),
        "null" => NodeValue::Null,
        _ => {
            if let Ok(i) = text.parse::<i64>() {
                NodeValue::Int(i)
            } else {
                NodeValue::Float(text.parse::<f64>().ok()?)
            }
        }
    })
}

/// Types a plain YAML scalar as PyYAML's YAML 1.1 resolver does (without timestamps, which Heat
/// keeps as strings).
fn resolve_plain(text: &str) -> NodeValue {
    yaml11_typed(text).unwrap_or_else(|| NodeValue::String(text.to_string()))
}

/// The YAML 1.1 type of a plain scalar other than a string; None for a string.
pub(crate) fn yaml11_typed(text: &str) -> Option<NodeValue> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Some(NodeValue::Null),
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Some(NodeValue::Bool(true))
        }
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Some(NodeValue::Bool(false))
        }
        _ => {}
    }
    // Numbers start with a digit, a sign or a dot; anything else (most scalars) is a string.
    if !text.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '.')) {
        return None;
    }
    if let Some(i) = yaml11_int(text) {
        return Some(NodeValue::Int(i));
    }
    yaml11_float(text).map(NodeValue::Float)
}

fn split_sign(text: &str) -> (bool, &str) {
    match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    }
}

fn yaml11_int(text: &str) -> Option<i64> {
    let (negative, body) = split_sign(text);
    let value: i64 = if let Some(bin) = body.strip_prefix("0b") {
        radix_digits(bin, 2)?
    } else if let Some(hex) = body.strip_prefix("0x") {
        radix_digits(hex, 16)?
    } else if body.contains(':') {
        // Sexagesimal: 1:30 is 90.
        let mut parts = body.split(':');
        let first = parts.next()?;
        if !first.starts_with(|c: char| c.is_ascii_digit() && c != '0') {
            return None;
        }
        let mut total = radix_digits(first, 10)?;
        for part in parts {
            if part.is_empty() || part.len() > 2 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let digit: i64 = part.parse().ok()?;
            if digit > 59 {
                return None;
            }
            total = total.checked_mul(60)?.checked_add(digit)?;
        }
        total
    } else if body.len() > 1 && body.starts_with('0') {
        radix_digits(&body[1..], 8)?
    } else {
        if body.starts_with('_') {
            return None;
        }
        radix_digits(body, 10)?
    };
    if negative {
        value.checked_neg()
    } else {
        Some(value)
    }
}

/// Digits with `_` separators allowed, as YAML 1.1 allows them. Read in place: most plain
/// scalars are words, refused at their first character without allocating.
fn radix_digits(digits: &str, radix: u32) -> Option<i64> {
    let mut value: Option<i64> = None;
    for c in digits.chars().filter(|c| *c != '_') {
        let digit = i64::from(c.to_digit(radix)?);
        value = Some(
            value
                .unwrap_or(0)
                .checked_mul(i64::from(radix))?
                .checked_add(digit)?,
        );
    }
    value
}

fn yaml11_float(text: &str) -> Option<f64> {
    let (negative, body) = split_sign(text);
    let sign = if negative { -1.0 } else { 1.0 };
    if matches!(body, ".inf" | ".Inf" | ".INF") {
        return Some(sign * f64::INFINITY);
    }
    if matches!(text, ".nan" | ".NaN" | ".NAN") {
        return Some(f64::NAN);
    }
    // PyYAML requires a '.' in a float, and a signed exponent.
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    if let Some(exp) = exponent {
        let (_, digits) = split_sign(exp);
        if !(exp.starts_with(['+', '-'])
            && !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit()))
        {
            return None;
        }
    }
    let dot = mantissa.find('.')?;
    let (whole, fraction) = (&mantissa[..dot], &mantissa[dot + 1..]);
    if whole.contains(':') {
        if exponent.is_some() {
            return None;
        }
        let whole_value = yaml11_int(whole)? as f64;
        let fraction_value = parse_fraction(fraction)?;
        return Some(sign * (whole_value + fraction_value));
    }
    let whole_ok = if whole.is_empty() {
        // `.5` is a float, but only unsigned and with a digit first.
        !text.starts_with(['+', '-']) && fraction.starts_with(|c: char| c.is_ascii_digit())
    } else {
        whole.starts_with(|c: char| c.is_ascii_digit())
            && whole.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    };
    if !whole_ok || !fraction.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
        return None;
    }
    let cleaned: String = text.chars().filter(|c| *c != '_').collect();
    cleaned.parse::<f64>().ok()
}

fn parse_fraction(fraction: &str) -> Option<f64> {
    let cleaned: String = fraction.chars().filter(|c| *c != '_').collect();
    if cleaned.is_empty() {
        return Some(0.0);
    }
    if !cleaned.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    format!("0.{cleaned}").parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Node, TemplateError> {
        parse_document(text, "t.yaml", &Limits::default())
    }

    #[test]
    fn plain_scalars_are_typed_as_pyyaml_types_them() {
        let cases: &[(&str, NodeValue)] = &[
            ("yes", NodeValue::Bool(true)),
            ("Off", NodeValue::Bool(false)),
            ("~", NodeValue::Null),
            ("", NodeValue::Null),
            ("0x1F", NodeValue::Int(31)),
            ("010", NodeValue::Int(8)),
            ("-1_000", NodeValue::Int(-1000)),
            ("0b101", NodeValue::Int(5)),
            ("1:30", NodeValue::Int(90)),
            ("1.5", NodeValue::Float(1.5)),
            ("1.0e+3", NodeValue::Float(1000.0)),
            ("2013-05-23", NodeValue::String("2013-05-23".into())),
            ("1e5", NodeValue::String("1e5".into())),
            ("0o17", NodeValue::String("0o17".into())),
            ("y", NodeValue::String("y".into())),
        ];
        for (text, expected) in cases {
            assert_eq!(&resolve_plain(text), expected, "{text}");
        }
    }

    #[test]
    fn quoted_scalars_stay_strings_and_positions_are_one_based() {
        let node = load("a: 'yes'\nb:\n  - 12\n").unwrap();
        let a = node.get("a").unwrap();
        assert_eq!(a.value, NodeValue::String("yes".into()));
        assert_eq!(a.span, Span { line: 1, column: 4 });
        let item = &node.get("b").unwrap().as_list().unwrap()[0];
        assert_eq!(item.value, NodeValue::Int(12));
        assert_eq!(item.span, Span { line: 3, column: 5 });
    }

    #[test]
    fn json_text_uses_json_typing() {
        let node = load("{\"a\": 1e5, \"b\": \"x\", \"c\": [true, null]}").unwrap();
        assert_eq!(node.get("a").unwrap().value, NodeValue::Float(100000.0));
        assert_eq!(
            node.to_json(),
            serde_json::json!({"a": 100000.0, "b": "x", "c": [true, null]})
        );
    }

    #[test]
    fn tab_indented_json_is_read() {
        let node = load("{\n\t\"a\": {\n\t\t\"b\": [1,\t2]\n\t}\n}").unwrap();
        assert_eq!(node.to_json(), serde_json::json!({"a": {"b": [1, 2]}}));
    }

    #[test]
    fn repeated_keys_keep_the_last_value() {
        let node = load("a: 1\nb: 2\na: 3\n").unwrap();
        assert_eq!(node.to_json(), serde_json::json!({"a": 3, "b": 2}));
    }

    #[test]
    fn merge_keys_and_aliases_are_expanded() {
        let node = load("base: &b {x: 1, y: 2}\nderived:\n  <<: *b\n  y: 3\n").unwrap();
        assert_eq!(
            node.get("derived").unwrap().to_json(),
            serde_json::json!({"y": 3, "x": 1})
        );
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let err = load(&text).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Limit);
        assert!(err.message.contains("alias"), "{err}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = format!("{}{}", "[".repeat(220), "]".repeat(220));
        let err = load(&text).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Limit);
        assert_eq!(err.location.span.line, 1);
    }

    #[test]
    fn oversized_input_is_refused_with_heats_message() {
        let limits = Limits {
            max_template_size: 10,
            ..Limits::default()
        };
        let err = parse_document("a: 0123456789", "t", &limits).unwrap_err();
        assert_eq!(
            err.message,
            "Request limit exceeded: Template size (13 bytes) exceeds maximum allowed size (10 bytes)."
        );
    }

    #[test]
    fn syntax_errors_are_located() {
        let err = load("a: 1\nb: [1, 2\n").unwrap_err();
        assert_eq!(err.kind, ErrorKind::Syntax);
        assert!(err.location.span.line >= 2, "{err}");
    }

    #[test]
    fn several_documents_are_refused() {
        assert!(load("a: 1\n---\nb: 2\n").is_err());
    }

    #[test]
    fn a_byte_order_mark_is_ignored() {
        let node = load("\u{feff}heat_template_version: 2013-05-23\n").unwrap();
        assert!(node.get("heat_template_version").is_some());
    }

    #[test]
    fn empty_text_is_an_empty_map() {
        assert_eq!(load("").unwrap().value, NodeValue::Map(Vec::new()));
    }
}
