//! `[tables.*]` and `[logstores.*]`: the Table Store tables and logstores that exist when the
//! emulator starts, checked against the services' naming rules.

use std::collections::BTreeMap;

use fcemu_tablestore::model::PkType;
use toml::Spanned;

use super::error::Sink;
use super::plan::{AppPlan, LogstorePlan, TablePlan, TriggerKind};
use super::raw::{RawLogstore, RawTable};
use crate::manifest::{LogTrigger, TablestoreTrigger};

/// The instance a table belongs to when neither the table nor a trigger names one.
pub const DEFAULT_INSTANCE: &str = "fcemu";
/// Shards of a logstore nobody declared (one a log trigger reads, or a service's log store).
pub const DEFAULT_SHARDS: u32 = 2;
/// Days a logstore keeps data unless declared.
pub const DEFAULT_LOG_TTL_DAYS: u32 = 30;

/// Checks `[tables.*]`. Instances left out are filled in by [`complete`].
pub(super) fn resolve_tables(
    sink: &mut Sink,
    raw: BTreeMap<Spanned<String>, RawTable>,
) -> BTreeMap<String, TablePlan> {
    let mut out = BTreeMap::new();
    for (name, t) in raw {
        let span = name.span();
        let name = name.into_inner();
        if !valid_table_name(&name) {
            sink.push(
                Some(span.clone()),
                format!("table name {name:?} is not valid"),
                "invalid table name",
                "table names are 1-255 letters, digits and '_', not starting with a digit",
            );
        }
        let instance = match t.instance {
            Some(i) => {
                let (ispan, i) = (i.span(), i.into_inner());
                if !valid_instance_name(&i) {
                    sink.push(Some(ispan), format!("table `{name}`: instance name {i:?} is not valid"), "invalid instance name", "instance names are 3-16 letters, digits and '-', starting with a letter and not ending with '-'");
                }
                i
            }
            None => String::new(),
        };
        let primary_key = match t.primary_key {
            None => {
                sink.push(
                    Some(span.clone()),
                    format!("table `{name}` has no `primary_key`"),
                    "no primary key",
                    "add primary_key = [[\"id\", \"STRING\"]] (1 to 4 columns of STRING, INTEGER or BINARY)",
                );
                Vec::new()
            }
            Some(pk) => {
                let (pspan, pk) = (pk.span(), pk.into_inner());
                if pk.is_empty() || pk.len() > 4 {
                    sink.push(
                        Some(pspan.clone()),
                        format!("table `{name}`: {} primary key columns", pk.len()),
                        "1 to 4 columns",
                        "a primary key has 1 to 4 columns",
                    );
                }
                let mut checked = Vec::new();
                for (column, ty) in pk {
                    let parsed = pk_type(&ty);
                    if parsed.is_none() {
                        sink.push(
                            Some(pspan.clone()),
                            format!(
                                "table `{name}`: primary key column `{column}` has type {ty:?}"
                            ),
                            "unknown type",
                            "primary key columns are STRING, INTEGER or BINARY",
                        );
                    }
                    if !valid_table_name(&column) {
                        sink.push(Some(pspan.clone()), format!("table `{name}`: primary key column name {column:?} is not valid"), "invalid column name", "column names are 1-255 letters, digits and '_', not starting with a digit");
                    }
                    checked.push((column, parsed.unwrap_or(PkType::String)));
                }
                checked
            }
        };
        let max_versions = match t.max_versions {
            None => 1,
            Some(v) => {
                let (vspan, v) = (v.span(), v.into_inner());
                if !(1..=i64::from(i32::MAX)).contains(&v) {
                    sink.push(
                        Some(vspan),
                        format!("table `{name}`: max_versions {v}"),
                        "out of range",
                        "max_versions is at least 1",
                    );
                }
                v.clamp(1, i64::from(i32::MAX)) as u32
            }
        };
        let ttl = match t.ttl {
            None => -1,
            Some(v) => {
                let (vspan, v) = (v.span(), v.into_inner());
                if v != -1 && v < 86_400 {
                    sink.push(
                        Some(vspan),
                        format!("table `{name}`: ttl {v} s"),
                        "out of range",
                        "ttl is -1 (keep for ever) or at least 86400 seconds, as in Table Store",
                    );
                }
                v
            }
        };
        out.insert(
            name,
            TablePlan {
                instance,
                primary_key,
                stream: t.stream.unwrap_or(false),
                max_versions,
                ttl,
            },
        );
    }
    out
}

/// Checks `[logstores."project/logstore"]`.
pub(super) fn resolve_logstores(
    sink: &mut Sink,
    raw: BTreeMap<Spanned<String>, RawLogstore>,
) -> BTreeMap<String, LogstorePlan> {
    let mut out = BTreeMap::new();
    for (key, l) in raw {
        let span = key.span();
        let key = key.into_inner();
        let Some((project, logstore)) = key.split_once('/') else {
            sink.push(
                Some(span),
                format!("logstore {key:?} does not name its project"),
                "not \"project/logstore\"",
                format!(
                    "write the key as \"<project>/{key}\", e.g. [logstores.\"my-project/{key}\"]"
                ),
            );
            continue;
        };
        if !valid_project_name(project) {
            sink.push(Some(span.clone()), format!("project name {project:?} is not valid"), "invalid project name", "project names are 3-63 lower-case letters, digits and '-', starting and ending with a letter or digit");
        }
        if !valid_logstore_name(logstore) {
            sink.push(Some(span.clone()), format!("logstore name {logstore:?} is not valid"), "invalid logstore name", "logstore names are 3-63 lower-case letters, digits, '_' and '-', starting and ending with a letter or digit");
        }
        let shards = match l.shards {
            None => DEFAULT_SHARDS,
            Some(v) => {
                let (vspan, v) = (v.span(), v.into_inner());
                if !(1..=256).contains(&v) {
                    sink.push(
                        Some(vspan),
                        format!("logstore {key:?}: {v} shards"),
                        "out of range",
                        "a logstore has 1 to 256 shards",
                    );
                }
                v.clamp(1, 256) as u32
            }
        };
        let ttl = match l.ttl {
            None => DEFAULT_LOG_TTL_DAYS,
            Some(v) => {
                let (vspan, v) = (v.span(), v.into_inner());
                if !(1..=3650).contains(&v) {
                    sink.push(
                        Some(vspan),
                        format!("logstore {key:?}: ttl {v} days"),
                        "out of range",
                        "ttl is 1 to 3650 days",
                    );
                }
                v.clamp(1, 3650) as u32
            }
        };
        out.insert(
            key.clone(),
            LogstorePlan {
                project: project.to_string(),
                logstore: logstore.to_string(),
                shards,
                ttl,
            },
        );
    }
    out
}

/// Fills in what depends on functions (and checks that Table Store triggers read tables with
/// a stream): a table's instance from the Table Store triggers on it
/// (else [`DEFAULT_INSTANCE`]), and the logstores log triggers read and services write their
/// functions' logs to.
pub(super) fn complete(sink: &mut Sink, plan: &mut AppPlan) {
    let mut implied = Vec::new();
    for f in plan.functions.values() {
        for t in &f.triggers {
            match &t.kind {
                TriggerKind::Tablestore(TablestoreTrigger {
                    instance, table, ..
                }) => {
                    let Some(tp) = plan.tables.get_mut(table) else {
                        continue;
                    };
                    if tp.instance.is_empty() {
                        tp.instance = instance.clone();
                    }
                    if !tp.stream {
                        sink.push(
                            None,
                            format!("function `{}`: trigger `{}` reads table `{table}`, which has no stream", f.name, t.name),
                            "no stream",
                            format!("add stream = true to [tables.{table}]: Table Store triggers read a table's stream"),
                        );
                    }
                }
                TriggerKind::Log(LogTrigger {
                    project, logstore, ..
                }) => implied.push((project.clone(), logstore.clone())),
                _ => {}
            }
        }
    }
    for s in plan.services.values() {
        if !s.log_project.is_empty() && !s.log_store.is_empty() {
            implied.push((s.log_project.clone(), s.log_store.clone()));
        }
    }
    for tp in plan.tables.values_mut() {
        if tp.instance.is_empty() {
            tp.instance = DEFAULT_INSTANCE.into();
        }
    }
    for (project, logstore) in implied {
        plan.logstores
            .entry(format!("{project}/{logstore}"))
            .or_insert(LogstorePlan {
                project,
                logstore,
                shards: DEFAULT_SHARDS,
                ttl: DEFAULT_LOG_TTL_DAYS,
            });
    }
}

fn valid_table_name(name: &str) -> bool {
    (1..=255).contains(&name.len())
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn valid_instance_name(name: &str) -> bool {
    (3..=16).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && !name.ends_with('-')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Project names follow the rule of bucket names.
fn valid_project_name(name: &str) -> bool {
    super::validate::valid_bucket_name(name)
}

fn valid_logstore_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && !name.starts_with(['-', '_'])
        && !name.ends_with(['-', '_'])
}

/// A primary-key type by name (`STRING`, `INTEGER`, `BINARY`; any case).
pub fn pk_type(name: &str) -> Option<PkType> {
    match name.to_ascii_uppercase().as_str() {
        "STRING" => Some(PkType::String),
        "INTEGER" => Some(PkType::Integer),
        "BINARY" => Some(PkType::Binary),
        _ => None,
    }
}
