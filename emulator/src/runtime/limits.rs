//! Per-invocation resource limits: the manifest's memory size, and the peak it reached.

use wasmtime::ResourceLimiter;

/// Refuses memory growth beyond the function's limit and remembers the peak.
#[derive(Debug)]
pub struct MemoryLimiter {
    limit_bytes: usize,
    peak_bytes: usize,
    hit_limit: bool,
}

/// Most table elements an instance may have.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl MemoryLimiter {
    /// A limiter for a function with `memory_mb` of memory.
    pub fn new(memory_mb: u32) -> Self {
        MemoryLimiter {
            limit_bytes: (memory_mb as usize) << 20,
            peak_bytes: 0,
            hit_limit: false,
        }
    }

    /// The largest memory size granted, bytes.
    pub fn peak_bytes(&self) -> u64 {
        self.peak_bytes as u64
    }

    /// Whether the function asked for more memory than its limit.
    pub fn hit_limit(&self) -> bool {
        self.hit_limit
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit_bytes || maximum.is_some_and(|m| desired > m) {
            self.hit_limit = true;
            return Ok(false);
        }
        self.peak_bytes = self.peak_bytes.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_growth_past_the_limit_and_tracks_peak() {
        let mut l = MemoryLimiter::new(1);
        assert!(l.memory_growing(0, 64 << 10, None).unwrap());
        assert!(!l.memory_growing(64 << 10, 2 << 20, None).unwrap());
        assert!(l.hit_limit());
        assert_eq!(l.peak_bytes(), 64 << 10);
    }
}
