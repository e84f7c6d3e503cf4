//! Hot reload (DESIGN §7): watches the manifest, every function's code file and the sources of
//! functions with a build command; runs builds, compiles new code off the request path, and
//! swaps it in through [`App::apply_plan`] and [`App::reload_function`]. In-flight invocations
//! finish on the code they started with.
//!
//! A file that fails to load right after an event may still be being written, so its error is
//! held back for [`ERROR_SETTLE`]: the next event of the same file retries and discards it. A
//! file that stays bad gets its error printed while the previous version keeps serving.

mod build;
mod debounce;
mod targets;
mod watcher;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::app::{App, FunctionReload, Optimize, ReloadReport};
use crate::manifest::{self, AppPlan};
use crate::runtime::{CacheOutcome, Tier};
use debounce::{Debouncer, Due, FileEvent};
use targets::Targets;
use watcher::DirWatcher;

/// How long a load error waits for another event of the same file before it is printed.
pub const ERROR_SETTLE: Duration = Duration::from_millis(300);

/// A running watcher. Dropping it stops watching (and kills a build in progress).
pub struct Reloader {
    task: JoinHandle<()>,
    summary: String,
}

impl Reloader {
    /// Starts watching the manifest at `manifest` (which need not exist yet) and everything its
    /// plan names. The watches are in place when this returns. Must be called inside a tokio
    /// runtime.
    pub fn start(app: Arc<App>, manifest: PathBuf) -> notify::Result<Reloader> {
        let manifest = std::path::absolute(&manifest).unwrap_or(manifest);
        let (tx, rx) = mpsc::unbounded_channel();
        let watcher = DirWatcher::new(tx.clone())?;
        let plan = app.plan();
        let (targets, _) = Targets::new(&manifest, &plan);
        let mut state = State {
            app,
            manifest,
            plan,
            targets,
            watcher,
            rx,
            tx,
            debouncer: Debouncer::default(),
            held: BTreeMap::new(),
            optimizing: None,
        };
        state.refresh_targets(true);
        let summary = state.summary();
        let task = tokio::spawn(state.run());
        Ok(Reloader { task, summary })
    }

    /// What is watched, for the startup message.
    pub fn summary(&self) -> &str {
        &self.summary
    }
}

impl Drop for Reloader {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a held-back error is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Subject {
    Manifest,
    Function(String),
}

/// Something to do once a file has stayed as it is for [`ERROR_SETTLE`].
#[derive(Debug)]
enum Held {
    /// Print this error.
    Error(String),
    /// Apply the manifest although it is empty (an editor may have truncated it to rewrite it).
    ApplyEmptyManifest,
}

struct State {
    app: Arc<App>,
    manifest: PathBuf,
    /// The plan `targets` was computed from.
    plan: Arc<AppPlan>,
    targets: Targets,
    watcher: DirWatcher,
    rx: mpsc::UnboundedReceiver<FileEvent>,
    tx: mpsc::UnboundedSender<FileEvent>,
    debouncer: Debouncer,
    held: BTreeMap<Subject, (Instant, Held)>,
    /// The latest background optimization; the next one waits for it.
    optimizing: Option<JoinHandle<()>>,
}

impl State {
    async fn run(mut self) {
        self.build_missing(Instant::now()).await;
        loop {
            let next = [
                self.debouncer.next_due(),
                self.held.values().map(|(t, _)| *t).min(),
            ]
            .into_iter()
            .flatten()
            .min();
            let sleep = tokio::time::sleep_until(
                next.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))
                    .into(),
            );
            tokio::select! {
                ev = self.rx.recv() => match ev {
                    Some(ev) => self.note(ev),
                    None => return,
                },
                _ = sleep => {}
            }
            while let Ok(ev) = self.rx.try_recv() {
                self.note(ev);
            }
            let due = self.debouncer.take_due(Instant::now());
            if !due.is_empty() {
                self.handle(due).await;
                self.refresh_targets(false);
            }
            self.release_held().await;
        }
    }

    /// Records an event; a new event of a file discards the error held back for it.
    fn note(&mut self, ev: FileEvent) {
        if self.targets.is_manifest(&ev.path) {
            self.held.remove(&Subject::Manifest);
        }
        for f in self.targets.code_of(&ev.path) {
            self.held.remove(&Subject::Function(f));
        }
        self.debouncer.push(ev);
    }

    async fn handle(&mut self, due: Vec<Due>) {
        let manifest = due.iter().find(|d| self.targets.is_manifest(&d.path));
        let mut applied = false;
        if let Some(d) = manifest {
            applied = self.reload_manifest(d.first_seen).await;
            self.refresh_targets(false);
        }
        let mut builds: BTreeMap<String, Instant> = BTreeMap::new();
        let mut code: BTreeMap<String, Instant> = BTreeMap::new();
        for d in &due {
            for f in self.targets.sources_of(&d.path) {
                let t = builds.entry(f).or_insert(d.first_seen);
                *t = (*t).min(d.first_seen);
            }
            if applied {
                // Applying the manifest compared every function's code already.
                continue;
            }
            for f in self.targets.code_of(&d.path) {
                let t = code.entry(f).or_insert(d.first_seen);
                *t = (*t).min(d.first_seen);
            }
        }
        for (f, first_seen) in builds {
            code.remove(&f);
            self.build(&f, first_seen).await;
        }
        for (f, first_seen) in code {
            self.reload_code(&f, first_seen).await;
        }
    }

    /// Reads and applies the manifest; returns whether a new plan was applied.
    async fn reload_manifest(&mut self, first_seen: Instant) -> bool {
        self.reload_manifest_inner(first_seen, false).await
    }

    async fn reload_manifest_inner(&mut self, first_seen: Instant, allow_empty: bool) -> bool {
        let path = self.manifest.clone();
        let app = self.app.clone();
        let result =
            tokio::task::spawn_blocking(move || -> Result<ReloadReport, ManifestOutcome> {
                let text = match std::fs::read_to_string(&path) {
                    Ok(t) => t,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Err(ManifestOutcome::Missing);
                    }
                    Err(e) => return Err(ManifestOutcome::Invalid(format!("{e}"))),
                };
                if text.trim().is_empty() && !allow_empty {
                    return Err(ManifestOutcome::Empty);
                }
                let plan = manifest::parse_file(&path, &text)
                    .map_err(|e| ManifestOutcome::Invalid(e.render_plain()))?;
                Ok(app.apply_plan(plan))
            })
            .await;
        let name = self.manifest_name();
        let report = match result {
            Ok(Ok(report)) => report,
            Ok(Err(ManifestOutcome::Missing)) => {
                eprintln!("fcemu: {name} was removed; still serving its last version");
                return false;
            }
            Ok(Err(ManifestOutcome::Empty)) => {
                self.hold(Subject::Manifest, Held::ApplyEmptyManifest);
                return false;
            }
            Ok(Err(ManifestOutcome::Invalid(rendered))) => {
                let msg = format!(
                    "fcemu: {name} not applied; still serving the previous version:\n{}",
                    rendered.trim_end()
                );
                self.hold(Subject::Manifest, Held::Error(msg));
                return false;
            }
            Err(e) => {
                tracing::error!(error = %e, "manifest reload task failed");
                return false;
            }
        };
        self.held.remove(&Subject::Manifest);
        self.print_report(&name, &report, first_seen);
        let missing: Vec<String> = report
            .failed
            .iter()
            .map(|(f, _)| f.clone())
            .filter(|f| self.needs_first_build(f))
            .collect();
        for (f, e) in report.failed {
            if missing.contains(&f) {
                continue;
            }
            let msg = match self.app.function(&f) {
                Some(old) => format!(
                    "fcemu: function {f} keeps its previous version (code {}): {e}",
                    short(&old.code_hash)
                ),
                None => format!("fcemu: function {f} is not available: {e}"),
            };
            self.hold(Subject::Function(f), Held::Error(msg));
        }
        self.refresh_targets(false);
        for f in missing {
            self.build(&f, first_seen).await;
        }
        true
    }

    fn print_report(&self, name: &str, r: &ReloadReport, first_seen: Instant) {
        if r.is_noop() {
            tracing::debug!("{name} saved without changes");
            return;
        }
        let mut parts = Vec::new();
        for (what, list) in [
            ("added", &r.added),
            ("changed", &r.changed),
            ("removed", &r.removed),
        ] {
            if !list.is_empty() {
                parts.push(format!("{what} {}", list.join(", ")));
            }
        }
        if parts.is_empty() && r.failed.is_empty() {
            parts.push("triggers and settings updated".into());
        }
        let loaded = r.added.len() + r.changed.len();
        let compile = if loaded == 0 {
            String::new()
        } else if r.cached.len() == loaded {
            format!("cached, load {}, ", ms(r.compile))
        } else {
            format!("compile {}, ", ms(r.compile))
        };
        eprintln!(
            "fcemu: applied {name}: {} ({compile}live in {}, generation {})",
            if parts.is_empty() {
                "no function loaded".to_string()
            } else {
                parts.join("; ")
            },
            ms(first_seen.elapsed()),
            r.generation
        );
    }

    /// Runs `function`'s build command, then loads what it built.
    async fn build(&mut self, function: &str, first_seen: Instant) {
        let plan = self.app.plan();
        let Some(fp) = plan.functions.get(function) else {
            return;
        };
        let Some(command) = fp.build.clone() else {
            return;
        };
        eprintln!("fcemu: building {function}: {command}");
        let prefix = format!("  {function} build │ ");
        let result = build::run(
            &command,
            &plan.root,
            &prefix,
            &format!("building {function}"),
        )
        .await;
        if !result.success {
            eprintln!(
                "fcemu: build of {function} failed ({}, {}); {}",
                result.status,
                ms(result.elapsed),
                self.still_serving(function)
            );
            return;
        }
        let app = self.app.clone();
        let name = function.to_string();
        let reload = tokio::task::spawn_blocking(move || app.reload_function(&name)).await;
        match reload {
            Ok(Ok(FunctionReload::Reloaded {
                code_hash,
                cache,
                compile,
                tier,
                generation,
                optimize,
            })) => {
                self.held.remove(&Subject::Function(function.to_string()));
                eprintln!(
                    "fcemu: rebuilt {function} (build {}, code {}, {}, live in {}, generation {generation})",
                    ms(result.elapsed),
                    short(&code_hash),
                    compile_text(cache, tier, compile),
                    ms(first_seen.elapsed()),
                );
                self.optimize_later(optimize);
            }
            Ok(Ok(FunctionReload::Unchanged | FunctionReload::NotDeclared)) => {
                eprintln!(
                    "fcemu: built {function} in {}; its code did not change",
                    ms(result.elapsed)
                );
            }
            Ok(Err(e)) => {
                eprintln!(
                    "fcemu: built {function} in {}, but {e}; {}",
                    ms(result.elapsed),
                    self.still_serving(function)
                );
            }
            Err(e) => tracing::error!(error = %e, "reload task failed"),
        }
    }

    /// Loads `function`'s code file again after it changed.
    async fn reload_code(&mut self, function: &str, first_seen: Instant) {
        let app = self.app.clone();
        let name = function.to_string();
        let reload = tokio::task::spawn_blocking(move || app.reload_function(&name)).await;
        let subject = Subject::Function(function.to_string());
        match reload {
            Ok(Ok(FunctionReload::Reloaded {
                code_hash,
                cache,
                compile,
                tier,
                generation,
                optimize,
            })) => {
                self.held.remove(&subject);
                eprintln!(
                    "fcemu: reloaded {function} (code {}, {}, live in {}, generation {generation})",
                    short(&code_hash),
                    compile_text(cache, tier, compile),
                    ms(first_seen.elapsed()),
                );
                self.optimize_later(optimize);
            }
            Ok(Ok(FunctionReload::Unchanged | FunctionReload::NotDeclared)) => {
                self.held.remove(&subject);
            }
            Ok(Err(e)) => {
                let msg = format!(
                    "fcemu: reload of {function} failed: {e}; {}",
                    self.still_serving(function)
                );
                self.hold(subject, Held::Error(msg));
            }
            Err(e) => tracing::error!(error = %e, "reload task failed"),
        }
    }

    /// Replaces baseline code with optimized code in the background, one function at a time;
    /// a job whose code was replaced again before its turn is skipped.
    fn optimize_later(&mut self, job: Option<Optimize>) {
        let Some(job) = job else { return };
        let app = self.app.clone();
        let previous = self.optimizing.take();
        self.optimizing = Some(tokio::spawn(async move {
            if let Some(p) = previous {
                let _ = p.await;
            }
            let name = format!("{job:?}");
            match tokio::task::spawn_blocking(move || app.optimize(job)).await {
                Ok(Some(t)) => tracing::info!(
                    job = name,
                    ms = t.as_millis() as u64,
                    "optimized code is live"
                ),
                Ok(None) => tracing::debug!(job = name, "optimizing skipped"),
                Err(e) => tracing::error!(error = %e, "optimizing task failed"),
            }
        }));
    }

    /// Builds the functions that have a build command and no code yet.
    async fn build_missing(&mut self, first_seen: Instant) {
        let plan = self.app.plan();
        for f in plan.functions.keys() {
            if self.needs_first_build(f) {
                self.build(f, first_seen).await;
            }
        }
    }

    fn needs_first_build(&self, function: &str) -> bool {
        let plan = self.app.plan();
        plan.functions
            .get(function)
            .is_some_and(|f| f.build.is_some() && !f.code.exists())
            && self.app.function(function).is_none()
    }

    fn hold(&mut self, subject: Subject, what: Held) {
        self.held
            .insert(subject, (Instant::now() + ERROR_SETTLE, what));
    }

    /// Prints held errors, and applies a held empty manifest, once they have settled.
    async fn release_held(&mut self) {
        let now = Instant::now();
        let ready: Vec<Subject> = self
            .held
            .iter()
            .filter(|(_, (t, _))| *t <= now)
            .map(|(s, _)| s.clone())
            .collect();
        for subject in ready {
            let Some((_, what)) = self.held.remove(&subject) else {
                continue;
            };
            match what {
                Held::Error(msg) => eprintln!("{msg}"),
                Held::ApplyEmptyManifest => {
                    self.reload_manifest_inner(now, true).await;
                    self.refresh_targets(false);
                }
            }
        }
    }

    /// Recomputes what to watch when the plan changed (or `force`), and re-syncs the watches:
    /// directories that did not exist may have appeared.
    fn refresh_targets(&mut self, force: bool) {
        let plan = self.app.plan();
        if force || !Arc::ptr_eq(&plan, &self.plan) {
            let (targets, bad) = Targets::new(&self.manifest, &plan);
            for b in bad {
                eprintln!(
                    "fcemu: function {}: watch pattern {:?} is not a valid glob ({}); ignoring it",
                    b.function, b.pattern, b.error
                );
            }
            self.targets = targets;
            self.plan = plan.clone();
        }
        let dirs_changed = self.watcher.sync(self.targets.watch_dirs());
        if dirs_changed && !force {
            // A directory just appeared: files may have been written into it before the watch
            // was in place.
            let now = Instant::now();
            for f in plan.functions.values() {
                if self.app.function(&f.name).is_none() && f.code.is_file() {
                    let _ = self.tx.send(FileEvent {
                        path: f.code.clone(),
                        settled: true,
                        at: now,
                    });
                }
            }
        }
    }

    fn summary(&self) -> String {
        let plan = self.app.plan();
        let builds = plan
            .functions
            .values()
            .filter(|f| f.build.is_some() && !f.watch.is_empty())
            .count();
        let code: BTreeSet<&PathBuf> = plan.functions.values().map(|f| &f.code).collect();
        let mut text = format!(
            "watching {} and {} code file{}",
            self.manifest_name(),
            code.len(),
            if code.len() == 1 { "" } else { "s" }
        );
        if builds > 0 {
            text += &format!(
                ", and the sources of {builds} function{} with a build command",
                if builds == 1 { "" } else { "s" }
            );
        }
        text
    }

    fn manifest_name(&self) -> String {
        self.manifest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.manifest.display().to_string())
    }

    fn still_serving(&self, function: &str) -> String {
        match self.app.function(function) {
            Some(f) => format!("still serving code {}", short(&f.code_hash)),
            None => format!("{function} is not available"),
        }
    }
}

enum ManifestOutcome {
    Missing,
    Empty,
    Invalid(String),
}

fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

fn short(hash: &str) -> String {
    format!("{}…", &hash[..hash.len().min(6)])
}

fn compile_text(cache: CacheOutcome, tier: Tier, compile: Duration) -> String {
    match (cache, tier) {
        (CacheOutcome::Hit, _) => format!("cached, load {}", ms(compile)),
        (CacheOutcome::Compiled, Tier::Optimized) => format!("compile {}", ms(compile)),
        (CacheOutcome::Compiled, Tier::Baseline) => {
            format!(
                "compile {} baseline, optimizing in the background",
                ms(compile)
            )
        }
    }
}
