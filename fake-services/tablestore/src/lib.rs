//! fcemu's Table Store: the OTS protobuf + PlainBuffer API over SQLite, with change streams.
//!
//! Three layers, as in the object store: [`http`] knows the wire (protobuf messages, headers,
//! request and response signatures, the `Error` body); the domain ([`tables`], [`rows`],
//! [`filter`], [`streams`]) knows what operations mean; [`store`] keeps tables, rows, cell
//! versions and stream records in SQLite. [`plainbuffer`] is the row codec and [`keys`] the
//! order-preserving key encoding that makes GetRange a SQLite range scan.
//!
//! The service knows nothing of functions or triggers: after each durable row write on a
//! table with a stream, it publishes a [`RowChange`] on [`Ots::changes`].

mod error;
pub mod filter;
pub mod http;
pub mod keys;
pub mod model;
pub mod plainbuffer;
pub mod rows;
pub mod store;
pub mod streams;
pub mod tables;

use std::sync::Arc;

use fcemu_core::{ChangeFeed, ServiceContext};

pub use error::OtsError;
pub use model::{
    ColumnChange, ColumnChangeKind, RowAction, RowChange, SequenceInfo, StreamRecord, Value,
};

/// How the service is set up.
#[derive(Clone, Debug)]
pub struct OtsConfig {
    /// What every service shares (the service uses the data directory's `ots/`).
    pub ctx: ServiceContext,
    /// AccessKeySecrets the service may use to sign responses when `ctx.strict_auth` is `None`.
    /// The Table Store SDKs reject a response not signed with their own secret, so the service
    /// picks, per request, the candidate (or the AccessKeyId itself) that produced the
    /// request's signature. See `http::auth`.
    pub known_secrets: Vec<String>,
}

impl OtsConfig {
    /// Defaults in the shared `ctx`: no auth checks, the test secrets known.
    pub fn with_context(ctx: ServiceContext) -> Self {
        Self {
            ctx,
            known_secrets: http::auth::DEFAULT_SECRETS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        }
    }

    /// Defaults over a temporary directory removed when the last [`Ots`] clone is dropped;
    /// nothing is fsynced.
    pub fn in_memory() -> std::io::Result<Self> {
        Ok(Self::with_context(ServiceContext::in_memory("ots")?))
    }
}

/// The service. Cheap to clone; clones share everything.
#[derive(Clone, Debug)]
pub struct Ots {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cfg: OtsConfig,
    store: store::Store,
    changes: ChangeFeed<RowChange>,
    stream_policy: PolicySlot,
}

/// Decides whether a table created by `(instance, table)` gets a stream though its creator did
/// not ask for one (see [`Ots::set_stream_policy`]).
pub type StreamPolicy = Arc<dyn Fn(&str, &str) -> bool + Send + Sync>;

#[derive(Default)]
struct PolicySlot(std::sync::RwLock<Option<StreamPolicy>>);

impl std::fmt::Debug for PolicySlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PolicySlot")
    }
}

impl Ots {
    /// Opens (or creates) the service's state under `cfg.ctx.data`. Blocking: call it at start-up.
    pub fn open(cfg: OtsConfig) -> Result<Self, OtsError> {
        let dir = cfg.ctx.data.service_dir("ots")?;
        let store = store::Store::open(&dir, cfg.ctx.durable)?;
        tracing::debug!(dir = %dir.display(), "table store opened");
        Ok(Self {
            inner: Arc::new(Inner {
                cfg,
                store,
                changes: ChangeFeed::new(),
                stream_policy: PolicySlot::default(),
            }),
        })
    }

    /// The configuration it was opened with.
    pub fn config(&self) -> &OtsConfig {
        &self.inner.cfg
    }

    /// Row changes of tables with a stream, published after each change is durable.
    pub fn changes(&self) -> ChangeFeed<RowChange> {
        self.inner.changes.clone()
    }

    /// Gives tables a stream when they are created and `policy` says so, whatever the request
    /// asked: the Python SDK cannot ask for one, and a Function Compute trigger on a table needs
    /// it (the emulator passes "a trigger reads this table").
    pub fn set_stream_policy(&self, policy: StreamPolicy) {
        *self
            .inner
            .stream_policy
            .0
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(policy);
    }

    pub(crate) fn policy_wants_stream(&self, instance: &str, table: &str) -> bool {
        self.inner
            .stream_policy
            .0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|p| p(instance, table))
    }

    /// The wire protocol, ready to serve or to mount on the services edge.
    pub fn router(&self) -> axum::Router {
        http::router(self.clone())
    }

    pub(crate) fn store(&self) -> &store::Store {
        &self.inner.store
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.config().ctx.clock.now_millis()
    }

    pub(crate) fn now_us(&self) -> i64 {
        i64::try_from(self.config().ctx.clock.now().unix_timestamp_nanos() / 1_000)
            .unwrap_or(i64::MAX)
    }
}
