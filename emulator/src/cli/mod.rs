//! The command line: `fcemu up`, `fcemu invoke`, and friends.

mod events;
mod exec;
mod invoke;
mod state;
mod test;
mod triggers;
mod up;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::manifest::{self, AppPlan, ManifestError};

/// Run an Alibaba Cloud style serverless application locally.
///
/// fcemu runs Function Compute functions (WebAssembly on wasmtime; Node.js, Python and custom
/// runtimes as local processes) behind an API Gateway, with the OSS object store (and its S3 face), Table Store, the Log Service, the FC API, triggers and
/// timers, in one process, with no Docker and no cloud account. Functions are declared in
/// fcemu.toml, or in the project's Serverless Devs s.yaml or Funcraft template.yml.
#[derive(Debug, Parser)]
#[command(name = "fcemu", version, max_term_width = 100)]
pub struct Cli {
    /// The application manifest: fcemu.toml, or an s.yaml / template.yml (used when there is no
    /// fcemu.toml).
    #[arg(short, long, global = true, value_name = "PATH", default_value = manifest::MANIFEST_FILE, env = "FCEMU_MANIFEST")]
    pub manifest: PathBuf,

    /// A value for a `{{ placeholder }}` of a Serverless Devs template (repeatable):
    /// `--var functionName=hello`. Wins over publish.yaml's default.
    #[arg(long = "var", global = true, value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,

    /// Format of fcemu's own log lines (filter them with FCEMU_LOG or RUST_LOG).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log line formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// fcemu's subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the emulator and serve the application until Ctrl-C.
    Up(up::UpArgs),
    /// Start the emulator, run a command against it (`fcemu exec -- pytest`), stop, and exit
    /// with the command's status.
    Exec(exec::ExecArgs),
    /// Run one function once, without a server: the event on stdin, the result on stdout.
    Invoke(invoke::InvokeArgs),
    /// Synthetic trigger events: `fcemu events generate oss --bucket b --key k`.
    Events(events::EventsArgs),
    /// List the triggers of a running emulator with their last and next firing.
    Triggers(triggers::TriggersArgs),
    /// Run snapshot test cases (default: tests/fcemu/ beside the manifest): each step with
    /// every invocation it caused and every object, row and log written.
    Test(test::TestArgs),
    /// Export a running emulator's buckets, objects, tables, rows, logstores and logs to one
    /// JSON file, or import one into it.
    State(state::StateArgs),
    /// Print the fcemu.toml equivalent to a Serverless Devs s.yaml or Funcraft template.yml
    /// (default: the one in this directory), with what was left out as comments.
    Import(ImportArgs),
}

/// `fcemu import [FILE]`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The s.yaml / template.yml to import (default: s.yaml, s.yml, template.yml or
    /// template.yaml here).
    pub file: Option<PathBuf>,
}

fn parse_var(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!(
            "{text:?} is not NAME=VALUE, e.g. --var region=cn-hangzhou"
        )),
    }
}

fn import_command(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let path = match args.file {
        Some(p) => p,
        None => manifest::import::find(Path::new(".")).ok_or_else(|| {
            anyhow::anyhow!(
                "no s.yaml, s.yml, template.yml or template.yaml here: name the file, e.g. `fcemu import src/s.yaml`"
            )
        })?,
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let imported = manifest::import::import(&path, &text)?;
    print!("{}", imported.toml);
    Ok(ExitCode::SUCCESS)
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // `fcemu test` prints its own results: fcemu's log lines only when something is wrong.
    let quiet = matches!(cli.command, Command::Test(_));
    init_tracing(
        cli.log_format,
        if quiet { "warn" } else { "fcemu=info,warn" },
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fcemu: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(run(cli))
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> ExitCode {
    manifest::import::set_vars(cli.vars.clone());
    let result = match cli.command {
        Command::Up(args) => up::run(&cli.manifest, args).await,
        Command::Exec(args) => exec::run(&cli.manifest, args).await,
        Command::Invoke(args) => invoke::run(&cli.manifest, args).await,
        Command::Events(args) => events::run(&cli.manifest, args),
        Command::Triggers(args) => triggers::run(args).await,
        Command::Import(args) => import_command(args),
        Command::State(args) => state::run(args).await,
        Command::Test(args) => test::run(&cli.manifest, args).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{}", render_error(&e));
            ExitCode::from(2)
        }
    }
}

fn render_error(e: &anyhow::Error) -> String {
    if let Some(m) = e.downcast_ref::<ManifestError>() {
        if std::io::IsTerminal::is_terminal(&std::io::stderr())
            && std::env::var_os("NO_COLOR").is_none()
        {
            let mut out = String::new();
            let _ = miette::GraphicalReportHandler::new().render_report(&mut out, m);
            return out;
        }
        return m.render_plain();
    }
    format!("fcemu: error: {e:#}")
}

fn init_tracing(format: LogFormat, default_filter: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("FCEMU_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(default_filter));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Loads the manifest at `path`. When `path` is the default name and does not exist, and
/// `allow_missing` is set, returns an empty application rooted at the current directory.
pub(crate) fn load_plan(path: &Path, allow_missing: bool) -> anyhow::Result<(AppPlan, bool)> {
    let path = resolve_manifest(path);
    if allow_missing && path == Path::new(manifest::MANIFEST_FILE) && !path.exists() {
        let cwd = std::env::current_dir()?;
        return Ok((manifest::empty(&cwd), false));
    }
    let plan = manifest::load(&path)?;
    if manifest::import::is_yaml(&path) {
        report_import(&path);
    }
    Ok((plan, true))
}

/// The manifest to load: `path`, or when it is the default `fcemu.toml` and missing, the
/// `s.yaml` / `s.yml` / `template.yml` / `template.yaml` of the current directory.
pub(crate) fn resolve_manifest(path: &Path) -> PathBuf {
    if path == Path::new(manifest::MANIFEST_FILE)
        && !path.exists()
        && let Some(found) = manifest::import::find(Path::new("."))
    {
        return found
            .strip_prefix(".")
            .map(Path::to_path_buf)
            .unwrap_or(found);
    }
    path.to_path_buf()
}

/// Says which file was imported and what it left out.
fn report_import(path: &Path) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    let Ok(imported) = manifest::import::import(path, &text) else {
        return;
    };
    let kind = match imported.format {
        manifest::import::Format::ServerlessDevs => "Serverless Devs",
        manifest::import::Format::Funcraft => "Funcraft",
    };
    eprintln!(
        "fcemu: using {} ({kind}; `fcemu import {}` prints it as fcemu.toml)",
        path.display(),
        path.display()
    );
    if !imported.ignored.is_empty() {
        eprintln!(
            "fcemu: left out (no local meaning): {}",
            imported.ignored.join("; ")
        );
    }
}
