//! Table operations: create, list, describe, update, delete, with the checks the service
//! makes on names, primary-key schemas and options.

use crate::model::{PkColumnSchema, PkType, StreamInfo, TableInfo, TableOptions};
use crate::{Ots, OtsError, store};

/// What CreateTable asks for.
#[derive(Clone, Debug)]
pub struct CreateTable {
    /// Table name.
    pub name: String,
    /// Primary key columns in key order.
    pub primary_key: Vec<PkColumnSchema>,
    /// Predefined attribute columns (name, DefinedColumnType number).
    pub defined_columns: Vec<(String, i32)>,
    /// Reserved read capacity.
    pub reserved_read: i32,
    /// Reserved write capacity.
    pub reserved_write: i32,
    /// Options (defaults when the request has none).
    pub options: TableOptions,
    /// `Some((enable, expiration hours))` when the request has a stream specification.
    pub stream: Option<(bool, i32)>,
}

/// What UpdateTable asks for; `None` leaves a setting as it is.
#[derive(Clone, Debug, Default)]
pub struct UpdateTable {
    /// Table name.
    pub name: String,
    /// New reserved read capacity.
    pub reserved_read: Option<i32>,
    /// New reserved write capacity.
    pub reserved_write: Option<i32>,
    /// New TTL in seconds.
    pub time_to_live: Option<i32>,
    /// New version count.
    pub max_versions: Option<i32>,
    /// New deviation in seconds.
    pub deviation_cell_version_in_sec: Option<i64>,
    /// New allow_update.
    pub allow_update: Option<bool>,
    /// `Some((enable, expiration hours))` to switch the stream.
    pub stream: Option<(bool, Option<i32>)>,
}

/// Default stream retention, hours.
const DEFAULT_STREAM_HOURS: i32 = 24;

/// Checks a table or column name: 1–255 bytes of `[A-Za-z0-9_]`, not starting with a digit.
pub fn check_name(kind: &str, name: &str) -> Result<(), OtsError> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(())
    } else {
        Err(OtsError::invalid(format!("Invalid {kind} name: '{name}'.")))
    }
}

fn check_options(o: &TableOptions) -> Result<(), OtsError> {
    if o.max_versions < 1 {
        return Err(OtsError::invalid("MaxVersions must be greater than 0."));
    }
    if o.time_to_live != -1 && o.time_to_live <= 0 {
        return Err(OtsError::invalid(
            "TimeToLive must be -1 or greater than 0.",
        ));
    }
    if o.deviation_cell_version_in_sec <= 0 {
        return Err(OtsError::invalid(
            "DeviationCellVersionInSec must be greater than 0.",
        ));
    }
    Ok(())
}

fn check_schema(pk: &[PkColumnSchema]) -> Result<(), OtsError> {
    if pk.is_empty() || pk.len() > 4 {
        return Err(OtsError::invalid(format!(
            "The number of primary key columns must be in range: [1, 4]. Current: {}.",
            pk.len()
        )));
    }
    for (i, c) in pk.iter().enumerate() {
        check_name("column", &c.name)?;
        if pk[..i].iter().any(|p| p.name == c.name) {
            return Err(OtsError::invalid(format!(
                "Duplicated primary key name: '{}'.",
                c.name
            )));
        }
        if c.auto_increment && (i == 0 || c.ty != PkType::Integer) {
            return Err(OtsError::invalid(format!(
                "AUTO_INCREMENT primary key '{}' must be an INTEGER column other than the partition key.",
                c.name
            )));
        }
    }
    if pk.iter().filter(|c| c.auto_increment).count() > 1 {
        return Err(OtsError::invalid(
            "At most one AUTO_INCREMENT primary key column is allowed.",
        ));
    }
    Ok(())
}

impl Ots {
    fn new_stream(&self, hours: i32) -> StreamInfo {
        StreamInfo {
            stream_id: self.config().ctx.ids.uuid(),
            expiration_hours: if hours > 0 {
                hours
            } else {
                DEFAULT_STREAM_HOURS
            },
            enabled_at_us: self.now_us(),
        }
    }

    /// Creates a table (409 `OTSObjectAlreadyExist` if it exists).
    pub async fn create_table(&self, instance: &str, req: CreateTable) -> Result<(), OtsError> {
        check_name("table", &req.name)?;
        check_schema(&req.primary_key)?;
        for (name, _) in &req.defined_columns {
            check_name("column", name)?;
        }
        check_options(&req.options)?;
        let now_s = self.now_us() / 1_000_000;
        let stream = match req.stream {
            Some((true, hours)) => Some(self.new_stream(hours)),
            _ if self.policy_wants_stream(instance, &req.name) => Some(self.new_stream(0)),
            _ => None,
        };
        let info = TableInfo {
            name: req.name,
            primary_key: req.primary_key,
            defined_columns: req.defined_columns,
            reserved_read: req.reserved_read.max(0),
            reserved_write: req.reserved_write.max(0),
            options: req.options,
            stream,
            created_s: now_s,
            throughput_changed_s: now_s,
        };
        let instance = instance.to_owned();
        self.store()
            .call(move |tx| {
                if store::table(tx, &instance, &info.name)?.is_some() {
                    return Err(OtsError::TableAlreadyExist);
                }
                store::save_table(tx, &instance, &info)
            })
            .await
    }

    /// Creates a table unless one of that name exists (tables declared by configuration).
    /// An existing table keeps its schema and rows; when `req` asks for a stream and the table
    /// has none, the stream is switched on. Returns whether the table was created.
    pub async fn ensure_table(&self, instance: &str, req: CreateTable) -> Result<bool, OtsError> {
        let wants_stream = req.stream.is_some_and(|s| s.0);
        let hours = req.stream.map(|s| s.1);
        let name = req.name.clone();
        match self.create_table(instance, req).await {
            Ok(()) => Ok(true),
            Err(OtsError::TableAlreadyExist) => {
                if wants_stream && self.describe_table(instance, &name).await?.stream.is_none() {
                    self.set_stream(instance, &name, true, hours).await?;
                }
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Names of the instance's tables, sorted.
    pub async fn list_tables(&self, instance: &str) -> Result<Vec<String>, OtsError> {
        let instance = instance.to_owned();
        self.store()
            .call(move |tx| store::table_names(tx, &instance))
            .await
    }

    /// Every table of every instance, by instance then name.
    pub async fn all_tables(&self) -> Result<Vec<(String, TableInfo)>, OtsError> {
        self.store().call(|tx| store::all_tables(tx)).await
    }

    /// A table's description (404 `OTSObjectNotExist` if missing).
    pub async fn describe_table(&self, instance: &str, name: &str) -> Result<TableInfo, OtsError> {
        let (instance, name) = (instance.to_owned(), name.to_owned());
        self.store()
            .call(move |tx| store::table(tx, &instance, &name)?.ok_or(OtsError::TableNotExist))
            .await
    }

    /// Changes throughput, options or the stream of a table; returns the new description.
    pub async fn update_table(
        &self,
        instance: &str,
        req: UpdateTable,
    ) -> Result<TableInfo, OtsError> {
        let instance = instance.to_owned();
        let fresh_stream = self.new_stream(req.stream.and_then(|s| s.1).unwrap_or(0));
        let now_s = self.now_us() / 1_000_000;
        self.store()
            .call(move |tx| {
                let mut t =
                    store::table(tx, &instance, &req.name)?.ok_or(OtsError::TableNotExist)?;
                if req.reserved_read.is_some() || req.reserved_write.is_some() {
                    t.reserved_read = req.reserved_read.unwrap_or(t.reserved_read).max(0);
                    t.reserved_write = req.reserved_write.unwrap_or(t.reserved_write).max(0);
                    t.throughput_changed_s = now_s;
                }
                let o = &mut t.options;
                o.time_to_live = req.time_to_live.unwrap_or(o.time_to_live);
                o.max_versions = req.max_versions.unwrap_or(o.max_versions);
                o.deviation_cell_version_in_sec = req
                    .deviation_cell_version_in_sec
                    .unwrap_or(o.deviation_cell_version_in_sec);
                o.allow_update = req.allow_update.unwrap_or(o.allow_update);
                check_options(&t.options)?;
                match req.stream {
                    Some((true, hours)) => match &mut t.stream {
                        Some(s) => {
                            if let Some(h) = hours.filter(|h| *h > 0) {
                                s.expiration_hours = h;
                            }
                        }
                        None => t.stream = Some(fresh_stream),
                    },
                    Some((false, _)) => t.stream = None,
                    None => {}
                }
                store::save_table(tx, &instance, &t)?;
                Ok(t)
            })
            .await
    }

    /// Turns a table's stream on (keeping an enabled one) or off. For tables created by clients
    /// that cannot ask for a stream themselves (the Python SDK never sends `stream_spec`).
    pub async fn set_stream(
        &self,
        instance: &str,
        table: &str,
        enabled: bool,
        expiration_hours: Option<i32>,
    ) -> Result<TableInfo, OtsError> {
        self.update_table(
            instance,
            UpdateTable {
                name: table.to_owned(),
                stream: Some((enabled, expiration_hours)),
                ..UpdateTable::default()
            },
        )
        .await
    }

    /// Deletes a table with its rows and stream.
    pub async fn delete_table(&self, instance: &str, name: &str) -> Result<(), OtsError> {
        let (instance, name) = (instance.to_owned(), name.to_owned());
        self.store()
            .call(move |tx| {
                if store::table(tx, &instance, &name)?.is_none() {
                    return Err(OtsError::TableNotExist);
                }
                store::drop_table(tx, &instance, &name)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OtsConfig;

    #[tokio::test]
    async fn ensure_table_creates_once_and_adds_a_stream() {
        let ots = Ots::open(OtsConfig::in_memory().unwrap()).unwrap();
        let spec = |stream| CreateTable {
            name: "photos".into(),
            primary_key: vec![PkColumnSchema {
                name: "id".into(),
                ty: PkType::String,
                auto_increment: false,
            }],
            defined_columns: vec![],
            reserved_read: 0,
            reserved_write: 0,
            options: TableOptions::default(),
            stream,
        };
        assert!(ots.ensure_table("i", spec(None)).await.unwrap());
        assert!(
            ots.describe_table("i", "photos")
                .await
                .unwrap()
                .stream
                .is_none()
        );
        assert!(!ots.ensure_table("i", spec(Some((true, 48)))).await.unwrap());
        let t = ots.describe_table("i", "photos").await.unwrap();
        assert_eq!(t.stream.unwrap().expiration_hours, 48);
        assert_eq!(
            ots.list_tables("i").await.unwrap(),
            vec!["photos".to_string()]
        );
    }

    #[test]
    fn names() {
        assert!(check_name("table", "t_1").is_ok());
        assert!(check_name("table", "_x").is_ok());
        assert!(check_name("table", "1x").is_err());
        assert!(check_name("table", "").is_err());
        assert!(check_name("table", "a-b").is_err());
    }
}
