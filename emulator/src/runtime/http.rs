//! `wasi:http` for functions: the outbound policy (only fcemu's own endpoints and the manifest's
//! `allow_hosts`), and serving HTTP functions (`wasi:http/proxy` components).

use std::sync::{Arc, Mutex};

use fcemu_oss::CHAIN_DEPTH_HEADER;
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

/// Decides which hosts a function may call, and remembers the refusals so they can be written
/// to the invocation's log.
#[derive(Clone)]
pub struct OutboundPolicy {
    function: String,
    own: Arc<Vec<String>>,
    allow_hosts: Arc<Vec<String>>,
    denied: Arc<Mutex<Vec<String>>>,
    cause: fcemu_core::Cause,
}

impl OutboundPolicy {
    /// A policy for `function`: `own` are fcemu's endpoints (`host:port`), `allow_hosts` the
    /// manifest's list; `cause` (the invocation and its chain depth) goes on every request to
    /// fcemu.
    pub fn new(
        function: &str,
        own: Arc<Vec<String>>,
        allow_hosts: &[String],
        cause: fcemu_core::Cause,
    ) -> Self {
        OutboundPolicy {
            function: function.to_string(),
            own,
            allow_hosts: Arc::new(allow_hosts.to_vec()),
            denied: Arc::default(),
            cause,
        }
    }

    /// The fcemu endpoint `authority` reaches: itself, or for a name in front of one
    /// (`bucket.127.0.0.1:9000`, `project.localhost:9000`, as SDKs address buckets and Log
    /// Service projects) the endpoint behind the name, which does not resolve by itself.
    fn own_endpoint(&self, authority: &str) -> Option<&str> {
        let find = |a: &str| {
            self.own
                .iter()
                .find(|o| o.eq_ignore_ascii_case(a))
                .map(String::as_str)
        };
        find(authority).or_else(|| {
            let (label, rest) = authority.split_once('.')?;
            if label.is_empty() {
                return None;
            }
            find(rest)
        })
    }

    /// Whether a request to `authority` (`host[:port]`) may go out.
    pub fn allows(&self, authority: &str) -> bool {
        let authority = authority.to_ascii_lowercase();
        if self.own_endpoint(&authority).is_some() {
            return true;
        }
        let host = authority
            .rsplit_once(':')
            .map_or(authority.as_str(), |(h, _)| h);
        self.allow_hosts.iter().any(|pattern| {
            let pattern = pattern.to_ascii_lowercase();
            if let Some(suffix) = pattern.strip_prefix("*.") {
                host.ends_with(&format!(".{suffix}"))
            } else if pattern.contains(':') {
                pattern == authority
            } else {
                pattern == host
            }
        })
    }

    /// Log lines explaining each refused request, taken once.
    pub fn take_denials(&self) -> Vec<String> {
        std::mem::take(&mut *self.denied.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl WasiHttpHooks for OutboundPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        http::Response<WasiBody>,
                        Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                    ),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        let authority = request
            .uri()
            .authority()
            .map(|a| a.to_string())
            .unwrap_or_default();
        if !self.allows(&authority) {
            let host = authority
                .rsplit_once(':')
                .map_or(authority.as_str(), |(h, _)| h);
            let line = format!(
                "fcemu: outbound request to {authority} denied: add \"{host}\" to allow_hosts under [functions.{}] in fcemu.toml",
                self.function
            );
            tracing::warn!("{line}");
            self.denied
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(line);
            drop(fut);
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        let mut request = request;
        if let Some(endpoint) = self.own_endpoint(&authority) {
            request.headers_mut().insert(
                CHAIN_DEPTH_HEADER,
                http::HeaderValue::from(self.cause.depth),
            );
            if let Some(id) = &self.cause.invocation
                && let Ok(v) = http::HeaderValue::from_str(id)
            {
                request
                    .headers_mut()
                    .insert(fcemu_core::cause::INVOCATION_HEADER, v);
            }
            // Connect to the endpoint itself; the Host header keeps the name for routing.
            if !endpoint.eq_ignore_ascii_case(&authority) {
                let mut parts = request.uri().clone().into_parts();
                parts.authority = endpoint.parse().ok();
                if let Ok(uri) = http::Uri::from_parts(parts) {
                    *request.uri_mut() = uri;
                }
            }
        }
        let mut default = DefaultHooks;
        default.send_request(request, options, fut)
    }
}

/// Wasmtime's own sending, used for allowed requests.
struct DefaultHooks;

impl WasiHttpHooks for DefaultHooks {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_own_endpoints_and_listed_hosts_only() {
        let own = Arc::new(vec!["127.0.0.1:9000".to_string()]);
        let p = OutboundPolicy::new(
            "f",
            own,
            &[
                "api.example.com".into(),
                "*.internal.test".into(),
                "svc:8443".into(),
            ],
            fcemu_core::Cause::default(),
        );
        assert!(p.allows("127.0.0.1:9000"));
        assert!(!p.allows("127.0.0.1:9001"));
        assert_eq!(
            p.own_endpoint("bucket.127.0.0.1:9000"),
            Some("127.0.0.1:9000")
        );
        assert_eq!(p.own_endpoint(".127.0.0.1:9000"), None);
        assert_eq!(p.own_endpoint("bucket.127.0.0.1:9001"), None);
        assert!(p.allows("my-bucket.127.0.0.1:9000"));
        assert!(p.allows("api.example.com"));
        assert!(p.allows("api.example.com:443"));
        assert!(p.allows("a.internal.test:80"));
        assert!(!p.allows("internal.test"));
        assert!(p.allows("svc:8443"));
        assert!(!p.allows("svc:80"));
        assert!(!p.allows("example.org"));
    }
}
