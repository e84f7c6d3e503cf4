//! Projects, logstores and index configs.

use rusqlite::{OptionalExtension, params};
use serde_json::{Map, Value};

use super::{Db, clamp, from_ms, json_map, json_text, like_escape};
use crate::SlsError;
use crate::model::{IndexConfig, Logstore, LogstoreConfig, Project};

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
}

fn project_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Project> {
    Ok(Project {
        name: r.get(0)?,
        description: r.get(1)?,
        created: from_ms(r.get(2)?),
        modified: from_ms(r.get(3)?),
    })
}
