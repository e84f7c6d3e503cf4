//! The resolved application: every path absolute, every default filled, every reference checked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fcemu_tablestore::model::PkType;

pub use crate::triggers::http_event::HttpTrigger;
pub use crate::triggers::log_trigger::LogTrigger;
pub use crate::triggers::oss_event::OssTrigger;
pub use crate::triggers::tablestore_event::TablestoreTrigger;
pub use crate::triggers::timer::TimerTrigger;
use serde::Serialize;

/// Region used when the manifest names none.
pub const DEFAULT_REGION: &str = "cn-hangzhou";
/// Account id used when the manifest names none.
pub const DEFAULT_ACCOUNT_ID: &str = "1234567890123456";
/// FC 2.0 service a function belongs to when it names none.
pub const DEFAULT_SERVICE: &str = "default";

/// A whole application, ready to run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AppPlan {
    /// Application name (the manifest's `name`, else the directory's name).
    pub name: String,
    /// Region reported to functions and in events.
    pub region: String,
    /// Account id reported to functions and in ARNs.
    pub account_id: String,
    /// The manifest file, if there was one.
    pub manifest: Option<PathBuf>,
    /// Directory relative paths are resolved against.
    pub root: PathBuf,
    /// FC 2.0 services by name; "default" always exists.
    pub services: BTreeMap<String, ServicePlan>,
    /// Functions by name.
    pub functions: BTreeMap<String, FunctionPlan>,
    /// Buckets that exist when the emulator starts.
    pub buckets: BTreeMap<String, BucketPlan>,
    /// Table Store tables that exist when the emulator starts, by table name.
    pub tables: BTreeMap<String, TablePlan>,
    /// Logstores that exist when the emulator starts, by `"project/logstore"`.
    pub logstores: BTreeMap<String, LogstorePlan>,
    /// `[batch] workers`: BatchCompute instances that may run at once (default: the cores).
    pub batch_workers: Option<usize>,
    /// `[batch] log_project` / `log_store`: where instances' stdout and stderr lines go.
    pub batch_log: Option<(String, String)>,
}

impl AppPlan {
    /// An application with no functions, rooted at `root`.
    pub fn empty(root: &Path) -> Self {
        let mut services = BTreeMap::new();
        services.insert(DEFAULT_SERVICE.to_string(), ServicePlan::default());
        AppPlan {
            name: root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "app".into()),
            region: DEFAULT_REGION.into(),
            account_id: DEFAULT_ACCOUNT_ID.into(),
            manifest: None,
            root: root.to_path_buf(),
            services,
            functions: BTreeMap::new(),
            buckets: BTreeMap::new(),
            tables: BTreeMap::new(),
            logstores: BTreeMap::new(),
            batch_workers: None,
            batch_log: None,
        }
    }
}

/// An FC 2.0 service: a group of functions sharing log settings.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ServicePlan {
    /// Log Service project function logs go to.
    pub log_project: String,
    /// Logstore function logs go to.
    pub log_store: String,
    /// Free text.
    pub description: String,
}

/// One function, resolved.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FunctionPlan {
    /// Function name.
    pub name: String,
    /// FC 2.0 service it belongs to.
    pub service: String,
    /// Absolute path of the wasm file (core module or component), or of the code directory of a
    /// native function.
    pub code: PathBuf,
    /// Directory mounted read-only at `/code`.
    pub code_dir: PathBuf,
    /// Handler string reported to the function (informational for wasm functions).
    pub handler: String,
    /// Memory limit in MB.
    pub memory_mb: u32,
    /// Time limit of one invocation.
    #[serde(serialize_with = "as_secs")]
    pub timeout: Duration,
    /// Invocations that may run at once; more are throttled (sync) or queued (async).
    pub concurrency: u32,
    /// The user's environment variables.
    pub env: BTreeMap<String, String>,
    /// Command that rebuilds `code`, run from the manifest's directory.
    pub build: Option<String>,
    /// Globs whose changes trigger `build`.
    pub watch: Vec<String>,
    /// Hosts the function may call besides fcemu's own endpoints.
    pub allow_hosts: Vec<String>,
    /// Free text.
    pub description: String,
    /// What invokes this function besides direct calls.
    pub triggers: Vec<TriggerPlan>,
    /// How asynchronous invocations of it are retried and where their results go.
    pub async_invoke: AsyncPlan,
    /// Set for Node.js, Python and custom-runtime functions; `None` for WebAssembly.
    pub native: Option<NativePlan>,
}

/// A function run as a local process: a built-in runtime's bootstrap or a custom runtime's
/// server, driven by FC's custom-runtime HTTP protocol (reference fc.md §4).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NativePlan {
    /// The language and the label the manifest gave (`nodejs20`, `python3.10`, `custom`).
    pub runtime: NativeRuntime,
    /// The manifest's label, as written.
    pub label: String,
    /// Run once per instance before its first invocation.
    pub initializer: Option<String>,
    /// Limit of the initializer.
    #[serde(serialize_with = "as_secs")]
    pub initialization_timeout: Duration,
    /// Called before an instance is stopped.
    pub pre_stop: Option<String>,
    /// Custom runtimes: the command and its arguments (default `./bootstrap`).
    pub command: Vec<String>,
    /// The port the code listens on in the cloud (`FC_SERVER_PORT` there; locally each instance
    /// gets its own, told in the same variables).
    pub port: u16,
    /// Local directories put on `NODE_PATH` / `PYTHONPATH`, as FC's layers under `/opt`.
    pub layers: Vec<PathBuf>,
}

/// The language of a native function.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NativeRuntime {
    /// Node.js (`nodejs8` ... `nodejs20`): fcemu's bootstrap calls `file.export`.
    Node,
    /// Python 3 (`python3`, `python3.6` ... `python3.12`): fcemu's bootstrap calls
    /// `module.function`.
    Python,
    /// Any program serving the custom-runtime protocol.
    Custom,
}

/// FC's async invocation config (reference/fc.md §7).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AsyncPlan {
    /// Retries after a function error (0-8, default 3).
    pub max_retries: u32,
    /// Events older than this are dropped (default 86400 s).
    #[serde(serialize_with = "as_whole_secs")]
    pub max_event_age: time::Duration,
    /// Function invoked with the destination payload after a success.
    pub on_success: Option<String>,
    /// Function invoked with the destination payload after the last failure.
    pub on_failure: Option<String>,
}

impl Default for AsyncPlan {
    fn default() -> Self {
        AsyncPlan {
            max_retries: 3,
            max_event_age: time::Duration::seconds(86400),
            on_success: None,
            on_failure: None,
        }
    }
}

fn as_whole_secs<S: serde::Serializer>(d: &time::Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_i64(d.whole_seconds())
}

fn as_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

/// A trigger of a function.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TriggerPlan {
    /// Trigger name (given, or `<type>-<index>`).
    pub name: String,
    /// Whether it fires.
    pub enabled: bool,
    /// What fires it.
    pub kind: TriggerKind,
}

/// The shape of event a trigger delivers.
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize, clap::ValueEnum, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum HttpFormat {
    /// API Gateway event JSON.
    Apigw,
    /// FC 3.0 HTTP trigger event JSON (`version: "v1"`).
    Fc3,
    /// The request itself (FC 2.0's HTTP trigger, `/http-invoke`): native runtimes only; the
    /// default for custom runtimes; Node.js and Python get FC 2.0's HTTP handler signatures.
    Http,
}

/// How a Table Store trigger encodes its event.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StreamFormat {
    /// CBOR, as FC delivers it.
    Cbor,
    /// JSON (binary values as base64 strings).
    Json,
}

/// What fires a trigger, with its filters: one kind per trigger module (`crate::triggers`),
/// which owns its manifest table, its plan, its FC metadata, its synthetic events and its
/// matching.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum TriggerKind {
    /// A gateway route.
    Http(HttpTrigger),
    /// Object changes in a bucket.
    Oss(OssTrigger),
    /// A schedule.
    Timer(TimerTrigger),
    /// Row changes in a Table Store table with a stream.
    Tablestore(TablestoreTrigger),
    /// New log groups in a logstore.
    Log(LogTrigger),
}

impl TriggerKind {
    /// FC's view of the trigger (GetTrigger, ListTriggers): its type, source ARN and config,
    /// in `region` of `account`.
    pub fn fc_metadata(
        &self,
        region: &str,
        account: &str,
        enabled: bool,
    ) -> (&'static str, String, serde_json::Value) {
        match self {
            TriggerKind::Http(t) => t.fc_metadata(region, account, enabled),
            TriggerKind::Oss(t) => t.fc_metadata(region, account, enabled),
            TriggerKind::Timer(t) => t.fc_metadata(region, account, enabled),
            TriggerKind::Tablestore(t) => t.fc_metadata(region, account, enabled),
            TriggerKind::Log(t) => t.fc_metadata(region, account, enabled),
        }
    }

    /// The trigger type as written in the manifest.
    pub fn type_name(&self) -> &'static str {
        match self {
            TriggerKind::Http(HttpTrigger { .. }) => "http",
            TriggerKind::Oss(OssTrigger { .. }) => "oss",
            TriggerKind::Timer(TimerTrigger { .. }) => "timer",
            TriggerKind::Tablestore(TablestoreTrigger { .. }) => "tablestore",
            TriggerKind::Log(LogTrigger { .. }) => "log",
        }
    }
}

/// A Table Store table declared in the manifest (created at start if missing, never changed).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TablePlan {
    /// Instance name.
    pub instance: String,
    /// Primary key columns in order: name and type.
    #[serde(serialize_with = "pk_columns")]
    pub primary_key: Vec<(String, PkType)>,
    /// Whether the table has a stream (what Table Store triggers read).
    pub stream: bool,
    /// Versions kept per column.
    pub max_versions: u32,
    /// Seconds data lives; -1 for ever.
    pub ttl: i64,
}

/// Primary-key columns as the manifest writes them: `[["id", "STRING"], ...]`.
fn pk_columns<S: serde::Serializer>(cols: &[(String, PkType)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(cols.len()))?;
    for (name, ty) in cols {
        seq.serialize_element(&(name, ty.name()))?;
    }
    seq.end()
}

/// A logstore declared in the manifest, or read by a log trigger or a service's logs.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LogstorePlan {
    /// Project name.
    pub project: String,
    /// Logstore name.
    pub logstore: String,
    /// Shards.
    pub shards: u32,
    /// Days data is kept.
    pub ttl: u32,
}

/// A bucket declared in the manifest.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct BucketPlan {
    /// Canned ACL (`private`, `public-read`, `public-read-write`).
    pub acl: String,
    /// CORS rules set on the bucket at start and on reset (`cors = [...]`).
    pub cors: Option<fcemu_oss::cors::CorsConfig>,
}
