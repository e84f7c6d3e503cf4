//! Jobs, tasks and instances on the wire (reference batchcompute.md §3, §5).

use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::response::{IntoResponse, Response};
use http::{StatusCode, Uri};
use serde_json::{Value, json};

use super::{created, page, param, query, time_of};
use crate::job::{Instance, Job, State, Task};
use crate::run::log_object;
use crate::{Batch, BatchError};

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

pub(super) fn job_json(batch: &Batch, j: &Job) -> Value {
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

pub(super) async fn create_job(
    AxState(batch): AxState<Batch>,
    uri: Uri,
    body: Bytes,
) -> Result<Response, BatchError> {
    created(&batch, &uri, &body, || batch.create_job(&body)).await
}

/// Whether `task` runs on the cluster a `ClusterId` filter names (`""`: any).
fn on_cluster(task: &Task, cluster: &str) -> bool {
    cluster.is_empty() || task.spec.cluster.as_deref() == Some(cluster)
}

pub(super) async fn list_jobs(
    AxState(batch): AxState<Batch>,
    uri: Uri,
) -> Result<Response, BatchError> {
    let q = query(&uri);
    let state = match param(&q, "State").filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => {
            Some(State::parse(s).ok_or_else(|| BatchError::invalid("State", format!("{s:?}")))?)
        }
    };
    let cluster = param(&q, "ClusterId").unwrap_or("");
    let items = batch
        .jobs()
        .await
        .iter()
        .filter(|j| state.is_none_or(|s| j.state == s))
        .filter(|j| j.tasks.iter().any(|t| on_cluster(t, cluster)))
        .map(|j| (j.id.clone(), job_json(&batch, j)))
        .collect();
    page(&q, items, false)
}

pub(super) async fn get_job(
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

pub(super) async fn change_priority(
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

pub(super) async fn delete_job(
    AxState(batch): AxState<Batch>,
    Path(id): Path<String>,
) -> Result<Response, BatchError> {
    batch.delete_job(&id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn stop_job(
    AxState(batch): AxState<Batch>,
    Path(id): Path<String>,
) -> Result<Response, BatchError> {
    batch.stop_job(&id).await?;
    Ok(StatusCode::CREATED.into_response())
}

pub(super) async fn start_job(
    AxState(batch): AxState<Batch>,
    Path(id): Path<String>,
) -> Result<Response, BatchError> {
    batch.start_job(&id).await?;
    Ok(StatusCode::CREATED.into_response())
}

pub(super) async fn list_tasks(
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
        .filter(|t| on_cluster(t, param(&q, "ClusterId").unwrap_or("")))
        .map(|t| (t.name.clone(), task_json(t)))
        .collect();
    page(&q, items, false)
}

fn task_of<'a>(job: &'a Job, task: &str) -> Result<&'a Task, BatchError> {
    job.task(task)
        .ok_or_else(|| BatchError::NotFound(format!("task {task} of job {}", job.id)))
}

pub(super) async fn get_task(
    AxState(batch): AxState<Batch>,
    Path((id, task)): Path<(String, String)>,
) -> Result<Response, BatchError> {
    let job = batch.job(&id).await?;
    Ok(axum::Json(task_json(task_of(&job, &task)?)).into_response())
}

pub(super) async fn list_instances(
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

pub(super) async fn get_instance(
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
