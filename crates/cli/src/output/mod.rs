//! One formatting layer for every command and both modes: commands turn Heat's API JSON into a
//! [`Listing`] (cliff's `Lister`) or a [`Record`] (cliff's `ShowOne`) exactly as heatclient's OSC
//! plugin does, and [`FormatArgs`] prints them as cliff's formatters do.

pub mod python;
pub mod table;

use clap::{Args, ValueEnum};
use serde_json::Value;
use std::io::Write;

use crate::error::CliError;
use python::{json_dumps, repr, str_of, yaml_dump, JsonStyle};
use table::{Align, Table};

/// A value in an output cell. `Raw` values print as Python's `str()` in tables and as themselves
/// in JSON/YAML; the other kinds are heatclient's `FormattableColumn`s, which change only the
/// human-readable (table) form.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Raw(Value),
    /// `JsonColumn`: indented JSON in tables.
    Json(Value),
    /// `YamlColumn`: block YAML in tables.
    Yaml(Value),
    /// `LinkColumn`: one `href (rel)` per line.
    Links(Value),
    /// `TextWrapColumn`: wrapped at 55 characters.
    TextWrap(Value),
    /// `ListColumn`: items joined with commas.
    CommaList(Value),
}

impl Cell {
    fn machine(&self) -> &Value {
        match self {
            Cell::Raw(v)
            | Cell::Json(v)
            | Cell::Yaml(v)
            | Cell::Links(v)
            | Cell::TextWrap(v)
            | Cell::CommaList(v) => v,
        }
    }

    fn human(&self) -> String {
        let text = match self {
            Cell::Raw(v) => str_of(v),
            Cell::Json(v) => json_dumps(v, JsonStyle::heatclient()),
            Cell::Yaml(v) => yaml_dump(v),
            Cell::Links(v) => v
                .as_array()
                .map(|links| {
                    links
                        .iter()
                        .map(|l| {
                            let href = l.get("href").map(str_of).unwrap_or_default();
                            match l.get("rel") {
                                Some(rel) => format!("{href} ({})", str_of(rel)),
                                None => href,
                            }
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default(),
            Cell::TextWrap(v) => table::wrap(v.as_str().unwrap_or(""), 55).join("\n"),
            Cell::CommaList(v) => v
                .as_array()
                .map(|items| items.iter().map(str_of).collect::<Vec<_>>().join(","))
                .unwrap_or_default(),
        };
        // cliff's `_format_row`: CRLF becomes LF, a lone CR a space.
        text.replace("\r\n", "\n").replace('\r', " ")
    }

    fn alignment(&self) -> Align {
        match self {
            Cell::Raw(Value::Number(_)) => Align::Right,
            _ => Align::Left,
        }
    }
}

/// Many objects with the same columns (cliff's `Lister`).
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// One object as field/value pairs (cliff's `ShowOne`).
#[derive(Debug, Clone, Default)]
pub struct Record {
    pub fields: Vec<(String, Cell)>,
}

/// osc_lib's `get_item_properties`/`get_dict_properties`: the column `Stack Name` reads the key
/// `stack_name`; a missing key reads as the empty string.
pub fn property(object: &Value, column: &str) -> Value {
    let key = column.to_lowercase().replace(' ', "_");
    object.get(&key).cloned().unwrap_or_else(|| Value::from(""))
}

impl Listing {
    /// Rows of raw cells read from objects by column name, as `get_item_properties` does.
    pub fn from_objects<'a>(
        columns: &[&str],
        objects: impl IntoIterator<Item = &'a Value>,
    ) -> Self {
        Self {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: objects
                .into_iter()
                .map(|o| columns.iter().map(|c| Cell::Raw(property(o, c))).collect())
                .collect(),
        }
    }
}

impl Record {
    /// Every key of an object in order, as `dict2columns`/`to_dict()` give them.
    pub fn from_object(object: &Value) -> Self {
        Self {
            fields: object
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), Cell::Raw(v.clone())))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    pub fn from_columns(columns: &[&str], object: &Value) -> Self {
        Self {
            fields: columns
                .iter()
                .map(|c| (c.to_string(), Cell::Raw(property(object, c))))
                .collect(),
        }
    }
}

/// The output formats. `log` is the event list's own format (heatclient's default there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Csv,
    Json,
    Log,
    Shell,
    Table,
    Value,
    Yaml,
}

/// cliff's output options, shared by every displaying command.
#[derive(Debug, Clone, Args, Default)]
pub struct FormatArgs {
    /// The output format (default: the command's own, as in `openstack`).
    #[arg(
        short = 'f',
        long = "format",
        value_enum,
        help_heading = "Output formatters"
    )]
    pub format: Option<Format>,
    /// Specify the column(s) to include, can be repeated to show multiple columns.
    #[arg(
        short = 'c',
        long = "column",
        value_name = "COLUMN",
        help_heading = "Output formatters"
    )]
    pub columns: Vec<String>,
    /// Whether to disable indenting the JSON.
    #[arg(long, help_heading = "Output formatters")]
    pub noindent: bool,
    /// Maximum display width, <1 to disable (also CLIFF_MAX_TERM_WIDTH).
    #[arg(
        long,
        env = "CLIFF_MAX_TERM_WIDTH",
        default_value_t = 0,
        help_heading = "Output formatters"
    )]
    pub max_width: i64,
    /// Fit the table to the display width (also CLIFF_FIT_WIDTH=1).
    #[arg(long, help_heading = "Output formatters")]
    pub fit_width: bool,
    /// Print empty table if there is no data to show.
    #[arg(long, help_heading = "Output formatters")]
    pub print_empty: bool,
    /// Add a prefix to all variable names (shell format).
    #[arg(long, default_value = "", help_heading = "Output formatters")]
    pub prefix: String,
    /// Specify the column(s) to sort the data by, can be repeated.
    #[arg(
        long = "sort-column",
        value_name = "SORT_COLUMN",
        help_heading = "Output formatters"
    )]
    pub sort_columns: Vec<String>,
    /// Sort the column(s) in ascending order.
    #[arg(
        long,
        conflicts_with = "sort_descending",
        help_heading = "Output formatters"
    )]
    pub sort_ascending: bool,
    /// Sort the column(s) in descending order.
    #[arg(long, help_heading = "Output formatters")]
    pub sort_descending: bool,
}

impl FormatArgs {
    pub fn format_or(&self, default: Format) -> Format {
        self.format.unwrap_or(default)
    }

    /// cliff's `_generate_columns_and_selector`: `-c` names match case-insensitively with spaces
    /// read as underscores; naming none of the columns is an error.
    fn select(&self, columns: &[String]) -> Result<Vec<usize>, CliError> {
        if self.columns.is_empty() {
            return Ok((0..columns.len()).collect());
        }
        let normalize = |c: &str| c.trim().to_lowercase().replace(' ', "_");
        let wanted: Vec<String> = self.columns.iter().map(|c| normalize(c)).collect();
        let chosen: Vec<usize> = (0..columns.len())
            .filter(|&i| wanted.contains(&normalize(&columns[i])))
            .collect();
        if chosen.is_empty() {
            let as_list = |items: &[String]| {
                repr(&Value::Array(
                    items.iter().map(|s| Value::String(s.clone())).collect(),
                ))
            };
            return Err(CliError::Command(format!(
                "No recognized column names in {}. Recognized columns are {}.",
                as_list(&self.columns),
                as_list(columns)
            )));
        }
        Ok(chosen)
    }

    fn table_width(&self) -> Option<usize> {
        if self.max_width > 0 {
            return Some(self.max_width as usize);
        }
        let term = console::Term::stdout();
        if term.is_term() || self.fit_width {
            return term.size_checked().map(|(_, cols)| cols as usize);
        }
        None
    }

    /// Prints a list in the chosen format (`default` unless `-f` was given).
    pub fn print_list(
        &self,
        out: &mut dyn Write,
        default: Format,
        mut listing: Listing,
    ) -> Result<(), CliError> {
        self.sort(&mut listing);
        let chosen = self.select(&listing.columns)?;
        let columns: Vec<String> = chosen.iter().map(|&i| listing.columns[i].clone()).collect();
        let rows: Vec<Vec<Cell>> = listing
            .rows
            .into_iter()
            .map(|row| chosen.iter().map(|&i| row[i].clone()).collect())
            .collect();
        let object = |row: &[Cell]| {
            Value::Object(
                columns
                    .iter()
                    .zip(row)
                    .map(|(c, cell)| (c.clone(), cell.machine().clone()))
                    .collect(),
            )
        };
        let text =
            match self.format_or(default) {
                Format::Table | Format::Log => {
                    let mut t = Table::new(columns.clone());
                    if let Some(first) = rows.first() {
                        t.align = first.iter().map(Cell::alignment).collect();
                    }
                    t.rows = rows
                        .iter()
                        .map(|r| r.iter().map(Cell::human).collect())
                        .collect();
                    if let Some(w) = self.table_width() {
                        t.fit(w, 8);
                    }
                    format!("{}\n", t.render(self.print_empty))
                }
                Format::Json => {
                    let items = Value::Array(rows.iter().map(|r| object(r)).collect());
                    format!("{}\n", json_dumps(&items, JsonStyle::cliff(self.noindent)))
                }
                Format::Yaml => {
                    let items = Value::Array(rows.iter().map(|r| object(r)).collect());
                    if rows.is_empty() {
                        "[]\n".to_owned()
                    } else {
                        yaml_dump(&items)
                    }
                }
                Format::Value => rows
                    .iter()
                    .map(|r| {
                        let line: Vec<String> = r.iter().map(|c| str_of(c.machine())).collect();
                        format!("{}\n", line.join(" "))
                    })
                    .collect(),
                Format::Csv => {
                    let mut text = csv_line(columns.iter().map(|c| Value::String(c.clone())));
                    for r in &rows {
                        text.push_str(&csv_line(r.iter().map(|c| c.machine().clone())));
                    }
                    text
                }
                Format::Shell => return Err(CliError::Command(
                    "argument -f/--format: invalid choice: 'shell' (choose from 'csv', 'json', \
                     'table', 'value', 'yaml')"
                        .into(),
                )),
            };
        out.write_all(text.as_bytes())?;
        Ok(())
    }

    /// Prints one object in the chosen format.
    pub fn print_one(
        &self,
        out: &mut dyn Write,
        default: Format,
        record: Record,
    ) -> Result<(), CliError> {
        let names: Vec<String> = record.fields.iter().map(|(n, _)| n.clone()).collect();
        let chosen = self.select(&names)?;
        let fields: Vec<(String, Cell)> =
            chosen.iter().map(|&i| record.fields[i].clone()).collect();
        let text = match self.format_or(default) {
            Format::Table | Format::Log | Format::Csv => {
                let mut t = Table::new(vec!["Field".into(), "Value".into()]);
                t.align = vec![Align::Left, Align::Left];
                t.rows = fields
                    .iter()
                    .map(|(n, c)| vec![n.clone(), c.human()])
                    .collect();
                if let Some(w) = self.table_width() {
                    t.fit(w, 16);
                }
                format!("{}\n", t.render(false))
            }
            Format::Json => {
                let one = Value::Object(
                    fields
                        .iter()
                        .map(|(n, c)| (n.clone(), c.machine().clone()))
                        .collect(),
                );
                format!("{}\n", json_dumps(&one, JsonStyle::cliff(self.noindent)))
            }
            // cliff dumps one single-key mapping per field, so fields keep their order.
            Format::Yaml => fields
                .iter()
                .map(|(n, c)| {
                    let mut one = serde_json::Map::new();
                    one.insert(n.clone(), c.machine().clone());
                    yaml_dump(&Value::Object(one))
                })
                .collect(),
            Format::Value => fields
                .iter()
                .map(|(_, c)| format!("{}\n", str_of(c.machine())))
                .collect(),
            Format::Shell => fields
                .iter()
                .map(|(n, c)| {
                    let name = n.to_lowercase().replace([' ', ':', '-'], "_");
                    let value = str_of(c.machine()).replace('"', "\\\"");
                    format!("{}{name}=\"{value}\"\n", self.prefix)
                })
                .collect(),
        };
        out.write_all(text.as_bytes())?;
        Ok(())
    }

    /// cliff's `--sort-column`: stable sorts from the last named column to the first; unknown
    /// columns are ignored; nulls sort last.
    fn sort(&self, listing: &mut Listing) {
        let indexes: Vec<usize> = self
            .sort_columns
            .iter()
            .filter_map(|c| listing.columns.iter().position(|x| x == c))
            .collect();
        for &index in indexes.iter().rev() {
            listing.rows.sort_by(|a, b| {
                let (x, y) = (a[index].machine(), b[index].machine());
                let order = x.is_null().cmp(&y.is_null()).then_with(|| compare(x, y));
                if self.sort_descending {
                    order.reverse()
                } else {
                    order
                }
            });
        }
    }
}

fn compare(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(std::cmp::Ordering::Equal),
        _ => str_of(a).cmp(&str_of(b)),
    }
}

/// One CSV line in Python's `csv` QUOTE_NONNUMERIC style (cliff's default `--quote`): strings
/// quoted with inner quotes doubled, numbers and booleans (Python ints) bare, `None` as `""`.
fn csv_line(cells: impl Iterator<Item = Value>) -> String {
    let fields: Vec<String> = cells
        .map(|v| match &v {
            Value::Number(n) => python::number(n),
            Value::Bool(_) => str_of(&v),
            Value::Null => "\"\"".to_owned(),
            other => format!("\"{}\"", str_of(other).replace('"', "\"\"")),
        })
        .collect();
    format!("{}\n", fields.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render_list(args: &FormatArgs, listing: Listing) -> String {
        let mut out = Vec::new();
        args.print_list(&mut out, Format::Table, listing).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn list_json_uses_column_names_as_keys() {
        let stacks = [json!({"id": "1", "stack_name": "a", "updated_time": null})];
        let listing = Listing::from_objects(&["ID", "Stack Name", "Updated Time"], &stacks);
        let args = FormatArgs {
            format: Some(Format::Json),
            ..Default::default()
        };
        assert_eq!(
            render_list(&args, listing),
            "[\n  {\n    \"ID\": \"1\",\n    \"Stack Name\": \"a\",\n    \"Updated Time\": null\n  }\n]\n"
        );
    }

    #[test]
    fn column_selection_normalizes_names() {
        let stacks = [json!({"id": "1", "stack_name": "a"})];
        let listing = Listing::from_objects(&["ID", "Stack Name"], &stacks);
        let args = FormatArgs {
            format: Some(Format::Value),
            columns: vec!["stack_name".into()],
            ..Default::default()
        };
        assert_eq!(render_list(&args, listing.clone()), "a\n");
        let bad = FormatArgs {
            columns: vec!["nope".into()],
            ..Default::default()
        };
        let err = bad
            .print_list(&mut Vec::new(), Format::Table, listing)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "No recognized column names in ['nope']. Recognized columns are ['ID', 'Stack Name']."
        );
    }

    #[test]
    fn table_shows_python_values() {
        let listing = Listing::from_objects(
            &["ID", "Updated Time"],
            &[json!({"id": "x", "updated_time": null})],
        );
        assert_eq!(
            render_list(&FormatArgs::default(), listing),
            "+----+--------------+\n| ID | Updated Time |\n+----+--------------+\n| x  | None         |\n+----+--------------+\n"
        );
    }

    #[test]
    fn csv_quotes_like_pythons_csv_module() {
        let listing = Listing::from_objects(
            &["a", "b", "c", "d"],
            &[json!({"a": "say \"hi\"", "b": 3, "c": null, "d": true})],
        );
        let args = FormatArgs {
            format: Some(Format::Csv),
            ..Default::default()
        };
        assert_eq!(
            render_list(&args, listing),
            "\"a\",\"b\",\"c\",\"d\"\n\"say \"\"hi\"\"\",3,\"\",True\n"
        );
    }

    #[test]
    fn shell_format_quotes_values() {
        let record = Record::from_object(&json!({"stack_name": "a\"b", "Stack Status": "OK"}));
        let mut out = Vec::new();
        FormatArgs {
            format: Some(Format::Shell),
            ..Default::default()
        }
        .print_one(&mut out, Format::Table, record)
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "stack_name=\"a\\\"b\"\nstack_status=\"OK\"\n"
        );
    }
}
