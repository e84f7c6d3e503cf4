//! The Rust harness: an emulator inside a Rust test, on port 0, in memory, deterministic, with
//! the same steps and snapshots as `fcemu test`.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let mut emu = fcemu::testing::Emulator::from_manifest("fcemu.toml").await?;
//! emu.put_object("uploads", "photos/cat.jpg", b"meow".to_vec()).await?;
//! emu.idle().await?;
//! assert_eq!(emu.invocations().len(), 1);
//! let snapshot = emu.snapshot_text("upload").await;
//! # let _ = snapshot;
//! # Ok(())
//! # }
//! ```

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::case::{Object, Step};
use super::run::Runner;

/// An emulator for a Rust test. Every step is recorded like an `fcemu test` step; take the
/// record with [`Emulator::snapshot`].
pub struct Emulator {
    runner: Runner,
    steps: Vec<Value>,
}

impl Emulator {
    /// Starts the application of the manifest at `path` (`fcemu.toml`, `s.yaml`, ...).
    pub async fn from_manifest(path: impl AsRef<Path>) -> anyhow::Result<Emulator> {
        let plan = crate::manifest::load(path.as_ref())?;
        Self::start(plan).await
    }

    /// Starts an application given as `fcemu.toml` text; relative paths are relative to `root`.
    pub async fn from_toml(root: impl AsRef<Path>, text: &str) -> anyhow::Result<Emulator> {
        let plan = crate::manifest::parse(&root.as_ref().join("fcemu.toml"), text)?;
        Self::start(plan).await
    }

    async fn start(plan: crate::manifest::AppPlan) -> anyhow::Result<Emulator> {
        let mut runner = Runner::start(plan).await?;
        if let Some(problem) = runner.load_failures().first() {
            anyhow::bail!("{problem}");
        }
        runner.fresh().await.map_err(anyhow::Error::msg)?;
        Ok(Emulator {
            runner,
            steps: Vec::new(),
        })
    }

    /// The services port (OSS, Table Store, Log Service, the FC API, `/_fcemu`).
    pub fn services_url(&self) -> String {
        self.runner.services_url()
    }

    /// The gateway (HTTP triggers).
    pub fn gateway_url(&self) -> String {
        self.runner.gateway_url()
    }

    async fn record(&mut self, step: Step) -> anyhow::Result<Value> {
        let recorded = self
            .runner
            .record_step(Path::new("."), &step)
            .await
            .map_err(anyhow::Error::msg)?;
        let response = recorded["response"].clone();
        self.steps.push(recorded);
        Ok(response)
    }

    /// Invokes `function` synchronously with `event`; the response (status, headers, body).
    pub async fn invoke(
        &mut self,
        function: &str,
        event: impl Into<String>,
    ) -> anyhow::Result<Value> {
        self.record(Step {
            invoke: Some(function.to_string()),
            event: Some(toml::Value::String(event.into())),
            ..Step::default()
        })
        .await
    }

    /// Writes an object (its triggers fire) and waits until the work it caused is done.
    pub async fn put_object(
        &mut self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<Value> {
        use base64::Engine;
        self.record(Step {
            put_object: Some(Object {
                bucket: bucket.into(),
                key: key.into(),
                body: None,
                body_file: None,
                body_base64: Some(base64::engine::general_purpose::STANDARD.encode(body)),
                content_type: None,
            }),
            ..Step::default()
        })
        .await
    }

    /// Moves the virtual clock; due timers and log triggers fire, each at its time.
    pub async fn advance(&mut self, by: Duration) -> anyhow::Result<Value> {
        self.record(Step {
            advance: Some(format!("{}s", by.as_secs())),
            ..Step::default()
        })
        .await
    }

    /// Waits until nothing is in flight.
    pub async fn idle(&self) -> anyhow::Result<()> {
        self.runner.idle().await.map_err(anyhow::Error::msg)
    }

    /// The invocations of every step so far, in order.
    pub fn invocations(&self) -> Vec<Value> {
        self.steps
            .iter()
            .flat_map(|s| s["invocations"].as_array().cloned().unwrap_or_default())
            .collect()
    }

    /// The steps so far, as `fcemu test` records them (`{"steps": [...]}`).
    pub fn snapshot(&self) -> Value {
        serde_json::json!({ "steps": self.steps })
    }

    /// The steps so far in `.snap` format, named `name`, for `insta` or a file.
    pub async fn snapshot_text(&self, name: &str) -> String {
        super::snapshot::file_text("fcemu::testing", name, &self.snapshot())
    }

    /// Starts over: empty stores, new instances, the clock at its start, ids from 1, no steps.
    pub async fn reset(&mut self) -> anyhow::Result<()> {
        self.steps.clear();
        self.runner.fresh().await.map_err(anyhow::Error::msg)
    }

    /// Stops the emulator.
    pub async fn shutdown(self) {
        self.runner.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::Emulator;

    /// A preflight from the page's origin, as a browser sends it before a PUT.
    async fn preflight(emu: &Emulator, origin: &str) -> reqwest::Response {
        reqwest::Client::new()
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/web/photos/a.jpg", emu.services_url()),
            )
            .header("origin", origin)
            .header("access-control-request-method", "PUT")
            .header("access-control-request-headers", "content-type")
            .send()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn declared_cors_rules_hold_from_the_start_and_after_a_reset() {
        let dir = tempfile::tempdir().unwrap();
        let mut emu = Emulator::from_toml(
            dir.path(),
            "[buckets.web]\ncors = [{ allowed_origins = [\"http://localhost:3000\"], allowed_methods = [\"PUT\"], allowed_headers = [\"*\"] }]\n",
        )
        .await
        .unwrap();
        for _ in 0..2 {
            let r = preflight(&emu, "http://localhost:3000").await;
            assert_eq!(r.status(), 200);
            assert_eq!(
                r.headers()["access-control-allow-origin"],
                "http://localhost:3000"
            );
            assert_eq!(preflight(&emu, "http://evil.example").await.status(), 403);
            emu.reset().await.unwrap();
        }
        emu.shutdown().await;
    }
}
