//! [`Orchestrator`] for ember-engine's service facade: one `match` from each [`EngineCall`] to
//! the facade method of the same Heat RPC. Query features the facade leaves to the API (stack
//! list filters, sorting and paging; resource and event filters) are applied here to the
//! Heat-shaped JSON it returns.

use async_trait::async_trait;
use ember_engine::service::{
    self, EventQuery, Service, SortDir, StackQuery, StackRequest, StackSortKey,
};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::engine::{
    EngineCall, EngineError, Orchestrator, Params, RequestContext, StackAction, StackRef,
};

fn engine_error(e: ember_engine::EngineError) -> EngineError {
    EngineError::new(e.heat_type(), e.to_string())
}

fn context(ctx: &RequestContext) -> service::RequestContext {
    service::RequestContext {
        project_id: ctx.project_id.clone(),
        username: ctx
            .username
            .clone()
            .or_else(|| ctx.user_id.clone())
            .unwrap_or_default(),
        is_admin: ctx.is_admin,
        auth_token: ctx.auth_token.clone(),
    }
}

fn request(body: Value, existing: bool) -> Result<StackRequest, EngineError> {
    let mut req: StackRequest = body_of(body)?;
    req.existing = existing;
    Ok(req)
}

fn param_str<'a>(params: &'a Params, key: &str) -> Option<&'a str> {
    params.get(key).and_then(Value::as_str)
}

fn param_bool(params: &Params, key: &str) -> bool {
    params.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// `nested_depth` of resource and event lists: 0 (absent) lists the stack alone.
fn nested_depth(params: &Params) -> u32 {
    params
        .get("nested_depth")
        .and_then(Value::as_u64)
        .map_or(0, |d| u32::try_from(d).unwrap_or(u32::MAX))
}

/// The values a filter accepts: one string or a list of strings.
fn accepted(filter: &Value) -> Vec<String> {
    match filter {
        Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Value::String(s) => vec![s.clone()],
        other => vec![other.to_string()],
    }
}

/// Heat matches `status` and `action` filters against the halves of `<ACTION>_<STATUS>`.
fn matches_filter(item: &Value, key: &str, field: &str, wanted: &[String]) -> bool {
    let Some(actual) = item.get(field).and_then(Value::as_str) else {
        return false;
    };
    wanted.iter().any(|w| match key {
        "status" => actual == w || actual.ends_with(&format!("_{w}")),
        "action" => actual.starts_with(&format!("{w}_")),
        _ => actual == w,
    })
}

fn apply_filters(items: &mut Vec<Value>, filters: Option<&Value>, fields: &[(&str, &str)]) {
    let Some(Value::Object(filters)) = filters else {
        return;
    };
    for (key, filter) in filters {
        if let Some((_, field)) = fields.iter().find(|(k, _)| k == key) {
            let wanted = accepted(filter);
            items.retain(|item| matches_filter(item, key, field, &wanted));
        }
    }
}

/// The stacks a list filter accepts, as the store's query fields (Heat's filter names and the
/// `STACK_KEYS` names Heat translates to the same columns).
enum StackFilter {
    Ids,
    Names,
    Statuses,
    Actions,
    Usernames,
    Owners,
    Tenant,
    /// Ember keeps no stack user projects: a filter on one matches nothing.
    StackUserProject,
}

const STACK_FILTERS: &[(&str, StackFilter)] = &[
    ("id", StackFilter::Ids),
    ("name", StackFilter::Names),
    ("stack_name", StackFilter::Names),
    ("status", StackFilter::Statuses),
    ("stack_status", StackFilter::Statuses),
    ("action", StackFilter::Actions),
    ("username", StackFilter::Usernames),
    ("stack_owner", StackFilter::Usernames),
    ("owner_id", StackFilter::Owners),
    ("parent", StackFilter::Owners),
    ("tenant", StackFilter::Tenant),
    ("stack_user_project_id", StackFilter::StackUserProject),
];

/// The ids among `values`; a value that is no uuid names no stack.
fn stack_ids(values: &[String]) -> Vec<Uuid> {
    values
        .iter()
        .filter_map(|v| Uuid::parse_str(v).ok())
        .collect()
}

/// The store query of a stack list request (Heat's filters, tags, sort and paging; the marker
/// is resolved by the caller), or `None` when a filter can match no stack at all.
fn stack_query(params: &Params, project_id: &str) -> Result<Option<StackQuery>, EngineError> {
    let mut query = StackQuery {
        tenant: Some(project_id.to_string()),
        show_deleted: param_bool(params, "show_deleted"),
        show_nested: param_bool(params, "show_nested"),
        limit: params.get("limit").and_then(Value::as_u64),
        sort_dir: if param_str(params, "sort_dir") == Some("asc") {
            SortDir::Asc
        } else {
            SortDir::Desc
        },
        ..StackQuery::default()
    };
    if param_bool(params, "global_tenant") {
        query.tenant = None;
    }
    for key in params.get("sort_keys").map(accepted).unwrap_or_default() {
        let sort_key = StackSortKey::parse(&key).ok_or_else(|| {
            EngineError::new(
                "HTTPBadRequest",
                format!("Sort key \"{key}\" not supported"),
            )
        })?;
        query.sort_keys.push(sort_key);
    }
    let tags = |key| params.get(key).map(accepted).unwrap_or_default();
    query.tags = tags("tags");
    query.tags_any = tags("tags_any");
    query.not_tags = tags("not_tags");
    query.not_tags_any = tags("not_tags_any");
    let filters = params.get("filters").and_then(Value::as_object);
    for (key, filter) in filters.into_iter().flatten() {
        let Some((_, field)) = STACK_FILTERS.iter().find(|(name, _)| name == key) else {
            continue;
        };
        let values = accepted(filter);
        // Several filters on one field must all hold: keep only the values every one allows.
        let narrow = |current: &mut Vec<String>| {
            if current.is_empty() {
                *current = values.clone();
            } else {
                current.retain(|v| values.contains(v));
            }
            !current.is_empty()
        };
        let satisfiable = match field {
            StackFilter::Ids => {
                let ids = stack_ids(&values);
                if query.ids.is_empty() {
                    query.ids = ids;
                } else {
                    query.ids.retain(|id| ids.contains(id));
                }
                !query.ids.is_empty()
            }
            StackFilter::Owners => {
                let ids = stack_ids(&values);
                if query.owner_ids.is_empty() {
                    query.owner_ids = ids;
                } else {
                    query.owner_ids.retain(|id| ids.contains(id));
                }
                // Heat lists top-level stacks only unless `show_nested`, owner filter or not.
                !query.owner_ids.is_empty()
            }
            StackFilter::Names => narrow(&mut query.names),
            StackFilter::Statuses => narrow(&mut query.statuses),
            StackFilter::Actions => narrow(&mut query.actions),
            StackFilter::Usernames => narrow(&mut query.usernames),
            StackFilter::Tenant => match &query.tenant {
                Some(tenant) => values.contains(tenant),
                // A global listing filtered by tenant lists that tenant (the store's query
                // names one tenant, so a filter naming several is not supported: nothing).
                None => {
                    query.tenant = values.first().cloned();
                    values.len() == 1
                }
            },
            StackFilter::StackUserProject => false,
        };
        if !satisfiable {
            return Ok(None);
        }
    }
    Ok(Some(query))
}

/// The facade finds stacks by id; the canonical URL also names the stack, and a name that does
/// not match is "not found", as in Heat.
async fn stack_id(
    svc: &Service,
    cx: &service::RequestContext,
    stack: &StackRef,
) -> Result<String, EngineError> {
    // Deleted stacks too: Heat shows them by their canonical URL; each facade method decides
    // what a deleted stack allows.
    let found = svc
        .lookup(cx, &stack.stack_id, true)
        .await
        .map_err(engine_error)?;
    if found.name != stack.stack_name {
        return Err(EngineError::new(
            "EntityNotFound",
            format!("The Stack ({}) could not be found.", stack.stack_name),
        ));
    }
    Ok(stack.stack_id.clone())
}

fn action(action: StackAction) -> service::StackAction {
    match action {
        StackAction::Suspend => service::StackAction::Suspend,
        StackAction::Resume => service::StackAction::Resume,
        StackAction::Check => service::StackAction::Check,
        StackAction::CancelUpdate => service::StackAction::CancelUpdate,
        StackAction::CancelWithoutRollback => service::StackAction::CancelWithoutRollback,
    }
}

const RESOURCE_FILTER_FIELDS: &[(&str, &str)] = &[
    ("name", "resource_name"),
    ("type", "resource_type"),
    ("status", "resource_status"),
    ("action", "resource_status"),
    ("physical_resource_id", "physical_resource_id"),
];

const EVENT_FILTER_FIELDS: &[(&str, &str)] = &[
    ("resource_status", "resource_status"),
    ("resource_action", "resource_status"),
    ("resource_type", "resource_type"),
];

/// A request body of the facade's type `T`.
fn body_of<T: serde::de::DeserializeOwned>(body: Value) -> Result<T, EngineError> {
    serde_json::from_value(body)
        .map_err(|e| EngineError::new("HTTPBadRequest", format!("Invalid request body: {e}")))
}

/// Heat's "initial template" of a resource type: one parameter per property, the resource
/// taking them all, one output per attribute plus `OS::stack_id`.
fn generate_template(type_name: &str, schema: &Value, hot: bool) -> Value {
    let last = type_name.rsplit("::").next().unwrap_or(type_name);
    // Heat names the resource after its plugin class; `None` is `NoneResource` there.
    let resource = if last == "None" {
        "NoneResource".to_string()
    } else {
        last.to_string()
    };
    let empty = serde_json::Map::new();
    let props = schema
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let attrs = schema
        .get("attributes")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut parameters = serde_json::Map::new();
    let mut properties = serde_json::Map::new();
    for (name, prop) in props {
        let kind = prop.get("type").and_then(Value::as_str).unwrap_or("string");
        let param_type = match (kind.to_ascii_lowercase().as_str(), hot) {
            ("integer" | "number", true) => "number",
            ("boolean", true) => "boolean",
            ("map", true) => "json",
            ("list", true) => "comma_delimited_list",
            (_, true) => "string",
            ("integer" | "number", false) => "Number",
            ("map", false) => "Json",
            ("list", false) => "CommaDelimitedList",
            ("boolean", false) => "Boolean",
            (_, false) => "String",
        };
        let mut param = serde_json::Map::new();
        param.insert(if hot { "type" } else { "Type" }.into(), json!(param_type));
        if let Some(d) = prop.get("description") {
            param.insert(
                if hot { "description" } else { "Description" }.into(),
                d.clone(),
            );
        }
        if let Some(d) = prop.get("default") {
            param.insert(if hot { "default" } else { "Default" }.into(), d.clone());
        }
        parameters.insert(name.clone(), Value::Object(param));
        let reference = if hot {
            json!({"get_param": name})
        } else {
            json!({"Ref": name})
        };
        properties.insert(name.clone(), reference);
    }
    let mut outputs = serde_json::Map::new();
    for (name, attr) in attrs {
        let value = if hot {
            json!({"get_attr": [resource, name]})
        } else {
            json!({"Fn::GetAtt": [resource, name]})
        };
        let mut output = serde_json::Map::new();
        if let Some(d) = attr.get("description") {
            output.insert(
                if hot { "description" } else { "Description" }.into(),
                d.clone(),
            );
        }
        output.insert(if hot { "value" } else { "Value" }.into(), value);
        outputs.insert(name.clone(), Value::Object(output));
    }
    let description = format!("Initial template of {resource}");
    if hot {
        outputs.insert(
            "OS::stack_id".into(),
            json!({"value": {"get_resource": resource}}),
        );
        json!({"heat_template_version": "2016-10-14", "description": description, "parameters": parameters,
               "resources": {resource.clone(): {"type": type_name, "properties": properties}}, "outputs": outputs})
    } else {
        outputs.insert("OS::stack_id".into(), json!({"Value": {"Ref": resource}}));
        json!({"AWSTemplateFormatVersion": "2010-09-09", "Description": description, "Parameters": parameters,
               "Resources": {resource.clone(): {"Type": type_name, "Properties": properties}}, "Outputs": outputs})
    }
}

#[async_trait]
impl Orchestrator for Service {
    async fn call(&self, ctx: &RequestContext, call: EngineCall) -> Result<Value, EngineError> {
        let cx = context(ctx);
        let cx = &cx;
        let done = |r: Result<(), ember_engine::EngineError>| {
            r.map(|()| Value::Null).map_err(engine_error)
        };
        let value = |r: Result<Value, ember_engine::EngineError>| r.map_err(engine_error);
        let list = |r: Result<Vec<Value>, ember_engine::EngineError>| {
            r.map(Value::Array).map_err(engine_error)
        };
        match call {
            EngineCall::IdentifyStack { name_or_id } => {
                value(self.identify_stack(cx, &name_or_id).await)
            }
            EngineCall::ListStacks { params, .. } => {
                let Some(mut query) = stack_query(&params, &ctx.project_id)? else {
                    return Ok(json!({"stacks": [], "count": 0}));
                };
                if let Some(marker) = param_str(&params, "marker") {
                    let identity = value(self.identify_stack(cx, marker).await)?;
                    query.marker = identity["stack_id"]
                        .as_str()
                        .and_then(|id| Uuid::parse_str(id).ok());
                }
                let (stacks, count) = self.list_stacks(cx, query).await.map_err(engine_error)?;
                Ok(json!({"stacks": stacks, "count": count}))
            }
            EngineCall::CreateStack { body } => {
                let req = request(body, false)?;
                let name = req.stack_name.clone().unwrap_or_default();
                let created = self.create_stack(cx, req).await.map_err(engine_error)?;
                Ok(
                    json!({"stack_name": name, "stack_id": created.get("id").cloned().unwrap_or(Value::Null),
                          "tenant": ctx.project_id}),
                )
            }
            EngineCall::PreviewStack { body } => {
                value(self.preview_stack(cx, request(body, false)?).await)
            }
            EngineCall::ShowStack {
                stack,
                resolve_outputs,
            } => {
                let id = stack_id(self, cx, &stack).await?;
                value(self.show_stack(cx, &id, resolve_outputs).await)
            }
            EngineCall::GetTemplate { stack } => value(
                self.get_template(cx, &stack_id(self, cx, &stack).await?)
                    .await,
            ),
            EngineCall::GetEnvironment { stack } => value(
                self.get_environment(cx, &stack_id(self, cx, &stack).await?)
                    .await,
            ),
            EngineCall::GetFiles { stack } => {
                value(self.get_files(cx, &stack_id(self, cx, &stack).await?).await)
            }
            EngineCall::UpdateStack { stack, body, patch } => {
                let id = stack_id(self, cx, &stack).await?;
                value(self.update_stack(cx, &id, request(body, patch)?).await)
            }
            EngineCall::PreviewUpdate {
                stack, body, patch, ..
            } => {
                let id = stack_id(self, cx, &stack).await?;
                value(self.preview_update(cx, &id, request(body, patch)?).await)
            }
            EngineCall::DeleteStack { stack } => done(
                self.delete_stack(cx, &stack_id(self, cx, &stack).await?)
                    .await,
            ),
            EngineCall::AbandonStack { stack } => value(
                self.abandon_stack(cx, &stack_id(self, cx, &stack).await?)
                    .await,
            ),
            EngineCall::ExportStack { stack } => value(
                self.export_stack(cx, &stack_id(self, cx, &stack).await?)
                    .await,
            ),
            EngineCall::Action { stack, action: a } => done(
                self.stack_action(cx, &stack_id(self, cx, &stack).await?, action(a))
                    .await,
            ),
            EngineCall::ListOutputs { stack } => list(
                self.list_outputs(cx, &stack_id(self, cx, &stack).await?)
                    .await,
            ),
            EngineCall::ShowOutput { stack, output_key } => value(
                self.show_output(cx, &stack_id(self, cx, &stack).await?, &output_key)
                    .await,
            ),
            EngineCall::ListResources { stack, params } => {
                let id = stack_id(self, cx, &stack).await?;
                let with_detail = param_bool(&params, "with_detail");
                let mut resources = match nested_depth(&params) {
                    0 => self.list_resources(cx, &id, with_detail).await,
                    depth => {
                        self.list_resources_nested(cx, &id, with_detail, depth)
                            .await
                    }
                }
                .map_err(engine_error)?;
                apply_filters(
                    &mut resources,
                    params.get("filters"),
                    RESOURCE_FILTER_FIELDS,
                );
                Ok(Value::Array(resources))
            }
            EngineCall::ShowResource {
                stack,
                resource,
                with_attr,
            } => value(
                self.show_resource(
                    cx,
                    &stack_id(self, cx, &stack).await?,
                    &resource,
                    &with_attr,
                )
                .await,
            ),
            EngineCall::ResourceMetadata { stack, resource } => value(
                self.resource_metadata(cx, &stack_id(self, cx, &stack).await?, &resource)
                    .await,
            ),
            EngineCall::SignalResource {
                stack,
                resource,
                details,
            } => {
                let id = stack_id(self, cx, &stack).await?;
                self.signal_resource(cx, &id, &resource, details.unwrap_or(Value::Null))
                    .await
                    .map_err(engine_error)?;
                value(self.resource_metadata(cx, &id, &resource).await)
            }
            EngineCall::MarkUnhealthy {
                stack,
                resource,
                mark_unhealthy,
                reason,
            } => {
                let id = stack_id(self, cx, &stack).await?;
                let reason = Some(reason).filter(|r| !r.is_empty());
                done(
                    self.mark_unhealthy(cx, &id, &resource, mark_unhealthy, reason)
                        .await,
                )
            }
            EngineCall::ListEvents {
                stack,
                resource,
                params,
            } => {
                let id = stack_id(self, cx, &stack).await?;
                let filters = params.get("filters");
                let resource_name = resource.or_else(|| {
                    filters
                        .and_then(|f| f.get("resource_name"))
                        .and_then(Value::as_str)
                        .map(str::to_string)
                });
                let query = EventQuery {
                    resource_name,
                    limit: params
                        .get("limit")
                        .and_then(Value::as_u64)
                        .and_then(|l| usize::try_from(l).ok()),
                    marker: param_str(&params, "marker").map(str::to_string),
                    ascending: param_str(&params, "sort_dir") == Some("asc"),
                };
                let mut events = match nested_depth(&params) {
                    0 => self.list_events(cx, &id, &query).await,
                    depth => self.list_events_nested(cx, &id, &query, depth).await,
                }
                .map_err(engine_error)?;
                apply_filters(&mut events, filters, EVENT_FILTER_FIELDS);
                Ok(Value::Array(events))
            }
            EngineCall::ShowEvent {
                stack,
                resource,
                event_id,
            } => self
                .show_event(cx, &stack_id(self, cx, &stack).await?, &resource, &event_id)
                .await
                .map_err(|e| match e {
                    // Heat's API finds the event by filtering the resource's events, so an
                    // unknown event (or resource) is its own HTTPNotFound.
                    ember_engine::EngineError::EventNotFound(_)
                    | ember_engine::EngineError::ResourceNotFound { .. } => {
                        EngineError::new("HTTPNotFound", format!("No event {event_id} found"))
                    }
                    e => engine_error(e),
                }),
            EngineCall::CreateSnapshot { stack, name } => value(
                self.create_snapshot(cx, &stack_id(self, cx, &stack).await?, name)
                    .await,
            ),
            EngineCall::ListSnapshots { stack } => list(
                self.list_snapshots(cx, &stack_id(self, cx, &stack).await?)
                    .await,
            ),
            EngineCall::ShowSnapshot { stack, snapshot_id } => value(
                self.show_snapshot(cx, &stack_id(self, cx, &stack).await?, &snapshot_id)
                    .await,
            ),
            EngineCall::DeleteSnapshot { stack, snapshot_id } => done(
                self.delete_snapshot(cx, &stack_id(self, cx, &stack).await?, &snapshot_id)
                    .await,
            ),
            EngineCall::RestoreSnapshot { stack, snapshot_id } => done(
                self.restore_snapshot(cx, &stack_id(self, cx, &stack).await?, &snapshot_id)
                    .await,
            ),
            EngineCall::ValidateTemplate {
                body, show_nested, ..
            } => value(self.validate_template(&request(body, false)?, show_nested)),
            EngineCall::ListResourceTypes { params } => {
                let name = param_str(&params, "name");
                let types: Vec<Value> = self
                    .list_resource_types()
                    .into_iter()
                    .filter(|t| name.is_none_or(|n| t.contains(n)))
                    .map(Value::String)
                    .collect();
                Ok(Value::Array(types))
            }
            EngineCall::ResourceSchema {
                type_name,
                with_description,
            } => {
                let mut schema = self
                    .resource_type_schema(&type_name)
                    .map_err(engine_error)?;
                // Heat shows the type's description only when asked (`with_description=true`).
                if let (false, Some(map)) = (with_description, schema.as_object_mut()) {
                    map.remove("description");
                }
                Ok(schema)
            }
            EngineCall::ListTemplateVersions => {
                serde_json::to_value(ember_template::template_versions())
                    .map_err(|e| EngineError::new("Error", e.to_string()))
            }
            EngineCall::ListTemplateFunctions {
                version,
                with_condition,
            } => match ember_template::template_functions(&version, with_condition) {
                Some(functions) => serde_json::to_value(functions)
                    .map_err(|e| EngineError::new("Error", e.to_string())),
                None => Err(EngineError::new(
                    "NotFound",
                    format!("Template with version {version} not found"),
                )),
            },
            EngineCall::ListServices => Ok(json!([{
                "binary": "ember-engine",
                "engine_id": self.config().engine_id,
                "status": "up",
                "topic": "engine",
            }])),
            EngineCall::GenerateTemplate {
                type_name,
                template_type,
            } => {
                let schema = self
                    .resource_type_schema(&type_name)
                    .map_err(engine_error)?;
                Ok(generate_template(
                    &type_name,
                    &schema,
                    template_type == "hot",
                ))
            }
            EngineCall::ListSoftwareConfigs { params } => {
                let mut configs = self.list_software_configs(cx).await.map_err(engine_error)?;
                if let Some(marker) = param_str(&params, "marker") {
                    if let Some(i) = configs
                        .iter()
                        .position(|c| c.get("id").and_then(Value::as_str) == Some(marker))
                    {
                        configs.drain(..=i);
                    }
                }
                if let Some(limit) = params.get("limit").and_then(Value::as_u64) {
                    configs.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
                }
                Ok(Value::Array(configs))
            }
            EngineCall::CreateSoftwareConfig { body } => {
                value(self.create_software_config(cx, body_of(body)?).await)
            }
            EngineCall::ShowSoftwareConfig { config_id } => {
                value(self.show_software_config(cx, &config_id).await)
            }
            EngineCall::DeleteSoftwareConfig { config_id } => {
                done(self.delete_software_config(cx, &config_id).await)
            }
            EngineCall::ListSoftwareDeployments { params } => list(
                self.list_software_deployments(cx, param_str(&params, "server_id"))
                    .await,
            ),
            EngineCall::CreateSoftwareDeployment { body } => {
                value(self.create_software_deployment(cx, body_of(body)?).await)
            }
            EngineCall::ShowSoftwareDeployment { deployment_id } => {
                value(self.show_software_deployment(cx, &deployment_id).await)
            }
            EngineCall::UpdateSoftwareDeployment {
                deployment_id,
                body,
            } => value(
                self.update_software_deployment(cx, &deployment_id, body_of(body)?)
                    .await,
            ),
            EngineCall::DeleteSoftwareDeployment { deployment_id } => {
                done(self.delete_software_deployment(cx, &deployment_id).await)
            }
            EngineCall::DeploymentMetadata { server_id } => {
                list(self.deployment_metadata(cx, &server_id).await)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_template_matches_heat_for_os_heat_none() {
        let schema = json!({"properties": {}, "attributes": {"show": {"description": "Detailed information about resource.", "type": "map"}}});
        let heat = serde_json::from_str::<Value>(include_str!(
            "../tests/heat-samples/resource_type_template.json"
        ))
        .unwrap();
        assert_eq!(
            generate_template("OS::Heat::None", &schema, true),
            heat["body"]
        );
        let cfn = generate_template(
            "OS::Heat::RandomString",
            &json!({"properties": {"length": {"type": "integer", "default": 32}}}),
            false,
        );
        assert_eq!(
            cfn["Parameters"]["length"],
            json!({"Type": "Number", "Default": 32})
        );
        assert_eq!(
            cfn["Resources"]["RandomString"]["Properties"]["length"],
            json!({"Ref": "length"})
        );
    }

    #[test]
    fn stack_list_parameters_become_the_store_query() {
        let p = |v: Value| v.as_object().unwrap().clone();
        let id = Uuid::new_v4();
        let query = stack_query(
            &p(
                json!({"sort_dir": "asc", "sort_keys": ["stack_name", "updated_time"], "limit": 2,
                      "tags_any": ["x", "y"], "show_nested": true,
                      "filters": {"status": "FAILED", "stack_status": ["FAILED", "COMPLETE"],
                                  "name": "a", "id": [id.to_string(), "not-a-uuid"],
                                  "tenant": "t1", "unknown": "ignored"}}),
            ),
            "t1",
        )
        .unwrap()
        .unwrap();
        assert_eq!(query.tenant.as_deref(), Some("t1"));
        assert_eq!(query.sort_dir, SortDir::Asc);
        assert_eq!(
            query.sort_keys,
            [StackSortKey::StackName, StackSortKey::UpdatedTime]
        );
        assert_eq!((query.limit, query.show_nested), (Some(2), true));
        assert_eq!(query.tags_any, ["x", "y"]);
        // `status` and `stack_status` name one column: both must hold.
        assert_eq!(query.statuses, ["FAILED"]);
        assert_eq!((query.names, query.ids), (vec!["a".to_string()], vec![id]));
        let defaults = stack_query(&p(json!({})), "t1").unwrap().unwrap();
        assert_eq!(defaults.sort_dir, SortDir::Desc);
        assert!(defaults.sort_keys.is_empty() && !defaults.show_deleted);
        for impossible in [
            json!({"tenant": "t2"}),
            json!({"id": "not-a-uuid"}),
            json!({"status": "FAILED", "stack_status": "COMPLETE"}),
            json!({"stack_user_project_id": "p"}),
        ] {
            assert!(
                stack_query(&p(json!({"filters": impossible})), "t1")
                    .unwrap()
                    .is_none(),
                "{impossible}"
            );
        }
        let global = stack_query(&p(json!({"global_tenant": true})), "t1")
            .unwrap()
            .unwrap();
        assert_eq!(global.tenant, None);
        let bad = stack_query(&p(json!({"sort_keys": ["id"]})), "t1").unwrap_err();
        assert_eq!(bad.heat_type, "HTTPBadRequest");
    }
}
