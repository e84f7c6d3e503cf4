//! Small objects kept in memory, so a repeated GET or HEAD is answered without a trip to the
//! blocking pool and SQLite.
//!
//! Consistency rests on the database lock: entries are added only by a reader holding it, right
//! after reading the rows, and every change to an object's rows removes its entry while holding
//! it. So an entry never outlives the rows it was read from, and once a write is acknowledged no
//! reader can see the old entry. Symlinks are never cached (their content is another key's).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use bytes::Bytes;

use crate::model::StoredObject;

/// Total content bytes the cache may hold; when a new entry would exceed it, the cache starts
/// over empty (simple, and a working set this large is not the small-object case it serves).
pub const CACHE_BYTES: usize = 32 << 20;

/// A cached object: its rows and its whole content.
#[derive(Debug)]
pub struct Cached {
    /// The object's metadata and segments, as read.
    pub object: StoredObject,
    /// The whole content.
    pub content: Bytes,
}

#[derive(Debug, Default)]
struct Entries {
    by_bucket: HashMap<String, HashMap<String, Arc<Cached>>>,
    bytes: usize,
}

/// Objects by bucket and key.
#[derive(Debug, Default)]
pub struct ObjectCache {
    entries: RwLock<Entries>,
}

impl ObjectCache {
    /// The cached object at `bucket`/`key`, if any.
    pub fn get(&self, bucket: &str, key: &str) -> Option<Arc<Cached>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.by_bucket.get(bucket)?.get(key).cloned()
    }

    /// Remembers an object just read under the database lock (symlinks are ignored).
    pub fn insert(&self, object: &StoredObject, content: &Bytes) {
        if object.meta.symlink_target.is_some() || content.len() > CACHE_BYTES {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.bytes + content.len() > CACHE_BYTES {
            *entries = Entries::default();
        }
        entries.bytes += content.len();
        let cached = Arc::new(Cached {
            object: object.clone(),
            content: content.clone(),
        });
        let old = entries
            .by_bucket
            .entry(object.meta.bucket.clone())
            .or_default()
            .insert(object.meta.key.clone(), cached);
        if let Some(old) = old {
            entries.bytes -= old.content.len();
        }
    }

    /// Forgets everything (call under the database lock).
    pub fn clear(&self) {
        *self.entries.write().unwrap_or_else(|e| e.into_inner()) = Entries::default();
    }

    /// Forgets `bucket`/`key` (call under the database lock whenever its rows change).
    pub fn forget(&self, bucket: &str, key: &str) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        let removed = entries
            .by_bucket
            .get_mut(bucket)
            .and_then(|objects| objects.remove(key));
        if let Some(old) = removed {
            entries.bytes -= old.content.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ObjectAttrs, ObjectMeta, ObjectType};

    fn object(key: &str, symlink: Option<&str>) -> StoredObject {
        StoredObject {
            meta: ObjectMeta {
                bucket: "b".into(),
                key: key.into(),
                size: 3,
                etag: "E".into(),
                crc64: 0,
                content_md5: None,
                last_modified: time::OffsetDateTime::UNIX_EPOCH,
                object_type: ObjectType::Normal,
                attrs: ObjectAttrs::default(),
                symlink_target: symlink.map(str::to_string),
            },
            segments: Vec::new(),
        }
    }

    #[test]
    fn forget_removes_and_replacing_keeps_the_byte_count() {
        let cache = ObjectCache::default();
        cache.insert(&object("k", None), &Bytes::from_static(b"abc"));
        cache.insert(&object("k", None), &Bytes::from_static(b"abcd"));
        assert_eq!(&cache.get("b", "k").unwrap().content[..], b"abcd");
        assert_eq!(cache.entries.read().unwrap().bytes, 4);
        cache.forget("b", "k");
        assert!(cache.get("b", "k").is_none());
        assert_eq!(cache.entries.read().unwrap().bytes, 0);
    }

    #[test]
    fn symlinks_are_not_cached() {
        let cache = ObjectCache::default();
        cache.insert(&object("link", Some("k")), &Bytes::from_static(b"abc"));
        assert!(cache.get("b", "link").is_none());
    }
}
