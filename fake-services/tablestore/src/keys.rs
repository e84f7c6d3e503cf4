//! Order-preserving primary-key encoding, so SQLite's byte-wise BLOB comparison sorts rows the
//! way GetRange must: column by column, INTEGER as signed, STRING and BINARY as unsigned bytes
//! with shorter prefixes first, INF_MIN below and INF_MAX above every value of a column.
//!
//! Each column is one marker byte (0x00 INF_MIN, 0x01 value, 0x02 INF_MAX) and, for a value,
//! its body: an integer as 8 big-endian bytes with the sign bit flipped; bytes with 0x00
//! escaped as 0x00 0xFF and terminated by 0x00 0x00. Nothing follows an INF marker.

use crate::model::Value;

const MIN: u8 = 0x00;
const VALUE: u8 = 0x01;
const MAX: u8 = 0x02;

/// One column of a key or range bound.
#[derive(Clone, Debug, PartialEq)]
pub enum KeyPart<'a> {
    /// A concrete value.
    Value(&'a Value),
    /// Below every value.
    InfMin,
    /// Above every value.
    InfMax,
}

/// Encodes a key (or bound) column by column; stops after the first INF marker.
pub fn encode<'a>(parts: impl IntoIterator<Item = KeyPart<'a>>) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        match p {
            KeyPart::InfMin => {
                out.push(MIN);
                break;
            }
            KeyPart::InfMax => {
                out.push(MAX);
                break;
            }
            KeyPart::Value(v) => {
                out.push(VALUE);
                match v {
                    Value::Integer(i) => {
                        out.extend_from_slice(&((*i as u64) ^ (1 << 63)).to_be_bytes())
                    }
                    Value::String(s) => escaped(&mut out, s.as_bytes()),
                    Value::Binary(b) => escaped(&mut out, b),
                    // Not primary-key types; schema validation rejects them before this.
                    Value::Double(d) => out.extend_from_slice(&d.to_bits().to_be_bytes()),
                    Value::Boolean(b) => out.push(u8::from(*b)),
                }
            }
        }
    }
    out
}

fn escaped(out: &mut Vec<u8>, b: &[u8]) {
    for &x in b {
        out.push(x);
        if x == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(vals: &[Value]) -> Vec<u8> {
        encode(vals.iter().map(KeyPart::Value))
    }

    #[test]
    fn orders_like_table_store() {
        let s = |x: &str| Value::String(x.into());
        let i = Value::Integer;
        assert!(key(&[i(-5)]) < key(&[i(3)]));
        assert!(key(&[i(i64::MIN)]) < key(&[i(i64::MAX)]));
        assert!(key(&[s("a")]) < key(&[s("a\0")]));
        assert!(key(&[s("a\0")]) < key(&[s("a\u{1}")]));
        assert!(key(&[s("a"), i(9)]) < key(&[s("ab"), i(0)]));
        assert!(key(&[s("putRow")]) < key(&[s("put_row")]));
        let lo = encode([KeyPart::Value(&s("a")), KeyPart::InfMin]);
        let hi = encode([KeyPart::Value(&s("a")), KeyPart::InfMax]);
        assert!(lo < key(&[s("a"), i(i64::MIN)]));
        assert!(hi > key(&[s("a"), i(i64::MAX)]));
        assert!(hi < key(&[s("a\0"), i(0)]));
        assert!(encode([KeyPart::InfMin]) < key(&[s("")]));
        assert!(encode([KeyPart::InfMax]) > key(&[Value::Binary(vec![0xFF; 4])]));
    }
}
