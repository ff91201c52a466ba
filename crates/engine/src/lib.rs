//! ember-engine: stacks and their lifecycle (see ARCHITECTURE.md).
//!
//! - [`resource::ResourceType`]: the trait every resource type implements, with its
//!   [`schema::TypeSchema`]; [`registry::Registry`] maps type names to implementations.
//! - [`service::Service`]: the facade the CLI and the API call; it returns Heat-shaped JSON.
//! - [`store::StateStore`]: the persistence the engine needs.

pub mod cloud;
pub mod definition;
pub mod engine;
pub mod error;
pub mod graph;
pub mod model;
pub mod nested;
pub mod registry;
pub mod resource;
pub mod schema;
pub mod service;
mod snapshot;
pub mod software;
pub mod stack_domain;
pub mod store;
pub mod store_adapter;
pub mod template_compiler;

pub use cloud::{CloudProvider, TrustId};
pub use definition::{Compiler, Evaluate, Resolver, StackDefinition, Validation};
pub use engine::{EngineConfig, StatusChange};
pub use error::{EngineError, ResourceError};
pub use registry::Registry;
pub use resource::{CloudHandle, Progress, Properties, ResourceContext, ResourceType, Started};
pub use service::{EventQuery, RequestContext, Service, StackAction, StackRequest};
pub use template_compiler::TemplateCompiler;
