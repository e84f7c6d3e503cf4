//! Request signatures (V2 HMAC-SHA1, V4 HMAC-SHA256) and the response signature every SDK
//! checks (reference §1.4, §1.5).
//!
//! The Python and Java SDKs reject a response whose `Authorization` is not an HMAC over its
//! `x-ots-*` headers keyed with *their* AccessKeySecret (or the V4 key derived from it). An
//! HMAC cannot be undone, so the service must know the secret. With `strict_auth` it is the
//! configured one. Otherwise the service tries the configured candidates
//! ([`crate::OtsConfig::known_secrets`]) and the AccessKeyId itself, and signs with the one
//! that reproduces the request's signature; when none does, it answers 403 `OTSAuthFailed`
//! (which the SDKs accept unsigned) naming what to do. Requests without any signature (raw
//! protobuf from tests or curl) get unsigned responses.

use fcemu_core::auth::{V4Scheme, base64, hmac_sha1, hmac_sha256, same_signature};
use http::HeaderMap;
use md5::{Digest, Md5};

use crate::{OtsConfig, OtsError};

/// Secrets tried by default when any credentials are accepted: fcemu's function credentials
/// and the secrets its own test suites use.
pub const DEFAULT_SECRETS: &[&str] = &["fcemu-local-access-key-secret", "fcemu-test-secret"];

/// The key responses are signed with, and the AccessKeyId they name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseKey {
    /// AccessKeyId of the request.
    pub access_key_id: String,
    /// HMAC-SHA1 key: the secret (V2) or the base64 V4 signing key.
    pub key: Vec<u8>,
}

/// base64(MD5(body)), as `x-ots-contentmd5` carries it.
pub fn content_md5(body: &[u8]) -> String {
    base64(&Md5::digest(body))
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The V2 string to sign of a request (V4 appends `ots`).
pub fn request_string_to_sign(action: &str, headers: &HeaderMap) -> String {
    let mut canon: Vec<String> = headers
        .iter()
        .filter(|(n, _)| {
            let n = n.as_str();
            n.starts_with("x-ots-") && n != "x-ots-signature" && n != "x-ots-signaturev4"
        })
        .map(|(n, v)| {
            format!(
                "{}:{}",
                n.as_str(),
                String::from_utf8_lossy(v.as_bytes()).trim()
            )
        })
        .collect();
    canon.sort();
    let mut s = format!("/{action}\nPOST\n\n");
    for c in canon {
        s.push_str(&c);
        s.push('\n');
    }
    s
}

fn v4_signing_key(secret: &str, date: &str, region: &str) -> Vec<u8> {
    base64(&V4Scheme::ALIYUN.signing_key(secret, date, region, "ots")).into_bytes()
}

/// How a request was signed.
enum Signed<'a> {
    V2(&'a str),
    V4 {
        sig: &'a str,
        date: &'a str,
        region: &'a str,
    },
}

fn signed(headers: &HeaderMap) -> Option<Signed<'_>> {
    if let Some(sig) = header(headers, "x-ots-signaturev4") {
        return Some(Signed::V4 {
            sig,
            date: header(headers, "x-ots-signdate").unwrap_or(""),
            region: header(headers, "x-ots-signregion").unwrap_or(""),
        });
    }
    header(headers, "x-ots-signature").map(Signed::V2)
}

/// Whether an `x-ots-date` (`2024-01-01T00:00:00.000Z`) is within 15 minutes of the host's
/// clock (the SDKs' own tolerance).
fn date_is_current(date: &str) -> bool {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]Z"
    );
    time::PrimitiveDateTime::parse(date, &format).is_ok_and(|d| {
        (d.assume_utc() - time::OffsetDateTime::now_utc()).abs() <= time::Duration::minutes(15)
    })
}

/// The response key for `secret` if it reproduces the request's signature.
fn try_secret(s: &Signed<'_>, string_to_sign: &str, secret: &str) -> Option<Vec<u8>> {
    match s {
        Signed::V2(sig) => same_signature(
            sig,
            base64(&hmac_sha1(secret.as_bytes(), string_to_sign.as_bytes())),
        )
        .then(|| secret.as_bytes().to_vec()),
        Signed::V4 { sig, date, region } => {
            let key = v4_signing_key(secret, date, region);
            let to_sign = format!("{string_to_sign}ots");
            same_signature(sig, base64(&hmac_sha256(&key, to_sign.as_bytes()))).then_some(key)
        }
    }
}

/// Checks a request and finds the key to sign its response with. `Ok(None)`: the request is
/// unsigned and accepted (lenient mode only).
pub fn authenticate(
    cfg: &OtsConfig,
    action: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<ResponseKey>, OtsError> {
    let access_key_id = header(headers, "x-ots-accesskeyid")
        .unwrap_or("")
        .to_owned();
    let sig = signed(headers);
    let to_sign = request_string_to_sign(action, headers);
    if let Some((id, secret)) = &cfg.ctx.strict_auth {
        if &access_key_id != id {
            return Err(OtsError::AuthFailed(format!(
                "The AccessKeyID '{access_key_id}' does not exist."
            )));
        }
        let date = header(headers, "x-ots-date").unwrap_or("");
        if !date_is_current(date) {
            return Err(OtsError::AuthFailed(format!(
                "Mismatch between system time and x-ots-date: {date}."
            )));
        }
        if header(headers, "x-ots-contentmd5") != Some(content_md5(body).as_str()) {
            return Err(OtsError::AuthFailed(
                "Mismatch between MD5 value of request body and x-ots-contentmd5 in header.".into(),
            ));
        }
        let key = sig
            .as_ref()
            .and_then(|s| try_secret(s, &to_sign, secret))
            .ok_or_else(|| OtsError::AuthFailed("Signature mismatch.".into()))?;
        return Ok(Some(ResponseKey { access_key_id, key }));
    }
    let Some(sig) = sig else {
        return Ok(None);
    };
    let candidates = cfg
        .known_secrets
        .iter()
        .map(String::as_str)
        .chain(std::iter::once(access_key_id.as_str()));
    for secret in candidates {
        if let Some(key) = try_secret(&sig, &to_sign, secret) {
            return Ok(Some(ResponseKey { access_key_id, key }));
        }
    }
    Err(OtsError::AuthFailed(format!(
        "Cannot sign responses for AccessKeyId '{access_key_id}': Table Store clients check the \
         response signature with their AccessKeySecret, so the emulator must know it. Use an \
         AccessKeySecret equal to the AccessKeyId, or one of the emulator's known secrets, or \
         tell the emulator your pair (`fcemu up --credentials ID:SECRET`)."
    )))
}

/// The `Authorization` value of a response with these `x-ots-*` headers.
pub fn response_authorization(
    key: &ResponseKey,
    action: &str,
    ots_headers: &[(&str, &str)],
) -> String {
    let mut canon: Vec<String> = ots_headers
        .iter()
        .map(|(n, v)| format!("{n}:{}", v.trim()))
        .collect();
    canon.sort();
    let to_sign = format!("{}\n/{action}", canon.join("\n"));
    let sig = base64(&hmac_sha1(&key.key, to_sign.as_bytes()));
    format!("OTS {}:{sig}", key.access_key_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_request_signature() {
        let mut h = HeaderMap::new();
        for (n, v) in [
            ("x-ots-accesskeyid", "testid"),
            ("x-ots-apiversion", "2015-12-31"),
            ("x-ots-contentmd5", "48Jh3JHg9ix1qpNRcgLwbQ=="),
            ("x-ots-date", "2024-01-01T00:00:00.000Z"),
            ("x-ots-instancename", "myinst"),
            ("x-ots-signature", "NWRSTAdt+OeINVFQ7+TzkWen50Q="),
        ] {
            h.insert(n, v.parse().unwrap());
        }
        let s = request_string_to_sign("GetRow", &h);
        assert_eq!(
            try_secret(&signed(&h).unwrap(), &s, "testsecret"),
            Some(b"testsecret".to_vec())
        );
        assert_eq!(try_secret(&signed(&h).unwrap(), &s, "other"), None);
    }

    #[test]
    fn reference_response_signature() {
        let key = ResponseKey {
            access_key_id: "testid".into(),
            key: b"testsecret".to_vec(),
        };
        let auth = response_authorization(
            &key,
            "GetRow",
            &[
                ("x-ots-contentmd5", "zTUEwb6wQD466Hti/bTjGA=="),
                ("x-ots-contenttype", "protocol buffer"),
                ("x-ots-date", "2024-01-01T00:00:00.000000Z"),
                ("x-ots-requestid", "00000000-0000-0000-0000-000000000001"),
            ],
        );
        assert_eq!(auth, "OTS testid:N5ljUV0J/Amsa7uFeooffcdFdVw=");
    }

    #[test]
    fn request_dates() {
        let now = time::OffsetDateTime::now_utc();
        let fmt = |t| format!("{}Z", fcemu_core::clock::utc_text(t, 'T', 3));
        assert!(date_is_current(&fmt(now)));
        assert!(!date_is_current(&fmt(now - time::Duration::hours(1))));
        assert!(!date_is_current("yesterday"));
    }

    #[test]
    fn empty_body_md5() {
        assert_eq!(content_md5(b""), "1B2M2Y8AsgTpgAmY7PhCfg==");
    }
}
