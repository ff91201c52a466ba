//! `OS::Heat::TestResource`: stores `value`, waits `wait_secs` (or `action_wait_secs[action]`)
//! after each action, and fails after the wait when `fail` is set. Changing `value` replaces it
//! when `update_replace` is true; `update_replace_value` always replaces.

use super::wait;
use async_trait::async_trait;
use ember_engine::model::Action;
use ember_engine::resource::{Properties, UpdateRequest};
use ember_engine::schema::{AttributeSchema, Constraint, PropertySchema, PropertyType, TypeSchema};
use ember_engine::{Progress, ResourceContext, ResourceError, ResourceType, Started};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub struct TestResource {
    schema: TypeSchema,
}

impl TestResource {
    pub fn new() -> Self {
        let number = |d: &str| {
            PropertySchema::new(PropertyType::Number, d)
                .default(json!(0))
                .update_allowed()
        };
        let string = |d: &str, default: &str| {
            PropertySchema::new(PropertyType::String, d)
                .default(json!(default))
                .update_allowed()
        };
        let mut properties = BTreeMap::new();
        properties.insert(
            "constraint_prop_secs".into(),
            number("Number value for delay during resolve constraint.")
                .constraint(Constraint::Custom("test_constr".into())),
        );
        properties.insert(
            "attr_wait_secs".into(),
            number("Number value for timeout during resolving output value."),
        );
        properties.insert(
            "value".into(),
            string("The input string to be stored.", "test_string"),
        );
        properties.insert(
            "update_replace_value".into(),
            PropertySchema::new(
                PropertyType::String,
                "Some value that can be stored but can not be updated.",
            ),
        );
        properties.insert(
            "fail".into(),
            PropertySchema::new(
                PropertyType::Boolean,
                "Value which can be set to fail the resource operation to test failure scenarios.",
            )
            .update_allowed()
            .default(json!(false)),
        );
        properties.insert(
            "update_replace".into(),
            PropertySchema::new(
                PropertyType::Boolean,
                "Value which can be set to trigger update replace for the particular resource.",
            )
            .update_allowed()
            .default(json!(false)),
        );
        properties.insert(
            "wait_secs".into(),
            number("Seconds to wait after an action (-1 is infinite)."),
        );
        let action_secs = |d: &str| PropertySchema::new(PropertyType::Number, d).update_allowed();
        properties.insert(
            "action_wait_secs".into(),
            PropertySchema::new(PropertyType::Map, "Options for simulating waiting.")
                .update_allowed()
                .with_keys(vec![
                    (
                        "create",
                        action_secs(
                            "Seconds to wait after a create. Defaults to the global wait_secs.",
                        ),
                    ),
                    (
                        "update",
                        action_secs(
                            "Seconds to wait after an update. Defaults to the global wait_secs.",
                        ),
                    ),
                    (
                        "delete",
                        action_secs(
                            "Seconds to wait after a delete. Defaults to the global wait_secs.",
                        ),
                    ),
                ]),
        );
        properties.insert("client_name".into(), string("Client to poll.", ""));
        properties.insert("entity_name".into(), string("Client entity to poll.", ""));
        let mut attributes = BTreeMap::new();
        attributes.insert(
            "output".into(),
            AttributeSchema::new(
                "The string that was stored. This value is also available by referencing the resource.",
            ),
        );
        TestResource {
            schema: TypeSchema {
                properties,
                attributes,
                description: "A resource which stores the string value that was provided.".into(),
                support_status: "SUPPORTED",
                since_version: Some("5.0.0"),
                accepts_any_property: false,
            },
        }
    }

    /// `action_wait_secs[action]`, else `wait_secs`.
    fn wait_secs(props: &Properties, action: Action) -> f64 {
        let key = action.as_str().to_lowercase();
        props
            .get("action_wait_secs")
            .and_then(|m| m.get(&key))
            .and_then(Value::as_f64)
            .or_else(|| props.get("wait_secs").and_then(Value::as_f64))
            .unwrap_or(0.0)
    }

    /// After the wait: Heat raises `ValueError` when `fail` is set (except while deleting).
    fn progress(cx: &ResourceContext) -> Result<Progress, ResourceError> {
        match wait::progress(cx) {
            Progress::Done if cx.prop_bool("fail") && cx.action != Action::Delete => Err(
                ResourceError::new("ValueError", format!("Test Resource failed {}", cx.name)),
            ),
            p => Ok(p),
        }
    }
}

impl Default for TestResource {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl ResourceType for TestResource {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let mut data = wait::start(Self::wait_secs(&cx.properties, Action::Create));
        let mut physical_id = None;
        if !cx.prop_bool("fail") {
            data.insert(
                "value".into(),
                cx.prop_str("value").unwrap_or_default().to_string(),
            );
            physical_id = Some(cx.physical_resource_name());
        }
        Ok(Started { physical_id, data })
    }

    async fn check_create_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        Self::progress(cx)
    }

    fn needs_replace(&self, changed: &[String], _old: &Properties, new: &Properties) -> bool {
        let value_forces = changed.iter().any(|c| c == "value")
            && new
                .get("update_replace")
                .and_then(Value::as_bool)
                .unwrap_or(false);
        value_forces || changed.iter().any(|c| c == "update_replace_value")
    }

    async fn update(
        &self,
        cx: &ResourceContext,
        req: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        let new_value = cx.prop_str("value").filter(|v| !v.is_empty());
        let value_changed = req.changed.iter().any(|c| c == "value");
        match new_value {
            Some(value) if value_changed => {
                let mut data = wait::start(Self::wait_secs(&cx.properties, Action::Update));
                if !cx.prop_bool("fail") {
                    data.insert("value".into(), value.to_string());
                }
                Ok(Started {
                    physical_id: None,
                    data,
                })
            }
            _ => Ok(Started {
                physical_id: None,
                data: wait::start(0.0),
            }),
        }
    }

    async fn check_update_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        Self::progress(cx)
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        Ok(Started {
            physical_id: None,
            data: wait::start(Self::wait_secs(&cx.properties, Action::Delete)),
        })
    }

    async fn check_delete_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        Self::progress(cx)
    }

    async fn check(&self, cx: &ResourceContext) -> Result<(), ResourceError> {
        match cx.physical_id {
            Some(_) => Ok(()),
            None => Err(ResourceError::new("Exception", "Resource not created")),
        }
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        match name {
            "output" => {
                let secs = cx.prop_f64("attr_wait_secs").unwrap_or(0.0);
                if secs > 0.0 {
                    tokio::time::sleep(std::time::Duration::from_secs_f64(secs.min(3600.0))).await;
                }
                Ok(Some(cx.data.get("value").map_or(Value::Null, |v| json!(v))))
            }
            "show" => Ok(Some(Value::Null)),
            _ => Ok(None),
        }
    }
}
