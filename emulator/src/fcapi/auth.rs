//! Request signatures on the FC API when `--strict-auth` is given: FC 2.0 `FC ak:sig`
//! (reference/fc.md §5.2) and FC 3.0 / Tea SDK `ACS3-HMAC-SHA256` (§6.2).
//!
//! Signatures are compared in constant time (`fcemu_core::auth::same_signature`). Clock skew on
//! `Date` / `x-acs-date` and nonce replay are not checked.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use fcemu_core::auth::{base64 as b64, hmac_sha256, same_signature, sha256_hex};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use super::error::{ApiVersion, FcError};
use super::invoke::SYNC_PAYLOAD_LIMIT;
use crate::app::App;

/// The scheme prefix of FC 3.0 (and `2021-04-06`) signatures.
const ACS3: &str = "ACS3-HMAC-SHA256";

/// RFC 3986 unreserved characters stay, everything else is percent-encoded.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The one access key the FC API accepts.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// AccessKeyId.
    pub access_key_id: String,
    /// AccessKeySecret.
    pub access_key_secret: String,
}

/// What the signature middleware needs.
#[derive(Clone)]
pub struct AuthState {
    /// The accepted key.
    pub credentials: Arc<Credentials>,
    /// For request ids on error replies.
    pub app: Arc<App>,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization` header.
    Missing,
    /// An `Authorization` header this module cannot parse.
    Malformed(String),
    /// The access key id is not the configured one.
    UnknownKey(String),
    /// The signature does not match.
    Mismatch,
    /// `x-acs-content-sha256` is not the hash of the body.
    PayloadHash,
}

impl AuthError {
    /// The FC error for this refusal.
    pub fn to_fc_error(&self) -> FcError {
        const MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your access key and signing method";
        match self {
            AuthError::Missing => FcError::new(
                StatusCode::BAD_REQUEST,
                "MissingRequiredHeader",
                "required HTTP header Authorization was not specified",
            ),
            AuthError::Malformed(why) => FcError::new(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                format!("invalid Authorization header: {why}"),
            ),
            AuthError::UnknownKey(ak) => FcError::new(
                StatusCode::FORBIDDEN,
                "InvalidAccessKeyID",
                format!("invalid access key ID '{ak}'"),
            ),
            AuthError::Mismatch => {
                FcError::new(StatusCode::FORBIDDEN, "SignatureNotMatch", MISMATCH)
            }
            AuthError::PayloadHash => FcError::new(
                StatusCode::FORBIDDEN,
                "SignatureNotMatch",
                "x-acs-content-sha256 is not the SHA-256 of the request body",
            ),
        }
    }
}

/// The middleware: checks the signature of every FC API request, answering 403 on failure.
/// ACS3 requests have their body buffered (the payload hash is signed) and put back.
pub async fn require_signature(
    State(state): State<AuthState>,
    req: Request,
    next: Next,
) -> Response {
    let version = if req.uri().path().starts_with("/2023-03-30/") {
        ApiVersion::V3
    } else {
        ApiVersion::V2
    };
    let refuse = |e: FcError| {
        e.with_request_id(&state.app.new_request_id())
            .in_version(version)
            .into_response()
    };
    let authorization = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let Some(authorization) = authorization else {
        return refuse(AuthError::Missing.to_fc_error());
    };
    let creds = &state.credentials;
    if let Some(rest) = authorization.strip_prefix(ACS3) {
        let (parts, body) = req.into_parts();
        // One byte over the largest payload FC accepts lets the handler word its own error.
        let body = match axum::body::to_bytes(body, SYNC_PAYLOAD_LIMIT + 1).await {
            Ok(b) => b,
            Err(e) => {
                let too_large = std::error::Error::source(&e)
                    .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
                return refuse(if too_large {
                    FcError::entity_too_large(SYNC_PAYLOAD_LIMIT)
                } else {
                    FcError::invalid_argument(format!("cannot read the request body: {e}"))
                });
            }
        };
        let host = host_of(&parts.headers, &parts.uri);
        let r = SignedRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &parts.headers,
            host: &host,
        };
        if let Err(e) = verify_acs3(creds, rest, &r, &body) {
            return refuse(e.to_fc_error());
        }
        return next.run(Request::from_parts(parts, Body::from(body))).await;
    }
    if let Some(rest) = authorization.strip_prefix("FC ") {
        let host = host_of(req.headers(), req.uri());
        let r = SignedRequest {
            method: req.method().as_str(),
            path: req.uri().path(),
            query: req.uri().query().unwrap_or(""),
            headers: req.headers(),
            host: &host,
        };
        if let Err(e) = verify_fc2(creds, rest, &r) {
            return refuse(e.to_fc_error());
        }
        return next.run(req).await;
    }
    let scheme = authorization.split(' ').next().unwrap_or("");
    refuse(AuthError::Malformed(format!("unsupported scheme '{scheme}'")).to_fc_error())
}

fn host_of(headers: &HeaderMap, uri: &axum::http::Uri) -> String {
    headers
        .get(axum::http::header::HOST)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .or_else(|| uri.authority().map(|a| a.to_string()))
        .unwrap_or_default()
}

/// The parts of a request a signature covers.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// The path as received (percent-encoded).
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: &'a str,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The `Host` value as received.
    pub host: &'a str,
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> std::borrow::Cow<'h, str> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()))
        .unwrap_or_default()
}

fn mac(secret: &str, data: &[u8]) -> Vec<u8> {
    hmac_sha256(secret.as_bytes(), data)
}

/// Checks `FC ak:sig` (the part after `FC `), trying the decoded then the raw path and, on
/// proxy paths, both spellings of value-less query keys.
pub fn verify_fc2(creds: &Credentials, rest: &str, r: &SignedRequest<'_>) -> Result<(), AuthError> {
    let (ak, sig) = rest
        .trim()
        .rsplit_once(':')
        .ok_or_else(|| AuthError::Malformed("expected 'FC <AccessKeyId>:<Signature>'".into()))?;
    if ak != creds.access_key_id {
        return Err(AuthError::UnknownKey(ak.to_string()));
    }
    let sig = base64::engine::general_purpose::STANDARD
        .decode(sig.trim())
        .map_err(|_| AuthError::Mismatch)?;
    let head = fc2_head(r);
    let matches = fc2_resources(r.path, r.query).into_iter().any(|resource| {
        let mut data = head.clone();
        data.push_str(&resource);
        same_signature(mac(&creds.access_key_secret, data.as_bytes()), &sig)
    });
    if matches {
        Ok(())
    } else {
        Err(AuthError::Mismatch)
    }
}

/// The FC 2.0 string to sign for the first resource candidate (the decoded path).
pub fn fc2_string_to_sign(r: &SignedRequest<'_>) -> String {
    let mut s = fc2_head(r);
    s.push_str(&fc2_resources(r.path, r.query)[0]);
    s
}

/// The FC 2.0 signature (base64) for the first resource candidate.
pub fn fc2_signature(secret: &str, r: &SignedRequest<'_>) -> String {
    b64(&mac(secret, fc2_string_to_sign(r).as_bytes()))
}

/// `VERB\nContent-MD5\nContent-Type\nDate\n` and the canonical `x-fc-*` headers.
fn fc2_head(r: &SignedRequest<'_>) -> String {
    let mut s = format!(
        "{}\n{}\n{}\n{}\n",
        r.method,
        header_str(r.headers, "content-md5"),
        header_str(r.headers, "content-type"),
        header_str(r.headers, "date"),
    );
    let mut names: Vec<&str> = r
        .headers
        .keys()
        .map(|k| k.as_str())
        .filter(|k| k.starts_with("x-fc-"))
        .collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let values: Vec<String> = r
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        s.push_str(name);
        s.push(':');
        s.push_str(&values.join(","));
        s.push('\n');
    }
    s
}

/// Candidate canonical resources, most likely first.
fn fc2_resources(path: &str, query: &str) -> Vec<String> {
    let decoded = percent_decode_str(path).decode_utf8_lossy().into_owned();
    let mut paths = vec![decoded];
    if paths[0] != path {
        paths.push(path.to_string());
    }
    if !path.starts_with("/2016-08-15/proxy/") {
        return paths;
    }
    // (key, value, had '=') decoded as form data.
    let pairs: Vec<(String, String, bool)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v, eq) = match p.split_once('=') {
                Some((k, v)) => (k, v, true),
                None => (p, "", false),
            };
            (form_decode(k), form_decode(v), eq)
        })
        .collect();
    let spell = |bare_empty: Option<bool>| {
        let mut items: Vec<String> = pairs
            .iter()
            .map(|(k, v, eq)| {
                let bare = v.is_empty() && bare_empty.unwrap_or(!eq);
                if bare { k.clone() } else { format!("{k}={v}") }
            })
            .collect();
        items.sort();
        items.join("\n")
    };
    let mut queries = vec![spell(None)];
    for alt in [spell(Some(true)), spell(Some(false))] {
        if !queries.contains(&alt) {
            queries.push(alt);
        }
    }
    paths
        .iter()
        .flat_map(|p| queries.iter().map(move |q| format!("{p}\n{q}")))
        .collect()
}

fn form_decode(s: &str) -> String {
    percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// The parsed `ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…`.
struct Acs3Header<'a> {
    credential: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

fn parse_acs3(rest: &str) -> Result<Acs3Header<'_>, AuthError> {
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            continue;
        };
        match k.trim() {
            "Credential" => credential = Some(v.trim()),
            "SignedHeaders" => signed_headers = Some(v.trim()),
            "Signature" => signature = Some(v.trim()),
            _ => {}
        }
    }
    match (credential, signed_headers, signature) {
        (Some(credential), Some(signed_headers), Some(signature)) => Ok(Acs3Header {
            credential,
            signed_headers,
            signature,
        }),
        _ => Err(AuthError::Malformed(
            "expected Credential=, SignedHeaders= and Signature=".into(),
        )),
    }
}

/// Checks an `ACS3-HMAC-SHA256` Authorization (the part after the scheme) against `body`.
pub fn verify_acs3(
    creds: &Credentials,
    rest: &str,
    r: &SignedRequest<'_>,
    body: &[u8],
) -> Result<(), AuthError> {
    let h = parse_acs3(rest)?;
    if h.credential != creds.access_key_id {
        return Err(AuthError::UnknownKey(h.credential.to_string()));
    }
    let body_hash = sha256_hex(body);
    if let Some(claimed) = r.headers.get("x-acs-content-sha256")
        && !claimed
            .as_bytes()
            .eq_ignore_ascii_case(body_hash.as_bytes())
    {
        return Err(AuthError::PayloadHash);
    }
    let sig = hex::decode(h.signature).map_err(|_| AuthError::Mismatch)?;
    let canonical = acs3_canonical_request(r, h.signed_headers, &body_hash);
    let to_sign = format!("{ACS3}\n{}", sha256_hex(canonical.as_bytes()));
    if same_signature(mac(&creds.access_key_secret, to_sign.as_bytes()), &sig) {
        Ok(())
    } else {
        Err(AuthError::Mismatch)
    }
}

/// The ACS3 canonical request for the listed signed headers.
pub fn acs3_canonical_request(
    r: &SignedRequest<'_>,
    signed_headers: &str,
    body_hash: &str,
) -> String {
    let uri = if r.path.is_empty() { "/" } else { r.path };
    let mut pairs: Vec<(String, String)> = r
        .query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (pct(&decode(k)), pct(&decode(v)))
        })
        .collect();
    pairs.sort();
    let query: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut headers = String::new();
    for name in signed_headers.split(';').filter(|n| !n.is_empty()) {
        let name = name.trim().to_ascii_lowercase();
        let value = if name == "host" {
            r.host.trim().to_string()
        } else {
            let mut values: Vec<String> = r
                .headers
                .get_all(name.as_str())
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string())
                .collect();
            values.sort();
            values.join(",")
        };
        headers.push_str(&name);
        headers.push(':');
        headers.push_str(&value);
        headers.push('\n');
    }
    format!(
        "{}\n{uri}\n{}\n{headers}\n{signed_headers}\n{body_hash}",
        r.method,
        query.join("&")
    )
}

/// The ACS3 signature (hex) for a canonical request.
pub fn acs3_signature(secret: &str, canonical_request: &str) -> String {
    let to_sign = format!("{ACS3}\n{}", sha256_hex(canonical_request.as_bytes()));
    hex::encode(mac(secret, to_sign.as_bytes()))
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

fn pct(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            access_key_id: "testak".into(),
            access_key_secret: "testsecret".into(),
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    const DATE: &str = "Thu, 26 Nov 2026 05:45:02 GMT";
    const INVOKE: &str = "/2016-08-15/services/svc/functions/fn/invocations";

    fn invoke_headers(extra: &[(&str, &str)]) -> HeaderMap {
        let mut pairs = vec![
            ("date", DATE),
            ("content-type", "application/json"),
            ("x-fc-invocation-type", "Sync"),
            ("x-fc-log-type", "Tail"),
            ("host", "1234567890123456.cn-hangzhou.fc.aliyuncs.com"),
        ];
        pairs.extend_from_slice(extra);
        headers(&pairs)
    }

    fn req<'a>(
        method: &'a str,
        path: &'a str,
        query: &'a str,
        h: &'a HeaderMap,
    ) -> SignedRequest<'a> {
        SignedRequest {
            method,
            path,
            query,
            headers: h,
            host: "1234567890123456.cn-hangzhou.fc.aliyuncs.com",
        }
    }

    #[test]
    fn fc2_worked_example() {
        let h = invoke_headers(&[]);
        let r = req("POST", INVOKE, "", &h);
        assert_eq!(
            fc2_string_to_sign(&r),
            format!(
                "POST\n\napplication/json\n{DATE}\nx-fc-invocation-type:Sync\nx-fc-log-type:Tail\n{INVOKE}"
            )
        );
        let sig = "XFyQd5UNJVq62yOljXTwrEidJxo+JQo7+DMV09MyjT4=";
        assert_eq!(fc2_signature("testsecret", &r), sig);
        assert_eq!(verify_fc2(&creds(), &format!("testak:{sig}"), &r), Ok(()));
        // The query is not part of the resource outside proxy paths.
        let r = req("POST", INVOKE, "qualifier=LATEST", &h);
        assert_eq!(verify_fc2(&creds(), &format!("testak:{sig}"), &r), Ok(()));
    }

    #[test]
    fn fc2_refusals() {
        let h = invoke_headers(&[]);
        let r = req("POST", INVOKE, "", &h);
        let sig = "XFyQd5UNJVq62yOljXTwrEidJxo+JQo7+DMV09MyjT4=";
        assert_eq!(
            verify_fc2(&creds(), &format!("otherak:{sig}"), &r),
            Err(AuthError::UnknownKey("otherak".into()))
        );
        let wrong = Credentials {
            access_key_secret: "nope".into(),
            ..creds()
        };
        assert_eq!(
            verify_fc2(&wrong, &format!("testak:{sig}"), &r),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            verify_fc2(&creds(), "testak:not base64!", &r),
            Err(AuthError::Mismatch)
        );
        assert!(matches!(
            verify_fc2(&creds(), "testak", &r),
            Err(AuthError::Malformed(_))
        ));
        let e = AuthError::Mismatch.to_fc_error();
        assert_eq!(
            (e.status, e.code),
            (StatusCode::FORBIDDEN, "SignatureNotMatch")
        );
        let e = AuthError::UnknownKey("x".into()).to_fc_error();
        assert_eq!(
            (e.status, e.code),
            (StatusCode::FORBIDDEN, "InvalidAccessKeyID")
        );
    }

    #[test]
    fn fc2_sts_variant() {
        let h = invoke_headers(&[("x-fc-security-token", "tok123")]);
        let r = req("POST", INVOKE, "", &h);
        assert_eq!(
            fc2_signature("testsecret", &r),
            "B2IYXlS3lvlFPf86Dw+jCSBtULVOfQZY1Eer6+4Tjco="
        );
    }

    #[test]
    fn fc2_proxy_signs_sorted_decoded_query() {
        let h = headers(&[("date", DATE), ("content-type", "text/plain")]);
        let r = req("GET", "/2016-08-15/proxy/svc/fn/a%20b", "x=1&y=b&y=a&z", &h);
        assert_eq!(
            fc2_string_to_sign(&r),
            format!("GET\n\ntext/plain\n{DATE}\n/2016-08-15/proxy/svc/fn/a b\nx=1\ny=a\ny=b\nz")
        );
        let sig = "pqUl6ZmnnkzXLLsxP3gL6NpXOlyfAnDHm1FKU3OuoVU=";
        assert_eq!(fc2_signature("testsecret", &r), sig);
        // `z=` is accepted for a signature made over the bare `z`.
        let r = req(
            "GET",
            "/2016-08-15/proxy/svc/fn/a%20b",
            "x=1&y=b&y=a&z=",
            &h,
        );
        assert_eq!(verify_fc2(&creds(), &format!("testak:{sig}"), &r), Ok(()));
        // No query at all: the resource still ends in "\n".
        let r = req("GET", "/2016-08-15/proxy/svc/fn/", "", &h);
        assert!(fc2_string_to_sign(&r).ends_with("/2016-08-15/proxy/svc/fn/\n"));
    }

    #[test]
    fn fc2_raw_path_fallback() {
        let h = invoke_headers(&[]);
        let raw = "/2016-08-15/services/s%2Fv/functions/fn/invocations";
        let signed_raw = {
            let mut s = fc2_head(&req("POST", raw, "", &h));
            s.push_str(raw);
            b64(&mac("testsecret", s.as_bytes()))
        };
        let r = req("POST", raw, "", &h);
        assert_eq!(
            verify_fc2(&creds(), &format!("testak:{signed_raw}"), &r),
            Ok(())
        );
    }

    const BODY_HASH: &str = "666c1aa02e8068c6d5cc1d3295009432c16790bec28ec8ce119d0d1a18d61319";
    const SIGNED: &str = "content-type;host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version;x-fc-invocation-type;x-fc-log-type";

    fn acs3_headers() -> HeaderMap {
        headers(&[
            ("host", "fcv3.cn-hangzhou.aliyuncs.com"),
            ("x-acs-version", "2023-03-30"),
            ("x-acs-action", "InvokeFunction"),
            ("user-agent", "not signed"),
            ("x-acs-date", "2026-11-26T05:45:10Z"),
            ("x-acs-signature-nonce", "89fe6df6284a9f968be13732315ce1f1"),
            ("x-fc-invocation-type", "Sync"),
            ("x-fc-log-type", "Tail"),
            ("content-type", "application/octet-stream"),
            ("x-acs-content-sha256", BODY_HASH),
        ])
    }

    fn acs3_req(h: &HeaderMap) -> SignedRequest<'_> {
        SignedRequest {
            method: "POST",
            path: "/2023-03-30/functions/my-func/invocations",
            query: "qualifier=LATEST",
            headers: h,
            host: "fcv3.cn-hangzhou.aliyuncs.com",
        }
    }

    #[test]
    fn acs3_worked_example() {
        let h = acs3_headers();
        let r = acs3_req(&h);
        let canonical = acs3_canonical_request(&r, SIGNED, BODY_HASH);
        assert_eq!(
            sha256_hex(canonical.as_bytes()),
            "641d20b098cb352895c0658a490dd0e6dbc89b92f132a4593a8a1dbbec89977b"
        );
        let sig = "3577a75b08c4e5dea9261ecfb3318789a44817576a02d0c6f4bd106ce0679edf";
        assert_eq!(acs3_signature("testsecret", &canonical), sig);
        let auth = format!(" Credential=testak,SignedHeaders={SIGNED},Signature={sig}");
        assert_eq!(verify_acs3(&creds(), &auth, &r, b"{\"k\":\"v\"}"), Ok(()));
        assert_eq!(
            verify_acs3(&creds(), &auth, &r, b"{\"k\":\"w\"}"),
            Err(AuthError::PayloadHash)
        );
        let wrong = Credentials {
            access_key_secret: "nope".into(),
            ..creds()
        };
        assert_eq!(
            verify_acs3(&wrong, &auth, &r, b"{\"k\":\"v\"}"),
            Err(AuthError::Mismatch)
        );
        let other = auth.replace("testak", "otherak");
        assert_eq!(
            verify_acs3(&creds(), &other, &r, b"{\"k\":\"v\"}"),
            Err(AuthError::UnknownKey("otherak".into()))
        );
    }

    #[test]
    fn acs3_query_is_decoded_and_reencoded() {
        let h = acs3_headers();
        let r = SignedRequest {
            query: "b=x%20y&a=1~2&c",
            ..acs3_req(&h)
        };
        let canonical = acs3_canonical_request(&r, "host", BODY_HASH);
        assert_eq!(canonical.lines().nth(2), Some("a=1~2&b=x%20y&c="));
    }
}
