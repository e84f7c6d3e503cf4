//! fcemu's benchmark: prints a table of invocation throughput and latency, compile and cached
//! load times, `fcemu up` time to ready, and idle RSS. Run it through `scripts/bench`.
//!
//! Usage: bench <fixtures-dir> <fcemu-binary>

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fcemu::manifest;
use fcemu::runtime::{Invocation, ModuleCache, Runtime, RuntimeOptions, WhenBusy};
use fcemu_core::{Clock, IdGen};

const INVOCATIONS: usize = 20_000;
const STARTS: usize = 10;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("hello-server") {
        return hello_server();
    }
    let fixtures =
        std::fs::canonicalize(args.get(1).map(String::as_str).unwrap_or("fixtures/target"))?;
    let binary = std::fs::canonicalize(
        args.get(2)
            .map(String::as_str)
            .unwrap_or("target/release/fcemu"),
    )?;
    let work = tempfile::tempdir()?;
    println!("| benchmark | figure |");
    println!("|---|---|");
    for (label, triple) in [
        ("wasip1 module", "wasm32-wasip1"),
        ("wasip2 component", "wasm32-wasip2"),
    ] {
        let wasm = fixtures.join(triple).join("release/hello.wasm");
        invocation_bench(label, &wasm, work.path())?;
    }
    for (label, triple) in [
        ("wasip1 module", "wasm32-wasip1"),
        ("wasip2 component", "wasm32-wasip2"),
    ] {
        let wasm = fixtures.join(triple).join("release/echo.wasm");
        compile_bench(label, &wasm, work.path())?;
    }
    startup_bench(&binary, &fixtures, work.path())?;
    Ok(())
}

fn project(dir: &Path, functions: &[(&str, &Path)]) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let mut toml = String::new();
    for (name, wasm) in functions {
        toml += &format!(
            "[functions.{name}]\ncode = {:?}\nconcurrency = 1\n",
            wasm.display().to_string()
        );
    }
    let path = dir.join("fcemu.toml");
    std::fs::write(&path, toml)?;
    Ok(path)
}

fn runtime(cache: ModuleCache, scratch: &Path) -> anyhow::Result<Runtime> {
    Runtime::new(RuntimeOptions {
        cache,
        clock: Clock::system(),
        ids: IdGen::sequential(),
        deterministic: false,
        scratch_dir: scratch.to_path_buf(),
        extra_env: Vec::new(),
        own_endpoints: Vec::new(),
    })
    .map_err(|e| anyhow::anyhow!("{e:#}"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Fresh instance per call, one thread, as DESIGN §4 runs functions.
fn invocation_bench(label: &str, wasm: &Path, work: &Path) -> anyhow::Result<()> {
    let dir = work.join(format!("inv-{}", label.replace(' ', "-")));
    let plan = Arc::new(manifest::load(&project(&dir, &[("hello", wasm)])?)?);
    let rt = runtime(ModuleCache::disabled(), &dir)?;
    let f = rt.load(&plan, &plan.functions["hello"])?;
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut lat = Vec::with_capacity(INVOCATIONS);
    let total = tokio.block_on(async {
        let event = bytes::Bytes::from_static(b"{}");
        for i in 0..2_000 {
            let inv = Invocation {
                request_id: format!("w{i}"),
                event: event.clone(),
                qualifier: "LATEST".into(),
            };
            rt.invoke(&f, inv, WhenBusy::Wait).await.expect("invoke");
        }
        let start = Instant::now();
        for i in 0..INVOCATIONS {
            let inv = Invocation {
                request_id: format!("r{i}"),
                event: event.clone(),
                qualifier: "LATEST".into(),
            };
            let t = Instant::now();
            let out = rt.invoke(&f, inv, WhenBusy::Wait).await.expect("invoke");
            lat.push(t.elapsed());
            assert_eq!(&out.body[..], b"hello");
        }
        start.elapsed()
    });
    lat.sort();
    println!(
        "| invocations/s, trivial {label}, 1 thread, fresh instance per call | {:.0} /s (p50 {:.1} µs, p99 {:.1} µs) |",
        INVOCATIONS as f64 / total.as_secs_f64(),
        percentile(&lat, 0.5).as_secs_f64() * 1e6,
        percentile(&lat, 0.99).as_secs_f64() * 1e6
    );
    Ok(())
}

fn compile_bench(label: &str, wasm: &Path, work: &Path) -> anyhow::Result<()> {
    let dir = work.join(format!("compile-{}", label.replace(' ', "-")));
    let plan = Arc::new(manifest::load(&project(&dir, &[("echo", wasm)])?)?);
    let cache_dir = dir.join("cache");
    let size_kb = std::fs::metadata(wasm)?.len() / 1024;
    let first = {
        let rt = runtime(ModuleCache::at(&cache_dir), &dir)?;
        let t = Instant::now();
        rt.load(&plan, &plan.functions["echo"])?;
        t.elapsed()
    };
    let rt = runtime(ModuleCache::at(&cache_dir), &dir)?;
    let t = Instant::now();
    rt.load(&plan, &plan.functions["echo"])?;
    let cached = t.elapsed();
    println!(
        "| first compile, {label} ({size_kb} KB) | {:.1} ms |",
        first.as_secs_f64() * 1000.0
    );
    println!(
        "| cached load, {label} ({size_kb} KB) | {:.2} ms |",
        cached.as_secs_f64() * 1000.0
    );
    Ok(())
}

/// `fcemu up` to its ready line with a warm cache, and resident memory once idle.
fn startup_bench(binary: &Path, fixtures: &Path, work: &Path) -> anyhow::Result<()> {
    let dir = work.join("startup");
    let names = ["echo", "hello", "envdump", "fail", "files"];
    let wasm: Vec<(String, PathBuf)> = names
        .iter()
        .flat_map(|n| {
            [("wasm32-wasip1", "p1"), ("wasm32-wasip2", "p2")].map(|(t, s)| {
                (
                    format!("{n}_{s}"),
                    fixtures.join(t).join(format!("release/{n}.wasm")),
                )
            })
        })
        .collect();
    let refs: Vec<(&str, &Path)> = wasm
        .iter()
        .map(|(n, p)| (n.as_str(), p.as_path()))
        .collect();
    project(&dir, &refs)?;
    let cache = dir.join("cache");
    let mut times = Vec::new();
    let mut rss_kb = 0;
    for i in 0..=STARTS {
        let start = Instant::now();
        let mut child = Command::new(binary)
            .current_dir(&dir)
            .env("FCEMU_CACHE_DIR", &cache)
            .args(["up", "--listen", "127.0.0.1:0", "--in-memory"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        while out.read_line(&mut line)? > 0 && !line.contains("fcemu: ready") {
            line.clear();
        }
        let ready = start.elapsed();
        if i > 0 {
            times.push(ready);
        }
        if i == STARTS {
            std::thread::sleep(Duration::from_millis(500));
            rss_kb = std::fs::read_to_string(format!("/proc/{}/status", child.id()))?
                .lines()
                .find_map(|l| {
                    l.strip_prefix("VmRSS:")
                        .map(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>())
                })
                .transpose()?
                .unwrap_or(0);
        }
        child.kill()?;
        child.wait()?;
    }
    times.sort();
    println!(
        "| `fcemu up` to ready, warm cache, {} functions | p50 {:.1} ms (min {:.1}, max {:.1}) |",
        wasm.len(),
        percentile(&times, 0.5).as_secs_f64() * 1000.0,
        times[0].as_secs_f64() * 1000.0,
        times[times.len() - 1].as_secs_f64() * 1000.0
    );
    println!(
        "| idle RSS after start, {} functions | {:.1} MB |",
        wasm.len(),
        rss_kb as f64 / 1024.0
    );
    Ok(())
}

/// A plain axum "hello" server on 127.0.0.1:0, the baseline the gateway is compared with.
fn hello_server() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("listening http://{}", listener.local_addr()?);
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
        axum::serve(listener, app).await?;
        Ok(())
    })
}
