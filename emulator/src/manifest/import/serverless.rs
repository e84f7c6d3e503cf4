//! Serverless Devs `s.yaml`: FC 3.0 resources (`component: fc3`, `props.functionName`) and
//! FC 2.0 ones (`component: fc` / `devsapp/fc`, `props.service` + `props.function`), mapped to
//! fcemu's functions, services, triggers and stores (reference fc.md §9).

use std::path::Path;

use marked_yaml::Node;
use marked_yaml::types::MarkedMappingNode;
use toml::{Table, Value};

use super::doc::{Doc, get};
use super::out::{Function, Out, s};

/// Keys of FC 3.0 function props fcemu maps (anything else is listed as left out).
const FC3_MAPPED: &[&str] = &[
    "region",
    "functionName",
    "description",
    "runtime",
    "code",
    "handler",
    "memorySize",
    "timeout",
    "instanceConcurrency",
    "environmentVariables",
    "instanceLifecycleConfig",
    "customRuntimeConfig",
    "layers",
    "asyncInvokeConfig",
    "logConfig",
    "triggers",
];

/// Keys of an FC 2.0 `function` fcemu maps.
const FC2_MAPPED: &[&str] = &[
    "name",
    "description",
    "runtime",
    "codeUri",
    "handler",
    "memorySize",
    "timeout",
    "instanceConcurrency",
    "environmentVariables",
    "initializer",
    "initializationTimeout",
    "instanceLifecycleConfig",
    "customRuntimeConfig",
    "layers",
    "asyncConfiguration",
];

/// Maps every resource of an `s.yaml`.
pub fn map(doc: &mut Doc<'_>, root: &MarkedMappingNode, dir: &Path, out: &mut Out) {
    if let Some((name, _)) = doc.string(root, "name", None) {
        out.top.insert("name".into(), s(name));
    }
    if get(root, "access").is_some() {
        doc.ignore("access (fcemu needs no credentials)".into());
    }
    let section = if root.get_mapping("resources").is_some() {
        "resources"
    } else {
        "services"
    };
    let Some(resources) = root.get_mapping(section) else {
        let span = *root.span();
        doc.problem(
            &span,
            "no `resources:` (FC 3.0) or `services:` (FC 2.0) section".into(),
            "nothing to start",
            "Serverless Devs projects list their functions under `resources:`".into(),
        );
        return;
    };
    let mut region = None;
    for (key, resource) in resources.iter() {
        let id = key.as_str().to_string();
        let Some(props) = resource.as_mapping().and_then(|r| r.get_mapping("props")) else {
            doc.ignore(format!("resource {id} (no props)"));
            continue;
        };
        if region.is_none()
            && let Some((r, _)) = doc.string(props, "region", Some(props))
            && !r.is_empty()
        {
            region = Some(r);
        }
        if props.get_node("function").is_some() {
            fc2_resource(doc, &id, props, dir, out);
        } else if props.get_node("functionName").is_some() {
            fc3_function(doc, &id, props, dir, out);
        } else {
            doc.ignore(format!("resource {id} (not a function)"));
        }
    }
    if let Some(r) = region {
        out.top.insert("region".into(), s(r));
    }
}

/// One FC 3.0 function.
fn fc3_function(doc: &mut Doc<'_>, id: &str, props: &MarkedMappingNode, dir: &Path, out: &mut Out) {
    let this = Some(props);
    let Some((mut name, _)) = doc.string(props, "functionName", this) else {
        return;
    };
    if name.is_empty() {
        name = id.to_string();
    }
    let mut f = Function::new();
    let runtime = runtime(doc, props, "runtime", &name, this);
    code_path(doc, props, "code", &name, dir, &mut f, this);
    common(doc, props, &name, &runtime, &mut f, this);
    if let Some(life) = props.get_mapping("instanceLifecycleConfig") {
        for (key, ours, timeout) in [
            ("initializer", "initializer", Some("initialization_timeout")),
            ("preStop", "pre_stop", None),
        ] {
            let Some(hook) = life.get_mapping(key) else {
                continue;
            };
            if let Some((h, _)) = doc.string(hook, "handler", this)
                && !h.is_empty()
            {
                f.set(ours, h);
                if let Some(t) = timeout
                    && let Some(n) = int(doc, hook, "timeout", this)
                {
                    f.set_int(t, n);
                }
            }
        }
    }
    if let Some(cfg) = props.get_mapping("asyncInvokeConfig") {
        async_config(doc, cfg, &name, "destinationConfig", &mut f, this);
    }
    if let Some(log) = props.get_mapping("logConfig") {
        let project = doc.string(log, "project", this).map(|v| v.0);
        let store = doc.string(log, "logstore", this).map(|v| v.0);
        if let (Some(p), Some(l)) = (project, store) {
            out.service(&name, &p, &l);
            f.set("service", name.clone());
        }
    } else if let Some(Node::Scalar(v)) = get(props, "logConfig")
        && v.as_str() == "auto"
    {
        out.service(&name, &format!("{name}-logs"), "function-log");
        f.set("service", name.clone());
    }
    let http_prefix = format!("/{name}");
    if let Some(triggers) = props.get_sequence("triggers") {
        for t in triggers.iter() {
            let Some(t) = t.as_mapping() else { continue };
            trigger(doc, t, &name, &FC3, &http_prefix, &mut f, this);
        }
    }
    ignore_unmapped(doc, props, FC3_MAPPED, &format!("function {name}"));
    out.function(name, f);
}

/// One FC 2.0 resource: a service and its function, with the function's triggers.
pub(super) fn fc2_resource(
    doc: &mut Doc<'_>,
    id: &str,
    props: &MarkedMappingNode,
    dir: &Path,
    out: &mut Out,
) {
    let this = Some(props);
    let service = doc.mapping(props, "service", this);
    let service_name = match service {
        Some(svc) => doc.string(svc, "name", this).map(|v| v.0),
        None => None,
    }
    .unwrap_or_else(|| id.to_string());
    let (mut project, mut store) = (String::new(), String::new());
    if let Some(svc) = service {
        if let Some(log) = svc.get_mapping("logConfig") {
            project = doc
                .string(log, "project", this)
                .map(|v| v.0)
                .unwrap_or_default();
            store = doc
                .string(log, "logstore", this)
                .map(|v| v.0)
                .unwrap_or_default();
        } else if let Some(Node::Scalar(v)) = get(svc, "logConfig")
            && v.as_str() == "auto"
        {
            project = format!("{service_name}-logs");
            store = "function-log".into();
        }
        let service_keys = ["name", "description", "logConfig"];
        ignore_unmapped(doc, svc, &service_keys, &format!("service {service_name}"));
    }
    out.service(&service_name, &project, &store);
    let Some(func) = doc.mapping(props, "function", this) else {
        return;
    };
    let Some((name, _)) = doc.string(func, "name", this) else {
        let span = *func.span();
        doc.problem(
            &span,
            format!("resource {id}: the function has no `name`"),
            "no name",
            "add `name: my-function` under `function:`".into(),
        );
        return;
    };
    let mut f = Function::new();
    f.set("service", service_name.clone());
    let runtime = runtime(doc, func, "runtime", &name, this);
    code_path(doc, func, "codeUri", &name, dir, &mut f, this);
    common(doc, func, &name, &runtime, &mut f, this);
    if let Some((h, _)) = doc.string(func, "initializer", this)
        && !h.is_empty()
    {
        f.set("initializer", h);
        if let Some(n) = int(doc, func, "initializationTimeout", this) {
            f.set_int("initialization_timeout", n);
        }
    }
    if let Some(pre) = func
        .get_mapping("instanceLifecycleConfig")
        .and_then(|l| l.get_mapping("preStop"))
        && let Some((h, _)) = doc.string(pre, "handler", this)
        && !h.is_empty()
    {
        f.set("pre_stop", h);
    }
    if let Some(cfg) = func.get_mapping("asyncConfiguration") {
        async_config(doc, cfg, &name, "destination", &mut f, this);
    }
    let http_prefix = format!("/{service_name}/{name}");
    if let Some(triggers) = props.get_sequence("triggers") {
        for t in triggers.iter() {
            let Some(t) = t.as_mapping() else { continue };
            trigger(doc, t, &name, &FC2, &http_prefix, &mut f, this);
        }
    }
    ignore_unmapped(doc, func, FC2_MAPPED, &format!("function {name}"));
    let resource_keys = ["region", "service", "function", "triggers"];
    ignore_unmapped(doc, props, &resource_keys, &format!("resource {id}"));
    out.function(name, f);
}

/// The runtime label, checked: what fcemu runs (Node.js, Python, custom runtimes).
fn runtime(
    doc: &mut Doc<'_>,
    map: &MarkedMappingNode,
    key: &str,
    function: &str,
    this: Option<&MarkedMappingNode>,
) -> String {
    let Some((label, span)) = doc.string(map, key, this) else {
        let span = *map.span();
        doc.problem(
            &span,
            format!("function {function} has no `{key}`"),
            "no runtime",
            format!("add `{key}: nodejs20` (or python3.10, custom.debian10, ...)"),
        );
        return String::new();
    };
    if crate::manifest::native::parse_runtime(&label).is_none() {
        let why = if label.starts_with("custom-container") {
            "custom containers need Docker, which fcemu does not use: run the server as a custom runtime (`runtime: custom.debian10` with `customRuntimeConfig.command`)".to_string()
        } else {
            format!(
                "fcemu runs {}; Java, Go, PHP and .NET functions are not supported yet",
                crate::manifest::native::RUNTIME_LABELS
            )
        };
        doc.problem(
            &span,
            format!("function {function}: runtime `{label}` cannot run locally"),
            "unsupported runtime",
            why,
        );
    }
    label
}

/// The code directory (`code` / `codeUri`: a path, `{src: path}`, or a single file), checked.
fn code_path(
    doc: &mut Doc<'_>,
    map: &MarkedMappingNode,
    key: &str,
    function: &str,
    dir: &Path,
    f: &mut Function,
    this: Option<&MarkedMappingNode>,
) {
    let given = match get(map, key) {
        Some(Node::Mapping(m)) => doc.string(m, "src", this),
        Some(_) => doc.string(map, key, this),
        None => None,
    };
    let Some((path, span)) = given else {
        let span = *map.span();
        doc.problem(
            &span,
            format!("function {function} has no `{key}`"),
            "no code",
            format!("add `{key}: ./code`, the directory with the function's code"),
        );
        return;
    };
    if path.starts_with("oss://") {
        doc.problem(
            &span,
            format!("function {function}: code in OSS ({path}) cannot be read locally"),
            "remote code",
            format!("download it and point `{key}` at the local directory"),
        );
        return;
    }
    let full = dir.join(&path);
    if !full.exists() {
        doc.problem(
            &span,
            format!("function {function}: code path `{path}` does not exist"),
            "no such file or directory",
            format!(
                "create {} or fix `{key}` (it is relative to the manifest)",
                dir.join(path.trim_start_matches("./")).display()
            ),
        );
        return;
    }
    // A single file (Funcraft allows it): its directory is the code directory.
    let code = if full.is_file() {
        Path::new(&path)
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| ".".into())
    } else {
        path
    };
    f.set("code", code);
}

/// Keys FC 2.0 and 3.0 functions share.
fn common(
    doc: &mut Doc<'_>,
    map: &MarkedMappingNode,
    function: &str,
    runtime: &str,
    f: &mut Function,
    this: Option<&MarkedMappingNode>,
) {
    if !runtime.is_empty() {
        f.set("runtime", runtime);
    }
    if let Some((h, _)) = doc.string(map, "handler", this) {
        f.set("handler", h);
    }
    if let Some(m) = int(doc, map, "memorySize", this) {
        // fcemu takes multiples of 64 MB, as FC 3.0 does.
        f.set_int("memory", (m.max(64) + 63) / 64 * 64);
    }
    if let Some(t) = int(doc, map, "timeout", this) {
        f.set_int("timeout", t);
    }
    if let Some(c) = int(doc, map, "instanceConcurrency", this) {
        f.set_int("concurrency", c);
    }
    if let Some(env) = map.get_mapping("environmentVariables") {
        let mut t = Table::new();
        for (k, _) in env.iter() {
            if let Some((v, _)) = doc.string(env, k.as_str(), this) {
                t.insert(k.as_str().to_string(), s(v));
            }
        }
        f.table.insert("env".into(), Value::Table(t));
    }
    if let Some(cfg) = map.get_mapping("customRuntimeConfig") {
        let mut command: Vec<Value> = Vec::new();
        for key in ["command", "args"] {
            if let Some(items) = cfg.get_sequence(key) {
                for item in items.iter() {
                    if let Some(sc) = item.as_scalar() {
                        command.push(s(doc.resolve(sc, this)));
                    }
                }
            }
        }
        if !command.is_empty() {
            f.table.insert("command".into(), Value::Array(command));
        }
        if let Some(p) = int(doc, cfg, "port", this) {
            f.set_int("port", p);
        }
    }
    if let Some(layers) = map.get_sequence("layers") {
        let mut local = Vec::new();
        for l in layers.iter() {
            let Some(sc) = l.as_scalar() else { continue };
            let v = doc.resolve(sc, this);
            if v.starts_with("acs:") {
                doc.ignore(format!(
                    "function {function}: layer {v} (layers from the cloud)"
                ));
            } else {
                local.push(s(v));
            }
        }
        if !local.is_empty() {
            f.table.insert("layers".into(), Value::Array(local));
        }
    }
}

/// `asyncInvokeConfig` (FC 3.0) / `asyncConfiguration` (FC 2.0): retries, age and function
/// destinations.
fn async_config(
    doc: &mut Doc<'_>,
    cfg: &MarkedMappingNode,
    function: &str,
    destinations: &str,
    f: &mut Function,
    this: Option<&MarkedMappingNode>,
) {
    if let Some(n) = int(doc, cfg, "maxAsyncRetryAttempts", this) {
        f.async_invoke
            .insert("max_retries".into(), Value::Integer(n));
    }
    if let Some(n) = int(doc, cfg, "maxAsyncEventAgeInSeconds", this) {
        f.async_invoke
            .insert("max_event_age".into(), Value::Integer(n));
    }
    let Some(dest) = cfg.get_mapping(destinations) else {
        return;
    };
    for (key, ours) in [("onSuccess", "on_success"), ("onFailure", "on_failure")] {
        // FC 3.0 nests `{destination: arn}`; FC 2.0 gives the ARN itself.
        let arn = match get(dest, key) {
            Some(Node::Mapping(m)) => doc.string(m, "destination", this).map(|v| v.0),
            Some(_) => doc.string(dest, key, this).map(|v| v.0),
            None => None,
        };
        let Some(arn) = arn else { continue };
        match arn.split_once(":functions/").or_else(|| arn.split_once("/functions/")) {
            Some((_, target)) => {
                let target = target.split(['/', '.']).next().unwrap_or(target);
                f.async_invoke.insert(ours.into(), s(target));
            }
            None => doc.ignore(format!(
                "function {function}: {key} destination {arn} (only function destinations run locally)"
            )),
        }
    }
}

/// Lists the keys of `map` fcemu does not map as left out, under `what`.
fn ignore_unmapped(doc: &mut Doc<'_>, map: &MarkedMappingNode, mapped: &[&str], what: &str) {
    for (key, _) in map.iter() {
        if !mapped.contains(&key.as_str()) {
            doc.ignore(format!("{what}: {}", key.as_str()));
        }
    }
}

/// How a trigger is written: FC 3.0 (`triggerType`/`triggerName`/`triggerConfig`, HTTP
/// functions get FC 3.0's event) or FC 2.0 (`type`/`name`/`config`, FC 2.0's HTTP handler).
struct Dialect {
    type_key: &'static str,
    name_key: &'static str,
    config_key: &'static str,
    fc3: bool,
}

const FC3: Dialect = Dialect {
    type_key: "triggerType",
    name_key: "triggerName",
    config_key: "triggerConfig",
    fc3: true,
};

const FC2: Dialect = Dialect {
    type_key: "type",
    name_key: "name",
    config_key: "config",
    fc3: false,
};

/// One trigger, in either dialect (FC 3.0 also names sources by `sourceArn`).
fn trigger(
    doc: &mut Doc<'_>,
    t: &MarkedMappingNode,
    function: &str,
    dialect: &Dialect,
    http_prefix: &str,
    f: &mut Function,
    this: Option<&MarkedMappingNode>,
) {
    let Dialect {
        type_key,
        name_key,
        config_key,
        fc3,
    } = *dialect;
    let Some((kind, kind_span)) = doc.string(t, type_key, this) else {
        return;
    };
    let name = doc.string(t, name_key, this).map(|v| v.0);
    let empty = MarkedMappingNode::new_empty(*t.span());
    let cfg_node = t.get_mapping(config_key);
    let cfg = cfg_node.unwrap_or(&empty);
    let arn = doc
        .string(t, "sourceArn", this)
        .map(|v| v.0)
        .unwrap_or_default();
    let mut out = Table::new();
    out.insert("type".into(), s(kind.clone()));
    if let Some(n) = &name {
        out.insert("name".into(), s(n.clone()));
    }
    let enable = cfg.get_scalar("enable").and_then(|b| b.as_bool());
    match kind.as_str() {
        "http" => {
            out.insert("path".into(), s(format!("{http_prefix}/{{rest+}}")));
            out.insert("strip_prefix".into(), s(http_prefix));
            if let Some(methods) = cfg.get_sequence("methods") {
                let m: Vec<Value> = methods
                    .iter()
                    .filter_map(|m| m.as_scalar().map(|sc| s(doc.resolve(sc, this))))
                    .collect();
                out.insert("methods".into(), Value::Array(m));
            }
            if let Some((a, _)) = doc.string(cfg, "authType", this) {
                out.insert("auth".into(), s(a.to_ascii_lowercase()));
            }
            out.insert("format".into(), s(if fc3 { "fc3" } else { "http" }));
        }
        "oss" => {
            let bucket = doc
                .string(cfg, "bucketName", this)
                .map(|v| v.0)
                .or_else(|| arn.rsplit(':').next().map(str::to_string))
                .filter(|b| !b.is_empty());
            let Some(bucket) = bucket else {
                doc.problem(
                    &kind_span,
                    format!("function {function}: oss trigger without a bucket"),
                    "no bucket",
                    "give `sourceArn: acs:oss:<region>:<account>:<bucket>` (or `bucketName` in the config)".into(),
                );
                return;
            };
            out.insert("bucket".into(), s(bucket));
            if let Some(events) = cfg.get_sequence("events") {
                let e: Vec<Value> = events
                    .iter()
                    .filter_map(|e| e.as_scalar().map(|sc| s(doc.resolve(sc, this))))
                    .collect();
                out.insert("events".into(), Value::Array(e));
            }
            let key = cfg
                .get_mapping("filter")
                .and_then(|fl| fl.get_mapping("key").or_else(|| fl.get_mapping("Key")));
            if let Some(key) = key {
                for (theirs, ours) in [("prefix", "prefix"), ("suffix", "suffix")] {
                    let upper = format!("{}{}", theirs[..1].to_ascii_uppercase(), &theirs[1..]);
                    let v = doc
                        .string(key, theirs, this)
                        .or_else(|| doc.string(key, &upper, this));
                    if let Some((v, _)) = v {
                        out.insert(ours.into(), s(v));
                    }
                }
            }
        }
        "timer" => {
            let Some((cron, _)) = doc.string(cfg, "cronExpression", this) else {
                doc.problem(
                    &kind_span,
                    format!("function {function}: timer trigger without `cronExpression`"),
                    "no schedule",
                    "add `cronExpression: '0 */5 * * * *'` (or '@every 5m') to the trigger's config".into(),
                );
                return;
            };
            out.insert("cron".into(), s(cron));
            if let Some((p, _)) = doc.string(cfg, "payload", this) {
                out.insert("payload".into(), s(p));
            }
        }
        "log" => {
            let project = arn
                .split_once("project/")
                .map(|(_, p)| p.split('/').next().unwrap_or(p).to_string())
                .or_else(|| {
                    cfg.get_mapping("sourceConfig")
                        .and_then(|sc| sc.get_scalar("project"))
                        .map(|p| p.as_str().to_string())
                })
                .or_else(|| {
                    cfg.get_mapping("logConfig")
                        .and_then(|lc| lc.get_scalar("project"))
                        .map(|p| p.as_str().to_string())
                });
            let logstore = cfg
                .get_mapping("sourceConfig")
                .and_then(|sc| sc.get_scalar("logstore"))
                .map(|l| doc.resolve(l, this));
            let (Some(project), Some(logstore)) = (project, logstore) else {
                doc.problem(
                    &kind_span,
                    format!("function {function}: log trigger without its source"),
                    "no source logstore",
                    "give `sourceArn: acs:log:<region>:<account>:project/<project>` and `sourceConfig.logstore`".into(),
                );
                return;
            };
            out.insert("project".into(), s(project));
            out.insert("logstore".into(), s(logstore));
            if let Some(job) = cfg.get_mapping("jobConfig")
                && let Some(i) = int(doc, job, "triggerInterval", this)
            {
                out.insert("interval".into(), Value::Integer(i));
            }
            if let Some(p) = cfg.get_mapping("functionParameter") {
                out.insert("payload".into(), s(json_of(doc, p, this).to_string()));
            }
        }
        "tablestore" | "ots" => {
            out.insert("type".into(), s("tablestore"));
            let from_arn = arn.split_once(":instance/").and_then(|(_, rest)| {
                let (i, t) = rest.split_once("/table/")?;
                Some((i.to_string(), t.to_string()))
            });
            let from_cfg = doc
                .string(cfg, "instanceName", this)
                .map(|v| v.0)
                .zip(doc.string(cfg, "tableName", this).map(|v| v.0));
            let Some((instance, table)) = from_arn.or(from_cfg) else {
                doc.problem(
                    &kind_span,
                    format!("function {function}: tablestore trigger without its table"),
                    "no table",
                    "give `sourceArn: acs:ots:<region>:<account>:instance/<instance>/table/<table>`".into(),
                );
                return;
            };
            out.insert("instance".into(), s(instance));
            out.insert("table".into(), s(table));
        }
        other => {
            doc.ignore(format!(
                "function {function}: {other} trigger {} (not served yet)",
                name.unwrap_or_default()
            ));
            return;
        }
    }
    if let Some(e) = enable
        && kind != "http"
    {
        out.insert("enable".into(), Value::Boolean(e));
    }
    f.triggers.push(out);
}

/// An integer at `key`, if it is one.
pub(super) fn int(
    doc: &mut Doc<'_>,
    map: &MarkedMappingNode,
    key: &str,
    this: Option<&MarkedMappingNode>,
) -> Option<i64> {
    let (v, span) = doc.string(map, key, this)?;
    match v.trim().parse::<i64>() {
        Ok(n) => Some(n),
        Err(_) => {
            doc.problem(
                &span,
                format!("`{key}` must be a whole number, not {v:?}"),
                "not a number",
                format!("write `{key}` as a number, e.g. {key}: 60"),
            );
            None
        }
    }
}

/// A mapping as JSON (the log trigger's `functionParameter` payload).
fn json_of(
    doc: &mut Doc<'_>,
    map: &MarkedMappingNode,
    this: Option<&MarkedMappingNode>,
) -> serde_json::Value {
    fn node(doc: &mut Doc<'_>, n: &Node, this: Option<&MarkedMappingNode>) -> serde_json::Value {
        match n {
            Node::Scalar(sc) => serde_json::Value::String(doc.resolve(sc, this)),
            Node::Sequence(seq) => seq.iter().map(|i| node(doc, i, this)).collect(),
            Node::Mapping(m) => json_of(doc, m, this),
        }
    }
    let mut obj = serde_json::Map::new();
    for (k, v) in map.iter() {
        obj.insert(k.as_str().to_string(), node(doc, v, this));
    }
    serde_json::Value::Object(obj)
}
