//! Environment hooks (`resource_registry.resources.<name>.hooks`): the engine pauses a
//! resource before the hooked action until a signal `{"unset_hook": "<hook>"}` clears it.
//!
//! A pending hook is a key in the resource's stored data, so the pause survives a restart and
//! the signal path (any engine process) clears it by rewriting the row; the paused step polls
//! the stored row. The pause is announced by an event with Heat's reason
//! `<ACTION> paused until Hook <hook> is cleared`, which is what `hook poll` looks for.

use super::Run;
use crate::error::ResourceError;
use crate::graph::StepFailure;
use crate::model::{Action, ResourceRecord};
use serde_json::Value;
use std::time::Duration;

/// How often a paused step looks at its stored row.
const HOOK_POLL: Duration = Duration::from_millis(50);

/// The hook names Heat knows.
pub const HOOK_TYPES: [&str; 6] = [
    "pre-create",
    "pre-update",
    "pre-delete",
    "post-create",
    "post-update",
    "post-delete",
];

/// The resource-data key that marks a pending hook.
pub fn hook_key(hook: &str) -> String {
    format!("hook:{hook}")
}

/// Whether the `resources` section of a `resource_registry` sets `hook` on `resource`:
/// entries are resource names or fnmatch patterns; `hooks` is a name or a list.
pub fn has_hook(resource_registry: &Value, resource: &str, hook: &str) -> bool {
    let Some(entries) = resource_registry
        .get("resources")
        .and_then(Value::as_object)
    else {
        return false;
    };
    entries
        .iter()
        .filter(|(pattern, _)| fnmatch(resource, pattern))
        .filter_map(|(_, entry)| entry.get("hooks"))
        .any(|hooks| match hooks {
            Value::String(h) => h == hook,
            Value::Array(hs) => hs.iter().any(|h| h.as_str() == Some(hook)),
            _ => false,
        })
}

/// Shell-style matching with `*` and `?` (no classes), case-sensitive.
fn fnmatch(name: &str, pattern: &str) -> bool {
    let (n, p): (Vec<char>, Vec<char>) = (name.chars().collect(), pattern.chars().collect());
    // Iterative matching with backtracking to the last `*`: linear memory, no recursion.
    let (mut i, mut j, mut star, mut mark) = (0usize, 0usize, None::<usize>, 0usize);
    while i < n.len() {
        if j < p.len() && (p[j] == '?' || p[j] == n[i]) {
            i += 1;
            j += 1;
        } else if j < p.len() && p[j] == '*' {
            star = Some(j);
            mark = i;
            j += 1;
        } else if let Some(s) = star {
            j = s + 1;
            mark += 1;
            i = mark;
        } else {
            return false;
        }
    }
    p[j..].iter().all(|c| *c == '*')
}

impl Run {
    /// Pauses before `action` on `row` when the environment hooks it, until the hook is cleared
    /// (or the action is stopped by timeout or cancel).
    pub(super) async fn pause_for_hook(
        &self,
        row: &mut ResourceRecord,
        action: Action,
        hook: &str,
    ) -> Result<(), StepFailure> {
        if !has_hook(&self.defn.resource_registry, &row.name, hook) {
            return Ok(());
        }
        let store_err = |e: String| StepFailure::resource(action, e);
        let key = hook_key(hook);
        row.data.insert(key.clone(), "pending".into());
        row.status_reason = format!("{action} paused until Hook {hook} is cleared");
        self.save(row, true).await.map_err(store_err)?;
        let mut stop = self.stop.subscribe();
        loop {
            let stored = self
                .engine
                .store
                .resources(&self.stack_id)
                .await
                .map_err(|e| store_err(e.to_string()))?
                .into_iter()
                .find(|r| r.id == row.id);
            if stored.as_ref().is_none_or(|r| !r.data.contains_key(&key)) {
                row.data.remove(&key);
                return Ok(());
            }
            let stopped = tokio::select! {
                _ = tokio::time::sleep(HOOK_POLL) => false,
                _ = stop.wait_for(|s| *s) => true,
            };
            if stopped {
                let err = ResourceError::new("Error", format!("{action} aborted"));
                return Err(self.fail(row, action, &err).await);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hooks_match_names_and_patterns() {
        let reg = json!({"resources": {
            "server": {"hooks": "pre-create"},
            "web_*": {"hooks": ["pre-update", "pre-delete"]},
        }});
        assert!(has_hook(&reg, "server", "pre-create"));
        assert!(!has_hook(&reg, "server", "pre-update"));
        assert!(has_hook(&reg, "web_1", "pre-delete"));
        assert!(!has_hook(&reg, "db", "pre-create"));
        assert!(!has_hook(&json!({}), "server", "pre-create"));
    }

    #[test]
    fn fnmatch_handles_stars_and_question_marks() {
        assert!(fnmatch("abc", "a*"));
        assert!(fnmatch("abc", "*c"));
        assert!(fnmatch("abc", "a?c"));
        assert!(fnmatch("a", "*"));
        assert!(!fnmatch("abc", "a?"));
        assert!(fnmatch("aXbYc", "a*b*c"));
        assert!(!fnmatch("aXbY", "a*b*c"));
    }
}
