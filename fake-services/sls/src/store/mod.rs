//! Persistence: one SQLite database (WAL; `synchronous=FULL` when durable) with projects,
//! logstores, index configs and log groups (one row per PutLogs, the encoded LogGroup as a blob).
//!
//! Each shard's next position is kept apart from its groups (`shard_ends`), so expiring old
//! groups never makes a position be used twice.
//!
//! Consumer groups and their checkpoints are stored too ([`consumer_groups`]); which consumer
//! holds which shard lives only in memory, as heartbeats do.
//!
//! Every call runs on the blocking pool ([`Store::call`]) under one mutex, so a write (pick a
//! shard, number the group, insert) is atomic with respect to every other.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::Connection;
use serde_json::{Map, Value};
use time::OffsetDateTime;

mod catalog;
pub mod consumer_groups;
mod groups;

use crate::SlsError;

const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE projects (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    modified_ms INTEGER NOT NULL
);
CREATE TABLE logstores (
    project TEXT NOT NULL,
    name TEXT NOT NULL,
    config TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    modified_ms INTEGER NOT NULL,
    PRIMARY KEY (project, name)
);
CREATE TABLE indexes (
    project TEXT NOT NULL,
    logstore TEXT NOT NULL,
    doc TEXT NOT NULL,
    modified_ms INTEGER NOT NULL,
    PRIMARY KEY (project, logstore)
);
CREATE TABLE log_groups (
    project TEXT NOT NULL,
    logstore TEXT NOT NULL,
    shard INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    log_count INTEGER NOT NULL,
    min_time INTEGER NOT NULL,
    max_time INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE UNIQUE INDEX log_groups_by_position ON log_groups (project, logstore, shard, seq);
CREATE INDEX log_groups_by_time ON log_groups (project, logstore, max_time);
",
    "
CREATE TABLE consumer_groups (
    project TEXT NOT NULL,
    logstore TEXT NOT NULL,
    name TEXT NOT NULL,
    timeout INTEGER NOT NULL,
    in_order INTEGER NOT NULL,
    PRIMARY KEY (project, logstore, name)
);
CREATE TABLE checkpoints (
    project TEXT NOT NULL,
    logstore TEXT NOT NULL,
    consumer_group TEXT NOT NULL,
    shard INTEGER NOT NULL,
    checkpoint TEXT NOT NULL,
    consumer TEXT NOT NULL,
    update_us INTEGER NOT NULL,
    PRIMARY KEY (project, logstore, consumer_group, shard)
);
",
    "
CREATE TABLE shard_ends (
    project TEXT NOT NULL,
    logstore TEXT NOT NULL,
    shard INTEGER NOT NULL,
    next_seq INTEGER NOT NULL,
    PRIMARY KEY (project, logstore, shard)
);
INSERT INTO shard_ends (project, logstore, shard, next_seq)
    SELECT project, logstore, shard, max(seq) + 1 FROM log_groups GROUP BY project, logstore, shard;
CREATE INDEX log_groups_by_receive_time ON log_groups (project, logstore, received_ms);
",
    "
ALTER TABLE log_groups ADD COLUMN topic TEXT NOT NULL DEFAULT '';
CREATE INDEX log_groups_by_topic ON log_groups (project, logstore, topic);
",
];

/// The Log Service's persistent state.
#[derive(Clone, Debug)]
pub struct Store {
    db: fcemu_core::storage::Locked<Db>,
}

/// The database connection (and the round-robin counters of `shards/lb` writes), used under the
/// store's lock.
#[derive(Debug)]
pub struct Db {
    conn: Connection,
    round_robin: HashMap<(String, String), u32>,
    /// When each logstore last dropped expired groups (ms).
    expired_at: HashMap<(String, String), i64>,
    /// Live consumers and shard owners of each consumer group.
    pub(crate) consumers:
        HashMap<crate::consumer_groups::GroupKey, crate::consumer_groups::Membership>,
}

/// A stored log group.
#[derive(Clone, Debug)]
pub struct StoredGroup {
    /// Shard id.
    pub shard: u32,
    /// Position within the shard.
    pub seq: u64,
    /// When it was received (ms since the epoch).
    pub received_ms: i64,
    /// The encoded LogGroup.
    pub data: Vec<u8>,
}

/// A log group about to be stored.
#[derive(Clone, Debug)]
pub struct NewGroup {
    /// Shard id.
    pub shard: u32,
    /// When it was received (ms since the epoch).
    pub received_ms: i64,
    /// Logs in it.
    pub log_count: usize,
    /// Smallest `__time__` of its logs.
    pub min_time: i64,
    /// Largest `__time__` of its logs.
    pub max_time: i64,
    /// Its `__topic__`.
    pub topic: String,
    /// The encoded LogGroup.
    pub data: Vec<u8>,
}

impl Store {
    /// Opens (or creates) `sls.db` in `dir`. `durable: false` turns fsync off.
    pub fn open(dir: &Path, durable: bool) -> Result<Self, SlsError> {
        std::fs::create_dir_all(dir)?;
        let conn = fcemu_core::storage::open_sqlite(&dir.join("sls.db"), MIGRATIONS)?;
        if !durable {
            conn.pragma_update(None, "synchronous", "OFF")?;
        }
        Ok(Self {
            db: fcemu_core::storage::Locked::new(Db {
                conn,
                round_robin: HashMap::new(),
                expired_at: HashMap::new(),
                consumers: HashMap::new(),
            }),
        })
    }

    /// Runs `f` with the database on the blocking pool.
    pub async fn call<T, F>(&self, f: F) -> Result<T, SlsError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Db) -> Result<T, SlsError> + Send + 'static,
    {
        self.db.call(f).await
    }
}

/// Milliseconds since the epoch.
pub fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// The instant `ms` milliseconds after the epoch.
pub fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn json_map(s: &str) -> Map<String, Value> {
    serde_json::from_str(s).unwrap_or_default()
}

fn json_text(m: &Map<String, Value>) -> String {
    serde_json::to_string(m).unwrap_or_else(|_| "{}".into())
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
