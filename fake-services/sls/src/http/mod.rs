//! The wire: one axum fallback handler that finds the project in the Host, reads the body
//! (size-limited), checks the signature in strict mode, and dispatches on method and path
//! (reference sls.md §5). Every response carries `x-log-requestid`; errors become the SLS JSON
//! envelope in [`error`].
//!
//! **Project from the host** (§1.6): the request target's authority (absolute-form, as proxied)
//! or else `Host`, port dropped, lower-cased. An IP literal, `localhost`, a configured endpoint
//! name ([`crate::SlsConfig::endpoints`]) or a bare `<region>.log.aliyuncs.com` names no project;
//! `<project>.<IP | configured endpoint>` names `<project>`; any other dotted name's first label
//! is the project.

pub mod auth;
pub mod body;
pub mod error;
mod ops;
pub mod params;

use std::net::IpAddr;

use axum::extract::Request;
use axum::response::Response;
use http::HeaderValue;
use percent_encoding::percent_decode_str;

use crate::{Sls, SlsError};
pub use params::Params;

/// Builds the router: every path and method goes to one dispatcher.
pub fn router(sls: Sls) -> axum::Router {
    let ids = sls.config().ctx.ids.clone();
    axum::Router::new()
        .fallback(move |req: Request| {
            let sls = sls.clone();
            async move { dispatch(sls, req).await }
        })
        .layer(fcemu_core::RequestContextLayer::new(ids, REQUEST_ID))
}

/// Log Service request ids: 24 upper-case hex digits.
const REQUEST_ID: fcemu_core::RequestIdStyle = fcemu_core::RequestIdStyle::HexUpper(24);

/// The project a host names, if any (see the module docs).
pub fn project_from_host(host: &str, endpoints: &[String]) -> Option<String> {
    let host = host.trim().to_ascii_lowercase();
    if host.starts_with('[') {
        return None;
    }
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h.to_string(),
        _ => host,
    };
    let host = host.trim_end_matches('.');
    let is_endpoint = |h: &str| {
        h.parse::<IpAddr>().is_ok()
            || h == "localhost"
            || endpoints.iter().any(|e| e.eq_ignore_ascii_case(h))
            || (h.ends_with(".log.aliyuncs.com") && h.split('.').count() == 4)
    };
    if host.is_empty() || is_endpoint(host) {
        return None;
    }
    // `<project>.<configured endpoint>` (the endpoint may itself have dots).
    if let Some(e) = endpoints.iter().find(|e| {
        host.len() > e.len() + 1
            && host.ends_with(&e.to_ascii_lowercase())
            && host.as_bytes()[host.len() - e.len() - 1] == b'.'
    }) {
        return Some(host[..host.len() - e.len() - 1].to_string());
    }
    // `<project>.<IP literal>`: the project is everything before the address.
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() > 4 {
        let tail = labels[labels.len() - 4..].join(".");
        if tail.parse::<IpAddr>().is_ok() {
            return Some(labels[..labels.len() - 4].join("."));
        }
    }
    let (first, rest) = host.split_once('.')?;
    (!first.is_empty() && !rest.is_empty()).then(|| first.to_string())
}

/// What the handlers know about the request being served.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub method: http::Method,
    pub headers: http::HeaderMap,
    pub params: Params,
    /// Path segments, percent-decoded.
    pub segments: Vec<String>,
    /// The project the host names.
    pub project: Option<String>,
    pub body: bytes::Bytes,
    pub client_ip: Option<String>,
    /// The invocation behind the request ([`fcemu_core::Cause::of`]).
    pub cause: fcemu_core::Cause,
}

impl Ctx {
    /// The project, or `InvalidHost` for a project-scoped request without one.
    pub fn project(&self) -> Result<&str, SlsError> {
        self.project.as_deref().ok_or_else(|| {
            SlsError::InvalidHost(
                "Host header does not name a project: use <project>.<endpoint>".into(),
            )
        })
    }
}

async fn dispatch(sls: Sls, req: Request) -> Response {
    let rc = fcemu_core::RequestContext::of(&req, &sls.config().ctx.ids, REQUEST_ID);
    let request_id = rc.request_id.clone();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let mut resp = match handle(&sls, req, rc).await {
        Ok(r) => r,
        Err(e) => {
            if let SlsError::Internal(cause) = &e {
                tracing::error!(%request_id, %method, %path, %cause, "log service request failed");
            } else {
                tracing::debug!(%request_id, %method, %path, error = %e, "log service request refused");
            }
            error::response(&e)
        }
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-log-requestid", v);
    }
    resp
}

async fn handle(
    sls: &Sls,
    req: Request,
    rc: fcemu_core::RequestContext,
) -> Result<Response, SlsError> {
    let client_ip = rc.client.map(|ip| ip.to_string());
    let (parts, body) = req.into_parts();
    let host = rc.host;
    let path = percent_decode_str(parts.uri.path())
        .decode_utf8_lossy()
        .into_owned();
    let params = Params::parse(parts.uri.query());
    let body = body::read(body, &parts.headers).await?;
    if let Some((id, secret)) = &sls.config().ctx.strict_auth {
        let signed = auth::Signed {
            method: &parts.method,
            path: &path,
            params: &params,
            headers: &parts.headers,
            body: &body,
        };
        auth::verify((id, secret), &signed)?;
    }
    let ctx = Ctx {
        cause: rc.cause,
        method: parts.method,
        headers: parts.headers,
        params,
        segments: path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        project: project_from_host(&host, &sls.config().endpoints),
        body,
        client_ip,
    };
    ops::route(sls, ctx).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_comes_from_the_host() {
        let endpoints = ["sls.fcemu.local".to_string()];
        let p = |h: &str| project_from_host(h, &endpoints);
        assert_eq!(p("proj1.127.0.0.1"), Some("proj1".into()));
        assert_eq!(p("proj1.127.0.0.1:9000"), Some("proj1".into()));
        assert_eq!(p("Proj1.localhost:9000"), Some("proj1".into()));
        assert_eq!(
            p("proj1.cn-hangzhou.log.aliyuncs.com"),
            Some("proj1".into())
        );
        assert_eq!(p("proj1.sls.fcemu.local:9000"), Some("proj1".into()));
        assert_eq!(p("sls.fcemu.local:9000"), None);
        assert_eq!(p("a.b.sls.fcemu.local"), Some("a.b".into()));
        assert_eq!(p("proj1.other.local"), Some("proj1".into()));
        assert_eq!(p("127.0.0.1:9000"), None);
        assert_eq!(p("localhost"), None);
        assert_eq!(p("cn-hangzhou.log.aliyuncs.com"), None);
        assert_eq!(p("fcemu"), None);
        assert_eq!(p("[::1]:9000"), None);
        assert_eq!(p(""), None);
    }
}
