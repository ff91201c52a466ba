//! One way for every crate's tests to reach the OpenStack lab (`scripts/lab up`, the services of
//! ../shared/openstack-lab on 127.0.0.1): its clouds.yaml clouds (`lab-demo`, `lab-admin`,
//! `lab-alt-demo`), connected sessions, the `OS_*` variables of its `env.sh`, an inventory of what
//! the services hold, and the rule for a missing lab: the test says so and passes, unless
//! `EMBER_REQUIRE_LAB=1` (CI), where it fails.
//!
//! Used only as a dev-dependency.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::process::Command;

use ember_openstack::services::block_storage::BlockStorage;
use ember_openstack::services::compute::Compute;
use ember_openstack::services::network::{Network, NeutronKind};
use ember_openstack::{CloudConfig, Error, Session};
use serde_json::Value;

/// The lab's state directory: `LAB_HOME`, else `~/.cache/openstack-lab` (as the lab's `env.sh`).
pub fn home() -> PathBuf {
    std::env::var("LAB_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/openstack-lab")
        })
}

/// The lab's clouds.yaml (for `OS_CLIENT_CONFIG_FILE` of an `ember` the test runs).
pub fn clouds_yaml() -> PathBuf {
    home().join("clouds.yaml")
}

/// The cloud `name` of the lab's clouds.yaml.
pub fn cloud(name: &str) -> Result<CloudConfig, Error> {
    let path = clouds_yaml();
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    CloudConfig::from_clouds_yaml(&text, name)
}

/// The demo user: the `OS_*` variables when `OS_AUTH_URL` is set (`eval "$(bash scripts/lab env)"`),
/// else `lab-demo`.
pub fn demo_cloud() -> Result<CloudConfig, Error> {
    if std::env::var("OS_AUTH_URL").is_ok() {
        CloudConfig::from_env()
    } else {
        cloud("lab-demo")
    }
}

/// A new session (so a new token) of the cloud `name` of the lab's clouds.yaml.
pub async fn session(name: &str) -> Result<Session, Error> {
    Session::connect(cloud(name)?).await
}

/// Sessions of the demo user `demo` and of `lab-admin`, or `None` (test skipped, see [`or_skip`]).
pub async fn demo_and_admin(demo: Result<CloudConfig, Error>) -> Option<(Session, Session)> {
    let connected = async {
        let demo = Session::connect(demo?).await?;
        let admin = session("lab-admin").await?;
        Ok::<_, Error>((demo, admin))
    }
    .await;
    or_skip(connected)
}

/// Must the lab answer (`EMBER_REQUIRE_LAB=1`, CI)? Then a test fails where it would skip.
pub fn required() -> bool {
    std::env::var("EMBER_REQUIRE_LAB").as_deref() == Ok("1")
}

/// The skip-or-require rule: what connecting to the lab gave, or `None` after saying why the test
/// is skipped.
///
/// # Panics
/// When the lab is [`required`] and connecting failed.
pub fn or_skip<T, E: Display>(connected: Result<T, E>) -> Option<T> {
    match connected {
        Ok(value) => Some(value),
        Err(error) if required() => {
            panic!("EMBER_REQUIRE_LAB=1 but the OpenStack lab is unreachable: {error}")
        }
        Err(error) => {
            eprintln!("skipped: no OpenStack lab ({error})");
            None
        }
    }
}

/// The `OS_*` variables the lab's `env.sh` sets for `user` (`demo`, `admin`, `alt_demo`), as
/// `scripts/lab env <user>` gives them (the lab's scripts: `LAB_DIR`, else
/// ../shared/openstack-lab beside the repository).
pub fn env(user: &str) -> Result<Vec<(String, String)>, Error> {
    let lab_dir = std::env::var("LAB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/openstack-lab")
        });
    let env_sh = lab_dir.join("env.sh");
    let output = Command::new("bash")
        .arg("-c")
        .arg(format!(". '{}' {user} >/dev/null && env", env_sh.display()))
        .output()
        .map_err(|e| Error::Config(format!("{}: {e}", env_sh.display())))?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.starts_with("OS_"))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

/// Everything each service shows the session (Neutron's kinds, Nova's servers, Cinder's
/// volumes), for before/after comparisons.
pub async fn holdings(session: &Session) -> Result<BTreeMap<&'static str, Vec<Value>>, Error> {
    let network = Network::new(session).await?;
    let mut out = BTreeMap::new();
    for (label, kind) in [
        ("networks", NeutronKind::Network),
        ("subnets", NeutronKind::Subnet),
        ("ports", NeutronKind::Port),
        ("routers", NeutronKind::Router),
        ("security_groups", NeutronKind::SecurityGroup),
        ("floatingips", NeutronKind::FloatingIp),
    ] {
        out.insert(label, network.list(kind, &[]).await?);
    }
    let compute = Compute::new(session).await?;
    out.insert("servers", compute.list_servers().await?);
    let storage = BlockStorage::new(session).await?;
    out.insert("volumes", storage.list_volumes().await?);
    Ok(out)
}

/// What each service holds, by id, for before/after comparisons.
pub async fn inventory(session: &Session) -> Result<BTreeMap<&'static str, Vec<String>>, Error> {
    let ids = |list: Vec<Value>| {
        list.iter()
            .filter_map(|v| v["id"].as_str().map(str::to_string))
            .collect()
    };
    Ok(holdings(session)
        .await?
        .into_iter()
        .map(|(label, list)| (label, ids(list)))
        .collect())
}
