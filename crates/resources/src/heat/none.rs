//! `OS::Heat::None`: accepts any properties, does nothing, every attribute is `null`, and it is
//! never updated (it stands in for any other type through the resource_registry).

use async_trait::async_trait;
use ember_engine::schema::TypeSchema;
use ember_engine::{ResourceContext, ResourceError, ResourceType, Started};
use serde_json::Value;
use std::collections::BTreeMap;

pub struct NoneResource {
    schema: TypeSchema,
}

impl NoneResource {
    pub fn new() -> Self {
        NoneResource {
            schema: TypeSchema {
                accepts_any_property: true,
                description:
                    "Enables easily disabling certain resources via the resource_registry.".into(),
                support_status: "SUPPORTED",
                since_version: Some("5.0.0"),
                ..TypeSchema::default()
            },
        }
    }
}

impl Default for NoneResource {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl ResourceType for NoneResource {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    async fn create(&self, _cx: &ResourceContext) -> Result<Started, ResourceError> {
        Ok(Started {
            physical_id: Some(uuid::Uuid::new_v4().to_string()),
            data: BTreeMap::from([("is_placeholder".to_string(), "True".to_string())]),
        })
    }

    fn creates_synchronously(&self) -> bool {
        true
    }

    fn needs_update(
        &self,
        _old: &ember_engine::resource::Properties,
        _new: &ember_engine::resource::Properties,
    ) -> bool {
        false
    }

    async fn attribute(
        &self,
        _cx: &ResourceContext,
        _name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        Ok(Some(Value::Null))
    }
}
