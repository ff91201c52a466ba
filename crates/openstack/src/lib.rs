//! ember-openstack: see ARCHITECTURE.md.
