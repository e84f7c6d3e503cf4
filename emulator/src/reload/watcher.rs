//! The file watcher: a `notify` watcher on directories, whose events are sent, one per path, to
//! the reload loop.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc::UnboundedSender;

use super::debounce::FileEvent;

/// Watches a set of directories; the set can change as the plan does.
pub struct DirWatcher {
    inner: RecommendedWatcher,
    watching: BTreeMap<PathBuf, bool>,
}

impl DirWatcher {
    /// A watcher that sends every event's paths to `tx`.
    pub fn new(tx: UnboundedSender<FileEvent>) -> notify::Result<Self> {
        let inner = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            let at = Instant::now();
            match res {
                Ok(event) => {
                    let Some(settled) = meaning(&event.kind) else {
                        return;
                    };
                    for path in event.paths {
                        let _ = tx.send(FileEvent { path, settled, at });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "file watcher error"),
            }
        })?;
        Ok(DirWatcher {
            inner,
            watching: BTreeMap::new(),
        })
    }

    /// Watches exactly `dirs` (directory → recursively or not) from now on; returns whether
    /// anything changed.
    pub fn sync(&mut self, dirs: BTreeMap<PathBuf, bool>) -> bool {
        if dirs == self.watching {
            return false;
        }
        for (dir, recursive) in &self.watching {
            if dirs.get(dir) != Some(recursive)
                && let Err(e) = self.inner.unwatch(dir)
            {
                tracing::debug!(dir = %dir.display(), error = %e, "unwatch");
            }
        }
        let mut watching = BTreeMap::new();
        for (dir, recursive) in dirs {
            if self.watching.get(&dir) != Some(&recursive) {
                let mode = if recursive {
                    RecursiveMode::Recursive
                } else {
                    RecursiveMode::NonRecursive
                };
                if let Err(e) = self.inner.watch(&dir, mode) {
                    tracing::warn!(dir = %dir.display(), error = %e, "cannot watch directory");
                    continue;
                }
                tracing::debug!(dir = %dir.display(), recursive, "watching");
            }
            watching.insert(dir, recursive);
        }
        self.watching = watching;
        true
    }
}

/// What an event says about a write: `Some(true)` when the file is usually complete after it
/// (closed after writing, renamed or linked into place, attributes set), `Some(false)` when more
/// writes are likely to follow, `None` for events that change nothing (reads, opens).
fn meaning(kind: &EventKind) -> Option<bool> {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => Some(true),
        EventKind::Access(_) => None,
        EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both)) => Some(true),
        EventKind::Modify(ModifyKind::Metadata(_)) => Some(true),
        // A file created by open() is written next and closed (then the close decides); one
        // created by link() or a rename is complete (cargo links its outputs into place).
        EventKind::Create(_) => Some(true),
        EventKind::Modify(_) | EventKind::Remove(_) => Some(false),
        EventKind::Any | EventKind::Other => Some(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, DataChange, MetadataKind};

    #[test]
    fn events_that_usually_end_a_write_are_settled() {
        assert_eq!(
            meaning(&EventKind::Access(AccessKind::Close(AccessMode::Write))),
            Some(true)
        );
        assert_eq!(
            meaning(&EventKind::Modify(ModifyKind::Name(RenameMode::To))),
            Some(true)
        );
        assert_eq!(
            meaning(&EventKind::Modify(ModifyKind::Data(DataChange::Any))),
            Some(false)
        );
        assert_eq!(meaning(&EventKind::Create(CreateKind::File)), Some(true));
        assert_eq!(
            meaning(&EventKind::Access(AccessKind::Close(AccessMode::Read))),
            None
        );
        assert_eq!(
            meaning(&EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any))),
            Some(true)
        );
    }
}
