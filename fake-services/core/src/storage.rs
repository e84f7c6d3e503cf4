//! Where a service keeps its state: a directory that persists, or a temporary one removed at exit.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

/// A service's data directory.
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    /// Held only so the directory is removed when the emulator exits (`--in-memory`).
    _temp: Option<tempfile_guard::TempGuard>,
}

mod tempfile_guard {
    /// Removes a directory tree on drop.
    #[derive(Debug)]
    pub struct TempGuard(pub std::path::PathBuf);
    impl Drop for TempGuard {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl DataDir {
    /// A persistent directory, created if missing.
    pub fn persistent(path: impl Into<PathBuf>) -> std::io::Result<Self> {
        let path = path.into();
        std::fs::create_dir_all(&path)?;
        Ok(Self { path, _temp: None })
    }

    /// A fresh directory under the system temp dir, removed when this value is dropped.
    pub fn temporary(label: &str) -> std::io::Result<Self> {
        let path = std::env::temp_dir().join(format!(
            "fcemu-{label}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&path)?;
        Ok(Self {
            _temp: Some(tempfile_guard::TempGuard(path.clone())),
            path,
        })
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A sub-directory for one service, created if missing.
    pub fn service_dir(&self, service: &str) -> std::io::Result<PathBuf> {
        let dir = self.path.join(service);
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }
}

/// Opens (or creates) a SQLite database in WAL mode with full fsync, and brings its schema up to
/// date: `migrations[i]` runs once, when the database's `user_version` is `i`.
pub fn open_sqlite(path: &Path, migrations: &[&str]) -> rusqlite::Result<Connection> {
    let mut conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    migrate(&mut conn, migrations)?;
    Ok(conn)
}

/// Makes the directory entries of `dir` durable (a created, renamed or removed file inside it).
///
/// `File::sync_all` on a new file makes its bytes durable but not its name; a crash after the
/// file's fsync but before the directory's could lose the file. Call this after creating or
/// renaming files whose existence is about to be recorded elsewhere.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Writes `bytes` to `path` durably: a temporary file beside it is written and fsynced, renamed
/// over `path`, and the directory fsynced, so a crash leaves either the old file or the new one.
pub fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        uuid::Uuid::new_v4().simple()
    ));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    sync_dir(dir)
}

fn migrate(conn: &mut Connection, migrations: &[&str]) -> rusqlite::Result<()> {
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (i, sql) in migrations.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
        tracing::debug!(version = i + 1, "migrated database schema");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_run_once() {
        let dir = DataDir::temporary("test").unwrap();
        let db = dir.path().join("a.db");
        let m = ["CREATE TABLE t (x INTEGER);", "INSERT INTO t VALUES (1);"];
        drop(open_sqlite(&db, &m).unwrap());
        let conn = open_sqlite(&db, &m).unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn durable_write_replaces_file() {
        let dir = DataDir::temporary("durable").unwrap();
        let p = dir.path().join("f");
        write_durably(&p, b"one").unwrap();
        write_durably(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        sync_dir(dir.path()).unwrap();
    }

    #[test]
    fn temporary_dir_is_removed_on_drop() {
        let dir = DataDir::temporary("gone").unwrap();
        let p = dir.path().to_path_buf();
        assert!(p.exists());
        drop(dir);
        assert!(!p.exists());
    }
}

/// A service's database (with whatever goes with it) behind one lock, used on the blocking
/// pool by one request at a time — the one contract every store shares: [`Locked::call`] runs
/// a closure with it; [`Locked::call_then`] also runs `committed` after the closure returned
/// `Ok` (its writes committed), still under the lock, so change notifications published there
/// arrive in commit order.
#[derive(Debug)]
pub struct Locked<D> {
    inner: std::sync::Arc<std::sync::Mutex<D>>,
}

impl<D> Clone for Locked<D> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<D: Send + 'static> Locked<D> {
    /// Puts `db` behind the lock.
    pub fn new(db: D) -> Self {
        Self {
            inner: std::sync::Arc::new(std::sync::Mutex::new(db)),
        }
    }

    /// Runs `f` with the database on the blocking pool.
    pub async fn call<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<tokio::task::JoinError> + Send + 'static,
        F: FnOnce(&mut D) -> Result<T, E> + Send + 'static,
    {
        self.call_then(f, |_| {}).await
    }

    /// Runs `f`, then — when it succeeded — `committed` with its result, both under the lock.
    pub async fn call_then<T, E, F, G>(&self, f: F, committed: G) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<tokio::task::JoinError> + Send + 'static,
        F: FnOnce(&mut D) -> Result<T, E> + Send + 'static,
        G: FnOnce(&mut T) + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = inner.lock().unwrap_or_else(|e| e.into_inner());
            let mut out = f(&mut guard)?;
            committed(&mut out);
            Ok(out)
        })
        .await?
    }

    /// Runs `f` with the database on the calling thread (start-up, tests).
    pub fn with_blocking<T>(&self, f: impl FnOnce(&mut D) -> T) -> T {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }
}
