//! The service's vocabulary: values, table descriptions, rows read back, and the change
//! records published for tables with a stream.

use serde::{Deserialize, Serialize};

/// An attribute or primary-key value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Value {
    /// 64-bit signed integer.
    Integer(i64),
    /// IEEE-754 double.
    Double(f64),
    /// Boolean.
    Boolean(bool),
    /// UTF-8 string.
    String(String),
    /// Raw bytes (BINARY / BLOB).
    Binary(Vec<u8>),
}

impl Value {
    /// Bytes this value counts for in capacity units (reference §5.5).
    pub fn size(&self) -> usize {
        match self {
            Value::Integer(_) | Value::Double(_) => 8,
            Value::Boolean(_) => 1,
            Value::String(s) => s.len(),
            Value::Binary(b) => b.len(),
        }
    }
}

/// The type of one primary-key column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PkType {
    /// INTEGER (int64).
    Integer,
    /// STRING (UTF-8).
    String,
    /// BINARY.
    Binary,
}

impl PkType {
    /// The type's name as error messages spell it (`INTEGER`, `STRING`, `BINARY`).
    pub fn name(self) -> &'static str {
        match self {
            PkType::Integer => "INTEGER",
            PkType::String => "STRING",
            PkType::Binary => "BINARY",
        }
    }

    /// Whether `v` is a value of this type.
    pub fn accepts(self, v: &Value) -> bool {
        matches!(
            (self, v),
            (PkType::Integer, Value::Integer(_))
                | (PkType::String, Value::String(_))
                | (PkType::Binary, Value::Binary(_))
        )
    }
}

/// One primary-key column of a table's schema.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PkColumnSchema {
    /// Column name.
    pub name: String,
    /// Column type.
    pub ty: PkType,
    /// Whether the server generates its values.
    pub auto_increment: bool,
}

/// Per-table options (TTL, versions, allowed timestamp deviation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableOptions {
    /// Seconds a version lives; -1 = forever.
    pub time_to_live: i32,
    /// Versions kept per column.
    pub max_versions: i32,
    /// Largest allowed distance, in seconds, between an explicit cell timestamp and now.
    pub deviation_cell_version_in_sec: i64,
    /// Whether UpdateRow is allowed.
    pub allow_update: bool,
}

impl Default for TableOptions {
    fn default() -> Self {
        Self {
            time_to_live: -1,
            max_versions: 1,
            deviation_cell_version_in_sec: 86_400,
            allow_update: true,
        }
    }
}

/// The change stream of a table, when enabled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamInfo {
    /// Stream id, new each time the stream is enabled.
    pub stream_id: String,
    /// Hours records are kept.
    pub expiration_hours: i32,
    /// When the stream was enabled, microseconds since the epoch.
    pub enabled_at_us: i64,
}

/// Everything known about a table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableInfo {
    /// Table name.
    pub name: String,
    /// Primary key columns in key order.
    pub primary_key: Vec<PkColumnSchema>,
    /// Predefined attribute columns (name, DefinedColumnType number).
    pub defined_columns: Vec<(String, i32)>,
    /// Reserved read capacity units.
    pub reserved_read: i32,
    /// Reserved write capacity units.
    pub reserved_write: i32,
    /// Table options.
    pub options: TableOptions,
    /// The stream, when enabled.
    pub stream: Option<StreamInfo>,
    /// Creation time, seconds since the epoch.
    pub created_s: i64,
    /// Last reserved-throughput change, seconds since the epoch.
    pub throughput_changed_s: i64,
}

/// A stored row as a read returns it: the primary key and the visible cell versions.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Primary key columns in key order.
    pub primary_key: Vec<(String, Value)>,
    /// Attribute cells: sorted by column name, newest version first within a column.
    pub cells: Vec<Cell>,
}

/// One version of one attribute column.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// Column name.
    pub name: String,
    /// The value.
    pub value: Value,
    /// Version timestamp, milliseconds since the epoch.
    pub timestamp: i64,
}

/// What kind of write produced a stream record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RowAction {
    /// PutRow (or a BatchWriteRow PUT): the row was replaced.
    PutRow,
    /// UpdateRow (or a BatchWriteRow UPDATE): some columns changed.
    UpdateRow,
    /// DeleteRow (or a BatchWriteRow DELETE).
    DeleteRow,
}

/// What happened to one attribute column in a stream record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColumnChangeKind {
    /// A version was written (`Put`).
    Put,
    /// One version was deleted (`DeleteOneVersion`).
    DeleteOneVersion,
    /// Every version was deleted (`DeleteAllVersions`).
    DeleteAllVersions,
}

/// One attribute column of a stream record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnChange {
    /// Put, delete one version or delete all versions.
    pub kind: ColumnChangeKind,
    /// Column name.
    pub name: String,
    /// The value written (`Put` only).
    pub value: Option<Value>,
    /// Version timestamp in milliseconds (`Put` and `DeleteOneVersion`).
    pub timestamp: Option<i64>,
}

/// Where a record sits in its stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequenceInfo {
    /// Stream epoch (always 0 here).
    pub epoch: i32,
    /// Commit time, microseconds since the epoch.
    pub timestamp_us: i64,
    /// Position among records with the same timestamp.
    pub row_index: i32,
}

/// A change to one row, as a stream (and the Function Compute trigger) sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamRecord {
    /// Put, update or delete.
    pub action: RowAction,
    /// Primary key columns in schema order.
    pub primary_key: Vec<(String, Value)>,
    /// Changed attribute columns, in request order (empty for deletes).
    pub columns: Vec<ColumnChange>,
    /// Position in the stream; `sequence.timestamp_us` is the commit time.
    pub sequence: SequenceInfo,
}

/// A durable row change, published on [`crate::Ots::changes`] for every table (tests watch
/// them all; Table Store triggers only see `streamed` ones).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RowChange {
    /// Instance name.
    pub instance: String,
    /// Table name.
    pub table: String,
    /// Whether the table has a stream, which holds `record` (its sequence is then the stream
    /// position; else only its commit time is set).
    pub streamed: bool,
    /// What changed.
    pub record: StreamRecord,
    /// The invocation whose request wrote it, and the chain depth ([`fcemu_core::Cause`];
    /// the default for writes from outside).
    pub cause: fcemu_core::Cause,
}
