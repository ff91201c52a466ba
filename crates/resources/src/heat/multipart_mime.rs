//! The multi-part MIME message of `OS::Heat::MultipartMime`, written as Heat writes it with
//! Python's `email` package (`MIMEMultipart(_subparts=[MIMEText(...)]).as_string()`), so
//! cloud-init on the server reads the same parts.
//!
//! Each part is inline text or the id of another stored config (its config text is used);
//! a part of type `multipart` is itself a message whose parts are copied in.

use base64::Engine as _;
use ember_engine::software::SoftwareControl;
use ember_engine::ResourceError;
use serde_json::Value;

/// One text part before it is written.
#[derive(Debug, Clone, PartialEq)]
struct Part {
    text: String,
    subtype: String,
    filename: Option<String>,
}

/// Builds the message from the resource's `parts`.
pub async fn message(
    parts: &[Value],
    control: &dyn SoftwareControl,
) -> Result<String, ResourceError> {
    let mut out = Vec::new();
    for item in parts {
        let config = item
            .get("config")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let mut text = config.to_string();
        if uuid::Uuid::parse_str(config).is_ok() {
            // A config that does not exist leaves the id as the text, as in Heat.
            if let Some(stored) = control.software_config(config).await? {
                text = match stored.config {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
            }
        }
        let str_of = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or_default();
        if str_of("type") == "multipart" {
            out.extend(parse_parts(&text));
        } else {
            let filename = Some(str_of("filename")).filter(|f| !f.is_empty());
            out.push(text_part(text, str_of("subtype"), filename));
        }
    }
    Ok(render(&out, &boundary()))
}

/// Heat takes the subtype from the file name when none is given: the name without its last
/// extension (`os.path.splitext(filename)[0]`), e.g. `boot.sh` gives `text/boot`.
fn text_part(text: String, subtype: &str, filename: Option<&str>) -> Part {
    let subtype = match (subtype, filename) {
        ("", Some(name)) => splitext_root(name).to_string(),
        ("", None) => "plain".to_string(),
        (s, _) => s.to_string(),
    };
    Part {
        text,
        subtype: if subtype.is_empty() {
            "plain".into()
        } else {
            subtype
        },
        filename: filename.map(str::to_string),
    }
}

/// Python's `os.path.splitext(p)[0]`: leading dots of the base name do not start an extension.
fn splitext_root(path: &str) -> &str {
    let base_start = path.rfind('/').map_or(0, |i| i + 1);
    let base = &path[base_start..];
    let leading = base.len() - base.trim_start_matches('.').len();
    match base[leading..].rfind('.') {
        Some(dot) => &path[..base_start + leading + dot],
        None => path,
    }
}

/// Python's boundary: fifteen `=`, a random 19-digit number, `==`.
fn boundary() -> String {
    let token = uuid::Uuid::new_v4().as_u128() % 10_000_000_000_000_000_000u128;
    format!("==============={token:019}==")
}

fn render(parts: &[Part], boundary: &str) -> String {
    let mut msg = format!(
        "Content-Type: multipart/mixed; boundary=\"{boundary}\"\nMIME-Version: 1.0\n\n--{boundary}\n"
    );
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            msg.push_str(&format!("\n--{boundary}\n"));
        }
        msg.push_str(&render_part(part));
    }
    msg.push_str(&format!("\n--{boundary}--\n"));
    msg
}

/// `MIMEText(text, subtype)`: ASCII text as 7bit, anything else as UTF-8 in base64 lines of
/// 76 characters.
fn render_part(part: &Part) -> String {
    let (charset, encoding, body) = if part.text.is_ascii() {
        ("us-ascii", "7bit", part.text.clone())
    } else {
        let encoded = base64::engine::general_purpose::STANDARD.encode(part.text.as_bytes());
        let mut body = String::with_capacity(encoded.len() + encoded.len() / 76 + 1);
        for chunk in encoded.as_bytes().chunks(76) {
            body.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            body.push('\n');
        }
        ("utf-8", "base64", body)
    };
    let mut out = format!(
        "Content-Type: text/{}; charset=\"{charset}\"\nMIME-Version: 1.0\nContent-Transfer-Encoding: {encoding}\n",
        part.subtype
    );
    if let Some(name) = &part.filename {
        out.push_str(&format!(
            "Content-Disposition: attachment; filename=\"{name}\"\n"
        ));
    }
    out.push('\n');
    out.push_str(&body);
    out
}

/// The parts of a multi-part message (nothing when `text` is not one): each part's raw
/// payload, subtype and file name, as Python's `email.message_from_string` gives them.
fn parse_parts(text: &str) -> Vec<Part> {
    let (headers, body) = split_headers(text);
    let Some(content_type) = header(&headers, "content-type") else {
        return Vec::new();
    };
    if !content_type
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("multipart/")
    {
        return Vec::new();
    }
    let Some(boundary) = param(content_type, "boundary") else {
        return Vec::new();
    };
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in body.split('\n') {
        let trimmed = line.trim_end_matches('\r');
        if trimmed.starts_with(&delimiter) {
            if let Some(lines) = current.take() {
                parts.push(part_of(&lines.join("\n")));
            }
            if trimmed[delimiter.len()..].starts_with("--") {
                break;
            }
            current = Some(Vec::new());
        } else if let Some(lines) = current.as_mut() {
            lines.push(line);
        }
    }
    parts
}

fn part_of(text: &str) -> Part {
    let (headers, payload) = split_headers(text);
    let subtype = header(&headers, "content-type")
        .and_then(|ct| {
            let media = ct.split(';').next().unwrap_or_default().trim();
            media
                .split_once('/')
                .map(|(_, sub)| sub.to_ascii_lowercase())
        })
        .unwrap_or_else(|| "plain".into());
    let filename = header(&headers, "content-disposition").and_then(|d| param(d, "filename"));
    Part {
        text: payload.to_string(),
        subtype,
        filename,
    }
}

/// Header lines (continuations unfolded) and the body after the first empty line.
fn split_headers(text: &str) -> (Vec<(String, String)>, &str) {
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut rest = text;
    loop {
        let (line, after) = match rest.find('\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            return (headers, after);
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        } else {
            // Not a header block: the whole text is the body.
            return (Vec::new(), text);
        }
        if after.is_empty() {
            return (headers, "");
        }
        rest = after;
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A `name=value` or `name="value"` parameter of a header value.
fn param(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case(name)).then(|| v.trim().trim_matches('"').to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_written_as_pythons_email_package_writes_them() {
        let parts = [
            text_part("#!/bin/sh\necho hi".into(), "", Some("boot.sh")),
            text_part("#cloud-config\n{}".into(), "cloud-config", None),
            text_part("héllo".into(), "", None),
        ];
        let msg = render(&parts, "===============0123456789012345678==");
        let expected =
            "Content-Type: multipart/mixed; boundary=\"===============0123456789012345678==\"\n\
MIME-Version: 1.0\n\n\
--===============0123456789012345678==\n\
Content-Type: text/boot; charset=\"us-ascii\"\n\
MIME-Version: 1.0\n\
Content-Transfer-Encoding: 7bit\n\
Content-Disposition: attachment; filename=\"boot.sh\"\n\n\
#!/bin/sh\necho hi\n\
--===============0123456789012345678==\n\
Content-Type: text/cloud-config; charset=\"us-ascii\"\n\
MIME-Version: 1.0\n\
Content-Transfer-Encoding: 7bit\n\n\
#cloud-config\n{}\n\
--===============0123456789012345678==\n\
Content-Type: text/plain; charset=\"utf-8\"\n\
MIME-Version: 1.0\n\
Content-Transfer-Encoding: base64\n\n\
aMOpbGxv\n\n\
--===============0123456789012345678==--\n";
        assert_eq!(msg, expected);
    }

    #[test]
    fn a_multipart_part_contributes_its_own_parts() {
        let inner = render(
            &[
                text_part("one".into(), "x-shellscript", Some("a.sh")),
                text_part("two".into(), "", None),
            ],
            &boundary(),
        );
        let parts = parse_parts(&inner);
        assert_eq!(
            parts,
            vec![
                Part {
                    text: "one".into(),
                    subtype: "x-shellscript".into(),
                    filename: Some("a.sh".into())
                },
                Part {
                    text: "two".into(),
                    subtype: "plain".into(),
                    filename: None
                },
            ]
        );
        assert!(parse_parts("just text").is_empty());
    }

    #[test]
    fn subtype_from_file_name_drops_only_the_last_extension() {
        assert_eq!(splitext_root("boot.sh"), "boot");
        assert_eq!(splitext_root("a.tar.gz"), "a.tar");
        assert_eq!(splitext_root(".bashrc"), ".bashrc");
        assert_eq!(splitext_root("dir.d/file"), "dir.d/file");
        let b = boundary();
        assert_eq!(b.len(), 15 + 19 + 2);
    }
}
