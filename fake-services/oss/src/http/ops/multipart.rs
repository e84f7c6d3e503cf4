//! Multipart uploads: parts (uploaded or copied), completion, the parts listing.

use super::*;

pub(super) async fn upload_part(
    oss: &Oss,
    ctx: &Ctx,
    req: Request,
    q: &Query,
    bucket: &str,
    key: &str,
) -> Result<Response, OssError> {
    let number = parse_part_number(q)?;
    let upload_id = q.get("uploadId").unwrap_or("");
    let (parts, body) = req.into_parts();
    let md5 = headers::content_md5(&parts.headers);
    let slot = ChecksumSlot::default();
    let body = checked_body(body, &parts.headers, &slot);
    let p = oss
        .upload_part(bucket, key, upload_id, number, md5.as_deref(), body, slot)
        .await?;
    let r = with_header(empty(StatusCode::OK), "etag", &ctx.quoted(&p.etag));
    let r = with_header(r, "x-oss-hash-crc64ecma", &p.crc64.to_string());
    // A part's checksum has no type header.
    let mut r = with_checksum(r, ctx, p.checksum.as_ref());
    r.headers_mut().remove("x-amz-checksum-type");
    Ok(r)
}

pub(super) async fn upload_part_copy(
    oss: &Oss,
    ctx: &Ctx,
    req: Request,
    q: &Query,
    bucket: &str,
    key: &str,
) -> Result<Response, OssError> {
    let number = parse_part_number(q)?;
    let upload_id = q.get("uploadId").unwrap_or("");
    let h = req.headers();
    let (sb, sk) = headers::copy_source(h).unwrap_or(Err(OssError::InvalidObjectName))?;
    let range = match either(h, "copy-source-range") {
        None => None,
        Some(v) => match RangeHeader::parse(v) {
            RangeHeader::Unusable => {
                return Err(OssError::invalid_argument(
                    "x-oss-copy-source-range",
                    v,
                    "invalid copy source range",
                ));
            }
            r => Some(r),
        },
    };
    // S3 copies exactly the range asked for: one reaching past the source is refused, not
    // shortened as a GET's range would be.
    if ctx.s3
        && let Some(RangeHeader::FromTo(_, Some(last))) = &range
    {
        let size = oss.head_object(&sb, &sk).await?.size;
        if *last >= size {
            return Err(OssError::invalid_argument(
                "x-amz-copy-source-range",
                &format!("bytes=..-{last}"),
                format!("Range specified is not valid for source object of size: {size}"),
            ));
        }
    }
    let (p, resolved, size) = oss
        .upload_part_copy(
            bucket,
            key,
            upload_id,
            number,
            &sb,
            &sk,
            range,
            headers::copy_preconditions(h),
        )
        .await?;
    let mut w = XmlWriter::new("CopyPartResult", ctx.s3);
    w.elem("LastModified", xml_time(p.last_modified))
        .elem("ETag", ctx.quoted(&p.etag));
    let mut r = with_header(xml_response(w.finish()), "etag", &ctx.quoted(&p.etag));
    r = with_header(r, "x-oss-hash-crc64ecma", &p.crc64.to_string());
    if let Some((a, b)) = resolved {
        r = with_header(r, "content-range", &format!("bytes {a}-{b}/{size}"));
    }
    Ok(r)
}

pub(super) async fn complete_upload(
    oss: &Oss,
    ctx: &Ctx,
    req: Request,
    q: &Query,
    bucket: &str,
    key: &str,
) -> Result<Response, OssError> {
    let upload_id = q.get("uploadId").unwrap_or("").to_string();
    let complete_all = get(req.headers(), "x-oss-complete-all") == Some("yes");
    let forbid = headers::forbid_overwrite(req.headers(), ctx.s3)?;
    let (parts, body) = req.into_parts();
    let body = read_small(body, &parts.headers).await?;
    let list = if complete_all {
        None
    } else {
        check_md5_of(&body, &parts.headers)?;
        let root = xml::parse(&body)?;
        if root.name != "CompleteMultipartUpload" {
            return Err(OssError::MalformedXml(
                "root element must be CompleteMultipartUpload".into(),
            ));
        }
        let mut list = Vec::new();
        for p in root.all("Part") {
            let n = p
                .text_of("PartNumber")
                .and_then(|n| n.trim().parse::<u32>().ok())
                .ok_or_else(|| OssError::MalformedXml("Part needs a numeric PartNumber".into()))?;
            let etag = p
                .text_of("ETag")
                .ok_or_else(|| OssError::MalformedXml("Part needs an ETag".into()))?;
            list.push((n, etag.to_string()));
        }
        Some(list)
    };
    let m = match oss
        .complete_upload(bucket, key, &upload_id, list, forbid, &ctx.info())
        .await
    {
        Ok(m) => {
            oss.remember_complete(&upload_id, bucket, key, &m.etag);
            m
        }
        Err(OssError::NoSuchUpload { upload_id: id }) => match ctx.s3 {
            true => oss.completed_object(&id, bucket, key).await,
            false => None,
        }
        .ok_or(OssError::NoSuchUpload { upload_id: id })?,
        Err(e) => return Err(e),
    };
    let url = q.get("encoding-type") == Some("url");
    let mut w = XmlWriter::new("CompleteMultipartUploadResult", ctx.s3);
    if url {
        w.elem("EncodingType", "url");
    }
    let host = if ctx.host.is_empty() {
        "localhost"
    } else {
        ctx.host.as_str()
    };
    w.elem(
        "Location",
        format!("http://{host}/{bucket}/{}", url_encode(key)),
    )
    .elem("Bucket", bucket)
    .elem(
        "Key",
        if url {
            url_encode(key)
        } else {
            key.to_string()
        },
    )
    .elem("ETag", ctx.quoted(&m.etag));
    checksum_elems(&mut w, ctx, m.attrs.checksum.as_ref(), true);
    Ok(written_headers(xml_response(w.finish()), ctx, &m, false))
}

pub(super) async fn list_parts(
    oss: &Oss,
    ctx: &Ctx,
    q: &Query,
    bucket: &str,
    key: &str,
) -> Result<Response, OssError> {
    let upload_id = q.get("uploadId").unwrap_or("");
    let marker_raw = q.non_empty("part-number-marker").unwrap_or("0");
    let marker: u32 = marker_raw.parse().map_err(|_| {
        OssError::invalid_argument("part-number-marker", marker_raw, "must be an integer")
    })?;
    let max = parse_max(q, "max-parts", 1000)?;
    let (u, parts, truncated) = oss.list_parts(bucket, key, upload_id, marker, max).await?;
    let mut w = upload_result("ListPartsResult", ctx, q, bucket, key);
    w.elem("UploadId", upload_id)
        .elem("StorageClass", &u.attrs.storage_class)
        .elem("PartNumberMarker", marker.to_string())
        .elem(
            "NextPartNumberMarker",
            parts.last().map_or(marker, |p| p.number).to_string(),
        )
        .elem("MaxParts", max.to_string())
        .elem("IsTruncated", truncated.to_string());
    for p in &parts {
        w.open("Part")
            .elem("PartNumber", p.number.to_string())
            .elem("LastModified", xml_time(p.last_modified))
            .elem("ETag", ctx.quoted(&p.etag))
            .elem("HashCrc64ecma", p.crc64.to_string())
            .elem("Size", p.segment.size.to_string());
        checksum_elems(&mut w, ctx, p.checksum.as_ref(), false);
        w.close();
    }
    Ok(xml_response(w.finish()))
}
