//! PostObject: an HTML form upload (`multipart/form-data`) to a bucket. Text fields come first
//! and are kept (each at most 4 KB); the `file` field must be last and is streamed to disk.

use std::collections::BTreeMap;

use axum::body::Body as AxumBody;
use axum::extract::Request;
use axum::response::Response;
use base64::Engine;
use futures::{StreamExt, TryStreamExt};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};

use super::Ctx;
use super::headers::forbid_overwrite;
use super::xml::XmlWriter;
use crate::service::PutRequest;
use crate::{Body, ObjectEvent, Oss, OssError};

const MAX_FIELD: usize = 4 * 1024;

fn invalid(msg: impl Into<String>) -> OssError {
    OssError::InvalidPostRequest(msg.into())
}

/// What a policy document allows, as far as fcemu checks it.
#[derive(Debug, Default)]
struct Policy {
    length_range: Option<(u64, u64)>,
}

/// Form fields a policy need not name (the signature's own, the file, `x-ignore-*`).
fn exempt(field: &str) -> bool {
    matches!(
        field,
        "policy"
            | "signature"
            | "x-amz-signature"
            | "awsaccesskeyid"
            | "file"
            | "x-amz-security-token"
    ) || field.starts_with("x-ignore-")
}

/// An S3 form's policy conditions: `{"field": "value"}`, `["eq", "$field", "value"]`,
/// `["starts-with", "$field", "prefix"]` and `["content-length-range", min, max]` (both
/// bounds); every form field must be named by one. A failed condition is 403 AccessDenied as S3
/// words it; a malformed one 400 InvalidPolicyDocument.
fn check_s3_conditions(
    conditions: &[serde_json::Value],
    fields: &BTreeMap<String, String>,
    bucket: &str,
    policy: &mut Policy,
) -> Result<(), OssError> {
    let value_of = |name: &str| -> Option<String> {
        if name == "bucket" {
            return Some(bucket.to_string());
        }
        fields.get(name).cloned()
    };
    let failed = |c: &serde_json::Value| {
        OssError::AccessDenied(format!(
            "Invalid according to Policy: Policy Condition failed: {c}"
        ))
    };
    let bad = |why: &str| OssError::InvalidPolicyDocument(format!("Invalid Policy: {why}"));
    let mut named: Vec<String> = Vec::new();
    for c in conditions {
        match c {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let k = k.to_ascii_lowercase();
                    let want = v
                        .as_str()
                        .ok_or_else(|| bad("condition values must be strings"))?;
                    if value_of(&k).as_deref() != Some(want) {
                        return Err(failed(c));
                    }
                    named.push(k);
                }
            }
            serde_json::Value::Array(a) => {
                let op = a.first().and_then(|v| v.as_str()).unwrap_or("");
                match op.to_ascii_lowercase().as_str() {
                    "content-length-range" => {
                        let (Some(lo), Some(hi)) = (
                            a.get(1).and_then(|v| v.as_u64()),
                            a.get(2).and_then(|v| v.as_u64()),
                        ) else {
                            return Err(bad(
                                "content-length-range needs a minimum and a maximum (non-negative integers)",
                            ));
                        };
                        policy.length_range = Some((lo, hi));
                    }
                    "eq" | "starts-with" => {
                        let (Some(field), Some(want)) = (
                            a.get(1).and_then(|v| v.as_str()),
                            a.get(2).and_then(|v| v.as_str()),
                        ) else {
                            return Err(bad(&format!("{op} needs a $field and a value")));
                        };
                        let field = field
                            .strip_prefix('$')
                            .ok_or_else(|| bad(&format!("{op} names a field as $name")))?
                            .to_ascii_lowercase();
                        let have = value_of(&field).unwrap_or_default();
                        let ok = if op.eq_ignore_ascii_case("eq") {
                            have == want
                        } else {
                            have.starts_with(want)
                        };
                        if !ok {
                            return Err(failed(c));
                        }
                        named.push(field);
                    }
                    _ => return Err(bad(&format!("unknown condition {c}"))),
                }
            }
            _ => return Err(bad("a condition is an object or a list")),
        }
    }
    if let Some(extra) = fields
        .keys()
        .find(|f| !exempt(f) && !named.iter().any(|n| n == *f))
    {
        return Err(OssError::AccessDenied(format!(
            "Invalid according to Policy: Extra input fields: {extra}"
        )));
    }
    Ok(())
}

/// Whether a form is an S3 one (it carries S3's signature fields).
fn is_s3_form(ctx: &Ctx, fields: &BTreeMap<String, String>) -> bool {
    ctx.s3
        || fields.contains_key("awsaccesskeyid")
        || fields.contains_key("x-amz-credential")
        || fields.contains_key("x-amz-algorithm")
}

fn check_policy(
    oss: &Oss,
    ctx: &Ctx,
    bucket: &str,
    fields: &BTreeMap<String, String>,
) -> Result<Policy, OssError> {
    let Some(policy_b64) = fields.get("policy") else {
        if let Some(creds) = &oss.config().strict_credentials() {
            let _ = creds;
            return Err(OssError::AccessDenied(
                "Anonymous form uploads are not allowed: policy and signature are required.".into(),
            ));
        }
        return Ok(Policy::default());
    };
    let s3 = is_s3_form(ctx, fields);
    let raw = base64::engine::general_purpose::STANDARD
        .decode(policy_b64.trim())
        .map_err(|_| invalid("The policy field is not valid base64."))?;
    let doc: serde_json::Value = serde_json::from_slice(&raw)
        .map_err(|_| invalid("The policy document is not valid JSON."))?;
    let mut policy = Policy::default();
    match doc.get("expiration").and_then(|v| v.as_str()) {
        Some(exp) => {
            let t =
                time::OffsetDateTime::parse(exp, &time::format_description::well_known::Rfc3339)
                    .map_err(|_| invalid("The policy expiration is not an ISO 8601 time."))?;
            if t < oss.config().ctx.clock.now() {
                return Err(OssError::AccessDenied(
                    "Invalid according to Policy: Policy expired.".into(),
                ));
            }
        }
        None if s3 => {
            return Err(OssError::InvalidPolicyDocument(
                "Invalid Policy: Policy missing expiration.".into(),
            ));
        }
        None => {}
    }
    let conditions = doc
        .get("conditions")
        .and_then(|c| c.as_array())
        .ok_or_else(|| invalid("The policy document has no conditions."))?;
    if s3 {
        check_s3_conditions(conditions, fields, bucket, &mut policy)?;
    } else {
        for c in conditions {
            if let Some(arr) = c.as_array()
                && arr.first().and_then(|v| v.as_str()) == Some("content-length-range")
            {
                let lo = arr.get(1).and_then(|v| v.as_u64()).unwrap_or(0);
                let hi = arr.get(2).and_then(|v| v.as_u64()).unwrap_or(u64::MAX);
                policy.length_range = Some((lo, hi));
            }
        }
    }
    if let Some(creds) = &oss.config().strict_credentials() {
        super::auth::verify_post_policy(creds, policy_b64, fields)?;
    }
    Ok(policy)
}

/// Handles a form upload to `bucket`.
pub(crate) async fn post_object(
    oss: &Oss,
    ctx: &Ctx,
    req: Request,
    bucket: &str,
) -> Result<Response, OssError> {
    let ct = super::headers::get(req.headers(), "content-type")
        .unwrap_or("")
        .to_string();
    let boundary = multer::parse_boundary(&ct).map_err(|_| invalid("The form has no boundary."))?;
    let stream = req.into_body().into_data_stream();
    let mut form = multer::Multipart::new(stream, boundary);
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    let mut file: Option<(multer::Field<'static>, Option<String>, Option<String>)> = None;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| invalid(format!("Malformed form: {e}")))?
    {
        let name = field.name().unwrap_or("").to_ascii_lowercase();
        if name == "file" {
            let fname = field.file_name().map(String::from);
            let fct = field
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(String::from);
            file = Some((field, fname, fct));
            break;
        }
        let mut field = field;
        let mut value = Vec::new();
        while let Some(chunk) = field
            .chunk()
            .await
            .map_err(|e| invalid(format!("Malformed form: {e}")))?
        {
            value.extend_from_slice(&chunk);
            if value.len() > MAX_FIELD {
                return Err(OssError::FieldItemTooLong);
            }
        }
        fields.insert(name, String::from_utf8_lossy(&value).into_owned());
    }
    let Some((file, file_name, file_ct)) = file else {
        return Err(OssError::IncorrectNumberOfFilesInPostRequest);
    };
    let policy = check_policy(oss, ctx, bucket, &fields)?;
    let key_template = fields
        .get("key")
        .ok_or_else(|| invalid("The form has no key field."))?;
    let key = key_template.replace("${filename}", file_name.as_deref().unwrap_or(""));

    let mut h = HeaderMap::new();
    for (k, v) in &fields {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            h.insert(n, v);
        }
    }
    let content_type = fields
        .get("x-oss-content-type")
        .or_else(|| fields.get("content-type"))
        .cloned()
        .or(file_ct);
    if let Some(ct) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.insert(header::CONTENT_TYPE, ct);
    }
    let mut attrs = super::ops::new_object_attrs(oss, bucket, &h).await?;
    // S3's `tagging` field: a `<Tagging>` document.
    if let Some(doc) = fields.get("tagging").filter(|d| !d.trim().is_empty()) {
        attrs.tags =
            super::ops::tags_from_xml(doc.as_bytes(), crate::names::MAX_TAGS, "An object")?;
    }
    let put = PutRequest {
        bucket: bucket.into(),
        key: key.clone(),
        attrs,
        content_md5: fields.get("content-md5").cloned(),
        forbid_overwrite: forbid_overwrite(&h, ctx.s3)?,
        if_match: None,
        checksum: crate::model::ChecksumSlot::default(),
    };
    let (lo, hi) = policy.length_range.unwrap_or((0, u64::MAX));
    let mut seen = 0u64;
    let body: Body = file
        .map_err(|e| invalid(format!("Malformed form: {e}")))
        .map(move |chunk| {
            let chunk = chunk?;
            seen += chunk.len() as u64;
            if seen > hi {
                return Err(OssError::EntityTooLarge);
            }
            Ok(chunk)
        })
        .boxed();
    let m = oss
        .put_object(put, body, ObjectEvent::PostObject, &ctx.info())
        .await?;
    if m.size < lo {
        let _ = oss.delete_object(bucket, &key, &ctx.info()).await;
        return Err(OssError::EntityTooSmall);
    }

    let etag = ctx.quoted(&m.etag);
    let mut builder = Response::builder()
        .header(header::ETAG, &etag)
        .header("x-oss-hash-crc64ecma", m.crc64.to_string());
    if let Some(redirect) = fields
        .get("success_action_redirect")
        .filter(|r| !r.is_empty())
    {
        let sep = if redirect.contains('?') { '&' } else { '?' };
        let enc = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        let loc = format!(
            "{redirect}{sep}bucket={}&key={}&etag={}",
            enc(bucket),
            enc(&key),
            enc(&etag)
        );
        return builder
            .status(StatusCode::SEE_OTHER)
            .header(header::LOCATION, loc)
            .header(header::CONTENT_LENGTH, "0")
            .body(AxumBody::empty())
            .map_err(|e| OssError::Internal(e.to_string()));
    }
    let status = fields
        .get("success_action_status")
        .map(String::as_str)
        .unwrap_or("204");
    let resp = match status {
        "200" => builder
            .status(StatusCode::OK)
            .header(header::CONTENT_LENGTH, "0")
            .body(AxumBody::empty()),
        "201" => {
            let mut w = XmlWriter::new("PostResponse", ctx.s3);
            let host = if ctx.host.is_empty() {
                "localhost"
            } else {
                ctx.host.as_str()
            };
            w.elem("Bucket", bucket)
                .elem("ETag", &etag)
                .elem("Key", &key)
                .elem("Location", format!("http://{host}/{bucket}/{key}"));
            builder = builder.header(header::CONTENT_TYPE, "application/xml");
            builder
                .status(StatusCode::CREATED)
                .body(AxumBody::from(w.finish()))
        }
        _ => builder
            .status(StatusCode::NO_CONTENT)
            .header(header::CONTENT_LENGTH, "0")
            .body(AxumBody::empty()),
    };
    resp.map_err(|e| OssError::Internal(e.to_string()))
}
