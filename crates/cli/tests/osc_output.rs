//! `ember` prints what `openstack` prints. Each line of `tests/fixtures/osc/cases.txt` is a
//! command; `tests/fixtures/osc/N.out` is what the real `openstack` CLI (OSC 10.5, heatclient
//! 5.3) printed for it, and `N.rc` its exit status, against a stand-in Heat answering with
//! responses recorded from a real Heat 27 (`tests/fixtures/heat/hello-stack.json`).
//! `tests/fixtures/record-osc.sh` re-records them.

mod common;

use common::{ember, fixtures, FakeHeat};

/// Serves the recordings on `EMBER_FAKE_HEAT_PORT` until killed (for record-osc.sh).
#[test]
#[ignore]
fn serve_fake_heat() {
    let port: u16 = std::env::var("EMBER_FAKE_HEAT_PORT")
        .expect("EMBER_FAKE_HEAT_PORT")
        .parse()
        .expect("a port number");
    let _heat = FakeHeat::start_on("hello-stack.json", port);
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

/// Splits a case line as the shell would (single quotes only).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any {
                    out.push(std::mem::take(&mut current));
                    any = false;
                }
            }
            c => {
                current.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(current);
    }
    out
}

#[test]
fn ember_prints_what_openstack_prints() {
    // Ephemeral ports have five digits, as the recording port does, so table widths match.
    let heat = FakeHeat::start("hello-stack.json");
    assert_eq!(
        heat.base.len(),
        "http://127.0.0.1:18999".len(),
        "{}",
        heat.base
    );
    let store = tempfile::tempdir().unwrap();
    let dir = fixtures().join("osc");
    let cases = std::fs::read_to_string(dir.join("cases.txt")).unwrap();
    let mut failures = Vec::new();
    let mut count = 0;
    for (i, line) in cases.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        count += 1;
        let expected = std::fs::read_to_string(dir.join(format!("{i}.out"))).unwrap();
        let expected_rc: i32 = std::fs::read_to_string(dir.join(format!("{i}.rc")))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let output = ember(store.path())
            .arg("--os-endpoint")
            .arg(heat.endpoint())
            .args(words(line))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        let mut actual = String::from_utf8_lossy(&output.stdout).into_owned();
        actual.push_str(&String::from_utf8_lossy(&output.stderr));
        let actual = actual.replace(&heat.base, "{BASE}");
        let rc = output.status.code().unwrap_or(-1);
        if actual != expected || rc != expected_rc {
            failures.push(format!(
                "case {i}: {line}\n--- openstack (rc {expected_rc})\n{expected}\n--- ember (rc {rc})\n{actual}"
            ));
        }
    }
    assert!(count > 0);
    assert!(
        failures.is_empty(),
        "{} of {count} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
