//! What a server boots with, per `user_data_format`, read back from the lab's Nova: the user
//! data it stored (`OS-EXT-SRV-ATTR:user_data`, shown to the admin) decoded as cloud-init
//! decodes it, the server's Nova metadata, and, for SOFTWARE_CONFIG, the pre-signed metadata
//! URL os-collect-config polls, fetched through ember-api's router over the same engine.
//! Without a lab the tests say so and pass, unless `EMBER_REQUIRE_LAB=1`.

mod common;
mod lab_types;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use common::*;
use ember_openstack::services::compute::Compute;
use ember_openstack::Session;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use tower::ServiceExt;

/// Where the test's API server would listen (the URLs it mints point there).
const PUBLIC_URL: &str = "http://127.0.0.1:18004";

/// One part of a MIME message: file name, content type, decoded content. Read independently
/// of the code under test, the way Python's `email` (cloud-init) reads it.
#[derive(Debug)]
struct Part {
    filename: String,
    content_type: String,
    content: String,
}

fn mime_parts(message: &str) -> Vec<Part> {
    let boundary = message
        .lines()
        .next()
        .and_then(|l| l.split("boundary=\"").nth(1))
        .and_then(|b| b.split('"').next())
        .unwrap_or_else(|| panic!("not a multipart message: {message}"));
    let delimiter = format!("\n--{boundary}");
    let mut parts = Vec::new();
    for chunk in message.split(delimiter.as_str()).skip(1) {
        if chunk.starts_with("--") {
            break;
        }
        let (head, body) = chunk.trim_start_matches('\n').split_once("\n\n").unwrap();
        let header = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                .unwrap_or_default()
                .to_string()
        };
        let content = if header("Content-Transfer-Encoding") == "base64" {
            let compact: String = body.split_whitespace().collect();
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .unwrap(),
            )
            .unwrap()
        } else {
            body.to_string()
        };
        parts.push(Part {
            filename: header("Content-Disposition")
                .split("filename=\"")
                .nth(1)
                .and_then(|f| f.split('"').next())
                .unwrap_or_default()
                .to_string(),
            content_type: header("Content-Type")
                .split(';')
                .next()
                .unwrap_or_default()
                .to_string(),
            content,
        });
    }
    parts
}

fn part<'a>(parts: &'a [Part], filename: &str) -> &'a Part {
    parts
        .iter()
        .find(|p| p.filename == filename)
        .unwrap_or_else(|| panic!("no {filename} part in {parts:?}"))
}

/// `GET` of a URL the engine minted, through the router; status and JSON body.
async fn get(api: &axum::Router, url: &str) -> (StatusCode, Value) {
    let path = url
        .strip_prefix(PUBLIC_URL)
        .expect("a URL of the test server");
    let response = api
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The user data Nova stored for a server, and its Nova metadata.
async fn stored(admin: &Session, server_id: &str) -> (String, Value) {
    let compute = Compute::new(admin).await.unwrap();
    let metadata = compute.server(server_id).await.unwrap()["metadata"].clone();
    (
        lab_types::stored_user_data(admin, server_id).await,
        metadata,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_boot_with_heats_user_data_for_each_format() {
    let Some(lab) = lab_types::lab().await else {
        return;
    };
    let (svc, api) = engine_and_api(PUBLIC_URL, lab_config(&lab.demo));
    let name = format!("userdata-{}", lab_types::suffix());
    let server = |extra: Value| {
        let mut props = json!({"image": "cirros", "flavor": "m1.tiny",
                               "networks": [{"network": "private-net"}]});
        props
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        props
    };
    let template = json!({
        "heat_template_version": "2016-10-14",
        "resources": {
            "config": {"type": "OS::Heat::SoftwareConfig", "properties": {
                "group": "script", "config": "#!/bin/sh\necho from-config\n"}},
            "cfn": {"type": "OS::Nova::Server",
                    "metadata": {"AWS::CloudFormation::Init": {"config": {
                        "files": {"/etc/motd": {"content": {"get_param": "OS::stack_name"}}}}}},
                    "properties": server(json!({
                        "user_data_format": "HEAT_CFNTOOLS",
                        "user_data": "#!/bin/sh\necho cfn\n"}))},
            "sc": {"type": "OS::Nova::Server",
                   "metadata": {"app": {"port": 80}},
                   "properties": server(json!({
                       "user_data_format": "SOFTWARE_CONFIG",
                       "software_config_transport": "POLL_TEMP_URL",
                       "user_data": {"get_resource": "config"},
                       "metadata": {"role": "web", "replicas": 2}}))},
            "raw": {"type": "OS::Nova::Server",
                    "properties": server(json!({
                        "user_data_format": "RAW", "user_data": "#!/bin/sh\necho raw\n"}))},
            "deploy": {"type": "OS::Heat::SoftwareDeployment", "properties": {
                "config": {"get_resource": "config"}, "server": {"get_resource": "sc"},
                "signal_transport": "NO_SIGNAL"}}
        },
        "outputs": {"occ": {"value": {"get_attr": ["sc", "os_collect_config"]}}}
    });
    let id = start_create(&svc, json_request(&name, template)).await;
    let stack = wait(&svc, &id).await;
    let ids: BTreeMap<String, String> = resources(&svc, &id)
        .await
        .into_iter()
        .map(|(r, row)| {
            let physical = row["physical_resource_id"].as_str().unwrap_or_default();
            (r, physical.to_string())
        })
        .collect();
    let occ = output(&svc, &id, "occ").await["output_value"].clone();
    // `GET .../resources/sc/metadata`, as Heat keeps a SOFTWARE_CONFIG server's metadata.
    let shown = svc.resource_metadata(&cx(), &id, "sc").await;
    let admin = lab.admin.clone();
    let checked = async move {
        assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
        let shown = shown.expect("the server's metadata");
        check_formats(&admin, &api, &name, &ids, &occ, &shown).await;
    };
    // Whatever the checks find, delete the stack so no server is left behind.
    let outcome = tokio::spawn(checked).await;
    svc.delete_stack(&cx(), &id).await.expect("delete accepted");
    let gone = wait(&svc, &id).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic.into_panic());
    }
    assert_eq!(status(&gone), "DELETE_COMPLETE", "{}", reason(&gone));
}

async fn check_formats(
    admin: &Session,
    api: &axum::Router,
    stack_name: &str,
    ids: &BTreeMap<String, String>,
    occ: &Value,
    shown: &Value,
) {
    let physical = |r: &str| ids[r].clone();
    // RAW: the text as given.
    let (raw, _) = stored(admin, &physical("raw")).await;
    assert_eq!(raw, "#!/bin/sh\necho raw\n");

    // HEAT_CFNTOOLS: Heat's parts in Heat's order, the template's Metadata as cfn-init-data,
    // and Ember's own CFN endpoint for the cfn tools.
    let (cfn, _) = stored(admin, &physical("cfn")).await;
    let parts = mime_parts(&cfn);
    let names: Vec<(&str, &str)> = parts
        .iter()
        .map(|p| (p.filename.as_str(), p.content_type.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("cloud-config", "text/cloud-config"),
            ("boothook.sh", "text/cloud-boothook"),
            ("part-handler.py", "text/part-handler"),
            ("cfn-userdata", "text/x-cfninitdata"),
            ("loguserdata.py", "text/x-shellscript"),
            ("cfn-init-data", "text/x-cfninitdata"),
            ("cfn-metadata-server", "text/x-cfninitdata"),
            ("cfn-boto-cfg", "text/x-cfninitdata"),
        ]
    );
    assert_eq!(
        part(&parts, "cfn-userdata").content,
        "#!/bin/sh\necho cfn\n"
    );
    let init: Value = serde_json::from_str(&part(&parts, "cfn-init-data").content).unwrap();
    assert_eq!(
        init,
        json!({"AWS::CloudFormation::Init": {"config": {
            "files": {"/etc/motd": {"content": stack_name}}}}})
    );
    assert_eq!(
        part(&parts, "cfn-metadata-server").content,
        format!("{PUBLIC_URL}/v1/")
    );
    assert!(
        part(&parts, "cfn-boto-cfg")
            .content
            .ends_with("cfn_region_endpoint = 127.0.0.1"),
        "{parts:?}"
    );

    // SOFTWARE_CONFIG: the config's body (not its id) as the user's part; the metadata with
    // the deployments and the request collector polling Ember's pre-signed URL.
    let sc_id = physical("sc");
    let (sc, nova_metadata) = stored(admin, &sc_id).await;
    let parts = mime_parts(&sc);
    let names: Vec<&str> = parts.iter().map(|p| p.filename.as_str()).collect();
    assert_eq!(
        names,
        [
            "cloud-config",
            "boothook.sh",
            "part-handler.py",
            "",
            "cfn-init-data"
        ]
    );
    assert_eq!(parts[3].content, "#!/bin/sh\necho from-config\n");
    let init: Value = serde_json::from_str(&part(&parts, "cfn-init-data").content).unwrap();
    let url = init["os-collect-config"]["request"]["metadata_url"]
        .as_str()
        .unwrap_or_else(|| panic!("no metadata URL in {init}"))
        .to_string();
    assert!(
        url.starts_with(&format!("{PUBLIC_URL}/v1/metadata/")),
        "{url}"
    );
    assert_eq!(
        init,
        json!({
            "app": {"port": 80},
            "deployments": [],
            "os-collect-config": {
                "collectors": ["ec2", "request", "local"],
                "request": {"metadata_url": url},
            },
        })
    );
    assert_eq!(occ, &init["os-collect-config"]);
    // Nova's metadata is the `metadata` property alone, values as strings (as Heat sends it).
    assert_eq!(nova_metadata, json!({"role": "web", "replicas": "2"}));

    // What os-collect-config polls: the metadata with the deployment made after the server.
    let (code, polled) = get(api, &url).await;
    assert_eq!(code, StatusCode::OK, "{polled}");
    assert_eq!(polled["app"], json!({"port": 80}));
    let deployments = polled["deployments"].as_array().expect("deployments");
    assert_eq!(deployments.len(), 1, "{polled}");
    let input = |n: &str| {
        deployments[0]["inputs"]
            .as_array()
            .and_then(|i| i.iter().find(|i| i["name"] == json!(n)))
            .map(|i| i["value"].clone())
            .unwrap_or_default()
    };
    assert_eq!(
        deployments[0]["config"],
        json!("#!/bin/sh\necho from-config\n")
    );
    assert_eq!(input("deploy_server_id"), json!(sc_id));
    assert_eq!(input("deploy_resource_name"), json!("deploy"));
    // The resource's metadata view is the same document, os-collect-config included.
    assert_eq!(&polled, shown);
    assert_eq!(&polled["os-collect-config"], occ);
    // The signature covers the resource: another resource's path with it is refused.
    let forged = url.replace("%2Fresources%2Fsc", "%2Fresources%2Fraw");
    assert_ne!(forged, url);
    assert_eq!(get(api, &forged).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transports_ember_cannot_serve_are_refused_before_anything_is_made() {
    let Some(lab) = lab_types::lab().await else {
        return;
    };
    let (svc, _) = engine_and_api(PUBLIC_URL, lab_config(&lab.demo));
    for transport in ["POLL_SERVER_HEAT", "ZAQAR_MESSAGE"] {
        let template = json!({
            "heat_template_version": "2016-10-14",
            "resources": {"sc": {"type": "OS::Nova::Server", "properties": {
                "image": "cirros", "flavor": "m1.tiny",
                "networks": [{"network": "private-net"}],
                "user_data_format": "SOFTWARE_CONFIG",
                "software_config_transport": transport}}}
        });
        let refused = svc
            .create_stack(
                &cx(),
                ember_engine::StackRequest {
                    stack_name: Some(format!("transport-{}", lab_types::suffix())),
                    template: Some(template),
                    ..Default::default()
                },
            )
            .await
            .expect_err("refused");
        let message = refused.to_string();
        assert!(
            message.contains(&format!(
                "software_config_transport {transport} is not supported by Ember"
            )),
            "{message}"
        );
        assert!(message.contains("resources.sc"), "{message}");
    }
}
