//! What a read or a condition sees of a stored row: TTL, the table's version limit, then the
//! request's projection (columns, versions, time range, column range, filter).

use rusqlite::Connection;

use super::ReadSpec;
use crate::OtsError;
use crate::model::{Cell, Row, TableInfo, Value};
use crate::store::{self, RowRef};

/// The current state of a row as conditions and reads see it.
pub(crate) struct Current {
    pub(crate) exists: bool,
    /// Visible versions (TTL and table max_versions applied), by column, newest first.
    pub(crate) cells: Vec<Cell>,
}

pub(crate) fn current(
    tx: &Connection,
    t: &TableInfo,
    r: RowRef<'_>,
    now_ms: i64,
) -> Result<Current, OtsError> {
    if store::row_pk(tx, r)?.is_none() {
        return Ok(Current {
            exists: false,
            cells: Vec::new(),
        });
    }
    let stored = store::row_cells(tx, r)?;
    let had_cells = !stored.is_empty();
    let cells = visible(t, stored, now_ms);
    Ok(Current {
        exists: !had_cells || !cells.is_empty(),
        cells,
    })
}

/// Applies TTL and the table's version limit to stored versions.
pub(crate) fn visible(t: &TableInfo, stored: Vec<(String, i64, Value)>, now_ms: i64) -> Vec<Cell> {
    let oldest = if t.options.time_to_live > 0 {
        now_ms.saturating_sub(i64::from(t.options.time_to_live).saturating_mul(1000))
    } else {
        i64::MIN
    };
    let keep = usize::try_from(t.options.max_versions.max(1)).unwrap_or(1);
    let mut out: Vec<Cell> = Vec::new();
    let mut column: Option<String> = None;
    let mut in_col = 0usize;
    for (name, ts, value) in stored {
        if column.as_ref() != Some(&name) {
            column = Some(name.clone());
            in_col = 0;
        }
        // Versions beyond the newest `keep` are gone even if younger ones expired.
        in_col += 1;
        if ts < oldest || in_col > keep {
            continue;
        }
        out.push(Cell {
            name,
            value,
            timestamp: ts,
        });
    }
    out
}

/// Projects a row for a read; `None` when the read returns no row.
pub(crate) fn project(
    t: &TableInfo,
    pk: Vec<(String, Value)>,
    cells: Vec<Cell>,
    spec: &ReadSpec,
) -> Option<Row> {
    if let Some(f) = &spec.filter
        && !f.passes(&pk, &cells)
    {
        return None;
    }
    let max = match (spec.max_versions, spec.time_range) {
        (Some(n), _) => usize::try_from(n.max(1)).unwrap_or(1),
        (None, Some(_)) => usize::MAX,
        (None, None) => 1,
    };
    let (from, to) = spec.time_range.unwrap_or((i64::MIN, i64::MAX));
    let mut out: Vec<Cell> = Vec::new();
    let mut count = 0usize;
    for c in cells {
        if !spec.columns.is_empty() && !spec.columns.contains(&c.name) {
            continue;
        }
        if spec.start_column.as_ref().is_some_and(|s| c.name < *s)
            || spec.end_column.as_ref().is_some_and(|e| c.name >= *e)
        {
            continue;
        }
        if c.timestamp < from || c.timestamp >= to {
            continue;
        }
        if out.last().is_none_or(|l| l.name != c.name) {
            count = 0;
        }
        if count >= max {
            continue;
        }
        count += 1;
        out.push(c);
    }
    if let Some((offset, limit)) = spec.column_page {
        let mut names: Vec<&str> = out.iter().map(|c| c.name.as_str()).collect();
        names.dedup();
        let keep: Vec<String> = names
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(str::to_owned)
            .collect();
        out.retain(|c| keep.contains(&c.name));
    }
    let asks_pk = spec
        .columns
        .iter()
        .any(|c| t.primary_key.iter().any(|p| &p.name == c));
    if out.is_empty() && !spec.columns.is_empty() && !asks_pk {
        return None;
    }
    Some(Row {
        primary_key: pk,
        cells: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PkColumnSchema, PkType, TableOptions};

    fn table(max_versions: i32, ttl: i32) -> TableInfo {
        TableInfo {
            name: "t".into(),
            primary_key: vec![PkColumnSchema {
                name: "id".into(),
                ty: PkType::String,
                auto_increment: false,
            }],
            defined_columns: vec![],
            reserved_read: 0,
            reserved_write: 0,
            options: TableOptions {
                max_versions,
                time_to_live: ttl,
                ..TableOptions::default()
            },
            stream: None,
            created_s: 0,
            throughput_changed_s: 0,
        }
    }

    fn stored() -> Vec<(String, i64, Value)> {
        vec![
            ("a".into(), 9_000, Value::Integer(3)),
            ("a".into(), 8_000, Value::Integer(2)),
            ("a".into(), 1_000, Value::Integer(1)),
            ("b".into(), 2_000, Value::Integer(7)),
        ]
    }

    #[test]
    fn versions_and_ttl_decide_what_is_visible() {
        let ts = |cells: Vec<Cell>| {
            cells
                .iter()
                .map(|c| (c.name.clone(), c.timestamp))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ts(visible(&table(2, -1), stored(), 10_000)),
            vec![
                ("a".into(), 9_000),
                ("a".into(), 8_000),
                ("b".into(), 2_000)
            ]
        );
        // TTL 5 s at 10 s: only versions from 5 s on live.
        assert_eq!(
            ts(visible(&table(5, 5), stored(), 10_000)),
            vec![("a".into(), 9_000), ("a".into(), 8_000)]
        );
    }

    #[test]
    fn projection_applies_columns_versions_and_time_range() {
        let t = table(3, -1);
        let pk = vec![("id".to_string(), Value::String("k".into()))];
        let cells = visible(&t, stored(), 10_000);
        let spec = ReadSpec {
            max_versions: Some(1),
            ..ReadSpec::default()
        };
        let row = project(&t, pk.clone(), cells.clone(), &spec).unwrap();
        assert_eq!(row.cells.len(), 2);
        let spec = ReadSpec {
            time_range: Some((1_500, 8_500)),
            ..ReadSpec::default()
        };
        let row = project(&t, pk.clone(), cells.clone(), &spec).unwrap();
        let got: Vec<i64> = row.cells.iter().map(|c| c.timestamp).collect();
        assert_eq!(got, vec![8_000, 2_000]);
        let spec = ReadSpec {
            columns: vec!["zzz".into()],
            ..ReadSpec::default()
        };
        assert!(project(&t, pk.clone(), cells.clone(), &spec).is_none());
        let spec = ReadSpec {
            column_page: Some((1, 5)),
            ..ReadSpec::default()
        };
        let row = project(&t, pk.clone(), cells.clone(), &spec).unwrap();
        let names: Vec<&str> = row.cells.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["b"]);
        let spec = ReadSpec {
            columns: vec!["id".into()],
            ..ReadSpec::default()
        };
        assert_eq!(project(&t, pk, cells, &spec).unwrap().cells, vec![]);
    }
}
