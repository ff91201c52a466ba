//! Python's `fnmatch.fnmatchcase`: `*`, `?`, `[seq]` and `[!seq]`, case-sensitive. Matching is
//! a dynamic programme over (pattern, name) positions, so it is quadratic at worst, never
//! exponential.

enum Token {
    Any,
    One,
    Class {
        negated: bool,
        items: Vec<(char, char)>,
    },
    Char(char),
}

fn tokenize(pattern: &str) -> Vec<Token> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => {
                if !matches!(tokens.last(), Some(Token::Any)) {
                    tokens.push(Token::Any);
                }
                i += 1;
            }
            '?' => {
                tokens.push(Token::One);
                i += 1;
            }
            '[' => match parse_class(&chars, i + 1) {
                Some((token, next)) => {
                    tokens.push(token);
                    i = next;
                }
                None => {
                    // An unclosed '[' is a literal, as in Python.
                    tokens.push(Token::Char('['));
                    i += 1;
                }
            },
            c => {
                tokens.push(Token::Char(c));
                i += 1;
            }
        }
    }
    tokens
}

/// Parses a class after '['; returns the token and the index after ']'.
fn parse_class(chars: &[char], start: usize) -> Option<(Token, usize)> {
    let mut j = start;
    let negated = chars.get(j) == Some(&'!');
    if negated {
        j += 1;
    }
    let first = j;
    let mut items = Vec::new();
    while j < chars.len() {
        let c = chars[j];
        if c == ']' && j > first {
            return Some((Token::Class { negated, items }, j + 1));
        }
        if chars.get(j + 1) == Some(&'-') && chars.get(j + 2).is_some_and(|&e| e != ']') {
            let end = chars[j + 2];
            if c <= end {
                items.push((c, end));
            }
            j += 3;
        } else {
            items.push((c, c));
            j += 1;
        }
    }
    None
}

pub(crate) fn fnmatchcase(name: &str, pattern: &str) -> bool {
    let tokens = tokenize(pattern);
    let name: Vec<char> = name.chars().collect();
    // matches[j] = the first i tokens can match name[..j]
    let mut matches = vec![false; name.len() + 1];
    matches[0] = true;
    for token in &tokens {
        let mut next = vec![false; name.len() + 1];
        match token {
            Token::Any => {
                let mut reached = false;
                for j in 0..=name.len() {
                    reached |= matches[j];
                    next[j] = reached;
                }
            }
            _ => {
                for j in 0..name.len() {
                    if matches[j] {
                        let c = name[j];
                        let ok = match token {
                            Token::One => true,
                            Token::Char(p) => *p == c,
                            Token::Class { negated, items } => {
                                items.iter().any(|(a, b)| (*a..=*b).contains(&c)) != *negated
                            }
                            Token::Any => false,
                        };
                        next[j + 1] = ok;
                    }
                }
            }
        }
        matches = next;
    }
    matches[name.len()]
}

#[cfg(test)]
mod tests {
    use super::fnmatchcase;

    #[test]
    fn matches_like_python() {
        assert!(fnmatchcase("nested", "nest*"));
        assert!(!fnmatchcase("nested", "*_doesnt_match_nested"));
        assert!(fnmatchcase("resource", "*sour*"));
        assert!(fnmatchcase("a1", "a[0-9]"));
        assert!(!fnmatchcase("a1", "a[!0-9]"));
        assert!(fnmatchcase("ab", "a?"));
        assert!(!fnmatchcase("Ab", "a?"));
        assert!(fnmatchcase("[x", "[x"));
        assert!(fnmatchcase("", "*"));
    }
}
