//! The Function Compute OpenAPI on the services port, enough for the real SDKs.

pub mod error;
