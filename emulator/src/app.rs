//! The running application: the current plan, the loaded functions, and the count of work in
//! flight that `POST /_fcemu/idle` waits on.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use tokio::sync::watch;

use crate::manifest::AppPlan;
use crate::records::Records;
use crate::report::Reporter;
use crate::runtime::{
    Invocation, InvocationOutcome, InvokeError, LoadError, LoadedFunction, Runtime, WhenBusy,
};

/// Shared state of a running emulator. Functions are replaced whole (an `Arc` swap), so an
/// invocation in flight keeps the code it started with.
pub struct App {
    runtime: Arc<Runtime>,
    plan: RwLock<Arc<AppPlan>>,
    functions: RwLock<BTreeMap<String, Arc<LoadedFunction>>>,
    in_flight: Arc<watch::Sender<usize>>,
    reporter: Option<Reporter>,
    records: Records,
    pending_sources: std::sync::Mutex<Vec<PendingSource>>,
}

/// Counts work a source has accepted but not yet handed over (e.g. change notifications not
/// yet routed to triggers); `idle` waits for it to reach zero too.
pub type PendingSource = Box<dyn Fn() -> usize + Send + Sync>;

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
        let name = f.plan.name.clone();
        self.functions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name, Arc::new(f));
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
