//! Running a job: tasks start once the tasks they wait for have finished; a task's instances run
//! in parallel (at most [`BatchConfig::workers`](crate::BatchConfig) at once over all jobs); each
//! attempt is a process `/bin/sh -c CommandLine` in a fresh work directory, with the package
//! unpacked, the input mappings downloaded before and the output mappings uploaded after a
//! successful attempt, stdout and stderr uploaded after every attempt (reference §6-§7).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::job::{Job, OssPath, State, Task, TaskSpec};
use crate::{Batch, Objects};

/// Marks every unfinished task and instance, and the job, `state` at `now` (stop, restart).
pub fn finish_all(job: &mut Job, state: State, code: &str, why: &str, now: i64) {
    for t in &mut job.tasks {
        for i in &mut t.instances {
            if !i.state.is_final() {
                i.state = state;
                i.ended_ms = Some(now);
                i.error_code = code.into();
                i.error_message = why.into();
            }
        }
        if !t.state.is_final() {
            t.state = state;
            t.ended_ms = Some(now);
        }
    }
    job.state = state;
    job.ended_ms = Some(now);
}

/// A job that was running when fcemu stopped: failed, saying why.
pub fn interrupt(job: &mut Job, why: &str) {
    let now = job.started_ms.unwrap_or(job.created_ms);
    finish_all(job, State::Failed, "Interrupted", why, now);
    job.message = why.into();
}

/// Sets a stopped or failed job back to `Waiting`; instances that finished stay finished.
pub fn rewind(job: &mut Job) {
    for t in &mut job.tasks {
        if t.state == State::Finished {
            continue;
        }
        for i in &mut t.instances {
            if i.state != State::Finished {
                i.state = State::Waiting;
                i.ended_ms = None;
                i.error_code.clear();
                i.error_message.clear();
            }
        }
        t.state = State::Waiting;
        t.ended_ms = None;
    }
    job.state = State::Waiting;
    job.ended_ms = None;
    job.message.clear();
}

/// What one attempt of an instance did, published on [`Batch::attempts`] as it ends.
#[derive(Clone, Debug)]
pub struct AttemptReport {
    /// The job's id.
    pub job_id: String,
    /// The job's `Name`.
    pub job_name: String,
    /// The task.
    pub task: String,
    /// The instance (`0..InstanceCount`).
    pub instance: u32,
    /// Retries before this attempt.
    pub retry: u32,
    /// When it started and ended (ms).
    pub started_ms: i64,
    /// When it ended (ms).
    pub ended_ms: i64,
    /// Whether it exited with 0 (and its outputs were uploaded).
    pub ok: bool,
    /// Whether another attempt follows.
    pub retried: bool,
    /// How it ended, in words (`exit 0`, `timed out`, ...).
    pub outcome: String,
    /// The end of its stdout and stderr (at most [`REPORTED_OUTPUT`] bytes each).
    pub stdout: String,
    /// See `stdout`.
    pub stderr: String,
}

/// How much of an attempt's stdout and stderr a report carries (its last bytes).
pub const REPORTED_OUTPUT: usize = 64 * 1024;

fn tail(bytes: &[u8]) -> String {
    let start = bytes.len().saturating_sub(REPORTED_OUTPUT);
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// How one attempt ended.
enum Attempt {
    Exited(i32),
    TimedOut,
    Stopped,
    Broken(String),
}

/// Runs job `id` to its end (or until `stop` says so).
pub(crate) async fn run_job(batch: Batch, id: String, stop: watch::Receiver<bool>) {
    let mut running: JoinSet<(String, bool)> = JoinSet::new();
    let name: std::sync::Arc<str> = batch
        .job(&id)
        .await
        .map(|j| j.name)
        .unwrap_or_default()
        .into();
    loop {
        let now = batch.now_ms();
        // Tasks whose upstream tasks are done, marked running here so they start once.
        let ready = batch
            .update(&id, |job| {
                if job.state.is_final() {
                    return Ok(None);
                }
                let done = |name: &str, job: &Job| {
                    job.task(name).is_some_and(|t| {
                        t.state == State::Finished
                            || (!job.fail_on_instance_fail && t.state.is_final())
                    })
                };
                let ready: Vec<Task> = job
                    .tasks
                    .iter()
                    .filter(|t| t.state == State::Waiting && t.after.iter().all(|u| done(u, job)))
                    .cloned()
                    .collect();
                for t in &ready {
                    if let Some(task) = job.task_mut(&t.name) {
                        task.state = State::Running;
                        task.started_ms.get_or_insert(now);
                    }
                }
                if !ready.is_empty() {
                    job.state = State::Running;
                    job.started_ms.get_or_insert(now);
                }
                Ok(Some(ready))
            })
            .await;
        let Ok(Some(ready)) = ready else { break };
        for task in ready {
            let (batch, id, stop, name) = (batch.clone(), id.clone(), stop.clone(), name.clone());
            running.spawn(async move {
                let ok = run_task(&batch, &id, &name, &task, stop).await;
                (task.name, ok)
            });
        }
        let Some(Ok((_, ok))) = running.join_next().await else {
            break;
        };
        let now = batch.now_ms();
        let finished = batch
            .update(&id, |job| {
                if job.state.is_final() {
                    return Ok(true);
                }
                if !ok && job.fail_on_instance_fail {
                    job.state = State::Failed;
                    job.ended_ms = Some(now);
                    job.message = "an instance failed and JobFailOnInstanceFail is true".into();
                    return Ok(true);
                }
                if job.tasks.iter().all(|t| t.state.is_final()) {
                    job.state = if job.tasks.iter().all(|t| t.state == State::Finished)
                        || !job.fail_on_instance_fail
                    {
                        State::Finished
                    } else {
                        State::Failed
                    };
                    job.ended_ms = Some(now);
                    return Ok(true);
                }
                Ok(false)
            })
            .await
            .unwrap_or(true);
        if finished {
            break;
        }
    }
    // Nothing runs and nothing can start: the job cannot go on.
    let now = batch.now_ms();
    let _ = batch
        .update(&id, |job| {
            if !job.state.is_final() {
                finish_all(job, State::Failed, "Blocked", "no task can run", now);
                job.message = "no task can run: the tasks they wait for failed".into();
            }
            Ok(())
        })
        .await;
    // A failed job stops what still runs (dropping an attempt kills its process group);
    // stopped jobs were told already.
    running.abort_all();
    while running.join_next().await.is_some() {}
    let auto_release = batch
        .job(&id)
        .await
        .is_ok_and(|j| j.state == State::Finished && j.auto_release);
    if auto_release {
        let _ = batch.delete_job(&id).await;
    }
}

/// Runs a task's waiting instances in parallel; whether they all finished.
async fn run_task(
    batch: &Batch,
    id: &str,
    job_name: &str,
    task: &Task,
    stop: watch::Receiver<bool>,
) -> bool {
    let mut set = JoinSet::new();
    for inst in task.instances.iter().filter(|i| i.state != State::Finished) {
        let place = Place {
            job_id: id.to_string(),
            job_name: job_name.to_string(),
            task: task.name.clone(),
            instance: inst.id,
        };
        let (batch, spec, stop) = (batch.clone(), task.spec.clone(), stop.clone());
        set.spawn(async move { run_instance(&batch, &place, &spec, stop).await });
    }
    let mut all_ok = true;
    while let Some(r) = set.join_next().await {
        all_ok &= r.unwrap_or(false);
    }
    let now = batch.now_ms();
    let _ = batch
        .update(id, |job| {
            if let Some(t) = job.task_mut(&task.name)
                && !t.state.is_final()
            {
                t.state = if t.instances.iter().all(|i| i.state == State::Finished) {
                    State::Finished
                } else {
                    State::Failed
                };
                t.ended_ms = Some(now);
            }
            Ok(())
        })
        .await;
    all_ok
}

/// Which instance of which task of which job.
struct Place {
    job_id: String,
    job_name: String,
    task: String,
    instance: u32,
}

/// The slots an instance holds while it runs: one of its cluster's (when the task names one)
/// and one of the machine's workers.
struct Slots {
    _cluster: Option<crate::cluster::Slot>,
    _worker: tokio::sync::OwnedSemaphorePermit,
}

/// Waits for the instance's slots; why not, when its cluster was deleted.
async fn slots(batch: &Batch, spec: &TaskSpec) -> Result<Slots, String> {
    let cluster = match &spec.cluster {
        None => None,
        Some(id) => {
            let pool = batch
                .pool(id)
                .ok_or_else(|| format!("cluster {id} was deleted"))?;
            Some(
                pool.acquire()
                    .await
                    .ok_or_else(|| format!("cluster {id} was deleted"))?,
            )
        }
    };
    let worker = batch
        .0
        .workers
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| e.to_string())?;
    Ok(Slots {
        _cluster: cluster,
        _worker: worker,
    })
}

/// Runs one instance, retrying as `MaxRetryCount` allows; whether it finished.
async fn run_instance(
    batch: &Batch,
    place: &Place,
    spec: &TaskSpec,
    mut stop: watch::Receiver<bool>,
) -> bool {
    let (id, task, n) = (place.job_id.as_str(), place.task.as_str(), place.instance);
    let held = tokio::select! {
        s = slots(batch, spec) => s,
        _ = stop.wait_for(|s| *s) => return false,
    };
    let _slots = match held {
        Ok(s) => s,
        Err(why) => {
            let now = batch.now_ms();
            let _ = batch
                .update(id, |job| {
                    if let Some(i) = job
                        .task_mut(task)
                        .and_then(|t| t.instances.get_mut(n as usize))
                        && !i.state.is_final()
                    {
                        i.state = State::Failed;
                        i.ended_ms = Some(now);
                        i.error_code = "ClusterDeleted".into();
                        i.error_message = why;
                    }
                    Ok(())
                })
                .await;
            return false;
        }
    };
    let mut retry = 0;
    loop {
        if *stop.borrow() {
            return false;
        }
        let now = batch.now_ms();
        let started = batch
            .update(id, |job| {
                if job.state.is_final() {
                    return Ok(false);
                }
                let Some(i) = job
                    .task_mut(task)
                    .and_then(|t| t.instances.get_mut(n as usize))
                else {
                    return Ok(false);
                };
                i.state = State::Running;
                i.started_ms.get_or_insert(now);
                i.retry_count = retry;
                Ok(true)
            })
            .await
            .unwrap_or(false);
        if !started {
            return false;
        }
        let (outcome, stdout, stderr) = attempt(batch, id, task, spec, n, retry, &mut stop).await;
        tracing::debug!(job = id, task, instance = n, retry, outcome = %describe(&outcome), "BatchCompute instance attempt");
        let (ok, code, message, exit) = match &outcome {
            Attempt::Exited(0) => (true, "", String::new(), Some(0)),
            Attempt::Exited(c) => (
                false,
                "ExitCodeNotZero",
                format!("exited with {c}"),
                Some(*c),
            ),
            Attempt::TimedOut => (
                false,
                "Timeout",
                format!("ran longer than Timeout ({} s)", spec.timeout_secs),
                None,
            ),
            Attempt::Stopped => (false, "Stopped", "the job was stopped".into(), None),
            Attempt::Broken(why) => (false, "PrepareFailed", why.clone(), None),
        };
        let again = !ok && !matches!(outcome, Attempt::Stopped) && retry < spec.max_retry;
        let ended = batch.now_ms();
        let _ = batch
            .update(id, |job| {
                if job.state.is_final() {
                    return Ok(());
                }
                if let Some(i) = job
                    .task_mut(task)
                    .and_then(|t| t.instances.get_mut(n as usize))
                {
                    i.exit_code = exit.or(i.exit_code);
                    i.error_code = code.into();
                    i.error_message = message.clone();
                    if !again {
                        i.state = if ok { State::Finished } else { State::Failed };
                        i.ended_ms = Some(ended);
                    }
                }
                Ok(())
            })
            .await;
        batch.0.attempts.publish(AttemptReport {
            job_id: id.to_string(),
            job_name: place.job_name.clone(),
            task: task.to_string(),
            instance: n,
            retry,
            started_ms: now,
            ended_ms: ended,
            ok,
            retried: again,
            outcome: describe(&outcome),
            stdout,
            stderr,
        });
        if !again {
            return ok;
        }
        retry += 1;
    }
}

fn describe(a: &Attempt) -> String {
    match a {
        Attempt::Exited(c) => format!("exit {c}"),
        Attempt::TimedOut => "timed out".into(),
        Attempt::Stopped => "stopped".into(),
        Attempt::Broken(why) => why.clone(),
    }
}

/// The object name of an instance's stdout or stderr under a redirect directory.
pub fn log_object(dir: &OssPath, stream: &str, job: &str, task: &str, n: u32) -> OssPath {
    OssPath {
        bucket: dir.bucket.clone(),
        key: format!("{}{stream}.{job}.{task}.{n}", dir.key),
    }
}

/// `path` under `base` without leaving it (`..` and absolute parts refused).
fn under(base: &Path, rel: &str) -> Option<PathBuf> {
    let rel = Path::new(rel);
    if rel
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return None;
    }
    Some(base.join(rel))
}

/// A mapping's local directory: absolute as given, relative ones under the work directory.
fn local_dir(work: &Path, local: &str) -> PathBuf {
    let p = Path::new(local);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        work.join(p)
    }
}

async fn attempt(
    batch: &Batch,
    id: &str,
    task: &str,
    spec: &TaskSpec,
    n: u32,
    retry: u32,
    stop: &mut watch::Receiver<bool>,
) -> (Attempt, String, String) {
    let root = batch
        .0
        .work_dir
        .join(id)
        .join(task)
        .join(format!("{n}.{retry}"));
    let work = root.join("workdir");
    let broken = |why: String| (Attempt::Broken(why), String::new(), String::new());
    if let Err(e) = tokio::fs::create_dir_all(&work).await {
        return broken(format!("cannot create the work directory: {e}"));
    }
    let objects = batch.objects();
    if let Err(why) = prepare(objects.as_deref(), spec, &work).await {
        return broken(why);
    }
    let cluster_env = match &spec.cluster {
        Some(c) => batch
            .cluster(c)
            .await
            .map(|c| c.env_vars)
            .unwrap_or_default(),
        None => BTreeMap::new(),
    };
    let (out_path, err_path) = (root.join("stdout"), root.join("stderr"));
    let place = (id, task, n);
    let mut outcome = match spawn(batch, place, spec, cluster_env, &work, &out_path, &err_path) {
        Err(e) => Attempt::Broken(format!("cannot start /bin/sh: {e}")),
        Ok(child) => wait(child, Duration::from_secs(spec.timeout_secs), stop).await,
    };
    let stdout = tokio::fs::read(&out_path).await.unwrap_or_default();
    let stderr = tokio::fs::read(&err_path).await.unwrap_or_default();
    let (out_tail, err_tail) = (tail(&stdout), tail(&stderr));
    if let Some(objects) = objects.as_deref() {
        for (dir, stream, body) in [
            (&spec.stdout_dir, "stdout", stdout),
            (&spec.stderr_dir, "stderr", stderr),
        ] {
            if let Some(dir) = dir {
                let target = log_object(dir, stream, id, task, n);
                if let Err(e) = objects.put(&target.bucket, &target.key, body).await {
                    tracing::warn!(%target, "BatchCompute log not uploaded: {e}");
                }
            }
        }
        if matches!(outcome, Attempt::Exited(0))
            && let Err(why) = upload_outputs(objects, spec, &work).await
        {
            outcome = Attempt::Broken(why);
        }
    }
    let _ = tokio::fs::remove_dir_all(&work).await;
    (outcome, out_tail, err_tail)
}

/// Unpacks the package and downloads the input mappings into the work directory.
async fn prepare(
    objects: Option<&dyn Objects>,
    spec: &TaskSpec,
    work: &Path,
) -> Result<(), String> {
    let needs_oss = spec.package.is_some() || !spec.input.is_empty();
    let objects = match objects {
        Some(o) => o,
        None if needs_oss => return Err("no object storage is attached".into()),
        None => return Ok(()),
    };
    if let Some(pkg) = &spec.package {
        let bytes = objects
            .get(&pkg.bucket, &pkg.key)
            .await
            .map_err(|e| format!("PackagePath {pkg}: {e}"))?;
        let dir = work.to_path_buf();
        let pkg_name = pkg.to_string();
        tokio::task::spawn_blocking(move || unpack(&bytes, &dir))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("PackagePath {pkg_name} is not a gzip tar: {e}"))?;
    }
    for (oss, local) in &spec.input {
        let dir = local_dir(work, local);
        let keys = objects
            .list(&oss.bucket, &oss.key)
            .await
            .map_err(|e| format!("InputMapping {oss}: {e}"))?;
        for key in keys {
            let rel = &key[oss.key.len().min(key.len())..];
            if rel.is_empty() || rel.ends_with('/') {
                continue;
            }
            let Some(path) = under(&dir, rel) else {
                continue;
            };
            let body = objects
                .get(&oss.bucket, &key)
                .await
                .map_err(|e| format!("InputMapping oss://{}/{key}: {e}", oss.bucket))?;
            write_atomically(&path, &body)
                .await
                .map_err(|e| format!("InputMapping {}: {e}", path.display()))?;
        }
    }
    for (local, _) in &spec.output {
        tokio::fs::create_dir_all(local_dir(work, local))
            .await
            .map_err(|e| format!("OutputMapping {local}: {e}"))?;
    }
    Ok(())
}

/// Writes beside and renames: instances of one task share mapped directories.
async fn write_atomically(path: &Path, body: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    let tmp = path.with_file_name(format!(
        ".{}.fcemu-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("part"),
        std::process::id() as u64 * 1_000_003 + rand_suffix()
    ));
    tokio::fs::write(&tmp, body).await?;
    tokio::fs::rename(&tmp, path).await
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn unpack(bytes: &[u8], dir: &Path) -> std::io::Result<()> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    for entry in archive.entries()? {
        let mut entry = entry?;
        // `unpack_in` refuses (returns false for) entries that would land outside `dir`.
        entry.unpack_in(dir)?;
    }
    Ok(())
}

/// Uploads every file under each output mapping's directory.
async fn upload_outputs(objects: &dyn Objects, spec: &TaskSpec, work: &Path) -> Result<(), String> {
    for (local, oss) in &spec.output {
        let dir = local_dir(work, local);
        let files = tokio::task::spawn_blocking({
            let dir = dir.clone();
            move || files_under(&dir)
        })
        .await
        .map_err(|e| e.to_string())?;
        for (rel, path) in files {
            let body = tokio::fs::read(&path)
                .await
                .map_err(|e| format!("OutputMapping {}: {e}", path.display()))?;
            let key = format!("{}{rel}", oss.key);
            objects
                .put(&oss.bucket, &key, body)
                .await
                .map_err(|e| format!("OutputMapping oss://{}/{key}: {e}", oss.bucket))?;
        }
    }
    Ok(())
}

/// Files under `dir`, recursively, with their `/`-separated paths relative to it, in order.
fn files_under(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut stack = vec![(String::new(), dir.to_path_buf())];
    while let Some((prefix, d)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = format!("{prefix}{name}");
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push((format!("{rel}/"), e.path())),
                Ok(t) if t.is_file() => out.push((rel, e.path())),
                _ => {}
            }
        }
    }
    out.sort();
    out
}

/// Starts an attempt's shell: the environment of reference §7.1, then the cluster's
/// `EnvVars`, then the task's.
fn spawn(
    batch: &Batch,
    (id, task, n): (&str, &str, u32),
    spec: &TaskSpec,
    cluster_env: BTreeMap<String, String>,
    work: &Path,
    out: &Path,
    err: &Path,
) -> std::io::Result<tokio::process::Child> {
    let cfg = batch.config();
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    env.insert("BATCH_COMPUTE_DAG_JOB_ID".into(), id.into());
    env.insert("BATCH_COMPUTE_DAG_TASK_ID".into(), task.into());
    env.insert("BATCH_COMPUTE_DAG_INSTANCE_ID".into(), n.to_string());
    env.insert("BATCH_COMPUTE_OSS_HOST".into(), cfg.oss_host.clone());
    env.insert("BATCH_COMPUTE_REGION".into(), cfg.ctx.region.clone());
    let cluster = spec.cluster.clone().unwrap_or_else(|| format!("cls-{id}"));
    env.insert("BATCH_COMPUTE_CLUSTER_ID".into(), cluster);
    env.insert("BATCH_COMPUTE_WORKER_ID".into(), format!("worker-{n}"));
    env.insert("PWD".into(), work.display().to_string());
    env.extend(cluster_env);
    env.extend(spec.env.clone());
    let stdout = std::fs::File::create(out)?;
    let stderr = std::fs::File::create(err)?;
    let mut cmd = tokio::process::Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(&spec.command_line)
        .current_dir(work)
        .envs(env)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0)
        .kill_on_drop(true);
    die_with_parent(&mut cmd);
    cmd.spawn()
}

/// Asks the kernel to kill the attempt's shell when fcemu dies (even by SIGKILL), so no
/// instance outlives the emulator that ran it.
#[allow(unsafe_code)]
fn die_with_parent(cmd: &mut tokio::process::Command) {
    // SAFETY: the closure runs between fork and exec and only calls prctl, which is
    // async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// Waits for the attempt's process; on timeout or stop kills its whole process group.
async fn wait(
    mut child: tokio::process::Child,
    limit: Duration,
    stop: &mut watch::Receiver<bool>,
) -> Attempt {
    let mut group = Group(child.id());
    let outcome = tokio::select! {
        status = child.wait() => match status {
            Ok(s) => {
                group.0 = None;
                return Attempt::Exited(s.code().unwrap_or(-1));
            }
            Err(e) => Attempt::Broken(format!("waiting for the process: {e}")),
        },
        _ = tokio::time::sleep(limit) => Attempt::TimedOut,
        _ = stop.wait_for(|s| *s) => Attempt::Stopped,
    };
    drop(group);
    let _ = child.wait().await;
    outcome
}

/// An attempt's process group, killed when this is dropped (timeout, stop, or the attempt
/// itself dropped because its job failed) unless the process exited by itself.
struct Group(Option<u32>);

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            kill_group(pid);
        }
    }
}

/// Kills process group `pid` (the attempt's shell and everything it started).
#[allow(unsafe_code)]
fn kill_group(pid: u32) {
    // SAFETY: killpg only sends a signal; the group is the one the child was started in
    // (process_group(0) makes its pid the group id).
    unsafe {
        libc::killpg(pid as libc::pid_t, libc::SIGKILL);
    }
}
