//! The parts of a stack: events, resources, outputs, snapshots, hooks, failures, and its stored
//! template, environment and files.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use super::{filters_query, sort_items, Ctx};
use crate::cli::{
    EventCommand, EventList, FailuresCommand, HookCommand, MarkCommand, OutputCommand,
    ResourceCommand, SnapshotCommand, StackEnvironmentCommand, StackFileCommand,
    StackTemplateCommand,
};
use crate::client::{text, StackRef};
use crate::error::CliError;
use crate::output::{Cell, Format, Listing, Record};

/// heatclient's `Resource.stack_name`: the stack segment of the resource's `stack` link.
fn link_stack_name(resource: &Value) -> Value {
    resource
        .get("links")
        .and_then(Value::as_array)
        .and_then(|links| {
            links
                .iter()
                .find(|l| l.get("rel").and_then(Value::as_str) == Some("stack"))
        })
        .and_then(|l| l.get("href").and_then(Value::as_str))
        .and_then(|href| href.rsplit('/').nth(1))
        .map_or(Value::Null, |name| Value::String(name.to_owned()))
}

// --- events -----------------------------------------------------------------------------------

/// heatclient's `EventLogContext`: names events `stack.resource` once the stack's own event has
/// been seen, and follows nested stacks through the resources that created them.
#[derive(Default)]
pub struct EventNames {
    /// stack id → the dotted path that names it.
    paths: HashMap<String, String>,
}

fn event_stack_id(event: &Value) -> Option<String> {
    if let Some(id) = event.get("stack_id").and_then(Value::as_str) {
        return Some(id.to_owned());
    }
    event
        .get("links")?
        .as_array()?
        .iter()
        .find(|l| l.get("rel").and_then(Value::as_str) == Some("stack"))
        .and_then(|l| l.get("href").and_then(Value::as_str))
        .and_then(|href| href.rsplit('/').next())
        .map(str::to_owned)
}

impl EventNames {
    pub fn name(&mut self, event: &Value) -> String {
        let resource = text(event, "resource_name");
        let Some(stack_id) = event_stack_id(event) else {
            return resource;
        };
        let physical = text(event, "physical_resource_id");
        if physical == stack_id {
            let path = self.paths.entry(stack_id).or_insert(resource).clone();
            return path;
        }
        let path = match self.paths.get(&stack_id) {
            Some(parent) => format!("{parent}.{resource}"),
            None => resource,
        };
        if !physical.is_empty() && text(event, "resource_status") == "CREATE_IN_PROGRESS" {
            self.paths.entry(physical).or_insert_with(|| path.clone());
        }
        path
    }

    /// heatclient's `event_log_formatter` line.
    pub fn log_line(&mut self, event: &Value) -> String {
        format!(
            "{} {} [{}]: {}  {}",
            text(event, "event_time").replace('T', " "),
            text(event, "id"),
            self.name(event),
            text(event, "resource_status"),
            text(event, "resource_status_reason")
        )
    }
}

pub async fn event(ctx: &mut Ctx, command: EventCommand) -> Result<(), CliError> {
    match command {
        EventCommand::List(args) => event_list(ctx, args).await,
        EventCommand::Show {
            stack,
            resource,
            event,
            format,
        } => {
            let stack = ctx.find_stack(&stack).await?;
            let data = ctx.heat.event_show(&stack, &resource, &event).await?;
            let mut record = Record::from_object(&data);
            for (name, cell) in &mut record.fields {
                let value = std::mem::replace(cell, Cell::Raw(Value::Null));
                let Cell::Raw(value) = value else { continue };
                *cell = match name.as_str() {
                    "links" => Cell::Links(value),
                    "resource_properties" => Cell::Json(value),
                    _ => Cell::Raw(value),
                };
            }
            format.print_one(&mut ctx.out, Format::Table, record)
        }
    }
}

async fn event_list(ctx: &mut Ctx, args: EventList) -> Result<(), CliError> {
    if args.resource.is_some() && args.nested_depth.is_some_and(|d| d > 0) {
        return Err(CliError::Command(
            "--nested-depth cannot be specified with --resource".into(),
        ));
    }
    let stack = ctx.find_stack(&args.stack).await?;
    let mut columns = vec![
        "id",
        "resource_status",
        "resource_status_reason",
        "event_time",
        "physical_resource_id",
    ];
    let mut query = filters_query(&args.filter)?;
    let mut sort_dir = "asc".to_owned();
    let mut sorts = Vec::new();
    let mut sort_keys = Vec::new();
    for sort in &args.sort {
        match sort.strip_prefix(':') {
            Some(dir) => sorts.push(format!("event_time:{dir}")),
            None => {
                sorts.push(sort.clone());
                sort_keys.push(sort.split(':').next().unwrap_or("").to_owned());
            }
        }
    }
    if let Some((_, dir)) = args.sort.first().and_then(|s| s.split_once(':')) {
        sort_dir = dir.to_owned();
    }
    query.extend(
        sort_keys
            .iter()
            .map(|k| ("sort_keys".to_owned(), k.clone())),
    );
    query.push(("sort_dir".into(), sort_dir));
    let nested_depth = args.nested_depth.unwrap_or(0);
    if nested_depth > 0 {
        columns.push("stack_name");
        query.push(("nested_depth".into(), nested_depth.to_string()));
    }
    let format = args.format.format_or(Format::Log);

    if args.follow {
        if format != Format::Log {
            return Err(CliError::Command(
                "--follow can only be specified with --format log".into(),
            ));
        }
        let mut names = EventNames::default();
        let mut marker = args.marker.clone();
        loop {
            let mut q = query.clone();
            if let Some(m) = &marker {
                q.push(("marker".into(), m.clone()));
            }
            let events = ctx
                .heat
                .event_list(&stack, args.resource.as_deref(), q)
                .await?;
            if let Some(last) = events.last() {
                marker = Some(text(last, "id"));
                let lines: Vec<String> = events.iter().map(|e| names.log_line(e)).collect();
                writeln!(ctx.out, "{}", lines.join("\n"))?;
                ctx.out.flush()?;
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    }

    if let Some(m) = &args.marker {
        query.push(("marker".into(), m.clone()));
    }
    if let Some(limit) = args.limit {
        query.push(("limit".into(), limit.to_string()));
    }
    let mut events = ctx
        .heat
        .event_list(&stack, args.resource.as_deref(), query)
        .await?;
    // Events of nested stacks say which stack they come from.
    for event in &mut events {
        let from_links = event
            .get("links")
            .and_then(Value::as_array)
            .and_then(|links| {
                links
                    .iter()
                    .find(|l| l.get("rel").and_then(Value::as_str) == Some("stack"))
            })
            .and_then(|l| l.get("href").and_then(Value::as_str))
            .and_then(|href| href.split_once("/stacks/"))
            .and_then(|(_, rest)| rest.split('/').next())
            .map(str::to_owned);
        if let Some(object) = event.as_object_mut() {
            object.insert(
                "stack_name".into(),
                Value::String(from_links.unwrap_or_else(|| stack.name.clone())),
            );
        }
    }
    if !sorts.is_empty() {
        sort_items(&mut events, &sorts.join(","))?;
    }
    if format == Format::Log {
        let mut names = EventNames::default();
        let lines: Vec<String> = events.iter().map(|e| names.log_line(e)).collect();
        writeln!(ctx.out, "{}", lines.join("\n"))?;
        return Ok(());
    }
    if let Some(first) = events.first() {
        if first.get("resource_name").is_some() {
            columns.insert(0, "resource_name");
            columns.push("logical_resource_id");
        } else {
            columns.insert(0, "logical_resource_id");
        }
    }
    let listing = Listing::from_objects(&columns, &events);
    args.format.print_list(&mut ctx.out, Format::Log, listing)
}

// --- resources --------------------------------------------------------------------------------

pub async fn resource(ctx: &mut Ctx, command: ResourceCommand) -> Result<(), CliError> {
    match command {
        ResourceCommand::List {
            stack,
            long,
            nested_depth,
            filter,
            format,
        } => {
            let stack_ref = ctx.find_stack(&stack).await?;
            let mut query = filters_query(&filter)?;
            if let Some(depth) = nested_depth.filter(|d| *d > 0) {
                query.push(("nested_depth".into(), depth.to_string()));
            }
            if long {
                query.push(("with_detail".into(), "True".into()));
            }
            let mut resources = ctx.heat.resource_list(&stack_ref, query).await?;
            for resource in &mut resources {
                let name = link_stack_name(resource);
                if let Some(object) = resource.as_object_mut() {
                    object.insert("stack_name".into(), name);
                }
            }
            let mut columns = vec![
                "physical_resource_id",
                "resource_type",
                "resource_status",
                "updated_time",
            ];
            match resources.first() {
                Some(first) if first.get("resource_name").is_none() => {
                    columns.insert(0, "logical_resource_id")
                }
                _ => columns.insert(0, "resource_name"),
            }
            if nested_depth.is_some_and(|d| d > 0) || long {
                columns.push("stack_name");
            }
            let listing = Listing::from_objects(&columns, &resources);
            format.print_list(&mut ctx.out, Format::Table, listing)
        }
        ResourceCommand::Show {
            stack,
            resource,
            with_attr,
            format,
        } => {
            let not_found =
                || CliError::Command(format!("Stack or resource not found: {stack} {resource}"));
            let stack_ref = ctx.find_stack(&stack).await.map_err(|_| not_found())?;
            let data = ctx
                .heat
                .resource_show(&stack_ref, &resource, &with_attr)
                .await
                .map_err(|e| if e.is_not_found() { not_found() } else { e })?;
            format.print_one(&mut ctx.out, Format::Table, Record::from_object(&data))
        }
        ResourceCommand::Metadata {
            stack,
            resource,
            format,
        } => {
            let not_found =
                || CliError::Command(format!("Stack {stack} or resource {resource} not found."));
            let stack_ref = ctx.find_stack(&stack).await.map_err(|_| not_found())?;
            let metadata = ctx
                .heat
                .resource_metadata(&stack_ref, &resource)
                .await
                .map_err(|e| if e.is_not_found() { not_found() } else { e })?;
            format.print_one(&mut ctx.out, Format::Json, Record::from_object(&metadata))
        }
        ResourceCommand::Signal {
            stack,
            resource,
            data,
            data_file,
        } => {
            if data.is_some() && data_file.is_some() {
                return Err(CliError::Command(
                    "Should only specify one of data or data-file".into(),
                ));
            }
            let raw = match (&data, &data_file) {
                (Some(d), _) => Some(d.clone()),
                (_, Some(path)) => Some(
                    std::fs::read_to_string(path)
                        .map_err(|e| CliError::io(format!("cannot read {}", path.display()), e))?,
                ),
                _ => None,
            };
            let body = match raw {
                Some(text) => {
                    let value: Value = serde_json::from_str(&text).map_err(|e| {
                        CliError::Command(format!("Data should be in JSON format: {e}"))
                    })?;
                    if !value.is_object() {
                        return Err(CliError::Command("Data should be a JSON dict".into()));
                    }
                    Some(value)
                }
                None => None,
            };
            let not_found =
                || CliError::Command(format!("Stack {stack} or resource {resource} not found."));
            let stack_ref = ctx.find_stack(&stack).await.map_err(|_| not_found())?;
            ctx.heat
                .resource_signal(&stack_ref, &resource, body)
                .await
                .map_err(|e| if e.is_not_found() { not_found() } else { e })
        }
        ResourceCommand::Mark(MarkCommand::Unhealthy {
            stack,
            resource,
            reason,
            reset,
        }) => {
            let not_found =
                || CliError::Command(format!("Stack or resource not found: {stack} {resource}"));
            let stack_ref = ctx.find_stack(&stack).await.map_err(|_| not_found())?;
            ctx.heat
                .resource_mark_unhealthy(&stack_ref, &resource, !reset, &reason)
                .await
                .map_err(|e| if e.is_not_found() { not_found() } else { e })
        }
    }
}

// --- outputs ----------------------------------------------------------------------------------

pub async fn output(ctx: &mut Ctx, command: OutputCommand) -> Result<(), CliError> {
    match command {
        OutputCommand::List { stack, format } => {
            let stack = ctx.find_stack(&stack).await?;
            let outputs = ctx.heat.output_list(&stack).await?;
            let listing = Listing::from_objects(&["output_key", "description"], &outputs);
            format.print_list(&mut ctx.out, Format::Table, listing)
        }
        OutputCommand::Show {
            stack,
            output,
            all,
            format,
        } => {
            let key = match (all, output) {
                (false, None) => {
                    return Err(CliError::Command(
                        "Either <OUTPUT NAME> or --all must be specified.".into(),
                    ))
                }
                (true, Some(_)) => {
                    return Err(CliError::Command(
                        "Cannot specify both <OUTPUT NAME> and --all.".into(),
                    ))
                }
                (_, key) => key,
            };
            let stack_ref = ctx.find_stack(&stack).await?;
            let Some(key) = key else {
                let data = ctx.heat.stack_show(&stack_ref, true).await?;
                let outputs = data
                    .get("outputs")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let record = Record {
                    fields: outputs
                        .into_iter()
                        .map(|o| (text(&o, "output_key"), Cell::Json(o)))
                        .collect(),
                };
                return format.print_one(&mut ctx.out, Format::Table, record);
            };
            let data = ctx.heat.output_show(&stack_ref, &key).await.map_err(|e| {
                if e.is_not_found() {
                    CliError::Command(format!("Stack {stack} or output {key} not found."))
                } else {
                    e
                }
            })?;
            if let Some(error) = data.get("output_error") {
                return Err(CliError::Command(format!(
                    "Output error: {}",
                    crate::output::python::str_of(error)
                )));
            }
            format.print_one(&mut ctx.out, Format::Table, Record::from_object(&data))
        }
    }
}

// --- snapshots --------------------------------------------------------------------------------

pub async fn snapshot(ctx: &mut Ctx, command: SnapshotCommand) -> Result<(), CliError> {
    match command {
        SnapshotCommand::Create {
            stack,
            name,
            format,
        } => {
            let stack = ctx.find_stack(&stack).await?;
            let data = ctx.heat.snapshot_create(&stack, name.as_deref()).await?;
            let record = Record::from_columns(
                &[
                    "ID",
                    "name",
                    "action",
                    "status",
                    "status_reason",
                    "data",
                    "creation_time",
                ],
                &data,
            );
            format.print_one(&mut ctx.out, Format::Table, record)
        }
        SnapshotCommand::List { stack, format } => {
            let stack = ctx.find_stack(&stack).await?;
            let snapshots = ctx.heat.snapshot_list(&stack).await?;
            let listing = Listing::from_objects(
                &[
                    "id",
                    "name",
                    "action",
                    "status",
                    "status_reason",
                    "creation_time",
                ],
                &snapshots,
            );
            format.print_list(&mut ctx.out, Format::Table, listing)
        }
        SnapshotCommand::Show {
            stack,
            snapshot,
            format,
        } => {
            let stack_ref = ctx.find_stack(&stack).await?;
            let data = ctx
                .heat
                .snapshot_show(&stack_ref, &snapshot)
                .await
                .map_err(|e| snapshot_not_found(e, &stack, &snapshot))?;
            format.print_one(&mut ctx.out, Format::Yaml, Record::from_object(&data))
        }
        SnapshotCommand::Restore { stack, snapshot } => {
            let stack_ref = ctx.find_stack(&stack).await?;
            ctx.heat
                .snapshot_restore(&stack_ref, &snapshot)
                .await
                .map_err(|e| {
                    if e.is_not_found() {
                        CliError::Command(format!(
                            "Stack {stack} or snapshot {snapshot} not found."
                        ))
                    } else {
                        e
                    }
                })?;
            if ctx.in_process() {
                ctx.settle(&stack_ref, Some("RESTORE"), None, false, None)
                    .await?;
            }
            Ok(())
        }
        SnapshotCommand::Delete {
            stack,
            snapshot,
            yes,
        } => {
            if !yes
                && !super::confirm(
                    "Are you sure you want to delete the snapshot of this stack [Y/N]?",
                )
            {
                return Ok(());
            }
            let stack_ref = ctx.find_stack(&stack).await?;
            ctx.heat
                .snapshot_delete(&stack_ref, &snapshot)
                .await
                .map_err(|e| snapshot_not_found(e, &stack, &snapshot))
        }
    }
}

fn snapshot_not_found(e: CliError, stack: &str, snapshot: &str) -> CliError {
    if e.is_not_found() {
        CliError::Command(format!(
            "Snapshot ID <{snapshot}> not found for stack <{stack}>"
        ))
    } else {
        e
    }
}

// --- stored template, environment, files ------------------------------------------------------

pub async fn template_show(ctx: &mut Ctx, command: StackTemplateCommand) -> Result<(), CliError> {
    let StackTemplateCommand::Show { stack, format } = command;
    let stack = ctx.find_stack(&stack).await?;
    let template = ctx.heat.stack_part(&stack, "template").await?;
    // OSC keeps the sections in the API's (the template's) order; only the YAML of each
    // section's value has its keys sorted (the golden files of tests/osc_output.rs show it).
    format.print_one(&mut ctx.out, Format::Yaml, Record::from_object(&template))
}

pub async fn environment_show(
    ctx: &mut Ctx,
    command: StackEnvironmentCommand,
) -> Result<(), CliError> {
    let StackEnvironmentCommand::Show { stack, format } = command;
    let stack = ctx.find_stack(&stack).await?;
    let env = ctx.heat.stack_part(&stack, "environment").await?;
    let record = Record {
        fields: ["parameters", "resource_registry", "parameter_defaults"]
            .iter()
            .filter_map(|k| env.get(*k).map(|v| (k.to_string(), Cell::Raw(v.clone()))))
            .collect(),
    };
    format.print_one(&mut ctx.out, Format::Yaml, record)
}

pub async fn file_list(ctx: &mut Ctx, command: StackFileCommand) -> Result<(), CliError> {
    let StackFileCommand::List { stack, format } = command;
    let stack = ctx.find_stack(&stack).await?;
    let files = ctx.heat.stack_part(&stack, "files").await?;
    let record = Record {
        fields: vec![("files".into(), Cell::Raw(files))],
    };
    format.print_one(&mut ctx.out, Format::Yaml, record)
}

// --- hooks ------------------------------------------------------------------------------------

/// heatclient's `get_hook_type_via_status`.
async fn hook_type(ctx: &Ctx, stack: &StackRef) -> Result<&'static str, CliError> {
    let data = ctx.heat.stack_show(stack, false).await?;
    let status = text(&data, "stack_status");
    match status.as_str() {
        "CREATE_IN_PROGRESS" => Ok("pre-create"),
        "UPDATE_IN_PROGRESS" => Ok("pre-update"),
        "DELETE_IN_PROGRESS" => Ok("pre-delete"),
        _ => Err(CliError::Command(format!(
            "Unexpected stack status {status}, only create, update and delete have associated \
             hooks"
        ))),
    }
}

/// The action of a `pre-` hook and its `post-` hook (heatclient knows only the former; Ember
/// also lists and clears the latter, which the engine pauses on as Heat's does).
fn hook_action(pre_hook: &str) -> (&'static str, String) {
    let action = match pre_hook {
        "pre-create" => "CREATE",
        "pre-update" => "UPDATE",
        _ => "DELETE",
    };
    let post_hook = format!("post-{}", action.to_lowercase());
    (action, post_hook)
}

/// The hook a `<ACTION> paused until Hook <hook> is cleared` reason names.
fn paused_hook(reason: &str) -> Option<&str> {
    reason
        .split_once(" paused until Hook ")?
        .1
        .strip_suffix(" is cleared")
}

pub async fn hook(ctx: &mut Ctx, command: HookCommand) -> Result<(), CliError> {
    match command {
        HookCommand::Poll {
            stack,
            nested_depth,
            format,
        } => {
            let stack_ref = ctx.find_stack(&stack).await?;
            let hook = hook_type(ctx, &stack_ref).await?;
            let (action, post_hook) = hook_action(hook);
            let started = format!("Stack {action} started");
            let hooks = [hook, post_hook.as_str()];
            let depth = nested_depth.unwrap_or(0);
            let mut query = vec![("sort_dir".to_owned(), "asc".to_owned())];
            if depth > 0 {
                query.push(("nested_depth".into(), depth.to_string()));
            }
            let events = ctx.heat.event_list(&stack_ref, None, query).await?;
            let start = events
                .iter()
                .rposition(|e| {
                    text(e, "resource_status_reason") == started
                        && text(e, "resource_name") == stack_ref.name
                })
                .unwrap_or(0);
            let mut pending: Vec<(String, Value)> = Vec::new();
            for event in &events[start..] {
                let resource = format!(
                    "{}/{}",
                    event_stack_id(event).unwrap_or_default(),
                    text(event, "resource_name")
                );
                let reason = text(event, "resource_status_reason");
                if let Some(paused) = paused_hook(&reason).filter(|h| hooks.contains(h)) {
                    let key = format!("{resource}/{paused}");
                    pending.retain(|(k, _)| *k != key);
                    pending.push((key, event.clone()));
                } else if let Some(cleared) = reason
                    .strip_prefix("Hook ")
                    .and_then(|r| r.strip_suffix(" is cleared"))
                {
                    let key = format!("{resource}/{cleared}");
                    pending.retain(|(k, _)| *k != key);
                }
            }
            let mut columns = vec![
                "ID",
                "Resource Status Reason",
                "Resource Status",
                "Event Time",
            ];
            if depth > 0 {
                columns.push("Stack Name");
            }
            let events: Vec<Value> = pending.into_iter().map(|(_, e)| e).collect();
            if let Some(first) = events.first() {
                columns.insert(
                    0,
                    if first.get("resource_name").is_some() {
                        "Resource Name"
                    } else {
                        "Logical Resource ID"
                    },
                );
            }
            let listing = Listing::from_objects(&columns, &events);
            format.print_list(&mut ctx.out, Format::Table, listing)
        }
        HookCommand::Clear {
            stack,
            pre_create,
            pre_update,
            pre_delete,
            hooks,
        } => {
            let stack_ref = ctx.find_stack(&stack).await?;
            let hook = if pre_create {
                HookChoice::Given("pre-create")
            } else if pre_update {
                HookChoice::Given("pre-update")
            } else if pre_delete {
                HookChoice::Given("pre-delete")
            } else {
                HookChoice::Pending(hook_type(ctx, &stack_ref).await?)
            };
            for declaration in &hooks {
                let parts: Vec<&str> = declaration.split('/').filter(|p| !p.is_empty()).collect();
                clear_hooks(ctx, &stack_ref, &parts, hook).await?;
            }
            Ok(())
        }
    }
}

/// Which hook `hook clear` clears.
#[derive(Debug, Clone, Copy)]
enum HookChoice {
    /// The one a `--pre-*` flag names.
    Given(&'static str),
    /// Without a flag: the hook a resource is paused on (its status reason names it, which is
    /// how a `post-*` hook is cleared), else heatclient's choice from the stack status.
    Pending(&'static str),
}

/// heatclient's `clear_wildcard_hooks`: walk nested stacks matching each path part (with `*`/`?`
/// wildcards) and signal `unset_hook` on the matching resources.
async fn clear_hooks(
    ctx: &Ctx,
    stack: &StackRef,
    parts: &[&str],
    hook: HookChoice,
) -> Result<(), CliError> {
    let Some((first, rest)) = parts.split_first() else {
        return Ok(());
    };
    let resources = ctx.heat.resource_list(stack, Vec::new()).await?;
    for resource in resources {
        let name = text(&resource, "resource_name");
        if !glob_match(first, &name) {
            continue;
        }
        if rest.is_empty() {
            let reason = text(&resource, "resource_status_reason");
            let hook = match hook {
                HookChoice::Given(hook) => hook,
                HookChoice::Pending(by_status) => paused_hook(&reason).unwrap_or(by_status),
            };
            ctx.heat
                .resource_signal(stack, &name, Some(json!({"unset_hook": hook})))
                .await?;
        } else {
            let nested_id = text(&resource, "physical_resource_id");
            if nested_id.is_empty() {
                continue;
            }
            let nested = ctx.heat.stack_ref(&nested_id).await?;
            Box::pin(clear_hooks(ctx, &nested, rest, hook)).await?;
        }
    }
    Ok(())
}

/// Python's `fnmatch` for `*` and `?`.
fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            backtrack = Some((pi, ni));
            pi += 1;
        } else if let Some((bp, bn)) = backtrack {
            pi = bp + 1;
            ni = bn + 1;
            backtrack = Some((bp, bn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

// --- failures ---------------------------------------------------------------------------------

pub async fn failures(ctx: &mut Ctx, command: FailuresCommand) -> Result<(), CliError> {
    let FailuresCommand::List { stack, long } = command;
    let stack_ref = ctx.find_stack(&stack).await?;
    let data = ctx.heat.stack_show(&stack_ref, false).await?;
    if !text(&data, "stack_status").ends_with("FAILED") {
        return Ok(());
    }
    let mut failed: Vec<(String, Value)> = Vec::new();
    collect_failures(ctx, &stack_ref, vec![stack_ref.name.clone()], &mut failed).await?;
    for (path, resource) in failed {
        let reason = text(&resource, "resource_status_reason");
        let mut lines: Vec<&str> = reason.lines().collect();
        let mut prefix = Vec::new();
        if !long && lines.len() > 10 {
            lines = lines.split_off(lines.len() - 10);
            prefix.push("...");
        }
        let indented: Vec<String> = prefix
            .into_iter()
            .chain(lines)
            .map(|l| format!("    {l}"))
            .collect();
        write!(
            ctx.out,
            "{path}:\n  resource_type: {}\n  physical_resource_id: {}\n  status: {}\n  status_reason: |\n{}\n",
            text(&resource, "resource_type"),
            text(&resource, "physical_resource_id"),
            text(&resource, "resource_status"),
            indented.join("\n")
        )?;
    }
    Ok(())
}

/// Failed resources, descending into failed nested stacks; a nested stack resource is listed
/// itself only when nothing inside it failed.
async fn collect_failures(
    ctx: &Ctx,
    stack: &StackRef,
    path: Vec<String>,
    out: &mut Vec<(String, Value)>,
) -> Result<bool, CliError> {
    let resources = ctx.heat.resource_list(stack, Vec::new()).await?;
    let mut appended = false;
    for resource in resources {
        if !text(&resource, "resource_status").ends_with("FAILED") {
            continue;
        }
        let mut next = path.clone();
        next.push(text(&resource, "resource_name"));
        let is_nested = resource
            .get("links")
            .and_then(Value::as_array)
            .is_some_and(|links| {
                links
                    .iter()
                    .any(|l| l.get("rel").and_then(Value::as_str) == Some("nested"))
            });
        let mut nested_appended = false;
        if is_nested {
            if let Ok(nested) = ctx
                .heat
                .stack_ref(&text(&resource, "physical_resource_id"))
                .await
            {
                nested_appended =
                    Box::pin(collect_failures(ctx, &nested, next.clone(), out)).await?;
            }
        }
        if !nested_appended {
            out.push((next.join("."), resource));
        }
        appended = true;
    }
    Ok(appended)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_like_fnmatch() {
        assert!(glob_match("*_resource", "my_resource"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a*d", "abc"));
        assert!(glob_match("*", ""));
    }

    #[test]
    fn event_names_follow_the_stack_event() {
        let mut names = EventNames::default();
        let link =
            |id: &str| json!([{"rel": "stack", "href": format!("http://h/v1/t/stacks/s/{id}")}]);
        let stack_event = json!({"resource_name": "s", "physical_resource_id": "S1", "links": link("S1"),
            "resource_status": "CREATE_IN_PROGRESS"});
        let res_event = json!({"resource_name": "r", "physical_resource_id": "", "links": link("S1"),
            "resource_status": "CREATE_IN_PROGRESS"});
        assert_eq!(names.name(&res_event), "r");
        assert_eq!(names.name(&stack_event), "s");
        assert_eq!(names.name(&res_event), "s.r");
    }
}
