//! What an invocation produced, and FC's error JSON for the ways it can fail.

use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use time::OffsetDateTime;

/// How an invocation ended, in FC's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum InvocationStatus {
    /// Exit status 0: the body is the function's stdout.
    Success,
    /// Non-zero exit status: FC's `HandledInvocationError`.
    HandledError,
    /// Trap, timeout or out-of-memory: FC's `UnhandledInvocationError`.
    UnhandledError,
}

impl InvocationStatus {
    /// The value of FC's `x-fc-error-type` header, if this is an error.
    pub fn error_type_header(self) -> Option<&'static str> {
        match self {
            InvocationStatus::Success => None,
            InvocationStatus::HandledError => Some("HandledInvocationError"),
            InvocationStatus::UnhandledError => Some("UnhandledInvocationError"),
        }
    }

    /// Short lower-case name for terminal output and filters.
    pub fn as_str(self) -> &'static str {
        match self {
            InvocationStatus::Success => "success",
            InvocationStatus::HandledError => "handled-error",
            InvocationStatus::UnhandledError => "unhandled-error",
        }
    }
}

/// Why a function failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum FailureKind {
    /// The function exited with a non-zero status.
    Exit {
        /// The status.
        code: i32,
    },
    /// The function trapped (panic, unreachable, out-of-bounds access, ...).
    Trap {
        /// Wasmtime's description of the trap.
        message: String,
    },
    /// The function ran past its timeout.
    Timeout,
    /// The function tried to grow its memory past the manifest's limit.
    OutOfMemory,
    /// The function could not be started (missing import, bad binary, ...).
    StartFailed {
        /// What went wrong.
        message: String,
    },
    /// A native instance never listened on its port (FC's `FunctionNotStarted`).
    NotStarted {
        /// What went wrong, with the process's output.
        message: String,
    },
    /// A native function's initializer failed or timed out; the next call starts over.
    InitializerFailed {
        /// What went wrong.
        message: String,
    },
    /// A native function answered with an error (`x-fc-status: 404`); the body is its own.
    FunctionError {
        /// `callback(err)` in Node.js: FC's HandledInvocationError.
        handled: bool,
    },
    /// A native instance's process exited or dropped the connection mid-request.
    ProcessExited {
        /// FC's message, with duration and memory.
        message: String,
    },
}

/// The full record of one invocation.
#[derive(Debug, Clone)]
pub struct InvocationOutcome {
    /// FC request id.
    pub request_id: String,
    /// Function name.
    pub function: String,
    /// The event it was given (empty for HTTP functions).
    pub event: Bytes,
    /// Instance that ran it.
    pub instance_id: String,
    /// How it ended.
    pub status: InvocationStatus,
    /// Why it failed, when it did.
    pub failure: Option<FailureKind>,
    /// Response body: stdout on success, FC's error JSON on failure.
    pub body: Bytes,
    /// Everything the function wrote to stderr.
    pub stderr: Bytes,
    /// When it started, on the emulator's clock.
    pub started_at: OffsetDateTime,
    /// Wall time it took.
    pub duration: Duration,
    /// The function's memory limit, MB.
    pub memory_mb: u32,
    /// Largest linear memory the instance reached, bytes.
    pub max_memory_bytes: u64,
    /// How many trigger hops caused by functions' writes led to it (0 for outside calls);
    /// what it writes carries it on, for the trigger loop guard.
    pub chain_depth: u32,
    /// Request id of the invocation whose write (or result) caused it, if any.
    pub caused_by: Option<String>,
}

impl InvocationOutcome {
    /// FC bills whole milliseconds, rounding up, at least 1.
    pub fn billed_ms(&self) -> u64 {
        (self.duration.as_micros().div_ceil(1000) as u64).max(1)
    }

    /// The invocation's log text as FC records it: the start marker, the function's lines, the
    /// end marker.
    pub fn log_text(&self) -> String {
        let mut out = format!("FC Invoke Start RequestId: {}\n", self.request_id);
        let stderr = String::from_utf8_lossy(&self.stderr);
        out.push_str(&stderr);
        if !stderr.is_empty() && !stderr.ends_with('\n') {
            out.push('\n');
        }
        if let Some(FailureKind::Timeout) = self.failure {
            out.push_str(&format!("{}: function timed out\n", self.request_id));
        }
        out.push_str(&format!("FC Invoke End RequestId: {}\n", self.request_id));
        out
    }

    /// The log lines the function wrote, without markers.
    pub fn log_lines(&self) -> impl Iterator<Item = &str> {
        std::str::from_utf8(&self.stderr)
            .unwrap_or("")
            .lines()
            .filter(|l| !l.is_empty())
    }

    /// FC's one-line summary: duration, billed duration, memory size and peak memory.
    pub fn summary_line(&self) -> String {
        format!(
            "Duration: {:.2} ms, Billed Duration: {} ms, Memory Size: {} MB, Max Memory Used: {:.2} MB",
            self.duration.as_secs_f64() * 1000.0,
            self.billed_ms(),
            self.memory_mb,
            self.max_memory_bytes as f64 / (1024.0 * 1024.0)
        )
    }
}

/// FC's error body for function errors: `{"errorMessage", "errorType", "stackTrace"}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionErrorBody {
    /// Human-readable message.
    pub error_message: String,
    /// Error class.
    pub error_type: String,
    /// Frames, innermost first.
    pub stack_trace: Vec<String>,
}

impl FunctionErrorBody {
    /// Builds the body for a failure of a function with the given limits and log output.
    pub fn for_failure(
        failure: &FailureKind,
        stderr: &[u8],
        timeout: Duration,
        memory_mb: u32,
        max_memory_bytes: u64,
        stack: Vec<String>,
    ) -> Self {
        let used_mb = max_memory_bytes as f64 / (1024.0 * 1024.0);
        let (error_message, error_type) = match failure {
            FailureKind::Exit { code } => {
                let last = String::from_utf8_lossy(stderr)
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .map(|l| l.trim().to_string());
                (
                    last.unwrap_or_else(|| format!("Process exited with status {code}")),
                    format!("ExitStatus{code}"),
                )
            }
            FailureKind::Trap { message } => (message.clone(), "WasmTrap".into()),
            FailureKind::Timeout => (
                format!(
                    "Function timed out after {} seconds (maxMemoryUsage: {used_mb:.2}MB)",
                    timeout.as_secs()
                ),
                "FunctionTimeout".into(),
            ),
            FailureKind::OutOfMemory => (
                format!(
                    "Function exceeded its memory limit of {memory_mb} MB (maxMemoryUsage: {used_mb:.2}MB)"
                ),
                "OutOfMemory".into(),
            ),
            FailureKind::StartFailed { message } => (
                format!("Function could not start: {message}"),
                "StartFailed".into(),
            ),
            FailureKind::NotStarted { message } => (message.clone(), "FunctionNotStarted".into()),
            FailureKind::InitializerFailed { message } => {
                (message.clone(), "InitializationError".into())
            }
            FailureKind::FunctionError { .. } => ("function error".into(), "Error".into()),
            FailureKind::ProcessExited { message } => (message.clone(), "ProcessExited".into()),
        };
        FunctionErrorBody {
            error_message,
            error_type,
            stack_trace: stack,
        }
    }

    /// The body as JSON bytes.
    pub fn to_bytes(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(self).unwrap_or_default())
    }
}
