//! ember-openstack: talking to OpenStack services (see ARCHITECTURE.md).
//!
//! A [`Session`] authenticates against Keystone v3 (password, token or application credential;
//! project, domain or trust scope) from a [`CloudConfig`] built from `OS_*` variables,
//! `clouds.yaml` or the caller. [`Session::service`] gives a [`ServiceClient`] at the catalog
//! endpoint of the configured region and interface; its requests have timeouts, are retried with
//! backoff when that is safe, and are counted per service ([`Session::call_counts`]). The
//! `services` modules add the calls resource types need, including status polling with backoff
//! that stops at the first failure status with the service's own message.

pub mod catalog;
pub mod config;
pub mod error;
pub mod retry;
pub mod services;
pub mod session;

pub use catalog::{Catalog, Interface, ServiceType};
pub use config::{CloudConfig, Credentials, NameOrId, Reauthentication, Scope, Timeouts};
pub use error::Error;
pub use retry::{poll, Poll, PollPolicy, RetryPolicy};
pub use session::{Request, Response, ServiceClient, Session, Token};
