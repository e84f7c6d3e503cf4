//! The OTS protobuf messages (proto2, API version `2015-12-31`), derived by hand from the
//! field tables of the wire reference. Only what the emulator reads or writes is declared;
//! unknown fields in requests are skipped by the decoder.

#![allow(missing_docs)]

use prost::Message;

#[derive(Clone, PartialEq, Message)]
pub struct Error {
    #[prost(string, required, tag = "1")]
    pub code: String,
    #[prost(string, optional, tag = "2")]
    pub message: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct CapacityUnit {
    #[prost(int32, optional, tag = "1")]
    pub read: Option<i32>,
    #[prost(int32, optional, tag = "2")]
    pub write: Option<i32>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ReservedThroughput {
    #[prost(message, optional, tag = "1")]
    pub capacity_unit: Option<CapacityUnit>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ConsumedCapacity {
    #[prost(message, required, tag = "1")]
    pub capacity_unit: CapacityUnit,
}

#[derive(Clone, PartialEq, Message)]
pub struct ReservedThroughputDetails {
    #[prost(message, required, tag = "1")]
    pub capacity_unit: CapacityUnit,
    #[prost(int64, required, tag = "2")]
    pub last_increase_time: i64,
    #[prost(int64, optional, tag = "3")]
    pub last_decrease_time: Option<i64>,
}

#[derive(Clone, PartialEq, Message)]
pub struct PrimaryKeySchema {
    #[prost(string, required, tag = "1")]
    pub name: String,
    #[prost(int32, required, tag = "2")]
    pub r#type: i32,
    #[prost(int32, optional, tag = "3")]
    pub option: Option<i32>,
}

#[derive(Clone, PartialEq, Message)]
pub struct DefinedColumnSchema {
    #[prost(string, required, tag = "1")]
    pub name: String,
    #[prost(int32, required, tag = "2")]
    pub r#type: i32,
}

#[derive(Clone, PartialEq, Message)]
pub struct TableMeta {
    #[prost(string, required, tag = "1")]
    pub table_name: String,
    #[prost(message, repeated, tag = "2")]
    pub primary_key: Vec<PrimaryKeySchema>,
    #[prost(message, repeated, tag = "3")]
    pub defined_column: Vec<DefinedColumnSchema>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TableOptions {
    #[prost(int32, optional, tag = "1")]
    pub time_to_live: Option<i32>,
    #[prost(int32, optional, tag = "2")]
    pub max_versions: Option<i32>,
    #[prost(int64, optional, tag = "5")]
    pub deviation_cell_version_in_sec: Option<i64>,
    #[prost(bool, optional, tag = "6")]
    pub allow_update: Option<bool>,
}

#[derive(Clone, PartialEq, Message)]
pub struct StreamSpecification {
    #[prost(bool, required, tag = "1")]
    pub enable_stream: bool,
    #[prost(int32, optional, tag = "2")]
    pub expiration_time: Option<i32>,
    #[prost(string, repeated, tag = "3")]
    pub columns_to_get: Vec<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct StreamDetails {
    #[prost(bool, required, tag = "1")]
    pub enable_stream: bool,
    #[prost(string, optional, tag = "2")]
    pub stream_id: Option<String>,
    #[prost(int32, optional, tag = "3")]
    pub expiration_time: Option<i32>,
    #[prost(int64, optional, tag = "4")]
    pub last_enable_time: Option<i64>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Condition {
    #[prost(int32, required, tag = "1")]
    pub row_existence: i32,
    #[prost(bytes = "vec", optional, tag = "2")]
    pub column_condition: Option<Vec<u8>>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TimeRange {
    #[prost(int64, optional, tag = "1")]
    pub start_time: Option<i64>,
    #[prost(int64, optional, tag = "2")]
    pub end_time: Option<i64>,
    #[prost(int64, optional, tag = "3")]
    pub specific_time: Option<i64>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ReturnContent {
    #[prost(int32, optional, tag = "1")]
    pub return_type: Option<i32>,
    #[prost(string, repeated, tag = "2")]
    pub return_column_names: Vec<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct CreateTableRequest {
    #[prost(message, optional, tag = "1")]
    pub table_meta: Option<TableMeta>,
    #[prost(message, optional, tag = "2")]
    pub reserved_throughput: Option<ReservedThroughput>,
    #[prost(message, optional, tag = "3")]
    pub table_options: Option<TableOptions>,
    #[prost(message, optional, tag = "5")]
    pub stream_spec: Option<StreamSpecification>,
    /// Secondary indexes to create with the table (refused: not emulated).
    #[prost(message, repeated, tag = "7")]
    pub index_metas: Vec<IndexMeta>,
}

/// A secondary index of CreateTable (only its name is read).
#[derive(Clone, PartialEq, Message)]
pub struct IndexMeta {
    #[prost(string, tag = "1")]
    pub name: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct Empty {}

#[derive(Clone, PartialEq, Message)]
pub struct ListTableResponse {
    #[prost(string, repeated, tag = "1")]
    pub table_names: Vec<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TableNameRequest {
    #[prost(string, optional, tag = "1")]
    pub table_name: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct DescribeTableResponse {
    #[prost(message, required, tag = "1")]
    pub table_meta: TableMeta,
    #[prost(message, required, tag = "2")]
    pub reserved_throughput_details: ReservedThroughputDetails,
    #[prost(message, required, tag = "3")]
    pub table_options: TableOptions,
    #[prost(int32, required, tag = "4")]
    pub table_status: i32,
    #[prost(message, optional, tag = "5")]
    pub stream_details: Option<StreamDetails>,
}

#[derive(Clone, PartialEq, Message)]
pub struct UpdateTableRequest {
    #[prost(string, optional, tag = "1")]
    pub table_name: Option<String>,
    #[prost(message, optional, tag = "2")]
    pub reserved_throughput: Option<ReservedThroughput>,
    #[prost(message, optional, tag = "3")]
    pub table_options: Option<TableOptions>,
    #[prost(message, optional, tag = "4")]
    pub stream_spec: Option<StreamSpecification>,
}

#[derive(Clone, PartialEq, Message)]
pub struct UpdateTableResponse {
    #[prost(message, required, tag = "1")]
    pub reserved_throughput_details: ReservedThroughputDetails,
    #[prost(message, required, tag = "2")]
    pub table_options: TableOptions,
    #[prost(message, optional, tag = "3")]
    pub stream_details: Option<StreamDetails>,
}

#[derive(Clone, PartialEq, Message)]
pub struct GetRowRequest {
    #[prost(string, optional, tag = "1")]
    pub table_name: Option<String>,
    #[prost(bytes = "vec", optional, tag = "2")]
    pub primary_key: Option<Vec<u8>>,
    #[prost(string, repeated, tag = "3")]
    pub columns_to_get: Vec<String>,
    #[prost(message, optional, tag = "4")]
    pub time_range: Option<TimeRange>,
    #[prost(int32, optional, tag = "5")]
    pub max_versions: Option<i32>,
    #[prost(bytes = "vec", optional, tag = "7")]
    pub filter: Option<Vec<u8>>,
    #[prost(string, optional, tag = "8")]
    pub start_column: Option<String>,
    #[prost(string, optional, tag = "9")]
    pub end_column: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct GetRowResponse {
    #[prost(message, required, tag = "1")]
    pub consumed: ConsumedCapacity,
    #[prost(bytes = "vec", required, tag = "2")]
    pub row: Vec<u8>,
}

/// PutRow, UpdateRow and DeleteRow requests share one shape (field 2 is `row`, `row_change` or
/// `primary_key`).
#[derive(Clone, PartialEq, Message)]
pub struct WriteRowRequest {
    #[prost(string, optional, tag = "1")]
    pub table_name: Option<String>,
    #[prost(bytes = "vec", optional, tag = "2")]
    pub row: Option<Vec<u8>>,
    #[prost(message, optional, tag = "3")]
    pub condition: Option<Condition>,
    #[prost(message, optional, tag = "4")]
    pub return_content: Option<ReturnContent>,
    #[prost(string, optional, tag = "5")]
    pub transaction_id: Option<String>,
}

/// PutRow, UpdateRow and DeleteRow responses share one shape.
#[derive(Clone, PartialEq, Message)]
pub struct WriteRowResponse {
    #[prost(message, required, tag = "1")]
    pub consumed: ConsumedCapacity,
    #[prost(bytes = "vec", optional, tag = "2")]
    pub row: Option<Vec<u8>>,
}

#[derive(Clone, PartialEq, Message)]
pub struct BatchGetRowRequest {
    #[prost(message, repeated, tag = "1")]
    pub tables: Vec<TableInBatchGetRowRequest>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TableInBatchGetRowRequest {
    #[prost(string, optional, tag = "1")]
    pub table_name: Option<String>,
    #[prost(bytes = "vec", repeated, tag = "2")]
    pub primary_key: Vec<Vec<u8>>,
    #[prost(string, repeated, tag = "4")]
    pub columns_to_get: Vec<String>,
    #[prost(message, optional, tag = "5")]
    pub time_range: Option<TimeRange>,
    #[prost(int32, optional, tag = "6")]
    pub max_versions: Option<i32>,
    #[prost(bytes = "vec", optional, tag = "8")]
    pub filter: Option<Vec<u8>>,
    #[prost(string, optional, tag = "9")]
    pub start_column: Option<String>,
    #[prost(string, optional, tag = "10")]
    pub end_column: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct BatchGetRowResponse {
    #[prost(message, repeated, tag = "1")]
    pub tables: Vec<TableInBatchGetRowResponse>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TableInBatchGetRowResponse {
    #[prost(string, required, tag = "1")]
    pub table_name: String,
    #[prost(message, repeated, tag = "2")]
    pub rows: Vec<RowInBatchResponse>,
}

/// A row result of BatchGetRow or BatchWriteRow (same fields and tags).
#[derive(Clone, PartialEq, Message)]
pub struct RowInBatchResponse {
    #[prost(bool, required, tag = "1")]
    pub is_ok: bool,
    #[prost(message, optional, tag = "2")]
    pub error: Option<Error>,
    #[prost(message, optional, tag = "3")]
    pub consumed: Option<ConsumedCapacity>,
    #[prost(bytes = "vec", optional, tag = "4")]
    pub row: Option<Vec<u8>>,
}

#[derive(Clone, PartialEq, Message)]
pub struct BatchWriteRowRequest {
    #[prost(message, repeated, tag = "1")]
    pub tables: Vec<TableInBatchWriteRowRequest>,
    #[prost(string, optional, tag = "2")]
    pub transaction_id: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TableInBatchWriteRowRequest {
    #[prost(string, optional, tag = "1")]
    pub table_name: Option<String>,
    #[prost(message, repeated, tag = "2")]
    pub rows: Vec<RowInBatchWriteRowRequest>,
}

#[derive(Clone, PartialEq, Message)]
pub struct RowInBatchWriteRowRequest {
    #[prost(int32, optional, tag = "1")]
    pub r#type: Option<i32>,
    #[prost(bytes = "vec", optional, tag = "2")]
    pub row_change: Option<Vec<u8>>,
    #[prost(message, optional, tag = "3")]
    pub condition: Option<Condition>,
    #[prost(message, optional, tag = "4")]
    pub return_content: Option<ReturnContent>,
}

#[derive(Clone, PartialEq, Message)]
pub struct BatchWriteRowResponse {
    #[prost(message, repeated, tag = "1")]
    pub tables: Vec<TableInBatchWriteRowResponse>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TableInBatchWriteRowResponse {
    #[prost(string, required, tag = "1")]
    pub table_name: String,
    #[prost(message, repeated, tag = "2")]
    pub rows: Vec<RowInBatchResponse>,
}

#[derive(Clone, PartialEq, Message)]
pub struct GetRangeRequest {
    #[prost(string, optional, tag = "1")]
    pub table_name: Option<String>,
    #[prost(int32, optional, tag = "2")]
    pub direction: Option<i32>,
    #[prost(string, repeated, tag = "3")]
    pub columns_to_get: Vec<String>,
    #[prost(message, optional, tag = "4")]
    pub time_range: Option<TimeRange>,
    #[prost(int32, optional, tag = "5")]
    pub max_versions: Option<i32>,
    #[prost(int32, optional, tag = "6")]
    pub limit: Option<i32>,
    #[prost(bytes = "vec", optional, tag = "7")]
    pub inclusive_start_primary_key: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "8")]
    pub exclusive_end_primary_key: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "10")]
    pub filter: Option<Vec<u8>>,
    #[prost(string, optional, tag = "11")]
    pub start_column: Option<String>,
    #[prost(string, optional, tag = "12")]
    pub end_column: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct GetRangeResponse {
    #[prost(message, required, tag = "1")]
    pub consumed: ConsumedCapacity,
    #[prost(bytes = "vec", required, tag = "2")]
    pub rows: Vec<u8>,
    #[prost(bytes = "vec", optional, tag = "3")]
    pub next_start_primary_key: Option<Vec<u8>>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Filter {
    #[prost(int32, optional, tag = "1")]
    pub r#type: Option<i32>,
    #[prost(bytes = "vec", optional, tag = "2")]
    pub filter: Option<Vec<u8>>,
}

#[derive(Clone, PartialEq, Message)]
pub struct SingleColumnValueFilter {
    #[prost(int32, optional, tag = "1")]
    pub comparator: Option<i32>,
    #[prost(string, optional, tag = "2")]
    pub column_name: Option<String>,
    #[prost(bytes = "vec", optional, tag = "3")]
    pub column_value: Option<Vec<u8>>,
    #[prost(bool, optional, tag = "4")]
    pub filter_if_missing: Option<bool>,
    #[prost(bool, optional, tag = "5")]
    pub latest_version_only: Option<bool>,
    #[prost(message, optional, tag = "6")]
    pub value_trans_rule: Option<ValueTransferRule>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ValueTransferRule {
    #[prost(string, optional, tag = "1")]
    pub regex: Option<String>,
    #[prost(int32, optional, tag = "2")]
    pub cast_type: Option<i32>,
}

#[derive(Clone, PartialEq, Message)]
pub struct CompositeColumnValueFilter {
    #[prost(int32, optional, tag = "1")]
    pub combinator: Option<i32>,
    #[prost(message, repeated, tag = "2")]
    pub sub_filters: Vec<Filter>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ColumnPaginationFilter {
    #[prost(int32, optional, tag = "1")]
    pub offset: Option<i32>,
    #[prost(int32, optional, tag = "2")]
    pub limit: Option<i32>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ListStreamResponse {
    #[prost(message, repeated, tag = "1")]
    pub streams: Vec<Stream>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Stream {
    #[prost(string, required, tag = "1")]
    pub stream_id: String,
    #[prost(string, required, tag = "2")]
    pub table_name: String,
    #[prost(int64, required, tag = "3")]
    pub creation_time: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct DescribeStreamRequest {
    #[prost(string, optional, tag = "1")]
    pub stream_id: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub inclusive_start_shard_id: Option<String>,
    #[prost(int32, optional, tag = "3")]
    pub shard_limit: Option<i32>,
}

#[derive(Clone, PartialEq, Message)]
pub struct DescribeStreamResponse {
    #[prost(string, required, tag = "1")]
    pub stream_id: String,
    #[prost(int32, required, tag = "2")]
    pub expiration_time: i32,
    #[prost(string, required, tag = "3")]
    pub table_name: String,
    #[prost(int64, required, tag = "4")]
    pub creation_time: i64,
    #[prost(int32, required, tag = "5")]
    pub stream_status: i32,
    #[prost(message, repeated, tag = "6")]
    pub shards: Vec<StreamShard>,
}

#[derive(Clone, PartialEq, Message)]
pub struct StreamShard {
    #[prost(string, required, tag = "1")]
    pub shard_id: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct GetShardIteratorRequest {
    #[prost(string, optional, tag = "1")]
    pub stream_id: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub shard_id: Option<String>,
    #[prost(int64, optional, tag = "3")]
    pub timestamp: Option<i64>,
}

#[derive(Clone, PartialEq, Message)]
pub struct GetShardIteratorResponse {
    #[prost(string, required, tag = "1")]
    pub shard_iterator: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct GetStreamRecordRequest {
    #[prost(string, optional, tag = "1")]
    pub shard_iterator: Option<String>,
    #[prost(int32, optional, tag = "2")]
    pub limit: Option<i32>,
}

#[derive(Clone, PartialEq, Message)]
pub struct GetStreamRecordResponse {
    #[prost(message, repeated, tag = "1")]
    pub stream_records: Vec<StreamRecord>,
    #[prost(string, optional, tag = "2")]
    pub next_shard_iterator: Option<String>,
    #[prost(message, optional, tag = "3")]
    pub consumed: Option<ConsumedCapacity>,
    #[prost(bool, optional, tag = "4")]
    pub may_more_record: Option<bool>,
}

#[derive(Clone, PartialEq, Message)]
pub struct StreamRecord {
    #[prost(int32, required, tag = "1")]
    pub action_type: i32,
    #[prost(bytes = "vec", required, tag = "2")]
    pub record: Vec<u8>,
}

/// Both capacity figures, as every response must carry them.
pub fn consumed(read: i32, write: i32) -> ConsumedCapacity {
    ConsumedCapacity {
        capacity_unit: CapacityUnit {
            read: Some(read),
            write: Some(write),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_fields_are_always_on_the_wire() {
        // The SDK's C++ decoder rejects responses without `consumed` / `row` / `rows`.
        let get = GetRowResponse {
            consumed: consumed(1, 0),
            row: vec![],
        };
        assert_eq!(
            get.encode_to_vec(),
            [0x0a, 0x06, 0x0a, 0x04, 0x08, 0x01, 0x10, 0x00, 0x12, 0x00]
        );
        let range = GetRangeResponse {
            consumed: consumed(0, 0),
            rows: vec![],
            next_start_primary_key: None,
        };
        assert!(range.encode_to_vec().ends_with(&[0x12, 0x00]));
        let err = Error {
            code: "OTSObjectNotExist".into(),
            message: Some("Requested table does not exist.".into()),
        };
        assert_eq!(err.encode_to_vec().len(), 52);
    }
}
