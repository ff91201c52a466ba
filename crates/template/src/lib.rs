//! ember-template: the template language (see ARCHITECTURE.md). No I/O.

mod block_yaml;
pub mod conditions;
pub mod environment;
pub mod error;
pub mod eval;
pub mod expr;
pub mod load;
pub mod node;
pub mod parameters;
mod pycompat;
pub mod stack;
pub mod template;
mod url;
pub mod validate;
pub mod version;

pub use error::{ErrorKind, TemplateError};
pub use eval::{EvalError, PlaceholderResolver, Reference, Resolver};
pub use expr::{Call, Expr};
pub use load::{parse_document, Limits};
pub use node::{Location, Node, NodeValue, Path, Span};
pub use stack::{StackDefinition, StackIdentity, StackInput, StackOutput, StackResource};
pub use template::{parse_template, OutputDefinition, ResourceDefinition, Template};
pub use validate::{validate, validate_definition, validate_with, ValidateOptions};
pub use version::{template_functions, template_versions, Version};
