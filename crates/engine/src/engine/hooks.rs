//! Environment hooks (`resource_registry.resources.<name>.hooks`): the engine pauses a
//! resource before (`pre-*`) or after (`post-*`) the hooked action until a signal
//! `{"unset_hook": "<hook>"}` clears it.
//!
//! Which hooks a resource has is ember-template's [`ResourceRegistry::hooks`] (Heat's
//! `matches_hook`: name or fnmatch pattern entries, user registry). A pending hook is a key in
//! the resource's stored data, so the pause survives a restart and the signal path (any engine
//! process) clears it by rewriting the row; the paused step polls the stored row. The pause is
//! announced by an event with Heat's reason `<ACTION> paused until Hook <hook> is cleared`,
//! which is what `hook poll` looks for. As in Heat, `post-create` pauses only during a stack
//! create and `post-delete` only during a stack delete; `post-update` after every in-place
//! update.

use super::Run;
use crate::error::ResourceError;
use crate::graph::StepFailure;
use crate::model::{Action, ResourceRecord};
use ember_template::environment::{Hook, ResourceRegistry};
use ember_template::Node;
use serde_json::Value;
use std::time::Duration;

/// How often a paused step looks at its stored row.
const HOOK_POLL: Duration = Duration::from_millis(50);

/// Every hook Heat knows.
const HOOKS: [Hook; 6] = [
    Hook::PreCreate,
    Hook::PreUpdate,
    Hook::PreDelete,
    Hook::PostCreate,
    Hook::PostUpdate,
    Hook::PostDelete,
];

/// The hook named `name` (`pre-create`, ..., `post-delete`).
pub fn hook_named(name: &str) -> Option<Hook> {
    HOOKS.into_iter().find(|h| h.as_str() == name)
}

/// The resource-data key that marks a pending hook.
pub fn hook_key(hook: &str) -> String {
    format!("hook:{hook}")
}

/// The hooks a merged `resource_registry` (as the definition keeps it) sets on `resource`.
pub fn hooks_of(resource_registry: &Value, resource: &str) -> Vec<Hook> {
    // Most stacks have no per-resource entries; they need no registry built.
    let has_entries = resource_registry
        .get("resources")
        .and_then(Value::as_object)
        .is_some_and(|entries| !entries.is_empty());
    if !has_entries {
        return Vec::new();
    }
    let mut registry = ResourceRegistry::default();
    // The section was checked when the stack's environment was built.
    match registry.load(&Node::from_json(resource_registry), "") {
        Ok(()) => registry.hooks(resource),
        Err(_) => Vec::new(),
    }
}

impl Run {
    /// Pauses before `action` on `row` when the environment sets its `pre-` hook.
    pub(super) async fn pause_before(
        &self,
        row: &mut ResourceRecord,
        action: Action,
    ) -> Result<(), StepFailure> {
        let hook = match action {
            Action::Create => Hook::PreCreate,
            Action::Update => Hook::PreUpdate,
            Action::Delete => Hook::PreDelete,
            _ => return Ok(()),
        };
        self.pause_for_hook(row, action, hook).await.map(|_| ())
    }

    /// Pauses after `action` completed on `row` when the environment sets its `post-` hook
    /// (create and delete only within the stack action of the same name, as in Heat).
    pub(super) async fn pause_after(
        &self,
        row: &mut ResourceRecord,
        action: Action,
    ) -> Result<(), StepFailure> {
        let hook = match (action, self.action) {
            (Action::Create, Action::Create) => Hook::PostCreate,
            (Action::Update, _) => Hook::PostUpdate,
            (Action::Delete, Action::Delete) => Hook::PostDelete,
            _ => return Ok(()),
        };
        let reason = row.status_reason.clone();
        if self.pause_for_hook(row, action, hook).await? {
            // The pause is an event; the completed resource keeps its own reason.
            row.status_reason = reason;
            self.save(row, false)
                .await
                .map_err(|e| StepFailure::resource(action, e))?;
        }
        Ok(())
    }

    /// Pauses on `hook` until it is cleared (or the action is stopped by timeout or cancel);
    /// true when the resource had that hook.
    async fn pause_for_hook(
        &self,
        row: &mut ResourceRecord,
        action: Action,
        hook: Hook,
    ) -> Result<bool, StepFailure> {
        if !hooks_of(&self.defn.resource_registry, &row.name).contains(&hook) {
            return Ok(false);
        }
        let store_err = |e: String| StepFailure::resource(action, e);
        let hook = hook.as_str();
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
                return Ok(true);
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
            "web_*": {"hooks": ["pre-update", "post-delete"]},
            "nested": {"inner": {"hooks": "pre-create"}},
        }});
        assert_eq!(hooks_of(&reg, "server"), vec![Hook::PreCreate]);
        assert_eq!(
            hooks_of(&reg, "web_1"),
            vec![Hook::PreUpdate, Hook::PostDelete]
        );
        assert!(hooks_of(&reg, "db").is_empty());
        // An entry for a nested stack's resource is not a hook of the parent's resource.
        assert!(hooks_of(&reg, "nested").is_empty());
        assert!(hooks_of(&json!({}), "server").is_empty());
    }

    #[test]
    fn hook_names_are_heats() {
        for name in [
            "pre-create",
            "pre-update",
            "pre-delete",
            "post-create",
            "post-update",
            "post-delete",
        ] {
            assert_eq!(hook_named(name).map(Hook::as_str), Some(name));
        }
        assert_eq!(hook_named("pre-check"), None);
    }
}
