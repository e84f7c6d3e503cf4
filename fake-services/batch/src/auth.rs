//! The BatchCompute signature (reference batchcompute.md §2.2), checked only under
//! `--strict-auth`: `acs <AccessKeyId>:<base64 HMAC-SHA1>` over
//! `VERB \n Accept \n Content-MD5 \n Content-Type \n Date \n` + the `x-acs-*` headers (sorted,
//! `name:value\n`) + the request target exactly as sent. The SDK's own `contentMd5` header is
//! not signed (it looks for `Content-MD5`), so only a real `Content-MD5` counts.

use http::HeaderMap;

use crate::BatchError;

/// The string the client signed.
pub fn string_to_sign(method: &str, target: &str, headers: &HeaderMap) -> String {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let mut acs: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| {
            let name = k.as_str().trim().to_ascii_lowercase();
            name.starts_with("x-acs-")
                .then(|| (name, String::from_utf8_lossy(v.as_bytes()).into_owned()))
        })
        .collect();
    acs.sort();
    let mut s = format!(
        "{method}\n{}\n{}\n{}\n{}\n",
        get("accept"),
        get("content-md5"),
        get("content-type"),
        get("date")
    );
    for (k, v) in acs {
        s.push_str(&format!("{k}:{v}\n"));
    }
    s.push_str(target);
    s
}

/// Checks a request's `Authorization` against the one key pair fcemu was given.
pub fn verify(
    (id, secret): (&str, &str),
    method: &str,
    target: &str,
    headers: &HeaderMap,
) -> Result<(), BatchError> {
    let forbidden = |why: String| BatchError::Forbidden(why);
    let auth = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| forbidden("the request is not signed (no Authorization header)".into()))?;
    let (given_id, signature) = auth
        .strip_prefix("acs ")
        .and_then(|rest| rest.rsplit_once(':'))
        .ok_or_else(|| {
            forbidden(format!(
                "Authorization {auth:?} is not `acs <AccessKeyId>:<Signature>`"
            ))
        })?;
    if given_id != id {
        return Err(forbidden(format!(
            "AccessKeyId {given_id} is not the one fcemu was started with (--strict-auth)"
        )));
    }
    let sts = string_to_sign(method, target, headers);
    let expected = fcemu_core::auth::base64(&fcemu_core::auth::hmac_sha1(
        secret.as_bytes(),
        sts.as_bytes(),
    ));
    if !fcemu_core::auth::same_signature(signature, &expected) {
        return Err(forbidden(format!(
            "the signature does not match; the string to sign was {sts:?}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(extra: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("accept", "application/json"),
            ("content-type", "application/json"),
            ("date", "Thu, 03 Dec 2026 08:00:00 GMT"),
            ("x-acs-access-key-id", "acc-ak"),
            ("x-acs-region-id", "cn-hangzhou"),
            ("x-acs-signature-method", "HMAC-SHA1"),
            (
                "x-acs-signature-nonce",
                "00000000-0000-1000-8000-000000000001",
            ),
            ("x-acs-signature-version", "1.0"),
            ("x-acs-version", "2015-11-11"),
        ]
        .into_iter()
        .chain(extra.iter().copied())
        {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    /// The worked vectors of reference §2.3, computed with the SDK itself.
    #[test]
    fn the_sdks_signatures_verify() {
        let job = "job-00000000000000000000000000000001";
        for (method, target, extra, sig) in [
            (
                "GET",
                "/jobs?Marker&MaxItemCount=2".to_string(),
                vec![],
                "vqZ5zOkOClJCIbTjtr9h3sww3u0=",
            ),
            (
                "POST",
                format!("/jobs/{job}/stop"),
                vec![],
                "dgCkghnn/VOxlkqdigv8MFZBoQQ=",
            ),
            (
                "PUT",
                format!("/jobs/{job}"),
                vec![("contentmd5", "146461bb8b8c738a9b9e0405427d6e32")],
                "MIl1K/A/9v/uQtTTPyU+A00nLag=",
            ),
            (
                "GET",
                format!("/jobs/{job}?description"),
                vec![],
                "UbRLhsDpSijzJIT7vZJLimfUhng=",
            ),
        ] {
            let auth = format!("acs acc-ak:{sig}");
            let mut h = headers(&extra);
            h.insert(http::header::AUTHORIZATION, auth.parse().unwrap());
            assert!(
                verify(("acc-ak", "acc-secret"), method, &target, &h).is_ok(),
                "{method} {target}"
            );
            assert!(verify(("acc-ak", "other"), method, &target, &h).is_err());
        }
    }
}
