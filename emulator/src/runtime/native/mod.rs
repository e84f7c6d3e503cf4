//! Native functions: Node.js and Python handlers run by fcemu's embedded bootstraps, and custom
//! runtimes, all driven by FC's custom-runtime HTTP protocol (reference fc.md §4). Instances are
//! processes kept warm and reused, one request at a time each, up to the function's concurrency
//! (the runtime's slots); a timeout or crash replaces the instance.

mod instance;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;

pub use instance::{CallBody, CallFailure, Instance, Launch, whole};

use super::outcome::{FailureKind, InvocationOutcome, InvocationStatus};
use super::slots::Slot;
use crate::manifest::{AppPlan, FunctionPlan, NativePlan, NativeRuntime};

const NODE_BOOTSTRAP: &str = include_str!("bootstrap.js");
const PYTHON_BOOTSTRAP: &str = include_str!("bootstrap.py");
/// The Python module that sends `*.aliyuncs.com:80` connections to fcemu (beside the bootstrap,
/// and the `sitecustomize` of the programs `fcemu exec` runs).
const PYTHON_REACH: &str = include_str!("fcemu_reach.py");

/// How long a process may take to listen on its port.
const START_LIMIT: Duration = Duration::from_secs(30);
/// How long fcemu waits for a built-in bootstrap's end marker after its response.
const BUILTIN_LOG_GRACE: Duration = Duration::from_secs(1);
/// Custom runtimes need not print markers: output already read is what the request logged.
const CUSTOM_LOG_GRACE: Duration = Duration::from_millis(20);

/// The interpreter a built-in runtime runs on.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Interpreter {
    /// The program.
    pub path: PathBuf,
    /// What `--version` printed.
    pub version: String,
    /// Set when the version differs from the manifest's label.
    pub warning: Option<String>,
}

/// A native function's code: how to start its instances and the warm ones.
pub struct NativeCode {
    /// The manifest's native settings.
    pub plan: NativePlan,
    /// The interpreter of a built-in runtime (`None` for custom runtimes).
    pub interpreter: Option<Interpreter>,
    launch: Launch,
    /// Stops instances (pre-stop hook, then kill).
    stopper: Arc<Stopper>,
    /// The emulator's clock when virtual: each request carries its time (`x-fcemu-now`).
    clock: Option<fcemu_core::Clock>,
    /// Warm instances not serving a request, by instance id.
    idle: Arc<Mutex<HashMap<String, Instance>>>,
}

/// How long the pre-stop hook of an instance being stopped may run.
const PRE_STOP_LIMIT: Duration = Duration::from_secs(5);

/// What stopping an instance needs: the function's settings for the pre-stop call's headers.
struct Stopper {
    plan: NativePlan,
    function: FunctionPlan,
}

impl Stopper {
    /// Calls `GET /pre-stop` when a `pre_stop` handler is configured, then kills the instance.
    async fn stop(&self, id: &str, mut inst: Instance) {
        if self.plan.pre_stop.is_some() {
            let req = control(
                &format!("pre-stop-{id}"),
                &self.function,
                "/pre-stop",
                &self.plan,
            );
            let _ = inst.call(req, PRE_STOP_LIMIT).await;
        }
        tracing::debug!(
            function = self.function.name,
            instance = id,
            "instance stopped"
        );
        drop(inst);
    }
}

impl Drop for NativeCode {
    /// The version is gone (a reload replaced it): each warm instance is stopped.
    fn drop(&mut self) {
        let idle: Vec<(String, Instance)> = drain(&self.idle, |_| true);
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        for (id, inst) in idle {
            let stopper = self.stopper.clone();
            handle.spawn(async move { stopper.stop(&id, inst).await });
        }
    }
}

/// Removes and returns the idle instances `pick` selects.
fn drain(
    idle: &Mutex<HashMap<String, Instance>>,
    pick: impl Fn(&Instance) -> bool,
) -> Vec<(String, Instance)> {
    let mut idle = idle.lock().unwrap_or_else(|e| e.into_inner());
    let ids: Vec<String> = idle
        .iter()
        .filter(|(_, i)| pick(i))
        .map(|(id, _)| id.clone())
        .collect();
    ids.into_iter()
        .filter_map(|id| idle.remove(&id).map(|i| (id, i)))
        .collect()
}

/// Stops, every so often, the instances idle for longer than `limit`, as FC reclaims idle
/// instances; ends when the function's code is dropped.
fn sweep_idle(
    idle: &Arc<Mutex<HashMap<String, Instance>>>,
    stopper: &Arc<Stopper>,
    limit: Duration,
) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let idle = Arc::downgrade(idle);
    let stopper = stopper.clone();
    let every = (limit / 4).clamp(Duration::from_millis(100), Duration::from_secs(30));
    handle.spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let Some(idle) = idle.upgrade() else { return };
            let expired = drain(&idle, |i| i.last_used.elapsed() >= limit);
            drop(idle);
            for (id, inst) in expired {
                stopper.stop(&id, inst).await;
            }
        }
    });
}

impl std::fmt::Debug for NativeCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeCode")
            .field("runtime", &self.plan.label)
            .finish()
    }
}

/// Finds (and tries) the interpreter for a built-in runtime label.
fn find_interpreter(rt: NativeRuntime, label: &str) -> Result<Interpreter, String> {
    static CACHE: OnceLock<Mutex<HashMap<String, Result<Interpreter, String>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(label) {
        return hit.clone();
    }
    let candidates: Vec<String> = match rt {
        NativeRuntime::Node => vec!["node".into()],
        NativeRuntime::Python => {
            let mut c = Vec::new();
            if let Some(v) = label.strip_prefix("python").filter(|v| v.contains('.')) {
                c.push(format!("python{v}"));
            }
            c.push("python3".into());
            c
        }
        NativeRuntime::Custom => Vec::new(),
    };
    let mut result = Err(match rt {
        NativeRuntime::Node => format!(
            "runtime {label} needs Node.js: no working `node` on PATH (install Node.js, e.g. `apt-get install nodejs`)"
        ),
        _ => format!(
            "runtime {label} needs Python 3: no working `{}` on PATH (install it, e.g. `apt-get install python3`)",
            candidates.join("` or `")
        ),
    });
    for c in &candidates {
        let Ok(out) = std::process::Command::new(c).arg("--version").output() else {
            continue;
        };
        if !out.status.success() {
            continue; // a version manager's shim for a version that is not installed
        }
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        let version = text.trim().to_string();
        let digits = version.trim_start_matches(|ch: char| !ch.is_ascii_digit());
        let wanted = label.trim_start_matches(|ch: char| !ch.is_ascii_digit());
        let warning = (!wanted.is_empty() && !digits.starts_with(wanted)).then(|| {
            format!("{label} runs on the local {c} ({version}); behaviour may differ from the cloud's {label}")
        });
        let path = which(c).unwrap_or_else(|| PathBuf::from(c));
        result = Ok(Interpreter {
            path,
            version,
            warning,
        });
        break;
    }
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(label.to_string(), result.clone());
    result
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// The file a handler names (`index.handler` → `index.js`, `main.handler` → `main.py`), if it
/// exists.
fn handler_file(rt: NativeRuntime, code_dir: &Path, handler: &str) -> Option<PathBuf> {
    let (module, _) = handler.rsplit_once('.')?;
    let candidates: Vec<PathBuf> = match rt {
        NativeRuntime::Node => ["js", "cjs", "mjs"]
            .iter()
            .map(|ext| code_dir.join(format!("{module}.{ext}")))
            .chain([code_dir.join(module).join("index.js")])
            .collect(),
        _ => {
            let rel = module.replace('.', "/");
            vec![
                code_dir.join(format!("{rel}.py")),
                code_dir.join(rel).join("__init__.py"),
            ]
        }
    };
    candidates.into_iter().find(|p| p.is_file())
}

/// Refuses a handler file with a syntax error (so a reload keeps serving the running version
/// and prints the error) by asking the interpreter to parse it without running it.
fn check_syntax(
    rt: NativeRuntime,
    interp: &Interpreter,
    code_dir: &Path,
    handler: &str,
) -> Result<(), String> {
    let Some(file) = handler_file(rt, code_dir, handler) else {
        return Ok(()); // the bootstrap reports a missing module at the first call
    };
    let mut cmd = std::process::Command::new(&interp.path);
    match rt {
        NativeRuntime::Node => cmd.arg("--check").arg(&file),
        _ => cmd
            .arg("-c")
            .arg("import sys; compile(open(sys.argv[1], 'rb').read(), sys.argv[1], 'exec')")
            .arg(&file),
    };
    let out = cmd
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", interp.path.display()))?;
    if out.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&out.stderr);
    let text: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("Node.js v"))
        .collect();
    Err(format!(
        "{} does not parse:\n{}",
        file.display(),
        text.join("\n")
    ))
}

/// Writes the embedded bootstraps once under `dir` and returns the one for `rt`.
fn bootstrap(dir: &Path, rt: NativeRuntime) -> std::io::Result<PathBuf> {
    let (name, text) = match rt {
        NativeRuntime::Node => ("fcemu-bootstrap.js", NODE_BOOTSTRAP),
        _ => ("fcemu_bootstrap.py", PYTHON_BOOTSTRAP),
    };
    std::fs::create_dir_all(dir)?;
    if rt != NativeRuntime::Node {
        write_if_changed(&dir.join("fcemu_reach.py"), PYTHON_REACH)?;
    }
    let path = dir.join(name);
    write_if_changed(&path, text)?;
    Ok(path)
}

fn write_if_changed(path: &Path, text: &str) -> std::io::Result<()> {
    if std::fs::read_to_string(path).ok().as_deref() != Some(text) {
        std::fs::write(path, text)?;
    }
    Ok(())
}

/// Writes `sitecustomize.py` into `dir`: Python programs with `dir` on their `PYTHONPATH` send
/// `*.aliyuncs.com:80` connections to `FCEMU_ENDPOINT`, then run the `sitecustomize` they
/// would have run otherwise.
pub fn write_sitecustomize(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let text = format!(
        "{PYTHON_REACH}\n\ninstall()\n\n{}",
        r#"# Then the sitecustomize this one hides, if there is one.
import importlib.machinery as _machinery
import importlib.util as _util
import sys as _sys
_here = os.path.dirname(os.path.abspath(__file__))
_spec = _machinery.PathFinder.find_spec(
    "sitecustomize", [p for p in _sys.path if os.path.abspath(p or ".") != _here])
if _spec is not None and _spec.loader is not None:
    _spec.loader.exec_module(_util.module_from_spec(_spec))
"#
    );
    write_if_changed(&dir.join("sitecustomize.py"), &text)
}

impl NativeCode {
    /// Prepares a native function: finds its interpreter, writes its bootstrap, builds the
    /// environment every instance gets. `scratch` is fcemu's directory for instance files.
    pub fn prepare(
        app: &AppPlan,
        f: &FunctionPlan,
        native: &NativePlan,
        base_env: &[(String, String)],
        scratch: &Path,
        idle_limit: Duration,
        clock: &fcemu_core::Clock,
    ) -> Result<NativeCode, String> {
        let code_dir = f.code.clone();
        let mut env: Vec<(String, String)> = base_env
            .iter()
            .filter(|(k, _)| k != "FC_FUNC_CODE_PATH")
            .cloned()
            .collect();
        for key in ["PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ"] {
            if let Ok(v) = std::env::var(key) {
                env.push((key.into(), v));
            }
        }
        let svc = app.services.get(&f.service).cloned().unwrap_or_default();
        env.extend([
            (
                "FC_FUNC_CODE_PATH".into(),
                code_dir.to_string_lossy().into(),
            ),
            ("FC_RUNTIME".into(), native.label.clone()),
            ("FC_HANDLER".into(), f.handler.clone()),
            ("FC_MEMORY_SIZE".into(), f.memory_mb.to_string()),
            ("FC_TIMEOUT".into(), f.timeout.as_secs().to_string()),
            (
                "FC_INITIALIZER".into(),
                native.initializer.clone().unwrap_or_default(),
            ),
            (
                "FC_INITIALIZATION_TIMEOUT".into(),
                native.initialization_timeout.as_secs().to_string(),
            ),
            (
                "FC_PRE_STOP".into(),
                native.pre_stop.clone().unwrap_or_default(),
            ),
            ("FC_ACCESS_KEY_ID".into(), super::ACCESS_KEY_ID.into()),
            (
                "FC_ACCESS_KEY_SECRET".into(),
                super::ACCESS_KEY_SECRET.into(),
            ),
            ("FC_SECURITY_TOKEN".into(), super::SECURITY_TOKEN.into()),
            ("FC_SERVICE_LOG_PROJECT".into(), svc.log_project),
            ("FC_SERVICE_LOG_STORE".into(), svc.log_store),
            ("PYTHONUNBUFFERED".into(), "1".into()),
        ]);
        let clock = clock.is_virtual().then(|| clock.clone());
        if clock.is_some() {
            // The bootstraps make the language's clock read the time each request carries.
            env.push(("FCEMU_VIRTUAL_CLOCK".into(), "1".into()));
        }
        if let Some((_, endpoint)) = base_env.iter().find(|(k, _)| k == "FCEMU_ENDPOINT") {
            // SDK code naming the region's real endpoints over http reaches fcemu.
            for k in ["HTTP_PROXY", "http_proxy"] {
                env.push((k.into(), endpoint.clone()));
            }
            env.push(("NO_PROXY".into(), "127.0.0.1,localhost".into()));
            env.push(("no_proxy".into(), "127.0.0.1,localhost".into()));
        }
        let layers: Vec<String> = native
            .layers
            .iter()
            .map(|l| l.to_string_lossy().into_owned())
            .collect();
        let mut node_path = layers
            .iter()
            .map(|l| format!("{l}/nodejs/node_modules:{l}/node_modules:{l}"))
            .collect::<Vec<_>>();
        node_path.push(code_dir.join("node_modules").to_string_lossy().into());
        let mut py_path: Vec<String> = layers.iter().map(|l| format!("{l}/python:{l}")).collect();
        py_path.insert(0, code_dir.to_string_lossy().into());
        let (interpreter, launch) = match native.runtime {
            NativeRuntime::Custom => {
                let program = &native.command[0];
                let program = if program.contains('/') {
                    code_dir.join(program)
                } else {
                    which(program).unwrap_or_else(|| PathBuf::from(program))
                };
                env.push(("PYTHONPATH".into(), py_path.join(":")));
                env.push(("NODE_PATH".into(), node_path.join(":")));
                (
                    None,
                    Launch {
                        program,
                        args: native.command[1..].to_vec(),
                        env,
                        cwd: code_dir,
                    },
                )
            }
            rt => {
                let interp = find_interpreter(rt, &native.label)?;
                check_syntax(rt, &interp, &code_dir, &f.handler)?;
                let script = bootstrap(&scratch.join("bootstrap"), rt)
                    .map_err(|e| format!("cannot write fcemu's bootstrap: {e}"))?;
                let key = if rt == NativeRuntime::Node {
                    ("NODE_PATH", node_path.join(":"))
                } else {
                    ("PYTHONPATH", py_path.join(":"))
                };
                env.push((key.0.into(), key.1));
                let launch = Launch {
                    program: interp.path.clone(),
                    args: vec![script.to_string_lossy().into()],
                    env,
                    cwd: code_dir,
                };
                (Some(interp), launch)
            }
        };
        let stopper = Arc::new(Stopper {
            plan: native.clone(),
            function: f.clone(),
        });
        let idle = Arc::new(Mutex::new(HashMap::new()));
        sweep_idle(&idle, &stopper, idle_limit);
        Ok(NativeCode {
            plan: native.clone(),
            interpreter,
            launch,
            stopper,
            clock,
            idle,
        })
    }

    /// Stops every warm instance (pre-stop hook, then kill), as on shutdown.
    pub async fn stop_all(&self) {
        let all = drain(&self.idle, |_| true);
        let stops = all
            .into_iter()
            .map(|(id, inst)| async move { self.stopper.stop(&id, inst).await });
        futures::future::join_all(stops).await;
    }

    /// Warm instances now (idle and busy are not told apart here: idle ones).
    pub fn warm(&self) -> usize {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The resident memory of each idle warm instance now, bytes.
    pub fn idle_rss(&self) -> Vec<u64> {
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(Instance::rss)
            .collect()
    }

    fn take(&self, id: &str) -> Option<Instance> {
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id)
    }

    fn put_back(&self, id: &str, inst: Instance) {
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), inst);
    }

    /// The slot's instance, started (and its initializer run) when needed, with the log lines
    /// of the initializer; `None` with `outcome` failed when it could not be made ready.
    async fn ready_instance(
        &self,
        f: &FunctionPlan,
        slot: &Slot,
        cause: &fcemu_core::Cause,
        outcome: &mut InvocationOutcome,
        started: Instant,
    ) -> Option<(Instance, Vec<u8>)> {
        let mut inst = match self.take(&slot.instance_id) {
            Some(i) => i,
            None => match self.start(slot).await {
                Ok(i) => i,
                Err(message) => {
                    fail(outcome, FailureKind::NotStarted { message }, None);
                    return None;
                }
            },
        };
        let rid = outcome.request_id.clone();
        inst.logs.begin();
        let mut log = Vec::new();
        if self.plan.initializer.is_some() && !inst.initialized {
            let _running = fcemu_core::cause::running_on(&inst.cause_key, cause.clone());
            log.extend_from_slice(format!("FC Initialize Start RequestId: {rid}\n").as_bytes());
            let mut r = control(&rid, f, "/initialize", &self.plan);
            self.stamp(&mut r);
            let result = inst.call(r, self.plan.initialization_timeout).await;
            log.extend_from_slice(&inst.logs.end(self.log_grace()).await);
            log.extend_from_slice(format!("FC Initialize End RequestId: {rid}\n").as_bytes());
            inst.logs.begin();
            match result {
                Ok(resp) if fc_status_ok(&resp) => inst.initialized = true,
                other => {
                    let message = match other {
                        Ok(resp) => error_message(resp.body()),
                        Err(CallFailure::Timeout) => format!(
                            "Function initialization timeout after {} seconds",
                            self.plan.initialization_timeout.as_secs()
                        ),
                        Err(CallFailure::Exited(e)) => exited_message(&mut inst, &e, started),
                    };
                    outcome.stderr = Bytes::from(log);
                    outcome.max_memory_bytes = inst.peak_rss();
                    fail(outcome, FailureKind::InitializerFailed { message }, None);
                    return None; // the instance is dropped: the next call starts a new one
                }
            }
        }
        Some((inst, log))
    }

    /// How long to wait for the end marker of a request's log lines.
    fn log_grace(&self) -> Duration {
        if self.interpreter.is_some() {
            BUILTIN_LOG_GRACE
        } else {
            CUSTOM_LOG_GRACE
        }
    }

    /// Runs one request on the slot's instance, starting it (and its initializer) first when
    /// needed. Fills `outcome` (status, body, logs, memory) and returns the instance's response
    /// on success.
    pub async fn run(
        &self,
        f: &FunctionPlan,
        slot: &Slot,
        mut req: http::Request<Full<Bytes>>,
        outcome: &mut InvocationOutcome,
    ) -> Option<http::Response<Bytes>> {
        self.stamp(&mut req);
        let started = Instant::now();
        let cause = cause_of(req.headers());
        let (mut inst, mut log) = self
            .ready_instance(f, slot, &cause, outcome, started)
            .await?;
        let _running = fcemu_core::cause::running_on(&inst.cause_key, cause);
        let grace = self.log_grace();
        let result = inst.call(req, f.timeout).await;
        log.extend_from_slice(&inst.logs.end(grace).await);
        outcome.stderr = Bytes::from(log);
        outcome.max_memory_bytes = inst.peak_rss();
        let over_memory = outcome.max_memory_bytes > u64::from(f.memory_mb) * 1024 * 1024;
        match result {
            Ok(_) if over_memory => {
                fail(outcome, FailureKind::OutOfMemory, None);
                None
            }
            Ok(resp) => {
                let out = if fc_status_ok(&resp) {
                    Some(resp)
                } else {
                    let handled = resp
                        .headers()
                        .get("x-fcemu-error-type")
                        .is_some_and(|v| v == "HandledInvocationError");
                    let body = resp.body().clone();
                    fail(outcome, FailureKind::FunctionError { handled }, Some(body));
                    None
                };
                self.put_back(&slot.instance_id, inst);
                out
            }
            Err(CallFailure::Timeout) => {
                fail(outcome, FailureKind::Timeout, None);
                None
            }
            Err(CallFailure::Exited(e)) => {
                let message = exited_message(&mut inst, &e, started);
                fail(outcome, FailureKind::ProcessExited { message }, None);
                None
            }
        }
    }

    /// Runs an HTTP pass-through request on the slot's instance, streamed both ways: the
    /// request body goes to the instance as it arrives, and the answer is the response head
    /// with a body that forwards the instance's bytes as they come. When the body has ended
    /// (or the timeout passed), the log lines are read, the instance is kept or replaced, and
    /// `finish` then `done` get the outcome; `hold` (the concurrency slot) is released then.
    #[allow(clippy::too_many_arguments)]
    pub async fn run_streaming(
        self: &Arc<Self>,
        f: &FunctionPlan,
        slot: &Slot,
        mut req: http::Request<CallBody>,
        mut outcome: InvocationOutcome,
        hold: Box<dyn Send>,
        finish: impl FnOnce(&mut InvocationOutcome) + Send + 'static,
        done: tokio::sync::oneshot::Sender<InvocationOutcome>,
    ) -> Result<(http::response::Parts, StreamedBody), String> {
        use http_body_util::BodyExt;
        if let Some(clock) = &self.clock {
            req.headers_mut()
                .insert("x-fcemu-now", http::HeaderValue::from(clock.now_millis()));
        }
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + f.timeout;
        let cause = cause_of(req.headers());
        let give_up =
            |mut outcome: InvocationOutcome,
             done: tokio::sync::oneshot::Sender<_>,
             finish: Box<dyn FnOnce(&mut InvocationOutcome) + Send>| {
                finish(&mut outcome);
                let _ = done.send(outcome);
                Err("the function failed".to_string())
            };
        let Some((mut inst, mut log)) = self
            .ready_instance(f, slot, &cause, &mut outcome, started)
            .await
        else {
            return give_up(outcome, done, Box::new(finish));
        };
        let running = fcemu_core::cause::running_on(&inst.cause_key, cause);
        let head = match tokio::time::timeout_at(deadline, inst.send(req)).await {
            Ok(Ok(resp)) => resp,
            result => {
                log.extend_from_slice(&inst.logs.end(self.log_grace()).await);
                outcome.stderr = Bytes::from(log);
                outcome.max_memory_bytes = inst.peak_rss();
                match result {
                    Ok(Err(CallFailure::Exited(e))) => {
                        let message = exited_message(&mut inst, &e, started);
                        fail(&mut outcome, FailureKind::ProcessExited { message }, None);
                    }
                    _ => fail(&mut outcome, FailureKind::Timeout, None),
                }
                return give_up(outcome, done, Box::new(finish));
            }
        };
        let (parts, mut body) = head.into_parts();
        // The bootstraps answer a handler's failure with FC's error body and `x-fc-status`.
        if parts.headers.get("x-fc-status").is_some_and(|v| v != "200") {
            let handled = parts
                .headers
                .get("x-fcemu-error-type")
                .is_some_and(|v| v == "HandledInvocationError");
            let bytes = match tokio::time::timeout_at(deadline, body.collect()).await {
                Ok(Ok(b)) => b.to_bytes(),
                _ => Bytes::new(),
            };
            log.extend_from_slice(&inst.logs.end(self.log_grace()).await);
            outcome.stderr = Bytes::from(log);
            outcome.max_memory_bytes = inst.peak_rss();
            fail(
                &mut outcome,
                FailureKind::FunctionError { handled },
                Some(bytes),
            );
            self.put_back(&slot.instance_id, inst);
            drop(running);
            return give_up(outcome, done, Box::new(finish));
        }
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, String>>(8);
        let this = self.clone();
        let instance_id = slot.instance_id.clone();
        tokio::spawn(async move {
            let _hold = hold;
            let _running = running;
            let mut broken = None;
            loop {
                let frame = tokio::select! {
                    frame = body.frame() => frame,
                    _ = tokio::time::sleep_until(deadline) => {
                        broken = Some(CallFailure::Timeout);
                        break;
                    }
                };
                match frame {
                    None => break,
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data()
                            && tx.send(Ok(data)).await.is_err()
                        {
                            break; // the client went away; the instance finishes on its own
                        }
                    }
                    Some(Err(e)) => {
                        let _ = tx.send(Err(e.to_string())).await;
                        broken = Some(CallFailure::Exited(e.to_string()));
                        break;
                    }
                }
            }
            drop(tx);
            log.extend_from_slice(&inst.logs.end(this.log_grace()).await);
            outcome.stderr = Bytes::from(log);
            outcome.max_memory_bytes = inst.peak_rss();
            match broken {
                None => this.put_back(&instance_id, inst),
                Some(CallFailure::Timeout) => fail(&mut outcome, FailureKind::Timeout, None),
                Some(CallFailure::Exited(e)) => {
                    let message = exited_message(&mut inst, &e, started);
                    fail(&mut outcome, FailureKind::ProcessExited { message }, None);
                }
            }
            finish(&mut outcome);
            let _ = done.send(outcome);
        });
        Ok((parts, StreamedBody(rx)))
    }

    /// Adds the virtual clock's time (epoch milliseconds) to a request, in deterministic runs.
    fn stamp(&self, req: &mut http::Request<Full<Bytes>>) {
        if let Some(clock) = &self.clock {
            req.headers_mut()
                .insert("x-fcemu-now", http::HeaderValue::from(clock.now_millis()));
        }
    }

    async fn start(&self, slot: &Slot) -> Result<Instance, String> {
        let port = free_port().map_err(|e| format!("no free port: {e}"))?;
        let mut launch = self.launch.clone();
        // The environment's security token names this instance: requests signed with it are
        // attributed to the invocation running here (`fcemu_core::cause::running_on`).
        let cause_key = fcemu_core::cause::instance_key();
        let token = fcemu_core::cause::instance_token(&cause_key);
        launch.env.extend([
            ("FC_SECURITY_TOKEN".to_string(), token.clone()),
            ("ALIBABA_CLOUD_SECURITY_TOKEN".to_string(), token),
            ("FC_SERVER_PORT".to_string(), port.to_string()),
            ("FC_CUSTOM_LISTEN_PORT".to_string(), port.to_string()),
            ("FC_INSTANCE_ID".to_string(), slot.instance_id.clone()),
            ("TMPDIR".to_string(), slot.tmp.to_string_lossy().into()),
        ]);
        let mut inst = Instance::start(&launch, port, START_LIMIT)
            .await
            .map_err(|e| e.0)?;
        inst.cause_key = cause_key;
        tracing::debug!(instance = slot.instance_id, pid = ?inst.pid(), port, "instance started");
        Ok(inst)
    }
}

/// The invocation a request to an instance is for, from its security token.
fn cause_of(headers: &http::HeaderMap) -> fcemu_core::Cause {
    headers
        .get("x-fc-security-token")
        .and_then(|v| v.to_str().ok())
        .and_then(fcemu_core::Cause::from_token)
        .unwrap_or_default()
}

/// The body of a streamed answer: the instance's bytes as they come, or why they stopped.
pub struct StreamedBody(tokio::sync::mpsc::Receiver<Result<Bytes, String>>);

impl StreamedBody {
    /// The next piece (`None` at the end).
    pub async fn next(&mut self) -> Option<Result<Bytes, String>> {
        self.0.recv().await
    }
}

/// A fingerprint of the files under `roots`: relative path, size and modification time of
/// each, skipping `node_modules`, `.git` and `__pycache__`.
pub fn fingerprint(roots: &[PathBuf]) -> std::io::Result<Vec<u8>> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
        for e in std::fs::read_dir(dir)? {
            let e = e?;
            let name = e.file_name();
            if matches!(name.to_str(), Some("node_modules" | ".git" | "__pycache__")) {
                continue;
            }
            let meta = e.metadata()?;
            let path = e.path();
            if meta.is_dir() {
                walk(&path, root, out)?;
            } else {
                let mtime = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                let rel = path.strip_prefix(root).unwrap_or(&path);
                out.push(format!("{}\t{}\t{mtime}", rel.display(), meta.len()));
            }
        }
        Ok(())
    }
    let mut lines = Vec::new();
    for r in roots {
        lines.push(format!("root {}", r.display()));
        walk(r, r, &mut lines)?;
    }
    lines.sort();
    Ok(lines.join("\n").into_bytes())
}

/// A port nothing listens on now, for the next instance to bind. The instance must bind it
/// itself (FC tells it the port), so the listener cannot be handed over.
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn fc_status_ok(resp: &http::Response<Bytes>) -> bool {
    match resp.headers().get("x-fc-status") {
        Some(v) => v == "200",
        None => true,
    }
}

fn error_message(body: &Bytes) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["errorMessage"].as_str().map(String::from))
        .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string())
}

fn exited_message(inst: &mut Instance, why: &str, started: Instant) -> String {
    let status = inst.exit_status().unwrap_or_else(|| why.to_string());
    format!(
        "Process exited unexpectedly before completing request (duration: {}ms, maxMemoryUsage: {:.2}MB): {status}",
        started.elapsed().as_millis(),
        inst.peak_rss() as f64 / (1024.0 * 1024.0)
    )
}

fn fail(outcome: &mut InvocationOutcome, kind: FailureKind, body: Option<Bytes>) {
    outcome.status = match kind {
        FailureKind::FunctionError { handled: true } => InvocationStatus::HandledError,
        _ => InvocationStatus::UnhandledError,
    };
    if let Some(b) = body {
        outcome.body = b;
    }
    outcome.failure = Some(kind);
}

/// Removes from an instance's HTTP response what FC does not forward: hop-by-hop headers (the
/// response is framed anew), the length (recomputed), and FC's own `x-fc-*` headers.
pub fn strip_reserved(headers: &mut http::HeaderMap) {
    const HOP: [&str; 8] = [
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "content-length",
    ];
    let reserved: Vec<http::HeaderName> = headers
        .keys()
        .filter(|k| {
            let k = k.as_str();
            HOP.contains(&k) || k.starts_with("x-fc-") || k.starts_with("x-fcemu-")
        })
        .cloned()
        .collect();
    for k in reserved {
        headers.remove(k);
    }
}

/// The headers FC adds to every request to an instance (reference fc.md §4.3). The security
/// token is the invocation's own ([`fcemu_core::Cause::token`]): the SDKs send it with every
/// request, so the services know which invocation, `depth` hops down a trigger chain, wrote.
pub fn fc_headers(
    b: http::request::Builder,
    request_id: &str,
    depth: u32,
    f: &FunctionPlan,
    native: &NativePlan,
    control_path: &str,
) -> http::request::Builder {
    let init = native.initializer.clone().unwrap_or_default();
    let pairs: [(&str, String); 14] = [
        ("x-fc-request-id", request_id.to_string()),
        ("x-fc-access-key-id", super::ACCESS_KEY_ID.to_string()),
        (
            "x-fc-access-key-secret",
            super::ACCESS_KEY_SECRET.to_string(),
        ),
        (
            "x-fc-security-token",
            fcemu_core::Cause::invocation(depth, request_id).token(),
        ),
        ("x-fc-function-name", f.name.clone()),
        ("x-fc-function-handler", f.handler.clone()),
        ("x-fc-function-memory", f.memory_mb.to_string()),
        ("x-fc-function-timeout", f.timeout.as_secs().to_string()),
        ("x-fc-function-initializer", init),
        (
            "x-fc-initialization-timeout",
            native.initialization_timeout.as_secs().to_string(),
        ),
        ("x-fc-service-name", f.service.clone()),
        ("x-fc-qualifier", "LATEST".to_string()),
        ("x-fc-version-id", String::new()),
        ("x-fc-control-path", control_path.to_string()),
    ];
    let mut b = b;
    for (k, v) in pairs {
        b = b.header(k, v);
    }
    b
}

fn control(
    request_id: &str,
    f: &FunctionPlan,
    path: &str,
    native: &NativePlan,
) -> http::Request<Full<Bytes>> {
    let method = if path == "/pre-stop" {
        http::Method::GET
    } else {
        http::Method::POST
    };
    let b = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::HOST, "127.0.0.1");
    fc_headers(b, request_id, 0, f, native, path)
        .body(Full::new(Bytes::new()))
        .unwrap_or_default()
}

/// The `POST /invoke` request of an event invocation.
pub fn invoke_request(
    request_id: &str,
    f: &FunctionPlan,
    native: &NativeCode,
    event: Bytes,
    app: &AppPlan,
    retry: u32,
    depth: u32,
) -> http::Request<Full<Bytes>> {
    let b = http::Request::post("/invoke")
        .header(http::header::HOST, "127.0.0.1")
        .header(http::header::CONTENT_TYPE, "application/octet-stream")
        .header("x-fc-region", &app.region)
        .header("x-fc-account-id", &app.account_id)
        .header("x-fc-retry-count", retry.to_string());
    fc_headers(b, request_id, depth, f, &native.plan, "/invoke")
        .body(Full::new(event))
        .unwrap_or_default()
}
