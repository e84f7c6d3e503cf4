//! Invocation records: every invocation with its trigger, event, result, logs and timing, kept
//! in memory (the newest [`MAX_RECORDS`]) and served at `GET /_fcemu/invocations`.

use std::collections::VecDeque;
use std::sync::Mutex;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::runtime::{InvocationOutcome, InvocationStatus};

/// How many records are kept.
pub const MAX_RECORDS: usize = 10_000;

/// One finished invocation.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvocationRecord {
    /// Position in the order invocations finished, from 1.
    pub seq: u64,
    /// FC request id.
    pub request_id: String,
    /// Function name.
    pub function: String,
    /// What invoked it: a trigger name, `api`, `async`, `invoke`, ...
    pub trigger: String,
    /// `success`, `handled-error` or `unhandled-error`.
    pub status: &'static str,
    /// FC's `x-fc-error-type`, if it failed.
    pub error_type: Option<&'static str>,
    /// The event, as text when it is UTF-8, else base64 (see `eventEncoding`).
    pub event: String,
    /// `utf8` or `base64`.
    pub event_encoding: &'static str,
    /// The result body (or FC's error JSON), as text or base64 likewise.
    pub result: String,
    /// `utf8` or `base64`.
    pub result_encoding: &'static str,
    /// The function's log lines.
    pub logs: Vec<String>,
    /// Start time, RFC 3339 with milliseconds, on the emulator's clock.
    pub started_at: String,
    /// Wall time in milliseconds.
    pub duration_ms: f64,
    /// Peak memory in bytes.
    pub max_memory_bytes: u64,
    /// Which attempt this was (0 for the first).
    pub attempt: u32,
    /// The instance that ran it.
    pub instance_id: String,
    /// How many trigger hops caused by functions' writes led to it (0 for outside calls).
    pub chain_depth: u32,
    /// Request id of the invocation whose write (or result, for destinations) caused it;
    /// `null` for calls and events from outside.
    pub caused_by: Option<String>,
}

fn text_or_base64(bytes: &[u8]) -> (String, &'static str) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_string(), "utf8"),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(bytes),
            "base64",
        ),
    }
}

/// Filters of `GET /_fcemu/invocations`.
#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    /// Only this function.
    pub function: Option<String>,
    /// Only this trigger name (or source such as `api`).
    pub trigger: Option<String>,
    /// Only this status.
    pub status: Option<String>,
    /// Only this request id.
    pub request_id: Option<String>,
    /// Only records with `seq` greater than this.
    pub since: Option<u64>,
    /// At most this many (the newest), default 100.
    pub limit: Option<usize>,
}

/// The record store.
#[derive(Debug, Default)]
pub struct Records {
    inner: Mutex<(u64, VecDeque<InvocationRecord>)>,
    finished: fcemu_core::ChangeFeed<InvocationRecord>,
}

impl Records {
    /// Records a finished invocation.
    pub fn push(&self, o: &InvocationOutcome, trigger: &str, attempt: u32) -> InvocationRecord {
        let (event, event_encoding) = text_or_base64(&o.event);
        let (result, result_encoding) = text_or_base64(&o.body);
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        guard.0 += 1;
        let record = InvocationRecord {
            seq: guard.0,
            request_id: o.request_id.clone(),
            function: o.function.clone(),
            trigger: trigger.to_string(),
            status: o.status.as_str(),
            error_type: o.status.error_type_header(),
            event,
            event_encoding,
            result,
            result_encoding,
            logs: o.log_lines().map(str::to_string).collect(),
            started_at: o
                .started_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            duration_ms: o.duration.as_secs_f64() * 1000.0,
            max_memory_bytes: o.max_memory_bytes,
            attempt,
            instance_id: o.instance_id.clone(),
            chain_depth: o.chain_depth,
            caused_by: o.caused_by.clone(),
        };
        guard.1.push_back(record.clone());
        if guard.1.len() > MAX_RECORDS {
            guard.1.pop_front();
        }
        drop(guard);
        self.finished.publish(record.clone());
        record
    }

    /// Every record as it is made (for shipping functions' logs to the Log Service).
    pub fn finished(&self) -> &fcemu_core::ChangeFeed<InvocationRecord> {
        &self.finished
    }

    /// Records matching `f`, oldest first.
    pub fn query(&self, f: &Filter) -> Vec<InvocationRecord> {
        let guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let matching: Vec<&InvocationRecord> = guard
            .1
            .iter()
            .filter(|r| f.function.as_ref().is_none_or(|v| &r.function == v))
            .filter(|r| f.trigger.as_ref().is_none_or(|v| &r.trigger == v))
            .filter(|r| f.status.as_ref().is_none_or(|v| r.status == v))
            .filter(|r| f.request_id.as_ref().is_none_or(|v| &r.request_id == v))
            .filter(|r| f.since.is_none_or(|s| r.seq > s))
            .collect();
        let limit = f.limit.unwrap_or(100);
        matching[matching.len().saturating_sub(limit)..]
            .iter()
            .map(|r| (*r).clone())
            .collect()
    }

    /// Forgets every record.
    pub fn clear(&self) {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .clear();
    }

    /// The last finished invocation per trigger name of `function`.
    pub fn last_for(&self, function: &str, trigger: &str) -> Option<Value> {
        let guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        guard
            .1
            .iter()
            .rev()
            .find(|r| r.function == function && r.trigger == trigger)
            .map(|r| json!({"requestId": r.request_id, "startedAt": r.started_at, "status": r.status}))
    }
}

/// Whether a status string is one of ours (for validating filters).
pub fn is_status(s: &str) -> bool {
    [
        InvocationStatus::Success,
        InvocationStatus::HandledError,
        InvocationStatus::UnhandledError,
    ]
    .iter()
    .any(|st| st.as_str() == s)
}
