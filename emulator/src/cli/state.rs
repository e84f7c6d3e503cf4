//! `fcemu state export FILE` / `fcemu state import FILE`: a running emulator's buckets, objects,
//! tables, rows, logstores and logs as one JSON document ([`crate::state`]), and back.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

/// Options of `fcemu state`.
#[derive(Debug, Args)]
pub struct StateArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: StateAction,

    /// The running emulator's services endpoint.
    #[arg(
        long,
        global = true,
        env = "FCEMU_ENDPOINT",
        default_value = "http://127.0.0.1:9000"
    )]
    pub services: String,
}

/// `export` or `import`.
#[derive(Debug, Subcommand)]
pub enum StateAction {
    /// Write the emulator's state to FILE (`-` for stdout). The file is written beside and
    /// renamed into place, so a failed export leaves the previous one as it was.
    Export {
        /// Where to write it.
        file: PathBuf,
    },
    /// Add the state in FILE to the emulator's (missing buckets, tables and logstores are
    /// created, objects and rows overwritten, logs appended). A bad file imports nothing.
    Import {
        /// The document (`-` for stdin).
        file: PathBuf,
    },
}

fn unreachable(services: &str, e: reqwest::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "cannot reach fcemu at {services} ({e}); start it with `fcemu up`, or pass --services"
    )
}

pub(super) async fn run(args: StateArgs) -> anyhow::Result<ExitCode> {
    let url = format!("{}/_fcemu/state", args.services.trim_end_matches('/'));
    let client = reqwest::Client::new();
    match args.action {
        StateAction::Export { file } => {
            let resp = client
                .get(&url)
                .send()
                .await
                .map_err(|e| unreachable(&args.services, e))?;
            let status = resp.status();
            let body = resp.bytes().await?;
            if !status.is_success() {
                anyhow::bail!(
                    "export failed ({status}): {}",
                    String::from_utf8_lossy(&body)
                );
            }
            let state: serde_json::Value = serde_json::from_slice(&body)?;
            let text = serde_json::to_string_pretty(&state)? + "\n";
            if file == Path::new("-") {
                print!("{text}");
            } else {
                write_replacing(&file, text.as_bytes())
                    .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", file.display()))?;
                eprintln!("fcemu: state written to {}", file.display());
            }
        }
        StateAction::Import { file } => {
            let text = if file == Path::new("-") {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&file)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?
            };
            crate::state::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e:#}", file.display()))?;
            let resp = client
                .post(&url)
                .body(text)
                .send()
                .await
                .map_err(|e| unreachable(&args.services, e))?;
            let status = resp.status();
            let body: serde_json::Value = resp.json().await?;
            if !status.is_success() {
                anyhow::bail!(
                    "import failed ({status}): {}",
                    body["message"].as_str().unwrap_or_default()
                );
            }
            let n = &body["imported"];
            eprintln!(
                "fcemu: imported {} objects, {} rows, {} logs from {}",
                n["objects"],
                n["rows"],
                n["logs"],
                file.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `bytes` to a temporary file beside `path`, syncs it and renames it over `path`.
pub fn write_replacing(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
