//! `make_url`: a URL built from its parts with Python `urllib.parse` quoting rules, as Heat builds
//! it (the query is form-encoded and `%2F` is put back as `/`).

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

use crate::error::{ErrorKind, TemplateError};
use crate::expr::Call;
use crate::pycompat;

/// What `urllib.parse.quote` never escapes.
const ALWAYS_SAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~');
const PATH_SAFE: &AsciiSet = &ALWAYS_SAFE.remove(b'/');
const HOST_SAFE: &AsciiSet = &ALWAYS_SAFE.remove(b':');

/// Schemes Python's `urlunsplit` writes with `//` even without a host.
const NETLOC_SCHEMES: &[&str] = &[
    "",
    "ftp",
    "http",
    "gopher",
    "nntp",
    "telnet",
    "imap",
    "wais",
    "file",
    "mms",
    "https",
    "shttp",
    "snews",
    "prospero",
    "rtsp",
    "rtsps",
    "rtspu",
    "rsync",
    "svn",
    "svn+ssh",
    "sftp",
    "nfs",
    "git",
    "git+ssh",
    "ws",
    "wss",
    "itms-services",
];

fn quote(s: &str, safe: &'static AsciiSet) -> String {
    utf8_percent_encode(s, safe).to_string()
}

/// `quote_plus`: like quote with nothing safe, but spaces become `+`.
fn quote_plus(s: &str) -> String {
    s.split(' ')
        .map(|part| quote(part, ALWAYS_SAFE))
        .collect::<Vec<_>>()
        .join("+")
}

pub(crate) fn make_url(call: &Call, args: &Value) -> Result<String, TemplateError> {
    let name = call.name.as_str();
    let fail =
        |message: String| TemplateError::new(ErrorKind::Evaluation, call.location.clone(), message);
    let Value::Object(args) = args else {
        return Err(fail(format!("The arguments to \"{name}\" must be a map")));
    };
    let text = |key: &str| -> Result<String, TemplateError> {
        match args.get(key) {
            None => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(fail(format!(
                "The \"{key}\" argument to \"{name}\" must be a string"
            ))),
        }
    };
    let scheme = text("scheme")?;
    if scheme.contains(':') {
        return Err(fail("URL \"scheme\" should not contain ':'".to_string()));
    }
    let username = quote(&text("username")?, ALWAYS_SAFE);
    let password = quote(&text("password")?, ALWAYS_SAFE);
    let mut netloc = String::new();
    if !username.is_empty() || !password.is_empty() {
        netloc.push_str(&username);
        if !password.is_empty() {
            netloc.push(':');
            netloc.push_str(&password);
        }
        netloc.push('@');
    }
    let mut host = text("host")?;
    if host.starts_with('[') && host.ends_with(']') && host.len() >= 2 {
        host = host[1..host.len() - 1].to_string();
    }
    let host = quote(&host, HOST_SAFE);
    if host.contains(':') {
        netloc.push_str(&format!("[{host}]"));
    } else {
        netloc.push_str(&host);
    }
    match args.get("port") {
        None | Some(Value::Null) => {}
        Some(port) => {
            let number = match port {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            };
            match number {
                Some(p) if (1..=65535).contains(&p) => {}
                Some(p) => {
                    return Err(fail(format!(
                        "Invalid URL port {p}, must be in range 1-65535"
                    )))
                }
                None => {
                    return Err(fail(format!(
                        "Invalid URL port \"{}\" for {name}",
                        pycompat::str_of(port)
                    )))
                }
            }
            let port_text = pycompat::str_of(port);
            if !port_text.is_empty() {
                netloc.push(':');
                netloc.push_str(&port_text);
            }
        }
    }
    let path = quote(&text("path")?, PATH_SAFE);
    let query = match args.get("query") {
        None | Some(Value::Null) => String::new(),
        Some(Value::Object(q)) => q
            .iter()
            .map(|(k, v)| format!("{}={}", quote_plus(k), quote_plus(&pycompat::str_of(v))))
            .collect::<Vec<_>>()
            .join("&")
            .replace("%2F", "/"),
        Some(_) => {
            return Err(fail(format!(
                "The \"query\" argument to \"{name}\" must be a map"
            )))
        }
    };
    let fragment = quote(&text("fragment")?, PATH_SAFE);

    // urlunsplit
    let mut url = path;
    if !netloc.is_empty()
        || (!scheme.is_empty()
            && NETLOC_SCHEMES.contains(&scheme.as_str())
            && !url.starts_with("//"))
    {
        if !url.is_empty() && !url.starts_with('/') {
            url.insert(0, '/');
        }
        url = format!("//{netloc}{url}");
    }
    if !scheme.is_empty() {
        url = format!("{scheme}:{url}");
    }
    if !query.is_empty() {
        url.push('?');
        url.push_str(&query);
    }
    if !fragment.is_empty() {
        url.push('#');
        url.push_str(&fragment);
    }
    Ok(url)
}
