//! `/_fcemu/*`: the emulator's own API for tests and tools — health, idle, loaded functions.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::app::App;

/// Default time `POST /_fcemu/idle` waits.
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The admin routes, mounted under `/_fcemu`.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/_fcemu/health", get(health))
        .route("/_fcemu/idle", post(idle))
        .route("/_fcemu/functions", get(functions))
        .fallback(not_found)
        .with_state(app)
}

async fn health(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    let plan = app.plan();
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "app": plan.name,
        "functions": app.functions().len(),
    }))
}

#[derive(Deserialize)]
struct IdleQuery {
    /// Seconds to wait at most.
    timeout: Option<f64>,
}

async fn idle(State(app): State<Arc<App>>, Query(q): Query<IdleQuery>) -> Response {
    let timeout = q
        .timeout
        .filter(|t| t.is_finite() && *t >= 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(DEFAULT_IDLE_TIMEOUT);
    if app.idle(timeout).await {
        Json(json!({"idle": true})).into_response()
    } else {
        let body = json!({"idle": false, "error": format!("work still in flight after {:.1}s", timeout.as_secs_f64())});
        (StatusCode::REQUEST_TIMEOUT, Json(body)).into_response()
    }
}

async fn functions(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    let list: Vec<_> = app
        .functions()
        .values()
        .map(|f| {
            json!({
                "name": f.plan.name,
                "service": f.plan.service,
                "code": f.plan.code,
                "kind": f.kind,
                "codeHash": f.code_hash,
                "cache": f.cache,
                "loadMs": f.load_time.as_secs_f64() * 1000.0,
                "loadedAt": f.loaded_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                "memory": f.plan.memory_mb,
                "timeout": f.plan.timeout.as_secs(),
                "concurrency": f.plan.concurrency,
                "running": f.busy(),
                "triggers": f.plan.triggers,
            })
        })
        .collect();
    Json(json!({ "functions": list }))
}

async fn not_found(uri: axum::http::Uri) -> Response {
    let body =
        json!({"error": "NotFound", "message": format!("no admin endpoint at {}", uri.path())});
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}
