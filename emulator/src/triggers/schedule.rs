//! Runs timer triggers on the emulator's clock: with the system clock, a task sleeps until the
//! next firing; with a virtual clock, `POST /_fcemu/clock/advance` fires everything that falls
//! due, in time order.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;

use super::queue::{AsyncQueue, Job};
use super::timer::{Schedule, timer_event};
use crate::app::App;
use crate::manifest::TimerTrigger;
use crate::manifest::TriggerKind;

/// Most firings one clock move may produce (a per-second timer over a year would be 31 million).
pub const MAX_FIRINGS_PER_MOVE: usize = 10_000;

/// One timer trigger of the current plan.
struct Timer {
    function: String,
    trigger: String,
    schedule: Schedule,
    payload: String,
}

/// A firing that fell due.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Firing {
    /// Function invoked.
    pub function: String,
    /// Trigger name.
    pub trigger: String,
    /// `triggerTime` of the event.
    pub trigger_time: String,
    /// Request id of the queued invocation.
    pub request_id: String,
}

/// The scheduler.
pub struct TimerScheduler {
    app: Arc<App>,
    queue: Arc<AsyncQueue>,
    anchor: OffsetDateTime,
    last: tokio::sync::Mutex<OffsetDateTime>,
    next_cache: Mutex<Vec<(String, String, OffsetDateTime)>>,
}

impl TimerScheduler {
    /// Starts the scheduler; with the system clock it also starts the task that fires timers.
    pub fn start(app: Arc<App>, queue: Arc<AsyncQueue>) -> Arc<Self> {
        let now = app.runtime().clock().now();
        let this = Arc::new(TimerScheduler {
            app,
            queue,
            anchor: now,
            last: tokio::sync::Mutex::new(now),
            next_cache: Mutex::new(Vec::new()),
        });
        if !this.app.runtime().clock().is_virtual() {
            tokio::spawn(this.clone().run());
        }
        this
    }

    fn timers(&self) -> Vec<Timer> {
        let plan = self.app.plan();
        let mut out = Vec::new();
        for f in plan.functions.values() {
            for t in f.triggers.iter().filter(|t| t.enabled) {
                if let TriggerKind::Timer(TimerTrigger { cron, payload }) = &t.kind {
                    match Schedule::parse(cron) {
                        Ok(schedule) => out.push(Timer {
                            function: f.name.clone(),
                            trigger: t.name.clone(),
                            schedule,
                            payload: payload.clone(),
                        }),
                        Err(why) => {
                            tracing::warn!(function = %f.name, trigger = %t.name, "timer not scheduled: {why}")
                        }
                    }
                }
            }
        }
        out
    }

    async fn run(self: Arc<Self>) {
        loop {
            let last = *self.last.lock().await;
            let next = self
                .timers()
                .iter()
                .filter_map(|t| t.schedule.next_after(last, self.anchor))
                .min();
            let now = self.app.runtime().clock().now();
            // Wake at the next firing, and at least every second to see manifest changes.
            let wait = next
                .map(|n| (n - now).max(time::Duration::ZERO))
                .unwrap_or(time::Duration::SECOND)
                .min(time::Duration::SECOND);
            tokio::time::sleep(Duration::from_secs_f64(wait.as_seconds_f64())).await;
            let now = self.app.runtime().clock().now();
            self.fire_due(now).await;
        }
    }

    /// Queues every firing in (last check, `now`], oldest first (ties by function, then trigger).
    pub async fn fire_due(&self, now: OffsetDateTime) -> Vec<Firing> {
        let mut last = self.last.lock().await;
        if now <= *last {
            return Vec::new();
        }
        let mut due: Vec<(OffsetDateTime, usize)> = Vec::new();
        let timers = self.timers();
        'outer: for (i, t) in timers.iter().enumerate() {
            let mut at = *last;
            while let Some(next) = t.schedule.next_after(at, self.anchor) {
                if next > now {
                    break;
                }
                due.push((next, i));
                at = next;
                if due.len() >= MAX_FIRINGS_PER_MOVE {
                    eprintln!(
                        "fcemu: warning: more than {MAX_FIRINGS_PER_MOVE} timer firings in one step; the rest are skipped"
                    );
                    break 'outer;
                }
            }
        }
        due.sort_by(|a, b| {
            a.0.cmp(&b.0).then_with(|| {
                (&timers[a.1].function, &timers[a.1].trigger)
                    .cmp(&(&timers[b.1].function, &timers[b.1].trigger))
            })
        });
        let mut fired = Vec::new();
        for (at, i) in due {
            let t = &timers[i];
            let request_id = self.app.new_request_id();
            let event = timer_event(&t.trigger, &t.payload, at);
            self.queue
                .enqueue(Job {
                    request_id: request_id.clone(),
                    function: t.function.clone(),
                    trigger: t.trigger.clone(),
                    event: event.into(),
                    enqueued_at: at,
                    attempt: 0,
                    depth: 0,
                    caused_by: None,
                })
                .await;
            fired.push(Firing {
                function: t.function.clone(),
                trigger: t.trigger.clone(),
                trigger_time: super::timer::rfc3339_seconds(at),
                request_id,
            });
        }
        *last = now;
        let next: Vec<(String, String, OffsetDateTime)> = timers
            .iter()
            .filter_map(|t| {
                t.schedule
                    .next_after(now, self.anchor)
                    .map(|n| (t.function.clone(), t.trigger.clone(), n))
            })
            .collect();
        *self.next_cache.lock().unwrap_or_else(|e| e.into_inner()) = next;
        fired
    }

    /// The first firing of any timer after the last check, if any.
    pub async fn next_due(&self) -> Option<OffsetDateTime> {
        let last = *self.last.lock().await;
        self.timers()
            .iter()
            .filter_map(|t| t.schedule.next_after(last, self.anchor))
            .min()
    }

    /// Forgets what fired: timers are due again from `now` on (after a virtual clock was set
    /// back to start a test case over).
    pub async fn rewind(&self, now: OffsetDateTime) {
        *self.last.lock().await = now;
        self.next_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// When a timer fires next.
    pub fn next_firing(&self, function: &str, trigger: &str) -> Option<OffsetDateTime> {
        let cached = self
            .next_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|(f, t, _)| f == function && t == trigger)
            .map(|(_, _, n)| *n);
        cached.or_else(|| {
            let now = self.app.runtime().clock().now();
            self.timers()
                .iter()
                .find(|t| t.function == function && t.trigger == trigger)
                .and_then(|t| t.schedule.next_after(now, self.anchor))
        })
    }
}
