//! The JSON the FC API returns for services, functions and triggers, built from the plan.

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::manifest::{AppPlan, FunctionPlan, TriggerPlan};
use crate::runtime::{LoadedFunction, Shape};

/// FC's timestamp format, `2020-04-01T08:15:27Z`.
pub fn fc_time(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A stable id derived from a name (FC ids are UUID-like).
fn id_for(kind: &str, name: &str) -> String {
    let h = crate::runtime::content_hash(format!("{kind}/{name}").as_bytes());
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// FC 2.0 service metadata.
pub fn service(plan: &AppPlan, name: &str, created: OffsetDateTime) -> Value {
    let svc = plan.services.get(name).cloned().unwrap_or_default();
    json!({
        "serviceName": name,
        "serviceId": id_for("service", name),
        "description": svc.description,
        "role": "",
        "logConfig": { "project": svc.log_project, "logstore": svc.log_store, "enableRequestMetrics": false, "enableInstanceMetrics": false },
        "internetAccess": true,
        "vpcConfig": { "vpcId": "", "vSwitchIds": [], "securityGroupId": "" },
        "nasConfig": { "userId": -1, "groupId": -1, "mountPoints": [] },
        "tracingConfig": {},
        "createdTime": fc_time(created),
        "lastModifiedTime": fc_time(created),
    })
}

/// The code checksum FC reports: a decimal u64 (fcemu derives it from the code's SHA-256).
pub fn code_checksum(f: &LoadedFunction) -> String {
    u64::from_str_radix(&f.code_hash[..16], 16)
        .unwrap_or(0)
        .to_string()
}

fn runtime_name(f: &LoadedFunction) -> &'static str {
    match f.shape {
        Shape::Event => "custom.wasm",
        Shape::Http => "custom.wasm-http",
    }
}

fn code_size(plan: &FunctionPlan) -> u64 {
    std::fs::metadata(&plan.code).map(|m| m.len()).unwrap_or(0)
}

/// FC 2.0 function metadata.
pub fn function_v2(f: &LoadedFunction) -> Value {
    let p = &f.plan;
    json!({
        "functionId": id_for("function", &p.name),
        "functionName": p.name,
        "description": p.description,
        "runtime": runtime_name(f),
        "handler": p.handler,
        "initializer": "",
        "timeout": p.timeout.as_secs(),
        "initializationTimeout": 0,
        "memorySize": p.memory_mb,
        "instanceConcurrency": p.concurrency,
        "instanceType": "e1",
        "caPort": 9000,
        "codeSize": code_size(p),
        "codeChecksum": code_checksum(f),
        "environmentVariables": p.env,
        "layers": [],
        "createdTime": fc_time(f.loaded_at),
        "lastModifiedTime": fc_time(f.loaded_at),
    })
}

/// FC 3.0 function metadata.
pub fn function_v3(app: &AppPlan, f: &LoadedFunction) -> Value {
    let p = &f.plan;
    let svc = app.services.get(&p.service).cloned().unwrap_or_default();
    json!({
        "functionArn": format!("acs:fc:{}:{}:functions/{}", app.region, app.account_id, p.name),
        "functionId": id_for("function", &p.name),
        "functionName": p.name,
        "description": p.description,
        "runtime": runtime_name(f),
        "handler": p.handler,
        "timeout": p.timeout.as_secs(),
        "memorySize": p.memory_mb,
        "cpu": (p.memory_mb as f64 / 1024.0).clamp(0.05, 16.0),
        "diskSize": 512,
        "instanceConcurrency": p.concurrency,
        "codeSize": code_size(p),
        "codeChecksum": code_checksum(f),
        "environmentVariables": p.env,
        "internetAccess": true,
        "logConfig": { "project": svc.log_project, "logstore": svc.log_store },
        "layers": [],
        "state": "Active",
        "lastUpdateStatus": "Successful",
        "createdTime": fc_time(f.loaded_at),
        "lastModifiedTime": fc_time(f.loaded_at),
    })
}

/// Trigger metadata; FC 3.0 carries `triggerConfig` as a JSON string.
pub fn trigger(plan: &AppPlan, f: &LoadedFunction, t: &TriggerPlan, v3: bool) -> Value {
    let (kind, source_arn, config) = t
        .kind
        .fc_metadata(&plan.region, &plan.account_id, t.enabled);
    let config = if v3 {
        Value::String(config.to_string())
    } else {
        config
    };
    let mut v = json!({
        "triggerName": t.name,
        "triggerId": id_for("trigger", &format!("{}/{}", f.plan.name, t.name)),
        "triggerType": kind,
        "description": "",
        "sourceArn": source_arn,
        "invocationRole": "",
        "qualifier": "LATEST",
        "triggerConfig": config,
        "createdTime": fc_time(f.loaded_at),
        "lastModifiedTime": fc_time(f.loaded_at),
    });
    if v3 {
        v["status"] = json!(if t.enabled { "Enabled" } else { "Disabled" });
        v["targetArn"] = json!(format!(
            "acs:fc:{}:{}:functions/{}",
            plan.region, plan.account_id, f.plan.name
        ));
    }
    v
}
