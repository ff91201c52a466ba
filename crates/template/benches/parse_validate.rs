//! Parse + validate generated templates of 1,000 and 10,000 resources.
//! Goal: under 10 ms for 1,000 resources. The `phases_1000` group splits the 1,000-resource case:
//! the located tree (`block_yaml`'s fast path for this text) and the parsed template; the whole
//! validate is `parse_validate/1000`. `yaml_events` times saphyr-parser's events alone over the
//! same text: the floor of the full YAML path that other documents take.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::collections::BTreeMap;

use ember_template::environment::Environment;
use ember_template::{parse_document, parse_template, validate, Limits};
use saphyr_parser::Parser;

#[path = "support/generated.rs"]
mod generated;
use generated::template as generated_template;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_validate");
    for size in [1_000usize, 10_000] {
        let text = generated_template(size);
        let limits = Limits {
            max_template_size: usize::MAX,
            ..Limits::default()
        };
        group.sample_size(if size > 1_000 { 10 } else { 30 });
        group.bench_with_input(BenchmarkId::from_parameter(size), &text, |b, text| {
            b.iter(|| {
                let template = parse_template(text, "gen.yaml", &limits).expect("parses");
                validate(template, &Environment::default(), BTreeMap::new()).expect("validates")
            })
        });
    }
    group.finish();

    let mut phases = c.benchmark_group("phases_1000");
    phases.sample_size(30);
    let text = generated_template(1_000);
    let limits = Limits {
        max_template_size: usize::MAX,
        ..Limits::default()
    };
    phases.bench_function("yaml_events", |b| {
        b.iter(|| {
            let mut parser = Parser::new_from_str(&text);
            let mut events = 0usize;
            while let Some(Ok(_)) = parser.next_event() {
                events += 1;
            }
            events
        })
    });
    phases.bench_function("parse_document", |b| {
        b.iter(|| parse_document(&text, "gen.yaml", &limits).expect("loads"))
    });
    phases.bench_function("parse_template", |b| {
        b.iter(|| parse_template(&text, "gen.yaml", &limits).expect("parses"))
    });
    phases.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
