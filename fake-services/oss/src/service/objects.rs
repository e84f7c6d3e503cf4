//! Objects: put, read, delete, copy, append, symlinks, attributes, listing.

use super::*;

impl Oss {
    /// PutObject (or PostObject with `event`): stores `body` as the object.
    pub async fn put_object(
        &self,
        req: PutRequest,
        body: Body,
        event: ObjectEvent,
        info: &RequestInfo,
    ) -> Result<ObjectMeta, OssError> {
        check_key(&req.key)?;
        check_tags(&req.attrs.tags)?;
        self.require_bucket(&req.bucket).await?;
        let (segment, d) = self
            .write_body(body, req.content_md5.as_deref(), MAX_OBJECT_SIZE)
            .await?;
        let mut attrs = req.attrs;
        attrs.checksum = take_checksum(&req.checksum);
        let meta = ObjectMeta {
            bucket: req.bucket,
            key: req.key,
            size: d.len,
            etag: d.etag(),
            crc64: d.crc64,
            content_md5: Some(d.content_md5()),
            last_modified: ms_now(self),
            object_type: ObjectType::Normal,
            attrs,
            symlink_target: None,
        };
        let obj = StoredObject {
            meta: meta.clone(),
            segments: vec![segment.clone()],
        };
        let (forbid, if_match) = (req.forbid_overwrite, req.if_match);
        let (info2, now) = (info.clone(), ms_now(self));
        let res = self
            .store()
            .call_publishing(self.changes(), move |db| {
                // Checked under the store's lock: no write lands between the check and this one.
                if let Some(want) = &if_match {
                    let cur = db.object_meta(&obj.meta.bucket, &obj.meta.key)?;
                    if !cur.is_some_and(|m| crate::conditions::etag_matches(want, &m.etag)) {
                        return Err(OssError::PreconditionFailed);
                    }
                }
                let old = db.put_object(&obj, forbid)?;
                let size = old.as_ref().map(|o| o.size);
                let change = object_change(event, &obj.meta, size, &info2, now);
                Ok((old, vec![change]))
            })
            .await;
        if let Err(e) = res {
            self.store().blobs().remove(&segment.blob);
            return Err(e);
        }
        Ok(meta)
    }

    /// Stores `bytes` as an object with the given Content-Type (a convenience for Rust callers).
    pub async fn put_bytes(
        &self,
        bucket: &str,
        key: &str,
        bytes: impl Into<Bytes>,
        content_type: Option<&str>,
    ) -> Result<ObjectMeta, OssError> {
        let mut attrs = default_attrs();
        if let Some(ct) = content_type {
            attrs.headers.insert("content-type".into(), ct.into());
        }
        let req = PutRequest {
            bucket: bucket.into(),
            key: key.into(),
            attrs,
            content_md5: None,
            forbid_overwrite: false,
            if_match: None,
            checksum: ChecksumSlot::default(),
        };
        let info = self.request_info();
        self.put_object(req, body_from_bytes(bytes), ObjectEvent::PutObject, &info)
            .await
    }

    /// An object's metadata, following a symlink to its target's content.
    pub async fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectMeta, OssError> {
        Ok(self.resolve(bucket, key, false).await?.0.meta)
    }

    /// An object's own metadata (a symlink's, not its target's).
    pub async fn object_meta(&self, bucket: &str, key: &str) -> Result<ObjectMeta, OssError> {
        check_bucket(bucket)?;
        let (b, k) = (bucket.to_string(), key.to_string());
        self.store()
            .call(move |db| {
                db.require_bucket(&b)?;
                db.object_meta(&b, &k)?
                    .ok_or(OssError::NoSuchKey { key: k.clone() })
            })
            .await
    }

    /// Opens an object for reading (following a symlink).
    pub async fn open_object(&self, bucket: &str, key: &str) -> Result<OpenObject, OssError> {
        let (obj, files, inline) = self.resolve(bucket, key, true).await?;
        let segment_sizes: Vec<u64> = obj.segments.iter().map(|s| s.size).collect();
        Ok(OpenObject {
            meta: obj.meta,
            files: files
                .into_iter()
                .zip(segment_sizes.iter().copied())
                .collect(),
            inline,
            segment_sizes,
        })
    }

    /// Reads a whole object into memory (a convenience for Rust callers).
    pub async fn get_bytes(&self, bucket: &str, key: &str) -> Result<Vec<u8>, OssError> {
        self.open_object(bucket, key).await?.read_all().await
    }

    pub(super) async fn resolve(
        &self,
        bucket: &str,
        key: &str,
        open: bool,
    ) -> Result<(StoredObject, Vec<std::fs::File>, Option<Bytes>), OssError> {
        check_bucket(bucket)?;
        check_key(key)?;
        if let Some(hit) = self.store().cached(bucket, key) {
            return Ok((hit.object.clone(), Vec::new(), Some(hit.content.clone())));
        }
        let (b, k) = (bucket.to_string(), key.to_string());
        self.store()
            .call(move |db| {
                db.require_bucket(&b)?;
                let mut obj = db
                    .object(&b, &k)?
                    .ok_or(OssError::NoSuchKey { key: k.clone() })?;
                if let Some(target) = obj.meta.symlink_target.clone() {
                    let t = db.object(&b, &target)?.ok_or(OssError::NoSuchKey {
                        key: target.clone(),
                    })?;
                    let link = &mut obj.meta;
                    link.size = t.meta.size;
                    link.etag = t.meta.etag.clone();
                    link.crc64 = t.meta.crc64;
                    link.content_md5 = t.meta.content_md5.clone();
                    link.last_modified = link.last_modified.max(t.meta.last_modified);
                    link.attrs.storage_class = t.meta.attrs.storage_class.clone();
                    if !link.attrs.headers.contains_key("content-type")
                        && let Some(ct) = t.meta.attrs.headers.get("content-type")
                    {
                        link.attrs.headers.insert("content-type".into(), ct.clone());
                    }
                    obj.segments = t.segments;
                }
                let mut files = if open {
                    db.open_segments(&obj.segments)?
                } else {
                    Vec::new()
                };
                let inline = if open && obj.meta.size <= INLINE_LIMIT {
                    let mut content = Vec::with_capacity(obj.meta.size as usize);
                    for (file, segment) in files.iter_mut().zip(&obj.segments) {
                        std::io::Read::read_to_end(
                            &mut std::io::Read::take(&mut *file, segment.size),
                            &mut content,
                        )?;
                    }
                    let content = Bytes::from(content);
                    db.remember(&obj, &content);
                    Some(content)
                } else {
                    None
                };
                Ok((obj, files, inline))
            })
            .await
    }

    /// DeleteObject: removes the object (a missing key is not an error); returns what was removed.
    pub async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        info: &RequestInfo,
    ) -> Result<Option<ObjectMeta>, OssError> {
        check_bucket(bucket)?;
        check_key(key)?;
        let (b, k) = (bucket.to_string(), key.to_string());
        let (info, now) = (info.clone(), ms_now(self));
        self.store()
            .call_publishing(self.changes(), move |db| {
                db.require_bucket(&b)?;
                let old = db.delete_object(&b, &k)?;
                let changes = old
                    .iter()
                    .map(|m| object_change(ObjectEvent::DeleteObject, m, None, &info, now))
                    .collect();
                Ok((old, changes))
            })
            .await
    }

    /// DeleteMultipleObjects: removes each key; returns the keys (all reported deleted).
    pub async fn delete_objects(
        &self,
        bucket: &str,
        keys: Vec<String>,
        info: &RequestInfo,
    ) -> Result<Vec<String>, OssError> {
        check_bucket(bucket)?;
        let b = bucket.to_string();
        let (info, now) = (info.clone(), ms_now(self));
        self.store()
            .call_publishing(self.changes(), move |db| {
                db.require_bucket(&b)?;
                let mut changes = Vec::new();
                for k in &keys {
                    if check_key(k).is_ok()
                        && let Some(m) = db.delete_object(&b, k)?
                    {
                        changes.push(object_change(
                            ObjectEvent::DeleteObjects,
                            &m,
                            None,
                            &info,
                            now,
                        ));
                    }
                }
                Ok((keys, changes))
            })
            .await
    }

    /// CopyObject: the copy shares the source's blobs (they are immutable), so it is instant.
    pub async fn copy_object(
        &self,
        req: CopyRequest,
        info: &RequestInfo,
    ) -> Result<ObjectMeta, OssError> {
        check_bucket(&req.src_bucket)?;
        check_key(&req.src_key)?;
        check_bucket(&req.bucket)?;
        check_key(&req.key)?;
        if let Some(t) = &req.tags {
            check_tags(t)?;
        }
        let now = ms_now(self);
        let info = info.clone();
        let meta = self
            .store()
            .call_publishing(self.changes(), move |db| {
                db.require_bucket(&req.src_bucket)?;
                db.require_bucket(&req.bucket)?;
                let src = db
                    .object(&req.src_bucket, &req.src_key)?
                    .ok_or(OssError::NoSuchKey {
                        key: req.src_key.clone(),
                    })?;
                req.source_conditions.check(&src.meta)?;
                let mut attrs = match req.directive {
                    MetadataDirective::Copy => src.meta.attrs.clone(),
                    MetadataDirective::Replace(a) => *a,
                };
                attrs.tags = req.tags.unwrap_or_else(|| src.meta.attrs.tags.clone());
                attrs.acl = req.acl.unwrap_or_else(|| "default".into());
                let meta = ObjectMeta {
                    bucket: req.bucket,
                    key: req.key,
                    size: src.meta.size,
                    etag: src.meta.etag.clone(),
                    crc64: src.meta.crc64,
                    content_md5: src.meta.content_md5.clone(),
                    last_modified: now,
                    object_type: match src.meta.object_type {
                        ObjectType::Appendable => ObjectType::Normal,
                        t => t,
                    },
                    attrs,
                    symlink_target: src.meta.symlink_target.clone(),
                };
                let obj = StoredObject {
                    meta: meta.clone(),
                    segments: src.segments,
                };
                let old = db.put_object(&obj, req.forbid_overwrite)?;
                let size = old.map(|o| o.size);
                let change = object_change(ObjectEvent::CopyObject, &meta, size, &info, now);
                Ok((meta, vec![change]))
            })
            .await?;
        Ok(meta)
    }

    /// AppendObject at `position`; creates an Appendable object at position 0.
    pub async fn append_object(
        &self,
        req: PutRequest,
        position: u64,
        body: Body,
        info: &RequestInfo,
    ) -> Result<ObjectMeta, OssError> {
        check_key(&req.key)?;
        let existing = match self.object_meta(&req.bucket, &req.key).await {
            Ok(m) => Some(m),
            Err(OssError::NoSuchKey { .. }) => None,
            Err(e) => return Err(e),
        };
        check_position(existing.as_ref(), position)?;
        if existing.is_none() {
            check_tags(&req.attrs.tags)?;
        }
        let (segment, d) = self
            .write_body(
                body,
                req.content_md5.as_deref(),
                MAX_OBJECT_SIZE.saturating_sub(position),
            )
            .await?;
        let now = ms_now(self);
        let seg = segment.clone();
        let info = info.clone();
        let res = self
            .store()
            .call_publishing(self.changes(), move |db| {
                let cur = db.object(&req.bucket, &req.key)?;
                check_position(cur.as_ref().map(|c| &c.meta), position)?;
                let obj = match cur {
                    None => StoredObject {
                        meta: ObjectMeta {
                            bucket: req.bucket,
                            key: req.key,
                            size: d.len,
                            etag: append_etag("", &d),
                            crc64: d.crc64,
                            content_md5: None,
                            last_modified: now,
                            object_type: ObjectType::Appendable,
                            attrs: req.attrs,
                            symlink_target: None,
                        },
                        segments: vec![seg],
                    },
                    Some(mut c) => {
                        c.meta.crc64 = crc64_combine(c.meta.crc64, d.crc64, d.len);
                        c.meta.size += d.len;
                        c.meta.etag = append_etag(&c.meta.etag, &d);
                        c.meta.last_modified = now;
                        if d.len > 0 {
                            c.segments.push(seg);
                        }
                        c
                    }
                };
                db.put_object(&obj, false)?;
                let change = object_change(
                    ObjectEvent::AppendObject,
                    &obj.meta,
                    Some(position),
                    &info,
                    now,
                );
                Ok(((obj.meta, position), vec![change]))
            })
            .await;
        match res {
            Ok((meta, pos)) => {
                if d.len == 0 && pos > 0 {
                    self.store().blobs().remove(&segment.blob);
                }
                Ok(meta)
            }
            Err(e) => {
                self.store().blobs().remove(&segment.blob);
                Err(e)
            }
        }
    }

    /// PutSymlink: `key` becomes a link to `target` (which need not exist).
    pub async fn put_symlink(
        &self,
        bucket: &str,
        key: &str,
        target: &str,
        attrs: ObjectAttrs,
        forbid_overwrite: bool,
        info: &RequestInfo,
    ) -> Result<ObjectMeta, OssError> {
        check_bucket(bucket)?;
        check_key(key)?;
        check_key(target)?;
        let mut digest = Digests::new();
        digest.update(target.as_bytes());
        let meta = ObjectMeta {
            bucket: bucket.into(),
            key: key.into(),
            size: 0,
            etag: digest.finish().etag(),
            crc64: 0,
            content_md5: None,
            last_modified: ms_now(self),
            object_type: ObjectType::Symlink,
            attrs,
            symlink_target: Some(target.into()),
        };
        let obj = StoredObject {
            meta: meta.clone(),
            segments: Vec::new(),
        };
        let (info, now) = (info.clone(), ms_now(self));
        self.store()
            .call_publishing(self.changes(), move |db| {
                let old = db.put_object(&obj, forbid_overwrite)?;
                let size = old.map(|o| o.size);
                let change = object_change(ObjectEvent::PutSymlink, &obj.meta, size, &info, now);
                Ok(((), vec![change]))
            })
            .await?;
        Ok(meta)
    }

    /// GetSymlink: the link's own metadata (`NotSymlink` for other objects).
    pub async fn get_symlink(&self, bucket: &str, key: &str) -> Result<ObjectMeta, OssError> {
        let m = self.object_meta(bucket, key).await?;
        if m.symlink_target.is_none() {
            return Err(OssError::NotSymlink);
        }
        Ok(m)
    }

    /// Changes an object's attributes in place (ACL, tags), keeping content and mtime.
    pub async fn update_object_attrs(
        &self,
        bucket: &str,
        key: &str,
        change: impl FnOnce(&mut ObjectAttrs) -> Result<(), OssError> + Send + 'static,
    ) -> Result<ObjectMeta, OssError> {
        check_bucket(bucket)?;
        check_key(key)?;
        let (b, k) = (bucket.to_string(), key.to_string());
        self.store()
            .call(move |db| {
                db.require_bucket(&b)?;
                let mut m = db
                    .object_meta(&b, &k)?
                    .ok_or(OssError::NoSuchKey { key: k.clone() })?;
                change(&mut m.attrs)?;
                check_tags(&m.attrs.tags)?;
                db.set_object_attrs(&b, &k, &m.attrs)?;
                Ok(m)
            })
            .await
    }

    /// One page of ListObjects (v1 or v2; the HTTP layer maps markers and tokens).
    pub async fn list_objects(
        &self,
        bucket: &str,
        params: ListParams,
    ) -> Result<ListPage, OssError> {
        check_bucket(bucket)?;
        let b = bucket.to_string();
        self.store()
            .call(move |db| {
                db.require_bucket(&b)?;
                list_page(&params, |after, limit| {
                    db.scan_objects(&b, &params.prefix, after, limit)
                })
            })
            .await
    }
}

fn check_position(existing: Option<&ObjectMeta>, position: u64) -> Result<(), OssError> {
    match existing {
        None if position == 0 => Ok(()),
        None => Err(OssError::PositionNotEqualToLength { next: 0 }),
        Some(m) if m.object_type != ObjectType::Appendable => Err(OssError::ObjectNotAppendable),
        Some(m) if m.size != position => Err(OssError::PositionNotEqualToLength { next: m.size }),
        Some(_) => Ok(()),
    }
}

/// An appendable object's ETag: opaque, stable, changes with every append.
fn append_etag(prev: &str, d: &BodyDigest) -> String {
    let mut digest = Digests::new();
    digest.update(prev.as_bytes());
    digest.update(&d.md5);
    digest.finish().etag()
}
