//! What the operations mean: the domain API the wire layer (and the emulator) calls.

use prost::Message;
use serde_json::{Map, Value};

use crate::logstores::{check_logstore_name, check_project_name};
use crate::model::{
    CursorFrom, Histogram, IndexConfig, LogQuery, LogsAppended, LogsPage, Logstore, LogstoreConfig,
    Project, Pulled,
};
use crate::proto::LogGroup;
use crate::shards::{ShardRange, ranges, shard_for_key};
use crate::store::{Db, NewGroup, ms};
use crate::{Sls, SlsError, cursor, search};

/// Which shard a write goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShardChoice {
    /// Any shard (`shards/lb`): round robin from shard 0.
    LoadBalance,
    /// The shard whose hash range holds this key (`shards/route?key=`).
    HashKey(String),
    /// This shard.
    Id(u32),
}

/// Most bytes of log groups one PullLogs returns (more than one group only while under this).
pub const MAX_PULL_BYTES: usize = 10 * 1024 * 1024;

/// Groups read per batch by GetLogs / GetHistograms.
const SCAN_BATCH: u32 = 256;

/// Most bytes of groups read per batch by GetLogs / GetHistograms (at least one group).
const SCAN_BATCH_BYTES: usize = 16 * 1024 * 1024;

/// Most log groups one PullLogs returns.
pub const MAX_PULL_COUNT: u32 = 1000;

fn shard_of(ls: &Logstore, shard: i64) -> Result<u32, SlsError> {
    u32::try_from(shard)
        .ok()
        .filter(|s| *s < ls.config.shard_count)
        .ok_or(SlsError::ShardNotExist(shard))
}

/// Drops groups received longer ago than the logstore's ttl (3650 days = kept forever).
fn expire(db: &mut Db, project: &str, ls: &Logstore, now_ms: i64) -> Result<(), SlsError> {
    if ls.config.ttl >= 3650 {
        return Ok(());
    }
    let cutoff = now_ms.saturating_sub(i64::from(ls.config.ttl) * 86_400_000);
    db.expire(project, &ls.config.name, cutoff, now_ms)
}

fn decode_cursor(c: &str) -> Result<u64, SlsError> {
    cursor::decode(c).ok_or_else(|| SlsError::InvalidCursor(format!("cursor {c} is invalid")))
}

impl Sls {
    fn now_ms(&self) -> i64 {
        ms(self.config().ctx.clock.now())
    }

    /// Creates a project.
    pub async fn create_project(&self, name: &str, description: &str) -> Result<(), SlsError> {
        check_project_name(name)?;
        let (name, description, now) = (name.to_string(), description.to_string(), self.now_ms());
        self.store()
            .call(move |db| db.create_project(&name, &description, now))
            .await
    }

    /// A project.
    pub async fn project(&self, name: &str) -> Result<Project, SlsError> {
        let name = name.to_string();
        self.store().call(move |db| db.project(&name)).await
    }

    /// Projects whose name contains `filter` (by name, `size` from `offset`) and the total.
    pub async fn list_projects(
        &self,
        filter: &str,
        offset: u64,
        size: u64,
    ) -> Result<(Vec<Project>, u64), SlsError> {
        let filter = filter.to_string();
        self.store()
            .call(move |db| db.list_projects(&filter, offset, size))
            .await
    }

    /// Changes a project's description.
    pub async fn update_project(&self, name: &str, description: &str) -> Result<(), SlsError> {
        let (name, description, now) = (name.to_string(), description.to_string(), self.now_ms());
        self.store()
            .call(move |db| db.update_project(&name, &description, now))
            .await
    }

    /// Deletes a project with its logstores and logs.
    pub async fn delete_project(&self, name: &str) -> Result<(), SlsError> {
        let name = name.to_string();
        self.store().call(move |db| db.delete_project(&name)).await
    }

    /// Creates a logstore.
    pub async fn create_logstore(
        &self,
        project: &str,
        cfg: LogstoreConfig,
    ) -> Result<(), SlsError> {
        check_logstore_name(&cfg.name)?;
        let (project, now) = (project.to_string(), self.now_ms());
        self.store()
            .call(move |db| db.create_logstore(&project, &cfg, now))
            .await
    }

    /// Creates the project and the logstore (with `shards` shards) if they are missing; an
    /// existing logstore is left as it is. For logstores an application declares.
    pub async fn ensure_logstore(
        &self,
        project: &str,
        logstore: &str,
        shards: u32,
    ) -> Result<(), SlsError> {
        check_project_name(project)?;
        check_logstore_name(logstore)?;
        let cfg = LogstoreConfig::new(logstore, shards.clamp(1, crate::shards::MAX_SHARDS));
        let (project, now) = (project.to_string(), self.now_ms());
        self.store()
            .call(move |db| {
                match db.create_project(&project, "", now) {
                    Ok(()) | Err(SlsError::ProjectAlreadyExist(_)) => {}
                    Err(e) => return Err(e),
                }
                match db.create_logstore(&project, &cfg, now) {
                    Ok(()) | Err(SlsError::LogStoreAlreadyExist(_)) => Ok(()),
                    Err(e) => Err(e),
                }
            })
            .await
    }

    /// A logstore.
    pub async fn logstore(&self, project: &str, name: &str) -> Result<Logstore, SlsError> {
        let (project, name) = (project.to_string(), name.to_string());
        self.store()
            .call(move |db| db.logstore(&project, &name))
            .await
    }

    /// Logstore names containing `filter` (by name, `size` from `offset`) and the total.
    pub async fn list_logstores(
        &self,
        project: &str,
        filter: &str,
        offset: u64,
        size: u64,
    ) -> Result<(Vec<String>, u64), SlsError> {
        let (project, filter) = (project.to_string(), filter.to_string());
        self.store()
            .call(move |db| db.list_logstores(&project, &filter, offset, size))
            .await
    }

    /// Applies settings given in their JSON form (`ttl`, `appendMeta`, ...); the shard count
    /// does not change.
    pub async fn update_logstore(
        &self,
        project: &str,
        name: &str,
        changes: Map<String, Value>,
    ) -> Result<(), SlsError> {
        let (project, name, now) = (project.to_string(), name.to_string(), self.now_ms());
        self.store()
            .call(move |db| {
                let cfg = db.logstore(&project, &name)?.config.updated(&changes)?;
                db.update_logstore(&project, &cfg, now)
            })
            .await
    }

    /// Deletes a logstore with its index and logs.
    pub async fn delete_logstore(&self, project: &str, name: &str) -> Result<(), SlsError> {
        let (project, name) = (project.to_string(), name.to_string());
        self.store()
            .call(move |db| db.delete_logstore(&project, &name))
            .await
    }

    /// A logstore's shards and their hash ranges, with the logstore (for its creation time).
    pub async fn list_shards(
        &self,
        project: &str,
        logstore: &str,
    ) -> Result<(Logstore, Vec<ShardRange>), SlsError> {
        let ls = self.logstore(project, logstore).await?;
        let r = ranges(ls.config.shard_count);
        Ok((ls, r))
    }

    /// Sets a logstore's index config; `create` refuses to replace one, otherwise one must exist.
    pub async fn set_index(
        &self,
        project: &str,
        logstore: &str,
        doc: Map<String, Value>,
        create: bool,
    ) -> Result<(), SlsError> {
        let (project, logstore, now) = (project.to_string(), logstore.to_string(), self.now_ms());
        self.store()
            .call(move |db| {
                db.logstore(&project, &logstore)?;
                match (db.index(&project, &logstore)?, create) {
                    (Some(_), true) => Err(SlsError::IndexAlreadyExist(logstore.clone())),
                    (None, false) => Err(SlsError::IndexConfigNotExist(logstore.clone())),
                    _ => db.set_index(&project, &logstore, &doc, now),
                }
            })
            .await
    }

    /// A logstore's index config, with the logstore (for its ttl).
    pub async fn index(
        &self,
        project: &str,
        logstore: &str,
    ) -> Result<(Logstore, IndexConfig), SlsError> {
        let (project, logstore) = (project.to_string(), logstore.to_string());
        self.store()
            .call(move |db| {
                let ls = db.logstore(&project, &logstore)?;
                let index = db
                    .index(&project, &logstore)?
                    .ok_or_else(|| SlsError::IndexConfigNotExist(logstore.clone()))?;
                Ok((ls, index))
            })
            .await
    }

    /// Removes a logstore's index config.
    pub async fn delete_index(&self, project: &str, logstore: &str) -> Result<(), SlsError> {
        let (project, logstore) = (project.to_string(), logstore.to_string());
        self.store()
            .call(move |db| {
                db.logstore(&project, &logstore)?;
                if db.delete_index(&project, &logstore)? {
                    Ok(())
                } else {
                    Err(SlsError::IndexConfigNotExist(logstore.clone()))
                }
            })
            .await
    }

    /// Writes a log group to any shard (as `shards/lb` does). For the emulator's own logs:
    /// `cause` is the invocation whose logs they are.
    pub async fn put_logs(
        &self,
        project: &str,
        logstore: &str,
        group: LogGroup,
        cause: fcemu_core::Cause,
    ) -> Result<LogsAppended, SlsError> {
        let origin = Origin {
            client_ip: None,
            cause,
        };
        self.put_logs_to(project, logstore, ShardChoice::LoadBalance, group, origin)
            .await
    }

    /// Writes a log group: stamps `__receive_time__` (and `__client_ip__` when the logstore
    /// has `appendMeta`), appends it to the chosen shard, and once that is durable publishes a
    /// [`LogsAppended`] and returns it.
    pub async fn put_logs_to(
        &self,
        project: &str,
        logstore: &str,
        choice: ShardChoice,
        mut group: LogGroup,
        origin: Origin,
    ) -> Result<LogsAppended, SlsError> {
        let Origin { client_ip, cause } = origin;
        let (project, logstore) = (project.to_string(), logstore.to_string());
        let received_at = self.config().ctx.clock.now();
        let received_ms = ms(received_at);
        let now = received_ms;
        let changes = self.inner.changes.clone();
        self.store()
            .call(move |db| {
                let ls = db.logstore(&project, &logstore)?;
                expire(db, &project, &ls, now)?;
                let count = ls.config.shard_count;
                let shard = match choice {
                    ShardChoice::LoadBalance => db.next_round_robin(&project, &logstore, count),
                    ShardChoice::HashKey(key) => shard_for_key(&key, count),
                    ShardChoice::Id(id) => shard_of(&ls, i64::from(id))?,
                };
                group.set_tag("__receive_time__", received_at.unix_timestamp().to_string());
                if ls.config.append_meta {
                    group.set_tag(
                        "__client_ip__",
                        client_ip.unwrap_or_else(|| "127.0.0.1".into()),
                    );
                }
                let times = group.logs.iter().map(|l| i64::from(l.time));
                let new = NewGroup {
                    shard,
                    received_ms,
                    log_count: group.logs.len(),
                    min_time: times.clone().min().unwrap_or(0),
                    max_time: times.max().unwrap_or(-1),
                    topic: group.topic.clone().unwrap_or_default(),
                    data: group.encode_to_vec(),
                };
                let seq = db.insert_group(&project, &logstore, &new)?;
                let appended = LogsAppended {
                    project,
                    logstore,
                    shard,
                    count: new.log_count,
                    begin_seq: seq,
                    end_seq: seq + 1,
                    begin_cursor: cursor::encode(seq),
                    end_cursor: cursor::encode(seq + 1),
                    received_at,
                    cause,
                };
                // Published under the store's lock, after the commit: subscribers see the
                // groups of a shard in position order.
                changes.publish(appended.clone());
                Ok(appended)
            })
            .await
    }

    /// GetCursor: the cursor at the shard's begin, end, or first group received at or after a
    /// time.
    pub async fn cursor(
        &self,
        project: &str,
        logstore: &str,
        shard: i64,
        from: CursorFrom,
    ) -> Result<String, SlsError> {
        let now = self.now_ms();
        let (project, logstore) = (project.to_string(), logstore.to_string());
        self.store()
            .call(move |db| {
                let ls = db.logstore(&project, &logstore)?;
                expire(db, &project, &ls, now)?;
                let shard = shard_of(&ls, shard)?;
                let (begin, end) = db.shard_bounds(&project, &logstore, shard)?;
                let seq = match from {
                    CursorFrom::Begin => begin,
                    CursorFrom::End => end,
                    CursorFrom::Time(t) => db
                        .first_received_since(&project, &logstore, shard, t.saturating_mul(1000))?
                        .unwrap_or(end),
                };
                Ok(cursor::encode(seq))
            })
            .await
    }

    /// GetCursorTime: when the group at a cursor was received (seconds).
    pub async fn cursor_time(
        &self,
        project: &str,
        logstore: &str,
        shard: i64,
        cursor: &str,
    ) -> Result<i64, SlsError> {
        let now = self.now_ms();
        let seq = decode_cursor(cursor)?;
        let (project, logstore, c) = (
            project.to_string(),
            logstore.to_string(),
            cursor.to_string(),
        );
        self.store()
            .call(move |db| {
                let ls = db.logstore(&project, &logstore)?;
                expire(db, &project, &ls, now)?;
                let shard = shard_of(&ls, shard)?;
                let at = db.received_at(&project, &logstore, shard, seq)?;
                // The end cursor names no group: its time is the last group's (the SDKs ask
                // for it that way to see how far a shard has been written).
                let at = match (at, seq.checked_sub(1)) {
                    (Some(ms), _) => Some(ms),
                    (None, Some(last)) => db.received_at(&project, &logstore, shard, last)?,
                    (None, None) => None,
                };
                at.map(|ms| ms.div_euclid(1000)).ok_or_else(|| {
                    SlsError::InvalidCursor(format!("cursor {c} is out of the shard's range"))
                })
            })
            .await
    }

    /// PullLogs: up to `count` groups from `cursor`, stopping before `end_cursor` if given.
    pub async fn pull_logs(
        &self,
        project: &str,
        logstore: &str,
        shard: i64,
        cursor: &str,
        count: u32,
        end_cursor: Option<&str>,
    ) -> Result<Pulled, SlsError> {
        let now = self.now_ms();
        if !(1..=MAX_PULL_COUNT).contains(&count) {
            return Err(SlsError::ParameterInvalid(format!(
                "count must be within range [1, {MAX_PULL_COUNT}]"
            )));
        }
        let from = decode_cursor(cursor)?;
        let until = end_cursor.map(decode_cursor).transpose()?;
        let (project, logstore, c) = (
            project.to_string(),
            logstore.to_string(),
            cursor.to_string(),
        );
        self.store()
            .call(move |db: &mut Db| {
                let ls = db.logstore(&project, &logstore)?;
                expire(db, &project, &ls, now)?;
                let shard = shard_of(&ls, shard)?;
                let (begin, end) = db.shard_bounds(&project, &logstore, shard)?;
                if from < begin || from > end {
                    return Err(SlsError::InvalidCursor(format!(
                        "cursor {c} is out of the shard's range"
                    )));
                }
                let until = until.map_or(end, |u| u.min(end));
                let groups = db.groups(
                    &project,
                    &logstore,
                    shard,
                    from..until,
                    count,
                    MAX_PULL_BYTES,
                )?;
                let next = from + groups.len() as u64;
                Ok(Pulled {
                    cursor_time: groups.last().map(|g| g.received_ms.div_euclid(1000)),
                    groups: groups.into_iter().map(|g| g.data).collect(),
                    next_cursor: cursor::encode(next),
                })
            })
            .await
    }

    /// Runs a scan over every group of the logstore that may hold logs in its range, fetched in
    /// batches (each under the store's lock briefly) and searched on the blocking pool.
    async fn scan(
        &self,
        project: &str,
        logstore: &str,
        q: &LogQuery,
        mut scan: search::Scan,
    ) -> Result<search::Scan, SlsError> {
        let mut after = 0;
        loop {
            let (p, l, from, to) = (project.to_string(), logstore.to_string(), q.from, q.to);
            let batch = self
                .store()
                .call(move |db| {
                    db.groups_in_time(&p, &l, from..to, after, SCAN_BATCH, SCAN_BATCH_BYTES)
                })
                .await?;
            let Some((last, _)) = batch.last() else {
                return Ok(scan);
            };
            after = *last;
            scan = tokio::task::spawn_blocking(move || {
                let groups: Vec<_> = batch.into_iter().map(|(_, g)| g).collect();
                scan.add(&groups);
                scan
            })
            .await?;
        }
    }

    async fn index_doc(
        &self,
        project: &str,
        logstore: &str,
    ) -> Result<Option<Map<String, Value>>, SlsError> {
        let (p, l, now) = (project.to_string(), logstore.to_string(), self.now_ms());
        self.store()
            .call(move |db| {
                let ls = db.logstore(&p, &l)?;
                expire(db, &p, &ls, now)?;
                Ok(db.index(&p, &l)?.map(|i| i.doc))
            })
            .await
    }

    /// ListTopics: up to `limit` distinct non-empty topics after `token` (`""`: from the first),
    /// and the token of the next page (`""` when there is none).
    pub async fn topics(
        &self,
        project: &str,
        logstore: &str,
        token: &str,
        limit: u32,
    ) -> Result<(Vec<String>, String), SlsError> {
        let limit = limit.clamp(1, 10_000);
        let (p, l, t) = (project.to_string(), logstore.to_string(), token.to_string());
        let topics = self
            .store()
            .call(move |db| {
                db.logstore(&p, &l)?;
                db.topics(&p, &l, &t, limit)
            })
            .await?;
        let next = if topics.len() == limit as usize {
            topics.last().cloned().unwrap_or_default()
        } else {
            String::new()
        };
        Ok((topics, next))
    }

    /// GetLogs: the search (or `select count(*)`) over `[from, to)`.
    pub async fn get_logs(
        &self,
        project: &str,
        logstore: &str,
        q: LogQuery,
    ) -> Result<LogsPage, SlsError> {
        let index = self.index_doc(project, logstore).await?;
        let scan = search::Scan::for_logs(q.clone(), index.as_ref())?;
        let scan = self.scan(project, logstore, &q, scan).await?;
        let now = self.config().ctx.clock.now();
        tokio::task::spawn_blocking(move || scan.logs(now))
            .await
            .map_err(|e| SlsError::Internal(format!("analytic query: {e}")))?
    }

    /// GetHistograms: matching logs counted in buckets tiling `[from, to)`, `interval` seconds
    /// wide when given (and reasonable), else of a width chosen for the range.
    pub async fn histograms(
        &self,
        project: &str,
        logstore: &str,
        q: LogQuery,
        interval: Option<i64>,
    ) -> Result<Vec<Histogram>, SlsError> {
        let index = self.index_doc(project, logstore).await?;
        let scan = search::Scan::for_histograms(q.clone(), index.as_ref())?.with_interval(interval);
        Ok(self.scan(project, logstore, &q, scan).await?.histograms())
    }
}

/// Where a write came from: the client's address (the `__client_ip__` tag of logstores with
/// `appendMeta`) and how many change-triggered invocations led to it.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    /// The client's address.
    pub client_ip: Option<String>,
    /// The invocation behind the write ([`fcemu_core::Cause`]; the default from outside).
    pub cause: fcemu_core::Cause,
}
