//! fcemu's benchmark: prints a table of invocation throughput and latency, compile and cached
//! load times, `fcemu up` time to ready, idle RSS, and hot-reload latency (a wasm file's write
//! to the first response from the new code; a manifest edit to its first effect). Run it
//! through `scripts/bench`.
//!
//! Usage: bench <fixtures-dir> <fcemu-binary> [reload]   (`reload`: only the hot-reload rows)

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fcemu::manifest;
use fcemu::runtime::{Invocation, ModuleCache, Runtime, RuntimeOptions, WhenBusy};
use fcemu_core::{Clock, IdGen};

/// The same allocator as the `fcemu` binary, so in-process figures match it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const INVOCATIONS: usize = 20_000;
const STARTS: usize = 10;
const CODE_EDITS: usize = 20;
const MANIFEST_EDITS: usize = 10;

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
    if args.get(3).map(String::as_str) == Some("reload") {
        return reload_bench(&binary, &fixtures, work.path());
    }
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
    native_benches(&fixtures, work.path())?;
    startup_bench(&binary, &fixtures, work.path())?;
    reload_bench(&binary, &fixtures, work.path())?;
    trigger_bench(&binary, &fixtures, work.path())?;
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
        instance_idle: fcemu::runtime::DEFAULT_INSTANCE_IDLE,
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
                depth: 0,
                caused_by: None,
                retry: 0,
            };
            rt.invoke(&f, inv, WhenBusy::Wait).await.expect("invoke");
        }
        let start = Instant::now();
        for i in 0..INVOCATIONS {
            let inv = Invocation {
                request_id: format!("r{i}"),
                event: event.clone(),
                qualifier: "LATEST".into(),
                depth: 0,
                caused_by: None,
                retry: 0,
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

/// Warm invocations of the native fixtures (Node.js, Python, a custom runtime), one at a time on
/// one warm instance, and the first call of a new instance (process start included).
fn native_benches(fixtures: &Path, work: &Path) -> anyhow::Result<()> {
    let native = fixtures
        .parent()
        .map(|f| f.join("native"))
        .unwrap_or_default();
    let cases = [
        (
            "Node.js (nodejs20)",
            "runtime = \"nodejs20\"\nhandler = \"index.handler\"",
            "node",
        ),
        (
            "Python (python3)",
            "runtime = \"python3\"\nhandler = \"main.handler\"",
            "python",
        ),
        (
            "custom runtime (python3 http.server)",
            "runtime = \"custom\"\ncommand = [\"python3\", \"server.py\"]",
            "custom",
        ),
    ];
    for (label, keys, dir) in cases {
        let code = native.join(dir);
        let project = work.join(format!("native-{dir}"));
        std::fs::create_dir_all(&project)?;
        let path = project.join("fcemu.toml");
        std::fs::write(
            &path,
            format!(
                "[functions.f]\n{keys}\ncode = {:?}\nconcurrency = 1\n",
                code.display().to_string()
            ),
        )?;
        let plan = Arc::new(manifest::load(&path)?);
        let rt = runtime(ModuleCache::disabled(), &project)?;
        let f = rt.load(&plan, &plan.functions["f"])?;
        let tokio = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let n = 2_000;
        let (cold, total, lat) = tokio.block_on(async {
            let call = |i: usize| Invocation {
                request_id: format!("n{i}"),
                event: bytes::Bytes::from_static(b"{}"),
                qualifier: "LATEST".into(),
                depth: 0,
                caused_by: None,
                retry: 0,
            };
            let t = Instant::now();
            let first = rt
                .invoke(&f, call(0), WhenBusy::Wait)
                .await
                .expect("invoke");
            assert!(first.failure.is_none(), "{:?}", first.body);
            let cold = t.elapsed();
            for i in 0..200 {
                rt.invoke(&f, call(i), WhenBusy::Wait)
                    .await
                    .expect("invoke");
            }
            let mut lat = Vec::with_capacity(n);
            let start = Instant::now();
            for i in 0..n {
                let t = Instant::now();
                let out = rt
                    .invoke(&f, call(i), WhenBusy::Wait)
                    .await
                    .expect("invoke");
                assert!(out.failure.is_none());
                lat.push(t.elapsed());
            }
            (cold, start.elapsed(), lat)
        });
        let rss: u64 = f.native().map(|n| n.idle_rss().iter().sum()).unwrap_or(0);
        let mut lat = lat;
        lat.sort();
        println!(
            "| warm invocations/s, {label}, 1 instance, one call at a time | {:.0} /s (p50 {:.2} ms, p99 {:.2} ms); first call of a new instance {:.0} ms; idle RSS of the warm instance {:.1} MB |",
            n as f64 / total.as_secs_f64(),
            percentile(&lat, 0.5).as_secs_f64() * 1e3,
            percentile(&lat, 0.99).as_secs_f64() * 1e3,
            cold.as_secs_f64() * 1e3,
            rss as f64 / (1024.0 * 1024.0),
        );
    }
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

/// A running `fcemu up` whose stderr is collected.
struct Up {
    child: std::process::Child,
    services: String,
    log: Arc<std::sync::Mutex<Vec<String>>>,
    /// Kept open so the server never writes to a closed pipe.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Up {
    fn start(binary: &Path, dir: &Path) -> anyhow::Result<Up> {
        let mut child = Command::new(binary)
            .current_dir(dir)
            .env("FCEMU_CACHE_DIR", dir.join("cache"))
            .env("NO_COLOR", "1")
            .args(["up", "--listen", "127.0.0.1:0", "--in-memory"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.starts_with("fcemu: ") {
                    sink.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                }
            }
        });
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        while out.read_line(&mut line)? > 0 && !line.contains("fcemu: ready") {
            line.clear();
        }
        let services = line
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix("services="))
            .ok_or_else(|| anyhow::anyhow!("fcemu up did not print its ready line"))?
            .to_string();
        Ok(Up {
            child,
            services,
            log,
            _stdout: out,
        })
    }

    /// Waits until every function runs optimized code.
    fn wait_optimized(&self, client: &reqwest::blocking::Client) -> anyhow::Result<()> {
        let since = Instant::now();
        loop {
            let list: serde_json::Value = client
                .get(format!("{}/_fcemu/functions", self.services))
                .send()?
                .json()?;
            let baseline = list["functions"]
                .as_array()
                .is_some_and(|fs| fs.iter().any(|f| f["tier"] == "baseline"));
            if !baseline {
                return Ok(());
            }
            if since.elapsed() > Duration::from_secs(30) {
                anyhow::bail!("still running baseline code after 30 s");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Invokes `function` until `accept` takes its answer; returns the time taken.
    fn wait_until(
        &self,
        client: &reqwest::blocking::Client,
        function: &str,
        since: Instant,
        accept: impl Fn(u16, &str) -> bool,
    ) -> anyhow::Result<Duration> {
        let url = format!("{}/_fcemu/functions/{function}/invoke", self.services);
        loop {
            let resp = client.post(&url).body("bench").send()?;
            let status = resp.status().as_u16();
            if accept(status, &resp.text()?) {
                return Ok(since.elapsed());
            }
            if since.elapsed() > Duration::from_secs(30) {
                anyhow::bail!(
                    "{function}: no change after 30 s; log: {:?}",
                    self.log.lock().unwrap_or_else(|e| e.into_inner())
                );
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Hot reload: each edit writes a new version of a ~300 KB module (a rewritten version marker,
/// so every edit is new code that must be compiled) and times the write to the first response
/// from the new code; then manifest edits that add a function, timed to its first response.
fn reload_bench(binary: &Path, fixtures: &Path, work: &Path) -> anyhow::Result<()> {
    let dir = work.join("reload");
    std::fs::create_dir_all(&dir)?;
    let base = std::fs::read(fixtures.join("wasm32-wasip1/release/big.wasm"))?;
    let marker = b"fcemu-big-version:";
    let at = base
        .windows(marker.len())
        .position(|w| w == marker)
        .ok_or_else(|| anyhow::anyhow!("big.wasm has no version marker"))?
        + marker.len();
    let version = |i: usize| {
        let mut b = base.clone();
        b[at..at + 10].copy_from_slice(format!("{i:010}").as_bytes());
        b
    };
    let wasm = dir.join("big.wasm");
    std::fs::write(&wasm, version(0))?;
    let manifest = dir.join("fcemu.toml");
    let mut toml = String::from("[functions.big]\ncode = \"big.wasm\"\n");
    std::fs::write(&manifest, &toml)?;
    let up = Up::start(binary, &dir)?;
    let client = reqwest::blocking::Client::new();
    up.wait_until(&client, "big", Instant::now(), |s, b| {
        s == 200 && b.starts_with("fcemu-big-version:0000000000")
    })?;

    let mut live = Vec::new();
    for i in 1..=CODE_EDITS {
        let bytes = version(i);
        let want = format!("fcemu-big-version:{i:010}");
        let t = Instant::now();
        std::fs::write(&wasm, &bytes)?;
        live.push(up.wait_until(&client, "big", t, |s, b| s == 200 && b.starts_with(&want))?);
        // Edits come seconds apart in a dev loop: let the background optimization finish
        // before the next one, as it would.
        up.wait_optimized(&client)?;
    }
    let mut compile: Vec<Duration> = up
        .log
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|l| l.starts_with("fcemu: reloaded big"))
        .filter_map(|l| {
            let ms = l.split("compile ").nth(1)?.split(" ms").next()?;
            ms.parse::<u64>().ok().map(Duration::from_millis)
        })
        .collect();
    live.sort();
    compile.sort();
    let hello = fixtures.join("wasm32-wasip1/release/hello.wasm");
    let mut applied = Vec::new();
    for i in 0..MANIFEST_EDITS {
        toml += &format!(
            "[functions.g{i}]\ncode = {:?}\n",
            hello.display().to_string()
        );
        let t = Instant::now();
        std::fs::write(&manifest, &toml)?;
        applied.push(up.wait_until(&client, &format!("g{i}"), t, |s, _| s == 200)?);
    }
    applied.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "| hot reload: wasm write to first response from new code, {} KB module, {CODE_EDITS} edits | p50 {:.1} ms, p99 {:.1} ms (compile p50 {:.0} ms) |",
        base.len() / 1024,
        ms(percentile(&live, 0.5)),
        ms(percentile(&live, 0.99)),
        compile.get(compile.len() / 2).map_or(f64::NAN, |d| ms(*d)),
    );
    println!(
        "| hot reload: manifest edit (add a function) to its first response, {MANIFEST_EDITS} edits | p50 {:.1} ms, p99 {:.1} ms |",
        ms(percentile(&applied, 0.5)),
        ms(percentile(&applied, 0.99)),
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

/// Starts `fcemu up` in `dir` and returns the child and its services URL.
fn start_up(
    binary: &Path,
    dir: &Path,
    extra: &[&str],
) -> anyhow::Result<(std::process::Child, String)> {
    let mut child = Command::new(binary)
        .current_dir(dir)
        .args(["up", "--listen", "127.0.0.1:0", "--no-watch"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    while out.read_line(&mut line)? > 0 {
        if let Some(s) = line
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix("services="))
        {
            let services = s.to_string();
            std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
            return Ok((child, services));
        }
        line.clear();
    }
    anyhow::bail!("fcemu up did not start")
}

/// OSS trigger: latency from the PUT's response to the function's start, and sustained
/// throughput (objects uploaded by 16 clients -> invocations, nothing lost). Durable store.
fn trigger_bench(binary: &Path, fixtures: &Path, work: &Path) -> anyhow::Result<()> {
    const SEQUENTIAL: usize = 300;
    const CONCURRENT: usize = 2000;
    let dir = work.join("trigger");
    std::fs::create_dir_all(&dir)?;
    let echo = fixtures.join("wasm32-wasip1/release/echo.wasm");
    std::fs::write(
        dir.join("fcemu.toml"),
        format!(
            "[functions.sink]\ncode = {:?}\n[[functions.sink.triggers]]\ntype = \"oss\"\nbucket = \"uploads\"\n",
            echo.display().to_string()
        ),
    )?;
    let (mut child, services) = start_up(
        binary,
        &dir,
        &["--data-dir", dir.join("state").to_str().unwrap_or(".")],
    )?;
    let client = reqwest::blocking::Client::new();
    let idle = |client: &reqwest::blocking::Client| -> anyhow::Result<()> {
        client
            .post(format!("{services}/_fcemu/idle?timeout=120"))
            .send()?
            .error_for_status()?;
        Ok(())
    };
    let mut acked = std::collections::HashMap::new();
    for i in 0..SEQUENTIAL {
        let key = format!("seq/{i}");
        client
            .put(format!("{services}/uploads/{key}"))
            .body("x".repeat(1024))
            .send()?
            .error_for_status()?;
        acked.insert(key, time::OffsetDateTime::now_utc());
        idle(&client)?;
    }
    let records: serde_json::Value = client
        .get(format!("{services}/_fcemu/invocations?limit=100000"))
        .send()?
        .json()?;
    let mut lat = Vec::new();
    for r in records["invocations"].as_array().into_iter().flatten() {
        let event: serde_json::Value = serde_json::from_str(r["event"].as_str().unwrap_or("{}"))?;
        let key = event["events"][0]["oss"]["object"]["key"]
            .as_str()
            .unwrap_or("");
        let started = time::OffsetDateTime::parse(
            r["startedAt"].as_str().unwrap_or(""),
            &time::format_description::well_known::Rfc3339,
        )?;
        if let Some(at) = acked.get(key) {
            lat.push(Duration::try_from(started - *at).unwrap_or(Duration::ZERO));
        }
    }
    lat.sort();
    println!(
        "| OSS trigger latency, PUT response -> function start ({} uploads) | p50 {:.2} ms, p99 {:.2} ms |",
        lat.len(),
        percentile(&lat, 0.5).as_secs_f64() * 1000.0,
        percentile(&lat, 0.99).as_secs_f64() * 1000.0
    );
    client
        .delete(format!("{services}/_fcemu/invocations"))
        .send()?;
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..16 {
            let client = client.clone();
            let services = services.clone();
            s.spawn(move || {
                for i in (t..CONCURRENT).step_by(16) {
                    let _ = client
                        .put(format!("{services}/uploads/par/{i}"))
                        .body("x".repeat(1024))
                        .send();
                }
            });
        }
    });
    idle(&client)?;
    let elapsed = start.elapsed();
    let records: serde_json::Value = client
        .get(format!("{services}/_fcemu/invocations?limit=100000"))
        .send()?
        .json()?;
    let n = records["invocations"].as_array().map_or(0, |a| a.len());
    println!(
        "| OSS trigger throughput, {CONCURRENT} uploads from 16 clients (durable) | {:.0} invocations/s; {n} of {CONCURRENT} invoked |",
        n as f64 / elapsed.as_secs_f64()
    );
    child.kill()?;
    child.wait()?;
    Ok(())
}
