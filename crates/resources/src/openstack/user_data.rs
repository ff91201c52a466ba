//! The user data a server boots with, per `user_data_format`: `RAW` passes the text as given;
//! `HEAT_CFNTOOLS` and `SOFTWARE_CONFIG` wrap it, as Heat does, in a multipart MIME message for
//! cloud-init with the same parts (names, content types, order): a cloud-config, a boot hook, a
//! part handler that stores every `text/x-cfninitdata` part under `/var/lib/heat-cfntools`, the
//! user's part(s), and the metadata parts the in-instance tools read. The helper scripts are
//! Ember's own, written for the same jobs as Heat's.

use serde_json::Value;

use super::stack_domain::ResourceUser;

/// How cloud-init should log its output.
const CLOUD_CONFIG: &str = "#cloud-config\n\
output: {all: '| tee -a /var/log/cloud-init-output.log'}\n";

/// Runs early at every boot: the cfn tools expect their AWS-style paths.
const BOOTHOOK: &str = "#!/bin/bash\n\
# Give the heat-cfntools commands the /opt/aws/bin paths their scripts call.\n\
command -v cfn-create-aws-symlinks >/dev/null && cfn-create-aws-symlinks\n\
exit 0\n";

/// A cloud-init part handler: every `text/x-cfninitdata` part becomes a file of that name.
const PART_HANDLER: &str = "#part-handler\n\
import os\n\
\n\
CFN_DIR = '/var/lib/heat-cfntools'\n\
\n\
\n\
def list_types():\n\
    return ['text/x-cfninitdata']\n\
\n\
\n\
def handle_part(data, ctype, filename, payload):\n\
    if ctype == '__begin__':\n\
        os.makedirs(CFN_DIR, mode=0o700, exist_ok=True)\n\
        return\n\
    if ctype != 'text/x-cfninitdata':\n\
        return\n\
    for directory in (CFN_DIR, '/var/lib/cloud/data'):\n\
        with open(os.path.join(directory, filename), 'w') as out:\n\
            out.write(payload)\n";

/// Runs the `cfn-userdata` part as a program and records when provisioning finished.
const LOG_USER_DATA: &str = "#!/usr/bin/env python3\n\
import datetime\n\
import os\n\
import subprocess\n\
import sys\n\
\n\
CFN_DIR = '/var/lib/heat-cfntools'\n\
\n\
\n\
def main():\n\
    script = os.path.join(CFN_DIR, 'cfn-userdata')\n\
    os.chmod(script, 0o700)\n\
    with open('/var/log/heat-provision.log', 'a') as log:\n\
        log.write('Provision began: %s\\n' % datetime.datetime.now())\n\
        log.flush()\n\
        try:\n\
            code = subprocess.call([script], stdout=log, stderr=log)\n\
        except OSError as error:\n\
            log.write('Could not run user data: %s\\n' % error)\n\
            return 1\n\
        log.write('Provision done: %s\\n' % datetime.datetime.now())\n\
    if code:\n\
        return code\n\
    open(os.path.join(CFN_DIR, 'provision-finished'), 'a').close()\n\
    return 0\n\
\n\
\n\
if __name__ == '__main__':\n\
    sys.exit(main())\n";

/// Heat's `software_config_transport` values Ember cannot serve, and why: both need a Keystone
/// user and password for the server (Heat's stack domain user), which Ember makes only with a
/// stack user domain (`has_stack_domain`), and ZAQAR_MESSAGE a Zaqar queue as well. The other
/// two are served by Ember's pre-signed metadata URL (see [`software_config_metadata`]).
pub(crate) fn unserved_transport(transport: &str, has_stack_domain: bool) -> Option<String> {
    let needs = match transport {
        "POLL_SERVER_HEAT" if has_stack_domain => return None,
        "POLL_SERVER_HEAT" => {
            "the heat collector's Keystone user and password (Heat's stack domain user), which \
             Ember makes only with a stack user domain (ember serve --stack-user-domain-name)"
        }
        "ZAQAR_MESSAGE" => "a Zaqar queue read with a Keystone user and password",
        _ => return None,
    };
    Some(format!(
        "software_config_transport {transport} is not supported by Ember: it needs {needs}; use \
         POLL_SERVER_CFN or POLL_TEMP_URL, which poll Ember's pre-signed metadata URL"
    ))
}

/// os-collect-config's `heat` collector settings (POLL_SERVER_HEAT), as Heat's
/// `_populate_deployments_metadata` writes them: the server's stack user, its project (the
/// stack's domain project), where to authenticate, and which resource's metadata to poll
/// (`stack_path` is Heat's `<stack name>/<stack id>`).
pub(crate) fn heat_collector(user: &ResourceUser, stack_path: &str, resource: &str) -> Value {
    serde_json::json!({
        "user_id": user.user_id,
        "password": user.password,
        "auth_url": user.auth_url,
        "project_id": user.project_id,
        "stack_id": stack_path,
        "resource_name": resource,
        "region_name": user.region,
    })
}

/// The metadata a `SOFTWARE_CONFIG` server boots with (its `cfn-init-data` part), made as
/// Heat's `_populate_deployments_metadata` makes it from the resource's `metadata`:
/// `deployments` (those the template gives, else none: deployments name the server's id, so
/// they come after it), and `os-collect-config` with the collectors `ec2`, the transport's,
/// `local`, every polling setting the template gave set to null so the boot-time one wins.
///
/// The transport: POLL_SERVER_HEAT gives the `heat` collector its settings (`heat`, see
/// [`heat_collector`]), as Heat does. Heat's `POLL_SERVER_CFN` hands the server a stack user's
/// EC2 keys for its CFN API and `POLL_TEMP_URL` a Swift temp URL where it pushes the metadata;
/// Ember serves both through `metadata_url`, its own pre-signed URL of the server's metadata
/// (read live, the deployments included), polled by os-collect-config's `request` collector
/// as Heat's temp URL is. Without one (no API server minting URLs) no polling collector is
/// written.
pub(crate) fn software_config_metadata(
    metadata: &Value,
    transport: &str,
    metadata_url: Option<&str>,
    heat: Option<Value>,
) -> Value {
    let mut meta = metadata.as_object().cloned().unwrap_or_default();
    let deployments = meta
        .remove("deployments")
        .unwrap_or_else(|| Value::Array(Vec::new()));
    meta.insert("deployments".into(), deployments);
    let mut occ = match meta.remove("os-collect-config") {
        Some(Value::Object(occ)) => occ,
        _ => serde_json::Map::new(),
    };
    for key in ["heat", "zaqar", "cfn", "request"] {
        if let Some(Value::Object(settings)) = occ.get_mut(key) {
            settings.values_mut().for_each(|v| *v = Value::Null);
        }
    }
    let mut collectors = vec!["ec2"];
    match (transport, heat, metadata_url) {
        ("POLL_SERVER_HEAT", Some(heat), _) => {
            occ.insert("heat".into(), heat);
            collectors.push("heat");
        }
        ("POLL_SERVER_CFN" | "POLL_TEMP_URL", _, Some(url)) => {
            occ.insert("request".into(), serde_json::json!({ "metadata_url": url }));
            collectors.push("request");
        }
        _ => {}
    }
    collectors.push("local");
    occ.insert("collectors".into(), serde_json::json!(collectors));
    meta.insert("os-collect-config".into(), Value::Object(occ));
    Value::Object(meta)
}

/// One part: content, file name, MIME subtype (`text/<subtype>`; none gives `text/plain`).
struct Part {
    content: String,
    filename: String,
    subtype: String,
}

impl Part {
    fn new(content: &str, filename: &str, subtype: &str) -> Part {
        Part {
            content: content.to_string(),
            filename: filename.to_string(),
            subtype: subtype.to_string(),
        }
    }
}

/// What the server's user data is built from.
pub(crate) struct UserDataInput<'a> {
    pub format: &'a str,
    pub user_data: &'a str,
    /// The metadata the in-instance tools read (`cfn-init-data`); not sent when empty.
    pub metadata: &'a Value,
    /// The CloudFormation-compatible endpoint (`cfn-metadata-server`), for HEAT_CFNTOOLS.
    pub cfn_url: Option<&'a str>,
    /// A fixed MIME boundary (tests); random otherwise.
    pub boundary: Option<&'a str>,
}

/// The user data as the server receives it (before base64).
pub(crate) fn build(input: &UserDataInput) -> String {
    let cfntools = input.format == "HEAT_CFNTOOLS";
    if input.format == "RAW" {
        return input.user_data.to_string();
    }
    let mut parts = vec![
        Part::new(CLOUD_CONFIG, "cloud-config", "cloud-config"),
        Part::new(BOOTHOOK, "boothook.sh", "cloud-boothook"),
        Part::new(PART_HANDLER, "part-handler.py", "part-handler"),
    ];
    if cfntools {
        parts.push(Part::new(input.user_data, "cfn-userdata", "x-cfninitdata"));
    } else {
        // SOFTWARE_CONFIG: a multipart body (e.g. an OS::Heat::MultipartMime) gives its parts.
        match split_multipart(input.user_data) {
            Some(inner) => parts.extend(inner),
            None => parts.push(Part::new(input.user_data, "", "")),
        }
    }
    if cfntools {
        parts.push(Part::new(LOG_USER_DATA, "loguserdata.py", "x-shellscript"));
    }
    if input.metadata.as_object().is_some_and(|m| !m.is_empty()) {
        parts.push(Part::new(
            &input.metadata.to_string(),
            "cfn-init-data",
            "x-cfninitdata",
        ));
    }
    if let (true, Some(url)) = (cfntools, input.cfn_url) {
        parts.push(Part::new(url, "cfn-metadata-server", "x-cfninitdata"));
        let host = url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split(['/', ':']).next())
            .unwrap_or_default();
        let boto = format!(
            "[Boto]\ndebug = 0\nis_secure = {}\nhttps_validate_certificates = 1\n\
             cfn_region_name = heat\ncfn_region_endpoint = {host}",
            if url.starts_with("https") { 1 } else { 0 }
        );
        parts.push(Part::new(&boto, "cfn-boto-cfg", "x-cfninitdata"));
    }
    let boundary = input
        .boundary
        .map(str::to_string)
        .unwrap_or_else(|| format!("==============={}==", rand::random::<u64>()));
    multipart(&parts, &boundary)
}

/// `multipart/mixed` as Python's `email` writes it (cloud-init parses it with the same library).
fn multipart(parts: &[Part], boundary: &str) -> String {
    use base64::Engine as _;
    let mut out =
        format!("Content-Type: multipart/mixed; boundary=\"{boundary}\"\nMIME-Version: 1.0\n\n");
    for part in parts {
        let subtype = if part.subtype.is_empty() {
            "plain"
        } else {
            &part.subtype
        };
        let ascii = part.content.is_ascii();
        let (charset, encoding, body) = if ascii {
            ("us-ascii", "7bit", part.content.clone())
        } else {
            let encoded = base64::engine::general_purpose::STANDARD.encode(&part.content);
            let lines: Vec<&str> = encoded
                .as_bytes()
                .chunks(76)
                .map(|c| std::str::from_utf8(c).unwrap_or_default())
                .collect();
            ("utf-8", "base64", lines.join("\n"))
        };
        out.push_str(&format!(
            "--{boundary}\nContent-Type: text/{subtype}; charset=\"{charset}\"\n\
             MIME-Version: 1.0\nContent-Transfer-Encoding: {encoding}\n\
             Content-Disposition: attachment; filename=\"{}\"\n\n{body}\n",
            part.filename
        ));
    }
    out.push_str(&format!("--{boundary}--\n"));
    out
}

/// The parts of a `multipart/*` message (only the plain forms Heat's MultipartMime writes:
/// 7bit or base64 text parts); `None` when the text is not one.
fn split_multipart(text: &str) -> Option<Vec<Part>> {
    let (head, body) = split_head(text)?;
    let content_type = header(head, "content-type")?;
    if !content_type.to_ascii_lowercase().starts_with("multipart/") {
        return None;
    }
    let boundary = parameter(content_type, "boundary")?;
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    for chunk in body.split(delimiter.as_str()).skip(1) {
        if chunk.starts_with("--") {
            break;
        }
        let chunk = chunk.strip_prefix('\n').unwrap_or(chunk);
        let (head, content) = split_head(chunk)?;
        let content = content.strip_suffix('\n').unwrap_or(content);
        let kind = header(head, "content-type").unwrap_or("text/plain");
        let subtype = kind
            .split(';')
            .next()
            .and_then(|t| t.trim().split_once('/'))
            .map(|(_, sub)| sub.trim().to_string())
            .unwrap_or_default();
        let filename = header(head, "content-disposition")
            .and_then(|d| parameter(d, "filename"))
            .unwrap_or_default();
        let base64 = header(head, "content-transfer-encoding")
            .is_some_and(|e| e.trim().eq_ignore_ascii_case("base64"));
        let content = if base64 {
            use base64::Engine as _;
            let compact: String = content.split_whitespace().collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .ok()?;
            String::from_utf8(bytes).ok()?
        } else {
            content.to_string()
        };
        parts.push(Part {
            content,
            filename: filename.to_string(),
            subtype,
        });
    }
    Some(parts)
}

/// Headers and body of a message (blank line between).
fn split_head(text: &str) -> Option<(&str, &str)> {
    text.split_once("\n\n")
        .or_else(|| text.split_once("\r\n\r\n"))
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then_some(value.trim())
    })
}

/// A `key="value"` (or unquoted) parameter of a header value.
fn parameter<'a>(value: &'a str, key: &str) -> Option<&'a str> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then_some(v.trim().trim_matches('"'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parts_of(message: &str) -> Vec<(String, String)> {
        split_multipart(message)
            .expect("a multipart message")
            .into_iter()
            .map(|p| (p.filename, p.subtype))
            .collect()
    }

    #[test]
    fn raw_is_the_text_as_given() {
        let input = UserDataInput {
            format: "RAW",
            user_data: "#!/bin/sh\necho hi\n",
            metadata: &json!({}),
            cfn_url: None,
            boundary: None,
        };
        assert_eq!(build(&input), "#!/bin/sh\necho hi\n");
    }

    #[test]
    fn heat_cfntools_has_heats_parts_in_heats_order() {
        let input = UserDataInput {
            format: "HEAT_CFNTOOLS",
            user_data: "#!/bin/sh\necho héllo\n",
            metadata: &json!({"AWS::CloudFormation::Init": {}}),
            cfn_url: Some("http://127.0.0.1:8000/v1/"),
            boundary: Some("b0"),
        };
        let message = build(&input);
        let names: Vec<(String, String)> = parts_of(&message);
        let expected = [
            ("cloud-config", "cloud-config"),
            ("boothook.sh", "cloud-boothook"),
            ("part-handler.py", "part-handler"),
            ("cfn-userdata", "x-cfninitdata"),
            ("loguserdata.py", "x-shellscript"),
            ("cfn-init-data", "x-cfninitdata"),
            ("cfn-metadata-server", "x-cfninitdata"),
            ("cfn-boto-cfg", "x-cfninitdata"),
        ];
        assert_eq!(
            names,
            expected
                .iter()
                .map(|(f, s)| (f.to_string(), s.to_string()))
                .collect::<Vec<_>>()
        );
        let parts = split_multipart(&message).unwrap();
        // Non-ASCII text travels base64-encoded and comes back intact.
        assert_eq!(parts[3].content, "#!/bin/sh\necho héllo\n");
        assert!(message
            .contains("charset=\"utf-8\"\nMIME-Version: 1.0\nContent-Transfer-Encoding: base64"));
        assert_eq!(parts[5].content, r#"{"AWS::CloudFormation::Init":{}}"#);
        assert!(parts[7]
            .content
            .ends_with("cfn_region_endpoint = 127.0.0.1"));
    }

    #[test]
    fn software_config_unpacks_a_multipart_body_and_keeps_a_plain_one_whole() {
        let plain = UserDataInput {
            format: "SOFTWARE_CONFIG",
            user_data: "#!/bin/sh\ntrue\n",
            metadata: &json!({"deployments": []}),
            cfn_url: Some("http://127.0.0.1:8000/v1/"),
            boundary: Some("b1"),
        };
        let message = build(&plain);
        assert_eq!(
            parts_of(&message),
            vec![
                ("cloud-config".into(), "cloud-config".into()),
                ("boothook.sh".into(), "cloud-boothook".into()),
                ("part-handler.py".into(), "part-handler".into()),
                (String::new(), "plain".into()),
                ("cfn-init-data".into(), "x-cfninitdata".into()),
            ]
        );
        let inner = multipart(
            &[
                Part::new("#!/bin/sh\none\n", "one.sh", "x-shellscript"),
                Part::new("#cloud-config\n", "two", "cloud-config"),
            ],
            "inner",
        );
        let nested = UserDataInput {
            user_data: &inner,
            metadata: &json!({}),
            ..plain
        };
        let parts = split_multipart(&build(&nested)).unwrap();
        assert_eq!(parts.len(), 5);
        assert_eq!(parts[3].filename, "one.sh");
        assert_eq!(parts[3].content, "#!/bin/sh\none\n");
        assert_eq!(parts[4].subtype, "cloud-config");
    }

    #[test]
    fn software_config_metadata_is_heats_with_embers_metadata_url() {
        let template = json!({
            "app": {"port": 80},
            "os-collect-config": {"polling_interval": 10, "cfn": {"stack_name": "old"}},
        });
        let url = "http://ember:8004/v1/metadata/arn?Expires=9&Signature=s";
        for transport in ["POLL_SERVER_CFN", "POLL_TEMP_URL"] {
            assert_eq!(
                software_config_metadata(&template, transport, Some(url), None),
                json!({
                    "app": {"port": 80},
                    "deployments": [],
                    "os-collect-config": {
                        "polling_interval": 10,
                        "cfn": {"stack_name": null},
                        "request": {"metadata_url": url},
                        "collectors": ["ec2", "request", "local"],
                    },
                }),
                "{transport}"
            );
        }
        // Without an API server minting URLs there is nothing to poll.
        assert_eq!(
            software_config_metadata(
                &json!({"deployments": [{"id": "d"}]}),
                "POLL_SERVER_CFN",
                None,
                None
            ),
            json!({
                "deployments": [{"id": "d"}],
                "os-collect-config": {"collectors": ["ec2", "local"]},
            })
        );
    }

    #[test]
    fn transports_needing_a_stack_user_are_refused_with_the_reason() {
        for transport in ["POLL_SERVER_HEAT", "ZAQAR_MESSAGE"] {
            let refusal = unserved_transport(transport, false).expect("refused");
            assert!(refusal.starts_with(&format!(
                "software_config_transport {transport} is not supported by Ember"
            )));
            assert!(refusal.contains("POLL_SERVER_CFN or POLL_TEMP_URL"));
        }
        assert!(unserved_transport("ZAQAR_MESSAGE", true).is_some());
        // A stack user domain gives the heat collector its user.
        assert_eq!(unserved_transport("POLL_SERVER_HEAT", true), None);
        assert_eq!(unserved_transport("POLL_SERVER_CFN", false), None);
        assert_eq!(unserved_transport("POLL_TEMP_URL", false), None);
    }

    #[test]
    fn poll_server_heat_gives_the_heat_collector_the_servers_stack_user() {
        let user = ResourceUser {
            user_id: "u1".into(),
            password: "pw".into(),
            project_id: "p1".into(),
            auth_url: "http://127.0.0.1:5000/v3".into(),
            region: Some("RegionOne".into()),
        };
        let heat = heat_collector(&user, "s/0a1b", "server");
        let template = json!({"os-collect-config": {"heat": {"password": "old"}}});
        assert_eq!(
            software_config_metadata(&template, "POLL_SERVER_HEAT", None, Some(heat)),
            json!({
                "deployments": [],
                "os-collect-config": {
                    "heat": {
                        "user_id": "u1",
                        "password": "pw",
                        "auth_url": "http://127.0.0.1:5000/v3",
                        "project_id": "p1",
                        "stack_id": "s/0a1b",
                        "resource_name": "server",
                        "region_name": "RegionOne",
                    },
                    "collectors": ["ec2", "heat", "local"],
                },
            })
        );
    }

    #[test]
    fn software_config_user_data_carries_the_metadata_as_cfn_init_data() {
        let metadata = software_config_metadata(
            &json!({"app": 1}),
            "POLL_TEMP_URL",
            Some("http://ember/v1/metadata/x"),
            None,
        );
        let message = build(&UserDataInput {
            format: "SOFTWARE_CONFIG",
            user_data: "#!/bin/sh\n",
            metadata: &metadata,
            cfn_url: None,
            boundary: None,
        });
        let parts = split_multipart(&message).unwrap();
        let init = parts
            .iter()
            .find(|p| p.filename == "cfn-init-data")
            .expect("cfn-init-data part");
        assert_eq!(
            serde_json::from_str::<Value>(&init.content).unwrap(),
            metadata
        );
        assert!(!parts.iter().any(|p| p.filename == "cfn-metadata-server"));
    }
}
