//! Log triggers (reference/fc.md §2.3): logs written to a logstore are delivered, per shard,
//! at most once per trigger interval, as an event holding the cursors of the new data (the
//! function pulls the logs itself). The interval runs on the emulator's clock, so with a
//! virtual clock `POST /_fcemu/clock/advance` fires what falls due.

use std::collections::BTreeMap;
use std::sync::Mutex;

use base64::Engine;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::app::App;
use crate::manifest::TriggerKind;

/// Where a log trigger's new data lies: one shard, between two cursors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSource {
    /// Project.
    pub project: String,
    /// Logstore.
    pub logstore: String,
    /// Shard.
    pub shard: u32,
    /// Cursor of the first new log group.
    pub begin_cursor: String,
    /// Cursor after the last new log group.
    pub end_cursor: String,
}

impl LogSource {
    /// A source whose cursors are made from `at` (for synthetic events, where nothing was
    /// written).
    pub fn synthetic(project: &str, logstore: &str, shard: u32, at: OffsetDateTime) -> Self {
        let b64 = |n: i128| base64::engine::general_purpose::STANDARD.encode(n.to_string());
        let cursor = at.unix_timestamp_nanos() / 1000;
        LogSource {
            project: project.into(),
            logstore: logstore.into(),
            shard,
            begin_cursor: b64(cursor),
            end_cursor: b64(cursor + 1),
        }
    }
}

/// The Log trigger's event for `source`; `payload` becomes `parameter` (JSON when it parses).
pub fn log_event(
    source: &LogSource,
    payload: &str,
    region: &str,
    now: OffsetDateTime,
    task_id: String,
) -> Vec<u8> {
    let parameter: Value = serde_json::from_str(payload).unwrap_or_else(|_| {
        if payload.is_empty() {
            json!({})
        } else {
            Value::String(payload.into())
        }
    });
    let job = format!("{}/{}", source.project, source.logstore);
    let event = json!({
        "parameter": parameter,
        "source": {
            "endpoint": format!("http://{region}-intranet.log.aliyuncs.com"),
            "projectName": source.project,
            "logstoreName": source.logstore,
            "shardId": source.shard,
            "beginCursor": source.begin_cursor,
            "endCursor": source.end_cursor,
        },
        "jobName": crate::runtime::content_hash(job.as_bytes())[..40].to_string(),
        "taskId": task_id,
        "cursorTime": now.unix_timestamp(),
    });
    serde_json::to_vec(&event).unwrap_or_default()
}

/// New data of one shard waiting for its trigger's interval.
#[derive(Debug, Clone)]
struct Pending {
    source: LogSource,
    due: OffsetDateTime,
    /// The write with the deepest chain in the batch.
    cause: fcemu_core::Cause,
}

/// A batch that fell due: deliver `source` to `function` on behalf of `trigger`.
#[derive(Debug, Clone)]
pub struct DueBatch {
    /// Function to invoke.
    pub function: String,
    /// Log trigger.
    pub trigger: String,
    /// The new data.
    pub source: LogSource,
    /// The trigger's payload.
    pub payload: String,
    /// When it fell due (its first log's arrival plus the interval).
    pub due: OffsetDateTime,
    /// The write of its logs with the deepest chain of function writes (the loop guard's
    /// measure).
    pub cause: fcemu_core::Cause,
}

/// Collects appended logs per (function, trigger, shard) until their interval has passed.
#[derive(Default)]
pub struct LogBatcher {
    pending: Mutex<BTreeMap<(String, String, u32), Pending>>,
}

impl LogBatcher {
    /// Notes logs appended to a shard for every enabled log trigger reading that logstore.
    pub fn appended(&self, app: &App, change: &fcemu_sls::LogsAppended) {
        let plan = app.plan();
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        for f in plan.functions.values() {
            for t in f.triggers.iter().filter(|t| t.enabled) {
                let TriggerKind::Log(LogTrigger {
                    project,
                    logstore,
                    interval,
                    ..
                }) = &t.kind
                else {
                    continue;
                };
                if project != &change.project || logstore != &change.logstore {
                    continue;
                }
                let key = (f.name.clone(), t.name.clone(), change.shard);
                pending
                    .entry(key)
                    .and_modify(|p| {
                        p.source.end_cursor = change.end_cursor.clone();
                        if change.cause.depth > p.cause.depth {
                            p.cause = change.cause.clone();
                        }
                    })
                    .or_insert_with(|| Pending {
                        cause: change.cause.clone(),
                        source: LogSource {
                            project: project.clone(),
                            logstore: logstore.clone(),
                            shard: change.shard,
                            begin_cursor: change.begin_cursor.clone(),
                            end_cursor: change.end_cursor.clone(),
                        },
                        due: change.received_at + time::Duration::seconds(i64::from(*interval)),
                    });
            }
        }
    }

    /// Forgets every waiting batch.
    pub fn clear(&self) {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// When the next batch falls due, if any waits.
    pub fn next_due(&self) -> Option<OffsetDateTime> {
        let pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.values().map(|p| p.due).min()
    }

    /// Removes and returns the batches due at `now`, oldest first, with their trigger's
    /// current payload (batches of triggers removed from the manifest are dropped).
    pub fn take_due(&self, app: &App, now: OffsetDateTime) -> Vec<DueBatch> {
        let plan = app.plan();
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let due: Vec<_> = pending
            .iter()
            .filter(|(_, p)| p.due <= now)
            .map(|(k, _)| k.clone())
            .collect();
        let mut out: Vec<(OffsetDateTime, DueBatch)> = Vec::new();
        for key in due {
            let Some(p) = pending.remove(&key) else {
                continue;
            };
            let (function, trigger, _) = key;
            let payload = plan
                .functions
                .get(&function)
                .and_then(|f| f.triggers.iter().find(|t| t.name == trigger))
                .and_then(|t| match &t.kind {
                    TriggerKind::Log(LogTrigger { payload, .. }) => Some(payload.clone()),
                    _ => None,
                });
            if let Some(payload) = payload {
                out.push((
                    p.due,
                    DueBatch {
                        function,
                        trigger,
                        source: p.source,
                        payload,
                        due: p.due,
                        cause: p.cause,
                    },
                ));
            }
        }
        out.sort_by_key(|(due, _)| *due);
        out.into_iter().map(|(_, b)| b).collect()
    }
}

/// Synthetic new logs in a logstore: `{"type": "log", ...}` and `fcemu events generate log`.
#[derive(Debug, Clone, serde::Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct LogEventArgs {
    /// Project.
    #[arg(long)]
    pub project: String,
    /// Logstore.
    #[arg(long)]
    pub logstore: String,
    /// Shard id (default 0).
    #[arg(long)]
    #[serde(default)]
    pub shard: Option<u32>,
}

/// New log groups in a logstore (manifest `type = "log"`, as planned).
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct LogTrigger {
    /// Project name.
    pub project: String,
    /// Logstore name.
    pub logstore: String,
    /// Seconds between batches.
    pub interval: u32,
    /// Payload string delivered in the event's `parameter`.
    pub payload: String,
}

/// The manifest table of a `type = "log"` trigger, as written.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLogTrigger {
    pub(crate) name: Option<String>,
    pub(crate) project: String,
    pub(crate) logstore: String,
    pub(crate) interval: Option<i64>,
    pub(crate) payload: Option<String>,
    pub(crate) enable: Option<bool>,
}

impl LogTrigger {
    /// FC's view of the trigger (GetTrigger, ListTriggers): its type, source ARN and config.
    pub fn fc_metadata(
        &self,
        region: &str,
        account: &str,
        enabled: bool,
    ) -> (&'static str, String, serde_json::Value) {
        (
            "log",
            format!("acs:log:{region}:{account}:project/{}", self.project),
            json!({
                "sourceConfig": { "logstore": self.logstore },
                "jobConfig": { "maxRetryTime": 3, "triggerInterval": self.interval },
                "logConfig": { "project": "", "logstore": "" },
                "functionParameter": self.payload,
                "enable": enabled,
            }),
        )
    }

    /// Plans a `type = "log"` trigger table of function `check.function`, reporting what is
    /// wrong to `check` (and planning something sensible anyway).
    pub(crate) fn from_manifest(
        l: RawLogTrigger,
        check: &mut crate::manifest::TriggerCheck<'_>,
    ) -> Self {
        let fn_name = check.function;
        let interval = match l.interval {
            Some(i) => {
                let v = i;
                if !(3..=600).contains(&v) {
                    check.problem(
                        format!(
                            "function `{fn_name}`: log trigger interval {v} s is outside FC's range"
                        ),
                        "invalid interval",
                        "use a number of seconds from 3 to 600",
                    );
                }
                v.clamp(3, 600) as u32
            }
            None => 60,
        };
        LogTrigger {
            project: l.project,
            logstore: l.logstore,
            interval,
            payload: l.payload.unwrap_or_default(),
        }
    }
}
