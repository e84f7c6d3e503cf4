//! `fcemu test [PATH...]`: runs case files (default `tests/fcemu/` beside the manifest), each
//! against a fresh state, and compares each with its snapshot (`snapshots/<case>.snap` beside
//! it); a mismatch prints a diff and writes `<case>.snap.new`, `--accept` writes the `.snap`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::testing::{case, run::Runner, snapshot};

/// `fcemu test` arguments.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Case files or directories of them (default: tests/fcemu/ beside the manifest).
    pub paths: Vec<PathBuf>,
    /// Write the snapshots of every case as it runs now (and remove stale .snap.new files).
    #[arg(long)]
    pub accept: bool,
    /// Only cases whose path contains this.
    #[arg(long, value_name = "SUBSTRING")]
    pub filter: Option<String>,
    /// Also write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

/// How one case went.
struct Outcome {
    name: String,
    path: PathBuf,
    time: Duration,
    failure: Option<String>,
}

pub(super) async fn run(manifest: &Path, args: TestArgs) -> anyhow::Result<ExitCode> {
    let manifest = super::resolve_manifest(manifest);
    let roots = if args.paths.is_empty() {
        let dir = manifest.parent().unwrap_or(Path::new("."));
        vec![dir.join("tests/fcemu")]
    } else {
        args.paths.clone()
    };
    let mut files = Vec::new();
    for r in &roots {
        collect(r, &mut files)?;
    }
    if let Some(f) = &args.filter {
        files.retain(|p| p.to_string_lossy().contains(f.as_str()));
    }
    let color = std::io::IsTerminal::is_terminal(&std::io::stdout())
        && std::env::var_os("NO_COLOR").is_none();
    let mut outcomes = Vec::new();
    let mut runners: Vec<(PathBuf, Result<Runner, String>)> = Vec::new();
    for file in files {
        let started = Instant::now();
        let name = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let failure = run_case(&file, &name, &mut runners, args.accept, color).await;
        let o = Outcome {
            name,
            path: file,
            time: started.elapsed(),
            failure,
        };
        let mark = if o.failure.is_some() {
            "FAILED"
        } else {
            "ok    "
        };
        println!(
            "{mark} {} ({:.0} ms)",
            o.path.display(),
            o.time.as_secs_f64() * 1000.0
        );
        if let Some(f) = &o.failure {
            println!("{}", indent(f));
        }
        outcomes.push(o);
    }
    let failed = outcomes.iter().filter(|o| o.failure.is_some()).count();
    println!("{} passed, {failed} failed", outcomes.len() - failed);
    if let Some(path) = &args.junit {
        std::fs::write(path, junit(&outcomes))
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    }
    for (_, r) in runners {
        if let Ok(r) = r {
            r.shutdown().await;
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The case files under `root` (a file, or a directory searched recursively), sorted.
fn collect(root: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if root.is_file() {
        out.push(root.to_path_buf());
        return Ok(());
    }
    if !root.is_dir() {
        anyhow::bail!(
            "{} does not exist: write cases there, or name case files or directories",
            root.display()
        );
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(root)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "snapshots") {
                collect(&p, out)?;
            }
        } else if p.extension().is_some_and(|e| e == "toml") {
            out.push(p);
        }
    }
    Ok(())
}

/// Runs one case and checks its snapshot; the failure, if any.
async fn run_case(
    file: &Path,
    name: &str,
    runners: &mut Vec<(PathBuf, Result<Runner, String>)>,
    accept: bool,
    color: bool,
) -> Option<String> {
    let c = match case::load(file) {
        Ok(c) => c,
        Err(e) => return Some(e.to_string()),
    };
    let manifest = match case::manifest_of(file, &c) {
        Ok(m) => m,
        Err(e) => return Some(e.to_string()),
    };
    let manifest = std::path::absolute(&manifest).unwrap_or(manifest);
    if !runners.iter().any(|(m, _)| m == &manifest) {
        let started = match crate::manifest::load(&manifest) {
            Ok(plan) => Runner::start(plan).await.map_err(|e| format!("{e:#}")),
            Err(e) => Err(e.render_plain()),
        };
        runners.push((manifest.clone(), started));
    }
    let runner = match runners.iter_mut().find(|(m, _)| m == &manifest) {
        Some((_, Ok(r))) => r,
        Some((_, Err(e))) => return Some(format!("{}: {e}", manifest.display())),
        None => return Some("no emulator".into()),
    };
    if let Some(problem) = runner.load_failures().first() {
        return Some(problem.clone());
    }
    let content = match runner.run(file, &c).await {
        Ok(v) => v,
        Err(e) => return Some(e),
    };
    let dir = file.parent().unwrap_or(Path::new("."));
    let snap = dir.join("snapshots").join(format!("{name}.snap"));
    let new = dir.join("snapshots").join(format!("{name}.snap.new"));
    // The case's path from its manifest's directory: the same wherever `fcemu test` runs from.
    let source = std::path::absolute(file)
        .ok()
        .and_then(|f| {
            let root = manifest.parent()?;
            f.strip_prefix(root).ok().map(|p| p.display().to_string())
        })
        .unwrap_or_else(|| file.display().to_string());
    let text = snapshot::file_text(&source, name, &content);
    let write = |path: &Path, text: &str| -> Result<(), String> {
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    if accept {
        let _ = std::fs::remove_file(&new);
        return write(&snap, &text).err();
    }
    let expected = match std::fs::read_to_string(&snap) {
        Ok(t) => t,
        Err(_) => {
            return Some(match write(&new, &text) {
                Ok(()) => format!(
                    "no snapshot yet: wrote {} (review it, then run with --accept or rename it to .snap)",
                    new.display()
                ),
                Err(e) => e,
            });
        }
    };
    if snapshot::content_of(&expected) == snapshot::content_of(&text) {
        let _ = std::fs::remove_file(&new);
        return None;
    }
    let diff = snapshot::diff(
        snapshot::content_of(&expected),
        snapshot::content_of(&text),
        color,
    );
    let wrote = match write(&new, &text) {
        Ok(()) => format!("wrote {}", new.display()),
        Err(e) => e,
    };
    Some(format!(
        "snapshot {} differs (- expected, + now):\n{diff}{wrote}; --accept takes the new one",
        snap.display()
    ))
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A JUnit XML report of the outcomes.
fn junit(outcomes: &[Outcome]) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let failures = outcomes.iter().filter(|o| o.failure.is_some()).count();
    let total: f64 = outcomes.iter().map(|o| o.time.as_secs_f64()).sum();
    let mut x = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"fcemu test\" tests=\"{}\" failures=\"{failures}\" time=\"{total:.3}\">\n",
        outcomes.len()
    );
    for o in outcomes {
        x.push_str(&format!(
            "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\"",
            esc(&o.name),
            esc(&o.path.display().to_string()),
            o.time.as_secs_f64()
        ));
        match &o.failure {
            None => x.push_str("/>\n"),
            Some(f) => {
                // ANSI colors do not belong in XML.
                let plain: String = strip_ansi(f);
                x.push_str(&format!(
                    ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                    esc(plain.lines().next().unwrap_or("")),
                    esc(&plain)
                ));
            }
        }
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for n in chars.by_ref() {
                if n == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
