//! `/_fcemu/*`: the emulator's own API for tests and tools — health, idle, loaded functions, and
//! a direct invoke.

mod browse;
mod guard;
mod live;
mod query;
mod snapshot;
mod state;
mod ui;

pub use guard::{Guard, TOKEN_HEADER};

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use query::Query;
use serde::Deserialize;
use serde_json::json;

use crate::app::App;
use crate::records::Filter;
use crate::runtime::{Invocation, WhenBusy};
use crate::services::Services as Stores;
use crate::triggers::Triggers;
use crate::triggers::synthetic::SyntheticEvent;

/// What the read-only views of the services' state need.
#[derive(Clone)]
struct BrowseState {
    stores: Stores,
}

/// What a reset touches: the triggers, the services and the snapshot recorder.
type ResetState = (
    Arc<Triggers>,
    Stores,
    Arc<tokio::sync::Mutex<crate::testing::recorder::Recorder>>,
);

/// Default time `POST /_fcemu/idle` waits.
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The admin routes, mounted under `/_fcemu`, behind `guard`; `own` names fcemu's addresses
/// (`<gateway>`, `<services>`) in snapshots.
pub fn router(
    guard: Guard,
    app: Arc<App>,
    triggers: Arc<Triggers>,
    stores: Stores,
    own: Vec<(String, &'static str)>,
) -> Router {
    let recorder = Arc::new(tokio::sync::Mutex::new(
        crate::testing::recorder::Recorder::start(&stores),
    ));
    let snapshot_routes = Router::new()
        .route("/_fcemu/snapshot", get(snapshot::snapshot))
        .with_state(snapshot::SnapshotState {
            recorder: recorder.clone(),
            app: app.clone(),
            services: stores.clone(),
            own,
        });
    let reset_routes = Router::new()
        .route("/_fcemu/reset", post(reset))
        .with_state((triggers.clone(), stores.clone(), recorder));
    let browse_routes = Router::new()
        .route("/_fcemu/buckets", get(browse::buckets))
        .route("/_fcemu/buckets/{bucket}/objects", get(browse::objects))
        .route("/_fcemu/tables", get(browse::tables))
        .route("/_fcemu/tables/{instance}/{table}/rows", get(browse::rows))
        .route(
            "/_fcemu/tables/{instance}/{table}/stream",
            get(browse::stream),
        )
        .route("/_fcemu/logstores", get(browse::logstores))
        .route("/_fcemu/batch", get(browse::batch_jobs))
        .route("/_fcemu/logs/{project}/{logstore}", get(browse::logs))
        .route("/_fcemu/state", get(state::export).post(state::import))
        .with_state(BrowseState {
            stores: stores.clone(),
        });
    let ui_routes = Router::new()
        .route("/_fcemu/ui", get(ui::page))
        .route("/_fcemu/ui/app.js", get(ui::script))
        .route("/_fcemu/ui/style.css", get(ui::style))
        .with_state(guard.clone());
    let trigger_routes = Router::new()
        .route(
            "/_fcemu/invocations",
            get(invocations).delete(clear_invocations),
        )
        .route("/_fcemu/invocations/stream", get(live::stream))
        .route("/_fcemu/triggers", get(list_triggers))
        .route("/_fcemu/clock", get(clock))
        .route("/_fcemu/clock/advance", post(advance_clock))
        .route("/_fcemu/events", post(inject_event))
        .with_state(triggers);
    Router::new()
        .route("/_fcemu/health", get(health))
        .route("/_fcemu/idle", post(idle))
        .route("/_fcemu/functions", get(functions))
        .route("/_fcemu/functions/{name}/invoke", post(invoke))
        .with_state(app)
        .merge(trigger_routes)
        .merge(reset_routes)
        .merge(snapshot_routes)
        .merge(browse_routes)
        .merge(ui_routes)
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(guard, guard::check))
}

async fn invocations(State(t): State<Arc<Triggers>>, Query(f): Query<Filter>) -> Response {
    if let Some(status) = &f.status
        && !crate::records::is_status(status)
    {
        let body = json!({"error": "InvalidArgument", "message": format!("status must be success, handled-error or unhandled-error, got {status:?}")});
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    Json(json!({ "invocations": t.app.records().query(&f) })).into_response()
}

async fn clear_invocations(State(t): State<Arc<Triggers>>) -> StatusCode {
    t.app.records().clear();
    StatusCode::NO_CONTENT
}

async fn list_triggers(State(t): State<Arc<Triggers>>) -> Json<serde_json::Value> {
    Json(t.describe())
}

fn clock_json(t: &Triggers) -> serde_json::Value {
    let clock = t.app.runtime().clock();
    json!({
        "now": clock.now().format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        "virtual": clock.is_virtual(),
    })
}

async fn clock(State(t): State<Arc<Triggers>>) -> Json<serde_json::Value> {
    Json(clock_json(&t))
}

#[derive(Deserialize)]
struct Advance {
    /// Seconds to move the clock.
    seconds: Option<f64>,
    /// Or a duration such as `1h`, `15m`, `90s`, `1h30m`.
    by: Option<String>,
}

async fn advance_clock(
    State(t): State<Arc<Triggers>>,
    Query(q): Query<Advance>,
    body: axum::body::Bytes,
) -> Response {
    let bad = |message: String| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "InvalidArgument", "message": message})),
        )
            .into_response()
    };
    let from_body: Option<Advance> = if body.is_empty() {
        None
    } else {
        match serde_json::from_slice(&body) {
            Ok(a) => Some(a),
            Err(e) => {
                return bad(format!(
                    "the body must be JSON like {{\"seconds\": 3600}} or {{\"by\": \"1h\"}}: {e}"
                ));
            }
        }
    };
    let a = from_body.unwrap_or(q);
    let by = match (a.seconds, a.by) {
        (Some(s), _) if s.is_finite() && s >= 0.0 => std::time::Duration::from_secs_f64(s),
        (Some(s), _) => return bad(format!("seconds must be a non-negative number, got {s}")),
        (None, Some(by)) => match crate::triggers::timer::parse_duration(&by) {
            Ok(d) => d,
            Err(e) => return bad(e),
        },
        (None, None) => return bad("say how far: ?seconds=3600 or ?by=1h".into()),
    };
    let Some(mut fired) = t.advance(by).await else {
        let body = json!({"error": "ClockNotVirtual", "message": "the clock follows the host's; start fcemu with --deterministic to move it"});
        return (StatusCode::CONFLICT, Json(body)).into_response();
    };
    fired.sort_by(|a, b| a.trigger_time.cmp(&b.trigger_time));
    let mut body = clock_json(&t);
    body["fired"] = json!(fired);
    Json(body).into_response()
}

async fn inject_event(State(t): State<Arc<Triggers>>, body: axum::body::Bytes) -> Response {
    let event: SyntheticEvent = match serde_json::from_slice(&body) {
        Ok(e) => e,
        Err(e) => {
            let body = json!({"error": "InvalidArgument", "message": format!("not a synthetic event: {e}; e.g. {{\"type\": \"oss\", \"bucket\": \"uploads\", \"key\": \"photos/a.jpg\"}}")});
            return (StatusCode::BAD_REQUEST, Json(body)).into_response();
        }
    };
    match crate::triggers::synthetic::inject(&t, &event).await {
        Ok(ids) => Json(json!({ "requestIds": ids })).into_response(),
        Err(message) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "InvalidArgument", "message": message})),
        )
            .into_response(),
    }
}

async fn health(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    let plan = app.plan();
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "app": plan.name,
        "functions": app.functions().len(),
        "generation": app.generation(),
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

/// Query of `POST /_fcemu/reset`.
#[derive(Deserialize)]
struct ResetQuery {
    /// Seconds to wait for idle at most.
    timeout: Option<f64>,
    /// Also start over as a new process would: clock, instances and ids (`Triggers::start_over`).
    #[serde(default)]
    fresh: bool,
}

/// Waits until idle, then forgets every bucket, table, logstore, invocation record and log
/// batch, and creates what the manifest declares, as at start: a clean slate between tests
/// without a restart. With `fresh=true` the clock, instances and ids start over too.
async fn reset(
    State((t, stores, recorder)): State<ResetState>,
    Query(q): Query<ResetQuery>,
) -> Response {
    let timeout = q
        .timeout
        .filter(|t| t.is_finite() && *t >= 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(DEFAULT_IDLE_TIMEOUT);
    if !t.app.idle(timeout).await {
        let body = json!({"error": "Busy", "message": format!("work still in flight after {:.1}s; nothing was reset", timeout.as_secs_f64())});
        return (StatusCode::CONFLICT, Json(body)).into_response();
    }
    if let Err(e) = stores.reset(&t.app.plan()).await {
        let body = json!({"error": "ResetFailed", "message": format!("{e:#}")});
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response();
    }
    t.logs.clear();
    t.app.records().clear();
    if q.fresh {
        t.start_over().await;
    }
    recorder.lock().await.skip(&t.app);
    Json(json!({"reset": true})).into_response()
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
                "tier": f.tier,
                "loadMs": f.load_time.as_secs_f64() * 1000.0,
                "loadedAt": f.loaded_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                "memory": f.plan.memory_mb,
                "timeout": f.plan.timeout.as_secs(),
                "concurrency": f.plan.concurrency,
                "running": f.busy(),
                "triggers": f.plan.triggers,
                "reloads": app.reloads(&f.plan.name),
                "runtime": f.native().map(|n| n.plan.label.clone()),
                "interpreter": f.native().and_then(|n| n.interpreter.clone()),
                "instances": f.native().map(|n| n.warm() + f.busy()),
                "idleInstanceRss": f.native().map(|n| n.idle_rss()),
            })
        })
        .collect();
    Json(json!({ "generation": app.generation(), "functions": list }))
}

/// Runs a function synchronously with the request body as its event, the way FC's sync invoke
/// does: the function's output as the body, `x-fc-request-id`, and `x-fc-error-type` when it
/// failed; 429 when it is at its concurrency limit.
async fn invoke(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    event: axum::body::Bytes,
) -> Response {
    let Some(f) = app.function(&name) else {
        return crate::fcapi::error::FcError::function_not_found(&name).into_response();
    };
    let request_id = app.new_request_id();
    let inv = Invocation {
        request_id: request_id.clone(),
        event,
        qualifier: "LATEST".into(),
        depth: 0,
        caused_by: None,
        retry: 0,
    };
    let outcome = match app.invoke(&f, inv, WhenBusy::Throttle).await {
        Ok(o) => o,
        Err(e) => {
            return crate::fcapi::error::FcError::from(e)
                .with_request_id(&request_id)
                .into_response();
        }
    };
    app.finish(&outcome, "admin", 0);
    let mut resp = (StatusCode::OK, outcome.body).into_response();
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&outcome.request_id) {
        headers.insert("x-fc-request-id", v);
    }
    if let Some(t) = outcome.status.error_type_header() {
        headers.insert("x-fc-error-type", HeaderValue::from_static(t));
    }
    resp
}

async fn not_found(uri: axum::http::Uri) -> Response {
    let body =
        json!({"error": "NotFound", "message": format!("no admin endpoint at {}", uri.path())});
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}
