//! fcemu's Table Store: the OTS protobuf + PlainBuffer API over SQLite, with change streams.
//!
//! The service knows nothing of functions or triggers.

use std::sync::Arc;

use fcemu_core::{Clock, DataDir, IdGen};

/// How the service is set up.
#[derive(Clone, Debug)]
pub struct OtsConfig {
    /// Where state lives; the service uses its `ots/` sub-directory.
    pub data: Arc<DataDir>,
    /// Source of every timestamp.
    pub clock: Clock,
    /// Source of request ids.
    pub ids: IdGen,
    /// Region id (`cn-hangzhou`).
    pub region: String,
    /// Account id.
    pub owner_id: String,
    /// `None`: any credentials are accepted. `Some((id, secret))`: signatures are verified.
    pub strict_auth: Option<(String, String)>,
    /// Whether a write is acknowledged only once durable (`false` for `--in-memory`).
    pub durable: bool,
}

impl OtsConfig {
    /// Defaults over `data`: system clock, random ids, `cn-hangzhou`, no auth checks.
    pub fn new(data: Arc<DataDir>) -> Self {
        Self {
            data,
            clock: Clock::system(),
            ids: IdGen::random(),
            region: "cn-hangzhou".into(),
            owner_id: "1234567890123456".into(),
            strict_auth: None,
            durable: true,
        }
    }
}

/// The service. Cheap to clone; clones share everything.
#[derive(Clone, Debug)]
pub struct Ots {
    cfg: Arc<OtsConfig>,
}

impl Ots {
    /// Opens (or creates) the service's state under `cfg.data`. Blocking: call it at start-up.
    pub fn open(cfg: OtsConfig) -> std::io::Result<Self> {
        cfg.data.service_dir("ots")?;
        Ok(Self { cfg: Arc::new(cfg) })
    }

    /// The configuration it was opened with.
    pub fn config(&self) -> &OtsConfig {
        &self.cfg
    }

    /// The wire protocol, ready to serve or to mount on the services edge.
    pub fn router(&self) -> axum::Router {
        axum::Router::new()
            .fallback(|| async { (http::StatusCode::NOT_IMPLEMENTED, "not implemented yet") })
    }
}
