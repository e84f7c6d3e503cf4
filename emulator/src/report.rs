//! Terminal output of invocations: one line per invocation, then its log lines; colored on a
//! terminal, plain otherwise.

use std::io::{IsTerminal, Write};

use anstyle::{AnsiColor, Style};

use crate::runtime::{InvocationOutcome, InvocationStatus};

/// Writes invocation reports to stderr.
#[derive(Debug, Clone, Copy)]
pub struct Reporter {
    color: bool,
}

const DIM: Style = AnsiColor::BrightBlack.on_default();
const GREEN: Style = AnsiColor::Green.on_default();
const RED: Style = AnsiColor::Red.on_default().bold();
const YELLOW: Style = AnsiColor::Yellow.on_default();
const BOLD: Style = Style::new().bold();

/// Output lines shown under a BatchCompute attempt's line (the last ones).
pub const MAX_BATCH_LINES: usize = 20;

impl Reporter {
    /// Colors when stderr is a terminal and `NO_COLOR` is unset.
    pub fn detect() -> Self {
        let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Reporter { color }
    }

    /// Never colors.
    pub fn plain() -> Self {
        Reporter { color: false }
    }

    fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }

    /// Formats the report of one invocation: summary line, then each log line.
    pub fn format_invocation(&self, o: &InvocationOutcome, trigger: &str) -> String {
        let time = o
            .started_at
            .format(time::macros::format_description!(
                "[hour]:[minute]:[second].[subsecond digits:3]"
            ))
            .unwrap_or_default();
        let status = match o.status {
            InvocationStatus::Success => self.paint(GREEN, "ok"),
            InvocationStatus::HandledError => self.paint(YELLOW, "handled error"),
            InvocationStatus::UnhandledError => self.paint(RED, "unhandled error"),
        };
        let mut out = format!(
            "{} {} {} {} {:.1} ms {}\n",
            self.paint(DIM, &time),
            self.paint(BOLD, &o.function),
            self.paint(DIM, &format!("[{trigger}]")),
            status,
            o.duration.as_secs_f64() * 1000.0,
            self.paint(DIM, &o.request_id),
        );
        for line in o.log_lines() {
            out.push_str(&format!("  {} {line}\n", self.paint(DIM, "│")));
        }
        if o.status != InvocationStatus::Success {
            let body = String::from_utf8_lossy(&o.body);
            out.push_str(&format!("  {} {}\n", self.paint(RED, "✗"), body));
        }
        out
    }

    /// Formats what one BatchCompute instance attempt did: a summary line, then its output's
    /// lines (at most [`MAX_BATCH_LINES`], the last ones).
    pub fn format_batch_attempt(&self, a: &fcemu_batch::AttemptReport) -> String {
        let time =
            time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(a.ended_ms) * 1_000_000)
                .ok()
                .and_then(|t| {
                    t.format(time::macros::format_description!(
                        "[hour]:[minute]:[second].[subsecond digits:3]"
                    ))
                    .ok()
                })
                .unwrap_or_default();
        let status = match (a.ok, a.retried) {
            (true, _) => self.paint(GREEN, "ok"),
            (false, true) => self.paint(YELLOW, &format!("{}, retrying", a.outcome)),
            (false, false) => self.paint(RED, &a.outcome),
        };
        let retry = if a.retry > 0 {
            format!(" retry {}", a.retry)
        } else {
            String::new()
        };
        let mut out = format!(
            "{} {} {} {status} {:.1} ms{retry} {}\n",
            self.paint(DIM, &time),
            self.paint(BOLD, &format!("{}/{}#{}", a.job_name, a.task, a.instance)),
            self.paint(DIM, "[batch]"),
            (a.ended_ms - a.started_ms) as f64,
            self.paint(DIM, &a.job_id),
        );
        let lines: Vec<&str> = a.stdout.lines().chain(a.stderr.lines()).collect();
        let skip = lines.len().saturating_sub(MAX_BATCH_LINES);
        if skip > 0 {
            out.push_str(&format!(
                "  {} … {skip} lines before\n",
                self.paint(DIM, "│")
            ));
        }
        for line in &lines[skip..] {
            out.push_str(&format!("  {} {line}\n", self.paint(DIM, "│")));
        }
        out
    }

    /// Prints what one BatchCompute instance attempt did to stderr.
    pub fn batch_attempt(&self, a: &fcemu_batch::AttemptReport) {
        let text = self.format_batch_attempt(a);
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }

    /// Prints the report of one invocation to stderr.
    pub fn invocation(&self, o: &InvocationOutcome, trigger: &str) {
        let text = self.format_invocation(o, trigger);
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
}
