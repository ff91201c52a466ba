//! `OS::Heat::ResourceChain`: one member per type in `resources`, named "0", "1", ... in a
//! child stack, each depending on the one before unless `concurrent`; every member gets
//! `resource_properties`.

use super::stack::{StackBacked, STACK_ID_ATTR};
use async_trait::async_trait;
use ember_engine::model::Action;
use ember_engine::nested::{ChildSource, ChildTemplate, StackHandle};
use ember_engine::resource::{Properties, UpdateRequest};
use ember_engine::schema::{AttributeSchema, PropertySchema, PropertyType, TypeSchema};
use ember_engine::{Progress, ResourceContext, ResourceError, ResourceType, Started};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub struct ResourceChain {
    nested: StackBacked,
    schema: TypeSchema,
}

impl ResourceChain {
    pub fn new(handle: StackHandle) -> Self {
        let mut properties = BTreeMap::new();
        properties.insert(
            "resources".into(),
            PropertySchema::new(PropertyType::List, "The list of resource types to create.")
                .required()
                .update_allowed()
                .with_items(PropertySchema::new(PropertyType::String, "Resource type.")),
        );
        properties.insert(
            "concurrent".into(),
            PropertySchema::new(
                PropertyType::Boolean,
                "If true, the resources in the chain will be created concurrently.",
            )
            .default(json!(false)),
        );
        properties.insert(
            "resource_properties".into(),
            PropertySchema::new(
                PropertyType::Map,
                "Properties to pass to each resource being created in the chain.",
            )
            .update_allowed(),
        );
        let mut attributes = BTreeMap::new();
        for (name, description) in [
            (
                "refs",
                "A list of resource IDs for the resources in the chain.",
            ),
            (
                "refs_map",
                "A map of resource names to IDs for the resources in the chain.",
            ),
            (
                "attributes",
                "A map of resource names to the specified attribute of each individual resource.",
            ),
            (STACK_ID_ATTR, "The nested stack's id."),
        ] {
            attributes.insert(name.into(), AttributeSchema::new(description));
        }
        ResourceChain {
            nested: StackBacked::new(handle),
            schema: TypeSchema {
                properties,
                attributes,
                description:
                    "Creates one or more resources of the listed types, one after the other.".into(),
                support_status: "SUPPORTED",
                since_version: Some("6.0.0"),
                accepts_any_property: false,
            },
        }
    }

    fn member_names(props: &Properties) -> Vec<String> {
        let n = props
            .get("resources")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        (0..n).map(|i| i.to_string()).collect()
    }

    fn template(props: &Properties) -> ChildTemplate {
        let concurrent = props
            .get("concurrent")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let member_properties = props.get("resource_properties").filter(|v| !v.is_null());
        let mut resources = Map::new();
        for (i, type_name) in props
            .get("resources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let mut member = Map::new();
            member.insert("type".into(), type_name.clone());
            if let Some(p) = member_properties {
                member.insert("properties".into(), p.clone());
            }
            if i > 0 && !concurrent {
                member.insert("depends_on".into(), json!((i - 1).to_string()));
            }
            resources.insert(i.to_string(), Value::Object(member));
        }
        ChildTemplate {
            template: json!({"heat_template_version": "2015-04-30", "resources": resources}),
            parameters: Map::new(),
        }
    }
}

#[async_trait]
impl ResourceType for ResourceChain {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    fn child_source(&self, properties: &Properties) -> Option<ChildSource> {
        Some(ChildSource::Inline(Self::template(properties).template))
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        self.nested.create(cx, Self::template(&cx.properties)).await
    }

    async fn check_create_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        self.nested.progress(cx, Action::Create).await
    }

    async fn update(
        &self,
        cx: &ResourceContext,
        _req: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        self.nested.update(cx, Self::template(&cx.properties)).await
    }

    async fn check_update_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        self.nested.progress(cx, Action::Update).await
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        self.nested.delete(cx).await
    }

    async fn check_delete_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        self.nested.progress(cx, Action::Delete).await
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        self.attribute_with_path(cx, name, &[]).await
    }

    async fn attribute_with_path(
        &self,
        cx: &ResourceContext,
        name: &str,
        path: &[Value],
    ) -> Result<Option<Value>, ResourceError> {
        if let Some(value) = StackBacked::group_own_attribute(cx, name) {
            return Ok(Some(value));
        }
        self.nested
            .member_attribute(cx, Self::member_names(&cx.properties), name, path)
            .await
            .map(Some)
    }
}
