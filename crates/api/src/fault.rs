//! Heat's error body and the mapping from Heat exception class names to HTTP statuses.
//!
//! Every error leaves the server as
//! `{"explanation", "code", "error": {"message", "traceback", "type"}, "title"}`, the shape of
//! Heat's fault middleware, so heatclient prints the `message` and scripts can match `type`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error to answer with Heat's fault body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error_type}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    /// Heat's exception class name (`StackValidationFailed`, `HTTPNotFound`, ...).
    pub error_type: String,
    pub message: String,
    /// Methods allowed on the path, sent as `Allow` with a 405.
    pub allow: Option<String>,
}

impl ApiError {
    /// An error raised by the engine, named by Heat's exception class; the status follows
    /// Heat's fault middleware table (unknown classes are server errors there, but every class
    /// the engine raises is in the table).
    pub fn from_heat_type(error_type: &str, message: impl Into<String>) -> Self {
        ApiError {
            status: status_for_heat_type(error_type),
            error_type: error_type.to_string(),
            message: message.into(),
            allow: None,
        }
    }

    /// An error raised by the API layer itself; Heat names these after the webob class.
    pub fn http(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            error_type: webob_class(status).to_string(),
            message: message.into(),
            allow: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::http(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::http(StatusCode::NOT_FOUND, message)
    }

    pub fn forbidden() -> Self {
        Self::http(StatusCode::FORBIDDEN, "Access was denied to this resource.")
    }

    pub fn method_not_allowed(allow: &str) -> Self {
        ApiError {
            allow: Some(allow.to_string()),
            ..Self::http(
                StatusCode::METHOD_NOT_ALLOWED,
                "The server could not comply with the request since it is either malformed or otherwise incorrect.",
            )
        }
    }

    /// The JSON body Heat sends for this error.
    pub fn body(&self) -> serde_json::Value {
        json!({
            "explanation": explanation(self.status),
            "code": self.status.as_u16(),
            "error": {
                "message": self.message,
                "traceback": null,
                "type": self.error_type,
            },
            "title": title(self.status),
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(allow) = self
            .allow
            .as_deref()
            .and_then(|a| HeaderValue::from_str(a).ok())
        {
            response.headers_mut().insert(header::ALLOW, allow);
        }
        response
    }
}

/// Heat's `FaultWrapper.error_map`, walked by class name; base classes resolve the same way
/// because the engine reports the most specific Heat name it has.
pub fn status_for_heat_type(error_type: &str) -> StatusCode {
    match error_type {
        "ActionInProgress" | "StackExists" | "Conflict" => StatusCode::CONFLICT,
        "EntityNotFound"
        | "NotFound"
        | "ResourceNotAvailable"
        | "ResourceNotFound"
        | "StackNotFound"
        | "SnapshotNotFound"
        | "HTTPNotFound" => StatusCode::NOT_FOUND,
        "InvalidTenant" | "Forbidden" | "HTTPForbidden" => StatusCode::FORBIDDEN,
        "HTTPUnauthorized" | "Unauthorized" => StatusCode::UNAUTHORIZED,
        "RequestEntityTooLarge" | "HTTPRequestEntityTooLarge" => StatusCode::PAYLOAD_TOO_LARGE,
        "AttributeError"
        | "ValueError"
        | "ResourceActionNotSupported"
        | "PhysicalResourceNameAmbiguity"
        | "PhysicalResourceIDAmbiguity"
        | "StackValidationFailed"
        | "InvalidSchemaError"
        | "InvalidTemplateReference"
        | "InvalidTemplateVersion"
        | "InvalidTemplateSection"
        | "UnknownUserParameter"
        | "NotSupported"
        | "MissingCredentialError"
        | "UserParameterMissing"
        | "RequestLimitExceeded"
        | "DownloadLimitExceeded"
        | "Invalid"
        | "ResourcePropertyConflict"
        | "PropertyUnspecifiedError"
        | "ObjectFieldInvalid"
        | "ReadOnlyFieldError"
        | "ObjectActionError"
        | "ResourceTypeUnavailable"
        | "InvalidBreakPointHook"
        | "ImmutableParameterModified"
        | "CircularDependencyException"
        | "ResourceActionRestricted"
        | "InvalidTemplateAttribute"
        | "InvalidResourceType"
        | "ResourceTypeNotFound"
        | "TemplateResourceNotFound"
        | "HTTPBadRequest" => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn webob_class(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "HTTPBadRequest",
        StatusCode::UNAUTHORIZED => "HTTPUnauthorized",
        StatusCode::FORBIDDEN => "HTTPForbidden",
        StatusCode::NOT_FOUND => "HTTPNotFound",
        StatusCode::METHOD_NOT_ALLOWED => "HTTPMethodNotAllowed",
        StatusCode::CONFLICT => "HTTPConflict",
        StatusCode::PAYLOAD_TOO_LARGE => "HTTPRequestEntityTooLarge",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "HTTPUnsupportedMediaType",
        _ => "HTTPInternalServerError",
    }
}

/// webob's title for the status.
fn title(status: StatusCode) -> &'static str {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => "Request Entity Too Large",
        other => other.canonical_reason().unwrap_or("Error"),
    }
}

/// webob's class-level `explanation` text, which Heat copies into the body.
fn explanation(status: StatusCode) -> &'static str {
    match status {
        // Heat's 405 carries the 400 text (measured on Heat 27).
        StatusCode::BAD_REQUEST | StatusCode::METHOD_NOT_ALLOWED => "The server could not comply with the request since it is either malformed or otherwise incorrect.",
        StatusCode::UNAUTHORIZED => "This server could not verify that you are authorized to access the document you requested.  Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand how to supply the credentials required.",
        StatusCode::FORBIDDEN => "Access was denied to this resource.",
        StatusCode::NOT_FOUND => "The resource could not be found.",
        StatusCode::CONFLICT => "There was a conflict when trying to complete your request.",
        StatusCode::PAYLOAD_TOO_LARGE => "The body of your request was too large for this server.",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "The request media type is not supported by this server.",
        _ => "The server has either erred or is incapable of performing the requested operation.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_failure_is_400_with_heat_shape() {
        let err = ApiError::from_heat_type("StackValidationFailed", "Property error: x");
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        let body = err.body();
        assert_eq!(body["code"], 400);
        assert_eq!(body["title"], "Bad Request");
        assert_eq!(body["error"]["type"], "StackValidationFailed");
        assert_eq!(body["error"]["message"], "Property error: x");
        assert!(body["error"]["traceback"].is_null());
    }

    #[test]
    fn heat_class_table_matches_fault_middleware() {
        assert_eq!(
            status_for_heat_type("ActionInProgress"),
            StatusCode::CONFLICT
        );
        assert_eq!(status_for_heat_type("StackExists"), StatusCode::CONFLICT);
        assert_eq!(
            status_for_heat_type("EntityNotFound"),
            StatusCode::NOT_FOUND
        );
        assert_eq!(status_for_heat_type("InvalidTenant"), StatusCode::FORBIDDEN);
        assert_eq!(
            status_for_heat_type("RequestLimitExceeded"),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status_for_heat_type("SomethingElse"),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
