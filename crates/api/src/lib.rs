//! ember-api: see ARCHITECTURE.md.
