//! `template validate|version list|function list`, `orchestration resource type list|show`,
//! `orchestration build info`, `software config ...` and `info`.

use serde_json::{json, Map, Value};
use std::io::Write;

use super::{filters_query, Ctx};
use crate::cli::{
    BuildCommand, FunctionCommand, ResourceTypeCommand, SoftwareConfigCommand, TemplateCommand,
    TemplateValidate, VersionCommand,
};
use crate::client::text;
use crate::error::CliError;
use crate::files::{format_parameters, StackFiles};
use crate::output::{Cell, Format, FormatArgs, Listing, Record};

pub async fn template(ctx: &mut Ctx, command: TemplateCommand) -> Result<(), CliError> {
    match command {
        TemplateCommand::Validate(args) => validate(ctx, args).await,
        TemplateCommand::Version(VersionCommand::List { format }) => {
            let versions = ctx.heat.template_versions().await?;
            // Servers before Pike list no aliases; heatclient then shows two columns.
            let with_aliases = versions.get(1).is_some_and(|v| v.get("aliases").is_some());
            let listing = if with_aliases {
                Listing {
                    columns: vec!["Version".into(), "Type".into(), "Aliases".into()],
                    rows: versions
                        .iter()
                        .map(|v| {
                            vec![
                                Cell::Raw(crate::output::property(v, "Version")),
                                Cell::Raw(crate::output::property(v, "Type")),
                                Cell::CommaList(crate::output::property(v, "Aliases")),
                            ]
                        })
                        .collect(),
                }
            } else {
                Listing::from_objects(&["Version", "Type"], &versions)
            };
            format.print_list(&mut ctx.out, Format::Table, listing)
        }
        TemplateCommand::Function(FunctionCommand::List {
            version,
            with_conditions,
            format,
        }) => {
            let functions = ctx
                .heat
                .template_functions(&version, with_conditions)
                .await
                .map_err(|e| {
                    if e.is_not_found() {
                        CliError::Command(format!("Template version not found: {version}"))
                    } else {
                        e
                    }
                })?;
            let listing = Listing::from_objects(&["Functions", "Description"], &functions);
            format.print_list(&mut ctx.out, Format::Table, listing)
        }
    }
}

async fn validate(ctx: &mut Ctx, args: TemplateValidate) -> Result<(), CliError> {
    let files = StackFiles::read(Some(&args.template), &args.inputs.environment)?;
    let locator = files.locator();
    let mut body = Map::new();
    body.insert(
        "parameters".into(),
        Value::Object(format_parameters(&args.inputs.parameter, true)?),
    );
    files.into_body(&mut body, json!({}));
    if let Some(container) = &args.inputs.files_container {
        body.insert("files_container".into(), Value::String(container.clone()));
    }
    let validation = ctx
        .heat
        .validate(
            Value::Object(body),
            args.show_nested,
            args.ignore_errors.as_deref(),
        )
        .await
        .map_err(|e| locator.locate(e))?;
    args.format
        .print_one(&mut ctx.out, Format::Yaml, Record::from_object(&validation))
}

pub async fn resource_type(ctx: &mut Ctx, command: ResourceTypeCommand) -> Result<(), CliError> {
    match command {
        ResourceTypeCommand::List {
            filter,
            long,
            format,
        } => {
            let mut query = filters_query(&filter)?;
            if long {
                query.push(("with_description".into(), "True".into()));
            }
            let types = ctx.heat.resource_types(query).await?;
            // Without descriptions the API lists bare names; with them, objects.
            let mut rows: Vec<(String, Value)> = types
                .iter()
                .map(|t| match t {
                    Value::String(name) => (name.clone(), Value::Null),
                    other => (
                        text(other, "resource_type"),
                        other.get("description").cloned().unwrap_or(Value::Null),
                    ),
                })
                .collect();
            rows.sort_by(|a, b| a.0.cmp(&b.0));
            let listing = if long {
                Listing {
                    columns: vec!["Resource Type".into(), "Description".into()],
                    rows: rows
                        .into_iter()
                        .map(|(n, d)| vec![Cell::Raw(Value::String(n)), Cell::Raw(d)])
                        .collect(),
                }
            } else {
                Listing {
                    columns: vec!["Resource Type".into()],
                    rows: rows
                        .into_iter()
                        .map(|(n, _)| vec![Cell::Raw(Value::String(n))])
                        .collect(),
                }
            };
            format.print_list(&mut ctx.out, Format::Table, listing)
        }
        ResourceTypeCommand::Show {
            resource_type,
            template_type,
            long,
            format,
        } => {
            if template_type.is_some() && long {
                return Err(CliError::Command(
                    "Cannot use --template-type and --long in one time.".into(),
                ));
            }
            let not_found = |e: CliError| {
                if e.is_not_found() {
                    CliError::Command(format!("Resource type not found: {resource_type}"))
                } else {
                    e
                }
            };
            let data = match template_type {
                Some(t) => {
                    let t = t.to_lowercase();
                    if t != "hot" && t != "cfn" {
                        return Err(CliError::Command(format!("Template type invalid: {t}")));
                    }
                    ctx.heat
                        .resource_type_template(&resource_type, &t)
                        .await
                        .map_err(not_found)?
                }
                None => ctx
                    .heat
                    .resource_type_show(&resource_type, long)
                    .await
                    .map_err(not_found)?,
            };
            format.print_one(&mut ctx.out, Format::Yaml, Record::from_object(&data))
        }
    }
}

pub async fn build(ctx: &mut Ctx, command: BuildCommand) -> Result<(), CliError> {
    let BuildCommand::Info { format } = command;
    let info = ctx.heat.build_info().await?;
    let mut keys: Vec<String> = info
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    let record = Record {
        fields: keys
            .into_iter()
            .map(|k| {
                let v = info.get(&k).cloned().unwrap_or(Value::Null);
                let cell = if k == "api" || k == "engine" {
                    Cell::Json(v)
                } else {
                    Cell::Raw(v)
                };
                (k, cell)
            })
            .collect(),
    };
    format.print_one(&mut ctx.out, Format::Table, record)
}

pub async fn software_config(
    ctx: &mut Ctx,
    command: SoftwareConfigCommand,
) -> Result<(), CliError> {
    match command {
        SoftwareConfigCommand::List {
            limit,
            marker,
            format,
        } => {
            let mut query = Vec::new();
            if let Some(l) = limit {
                query.push(("limit".into(), l.to_string()));
            }
            if let Some(m) = marker {
                query.push(("marker".into(), m));
            }
            let configs = ctx.heat.software_config_list(query).await?;
            let listing =
                Listing::from_objects(&["id", "name", "group", "creation_time"], &configs);
            format.print_list(&mut ctx.out, Format::Table, listing)
        }
        SoftwareConfigCommand::Create {
            name,
            definition_file,
            config_file,
            group,
            format,
        } => {
            let definition = match &definition_file {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .map_err(|e| CliError::io(format!("cannot read {}", path.display()), e))?;
                    ember_template::parse_document(
                        &text,
                        &path.display().to_string(),
                        &Default::default(),
                    )
                    .map_err(|e| CliError::located(&e, Some(&text)))?
                    .to_json()
                }
                None => json!({}),
            };
            let config_text = match &config_file {
                Some(path) => std::fs::read_to_string(path)
                    .map_err(|e| CliError::io(format!("cannot read {}", path.display()), e))?,
                None => String::new(),
            };
            let mut config = Map::new();
            config.insert("group".into(), Value::String(group));
            config.insert("config".into(), Value::String(config_text));
            for (key, default) in [
                ("inputs", json!([])),
                ("outputs", json!([])),
                ("options", json!({})),
            ] {
                config.insert(key.into(), definition.get(key).cloned().unwrap_or(default));
            }
            // heatclient validates the config as a one-resource template first.
            let mini = json!({
                "heat_template_version": "2013-05-23",
                "resources": {name.clone(): {"type": "OS::Heat::SoftwareConfig",
                    "properties": Value::Object(config.clone())}}
            });
            ctx.heat
                .validate(json!({"template": mini}), false, None)
                .await?;
            config.insert("name".into(), Value::String(name));
            let created = ctx
                .heat
                .software_config_create(Value::Object(config))
                .await?;
            format.print_one(&mut ctx.out, Format::Json, Record::from_object(&created))
        }
        SoftwareConfigCommand::Show {
            config,
            config_only,
            format,
        } => {
            let data = ctx.heat.software_config_show(&config).await.map_err(|e| {
                if e.is_not_found() {
                    CliError::Command(format!("Configuration not found: {config}"))
                } else {
                    e
                }
            })?;
            if config_only {
                writeln!(ctx.out, "{}", text(&data, "config"))?;
                return Ok(());
            }
            let record = Record::from_columns(
                &[
                    "id",
                    "name",
                    "group",
                    "config",
                    "inputs",
                    "outputs",
                    "options",
                    "creation_time",
                ],
                &data,
            );
            format.print_one(&mut ctx.out, Format::Yaml, record)
        }
        SoftwareConfigCommand::Delete { configs } => {
            let mut failures = 0;
            for id in &configs {
                if let Err(e) = ctx.heat.software_config_delete(id).await {
                    if e.is_not_found() {
                        writeln!(ctx.out, "Software config with ID {id} not found")?;
                    }
                    failures += 1;
                }
            }
            if failures > 0 {
                return Err(CliError::Command(format!(
                    "Unable to delete {failures} of the {} software configs.",
                    configs.len()
                )));
            }
            Ok(())
        }
    }
}

/// `ember info`: the mode, where it stores or sends things, and the version.
pub fn info(ctx: &mut Ctx, format: &FormatArgs) -> Result<(), CliError> {
    let mut fields: Vec<(String, Cell)> = ctx
        .mode
        .describe()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Cell::Raw(Value::String(v))))
        .collect();
    fields.push((
        "version".into(),
        Cell::Raw(Value::String(env!("CARGO_PKG_VERSION").into())),
    ));
    format.print_one(&mut ctx.out, Format::Table, Record { fields })
}
