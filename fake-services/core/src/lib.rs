//! Shared vocabulary of fcemu's fake services.
//!
//! Every service (OSS, Table Store, Log Service) takes its time from a [`Clock`], its ids from an
//! [`IdGen`], publishes what changed on a [`ChangeFeed`], and keeps its state under a
//! [`DataDir`]. None of this knows about functions, WebAssembly or triggers.

pub mod body;
pub mod changes;
pub mod clock;
pub mod ids;
pub mod storage;

pub use changes::{ChangeFeed, ChangeReceiver, Unhandled};
pub use clock::Clock;
pub use ids::IdGen;
pub use storage::DataDir;
