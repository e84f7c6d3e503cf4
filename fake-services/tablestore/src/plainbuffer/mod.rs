//! PlainBuffer, Table Store's row encoding inside protobuf `bytes` fields (reference §2):
//! [`read`] decodes (bounded, never panics, checks every CRC), [`write`](mod@write) encodes, [`crc`]
//! computes the CRC-8 checksums.

pub mod crc;
pub mod read;
pub mod write;

use crate::model::Value;

pub use read::{decode_rows, decode_value};
pub use write::{Writer, encode_value};

/// The 4-byte header every buffer starts with (`75 00 00 00`).
pub const HEADER: u32 = 0x75;

pub(crate) const TAG_ROW_PK: u8 = 0x01;
pub(crate) const TAG_ROW_DATA: u8 = 0x02;
pub(crate) const TAG_CELL: u8 = 0x03;
pub(crate) const TAG_CELL_NAME: u8 = 0x04;
pub(crate) const TAG_CELL_VALUE: u8 = 0x05;
pub(crate) const TAG_CELL_TYPE: u8 = 0x06;
pub(crate) const TAG_CELL_TIMESTAMP: u8 = 0x07;
pub(crate) const TAG_DELETE_ROW_MARKER: u8 = 0x08;
pub(crate) const TAG_ROW_CHECKSUM: u8 = 0x09;
pub(crate) const TAG_CELL_CHECKSUM: u8 = 0x0A;
pub(crate) const TAG_EXTENSION: u8 = 0x0B;
pub(crate) const TAG_SEQ_INFO: u8 = 0x0C;
pub(crate) const TAG_SEQ_INFO_EPOCH: u8 = 0x0D;
pub(crate) const TAG_SEQ_INFO_TS: u8 = 0x0E;
pub(crate) const TAG_SEQ_INFO_ROW_INDEX: u8 = 0x0F;

pub(crate) const VT_INTEGER: u8 = 0x00;
pub(crate) const VT_DOUBLE: u8 = 0x01;
pub(crate) const VT_BOOLEAN: u8 = 0x02;
pub(crate) const VT_STRING: u8 = 0x03;
pub(crate) const VT_BLOB: u8 = 0x07;
pub(crate) const VT_INF_MIN: u8 = 0x09;
pub(crate) const VT_INF_MAX: u8 = 0x0A;
pub(crate) const VT_AUTO_INCREMENT: u8 = 0x0B;

/// Cell operation: delete every version of the column.
pub const OP_DELETE_ALL_VERSIONS: u8 = 0x01;
/// Cell operation: delete the version with the cell's timestamp.
pub const OP_DELETE_ONE_VERSION: u8 = 0x03;
/// Cell operation: add the cell's integer to the latest value.
pub const OP_INCREMENT: u8 = 0x04;

/// A value as PlainBuffer carries it: a plain value or one of the range / placeholder markers.
#[derive(Clone, Debug, PartialEq)]
pub enum PbValue {
    /// An ordinary value.
    Plain(Value),
    /// Below every value of the column (range bounds).
    InfMin,
    /// Above every value of the column (range bounds).
    InfMax,
    /// "Generate this key" (writes to an auto-increment column).
    AutoIncrement,
}

/// One decoded cell.
#[derive(Clone, Debug, PartialEq)]
pub struct PbCell {
    /// Column name.
    pub name: String,
    /// The value, if the cell has one.
    pub value: Option<PbValue>,
    /// Operation type byte (`OP_*`), if present.
    pub op: Option<u8>,
    /// Timestamp in milliseconds, if present.
    pub timestamp: Option<i64>,
}

impl PbCell {
    /// A cell holding `value` with no operation and no timestamp.
    pub fn plain(name: impl Into<String>, value: Value) -> Self {
        Self {
            name: name.into(),
            value: Some(PbValue::Plain(value)),
            op: None,
            timestamp: None,
        }
    }
}

/// Sequence information carried by stream records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PbSeqInfo {
    /// Epoch.
    pub epoch: i32,
    /// Commit time in microseconds.
    pub timestamp: i64,
    /// Index within the timestamp.
    pub row_index: i32,
}

/// One decoded row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PbRow {
    /// Primary key cells.
    pub primary_key: Vec<PbCell>,
    /// Attribute cells.
    pub cells: Vec<PbCell>,
    /// Whether the row carries the delete marker.
    pub delete_marker: bool,
    /// The stream extension, if present.
    pub seq_info: Option<PbSeqInfo>,
}

/// Why a buffer could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid PlainBuffer: {0}")]
pub struct PbError(pub String);

#[cfg(test)]
mod tests;
