//! Ships each invocation's log lines to the Log Service, as FC does for a service with a log
//! configuration (`log_project` / `log_store`): one log per line between FC's start and end
//! markers, with the function, service, request and instance as fields and the service name as
//! the topic.

use std::sync::Arc;

use fcemu_sls::{Log, LogContent, LogGroup, Sls};
use time::OffsetDateTime;

use crate::app::App;
use crate::records::InvocationRecord;

/// Follows finished invocations until the emulator stops; `POST /_fcemu/idle` waits for logs
/// still on their way.
pub fn ship(app: &Arc<App>, sls: Sls) {
    let this = app.clone();
    app.follow(app.records().finished(), 1, move |records| {
        let (app, sls) = (this.clone(), sls.clone());
        async move {
            for record in records {
                if let Some((project, logstore, group)) = log_group(&app, &record)
                    && let Err(e) = sls.put_logs(&project, &logstore, group, fcemu_core::Cause::invocation(record.chain_depth, &record.request_id)).await
                {
                    tracing::warn!(function = %record.function, "logs not written to {project}/{logstore}: {e}");
                }
            }
        }
    });
}

/// The log group of `record` and where it goes, when its service has a log configuration.
fn log_group(app: &App, record: &InvocationRecord) -> Option<(String, String, LogGroup)> {
    let plan = app.plan();
    let function = plan.functions.get(&record.function)?;
    let service = plan.services.get(&function.service)?;
    if service.log_project.is_empty() || service.log_store.is_empty() {
        return None;
    }
    let started = OffsetDateTime::parse(
        &record.started_at,
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap_or_else(|_| app.runtime().clock().now());
    let time = u32::try_from(started.unix_timestamp()).unwrap_or(0);
    let field = |key: &str, value: &str| LogContent {
        key: key.into(),
        value: value.into(),
    };
    let start = format!("FC Invoke Start RequestId: {}", record.request_id);
    let end = format!("FC Invoke End RequestId: {}", record.request_id);
    let lines = std::iter::once(start.as_str())
        .chain(record.logs.iter().map(String::as_str))
        .chain(std::iter::once(end.as_str()));
    let logs = lines
        .map(|line| Log {
            time,
            contents: vec![
                field("message", line),
                field("functionName", &record.function),
                field("serviceName", &function.service),
                field("qualifier", "LATEST"),
                field("versionId", ""),
                field("requestId", &record.request_id),
                field("instanceID", &record.instance_id),
            ],
            time_ns: None,
        })
        .collect();
    let group = LogGroup {
        logs,
        topic: Some(function.service.clone()),
        source: Some("127.0.0.1".into()),
        ..LogGroup::default()
    };
    Some((
        service.log_project.clone(),
        service.log_store.clone(),
        group,
    ))
}
