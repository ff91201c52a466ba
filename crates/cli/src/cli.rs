//! The command tree: `openstack stack ...` and `openstack orchestration ...` as `ember stack ...`
//! and `ember orchestration ...` (with `ember template ...` as a shorthand), with the same flags.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

use crate::mode::ModeArgs;
use crate::output::FormatArgs;

#[derive(Debug, Parser)]
#[command(
    name = "ember",
    version,
    about = "Ember: Heat's orchestration, in process on an embedded store or against a server",
    after_help = "Mode: client mode only with --os-endpoint/EMBER_URL, or --os-cloud naming a \
                  clouds.yaml cloud whose catalog lists an orchestration endpoint; otherwise the \
                  engine runs in this process on the embedded store. `ember info` tells which."
)]
pub struct Cli {
    #[command(flatten)]
    pub mode: ModeArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the mode (in-process or client), the store or endpoint, and the version.
    Info(InfoArgs),
    /// Run Heat's REST API v1 and the engine in one process.
    Serve(ServeArgs),
    /// Stacks (as `openstack stack ...`).
    #[command(subcommand)]
    Stack(StackCommand),
    /// Templates (as `openstack orchestration template ...`).
    #[command(subcommand)]
    Template(TemplateCommand),
    /// As `openstack orchestration ...`.
    #[command(subcommand)]
    Orchestration(OrchestrationCommand),
    /// Software configs (as `openstack software config ...`).
    #[command(subcommand)]
    Software(SoftwareCommand),
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub format: FormatArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on (default 127.0.0.1:8004, Heat's port).
    #[arg(long, value_name = "ADDR:PORT")]
    pub bind: Option<String>,
    /// How requests are authenticated.
    #[arg(long, value_enum)]
    pub auth: Option<AuthMode>,
    /// A TOML configuration file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Heat's stack_user_domain_id: the Keystone domain of stack projects and users (servers
    /// polling the API, signalling deployments, AWS::IAM::User). Without a domain, users are
    /// made in the stack owner's project.
    #[arg(long, value_name = "ID")]
    pub stack_user_domain_id: Option<String>,
    /// Heat's stack_user_domain_name (when no id is given).
    #[arg(long, value_name = "NAME")]
    pub stack_user_domain_name: Option<String>,
    /// Heat's stack_domain_admin: the user managing that domain's projects and users.
    #[arg(long, value_name = "USER")]
    pub stack_domain_admin: Option<String>,
    /// Heat's stack_domain_admin_password (better given as EMBER_STACK_DOMAIN_ADMIN_PASSWORD).
    #[arg(long, value_name = "PASSWORD")]
    pub stack_domain_admin_password: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    None,
    Keystone,
}

/// The template and environment options shared by create, update, preview and validate.
#[derive(Debug, Args, Clone, Default)]
pub struct TemplateArgs {
    /// Path to the environment. Can be specified multiple times.
    #[arg(short = 'e', long = "environment", value_name = "ENVIRONMENT")]
    pub environment: Vec<PathBuf>,
    /// Parameter values used to create the stack. This can be specified multiple times.
    #[arg(long = "parameter", value_name = "KEY=VALUE")]
    pub parameter: Vec<String>,
    /// Swift files container name (sent to the service as is).
    #[arg(short = 's', long = "files-container", value_name = "FILES-CONTAINER")]
    pub files_container: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum StackCommand {
    /// Create a stack.
    Create(StackCreate),
    /// Update a stack.
    Update(StackUpdate),
    /// Delete stack(s).
    Delete(StackDelete),
    /// List stacks.
    List(StackList),
    /// Show stack details.
    Show(StackShow),
    /// Cancel current task for a stack (update, or create with --no-rollback).
    Cancel(StackCancel),
    /// Suspend a stack.
    Suspend(StackAction),
    /// Resume a stack.
    Resume(StackAction),
    /// Check a stack.
    Check(StackAction),
    /// Abandon stack and output results.
    Abandon(StackAbandon),
    /// Adopt a stack.
    Adopt(StackAdopt),
    /// Export stack data json.
    Export(StackAbandon),
    /// Stack failures.
    #[command(subcommand)]
    Failures(FailuresCommand),
    /// Stack snapshots.
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// Stack events.
    #[command(subcommand)]
    Event(EventCommand),
    /// Stack resources.
    #[command(subcommand)]
    Resource(ResourceCommand),
    /// Stack outputs.
    #[command(subcommand)]
    Output(OutputCommand),
    /// Stack template.
    #[command(subcommand)]
    Template(StackTemplateCommand),
    /// Stack environment.
    #[command(subcommand)]
    Environment(StackEnvironmentCommand),
    /// Stack files.
    #[command(subcommand)]
    File(StackFileCommand),
    /// Stack hooks.
    #[command(subcommand)]
    Hook(HookCommand),
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Wait until the action completes, showing live progress.
    #[arg(long)]
    pub wait: bool,
    /// Poll interval in seconds for --wait (default: 5 against a server, 0.1 in process).
    #[arg(long, value_name = "SECONDS")]
    pub poll: Option<f64>,
}

#[derive(Debug, Args)]
pub struct StackCreate {
    /// Name of the stack to create.
    #[arg(value_name = "STACK-NAME")]
    pub name: String,
    /// Path to the template.
    #[arg(short = 't', long = "template", value_name = "TEMPLATE")]
    pub template: PathBuf,
    #[command(flatten)]
    pub inputs: TemplateArgs,
    /// Parameter values from file used to create the stack (KEY=FILE).
    #[arg(long = "parameter-file", value_name = "KEY=FILE")]
    pub parameter_file: Vec<String>,
    /// Stack creating timeout in minutes.
    #[arg(long, value_name = "TIMEOUT")]
    pub timeout: Option<u32>,
    /// Name of a resource to set a pre-create hook to (nested: a/b/c).
    #[arg(long = "pre-create", value_name = "RESOURCE")]
    pub pre_create: Vec<String>,
    /// Enable rollback on create/update failure.
    #[arg(long)]
    pub enable_rollback: bool,
    /// A list of tags to associate with the stack.
    #[arg(long, value_name = "TAG1,TAG2...")]
    pub tags: Option<String>,
    /// Do not actually perform the stack create, but show what would be created.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub format: FormatArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Rollback {
    Enabled,
    Disabled,
    Keep,
}

#[derive(Debug, Args)]
pub struct StackUpdate {
    /// Name or ID of stack to update.
    #[arg(value_name = "STACK")]
    pub stack: String,
    /// Path to the template.
    #[arg(short = 't', long = "template", value_name = "TEMPLATE")]
    pub template: Option<PathBuf>,
    #[command(flatten)]
    pub inputs: TemplateArgs,
    /// Parameter values from file used to create the stack (KEY=FILE).
    #[arg(long = "parameter-file", value_name = "KEY=FILE")]
    pub parameter_file: Vec<String>,
    /// Name of a resource to set a pre-update hook to.
    #[arg(long = "pre-update", value_name = "RESOURCE")]
    pub pre_update: Vec<String>,
    /// Stack update timeout in minutes.
    #[arg(long, value_name = "TIMEOUT")]
    pub timeout: Option<u32>,
    /// Set rollback on update failure.
    #[arg(long, value_enum, default_value = "keep")]
    pub rollback: Rollback,
    /// Do not actually perform the stack update, but show what would be changed.
    #[arg(long)]
    pub dry_run: bool,
    /// Show nested stacks when performing --dry-run.
    #[arg(long)]
    pub show_nested: bool,
    /// Re-use the template, parameters and environment of the current stack.
    #[arg(long)]
    pub existing: bool,
    /// Remove the parameters from the set of parameters of current stack for the stack-update.
    #[arg(long = "clear-parameter", value_name = "PARAMETER")]
    pub clear_parameter: Vec<String>,
    /// An updated list of tags to associate with the stack.
    #[arg(long, value_name = "TAG1,TAG2...")]
    pub tags: Option<String>,
    /// Stack update with observe on reality.
    #[arg(long)]
    pub converge: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub format: FormatArgs,
}

#[derive(Debug, Args)]
pub struct StackDelete {
    /// Stack(s) to delete (name or ID).
    #[arg(value_name = "STACK", required = true)]
    pub stacks: Vec<String>,
    /// Skip yes/no prompt (assume yes).
    #[arg(short = 'y', long)]
    pub yes: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args)]
pub struct StackList {
    /// Include soft-deleted stacks in the stack listing.
    #[arg(long)]
    pub deleted: bool,
    /// Include nested stacks in the stack listing.
    #[arg(long)]
    pub nested: bool,
    /// Include hidden stacks in the stack listing.
    #[arg(long)]
    pub hidden: bool,
    /// Filter properties to apply on returned stacks (repeat to filter on multiple properties).
    #[arg(long = "property", value_name = "KEY=VALUE")]
    pub properties: Vec<String>,
    /// List of tags to filter by.
    #[arg(long, value_name = "TAG1,TAG2...")]
    pub tags: Option<String>,
    /// Method of filtering tags: any, not or not-any.
    #[arg(long = "tag-mode", value_name = "MODE")]
    pub tag_mode: Option<String>,
    /// The number of stacks returned.
    #[arg(long)]
    pub limit: Option<u32>,
    /// Only return stacks that appear after the given ID.
    #[arg(long, value_name = "ID")]
    pub marker: Option<String>,
    /// Sort output by selected keys and directions (asc or desc).
    #[arg(long, value_name = "KEY[:DIRECTION]")]
    pub sort: Option<String>,
    /// Include all projects (admin only).
    #[arg(long)]
    pub all_projects: bool,
    /// List fewer fields in output.
    #[arg(long)]
    pub short: bool,
    /// List additional fields in output, this is implied by --all-projects.
    #[arg(long)]
    pub long: bool,
    #[command(flatten)]
    pub format: FormatArgs,
}

#[derive(Debug, Args)]
pub struct StackShow {
    /// Stack to display (name or ID).
    #[arg(value_name = "STACK")]
    pub stack: String,
    /// Do not resolve outputs of the stack.
    #[arg(long)]
    pub no_resolve_outputs: bool,
    #[command(flatten)]
    pub format: FormatArgs,
}

#[derive(Debug, Args)]
pub struct StackAction {
    /// Stack(s) (name or ID).
    #[arg(value_name = "STACK", required = true)]
    pub stacks: Vec<String>,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub format: FormatArgs,
}

#[derive(Debug, Args)]
pub struct StackCancel {
    #[command(flatten)]
    pub action: StackAction,
    /// Cancel without rollback.
    #[arg(long)]
    pub no_rollback: bool,
}

#[derive(Debug, Args)]
pub struct StackAbandon {
    /// Name or ID of stack.
    #[arg(value_name = "STACK")]
    pub stack: String,
    /// File to output the results to.
    #[arg(long, value_name = "OUTPUT-FILE")]
    pub output_file: Option<PathBuf>,
    #[command(flatten)]
    pub format: FormatArgs,
}

#[derive(Debug, Args)]
pub struct StackAdopt {
    /// Name of the stack to adopt.
    #[arg(value_name = "STACK-NAME")]
    pub name: String,
    /// Path to the environment. Can be specified multiple times.
    #[arg(short = 'e', long = "environment", value_name = "ENVIRONMENT")]
    pub environment: Vec<PathBuf>,
    /// Stack creation timeout in minutes.
    #[arg(long, value_name = "TIMEOUT")]
    pub timeout: Option<u32>,
    /// Enable rollback on create/update failure.
    #[arg(long)]
    pub enable_rollback: bool,
    /// Parameter values used to create the stack.
    #[arg(long = "parameter", value_name = "KEY=VALUE")]
    pub parameter: Vec<String>,
    /// Path to adopt stack data file.
    #[arg(long, value_name = "ADOPT-FILE")]
    pub adopt_file: PathBuf,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub format: FormatArgs,
}

#[derive(Debug, Subcommand)]
pub enum FailuresCommand {
    /// Show information about failed stack resources.
    List {
        #[arg(value_name = "STACK")]
        stack: String,
        /// Show full deployment logs in output.
        #[arg(long)]
        long: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Create stack snapshot.
    Create {
        #[arg(value_name = "STACK")]
        stack: String,
        /// Name of snapshot.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        format: FormatArgs,
    },
    /// List stack snapshots.
    List {
        #[arg(value_name = "STACK")]
        stack: String,
        #[command(flatten)]
        format: FormatArgs,
    },
    /// Show stack snapshot.
    Show {
        #[arg(value_name = "STACK")]
        stack: String,
        #[arg(value_name = "SNAPSHOT")]
        snapshot: String,
        #[command(flatten)]
        format: FormatArgs,
    },
    /// Restore stack snapshot.
    Restore {
        #[arg(value_name = "STACK")]
        stack: String,
        #[arg(value_name = "SNAPSHOT")]
        snapshot: String,
    },
    /// Delete stack snapshot.
    Delete {
        #[arg(value_name = "STACK")]
        stack: String,
        #[arg(value_name = "SNAPSHOT")]
        snapshot: String,
        /// Skip yes/no prompt (assume yes).
        #[arg(short = 'y', long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum EventCommand {
    /// List events.
    List(EventList),
    /// Show event details.
    Show {
        #[arg(value_name = "STACK")]
        stack: String,
        #[arg(value_name = "RESOURCE")]
        resource: String,
        #[arg(value_name = "EVENT")]
        event: String,
        #[command(flatten)]
        format: FormatArgs,
    },
}

#[derive(Debug, Args)]
pub struct EventList {
    /// Name or ID of stack to show events for.
    #[arg(value_name = "STACK")]
    pub stack: String,
    /// Name of resource to show events for (not with --nested-depth).
    #[arg(long, value_name = "RESOURCE")]
    pub resource: Option<String>,
    /// Filter parameters to apply on returned events.
    #[arg(long = "filter", value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// Limit the number of events returned.
    #[arg(long)]
    pub limit: Option<u32>,
    /// Only return events that appear after the given ID.
    #[arg(long, value_name = "ID")]
    pub marker: Option<String>,
    /// Depth of nested stacks from which to display events.
    #[arg(long = "nested-depth", value_name = "DEPTH")]
    pub nested_depth: Option<u32>,
    /// Sort output by selected keys and directions (asc or desc).
    #[arg(long, value_name = "KEY[:DIRECTION]")]
    pub sort: Vec<String>,
    /// Print events until process is halted.
    #[arg(long)]
    pub follow: bool,
    #[command(flatten)]
    pub format: FormatArgs,
}

#[derive(Debug, Subcommand)]
pub enum ResourceCommand {
    /// List stack resources.
    List {
        #[arg(value_name = "STACK")]
        stack: String,
        /// Enable detailed information presented for each resource in resource list.
        #[arg(long)]
        long: bool,
        /// Depth of nested stacks from which to display resources.
        #[arg(short = 'n', long = "nested-depth", value_name = "NESTED-DEPTH")]
        nested_depth: Option<u32>,
        /// Filter parameters to apply on returned resources.
        #[arg(long = "filter", value_name = "KEY=VALUE")]
        filter: Vec<String>,
        #[command(flatten)]
        format: FormatArgs,
    },
    /// Display stack resource.
    Show {
        #[arg(value_name = "STACK")]
        stack: String,
        #[arg(value_name = "RESOURCE")]
        resource: String,
        /// Attribute to show, it can be specified multiple times.
        #[arg(long = "with-attr", value_name = "ATTRIBUTE")]
        with_attr: Vec<String>,
        #[command(flatten)]
        format: FormatArgs,
    },
    /// Show resource metadata.
    Metadata {
        #[arg(value_name = "STACK")]
        stack: String,
        #[arg(value_name = "RESOURCE")]
        resource: String,
        #[command(flatten)]
        format: FormatArgs,
    },
    /// Signal a resource with optional data.
    Signal {
        #[arg(value_name = "STACK")]
        stack: String,
        #[arg(value_name = "RESOURCE")]
        resource: String,
        /// JSON Data to send to the signal handler.
        #[arg(long)]
        data: Option<String>,
        /// File containing JSON data to send to the signal handler.
        #[arg(long = "data-file")]
        data_file: Option<PathBuf>,
    },
    /// Set resource's health.
    #[command(subcommand)]
    Mark(MarkCommand),
}

#[derive(Debug, Subcommand)]
pub enum MarkCommand {
    /// Set resource's health.
    Unhealthy {
        #[arg(value_name = "STACK")]
        stack: String,
        #[arg(value_name = "RESOURCE")]
        resource: String,
        /// Reason for state change.
        #[arg(value_name = "REASON", default_value = "")]
        reason: String,
        /// Set the resource as healthy.
        #[arg(long)]
        reset: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum OutputCommand {
    /// List stack outputs.
    List {
        #[arg(value_name = "STACK")]
        stack: String,
        #[command(flatten)]
        format: FormatArgs,
    },
    /// Show stack output.
    Show {
        #[arg(value_name = "STACK")]
        stack: String,
        #[arg(value_name = "OUTPUT")]
        output: Option<String>,
        /// Display all stack outputs.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        format: FormatArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum StackTemplateCommand {
    /// Display stack template.
    Show {
        #[arg(value_name = "STACK")]
        stack: String,
        #[command(flatten)]
        format: FormatArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum StackEnvironmentCommand {
    /// Show a stack's environment.
    Show {
        #[arg(value_name = "STACK")]
        stack: String,
        #[command(flatten)]
        format: FormatArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum StackFileCommand {
    /// Show a stack's files map.
    List {
        #[arg(value_name = "STACK")]
        stack: String,
        #[command(flatten)]
        format: FormatArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// List resources with pending hook for a stack.
    Poll {
        #[arg(value_name = "STACK")]
        stack: String,
        /// Depth of nested stacks from which to display hooks.
        #[arg(long = "nested-depth", value_name = "NESTED-DEPTH")]
        nested_depth: Option<u32>,
        #[command(flatten)]
        format: FormatArgs,
    },
    /// Clear resource hooks on a given stack.
    Clear {
        #[arg(value_name = "STACK")]
        stack: String,
        /// Clear the pre-create hooks.
        #[arg(long)]
        pre_create: bool,
        /// Clear the pre-update hooks.
        #[arg(long)]
        pre_update: bool,
        /// Clear the pre-delete hooks.
        #[arg(long)]
        pre_delete: bool,
        /// Resource names with hooks to clear (nested: a/b/c).
        #[arg(value_name = "RESOURCE", required = true)]
        hooks: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TemplateCommand {
    /// Validate a template.
    Validate(TemplateValidate),
    /// Template versions.
    #[command(subcommand)]
    Version(VersionCommand),
    /// Template functions.
    #[command(subcommand)]
    Function(FunctionCommand),
}

#[derive(Debug, Args)]
pub struct TemplateValidate {
    /// Path to the template.
    #[arg(short = 't', long = "template", value_name = "TEMPLATE")]
    pub template: PathBuf,
    #[command(flatten)]
    pub inputs: TemplateArgs,
    /// Resolve parameters from nested templates as well.
    #[arg(long)]
    pub show_nested: bool,
    /// List of heat errors to ignore.
    #[arg(long, value_name = "ERROR1,ERROR2,...")]
    pub ignore_errors: Option<String>,
    #[command(flatten)]
    pub format: FormatArgs,
}

#[derive(Debug, Subcommand)]
pub enum VersionCommand {
    /// List the available template versions.
    List {
        #[command(flatten)]
        format: FormatArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum FunctionCommand {
    /// List the available functions.
    List {
        /// Template version to get the functions for.
        #[arg(value_name = "TEMPLATE-VERSION")]
        version: String,
        /// Show condition functions for template.
        #[arg(long = "with_conditions", alias = "with-conditions")]
        with_conditions: bool,
        #[command(flatten)]
        format: FormatArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrchestrationCommand {
    /// Templates.
    #[command(subcommand)]
    Template(TemplateCommand),
    /// Resource types.
    #[command(subcommand)]
    Resource(ResourceTypeGroup),
    /// Build information.
    #[command(subcommand)]
    Build(BuildCommand),
}

#[derive(Debug, Subcommand)]
pub enum ResourceTypeGroup {
    /// Resource types.
    #[command(subcommand)]
    Type(ResourceTypeCommand),
}

#[derive(Debug, Subcommand)]
pub enum ResourceTypeCommand {
    /// List resource types.
    List {
        /// Filter parameters to apply on returned resource types (name, version, support_status).
        #[arg(long = "filter", value_name = "KEY=VALUE")]
        filter: Vec<String>,
        /// Show resource types with corresponding description of each resource type.
        #[arg(long)]
        long: bool,
        #[command(flatten)]
        format: FormatArgs,
    },
    /// Show details and optionally generate a template for a resource type.
    Show {
        #[arg(value_name = "RESOURCE-TYPE")]
        resource_type: String,
        /// Optional template type to generate, hot or cfn.
        #[arg(long = "template-type", value_name = "TEMPLATE-TYPE")]
        template_type: Option<String>,
        /// Show resource type with corresponding description.
        #[arg(long)]
        long: bool,
        #[command(flatten)]
        format: FormatArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum BuildCommand {
    /// Retrieve build information.
    Info {
        #[command(flatten)]
        format: FormatArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum SoftwareCommand {
    /// Software configs.
    #[command(subcommand)]
    Config(SoftwareConfigCommand),
}

#[derive(Debug, Subcommand)]
pub enum SoftwareConfigCommand {
    /// Create software config.
    Create {
        #[arg(value_name = "CONFIG-NAME")]
        name: String,
        /// Path to JSON/YAML containing map defining <inputs>, <outputs>, and <options>.
        #[arg(long = "definition-file")]
        definition_file: Option<PathBuf>,
        /// Path to software config script/data.
        #[arg(long = "config-file")]
        config_file: Option<PathBuf>,
        /// Group name of tool expected by the software config.
        #[arg(long, default_value = "Heat::Ungrouped")]
        group: String,
        #[command(flatten)]
        format: FormatArgs,
    },
    /// Delete software configs.
    Delete {
        #[arg(value_name = "CONFIG", required = true)]
        configs: Vec<String>,
    },
    /// List software configs.
    List {
        /// Limit the number of configs returned.
        #[arg(long)]
        limit: Option<u32>,
        /// Return configs that appear after the given config ID.
        #[arg(long, value_name = "ID")]
        marker: Option<String>,
        #[command(flatten)]
        format: FormatArgs,
    },
    /// Show software config details.
    Show {
        #[arg(value_name = "CONFIG")]
        config: String,
        /// Only display the value of the <config> property.
        #[arg(long)]
        config_only: bool,
        #[command(flatten)]
        format: FormatArgs,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_openstack_style_flags() {
        let cli = Cli::try_parse_from([
            "ember",
            "stack",
            "update",
            "s",
            "--existing",
            "--rollback",
            "disabled",
            "--clear-parameter",
            "a",
            "--parameter",
            "b=1",
            "-f",
            "json",
            "-c",
            "id",
        ])
        .unwrap();
        match cli.command {
            Command::Stack(StackCommand::Update(u)) => {
                assert!(u.existing);
                assert_eq!(u.rollback, Rollback::Disabled);
                assert_eq!(u.clear_parameter, vec!["a"]);
                assert_eq!(u.format.columns, vec!["id"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            Cli::try_parse_from(["ember", "stack", "resource", "mark", "unhealthy", "s", "r"])
                .is_ok()
        );
        assert!(
            Cli::try_parse_from(["ember", "orchestration", "resource", "type", "list"]).is_ok()
        );
        assert!(Cli::try_parse_from([
            "ember",
            "template",
            "function",
            "list",
            "2018-08-31",
            "--with_conditions"
        ])
        .is_ok());
    }
}
