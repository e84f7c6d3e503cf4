//! Running a function's `build` command: through the shell, from the manifest's directory, with
//! its output streamed to the terminal line by line as it comes.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;

/// How a build ended.
#[derive(Debug)]
pub struct BuildResult {
    /// Whether the command exited with status 0.
    pub success: bool,
    /// What ended it: `exit status 0`, `exit status 101`, `could not start: ...`.
    pub status: String,
    /// How long it ran.
    pub elapsed: Duration,
}

/// Runs `command` with `sh -c` in `dir`, printing each line of its output to stderr after
/// `prefix`. The process is killed if the returned future is dropped.
pub async fn run(command: &str, dir: &Path, prefix: &str) -> BuildResult {
    let started = Instant::now();
    let spawned = shell(command)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            return BuildResult {
                success: false,
                status: format!("could not start: {e}"),
                elapsed: started.elapsed(),
            };
        }
    };
    let out = child.stdout.take().map(|o| stream(o, prefix.to_string()));
    let err = child.stderr.take().map(|e| stream(e, prefix.to_string()));
    let status = child.wait().await;
    // The pipes close when the command (and anything it left holding them) exits.
    for task in [out, err].into_iter().flatten() {
        let _ = task.await;
    }
    let elapsed = started.elapsed();
    match status {
        Ok(s) => BuildResult {
            success: s.success(),
            status: match s.code() {
                Some(code) => format!("exit status {code}"),
                None => format!("{s}"),
            },
            elapsed,
        },
        Err(e) => BuildResult {
            success: false,
            status: format!("could not wait for it: {e}"),
            elapsed,
        },
    }
}

fn shell(command: &str) -> Command {
    if cfg!(windows) {
        let mut c = Command::new("cmd");
        c.arg("/C").arg(command);
        c
    } else {
        let mut c = Command::new("sh");
        c.arg("-c").arg(command);
        c
    }
}

fn stream(
    pipe: impl AsyncRead + Unpin + Send + 'static,
    prefix: String,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(pipe).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("{prefix}{line}");
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reports_success_failure_and_unstartable_commands() {
        let dir = tempfile::tempdir().unwrap();
        let ok = run("echo built > out.txt", dir.path(), "  | ").await;
        assert!(ok.success, "{ok:?}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("out.txt")).unwrap(),
            "built\n"
        );
        let failed = run("echo oops >&2; exit 3", dir.path(), "  | ").await;
        assert!(!failed.success);
        assert_eq!(failed.status, "exit status 3");
    }
}
