//! ember-template: see ARCHITECTURE.md.
