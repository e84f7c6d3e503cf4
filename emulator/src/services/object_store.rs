//! OSS and its S3 face: every request no other service claims; buckets the manifest declares or
//! its OSS triggers listen to; object changes fire OSS triggers.

use std::any::Any;
use std::sync::Arc;

use axum::Router;
use axum::http::HeaderMap;
use futures::FutureExt;
use futures::future::BoxFuture;

use super::{EmulatedService, Setup};
use crate::app::App;
use crate::manifest::OssTrigger;
use crate::manifest::{AppPlan, TriggerKind};
use crate::triggers::Triggers;

/// Opens the object store in the data directory and creates the buckets of `plan`.
pub fn open<'a>(
    plan: &'a AppPlan,
    setup: &'a Setup<'a>,
) -> BoxFuture<'a, anyhow::Result<Arc<dyn EmulatedService>>> {
    async move {
        let cfg = fcemu_oss::OssConfig::with_context(setup.context(plan));
        let oss = tokio::task::spawn_blocking(move || fcemu_oss::Oss::open(cfg))
            .await?
            .map_err(|e| anyhow::anyhow!("cannot open the object store: {e}"))?;
        oss.ensure(plan).await?;
        Ok(Arc::new(oss) as Arc<dyn EmulatedService>)
    }
    .boxed()
}

impl EmulatedService for fcemu_oss::Oss {
    fn name(&self) -> &'static str {
        "object store"
    }

    fn claims(&self, _path: &str, _headers: &HeaderMap) -> bool {
        true
    }

    fn router(&self) -> Router {
        fcemu_oss::Oss::router(self)
    }

    fn ensure<'a>(&'a self, plan: &'a AppPlan) -> BoxFuture<'a, anyhow::Result<()>> {
        async move {
            let mut buckets: std::collections::BTreeSet<String> =
                plan.buckets.keys().cloned().collect();
            for f in plan.functions.values() {
                for t in &f.triggers {
                    if let TriggerKind::Oss(OssTrigger { bucket, .. }) = &t.kind {
                        buckets.insert(bucket.clone());
                    }
                }
            }
            for bucket in buckets {
                let created = self
                    .create_bucket_if_missing(&bucket)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot create bucket {bucket}: {e}"))?;
                let Some(declared) = plan.buckets.get(&bucket) else {
                    continue;
                };
                if created && !declared.acl.is_empty() && declared.acl != "private" {
                    self.set_bucket_acl(&bucket, &declared.acl).await?;
                }
                if let Some(cors) = &declared.cors {
                    self.set_bucket_cors(&bucket, Some(cors.clone())).await?;
                }
            }
            Ok(())
        }
        .boxed()
    }

    fn reset(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        async move { Ok(fcemu_oss::Oss::reset(self).await?) }.boxed()
    }

    fn connect(&self, _app: &Arc<App>, triggers: &Arc<Triggers>, _services: &super::Services) {
        triggers.follow_object_changes(self.changes());
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
