//! ember-template: the template language (see ARCHITECTURE.md). No I/O.

pub mod node;

pub use node::{Location, Node, NodeValue, Path, Span};
