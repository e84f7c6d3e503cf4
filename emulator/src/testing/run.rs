//! Runs cases against one in-process emulator per manifest: each case starts from a fresh
//! state (reset, the virtual clock back at its start, ids from 1), then each step is done, the
//! emulator is waited on until idle, and the step is recorded with everything it caused — the
//! response, every invocation (through any trigger), and the objects, rows and logs written.

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;

use super::case::{Case, Object, Step};
use super::recorder::Recorder;
use crate::manifest::AppPlan;
use crate::server::{Emulator, StartOptions};

/// An emulator serving one manifest, and what it is watched with.
pub struct Runner {
    emulator: Emulator,
    http: reqwest::Client,
    recorder: Recorder,
}

impl Runner {
    /// Starts the emulator for `plan`: port 0, in memory, deterministic, quiet.
    pub async fn start(plan: AppPlan) -> anyhow::Result<Runner> {
        let services = TcpListener::bind("127.0.0.1:0").await?;
        let gateway = TcpListener::bind("127.0.0.1:0").await?;
        let opts = StartOptions {
            in_memory: true,
            deterministic: true,
            report: false,
            ..StartOptions::default()
        };
        let emulator = Emulator::start(plan, services, gateway, opts).await?;
        let recorder = Recorder::start(&emulator.services);
        Ok(Runner {
            emulator,
            http: reqwest::Client::new(),
            recorder,
        })
    }

    /// Stops the emulator.
    pub async fn shutdown(self) {
        if let Err(e) = self.emulator.shutdown().await {
            tracing::debug!(error = %e, "emulator shutdown");
        }
    }

    /// Functions that failed to load, with why.
    pub fn load_failures(&self) -> Vec<String> {
        self.emulator
            .load_failures
            .iter()
            .map(|(n, e)| format!("function {n} did not load: {e}"))
            .collect()
    }

    fn services(&self) -> String {
        self.emulator.services_url()
    }

    /// The services port's URL.
    pub(crate) fn services_url(&self) -> String {
        self.emulator.services_url()
    }

    /// The gateway's URL.
    pub(crate) fn gateway_url(&self) -> String {
        self.emulator.gateway_url()
    }

    async fn post(&self, path: &str, body: Vec<u8>) -> Result<reqwest::Response, String> {
        self.http
            .post(format!("{}{path}", self.services()))
            .body(body)
            .send()
            .await
            .map_err(|e| format!("POST {path}: {e}"))
    }

    pub(crate) async fn idle(&self) -> Result<(), String> {
        let r = self.post("/_fcemu/idle?timeout=60", Vec::new()).await?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(format!(
                "the emulator did not become idle: {}",
                r.text().await.unwrap_or_default()
            ))
        }
    }

    /// Starts over: empty stores, no records, the clock at its start, ids from 1.
    pub(crate) async fn fresh(&mut self) -> Result<(), String> {
        let r = self.post("/_fcemu/reset?timeout=60", Vec::new()).await?;
        if !r.status().is_success() {
            return Err(format!(
                "reset failed: {}",
                r.text().await.unwrap_or_default()
            ));
        }
        self.emulator.triggers.start_over().await;
        self.recorder.skip(&self.emulator.app);
        Ok(())
    }

    /// Runs one case; its snapshot content, or why it could not run.
    pub async fn run(&mut self, case_path: &Path, case: &Case) -> Result<Value, String> {
        let dir = case_path.parent().unwrap_or(Path::new("."));
        self.fresh().await?;
        if let Some(file) = &case.import {
            let text = std::fs::read_to_string(dir.join(file))
                .map_err(|e| format!("cannot read import {file}: {e}"))?;
            let state = crate::state::parse(&text).map_err(|e| format!("import {file}: {e:#}"))?;
            crate::state::import(&self.emulator.services, &state)
                .await
                .map_err(|e| format!("import {file}: {e:#}"))?;
        }
        for o in &case.setup.objects {
            self.put(dir, o).await?;
        }
        for r in &case.setup.rows {
            self.put_row(r).await?;
        }
        for l in &case.setup.logs {
            self.put_logs(l).await?;
        }
        self.idle().await?;
        // What setup writes caused (how many invocations, how the stream batched its rows)
        // varies with timing; start the steps over so their ids and instances do not.
        self.emulator.triggers.start_over().await;
        self.recorder.skip(&self.emulator.app);
        self.emulator.app.records().clear();
        let mut steps = Vec::new();
        for (i, step) in case.steps.iter().enumerate() {
            let recorded = self
                .record_step(dir, step)
                .await
                .map_err(|e| format!("{}: step {}: {e}", case_path.display(), i + 1))?;
            steps.push(recorded);
        }
        let mut out = json!({ "steps": steps });
        super::snapshot::redact(&mut out, &case.redact.paths);
        Ok(out)
    }

    /// Does one step, waits until idle, and returns its record: the response, the invocations
    /// it caused and what they wrote.
    pub(crate) async fn record_step(&mut self, dir: &Path, step: &Step) -> Result<Value, String> {
        let (title, response) = self.step(dir, step).await?;
        self.idle().await?;
        let own = [
            (self.emulator.gateway_addr.to_string(), "gateway"),
            (self.emulator.services_addr.to_string(), "services"),
        ];
        let caused = self
            .recorder
            .take(&self.emulator.app, &self.emulator.services, &own)
            .await;
        self.emulator.app.records().clear();
        let mut s = Map::new();
        s.insert("step".into(), Value::String(title));
        if let Some(r) = response {
            s.insert("response".into(), r);
        }
        s.extend(caused);
        let step = Value::Object(s);
        Ok(step)
    }

    /// Writes a setup row with the table's key order and instance from the manifest.
    async fn put_row(&self, r: &super::case::Row) -> Result<(), String> {
        let plan = self.emulator.app.plan();
        let Some(table) = plan.tables.get(&r.table) else {
            return Err(format!(
                "setup row: table {} is not declared in the manifest ([tables.{}])",
                r.table, r.table
            ));
        };
        let columns = r
            .columns
            .iter()
            .map(|(name, v)| Ok((name.clone(), ots_value(v)?)))
            .collect::<Result<Vec<_>, String>>()
            .map_err(|e| format!("setup row of {}: {e}", r.table))?;
        let key_order: Vec<&str> = table.primary_key.iter().map(|(n, _)| n.as_str()).collect();
        let write = crate::services::table_store::put_row(
            &r.table,
            &key_order,
            |name| r.primary_key.get(name).map(ots_value),
            columns,
        )
        .map_err(|e| format!("setup row of {}: {e}", r.table))?;
        self.emulator
            .services
            .ots()
            .write_row(&table.instance, write)
            .await
            .map(|_| ())
            .map_err(|e| format!("setup row of {}: {e}", r.table))
    }

    /// Appends setup logs (at the virtual clock's time).
    async fn put_logs(&self, l: &super::case::Logs) -> Result<(), String> {
        let time =
            u32::try_from(self.emulator.app.runtime().clock().now().unix_timestamp()).unwrap_or(0);
        let logs = l
            .logs
            .iter()
            .map(|fields| fcemu_sls::Log {
                time,
                contents: fields
                    .iter()
                    .map(|(k, v)| fcemu_sls::LogContent {
                        key: k.clone(),
                        value: match v {
                            toml::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        },
                    })
                    .collect(),
                time_ns: None,
            })
            .collect();
        let group = fcemu_sls::LogGroup {
            logs,
            topic: l.topic.clone(),
            ..Default::default()
        };
        self.emulator
            .services
            .sls()
            .put_logs(&l.project, &l.logstore, group, Default::default())
            .await
            .map(|_| ())
            .map_err(|e| format!("setup logs of {}/{}: {e}", l.project, l.logstore))
    }

    async fn put(&self, dir: &Path, o: &Object) -> Result<Value, String> {
        let body = object_body(dir, o)?;
        let mut req = self
            .http
            .put(format!("{}/{}/{}", self.services(), o.bucket, o.key))
            .body(body);
        if let Some(ct) = &o.content_type {
            req = req.header("content-type", ct);
        }
        let r = req
            .send()
            .await
            .map_err(|e| format!("PUT {}/{}: {e}", o.bucket, o.key))?;
        Ok(response_value(r).await)
    }

    /// Does one step; its title and the response to record.
    async fn step(&self, dir: &Path, step: &Step) -> Result<(String, Option<Value>), String> {
        if let Some(function) = &step.invoke {
            let event = match (&step.event, &step.event_file) {
                (_, Some(f)) => std::fs::read(dir.join(f))
                    .map_err(|e| format!("cannot read event_file {f}: {e}"))?,
                (Some(toml::Value::String(s)), None) => s.clone().into_bytes(),
                (Some(v), None) => serde_json::to_vec(v).unwrap_or_default(),
                (None, None) => Vec::new(),
            };
            let r = self
                .post(&format!("/_fcemu/functions/{function}/invoke"), event)
                .await?;
            return Ok((format!("invoke {function}"), Some(response_value(r).await)));
        }
        if let Some(req) = &step.request {
            let method = req.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
            let m = reqwest::Method::from_bytes(method.as_bytes())
                .map_err(|_| format!("{method} is not an HTTP method"))?;
            let mut b = self
                .http
                .request(m, format!("{}{}", self.emulator.gateway_url(), req.path));
            for (k, v) in &req.headers {
                b = b.header(k, v);
            }
            let what = format!("request {method} {}", req.path);
            let body = body_bytes(dir, [&req.body, &req.body_file, &req.body_base64], &what)?;
            if !body.is_empty() {
                b = b.body(body);
            }
            let r = b
                .send()
                .await
                .map_err(|e| format!("{method} {}: {e}", req.path))?;
            return Ok((
                format!("{method} {}", req.path),
                Some(response_value(r).await),
            ));
        }
        if let Some(o) = &step.put_object {
            let r = self.put(dir, o).await?;
            return Ok((format!("put_object {}/{}", o.bucket, o.key), Some(r)));
        }
        if let Some(ev) = &step.synthetic {
            let body = serde_json::to_vec(ev).unwrap_or_default();
            let r = self.post("/_fcemu/events", body).await?;
            let kind = ev.get("type").and_then(|t| t.as_str()).unwrap_or("?");
            return Ok((format!("synthetic {kind}"), Some(response_value(r).await)));
        }
        if let Some(by) = &step.advance {
            let by = crate::triggers::timer::parse_duration(by)?;
            let r = self
                .post(
                    &format!("/_fcemu/clock/advance?seconds={}", by.as_secs()),
                    Vec::new(),
                )
                .await?;
            let v = response_value(r).await;
            return Ok((format!("advance {}s", by.as_secs()), Some(v)));
        }
        Err("the step does nothing".into())
    }
}

/// A Table Store value from a TOML one.
fn ots_value(v: &toml::Value) -> Result<fcemu_tablestore::Value, String> {
    use fcemu_tablestore::Value as V;
    Ok(match v {
        toml::Value::String(s) => V::String(s.clone()),
        toml::Value::Integer(i) => V::Integer(*i),
        toml::Value::Float(f) => V::Double(*f),
        toml::Value::Boolean(b) => V::Boolean(*b),
        other => {
            return Err(format!(
                "{other} cannot be a Table Store value: use a string, a number or a boolean"
            ));
        }
    })
}

/// The body of a setup object or `put_object` step.
fn object_body(dir: &Path, o: &Object) -> Result<Vec<u8>, String> {
    let what = format!("object {}/{}", o.bucket, o.key);
    body_bytes(dir, [&o.body, &o.body_file, &o.body_base64], &what)
}

/// A body given as `body` (text), `body_file` (relative to the case) or `body_base64`.
fn body_bytes(
    dir: &Path,
    [text, file, b64]: [&Option<String>; 3],
    what: &str,
) -> Result<Vec<u8>, String> {
    match (text, file, b64) {
        (Some(b), None, None) => Ok(b.clone().into_bytes()),
        (None, Some(f), None) => {
            std::fs::read(dir.join(f)).map_err(|e| format!("cannot read body_file {f}: {e}"))
        }
        (None, None, Some(b)) => base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_err(|e| format!("body_base64 is not base64: {e}")),
        (None, None, None) => Ok(Vec::new()),
        _ => Err(format!("{what}: give one of body, body_file, body_base64")),
    }
}

/// Headers left out of snapshots: they change from run to run or say nothing about behaviour.
const VOLATILE_HEADERS: &[&str] = &[
    "date",
    "content-length",
    "x-fc-invocation-duration",
    "x-fc-max-memory-usage",
    "x-oss-request-id",
    "x-oss-server-time",
    "x-fc-request-id",
    "server",
    "connection",
    "keep-alive",
];

/// A response as recorded: status, the headers that are not volatile, the body (JSON parsed,
/// text as is, base64 when binary).
async fn response_value(r: reqwest::Response) -> Value {
    let status = r.status().as_u16();
    let mut headers = Map::new();
    for (k, v) in r.headers() {
        if VOLATILE_HEADERS.contains(&k.as_str()) {
            continue;
        }
        headers.insert(
            k.as_str().to_string(),
            Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()),
        );
    }
    let body = r.bytes().await.unwrap_or_default();
    let mut out = json!({ "status": status });
    if !headers.is_empty() {
        out["headers"] = Value::Object(headers);
    }
    if !body.is_empty() {
        out["body"] = super::render::body_value(&body, "");
    }
    out
}

/// Keeps the runner alive across cases of one manifest.
pub type Shared = Arc<tokio::sync::Mutex<Runner>>;
