//! GetLogs and GetHistograms over stored log groups: flatten each log into a row, keep those in
//! the time range, topic and search expression, order them by time, then page or count.

use serde_json::{Map, Value};

use crate::SlsError;
use crate::model::{Histogram, LogQuery, LogsPage, Row};
use crate::proto::{LogGroup, decode_group};
use crate::query::matcher::{Tokenizers, matches};
use crate::query::{self, Analytic};
use crate::store::StoredGroup;

/// Most rows GetLogs returns for a search.
pub const MAX_LINES: u32 = 100;

/// Most buckets GetHistograms answers with.
const MAX_BUCKETS: i64 = 60;

/// A log that matched, with what orders it.
struct Hit {
    time: u32,
    time_ns: u32,
    order: (i64, u32, u64, usize),
    row: Row,
}

/// A group's logs as rows, each with its time.
pub fn rows_of(group: &LogGroup) -> Vec<(u32, u32, Row)> {
    group
        .logs
        .iter()
        .map(|log| {
            let mut row: Row = Vec::with_capacity(log.contents.len() + group.log_tags.len() + 3);
            row.push(("__time__".into(), log.time.to_string()));
            row.push(("__topic__".into(), group.topic.clone().unwrap_or_default()));
            row.push((
                "__source__".into(),
                group.source.clone().unwrap_or_default(),
            ));
            for t in &group.log_tags {
                row.push((format!("__tag__:{}", t.key), t.value.clone()));
            }
            for c in &log.contents {
                match row.iter_mut().find(|(k, _)| *k == c.key) {
                    Some(slot) => slot.1 = c.value.clone(),
                    None => row.push((c.key.clone(), c.value.clone())),
                }
            }
            (log.time, log.time_ns.unwrap_or(0), row)
        })
        .collect()
}

fn check_range(q: &LogQuery) -> Result<(), SlsError> {
    if q.from < 0 {
        return Err(SlsError::ParameterInvalid(
            "The parameter from must be a positive integer".into(),
        ));
    }
    if q.to < q.from {
        return Err(SlsError::ParameterInvalid(
            "The parameter to must not be less than from".into(),
        ));
    }
    Ok(())
}

fn hits(
    groups: &[StoredGroup],
    q: &LogQuery,
    expr: &query::Expr,
    index: Option<&Map<String, Value>>,
) -> Vec<Hit> {
    let tk = Tokenizers::from_index(index);
    let mut hits = Vec::new();
    for g in groups {
        // Stored groups were encoded by the service; one that does not decode is skipped.
        let Ok(group) = decode_group(&g.data) else {
            continue;
        };
        if !q.topic.is_empty() && group.topic.as_deref().unwrap_or("") != q.topic {
            continue;
        }
        for (i, (time, time_ns, row)) in rows_of(&group).into_iter().enumerate() {
            let t = i64::from(time);
            if t < q.from || t >= q.to || !matches(expr, &row, &tk) {
                continue;
            }
            hits.push(Hit {
                time,
                time_ns,
                order: (g.received_ms, g.shard, g.seq, i),
                row,
            });
        }
    }
    hits.sort_by_key(|h| (h.time, h.time_ns, h.order));
    hits
}

/// Answers GetLogs over `groups` (those of the logstore that may hold logs in the range).
pub fn get_logs(
    groups: &[StoredGroup],
    q: &LogQuery,
    index: Option<&Map<String, Value>>,
) -> Result<LogsPage, SlsError> {
    check_range(q)?;
    let parsed = query::parse(&q.query)?;
    let mut hits = hits(groups, q, &parsed.search, index);
    let matched = hits.len() as u64;
    let mut page = LogsPage {
        rows: Vec::new(),
        keys: Vec::new(),
        processed: matched,
        has_sql: parsed.analytic.is_some(),
        where_query: parsed.search_text.clone(),
        agg_query: parsed.analytic_text.clone(),
    };
    if let Some(Analytic::Count { alias }) = parsed.analytic {
        page.rows = vec![vec![(alias.clone(), matched.to_string())]];
        page.keys = vec![alias];
        return Ok(page);
    }
    if q.reverse {
        hits.reverse();
    }
    let line = match q.line {
        0 => MAX_LINES,
        n => n.min(MAX_LINES),
    } as usize;
    let offset = usize::try_from(q.offset).unwrap_or(usize::MAX);
    page.rows = hits
        .into_iter()
        .skip(offset)
        .take(line)
        .map(|h| h.row)
        .collect();
    for row in &page.rows {
        for (k, _) in row {
            if !k.starts_with("__") && !page.keys.contains(k) {
                page.keys.push(k.clone());
            }
        }
    }
    Ok(page)
}

/// Bucket width for a range: the smallest "round" width giving at most [`MAX_BUCKETS`] buckets.
fn interval(span: i64) -> i64 {
    const NICE: &[i64] = &[
        1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
    ];
    NICE.iter()
        .copied()
        .find(|w| span.div_euclid(*w) < MAX_BUCKETS)
        .unwrap_or_else(|| (span / MAX_BUCKETS).max(1) + 1)
}

/// Answers GetHistograms: buckets tiling `[from, to)` with the count of matching logs in each
/// (the analytic part of the query, if any, is ignored).
pub fn histograms(
    groups: &[StoredGroup],
    q: &LogQuery,
    index: Option<&Map<String, Value>>,
) -> Result<Vec<Histogram>, SlsError> {
    check_range(q)?;
    let parsed = query::parse(&q.query)?;
    let span = q.to - q.from;
    if span == 0 {
        return Ok(vec![Histogram {
            from: q.from,
            to: q.to,
            count: 0,
        }]);
    }
    let width = interval(span);
    let mut buckets: Vec<Histogram> = Vec::new();
    let mut start = q.from;
    while start < q.to {
        let end = start.saturating_add(width).min(q.to);
        buckets.push(Histogram {
            from: start,
            to: end,
            count: 0,
        });
        start = end;
    }
    for h in hits(groups, q, &parsed.search, index) {
        let i = ((i64::from(h.time) - q.from) / width) as usize;
        if let Some(b) = buckets.get_mut(i) {
            b.count += 1;
        }
    }
    Ok(buckets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Log, LogTag};
    use prost::Message;

    fn stored(seq: u64, topic: &str, logs: Vec<Log>) -> StoredGroup {
        let g = LogGroup {
            logs,
            topic: Some(topic.into()),
            source: Some("src".into()),
            log_tags: vec![LogTag {
                key: "k".into(),
                value: "v".into(),
            }],
            ..Default::default()
        };
        StoredGroup {
            shard: 0,
            seq,
            received_ms: seq as i64,
            data: g.encode_to_vec(),
        }
    }

    fn groups() -> Vec<StoredGroup> {
        vec![
            stored(
                0,
                "t1",
                vec![
                    Log::new(110, [("level", "INFO"), ("msg", "b")]),
                    Log::new(100, [("level", "ERROR"), ("msg", "a")]),
                ],
            ),
            stored(
                1,
                "t2",
                vec![Log::new(120, [("level", "INFO"), ("msg", "c")])],
            ),
        ]
    }

    fn q(query: &str) -> LogQuery {
        LogQuery {
            from: 100,
            to: 200,
            query: query.into(),
            topic: String::new(),
            line: 100,
            offset: 0,
            reverse: false,
        }
    }

    fn msgs(p: &LogsPage) -> Vec<&str> {
        p.rows
            .iter()
            .map(|r| {
                r.iter()
                    .find(|(k, _)| k == "msg")
                    .map(|(_, v)| v.as_str())
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn orders_filters_and_pages() {
        let g = groups();
        let p = get_logs(&g, &q("*"), None).unwrap();
        assert_eq!(msgs(&p), ["a", "b", "c"]);
        assert_eq!(p.keys, ["level", "msg"]);
        assert_eq!(
            p.rows[0][..4].to_vec(),
            vec![
                ("__time__".to_string(), "100".to_string()),
                ("__topic__".to_string(), "t1".to_string()),
                ("__source__".to_string(), "src".to_string()),
                ("__tag__:k".to_string(), "v".to_string()),
            ]
        );
        let p = get_logs(&g, &q("level: info"), None).unwrap();
        assert_eq!(msgs(&p), ["b", "c"]);
        let mut r = q("*");
        r.reverse = true;
        r.line = 1;
        r.offset = 1;
        assert_eq!(msgs(&get_logs(&g, &r, None).unwrap()), ["b"]);
        let mut r = q("*");
        r.from = 101;
        r.to = 120;
        assert_eq!(msgs(&get_logs(&g, &r, None).unwrap()), ["b"]);
        let mut r = q("*");
        r.topic = "t2".into();
        assert_eq!(msgs(&get_logs(&g, &r, None).unwrap()), ["c"]);
    }

    #[test]
    fn count_and_histograms() {
        let g = groups();
        let p = get_logs(&g, &q("level: INFO | select count(*) as n"), None).unwrap();
        assert!(p.has_sql);
        assert_eq!(p.rows, vec![vec![("n".to_string(), "2".to_string())]]);
        let h = histograms(&g, &q("*"), None).unwrap();
        assert_eq!(h.first().unwrap().from, 100);
        assert_eq!(h.last().unwrap().to, 200);
        assert!(h.windows(2).all(|w| w[0].to == w[1].from));
        assert_eq!(h.iter().map(|b| b.count).sum::<u64>(), 3);
        let mut bad = q("*");
        bad.from = -1;
        assert!(get_logs(&g, &bad, None).is_err());
    }
}
