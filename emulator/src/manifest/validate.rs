//! Checks a raw manifest against FC's rules and resolves it into an [`AppPlan`].

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::error::{ManifestError, Sink, nearest};
use super::plan::*;
use super::raw::*;
use crate::manifest::{HttpTrigger, LogTrigger, OssTrigger, TablestoreTrigger, TimerTrigger};

/// FC's memory range in MB and its step.
const MEMORY_MB: (i64, i64, i64) = (64, 32768, 64);
/// FC's timeout range in seconds.
const TIMEOUT_S: (i64, i64) = (1, 86400);
/// Instance concurrency range.
const CONCURRENCY: (i64, i64) = (1, 1000);
/// Total size of a function's environment variables, as FC limits it.
const ENV_MAX_BYTES: usize = 4096;

const DEFAULT_MEMORY_MB: u32 = 128;
const DEFAULT_TIMEOUT_S: u64 = 60;
const DEFAULT_CONCURRENCY: u32 = 100;

pub(super) fn resolve(
    raw: RawManifest,
    path: &Path,
    text: &str,
    root: &Path,
) -> Result<AppPlan, ManifestError> {
    let mut sink = Sink::new(path, text);
    let mut plan = AppPlan::empty(root);
    plan.manifest = Some(std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()));
    if let Some(name) = raw.name {
        plan.name = name.into_inner();
    }
    if let Some(region) = raw.region {
        let span = region.span();
        let region = region.into_inner();
        if region.is_empty()
            || !region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            sink.push(
                Some(span),
                format!("`region` is not a region id: {region:?}"),
                "not a region id",
                "use a region id such as \"cn-hangzhou\"",
            );
        }
        plan.region = region;
    }
    if let Some(account) = raw.account_id {
        let span = account.span();
        let account = account.into_inner();
        if account.is_empty() || !account.chars().all(|c| c.is_ascii_digit()) {
            sink.push(Some(span), format!("`account_id` must be digits, got {account:?}"), "not digits", "use a numeric account id such as \"1234567890123456\", or remove the key to use that default");
        }
        plan.account_id = account;
    }
    for (name, svc) in raw.services {
        let span = name.span();
        let name = name.into_inner();
        check_name(&mut sink, span, "service", &name);
        plan.services.insert(
            name,
            ServicePlan {
                log_project: svc.log_project.unwrap_or_default(),
                log_store: svc.log_store.unwrap_or_default(),
                description: svc.description.unwrap_or_default(),
            },
        );
    }
    for (name, bucket) in raw.buckets {
        let span = name.span();
        let name = name.into_inner();
        if !valid_bucket_name(&name) {
            sink.push(Some(span.clone()), format!("bucket name {name:?} is not valid"), "invalid bucket name", "bucket names are 3-63 characters of lower-case letters, digits and '-', starting and ending with a letter or digit");
        }
        let acl = bucket.acl.unwrap_or_else(|| "private".into());
        if !["private", "public-read", "public-read-write"].contains(&acl.as_str()) {
            sink.push(
                Some(span.clone()),
                format!("bucket {name}: acl {acl:?} is not a canned ACL"),
                "unknown acl",
                "use private, public-read or public-read-write",
            );
        }
        let cors = bucket.cors.and_then(|rules| {
            let span = rules.span();
            let config = fcemu_oss::cors::CorsConfig {
                rules: rules
                    .into_inner()
                    .into_iter()
                    .map(|r| fcemu_oss::cors::CorsRule {
                        id: None,
                        allowed_origins: r.allowed_origins,
                        allowed_methods: r.allowed_methods,
                        allowed_headers: r.allowed_headers,
                        expose_headers: r.expose_headers,
                        max_age_seconds: r.max_age_seconds,
                    })
                    .collect(),
                response_vary: None,
            };
            match config.check(fcemu_oss::cors::MAX_RULES_OSS) {
                Ok(()) => Some(config),
                Err(e) => {
                    sink.push(Some(span), format!("bucket {name}: cors: {e}"), "invalid CORS rules", "each rule needs allowed_origins and allowed_methods (GET, PUT, DELETE, POST, HEAD), at most one * per origin or header, and a bucket holds at most 10 rules");
                    None
                }
            }
        });
        plan.buckets.insert(name, BucketPlan { acl, cors });
    }
    plan.tables = super::stores::resolve_tables(&mut sink, raw.tables);
    plan.logstores = super::stores::resolve_logstores(&mut sink, raw.logstores);
    let batch = raw.batch.unwrap_or_default();
    if let Some(workers) = batch.workers {
        let span = workers.span();
        match usize::try_from(*workers.get_ref()) {
            Ok(n @ 1..=1024) => plan.batch_workers = Some(n),
            _ => sink.push(Some(span), format!("[batch] workers must be 1-1024, got {}", workers.get_ref()), "out of range", "the number of BatchCompute instances that may run at once; leave it out for one per core"),
        }
    }
    match (batch.log_project, batch.log_store) {
        (None, None) => {}
        (Some(p), Some(s)) => plan.batch_log = Some((p.into_inner(), s.into_inner())),
        (Some(one), None) | (None, Some(one)) => sink.push(Some(one.span()), "[batch] needs both log_project and log_store".to_string(), "only one of the pair", "name the Log Service project and logstore that instances' stdout and stderr lines go to, or neither"),
    }
    let service_names: Vec<String> = plan.services.keys().cloned().collect();
    let mut destination_spans = Vec::new();
    for (name, raw_fn) in raw.functions {
        let span = name.span();
        let name = name.into_inner();
        check_name(&mut sink, span.clone(), "function", &name);
        let f = resolve_function(
            &mut sink,
            root,
            &name,
            span,
            raw_fn,
            &service_names,
            &mut destination_spans,
        );
        plan.functions.insert(name, f);
    }
    check_routes(&mut sink, &plan);
    check_destinations(&mut sink, &plan, &destination_spans);
    super::stores::complete(&mut sink, &mut plan);
    sink.finish()?;
    Ok(plan)
}

fn check_name(sink: &mut Sink, span: Range<usize>, what: &str, name: &str) {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        sink.push(Some(span), format!("{what} name {name:?} is not valid"), format!("invalid {what} name"), format!("{what} names are 1-64 characters of letters, digits, '_' and '-', starting with a letter or '_'"));
    }
}

/// 3-63 lower-case letters, digits and '-', not starting or ending with '-'.
pub(crate) fn valid_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

fn resolve_function(
    sink: &mut Sink,
    root: &Path,
    name: &str,
    name_span: Range<usize>,
    raw: RawFunction,
    services: &[String],
    destination_spans: &mut Vec<(String, Range<usize>)>,
) -> FunctionPlan {
    let native = super::native::resolve(sink, root, name, &name_span, &raw);
    let service = match raw.service {
        Some(s) => {
            let span = s.span();
            let s = s.into_inner();
            if !services.contains(&s) && s != DEFAULT_SERVICE {
                let help = match nearest(&s, services) {
                    Some(best) => format!(
                        "did you mean `{best}`? or declare it with a `[services.{s}]` table"
                    ),
                    None => format!(
                        "declare it with a `[services.{s}]` table, or remove `service` to use \"default\""
                    ),
                };
                sink.push(
                    Some(span),
                    format!("function `{name}` names service `{s}`, which is not declared"),
                    "unknown service",
                    help,
                );
            }
            s
        }
        None => DEFAULT_SERVICE.to_string(),
    };
    let code = match raw.code {
        Some(c) if native.is_some() => {
            let span = c.span();
            let rel = c.into_inner();
            let abs = root.join(&rel);
            if !abs.is_dir() {
                sink.push(Some(span), format!("function `{name}`: code directory {rel:?} does not exist (looked at {})", abs.display()), "not a directory", "for a native function `code` is the directory holding its code (FC's codeUri): create it or fix the path");
            }
            abs
        }
        None if native.is_some() => PathBuf::new(),
        Some(c) => {
            let span = c.span();
            let rel = c.into_inner();
            let abs = root.join(&rel);
            if !abs.is_file() && raw.build.is_none() {
                sink.push(Some(span), format!("function `{name}`: code file {rel:?} does not exist (looked at {})", abs.display()), "file not found", "build the function first (for Rust: `cargo build --release --target wasm32-wasip1`), fix the path, or add `build = \"...\"` so fcemu builds it");
            }
            abs
        }
        None => {
            sink.push(
                Some(name_span.clone()),
                format!("function `{name}` has no `code`"),
                "`code` is required",
                format!("add `code = \"path/to/{name}.wasm\"` under [functions.{name}]"),
            );
            PathBuf::new()
        }
    };
    let code_dir = match raw.code_dir {
        Some(d) => {
            let span = d.span();
            let abs = root.join(d.into_inner());
            if !abs.is_dir() {
                sink.push(Some(span), format!("function `{name}`: code_dir {} is not a directory", abs.display()), "not a directory", "point `code_dir` at an existing directory (it is mounted read-only at /code), or remove it to use the code file's directory");
            }
            abs
        }
        None if native.is_some() => code.clone(),
        None => code
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| root.to_path_buf()),
    };
    let memory_mb = match raw.memory {
        Some(m) => {
            let (lo, hi, step) = MEMORY_MB;
            let v = *m.get_ref();
            if v < lo || v > hi || v % step != 0 {
                sink.push(
                    Some(m.span()),
                    format!("function `{name}`: memory {v} MB is outside FC's range"),
                    "invalid memory size",
                    format!(
                        "use a multiple of {step} between {lo} and {hi} (MB), e.g. {}",
                        round_to(v, step, lo, hi)
                    ),
                );
            }
            v.clamp(lo, hi) as u32
        }
        None => DEFAULT_MEMORY_MB,
    };
    let timeout = match raw.timeout {
        Some(t) => {
            let v = *t.get_ref();
            if v < TIMEOUT_S.0 || v > TIMEOUT_S.1 {
                sink.push(
                    Some(t.span()),
                    format!("function `{name}`: timeout {v} s is outside FC's range"),
                    "invalid timeout",
                    format!(
                        "use a whole number of seconds from {} to {}",
                        TIMEOUT_S.0, TIMEOUT_S.1
                    ),
                );
            }
            Duration::from_secs(v.clamp(TIMEOUT_S.0, TIMEOUT_S.1) as u64)
        }
        None => Duration::from_secs(DEFAULT_TIMEOUT_S),
    };
    let concurrency = match raw.concurrency {
        Some(c) => {
            let v = *c.get_ref();
            if v < CONCURRENCY.0 || v > CONCURRENCY.1 {
                sink.push(
                    Some(c.span()),
                    format!("function `{name}`: concurrency {v} is outside the allowed range"),
                    "invalid concurrency",
                    format!("use a number from {} to {}", CONCURRENCY.0, CONCURRENCY.1),
                );
            }
            v.clamp(CONCURRENCY.0, CONCURRENCY.1) as u32
        }
        None => DEFAULT_CONCURRENCY,
    };
    let env = resolve_env(sink, name, raw.env);
    let async_invoke = resolve_async(sink, name, raw.async_invoke, destination_spans);
    let triggers = raw
        .triggers
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let runtime = native.as_ref().map(|n| n.runtime);
            resolve_trigger(sink, name, i, t, runtime)
        })
        .collect();
    FunctionPlan {
        name: name.to_string(),
        service,
        code,
        code_dir,
        handler: raw.handler.unwrap_or_else(|| "index.handler".into()),
        memory_mb,
        timeout,
        concurrency,
        env,
        build: raw.build,
        watch: raw.watch,
        allow_hosts: raw.allow_hosts,
        description: raw.description.unwrap_or_default(),
        triggers,
        async_invoke,
        native,
    }
}

fn resolve_async(
    sink: &mut Sink,
    name: &str,
    raw: Option<RawAsync>,
    destination_spans: &mut Vec<(String, Range<usize>)>,
) -> AsyncPlan {
    let mut plan = AsyncPlan::default();
    let Some(raw) = raw else { return plan };
    if let Some(r) = raw.max_retries {
        let v = *r.get_ref();
        if !(0..=8).contains(&v) {
            sink.push(
                Some(r.span()),
                format!("function `{name}`: async max_retries {v} is outside FC's range"),
                "invalid max_retries",
                "use a number from 0 to 8 (FC's default is 3)",
            );
        }
        plan.max_retries = v.clamp(0, 8) as u32;
    }
    if let Some(a) = raw.max_event_age {
        let v = *a.get_ref();
        if !(1..=2_592_000).contains(&v) {
            sink.push(
                Some(a.span()),
                format!("function `{name}`: async max_event_age {v} s is outside FC's range"),
                "invalid max_event_age",
                "use a number of seconds from 1 to 2592000 (FC's default is 86400)",
            );
        }
        plan.max_event_age = time::Duration::seconds(v.clamp(1, 2_592_000));
    }
    for (target, slot) in [
        (raw.on_success, &mut plan.on_success),
        (raw.on_failure, &mut plan.on_failure),
    ] {
        if let Some(t) = target {
            destination_spans.push((t.get_ref().clone(), t.span()));
            *slot = Some(t.into_inner());
        }
    }
    plan
}

/// Destinations must name functions of this app.
fn check_destinations(sink: &mut Sink, plan: &AppPlan, spans: &[(String, Range<usize>)]) {
    let names: Vec<String> = plan.functions.keys().cloned().collect();
    for (target, span) in spans {
        if !plan.functions.contains_key(target) {
            let help = match nearest(target, &names) {
                Some(best) => format!(
                    "did you mean `{best}`? destinations name functions declared in this manifest"
                ),
                None => "name a function declared in this manifest".to_string(),
            };
            sink.push(
                Some(span.clone()),
                format!("async destination `{target}` is not a function of this app"),
                "unknown function",
                help,
            );
        }
    }
}

fn round_to(v: i64, step: i64, lo: i64, hi: i64) -> i64 {
    (((v + step / 2) / step) * step).clamp(lo, hi)
}

fn resolve_env(
    sink: &mut Sink,
    name: &str,
    raw: BTreeMap<Spanned<String>, Spanned<String>>,
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let mut total = 0;
    for (k, v) in raw {
        let span = k.span();
        let k = k.into_inner();
        let v = v.into_inner();
        let valid = k.starts_with(|c: char| c.is_ascii_alphabetic())
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            sink.push(
                Some(span.clone()),
                format!("function `{name}`: environment variable name {k:?} is not valid"),
                "invalid name",
                "names start with a letter and hold only letters, digits and '_'",
            );
        } else if k.starts_with("FC_") {
            sink.push(
                Some(span.clone()),
                format!("function `{name}`: environment variable {k} uses the reserved FC_ prefix"),
                "reserved prefix",
                "rename it: FC sets the FC_* variables itself",
            );
        }
        total += k.len() + v.len();
        if total > ENV_MAX_BYTES {
            sink.push(Some(span), format!("function `{name}`: environment variables exceed FC's {ENV_MAX_BYTES} byte limit"), "too large", "move large values into a file under the function's code directory");
            total = 0;
        }
        env.insert(k, v);
    }
    env
}

/// What a trigger kind's manifest check reports to: problems point at the trigger's table.
pub(crate) struct TriggerCheck<'a> {
    sink: &'a mut Sink,
    span: Range<usize>,
    /// The function the trigger belongs to.
    pub function: &'a str,
    /// The function's native runtime (`None` for WebAssembly).
    pub runtime: Option<NativeRuntime>,
}

impl TriggerCheck<'_> {
    /// Reports a problem with the trigger: what is wrong, a short label, how to fix it.
    pub(crate) fn problem(
        &mut self,
        message: impl Into<String>,
        label: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.sink
            .push(Some(self.span.clone()), message, label, help);
    }
}

fn resolve_trigger(
    sink: &mut Sink,
    fn_name: &str,
    index: usize,
    t: Spanned<RawTrigger>,
    runtime: Option<NativeRuntime>,
) -> TriggerPlan {
    let span = t.span();
    let mut check = TriggerCheck {
        sink,
        span: span.clone(),
        function: fn_name,
        runtime,
    };
    let (name, enable, kind) = match t.into_inner() {
        RawTrigger::Http(h) => (
            h.name.clone(),
            None,
            TriggerKind::Http(HttpTrigger::from_manifest(h, &mut check)),
        ),
        RawTrigger::Oss(o) => (
            o.name.clone(),
            o.enable,
            TriggerKind::Oss(OssTrigger::from_manifest(o, &mut check)),
        ),
        RawTrigger::Timer(t) => (
            t.name.clone(),
            t.enable,
            TriggerKind::Timer(TimerTrigger::from_manifest(t, &mut check)),
        ),
        RawTrigger::Tablestore(t) => (
            t.name.clone(),
            t.enable,
            TriggerKind::Tablestore(TablestoreTrigger::from_manifest(t, &mut check)),
        ),
        RawTrigger::Log(l) => (
            l.name.clone(),
            l.enable,
            TriggerKind::Log(LogTrigger::from_manifest(l, &mut check)),
        ),
    };
    let name = name.unwrap_or_else(|| format!("{}-{}", kind.type_name(), index + 1));
    let enabled = enable.unwrap_or(true);
    let valid_name = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with(|c: char| c.is_ascii_digit() || c == '-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid_name {
        sink.push(
            Some(span),
            format!("function `{fn_name}`: trigger name {name:?} is not valid"),
            "invalid trigger name",
            "trigger names are 1-128 letters, digits, '_' or '-', not starting with a digit or '-'",
        );
    }
    TriggerPlan {
        name,
        enabled,
        kind,
    }
}

/// Two http triggers may not claim the same method and path.
fn check_routes(sink: &mut Sink, plan: &AppPlan) {
    let mut seen: BTreeMap<(String, String), String> = BTreeMap::new();
    for f in plan.functions.values() {
        for t in &f.triggers {
            if let TriggerKind::Http(HttpTrigger { methods, path, .. }) = &t.kind {
                let methods = if methods.is_empty() {
                    vec!["*".to_string()]
                } else {
                    methods.clone()
                };
                for m in methods {
                    if let Some(other) = seen.insert((m.clone(), path.clone()), f.name.clone())
                        && other != f.name
                    {
                        sink.push(
                            None,
                            format!(
                                "route {m} {path} is claimed by both `{other}` and `{}`",
                                f.name
                            ),
                            "duplicate route",
                            "give each http trigger its own method and path",
                        );
                    }
                }
            }
        }
    }
}
