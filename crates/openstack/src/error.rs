//! Errors of every call into an OpenStack service.

use crate::catalog::ServiceType;

/// Everything that can go wrong talking to a cloud.
///
/// `Api` carries the message the service itself put in its error body (Nova's
/// `{"itemNotFound": {"message": ..}}`, Neutron's `{"NeutronError": {"message": ..}}`, Keystone's
/// `{"error": {"message": ..}}`, Glance's plain text), so a resource can show it as its status reason.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Credentials or cloud selection are missing or inconsistent.
    #[error("cloud configuration: {0}")]
    Config(String),
    /// The service catalog has no endpoint for the service in the selected region and interface.
    #[error("no {interface} endpoint for service {service} in region {region}")]
    NoEndpoint {
        service: ServiceType,
        region: String,
        interface: String,
    },
    /// The service answered with an error status.
    #[error("{message} (HTTP {status}){}", request_id.as_deref().map(|r| format!(" (Request-ID: {r})")).unwrap_or_default())]
    Api {
        service: ServiceType,
        status: u16,
        message: String,
        request_id: Option<String>,
    },
    /// The request could not be sent or the answer not received (connection refused, reset, ...).
    #[error("{service} request failed: {source}")]
    Transport {
        service: ServiceType,
        #[source]
        source: reqwest::Error,
    },
    /// The service did not answer within the request timeout.
    #[error("{service} did not answer within {secs} s")]
    Timeout { service: ServiceType, secs: u64 },
    /// The answer was not what the API documents.
    #[error("{service} returned an unexpected answer: {detail}")]
    Decode {
        service: ServiceType,
        detail: String,
    },
    /// A polled resource reached a failure status; `message` is the service's own reason
    /// (Nova's `fault.message`, Cinder's user message, Glance's import failure).
    #[error("{kind} {id} went to status {status}: {message}")]
    Failed {
        kind: &'static str,
        id: String,
        status: String,
        message: String,
    },
    /// A polled resource did not reach the wanted status before the deadline.
    #[error("{kind} {id} is still {status} after {secs} s")]
    PollTimeout {
        kind: &'static str,
        id: String,
        status: String,
        secs: u64,
    },
    /// A lookup by name or id found nothing.
    #[error("The {kind} ({name}) could not be found.")]
    NotFound { kind: &'static str, name: String },
    /// A lookup by name found several.
    #[error("Multiple {kind} matches found for name '{name}', use an ID to be more specific.")]
    Ambiguous { kind: &'static str, name: String },
}

impl Error {
    /// The HTTP status of an `Api` error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True when the thing asked for does not exist (HTTP 404 or a failed lookup): a delete treats
    /// this as success.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. }) || self.status() == Some(404)
    }

    /// True for HTTP 409.
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }

    /// The class name Heat gives this error in a resource's status reason
    /// (`Resource CREATE failed: <Class>: resources.<name>: <message>`).
    pub fn heat_class(&self) -> &'static str {
        match self {
            Error::Api { status, .. } => match status {
                400 => "BadRequest",
                401 => "Unauthorized",
                403 => "Forbidden",
                404 => "NotFound",
                409 => "Conflict",
                413 | 429 => "OverLimit",
                503 => "ServiceUnavailable",
                _ => "InternalServerError",
            },
            Error::NotFound { .. } => "NotFound",
            Error::Ambiguous { .. } => "PhysicalResourceNameAmbiguity",
            Error::Failed { .. } => "ResourceInError",
            Error::PollTimeout { .. } | Error::Timeout { .. } => "Timeout",
            Error::Config(_) | Error::NoEndpoint { .. } => "AuthorizationFailure",
            Error::Transport { .. } => "ConnectFailure",
            Error::Decode { .. } => "InternalServerError",
        }
    }
}

/// Pull the human message out of an OpenStack error body. Each service wraps it differently;
/// when nothing is recognised the body text itself (bounded) is the message.
pub(crate) fn service_message(body: &str) -> String {
    const MAX: usize = 2000;
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(body) {
        if let Some(message) = find_message(&value) {
            return bounded(message.trim(), MAX);
        }
    }
    // Glance and some WSGI middlewares answer with text or HTML: drop the tags, keep the words.
    let mut text = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    bounded(&text.split_whitespace().collect::<Vec<_>>().join(" "), MAX)
}

fn find_message(value: &serde_json::Value) -> Option<&str> {
    let object = value.as_object()?;
    if let Some(message) = object.get("message").and_then(|m| m.as_str()) {
        return Some(message);
    }
    if let Some(fault) = object.get("faultstring").and_then(|m| m.as_str()) {
        return Some(fault);
    }
    // {"itemNotFound": {...}}, {"NeutronError": {...}}, {"error": {...}}, {"badRequest": {...}}
    object.values().find_map(|inner| {
        inner
            .as_object()
            .and_then(|o| o.get("message"))
            .and_then(|m| m.as_str())
    })
}

fn bounded(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn messages_of_each_service_shape() {
        assert_eq!(
            service_message(
                r#"{"itemNotFound": {"code": 404, "message": "Flavor m9 could not be found."}}"#
            ),
            "Flavor m9 could not be found."
        );
        assert_eq!(
            service_message(
                r#"{"NeutronError": {"type": "NetworkInUse", "message": "Unable to complete operation on network n.", "detail": ""}}"#
            ),
            "Unable to complete operation on network n."
        );
        assert_eq!(
            service_message(
                r#"{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}"#
            ),
            "The request you have made requires authentication."
        );
        assert_eq!(
            service_message("<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1>No image found with ID x<br /><br /></body></html>"),
            "404 Not Found 404 Not Found No image found with ID x"
        );
    }

    #[test]
    fn display_includes_status_and_request_id() {
        let error = Error::Api {
            service: ServiceType::Network,
            status: 409,
            message: "in use".into(),
            request_id: Some("req-1".into()),
        };
        assert_eq!(error.to_string(), "in use (HTTP 409) (Request-ID: req-1)");
        assert!(error.is_conflict());
        assert_eq!(error.heat_class(), "Conflict");
    }

    proptest! {
        #[test]
        fn any_body_gives_a_bounded_message(body in ".{0,5000}") {
            let message = service_message(&body);
            prop_assert!(message.chars().count() <= 2003);
        }
    }
}
