//! One instance of a native function: a child process serving FC's custom-runtime protocol on
//! its own port, its output attributed to the request it is serving, and one persistent HTTP/1.1
//! connection to it.

use std::io::BufRead;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::sync::Notify;

/// Most log bytes kept per invocation (as for wasm functions).
const LOG_LIMIT: usize = super::super::wasi::STDERR_LIMIT;
/// Output kept from outside any invocation (startup errors), for the error message.
const STRAY_LIMIT: usize = 16 * 1024;

/// How to start an instance.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// The whole environment (nothing else is inherited).
    pub env: Vec<(String, String)>,
    /// Working directory: the code directory.
    pub cwd: PathBuf,
}

/// Output of an instance, split per request by the `FC ... End RequestId:` markers.
#[derive(Default)]
pub struct LogTap {
    state: Mutex<TapState>,
    ended: Notify,
}

#[derive(Default)]
struct TapState {
    lines: Vec<u8>,
    ended: bool,
    eof: bool,
    stray: Vec<u8>,
    capturing: bool,
}

impl LogTap {
    fn push_line(&self, line: &[u8]) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let text = String::from_utf8_lossy(line);
        let t = text.trim_end();
        if t.starts_with("FC ") && t.contains(" Start RequestId: ") {
            return;
        }
        if t.starts_with("FC ") && t.contains(" End RequestId: ") {
            s.ended = true;
            drop(s);
            self.ended.notify_one();
            return;
        }
        let buf = if s.capturing {
            &mut s.lines
        } else {
            &mut s.stray
        };
        if buf.len() + line.len() < LOG_LIMIT {
            buf.extend_from_slice(t.as_bytes());
            buf.push(b'\n');
        }
        if s.stray.len() > STRAY_LIMIT {
            let cut = s.stray.len() - STRAY_LIMIT;
            s.stray.drain(..cut);
        }
    }

    fn close(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).eof = true;
        self.ended.notify_one();
    }

    /// Starts attributing output to a new request.
    pub fn begin(&self) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.lines.clear();
        s.ended = false;
        s.capturing = true;
    }

    /// Waits (up to `grace`) for the end marker, then returns the request's output.
    pub async fn end(&self, grace: Duration) -> Bytes {
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            {
                let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
                if s.ended || s.eof {
                    break;
                }
            }
            if tokio::time::timeout_at(deadline, self.ended.notified())
                .await
                .is_err()
            {
                break;
            }
        }
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.capturing = false;
        Bytes::from(std::mem::take(&mut s.lines))
    }

    /// Output written outside any request (what a process printed before it failed to start).
    pub fn stray(&self) -> String {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&s.stray).trim().to_string()
    }
}

/// A running instance.
pub struct Instance {
    child: tokio::process::Child,
    /// Its output.
    pub logs: Arc<LogTap>,
    sender: SendRequest<CallBody>,
    /// Whether the initializer has run.
    pub initialized: bool,
    /// When it was last used.
    pub last_used: Instant,
    /// The key of its environment's security token ([`fcemu_core::cause::instance_token`]).
    pub cause_key: String,
}

/// A request body sent to an instance: whole (events, control calls) or streamed through from
/// an HTTP trigger's client.
pub type CallBody =
    http_body_util::combinators::UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// A whole body as a [`CallBody`].
pub fn whole(body: Full<Bytes>) -> CallBody {
    use http_body_util::BodyExt;
    body.map_err(|never| match never {}).boxed_unsync()
}

/// Why an instance could not start.
#[derive(Debug)]
pub struct StartFailure(pub String);

/// Why a request to an instance got no response.
#[derive(Debug)]
pub enum CallFailure {
    /// The process exited or closed the connection.
    Exited(String),
    /// The limit passed.
    Timeout,
}

impl Instance {
    /// Starts the process and waits until it accepts connections on `port` (at most `limit`).
    #[allow(unsafe_code)]
    pub async fn start(launch: &Launch, port: u16, limit: Duration) -> Result<Self, StartFailure> {
        let (reader, writer) =
            std::io::pipe().map_err(|e| StartFailure(format!("cannot create a pipe: {e}")))?;
        let writer2 = writer
            .try_clone()
            .map_err(|e| StartFailure(format!("cannot create a pipe: {e}")))?;
        let mut cmd = tokio::process::Command::new(&launch.program);
        cmd.args(&launch.args)
            .env_clear()
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&launch.cwd)
            .stdin(std::process::Stdio::null())
            .stdout(writer)
            .stderr(writer2)
            .kill_on_drop(true)
            .process_group(0);
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to kill the child when
        // fcemu's thread that spawned it exits, so no instance outlives a killed fcemu.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|e| {
            StartFailure(format!(
                "cannot run {}: {e}",
                launch.program.to_string_lossy()
            ))
        })?;
        drop(cmd);
        let logs = Arc::new(LogTap::default());
        let tap = logs.clone();
        std::thread::Builder::new()
            .name("fcemu-instance-log".into())
            .spawn(move || {
                let mut r = std::io::BufReader::new(reader);
                let mut line = Vec::new();
                while matches!(r.read_until(b'\n', &mut line), Ok(n) if n > 0) {
                    tap.push_line(&line);
                    line.clear();
                }
                tap.close();
            })
            .map_err(|e| StartFailure(format!("cannot start the log reader: {e}")))?;
        let deadline = Instant::now() + limit;
        let mut pause = Duration::from_millis(2);
        let stream = loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(StartFailure(format!(
                    "the process exited ({status}) before listening on port {port}{}",
                    output_note(&logs)
                )));
            }
            match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                Ok(s) => break s,
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(_) => {
                    return Err(StartFailure(format!(
                        "The CA's http server cannot be started: nothing listened on port {port} within {} s{}",
                        limit.as_secs(),
                        output_note(&logs)
                    )));
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| StartFailure(format!("cannot connect to the instance: {e}")))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Instance {
            child,
            logs,
            sender,
            initialized: false,
            last_used: Instant::now(),
            cause_key: String::new(),
        })
    }

    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Peak resident memory of the process so far (`VmHWM`), bytes.
    pub fn peak_rss(&self) -> u64 {
        self.status_bytes("VmHWM:")
    }

    /// Resident memory of the process now (`VmRSS`), bytes.
    pub fn rss(&self) -> u64 {
        self.status_bytes("VmRSS:")
    }

    /// A `kB` field of `/proc/<pid>/status`, in bytes (0 when unknown).
    fn status_bytes(&self, field: &str) -> u64 {
        let Some(pid) = self.child.id() else { return 0 };
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with(field))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse::<u64>().ok())
            })
            .map_or(0, |kb| kb * 1024)
    }

    /// Sends one request and reads the whole response, within `limit`.
    pub async fn call(
        &mut self,
        req: http::Request<Full<Bytes>>,
        limit: Duration,
    ) -> Result<http::Response<Bytes>, CallFailure> {
        let work = async {
            let resp = self.send(req.map(whole)).await?;
            let (parts, body) = resp.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| CallFailure::Exited(e.to_string()))?
                .to_bytes();
            Ok(http::Response::from_parts(parts, body))
        };
        let r = match tokio::time::timeout(limit, work).await {
            Ok(r) => r,
            Err(_) => Err(CallFailure::Timeout),
        };
        self.last_used = Instant::now();
        r
    }

    /// Sends a request and returns the response head; its body streams from the instance.
    pub async fn send(
        &mut self,
        req: http::Request<CallBody>,
    ) -> Result<http::Response<hyper::body::Incoming>, CallFailure> {
        self.sender
            .ready()
            .await
            .map_err(|e| CallFailure::Exited(e.to_string()))?;
        let resp = self
            .sender
            .send_request(req)
            .await
            .map_err(|e| CallFailure::Exited(e.to_string()))?;
        self.last_used = Instant::now();
        Ok(resp)
    }

    /// How the process ended, if it has.
    pub fn exit_status(&mut self) -> Option<String> {
        self.child.try_wait().ok().flatten().map(|s| s.to_string())
    }

    /// Stops the process group now.
    #[allow(unsafe_code)]
    pub fn kill(&mut self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: signalling our own child's process group.
            unsafe {
                libc::killpg(pid as i32, libc::SIGKILL);
            }
        }
        let _ = self.child.start_kill();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

fn output_note(logs: &LogTap) -> String {
    let out = logs.stray();
    if out.is_empty() {
        String::new()
    } else {
        format!("; its output:\n{out}")
    }
}
