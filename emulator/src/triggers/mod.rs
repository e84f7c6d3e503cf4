//! FC's triggers: the only place that knows FC event formats. Service change notifications and
//! synthetic events (`fcemu events`, `POST /_fcemu/events`) go through the same code, so they
//! cannot drift apart. Deliveries are asynchronous, through the [`queue`].

pub mod http_event;
pub mod oss_event;
pub mod queue;
pub mod schedule;
pub mod synthetic;
pub mod tablestore_event;
pub mod timer;

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};

use crate::app::App;
use crate::manifest::TriggerKind;
use oss_event::ObjectEventInput;
use queue::{AsyncQueue, Job};

/// How many trigger hops a chain of invocations may take before fcemu stops it: a function whose
/// writes fire its own trigger would otherwise run forever.
pub const DEFAULT_MAX_CHAIN_DEPTH: u32 = 8;

/// The trigger machinery of a running emulator.
pub struct Triggers {
    pub(crate) app: Arc<App>,
    /// The asynchronous invocation queue.
    pub queue: Arc<AsyncQueue>,
    /// Timer triggers on the emulator's clock.
    pub timers: Arc<schedule::TimerScheduler>,
    max_depth: u32,
}

impl Triggers {
    /// Starts the queue (persisted in `store` when given) and the timer scheduler.
    pub fn start(
        app: Arc<App>,
        store: Option<&std::path::Path>,
        deterministic: bool,
        max_depth: u32,
    ) -> anyhow::Result<Arc<Self>> {
        let queue = AsyncQueue::start(app.clone(), store, deterministic)?;
        let timers = schedule::TimerScheduler::start(app.clone(), queue.clone());
        Ok(Arc::new(Triggers {
            app,
            queue,
            timers,
            max_depth,
        }))
    }

    /// Routes object-store change notifications to OSS triggers until the feed closes.
    pub fn follow_object_changes(
        self: &Arc<Self>,
        feed: &fcemu_core::ChangeFeed<fcemu_oss::ObjectChange>,
    ) {
        // Counted from the moment a change is published, so `idle` never misses one in transit.
        let (mut rx, unhandled) = feed.subscribe_counted();
        let count = unhandled.clone();
        self.app.add_pending_source(Box::new(move || count.count()));
        let this = self.clone();
        tokio::spawn(async move {
            while let Some(change) = rx.recv().await {
                this.object_changed(&ObjectEventInput::from(&change), change.chain_depth)
                    .await;
                unhandled.done();
            }
        });
    }

    /// Routes Table Store row changes to Table Store triggers until the feed closes. Changes that
    /// arrive together are delivered together, up to [`tablestore_event::MAX_RECORDS`] records
    /// per invocation, in the order they were committed.
    pub fn follow_row_changes(
        self: &Arc<Self>,
        feed: &fcemu_core::ChangeFeed<fcemu_tablestore::RowChange>,
    ) {
        let (mut rx, unhandled) = feed.subscribe_counted();
        let count = unhandled.clone();
        self.app.add_pending_source(Box::new(move || count.count()));
        let this = self.clone();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < tablestore_event::MAX_RECORDS {
                    match rx.try_recv() {
                        Ok(change) => batch.push(change),
                        Err(_) => break,
                    }
                }
                this.rows_changed(&batch).await;
                for _ in &batch {
                    unhandled.done();
                }
            }
        });
    }

    /// Fires every Table Store trigger on the tables of `changes`, one invocation per trigger
    /// and table with that table's records in order. Returns the request ids queued.
    pub async fn rows_changed(&self, changes: &[fcemu_tablestore::RowChange]) -> Vec<String> {
        let plan = self.app.plan();
        let mut queued = Vec::new();
        for f in plan.functions.values() {
            for t in &f.triggers {
                let TriggerKind::Tablestore {
                    instance,
                    table,
                    format,
                } = &t.kind
                else {
                    continue;
                };
                let records: Vec<_> = changes
                    .iter()
                    .filter(|c| &c.instance == instance && &c.table == table)
                    .map(|c| c.record.clone())
                    .collect();
                if records.is_empty() {
                    continue;
                }
                if !t.enabled {
                    eprintln!(
                        "fcemu: {instance}/{table}: trigger {} not fired: it is disabled",
                        t.name
                    );
                    continue;
                }
                let event = tablestore_event::event(&records, format != "json");
                queued.push(self.deliver(&f.name, &t.name, event, 1).await);
            }
        }
        queued
    }

    /// Fires every OSS trigger a change matches; explains each trigger on the same bucket that
    /// it did not fire. Returns the request ids queued.
    pub async fn object_changed(&self, input: &ObjectEventInput, depth: u32) -> Vec<String> {
        let plan = self.app.plan();
        let mut queued = Vec::new();
        for f in plan.functions.values() {
            for t in f.triggers.iter() {
                let TriggerKind::Oss {
                    bucket,
                    events,
                    prefix,
                    suffix,
                } = &t.kind
                else {
                    continue;
                };
                if bucket != &input.bucket {
                    continue;
                }
                if !t.enabled {
                    eprintln!(
                        "fcemu: {}: trigger {} not fired: it is disabled",
                        input.key, t.name
                    );
                    continue;
                }
                if let Err(miss) = oss_event::check(events, prefix, suffix, input) {
                    eprintln!("fcemu: {}: trigger {} not fired: {miss}", input.key, t.name);
                    continue;
                }
                if depth >= self.max_depth {
                    eprintln!(
                        "fcemu: warning: {}: trigger {} of {} not fired: {depth} invocations in a row were caused by writes of functions; this looks like a trigger loop (a function writing where its own trigger listens); the limit is --max-trigger-depth",
                        input.key, t.name, f.name
                    );
                    continue;
                }
                let event = oss_event::oss_event(
                    input,
                    &plan.region,
                    &plan.account_id,
                    &oss_event::rule_id(&f.name, &t.name),
                );
                queued.push(self.deliver(&f.name, &t.name, event, depth + 1).await);
            }
        }
        queued
    }

    /// Queues one delivery of `event` to `function` on behalf of `trigger`; returns its request id.
    pub async fn deliver(
        &self,
        function: &str,
        trigger: &str,
        event: Vec<u8>,
        depth: u32,
    ) -> String {
        let request_id = self.app.new_request_id();
        let job = Job {
            request_id: request_id.clone(),
            function: function.to_string(),
            trigger: trigger.to_string(),
            event: Bytes::from(event),
            enqueued_at: self.app.runtime().clock().now(),
            attempt: 0,
            depth,
        };
        self.queue.enqueue(job).await;
        request_id
    }

    /// Every trigger of the app with its last firing, for `GET /_fcemu/triggers`.
    pub fn describe(&self) -> Value {
        let plan = self.app.plan();
        let mut list = Vec::new();
        for f in plan.functions.values() {
            for t in &f.triggers {
                let next = match &t.kind {
                    TriggerKind::Timer { .. } => self
                        .timers
                        .next_firing(&f.name, &t.name)
                        .map(timer::rfc3339_seconds),
                    _ => None,
                };
                list.push(json!({
                    "function": f.name,
                    "name": t.name,
                    "type": t.kind.type_name(),
                    "enabled": t.enabled,
                    "config": t.kind,
                    "lastFiring": self.app.records().last_for(&f.name, &t.name),
                    "nextFiring": next,
                }));
            }
        }
        json!({ "triggers": list })
    }
}
