//! GetLogs and GetHistograms over stored log groups: flatten each log into a row, keep those in
//! the time range, topic and search expression, order them by time, then page or count.

use serde_json::{Map, Value};

use crate::SlsError;
use crate::model::{Histogram, LogQuery, LogsPage, Row};
use crate::proto::{LogGroup, decode_group};
use crate::query;
use crate::query::matcher::{Tokenizers, matches};
use crate::store::StoredGroup;

/// Most rows GetLogs returns for a search.
pub const MAX_LINES: u32 = 100;

/// Most buckets an explicit GetHistograms `interval` may produce.
pub const MAX_REQUESTED_BUCKETS: i64 = 10_000;

/// Most buckets GetHistograms answers with when it chooses the width.
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

/// A GetLogs / GetHistograms pass over stored groups, fed in batches so a large logstore is
/// never loaded at once. Only the rows the answer can need are kept: none for counts and
/// histograms, the first `offset + line` in the requested order for a search.
pub struct Scan {
    q: LogQuery,
    parsed: query::Query,
    /// The logstore's index (column types of analytic queries).
    index: Option<Map<String, Value>>,
    tk: Tokenizers,
    keep_rows: bool,
    /// Bucket width asked for by GetHistograms (`interval`), in seconds.
    interval: Option<i64>,
    /// Rows that can still be on the page (search) or every matching time (counts).
    hits: Vec<Hit>,
    matched: u64,
}

impl Scan {
    fn start(
        q: LogQuery,
        index: Option<&Map<String, Value>>,
        keep_rows: bool,
    ) -> Result<Self, SlsError> {
        check_range(&q)?;
        let parsed = query::parse(&q.query)?;
        Ok(Self {
            tk: Tokenizers::from_index(index),
            index: index.cloned(),
            q,
            parsed,
            keep_rows,
            interval: None,
            hits: Vec::new(),
            matched: 0,
        })
    }

    /// A scan answering GetLogs.
    pub fn for_logs(q: LogQuery, index: Option<&Map<String, Value>>) -> Result<Self, SlsError> {
        Self::start(q, index, true)
    }

    /// A scan answering GetHistograms (the analytic part, if any, is ignored).
    pub fn for_histograms(
        q: LogQuery,
        index: Option<&Map<String, Value>>,
    ) -> Result<Self, SlsError> {
        Self::start(q, index, false)
    }

    /// Buckets `seconds` wide (GetHistograms' `interval`), when that gives at most
    /// [`MAX_REQUESTED_BUCKETS`] buckets; otherwise the width is chosen as without it.
    pub fn with_interval(mut self, seconds: Option<i64>) -> Self {
        self.interval = seconds.filter(|w| *w > 0);
        self
    }

    fn page_limit(&self) -> usize {
        usize::try_from(self.q.offset)
            .unwrap_or(usize::MAX)
            .saturating_add(line(self.q.line))
    }

    /// Looks at more groups.
    pub fn add(&mut self, groups: &[StoredGroup]) {
        for g in groups {
            // Stored groups were encoded by the service; one that does not decode is skipped.
            let Ok(group) = decode_group(&g.data) else {
                continue;
            };
            if !self.q.topic.is_empty() && group.topic.as_deref().unwrap_or("") != self.q.topic {
                continue;
            }
            for (i, (time, time_ns, row)) in rows_of(&group).into_iter().enumerate() {
                let t = i64::from(time);
                if t < self.q.from
                    || t >= self.q.to
                    || !matches(&self.parsed.search, &row, &self.tk)
                {
                    continue;
                }
                self.matched += 1;
                self.hits.push(Hit {
                    time,
                    time_ns,
                    order: (g.received_ms, g.shard, g.seq, i),
                    row: if self.keep_rows { row } else { Vec::new() },
                });
            }
        }
        let limit = self.page_limit();
        // An analytic query reads every matching row; a search only its page.
        if self.keep_rows
            && self.parsed.analytic.is_none()
            && self.hits.len() > limit.saturating_mul(2).max(1024)
        {
            self.sort();
            self.hits.truncate(limit);
        }
    }

    fn sort(&mut self) {
        if self.q.reverse {
            self.hits
                .sort_by_key(|h| std::cmp::Reverse((h.time, h.time_ns, h.order)));
        } else {
            self.hits.sort_by_key(|h| (h.time, h.time_ns, h.order));
        }
    }

    /// GetLogs' answer; `now` is the service's clock (the analytic part's `now()`).
    pub fn logs(mut self, now: time::OffsetDateTime) -> Result<LogsPage, SlsError> {
        let mut page = LogsPage {
            rows: Vec::new(),
            keys: Vec::new(),
            processed: self.matched,
            has_sql: self.parsed.analytic.is_some(),
            where_query: self.parsed.search_text.clone(),
            agg_query: self.parsed.analytic_text.clone(),
        };
        if let Some(analytic) = self.parsed.analytic.take() {
            self.sort();
            let rows: Vec<Row> = self.hits.into_iter().map(|h| h.row).collect();
            let (keys, rows) = crate::analytic::run(&analytic, &rows, self.index.as_ref(), now)?;
            page.keys = keys;
            page.rows = rows;
            return Ok(page);
        }
        self.sort();
        let offset = usize::try_from(self.q.offset).unwrap_or(usize::MAX);
        page.rows = self
            .hits
            .into_iter()
            .skip(offset)
            .take(line(self.q.line))
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

    /// GetHistograms' answer: buckets tiling `[from, to)`.
    pub fn histograms(self) -> Vec<Histogram> {
        let (from, to) = (self.q.from, self.q.to);
        let span = to - from;
        if span == 0 {
            return vec![Histogram { from, to, count: 0 }];
        }
        let width = self
            .interval
            .filter(|w| span / w < MAX_REQUESTED_BUCKETS)
            .unwrap_or_else(|| interval(span));
        let mut buckets: Vec<Histogram> = Vec::new();
        let mut start = from;
        while start < to {
            let end = start.saturating_add(width).min(to);
            buckets.push(Histogram {
                from: start,
                to: end,
                count: 0,
            });
            start = end;
        }
        for h in &self.hits {
            let i = ((i64::from(h.time) - from) / width) as usize;
            if let Some(b) = buckets.get_mut(i) {
                b.count += 1;
            }
        }
        buckets
    }
}

fn line(requested: u32) -> usize {
    (match requested {
        0 => MAX_LINES,
        n => n.min(MAX_LINES),
    }) as usize
}

/// Answers GetLogs over `groups` in one go (see [`Scan`] for batches).
pub fn get_logs(
    groups: &[StoredGroup],
    q: &LogQuery,
    index: Option<&Map<String, Value>>,
) -> Result<LogsPage, SlsError> {
    let mut scan = Scan::for_logs(q.clone(), index)?;
    scan.add(groups);
    scan.logs(time::OffsetDateTime::now_utc())
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

/// Answers GetHistograms over `groups` in one go: buckets tiling `[from, to)` with the count of
/// matching logs in each (the analytic part of the query, if any, is ignored).
pub fn histograms(
    groups: &[StoredGroup],
    q: &LogQuery,
    index: Option<&Map<String, Value>>,
) -> Result<Vec<Histogram>, SlsError> {
    let mut scan = Scan::for_histograms(q.clone(), index)?;
    scan.add(groups);
    Ok(scan.histograms())
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
        let every_ten = Scan::for_histograms(q("*"), None)
            .unwrap()
            .with_interval(Some(10))
            .histograms();
        assert_eq!(every_ten.len(), 10);
        assert_eq!((every_ten[0].from, every_ten[0].to), (100, 110));
        let mut bad = q("*");
        bad.from = -1;
        assert!(get_logs(&g, &bad, None).is_err());
    }

    #[test]
    fn batched_scans_keep_only_what_the_page_needs() {
        // 3000 logs in 300 groups, times descending so order must come from sorting.
        let all: Vec<StoredGroup> = (0..300u32)
            .map(|g| {
                let logs = (0..10u32)
                    .map(|i| {
                        let n = g * 10 + i;
                        Log::new(10_000 - n, [("n", n.to_string())])
                    })
                    .collect();
                stored(u64::from(g), "t", logs)
            })
            .collect();
        for reverse in [false, true] {
            for offset in [0u64, 1500, 2995] {
                let mut q = q("*");
                (q.from, q.to, q.reverse, q.offset, q.line) = (0, 20_000, reverse, offset, 10);
                let mut scan = Scan::for_logs(q.clone(), None).unwrap();
                for batch in all.chunks(7) {
                    scan.add(batch);
                }
                let bound = (2 * (offset as usize + 10)).max(1024) + 70;
                assert!(scan.hits.len() <= bound);
                let page = scan.logs(time::OffsetDateTime::UNIX_EPOCH).unwrap();
                assert_eq!(page.processed, 3000);
                assert_eq!(page, get_logs(&all, &q, None).unwrap());
                let first: u32 = page.rows[0]
                    .iter()
                    .find(|(k, _)| k == "n")
                    .map(|(_, v)| v.parse().unwrap())
                    .unwrap();
                let expected = if reverse {
                    offset as u32
                } else {
                    2999 - offset as u32
                };
                assert_eq!(first, expected, "reverse={reverse} offset={offset}");
                assert_eq!(page.rows.len(), (3000 - offset as usize).min(10));
            }
        }
    }
}
