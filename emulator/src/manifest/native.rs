//! The keys of native functions (Node.js, Python, custom runtimes): `runtime`, `handler`,
//! `initializer`, `initialization_timeout`, `pre_stop`, `command`, `port`, `layers`.

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use super::error::Sink;
use super::plan::{NativePlan, NativeRuntime};
use super::raw::RawFunction;

/// FC's default initializer limit.
const DEFAULT_INIT_TIMEOUT_S: u64 = 3;
/// FC's largest initializer limit.
const MAX_INIT_TIMEOUT_S: i64 = 300;
/// The port FC assumes when none is configured.
const DEFAULT_PORT: u16 = 9000;

/// The labels `runtime` accepts, for the help text.
pub const RUNTIME_LABELS: &str = "nodejs8, nodejs10, nodejs12, nodejs14, nodejs16, nodejs18, nodejs20, python3, python3.6, python3.9, python3.10, python3.12, custom, custom.debian10, custom.debian11, custom.debian12";

/// The language a runtime label names, if fcemu knows it.
pub fn parse_runtime(label: &str) -> Option<NativeRuntime> {
    let node = label
        .strip_prefix("nodejs")
        .is_some_and(|v| matches!(v, "6" | "8" | "10" | "12" | "14" | "16" | "18" | "20"));
    let python = label == "python3"
        || label == "python2.7"
        || label
            .strip_prefix("python3.")
            .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()));
    let custom = matches!(
        label,
        "custom" | "custom.debian10" | "custom.debian11" | "custom.debian12"
    );
    if node {
        Some(NativeRuntime::Node)
    } else if python {
        Some(NativeRuntime::Python)
    } else if custom {
        Some(NativeRuntime::Custom)
    } else {
        None
    }
}

/// Resolves the native keys of function `name`; `None` for a WebAssembly function (no
/// `runtime`, or `runtime = "wasm"`). Reports keys that only native functions take when
/// `runtime` is absent.
pub(super) fn resolve(
    sink: &mut Sink,
    root: &Path,
    name: &str,
    name_span: &Range<usize>,
    raw: &RawFunction,
) -> Option<NativePlan> {
    let rt = match &raw.runtime {
        Some(rt) if rt.get_ref() != "wasm" => rt,
        _ => {
            wasm_only(sink, name, raw);
            return None;
        }
    };
    let label = rt.get_ref().clone();
    let runtime = match parse_runtime(&label) {
        Some(r) => r,
        None => {
            sink.push(
                Some(rt.span()),
                format!("function `{name}`: runtime {label:?} is not one fcemu runs"),
                "unknown runtime",
                format!(
                    "use one of {RUNTIME_LABELS}, or remove `runtime` for a WebAssembly function"
                ),
            );
            NativeRuntime::Custom
        }
    };
    if runtime != NativeRuntime::Custom && raw.command.is_some() {
        let span = raw.command.as_ref().map(|c| c.span());
        sink.push(
            span,
            format!("function `{name}`: `command` is for custom runtimes"),
            "not used by this runtime",
            format!("remove `command`: {label} runs `handler` with fcemu's bootstrap"),
        );
    }
    let initialization_timeout = match &raw.initialization_timeout {
        Some(t) => {
            let v = *t.get_ref();
            if !(1..=MAX_INIT_TIMEOUT_S).contains(&v) {
                sink.push(
                    Some(t.span()),
                    format!(
                        "function `{name}`: initialization_timeout {v} s is outside FC's range"
                    ),
                    "invalid initialization_timeout",
                    format!("use a whole number of seconds from 1 to {MAX_INIT_TIMEOUT_S}"),
                );
            }
            Duration::from_secs(v.clamp(1, MAX_INIT_TIMEOUT_S) as u64)
        }
        None => Duration::from_secs(DEFAULT_INIT_TIMEOUT_S),
    };
    let port = match &raw.port {
        Some(p) => {
            let v = *p.get_ref();
            if !(1..=65535).contains(&v) {
                sink.push(
                    Some(p.span()),
                    format!("function `{name}`: port {v} is not a TCP port"),
                    "invalid port",
                    "use a port from 1 to 65535 (FC's default is 9000)",
                );
            }
            v.clamp(1, 65535) as u16
        }
        None => DEFAULT_PORT,
    };
    let command = match &raw.command {
        Some(c) if c.get_ref().is_empty() || c.get_ref()[0].is_empty() => {
            sink.push(
                Some(c.span()),
                format!("function `{name}`: `command` is empty"),
                "empty command",
                "give the program and its arguments, e.g. command = [\"python3\", \"server.py\"], or remove `command` to run ./bootstrap",
            );
            Vec::new()
        }
        Some(c) => c.get_ref().clone(),
        None => vec!["./bootstrap".to_string()],
    };
    let mut layers = Vec::new();
    for l in &raw.layers {
        let abs = root.join(l.get_ref());
        if !abs.is_dir() {
            sink.push(
                Some(l.span()),
                format!(
                    "function `{name}`: layer {} is not a directory",
                    abs.display()
                ),
                "not a directory",
                "point the layer at a local directory (its contents are what FC puts under /opt)",
            );
        }
        layers.push(abs);
    }
    if raw.code_dir.is_some() {
        let span = raw.code_dir.as_ref().map(|c| c.span());
        sink.push(
            span,
            format!("function `{name}`: `code_dir` is for WebAssembly functions"),
            "not used by native functions",
            "remove `code_dir`: for a native function `code` is the code directory",
        );
    }
    if raw.code.is_none() {
        sink.push(
            Some(name_span.clone()),
            format!("function `{name}` has no `code`"),
            "`code` is required",
            format!("add `code = \"{name}/\"`: the directory holding the function's code"),
        );
    }
    Some(NativePlan {
        runtime,
        label,
        initializer: raw.initializer.clone(),
        initialization_timeout,
        pre_stop: raw.pre_stop.clone(),
        command,
        port,
        layers,
    })
}

fn wasm_only(sink: &mut Sink, name: &str, raw: &RawFunction) {
    let spans = [
        ("command", raw.command.as_ref().map(|c| c.span())),
        ("port", raw.port.as_ref().map(|c| c.span())),
        (
            "initialization_timeout",
            raw.initialization_timeout.as_ref().map(|c| c.span()),
        ),
        ("layers", raw.layers.first().map(|c| c.span())),
    ];
    for (key, span) in spans {
        if let Some(span) = span {
            sink.push(
                Some(span),
                format!("function `{name}`: `{key}` is for native functions"),
                "needs `runtime`",
                format!("add `runtime = \"nodejs20\"` (or python3, custom, ...), or remove `{key}` for a WebAssembly function"),
            );
        }
    }
    if raw.initializer.is_some() || raw.pre_stop.is_some() {
        sink.push(
            None,
            format!("function `{name}`: `initializer` and `pre_stop` are for native functions"),
            "needs `runtime`",
            "add `runtime = \"nodejs20\"` (or python3, custom, ...), or remove them",
        );
    }
}
