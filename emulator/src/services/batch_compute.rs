//! BatchCompute: requests with `x-acs-version: 2015-11-11` (no other service sends that
//! version); jobs read and write the object store, and a running job keeps `idle` waiting. Each
//! instance attempt is shown on the terminal with its output, and its output lines go to the
//! logstore `[batch] log_project`/`log_store` names.

use std::any::Any;
use std::sync::Arc;

use axum::Router;
use axum::http::HeaderMap;
use fcemu_sls::{Log, LogContent, LogGroup};
use futures::FutureExt;
use futures::future::BoxFuture;

use super::{EmulatedService, Services, Setup};
use crate::app::App;
use crate::manifest::AppPlan;
use crate::triggers::Triggers;

/// The API version BatchCompute's SDK sends on every request.
const VERSION: &str = "2015-11-11";

/// Opens BatchCompute in the data directory; jobs left running by an earlier run are failed.
pub fn open<'a>(
    plan: &'a AppPlan,
    setup: &'a Setup<'a>,
) -> BoxFuture<'a, anyhow::Result<Arc<dyn EmulatedService>>> {
    async move {
        let mut cfg = fcemu_batch::BatchConfig::with_context(setup.context(plan));
        cfg.oss_host = setup.endpoint.clone();
        if let Some(n) = plan.batch_workers {
            cfg.workers = n;
        }
        let batch = tokio::task::spawn_blocking(move || fcemu_batch::Batch::open(cfg))
            .await?
            .map_err(|e| anyhow::anyhow!("cannot open BatchCompute: {e}"))?;
        Ok(Arc::new(batch) as Arc<dyn EmulatedService>)
    }
    .boxed()
}

/// The object store as jobs see it.
struct ObjectStore(fcemu_oss::Oss);

impl fcemu_batch::Objects for ObjectStore {
    fn get<'a>(&'a self, bucket: &'a str, key: &'a str) -> BoxFuture<'a, Result<Vec<u8>, String>> {
        async move {
            self.0
                .get_bytes(bucket, key)
                .await
                .map_err(|e| e.to_string())
        }
        .boxed()
    }

    fn put<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
        body: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), String>> {
        async move {
            self.0
                .put_bytes(bucket, key, body, None)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        .boxed()
    }

    fn list<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, String>> {
        async move {
            let mut keys = Vec::new();
            let mut after = None;
            loop {
                let page = self
                    .0
                    .list_objects(
                        bucket,
                        fcemu_oss::listing::ListParams {
                            prefix: prefix.to_string(),
                            delimiter: String::new(),
                            start_after: after.clone(),
                            max: 1000,
                        },
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                keys.extend(page.contents.into_iter().map(|m| m.key));
                if !page.truncated {
                    return Ok(keys);
                }
                after = page.last;
            }
        }
        .boxed()
    }
}

/// The attempts' output lines as one log group: a log per line with the job, task, instance,
/// attempt and stream as fields, the topic `batchcompute`.
fn log_group(reports: &[fcemu_batch::AttemptReport]) -> LogGroup {
    let field = |key: &str, value: &str| LogContent {
        key: key.into(),
        value: value.into(),
    };
    let mut logs = Vec::new();
    for r in reports {
        let time = u32::try_from(r.ended_ms / 1000).unwrap_or(0);
        let (instance, retry) = (r.instance.to_string(), r.retry.to_string());
        for (stream, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
            for line in text.lines() {
                logs.push(Log {
                    time,
                    contents: vec![
                        field("message", line),
                        field("jobId", &r.job_id),
                        field("jobName", &r.job_name),
                        field("taskName", &r.task),
                        field("instanceId", &instance),
                        field("retryCount", &retry),
                        field("stream", stream),
                    ],
                    time_ns: None,
                });
            }
        }
    }
    LogGroup {
        logs,
        topic: Some("batchcompute".into()),
        source: Some("127.0.0.1".into()),
        ..LogGroup::default()
    }
}

impl EmulatedService for fcemu_batch::Batch {
    fn name(&self) -> &'static str {
        "BatchCompute"
    }

    fn claims(&self, _path: &str, headers: &HeaderMap) -> bool {
        headers
            .get("x-acs-version")
            .is_some_and(|v| v.as_bytes() == VERSION.as_bytes())
    }

    fn router(&self) -> Router {
        fcemu_batch::Batch::router(self)
    }

    fn ensure<'a>(&'a self, _plan: &'a AppPlan) -> BoxFuture<'a, anyhow::Result<()>> {
        async { Ok(()) }.boxed()
    }

    fn reset(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        async move { Ok(fcemu_batch::Batch::reset(self).await?) }.boxed()
    }

    fn connect(&self, app: &Arc<App>, _triggers: &Arc<Triggers>, services: &Services) {
        let busy = app.clone();
        self.attach(
            Arc::new(ObjectStore(services.oss().clone())),
            Arc::new(move || Box::new(busy.begin_work()) as Box<dyn Send>),
        );
        let (this, sls) = (app.clone(), services.sls().clone());
        app.follow(self.attempts(), 16, move |reports| {
            let (app, sls) = (this.clone(), sls.clone());
            async move {
                for r in &reports {
                    if let Some(reporter) = app.reporter() {
                        reporter.batch_attempt(r);
                    }
                }
                if let Some((project, logstore)) = app.plan().batch_log.clone() {
                    let group = log_group(&reports);
                    if !group.logs.is_empty()
                        && let Err(e) = sls
                            .put_logs(&project, &logstore, group, fcemu_core::Cause::default())
                            .await
                    {
                        tracing::warn!(
                            "BatchCompute output not written to {project}/{logstore}: {e}"
                        );
                    }
                }
            }
        });
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
