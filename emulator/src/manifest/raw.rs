//! The manifest exactly as written, with source spans for error messages.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawManifest {
    pub name: Option<Spanned<String>>,
    pub region: Option<Spanned<String>>,
    pub account_id: Option<Spanned<String>>,
    #[serde(default)]
    pub services: BTreeMap<Spanned<String>, RawService>,
    #[serde(default)]
    pub functions: BTreeMap<Spanned<String>, RawFunction>,
    #[serde(default)]
    pub buckets: BTreeMap<Spanned<String>, RawBucket>,
    #[serde(default)]
    pub tables: BTreeMap<Spanned<String>, RawTable>,
    #[serde(default)]
    pub logstores: BTreeMap<Spanned<String>, RawLogstore>,
    pub batch: Option<RawBatch>,
}

/// `[batch]`: how BatchCompute runs jobs here.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBatch {
    pub workers: Option<Spanned<i64>>,
    pub log_project: Option<Spanned<String>>,
    pub log_store: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTable {
    pub instance: Option<Spanned<String>>,
    pub primary_key: Option<Spanned<Vec<(String, String)>>>,
    pub stream: Option<bool>,
    pub max_versions: Option<Spanned<i64>>,
    pub ttl: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLogstore {
    pub shards: Option<Spanned<i64>>,
    pub ttl: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    pub log_project: Option<String>,
    pub log_store: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFunction {
    pub service: Option<Spanned<String>>,
    pub code: Option<Spanned<String>>,
    pub code_dir: Option<Spanned<String>>,
    pub handler: Option<String>,
    pub runtime: Option<Spanned<String>>,
    pub initializer: Option<String>,
    pub initialization_timeout: Option<Spanned<i64>>,
    pub pre_stop: Option<String>,
    pub command: Option<Spanned<Vec<String>>>,
    pub port: Option<Spanned<i64>>,
    #[serde(default)]
    pub layers: Vec<Spanned<String>>,
    pub memory: Option<Spanned<i64>>,
    pub timeout: Option<Spanned<i64>>,
    pub concurrency: Option<Spanned<i64>>,
    #[serde(default)]
    pub env: BTreeMap<Spanned<String>, Spanned<String>>,
    pub build: Option<String>,
    #[serde(default)]
    pub watch: Vec<String>,
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub triggers: Vec<Spanned<RawTrigger>>,
    #[serde(rename = "async")]
    pub async_invoke: Option<RawAsync>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAsync {
    pub max_retries: Option<Spanned<i64>>,
    pub max_event_age: Option<Spanned<i64>>,
    pub on_success: Option<Spanned<String>>,
    pub on_failure: Option<Spanned<String>>,
}

/// A `[[functions.*.triggers]]` table; each kind's fields are defined in its trigger module.
/// Trigger tables are an internally tagged enum, which serde buffers: spans of their fields are
/// lost, so errors point at the whole trigger table.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum RawTrigger {
    Http(crate::triggers::http_event::RawHttpTrigger),
    Oss(crate::triggers::oss_event::RawOssTrigger),
    Timer(crate::triggers::timer::RawTimerTrigger),
    Tablestore(crate::triggers::tablestore_event::RawTablestoreTrigger),
    Log(crate::triggers::log_trigger::RawLogTrigger),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBucket {
    pub acl: Option<String>,
    pub cors: Option<Spanned<Vec<RawCorsRule>>>,
}

/// One CORS rule of a bucket (PutBucketCors' `CORSRule`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCorsRule {
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    #[serde(default)]
    pub expose_headers: Vec<String>,
    pub max_age_seconds: Option<i64>,
}
