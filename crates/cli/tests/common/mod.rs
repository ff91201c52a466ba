//! Test support: the built `ember` binary, and a stand-in Heat API that answers with responses
//! recorded from a real Heat 27 (`tests/fixtures/heat/*.json`).

#![allow(dead_code)]

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

/// The tenant id the recorded responses are rewritten to.
pub const TENANT: &str = "cb698c85c26444d68d426ee47c103cfd";

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// `ember` with a private store and no OpenStack credentials from the environment.
pub fn ember(store_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ember"));
    for (key, _) in std::env::vars() {
        if key.starts_with("OS_") || key.starts_with("EMBER_") || key.starts_with("CLIFF_") {
            cmd.env_remove(key);
        }
    }
    cmd.env(
        "EMBER_STORE_URL",
        format!("sqlite://{}?mode=rwc", store_dir.join("ember.db").display()),
    );
    cmd.env("HOME", store_dir);
    cmd.env("XDG_DATA_HOME", store_dir.join("data"));
    cmd
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

struct Recorded {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    status: u16,
    location: Option<String>,
    body: Value,
}

fn split_query(path_and_query: &str) -> (String, Vec<(String, String)>) {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let pairs = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    (decode(path), pairs)
}

fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// A stand-in Heat API on a free local port, serving the recorded exchanges of `fixture`. A
/// request matches a recording with the same method and path whose query parameters it all
/// has (the most specific wins).
pub struct FakeHeat {
    pub base: String,
    _runtime: tokio::runtime::Runtime,
}

impl FakeHeat {
    pub fn start(fixture: &str) -> Self {
        Self::start_on(fixture, 0)
    }

    pub fn start_on(fixture: &str, port: u16) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))
            .unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let text = std::fs::read_to_string(fixtures().join("heat").join(fixture))
            .unwrap()
            .replace("{BASE}", &base)
            .replace("{TENANT}", TENANT);
        let recorded: serde_json::Map<String, Value> = serde_json::from_str(&text).unwrap();
        let recorded: Arc<Vec<Recorded>> = Arc::new(
            recorded
                .values()
                .map(|r| {
                    let (path, query) = split_query(r["path"].as_str().unwrap());
                    Recorded {
                        method: r["method"].as_str().unwrap().to_owned(),
                        path: format!("/v1/{TENANT}{path}"),
                        query,
                        status: r["status"].as_u64().unwrap() as u16,
                        location: r["location"].as_str().map(str::to_owned),
                        body: r["body"].clone(),
                    }
                })
                .collect(),
        );
        let app = axum::Router::new().fallback(move |req: Request<Body>| {
            let recorded = recorded.clone();
            async move { answer(&recorded, &req) }
        });
        runtime.spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeHeat {
            base,
            _runtime: runtime,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("{}/v1/{TENANT}", self.base)
    }
}

/// Heat's name → id redirect for the parts of a stack (`/stacks/NAME/resources` → 302 to
/// `/stacks/NAME/ID/resources`), built from the recorded redirect of `/stacks/NAME`.
fn redirect_subpath(
    recorded: &[Recorded],
    path: &str,
    query: Option<&str>,
) -> Option<Response<Body>> {
    let stacks = format!("/v1/{TENANT}/stacks/");
    let rest = path.strip_prefix(&stacks)?;
    let (name, part) = rest.split_once('/')?;
    let lookup = recorded
        .iter()
        .find(|r| r.status == 302 && r.path == format!("{stacks}{name}"))?;
    let mut location = format!("{}/{part}", lookup.location.as_deref()?);
    if let Some(q) = query {
        location.push('?');
        location.push_str(q);
    }
    Some(
        Response::builder()
            .status(StatusCode::FOUND)
            .header("Location", location)
            .body(Body::empty())
            .unwrap(),
    )
}

fn answer(recorded: &[Recorded], req: &Request<Body>) -> Response<Body> {
    let (path, query) = split_query(
        req.uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/"),
    );
    let found = recorded
        .iter()
        .filter(|r| r.method == req.method().as_str() && r.path == path)
        .filter(|r| {
            r.query.iter().all(|(k, v)| {
                query
                    .iter()
                    .any(|(qk, qv)| qk == k && qv.eq_ignore_ascii_case(v))
            })
        })
        .max_by_key(|r| r.query.len());
    let Some(r) = found else {
        if let Some(response) = redirect_subpath(recorded, &path, req.uri().query()) {
            return response;
        }
        return Response::builder()
            .status(StatusCode::NOT_IMPLEMENTED)
            .body(Body::from(format!(
                "no recording for {} {path}",
                req.method()
            )))
            .unwrap();
    };
    let mut response = Response::builder()
        .status(r.status)
        .header("Content-Type", "application/json");
    if let Some(location) = &r.location {
        // Heat's redirects keep the query string of the request.
        let location = match req.uri().query() {
            Some(q) if r.status == 302 => format!("{location}?{q}"),
            _ => location.clone(),
        };
        response = response.header("Location", location);
    }
    let body = if r.body.is_null() {
        Body::empty()
    } else {
        Body::from(r.body.to_string())
    };
    response.body(body).unwrap()
}

/// A running `ember serve`, stopped when dropped.
pub struct Server {
    child: std::process::Child,
    /// `127.0.0.1:PORT`.
    pub bind: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `ember serve --bind 127.0.0.1:<free port> <args>` with `command`'s store and
/// environment, and waits until it listens.
pub fn serve(mut command: Command, args: &[&str]) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let bind = format!("127.0.0.1:{port}");
    let child = command
        .args(["serve", "--bind", &bind])
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("ember serve starts");
    let server = Server { child, bind };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect(&server.bind).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "ember serve did not listen on {}",
            server.bind
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    server
}
