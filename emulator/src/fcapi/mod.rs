//! The Function Compute OpenAPI on the services port, enough for the real SDKs: FC 2.0
//! (`/2016-08-15`, and `/2021-04-06` as the Tea SDK sends it) and FC 3.0 (`/2023-03-30`):
//! invoke (sync, async, log tail), list and get services, functions and triggers.
//! Services, functions and triggers come from fcemu.toml; the API reads them, it does not
//! create them.

pub mod auth;
pub mod error;
mod invoke;
mod metadata;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::App;
use crate::triggers::queue::AsyncQueue;
use error::{ApiVersion, FcError};

/// The FC API routes. With `strict_auth` (`(AccessKeyId, AccessKeySecret)`), every request must
/// carry a valid FC 2.0 or ACS3 signature made with that key.
pub fn router(
    app: Arc<App>,
    queue: Arc<AsyncQueue>,
    strict_auth: Option<(String, String)>,
) -> Router {
    let v2 = Router::new()
        .route("/account-settings", get(account_settings))
        .route("/services", get(list_services).post(create_unsupported))
        .route(
            "/services/{svcq}",
            get(get_service)
                .put(create_unsupported)
                .delete(create_unsupported),
        )
        .route(
            "/services/{svcq}/functions",
            get(list_functions_v2).post(create_unsupported),
        )
        .route(
            "/services/{svcq}/functions/{function}",
            get(get_function_v2)
                .put(create_unsupported)
                .delete(create_unsupported),
        )
        .route(
            "/services/{svcq}/functions/{function}/invocations",
            post(invoke_v2),
        )
        .route(
            "/services/{svcq}/functions/{function}/triggers",
            get(list_triggers_v2).post(create_unsupported),
        )
        .route(
            "/services/{svcq}/functions/{function}/triggers/{trigger}",
            get(get_trigger_v2),
        )
        .fallback(not_supported_v2);
    let v3 = Router::new()
        .route(
            "/functions",
            get(list_functions_v3).post(create_unsupported_v3),
        )
        .route(
            "/functions/{function}",
            get(get_function_v3)
                .put(create_unsupported_v3)
                .delete(create_unsupported_v3),
        )
        .route("/functions/{function}/invocations", post(invoke_v3))
        .route(
            "/functions/{function}/triggers",
            get(list_triggers_v3).post(create_unsupported_v3),
        )
        .route(
            "/functions/{function}/triggers/{trigger}",
            get(get_trigger_v3),
        )
        .fallback(not_supported_v3);
    let routes = Router::new()
        .nest("/2016-08-15", v2.clone())
        .nest("/2021-04-06", v2)
        .nest("/2023-03-30", v3)
        .with_state(Api {
            app: app.clone(),
            queue,
        });
    match strict_auth {
        None => routes,
        Some((access_key_id, access_key_secret)) => {
            let state = auth::AuthState {
                credentials: Arc::new(auth::Credentials {
                    access_key_id,
                    access_key_secret,
                }),
                app,
            };
            routes.layer(axum::middleware::from_fn_with_state(
                state,
                auth::require_signature,
            ))
        }
    }
}

/// What the FC API handlers share.
#[derive(Clone)]
pub struct Api {
    app: Arc<App>,
    queue: Arc<AsyncQueue>,
}

impl axum::extract::FromRef<Api> for Arc<App> {
    fn from_ref(api: &Api) -> Arc<App> {
        api.app.clone()
    }
}

type Result<T, E = FcError> = std::result::Result<T, E>;

/// Query parameters of the list APIs.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    limit: Option<String>,
    next_token: Option<String>,
    prefix: Option<String>,
    start_key: Option<String>,
    qualifier: Option<String>,
}

impl ListQuery {
    /// Pages `names` (sorted) as FC does: `prefix`, `startKey`, `nextToken`, `limit` (≤ 100).
    fn page(&self, mut names: Vec<String>) -> Result<(Vec<String>, String)> {
        names.sort();
        let limit = match self.limit.as_deref().filter(|l| !l.is_empty()) {
            None => 100,
            Some(l) => l
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| {
                    FcError::invalid_argument(format!(
                        "limit must be a number from 1 to 100, got {l:?}"
                    ))
                })?,
        };
        let from = [self.start_key.as_deref(), self.next_token.as_deref()]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .max()
            .unwrap_or("")
            .to_string();
        let prefix = self.prefix.clone().unwrap_or_default();
        let matching: Vec<String> = names
            .into_iter()
            .filter(|n| n.starts_with(&prefix) && n.as_str() >= from.as_str())
            .collect();
        let next = matching.get(limit).cloned().unwrap_or_default();
        Ok((matching.into_iter().take(limit).collect(), next))
    }
}

/// Splits FC 2.0's `service.qualifier` path segment.
fn split_qualifier(svcq: &str) -> (&str, Option<&str>) {
    match svcq.split_once('.') {
        Some((s, q)) => (s, Some(q)),
        None => (svcq, None),
    }
}

fn service_exists(app: &App, name: &str) -> bool {
    let plan = app.plan();
    plan.services.contains_key(name) || plan.functions.values().any(|f| f.service == name)
}

fn json_response(app: &App, rid: &str, value: Value) -> Response {
    let mut resp = axum::Json(value).into_response();
    if let Ok(v) = rid.parse() {
        resp.headers_mut().insert("x-fc-request-id", v);
    }
    let _ = app;
    resp
}

async fn account_settings(State(app): State<Arc<App>>) -> Response {
    let rid = app.new_request_id();
    let region = app.plan().region.clone();
    json_response(
        &app,
        &rid,
        json!({ "availableAZs": [format!("{region}-a")] }),
    )
}

async fn list_services(
    State(app): State<Arc<App>>,
    Query(q): Query<ListQuery>,
) -> Result<Response> {
    let rid = app.new_request_id();
    let plan = app.plan();
    let names: std::collections::BTreeSet<String> = plan
        .services
        .keys()
        .cloned()
        .chain(plan.functions.values().map(|f| f.service.clone()))
        .collect();
    let names = names.into_iter().collect();
    let (page, next) = q.page(names).map_err(|e| e.with_request_id(&rid))?;
    let created = app.runtime().clock().now();
    let services: Vec<Value> = page
        .iter()
        .map(|n| metadata::service(&plan, n, created))
        .collect();
    Ok(json_response(
        &app,
        &rid,
        json!({ "services": services, "nextToken": next }),
    ))
}

async fn get_service(State(app): State<Arc<App>>, Path(svcq): Path<String>) -> Result<Response> {
    let rid = app.new_request_id();
    let (svc, _) = split_qualifier(&svcq);
    if !service_exists(&app, svc) {
        return Err(FcError::service_not_found(svc).with_request_id(&rid));
    }
    let created = app.runtime().clock().now();
    Ok(json_response(
        &app,
        &rid,
        metadata::service(&app.plan(), svc, created),
    ))
}

fn function_in_service(
    app: &App,
    svc: &str,
    name: &str,
    rid: &str,
) -> Result<Arc<crate::runtime::LoadedFunction>> {
    if !service_exists(app, svc) {
        return Err(FcError::service_not_found(svc).with_request_id(rid));
    }
    match app.function(name) {
        Some(f) if f.plan.service == svc => Ok(f),
        _ => Err(FcError::function_not_found(name).with_request_id(rid)),
    }
}

async fn list_functions_v2(
    State(app): State<Arc<App>>,
    Path(svcq): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Response> {
    let rid = app.new_request_id();
    let (svc, _) = split_qualifier(&svcq);
    if !service_exists(&app, svc) {
        return Err(FcError::service_not_found(svc).with_request_id(&rid));
    }
    let functions = app.functions();
    let names = functions
        .values()
        .filter(|f| f.plan.service == svc)
        .map(|f| f.plan.name.clone())
        .collect();
    let (page, next) = q.page(names).map_err(|e| e.with_request_id(&rid))?;
    let list: Vec<Value> = page
        .iter()
        .filter_map(|n| functions.get(n))
        .map(|f| metadata::function_v2(f))
        .collect();
    Ok(json_response(
        &app,
        &rid,
        json!({ "functions": list, "nextToken": next }),
    ))
}

async fn get_function_v2(
    State(app): State<Arc<App>>,
    Path((svcq, name)): Path<(String, String)>,
) -> Result<Response> {
    let rid = app.new_request_id();
    let (svc, _) = split_qualifier(&svcq);
    let f = function_in_service(&app, svc, &name, &rid)?;
    Ok(json_response(&app, &rid, metadata::function_v2(&f)))
}

async fn list_triggers_v2(
    State(app): State<Arc<App>>,
    Path((svcq, name)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
) -> Result<Response> {
    let rid = app.new_request_id();
    let (svc, _) = split_qualifier(&svcq);
    let f = function_in_service(&app, svc, &name, &rid)?;
    triggers_response(&app, &rid, &f, &q, false)
}

async fn get_trigger_v2(
    State(app): State<Arc<App>>,
    Path((svcq, name, trigger)): Path<(String, String, String)>,
) -> Result<Response> {
    let rid = app.new_request_id();
    let (svc, _) = split_qualifier(&svcq);
    let f = function_in_service(&app, svc, &name, &rid)?;
    trigger_response(&app, &rid, &f, &trigger, false)
}

fn triggers_response(
    app: &App,
    rid: &str,
    f: &crate::runtime::LoadedFunction,
    q: &ListQuery,
    v3: bool,
) -> Result<Response> {
    let names = f.plan.triggers.iter().map(|t| t.name.clone()).collect();
    let (page, next) = q.page(names).map_err(|e| e.with_request_id(rid))?;
    let plan = app.plan();
    let list: Vec<Value> = page
        .iter()
        .filter_map(|n| f.plan.triggers.iter().find(|t| &t.name == n))
        .map(|t| metadata::trigger(&plan, f, t, v3))
        .collect();
    Ok(json_response(
        app,
        rid,
        json!({ "triggers": list, "nextToken": next }),
    ))
}

fn trigger_response(
    app: &App,
    rid: &str,
    f: &crate::runtime::LoadedFunction,
    name: &str,
    v3: bool,
) -> Result<Response> {
    let version = if v3 { ApiVersion::V3 } else { ApiVersion::V2 };
    let t = f
        .plan
        .triggers
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| {
            FcError::trigger_not_found(name)
                .with_request_id(rid)
                .in_version(version)
        })?;
    Ok(json_response(
        app,
        rid,
        metadata::trigger(&app.plan(), f, t, v3),
    ))
}

async fn invoke_v2(
    State(api): State<Api>,
    Path((svcq, name)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let app = &api.app;
    let rid = app.new_request_id();
    let (svc, qualifier) = split_qualifier(&svcq);
    let qualifier = qualifier
        .map(str::to_string)
        .or(q.qualifier)
        .unwrap_or_else(|| "LATEST".into());
    match function_in_service(app, svc, &name, &rid) {
        Ok(f) => {
            invoke::invoke(
                app,
                &api.queue,
                f,
                rid,
                qualifier,
                &headers,
                body,
                ApiVersion::V2,
            )
            .await
        }
        Err(e) => e.into_response(),
    }
}

async fn list_functions_v3(
    State(app): State<Arc<App>>,
    Query(q): Query<ListQuery>,
) -> Result<Response> {
    let rid = app.new_request_id();
    let v3 = |e: FcError| e.with_request_id(&rid).in_version(ApiVersion::V3);
    let functions = app.functions();
    let (page, next) = q.page(functions.keys().cloned().collect()).map_err(v3)?;
    let plan = app.plan();
    let list: Vec<Value> = page
        .iter()
        .filter_map(|n| functions.get(n))
        .map(|f| metadata::function_v3(&plan, f))
        .collect();
    Ok(json_response(
        &app,
        &rid,
        json!({ "functions": list, "nextToken": next }),
    ))
}

fn function_v3(app: &App, name: &str, rid: &str) -> Result<Arc<crate::runtime::LoadedFunction>> {
    app.function(name).ok_or_else(|| {
        FcError::function_not_found(name)
            .with_request_id(rid)
            .in_version(ApiVersion::V3)
    })
}

async fn get_function_v3(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
) -> Result<Response> {
    let rid = app.new_request_id();
    let f = function_v3(&app, &name, &rid)?;
    Ok(json_response(
        &app,
        &rid,
        metadata::function_v3(&app.plan(), &f),
    ))
}

async fn invoke_v3(
    State(api): State<Api>,
    Path(name): Path<String>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let app = &api.app;
    let rid = app.new_request_id();
    let qualifier = q.qualifier.unwrap_or_else(|| "LATEST".into());
    match function_v3(app, &name, &rid) {
        Ok(f) => {
            invoke::invoke(
                app,
                &api.queue,
                f,
                rid,
                qualifier,
                &headers,
                body,
                ApiVersion::V3,
            )
            .await
        }
        Err(e) => e.into_response(),
    }
}

async fn list_triggers_v3(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Response> {
    let rid = app.new_request_id();
    let f = function_v3(&app, &name, &rid)?;
    triggers_response(&app, &rid, &f, &q, true).map_err(|e| e.in_version(ApiVersion::V3))
}

async fn get_trigger_v3(
    State(app): State<Arc<App>>,
    Path((name, trigger)): Path<(String, String)>,
) -> Result<Response> {
    let rid = app.new_request_id();
    let f = function_v3(&app, &name, &rid)?;
    trigger_response(&app, &rid, &f, &trigger, true)
}

/// Create, update and delete: the manifest is the source of truth. A malformed body is still
/// reported as such first, the way FC validates before anything else.
async fn create_unsupported(State(app): State<Arc<App>>, method: Method, req: Request) -> FcError {
    unsupported(&app, method, req, ApiVersion::V2).await
}

async fn create_unsupported_v3(
    State(app): State<Arc<App>>,
    method: Method,
    req: Request,
) -> FcError {
    unsupported(&app, method, req, ApiVersion::V3).await
}

async fn unsupported(app: &App, method: Method, req: Request, version: ApiVersion) -> FcError {
    let rid = app.new_request_id();
    let path = req.uri().path().to_string();
    let body: Bytes = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let err = if !body.is_empty() && method != Method::DELETE {
        match serde_json::from_slice::<Value>(&body) {
            Err(e) => FcError::invalid_argument(format!("the request body is not valid JSON: {e}")),
            Ok(Value::Object(_)) => manifest_owned(&method, &path),
            Ok(_) => FcError::invalid_argument("the request body must be a JSON object"),
        }
    } else {
        manifest_owned(&method, &path)
    };
    err.with_request_id(&rid).in_version(version)
}

fn manifest_owned(method: &Method, path: &str) -> FcError {
    FcError::invalid_argument(format!(
        "{method} {path}: fcemu takes services, functions and triggers from fcemu.toml; declare them there (fcemu reloads it live)"
    ))
}

async fn not_supported_v2(
    State(app): State<Arc<App>>,
    method: Method,
    uri: axum::http::Uri,
) -> FcError {
    FcError::path_not_supported(method.as_str(), uri.path()).with_request_id(&app.new_request_id())
}

async fn not_supported_v3(
    State(app): State<Arc<App>>,
    method: Method,
    uri: axum::http::Uri,
) -> FcError {
    FcError::path_not_supported(method.as_str(), uri.path())
        .with_request_id(&app.new_request_id())
        .in_version(ApiVersion::V3)
}
