//! Running a function's `build` command: through the shell, from the manifest's directory, with
//! its output streamed to the terminal line by line as it comes, and a spinner with the elapsed
//! time under it while it runs (on a terminal; elsewhere a line every [`PROGRESS_EVERY`]).

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
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

/// How often a build still running says so when stderr is not a terminal.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Spinner frames, one per [`SPIN_EVERY`].
const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const SPIN_EVERY: Duration = Duration::from_millis(100);

/// Where a build's output and progress go: stderr, with the spinner line (on a terminal) erased
/// before each output line and redrawn by the next tick.
#[derive(Debug)]
struct Console {
    prefix: String,
    label: String,
    started: Instant,
    spinner: bool,
}

impl Console {
    fn line(&self, line: &str) {
        let erase = if self.spinner { "\r\x1b[2K" } else { "" };
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{erase}{}{line}", self.prefix);
    }

    fn tick(&self, frame: usize) {
        let secs = self.started.elapsed().as_secs_f64();
        let mut err = std::io::stderr().lock();
        let _ = if self.spinner {
            write!(
                err,
                "\r\x1b[2K{} {} {secs:.1}s",
                FRAMES[frame % FRAMES.len()],
                self.label
            )
        } else {
            writeln!(err, "{}still running ({secs:.0} s)", self.prefix)
        };
        let _ = err.flush();
    }

    fn clear(&self) {
        if self.spinner {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }

    /// Ticks until dropped (the returned task is aborted by the caller).
    fn ticker(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let console = self.clone();
        let every = if console.spinner {
            SPIN_EVERY
        } else {
            PROGRESS_EVERY
        };
        tokio::spawn(async move {
            let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            for frame in 0.. {
                interval.tick().await;
                console.tick(frame);
            }
        })
    }
}

/// Runs `command` with `sh -c` in `dir`, printing each line of its output to stderr after
/// `prefix` and `label` with a spinner while it runs. The process is killed if the returned
/// future is dropped.
pub async fn run(command: &str, dir: &Path, prefix: &str, label: &str) -> BuildResult {
    let started = Instant::now();
    let console = Arc::new(Console {
        prefix: prefix.to_string(),
        label: label.to_string(),
        started,
        spinner: std::io::stderr().is_terminal(),
    });
    let ticker = console.ticker();
    let result = run_with(command, dir, &console).await;
    ticker.abort();
    console.clear();
    result
}

async fn run_with(command: &str, dir: &Path, console: &Arc<Console>) -> BuildResult {
    let started = console.started;
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
    let out = child.stdout.take().map(|o| stream(o, console.clone()));
    let err = child.stderr.take().map(|e| stream(e, console.clone()));
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
    console: Arc<Console>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(pipe).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            console.line(&line);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reports_success_failure_and_unstartable_commands() {
        let dir = tempfile::tempdir().unwrap();
        let ok = run("echo built > out.txt", dir.path(), "  | ", "building").await;
        assert!(ok.success, "{ok:?}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("out.txt")).unwrap(),
            "built\n"
        );
        let failed = run("echo oops >&2; exit 3", dir.path(), "  | ", "building").await;
        assert!(!failed.success);
        assert_eq!(failed.status, "exit status 3");
    }
}
