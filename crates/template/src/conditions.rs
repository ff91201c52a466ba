//! The conditions section: named condition definitions, evaluated lazily (they may refer to each
//! other by name), with circular references detected as Heat detects them.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use indexmap::IndexMap;
use serde_json::Value;

use crate::error::{ErrorKind, TemplateError};
use crate::eval::{evaluate, Scope};
use crate::expr::Expr;
use crate::node::Location;
use crate::pycompat;

/// One named condition as written.
#[derive(Debug, Clone, PartialEq)]
pub struct ConditionDefinition {
    pub name: String,
    pub expr: Expr,
    pub location: Location,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    InProgress,
    Done(bool),
}

/// The condition definitions of a template, with their values cached once computed. The cache
/// is behind a mutex so that a stack definition can be evaluated from many threads; it is never
/// held across an evaluation.
#[derive(Debug, Default)]
pub struct Conditions {
    definitions: IndexMap<String, ConditionDefinition>,
    states: Mutex<HashMap<String, State>>,
}

impl Conditions {
    pub fn new(definitions: &[ConditionDefinition]) -> Self {
        Self {
            definitions: definitions
                .iter()
                .map(|d| (d.name.clone(), d.clone()))
                .collect(),
            states: Mutex::new(HashMap::new()),
        }
    }

    fn states(&self) -> MutexGuard<'_, HashMap<String, State>> {
        // The map holds plain values, so a panic elsewhere cannot leave it inconsistent.
        self.states
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.definitions.keys().map(String::as_str)
    }

    /// Whether condition `name` holds. `at` locates the reference for an unknown name.
    pub fn is_enabled(
        &self,
        name: &str,
        scope: &Scope<'_>,
        at: &Location,
    ) -> Result<bool, TemplateError> {
        let Some(definition) = self.definitions.get(name) else {
            return Err(TemplateError::new(
                ErrorKind::Reference,
                at.clone(),
                format!("Invalid condition \"{name}\""),
            ));
        };
        let state = self.states().get(name).copied();
        match state {
            Some(State::Done(b)) => return Ok(b),
            Some(State::InProgress) => {
                return Err(TemplateError::new(
                    ErrorKind::Reference,
                    definition.location.clone(),
                    format!("Circular definition for condition \"{name}\""),
                ))
            }
            None => {}
        }
        self.states().insert(name.to_string(), State::InProgress);
        let result = self.compute(definition, scope);
        match result {
            Ok(b) => {
                self.states().insert(name.to_string(), State::Done(b));
                Ok(b)
            }
            Err(e) => {
                self.states().remove(name);
                Err(e)
            }
        }
    }

    fn compute(
        &self,
        definition: &ConditionDefinition,
        scope: &Scope<'_>,
    ) -> Result<bool, TemplateError> {
        check_definition(definition)?;
        match evaluate(&definition.expr, scope)? {
            Value::Bool(b) => Ok(b),
            other => Err(invalid_definition(definition, &other)),
        }
    }

    /// Every condition's value, in definition order.
    pub fn evaluate_all(&self, scope: &Scope<'_>) -> Result<IndexMap<String, bool>, TemplateError> {
        self.definitions
            .values()
            .map(|d| {
                Ok((
                    d.name.clone(),
                    self.is_enabled(&d.name, scope, &d.location)?,
                ))
            })
            .collect()
    }

    /// Checks each definition is a boolean or a function call, without evaluating it.
    pub fn check_definitions(&self) -> Result<(), TemplateError> {
        self.definitions.values().try_for_each(check_definition)
    }
}

fn invalid_definition(definition: &ConditionDefinition, value: &Value) -> TemplateError {
    TemplateError::new(
        ErrorKind::Structure,
        definition.location.clone(),
        format!(
            "The definition of condition \"{}\" is invalid: {}",
            definition.name,
            pycompat::str_of(value)
        ),
    )
}

fn check_definition(definition: &ConditionDefinition) -> Result<(), TemplateError> {
    match &definition.expr {
        Expr::Bool(_) | Expr::Call(_) => Ok(()),
        other => Err(invalid_definition(
            definition,
            &other.literal().unwrap_or(Value::Null),
        )),
    }
}
