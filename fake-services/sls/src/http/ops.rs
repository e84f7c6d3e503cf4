//! One function per operation: read the request's parameters and body, call the domain, shape
//! the JSON / protobuf answer and the headers the SDKs read.

use axum::body::Body;
use axum::response::Response;
use http::{Method, StatusCode, header};
use prost::Message;
use serde_json::{Map, Value, json};

use super::Ctx;
use super::body::{Encoding, decompress};
use crate::model::{CursorFrom, LogQuery, LogsPage, Row};
use crate::proto::{LogGroup, encode_group_list};
use crate::{ConsumerGroup, LogstoreConfig, ShardChoice, Sls, SlsError};

/// Dispatches on method and path.
pub(crate) async fn route(sls: &Sls, ctx: Ctx) -> Result<Response, SlsError> {
    let segs: Vec<&str> = ctx.segments.iter().map(String::as_str).collect();
    let method = ctx.method.clone();
    match (&method, segs.as_slice()) {
        (&Method::GET, []) if ctx.project.is_none() => list_projects(sls, &ctx).await,
        (&Method::GET, []) => get_project(sls, &ctx).await,
        (&Method::POST, []) => create_project(sls, &ctx).await,
        (&Method::PUT, []) => update_project(sls, &ctx).await,
        (&Method::DELETE, []) => {
            sls.delete_project(ctx.project()?).await?;
            Ok(empty())
        }
        (&Method::GET, ["logstores"]) => list_logstores(sls, &ctx).await,
        (&Method::POST, ["logstores"]) => {
            let cfg = LogstoreConfig::from_create_body(&json_body(&ctx)?)?;
            sls.create_logstore(ctx.project()?, cfg).await?;
            Ok(empty())
        }
        (&Method::GET, ["logstores", ls]) => match ctx.params.get("type").unwrap_or("") {
            "" => get_logstore(sls, &ctx, ls).await,
            "log" => get_logs_v1(sls, &ctx, ls).await,
            "histogram" => get_histograms(sls, &ctx, ls).await,
            "topic" => list_topics(sls, &ctx, ls).await,
            other => Err(SlsError::NotSupported(format!(
                "GET /logstores/{ls}?type={other} is not supported"
            ))),
        },
        (&Method::PUT, ["logstores", ls]) => {
            sls.update_logstore(ctx.project()?, ls, json_body(&ctx)?)
                .await?;
            Ok(empty())
        }
        (&Method::DELETE, ["logstores", ls]) => {
            sls.delete_logstore(ctx.project()?, ls).await?;
            Ok(empty())
        }
        (&Method::POST, ["logstores", ls]) => {
            put_logs(sls, &ctx, ls, ShardChoice::LoadBalance).await
        }
        (&Method::POST, ["logstores", ls, "logs"]) => get_logs_v2(sls, &ctx, ls).await,
        (&Method::GET, ["logstores", ls, "shards"]) => list_shards(sls, &ctx, ls).await,
        (&Method::POST, ["logstores", ls, "shards", "lb"]) => {
            put_logs(sls, &ctx, ls, ShardChoice::LoadBalance).await
        }
        (&Method::POST, ["logstores", ls, "shards", "route"]) => {
            let key = ctx.params.get("key").unwrap_or("").to_string();
            put_logs(sls, &ctx, ls, ShardChoice::HashKey(key)).await
        }
        (&Method::POST, ["logstores", ls, "shards", id]) => {
            if ctx.params.get("action").is_some() {
                return Err(SlsError::NotSupported(
                    "shard split / merge is not supported".into(),
                ));
            }
            let id = shard_id(id)?;
            let id = u32::try_from(id).map_err(|_| SlsError::ShardNotExist(id))?;
            put_logs(sls, &ctx, ls, ShardChoice::Id(id)).await
        }
        (&Method::GET, ["logstores", ls, "shards", id]) => {
            let id = shard_id(id)?;
            match ctx.params.get("type").unwrap_or("") {
                "cursor" => get_cursor(sls, &ctx, ls, id).await,
                "cursor_time" => get_cursor_time(sls, &ctx, ls, id).await,
                "log" | "logs" => pull_logs(sls, &ctx, ls, id).await,
                other => Err(SlsError::ParameterInvalid(format!(
                    "the parameter type is invalid: {other}"
                ))),
            }
        }
        (&Method::POST, ["logstores", ls, "index"]) => {
            sls.set_index(ctx.project()?, ls, json_body(&ctx)?, true)
                .await?;
            Ok(empty())
        }
        (&Method::PUT, ["logstores", ls, "index"]) => {
            sls.set_index(ctx.project()?, ls, json_body(&ctx)?, false)
                .await?;
            Ok(empty())
        }
        (&Method::GET, ["logstores", ls, "index"]) => get_index(sls, &ctx, ls).await,
        (&Method::DELETE, ["logstores", ls, "index"]) => {
            sls.delete_index(ctx.project()?, ls).await?;
            Ok(empty())
        }
        (&Method::POST, ["logstores", ls, "consumergroups"]) => {
            create_consumer_group(sls, &ctx, ls).await
        }
        (&Method::GET, ["logstores", ls, "consumergroups"]) => {
            list_consumer_groups(sls, &ctx, ls).await
        }
        (&Method::PUT, ["logstores", ls, "consumergroups", cg]) => {
            let body = json_body(&ctx)?;
            let timeout = body
                .get("timeout")
                .map(|t| number(Some(t), "timeout", None))
                .transpose()?;
            let order = body
                .get("order")
                .map(|o| flag(Some(o), "order"))
                .transpose()?;
            sls.update_consumer_group(ctx.project()?, ls, cg, timeout, order)
                .await?;
            Ok(empty())
        }
        (&Method::DELETE, ["logstores", ls, "consumergroups", cg]) => {
            sls.delete_consumer_group(ctx.project()?, ls, cg).await?;
            Ok(empty())
        }
        (&Method::POST, ["logstores", ls, "consumergroups", cg]) => {
            let consumer = ctx.params.get("consumer").unwrap_or("");
            match ctx.params.get("type").unwrap_or("") {
                "heartbeat" => {
                    let shards = sls.heartbeat(ctx.project()?, ls, cg, consumer).await?;
                    Ok(json_response(&json!(shards)))
                }
                "checkpoint" => {
                    let body = json_body(&ctx)?;
                    let shard = number(body.get("shard"), "shard", None)?;
                    let checkpoint = body.get("checkpoint").and_then(Value::as_str).unwrap_or("");
                    sls.update_checkpoint(ctx.project()?, ls, cg, consumer, shard, checkpoint)
                        .await?;
                    Ok(empty())
                }
                other => Err(SlsError::ParameterInvalid(format!(
                    "the parameter type is invalid: {other}"
                ))),
            }
        }
        (&Method::GET, ["logstores", ls, "consumergroups", cg]) => {
            let shard = match ctx.params.get("shard") {
                Some(_) => Some(ctx.params.int("shard", -1)?),
                None => None,
            };
            let list = sls.checkpoints(ctx.project()?, ls, cg, shard).await?;
            let list: Vec<Value> = list
                .iter()
                .map(|c| {
                    json!({
                        "shard": c.shard,
                        "checkpoint": c.checkpoint,
                        "updateTime": c.update_us,
                        "consumer": c.consumer,
                    })
                })
                .collect();
            Ok(json_response(&Value::Array(list)))
        }
        _ => Err(SlsError::NotSupported(format!(
            "{} /{} is not supported",
            method,
            segs.join("/")
        ))),
    }
}

fn shard_id(s: &str) -> Result<i64, SlsError> {
    s.parse()
        .map_err(|_| SlsError::ParameterInvalid(format!("shard id {s} is invalid")))
}

/// A 200 with no body (what write APIs answer).
fn empty() -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_LENGTH, "0")
        .body(Body::empty())
        .unwrap_or_default()
}

/// A 200 with a JSON body.
fn json_response(v: &Value) -> Response {
    let body = v.to_string();
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, body.len())
        .body(Body::from(body))
        .unwrap_or_default()
}

/// The request body as a JSON object (decompressed if the client compressed it).
fn json_body(ctx: &Ctx) -> Result<Map<String, Value>, SlsError> {
    let raw = decompress(ctx.body.clone(), &ctx.headers)?;
    match serde_json::from_slice::<Value>(&raw) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(SlsError::PostBodyInvalid(
            "The request body is not valid JSON object.".into(),
        )),
    }
}

fn secs(t: time::OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

async fn create_project(sls: &Sls, ctx: &Ctx) -> Result<Response, SlsError> {
    let body = json_body(ctx)?;
    let from_body = body.get("projectName").and_then(Value::as_str);
    let name = match (&ctx.project, from_body) {
        (Some(p), _) => p.clone(),
        (None, Some(b)) => b.to_string(),
        (None, None) => ctx.project()?.to_string(),
    };
    let description = body
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("");
    sls.create_project(&name, description).await?;
    Ok(empty())
}

async fn update_project(sls: &Sls, ctx: &Ctx) -> Result<Response, SlsError> {
    let body = json_body(ctx)?;
    let description = body
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("");
    sls.update_project(ctx.project()?, description).await?;
    Ok(empty())
}

fn project_json(sls: &Sls, p: &crate::Project) -> Value {
    json!({
        "projectName": p.name,
        "description": p.description,
        "status": "Normal",
        "region": sls.config().region,
        "owner": sls.config().owner_id,
        "createTime": secs(p.created).to_string(),
        "lastModifyTime": secs(p.modified).to_string(),
        "resourceGroupId": "",
        "dataRedundancyType": "LRS",
    })
}

async fn get_project(sls: &Sls, ctx: &Ctx) -> Result<Response, SlsError> {
    let p = sls.project(ctx.project()?).await?;
    Ok(json_response(&project_json(sls, &p)))
}

/// `offset` (≥ 0) and `size` (`-1` or absent: all).
fn paging(ctx: &Ctx) -> Result<(u64, u64), SlsError> {
    let offset = ctx.params.int("offset", 0)?;
    let size = ctx.params.int("size", 500)?;
    if offset < 0 {
        return Err(SlsError::ParameterInvalid(
            "the parameter offset must not be negative".into(),
        ));
    }
    let size = if size < 0 { u64::MAX } else { size as u64 };
    Ok((offset as u64, size))
}

async fn list_projects(sls: &Sls, ctx: &Ctx) -> Result<Response, SlsError> {
    let (offset, size) = paging(ctx)?;
    let filter = ctx.params.get("projectName").unwrap_or("");
    let (projects, total) = sls.list_projects(filter, offset, size).await?;
    let list: Vec<Value> = projects.iter().map(|p| project_json(sls, p)).collect();
    Ok(json_response(&json!({
        "count": list.len(),
        "total": total,
        "projects": list,
    })))
}

async fn list_logstores(sls: &Sls, ctx: &Ctx) -> Result<Response, SlsError> {
    let (offset, size) = paging(ctx)?;
    let filter = ctx.params.get("logstoreName").unwrap_or("");
    let (names, total) = sls
        .list_logstores(ctx.project()?, filter, offset, size)
        .await?;
    Ok(json_response(&json!({
        "count": names.len(),
        "total": total,
        "logstores": names,
    })))
}

async fn get_logstore(sls: &Sls, ctx: &Ctx, ls: &str) -> Result<Response, SlsError> {
    let store = sls.logstore(ctx.project()?, ls).await?;
    let mut m = store.config.to_json();
    m.insert("createTime".into(), json!(secs(store.created)));
    m.insert("lastModifyTime".into(), json!(secs(store.modified)));
    Ok(json_response(&Value::Object(m)))
}

async fn list_shards(sls: &Sls, ctx: &Ctx, ls: &str) -> Result<Response, SlsError> {
    let (store, ranges) = sls.list_shards(ctx.project()?, ls).await?;
    let created = secs(store.created);
    let list: Vec<Value> = ranges
        .iter()
        .map(|r| {
            json!({
                "shardID": r.id,
                "status": "readwrite",
                "inclusiveBeginKey": r.begin,
                "exclusiveEndKey": r.end,
                "createTime": created,
            })
        })
        .collect();
    Ok(json_response(&Value::Array(list)))
}

async fn get_index(sls: &Sls, ctx: &Ctx, ls: &str) -> Result<Response, SlsError> {
    let (store, index) = sls.index(ctx.project()?, ls).await?;
    let mut m = index.doc;
    m.insert("ttl".into(), json!(store.config.ttl));
    m.insert("lastModifyTime".into(), json!(secs(index.modified)));
    Ok(json_response(&Value::Object(m)))
}

async fn put_logs(
    sls: &Sls,
    ctx: &Ctx,
    ls: &str,
    choice: ShardChoice,
) -> Result<Response, SlsError> {
    let project = ctx.project()?;
    let raw = decompress(ctx.body.clone(), &ctx.headers)?;
    let group = LogGroup::decode(raw.as_ref())
        .map_err(|e| SlsError::PostBodyInvalid(format!("the body is not a valid LogGroup: {e}")))?;
    sls.put_logs_to(project, ls, choice, group, ctx.client_ip.clone())
        .await?;
    Ok(empty())
}

async fn get_cursor(sls: &Sls, ctx: &Ctx, ls: &str, shard: i64) -> Result<Response, SlsError> {
    let from = match ctx.params.get("from").map(str::trim) {
        Some("begin") => CursorFrom::Begin,
        Some("end") => CursorFrom::End,
        Some(t) => CursorFrom::Time(t.parse().map_err(|_| {
            SlsError::ParameterInvalid(format!("the parameter from is invalid: {t}"))
        })?),
        None => {
            return Err(SlsError::ParameterInvalid(
                "the parameter from is required".into(),
            ));
        }
    };
    let cursor = sls.cursor(ctx.project()?, ls, shard, from).await?;
    Ok(json_response(&json!({ "cursor": cursor })))
}

async fn get_cursor_time(sls: &Sls, ctx: &Ctx, ls: &str, shard: i64) -> Result<Response, SlsError> {
    let cursor = ctx
        .params
        .get("cursor")
        .ok_or_else(|| SlsError::ParameterInvalid("the parameter cursor is required".into()))?;
    let t = sls.cursor_time(ctx.project()?, ls, shard, cursor).await?;
    Ok(json_response(&json!({ "cursor_time": t })))
}

async fn pull_logs(sls: &Sls, ctx: &Ctx, ls: &str, shard: i64) -> Result<Response, SlsError> {
    let cursor = ctx
        .params
        .get("cursor")
        .ok_or_else(|| SlsError::ParameterInvalid("the parameter cursor is required".into()))?;
    let spl = ["query", "processor"]
        .iter()
        .any(|p| ctx.params.get(p).is_some_and(|v| !v.trim().is_empty()));
    if spl {
        return Err(SlsError::ParameterInvalid(
            "fcemu: SPL queries and processors in PullLogs are not supported".into(),
        ));
    }
    let count = ctx.params.int("count", 1000)?;
    let count = u32::try_from(count).unwrap_or(0);
    let end = ctx.params.get("end_cursor").filter(|e| !e.is_empty());
    let pulled = sls
        .pull_logs(ctx.project()?, ls, shard, cursor, count, end)
        .await?;
    let mut b = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/x-protobuf")
        .header("x-log-cursor", &pulled.next_cursor)
        .header("x-log-count", pulled.groups.len());
    if let Some(t) = pulled.cursor_time {
        b = b.header("x-log-cursor-time", t);
    }
    if pulled.groups.is_empty() {
        return Ok(b
            .header("x-log-bodyrawsize", "0")
            .header(header::CONTENT_LENGTH, "0")
            .body(Body::empty())
            .unwrap_or_default());
    }
    let raw = encode_group_list(pulled.groups.iter().map(Vec::as_slice));
    let enc = Encoding::from_accept(&ctx.headers);
    let body = enc.compress(&raw);
    b = b
        .header("x-log-bodyrawsize", raw.len())
        .header(header::CONTENT_LENGTH, body.len());
    if let Some(name) = enc.name() {
        b = b.header("x-log-compresstype", name);
    }
    Ok(b.body(Body::from(body)).unwrap_or_default())
}

fn number(v: Option<&Value>, name: &str, default: Option<i64>) -> Result<i64, SlsError> {
    let bad = || SlsError::ParameterInvalid(format!("the parameter {name} is invalid"));
    match v {
        None | Some(Value::Null) => default
            .ok_or_else(|| SlsError::ParameterInvalid(format!("the parameter {name} is required"))),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .ok_or_else(bad),
        Some(Value::String(s)) => s.trim().parse().map_err(|_| bad()),
        Some(_) => Err(bad()),
    }
}

fn flag(v: Option<&Value>, name: &str) -> Result<bool, SlsError> {
    match v {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(SlsError::ParameterInvalid(format!(
            "the parameter {name} is invalid"
        ))),
    }
}

fn log_query(
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

fn query_from_params(ctx: &Ctx) -> Result<LogQuery, SlsError> {
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

fn row_json(row: Row) -> Value {
    Value::Object(
        row.into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    )
}

fn rows_json(page: &LogsPage) -> Vec<Value> {
    page.rows.iter().cloned().map(row_json).collect()
}

async fn get_logs_v2(sls: &Sls, ctx: &Ctx, ls: &str) -> Result<Response, SlsError> {
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

fn with_progress(mut resp: Response, count: usize) -> Response {
    let h = resp.headers_mut();
    h.insert("x-log-progress", http::HeaderValue::from_static("Complete"));
    h.insert("x-log-count", count.into());
    resp
}

async fn get_logs_v1(sls: &Sls, ctx: &Ctx, ls: &str) -> Result<Response, SlsError> {
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

async fn get_histograms(sls: &Sls, ctx: &Ctx, ls: &str) -> Result<Response, SlsError> {
    let q = query_from_params(ctx)?;
    let buckets = sls.histograms(ctx.project()?, ls, q).await?;
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

async fn create_consumer_group(sls: &Sls, ctx: &Ctx, ls: &str) -> Result<Response, SlsError> {
    let body = json_body(ctx)?;
    let group = ConsumerGroup {
        name: body
            .get("consumerGroup")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        timeout: number(body.get("timeout"), "timeout", None)?,
        in_order: flag(body.get("order"), "order")?,
    };
    sls.create_consumer_group(ctx.project()?, ls, group).await?;
    Ok(empty())
}

async fn list_consumer_groups(sls: &Sls, ctx: &Ctx, ls: &str) -> Result<Response, SlsError> {
    let groups = sls.consumer_groups(ctx.project()?, ls).await?;
    let list: Vec<Value> = groups
        .iter()
        .map(|g| json!({"name": g.name, "timeout": g.timeout, "order": g.in_order}))
        .collect();
    Ok(json_response(&Value::Array(list)))
}

async fn list_topics(sls: &Sls, ctx: &Ctx, ls: &str) -> Result<Response, SlsError> {
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
