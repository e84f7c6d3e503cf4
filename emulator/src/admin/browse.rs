//! Read-only views of the services' state for the dashboard and tools, as JSON: buckets and
//! objects by prefix, tables and their rows, logstores and log searches. They call the
//! services' domain APIs, the same code the wire APIs call.

use axum::Json;
use axum::extract::{Path, State};

use super::query::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

use super::BrowseState;
use crate::services::table_store::value_json;

/// Most objects or rows one call returns.
const MAX_PAGE: usize = 1000;

/// A failed view: the status and the service's own error code and message.
pub struct BrowseError(StatusCode, String, String);

impl IntoResponse for BrowseError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1, "message": self.2}))).into_response()
    }
}

impl From<fcemu_oss::OssError> for BrowseError {
    fn from(e: fcemu_oss::OssError) -> Self {
        BrowseError(
            fcemu_oss::http::error_status(&e),
            e.code().into(),
            e.to_string(),
        )
    }
}

impl From<fcemu_tablestore::OtsError> for BrowseError {
    fn from(e: fcemu_tablestore::OtsError) -> Self {
        BrowseError(
            fcemu_tablestore::http::error::status(&e),
            e.code().into(),
            e.to_string(),
        )
    }
}

impl From<fcemu_sls::SlsError> for BrowseError {
    fn from(e: fcemu_sls::SlsError) -> Self {
        use fcemu_sls::SlsError as E;
        let status = match e {
            E::ProjectNotExist(_) | E::LogStoreNotExist(_) => StatusCode::NOT_FOUND,
            _ => StatusCode::BAD_REQUEST,
        };
        let code = format!("{e:?}");
        let code = code.split('(').next().unwrap_or("Error").to_string();
        BrowseError(status, code, e.to_string())
    }
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// `GET /_fcemu/buckets`.
pub async fn buckets(State(s): State<BrowseState>) -> Result<Json<Value>, BrowseError> {
    let list = s.stores.oss().list_buckets().await?;
    let buckets: Vec<Value> = list
        .iter()
        .map(|b| json!({"name": b.name, "created": rfc3339(b.created)}))
        .collect();
    Ok(Json(json!({ "buckets": buckets })))
}

/// Query of `GET /_fcemu/buckets/{bucket}/objects`.
#[derive(Debug, Deserialize)]
pub struct ObjectsQuery {
    /// Only keys under this prefix.
    #[serde(default)]
    prefix: String,
    /// Group keys at this (default `/`; empty lists every key).
    delimiter: Option<String>,
    /// Only entries after this (the previous page's `next`).
    after: Option<String>,
    /// Page size (default 100).
    limit: Option<usize>,
}

/// `GET /_fcemu/buckets/{bucket}/objects?prefix=&delimiter=&after=&limit=`.
pub async fn objects(
    State(s): State<BrowseState>,
    Path(bucket): Path<String>,
    Query(q): Query<ObjectsQuery>,
) -> Result<Json<Value>, BrowseError> {
    let params = fcemu_oss::listing::ListParams {
        prefix: q.prefix.clone(),
        delimiter: q.delimiter.unwrap_or_else(|| "/".into()),
        start_after: q.after,
        max: q.limit.unwrap_or(100).clamp(1, MAX_PAGE),
    };
    let page = s.stores.oss().list_objects(&bucket, params).await?;
    let objects: Vec<Value> = page
        .contents
        .iter()
        .map(|o| {
            json!({
                "key": o.key,
                "size": o.size,
                "etag": o.etag,
                "lastModified": rfc3339(o.last_modified),
                "contentType": o.attrs.headers.get("content-type"),
                "type": o.object_type.as_str(),
                "storageClass": o.attrs.storage_class,
                "headers": o.attrs.headers,
                "userMeta": o.attrs.user_meta,
                "tags": o.attrs.tags.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!({
        "bucket": bucket,
        "prefix": q.prefix,
        "objects": objects,
        "prefixes": page.common_prefixes,
        "next": if page.truncated { page.last } else { None },
    })))
}

/// `GET /_fcemu/tables`: every instance's tables.
pub async fn tables(State(s): State<BrowseState>) -> Result<Json<Value>, BrowseError> {
    let out: Vec<Value> = s
        .stores
        .ots()
        .all_tables()
        .await?
        .into_iter()
        .map(|(instance, info)| {
            let key: Vec<&str> = info.primary_key.iter().map(|c| c.name.as_str()).collect();
            json!({
                "instance": instance,
                "name": info.name,
                "primaryKey": key,
                "stream": info.stream.is_some(),
            })
        })
        .collect();
    Ok(Json(json!({ "tables": out })))
}

/// Query of `GET /_fcemu/tables/{instance}/{table}/rows`.
#[derive(Debug, Deserialize)]
pub struct RowsQuery {
    /// Most rows (default 100).
    limit: Option<usize>,
}

/// `GET /_fcemu/tables/{instance}/{table}/rows?limit=`: rows in key order, the newest version
/// of each column.
pub async fn rows(
    State(s): State<BrowseState>,
    Path((instance, table)): Path<(String, String)>,
    Query(q): Query<RowsQuery>,
) -> Result<Json<Value>, BrowseError> {
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let all = s.stores.ots().all_rows(&instance, &table).await?;
    let total = all.len();
    let rows: Vec<Value> = all
        .iter()
        .take(limit)
        .map(|r| {
            let key: serde_json::Map<String, Value> = r
                .primary_key
                .iter()
                .map(|(k, v)| (k.clone(), value_json(v)))
                .collect();
            let mut columns = serde_json::Map::new();
            for c in &r.cells {
                columns
                    .entry(c.name.clone())
                    .or_insert_with(|| value_json(&c.value));
            }
            json!({"primaryKey": key, "columns": columns})
        })
        .collect();
    Ok(Json(
        json!({"instance": instance, "table": table, "rows": rows, "total": total}),
    ))
}

/// `GET /_fcemu/tables/{instance}/{table}/stream?limit=`: the newest records of the table's
/// stream (oldest first), decoded: action, primary key, the column operations and commit time.
pub async fn stream(
    State(s): State<BrowseState>,
    Path((instance, table)): Path<(String, String)>,
    Query(q): Query<RowsQuery>,
) -> Result<Json<Value>, BrowseError> {
    use fcemu_tablestore::plainbuffer::{
        OP_DELETE_ALL_VERSIONS, OP_DELETE_ONE_VERSION, OP_INCREMENT, PbValue, decode_rows,
    };
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let ots = s.stores.ots();
    let Some(stream) = ots
        .list_streams(&instance, Some(table.clone()))
        .await?
        .into_iter()
        .next()
    else {
        return Ok(Json(
            json!({"instance": instance, "table": table, "stream": false, "records": []}),
        ));
    };
    let mut it = ots
        .shard_iterator(&stream.stream_id, fcemu_tablestore::streams::SHARD_ID)
        .await?;
    let mut raw: std::collections::VecDeque<(i32, Vec<u8>)> = Default::default();
    loop {
        let batch = ots.stream_records(&it, MAX_PAGE).await?;
        let done = !batch.more || batch.records.is_empty();
        for r in batch.records {
            raw.push_back(r);
            if raw.len() > limit {
                raw.pop_front();
            }
        }
        it = batch.next_iterator;
        if done {
            break;
        }
    }
    let pb = |v: &Option<PbValue>| match v {
        Some(PbValue::Plain(v)) => value_json(v),
        _ => Value::Null,
    };
    let records: Vec<Value> = raw
        .iter()
        .filter_map(|(action, bytes)| {
            let row = decode_rows(bytes).ok()?.into_iter().next()?;
            let key: serde_json::Map<String, Value> = row
                .primary_key
                .iter()
                .map(|c| (c.name.clone(), pb(&c.value)))
                .collect();
            let columns: Vec<Value> = row
                .cells
                .iter()
                .map(|c| {
                    let op = match c.op {
                        Some(OP_DELETE_ALL_VERSIONS) => "deleteAll",
                        Some(OP_DELETE_ONE_VERSION) => "delete",
                        Some(OP_INCREMENT) => "increment",
                        _ => "put",
                    };
                    json!({"name": c.name, "op": op, "value": pb(&c.value)})
                })
                .collect();
            let time = row.seq_info.and_then(|s| {
                time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(s.timestamp) * 1000).ok()
            });
            Some(json!({
                "action": match action { 1 => "PutRow", 2 => "UpdateRow", 3 => "DeleteRow", _ => "?" },
                "primaryKey": key,
                "columns": columns,
                "time": time.map(rfc3339),
            }))
        })
        .collect();
    Ok(Json(json!({
        "instance": instance, "table": table, "stream": true,
        "streamId": stream.stream_id, "records": records,
    })))
}

fn ms_time(ms: Option<i64>) -> Option<String> {
    ms.and_then(|ms| {
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
    })
    .map(rfc3339)
}

/// `GET /_fcemu/batch`: BatchCompute's jobs, newest first, with their tasks and instances; and
/// its clusters with their slots and how many are busy.
pub async fn batch_jobs(State(s): State<BrowseState>) -> Json<Value> {
    let mut jobs = s.stores.batch().jobs().await;
    jobs.reverse();
    let jobs: Vec<Value> = jobs
        .iter()
        .map(|j| {
            let tasks: Vec<Value> = j
                .tasks
                .iter()
                .map(|t| {
                    let instances: Vec<Value> = t
                        .instances
                        .iter()
                        .map(|i| {
                            json!({
                                "id": i.id, "state": i.state.as_str(), "retries": i.retry_count,
                                "exitCode": i.exit_code, "error": i.error_code, "message": i.error_message,
                                "started": ms_time(i.started_ms), "ended": ms_time(i.ended_ms),
                            })
                        })
                        .collect();
                    json!({
                        "name": t.name, "state": t.state.as_str(), "after": t.after,
                        "command": t.spec.command_line, "cluster": t.spec.cluster,
                        "started": ms_time(t.started_ms), "ended": ms_time(t.ended_ms),
                        "instances": instances,
                    })
                })
                .collect();
            json!({
                "id": j.id, "name": j.name, "state": j.state.as_str(), "message": j.message,
                "priority": j.priority, "created": ms_time(Some(j.created_ms)),
                "started": ms_time(j.started_ms), "ended": ms_time(j.ended_ms), "tasks": tasks,
            })
        })
        .collect();
    let batch = s.stores.batch();
    let clusters: Vec<Value> = batch
        .clusters()
        .await
        .iter()
        .map(|c| {
            json!({
                "id": c.id, "name": c.name, "slots": c.size(), "busy": batch.cluster_busy(&c.id),
                "groups": c.groups.iter().map(|(g, v)| (g.clone(), v.desired)).collect::<std::collections::BTreeMap<_, _>>(),
                "created": ms_time(Some(c.created_ms)),
            })
        })
        .collect();
    Json(json!({ "jobs": jobs, "clusters": clusters }))
}

/// `GET /_fcemu/logstores`: every project's logstores.
pub async fn logstores(State(s): State<BrowseState>) -> Result<Json<Value>, BrowseError> {
    let (projects, _) = s.stores.sls().list_projects("", 0, 500).await?;
    let mut out = Vec::new();
    for p in projects {
        let (stores, _) = s.stores.sls().list_logstores(&p.name, "", 0, 500).await?;
        for l in stores {
            out.push(json!({"project": p.name, "logstore": l}));
        }
    }
    Ok(Json(json!({ "logstores": out })))
}

/// Query of `GET /_fcemu/logs/{project}/{logstore}`.
#[derive(Debug, Deserialize)]
pub struct LogsQuery {
    /// The search syntax, optionally `| select ...` (default `*`).
    query: Option<String>,
    /// Unix seconds, inclusive (default 0).
    from: Option<i64>,
    /// Unix seconds, exclusive (default: far in the future).
    to: Option<i64>,
    /// Rows (≤ 100, default 100).
    line: Option<u32>,
    /// Rows skipped.
    offset: Option<u64>,
}

/// `GET /_fcemu/logs/{project}/{logstore}?query=&from=&to=&line=&offset=`: matching logs,
/// newest first, and a histogram of them over the range.
pub async fn logs(
    State(s): State<BrowseState>,
    Path((project, logstore)): Path<(String, String)>,
    Query(q): Query<LogsQuery>,
) -> Result<Json<Value>, BrowseError> {
    let query = fcemu_sls::LogQuery {
        from: q.from.unwrap_or(0),
        to: q.to.unwrap_or(4_102_444_800),
        query: q.query.unwrap_or_else(|| "*".into()),
        topic: String::new(),
        line: q.line.unwrap_or(100).min(100),
        offset: q.offset.unwrap_or(0),
        reverse: true,
    };
    let page = s
        .stores
        .sls()
        .get_logs(&project, &logstore, query.clone())
        .await?;
    let rows: Vec<Value> = page
        .rows
        .iter()
        .map(|r| Value::Object(r.iter().map(|(k, v)| (k.clone(), json!(v))).collect()))
        .collect();
    let histogram = if page.has_sql {
        Vec::new()
    } else {
        let (from, to) = time_span(&rows, &query);
        let q = fcemu_sls::LogQuery { from, to, ..query };
        s.stores
            .sls()
            .histograms(&project, &logstore, q, None)
            .await?
            .iter()
            .map(|h| json!({"from": h.from, "to": h.to, "count": h.count}))
            .collect()
    };
    Ok(Json(json!({
        "keys": page.keys,
        "rows": rows,
        "count": page.processed,
        "sql": page.has_sql,
        "histogram": histogram,
    })))
}

/// The range a histogram covers: the query's, narrowed to the logs found when it is open.
fn time_span(rows: &[Value], q: &fcemu_sls::LogQuery) -> (i64, i64) {
    let times: Vec<i64> = rows
        .iter()
        .filter_map(|r| r["__time__"].as_str()?.parse().ok())
        .collect();
    match (times.iter().min(), times.iter().max()) {
        (Some(lo), Some(hi)) if q.from == 0 => (*lo, (*hi + 1).max(*lo + 60)),
        _ => (q.from, q.to),
    }
}
