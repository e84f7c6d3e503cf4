//! The one services port: decides which service a request is for — by what it is, not by port —
//! and hands it over. Also acts as an HTTP proxy for SDKs that put resource names in the host
//! (`<project>.127.0.0.1`), refusing hosts fcemu does not emulate.

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;

/// Which service a request belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `/_fcemu/...`
    Admin,
    /// `/2016-08-15/...`, `/2021-04-06/...`, `/2023-03-30/...`
    FcApi,
    /// `x-ots-*` headers.
    TableStore,
    /// `x-log-apiversion` header.
    LogService,
    /// Everything else.
    ObjectStore,
}

/// Classifies a request (DESIGN §3).
pub fn classify(path: &str, headers: &HeaderMap) -> Target {
    if path.starts_with("/_fcemu/") || path == "/_fcemu" {
        Target::Admin
    } else if headers.keys().any(|k| k.as_str().starts_with("x-ots-")) {
        Target::TableStore
    } else if headers.contains_key("x-log-apiversion") {
        Target::LogService
    } else if ["/2016-08-15/", "/2021-04-06/", "/2023-03-30/"]
        .iter()
        .any(|p| path.starts_with(p))
    {
        Target::FcApi
    } else {
        Target::ObjectStore
    }
}

/// Whether a proxied request's host is one fcemu answers for: loopback names (with or without
/// a resource-name label in front) and Alibaba Cloud service domains.
pub fn is_emulated_host(host: &str) -> bool {
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "127.0.0.1"
        || host.ends_with(".127.0.0.1")
        || host == "localhost"
        || host.ends_with(".localhost")
        || host == "[::1]"
        || host.ends_with(".aliyuncs.com")
}

/// The per-service routers the edge dispatches to.
#[derive(Clone)]
pub struct Services {
    /// `/_fcemu/*`.
    pub admin: Router,
    /// The OSS / S3 router, if the object store is running.
    pub object_store: Option<Router>,
    /// The FC OpenAPI router, if available.
    pub fc_api: Option<Router>,
    /// Table Store, if available.
    pub table_store: Option<Router>,
    /// Log Service, if available.
    pub log_service: Option<Router>,
    /// The gateway and the authorities (`127.0.0.1:PORT`, `localhost:PORT`) it is reached at:
    /// a proxied request for one of them goes to the gateway, so a client whose HTTP_PROXY is
    /// the services port still reaches the app's routes.
    pub gateway: Option<(Vec<String>, Router)>,
}

/// The edge router: every request goes through [`dispatch`].
pub fn router(services: Services) -> Router {
    Router::new().fallback(dispatch).with_state(services)
}

async fn dispatch(
    axum::extract::State(services): axum::extract::State<Services>,
    req: Request,
) -> Response {
    if req.method() == axum::http::Method::CONNECT {
        return bad_gateway(
            req.uri().authority().map(|a| a.as_str()).unwrap_or("?"),
            "fcemu does not tunnel HTTPS; use http:// endpoints",
        );
    }
    if let Some(authority) = req.uri().authority() {
        if !is_emulated_host(authority.as_str()) {
            return bad_gateway(
                authority.as_str(),
                "fcemu does not forward requests to hosts it does not emulate",
            );
        }
        if let Some((names, gateway)) = &services.gateway
            && names
                .iter()
                .any(|n| n.eq_ignore_ascii_case(authority.as_str()))
        {
            let mut req = req;
            // The gateway routes on the path alone; drop the absolute form.
            if let Some(pq) = req.uri().path_and_query()
                && let Ok(uri) = pq.as_str().parse()
            {
                *req.uri_mut() = uri;
            }
            return match gateway.clone().oneshot(req).await {
                Ok(resp) => resp,
                Err(never) => match never {},
            };
        }
    }
    if let Some((proxy, tail)) = crate::gateway::Fc2Proxy::parse(req.uri().path())
        && let Some((_, gateway)) = &services.gateway
    {
        let mut req = req;
        let query = req
            .uri()
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        if let Ok(uri) = format!("{tail}{query}").parse() {
            *req.uri_mut() = uri;
        }
        req.extensions_mut().insert(proxy);
        return match gateway.clone().oneshot(req).await {
            Ok(resp) => resp,
            Err(never) => match never {},
        };
    }
    let target = classify(req.uri().path(), req.headers());
    // The object store reads bodies this way itself.
    let req = if target == Target::ObjectStore {
        req
    } else {
        fcemu_core::body::read_in_background(req)
    };
    let router = match target {
        Target::Admin => Some(services.admin),
        Target::FcApi => services.fc_api,
        Target::TableStore => services.table_store,
        Target::LogService => services.log_service,
        Target::ObjectStore => services.object_store,
    };
    match router {
        Some(r) => match r.oneshot(req).await {
            Ok(resp) => resp,
            Err(never) => match never {},
        },
        None => not_available(target),
    }
}

fn bad_gateway(host: &str, why: &str) -> Response {
    let body = format!("fcemu: refusing to proxy to {host}: {why}\n");
    (
        StatusCode::BAD_GATEWAY,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        Body::from(body),
    )
        .into_response()
}

fn not_available(target: Target) -> Response {
    let body = serde_json::json!({
        "error": "ServiceNotAvailable",
        "message": format!("{target:?} is not available in this build of fcemu"),
    });
    (StatusCode::NOT_IMPLEMENTED, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_what_the_request_is() {
        let mut h = HeaderMap::new();
        assert_eq!(classify("/_fcemu/health", &h), Target::Admin);
        assert_eq!(classify("/2016-08-15/services", &h), Target::FcApi);
        assert_eq!(classify("/2023-03-30/functions", &h), Target::FcApi);
        assert_eq!(classify("/bucket/key", &h), Target::ObjectStore);
        h.insert("x-log-apiversion", "0.6.0".parse().unwrap());
        assert_eq!(classify("/logstores", &h), Target::LogService);
        let mut h = HeaderMap::new();
        h.insert("x-ots-apiversion", "2015-12-31".parse().unwrap());
        assert_eq!(classify("/PutRow", &h), Target::TableStore);
    }

    #[test]
    fn proxies_only_for_emulated_hosts() {
        assert!(is_emulated_host("proj.127.0.0.1:9000"));
        assert!(is_emulated_host("localhost"));
        assert!(is_emulated_host("bucket.oss-cn-hangzhou.aliyuncs.com"));
        assert!(!is_emulated_host("example.com:80"));
        assert!(!is_emulated_host("127.0.0.1.evil.com"));
    }
}
