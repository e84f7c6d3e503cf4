//! Serves the object store alone on 127.0.0.1:0 and prints `listening http://ADDR`.
//!
//! Environment: `FCEMU_DATA_DIR=<dir>` keeps state durably in that directory (otherwise in a
//! temporary one, without fsync),
//! `FCEMU_STRICT_AUTH=<id>:<secret>` turns on signature checks with that key pair,
//! `FCEMU_OSS_MIN_PART_SIZE=0` lets multipart uploads use parts under 100 KB.

use std::io::Write;
use std::sync::Arc;

use fcemu_core::DataDir;
use fcemu_oss::{Oss, OssConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FCEMU_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let persistent = std::env::var("FCEMU_DATA_DIR").ok();
    let data = match &persistent {
        Some(dir) => DataDir::persistent(dir)?,
        None => DataDir::temporary("oss-server")?,
    };
    let mut cfg = OssConfig::with_context(fcemu_core::ServiceContext::new(Arc::new(data)));
    // A temporary directory dies with the process: no point in fsyncing it.
    cfg.ctx.durable = persistent.is_some();
    if let Ok(pair) = std::env::var("FCEMU_STRICT_AUTH")
        && let Some((id, secret)) = pair.split_once(':')
    {
        cfg.ctx.strict_auth = Some((id.to_string(), secret.to_string()));
    }
    if std::env::var("FCEMU_OSS_MIN_PART_SIZE").as_deref() == Ok("0") {
        cfg.enforce_min_part_size = false;
    }
    let oss = Oss::open(cfg)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    fcemu_oss::serve(listener, oss.router()).await?;
    Ok(())
}
