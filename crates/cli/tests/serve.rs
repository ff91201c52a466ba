//! `ember serve` and client mode: one binary runs the API on a store, another `ember` drives it
//! over HTTP with the same commands and output as in process.

mod common;

use common::{ember, serve, stderr, stdout};
use serde_json::Value;

#[test]
fn client_mode_drives_ember_serve() {
    let server_dir = tempfile::tempdir().unwrap();
    let client_dir = tempfile::tempdir().unwrap();
    let server = serve(ember(server_dir.path()), &["--auth", "none"]);
    let bind = &server.bind;
    let endpoint = format!("http://{bind}/v1/tenant-a");
    let client = |args: &[&str]| {
        ember(client_dir.path())
            .env("EMBER_URL", &endpoint)
            .args(args)
            .output()
            .unwrap()
    };
    let info: Value = serde_json::from_slice(&client(&["info", "-f", "json"]).stdout).unwrap();
    assert_eq!(info["mode"], "client");
    assert_eq!(info["endpoint"], endpoint);

    let hello = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/hello.yaml");
    let created = client(&[
        "stack", "create", "-t", hello, "--wait", "--poll", "0.2", "remote",
    ]);
    assert!(created.status.success(), "{}", stderr(&created));
    assert!(
        stdout(&created).contains("[remote]: CREATE_COMPLETE  Stack CREATE completed successfully")
    );

    let list: Value =
        serde_json::from_slice(&client(&["stack", "list", "-f", "json"]).stdout).unwrap();
    assert_eq!(list[0]["Stack Name"], "remote");
    assert_eq!(list[0]["Stack Status"], "CREATE_COMPLETE");

    // The server's tenant is the URL's: another tenant sees nothing.
    let other = ember(client_dir.path())
        .env("EMBER_URL", format!("http://{bind}/v1/tenant-b"))
        .args(["stack", "show", "remote"])
        .output()
        .unwrap();
    assert_eq!(other.status.code(), Some(1));
    assert_eq!(stderr(&other), "Stack not found: remote\n");

    let deleted = client(&["stack", "delete", "-y", "--wait", "--poll", "0.2", "remote"]);
    assert!(deleted.status.success(), "{}", stderr(&deleted));
    assert_eq!(stdout(&client(&["stack", "list"])), "\n");
}
