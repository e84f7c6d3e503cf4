//! fcemu's black-box suite: the real `fcemu` binary driven the way users drive it.
//! One test binary, one module per area (see ripgrep's tests/).

mod support;

mod import;
mod invoke;
mod native;
mod reload;
mod runtime;
mod snapshot_tests;
mod triggers;
mod up;
