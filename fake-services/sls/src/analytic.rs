//! Runs the analytic part of a query on SQLite: the rows the search part selected become table
//! `log` of a private in-memory database (a column per key; `__time__` and keys indexed as
//! `long` are integers, `double` keys reals, the rest text), the dialect's functions SQLite lacks
//! are registered on it, and the answer comes back as the rows of strings GetLogs returns.
//!
//! The statement must be read-only (no `ATTACH`, no writes) and is stopped after
//! [`TIME_LIMIT`].

use std::time::{Duration, Instant};

use rusqlite::functions::{Aggregate, Context, FunctionFlags};
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, params_from_iter};
use serde_json::Map;
use time::OffsetDateTime;

use crate::SlsError;
use crate::model::Row;
use crate::query::Analytic;

/// How long one analytic query may run.
pub const TIME_LIMIT: Duration = Duration::from_secs(10);

/// Column types from the logstore's index: `long` keys are integers, `double` keys reals.
fn column_type(key: &str, index: Option<&Map<String, serde_json::Value>>) -> &'static str {
    if key == "__time__" {
        return "INTEGER";
    }
    let ty = index
        .and_then(|i| i.get("keys"))
        .and_then(|k| k.get(key))
        .and_then(|k| k.get("type"))
        .and_then(serde_json::Value::as_str);
    match ty {
        Some("long") => "INTEGER",
        Some("double") => "REAL",
        _ => "TEXT",
    }
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn sql_error(e: rusqlite::Error) -> SlsError {
    let text = e.to_string();
    // SQLite: "no such column: x in <sql> at offset N"; the service: "Column 'x' cannot be
    // resolved".
    let text = text
        .strip_prefix("no such column: ")
        .map(|c| {
            let name = c.split(" in ").next().unwrap_or(c);
            format!("Column '{name}' cannot be resolved")
        })
        .unwrap_or(text);
    SlsError::ParameterInvalid(format!("fcemu: the analytic query failed: {text}"))
}

/// The answer of `analytic` over `rows`: column names and rows of strings. `now` is what
/// `now()` answers (the service's clock).
pub fn run(
    analytic: &Analytic,
    rows: &[Row],
    index: Option<&Map<String, serde_json::Value>>,
    now: OffsetDateTime,
) -> Result<(Vec<String>, Vec<Row>), SlsError> {
    run_limited(analytic, rows, index, now, TIME_LIMIT)
}

fn run_limited(
    analytic: &Analytic,
    rows: &[Row],
    index: Option<&Map<String, serde_json::Value>>,
    now: OffsetDateTime,
    limit: Duration,
) -> Result<(Vec<String>, Vec<Row>), SlsError> {
    let conn = Connection::open_in_memory().map_err(sql_error)?;
    register(&conn, now).map_err(sql_error)?;
    let mut columns: Vec<String> = vec!["__time__".into(), "__topic__".into(), "__source__".into()];
    for key in rows.iter().flatten().map(|(k, _)| k).chain(
        index
            .and_then(|i| i.get("keys"))
            .and_then(serde_json::Value::as_object)
            .into_iter()
            .flat_map(|k| k.keys()),
    ) {
        if !columns.iter().any(|c| c == key) {
            columns.push(key.clone());
        }
    }
    let defs: Vec<String> = columns
        .iter()
        .map(|c| format!("{} {}", quote(c), column_type(c, index)))
        .collect();
    conn.execute_batch(&format!("CREATE TABLE log ({});", defs.join(", ")))
        .map_err(sql_error)?;
    {
        let tx = conn.unchecked_transaction().map_err(sql_error)?;
        let marks: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
        let mut insert = tx
            .prepare(&format!("INSERT INTO log VALUES ({})", marks.join(", ")))
            .map_err(sql_error)?;
        for row in rows {
            let values = columns.iter().map(|c| {
                row.iter()
                    .rev()
                    .find(|(k, _)| k == c)
                    .map_or(Value::Null, |(_, v)| Value::Text(v.clone()))
            });
            insert
                .execute(params_from_iter(values))
                .map_err(sql_error)?;
        }
        drop(insert);
        tx.commit().map_err(sql_error)?;
    }
    let started = Instant::now();
    conn.progress_handler(10_000, Some(move || started.elapsed() > limit));
    let mut stmt = conn.prepare(&analytic.sql).map_err(sql_error)?;
    if !stmt.readonly() {
        return Err(SlsError::ParameterInvalid(
            "the analytic part must only read".into(),
        ));
    }
    let keys: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
    let mut out = Vec::new();
    let mut result = stmt.query([]).map_err(sql_error)?;
    while let Some(r) = result.next().map_err(|e| {
        if started.elapsed() > limit {
            SlsError::ParameterInvalid(format!(
                "fcemu: the analytic query ran longer than {}s",
                limit.as_secs_f64()
            ))
        } else {
            sql_error(e)
        }
    })? {
        let mut row = Vec::with_capacity(keys.len());
        for (i, k) in keys.iter().enumerate() {
            let v = r.get_ref(i).map_err(sql_error)?;
            row.push((k.clone(), text_of(v)));
        }
        out.push(row);
    }
    Ok((keys, out))
}

/// A value as the Log Service prints it: `null`, integers as is, reals with a fraction.
fn text_of(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Null => "null".into(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => real(f),
        ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).into_owned(),
    }
}

fn real(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.1}")
    } else {
        f.to_string()
    }
}

/// A number from any SQLite value (text that reads as one included).
fn number(v: ValueRef<'_>) -> Option<f64> {
    match v {
        ValueRef::Integer(i) => Some(i as f64),
        ValueRef::Real(f) => Some(f),
        ValueRef::Text(t) => std::str::from_utf8(t).ok()?.trim().parse().ok(),
        _ => None,
    }
}

fn text(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Null => None,
        other => Some(text_of(other)),
    }
}

/// Timestamps are text, `YYYY-MM-DD HH:MM:SS.mmm` (UTC), as the dialect prints them.
fn timestamp(t: OffsetDateTime) -> String {
    fcemu_core::clock::utc_text(t, ' ', 3)
}

/// An instant from unix seconds (a number) or a timestamp text.
fn instant(v: ValueRef<'_>) -> Option<OffsetDateTime> {
    if let ValueRef::Text(t) = v {
        let s = std::str::from_utf8(t).ok()?.trim();
        if s.contains('-') {
            let fmt = time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second][optional [.[subsecond]]]"
            );
            return time::PrimitiveDateTime::parse(s, &fmt)
                .ok()
                .map(|p| p.assume_utc());
        }
    }
    let secs = number(v)?;
    OffsetDateTime::from_unix_timestamp_nanos((secs * 1e9) as i128).ok()
}

fn truncate(unit: &str, t: OffsetDateTime) -> Option<OffsetDateTime> {
    let d = t.date();
    let midnight = |d: time::Date| d.midnight().assume_utc();
    Some(match unit.to_ascii_lowercase().as_str() {
        "second" => t.replace_nanosecond(0).ok()?,
        "minute" => t.replace_nanosecond(0).ok()?.replace_second(0).ok()?,
        "hour" => t
            .replace_nanosecond(0)
            .ok()?
            .replace_second(0)
            .ok()?
            .replace_minute(0)
            .ok()?,
        "day" => midnight(d),
        "week" => {
            midnight(d - time::Duration::days(i64::from(d.weekday().number_days_from_monday())))
        }
        "month" => midnight(d.replace_day(1).ok()?),
        "quarter" => {
            let m = (u8::from(d.month()) - 1) / 3 * 3 + 1;
            midnight(
                d.replace_day(1)
                    .ok()?
                    .replace_month(time::Month::try_from(m).ok()?)
                    .ok()?,
            )
        }
        "year" => midnight(
            d.replace_day(1)
                .ok()?
                .replace_month(time::Month::January)
                .ok()?,
        ),
        _ => return None,
    })
}

/// MySQL-style `date_format` specifiers, as the dialect takes them.
fn format_time(t: OffsetDateTime, fmt: &str) -> String {
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => out.push_str(&format!("{:04}", t.year())),
            Some('y') => out.push_str(&format!("{:02}", t.year() % 100)),
            Some('m') => out.push_str(&format!("{:02}", u8::from(t.month()))),
            Some('c') => out.push_str(&u8::from(t.month()).to_string()),
            Some('d') => out.push_str(&format!("{:02}", t.day())),
            Some('e') => out.push_str(&t.day().to_string()),
            Some('H') => out.push_str(&format!("{:02}", t.hour())),
            Some('h') | Some('I') => out.push_str(&format!("{:02}", (t.hour() + 11) % 12 + 1)),
            Some('i') => out.push_str(&format!("{:02}", t.minute())),
            Some('s') | Some('S') => out.push_str(&format!("{:02}", t.second())),
            Some('f') => out.push_str(&format!("{:06}", t.microsecond())),
            Some('p') => out.push_str(if t.hour() < 12 { "AM" } else { "PM" }),
            Some('T') => out.push_str(&format!(
                "{:02}:{:02}:{:02}",
                t.hour(),
                t.minute(),
                t.second()
            )),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

fn user_error(why: impl Into<String>) -> rusqlite::Error {
    rusqlite::Error::UserFunctionError(why.into().into())
}

fn regex_of(ctx: &Context<'_>, i: usize) -> rusqlite::Result<regex::Regex> {
    let p: String = ctx.get(i)?;
    regex::Regex::new(&p).map_err(|e| user_error(format!("bad regular expression {p:?}: {e}")))
}

/// A math function of one real.
type Unary = fn(f64) -> f64;
/// A math function of two reals.
type Binary = fn(f64, f64) -> f64;

fn register(conn: &Connection, now: OffsetDateTime) -> rusqlite::Result<()> {
    let pure = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("from_unixtime", 1, pure, |ctx| {
        Ok(instant(ctx.get_raw(0)).map(timestamp))
    })?;
    conn.create_scalar_function("to_unixtime", 1, pure, |ctx| {
        Ok(instant(ctx.get_raw(0)).map(|t| t.unix_timestamp_nanos() as f64 / 1e9))
    })?;
    conn.create_scalar_function("date_trunc", 2, pure, |ctx| {
        let unit: String = ctx.get(0)?;
        match instant(ctx.get_raw(1)) {
            None => Ok(None),
            Some(t) => truncate(&unit, t)
                .map(|t| Some(timestamp(t)))
                .ok_or_else(|| user_error(format!("date_trunc: unknown unit {unit:?}"))),
        }
    })?;
    conn.create_scalar_function("date_format", 2, pure, |ctx| {
        let fmt: String = ctx.get(1)?;
        Ok(instant(ctx.get_raw(0)).map(|t| format_time(t, &fmt)))
    })?;
    let at = timestamp(now);
    conn.create_scalar_function(
        "now",
        0,
        FunctionFlags::SQLITE_UTF8,
        move |_| Ok(at.clone()),
    )?;
    conn.create_scalar_function("split_part", 3, pure, |ctx| {
        let (Some(s), Some(d)) = (text(ctx.get_raw(0)), text(ctx.get_raw(1))) else {
            return Ok(None);
        };
        let n: i64 = ctx.get(2)?;
        if n < 1 {
            return Err(user_error("split_part: the index starts at 1"));
        }
        Ok(s.split(d.as_str())
            .nth((n - 1) as usize)
            .map(str::to_string))
    })?;
    conn.create_scalar_function("starts_with", 2, pure, |ctx| {
        Ok(match (text(ctx.get_raw(0)), text(ctx.get_raw(1))) {
            (Some(s), Some(p)) => Some(s.starts_with(&p)),
            _ => None,
        })
    })?;
    conn.create_scalar_function("regexp_like", 2, pure, |ctx| {
        let re = regex_of(ctx, 1)?;
        Ok(text(ctx.get_raw(0)).map(|s| re.is_match(&s)))
    })?;
    for n in [2, 3] {
        conn.create_scalar_function("regexp_extract", n, pure, move |ctx| {
            let re = regex_of(ctx, 1)?;
            let group: usize = if n == 3 {
                ctx.get::<i64>(2)?.max(0) as usize
            } else {
                0
            };
            Ok(text(ctx.get_raw(0)).and_then(|s| {
                re.captures(&s)
                    .and_then(|c| c.get(group))
                    .map(|m| m.as_str().to_string())
            }))
        })?;
    }
    let url_part = |host: bool| {
        move |ctx: &Context<'_>| -> rusqlite::Result<Option<String>> {
            Ok(text(ctx.get_raw(0)).map(|u| {
                let rest = u
                    .split_once("://")
                    .map_or(u.as_str(), |(_, r)| r)
                    .to_string();
                let (authority, path) = rest
                    .split_once('/')
                    .map_or((rest.as_str(), ""), |(a, p)| (a, p));
                if host {
                    authority
                        .rsplit_once('@')
                        .map_or(authority, |(_, h)| h)
                        .split(':')
                        .next()
                        .unwrap_or("")
                        .to_string()
                } else {
                    format!("/{}", path.split(['?', '#']).next().unwrap_or(""))
                }
            }))
        }
    };
    conn.create_scalar_function("url_extract_host", 1, pure, url_part(true))?;
    conn.create_scalar_function("url_extract_path", 1, pure, url_part(false))?;
    // SQLite's math functions are not compiled in: the common ones, over reals.
    let unary: [(&str, Unary); 8] = [
        ("ceil", f64::ceil),
        ("floor", f64::floor),
        ("sqrt", f64::sqrt),
        ("ln", f64::ln),
        ("log10", f64::log10),
        ("log2", f64::log2),
        ("exp", f64::exp),
        ("sign", f64::signum),
    ];
    for (name, f) in unary {
        conn.create_scalar_function(name, 1, pure, move |ctx| Ok(number(ctx.get_raw(0)).map(f)))?;
    }
    let binary: [(&str, Binary); 2] = [("pow", f64::powf), ("mod", |a, b| a % b)];
    for (name, f) in binary {
        conn.create_scalar_function(name, 2, pure, move |ctx| {
            Ok(number(ctx.get_raw(0))
                .zip(number(ctx.get_raw(1)))
                .map(|(a, b)| f(a, b)))
        })?;
    }
    conn.create_scalar_function("pi", 0, pure, |_| Ok(std::f64::consts::PI))?;
    conn.create_aggregate_function("count_if", 1, pure, CountIf)?;
    conn.create_aggregate_function("approx_percentile", 2, pure, Percentile)?;
    conn.create_aggregate_function("histogram", 1, pure, Histogram)?;
    Ok(())
}

/// `count_if(condition)`: rows where it holds.
struct CountIf;

impl Aggregate<i64, i64> for CountIf {
    fn init(&self, _: &mut Context<'_>) -> rusqlite::Result<i64> {
        Ok(0)
    }
    fn step(&self, ctx: &mut Context<'_>, n: &mut i64) -> rusqlite::Result<()> {
        if number(ctx.get_raw(0)).is_some_and(|v| v != 0.0) {
            *n += 1;
        }
        Ok(())
    }
    fn finalize(&self, _: &mut Context<'_>, n: Option<i64>) -> rusqlite::Result<i64> {
        Ok(n.unwrap_or(0))
    }
}

/// `approx_percentile(x, p)`: the value at rank `p` (exact here: the logs are few).
struct Percentile;

impl Aggregate<(Vec<f64>, f64), Option<f64>> for Percentile {
    fn init(&self, _: &mut Context<'_>) -> rusqlite::Result<(Vec<f64>, f64)> {
        Ok((Vec::new(), 0.5))
    }
    fn step(&self, ctx: &mut Context<'_>, acc: &mut (Vec<f64>, f64)) -> rusqlite::Result<()> {
        let p = number(ctx.get_raw(1)).unwrap_or(0.5);
        if !(0.0..=1.0).contains(&p) {
            return Err(user_error(
                "approx_percentile: the percentage must be between 0 and 1",
            ));
        }
        acc.1 = p;
        if let Some(v) = number(ctx.get_raw(0)) {
            acc.0.push(v);
        }
        Ok(())
    }
    fn finalize(
        &self,
        _: &mut Context<'_>,
        acc: Option<(Vec<f64>, f64)>,
    ) -> rusqlite::Result<Option<f64>> {
        let Some((mut values, p)) = acc.filter(|(v, _)| !v.is_empty()) else {
            return Ok(None);
        };
        values.sort_by(f64::total_cmp);
        let rank = ((values.len() - 1) as f64 * p).round() as usize;
        Ok(values.get(rank).copied())
    }
}

/// `histogram(x)`: how often each value occurs, as a JSON object.
struct Histogram;

impl Aggregate<std::collections::BTreeMap<String, u64>, String> for Histogram {
    fn init(
        &self,
        _: &mut Context<'_>,
    ) -> rusqlite::Result<std::collections::BTreeMap<String, u64>> {
        Ok(Default::default())
    }
    fn step(
        &self,
        ctx: &mut Context<'_>,
        acc: &mut std::collections::BTreeMap<String, u64>,
    ) -> rusqlite::Result<()> {
        if let Some(v) = text(ctx.get_raw(0)) {
            *acc.entry(v).or_default() += 1;
        }
        Ok(())
    }
    fn finalize(
        &self,
        _: &mut Context<'_>,
        acc: Option<std::collections::BTreeMap<String, u64>>,
    ) -> rusqlite::Result<String> {
        Ok(serde_json::to_string(&acc.unwrap_or_default()).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::sql;

    fn rows() -> Vec<Row> {
        let r = |t: u32, level: &str, ms: &str, path: &str| {
            vec![
                ("__time__".to_string(), t.to_string()),
                ("__topic__".to_string(), String::new()),
                ("__source__".to_string(), "127.0.0.1".to_string()),
                ("level".to_string(), level.to_string()),
                ("latency".to_string(), ms.to_string()),
                ("path".to_string(), path.to_string()),
            ]
        };
        vec![
            r(1_704_067_200, "INFO", "12", "/a"),
            r(1_704_067_230, "INFO", "30", "/b"),
            r(1_704_067_290, "ERROR", "250", "/a"),
            r(1_704_067_300, "INFO", "8", "/a"),
        ]
    }

    fn query(text: &str) -> Result<Vec<Vec<String>>, SlsError> {
        let index: Map<String, serde_json::Value> =
            serde_json::from_str(r#"{"keys": {"latency": {"type": "long"}}}"#).unwrap();
        let limit = Duration::from_millis(300);
        let (_, rows) = run_limited(
            &sql::parse(text)?,
            &rows(),
            Some(&index),
            OffsetDateTime::UNIX_EPOCH,
            limit,
        )?;
        Ok(rows
            .into_iter()
            .map(|r| r.into_iter().map(|(_, v)| v).collect())
            .collect())
    }

    #[test]
    fn the_common_queries_answer_as_the_service_does() {
        assert_eq!(query("select count(*) as n").unwrap(), [["4"]]);
        assert_eq!(
            query("select level, count(*) as c, avg(latency) as a group by level order by c desc")
                .unwrap(),
            [["INFO", "3", "16.666666666666668"], ["ERROR", "1", "250.0"]]
        );
        assert_eq!(
            query("select date_trunc('minute', __time__) as m, count(*) group by m order by m")
                .unwrap(),
            [
                ["2024-01-01 00:00:00.000", "2"],
                ["2024-01-01 00:01:00.000", "2"]
            ]
        );
        assert_eq!(
            query("select approx_distinct(path), count_if(latency > 20), max(latency), approx_percentile(latency, 0.5)").unwrap(),
            [["2", "2", "250", "30.0"]]
        );
        assert_eq!(
            query("select histogram(path), from_unixtime(min(__time__)), date_format(max(__time__), '%H:%i:%s')").unwrap(),
            [[r#"{"/a":3,"/b":1}"#, "2024-01-01 00:00:00.000", "00:01:40"]]
        );
        assert_eq!(
            query("select split_part(path, '/', 2) as p, if(latency > 100, 'slow', 'ok') where regexp_like(path, '^/a') order by __time__ limit 2").unwrap(),
            [["a", "ok"], ["a", "slow"]]
        );
        assert_eq!(
            query("select url_extract_host('http://u@a.example:80/p/q?x=1'), url_extract_path('http://u@a.example:80/p/q?x=1'), ceiling(1.2), power(2, 3) limit 1").unwrap(),
            [["a.example", "/p/q", "2.0", "8.0"]]
        );
        let err = query("select missing").unwrap_err().to_string();
        assert!(err.contains("Column 'missing' cannot be resolved"), "{err}");
    }

    #[test]
    fn only_reads_and_never_runs_away() {
        assert!(query("select 1; attach database 'x' as y").is_err());
        let err = query("with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c")
            .unwrap_err()
            .to_string();
        assert!(err.contains("ran longer"), "{err}");
    }
}
