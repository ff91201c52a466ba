//! `ember`: the command line of Ember. `ember serve` runs Heat's REST API; every other command
//! is shaped like `openstack stack ...` / `openstack orchestration ...` and runs either in this
//! process on the embedded store or against a server (see [`mode`] for the rule).

mod cli;
mod client;
mod commands;
mod error;
mod files;
mod local;
mod mode;
mod output;
mod wait;

use clap::Parser;
use std::process::ExitCode;
use std::sync::Arc;

use cli::{Cli, Command, StackCommand};
use client::Heat;
use commands::{orchestration, parts, stack, Ctx};
use error::CliError;
use mode::{HttpTransport, Mode};

fn main() -> ExitCode {
    limit_malloc_arenas();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            report(error);
            ExitCode::FAILURE
        }
    }
}

/// One glibc malloc arena for the whole process. glibc gives each thread that meets a locked
/// arena one of its own (up to eight per core), and memory freed inside an arena is reused
/// only by that arena and returned to the system only from its top. The engine's bursts (a
/// template compiled, thousands of rows read or written in one batch) are allocated and freed
/// on different runtime and SQLite threads, so with many arenas a 10,000-resource stack
/// peaked at 160 MB resident for at most 50 MB in use; with one it stays under 100 MB. On the
/// two cores Ember targets the shared arena's lock costs nothing measurable (see the engine
/// figures in ARCHITECTURE.md). `MALLOC_ARENA_MAX` still overrides it at start.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only changes allocator settings, before any other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}

/// Located errors get miette's source view; the others print as `openstack` prints its errors.
fn report(error: CliError) {
    match error {
        located @ CliError::Located(_) => {
            eprintln!("{:?}", miette::Report::new(located));
        }
        other => {
            let mut text = other.to_string();
            let mut source = std::error::Error::source(&other);
            while let Some(s) = source {
                let s_text = s.to_string();
                if !text.contains(&s_text) {
                    text.push_str(": ");
                    text.push_str(&s_text);
                }
                source = s.source();
            }
            eprintln!("{text}");
        }
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
    if let Command::Serve(args) = cli.command {
        return serve(args, cli.mode.store_url).await;
    }
    if std::env::var_os("EMBER_LOG").is_some() {
        init_log();
    }
    let mode = cli.mode.resolve().await?;
    let transport: Box<dyn client::Transport> = match &mode {
        Mode::Client {
            endpoint, token, ..
        } => Box::new(HttpTransport::new(endpoint.clone(), token.clone())?),
        Mode::InProcess { store_url } => {
            Box::new(local::InProcessTransport::new(store_url.clone()))
        }
    };
    let mut ctx = Ctx {
        heat: Heat::new(transport),
        mode,
        out: Box::new(std::io::stdout()),
    };
    dispatch(&mut ctx, cli.command).await
}

async fn dispatch(ctx: &mut Ctx, command: Command) -> Result<(), CliError> {
    match command {
        Command::Info(args) => orchestration::info(ctx, &args.format),
        Command::Serve(_) => Ok(()),
        Command::Template(t) => orchestration::template(ctx, t).await,
        Command::Orchestration(o) => match o {
            cli::OrchestrationCommand::Template(t) => orchestration::template(ctx, t).await,
            cli::OrchestrationCommand::Resource(cli::ResourceTypeGroup::Type(t)) => {
                orchestration::resource_type(ctx, t).await
            }
            cli::OrchestrationCommand::Build(b) => orchestration::build(ctx, b).await,
        },
        Command::Software(cli::SoftwareCommand::Config(c)) => {
            orchestration::software_config(ctx, c).await
        }
        Command::Stack(s) => match s {
            StackCommand::Create(a) => stack::create(ctx, a).await,
            StackCommand::Update(a) => stack::update(ctx, a).await,
            StackCommand::Delete(a) => stack::delete(ctx, a).await,
            StackCommand::List(a) => stack::list(ctx, a).await,
            StackCommand::Show(a) => stack::show(ctx, a).await,
            StackCommand::Cancel(a) => stack::cancel(ctx, a).await,
            StackCommand::Suspend(a) => stack::action(ctx, a, "SUSPEND").await,
            StackCommand::Resume(a) => stack::action(ctx, a, "RESUME").await,
            StackCommand::Check(a) => stack::action(ctx, a, "CHECK").await,
            StackCommand::Abandon(a) => stack::abandon(ctx, a, false).await,
            StackCommand::Export(a) => stack::abandon(ctx, a, true).await,
            StackCommand::Adopt(a) => stack::adopt(ctx, a).await,
            StackCommand::Failures(f) => parts::failures(ctx, f).await,
            StackCommand::Snapshot(s) => parts::snapshot(ctx, s).await,
            StackCommand::Event(e) => parts::event(ctx, e).await,
            StackCommand::Resource(r) => parts::resource(ctx, r).await,
            StackCommand::Output(o) => parts::output(ctx, o).await,
            StackCommand::Template(t) => parts::template_show(ctx, t).await,
            StackCommand::Environment(e) => parts::environment_show(ctx, e).await,
            StackCommand::File(f) => parts::file_list(ctx, f).await,
            StackCommand::Hook(h) => parts::hook(ctx, h).await,
        },
    }
}

/// Logs to stderr, filtered by `EMBER_LOG` (default `info`).
fn init_log() {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("EMBER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
}

/// `ember serve`: the API and the engine in one process. Settings: defaults, then the TOML file,
/// then `EMBER_*` variables (ember-api's `ServerConfig`), then these flags.
async fn serve(args: cli::ServeArgs, store_url: Option<String>) -> Result<(), CliError> {
    init_log();
    let mut config = ember_api::ServerConfig::load(args.config.as_deref())
        .map_err(|e| CliError::Config(e.to_string()))?;
    if let Some(bind) = &args.bind {
        config.bind = bind
            .parse()
            .map_err(|_| CliError::Config(format!("--bind {bind}: expected ADDRESS:PORT")))?;
    }
    if let Some(auth) = args.auth {
        config.auth = match auth {
            cli::AuthMode::None => ember_api::AuthMode::None,
            cli::AuthMode::Keystone => ember_api::AuthMode::Keystone,
        };
    }
    for (flag, slot) in [
        (args.stack_user_domain_id, &mut config.stack_user_domain_id),
        (
            args.stack_user_domain_name,
            &mut config.stack_user_domain_name,
        ),
        (args.stack_domain_admin, &mut config.stack_domain_admin),
        (
            args.stack_domain_admin_password,
            &mut config.stack_domain_admin_password,
        ),
    ] {
        if flag.is_some() {
            *slot = flag;
        }
    }
    if let Some(url) = store_url {
        config.database_url = Some(url);
    }
    let database_url = match &config.database_url {
        Some(url) => url.clone(),
        None => mode::default_store_url()?,
    };
    // With Keystone, each stack's resources act as the user who created it, through a trust to
    // the service user that validates tokens (the same login). Without auth there is no user:
    // every stack uses this process's OS_* / clouds.yaml credentials.
    let clouds: Arc<dyn ember_engine::CloudProvider> = match config.auth {
        ember_api::AuthMode::Keystone => {
            let service = ember_openstack::CloudConfig::from_vars(&config.keystone.os_vars(), &[])
                .map_err(|e| CliError::Config(format!("the service user's login: {e}")))?;
            Arc::new(ember_resources::openstack::KeystoneTrusts::new(service))
        }
        ember_api::AuthMode::None => ember_resources::openstack::Cloud::from_env(),
    };
    // Resources get signal URLs and tokens from a signer with the server's key and endpoint.
    if config.signing_key.is_none() {
        config.signing_key = Some(local::derived_signing_secret()?);
    }
    let signer = Arc::new(ember_api::UrlSigner::new(&config));
    let stack_domain = local::stack_domain(&config)?;
    let engine = local::engine(&database_url, Some(clouds), Some(signer), stack_domain).await?;
    let state =
        ember_api::ApiState::new(config, engine).map_err(|e| CliError::Config(e.to_string()))?;
    ember_api::serve(state)
        .await
        .map_err(|e| CliError::Config(e.to_string()))
}
