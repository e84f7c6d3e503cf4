//! Instances of a function: how many may run at once, and each one's own `/tmp`.
//!
//! Like FC, an instance keeps its `/tmp` between invocations; unlike FC, its wasm state is fresh
//! every time (a new store per invocation).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The instance slots of one function.
#[derive(Debug)]
pub struct Slots {
    permits: Arc<Semaphore>,
    free: Mutex<Vec<Slot>>,
    scratch_root: PathBuf,
    next: std::sync::atomic::AtomicU32,
}

/// One instance: its id and its scratch directory, mounted at `/tmp`.
#[derive(Debug, Clone)]
pub struct Slot {
    /// FC instance id.
    pub instance_id: String,
    /// Host directory mounted at `/tmp`.
    pub tmp: PathBuf,
}

/// A slot in use; returns itself to the pool when dropped.
pub struct SlotGuard {
    slots: Arc<Slots>,
    slot: Option<Slot>,
    _permit: OwnedSemaphorePermit,
}

impl SlotGuard {
    /// The slot held.
    pub fn slot(&self) -> &Slot {
        self.slot.as_ref().expect("slot present until drop")
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            self.slots
                .free
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(slot);
        }
    }
}

impl Slots {
    /// `concurrency` slots whose scratch directories live under `scratch_root`.
    pub fn new(concurrency: u32, scratch_root: PathBuf) -> Self {
        Slots {
            permits: Arc::new(Semaphore::new(concurrency as usize)),
            free: Mutex::new(Vec::new()),
            scratch_root,
            next: std::sync::atomic::AtomicU32::new(0),
        }
    }

    /// A free slot now, or `None` when all are busy (FC throttles).
    pub fn try_acquire(
        self: &Arc<Self>,
        new_id: impl FnOnce() -> String,
    ) -> std::io::Result<Option<SlotGuard>> {
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => self.take(permit, new_id).map(Some),
            Err(_) => Ok(None),
        }
    }

    /// A free slot, waiting for one if all are busy.
    pub async fn acquire(
        self: &Arc<Self>,
        new_id: impl FnOnce() -> String,
    ) -> std::io::Result<SlotGuard> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore never closed");
        self.take(permit, new_id)
    }

    /// Invocations running now.
    pub fn busy(&self, concurrency: u32) -> usize {
        concurrency as usize - self.permits.available_permits()
    }

    /// Drops the idle slots (their `/tmp` directories stay until the function's version goes).
    pub fn forget_idle(&self) {
        self.free.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    fn take(
        self: &Arc<Self>,
        permit: OwnedSemaphorePermit,
        new_id: impl FnOnce() -> String,
    ) -> std::io::Result<SlotGuard> {
        let existing = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let slot = match existing {
            Some(s) => s,
            None => {
                let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let tmp = self.scratch_root.join(n.to_string());
                std::fs::create_dir_all(&tmp)?;
                Slot {
                    instance_id: new_id(),
                    tmp,
                }
            }
        };
        Ok(SlotGuard {
            slots: self.clone(),
            slot: Some(slot),
            _permit: permit,
        })
    }
}
