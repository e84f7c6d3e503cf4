//! Starting and stopping the whole stack: runtime, application, services edge. Used by
//! `fcemu up` and by tests that run the emulator in-process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use fcemu_core::{Clock, DataDir, IdGen};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::app::{App, LoadFailures};
use crate::edge;
use crate::manifest::AppPlan;
use crate::runtime::{ModuleCache, Runtime, RuntimeOptions};

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
}

impl Default for StartOptions {
    fn default() -> Self {
        StartOptions {
            in_memory: false,
            deterministic: false,
            data_dir: None,
            cache: ModuleCache::from_env(),
        }
    }
}

/// A running emulator.
pub struct Emulator {
    /// The application state.
    pub app: Arc<App>,
    /// Where the services edge listens.
    pub services_addr: SocketAddr,
    /// Functions that failed to load at start.
    pub load_failures: LoadFailures,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
    _data: DataDir,
    _scratch: DataDir,
}

impl Emulator {
    /// Starts the stack for `plan`, serving the services edge on `services` (already bound, so a
    /// port-0 listener's address is known and never raced for).
    pub async fn start(
        plan: AppPlan,
        services: TcpListener,
        opts: StartOptions,
    ) -> anyhow::Result<Emulator> {
        let services_addr = services.local_addr()?;
        let data = if opts.in_memory {
            DataDir::temporary("data")?
        } else {
            DataDir::persistent(
                opts.data_dir
                    .clone()
                    .unwrap_or_else(|| plan.root.join(".fcemu")),
            )?
        };
        let scratch = DataDir::temporary("instances")?;
        let (clock, ids) = if opts.deterministic {
            (Clock::deterministic(), IdGen::sequential())
        } else {
            (Clock::system(), IdGen::random())
        };
        let endpoint = format!("http://{services_addr}");
        let runtime = Runtime::new(RuntimeOptions {
            cache: opts.cache.clone(),
            clock,
            ids,
            deterministic: opts.deterministic,
            scratch_dir: scratch.path().to_path_buf(),
            extra_env: vec![("FCEMU_ENDPOINT".into(), endpoint)],
            own_endpoints: vec![
                services_addr.to_string(),
                format!("localhost:{}", services_addr.port()),
            ],
        })
        .map_err(|e| anyhow::anyhow!("cannot start the WebAssembly runtime: {e:#}"))?;
        let (app, load_failures) = App::new(Arc::new(runtime), plan);
        let router = edge::router(edge::Services {
            admin: crate::admin::router(app.clone()),
            object_store: None,
            fc_api: None,
            table_store: None,
            log_service: None,
        });
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(services, router)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await
        });
        Ok(Emulator {
            app,
            services_addr,
            load_failures,
            shutdown: Some(tx),
            server,
            _data: data,
            _scratch: scratch,
        })
    }

    /// The services endpoint, `http://127.0.0.1:PORT`.
    pub fn services_url(&self) -> String {
        format!("http://{}", self.services_addr)
    }

    /// Stops accepting requests, lets those in flight finish, and stops.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        (&mut self.server).await??;
        Ok(())
    }
}
