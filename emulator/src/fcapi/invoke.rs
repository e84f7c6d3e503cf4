//! InvokeFunction for both API versions (reference/fc.md §5.5, §6.4).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bytes::Bytes;

use super::error::{ApiVersion, FcError};
use crate::app::App;
use crate::runtime::{Invocation, InvocationOutcome, LoadedFunction, Shape, WhenBusy};
use crate::triggers::queue::{AsyncQueue, Job};

/// FC's synchronous request payload limit.
pub const SYNC_PAYLOAD_LIMIT: usize = 32 << 20;
/// FC's asynchronous request payload limit.
pub const ASYNC_PAYLOAD_LIMIT: usize = 128 << 10;
/// How much of the log `x-fc-log-result` carries.
const LOG_TAIL_BYTES: usize = 4096;

/// Runs an InvokeFunction request and writes FC's response.
#[allow(clippy::too_many_arguments)]
pub async fn invoke(
    app: &Arc<App>,
    queue: &AsyncQueue,
    f: Arc<LoadedFunction>,
    rid: String,
    qualifier: String,
    headers: &HeaderMap,
    body: Body,
    version: ApiVersion,
) -> Response {
    let err = |e: FcError| e.with_request_id(&rid).in_version(version).into_response();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let is_async = match header("x-fc-invocation-type").to_ascii_lowercase().as_str() {
        "" | "sync" => false,
        "async" => true,
        other => {
            return err(FcError::invalid_argument(format!(
                "x-fc-invocation-type must be Sync or Async, got {other:?}"
            )));
        }
    };
    let tail = match header("x-fc-log-type").to_ascii_lowercase().as_str() {
        "" | "none" => false,
        "tail" => true,
        other => {
            return err(FcError::invalid_argument(format!(
                "x-fc-log-type must be None or Tail, got {other:?}"
            )));
        }
    };
    if f.shape == Shape::Http {
        return err(FcError::invalid_argument(format!(
            "function '{}' is an HTTP function (wasi:http/proxy); call it through its http trigger route on the gateway",
            f.plan.name
        )));
    }
    let limit = if is_async {
        ASYNC_PAYLOAD_LIMIT
    } else {
        SYNC_PAYLOAD_LIMIT
    };
    let event = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => return err(FcError::entity_too_large(limit)),
    };
    let inv = Invocation {
        request_id: rid.clone(),
        event,
        qualifier,
        depth: 0,
        caused_by: None,
        retry: 0,
    };
    if is_async {
        queue
            .enqueue(Job {
                request_id: rid.clone(),
                function: f.plan.name.clone(),
                trigger: "async".into(),
                event: inv.event,
                enqueued_at: app.runtime().clock().now(),
                attempt: 0,
                depth: 0,
                caused_by: None,
            })
            .await;
        let mut resp = StatusCode::ACCEPTED.into_response();
        insert(&mut resp, "x-fc-request-id", &rid);
        return resp;
    }
    let outcome = match app.invoke(&f, inv, WhenBusy::Throttle).await {
        Ok(o) => o,
        Err(e) => return err(e.into()),
    };
    app.finish(&outcome, "api", 0);
    sync_response(&f, &outcome, tail)
}

fn insert(resp: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

/// The last 4 KB of the invocation's log, base64 (FC cuts at a byte boundary).
pub fn log_result(outcome: &InvocationOutcome) -> String {
    let log = outcome.log_text();
    let bytes = log.as_bytes();
    let tail = &bytes[bytes.len().saturating_sub(LOG_TAIL_BYTES)..];
    base64::engine::general_purpose::STANDARD.encode(tail)
}

fn sync_response(f: &LoadedFunction, o: &InvocationOutcome, tail: bool) -> Response {
    let mut resp = (StatusCode::OK, Body::from(Bytes::clone(&o.body))).into_response();
    let content_type = if o.status.error_type_header().is_some() {
        "application/json"
    } else {
        "application/octet-stream"
    };
    insert(&mut resp, "content-type", content_type);
    insert(&mut resp, "x-fc-request-id", &o.request_id);
    insert(
        &mut resp,
        "x-fc-invocation-duration",
        &o.billed_ms().to_string(),
    );
    insert(
        &mut resp,
        "x-fc-max-memory-usage",
        &format!("{:.2}", o.max_memory_bytes as f64 / (1024.0 * 1024.0)),
    );
    insert(
        &mut resp,
        "x-fc-code-checksum",
        &super::metadata::code_checksum(f),
    );
    insert(&mut resp, "x-fc-invocation-service-version", "LATEST");
    insert(&mut resp, "x-fc-instance-id", &o.instance_id);
    if let Some(t) = o.status.error_type_header() {
        insert(&mut resp, "x-fc-error-type", t);
    }
    if tail {
        insert(&mut resp, "x-fc-log-result", &log_result(o));
    }
    resp
}
