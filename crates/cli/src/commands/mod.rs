//! The commands: each reads its options, calls the API through [`Heat`] and shapes the answer as
//! heatclient's OSC plugin does (same columns, same order, same transformations).

pub mod orchestration;
pub mod parts;
pub mod stack;

use serde_json::Value;
use std::cmp::Ordering;
use std::io::Write;
use std::time::Duration;

use crate::client::{Heat, StackRef};
use crate::error::CliError;
use crate::mode::Mode;
use crate::output::python::str_of;
use crate::wait::{self, Outcome, Show};

/// What every command runs with.
pub struct Ctx {
    pub heat: Heat,
    pub mode: Mode,
    pub out: Box<dyn Write>,
}

impl Ctx {
    pub fn in_process(&self) -> bool {
        matches!(self.mode, Mode::InProcess { .. })
    }

    /// The stack, or heatclient's `Stack not found: NAME` refusal.
    pub async fn find_stack(&self, name_or_id: &str) -> Result<StackRef, CliError> {
        self.heat.stack_ref(name_or_id).await.map_err(|e| {
            if e.is_not_found() {
                CliError::Command(format!("Stack not found: {name_or_id}"))
            } else {
                e
            }
        })
    }

    /// Seconds between polls: `--poll`, else quick in process and heatclient's 5 s otherwise.
    pub fn poll_interval(&self, poll: Option<f64>) -> Duration {
        let default = if self.in_process() { 0.1 } else { 5.0 };
        Duration::from_secs_f64(poll.unwrap_or(default).clamp(0.01, 3600.0))
    }

    /// After starting an action: with `--wait`, watch it with live progress; in process without
    /// `--wait`, still let it finish (the engine runs in this process, which is about to exit).
    pub async fn settle(
        &self,
        stack: &StackRef,
        action: Option<&str>,
        marker: Option<String>,
        wait_flag: bool,
        poll: Option<f64>,
    ) -> Result<Option<Outcome>, CliError> {
        let show = if wait_flag {
            Show::Progress
        } else if self.in_process() {
            Show::Nothing
        } else {
            return Ok(None);
        };
        let outcome = wait::wait(
            &self.heat,
            stack,
            action,
            marker,
            self.poll_interval(poll),
            show,
        )
        .await?;
        Ok(Some(outcome))
    }
}

/// heatclient's failure message after `--wait` (`\n Stack NAME STATUS \n`), with the reason.
pub fn failure(stack: &StackRef, outcome: &Outcome) -> CliError {
    let mut message = format!("Stack {} {}", stack.name, outcome.status);
    if !outcome.reason.is_empty() {
        message.push_str(": ");
        message.push_str(&outcome.reason);
    }
    CliError::Command(message)
}

/// `key=value` options as query parameters.
pub fn filters_query(filters: &[String]) -> Result<Vec<(String, String)>, CliError> {
    let parsed = crate::files::format_parameters(filters, true)?;
    let mut query = Vec::new();
    for (k, v) in parsed {
        match v {
            Value::Array(items) => {
                query.extend(items.iter().map(|i| (k.clone(), str_of(i))));
            }
            other => query.push((k, str_of(&other))),
        }
    }
    Ok(query)
}

/// osc_lib's `sort_items`: `key[:asc|desc]` comma-separated, applied from the last key.
pub fn sort_items(items: &mut [Value], sort: &str) -> Result<(), CliError> {
    for spec in sort.split(',').rev().filter(|s| !s.is_empty()) {
        let (key, dir) = spec.split_once(':').unwrap_or((spec, "asc"));
        let reverse = match dir {
            "asc" => false,
            "desc" => true,
            other => {
                return Err(CliError::Command(format!(
                    "{other} is not a valid sort direction for sort key {key}, use asc or desc \
                     instead"
                )))
            }
        };
        items.sort_by(|a, b| {
            let order = compare_values(a.get(key), b.get(key));
            if reverse {
                order.reverse()
            } else {
                order
            }
        });
    }
    Ok(())
}

fn compare_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (None | Some(Value::Null), None | Some(Value::Null)) => Ordering::Equal,
        (None | Some(Value::Null), _) => Ordering::Less,
        (_, None | Some(Value::Null)) => Ordering::Greater,
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Some(x), Some(y)) => str_of(x).cmp(&str_of(y)),
    }
}

/// Asks before deleting when standard input is a terminal, as `openstack stack delete` does.
pub fn confirm(question: &str) -> bool {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return true;
    }
    let term = console::Term::stdout();
    let _ = term.write_str(question);
    term.read_line()
        .map(|answer| answer.trim().to_lowercase().starts_with('y'))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sort_items_orders_by_keys_and_directions() {
        let mut items = vec![
            json!({"n": "b", "t": 1}),
            json!({"n": "a", "t": 2}),
            json!({"n": "a", "t": 1}),
        ];
        sort_items(&mut items, "n:asc,t:desc").unwrap();
        assert_eq!(
            items,
            vec![
                json!({"n": "a", "t": 2}),
                json!({"n": "a", "t": 1}),
                json!({"n": "b", "t": 1})
            ]
        );
        assert!(sort_items(&mut items, "n:up").is_err());
    }
}
