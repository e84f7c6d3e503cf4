//! fcemu's BatchCompute: DAG jobs whose task instances run as local processes, with OSS as the
//! storage inputs come from and outputs, stdout and stderr go to (reference batchcompute.md).
//!
//! Layers: [`http`] knows the wire (routes, JSON shapes, errors); [`job`] what a description
//! means (validation, DAG order, states); [`run`] runs a job (the scheduler and one process per
//! instance attempt); jobs are kept in SQLite (one document per job, written before an answer
//! is sent). The crate knows nothing of the emulator: OSS is reached through [`Objects`], and a
//! running job holds whatever [`Batch::attach`] was given to make the emulator's `idle` wait.

pub mod auth;
pub mod error;
pub mod http;
pub mod job;
pub mod run;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use fcemu_core::ServiceContext;
use fcemu_core::storage::Locked;
use futures::future::BoxFuture;
use rusqlite::Connection;
use tokio::sync::{Mutex, Semaphore, watch};

pub use error::BatchError;
pub use job::{Job, State};

/// How the service is opened.
#[derive(Clone, Debug)]
pub struct BatchConfig {
    /// Data directory, clock, ids, region and account.
    pub ctx: ServiceContext,
    /// Instances that may run at once (default: the machine's cores).
    pub workers: usize,
    /// What instances get as `BATCH_COMPUTE_OSS_HOST`: the services endpoint, `host:port`.
    pub oss_host: String,
    /// `--strict-auth`: the one key pair requests must be signed with.
    pub strict_auth: Option<(String, String)>,
}

impl BatchConfig {
    /// A configuration over `ctx`.
    pub fn with_context(ctx: ServiceContext) -> Self {
        BatchConfig {
            ctx,
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            oss_host: "127.0.0.1:9000".into(),
            strict_auth: None,
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
    store: Locked<Connection>,
    seq: AtomicU64,
    stops: std::sync::Mutex<HashMap<String, watch::Sender<bool>>>,
    workers: Arc<Semaphore>,
    objects: RwLock<Option<Arc<dyn Objects>>>,
    work: RwLock<Option<WorkHook>>,
    work_dir: PathBuf,
}

const SCHEMA: &str =
    "CREATE TABLE jobs (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, doc TEXT NOT NULL);";

/// What a job that was running when fcemu stopped says.
const INTERRUPTED: &str =
    "fcemu stopped while the job ran; start it again (start_job) to run what did not finish";

impl Batch {
    /// Opens the service in `ctx.data/batch` (blocking: call at start-up). Jobs that were
    /// waiting or running when fcemu last stopped are `Failed` with a message saying so.
    pub fn open(config: BatchConfig) -> Result<Batch, BatchError> {
        let dir = config.ctx.data.path().join("batch");
        std::fs::create_dir_all(&dir).map_err(|e| BatchError::Internal(e.to_string()))?;
        let conn = fcemu_core::storage::open_sqlite(&dir.join("jobs.db"), &[SCHEMA])?;
        if !config.ctx.durable {
            conn.pragma_update(None, "synchronous", "OFF")?;
        }
        let mut jobs = BTreeMap::new();
        let mut max_seq = 0;
        {
            let mut stmt = conn.prepare("SELECT doc FROM jobs ORDER BY seq")?;
            let docs: Vec<String> = stmt
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for doc in docs {
                let Ok(mut job) = serde_json::from_str::<Job>(&doc) else {
                    continue;
                };
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
        }
        let workers = Arc::new(Semaphore::new(config.workers.max(1)));
        Ok(Batch(Arc::new(Inner {
            work_dir: dir.join("work"),
            config,
            jobs: Mutex::new(jobs),
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

    /// Creates a job from its description and starts it; its id.
    pub async fn create_job(&self, body: &[u8]) -> Result<String, BatchError> {
        let id = format!("job-{}", self.0.config.ctx.ids.hex_upper(32));
        let seq = self.0.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let job = job::parse(body, id.clone(), seq, self.now_ms())?;
        let mut jobs = self.0.jobs.lock().await;
        self.save(&job).await?;
        jobs.insert(id.clone(), job);
        drop(jobs);
        self.spawn(&id);
        Ok(id)
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
            if let Err(e) = self.save(&copy).await {
                *job = before;
                return Err(e);
            }
        }
        Ok(out)
    }

    async fn save(&self, job: &Job) -> Result<(), BatchError> {
        let doc = serde_json::to_string(job).map_err(|e| BatchError::Internal(e.to_string()))?;
        let (id, seq) = (job.id.clone(), job.seq as i64);
        self.0
            .store
            .call(move |conn| {
                conn.execute(
                    "INSERT OR REPLACE INTO jobs (id, seq, doc) VALUES (?1, ?2, ?3)",
                    rusqlite::params![id, seq, doc],
                )
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
        let key = id.to_string();
        self.0
            .store
            .call(move |conn| {
                conn.execute("DELETE FROM jobs WHERE id = ?1", [key])
                    .map(|_| ())
                    .map_err(BatchError::from)
            })
            .await?;
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

    /// Stops every job and forgets them all.
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
        self.0
            .store
            .call(|conn| {
                conn.execute("DELETE FROM jobs", [])
                    .map(|_| ())
                    .map_err(BatchError::from)
            })
            .await?;
        jobs.clear();
        Ok(())
    }
}
