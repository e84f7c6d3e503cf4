//! The one wasmtime [`Engine`]: its configuration and the epoch ticker that enforces timeouts.

use std::sync::{Arc, Weak};
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances: the granularity of timeouts and of yielding to other tasks.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Largest linear memory any function may have (wasm32's address space).
pub const MAX_MEMORY_BYTES: usize = 4 << 30;

/// Instances that may exist at once across all functions.
const POOL_INSTANCES: u32 = 256;

/// Builds the engine: Cranelift, epoch interruption, and the pooling allocator when the host
/// allows its address-space reservation (falls back to on-demand allocation otherwise).
pub fn build_engine() -> wasmtime::Result<Engine> {
    let mut config = base_config();
    let mut pool = PoolingAllocationConfig::new();
    pool.total_core_instances(POOL_INSTANCES)
        .total_component_instances(POOL_INSTANCES)
        .total_memories(POOL_INSTANCES)
        .total_tables(POOL_INSTANCES)
        .total_stacks(POOL_INSTANCES)
        .max_memory_size(MAX_MEMORY_BYTES)
        // A fresh instance per invocation reuses pool slots constantly: reset only the pages
        // an instance dirtied (PAGEMAP_SCAN, Linux 6.7+; `memset` of the low megabytes
        // otherwise) instead of unmapping them, which costs page faults and TLB shootdowns.
        .pagemap_scan(wasmtime::Enabled::Auto)
        .linear_memory_keep_resident(4 << 20)
        .table_keep_resident(64 << 10);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    match Engine::new(&config) {
        Ok(engine) => Ok(engine),
        Err(e) => {
            tracing::warn!(error = %e, "pooling allocator unavailable; using on-demand allocation");
            Engine::new(&base_config())
        }
    }
}

/// Builds the baseline engine used to make reloaded code live quickly: Winch, a single-pass
/// compiler several times faster than Cranelift, producing slower code that is replaced by
/// Cranelift's in the background. On-demand allocation: its instances are short-lived.
pub fn build_quick_engine() -> wasmtime::Result<Engine> {
    let mut config = base_config();
    config.strategy(wasmtime::Strategy::Winch);
    Engine::new(&config)
}

fn base_config() -> Config {
    let mut config = Config::new();
    config
        .epoch_interruption(true)
        .wasm_component_model(true)
        .cranelift_opt_level(wasmtime::OptLevel::Speed)
        .parallel_compilation(true);
    config
}

/// Advances the engine's epoch every [`EPOCH_TICK`] on a background thread for as long as the
/// returned guard lives.
pub struct EpochTicker {
    _alive: Arc<()>,
}

impl EpochTicker {
    /// Starts ticking `engine`.
    pub fn start(engine: &Engine) -> Self {
        let alive = Arc::new(());
        let weak: Weak<()> = Arc::downgrade(&alive);
        let engine = engine.clone();
        std::thread::Builder::new()
            .name("fcemu-epoch".into())
            .spawn(move || {
                while weak.strong_count() > 0 {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawn epoch thread");
        EpochTicker { _alive: alive }
    }
}
