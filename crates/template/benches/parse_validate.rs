//! Parse + validate generated templates of 1,000 and 10,000 resources.
//! Goal: under 10 ms for 1,000 resources.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::collections::BTreeMap;

use ember_template::environment::Environment;
use ember_template::{parse_template, validate, Limits};

/// A template where each resource refers to the previous one through properties, attributes and
/// string functions, as real stacks chain networks, ports and servers.
fn generated_template(resources: usize) -> String {
    let mut text = String::from(
        "heat_template_version: 2021-04-16\nparameters:\n  flavor:\n    type: string\n    default: m1.small\n  prod:\n    type: boolean\n    default: false\nconditions:\n  is_prod: {get_param: prod}\nresources:\n",
    );
    for i in 0..resources {
        text.push_str(&format!("  res{i}:\n    type: OS::Heat::TestResource\n    properties:\n      value: {{str_replace: {{template: 'name-N-F', params: {{N: '{i}', F: {{get_param: flavor}}}}}}}}\n"));
        if i > 0 {
            let p = i - 1;
            text.push_str(&format!(
                "      previous: {{get_resource: res{p}}}\n      attr: {{get_attr: [res{p}, output, key]}}\n      list: {{list_join: [',', [a, b, {{get_param: flavor}}]]}}\n      maybe: {{if: [is_prod, big, small]}}\n"
            ));
        }
    }
    text.push_str("outputs:\n  last:\n    value: {get_attr: [res0, output]}\n");
    text
}

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
}

criterion_group!(benches, bench);
criterion_main!(benches);
