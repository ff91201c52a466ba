//! ember-yaql: see ARCHITECTURE.md.
