//! Strict mode: the V1 signature (`Authorization: LOG <ak>:<base64 hmac-sha1>`).
//!
//! StringToSign = VERB, Content-MD5, Content-Type, Date, the `x-log-*` / `x-acs-*` headers
//! (lower-case, sorted, `name:value`; without `x-log-date`, which the Python SDK adds after
//! signing), then the path with the sorted decoded parameters.

use base64::Engine;
use hmac::{Hmac, Mac};
use http::{HeaderMap, Method};
use sha1::Sha1;

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
    // HMAC takes a key of any length, so this never fails.
    let Ok(mut mac) = <Hmac<Sha1> as Mac>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Checks the request's signature against the one key pair accepted.
pub fn verify(
    (id, secret): (&str, &str),
    method: &Method,
    path: &str,
    params: &Params,
    headers: &HeaderMap,
) -> Result<(), SlsError> {
    let auth = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| SlsError::Unauthorized("the Authorization header is missing".into()))?;
    let Some(rest) = auth.strip_prefix("LOG ") else {
        return Err(SlsError::Unauthorized(
            "fcemu verifies only V1 (LOG <ak>:<signature>) signatures".into(),
        ));
    };
    let (ak, given) = rest
        .trim()
        .split_once(':')
        .ok_or_else(|| SlsError::Unauthorized("the Authorization header is malformed".into()))?;
    if ak != id {
        return Err(SlsError::Unauthorized(format!(
            "AccessKeyId {ak} is not found"
        )));
    }
    let expected = sign(secret, &string_to_sign(method, path, params, headers));
    if expected != given {
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
        let path = "/logstores/store1/shards/lb";
        let ok = verify(
            ("testAK", "testSecret"),
            &Method::POST,
            path,
            &Params::default(),
            &h,
        );
        assert!(ok.is_ok());
        let bad = verify(
            ("testAK", "other"),
            &Method::POST,
            path,
            &Params::default(),
            &h,
        );
        assert!(matches!(bad, Err(SlsError::SignatureNotMatch(_))));
        let who = verify(
            ("someone", "testSecret"),
            &Method::POST,
            path,
            &Params::default(),
            &h,
        );
        assert!(matches!(who, Err(SlsError::Unauthorized(_))));
    }
}
