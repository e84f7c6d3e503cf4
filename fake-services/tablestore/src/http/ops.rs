//! One function per action: decode the request message, call the domain, encode the response.

use prost::Message;

use super::convert::{self, decode, required};
use super::error::to_proto;
use super::proto;
use crate::model::{PkColumnSchema, PkType, TableInfo, TableOptions};
use crate::plainbuffer::Writer;
use crate::rows::{RangeRequest, RowWrite, WriteKind, WriteResult, pk_buffer};
use crate::streams::SHARD_ID;
use crate::tables::{CreateTable, UpdateTable};
use crate::{Ots, OtsError};

/// Rows allowed in one BatchGetRow.
pub const MAX_BATCH_GET: usize = 100;
/// Rows allowed in one BatchWriteRow.
pub const MAX_BATCH_WRITE: usize = 200;

/// Runs `action` for `instance` with the request `body`; returns the response body.
pub async fn dispatch(
    ots: &Ots,
    action: &str,
    instance: &str,
    body: &[u8],
) -> Result<Vec<u8>, OtsError> {
    match action {
        "CreateTable" => create_table(ots, instance, decode(body)?).await,
        "ListTable" => {
            let names = ots.list_tables(instance).await?;
            Ok(proto::ListTableResponse { table_names: names }.encode_to_vec())
        }
        "DescribeTable" => {
            let req: proto::TableNameRequest = decode(body)?;
            let t = ots
                .describe_table(instance, &required(req.table_name, "table_name")?)
                .await?;
            Ok(describe(&t).encode_to_vec())
        }
        "UpdateTable" => update_table(ots, instance, decode(body)?).await,
        "DeleteTable" => {
            let req: proto::TableNameRequest = decode(body)?;
            ots.delete_table(instance, &required(req.table_name, "table_name")?)
                .await?;
            Ok(Vec::new())
        }
        "GetRow" => get_row(ots, instance, decode(body)?).await,
        "PutRow" => write_row(ots, instance, decode(body)?, 1).await,
        "UpdateRow" => write_row(ots, instance, decode(body)?, 2).await,
        "DeleteRow" => write_row(ots, instance, decode(body)?, 3).await,
        "BatchGetRow" => batch_get_row(ots, instance, decode(body)?).await,
        "BatchWriteRow" => batch_write_row(ots, instance, decode(body)?).await,
        "GetRange" => get_range(ots, instance, decode(body)?).await,
        "ListStream" => {
            let req: proto::TableNameRequest = decode(body)?;
            let streams = ots.list_streams(instance, req.table_name).await?;
            Ok(proto::ListStreamResponse {
                streams: streams
                    .into_iter()
                    .map(|s| proto::Stream {
                        stream_id: s.stream_id,
                        table_name: s.table,
                        creation_time: s.creation_time_us,
                    })
                    .collect(),
            }
            .encode_to_vec())
        }
        "DescribeStream" => {
            let req: proto::DescribeStreamRequest = decode(body)?;
            let s = ots
                .describe_stream(&required(req.stream_id, "stream_id")?)
                .await?;
            Ok(proto::DescribeStreamResponse {
                stream_id: s.stream_id,
                expiration_time: s.expiration_hours,
                table_name: s.table,
                creation_time: s.creation_time_us,
                stream_status: 2,
                shards: vec![proto::StreamShard {
                    shard_id: SHARD_ID.into(),
                }],
            }
            .encode_to_vec())
        }
        "GetShardIterator" => {
            let req: proto::GetShardIteratorRequest = decode(body)?;
            let it = ots
                .shard_iterator(
                    &required(req.stream_id, "stream_id")?,
                    &required(req.shard_id, "shard_id")?,
                )
                .await?;
            Ok(proto::GetShardIteratorResponse { shard_iterator: it }.encode_to_vec())
        }
        "GetStreamRecord" => {
            let req: proto::GetStreamRecordRequest = decode(body)?;
            let limit = match req.limit {
                Some(l) if l <= 0 => {
                    return Err(OtsError::invalid("The limit must be greater than 0."));
                }
                Some(l) => usize::try_from(l).unwrap_or(1000).min(1000),
                None => 1000,
            };
            let batch = ots
                .stream_records(&required(req.shard_iterator, "shard_iterator")?, limit)
                .await?;
            Ok(proto::GetStreamRecordResponse {
                stream_records: batch
                    .records
                    .into_iter()
                    .map(|(action_type, record)| proto::StreamRecord {
                        action_type,
                        record,
                    })
                    .collect(),
                next_shard_iterator: Some(batch.next_iterator),
                consumed: Some(proto::consumed(1, 0)),
                may_more_record: Some(batch.more),
            }
            .encode_to_vec())
        }
        other => Err(OtsError::UnsupportedOperation(other.to_owned())),
    }
}

fn options_from(o: Option<proto::TableOptions>) -> TableOptions {
    let d = TableOptions::default();
    let Some(o) = o else { return d };
    TableOptions {
        time_to_live: o.time_to_live.unwrap_or(d.time_to_live),
        max_versions: o.max_versions.unwrap_or(d.max_versions),
        deviation_cell_version_in_sec: o
            .deviation_cell_version_in_sec
            .unwrap_or(d.deviation_cell_version_in_sec),
        allow_update: o.allow_update.unwrap_or(d.allow_update),
    }
}

fn options_to(o: &TableOptions) -> proto::TableOptions {
    proto::TableOptions {
        time_to_live: Some(o.time_to_live),
        max_versions: Some(o.max_versions),
        deviation_cell_version_in_sec: Some(o.deviation_cell_version_in_sec),
        allow_update: Some(o.allow_update),
    }
}

fn throughput_details(t: &TableInfo) -> proto::ReservedThroughputDetails {
    proto::ReservedThroughputDetails {
        capacity_unit: proto::CapacityUnit {
            read: Some(t.reserved_read),
            write: Some(t.reserved_write),
        },
        last_increase_time: t.throughput_changed_s,
        last_decrease_time: None,
    }
}

fn stream_details(t: &TableInfo) -> proto::StreamDetails {
    match &t.stream {
        Some(s) => proto::StreamDetails {
            enable_stream: true,
            stream_id: Some(s.stream_id.clone()),
            expiration_time: Some(s.expiration_hours),
            last_enable_time: Some(s.enabled_at_us),
        },
        None => proto::StreamDetails {
            enable_stream: false,
            ..Default::default()
        },
    }
}

fn describe(t: &TableInfo) -> proto::DescribeTableResponse {
    proto::DescribeTableResponse {
        table_meta: proto::TableMeta {
            table_name: t.name.clone(),
            primary_key: t
                .primary_key
                .iter()
                .map(|c| proto::PrimaryKeySchema {
                    name: c.name.clone(),
                    r#type: match c.ty {
                        PkType::Integer => 1,
                        PkType::String => 2,
                        PkType::Binary => 3,
                    },
                    option: c.auto_increment.then_some(1),
                })
                .collect(),
            defined_column: t
                .defined_columns
                .iter()
                .map(|(n, ty)| proto::DefinedColumnSchema {
                    name: n.clone(),
                    r#type: *ty,
                })
                .collect(),
        },
        reserved_throughput_details: throughput_details(t),
        table_options: options_to(&t.options),
        table_status: 1,
        stream_details: Some(stream_details(t)),
    }
}

async fn create_table(
    ots: &Ots,
    instance: &str,
    req: proto::CreateTableRequest,
) -> Result<Vec<u8>, OtsError> {
    if let Some(index) = req.index_metas.first() {
        // Refused rather than dropped: a table created without its index would answer
        // queries on the index table with OTSObjectNotExist much later, far from the cause.
        return Err(OtsError::UnsupportedOperation(format!(
            "CreateTable with secondary index {} (fcemu does not emulate secondary indexes; create the table without them)",
            index.name
        )));
    }
    let meta = req
        .table_meta
        .ok_or_else(|| OtsError::invalid("Missing required field: table_meta."))?;
    let primary_key = meta
        .primary_key
        .into_iter()
        .map(|c| {
            let ty = match c.r#type {
                1 => PkType::Integer,
                2 => PkType::String,
                3 => PkType::Binary,
                5 => {
                    return Err(OtsError::invalid(
                        "BOOLEAN is an invalid type for the primary key.",
                    ));
                }
                n => {
                    return Err(OtsError::invalid(format!(
                        "{n} is an invalid type for the primary key."
                    )));
                }
            };
            Ok(PkColumnSchema {
                name: c.name,
                ty,
                auto_increment: c.option == Some(1),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let cu = req
        .reserved_throughput
        .and_then(|r| r.capacity_unit)
        .unwrap_or_default();
    ots.create_table(
        instance,
        CreateTable {
            name: meta.table_name,
            primary_key,
            defined_columns: meta
                .defined_column
                .into_iter()
                .map(|d| (d.name, d.r#type))
                .collect(),
            reserved_read: cu.read.unwrap_or(0),
            reserved_write: cu.write.unwrap_or(0),
            options: options_from(req.table_options),
            stream: req
                .stream_spec
                .map(|s| (s.enable_stream, s.expiration_time.unwrap_or(0))),
        },
    )
    .await?;
    Ok(Vec::new())
}

async fn update_table(
    ots: &Ots,
    instance: &str,
    req: proto::UpdateTableRequest,
) -> Result<Vec<u8>, OtsError> {
    let cu = req.reserved_throughput.and_then(|r| r.capacity_unit);
    let o = req.table_options.unwrap_or_default();
    let t = ots
        .update_table(
            instance,
            UpdateTable {
                name: required(req.table_name, "table_name")?,
                reserved_read: cu.as_ref().and_then(|c| c.read),
                reserved_write: cu.as_ref().and_then(|c| c.write),
                time_to_live: o.time_to_live,
                max_versions: o.max_versions,
                deviation_cell_version_in_sec: o.deviation_cell_version_in_sec,
                allow_update: o.allow_update,
                stream: req
                    .stream_spec
                    .map(|s| (s.enable_stream, s.expiration_time)),
            },
        )
        .await?;
    Ok(proto::UpdateTableResponse {
        reserved_throughput_details: throughput_details(&t),
        table_options: options_to(&t.options),
        stream_details: Some(stream_details(&t)),
    }
    .encode_to_vec())
}

async fn get_row(
    ots: &Ots,
    instance: &str,
    req: proto::GetRowRequest,
) -> Result<Vec<u8>, OtsError> {
    let table = required(req.table_name, "table_name")?;
    let pk = convert::primary_key(req.primary_key.as_deref())?;
    let spec = convert::read_spec(
        req.columns_to_get,
        req.time_range,
        req.max_versions,
        req.filter,
        req.start_column,
        req.end_column,
    )?;
    let (row, cu) = ots.get_row(instance, &table, pk, spec).await?;
    Ok(proto::GetRowResponse {
        consumed: proto::consumed(cu, 0),
        row: row
            .map(|r| crate::plainbuffer::write::one_row(&convert::pb_row(&r)))
            .unwrap_or_default(),
    }
    .encode_to_vec())
}

fn row_write(
    table: String,
    kind: i32,
    bytes: Option<&[u8]>,
    condition: Option<proto::Condition>,
) -> Result<RowWrite, OtsError> {
    let (primary_key, kind) = match kind {
        1 => {
            let (pk, ops) = convert::row_change(bytes, false)?;
            (pk, WriteKind::Put(ops))
        }
        2 => {
            let (pk, ops) = convert::row_change(bytes, true)?;
            (pk, WriteKind::Update(ops))
        }
        3 => (convert::primary_key(bytes)?, WriteKind::Delete),
        n => return Err(OtsError::invalid(format!("Invalid operation type {n}."))),
    };
    Ok(RowWrite {
        table,
        primary_key,
        kind,
        condition: convert::condition(condition)?,
    })
}

fn returned_row(res: &WriteResult, return_pk: bool) -> Option<Vec<u8>> {
    return_pk.then(|| pk_buffer(&res.primary_key))
}

async fn write_row(
    ots: &Ots,
    instance: &str,
    req: proto::WriteRowRequest,
    kind: i32,
) -> Result<Vec<u8>, OtsError> {
    let return_pk = convert::returns_pk(&req.return_content);
    let w = row_write(
        required(req.table_name, "table_name")?,
        kind,
        req.row.as_deref(),
        req.condition,
    )?;
    let res = ots.write_row(instance, w).await?;
    Ok(proto::WriteRowResponse {
        consumed: proto::consumed(res.read_cu, res.write_cu),
        row: returned_row(&res, return_pk),
    }
    .encode_to_vec())
}

async fn batch_get_row(
    ots: &Ots,
    instance: &str,
    req: proto::BatchGetRowRequest,
) -> Result<Vec<u8>, OtsError> {
    let total: usize = req.tables.iter().map(|t| t.primary_key.len()).sum();
    // A table item without rows is answered with an empty result for it, as the service does;
    // only a request naming no table at all is refused.
    if req.tables.is_empty() {
        return Err(OtsError::invalid(
            "No row specified in the request of BatchGetRow.",
        ));
    }
    if total > MAX_BATCH_GET {
        return Err(OtsError::invalid(format!(
            "Rows count exceeds the upper limit: {MAX_BATCH_GET}."
        )));
    }
    let mut tables = Vec::with_capacity(req.tables.len());
    for t in req.tables {
        let name = required(t.table_name, "table_name")?;
        let pks = t
            .primary_key
            .iter()
            .map(|b| convert::primary_key(Some(b)))
            .collect::<Result<Vec<_>, _>>()?;
        let spec = convert::read_spec(
            t.columns_to_get,
            t.time_range,
            t.max_versions,
            t.filter,
            t.start_column,
            t.end_column,
        )?;
        tables.push((name, pks, spec));
    }
    let results = ots.batch_get_row(instance, tables).await?;
    Ok(proto::BatchGetRowResponse {
        tables: results
            .into_iter()
            .map(|(table_name, rows)| proto::TableInBatchGetRowResponse {
                table_name,
                rows: rows
                    .into_iter()
                    .map(|r| match r {
                        Ok((row, cu)) => proto::RowInBatchResponse {
                            is_ok: true,
                            error: None,
                            consumed: Some(proto::consumed(cu, 0)),
                            row: Some(
                                row.map(|r| {
                                    crate::plainbuffer::write::one_row(&convert::pb_row(&r))
                                })
                                .unwrap_or_default(),
                            ),
                        },
                        Err(e) => failed_row(&e),
                    })
                    .collect(),
            })
            .collect(),
    }
    .encode_to_vec())
}

fn failed_row(e: &OtsError) -> proto::RowInBatchResponse {
    proto::RowInBatchResponse {
        is_ok: false,
        error: Some(to_proto(e)),
        consumed: None,
        row: None,
    }
}

async fn batch_write_row(
    ots: &Ots,
    instance: &str,
    req: proto::BatchWriteRowRequest,
) -> Result<Vec<u8>, OtsError> {
    if req.tables.is_empty() {
        return Err(OtsError::invalid("No row is specified in BatchWriteRow."));
    }
    let total: usize = req.tables.iter().map(|t| t.rows.len()).sum();
    if total > MAX_BATCH_WRITE {
        return Err(OtsError::invalid(format!(
            "Rows count exceeds the upper limit: {MAX_BATCH_WRITE}."
        )));
    }
    let mut shape = Vec::with_capacity(req.tables.len());
    let mut writes = Vec::with_capacity(total);
    let mut return_pks = Vec::with_capacity(total);
    for t in req.tables {
        let name = required(t.table_name, "table_name")?;
        if t.rows.is_empty() {
            return Err(OtsError::invalid(format!(
                "No operation is specified for table: '{name}'."
            )));
        }
        shape.push((name.clone(), t.rows.len()));
        for r in t.rows {
            return_pks.push(convert::returns_pk(&r.return_content));
            writes.push(row_write(
                name.clone(),
                r.r#type.unwrap_or(0),
                r.row_change.as_deref(),
                r.condition,
            )?);
        }
    }
    let mut results = ots
        .write_rows(instance, writes)
        .await?
        .into_iter()
        .zip(return_pks);
    let tables = shape
        .into_iter()
        .map(|(table_name, n)| proto::TableInBatchWriteRowResponse {
            table_name,
            rows: results
                .by_ref()
                .take(n)
                .map(|(r, return_pk)| match r {
                    Ok(res) => proto::RowInBatchResponse {
                        is_ok: true,
                        error: None,
                        consumed: Some(proto::consumed(res.read_cu, res.write_cu)),
                        row: returned_row(&res, return_pk),
                    },
                    Err(e) => failed_row(&e),
                })
                .collect(),
        })
        .collect();
    Ok(proto::BatchWriteRowResponse { tables }.encode_to_vec())
}

async fn get_range(
    ots: &Ots,
    instance: &str,
    req: proto::GetRangeRequest,
) -> Result<Vec<u8>, OtsError> {
    let table = required(req.table_name, "table_name")?;
    let forward = match req.direction.unwrap_or(0) {
        0 => true,
        1 => false,
        n => return Err(OtsError::invalid(format!("Invalid direction {n}."))),
    };
    let page = ots
        .get_range(
            instance,
            RangeRequest {
                table,
                start: convert::primary_key(req.inclusive_start_primary_key.as_deref())?,
                end: convert::primary_key(req.exclusive_end_primary_key.as_deref())?,
                forward,
                limit: req.limit,
                read: convert::read_spec(
                    req.columns_to_get,
                    req.time_range,
                    req.max_versions,
                    req.filter,
                    req.start_column,
                    req.end_column,
                )?,
            },
        )
        .await?;
    let rows = if page.rows.is_empty() {
        Vec::new()
    } else {
        let mut w = Writer::new();
        for r in &page.rows {
            w.row(&convert::pb_row(r));
        }
        w.finish()
    };
    Ok(proto::GetRangeResponse {
        consumed: proto::consumed(page.read_cu, 0),
        rows,
        next_start_primary_key: page.next_start.as_deref().map(pk_buffer),
    }
    .encode_to_vec())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::OtsConfig;
    use crate::model::Value;
    use crate::plainbuffer::{PbCell, PbRow};

    const ACTIONS: &[&str] = &[
        "CreateTable",
        "ListTable",
        "DescribeTable",
        "UpdateTable",
        "DeleteTable",
        "GetRow",
        "PutRow",
        "UpdateRow",
        "DeleteRow",
        "BatchGetRow",
        "BatchWriteRow",
        "GetRange",
        "ListStream",
        "DescribeStream",
        "GetShardIterator",
        "GetStreamRecord",
    ];

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn ots_with_table(rt: &tokio::runtime::Runtime) -> Ots {
        let ots = Ots::open(OtsConfig::in_memory().unwrap()).unwrap();
        let body = proto::CreateTableRequest {
            table_meta: Some(proto::TableMeta {
                table_name: "t".into(),
                primary_key: vec![proto::PrimaryKeySchema {
                    name: "id".into(),
                    r#type: 2,
                    option: None,
                }],
                defined_column: vec![],
            }),
            reserved_throughput: None,
            table_options: None,
            index_metas: vec![],
            stream_spec: Some(proto::StreamSpecification {
                enable_stream: true,
                expiration_time: None,
                columns_to_get: vec![],
            }),
        }
        .encode_to_vec();
        rt.block_on(dispatch(&ots, "CreateTable", "i", &body))
            .unwrap();
        ots
    }

    fn valid_row() -> Vec<u8> {
        let mut w = Writer::new();
        w.row(&PbRow {
            primary_key: vec![PbCell::plain("id", Value::String("k".into()))],
            cells: vec![PbCell::plain("v", Value::Integer(1))],
            ..PbRow::default()
        });
        w.finish()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Random bytes as a request body of any action: an answer or an error, never a panic.
        #[test]
        fn any_body_gets_an_answer(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let rt = rt();
            let ots = ots_with_table(&rt);
            for action in ACTIONS {
                let _ = rt.block_on(dispatch(&ots, action, "i", &bytes));
            }
        }

        /// Well-formed messages around mutated PlainBuffer rows.
        #[test]
        fn mutated_rows_get_an_answer(flip in 0usize..60, bit in 0u8..8, cut in 0usize..60) {
            let rt = rt();
            let ots = ots_with_table(&rt);
            let mut row = valid_row();
            let i = flip % row.len();
            row[i] ^= 1 << bit;
            let cut = cut.min(row.len());
            for row in [row.clone(), row[..cut].to_vec()] {
                let write = proto::WriteRowRequest {
                    table_name: Some("t".into()),
                    row: Some(row.clone()),
                    condition: Some(proto::Condition { row_existence: 0, column_condition: Some(row.clone()) }),
                    return_content: None,
                    transaction_id: None,
                }
                .encode_to_vec();
                for action in ["PutRow", "UpdateRow", "DeleteRow"] {
                    let _ = rt.block_on(dispatch(&ots, action, "i", &write));
                }
                let get = proto::GetRangeRequest {
                    table_name: Some("t".into()),
                    inclusive_start_primary_key: Some(row.clone()),
                    exclusive_end_primary_key: Some(valid_row()),
                    filter: Some(row.clone()),
                    ..Default::default()
                }
                .encode_to_vec();
                let _ = rt.block_on(dispatch(&ots, "GetRange", "i", &get));
            }
        }
    }
}
