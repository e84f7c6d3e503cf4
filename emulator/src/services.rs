//! Opens the storage services for the emulator and creates what the manifest declares: buckets
//! (and those OSS triggers listen to), tables (with streams for Table Store triggers), and
//! logstores (declared, read by log triggers, or written by services' logs).

use std::sync::Arc;

use fcemu_core::{Clock, DataDir, IdGen};

use crate::manifest::AppPlan;

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
}

impl Setup<'_> {
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

/// Fills the fields every service configuration has from the plan and the setup.
macro_rules! configure {
    ($cfg:expr, $plan:expr, $setup:expr) => {{
        let mut cfg = $cfg;
        cfg.clock = $setup.clock.clone();
        cfg.ids = $setup.ids.clone();
        cfg.region = $plan.region.clone();
        cfg.owner_id = $plan.account_id.clone();
        cfg.durable = $setup.durable;
        cfg
    }};
}

/// Opens the object store in the data directory and creates the buckets the manifest declares
/// or its OSS triggers listen to.
pub async fn open_object_store(
    plan: &AppPlan,
    setup: &Setup<'_>,
) -> anyhow::Result<fcemu_oss::Oss> {
    let mut cfg = configure!(fcemu_oss::OssConfig::new(setup.data.clone()), plan, setup);
    cfg.strict_auth = setup
        .strict_auth
        .as_ref()
        .map(|(id, secret)| fcemu_oss::Credentials::single(id.clone(), secret.clone()));
    let oss = tokio::task::spawn_blocking(move || fcemu_oss::Oss::open(cfg))
        .await?
        .map_err(|e| anyhow::anyhow!("cannot open the object store: {e}"))?;
    ensure_buckets(plan, &oss).await?;
    Ok(oss)
}

/// Creates the buckets the manifest declares or its OSS triggers listen to.
pub async fn ensure_buckets(plan: &AppPlan, oss: &fcemu_oss::Oss) -> anyhow::Result<()> {
    let mut buckets: std::collections::BTreeSet<String> = plan.buckets.keys().cloned().collect();
    for f in plan.functions.values() {
        for t in &f.triggers {
            if let crate::manifest::TriggerKind::Oss { bucket, .. } = &t.kind {
                buckets.insert(bucket.clone());
            }
        }
    }
    for bucket in buckets {
        oss.create_bucket_if_missing(&bucket)
            .await
            .map_err(|e| anyhow::anyhow!("cannot create bucket {bucket}: {e}"))?;
    }
    Ok(())
}

/// Opens Table Store in the data directory.
pub async fn open_table_store(
    plan: &AppPlan,
    setup: &Setup<'_>,
) -> anyhow::Result<fcemu_tablestore::Ots> {
    let mut cfg = configure!(
        fcemu_tablestore::OtsConfig::new(setup.data.clone()),
        plan,
        setup
    );
    cfg.strict_auth = setup.strict_auth.clone();
    cfg.known_secrets.extend(setup.known_secrets());
    let ots = tokio::task::spawn_blocking(move || fcemu_tablestore::Ots::open(cfg))
        .await?
        .map_err(|e| anyhow::anyhow!("cannot open Table Store: {e}"))?;
    ensure_tables(plan, &ots).await?;
    Ok(ots)
}

/// Creates the tables the manifest declares, and turns on the stream of tables a Table Store
/// trigger reads.
pub async fn ensure_tables(plan: &AppPlan, ots: &fcemu_tablestore::Ots) -> anyhow::Result<()> {
    for (name, table) in &plan.tables {
        create_table(ots, name, table)
            .await
            .map_err(|e| anyhow::anyhow!("cannot create table {name}: {e}"))?;
    }
    // A Table Store trigger reads the table's stream: turn it on for tables that exist.
    for f in plan.functions.values() {
        for t in &f.triggers {
            if let crate::manifest::TriggerKind::Tablestore {
                instance, table, ..
            } = &t.kind
                && ots.describe_table(instance, table).await.is_ok()
            {
                ots.set_stream(instance, table, true, None)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot enable the stream of {table}: {e}"))?;
            }
        }
    }
    Ok(())
}

/// Whether a Table Store trigger of `plan` reads `instance`/`table` (such a table needs a stream).
pub fn trigger_reads_table(plan: &AppPlan, instance: &str, table: &str) -> bool {
    plan.functions.values().any(|f| {
        f.triggers.iter().any(|t| {
            matches!(&t.kind, crate::manifest::TriggerKind::Tablestore { instance: i, table: n, .. }
                if i == instance && n == table)
        })
    })
}

/// Creates a declared table unless it exists (an existing table is never changed, but gets a
/// stream when the manifest asks for one).
async fn create_table(
    ots: &fcemu_tablestore::Ots,
    name: &str,
    table: &crate::manifest::TablePlan,
) -> Result<(), fcemu_tablestore::OtsError> {
    use fcemu_tablestore::model::{PkColumnSchema, PkType, TableOptions};
    let primary_key = table
        .primary_key
        .iter()
        .map(|(column, ty)| PkColumnSchema {
            name: column.clone(),
            ty: match ty.as_str() {
                "INTEGER" => PkType::Integer,
                "BINARY" => PkType::Binary,
                _ => PkType::String,
            },
            auto_increment: false,
        })
        .collect();
    let request = fcemu_tablestore::tables::CreateTable {
        name: name.to_string(),
        primary_key,
        defined_columns: Vec::new(),
        reserved_read: 0,
        reserved_write: 0,
        options: TableOptions {
            time_to_live: i32::try_from(table.ttl).unwrap_or(i32::MAX),
            max_versions: i32::try_from(table.max_versions).unwrap_or(i32::MAX),
            ..TableOptions::default()
        },
        stream: table.stream.then_some((true, 0)),
    };
    match ots.create_table(&table.instance, request).await {
        Ok(()) => Ok(()),
        Err(fcemu_tablestore::OtsError::TableAlreadyExist) if table.stream => ots
            .set_stream(&table.instance, name, true, None)
            .await
            .map(|_| ()),
        Err(fcemu_tablestore::OtsError::TableAlreadyExist) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Opens the Log Service in the data directory.
pub async fn open_log_service(plan: &AppPlan, setup: &Setup<'_>) -> anyhow::Result<fcemu_sls::Sls> {
    let mut cfg = configure!(fcemu_sls::SlsConfig::new(setup.data.clone()), plan, setup);
    cfg.strict_auth = setup.strict_auth.clone();
    let sls = tokio::task::spawn_blocking(move || fcemu_sls::Sls::open(cfg))
        .await?
        .map_err(|e| anyhow::anyhow!("cannot open the Log Service: {e}"))?;
    ensure_logstores(plan, &sls).await?;
    Ok(sls)
}

/// Creates the logstores the manifest declares, log triggers read and services write to.
pub async fn ensure_logstores(plan: &AppPlan, sls: &fcemu_sls::Sls) -> anyhow::Result<()> {
    for store in plan.logstores.values() {
        sls.ensure_logstore(&store.project, &store.logstore, store.shards)
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

/// The storage services of a running emulator.
#[derive(Clone)]
pub struct Stores {
    /// OSS / S3.
    pub oss: fcemu_oss::Oss,
    /// Table Store.
    pub ots: fcemu_tablestore::Ots,
    /// Log Service.
    pub sls: fcemu_sls::Sls,
}

impl Stores {
    /// Forgets every bucket, table and logstore, then creates what `plan` declares, as at start.
    pub async fn reset(&self, plan: &AppPlan) -> anyhow::Result<()> {
        self.oss
            .reset()
            .await
            .map_err(|e| anyhow::anyhow!("object store: {e}"))?;
        self.ots
            .reset()
            .await
            .map_err(|e| anyhow::anyhow!("Table Store: {e}"))?;
        loop {
            let (projects, _) = self
                .sls
                .list_projects("", 0, 500)
                .await
                .map_err(|e| anyhow::anyhow!("Log Service: {e}"))?;
            if projects.is_empty() {
                break;
            }
            for p in projects {
                self.sls
                    .delete_project(&p.name)
                    .await
                    .map_err(|e| anyhow::anyhow!("Log Service: {e}"))?;
            }
        }
        ensure_buckets(plan, &self.oss).await?;
        ensure_tables(plan, &self.ots).await?;
        ensure_logstores(plan, &self.sls).await
    }
}
