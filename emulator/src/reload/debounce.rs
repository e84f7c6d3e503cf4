//! Coalesces bursts of file events into one change per path.
//!
//! Editors and compilers write a file in several steps (truncate then write, or write a temporary
//! file then rename it into place), and each step is an event. A path is due once it has been
//! quiet for a while; how long depends on the last event seen for it: after a close-for-write or
//! a rename into place the writer is most likely done, so the wait is short, while after a plain
//! modification more writes are likely to follow.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Wait after an event that usually ends a write (close after writing, rename into place).
pub const SETTLED_WINDOW: Duration = Duration::from_millis(5);
/// Wait after an event in the middle of a write (data modified, file created or removed).
pub const QUIET_WINDOW: Duration = Duration::from_millis(75);

/// One file event, as the watcher reports it.
#[derive(Debug, Clone)]
pub struct FileEvent {
    /// The path the event is about.
    pub path: PathBuf,
    /// Whether the event usually ends a write.
    pub settled: bool,
    /// When the watcher received it.
    pub at: Instant,
}

/// A path whose events have gone quiet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// The changed path.
    pub path: PathBuf,
    /// When its first event of this burst arrived (the start of "time to live").
    pub first_seen: Instant,
}

#[derive(Debug)]
struct Pending {
    first_seen: Instant,
    due_at: Instant,
}

/// Paths with events, each waiting for its burst to end.
#[derive(Debug, Default)]
pub struct Debouncer {
    pending: BTreeMap<PathBuf, Pending>,
}

impl Debouncer {
    /// Records an event; the last event of a path decides how long it still waits.
    pub fn push(&mut self, ev: FileEvent) {
        let window = if ev.settled {
            SETTLED_WINDOW
        } else {
            QUIET_WINDOW
        };
        let due_at = ev.at + window;
        self.pending
            .entry(ev.path)
            .and_modify(|p| {
                p.first_seen = p.first_seen.min(ev.at);
                p.due_at = due_at;
            })
            .or_insert(Pending {
                first_seen: ev.at,
                due_at,
            });
    }

    /// When the next path falls due, if any is waiting.
    pub fn next_due(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.due_at).min()
    }

    /// Removes and returns the paths that are due at `now`.
    pub fn take_due(&mut self, now: Instant) -> Vec<Due> {
        let due: Vec<PathBuf> = self
            .pending
            .iter()
            .filter(|(_, p)| p.due_at <= now)
            .map(|(path, _)| path.clone())
            .collect();
        due.into_iter()
            .filter_map(|path| {
                self.pending.remove(&path).map(|p| Due {
                    path,
                    first_seen: p.first_seen,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(path: &str, settled: bool, at: Instant) -> FileEvent {
        FileEvent {
            path: PathBuf::from(path),
            settled,
            at,
        }
    }

    #[test]
    fn a_write_that_ends_with_close_is_due_soon() {
        let t0 = Instant::now();
        let mut d = Debouncer::default();
        d.push(ev("/p/a.wasm", false, t0));
        assert_eq!(d.next_due(), Some(t0 + QUIET_WINDOW));
        d.push(ev("/p/a.wasm", true, t0 + Duration::from_millis(2)));
        let due_at = t0 + Duration::from_millis(2) + SETTLED_WINDOW;
        assert_eq!(d.next_due(), Some(due_at));
        assert!(d.take_due(due_at - Duration::from_millis(1)).is_empty());
        let due = d.take_due(due_at);
        assert_eq!(
            due,
            vec![Due {
                path: "/p/a.wasm".into(),
                first_seen: t0
            }]
        );
        assert_eq!(d.next_due(), None);
    }

    #[test]
    fn a_write_after_a_close_waits_again() {
        let t0 = Instant::now();
        let mut d = Debouncer::default();
        d.push(ev("/p/a.wasm", true, t0));
        d.push(ev("/p/a.wasm", false, t0 + Duration::from_millis(1)));
        assert_eq!(
            d.next_due(),
            Some(t0 + Duration::from_millis(1) + QUIET_WINDOW)
        );
    }

    #[test]
    fn paths_fall_due_independently() {
        let t0 = Instant::now();
        let mut d = Debouncer::default();
        d.push(ev("/p/a", true, t0));
        d.push(ev("/p/b", false, t0));
        let due = d.take_due(t0 + SETTLED_WINDOW);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].path, PathBuf::from("/p/a"));
        assert_eq!(d.next_due(), Some(t0 + QUIET_WINDOW));
    }
}
