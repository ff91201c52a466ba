//! The one error type of the template crate: every error is located and carries Heat's message.

use thiserror::Error;

use crate::node::Location;

/// What kind of failure an error is, so callers (the API) can map it to Heat's error classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The text is not valid YAML/JSON.
    Syntax,
    /// A size, depth, node-count or evaluation budget was exceeded (Heat's RequestLimitExceeded).
    Limit,
    /// The template's structure is wrong: version, sections, keys (Heat's InvalidTemplate...).
    Structure,
    /// A function call is malformed or unknown in this version.
    Function,
    /// A reference to an unknown parameter, resource, attribute, condition or file.
    Reference,
    /// A dependency cycle or bad `depends_on`.
    Dependency,
    /// A parameter value or definition is invalid.
    Parameter,
    /// A value was given for a parameter the template does not declare (Heat's
    /// UnknownUserParameter, a class of its own so the API can answer with it).
    UnknownParameter,
    /// The template's version key is missing, unknown or ambiguous (Heat's InvalidTemplateVersion).
    InvalidVersion,
    /// Evaluating a function failed on the values it got.
    Evaluation,
}

/// A located template error. `message` is Heat's text; `Display` prefixes the location.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{location}: {message}")]
pub struct TemplateError {
    pub kind: ErrorKind,
    pub location: Location,
    pub message: String,
}

impl TemplateError {
    pub fn new(kind: ErrorKind, location: Location, message: impl Into<String>) -> Self {
        Self {
            kind,
            location,
            message: message.into(),
        }
    }
}
