//! FC's triggers: the only place that knows FC event formats. Service change notifications and
//! synthetic events (`fcemu events`, `POST /_fcemu/events`) go through the same code, so they
//! cannot drift apart. Deliveries are asynchronous, through the [`queue`].

pub mod http_event;
pub mod log_trigger;
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
use crate::manifest::{OssTrigger, TablestoreTrigger, TimerTrigger};
use oss_event::ObjectEventInput;
use queue::{AsyncQueue, Job};

/// How many trigger hops a chain of invocations may take before fcemu stops it: a function whose
/// writes fire its own trigger would otherwise run forever.
pub const DEFAULT_MAX_CHAIN_DEPTH: u32 = 8;

/// Most due instants one clock advance stops at (a trigger loop is cut by the depth guard; this
/// bounds the rest).
const MAX_STEPS_PER_ADVANCE: usize = 10_000;

/// How long an advance waits at one due instant for the work it started.
const STEP_IDLE_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// The trigger machinery of a running emulator.
pub struct Triggers {
    pub(crate) app: Arc<App>,
    /// The asynchronous invocation queue.
    pub queue: Arc<AsyncQueue>,
    /// Timer triggers on the emulator's clock.
    pub timers: Arc<schedule::TimerScheduler>,
    /// Logs appended to logstores, waiting for their log trigger's interval.
    pub logs: log_trigger::LogBatcher,
    logs_appended: tokio::sync::Notify,
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
            logs: log_trigger::LogBatcher::default(),
            logs_appended: tokio::sync::Notify::new(),
            max_depth,
        }))
    }

    /// Starts a run over as a fresh process would: a virtual clock goes back to
    /// [`VIRTUAL_EPOCH`](fcemu_core::clock::VIRTUAL_EPOCH) and timers are due again from there,
    /// every instance stops (nothing a function kept in memory leaks into what runs next) and
    /// sequential ids begin again, so a test sees the same ids and times whatever ran before it.
    pub async fn start_over(&self) {
        let clock = self.app.runtime().clock().clone();
        if clock.set(fcemu_core::clock::VIRTUAL_EPOCH) {
            self.timers.rewind(fcemu_core::clock::VIRTUAL_EPOCH).await;
        }
        for f in self.app.functions().values() {
            f.cool_down().await;
        }
        self.app.runtime().ids().restart();
    }

    /// Routes logs appended to logstores to log triggers: each trigger gets, per shard, one
    /// invocation per interval with the cursors of the new data. With the system clock a task
    /// delivers batches as they fall due; with a virtual clock, moving the clock does.
    pub fn follow_log_appends(
        self: &Arc<Self>,
        feed: &fcemu_core::ChangeFeed<fcemu_sls::LogsAppended>,
    ) {
        let this = self.clone();
        self.app.follow(feed, 1, move |changes| {
            for change in &changes {
                this.logs.appended(&this.app, change);
            }
            this.logs_appended.notify_one();
            std::future::ready(())
        });
        if self.app.runtime().clock().is_virtual() {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                let now = this.app.runtime().clock().now();
                let wait = this
                    .logs
                    .next_due()
                    .map(|due| (due - now).max(time::Duration::ZERO))
                    .unwrap_or(time::Duration::HOUR);
                let wait = std::time::Duration::from_secs_f64(wait.as_seconds_f64());
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = this.logs_appended.notified() => {}
                }
                let now = this.app.runtime().clock().now();
                this.fire_logs_due(now).await;
            }
        });
    }

    /// Moves the virtual clock forward by `by` one due instant at a time: the clock stops at
    /// each timer firing and log batch in order, fires what is due then, and waits until that
    /// work has finished, so each firing runs with the clock at its due time. `None` when the
    /// clock is not virtual.
    pub async fn advance(&self, by: std::time::Duration) -> Option<Vec<schedule::Firing>> {
        let clock = self.app.runtime().clock().clone();
        if !clock.is_virtual() {
            return None;
        }
        let target = clock.now() + by;
        let mut fired = Vec::new();
        for _ in 0..MAX_STEPS_PER_ADVANCE {
            let timer = self.timers.next_due().await;
            let batch = self.logs.next_due();
            let Some(at) = [timer, batch]
                .into_iter()
                .flatten()
                .min()
                .filter(|at| *at <= target)
            else {
                break;
            };
            let now = clock.now();
            if at > now {
                clock.advance(std::time::Duration::try_from(at - now).unwrap_or_default());
            }
            fired.extend(self.timers.fire_due(at).await);
            fired.extend(self.fire_logs_due(at).await);
            // What fired runs now, at its due time, before the clock moves on.
            self.app.idle(STEP_IDLE_LIMIT).await;
        }
        let now = clock.now();
        if target > now {
            clock.advance(std::time::Duration::try_from(target - now).unwrap_or_default());
        }
        fired.extend(self.timers.fire_due(target).await);
        fired.extend(self.fire_logs_due(target).await);
        Some(fired)
    }

    /// Delivers every log batch due at `now`, oldest first, each as of the time it fell due.
    pub async fn fire_logs_due(&self, now: time::OffsetDateTime) -> Vec<schedule::Firing> {
        let region = self.app.plan().region.clone();
        let mut fired = Vec::new();
        for batch in self.logs.take_due(&self.app, now) {
            let what = format!("{}/{}", batch.source.project, batch.source.logstore);
            if self.loop_suspected(&what, &batch.trigger, &batch.function, batch.cause.depth) {
                continue;
            }
            let event = log_trigger::log_event(
                &batch.source,
                &batch.payload,
                &region,
                batch.due,
                self.app.new_request_id(),
            );
            let request_id = self
                .deliver(&batch.function, &batch.trigger, event, Some(&batch.cause))
                .await;
            fired.push(schedule::Firing {
                function: batch.function,
                trigger: batch.trigger,
                trigger_time: timer::rfc3339_seconds(batch.due),
                request_id,
            });
        }
        fired
    }

    /// Routes object-store change notifications to OSS triggers until the feed closes.
    pub fn follow_object_changes(
        self: &Arc<Self>,
        feed: &fcemu_core::ChangeFeed<fcemu_oss::ObjectChange>,
    ) {
        let this = self.clone();
        self.app.follow(feed, 1, move |changes| {
            let this = this.clone();
            async move {
                for change in changes {
                    this.object_changed(&ObjectEventInput::from(&change), Some(&change.cause))
                        .await;
                }
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
        let this = self.clone();
        self.app
            .follow(feed, tablestore_event::MAX_RECORDS, move |changes| {
                let this = this.clone();
                async move {
                    this.rows_changed(&changes).await;
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
                let TriggerKind::Tablestore(TablestoreTrigger {
                    instance,
                    table,
                    format,
                }) = &t.kind
                else {
                    continue;
                };
                let matching: Vec<_> = changes
                    .iter()
                    .filter(|c| c.streamed && &c.instance == instance && &c.table == table)
                    .collect();
                let Some(cause) = matching.iter().map(|c| &c.cause).max_by_key(|c| c.depth) else {
                    continue;
                };
                let records: Vec<_> = matching.iter().map(|c| c.record.clone()).collect();
                if !t.enabled {
                    eprintln!(
                        "fcemu: {instance}/{table}: trigger {} not fired: it is disabled",
                        t.name
                    );
                    continue;
                }
                if self.loop_suspected(
                    &format!("{instance}/{table}"),
                    &t.name,
                    &f.name,
                    cause.depth,
                ) {
                    continue;
                }
                let event = tablestore_event::event(
                    &records,
                    *format == crate::manifest::StreamFormat::Cbor,
                );
                queued.push(self.deliver(&f.name, &t.name, event, Some(cause)).await);
            }
        }
        queued
    }

    /// Fires every OSS trigger a change matches; explains each trigger on the same bucket that
    /// it did not fire. `cause` is the invocation whose write it was (`None` from outside).
    /// Returns the request ids queued.
    pub async fn object_changed(
        &self,
        input: &ObjectEventInput,
        cause: Option<&fcemu_core::Cause>,
    ) -> Vec<String> {
        let depth = cause.map_or(0, |c| c.depth);
        let plan = self.app.plan();
        let mut queued = Vec::new();
        for f in plan.functions.values() {
            for t in f.triggers.iter() {
                let TriggerKind::Oss(OssTrigger {
                    bucket,
                    events,
                    prefix,
                    suffix,
                }) = &t.kind
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
                if self.loop_suspected(&input.key, &t.name, &f.name, depth) {
                    continue;
                }
                let event = oss_event::oss_event(
                    input,
                    &plan.region,
                    &plan.account_id,
                    &oss_event::rule_id(&f.name, &t.name),
                );
                queued.push(self.deliver(&f.name, &t.name, event, cause).await);
            }
        }
        queued
    }

    /// Whether a change `depth` hops down a chain of invocations must not fire `trigger` of
    /// `function` (a trigger loop); says so on the terminal.
    fn loop_suspected(&self, what: &str, trigger: &str, function: &str, depth: u32) -> bool {
        if depth < self.max_depth {
            return false;
        }
        eprintln!(
            "fcemu: warning: {what}: trigger {trigger} of {function} not fired: {depth} invocations in a row were caused by writes of functions; this looks like a trigger loop (a function writing where its own trigger listens); the limit is --max-trigger-depth"
        );
        true
    }

    /// Queues one delivery of `event` to `function` on behalf of `trigger`; returns its request id.
    /// `after` is what caused it: a write of an invocation (one hop further down its chain), or
    /// `None` for an event from outside.
    pub async fn deliver(
        &self,
        function: &str,
        trigger: &str,
        event: Vec<u8>,
        after: Option<&fcemu_core::Cause>,
    ) -> String {
        let depth = after.map_or(0, |c| c.depth + 1);
        let caused_by = after.and_then(|c| c.invocation.clone());
        let request_id = self.app.new_request_id();
        let job = Job {
            request_id: request_id.clone(),
            function: function.to_string(),
            trigger: trigger.to_string(),
            event: Bytes::from(event),
            enqueued_at: self.app.runtime().clock().now(),
            attempt: 0,
            depth,
            caused_by,
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
                    TriggerKind::Timer(TimerTrigger { .. }) => self
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
