//! ember-engine: see ARCHITECTURE.md.
