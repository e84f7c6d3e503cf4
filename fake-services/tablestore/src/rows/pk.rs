//! Primary keys: checks against the table's schema, the order-preserving key, and the
//! PK-only PlainBuffer stored with each row.

use crate::OtsError;
use crate::keys::{self, KeyPart};
use crate::model::{TableInfo, Value};
use crate::plainbuffer::{PbCell, PbRow, PbValue, decode_rows, write::one_row};

fn type_name(v: &PbValue) -> &'static str {
    match v {
        PbValue::Plain(Value::Integer(_)) => "INTEGER",
        PbValue::Plain(Value::String(_)) => "STRING",
        PbValue::Plain(Value::Binary(_)) => "BINARY",
        PbValue::Plain(Value::Double(_)) => "DOUBLE",
        PbValue::Plain(Value::Boolean(_)) => "BOOLEAN",
        PbValue::InfMin => "INF_MIN",
        PbValue::InfMax => "INF_MAX",
        PbValue::AutoIncrement => "AUTO_INCREMENT",
    }
}

/// Which markers a primary key may hold.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum PkUse {
    Exact,
    Put,
    Bound,
}

/// Checks a primary key against the table's schema (names, count, order, types).
pub(crate) fn check_pk(
    t: &TableInfo,
    pk: &[(String, PbValue)],
    usage: PkUse,
) -> Result<(), OtsError> {
    if pk.len() != t.primary_key.len() {
        return Err(OtsError::InvalidPk(format!(
            "Validate PK size fail. Input: {}, Meta: {}.",
            pk.len(),
            t.primary_key.len()
        )));
    }
    for ((name, v), s) in pk.iter().zip(&t.primary_key) {
        if name != &s.name {
            return Err(OtsError::InvalidPk(format!(
                "Validate PK name fail. Input: {name}, Meta: {}.",
                s.name
            )));
        }
        let ok = match v {
            PbValue::Plain(v) => s.ty.accepts(v),
            PbValue::InfMin | PbValue::InfMax => usage == PkUse::Bound,
            PbValue::AutoIncrement => usage == PkUse::Put && s.auto_increment,
        };
        if !ok {
            return Err(OtsError::InvalidPk(format!(
                "Validate PK type fail. Input: {}, Meta: {}.",
                type_name(v),
                s.ty.name()
            )));
        }
        match v {
            PbValue::Plain(Value::String(x)) if x.len() > 1024 => {
                return Err(OtsError::invalid(
                    "The length of primary key column must be less than 1024.",
                ));
            }
            PbValue::Plain(Value::Binary(x)) if x.len() > 1024 => {
                return Err(OtsError::invalid(
                    "The length of primary key column must be less than 1024.",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

pub(crate) fn concrete(pk: &[(String, PbValue)]) -> Vec<(String, Value)> {
    pk.iter()
        .filter_map(|(n, v)| match v {
            PbValue::Plain(v) => Some((n.clone(), v.clone())),
            _ => None,
        })
        .collect()
}

pub(crate) fn key_of(pk: &[(String, Value)]) -> Vec<u8> {
    keys::encode(pk.iter().map(|(_, v)| KeyPart::Value(v)))
}

pub(crate) fn bound_key(pk: &[(String, PbValue)]) -> Vec<u8> {
    keys::encode(pk.iter().map(|(_, v)| match v {
        PbValue::Plain(v) => KeyPart::Value(v),
        PbValue::InfMax => KeyPart::InfMax,
        _ => KeyPart::InfMin,
    }))
}

/// The PK-only buffer stored with each row (and returned for RT_PK / next_start).
pub fn pk_buffer(pk: &[(String, Value)]) -> Vec<u8> {
    one_row(&PbRow {
        primary_key: pk
            .iter()
            .map(|(n, v)| PbCell::plain(n.clone(), v.clone()))
            .collect(),
        ..Default::default()
    })
}

pub(crate) fn decode_pk(bytes: &[u8]) -> Result<Vec<(String, Value)>, OtsError> {
    let rows =
        decode_rows(bytes).map_err(|e| OtsError::Internal(format!("stored primary key: {e}")))?;
    Ok(rows
        .into_iter()
        .next()
        .map(|r| {
            r.primary_key
                .into_iter()
                .filter_map(|c| match c.value {
                    Some(PbValue::Plain(v)) => Some((c.name, v)),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default())
}
