//! `GET /_fcemu/snapshot`: waits until idle, then answers what happened since the last call
//! (or reset) — the invocations and the objects, rows and log groups written — as JSON, or with
//! `format=snap` as the text of an insta `.snap` file (`name=`, `source=` for its header), the
//! format `fcemu test` writes. For test suites in other languages (the pytest plugin).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;

use super::query::Query;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::App;
use crate::services::Services;
use crate::testing::recorder::Recorder;

/// What the endpoint needs: the recorder and what it reads.
#[derive(Clone)]
pub struct SnapshotState {
    /// Follows everything since the last call.
    pub recorder: Arc<tokio::sync::Mutex<Recorder>>,
    /// The application.
    pub app: Arc<App>,
    /// The services.
    pub services: Services,
    /// fcemu's own addresses and their names in snapshots.
    pub own: Vec<(String, &'static str)>,
}

/// Query of `GET /_fcemu/snapshot`.
#[derive(Debug, Deserialize)]
pub struct SnapshotQuery {
    /// `json` (default) or `snap`.
    format: Option<String>,
    /// The snapshot's name (`expression` of the `.snap` header).
    name: Option<String>,
    /// Where it comes from (`source` of the header), e.g. the test's file.
    source: Option<String>,
    /// Seconds to wait for idle (default 30).
    timeout: Option<f64>,
}

/// The handler.
pub async fn snapshot(State(s): State<SnapshotState>, Query(q): Query<SnapshotQuery>) -> Response {
    let timeout = q
        .timeout
        .filter(|t| t.is_finite() && *t >= 0.0)
        .map_or(Duration::from_secs(30), Duration::from_secs_f64);
    if !s.app.idle(timeout).await {
        let body = json!({"error": "Busy", "message": format!("work still in flight after {:.1}s", timeout.as_secs_f64())});
        return (StatusCode::REQUEST_TIMEOUT, Json(body)).into_response();
    }
    let caused = s
        .recorder
        .lock()
        .await
        .take(&s.app, &s.services, &s.own)
        .await;
    let content = Value::Object(caused);
    match q.format.as_deref() {
        None | Some("json") => Json(content).into_response(),
        Some("snap") => {
            let name = q.name.as_deref().unwrap_or("snapshot");
            let source = q.source.as_deref().unwrap_or("fcemu");
            let text = crate::testing::snapshot::file_text(source, name, &content);
            ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
        }
        Some(other) => {
            let body = json!({"error": "InvalidArgument", "message": format!("format must be json or snap, got {other:?}")});
            (StatusCode::BAD_REQUEST, Json(body)).into_response()
        }
    }
}
