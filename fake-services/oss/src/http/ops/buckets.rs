//! The service and bucket levels: ListBuckets, bucket create/info/ACL/tagging/CORS/delete,
//! DeleteMultipleObjects, live channels.

use super::*;

pub(super) fn owner(w: &mut XmlWriter, oss: &Oss) {
    let id = &oss.config().ctx.account_id;
    w.open("Owner")
        .elem("ID", id)
        .elem("DisplayName", id)
        .close();
}

pub(super) async fn list_buckets(oss: &Oss, ctx: &Ctx, q: &Query) -> Result<Response, OssError> {
    let prefix = q.non_empty("prefix").unwrap_or("");
    // S3 pages with `max-buckets` and `continuation-token` (the last name of the page before).
    let marker = if ctx.s3 {
        q.non_empty("continuation-token").unwrap_or("")
    } else {
        q.non_empty("marker").unwrap_or("")
    };
    let max = if ctx.s3 && q.has("max-buckets") {
        match q.get("max-buckets").and_then(|v| v.parse::<usize>().ok()) {
            Some(n @ 1..=10_000) => n,
            _ => {
                return Err(OssError::invalid_argument(
                    "max-buckets",
                    q.get("max-buckets").unwrap_or(""),
                    "max-buckets must be an integer between 1 and 10000",
                ));
            }
        }
    } else {
        parse_max(q, "max-keys", if ctx.s3 { 10_000 } else { 100 })?
    };
    let all: Vec<Bucket> = oss
        .list_buckets()
        .await?
        .into_iter()
        .filter(|b| b.name.starts_with(prefix) && b.name.as_str() > marker)
        .collect();
    let truncated = all.len() > max;
    let page = &all[..all.len().min(max)];
    let region = &oss.config().ctx.region;
    let mut w = XmlWriter::new("ListAllMyBucketsResult", ctx.s3);
    w.elem("Prefix", prefix)
        .elem("Marker", marker)
        .elem("MaxKeys", max.to_string())
        .elem("IsTruncated", truncated.to_string());
    if truncated
        && !ctx.s3
        && let Some(last) = page.last()
    {
        w.elem("NextMarker", &last.name);
    }
    owner(&mut w, oss);
    w.open("Buckets");
    let endpoint = endpoint_of(ctx, None);
    for b in page {
        w.open("Bucket")
            .elem("CreationDate", xml_time(b.created))
            .elem("ExtranetEndpoint", &endpoint)
            .elem("IntranetEndpoint", &endpoint)
            .elem("Location", format!("oss-{region}"))
            .elem("Name", &b.name)
            .elem("Region", region)
            .elem("ResourceGroupId", RESOURCE_GROUP)
            .elem("StorageClass", &b.storage_class)
            .close();
    }
    w.close();
    if ctx.s3
        && truncated
        && let Some(last) = page.last()
    {
        w.elem("ContinuationToken", &last.name);
    }
    Ok(xml_response(w.finish()))
}

/// The resource group every bucket is in (the account's default group).
const RESOURCE_GROUP: &str = "rg-default";

/// The endpoint the client reached fcemu by (the Host header, without the bucket label of a
/// virtual-hosted request): what ListBuckets and GetBucketInfo advertise, so a client that
/// follows them stays on the emulator.
pub(super) fn endpoint_of(ctx: &Ctx, bucket: Option<&str>) -> String {
    let host = ctx.host.trim().to_ascii_lowercase();
    match bucket {
        Some(b) => host
            .strip_prefix(&format!("{b}."))
            .map(str::to_string)
            .unwrap_or(host),
        None => host,
    }
}

pub(super) async fn bucket_op(
    oss: &Oss,
    ctx: &Ctx,
    op: Op,
    req: Request,
    q: &Query,
    bucket: &str,
) -> Result<Response, OssError> {
    match op {
        Op::PutBucketAcl => {
            let acl = headers::bucket_acl(req.headers())?.unwrap_or_else(|| "private".into());
            oss.set_bucket_acl(bucket, &acl).await?;
            Ok(empty(StatusCode::OK))
        }
        Op::CreateBucket => put_bucket(oss, ctx, req, bucket).await,
        Op::DeleteBucket => {
            oss.delete_bucket_aborting(bucket, ctx.s3).await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        Op::HeadBucket => {
            oss.bucket(bucket).await?;
            Ok(empty(StatusCode::OK))
        }
        Op::GetBucketAcl => {
            let b = oss.bucket(bucket).await?;
            Ok(xml_response(acl_doc(oss, ctx, &b.acl)))
        }
        Op::GetBucketLocation => {
            oss.bucket(bucket).await?;
            let region = format!("oss-{}", oss.config().ctx.region);
            Ok(xml_response(xml::text_document(
                "LocationConstraint",
                &region,
                ctx.s3,
            )))
        }
        Op::GetBucketInfo => bucket_info(oss, ctx, bucket).await,
        Op::GetBucketStat => {
            let stat = oss.bucket_stat(bucket).await?;
            let (size, count) = (stat.bytes.to_string(), stat.objects.to_string());
            let last = stat.last_modified.map_or(0, |t| t.unix_timestamp());
            let mut w = XmlWriter::new("BucketStat", ctx.s3);
            w.elem("Storage", &size)
                .elem("ObjectCount", &count)
                .elem("MultipartUploadCount", stat.uploads.to_string())
                .elem("LiveChannelCount", "0")
                .elem("LastModifiedTime", last.to_string())
                .elem("StandardStorage", &size)
                .elem("StandardObjectCount", &count);
            Ok(xml_response(w.finish()))
        }
        Op::PutBucketTagging => {
            let tags = read_tagging(req, crate::names::MAX_BUCKET_TAGS, "A bucket").await?;
            oss.set_bucket_tags(bucket, tags).await?;
            Ok(empty(if ctx.s3 {
                StatusCode::NO_CONTENT
            } else {
                StatusCode::OK
            }))
        }
        Op::GetBucketTagging => {
            let tags = oss.bucket_tags(bucket).await?;
            if tags.is_empty() && ctx.s3 {
                return Err(OssError::NoSuchTagSet);
            }
            Ok(xml_response(tagging_doc(ctx, &tags)))
        }
        Op::DeleteBucketTagging => {
            // OSS: `?tagging=k1,k2` removes only those keys.
            let only: Vec<String> = q
                .non_empty("tagging")
                .map(|v| v.split(',').map(str::to_string).collect())
                .unwrap_or_default();
            oss.delete_bucket_tags(bucket, only).await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        Op::PutBucketCors => {
            let (parts, body) = req.into_parts();
            let body = read_small(body, &parts.headers).await?;
            check_md5_of(&body, &parts.headers)?;
            let config = crate::http::cors::parse_config(&body, ctx)?;
            oss.set_bucket_cors(bucket, Some(config)).await?;
            Ok(empty(StatusCode::OK))
        }
        Op::GetBucketCors => match oss.bucket_cors(bucket).await? {
            Some(config) => Ok(xml_response(crate::http::cors::config_doc(ctx, &config))),
            None => Err(OssError::NoSuchCorsConfiguration),
        },
        Op::DeleteBucketCors => {
            oss.set_bucket_cors(bucket, None).await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        Op::ListUploads => list_uploads(oss, ctx, q, bucket).await,
        Op::ListLiveChannels => list_live_channels(oss, ctx, q, bucket).await,
        Op::ListObjectVersions => list_versions(oss, ctx, q, bucket).await,
        Op::ListObjectsV2 => list_objects(oss, ctx, q, bucket, true).await,
        Op::ListObjects => list_objects(oss, ctx, q, bucket, false).await,
        Op::DeleteMultiple => delete_multiple(oss, ctx, req, q, bucket).await,
        Op::PostObject => crate::http::post::post_object(oss, ctx, req, bucket).await,
        _ => Err(OssError::MethodNotAllowed),
    }
}

pub(super) async fn put_bucket(
    oss: &Oss,
    ctx: &Ctx,
    req: Request,
    bucket: &str,
) -> Result<Response, OssError> {
    check_bucket(bucket)?;
    let acl = headers::bucket_acl(req.headers())?.unwrap_or_else(|| "private".into());
    let (parts, body) = req.into_parts();
    let body = read_small(body, &parts.headers).await?;
    let mut class = "Standard".to_string();
    if !body.iter().all(u8::is_ascii_whitespace) {
        let root = xml::parse(&body)?;
        if let Some(sc) = root.text_of("StorageClass") {
            class = match sc {
                "Standard" | "IA" | "Archive" | "ColdArchive" | "DeepColdArchive" => sc.to_string(),
                _ => {
                    return Err(OssError::invalid_argument(
                        "StorageClass",
                        sc,
                        "invalid storage class",
                    ));
                }
            };
        }
    }
    match oss.create_bucket(bucket, &acl, &class).await {
        // OSS answers a repeated create of a bucket one owns with 200 and changes nothing
        // (every bucket here is the caller's); S3 says BucketAlreadyOwnedByYou.
        Err(OssError::BucketAlreadyExists { .. }) if !ctx.s3 => {}
        other => other?,
    }
    Ok(with_header(
        empty(StatusCode::OK),
        "location",
        &format!("/{bucket}"),
    ))
}

pub(super) fn acl_doc(oss: &Oss, ctx: &Ctx, grant: &str) -> String {
    let mut w = XmlWriter::new("AccessControlPolicy", ctx.s3);
    owner(&mut w, oss);
    w.open("AccessControlList").elem("Grant", grant).close();
    w.finish()
}

pub(super) async fn bucket_info(oss: &Oss, ctx: &Ctx, bucket: &str) -> Result<Response, OssError> {
    let b = oss.bucket(bucket).await?;
    let region = &oss.config().ctx.region;
    let endpoint = endpoint_of(ctx, Some(bucket));
    let mut w = XmlWriter::new("BucketInfo", ctx.s3);
    w.open("Bucket")
        .elem("AccessMonitor", "Disabled")
        .elem("Comment", "")
        .elem("CreationDate", xml_time(b.created))
        .elem("ExtranetEndpoint", &endpoint)
        .elem("IntranetEndpoint", &endpoint)
        .elem("Location", format!("oss-{region}"))
        .elem("StorageClass", &b.storage_class)
        .elem("TransferAcceleration", "Disabled")
        .elem("CrossRegionReplication", "Disabled")
        .elem("DataRedundancyType", "LRS")
        .elem("Name", &b.name)
        .elem("ResourceGroupId", RESOURCE_GROUP);
    owner(&mut w, oss);
    w.open("AccessControlList").elem("Grant", &b.acl).close();
    w.open("ServerSideEncryptionRule")
        .elem("SSEAlgorithm", "None")
        .close();
    w.close();
    Ok(xml_response(w.finish()))
}

/// ListLiveChannel: fcemu has no live channels, so the answer is an empty list (a suite's
/// teardown that lists channels before deleting a bucket works unchanged).
pub(super) async fn list_live_channels(
    oss: &Oss,
    ctx: &Ctx,
    q: &Query,
    bucket: &str,
) -> Result<Response, OssError> {
    oss.bucket(bucket).await?;
    let max = parse_max(q, "max-keys", 100)?;
    let mut w = XmlWriter::new("ListLiveChannelResult", ctx.s3);
    w.elem("Prefix", q.non_empty("prefix").unwrap_or(""))
        .elem("Marker", q.non_empty("marker").unwrap_or(""))
        .elem("MaxKeys", max.to_string())
        .elem("IsTruncated", "false")
        .elem("NextMarker", "");
    Ok(xml_response(w.finish()))
}

pub(super) async fn delete_multiple(
    oss: &Oss,
    ctx: &Ctx,
    req: Request,
    q: &Query,
    bucket: &str,
) -> Result<Response, OssError> {
    check_bucket(bucket)?;
    let (parts, body) = req.into_parts();
    let body = read_small(body, &parts.headers).await?;
    check_md5_of(&body, &parts.headers)?;
    let root = xml::parse(&body)?;
    if root.name != "Delete" {
        return Err(OssError::MalformedXml("root element must be Delete".into()));
    }
    let keys: Vec<String> = root
        .all("Object")
        .map(|o| o.text_of("Key").unwrap_or("").to_string())
        .collect();
    if keys.is_empty() {
        return Err(OssError::MalformedXml("no objects to delete".into()));
    }
    if keys.len() > MAX_DELETE_KEYS {
        return Err(OssError::MalformedXml(format!(
            "at most {MAX_DELETE_KEYS} objects can be deleted at once"
        )));
    }
    let quiet = root
        .text_of("Quiet")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let url = q.get("encoding-type") == Some("url");
    let deleted = oss.delete_objects(bucket, keys, &ctx.info()).await?;
    let mut w = XmlWriter::new("DeleteResult", ctx.s3);
    if url {
        w.elem("EncodingType", "url");
    }
    if !quiet {
        for k in &deleted {
            w.open("Deleted")
                .elem("Key", if url { url_encode(k) } else { k.clone() })
                .close();
        }
    }
    Ok(xml_response(w.finish()))
}
