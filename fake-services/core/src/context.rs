//! What every emulated service is opened with, whichever it is: where its state lives, the
//! clock and ids it stamps things with, the region and account it reports, and whether a write
//! is acknowledged only once durable. A service's own configuration adds only what is its own.

use std::sync::Arc;

use crate::{Clock, DataDir, IdGen};

/// The setting every service shares.
#[derive(Clone, Debug)]
pub struct ServiceContext {
    /// Where state lives; each service uses its own sub-directory.
    pub data: Arc<DataDir>,
    /// Source of every timestamp.
    pub clock: Clock,
    /// Source of request ids and other generated ids.
    pub ids: IdGen,
    /// Region id the service reports (`cn-hangzhou`).
    pub region: String,
    /// Account id shown as the owner of resources.
    pub account_id: String,
    /// Whether a write is acknowledged only once durable (`false` suits a temporary data
    /// directory that dies with the process, `--in-memory`).
    pub durable: bool,
    /// `--strict-auth`: the one key pair `(AccessKeyId, AccessKeySecret)` requests must be
    /// signed with; `None` accepts any credentials.
    pub strict_auth: Option<(String, String)>,
}

impl ServiceContext {
    /// Defaults over `data`: the system clock, random ids, `cn-hangzhou`, durable writes, any
    /// credentials accepted.
    pub fn new(data: Arc<DataDir>) -> Self {
        ServiceContext {
            data,
            clock: Clock::system(),
            ids: IdGen::random(),
            region: "cn-hangzhou".into(),
            account_id: "1234567890123456".into(),
            durable: true,
            strict_auth: None,
        }
    }

    /// Defaults over a temporary directory named after `label`, removed when the last clone is
    /// dropped; nothing is fsynced (`--in-memory`, tests).
    pub fn in_memory(label: &str) -> std::io::Result<Self> {
        let mut ctx = ServiceContext::new(Arc::new(DataDir::temporary(label)?));
        ctx.durable = false;
        Ok(ctx)
    }
}
