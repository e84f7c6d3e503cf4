//! The one services port: decides which service a request is for — by what it is, not by port —
//! and hands it over. Also acts as an HTTP proxy for SDKs that put resource names in the host
//! (`<project>.127.0.0.1`), refusing hosts fcemu does not emulate.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;

use crate::services::EmulatedService;

/// Whether a path is fcemu's own API.
fn is_admin(path: &str) -> bool {
    path.starts_with("/_fcemu/") || path == "/_fcemu"
}

/// Whether a path is the FC API's (`/2016-08-15/...`, `/2021-04-06/...`, `/2023-03-30/...`).
fn is_fc_api(path: &str) -> bool {
    ["/2016-08-15/", "/2021-04-06/", "/2023-03-30/"]
        .iter()
        .any(|p| path.starts_with(p))
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

/// What the edge dispatches to (DESIGN §3): fcemu's own API, the FC API, then the emulated
/// services in their claiming order.
#[derive(Clone)]
pub struct Services {
    /// `/_fcemu/*`.
    pub admin: Router,
    /// The FC OpenAPI router, if available.
    pub fc_api: Option<Router>,
    /// The emulated services ([`crate::services::SERVICES`] order) with their routers.
    pub emulated: Vec<(Arc<dyn EmulatedService>, Router)>,
    /// The gateway and the authorities (`127.0.0.1:PORT`, `localhost:PORT`) it is reached at:
    /// a proxied request for one of them goes to the gateway, so a client whose HTTP_PROXY is
    /// the services port still reaches the app's routes.
    pub gateway: Option<(Vec<String>, Router)>,
}

impl Services {
    /// The router for a request, and whether the edge must read its body in the background
    /// (the emulated services' routers do it themselves, in their request-context layer).
    fn route(&self, path: &str, headers: &HeaderMap) -> Option<(Router, bool)> {
        if is_admin(path) {
            return Some((self.admin.clone(), true));
        }
        if is_fc_api(path) {
            return self.fc_api.clone().map(|r| (r, true));
        }
        self.emulated
            .iter()
            .find(|(s, _)| s.claims(path, headers))
            .map(|(_, r)| (r.clone(), false))
    }
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
    let Some((router, drain)) = services.route(req.uri().path(), req.headers()) else {
        return not_available(req.uri().path());
    };
    let req = if drain {
        fcemu_core::body::read_in_background(req)
    } else {
        req
    };
    match router.oneshot(req).await {
        Ok(resp) => resp,
        Err(never) => match never {},
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

fn not_available(path: &str) -> Response {
    let body = serde_json::json!({
        "error": "ServiceNotAvailable",
        "message": format!("no service of this fcemu answers {path}"),
    });
    (StatusCode::NOT_IMPLEMENTED, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fcemu_and_the_fc_api_are_known_by_path() {
        assert!(is_admin("/_fcemu/health") && is_admin("/_fcemu"));
        assert!(!is_admin("/_fcemux"));
        assert!(is_fc_api("/2016-08-15/services") && is_fc_api("/2023-03-30/functions"));
        assert!(!is_fc_api("/bucket/2016-08-15/key"));
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
