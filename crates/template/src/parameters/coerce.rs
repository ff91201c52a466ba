//! Python's conversions as Heat applies them to parameter values: `int()`/`float()` for numbers,
//! oslo's strict `bool_from_string`, the comma-delimited list split and the JSON parse. The error
//! texts are Python's, because Heat passes them through to the user.

use serde_json::Value;

use crate::pycompat;

/// Python's type name of a value, as its error messages print it.
pub(crate) fn python_type(value: &Value) -> &'static str {
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

/// Heat's `Schema.str_to_num`: numbers pass through, strings go through `int()` then `float()`.
/// Non-finite floats have no JSON form, so they are refused like unparsable text.
pub(crate) fn str_to_num(value: &Value) -> Result<Value, String> {
    match value {
        Value::Number(_) | Value::Bool(_) => Ok(value.clone()),
        Value::String(s) => python_int(s)
            .map(Value::from)
            .or_else(|| {
                python_float(s)
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
            })
            .ok_or_else(|| {
                format!(
                    "could not convert string to float: {}",
                    pycompat::repr(value)
                )
            }),
        other => Err(format!(
            "int() argument must be a string, a bytes-like object or a real number, not '{}'",
            python_type(other)
        )),
    }
}

/// The value as f64 for comparisons (Python compares bools as 0/1).
pub(crate) fn as_f64(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

/// Python `int(text)`: surrounding whitespace, a sign, and single underscores between digits.
fn python_int(text: &str) -> Option<i64> {
    let digits = strip_underscores(text.trim())?;
    let unsigned = digits.strip_prefix(['+', '-']).unwrap_or(&digits);
    if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Python `float(text)` for finite results.
fn python_float(text: &str) -> Option<f64> {
    let cleaned = strip_underscores(text.trim())?;
    let f: f64 = cleaned.parse().ok()?;
    f.is_finite().then_some(f)
}

/// Removes the underscores Python allows between digits; None if one is misplaced.
fn strip_underscores(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        if c == '_' {
            let before = i.checked_sub(1).map(|j| bytes[j].is_ascii_digit());
            let after = bytes.get(i + 1).map(u8::is_ascii_digit);
            if before != Some(true) || after != Some(true) {
                return None;
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

const TRUE_WORDS: [&str; 6] = ["1", "t", "true", "on", "y", "yes"];
const FALSE_WORDS: [&str; 6] = ["0", "f", "false", "off", "n", "no"];

/// oslo `bool_from_string(value, strict=True)`.
pub(crate) fn bool_from_string(value: &Value) -> Result<bool, String> {
    if let Value::Bool(b) = value {
        return Ok(*b);
    }
    let text = pycompat::str_of(value);
    let lowered = text.trim().to_lowercase();
    if TRUE_WORDS.contains(&lowered.as_str()) {
        Ok(true)
    } else if FALSE_WORDS.contains(&lowered.as_str()) {
        Ok(false)
    } else {
        Err(format!(
            "Unrecognized value '{text}', acceptable values are: '0', '1', 'f', 'false', 'n', \
             'no', 'off', 'on', 't', 'true', 'y', 'yes'"
        ))
    }
}

/// A comma-delimited list parameter's parse: a list has each item made a string, a string is
/// split on ',' without trimming ('' is the empty list).
pub(crate) fn parse_list(value: &Value) -> Result<Value, String> {
    match value {
        Value::Array(items) => Ok(Value::Array(
            items
                .iter()
                .map(|item| Value::String(pycompat::str_of(item)))
                .collect(),
        )),
        Value::String(s) if s.is_empty() => Ok(Value::Array(Vec::new())),
        Value::String(s) => Ok(Value::Array(
            s.split(',').map(|p| Value::String(p.to_string())).collect(),
        )),
        other => Err(format!(
            "Value must be a comma-delimited list string: '{}' object has no attribute 'split'",
            python_type(other)
        )),
    }
}

/// A json parameter's parse: text is parsed (the empty string stays as it is), data is kept.
pub(crate) fn parse_json(value: &Value) -> Result<Value, String> {
    match value {
        Value::String(s) if s.is_empty() => Ok(value.clone()),
        Value::String(s) => json_loads(s).map_err(|e| format!("Value must be valid JSON: {e}")),
        other => Ok(other.clone()),
    }
}

/// Python's `json.loads`, with its error texts (`Expecting value: line 1 column 1 (char 0)`):
/// Heat puts them in its messages.
pub(crate) fn json_loads(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| python_json_error(text, &e))
}

fn python_json_error(text: &str, error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    // serde_json's line and column (1-based, bytes) point at the offending byte; Python's
    // position is a 0-based character offset.
    let line_start: usize = text
        .split_inclusive('\n')
        .take(error.line().saturating_sub(1))
        .map(str::len)
        .sum();
    let byte_at = |column: usize| {
        let mut at = (line_start + column.saturating_sub(1)).min(text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    let mut at = byte_at(error.column());
    let shown = error.to_string();
    let reason = shown.split(" at line ").next().unwrap_or(&shown);
    let last_significant = text.trim_end().chars().last();
    let message = match error.classify() {
        Category::Eof => {
            at = text.len();
            match reason {
                "EOF while parsing a string" => {
                    at = unterminated_string_start(text);
                    "Unterminated string starting at"
                }
                "EOF while parsing a value" => {
                    // Python points at the start of a cut-off literal such as `tru`.
                    let trimmed = text.trim_end_matches(|c: char| c.is_ascii_alphanumeric());
                    if trimmed.len() < text.len() && !text.trim_end().ends_with(['"']) {
                        at = trimmed.len();
                    }
                    "Expecting value"
                }
                "EOF while parsing an object" if matches!(last_significant, Some('{' | ',')) => {
                    "Expecting property name enclosed in double quotes"
                }
                "EOF while parsing a list" if matches!(last_significant, Some('[' | ',')) => {
                    "Expecting value"
                }
                _ if last_significant == Some(':') => "Expecting value",
                _ => "Expecting ',' delimiter",
            }
        }
        _ => match reason {
            "key must be a string" => "Expecting property name enclosed in double quotes",
            "expected `:`" => "Expecting ':' delimiter",
            r if r.starts_with("expected `,`") => "Expecting ',' delimiter",
            "trailing characters" => "Extra data",
            "trailing comma" if text[at.min(text.len())..].starts_with('}') => {
                "Expecting property name enclosed in double quotes"
            }
            "invalid escape" => {
                at = text[..at].rfind('\\').unwrap_or(at);
                "Invalid \\escape"
            }
            r if r.starts_with("control character") => "Invalid control character at",
            _ => "Expecting value",
        },
    };
    let line = text[..at].matches('\n').count() + 1;
    let line_begin = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_begin..at].chars().count() + 1;
    let char_offset = text[..at].chars().count();
    format!("{message}: line {line} column {column} (char {char_offset})")
}

/// Where the string that runs to the end of `text` opens.
fn unterminated_string_start(text: &str) -> usize {
    let mut open = None;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match (open, c) {
            (Some(_), '\\') if !escaped => escaped = true,
            (Some(_), '"') if !escaped => open = None,
            (None, '"') => open = Some(i),
            _ => escaped = false,
        }
        if c != '\\' {
            escaped = false;
        }
    }
    open.unwrap_or(0)
}

/// Python truthiness, for keys such as `hidden` that Heat tests with `if`.
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_convert_as_python() {
        assert_eq!(str_to_num(&json!(" 42 ")), Ok(json!(42)));
        assert_eq!(str_to_num(&json!("1_000")), Ok(json!(1000)));
        assert_eq!(str_to_num(&json!("3.5")), Ok(json!(3.5)));
        assert_eq!(str_to_num(&json!("1e3")), Ok(json!(1000.0)));
        assert_eq!(
            str_to_num(&json!("str")),
            Err("could not convert string to float: 'str'".to_string())
        );
        assert!(str_to_num(&json!(["foo"])).unwrap_err().contains("int()"));
        assert!(str_to_num(&json!("1__0")).is_err());
    }

    #[test]
    fn json_errors_read_as_python() {
        let cases = [
            (
                "I am not a map",
                "Expecting value: line 1 column 1 (char 0)",
            ),
            (
                "{a:1}",
                "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
            ),
            (
                "{\"a\" 1}",
                "Expecting ':' delimiter: line 1 column 6 (char 5)",
            ),
            (
                "{\"a\":1 \"b\":2}",
                "Expecting ',' delimiter: line 1 column 8 (char 7)",
            ),
            ("[1 2]", "Expecting ',' delimiter: line 1 column 4 (char 3)"),
            ("{\"a\":1}x", "Extra data: line 1 column 8 (char 7)"),
            (
                "\"abc",
                "Unterminated string starting at: line 1 column 1 (char 0)",
            ),
            ("{\"a\":", "Expecting value: line 1 column 6 (char 5)"),
            ("[1,]", "Expecting value: line 1 column 4 (char 3)"),
            (
                "{\"a\":1,}",
                "Expecting property name enclosed in double quotes: line 1 column 8 (char 7)",
            ),
            ("tru", "Expecting value: line 1 column 1 (char 0)"),
            ("\"a\\qb\"", "Invalid \\escape: line 1 column 3 (char 2)"),
            (
                "{\"a\":1",
                "Expecting ',' delimiter: line 1 column 7 (char 6)",
            ),
            ("[1", "Expecting ',' delimiter: line 1 column 3 (char 2)"),
            (
                "\"a\u{1}b\"",
                "Invalid control character at: line 1 column 3 (char 2)",
            ),
        ];
        for (text, message) in cases {
            assert_eq!(json_loads(text), Err(message.to_string()), "{text}");
        }
    }

    #[test]
    fn booleans_are_strict() {
        assert_eq!(bool_from_string(&json!(" Yes ")), Ok(true));
        assert_eq!(bool_from_string(&json!("OFF")), Ok(false));
        assert_eq!(bool_from_string(&json!(1)), Ok(true));
        assert!(bool_from_string(&json!("maybe"))
            .unwrap_err()
            .starts_with("Unrecognized value 'maybe'"));
    }
}
