//! Encoding: rows as the service sends them (values with timestamps, never cell types towards
//! the Python SDK), and stream records with their sequence extension.

use super::*;

/// Builds one buffer: the header, then rows appended one by one.
#[derive(Debug)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Default for Writer {
    fn default() -> Self {
        Self::new()
    }
}

fn len32(n: usize) -> [u8; 4] {
    u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes()
}

/// Encodes a value in the "no prefix" form: type byte then payload.
pub fn encode_value(out: &mut Vec<u8>, v: &PbValue) {
    match v {
        PbValue::InfMin => out.push(VT_INF_MIN),
        PbValue::InfMax => out.push(VT_INF_MAX),
        PbValue::AutoIncrement => out.push(VT_AUTO_INCREMENT),
        PbValue::Plain(Value::Integer(i)) => {
            out.push(VT_INTEGER);
            out.extend_from_slice(&i.to_le_bytes());
        }
        PbValue::Plain(Value::Double(d)) => {
            out.push(VT_DOUBLE);
            out.extend_from_slice(&d.to_bits().to_le_bytes());
        }
        PbValue::Plain(Value::Boolean(b)) => out.extend_from_slice(&[VT_BOOLEAN, u8::from(*b)]),
        PbValue::Plain(Value::String(s)) => {
            out.push(VT_STRING);
            out.extend_from_slice(&len32(s.len()));
            out.extend_from_slice(s.as_bytes());
        }
        PbValue::Plain(Value::Binary(b)) => {
            out.push(VT_BLOB);
            out.extend_from_slice(&len32(b.len()));
            out.extend_from_slice(b);
        }
    }
}

impl Writer {
    /// An empty buffer with its header.
    pub fn new() -> Self {
        Self {
            buf: HEADER.to_le_bytes().to_vec(),
        }
    }

    fn cell(&mut self, c: &PbCell) -> u8 {
        self.buf.push(TAG_CELL);
        self.buf.push(TAG_CELL_NAME);
        self.buf.extend_from_slice(&len32(c.name.len()));
        self.buf.extend_from_slice(c.name.as_bytes());
        if let Some(v) = &c.value {
            let mut val = Vec::new();
            encode_value(&mut val, v);
            self.buf.push(TAG_CELL_VALUE);
            self.buf.extend_from_slice(&len32(val.len()));
            self.buf.extend_from_slice(&val);
        }
        if let Some(op) = c.op {
            self.buf.extend_from_slice(&[TAG_CELL_TYPE, op]);
        }
        if let Some(ts) = c.timestamp {
            self.buf.push(TAG_CELL_TIMESTAMP);
            self.buf.extend_from_slice(&ts.to_le_bytes());
        }
        let crc = crc::cell(c.name.as_bytes(), c.value.as_ref(), c.timestamp, c.op);
        self.buf.extend_from_slice(&[TAG_CELL_CHECKSUM, crc]);
        crc
    }

    /// Appends a row. An empty data part is left out; the extension is written when present.
    pub fn row(&mut self, row: &PbRow) -> &mut Self {
        let mut crc = 0u8;
        self.buf.push(TAG_ROW_PK);
        for c in &row.primary_key {
            let cc = self.cell(c);
            crc = crc::fold(crc, &[cc]);
        }
        if !row.cells.is_empty() {
            self.buf.push(TAG_ROW_DATA);
            for c in &row.cells {
                let cc = self.cell(c);
                crc = crc::fold(crc, &[cc]);
            }
        }
        if row.delete_marker {
            self.buf.push(TAG_DELETE_ROW_MARKER);
        }
        crc = crc::fold(crc, &[u8::from(row.delete_marker)]);
        if let Some(s) = row.seq_info {
            self.buf.push(TAG_EXTENSION);
            self.buf.extend_from_slice(&24u32.to_le_bytes());
            self.buf.push(TAG_SEQ_INFO);
            self.buf.extend_from_slice(&19u32.to_le_bytes());
            self.buf.push(TAG_SEQ_INFO_EPOCH);
            self.buf.extend_from_slice(&s.epoch.to_le_bytes());
            self.buf.push(TAG_SEQ_INFO_TS);
            self.buf.extend_from_slice(&s.timestamp.to_le_bytes());
            self.buf.push(TAG_SEQ_INFO_ROW_INDEX);
            self.buf.extend_from_slice(&s.row_index.to_le_bytes());
        }
        self.buf.extend_from_slice(&[TAG_ROW_CHECKSUM, crc]);
        self
    }

    /// The finished buffer.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// A one-row buffer.
pub fn one_row(row: &PbRow) -> Vec<u8> {
    let mut w = Writer::new();
    w.row(row);
    w.finish()
}
