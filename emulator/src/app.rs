//! The running application: the current plan, the loaded functions, and the count of work in
//! flight that `POST /_fcemu/idle` waits on. Hot reload changes it through
//! [`App::apply_plan`] (a new manifest) and [`App::reload_function`] (new code for one function).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::manifest::{AppPlan, FunctionPlan};
use crate::records::Records;
use crate::report::Reporter;
use crate::runtime::{
    CacheOutcome, Invocation, InvocationOutcome, InvokeError, LoadError, LoadedFunction, Runtime,
    Tier, WhenBusy, content_hash, read_code,
};

/// Shared state of a running emulator. Functions are replaced whole (an `Arc` swap), so an
/// invocation in flight keeps the code it started with.
pub struct App {
    runtime: Arc<Runtime>,
    plan: RwLock<Arc<AppPlan>>,
    functions: RwLock<BTreeMap<String, Arc<LoadedFunction>>>,
    /// Times each function's code or settings were swapped since it was first loaded.
    reloads: RwLock<BTreeMap<String, u64>>,
    /// Bumped by every swap of the plan or of a function.
    generation: AtomicU64,
    /// Serializes writers (plan and function swaps); readers never take it.
    writer: Mutex<()>,
    in_flight: Arc<watch::Sender<usize>>,
    reporter: Option<Reporter>,
    records: Records,
    pending_sources: std::sync::Mutex<Vec<PendingSource>>,
}

/// Counts work a source has accepted but not yet handed over (e.g. change notifications not
/// yet routed to triggers); `idle` waits for it to reach zero too.
pub type PendingSource = Box<dyn Fn() -> usize + Send + Sync>;
/// What [`App::apply_plan`] did.
#[derive(Debug, Default)]
pub struct ReloadReport {
    /// Functions new in the plan, now loaded.
    pub added: Vec<String>,
    /// Functions gone from the plan, now dropped.
    pub removed: Vec<String>,
    /// Functions whose settings or code changed, now reloaded.
    pub changed: Vec<String>,
    /// Functions kept as they were.
    pub unchanged: Vec<String>,
    /// Functions that could not be loaded. A function that was running before keeps its previous
    /// version; a new one is not available.
    pub failed: Vec<(String, LoadError)>,
    /// Functions whose compiled code came from the module cache, among those loaded.
    pub cached: Vec<String>,
    /// Time spent compiling or loading from the cache.
    pub compile: Duration,
    /// Whether anything besides functions changed (triggers, buckets, app settings).
    pub plan_changed: bool,
    /// The application's generation after the change.
    pub generation: u64,
}

impl ReloadReport {
    /// Whether the new plan changed nothing at all.
    pub fn is_noop(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.failed.is_empty()
            && !self.plan_changed
    }
}

/// What [`App::reload_function`] did.
#[derive(Debug)]
pub enum FunctionReload {
    /// The code file holds the code already running: nothing to do.
    Unchanged,
    /// The current plan declares no such function.
    NotDeclared,
    /// The new code is live.
    Reloaded {
        /// SHA-256 of the new code.
        code_hash: String,
        /// Whether the compiled code came from the cache.
        cache: CacheOutcome,
        /// Time spent compiling (or loading from the cache) and linking.
        compile: Duration,
        /// Which compiler produced the code now live.
        tier: Tier,
        /// The application's generation after the swap.
        generation: u64,
        /// For baseline code: the work that replaces it with optimized code; run it with
        /// [`App::optimize`] off the async executor.
        optimize: Option<Optimize>,
    },
}

/// Compiling optimized code for a function that runs baseline code, and swapping it in.
pub struct Optimize {
    name: String,
    bytes: Vec<u8>,
    baseline: Arc<LoadedFunction>,
}

impl std::fmt::Debug for Optimize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Optimize")
            .field("name", &self.name)
            .finish()
    }
}

/// Functions that failed to load, with why.
pub type LoadFailures = Vec<(String, LoadError)>;

impl App {
    /// Loads every function of `plan`. Functions that fail to load are returned, not fatal.
    pub fn new(
        runtime: Arc<Runtime>,
        plan: AppPlan,
        reporter: Option<Reporter>,
    ) -> (Arc<App>, LoadFailures) {
        let plan = Arc::new(plan);
        let (functions, failures) = load_all(&runtime, &plan);
        let (in_flight, _) = watch::channel(0);
        let app = App {
            runtime,
            plan: RwLock::new(plan),
            functions: RwLock::new(functions),
            reloads: RwLock::new(BTreeMap::new()),
            generation: AtomicU64::new(1),
            writer: Mutex::new(()),
            in_flight: Arc::new(in_flight),
            reporter,
            records: Records::default(),
            pending_sources: std::sync::Mutex::new(Vec::new()),
        };
        (Arc::new(app), failures)
    }

    /// The runtime functions run on.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// The current plan.
    pub fn plan(&self) -> Arc<AppPlan> {
        self.plan.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The loaded function called `name`.
    pub fn function(&self, name: &str) -> Option<Arc<LoadedFunction>> {
        self.functions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Every loaded function, by name.
    pub fn functions(&self) -> BTreeMap<String, Arc<LoadedFunction>> {
        self.functions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Installs a newly loaded version of a function; invocations already running finish on the
    /// old one.
    pub fn replace_function(&self, f: LoadedFunction) {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.install(Arc::new(f));
    }

    fn install(&self, f: Arc<LoadedFunction>) -> u64 {
        let name = f.plan.name.clone();
        let replaced = self
            .functions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.clone(), f)
            .is_some();
        if replaced {
            *self
                .reloads
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .entry(name)
                .or_default() += 1;
        }
        self.generation.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Bumped by every change of the plan or of a function's code; 1 at start.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// How many times the function called `name` was swapped for a new version since it was
    /// first loaded.
    pub fn reloads(&self, name: &str) -> u64 {
        self.reloads
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .copied()
            .unwrap_or(0)
    }

    /// Reads the code file of the function called `name` (as the current plan declares it) and,
    /// when it differs from the code running, compiles it and swaps it in. Blocking: compiling
    /// takes a while, so call it off the async executor. On error the running version stays.
    pub fn reload_function(&self, name: &str) -> Result<FunctionReload, LoadError> {
        let started = Instant::now();
        let plan = self.plan();
        let Some(fp) = plan.functions.get(name) else {
            return Ok(FunctionReload::NotDeclared);
        };
        let bytes = read_code(fp)?;
        if let Some(current) = self.function(name)
            && current.plan == *fp
            && current.code_hash == content_hash(&bytes)
        {
            return Ok(FunctionReload::Unchanged);
        }
        let loaded = Arc::new(self.runtime.load_bytes_quick(&plan, fp, &bytes, started)?);
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        // The plan may have changed while compiling; then the code belongs to a plan that is
        // gone, and the plan change loaded its own.
        if !Arc::ptr_eq(&plan, &self.plan()) {
            return Ok(FunctionReload::Unchanged);
        }
        let generation = self.install(loaded.clone());
        let optimize = (loaded.tier == Tier::Baseline).then(|| Optimize {
            name: name.to_string(),
            bytes,
            baseline: loaded.clone(),
        });
        Ok(FunctionReload::Reloaded {
            code_hash: loaded.code_hash.clone(),
            cache: loaded.cache,
            compile: loaded.load_time,
            tier: loaded.tier,
            generation,
            optimize,
        })
    }

    /// Compiles optimized code for a function running baseline code and swaps it in, unless
    /// the function changed in the meantime. Returns the compile time when it swapped.
    /// Blocking: call it off the async executor.
    pub fn optimize(&self, job: Optimize) -> Option<Duration> {
        let still_current = |app: &App| {
            app.function(&job.name)
                .is_some_and(|f| Arc::ptr_eq(&f, &job.baseline))
        };
        if !still_current(self) {
            return None;
        }
        let plan = self.plan();
        let fp = plan.functions.get(&job.name)?;
        if *fp != job.baseline.plan {
            return None;
        }
        let loaded = match self
            .runtime
            .load_bytes(&plan, fp, &job.bytes, Instant::now())
        {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(function = job.name, error = %e, "optimizing failed; keeping baseline code");
                return None;
            }
        };
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if !still_current(self) || !Arc::ptr_eq(&plan, &self.plan()) {
            return None;
        }
        let time = loaded.load_time;
        // Same code, same settings: not a reload, so neither counter moves.
        self.functions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(job.name.clone(), Arc::new(loaded));
        Some(time)
    }

    /// Makes `new` the running plan: loads functions that are new or changed, drops those that
    /// are gone, keeps the others as they are (with their instances and in-flight work). A
    /// function is unchanged when its plan, the app settings it sees (region, account, its
    /// service) and its code are the same. A changed function that fails to load keeps running
    /// its previous version. Routes and triggers read [`App::plan`] per request, so they follow.
    /// Blocking: it compiles; call it off the async executor.
    pub fn apply_plan(&self, new: AppPlan) -> ReloadReport {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let old = self.plan();
        let new = Arc::new(new);
        let current = self.functions();
        let mut report = ReloadReport {
            plan_changed: *old != *new,
            ..ReloadReport::default()
        };
        let mut next = BTreeMap::new();
        for (name, fp) in &new.functions {
            let started = Instant::now();
            let existing = current.get(name);
            let bytes = match read_code(fp) {
                Ok(b) => b,
                Err(e) => {
                    if let Some(f) = existing {
                        next.insert(name.clone(), f.clone());
                    }
                    report.failed.push((name.clone(), e));
                    continue;
                }
            };
            if let Some(f) = existing
                && sees_same_settings(&old, &new, &f.plan, fp)
                && f.code_hash == content_hash(&bytes)
            {
                next.insert(name.clone(), f.clone());
                report.unchanged.push(name.clone());
                continue;
            }
            match self.runtime.load_bytes(&new, fp, &bytes, started) {
                Ok(loaded) => {
                    report.compile += loaded.load_time;
                    if loaded.cache == CacheOutcome::Hit {
                        report.cached.push(name.clone());
                    }
                    if existing.is_some() {
                        report.changed.push(name.clone());
                    } else {
                        report.added.push(name.clone());
                    }
                    next.insert(name.clone(), Arc::new(loaded));
                }
                Err(e) => {
                    if let Some(f) = existing {
                        next.insert(name.clone(), f.clone());
                    }
                    report.failed.push((name.clone(), e));
                }
            }
        }
        report.removed = current
            .keys()
            .filter(|n| !new.functions.contains_key(*n))
            .cloned()
            .collect();
        if report.is_noop() {
            report.generation = self.generation();
            return report;
        }
        // First every function of both plans, then the new plan, then only the new plan's
        // functions: a request that resolved a route in either plan finds its function.
        let mut both = next.clone();
        for name in &report.removed {
            if let Some(f) = current.get(name) {
                both.insert(name.clone(), f.clone());
            }
        }
        *self.functions.write().unwrap_or_else(|e| e.into_inner()) = both;
        *self.plan.write().unwrap_or_else(|e| e.into_inner()) = new;
        *self.functions.write().unwrap_or_else(|e| e.into_inner()) = next;
        {
            let mut reloads = self.reloads.write().unwrap_or_else(|e| e.into_inner());
            for name in &report.changed {
                *reloads.entry(name.clone()).or_default() += 1;
            }
            for name in &report.removed {
                reloads.remove(name);
            }
        }
        report.generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        report
    }

    /// A fresh request id.
    pub fn new_request_id(&self) -> String {
        self.runtime.ids().uuid()
    }

    /// Invokes `f`, counting the invocation as work in flight.
    pub async fn invoke(
        &self,
        f: &LoadedFunction,
        inv: Invocation,
        when_busy: WhenBusy,
    ) -> Result<InvocationOutcome, InvokeError> {
        let _work = self.begin_work();
        self.runtime.invoke(f, inv, when_busy).await
    }

    /// Marks one unit of work in flight until the guard is dropped.
    pub fn begin_work(&self) -> WorkGuard {
        self.in_flight.send_modify(|n| *n += 1);
        WorkGuard {
            in_flight: self.in_flight.clone(),
        }
    }

    /// Records a finished invocation and shows it on the terminal (when `fcemu up` runs with
    /// one). `attempt` counts async retries from 0.
    pub fn finish(&self, outcome: &InvocationOutcome, trigger: &str, attempt: u32) {
        self.records.push(outcome, trigger, attempt);
        if let Some(r) = &self.reporter {
            r.invocation(outcome, trigger);
        }
    }

    /// How invocations are shown on the terminal, when they are.
    pub fn reporter(&self) -> Option<Reporter> {
        self.reporter
    }

    /// The invocation records.
    pub fn records(&self) -> &Records {
        &self.records
    }

    /// Registers a source of pending work for [`App::idle`].
    pub fn add_pending_source(&self, source: PendingSource) {
        self.pending_sources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(source);
    }

    /// Hands the changes of `feed` to `handle` on a task, in order, each call with what has
    /// arrived so far (at most `max` changes). A change counts as pending work for
    /// [`App::idle`] from its publication until `handle` has finished with it.
    pub fn follow<T, F, Fut>(&self, feed: &fcemu_core::ChangeFeed<T>, max: usize, mut handle: F)
    where
        T: Clone + Send + 'static,
        F: FnMut(Vec<T>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let (mut rx, unhandled) = feed.subscribe_counted();
        let count = unhandled.clone();
        self.add_pending_source(Box::new(move || count.count()));
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < max {
                    match rx.try_recv() {
                        Ok(change) => batch.push(change),
                        Err(_) => break,
                    }
                }
                let n = batch.len();
                handle(batch).await;
                for _ in 0..n {
                    unhandled.done();
                }
            }
        });
    }

    fn pending(&self) -> usize {
        self.pending_sources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|s| s())
            .sum()
    }

    /// Returns when no work is in flight, or `false` if `timeout` passes first.
    pub async fn idle(&self, timeout: std::time::Duration) -> bool {
        let wait = async {
            let mut rx = self.in_flight.subscribe();
            loop {
                let _ = rx.wait_for(|n| *n == 0).await;
                if self.pending() == 0 && *rx.borrow() == 0 {
                    return;
                }
                // Work was accepted by a source but not yet counted; it is handed over within
                // microseconds, so a short pause is enough.
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }
}

/// One unit of work in flight; see [`App::begin_work`].
pub struct WorkGuard {
    in_flight: Arc<watch::Sender<usize>>,
}

impl Drop for WorkGuard {
    fn drop(&mut self) {
        self.in_flight.send_modify(|n| *n = n.saturating_sub(1));
    }
}

fn load_all(
    runtime: &Runtime,
    plan: &Arc<AppPlan>,
) -> (BTreeMap<String, Arc<LoadedFunction>>, LoadFailures) {
    let mut functions = BTreeMap::new();
    let mut failures = Vec::new();
    for f in plan.functions.values() {
        match runtime.load(plan, f) {
            Ok(loaded) => {
                functions.insert(f.name.clone(), Arc::new(loaded));
            }
            Err(e) => failures.push((f.name.clone(), e)),
        }
    }
    (functions, failures)
}

/// Whether a function sees the same settings in both plans: its own plan, and the app-level
/// settings that reach it (region, account, its service).
fn sees_same_settings(
    old: &AppPlan,
    new: &AppPlan,
    old_f: &FunctionPlan,
    new_f: &FunctionPlan,
) -> bool {
    old_f == new_f
        && old.region == new.region
        && old.account_id == new.account_id
        && old.services.get(&old_f.service) == new.services.get(&new_f.service)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use fcemu_core::{Clock, IdGen};

    use super::*;
    use crate::runtime::{ModuleCache, RuntimeOptions};

    /// An empty core module; `tag` goes into a custom section so each tag hashes differently.
    fn module(tag: &str) -> Vec<u8> {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        let payload = [&[1u8, b'x'][..], tag.as_bytes()].concat();
        m.push(0);
        m.push(payload.len() as u8);
        m.extend(payload);
        m
    }

    fn plan(dir: &Path, toml: &str) -> AppPlan {
        crate::manifest::parse(&dir.join("fcemu.toml"), toml).unwrap()
    }

    fn app(dir: &Path, toml: &str) -> Arc<App> {
        let runtime = Runtime::new(RuntimeOptions {
            cache: ModuleCache::disabled(),
            clock: Clock::system(),
            ids: IdGen::sequential(),
            deterministic: false,
            scratch_dir: dir.join("scratch"),
            extra_env: Vec::new(),
            own_endpoints: Vec::new(),
            instance_idle: crate::runtime::DEFAULT_INSTANCE_IDLE,
        })
        .unwrap();
        let (app, failures) = App::new(Arc::new(runtime), plan(dir, toml), None);
        assert!(failures.is_empty());
        app
    }

    #[test]
    fn apply_plan_loads_new_and_changed_functions_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for f in ["a", "b", "c"] {
            std::fs::write(d.join(format!("{f}.wasm")), module(f)).unwrap();
        }
        let app = app(
            d,
            "[functions.a]\ncode = \"a.wasm\"\n[functions.b]\ncode = \"b.wasm\"\n",
        );
        let a_before = app.function("a").unwrap();
        let r = app.apply_plan(plan(
            d,
            "[functions.a]\ncode = \"a.wasm\"\n[functions.b]\ncode = \"b.wasm\"\nmemory = 256\n\
             [functions.c]\ncode = \"c.wasm\"\n",
        ));
        assert_eq!(r.unchanged, ["a"]);
        assert_eq!(r.changed, ["b"]);
        assert_eq!(r.added, ["c"]);
        assert!(r.removed.is_empty() && r.failed.is_empty());
        assert_eq!(r.generation, 2);
        assert!(Arc::ptr_eq(&a_before, &app.function("a").unwrap()));
        assert_eq!(app.function("b").unwrap().plan.memory_mb, 256);
        assert_eq!((app.reloads("a"), app.reloads("b")), (0, 1));

        // New code for a, and c gone.
        std::fs::write(d.join("a.wasm"), module("a2")).unwrap();
        let r = app.apply_plan(plan(
            d,
            "[functions.a]\ncode = \"a.wasm\"\n[functions.b]\ncode = \"b.wasm\"\nmemory = 256\n",
        ));
        assert_eq!(r.changed, ["a"]);
        assert_eq!(r.removed, ["c"]);
        assert!(app.function("c").is_none());
        assert!(!app.plan().functions.contains_key("c"));

        // The same plan again changes nothing.
        let generation = app.generation();
        let r = app.apply_plan((*app.plan()).clone());
        assert!(r.is_noop(), "{r:?}");
        assert_eq!(app.generation(), generation);
    }

    #[test]
    fn a_function_that_fails_to_load_keeps_its_previous_version() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("a.wasm"), module("a")).unwrap();
        let app = app(d, "[functions.a]\ncode = \"a.wasm\"\n");
        let hash = app.function("a").unwrap().code_hash.clone();
        std::fs::write(d.join("a.wasm"), b"\0asm\x01\0\0\0\x01").unwrap();
        let r = app.apply_plan(plan(d, "[functions.a]\ncode = \"a.wasm\"\ntimeout = 5\n"));
        assert_eq!(r.failed.len(), 1);
        let kept = app.function("a").unwrap();
        assert_eq!(kept.code_hash, hash);
        assert_eq!(app.plan().functions["a"].timeout, Duration::from_secs(5));

        // The next good file loads against the plan now in force.
        std::fs::write(d.join("a.wasm"), module("a3")).unwrap();
        match app.reload_function("a").unwrap() {
            FunctionReload::Reloaded { code_hash, .. } => assert_ne!(code_hash, hash),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            app.function("a").unwrap().plan.timeout,
            Duration::from_secs(5)
        );
    }

    #[test]
    fn reload_function_swaps_only_changed_code() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("a.wasm"), module("a")).unwrap();
        let app = app(d, "[functions.a]\ncode = \"a.wasm\"\n");
        assert!(matches!(
            app.reload_function("a").unwrap(),
            FunctionReload::Unchanged
        ));
        assert!(matches!(
            app.reload_function("zz").unwrap(),
            FunctionReload::NotDeclared
        ));
        let old = app.function("a").unwrap();
        std::fs::write(d.join("a.wasm"), module("b")).unwrap();
        assert!(matches!(
            app.reload_function("a").unwrap(),
            FunctionReload::Reloaded { generation: 2, .. }
        ));
        assert_eq!(app.reloads("a"), 1);
        assert!(!Arc::ptr_eq(&old, &app.function("a").unwrap()));
        std::fs::write(d.join("a.wasm"), b"garbage").unwrap();
        assert!(app.reload_function("a").is_err());
        assert_eq!(app.reloads("a"), 1);
    }
}
