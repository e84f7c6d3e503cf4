//! The Log Service: requests with `x-log-apiversion`; the logstores the manifest declares (also
//! those log triggers read and functions' logs go to); appended logs feed log triggers, and
//! functions' logs are shipped into it.

use std::any::Any;
use std::sync::Arc;

use axum::Router;
use axum::http::HeaderMap;
use futures::FutureExt;
use futures::future::BoxFuture;

use super::{EmulatedService, Setup};
use crate::app::App;
use crate::manifest::AppPlan;
use crate::triggers::Triggers;

/// Opens the Log Service in the data directory and creates the logstores of `plan`.
pub fn open<'a>(
    plan: &'a AppPlan,
    setup: &'a Setup<'a>,
) -> BoxFuture<'a, anyhow::Result<Arc<dyn EmulatedService>>> {
    async move {
        let cfg = fcemu_sls::SlsConfig::with_context(setup.context(plan));
        let sls = tokio::task::spawn_blocking(move || fcemu_sls::Sls::open(cfg))
            .await?
            .map_err(|e| anyhow::anyhow!("cannot open the Log Service: {e}"))?;
        sls.ensure(plan).await?;
        Ok(Arc::new(sls) as Arc<dyn EmulatedService>)
    }
    .boxed()
}

impl EmulatedService for fcemu_sls::Sls {
    fn name(&self) -> &'static str {
        "Log Service"
    }

    fn claims(&self, _path: &str, headers: &HeaderMap) -> bool {
        headers.contains_key("x-log-apiversion")
    }

    fn router(&self) -> Router {
        fcemu_sls::Sls::router(self)
    }

    fn ensure<'a>(&'a self, plan: &'a AppPlan) -> BoxFuture<'a, anyhow::Result<()>> {
        async move {
            for store in plan.logstores.values() {
                self.ensure_logstore(&store.project, &store.logstore, store.shards)
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "cannot create logstore {}/{}: {e}",
                            store.project,
                            store.logstore
                        )
                    })?;
            }
            Ok(())
        }
        .boxed()
    }

    fn reset(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        async move {
            loop {
                let (projects, _) = self.list_projects("", 0, 500).await?;
                if projects.is_empty() {
                    return Ok(());
                }
                for p in projects {
                    self.delete_project(&p.name).await?;
                }
            }
        }
        .boxed()
    }

    fn connect(&self, app: &Arc<App>, triggers: &Arc<Triggers>, _services: &super::Services) {
        triggers.follow_log_appends(&self.changes());
        crate::function_logs::ship(app, self.clone());
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
