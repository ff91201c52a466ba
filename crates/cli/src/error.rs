//! What can go wrong in a command, reported by `main` through miette with a non-zero exit code.

use miette::{Diagnostic, NamedSource, SourceSpan};
use thiserror::Error;

#[derive(Debug, Error, Diagnostic)]
pub enum CliError {
    /// A refusal worded as `openstack` words it (osc_lib's `CommandError`).
    #[error("{0}")]
    Command(String),

    /// An error the orchestration service returned, in Heat's error body shape (printed as
    /// heatclient's `HTTPException` prints it).
    #[error("ERROR: {message}")]
    #[diagnostic(code(heat::api))]
    Api {
        /// The HTTP status (in process: the status the API would have answered).
        status: u16,
        /// Heat's exception class, e.g. `StackValidationFailed`, `EntityNotFound`.
        kind: String,
        message: String,
    },

    /// A template or environment error with its place in the file.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Located(Box<LocatedError>),

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot reach the orchestration service at {url}: {source}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },

    #[error("{0}")]
    Config(String),
}

/// An error at a line and column of a file, shown with the source line when the text is known.
#[derive(Debug, Error, Diagnostic)]
#[error("{file}:{line}:{column}: {message}")]
#[diagnostic(code(ember::template))]
pub struct LocatedError {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
    #[source_code]
    pub source_text: Option<NamedSource<String>>,
    #[label("{path}")]
    pub span: Option<SourceSpan>,
    pub path: String,
}

impl From<std::io::Error> for CliError {
    fn from(source: std::io::Error) -> Self {
        CliError::Io {
            context: "cannot write output".into(),
            source,
        }
    }
}

impl CliError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        CliError::Io {
            context: context.into(),
            source,
        }
    }

    /// Whether the service said the thing asked for does not exist (HTTP 404).
    pub fn is_not_found(&self) -> bool {
        matches!(self, CliError::Api { status: 404, .. })
    }

    /// A template-crate error, pointed at its line in the text when the text is at hand.
    pub fn located(error: &ember_template::TemplateError, text: Option<&str>) -> Self {
        let loc = &error.location;
        let span = text.and_then(|t| offset_of(t, loc.span.line, loc.span.column));
        CliError::Located(Box::new(LocatedError {
            file: loc.file.to_string(),
            line: loc.span.line,
            column: loc.span.column,
            message: if loc.path.segments().is_empty() {
                error.message.clone()
            } else {
                format!("{} (at {})", error.message, loc.path)
            },
            source_text: span
                .and(text)
                .map(|t| NamedSource::new(loc.file.clone(), t.to_owned())),
            span: span.map(|o| SourceSpan::from((o, 1))),
            path: loc.path.to_string(),
        }))
    }
}

/// The byte offset of a 1-based line and column.
fn offset_of(text: &str, line: u32, column: u32) -> Option<usize> {
    if line == 0 {
        return None;
    }
    let line_start = if line == 1 {
        0
    } else {
        text.match_indices('\n').nth(line as usize - 2)?.0 + 1
    };
    let line_text = text[line_start..].split('\n').next().unwrap_or("");
    let col = line_text
        .char_indices()
        .nth(column.saturating_sub(1) as usize)
        .map_or(line_text.len(), |(i, _)| i);
    Some(line_start + col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_count_lines_and_columns_from_one() {
        let text = "ab\ncde\nf";
        assert_eq!(offset_of(text, 1, 1), Some(0));
        assert_eq!(offset_of(text, 2, 3), Some(5));
        assert_eq!(offset_of(text, 3, 1), Some(7));
        assert_eq!(offset_of(text, 9, 1), None);
    }
}
