//! The seed's autoscaling example (../shared/seed/autoscaling-complete.yaml) end to end through
//! `ember serve` on the OpenStack lab with Aodh and Gnocchi (`LAB_SERVICES="default aodh"`):
//! real Nova servers in the group, real Aodh alarms whose `alarm_actions` are the policies'
//! pre-signed `alarm_url`s; measures pushed into Gnocchi fire the alarms and Aodh's plain POSTs
//! scale the group. Also the `signal_url` form (`ember stack resource signal`), and, with
//! `--auth keystone`, a wait condition handle's token accepted for that handle's signal only.
//!
//! Without a lab the tests say so and pass, unless `EMBER_REQUIRE_LAB=1` (CI).

mod common;

use common::{serve, stderr, stdout, Server};
use ember_openstack::{CloudConfig, Error, ServiceClient, ServiceType, Session};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn lab_home() -> PathBuf {
    std::env::var("LAB_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/openstack-lab")
        })
}

async fn demo_session() -> Option<Session> {
    let connected = async {
        let path = lab_home().join("clouds.yaml");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        Session::connect(CloudConfig::from_clouds_yaml(&text, "lab-demo")?).await
    }
    .await;
    match connected {
        Ok(session) => Some(session),
        Err(error) if std::env::var("EMBER_REQUIRE_LAB").as_deref() == Ok("1") => {
            panic!("EMBER_REQUIRE_LAB=1 but the OpenStack lab is unreachable: {error}")
        }
        Err(error) => {
            eprintln!("skipped: no OpenStack lab ({error})");
            None
        }
    }
}

/// `ember` on a private store whose resources act as the lab's demo user.
fn ember_as_demo(store: &Path) -> Command {
    let mut cmd = common::ember(store);
    cmd.env("OS_CLIENT_CONFIG_FILE", lab_home().join("clouds.yaml"));
    cmd.env("OS_CLOUD", "lab-demo");
    cmd
}

fn suffix() -> String {
    format!("{:08x}", rand::random::<u32>())
}

/// Runs `ember` in client mode against the test's server.
type Client = Box<dyn Fn(&[&str]) -> std::process::Output>;

/// Deletes the stack (and the Gnocchi resources made for its servers) even when the test fails.
struct Cleanup {
    client: Client,
    stack: String,
    metric: ServiceClient,
    gnocchi_resources: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let deleted = (self.client)(&["stack", "delete", "-y", "--wait", &self.stack]);
        if !deleted.status.success() {
            eprintln!("cleanup: stack delete failed: {}", stderr(&deleted));
        }
        let metric = self.metric.clone();
        let ids = std::mem::take(&mut self.gnocchi_resources);
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().expect("a runtime");
            runtime.block_on(async {
                for id in ids {
                    let _ = metric
                        .delete(format!("/resource/instance/{id}"))
                        .send()
                        .await;
                }
            })
        })
        .join();
    }
}

/// A JSON body from the API (`GET`, redirects followed).
async fn get(http: &reqwest::Client, url: &str) -> Value {
    http.get(url)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .json()
        .await
        .unwrap()
}

/// The group's servers (`stack` is `name/id`): Nova ids of the nested stack's `OS::Nova::Server` resources.
async fn servers(http: &reqwest::Client, api: &str, stack: &str) -> Vec<String> {
    let listed = get(
        http,
        &format!("{api}/stacks/{stack}/resources?nested_depth=1"),
    )
    .await;
    listed["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["resource_type"] == "OS::Nova::Server")
        .filter(|r| r["resource_status"] == "CREATE_COMPLETE")
        .filter_map(|r| r["physical_resource_id"].as_str().map(str::to_string))
        .collect()
}

async fn group_size(http: &reqwest::Client, api: &str, stack: &str) -> u64 {
    let shown = get(http, &format!("{api}/stacks/{stack}/outputs/group_size")).await;
    shown["output"]["output_value"].as_u64().unwrap_or(0)
}

/// Waits (up to `limit`) until the group has `size` servers, pushing `value` as every
/// server's cpu_util each second meanwhile (new servers get their Gnocchi resource too).
async fn scale_to(
    cleanup: &mut Cleanup,
    http: &reqwest::Client,
    api: &str,
    stack_id: &str,
    size: u64,
    value: f64,
    limit: Duration,
) -> Duration {
    let started = Instant::now();
    let stack = &format!("{}/{stack_id}", cleanup.stack);
    loop {
        if group_size(http, api, stack).await == size {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "the group did not reach {size} within {limit:?}"
        );
        for server in servers(http, api, stack).await {
            if !cleanup.gnocchi_resources.contains(&server) {
                cleanup
                    .metric
                    .post(
                        "/resource/instance",
                        json!({"id": server, "server_group": stack_id,
                               "metrics": {"cpu_util": {"archive_policy_name": "lab-5s"}}}),
                    )
                    .send()
                    .await
                    .unwrap();
                cleanup.gnocchi_resources.push(server.clone());
            }
            // Gnocchi takes Unix times as numbers.
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64();
            let _ = cleanup
                .metric
                .post(
                    format!("/resource/instance/{server}/metric/cpu_util/measures"),
                    json!([{"timestamp": now, "value": value}]),
                )
                .send()
                .await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_autoscaling_scales_on_aodh_alarms_through_ember_serve() {
    let Some(demo) = demo_session().await else {
        return;
    };
    let metric = match demo.service(ServiceType::Metric).await {
        Ok(metric) => metric,
        Err(e) if std::env::var("EMBER_REQUIRE_LAB").as_deref() == Ok("1") => {
            panic!("no Gnocchi in the lab: {e}")
        }
        Err(_) => return eprintln!("skipped: the lab runs without Gnocchi/Aodh"),
    };
    let project = demo.token().await.unwrap().project_id.unwrap_or_default();
    let server_dir = tempfile::tempdir().unwrap();
    let client_dir = tempfile::tempdir().unwrap();
    // No-auth server; its resources reach the cloud as demo (OS_CLOUD).
    let server: Server = serve(ember_as_demo(server_dir.path()), &["--auth", "none"]);
    let api = format!("http://{}/v1/{project}", server.bind);
    let endpoint = api.clone();
    let client_store = client_dir.path().to_path_buf();
    let client = move |args: &[&str]| {
        common::ember(&client_store)
            .env("EMBER_URL", &endpoint)
            .args(args)
            .output()
            .unwrap()
    };
    let name = format!("seed-as-{}", suffix());
    let mut cleanup = Cleanup {
        client: Box::new(client.clone()),
        stack: name.clone(),
        metric,
        gnocchi_resources: Vec::new(),
    };
    let template = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/seed/autoscaling-complete.yaml");
    let started = Instant::now();
    let created = client(&[
        "stack",
        "create",
        "-t",
        template.to_str().unwrap(),
        "--wait",
        &name,
    ]);
    assert!(
        created.status.success(),
        "{}{}",
        stdout(&created),
        stderr(&created)
    );
    eprintln!("create: {:?}", started.elapsed());
    let http = reqwest::Client::new();
    let shown = get(&http, &format!("{api}/stacks/{name}")).await;
    let stack_id = shown["stack"]["id"].as_str().unwrap().to_string();
    let stack_path = format!("{name}/{stack_id}");
    assert_eq!(group_size(&http, &api, &stack_path).await, 2);

    // The alarms hold the policies' pre-signed alarm_urls on this server's endpoint.
    let up_url = get(
        &http,
        &format!("{api}/stacks/{stack_path}/outputs/scale_up_url"),
    )
    .await["output"]["output_value"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        up_url.starts_with(&format!("http://{}/v1/signal/", server.bind))
            && up_url.contains("Signature="),
        "{up_url}"
    );
    let alarm = get(
        &http,
        &format!("{api}/stacks/{name}/{stack_id}/resources/cpu_alarm_high"),
    )
    .await;
    let alarm_id = alarm["resource"]["physical_resource_id"].as_str().unwrap();
    let aodh = demo.service(ServiceType::Alarming).await.unwrap();
    let shown_alarm = aodh
        .get(format!("/alarms/{alarm_id}"))
        .send_json()
        .await
        .unwrap();
    assert_eq!(shown_alarm["alarm_actions"], json!([up_url]));

    // The signal_url form: `ember stack resource signal` on the policy (group cooldown starts).
    let signalled = client(&["stack", "resource", "signal", &name, "scale_up_policy"]);
    assert!(signalled.status.success(), "{}", stderr(&signalled));
    let took = scale_to(
        &mut cleanup,
        &http,
        &api,
        &stack_id,
        3,
        50.0,
        Duration::from_secs(120),
    )
    .await;
    eprintln!("signal_url scale-up to 3: {took:?}");

    // Low measures: the low alarm fires and Aodh POSTs the scale-down alarm_url, repeatedly
    // while the state stays `alarm`, so the group shrinks once the 60 s cooldown is over.
    let took = scale_to(
        &mut cleanup,
        &http,
        &api,
        &stack_id,
        2,
        5.0,
        Duration::from_secs(240),
    )
    .await;
    eprintln!("low alarm scale-down to 2: {took:?}");
    // High measures: the high alarm's alarm_url grows the group again.
    let took = scale_to(
        &mut cleanup,
        &http,
        &api,
        &stack_id,
        3,
        95.0,
        Duration::from_secs(240),
    )
    .await;
    eprintln!("high alarm scale-up to 3: {took:?}");

    // Both scalings came from Aodh: the policies recorded the alarm signals.
    let events = get(&http, &format!("{api}/stacks/{stack_path}/events")).await;
    let reasons: Vec<(String, String)> = events["events"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["resource_name"].as_str().unwrap_or_default().to_string(),
                e["resource_status_reason"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    for policy in ["scale_down_policy", "scale_up_policy"] {
        assert!(
            reasons
                .iter()
                .any(|(r, why)| r == policy && why.starts_with("alarm state changed from")),
            "{policy}: {reasons:?}"
        );
    }
}

const HANDLES: &str = "heat_template_version: 2016-10-14
resources:
  handle: {type: OS::Heat::WaitConditionHandle}
  other: {type: OS::Heat::WaitConditionHandle}
outputs:
  endpoint: {value: {get_attr: [handle, endpoint]}}
  token: {value: {get_attr: [handle, token]}}
  other_endpoint: {value: {get_attr: [other, endpoint]}}
";

/// The `OS_*` settings of a lab user, as `env.sh` exports them.
fn lab_env(user: &str) -> Vec<(String, String)> {
    let env_sh = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/openstack-lab/env.sh");
    let output = Command::new("bash")
        .arg("-c")
        .arg(format!(". '{}' {user} >/dev/null && env", env_sh.display()))
        .output()
        .unwrap();
    stdout(&output)
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.starts_with("OS_"))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handle_token_signals_its_handle_only_with_keystone_auth() {
    let Some(demo) = demo_session().await else {
        return;
    };
    let token = demo.token().await.unwrap();
    let project = token.project_id.clone().unwrap_or_default();
    let server_dir = tempfile::tempdir().unwrap();
    // The server validates tokens with the lab's admin as its service user.
    let mut command = common::ember(server_dir.path());
    command.envs(lab_env("admin"));
    let server = serve(command, &["--auth", "keystone"]);
    let api = format!("http://{}/v1/{project}", server.bind);
    let http = reqwest::Client::new();
    let name = format!("handles-{}", suffix());
    let created = http
        .post(format!("{api}/stacks"))
        .header("X-Auth-Token", token.secret())
        .json(&json!({"stack_name": name, "template": HANDLES}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{:?}", created.text().await);
    let deadline = Instant::now() + Duration::from_secs(60);
    let stack = loop {
        let shown: Value = http
            .get(format!("{api}/stacks/{name}"))
            .header("X-Auth-Token", token.secret())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if shown["stack"]["stack_status"] == "CREATE_COMPLETE" {
            break shown;
        }
        assert!(Instant::now() < deadline, "{shown}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let output = |key: &str| {
        stack["stack"]["outputs"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|o| o["output_key"] == key)
            .and_then(|o| o["output_value"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    let (endpoint, handle_token, other) = (
        output("endpoint"),
        output("token"),
        output("other_endpoint"),
    );
    assert!(endpoint.starts_with(&format!(
        "http://{}/v1/{project}/stacks/{name}/",
        server.bind
    )));
    let signal = |url: String, token: String| {
        let http = http.clone();
        async move {
            http.post(url)
                .header("X-Auth-Token", token)
                .json(&json!({"status": "SUCCESS", "reason": "up", "id": "1", "data": "d"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // The handle's token: its own signal only; not another handle's, nor any other call.
    assert_eq!(signal(endpoint.clone(), handle_token.clone()).await, 200);
    assert_eq!(signal(other.clone(), handle_token.clone()).await, 401);
    let read = http
        .get(endpoint.replace("/signal", ""))
        .header("X-Auth-Token", &handle_token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 401);
    assert_eq!(signal(endpoint.clone(), "not-a-token".into()).await, 401);
    // A Keystone token of the project still works for any resource.
    assert_eq!(signal(other, token.secret().to_string()).await, 200);

    let stack_id = stack["stack"]["id"].as_str().unwrap_or_default();
    let deleted = http
        .delete(format!("{api}/stacks/{name}/{stack_id}"))
        .header("X-Auth-Token", token.secret())
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success() || deleted.status().is_redirection());
    drop(server);
}
