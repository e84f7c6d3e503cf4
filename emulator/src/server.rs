//! Starting and stopping the whole stack: runtime, application, services edge. Used by
//! `fcemu up` and by tests that run the emulator in-process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use fcemu_core::{Clock, DataDir, IdGen};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::app::{App, LoadFailures};
use crate::edge;
use crate::manifest::AppPlan;
use crate::reload::Reloader;
use crate::runtime::{ModuleCache, Runtime, RuntimeOptions};
use crate::services;

/// How to run the stack.
#[derive(Debug, Clone)]
pub struct StartOptions {
    /// Keep state in a temporary directory removed at exit.
    pub in_memory: bool,
    /// Virtual clock, sequential ids, seeded randomness.
    pub deterministic: bool,
    /// Where state lives when persistent (default: `.fcemu/` beside the manifest).
    pub data_dir: Option<PathBuf>,
    /// Compiled-code cache.
    pub cache: ModuleCache,
    /// Print each invocation on the terminal.
    pub report: bool,
    /// Verify request signatures against this key pair (access key id, secret).
    pub strict_auth: Option<(String, String)>,
    /// Key pairs clients use (`--credentials`): Table Store signs its responses with the
    /// secret, which its SDKs check.
    pub credentials: Vec<(String, String)>,
    /// How many trigger hops a chain of function writes may take before it is stopped.
    pub max_trigger_depth: u32,
    /// Watch this manifest (and the code and sources it names) and apply changes live.
    pub watch: Option<PathBuf>,
    /// How long a native function's instance may stay idle before it is stopped.
    pub instance_idle: std::time::Duration,
    /// Host names the admin API accepts besides loopback names and the listen addresses.
    pub allow_hosts: Vec<String>,
}

impl Default for StartOptions {
    fn default() -> Self {
        StartOptions {
            in_memory: false,
            deterministic: false,
            data_dir: None,
            cache: ModuleCache::from_env(),
            report: false,
            strict_auth: None,
            credentials: Vec::new(),
            max_trigger_depth: crate::triggers::DEFAULT_MAX_CHAIN_DEPTH,
            watch: None,
            instance_idle: crate::runtime::DEFAULT_INSTANCE_IDLE,
            allow_hosts: Vec::new(),
        }
    }
}

/// A running emulator.
pub struct Emulator {
    /// The application state.
    pub app: Arc<App>,
    /// Where the services edge listens.
    pub services_addr: SocketAddr,
    /// Where the gateway listens.
    pub gateway_addr: SocketAddr,
    /// Functions that failed to load at start.
    pub load_failures: LoadFailures,
    /// The hot-reload watcher, when watching.
    pub reloader: Option<Reloader>,
    /// The emulated services (OSS, Table Store, the Log Service, ...).
    pub services: services::Services,
    /// Triggers, the async queue and timers.
    pub triggers: Arc<crate::triggers::Triggers>,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
    servers: Vec<JoinHandle<std::io::Result<()>>>,
    _data: Arc<DataDir>,
    _scratch: DataDir,
}

impl Emulator {
    /// Starts the stack for `plan`, serving the services edge on `services` (already bound, so a
    /// port-0 listener's address is known and never raced for).
    pub async fn start(
        plan: AppPlan,
        services: TcpListener,
        gateway: TcpListener,
        opts: StartOptions,
    ) -> anyhow::Result<Emulator> {
        let services_addr = services.local_addr()?;
        let gateway_addr = gateway.local_addr()?;
        no_delay(&services);
        no_delay(&gateway);
        let data = Arc::new(if opts.in_memory {
            DataDir::temporary("data")?
        } else {
            DataDir::persistent(
                opts.data_dir
                    .clone()
                    .unwrap_or_else(|| plan.root.join(".fcemu")),
            )?
        });
        let scratch = DataDir::temporary("instances")?;
        let (clock, ids) = if opts.deterministic {
            (Clock::deterministic(), IdGen::sequential())
        } else {
            (Clock::system(), IdGen::random())
        };
        let endpoint = format!("http://{services_addr}");
        let own = |a: SocketAddr| [a.to_string(), format!("localhost:{}", a.port())];
        let setup = services::Setup {
            data: &data,
            clock: &clock,
            ids: &ids,
            durable: !opts.in_memory,
            strict_auth: opts.strict_auth.clone(),
            credentials: opts.credentials.clone(),
            endpoint: services_addr.to_string(),
        };
        let stores = services::Services::open(&plan, &setup).await?;
        let runtime = Runtime::new(RuntimeOptions {
            cache: opts.cache.clone(),
            clock,
            ids,
            deterministic: opts.deterministic,
            scratch_dir: scratch.path().to_path_buf(),
            extra_env: vec![
                ("FCEMU_ENDPOINT".into(), endpoint),
                ("FCEMU_GATEWAY".into(), format!("http://{gateway_addr}")),
            ],
            own_endpoints: own(services_addr)
                .into_iter()
                .chain(own(gateway_addr))
                .collect(),
            instance_idle: opts.instance_idle,
        })
        .map_err(|e| anyhow::anyhow!("cannot start the WebAssembly runtime: {e:#}"))?;
        let reporter = opts.report.then(crate::report::Reporter::detect);
        let (app, load_failures) = App::new(Arc::new(runtime), plan, reporter);
        let reloader = match &opts.watch {
            Some(manifest) => {
                Some(Reloader::start(app.clone(), manifest.clone()).map_err(|e| {
                    anyhow::anyhow!("cannot watch for changes: {e} (try --no-watch)")
                })?)
            }
            None => None,
        };
        let queue_store = (!opts.in_memory).then(|| data.path().join("queue.db"));
        let triggers = crate::triggers::Triggers::start(
            app.clone(),
            queue_store.as_deref(),
            opts.deterministic,
            opts.max_trigger_depth,
        )?;
        stores.connect(&app, &triggers);
        let gateway_router = crate::gateway::router(crate::gateway::Gateway::new(app.clone()));
        let services_router = edge::router(edge::Services {
            admin: crate::admin::router(
                crate::admin::Guard::new(
                    vec![services_addr, gateway_addr],
                    opts.allow_hosts.clone(),
                ),
                app.clone(),
                triggers.clone(),
                stores.clone(),
                vec![
                    (gateway_addr.to_string(), "gateway"),
                    (services_addr.to_string(), "services"),
                ],
            ),
            fc_api: Some(crate::fcapi::router(
                app.clone(),
                triggers.queue.clone(),
                opts.strict_auth.clone(),
            )),
            emulated: stores.iter().map(|s| (s.clone(), s.router())).collect(),
            gateway: Some((own(gateway_addr).to_vec(), gateway_router.clone())),
        });
        let (tx, rx) = tokio::sync::watch::channel(false);
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let servers = vec![
            tokio::spawn(
                axum::serve(
                    services,
                    services_router.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .with_graceful_shutdown(stopped(rx.clone()))
                .into_future(),
            ),
            tokio::spawn(
                axum::serve(
                    gateway,
                    gateway_router.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .with_graceful_shutdown(stopped(rx))
                .into_future(),
            ),
        ];
        Ok(Emulator {
            app,
            services_addr,
            gateway_addr,
            load_failures,
            reloader,
            services: stores,
            triggers,
            shutdown: Some(tx),
            servers,
            _data: data,
            _scratch: scratch,
        })
    }

    /// The services endpoint, `http://127.0.0.1:PORT`.
    pub fn services_url(&self) -> String {
        format!("http://{}", self.services_addr)
    }

    /// The gateway endpoint, `http://127.0.0.1:PORT`.
    pub fn gateway_url(&self) -> String {
        format!("http://{}", self.gateway_addr)
    }

    /// Stops accepting requests, lets those in flight finish, and stops.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.reloader = None;
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        for server in self.servers.drain(..) {
            server.await??;
        }
        // Native instances get their pre-stop hooks once no request is in flight.
        let functions = self.app.functions();
        let stops = functions
            .values()
            .filter_map(|f| f.native())
            .map(|n| n.stop_all());
        futures::future::join_all(stops).await;
        Ok(())
    }
}

/// Turns off Nagle's algorithm for every connection the listener accepts (Linux copies the
/// option to accepted sockets): a response whose headers and body go out in separate writes (a
/// streamed object, say) would otherwise wait for the client's delayed ACK, about 40 ms.
fn no_delay(listener: &TcpListener) {
    if let Err(e) = socket2::SockRef::from(listener).set_tcp_nodelay(true) {
        tracing::debug!(error = %e, "could not set TCP_NODELAY");
    }
}
