//! Serves Table Store alone on 127.0.0.1:0 and prints `listening http://ADDR`.
//!
//! Environment: `FCEMU_DATA_DIR=<dir>` keeps state durably in that directory (otherwise in a
//! temporary one, without fsync), `FCEMU_STRICT_AUTH=<id>:<secret>` turns on signature checks
//! with that key pair.

use std::io::Write;
use std::sync::Arc;

use fcemu_core::DataDir;
use fcemu_tablestore::{Ots, OtsConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let persistent = std::env::var("FCEMU_DATA_DIR").ok();
    let data = match &persistent {
        Some(dir) => DataDir::persistent(dir)?,
        None => DataDir::temporary("ots-server")?,
    };
    let mut cfg = OtsConfig::with_context(fcemu_core::ServiceContext::new(Arc::new(data)));
    // A temporary directory dies with the process: no point in fsyncing it.
    cfg.ctx.durable = persistent.is_some();
    if let Ok(pair) = std::env::var("FCEMU_STRICT_AUTH")
        && let Some((id, secret)) = pair.split_once(':')
    {
        cfg.ctx.strict_auth = Some((id.to_owned(), secret.to_owned()));
    }
    let ots = Ots::open(cfg)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let mut out = std::io::stdout();
    writeln!(out, "listening http://{}", listener.local_addr()?)?;
    out.flush()?;
    axum::serve(listener, ots.router()).await?;
    Ok(())
}
