//! Helpers shared by the black-box tests: guest fixtures, running the binary, a server on port 0.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The WASI flavour a fixture is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A core module.
    P1,
    /// A component.
    P2,
}

impl Target {
    pub fn triple(self) -> &'static str {
        match self {
            Target::P1 => "wasm32-wasip1",
            Target::P2 => "wasm32-wasip2",
        }
    }
}

/// Path of a guest fixture, building the fixtures once per test run (cargo makes this a no-op
/// when they are up to date).
pub fn fixture(name: &str, target: Target) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new("bash")
            .arg(repo_root().join("scripts/build-fixtures"))
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .stdout(Stdio::null())
            .status()
            .expect("run scripts/build-fixtures");
        assert!(status.success(), "scripts/build-fixtures failed");
    });
    repo_root()
        .join("fixtures/target")
        .join(target.triple())
        .join("release")
        .join(format!("{name}.wasm"))
}

/// The fcemu binary under test.
pub fn fcemu() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fcemu"));
    cmd.env_remove("FCEMU_MANIFEST").env("NO_COLOR", "1");
    cmd
}

/// A directory holding an fcemu.toml; removed when dropped.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    /// A project whose manifest is `manifest`.
    pub fn new(manifest: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("fcemu.toml"), manifest).unwrap();
        Project { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `fcemu <args>` run in the project directory.
    pub fn fcemu(&self, args: &[&str]) -> Command {
        let mut cmd = fcemu();
        cmd.current_dir(self.path()).args(args);
        cmd
    }

    /// Runs `fcemu invoke <function>` with `event` on stdin.
    pub fn invoke(&self, function: &str, event: &[u8], extra: &[&str]) -> Output {
        let mut args = vec!["invoke", function, "--event", "-"];
        args.extend_from_slice(extra);
        run_with_stdin(self.fcemu(&args), event)
    }
}

/// Runs `cmd` with `input` on stdin and collects its output.
pub fn run_with_stdin(mut cmd: Command, input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn fcemu");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// A manifest line pair declaring `name` with the given fixture.
pub fn function_toml(name: &str, fixture_name: &str, target: Target, extra: &str) -> String {
    format!(
        "[functions.{name}]\ncode = {:?}\n{extra}\n",
        fixture(fixture_name, target).display().to_string()
    )
}

/// A running `fcemu up` on port 0; killed when dropped.
pub struct Server {
    pub child: Child,
    pub services: String,
    /// The gateway's base URL.
    pub gateway: String,
    /// Everything the server printed to stderr so far.
    pub log: Log,
    /// Kept open so the server never writes to a closed pipe.
    _stdout: BufReader<std::process::ChildStdout>,
}

/// A process's stderr, collected line by line by a background thread (and echoed to the test's
/// own output), that tests can wait on.
#[derive(Clone, Default)]
pub struct Log {
    inner: Arc<(Mutex<String>, Condvar)>,
}

impl Log {
    fn collect(pipe: impl std::io::Read + Send + 'static) -> Log {
        let log = Log::default();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                eprintln!("{line}");
                let (text, changed) = &*sink.inner;
                let mut text = text.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
                changed.notify_all();
            }
        });
        log
    }

    /// The text so far.
    pub fn text(&self) -> String {
        self.inner.0.lock().unwrap().clone()
    }

    /// Waits until the text satisfies `done`, at most `timeout`; returns the text.
    pub fn wait_for(&self, timeout: Duration, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        let (text, changed) = &*self.inner;
        let mut text = text.lock().unwrap();
        while !done(&text) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting on the server's log:\n{text}"
            );
            text = changed.wait_timeout(text, left).unwrap().0;
        }
        text.clone()
    }

    /// Waits until the text contains `needle`; returns the text.
    pub fn wait_for_text(&self, timeout: Duration, needle: &str) -> String {
        self.wait_for(timeout, |t| t.contains(needle))
    }
}

/// What `POST /_fcemu/functions/{name}/invoke` answered.
#[derive(Debug)]
pub struct Invoked {
    pub status: u16,
    pub request_id: Option<String>,
    pub error_type: Option<String>,
    pub body: String,
}

/// Calls `f` until it returns `Some`, at most `timeout`, pausing briefly between calls.
///
/// Used where the observable event *is* a response changing (hot reload: "poll the gateway until
/// the response changes"); there is no notification to wait on, and the 5 ms pause only keeps the
/// loop from spinning. Everything else waits on `POST /_fcemu/idle` or on a log line.
pub fn poll_until<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "condition not met within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

impl Server {
    /// Starts `fcemu up --listen 127.0.0.1:0 --in-memory <extra>` in `project` and waits for the
    /// ready line.
    pub fn start(project: &Project, extra: &[&str]) -> Server {
        Server::start_with_env(project, extra, &[])
    }

    /// Like [`Server::start`], with extra environment variables.
    pub fn start_with_env(project: &Project, extra: &[&str], env: &[(&str, &Path)]) -> Server {
        let mut args = vec!["up", "--listen", "127.0.0.1:0", "--in-memory"];
        args.extend_from_slice(extra);
        let mut child = project
            .fcemu(&args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn fcemu up");
        let log = Log::collect(child.stderr.take().unwrap());
        let stdout = BufReader::new(child.stdout.take().unwrap());
        // Owned by the server from here on, so a failed start still kills and reaps the child.
        let mut server = Server {
            child,
            services: String::new(),
            gateway: String::new(),
            log,
            _stdout: stdout,
        };
        let mut line = String::new();
        loop {
            line.clear();
            let n = server._stdout.read_line(&mut line).unwrap();
            assert!(
                n > 0,
                "fcemu up exited before it was ready:\n{}",
                server.log.text()
            );
            if let Some(rest) = line.trim().strip_prefix("fcemu: ready ") {
                server.services = rest
                    .split_whitespace()
                    .find_map(|kv| kv.strip_prefix("services="))
                    .expect("ready line names the services address")
                    .to_string();
                server.gateway = rest
                    .split_whitespace()
                    .find_map(|kv| kv.strip_prefix("gateway="))
                    .unwrap_or_default()
                    .to_string();
                return server;
            }
        }
    }

    /// `GET {services}{path}`.
    pub fn get(&self, path: &str) -> reqwest::blocking::Response {
        reqwest::blocking::get(format!("{}{path}", self.services)).unwrap()
    }

    /// Waits until nothing is in flight (`POST /_fcemu/idle`).
    pub fn idle(&self) {
        let r = reqwest::blocking::Client::new()
            .post(format!("{}/_fcemu/idle?timeout=30", self.services))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "idle");
    }

    /// Invokes `function` through the admin API with `event` as its event.
    pub fn invoke(&self, function: &str, event: &str) -> Invoked {
        invoke_at(&self.services, function, event)
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `POST {services}/_fcemu/functions/{function}/invoke` with `event` as the body.
pub fn invoke_at(services: &str, function: &str, event: &str) -> Invoked {
    let resp = reqwest::blocking::Client::new()
        .post(format!("{services}/_fcemu/functions/{function}/invoke"))
        .body(event.to_string())
        .send()
        .unwrap();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let request_id = header("x-fc-request-id");
    let error_type = header("x-fc-error-type");
    let status = resp.status().as_u16();
    Invoked {
        status,
        request_id,
        error_type,
        body: resp.text().unwrap(),
    }
}

/// The output's stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The output's stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
