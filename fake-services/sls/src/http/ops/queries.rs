//! GetLogs (v2 JSON body and v1 query string, with the `x-log-*` headers v1 readers need),
//! GetHistograms and ListTopics.

use axum::response::Response;
use serde_json::{Value, json};

use super::*;
use crate::model::{LogQuery, LogsPage, Row};
use crate::{Sls, SlsError};

pub(super) fn log_query(
    from: i64,
    to: i64,
    query: &str,
    topic: &str,
    line: i64,
    offset: i64,
    reverse: bool,
) -> Result<LogQuery, SlsError> {
    if offset < 0 {
        return Err(SlsError::ParameterInvalid(
            "the parameter offset must not be negative".into(),
        ));
    }
    if line < 0 {
        return Err(SlsError::ParameterInvalid(
            "the parameter line must not be negative".into(),
        ));
    }
    Ok(LogQuery {
        from,
        to,
        query: query.to_string(),
        topic: topic.to_string(),
        line: u32::try_from(line).unwrap_or(u32::MAX),
        offset: offset as u64,
        reverse,
    })
}

pub(super) fn query_from_params(ctx: &Ctx) -> Result<LogQuery, SlsError> {
    let p = &ctx.params;
    log_query(
        p.required_int("from")?,
        p.required_int("to")?,
        p.get("query").unwrap_or(""),
        p.get("topic").unwrap_or(""),
        p.int("line", 100)?,
        p.int("offset", 0)?,
        p.boolean("reverse", false)?,
    )
}

pub(super) fn row_json(row: Row) -> Value {
    Value::Object(
        row.into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    )
}

pub(super) fn rows_json(page: &LogsPage) -> Vec<Value> {
    page.rows.iter().cloned().map(row_json).collect()
}

pub(super) async fn get_logs_v2(sls: &Sls, ctx: &Ctx, ls: &str) -> Result<Response, SlsError> {
    let body = json_body(ctx)?;
    let text = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let q = log_query(
        number(body.get("from"), "from", None)?,
        number(body.get("to"), "to", None)?,
        &text("query"),
        &text("topic"),
        number(body.get("line"), "line", Some(100))?,
        number(body.get("offset"), "offset", Some(0))?,
        flag(body.get("reverse"), "reverse")?,
    )?;
    let page = sls.get_logs(ctx.project()?, ls, q).await?;
    let data = rows_json(&page);
    Ok(json_response(&json!({
        "meta": {
            "progress": "Complete",
            "count": data.len(),
            "processedRows": page.processed,
            "elapsedMillisecond": 0,
            "hasSQL": page.has_sql,
            "whereQuery": page.where_query,
            "aggQuery": page.agg_query,
            "cpuSec": 0,
            "cpuCores": 0,
            "keys": page.keys,
            "terms": [],
            "isAccurate": true,
        },
        "data": data,
    })))
}

pub(super) fn with_progress(mut resp: Response, count: usize) -> Response {
    let h = resp.headers_mut();
    h.insert("x-log-progress", http::HeaderValue::from_static("Complete"));
    h.insert("x-log-count", count.into());
    resp
}

pub(super) async fn get_logs_v1(sls: &Sls, ctx: &Ctx, ls: &str) -> Result<Response, SlsError> {
    let q = query_from_params(ctx)?;
    let page = sls.get_logs(ctx.project()?, ls, q).await?;
    let data = rows_json(&page);
    let count = data.len();
    let mut resp = with_progress(json_response(&Value::Array(data)), count);
    let h = resp.headers_mut();
    h.insert("x-log-processed-rows", page.processed.into());
    h.insert("x-log-elapsed-millisecond", 0u32.into());
    h.insert(
        "x-log-has-sql",
        http::HeaderValue::from_static(if page.has_sql { "true" } else { "false" }),
    );
    if let Ok(v) = http::HeaderValue::from_str(&page.where_query) {
        h.insert("x-log-where-query", v);
    }
    if let Ok(v) = http::HeaderValue::from_str(&page.agg_query) {
        h.insert("x-log-agg-query", v);
    }
    Ok(resp)
}

pub(super) async fn get_histograms(sls: &Sls, ctx: &Ctx, ls: &str) -> Result<Response, SlsError> {
    let q = query_from_params(ctx)?;
    let interval = match ctx.params.int("interval", 0)? {
        n if n > 0 => Some(n),
        _ => None,
    };
    let buckets = sls.histograms(ctx.project()?, ls, q, interval).await?;
    let total: u64 = buckets.iter().map(|b| b.count).sum();
    let list: Vec<Value> = buckets
        .iter()
        .map(|b| json!({"from": b.from, "to": b.to, "count": b.count, "progress": "Complete"}))
        .collect();
    let mut resp = json_response(&Value::Array(list));
    let h = resp.headers_mut();
    h.insert("x-log-progress", http::HeaderValue::from_static("Complete"));
    h.insert("x-log-count", total.into());
    Ok(resp)
}

pub(super) async fn list_topics(sls: &Sls, ctx: &Ctx, ls: &str) -> Result<Response, SlsError> {
    let token = ctx.params.get("token").unwrap_or("");
    let line = ctx.params.int("line", 100)?;
    let line = u32::try_from(line.max(1)).unwrap_or(u32::MAX);
    let (topics, next) = sls.topics(ctx.project()?, ls, token, line).await?;
    let mut resp = json_response(&json!(topics));
    let h = resp.headers_mut();
    h.insert("x-log-count", topics.len().into());
    let next = http::HeaderValue::from_bytes(next.as_bytes())
        .unwrap_or_else(|_| http::HeaderValue::from_static(""));
    h.insert("x-log-nexttoken", next);
    Ok(resp)
}
