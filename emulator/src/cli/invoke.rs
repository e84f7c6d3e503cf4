//! `fcemu invoke`: run one function once, without a server.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Args;
use fcemu_core::{Clock, DataDir, IdGen};

use crate::runtime::{
    Invocation, InvocationStatus, ModuleCache, Runtime, RuntimeOptions, WhenBusy,
};

/// Options of `fcemu invoke`.
#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// The function to run, as named in the manifest.
    pub function: String,

    /// The event: a file, or `-` for stdin. Without it the event is empty.
    #[arg(short, long, value_name = "FILE|-")]
    pub event: Option<PathBuf>,

    /// Qualifier reported to the function.
    #[arg(long, default_value = "LATEST")]
    pub qualifier: String,

    /// Virtual clock, sequential request id, seeded randomness.
    #[arg(long)]
    pub deterministic: bool,

    /// Print the whole outcome (status, body, logs, duration) as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

pub(super) async fn run(manifest: &Path, args: InvokeArgs) -> anyhow::Result<ExitCode> {
    let (plan, _) = super::load_plan(manifest, false)?;
    let Some(f) = plan.functions.get(&args.function) else {
        let names: Vec<String> = plan.functions.keys().cloned().collect();
        let hint = match names.as_slice() {
            [] => format!(
                "{} declares no functions; add a [functions.{}] table",
                manifest.display(),
                args.function
            ),
            _ => format!("functions in {}: {}", manifest.display(), names.join(", ")),
        };
        bail!("no function named {:?}; {hint}", args.function);
    };
    let event = read_event(args.event.as_deref())?;
    let scratch = DataDir::temporary("invoke")?;
    let (clock, ids) = if args.deterministic {
        (Clock::deterministic(), IdGen::sequential())
    } else {
        (Clock::system(), IdGen::random())
    };
    let runtime = Runtime::new(RuntimeOptions {
        cache: ModuleCache::from_env(),
        clock,
        ids: ids.clone(),
        deterministic: args.deterministic,
        scratch_dir: scratch.path().to_path_buf(),
        extra_env: Vec::new(),
        own_endpoints: Vec::new(),
        instance_idle: crate::runtime::DEFAULT_INSTANCE_IDLE,
    })
    .map_err(|e| anyhow::anyhow!("cannot start the WebAssembly runtime: {e:#}"))?;
    let app = Arc::new(plan.clone());
    let loaded = runtime.load(&app, f)?;
    let inv = Invocation {
        request_id: ids.uuid(),
        event,
        qualifier: args.qualifier.clone(),
        depth: 0,
        caused_by: None,
        retry: 0,
    };
    let outcome = runtime.invoke(&loaded, inv, WhenBusy::Wait).await?;
    if args.json {
        let value = serde_json::json!({
            "requestId": outcome.request_id,
            "function": outcome.function,
            "status": outcome.status,
            "errorType": outcome.status.error_type_header(),
            "body": String::from_utf8_lossy(&outcome.body),
            "logs": outcome.log_text(),
            "durationMs": outcome.duration.as_secs_f64() * 1000.0,
            "billedMs": outcome.billed_ms(),
            "maxMemoryBytes": outcome.max_memory_bytes,
        });
        println!("{value}");
    } else {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(outcome.log_text().as_bytes());
        let _ = writeln!(err, "{}", outcome.summary_line());
        if let Some(t) = outcome.status.error_type_header() {
            let _ = writeln!(err, "x-fc-error-type: {t}");
        }
        drop(err);
        let mut out = std::io::stdout().lock();
        out.write_all(&outcome.body)?;
        if !outcome.body.ends_with(b"\n") && std::io::IsTerminal::is_terminal(&out) {
            out.write_all(b"\n")?;
        }
        out.flush()?;
    }
    Ok(match outcome.status {
        InvocationStatus::Success => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    })
}

fn read_event(path: Option<&Path>) -> anyhow::Result<Bytes> {
    match path {
        None => Ok(Bytes::new()),
        Some(p) if p == Path::new("-") => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("cannot read the event from stdin")?;
            Ok(buf.into())
        }
        Some(p) => Ok(std::fs::read(p)
            .with_context(|| format!("cannot read event file {}", p.display()))?
            .into()),
    }
}
