//! State export and import: every bucket and object, table and row, logstore and log group in
//! one JSON document (`"format": "fcemu-state"`), so a seed can be checked in, loaded at start
//! (`fcemu up --import`), into a test case (`import = "seed.json"`) or a running emulator, and
//! taken from one (`fcemu state export`).
//!
//! Import checks the whole document before writing anything, then adds to what exists: missing
//! buckets, tables and logstores are created, objects and rows overwritten, log groups appended.

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::manifest::TablePlan;
use crate::services::Services;
use crate::services::table_store::{create_table, value_from_json, value_json};

/// The `format` of a state document.
pub const FORMAT: &str = "fcemu-state";

/// The one version there is.
const VERSION: u32 = 1;

/// Logs pulled per call when exporting.
const PULL_BATCH: u32 = 1000;

/// Tags the Log Service stamps itself on every write: left out, an import stamps them again.
const STAMPED_TAGS: &[&str] = &["__receive_time__", "__client_ip__"];

/// A whole state document.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always 1.
    pub version: u32,
    /// Buckets with their objects.
    #[serde(default)]
    pub buckets: Vec<BucketState>,
    /// Tables with their rows.
    #[serde(default)]
    pub tables: Vec<TableState>,
    /// Logstores with their log groups.
    #[serde(default)]
    pub logstores: Vec<LogstoreState>,
}

/// A bucket and its objects.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketState {
    /// Bucket name.
    pub name: String,
    /// Its objects, in key order.
    #[serde(default)]
    pub objects: Vec<ObjectState>,
}

/// One object.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ObjectState {
    /// Key.
    pub key: String,
    /// Content-Type, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The content, base64.
    pub base64: String,
}

/// A table and its rows.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TableState {
    /// Instance.
    pub instance: String,
    /// Table name.
    pub name: String,
    /// Primary key columns in order: name and type (`STRING`, `INTEGER`, `BINARY`).
    pub primary_key: Vec<(String, String)>,
    /// Whether it has a stream.
    #[serde(default)]
    pub stream: bool,
    /// Versions kept per column.
    #[serde(default = "one")]
    pub max_versions: u32,
    /// Seconds data lives, -1 for ever.
    #[serde(default = "forever")]
    pub ttl: i64,
    /// Rows in key order: `primaryKey` and `columns` by name (binary as `{"base64": ...}`).
    #[serde(default)]
    pub rows: Vec<RowState>,
}

fn one() -> u32 {
    1
}

fn forever() -> i64 {
    -1
}

/// One row, the newest version of each column.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RowState {
    /// Primary key columns by name.
    pub primary_key: Map<String, Value>,
    /// Attribute columns by name.
    #[serde(default)]
    pub columns: Map<String, Value>,
}

/// A logstore and its log groups.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogstoreState {
    /// Project.
    pub project: String,
    /// Logstore.
    pub logstore: String,
    /// Shard count.
    #[serde(default = "two")]
    pub shards: u32,
    /// Log groups, oldest first per shard.
    #[serde(default)]
    pub groups: Vec<GroupState>,
}

fn two() -> u32 {
    2
}

/// One log group.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupState {
    /// `__topic__`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// `__source__`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Tags of the group.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub tags: Map<String, Value>,
    /// The logs.
    pub logs: Vec<LogState>,
}

/// One log.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogState {
    /// Unix seconds.
    pub time: u32,
    /// Its fields, in order.
    pub contents: Vec<(String, String)>,
}

/// Everything the services hold.
pub async fn export(services: &Services) -> anyhow::Result<State> {
    let mut state = State {
        format: FORMAT.into(),
        version: VERSION,
        buckets: Vec::new(),
        tables: Vec::new(),
        logstores: Vec::new(),
    };
    let oss = services.oss();
    for b in oss.list_buckets().await? {
        let mut objects = Vec::new();
        let mut after = None;
        loop {
            let params = fcemu_oss::listing::ListParams {
                prefix: String::new(),
                delimiter: String::new(),
                start_after: after.clone(),
                max: 1000,
            };
            let page = oss.list_objects(&b.name, params).await?;
            for o in &page.contents {
                let bytes = oss.get_bytes(&b.name, &o.key).await?;
                objects.push(ObjectState {
                    key: o.key.clone(),
                    content_type: o.attrs.headers.get("content-type").cloned(),
                    base64: base64::engine::general_purpose::STANDARD.encode(bytes),
                });
            }
            if !page.truncated {
                break;
            }
            after = page.last;
        }
        state.buckets.push(BucketState {
            name: b.name,
            objects,
        });
    }
    let ots = services.ots();
    for (instance, info) in ots.all_tables().await? {
        let rows = ots
            .all_rows(&instance, &info.name)
            .await?
            .into_iter()
            .map(|r| {
                let mut columns = Map::new();
                for c in &r.cells {
                    columns
                        .entry(c.name.clone())
                        .or_insert_with(|| value_json(&c.value));
                }
                RowState {
                    primary_key: r
                        .primary_key
                        .iter()
                        .map(|(k, v)| (k.clone(), value_json(v)))
                        .collect(),
                    columns,
                }
            })
            .collect();
        state.tables.push(TableState {
            instance,
            primary_key: info
                .primary_key
                .iter()
                .map(|c| {
                    let ty = match c.ty {
                        fcemu_tablestore::model::PkType::Integer => "INTEGER",
                        fcemu_tablestore::model::PkType::String => "STRING",
                        fcemu_tablestore::model::PkType::Binary => "BINARY",
                    };
                    (c.name.clone(), ty.to_string())
                })
                .collect(),
            stream: info.stream.is_some(),
            max_versions: u32::try_from(info.options.max_versions).unwrap_or(1),
            ttl: i64::from(info.options.time_to_live),
            name: info.name,
            rows,
        });
    }
    let sls = services.sls();
    let (projects, _) = sls.list_projects("", 0, 500).await?;
    for p in projects {
        let (names, _) = sls.list_logstores(&p.name, "", 0, 500).await?;
        for name in names {
            let ls = sls.logstore(&p.name, &name).await?;
            let mut groups = Vec::new();
            for shard in 0..i64::from(ls.config.shard_count) {
                let mut cursor = sls
                    .cursor(&p.name, &name, shard, fcemu_sls::CursorFrom::Begin)
                    .await?;
                loop {
                    let pulled = sls
                        .pull_logs(&p.name, &name, shard, &cursor, PULL_BATCH, None)
                        .await?;
                    for g in &pulled.groups {
                        groups.push(group_state(fcemu_sls::proto::decode_group(g)?));
                    }
                    if pulled.groups.is_empty() || pulled.next_cursor == cursor {
                        break;
                    }
                    cursor = pulled.next_cursor;
                }
            }
            state.logstores.push(LogstoreState {
                project: p.name.clone(),
                logstore: name,
                shards: ls.config.shard_count,
                groups,
            });
        }
    }
    Ok(state)
}

fn group_state(g: fcemu_sls::LogGroup) -> GroupState {
    GroupState {
        topic: g.topic.filter(|t| !t.is_empty()),
        source: g.source.filter(|s| !s.is_empty()),
        tags: g
            .log_tags
            .into_iter()
            .filter(|t| !STAMPED_TAGS.contains(&t.key.as_str()))
            .map(|t| (t.key, Value::String(t.value)))
            .collect(),
        logs: g
            .logs
            .into_iter()
            .map(|l| LogState {
                time: l.time,
                contents: l.contents.into_iter().map(|c| (c.key, c.value)).collect(),
            })
            .collect(),
    }
}

/// Checks a document and everything in it that can be checked without writing.
pub fn parse(text: &str) -> anyhow::Result<State> {
    let state: State = serde_json::from_str(text)
        .map_err(|e| anyhow::anyhow!("not an fcemu state document: {e}"))?;
    if state.format != FORMAT || state.version != VERSION {
        anyhow::bail!(
            "not an fcemu state document: expected \"format\": \"{FORMAT}\", \"version\": {VERSION}"
        );
    }
    for b in &state.buckets {
        for o in &b.objects {
            base64::engine::general_purpose::STANDARD
                .decode(&o.base64)
                .map_err(|e| anyhow::anyhow!("object {}/{}: base64: {e}", b.name, o.key))?;
        }
    }
    for t in &state.tables {
        for (i, r) in t.rows.iter().enumerate() {
            row_write(t, r).map_err(|e| {
                anyhow::anyhow!("table {}/{} row {}: {e}", t.instance, t.name, i + 1)
            })?;
        }
    }
    Ok(state)
}

fn row_write(t: &TableState, r: &RowState) -> Result<fcemu_tablestore::rows::RowWrite, String> {
    let columns = r
        .columns
        .iter()
        .map(|(name, v)| Ok((name.clone(), value_from_json(v)?)))
        .collect::<Result<Vec<_>, String>>()?;
    let key_order: Vec<&str> = t.primary_key.iter().map(|(n, _)| n.as_str()).collect();
    crate::services::table_store::put_row(
        &t.name,
        &key_order,
        |name| r.primary_key.get(name).map(value_from_json),
        columns,
    )
}

/// What an import wrote.
#[derive(Debug, Default, Serialize)]
pub struct Imported {
    /// Objects written.
    pub objects: usize,
    /// Rows written.
    pub rows: usize,
    /// Logs appended.
    pub logs: usize,
}

/// Writes a checked document into the services.
pub async fn import(services: &Services, state: &State) -> anyhow::Result<Imported> {
    let mut done = Imported::default();
    let oss = services.oss();
    for b in &state.buckets {
        oss.create_bucket_if_missing(&b.name).await?;
        for o in &b.objects {
            let bytes = base64::engine::general_purpose::STANDARD.decode(&o.base64)?;
            oss.put_bytes(&b.name, &o.key, bytes, o.content_type.as_deref())
                .await?;
            done.objects += 1;
        }
    }
    let ots = services.ots();
    for t in &state.tables {
        let primary_key = t
            .primary_key
            .iter()
            .map(|(n, ty)| {
                let ty = crate::manifest::pk_type(ty).ok_or_else(|| {
                    anyhow::anyhow!(
                        "table {}/{}: primary key column {n} has type {ty:?}; use STRING, INTEGER or BINARY",
                        t.instance,
                        t.name
                    )
                })?;
                Ok((n.clone(), ty))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let plan = TablePlan {
            instance: t.instance.clone(),
            primary_key,
            stream: t.stream,
            max_versions: t.max_versions,
            ttl: t.ttl,
        };
        create_table(ots, &t.name, &plan)
            .await
            .map_err(|e| anyhow::anyhow!("table {}/{}: {e}", t.instance, t.name))?;
        for r in &t.rows {
            let write = row_write(t, r).map_err(anyhow::Error::msg)?;
            ots.write_row(&t.instance, write)
                .await
                .map_err(|e| anyhow::anyhow!("table {}/{}: {e}", t.instance, t.name))?;
            done.rows += 1;
        }
    }
    let sls = services.sls();
    for l in &state.logstores {
        sls.ensure_logstore(&l.project, &l.logstore, l.shards)
            .await?;
        for g in &l.groups {
            let group = fcemu_sls::LogGroup {
                logs: g
                    .logs
                    .iter()
                    .map(|log| fcemu_sls::Log {
                        time: log.time,
                        contents: log
                            .contents
                            .iter()
                            .map(|(k, v)| fcemu_sls::LogContent {
                                key: k.clone(),
                                value: v.clone(),
                            })
                            .collect(),
                        time_ns: None,
                    })
                    .collect(),
                topic: g.topic.clone(),
                source: g.source.clone(),
                log_tags: g
                    .tags
                    .iter()
                    .map(|(k, v)| fcemu_sls::LogTag {
                        key: k.clone(),
                        value: v
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string()),
                    })
                    .collect(),
                ..Default::default()
            };
            done.logs += group.logs.len();
            sls.put_logs(&l.project, &l.logstore, group, Default::default())
                .await?;
        }
    }
    Ok(done)
}
