//! ember-resources: the resource types (see ARCHITECTURE.md).
//!
//! Each namespace module exposes `register(&mut Registry)`; [`registry`] builds the global
//! registry from all of them. To add a namespace (e.g. `openstack/`), add its module here and
//! one line in [`registry`].

pub mod aws;
pub mod heat;
pub mod openstack;

use ember_engine::Registry;

/// The global registry with every built-in resource type.
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    heat::register(&mut registry);
    openstack::register(&mut registry);
    aws::register(&mut registry);
    registry
}
