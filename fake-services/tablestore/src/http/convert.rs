//! From wire to domain and back: PlainBuffer rows to primary keys and column operations,
//! protobuf conditions and filters to [`Condition`] / [`Filter`], domain rows to PlainBuffer.

use prost::Message;

use super::proto;
use crate::OtsError;
use crate::filter::{self, Comparator, Filter};
use crate::model::{Row, Value};
use crate::plainbuffer::{
    OP_DELETE_ALL_VERSIONS, OP_DELETE_ONE_VERSION, OP_INCREMENT, PbCell, PbRow, PbValue,
    decode_rows, decode_value,
};
use crate::rows::{ColumnOp, Condition, Existence, ReadSpec};

/// Decodes a protobuf message, mapping failure to `OTSParameterInvalid`.
pub fn decode<M: Message + Default>(body: &[u8]) -> Result<M, OtsError> {
    M::decode(body).map_err(|e| OtsError::invalid(format!("Failed to parse the request body: {e}")))
}

/// A required string field.
pub fn required(field: Option<String>, name: &str) -> Result<String, OtsError> {
    field
        .filter(|s| !s.is_empty())
        .ok_or_else(|| OtsError::invalid(format!("Missing required field: {name}.")))
}

fn one_row(bytes: &[u8]) -> Result<PbRow, OtsError> {
    let mut rows = decode_rows(bytes).map_err(|e| OtsError::invalid(e.to_string()))?;
    if rows.len() != 1 {
        return Err(OtsError::invalid(format!(
            "Expected one row in the buffer, found {}.",
            rows.len()
        )));
    }
    Ok(rows.remove(0))
}

fn pk_of(row: PbRow) -> Result<Vec<(String, PbValue)>, OtsError> {
    row.primary_key
        .into_iter()
        .map(|c| match c.value {
            Some(v) => Ok((c.name, v)),
            None => Err(OtsError::InvalidPk(format!(
                "The primary key column '{}' has no value.",
                c.name
            ))),
        })
        .collect()
}

/// A primary-key buffer (GetRow, range bounds, DeleteRow).
pub fn primary_key(bytes: Option<&[u8]>) -> Result<Vec<(String, PbValue)>, OtsError> {
    let bytes = bytes.ok_or_else(|| OtsError::invalid("Missing required field: primary_key."))?;
    pk_of(one_row(bytes)?)
}

fn plain(c: &PbCell) -> Result<Value, OtsError> {
    match &c.value {
        Some(PbValue::Plain(v)) => Ok(v.clone()),
        Some(_) => Err(OtsError::invalid(format!(
            "Invalid value type of attribute column '{}'.",
            c.name
        ))),
        None => Err(OtsError::invalid(format!(
            "The attribute column '{}' has no value.",
            c.name
        ))),
    }
}

/// A primary key as sent: names with values or markers.
pub type WirePk = Vec<(String, PbValue)>;

/// A PutRow / UpdateRow buffer: the primary key and the column operations. `update` allows
/// delete and increment cells.
pub fn row_change(bytes: Option<&[u8]>, update: bool) -> Result<(WirePk, Vec<ColumnOp>), OtsError> {
    let bytes = bytes.ok_or_else(|| OtsError::invalid("Missing required field: row."))?;
    let row = one_row(bytes)?;
    let cells = row.cells.clone();
    let pk = pk_of(row)?;
    let ops = cells
        .into_iter()
        .map(|c| {
            Ok(match c.op {
                None => ColumnOp::Put {
                    value: plain(&c)?,
                    name: c.name,
                    timestamp: c.timestamp,
                },
                Some(OP_DELETE_ONE_VERSION) if update => ColumnOp::DeleteOne {
                    timestamp: c.timestamp.ok_or_else(|| {
                        OtsError::invalid(format!(
                            "Deleting one version of '{}' needs a timestamp.",
                            c.name
                        ))
                    })?,
                    name: c.name,
                },
                Some(OP_DELETE_ALL_VERSIONS) if update => ColumnOp::DeleteAll { name: c.name },
                Some(OP_INCREMENT) if update => match plain(&c)? {
                    Value::Integer(by) => ColumnOp::Increment { name: c.name, by },
                    _ => {
                        return Err(OtsError::invalid(format!(
                            "The increment of '{}' must be an INTEGER.",
                            c.name
                        )));
                    }
                },
                Some(op) => {
                    return Err(OtsError::invalid(format!(
                        "Invalid operation type {op} for column '{}'.",
                        c.name
                    )));
                }
            })
        })
        .collect::<Result<Vec<_>, OtsError>>()?;
    Ok((pk, ops))
}

/// A serialized `Filter` message.
pub fn filter(bytes: &[u8]) -> Result<Filter, OtsError> {
    filter_at(bytes, 0)
}

fn filter_at(bytes: &[u8], depth: usize) -> Result<Filter, OtsError> {
    filter::check_depth(depth)?;
    let f: proto::Filter = decode(bytes)?;
    let inner = f.filter.unwrap_or_default();
    match f.r#type.unwrap_or(0) {
        1 => {
            let s: proto::SingleColumnValueFilter = decode(&inner)?;
            let transform = match s.value_trans_rule {
                None => None,
                Some(rule) => {
                    let cast = match rule.cast_type.unwrap_or(3) {
                        0 => filter::CastType::Integer,
                        1 => filter::CastType::Double,
                        3 => filter::CastType::String,
                        n => return Err(OtsError::invalid(format!("Invalid cast type {n}."))),
                    };
                    Some(filter::Transform::new(
                        &required(rule.regex, "regex")?,
                        cast,
                    )?)
                }
            };
            let comparator = Comparator::from_wire(s.comparator.unwrap_or(0))
                .ok_or_else(|| OtsError::invalid("Invalid comparator type."))?;
            let value = match s.column_value.as_deref().map(decode_value) {
                Some(Ok(PbValue::Plain(v))) => v,
                None if matches!(comparator, Comparator::Exist | Comparator::NotExist) => {
                    Value::Boolean(true)
                }
                _ => return Err(OtsError::invalid("Invalid column value in filter.")),
            };
            Ok(Filter::Single {
                comparator,
                column: required(s.column_name, "column_name")?,
                value,
                filter_if_missing: s.filter_if_missing.unwrap_or(false),
                latest_version_only: s.latest_version_only.unwrap_or(true),
                transform,
            })
        }
        2 => {
            let c: proto::CompositeColumnValueFilter = decode(&inner)?;
            let subs = c
                .sub_filters
                .iter()
                .map(|s| filter_at(&s.encode_to_vec(), depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            if subs.is_empty() {
                return Err(OtsError::invalid("A composite filter needs sub-filters."));
            }
            match c.combinator.unwrap_or(0) {
                1 if subs.len() == 1 => Ok(Filter::Not(Box::new(
                    subs.into_iter()
                        .next()
                        .ok_or_else(|| OtsError::invalid("empty NOT"))?,
                ))),
                1 => Err(OtsError::invalid("LO_NOT takes exactly one sub-filter.")),
                2 => Ok(Filter::And(subs)),
                3 => Ok(Filter::Or(subs)),
                _ => Err(OtsError::invalid("Invalid logical operator.")),
            }
        }
        3 => Err(OtsError::invalid(
            "ColumnPaginationFilter can only be the whole filter of a read.",
        )),
        t => Err(OtsError::invalid(format!("Invalid filter type {t}."))),
    }
}

/// `Some((offset, limit))` when a read filter is a ColumnPaginationFilter.
fn column_page(bytes: &[u8]) -> Result<Option<(usize, usize)>, OtsError> {
    let f: proto::Filter = decode(bytes)?;
    if f.r#type != Some(3) {
        return Ok(None);
    }
    let p: proto::ColumnPaginationFilter = decode(&f.filter.unwrap_or_default())?;
    let (Ok(offset), Ok(limit)) = (
        usize::try_from(p.offset.unwrap_or(0)),
        usize::try_from(p.limit.unwrap_or(0)),
    ) else {
        return Err(OtsError::invalid(
            "The offset and limit of ColumnPaginationFilter must not be negative.",
        ));
    };
    Ok(Some((offset, limit)))
}

/// A protobuf `Condition`.
pub fn condition(c: Option<proto::Condition>) -> Result<Condition, OtsError> {
    let Some(c) = c else {
        return Ok(Condition::default());
    };
    let existence = match c.row_existence {
        0 => Existence::Ignore,
        1 => Existence::ExpectExist,
        2 => Existence::ExpectNotExist,
        n => return Err(OtsError::invalid(format!("Invalid row existence {n}."))),
    };
    let filter = match c.column_condition.as_deref() {
        Some(b) if !b.is_empty() => Some(filter(b)?),
        _ => None,
    };
    Ok(Condition { existence, filter })
}

/// Whether the response should carry the primary key (RT_PK, RT_AFTER_MODIFY).
pub fn returns_pk(rc: &Option<proto::ReturnContent>) -> bool {
    rc.as_ref()
        .and_then(|r| r.return_type)
        .is_some_and(|t| t == 1 || t == 2)
}

/// The read options shared by GetRow, BatchGetRow and GetRange.
pub fn read_spec(
    columns: Vec<String>,
    time_range: Option<proto::TimeRange>,
    max_versions: Option<i32>,
    filter_bytes: Option<Vec<u8>>,
    start_column: Option<String>,
    end_column: Option<String>,
) -> Result<ReadSpec, OtsError> {
    if columns.len() > 128 {
        return Err(OtsError::invalid(
            "The number of columns to get is over the limit: 128.",
        ));
    }
    let time_range = match time_range {
        None => None,
        Some(proto::TimeRange {
            specific_time: Some(t),
            ..
        }) => Some((t, t.saturating_add(1))),
        Some(r) => {
            let (s, e) = (r.start_time.unwrap_or(0), r.end_time.unwrap_or(i64::MAX));
            if s >= e {
                return Err(OtsError::invalid(
                    "The start time must be less than the end time.",
                ));
            }
            Some((s, e))
        }
    };
    if max_versions.is_some_and(|m| m <= 0) {
        return Err(OtsError::invalid("MaxVersions must be greater than 0."));
    }
    let mut columns = columns;
    columns.dedup();
    let (filter, column_page) = match filter_bytes.as_deref() {
        Some(b) if !b.is_empty() => match column_page(b)? {
            Some(page) => (None, Some(page)),
            None => (Some(filter(b)?), None),
        },
        _ => (None, None),
    };
    Ok(ReadSpec {
        columns,
        max_versions,
        time_range,
        filter,
        start_column,
        end_column,
        column_page,
    })
}

/// A row as reads return it: primary key, then every version with its timestamp.
pub fn pb_row(r: &Row) -> PbRow {
    PbRow {
        primary_key: r
            .primary_key
            .iter()
            .map(|(n, v)| PbCell::plain(n.clone(), v.clone()))
            .collect(),
        cells: r
            .cells
            .iter()
            .map(|c| PbCell {
                name: c.name.clone(),
                value: Some(PbValue::Plain(c.value.clone())),
                op: None,
                timestamp: Some(c.timestamp),
            })
            .collect(),
        ..PbRow::default()
    }
}
