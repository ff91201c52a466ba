//! Request and response plumbing shared by every route: Heat's body rules, query parameters
//! with Heat's type checks, the public base URL, and Heat's non-error bodies (302, 202).

use axum::body::HttpBody;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};
use serde_json::{Map, Value};

use crate::fault::ApiError;
use crate::ApiState;

/// The request body as Heat reads it: JSON when there is one (`None` when empty or not JSON).
pub struct HeatBody(pub Option<Value>);

impl HeatBody {
    /// The body as an object, or the 400 Heat gives when a handler gets no usable body.
    pub fn object(self) -> Result<Map<String, Value>, ApiError> {
        match self.0 {
            Some(Value::Object(map)) => Ok(map),
            _ => Err(ApiError::bad_request(MALFORMED)),
        }
    }

    /// An object, or an empty one when there is no body (Heat's `body=None` defaults).
    pub fn object_or_empty(self) -> Result<Map<String, Value>, ApiError> {
        match self.0 {
            None => Ok(Map::new()),
            other => HeatBody(other).object(),
        }
    }
}

/// webob's generic 400 text, which Heat also uses for bodies of the wrong type.
pub const MALFORMED: &str =
    "The server could not comply with the request since it is either malformed or otherwise incorrect.";

impl FromRequest<ApiState> for HeatBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &ApiState) -> Result<Self, ApiError> {
        let limit = state.config.max_json_body_size;
        let too_big = |len: usize| {
            ApiError::from_heat_type(
                "RequestLimitExceeded",
                format!(
                    "Request limit exceeded: JSON body size ({len} bytes) exceeds maximum allowed size ({limit} bytes)."
                ),
            )
        };
        let declared: Option<usize> = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .or_else(|| {
                req.body()
                    .size_hint()
                    .exact()
                    .and_then(|n| usize::try_from(n).ok())
            });
        if let Some(len) = declared.filter(|len| *len > limit) {
            return Err(too_big(len));
        }
        let json_type = match req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
        {
            None => true,
            Some(ct) => {
                let ct = ct.split(';').next().unwrap_or("").trim();
                ct.is_empty()
                    || ct.starts_with("text/plain")
                    || ct == "application/json"
                    || ct == "JSON"
            }
        };
        let bytes = axum::body::to_bytes(req.into_body(), limit).await.map_err(|_| {
            // A body without Content-Length that outgrows the limit: its size is unknown.
            ApiError::http(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("Request limit exceeded: JSON body size exceeds maximum allowed size ({limit} bytes)."),
            )
        })?;
        // Heat parses a body only when it is JSON and starts with '{'; anything else is "no body".
        if bytes.is_empty() || !json_type || !bytes.starts_with(b"{") {
            return Ok(HeatBody(None));
        }
        serde_json::from_slice(&bytes)
            .map(|v| HeatBody(Some(v)))
            .map_err(|e| ApiError::bad_request(e.to_string()))
    }
}

/// The query string as ordered key/value pairs, decoded like a form.
#[derive(Debug, Clone, Default)]
pub struct Query(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(Query(parse_query(parts.uri.query().unwrap_or(""))))
    }
}

pub fn parse_query(query: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(kv), String::new()),
        })
        .collect()
}

/// How Heat reads one query parameter (`util.get_allowed_params` plus `param_utils`).
#[derive(Debug, Clone, Copy)]
pub enum ParamKind {
    /// Last value, as a string.
    Single,
    /// All values, as a list.
    Multi,
    /// One value as a string, several as a list.
    Mixed,
    /// `true`/`false` (any case).
    Bool,
    /// A non-negative integer.
    Int,
    /// A comma-separated list of tags of at most 80 characters.
    Tags,
}

impl Query {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    /// The parameters of `table` that are present and non-empty, converted as Heat does;
    /// others are ignored, as Heat ignores them.
    pub fn allowed(&self, table: &[(&str, ParamKind)]) -> Result<Map<String, Value>, ApiError> {
        let mut out = Map::new();
        for (name, kind) in table {
            let values = self.all(name);
            let Some(first) = values.first() else {
                continue;
            };
            let value = match kind {
                ParamKind::Single => Value::String(first.clone()),
                ParamKind::Multi => Value::from(values.clone()),
                ParamKind::Mixed if values.len() == 1 => Value::String(first.clone()),
                ParamKind::Mixed => Value::from(values.clone()),
                ParamKind::Bool => Value::Bool(parse_bool(name, first)?),
                ParamKind::Int => Value::from(parse_int(name, first)?),
                ParamKind::Tags => Value::from(parse_tags(first)?),
            };
            // Heat drops empty values (`if value:`), except explicit booleans and integers.
            if first.is_empty() && !matches!(kind, ParamKind::Multi) {
                continue;
            }
            out.insert(name.to_string(), value);
        }
        Ok(out)
    }

    pub fn bool_or(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        self.get(name).map_or(Ok(default), |v| parse_bool(name, v))
    }
}

pub fn parse_bool(name: &str, value: &str) -> Result<bool, ApiError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ApiError::bad_request(format!(
            "Unrecognized value \"{value}\" for \"{name}\", acceptable values are: true, false."
        ))),
    }
}

pub fn parse_int(name: &str, value: &str) -> Result<i64, ApiError> {
    let n: i64 = value
        .trim()
        .parse()
        .map_err(|_| ApiError::bad_request(format!("Only integer is acceptable by '{name}'.")))?;
    if n < 0 {
        return Err(ApiError::bad_request(format!(
            "Value '{value}' is invalid for '{name}' which only accepts non-negative integer."
        )));
    }
    Ok(n)
}

fn parse_tags(value: &str) -> Result<Vec<String>, ApiError> {
    let tags: Vec<String> = value.split(',').map(str::to_string).collect();
    if let Some(long) = tags.iter().find(|t| t.chars().count() > 80) {
        return Err(ApiError::bad_request(format!(
            "Invalid tag, \"{long}\" is longer than 80 characters"
        )));
    }
    Ok(tags)
}

/// The scheme and host clients reach this server at, for `Location` and `links`: the
/// configured public URL, else the request's `Host` (as Heat's `req.relative_url`).
#[derive(Debug, Clone)]
pub struct BaseUrl(pub String);

impl FromRequestParts<ApiState> for BaseUrl {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        if let Some(url) = &state.config.public_url {
            return Ok(BaseUrl(url.trim_end_matches('/').to_string()));
        }
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
            .unwrap_or_else(|| state.config.bind.to_string());
        Ok(BaseUrl(format!("http://{host}")))
    }
}

/// Characters escaped in a URL path segment built from names.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'?')
    .add(b'<')
    .add(b'>');

pub fn segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// Heat's 302: a `Location` header and webob's JSON body for it.
pub fn found(location: &str) -> Response {
    let body = serde_json::json!({
        "code": "302 Found",
        "message": format!(
            "The resource was found at <a href=\"{location}\">{location}</a>;\nyou should be redirected automatically.\n\n"
        ),
        "title": "Found",
    });
    let mut response = (StatusCode::FOUND, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// Heat's 202 for update, restore: webob's body for `HTTPAccepted`.
pub fn accepted() -> Response {
    let body = serde_json::json!({
        "code": "202 Accepted",
        "message": "The request is accepted for processing.<br /><br />\n\n\n",
        "title": "Accepted",
    });
    (StatusCode::ACCEPTED, axum::Json(body)).into_response()
}

/// Heat's 404 for a path no route knows (webob's page, not the fault body).
pub fn no_route() -> Response {
    let body = serde_json::json!({
        "code": "404 Not Found",
        "message": "The resource could not be found.<br /><br />\n\n\n",
        "title": "Not Found",
    });
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}

pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// 200 with a JSON body.
pub fn ok(value: Value) -> Response {
    axum::Json(value).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn query_types_follow_heat() {
        let q = Query(parse_query(
            "limit=2&show_deleted=True&sort_keys=a&sort_keys=b&name=x&tags=a,b&empty=",
        ));
        let p = q
            .allowed(&[
                ("limit", ParamKind::Int),
                ("show_deleted", ParamKind::Bool),
                ("sort_keys", ParamKind::Multi),
                ("name", ParamKind::Mixed),
                ("tags", ParamKind::Tags),
                ("empty", ParamKind::Single),
                ("absent", ParamKind::Single),
            ])
            .unwrap();
        assert_eq!(
            Value::Object(p),
            serde_json::json!({"limit": 2, "show_deleted": true, "sort_keys": ["a", "b"],
                               "name": "x", "tags": ["a", "b"]})
        );
        let err = Query(parse_query("limit=abc"))
            .allowed(&[("limit", ParamKind::Int)])
            .unwrap_err();
        assert_eq!(err.message, "Only integer is acceptable by 'limit'.");
        let err = Query(parse_query("limit=-1"))
            .allowed(&[("limit", ParamKind::Int)])
            .unwrap_err();
        assert_eq!(
            err.message,
            "Value '-1' is invalid for 'limit' which only accepts non-negative integer."
        );
        let err = parse_bool("show_deleted", "maybe").unwrap_err();
        assert_eq!(
            err.message,
            "Unrecognized value \"maybe\" for \"show_deleted\", acceptable values are: true, false."
        );
    }

    #[test]
    fn query_decoding() {
        assert_eq!(
            parse_query("a=b%20c&d=e+f&flag"),
            vec![
                ("a".into(), "b c".into()),
                ("d".into(), "e f".into()),
                ("flag".into(), "".into())
            ]
        );
    }

    proptest! {
        #[test]
        fn any_query_string_parses_without_panic(q in ".{0,200}") {
            let query = Query(parse_query(&q));
            let _ = query.allowed(&[("limit", ParamKind::Int), ("x", ParamKind::Bool), ("t", ParamKind::Tags)]);
        }
    }
}
