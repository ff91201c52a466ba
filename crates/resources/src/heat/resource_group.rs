//! `OS::Heat::ResourceGroup`: `count` copies of `resource_def` as the members of a child
//! stack, named "0", "1", ... (skipping names removed by `removal_policies`).
//!
//! The group only generates the child's template; creating, updating and deleting members is
//! the engine's converge of the child, so a count change touches only the members that appear
//! or disappear and a `resource_def` change updates every member in place (or replaces it, as
//! its own type decides). The `update_policy` paces this: `batch_create` creates the members
//! in batches, `rolling_update` updates them in batches (see [`Batching`]).

use super::stack::{members_template, Batching, Members, StackBacked, STACK_ID_ATTR};
use async_trait::async_trait;
use ember_engine::model::Action;
use ember_engine::nested::{ChildLookup, ChildSource, StackHandle};
use ember_engine::resource::{Properties, UpdateRequest};
use ember_engine::schema::{AttributeSchema, Constraint, PropertySchema, PropertyType, TypeSchema};
use ember_engine::{Progress, ResourceContext, ResourceError, ResourceType, Started};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Resource data key: member names removed by `removal_policies` (a JSON list).
const BLACKLIST: &str = "name_blacklist";

pub struct ResourceGroup {
    nested: StackBacked,
    schema: TypeSchema,
}

impl ResourceGroup {
    pub fn new(handle: StackHandle) -> Self {
        let mut properties = BTreeMap::new();
        properties.insert(
            "count".into(),
            PropertySchema::new(PropertyType::Integer, "The number of resources to create.")
                .default(json!(1))
                .update_allowed()
                .constraint(Constraint::Range {
                    min: Some(0.0),
                    max: None,
                }),
        );
        properties.insert(
            "index_var".into(),
            PropertySchema::new(
                PropertyType::String,
                "A variable that this resource will use to replace with the current index of a given resource in the group.",
            )
            .default(json!("%index%"))
            .constraint(Constraint::Length {
                min: Some(3),
                max: None,
            }),
        );
        properties.insert(
            "resource_def".into(),
            PropertySchema::new(
                PropertyType::Map,
                "Resource definition for the resources in the group.",
            )
            .required()
            .update_allowed()
            .with_keys(vec![
                (
                    "type",
                    PropertySchema::new(
                        PropertyType::String,
                        "The type of the resources in the group.",
                    )
                    .required(),
                ),
                (
                    "properties",
                    PropertySchema::new(
                        PropertyType::Map,
                        "Property values for the resources in the group.",
                    ),
                ),
                (
                    "metadata",
                    PropertySchema::new(
                        PropertyType::Map,
                        "Supplied metadata for the resources in the group.",
                    ),
                ),
            ]),
        );
        properties.insert(
            "removal_policies".into(),
            PropertySchema::new(
                PropertyType::List,
                "Policies for removal of resources on update.",
            )
            .default(json!([]))
            .update_allowed(),
        );
        properties.insert(
            "removal_policies_mode".into(),
            PropertySchema::new(
                PropertyType::String,
                "How to handle changes to removal_policies on update.",
            )
            .default(json!("append"))
            .update_allowed()
            .constraint(Constraint::AllowedValues(vec![
                json!("append"),
                json!("update"),
            ])),
        );
        let mut attributes = BTreeMap::new();
        for (name, description) in [
            (
                "refs",
                "A list of resource IDs for the resources in the group.",
            ),
            (
                "refs_map",
                "A map of resource names to IDs for the resources in the group.",
            ),
            (
                "attributes",
                "A map of resource names to the specified attribute of each individual resource.",
            ),
            ("removed_rsrc_list", "A list of removed resource names."),
            (STACK_ID_ATTR, "The nested stack's id."),
        ] {
            attributes.insert(name.into(), AttributeSchema::new(description));
        }
        ResourceGroup {
            nested: StackBacked::new(handle),
            schema: TypeSchema {
                properties,
                attributes,
                description: "Creates one or more identically configured nested resources.".into(),
                support_status: "SUPPORTED",
                since_version: Some("2014.1"),
                accepts_any_property: false,
            },
        }
    }
}

impl Default for ResourceGroup {
    fn default() -> Self {
        Self::new(StackHandle::new())
    }
}

fn count_of(props: &Properties) -> usize {
    props
        .get("count")
        .and_then(Value::as_u64)
        .and_then(|c| usize::try_from(c).ok())
        .unwrap_or(1)
}

fn blacklist_of(cx: &ResourceContext) -> BTreeSet<String> {
    cx.data
        .get(BLACKLIST)
        .and_then(|s| serde_json::from_str::<Vec<String>>(s).ok())
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// The first `count` names "0", "1", ... that are not removed.
pub fn member_names(count: usize, removed: &BTreeSet<String>) -> Vec<String> {
    (0..)
        .map(|i: usize| i.to_string())
        .filter(|n| !removed.contains(n))
        .take(count)
        .collect()
}

/// Replaces the index variable in every string of a value.
fn substitute(value: &Value, index_var: &str, index: &str) -> Value {
    match value {
        Value::String(s) => Value::String(s.replace(index_var, index)),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| substitute(v, index_var, index))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute(v, index_var, index)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The member definitions for the given member names.
fn member_definitions(props: &Properties, names: &[String]) -> Members {
    let def = props.get("resource_def").cloned().unwrap_or(Value::Null);
    let index_var = props
        .get("index_var")
        .and_then(Value::as_str)
        .unwrap_or("%index%");
    let mut members = Vec::with_capacity(names.len());
    for name in names {
        let mut member = Map::new();
        member.insert(
            "type".into(),
            def.get("type").cloned().unwrap_or(Value::Null),
        );
        for key in ["properties", "metadata"] {
            if let Some(v) = def.get(key).filter(|v| !v.is_null()) {
                let v = if key == "properties" {
                    substitute(v, index_var, name)
                } else {
                    v.clone()
                };
                member.insert(key.into(), v);
            }
        }
        members.push((name.clone(), Value::Object(member)));
    }
    members
}

/// The members the group should have: `count` names not removed, from the resource data.
fn target(cx: &ResourceContext) -> Members {
    let names = member_names(count_of(&cx.properties), &blacklist_of(cx));
    member_definitions(&cx.properties, &names)
}

/// The group's pacing for an action: `batch_create` for create, `rolling_update` for update.
fn batching(cx: &ResourceContext, policy: &str) -> Option<Batching> {
    Batching::from_policy(cx.update_policy.get(policy))
}

impl ResourceGroup {
    /// Member names removed by `removal_policies`: names of current members, or members whose
    /// reference id is listed. Mode `update` starts over from the new policies.
    async fn blacklist(
        &self,
        cx: &ResourceContext,
        append: bool,
    ) -> Result<BTreeSet<String>, ResourceError> {
        let mut removed = if append {
            blacklist_of(cx)
        } else {
            BTreeSet::new()
        };
        let wanted: Vec<String> = cx
            .properties
            .get("removal_policies")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("resource_list").and_then(Value::as_array))
            .flatten()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect();
        if wanted.is_empty() {
            return Ok(removed);
        }
        let Some(id) = &cx.physical_id else {
            return Ok(removed);
        };
        let control = self.nested.control()?;
        let members = control.child_members(id).await?;
        let lookups: Vec<ChildLookup> = members.iter().cloned().map(ChildLookup::Ref).collect();
        let refs = control.child_values(id, &lookups).await?;
        for entry in wanted {
            if members.contains(&entry) {
                removed.insert(entry);
            } else if let Some((name, _)) = members
                .iter()
                .zip(&refs)
                .find(|(_, r)| r.as_str() == Some(&entry))
            {
                removed.insert(name.clone());
            }
        }
        Ok(removed)
    }

    fn started(removed: &BTreeSet<String>, started: Started) -> Started {
        let mut data = started.data;
        data.insert(
            BLACKLIST.into(),
            json!(removed.iter().collect::<Vec<_>>()).to_string(),
        );
        Started { data, ..started }
    }
}

#[async_trait]
impl ResourceType for ResourceGroup {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    fn validate(&self, properties: &Properties) -> Result<(), String> {
        for policy in properties
            .get("removal_policies")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !policy.is_object() {
                return Err("removal_policies: each entry must be a map with resource_list".into());
            }
        }
        Ok(())
    }

    /// Heat validates the group by building one member.
    fn child_source(&self, properties: &Properties) -> Option<ChildSource> {
        let one = member_definitions(properties, &["0".to_string()]);
        Some(ChildSource::Inline(members_template(&one).template))
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let removed = self.blacklist(cx, true).await?;
        let names = member_names(count_of(&cx.properties), &removed);
        let members = member_definitions(&cx.properties, &names);
        let started = self
            .nested
            .create_members(cx, &members, batching(cx, "batch_create"))
            .await?;
        Ok(Self::started(&removed, started))
    }

    async fn check_create_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        self.nested
            .members_progress(
                cx,
                Action::Create,
                &target(cx),
                batching(cx, "batch_create"),
            )
            .await
    }

    async fn update(
        &self,
        cx: &ResourceContext,
        _req: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        let append = cx.prop_str("removal_policies_mode") != Some("update");
        let removed = self.blacklist(cx, append).await?;
        let names = member_names(count_of(&cx.properties), &removed);
        let members = member_definitions(&cx.properties, &names);
        let started = self
            .nested
            .update_members(cx, &members, batching(cx, "rolling_update"))
            .await?;
        Ok(Self::started(&removed, started))
    }

    async fn check_update_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        self.nested
            .members_progress(
                cx,
                Action::Update,
                &target(cx),
                batching(cx, "rolling_update"),
            )
            .await
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
        match name {
            "removed_rsrc_list" => Ok(Some(json!(blacklist_of(cx)
                .into_iter()
                .collect::<Vec<_>>()))),
            _ => {
                let names = member_names(count_of(&cx.properties), &blacklist_of(cx));
                self.nested
                    .member_attribute(cx, names, name, path)
                    .await
                    .map(Some)
            }
        }
    }
}
