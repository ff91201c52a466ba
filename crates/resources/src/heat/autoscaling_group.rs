//! `OS::Heat::AutoScalingGroup`: a child stack of `resource` copies with random member names,
//! resized by `OS::Heat::ScalingPolicy` signals.
//!
//! The size is the number of members of the child (no separate counter to drift). A resize
//! keeps the newest members when shrinking (Heat removes the oldest first) and adds members
//! with new names when growing, so only the members that appear or disappear are touched:
//! members that stay keep the definition they have, new ones get the current `resource`.
//! Cooldown is kept in the resource data as the time the group may scale again. A change of
//! `resource` updates the members in batches as `rolling_updates` says (see [`Batching`]).

use super::stack::{members_template, Batching, Members, StackBacked, STACK_ID_ATTR};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ember_engine::model::Action;
use ember_engine::nested::{ChildSource, StackHandle};
use ember_engine::resource::{Properties, UpdateRequest};
use ember_engine::schema::{AttributeSchema, Constraint, PropertySchema, PropertyType, TypeSchema};
use ember_engine::{Progress, ResourceContext, ResourceError, ResourceType, Started};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Resource data key: when the group may scale again (RFC 3339).
pub const COOLDOWN_END: &str = "cooldown_end";

/// How a scaling adjustment is read (Heat's `adjustment_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdjustmentType {
    ChangeInCapacity,
    ExactCapacity,
    PercentChangeInCapacity,
}

impl AdjustmentType {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "change_in_capacity" => Some(AdjustmentType::ChangeInCapacity),
            "exact_capacity" => Some(AdjustmentType::ExactCapacity),
            "percent_change_in_capacity" => Some(AdjustmentType::PercentChangeInCapacity),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AdjustmentType::ChangeInCapacity => "change_in_capacity",
            AdjustmentType::ExactCapacity => "exact_capacity",
            AdjustmentType::PercentChangeInCapacity => "percent_change_in_capacity",
        }
    }
}

/// Heat's new capacity: a percentage change is rounded towards zero, except that a change of
/// less than one member is rounded away from zero; `min_adjustment_step` raises a percentage
/// change to at least that many members; the result stays within `[minimum, maximum]`.
pub fn new_capacity(
    current: i64,
    adjustment: f64,
    kind: AdjustmentType,
    min_adjustment_step: Option<i64>,
    minimum: i64,
    maximum: i64,
) -> i64 {
    let wanted = match kind {
        AdjustmentType::ChangeInCapacity => current + adjustment as i64,
        AdjustmentType::ExactCapacity => adjustment as i64,
        AdjustmentType::PercentChangeInCapacity => {
            let delta = current as f64 * adjustment / 100.0;
            let mut rounded = if delta.abs() < 1.0 {
                if delta > 0.0 {
                    delta.ceil()
                } else {
                    delta.floor()
                }
            } else if delta > 0.0 {
                delta.floor()
            } else {
                delta.ceil()
            } as i64;
            if let Some(step) = min_adjustment_step.filter(|s| *s > rounded.abs()) {
                rounded = if rounded > 0 { step } else { -step };
            }
            current + rounded
        }
    };
    wanted.clamp(minimum, maximum.max(minimum))
}

/// The end of the cooldown recorded in resource data, if any.
fn cooldown_end(data: &BTreeMap<String, String>) -> Option<DateTime<Utc>> {
    data.get(COOLDOWN_END)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|end| end.with_timezone(&Utc))
}

/// Whether a cooldown recorded in resource data is still running.
pub fn in_cooldown(data: &BTreeMap<String, String>) -> bool {
    cooldown_end(data).is_some_and(|end| Utc::now() < end)
}

/// Data starting a cooldown of `secs` from now.
pub fn cooldown_from_now(secs: f64) -> BTreeMap<String, String> {
    let end = Utc::now() + chrono::Duration::milliseconds((secs.max(0.0) * 1000.0) as i64);
    BTreeMap::from([(COOLDOWN_END.to_string(), end.to_rfc3339())])
}

/// A member name: 12 lowercase letters and digits, as Heat's short ids.
fn member_name() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

pub struct AutoScalingGroup {
    nested: StackBacked,
    schema: TypeSchema,
}

impl AutoScalingGroup {
    pub fn new(handle: StackHandle) -> Self {
        let size = |d: &str| {
            PropertySchema::new(PropertyType::Integer, d)
                .update_allowed()
                .constraint(Constraint::Range {
                    min: Some(0.0),
                    max: None,
                })
        };
        let mut properties = BTreeMap::new();
        properties.insert(
            "resource".into(),
            PropertySchema::new(
                PropertyType::Map,
                "Resource definition for the resources in the group, in HOT format.",
            )
            .required()
            .update_allowed(),
        );
        properties.insert(
            "max_size".into(),
            size("Maximum number of resources in the group.").required(),
        );
        properties.insert(
            "min_size".into(),
            size("Minimum number of resources in the group.").required(),
        );
        properties.insert(
            "cooldown".into(),
            PropertySchema::new(PropertyType::Integer, "Cooldown period, in seconds.")
                .update_allowed(),
        );
        properties.insert(
            "desired_capacity".into(),
            PropertySchema::new(
                PropertyType::Integer,
                "Desired initial number of resources.",
            )
            .update_allowed(),
        );
        properties.insert(
            "rolling_updates".into(),
            PropertySchema::new(
                PropertyType::Map,
                "Policy for rolling updates for this scaling group.",
            )
            .default(json!({"min_in_service": 0, "max_batch_size": 1, "pause_time": 0}))
            .update_allowed(),
        );
        let mut attributes = BTreeMap::new();
        for (name, description) in [
            (
                "outputs",
                "A map of resource names to the specified attribute of each individual resource.",
            ),
            (
                "outputs_list",
                "A list of the specified attribute of each individual resource.",
            ),
            (
                "current_size",
                "The current size of AutoscalingResourceGroup.",
            ),
            (
                "refs",
                "A list of resource IDs for the resources in the group.",
            ),
            (
                "refs_map",
                "A map of resource names to IDs for the resources in the group.",
            ),
            (STACK_ID_ATTR, "The nested stack's id."),
        ] {
            attributes.insert(name.into(), AttributeSchema::new(description));
        }
        AutoScalingGroup {
            nested: StackBacked::new(handle),
            schema: TypeSchema {
                properties,
                attributes,
                description: "An autoscaling group that can scale arbitrary resources.".into(),
                support_status: "SUPPORTED",
                since_version: Some("2014.1"),
                accepts_any_property: false,
            },
        }
    }

    fn bounds(props: &Properties) -> (i64, i64) {
        let get = |k: &str| props.get(k).and_then(Value::as_i64).unwrap_or(0);
        (get("min_size"), get("max_size"))
    }

    /// Every member gets the group's `resource` definition.
    fn definitions(props: &Properties, names: Vec<String>) -> Members {
        let def = props.get("resource").cloned().unwrap_or(Value::Null);
        names.into_iter().map(|n| (n, def.clone())).collect()
    }

    /// `rolling_updates` (always set: the schema has Heat's default).
    fn batching(cx: &ResourceContext) -> Option<Batching> {
        Batching::from_policy(cx.properties.get("rolling_updates"))
    }

    /// The members after an update: the desired capacity when given, otherwise the current
    /// size within the new bounds (Heat). With a rolling policy every member gets the current
    /// `resource` (the policy paces the change); without one, as Heat's resize, members that
    /// stay keep their definition.
    async fn target(&self, cx: &ResourceContext) -> Result<Members, ResourceError> {
        let members = self.members(cx).await?;
        let (min, max) = Self::bounds(&cx.properties);
        let size = cx
            .properties
            .get("desired_capacity")
            .and_then(Value::as_i64)
            .unwrap_or(members.len() as i64)
            .clamp(min, max.max(min));
        let names = Self::resized(members, usize::try_from(size).unwrap_or(0));
        match Self::batching(cx) {
            Some(_) => Ok(Self::definitions(&cx.properties, names)),
            None => self.resized_definitions(cx, names).await,
        }
    }

    /// `names` with their current definitions in the child, the new ones with `resource`.
    async fn resized_definitions(
        &self,
        cx: &ResourceContext,
        names: Vec<String>,
    ) -> Result<Members, ResourceError> {
        let current = match &cx.physical_id {
            Some(id) => self.nested.control()?.child_state(id).await?,
            None => None,
        };
        let current = current
            .as_ref()
            .and_then(|state| state.template.get("resources"))
            .and_then(Value::as_object);
        let def = cx
            .properties
            .get("resource")
            .cloned()
            .unwrap_or(Value::Null);
        Ok(names
            .into_iter()
            .map(|name| {
                let kept = current.and_then(|members| members.get(&name)).cloned();
                let def = kept.unwrap_or_else(|| def.clone());
                (name, def)
            })
            .collect())
    }

    async fn members(&self, cx: &ResourceContext) -> Result<Vec<String>, ResourceError> {
        match &cx.physical_id {
            Some(id) => self.nested.control()?.child_members(id).await,
            None => Ok(Vec::new()),
        }
    }

    /// The member names after a resize to `size`: the newest members stay, new ones are added.
    fn resized(mut members: Vec<String>, size: usize) -> Vec<String> {
        if members.len() > size {
            members.drain(..members.len() - size);
        }
        while members.len() < size {
            members.push(member_name());
        }
        members
    }
}

#[async_trait]
impl ResourceType for AutoScalingGroup {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    /// Heat's `_finished_scaling` once a create or update completes: the group's own
    /// `cooldown` starts, unless a cooldown ending later already runs.
    fn completion_data(&self, cx: &ResourceContext, _action: Action) -> BTreeMap<String, String> {
        let started = cooldown_from_now(cx.prop_f64("cooldown").unwrap_or(0.0));
        if cooldown_end(&cx.data) > cooldown_end(&started) {
            BTreeMap::new()
        } else {
            started
        }
    }

    fn validate(&self, properties: &Properties) -> Result<(), String> {
        let (min, max) = Self::bounds(properties);
        if min > max {
            return Err("min_size can not be greater than max_size".into());
        }
        if let Some(desired) = properties.get("desired_capacity").and_then(Value::as_i64) {
            if desired < min || desired > max {
                return Err(format!("desired_capacity must be between {min} and {max}"));
            }
        }
        Ok(())
    }

    /// Heat validates the group by building one member.
    fn child_source(&self, properties: &Properties) -> Option<ChildSource> {
        let one = Self::definitions(properties, vec![member_name()]);
        Some(ChildSource::Inline(members_template(&one).template))
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let (min, _) = Self::bounds(&cx.properties);
        let size = cx
            .properties
            .get("desired_capacity")
            .and_then(Value::as_i64)
            .unwrap_or(min);
        let names = Self::resized(Vec::new(), usize::try_from(size).unwrap_or(0));
        self.nested
            .create_members(cx, &Self::definitions(&cx.properties, names), None)
            .await
    }

    async fn check_create_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        self.nested.progress(cx, Action::Create).await
    }

    /// A changed `resource` rolls through the members in batches; a size change alone is
    /// one child update.
    async fn update(
        &self,
        cx: &ResourceContext,
        req: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        let target = self.target(cx).await?;
        let batching = Self::batching(cx).filter(|_| req.changed.iter().any(|c| c == "resource"));
        self.nested.update_members(cx, &target, batching).await
    }

    async fn check_update_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        let target = self.target(cx).await?;
        self.nested
            .members_progress(cx, Action::Update, &target, Self::batching(cx))
            .await
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        self.nested.delete(cx).await
    }

    async fn check_delete_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        self.nested.progress(cx, Action::Delete).await
    }

    /// An adjustment sent by a scaling policy:
    /// `{"adjustment", "adjustment_type", "min_adjustment_step", "cooldown"}`. A signal while
    /// the group is scaling or cooling down, or one that would not change the size, is ignored.
    async fn handle_signal(
        &self,
        cx: &ResourceContext,
        details: &Value,
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let adjustment = details
            .get("adjustment")
            .and_then(Value::as_f64)
            .ok_or_else(|| {
                ResourceError::new(
                    "ValueError",
                    "an adjustment signal needs a numeric \"adjustment\"",
                )
            })?;
        let kind = details
            .get("adjustment_type")
            .and_then(Value::as_str)
            .map_or(
                Some(AdjustmentType::ChangeInCapacity),
                AdjustmentType::parse,
            )
            .ok_or_else(|| ResourceError::new("ValueError", "unknown adjustment_type"))?;
        let Some(child) = &cx.physical_id else {
            return Ok(BTreeMap::new());
        };
        let control = self.nested.control()?;
        let scaling = control.child_progress(child, Action::Update).await;
        if in_cooldown(&cx.data) || !matches!(scaling, Ok(Progress::Done)) {
            return Ok(BTreeMap::new());
        }
        let members = control.child_members(child).await?;
        let (min, max) = Self::bounds(&cx.properties);
        let step = details.get("min_adjustment_step").and_then(Value::as_i64);
        let size = new_capacity(members.len() as i64, adjustment, kind, step, min, max);
        if size == members.len() as i64 {
            return Ok(BTreeMap::new());
        }
        let names = Self::resized(members, usize::try_from(size).unwrap_or(0));
        let target = self.resized_definitions(cx, names).await?;
        control
            .update_child(child, members_template(&target))
            .await?;
        let cooldown = details
            .get("cooldown")
            .and_then(Value::as_f64)
            .or_else(|| cx.prop_f64("cooldown"))
            .unwrap_or(0.0);
        Ok(cooldown_from_now(cooldown))
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        self.attribute_with_path(cx, name, &[]).await
    }

    /// `outputs`/`outputs_list` take the member attribute (a provider template's output) from
    /// the path: `get_attr: [group, outputs, name]`.
    async fn attribute_with_path(
        &self,
        cx: &ResourceContext,
        name: &str,
        path: &[Value],
    ) -> Result<Option<Value>, ResourceError> {
        if let Some(value) = StackBacked::group_own_attribute(cx, name) {
            return Ok(Some(value));
        }
        match name {
            "current_size" => Ok(Some(json!(self.members(cx).await?.len()))),
            _ if matches!(name, "refs" | "refs_map" | "outputs" | "outputs_list")
                || name.starts_with("resource.") =>
            {
                let members = self.members(cx).await?;
                self.nested
                    .member_attribute(cx, members, name, path)
                    .await
                    .map(Some)
            }
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_follows_heat_rounding_and_bounds() {
        use AdjustmentType::*;
        assert_eq!(new_capacity(2, 2.0, ChangeInCapacity, None, 1, 5), 4);
        assert_eq!(new_capacity(4, -5.0, ChangeInCapacity, None, 1, 5), 1);
        assert_eq!(new_capacity(2, 9.0, ExactCapacity, None, 1, 5), 5);
        // 10% of 4 is 0.4: less than one member rounds away from zero.
        assert_eq!(
            new_capacity(4, 10.0, PercentChangeInCapacity, None, 0, 10),
            5
        );
        assert_eq!(
            new_capacity(4, -10.0, PercentChangeInCapacity, None, 0, 10),
            3
        );
        // 50% of 5 is 2.5: rounded towards zero.
        assert_eq!(
            new_capacity(5, 50.0, PercentChangeInCapacity, None, 0, 10),
            7
        );
        assert_eq!(
            new_capacity(5, -50.0, PercentChangeInCapacity, None, 0, 10),
            3
        );
        // min_adjustment_step raises a small percentage change.
        assert_eq!(
            new_capacity(4, 10.0, PercentChangeInCapacity, Some(3), 0, 10),
            7
        );
        assert_eq!(
            new_capacity(4, -10.0, PercentChangeInCapacity, Some(3), 0, 10),
            1
        );
    }

    #[test]
    fn resize_drops_the_oldest_members() {
        let members: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            AutoScalingGroup::resized(members.clone(), 2),
            vec!["c", "d"]
        );
        let grown = AutoScalingGroup::resized(members, 6);
        assert_eq!(&grown[..4], &["a", "b", "c", "d"]);
        assert_eq!(grown.len(), 6);
        assert!(grown[4].len() == 12 && grown[4] != grown[5]);
    }
}
