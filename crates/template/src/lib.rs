//! ember-template: the template language (see ARCHITECTURE.md). No I/O.

pub mod error;
pub mod load;
pub mod node;

pub use error::{ErrorKind, TemplateError};
pub use load::{parse_document, Limits};
pub use node::{Location, Node, NodeValue, Path, Span};
