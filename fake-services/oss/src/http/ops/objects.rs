//! The object level: put, append, get/head (ranges, parts, conditions), attributes, copy,
//! ACL, tagging, symlinks.

use super::*;

pub(super) async fn object_op(
    oss: &Oss,
    ctx: &Ctx,
    op: Op,
    req: Request,
    q: &Query,
    bucket: &str,
    key: &str,
) -> Result<Response, OssError> {
    match op {
        Op::PutObjectAcl => {
            let acl = headers::object_acl(req.headers())?.ok_or_else(|| {
                OssError::invalid_argument("x-oss-object-acl", "", "x-oss-object-acl is required")
            })?;
            oss.update_object_attrs(bucket, key, move |a| {
                a.acl = acl;
                Ok(())
            })
            .await?;
            Ok(empty(StatusCode::OK))
        }
        Op::PutObjectTagging => put_tagging(oss, req, bucket, key).await,
        Op::PutSymlink => put_symlink(oss, ctx, req, bucket, key).await,
        Op::UploadPartCopy => upload_part_copy(oss, ctx, req, q, bucket, key).await,
        Op::UploadPart => upload_part(oss, ctx, req, q, bucket, key).await,
        Op::CopyObject => copy_object(oss, ctx, req, bucket, key).await,
        Op::PutObject => put_object(oss, ctx, req, bucket, key).await,
        Op::GetObjectAcl => {
            let m = oss.object_meta(bucket, key).await?;
            Ok(xml_response(acl_doc(oss, ctx, &m.attrs.acl)))
        }
        Op::GetObjectTagging => {
            let m = oss.object_meta(bucket, key).await?;
            Ok(xml_response(tagging_doc(ctx, &m.attrs.tags)))
        }
        Op::GetSymlink => {
            let m = oss.get_symlink(bucket, key).await?;
            let target = m.symlink_target.as_deref().unwrap_or("");
            let mut r = empty(StatusCode::OK);
            let h = r.headers_mut();
            for (n, v) in [
                (
                    "x-oss-symlink-target",
                    utf8_percent_encode(target, URL_ENCODE_ALL).to_string(),
                ),
                ("etag", ctx.quoted(&m.etag)),
                ("last-modified", crate::http::http_date(m.last_modified)),
            ] {
                if let Ok(v) = http::HeaderValue::from_str(&v) {
                    h.insert(n, v);
                }
            }
            Ok(r)
        }
        Op::ListParts => list_parts(oss, ctx, q, bucket, key).await,
        Op::GetObjectAttributes => {
            let asked = get(req.headers(), "x-amz-object-attributes")
                .unwrap_or("")
                .to_string();
            object_attributes(oss, ctx, &asked, bucket, key).await
        }
        Op::GetObjectMeta => {
            let m = oss.head_object(bucket, key).await?;
            let mut r = empty(StatusCode::OK);
            let h = r.headers_mut();
            for (n, v) in [
                ("etag", ctx.quoted(&m.etag)),
                ("content-length", m.size.to_string()),
                ("last-modified", crate::http::http_date(m.last_modified)),
                ("x-oss-hash-crc64ecma", m.crc64.to_string()),
            ] {
                if let Ok(v) = http::HeaderValue::from_str(&v) {
                    h.insert(n, v);
                }
            }
            Ok(r)
        }
        Op::GetObject => get_object(oss, ctx, req, q, bucket, key).await,
        Op::AbortUpload => {
            oss.abort_upload(bucket, key, q.get("uploadId").unwrap_or(""))
                .await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        Op::DeleteObjectTagging => {
            oss.update_object_attrs(bucket, key, |a| {
                a.tags.clear();
                Ok(())
            })
            .await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        Op::DeleteObject => {
            oss.delete_object(bucket, key, &ctx.info()).await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        Op::InitiateUpload => {
            let attrs = new_object_attrs(oss, bucket, req.headers()).await?;
            let u = oss.initiate_upload(bucket, key, attrs).await?;
            let mut w = upload_result("InitiateMultipartUploadResult", ctx, q, bucket, key);
            w.elem("UploadId", &u.upload_id);
            Ok(xml_response(w.finish()))
        }
        Op::CompleteUpload => complete_upload(oss, ctx, req, q, bucket, key).await,
        Op::AppendObject => append_object(oss, ctx, req, q, bucket, key).await,
        _ => Err(OssError::MethodNotAllowed),
    }
}

pub(super) fn written_headers(
    mut r: Response,
    ctx: &Ctx,
    m: &ObjectMeta,
    with_md5: bool,
) -> Response {
    let h = r.headers_mut();
    let mut set = |n: &'static str, v: String| {
        if let Ok(v) = http::HeaderValue::from_str(&v) {
            h.insert(n, v);
        }
    };
    set("etag", ctx.quoted(&m.etag));
    set("x-oss-hash-crc64ecma", m.crc64.to_string());
    if with_md5 && let Some(md5) = &m.content_md5 {
        set("content-md5", md5.clone());
    }
    r
}

pub(super) async fn put_object(
    oss: &Oss,
    ctx: &Ctx,
    req: Request,
    bucket: &str,
    key: &str,
) -> Result<Response, OssError> {
    let attrs = new_object_attrs(oss, bucket, req.headers()).await?;
    let forbid = headers::forbid_overwrite(req.headers(), ctx.s3)?;
    let (parts, body) = req.into_parts();
    let put = PutRequest {
        bucket: bucket.into(),
        key: key.into(),
        attrs,
        content_md5: headers::content_md5(&parts.headers),
        forbid_overwrite: forbid,
        if_match: if ctx.s3 {
            get(&parts.headers, "if-match").map(String::from)
        } else {
            None
        },
        checksum: ChecksumSlot::default(),
    };
    let body = checked_body(body, &parts.headers, &put.checksum);
    let m = oss
        .put_object(put, body, ObjectEvent::PutObject, &ctx.info())
        .await?;
    let r = written_headers(empty(StatusCode::OK), ctx, &m, true);
    Ok(with_checksum(r, ctx, m.attrs.checksum.as_ref()))
}

pub(super) async fn append_object(
    oss: &Oss,
    ctx: &Ctx,
    req: Request,
    q: &Query,
    bucket: &str,
    key: &str,
) -> Result<Response, OssError> {
    let pos_raw = q.get("position").unwrap_or("");
    let position: u64 = pos_raw.parse().map_err(|_| {
        OssError::invalid_argument(
            "position",
            pos_raw,
            "position must be a non-negative integer",
        )
    })?;
    let attrs = new_object_attrs(oss, bucket, req.headers()).await?;
    let (parts, body) = req.into_parts();
    let put = PutRequest {
        bucket: bucket.into(),
        key: key.into(),
        attrs,
        content_md5: headers::content_md5(&parts.headers),
        forbid_overwrite: false,
        if_match: None,
        checksum: ChecksumSlot::default(),
    };
    let m = oss
        .append_object(
            put,
            position,
            body_stream(body, &parts.headers),
            &ctx.info(),
        )
        .await?;
    let r = written_headers(empty(StatusCode::OK), ctx, &m, false);
    Ok(with_header(
        r,
        "x-oss-next-append-position",
        &m.size.to_string(),
    ))
}

pub(super) async fn get_object(
    oss: &Oss,
    ctx: &Ctx,
    req: Request,
    q: &Query,
    bucket: &str,
    key: &str,
) -> Result<Response, OssError> {
    if q.has("x-oss-process") {
        return Err(OssError::NotImplemented(
            "Image processing (x-oss-process)".into(),
        ));
    }
    let h = req.headers();
    let conds = headers::preconditions(h);
    let obj = oss.open_object(bucket, key).await?;
    if let Err(e) = conds.check(&obj.meta) {
        if !matches!(e, OssError::NotModified) {
            return Err(e);
        }
        // 304 keeps the validators, so a cache can refresh what it holds.
        let mut r = crate::http::error::response(e, ctx);
        let h = r.headers_mut();
        for (name, value) in [
            ("etag", ctx.quoted(&obj.meta.etag)),
            (
                "last-modified",
                crate::http::http_date(obj.meta.last_modified),
            ),
        ] {
            if let Ok(v) = http::HeaderValue::from_str(&value) {
                h.insert(name, v);
            }
        }
        return Ok(r);
    }
    let size = obj.meta.size;
    let standard = ctx.s3 || get(h, "x-oss-range-behavior") == Some("standard");
    // S3 `?partNumber=N`: that part of a multipart object (the whole of any other as part 1).
    let part = match q.get("partNumber").filter(|_| ctx.s3) {
        Some(_) if get(h, "range").is_some() => {
            return Err(OssError::InvalidRequest(
                "Cannot specify both Range header and partNumber query parameter".into(),
            ));
        }
        Some(_) => Some(parse_part_number(q)?),
        None => None,
    };
    let range = match (part, get(h, "range")) {
        (Some(n), _) => obj.part_range(n)?,
        (None, Some(r)) => RangeHeader::parse(r).resolve(size, standard)?,
        (None, None) => None,
    };
    let mut builder = Response::builder();
    let headers_mut = builder.headers_mut().expect("fresh builder");
    headers::object_headers(headers_mut, &obj.meta, ctx, q);
    if part.is_some()
        && let Some(count) = obj.parts_count()
    {
        builder = builder.header("x-amz-mp-parts-count", count.to_string());
    }
    // The stored checksum covers the whole content: sent for whole reads that ask for it.
    if ctx.s3
        && range.is_none()
        && get(h, "x-amz-checksum-mode").is_some_and(|m| m.eq_ignore_ascii_case("enabled"))
        && let Some(c) = &obj.meta.attrs.checksum
    {
        builder = builder
            .header(c.header(), &c.value)
            .header("x-amz-checksum-type", &c.kind);
    }
    let len = match range {
        Some((a, b)) => {
            builder = builder
                .status(StatusCode::PARTIAL_CONTENT)
                .header(header::CONTENT_RANGE, format!("bytes {a}-{b}/{size}"));
            b - a + 1
        }
        None => size,
    };
    builder = builder.header(header::CONTENT_LENGTH, len.to_string());
    let body = if ctx.head {
        AxumBody::empty()
    } else {
        AxumBody::from_stream(obj.into_body(range))
    };
    builder
        .body(body)
        .map_err(|e| OssError::Internal(format!("building response: {e}")))
}

/// GetObjectAttributes (S3 `?attributes`): the attributes named in `x-amz-object-attributes`.
pub(super) async fn object_attributes(
    oss: &Oss,
    ctx: &Ctx,
    asked: &str,
    bucket: &str,
    key: &str,
) -> Result<Response, OssError> {
    let asked: Vec<String> = asked
        .split(',')
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect();
    if asked.is_empty() {
        return Err(OssError::invalid_argument(
            "x-amz-object-attributes",
            "",
            "x-amz-object-attributes names the attributes to return (ETag, ObjectParts, StorageClass, ObjectSize, Checksum)",
        ));
    }
    let m = oss.head_object(bucket, key).await?;
    let mut w = XmlWriter::new("GetObjectAttributesResponse", ctx.s3);
    for a in &asked {
        match a.as_str() {
            "ETag" => {
                w.elem("ETag", ctx.quoted(&m.etag).trim_matches('"'));
            }
            "StorageClass" => {
                w.elem("StorageClass", &m.attrs.storage_class);
            }
            "ObjectSize" => {
                w.elem("ObjectSize", m.size.to_string());
            }
            // A multipart object's ETag ends in `-<parts>`.
            "ObjectParts" => {
                if let Some((_, n)) = m.etag.rsplit_once('-')
                    && n.parse::<u32>().is_ok()
                {
                    w.open("ObjectParts").elem("PartsCount", n).close();
                }
            }
            "Checksum" => {
                if let Some(c) = m.attrs.checksum.as_ref().filter(|_| ctx.s3) {
                    w.open("Checksum");
                    checksum_elems(&mut w, ctx, Some(c), true);
                    w.close();
                }
            }
            other => {
                return Err(OssError::invalid_argument(
                    "x-amz-object-attributes",
                    other,
                    format!(
                        "{other} is not an object attribute (ETag, ObjectParts, StorageClass, ObjectSize, Checksum)"
                    ),
                ));
            }
        }
    }
    Ok(with_header(
        xml_response(w.finish()),
        "last-modified",
        &crate::http::http_date(m.last_modified),
    ))
}

pub(super) async fn copy_object(
    oss: &Oss,
    ctx: &Ctx,
    req: Request,
    bucket: &str,
    key: &str,
) -> Result<Response, OssError> {
    let h = req.headers();
    let (src_bucket, src_key) =
        headers::copy_source(h).unwrap_or(Err(OssError::InvalidObjectName))?;
    let directive = match either(h, "metadata-directive") {
        None => MetadataDirective::Copy,
        Some(v) if v.eq_ignore_ascii_case("COPY") => MetadataDirective::Copy,
        Some(v) if v.eq_ignore_ascii_case("REPLACE") => {
            MetadataDirective::Replace(Box::new(attrs_from_headers(h)?))
        }
        Some(v) => {
            return Err(OssError::invalid_argument(
                "x-oss-metadata-directive",
                v,
                "metadata directive must be COPY or REPLACE",
            ));
        }
    };
    let tags = match either(h, "tagging-directive") {
        Some(v) if v.eq_ignore_ascii_case("replace") => Some(
            either(h, "tagging")
                .map(headers::parse_tagging)
                .unwrap_or_default(),
        ),
        _ => None,
    };
    if ctx.s3
        && src_bucket == bucket
        && src_key == key
        && matches!(directive, MetadataDirective::Copy)
        && tags.is_none()
        && either(h, "storage-class").is_none()
    {
        return Err(OssError::InvalidRequest(
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.".into(),
        ));
    }
    let creq = CopyRequest {
        src_bucket,
        src_key,
        bucket: bucket.into(),
        key: key.into(),
        directive,
        tags,
        acl: headers::object_acl(h)?,
        source_conditions: headers::copy_preconditions(h),
        forbid_overwrite: headers::forbid_overwrite(h, ctx.s3)?,
    };
    // A failed copy-source condition is 412 whichever it is (If-None-Match included).
    let m = oss
        .copy_object(creq, &ctx.info())
        .await
        .map_err(|e| match e {
            OssError::NotModified => OssError::PreconditionFailed,
            e => e,
        })?;
    let mut w = XmlWriter::new("CopyObjectResult", ctx.s3);
    w.elem("ETag", ctx.quoted(&m.etag))
        .elem("LastModified", xml_time(m.last_modified));
    Ok(written_headers(xml_response(w.finish()), ctx, &m, false))
}

/// Reads a `<Tagging><TagSet><Tag>…` body (PutObjectTagging, PutBucketTagging).
/// The attributes of a new object from its request's headers; without `x-oss-storage-class`
/// (`x-amz-storage-class`) it takes its bucket's class, as both services do.
pub(in crate::http) async fn new_object_attrs(
    oss: &Oss,
    bucket: &str,
    h: &HeaderMap,
) -> Result<crate::ObjectAttrs, OssError> {
    let mut attrs = attrs_from_headers(h)?;
    if either(h, "storage-class").is_none() {
        attrs.storage_class = oss.bucket(bucket).await?.storage_class;
    }
    Ok(attrs)
}

pub(super) async fn read_tagging(
    req: Request,
    max: usize,
    owner: &str,
) -> Result<Vec<(String, String)>, OssError> {
    let (parts, body) = req.into_parts();
    let body = read_small(body, &parts.headers).await?;
    check_md5_of(&body, &parts.headers)?;
    tags_from_xml(&body, max, owner)
}

/// The tags of a `<Tagging><TagSet><Tag>…` document, checked against `max` (a PutObjectTagging
/// body, or PostObject's `tagging` field).
pub(in crate::http) fn tags_from_xml(
    body: &[u8],
    max: usize,
    owner: &str,
) -> Result<Vec<(String, String)>, OssError> {
    let root = xml::parse(body)?;
    if root.name != "Tagging" {
        return Err(OssError::MalformedXml(
            "root element must be Tagging".into(),
        ));
    }
    let mut tags = Vec::new();
    if let Some(set) = root.child("TagSet") {
        for t in set.all("Tag") {
            let k = t
                .text_of("Key")
                .ok_or_else(|| OssError::MalformedXml("Tag needs a Key".into()))?;
            tags.push((k.to_string(), t.text_of("Value").unwrap_or("").to_string()));
        }
    }
    crate::names::check_tag_set(&tags, max, owner)?;
    Ok(tags)
}

/// The `<Tagging>` document of GetObjectTagging and GetBucketTagging (sorted by key on the S3
/// face, as S3 answers; in the order set on OSS's).
pub(super) fn tagging_doc(ctx: &Ctx, tags: &[(String, String)]) -> String {
    let mut tags = tags.to_vec();
    if ctx.s3 {
        tags.sort();
    }
    let mut w = XmlWriter::new("Tagging", ctx.s3);
    w.open("TagSet");
    for (k, v) in &tags {
        w.open("Tag").elem("Key", k).elem("Value", v).close();
    }
    w.finish()
}

pub(super) async fn put_tagging(
    oss: &Oss,
    req: Request,
    bucket: &str,
    key: &str,
) -> Result<Response, OssError> {
    let tags = read_tagging(req, crate::names::MAX_TAGS, "An object").await?;
    oss.update_object_attrs(bucket, key, move |a| {
        a.tags = tags;
        Ok(())
    })
    .await?;
    Ok(empty(StatusCode::OK))
}

pub(super) async fn put_symlink(
    oss: &Oss,
    ctx: &Ctx,
    req: Request,
    bucket: &str,
    key: &str,
) -> Result<Response, OssError> {
    let h = req.headers();
    let raw = get(h, "x-oss-symlink-target").ok_or_else(|| {
        OssError::invalid_argument(
            "x-oss-symlink-target",
            "",
            "x-oss-symlink-target is required",
        )
    })?;
    let target = percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .into_owned();
    let attrs = attrs_from_headers(h)?;
    let forbid = headers::forbid_overwrite(h, ctx.s3)?;
    let m = oss
        .put_symlink(bucket, key, &target, attrs, forbid, &ctx.info())
        .await?;
    Ok(with_header(
        empty(StatusCode::OK),
        "etag",
        &ctx.quoted(&m.etag),
    ))
}
