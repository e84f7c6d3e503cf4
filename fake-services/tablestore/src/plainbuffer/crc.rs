//! CRC-8 (polynomial 0x07, init 0, no reflection: CRC-8/SMBUS) as PlainBuffer folds it:
//! integers as their little-endian bytes, checksums of cells folded into the row's.

use super::PbValue;
use super::{VT_AUTO_INCREMENT, VT_BLOB, VT_BOOLEAN, VT_DOUBLE, VT_INF_MAX, VT_INF_MIN};
use super::{VT_INTEGER, VT_STRING};
use crate::model::Value;

const CRC8: crc::Crc<u8> = crc::Crc::<u8>::new(&crc::CRC_8_SMBUS);

/// Folds `bytes` into the running checksum `crc`.
pub fn fold(crc: u8, bytes: &[u8]) -> u8 {
    // CRC_8_SMBUS has no reflection and no final XOR, so continuing from `crc` is the same as
    // starting a digest whose initial value is `crc`.
    let mut d = CRC8.digest_with_initial(crc);
    d.update(bytes);
    d.finalize()
}

/// Folds a value the way a cell checksum does: type byte, then the payload (strings with their
/// 4-byte length).
pub fn fold_value(crc: u8, v: &PbValue) -> u8 {
    match v {
        PbValue::InfMin => fold(crc, &[VT_INF_MIN]),
        PbValue::InfMax => fold(crc, &[VT_INF_MAX]),
        PbValue::AutoIncrement => fold(crc, &[VT_AUTO_INCREMENT]),
        PbValue::Plain(Value::Integer(i)) => fold(fold(crc, &[VT_INTEGER]), &i.to_le_bytes()),
        PbValue::Plain(Value::Double(d)) => {
            fold(fold(crc, &[VT_DOUBLE]), &d.to_bits().to_le_bytes())
        }
        PbValue::Plain(Value::Boolean(b)) => fold(crc, &[VT_BOOLEAN, u8::from(*b)]),
        PbValue::Plain(Value::String(s)) => fold_bytes(crc, VT_STRING, s.as_bytes()),
        PbValue::Plain(Value::Binary(b)) => fold_bytes(crc, VT_BLOB, b),
    }
}

fn fold_bytes(crc: u8, ty: u8, b: &[u8]) -> u8 {
    let len = u32::try_from(b.len()).unwrap_or(u32::MAX);
    fold(fold(fold(crc, &[ty]), &len.to_le_bytes()), b)
}

/// The checksum of a cell: name, value, timestamp, then operation type (in that order, which
/// is not the wire order of the last two).
pub fn cell(name: &[u8], value: Option<&PbValue>, timestamp: Option<i64>, op: Option<u8>) -> u8 {
    let mut crc = fold(0, name);
    if let Some(v) = value {
        crc = fold_value(crc, v);
    }
    if let Some(ts) = timestamp {
        crc = fold(crc, &ts.to_le_bytes());
    }
    if let Some(op) = op {
        crc = fold(crc, &[op]);
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value() {
        assert_eq!(fold(0, b"123456789"), 0xF4);
    }

    #[test]
    fn verified_cell_checksums() {
        let s = |x: &str| Some(PbValue::Plain(Value::String(x.into())));
        assert_eq!(cell(b"id", s("row1").as_ref(), None, None), 0x1C);
        let n = PbValue::Plain(Value::Integer(42));
        assert_eq!(cell(b"count", Some(&n), None, None), 0x38);
        assert_eq!(
            cell(b"count", Some(&n), Some(1_700_000_000_000), None),
            0x5C
        );
        assert_eq!(cell(b"pk", Some(&PbValue::InfMin), None, None), 0x3A);
        assert_eq!(cell(b"pk", Some(&PbValue::InfMax), None, None), 0x33);
        assert_eq!(cell(b"id", Some(&PbValue::AutoIncrement), None, None), 0x6F);
        let d = PbValue::Plain(Value::Double(1.5));
        assert_eq!(cell(b"d", Some(&d), None, None), 0xBA);
        let b = PbValue::Plain(Value::Boolean(true));
        assert_eq!(cell(b"b", Some(&b), None, None), 0x3E);
        assert_eq!(cell(b"pk", s("a").as_ref(), None, None), 0xD4);
        assert_eq!(cell(b"n", None, Some(1_700_000_000_000), Some(3)), 0x88);
    }
}
