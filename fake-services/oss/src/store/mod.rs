//! Persistence: SQLite (WAL, synchronous=FULL) for metadata, [`blobs`] for contents.
//!
//! Every database call runs on the blocking pool ([`Store::call`]) under one mutex, so a
//! multi-step change (copy: read the source, insert the target) is atomic with respect to every
//! other change, and blob files are removed only while the lock is held and after the commit
//! that stopped referring to them. Small objects are also kept in [`cache`], which answers
//! repeated reads without the blocking pool.

pub mod blobs;
pub mod cache;

use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use time::OffsetDateTime;

use crate::OssError;
use crate::model::{
    Bucket, ObjectAttrs, ObjectMeta, ObjectType, Part, Segment, StoredObject, Upload,
};
use blobs::BlobDir;
use cache::{Cached, ObjectCache};

const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE buckets (
    name TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    acl TEXT NOT NULL,
    storage_class TEXT NOT NULL
);
CREATE TABLE objects (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    crc64 INTEGER NOT NULL,
    content_md5 TEXT,
    last_modified_ms INTEGER NOT NULL,
    object_type TEXT NOT NULL,
    attrs TEXT NOT NULL,
    symlink_target TEXT,
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE TABLE segments (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    idx INTEGER NOT NULL,
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (bucket, key, idx)
) WITHOUT ROWID;
CREATE INDEX segments_by_blob ON segments (blob);
CREATE TABLE uploads (
    upload_id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    initiated_ms INTEGER NOT NULL,
    attrs TEXT NOT NULL
);
CREATE INDEX uploads_by_key ON uploads (bucket, key, initiated_ms);
CREATE TABLE parts (
    upload_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    crc64 INTEGER NOT NULL,
    last_modified_ms INTEGER NOT NULL,
    PRIMARY KEY (upload_id, number)
);
CREATE INDEX parts_by_blob ON parts (blob);
",
    "
ALTER TABLE buckets ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
",
    "
ALTER TABLE buckets ADD COLUMN cors TEXT;
",
    "
ALTER TABLE parts ADD COLUMN checksum TEXT;
",
];

/// The object store's persistent state.
#[derive(Clone, Debug)]
pub struct Store {
    db: fcemu_core::storage::Locked<Db>,
    blobs: Arc<BlobDir>,
    cache: Arc<ObjectCache>,
}

/// The database connection and the blob directory, used under the store's lock.
#[derive(Debug)]
pub struct Db {
    conn: Connection,
    blobs: Arc<BlobDir>,
    cache: Arc<ObjectCache>,
}

impl Store {
    /// Opens the store in `dir` (`meta.db` and `blobs/`), and removes blob files that no metadata
    /// refers to (left by writes interrupted by a crash). `durable: false` skips every fsync
    /// (for a temporary directory that does not outlive the process).
    pub fn open(dir: &Path, durable: bool) -> Result<Self, OssError> {
        std::fs::create_dir_all(dir)?;
        let blobs = Arc::new(BlobDir::open(dir.join("blobs"), durable)?);
        let conn = fcemu_core::storage::open_sqlite(&dir.join("meta.db"), MIGRATIONS)?;
        if !durable {
            conn.pragma_update(None, "synchronous", "OFF")?;
        }
        let cache = Arc::new(ObjectCache::default());
        let db = Db {
            conn,
            blobs: blobs.clone(),
            cache: cache.clone(),
        };
        let removed = db.collect_orphans()?;
        if removed > 0 {
            tracing::info!(removed, "removed blob files of interrupted writes");
        }
        Ok(Self {
            db: fcemu_core::storage::Locked::new(db),
            blobs,
            cache,
        })
    }

    /// The cached copy of a small object, read without the database (see [`cache`]).
    pub fn cached(&self, bucket: &str, key: &str) -> Option<Arc<Cached>> {
        self.cache.get(bucket, key)
    }

    /// The blob directory (writes happen outside the lock; only names enter the database).
    pub fn blobs(&self) -> &BlobDir {
        &self.blobs
    }

    /// Runs `f` with the database on the blocking pool.
    pub async fn call<T, F>(&self, f: F) -> Result<T, OssError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Db) -> Result<T, OssError> + Send + 'static,
    {
        self.db.call(f).await
    }

    /// Runs `f`, which returns its result and the changes it made, and publishes those on
    /// `feed` under the store's lock once `f` has committed: notifications follow commit order.
    pub async fn call_publishing<T, F>(
        &self,
        feed: &fcemu_core::ChangeFeed<crate::ObjectChange>,
        f: F,
    ) -> Result<T, OssError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Db) -> Result<(T, Vec<crate::ObjectChange>), OssError> + Send + 'static,
    {
        let feed = feed.clone();
        let (out, _) = self
            .db
            .call_then(f, move |(_, changes)| {
                for c in changes.drain(..) {
                    feed.publish(c);
                }
            })
            .await?;
        Ok(out)
    }
}

fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn attrs_json(a: &ObjectAttrs) -> String {
    serde_json::to_string(a).unwrap_or_else(|_| "{}".into())
}

fn attrs_from(s: &str) -> ObjectAttrs {
    serde_json::from_str(s).unwrap_or_default()
}

const OBJECT_COLS: &str = "bucket, key, size, etag, crc64, content_md5, last_modified_ms, object_type, attrs, symlink_target";

fn object_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ObjectMeta> {
    Ok(ObjectMeta {
        bucket: r.get(0)?,
        key: r.get(1)?,
        size: r.get::<_, i64>(2)? as u64,
        etag: r.get(3)?,
        crc64: r.get::<_, i64>(4)? as u64,
        content_md5: r.get(5)?,
        last_modified: from_ms(r.get(6)?),
        object_type: ObjectType::parse(&r.get::<_, String>(7)?),
        attrs: attrs_from(&r.get::<_, String>(8)?),
        symlink_target: r.get(9)?,
    })
}

fn bucket_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Bucket> {
    Ok(Bucket {
        name: r.get(0)?,
        created: from_ms(r.get(1)?),
        acl: r.get(2)?,
        storage_class: r.get(3)?,
    })
}

impl Db {
    fn collect_orphans(&self) -> Result<usize, OssError> {
        let mut referenced = std::collections::HashSet::new();
        for sql in ["SELECT blob FROM segments", "SELECT blob FROM parts"] {
            let mut stmt = self.conn.prepare(sql)?;
            for b in stmt.query_map([], |r| r.get::<_, String>(0))? {
                referenced.insert(b?);
            }
        }
        let mut removed = 0;
        for name in self.blobs.all()? {
            if !referenced.contains(&name) {
                self.blobs.remove(&name);
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// The blob directory.
    pub fn blobs(&self) -> &BlobDir {
        &self.blobs
    }

    /// Keeps a small object just read (with its whole content) for later reads.
    pub fn remember(&self, object: &StoredObject, content: &bytes::Bytes) {
        self.cache.insert(object, content);
    }

    /// Forgets every bucket, object and upload, and removes every blob file.
    pub fn wipe(&mut self) -> Result<(), OssError> {
        self.cache.clear();
        let tx = self.conn.transaction()?;
        for table in ["parts", "uploads", "segments", "objects", "buckets"] {
            tx.execute(&format!("DELETE FROM {table}"), [])?;
        }
        tx.commit()?;
        for name in self.blobs.all()? {
            self.blobs.remove(&name);
        }
        Ok(())
    }

    // ---- buckets ----

    /// Creates a bucket; `false` when the name exists.
    pub fn insert_bucket(&mut self, b: &Bucket) -> Result<bool, OssError> {
        let n = self.conn.execute(
            "INSERT OR IGNORE INTO buckets (name, created_ms, acl, storage_class) VALUES (?1, ?2, ?3, ?4)",
            params![b.name, ms(b.created), b.acl, b.storage_class],
        )?;
        Ok(n == 1)
    }

    /// A bucket, if it exists.
    pub fn bucket(&self, name: &str) -> Result<Option<Bucket>, OssError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT name, created_ms, acl, storage_class FROM buckets WHERE name = ?1",
        )?;
        Ok(stmt.query_row([name], bucket_row).optional()?)
    }

    /// A bucket, or `NoSuchBucket`.
    pub fn require_bucket(&self, name: &str) -> Result<Bucket, OssError> {
        self.bucket(name)?.ok_or_else(|| OssError::NoSuchBucket {
            bucket: name.to_string(),
        })
    }

    /// All buckets by name.
    pub fn buckets(&self) -> Result<Vec<Bucket>, OssError> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, created_ms, acl, storage_class FROM buckets ORDER BY name")?;
        let rows = stmt.query_map([], bucket_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes an empty bucket.
    pub fn delete_bucket(&mut self, name: &str, abort_uploads: bool) -> Result<(), OssError> {
        self.require_bucket(name)?;
        let busy: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM objects WHERE bucket = ?1) OR (?2 = 0 AND EXISTS (SELECT 1 FROM uploads WHERE bucket = ?1))",
            rusqlite::params![name, abort_uploads],
            |r| r.get(0),
        )?;
        if busy {
            return Err(OssError::BucketNotEmpty {
                bucket: name.to_string(),
            });
        }
        if abort_uploads {
            let ids: Vec<String> = {
                let mut stmt = self
                    .conn
                    .prepare("SELECT upload_id FROM uploads WHERE bucket = ?1")?;
                stmt.query_map([name], |r| r.get(0))?
                    .collect::<Result<_, _>>()?
            };
            for id in ids {
                self.delete_upload(&id)?;
            }
        }
        self.conn
            .execute("DELETE FROM buckets WHERE name = ?1", [name])?;
        Ok(())
    }

    /// Sets a bucket's ACL.
    pub fn set_bucket_acl(&mut self, name: &str, acl: &str) -> Result<(), OssError> {
        self.require_bucket(name)?;
        self.conn.execute(
            "UPDATE buckets SET acl = ?2 WHERE name = ?1",
            params![name, acl],
        )?;
        Ok(())
    }

    /// A bucket's CORS rules, if it has any.
    pub fn bucket_cors(&self, name: &str) -> Result<Option<crate::cors::CorsConfig>, OssError> {
        self.require_bucket(name)?;
        let json: Option<String> =
            self.conn
                .query_row("SELECT cors FROM buckets WHERE name = ?1", [name], |r| {
                    r.get(0)
                })?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    /// Replaces a bucket's CORS rules (`None` removes them).
    pub fn set_bucket_cors(
        &mut self,
        name: &str,
        cors: Option<&crate::cors::CorsConfig>,
    ) -> Result<(), OssError> {
        self.require_bucket(name)?;
        let json = cors
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| OssError::Internal(e.to_string()))?;
        self.conn.execute(
            "UPDATE buckets SET cors = ?2 WHERE name = ?1",
            params![name, json],
        )?;
        Ok(())
    }

    /// A bucket's tags, in the order they were set.
    pub fn bucket_tags(&self, name: &str) -> Result<Vec<(String, String)>, OssError> {
        self.require_bucket(name)?;
        let json: String =
            self.conn
                .query_row("SELECT tags FROM buckets WHERE name = ?1", [name], |r| {
                    r.get(0)
                })?;
        Ok(serde_json::from_str(&json).unwrap_or_default())
    }

    /// Replaces a bucket's tags.
    pub fn set_bucket_tags(
        &mut self,
        name: &str,
        tags: &[(String, String)],
    ) -> Result<(), OssError> {
        self.require_bucket(name)?;
        let json = serde_json::to_string(tags).map_err(|e| OssError::Internal(e.to_string()))?;
        self.conn.execute(
            "UPDATE buckets SET tags = ?2 WHERE name = ?1",
            params![name, json],
        )?;
        Ok(())
    }

    /// Object count and total size of a bucket, and its unfinished uploads.
    pub fn bucket_stat(&self, name: &str) -> Result<crate::model::BucketStat, OssError> {
        let (count, size, last): (i64, i64, Option<i64>) = self.conn.query_row(
            "SELECT count(*), coalesce(sum(size), 0), max(last_modified_ms) FROM objects WHERE bucket = ?1",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let uploads: i64 = self.conn.query_row(
            "SELECT count(*) FROM uploads WHERE bucket = ?1",
            [name],
            |r| r.get(0),
        )?;
        Ok(crate::model::BucketStat {
            objects: count as u64,
            bytes: size as u64,
            uploads: uploads as u64,
            last_modified: last.and_then(|ms| {
                OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
            }),
        })
    }

    // ---- objects ----

    /// An object's metadata.
    pub fn object_meta(&self, bucket: &str, key: &str) -> Result<Option<ObjectMeta>, OssError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {OBJECT_COLS} FROM objects WHERE bucket = ?1 AND key = ?2"),
                [bucket, key],
                object_row,
            )
            .optional()?)
    }

    /// An object with its segments.
    pub fn object(&self, bucket: &str, key: &str) -> Result<Option<StoredObject>, OssError> {
        let Some(meta) = self.object_meta(bucket, key)? else {
            return Ok(None);
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT blob, size FROM segments WHERE bucket = ?1 AND key = ?2 ORDER BY idx",
        )?;
        let segments = stmt
            .query_map([bucket, key], |r| {
                Ok(Segment {
                    blob: r.get(0)?,
                    size: r.get::<_, i64>(1)? as u64,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(Some(StoredObject { meta, segments }))
    }

    /// Opens the files of `segments` (under the lock, so none can be removed in between; an
    /// open file stays readable after a later overwrite unlinks it).
    pub fn open_segments(&self, segments: &[Segment]) -> Result<Vec<std::fs::File>, OssError> {
        segments
            .iter()
            .map(|s| {
                std::fs::File::open(self.blobs.path(&s.blob)).map_err(|e| {
                    OssError::Internal(format!("blob {} of an object is unreadable: {e}", s.blob))
                })
            })
            .collect()
    }

    fn insert_object_rows(tx: &Transaction<'_>, obj: &StoredObject) -> Result<(), OssError> {
        let m = &obj.meta;
        tx.execute(
            &format!("INSERT INTO objects ({OBJECT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
            params![
                m.bucket,
                m.key,
                m.size as i64,
                m.etag,
                m.crc64 as i64,
                m.content_md5,
                ms(m.last_modified),
                m.object_type.as_str(),
                attrs_json(&m.attrs),
                m.symlink_target
            ],
        )?;
        let mut stmt = tx.prepare_cached(
            "INSERT INTO segments (bucket, key, idx, blob, size) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (i, s) in obj.segments.iter().enumerate() {
            stmt.execute(params![m.bucket, m.key, i as i64, s.blob, s.size as i64])?;
        }
        Ok(())
    }

    /// Removes an object's rows inside `tx`; returns the blobs it used.
    fn remove_object_rows(
        tx: &Transaction<'_>,
        cache: &ObjectCache,
        bucket: &str,
        key: &str,
    ) -> Result<Vec<String>, OssError> {
        cache.forget(bucket, key);
        let blobs: Vec<String> = {
            let mut stmt =
                tx.prepare_cached("SELECT blob FROM segments WHERE bucket = ?1 AND key = ?2")?;
            stmt.query_map([bucket, key], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        tx.execute(
            "DELETE FROM segments WHERE bucket = ?1 AND key = ?2",
            [bucket, key],
        )?;
        tx.execute(
            "DELETE FROM objects WHERE bucket = ?1 AND key = ?2",
            [bucket, key],
        )?;
        Ok(blobs)
    }

    /// Removes the files of `candidates` that nothing refers to any more (call after commit).
    fn release(&self, candidates: Vec<String>) -> Result<(), OssError> {
        let mut seg = self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM segments WHERE blob = ?1) OR EXISTS (SELECT 1 FROM parts WHERE blob = ?1)")?;
        for b in candidates {
            let used: bool = seg.query_row([&b], |r| r.get(0))?;
            if !used {
                self.blobs.remove(&b);
            }
        }
        Ok(())
    }

    /// Stores `obj`, replacing any object with its key; returns the replaced object's metadata.
    /// With `forbid_overwrite`, an existing object is an error and nothing changes.
    pub fn put_object(
        &mut self,
        obj: &StoredObject,
        forbid_overwrite: bool,
    ) -> Result<Option<ObjectMeta>, OssError> {
        self.require_bucket(&obj.meta.bucket)?;
        let old = self.object_meta(&obj.meta.bucket, &obj.meta.key)?;
        if forbid_overwrite && old.is_some() {
            return Err(OssError::FileAlreadyExists);
        }
        let tx = self.conn.transaction()?;
        let freed = Self::remove_object_rows(&tx, &self.cache, &obj.meta.bucket, &obj.meta.key)?;
        Self::insert_object_rows(&tx, obj)?;
        tx.commit()?;
        self.release(freed)?;
        Ok(old)
    }

    /// Deletes an object; returns what was deleted.
    pub fn delete_object(
        &mut self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<ObjectMeta>, OssError> {
        let old = self.object_meta(bucket, key)?;
        if old.is_none() {
            return Ok(None);
        }
        let tx = self.conn.transaction()?;
        let freed = Self::remove_object_rows(&tx, &self.cache, bucket, key)?;
        tx.commit()?;
        self.release(freed)?;
        Ok(old)
    }

    /// Replaces an object's attributes (ACL, tags) without touching content or mtime.
    pub fn set_object_attrs(
        &mut self,
        bucket: &str,
        key: &str,
        attrs: &ObjectAttrs,
    ) -> Result<(), OssError> {
        self.cache.forget(bucket, key);
        let n = self.conn.execute(
            "UPDATE objects SET attrs = ?3 WHERE bucket = ?1 AND key = ?2",
            params![bucket, key, attrs_json(attrs)],
        )?;
        if n == 0 {
            return Err(OssError::NoSuchKey {
                key: key.to_string(),
            });
        }
        Ok(())
    }

    /// Up to `limit` objects of `bucket` whose keys start with `prefix` and sort after `after`
    /// (byte order of UTF-8, which is SQLite's BINARY collation).
    pub fn scan_objects(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ObjectMeta>, OssError> {
        let start = match after {
            Some(a) if a >= prefix => a,
            _ => prefix,
        };
        let op = if after.is_some_and(|a| a >= prefix) {
            ">"
        } else {
            ">="
        };
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {OBJECT_COLS} FROM objects WHERE bucket = ?1 AND key {op} ?2 ORDER BY key LIMIT ?3"
        ))?;
        let mut out = Vec::new();
        for row in stmt.query_map(params![bucket, start, limit as i64], object_row)? {
            let m = row?;
            if !m.key.starts_with(prefix) {
                break;
            }
            out.push(m);
        }
        Ok(out)
    }

    // ---- multipart ----

    /// Records a new upload; `false` when the upload id is taken.
    pub fn insert_upload(&mut self, u: &Upload) -> Result<bool, OssError> {
        self.require_bucket(&u.bucket)?;
        let n = self.conn.execute(
            "INSERT OR IGNORE INTO uploads (upload_id, bucket, key, initiated_ms, attrs) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![u.upload_id, u.bucket, u.key, ms(u.initiated), attrs_json(&u.attrs)],
        )?;
        Ok(n == 1)
    }

    /// An upload of `bucket`/`key`, or `NoSuchUpload`.
    pub fn upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<Upload, OssError> {
        self.require_bucket(bucket)?;
        let u = self
            .conn
            .query_row(
                "SELECT upload_id, bucket, key, initiated_ms, attrs FROM uploads WHERE upload_id = ?1",
                [upload_id],
                upload_row,
            )
            .optional()?;
        match u {
            Some(u) if u.bucket == bucket && u.key == key => Ok(u),
            _ => Err(OssError::NoSuchUpload {
                upload_id: upload_id.to_string(),
            }),
        }
    }

    /// Unfinished uploads of a bucket, by key then initiation time, starting after the markers.
    pub fn scan_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        key_marker: &str,
        upload_id_marker: &str,
    ) -> Result<Vec<Upload>, OssError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT upload_id, bucket, key, initiated_ms, attrs FROM uploads WHERE bucket = ?1 ORDER BY key, upload_id",
        )?;
        let all: Vec<Upload> = stmt
            .query_map([bucket], upload_row)?
            .collect::<Result<_, _>>()?;
        Ok(all
            .into_iter()
            .filter(|u| u.key.starts_with(prefix))
            .filter(|u| {
                key_marker.is_empty()
                    || u.key.as_str() > key_marker
                    || (u.key == key_marker
                        && !upload_id_marker.is_empty()
                        && u.upload_id.as_str() > upload_id_marker)
            })
            .collect())
    }

    /// Stores a part, replacing one with the same number.
    pub fn put_part(&mut self, upload_id: &str, p: &Part) -> Result<(), OssError> {
        let tx = self.conn.transaction()?;
        let old: Option<String> = tx
            .query_row(
                "SELECT blob FROM parts WHERE upload_id = ?1 AND number = ?2",
                params![upload_id, p.number],
                |r| r.get(0),
            )
            .optional()?;
        tx.execute(
            "INSERT OR REPLACE INTO parts (upload_id, number, blob, size, etag, crc64, last_modified_ms, checksum) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                upload_id,
                p.number,
                p.segment.blob,
                p.segment.size as i64,
                p.etag,
                p.crc64 as i64,
                ms(p.last_modified),
                p.checksum
                    .as_ref()
                    .and_then(|c| serde_json::to_string(c).ok())
            ],
        )?;
        tx.commit()?;
        self.release(old.into_iter().collect())?;
        Ok(())
    }

    /// An upload's parts by number.
    pub fn parts(&self, upload_id: &str) -> Result<Vec<Part>, OssError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT number, blob, size, etag, crc64, last_modified_ms, checksum FROM parts WHERE upload_id = ?1 ORDER BY number",
        )?;
        let rows = stmt.query_map([upload_id], |r| {
            Ok(Part {
                number: r.get(0)?,
                segment: Segment {
                    blob: r.get(1)?,
                    size: r.get::<_, i64>(2)? as u64,
                },
                etag: r.get(3)?,
                crc64: r.get::<_, i64>(4)? as u64,
                last_modified: from_ms(r.get(5)?),
                checksum: r
                    .get::<_, Option<String>>(6)?
                    .and_then(|c| serde_json::from_str(&c).ok()),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Forgets an upload and its parts.
    pub fn delete_upload(&mut self, upload_id: &str) -> Result<(), OssError> {
        let freed: Vec<String> = self
            .parts(upload_id)?
            .into_iter()
            .map(|p| p.segment.blob)
            .collect();
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM parts WHERE upload_id = ?1", [upload_id])?;
        tx.execute("DELETE FROM uploads WHERE upload_id = ?1", [upload_id])?;
        tx.commit()?;
        self.release(freed)?;
        Ok(())
    }

    /// Completes an upload: in one transaction stores `obj` (whose segments are some of the
    /// upload's part blobs) and forgets the upload; unused parts are released.
    pub fn complete_upload(
        &mut self,
        upload_id: &str,
        obj: &StoredObject,
        forbid_overwrite: bool,
    ) -> Result<Option<ObjectMeta>, OssError> {
        let old = self.object_meta(&obj.meta.bucket, &obj.meta.key)?;
        if forbid_overwrite && old.is_some() {
            return Err(OssError::FileAlreadyExists);
        }
        let mut freed: Vec<String> = self
            .parts(upload_id)?
            .into_iter()
            .map(|p| p.segment.blob)
            .collect();
        let tx = self.conn.transaction()?;
        freed.extend(Self::remove_object_rows(
            &tx,
            &self.cache,
            &obj.meta.bucket,
            &obj.meta.key,
        )?);
        Self::insert_object_rows(&tx, obj)?;
        tx.execute("DELETE FROM parts WHERE upload_id = ?1", [upload_id])?;
        tx.execute("DELETE FROM uploads WHERE upload_id = ?1", [upload_id])?;
        tx.commit()?;
        self.release(freed)?;
        Ok(old)
    }
}

fn upload_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Upload> {
    Ok(Upload {
        upload_id: r.get(0)?,
        bucket: r.get(1)?,
        key: r.get(2)?,
        initiated: from_ms(r.get(3)?),
        attrs: attrs_from(&r.get::<_, String>(4)?),
    })
}
