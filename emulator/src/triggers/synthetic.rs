//! Synthetic events: the exact event a trigger would deliver, built from a few fields, for
//! `fcemu events generate` and `POST /_fcemu/events`. Injected events go through the same
//! matching and delivery as real service changes.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::Triggers;
use super::http_event::{self, Fc3Context, HttpEventArgs, HttpRequest};
use super::log_trigger::{self, LogEventArgs, LogSource};
use super::oss_event::{self, ObjectEventInput, OssEventArgs};
use super::tablestore_event::TablestoreEventArgs;
use super::timer::{self, TimerEventArgs};
use crate::manifest::{AppPlan, HttpFormat, StreamFormat, TriggerKind};
use crate::manifest::{LogTrigger, TablestoreTrigger, TimerTrigger};

/// A synthetic event: as JSON (`{"type": "oss", ...}`, `POST /_fcemu/events`), in a test
/// case, or as `fcemu events generate <kind>` flags — one definition per kind, in its trigger's
/// module.
#[derive(Debug, Clone, Deserialize, clap::Subcommand)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum SyntheticEvent {
    /// An OSS object event.
    Oss(OssEventArgs),
    /// A timer event.
    Timer(TimerEventArgs),
    /// An API Gateway (or FC 3.0 HTTP trigger) event.
    Http(HttpEventArgs),
    /// A Log Service trigger event.
    Log(LogEventArgs),
    /// A Table Store stream event (CBOR, as FC delivers it).
    Tablestore(TablestoreEventArgs),
}

/// The ETag of an empty object.
const EMPTY_ETAG: &str = "D41D8CD98F00B204E9800998ECF8427E";

fn object_input(a: &OssEventArgs, now: OffsetDateTime, request_id: String) -> ObjectEventInput {
    let name = a
        .event
        .clone()
        .unwrap_or_else(|| "ObjectCreated:PutObject".into());
    let name = name.strip_prefix("oss:").unwrap_or(&name).to_string();
    let size = a.size.unwrap_or(0);
    ObjectEventInput {
        delta_size: if name.starts_with("ObjectRemoved") {
            -(size as i64)
        } else {
            size as i64
        },
        event_name: name,
        bucket: a.bucket.clone(),
        key: a.key.clone(),
        size,
        etag: a.etag.clone().unwrap_or_else(|| EMPTY_ETAG.into()),
        content_type: a.content_type.clone().unwrap_or_default(),
        request_id,
        source_ip: "127.0.0.1".into(),
        time: now,
    }
}

/// Finds the one trigger of `kind` the user means: by function and trigger name when given.
fn find_trigger<'a>(
    plan: &'a AppPlan,
    kind: &str,
    function: &Option<String>,
    trigger: &Option<String>,
) -> Result<(&'a str, &'a crate::manifest::TriggerPlan), String> {
    let found: Vec<_> = plan
        .functions
        .values()
        .filter(|f| function.as_ref().is_none_or(|n| &f.name == n))
        .flat_map(|f| f.triggers.iter().map(move |t| (f.name.as_str(), t)))
        .filter(|(_, t)| {
            t.kind.type_name() == kind && trigger.as_ref().is_none_or(|n| &t.name == n)
        })
        .collect();
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(format!(
            "no {kind} trigger{}{} in the manifest",
            function
                .as_ref()
                .map(|f| format!(" of function {f}"))
                .unwrap_or_default(),
            trigger
                .as_ref()
                .map(|t| format!(" named {t}"))
                .unwrap_or_default()
        )),
        many => Err(format!(
            "{} {kind} triggers match; name one with function and trigger: {}",
            many.len(),
            many.iter()
                .map(|(f, t)| format!("{f}/{}", t.name))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The `Sync-v1` Table Store event, CBOR (as FC delivers) or JSON.
pub fn tablestore_event(records: Option<Vec<Value>>, now: OffsetDateTime, cbor: bool) -> Vec<u8> {
    let micros = (now.unix_timestamp_nanos() / 1000) as i64;
    let records = records.unwrap_or_else(|| {
        vec![json!({
            "Type": "PutRow",
            "Info": { "Timestamp": micros },
            "PrimaryKey": [{ "ColumnName": "id", "Value": "row-1" }],
            "Columns": [{ "Type": "Put", "ColumnName": "value", "Value": "hello", "Timestamp": micros / 1000 }],
        })]
    });
    let event = json!({ "Version": "Sync-v1", "Records": records });
    if cbor {
        let mut out = Vec::new();
        let _ = ciborium::into_writer(&event, &mut out);
        out
    } else {
        serde_json::to_vec(&event).unwrap_or_default()
    }
}

/// The event bytes a trigger would deliver for `e`.
pub fn generate(
    e: &SyntheticEvent,
    plan: &AppPlan,
    now: OffsetDateTime,
    request_id: String,
) -> Result<Vec<u8>, String> {
    match e {
        SyntheticEvent::Oss(a) => {
            let input = object_input(a, now, request_id);
            Ok(oss_event::oss_event(
                &input,
                &plan.region,
                &plan.account_id,
                &oss_event::rule_id("synthetic", &a.bucket),
            ))
        }
        SyntheticEvent::Timer(TimerEventArgs {
            function,
            trigger,
            payload,
        }) => {
            let (name, default_payload) = match find_trigger(plan, "timer", function, trigger) {
                Ok((_, t)) => (
                    t.name.clone(),
                    match &t.kind {
                        TriggerKind::Timer(TimerTrigger { payload, .. }) => payload.clone(),
                        _ => String::new(),
                    },
                ),
                Err(_) if function.is_none() => (
                    trigger.clone().unwrap_or_else(|| "timer".into()),
                    String::new(),
                ),
                Err(why) => return Err(why),
            };
            Ok(timer::timer_event(
                &name,
                payload.as_deref().unwrap_or(&default_payload),
                now,
            ))
        }
        SyntheticEvent::Http(HttpEventArgs {
            method,
            path,
            query,
            headers,
            body,
            format,
        }) => {
            let req = HttpRequest {
                method: method
                    .clone()
                    .unwrap_or_else(|| "GET".into())
                    .to_ascii_uppercase(),
                path: path.clone().unwrap_or_else(|| "/".into()),
                query: query.clone(),
                headers: headers
                    .iter()
                    .map(|h| (h.0.to_ascii_lowercase(), h.1.clone()))
                    .collect(),
                body: body.clone().unwrap_or_default().into(),
                source_ip: "127.0.0.1".into(),
                protocol: "HTTP/1.1".into(),
            };
            match format.unwrap_or(HttpFormat::Apigw) {
                HttpFormat::Apigw => Ok(http_event::apigw_event(&req, &BTreeMap::new())),
                HttpFormat::Fc3 => Ok(http_event::fc3_event(
                    &req,
                    &Fc3Context {
                        account_id: &plan.account_id,
                        region: &plan.region,
                        function: "function",
                        request_id: &request_id,
                        time: now,
                        trigger: "http",
                    },
                )),
                HttpFormat::Http => Err(
                    "an http-format trigger passes the request itself; generate apigw or fc3"
                        .into(),
                ),
            }
        }
        SyntheticEvent::Log(LogEventArgs {
            project,
            logstore,
            shard,
        }) => {
            let payload = plan
                .functions
                .values()
                .flat_map(|f| f.triggers.iter())
                .find_map(|t| match &t.kind {
                    TriggerKind::Log(LogTrigger {
                        project: p,
                        logstore: l,
                        payload,
                        ..
                    }) if p == project && l == logstore => Some(payload.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            Ok(log_trigger::log_event(
                &LogSource::synthetic(project, logstore, shard.unwrap_or(0), now),
                &payload,
                &plan.region,
                now,
                request_id,
            ))
        }
        SyntheticEvent::Tablestore(t) => Ok(tablestore_event(t.records.clone(), now, !t.json)),
    }
}

/// Injects `e` as if its service had produced it; returns the request ids queued.
pub async fn inject(triggers: &Triggers, e: &SyntheticEvent) -> Result<Vec<String>, String> {
    let app = &triggers.app;
    let plan = app.plan();
    let now = app.runtime().clock().now();
    match e {
        SyntheticEvent::Oss(a) => {
            let input = object_input(a, now, app.runtime().ids().hex_upper(24));
            Ok(triggers.object_changed(&input, None).await)
        }
        SyntheticEvent::Timer(TimerEventArgs { function, trigger, payload }) => {
            let (f, t) = find_trigger(&plan, "timer", function, trigger)?;
            let default = match &t.kind {
                TriggerKind::Timer(TimerTrigger { payload, .. }) => payload.clone(),
                _ => String::new(),
            };
            let event = timer::timer_event(&t.name, payload.as_deref().unwrap_or(&default), now);
            Ok(vec![triggers.deliver(f, &t.name, event, None).await])
        }
        SyntheticEvent::Http(_) => Err("http events are not queued: send the request to the gateway, or use `fcemu events generate http` with `fcemu invoke`".into()),
        SyntheticEvent::Log(LogEventArgs { project, logstore, shard }) => {
            let mut ids = Vec::new();
            for f in plan.functions.values() {
                for t in f.triggers.iter().filter(|t| t.enabled) {
                    if let TriggerKind::Log(LogTrigger { project: p, logstore: l, payload, .. }) = &t.kind
                        && p == project && l == logstore {
                            let source = LogSource::synthetic(project, logstore, shard.unwrap_or(0), now);
                            let event = log_trigger::log_event(&source, payload, &plan.region, now, app.new_request_id());
                            ids.push(triggers.deliver(&f.name, &t.name, event, None).await);
                        }
                }
            }
            if ids.is_empty() {
                return Err(format!("no log trigger listens to {project}/{logstore}"));
            }
            Ok(ids)
        }
        SyntheticEvent::Tablestore(TablestoreEventArgs { instance, table, records, .. }) => {
            let mut ids = Vec::new();
            for f in plan.functions.values() {
                for t in f.triggers.iter().filter(|t| t.enabled) {
                    if let TriggerKind::Tablestore(TablestoreTrigger { instance: i, table: tb, format }) = &t.kind
                        && i == instance && tb == table {
                            let event = tablestore_event(records.clone(), now, *format == StreamFormat::Cbor);
                            ids.push(triggers.deliver(&f.name, &t.name, event, None).await);
                        }
                }
            }
            if ids.is_empty() {
                return Err(format!("no tablestore trigger listens to {instance}/{table}"));
            }
            Ok(ids)
        }
    }
}
