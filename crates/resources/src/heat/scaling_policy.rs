//! `OS::Heat::ScalingPolicy`: a signal (an alarm, or a user's `resource signal`) adjusts its
//! group through the engine's signal path.
//!
//! As in Heat, a signal whose alarm state is not `alarm`, or one that arrives while the policy
//! is cooling down, is recorded (the engine writes the SIGNAL event) and otherwise ignored.

use super::autoscaling_group::{cooldown_from_now, in_cooldown, AdjustmentType};
use async_trait::async_trait;
use ember_engine::nested::{SignalUrlKind, StackControl, StackHandle};
use ember_engine::schema::{AttributeSchema, Constraint, PropertySchema, PropertyType, TypeSchema};
use ember_engine::{ResourceContext, ResourceError, ResourceType, Started};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

pub struct ScalingPolicy {
    handle: StackHandle,
    schema: TypeSchema,
}

impl ScalingPolicy {
    pub fn new(handle: StackHandle) -> Self {
        let mut properties = BTreeMap::new();
        properties.insert(
            "auto_scaling_group_id".into(),
            PropertySchema::new(
                PropertyType::String,
                "AutoScaling group ID to apply policy to.",
            )
            .required(),
        );
        properties.insert(
            "scaling_adjustment".into(),
            PropertySchema::new(PropertyType::Number, "Size of adjustment.")
                .required()
                .update_allowed(),
        );
        properties.insert(
            "adjustment_type".into(),
            PropertySchema::new(
                PropertyType::String,
                "Type of adjustment (absolute or percentage).",
            )
            .required()
            .update_allowed()
            .constraint(Constraint::AllowedValues(vec![
                json!("change_in_capacity"),
                json!("exact_capacity"),
                json!("percent_change_in_capacity"),
            ])),
        );
        properties.insert(
            "cooldown".into(),
            PropertySchema::new(PropertyType::Number, "Cooldown period, in seconds.")
                .update_allowed(),
        );
        properties.insert(
            "min_adjustment_step".into(),
            PropertySchema::new(
                PropertyType::Integer,
                "Minimum number of resources that are added or removed when the AutoScaling group scales up or down.",
            )
            .update_allowed()
            .constraint(Constraint::Range {
                min: Some(0.0),
                max: None,
            }),
        );
        let mut attributes = BTreeMap::new();
        attributes.insert(
            "alarm_url".into(),
            AttributeSchema::new("A signed url to handle the alarm."),
        );
        attributes.insert(
            "signal_url".into(),
            AttributeSchema::new("A url to handle the alarm using native API."),
        );
        ScalingPolicy {
            handle,
            schema: TypeSchema {
                properties,
                attributes,
                description: "A resource to manage scaling of OS::Heat::AutoScalingGroup.".into(),
                support_status: "SUPPORTED",
                since_version: None,
                accepts_any_property: false,
            },
        }
    }

    fn control(&self) -> Result<Arc<dyn StackControl>, ResourceError> {
        self.handle.get()
    }

    async fn mint(
        &self,
        cx: &ResourceContext,
        kind: SignalUrlKind,
    ) -> Result<String, ResourceError> {
        self.control()?
            .signal_url(&cx.stack_id, &cx.name, kind)
            .await
    }
}

/// The URL attributes: `alarm_url` is pre-signed (plain `curl -X POST` works, as Aodh's
/// `http://` actions need), `signal_url` is the native API's and takes a Keystone token.
const URLS: [(&str, SignalUrlKind); 2] = [
    ("alarm_url", SignalUrlKind::PresignedSignal),
    ("signal_url", SignalUrlKind::Native),
];

/// The alarm state a signal carries (Aodh's `current`, or `state`); a bare signal is an alarm.
fn alarm_state(details: &Value) -> String {
    details
        .get("current")
        .or_else(|| details.get("state"))
        .and_then(Value::as_str)
        .unwrap_or("alarm")
        .to_lowercase()
}

#[async_trait]
impl ResourceType for ScalingPolicy {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    /// The URLs are minted once, at create, so the attributes stay the same for the life of
    /// the policy (an alarm holding `alarm_url` is not updated by every stack update).
    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let mut data = BTreeMap::new();
        for (attribute, kind) in URLS {
            data.insert(attribute.to_string(), self.mint(cx, kind).await?);
        }
        Ok(Started {
            physical_id: Some(cx.physical_resource_name()),
            data,
        })
    }

    async fn update(
        &self,
        _cx: &ResourceContext,
        _req: ember_engine::resource::UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        Ok(Started::default())
    }

    async fn handle_signal(
        &self,
        cx: &ResourceContext,
        details: &Value,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        if alarm_state(details) != "alarm" || in_cooldown(&cx.data) {
            return Ok(BTreeMap::new());
        }
        let control = self.control()?;
        let group_id = cx.prop_str("auto_scaling_group_id").unwrap_or_default();
        let group = control
            .resource_by_reference(&cx.stack_id, group_id)
            .await?
            .ok_or_else(|| {
                ResourceError::new(
                    "NotFound",
                    format!(
                        "Alarm {} could not find scaling group named \"{group_id}\"",
                        cx.name
                    ),
                )
            })?;
        let kind = cx
            .prop_str("adjustment_type")
            .and_then(AdjustmentType::parse)
            .unwrap_or(AdjustmentType::ChangeInCapacity);
        let cooldown = cx.prop_f64("cooldown");
        let adjustment = json!({
            "adjustment": cx.prop_f64("scaling_adjustment").unwrap_or(0.0),
            "adjustment_type": kind.as_str(),
            "min_adjustment_step": cx.properties.get("min_adjustment_step"),
            "cooldown": cooldown,
        });
        control.signal(&cx.stack_id, &group, &adjustment).await?;
        Ok(cooldown_from_now(cooldown.unwrap_or(0.0)))
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        match name {
            "alarm_url" | "signal_url" => Ok(Some(
                cx.data
                    .get(name)
                    .map_or(Value::Null, |url| Value::String(url.clone())),
            )),
            "show" => Ok(Some(Value::Null)),
            _ => Ok(None),
        }
    }
}
