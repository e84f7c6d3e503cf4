//! Strict authentication (`ServiceContext::strict_auth`, as `OssConfig::strict_credentials`): the signature schemes the clients in scope
//! use, verified against the configured keys (reference oss.md §2).
//!
//! - OSS V1 (`Authorization: OSS ak:sig`, and `OSSAccessKeyId`/`Expires`/`Signature` URLs),
//! - OSS V4 (`OSS4-HMAC-SHA256`, header and `x-oss-signature-version` query forms),
//! - S3 SigV4 (`AWS4-HMAC-SHA256`, header and `X-Amz-Algorithm` query forms),
//! - S3 SigV2 (`AWS ak:sig`, and `AWSAccessKeyId` URLs: boto3's default presigning).
//!
//! Anonymous requests are `AccessDenied`; form uploads are checked by their policy signature.
//! Request time skew is not checked; presigned URL expiry is.

use std::collections::BTreeMap;

use axum::extract::Request;
use fcemu_core::Clock;
use fcemu_core::auth::{base64 as b64, hmac_sha1, same_signature, v4_key};
use http::HeaderMap;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::headers::get;
use super::{Query, Target};
use crate::{Credentials, OssError};

/// RFC 3986 unreserved characters stay; everything else is `%XX`.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// As [`UNRESERVED`], keeping `/` (OSS V4 canonical URI).
const UNRESERVED_SLASH: &AsciiSet = &UNRESERVED.remove(b'/');

/// Query keys that are part of an OSS V1 canonical resource (oss2 2.19.1's set).
const OSS_SUBRESOURCES: &[&str] = &[
    "acl",
    "uploads",
    "uploadId",
    "partNumber",
    "delete",
    "append",
    "position",
    "location",
    "bucketInfo",
    "stat",
    "objectMeta",
    "symlink",
    "tagging",
    "restore",
    "security-token",
    "continuation-token",
    "versionId",
    "versions",
    "versioning",
    "response-content-type",
    "response-content-language",
    "response-cache-control",
    "response-expires",
    "response-content-disposition",
    "response-content-encoding",
    "x-oss-process",
    "x-oss-traffic-limit",
    "x-oss-request-payer",
    "callback",
    "callback-var",
    "logging",
    "website",
    "cors",
    "lifecycle",
    "referer",
    "qos",
    "qosInfo",
    "link",
    "group",
    "live",
    "comp",
    "status",
    "vod",
    "startTime",
    "endTime",
    "encryption",
    "policy",
    "requestPayment",
    "asyncFetch",
    "sequential",
    "inventory",
    "inventoryId",
    "worm",
    "wormId",
    "wormExtend",
    "replication",
    "replicationLocation",
    "replicationProgress",
    "transferAcceleration",
    "cname",
    "metaQuery",
    "x-oss-ac-source-ip",
    "x-oss-ac-subnet-mask",
    "x-oss-ac-vpc-id",
    "x-oss-ac-forward-allow",
    "resourceGroup",
    "style",
    "styleName",
    "x-oss-async-process",
    "regionList",
    "x-oss-write-get-object-response",
    "bucketArchiveDirectRead",
    "httpsConfig",
    "redundancyTransition",
    "x-oss-target-redundancy-type",
    "x-oss-redundancy-transition-taskid",
    "accessPoint",
    "accessPointPolicy",
    "publicAccessBlock",
    "x-oss-access-point-name",
    "requesterQosInfo",
    "qosRequester",
    "resourcePoolInfo",
    "resourcePool",
    "resourcePoolBuckets",
];

/// Query keys that are part of an S3 SigV2 canonical resource.
const S3_SUBRESOURCES: &[&str] = &[
    "acl",
    "cors",
    "delete",
    "lifecycle",
    "location",
    "logging",
    "notification",
    "partNumber",
    "policy",
    "requestPayment",
    "restore",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
    "response-content-type",
    "response-content-language",
    "response-expires",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
];

/// The parts of a request a signature covers.
#[derive(Debug)]
pub struct SignInput<'a> {
    /// Upper-case method.
    pub method: &'a str,
    /// The path exactly as received (still percent-encoded).
    pub raw_path: &'a str,
    /// The headers.
    pub headers: &'a HeaderMap,
    /// The parsed query.
    pub query: &'a Query,
    /// Bucket and key.
    pub target: &'a Target,
    /// The region V4 signatures must be scoped to (`None`: any).
    pub region: Option<&'a str>,
}

fn malformed(msg: &str) -> OssError {
    OssError::invalid_argument("Authorization", "", msg)
}

fn secret<'c>(creds: &'c Credentials, ak: &str) -> Result<&'c str, OssError> {
    creds
        .keys
        .get(ak)
        .map(String::as_str)
        .ok_or_else(|| OssError::InvalidAccessKeyId {
            access_key_id: ak.to_string(),
        })
}

fn compare(
    ak: &str,
    provided: &str,
    expected: &str,
    string_to_sign: String,
) -> Result<(), OssError> {
    if same_signature(provided, expected) {
        Ok(())
    } else {
        Err(OssError::SignatureDoesNotMatch {
            access_key_id: ak.to_string(),
            provided: provided.to_string(),
            string_to_sign,
        })
    }
}

/// Verifies the request's signature against `creds`.
pub fn verify(
    creds: &Credentials,
    clock: &Clock,
    region: &str,
    req: &Request,
    q: &Query,
    target: &Target,
) -> Result<(), OssError> {
    let input = SignInput {
        method: req.method().as_str(),
        raw_path: req.uri().path(),
        headers: req.headers(),
        query: q,
        target,
        region: Some(region),
    };
    verify_input(creds, clock.now().unix_timestamp(), &input)
}

/// [`verify`] on the extracted request parts, at `now` (Unix seconds).
pub fn verify_input(creds: &Credentials, now: i64, r: &SignInput<'_>) -> Result<(), OssError> {
    let q = r.query;
    if let Some(auth) = get(r.headers, "authorization") {
        if let Some(rest) = auth.strip_prefix("OSS4-HMAC-SHA256 ") {
            return oss_v4_header(creds, r, rest);
        }
        if let Some(rest) = auth.strip_prefix("OSS ") {
            let (ak, sig) = rest
                .split_once(':')
                .ok_or_else(|| malformed("expected OSS <id>:<signature>"))?;
            let date = get(r.headers, "x-oss-date")
                .or_else(|| get(r.headers, "date"))
                .unwrap_or("");
            let sts = oss_v1_string_to_sign(r, date);
            let expected = b64(&hmac_sha1(secret(creds, ak)?.as_bytes(), sts.as_bytes()));
            return compare(ak, sig, &expected, sts);
        }
        if let Some(rest) = auth.strip_prefix("AWS4-HMAC-SHA256 ") {
            return s3_v4_header(creds, r, rest);
        }
        if let Some(rest) = auth.strip_prefix("AWS ") {
            let (ak, sig) = rest
                .split_once(':')
                .ok_or_else(|| malformed("expected AWS <id>:<signature>"))?;
            let date = get(r.headers, "date").unwrap_or("");
            return s3_v2(creds, r, ak, sig, date);
        }
        return Err(malformed("unsupported Authorization scheme"));
    }
    if let Some(ak) = q.get("OSSAccessKeyId") {
        let expires = q.get("Expires").unwrap_or("");
        check_expiry(now, expires.parse::<i64>().ok())?;
        let sts = oss_v1_string_to_sign(r, expires);
        let expected = b64(&hmac_sha1(secret(creds, ak)?.as_bytes(), sts.as_bytes()));
        return compare(ak, q.get("Signature").unwrap_or(""), &expected, sts);
    }
    if q.get("x-oss-signature-version") == Some("OSS4-HMAC-SHA256") {
        return oss_v4_query(creds, now, r);
    }
    if q.get("X-Amz-Algorithm") == Some("AWS4-HMAC-SHA256") {
        return s3_v4_query(creds, now, r);
    }
    if let Some(ak) = q.get("AWSAccessKeyId") {
        let expires = q.get("Expires").unwrap_or("");
        check_expiry(now, expires.parse::<i64>().ok())?;
        return s3_v2(creds, r, ak, q.get("Signature").unwrap_or(""), expires);
    }
    let is_form = r.method == "POST"
        && r.target.key.is_empty()
        && get(r.headers, "content-type")
            .is_some_and(|c| c.to_ascii_lowercase().starts_with("multipart/form-data"));
    if is_form {
        // Checked against the form's policy signature once the fields are read.
        return Ok(());
    }
    Err(OssError::AccessDenied(
        "Anonymous access is forbidden: the emulator runs with strict authentication.".into(),
    ))
}

fn check_expiry(now: i64, expires: Option<i64>) -> Result<(), OssError> {
    match expires {
        Some(e) if e >= now => Ok(()),
        Some(_) => Err(OssError::AccessDenied("Request has expired.".into())),
        None => Err(OssError::AccessDenied(
            "Expires is missing or not a number.".into(),
        )),
    }
}

fn canonical_prefixed_headers(h: &HeaderMap, prefix: &str) -> String {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in h {
        let n = name.as_str();
        if n.starts_with(prefix) {
            map.entry(n.to_string())
                .or_default()
                .push(String::from_utf8_lossy(value.as_bytes()).trim().to_string());
        }
    }
    map.into_iter()
        .map(|(n, v)| format!("{n}:{}\n", v.join(",")))
        .collect()
}

fn subresources(q: &Query, set: &[&str]) -> String {
    let mut subs: Vec<(&str, &str)> = q
        .pairs
        .iter()
        .filter(|(k, _)| set.contains(&k.as_str()))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    subs.sort();
    subs.dedup_by(|a, b| a.0 == b.0);
    if subs.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = subs
        .into_iter()
        .map(|(k, v)| {
            if v.is_empty() {
                k.to_string()
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    format!("?{}", parts.join("&"))
}

/// The OSS V1 string to sign, with `date` in the date slot (the Date header, or Expires).
pub fn oss_v1_string_to_sign(r: &SignInput<'_>, date: &str) -> String {
    let resource = match &r.target.bucket {
        None => "/".to_string(),
        Some(b) => format!("/{b}/{}", r.target.key),
    };
    format!(
        "{}\n{}\n{}\n{}\n{}{}{}",
        r.method,
        get(r.headers, "content-md5").unwrap_or(""),
        get(r.headers, "content-type").unwrap_or(""),
        date,
        canonical_prefixed_headers(r.headers, "x-oss-"),
        resource,
        subresources(r.query, OSS_SUBRESOURCES)
    )
}

fn s3_v2(
    creds: &Credentials,
    r: &SignInput<'_>,
    ak: &str,
    sig: &str,
    date: &str,
) -> Result<(), OssError> {
    let key = secret(creds, ak)?;
    let subs = subresources(r.query, S3_SUBRESOURCES);
    let mut resources = Vec::new();
    if r.target.virtual_host {
        let b = r.target.bucket.as_deref().unwrap_or("");
        resources.push(format!("/{b}{}", r.raw_path));
    } else {
        resources.push(r.raw_path.to_string());
        // botocore signs bucket-level requests as /bucket/ although it sends /bucket.
        if r.target.key.is_empty() && r.target.bucket.is_some() && !r.raw_path.ends_with('/') {
            resources.push(format!("{}/", r.raw_path));
        }
    }
    let mut dates = vec![date];
    if get(r.headers, "x-amz-date").is_some() {
        dates.push("");
    }
    let mut first = None;
    for res in &resources {
        for d in &dates {
            let sts = format!(
                "{}\n{}\n{}\n{}\n{}{}{}",
                r.method,
                get(r.headers, "content-md5").unwrap_or(""),
                get(r.headers, "content-type").unwrap_or(""),
                d,
                canonical_prefixed_headers(r.headers, "x-amz-"),
                res,
                subs
            );
            if same_signature(sig, b64(&hmac_sha1(key.as_bytes(), sts.as_bytes()))) {
                return Ok(());
            }
            first.get_or_insert(sts);
        }
    }
    compare(ak, sig, "", first.unwrap_or_default())
}

/// `k=v, k2=v2` (or `k=v,k2=v2`) pairs of an Authorization header.
fn auth_fields(rest: &str) -> BTreeMap<String, String> {
    rest.split(',')
        .filter_map(|p| p.trim().split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// `ak/date/region/service/terminator`.
struct Scope {
    ak: String,
    date: String,
    region: String,
    service: String,
    terminator: String,
}

impl Scope {
    fn parse(credential: &str) -> Result<Self, OssError> {
        let parts: Vec<&str> = credential.split('/').collect();
        if parts.len() != 5 {
            return Err(malformed(
                "credential must be <id>/<date>/<region>/<service>/<terminator>",
            ));
        }
        Ok(Self {
            ak: parts[0].to_string(),
            date: parts[1].to_string(),
            region: parts[2].to_string(),
            service: parts[3].to_string(),
            terminator: parts[4].to_string(),
        })
    }

    fn string(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.date, self.region, self.service, self.terminator
        )
    }

    /// The hex V4 signature of `sts` under this scope's key for `secret`.
    fn sign(&self, prefix: &str, secret: &str, sts: &str) -> String {
        let parts = [&self.date, &self.region, &self.service, &self.terminator];
        let key = v4_key(prefix, secret, &parts.map(String::as_str));
        fcemu_core::auth::hex(&fcemu_core::auth::hmac_sha256(&key, sts.as_bytes()))
    }
}

fn sha256_hex(s: &str) -> String {
    fcemu_core::auth::sha256_hex(s.as_bytes())
}

fn parse_amz_date(s: &str) -> Option<i64> {
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(s, &fmt)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

// ---------------------------------------------------------------------------------- OSS V4

fn oss_v4_canonical_query(q: &Query) -> String {
    let mut pairs: Vec<(String, String)> = q
        .pairs
        .iter()
        .filter(|(k, _)| k != "x-oss-signature")
        .map(|(k, v)| {
            (
                utf8_percent_encode(k, UNRESERVED).to_string(),
                utf8_percent_encode(v, UNRESERVED).to_string(),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .into_iter()
        .map(|(k, v)| if v.is_empty() { k } else { format!("{k}={v}") })
        .collect::<Vec<_>>()
        .join("&")
}

fn oss_v4_string_to_sign(
    r: &SignInput<'_>,
    additional: &str,
    datetime: &str,
    scope: &Scope,
) -> String {
    let uri = match &r.target.bucket {
        None => "/".to_string(),
        Some(b) => format!(
            "/{b}/{}",
            utf8_percent_encode(&r.target.key, UNRESERVED_SLASH)
        ),
    };
    let extra: Vec<String> = additional
        .split(';')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in r.headers {
        let n = name.as_str();
        if n.starts_with("x-oss-")
            || n == "content-type"
            || n == "content-md5"
            || extra.iter().any(|e| e == n)
        {
            headers.insert(
                n.to_string(),
                String::from_utf8_lossy(value.as_bytes()).trim().to_string(),
            );
        }
    }
    let canonical_headers: String = headers.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let payload = get(r.headers, "x-oss-content-sha256").unwrap_or("UNSIGNED-PAYLOAD");
    let mut extra_sorted = extra;
    extra_sorted.sort();
    let cr = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        r.method,
        uri,
        oss_v4_canonical_query(r.query),
        canonical_headers,
        extra_sorted.join(";"),
        payload
    );
    format!(
        "OSS4-HMAC-SHA256\n{datetime}\n{}\n{}",
        scope.string(),
        sha256_hex(&cr)
    )
}

/// An OSS V4 scope must name the region the request is sent to.
fn check_region(r: &SignInput<'_>, scope: &Scope) -> Result<(), OssError> {
    match r.region {
        Some(region) if scope.region != region => Err(OssError::invalid_argument(
            "x-oss-credential",
            &scope.region,
            format!(
                "Invalid signing region in Authorization header: {} (this endpoint is {region})",
                scope.region
            ),
        )),
        _ => Ok(()),
    }
}

fn oss_v4_signature(secret: &str, scope: &Scope, sts: &str) -> String {
    scope.sign("aliyun_v4", secret, sts)
}

fn oss_v4_header(creds: &Credentials, r: &SignInput<'_>, rest: &str) -> Result<(), OssError> {
    let f = auth_fields(rest);
    let scope = Scope::parse(
        f.get("Credential")
            .ok_or_else(|| malformed("Credential is missing"))?,
    )?;
    check_region(r, &scope)?;
    let sig = f
        .get("Signature")
        .ok_or_else(|| malformed("Signature is missing"))?;
    let additional = f.get("AdditionalHeaders").map(String::as_str).unwrap_or("");
    let datetime = get(r.headers, "x-oss-date").unwrap_or("");
    let sts = oss_v4_string_to_sign(r, additional, datetime, &scope);
    let expected = oss_v4_signature(secret(creds, &scope.ak)?, &scope, &sts);
    compare(&scope.ak, sig, &expected, sts)
}

fn oss_v4_query(creds: &Credentials, now: i64, r: &SignInput<'_>) -> Result<(), OssError> {
    let q = r.query;
    let scope = Scope::parse(q.get("x-oss-credential").unwrap_or(""))?;
    check_region(r, &scope)?;
    let datetime = q.get("x-oss-date").unwrap_or("");
    let start =
        parse_amz_date(datetime).ok_or_else(|| malformed("x-oss-date is not yyyymmddThhmmssZ"))?;
    let expires: i64 = q
        .get("x-oss-expires")
        .and_then(|e| e.parse().ok())
        .unwrap_or(3600);
    check_expiry(now, Some(start + expires))?;
    let additional = q.get("x-oss-additional-headers").unwrap_or("");
    let sts = oss_v4_string_to_sign(r, additional, datetime, &scope);
    let expected = oss_v4_signature(secret(creds, &scope.ak)?, &scope, &sts);
    compare(
        &scope.ak,
        q.get("x-oss-signature").unwrap_or(""),
        &expected,
        sts,
    )
}

// ---------------------------------------------------------------------------------- S3 SigV4

fn s3_canonical_query(q: &Query) -> String {
    let mut pairs: Vec<(String, String)> = q
        .pairs
        .iter()
        .filter(|(k, _)| k != "X-Amz-Signature")
        .map(|(k, v)| {
            (
                utf8_percent_encode(k, UNRESERVED).to_string(),
                utf8_percent_encode(v, UNRESERVED).to_string(),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn s3_v4_string_to_sign(
    r: &SignInput<'_>,
    signed_headers: &str,
    payload: &str,
    datetime: &str,
    scope: &Scope,
) -> String {
    let canonical_headers: String = signed_headers
        .split(';')
        .map(|n| {
            let values: Vec<String> = r
                .headers
                .get_all(n)
                .iter()
                .map(|v| {
                    String::from_utf8_lossy(v.as_bytes())
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            format!("{n}:{}\n", values.join(","))
        })
        .collect();
    let cr = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        r.method,
        r.raw_path,
        s3_canonical_query(r.query),
        canonical_headers,
        signed_headers,
        payload
    );
    format!(
        "AWS4-HMAC-SHA256\n{datetime}\n{}\n{}",
        scope.string(),
        sha256_hex(&cr)
    )
}

fn s3_v4_signature(secret: &str, scope: &Scope, sts: &str) -> String {
    scope.sign("AWS4", secret, sts)
}

fn s3_v4_header(creds: &Credentials, r: &SignInput<'_>, rest: &str) -> Result<(), OssError> {
    let f = auth_fields(rest);
    let scope = Scope::parse(
        f.get("Credential")
            .ok_or_else(|| malformed("Credential is missing"))?,
    )?;
    let signed = f
        .get("SignedHeaders")
        .ok_or_else(|| malformed("SignedHeaders is missing"))?;
    let sig = f
        .get("Signature")
        .ok_or_else(|| malformed("Signature is missing"))?;
    let datetime = get(r.headers, "x-amz-date").unwrap_or("");
    let payload = get(r.headers, "x-amz-content-sha256").unwrap_or("UNSIGNED-PAYLOAD");
    let sts = s3_v4_string_to_sign(r, signed, payload, datetime, &scope);
    let expected = s3_v4_signature(secret(creds, &scope.ak)?, &scope, &sts);
    compare(&scope.ak, sig, &expected, sts)
}

fn s3_v4_query(creds: &Credentials, now: i64, r: &SignInput<'_>) -> Result<(), OssError> {
    let q = r.query;
    let scope = Scope::parse(q.get("X-Amz-Credential").unwrap_or(""))?;
    let datetime = q.get("X-Amz-Date").unwrap_or("");
    let start =
        parse_amz_date(datetime).ok_or_else(|| malformed("X-Amz-Date is not yyyymmddThhmmssZ"))?;
    let expires: i64 = q
        .get("X-Amz-Expires")
        .and_then(|e| e.parse().ok())
        .unwrap_or(3600);
    check_expiry(now, Some(start + expires))?;
    let signed = q.get("X-Amz-SignedHeaders").unwrap_or("host");
    let sts = s3_v4_string_to_sign(r, signed, "UNSIGNED-PAYLOAD", datetime, &scope);
    let expected = s3_v4_signature(secret(creds, &scope.ak)?, &scope, &sts);
    compare(
        &scope.ak,
        q.get("X-Amz-Signature").unwrap_or(""),
        &expected,
        sts,
    )
}

// ---------------------------------------------------------------------------------- forms

/// Verifies a PostObject form's policy signature (OSS V1 `Signature`, OSS V4
/// `x-oss-signature`, S3 V2 `signature`, S3 V4 `x-amz-signature`).
pub fn verify_post_policy(
    creds: &Credentials,
    policy: &str,
    fields: &BTreeMap<String, String>,
) -> Result<(), OssError> {
    if let Some(sig) = fields.get("x-oss-signature") {
        let scope = Scope::parse(
            fields
                .get("x-oss-credential")
                .map(String::as_str)
                .unwrap_or(""),
        )?;
        let expected = oss_v4_signature(secret(creds, &scope.ak)?, &scope, policy);
        return compare(&scope.ak, sig, &expected, policy.to_string());
    }
    if let Some(sig) = fields.get("x-amz-signature") {
        let scope = Scope::parse(
            fields
                .get("x-amz-credential")
                .map(String::as_str)
                .unwrap_or(""),
        )?;
        let expected = s3_v4_signature(secret(creds, &scope.ak)?, &scope, policy);
        return compare(&scope.ak, sig, &expected, policy.to_string());
    }
    let ak = fields
        .get("ossaccesskeyid")
        .or_else(|| fields.get("awsaccesskeyid"))
        .ok_or_else(|| OssError::AccessDenied("The form names no access key.".into()))?;
    let sig = fields.get("signature").map(String::as_str).unwrap_or("");
    let expected = b64(&hmac_sha1(secret(creds, ak)?.as_bytes(), policy.as_bytes()));
    compare(ak, sig, &expected, policy.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const DATE: &str = "Tue, 24 Nov 2026 03:08:22 GMT";

    fn creds() -> Credentials {
        Credentials::single("AKID", "SECRET")
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn run(method: &str, path: &str, query: &str, h: &HeaderMap, now: i64) -> Result<(), OssError> {
        let q = Query::parse(query);
        let host = h
            .get("host")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("127.0.0.1");
        let t = super::super::parse_target(
            path,
            super::super::bucket_from_host(host, &["127.0.0.1".into()]),
        );
        verify_input(
            &creds(),
            now,
            &SignInput {
                method,
                raw_path: path,
                headers: h,
                query: &q,
                target: &t,
                region: None,
            },
        )
    }

    #[test]
    fn oss_v1_vectors() {
        let h = headers(&[
            ("Content-MD5", "XUFAKrxLKna5cZ2REBfFkg=="),
            ("Content-Type", "text/plain"),
            ("x-oss-meta-Key", "v"),
            ("X-OSS-Object-ACL", "private"),
            ("Date", DATE),
            ("Authorization", "OSS AKID:s9Ec71lW+y77QlNd6pwzP/Mthps="),
        ]);
        run("PUT", "/mybucket/dir%2Fa%20b.txt", "", &h, 0).unwrap();
        let h = headers(&[
            ("Date", DATE),
            ("Authorization", "OSS AKID:kdZV2diepCseaiJUpAcDFWTguCA="),
        ]);
        run("GET", "/mybucket/", "acl=", &h, 0).unwrap();
        let h = headers(&[
            ("Date", DATE),
            ("Authorization", "OSS AKID:usGkR9wJfxiYrjvZJBl74xv32lc="),
        ]);
        run("GET", "/", "prefix=&marker=&max-keys=100", &h, 0).unwrap();
        let h = headers(&[
            ("Date", DATE),
            ("Authorization", "OSS AKID:usGkR9wJfxiYrjvZJBl74xv32lc="),
        ]);
        match run("GET", "/other", "", &h, 0) {
            Err(OssError::SignatureDoesNotMatch { string_to_sign, .. }) => {
                assert_eq!(string_to_sign, format!("GET\n\n\n{DATE}\n/other/"))
            }
            other => panic!("{other:?}"),
        }
        let h = headers(&[("Date", DATE), ("Authorization", "OSS NOPE:x")]);
        assert!(matches!(
            run("GET", "/", "", &h, 0),
            Err(OssError::InvalidAccessKeyId { .. })
        ));
    }

    #[test]
    fn oss_v1_presigned() {
        let q = "OSSAccessKeyId=AKID&Expires=1795489762&Signature=WPJwmAvO22Yf8ya0JTfsEiEuhpo%3D";
        let h = HeaderMap::new();
        run("GET", "/mybucket/dir%2Fx%20y.txt", q, &h, 1795489700).unwrap();
        assert!(matches!(
            run("GET", "/mybucket/dir%2Fx%20y.txt", q, &h, 1795489800),
            Err(OssError::AccessDenied(_))
        ));
        assert!(matches!(
            run("GET", "/mybucket/k", "", &h, 0),
            Err(OssError::AccessDenied(_))
        ));
    }

    #[test]
    fn oss_v4_vectors() {
        let h = headers(&[
            ("Content-Type", "text/plain"),
            ("x-oss-meta-k", "v"),
            ("x-oss-date", "20261124T030953Z"),
            ("x-oss-content-sha256", "UNSIGNED-PAYLOAD"),
            (
                "Authorization",
                "OSS4-HMAC-SHA256 Credential=AKID/20261124/cn-hangzhou/oss/aliyun_v4_request, Signature=601832249dee6c02e45bdd0e3bacfb6de56a92267ffdcca2b7f5b7e7729dfe5e",
            ),
        ]);
        run("PUT", "/mybucket/dir%2Fa%20b.txt", "", &h, 0).unwrap();
        let h = headers(&[
            ("x-oss-date", "20261124T030953Z"),
            ("x-oss-content-sha256", "UNSIGNED-PAYLOAD"),
            (
                "Authorization",
                "OSS4-HMAC-SHA256 Credential=AKID/20261124/cn-hangzhou/oss/aliyun_v4_request,Signature=01511ee1407e2520958245d019f5553713ce7c4f7ab468af3fadb20c97ebdc84",
            ),
        ]);
        run(
            "GET",
            "/mybucket/",
            "list-type=2&prefix=a+b%2F&max-keys=100&continuation-token=",
            &h,
            0,
        )
        .unwrap();
    }

    #[test]
    fn s3_vectors() {
        let h = headers(&[
            ("Host", "127.0.0.1:18080"),
            ("x-amz-checksum-crc32", "NhCmhg=="),
            (
                "x-amz-content-sha256",
                "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
            ),
            ("x-amz-date", "20261124T031109Z"),
            ("x-amz-sdk-checksum-algorithm", "CRC32"),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKID/20261124/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-checksum-crc32;x-amz-content-sha256;x-amz-date;x-amz-sdk-checksum-algorithm, Signature=263249c19629a6f69b34382f36a528ddfb4171a62f19ca858e46e359febc65f3",
            ),
        ]);
        run("PUT", "/mybucket/dir/a%20b.txt", "", &h, 0).unwrap();
        let h = headers(&[
            ("Content-Type", "text/plain"),
            ("Date", "Tue, 24 Nov 2026 03:12:49 GMT"),
            ("x-amz-checksum-crc32", "NhCmhg=="),
            ("x-amz-meta-foo", "bar"),
            ("x-amz-sdk-checksum-algorithm", "CRC32"),
            ("Authorization", "AWS AKID:t3aYwEMcIz5E9FjORdBBPapUQIc="),
        ]);
        run("PUT", "/mybucket/dir/a%20b.txt", "", &h, 0).unwrap();
    }
}
