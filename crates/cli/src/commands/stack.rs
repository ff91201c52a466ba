//! `stack create|update|delete|list|show|suspend|resume|check|cancel|abandon|export|adopt`.

use serde_json::{Map, Value};

use super::{failure, filters_query, sort_items, Ctx};
use crate::cli::{
    Rollback, StackAbandon, StackAction, StackAdopt, StackCancel, StackCreate, StackDelete,
    StackList, StackShow, StackUpdate,
};
use crate::client::{text, StackRef};
use crate::error::CliError;
use crate::files::{all_parameters, format_parameters, hooks_environment, StackFiles};
use crate::output::python::{json_dumps, JsonStyle};
use crate::output::{Cell, Format, FormatArgs, Listing, Record};
use crate::wait;

/// heatclient's `_show_stack`: the fixed leading columns, then (unless `short`) parameters,
/// outputs, links and every other key but `template_description`. In tables the complex values
/// print as YAML.
pub async fn show_stack(
    ctx: &mut Ctx,
    stack: &StackRef,
    format: &FormatArgs,
    short: bool,
    resolve_outputs: bool,
) -> Result<(), CliError> {
    let resolve = !short && resolve_outputs;
    let data = ctx.heat.stack_show(stack, resolve).await?;
    let mut columns: Vec<String> = [
        "id",
        "stack_name",
        "description",
        "creation_time",
        "updated_time",
        "stack_status",
        "stack_status_reason",
    ]
    .map(String::from)
    .to_vec();
    if !short {
        columns.push("parameters".into());
        if resolve {
            columns.push("outputs".into());
        }
        columns.push("links".into());
        if let Some(map) = data.as_object() {
            for key in map.keys() {
                if !columns.contains(key) && key != "template_description" {
                    columns.push(key.clone());
                }
            }
        }
    }
    // `create`/`update` always show the short table, whatever `-f` says (heatclient passes
    // format='table' there); `show` follows `-f`.
    let table = short || matches!(format.format_or(Format::Table), Format::Table);
    let record = Record {
        fields: columns
            .iter()
            .map(|c| {
                let value = crate::output::property(&data, c);
                let cell =
                    if table && matches!(c.as_str(), "parameters" | "outputs" | "links" | "tags") {
                        Cell::Yaml(value)
                    } else {
                        Cell::Raw(value)
                    };
                (c.clone(), cell)
            })
            .collect(),
    };
    format.print_one(&mut ctx.out, Format::Table, record)
}

fn stack_body(
    files: StackFiles,
    parameters: Map<String, Value>,
    environment: Value,
    files_container: &Option<String>,
    tags: &Option<String>,
    timeout: Option<u32>,
) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("parameters".into(), Value::Object(parameters));
    files.into_body(&mut body, environment);
    if let Some(container) = files_container {
        body.insert("files_container".into(), Value::String(container.clone()));
    }
    if let Some(tags) = tags {
        body.insert("tags".into(), Value::String(tags.clone()));
    }
    if let Some(minutes) = timeout {
        body.insert("timeout_mins".into(), Value::from(minutes));
    }
    body
}

pub async fn create(ctx: &mut Ctx, args: StackCreate) -> Result<(), CliError> {
    let files = StackFiles::read(Some(&args.template), &args.inputs.environment)?;
    let locator = files.locator();
    let parameters = all_parameters(
        &args.inputs.parameter,
        &args.parameter_file,
        Some(&args.template),
    )?;
    let environment = hooks_environment(&args.pre_create, "pre-create");
    let mut body = stack_body(
        files,
        parameters,
        environment,
        &args.inputs.files_container,
        &args.tags,
        args.timeout,
    );
    body.insert("stack_name".into(), Value::String(args.name.clone()));
    body.insert(
        "disable_rollback".into(),
        Value::Bool(!args.enable_rollback),
    );
    let body = Value::Object(body);

    if args.dry_run {
        // heatclient shows every key of the preview, sorted, with its column formatters.
        let stack = ctx
            .heat
            .stack_preview(body)
            .await
            .map_err(|e| locator.locate(e))?;
        let mut keys: Vec<String> = stack
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        keys.sort();
        let record = Record {
            fields: keys
                .into_iter()
                .map(|k| {
                    let v = stack.get(&k).cloned().unwrap_or(Value::Null);
                    let cell = match k.as_str() {
                        "description" | "template_description" | "stack_status_reason" => {
                            Cell::TextWrap(v)
                        }
                        "parameters" | "outputs" | "resources" => Cell::Json(v),
                        "links" => Cell::Links(v),
                        _ => Cell::Raw(v),
                    };
                    (k, cell)
                })
                .collect(),
        };
        return args.format.print_one(&mut ctx.out, Format::Table, record);
    }

    let created = ctx
        .heat
        .stack_create(body)
        .await
        .map_err(|e| locator.locate(e))?;
    let stack = StackRef {
        name: args.name.clone(),
        id: text(&created, "id"),
    };
    if let Some(outcome) = ctx
        .settle(&stack, Some("CREATE"), None, args.wait.wait, args.wait.poll)
        .await?
    {
        if outcome.failed() {
            return Err(failure(&stack, &outcome));
        }
    }
    show_stack(ctx, &stack, &args.format, true, false).await
}

pub async fn update(ctx: &mut Ctx, args: StackUpdate) -> Result<(), CliError> {
    let stack = ctx.find_stack(&args.stack).await?;
    if args.template.is_none() && !args.existing {
        return Err(CliError::Command(
            "Need to specify exactly one of [--template-file, --template-url or \
             --template-object] or --existing"
                .into(),
        ));
    }
    let files = StackFiles::read(args.template.as_deref(), &args.inputs.environment)?;
    let locator = files.locator();
    let parameters = all_parameters(
        &args.inputs.parameter,
        &args.parameter_file,
        args.template.as_deref(),
    )?;
    let environment = hooks_environment(&args.pre_update, "pre-update");
    let mut body = stack_body(
        files,
        parameters,
        environment,
        &args.inputs.files_container,
        &args.tags,
        args.timeout,
    );
    body.insert("existing".into(), Value::Bool(args.existing));
    if !args.clear_parameter.is_empty() {
        body.insert(
            "clear_parameters".into(),
            Value::Array(
                args.clear_parameter
                    .iter()
                    .cloned()
                    .map(Value::String)
                    .collect(),
            ),
        );
    }
    if args.rollback != Rollback::Keep {
        body.insert(
            "disable_rollback".into(),
            Value::Bool(args.rollback == Rollback::Disabled),
        );
    }

    if args.dry_run {
        let changes = ctx
            .heat
            .stack_preview_update(&stack, args.existing, args.show_nested, Value::Object(body))
            .await
            .map_err(|e| locator.locate(e))?;
        let resource_changes = changes
            .get("resource_changes")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut keys: Vec<&String> = resource_changes.keys().collect();
        keys.sort();
        let record = Record {
            fields: keys
                .into_iter()
                .map(|k| (k.clone(), Cell::Json(resource_changes[k].clone())))
                .collect(),
        };
        return args.format.print_one(&mut ctx.out, Format::Table, record);
    }

    if args.converge {
        body.insert("converge".into(), Value::Bool(true));
    }
    let marker = if args.wait.wait || ctx.in_process() {
        wait::last_event_marker(&ctx.heat, &stack).await?
    } else {
        None
    };
    ctx.heat
        .stack_update(&stack, args.existing, Value::Object(body))
        .await
        .map_err(|e| locator.locate(e))?;
    if let Some(outcome) = ctx
        .settle(
            &stack,
            Some("UPDATE"),
            marker,
            args.wait.wait,
            args.wait.poll,
        )
        .await?
    {
        if outcome.failed() {
            return Err(failure(&stack, &outcome));
        }
    }
    show_stack(ctx, &stack, &args.format, true, false).await
}

pub async fn delete(ctx: &mut Ctx, args: StackDelete) -> Result<(), CliError> {
    if !args.yes && !super::confirm("Are you sure you want to delete this stack(s) [y/N]? ") {
        return Ok(());
    }
    let mut failures = 0;
    let mut waiting = Vec::new();
    for name in &args.stacks {
        let stack = match ctx.find_stack(name).await {
            Ok(s) => s,
            Err(e) => {
                writeln!(ctx.out, "{e}")?;
                failures += 1;
                continue;
            }
        };
        let marker = if args.wait.wait || ctx.in_process() {
            wait::last_event_marker(&ctx.heat, &stack).await?
        } else {
            None
        };
        match ctx.heat.stack_delete(&stack).await {
            Ok(()) => waiting.push((stack, marker)),
            Err(e) if e.is_not_found() => {
                writeln!(ctx.out, "Stack not found: {name}")?;
                failures += 1;
            }
            Err(CliError::Api { status: 403, .. }) => {
                writeln!(ctx.out, "Forbidden: {name}")?;
                failures += 1;
            }
            Err(e) => return Err(e),
        }
    }
    for (stack, marker) in waiting {
        if let Some(outcome) = ctx
            .settle(
                &stack,
                Some("DELETE"),
                marker,
                args.wait.wait,
                args.wait.poll,
            )
            .await?
        {
            if outcome.status == "DELETE_FAILED" {
                failures += 1;
                writeln!(ctx.out, "{}", failure(&stack, &outcome))?;
            }
        }
    }
    if failures > 0 {
        return Err(CliError::Command(format!(
            "Unable to delete {failures} of the {} stacks.",
            args.stacks.len()
        )));
    }
    Ok(())
}

use std::io::Write as _;

pub async fn list(ctx: &mut Ctx, args: StackList) -> Result<(), CliError> {
    let mut columns = vec![
        "ID",
        "Stack Name",
        "Stack Status",
        "Creation Time",
        "Updated Time",
    ];
    let mut query = filters_query(&args.properties)?;
    if let Some(limit) = args.limit {
        query.push(("limit".into(), limit.to_string()));
    }
    if let Some(marker) = &args.marker {
        query.push(("marker".into(), marker.clone()));
    }
    if let Some(tags) = &args.tags {
        let key = match args.tag_mode.as_deref() {
            None => "tags",
            Some("any") => "tags_any",
            Some("not") => "not_tags",
            Some("not-any") => "not_tags_any",
            Some(_) => {
                return Err(CliError::Command(
                    "tag mode must be one of \"any\", \"not\", \"not-any\"".into(),
                ))
            }
        };
        query.push((key.into(), tags.clone()));
    }
    for (flag, name) in [
        (args.all_projects || args.long, "global_tenant"),
        (args.deleted, "show_deleted"),
        (args.hidden, "show_hidden"),
        (args.nested, "show_nested"),
    ] {
        if flag {
            query.push((name.into(), "True".into()));
        }
    }
    if args.short {
        columns.truncate(3);
    }
    if args.long {
        columns.insert(2, "Stack Owner");
    }
    if args.nested {
        columns.push("Parent");
    }
    if args.deleted {
        columns.push("Deletion Time");
    }
    let mut stacks = ctx.heat.stack_list(query).await?;
    if stacks.iter().any(|s| s.get("project").is_some()) {
        columns.insert(2, "Project");
    }
    if let Some(sort) = &args.sort {
        sort_items(&mut stacks, sort)?;
    }
    let listing = Listing::from_objects(&columns, &stacks);
    args.format.print_list(&mut ctx.out, Format::Table, listing)
}

pub async fn show(ctx: &mut Ctx, args: StackShow) -> Result<(), CliError> {
    let stack = ctx.find_stack(&args.stack).await?;
    show_stack(ctx, &stack, &args.format, false, !args.no_resolve_outputs).await
}

const ACTION_COLUMNS: [&str; 5] = [
    "ID",
    "Stack Name",
    "Stack Status",
    "Creation Time",
    "Updated Time",
];

/// `suspend`, `resume`, `check`: the action on each stack, then a row per stack.
pub async fn action(ctx: &mut Ctx, args: StackAction, action: &str) -> Result<(), CliError> {
    let mut rows = Vec::new();
    for name in &args.stacks {
        let stack = ctx.find_stack(name).await?;
        rows.push(
            run_action(
                ctx,
                &stack,
                &args,
                action.to_lowercase().as_str(),
                Some(action),
            )
            .await?,
        );
    }
    let listing = Listing::from_objects(&ACTION_COLUMNS, &rows);
    args.format.print_list(&mut ctx.out, Format::Table, listing)
}

async fn run_action(
    ctx: &mut Ctx,
    stack: &StackRef,
    args: &StackAction,
    request: &str,
    action: Option<&str>,
) -> Result<Value, CliError> {
    let marker = if args.wait.wait || ctx.in_process() {
        wait::last_event_marker(&ctx.heat, stack).await?
    } else {
        None
    };
    ctx.heat.stack_action(stack, request).await?;
    if let Some(outcome) = ctx
        .settle(stack, action, marker, args.wait.wait, args.wait.poll)
        .await?
    {
        if outcome.failed() {
            return Err(failure(stack, &outcome));
        }
    }
    ctx.heat.stack_show(stack, false).await
}

pub async fn cancel(ctx: &mut Ctx, args: StackCancel) -> Result<(), CliError> {
    let (request, allowed): (&str, &[&str]) = if args.no_rollback {
        (
            "cancel_without_rollback",
            &["create_in_progress", "update_in_progress"],
        )
    } else {
        ("cancel_update", &["update_in_progress"])
    };
    let mut rows = Vec::new();
    for name in &args.action.stacks {
        let stack = ctx.find_stack(name).await?;
        let current = ctx.heat.stack_show(&stack, false).await?;
        let status = text(&current, "stack_status").to_lowercase();
        if !allowed.contains(&status.as_str()) {
            return Err(CliError::Command(format!(
                "Stack {name} with status '{status}' not in cancelable state"
            )));
        }
        rows.push(run_action(ctx, &stack, &args.action, request, None).await?);
    }
    let listing = Listing::from_objects(&ACTION_COLUMNS, &rows);
    args.action
        .format
        .print_list(&mut ctx.out, Format::Table, listing)
}

/// `abandon` and `export`: the stack data as JSON, or written to `--output-file`.
pub async fn abandon(ctx: &mut Ctx, args: StackAbandon, export: bool) -> Result<(), CliError> {
    let stack = ctx.find_stack(&args.stack).await?;
    let data = if export {
        ctx.heat.stack_part(&stack, "export").await?
    } else {
        ctx.heat.stack_abandon(&stack).await?
    };
    if let Some(path) = &args.output_file {
        let text = json_dumps(&data, JsonStyle::cliff(false));
        return std::fs::write(path, text).map_err(|e| CliError::Command(e.to_string()));
    }
    args.format
        .print_one(&mut ctx.out, Format::Json, Record::from_object(&data))
}

pub async fn adopt(ctx: &mut Ctx, args: StackAdopt) -> Result<(), CliError> {
    let adopt_text = std::fs::read_to_string(&args.adopt_file)
        .map_err(|e| CliError::io(format!("cannot read {}", args.adopt_file.display()), e))?;
    let adopt_name = args.adopt_file.display().to_string();
    let adopt_data = ember_template::parse_document(&adopt_text, &adopt_name, &Default::default())
        .map_err(|e| CliError::located(&e, Some(&adopt_text)))?
        .to_json();
    let env_files = StackFiles::read(None, &args.environment)?;
    let mut body = Map::new();
    body.insert("stack_name".into(), Value::String(args.name.clone()));
    body.insert(
        "disable_rollback".into(),
        Value::Bool(!args.enable_rollback),
    );
    body.insert("adopt_stack_data".into(), Value::String(adopt_text));
    body.insert(
        "parameters".into(),
        Value::Object(format_parameters(&args.parameter, true)?),
    );
    let mut files = adopt_data
        .get("files")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    files.extend(env_files.files.clone());
    let environment_files = env_files.environment_files.clone();
    body.insert("files".into(), Value::Object(files));
    body.insert("environment".into(), Value::Object(Map::new()));
    if !environment_files.is_empty() {
        body.insert(
            "environment_files".into(),
            Value::Array(environment_files.into_iter().map(Value::String).collect()),
        );
    }
    if let Some(minutes) = args.timeout {
        body.insert("timeout_mins".into(), Value::from(minutes));
    }
    let created = ctx.heat.stack_create(Value::Object(body)).await?;
    let stack = StackRef {
        name: args.name.clone(),
        id: text(&created, "id"),
    };
    if let Some(outcome) = ctx
        .settle(&stack, Some("ADOPT"), None, args.wait.wait, args.wait.poll)
        .await?
    {
        if outcome.failed() {
            return Err(failure(&stack, &outcome));
        }
    }
    show_stack(ctx, &stack, &args.format, true, false).await
}
