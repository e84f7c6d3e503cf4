//! Column conditions and read filters (reference §3.3, §5.3): single-column comparisons and
//! NOT / AND / OR combinations, evaluated against a row's visible cell versions.

use std::cmp::Ordering;

use crate::OtsError;
use crate::model::{Cell, Value};

/// Comparison of a single-column filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparator {
    /// `==`
    Equal,
    /// `!=`
    NotEqual,
    /// `>`
    GreaterThan,
    /// `>=`
    GreaterEqual,
    /// `<`
    LessThan,
    /// `<=`
    LessEqual,
    /// The column exists.
    Exist,
    /// The column does not exist.
    NotExist,
}

impl Comparator {
    /// From the protobuf `ComparatorType` number.
    pub fn from_wire(n: i32) -> Option<Self> {
        Some(match n {
            1 => Self::Equal,
            2 => Self::NotEqual,
            3 => Self::GreaterThan,
            4 => Self::GreaterEqual,
            5 => Self::LessThan,
            6 => Self::LessEqual,
            7 => Self::Exist,
            8 => Self::NotExist,
            _ => return None,
        })
    }
}

/// What a regex condition compares: the regex's first capture group (or whole match) of a
/// STRING column, cast to this type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CastType {
    /// Parse as a 64-bit integer.
    Integer,
    /// Parse as a double.
    Double,
    /// Keep the text.
    String,
}

/// A compiled `value_trans_rule`.
#[derive(Clone, Debug)]
pub struct Transform {
    /// The regex.
    pub regex: regex::Regex,
    /// What the extracted text becomes.
    pub cast: CastType,
}

impl PartialEq for Transform {
    fn eq(&self, other: &Self) -> bool {
        self.regex.as_str() == other.regex.as_str() && self.cast == other.cast
    }
}

impl Transform {
    /// Compiles a rule; large or invalid patterns are a parameter error.
    pub fn new(pattern: &str, cast: CastType) -> Result<Self, OtsError> {
        let regex = regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .dfa_size_limit(1 << 20)
            .build()
            .map_err(|e| OtsError::invalid(format!("Invalid regex in column condition: {e}")))?;
        Ok(Self { regex, cast })
    }

    fn apply(&self, v: &Value) -> Option<Value> {
        let Value::String(s) = v else { return None };
        let caps = self.regex.captures(s)?;
        let text = caps.get(1).or_else(|| caps.get(0))?.as_str();
        match self.cast {
            CastType::Integer => text.trim().parse().ok().map(Value::Integer),
            CastType::Double => text.trim().parse().ok().map(Value::Double),
            CastType::String => Some(Value::String(text.to_owned())),
        }
    }
}

/// A column condition or read filter.
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    /// Compare one column with a constant.
    Single {
        /// The comparison.
        comparator: Comparator,
        /// Column name.
        column: String,
        /// The constant.
        value: Value,
        /// Whether a missing column fails the filter.
        filter_if_missing: bool,
        /// Whether only the newest version is compared (else any version may match).
        latest_version_only: bool,
        /// Regex extraction applied to the column's value before comparing.
        transform: Option<Transform>,
    },
    /// Negation of one sub-filter.
    Not(Box<Filter>),
    /// All sub-filters pass.
    And(Vec<Filter>),
    /// Any sub-filter passes.
    Or(Vec<Filter>),
}

/// Deepest nesting accepted, so a hostile filter cannot exhaust the stack.
pub const MAX_DEPTH: usize = 16;

fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Integer(x), Value::Integer(y)) => Some(x.cmp(y)),
        (Value::Double(x), Value::Double(y)) => x.partial_cmp(y),
        (Value::Integer(x), Value::Double(y)) => (*x as f64).partial_cmp(y),
        (Value::Double(x), Value::Integer(y)) => x.partial_cmp(&(*y as f64)),
        (Value::Boolean(x), Value::Boolean(y)) => Some(x.cmp(y)),
        (Value::String(x), Value::String(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Value::Binary(x), Value::Binary(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn matches(c: Comparator, o: Option<Ordering>) -> bool {
    match (c, o) {
        (_, None) => false,
        (Comparator::Equal, Some(o)) => o.is_eq(),
        (Comparator::NotEqual, Some(o)) => o.is_ne(),
        (Comparator::GreaterThan, Some(o)) => o.is_gt(),
        (Comparator::GreaterEqual, Some(o)) => o.is_ge(),
        (Comparator::LessThan, Some(o)) => o.is_lt(),
        (Comparator::LessEqual, Some(o)) => o.is_le(),
        (Comparator::Exist | Comparator::NotExist, Some(_)) => true,
    }
}

impl Filter {
    /// Whether a row with these cells (sorted by column, newest first) passes. Primary-key
    /// columns can be compared too.
    pub fn passes(&self, pk: &[(String, Value)], cells: &[Cell]) -> bool {
        match self {
            Filter::Not(f) => !f.passes(pk, cells),
            Filter::And(fs) => fs.iter().all(|f| f.passes(pk, cells)),
            Filter::Or(fs) => fs.iter().any(|f| f.passes(pk, cells)),
            Filter::Single {
                comparator,
                column,
                value,
                filter_if_missing,
                latest_version_only,
                transform,
            } => {
                let mut versions: Vec<&Value> = cells
                    .iter()
                    .filter(|c| &c.name == column)
                    .map(|c| &c.value)
                    .collect();
                if versions.is_empty() {
                    versions.extend(pk.iter().filter(|(n, _)| n == column).map(|(_, v)| v));
                }
                match comparator {
                    Comparator::Exist => return !versions.is_empty(),
                    Comparator::NotExist => return versions.is_empty(),
                    _ => {}
                }
                if versions.is_empty() {
                    return !filter_if_missing;
                }
                if *latest_version_only {
                    versions.truncate(1);
                }
                versions.iter().any(|v| match transform {
                    None => matches(*comparator, compare(v, value)),
                    Some(t) => t
                        .apply(v)
                        .is_some_and(|v| matches(*comparator, compare(&v, value))),
                })
            }
        }
    }

    /// Column names the filter reads.
    pub fn columns(&self) -> Vec<&str> {
        match self {
            Filter::Single { column, .. } => vec![column.as_str()],
            Filter::Not(f) => f.columns(),
            Filter::And(fs) | Filter::Or(fs) => fs.iter().flat_map(|f| f.columns()).collect(),
        }
    }
}

/// Rejects filters nested deeper than [`MAX_DEPTH`].
pub fn check_depth(depth: usize) -> Result<(), OtsError> {
    if depth > MAX_DEPTH {
        Err(OtsError::invalid("The filter is nested too deeply."))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(name: &str, v: Value, ts: i64) -> Cell {
        Cell {
            name: name.into(),
            value: v,
            timestamp: ts,
        }
    }

    fn single(c: Comparator, col: &str, v: Value, missing_fails: bool) -> Filter {
        Filter::Single {
            comparator: c,
            column: col.into(),
            value: v,
            filter_if_missing: missing_fails,
            latest_version_only: true,
            transform: None,
        }
    }

    #[test]
    fn regex_conditions_extract_and_cast() {
        let cells = vec![cell("s", Value::String("id=42;x".into()), 1)];
        let f = |cast, v| Filter::Single {
            comparator: Comparator::GreaterThan,
            column: "s".into(),
            value: v,
            filter_if_missing: true,
            latest_version_only: true,
            transform: Some(Transform::new(r"id=(\d+)", cast).unwrap()),
        };
        assert!(f(CastType::Integer, Value::Integer(41)).passes(&[], &cells));
        assert!(!f(CastType::Integer, Value::Integer(42)).passes(&[], &cells));
        assert!(f(CastType::Double, Value::Double(41.5)).passes(&[], &cells));
        assert!(f(CastType::String, Value::String("41".into())).passes(&[], &cells));
        assert!(Transform::new("(", CastType::String).is_err());
    }

    #[test]
    fn single_and_composite() {
        let cells = vec![
            cell("n", Value::Integer(7), 2),
            cell("n", Value::Integer(1), 1),
        ];
        let gt5 = single(Comparator::GreaterThan, "n", Value::Integer(5), true);
        assert!(gt5.passes(&[], &cells));
        let lt5 = single(Comparator::LessThan, "n", Value::Integer(5), true);
        assert!(!lt5.passes(&[], &cells));
        assert!(Filter::Or(vec![gt5.clone(), lt5.clone()]).passes(&[], &cells));
        assert!(!Filter::And(vec![gt5.clone(), lt5.clone()]).passes(&[], &cells));
        assert!(Filter::Not(Box::new(lt5)).passes(&[], &cells));
        let missing = single(Comparator::Equal, "m", Value::Integer(1), false);
        assert!(missing.passes(&[], &cells));
        let missing = single(Comparator::Equal, "m", Value::Integer(1), true);
        assert!(!missing.passes(&[], &cells));
        let text = single(Comparator::Equal, "n", Value::String("7".into()), true);
        assert!(!text.passes(&[], &cells));
        let dbl = single(Comparator::Equal, "n", Value::Double(7.0), true);
        assert!(dbl.passes(&[], &cells));
    }
}
