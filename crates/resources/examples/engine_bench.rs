//! Prints engine figures (not a timed test): create and delete N independent OS::Heat::None
//! through SQLite for N = 1,000 and 10,000, a 100-deep chain, and 50 TestResources that each
//! wait 1 s in parallel; with each line the peak RSS of that phase, then the process's peak.
//!
//! `cargo run --release -p ember-resources --example engine_bench` runs all of it;
//! `... --example engine_bench -- 2000` only the None stacks of the given sizes (for profiling
//! one size, e.g. under heaptrack or valgrind's massif).

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
        auth_token: None,
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

/// Peak RSS in MB since the last call, and the peak of the whole run so far. Linux resets the
/// peak (`VmHWM`) to the current RSS when `5` is written to `clear_refs`; where it cannot, the
/// phase figure is the process's peak so far.
struct PeakRss {
    whole_run: f64,
}

impl PeakRss {
    fn phase(&mut self) -> f64 {
        let peak = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|kb| kb.parse::<f64>().ok())
                })
            })
            .map_or(0.0, |kb| kb / 1024.0);
        // Not being able to reset only makes later phases report the peak so far.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        self.whole_run = self.whole_run.max(peak);
        peak
    }
}

/// The allocator setting of the `ember` binary (`limit_malloc_arenas` in crates/cli/src/main.rs,
/// where the reason is), so that these figures are the ones the binary gives.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only changes allocator settings, before any other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}

fn main() {
    limit_malloc_arenas();
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(bench());
}

async fn bench() {
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
    let mut rss = PeakRss { whole_run: 0.0 };
    rss.phase();
    let mut report = String::new();
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("arguments are stack sizes"))
        .collect();
    let only_sizes = !sizes.is_empty();
    let sizes = if only_sizes {
        sizes
    } else {
        vec![1_000, 10_000]
    };
    for n in sizes {
        let tpl = template((0..n).map(|i| format!("  r{i}: {{type: OS::Heat::None}}\n")));
        let (c, d) = run(&svc, &format!("none{n}"), tpl).await;
        let _ = writeln!(
            report,
            "{n:>6} x OS::Heat::None   create {:>8.3} s   delete {:>8.3} s   peak RSS {:>6.1} MB",
            c.as_secs_f64(),
            d.as_secs_f64(),
            rss.phase()
        );
    }
    if only_sizes {
        let _ = writeln!(report, "peak RSS {:.1} MB", rss.whole_run);
        print!("{report}");
        return;
    }
    let chain = template((0..100).map(|i| match i {
        0 => "  r0: {type: OS::Heat::None}\n".to_string(),
        _ => format!("  r{i}: {{type: OS::Heat::None, depends_on: r{}}}\n", i - 1),
    }));
    let (c, d) = run(&svc, "chain", chain).await;
    let _ = writeln!(
        report,
        "100-deep chain            create {:>8.3} s   delete {:>8.3} s   peak RSS {:>6.1} MB",
        c.as_secs_f64(),
        d.as_secs_f64(),
        rss.phase()
    );
    let waits = template((0..50).map(|i| {
        format!("  t{i}: {{type: OS::Heat::TestResource, properties: {{wait_secs: 1}}}}\n")
    }));
    let (c, d) = run(&svc, "waits", waits).await;
    let _ = writeln!(
        report,
        "50 x TestResource 1 s     create {:>8.3} s   delete {:>8.3} s   peak RSS {:>6.1} MB",
        c.as_secs_f64(),
        d.as_secs_f64(),
        rss.phase()
    );
    let _ = writeln!(report, "peak RSS {:.1} MB", rss.whole_run);
    print!("{report}");
}
