//! `fcemu exec -- COMMAND`: start the emulator, run a command against it (a test suite, a
//! script), stop the emulator, and exit with the command's status. For CI, where nothing else
//! should have to start, wait for and stop a server.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use super::up::{UpArgs, shutdown_signal, start};

/// Options of `fcemu exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub up: UpArgs,

    /// The command to run and its arguments, after `--`. It gets FCEMU_ENDPOINT (services),
    /// FCEMU_GATEWAY (the app's routes), HTTP_PROXY (the services port, for SDKs that put
    /// names in the host), AWS_ENDPOINT_URL, and test credentials unless already set; Python
    /// programs also get a sitecustomize (on PYTHONPATH) that sends plain-http connections to
    /// `*.aliyuncs.com` to the services port.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

/// The environment the command runs with: `(name, value, replace)`; entries with `replace:
/// false` keep a value the caller already set.
pub fn command_env(services: &str, gateway: &str) -> Vec<(&'static str, String, bool)> {
    vec![
        ("FCEMU_ENDPOINT", services.to_string(), true),
        ("FCEMU_GATEWAY", gateway.to_string(), true),
        ("HTTP_PROXY", services.to_string(), true),
        ("http_proxy", services.to_string(), true),
        ("AWS_ENDPOINT_URL", services.to_string(), true),
        ("AWS_ACCESS_KEY_ID", "fcemu".into(), false),
        ("AWS_SECRET_ACCESS_KEY", "fcemu".into(), false),
        ("AWS_DEFAULT_REGION", "cn-hangzhou".into(), false),
        ("ALIBABA_CLOUD_ACCESS_KEY_ID", "fcemu".into(), false),
        ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "fcemu".into(), false),
    ]
}

pub(super) async fn run(manifest: &Path, mut args: ExecArgs) -> anyhow::Result<ExitCode> {
    // Free ports unless told otherwise, so parallel jobs on one machine never collide.
    if args.up.listen.is_none() {
        args.up.listen = Some(std::net::SocketAddr::new(args.up.host, 0));
    }
    let emulator = start(manifest, &args.up, false).await?;
    let (services, gateway) = (emulator.services_url(), emulator.gateway_url());
    let (program, rest) = args
        .command
        .split_first()
        .ok_or_else(|| anyhow::anyhow!("no command given; write it after --"))?;
    let mut command = tokio::process::Command::new(program);
    command.args(rest).kill_on_drop(true);
    for (name, value, replace) in command_env(&services, &gateway) {
        if replace || std::env::var_os(name).is_none() {
            command.env(name, value);
        }
    }
    // Python programs reach fcemu at the region's real endpoints too, even through SDKs that
    // ignore HTTP_PROXY (a sitecustomize on PYTHONPATH).
    let site = std::env::temp_dir().join(format!("fcemu-exec-{}", std::process::id()));
    match crate::runtime::native::write_sitecustomize(&site) {
        Ok(()) => {
            let mut path = std::ffi::OsString::from(&site);
            if let Some(old) = std::env::var_os("PYTHONPATH").filter(|p| !p.is_empty()) {
                path.push(":");
                path.push(old);
            }
            command.env("PYTHONPATH", path);
        }
        Err(e) => tracing::warn!("cannot write {}: {e}", site.display()),
    }
    eprintln!("fcemu: ready gateway={gateway} services={services}; running {program}");
    let mut child = command
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot run {program}: {e}"))?;
    let status = tokio::select! {
        status = child.wait() => status?,
        _ = shutdown_signal() => {
            let _ = child.start_kill();
            child.wait().await?
        }
    };
    let _ = std::fs::remove_dir_all(&site);
    eprintln!("fcemu: {program} ended ({status}); shutting down");
    emulator.shutdown().await?;
    Ok(exit_code(status))
}

fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    if let Some(code) = status.code() {
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return ExitCode::from(u8::try_from(128 + signal).unwrap_or(1));
        }
    }
    ExitCode::FAILURE
}
