//! The wire: the job, task and instance routes of API version 2015-11-11 (reference
//! batchcompute.md §3), the JSON shapes the SDK's strict parser accepts (§5), paging (§5.4) and
//! `x-acs-request-id` on every answer.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State as AxState};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderValue, StatusCode, Uri};
use serde_json::{Value, json};

use crate::job::{Instance, Job, State, Task};
use crate::run::log_object;
use crate::{Batch, BatchError};

/// The routes, every answer carrying a request id.
pub fn router(batch: Batch) -> Router {
    Router::new()
        .route("/jobs", post(create_job).get(list_jobs))
        .route(
            "/jobs/{id}",
            get(get_job).put(change_priority).delete(delete_job),
        )
        .route("/jobs/{id}/stop", post(stop_job))
        .route("/jobs/{id}/start", post(start_job))
        .route("/jobs/{id}/tasks", get(list_tasks))
        .route("/jobs/{id}/tasks/{task}", get(get_task))
        .route("/jobs/{id}/tasks/{task}/instances", get(list_instances))
        .route("/jobs/{id}/tasks/{task}/instances/{n}", get(get_instance))
        .fallback(unsupported)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            batch.clone(),
            request_id,
        ))
        .with_state(batch)
}

async fn request_id(AxState(batch): AxState<Batch>, req: Request, next: Next) -> Response {
    let id = batch.config().ctx.ids.uuid().to_uppercase();
    let checked = match &batch.config().strict_auth {
        None => Ok(()),
        Some((key, secret)) => {
            let target = req
                .uri()
                .path_and_query()
                .map_or_else(|| req.uri().path().to_string(), |p| p.as_str().to_string());
            crate::auth::verify((key, secret), req.method().as_str(), &target, req.headers())
        }
    };
    let mut resp = match checked {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-acs-request-id", v);
    }
    resp.headers_mut().insert(
        http::header::SERVER,
        HeaderValue::from_static("AliyunBatchCompute"),
    );
    resp
}

async fn unsupported(uri: Uri) -> BatchError {
    BatchError::InvalidUrlPattern(format!(
        "fcemu serves jobs, tasks and instances; {} is not emulated",
        uri.path()
    ))
}

async fn method_not_allowed() -> Response {
    let body = json!({
        "Code": "MethodNotAllowed",
        "Message": "The request http method is not supported for this resource.",
    });
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

/// Query pairs; a bare key (`?description`) is an empty value.
fn query(uri: &Uri) -> Vec<(String, String)> {
    let decode = |s: &str| percent_decode(s);
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(h) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(h, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn param<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

/// `2016-11-01T15:25:03.020203Z`, or `""` when unset (the SDK reads anything else as None).
fn time_of(ms: Option<i64>) -> String {
    let Some(ms) = ms else { return String::new() };
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return String::new();
    };
    format!("{}Z", fcemu_core::clock::utc_text(t, 'T', 6))
}

fn metrics<'a>(states: impl Iterator<Item = State> + 'a) -> Value {
    let mut counts = [0u64; 5];
    for s in states {
        counts[match s {
            State::Waiting => 0,
            State::Running => 1,
            State::Finished => 2,
            State::Failed => 3,
            State::Stopped => 4,
        }] += 1;
    }
    json!({
        "WaitingCount": counts[0], "RunningCount": counts[1], "FinishedCount": counts[2],
        "FailedCount": counts[3], "StoppedCount": counts[4],
    })
}

fn job_json(batch: &Batch, j: &Job) -> Value {
    let owner: u64 = batch.config().ctx.account_id.parse().unwrap_or(0);
    json!({
        "Name": j.name, "Id": j.id, "OwnerId": owner, "Owner": batch.config().ctx.account_id,
        "Priority": j.priority, "CreationTime": time_of(Some(j.created_ms)),
        "State": j.state.as_str(), "Message": j.message,
        "StartTime": time_of(j.started_ms), "EndTime": time_of(j.ended_ms),
        "TaskMetrics": metrics(j.tasks.iter().map(|t| t.state)),
        "InstanceMetrics": metrics(j.tasks.iter().flat_map(|t| t.instances.iter().map(|i| i.state))),
    })
}

fn task_json(t: &Task) -> Value {
    json!({
        "TaskName": t.name, "State": t.state.as_str(),
        "StartTime": time_of(t.started_ms), "EndTime": time_of(t.ended_ms),
        "InstanceMetrics": metrics(t.instances.iter().map(|i| i.state)),
    })
}

fn instance_json(j: &Job, t: &Task, i: &Instance) -> Value {
    let log = |dir: &Option<crate::job::OssPath>, stream: &str| {
        dir.as_ref()
            .map(|d| log_object(d, stream, &j.id, &t.name, i.id).to_string())
            .unwrap_or_default()
    };
    json!({
        "InstanceId": i.id, "State": i.state.as_str(),
        "StartTime": time_of(i.started_ms), "EndTime": time_of(i.ended_ms),
        "RetryCount": i.retry_count, "Progress": if i.state == State::Finished { 100 } else { 0 },
        "NodeIp": "127.0.0.1",
        "StdoutRedirectPath": log(&t.spec.stdout_dir, "stdout"),
        "StderrRedirectPath": log(&t.spec.stderr_dir, "stderr"),
        "Result": {
            "ExitCode": i.exit_code.unwrap_or(0), "ErrorCode": i.error_code,
            "ErrorMessage": i.error_message, "Detail": "",
        },
        "Error": {"Code": i.error_code, "Message": i.error_message},
        "Outputs": {},
    })
}

/// One page of `items` (key, value) from `Marker` (inclusive) with `MaxItemCount` of them.
fn page(
    q: &[(String, String)],
    items: Vec<(String, Value)>,
    numeric: bool,
) -> Result<Response, BatchError> {
    let max = match param(q, "MaxItemCount").filter(|s| !s.is_empty()) {
        None => 50,
        Some(s) => match s.parse::<i64>() {
            Ok(0) => 50,
            Ok(n @ 1..=100) => n as usize,
            _ => {
                return Err(BatchError::invalid(
                    "MaxItemCount",
                    format!("It must be in [0, 100], got {s}"),
                ));
            }
        },
    };
    let marker = param(q, "Marker").unwrap_or("");
    let start = if marker.is_empty() {
        0
    } else if numeric {
        let m: u64 = marker.parse().unwrap_or(0);
        items
            .iter()
            .position(|(k, _)| k.parse::<u64>().unwrap_or(0) >= m)
            .unwrap_or(items.len())
    } else {
        items
            .iter()
            .position(|(k, _)| k == marker)
            .unwrap_or(items.len())
    };
    let rest = &items[start..];
    let next = rest.get(max).map(|(k, _)| k.clone()).unwrap_or_default();
    let list: Vec<Value> = rest.iter().take(max).map(|(_, v)| v.clone()).collect();
    Ok(axum::Json(json!({"NextMarker": next, "Items": list})).into_response())
}

async fn create_job(AxState(batch): AxState<Batch>, body: Bytes) -> Result<Response, BatchError> {
    let id = batch.create_job(&body).await?;
    Ok((StatusCode::CREATED, axum::Json(json!({ "Id": id }))).into_response())
}

async fn list_jobs(AxState(batch): AxState<Batch>, uri: Uri) -> Result<Response, BatchError> {
    let q = query(&uri);
    let state = match param(&q, "State").filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => {
            Some(State::parse(s).ok_or_else(|| BatchError::invalid("State", format!("{s:?}")))?)
        }
    };
    let items = batch
        .jobs()
        .await
        .iter()
        .filter(|j| state.is_none_or(|s| j.state == s))
        .map(|j| (j.id.clone(), job_json(&batch, j)))
        .collect();
    page(&q, items, false)
}

async fn get_job(
    AxState(batch): AxState<Batch>,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, BatchError> {
    let job = batch.job(&id).await?;
    if param(&query(&uri), "description").is_some() {
        return Ok((
            [(http::header::CONTENT_TYPE, "application/json")],
            job.description,
        )
            .into_response());
    }
    Ok(axum::Json(job_json(&batch, &job)).into_response())
}

async fn change_priority(
    AxState(batch): AxState<Batch>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, BatchError> {
    let v: Value =
        serde_json::from_slice(&body).map_err(|e| BatchError::InvalidJsonFormat(e.to_string()))?;
    let p = crate::job::priority(&v)?;
    batch.set_priority(&id, p).await?;
    Ok(StatusCode::OK.into_response())
}

async fn delete_job(
    AxState(batch): AxState<Batch>,
    Path(id): Path<String>,
) -> Result<Response, BatchError> {
    batch.delete_job(&id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn stop_job(
    AxState(batch): AxState<Batch>,
    Path(id): Path<String>,
) -> Result<Response, BatchError> {
    batch.stop_job(&id).await?;
    Ok(StatusCode::CREATED.into_response())
}

async fn start_job(
    AxState(batch): AxState<Batch>,
    Path(id): Path<String>,
) -> Result<Response, BatchError> {
    batch.start_job(&id).await?;
    Ok(StatusCode::CREATED.into_response())
}

async fn list_tasks(
    AxState(batch): AxState<Batch>,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, BatchError> {
    let q = query(&uri);
    let job = batch.job(&id).await?;
    let state = param(&q, "State")
        .filter(|s| !s.is_empty())
        .and_then(State::parse);
    let items = job
        .tasks
        .iter()
        .filter(|t| state.is_none_or(|s| t.state == s))
        .map(|t| (t.name.clone(), task_json(t)))
        .collect();
    page(&q, items, false)
}

fn task_of<'a>(job: &'a Job, task: &str) -> Result<&'a Task, BatchError> {
    job.task(task)
        .ok_or_else(|| BatchError::NotFound(format!("task {task} of job {}", job.id)))
}

async fn get_task(
    AxState(batch): AxState<Batch>,
    Path((id, task)): Path<(String, String)>,
) -> Result<Response, BatchError> {
    let job = batch.job(&id).await?;
    Ok(axum::Json(task_json(task_of(&job, &task)?)).into_response())
}

async fn list_instances(
    AxState(batch): AxState<Batch>,
    Path((id, task)): Path<(String, String)>,
    uri: Uri,
) -> Result<Response, BatchError> {
    let q = query(&uri);
    let job = batch.job(&id).await?;
    let t = task_of(&job, &task)?;
    let state = param(&q, "State")
        .filter(|s| !s.is_empty())
        .and_then(State::parse);
    let items = t
        .instances
        .iter()
        .filter(|i| state.is_none_or(|s| i.state == s))
        .map(|i| (i.id.to_string(), instance_json(&job, t, i)))
        .collect();
    page(&q, items, true)
}

async fn get_instance(
    AxState(batch): AxState<Batch>,
    Path((id, task, n)): Path<(String, String, String)>,
) -> Result<Response, BatchError> {
    let job = batch.job(&id).await?;
    let t = task_of(&job, &task)?;
    let i = n
        .parse::<usize>()
        .ok()
        .and_then(|n| t.instances.get(n))
        .ok_or_else(|| BatchError::NotFound(format!("instance {n} of task {task}")))?;
    Ok(axum::Json(instance_json(&job, t, i)).into_response())
}
