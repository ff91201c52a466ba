//! The ASCII tables `openstack` prints: prettytable's layout with cliff's settings (one space of
//! padding, alignment from the first row's value types, columns shrunk to `--max-width` or the
//! terminal width by cliff's rule).

/// How a column's text is placed in its cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
    Center,
}

/// A table ready to print: headers, per-column alignment and rows of already formatted text.
pub struct Table {
    pub headers: Vec<String>,
    pub align: Vec<Align>,
    pub rows: Vec<Vec<String>>,
    /// Per-column maximum content width, as prettytable's `max_width`.
    pub max_width: Vec<Option<usize>>,
}

fn width(text: &str) -> usize {
    text.chars().count()
}

impl Table {
    pub fn new(headers: Vec<String>) -> Self {
        let n = headers.len();
        Self {
            headers,
            align: vec![Align::Center; n],
            rows: Vec::new(),
            max_width: vec![None; n],
        }
    }

    fn cell_lines(&self, column: usize, text: &str) -> Vec<String> {
        let lines = text.split('\n').map(str::to_owned);
        match self.max_width[column] {
            Some(limit) => lines.flat_map(|line| wrap(&line, limit)).collect(),
            None => lines.collect(),
        }
    }

    fn column_widths(&self) -> Vec<usize> {
        (0..self.headers.len())
            .map(|c| {
                let header = width(&self.headers[c]);
                let content = self
                    .rows
                    .iter()
                    .flat_map(|row| self.cell_lines(c, &row[c]))
                    .map(|line| width(&line))
                    .max()
                    .unwrap_or(0);
                let natural = header.max(content);
                match self.max_width[c] {
                    Some(limit) => natural.min(limit.max(header.min(limit))),
                    None => natural,
                }
            })
            .collect()
    }

    /// The table text without a final newline; empty when there are no rows and `print_empty`
    /// is off, as prettytable does.
    pub fn render(&self, print_empty: bool) -> String {
        if self.rows.is_empty() && !print_empty {
            return String::new();
        }
        let widths = self.column_widths();
        let border: String = {
            let mut s = String::from("+");
            for w in &widths {
                s.push_str(&"-".repeat(w + 2));
                s.push('+');
            }
            s
        };
        let mut out = vec![border.clone()];
        let header_cells: Vec<Vec<String>> = self.headers.iter().map(|h| vec![h.clone()]).collect();
        out.extend(self.render_row(&header_cells, &widths));
        out.push(border.clone());
        if !self.rows.is_empty() {
            for row in &self.rows {
                let cells: Vec<Vec<String>> = row
                    .iter()
                    .enumerate()
                    .map(|(c, text)| self.cell_lines(c, text))
                    .collect();
                out.extend(self.render_row(&cells, &widths));
            }
            out.push(border);
        }
        out.join("\n")
    }

    fn render_row(&self, cells: &[Vec<String>], widths: &[usize]) -> Vec<String> {
        let height = cells.iter().map(Vec::len).max().unwrap_or(1).max(1);
        (0..height)
            .map(|i| {
                let mut line = String::from("|");
                for (c, lines) in cells.iter().enumerate() {
                    let text = lines.get(i).map(String::as_str).unwrap_or("");
                    line.push(' ');
                    line.push_str(&justify(text, widths[c], self.align[c]));
                    line.push_str(" |");
                }
                line
            })
            .collect()
    }

    /// cliff's `_assign_max_widths`: when the table is wider than `term_width`, shrink the
    /// columns wider than an equal share so the table fits, none below `min_width`.
    pub fn fit(&mut self, term_width: usize, min_width: usize) {
        let first_line = self.render(true);
        let first_line = first_line.lines().next().unwrap_or("");
        if width(first_line) <= term_width {
            return;
        }
        let field_count = self.headers.len();
        let usable = term_width.saturating_sub(1 + 3 * field_count);
        let optimal = usable.checked_div(field_count).unwrap_or(0);
        let field_widths: Vec<usize> = first_line
            .split('+')
            .skip(1)
            .take(field_count)
            .map(|seg| seg.len().saturating_sub(2))
            .collect();
        let mut shrink = Vec::new();
        let mut remaining = usable as i64;
        for (c, w) in field_widths.iter().enumerate() {
            if *w <= optimal {
                remaining -= *w as i64;
            } else {
                shrink.push(c);
            }
        }
        let Some((&last, rest)) = shrink.split_last() else {
            return;
        };
        let shrink_to = remaining / shrink.len() as i64;
        for &c in rest {
            self.max_width[c] = Some(min_width.max(shrink_to.max(0) as usize));
            remaining -= shrink_to;
        }
        self.max_width[last] = Some(min_width.max(remaining.max(0) as usize));
    }
}

fn justify(text: &str, width_: usize, align: Align) -> String {
    let excess = width_.saturating_sub(width(text));
    match align {
        Align::Left => format!("{text}{}", " ".repeat(excess)),
        Align::Right => format!("{}{text}", " ".repeat(excess)),
        Align::Center => {
            let (left, right) = if excess % 2 == 1 {
                if width(text) % 2 == 1 {
                    (excess / 2, excess / 2 + 1)
                } else {
                    (excess / 2 + 1, excess / 2)
                }
            } else {
                (excess / 2, excess / 2)
            };
            format!("{}{text}{}", " ".repeat(left), " ".repeat(right))
        }
    }
}

/// Python's `textwrap.wrap(line, limit)` as prettytable applies it to an over-long line: split
/// into whitespace and word chunks (hyphenated words split after their hyphens), fill lines
/// greedily, cut words longer than a line (at a hyphen when one fits), drop whitespace at line
/// ends and at the start of every line but the first.
pub fn wrap(line: &str, limit: usize) -> Vec<String> {
    if limit == 0 || width(line) <= limit {
        return vec![line.to_owned()];
    }
    let text: Vec<char> = line
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    // Chunks in reverse order, so the next one is popped from the end.
    let mut chunks: Vec<Vec<char>> = chunks(&text);
    chunks.reverse();
    let mut lines: Vec<String> = Vec::new();
    while !chunks.is_empty() {
        let mut current: Vec<Vec<char>> = Vec::new();
        let mut used = 0;
        if !lines.is_empty() && chunks.last().is_some_and(|c| is_space(c)) {
            chunks.pop();
        }
        while let Some(next) = chunks.last() {
            if used + next.len() <= limit {
                used += next.len();
                current.extend(chunks.pop());
            } else {
                break;
            }
        }
        if chunks.last().is_some_and(|c| c.len() > limit) {
            split_long_chunk(&mut chunks, &mut current, limit.saturating_sub(used));
        }
        if current.last().is_some_and(|c| is_space(c)) {
            current.pop();
        }
        if !current.is_empty() {
            lines.push(current.concat().into_iter().collect());
        }
    }
    lines
}

fn is_space(chunk: &[char]) -> bool {
    chunk.iter().all(|c| *c == ' ')
}

fn is_letter(c: Option<&char>) -> bool {
    c.is_some_and(|c| (c.is_alphanumeric() && !c.is_numeric()) || *c == '_')
}

/// textwrap's `wordsep_re`: runs of whitespace, and words, a hyphenated word ending after each
/// hyphen that follows two letters (or `x-y-`) and precedes a letter pair (`ab`, `a-b`).
fn chunks(text: &[char]) -> Vec<Vec<char>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < text.len() {
        let space = text[i] == ' ';
        let mut j = i;
        while j < text.len() && (text[j] == ' ') == space {
            if !space && text[j] == '-' && j > start {
                let at = |k: isize| {
                    usize::try_from(j as isize + k)
                        .ok()
                        .and_then(|k| text.get(k))
                };
                let after_letters = (is_letter(at(-1)) && is_letter(at(-2)))
                    || (is_letter(at(-1)) && at(-2) == Some(&'-') && is_letter(at(-3)));
                let before_letters = is_letter(at(1))
                    && (is_letter(at(2)) || (at(2) == Some(&'-') && is_letter(at(3))));
                if after_letters && before_letters {
                    out.push(text[start..=j].to_vec());
                    start = j + 1;
                }
            }
            j += 1;
        }
        if start < j {
            out.push(text[start..j].to_vec());
        }
        start = j;
        i = j;
    }
    out
}

/// textwrap's `_handle_long_word`: put as much of the next chunk as fits on this line, cutting
/// after its last hyphen within that room when there is one.
fn split_long_chunk(chunks: &mut [Vec<char>], current: &mut Vec<Vec<char>>, room: usize) {
    let Some(chunk) = chunks.last_mut() else {
        return;
    };
    let mut end = room.min(chunk.len());
    if chunk.len() > room {
        if let Some(hyphen) = chunk[..room].iter().rposition(|c| *c == '-') {
            if hyphen > 0 && chunk[..hyphen].iter().any(|c| *c != '-') {
                end = hyphen + 1;
            }
        }
    }
    current.push(chunk[..end].to_vec());
    chunk.drain(..end);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn wrapped_lines_fit_and_keep_every_word_character(line in "[a-z0-9 -]{0,80}", limit in 1usize..30) {
            let lines = wrap(&line, limit);
            if line.chars().count() > limit {
                for l in &lines {
                    prop_assert!(l.chars().count() <= limit, "{:?} -> {:?}", line, lines);
                }
            }
            let kept: String = lines.concat().chars().filter(|c| *c != ' ').collect();
            let original: String = line.chars().filter(|c| *c != ' ').collect();
            prop_assert_eq!(kept, original);
        }
    }

    #[test]
    fn renders_prettytable_layout() {
        let mut t = Table::new(vec!["Field".into(), "Value".into()]);
        t.align = vec![Align::Left, Align::Left];
        t.rows.push(vec!["id".into(), "abc".into()]);
        t.rows.push(vec!["parameters".into(), "a: 1\nb: 2".into()]);
        assert_eq!(
            t.render(false),
            "+------------+-------+\n\
             | Field      | Value |\n\
             +------------+-------+\n\
             | id         | abc   |\n\
             | parameters | a: 1  |\n\
             |            | b: 2  |\n\
             +------------+-------+"
        );
    }

    #[test]
    fn empty_table_prints_nothing_unless_asked() {
        let t = Table::new(vec!["ID".into()]);
        assert_eq!(t.render(false), "");
        assert_eq!(t.render(true), "+----+\n| ID |\n+----+");
    }

    #[test]
    fn wraps_like_textwrap() {
        assert_eq!(wrap("hello big world", 9), vec!["hello big", "world"]);
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        // Values seen in `openstack stack show --max-width 60`.
        assert_eq!(
            wrap("0e69aa1d-f882-4864-b97b-d158298e8a4a", 32),
            vec!["0e69aa1d-f882-4864-b97b-", "d158298e8a4a"]
        );
        assert_eq!(
            wrap("OS::stack_id: 0e69aa1d-f882-4864-b97b-d158298e8a4a", 32),
            vec!["OS::stack_id: 0e69aa1d-f882-", "4864-b97b-d158298e8a4a"]
        );
        assert_eq!(
            wrap("OS::stack_name: cli-compare-hello", 32),
            vec!["OS::stack_name: cli-compare-", "hello"]
        );
        assert_eq!(
            wrap(
                "  output_value: hello from cli-compare-hello (token ZNGTMiKS76lz5plj)",
                32
            ),
            vec![
                "  output_value: hello from cli-",
                "compare-hello (token",
                "ZNGTMiKS76lz5plj)"
            ]
        );
    }

    #[test]
    fn fit_shrinks_wide_columns() {
        let mut t = Table::new(vec!["a".into(), "b".into()]);
        t.align = vec![Align::Left, Align::Left];
        t.rows.push(vec!["x".into(), "word ".repeat(20)]);
        t.fit(40, 8);
        let text = t.render(false);
        assert!(text.lines().all(|l| l.chars().count() <= 40), "{text}");
    }
}
