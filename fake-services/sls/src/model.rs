//! The Log Service's nouns: projects, logstores, shards, what a write appended, and query
//! results. Plain data; the wire layer serializes them.

use serde_json::{Map, Value};
use time::OffsetDateTime;

/// A project.
#[derive(Clone, Debug, PartialEq)]
pub struct Project {
    /// Project name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// When it was created.
    pub created: OffsetDateTime,
    /// When it last changed.
    pub modified: OffsetDateTime,
}

/// A logstore's settings as clients set them (`ttl`, `shardCount`, `appendMeta`, ...).
#[derive(Clone, Debug, PartialEq)]
pub struct LogstoreConfig {
    /// Logstore name.
    pub name: String,
    /// Days data is kept (1..=3650; 3650 = forever).
    pub ttl: u32,
    /// Number of shards (fixed at creation).
    pub shard_count: u32,
    /// Whether the service adds `__client_ip__` to each group's tags.
    pub append_meta: bool,
    /// Whether shards split automatically (stored, not acted on).
    pub auto_split: bool,
    /// Most shards an automatic split may reach (stored).
    pub max_split_shard: u32,
    /// Web tracking (stored).
    pub enable_tracking: bool,
    /// `""`, `None`, `Metrics` or `Event` (stored).
    pub telemetry_type: String,
    /// `standard` or `query` (stored).
    pub mode: String,
    /// Other keys the client sent, kept and returned as given.
    pub extra: Map<String, Value>,
}

impl LogstoreConfig {
    /// Defaults for a logstore named `name` with `shard_count` shards (the SDK's defaults).
    pub fn new(name: impl Into<String>, shard_count: u32) -> Self {
        Self {
            name: name.into(),
            ttl: 30,
            shard_count,
            append_meta: false,
            auto_split: true,
            max_split_shard: 64,
            enable_tracking: false,
            telemetry_type: String::new(),
            mode: "standard".into(),
            extra: Map::new(),
        }
    }
}

/// A logstore: its settings and when they were made.
#[derive(Clone, Debug, PartialEq)]
pub struct Logstore {
    /// Settings.
    pub config: LogstoreConfig,
    /// When it was created.
    pub created: OffsetDateTime,
    /// When its settings last changed.
    pub modified: OffsetDateTime,
}

/// A logstore's index settings: the JSON document the client sent, kept as given.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexConfig {
    /// The document (`line`, `keys`, ...).
    pub doc: Map<String, Value>,
    /// When it last changed.
    pub modified: OffsetDateTime,
}

/// What one durable PutLogs appended: enough for a Log trigger to build its event
/// (`projectName`, `logstoreName`, `shardId`, `beginCursor`, `endCursor`, `cursorTime`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogsAppended {
    /// Project name.
    pub project: String,
    /// Logstore name.
    pub logstore: String,
    /// Shard the group went to.
    pub shard: u32,
    /// Logs in the group.
    pub count: usize,
    /// Position of the appended group within the shard.
    pub begin_seq: u64,
    /// Position after it (the shard's new end).
    pub end_seq: u64,
    /// Cursor of the appended group (`[begin_cursor, end_cursor)` covers exactly it).
    pub begin_cursor: String,
    /// Cursor after it: the shard's end cursor once the write is durable.
    pub end_cursor: String,
    /// When the service received it (also the group's `__receive_time__` tag, in seconds).
    pub received_at: OffsetDateTime,
    /// The invocation whose request wrote it, and the chain depth ([`fcemu_core::Cause`];
    /// the default for writes from outside).
    pub cause: fcemu_core::Cause,
}

/// Where GetCursor starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CursorFrom {
    /// The oldest group kept.
    Begin,
    /// After the newest group.
    End,
    /// The first group received at or after this unix time (seconds).
    Time(i64),
}

/// What PullLogs read.
#[derive(Clone, Debug, PartialEq)]
pub struct Pulled {
    /// Encoded LogGroups, in shard order.
    pub groups: Vec<Vec<u8>>,
    /// Cursor after the last group returned (the request's cursor when nothing was returned).
    pub next_cursor: String,
    /// Receive time (seconds) of the last group returned, if any.
    pub cursor_time: Option<i64>,
}

/// One log as GetLogs shows it: `__time__`, `__topic__`, `__source__`, `__tag__:<k>` and the
/// content keys, all values strings.
pub type Row = Vec<(String, String)>;

/// A GetLogs / GetHistograms request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogQuery {
    /// Inclusive start, unix seconds (`__time__`).
    pub from: i64,
    /// Exclusive end, unix seconds.
    pub to: i64,
    /// Query text: `search [| select ...]`.
    pub query: String,
    /// Only logs with this `__topic__` (empty: any).
    pub topic: String,
    /// Most rows returned (clamped to 100).
    pub line: u32,
    /// Rows skipped.
    pub offset: u64,
    /// Newest first.
    pub reverse: bool,
}

/// GetLogs' answer.
#[derive(Clone, Debug, PartialEq)]
pub struct LogsPage {
    /// The rows.
    pub rows: Vec<Row>,
    /// Column names: content keys seen (search) or select columns (SQL).
    pub keys: Vec<String>,
    /// Rows that matched before paging (search) or rows produced (SQL).
    pub processed: u64,
    /// Whether the query had an analytic part.
    pub has_sql: bool,
    /// The search part.
    pub where_query: String,
    /// The analytic part (without the `|`).
    pub agg_query: String,
}

/// One bucket of GetHistograms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Histogram {
    /// Inclusive start (seconds).
    pub from: i64,
    /// Exclusive end (seconds).
    pub to: i64,
    /// Matching logs in the bucket.
    pub count: u64,
}
