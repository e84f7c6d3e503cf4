//! What every service knows of the request it is serving, computed once by one tower layer that
//! each service's router installs: the request id (in the service's own shape), the host it was
//! sent to without the port, the client's address, and the invocation behind it
//! ([`Cause`]). The layer also reads the body on a background task
//! ([`crate::body::read_in_background`]) so an early answer never resets the connection.
//! Handlers take it with `Extension<RequestContext>` or [`RequestContext::of`].

use std::net::{IpAddr, SocketAddr};
use std::task::{Context, Poll};

use axum::extract::{ConnectInfo, Request};
use tower::{Layer, Service};

use crate::{Cause, IdGen};

/// How a service's request ids look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestIdStyle {
    /// `n` upper-case hex digits (OSS and the Log Service: 24).
    HexUpper(usize),
    /// A lower-case UUID with dashes (Table Store).
    Uuid,
    /// An upper-case UUID with dashes (BatchCompute).
    UuidUpper,
}

impl RequestIdStyle {
    /// A fresh id in this style.
    pub fn make(self, ids: &IdGen) -> String {
        match self {
            RequestIdStyle::HexUpper(n) => ids.hex_upper(n),
            RequestIdStyle::Uuid => ids.uuid(),
            RequestIdStyle::UuidUpper => ids.uuid().to_uppercase(),
        }
    }
}

/// The request being served, as every service sees it.
#[derive(Clone, Debug)]
pub struct RequestContext {
    /// The id the answer carries.
    pub request_id: String,
    /// The `Host` header (or the authority of an absolute-form request), as sent.
    pub host: String,
    /// [`RequestContext::host`] without a port.
    pub hostname: String,
    /// The client's address: the connection's peer, else the first `X-Forwarded-For` entry.
    pub client: Option<IpAddr>,
    /// The invocation that sent it, and the trigger-chain depth that led to it.
    pub cause: Cause,
}

impl RequestContext {
    /// Computes the context of `req`.
    pub fn new(req: &Request, request_id: String) -> Self {
        let host = req
            .headers()
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
            .or_else(|| req.uri().authority().map(|a| a.to_string()))
            .unwrap_or_default();
        let client = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .or_else(|| {
                req.headers()
                    .get("x-forwarded-for")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.split(',').next())
                    .and_then(|s| s.trim().parse().ok())
            });
        RequestContext {
            request_id,
            hostname: without_port(&host).to_string(),
            host,
            client,
            cause: Cause::of(req.headers()),
        }
    }

    /// The context the layer put on `req`; one computed now (with a fresh id of `style`) when
    /// the request did not come through the layer.
    pub fn of(req: &Request, ids: &IdGen, style: RequestIdStyle) -> RequestContext {
        req.extensions()
            .get::<RequestContext>()
            .cloned()
            .unwrap_or_else(|| RequestContext::new(req, style.make(ids)))
    }

    /// The client's address as text (`127.0.0.1` when unknown).
    pub fn client_ip(&self) -> String {
        self.client
            .map_or_else(|| "127.0.0.1".to_string(), |ip| ip.to_string())
    }
}

/// `host` without a trailing `:port` (IPv6 literals keep their brackets).
pub fn without_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// The layer: computes a [`RequestContext`] for each request and reads its body in the
/// background.
#[derive(Clone, Debug)]
pub struct RequestContextLayer {
    ids: IdGen,
    style: RequestIdStyle,
}

impl RequestContextLayer {
    /// Ids from `ids`, shaped as `style`.
    pub fn new(ids: IdGen, style: RequestIdStyle) -> Self {
        RequestContextLayer { ids, style }
    }
}

impl<S> Layer<S> for RequestContextLayer {
    type Service = WithRequestContext<S>;

    fn layer(&self, inner: S) -> Self::Service {
        WithRequestContext {
            inner,
            layer: self.clone(),
        }
    }
}

/// A service wrapped by [`RequestContextLayer`].
#[derive(Clone, Debug)]
pub struct WithRequestContext<S> {
    inner: S,
    layer: RequestContextLayer,
}

impl<S> Service<Request> for WithRequestContext<S>
where
    S: Service<Request>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let ctx = RequestContext::new(&req, self.layer.style.make(&self.layer.ids));
        let mut req = crate::body::read_in_background(req);
        req.extensions_mut().insert(ctx);
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[test]
    fn ports_are_dropped_from_hosts() {
        assert_eq!(without_port("bucket.127.0.0.1:9000"), "bucket.127.0.0.1");
        assert_eq!(without_port("localhost"), "localhost");
        assert_eq!(without_port("[::1]:80"), "[::1]");
        assert_eq!(without_port("[::1]"), "[::1]");
    }

    #[tokio::test]
    async fn the_layer_gives_every_request_its_context() {
        let svc = tower::service_fn(|req: Request| async move {
            let ctx = req.extensions().get::<RequestContext>().cloned().unwrap();
            Ok::<_, std::convert::Infallible>(ctx)
        });
        let svc =
            RequestContextLayer::new(IdGen::sequential(), RequestIdStyle::HexUpper(24)).layer(svc);
        let req = Request::builder()
            .header("host", "proj.127.0.0.1:9000")
            .header("x-forwarded-for", "10.0.0.7, 10.0.0.1")
            .header(crate::CHAIN_DEPTH_HEADER, "2")
            .body(axum::body::Body::empty())
            .unwrap();
        let ctx = svc.oneshot(req).await.unwrap();
        assert_eq!(ctx.request_id, "000000000000000000000001");
        assert_eq!(ctx.hostname, "proj.127.0.0.1");
        assert_eq!(ctx.client_ip(), "10.0.0.7");
        assert_eq!(ctx.cause.depth, 2);
    }
}
