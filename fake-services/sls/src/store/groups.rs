//! Log groups: appending at a shard's end, reading by position or time, topics, expiry.

use rusqlite::{OptionalExtension, params};

use super::{Db, NewGroup, StoredGroup, clamp};
use crate::SlsError;

impl Db {
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
