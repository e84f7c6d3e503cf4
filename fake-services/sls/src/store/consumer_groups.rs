//! Consumer groups and their per-shard checkpoints in SQLite.

use rusqlite::{OptionalExtension, params};

use super::Db;
use crate::SlsError;
use crate::consumer_groups::{Checkpoint, ConsumerGroup};

impl Db {
    /// Creates a consumer group in an existing logstore.
    pub fn create_consumer_group(
        &mut self,
        project: &str,
        logstore: &str,
        group: &ConsumerGroup,
    ) -> Result<(), SlsError> {
        self.logstore(project, logstore)?;
        let n = self.conn.execute(
            "INSERT OR IGNORE INTO consumer_groups (project, logstore, name, timeout, in_order) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![project, logstore, group.name, group.timeout, group.in_order],
        )?;
        if n == 0 {
            return Err(SlsError::ConsumerGroupAlreadyExist(group.name.clone()));
        }
        Ok(())
    }

    /// A logstore's consumer groups, by name.
    pub fn consumer_groups(
        &self,
        project: &str,
        logstore: &str,
    ) -> Result<Vec<ConsumerGroup>, SlsError> {
        self.logstore(project, logstore)?;
        let mut stmt = self.conn.prepare(
            "SELECT name, timeout, in_order FROM consumer_groups WHERE project = ?1 AND logstore = ?2 ORDER BY name",
        )?;
        let rows = stmt
            .query_map([project, logstore], group_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// One consumer group, or `ConsumerGroupNotExist`.
    pub fn consumer_group(
        &self,
        project: &str,
        logstore: &str,
        name: &str,
    ) -> Result<ConsumerGroup, SlsError> {
        self.logstore(project, logstore)?;
        self.conn
            .query_row(
                "SELECT name, timeout, in_order FROM consumer_groups WHERE project = ?1 AND logstore = ?2 AND name = ?3",
                [project, logstore, name],
                group_row,
            )
            .optional()?
            .ok_or_else(|| SlsError::ConsumerGroupNotExist(name.into()))
    }

    /// Replaces a consumer group's settings.
    pub fn update_consumer_group(
        &mut self,
        project: &str,
        logstore: &str,
        group: &ConsumerGroup,
    ) -> Result<(), SlsError> {
        self.consumer_group(project, logstore, &group.name)?;
        self.conn.execute(
            "UPDATE consumer_groups SET timeout = ?4, in_order = ?5 WHERE project = ?1 AND logstore = ?2 AND name = ?3",
            params![project, logstore, group.name, group.timeout, group.in_order],
        )?;
        Ok(())
    }

    /// Deletes a consumer group and its checkpoints.
    pub fn delete_consumer_group(
        &mut self,
        project: &str,
        logstore: &str,
        name: &str,
    ) -> Result<(), SlsError> {
        self.consumer_group(project, logstore, name)?;
        let tx = self.conn.transaction()?;
        tx.execute(
            "DELETE FROM consumer_groups WHERE project = ?1 AND logstore = ?2 AND name = ?3",
            [project, logstore, name],
        )?;
        tx.execute(
            "DELETE FROM checkpoints WHERE project = ?1 AND logstore = ?2 AND consumer_group = ?3",
            [project, logstore, name],
        )?;
        tx.commit()?;
        self.consumers
            .remove(&(project.to_string(), logstore.to_string(), name.to_string()));
        Ok(())
    }

    /// Records a shard's checkpoint.
    pub fn set_checkpoint(
        &mut self,
        project: &str,
        logstore: &str,
        group: &str,
        c: &Checkpoint,
    ) -> Result<(), SlsError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO checkpoints (project, logstore, consumer_group, shard, checkpoint, consumer, update_us)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![project, logstore, group, c.shard, c.checkpoint, c.consumer, c.update_us],
        )?;
        Ok(())
    }

    /// The checkpoints recorded for a consumer group, by shard.
    pub fn checkpoints(
        &self,
        project: &str,
        logstore: &str,
        group: &str,
    ) -> Result<Vec<Checkpoint>, SlsError> {
        let mut stmt = self.conn.prepare(
            "SELECT shard, checkpoint, consumer, update_us FROM checkpoints
             WHERE project = ?1 AND logstore = ?2 AND consumer_group = ?3 ORDER BY shard",
        )?;
        let rows = stmt
            .query_map([project, logstore, group], |r| {
                Ok(Checkpoint {
                    shard: r.get::<_, i64>(0)? as u32,
                    checkpoint: r.get(1)?,
                    consumer: r.get(2)?,
                    update_us: r.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}

fn group_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ConsumerGroup> {
    Ok(ConsumerGroup {
        name: r.get(0)?,
        timeout: r.get(1)?,
        in_order: r.get(2)?,
    })
}
