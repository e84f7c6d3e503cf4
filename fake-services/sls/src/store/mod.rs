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
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};
use time::OffsetDateTime;

pub mod consumer_groups;

use crate::SlsError;
use crate::model::{IndexConfig, Logstore, LogstoreConfig, Project};

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
    db: Arc<Mutex<Db>>,
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
            db: Arc::new(Mutex::new(Db {
                conn,
                round_robin: HashMap::new(),
                expired_at: HashMap::new(),
                consumers: HashMap::new(),
            })),
        })
    }

    /// Runs `f` with the database on the blocking pool.
    pub async fn call<T, F>(&self, f: F) -> Result<T, SlsError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Db) -> Result<T, SlsError> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = db.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut guard)
        })
        .await?
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

fn project_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Project> {
    Ok(Project {
        name: r.get(0)?,
        description: r.get(1)?,
        created: from_ms(r.get(2)?),
        modified: from_ms(r.get(3)?),
    })
}

fn json_map(s: &str) -> Map<String, Value> {
    serde_json::from_str(s).unwrap_or_default()
}

fn json_text(m: &Map<String, Value>) -> String {
    serde_json::to_string(m).unwrap_or_else(|_| "{}".into())
}

impl Db {
    /// Creates a project.
    pub fn create_project(
        &mut self,
        name: &str,
        description: &str,
        now: i64,
    ) -> Result<(), SlsError> {
        let n = self.conn.execute(
            "INSERT OR IGNORE INTO projects (name, description, created_ms, modified_ms) VALUES (?1, ?2, ?3, ?3)",
            params![name, description, now],
        )?;
        if n == 0 {
            return Err(SlsError::ProjectAlreadyExist(name.into()));
        }
        Ok(())
    }

    /// A project, or `ProjectNotExist`.
    pub fn project(&self, name: &str) -> Result<Project, SlsError> {
        self.conn
            .query_row(
                "SELECT name, description, created_ms, modified_ms FROM projects WHERE name = ?1",
                [name],
                project_row,
            )
            .optional()?
            .ok_or_else(|| SlsError::ProjectNotExist(name.into()))
    }

    /// Projects whose name contains `filter`, by name, and how many there are in all.
    pub fn list_projects(
        &self,
        filter: &str,
        offset: u64,
        size: u64,
    ) -> Result<(Vec<Project>, u64), SlsError> {
        let pattern = format!("%{}%", like_escape(filter));
        let total: i64 = self.conn.query_row(
            "SELECT count(*) FROM projects WHERE name LIKE ?1 ESCAPE '\\'",
            [&pattern],
            |r| r.get(0),
        )?;
        let mut stmt = self.conn.prepare(
            "SELECT name, description, created_ms, modified_ms FROM projects WHERE name LIKE ?1 ESCAPE '\\' ORDER BY name LIMIT ?2 OFFSET ?3",
        )?;
        let rows = stmt
            .query_map(params![pattern, clamp(size), clamp(offset)], project_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok((rows, total as u64))
    }

    /// Changes a project's description.
    pub fn update_project(
        &mut self,
        name: &str,
        description: &str,
        now: i64,
    ) -> Result<(), SlsError> {
        let n = self.conn.execute(
            "UPDATE projects SET description = ?2, modified_ms = ?3 WHERE name = ?1",
            params![name, description, now],
        )?;
        if n == 0 {
            return Err(SlsError::ProjectNotExist(name.into()));
        }
        Ok(())
    }

    /// Deletes a project and everything in it.
    pub fn delete_project(&mut self, name: &str) -> Result<(), SlsError> {
        let tx = self.conn.transaction()?;
        let n = tx.execute("DELETE FROM projects WHERE name = ?1", [name])?;
        if n == 0 {
            return Err(SlsError::ProjectNotExist(name.into()));
        }
        tx.execute("DELETE FROM logstores WHERE project = ?1", [name])?;
        tx.execute("DELETE FROM indexes WHERE project = ?1", [name])?;
        tx.execute("DELETE FROM log_groups WHERE project = ?1", [name])?;
        tx.execute("DELETE FROM consumer_groups WHERE project = ?1", [name])?;
        tx.execute("DELETE FROM checkpoints WHERE project = ?1", [name])?;
        tx.execute("DELETE FROM shard_ends WHERE project = ?1", [name])?;
        tx.commit()?;
        self.round_robin.retain(|(p, _), _| p != name);
        self.consumers.retain(|k, _| k.0 != name);
        Ok(())
    }

    /// Creates a logstore in an existing project.
    pub fn create_logstore(
        &mut self,
        project: &str,
        cfg: &LogstoreConfig,
        now: i64,
    ) -> Result<(), SlsError> {
        self.project(project)?;
        let n = self.conn.execute(
            "INSERT OR IGNORE INTO logstores (project, name, config, created_ms, modified_ms) VALUES (?1, ?2, ?3, ?4, ?4)",
            params![project, cfg.name, json_text(&cfg.to_json()), now],
        )?;
        if n == 0 {
            return Err(SlsError::LogStoreAlreadyExist(cfg.name.clone()));
        }
        Ok(())
    }

    /// A logstore, or `ProjectNotExist` / `LogStoreNotExist`.
    pub fn logstore(&self, project: &str, name: &str) -> Result<Logstore, SlsError> {
        self.project(project)?;
        self.conn
            .query_row(
                "SELECT config, created_ms, modified_ms FROM logstores WHERE project = ?1 AND name = ?2",
                [project, name],
                |r| {
                    Ok(Logstore {
                        config: LogstoreConfig::from_stored(&json_map(&r.get::<_, String>(0)?)),
                        created: from_ms(r.get(1)?),
                        modified: from_ms(r.get(2)?),
                    })
                },
            )
            .optional()?
            .ok_or_else(|| SlsError::LogStoreNotExist(name.into()))
    }

    /// Logstore names containing `filter`, by name, and how many there are in all.
    pub fn list_logstores(
        &self,
        project: &str,
        filter: &str,
        offset: u64,
        size: u64,
    ) -> Result<(Vec<String>, u64), SlsError> {
        self.project(project)?;
        let pattern = format!("%{}%", like_escape(filter));
        let total: i64 = self.conn.query_row(
            "SELECT count(*) FROM logstores WHERE project = ?1 AND name LIKE ?2 ESCAPE '\\'",
            params![project, pattern],
            |r| r.get(0),
        )?;
        let mut stmt = self.conn.prepare(
            "SELECT name FROM logstores WHERE project = ?1 AND name LIKE ?2 ESCAPE '\\' ORDER BY name LIMIT ?3 OFFSET ?4",
        )?;
        let names = stmt
            .query_map(params![project, pattern, clamp(size), clamp(offset)], |r| {
                r.get(0)
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok((names, total as u64))
    }

    /// Replaces a logstore's settings.
    pub fn update_logstore(
        &mut self,
        project: &str,
        cfg: &LogstoreConfig,
        now: i64,
    ) -> Result<(), SlsError> {
        self.logstore(project, &cfg.name)?;
        self.conn.execute(
            "UPDATE logstores SET config = ?3, modified_ms = ?4 WHERE project = ?1 AND name = ?2",
            params![project, cfg.name, json_text(&cfg.to_json()), now],
        )?;
        Ok(())
    }

    /// Deletes a logstore, its index and its logs.
    pub fn delete_logstore(&mut self, project: &str, name: &str) -> Result<(), SlsError> {
        self.logstore(project, name)?;
        let tx = self.conn.transaction()?;
        tx.execute(
            "DELETE FROM logstores WHERE project = ?1 AND name = ?2",
            [project, name],
        )?;
        tx.execute(
            "DELETE FROM indexes WHERE project = ?1 AND logstore = ?2",
            [project, name],
        )?;
        tx.execute(
            "DELETE FROM log_groups WHERE project = ?1 AND logstore = ?2",
            [project, name],
        )?;
        tx.execute(
            "DELETE FROM consumer_groups WHERE project = ?1 AND logstore = ?2",
            [project, name],
        )?;
        tx.execute(
            "DELETE FROM checkpoints WHERE project = ?1 AND logstore = ?2",
            [project, name],
        )?;
        tx.execute(
            "DELETE FROM shard_ends WHERE project = ?1 AND logstore = ?2",
            [project, name],
        )?;
        tx.commit()?;
        self.round_robin
            .remove(&(project.to_string(), name.to_string()));
        self.consumers
            .retain(|k, _| !(k.0 == project && k.1 == name));
        Ok(())
    }

    /// A logstore's index config, if it has one.
    pub fn index(&self, project: &str, logstore: &str) -> Result<Option<IndexConfig>, SlsError> {
        Ok(self
            .conn
            .query_row(
                "SELECT doc, modified_ms FROM indexes WHERE project = ?1 AND logstore = ?2",
                [project, logstore],
                |r| {
                    Ok(IndexConfig {
                        doc: json_map(&r.get::<_, String>(0)?),
                        modified: from_ms(r.get(1)?),
                    })
                },
            )
            .optional()?)
    }

    /// Sets (creates or replaces) a logstore's index config.
    pub fn set_index(
        &mut self,
        project: &str,
        logstore: &str,
        doc: &Map<String, Value>,
        now: i64,
    ) -> Result<(), SlsError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO indexes (project, logstore, doc, modified_ms) VALUES (?1, ?2, ?3, ?4)",
            params![project, logstore, json_text(doc), now],
        )?;
        Ok(())
    }

    /// Removes a logstore's index config; whether there was one.
    pub fn delete_index(&mut self, project: &str, logstore: &str) -> Result<bool, SlsError> {
        Ok(self.conn.execute(
            "DELETE FROM indexes WHERE project = ?1 AND logstore = ?2",
            [project, logstore],
        )? > 0)
    }

    /// The next shard for a `shards/lb` write (round robin from 0).
    pub fn next_round_robin(&mut self, project: &str, logstore: &str, shards: u32) -> u32 {
        let n = self
            .round_robin
            .entry((project.to_string(), logstore.to_string()))
            .or_insert(0);
        let shard = *n % shards.max(1);
        *n = n.wrapping_add(1);
        shard
    }

    /// `[begin, end)` positions of a shard: oldest kept group and the next position to write.
    pub fn shard_bounds(
        &self,
        project: &str,
        logstore: &str,
        shard: u32,
    ) -> Result<(u64, u64), SlsError> {
        let end: Option<i64> = self
            .conn
            .query_row(
                "SELECT next_seq FROM shard_ends WHERE project = ?1 AND logstore = ?2 AND shard = ?3",
                params![project, logstore, shard],
                |r| r.get(0),
            )
            .optional()?;
        let begin: Option<i64> = self.conn.query_row(
            "SELECT min(seq) FROM log_groups WHERE project = ?1 AND logstore = ?2 AND shard = ?3",
            params![project, logstore, shard],
            |r| r.get(0),
        )?;
        let end = end.unwrap_or(0).max(0) as u64;
        Ok((begin.map_or(end, |b| b as u64), end))
    }

    /// Appends a group at the shard's end; its position.
    pub fn insert_group(
        &mut self,
        project: &str,
        logstore: &str,
        g: &NewGroup,
    ) -> Result<u64, SlsError> {
        let (_, end) = self.shard_bounds(project, logstore, g.shard)?;
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO log_groups (project, logstore, shard, seq, received_ms, log_count, min_time, max_time, data, topic)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                project,
                logstore,
                g.shard,
                end as i64,
                g.received_ms,
                g.log_count as i64,
                g.min_time,
                g.max_time,
                g.data,
                g.topic
            ],
        )?;
        tx.execute(
            "INSERT OR REPLACE INTO shard_ends (project, logstore, shard, next_seq) VALUES (?1, ?2, ?3, ?4)",
            params![project, logstore, g.shard, end as i64 + 1],
        )?;
        tx.commit()?;
        Ok(end)
    }

    /// Up to `limit` distinct non-empty topics of a logstore's groups, in order, after `after`.
    pub fn topics(
        &self,
        project: &str,
        logstore: &str,
        after: &str,
        limit: u32,
    ) -> Result<Vec<String>, SlsError> {
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT topic FROM log_groups WHERE project = ?1 AND logstore = ?2 AND topic > ?3
             ORDER BY topic LIMIT ?4",
        )?;
        let rows = stmt
            .query_map(params![project, logstore, after, limit], |r| r.get(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Drops the logstore's groups received before `cutoff_ms`, at most once a minute (by
    /// `now_ms`); positions are not reused, so later cursors stay valid.
    pub fn expire(
        &mut self,
        project: &str,
        logstore: &str,
        cutoff_ms: i64,
        now_ms: i64,
    ) -> Result<(), SlsError> {
        let key = (project.to_string(), logstore.to_string());
        if self
            .expired_at
            .get(&key)
            .is_some_and(|last| now_ms.saturating_sub(*last) < 60_000)
        {
            return Ok(());
        }
        let n = self.conn.execute(
            "DELETE FROM log_groups WHERE project = ?1 AND logstore = ?2 AND received_ms < ?3",
            params![project, logstore, cutoff_ms],
        )?;
        if n > 0 {
            tracing::debug!(
                project,
                logstore,
                groups = n,
                "expired log groups past the ttl"
            );
        }
        self.expired_at.insert(key, now_ms);
        Ok(())
    }

    /// Up to `limit` groups of a shard at `positions`, and no more than `max_bytes` of them
    /// (but always one, if there is one).
    pub fn groups(
        &self,
        project: &str,
        logstore: &str,
        shard: u32,
        positions: std::ops::Range<u64>,
        limit: u32,
        max_bytes: usize,
    ) -> Result<Vec<StoredGroup>, SlsError> {
        let mut stmt = self.conn.prepare(
            "SELECT shard, seq, received_ms, data FROM log_groups
             WHERE project = ?1 AND logstore = ?2 AND shard = ?3 AND seq >= ?4 AND seq < ?5
             ORDER BY seq LIMIT ?6",
        )?;
        let mut rows = stmt.query_map(
            params![
                project,
                logstore,
                shard,
                clamp(positions.start),
                clamp(positions.end),
                limit
            ],
            group_row,
        )?;
        let (mut out, mut bytes) = (Vec::new(), 0usize);
        // At least one group; then stop before the answer passes `max_bytes`.
        while let Some(g) = rows.next().transpose()? {
            bytes += g.data.len();
            if !out.is_empty() && bytes > max_bytes {
                break;
            }
            out.push(g);
        }
        Ok(out)
    }

    /// The first position of a shard whose group was received at or after `ms`.
    pub fn first_received_since(
        &self,
        project: &str,
        logstore: &str,
        shard: u32,
        ms: i64,
    ) -> Result<Option<u64>, SlsError> {
        Ok(self
            .conn
            .query_row(
                "SELECT min(seq) FROM log_groups WHERE project = ?1 AND logstore = ?2 AND shard = ?3 AND received_ms >= ?4",
                params![project, logstore, shard, ms],
                |r| r.get::<_, Option<i64>>(0),
            )?
            .map(|s| s as u64))
    }

    /// When the group at a position was received (ms).
    pub fn received_at(
        &self,
        project: &str,
        logstore: &str,
        shard: u32,
        seq: u64,
    ) -> Result<Option<i64>, SlsError> {
        Ok(self
            .conn
            .query_row(
                "SELECT received_ms FROM log_groups WHERE project = ?1 AND logstore = ?2 AND shard = ?3 AND seq = ?4",
                params![project, logstore, shard, clamp(seq)],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Up to `limit` groups of a logstore (and no more than `max_bytes` of them, but at least
    /// one), after row `after` (0: from the start), with a log whose `__time__` may fall in
    /// `time`; each with its row id, for the next batch.
    pub fn groups_in_time(
        &self,
        project: &str,
        logstore: &str,
        time: std::ops::Range<i64>,
        after: i64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<Vec<(i64, StoredGroup)>, SlsError> {
        let mut stmt = self.conn.prepare(
            "SELECT shard, seq, received_ms, data, rowid FROM log_groups
             WHERE project = ?1 AND logstore = ?2 AND max_time >= ?3 AND min_time < ?4 AND rowid > ?5
             ORDER BY rowid LIMIT ?6",
        )?;
        let mut rows = stmt.query_map(
            params![project, logstore, time.start, time.end, after, limit],
            |r| Ok((r.get(4)?, group_row(r)?)),
        )?;
        let (mut out, mut bytes) = (Vec::new(), 0usize);
        while let Some((rowid, g)) = rows.next().transpose()? {
            bytes += g.data.len();
            if !out.is_empty() && bytes > max_bytes {
                break;
            }
            out.push((rowid, g));
        }
        Ok(out)
    }
}

fn group_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredGroup> {
    Ok(StoredGroup {
        shard: r.get::<_, i64>(0)? as u32,
        seq: r.get::<_, i64>(1)? as u64,
        received_ms: r.get(2)?,
        data: r.get(3)?,
    })
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
