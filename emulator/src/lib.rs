//! fcemu: an Alibaba Cloud style serverless stack in one process.
//!
//! The binary (`main.rs`) only parses the command line and calls [`cli::run`]. Everything else is
//! here so the test harness can start the same stack in-process.

pub mod admin;
pub mod app;
pub mod cli;
pub mod edge;
pub mod fcapi;
pub mod function_logs;
pub mod gateway;
pub mod manifest;
pub mod records;
pub mod reload;
pub mod report;
pub mod runtime;
pub mod server;
pub mod services;
pub mod state;
pub mod testing;
pub mod triggers;
