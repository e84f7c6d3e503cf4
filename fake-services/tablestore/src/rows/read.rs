//! Reads: GetRow, BatchGetRow and GetRange pages.

use rusqlite::Connection;

use super::pk::{PkUse, bound_key, check_pk, concrete, decode_pk, key_of};
use super::visibility::{current, project};
use super::{
    MAX_RANGE_BYTES, MAX_RANGE_ROWS, RangePage, RangeRequest, ReadSpec, capacity_units, row_size,
};
use crate::model::Row;
use crate::plainbuffer::PbValue;
use crate::store::{self, RowRef};
use crate::{Ots, OtsError};

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

    /// Every row of a table in key order, newest version of each column (for snapshots and
    /// tests; pages through GetRange).
    pub async fn all_rows(&self, instance: &str, table: &str) -> Result<Vec<Row>, OtsError> {
        let t = self.describe_table(instance, table).await?;
        let bound = |v: PbValue| -> Vec<(String, PbValue)> {
            t.primary_key
                .iter()
                .map(|c| (c.name.clone(), v.clone()))
                .collect()
        };
        let mut start = bound(PbValue::InfMin);
        let mut rows = Vec::new();
        loop {
            let page = self
                .get_range(
                    instance,
                    RangeRequest {
                        table: table.to_owned(),
                        start,
                        end: bound(PbValue::InfMax),
                        forward: true,
                        limit: None,
                        read: ReadSpec::default(),
                    },
                )
                .await?;
            rows.extend(page.rows);
            match page.next_start {
                Some(next) => {
                    start = next
                        .into_iter()
                        .map(|(n, v)| (n, PbValue::Plain(v)))
                        .collect()
                }
                None => return Ok(rows),
            }
        }
    }

    /// Forgets every table of every instance (the emulator's reset).
    pub async fn reset(&self) -> Result<(), OtsError> {
        self.store().call(|tx| store::wipe(tx)).await
    }
}
