//! Dispatch on method and sub-resource, and one function per operation: parse the wire request,
//! call the domain, encode the wire response. One module per area: [`buckets`] (and the
//! service level), [`listing`], [`objects`], [`multipart`]; the helpers they share are here.

mod buckets;
mod listing;
mod multipart;
mod objects;

use buckets::*;
use listing::*;
use multipart::*;
use objects::*;
pub(super) use objects::{new_object_attrs, tags_from_xml};

use axum::body::Body as AxumBody;
use axum::extract::Request;
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};
use http::{HeaderMap, StatusCode, header};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::headers::{self, attrs_from_headers, either, get};
use super::query::Query;
use super::route::{self, Level, Op, Route, Shape};
use super::xml::{self, XmlWriter};
use super::{Ctx, Target, xml_time};
use crate::conditions::RangeHeader;
use crate::listing::ListParams;
use crate::model::{Bucket, Checksum, ChecksumSlot, ObjectMeta};
use crate::names::{MAX_DELETE_KEYS, MAX_LIST, check_bucket, check_oss_bucket, check_oss_key};
use crate::service::{CopyRequest, MetadataDirective, PutRequest};
use crate::{Body, ObjectEvent, Oss, OssError};

/// Largest XML request body read into memory.
const MAX_XML_BODY: usize = 4 * 1024 * 1024;

/// Percent-encodes everything but unreserved characters and `/` (encoding-type=url).
const URL_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Percent-encodes everything but unreserved characters.
const URL_ENCODE_ALL: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn url_encode(s: &str) -> String {
    utf8_percent_encode(s, URL_ENCODE).to_string()
}

/// Starts a multipart-upload result: `EncodingType` when the request asked for `url`, then
/// `Bucket` and `Key` (URL-encoded in that case).
fn upload_result(root: &'static str, ctx: &Ctx, q: &Query, bucket: &str, key: &str) -> XmlWriter {
    let url = q.get("encoding-type") == Some("url");
    let mut w = XmlWriter::new(root, ctx.s3);
    if url {
        w.elem("EncodingType", "url");
    }
    let key = if url {
        url_encode(key)
    } else {
        key.to_string()
    };
    w.elem("Bucket", bucket).elem("Key", key);
    w
}

/// Response helpers.
fn empty(status: StatusCode) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_LENGTH, "0")
        .body(AxumBody::empty())
        .unwrap_or_default()
}

fn xml_response(doc: String) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "application/xml")
        .body(AxumBody::from(doc))
        .unwrap_or_default()
}

fn with_header(mut r: Response, name: &'static str, value: &str) -> Response {
    if let Ok(v) = http::HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
    r
}

/// The request body as a stream, with aws-chunked framing removed and any S3 checksum checked.
fn body_stream(body: AxumBody, h: &HeaderMap) -> Body {
    checked_body(body, h, &ChecksumSlot::default())
}

/// [`body_stream`], putting the S3 checksum the body matched in `slot` once it has ended.
fn checked_body(body: AxumBody, h: &HeaderMap, slot: &ChecksumSlot) -> Body {
    let raw: Body = body
        .into_data_stream()
        .map_err(|e| OssError::IncompleteBody(e.to_string()))
        .boxed();
    let aws_chunked = get(h, "content-encoding").is_some_and(|v| v.contains("aws-chunked"))
        || get(h, "x-amz-content-sha256").is_some_and(|v| v.starts_with("STREAMING-"));
    let trailers = super::s3checksum::Trailers::default();
    let decoded = if aws_chunked {
        super::chunked::decode_stream(raw, trailers.clone())
    } else {
        raw
    };
    super::s3checksum::verify(decoded, h, &trailers, slot)
}

/// `x-amz-checksum-<algorithm>` and `x-amz-checksum-type` (S3 face only).
fn with_checksum(r: Response, ctx: &Ctx, c: Option<&Checksum>) -> Response {
    match c {
        Some(c) if ctx.s3 => {
            let r = with_header(r, "x-amz-checksum-type", &c.kind);
            let mut r = r;
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(c.header().as_bytes()),
                http::HeaderValue::from_str(&c.value),
            ) {
                r.headers_mut().insert(name, value);
            }
            r
        }
        _ => r,
    }
}

/// `<ChecksumCRC32>…</ChecksumCRC32><ChecksumType>…</ChecksumType>` (S3 face only).
fn checksum_elems(w: &mut XmlWriter, ctx: &Ctx, c: Option<&Checksum>, with_type: bool) {
    if let Some(c) = c.filter(|_| ctx.s3) {
        w.elem(&c.element(), &c.value);
        if with_type {
            w.elem("ChecksumType", &c.kind);
        }
    }
}

async fn read_small(body: AxumBody, h: &HeaderMap) -> Result<Bytes, OssError> {
    let mut s = body_stream(body, h);
    let mut buf = BytesMut::new();
    while let Some(chunk) = s.next().await {
        let chunk = chunk?;
        if buf.len() + chunk.len() > MAX_XML_BODY {
            return Err(OssError::MalformedXml("request body too large".into()));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

fn check_md5_of(bytes: &[u8], h: &HeaderMap) -> Result<(), OssError> {
    if let Some(given) = headers::content_md5(h) {
        let mut d = crate::checksum::Digests::new();
        d.update(bytes);
        let computed = d.finish().content_md5();
        if computed != given {
            return Err(OssError::InvalidDigest { given, computed });
        }
    }
    Ok(())
}

fn parse_max(q: &Query, name: &str, default: usize) -> Result<usize, OssError> {
    match q.non_empty(name) {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n <= MAX_LIST => Ok(n),
            _ => Err(OssError::invalid_argument(
                name,
                v,
                format!("{name} must be an integer between 0 and {MAX_LIST}"),
            )),
        },
    }
}

fn parse_part_number(q: &Query) -> Result<u32, OssError> {
    let v = q.get("partNumber").unwrap_or("");
    v.parse::<u32>().map_err(|_| {
        OssError::invalid_argument(
            "partNumber",
            v,
            "partNumber must be an integer between 1 and 10000",
        )
    })
}

pub(crate) async fn handle(
    oss: &Oss,
    ctx: &Ctx,
    req: Request,
    q: Query,
    t: Target,
) -> Result<Response, OssError> {
    let level = match (&t.bucket, t.key.is_empty()) {
        (None, _) => Level::Service,
        (Some(_), true) => Level::Bucket,
        (Some(_), false) => Level::Object,
    };
    let shape = Shape {
        copy_source: either(req.headers(), "copy-source").is_some(),
        form: get(req.headers(), "content-type")
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data")),
    };
    let op = match route::route(req.method(), level, &q, shape) {
        Route::Op(op) => op,
        Route::NotImplemented(what) => return Err(OssError::NotImplemented(what)),
        Route::MethodNotAllowed => return Err(OssError::MethodNotAllowed),
        Route::MissingParameter(needed, given) => {
            return Err(OssError::invalid_argument(
                needed,
                "",
                format!("{given} needs {needed}"),
            ));
        }
    };
    if t.undecodable {
        return Err(OssError::InvalidUri);
    }
    let bucket = t.bucket.unwrap_or_default();
    // S3 allows dots in bucket names and a leading `\` in keys; OSS does not.
    if !ctx.s3 && level != Level::Service {
        check_oss_bucket(&bucket)?;
        if level == Level::Object {
            check_oss_key(&t.key)?;
        }
    }
    match level {
        Level::Service => list_buckets(oss, ctx, &q).await,
        Level::Bucket => bucket_op(oss, ctx, op, req, &q, &bucket).await,
        Level::Object => {
            check_bucket(&bucket)?;
            object_op(oss, ctx, op, req, &q, &bucket, &t.key).await
        }
    }
}
