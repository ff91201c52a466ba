//! Retry, re-authentication and error-mapping behaviour against a scripted local cloud (the
//! lab cannot be made to fail on demand).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ember_openstack::{
    CloudConfig, Credentials, Error, Interface, NameOrId, RetryPolicy, Scope, ServiceType, Session,
    Timeouts,
};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the fake cloud saw: (method, path, token header).
type Seen = Arc<Mutex<Vec<(String, String, Option<String>)>>>;

/// A reply: status, extra header lines, body.
type Reply = (u16, Vec<String>, String);

/// Serve `script(method, path, index of this request for that path)` on a random port; the
/// catalog of every token points the network service back at the same server.
async fn fake_cloud(
    script: impl Fn(&str, &str, usize, &str) -> Reply + Send + Sync + 'static,
) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let script = Arc::new(script);
    let (seen_task, base_task) = (seen.clone(), base.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let (seen, script, base) = (seen_task.clone(), script.clone(), base_task.clone());
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    let n = socket.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap_or(0))
                    })
                    .unwrap_or(0);
                while buffer.len() < head_end + length {
                    let n = socket.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                }
                let mut first = head.lines().next().unwrap_or("").split(' ');
                let method = first.next().unwrap_or("").to_string();
                let path = first.next().unwrap_or("").to_string();
                let token = head.lines().find_map(|l| {
                    l.to_ascii_lowercase()
                        .starts_with("x-auth-token:")
                        .then(|| l[13..].trim().to_string())
                });
                let index = {
                    let mut seen = seen.lock().unwrap();
                    let index = seen
                        .iter()
                        .filter(|(m, p, _)| *m == method && *p == path)
                        .count();
                    seen.push((method.clone(), path.clone(), token));
                    index
                };
                let (status, headers, body) = script(&method, &path, index, &base);
                let mut answer = format!("HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
                for header in headers {
                    answer.push_str(&header);
                    answer.push_str("\r\n");
                }
                answer.push_str("\r\n");
                answer.push_str(&body);
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    (base, seen)
}

/// Keystone's answer to `POST /v3/auth/tokens`, token `tok<n>`.
fn token_reply(n: usize, base: &str) -> Reply {
    let body = json!({"token": {
        "expires_at": "2999-01-01T00:00:00.000000Z",
        "user": {"id": "u1"}, "project": {"id": "p1"}, "roles": [],
        "catalog": [{"type": "network", "endpoints": [
            {"interface": "public", "region_id": "RegionOne", "url": base}]}]}});
    (
        201,
        vec![format!("X-Subject-Token: tok{n}")],
        body.to_string(),
    )
}

fn config(base: &str) -> CloudConfig {
    CloudConfig {
        auth_url: format!("{base}/v3"),
        credentials: Credentials::Password {
            user: NameOrId::Id("u1".into()),
            password: "p".into(),
        },
        scope: Scope::Project(NameOrId::Id("p1".into())),
        region: Some("RegionOne".into()),
        interface: Interface::Public,
        timeouts: Timeouts {
            connect: Duration::from_secs(2),
            request: Duration::from_secs(2),
        },
        insecure: false,
        reauthentication: None,
    }
}

fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
    }
}

#[tokio::test]
async fn idempotent_calls_are_retried_on_409_and_5xx_until_success() {
    let (base, seen) = fake_cloud(|method, path, index, base| match (method, path) {
        ("POST", "/v3/auth/tokens") => token_reply(index, base),
        ("GET", "/v2.0/networks") if index < 2 => (503, vec![], "{}".into()),
        ("DELETE", "/v2.0/networks/n1") if index < 1 => (
            409,
            vec![],
            r#"{"NeutronError": {"message": "ports in use"}}"#.into(),
        ),
        _ => (200, vec![], r#"{"networks": []}"#.into()),
    })
    .await;
    let session = Session::connect_with(config(&base), quick_retries())
        .await
        .unwrap();
    let network = session.service(ServiceType::Network).await.unwrap();
    assert_eq!(network.endpoint(), format!("{base}/v2.0"));
    network.get("/networks").send_json().await.unwrap();
    network.delete("/networks/n1").send().await.unwrap();
    let gets = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(m, _, _)| m == "GET")
        .count();
    assert_eq!(gets, 3, "two 503s then success");
    assert_eq!(session.call_counts()[&ServiceType::Network], 5);
    assert_eq!(session.call_counts()[&ServiceType::Identity], 1);
}

#[tokio::test]
async fn post_is_not_retried_on_500_and_the_service_message_is_kept() {
    let (base, seen) = fake_cloud(|method, path, index, base| match (method, path) {
        ("POST", "/v3/auth/tokens") => token_reply(index, base),
        _ => (500, vec!["X-Openstack-Request-Id: req-42".into()],
              r#"{"NeutronError": {"type": "Boom", "message": "Request Failed: internal server error while processing your request.", "detail": ""}}"#.into()),
    }).await;
    let session = Session::connect_with(config(&base), quick_retries())
        .await
        .unwrap();
    let network = session.service(ServiceType::Network).await.unwrap();
    let error = network
        .post("/networks", json!({"network": {}}))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(500));
    assert_eq!(error.to_string(), "Request Failed: internal server error while processing your request. (HTTP 500) (Request-ID: req-42)");
    assert_eq!(
        seen.lock()
            .unwrap()
            .iter()
            .filter(|(m, p, _)| m == "POST" && p == "/v2.0/networks")
            .count(),
        1
    );
    // Retries are bounded: a GET that keeps failing gives up after max_retries.
    let error = network.get("/networks").send().await.unwrap_err();
    assert_eq!(error.status(), Some(500));
    assert_eq!(
        seen.lock()
            .unwrap()
            .iter()
            .filter(|(m, _, _)| m == "GET")
            .count(),
        4
    );
}

#[tokio::test]
async fn a_401_renews_the_token_once() {
    let (base, seen) = fake_cloud(|method, path, index, base| match (method, path) {
        ("POST", "/v3/auth/tokens") => token_reply(index, base),
        ("GET", "/v2.0/ports") => (401, vec![], r#"{"error": {"code": 401, "message": "The request you have made requires authentication."}}"#.into()),
        (_, _) if index == 0 => (401, vec![], "{}".into()),
        _ => (200, vec![], r#"{"networks": []}"#.into()),
    }).await;
    let session = Session::connect_with(config(&base), quick_retries())
        .await
        .unwrap();
    let network = session.service(ServiceType::Network).await.unwrap();
    network.get("/networks").send_json().await.unwrap();
    {
        let seen = seen.lock().unwrap();
        let tokens: Vec<_> = seen
            .iter()
            .filter(|(_, p, _)| p == "/v2.0/networks")
            .map(|(_, _, t)| t.clone().unwrap_or_default())
            .collect();
        assert_eq!(
            tokens,
            vec!["tok0", "tok1"],
            "the rejected token was replaced by a new one"
        );
    }
    // A token that is rejected again is an error, not a loop.
    let error = network.get("/ports").send().await.unwrap_err();
    assert_eq!(error.status(), Some(401));
    assert!(error
        .to_string()
        .starts_with("The request you have made requires authentication."));
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_reported() {
    // Bind and drop to get a port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let started = std::time::Instant::now();
    let error = Session::connect_with(config(&base), quick_retries())
        .await
        .err()
        .expect("nothing listens");
    assert!(
        matches!(
            error,
            Error::Transport {
                service: ServiceType::Identity,
                ..
            }
        ),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

// The scripted server blocks its thread while "slow": give it one of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_service_times_out() {
    let (base, _) = fake_cloud(|method, path, index, base| match (method, path) {
        ("POST", "/v3/auth/tokens") => token_reply(index, base),
        _ => {
            std::thread::sleep(Duration::from_millis(2500));
            (200, vec![], "{}".into())
        }
    })
    .await;
    let session = Session::connect_with(config(&base), RetryPolicy::none())
        .await
        .unwrap();
    let network = session.service(ServiceType::Network).await.unwrap();
    let error = network.get("/networks").send().await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Timeout {
                service: ServiceType::Network,
                secs: 2
            }
        ),
        "{error}"
    );
}
