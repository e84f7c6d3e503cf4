//! Runs functions: one wasmtime engine, compiled code cached by content hash, a fresh instance
//! per invocation from an `InstancePre`, and the ABI of DESIGN §4 (stdin = event, stdout =
//! result, stderr = logs, exit status = handled error, trap/timeout/OOM = unhandled error).

mod cache;
mod engine;
mod http;
mod limits;
pub mod native;
mod outcome;
mod slots;
mod tier;
mod wasi;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fcemu_core::{Clock, IdGen};
use time::OffsetDateTime;
use wasmtime::component::ResourceTable;
use wasmtime::{Engine, InstancePre, Linker, Store, Trap, UpdateDeadline};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

pub use cache::{CacheOutcome, ModuleCache, WasmKind, content_hash, detect_kind};
pub use outcome::{FailureKind, FunctionErrorBody, InvocationOutcome, InvocationStatus};
pub use tier::Tier;
pub use wasi::{ACCESS_KEY_ID, ACCESS_KEY_SECRET, SECURITY_TOKEN};

use crate::manifest::{AppPlan, FunctionPlan};
pub use http::OutboundPolicy;
use limits::MemoryLimiter;
use slots::Slots;

/// Settings of a [`Runtime`].
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Where compiled code is cached.
    pub cache: ModuleCache,
    /// The emulator's clock (virtual in deterministic runs).
    pub clock: Clock,
    /// Source of request and instance ids.
    pub ids: IdGen,
    /// Seeded randomness for guests.
    pub deterministic: bool,
    /// Directory under which each instance's `/tmp` lives.
    pub scratch_dir: PathBuf,
    /// Extra environment for every function (e.g. `FCEMU_ENDPOINT`).
    pub extra_env: Vec<(String, String)>,
    /// fcemu's own endpoints (`host:port`), which functions may always call.
    pub own_endpoints: Vec<String>,
    /// How long a native function's instance may stay idle before it is stopped.
    pub instance_idle: Duration,
}

/// How long native instances stay warm without requests by default (FC reclaims idle
/// instances after a few minutes).
pub const DEFAULT_INSTANCE_IDLE: Duration = Duration::from_secs(300);

/// The function runtime. Cheap to share behind an `Arc`.
pub struct Runtime {
    engine: Engine,
    opts: RuntimeOptions,
    linkers: Linkers,
    /// The baseline compiler for quick reloads, when the platform has it.
    quick: Option<(Engine, Linkers)>,
    own_endpoints: Arc<Vec<String>>,
    _ticker: engine::EpochTicker,
    _quick_ticker: Option<engine::EpochTicker>,
}

/// The WASI linkers of one engine.
struct Linkers {
    p1: Linker<P1State>,
    p2: wasmtime::component::Linker<P2State>,
}

impl Linkers {
    fn new(engine: &Engine) -> wasmtime::Result<Linkers> {
        let mut p1 = Linker::new(engine);
        wasmtime_wasi::p1::add_to_linker_async(&mut p1, |s: &mut P1State| &mut s.wasi)?;
        let mut p2 = wasmtime::component::Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut p2)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut p2)?;
        Ok(Linkers { p1, p2 })
    }
}

/// Why a function could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The wasm file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not WebAssembly.
    #[error("{} is not a WebAssembly module or component", path.display())]
    NotWasm {
        /// The file.
        path: PathBuf,
    },
    /// Compilation or linking failed.
    #[error("cannot load {}: {message}", path.display())]
    Compile {
        /// The file.
        path: PathBuf,
        /// Wasmtime's explanation.
        message: String,
    },
}

/// Why an invocation did not run at all (as opposed to running and failing).
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// Every instance slot of the function is busy.
    #[error("function '{function}' is running {concurrency} invocations, its concurrency limit")]
    Throttled {
        /// Function name.
        function: String,
        /// Its limit.
        concurrency: u32,
    },
    /// An HTTP request was sent to an event function.
    #[error("function '{function}' is an event function, not an HTTP function")]
    NotHttp {
        /// Function name.
        function: String,
    },
    /// The instance's scratch directory could not be prepared.
    #[error("cannot prepare an instance of '{function}': {source}")]
    Scratch {
        /// Function name.
        function: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// What to do when every instance of a function is busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenBusy {
    /// Fail with [`InvokeError::Throttled`] (synchronous invocations).
    Throttle,
    /// Wait for a free instance (asynchronous deliveries).
    Wait,
}

/// One invocation's input.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// FC request id.
    pub request_id: String,
    /// The event bytes, delivered on stdin.
    pub event: Bytes,
    /// Qualifier the caller asked for.
    pub qualifier: String,
    /// How many trigger hops led to this invocation; requests the function makes to fcemu carry
    /// it, so changes they cause can be traced back (the trigger loop guard).
    pub depth: u32,
    /// Request id of the invocation whose write (or result) caused this one, if any.
    pub caused_by: Option<String>,
    /// Which retry of an asynchronous invocation this is (0 for the first attempt): FC's
    /// `x-fc-retry-count` and the context's `retryCount`.
    pub retry: u32,
}

enum Code {
    Module(InstancePre<P1State>),
    Component(CommandPre<P2State>),
    Http(ProxyPre<P2State>),
    Native(Arc<native::NativeCode>),
}

/// How a function is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// A WASI command: event on stdin, result on stdout.
    Event,
    /// A `wasi:http/proxy` component: handed the HTTP request itself.
    Http,
}

/// A function ready to run: its plan, compiled code and instance slots. Replaced whole on reload.
pub struct LoadedFunction {
    /// The resolved plan it was loaded from.
    pub plan: FunctionPlan,
    /// SHA-256 of the wasm file.
    pub code_hash: String,
    /// Module or component.
    pub kind: WasmKind,
    /// Event function or HTTP function.
    pub shape: Shape,
    /// Whether the compiled code came from the cache.
    pub cache: CacheOutcome,
    /// Which compiler produced the code.
    pub tier: Tier,
    /// How long loading took.
    pub load_time: Duration,
    /// When it was loaded, on the emulator's clock.
    pub loaded_at: OffsetDateTime,
    app: Arc<AppPlan>,
    code: Code,
    env: Vec<(String, String)>,
    slots: Arc<Slots>,
}

impl LoadedFunction {
    /// Invocations running now.
    pub fn busy(&self) -> usize {
        self.slots.busy(self.plan.concurrency)
    }

    /// The native runtime's code, for Node.js, Python and custom-runtime functions.
    pub fn native(&self) -> Option<&native::NativeCode> {
        match &self.code {
            Code::Native(n) => Some(n),
            _ => None,
        }
    }

    /// Forgets the warm instances: the next call starts a new one, with a new instance id
    /// (and, for native functions, a new process: the old ones get their pre-stop hook and
    /// stop). For starting over from a fresh state.
    pub async fn cool_down(&self) {
        self.slots.forget_idle();
        if let Some(n) = self.native() {
            n.stop_all().await;
        }
    }
}

struct P1State {
    wasi: WasiP1Ctx,
    limiter: MemoryLimiter,
}

struct P2State {
    ctx: WasiCtx,
    table: ResourceTable,
    limiter: MemoryLimiter,
    http: WasiHttpCtx,
    outbound: OutboundPolicy,
}

impl WasiView for P2State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for P2State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

impl Runtime {
    /// Creates the engines and linkers and starts the epoch tickers.
    pub fn new(opts: RuntimeOptions) -> wasmtime::Result<Self> {
        let engine = engine::build_engine()?;
        let linkers = Linkers::new(&engine)?;
        let ticker = engine::EpochTicker::start(&engine);
        let quick = match engine::build_quick_engine()
            .and_then(|e| Linkers::new(&e).map(|l| (e, l)))
        {
            Ok(q) => Some(q),
            Err(e) => {
                tracing::debug!(error = %e, "no baseline compiler; reloads compile optimized code");
                None
            }
        };
        let quick_ticker = quick.as_ref().map(|(e, _)| engine::EpochTicker::start(e));
        let own_endpoints = Arc::new(opts.own_endpoints.clone());
        Ok(Runtime {
            engine,
            opts,
            linkers,
            quick,
            own_endpoints,
            _ticker: ticker,
            _quick_ticker: quick_ticker,
        })
    }

    /// The clock functions and records use.
    pub fn clock(&self) -> &Clock {
        &self.opts.clock
    }

    /// The id source.
    pub fn ids(&self) -> &IdGen {
        &self.opts.ids
    }

    /// Reads, compiles (or loads from cache) and pre-links a function.
    pub fn load(
        &self,
        app: &Arc<AppPlan>,
        plan: &FunctionPlan,
    ) -> Result<LoadedFunction, LoadError> {
        let started = Instant::now();
        let bytes = read_code(plan)?;
        self.load_bytes(app, plan, &bytes, started)
    }

    /// Compiles (or loads from cache) and pre-links `bytes`, already read from the function's
    /// code file. Hot reload reads the file once, so the code it hashes is the code it compiles.
    /// `started` is when loading began, for the reported load time.
    pub fn load_bytes(
        &self,
        app: &Arc<AppPlan>,
        plan: &FunctionPlan,
        bytes: &[u8],
        started: Instant,
    ) -> Result<LoadedFunction, LoadError> {
        if plan.native.is_some() {
            return self.load_native(app, plan, bytes, started);
        }
        let (kind, hash) = identify(plan, bytes)?;
        let (compiled, cache) = self
            .opts
            .cache
            .load(&self.engine, bytes, kind, &hash)
            .map_err(|e| compile_error(plan, e))?;
        self.link(
            app,
            plan,
            compiled,
            (kind, hash, cache, Tier::Optimized),
            started,
        )
    }

    /// Like [`Runtime::load_bytes`], but when the optimized code is not in the cache, compiles
    /// with the baseline compiler, which is several times faster: the result is
    /// [`Tier::Baseline`] and should be replaced by [`Runtime::load_bytes`]'s in the
    /// background. Falls back to the optimizing compiler when the baseline one cannot compile
    /// the code.
    pub fn load_bytes_quick(
        &self,
        app: &Arc<AppPlan>,
        plan: &FunctionPlan,
        bytes: &[u8],
        started: Instant,
    ) -> Result<LoadedFunction, LoadError> {
        if plan.native.is_some() {
            return self.load_native(app, plan, bytes, started);
        }
        let (kind, hash) = identify(plan, bytes)?;
        if let Some(compiled) = self.opts.cache.lookup(&self.engine, kind, &hash) {
            let meta = (kind, hash, CacheOutcome::Hit, Tier::Optimized);
            return self.link(app, plan, compiled, meta, started);
        }
        if let Some((quick, _)) = &self.quick {
            match cache::compile_uncached(quick, bytes, kind) {
                Ok(compiled) => {
                    let meta = (kind, hash, CacheOutcome::Compiled, Tier::Baseline);
                    return self.link(app, plan, compiled, meta, started);
                }
                Err(e) => tracing::debug!(error = %e, "baseline compile failed; optimizing"),
            }
        }
        self.load_bytes(app, plan, bytes, started)
    }

    /// Prepares a native function: `fingerprint` is what [`read_code`] made of its code
    /// directory (a change there is a new version, whose instances start afresh).
    fn load_native(
        &self,
        app: &Arc<AppPlan>,
        plan: &FunctionPlan,
        fingerprint: &[u8],
        started: Instant,
    ) -> Result<LoadedFunction, LoadError> {
        let native_plan = plan.native.as_ref().expect("checked by the caller");
        let hash = content_hash(fingerprint);
        let env = wasi::base_env(app, plan, &self.opts.extra_env);
        let code = native::NativeCode::prepare(
            app,
            plan,
            native_plan,
            &env,
            &self.opts.scratch_dir,
            self.opts.instance_idle,
            &self.opts.clock,
        )
        .map_err(|message| LoadError::Compile {
            path: plan.code.clone(),
            message,
        })?;
        let scratch = self.opts.scratch_dir.join(&plan.name).join(&hash[..12]);
        Ok(LoadedFunction {
            plan: plan.clone(),
            code_hash: hash,
            kind: WasmKind::Native,
            shape: Shape::Event,
            cache: CacheOutcome::Compiled,
            tier: Tier::Optimized,
            load_time: started.elapsed(),
            loaded_at: self.opts.clock.now(),
            env,
            app: app.clone(),
            code: Code::Native(Arc::new(code)),
            slots: Arc::new(Slots::new(plan.concurrency, scratch)),
        })
    }

    fn link(
        &self,
        app: &Arc<AppPlan>,
        plan: &FunctionPlan,
        compiled: cache::Compiled,
        (kind, hash, cache, tier): (WasmKind, String, CacheOutcome, Tier),
        started: Instant,
    ) -> Result<LoadedFunction, LoadError> {
        let path = plan.code.clone();
        let compile_err = |e: wasmtime::Error| compile_error(plan, e);
        let linkers = match (tier, &self.quick) {
            (Tier::Baseline, Some((_, l))) => l,
            _ => &self.linkers,
        };
        let code = match compiled {
            cache::Compiled::Module(m) => {
                Code::Module(linkers.p1.instantiate_pre(&m).map_err(compile_err)?)
            }
            cache::Compiled::Component(c) => {
                let pre = linkers.p2.instantiate_pre(&c).map_err(compile_err)?;
                match ProxyPre::new(pre.clone()) {
                    Ok(proxy) => Code::Http(proxy),
                    Err(_) => Code::Component(CommandPre::new(pre).map_err(|e| LoadError::Compile {
                        path: path.clone(),
                        message: format!(
                            "a component must export wasi:cli/run (an event function) or wasi:http/incoming-handler (an HTTP function): {e:#}"
                        ),
                    })?),
                }
            }
        };
        let shape = if matches!(code, Code::Http(_)) {
            Shape::Http
        } else {
            Shape::Event
        };
        let scratch = self.opts.scratch_dir.join(&plan.name).join(&hash[..12]);
        Ok(LoadedFunction {
            plan: plan.clone(),
            code_hash: hash,
            kind,
            shape,
            cache,
            tier,
            load_time: started.elapsed(),
            loaded_at: self.opts.clock.now(),
            env: wasi::base_env(app, plan, &self.opts.extra_env),
            app: app.clone(),
            code,
            slots: Arc::new(Slots::new(plan.concurrency, scratch)),
        })
    }

    /// Runs one invocation of `f` in a fresh instance.
    pub async fn invoke(
        &self,
        f: &LoadedFunction,
        inv: Invocation,
        when_busy: WhenBusy,
    ) -> Result<InvocationOutcome, InvokeError> {
        let guard = self.acquire(f, when_busy).await?;
        let slot = guard.slot();
        let started_at = self.opts.clock.now();
        let started = Instant::now();
        let context = wasi::context_json(&f.app, &f.plan, &inv.request_id, &inv.qualifier);
        let per_call = [
            ("FC_REQUEST_ID", inv.request_id.as_str()),
            ("FC_INSTANCE_ID", slot.instance_id.as_str()),
            ("FC_CONTEXT", context.as_str()),
        ];
        let mut outcome = InvocationOutcome {
            request_id: inv.request_id.clone(),
            function: f.plan.name.clone(),
            event: inv.event.clone(),
            instance_id: slot.instance_id.clone(),
            status: InvocationStatus::Success,
            failure: None,
            body: Bytes::new(),
            stderr: Bytes::new(),
            started_at,
            duration: Duration::ZERO,
            memory_mb: f.plan.memory_mb,
            max_memory_bytes: 0,
            chain_depth: inv.depth,
            caused_by: inv.caused_by.clone(),
        };
        if let Code::Native(code) = &f.code {
            let req = native::invoke_request(
                &inv.request_id,
                &f.plan,
                code,
                inv.event,
                &f.app,
                inv.retry,
                inv.depth,
            );
            self.finish_native(
                f,
                code.run(&f.plan, slot, req, &mut outcome).await,
                &mut outcome,
                started,
            );
            return Ok(outcome);
        }
        let built = wasi::builder(
            &f.plan,
            &f.env,
            &per_call,
            slot,
            inv.event,
            &self.opts.clock,
            self.opts.deterministic,
        );
        let (builder, stdio) = match built {
            Ok(b) => b,
            Err(e) => {
                let failure = FailureKind::StartFailed {
                    message: format!("{e:#}"),
                };
                self.finish(f, &mut outcome, Some((failure, Vec::new())), started);
                return Ok(outcome);
            }
        };
        let (result, limiter, denials) = match &f.code {
            Code::Module(pre) => {
                let (r, l) = self.run_module(f, pre, builder).await;
                (r, l, Vec::new())
            }
            Code::Component(pre) => {
                self.run_component(
                    f,
                    pre,
                    builder,
                    fcemu_core::Cause::invocation(inv.depth, &inv.request_id),
                )
                .await
            }
            Code::Native(_) => unreachable!("native functions returned above"),
            Code::Http(_) => {
                let failure = FailureKind::StartFailed {
                    message: "this is an HTTP function (wasi:http/proxy): call it through an http trigger route".into(),
                };
                self.finish(f, &mut outcome, Some((failure, Vec::new())), started);
                return Ok(outcome);
            }
        };
        outcome.max_memory_bytes = limiter.peak_bytes();
        outcome.stderr = with_denials(stdio.stderr.contents(), denials);
        let failure = match result {
            Ok(()) => None,
            Err(e) if is_clean_exit(&e) => None,
            Err(e) => Some(classify(e, limiter.hit_limit())),
        };
        if failure.is_none() {
            outcome.body = stdio.stdout.contents();
        }
        self.finish(f, &mut outcome, failure, started);
        Ok(outcome)
    }

    fn finish(
        &self,
        f: &LoadedFunction,
        outcome: &mut InvocationOutcome,
        failure: Option<(FailureKind, Vec<String>)>,
        started: Instant,
    ) {
        outcome.duration = started.elapsed();
        if let Some((failure, stack)) = failure {
            outcome.status = match failure {
                FailureKind::Exit { .. } => InvocationStatus::HandledError,
                _ => InvocationStatus::UnhandledError,
            };
            outcome.body = FunctionErrorBody::for_failure(
                &failure,
                &outcome.stderr,
                f.plan.timeout,
                f.plan.memory_mb,
                outcome.max_memory_bytes,
                stack,
            )
            .to_bytes();
            outcome.failure = Some(failure);
        }
    }

    /// Passes an HTTP request through to a native function (`x-fc-control-path: /http-invoke`;
    /// the built-in bootstraps give it FC 2.0's HTTP handler signatures): the body is read
    /// whole, and the instance's status, headers (less FC's own and hop-by-hop ones) and body
    /// come back.
    async fn handle_http_native<B>(
        &self,
        f: &LoadedFunction,
        code: &Arc<native::NativeCode>,
        request_id: String,
        req: ::http::Request<B>,
        when_busy: WhenBusy,
    ) -> Result<HttpInvocation, InvokeError>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        use http_body_util::BodyExt;
        let guard = self.acquire(f, when_busy).await?;
        let slot = guard.slot().clone();
        let started = Instant::now();
        let outcome = self.blank_outcome(f, &request_id, &slot.instance_id);
        let (parts, body) = req.into_parts();
        // The client's body goes to the instance as it arrives.
        let body: native::CallBody = body
            .map_err(|e| {
                let e: wasmtime_wasi_http::Error = e.into();
                Box::<dyn std::error::Error + Send + Sync>::from(format!(
                    "reading the request body: {e:?}"
                ))
            })
            .boxed_unsync();
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        let mut b = ::http::Request::builder().method(parts.method).uri(path);
        for (k, v) in &parts.headers {
            b = b.header(k, v);
        }
        let client = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>();
        if let (Some(c), false) = (client, parts.headers.contains_key("x-forwarded-for")) {
            b = b.header("x-forwarded-for", c.0.ip().to_string());
        }
        let b = b
            .header("x-fc-region", &f.app.region)
            .header("x-fc-account-id", &f.app.account_id);
        let Ok(req) =
            native::fc_headers(b, &request_id, 0, &f.plan, &code.plan, "/http-invoke").body(body)
        else {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let _ = tx.send(outcome);
            return Ok(HttpInvocation {
                response: Err("the request could not be passed on".into()),
                outcome: rx,
            });
        };
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let (timeout, memory_mb) = (f.plan.timeout, f.plan.memory_mb);
        let finish = move |o: &mut InvocationOutcome| {
            finish_native_outcome(timeout, memory_mb, None, o, started);
        };
        let response = code
            .run_streaming(
                &f.plan,
                &slot,
                req,
                outcome,
                Box::new(guard),
                finish,
                done_tx,
            )
            .await
            .map(|(mut parts, body)| {
                native::strip_reserved(&mut parts.headers);
                let stream = futures::stream::unfold(body, |mut body| async move {
                    let piece = body.next().await?;
                    let frame = piece
                        .map(http_body::Frame::data)
                        .map_err(|e| wasmtime_wasi_http::Error::InternalError(Some(e)));
                    Some((frame, body))
                });
                ::http::Response::from_parts(
                    parts,
                    http_body_util::StreamBody::new(stream).boxed_unsync(),
                )
            });
        Ok(HttpInvocation {
            response,
            outcome: done_rx,
        })
    }

    /// Completes a native invocation's record: the instance's response body on success, FC's
    /// error body for failures other than the function's own error.
    fn finish_native(
        &self,
        f: &LoadedFunction,
        response: Option<::http::Response<Bytes>>,
        outcome: &mut InvocationOutcome,
        started: Instant,
    ) {
        finish_native_outcome(f.plan.timeout, f.plan.memory_mb, response, outcome, started);
    }

    fn new_store<T: Send>(&self, f: &LoadedFunction, data: T) -> Store<T> {
        let engine = match &f.code {
            Code::Module(pre) => pre.module().engine(),
            Code::Component(pre) => pre.instance_pre().engine(),
            Code::Http(pre) => pre.instance_pre().engine(),
            Code::Native(_) => &self.engine,
        };
        let mut store = Store::new(engine, data);
        let deadline = Instant::now() + f.plan.timeout;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store
    }

    async fn run_module(
        &self,
        f: &LoadedFunction,
        pre: &InstancePre<P1State>,
        mut builder: wasmtime_wasi::WasiCtxBuilder,
    ) -> (wasmtime::Result<()>, MemoryLimiter) {
        let state = P1State {
            wasi: builder.build_p1(),
            limiter: MemoryLimiter::new(f.plan.memory_mb),
        };
        let mut store = self.new_store(f, state);
        store.limiter(|s| &mut s.limiter);
        let run = async {
            let instance = pre.instantiate_async(&mut store).await?;
            let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
            start.call_async(&mut store, ()).await
        };
        let result = with_timeout(f.plan.timeout, run).await;
        let limiter = std::mem::replace(&mut store.data_mut().limiter, MemoryLimiter::new(0));
        (result, limiter)
    }

    async fn run_component(
        &self,
        f: &LoadedFunction,
        pre: &CommandPre<P2State>,
        mut builder: wasmtime_wasi::WasiCtxBuilder,
        cause: fcemu_core::Cause,
    ) -> (wasmtime::Result<()>, MemoryLimiter, Vec<String>) {
        let state = self.p2_state(f, &mut builder, cause);
        let mut store = self.new_store(f, state);
        store.limiter(|s| &mut s.limiter);
        let run = async {
            let command = pre.instantiate_async(&mut store).await?;
            match command.wasi_cli_run().call_run(&mut store).await? {
                Ok(()) => Ok(()),
                Err(()) => Err(wasmtime::Error::new(I32Exit(1))),
            }
        };
        let result = with_timeout(f.plan.timeout, run).await;
        let limiter = std::mem::replace(&mut store.data_mut().limiter, MemoryLimiter::new(0));
        let denials = store.data().outbound.take_denials();
        (result, limiter, denials)
    }

    fn p2_state(
        &self,
        f: &LoadedFunction,
        builder: &mut wasmtime_wasi::WasiCtxBuilder,
        cause: fcemu_core::Cause,
    ) -> P2State {
        P2State {
            ctx: builder.build(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(f.plan.memory_mb),
            http: WasiHttpCtx::new(),
            outbound: OutboundPolicy::new(
                &f.plan.name,
                self.own_endpoints.clone(),
                &f.plan.allow_hosts,
                cause,
            ),
        }
    }

    fn blank_outcome(
        &self,
        f: &LoadedFunction,
        request_id: &str,
        instance_id: &str,
    ) -> InvocationOutcome {
        InvocationOutcome {
            request_id: request_id.to_string(),
            function: f.plan.name.clone(),
            event: Bytes::new(),
            instance_id: instance_id.to_string(),
            status: InvocationStatus::Success,
            failure: None,
            body: Bytes::new(),
            stderr: Bytes::new(),
            started_at: self.opts.clock.now(),
            duration: Duration::ZERO,
            memory_mb: f.plan.memory_mb,
            max_memory_bytes: 0,
            chain_depth: 0,
            caused_by: None,
        }
    }

    /// Hands an HTTP request to an HTTP function. Returns the response as soon as the function
    /// sets it (its body streams while the function writes it), and the invocation's outcome
    /// once the function has finished.
    pub async fn handle_http<B>(
        &self,
        f: &LoadedFunction,
        request_id: String,
        req: ::http::Request<B>,
        when_busy: WhenBusy,
    ) -> Result<HttpInvocation, InvokeError>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        if let Code::Native(code) = &f.code {
            return self
                .handle_http_native(f, code, request_id, req, when_busy)
                .await;
        }
        let Code::Http(pre) = &f.code else {
            return Err(InvokeError::NotHttp {
                function: f.plan.name.clone(),
            });
        };
        let guard = self.acquire(f, when_busy).await?;
        let slot = guard.slot().clone();
        let started = Instant::now();
        let context = wasi::context_json(&f.app, &f.plan, &request_id, "LATEST");
        let per_call = [
            ("FC_REQUEST_ID", request_id.as_str()),
            ("FC_INSTANCE_ID", slot.instance_id.as_str()),
            ("FC_CONTEXT", context.as_str()),
        ];
        let mut outcome = self.blank_outcome(f, &request_id, &slot.instance_id);
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let built = wasi::builder(
            &f.plan,
            &f.env,
            &per_call,
            &slot,
            Bytes::new(),
            &self.opts.clock,
            self.opts.deterministic,
        );
        let (mut builder, stdio) = match built {
            Ok(b) => b,
            Err(e) => {
                let why = "the function could not start".to_string();
                return Ok(self.http_start_failed(f, outcome, started, e, why, done_tx, done_rx));
            }
        };
        let state = self.p2_state(
            f,
            &mut builder,
            fcemu_core::Cause::invocation(0, &request_id),
        );
        let mut store = self.new_store(f, state);
        store.limiter(|s| &mut s.limiter);
        let (resp_tx, resp_rx) = tokio::sync::oneshot::channel();
        let scheme = wasmtime_wasi_http::p2::bindings::http::types::Scheme::Http;
        let prepared = store
            .data_mut()
            .http()
            .new_incoming_request(scheme, req)
            .and_then(|r| Ok((r, store.data_mut().http().new_response_outparam(resp_tx)?)));
        let (req_res, out_res) = match prepared {
            Ok(p) => p,
            Err(e) => {
                let why = format!("bad request for the function: {e:#}");
                return Ok(self.http_start_failed(f, outcome, started, e, why, done_tx, done_rx));
            }
        };
        let pre = pre.clone();
        let timeout = f.plan.timeout;
        let memory_mb = f.plan.memory_mb;
        tokio::spawn(async move {
            let run = async {
                let proxy = pre.instantiate_async(&mut store).await?;
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, req_res, out_res)
                    .await
            };
            let result = with_timeout(timeout, run).await;
            let limiter = std::mem::replace(&mut store.data_mut().limiter, MemoryLimiter::new(0));
            let denials = store.data().outbound.take_denials();
            drop(store);
            drop(guard);
            outcome.max_memory_bytes = limiter.peak_bytes();
            outcome.stderr = with_denials(stdio.stderr.contents(), denials);
            outcome.duration = started.elapsed();
            if let Err(e) = result {
                let (failure, stack) = classify(e, limiter.hit_limit());
                outcome.status = InvocationStatus::UnhandledError;
                outcome.body = FunctionErrorBody::for_failure(
                    &failure,
                    &outcome.stderr,
                    timeout,
                    memory_mb,
                    outcome.max_memory_bytes,
                    stack,
                )
                .to_bytes();
                outcome.failure = Some(failure);
            }
            let _ = done_tx.send(outcome);
        });
        let response = match resp_rx.await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(code)) => Err(format!("the function answered with an error: {code:?}")),
            Err(_) => Err("the function ended without setting a response".into()),
        };
        Ok(HttpInvocation {
            response,
            outcome: done_rx,
        })
    }

    /// Records that an HTTP function could not start and answers with `why`.
    #[allow(clippy::too_many_arguments)]
    fn http_start_failed(
        &self,
        f: &LoadedFunction,
        mut outcome: InvocationOutcome,
        started: Instant,
        error: wasmtime::Error,
        why: String,
        done_tx: tokio::sync::oneshot::Sender<InvocationOutcome>,
        done_rx: tokio::sync::oneshot::Receiver<InvocationOutcome>,
    ) -> HttpInvocation {
        let failure = FailureKind::StartFailed {
            message: format!("{error:#}"),
        };
        self.finish(f, &mut outcome, Some((failure, Vec::new())), started);
        let _ = done_tx.send(outcome);
        HttpInvocation {
            response: Err(why),
            outcome: done_rx,
        }
    }

    async fn acquire(
        &self,
        f: &LoadedFunction,
        when_busy: WhenBusy,
    ) -> Result<slots::SlotGuard, InvokeError> {
        let ids = self.opts.ids.clone();
        let new_id = move || format!("c-{}", ids.uuid());
        let scratch_err = |source| InvokeError::Scratch {
            function: f.plan.name.clone(),
            source,
        };
        match when_busy {
            WhenBusy::Throttle => f
                .slots
                .try_acquire(new_id)
                .map_err(scratch_err)?
                .ok_or_else(|| InvokeError::Throttled {
                    function: f.plan.name.clone(),
                    concurrency: f.plan.concurrency,
                }),
            WhenBusy::Wait => f.slots.acquire(new_id).await.map_err(scratch_err),
        }
    }
}

/// The result of handing a request to an HTTP function.
pub struct HttpInvocation {
    /// The function's response, or why there is none.
    pub response: Result<::http::Response<HyperOutgoingBody>, String>,
    /// The invocation's record, once the function has finished.
    pub outcome: tokio::sync::oneshot::Receiver<InvocationOutcome>,
}

/// [`Runtime::finish_native`] for a function with `timeout` and `memory_mb`.
fn finish_native_outcome(
    timeout: Duration,
    memory_mb: u32,
    response: Option<::http::Response<Bytes>>,
    outcome: &mut InvocationOutcome,
    started: Instant,
) {
    outcome.duration = started.elapsed();
    if let Some(resp) = response {
        outcome.body = resp.into_body();
    }
    match &outcome.failure {
        None | Some(FailureKind::FunctionError { .. }) => {}
        Some(failure) => {
            outcome.body = FunctionErrorBody::for_failure(
                failure,
                &outcome.stderr,
                timeout,
                memory_mb,
                outcome.max_memory_bytes,
                Vec::new(),
            )
            .to_bytes();
        }
    }
}

fn with_denials(stderr: Bytes, denials: Vec<String>) -> Bytes {
    if denials.is_empty() {
        return stderr;
    }
    let mut out = stderr.to_vec();
    if !out.is_empty() && !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    for d in denials {
        out.extend_from_slice(d.as_bytes());
        out.push(b'\n');
    }
    out.into()
}

/// The kind and content hash of a function's code.
fn identify(plan: &FunctionPlan, bytes: &[u8]) -> Result<(WasmKind, String), LoadError> {
    let kind = detect_kind(bytes).ok_or_else(|| LoadError::NotWasm {
        path: plan.code.clone(),
    })?;
    Ok((kind, content_hash(bytes)))
}

fn compile_error(plan: &FunctionPlan, e: wasmtime::Error) -> LoadError {
    LoadError::Compile {
        path: plan.code.clone(),
        message: format!("{e:#}"),
    }
}

/// Reads a function's code file; for a native function, a fingerprint of its code directory
/// and layers (every file's path, size and modification time).
pub fn read_code(plan: &FunctionPlan) -> Result<Vec<u8>, LoadError> {
    if let Some(n) = &plan.native {
        let mut roots = vec![plan.code.clone()];
        roots.extend(n.layers.iter().cloned());
        return native::fingerprint(&roots).map_err(|source| LoadError::Read {
            path: plan.code.clone(),
            source,
        });
    }
    std::fs::read(&plan.code).map_err(|source| LoadError::Read {
        path: plan.code.clone(),
        source,
    })
}

/// Backstop for time spent outside wasm code (host calls), where epoch checks do not run.
async fn with_timeout(
    timeout: Duration,
    run: impl Future<Output = wasmtime::Result<()>>,
) -> wasmtime::Result<()> {
    match tokio::time::timeout(timeout + engine::EPOCH_TICK * 4, run).await {
        Ok(r) => r,
        Err(_) => Err(wasmtime::Error::new(Trap::Interrupt)),
    }
}

/// Maps how a run ended to FC's notion of success and failure. Exit status 0 is success.
fn classify(err: wasmtime::Error, hit_memory_limit: bool) -> (FailureKind, Vec<String>) {
    let stack = err
        .downcast_ref::<wasmtime::WasmBacktrace>()
        .map(|bt| {
            bt.frames()
                .iter()
                .map(|f| match f.func_name() {
                    Some(name) => format!("{:#}", rustc_demangle::demangle(name)),
                    None => format!("wasm-function[{}]", f.func_index()),
                })
                .take(32)
                .collect()
        })
        .unwrap_or_default();
    if let Some(exit) = err.downcast_ref::<I32Exit>() {
        return (FailureKind::Exit { code: exit.0 }, Vec::new());
    }
    let kind = match err.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => FailureKind::Timeout,
        _ if hit_memory_limit => FailureKind::OutOfMemory,
        Some(trap) => FailureKind::Trap {
            message: format!("wasm trap: {trap}"),
        },
        None => FailureKind::Trap {
            message: format!("{err:#}"),
        },
    };
    (kind, stack)
}

/// Whether a run that "failed" with exit status 0 is really a success.
fn is_clean_exit(err: &wasmtime::Error) -> bool {
    err.downcast_ref::<I32Exit>().is_some_and(|e| e.0 == 0)
}
