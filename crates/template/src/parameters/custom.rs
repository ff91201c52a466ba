//! `custom_constraint`s. The ones Heat ships that need no cloud are checked here; the ones that
//! ask a cloud service (`nova.flavor`, `glance.image`, ...) are left to a
//! [`CustomConstraintChecker`] the engine supplies, and reported as skipped without one.

use std::net::{IpAddr, Ipv4Addr};

use serde_json::Value;

use crate::pycompat;

/// Checks the custom constraints that need a cloud. Implemented by the engine.
pub trait CustomConstraintChecker {
    /// Checks `value` against the constraint `name` (one of [`CLOUD_CONSTRAINTS`]).
    /// `Err(reason)` carries the service's reason (such as `The Flavor (m1.x) could not be
    /// found.`); the caller wraps it as Heat does (`Error validating value '...': reason`).
    fn check(&self, name: &str, value: &Value) -> Result<(), String>;
}

/// The custom constraints Heat registers that look a value up in a cloud service.
pub const CLOUD_CONSTRAINTS: &[&str] = &[
    "barbican.container",
    "barbican.secret",
    "blazar.reservation",
    "cinder.backup",
    "cinder.qos_specs",
    "cinder.snapshot",
    "cinder.volume",
    "cinder.vtype",
    "designate.zone",
    "glance.image",
    "ironic.node",
    "ironic.portgroup",
    "keystone.domain",
    "keystone.group",
    "keystone.project",
    "keystone.region",
    "keystone.role",
    "keystone.service",
    "keystone.user",
    "magnum.cluster_template",
    "manila.share_network",
    "manila.share_snapshot",
    "manila.share_type",
    "mistral.workflow",
    "neutron.address_scope",
    "neutron.flow_classifier",
    "neutron.lbaas.listener",
    "neutron.lbaas.loadbalancer",
    "neutron.lbaas.pool",
    "neutron.lbaas.provider",
    "neutron.network",
    "neutron.port",
    "neutron.port_pair",
    "neutron.port_pair_group",
    "neutron.qos_policy",
    "neutron.router",
    "neutron.security_group",
    "neutron.segment",
    "neutron.subnet",
    "neutron.subnetpool",
    "neutron.taas.tap_flow",
    "neutron.taas.tap_service",
    "nova.flavor",
    "nova.host",
    "nova.keypair",
    "nova.network",
    "nova.server",
    "octavia.availabilityzone",
    "octavia.availabilityzoneprofile",
    "octavia.flavor",
    "octavia.flavorprofile",
    "octavia.l7policy",
    "octavia.listener",
    "octavia.loadbalancer",
    "octavia.pool",
    "trove.flavor",
    "zaqar.queue",
    // Shipped, but not checkable here: `timezone` needs the tz database and `test_constr`
    // sleeps; the engine checks them with the cloud ones.
    "timezone",
    "test_constr",
];

/// How one custom constraint judged a value.
pub(crate) enum CustomOutcome {
    Valid,
    /// Heat's message for the failure (before a constraint description replaces it).
    Invalid(String),
    /// A cloud constraint and no checker: to be checked later.
    Skipped,
}

pub(crate) fn check(
    name: &str,
    value: &Value,
    checker: Option<&dyn CustomConstraintChecker>,
) -> CustomOutcome {
    let text = pycompat::str_of(value);
    let failed = |reason: Option<String>| {
        CustomOutcome::Invalid(match reason {
            Some(reason) => format!("Error validating value '{text}': {reason}"),
            None => format!("Error validating value '{text}'"),
        })
    };
    let result: Result<(), Option<String>> = match name {
        "ip_addr" => value
            .as_str()
            .filter(|s| ip_address_problem(s).is_none())
            .map(|_| ())
            .ok_or_else(|| Some("Invalid IP address".to_string())),
        "mac_addr" => value
            .as_str()
            .filter(|s| is_mac(s))
            .map(|_| ())
            .ok_or_else(|| Some("Invalid MAC address.".to_string())),
        "net_cidr" => net_cidr(&text).map_err(Some),
        "ip_or_cidr" => {
            let problem = if text.contains('/') {
                subnet_problem(&text)
            } else {
                ip_address_problem(&text)
            };
            problem.map_or(Ok(()), |p| Err(Some(p)))
        }
        "dns_name" => dns_format(&text)
            .map_err(|reason| Some(format!("'{text}' not in valid format. Reason: {reason}"))),
        "rel_dns_name" => rel_dns_name(&text).map_err(Some),
        "dns_domain" => dns_domain(&text).map_err(Some),
        "iso_8601" => parse_isotime(&text).map(|_| ()).map_err(|_| None),
        "expiration" => expiration(&text).map_err(Some),
        "cron_expression" => cron_expression(&text).map_err(Some),
        "json_string" => json_string(&text).map_err(Some),
        _ if CLOUD_CONSTRAINTS.contains(&name) => {
            return match checker {
                Some(checker) => match checker.check(name, value) {
                    Ok(()) => CustomOutcome::Valid,
                    Err(reason) => failed(Some(reason)),
                },
                None => CustomOutcome::Skipped,
            };
        }
        _ => {
            return CustomOutcome::Invalid(format!(
                "\"{text}\" does not validate {name} (constraint not found)"
            ))
        }
    };
    match result {
        Ok(()) => CustomOutcome::Valid,
        Err(reason) => failed(reason),
    }
}

/// neutron-lib's `validate_ip_address`: dotted-quad IPv4 without leading zeros, or IPv6.
fn ip_address_problem(data: &str) -> Option<String> {
    let valid = match data.parse::<IpAddr>() {
        Ok(IpAddr::V4(_)) => data.matches('.').count() == 3,
        Ok(IpAddr::V6(_)) => true,
        Err(_) => false,
    };
    (!valid).then(|| format!("'{data}' is not a valid IP address"))
}

/// neutron-lib's `validate_subnet`.
fn subnet_problem(data: &str) -> Option<String> {
    match parse_network(data) {
        Some((addr, prefix)) => {
            let canonical = format!("{addr}/{prefix}");
            if !data.contains('/') || (addr.is_ipv4() && canonical != data) {
                Some(format!(
                    "'{data}' isn't a recognized IP subnet cidr, '{}' is recommended",
                    network_cidr(addr, prefix)
                ))
            } else {
                None
            }
        }
        None => Some(format!("'{data}' is not a valid IP subnet")),
    }
}

fn net_cidr(data: &str) -> Result<(), String> {
    if parse_network(data).is_none() {
        return Err(format!("Invalid net cidr invalid IPNetwork {data} "));
    }
    subnet_problem(data).map_or(Ok(()), Err)
}

/// An address with an optional prefix length (a bare address is a host network).
fn parse_network(data: &str) -> Option<(IpAddr, u8)> {
    if data.chars().any(char::is_whitespace) {
        return None;
    }
    let (addr, prefix) = match data.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (data, None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
        Some(_) => return None,
        None => max,
    };
    (prefix <= max).then_some((addr, prefix))
}

/// The network address of `addr/prefix` (host bits cleared), as netaddr's `.cidr` prints it.
fn network_cidr(addr: IpAddr, prefix: u8) -> String {
    match addr {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            format!("{}/{prefix}", Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            format!(
                "{}/{prefix}",
                std::net::Ipv6Addr::from(u128::from(v6) & mask)
            )
        }
    }
}

/// netaddr's `valid_mac` for EUI-48: six groups of 1-2 hex digits separated by ':' or '-',
/// three groups of 4 separated by '.', or 12 bare hex digits.
fn is_mac(s: &str) -> bool {
    let hex = |g: &str, min: usize, max: usize| {
        (min..=max).contains(&g.len()) && g.bytes().all(|b| b.is_ascii_hexdigit())
    };
    for sep in [':', '-'] {
        let groups: Vec<&str> = s.split(sep).collect();
        if groups.len() == 6 && groups.iter().all(|g| hex(g, 1, 2)) {
            return true;
        }
    }
    let dotted: Vec<&str> = s.split('.').collect();
    if dotted.len() == 3 && dotted.iter().all(|g| hex(g, 4, 4)) {
        return true;
    }
    hex(s, 12, 12)
}

const DNS_LABEL_MAX_LEN: usize = 63;
const FQDN_MAX_LEN: usize = 255;

/// Heat's `netutils.validate_dns_format`.
fn dns_format(data: &str) -> Result<(), String> {
    if data.is_empty() {
        return Ok(());
    }
    let trimmed = data.strip_suffix('.').unwrap_or(data);
    if trimmed.chars().count() > FQDN_MAX_LEN {
        return Err(format!(
            "'{trimmed}' exceeds the {FQDN_MAX_LEN} character FQDN limit"
        ));
    }
    let names: Vec<&str> = trimmed.split('.').collect();
    for name in &names {
        if name.is_empty() {
            return Err("Encountered an empty component.".to_string());
        }
        if name.starts_with('-') || name.ends_with('-') {
            return Err(format!(
                "Name '{name}' must not start or end with a hyphen."
            ));
        }
        let label_ok = name.len() <= DNS_LABEL_MAX_LEN
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !label_ok {
            return Err(format!(
                "Name '{name}' must be 1-{DNS_LABEL_MAX_LEN} characters long, each of which can \
                 only be alphanumeric or a hyphen."
            ));
        }
    }
    if let Some(last) = names.last() {
        if data.ends_with('.') && names.len() > 1 && last.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("TLD '{last}' must not be all numeric."));
        }
    }
    Ok(())
}

fn rel_dns_name(data: &str) -> Result<(), String> {
    if data.is_empty() {
        return Ok(());
    }
    if data.ends_with('.') {
        return Err(format!(
            "'{data}' is a FQDN. It should be a relative domain name."
        ));
    }
    let length = data.chars().count();
    if length > FQDN_MAX_LEN - 3 {
        return Err(format!(
            "'{data}' contains '{length}' characters. Adding a domain name will cause it to \
             exceed the maximum length of a FQDN of '{FQDN_MAX_LEN}'."
        ));
    }
    dns_format(data).map_err(|reason| format!("'{data}' not in valid format. Reason: {reason}"))
}

fn dns_domain(data: &str) -> Result<(), String> {
    if data.is_empty() {
        return Ok(());
    }
    dns_format(data).map_err(|reason| format!("'{data}' not in valid format. Reason: {reason}"))?;
    if !data.ends_with('.') {
        return Err(format!("'{data}' must end with '.'."));
    }
    Ok(())
}

/// The `iso8601` library's accepted forms (which oslo's `parse_isotime` uses): a date
/// `YYYY-MM-DD` or `YYYYMMDD`, optionally `T` or a space and a time `hh[:mm[:ss[.frac]]]`, and
/// an optional zone `Z` or `±hh[:mm]`. Returns seconds since the epoch in UTC.
fn parse_isotime(text: &str) -> Result<i64, String> {
    let bad = || format!("Unable to parse date string '{text}'");
    let b = text.as_bytes();
    let mut pos = 0;
    let number = |len: usize, pos: &mut usize| -> Option<i64> {
        let digits = b.get(*pos..*pos + len)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        *pos += len;
        std::str::from_utf8(digits).ok()?.parse().ok()
    };
    let year = number(4, &mut pos).ok_or_else(bad)?;
    let dashed = b.get(pos) == Some(&b'-');
    if dashed {
        pos += 1;
    }
    let month = number(2, &mut pos).ok_or_else(bad)?;
    if dashed {
        if b.get(pos) != Some(&b'-') {
            return Err(bad());
        }
        pos += 1;
    }
    let day = number(2, &mut pos).ok_or_else(bad)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(bad());
    }
    let (mut hour, mut minute, mut second, mut offset) = (0, 0, 0, 0);
    if matches!(b.get(pos), Some(b'T' | b't' | b' ')) {
        pos += 1;
        hour = number(2, &mut pos).ok_or_else(bad)?;
        if b.get(pos) == Some(&b':') {
            pos += 1;
            minute = number(2, &mut pos).ok_or_else(bad)?;
            if b.get(pos) == Some(&b':') {
                pos += 1;
                second = number(2, &mut pos).ok_or_else(bad)?;
                if matches!(b.get(pos), Some(b'.' | b',')) {
                    pos += 1;
                    let start = pos;
                    while b.get(pos).is_some_and(u8::is_ascii_digit) {
                        pos += 1;
                    }
                    if pos == start {
                        return Err(bad());
                    }
                }
            }
        }
        if hour > 23 || minute > 59 || second > 59 {
            return Err(bad());
        }
        match b.get(pos) {
            Some(b'Z' | b'z') => pos += 1,
            Some(sign @ (b'+' | b'-')) => {
                let sign = if *sign == b'-' { -1 } else { 1 };
                pos += 1;
                let oh = number(2, &mut pos).ok_or_else(bad)?;
                if b.get(pos) == Some(&b':') {
                    pos += 1;
                }
                let om = number(2, &mut pos).unwrap_or(0);
                offset = sign * (oh * 3600 + om * 60);
            }
            _ => {}
        }
    }
    if pos != b.len() {
        return Err(bad());
    }
    Ok(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn expiration(data: &str) -> Result<(), String> {
    if data.is_empty() {
        return Ok(());
    }
    let when = parse_isotime(data.trim())
        .map_err(|reason| format!("Expiration {data} is invalid: {reason}"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    if when > now {
        Ok(())
    } else {
        Err(format!(
            "Expiration {data} is invalid: Expiration time is out of date."
        ))
    }
}

fn json_string(data: &str) -> Result<(), String> {
    if data.is_empty() {
        return Ok(());
    }
    super::coerce::json_loads(data)
        .map(|_| ())
        .map_err(|e| format!("JSON string {data} is invalid: {e}"))
}

/// croniter's syntax: 5 to 7 fields (the 6th is seconds, the 7th a year), each a `*`, a number
/// or name in range, a range `a-b`, a step `/n`, or a comma list of those; or an `@` alias.
fn cron_expression(data: &str) -> Result<(), String> {
    if data.is_empty() {
        return Ok(());
    }
    let aliases = [
        "@midnight",
        "@hourly",
        "@daily",
        "@weekly",
        "@monthly",
        "@yearly",
        "@annually",
    ];
    if aliases.contains(&data.trim().to_lowercase().as_str()) {
        return Ok(());
    }
    let fields: Vec<&str> = data.split_whitespace().collect();
    if !(5..=7).contains(&fields.len()) {
        return Err(
            "Invalid CRON expression: Exactly 5, 6 or 7 columns has to be specified for \
             iterator expression."
                .to_string(),
        );
    }
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let bounds: [(u32, u32, &[&str]); 7] = [
        (0, 59, &[]),
        (0, 23, &[]),
        (1, 31, &[]),
        (1, 12, &MONTHS),
        (0, 7, &DAYS),
        (0, 59, &[]),
        (1970, 2099, &[]),
    ];
    for (field, (low, high, names)) in fields.iter().zip(bounds) {
        let value_ok = |v: &str| {
            if let Some(i) = names.iter().position(|n| v.eq_ignore_ascii_case(n)) {
                return u32::try_from(i).is_ok();
            }
            v.parse::<u32>().is_ok_and(|n| (low..=high).contains(&n))
        };
        let part_ok = |part: &str| {
            let (range, step) = match part.split_once('/') {
                Some((r, s)) => (r, Some(s)),
                None => (part, None),
            };
            if step.is_some_and(|s| s.parse::<u32>().map_or(true, |n| n == 0)) {
                return false;
            }
            match range {
                "*" | "?" => true,
                "L" if low == 1 && high == 31 => true,
                _ => match range.split_once('-') {
                    Some((a, b)) => value_ok(a) && value_ok(b),
                    None => value_ok(range),
                },
            }
        };
        if field.is_empty() || !field.split(',').all(part_ok) {
            return Err(format!(
                "Invalid CRON expression: [{data}] is not acceptable"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn outcome(name: &str, value: Value) -> Option<String> {
        match check(name, &value, None) {
            CustomOutcome::Valid => None,
            CustomOutcome::Invalid(m) => Some(m),
            CustomOutcome::Skipped => Some("skipped".into()),
        }
    }

    #[test]
    fn ip_addresses() {
        assert_eq!(outcome("ip_addr", json!("10.0.0.1")), None);
        assert_eq!(outcome("ip_addr", json!("::1")), None);
        assert_eq!(
            outcome("ip_addr", json!("10.0.0.01")).as_deref(),
            Some("Error validating value '10.0.0.01': Invalid IP address")
        );
        assert!(outcome("ip_addr", json!("1")).is_some());
    }

    #[test]
    fn cidrs() {
        assert_eq!(outcome("net_cidr", json!("10.0.0.0/24")), None);
        assert_eq!(outcome("net_cidr", json!("2001:db8::/64")), None);
        assert_eq!(
            outcome("net_cidr", json!("10.0.0.1")).as_deref(),
            Some(
                "Error validating value '10.0.0.1': '10.0.0.1' isn't a recognized IP subnet \
                 cidr, '10.0.0.1/32' is recommended"
            )
        );
        assert_eq!(
            outcome("net_cidr", json!("foo")).as_deref(),
            Some("Error validating value 'foo': Invalid net cidr invalid IPNetwork foo ")
        );
        assert_eq!(outcome("ip_or_cidr", json!("10.0.0.0/8")), None);
        assert_eq!(outcome("ip_or_cidr", json!("10.1.2.3")), None);
    }

    #[test]
    fn macs_dns_dates_cron_json() {
        assert_eq!(outcome("mac_addr", json!("fa:16:3e:00:00:01")), None);
        assert_eq!(outcome("mac_addr", json!("fa-16-3e-00-00-01")), None);
        assert!(outcome("mac_addr", json!("fa:16:3e:00:00")).is_some());
        assert_eq!(outcome("dns_name", json!("www.example.com.")), None);
        assert_eq!(
            outcome("dns_name", json!("-bad.example")).as_deref(),
            Some(
                "Error validating value '-bad.example': '-bad.example' not in valid format. \
                 Reason: Name '-bad' must not start or end with a hyphen."
            )
        );
        assert_eq!(
            outcome("dns_domain", json!("example.com")).as_deref(),
            Some("Error validating value 'example.com': 'example.com' must end with '.'.")
        );
        assert!(outcome("rel_dns_name", json!("host.example.")).is_some());
        assert_eq!(outcome("iso_8601", json!("2026-11-25T10:00:00Z")), None);
        assert_eq!(
            outcome("iso_8601", json!("yesterday")).as_deref(),
            Some("Error validating value 'yesterday'")
        );
        assert_eq!(outcome("expiration", json!("2999-01-01T00:00:00Z")), None);
        assert!(outcome("expiration", json!("2000-01-01T00:00:00Z"))
            .unwrap()
            .ends_with("Expiration time is out of date."));
        assert_eq!(outcome("cron_expression", json!("*/5 * * * mon-fri")), None);
        assert!(outcome("cron_expression", json!("* * *")).is_some());
        assert!(outcome("cron_expression", json!("61 * * * *")).is_some());
        assert_eq!(outcome("json_string", json!("{\"a\": 1}")), None);
        assert!(outcome("json_string", json!("{a")).is_some());
    }

    #[test]
    fn cloud_and_unknown_constraints() {
        assert_eq!(
            outcome("nova.flavor", json!("m1.small")).as_deref(),
            Some("skipped")
        );
        assert_eq!(
            outcome("no.such", json!("x")).as_deref(),
            Some("\"x\" does not validate no.such (constraint not found)")
        );
        struct NoFlavors;
        impl CustomConstraintChecker for NoFlavors {
            fn check(&self, _: &str, value: &Value) -> Result<(), String> {
                Err(format!(
                    "The Flavor ({}) could not be found.",
                    pycompat::str_of(value)
                ))
            }
        }
        match check("nova.flavor", &json!("m1.x"), Some(&NoFlavors)) {
            CustomOutcome::Invalid(m) => assert_eq!(
                m,
                "Error validating value 'm1.x': The Flavor (m1.x) could not be found."
            ),
            _ => panic!("expected a failure"),
        }
    }
}
