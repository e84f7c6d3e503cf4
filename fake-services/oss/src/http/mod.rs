//! The wire: one axum fallback handler that works out the addressing style, the bucket and key,
//! the client flavour (OSS or S3), checks the signature in strict mode, and dispatches on method
//! and sub-resource (reference oss.md §3.0).
//!
//! **Addressing.** The Host header (port stripped, lower-cased) decides:
//! - an IP literal, `localhost`, a configured base domain, or an endpoint such as
//!   `oss-cn-hangzhou.aliyuncs.com` / `s3.oss-cn-hangzhou.aliyuncs.com` / `s3.amazonaws.com`
//!   ⇒ path style: `/<bucket>/<key>`;
//! - `<bucket>.<one of the above>` (e.g. `photos.127.0.0.1:9000` through the edge's proxy,
//!   `photos.localhost`, `photos.oss-cn-hangzhou.aliyuncs.com`) ⇒ virtual-hosted: the bucket is
//!   the first label and the whole path is the key;
//! - any other host ⇒ path style (so docker-compose service names still work with
//!   `is_path_style=True`).

pub mod auth;
pub mod chunked;
mod cors;
mod error;
pub use error::status as error_status;
mod headers;
mod ops;
mod post;
pub mod query;
pub mod route;
mod s3checksum;
pub mod xml;

use std::net::IpAddr;

use axum::extract::Request;
use axum::response::Response;
use fcemu_core::{RequestContext, RequestContextLayer, RequestIdStyle};
use http::{HeaderMap, HeaderValue, Method};
use percent_encoding::percent_decode_str;
use tracing::Instrument;

use crate::{Oss, OssError, RequestInfo};
pub use query::Query;

/// Builds the router: every path and method goes to one dispatcher.
pub fn router(oss: Oss) -> axum::Router {
    let ids = oss.config().ctx.ids.clone();
    axum::Router::new()
        .fallback(move |req: Request| {
            let oss = oss.clone();
            async move { dispatch(oss, req).await }
        })
        .layer(RequestContextLayer::new(ids, REQUEST_ID))
}

/// OSS request ids: 24 upper-case hex digits.
const REQUEST_ID: RequestIdStyle = RequestIdStyle::HexUpper(24);

/// What every part of the HTTP layer may need to know about the request being served.
#[derive(Clone, Debug)]
pub(crate) struct Ctx {
    pub request_id: String,
    /// Host as sent (for HostId in errors).
    pub host: String,
    /// S3 client: S3 error codes, `x-amz-meta-*`, namespaced XML, S3 range rules.
    pub s3: bool,
    /// A HEAD request: errors have no body.
    pub head: bool,
    pub source_ip: String,
    pub date: String,
    pub cause: fcemu_core::Cause,
}

impl Ctx {
    /// An ETag as sent: quoted; lower-case hex on the S3 face, as S3 writes them (upper-case on
    /// OSS's).
    pub fn quoted(&self, etag: &str) -> String {
        if self.s3 {
            format!("\"{}\"", etag.to_ascii_lowercase())
        } else {
            format!("\"{etag}\"")
        }
    }

    pub fn info(&self) -> RequestInfo {
        RequestInfo {
            request_id: self.request_id.clone(),
            source_ip: self.source_ip.clone(),
            cause: self.cause.clone(),
        }
    }
}

/// What the request addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `None` for the service (ListBuckets).
    pub bucket: Option<String>,
    /// Empty for bucket-level requests.
    pub key: String,
    /// Whether the bucket came from the Host header.
    pub virtual_host: bool,
    /// Whether a percent-encoded part of the path is not UTF-8 (the request is refused).
    pub undecodable: bool,
}

/// Whether `host` is a service endpoint rather than `<bucket>.<endpoint>`. The cloud's
/// endpoints are matched by their exact shape, so a bucket named `oss-demo` or `s3-logs` in
/// front of one is still a bucket: `oss-<region>[-internal].aliyuncs.com`,
/// `s3.oss-<region>.aliyuncs.com`, `s3.amazonaws.com`, `s3.<region>.amazonaws.com`,
/// `s3-<region>.amazonaws.com`.
fn is_endpoint_host(host: &str, base_domains: &[String]) -> bool {
    if host.parse::<IpAddr>().is_ok() || base_domains.iter().any(|d| d == host) {
        return true;
    }
    let labels: Vec<&str> = host.split('.').collect();
    match labels.as_slice() {
        [oss, "aliyuncs", "com"] => oss.starts_with("oss-"),
        ["s3", oss, "aliyuncs", "com"] => oss.starts_with("oss-"),
        ["s3", "amazonaws", "com"] | ["s3", _, "amazonaws", "com"] => true,
        [s3, "amazonaws", "com"] => s3.starts_with("s3-"),
        _ => false,
    }
}

/// The bucket named by a virtual-hosted Host header, if any.
pub fn bucket_from_host(host: &str, base_domains: &[String]) -> Option<String> {
    let host = host.trim().to_ascii_lowercase();
    if host.starts_with('[') {
        return None; // IPv6 literal: path style
    }
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !h.contains(':') => {
            h.to_string()
        }
        _ => host,
    };
    let host = host.trim_end_matches('.');
    if host.is_empty() || is_endpoint_host(host, base_domains) {
        return None;
    }
    let (first, rest) = host.split_once('.')?;
    (is_endpoint_host(rest, base_domains) && !first.is_empty()).then(|| first.to_string())
}

/// Splits the raw path into bucket and key (`%2F` inside keys stays part of the key).
pub fn parse_target(raw_path: &str, host_bucket: Option<String>) -> Target {
    let undecodable = percent_decode_str(raw_path).decode_utf8().is_err();
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    let path = raw_path.strip_prefix('/').unwrap_or(raw_path);
    match host_bucket {
        Some(b) => Target {
            bucket: Some(b),
            key: decode(path),
            virtual_host: true,
            undecodable,
        },
        None => {
            if path.is_empty() {
                return Target {
                    bucket: None,
                    key: String::new(),
                    virtual_host: false,
                    undecodable,
                };
            }
            let (b, k) = path.split_once('/').unwrap_or((path, ""));
            Target {
                bucket: Some(decode(b)),
                key: decode(k),
                virtual_host: false,
                undecodable,
            }
        }
    }
}

/// Whether the request comes from an S3 client (signature, presign or `x-amz-*` headers).
pub fn is_s3_request(headers: &HeaderMap, q: &Query) -> bool {
    let auth = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    auth.starts_with("AWS4-HMAC-SHA256")
        || auth.starts_with("AWS ")
        || q.has("X-Amz-Algorithm")
        || q.has("AWSAccessKeyId")
        || headers.contains_key("x-amz-content-sha256")
        || headers.contains_key("x-amz-date")
}

/// Formats an instant as an HTTP date (IMF-fixdate).
pub fn http_date(t: time::OffsetDateTime) -> String {
    let st =
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.unix_timestamp().max(0) as u64);
    httpdate::fmt_http_date(st)
}

/// Formats an instant as OSS writes it in XML: seconds, then literally `.000Z`.
pub fn xml_time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

async fn dispatch(oss: Oss, req: Request) -> Response {
    let q = Query::parse(req.uri().query().unwrap_or(""));
    let rc = RequestContext::of(&req, &oss.config().ctx.ids, REQUEST_ID);
    let host = rc.host.clone();
    let ctx = Ctx {
        request_id: rc.request_id,
        host: host.clone(),
        s3: is_s3_request(req.headers(), &q),
        head: req.method() == Method::HEAD,
        source_ip: rc
            .client
            .map_or_else(|| "127.0.0.1".into(), |ip| ip.to_string()),
        date: http_date(oss.config().ctx.clock.now()),
        cause: rc.cause,
    };
    let span = tracing::debug_span!("oss", method = %req.method(), uri = %req.uri(), request_id = %ctx.request_id);
    let host_bucket = bucket_from_host(&host, &oss.config().base_domains);
    let target = parse_target(req.uri().path(), host_bucket);
    // A browser's request from a page: the bucket's CORS rules decide the Access-Control-*
    // headers of the answer.
    let origin = req
        .headers()
        .get(http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let method = req.method().clone();
    let cors_bucket = target.bucket.clone();
    let expects_continue = req
        .headers()
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let c = ctx.clone();
    let o = oss.clone();
    let mut resp = async move {
            let result = async {
                if req.method() == Method::OPTIONS {
                    return cors::preflight(&oss, &c, req.headers(), target.bucket.as_deref())
                        .await;
                }
                if let Some(creds) = &oss.config().strict_credentials() {
                    auth::verify(
                        creds,
                        &oss.config().ctx.clock,
                        &oss.config().ctx.region,
                        &req,
                        &q,
                        &target,
                    )?;
                }
                ops::handle(&oss, &c, req, q, target).await
            }
            .await;
            match result {
                Ok(r) => r,
                Err(e) => {
                    if matches!(e, OssError::Internal(_)) {
                        tracing::error!(request_id = %c.request_id, error = %e_detail(&e), "internal error");
                    } else {
                        tracing::debug!(request_id = %c.request_id, code = e.code(), "request failed");
                    }
                    error::response(e, &c)
                }
            }
        }
        .instrument(span)
        .await;
    if let (Some(origin), Some(bucket)) = (&origin, &cors_bucket)
        && method != Method::OPTIONS
    {
        cors::decorate(&o, &ctx, &method, origin, bucket, &mut resp).await;
    }
    let failed = !resp.status().is_success();
    let h = resp.headers_mut();
    // A client that asked `Expect: 100-continue` and got an early error may still send the body
    // it held back (botocore does after a second's wait): closing the connection keeps those
    // bytes from being read as the next request.
    if expects_continue && failed {
        h.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
    if let Ok(v) = HeaderValue::from_str(&ctx.request_id) {
        h.insert("x-oss-request-id", v.clone());
        if ctx.s3 {
            h.insert("x-amz-request-id", v);
        }
    }
    h.insert(http::header::SERVER, HeaderValue::from_static("AliyunOSS"));
    if let Ok(v) = HeaderValue::from_str(&ctx.date) {
        h.insert(http::header::DATE, v);
    }
    resp
}

fn e_detail(e: &OssError) -> String {
    match e {
        OssError::Internal(d) => d.clone(),
        e => e.to_string(),
    }
}

#[cfg(test)]
mod proptests {
    //! The wire parsers take any input without panicking.

    use super::*;
    use crate::conditions::RangeHeader;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn xml_parser_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = xml::parse(&body);
        }

        #[test]
        fn xml_parser_on_tag_soup(body in "(<[A-Za-z:]{1,6}( xmlns=\"x\")?/?>|</[A-Za-z:]{1,6}>|&[a-z#x0-9]{0,6};|[^<&]{0,6}|<\\?xml version=\"1.0\"\\?>|<!--x-->){0,40}") {
            let _ = xml::parse(body.as_bytes());
        }

        #[test]
        fn aws_chunked_round_trips(payload in proptest::collection::vec(any::<u8>(), 0..3000),
                                   chunk in 1usize..700, split in 1usize..50) {
            let mut wire = Vec::new();
            for c in payload.chunks(chunk) {
                wire.extend_from_slice(format!("{:x};chunk-signature=ab\r\n", c.len()).as_bytes());
                wire.extend_from_slice(c);
                wire.extend_from_slice(b"\r\n");
            }
            wire.extend_from_slice(b"0\r\nx-amz-checksum-crc32:AAAA\r\n\r\n");
            let mut d = chunked::AwsChunkedDecoder::new();
            let mut out = Vec::new();
            for piece in wire.chunks(split) {
                for b in d.push(piece).unwrap() {
                    out.extend_from_slice(&b);
                }
            }
            d.finish().unwrap();
            prop_assert_eq!(out, payload);
        }

        #[test]
        fn aws_chunked_never_panics(wire in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut d = chunked::AwsChunkedDecoder::new();
            let _ = d.push(&wire);
            let _ = d.finish();
        }

        #[test]
        fn header_and_address_parsers_never_panic(s in "\\PC{0,40}", size in 0u64..100) {
            let _ = Query::parse(&s);
            let _ = RangeHeader::parse(&s).resolve(size, true);
            let _ = RangeHeader::parse(&s).resolve(size, false);
            let _ = bucket_from_host(&s, &["localhost".into()]);
            let _ = parse_target(&s, None);
        }

        #[test]
        fn ranges_stay_inside_the_object(a in 0u64..50, b in 0u64..50, size in 0u64..40, standard in any::<bool>()) {
            for h in [format!("bytes={a}-{b}"), format!("bytes={a}-"), format!("bytes=-{b}")] {
                if let Ok(Some((x, y))) = RangeHeader::parse(&h).resolve(size, standard) {
                    prop_assert!(x <= y && y < size);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bases() -> Vec<String> {
        vec!["localhost".into(), "127.0.0.1".into()]
    }

    #[test]
    fn host_styles() {
        let b = bases();
        assert_eq!(bucket_from_host("127.0.0.1:9000", &b), None);
        assert_eq!(bucket_from_host("localhost:9000", &b), None);
        assert_eq!(bucket_from_host("10.1.2.3", &b), None);
        assert_eq!(
            bucket_from_host("photos.127.0.0.1:9000", &b).as_deref(),
            Some("photos")
        );
        assert_eq!(
            bucket_from_host("Photos.localhost", &b).as_deref(),
            Some("photos")
        );
        assert_eq!(
            bucket_from_host("photos.oss-cn-hangzhou.aliyuncs.com", &b).as_deref(),
            Some("photos")
        );
        assert_eq!(bucket_from_host("oss-cn-hangzhou.aliyuncs.com", &b), None);
        assert_eq!(bucket_from_host("oss-emulator:9000", &b), None);
        assert_eq!(bucket_from_host("a.b.example.com", &b), None);
        assert_eq!(bucket_from_host("[::1]:9000", &b), None);
        assert_eq!(
            bucket_from_host("pics.localhost.:80", &b).as_deref(),
            Some("pics")
        );
        // Buckets named like endpoints are still buckets: the endpoint is the last labels.
        for (host, bucket) in [
            ("oss-demo.oss-cn-hangzhou.aliyuncs.com", Some("oss-demo")),
            (
                "oss-demo.oss-cn-hangzhou-internal.aliyuncs.com",
                Some("oss-demo"),
            ),
            ("s3-logs.s3.oss-cn-hangzhou.aliyuncs.com", Some("s3-logs")),
            ("s3.oss-cn-hangzhou.aliyuncs.com", None),
            ("s3-logs.s3.amazonaws.com", Some("s3-logs")),
            ("logs.s3.us-east-1.amazonaws.com", Some("logs")),
            ("s3.us-east-1.amazonaws.com", None),
            ("s3-us-west-2.amazonaws.com", None),
            ("s3.amazonaws.com", None),
        ] {
            assert_eq!(bucket_from_host(host, &b).as_deref(), bucket, "{host}");
        }
    }

    #[test]
    fn path_targets() {
        assert_eq!(parse_target("/", None).bucket, None);
        let t = parse_target("/b/dir%2Fa%20b+c", None);
        assert_eq!(
            (t.bucket.as_deref(), t.key.as_str()),
            (Some("b"), "dir/a b+c")
        );
        let t = parse_target("/b", None);
        assert_eq!((t.bucket.as_deref(), t.key.as_str()), (Some("b"), ""));
        let t = parse_target("/b/", None);
        assert_eq!(t.key, "");
        let t = parse_target("/x/y", Some("b".into()));
        assert_eq!((t.bucket.as_deref(), t.key.as_str()), (Some("b"), "x/y"));
    }

    #[test]
    fn times() {
        let t = time::OffsetDateTime::from_unix_timestamp(1795489702).unwrap();
        assert_eq!(xml_time(t), "2026-11-24T03:08:22.000Z");
        assert_eq!(http_date(t), "Tue, 24 Nov 2026 03:08:22 GMT");
    }
}
