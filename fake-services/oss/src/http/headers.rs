//! Request headers → object attributes and conditions; object metadata → response headers.
//! OSS (`x-oss-*`) and S3 (`x-amz-*`) spellings are both accepted on input; output uses the
//! client's flavour.

use http::{HeaderMap, HeaderName, HeaderValue};
use percent_encoding::percent_decode_str;

use super::Ctx;
use super::query::Query;
use crate::OssError;
use crate::conditions::Preconditions;
use crate::model::{ObjectAttrs, ObjectMeta, ObjectType};

/// Standard headers stored with an object and returned on GET/HEAD.
pub const STORED_HEADERS: &[&str] = &[
    "content-type",
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
];

/// A header's value as text.
pub fn get<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// The first of the OSS or S3 spelling (`x-oss-<name>` / `x-amz-<name>`).
pub fn either<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    get(h, &format!("x-oss-{name}")).or_else(|| get(h, &format!("x-amz-{name}")))
}

fn check_acl(v: &str, allow_default: bool) -> Result<String, OssError> {
    match v {
        "private" | "public-read" | "public-read-write" => Ok(v.to_string()),
        "default" if allow_default => Ok(v.to_string()),
        // S3 canned ACLs OSS has no equivalent for are kept as private.
        "authenticated-read"
        | "bucket-owner-read"
        | "bucket-owner-full-control"
        | "aws-exec-read" => Ok("private".into()),
        _ => Err(OssError::invalid_argument(
            "x-oss-acl",
            v,
            "no such bucket access control exists",
        )),
    }
}

/// The bucket ACL of a PutBucket / PutBucketAcl request.
pub fn bucket_acl(h: &HeaderMap) -> Result<Option<String>, OssError> {
    get(h, "x-oss-acl")
        .or_else(|| get(h, "x-amz-acl"))
        .map(|v| check_acl(v, false))
        .transpose()
}

/// The object ACL of a request (`x-oss-object-acl` / `x-amz-acl`).
pub fn object_acl(h: &HeaderMap) -> Result<Option<String>, OssError> {
    get(h, "x-oss-object-acl")
        .or_else(|| get(h, "x-amz-acl"))
        .map(|v| check_acl(v, true))
        .transpose()
}

fn storage_class(v: &str) -> Result<String, OssError> {
    Ok(match v {
        "Standard" | "STANDARD" => "Standard",
        "IA" | "STANDARD_IA" | "ONEZONE_IA" => "IA",
        "Archive" | "GLACIER" | "GLACIER_IR" => "Archive",
        "ColdArchive" | "DEEP_ARCHIVE" => "ColdArchive",
        "DeepColdArchive" => "DeepColdArchive",
        _ => {
            return Err(OssError::invalid_argument(
                "x-oss-storage-class",
                v,
                "invalid storage class",
            ));
        }
    }
    .to_string())
}

/// Parses `k1=v1&k2=v2` tags (URL-encoded, as in `x-oss-tagging`).
pub fn parse_tagging(v: &str) -> Vec<(String, String)> {
    Query::parse(v).pairs
}

/// Whether `x-oss-forbid-overwrite` asks not to replace (S3: `If-None-Match: *`).
pub fn forbid_overwrite(h: &HeaderMap, s3: bool) -> Result<bool, OssError> {
    if s3 && get(h, "if-none-match") == Some("*") {
        return Ok(true);
    }
    match get(h, "x-oss-forbid-overwrite") {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(OssError::invalid_argument(
            "x-oss-forbid-overwrite",
            v,
            "x-oss-forbid-overwrite must be true or false",
        )),
    }
}

/// Object attributes from a PutObject / Initiate / Append / copy-with-REPLACE request.
pub fn attrs_from_headers(h: &HeaderMap) -> Result<ObjectAttrs, OssError> {
    let mut a = crate::service::default_attrs();
    for name in STORED_HEADERS {
        if let Some(v) = get(h, name) {
            let v = if *name == "content-encoding" {
                // aws-chunked is transport framing, not a property of the object; the rest is
                // kept as sent.
                v.split(',')
                    .filter(|t| {
                        !t.trim().eq_ignore_ascii_case("aws-chunked") && !t.trim().is_empty()
                    })
                    .collect::<Vec<_>>()
                    .join(",")
                    .trim()
                    .to_string()
            } else {
                v.to_string()
            };
            if !v.is_empty() {
                a.headers.insert((*name).to_string(), v);
            }
        }
    }
    let mut meta_len = 0;
    for (name, value) in h {
        let n = name.as_str();
        if let Some(m) = n
            .strip_prefix("x-oss-meta-")
            .or_else(|| n.strip_prefix("x-amz-meta-"))
        {
            let v = meta_from_header(value.as_bytes());
            meta_len += m.len() + v.len();
            a.user_meta.insert(m.to_string(), v);
        }
    }
    if meta_len > 8 * 1024 {
        return Err(OssError::invalid_argument(
            "x-oss-meta-*",
            "",
            "user metadata exceeds 8 KB",
        ));
    }
    if let Some(acl) = object_acl(h)? {
        a.acl = acl;
    }
    if let Some(sc) = either(h, "storage-class") {
        a.storage_class = storage_class(sc)?;
    }
    if let Some(t) = either(h, "tagging") {
        a.tags = parse_tagging(t);
    }
    a.sse = either(h, "server-side-encryption").map(String::from);
    Ok(a)
}

fn parse_date(v: Option<&str>) -> Option<time::OffsetDateTime> {
    let st = httpdate::parse_http_date(v?).ok()?;
    let secs = st.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    time::OffsetDateTime::from_unix_timestamp(secs as i64).ok()
}

/// `If-*` headers of a GET/HEAD.
pub fn preconditions(h: &HeaderMap) -> Preconditions {
    Preconditions {
        if_match: get(h, "if-match").map(String::from),
        if_none_match: get(h, "if-none-match").map(String::from),
        if_modified_since: parse_date(get(h, "if-modified-since")),
        if_unmodified_since: parse_date(get(h, "if-unmodified-since")),
    }
}

/// `x-oss-copy-source-if-*` / `x-amz-copy-source-if-*`.
pub fn copy_preconditions(h: &HeaderMap) -> Preconditions {
    Preconditions {
        if_match: either(h, "copy-source-if-match").map(String::from),
        if_none_match: either(h, "copy-source-if-none-match").map(String::from),
        if_modified_since: parse_date(either(h, "copy-source-if-modified-since")),
        if_unmodified_since: parse_date(either(h, "copy-source-if-unmodified-since")),
    }
}

/// Parses `x-oss-copy-source` (`/bucket/key`, key fully encoded) or `x-amz-copy-source`
/// (`bucket/key`, `/` kept); a `?versionId=` suffix is ignored.
pub fn copy_source(h: &HeaderMap) -> Option<Result<(String, String), OssError>> {
    let raw = either(h, "copy-source")?;
    let raw = raw.split_once("?versionId=").map_or(raw, |(a, _)| a);
    let raw = raw.strip_prefix('/').unwrap_or(raw);
    let Some((b, k)) = raw.split_once('/') else {
        return Some(Err(OssError::invalid_argument(
            "x-oss-copy-source",
            raw,
            "copy source must be /bucket/key",
        )));
    };
    let dec = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    Some(Ok((dec(b), dec(k))))
}

/// Marks a stored metadata value whose header bytes were not UTF-8: the rest holds one char per
/// byte (Latin-1), so the bytes go back out exactly as they came (clients that write
/// `x-amz-meta-k: café` in Latin-1, as Python's http.client does, read the same bytes back).
const RAW_BYTES: char = '\u{FFFF}';

/// A user-metadata value as stored: UTF-8 as it came, other bytes kept one char per byte.
fn meta_from_header(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.trim().to_string(),
        Err(_) => std::iter::once(RAW_BYTES)
            .chain(bytes.trim_ascii().iter().map(|&b| char::from(b)))
            .collect(),
    }
}

/// The header bytes of a stored user-metadata value ([`meta_from_header`] undone).
fn meta_to_header(value: &str) -> Vec<u8> {
    match value.strip_prefix(RAW_BYTES) {
        Some(raw) => raw.chars().map(|c| c as u32 as u8).collect(),
        None => value.as_bytes().to_vec(),
    }
}

/// Sets a header; values are bytes because stored metadata may hold UTF-8.
fn put(h: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_bytes(value.as_bytes()),
    ) {
        h.insert(n, v);
    }
}

pub fn object_headers(h: &mut HeaderMap, m: &ObjectMeta, ctx: &Ctx, q: &Query) {
    put(h, "etag", &ctx.quoted(&m.etag));
    put(h, "last-modified", &super::http_date(m.last_modified));
    put(h, "accept-ranges", "bytes");
    put(h, "content-type", m.attrs.content_type());
    for name in STORED_HEADERS.iter().skip(1) {
        if let Some(v) = m.attrs.headers.get(*name) {
            put(h, name, v);
        }
    }
    let meta_prefix = if ctx.s3 { "x-amz-meta-" } else { "x-oss-meta-" };
    for (k, v) in &m.attrs.user_meta {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(format!("{meta_prefix}{k}").as_bytes()),
            HeaderValue::from_bytes(&meta_to_header(v)),
        ) {
            h.insert(n, v);
        }
    }
    put(h, "x-oss-object-type", m.object_type.as_str());
    put(h, "x-oss-storage-class", &m.attrs.storage_class);
    put(h, "x-oss-hash-crc64ecma", &m.crc64.to_string());
    if let Some(md5) = &m.content_md5 {
        put(h, "content-md5", md5);
    }
    if !m.attrs.tags.is_empty() {
        let n = m.attrs.tags.len().to_string();
        put(
            h,
            if ctx.s3 {
                "x-amz-tagging-count"
            } else {
                "x-oss-tagging-count"
            },
            &n,
        );
    }
    if m.object_type == ObjectType::Appendable {
        put(h, "x-oss-next-append-position", &m.size.to_string());
    }
    if let Some(sse) = &m.attrs.sse {
        put(
            h,
            if ctx.s3 {
                "x-amz-server-side-encryption"
            } else {
                "x-oss-server-side-encryption"
            },
            sse,
        );
    }
    // response-* overrides.
    for (param, name) in [
        ("response-content-type", "content-type"),
        ("response-content-language", "content-language"),
        ("response-expires", "expires"),
        ("response-cache-control", "cache-control"),
        ("response-content-disposition", "content-disposition"),
        ("response-content-encoding", "content-encoding"),
    ] {
        if let Some(v) = q.non_empty(param) {
            put(h, name, v);
        }
    }
}

/// `Content-MD5` of the request, if any.
pub fn content_md5(h: &HeaderMap) -> Option<String> {
    get(h, "content-md5").map(String::from)
}
