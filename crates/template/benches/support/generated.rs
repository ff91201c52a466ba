//! The generated template of the parse + validate benchmark (shared with examples/phases.rs).

/// A template where each resource refers to the previous one through properties, attributes and
/// string functions, as real stacks chain networks, ports and servers.
pub fn template(resources: usize) -> String {
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
