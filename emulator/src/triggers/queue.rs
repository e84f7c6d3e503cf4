//! FC's asynchronous invocation: trigger deliveries and `x-fc-invocation-type: Async` calls are
//! queued, run within the function's concurrency, retried on function errors as FC retries
//! (default 3 times, 1 s / 2 s / 4 s apart), dropped when older than the maximum event age, and
//! followed by the onSuccess / onFailure destination (reference/fc.md §7). With persistence on,
//! queued work is in SQLite and resumes after a restart.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fcemu_core::storage::Locked;
use rusqlite::{Connection, params};
use serde_json::json;
use time::OffsetDateTime;
use tokio::sync::mpsc;

use crate::app::{App, WorkGuard};
use crate::runtime::{Invocation, InvocationOutcome, InvocationStatus, WhenBusy};

/// One queued invocation.
#[derive(Debug, Clone)]
pub struct Job {
    /// Request id (kept across retries).
    pub request_id: String,
    /// Function to run.
    pub function: String,
    /// What queued it: a trigger name, `async`, or `destination`.
    pub trigger: String,
    /// The event.
    pub event: Bytes,
    /// When it was queued (the emulator's clock).
    pub enqueued_at: OffsetDateTime,
    /// Attempts made so far.
    pub attempt: u32,
    /// How many trigger hops led here (for the loop guard).
    pub depth: u32,
    /// Request id of the invocation whose write (or result, for destinations) queued it.
    pub caused_by: Option<String>,
}

struct Queued {
    job: Job,
    row: Option<i64>,
    _work: WorkGuard,
}

/// The queue. Cheap to share.
pub struct AsyncQueue {
    app: Arc<App>,
    tx: mpsc::UnboundedSender<Queued>,
    store: Option<Locked<Connection>>,
}

const SCHEMA: &str = "CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL,
    function TEXT NOT NULL,
    trigger TEXT NOT NULL,
    event BLOB NOT NULL,
    enqueued_at_ms INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    depth INTEGER NOT NULL
);";

impl AsyncQueue {
    /// Starts the queue. `store` is the SQLite file for persistence (None keeps jobs in memory);
    /// jobs left in it by an earlier run are resumed. `sequential` runs one job at a time in
    /// arrival order (deterministic runs).
    pub fn start(
        app: Arc<App>,
        store: Option<&Path>,
        sequential: bool,
    ) -> anyhow::Result<Arc<Self>> {
        let store = match store {
            Some(path) => Some(Locked::new(fcemu_core::storage::open_sqlite(
                path,
                &[SCHEMA, "ALTER TABLE jobs ADD COLUMN caused_by TEXT;"],
            )?)),
            None => None,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let queue = Arc::new(AsyncQueue {
            app: app.clone(),
            tx,
            store,
        });
        tokio::spawn(dispatch(queue.clone(), rx, sequential));
        if let Some(store) = &queue.store {
            let resumed = store.with_blocking(load)?;
            if !resumed.is_empty() {
                tracing::info!(jobs = resumed.len(), "resuming queued invocations");
                eprintln!(
                    "fcemu: resuming {} queued invocation(s) from the last run",
                    resumed.len()
                );
            }
            for (row, job) in resumed {
                let work = app.begin_work();
                let _ = queue.tx.send(Queued {
                    job,
                    row: Some(row),
                    _work: work,
                });
            }
        }
        Ok(queue)
    }

    /// Queues `job`; it is durable (with persistence on) when this returns.
    pub async fn enqueue(&self, job: Job) {
        let work = self.app.begin_work();
        let row = match &self.store {
            Some(store) => {
                let j = job.clone();
                match store.call(move |conn| insert(conn, &j)).await {
                    Ok(row) => Some(row),
                    Err(e) => {
                        tracing::error!(error = %e, "could not persist a queued invocation; it runs but will not survive a restart");
                        None
                    }
                }
            }
            None => None,
        };
        let _ = self.tx.send(Queued {
            job,
            row,
            _work: work,
        });
    }

    async fn forget(&self, row: Option<i64>) {
        if let (Some(store), Some(row)) = (&self.store, row) {
            let done = store
                .call(move |conn| -> anyhow::Result<usize> {
                    Ok(conn.execute("DELETE FROM jobs WHERE id = ?1", params![row])?)
                })
                .await;
            if let Err(e) = done {
                tracing::error!(error = %e, "could not remove a finished invocation from the queue; it may run again after a restart");
            }
        }
    }

    async fn save_attempt(&self, row: Option<i64>, attempt: u32) {
        if let (Some(store), Some(row)) = (&self.store, row) {
            let saved = store
                .call(move |conn| -> anyhow::Result<usize> {
                    Ok(conn.execute(
                        "UPDATE jobs SET attempt = ?1 WHERE id = ?2",
                        params![attempt, row],
                    )?)
                })
                .await;
            if let Err(e) = saved {
                tracing::error!(error = %e, "could not record a retry of a queued invocation");
            }
        }
    }
}

fn insert(conn: &mut Connection, job: &Job) -> anyhow::Result<i64> {
    conn.execute(
        "INSERT INTO jobs (request_id, function, trigger, event, enqueued_at_ms, attempt, depth, caused_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            job.request_id,
            job.function,
            job.trigger,
            &job.event[..],
            (job.enqueued_at.unix_timestamp_nanos() / 1_000_000) as i64,
            job.attempt,
            job.depth,
            job.caused_by
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

fn load(conn: &mut Connection) -> rusqlite::Result<Vec<(i64, Job)>> {
    let mut stmt = conn.prepare("SELECT id, request_id, function, trigger, event, enqueued_at_ms, attempt, depth, caused_by FROM jobs ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        let ms: i64 = r.get(5)?;
        Ok((
            r.get::<_, i64>(0)?,
            Job {
                request_id: r.get(1)?,
                function: r.get(2)?,
                trigger: r.get(3)?,
                event: Bytes::from(r.get::<_, Vec<u8>>(4)?),
                enqueued_at: OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
                    .unwrap_or(OffsetDateTime::UNIX_EPOCH),
                attempt: r.get(6)?,
                depth: r.get(7)?,
                caused_by: r.get(8)?,
            },
        ))
    })?;
    rows.collect()
}

async fn dispatch(
    queue: Arc<AsyncQueue>,
    mut rx: mpsc::UnboundedReceiver<Queued>,
    sequential: bool,
) {
    while let Some(q) = rx.recv().await {
        if sequential {
            run(queue.clone(), q).await;
        } else {
            tokio::spawn(run(queue.clone(), q));
        }
    }
}

/// Delay before retry number `attempt` (1-based): 1 s, 2 s, 4 s, ... capped at 1 minute.
fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1 << (attempt.saturating_sub(1)).min(6))
}

async fn run(queue: Arc<AsyncQueue>, mut q: Queued) {
    let app = &queue.app;
    let clock = app.runtime().clock().clone();
    loop {
        let Some(f) = app.function(&q.job.function) else {
            tracing::warn!(function = %q.job.function, request_id = %q.job.request_id, "queued invocation dropped: the function no longer exists");
            break;
        };
        let cfg = f.plan.async_invoke.clone();
        let age = clock.now() - q.job.enqueued_at;
        if age > cfg.max_event_age {
            eprintln!(
                "fcemu: {} event {} expired after {}s (max_event_age {}s); not retried",
                q.job.function,
                q.job.request_id,
                age.whole_seconds(),
                cfg.max_event_age.whole_seconds()
            );
            destination(&queue, &q.job, None, "EventAgeExceeded").await;
            break;
        }
        let inv = Invocation {
            request_id: q.job.request_id.clone(),
            event: q.job.event.clone(),
            qualifier: "LATEST".into(),
            depth: q.job.depth,
            caused_by: q.job.caused_by.clone(),
            retry: q.job.attempt,
        };
        let outcome = match app.runtime().invoke(&f, inv, WhenBusy::Wait).await {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(error = %e, "queued invocation could not run");
                break;
            }
        };
        app.finish(&outcome, &q.job.trigger, q.job.attempt);
        if outcome.status == InvocationStatus::Success {
            destination(&queue, &q.job, Some(&outcome), "").await;
            break;
        }
        if q.job.attempt >= cfg.max_retries {
            let condition = if cfg.max_retries > 0 {
                "RetriesExhausted"
            } else {
                outcome.status.error_type_header().unwrap_or("")
            };
            destination(&queue, &q.job, Some(&outcome), condition).await;
            break;
        }
        q.job.attempt += 1;
        queue.save_attempt(q.row, q.job.attempt).await;
        if !clock.is_virtual() {
            tokio::time::sleep(backoff(q.job.attempt)).await;
        }
    }
    queue.forget(q.row).await;
}

/// Queues the onSuccess / onFailure destination with FC's destination payload (§7.3).
async fn destination(
    queue: &AsyncQueue,
    job: &Job,
    outcome: Option<&InvocationOutcome>,
    condition: &str,
) {
    let app = &queue.app;
    let Some(f) = app.function(&job.function) else {
        return;
    };
    let cfg = &f.plan.async_invoke;
    let success = outcome.is_some_and(|o| o.status == InvocationStatus::Success);
    let target = if success {
        &cfg.on_success
    } else {
        &cfg.on_failure
    };
    let Some(target) = target else { return };
    let plan = app.plan();
    let payload = json!({
        "timestamp": app.runtime().clock().now().format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        "requestContext": {
            "requestId": job.request_id,
            "condition": condition,
            "functionArn": format!("acs:fc:{}:{}:services/{}.LATEST/functions/{}", plan.region, plan.account_id, f.plan.service, f.plan.name),
            "approximateInvokeCount": job.attempt + 1,
        },
        "requestPayload": String::from_utf8_lossy(&job.event),
        "responseContext": {
            "statusCode": if outcome.is_some() { 200 } else { 0 },
            "functionError": outcome.and_then(|o| o.status.error_type_header()).unwrap_or(""),
        },
        "responsePayload": outcome.map(|o| String::from_utf8_lossy(&o.body).into_owned()).unwrap_or_default(),
    });
    let job = Job {
        request_id: app.new_request_id(),
        function: target.clone(),
        trigger: if success {
            "on-success".into()
        } else {
            "on-failure".into()
        },
        event: Bytes::from(serde_json::to_vec(&payload).unwrap_or_default()),
        enqueued_at: app.runtime().clock().now(),
        attempt: 0,
        depth: job.depth + 1,
        caused_by: Some(job.request_id.clone()),
    };
    Box::pin(queue.enqueue(job)).await;
}
