//! `fcemu test`: case files that drive the emulator step by step, each step snapshotted with
//! its whole causal chain — the response, every invocation it caused through any trigger, and
//! the objects, rows and logs they wrote — in insta's `.snap` format.

pub mod case;
mod harness;
pub mod recorder;
mod render;
pub mod run;
pub mod snapshot;

pub use harness::Emulator;
