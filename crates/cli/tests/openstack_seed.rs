//! The seed's web application stack (../shared/seed/webapp.yaml) through the `ember` binary in
//! in-process mode against the OpenStack lab (../shared/openstack-lab): create, flavor resize,
//! a replacement, delete leaving nothing behind; and custom constraints refusing a missing
//! image or flavor at create.
//!
//! Credentials: `OS_*` (`. env.sh demo`) or the lab's clouds.yaml (`lab-demo`, `lab-admin`).
//! Without a lab the tests say so and pass, unless `EMBER_REQUIRE_LAB=1` (CI).

mod common;

use common::{stderr, stdout};
use ember_openstack::services::block_storage::BlockStorage;
use ember_openstack::services::compute::Compute;
use ember_openstack::services::image::Image;
use ember_openstack::services::network::{Network, NeutronKind};
use ember_openstack::{Error, Session};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

struct Lab {
    demo: Session,
    admin: Session,
}

async fn lab() -> Option<Lab> {
    let (demo, admin) = ember_lab::demo_and_admin(ember_lab::cloud("lab-demo")).await?;
    Some(Lab { demo, admin })
}

/// `ember` in in-process mode on a private store, with the lab's demo user as the cloud
/// credentials (through clouds.yaml: the same `OS_*` path as `. env.sh demo`).
fn ember(store: &Path) -> Command {
    let mut cmd = common::ember(store);
    cmd.env("OS_CLIENT_CONFIG_FILE", ember_lab::clouds_yaml());
    cmd.env("OS_CLOUD", "lab-demo");
    cmd.env("EMBER_LOG", "ember::cloud=debug");
    cmd
}

fn run(store: &Path, args: &[&str]) -> Output {
    ember(store).args(args).output().unwrap()
}

fn seed_template() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/seed/webapp.yaml")
}

/// The seed's template with its fixed physical names (`web-sg`, `private-net`, `web-server`)
/// made unique, written into `dir`. The lab's demo project has a `private-net` of its own, and
/// other tests name it: a second network of that name would make their lookups ambiguous
/// while this test runs. The seed's names are not parameters, so the copy renames them (the
/// `private-net` key of the server's `addresses` follows the network's name).
fn unique_seed_template(dir: &Path, suffix: &str) -> PathBuf {
    let text = std::fs::read_to_string(seed_template()).unwrap();
    let mut renamed = text.clone();
    for name in ["web-sg", "private-net", "web-server"] {
        renamed = renamed.replace(name, &format!("{name}-{suffix}"));
    }
    assert_eq!(renamed.matches(suffix).count(), 4, "{renamed}");
    let path = dir.join("webapp.yaml");
    std::fs::write(&path, renamed).unwrap();
    path
}

/// Deletes what a run made, also when an assertion fails midway: the stack (through
/// `ember stack delete`, so the engine removes every resource it created) and the key pairs.
struct Cleanup {
    store: tempfile::TempDir,
    stack: String,
    keys: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let listed = run(
            self.store.path(),
            &["stack", "list", "-f", "value", "-c", "Stack Name"],
        );
        if stdout(&listed).lines().any(|l| l == self.stack) {
            let deleted = run(
                self.store.path(),
                &["stack", "delete", "-y", "--wait", &self.stack],
            );
            if !deleted.status.success() {
                eprintln!("cleanup: stack delete failed: {}", stderr(&deleted));
            }
        }
        let keys = std::mem::take(&mut self.keys);
        // Drop may run inside the test's runtime, which cannot block on another future.
        let removed = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let demo = ember_lab::session("lab-demo").await?;
                let compute = Compute::new(&demo).await?;
                for key in &keys {
                    if let Err(e) = compute.delete_keypair(key).await {
                        if !e.is_not_found() {
                            return Err(e);
                        }
                    }
                }
                Ok::<_, Error>(())
            })
        })
        .join();
        if !matches!(removed, Ok(Ok(()))) {
            eprintln!("cleanup: key pairs not all removed: {removed:?}");
        }
    }
}

fn suffix() -> String {
    format!("{:08x}", rand::random::<u32>())
}

/// The prerequisites the template presumes, made as admin when missing: a public image
/// `ubuntu-22.04` and a volume type `ssd`. Once per test process (the tests of this file run in
/// parallel), and only what is really missing: a lookup that fails otherwise (e.g. two images
/// of the name, made by tests racing elsewhere) must not add one more.
async fn seed_prerequisites(admin: &Session) {
    static DONE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    DONE.get_or_init(|| async {
        let images = Image::new(admin).await.unwrap();
        match images.find("ubuntu-22.04").await {
            Err(e) if e.is_not_found() => {
                let made = images
                    .create(json!({"name": "ubuntu-22.04", "disk_format": "raw",
                        "container_format": "bare", "visibility": "public"}))
                    .await
                    .unwrap();
                images
                    .upload(
                        made["id"].as_str().unwrap(),
                        vec![0u8; 65536],
                        &Default::default(),
                    )
                    .await
                    .unwrap();
            }
            found => {
                found.unwrap();
            }
        }
        let storage = BlockStorage::new(admin).await.unwrap();
        match storage.find_volume_type("ssd").await {
            Err(e) if e.is_not_found() => {
                storage
                    .create_volume_type(json!({"name": "ssd"}))
                    .await
                    .unwrap();
            }
            found => {
                found.unwrap();
            }
        }
    })
    .await;
}

fn ids(list: &[Value]) -> BTreeSet<String> {
    list.iter()
        .filter_map(|v| v["id"].as_str().map(str::to_owned))
        .collect()
}

/// The physical ids of the stack's resources, by resource name.
fn physical_ids(store: &Path, stack: &str) -> BTreeMap<String, String> {
    let out = run(store, &["stack", "resource", "list", stack, "-f", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    rows.iter()
        .map(|r| {
            (
                r["resource_name"].as_str().unwrap().to_owned(),
                r["physical_resource_id"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn output(store: &Path, stack: &str, key: &str) -> String {
    let out = run(
        store,
        &["stack", "output", "show", stack, key, "-f", "json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    shown["output_value"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The `cloud API calls: ...` line the command logged.
fn api_calls(out: &Output) -> String {
    stderr(out)
        .lines()
        .find_map(|l| l.split_once("cloud API calls: ").map(|(_, c)| c.to_owned()))
        .unwrap_or_default()
}

fn timed(store: &Path, args: &[&str]) -> (Output, f64) {
    let started = Instant::now();
    let out = run(store, args);
    let secs = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "ember {}: {}{}",
        args.join(" "),
        stdout(&out),
        stderr(&out)
    );
    (out, secs)
}

#[tokio::test(flavor = "multi_thread")]
async fn seed_webapp_stack_through_ember() {
    let Some(lab) = lab().await else { return };
    seed_prerequisites(&lab.admin).await;
    let s = suffix();
    let compute = Compute::new(&lab.demo).await.unwrap();
    let (key, new_key) = (format!("seed-{s}"), format!("seed-{s}-2"));
    let cleanup = Cleanup {
        store: tempfile::tempdir().unwrap(),
        stack: format!("seed-{s}"),
        keys: vec![key.clone(), new_key.clone()],
    };
    for k in [&key, &new_key] {
        compute.create_keypair(json!({"name": k})).await.unwrap();
    }
    let store = cleanup.store.path();
    let stack = cleanup.stack.clone();
    let template = unique_seed_template(store, &s);
    let template = template.to_str().unwrap();
    let before = ember_lab::holdings(&lab.demo).await.unwrap();

    let key_param = format!("key_name={key}");
    let (created, create_secs) = timed(
        store,
        &[
            "stack",
            "create",
            "-t",
            template,
            "--parameter",
            &key_param,
            "--parameter",
            "db_password=secret",
            "--wait",
            &stack,
        ],
    );
    assert!(
        stdout(&created).contains(&format!(
            "[{stack}]: CREATE_COMPLETE  Stack CREATE completed successfully"
        )),
        "{}",
        stdout(&created)
    );
    // Issue 6 (a): the association waits for the router interface (an implicit dependency Heat
    // lacks: its port is on private_net, whose subnet the interface routes).
    let interface = run(
        store,
        &[
            "stack",
            "resource",
            "show",
            &stack,
            "router_interface",
            "-f",
            "json",
        ],
    );
    let interface: Value = serde_json::from_slice(&interface.stdout).unwrap();
    assert!(
        interface["required_by"]
            .as_array()
            .is_some_and(|r| r.contains(&json!("floating_ip_assoc"))),
        "{interface}"
    );
    let mut ours = physical_ids(store, &stack);
    let server = ours["web_server"].clone();
    let public: std::net::IpAddr = output(store, &stack, "server_ip").parse().unwrap();
    let private: std::net::IpAddr = output(store, &stack, "server_private_ip").parse().unwrap();
    let fip = Network::new(&lab.demo)
        .await
        .unwrap()
        .show(NeutronKind::FloatingIp, &ours["floating_ip"])
        .await
        .unwrap();
    assert_eq!(fip["floating_ip_address"], public.to_string());
    assert_eq!(fip["fixed_ip_address"], private.to_string());
    assert!(private.to_string().starts_with("192.168.100."), "{private}");
    let shown = compute.server(&server).await.unwrap();
    assert_eq!(shown["status"], "ACTIVE");
    assert_eq!(shown["flavor"]["original_name"], "m1.small");
    let volume = BlockStorage::new(&lab.demo)
        .await
        .unwrap()
        .volume(&ours["data_volume"])
        .await
        .unwrap();
    assert_eq!(volume["status"], "in-use");
    assert_eq!(volume["size"], 100);
    assert_eq!(volume["attachments"][0]["server_id"], server.as_str());

    // Resize in place: the same server, the new flavor.
    let (resized, resize_secs) = timed(
        store,
        &[
            "stack",
            "update",
            "--existing",
            "--parameter",
            "flavor=m1.medium",
            "--wait",
            &stack,
        ],
    );
    assert!(stdout(&resized).contains("UPDATE_COMPLETE"));
    assert_eq!(physical_ids(store, &stack)["web_server"], server);
    let shown = compute.server(&server).await.unwrap();
    assert_eq!(shown["flavor"]["original_name"], "m1.medium");
    assert_eq!(shown["status"], "ACTIVE");

    // key_name cannot change in place: the server is replaced, and what used it follows.
    let new_key_param = format!("key_name={new_key}");
    let (replacing, replace_secs) = timed(
        store,
        &[
            "stack",
            "update",
            "--existing",
            "--parameter",
            &new_key_param,
            "--wait",
            &stack,
        ],
    );
    assert!(
        stdout(&replacing).contains(&format!(
            "[{stack}]: UPDATE_COMPLETE  Stack UPDATE completed successfully"
        )),
        "{}",
        stdout(&replacing)
    );
    let replaced = physical_ids(store, &stack);
    let new_server = replaced["web_server"].clone();
    assert_ne!(new_server, server);
    assert_eq!(
        compute.server(&new_server).await.unwrap()["key_name"],
        new_key.as_str()
    );
    assert!(compute
        .server(&server)
        .await
        .is_err_and(|e| e.is_not_found()));
    let volume = BlockStorage::new(&lab.demo)
        .await
        .unwrap()
        .volume(&replaced["data_volume"])
        .await
        .unwrap();
    assert_eq!(volume["attachments"][0]["server_id"], new_server.as_str());
    let fip = Network::new(&lab.demo)
        .await
        .unwrap()
        .show(NeutronKind::FloatingIp, &replaced["floating_ip"])
        .await
        .unwrap();
    assert_eq!(
        output(store, &stack, "server_private_ip"),
        fip["fixed_ip_address"].as_str().unwrap()
    );
    ours.extend(replaced.into_iter().map(|(k, v)| (format!("{k}'"), v)));
    // The ports Nova made for the servers belong to the stack too.
    let during = ember_lab::holdings(&lab.demo).await.unwrap();
    let mut ours: BTreeSet<String> = ours.into_values().filter(|v| !v.is_empty()).collect();
    for port in &during["ports"] {
        let device = port["device_id"].as_str().unwrap_or_default();
        let network = port["network_id"].as_str().unwrap_or_default();
        if ours.contains(device) || ours.contains(network) {
            ours.insert(port["id"].as_str().unwrap().to_owned());
        }
    }

    let (deleted, delete_secs) = timed(store, &["stack", "delete", "-y", "--wait", &stack]);
    let listed = run(store, &["stack", "list", "-f", "json"]);
    assert_eq!(
        serde_json::from_slice::<Value>(&listed.stdout).unwrap(),
        json!([])
    );
    let after = ember_lab::holdings(&lab.demo).await.unwrap();
    for (service, list) in &after {
        let now = ids(list);
        let leaked: Vec<&String> = now.iter().filter(|id| ours.contains(*id)).collect();
        assert!(leaked.is_empty(), "{service} left behind: {leaked:?}");
        let was = ids(&before[service]);
        eprintln!(
            "{service}: {} before, {} after ({} of them new, none the stack's)",
            was.len(),
            now.len(),
            now.difference(&was).count()
        );
    }
    eprintln!(
        "seed webapp through ember: create {create_secs:.1} s (API calls {}), resize {resize_secs:.1} s ({}), \
         replace {replace_secs:.1} s, delete {delete_secs:.1} s ({})",
        api_calls(&created),
        api_calls(&resized),
        api_calls(&deleted)
    );
}

/// Heat's custom constraints, checked before the stack is accepted: nothing is stored and the
/// error names the missing thing.
#[tokio::test(flavor = "multi_thread")]
async fn a_missing_image_or_flavor_is_refused_at_create() {
    let Some(lab) = lab().await else { return };
    seed_prerequisites(&lab.admin).await;
    let store = tempfile::tempdir().unwrap();
    let store = store.path();
    let template = seed_template();
    let refused = run(
        store,
        &[
            "stack",
            "create",
            "-t",
            template.to_str().unwrap(),
            "--parameter",
            "key_name=any",
            "--parameter",
            "db_password=x",
            "--parameter",
            "image_id=no-such-image",
            "seed",
        ],
    );
    assert!(!refused.status.success());
    assert_eq!(
        stderr(&refused)
            .lines()
            .find(|l| l.starts_with("ERROR"))
            .unwrap_or_default(),
        "ERROR: Property error: resources.web_server.properties.image: Error validating value \
         'no-such-image': The Image (no-such-image) could not be found."
    );

    let flavorless = store.join("server.yaml");
    std::fs::write(
        &flavorless,
        "heat_template_version: 2021-04-16\nresources:\n  server:\n    type: OS::Nova::Server\n    \
         properties:\n      image: ubuntu-22.04\n      flavor: m9.nope\n",
    )
    .unwrap();
    let refused = run(
        store,
        &[
            "stack",
            "create",
            "-t",
            flavorless.to_str().unwrap(),
            "flavorless",
        ],
    );
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains(
            "ERROR: Property error: resources.server.properties.flavor: Error validating value \
             'm9.nope': The Flavor (m9.nope) could not be found."
        ),
        "{}",
        stderr(&refused)
    );
    let listed = run(store, &["stack", "list", "-f", "json"]);
    assert_eq!(
        serde_json::from_slice::<Value>(&listed.stdout).unwrap(),
        json!([])
    );
}
