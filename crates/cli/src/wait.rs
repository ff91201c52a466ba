//! Waiting for a stack action to finish, as heatclient's `poll_for_events` does (events after a
//! marker, the stack's own event or status deciding the end), with live progress for `--wait`:
//! each resource status change printed as heatclient's event log line, and an overall progress
//! bar counting the resources that have finished the action.

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use crate::client::{text, Heat, StackRef};
use crate::error::CliError;

/// How much of the wait the user sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    /// Nothing: in-process mode finishing an action the user did not ask to watch.
    Nothing,
    /// Event lines and a progress bar (`--wait`).
    Progress,
}

/// How a waited-for action ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: String,
    pub reason: String,
}

impl Outcome {
    pub fn failed(&self) -> bool {
        self.status.ends_with("_FAILED")
    }
}

/// The newest event's id, to start waiting after it (heatclient's marker).
pub async fn last_event_marker(heat: &Heat, stack: &StackRef) -> Result<Option<String>, CliError> {
    let events = heat
        .event_list(
            stack,
            None,
            vec![
                ("sort_dir".into(), "desc".into()),
                ("limit".into(), "1".into()),
            ],
        )
        .await?;
    Ok(events.first().map(|e| text(e, "id")))
}

/// heatclient's event log line: `TIME ID [stack.resource]: STATUS  REASON` without the id
/// (`event_log_formatter` as `--wait` prints it).
pub fn event_line(stack_name: &str, event: &Value) -> String {
    let resource = text(event, "resource_name");
    let name = if resource == stack_name || resource.is_empty() {
        stack_name.to_owned()
    } else {
        format!("{stack_name}.{resource}")
    };
    format!(
        "{} [{}]: {}  {}",
        text(event, "event_time").replace('T', " "),
        name,
        text(event, "resource_status"),
        text(event, "resource_status_reason")
    )
}

/// Waits until the stack's `action` (or any action, when `None`) completes or fails; event
/// lines go to standard output.
pub async fn wait(
    heat: &Heat,
    stack: &StackRef,
    action: Option<&str>,
    marker: Option<String>,
    poll: Duration,
    show: Show,
) -> Result<Outcome, CliError> {
    let mut stdout = std::io::stdout();
    wait_printing(heat, stack, action, marker, poll, show, &mut stdout).await
}

/// [`wait`], writing the event lines to `out`. Every event up to the stack's terminal one is
/// printed: when `stack show` is what tells the end (no event for a while), the events written
/// since the last poll are fetched once more before the wait returns.
pub async fn wait_printing(
    heat: &Heat,
    stack: &StackRef,
    action: Option<&str>,
    mut marker: Option<String>,
    poll: Duration,
    show: Show,
    out: &mut (dyn Write + Send),
) -> Result<Outcome, CliError> {
    let is_final = |status: &str| match action {
        Some(a) => status == format!("{a}_COMPLETE") || status == format!("{a}_FAILED"),
        None => status.ends_with("_COMPLETE") || status.ends_with("_FAILED"),
    };
    let bar = match show {
        Show::Progress => {
            let total = heat
                .resource_list(stack, Vec::new())
                .await
                .map_or(0, |r| r.len());
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] [{bar:30}] {pos}/{len} resources {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            Some(bar)
        }
        Show::Nothing => None,
    };
    // The latest status of each resource, to count the finished ones.
    let mut resource_status: BTreeMap<String, String> = BTreeMap::new();
    let mut quiet_polls = 0;
    // The end as `stack show` reported it, once it did: one more event poll follows.
    let mut settled: Option<Outcome> = None;
    loop {
        let mut query = vec![("sort_dir".to_owned(), "asc".to_owned())];
        if let Some(m) = &marker {
            query.push(("marker".into(), m.clone()));
        }
        let events = match heat.event_list(stack, None, query).await {
            Ok(events) => events,
            // A deleted stack may vanish from the API altogether.
            Err(e) if e.is_not_found() && action == Some("DELETE") => {
                return finish(bar, "DELETE_COMPLETE".into(), String::new())
            }
            Err(e) => return Err(e),
        };
        if events.is_empty() {
            quiet_polls += 1;
        } else {
            quiet_polls = 0;
            marker = events.last().map(|e| text(e, "id"));
        }
        // A create stores its resources after it starts: count them again when events name
        // more resources than the bar knows.
        if let Some(bar) = &bar {
            let named = events
                .iter()
                .map(|e| text(e, "resource_name"))
                .filter(|n| *n != stack.name && !resource_status.contains_key(n))
                .count();
            if named > 0 && (resource_status.len() + named) as u64 > bar.length().unwrap_or(0) {
                if let Ok(resources) = heat.resource_list(stack, Vec::new()).await {
                    bar.set_length(bar.length().unwrap_or(0).max(resources.len() as u64));
                }
            }
        }
        for event in &events {
            let status = text(event, "resource_status");
            let resource = text(event, "resource_name");
            let is_stack_event =
                resource == stack.name && text(event, "physical_resource_id") == stack.id;
            if let Some(bar) = &bar {
                let line = event_line(&stack.name, event);
                bar.suspend(|| writeln!(out, "{line}"))?;
                if !is_stack_event {
                    resource_status.insert(resource, status.clone());
                    let done = resource_status
                        .values()
                        .filter(|s| is_final(s) || s.ends_with("_COMPLETE"))
                        .count() as u64;
                    if done > bar.length().unwrap_or(0) {
                        bar.set_length(done);
                    }
                    bar.set_position(done);
                }
                bar.set_message(status.clone());
            }
            if is_stack_event && is_final(&status) {
                return finish(bar, status, text(event, "resource_status_reason"));
            }
        }
        if let Some(outcome) = settled {
            return finish(bar, outcome.status, outcome.reason);
        }
        if quiet_polls >= 2 {
            quiet_polls = 0;
            match heat.stack_show(stack, false).await {
                Ok(current) => {
                    let status = text(&current, "stack_status");
                    if is_final(&status) {
                        let reason = text(&current, "stack_status_reason");
                        settled = Some(Outcome { status, reason });
                        continue;
                    }
                }
                Err(e) if e.is_not_found() && action == Some("DELETE") => {
                    return finish(bar, "DELETE_COMPLETE".into(), String::new())
                }
                Err(e) => return Err(e),
            }
        }
        tokio::time::sleep(poll).await;
    }
}

/// The event lines already tell the outcome; the bar leaves the terminal as it found it.
fn finish(bar: Option<ProgressBar>, status: String, reason: String) -> Result<Outcome, CliError> {
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(Outcome { status, reason })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{ApiRequest, ApiResponse, Transport};
    use serde_json::json;
    use std::sync::Mutex;

    /// A stack being deleted as the API shows it: the events written so far, and the status.
    /// The delete finishes (its last events written, the stack `DELETE_COMPLETE`) at the moment
    /// the client asks for the stack itself, right after an event poll that found nothing new.
    struct DeletingStack {
        /// How many of `EVENTS` the API shows.
        published: Mutex<usize>,
    }

    const EVENTS: [(&str, &str, &str, &str); 4] = [
        ("e1", "web", "DELETE_IN_PROGRESS", "Stack DELETE started"),
        ("e2", "server", "DELETE_IN_PROGRESS", "state changed"),
        ("e3", "server", "DELETE_COMPLETE", "state changed"),
        (
            "e4",
            "web",
            "DELETE_COMPLETE",
            "Stack DELETE completed successfully",
        ),
    ];

    fn event((id, resource, status, reason): (&str, &str, &str, &str)) -> Value {
        let physical = if resource == "web" {
            "web-id"
        } else {
            "server-id"
        };
        json!({"id": id, "event_time": "2026-11-26T03:00:00Z", "resource_name": resource,
            "physical_resource_id": physical, "resource_status": status,
            "resource_status_reason": reason})
    }

    #[async_trait::async_trait]
    impl Transport for DeletingStack {
        async fn send(&self, request: ApiRequest) -> Result<ApiResponse, CliError> {
            let mut published = self.published.lock().unwrap();
            let body = if request.path.ends_with("/events") {
                let shown: Vec<Value> = EVENTS[..*published].iter().copied().map(event).collect();
                let after = request
                    .query
                    .iter()
                    .find(|(k, _)| k == "marker")
                    .and_then(|(_, m)| shown.iter().position(|e| e["id"] == m.as_str()))
                    .map_or(0, |i| i + 1);
                json!({"events": shown[after..]})
            } else if request.path.ends_with("/resources") {
                json!({"resources": [{"resource_name": "server"}]})
            } else {
                *published = EVENTS.len();
                json!({"stack": {"stack_status": "DELETE_COMPLETE",
                    "stack_status_reason": "Stack DELETE completed successfully"}})
            };
            Ok(ApiResponse {
                status: 200,
                location: None,
                body,
            })
        }
    }

    #[tokio::test]
    async fn every_event_up_to_the_end_is_printed_when_stack_show_tells_the_end() {
        let heat = Heat::new(Box::new(DeletingStack {
            published: Mutex::new(2),
        }));
        let stack = StackRef {
            name: "web".into(),
            id: "web-id".into(),
        };
        let mut out = Vec::new();
        let outcome = wait_printing(
            &heat,
            &stack,
            Some("DELETE"),
            Some("e1".into()),
            Duration::ZERO,
            Show::Progress,
            &mut out,
        )
        .await
        .unwrap();
        assert_eq!(outcome.status, "DELETE_COMPLETE");
        let lines: Vec<&str> = std::str::from_utf8(&out).unwrap().lines().collect();
        assert_eq!(
            lines,
            [
                "2026-11-26 03:00:00Z [web.server]: DELETE_IN_PROGRESS  state changed",
                "2026-11-26 03:00:00Z [web.server]: DELETE_COMPLETE  state changed",
                "2026-11-26 03:00:00Z [web]: DELETE_COMPLETE  Stack DELETE completed successfully",
            ]
        );
    }

    #[test]
    fn event_lines_match_heatclients_log_format() {
        let event = json!({"event_time": "2026-11-25T23:00:00Z", "resource_name": "secret",
            "resource_status": "CREATE_COMPLETE", "resource_status_reason": "state changed"});
        assert_eq!(
            event_line("hello", &event),
            "2026-11-25 23:00:00Z [hello.secret]: CREATE_COMPLETE  state changed"
        );
        let stack_event = json!({"event_time": "2026-11-25T23:00:01Z", "resource_name": "hello",
            "resource_status": "CREATE_COMPLETE", "resource_status_reason": "Stack CREATE completed successfully"});
        assert_eq!(
            event_line("hello", &stack_event),
            "2026-11-25 23:00:01Z [hello]: CREATE_COMPLETE  Stack CREATE completed successfully"
        );
    }
}
