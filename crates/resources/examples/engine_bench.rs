//! Prints engine figures (not a timed test): create and delete N independent OS::Heat::None
//! through SQLite for N = 1,000 and 10,000, a 100-deep chain, and 50 TestResources that each
//! wait 1 s in parallel; then the process's peak RSS.
//!
//! `cargo run --release -p ember-resources --example engine_bench`

use ember_engine::store::StateStore;
use ember_engine::store_adapter::SqlStore;
use ember_engine::{EngineConfig, RequestContext, Service, StackRequest, TemplateCompiler};
use serde_json::Value;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn cx() -> RequestContext {
    RequestContext {
        project_id: "bench".into(),
        username: "bench".into(),
        is_admin: false,
    }
}

fn template(resources: impl Iterator<Item = String>) -> String {
    let mut t = String::from("heat_template_version: 2018-08-31\nresources:\n");
    for r in resources {
        t.push_str(&r);
    }
    t
}

async fn run(svc: &Service, name: &str, tpl: String) -> (Duration, Duration) {
    let req = StackRequest {
        stack_name: Some(name.into()),
        template: Some(Value::String(tpl)),
        ..StackRequest::default()
    };
    let started = Instant::now();
    let created = svc.create_stack(&cx(), req).await.expect("create accepted");
    let id = created["id"].as_str().unwrap_or_default().to_string();
    let stack = svc.wait(&cx(), &id).await.expect("stack");
    let create = started.elapsed();
    assert_eq!(
        stack["stack_status"], "CREATE_COMPLETE",
        "{}",
        stack["stack_status_reason"]
    );
    let started = Instant::now();
    svc.delete_stack(&cx(), &id).await.expect("delete accepted");
    let stack = svc.wait(&cx(), &id).await.expect("stack");
    assert_eq!(stack["stack_status"], "DELETE_COMPLETE");
    (create, started.elapsed())
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/bench.db?mode=rwc", dir.path().display());
    let key = ember_store::EncryptionKey::from_bytes(&[1u8; 32]).expect("key");
    let store: Arc<dyn StateStore> = Arc::new(
        SqlStore::open(&url, &key, Duration::from_secs(30))
            .await
            .expect("store"),
    );
    let config = EngineConfig {
        max_resources_per_stack: -1,
        concurrency: 1000,
        ..EngineConfig::default()
    };
    let svc = Service::new(
        store,
        ember_resources::registry(),
        Arc::new(TemplateCompiler::default()),
        config,
    );
    svc.start().await.expect("engine starts");
    let mut report = String::new();
    for n in [1_000usize, 10_000] {
        let tpl = template((0..n).map(|i| format!("  r{i}: {{type: OS::Heat::None}}\n")));
        let (c, d) = run(&svc, &format!("none{n}"), tpl).await;
        let _ = writeln!(
            report,
            "{n:>6} x OS::Heat::None   create {:>8.3} s   delete {:>8.3} s",
            c.as_secs_f64(),
            d.as_secs_f64()
        );
    }
    let chain = template((0..100).map(|i| match i {
        0 => "  r0: {type: OS::Heat::None}\n".to_string(),
        _ => format!("  r{i}: {{type: OS::Heat::None, depends_on: r{}}}\n", i - 1),
    }));
    let (c, d) = run(&svc, "chain", chain).await;
    let _ = writeln!(
        report,
        "100-deep chain            create {:>8.3} s   delete {:>8.3} s",
        c.as_secs_f64(),
        d.as_secs_f64()
    );
    let waits = template((0..50).map(|i| {
        format!("  t{i}: {{type: OS::Heat::TestResource, properties: {{wait_secs: 1}}}}\n")
    }));
    let (c, d) = run(&svc, "waits", waits).await;
    let _ = writeln!(
        report,
        "50 x TestResource 1 s     create {:>8.3} s   delete {:>8.3} s",
        c.as_secs_f64(),
        d.as_secs_f64()
    );
    let _ = writeln!(report, "peak RSS {:.1} MB", peak_rss_mb());
    print!("{report}");
}
