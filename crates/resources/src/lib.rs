//! ember-resources: see ARCHITECTURE.md.
