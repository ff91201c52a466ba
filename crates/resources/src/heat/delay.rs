//! `OS::Heat::Delay`: waits `min_wait` plus a random jitter during the listed actions. The wait
//! is recorded in the resource data, so it resumes after a restart.

use super::wait;
use async_trait::async_trait;
use ember_engine::resource::UpdateRequest;
use ember_engine::schema::{Constraint, PropertySchema, PropertyType, TypeSchema};
use ember_engine::{Progress, ResourceContext, ResourceError, ResourceType, Started};
use rand::Rng;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub struct Delay {
    schema: TypeSchema,
}

impl Delay {
    pub fn new() -> Self {
        let non_negative = || Constraint::Range {
            min: Some(0.0),
            max: None,
        };
        let mut properties = BTreeMap::new();
        properties.insert(
            "min_wait".into(),
            PropertySchema::new(
                PropertyType::Number,
                "Minimum time in seconds to wait during the specified actions.",
            )
            .update_allowed()
            .default(json!(0))
            .constraint(non_negative()),
        );
        properties.insert(
            "max_jitter".into(),
            PropertySchema::new(
                PropertyType::Number,
                "Maximum jitter to add to the minimum wait time.",
            )
            .update_allowed()
            .default(json!(0))
            .constraint(non_negative()),
        );
        properties.insert(
            "jitter_multiplier".into(),
            PropertySchema::new(
                PropertyType::Number,
                "Number of seconds to multiply the maximum jitter value by.",
            )
            .update_allowed()
            .default(json!(1.0))
            .constraint(non_negative()),
        );
        properties.insert(
            "actions".into(),
            PropertySchema::new(
                PropertyType::List,
                "Actions during which the delay will occur.",
            )
            .update_allowed()
            .default(json!(["CREATE"]))
            .constraint(Constraint::AllowedValues(vec![
                json!("CREATE"),
                json!("DELETE"),
                json!("SUSPEND"),
                json!("RESUME"),
            ])),
        );
        Delay {
            schema: TypeSchema {
                properties,
                description: "A resource that pauses for a configurable delay.".into(),
                support_status: "SUPPORTED",
                since_version: Some("11.0.0"),
                ..TypeSchema::default()
            },
        }
    }

    fn start(&self, cx: &ResourceContext) -> Started {
        let listed = cx
            .properties
            .get("actions")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(cx.action.as_str())));
        let secs = if listed {
            let min = cx.prop_f64("min_wait").unwrap_or(0.0);
            let jitter = cx.prop_f64("max_jitter").unwrap_or(0.0)
                * cx.prop_f64("jitter_multiplier").unwrap_or(1.0);
            min + jitter * rand::thread_rng().gen::<f64>()
        } else {
            0.0
        };
        Started {
            physical_id: None,
            data: wait::start(secs),
        }
    }
}

impl Default for Delay {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl ResourceType for Delay {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        Ok(self.start(cx))
    }
    async fn check_create_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        Ok(wait::progress(cx))
    }
    async fn update(
        &self,
        _cx: &ResourceContext,
        _req: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        Ok(Started::default())
    }
    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        Ok(self.start(cx))
    }
    async fn check_delete_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        Ok(wait::progress(cx))
    }
    async fn suspend(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        Ok(self.start(cx))
    }
    async fn resume(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        Ok(self.start(cx))
    }
    async fn check_action_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        Ok(wait::progress(cx))
    }
    async fn attribute(
        &self,
        _cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        Ok((name == "show").then_some(Value::Null))
    }
}
