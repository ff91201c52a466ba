//! Tokens of the YAQL expression language, as yaql's lexer splits them.
//!
//! Positions are character offsets into the expression, as yaql reports them.

use crate::Error;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A number, string, `true`, `false` or `null`.
    Literal(Value),
    /// A bare identifier that is not an operator word (`data`, `a`).
    Keyword(String),
    /// `name(`: a function or method name directly followed by `(`.
    Func(String),
    /// `$`, `$name`, `$1`: the text after the dollar.
    Dollar(String),
    /// An operator or punctuation mark (`.`, `?.`, `=>`, `and`, `(`, ...).
    Op(&'static str),
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    /// Character offset of the token's first character.
    pub position: usize,
    /// The token's text as written (for error messages).
    pub text: String,
}

/// Symbols, longest first so that `=>` wins over `=`.
const SYMBOLS: &[&str] = &[
    "=>", "->", "?.", "=~", "!~", ">=", "<=", "!=", "=", ">", "<", "+", "-", "*", "/", ".", "(",
    ")", "[", "]", "{", "}", ",",
];

const WORD_OPERATORS: &[&str] = &["and", "or", "not", "in", "mod"];

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

pub(crate) fn tokenize(expression: &str) -> Result<Vec<Token>, Error> {
    let chars: Vec<char> = expression.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if matches!(c, ' ' | '\t' | '\r' | '\n') {
            i += 1;
            continue;
        }
        let tok = if c == '$' {
            i += 1;
            while i < chars.len() && is_word_char(chars[i]) {
                i += 1;
            }
            Tok::Dollar(chars[start + 1..i].iter().collect())
        } else if c.is_ascii_digit() {
            lex_number(&chars, &mut i)?
        } else if is_word_char(c) {
            while i < chars.len() && is_word_char(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if i < chars.len() && chars[i] == '(' {
                i += 1;
                Tok::Func(word)
            } else if word.starts_with("__") {
                // yaql keeps `__names` out of keywords (they stay legal as
                // function names).
                return Err(Error::Lexical {
                    character: c,
                    position: start,
                });
            } else if let Some(op) = WORD_OPERATORS.iter().find(|w| **w == word) {
                Tok::Op(op)
            } else {
                match word.as_str() {
                    "true" => Tok::Literal(Value::Bool(true)),
                    "false" => Tok::Literal(Value::Bool(false)),
                    "null" => Tok::Literal(Value::Null),
                    _ => Tok::Keyword(word),
                }
            }
        } else if c == '\'' || c == '"' || c == '`' {
            Tok::Literal(Value::String(lex_string(&chars, &mut i, c)?))
        } else if let Some(sym) = SYMBOLS.iter().find(|s| {
            let sc: Vec<char> = s.chars().collect();
            chars[i..].starts_with(&sc)
        }) {
            i += sym.chars().count();
            Tok::Op(sym)
        } else {
            return Err(Error::Lexical {
                character: c,
                position: start,
            });
        };
        tokens.push(Token {
            tok,
            position: start,
            text: chars[start..i].iter().collect(),
        });
    }
    Ok(tokens)
}

fn lex_number(chars: &[char], i: &mut usize) -> Result<Tok, Error> {
    let start = *i;
    while *i < chars.len() && chars[*i].is_ascii_digit() {
        *i += 1;
    }
    let is_word_end = |at: usize| chars.get(at).is_none_or(|c| !is_word_char(*c));
    let integer_end = *i;
    let mut is_float = false;
    if *i + 1 < chars.len() && chars[*i] == '.' && chars[*i + 1].is_ascii_digit() {
        let mut end = *i + 1;
        while end < chars.len() && chars[end].is_ascii_digit() {
            end += 1;
        }
        // yaql's number pattern ends at a word boundary; `1.5e3` lexes as
        // `1`, `.`, then fails on `5e3`.
        if is_word_end(end) {
            is_float = true;
            *i = end;
        }
    }
    if !is_float && !is_word_end(integer_end) {
        return Err(Error::Lexical {
            character: chars[start],
            position: start,
        });
    }
    let text: String = chars[start..*i].iter().collect();
    let too_large = || Error::Parse {
        token: text.clone(),
        position: start,
        expression: chars.iter().collect(),
    };
    if is_float {
        let f: f64 = text.parse().map_err(|_| too_large())?;
        serde_json::Number::from_f64(f)
            .map(|n| Tok::Literal(Value::Number(n)))
            .ok_or_else(too_large)
    } else {
        let n: i64 = text.parse().map_err(|_| too_large())?;
        Ok(Tok::Literal(Value::from(n)))
    }
}

fn lex_string(chars: &[char], i: &mut usize, quote: char) -> Result<String, Error> {
    let start = *i;
    *i += 1;
    let mut out = String::new();
    while *i < chars.len() {
        let c = chars[*i];
        if c == quote {
            *i += 1;
            return Ok(out);
        }
        if c == '\\' && *i + 1 < chars.len() {
            if quote == '`' {
                // Verbatim strings only unescape the backtick itself.
                if chars[*i + 1] == '`' {
                    out.push('`');
                } else {
                    out.push('\\');
                    out.push(chars[*i + 1]);
                }
                *i += 2;
            } else {
                *i = decode_escape(chars, *i, &mut out);
            }
            continue;
        }
        out.push(c);
        *i += 1;
    }
    Err(Error::Lexical {
        character: quote,
        position: start,
    })
}

/// Decodes the Python escape sequence starting at the backslash `chars[at]`
/// and returns the index after it. Unknown escapes (`\d`, `\.`) stay as
/// written, which is what lets regular expressions pass through untouched.
fn decode_escape(chars: &[char], at: usize, out: &mut String) -> usize {
    let next = chars[at + 1];
    let simple = match next {
        '\\' => Some('\\'),
        '\'' => Some('\''),
        '"' => Some('"'),
        'a' => Some('\u{7}'),
        'b' => Some('\u{8}'),
        'f' => Some('\u{c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\u{b}'),
        _ => None,
    };
    if let Some(c) = simple {
        out.push(c);
        return at + 2;
    }
    let hex_len = match next {
        'x' => 2,
        'u' => 4,
        'U' => 8,
        _ => 0,
    };
    if hex_len > 0 {
        let end = at + 2 + hex_len;
        if end <= chars.len() {
            let digits: String = chars[at + 2..end].iter().collect();
            if let Some(c) = u32::from_str_radix(&digits, 16)
                .ok()
                .and_then(char::from_u32)
            {
                out.push(c);
                return end;
            }
        }
    } else if next.is_digit(8) {
        let mut end = at + 1;
        while end < chars.len() && end < at + 4 && chars[end].is_digit(8) {
            end += 1;
        }
        let digits: String = chars[at + 1..end].iter().collect();
        if let Some(c) = u32::from_str_radix(&digits, 8)
            .ok()
            .and_then(char::from_u32)
        {
            out.push(c);
            return end;
        }
    }
    out.push('\\');
    at + 1
}
