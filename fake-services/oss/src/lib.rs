//! fcemu's object store: the OSS and S3 REST APIs over SQLite metadata and blob files.
//!
//! Three layers, as in s3s: [`http`] knows the wire (routing, virtual hosts, XML, signatures,
//! error bodies); the domain ([`Oss`]'s methods, [`listing`], [`conditions`], [`names`]) knows
//! what operations mean; [`store`] keeps buckets, objects and uploads in SQLite and contents in
//! blob files. The service knows nothing of functions or triggers: it publishes an
//! [`ObjectChange`] on [`Oss::changes`] after every durable change.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let oss = fcemu_oss::Oss::open(fcemu_oss::OssConfig::in_memory()?)?;
//! let mut changes = oss.changes().subscribe();
//! oss.create_bucket_if_missing("uploads").await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! tokio::spawn(fcemu_oss::serve(listener, oss.router()));
//! # Ok(()) }
//! ```

pub mod checksum;
pub mod conditions;
pub mod cors;
mod error;
pub mod http;
pub mod listing;
pub mod model;
pub mod names;
mod service;
pub mod store;

use std::collections::BTreeMap;
use std::sync::Arc;

use fcemu_core::{ChangeFeed, ServiceContext};

pub use error::OssError;
pub use model::{Bucket, ObjectAttrs, ObjectChange, ObjectEvent, ObjectMeta, ObjectType};
pub use service::{
    Body, CHAIN_DEPTH_HEADER, CopyRequest, MetadataDirective, OpenObject, PutRequest, RequestInfo,
    UploadPage, body_from_bytes,
};

/// Access keys accepted in strict authentication mode: AccessKeyId → AccessKeySecret.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    /// Known key pairs.
    pub keys: BTreeMap<String, String>,
}

impl Credentials {
    /// One key pair.
    pub fn single(id: impl Into<String>, secret: impl Into<String>) -> Self {
        let mut keys = BTreeMap::new();
        keys.insert(id.into(), secret.into());
        Self { keys }
    }
}

/// How the object store is set up.
#[derive(Clone, Debug)]
pub struct OssConfig {
    /// What every service shares: the data directory (the store uses its `oss/`
    /// sub-directory), clock, ids (request and upload ids), region (bucket info and location),
    /// account (bucket and object owner) and durability (fsync of blob, directory and WAL).
    pub ctx: ServiceContext,
    /// Host names (without port) that mean "path style" when used bare and "virtual-hosted,
    /// bucket = first label" when prefixed with `<bucket>.`. IP literals always mean path
    /// style; `*.aliyuncs.com` / `*.amazonaws.com` endpoints are recognised as well.
    pub base_domains: Vec<String>,
    /// Whether CompleteMultipartUpload rejects parts (other than the last) under 100 KB, as OSS
    /// does. Tests that upload tiny parts can turn it off.
    pub enforce_min_part_size: bool,
}

impl OssConfig {
    /// Defaults in the shared `ctx`: no auth checks, OSS's minimum part size.
    pub fn with_context(ctx: ServiceContext) -> Self {
        Self {
            ctx,
            base_domains: vec!["localhost".into(), "127.0.0.1".into()],
            enforce_min_part_size: true,
        }
    }

    /// `ctx.strict_auth` as the keys OSS V1/V4 and S3 SigV2/SigV4 signatures (header, query and
    /// form) are verified against; `None`: any credentials (or none) are accepted.
    pub fn strict_credentials(&self) -> Option<Credentials> {
        self.ctx
            .strict_auth
            .as_ref()
            .map(|(id, secret)| Credentials::single(id.clone(), secret.clone()))
    }

    /// Defaults over a temporary directory removed when the last [`Oss`] clone is dropped;
    /// nothing is fsynced.
    pub fn in_memory() -> std::io::Result<Self> {
        Ok(Self::with_context(ServiceContext::in_memory("oss")?))
    }
}

/// The object store. Cheap to clone; clones share everything.
#[derive(Clone, Debug)]
pub struct Oss {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cfg: OssConfig,
    store: store::Store,
    changes: ChangeFeed<ObjectChange>,
    /// Recently completed multipart uploads: (upload id, bucket, key, ETag), newest last.
    completed: std::sync::Mutex<std::collections::VecDeque<(String, String, String, String)>>,
}

/// How many completed uploads are remembered for a repeated CompleteMultipartUpload.
const REMEMBERED_COMPLETES: usize = 1000;

impl Oss {
    /// Opens (or creates) the store under `cfg.ctx.data`. Blocking (opens SQLite, scans blobs):
    /// call it at start-up, not from inside a request.
    pub fn open(cfg: OssConfig) -> Result<Self, OssError> {
        let dir = cfg.ctx.data.service_dir("oss")?;
        let store = store::Store::open(&dir, cfg.ctx.durable)?;
        tracing::debug!(dir = %dir.display(), "object store opened");
        Ok(Self {
            inner: Arc::new(Inner {
                cfg,
                store,
                changes: ChangeFeed::new(),
                completed: Default::default(),
            }),
        })
    }

    /// Notes that `upload_id` completed as `bucket/key` with `etag`.
    pub(crate) fn remember_complete(&self, upload_id: &str, bucket: &str, key: &str, etag: &str) {
        let mut done = self
            .inner
            .completed
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        done.push_back((upload_id.into(), bucket.into(), key.into(), etag.into()));
        if done.len() > REMEMBERED_COMPLETES {
            done.pop_front();
        }
    }

    /// The object a recently completed upload made, if it is still there unchanged (S3 answers
    /// a repeated CompleteMultipartUpload with 200).
    pub(crate) async fn completed_object(
        &self,
        upload_id: &str,
        bucket: &str,
        key: &str,
    ) -> Option<ObjectMeta> {
        let etag = {
            let done = self
                .inner
                .completed
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            done.iter()
                .rev()
                .find(|(u, b, k, _)| u == upload_id && b == bucket && k == key)
                .map(|(_, _, _, e)| e.clone())?
        };
        self.head_object(bucket, key)
            .await
            .ok()
            .filter(|m| m.etag == etag)
    }

    /// The OSS + S3 wire protocol, ready to serve or to mount as a fallback.
    pub fn router(&self) -> axum::Router {
        http::router(self.clone())
    }

    /// Object created / removed notifications, published after each change is durable.
    pub fn changes(&self) -> &ChangeFeed<ObjectChange> {
        &self.inner.changes
    }

    /// The configuration this store runs with.
    pub fn config(&self) -> &OssConfig {
        &self.inner.cfg
    }

    pub(crate) fn store(&self) -> &store::Store {
        &self.inner.store
    }
}

/// Serves `router` on `listener` until the task is dropped, passing each connection's peer
/// address so change notifications carry the client's IP.
pub async fn serve(listener: tokio::net::TcpListener, router: axum::Router) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .await
}
