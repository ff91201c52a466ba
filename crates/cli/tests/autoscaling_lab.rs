//! The seed's autoscaling example (../shared/seed/autoscaling-complete.yaml) end to end through
//! `ember serve` on the OpenStack lab with Aodh and Gnocchi (`LAB_SERVICES="default aodh"`):
//! real Nova servers in the group, real Aodh alarms; measures pushed into Gnocchi fire the
//! alarms and Aodh's POSTs scale the group up, then down. Two forms of `alarm_actions`, one
//! body: the policies' pre-signed `alarm_url`s (`--auth none`: Aodh posts without a token), and
//! the seed's own `signal_url`s (`--auth keystone`: Ember hands them to Aodh as `trust+http`, so
//! Aodh posts with a trust-scoped token). With `--auth keystone` also: a stack's create and its
//! deferred work go on through its Keystone trust after the creator's token is revoked, the trust is
//! deleted with the stack, and a wait condition handle's token signals that handle only.
//!
//! Without a lab the tests say so and pass, unless `EMBER_REQUIRE_LAB=1` (CI).

mod common;

use common::{serve, stderr, stdout};
use ember_openstack::{CloudConfig, ServiceClient, ServiceType, Session};
use ember_store::{EncryptionKey, Store};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

async fn demo_session() -> Option<Session> {
    ember_lab::or_skip(ember_lab::session("lab-demo").await)
}

/// `ember` on a private store whose resources act as the lab's demo user.
fn ember_as_demo(store: &Path) -> Command {
    let mut cmd = common::ember(store);
    cmd.env("OS_CLIENT_CONFIG_FILE", ember_lab::clouds_yaml());
    cmd.env("OS_CLOUD", "lab-demo");
    cmd
}

fn suffix() -> String {
    format!("{:08x}", rand::random::<u32>())
}

/// Runs `ember` in client mode against the test's server.
type Client = Box<dyn Fn(&[&str]) -> std::process::Output>;

/// `ember` in client mode against `endpoint`, as demo (its `OS_*` give the token).
fn client(store: &Path, endpoint: &str) -> Client {
    let (store, endpoint) = (store.to_path_buf(), endpoint.to_string());
    Box::new(move |args: &[&str]| {
        common::ember(&store)
            .envs(ember_lab::env("demo").unwrap())
            .env("EMBER_URL", &endpoint)
            .args(args)
            .output()
            .unwrap()
    })
}

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

/// The API of the test's server (`.../v1/{project}`), as one caller: with `--auth keystone`
/// every request carries the caller's token.
#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Api {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => request.header("X-Auth-Token", token),
            None => request,
        }
    }

    /// A JSON body (`GET`, redirects followed).
    async fn get(&self, path: &str) -> Value {
        self.request(reqwest::Method::GET, path)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
            .json()
            .await
            .unwrap()
    }

    async fn output(&self, stack: &str, key: &str) -> Value {
        self.get(&format!("/stacks/{stack}/outputs/{key}")).await["output"]["output_value"].clone()
    }

    /// Waits until the stack's action is over; its final `stack show`.
    async fn settled(&self, stack: &str, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let shown = self.get(&format!("/stacks/{stack}")).await;
            if !shown["stack"]["stack_status"]
                .as_str()
                .unwrap_or_default()
                .ends_with("IN_PROGRESS")
            {
                return shown["stack"].clone();
            }
            assert!(Instant::now() < deadline, "{shown}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Physical ids of the completed `type_name` resources one level into the stack.
    async fn nested_ids(&self, stack: &str, type_name: &str) -> Vec<String> {
        let listed = self
            .get(&format!("/stacks/{stack}/resources?nested_depth=1"))
            .await;
        listed["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| {
                r["resource_type"] == type_name && r["resource_status"] == "CREATE_COMPLETE"
            })
            .filter_map(|r| r["physical_resource_id"].as_str().map(str::to_string))
            .collect()
    }
}

async fn group_size(api: &Api, stack: &str) -> u64 {
    api.output(stack, "group_size").await.as_u64().unwrap_or(0)
}

/// Waits (up to `limit`) until the group has `size` servers, pushing `value` as every
/// server's cpu_util each second meanwhile (new servers get their Gnocchi resource too).
async fn scale_to(
    cleanup: &mut Cleanup,
    api: &Api,
    stack_id: &str,
    size: u64,
    value: f64,
    limit: Duration,
) -> Duration {
    let started = Instant::now();
    let stack = &format!("{}/{stack_id}", cleanup.stack);
    loop {
        if group_size(api, stack).await == size {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "the group did not reach {size} within {limit:?}"
        );
        for server in api.nested_ids(stack, "OS::Nova::Server").await {
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

/// What the seed's alarms hand Aodh as `alarm_actions`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum AlarmForm {
    /// `autoscaling-complete.yaml`: the policies' pre-signed `alarm_url`s, through a no-auth
    /// server whose stacks act as demo (`OS_CLOUD`).
    AlarmUrl,
    /// The seed's own `autoscaling.yaml` form: the policies' native `signal_url`s, through
    /// `--auth keystone` (stacks act through their creator's trust).
    SignalUrl,
}

/// The settings of `ember serve --auth keystone` with the lab's `heat` user as the service
/// user (token validation, trustee of the stacks' trusts), as Heat runs, and a store key the
/// test can read the store with.
fn keystone_server(store: &Path) -> Command {
    let mut command = common::ember(store);
    command.envs(ember_lab::env("admin").unwrap());
    command.envs([
        ("OS_USERNAME", "heat"),
        ("OS_PASSWORD", "service"),
        ("OS_PROJECT_NAME", "service"),
        ("EMBER_ENCRYPTION_KEY", STORE_KEY),
    ]);
    command
}

const STORE_KEY: &str = "ember-autoscaling-lab-store-key!";

/// The seed's autoscaling stack with its alarms in `form`: created with two servers, high
/// measures make Aodh scale it to three, low ones back to two.
async fn seed_autoscaling_through_ember_serve(form: AlarmForm) {
    let Some(demo) = demo_session().await else {
        return;
    };
    let metric = match demo.service(ServiceType::Metric).await {
        Ok(metric) => metric,
        Err(e) if ember_lab::required() => {
            panic!("no Gnocchi in the lab: {e}")
        }
        Err(_) => return eprintln!("skipped: the lab runs without Gnocchi/Aodh"),
    };
    let token = demo.token().await.unwrap();
    let project = token.project_id.clone().unwrap_or_default();
    let server_dir = tempfile::tempdir().unwrap();
    let client_dir = tempfile::tempdir().unwrap();
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/seed");
    let complete = std::fs::read_to_string(seed.join("autoscaling-complete.yaml")).unwrap();
    let (server, template) = match form {
        AlarmForm::AlarmUrl => (
            serve(ember_as_demo(server_dir.path()), &["--auth", "none"]),
            complete,
        ),
        AlarmForm::SignalUrl => (
            serve(keystone_server(server_dir.path()), &["--auth", "keystone"]),
            complete
                .replace(
                    "- {get_attr: [scale_up_policy, alarm_url]}",
                    "- {get_attr: [scale_up_policy, signal_url]}",
                )
                .replace(
                    "- {get_attr: [scale_down_policy, alarm_url]}",
                    "- {get_attr: [scale_down_policy, signal_url]}",
                ),
        ),
    };
    let template_file = client_dir.path().join("autoscaling.yaml");
    std::fs::write(&template_file, &template).unwrap();
    let api = Api {
        http: reqwest::Client::new(),
        base: format!("http://{}/v1/{project}", server.bind),
        token: Some(token.secret().to_string()),
    };
    let client = client(client_dir.path(), &api.base);
    let name = format!("seed-as-{}", suffix());
    let created = client(&[
        "stack",
        "create",
        "-t",
        template_file.to_str().unwrap(),
        "--wait",
        &name,
    ]);
    let mut cleanup = Cleanup {
        client,
        stack: name.clone(),
        metric,
        gnocchi_resources: Vec::new(),
    };
    assert!(
        created.status.success(),
        "{}{}",
        stdout(&created),
        stderr(&created)
    );
    let shown = api.get(&format!("/stacks/{name}")).await;
    let stack_id = shown["stack"]["id"].as_str().unwrap().to_string();
    let stack_path = format!("{name}/{stack_id}");
    assert_eq!(group_size(&api, &stack_path).await, 2);

    // What Aodh holds: the pre-signed alarm_url as given; the native signal URL as a trust
    // action (Aodh made a trust for it; its API does not show the trust's id).
    let alarm = api
        .get(&format!("/stacks/{stack_path}/resources/cpu_alarm_high"))
        .await;
    let alarm_id = alarm["resource"]["physical_resource_id"].as_str().unwrap();
    let aodh = demo.service(ServiceType::Alarming).await.unwrap();
    let actions = aodh
        .get(format!("/alarms/{alarm_id}"))
        .send_json()
        .await
        .unwrap()["alarm_actions"]
        .clone();
    let action = actions[0].as_str().unwrap_or_default();
    match form {
        AlarmForm::AlarmUrl => {
            let up_url = api.output(&stack_path, "scale_up_url").await;
            assert!(
                action.starts_with(&format!("http://{}/v1/signal/", server.bind))
                    && action.contains("Signature="),
                "{actions}"
            );
            assert_eq!(actions, json!([up_url]));
        }
        AlarmForm::SignalUrl => assert!(
            action.starts_with("trust+http://")
                && action.ends_with(&format!(
                    "{}/v1/{project}/stacks/{stack_path}/resources/scale_up_policy/signal",
                    server.bind
                )),
            "{actions}"
        ),
    }

    // High measures: the high alarm fires and Aodh's POST grows the group.
    let took = scale_to(
        &mut cleanup,
        &api,
        &stack_id,
        3,
        95.0,
        Duration::from_secs(240),
    )
    .await;
    eprintln!("{form:?}: high alarm scale-up to 3: {took:?}");
    // Low measures: the low alarm fires, and Aodh POSTs again while the state stays `alarm`,
    // so the group shrinks once the policy's 60 s cooldown is over.
    let took = scale_to(
        &mut cleanup,
        &api,
        &stack_id,
        2,
        5.0,
        Duration::from_secs(240),
    )
    .await;
    eprintln!("{form:?}: low alarm scale-down to 2: {took:?}");

    // Both scalings came from Aodh: the policies recorded the alarm signals.
    let events = api.get(&format!("/stacks/{stack_path}/events")).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_autoscaling_scales_on_aodh_alarms_through_ember_serve() {
    seed_autoscaling_through_ember_serve(AlarmForm::AlarmUrl).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_signal_url_alarms_scale_through_trusts_with_keystone_auth() {
    seed_autoscaling_through_ember_serve(AlarmForm::SignalUrl).await;
}

/// A network and a group of networks that a pre-signed URL grows: the deferred work of the
/// trust test, without servers (quick).
/// Its cloud resources wait for `pause`, so the create's first call to the cloud comes after
/// the test revoked the creator's token.
const NETWORKS: &str = "heat_template_version: 2021-04-16
resources:
  pause:
    type: OS::Heat::Delay
    properties: {min_wait: 3}
  net: {type: OS::Neutron::Net, depends_on: pause}
  group:
    type: OS::Heat::AutoScalingGroup
    depends_on: pause
    properties:
      min_size: 1
      max_size: 3
      resource: {type: OS::Neutron::Net}
  grow:
    type: OS::Heat::ScalingPolicy
    properties:
      adjustment_type: change_in_capacity
      auto_scaling_group_id: {get_resource: group}
      scaling_adjustment: 1
outputs:
  net: {value: {get_resource: net}}
  grow_url: {value: {get_attr: [grow, alarm_url]}}
";

/// Keystone's view of a trust (as admin), or `None` once it is gone.
async fn trust(admin: &Session, id: &str) -> Option<Value> {
    let identity = admin.service(ServiceType::Identity).await.unwrap();
    match identity
        .get(format!("/OS-TRUST/trusts/{id}"))
        .send_json()
        .await
    {
        Ok(body) => Some(body["trust"].clone()),
        Err(e) if e.is_not_found() => None,
        Err(e) => panic!("trust {id}: {e}"),
    }
}

/// The project a Neutron network belongs to.
async fn network_project(session: &Session, id: &str) -> String {
    let network = session.service(ServiceType::Network).await.unwrap();
    let shown = network
        .get(format!("/networks/{id}"))
        .send_json()
        .await
        .unwrap();
    shown["network"]["project_id"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_work_acts_through_the_stacks_trust_after_the_token_is_revoked() {
    let Some(demo) = demo_session().await else {
        return;
    };
    let admin = ember_lab::session("lab-admin").await.unwrap();
    let heat = {
        let mut vars: std::collections::BTreeMap<String, String> =
            ember_lab::env("admin").unwrap().into_iter().collect();
        vars.insert("OS_USERNAME".into(), "heat".into());
        vars.insert("OS_PASSWORD".into(), "service".into());
        vars.insert("OS_PROJECT_NAME".into(), "service".into());
        Session::connect(CloudConfig::from_vars(&vars, &[]).unwrap())
            .await
            .unwrap()
    };
    let heat_user = heat.token().await.unwrap().user_id;
    let demo_token = demo.token().await.unwrap();
    let project = demo_token.project_id.clone().unwrap_or_default();
    // The token the stack is created with, revoked below; checks use demo's own session.
    let creator = ember_lab::session("lab-demo")
        .await
        .unwrap()
        .token()
        .await
        .unwrap();
    let server_dir = tempfile::tempdir().unwrap();
    // No token cache: a revoked token is refused at once.
    let config = server_dir.path().join("ember.toml");
    std::fs::write(&config, "token_cache_seconds = 0\n").unwrap();
    let server = serve(
        keystone_server(server_dir.path()),
        &["--auth", "keystone", "--config", config.to_str().unwrap()],
    );
    let as_creator = Api {
        http: reqwest::Client::new(),
        base: format!("http://{}/v1/{project}", server.bind),
        token: Some(creator.secret().to_string()),
    };
    let name = format!("trusted-{}", suffix());
    let created = as_creator
        .request(reqwest::Method::POST, "/stacks")
        .json(&json!({"stack_name": name, "template": NETWORKS}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{:?}", created.text().await);
    // The creator's token is revoked while the create runs, before it first calls the cloud:
    // the server refuses the token from now on, yet the create goes on through the trust
    // (Heat's `reauthentication_auth_method = trusts`).
    let identity = demo.service(ServiceType::Identity).await.unwrap();
    identity
        .delete("/auth/tokens")
        .header("X-Subject-Token", creator.secret().to_string())
        .send()
        .await
        .unwrap();
    let as_demo = Api {
        token: Some(demo_token.secret().to_string()),
        ..as_creator.clone()
    };
    let shown = as_demo.settled(&name, Duration::from_secs(120)).await;
    assert_eq!(shown["stack_status"], "CREATE_COMPLETE", "{shown}");
    let stack_id = shown["id"].as_str().unwrap().to_string();
    let stack_path = format!("{name}/{stack_id}");

    // Keystone holds the stack's trust: demo → the service user, on demo's project, acting as
    // demo with demo's roles; the nested group stack holds the same trust.
    let store = Store::open(
        &format!("sqlite://{}", server_dir.path().join("ember.db").display()),
        &EncryptionKey::from_bytes(STORE_KEY.as_bytes()).unwrap(),
    )
    .await
    .unwrap();
    let record = store.find_stack(&project, &name).await.unwrap();
    let trust_id = record
        .trust_id
        .clone()
        .expect("the stack's trust")
        .as_str()
        .to_string();
    let nested = store.nested_stacks(record.id, 5).await.unwrap();
    assert!(!nested.is_empty() && nested.iter().all(|n| n.trust_id == record.trust_id));
    store.close().await;
    let held = trust(&admin, &trust_id)
        .await
        .expect("the trust in Keystone");
    assert_eq!(held["trustor_user_id"], json!(demo_token.user_id));
    assert_eq!(held["trustee_user_id"], json!(heat_user));
    assert_eq!(held["project_id"], json!(project));
    assert_eq!(held["impersonation"], json!(true));
    let mut roles: Vec<&str> = held["roles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["name"].as_str())
        .collect();
    roles.sort();
    let mut demo_roles: Vec<&str> = demo_token.roles.iter().map(String::as_str).collect();
    demo_roles.sort();
    assert_eq!(roles, demo_roles);
    let net = as_demo.output(&stack_path, "net").await;
    assert_eq!(network_project(&demo, net.as_str().unwrap()).await, project);

    // A trust-scoped token cannot delegate again: a clear refusal, and nothing is stored.
    let trust_token = {
        let mut vars: std::collections::BTreeMap<String, String> =
            ember_lab::env("admin").unwrap().into_iter().collect();
        vars.retain(|k, _| !k.starts_with("OS_PROJECT"));
        vars.insert("OS_USERNAME".into(), "heat".into());
        vars.insert("OS_PASSWORD".into(), "service".into());
        vars.insert("OS_TRUST_ID".into(), trust_id.clone());
        let session = Session::connect(CloudConfig::from_vars(&vars, &[]).unwrap())
            .await
            .unwrap();
        session.token().await.unwrap().secret().to_string()
    };
    let as_trustee = Api {
        token: Some(trust_token),
        ..as_creator.clone()
    };
    let refused_name = format!("refused-{}", suffix());
    let refused = as_trustee
        .request(reqwest::Method::POST, "/stacks")
        .json(&json!({"stack_name": refused_name, "template": NETWORKS}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["type"], "Forbidden", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("trust"),
        "{body}"
    );
    let listed = as_trustee
        .get(&format!("/stacks?name={refused_name}"))
        .await;
    assert_eq!(listed["stacks"], json!([]), "{listed}");

    // The stack's deferred work (a pre-signed alarm URL, which carries no token) grows the
    // group as demo.
    let refused = as_creator
        .request(reqwest::Method::GET, &format!("/stacks/{stack_path}"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let grow_url = as_demo.output(&stack_path, "grow_url").await;
    let members_before = as_demo.nested_ids(&stack_path, "OS::Neutron::Net").await;
    assert_eq!(members_before.len(), 2, "{members_before:?}");
    let signalled = reqwest::Client::new()
        .post(grow_url.as_str().unwrap())
        .json(&json!({"current": "alarm"}))
        .send()
        .await
        .unwrap();
    assert!(signalled.status().is_success(), "{signalled:?}");
    let deadline = Instant::now() + Duration::from_secs(120);
    let members = loop {
        let members = as_demo.nested_ids(&stack_path, "OS::Neutron::Net").await;
        if members.len() == 3 {
            break members;
        }
        assert!(Instant::now() < deadline, "{members:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let added: Vec<&String> = members
        .iter()
        .filter(|m| !members_before.contains(m))
        .collect();
    assert_eq!(added.len(), 1, "{members:?}");
    assert_eq!(network_project(&demo, added[0]).await, project);

    // Deleted with a fresh token: the networks and then the trust are gone.
    let deleted = as_demo
        .request(reqwest::Method::DELETE, &format!("/stacks/{stack_path}"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let shown = as_demo
            .request(reqwest::Method::GET, &format!("/stacks/{stack_path}"))
            .send()
            .await
            .unwrap();
        if shown.status() == 404 {
            break;
        }
        let body: Value = shown.json().await.unwrap();
        match body["stack"]["stack_status"].as_str() {
            Some("DELETE_COMPLETE") => break,
            status => assert_ne!(status, Some("DELETE_FAILED"), "{body}"),
        }
        assert!(Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(trust(&admin, &trust_id).await, None);
    let network = demo.service(ServiceType::Network).await.unwrap();
    for id in std::iter::once(net.as_str().unwrap().to_string()).chain(members) {
        let gone = network.get(format!("/networks/{id}")).send().await;
        assert!(
            gone.is_err_and(|e| e.is_not_found()),
            "network {id} is left"
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
    command.envs(ember_lab::env("admin").unwrap());
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
