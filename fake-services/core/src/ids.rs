//! Identifiers: random in normal runs, sequential in deterministic runs so snapshots are stable.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A cheap, cloneable source of request ids, instance ids and similar.
#[derive(Clone, Debug)]
pub struct IdGen(Arc<Inner>);

#[derive(Debug)]
enum Inner {
    Random,
    Sequential(AtomicU64),
}

impl IdGen {
    /// Random (UUID v4 based) ids.
    pub fn random() -> Self {
        IdGen(Arc::new(Inner::Random))
    }

    /// Ids counting up from 1, identical from run to run.
    pub fn sequential() -> Self {
        IdGen(Arc::new(Inner::Sequential(AtomicU64::new(0))))
    }

    /// Starts a sequential generator over from 1 (each `fcemu test` case sees the same ids
    /// whatever ran before it); random generators are unaffected.
    pub fn restart(&self) {
        if let Inner::Sequential(n) = &*self.0 {
            n.store(0, Ordering::Relaxed);
        }
    }

    /// Whether ids repeat from run to run.
    pub fn is_sequential(&self) -> bool {
        matches!(*self.0, Inner::Sequential(_))
    }

    fn next_u128(&self) -> u128 {
        match &*self.0 {
            Inner::Random => uuid::Uuid::new_v4().as_u128(),
            Inner::Sequential(n) => u128::from(n.fetch_add(1, Ordering::Relaxed) + 1),
        }
    }

    /// A UUID-shaped id, lower-case with dashes (`1b4e28ba-2fa1-11d2-883f-0016d3cca427`).
    /// Sequential ids look like `00000000-0000-0000-0000-000000000001`.
    pub fn uuid(&self) -> String {
        uuid::Uuid::from_u128(self.next_u128())
            .hyphenated()
            .to_string()
    }

    /// `len` upper-case hex digits (at most 32), as OSS and Log Service request ids look.
    pub fn hex_upper(&self, len: usize) -> String {
        let s = format!("{:032X}", self.next_u128());
        s[32 - len.min(32)..].to_string()
    }
}

impl Default for IdGen {
    fn default() -> Self {
        Self::random()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_ids_repeat_across_generators() {
        let a = IdGen::sequential();
        let b = IdGen::sequential();
        assert_eq!(a.uuid(), "00000000-0000-0000-0000-000000000001");
        assert_eq!(a.hex_upper(24), "000000000000000000000002");
        assert_eq!(b.uuid(), "00000000-0000-0000-0000-000000000001");
    }

    #[test]
    fn random_ids_differ() {
        let g = IdGen::random();
        assert_ne!(g.uuid(), g.uuid());
        assert_eq!(g.hex_upper(24).len(), 24);
    }
}
