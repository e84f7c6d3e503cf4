//! Blob files: object and part contents, one file per upload, named by a generated id (never by
//! the key). A blob is written completely and fsynced (file and directory) before any metadata
//! refers to it, and is never modified afterwards.

use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;

use crate::OssError;

/// The directory holding blob files, fanned out over 256 sub-directories.
#[derive(Debug)]
pub struct BlobDir {
    root: PathBuf,
    durable: bool,
}

impl BlobDir {
    /// Opens (creating) the blob directory. With `durable: false` (in-memory mode) nothing is
    /// fsynced.
    pub fn open(root: PathBuf, durable: bool) -> std::io::Result<Self> {
        for i in 0..=255u8 {
            std::fs::create_dir_all(root.join(format!("{i:02x}")))?;
        }
        if durable {
            fcemu_core::storage::sync_dir(&root)?;
            if let Some(parent) = root.parent() {
                fcemu_core::storage::sync_dir(parent)?;
            }
        }
        Ok(Self { root, durable })
    }

    /// A fresh blob name. Random even in deterministic runs: names must not repeat across
    /// restarts over the same data directory, and they never reach the wire.
    pub fn new_name() -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }

    /// Where blob `name` lives.
    pub fn path(&self, name: &str) -> PathBuf {
        let fan = name.get(..2).unwrap_or("00");
        self.root.join(fan).join(name)
    }

    /// Starts writing a new blob.
    pub async fn create(&self) -> Result<BlobWriter, OssError> {
        let name = Self::new_name();
        let path = self.path(&name);
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await?;
        Ok(BlobWriter {
            name,
            path,
            file: Some(file),
            written: 0,
            durable: self.durable,
        })
    }

    /// Removes a blob file (missing is fine).
    pub fn remove(&self, name: &str) {
        let path = self.path(name);
        if let Err(e) = std::fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), error = %e, "could not remove blob");
        }
    }

    /// Every blob file present, for garbage collection at start-up.
    pub fn all(&self) -> std::io::Result<Vec<String>> {
        let mut names = Vec::new();
        for fan in std::fs::read_dir(&self.root)? {
            let fan = fan?;
            if !fan.file_type()?.is_dir() {
                continue;
            }
            for f in std::fs::read_dir(fan.path())? {
                if let Some(n) = f?.file_name().to_str() {
                    names.push(n.to_string());
                }
            }
        }
        Ok(names)
    }
}

/// A blob being written. Dropped without [`BlobWriter::finish`], the partial file is removed.
#[derive(Debug)]
pub struct BlobWriter {
    name: String,
    path: PathBuf,
    file: Option<tokio::fs::File>,
    written: u64,
    durable: bool,
}

impl BlobWriter {
    /// Appends bytes.
    pub async fn write(&mut self, data: &[u8]) -> Result<(), OssError> {
        if let Some(f) = self.file.as_mut() {
            f.write_all(data).await?;
            self.written += data.len() as u64;
        }
        Ok(())
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Makes the blob durable (file and directory entry) and returns its name.
    pub async fn finish(mut self) -> Result<String, OssError> {
        let mut file = self.file.take().expect("finish called once");
        file.flush().await?;
        if self.durable {
            file.sync_all().await?;
            drop(file);
            let dir = self
                .path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            tokio::task::spawn_blocking(move || fcemu_core::storage::sync_dir(&dir)).await??;
        }
        Ok(std::mem::take(&mut self.name))
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if !self.name.is_empty() {
            self.file.take();
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
