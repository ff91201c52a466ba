//! A fast loader for the YAML that templates are written in: block mappings and sequences,
//! one-line flow collections, plain and one-line quoted scalars, literal and folded block scalars
//! as mapping values, comments.
//!
//! It builds the located [`Node`] tree straight from the text, with no token or event layer, and
//! answers `None` ("not mine") for anything outside that subset or anything it is unsure of:
//! anchors, aliases, tags, directives, document markers, multi-line plain and quoted scalars,
//! multi-line flow collections, block scalars with `+` chomping, an indentation indicator,
//! leading blank lines or (folded) more-indented lines, complex keys, tabs, carriage returns, non-printable characters, and every
//! syntax error. The caller then loads the text with the full `saphyr-parser` path, which also
//! gives every error message, so correctness never depends on this subset being complete. For
//! the documents it accepts it gives the same tree as that path: values, YAML 1.1 typing, repeated
//! keys and locations (a differential property test below checks it).

use crate::load::{merge_keys, yaml11_typed, Limits};
use crate::node::{Node, NodeValue, Span};

/// Loads `text` if it is within the subset; `None` sends it to the full parser.
pub(crate) fn load(text: &str, limits: &Limits) -> Option<Node> {
    // Printable ASCII and line breaks, checked a block at a time without branching (the compiler
    // vectorises it): most templates are, and then columns are byte counts.
    let ascii = text.as_bytes().chunks(64).all(|block| {
        block.iter().fold(true, |ok, &b| {
            ok & ((0x20..0x7f).contains(&b) | (b == b'\n'))
        })
    });
    let printable = ascii
        || !text.chars().any(|c| {
            (c.is_control() && c != '\n')
                || matches!(
                    c,
                    '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
                )
        });
    if !printable {
        return None;
    }
    let mut scanner = Scanner {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        line: 1,
        line_start: 0,
        ascii,
        nodes: 0,
        limits,
    };
    scanner.skip_to_content()?;
    let indent = scanner.indent()?;
    let root = scanner.block_collection(indent, 0)?;
    // Anything left over (a less indented line, say) is for the full parser to judge.
    (scanner.pos == scanner.bytes.len()).then_some(root)
}

/// `None` everywhere below means "decline": the full parser takes the document.
struct Scanner<'t> {
    text: &'t str,
    bytes: &'t [u8],
    pos: usize,
    /// The 1-based line of `pos`, and where that line starts.
    line: u32,
    line_start: usize,
    /// Whether columns can be counted in bytes.
    ascii: bool,
    nodes: usize,
    limits: &'t Limits,
}

/// A scalar as written, before typing.
struct Scalar {
    text: String,
    quoted: bool,
    span: Span,
}

impl Scalar {
    fn into_node(self) -> Node {
        let value = if self.quoted {
            NodeValue::String(self.text)
        } else {
            match yaml11_typed(&self.text) {
                Some(typed) => typed,
                None => NodeValue::String(self.text),
            }
        };
        Node::new(value, self.span)
    }
}

fn is_flow_indicator(b: u8) -> bool {
    matches!(b, b',' | b'[' | b']' | b'{' | b'}')
}

impl Scanner<'_> {
    fn peek(&self) -> u8 {
        self.peek_at(0)
    }

    /// The byte `ahead` bytes on, or 0 past the end (the text has no NUL: it was checked).
    fn peek_at(&self, ahead: usize) -> u8 {
        self.bytes.get(self.pos + ahead).copied().unwrap_or(0)
    }

    /// Whether the byte `ahead` bytes on ends a token: a space, a line break or the end.
    fn blank_at(&self, ahead: usize) -> bool {
        matches!(self.peek_at(ahead), b' ' | b'\n' | 0)
    }

    fn span_at(&self, pos: usize) -> Span {
        let column = if self.ascii {
            pos - self.line_start
        } else {
            self.text[self.line_start..pos].chars().count()
        };
        Span {
            line: self.line,
            column: u32::try_from(column + 1).unwrap_or(u32::MAX),
        }
    }

    fn span(&self) -> Span {
        self.span_at(self.pos)
    }

    /// The column of `pos` on a content line (only spaces before it, so bytes are characters);
    /// `None` at the end of the text.
    fn indent(&self) -> Option<usize> {
        (self.pos < self.bytes.len()).then_some(self.pos - self.line_start)
    }

    fn count(&mut self, depth: usize) -> Option<()> {
        self.nodes += 1;
        (self.nodes <= self.limits.max_nodes && depth + 1 < self.limits.max_depth).then_some(())
    }

    fn skip_spaces(&mut self) {
        while self.peek() == b' ' {
            self.pos += 1;
        }
    }

    /// From the start of a line, moves past blank and comment-only lines to the first character
    /// of the next content line (or to the end). Declines document markers and directives.
    fn skip_to_content(&mut self) -> Option<()> {
        loop {
            self.skip_spaces();
            match self.peek() {
                b'\n' => self.new_line(),
                b'#' => {
                    self.skip_comment();
                    if self.peek() == 0 {
                        return Some(());
                    }
                    self.new_line();
                }
                0 => return Some(()),
                _ => {
                    if self.pos == self.line_start {
                        let rest = &self.bytes[self.pos..];
                        if rest[0] == b'%'
                            || ((rest.starts_with(b"---") || rest.starts_with(b"..."))
                                && self.blank_at(3))
                        {
                            return None;
                        }
                    }
                    return Some(());
                }
            }
        }
    }

    fn skip_comment(&mut self) {
        while !matches!(self.peek(), b'\n' | 0) {
            self.pos += 1;
        }
    }

    /// Steps over the line break at `pos`.
    fn new_line(&mut self) {
        self.pos += 1;
        self.line += 1;
        self.line_start = self.pos;
    }

    /// After a value: only spaces and a comment may follow on its line. Moves to the next
    /// content line.
    fn end_line(&mut self) -> Option<()> {
        self.skip_spaces();
        match self.peek() {
            // A comment needs a space before it.
            b'#' if self.bytes[self.pos - 1] == b' ' => self.skip_comment(),
            b'\n' | 0 => {}
            _ => return None,
        }
        if self.peek() == b'\n' {
            self.new_line();
        }
        self.skip_to_content()
    }

    /// Whether `pos` is at a block sequence entry (`-` then a space or the line's end).
    fn at_entry(&self) -> bool {
        self.peek() == b'-' && self.blank_at(1)
    }

    /// A block mapping or sequence whose first line is at `pos`, in column `indent`.
    fn block_collection(&mut self, indent: usize, depth: usize) -> Option<Node> {
        if self.at_entry() {
            let span = self.span();
            self.block_sequence(indent, span, depth)
        } else {
            self.block_mapping(indent, depth)
        }
    }

    /// A block mapping whose first key is at `pos`, in column `indent` (a sequence entry's
    /// mapping starts in the middle of a line).
    fn block_mapping(&mut self, indent: usize, depth: usize) -> Option<Node> {
        let span = self.span();
        self.count(depth)?;
        let mut entries = Vec::new();
        loop {
            let key = self.key()?;
            let colon = self.span();
            self.pos += 1;
            let value = self.block_value(indent, colon, depth + 1)?;
            entries.push((key, value));
            match self.indent() {
                Some(column) if column == indent => {}
                Some(column) if column > indent => return None,
                _ => break,
            }
        }
        Some(Node::new(NodeValue::Map(merge_keys(entries, false)), span))
    }

    /// A block mapping key, leaving `pos` at its `:`.
    fn key(&mut self) -> Option<Node> {
        let start = self.pos;
        let scalar = self.scalar(false)?;
        self.skip_spaces();
        // YAML limits implicit keys to 1024 characters; merge keys need the full parser.
        if !(self.peek() == b':' && self.blank_at(1))
            || self.pos - start > 1024
            || (!scalar.quoted && scalar.text == "<<")
        {
            return None;
        }
        self.count(0)?;
        Some(scalar.into_node())
    }

    /// The value after a block mapping key's `:` (at `colon`), on the same line or below it.
    fn block_value(&mut self, indent: usize, colon: Span, depth: usize) -> Option<Node> {
        self.skip_spaces();
        if matches!(self.peek(), b'|' | b'>') {
            return self.block_scalar(indent, depth);
        }
        if !matches!(self.peek(), b'\n' | b'#' | 0) {
            let value = self.inline_value(depth)?;
            self.end_line()?;
            return Some(value);
        }
        self.end_line()?;
        match self.indent() {
            Some(column) if column > indent => self.block_collection(column, depth),
            Some(column) if column == indent && self.at_entry() => {
                // A sequence at its key's indentation: located where its first item starts.
                let mut after = self.pos + 1;
                while self.bytes.get(after) == Some(&b' ') {
                    after += 1;
                }
                let span = self.span_at(after);
                self.block_sequence(indent, span, depth)
            }
            _ => {
                self.count(depth)?;
                Some(Node::new(NodeValue::Null, colon))
            }
        }
    }

    /// A literal (`|`) or folded (`>`) block scalar, the value of a key in column `indent`, with
    /// clip or strip (`-`) chomping; its indentation is its first line's. Leaves `pos` at the next
    /// content line.
    fn block_scalar(&mut self, indent: usize, depth: usize) -> Option<Node> {
        let folded = self.peek() == b'>';
        self.pos += 1;
        let strip = self.peek() == b'-';
        if strip {
            self.pos += 1;
        }
        // Only spaces and a comment may follow the header.
        if !self.blank_at(0) {
            return None;
        }
        self.skip_spaces();
        if self.peek() == b'#' {
            self.skip_comment();
        }
        if self.peek() != b'\n' {
            return None;
        }
        self.new_line();
        let spaces_at = |scanner: &Self| {
            scanner.bytes[scanner.pos..]
                .iter()
                .take_while(|b| **b == b' ')
                .count()
        };
        let content_indent = spaces_at(self);
        if content_indent <= indent || matches!(self.peek_at(content_indent), b'\n' | 0) {
            return None;
        }
        let span = self.span_at(self.pos + content_indent);
        self.count(depth)?;
        let mut text = String::new();
        let mut blank_lines = 0usize;
        let mut first = true;
        loop {
            let spaces = spaces_at(self);
            match self.peek_at(spaces) {
                // A line of spaces only: more of them than the indentation would be content.
                b'\n' | 0 if spaces > content_indent => return None,
                b'\n' => {
                    blank_lines += 1;
                    self.pos += spaces;
                    self.new_line();
                    continue;
                }
                0 if spaces == 0 => break,
                // The text ending in a line of spaces: saphyr-parser chomps that its own way.
                0 => return None,
                _ if spaces < content_indent => break,
                _ => {}
            }
            let start = self.pos + content_indent;
            let end = self.bytes[start..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(self.bytes.len(), |i| start + i);
            let line = &self.text[start..end];
            // Folding keeps the breaks around more-indented lines: not for this loader.
            if folded && line.starts_with(' ') {
                return None;
            }
            if !first {
                if folded && blank_lines == 0 {
                    text.push(' ');
                } else {
                    let breaks = if folded { blank_lines } else { blank_lines + 1 };
                    text.extend(std::iter::repeat_n('\n', breaks));
                }
            }
            text.push_str(line);
            first = false;
            blank_lines = 0;
            self.pos = end;
            if self.peek() != b'\n' {
                return None;
            }
            self.new_line();
        }
        if !strip {
            text.push('\n');
        }
        self.skip_to_content()?;
        Some(Node::new(NodeValue::String(text), span))
    }

    /// A block sequence whose first `-` is at `pos`, in column `indent`.
    fn block_sequence(&mut self, indent: usize, span: Span, depth: usize) -> Option<Node> {
        self.count(depth)?;
        let mut items = Vec::new();
        loop {
            self.pos += 1;
            self.skip_spaces();
            items.push(self.sequence_item(depth + 1)?);
            match self.indent() {
                Some(column) if column == indent && self.at_entry() => {}
                Some(column) if column > indent => return None,
                _ => break,
            }
        }
        Some(Node::new(NodeValue::List(items), span))
    }

    /// What follows a sequence entry's `- ` on its line: a value, or a mapping starting there.
    fn sequence_item(&mut self, depth: usize) -> Option<Node> {
        match self.peek() {
            b'\n' | b'#' | 0 => return None,
            b'-' if self.blank_at(1) => return None,
            b'{' | b'[' => {
                let value = self.flow_value(depth)?;
                self.end_line()?;
                return Some(value);
            }
            _ => {}
        }
        let start = self.pos;
        let scalar = self.scalar(false)?;
        self.skip_spaces();
        if self.peek() == b':' && self.blank_at(1) {
            self.pos = start;
            return self.block_mapping(start - self.line_start, depth);
        }
        self.count(depth)?;
        self.end_line()?;
        Some(scalar.into_node())
    }

    /// A value written on its key's line.
    fn inline_value(&mut self, depth: usize) -> Option<Node> {
        if matches!(self.peek(), b'{' | b'[') {
            return self.flow_value(depth);
        }
        let scalar = self.scalar(false)?;
        // `a: b: c` is an error for the full parser to report.
        if self.peek() == b':' {
            return None;
        }
        self.count(depth)?;
        Some(scalar.into_node())
    }

    /// A flow collection or scalar inside one line.
    fn flow_value(&mut self, depth: usize) -> Option<Node> {
        let span = self.span();
        match self.peek() {
            b'[' => {
                self.count(depth)?;
                self.pos += 1;
                let mut items = Vec::new();
                self.flow_entries(b']', |scanner| {
                    let item = scanner.flow_value(depth + 1)?;
                    items.push(item);
                    Some(())
                })?;
                Some(Node::new(NodeValue::List(items), span))
            }
            b'{' => {
                self.count(depth)?;
                self.pos += 1;
                let mut entries = Vec::new();
                self.flow_entries(b'}', |scanner| {
                    let key = scanner.scalar(true)?;
                    if !key.quoted && key.text == "<<" {
                        return None;
                    }
                    scanner.count(depth + 1)?;
                    scanner.skip_spaces();
                    if !(scanner.peek() == b':' && scanner.peek_at(1) == b' ') {
                        return None;
                    }
                    scanner.pos += 1;
                    scanner.skip_spaces();
                    let value = scanner.flow_value(depth + 1)?;
                    entries.push((key.into_node(), value));
                    Some(())
                })?;
                Some(Node::new(NodeValue::Map(merge_keys(entries, false)), span))
            }
            _ => {
                let scalar = self.scalar(true)?;
                self.count(depth)?;
                Some(scalar.into_node())
            }
        }
    }

    /// The entries of a flow collection after its opening bracket, up to and past `close`.
    fn flow_entries(
        &mut self,
        close: u8,
        mut entry: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        self.skip_spaces();
        if self.peek() == close {
            self.pos += 1;
            return Some(());
        }
        loop {
            entry(self)?;
            self.skip_spaces();
            match self.peek() {
                b',' => {
                    self.pos += 1;
                    self.skip_spaces();
                    if self.peek() == close {
                        self.pos += 1;
                        return Some(());
                    }
                }
                b if b == close => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A plain or quoted scalar on one line; `pos` is left just past it (before the spaces
    /// that end a plain one).
    fn scalar(&mut self, flow: bool) -> Option<Scalar> {
        let span = self.span();
        match self.peek() {
            b'\'' => self.single_quoted(span),
            b'"' => self.double_quoted(span),
            first => {
                let indicator = matches!(
                    first,
                    b'[' | b']'
                        | b'{'
                        | b'}'
                        | b','
                        | b'#'
                        | b'&'
                        | b'*'
                        | b'!'
                        | b'|'
                        | b'>'
                        | b'%'
                        | b'@'
                        | b'`'
                        | b'\n'
                        | b' '
                        | 0
                );
                let dash_like = matches!(first, b'-' | b'?' | b':')
                    && (self.blank_at(1) || is_flow_indicator(self.peek_at(1)));
                // saphyr-parser reads `---` and `...` as document markers in more places than
                // column one.
                let marker = self.bytes[self.pos..].starts_with(b"---")
                    || self.bytes[self.pos..].starts_with(b"...");
                if indicator || dash_like || marker {
                    return None;
                }
                let start = self.pos;
                let mut end = start;
                loop {
                    match self.peek() {
                        b'\n' | 0 => break,
                        b' ' => {
                            self.skip_spaces();
                            if matches!(self.peek(), b'#' | b'\n' | 0) {
                                break;
                            }
                        }
                        b':' if self.blank_at(1) || flow => break,
                        b if flow && is_flow_indicator(b) => break,
                        _ => {
                            self.pos += 1;
                            end = self.pos;
                        }
                    }
                }
                self.pos = end;
                Some(Scalar {
                    text: self.text[start..end].to_owned(),
                    quoted: false,
                    span,
                })
            }
        }
    }

    fn single_quoted(&mut self, span: Span) -> Option<Scalar> {
        self.pos += 1;
        let mut text = String::new();
        let mut run = self.pos;
        loop {
            match self.peek() {
                b'\'' if self.peek_at(1) == b'\'' => {
                    text.push_str(&self.text[run..=self.pos]);
                    self.pos += 2;
                    run = self.pos;
                }
                b'\'' => break,
                b'\n' | 0 => return None,
                _ => self.pos += 1,
            }
        }
        text.push_str(&self.text[run..self.pos]);
        self.pos += 1;
        Some(Scalar {
            text,
            quoted: true,
            span,
        })
    }

    fn double_quoted(&mut self, span: Span) -> Option<Scalar> {
        self.pos += 1;
        let mut text = String::new();
        let mut run = self.pos;
        loop {
            match self.peek() {
                b'"' => break,
                b'\n' | 0 => return None,
                b'\\' => {
                    text.push_str(&self.text[run..self.pos]);
                    let escaped = self.peek_at(1);
                    self.pos += 2;
                    let c = match escaped {
                        b'\\' => '\\',
                        b'"' => '"',
                        b'/' => '/',
                        b' ' => ' ',
                        b'0' => '\0',
                        b'a' => '\u{7}',
                        b'b' => '\u{8}',
                        b't' => '\t',
                        b'n' => '\n',
                        b'v' => '\u{b}',
                        b'f' => '\u{c}',
                        b'r' => '\r',
                        b'e' => '\u{1b}',
                        b'x' => self.hex_escape(2)?,
                        b'u' => self.hex_escape(4)?,
                        b'U' => self.hex_escape(8)?,
                        _ => return None,
                    };
                    text.push(c);
                    run = self.pos;
                }
                _ => self.pos += 1,
            }
        }
        text.push_str(&self.text[run..self.pos]);
        self.pos += 1;
        Some(Scalar {
            text,
            quoted: true,
            span,
        })
    }

    fn hex_escape(&mut self, digits: usize) -> Option<char> {
        let hex = self.text.get(self.pos..self.pos + digits)?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.pos += digits;
        char::from_u32(u32::from_str_radix(hex, 16).ok()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::load_with_events;
    use proptest::prelude::*;

    /// Both loaders agree on `text`, or the fast one declines it; whether it took it.
    fn agree(text: &str) -> bool {
        let limits = Limits::default();
        // parse_document reads JSON text as JSON, without this loader.
        if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() {
            return false;
        }
        let Some(fast) = load(text, &limits) else {
            return false;
        };
        {
            let full = load_with_events(text, "t", &limits, false)
                .unwrap_or_else(|e| panic!("the fast loader took {text:?}, the full one: {e}"));
            // Debug text, so that NaN equals NaN.
            assert_eq!(
                format!("{fast:?}"),
                format!("{full:?}"),
                "loaders differ on {text:?}"
            );
        }
        true
    }

    #[test]
    fn the_template_subset_is_taken_and_located_as_the_full_parser_locates_it() {
        let text = "heat_template_version: 2021-04-16\n# c\nparameters:\n  p:\n    type: \
                    string\n    default: 'it''s'\nresources:\n  r:\n    type: T\n    properties:\
                    \n      list:\n      - a\n      - {get_param: p}\n      - k: 1\n        m: \
                    [x, \"y\\u00e9\", 1.5, ~, yes]\n      empty:\n      nested:\n        - - 1\n";
        assert!(
            load(text, &Limits::default()).is_none(),
            "nested compact sequences decline"
        );
        let text = text.replace("        - - 1\n", "        - x: 1   # c\n");
        assert!(agree(&text));
    }

    #[test]
    fn real_templates_are_loaded_alike() {
        let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
        let mut taken = Vec::new();
        for dir in ["heat-templates", "seed"] {
            for entry in std::fs::read_dir(data.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                let text = std::fs::read_to_string(&path).unwrap();
                if agree(&text) {
                    taken.push(path);
                }
            }
        }
        // All but those with multi-line flow collections or more-indented folded lines.
        assert!(taken.len() >= 11, "{taken:?}");
    }

    #[test]
    fn outside_the_subset_it_declines() {
        for text in [
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: |+\n  text\n",
            "a: |2\n  text\n",
            "a: >\n  text\n   more\n",
            "a: |\n\n  text\n",
            "a: b\n  c\n",
            "a: [1,\n  2]\n",
            "---\na: 1\n",
            "a:\tb\n",
            "a: 1\r\n",
            "? a\n: b\n",
            "a: b: c\n",
            "",
            "{a: 1}\n",
            "<<: {a: 1}\n",
        ] {
            assert!(load(text, &Limits::default()).is_none(), "{text:?}");
        }
    }

    fn fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("a".to_string()),
            Just("key".to_string()),
            Just(": ".to_string()),
            Just(":".to_string()),
            Just("- ".to_string()),
            Just("-".to_string()),
            Just("\n".to_string()),
            Just("  ".to_string()),
            Just(" ".to_string()),
            Just("# c".to_string()),
            Just("'q''s'".to_string()),
            Just("'".to_string()),
            Just("\"d\\n\\x41\\u00e9\"".to_string()),
            Just("\"".to_string()),
            Just("\\".to_string()),
            Just("{".to_string()),
            Just("}".to_string()),
            Just("[".to_string()),
            Just("]".to_string()),
            Just(", ".to_string()),
            Just(",".to_string()),
            Just("{get_param: p}".to_string()),
            Just("[1, b, {c: d}]".to_string()),
            Just("é".to_string()),
            Just("~".to_string()),
            Just("#".to_string()),
            Just("&".to_string()),
            Just("---".to_string()),
            Just("? ".to_string()),
            Just("|".to_string()),
            Just(">-".to_string()),
            Just("!!int ".to_string()),
            Just("*a".to_string()),
            Just("%".to_string()),
            Just("\t".to_string()),
            Just("\r\n".to_string()),
            Just("...".to_string()),
            r"(yes|No|0x1f|010|1:30|1\.5e\+3|-1_0|2013-05-23|\.nan|\.inf|null|[a-z0-9_.:/-]{1,6})",
        ]
    }

    /// A block document of the subset, as lines of text.
    #[derive(Debug, Clone)]
    enum Block {
        Leaf(String),
        /// A block scalar: its header (`|`, `>-`, ...) and lines (empty ones for blank lines).
        Text(String, Vec<String>),
        Map(Vec<(String, Block)>),
        List(Vec<Block>),
    }

    fn block() -> impl Strategy<Value = Block> {
        let leaf = prop_oneof![
            r#"(yes|no|1|-2|0x1F|1\.5|~|2013-05-23|'s q'|'it''s'|"d\\u00e9"|[a-z]{1,4}|é[a-z]{0,2}|a b|x:y|-x|\.nan)"#,
            Just("[a, 1, {b: c}]".to_string()),
            Just("{k: v, n: [1, 2], 'q': \"r\"}".to_string()),
            Just("[]".to_string()),
            Just("{}".to_string()),
            Just("".to_string()),
        ]
        .prop_map(Block::Leaf);
        let text = (
            "[|>]-?",
            "[a-z]{1,3}",
            prop::collection::vec("(|[a-z]{1,3}( [a-z#:]{1,3}){0,2}|  [a-z]{1,2})", 0..5),
        )
            .prop_map(|(header, first, mut lines)| {
                lines.insert(0, first);
                // More-indented lines are kept only in literal ones.
                if header.starts_with('>') {
                    lines = lines.iter().map(|l| l.trim_start().to_string()).collect();
                }
                Block::Text(header, lines)
            });
        let leaf = prop_oneof![4 => leaf, 1 => text];
        leaf.prop_recursive(4, 40, 5, |inner| {
            prop_oneof![
                prop::collection::vec(("[a-z]{1,3}|'k q'|1|yes|\"d k\"", inner.clone()), 1..5)
                    .prop_map(Block::Map),
                prop::collection::vec(inner, 1..4).prop_map(Block::List),
            ]
        })
    }

    /// Writes `block` at `indent`; `indentless`: sequences under keys at the key's column.
    fn render(block: &Block, indent: usize, indentless: bool, out: &mut String) {
        let pad = " ".repeat(indent);
        match block {
            Block::Leaf(leaf) => out.push_str(&format!("{pad}{leaf}\n")),
            // Written only as mapping values; elsewhere a word stands for one.
            Block::Text(..) => out.push_str(&format!("{pad}text\n")),
            Block::Map(entries) => {
                for (key, value) in entries {
                    match value {
                        Block::Leaf(leaf) => out.push_str(&format!("{pad}{key}: {leaf}  # c\n")),
                        Block::Text(header, lines) => {
                            out.push_str(&format!("{pad}{key}: {header}  # c\n"));
                            for line in lines {
                                if line.is_empty() {
                                    out.push('\n');
                                } else {
                                    out.push_str(&format!("{pad}  {line}\n"));
                                }
                            }
                        }
                        Block::List(_) if indentless => {
                            out.push_str(&format!("{pad}{key}:\n"));
                            render(value, indent, indentless, out);
                        }
                        _ => {
                            out.push_str(&format!("{pad}{key}:\n\n"));
                            render(value, indent + 2, indentless, out);
                        }
                    }
                }
            }
            Block::List(items) => {
                for item in items {
                    // An entry's content starts two columns on: render it there and put the
                    // dash over the first line's indentation.
                    let mut inner = String::new();
                    match item {
                        Block::List(_) => inner.push_str(&format!("{pad}  [nested]\n")),
                        Block::Leaf(leaf) if leaf.is_empty() => {
                            inner.push_str(&format!("{pad}  x\n"))
                        }
                        _ => render(item, indent + 2, indentless, &mut inner),
                    }
                    out.push_str(&pad);
                    out.push_str("- ");
                    out.push_str(&inner[indent + 2..]);
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn fragments_are_loaded_alike_or_declined(parts in prop::collection::vec(fragment(), 0..30)) {
            let _taken = agree(&parts.concat());
        }

        #[test]
        fn subset_documents_are_loaded_alike_or_declined(
            root in prop::collection::vec(("[a-z]{1,3}", block()), 1..5),
            indentless in prop::bool::ANY,
            cut in 0usize..400,
            insert in fragment(),
        ) {
            let mut text = String::new();
            render(&Block::Map(root), 0, indentless, &mut text);
            prop_assert!(agree(&text), "the fast loader declined {:?}", text);
            // A mutation: a fragment spliced in somewhere.
            let mut at = cut.min(text.len());
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let _taken = agree(&format!("{}{}{}", &text[..at], insert, &text[at..]));
        }
    }
}
