//! The object store's nouns: buckets, objects, uploads, parts, and the change notifications.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// What GetBucketStat reports of a bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BucketStat {
    /// Objects in it.
    pub objects: u64,
    /// Their total size.
    pub bytes: u64,
    /// Unfinished multipart uploads.
    pub uploads: u64,
    /// When an object in it was last written (`None` when empty).
    pub last_modified: Option<OffsetDateTime>,
}

/// A bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bucket {
    /// The bucket name.
    pub name: String,
    /// When it was created.
    pub created: OffsetDateTime,
    /// `private`, `public-read` or `public-read-write`.
    pub acl: String,
    /// `Standard`, `IA`, `Archive`, ...
    pub storage_class: String,
}

/// How an object came to be, as OSS reports it in `x-oss-object-type` and listings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectType {
    /// PutObject, CopyObject, PostObject.
    Normal,
    /// CompleteMultipartUpload.
    Multipart,
    /// AppendObject.
    Appendable,
    /// PutSymlink.
    Symlink,
}

impl ObjectType {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectType::Normal => "Normal",
            ObjectType::Multipart => "Multipart",
            ObjectType::Appendable => "Appendable",
            ObjectType::Symlink => "Symlink",
        }
    }

    /// Parses the wire spelling (as stored).
    pub fn parse(s: &str) -> Self {
        match s {
            "Multipart" => ObjectType::Multipart,
            "Appendable" => ObjectType::Appendable,
            "Symlink" => ObjectType::Symlink,
            _ => ObjectType::Normal,
        }
    }
}

/// What the writer of an object says about it: standard headers, user metadata, ACL, class, tags.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectAttrs {
    /// Standard headers kept with the object, by lower-case name: `content-type`,
    /// `cache-control`, `content-disposition`, `content-encoding`, `content-language`, `expires`.
    pub headers: BTreeMap<String, String>,
    /// User metadata, lower-case names without the `x-oss-meta-` / `x-amz-meta-` prefix.
    pub user_meta: BTreeMap<String, String>,
    /// Object ACL (`default` unless set).
    pub acl: String,
    /// Storage class (`Standard` unless set).
    pub storage_class: String,
    /// Tags in the order given.
    pub tags: Vec<(String, String)>,
    /// `x-oss-server-side-encryption`, stored and echoed only.
    pub sse: Option<String>,
    /// The S3 additional checksum the content was written with (`x-amz-checksum-*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<Checksum>,
}

/// An S3 additional checksum (`x-amz-checksum-crc32|crc32c|crc64nvme|sha1|sha256`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksum {
    /// `crc32`, `crc32c`, `crc64nvme`, `sha1` or `sha256`.
    pub algorithm: String,
    /// base64 of the digest; a composite one ends in `-<parts>`.
    pub value: String,
    /// `FULL_OBJECT` (of the whole content) or `COMPOSITE` (of the parts' checksums).
    pub kind: String,
}

impl Checksum {
    /// A full-object checksum.
    pub fn full(algorithm: &str, value: String) -> Self {
        Checksum {
            algorithm: algorithm.into(),
            value,
            kind: "FULL_OBJECT".into(),
        }
    }

    /// The header that carries it (`x-amz-checksum-crc32`).
    pub fn header(&self) -> String {
        format!("x-amz-checksum-{}", self.algorithm)
    }

    /// The XML element that carries it (`ChecksumCRC32`).
    pub fn element(&self) -> String {
        format!("Checksum{}", self.algorithm.to_ascii_uppercase())
    }
}

/// Where a request body's checksum lands once the body has streamed to its end and matched the
/// checksum it announced (a trailer is only known then).
pub type ChecksumSlot = std::sync::Arc<std::sync::Mutex<Option<Checksum>>>;

/// What is in `slot` (taken).
pub fn take_checksum(slot: &ChecksumSlot) -> Option<Checksum> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).take()
}

impl ObjectAttrs {
    /// The Content-Type, or OSS's default.
    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .map(String::as_str)
            .unwrap_or("application/octet-stream")
    }
}

/// One stored piece of an object's content: a blob file, used whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Generated blob file name.
    pub blob: String,
    /// Its length in bytes.
    pub size: u64,
}

/// An object's metadata, as listings and HEAD report it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// Content length.
    pub size: u64,
    /// ETag without quotes (upper-case hex, `-N` suffix for multipart).
    pub etag: String,
    /// CRC-64/XZ of the content.
    pub crc64: u64,
    /// base64 MD5 of the content, when known (PutObject, PostObject, copies of those).
    pub content_md5: Option<String>,
    /// Last modification time.
    pub last_modified: OffsetDateTime,
    /// How it was created.
    pub object_type: ObjectType,
    /// Headers, metadata, ACL, class and tags.
    pub attrs: ObjectAttrs,
    /// For symlinks: the target key.
    pub symlink_target: Option<String>,
}

/// An object and where its bytes are.
#[derive(Clone, Debug)]
pub struct StoredObject {
    /// Metadata.
    pub meta: ObjectMeta,
    /// Content, in order.
    pub segments: Vec<Segment>,
}

/// An unfinished multipart upload.
#[derive(Clone, Debug)]
pub struct Upload {
    /// The upload id.
    pub upload_id: String,
    /// Its bucket.
    pub bucket: String,
    /// Its key.
    pub key: String,
    /// When it was initiated.
    pub initiated: OffsetDateTime,
    /// Attributes the final object gets.
    pub attrs: ObjectAttrs,
}

/// One uploaded part.
#[derive(Clone, Debug)]
pub struct Part {
    /// 1..=10000.
    pub number: u32,
    /// Where its bytes are.
    pub segment: Segment,
    /// MD5 hex, upper-case (the part's ETag without quotes).
    pub etag: String,
    /// CRC-64/XZ of the part.
    pub crc64: u64,
    /// When it was uploaded.
    pub last_modified: OffsetDateTime,
    /// The S3 additional checksum it was uploaded with.
    pub checksum: Option<Checksum>,
}

/// What happened to an object, named as OSS names its event notifications.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectEvent {
    /// `ObjectCreated:PutObject`
    PutObject,
    /// `ObjectCreated:PostObject`
    PostObject,
    /// `ObjectCreated:CopyObject`
    CopyObject,
    /// `ObjectCreated:AppendObject`
    AppendObject,
    /// `ObjectCreated:PutSymlink`
    PutSymlink,
    /// `ObjectCreated:CompleteMultipartUpload`
    CompleteMultipartUpload,
    /// `ObjectRemoved:DeleteObject`
    DeleteObject,
    /// `ObjectRemoved:DeleteObjects` (one notification per key of a batch delete)
    DeleteObjects,
}

impl ObjectEvent {
    /// The event name as it appears in an OSS event's `eventName`, e.g. `ObjectCreated:PutObject`.
    pub fn name(self) -> &'static str {
        match self {
            ObjectEvent::PutObject => "ObjectCreated:PutObject",
            ObjectEvent::PostObject => "ObjectCreated:PostObject",
            ObjectEvent::CopyObject => "ObjectCreated:CopyObject",
            ObjectEvent::AppendObject => "ObjectCreated:AppendObject",
            ObjectEvent::PutSymlink => "ObjectCreated:PutSymlink",
            ObjectEvent::CompleteMultipartUpload => "ObjectCreated:CompleteMultipartUpload",
            ObjectEvent::DeleteObject => "ObjectRemoved:DeleteObject",
            ObjectEvent::DeleteObjects => "ObjectRemoved:DeleteObjects",
        }
    }

    /// Whether the event creates (or overwrites) an object, as opposed to removing one.
    pub fn is_created(self) -> bool {
        !matches!(self, ObjectEvent::DeleteObject | ObjectEvent::DeleteObjects)
    }
}

/// A change notification: published on [`crate::Oss::changes`] after the change is durable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectChange {
    /// What happened.
    pub event: ObjectEvent,
    /// The bucket.
    pub bucket: String,
    /// The key (plain, not URL-encoded).
    pub key: String,
    /// Size after the change (for removals: the size of what was removed, 0 if nothing was).
    pub size: u64,
    /// Size after minus size before (negative for removals and shrinking overwrites).
    pub delta_size: i64,
    /// ETag without quotes (empty for removals of missing keys).
    pub etag: String,
    /// Content-Type of the object (empty for removals).
    pub content_type: String,
    /// User metadata, lower-case names without prefix.
    pub user_meta: BTreeMap<String, String>,
    /// The request that made the change.
    pub request_id: String,
    /// The client's IP address (`127.0.0.1` when unknown).
    pub source_ip: String,
    /// The invocation whose request made the change, and the chain depth (see
    /// [`fcemu_core::Cause`]).
    pub cause: fcemu_core::Cause,
    /// When the change was made (the emulator's clock).
    pub time: OffsetDateTime,
}
