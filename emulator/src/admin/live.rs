//! `GET /_fcemu/invocations/stream`: every invocation as it finishes, as server-sent events
//! (`event: invocation`, the record as JSON), filtered like `GET /_fcemu/invocations`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;

use super::query::Query;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;

use crate::records::Filter;
use crate::triggers::Triggers;

/// The stream of records matching `f` (its `since` and `limit` do not apply).
pub async fn stream(
    State(t): State<Arc<Triggers>>,
    Query(f): Query<Filter>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = t.app.records().finished().subscribe();
    let events = futures::stream::unfold((rx, f), |(mut rx, f)| async move {
        loop {
            let r = rx.recv().await?;
            let matches = f.function.as_ref().is_none_or(|v| &r.function == v)
                && f.trigger.as_ref().is_none_or(|v| &r.trigger == v)
                && f.status.as_ref().is_none_or(|v| r.status == v);
            if matches {
                let event = Event::default()
                    .event("invocation")
                    .json_data(&r)
                    .unwrap_or_default();
                return Some((Ok(event), (rx, f)));
            }
        }
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
