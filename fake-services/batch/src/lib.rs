//! fcemu's BatchCompute: DAG jobs whose task instances run as local processes, with OSS as the
//! storage inputs come from and outputs, stdout and stderr go to (reference batchcompute.md).
//!
//! Layers: [`http`] knows the wire (routes, JSON shapes, errors); [`job`] what a description
//! means (validation, DAG order, states); [`run`] runs a job (the scheduler and one process per
//! instance attempt); jobs are kept in SQLite (one document per job, written before an answer
//! is sent). The crate knows nothing of the emulator: OSS is reached through [`Objects`], and a
//! running job holds whatever [`Batch::attach`] was given to make the emulator's `idle` wait.

pub mod auth;
pub mod cluster;
pub mod error;
pub mod http;
pub mod image;
pub mod job;
pub mod run;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use fcemu_core::storage::Locked;
use fcemu_core::{ChangeFeed, ServiceContext};
use futures::future::BoxFuture;
use rusqlite::Connection;
use tokio::sync::{Mutex, Semaphore, watch};

pub use cluster::Cluster;
pub use error::BatchError;
pub use image::Image;
pub use job::{Job, State};
pub use run::AttemptReport;

/// How the service is opened.
#[derive(Clone, Debug)]
pub struct BatchConfig {
    /// Data directory, clock, ids, region and account.
    pub ctx: ServiceContext,
    /// Instances that may run at once (default: the machine's cores).
    pub workers: usize,
    /// What instances get as `BATCH_COMPUTE_OSS_HOST`: the services endpoint, `host:port`.
    pub oss_host: String,
}

impl BatchConfig {
    /// A configuration over `ctx`.
    pub fn with_context(ctx: ServiceContext) -> Self {
        BatchConfig {
            ctx,
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            oss_host: "127.0.0.1:9000".into(),
        }
    }
}

/// The object storage jobs read inputs from and write outputs and logs to (the emulator's OSS).
pub trait Objects: Send + Sync + 'static {
    /// The content of an object.
    fn get<'a>(&'a self, bucket: &'a str, key: &'a str) -> BoxFuture<'a, Result<Vec<u8>, String>>;
    /// Writes an object (triggers fire as for any write).
    fn put<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
        body: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), String>>;
    /// The keys under a prefix, in order.
    fn list<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, String>>;
}

/// Called when a job starts running; what it returns is dropped when the job ends.
pub type WorkHook = Arc<dyn Fn() -> Box<dyn Send> + Send + Sync>;

/// The service. Cheap to clone.
#[derive(Clone)]
pub struct Batch(Arc<Inner>);

struct Inner {
    config: BatchConfig,
    jobs: Mutex<BTreeMap<String, Job>>,
    clusters: Mutex<BTreeMap<String, Cluster>>,
    pools: std::sync::Mutex<HashMap<String, Arc<cluster::Pool>>>,
    images: Mutex<BTreeMap<String, Image>>,
    /// `IdempotentToken` → (the body it came with, the id it created); kept while fcemu runs.
    tokens: std::sync::Mutex<HashMap<String, (Vec<u8>, String)>>,
    attempts: ChangeFeed<AttemptReport>,
    store: Locked<Connection>,
    seq: AtomicU64,
    stops: std::sync::Mutex<HashMap<String, watch::Sender<bool>>>,
    workers: Arc<Semaphore>,
    objects: RwLock<Option<Arc<dyn Objects>>>,
    work: RwLock<Option<WorkHook>>,
    work_dir: PathBuf,
}

/// The tables, each one document per row.
const MIGRATIONS: [&str; 2] = [
    "CREATE TABLE jobs (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, doc TEXT NOT NULL);",
    "CREATE TABLE clusters (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, doc TEXT NOT NULL);
     CREATE TABLE images (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, doc TEXT NOT NULL);",
];

/// The tables documents are kept in.
#[derive(Clone, Copy, Debug)]
enum Table {
    Jobs,
    Clusters,
    Images,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Jobs => "jobs",
            Table::Clusters => "clusters",
            Table::Images => "images",
        }
    }
}

/// Every document of `table`, in creation order; unreadable ones are skipped.
fn load<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    table: Table,
) -> rusqlite::Result<Vec<(String, T)>> {
    let mut stmt = conn.prepare(&format!("SELECT doc FROM {} ORDER BY seq", table.name()))?;
    let docs: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(docs
        .into_iter()
        .filter_map(|doc| Some((doc.clone(), serde_json::from_str(&doc).ok()?)))
        .collect())
}

/// What a job that was running when fcemu stopped says.
const INTERRUPTED: &str =
    "fcemu stopped while the job ran; start it again (start_job) to run what did not finish";

impl Batch {
    /// Opens the service in `ctx.data/batch` (blocking: call at start-up). Jobs that were
    /// waiting or running when fcemu last stopped are `Failed` with a message saying so.
    pub fn open(config: BatchConfig) -> Result<Batch, BatchError> {
        let dir = config.ctx.data.path().join("batch");
        std::fs::create_dir_all(&dir).map_err(|e| BatchError::Internal(e.to_string()))?;
        let conn = fcemu_core::storage::open_sqlite(&dir.join("jobs.db"), &MIGRATIONS)?;
        if !config.ctx.durable {
            conn.pragma_update(None, "synchronous", "OFF")?;
        }
        let mut jobs = BTreeMap::new();
        let mut max_seq = 0;
        for (doc, mut job) in load::<Job>(&conn, Table::Jobs)? {
            max_seq = max_seq.max(job.seq);
            if !job.state.is_final() {
                run::interrupt(&mut job, INTERRUPTED);
                conn.execute(
                    "UPDATE jobs SET doc = ?2 WHERE id = ?1",
                    rusqlite::params![job.id, serde_json::to_string(&job).unwrap_or(doc)],
                )?;
            }
            jobs.insert(job.id.clone(), job);
        }
        let mut clusters = BTreeMap::new();
        let mut pools = HashMap::new();
        for (_, c) in load::<Cluster>(&conn, Table::Clusters)? {
            max_seq = max_seq.max(c.seq);
            pools.insert(c.id.clone(), cluster::Pool::new(c.size()));
            clusters.insert(c.id.clone(), c);
        }
        let mut images = BTreeMap::from([(image::SYSTEM_IMAGE.to_string(), Image::system())]);
        for (_, i) in load::<Image>(&conn, Table::Images)? {
            max_seq = max_seq.max(i.seq);
            images.insert(i.id.clone(), i);
        }
        let workers = Arc::new(Semaphore::new(config.workers.max(1)));
        Ok(Batch(Arc::new(Inner {
            work_dir: dir.join("work"),
            config,
            jobs: Mutex::new(jobs),
            clusters: Mutex::new(clusters),
            pools: std::sync::Mutex::new(pools),
            images: Mutex::new(images),
            tokens: Default::default(),
            attempts: ChangeFeed::new(),
            store: Locked::new(conn),
            seq: AtomicU64::new(max_seq),
            stops: Default::default(),
            workers,
            objects: RwLock::new(None),
            work: RwLock::new(None),
        })))
    }

    /// Connects the object storage and the hook that keeps the emulator busy while a job runs.
    pub fn attach(&self, objects: Arc<dyn Objects>, work: WorkHook) {
        *self.0.objects.write().unwrap_or_else(|e| e.into_inner()) = Some(objects);
        *self.0.work.write().unwrap_or_else(|e| e.into_inner()) = Some(work);
    }

    /// The configuration.
    pub fn config(&self) -> &BatchConfig {
        &self.0.config
    }

    /// The wire API.
    pub fn router(&self) -> axum::Router {
        http::router(self.clone())
    }

    pub(crate) fn objects(&self) -> Option<Arc<dyn Objects>> {
        self.0
            .objects
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn now_ms(&self) -> i64 {
        (self.0.config.ctx.clock.now().unix_timestamp_nanos() / 1_000_000) as i64
    }

    fn next_seq(&self) -> u64 {
        self.0.seq.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// `prefix` and 22 lower-case hex digits, as cluster and image ids look.
    fn short_id(&self, prefix: &str) -> String {
        format!(
            "{prefix}{}",
            self.0.config.ctx.ids.hex_upper(22).to_lowercase()
        )
    }

    /// The id an earlier create with `token` made, when the body is the same;
    /// `IdempotentTokenMismatch` when it is not.
    pub fn remembered(&self, token: &str, body: &[u8]) -> Result<Option<String>, BatchError> {
        let tokens = self.0.tokens.lock().unwrap_or_else(|e| e.into_inner());
        match tokens.get(token) {
            None => Ok(None),
            Some((b, id)) if b == body => Ok(Some(id.clone())),
            Some(_) => Err(BatchError::IdempotentTokenMismatch(token.into())),
        }
    }

    /// Remembers that `token` created `id` from `body`.
    pub fn remember(&self, token: &str, body: &[u8], id: &str) {
        self.0
            .tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.into(), (body.to_vec(), id.into()));
    }

    /// Creates a job from its description and starts it; its id.
    pub async fn create_job(&self, body: &[u8]) -> Result<String, BatchError> {
        let id = format!("job-{}", self.0.config.ctx.ids.hex_upper(32));
        let job = job::parse(body, id.clone(), self.next_seq(), self.now_ms())?;
        {
            let clusters = self.0.clusters.lock().await;
            for t in &job.tasks {
                if let Some(c) = &t.spec.cluster
                    && !clusters.contains_key(c)
                {
                    return Err(BatchError::invalid(
                        "ClusterId",
                        format!(
                            "task {} names cluster {c}, which does not exist (create_cluster makes one)",
                            t.name
                        ),
                    ));
                }
            }
        }
        let mut jobs = self.0.jobs.lock().await;
        self.save(Table::Jobs, &job.id, job.seq, &job).await?;
        jobs.insert(id.clone(), job);
        drop(jobs);
        self.spawn(&id);
        Ok(id)
    }

    /// What each instance attempt did, as it ends: for the terminal and the Log Service.
    pub fn attempts(&self) -> &ChangeFeed<AttemptReport> {
        &self.0.attempts
    }

    /// Creates a cluster (a local pool of `sum(DesiredVMCount)` slots); its id.
    pub async fn create_cluster(&self, body: &[u8]) -> Result<String, BatchError> {
        let mut c = cluster::parse(body, self.short_id("cls-"), self.next_seq(), self.now_ms())?;
        c.operation_logs.push(format!(
            "{} created with {} slots",
            time_text(c.created_ms),
            c.size()
        ));
        let mut clusters = self.0.clusters.lock().await;
        self.save(Table::Clusters, &c.id, c.seq, &c).await?;
        self.pools_lock()
            .insert(c.id.clone(), cluster::Pool::new(c.size()));
        let id = c.id.clone();
        clusters.insert(id.clone(), c);
        Ok(id)
    }

    fn pools_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<cluster::Pool>>> {
        self.0.pools.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A cluster.
    pub async fn cluster(&self, id: &str) -> Result<Cluster, BatchError> {
        self.0
            .clusters
            .lock()
            .await
            .get(id)
            .cloned()
            .ok_or_else(|| BatchError::NotFound(format!("cluster {id}")))
    }

    /// Every cluster, in creation order.
    pub async fn clusters(&self) -> Vec<Cluster> {
        let mut all: Vec<Cluster> = self.0.clusters.lock().await.values().cloned().collect();
        all.sort_by_key(|c| c.seq);
        all
    }

    /// Instances running on cluster `id` now.
    pub fn cluster_busy(&self, id: &str) -> usize {
        self.pools_lock().get(id).map_or(0, |p| p.busy())
    }

    pub(crate) fn pool(&self, id: &str) -> Option<Arc<cluster::Pool>> {
        self.pools_lock().get(id).cloned()
    }

    /// Changes a cluster with `f` (all or nothing) and resizes its pool.
    async fn change_cluster(
        &self,
        id: &str,
        f: impl FnOnce(&Cluster) -> Result<Cluster, BatchError>,
    ) -> Result<(), BatchError> {
        let mut clusters = self.0.clusters.lock().await;
        let c = clusters
            .get_mut(id)
            .ok_or_else(|| BatchError::NotFound(format!("cluster {id}")))?;
        let next = f(c)?;
        self.save(Table::Clusters, &next.id, next.seq, &next)
            .await?;
        if let Some(pool) = self.pools_lock().get(id) {
            pool.resize(next.size());
        }
        *c = next;
        Ok(())
    }

    /// Applies a ModifyCluster body.
    pub async fn modify_cluster(&self, id: &str, body: &[u8]) -> Result<(), BatchError> {
        let now = time_text(self.now_ms());
        self.change_cluster(id, |c| {
            let mut next = cluster::modify(c, body)?;
            next.operation_logs
                .push(format!("{now} modified: {} slots", next.size()));
            Ok(next)
        })
        .await
    }

    /// Deletes instance `n` of a group: the group has one "VM" fewer.
    pub async fn delete_cluster_instance(
        &self,
        id: &str,
        group: &str,
        instance: &str,
    ) -> Result<(), BatchError> {
        let now = time_text(self.now_ms());
        self.change_cluster(id, |c| {
            let g = c
                .groups
                .get(group)
                .ok_or_else(|| BatchError::NotFound(format!("group {group} of cluster {id}")))?;
            if !(0..g.desired).any(|n| c.instance_id(group, n) == instance) {
                return Err(BatchError::NotFound(format!(
                    "instance {instance} of cluster {id}"
                )));
            }
            let mut next = c.clone();
            if let Some(g) = next.groups.get_mut(group) {
                g.desired -= 1;
            }
            next.operation_logs
                .push(format!("{now} instance {instance} deleted"));
            Ok(next)
        })
        .await
    }

    /// Deletes a cluster; instances still waiting for one of its slots fail.
    pub async fn delete_cluster(&self, id: &str) -> Result<(), BatchError> {
        let mut clusters = self.0.clusters.lock().await;
        if !clusters.contains_key(id) {
            return Err(BatchError::NotFound(format!("cluster {id}")));
        }
        self.delete(Table::Clusters, id).await?;
        clusters.remove(id);
        if let Some(pool) = self.pools_lock().remove(id) {
            pool.close();
        }
        Ok(())
    }

    /// Registers an image; its id.
    pub async fn create_image(&self, body: &[u8]) -> Result<String, BatchError> {
        let image = image::parse(body, self.short_id("img-"), self.next_seq(), self.now_ms())?;
        let mut images = self.0.images.lock().await;
        self.save(Table::Images, &image.id, image.seq, &image)
            .await?;
        let id = image.id.clone();
        images.insert(id.clone(), image);
        Ok(id)
    }

    /// An image.
    pub async fn image(&self, id: &str) -> Result<Image, BatchError> {
        self.0
            .images
            .lock()
            .await
            .get(id)
            .cloned()
            .ok_or_else(|| BatchError::NotFound(format!("image {id}")))
    }

    /// Every image, the system image first.
    pub async fn images(&self) -> Vec<Image> {
        let mut all: Vec<Image> = self.0.images.lock().await.values().cloned().collect();
        all.sort_by_key(|i| i.seq);
        all
    }

    /// Deletes one of the account's images (not the system image).
    pub async fn delete_image(&self, id: &str) -> Result<(), BatchError> {
        if id == image::SYSTEM_IMAGE {
            return Err(BatchError::Forbidden(format!("{id} is a system image")));
        }
        let mut images = self.0.images.lock().await;
        if !images.contains_key(id) {
            return Err(BatchError::NotFound(format!("image {id}")));
        }
        self.delete(Table::Images, id).await?;
        images.remove(id);
        Ok(())
    }

    /// A job.
    pub async fn job(&self, id: &str) -> Result<Job, BatchError> {
        self.0
            .jobs
            .lock()
            .await
            .get(id)
            .cloned()
            .ok_or_else(|| BatchError::NotFound(format!("job {id}")))
    }

    /// Every job, in creation order.
    pub async fn jobs(&self) -> Vec<Job> {
        let mut all: Vec<Job> = self.0.jobs.lock().await.values().cloned().collect();
        all.sort_by_key(|j| j.seq);
        all
    }

    /// Changes a job with `f` and keeps the result; `f`'s answer. Every change of state goes
    /// through here, under one lock, written before it returns.
    pub(crate) async fn update<T>(
        &self,
        id: &str,
        f: impl FnOnce(&mut Job) -> Result<T, BatchError>,
    ) -> Result<T, BatchError> {
        let mut jobs = self.0.jobs.lock().await;
        let job = jobs
            .get_mut(id)
            .ok_or_else(|| BatchError::NotFound(format!("job {id}")))?;
        let before = job.clone();
        let out = f(job)?;
        if *job != before {
            let copy = job.clone();
            if let Err(e) = self.save(Table::Jobs, &copy.id, copy.seq, &copy).await {
                *job = before;
                return Err(e);
            }
        }
        Ok(out)
    }

    /// Writes one document of `table` (before the change it records is answered).
    async fn save<T: serde::Serialize>(
        &self,
        table: Table,
        id: &str,
        seq: u64,
        value: &T,
    ) -> Result<(), BatchError> {
        let doc = serde_json::to_string(value).map_err(|e| BatchError::Internal(e.to_string()))?;
        let (id, seq) = (id.to_string(), seq as i64);
        self.0
            .store
            .call(move |conn| {
                conn.execute(
                    &format!(
                        "INSERT OR REPLACE INTO {} (id, seq, doc) VALUES (?1, ?2, ?3)",
                        table.name()
                    ),
                    rusqlite::params![id, seq, doc],
                )
                .map(|_| ())
                .map_err(BatchError::from)
            })
            .await
    }

    /// Removes one document of `table`.
    async fn delete(&self, table: Table, id: &str) -> Result<(), BatchError> {
        let id = id.to_string();
        self.0
            .store
            .call(move |conn| {
                conn.execute(&format!("DELETE FROM {} WHERE id = ?1", table.name()), [id])
                    .map(|_| ())
                    .map_err(BatchError::from)
            })
            .await
    }

    /// Starts the scheduler of job `id`.
    fn spawn(&self, id: &str) {
        let (tx, rx) = watch::channel(false);
        self.0
            .stops
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), tx);
        let guard = self
            .0
            .work
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|hook| hook());
        let batch = self.clone();
        let id = id.to_string();
        tokio::spawn(async move {
            run::run_job(batch.clone(), id.clone(), rx).await;
            batch
                .0
                .stops
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            drop(guard);
        });
    }

    /// Stops a waiting or running job: its running instances' processes are killed.
    pub async fn stop_job(&self, id: &str) -> Result<(), BatchError> {
        let now = self.now_ms();
        self.update(id, |job| {
            if job.state.is_final() {
                return Err(BatchError::StateConflict(job.state.as_str()));
            }
            run::finish_all(job, State::Stopped, "Stopped", "the job was stopped", now);
            job.message = "Stopped by the user".into();
            Ok(())
        })
        .await?;
        if let Some(tx) = self
            .0
            .stops
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
        {
            let _ = tx.send(true);
        }
        Ok(())
    }

    /// Runs a stopped or failed job again; instances that finished are not run again.
    pub async fn start_job(&self, id: &str) -> Result<(), BatchError> {
        self.update(id, |job| {
            if !matches!(job.state, State::Stopped | State::Failed) {
                return Err(BatchError::StateConflict(job.state.as_str()));
            }
            run::rewind(job);
            Ok(())
        })
        .await?;
        self.spawn(id);
        Ok(())
    }

    /// Deletes a finished, failed or stopped job.
    pub async fn delete_job(&self, id: &str) -> Result<(), BatchError> {
        let mut jobs = self.0.jobs.lock().await;
        let job = jobs
            .get(id)
            .ok_or_else(|| BatchError::NotFound(format!("job {id}")))?;
        if !job.state.is_final() {
            return Err(BatchError::StateConflict(job.state.as_str()));
        }
        self.delete(Table::Jobs, id).await?;
        jobs.remove(id);
        Ok(())
    }

    /// Changes the priority of a stopped job.
    pub async fn set_priority(&self, id: &str, priority: i64) -> Result<(), BatchError> {
        self.update(id, |job| {
            if job.state != State::Stopped {
                return Err(BatchError::StateConflict(job.state.as_str()));
            }
            job.priority = priority;
            Ok(())
        })
        .await
    }

    /// Stops every job and forgets them all, with the clusters and the account's images.
    pub async fn reset(&self) -> Result<(), BatchError> {
        let ids: Vec<String> = self.0.jobs.lock().await.keys().cloned().collect();
        for id in &ids {
            let _ = self.stop_job(id).await;
        }
        let senders: Vec<watch::Sender<bool>> = self
            .0
            .stops
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        for tx in senders {
            let _ = tx.send(true);
        }
        let mut jobs = self.0.jobs.lock().await;
        let mut clusters = self.0.clusters.lock().await;
        let mut images = self.0.images.lock().await;
        self.0
            .store
            .call(|conn| {
                conn.execute_batch("DELETE FROM jobs; DELETE FROM clusters; DELETE FROM images;")
                    .map_err(BatchError::from)
            })
            .await?;
        jobs.clear();
        clusters.clear();
        images.retain(|id, _| id == image::SYSTEM_IMAGE);
        for (_, pool) in self.pools_lock().drain() {
            pool.close();
        }
        self.0
            .tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        Ok(())
    }
}

/// `2016-11-01T15:25:03.020203Z`, or `""` when `ms` is out of range.
pub fn time_text(ms: i64) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return String::new();
    };
    format!("{}Z", fcemu_core::clock::utc_text(t, 'T', 6))
}
