//! Change streams: records persisted with each write on a table with a stream, and the Stream
//! API over them (one open shard per stream; an iterator is the position after a record).

use rusqlite::Connection;

use crate::model::{ColumnChangeKind, RowAction, StreamInfo, StreamRecord, TableInfo};
use crate::plainbuffer::{
    OP_DELETE_ALL_VERSIONS, OP_DELETE_ONE_VERSION, PbCell, PbRow, PbSeqInfo, PbValue,
    write::one_row,
};
use crate::{Ots, OtsError, store};

/// The id of a stream's only shard.
pub const SHARD_ID: &str = "0000000000";

/// ActionType number of a record.
pub fn action_number(a: RowAction) -> i32 {
    match a {
        RowAction::PutRow => 1,
        RowAction::UpdateRow => 2,
        RowAction::DeleteRow => 3,
    }
}

/// The PlainBuffer form of a record (reference §4.5).
pub fn encode_record(r: &StreamRecord) -> Vec<u8> {
    let row = PbRow {
        primary_key: r
            .primary_key
            .iter()
            .map(|(n, v)| PbCell::plain(n.clone(), v.clone()))
            .collect(),
        cells: r
            .columns
            .iter()
            .map(|c| PbCell {
                name: c.name.clone(),
                value: c.value.clone().map(PbValue::Plain),
                op: match c.kind {
                    ColumnChangeKind::Put => None,
                    ColumnChangeKind::DeleteOneVersion => Some(OP_DELETE_ONE_VERSION),
                    ColumnChangeKind::DeleteAllVersions => Some(OP_DELETE_ALL_VERSIONS),
                },
                timestamp: c.timestamp,
            })
            .collect(),
        delete_marker: r.action == RowAction::DeleteRow,
        seq_info: Some(PbSeqInfo {
            epoch: r.sequence.epoch,
            timestamp: r.sequence.timestamp_us,
            row_index: r.sequence.row_index,
        }),
    };
    one_row(&row)
}

/// Stores a record and drops the stream's expired ones.
pub fn persist(
    tx: &Connection,
    instance: &str,
    table: &str,
    s: &StreamInfo,
    r: &StreamRecord,
) -> Result<(), OtsError> {
    store::append_record(
        tx,
        instance,
        table,
        &s.stream_id,
        r.sequence.timestamp_us,
        action_number(r.action),
        &encode_record(r),
    )?;
    let keep_us = i64::from(s.expiration_hours).saturating_mul(3_600_000_000);
    store::trim_records(
        tx,
        &s.stream_id,
        r.sequence.timestamp_us.saturating_sub(keep_us),
    )
}

/// A stream as ListStream reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamSummary {
    /// Stream id.
    pub stream_id: String,
    /// Table name.
    pub table: String,
    /// When it was enabled, microseconds.
    pub creation_time_us: i64,
    /// Retention in hours.
    pub expiration_hours: i32,
}

/// Records read from a shard.
#[derive(Clone, Debug, Default)]
pub struct RecordBatch {
    /// (ActionType number, PlainBuffer record).
    pub records: Vec<(i32, Vec<u8>)>,
    /// Iterator for the next call (the shard never closes).
    pub next_iterator: String,
    /// Whether more records are waiting.
    pub more: bool,
}

fn summary(t: &TableInfo) -> Option<StreamSummary> {
    t.stream.as_ref().map(|s| StreamSummary {
        stream_id: s.stream_id.clone(),
        table: t.name.clone(),
        creation_time_us: s.enabled_at_us,
        expiration_hours: s.expiration_hours,
    })
}

fn iterator(stream_id: &str, after: i64) -> String {
    format!("{stream_id}:{after}")
}

fn find_stream(tx: &Connection, stream_id: &str) -> Result<StreamSummary, OtsError> {
    store::all_tables(tx)?
        .iter()
        .filter_map(|(_, t)| summary(t))
        .find(|s| s.stream_id == stream_id)
        .ok_or(OtsError::StreamNotExist)
}

impl Ots {
    /// Streams of an instance's tables (of one table when `table` is given).
    pub async fn list_streams(
        &self,
        instance: &str,
        table: Option<String>,
    ) -> Result<Vec<StreamSummary>, OtsError> {
        let instance = instance.to_owned();
        self.store()
            .call(move |tx| {
                if let Some(name) = &table {
                    let t = store::table(tx, &instance, name)?.ok_or(OtsError::TableNotExist)?;
                    return Ok(summary(&t).into_iter().collect());
                }
                Ok(store::all_tables(tx)?
                    .iter()
                    .filter(|(i, _)| *i == instance)
                    .filter_map(|(_, t)| summary(t))
                    .collect())
            })
            .await
    }

    /// A stream's description.
    pub async fn describe_stream(&self, stream_id: &str) -> Result<StreamSummary, OtsError> {
        let stream_id = stream_id.to_owned();
        self.store()
            .call(move |tx| find_stream(tx, &stream_id))
            .await
    }

    /// An iterator at the oldest retained record of a shard.
    pub async fn shard_iterator(&self, stream_id: &str, shard: &str) -> Result<String, OtsError> {
        if shard != SHARD_ID {
            return Err(OtsError::invalid(format!(
                "Shard '{shard}' does not exist."
            )));
        }
        self.describe_stream(stream_id).await?;
        Ok(iterator(stream_id, 0))
    }

    /// Up to `limit` records from an iterator.
    pub async fn stream_records(&self, it: &str, limit: usize) -> Result<RecordBatch, OtsError> {
        let (stream_id, after) = it
            .rsplit_once(':')
            .and_then(|(s, n)| Some((s.to_owned(), n.parse::<i64>().ok()?)))
            .ok_or(OtsError::TrimmedDataAccess)?;
        self.store()
            .call(move |tx| {
                find_stream(tx, &stream_id).map_err(|_| OtsError::TrimmedDataAccess)?;
                let (recs, more) = store::read_records(tx, &stream_id, after, limit)?;
                let last = recs.last().map_or(after, |r| r.seq);
                Ok(RecordBatch {
                    records: recs.into_iter().map(|r| (r.action, r.record)).collect(),
                    next_iterator: iterator(&stream_id, last),
                    more,
                })
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ColumnChange, SequenceInfo, Value};

    #[test]
    fn update_record_matches_the_reference_checksums() {
        let r = StreamRecord {
            action: RowAction::UpdateRow,
            primary_key: vec![("id".into(), Value::String("row1".into()))],
            columns: vec![
                ColumnChange {
                    kind: ColumnChangeKind::Put,
                    name: "a".into(),
                    value: Some(Value::String("x".into())),
                    timestamp: Some(1_700_000_000_000),
                },
                ColumnChange {
                    kind: ColumnChangeKind::DeleteOneVersion,
                    name: "b".into(),
                    value: None,
                    timestamp: Some(1_700_000_000_001),
                },
                ColumnChange {
                    kind: ColumnChangeKind::DeleteAllVersions,
                    name: "c".into(),
                    value: None,
                    timestamp: None,
                },
            ],
            sequence: SequenceInfo {
                epoch: 1,
                timestamp_us: 1_700_000_000_000_123,
                row_index: 0,
            },
        };
        let bytes = encode_record(&r);
        let crcs: Vec<u8> = bytes
            .windows(2)
            .filter(|w| w[0] == 0x0a)
            .map(|w| w[1])
            .collect();
        // Cell checksums appear after TAG_CELL_CHECKSUM; the row checksum is last.
        for want in [0x1c, 0x86, 0x1f, 0xcd] {
            assert!(crcs.contains(&want), "{want:#x} in {crcs:x?}");
        }
        assert_eq!(bytes[bytes.len() - 2..], [0x09, 0x00]);
        let decoded = crate::plainbuffer::decode_rows(&bytes).unwrap();
        assert_eq!(decoded[0].cells.len(), 3);
        assert_eq!(
            decoded[0].seq_info.unwrap().timestamp,
            1_700_000_000_000_123
        );
    }
}
