//! Text forms of JSON values exactly as the Python tools behind `openstack stack ...` print them:
//! `str()`/`repr()` (what prettytable and the `value` formatter show for a dict), `json.dumps`
//! (cliff's `json` formatter and heatclient's `JsonColumn`) and PyYAML's `safe_dump` (cliff's
//! `yaml` formatter and heatclient's `YamlColumn`). Scripts compare this text, so it must match.

use serde_json::{Number, Value};
use std::fmt::Write;

/// Python's `str(value)`: strings bare, everything else as `repr`.
pub fn str_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => repr(other),
    }
}

/// Python's `repr(value)` for the value as `json.loads` would have built it.
pub fn repr(value: &Value) -> String {
    let mut out = String::new();
    write_repr(&mut out, value);
    out
}

fn write_repr(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => out.push_str(&number(n)),
        Value::String(s) => write_str_repr(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str_repr(out, k);
                out.push_str(": ");
                write_repr(out, v);
            }
            out.push('}');
        }
    }
}

fn write_str_repr(out: &mut String, s: &str) {
    // Python prefers single quotes and switches to double quotes only to avoid escaping.
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
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
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// Python's `repr` of an int or float.
pub fn number(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    float(n.as_f64().unwrap_or(0.0))
}

fn float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    // Python switches to exponent notation outside 1e-4 <= |f| < 1e16.
    let magnitude = f.abs();
    if magnitude != 0.0 && !(1e-4..1e16).contains(&magnitude) {
        let text = format!("{f:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.abs());
    }
    let text = format!("{f}");
    if text.contains('.') {
        text
    } else {
        format!("{text}.0")
    }
}

/// How `json.dumps` lays its output out.
#[derive(Debug, Clone, Copy)]
pub struct JsonStyle {
    /// `indent=`: `None` prints one line.
    pub indent: Option<usize>,
    /// The item separator: `","` (json.dumps' default when indenting) or `", "`.
    pub item_separator: &'static str,
    /// `ensure_ascii=`: escape every non-ASCII character as `\uXXXX`.
    pub ensure_ascii: bool,
}

impl JsonStyle {
    /// cliff's `-f json`: `json.dump(data, indent=2)` (or `indent=None` with `--noindent`).
    pub fn cliff(noindent: bool) -> Self {
        Self {
            indent: if noindent { None } else { Some(2) },
            item_separator: if noindent { ", " } else { "," },
            ensure_ascii: true,
        }
    }

    /// heatclient's `json_formatter`: `indent=2, ensure_ascii=False, separators=(', ', ': ')`.
    pub fn heatclient() -> Self {
        Self {
            indent: Some(2),
            item_separator: ", ",
            ensure_ascii: false,
        }
    }
}

/// `json.dumps(value, ...)` in the given style.
pub fn json_dumps(value: &Value, style: JsonStyle) -> String {
    let mut out = String::new();
    write_json(&mut out, value, style, 0);
    out
}

fn write_json(out: &mut String, value: &Value, style: JsonStyle, depth: usize) {
    let newline = |out: &mut String, depth: usize| {
        if let Some(indent) = style.indent {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', indent * depth));
        }
    };
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&json_number(n)),
        Value::String(s) => write_json_str(out, s, style.ensure_ascii),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(style.item_separator);
                }
                newline(out, depth + 1);
                write_json(out, item, style, depth + 1);
            }
            newline(out, depth);
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(style.item_separator);
                }
                newline(out, depth + 1);
                write_json_str(out, k, style.ensure_ascii);
                out.push_str(": ");
                write_json(out, v, style, depth + 1);
            }
            newline(out, depth);
            out.push('}');
        }
    }
}

fn json_number(n: &Number) -> String {
    match n.as_f64() {
        Some(f) if n.is_f64() && f.is_nan() => "NaN".into(),
        Some(f) if n.is_f64() && f.is_infinite() => {
            if f > 0.0 { "Infinity" } else { "-Infinity" }.into()
        }
        _ => number(n),
    }
}

fn write_json_str(out: &mut String, s: &str, ensure_ascii: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if ensure_ascii && !c.is_ascii() => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// PyYAML's `yaml.safe_dump(value, default_flow_style=False)`: block style, keys sorted, lines
/// folded at 80 columns, a lone plain scalar followed by the `...` document end marker.
pub fn yaml_dump(value: &Value) -> String {
    let mut emitter = Yaml { out: String::new() };
    match value {
        Value::Array(items) if !items.is_empty() => emitter.sequence(items, 0),
        Value::Object(map) if !map.is_empty() => emitter.mapping(map, 0),
        scalar => {
            let text = emitter.scalar(scalar, 0);
            let plain = !text.starts_with(['\'', '"', '[', '{']);
            emitter.out.push_str(&text);
            emitter.out.push('\n');
            if plain {
                emitter.out.push_str("...\n");
            }
        }
    }
    emitter.out
}

struct Yaml {
    out: String,
}

const YAML_WIDTH: usize = 80;

impl Yaml {
    fn column(&self) -> usize {
        self.out.len() - self.out.rfind('\n').map_or(0, |i| i + 1)
    }

    fn mapping(&mut self, map: &serde_json::Map<String, Value>, indent: usize) {
        let mut keys: Vec<&String> = map.keys().collect();
        keys.sort();
        for (i, key) in keys.into_iter().enumerate() {
            if i > 0 {
                self.out.extend(std::iter::repeat_n(' ', indent));
            }
            let key_text = self.scalar(&Value::String(key.clone()), indent);
            self.out.push_str(&key_text);
            self.out.push(':');
            self.value_after_key(&map[key], indent);
        }
    }

    fn value_after_key(&mut self, value: &Value, indent: usize) {
        match value {
            // PyYAML writes a block sequence under a key at the key's own indentation.
            Value::Array(items) if !items.is_empty() => {
                self.out.push('\n');
                self.out.extend(std::iter::repeat_n(' ', indent));
                self.sequence(items, indent);
            }
            Value::Object(map) if !map.is_empty() => {
                self.out.push('\n');
                self.out.extend(std::iter::repeat_n(' ', indent + 2));
                self.mapping(map, indent + 2);
            }
            scalar => {
                self.out.push(' ');
                let text = self.scalar(scalar, indent + 2);
                self.out.push_str(&text);
                self.out.push('\n');
            }
        }
    }

    fn sequence(&mut self, items: &[Value], indent: usize) {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.out.extend(std::iter::repeat_n(' ', indent));
            }
            self.out.push_str("- ");
            match item {
                Value::Array(inner) if !inner.is_empty() => self.sequence(inner, indent + 2),
                Value::Object(map) if !map.is_empty() => self.mapping(map, indent + 2),
                scalar => {
                    let text = self.scalar(scalar, indent + 2);
                    self.out.push_str(&text);
                    self.out.push('\n');
                }
            }
        }
    }

    /// A scalar written at the current column; continuation lines are indented by `indent`.
    fn scalar(&self, value: &Value, indent: usize) -> String {
        match value {
            Value::Null => "null".into(),
            Value::Bool(b) => if *b { "true" } else { "false" }.into(),
            Value::Number(n) => match n.as_f64() {
                Some(f) if n.is_f64() && f.is_nan() => ".nan".into(),
                Some(f) if n.is_f64() && f.is_infinite() => {
                    if f > 0.0 { ".inf" } else { "-.inf" }.into()
                }
                _ => number(n),
            },
            Value::Array(_) => "[]".into(),
            Value::Object(_) => "{}".into(),
            Value::String(s) => self.string(s, indent),
        }
    }

    fn string(&self, s: &str, indent: usize) -> String {
        if needs_double_quotes(s) {
            return json_dumps(&Value::String(s.to_owned()), JsonStyle::cliff(true));
        }
        let plain = is_plain_safe(s);
        let mut text = String::new();
        let mut column = self.column();
        if !plain {
            text.push('\'');
            column += 1;
        }
        let mut previous_space = false;
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                // A lone space past the width becomes a line break (PyYAML's folding).
                ' ' if !previous_space
                    && column > YAML_WIDTH
                    && chars.peek().is_some_and(|next| *next != ' ') =>
                {
                    text.push('\n');
                    text.extend(std::iter::repeat_n(' ', indent));
                    column = indent;
                }
                '\n' => {
                    // In single quotes a line break is written as an empty line.
                    text.push_str("\n\n");
                    text.extend(std::iter::repeat_n(' ', indent));
                    column = indent;
                }
                '\'' if !plain => {
                    text.push_str("''");
                    column += 2;
                }
                c => {
                    text.push(c);
                    column += 1;
                }
            }
            previous_space = c == ' ';
        }
        if !plain {
            text.push('\'');
        }
        text
    }
}

fn needs_double_quotes(s: &str) -> bool {
    s.chars().any(|c| {
        (c.is_control() && c != '\n') || c == '\u{feff}' || c == '\u{85}' || c == '\u{2028}'
    }) || s.contains(" \n")
        || s.contains("\n ")
        || s.starts_with('\n')
        || s.ends_with('\n')
}

/// Whether PyYAML would write the string without quotes: it must not read back as another type
/// and must not start with or contain YAML indicators.
fn is_plain_safe(s: &str) -> bool {
    if s.is_empty() || s.contains('\n') || s.starts_with(' ') || s.ends_with(' ') {
        return false;
    }
    if resolves_to_other_type(s) {
        return false;
    }
    let first = s.chars().next().unwrap_or(' ');
    if "#,[]{}&*!|>'\"%@`".contains(first) {
        return false;
    }
    if matches!(first, '-' | '?' | ':') {
        let second = s.chars().nth(1);
        if second.is_none_or(|c| c == ' ') {
            return false;
        }
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    // Flow indicators (`,[]{}`) inside the text only matter in flow context; we write block.
    !s.contains('\t')
}

/// The YAML 1.1 implicit types PyYAML's resolver recognises.
fn resolves_to_other_type(s: &str) -> bool {
    // PyYAML's resolver lists exact spellings (and, unlike YAML 1.1, not `y`/`n`).
    let is_bool_or_null = [
        "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
        "on", "On", "ON", "off", "Off", "OFF", "~", "null", "Null", "NULL", "<<", "=",
    ]
    .contains(&s);
    if is_bool_or_null {
        return true;
    }
    let lower = s.to_ascii_lowercase();
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let digits = body.replace('_', "");
    let is_int = !digits.is_empty()
        && (digits.chars().all(|c| c.is_ascii_digit())
            || digits
                .strip_prefix("0x")
                .is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()))
            || digits
                .strip_prefix("0b")
                .is_some_and(|b| !b.is_empty() && b.chars().all(|c| c == '0' || c == '1')));
    let is_float = {
        let mut parts = digits.splitn(2, '.');
        let whole = parts.next().unwrap_or("");
        match parts.next() {
            Some(frac) => {
                let (frac, exp) = match frac.find(['e', 'E']) {
                    Some(i) => (&frac[..i], Some(&frac[i + 1..])),
                    None => (frac, None),
                };
                (whole.chars().all(|c| c.is_ascii_digit())
                    && frac.chars().all(|c| c.is_ascii_digit()))
                    && !(whole.is_empty() && frac.is_empty())
                    && exp.is_none_or(|e| {
                        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
                        !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
                    })
            }
            None => false,
        }
    } || matches!(lower.as_str(), ".inf" | "-.inf" | "+.inf" | ".nan");
    let is_sexagesimal = digits.contains(':')
        && digits
            .split(':')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    let is_timestamp = {
        let b = s.as_bytes();
        b.len() >= 8
            && b[..4].iter().all(u8::is_ascii_digit)
            && b[4] == b'-'
            && s[5..]
                .split(['-', 'T', 't', ' ', ':', '.'])
                .next()
                .is_some_and(|m| {
                    !m.is_empty() && m.len() <= 2 && m.chars().all(|c| c.is_ascii_digit())
                })
    };
    is_int || is_float || is_sexagesimal || is_timestamp
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            // Short decimals: serde_json's default float parsing is not exact for long ones.
            (-1_000_000_000i64..1_000_000_000).prop_map(|m| Value::from(m as f64 / 1000.0)),
            ".{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(".{0,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn json_dumps_reads_back_as_the_same_value(value in any_json()) {
            for style in [JsonStyle::cliff(false), JsonStyle::cliff(true), JsonStyle::heatclient()] {
                let text = json_dumps(&value, style);
                let back: Value = serde_json::from_str(&text).unwrap();
                prop_assert_eq!(&back, &value);
            }
        }

        #[test]
        fn yaml_and_repr_never_panic(value in any_json()) {
            let _ = yaml_dump(&value);
            let _ = repr(&value);
        }
    }

    #[test]
    fn repr_matches_python() {
        assert_eq!(
            repr(&json!({"a": [1, 2.5, null, true], "b": "it's"})),
            r#"{'a': [1, 2.5, None, True], 'b': "it's"}"#
        );
        assert_eq!(str_of(&json!("plain")), "plain");
        assert_eq!(repr(&json!(1e20)), "1e+20");
        assert_eq!(repr(&json!(3.0)), "3.0");
    }

    #[test]
    fn json_matches_python_dumps() {
        let v = json!({"a": [1, "é"], "b": {}});
        assert_eq!(
            json_dumps(&v, JsonStyle::cliff(false)),
            "{\n  \"a\": [\n    1,\n    \"\\u00e9\"\n  ],\n  \"b\": {}\n}"
        );
        assert_eq!(
            json_dumps(&v, JsonStyle::cliff(true)),
            "{\"a\": [1, \"\\u00e9\"], \"b\": {}}"
        );
        assert_eq!(
            json_dumps(&json!([1, 2]), JsonStyle::heatclient()),
            "[\n  1, \n  2\n]"
        );
    }

    #[test]
    fn yaml_matches_pyyaml_block_style() {
        let v = json!({"z": 1, "a": ["x", {"k": "v", "b": null}], "m": {"n": "yes"}, "e": []});
        assert_eq!(
            yaml_dump(&v),
            "a:\n- x\n- b: null\n  k: v\ne: []\nm:\n  n: 'yes'\nz: 1\n"
        );
        assert_eq!(yaml_dump(&json!(null)), "null\n...\n");
        assert_eq!(yaml_dump(&json!("2021-04-16")), "'2021-04-16'\n");
        assert_eq!(yaml_dump(&json!("a: b")), "'a: b'\n");
    }
}
