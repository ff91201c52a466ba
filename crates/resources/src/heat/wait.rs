//! Timed waits kept in resource data (start time and duration), so that a wait survives an
//! engine restart: the next engine polls the same deadline.

use chrono::{DateTime, Utc};
use ember_engine::{Progress, ResourceContext};
use std::collections::BTreeMap;
use std::time::Duration;

const STARTED_AT: &str = "started_at";
const WAIT_SECS: &str = "wait_secs";

/// Data recording a wait of `secs` starting now (negative: forever).
pub fn start(secs: f64) -> BTreeMap<String, String> {
    BTreeMap::from([
        (STARTED_AT.to_string(), Utc::now().to_rfc3339()),
        (WAIT_SECS.to_string(), secs.to_string()),
    ])
}

/// Whether the wait recorded in the context's data is over (Heat: strictly more than the
/// wait has elapsed).
pub fn progress(cx: &ResourceContext) -> Progress {
    let started: Option<DateTime<Utc>> = cx
        .data
        .get(STARTED_AT)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc));
    let secs: f64 = cx
        .data
        .get(WAIT_SECS)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0);
    let Some(started) = started else {
        return Progress::Done;
    };
    if secs < 0.0 {
        return Progress::Pending(Duration::from_secs(1));
    }
    let elapsed = (Utc::now() - started)
        .to_std()
        .unwrap_or_default()
        .as_secs_f64();
    if elapsed > secs {
        Progress::Done
    } else {
        // Wake just after the deadline rather than polling every second.
        Progress::Pending(Duration::from_secs_f64(secs - elapsed + 0.001))
    }
}
