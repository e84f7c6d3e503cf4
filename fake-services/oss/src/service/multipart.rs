//! Multipart uploads: initiate, parts (uploaded or copied), complete, abort, listings.

use super::*;

impl Oss {
    /// InitiateMultipartUpload.
    pub async fn initiate_upload(
        &self,
        bucket: &str,
        key: &str,
        attrs: ObjectAttrs,
    ) -> Result<Upload, OssError> {
        check_bucket(bucket)?;
        check_key(key)?;
        check_tags(&attrs.tags)?;
        let u = Upload {
            upload_id: self.config().ctx.ids.hex_upper(32),
            bucket: bucket.into(),
            key: key.into(),
            initiated: ms_now(self),
            attrs,
        };
        self.store()
            .call(move |db| {
                let mut u = u;
                // Sequential ids restart with the process; an old unfinished upload over the same
                // data directory may hold the id already.
                while !db.insert_upload(&u)? {
                    u.upload_id = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
                }
                Ok(u)
            })
            .await
    }

    pub(super) async fn require_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Upload, OssError> {
        check_bucket(bucket)?;
        let (b, k, u) = (bucket.to_string(), key.to_string(), upload_id.to_string());
        self.store().call(move |db| db.upload(&b, &k, &u)).await
    }

    pub(super) async fn store_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part: Part,
    ) -> Result<Part, OssError> {
        let (b, k, u) = (bucket.to_string(), key.to_string(), upload_id.to_string());
        let p = part.clone();
        let res = self
            .store()
            .call(move |db| {
                db.upload(&b, &k, &u)?;
                db.put_part(&u, &p)
            })
            .await;
        if let Err(e) = res {
            self.store().blobs().remove(&part.segment.blob);
            return Err(e);
        }
        Ok(part)
    }

    /// UploadPart.
    #[allow(clippy::too_many_arguments)]
    pub async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: u32,
        content_md5: Option<&str>,
        body: Body,
        checksum: ChecksumSlot,
    ) -> Result<Part, OssError> {
        check_part_number(number)?;
        self.require_upload(bucket, key, upload_id).await?;
        let (segment, d) = self.write_body(body, content_md5, MAX_OBJECT_SIZE).await?;
        let part = Part {
            number,
            segment,
            etag: d.etag(),
            crc64: d.crc64,
            last_modified: ms_now(self),
            checksum: take_checksum(&checksum),
        };
        self.store_part(bucket, key, upload_id, part).await
    }

    /// UploadPartCopy: copies (a range of) an object's bytes into a part.
    #[allow(clippy::too_many_arguments)]
    pub async fn upload_part_copy(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: u32,
        src_bucket: &str,
        src_key: &str,
        range: Option<crate::conditions::RangeHeader>,
        conditions: Preconditions,
    ) -> Result<(Part, Option<(u64, u64)>, u64), OssError> {
        check_part_number(number)?;
        self.require_upload(bucket, key, upload_id).await?;
        let src = self.open_object(src_bucket, src_key).await?;
        conditions.check(&src.meta)?;
        let size = src.meta.size;
        let range = match range {
            Some(r) => r.resolve(size, true)?,
            None => None,
        };
        let body = src.into_body(range);
        let (segment, d) = self.write_body(body, None, MAX_OBJECT_SIZE).await?;
        let part = Part {
            number,
            segment,
            etag: d.etag(),
            crc64: d.crc64,
            last_modified: ms_now(self),
            checksum: None,
        };
        let part = self.store_part(bucket, key, upload_id, part).await?;
        Ok((part, range, size))
    }

    /// CompleteMultipartUpload with the listed `(part number, etag)` pairs, or every uploaded
    /// part when `parts` is `None` (`x-oss-complete-all: yes`).
    pub async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: Option<Vec<(u32, String)>>,
        forbid_overwrite: bool,
        info: &RequestInfo,
    ) -> Result<ObjectMeta, OssError> {
        check_bucket(bucket)?;
        check_key(key)?;
        let (b, k, u) = (bucket.to_string(), key.to_string(), upload_id.to_string());
        let enforce = self.config().enforce_min_part_size;
        let now = ms_now(self);
        let info = info.clone();
        let meta = self
            .store()
            .call_publishing(self.changes(), move |db| {
                let upload = db.upload(&b, &k, &u)?;
                let uploaded = db.parts(&u)?;
                let chosen: Vec<&Part> = match &parts {
                    None => uploaded.iter().collect(),
                    Some(list) => {
                        let mut chosen = Vec::new();
                        let mut last = 0u32;
                        for (n, etag) in list {
                            if *n <= last {
                                return Err(OssError::InvalidPartOrder);
                            }
                            last = *n;
                            let p = uploaded
                                .iter()
                                .find(|p| p.number == *n)
                                .ok_or(OssError::InvalidPart)?;
                            if !p.etag.eq_ignore_ascii_case(etag.trim().trim_matches('"')) {
                                return Err(OssError::InvalidPart);
                            }
                            chosen.push(p);
                        }
                        chosen
                    }
                };
                if chosen.is_empty() {
                    return Err(OssError::MalformedXml("no parts to complete".into()));
                }
                if enforce
                    && chosen[..chosen.len() - 1]
                        .iter()
                        .any(|p| p.segment.size < MIN_PART_SIZE)
                {
                    return Err(OssError::EntityTooSmall);
                }
                let mut crc = 0u64;
                let mut size = 0u64;
                for p in &chosen {
                    crc = crc64_combine(crc, p.crc64, p.segment.size);
                    size += p.segment.size;
                }
                let etags: Vec<String> = chosen.iter().map(|p| p.etag.clone()).collect();
                let mut attrs = upload.attrs;
                let sums: Vec<_> = chosen
                    .iter()
                    .map(|p| (p.checksum.as_ref(), p.segment.size))
                    .collect();
                attrs.checksum = crate::checksum::multipart_checksum(&sums);
                let meta = ObjectMeta {
                    bucket: b.clone(),
                    key: k.clone(),
                    size,
                    etag: multipart_etag(&etags),
                    crc64: crc,
                    content_md5: None,
                    last_modified: now,
                    object_type: ObjectType::Multipart,
                    attrs,
                    symlink_target: None,
                };
                let obj = StoredObject {
                    meta: meta.clone(),
                    segments: chosen
                        .iter()
                        .filter(|p| p.segment.size > 0)
                        .map(|p| p.segment.clone())
                        .collect(),
                };
                let old = db.complete_upload(&u, &obj, forbid_overwrite)?;
                let size = old.map(|o| o.size);
                let change = object_change(
                    ObjectEvent::CompleteMultipartUpload,
                    &meta,
                    size,
                    &info,
                    now,
                );
                Ok((meta, vec![change]))
            })
            .await?;
        Ok(meta)
    }

    /// AbortMultipartUpload.
    pub async fn abort_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), OssError> {
        check_bucket(bucket)?;
        let (b, k, u) = (bucket.to_string(), key.to_string(), upload_id.to_string());
        self.store()
            .call(move |db| {
                db.upload(&b, &k, &u)?;
                db.delete_upload(&u)
            })
            .await
    }

    /// ListParts: parts after `marker`, at most `max`; also says whether more follow.
    pub async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        marker: u32,
        max: usize,
    ) -> Result<(Upload, Vec<Part>, bool), OssError> {
        check_bucket(bucket)?;
        let (b, k, u) = (bucket.to_string(), key.to_string(), upload_id.to_string());
        self.store()
            .call(move |db| {
                let upload = db.upload(&b, &k, &u)?;
                let mut parts: Vec<Part> = db
                    .parts(&u)?
                    .into_iter()
                    .filter(|p| p.number > marker)
                    .collect();
                let truncated = parts.len() > max;
                parts.truncate(max);
                Ok((upload, parts, truncated))
            })
            .await
    }

    /// ListMultipartUploads: (uploads, common prefixes, truncated).
    pub async fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: &str,
        key_marker: &str,
        upload_id_marker: &str,
        max: usize,
    ) -> Result<UploadPage, OssError> {
        check_bucket(bucket)?;
        let (b, p, km, um) = (
            bucket.to_string(),
            prefix.to_string(),
            key_marker.to_string(),
            upload_id_marker.to_string(),
        );
        let delimiter = delimiter.to_string();
        self.store()
            .call(move |db| {
                db.require_bucket(&b)?;
                let all = db.scan_uploads(&b, &p, &km, &um)?;
                let mut page = UploadPage::default();
                // A key marker that is a common prefix (the last entry of the previous page)
                // skips everything under it.
                let skip_under = (!delimiter.is_empty() && km.ends_with(&delimiter)).then_some(&km);
                for u in all {
                    if skip_under.is_some_and(|m| u.key.starts_with(m.as_str())) {
                        continue;
                    }
                    let cp = (!delimiter.is_empty())
                        .then(|| {
                            u.key[p.len()..]
                                .find(&delimiter)
                                .map(|i| u.key[..p.len() + i + delimiter.len()].to_string())
                        })
                        .flatten();
                    if let Some(cp) = &cp
                        && page.prefixes.last() == Some(cp)
                    {
                        continue;
                    }
                    if page.uploads.len() + page.prefixes.len() == max {
                        page.truncated = true;
                        break;
                    }
                    match cp {
                        Some(cp) => {
                            page.next = (cp.clone(), String::new());
                            page.prefixes.push(cp);
                        }
                        None => {
                            page.next = (u.key.clone(), u.upload_id.clone());
                            page.uploads.push(u);
                        }
                    }
                }
                if !page.truncated {
                    page.next = Default::default();
                }
                Ok(page)
            })
            .await
    }
}

/// One page of ListMultipartUploads.
#[derive(Clone, Debug, Default)]
pub struct UploadPage {
    /// Uploads, by key then upload id.
    pub uploads: Vec<Upload>,
    /// Common prefixes, in order.
    pub prefixes: Vec<String>,
    /// Whether more entries follow.
    pub truncated: bool,
    /// The next page's key and upload-id markers (the last entry returned; a common prefix has
    /// no upload id); empty when not truncated.
    pub next: (String, String),
}

fn check_part_number(n: u32) -> Result<(), OssError> {
    if (1..=10000).contains(&n) {
        Ok(())
    } else {
        Err(OssError::invalid_argument(
            "partNumber",
            &n.to_string(),
            "Part number must be an integer between 1 and 10000, inclusive.",
        ))
    }
}
