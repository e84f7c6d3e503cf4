//! Row operations: reads (single, batch, range) with projections, versions, time ranges and
//! filters; writes (put, update, delete, batch) with row-existence and column conditions,
//! auto-increment keys, version trimming and stream records.

use rusqlite::Connection;

use crate::filter::Filter;
use crate::keys::{self, KeyPart};
use crate::model::{
    Cell, ColumnChange, ColumnChangeKind, Row, RowAction, RowChange, SequenceInfo, StreamRecord,
    TableInfo, Value,
};
use crate::plainbuffer::{PbCell, PbValue, decode_rows, write::one_row};
use crate::store::{self, RowRef};
use crate::{Ots, OtsError, streams};

/// Rows scanned at most for one GetRange page.
pub const MAX_RANGE_ROWS: usize = 5000;
/// Bytes of row data after which a GetRange page ends.
pub const MAX_RANGE_BYTES: usize = 4 << 20;
/// Attribute columns written at most per row.
pub const MAX_COLUMNS_PER_WRITE: usize = 1024;

/// Row-existence expectation of a conditional write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Existence {
    /// No check.
    #[default]
    Ignore,
    /// The row must exist.
    ExpectExist,
    /// The row must not exist.
    ExpectNotExist,
}

/// The condition of a write.
#[derive(Clone, Debug, Default)]
pub struct Condition {
    /// Row existence.
    pub existence: Existence,
    /// Column condition evaluated against the current row.
    pub filter: Option<Filter>,
}

/// One column operation of a put or update.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnOp {
    /// Write a version (server time when `timestamp` is `None`).
    Put {
        /// Column name.
        name: String,
        /// Value.
        value: Value,
        /// Explicit version, milliseconds.
        timestamp: Option<i64>,
    },
    /// Delete one version.
    DeleteOne {
        /// Column name.
        name: String,
        /// The version.
        timestamp: i64,
    },
    /// Delete every version.
    DeleteAll {
        /// Column name.
        name: String,
    },
    /// Add to the latest integer value (missing = 0).
    Increment {
        /// Column name.
        name: String,
        /// Amount.
        by: i64,
    },
}

/// What a write does.
#[derive(Clone, Debug, PartialEq)]
pub enum WriteKind {
    /// Replace the row with these puts.
    Put(Vec<ColumnOp>),
    /// Apply these operations to the row.
    Update(Vec<ColumnOp>),
    /// Delete the row.
    Delete,
}

/// One row write.
#[derive(Clone, Debug)]
pub struct RowWrite {
    /// Table name.
    pub table: String,
    /// Primary key as sent (may hold auto-increment placeholders for puts).
    pub primary_key: Vec<(String, PbValue)>,
    /// The change.
    pub kind: WriteKind,
    /// Its condition.
    pub condition: Condition,
}

/// The outcome of a successful row write.
#[derive(Clone, Debug, PartialEq)]
pub struct WriteResult {
    /// The complete primary key (auto-increment values filled in).
    pub primary_key: Vec<(String, Value)>,
    /// Read capacity consumed (condition checks).
    pub read_cu: i32,
    /// Write capacity consumed.
    pub write_cu: i32,
}

/// What a read returns of each row.
#[derive(Clone, Debug, Default)]
pub struct ReadSpec {
    /// Columns to return (empty: all). Primary-key columns are always returned.
    pub columns: Vec<String>,
    /// Versions per column (default 1 when no time range is given either).
    pub max_versions: Option<i32>,
    /// `[start, end)` in milliseconds.
    pub time_range: Option<(i64, i64)>,
    /// Rows failing it are left out.
    pub filter: Option<Filter>,
    /// Attribute columns from this name (inclusive).
    pub start_column: Option<String>,
    /// Attribute columns before this name (exclusive).
    pub end_column: Option<String>,
}

/// A GetRange request.
#[derive(Clone, Debug)]
pub struct RangeRequest {
    /// Table name.
    pub table: String,
    /// Inclusive start (may hold INF_MIN / INF_MAX).
    pub start: Vec<(String, PbValue)>,
    /// Exclusive end.
    pub end: Vec<(String, PbValue)>,
    /// FORWARD (ascending) or BACKWARD.
    pub forward: bool,
    /// Rows per page.
    pub limit: Option<i32>,
    /// Projection and filters.
    pub read: ReadSpec,
}

/// One GetRange page.
#[derive(Clone, Debug, Default)]
pub struct RangePage {
    /// Rows in direction order.
    pub rows: Vec<Row>,
    /// Where the next page starts (inclusive), when the range is not exhausted.
    pub next_start: Option<Vec<(String, Value)>>,
    /// Read capacity consumed.
    pub read_cu: i32,
}

/// Capacity units for `bytes` bytes (at least one).
pub fn capacity_units(bytes: usize) -> i32 {
    i32::try_from(bytes.div_ceil(4096).max(1)).unwrap_or(i32::MAX)
}

fn row_size(pk: &[(String, Value)], cells: &[Cell]) -> usize {
    pk.iter().map(|(n, v)| n.len() + v.size()).sum::<usize>()
        + cells
            .iter()
            .map(|c| c.name.len() + c.value.size())
            .sum::<usize>()
}

fn type_name(v: &PbValue) -> &'static str {
    match v {
        PbValue::Plain(Value::Integer(_)) => "INTEGER",
        PbValue::Plain(Value::String(_)) => "STRING",
        PbValue::Plain(Value::Binary(_)) => "BINARY",
        PbValue::Plain(Value::Double(_)) => "DOUBLE",
        PbValue::Plain(Value::Boolean(_)) => "BOOLEAN",
        PbValue::InfMin => "INF_MIN",
        PbValue::InfMax => "INF_MAX",
        PbValue::AutoIncrement => "AUTO_INCREMENT",
    }
}

/// Which markers a primary key may hold.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PkUse {
    Exact,
    Put,
    Bound,
}

/// Checks a primary key against the table's schema (names, count, order, types).
fn check_pk(t: &TableInfo, pk: &[(String, PbValue)], usage: PkUse) -> Result<(), OtsError> {
    if pk.len() != t.primary_key.len() {
        return Err(OtsError::InvalidPk(format!(
            "Validate PK size fail. Input: {}, Meta: {}.",
            pk.len(),
            t.primary_key.len()
        )));
    }
    for ((name, v), s) in pk.iter().zip(&t.primary_key) {
        if name != &s.name {
            return Err(OtsError::InvalidPk(format!(
                "Validate PK name fail. Input: {name}, Meta: {}.",
                s.name
            )));
        }
        let ok = match v {
            PbValue::Plain(v) => s.ty.accepts(v),
            PbValue::InfMin | PbValue::InfMax => usage == PkUse::Bound,
            PbValue::AutoIncrement => usage == PkUse::Put && s.auto_increment,
        };
        if !ok {
            return Err(OtsError::InvalidPk(format!(
                "Validate PK type fail. Input: {}, Meta: {}.",
                type_name(v),
                s.ty.name()
            )));
        }
        match v {
            PbValue::Plain(Value::String(x)) if x.len() > 1024 => {
                return Err(OtsError::invalid(
                    "The length of primary key column must be less than 1024.",
                ));
            }
            PbValue::Plain(Value::Binary(x)) if x.len() > 1024 => {
                return Err(OtsError::invalid(
                    "The length of primary key column must be less than 1024.",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

fn concrete(pk: &[(String, PbValue)]) -> Vec<(String, Value)> {
    pk.iter()
        .filter_map(|(n, v)| match v {
            PbValue::Plain(v) => Some((n.clone(), v.clone())),
            _ => None,
        })
        .collect()
}

fn key_of(pk: &[(String, Value)]) -> Vec<u8> {
    keys::encode(pk.iter().map(|(_, v)| KeyPart::Value(v)))
}

fn bound_key(pk: &[(String, PbValue)]) -> Vec<u8> {
    keys::encode(pk.iter().map(|(_, v)| match v {
        PbValue::Plain(v) => KeyPart::Value(v),
        PbValue::InfMax => KeyPart::InfMax,
        _ => KeyPart::InfMin,
    }))
}

/// The PK-only buffer stored with each row (and returned for RT_PK / next_start).
pub fn pk_buffer(pk: &[(String, Value)]) -> Vec<u8> {
    one_row(&crate::plainbuffer::PbRow {
        primary_key: pk
            .iter()
            .map(|(n, v)| PbCell::plain(n.clone(), v.clone()))
            .collect(),
        ..Default::default()
    })
}

fn decode_pk(bytes: &[u8]) -> Result<Vec<(String, Value)>, OtsError> {
    let rows =
        decode_rows(bytes).map_err(|e| OtsError::Internal(format!("stored primary key: {e}")))?;
    Ok(rows
        .into_iter()
        .next()
        .map(|r| {
            r.primary_key
                .into_iter()
                .filter_map(|c| match c.value {
                    Some(PbValue::Plain(v)) => Some((c.name, v)),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default())
}

/// The current state of a row as conditions and reads see it.
struct Current {
    exists: bool,
    /// Visible versions (TTL and table max_versions applied), by column, newest first.
    cells: Vec<Cell>,
}

fn current(
    tx: &Connection,
    t: &TableInfo,
    r: RowRef<'_>,
    now_ms: i64,
) -> Result<Current, OtsError> {
    if store::row_pk(tx, r)?.is_none() {
        return Ok(Current {
            exists: false,
            cells: Vec::new(),
        });
    }
    let stored = store::row_cells(tx, r)?;
    let had_cells = !stored.is_empty();
    let cells = visible(t, stored, now_ms);
    Ok(Current {
        exists: !had_cells || !cells.is_empty(),
        cells,
    })
}

/// Applies TTL and the table's version limit to stored versions.
fn visible(t: &TableInfo, stored: Vec<(String, i64, Value)>, now_ms: i64) -> Vec<Cell> {
    let oldest = if t.options.time_to_live > 0 {
        now_ms.saturating_sub(i64::from(t.options.time_to_live).saturating_mul(1000))
    } else {
        i64::MIN
    };
    let keep = usize::try_from(t.options.max_versions.max(1)).unwrap_or(1);
    let mut out: Vec<Cell> = Vec::new();
    let mut column: Option<String> = None;
    let mut in_col = 0usize;
    for (name, ts, value) in stored {
        if column.as_ref() != Some(&name) {
            column = Some(name.clone());
            in_col = 0;
        }
        // Versions beyond the newest `keep` are gone even if younger ones expired.
        in_col += 1;
        if ts < oldest || in_col > keep {
            continue;
        }
        out.push(Cell {
            name,
            value,
            timestamp: ts,
        });
    }
    out
}

/// Projects a row for a read; `None` when the read returns no row.
fn project(
    t: &TableInfo,
    pk: Vec<(String, Value)>,
    cells: Vec<Cell>,
    spec: &ReadSpec,
) -> Option<Row> {
    if let Some(f) = &spec.filter
        && !f.passes(&pk, &cells)
    {
        return None;
    }
    let max = match (spec.max_versions, spec.time_range) {
        (Some(n), _) => usize::try_from(n.max(1)).unwrap_or(1),
        (None, Some(_)) => usize::MAX,
        (None, None) => 1,
    };
    let (from, to) = spec.time_range.unwrap_or((i64::MIN, i64::MAX));
    let mut out: Vec<Cell> = Vec::new();
    let mut count = 0usize;
    for c in cells {
        if !spec.columns.is_empty() && !spec.columns.contains(&c.name) {
            continue;
        }
        if spec.start_column.as_ref().is_some_and(|s| c.name < *s)
            || spec.end_column.as_ref().is_some_and(|e| c.name >= *e)
        {
            continue;
        }
        if c.timestamp < from || c.timestamp >= to {
            continue;
        }
        if out.last().is_none_or(|l| l.name != c.name) {
            count = 0;
        }
        if count >= max {
            continue;
        }
        count += 1;
        out.push(c);
    }
    let asks_pk = spec
        .columns
        .iter()
        .any(|c| t.primary_key.iter().any(|p| &p.name == c));
    if out.is_empty() && !spec.columns.is_empty() && !asks_pk {
        return None;
    }
    Some(Row {
        primary_key: pk,
        cells: out,
    })
}

fn check_condition(
    cond: &Condition,
    cur: &Current,
    pk: &[(String, Value)],
) -> Result<(), OtsError> {
    let ok = match cond.existence {
        Existence::Ignore => true,
        Existence::ExpectExist => cur.exists,
        Existence::ExpectNotExist => !cur.exists,
    };
    if !ok {
        return Err(OtsError::ConditionCheckFail);
    }
    if let Some(f) = &cond.filter
        && cur.exists
        && !f.passes(pk, &cur.cells)
    {
        return Err(OtsError::ConditionCheckFail);
    }
    if cond.filter.is_some() && !cur.exists {
        // A column condition on a missing row sees every column as missing.
        if let Some(f) = &cond.filter
            && !f.passes(pk, &[])
        {
            return Err(OtsError::ConditionCheckFail);
        }
    }
    Ok(())
}

/// Request-wide facts a write needs.
struct WriteCtx<'a> {
    instance: &'a str,
    now_ms: i64,
    now_us: i64,
}

fn check_ts(t: &TableInfo, ts: i64, now_ms: i64) -> Result<(), OtsError> {
    let dev = t.options.deviation_cell_version_in_sec.saturating_mul(1000);
    if ts < 0 || ts.abs_diff(now_ms) > dev.unsigned_abs() {
        return Err(OtsError::invalid(format!(
            "The timestamp {ts} of the cell is out of the allowed deviation range."
        )));
    }
    Ok(())
}

/// Applies one write inside the caller's transaction; returns its result and stream record.
fn apply_write(
    tx: &Connection,
    ctx: &WriteCtx<'_>,
    w: &RowWrite,
) -> Result<(WriteResult, Option<RowChange>), OtsError> {
    let t = store::table(tx, ctx.instance, &w.table)?.ok_or(OtsError::TableNotExist)?;
    let usage = if matches!(w.kind, WriteKind::Put(_)) {
        PkUse::Put
    } else {
        PkUse::Exact
    };
    check_pk(&t, &w.primary_key, usage)?;
    let ops = match &w.kind {
        WriteKind::Put(ops) | WriteKind::Update(ops) => ops.as_slice(),
        WriteKind::Delete => &[],
    };
    if ops.len() > MAX_COLUMNS_PER_WRITE {
        return Err(OtsError::OutOfColumnCountLimit(format!(
            "The number of columns in one row is over the limit: {MAX_COLUMNS_PER_WRITE}."
        )));
    }
    if matches!(w.kind, WriteKind::Update(_)) && !t.options.allow_update {
        return Err(OtsError::invalid("The table does not allow UpdateRow."));
    }
    for op in ops {
        let name = match op {
            ColumnOp::Put {
                name, timestamp, ..
            } => {
                if let Some(ts) = timestamp {
                    check_ts(&t, *ts, ctx.now_ms)?;
                }
                name
            }
            ColumnOp::DeleteOne { name, .. }
            | ColumnOp::DeleteAll { name }
            | ColumnOp::Increment { name, .. } => name,
        };
        crate::tables::check_name("column", name)?;
        if t.primary_key.iter().any(|p| &p.name == name) {
            return Err(OtsError::invalid(format!(
                "The attribute column '{name}' has the name of a primary key column."
            )));
        }
    }

    // Fill in auto-increment placeholders.
    let mut pk = Vec::with_capacity(w.primary_key.len());
    for (name, v) in &w.primary_key {
        let v = match v {
            PbValue::AutoIncrement => {
                Value::Integer(store::next_autoinc(tx, ctx.instance, &t.name, ctx.now_us)?)
            }
            PbValue::Plain(v) => v.clone(),
            _ => return Err(OtsError::InvalidPk("Invalid primary key value.".into())),
        };
        pk.push((name.clone(), v));
    }
    let key = key_of(&pk);
    let r = RowRef {
        instance: ctx.instance,
        table: &t.name,
        key: &key,
    };
    let cur = current(tx, &t, r, ctx.now_ms)?;
    check_condition(&w.condition, &cur, &pk)?;
    let read_cu =
        i32::from(w.condition.existence != Existence::Ignore || w.condition.filter.is_some());

    let mut changes: Vec<ColumnChange> = Vec::new();
    let mut touched: Vec<&str> = Vec::new();
    let action = match &w.kind {
        WriteKind::Delete => {
            store::delete_row(tx, r)?;
            RowAction::DeleteRow
        }
        WriteKind::Put(_) => {
            store::delete_row(tx, r)?;
            store::put_row(tx, r, &pk_buffer(&pk))?;
            RowAction::PutRow
        }
        WriteKind::Update(_) => {
            let only_deletes = ops
                .iter()
                .all(|o| matches!(o, ColumnOp::DeleteOne { .. } | ColumnOp::DeleteAll { .. }));
            if !(cur.exists || only_deletes) {
                store::put_row(tx, r, &pk_buffer(&pk))?;
            }
            RowAction::UpdateRow
        }
    };
    let row_present = !(matches!(w.kind, WriteKind::Delete)
        || (matches!(w.kind, WriteKind::Update(_)) && store::row_pk(tx, r)?.is_none()));
    if row_present {
        for op in ops {
            match op {
                ColumnOp::Put {
                    name,
                    value,
                    timestamp,
                } => {
                    let ts = timestamp.unwrap_or(ctx.now_ms);
                    store::put_cell(tx, r, name, ts, value)?;
                    touched.push(name);
                    changes.push(ColumnChange {
                        kind: ColumnChangeKind::Put,
                        name: name.clone(),
                        value: Some(value.clone()),
                        timestamp: Some(ts),
                    });
                }
                ColumnOp::DeleteOne { name, timestamp } => {
                    store::delete_cells(tx, r, name, Some(*timestamp))?;
                    changes.push(ColumnChange {
                        kind: ColumnChangeKind::DeleteOneVersion,
                        name: name.clone(),
                        value: None,
                        timestamp: Some(*timestamp),
                    });
                }
                ColumnOp::DeleteAll { name } => {
                    store::delete_cells(tx, r, name, None)?;
                    changes.push(ColumnChange {
                        kind: ColumnChangeKind::DeleteAllVersions,
                        name: name.clone(),
                        value: None,
                        timestamp: None,
                    });
                }
                ColumnOp::Increment { name, by } => {
                    let now_cells = visible(&t, store::row_cells(tx, r)?, ctx.now_ms);
                    let old = match now_cells.iter().find(|c| &c.name == name) {
                        None => 0,
                        Some(Cell {
                            value: Value::Integer(i),
                            ..
                        }) => *i,
                        Some(_) => {
                            return Err(OtsError::invalid(format!(
                                "The column '{name}' to increment is not an INTEGER."
                            )));
                        }
                    };
                    let value = Value::Integer(old.wrapping_add(*by));
                    store::put_cell(tx, r, name, ctx.now_ms, &value)?;
                    touched.push(name);
                    changes.push(ColumnChange {
                        kind: ColumnChangeKind::Put,
                        name: name.clone(),
                        value: Some(value),
                        timestamp: Some(ctx.now_ms),
                    });
                }
            }
        }
        for name in touched {
            store::trim_versions(tx, r, name, t.options.max_versions)?;
        }
        if matches!(w.kind, WriteKind::Update(_)) && store::row_cells(tx, r)?.is_empty() {
            store::delete_row(tx, r)?;
        }
    }

    let size = row_size(&pk, &[])
        + changes
            .iter()
            .map(|c| c.name.len() + c.value.as_ref().map_or(0, Value::size))
            .sum::<usize>();
    let result = WriteResult {
        primary_key: pk.clone(),
        read_cu,
        write_cu: capacity_units(size),
    };
    let change = match &t.stream {
        Some(s) if row_present || cur.exists => {
            let record = StreamRecord {
                action,
                primary_key: pk,
                columns: changes,
                sequence: SequenceInfo {
                    epoch: 0,
                    timestamp_us: ctx.now_us,
                    row_index: store::records_at(tx, &s.stream_id, ctx.now_us)?,
                },
            };
            streams::persist(tx, ctx.instance, &t.name, s, &record)?;
            Some(RowChange {
                instance: ctx.instance.to_owned(),
                table: t.name.clone(),
                record,
            })
        }
        _ => None,
    };
    Ok((result, change))
}

fn read_row(
    tx: &Connection,
    instance: &str,
    table: &str,
    pk: &[(String, PbValue)],
    spec: &ReadSpec,
    now_ms: i64,
) -> Result<(Option<Row>, i32), OtsError> {
    let t = store::table(tx, instance, table)?.ok_or(OtsError::TableNotExist)?;
    check_pk(&t, pk, PkUse::Exact)?;
    let pk = concrete(pk);
    let key = key_of(&pk);
    let r = RowRef {
        instance,
        table,
        key: &key,
    };
    let cur = current(tx, &t, r, now_ms)?;
    if !cur.exists {
        return Ok((None, 1));
    }
    let row = project(&t, pk, cur.cells, spec);
    let cu = row
        .as_ref()
        .map_or(1, |r| capacity_units(row_size(&r.primary_key, &r.cells)));
    Ok((row, cu))
}

impl Ots {
    fn now_ms(&self) -> i64 {
        self.config().clock.now_millis()
    }

    /// Reads one row; `None` when it does not exist or the read leaves nothing of it.
    pub async fn get_row(
        &self,
        instance: &str,
        table: &str,
        pk: Vec<(String, PbValue)>,
        spec: ReadSpec,
    ) -> Result<(Option<Row>, i32), OtsError> {
        let (instance, table) = (instance.to_owned(), table.to_owned());
        let now_ms = self.now_ms();
        self.store()
            .call(move |tx| read_row(tx, &instance, &table, &pk, &spec, now_ms))
            .await
    }

    /// Reads rows of several tables; each row succeeds or fails on its own.
    #[allow(clippy::type_complexity)]
    pub async fn batch_get_row(
        &self,
        instance: &str,
        tables: Vec<(String, Vec<Vec<(String, PbValue)>>, ReadSpec)>,
    ) -> Result<Vec<(String, Vec<Result<(Option<Row>, i32), OtsError>>)>, OtsError> {
        let instance = instance.to_owned();
        let now_ms = self.now_ms();
        self.store()
            .call(move |tx| {
                Ok(tables
                    .into_iter()
                    .map(|(table, pks, spec)| {
                        let rows = pks
                            .iter()
                            .map(|pk| read_row(tx, &instance, &table, pk, &spec, now_ms))
                            .collect();
                        (table, rows)
                    })
                    .collect())
            })
            .await
    }

    /// Applies writes in one transaction, each under its own savepoint, so each succeeds or
    /// fails on its own; stream changes are published once the transaction is durable.
    pub async fn write_rows(
        &self,
        instance: &str,
        writes: Vec<RowWrite>,
    ) -> Result<Vec<Result<WriteResult, OtsError>>, OtsError> {
        let instance = instance.to_owned();
        let (now_ms, now_us) = (self.now_ms(), self.now_us());
        let feed = self.changes();
        let (results, _) = self
            .store()
            .call_then(
                move |tx| {
                    let ctx = WriteCtx {
                        instance: &instance,
                        now_ms,
                        now_us,
                    };
                    let mut results = Vec::with_capacity(writes.len());
                    let mut changes = Vec::new();
                    for w in &writes {
                        tx.execute_batch("SAVEPOINT row_write")?;
                        match apply_write(tx, &ctx, w) {
                            Ok((res, change)) => {
                                tx.execute_batch("RELEASE row_write")?;
                                changes.extend(change);
                                results.push(Ok(res));
                            }
                            Err(OtsError::Internal(e)) => return Err(OtsError::Internal(e)),
                            Err(e) => {
                                tx.execute_batch("ROLLBACK TO row_write; RELEASE row_write")?;
                                results.push(Err(e));
                            }
                        }
                    }
                    Ok((results, changes))
                },
                move |(_, changes)| {
                    for c in changes.drain(..) {
                        feed.publish(c);
                    }
                },
            )
            .await?;
        Ok(results)
    }

    /// One write; its error is the request's error.
    pub async fn write_row(&self, instance: &str, w: RowWrite) -> Result<WriteResult, OtsError> {
        self.write_rows(instance, vec![w])
            .await?
            .pop()
            .unwrap_or_else(|| Err(OtsError::Internal("no write result".into())))
    }

    /// One page of a range read.
    pub async fn get_range(
        &self,
        instance: &str,
        req: RangeRequest,
    ) -> Result<RangePage, OtsError> {
        let instance = instance.to_owned();
        let now_ms = self.now_ms();
        self.store()
            .call(move |tx| {
                let t = store::table(tx, &instance, &req.table)?.ok_or(OtsError::TableNotExist)?;
                check_pk(&t, &req.start, PkUse::Bound)?;
                check_pk(&t, &req.end, PkUse::Bound)?;
                let limit = match req.limit {
                    Some(l) if l <= 0 => {
                        return Err(OtsError::invalid("The limit must be greater than 0."));
                    }
                    Some(l) => usize::try_from(l)
                        .unwrap_or(MAX_RANGE_ROWS)
                        .min(MAX_RANGE_ROWS),
                    None => MAX_RANGE_ROWS,
                };
                let (start, end) = (bound_key(&req.start), bound_key(&req.end));
                if req.forward && start >= end {
                    return Err(OtsError::invalid(
                        "Begin key must less than end key in FORWARD",
                    ));
                }
                if !req.forward && start <= end {
                    return Err(OtsError::invalid(
                        "Begin key must more than end key in BACKWARD",
                    ));
                }
                let mut page = RangePage::default();
                let mut bytes = 0usize;
                let mut scanned = 0usize;
                let mut after: Option<Vec<u8>> = None;
                // Scan in chunks: rows the projection or filter drops do not count to `limit`.
                let chunk = limit.saturating_add(1).clamp(16, MAX_RANGE_ROWS + 1);
                'scan: loop {
                    let batch = store::scan(
                        tx,
                        &instance,
                        &t.name,
                        &start,
                        &end,
                        req.forward,
                        after.as_deref(),
                        chunk,
                    )?;
                    let exhausted = batch.len() < chunk;
                    for (key, pk) in batch {
                        if page.rows.len() >= limit
                            || scanned >= MAX_RANGE_ROWS
                            || bytes > MAX_RANGE_BYTES
                        {
                            page.next_start = Some(decode_pk(&pk)?);
                            break 'scan;
                        }
                        scanned += 1;
                        let r = RowRef {
                            instance: &instance,
                            table: &t.name,
                            key: &key,
                        };
                        let cur = current(tx, &t, r, now_ms)?;
                        if cur.exists
                            && let Some(row) = project(&t, decode_pk(&pk)?, cur.cells, &req.read)
                        {
                            bytes += row_size(&row.primary_key, &row.cells);
                            page.rows.push(row);
                        }
                        after = Some(key);
                    }
                    if exhausted {
                        break;
                    }
                }
                page.read_cu = capacity_units(bytes);
                Ok(page)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PkColumnSchema, PkType, TableOptions};

    fn table(max_versions: i32, ttl: i32) -> TableInfo {
        TableInfo {
            name: "t".into(),
            primary_key: vec![PkColumnSchema {
                name: "id".into(),
                ty: PkType::String,
                auto_increment: false,
            }],
            defined_columns: vec![],
            reserved_read: 0,
            reserved_write: 0,
            options: TableOptions {
                max_versions,
                time_to_live: ttl,
                ..TableOptions::default()
            },
            stream: None,
            created_s: 0,
            throughput_changed_s: 0,
        }
    }

    fn stored() -> Vec<(String, i64, Value)> {
        vec![
            ("a".into(), 9_000, Value::Integer(3)),
            ("a".into(), 8_000, Value::Integer(2)),
            ("a".into(), 1_000, Value::Integer(1)),
            ("b".into(), 2_000, Value::Integer(7)),
        ]
    }

    #[test]
    fn versions_and_ttl_decide_what_is_visible() {
        let ts = |cells: Vec<Cell>| {
            cells
                .iter()
                .map(|c| (c.name.clone(), c.timestamp))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ts(visible(&table(2, -1), stored(), 10_000)),
            vec![
                ("a".into(), 9_000),
                ("a".into(), 8_000),
                ("b".into(), 2_000)
            ]
        );
        // TTL 5 s at 10 s: only versions from 5 s on live.
        assert_eq!(
            ts(visible(&table(5, 5), stored(), 10_000)),
            vec![("a".into(), 9_000), ("a".into(), 8_000)]
        );
    }

    #[test]
    fn projection_applies_columns_versions_and_time_range() {
        let t = table(3, -1);
        let pk = vec![("id".to_string(), Value::String("k".into()))];
        let cells = visible(&t, stored(), 10_000);
        let spec = ReadSpec {
            max_versions: Some(1),
            ..ReadSpec::default()
        };
        let row = project(&t, pk.clone(), cells.clone(), &spec).unwrap();
        assert_eq!(row.cells.len(), 2);
        let spec = ReadSpec {
            time_range: Some((1_500, 8_500)),
            ..ReadSpec::default()
        };
        let row = project(&t, pk.clone(), cells.clone(), &spec).unwrap();
        let got: Vec<i64> = row.cells.iter().map(|c| c.timestamp).collect();
        assert_eq!(got, vec![8_000, 2_000]);
        let spec = ReadSpec {
            columns: vec!["zzz".into()],
            ..ReadSpec::default()
        };
        assert!(project(&t, pk.clone(), cells.clone(), &spec).is_none());
        let spec = ReadSpec {
            columns: vec!["id".into()],
            ..ReadSpec::default()
        };
        assert_eq!(project(&t, pk, cells, &spec).unwrap().cells, vec![]);
    }
}
