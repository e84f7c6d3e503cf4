//! `fcemu up`: serve the application until Ctrl-C or SIGTERM.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde_json::json;
use tokio::net::TcpListener;

use crate::server::{Emulator, StartOptions};

/// Default services (edge) port.
const DEFAULT_SERVICES_PORT: u16 = 9000;
/// Default gateway port.
const DEFAULT_GATEWAY_PORT: u16 = 8080;

/// Options of `fcemu up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Address of the services port (OSS/S3, Table Store, Log Service, FC API, admin).
    /// Port 0 picks a free port; the ready line says which.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Address of the API Gateway (the app's HTTP routes). Defaults to port 8080, or to port 0
    /// when --listen uses port 0.
    #[arg(long, value_name = "ADDR")]
    pub gateway: Option<SocketAddr>,

    /// Interface to listen on when --listen is not given. Anything but loopback exposes the
    /// emulator to the network.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub host: IpAddr,

    /// Also accept this host name in `Host` on the admin API (repeatable): by default only
    /// loopback names and the listen address are, so a page reaching fcemu through its own DNS
    /// name (DNS rebinding) is refused.
    #[arg(long = "allow-host", value_name = "NAME")]
    pub allow_hosts: Vec<String>,

    /// Load this state document (from `fcemu state export`) before serving: buckets, objects,
    /// tables, rows, logstores and logs are added to what the manifest creates.
    #[arg(long = "import", value_name = "FILE")]
    pub import: Option<PathBuf>,

    /// Also write the addresses as JSON to this file once ready.
    #[arg(long, value_name = "PATH")]
    pub ready_file: Option<PathBuf>,

    /// Keep no state: everything lives in a temporary directory removed at exit.
    #[arg(long)]
    pub in_memory: bool,

    /// Where state is kept (default: .fcemu/ beside the manifest). Takes precedence over
    /// --in-memory.
    #[arg(long, value_name = "DIR", env = "FCEMU_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Verify request signatures (OSS V1/V4, S3 SigV4, Table Store, Log Service V1/V4, the FC
    /// API) against this key pair instead of accepting any credentials.
    #[arg(long, value_name = "ACCESS_KEY_ID:SECRET", env = "FCEMU_STRICT_AUTH")]
    pub strict_auth: Option<String>,

    /// A key pair your clients use (repeatable). Any credentials are accepted anyway; Table
    /// Store clients also check that responses are signed with their secret, which fcemu can
    /// only do for secrets it knows (these, ALIBABA_CLOUD_ACCESS_KEY_SECRET from this
    /// environment, and the functions' own credentials).
    #[arg(long = "credentials", value_name = "ACCESS_KEY_ID:SECRET")]
    pub credentials: Vec<String>,

    /// Stop a chain of invocations after this many trigger hops caused by functions' own writes
    /// (a function writing where its own trigger listens would otherwise run forever).
    #[arg(long, value_name = "N", default_value_t = crate::triggers::DEFAULT_MAX_CHAIN_DEPTH)]
    pub max_trigger_depth: u32,

    /// Virtual clock starting at 2024-01-01T00:00:00Z, sequential ids, seeded randomness:
    /// the same inputs give byte-identical outputs.
    #[arg(long)]
    pub deterministic: bool,

    /// How long an instance of a Node.js, Python or custom-runtime function stays warm
    /// without requests before it is stopped (its pre-stop hook runs), e.g. 30s, 5m.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = crate::triggers::timer::parse_duration)]
    pub instance_idle: std::time::Duration,

    /// Do not watch the manifest and the functions' files: serve what was loaded at start
    /// (for CI, where nothing changes).
    #[arg(long)]
    pub no_watch: bool,
}

pub(super) async fn run(manifest: &Path, args: UpArgs) -> anyhow::Result<ExitCode> {
    let emulator = start(manifest, &args, !args.no_watch).await?;
    let (services, gateway) = (emulator.services_url(), emulator.gateway_url());
    eprintln!(
        "fcemu: SDKs that put names in the host (Log Service, OSS virtual-host) work with HTTP_PROXY={services}"
    );
    println!("fcemu: ready gateway={gateway} services={services} ui={services}/_fcemu/ui");
    shutdown_signal().await;
    eprintln!("fcemu: shutting down");
    emulator.shutdown().await?;
    Ok(ExitCode::SUCCESS)
}

/// Splits `ACCESS_KEY_ID:SECRET`, naming the flag when it is not that.
fn key_pair(text: &str, flag: &str) -> anyhow::Result<(String, String)> {
    match text.split_once(':') {
        Some((id, secret)) if !id.is_empty() && !secret.is_empty() => {
            Ok((id.to_string(), secret.to_string()))
        }
        _ => anyhow::bail!("{flag} takes ACCESS_KEY_ID:SECRET, e.g. {flag} mykey:mysecret"),
    }
}

/// Starts the emulator as `args` say, prints what it loaded and its routes, and writes the
/// ready file; `watch` turns on hot reload.
pub(super) async fn start(manifest: &Path, args: &UpArgs, watch: bool) -> anyhow::Result<Emulator> {
    let manifest = &super::resolve_manifest(manifest);
    let (plan, found) = super::load_plan(manifest, true)?;
    if !found {
        eprintln!(
            "fcemu: no {} here; serving an empty application (storage services only)",
            manifest.display()
        );
    }
    let addr = args
        .listen
        .unwrap_or(SocketAddr::new(args.host, DEFAULT_SERVICES_PORT));
    let listener = bind(addr, "--listen").await?;
    let gateway_addr = args.gateway.unwrap_or_else(|| {
        let port = if addr.port() == 0 {
            0
        } else {
            DEFAULT_GATEWAY_PORT
        };
        SocketAddr::new(addr.ip(), port)
    });
    let gateway_listener = bind(gateway_addr, "--gateway").await?;
    let opts = StartOptions {
        in_memory: args.in_memory && args.data_dir.is_none(),
        deterministic: args.deterministic,
        data_dir: args.data_dir.clone(),
        max_trigger_depth: args.max_trigger_depth,
        allow_hosts: args.allow_hosts.clone(),
        strict_auth: args
            .strict_auth
            .as_deref()
            .map(|p| key_pair(p, "--strict-auth"))
            .transpose()?,
        credentials: args
            .credentials
            .iter()
            .map(|p| key_pair(p, "--credentials"))
            .collect::<anyhow::Result<_>>()?,
        report: true,
        instance_idle: args.instance_idle,
        watch: watch.then(|| manifest.to_path_buf()),
        ..StartOptions::default()
    };
    let emulator = Emulator::start(plan, listener, gateway_listener, opts).await?;
    for f in emulator.app.functions().values() {
        match f.native() {
            Some(n) => {
                let runs_on = match &n.interpreter {
                    Some(i) => format!("{} on {} ({})", n.plan.label, i.path.display(), i.version),
                    None => format!("custom runtime: {}", n.plan.command.join(" ")),
                };
                eprintln!("fcemu: loaded {} ({runs_on})", f.plan.name);
                if let Some(w) = n.interpreter.as_ref().and_then(|i| i.warning.as_ref()) {
                    eprintln!("fcemu: warning: function {}: {w}", f.plan.name);
                }
            }
            None => eprintln!(
                "fcemu: loaded {} ({:?}, {}, {:.1} ms)",
                f.plan.name,
                f.kind,
                match f.cache {
                    crate::runtime::CacheOutcome::Hit => "cached",
                    crate::runtime::CacheOutcome::Compiled => "compiled",
                },
                f.load_time.as_secs_f64() * 1000.0
            ),
        }
    }
    for (name, err) in &emulator.load_failures {
        eprintln!("fcemu: function {name} is not available: {err}");
    }
    if let Some(r) = &emulator.reloader {
        eprintln!("fcemu: {} (--no-watch turns this off)", r.summary());
    }
    let services = emulator.services_url();
    let gateway = emulator.gateway_url();
    let routes = crate::gateway::RouteTable::from_plan(&emulator.app.plan());
    for r in routes.routes() {
        let methods = if r.methods.is_empty() {
            "ANY".to_string()
        } else {
            r.methods.join(",")
        };
        eprintln!(
            "fcemu: route {methods} {gateway}{} -> {}",
            r.template, r.function
        );
    }
    let port = emulator.gateway_addr.port();
    let prefixes = routes.prefixes();
    for (function, prefix) in &prefixes {
        let also_root = if prefixes.len() == 1 {
            format!(", {gateway}/")
        } else {
            String::new()
        };
        eprintln!(
            "fcemu: {function} answers at {gateway}{prefix}/, http://{function}.localhost:{port}/{also_root}"
        );
    }
    let plan = emulator.app.plan();
    for (name, t) in &plan.tables {
        let stream = if t.stream { ", with a stream" } else { "" };
        eprintln!("fcemu: table {}/{name}{stream}", t.instance);
    }
    for l in plan.logstores.values() {
        eprintln!(
            "fcemu: logstore {}/{} ({} shards)",
            l.project, l.logstore, l.shards
        );
    }
    if let Some(path) = &args.import {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --import {}", path.display()))?;
        let state =
            crate::state::parse(&text).with_context(|| format!("--import {}", path.display()))?;
        let done = crate::state::import(&emulator.services, &state)
            .await
            .with_context(|| format!("--import {}", path.display()))?;
        eprintln!(
            "fcemu: imported {} objects, {} rows, {} logs from {}",
            done.objects,
            done.rows,
            done.logs,
            path.display()
        );
    }
    if let Some(path) = &args.ready_file {
        let ui = format!("{services}/_fcemu/ui");
        let body = json!({ "gateway": gateway, "services": services, "ui": ui, "pid": std::process::id() });
        write_ready_file(path, &body.to_string())
            .with_context(|| format!("cannot write --ready-file {}", path.display()))?;
    }
    Ok(emulator)
}

async fn bind(addr: SocketAddr, flag: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (is another fcemu running? pass {flag} with another port, or port 0)"))
}

/// Writes the file whole, then renames it into place, so a reader never sees half of it.
fn write_ready_file(path: &Path, body: &str) -> std::io::Result<()> {
    super::state::write_replacing(path, body.as_bytes())
}

/// Resolves on Ctrl-C or SIGTERM.
pub(super) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
