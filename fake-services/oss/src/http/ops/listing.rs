//! Listings: objects (v1 and v2, with delimiters and encoding), object versions of an
//! unversioned bucket, multipart uploads.

use super::*;

pub(super) fn contents(
    w: &mut XmlWriter,
    oss: &Oss,
    ctx: &Ctx,
    m: &ObjectMeta,
    enc: &dyn Fn(&str) -> String,
    with_owner: bool,
) {
    w.open("Contents")
        .elem("Key", enc(&m.key))
        .elem("LastModified", xml_time(m.last_modified))
        .elem("ETag", ctx.quoted(&m.etag))
        .elem("Type", m.object_type.as_str())
        .elem("Size", m.size.to_string())
        .elem("StorageClass", &m.attrs.storage_class);
    if with_owner {
        owner(w, oss);
    }
    w.close();
}

pub(super) async fn list_objects(
    oss: &Oss,
    ctx: &Ctx,
    q: &Query,
    bucket: &str,
    v2: bool,
) -> Result<Response, OssError> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let prefix = q.non_empty("prefix").unwrap_or("").to_string();
    let delimiter = q.non_empty("delimiter").unwrap_or("").to_string();
    let max = parse_max(q, "max-keys", if ctx.s3 { 1000 } else { 100 })?;
    let url = match q.non_empty("encoding-type") {
        None => false,
        Some("url") => true,
        Some(v) => {
            return Err(OssError::invalid_argument(
                "encoding-type",
                v,
                "encoding-type must be url",
            ));
        }
    };
    let enc = |s: &str| if url { url_encode(s) } else { s.to_string() };
    let token = q.non_empty("continuation-token");
    let start_after = if v2 {
        match token {
            Some(t) => Some(
                b64.decode(t)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| {
                        OssError::invalid_argument(
                            "continuation-token",
                            t,
                            "invalid continuation token",
                        )
                    })?,
            ),
            None => q.non_empty("start-after").map(String::from),
        }
    } else {
        q.non_empty("marker").map(String::from)
    };
    let page = oss
        .list_objects(
            bucket,
            ListParams {
                prefix: prefix.clone(),
                delimiter: delimiter.clone(),
                start_after: start_after.clone(),
                max,
            },
        )
        .await?;
    // S3 differs in small ways the AWS SDKs rely on: v1 leaves the top-level Prefix unencoded
    // (botocore decodes only Delimiter, Marker and NextMarker there), no Delimiter element
    // without a delimiter, an empty ContinuationToken echoed, and max-keys=0 is not truncated.
    let truncated = page.truncated && !(ctx.s3 && max == 0);
    let mut w = XmlWriter::new("ListBucketResult", ctx.s3);
    w.elem("Name", bucket);
    if ctx.s3 && !v2 {
        w.elem("Prefix", &prefix);
    } else {
        w.elem("Prefix", enc(&prefix));
    }
    if v2 {
        if let Some(sa) = q.non_empty("start-after") {
            w.elem("StartAfter", enc(sa));
        }
        if let Some(t) = q.get("continuation-token") {
            w.elem("ContinuationToken", t);
        }
    } else {
        w.elem("Marker", enc(q.non_empty("marker").unwrap_or("")));
    }
    w.elem("MaxKeys", max.to_string());
    if !ctx.s3 || !delimiter.is_empty() {
        w.elem("Delimiter", enc(&delimiter));
    }
    if url {
        w.elem("EncodingType", "url");
    }
    w.elem("IsTruncated", truncated.to_string());
    if truncated && let Some(last) = &page.last {
        if v2 {
            w.elem("NextContinuationToken", b64.encode(last.as_bytes()));
        } else {
            w.elem("NextMarker", enc(last));
        }
    }
    if v2 {
        w.elem(
            "KeyCount",
            (page.contents.len() + page.common_prefixes.len()).to_string(),
        );
    }
    let with_owner = !v2 || q.get("fetch-owner") == Some("true");
    for m in &page.contents {
        contents(&mut w, oss, ctx, m, &enc, with_owner);
    }
    for p in &page.common_prefixes {
        w.open("CommonPrefixes").elem("Prefix", enc(p)).close();
    }
    Ok(xml_response(w.finish()))
}

/// ListObjectVersions on a bucket without versioning: every object once, as its only (and
/// latest) version, with VersionId `null`; paged by `key-marker`.
pub(super) async fn list_versions(
    oss: &Oss,
    ctx: &Ctx,
    q: &Query,
    bucket: &str,
) -> Result<Response, OssError> {
    let prefix = q.non_empty("prefix").unwrap_or("").to_string();
    let delimiter = q.non_empty("delimiter").unwrap_or("").to_string();
    let key_marker = q.non_empty("key-marker").unwrap_or("").to_string();
    let max = parse_max(q, "max-keys", if ctx.s3 { 1000 } else { 100 })?;
    let url = q.get("encoding-type") == Some("url");
    let enc = |s: &str| if url { url_encode(s) } else { s.to_string() };
    let page = oss
        .list_objects(
            bucket,
            ListParams {
                prefix: prefix.clone(),
                delimiter: delimiter.clone(),
                start_after: (!key_marker.is_empty()).then(|| key_marker.clone()),
                max,
            },
        )
        .await?;
    let mut w = XmlWriter::new("ListVersionsResult", ctx.s3);
    w.elem("Name", bucket)
        .elem("Prefix", enc(&prefix))
        .elem("KeyMarker", enc(&key_marker))
        .elem(
            "VersionIdMarker",
            q.non_empty("version-id-marker").unwrap_or(""),
        )
        .elem("MaxKeys", max.to_string())
        .elem("Delimiter", enc(&delimiter));
    if url {
        w.elem("EncodingType", "url");
    }
    w.elem("IsTruncated", page.truncated.to_string());
    if page.truncated
        && let Some(last) = &page.last
    {
        w.elem("NextKeyMarker", enc(last))
            .elem("NextVersionIdMarker", "null");
    }
    for m in &page.contents {
        w.open("Version")
            .elem("Key", enc(&m.key))
            .elem("VersionId", "null")
            .elem("IsLatest", "true")
            .elem("LastModified", xml_time(m.last_modified))
            .elem("ETag", ctx.quoted(&m.etag))
            .elem("Type", m.object_type.as_str())
            .elem("Size", m.size.to_string())
            .elem("StorageClass", &m.attrs.storage_class);
        owner(&mut w, oss);
        w.close();
    }
    for p in &page.common_prefixes {
        w.open("CommonPrefixes").elem("Prefix", enc(p)).close();
    }
    Ok(xml_response(w.finish()))
}

pub(super) async fn list_uploads(
    oss: &Oss,
    ctx: &Ctx,
    q: &Query,
    bucket: &str,
) -> Result<Response, OssError> {
    let prefix = q.non_empty("prefix").unwrap_or("");
    let delimiter = q.non_empty("delimiter").unwrap_or("");
    let key_marker = q.non_empty("key-marker").unwrap_or("");
    let id_marker = q.non_empty("upload-id-marker").unwrap_or("");
    let max = parse_max(q, "max-uploads", 1000)?;
    let url = q.get("encoding-type") == Some("url");
    let enc = |s: &str| if url { url_encode(s) } else { s.to_string() };
    let page = oss
        .list_uploads(bucket, prefix, delimiter, key_marker, id_marker, max)
        .await?;
    let (uploads, prefixes, truncated) = (&page.uploads, &page.prefixes, page.truncated);
    let mut w = XmlWriter::new("ListMultipartUploadsResult", ctx.s3);
    w.elem("Bucket", bucket);
    if url {
        w.elem("EncodingType", "url");
    }
    let (next_key, next_id) = page.next.clone();
    w.elem("KeyMarker", enc(key_marker))
        .elem("UploadIdMarker", id_marker)
        .elem("NextKeyMarker", enc(&next_key))
        .elem("NextUploadIdMarker", next_id)
        .elem("Delimiter", enc(delimiter))
        .elem("Prefix", enc(prefix))
        .elem("MaxUploads", max.to_string())
        .elem("IsTruncated", truncated.to_string());
    let id = &oss.config().ctx.account_id;
    for u in uploads {
        w.open("Upload")
            .elem("Key", enc(&u.key))
            .elem("UploadId", &u.upload_id)
            .elem("StorageClass", &u.attrs.storage_class)
            .elem("Initiated", xml_time(u.initiated));
        w.open("Initiator")
            .elem("ID", id)
            .elem("DisplayName", id)
            .close();
        owner(&mut w, oss);
        w.close();
    }
    for p in prefixes {
        w.open("CommonPrefixes").elem("Prefix", enc(p)).close();
    }
    Ok(xml_response(w.finish()))
}
