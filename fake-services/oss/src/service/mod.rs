//! The domain: what each operation means, independent of the wire. The HTTP layer parses a
//! request into one of these calls; Rust callers (the emulator, tests) can make them directly.
//! One module per area: [`buckets`], [`objects`], [`multipart`]; the request types, opened
//! objects and the helpers they share are here.

mod buckets;
mod multipart;
mod objects;

pub use multipart::UploadPage;

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
