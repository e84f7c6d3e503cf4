//! Writes: conditions, auto-increment keys, column operations, version trimming and the
//! stream record of each change.

use rusqlite::Connection;

use super::pk::{PkUse, check_pk, key_of, pk_buffer};
use super::visibility::{Current, current, visible};
use super::{
    ColumnOp, Condition, Existence, MAX_COLUMNS_PER_WRITE, RowWrite, WriteKind, WriteResult,
    capacity_units, row_size,
};
use crate::model::{
    Cell, ColumnChange, ColumnChangeKind, RowAction, RowChange, SequenceInfo, StreamRecord,
    TableInfo, Value,
};
use crate::plainbuffer::PbValue;
use crate::store::{self, RowRef};
use crate::{Ots, OtsError, streams};

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
    // A missing row has no visible cells: its columns are all missing to the condition.
    if let Some(f) = &cond.filter
        && !f.passes(pk, &cur.cells)
    {
        return Err(OtsError::ConditionCheckFail);
    }
    Ok(())
}

/// Request-wide facts a write needs.
struct WriteCtx<'a> {
    cause: &'a fcemu_core::Cause,
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
                    let (old, ts) = match now_cells.iter().find(|c| &c.name == name) {
                        None => (0, ctx.now_ms),
                        // The result must be the newest version, even if the latest one
                        // carries a timestamp ahead of the clock.
                        Some(Cell {
                            value: Value::Integer(i),
                            timestamp,
                            ..
                        }) => (*i, ctx.now_ms.max(*timestamp)),
                        Some(_) => {
                            return Err(OtsError::invalid(format!(
                                "The column '{name}' to increment is not an INTEGER."
                            )));
                        }
                    };
                    let value = Value::Integer(old.wrapping_add(*by));
                    store::put_cell(tx, r, name, ts, &value)?;
                    touched.push(name);
                    changes.push(ColumnChange {
                        kind: ColumnChangeKind::Put,
                        name: name.clone(),
                        value: Some(value),
                        timestamp: Some(ts),
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
    if !(row_present || cur.exists) {
        return Ok((result, None));
    }
    let mut record = StreamRecord {
        action,
        primary_key: pk,
        columns: changes,
        sequence: SequenceInfo {
            epoch: 0,
            timestamp_us: ctx.now_us,
            row_index: 0,
        },
    };
    if let Some(s) = &t.stream {
        record.sequence.row_index = store::records_at(tx, &s.stream_id, ctx.now_us)?;
        streams::persist(tx, ctx.instance, &t.name, s, &record)?;
    }
    let change = Some(RowChange {
        instance: ctx.instance.to_owned(),
        table: t.name.clone(),
        record,
        streamed: t.stream.is_some(),
        cause: ctx.cause.clone(),
    });
    Ok((result, change))
}

impl Ots {
    /// Applies writes in one transaction, each under its own savepoint, so each succeeds or
    /// fails on its own; stream changes are published once the transaction is durable.
    pub async fn write_rows(
        &self,
        instance: &str,
        writes: Vec<RowWrite>,
    ) -> Result<Vec<Result<WriteResult, OtsError>>, OtsError> {
        let instance = instance.to_owned();
        let ots = self.clone();
        let feed = self.changes();
        let cause = super::CAUSE.try_with(Clone::clone).unwrap_or_default();
        let (results, _) = self
            .store()
            .call_then(
                move |tx| {
                    // Read the clock under the lock, so versions and stream records follow the
                    // commit order (an increment never lands below a version written after
                    // it started).
                    let ctx = WriteCtx {
                        cause: &cause,
                        instance: &instance,
                        now_ms: ots.now_ms(),
                        now_us: ots.now_us(),
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
}
