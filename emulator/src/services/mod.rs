//! The emulated services behind the services port, on one platform: each implements
//! [`EmulatedService`] (what requests it claims, its router, creating what the manifest declares,
//! forgetting its state, following its changes), and [`SERVICES`] lists them. The edge, reset
//! and the server iterate that list; adding a service is its crate, its adapter module here and
//! one line in [`SERVICES`].

mod batch_compute;
mod log_service;
mod object_store;
pub mod table_store;

use std::any::Any;
use std::sync::Arc;

use axum::Router;
use axum::http::HeaderMap;
use fcemu_core::{Clock, DataDir, IdGen};
use futures::future::BoxFuture;

use crate::app::App;
use crate::manifest::AppPlan;
use crate::triggers::Triggers;

pub use table_store::trigger_reads_table;

/// What every service is opened with.
pub struct Setup<'a> {
    /// The data directory.
    pub data: &'a Arc<DataDir>,
    /// The emulator's clock.
    pub clock: &'a Clock,
    /// The emulator's ids.
    pub ids: &'a IdGen,
    /// Acknowledge writes only once durable.
    pub durable: bool,
    /// `--strict-auth` key pair.
    pub strict_auth: Option<(String, String)>,
    /// `--credentials` key pairs.
    pub credentials: Vec<(String, String)>,
    /// The services port as `host:port` (what BatchCompute instances reach OSS by).
    pub endpoint: String,
}

impl Setup<'_> {
    /// The context every service of `plan` is opened with.
    pub fn context(&self, plan: &AppPlan) -> fcemu_core::ServiceContext {
        fcemu_core::ServiceContext {
            data: self.data.clone(),
            clock: self.clock.clone(),
            ids: self.ids.clone(),
            region: plan.region.clone(),
            account_id: plan.account_id.clone(),
            durable: self.durable,
            strict_auth: self.strict_auth.clone(),
        }
    }

    /// Every secret fcemu knows a client may sign with: `--credentials`, the `--strict-auth`
    /// pair, and `ALIBABA_CLOUD_ACCESS_KEY_SECRET` from fcemu's own environment (what the SDKs
    /// read when no key is passed).
    pub fn known_secrets(&self) -> Vec<String> {
        let mut secrets: Vec<String> = self.credentials.iter().map(|(_, s)| s.clone()).collect();
        secrets.extend(self.strict_auth.iter().map(|(_, s)| s.clone()));
        for var in [
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            "ALICLOUD_ACCESS_KEY_SECRET",
        ] {
            if let Ok(s) = std::env::var(var)
                && !s.is_empty()
            {
                secrets.push(s);
            }
        }
        secrets
    }
}

/// One emulated service as the emulator sees it.
pub trait EmulatedService: Send + Sync + 'static {
    /// Its name in messages (`object store`, `Table Store`).
    fn name(&self) -> &'static str;

    /// Whether a request on the services port is for this service. Services are asked in
    /// [`SERVICES`] order (after fcemu's own API and the FC API); the first that claims a
    /// request gets it.
    fn claims(&self, path: &str, headers: &HeaderMap) -> bool;

    /// Its wire API, with `fcemu_core::RequestContextLayer` installed (request ids, host,
    /// client, cause, and bodies read in the background so an early answer never waits on one).
    fn router(&self) -> Router;

    /// Creates what `plan` declares and its triggers need (at start and after a reset).
    fn ensure<'a>(&'a self, plan: &'a AppPlan) -> BoxFuture<'a, anyhow::Result<()>>;

    /// Forgets all its state.
    fn reset(&self) -> BoxFuture<'_, anyhow::Result<()>>;

    /// Connects its change feed to the triggers and whatever else follows it.
    fn connect(&self, _app: &Arc<App>, _triggers: &Arc<Triggers>, _services: &Services) {}

    /// The service itself, for typed access ([`Services::get`]).
    fn as_any(&self) -> &dyn Any;
}

/// Opens one service in the data directory, creating what the plan declares.
pub type Opener = for<'a> fn(
    &'a AppPlan,
    &'a Setup<'a>,
) -> BoxFuture<'a, anyhow::Result<Arc<dyn EmulatedService>>>;

/// Every emulated service, in the order they are asked to claim a request (the object store,
/// which takes what no other claims, last).
pub const SERVICES: &[Opener] = &[
    batch_compute::open,
    table_store::open,
    log_service::open,
    object_store::open,
];

/// The running services.
#[derive(Clone)]
pub struct Services(Arc<Vec<Arc<dyn EmulatedService>>>);

impl Services {
    /// Opens every service of [`SERVICES`].
    pub async fn open(plan: &AppPlan, setup: &Setup<'_>) -> anyhow::Result<Services> {
        let mut list = Vec::with_capacity(SERVICES.len());
        for open in SERVICES {
            list.push(open(plan, setup).await?);
        }
        Ok(Services(Arc::new(list)))
    }

    /// The services in claiming order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn EmulatedService>> {
        self.0.iter()
    }

    /// The service of type `T`.
    ///
    /// # Panics
    /// When no such service is registered: a programming error, as [`SERVICES`] is fixed.
    pub fn get<T: 'static>(&self) -> &T {
        self.0
            .iter()
            .find_map(|s| s.as_any().downcast_ref::<T>())
            .unwrap_or_else(|| panic!("{} is not registered", std::any::type_name::<T>()))
    }

    /// The object store.
    pub fn oss(&self) -> &fcemu_oss::Oss {
        self.get()
    }

    /// Table Store.
    pub fn ots(&self) -> &fcemu_tablestore::Ots {
        self.get()
    }

    /// The Log Service.
    pub fn sls(&self) -> &fcemu_sls::Sls {
        self.get()
    }

    /// BatchCompute.
    pub fn batch(&self) -> &fcemu_batch::Batch {
        self.get()
    }

    /// Connects every service's change feed.
    pub fn connect(&self, app: &Arc<App>, triggers: &Arc<Triggers>) {
        for s in self.iter() {
            s.connect(app, triggers, self);
        }
    }

    /// Forgets every service's state, then creates what `plan` declares, as at start.
    pub async fn reset(&self, plan: &AppPlan) -> anyhow::Result<()> {
        for s in self.iter() {
            s.reset()
                .await
                .map_err(|e| anyhow::anyhow!("{}: {e:#}", s.name()))?;
        }
        for s in self.iter() {
            s.ensure(plan).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claimant<'a>(
        services: &'a Services,
        path: &str,
        headers: &[(&'static str, &str)],
    ) -> &'a str {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, v.parse().unwrap());
        }
        services
            .iter()
            .find(|s| s.claims(path, &h))
            .map(|s| s.name())
            .unwrap_or("nobody")
    }

    #[tokio::test]
    async fn every_service_opens_and_claims_its_requests_in_order() {
        let data = Arc::new(DataDir::temporary("services-test").unwrap());
        let (clock, ids) = (Clock::deterministic(), IdGen::sequential());
        let setup = Setup {
            data: &data,
            clock: &clock,
            ids: &ids,
            durable: false,
            strict_auth: None,
            credentials: Vec::new(),
            endpoint: "127.0.0.1:9000".into(),
        };
        let plan = AppPlan::empty(data.path());
        let services = Services::open(&plan, &setup).await.unwrap();
        assert_eq!(services.iter().count(), SERVICES.len());
        let ots = [("x-ots-apiversion", "2015-12-31")];
        assert_eq!(claimant(&services, "/PutRow", &ots), "Table Store");
        let sls = [("x-log-apiversion", "0.6.0")];
        assert_eq!(claimant(&services, "/logstores", &sls), "Log Service");
        assert_eq!(claimant(&services, "/bucket/key", &[]), "object store");
        let batch = [("x-acs-version", "2015-11-11")];
        assert_eq!(claimant(&services, "/jobs", &batch), "BatchCompute");
        // Typed access finds each one.
        services.oss().list_buckets().await.unwrap();
        assert!(
            services
                .sls()
                .list_projects("", 0, 10)
                .await
                .unwrap()
                .0
                .is_empty()
        );
        services.reset(&plan).await.unwrap();
    }
}
