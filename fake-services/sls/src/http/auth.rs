//! Strict mode: V1 (`Authorization: LOG <ak>:<base64 hmac-sha1>`) and V4
//! (`SLS4-HMAC-SHA256 Credential=<ak>/<date>/<region>/sls/aliyun_v4_request,Signature=<hex>`)
//! signatures.
//!
//! V1 StringToSign = VERB, Content-MD5, Content-Type, Date, the `x-log-*` / `x-acs-*` headers
//! (lower-case, sorted, `name:value`; without `x-log-date`, which the Python SDK adds after
//! signing), then the path with the sorted decoded parameters.

use fcemu_core::auth::{V4Scheme, base64, hmac_sha1, same_signature, sha256_hex};
use http::{HeaderMap, Method};

use super::params::Params;
use crate::SlsError;

/// The string a V1 signature covers.
pub fn string_to_sign(method: &Method, path: &str, params: &Params, headers: &HeaderMap) -> String {
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let mut log_headers: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| {
            let k = k.as_str().to_ascii_lowercase();
            let signed = (k.starts_with("x-log-") || k.starts_with("x-acs-"))
                && k != "x-log-date"
                && !k.starts_with("x-log-meta-");
            signed.then(|| (k, v.to_str().unwrap_or("").to_string()))
        })
        .collect();
    log_headers.sort();
    let mut s = format!(
        "{}\n{}\n{}\n{}\n",
        method.as_str(),
        h("content-md5"),
        h("content-type"),
        h("date")
    );
    for (k, v) in log_headers {
        s.push_str(&format!("{k}:{v}\n"));
    }
    s.push_str(path);
    let mut sorted = params.0.clone();
    sorted.sort();
    if !sorted.is_empty() {
        let q: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}={v}")).collect();
        s.push('?');
        s.push_str(&q.join("&"));
    }
    s
}

/// The V1 signature of `string_to_sign` with `secret`.
pub fn sign(secret: &str, string_to_sign: &str) -> String {
    base64(&hmac_sha1(secret.as_bytes(), string_to_sign.as_bytes()))
}

/// V4: the canonical request (reference sls.md §2.5).
pub fn canonical_request_v4(
    method: &Method,
    path: &str,
    params: &Params,
    headers: &HeaderMap,
    content_sha256: &str,
) -> String {
    let mut signed: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| {
            let k = k.as_str().to_ascii_lowercase();
            let wanted = k == "content-type"
                || k == "host"
                || k.starts_with("x-acs-")
                || (k.starts_with("x-log-") && !k.starts_with("x-log-meta-"));
            wanted.then(|| (k, v.to_str().unwrap_or("").trim().to_string()))
        })
        .collect();
    signed.sort();
    let mut query: Vec<(String, String)> = params
        .0
        .iter()
        .map(|(k, v)| (k.clone(), uri_encode(v)))
        .collect();
    query.sort();
    let query: Vec<String> = query
        .into_iter()
        .map(|(k, v)| if v.is_empty() { k } else { format!("{k}={v}") })
        .collect();
    let header_lines: String = signed.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let names: Vec<&str> = signed.iter().map(|(k, _)| k.as_str()).collect();
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        method.as_str(),
        path,
        query.join("&"),
        header_lines,
        names.join(";"),
        content_sha256
    )
}

/// RFC 3986: everything but `A-Za-z0-9-_.~` percent-encoded (upper-case hex).
fn uri_encode(s: &str) -> String {
    fcemu_core::auth::uri_encode(s, false)
}

/// The V4 signature (hex) of a canonical request.
pub fn sign_v4(secret: &str, date_time: &str, region: &str, canonical_request: &str) -> String {
    let date = date_time.get(..8).unwrap_or("");
    let scope = format!("{date}/{region}/sls/aliyun_v4_request");
    let string_to_sign = format!(
        "SLS4-HMAC-SHA256\n{date_time}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    V4Scheme::ALIYUN.sign(secret, date, region, "sls", &string_to_sign)
}

/// What a request needs for its signature to be checked.
pub struct Signed<'a> {
    /// Method.
    pub method: &'a Method,
    /// Decoded path.
    pub path: &'a str,
    /// Decoded parameters.
    pub params: &'a Params,
    /// Headers as received.
    pub headers: &'a HeaderMap,
    /// Body as received.
    pub body: &'a [u8],
}

/// Checks the request's signature (V1 or V4) against the one key pair accepted.
pub fn verify((id, secret): (&str, &str), req: &Signed<'_>) -> Result<(), SlsError> {
    let auth = req
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| SlsError::Unauthorized("the Authorization header is missing".into()))?;
    let malformed = || SlsError::Unauthorized("the Authorization header is malformed".into());
    let unknown = |ak: &str| SlsError::Unauthorized(format!("AccessKeyId {ak} is not found"));
    if let Some(rest) = auth.strip_prefix("LOG ") {
        let (ak, given) = rest.trim().split_once(':').ok_or_else(malformed)?;
        if ak != id {
            return Err(unknown(ak));
        }
        let expected = sign(
            secret,
            &string_to_sign(req.method, req.path, req.params, req.headers),
        );
        if !same_signature(given, &expected) {
            return Err(SlsError::SignatureNotMatch(given.to_string()));
        }
        return Ok(());
    }
    let rest = auth
        .strip_prefix("SLS4-HMAC-SHA256 ")
        .ok_or_else(|| SlsError::Unauthorized("unknown signature method".into()))?;
    let mut credential = None;
    let mut given = None;
    for part in rest.split(',') {
        match part.trim().split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("Signature", v)) => given = Some(v),
            _ => {}
        }
    }
    let (credential, given) = credential.zip(given).ok_or_else(malformed)?;
    let mut scope = credential.split('/');
    let ak = scope.next().unwrap_or("");
    let region = scope.nth(1).ok_or_else(malformed)?;
    if ak != id {
        return Err(unknown(ak));
    }
    let date_time = req
        .headers
        .get("x-log-date")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| SlsError::Unauthorized("x-log-date is required with V4".into()))?;
    let content_sha256 = req
        .headers
        .get("x-log-content-sha256")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| sha256_hex(req.body));
    let canonical = canonical_request_v4(
        req.method,
        req.path,
        req.params,
        req.headers,
        &content_sha256,
    );
    if !same_signature(given, sign_v4(secret, date_time, region, &canonical)) {
        return Err(SlsError::SignatureNotMatch(given.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn reference_vectors() {
        let common = [
            ("date", "Thu, 26 Nov 2026 05:46:27 GMT"),
            ("x-log-apiversion", "0.6.0"),
            ("x-log-signaturemethod", "hmac-sha1"),
            ("x-log-date", "Thu, 26 Nov 2026 05:46:27 GMT"),
        ];
        let mut h = headers(&common);
        h.insert("content-type", "application/json".parse().unwrap());
        h.insert("x-log-bodyrawsize", "0".parse().unwrap());
        let p = Params::parse(Some("type=cursor&from=begin"));
        let s = string_to_sign(&Method::GET, "/logstores/store1/shards/0", &p, &h);
        assert_eq!(sign("testSecret", &s), "rv+qBTi47y+VyoK7tqlA25ZqutM=");

        let mut h = headers(&common);
        h.insert("x-log-bodyrawsize", "0".parse().unwrap());
        let p = Params::parse(Some(
            "type=log&cursor=MA%3D%3D&count=10&end_cursor=Mg%3D%3D",
        ));
        let s = string_to_sign(&Method::GET, "/logstores/store1/shards/0", &p, &h);
        assert_eq!(sign("testSecret", &s), "nCfqHrT+4ADzVoDDh8dlIf1zU84=");

        let mut h = headers(&common);
        h.insert(
            "content-md5",
            "7E856870191C67F7F7AF2E69DBDA0361".parse().unwrap(),
        );
        h.insert("content-type", "application/x-protobuf".parse().unwrap());
        h.insert("x-log-bodyrawsize", "173".parse().unwrap());
        h.insert("x-log-compresstype", "lz4".parse().unwrap());
        let s = string_to_sign(
            &Method::POST,
            "/logstores/store1/shards/lb",
            &Params::default(),
            &h,
        );
        assert_eq!(sign("testSecret", &s), "S9DauSz3m5KiDkGCb+5U2+/vDBk=");
        h.insert(
            "authorization",
            "LOG testAK:S9DauSz3m5KiDkGCb+5U2+/vDBk=".parse().unwrap(),
        );
        let params = Params::default();
        let req = Signed {
            method: &Method::POST,
            path: "/logstores/store1/shards/lb",
            params: &params,
            headers: &h,
            body: b"",
        };
        assert!(verify(("testAK", "testSecret"), &req).is_ok());
        let bad = verify(("testAK", "other"), &req);
        assert!(matches!(bad, Err(SlsError::SignatureNotMatch(_))));
        let who = verify(("someone", "testSecret"), &req);
        assert!(matches!(who, Err(SlsError::Unauthorized(_))));
    }

    /// Vectors computed with the Python SDK's `AuthV4._do_sign_request` at 20261126T054736Z.
    #[test]
    fn v4_vectors() {
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let mut h = headers(&[
            ("x-log-apiversion", "0.6.0"),
            ("content-type", "application/json"),
            ("host", "proj1.127.0.0.1"),
            ("x-log-bodyrawsize", "0"),
            ("x-log-content-sha256", empty),
            ("x-log-date", "20261126T054736Z"),
        ]);
        let p = Params::parse(Some("type=cursor&from=begin&q=a%20b%2Fc&e="));
        let c = canonical_request_v4(&Method::GET, "/logstores/store1/shards/0", &p, &h, empty);
        assert_eq!(
            sign_v4("testSecret", "20261126T054736Z", "cn-hangzhou", &c),
            "cba3c954f6b80027a44c02339a98b4df589c3d2ac44c79e441df51fed41654ed"
        );
        h.insert(
            "authorization",
            "SLS4-HMAC-SHA256 Credential=testAK/20261126/cn-hangzhou/sls/aliyun_v4_request,Signature=cba3c954f6b80027a44c02339a98b4df589c3d2ac44c79e441df51fed41654ed"
                .parse()
                .unwrap(),
        );
        let req = Signed {
            method: &Method::GET,
            path: "/logstores/store1/shards/0",
            params: &p,
            headers: &h,
            body: b"",
        };
        assert!(verify(("testAK", "testSecret"), &req).is_ok());
        assert!(matches!(
            verify(("testAK", "nope"), &req),
            Err(SlsError::SignatureNotMatch(_))
        ));

        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let h = headers(&[
            ("x-log-apiversion", "0.6.0"),
            ("content-type", "application/x-protobuf"),
            ("host", "proj1.127.0.0.1"),
            ("x-log-bodyrawsize", "3"),
            ("x-log-compresstype", "lz4"),
            ("x-log-content-sha256", abc),
            ("x-log-date", "20261126T054736Z"),
        ]);
        let c = canonical_request_v4(
            &Method::POST,
            "/logstores/store1/shards/lb",
            &Params::default(),
            &h,
            abc,
        );
        assert_eq!(
            sign_v4("testSecret", "20261126T054736Z", "cn-hangzhou", &c),
            "2b04ac5326d1f66b671ed87c9af4cf68cc260026cc6223557188173871fb308d"
        );
    }
}
