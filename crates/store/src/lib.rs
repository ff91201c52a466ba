//! ember-store: see ARCHITECTURE.md.
