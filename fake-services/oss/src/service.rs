//! The domain: what each operation means, independent of the wire. The HTTP layer parses a
//! request into one of these calls; Rust callers (the emulator, tests) can make them directly.

use std::io::SeekFrom;

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::checksum::{BodyDigest, Digests, crc64_combine, multipart_etag};
use crate::conditions::Preconditions;
use crate::listing::{ListPage, ListParams, list_page};
use crate::model::{
    Bucket, ChecksumSlot, ObjectAttrs, ObjectChange, ObjectEvent, ObjectMeta, ObjectType, Part,
    Segment, StoredObject, Upload, take_checksum,
};
use crate::names::{MAX_OBJECT_SIZE, MIN_PART_SIZE, check_bucket, check_key, check_tags};
use crate::{Oss, OssError};

/// A request or response body: a stream of byte chunks.
pub type Body = BoxStream<'static, Result<Bytes, OssError>>;

/// A body holding `bytes`.
pub fn body_from_bytes(bytes: impl Into<Bytes>) -> Body {
    let b: Bytes = bytes.into();
    futures::stream::once(async move { Ok(b) }).boxed()
}

/// Who asked: carried into change notifications.
#[derive(Clone, Debug)]
pub struct RequestInfo {
    /// The request id (24 upper-case hex).
    pub request_id: String,
    /// The client's IP.
    pub source_ip: String,
    /// The invocation that sent it, if any, and the chain depth ([`fcemu_core::Cause::of`]).
    pub cause: fcemu_core::Cause,
}

/// Request header carrying the depth of [`RequestInfo::cause`]: the emulator sets it on requests its
/// functions make, so a change caused by a function can be told from one made by a user.
pub const CHAIN_DEPTH_HEADER: &str = fcemu_core::CHAIN_DEPTH_HEADER;

/// A write of a whole object (PutObject, PostObject).
#[derive(Clone, Debug)]
pub struct PutRequest {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// Headers, metadata, ACL, class, tags.
    pub attrs: ObjectAttrs,
    /// base64 MD5 the body must have.
    pub content_md5: Option<String>,
    /// Refuse to replace an existing object.
    pub forbid_overwrite: bool,
    /// Replace only an object with this ETag (S3's `If-Match` on PUT).
    pub if_match: Option<String>,
    /// The S3 checksum the body proves once it has been read (see [`ChecksumSlot`]).
    pub checksum: ChecksumSlot,
}

/// Where a copy takes its metadata from.
#[derive(Clone, Debug)]
pub enum MetadataDirective {
    /// Keep the source's headers and metadata.
    Copy,
    /// Use these instead.
    Replace(Box<ObjectAttrs>),
}

/// CopyObject.
#[derive(Clone, Debug)]
pub struct CopyRequest {
    /// Source bucket.
    pub src_bucket: String,
    /// Source key.
    pub src_key: String,
    /// Target bucket.
    pub bucket: String,
    /// Target key.
    pub key: String,
    /// Metadata handling.
    pub directive: MetadataDirective,
    /// Tags for the copy; `None` keeps the source's.
    pub tags: Option<Vec<(String, String)>>,
    /// ACL for the copy; `None` uses `default`.
    pub acl: Option<String>,
    /// `x-oss-copy-source-if-*`.
    pub source_conditions: Preconditions,
    /// Refuse to replace an existing object.
    pub forbid_overwrite: bool,
}

/// An object opened for reading: its metadata and its files, already open, so the content
/// stays readable even if the object is replaced while it streams.
#[derive(Debug)]
pub struct OpenObject {
    /// Metadata (for a symlink: the link's, with the target's content fields).
    pub meta: ObjectMeta,
    files: Vec<(std::fs::File, u64)>,
    /// The whole content, for objects up to [`INLINE_LIMIT`]: read in the same blocking call
    /// as the metadata, so a small GET costs one trip to the blocking pool instead of several.
    inline: Option<Bytes>,
    /// The sizes of the stored pieces, in order: a multipart object's parts.
    segment_sizes: Vec<u64>,
}

/// Objects up to this size are read whole when opened.
pub const INLINE_LIMIT: u64 = 64 * 1024;

impl OpenObject {
    /// How many parts a multipart object was completed from (`None` for other objects).
    pub fn parts_count(&self) -> Option<u32> {
        (self.meta.object_type == ObjectType::Multipart).then_some(self.segment_sizes.len() as u32)
    }

    /// The inclusive byte range of part `n` (S3 `GET ?partNumber=n`, from 1): a multipart
    /// object's part, or the whole of any other object as its one part; `None` for an empty
    /// object's part 1. `PartNumberBeyondLast` beyond the last part.
    pub fn part_range(&self, n: u32) -> Result<Option<(u64, u64)>, OssError> {
        let sizes: Vec<u64> = match self.parts_count() {
            Some(_) => self.segment_sizes.clone(),
            None => vec![self.meta.size],
        };
        let i = (n as usize).checked_sub(1).filter(|i| *i < sizes.len());
        let Some(i) = i else {
            return Err(OssError::PartNumberBeyondLast {
                number: n,
                count: sizes.len() as u32,
            });
        };
        let start: u64 = sizes[..i].iter().sum();
        Ok((sizes[i] > 0).then(|| (start, start + sizes[i] - 1)))
    }

    /// The content, or the inclusive byte range `(first, last)` of it.
    pub fn into_body(self, range: Option<(u64, u64)>) -> Body {
        let (start, end) = match range {
            Some((a, b)) => (a, b + 1),
            None => (0, self.meta.size),
        };
        if let Some(bytes) = self.inline {
            let (start, end) = (start.min(bytes.len() as u64), end.min(bytes.len() as u64));
            let piece = bytes.slice(start as usize..end.max(start) as usize);
            return futures::stream::once(async move { Ok(piece) }).boxed();
        }
        let mut pieces = Vec::new();
        let mut offset = 0u64;
        for (file, size) in self.files {
            let (seg_start, seg_end) = (offset, offset + size);
            offset = seg_end;
            let from = start.max(seg_start);
            let to = end.min(seg_end);
            if from < to {
                pieces.push((file, from - seg_start, to - from));
            }
        }
        futures::stream::iter(pieces)
            .then(|(file, skip, len)| async move {
                let mut f = tokio::fs::File::from_std(file);
                f.seek(SeekFrom::Start(skip)).await?;
                Ok::<_, std::io::Error>(tokio_util::io::ReaderStream::with_capacity(
                    f.take(len),
                    256 * 1024,
                ))
            })
            .try_flatten()
            .map_err(OssError::from)
            .boxed()
    }

    /// Reads the whole content into memory (for small objects and tests).
    pub async fn read_all(self) -> Result<Vec<u8>, OssError> {
        let mut out = Vec::with_capacity(self.meta.size as usize);
        let mut body = self.into_body(None);
        while let Some(chunk) = body.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }
}

fn ms_now(o: &Oss) -> OffsetDateTime {
    let now = o.config().ctx.clock.now();
    // Stored at millisecond precision; keep the in-memory value identical to what reloads.
    now.replace_nanosecond((now.nanosecond() / 1_000_000) * 1_000_000)
        .unwrap_or(now)
}

impl Oss {
    /// A request id and the local IP, for calls made from Rust rather than over HTTP.
    pub fn request_info(&self) -> RequestInfo {
        RequestInfo {
            request_id: self.new_request_id(),
            source_ip: "127.0.0.1".into(),
            cause: fcemu_core::Cause::default(),
        }
    }

    /// A fresh request id (24 upper-case hex, from the configured [`fcemu_core::IdGen`]).
    pub fn new_request_id(&self) -> String {
        self.config().ctx.ids.hex_upper(24)
    }

    // ---------------------------------------------------------------- buckets

    /// Creates a bucket (`BucketAlreadyExists` if it exists).
    pub async fn create_bucket(
        &self,
        name: &str,
        acl: &str,
        storage_class: &str,
    ) -> Result<(), OssError> {
        check_bucket(name)?;
        let b = Bucket {
            name: name.to_string(),
            created: ms_now(self),
            acl: acl.to_string(),
            storage_class: storage_class.to_string(),
        };
        let created = self.store().call(move |db| db.insert_bucket(&b)).await?;
        if created {
            tracing::info!(bucket = name, "bucket created");
            Ok(())
        } else {
            Err(OssError::BucketAlreadyExists {
                bucket: name.to_string(),
            })
        }
    }

    /// Forgets every bucket, object and upload (the emulator's reset). No change notifications
    /// are published.
    pub async fn reset(&self) -> Result<(), OssError> {
        self.store().call(|db| db.wipe()).await
    }

    /// Creates a private Standard bucket unless it exists; `true` when it was created.
    pub async fn create_bucket_if_missing(&self, name: &str) -> Result<bool, OssError> {
        match self.create_bucket(name, "private", "Standard").await {
            Ok(()) => Ok(true),
            Err(OssError::BucketAlreadyExists { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// A bucket.
    pub async fn bucket(&self, name: &str) -> Result<Bucket, OssError> {
        check_bucket(name)?;
        let n = name.to_string();
        self.store().call(move |db| db.require_bucket(&n)).await
    }

    /// All buckets by name.
    pub async fn list_buckets(&self) -> Result<Vec<Bucket>, OssError> {
        self.store().call(|db| db.buckets()).await
    }

    /// Deletes an empty bucket.
    pub async fn delete_bucket(&self, name: &str) -> Result<(), OssError> {
        self.delete_bucket_aborting(name, false).await
    }

    /// Deletes an empty bucket; with `abort_uploads` its unfinished multipart uploads go with
    /// it (S3's rule) instead of keeping it from being deleted (OSS's).
    pub async fn delete_bucket_aborting(
        &self,
        name: &str,
        abort_uploads: bool,
    ) -> Result<(), OssError> {
        check_bucket(name)?;
        let n = name.to_string();
        self.store()
            .call(move |db| db.delete_bucket(&n, abort_uploads))
            .await
    }

    /// Sets a bucket's ACL.
    pub async fn set_bucket_acl(&self, name: &str, acl: &str) -> Result<(), OssError> {
        let (n, a) = (name.to_string(), acl.to_string());
        self.store().call(move |db| db.set_bucket_acl(&n, &a)).await
    }

    /// A bucket's CORS rules (PutBucketCors), if it has any.
    pub async fn bucket_cors(
        &self,
        name: &str,
    ) -> Result<Option<crate::cors::CorsConfig>, OssError> {
        let n = name.to_string();
        self.store().call(move |db| db.bucket_cors(&n)).await
    }

    /// Replaces a bucket's CORS rules (already checked); `None` removes them.
    pub async fn set_bucket_cors(
        &self,
        name: &str,
        cors: Option<crate::cors::CorsConfig>,
    ) -> Result<(), OssError> {
        let n = name.to_string();
        self.store()
            .call(move |db| db.set_bucket_cors(&n, cors.as_ref()))
            .await
    }

    /// A bucket's tags.
    pub async fn bucket_tags(&self, name: &str) -> Result<Vec<(String, String)>, OssError> {
        let n = name.to_string();
        self.store().call(move |db| db.bucket_tags(&n)).await
    }

    /// Replaces a bucket's tags (already checked against the limits).
    pub async fn set_bucket_tags(
        &self,
        name: &str,
        tags: Vec<(String, String)>,
    ) -> Result<(), OssError> {
        let n = name.to_string();
        self.store()
            .call(move |db| db.set_bucket_tags(&n, &tags))
            .await
    }

    /// Removes a bucket's tags: those named in `only`, or all when it is empty.
    pub async fn delete_bucket_tags(&self, name: &str, only: Vec<String>) -> Result<(), OssError> {
        let n = name.to_string();
        self.store()
            .call(move |db| {
                let mut tags = db.bucket_tags(&n)?;
                tags.retain(|(k, _)| !only.is_empty() && !only.contains(k));
                db.set_bucket_tags(&n, &tags)
            })
            .await
    }

    /// Object count, total bytes, unfinished uploads and last write of a bucket.
    pub async fn bucket_stat(&self, name: &str) -> Result<crate::model::BucketStat, OssError> {
        let n = name.to_string();
        self.store()
            .call(move |db| {
                db.require_bucket(&n)?;
                db.bucket_stat(&n)
            })
            .await
    }

    async fn require_bucket(&self, name: &str) -> Result<(), OssError> {
        self.bucket(name).await.map(|_| ())
    }

    // ---------------------------------------------------------------- writing bodies

    /// Streams `body` into a new durable blob, checking size and Content-MD5. Nothing refers
    /// to the blob yet; on any error it is removed.
    async fn write_body(
        &self,
        mut body: Body,
        content_md5: Option<&str>,
        max: u64,
    ) -> Result<(Segment, BodyDigest), OssError> {
        if let Some(m) = content_md5 {
            use base64::Engine;
            let ok = base64::engine::general_purpose::STANDARD
                .decode(m.trim())
                .is_ok_and(|d| d.len() == 16);
            if !ok {
                return Err(OssError::InvalidDigest {
                    given: m.to_string(),
                    computed: String::new(),
                });
            }
        }
        let mut w = self.store().blobs().create().await?;
        let mut digests = Digests::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            if w.written() + chunk.len() as u64 > max {
                return Err(OssError::EntityTooLarge);
            }
            digests.update(&chunk);
            w.write(&chunk).await?;
        }
        let d = digests.finish();
        if let Some(m) = content_md5
            && m.trim() != d.content_md5()
        {
            return Err(OssError::InvalidDigest {
                given: m.to_string(),
                computed: d.content_md5(),
            });
        }
        let blob = w.finish().await?;
        Ok((Segment { blob, size: d.len }, d))
    }

    // ---------------------------------------------------------------- objects

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

    async fn resolve(
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

    // ---------------------------------------------------------------- multipart

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

    async fn require_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Upload, OssError> {
        check_bucket(bucket)?;
        let (b, k, u) = (bucket.to_string(), key.to_string(), upload_id.to_string());
        self.store().call(move |db| db.upload(&b, &k, &u)).await
    }

    async fn store_part(
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

fn check_position(existing: Option<&ObjectMeta>, position: u64) -> Result<(), OssError> {
    match existing {
        None if position == 0 => Ok(()),
        None => Err(OssError::PositionNotEqualToLength { next: 0 }),
        Some(m) if m.object_type != ObjectType::Appendable => Err(OssError::ObjectNotAppendable),
        Some(m) if m.size != position => Err(OssError::PositionNotEqualToLength { next: m.size }),
        Some(_) => Ok(()),
    }
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

/// An appendable object's ETag: opaque, stable, changes with every append.
fn append_etag(prev: &str, d: &BodyDigest) -> String {
    let mut digest = Digests::new();
    digest.update(prev.as_bytes());
    digest.update(&d.md5);
    digest.finish().etag()
}

/// Attributes of an object written with no headers.
pub(crate) fn default_attrs() -> ObjectAttrs {
    ObjectAttrs {
        acl: "default".into(),
        storage_class: "Standard".into(),
        ..Default::default()
    }
}

/// The notification of one committed change (`now` is the time of removals).
fn object_change(
    event: ObjectEvent,
    meta: &ObjectMeta,
    old_size: Option<u64>,
    info: &RequestInfo,
    now: time::OffsetDateTime,
) -> ObjectChange {
    let (size, delta) = if event.is_created() {
        (meta.size, meta.size as i64 - old_size.unwrap_or(0) as i64)
    } else {
        (meta.size, -(meta.size as i64))
    };
    ObjectChange {
        event,
        bucket: meta.bucket.clone(),
        key: meta.key.clone(),
        size,
        delta_size: delta,
        etag: meta.etag.clone(),
        content_type: meta.attrs.content_type().to_string(),
        user_meta: meta.attrs.user_meta.clone(),
        request_id: info.request_id.clone(),
        source_ip: info.source_ip.clone(),
        cause: info.cause.clone(),
        time: if event.is_created() {
            meta.last_modified
        } else {
            now
        },
    }
}
