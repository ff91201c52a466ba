//! OS::Aodh::* alarms against the lab's Aodh and Gnocchi (`LAB_SERVICES="default aodh"`), and
//! the refusal of the seed's autoscaling template as Heat refuses it.

mod common;
mod lab_types;

use std::time::{Duration, Instant};

use ember_openstack::services::identity::Identity;
use ember_openstack::{ServiceClient, ServiceType, Session};
use lab_types::{lab, suffix, Res};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

#[tokio::test]
async fn seed_autoscaling_template_lacks_what_heat_requires() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/seed/autoscaling.yaml"
    );
    let template = std::fs::read_to_string(path).expect("the seed's autoscaling.yaml");
    let svc = common::service();
    let err = svc
        .create_stack(&common::cx(), common::request("seed-as", &template))
        .await
        .unwrap_err();
    assert_eq!(err.heat_type(), "StackValidationFailed");
    // Heat checks the alarm's required properties in schema order: `query` before
    // `resource_type`. Either alarm may be the first one validated.
    let message = err.to_string();
    assert!(
        [
            "Property error: resources.cpu_alarm_high.properties: Property query not assigned",
            "Property error: resources.cpu_alarm_low.properties: Property query not assigned",
        ]
        .contains(&message.as_str()),
        "{message}"
    );
}

#[test]
fn required_properties_are_heats() {
    let registry = ember_resources::registry();
    for (type_name, missing) in [
        (
            "OS::Aodh::GnocchiAggregationByResourcesAlarm",
            json!({"metric": "m", "query": "{}", "threshold": 1}),
        ),
        (
            "OS::Aodh::GnocchiResourcesAlarm",
            json!({"metric": "m", "resource_type": "instance", "threshold": 1}),
        ),
        ("OS::Aodh::GnocchiAggregationByMetricsAlarm", json!({})),
        ("OS::Aodh::Alarm", json!({"meter_name": "cpu_util"})),
        ("OS::Aodh::CompositeAlarm", json!({})),
    ] {
        let error = Res::try_new(&registry, type_name, "a", missing).err();
        let expected = match type_name {
            "OS::Aodh::GnocchiAggregationByResourcesAlarm" => "Property resource_type not assigned",
            "OS::Aodh::GnocchiResourcesAlarm" => "Property resource_id not assigned",
            "OS::Aodh::GnocchiAggregationByMetricsAlarm" => "Property metrics not assigned",
            "OS::Aodh::Alarm" => "Property threshold not assigned",
            _ => "Property composite_rule not assigned",
        };
        assert!(
            error.as_deref().is_some_and(|e| e.ends_with(expected)),
            "{type_name}: {error:?}"
        );
    }
    // An event alarm needs nothing.
    assert!(Res::try_new(&registry, "OS::Aodh::EventAlarm", "a", json!({})).is_ok());
}

/// One notification Aodh sent: path, auth token (if any), body.
struct Notification {
    path: String,
    token: Option<String>,
    body: Value,
}

/// A webhook on 127.0.0.1 that records every POST it gets; returns its base URL.
async fn webhook() -> (String, mpsc::UnboundedReceiver<Notification>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let sender = sender.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 4096];
                // Headers, then Content-Length bytes of body (bounded: Aodh's bodies are small).
                let (head, body_start) = loop {
                    let Ok(n) = socket.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 || buffer.len() > 65536 {
                        return;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                    if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                        break (String::from_utf8_lossy(&buffer[..end]).to_string(), end + 4);
                    }
                };
                let header = |name: &str| {
                    head.lines().find_map(|line| {
                        let (key, value) = line.split_once(':')?;
                        key.eq_ignore_ascii_case(name)
                            .then(|| value.trim().to_string())
                    })
                };
                let length: usize = header("content-length")
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(0)
                    .min(65536);
                while buffer.len() < body_start + length {
                    let Ok(n) = socket.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        break;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                }
                let end = buffer.len().min(body_start + length);
                let body = serde_json::from_slice(&buffer[body_start..end]).unwrap_or(Value::Null);
                let path = head
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_string();
                let _ = sender.send(Notification {
                    path,
                    token: header("x-auth-token"),
                    body,
                });
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    )
                    .await;
            });
        }
    });
    (base, receiver)
}

async fn gnocchi(session: &Session) -> ServiceClient {
    session.service(ServiceType::Metric).await.unwrap()
}

/// Pushes `value` every second for the instance resource until stopped.
fn push_measures(
    metric: ServiceClient,
    resource: String,
    value: f64,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let now = chrono::Utc::now().to_rfc3339();
            let _ = metric
                .post(
                    format!("/resource/instance/{resource}/metric/cpu_util/measures"),
                    json!([{"timestamp": now, "value": value}]),
                )
                .send()
                .await;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}

async fn next_notification(
    receiver: &mut mpsc::UnboundedReceiver<Notification>,
    path_end: &str,
) -> Notification {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, receiver.recv()).await {
            Ok(Some(n)) if n.path.ends_with(path_end) => return n,
            Ok(Some(_)) => continue,
            _ => panic!("no notification to {path_end} within 90 s"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gnocchi_alarm_lifecycle_and_signal_url_as_trust_action() {
    let Some(lab) = lab().await else { return };
    let aodh = match lab.demo.service(ServiceType::Alarming).await {
        Ok(aodh) if aodh.get("/alarms").send().await.is_ok() => aodh,
        _ if ember_lab::required() => {
            panic!("no Aodh in the lab")
        }
        _ => {
            return eprintln!("skipped: the lab runs without Aodh (LAB_SERVICES=\"default aodh\")")
        }
    };
    let metric = gnocchi(&lab.demo).await;
    let tag = suffix();
    let group = format!("asg-{tag}");
    let resource = uuid::Uuid::new_v4().to_string();
    metric
        .post("/resource/instance", json!({"id": resource, "server_group": group, "display_name": format!("srv-{tag}"),
                                             "metrics": {"cpu_util": {"archive_policy_name": "lab-5s"}}}))
        .send()
        .await
        .unwrap();

    let (base, mut notifications) = webhook().await;
    let project_id = lab
        .demo
        .token()
        .await
        .unwrap()
        .project_id
        .unwrap_or_default();
    // The shape of a scaling policy's signal_url: it takes a Keystone token.
    let signal_url =
        format!("{base}/v1/{project_id}/stacks/as-{tag}/0000/resources/scale_up/signal");
    let props = |threshold: f64| {
        json!({
            "metric": "cpu_util", "aggregation_method": "mean", "granularity": 5, "evaluation_periods": 1,
            "threshold": threshold, "comparison_operator": "gt", "resource_type": "instance",
            "query": json!({"=": {"server_group": group}}).to_string(),
            "alarm_actions": [signal_url, format!("{base}/plain/alarm")],
            "ok_actions": [format!("{base}/plain/ok")],
            "repeat_actions": false,
        })
    };
    let mut alarm = Res::new(
        &lab.types,
        "OS::Aodh::GnocchiAggregationByResourcesAlarm",
        "high",
        props(90.0),
    );
    alarm.create().await.unwrap();
    let shown = alarm.attr("show").await;
    assert_eq!(shown["type"], "gnocchi_aggregation_by_resources_threshold");
    assert_eq!(shown["name"], alarm.cx.physical_resource_name());
    // Aodh made a trust for the trust action and stored its id in the URL.
    let actions: Vec<String> = serde_json::from_value(shown["alarm_actions"].clone()).unwrap();
    assert!(
        actions[0].starts_with("trust+http://")
            && actions[0].ends_with("/resources/scale_up/signal"),
        "{actions:?}"
    );
    assert_eq!(actions[1], format!("{base}/plain/alarm"));

    // Update in place: same alarm id, new threshold.
    let id = alarm.id();
    assert!(alarm.update(props(80.0)).await.unwrap());
    assert_eq!(alarm.id(), id);
    let shown = alarm.attr("show").await;
    assert_eq!(
        shown["gnocchi_aggregation_by_resources_threshold_rule"]["threshold"],
        80.0
    );

    // Measures above the threshold fire the alarm: both actions are called, the signal URL with
    // a trust-scoped token of the demo user that Keystone accepts.
    let pusher = push_measures(metric.clone(), resource.clone(), 95.0);
    let signal = next_notification(&mut notifications, "/resources/scale_up/signal").await;
    pusher.abort();
    assert_eq!(signal.body["current"], "alarm");
    assert_eq!(signal.body["alarm_id"], Value::String(id.clone()));
    let token = signal.token.expect("Aodh sends a token to a trust action");
    let keystone = Identity::new(&lab.admin).await.unwrap();
    let validated = keystone
        .client()
        .get("/auth/tokens")
        .header("X-Subject-Token", token)
        .send_json()
        .await
        .unwrap();
    assert_eq!(validated["token"]["user"]["name"], "demo");
    assert_eq!(
        validated["token"]["project"]["id"],
        Value::String(project_id.clone())
    );
    assert!(
        validated["token"]["OS-TRUST:trust"]["id"].is_string(),
        "{validated}"
    );
    let plain = next_notification(&mut notifications, "/plain/alarm").await;
    assert_eq!(plain.body["current"], "alarm");

    // Low measures bring it back to ok.
    let pusher = push_measures(metric.clone(), resource.clone(), 10.0);
    let ok = next_notification(&mut notifications, "/plain/ok").await;
    pusher.abort();
    assert_eq!(ok.body["current"], "ok");

    // time_constraints cannot change in place (Heat replaces the alarm).
    let mut constrained = props(80.0);
    constrained["time_constraints"] =
        json!([{"name": "night", "start": "0 23 * * *", "duration": 3600}]);
    assert!(!alarm.update(constrained).await.unwrap());

    // Delete, and again; and an alarm deleted outside Ember.
    alarm.delete().await.unwrap();
    assert!(aodh
        .get(format!("/alarms/{id}"))
        .send()
        .await
        .unwrap_err()
        .is_not_found());
    alarm.delete().await.unwrap();
    let _ = metric
        .delete(format!("/resource/instance/{resource}"))
        .send()
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aodh_refusals_are_the_resource_reason() {
    let Some(lab) = lab().await else { return };
    if lab.demo.service(ServiceType::Alarming).await.is_err() {
        return eprintln!("skipped: no Aodh");
    }
    // Aodh no longer evaluates the Ceilometer `threshold` type that OS::Aodh::Alarm makes.
    let mut old = Res::new(
        &lab.types,
        "OS::Aodh::Alarm",
        "old",
        json!({"meter_name": "cpu_util", "threshold": 50}),
    );
    let error = old.create().await.unwrap_err().to_string();
    assert!(error.starts_with("BadRequest: "), "{error}");
    assert!(old.cx.physical_id.is_none());
    // A query Gnocchi cannot parse is refused by Aodh at create, with its reason.
    let mut bad = Res::new(
        &lab.types,
        "OS::Aodh::GnocchiAggregationByResourcesAlarm",
        "bad",
        json!({"metric": "cpu_util", "threshold": 1, "resource_type": "instance", "query": "not json"}),
    );
    let error = bad.create().await.unwrap_err().to_string();
    assert!(error.starts_with("BadRequest: "), "{error}");
}
