//! Heat's stack domain users through `ember serve --auth keystone` with a stack user domain
//! (the lab's `heat` domain and `heat_domain_admin`, as the lab's Heat peer is configured): a
//! POLL_SERVER_HEAT server and a HEAT_SIGNAL deployment get users in the stack's domain
//! project; the test reads their credentials where the in-instance agents read them (the
//! server's user data as Nova holds it, the deployment's inputs in the metadata), gets Keystone
//! tokens with them, reads the server's metadata and signals the deployment to COMPLETE
//! through Ember's API as os-collect-config and heat-config-notify would, and is refused
//! anything else. An `AWS::IAM::User` lives in the same project. After the stack's delete the
//! project and its users are gone from Keystone.
//!
//! Without a lab the test says so and passes, unless `EMBER_REQUIRE_LAB=1` (CI).

mod common;

use base64::Engine as _;
use common::serve;
use ember_openstack::{ServiceClient, ServiceType};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const TEMPLATE: &str = "heat_template_version: 2018-08-31
resources:
  config:
    type: OS::Heat::SoftwareConfig
    properties:
      group: script
      config: \"#!/bin/sh\\necho ok > $heat_outputs_path.result\\n\"
      outputs: [{name: result}]
  server:
    type: OS::Nova::Server
    properties:
      image: cirros
      flavor: m1.tiny
      networks: [{network: private-net}]
      user_data_format: SOFTWARE_CONFIG
      software_config_transport: POLL_SERVER_HEAT
  deployment:
    type: OS::Heat::SoftwareDeployment
    properties:
      config: {get_resource: config}
      server: {get_resource: server}
      signal_transport: HEAT_SIGNAL
  handle:
    type: OS::Heat::WaitConditionHandle
  user:
    type: AWS::IAM::User
  key:
    type: AWS::IAM::AccessKey
    properties:
      UserName: {get_resource: user}
outputs:
  result: {value: {get_attr: [deployment, result]}}
  key: {value: {get_resource: key}}
  handle_token: {value: {get_attr: [handle, token]}}
  handle_endpoint: {value: {get_attr: [handle, endpoint]}}
";

/// The API of the test's server as one caller.
struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("X-Auth-Token", &self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }
}

/// A project token of a Keystone user, asked for as os-collect-config's and
/// heat-config-notify's keystoneauth ask for it (user id, password, project id).
async fn user_token(auth_url: &str, user_id: &str, password: &str, project_id: &str) -> String {
    let response = reqwest::Client::new()
        .post(format!("{}/auth/tokens", auth_url.trim_end_matches('/')))
        .json(&json!({"auth": {
            "identity": {"methods": ["password"],
                "password": {"user": {"id": user_id, "password": password}}},
            "scope": {"project": {"id": project_id}},
        }}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "token of {user_id}");
    response.headers()["X-Subject-Token"]
        .to_str()
        .unwrap()
        .to_string()
}

/// The `cfn-init-data` part of a server's (decoded) multipart user data, as JSON.
fn cfn_init_data(user_data: &str) -> Value {
    let text = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(user_data)
            .unwrap(),
    )
    .unwrap();
    let part = text
        .split("filename=\"cfn-init-data\"\n\n")
        .nth(1)
        .expect("a cfn-init-data part");
    serde_json::from_str(part.lines().next().unwrap()).unwrap()
}

/// The value of a derived input of a deployment's config.
fn input<'a>(deployment: &'a Value, name: &str) -> &'a str {
    deployment["inputs"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["name"] == name)
        .and_then(|i| i["value"].as_str())
        .unwrap_or_else(|| panic!("input {name} in {deployment}"))
}

async fn keystone_get(identity: &ServiceClient, path: &str) -> Option<Value> {
    match identity.get(path.to_string()).send_json().await {
        Ok(found) => Some(found),
        Err(e) if e.is_not_found() => None,
        Err(e) => panic!("GET {path}: {e}"),
    }
}

async fn wait_for(api: &Api, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (status, body) = api.get(path).await;
        if status == 200 && done(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "{path}: {status} {body}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stack_users_poll_metadata_and_signal_with_their_own_tokens() {
    let Some(demo) = ember_lab::or_skip(ember_lab::session("lab-demo").await) else {
        return;
    };
    let admin = ember_lab::session("lab-admin").await.unwrap();
    let identity = admin.service(ServiceType::Identity).await.unwrap();
    let compute = admin.service(ServiceType::Compute).await.unwrap();
    let demo_token = demo.token().await.unwrap();
    let project = demo_token.project_id.clone().unwrap_or_default();
    let heat_domain = keystone_get(&identity, "/domains?name=heat").await.unwrap()["domains"][0]
        ["id"]
        .as_str()
        .expect("the lab's heat domain")
        .to_string();

    // Heat's service user validates tokens; the stack user domain's admin as the lab's Heat.
    let server_dir = tempfile::tempdir().unwrap();
    let mut command = common::ember(server_dir.path());
    command.envs(ember_lab::env("admin").unwrap());
    command.envs([
        ("OS_USERNAME", "heat"),
        ("OS_PASSWORD", "service"),
        ("OS_PROJECT_NAME", "service"),
        ("EMBER_STACK_DOMAIN_ADMIN_PASSWORD", "service"),
    ]);
    let server = serve(
        command,
        &[
            "--auth",
            "keystone",
            "--stack-user-domain-name",
            "heat",
            "--stack-domain-admin",
            "heat_domain_admin",
        ],
    );
    let base = format!("http://{}/v1", server.bind);
    let as_demo = Api {
        http: reqwest::Client::new(),
        base: format!("{base}/{project}"),
        token: demo_token.secret().to_string(),
    };
    let name = format!("stack-users-{:08x}", rand::random::<u32>());
    let (status, created) = as_demo
        .send(
            reqwest::Method::POST,
            "/stacks",
            Some(json!({"stack_name": name, "template": TEMPLATE})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let stack_id = created["stack"]["id"].as_str().unwrap().to_string();
    let stack_path = format!("{name}/{stack_id}");
    let (other_status, other) = as_demo
        .send(
            reqwest::Method::POST,
            "/stacks",
            Some(json!({"stack_name": format!("{name}-other"),
                "template": "heat_template_version: 2018-08-31\nresources:\n  none: {type: OS::Heat::None}\n"})),
        )
        .await;
    assert_eq!(other_status, 201, "{other}");
    let other_path = format!("{name}-other/{}", other["stack"]["id"].as_str().unwrap());

    // The deployment waits for its signal once the server is up.
    let resource = |name: &'static str| {
        let path = format!("/stacks/{stack_path}/resources/{name}");
        let api = &as_demo;
        async move {
            wait_for(api, &path, |r| {
                r["resource"]["resource_status"] == "CREATE_COMPLETE"
                    || r["resource"]["resource_status"] == "CREATE_IN_PROGRESS"
                        && name == "deployment"
            })
            .await
        }
    };
    let server_row = resource("server").await;
    resource("deployment").await;
    resource("key").await;
    let server_id = server_row["resource"]["physical_resource_id"]
        .as_str()
        .unwrap()
        .to_string();

    // os-collect-config's `heat` settings, where the server reads them: its user data.
    let nova_server = compute
        .get(format!("/servers/{server_id}"))
        .send_json()
        .await
        .unwrap();
    let user_data = nova_server["server"]["OS-EXT-SRV-ATTR:user_data"]
        .as_str()
        .expect("user data");
    let occ = cfn_init_data(user_data)["os-collect-config"].clone();
    assert_eq!(occ["collectors"], json!(["ec2", "heat", "local"]), "{occ}");
    let heat = &occ["heat"];
    assert_eq!(heat["stack_id"], json!(stack_path));
    assert_eq!(heat["resource_name"], "server");
    let domain_project = heat["project_id"].as_str().unwrap().to_string();
    let shown_project = keystone_get(&identity, &format!("/projects/{domain_project}"))
        .await
        .expect("the stack's domain project")["project"]
        .clone();
    assert_eq!(shown_project["domain_id"], json!(heat_domain));
    let expected_name: String = format!("{project}-{stack_id}").chars().take(64).collect();
    assert_eq!(shown_project["name"], json!(expected_name));
    let server_user = heat["user_id"].as_str().unwrap().to_string();
    let server_token = user_token(
        heat["auth_url"].as_str().unwrap(),
        &server_user,
        heat["password"].as_str().unwrap(),
        &domain_project,
    )
    .await;

    // The heat collector's poll: the server's metadata with its deployments.
    let as_server = Api {
        http: reqwest::Client::new(),
        base: format!("{base}/{domain_project}"),
        token: server_token.clone(),
    };
    let (status, metadata) = as_server
        .get(&format!("/stacks/{stack_path}/resources/server/metadata"))
        .await;
    assert_eq!(status, 200, "{metadata}");
    let deployment = metadata["metadata"]["deployments"][0].clone();
    assert_eq!(input(&deployment, "deploy_signal_transport"), "HEAT_SIGNAL");
    assert_eq!(input(&deployment, "deploy_stack_id"), stack_path);
    assert_eq!(input(&deployment, "deploy_resource_name"), "deployment");
    assert_eq!(input(&deployment, "deploy_project_id"), domain_project);

    // Everything else is refused to the server's user: listing stacks, another stack, the
    // owner's project, a stack action.
    for (status, what) in [
        (as_server.get("/stacks").await.0, "stack list"),
        (
            as_server
                .get(&format!("/stacks/{other_path}/resources/none/metadata"))
                .await
                .0,
            "another stack's metadata",
        ),
        (
            as_server.get(&format!("/stacks/{stack_path}")).await.0,
            "stack show",
        ),
        (
            as_server
                .get(&format!("/stacks/{stack_path}/resources/server"))
                .await
                .0,
            "resource show",
        ),
    ] {
        assert_eq!(status, 403, "{what}");
    }
    let owners_url = Api {
        base: format!("{base}/{project}"),
        http: reqwest::Client::new(),
        token: server_token.clone(),
    };
    assert_eq!(
        owners_url
            .get(&format!("/stacks/{stack_path}/resources/server/metadata"))
            .await
            .0,
        403
    );

    // heat-config-notify: the deployment's own user signals it to COMPLETE.
    let deploy_token = user_token(
        input(&deployment, "deploy_auth_url"),
        input(&deployment, "deploy_user_id"),
        input(&deployment, "deploy_password"),
        input(&deployment, "deploy_project_id"),
    )
    .await;
    assert_ne!(input(&deployment, "deploy_user_id"), server_user);
    let as_deployment = Api {
        http: reqwest::Client::new(),
        base: format!("{base}/{}", input(&deployment, "deploy_project_id")),
        token: deploy_token,
    };
    // Heat's `_authorize_stack_user`: the deployment's user may not read the server's
    // metadata (only the resource a user was made for).
    assert_eq!(
        as_deployment
            .get(&format!("/stacks/{stack_path}/resources/server/metadata"))
            .await
            .0,
        403
    );
    let (status, body) = as_deployment
        .send(
            reqwest::Method::POST,
            &format!(
                "/stacks/{}/resources/{}/signal",
                input(&deployment, "deploy_stack_id"),
                input(&deployment, "deploy_resource_name")
            ),
            Some(json!({"deploy_status_code": 0, "deploy_stdout": "ok\n",
                "deploy_stderr": "", "result": "ok"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let shown = wait_for(&as_demo, &format!("/stacks/{stack_path}"), |s| {
        s["stack"]["stack_status"] != "CREATE_IN_PROGRESS"
    })
    .await;
    assert_eq!(shown["stack"]["stack_status"], "CREATE_COMPLETE", "{shown}");
    let output = |key: &str| {
        shown["stack"]["outputs"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|o| o["output_key"] == key)
            .map(|o| o["output_value"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(output("result"), "ok");

    // The native wait condition handle's token is its stack user's Keystone token, and its
    // endpoint the signal path under the domain project (Heat's HeatWaitConditionHandle).
    let endpoint = output("handle_endpoint");
    let endpoint = endpoint.as_str().unwrap();
    assert!(
        endpoint.starts_with(&format!("{base}/{domain_project}/stacks/{stack_path}/")),
        "{endpoint}"
    );
    let signalled = reqwest::Client::new()
        .post(endpoint)
        .header("X-Auth-Token", output("handle_token").as_str().unwrap())
        .json(&json!({"status": "SUCCESS", "reason": "up", "id": "1", "data": "d"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signalled.status(), 200);

    // The IAM user is a stack user of the same project; its key an EC2 credential there.
    let (_, user_row) = as_demo
        .get(&format!("/stacks/{stack_path}/resources/user"))
        .await;
    let iam_user = user_row["resource"]["physical_resource_id"]
        .as_str()
        .unwrap()
        .to_string();
    let shown_user = keystone_get(&identity, &format!("/users/{iam_user}"))
        .await
        .expect("the IAM user")["user"]
        .clone();
    assert_eq!(shown_user["domain_id"], json!(heat_domain));
    assert_eq!(shown_user["default_project_id"], json!(domain_project));
    let credentials = keystone_get(&identity, &format!("/credentials?user_id={iam_user}"))
        .await
        .unwrap();
    let blob: Value = serde_json::from_str(
        credentials["credentials"][0]["blob"]
            .as_str()
            .expect("an ec2 credential"),
    )
    .unwrap();
    assert_eq!(blob["access"], output("key"));
    assert_eq!(
        credentials["credentials"][0]["project_id"],
        json!(domain_project)
    );

    // Heat's suspend and resume of a stack user: disabled while its stack is suspended.
    for (action, status, enabled) in [
        ("suspend", "SUSPEND_COMPLETE", false),
        ("resume", "RESUME_COMPLETE", true),
    ] {
        let (code, body) = as_demo
            .send(
                reqwest::Method::POST,
                &format!("/stacks/{stack_path}/actions"),
                Some(json!({ action: null })),
            )
            .await;
        assert_eq!(code, 200, "{action}: {body}");
        let shown = wait_for(&as_demo, &format!("/stacks/{stack_path}"), |s| {
            !s["stack"]["stack_status"]
                .as_str()
                .unwrap_or_default()
                .ends_with("_IN_PROGRESS")
        })
        .await;
        assert_eq!(shown["stack"]["stack_status"], status, "{shown}");
        let user = keystone_get(&identity, &format!("/users/{iam_user}"))
            .await
            .unwrap();
        assert_eq!(user["user"]["enabled"], json!(enabled), "after {action}");
    }

    // Deleting the stack deletes its project and every user in it.
    let users = [
        server_user.clone(),
        input(&deployment, "deploy_user_id").to_string(),
        iam_user,
    ];
    for path in [stack_path.clone(), other_path.clone()] {
        let (status, body) = as_demo
            .send(reqwest::Method::DELETE, &format!("/stacks/{path}"), None)
            .await;
        assert_eq!(status, 204, "{body}");
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (status, body) = as_demo.get(&format!("/stacks/{stack_path}")).await;
        let status_text = body["stack"]["stack_status"].as_str().unwrap_or_default();
        if status == 404 || status_text == "DELETE_COMPLETE" {
            break;
        }
        assert_ne!(status_text, "DELETE_FAILED", "{body}");
        assert!(Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        keystone_get(&identity, &format!("/projects/{domain_project}")).await,
        None
    );
    let listed = keystone_get(
        &identity,
        &format!("/projects?domain_id={heat_domain}&name={expected_name}"),
    )
    .await
    .unwrap();
    assert_eq!(listed["projects"], json!([]));
    for user in users {
        assert_eq!(
            keystone_get(&identity, &format!("/users/{user}")).await,
            None,
            "user {user}"
        );
    }
}
