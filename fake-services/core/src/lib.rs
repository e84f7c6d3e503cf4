//! Shared vocabulary of fcemu's fake services.
//!
//! Every service (OSS, Table Store, Log Service) takes its time from a [`Clock`], its ids from an
//! [`IdGen`], publishes what changed on a [`ChangeFeed`], and keeps its state under a
//! [`DataDir`]. None of this knows about functions, WebAssembly or triggers.

pub mod auth;
pub mod body;
pub mod changes;
pub mod clock;
pub mod context;
pub mod ids;
pub mod storage;

pub use changes::{ChangeFeed, ChangeReceiver, Unhandled};
pub use clock::Clock;
pub use context::ServiceContext;
pub use ids::IdGen;
pub use storage::DataDir;

/// Request header carrying how many change-triggered invocations led to a request: the
/// emulator sets it on requests its functions make, and services copy it into the change
/// notifications the request causes, so a chain of invocations (a trigger loop) can be cut.
pub const CHAIN_DEPTH_HEADER: &str = "x-fcemu-chain-depth";

/// A request's [`CHAIN_DEPTH_HEADER`]: 0 when it is absent or not a number (requests from
/// outside).
pub fn chain_depth(headers: &http::HeaderMap) -> u32 {
    headers
        .get(CHAIN_DEPTH_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}
