//! Decoding. Every length is checked against what is left of the buffer before anything is
//! allocated, so hostile input costs at most its own size and never panics.

use super::*;

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

fn err(msg: impl Into<String>) -> PbError {
    PbError(msg.into())
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], PbError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| err("unexpected end of buffer"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, PbError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], PbError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u32(&mut self) -> Result<u32, PbError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn i32(&mut self) -> Result<i32, PbError> {
        Ok(i32::from_le_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, PbError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    fn len(&mut self) -> Result<usize, PbError> {
        usize::try_from(self.u32()?).map_err(|_| err("length out of range"))
    }

    fn expect(&mut self, tag: u8, what: &str) -> Result<(), PbError> {
        match self.u8()? {
            t if t == tag => Ok(()),
            t => Err(err(format!(
                "expected {what} (tag {tag:#04x}), found {t:#04x}"
            ))),
        }
    }

    fn eat(&mut self, tag: u8) -> bool {
        if self.peek() == Some(tag) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
}

/// Decodes a value in the "no prefix" form used inside filters: type byte then payload.
/// The whole of `bytes` must be consumed.
pub fn decode_value(bytes: &[u8]) -> Result<PbValue, PbError> {
    let mut c = Cursor { buf: bytes, pos: 0 };
    let v = value(&mut c)?;
    if c.pos != bytes.len() {
        return Err(err("trailing bytes after value"));
    }
    Ok(v)
}

fn value(c: &mut Cursor<'_>) -> Result<PbValue, PbError> {
    Ok(match c.u8()? {
        VT_INTEGER => PbValue::Plain(Value::Integer(c.i64()?)),
        VT_DOUBLE => PbValue::Plain(Value::Double(f64::from_bits(c.i64()? as u64))),
        VT_BOOLEAN => PbValue::Plain(Value::Boolean(c.u8()? != 0)),
        VT_STRING => {
            let n = c.len()?;
            let s = std::str::from_utf8(c.take(n)?).map_err(|_| err("string is not UTF-8"))?;
            PbValue::Plain(Value::String(s.to_owned()))
        }
        VT_BLOB => {
            let n = c.len()?;
            PbValue::Plain(Value::Binary(c.take(n)?.to_vec()))
        }
        VT_INF_MIN => PbValue::InfMin,
        VT_INF_MAX => PbValue::InfMax,
        VT_AUTO_INCREMENT => PbValue::AutoIncrement,
        t => return Err(err(format!("unknown value type {t:#04x}"))),
    })
}

fn cell(c: &mut Cursor<'_>) -> Result<PbCell, PbError> {
    c.expect(TAG_CELL, "cell")?;
    c.expect(TAG_CELL_NAME, "cell name")?;
    let n = c.len()?;
    let name_bytes = c.take(n)?;
    let name = std::str::from_utf8(name_bytes)
        .map_err(|_| err("column name is not UTF-8"))?
        .to_owned();
    let mut v = None;
    if c.eat(TAG_CELL_VALUE) {
        let n = c.len()?;
        v = Some(decode_value(c.take(n)?)?);
    }
    let mut op = None;
    if c.eat(TAG_CELL_TYPE) {
        op = Some(c.u8()?);
    }
    let mut timestamp = None;
    if c.eat(TAG_CELL_TIMESTAMP) {
        timestamp = Some(c.i64()?);
    }
    c.expect(TAG_CELL_CHECKSUM, "cell checksum")?;
    let given = c.u8()?;
    if given != crc::cell(name_bytes, v.as_ref(), timestamp, op) {
        return Err(err(format!("cell checksum mismatch for column '{name}'")));
    }
    Ok(PbCell {
        name,
        value: v,
        op,
        timestamp,
    })
}

fn seq_info(c: &mut Cursor<'_>) -> Result<PbSeqInfo, PbError> {
    let n = c.len()?;
    let mut e = Cursor {
        buf: c.take(n)?,
        pos: 0,
    };
    e.expect(TAG_SEQ_INFO, "sequence info")?;
    let _len = e.u32()?;
    e.expect(TAG_SEQ_INFO_EPOCH, "epoch")?;
    let epoch = e.i32()?;
    e.expect(TAG_SEQ_INFO_TS, "timestamp")?;
    let timestamp = e.i64()?;
    e.expect(TAG_SEQ_INFO_ROW_INDEX, "row index")?;
    let row_index = e.i32()?;
    Ok(PbSeqInfo {
        epoch,
        timestamp,
        row_index,
    })
}

fn row(c: &mut Cursor<'_>) -> Result<PbRow, PbError> {
    let mut r = PbRow::default();
    let mut crc = 0u8;
    if c.eat(TAG_ROW_PK) {
        while c.peek() == Some(TAG_CELL) {
            let cell = cell(c)?;
            crc = crc::fold(
                crc,
                &[crc::cell(
                    cell.name.as_bytes(),
                    cell.value.as_ref(),
                    cell.timestamp,
                    cell.op,
                )],
            );
            r.primary_key.push(cell);
        }
    }
    if c.eat(TAG_ROW_DATA) {
        while c.peek() == Some(TAG_CELL) {
            let cell = cell(c)?;
            crc = crc::fold(
                crc,
                &[crc::cell(
                    cell.name.as_bytes(),
                    cell.value.as_ref(),
                    cell.timestamp,
                    cell.op,
                )],
            );
            r.cells.push(cell);
        }
    }
    r.delete_marker = c.eat(TAG_DELETE_ROW_MARKER);
    crc = crc::fold(crc, &[u8::from(r.delete_marker)]);
    if c.eat(TAG_EXTENSION) {
        r.seq_info = Some(seq_info(c)?);
    }
    c.expect(TAG_ROW_CHECKSUM, "row checksum")?;
    if c.u8()? != crc {
        return Err(err("row checksum mismatch"));
    }
    Ok(r)
}

/// Decodes a whole buffer: the header, then one or more rows up to the end. Zero bytes after
/// the last row are padding, not a row (no tag is 0): the Node.js SDK sizes its buffer for a
/// primary key with `INF_MIN` / `INF_MAX` one byte too large and sends the zero, and Table
/// Store accepts it.
pub fn decode_rows(bytes: &[u8]) -> Result<Vec<PbRow>, PbError> {
    let mut c = Cursor { buf: bytes, pos: 0 };
    if c.u32()? != HEADER {
        return Err(err("bad header"));
    }
    let mut rows = Vec::new();
    loop {
        rows.push(row(&mut c)?);
        if bytes[c.pos..].iter().all(|&b| b == 0) {
            return Ok(rows);
        }
    }
}
