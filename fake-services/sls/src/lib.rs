//! fcemu's Log Service: projects, logstores, PutLogs / GetLogs / PullLogs over SQLite.
//!
//! Three layers: [`http`] knows the wire (Host → project, routes, JSON and protobuf bodies,
//! compression, signatures, the error envelope); the domain ([`Sls`]'s methods in `service.rs`,
//! [`search`], [`query`], [`cursor`], [`shards`], [`logstores`]) knows what operations mean;
//! [`store`] keeps everything in SQLite. The service knows nothing of functions or triggers: it
//! publishes a [`LogsAppended`] on [`Sls::changes`] after every durable write.

pub mod analytic;
pub mod consumer_groups;
pub mod cursor;
mod error;
pub mod http;
pub mod logstores;
pub mod model;
pub mod proto;
pub mod query;
pub mod search;
mod service;
pub mod shards;
pub mod store;

use std::sync::Arc;

use fcemu_core::{ChangeFeed, ServiceContext};

pub use consumer_groups::{Checkpoint, ConsumerGroup};
pub use error::SlsError;
pub use model::{
    CursorFrom, Histogram, IndexConfig, LogQuery, LogsAppended, LogsPage, Logstore, LogstoreConfig,
    Project, Pulled, Row,
};
pub use proto::{Log, LogContent, LogGroup, LogGroupList, LogTag};
pub use service::{Origin, ShardChoice};
pub use shards::ShardRange;

/// How the service is set up.
#[derive(Clone, Debug)]
pub struct SlsConfig {
    /// What every service shares (the service uses the data directory's `sls/`).
    pub ctx: ServiceContext,
    /// Host names (without port) that name the service itself, so `<project>.<name>` addresses
    /// `<project>` and the bare name is project-less (ListProject). IP literals, `localhost` and
    /// `<region>.log.aliyuncs.com` always are; add dotted names given to function containers.
    pub endpoints: Vec<String>,
}

impl SlsConfig {
    /// Defaults in the shared `ctx`: no auth checks, no extra endpoint names.
    pub fn with_context(ctx: ServiceContext) -> Self {
        Self {
            ctx,
            endpoints: Vec::new(),
        }
    }

    /// Defaults over a temporary directory removed when the last [`Sls`] clone is dropped;
    /// nothing is fsynced.
    pub fn in_memory() -> std::io::Result<Self> {
        Ok(Self::with_context(ServiceContext::in_memory("sls")?))
    }
}

/// The service. Cheap to clone; clones share everything.
#[derive(Clone, Debug)]
pub struct Sls {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cfg: SlsConfig,
    store: store::Store,
    changes: ChangeFeed<LogsAppended>,
}

impl Sls {
    /// Opens (or creates) the service's state under `cfg.ctx.data`. Blocking: call it at start-up.
    pub fn open(cfg: SlsConfig) -> Result<Self, SlsError> {
        let dir = cfg.ctx.data.service_dir("sls")?;
        let store = store::Store::open(&dir, cfg.ctx.durable)?;
        tracing::debug!(dir = %dir.display(), "log service opened");
        Ok(Self {
            inner: Arc::new(Inner {
                cfg,
                store,
                changes: ChangeFeed::new(),
            }),
        })
    }

    /// The configuration it was opened with.
    pub fn config(&self) -> &SlsConfig {
        &self.inner.cfg
    }

    /// The wire protocol, ready to serve or to mount on the services edge.
    pub fn router(&self) -> axum::Router {
        http::router(self.clone())
    }

    /// Logs-appended notifications, published after each write is durable (one per log group).
    pub fn changes(&self) -> ChangeFeed<LogsAppended> {
        self.inner.changes.clone()
    }

    pub(crate) fn store(&self) -> &store::Store {
        &self.inner.store
    }
}
