//! Who may call `/_fcemu/*`. SDKs, the CLI and tests send no `Origin` and are let through; a
//! browser is, only for a page of fcemu itself. Refused, with a 403 saying why and which flag
//! allows it:
//!
//! - a `Host` that is not a loopback name (`localhost`, `*.localhost`, `127.x.x.x`, `[::1]`),
//!   the address fcemu listens on, or a name given with `--allow-host` — a DNS-rebinding page
//!   reaches fcemu under its own name;
//! - a request a browser sends for another site's page (`Origin` not fcemu's own, or
//!   `Sec-Fetch-Site: cross-site` / `same-site` without a top-level navigation) — any page the
//!   developer visits could otherwise reset the emulator;
//! - a state-changing request (anything but GET / HEAD) from a browser without the process's
//!   token (`x-fcemu-token`), which only fcemu's own pages carry.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The header fcemu's pages send their token in.
pub const TOKEN_HEADER: &str = "x-fcemu-token";

/// The admin API's access rules of one process.
#[derive(Clone, Debug)]
pub struct Guard(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    /// Addresses fcemu listens on (their IPs are accepted as hosts).
    listening: Vec<SocketAddr>,
    /// Names given with `--allow-host`, lower case.
    allowed: Vec<String>,
    /// The per-process token of fcemu's pages.
    token: String,
}

impl Guard {
    /// Rules for a process listening on `listening`, also accepting the `allowed` host names.
    pub fn new(listening: Vec<SocketAddr>, allowed: Vec<String>) -> Guard {
        let token = format!("{:032x}", rand::random::<u128>());
        Guard(Arc::new(Inner {
            listening,
            allowed: allowed.iter().map(|h| h.to_ascii_lowercase()).collect(),
            token,
        }))
    }

    /// The token fcemu's pages put in [`TOKEN_HEADER`].
    pub fn token(&self) -> &str {
        &self.0.token
    }

    /// Whether `host` (a `Host` header: name or IP, optional port) names this fcemu.
    pub fn host_allowed(&self, host: &str) -> bool {
        let name = host_name(host).to_ascii_lowercase();
        if name == "localhost" || name.ends_with(".localhost") {
            return true;
        }
        if self.0.allowed.contains(&name) {
            return true;
        }
        let Ok(ip) = name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        else {
            return false;
        };
        ip.is_loopback()
            || self
                .0
                .listening
                .iter()
                .any(|l| l.ip() == ip || l.ip().is_unspecified())
    }

    /// Why a request is refused, if it is.
    fn refusal(&self, method: &Method, headers: &HeaderMap) -> Option<String> {
        let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(host) = text(header::HOST)
            && !self.host_allowed(host)
        {
            return Some(format!(
                "Host {host:?} does not name this fcemu (a page reaching it through its own DNS name is refused); start fcemu with --allow-host {} to allow it",
                host_name(host)
            ));
        }
        let origin = text(header::ORIGIN);
        let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
        let from_browser = origin.is_some() || fetch_site.is_some();
        if let Some(origin) = origin
            && origin != "null"
            && !self.host_allowed(origin_host(origin))
        {
            return Some(format!(
                "a page of {origin} may not call fcemu's admin API (only fcemu's own pages may); open the dashboard at /_fcemu/ui instead"
            ));
        }
        if let Some(origin) = origin
            && let Some(host) = text(header::HOST)
            && origin_host(origin) != host
        {
            return Some(format!(
                "a page of {origin} may not call fcemu's admin API at {host} (only fcemu's own pages may); open the dashboard at /_fcemu/ui instead"
            ));
        }
        let navigation = headers
            .get("sec-fetch-mode")
            .is_some_and(|v| v == "navigate");
        if let Some(site) = fetch_site
            && (site == "cross-site" || site == "same-site")
            && !(navigation && (method == Method::GET || method == Method::HEAD))
        {
            return Some(format!(
                "a request from another site's page ({site}) may not call fcemu's admin API; open the dashboard at /_fcemu/ui instead"
            ));
        }
        let changes_state = !(method == Method::GET || method == Method::HEAD);
        if from_browser && changes_state {
            let token = headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok());
            if !token.is_some_and(|t| fcemu_core::auth::same_signature(t, &self.0.token)) {
                return Some(format!(
                    "a browser's {method} needs the {TOKEN_HEADER} header of fcemu's own pages; use the dashboard at /_fcemu/ui, or call without Origin (SDKs, curl)"
                ));
            }
        }
        None
    }
}

/// The host part of a `Host` value: `[::1]:9000` -> `[::1]`, `localhost:9000` -> `localhost`.
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map_or(host, |(h, _)| &host[..h.len() + 1]);
    }
    host.rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(host, |(h, _)| h)
}

/// The authority of an `Origin` (`http://localhost:9000` -> `localhost:9000`).
fn origin_host(origin: &str) -> &str {
    origin.split_once("://").map_or(origin, |(_, rest)| rest)
}

/// Middleware refusing what [`Guard`] refuses.
pub async fn check(State(guard): State<Guard>, req: Request, next: Next) -> Response {
    match guard.refusal(req.method(), req.headers()) {
        None => next.run(req).await,
        Some(message) => {
            tracing::warn!(path = %req.uri().path(), %message, "admin request refused");
            let body = json!({ "error": "Forbidden", "message": message });
            (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> Guard {
        Guard::new(
            vec!["127.0.0.1:9000".parse().unwrap()],
            vec!["dev.example".into()],
        )
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn loopback_listen_and_allowed_hosts_pass_others_do_not() {
        let g = guard();
        for ok in [
            "localhost:9000",
            "photos.localhost:8080",
            "127.0.0.1:9000",
            "127.0.0.2",
            "[::1]:9000",
            "dev.example",
            "DEV.example:9000",
        ] {
            assert!(g.host_allowed(ok), "{ok}");
        }
        for bad in ["evil.example", "10.0.0.5:9000", "localhost.evil.example"] {
            assert!(!g.host_allowed(bad), "{bad}");
        }
        let everywhere = Guard::new(vec!["0.0.0.0:9000".parse().unwrap()], vec![]);
        assert!(everywhere.host_allowed("10.0.0.5:9000"));
        assert!(!everywhere.host_allowed("evil.example:9000"));
    }

    #[test]
    fn sdks_pass_and_other_sites_pages_do_not() {
        let g = guard();
        let post = Method::POST;
        assert_eq!(
            g.refusal(&post, &headers(&[("host", "127.0.0.1:9000")])),
            None
        );
        let rebinding = g.refusal(&Method::GET, &headers(&[("host", "evil.example:9000")]));
        assert!(rebinding.unwrap().contains("--allow-host evil.example"));
        let cross = headers(&[
            ("host", "127.0.0.1:9000"),
            ("origin", "http://evil.example"),
        ]);
        assert!(g.refusal(&post, &cross).is_some());
        let other_port = headers(&[
            ("host", "127.0.0.1:9000"),
            ("origin", "http://localhost:3000"),
        ]);
        assert!(g.refusal(&Method::GET, &other_port).is_some());
        let no_origin = headers(&[("host", "127.0.0.1:9000"), ("sec-fetch-site", "cross-site")]);
        assert!(g.refusal(&post, &no_origin).is_some());
        let link = headers(&[
            ("host", "127.0.0.1:9000"),
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-mode", "navigate"),
        ]);
        assert_eq!(
            g.refusal(&Method::GET, &link),
            None,
            "following a link to the page"
        );
    }

    #[test]
    fn the_pages_own_writes_need_the_token() {
        let g = guard();
        let own = [
            ("host", "127.0.0.1:9000"),
            ("origin", "http://127.0.0.1:9000"),
        ];
        assert_eq!(g.refusal(&Method::GET, &headers(&own)), None);
        assert!(
            g.refusal(&Method::POST, &headers(&own))
                .unwrap()
                .contains(TOKEN_HEADER)
        );
        let token = g.token().to_string();
        let mut with = headers(&own);
        with.insert(TOKEN_HEADER, token.parse().unwrap());
        assert_eq!(g.refusal(&Method::POST, &with), None);
    }
}
