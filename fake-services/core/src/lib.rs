//! Shared vocabulary of fcemu's fake services.
//!
//! Every service (OSS, Table Store, Log Service) takes its time from a [`Clock`], its ids from an
//! [`IdGen`], publishes what changed on a [`ChangeFeed`], and keeps its state under a
//! [`DataDir`]. None of this knows about functions, WebAssembly or triggers.

pub mod auth;
pub mod body;
pub mod cause;
pub mod changes;
pub mod clock;
pub mod context;
pub mod ids;
pub mod request;
pub mod storage;

pub use changes::{ChangeFeed, ChangeReceiver, Unhandled};
pub use clock::Clock;
pub use context::ServiceContext;
pub use ids::IdGen;
pub use request::{RequestContext, RequestContextLayer, RequestIdStyle};
pub use storage::DataDir;

pub use cause::{CHAIN_DEPTH_HEADER, Cause, chain_depth};
