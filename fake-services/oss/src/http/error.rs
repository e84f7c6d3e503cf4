//! The one place an [`OssError`] becomes a response: the OSS `<Error>` document (or its S3
//! twin), `x-oss-err` and no body for HEAD, extra elements clients read (`Key`, `BucketName`,
//! `ArgumentName`, `StringToSign`, ...), and `x-oss-next-append-position` on append conflicts.

use axum::body::Body;
use axum::response::Response;
use base64::Engine;
use http::{HeaderValue, StatusCode, header};

use super::Ctx;
use super::xml::XmlWriter;
use crate::OssError;

fn s3_code(e: &OssError) -> &'static str {
    match e {
        OssError::InvalidDigest { computed, .. } if !computed.is_empty() => "BadDigest",
        OssError::ChecksumMismatch { .. } => "BadDigest",
        OssError::BucketAlreadyExists { .. } => "BucketAlreadyOwnedByYou",
        OssError::FileAlreadyExists => "PreconditionFailed",
        e => e.code(),
    }
}

fn s3_status(e: &OssError) -> StatusCode {
    match e {
        OssError::FileAlreadyExists => StatusCode::PRECONDITION_FAILED,
        e => status(e),
    }
}

/// OSS's diagnostic code (`<EC>`, `x-oss-ec`) for the errors whose code is documented; the
/// SDK exposes it as `e.ec`.
fn ec(e: &OssError) -> Option<&'static str> {
    match e {
        OssError::NoSuchKey { .. } => Some("0026-00000001"),
        OssError::FileAlreadyExists => Some("0026-00000002"),
        OssError::SignatureDoesNotMatch { .. } => Some("0002-00000040"),
        _ => None,
    }
}

fn document(e: &OssError, ctx: &Ctx) -> String {
    let code = if ctx.s3 { s3_code(e) } else { e.code() };
    let mut w = XmlWriter::new("Error", false);
    w.elem("Code", code)
        .elem("Message", e.to_string())
        .elem("RequestId", &ctx.request_id)
        .elem("HostId", &ctx.host);
    match e {
        OssError::NoSuchBucket { bucket }
        | OssError::BucketNotEmpty { bucket }
        | OssError::BucketAlreadyExists { bucket }
        | OssError::InvalidBucketName { bucket } => {
            w.elem("BucketName", bucket);
        }
        OssError::NoSuchKey { key } => {
            w.elem("Key", key);
        }
        OssError::NoSuchUpload { upload_id } => {
            w.elem("UploadId", upload_id);
        }
        OssError::InvalidArgument { name, value, .. } => {
            w.elem("ArgumentName", name).elem("ArgumentValue", value);
        }
        OssError::InvalidAccessKeyId { access_key_id } => {
            w.elem("OSSAccessKeyId", access_key_id);
        }
        OssError::SignatureDoesNotMatch {
            access_key_id,
            provided,
            string_to_sign,
        } => {
            let bytes: Vec<String> = string_to_sign.bytes().map(|b| format!("{b:02X}")).collect();
            w.elem("OSSAccessKeyId", access_key_id)
                .elem("SignatureProvided", provided)
                .elem("StringToSign", string_to_sign)
                .elem("StringToSignBytes", bytes.join(" "));
        }
        OssError::InvalidDigest { given, computed } => {
            w.elem("Content-MD5", given);
            if !computed.is_empty() {
                w.elem("CalculatedDigest", computed);
            }
        }
        OssError::InvalidRange { size } => {
            w.elem("ActualObjectSize", size.to_string());
        }
        _ => {}
    }
    if !ctx.s3
        && let Some(code) = ec(e)
    {
        w.elem("EC", code);
    }
    w.finish()
}

/// The answer to a request (described by `ctx`) that failed with `e`.
pub(crate) fn response(e: OssError, ctx: &Ctx) -> Response {
    {
        let this = e;
        let status = if ctx.s3 {
            s3_status(&this)
        } else {
            status(&this)
        };
        let mut builder = Response::builder().status(status);
        if !ctx.s3
            && let Some(code) = ec(&this)
        {
            builder = builder.header("x-oss-ec", code);
        }
        if let OssError::PositionNotEqualToLength { next } = &this {
            builder = builder.header("x-oss-next-append-position", next.to_string());
        }
        if matches!(this, OssError::NotModified) {
            return builder
                .header(header::CONTENT_LENGTH, "0")
                .body(Body::empty())
                .unwrap_or_default();
        }
        let doc = document(&this, ctx);
        if ctx.head {
            let b64 = base64::engine::general_purpose::STANDARD.encode(doc.as_bytes());
            if let Ok(v) = HeaderValue::from_str(&b64) {
                builder = builder.header("x-oss-err", v);
            }
            return builder
                .header(header::CONTENT_LENGTH, "0")
                .body(Body::empty())
                .unwrap_or_default();
        }
        builder
            .header(header::CONTENT_TYPE, "application/xml")
            .body(Body::from(doc))
            .unwrap_or_default()
    }
}

/// The HTTP status of `e` on the OSS face (the S3 face differs for a few).
pub fn status(e: &OssError) -> StatusCode {
    use OssError::*;
    match e {
        NoSuchBucket { .. }
        | NoSuchKey { .. }
        | NoSuchUpload { .. }
        | NoSuchTagSet
        | NoSuchCorsConfiguration => StatusCode::NOT_FOUND,
        BucketAlreadyExists { .. }
        | BucketNotEmpty { .. }
        | FileAlreadyExists
        | PositionNotEqualToLength { .. }
        | ObjectNotAppendable => StatusCode::CONFLICT,
        InvalidRange { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
        PreconditionFailed => StatusCode::PRECONDITION_FAILED,
        NotModified => StatusCode::NOT_MODIFIED,
        NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
        MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        MissingContentLength => StatusCode::LENGTH_REQUIRED,
        AccessDenied(_)
        | CorsForbidden(_)
        | InvalidAccessKeyId { .. }
        | SignatureDoesNotMatch { .. } => StatusCode::FORBIDDEN,
        Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}
