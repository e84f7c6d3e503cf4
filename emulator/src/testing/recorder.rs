//! What happened since the last look: the invocations that finished and the objects, rows and
//! log groups written, as a snapshot shows them. `fcemu test` takes one after each step; the
//! admin API's `GET /_fcemu/snapshot` takes one for test suites in other languages.

use serde_json::{Map, Value, json};

use super::render::{body_value, replace_addresses, row_change, tidy_http};
use crate::app::App;
use crate::services::Services;

/// Objects up to this size written as text show their content in the snapshot.
const SHORT_CONTENT: u64 = 1024;

/// Follows the services' change feeds and the invocation records.
pub struct Recorder {
    objects: fcemu_core::ChangeReceiver<fcemu_oss::ObjectChange>,
    rows: fcemu_core::ChangeReceiver<fcemu_tablestore::RowChange>,
    logs: fcemu_core::ChangeReceiver<fcemu_sls::LogsAppended>,
    /// The last invocation record already seen.
    seen: u64,
}

impl Recorder {
    /// Starts following `services` (what happens from now on).
    pub fn start(services: &Services) -> Recorder {
        Recorder {
            objects: services.oss().changes().subscribe(),
            rows: services.ots().changes().subscribe(),
            logs: services.sls().changes().subscribe(),
            seen: 0,
        }
    }

    /// Forgets what happened so far.
    pub fn skip(&mut self, app: &App) {
        self.drain();
        self.seen = last_seq(app);
    }

    /// What happened since the last look: `invocations` (in the order they finished) and,
    /// when there were any, `objects`, `rows` and `logs`; fcemu's own addresses read
    /// `<gateway>` / `<services>` (`own` pairs each address with its name).
    pub async fn take(
        &mut self,
        app: &App,
        services: &Services,
        own: &[(String, &str)],
    ) -> Map<String, Value> {
        let invocations = self.invocations(app);
        let (mut objects, rows, logs) = self.drain();
        add_contents(services, &mut objects).await;
        let mut out = Map::new();
        out.insert("invocations".into(), Value::Array(invocations));
        for (k, v) in [("objects", objects), ("rows", rows), ("logs", logs)] {
            if !v.is_empty() {
                out.insert(k.into(), Value::Array(v));
            }
        }
        let mut v = Value::Object(out);
        replace_addresses(&mut v, own);
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn drain(&mut self) -> (Vec<Value>, Vec<Value>, Vec<Value>) {
        let mut objects = Vec::new();
        while let Ok(c) = self.objects.try_recv() {
            objects.push(json!({
                "event": c.event.name(),
                "bucket": c.bucket,
                "key": c.key,
                "size": c.size,
                "etag": c.etag,
            }));
        }
        let mut rows = Vec::new();
        while let Ok(c) = self.rows.try_recv() {
            rows.push(row_change(&c));
        }
        let mut logs = Vec::new();
        while let Ok(c) = self.logs.try_recv() {
            logs.push(json!({
                "project": c.project,
                "logstore": c.logstore,
                "shard": c.shard,
                "count": c.count,
            }));
        }
        (objects, rows, logs)
    }

    /// The invocations finished since the last look, in the order they finished.
    fn invocations(&mut self, app: &App) -> Vec<Value> {
        let since = crate::records::Filter {
            since: Some(self.seen),
            limit: Some(usize::MAX),
            ..Default::default()
        };
        let mut recs = app.records().query(&since);
        recs.sort_by_key(|r| r.seq);
        if let Some(last) = recs.last() {
            self.seen = last.seq;
        }
        recs.into_iter()
            .map(|r| {
                let mut v = json!({
                    "function": r.function,
                    "trigger": r.trigger,
                    "status": r.status,
                    "event": body_value(r.event.as_bytes(), r.event_encoding),
                    "result": body_value(r.result.as_bytes(), r.result_encoding),
                    "logs": r.logs,
                });
                tidy_http(&mut v["event"]);
                tidy_http(&mut v["result"]);
                if let Some(e) = r.error_type {
                    v["error"] = Value::String(e.to_string());
                }
                if r.attempt > 0 {
                    v["attempt"] = Value::from(r.attempt);
                }
                v
            })
            .collect()
    }
}

fn last_seq(app: &App) -> u64 {
    let newest = crate::records::Filter {
        limit: Some(1),
        ..Default::default()
    };
    app.records().query(&newest).last().map_or(0, |r| r.seq)
}

/// Adds the content of objects written as short text (as they are now).
async fn add_contents(services: &Services, objects: &mut [Value]) {
    for o in objects.iter_mut() {
        let created = o["event"]
            .as_str()
            .is_some_and(|e| e.starts_with("ObjectCreated"));
        let small = o["size"].as_u64().is_some_and(|n| n <= SHORT_CONTENT);
        let (Some(b), Some(k)) = (o["bucket"].as_str(), o["key"].as_str()) else {
            continue;
        };
        if !(created && small) {
            continue;
        }
        if let Ok(bytes) = services.oss().get_bytes(b, k).await
            && let Ok(text) = String::from_utf8(bytes.to_vec())
        {
            o["content"] = Value::String(text);
        }
    }
}
