//! Row operations: reads (single, batch, range) with projections, versions, time ranges and
//! filters; writes (put, update, delete, batch) with row-existence and column conditions,
//! auto-increment keys, version trimming and stream records.
//!
//! [`pk`] checks and encodes primary keys, [`visibility`] decides which versions a read or a
//! condition sees, [`write`](mod@write) applies writes, [`read`] serves GetRow, BatchGetRow and GetRange.

pub mod pk;
pub mod read;
pub mod visibility;
pub mod write;

use crate::filter::Filter;
use crate::model::{Cell, Row, Value};
use crate::plainbuffer::PbValue;

pub use pk::pk_buffer;

tokio::task_local! {
    /// The cause of the request being served (set by the HTTP layer around each request),
    /// copied into the [`crate::RowChange`]s its writes publish.
    pub static CAUSE: fcemu_core::Cause;
}

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
    /// ColumnPaginationFilter: skip this many columns, then keep at most this many.
    pub column_page: Option<(usize, usize)>,
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

/// Bytes a row counts for (names and values of key and attribute cells).
pub fn row_size(pk: &[(String, Value)], cells: &[Cell]) -> usize {
    pk.iter().map(|(n, v)| n.len() + v.size()).sum::<usize>()
        + cells
            .iter()
            .map(|c| c.name.len() + c.value.size())
            .sum::<usize>()
}
