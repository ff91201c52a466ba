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

/// Python's `textwrap.fill(line, limit)` as prettytable applies it: break at spaces, split words
/// longer than the limit, drop the spaces at the breaks.
pub fn wrap(line: &str, limit: usize) -> Vec<String> {
    if limit == 0 || width(line) <= limit {
        return vec![line.to_owned()];
    }
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in line.split(' ').filter(|w| !w.is_empty()) {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let used = width(&current);
            let gap = usize::from(used > 0);
            if used + gap + word.len() <= limit {
                if gap == 1 {
                    current.push(' ');
                }
                current.extend(word.iter());
                break;
            }
            if word.len() > limit {
                // A word longer than a whole line fills what is left of this one.
                let room = limit.saturating_sub(used + gap);
                if room == 0 {
                    lines.push(std::mem::take(&mut current));
                    continue;
                }
                if gap == 1 {
                    current.push(' ');
                }
                current.extend(word.drain(..room));
                lines.push(std::mem::take(&mut current));
                continue;
            }
            lines.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

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
