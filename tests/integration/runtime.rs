//! The runtime in-process: isolation between invocations, throttling, the module cache.

use std::sync::Arc;
use std::time::Duration;

use fcemu::manifest;
use fcemu::runtime::{
    CacheOutcome, Invocation, InvocationStatus, InvokeError, ModuleCache, Runtime, RuntimeOptions,
    WhenBusy,
};
use fcemu_core::{Clock, IdGen};

use crate::support::*;

fn runtime(cache: ModuleCache, scratch: &std::path::Path) -> Runtime {
    Runtime::new(RuntimeOptions {
        cache,
        clock: Clock::system(),
        ids: IdGen::sequential(),
        deterministic: false,
        scratch_dir: scratch.to_path_buf(),
        extra_env: Vec::new(),
        own_endpoints: Vec::new(),
        instance_idle: fcemu::runtime::DEFAULT_INSTANCE_IDLE,
    })
    .unwrap()
}

fn plan(toml: &str) -> (tempfile::TempDir, Arc<manifest::AppPlan>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fcemu.toml");
    std::fs::write(&path, toml).unwrap();
    let plan = manifest::load(&path).unwrap();
    (dir, Arc::new(plan))
}

fn inv(id: &str, event: &[u8]) -> Invocation {
    Invocation {
        request_id: id.into(),
        event: bytes::Bytes::copy_from_slice(event),
        qualifier: "LATEST".into(),
        depth: 0,
        caused_by: None,
        retry: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_function_does_not_block_others_and_a_busy_one_throttles() {
    let toml = function_toml("spin", "spin", Target::P1, "timeout = 2\nconcurrency = 1\n")
        + &function_toml("echo", "echo", Target::P2, "");
    let (dir, plan) = plan(&toml);
    let rt = Arc::new(runtime(ModuleCache::disabled(), dir.path()));
    let spin = Arc::new(rt.load(&plan, &plan.functions["spin"]).unwrap());
    let echo = rt.load(&plan, &plan.functions["echo"]).unwrap();

    let (rt2, spin2) = (rt.clone(), spin.clone());
    let looping = tokio::spawn(async move {
        rt2.invoke(&spin2, inv("loop", b""), WhenBusy::Throttle)
            .await
    });
    while spin.busy() == 0 {
        tokio::task::yield_now().await;
    }
    let err = rt
        .invoke(&spin, inv("second", b""), WhenBusy::Throttle)
        .await
        .unwrap_err();
    assert!(
        matches!(err, InvokeError::Throttled { concurrency: 1, .. }),
        "{err}"
    );

    for i in 0..20 {
        let out = rt
            .invoke(&echo, inv(&format!("e{i}"), b"ping"), WhenBusy::Throttle)
            .await
            .unwrap();
        assert_eq!(out.status, InvocationStatus::Success);
        assert_eq!(&out.body[..], b"ping");
    }
    assert!(
        !looping.is_finished(),
        "echo completed while the loop still ran"
    );
    let out = looping.await.unwrap().unwrap();
    assert_eq!(out.status, InvocationStatus::UnhandledError);
    let after = rt
        .invoke(&spin, inv("third", b""), WhenBusy::Throttle)
        .await;
    assert!(after.is_ok(), "the slot is free again after the timeout");
}

#[tokio::test]
async fn compiled_code_is_cached_by_content_hash() {
    let toml = function_toml("echo", "echo", Target::P1, "")
        + &function_toml("echo2", "echo", Target::P2, "");
    let (dir, plan) = plan(&toml);
    let cache_dir = dir.path().join("cache");
    let first = runtime(ModuleCache::at(&cache_dir), dir.path());
    for name in ["echo", "echo2"] {
        assert_eq!(
            first.load(&plan, &plan.functions[name]).unwrap().cache,
            CacheOutcome::Compiled
        );
    }
    drop(first);
    let second = runtime(ModuleCache::at(&cache_dir), dir.path());
    for name in ["echo", "echo2"] {
        let f = second.load(&plan, &plan.functions[name]).unwrap();
        assert_eq!(
            f.cache,
            CacheOutcome::Hit,
            "{name} loads from the cache after a restart"
        );
        let out = second
            .invoke(&f, inv("c", b"cached"), WhenBusy::Wait)
            .await
            .unwrap();
        assert_eq!(&out.body[..], b"cached");
    }
}

#[tokio::test]
async fn tmp_survives_between_invocations_of_one_instance() {
    let toml = function_toml("files", "files", Target::P1, "concurrency = 1\n");
    let (dir, plan) = plan(&toml);
    let rt = runtime(ModuleCache::disabled(), dir.path());
    let f = rt.load(&plan, &plan.functions["files"]).unwrap();
    let a = rt.invoke(&f, inv("a", b""), WhenBusy::Wait).await.unwrap();
    let b = rt.invoke(&f, inv("b", b""), WhenBusy::Wait).await.unwrap();
    assert_eq!(a.instance_id, b.instance_id, "one instance served both");
    assert_eq!(a.status, InvocationStatus::Success);
    assert!(Duration::ZERO < b.duration);
}

#[test]
fn a_file_that_is_not_wasm_is_refused_at_load() {
    let (dir, _) = plan("");
    let bogus = dir.path().join("bogus.wasm");
    std::fs::write(&bogus, b"definitely not wasm").unwrap();
    let (dir2, plan) = plan(&format!(
        "[functions.b]\ncode = {:?}\n",
        bogus.display().to_string()
    ));
    let rt = runtime(ModuleCache::disabled(), dir2.path());
    let err = match rt.load(&plan, &plan.functions["b"]) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("loaded a non-wasm file"),
    };
    assert!(
        err.contains("is not a WebAssembly module or component"),
        "{err}"
    );
}
