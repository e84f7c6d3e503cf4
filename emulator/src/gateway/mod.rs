//! The API Gateway: the user's HTTP routes, from the manifest's `http` triggers. Event functions
//! get the API Gateway (or FC 3.0 HTTP trigger) event and their result becomes the response;
//! HTTP functions (`wasi:http/proxy`) get the request itself, streamed both ways.

mod routes;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::json;

pub use routes::{Match, Miss, Route, RouteTable};

use crate::app::App;
use crate::fcapi::error::FcError;
use crate::manifest::HttpTrigger;
use crate::manifest::{AppPlan, HttpFormat};
use crate::runtime::{
    Invocation, InvocationOutcome, InvocationStatus, LoadedFunction, Shape, WhenBusy,
};
use crate::triggers::http_event::{self, Fc3Context, HttpRequest};

/// FC's synchronous payload limit.
pub const MAX_SYNC_PAYLOAD: usize = 32 << 20;

/// Response headers a function may not set (reference/fc.md §2.6).
const RESERVED_RESPONSE_HEADERS: [&str; 5] = [
    "connection",
    "content-length",
    "date",
    "keep-alive",
    "server",
];

/// Gateway state: the app and the route table of its current plan.
pub struct Gateway {
    app: Arc<App>,
    table: Mutex<Option<(Arc<AppPlan>, Arc<RouteTable>)>>,
}

impl Gateway {
    /// A gateway for `app`.
    pub fn new(app: Arc<App>) -> Arc<Self> {
        Arc::new(Gateway {
            app,
            table: Mutex::new(None),
        })
    }

    /// The route table of the app's current plan (rebuilt when the plan changes).
    pub fn routes(&self) -> Arc<RouteTable> {
        let plan = self.app.plan();
        let mut cached = self.table.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((p, t)) = cached.as_ref()
            && Arc::ptr_eq(p, &plan)
        {
            return t.clone();
        }
        let table = Arc::new(RouteTable::from_plan(&plan));
        *cached = Some((plan, table.clone()));
        table
    }
}

/// FC 2.0's HTTP trigger address, `/2016-08-15/proxy/{service}/{function}/{path}` on the
/// services port: the edge strips the prefix and marks the request with this, and the gateway
/// hands it to that function's HTTP trigger instead of matching a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fc2Proxy {
    /// Service named in the address.
    pub service: String,
    /// Function named in the address.
    pub function: String,
}

/// The prefix of FC 2.0 HTTP trigger addresses.
pub const FC2_PROXY_PREFIX: &str = "/2016-08-15/proxy/";

impl Fc2Proxy {
    /// Splits `/2016-08-15/proxy/{service}/{function}/rest` into the target and `/rest`.
    pub fn parse(path: &str) -> Option<(Fc2Proxy, String)> {
        let rest = path.strip_prefix(FC2_PROXY_PREFIX)?;
        let mut parts = rest.splitn(3, '/');
        let service = parts.next().filter(|s| !s.is_empty())?;
        let function = parts.next().filter(|s| !s.is_empty())?;
        let tail = format!("/{}", parts.next().unwrap_or(""));
        Some((
            Fc2Proxy {
                service: service.to_string(),
                function: function.to_string(),
            },
            tail,
        ))
    }
}

/// The function and trigger an FC 2.0 proxy address names, or FC's error.
fn proxy_target(plan: &AppPlan, target: &Fc2Proxy) -> Result<(String, HttpFormat), FcError> {
    let function = plan
        .functions
        .get(&target.function)
        .filter(|f| f.service == target.service);
    let Some(function) = function else {
        let (code, message) = if plan.services.contains_key(&target.service) {
            (
                "FunctionNotFound",
                format!(
                    "function '{}' does not exist in service '{}'",
                    target.function, target.service
                ),
            )
        } else {
            (
                "ServiceNotFound",
                format!("service '{}' does not exist", target.service),
            )
        };
        return Err(FcError::new(StatusCode::NOT_FOUND, code, message));
    };
    function
        .triggers
        .iter()
        .find_map(|t| match &t.kind {
            crate::manifest::TriggerKind::Http(HttpTrigger { format, .. }) if t.enabled => {
                Some((t.name.clone(), *format))
            }
            _ => None,
        })
        .ok_or_else(|| {
            FcError::new(
                StatusCode::NOT_FOUND,
                "TriggerNotFound",
                format!(
                    "function '{}' has no HTTP trigger; add one to call it at {FC2_PROXY_PREFIX}{}/{}/",
                    target.function, target.service, target.function
                ),
            )
        })
}

/// The gateway router. Serve it with `into_make_service_with_connect_info::<SocketAddr>()`.
pub fn router(gateway: Arc<Gateway>) -> Router {
    Router::new().fallback(handle).with_state(gateway)
}

async fn handle(State(gw): State<Arc<Gateway>>, req: Request) -> Response {
    let mut req = fcemu_core::body::read_in_background(req);
    let connect = req.extensions().get::<ConnectInfo<SocketAddr>>().cloned();
    let request_id = gw.app.new_request_id();
    let method = req.method().as_str().to_string();
    let path = percent_encoding::percent_decode_str(req.uri().path())
        .decode_utf8_lossy()
        .into_owned();
    let routes = gw.routes();
    let (function, trigger, format, params) = match req.extensions().get::<Fc2Proxy>() {
        Some(target) => match proxy_target(&gw.app.plan(), target) {
            Ok((trigger, format)) => (target.function.clone(), trigger, format, Default::default()),
            Err(e) => return e.with_request_id(&request_id).into_response(),
        },
        None => {
            let host = req
                .headers()
                .get(axum::http::header::HOST)
                .and_then(|h| h.to_str().ok());
            let prefix = routes.locate(host, &method, &path);
            let located = match &prefix {
                Some(p) => routes::join(p, &path),
                None => path.clone(),
            };
            match routes.find(&method, &located) {
                Ok(m) => {
                    if m.route.strip_prefix.is_some() {
                        strip_path(&mut req, m.route, prefix.as_deref());
                    }
                    (
                        m.route.function.clone(),
                        m.route.trigger.clone(),
                        m.route.format,
                        m.params,
                    )
                }
                Err(miss) => return no_route(&routes, &method, &path, miss, &request_id),
            }
        }
    };
    let Some(f) = gw.app.function(&function) else {
        let e = FcError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "FunctionNotAvailable",
            format!("function '{function}' failed to load; see fcemu's output"),
        );
        return e.with_request_id(&request_id).into_response();
    };
    let source_ip = connect
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "127.0.0.1".into());
    let passes_through = f.shape == Shape::Http || format == HttpFormat::Http;
    let response = match passes_through {
        true => pass_through(&gw.app, &f, request_id.clone(), req, &trigger).await,
        false => {
            event_call(
                &gw.app,
                &f,
                request_id.clone(),
                req,
                source_ip,
                format,
                &trigger,
                params,
            )
            .await
        }
    };
    let mut response = response.unwrap_or_else(|e| e.with_request_id(&request_id).into_response());
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-fc-request-id", v);
    }
    response
}

/// Rewrites the request's path as the function sees it: without the route's `strip_prefix`
/// (`added` is the prefix the gateway put before the path to match it, if any).
fn strip_path(req: &mut Request, route: &routes::Route, added: Option<&str>) {
    let raw = req.uri().path();
    let full = match added {
        Some(p) => routes::join(p, raw),
        None => raw.to_string(),
    };
    let path = routes::stripped(route, &full);
    let query = req
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    if let Ok(uri) = format!("{path}{query}").parse() {
        *req.uri_mut() = uri;
    }
}

fn no_route(
    routes: &RouteTable,
    method: &str,
    path: &str,
    miss: Miss,
    request_id: &str,
) -> Response {
    let known: Vec<String> = routes
        .routes()
        .iter()
        .map(|r| {
            format!(
                "{} {} -> {}",
                if r.methods.is_empty() {
                    "ANY".to_string()
                } else {
                    r.methods.join("|")
                },
                r.template,
                r.function
            )
        })
        .collect();
    let (status, code, message) = match miss {
        Miss::NoPath => (
            StatusCode::NOT_FOUND,
            "RouteNotFound",
            format!("no route matches {method} {path}"),
        ),
        Miss::WrongMethod(allowed) => (
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!(
                "{path} does not accept {method}; it accepts {}",
                allowed.join(", ")
            ),
        ),
    };
    let body = json!({"ErrorCode": code, "ErrorMessage": message, "Routes": known});
    let mut resp = (status, axum::Json(body)).into_response();
    resp.headers_mut().insert(
        "x-ca-error-message",
        HeaderValue::from_static("Invalid Url"),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-fc-request-id", v);
    }
    resp
}

async fn pass_through(
    app: &Arc<App>,
    f: &Arc<LoadedFunction>,
    request_id: String,
    req: Request,
    trigger: &str,
) -> Result<Response, FcError> {
    let too_large = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > MAX_SYNC_PAYLOAD);
    if too_large {
        return Err(
            FcError::entity_too_large(MAX_SYNC_PAYLOAD).with_status(StatusCode::PAYLOAD_TOO_LARGE)
        );
    }
    let work = app.begin_work();
    let req = req.map(|body| {
        http_body_util::BodyExt::map_err(body, |e| {
            wasmtime_wasi_http::Error::InternalError(Some(format!("reading the request body: {e}")))
        })
    });
    let invocation = app
        .runtime()
        .handle_http(f, request_id, req, WhenBusy::Throttle)
        .await?;
    let app2 = app.clone();
    let trigger = trigger.to_string();
    let outcome_rx = invocation.outcome;
    let waiter = tokio::spawn(async move {
        let _work = work;
        let outcome = outcome_rx.await.ok();
        if let Some(o) = &outcome {
            app2.finish(o, &trigger, 0);
        }
        outcome
    });
    match invocation.response {
        Ok(resp) => Ok(resp.map(Body::new)),
        Err(why) => {
            let outcome = waiter.await.ok().flatten();
            Ok(function_failed_response(outcome.as_ref(), &why))
        }
    }
}

fn function_failed_response(outcome: Option<&InvocationOutcome>, why: &str) -> Response {
    match outcome.filter(|o| o.status != InvocationStatus::Success) {
        Some(o) => error_response(o),
        None => {
            let body =
                json!({"errorMessage": why, "errorType": "InvalidResponse", "stackTrace": []});
            (
                StatusCode::BAD_GATEWAY,
                [("x-fc-error-type", "UnhandledInvocationError")],
                axum::Json(body),
            )
                .into_response()
        }
    }
}

fn error_response(o: &InvocationOutcome) -> Response {
    let status = match o.failure {
        Some(crate::runtime::FailureKind::Timeout) => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::BAD_GATEWAY,
    };
    let mut resp = (status, o.body.clone()).into_response();
    let h = resp.headers_mut();
    h.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(t) = o.status.error_type_header() {
        h.insert("x-fc-error-type", HeaderValue::from_static(t));
    }
    resp
}

#[allow(clippy::too_many_arguments)]
async fn event_call(
    app: &Arc<App>,
    f: &Arc<LoadedFunction>,
    request_id: String,
    req: Request,
    source_ip: String,
    format: HttpFormat,
    trigger: &str,
    params: std::collections::BTreeMap<String, String>,
) -> Result<Response, FcError> {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, MAX_SYNC_PAYLOAD)
        .await
        .map_err(|_| {
            FcError::entity_too_large(MAX_SYNC_PAYLOAD).with_status(StatusCode::PAYLOAD_TOO_LARGE)
        })?;
    let http_req = HttpRequest {
        method: parts.method.as_str().to_string(),
        path: percent_encoding::percent_decode_str(parts.uri.path())
            .decode_utf8_lossy()
            .into_owned(),
        query: parts.uri.query().map(str::to_string),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
        source_ip,
        protocol: format!("{:?}", parts.version),
    };
    let plan = app.plan();
    let event = match format {
        HttpFormat::Apigw | HttpFormat::Http => http_event::apigw_event(&http_req, &params),
        HttpFormat::Fc3 => http_event::fc3_event(
            &http_req,
            &Fc3Context {
                account_id: &plan.account_id,
                region: &plan.region,
                function: &f.plan.name,
                request_id: &request_id,
                time: app.runtime().clock().now(),
                trigger,
            },
        ),
    };
    let inv = Invocation {
        request_id,
        event: Bytes::from(event),
        qualifier: "LATEST".into(),
        depth: 0,
        caused_by: None,
        retry: 0,
    };
    let outcome = app.invoke(f, inv, WhenBusy::Throttle).await?;
    app.finish(&outcome, trigger, 0);
    if outcome.status != InvocationStatus::Success {
        return Ok(error_response(&outcome));
    }
    let result = match format {
        HttpFormat::Apigw | HttpFormat::Http => http_event::apigw_result(&outcome.body),
        HttpFormat::Fc3 => http_event::fc3_result(&outcome.body),
    };
    match result {
        Ok(r) => Ok(build_response(r)),
        Err(why) => {
            let body = json!({"errorMessage": format!("malformed function result: {why}"), "errorType": "InvalidFunctionResult", "stackTrace": []});
            Ok((StatusCode::BAD_GATEWAY, axum::Json(body)).into_response())
        }
    }
}

fn build_response(r: http_event::HttpResult) -> Response {
    let mut headers = HeaderMap::new();
    for (k, v) in &r.headers {
        let Ok(name) = HeaderName::from_bytes(k.as_bytes()) else {
            continue;
        };
        if RESERVED_RESPONSE_HEADERS.contains(&name.as_str()) || name.as_str().starts_with("x-fc-")
        {
            continue;
        }
        if let Ok(value) = HeaderValue::from_str(v) {
            headers.append(name, value);
        }
    }
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK);
    (status, headers, r.body).into_response()
}
