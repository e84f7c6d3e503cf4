//! What a function instance sees of the world: stdin/stdout/stderr, environment, `/tmp` and
//! `/code`, and (in deterministic runs) the emulator's clock and a seeded random source.

use std::time::Duration;

use bytes::Bytes;
use fcemu_core::Clock;
use serde_json::json;
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
use wasmtime_wasi::{FsPerms, HostWallClock, WasiCtxBuilder};

use crate::manifest::{AppPlan, FunctionPlan};

use super::slots::Slot;

/// Most bytes a function may return (FC's sync response ceiling).
pub const STDOUT_LIMIT: usize = 32 << 20;
/// Most log bytes kept per invocation.
pub const STDERR_LIMIT: usize = 4 << 20;

/// Credentials handed to every function (the emulator accepts any).
pub const ACCESS_KEY_ID: &str = "STS.fcemu-local-access-key";
/// Secret paired with [`ACCESS_KEY_ID`].
pub const ACCESS_KEY_SECRET: &str = "fcemu-local-access-key-secret";
/// Security token handed to every function.
pub const SECURITY_TOKEN: &str = fcemu_core::cause::SECURITY_TOKEN;

/// The environment variables of a function that do not change between invocations.
pub fn base_env(
    app: &AppPlan,
    f: &FunctionPlan,
    extra: &[(String, String)],
) -> Vec<(String, String)> {
    let svc = app.services.get(&f.service).cloned().unwrap_or_default();
    let mut env: Vec<(String, String)> = vec![
        ("FC_FUNCTION_NAME".into(), f.name.clone()),
        ("FC_SERVICE_NAME".into(), f.service.clone()),
        ("FC_FUNCTION_HANDLER".into(), f.handler.clone()),
        ("FC_FUNCTION_MEMORY_SIZE".into(), f.memory_mb.to_string()),
        (
            "FC_FUNCTION_TIMEOUT".into(),
            f.timeout.as_secs().to_string(),
        ),
        ("FC_REGION".into(), app.region.clone()),
        ("FC_ACCOUNT_ID".into(), app.account_id.clone()),
        ("FC_QUALIFIER".into(), "LATEST".into()),
        ("FC_FUNC_CODE_PATH".into(), "/code/".into()),
        ("FC_SERVICE_LOG_PROJECT".into(), svc.log_project),
        ("FC_SERVICE_LOG_STORE".into(), svc.log_store),
        ("ALIBABA_CLOUD_ACCESS_KEY_ID".into(), ACCESS_KEY_ID.into()),
        (
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET".into(),
            ACCESS_KEY_SECRET.into(),
        ),
        ("ALIBABA_CLOUD_SECURITY_TOKEN".into(), SECURITY_TOKEN.into()),
    ];
    env.extend(extra.iter().cloned());
    env.extend(f.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    env
}

/// FC's context object, as handed to built-in runtimes, serialized for `FC_CONTEXT`.
pub fn context_json(app: &AppPlan, f: &FunctionPlan, request_id: &str, qualifier: &str) -> String {
    let svc = app.services.get(&f.service).cloned().unwrap_or_default();
    json!({
        "requestId": request_id,
        "credentials": {
            "accessKeyId": ACCESS_KEY_ID,
            "accessKeySecret": ACCESS_KEY_SECRET,
            "securityToken": SECURITY_TOKEN,
        },
        "function": {
            "name": f.name,
            "handler": f.handler,
            "memory": f.memory_mb,
            "timeout": f.timeout.as_secs(),
        },
        "service": {
            "name": f.service,
            "logProject": svc.log_project,
            "logStore": svc.log_store,
            "qualifier": qualifier,
            "versionId": "",
        },
        "region": app.region,
        "accountId": app.account_id,
    })
    .to_string()
}

/// The pipes of one invocation.
pub struct Stdio {
    /// Captures the result.
    pub stdout: MemoryOutputPipe,
    /// Captures the logs.
    pub stderr: MemoryOutputPipe,
}

/// Builds the WASI context of one invocation.
pub fn builder(
    f: &FunctionPlan,
    env: &[(String, String)],
    per_call: &[(&str, &str)],
    slot: &Slot,
    event: Bytes,
    clock: &Clock,
    deterministic: bool,
) -> wasmtime::Result<(WasiCtxBuilder, Stdio)> {
    let stdio = Stdio {
        stdout: MemoryOutputPipe::new(STDOUT_LIMIT),
        stderr: MemoryOutputPipe::new(STDERR_LIMIT),
    };
    let mut b = WasiCtxBuilder::new();
    b.stdin(MemoryInputPipe::new(event))
        .stdout(stdio.stdout.clone())
        .stderr(stdio.stderr.clone())
        .arg(&f.name)
        .envs(env)
        .envs(per_call)
        .preopened_dir(&slot.tmp, "/tmp", FsPerms::ReadWrite)?
        .preopened_dir(&f.code_dir, "/code", FsPerms::ReadOnly)?;
    if clock.is_virtual() {
        b.wall_clock(EmulatorClock(clock.clone()));
    }
    if deterministic {
        use rand::SeedableRng;
        b.secure_random(rand::rngs::StdRng::seed_from_u64(0x0066_6365_6d75))
            .insecure_random(rand::rngs::StdRng::seed_from_u64(0x0066_6365_6d76))
            .insecure_random_seed(0x0066_6365_6d75);
    }
    Ok((b, stdio))
}

/// The emulator's clock as a WASI wall clock, so guests see virtual time in deterministic runs.
struct EmulatorClock(Clock);

impl HostWallClock for EmulatorClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }

    fn now(&self) -> Duration {
        let nanos = self.0.now().unix_timestamp_nanos().max(0) as u128;
        Duration::from_nanos(nanos as u64)
    }
}
