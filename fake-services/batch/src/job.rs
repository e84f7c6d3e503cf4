//! Jobs, tasks and instances: the job description as submitted (checked as the service checks
//! it, reference batchcompute.md §4 and §9), the DAG order, and the states of §6.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::BatchError;

/// The state of a job, a task or an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum State {
    /// Not started yet.
    Waiting,
    /// At least one instance runs.
    Running,
    /// Done, successfully.
    Finished,
    /// Done, unsuccessfully.
    Failed,
    /// Stopped by `stop_job`.
    Stopped,
}

impl State {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Waiting => "Waiting",
            State::Running => "Running",
            State::Finished => "Finished",
            State::Failed => "Failed",
            State::Stopped => "Stopped",
        }
    }

    /// Whether nothing more happens in this state.
    pub fn is_final(self) -> bool {
        matches!(self, State::Finished | State::Failed | State::Stopped)
    }

    /// The state named `s`, if any.
    pub fn parse(s: &str) -> Option<State> {
        [
            State::Waiting,
            State::Running,
            State::Finished,
            State::Failed,
            State::Stopped,
        ]
        .into_iter()
        .find(|st| st.as_str().eq_ignore_ascii_case(s))
    }
}

/// An OSS location, `oss://bucket/prefix`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OssPath {
    /// The bucket.
    pub bucket: String,
    /// The key or key prefix (may be empty).
    pub key: String,
}

impl OssPath {
    /// Parses `oss://bucket/key`; `field` names the field in the error.
    pub fn parse(s: &str, field: &str) -> Result<OssPath, BatchError> {
        let rest = s
            .strip_prefix("oss://")
            .ok_or_else(|| BatchError::invalid(field, format!("{s:?} is not an oss:// path")))?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(BatchError::invalid(field, format!("{s:?} names no bucket")));
        }
        Ok(OssPath {
            bucket: bucket.into(),
            key: key.into(),
        })
    }
}

impl std::fmt::Display for OssPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "oss://{}/{}", self.bucket, self.key)
    }
}

/// What a task runs, from its description.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// `Parameters.Command.CommandLine`, run with `/bin/sh -c`.
    pub command_line: String,
    /// `Parameters.Command.PackagePath`: a gzip tar unpacked into the work directory.
    pub package: Option<OssPath>,
    /// `Parameters.Command.EnvVars`.
    pub env: BTreeMap<String, String>,
    /// `InstanceCount`.
    pub instance_count: u32,
    /// `MaxRetryCount`.
    pub max_retry: u32,
    /// `Timeout`, seconds per attempt.
    pub timeout_secs: u64,
    /// `InputMapping`: OSS prefix → local directory, downloaded before each attempt.
    pub input: Vec<(OssPath, String)>,
    /// `OutputMapping`: local directory → OSS prefix, uploaded after a successful attempt.
    pub output: Vec<(String, OssPath)>,
    /// `Parameters.StdoutRedirectPath`, a directory.
    pub stdout_dir: Option<OssPath>,
    /// `Parameters.StderrRedirectPath`, a directory.
    pub stderr_dir: Option<OssPath>,
    /// `ClusterId`: the cluster whose slots its instances take; `None` runs on the job's own
    /// `AutoCluster` (the machine's workers only).
    #[serde(default)]
    pub cluster: Option<String>,
}

/// One instance of a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    /// `0..InstanceCount`.
    pub id: u32,
    /// Its state.
    pub state: State,
    /// When its first attempt started (ms).
    pub started_ms: Option<i64>,
    /// When it ended (ms).
    pub ended_ms: Option<i64>,
    /// Retries made.
    pub retry_count: u32,
    /// Exit code of the last attempt.
    pub exit_code: Option<i32>,
    /// Why it failed (`Timeout`, `Stopped`, `PrepareFailed`, ...), empty on success.
    pub error_code: String,
    /// The failure in words.
    pub error_message: String,
}

/// One task of a job's DAG.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// Its name in `DAG.Tasks`.
    pub name: String,
    /// What it runs.
    pub spec: TaskSpec,
    /// Its state.
    pub state: State,
    /// When its first instance started (ms).
    pub started_ms: Option<i64>,
    /// When its last instance ended (ms).
    pub ended_ms: Option<i64>,
    /// Its instances, by id.
    pub instances: Vec<Instance>,
    /// Tasks that must finish before it starts.
    pub after: Vec<String>,
}

/// A job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// `job-` and 32 upper-case hex digits.
    pub id: String,
    /// Creation order.
    pub seq: u64,
    /// `Name`.
    pub name: String,
    /// `Priority`.
    pub priority: i64,
    /// The description exactly as submitted (`get_job_description`).
    pub description: String,
    /// When it was created (ms).
    pub created_ms: i64,
    /// When its first instance started (ms).
    pub started_ms: Option<i64>,
    /// When it ended (ms).
    pub ended_ms: Option<i64>,
    /// Its state.
    pub state: State,
    /// Why it is in that state, when it failed or was stopped.
    pub message: String,
    /// `JobFailOnInstanceFail`.
    pub fail_on_instance_fail: bool,
    /// `AutoRelease`: deleted once finished.
    pub auto_release: bool,
    /// Its tasks in an order that respects the DAG.
    pub tasks: Vec<Task>,
}

impl Job {
    /// The task named `name`.
    pub fn task(&self, name: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.name == name)
    }

    /// The task named `name`, to change it.
    pub fn task_mut(&mut self, name: &str) -> Option<&mut Task> {
        self.tasks.iter_mut().find(|t| t.name == name)
    }
}

/// An object field; absent or null is `None`.
pub(crate) fn object<'a>(
    v: &'a Value,
    field: &str,
) -> Result<Option<&'a Map<String, Value>>, BatchError> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(BatchError::invalid(field, "it must be an object")),
    }
}

/// A string field; absent, null or `""` is `None` (the SDK deletes a field set to `""` twice).
pub(crate) fn text(v: &Value, field: &str) -> Result<Option<String>, BatchError> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(BatchError::invalid(field, "it must be a string")),
    }
}

/// An integer field.
pub(crate) fn integer(v: &Value, field: &str) -> Result<Option<i64>, BatchError> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| BatchError::invalid(field, "it must be an integer")),
        Some(_) => Err(BatchError::invalid(field, "it must be an integer")),
    }
}

fn flag(v: &Value, field: &str, default: bool) -> Result<bool, BatchError> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(BatchError::invalid(field, "it must be true or false")),
    }
}

/// A `{name: value}` object as strings: the SDK `str()`s values that are not strings.
pub(crate) fn strings(m: &Map<String, Value>) -> BTreeMap<String, String> {
    m.iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), v)
        })
        .collect()
}

/// Checks `Priority` (an integer in 0..=1000).
pub fn priority(v: &Value) -> Result<i64, BatchError> {
    let p = integer(v, "Priority")?.ok_or_else(|| BatchError::missing("Priority", ""))?;
    if !(0..=1000).contains(&p) {
        return Err(BatchError::invalid(
            "Priority",
            format!("{p} is not in [0, 1000]"),
        ));
    }
    Ok(p)
}

fn task_spec(name: &str, t: &Value) -> Result<TaskSpec, BatchError> {
    let at = |field: &str| format!("{field} of task {name}");
    let params = t.get("Parameters").unwrap_or(&Value::Null);
    let command = params.get("Command").unwrap_or(&Value::Null);
    let command_line = text(command, "CommandLine")?.ok_or_else(|| {
        BatchError::missing(
            "CommandLine",
            format!("Parameters.Command.CommandLine of task {name}"),
        )
    })?;
    let cluster = text(t, "ClusterId")?;
    let env = object(command, "EnvVars")?.map(strings).unwrap_or_default();
    let instance_count = integer(t, "InstanceCount")?.unwrap_or(1);
    if !(1..=10_000).contains(&instance_count) {
        return Err(BatchError::invalid(
            "InstanceCount",
            format!(
                "{} must be in [1, 10000], got {instance_count}",
                at("InstanceCount")
            ),
        ));
    }
    let max_retry = integer(t, "MaxRetryCount")?.unwrap_or(0);
    if !(0..=100).contains(&max_retry) {
        return Err(BatchError::invalid(
            "MaxRetryCount",
            format!(
                "{} must be in [0, 100], got {max_retry}",
                at("MaxRetryCount")
            ),
        ));
    }
    let timeout = integer(t, "Timeout")?.unwrap_or(86_400);
    if timeout < 1 {
        return Err(BatchError::invalid(
            "Timeout",
            format!(
                "{} must be a positive number of seconds, got {timeout}",
                at("Timeout")
            ),
        ));
    }
    let package = text(command, "PackagePath")?
        .map(|p| OssPath::parse(&p, "PackagePath"))
        .transpose()?;
    let mut input = Vec::new();
    if let Some(m) = object(t, "InputMapping")? {
        for (oss, local) in m {
            let local = local.as_str().ok_or_else(|| {
                BatchError::invalid("InputMapping", "local paths must be strings")
            })?;
            input.push((OssPath::parse(oss, "InputMapping")?, local.to_string()));
        }
    }
    let mut output = Vec::new();
    if let Some(m) = object(t, "OutputMapping")? {
        for (local, oss) in m {
            let oss = oss
                .as_str()
                .ok_or_else(|| BatchError::invalid("OutputMapping", "OSS paths must be strings"))?;
            output.push((local.clone(), OssPath::parse(oss, "OutputMapping")?));
        }
    }
    let redirect = |field: &str| -> Result<Option<OssPath>, BatchError> {
        text(params, field)?
            .map(|p| OssPath::parse(&p, field))
            .transpose()
    };
    Ok(TaskSpec {
        command_line,
        package,
        env,
        instance_count: instance_count as u32,
        max_retry: max_retry as u32,
        timeout_secs: timeout as u64,
        input,
        output,
        stdout_dir: redirect("StdoutRedirectPath")?,
        stderr_dir: redirect("StderrRedirectPath")?,
        cluster,
    })
}

/// Reads a CreateJob body into a new job in `Waiting`, every task and instance waiting too.
pub fn parse(body: &[u8], id: String, seq: u64, now_ms: i64) -> Result<Job, BatchError> {
    let text_body = std::str::from_utf8(body)
        .map_err(|_| BatchError::InvalidJsonFormat("the body is not UTF-8".into()))?;
    let v: Value = serde_json::from_str(text_body)
        .map_err(|e| BatchError::InvalidJsonFormat(e.to_string()))?;
    if !v.is_object() {
        return Err(BatchError::InvalidJsonFormat(
            "the job description must be a JSON object".into(),
        ));
    }
    let name = text(&v, "Name")?.ok_or_else(|| BatchError::missing("Name", ""))?;
    if name.len() > 100
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(BatchError::invalid(
            "Name",
            "a job name is 1-100 characters of letters, digits, '_' and '-'",
        ));
    }
    let priority = priority(&v)?;
    match text(&v, "Type")?.as_deref() {
        None | Some("DAG") => {}
        Some("App") => {
            return Err(BatchError::NotEmulated(
                "App jobs (the App API) are not emulated; submit a DAG job".into(),
            ));
        }
        Some(other) => {
            return Err(BatchError::invalid(
                "Type",
                format!("{other:?}: a job is of Type DAG or App"),
            ));
        }
    }
    let dag = v.get("DAG").ok_or_else(|| BatchError::missing("DAG", ""))?;
    let tasks = object(dag, "Tasks")?
        .filter(|t| !t.is_empty())
        .ok_or_else(|| BatchError::missing("Tasks", ""))?;
    let mut specs = BTreeMap::new();
    for (name, t) in tasks {
        specs.insert(name.clone(), task_spec(name, t)?);
    }
    // `{"a": ["b"]}`: a runs first, then b.
    let mut after: BTreeMap<String, Vec<String>> =
        specs.keys().map(|k| (k.clone(), Vec::new())).collect();
    if let Some(deps) = object(dag, "Dependencies")? {
        for (up, downs) in deps {
            if !specs.contains_key(up) {
                return Err(BatchError::invalid(
                    "Dependencies",
                    format!("task {up} is not in DAG.Tasks"),
                ));
            }
            let downs = downs.as_array().ok_or_else(|| {
                BatchError::invalid(
                    "Dependencies",
                    format!("the tasks after {up} must be a list"),
                )
            })?;
            for d in downs {
                let d = d.as_str().ok_or_else(|| {
                    BatchError::invalid("Dependencies", "task names must be strings")
                })?;
                let list = after.get_mut(d).ok_or_else(|| {
                    BatchError::invalid("Dependencies", format!("task {d} is not in DAG.Tasks"))
                })?;
                if !list.iter().any(|x| x == up) {
                    list.push(up.clone());
                }
            }
        }
    }
    let order = topological(&after)?;
    let tasks = order
        .into_iter()
        .filter_map(|name| {
            let spec = specs.remove(&name)?;
            Some(Task {
                instances: (0..spec.instance_count)
                    .map(|id| Instance {
                        id,
                        state: State::Waiting,
                        started_ms: None,
                        ended_ms: None,
                        retry_count: 0,
                        exit_code: None,
                        error_code: String::new(),
                        error_message: String::new(),
                    })
                    .collect(),
                after: after.get(&name).cloned().unwrap_or_default(),
                name,
                spec,
                state: State::Waiting,
                started_ms: None,
                ended_ms: None,
            })
        })
        .collect();
    Ok(Job {
        id,
        seq,
        name,
        priority,
        description: text_body.to_string(),
        created_ms: now_ms,
        started_ms: None,
        ended_ms: None,
        state: State::Waiting,
        message: String::new(),
        fail_on_instance_fail: flag(&v, "JobFailOnInstanceFail", true)?,
        auto_release: flag(&v, "AutoRelease", false)?,
        tasks,
    })
}

/// The tasks in an order where each comes after those it waits for (ties by name); a cycle is
/// `BadDAG` naming its tasks.
pub fn topological(after: &BTreeMap<String, Vec<String>>) -> Result<Vec<String>, BatchError> {
    let mut done: Vec<String> = Vec::with_capacity(after.len());
    while done.len() < after.len() {
        let next = after
            .iter()
            .find(|(name, ups)| !done.contains(name) && ups.iter().all(|u| done.contains(u)));
        match next {
            Some((name, _)) => done.push(name.clone()),
            None => {
                let stuck: Vec<&str> = after
                    .keys()
                    .filter(|k| !done.contains(k))
                    .map(String::as_str)
                    .collect();
                return Err(BatchError::BadDag(format!(
                    "tasks {} depend on each other",
                    stuck.join(", ")
                )));
            }
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(dag: &str) -> Result<Job, BatchError> {
        let body = format!(
            r#"{{"Name": "j", "Priority": 1, "Type": "DAG", "JobFailOnInstanceFail": true, "DAG": {dag}}}"#
        );
        parse(body.as_bytes(), "job-1".into(), 1, 0)
    }

    const TASK: &str =
        r#"{"InstanceCount": 2, "Parameters": {"Command": {"CommandLine": "true"}}}"#;

    #[test]
    fn the_key_of_a_dependency_runs_first() {
        let j = job(&format!(
            r#"{{"Tasks": {{"merge": {TASK}, "count": {TASK}, "split": {TASK}}},
                 "Dependencies": {{"split": ["count"], "count": ["merge"]}}}}"#
        ))
        .unwrap();
        let names: Vec<&str> = j.tasks.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["split", "count", "merge"]);
        assert_eq!(j.task("merge").unwrap().after, ["count"]);
        assert_eq!(j.task("count").unwrap().instances.len(), 2);
        assert_eq!(j.state, State::Waiting);
    }

    #[test]
    fn bad_descriptions_are_refused_with_the_services_codes() {
        let code = |dag: &str| job(dag).unwrap_err().code();
        assert_eq!(
            code(&format!(
                r#"{{"Tasks": {{"a": {TASK}, "b": {TASK}}}, "Dependencies": {{"a": ["b"], "b": ["a"]}}}}"#
            )),
            "BadDAG"
        );
        assert_eq!(
            code(&format!(
                r#"{{"Tasks": {{"a": {TASK}}}, "Dependencies": {{"a": ["ghost"]}}}}"#
            )),
            "InvalidDependencies"
        );
        assert_eq!(code(r#"{"Tasks": {}}"#), "MissingTasks");
        assert_eq!(
            code(r#"{"Tasks": {"a": {"Parameters": {"Command": {}}}}}"#),
            "MissingCommandLine"
        );
        assert_eq!(
            code(
                r#"{"Tasks": {"a": {"InstanceCount": 0, "Parameters": {"Command": {"CommandLine": "x"}}}}}"#
            ),
            "InvalidInstanceCount"
        );
        assert_eq!(
            code(
                r#"{"Tasks": {"a": {"InputMapping": {"/tmp/x": "/y"}, "Parameters": {"Command": {"CommandLine": "x"}}}}}"#
            ),
            "InvalidInputMapping"
        );
        assert_eq!(
            parse(b"{not json", "j".into(), 1, 0).unwrap_err().code(),
            "InvalidJsonFormat"
        );
        assert_eq!(
            parse(br#"{"Name": "j", "DAG": {}}"#, "j".into(), 1, 0)
                .unwrap_err()
                .code(),
            "MissingPriority"
        );
    }
}
