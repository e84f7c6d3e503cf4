//! The wire of API version 2015-11-11 (reference batchcompute.md §3): the routes, the JSON
//! shapes the SDK's strict parser accepts (§5), paging (§5.4), and `x-acs-request-id` on every
//! answer, also in the body of an error. [`jobs`] serves jobs, tasks and instances;
//! [`clusters`] clusters, images, quotas and the resources on offer.

mod clusters;
pub mod error;
mod jobs;

use axum::Router;
use axum::extract::{Request, State as AxState};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use http::{HeaderValue, StatusCode, Uri};
use serde_json::{Value, json};

use crate::{Batch, BatchError};

/// The routes, every answer carrying a request id.
pub fn router(batch: Batch) -> Router {
    Router::new()
        .route("/jobs", post(jobs::create_job).get(jobs::list_jobs))
        .route(
            "/jobs/{id}",
            get(jobs::get_job)
                .put(jobs::change_priority)
                .delete(jobs::delete_job),
        )
        .route("/jobs/{id}/stop", post(jobs::stop_job))
        .route("/jobs/{id}/start", post(jobs::start_job))
        .route("/jobs/{id}/tasks", get(jobs::list_tasks))
        .route("/jobs/{id}/tasks/{task}", get(jobs::get_task))
        .route(
            "/jobs/{id}/tasks/{task}/instances",
            get(jobs::list_instances),
        )
        .route(
            "/jobs/{id}/tasks/{task}/instances/{n}",
            get(jobs::get_instance),
        )
        .route(
            "/clusters",
            post(clusters::create_cluster).get(clusters::list_clusters),
        )
        .route(
            "/clusters/{id}",
            get(clusters::get_cluster)
                .put(clusters::modify_cluster)
                .delete(clusters::delete_cluster),
        )
        .route(
            "/clusters/{id}/groups/{group}/instances",
            get(clusters::list_cluster_instances),
        )
        .route(
            "/clusters/{id}/groups/{group}/instances/{instance}",
            get(clusters::get_cluster_instance).delete(clusters::delete_cluster_instance),
        )
        .route(
            "/clusters/{id}/groups/{group}/instances/{instance}/recreate",
            post(clusters::recreate_cluster_instance),
        )
        .route(
            "/images",
            post(clusters::create_image).get(clusters::list_images),
        )
        .route(
            "/images/{id}",
            get(clusters::get_image).delete(clusters::delete_image),
        )
        .route("/quotas", get(clusters::quotas))
        .route("/available", get(clusters::available))
        .route("/apps", any(clusters::apps))
        .route("/apps/{*rest}", any(clusters::apps))
        .fallback(unsupported)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            batch.clone(),
            request_id,
        ))
        .layer(fcemu_core::RequestContextLayer::new(
            batch.config().ctx.ids.clone(),
            REQUEST_ID,
        ))
        .with_state(batch)
}

/// BatchCompute request ids: upper-case UUIDs.
const REQUEST_ID: fcemu_core::RequestIdStyle = fcemu_core::RequestIdStyle::UuidUpper;

/// The context the layer computed for `req`.
fn context(batch: &Batch, req: &Request) -> fcemu_core::RequestContext {
    fcemu_core::RequestContext::of(req, &batch.config().ctx.ids, REQUEST_ID)
}

async fn request_id(AxState(batch): AxState<Batch>, req: Request, next: Next) -> Response {
    let id = context(&batch, &req).request_id;
    let checked = match &batch.config().ctx.strict_auth {
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
    if resp.status().is_client_error() || resp.status().is_server_error() {
        resp = with_request_id(resp, &id).await;
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-acs-request-id", v);
    }
    resp.headers_mut().insert(
        http::header::SERVER,
        HeaderValue::from_static("AliyunBatchCompute"),
    );
    resp
}

/// An error body with `RequestId` filled in (the same id as `x-acs-request-id`).
async fn with_request_id(resp: Response, id: &str) -> Response {
    let (parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return Response::from_parts(parts, axum::body::Body::empty());
    };
    let body = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(mut doc)) if doc.contains_key("RequestId") => {
            doc.insert("RequestId".into(), Value::String(id.to_string()));
            Value::Object(doc).to_string().into()
        }
        _ => bytes,
    };
    let mut resp = Response::from_parts(parts, axum::body::Body::from(body));
    resp.headers_mut().remove(http::header::CONTENT_LENGTH);
    resp
}

async fn unsupported(uri: Uri) -> BatchError {
    BatchError::InvalidUrlPattern(format!(
        "fcemu serves jobs, clusters, images, quotas and available; {} is not emulated",
        uri.path()
    ))
}

async fn method_not_allowed() -> Response {
    let body = json!({
        "Code": "MethodNotAllowed",
        "Message": "The request http method is not supported for this resource.",
        "RequestId": "",
        "HostId": "batchcompute.fcemu",
    });
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

/// Query pairs; a bare key (`?description`) is an empty value.
pub(crate) fn query(uri: &Uri) -> Vec<(String, String)> {
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

pub(crate) fn param<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

/// `2016-11-01T15:25:03.020203Z`, or `""` when unset (the SDK reads anything else as None).
fn time_of(ms: Option<i64>) -> String {
    ms.map(crate::time_text).unwrap_or_default()
}

/// 201 `{"Id"}` for a create; a repeated `?IdempotentToken=` with the same body answers the
/// first create's id, with another body `IdempotentTokenMismatch`.
async fn created<F, Fut>(
    batch: &Batch,
    uri: &Uri,
    body: &[u8],
    create: F,
) -> Result<Response, BatchError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<String, BatchError>>,
{
    let q = query(uri);
    let token = param(&q, "IdempotentToken")
        .filter(|t| !t.is_empty())
        .map(|t| format!("{} {t}", uri.path()));
    let remembered = match &token {
        Some(t) => batch.remembered(t, body)?,
        None => None,
    };
    let id = match remembered {
        Some(id) => id,
        None => {
            let id = create().await?;
            if let Some(t) = &token {
                batch.remember(t, body, &id);
            }
            id
        }
    };
    Ok((StatusCode::CREATED, axum::Json(json!({ "Id": id }))).into_response())
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
