//! Persistence: one SQLite database (WAL; synchronous=FULL when durable) holding tables, rows,
//! cell versions, stream records and auto-increment counters, keyed by instance.
//!
//! Every call runs on the blocking pool ([`Store::call`]) under one mutex, so a conditional
//! write (read the row, check, write) is atomic with respect to every other write.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::OtsError;
use crate::model::{TableInfo, Value};
use crate::plainbuffer::{PbValue, decode_value, encode_value};

const MIGRATIONS: &[&str] = &["
CREATE TABLE tables (
    instance TEXT NOT NULL,
    name TEXT NOT NULL,
    meta TEXT NOT NULL,
    PRIMARY KEY (instance, name)
) WITHOUT ROWID;
CREATE TABLE rows (
    instance TEXT NOT NULL,
    tbl TEXT NOT NULL,
    key BLOB NOT NULL,
    pk BLOB NOT NULL,
    PRIMARY KEY (instance, tbl, key)
) WITHOUT ROWID;
CREATE TABLE cells (
    instance TEXT NOT NULL,
    tbl TEXT NOT NULL,
    key BLOB NOT NULL,
    col TEXT NOT NULL,
    ts INTEGER NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (instance, tbl, key, col, ts)
) WITHOUT ROWID;
CREATE TABLE stream_records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    instance TEXT NOT NULL,
    tbl TEXT NOT NULL,
    stream_id TEXT NOT NULL,
    ts_us INTEGER NOT NULL,
    action INTEGER NOT NULL,
    record BLOB NOT NULL
);
CREATE INDEX stream_records_by_stream ON stream_records (stream_id, seq);
CREATE INDEX stream_records_by_time ON stream_records (stream_id, ts_us);
CREATE TABLE autoinc (
    instance TEXT NOT NULL,
    tbl TEXT NOT NULL,
    last INTEGER NOT NULL,
    PRIMARY KEY (instance, tbl)
) WITHOUT ROWID;
"];

/// The service's persistent state.
#[derive(Clone, Debug)]
pub struct Store {
    db: fcemu_core::storage::Locked<Connection>,
}

impl Store {
    /// Opens `ots.db` in `dir`. `durable: false` turns fsync off (temporary data directories).
    pub fn open(dir: &Path, durable: bool) -> Result<Self, OtsError> {
        let conn = fcemu_core::storage::open_sqlite(&dir.join("ots.db"), MIGRATIONS)?;
        if !durable {
            conn.pragma_update(None, "synchronous", "OFF")?;
        }
        Ok(Self {
            db: fcemu_core::storage::Locked::new(conn),
        })
    }

    /// Runs `f` inside one transaction on the blocking pool; commits when it returns `Ok`.
    pub async fn call<T, F>(&self, f: F) -> Result<T, OtsError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, OtsError> + Send + 'static,
    {
        self.call_then(f, |_| {}).await
    }

    /// Like [`Store::call`], and runs `committed` once the commit is durable, still under the
    /// lock, so what it publishes is in commit order.
    pub async fn call_then<T, F, G>(&self, f: F, committed: G) -> Result<T, OtsError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, OtsError> + Send + 'static,
        G: FnOnce(&mut T) + Send + 'static,
    {
        self.db
            .call_then(
                move |conn| {
                    let tx = conn.transaction()?;
                    let out = f(&tx)?;
                    tx.commit()?;
                    Ok(out)
                },
                committed,
            )
            .await
    }
}

/// The stored description of a table, if it exists.
pub fn table(tx: &Connection, instance: &str, name: &str) -> Result<Option<TableInfo>, OtsError> {
    let meta: Option<String> = tx
        .query_row(
            "SELECT meta FROM tables WHERE instance = ?1 AND name = ?2",
            params![instance, name],
            |r| r.get(0),
        )
        .optional()?;
    Ok(match meta {
        Some(m) => Some(serde_json::from_str(&m)?),
        None => None,
    })
}

/// Inserts or replaces a table's description.
pub fn save_table(tx: &Connection, instance: &str, t: &TableInfo) -> Result<(), OtsError> {
    tx.execute(
        "INSERT OR REPLACE INTO tables (instance, name, meta) VALUES (?1, ?2, ?3)",
        params![instance, t.name, serde_json::to_string(t)?],
    )?;
    Ok(())
}

/// Removes a table with all its rows, cells, stream records and counters.
pub fn drop_table(tx: &Connection, instance: &str, name: &str) -> Result<(), OtsError> {
    for sql in [
        "DELETE FROM tables WHERE instance = ?1 AND name = ?2",
        "DELETE FROM rows WHERE instance = ?1 AND tbl = ?2",
        "DELETE FROM cells WHERE instance = ?1 AND tbl = ?2",
        "DELETE FROM stream_records WHERE instance = ?1 AND tbl = ?2",
        "DELETE FROM autoinc WHERE instance = ?1 AND tbl = ?2",
    ] {
        tx.execute(sql, params![instance, name])?;
    }
    Ok(())
}

/// Removes every table, row, record and counter of every instance.
pub fn wipe(tx: &Connection) -> Result<(), OtsError> {
    tx.execute_batch(
        "DELETE FROM tables; DELETE FROM rows; DELETE FROM cells; DELETE FROM stream_records;
         DELETE FROM autoinc;",
    )?;
    Ok(())
}

/// Table names of an instance, sorted.
pub fn table_names(tx: &Connection, instance: &str) -> Result<Vec<String>, OtsError> {
    let mut st = tx.prepare("SELECT name FROM tables WHERE instance = ?1 ORDER BY name")?;
    let names = st
        .query_map(params![instance], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(names)
}

/// Every table of every instance (for stream listings).
pub fn all_tables(tx: &Connection) -> Result<Vec<(String, TableInfo)>, OtsError> {
    let mut st = tx.prepare("SELECT instance, meta FROM tables ORDER BY instance, name")?;
    let rows = st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(i, m)| Ok((i, serde_json::from_str(&m)?)))
        .collect()
}

/// Identifies one row: instance, table and encoded key.
#[derive(Clone, Copy, Debug)]
pub struct RowRef<'a> {
    /// Instance name.
    pub instance: &'a str,
    /// Table name.
    pub table: &'a str,
    /// Order-preserving key ([`crate::keys`]).
    pub key: &'a [u8],
}

/// The stored primary key buffer of a row, if the row exists.
pub fn row_pk(tx: &Connection, r: RowRef<'_>) -> Result<Option<Vec<u8>>, OtsError> {
    Ok(tx
        .query_row(
            "SELECT pk FROM rows WHERE instance = ?1 AND tbl = ?2 AND key = ?3",
            params![r.instance, r.table, r.key],
            |row| row.get(0),
        )
        .optional()?)
}

/// Every stored version of a row: (column, timestamp, value), by column then newest first.
pub fn row_cells(tx: &Connection, r: RowRef<'_>) -> Result<Vec<(String, i64, Value)>, OtsError> {
    let mut st = tx.prepare_cached(
        "SELECT col, ts, value FROM cells WHERE instance = ?1 AND tbl = ?2 AND key = ?3
         ORDER BY col, ts DESC",
    )?;
    let raw = st
        .query_map(params![r.instance, r.table, r.key], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, Vec<u8>>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    raw.into_iter()
        .map(|(c, ts, v)| match decode_value(&v) {
            Ok(PbValue::Plain(v)) => Ok((c, ts, v)),
            _ => Err(OtsError::Internal(format!(
                "stored value of column {c} is corrupt"
            ))),
        })
        .collect()
}

/// Records that a row exists (with its primary key buffer).
pub fn put_row(tx: &Connection, r: RowRef<'_>, pk: &[u8]) -> Result<(), OtsError> {
    tx.execute(
        "INSERT OR REPLACE INTO rows (instance, tbl, key, pk) VALUES (?1, ?2, ?3, ?4)",
        params![r.instance, r.table, r.key, pk],
    )?;
    Ok(())
}

/// Removes a row and all its cells.
pub fn delete_row(tx: &Connection, r: RowRef<'_>) -> Result<(), OtsError> {
    tx.execute(
        "DELETE FROM rows WHERE instance = ?1 AND tbl = ?2 AND key = ?3",
        params![r.instance, r.table, r.key],
    )?;
    tx.execute(
        "DELETE FROM cells WHERE instance = ?1 AND tbl = ?2 AND key = ?3",
        params![r.instance, r.table, r.key],
    )?;
    Ok(())
}

/// Writes one version (replacing the version with the same timestamp).
pub fn put_cell(
    tx: &Connection,
    r: RowRef<'_>,
    col: &str,
    ts: i64,
    v: &Value,
) -> Result<(), OtsError> {
    let mut bytes = Vec::new();
    encode_value(&mut bytes, &PbValue::Plain(v.clone()));
    tx.prepare_cached(
        "INSERT OR REPLACE INTO cells (instance, tbl, key, col, ts, value)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![r.instance, r.table, r.key, col, ts, bytes])?;
    Ok(())
}

/// Deletes one version (`Some(ts)`) or every version (`None`) of a column.
pub fn delete_cells(
    tx: &Connection,
    r: RowRef<'_>,
    col: &str,
    ts: Option<i64>,
) -> Result<(), OtsError> {
    match ts {
        Some(ts) => tx.execute(
            "DELETE FROM cells WHERE instance = ?1 AND tbl = ?2 AND key = ?3 AND col = ?4 AND ts = ?5",
            params![r.instance, r.table, r.key, col, ts],
        )?,
        None => tx.execute(
            "DELETE FROM cells WHERE instance = ?1 AND tbl = ?2 AND key = ?3 AND col = ?4",
            params![r.instance, r.table, r.key, col],
        )?,
    };
    Ok(())
}

/// Drops the versions of a column beyond the `keep` newest.
pub fn trim_versions(tx: &Connection, r: RowRef<'_>, col: &str, keep: i32) -> Result<(), OtsError> {
    tx.prepare_cached(
        "DELETE FROM cells WHERE instance = ?1 AND tbl = ?2 AND key = ?3 AND col = ?4 AND ts NOT IN
         (SELECT ts FROM cells WHERE instance = ?1 AND tbl = ?2 AND key = ?3 AND col = ?4
          ORDER BY ts DESC LIMIT ?5)",
    )?
    .execute(params![r.instance, r.table, r.key, col, keep.max(1)])?;
    Ok(())
}

/// Encoded key and primary-key buffer of a scanned row.
pub type ScannedRow = (Vec<u8>, Vec<u8>);

/// Rows of a table whose key lies between two bounds: `[start, end)` ascending when `forward`,
/// else `(end, start]` descending (`start` is then the larger, inclusive bound). `after`
/// continues a scan past the key it names. At most `limit` rows.
#[allow(clippy::too_many_arguments)]
pub fn scan(
    tx: &Connection,
    instance: &str,
    table: &str,
    start: &[u8],
    end: &[u8],
    forward: bool,
    after: Option<&[u8]>,
    limit: usize,
) -> Result<Vec<ScannedRow>, OtsError> {
    let sql = if forward {
        "SELECT key, pk FROM rows WHERE instance = ?1 AND tbl = ?2 AND key >= ?3 AND key < ?4
         AND (?5 IS NULL OR key > ?5) ORDER BY key ASC LIMIT ?6"
    } else {
        "SELECT key, pk FROM rows WHERE instance = ?1 AND tbl = ?2 AND key <= ?3 AND key > ?4
         AND (?5 IS NULL OR key < ?5) ORDER BY key DESC LIMIT ?6"
    };
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut st = tx.prepare_cached(sql)?;
    let rows = st
        .query_map(params![instance, table, start, end, after, limit], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The next auto-increment value of a table: strictly increasing, at least `floor`.
pub fn next_autoinc(
    tx: &Connection,
    instance: &str,
    table: &str,
    floor: i64,
) -> Result<i64, OtsError> {
    let last: Option<i64> = tx
        .query_row(
            "SELECT last FROM autoinc WHERE instance = ?1 AND tbl = ?2",
            params![instance, table],
            |r| r.get(0),
        )
        .optional()?;
    let next = last.map_or(floor, |l| l.saturating_add(1).max(floor));
    tx.execute(
        "INSERT OR REPLACE INTO autoinc (instance, tbl, last) VALUES (?1, ?2, ?3)",
        params![instance, table, next],
    )?;
    Ok(next)
}

/// A stored stream record.
#[derive(Clone, Debug)]
pub struct StoredRecord {
    /// Position in the stream.
    pub seq: i64,
    /// ActionType number (1 put, 2 update, 3 delete).
    pub action: i32,
    /// PlainBuffer record with its sequence extension.
    pub record: Vec<u8>,
}

/// Appends a record to a stream.
pub fn append_record(
    tx: &Connection,
    instance: &str,
    table: &str,
    stream_id: &str,
    ts_us: i64,
    action: i32,
    record: &[u8],
) -> Result<(), OtsError> {
    tx.execute(
        "INSERT INTO stream_records (instance, tbl, stream_id, ts_us, action, record)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![instance, table, stream_id, ts_us, action, record],
    )?;
    Ok(())
}

/// How many records of a stream carry commit time `ts_us` (the next record's row index).
pub fn records_at(tx: &Connection, stream_id: &str, ts_us: i64) -> Result<i32, OtsError> {
    Ok(tx.query_row(
        "SELECT count(*) FROM stream_records WHERE stream_id = ?1 AND ts_us = ?2",
        params![stream_id, ts_us],
        |r| r.get(0),
    )?)
}

/// Up to `limit` records of a stream after position `after`, and whether more follow.
pub fn read_records(
    tx: &Connection,
    stream_id: &str,
    after: i64,
    limit: usize,
) -> Result<(Vec<StoredRecord>, bool), OtsError> {
    let mut st = tx.prepare_cached(
        "SELECT seq, action, record FROM stream_records WHERE stream_id = ?1 AND seq > ?2
         ORDER BY seq LIMIT ?3",
    )?;
    let want = i64::try_from(limit).unwrap_or(i64::MAX - 1) + 1;
    let mut recs = st
        .query_map(params![stream_id, after, want], |r| {
            Ok(StoredRecord {
                seq: r.get(0)?,
                action: r.get(1)?,
                record: r.get(2)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let more = recs.len() > limit;
    recs.truncate(limit);
    Ok((recs, more))
}

/// Drops stream records older than `before_us` (expiration).
pub fn trim_records(tx: &Connection, stream_id: &str, before_us: i64) -> Result<(), OtsError> {
    tx.execute(
        "DELETE FROM stream_records WHERE stream_id = ?1 AND ts_us < ?2",
        params![stream_id, before_us],
    )?;
    Ok(())
}
