//! Issue 6 (b) through the `ember` binary on the OpenStack lab: when Nova refuses a resize (no
//! host can take the new flavor), `ember stack update --wait` ends in UPDATE_FAILED with Nova's
//! reason instead of waiting forever as Heat does, and the server stays as it was.
//!
//! Credentials: the lab's clouds.yaml (`lab-demo`, `lab-admin`). Without a lab the test says
//! so and passes, unless `EMBER_REQUIRE_LAB=1` (CI).

mod common;

use common::{stderr, stdout};
use ember_openstack::services::compute::Compute;
use ember_openstack::services::network::{Network, NeutronKind};
use ember_openstack::Session;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Instant;

/// `ember` in process on `store`, acting as the lab's demo user.
fn run(store: &Path, args: &[&str]) -> Output {
    common::ember(store)
        .env("OS_CLIENT_CONFIG_FILE", ember_lab::clouds_yaml())
        .env("OS_CLOUD", "lab-demo")
        .args(args)
        .output()
        .unwrap()
}

const TEMPLATE: &str = "heat_template_version: 2018-08-31
parameters:
  flavor: {type: string}
  net: {type: string}
resources:
  server:
    type: OS::Nova::Server
    properties:
      image: cirros
      flavor: {get_param: flavor}
      networks: [{network: {get_param: net}}]
outputs:
  id: {value: {get_resource: server}}
";

/// Removes what the test made, whatever happened.
struct Cleanup {
    store: PathBuf,
    stack: String,
    flavor: Option<String>,
    admin: Session,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        run(
            &self.store,
            &["stack", "delete", "-y", "--wait", &self.stack],
        );
        if let Some(flavor) = self.flavor.take() {
            let admin = self.admin.clone();
            // Drop runs inside the test's runtime: clean up on a thread of its own.
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Runtime::new().unwrap();
                runtime.block_on(async {
                    let compute = Compute::new(&admin).await.unwrap();
                    let _ = compute.delete_flavor(&flavor).await;
                });
            })
            .join()
            .unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resize_nova_refuses_fails_the_update_with_novas_reason() {
    let Some((demo, admin)) = ember_lab::demo_and_admin(ember_lab::cloud("lab-demo")).await else {
        return;
    };
    let s = format!("{:08x}", rand::random::<u32>());
    let store = tempfile::tempdir().unwrap();
    let stack = format!("resize-{s}");
    let template = store.path().join("server.yaml");
    std::fs::write(&template, TEMPLATE).unwrap();
    // A public flavor no host of the lab can hold (the one compute host has 8000 MB × 64).
    let huge = format!("huge-{s}");
    let compute_admin = Compute::new(&admin).await.unwrap();
    compute_admin
        .create_flavor(
            json!({"name": huge, "ram": 1_000_000, "vcpus": 1, "disk": 1, "os-flavor-access:is_public": true}),
            None,
        )
        .await
        .unwrap();
    let mut cleanup = Cleanup {
        store: store.path().to_path_buf(),
        stack: stack.clone(),
        flavor: Some(huge.clone()),
        admin: admin.clone(),
    };
    let flavor_id = compute_admin.find_flavor(&huge).await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    cleanup.flavor = Some(flavor_id);
    // The lab's own private network (its subnet's name is unique; the network's may not be).
    let net = Network::new(&demo)
        .await
        .unwrap()
        .find(NeutronKind::Subnet, "private-subnet")
        .await
        .unwrap()["network_id"]
        .as_str()
        .unwrap()
        .to_string();
    let net_param = format!("net={net}");
    let template = template.to_str().unwrap();
    let created = run(
        store.path(),
        &[
            "stack",
            "create",
            "-t",
            template,
            "--parameter",
            "flavor=m1.tiny",
            "--parameter",
            &net_param,
            "--wait",
            &stack,
        ],
    );
    assert!(
        created.status.success(),
        "{}{}",
        stdout(&created),
        stderr(&created)
    );
    let shown = run(
        store.path(),
        &["stack", "output", "show", &stack, "id", "-f", "json"],
    );
    let server: Value = serde_json::from_slice(&shown.stdout).unwrap();
    let server = server["output_value"].as_str().unwrap().to_string();

    let started = Instant::now();
    let huge_param = format!("flavor={huge}");
    let updated = run(
        store.path(),
        &[
            "stack",
            "update",
            "--existing",
            "--parameter",
            &huge_param,
            "--wait",
            &stack,
        ],
    );
    let secs = started.elapsed().as_secs_f64();
    let (out, err) = (stdout(&updated), stderr(&updated));
    assert!(
        !updated.status.success(),
        "the update must fail: {out}{err}"
    );
    assert!(out.contains("UPDATE_FAILED"), "{out}{err}");
    // Nova's scheduler refusal, as far as Nova shows it to the (non-admin) stack owner.
    assert!(
        err.contains("Nova refused the request") || err.contains("No valid host"),
        "{out}{err}"
    );
    let status = run(
        store.path(),
        &["stack", "show", &stack, "-c", "stack_status", "-f", "value"],
    );
    assert_eq!(stdout(&status).trim(), "UPDATE_FAILED");
    let server = Compute::new(&demo)
        .await
        .unwrap()
        .server(&server)
        .await
        .unwrap();
    assert_eq!(server["status"], "ACTIVE", "the server stays usable");
    assert_eq!(server["flavor"]["original_name"], "m1.tiny");
    eprintln!("refused resize reported as UPDATE_FAILED after {secs:.1} s");
    drop(cleanup);
}
