//! Table Store: requests with `x-ots-*` headers; the tables the manifest declares, with streams
//! for the tables Table Store triggers read; row changes fire those triggers.

use std::any::Any;
use std::sync::Arc;

use axum::Router;
use axum::http::HeaderMap;
use futures::FutureExt;
use futures::future::BoxFuture;

use super::{EmulatedService, Setup};
use crate::app::App;
use crate::manifest::TablestoreTrigger;
use crate::manifest::{AppPlan, TablePlan, TriggerKind};
use crate::triggers::Triggers;

/// Opens Table Store in the data directory and creates the tables of `plan`.
pub fn open<'a>(
    plan: &'a AppPlan,
    setup: &'a Setup<'a>,
) -> BoxFuture<'a, anyhow::Result<Arc<dyn EmulatedService>>> {
    async move {
        let mut cfg = fcemu_tablestore::OtsConfig::with_context(setup.context(plan));
        cfg.known_secrets.extend(setup.known_secrets());
        let ots = tokio::task::spawn_blocking(move || fcemu_tablestore::Ots::open(cfg))
            .await?
            .map_err(|e| anyhow::anyhow!("cannot open Table Store: {e}"))?;
        ots.ensure(plan).await?;
        Ok(Arc::new(ots) as Arc<dyn EmulatedService>)
    }
    .boxed()
}

/// Whether a Table Store trigger of `plan` reads `instance`/`table` (such a table needs a stream).
pub fn trigger_reads_table(plan: &AppPlan, instance: &str, table: &str) -> bool {
    plan.functions.values().any(|f| {
        f.triggers.iter().any(|t| {
            matches!(&t.kind, TriggerKind::Tablestore(TablestoreTrigger { instance: i, table: n, .. })
                if i == instance && n == table)
        })
    })
}

impl EmulatedService for fcemu_tablestore::Ots {
    fn name(&self) -> &'static str {
        "Table Store"
    }

    fn claims(&self, _path: &str, headers: &HeaderMap) -> bool {
        headers.keys().any(|k| k.as_str().starts_with("x-ots-"))
    }

    fn router(&self) -> Router {
        fcemu_tablestore::Ots::router(self)
    }

    fn ensure<'a>(&'a self, plan: &'a AppPlan) -> BoxFuture<'a, anyhow::Result<()>> {
        async move {
            for (name, table) in &plan.tables {
                create_table(self, name, table)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot create table {name}: {e}"))?;
            }
            // A Table Store trigger reads the table's stream: turn it on for tables that exist.
            for f in plan.functions.values() {
                for t in &f.triggers {
                    if let TriggerKind::Tablestore(TablestoreTrigger {
                        instance, table, ..
                    }) = &t.kind
                        && self.describe_table(instance, table).await.is_ok()
                    {
                        self.set_stream(instance, table, true, None)
                            .await
                            .map_err(|e| {
                                anyhow::anyhow!("cannot enable the stream of {table}: {e}")
                            })?;
                    }
                }
            }
            Ok(())
        }
        .boxed()
    }

    fn reset(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        async move { Ok(fcemu_tablestore::Ots::reset(self).await?) }.boxed()
    }

    fn connect(&self, app: &Arc<App>, triggers: &Arc<Triggers>, _services: &super::Services) {
        triggers.follow_row_changes(&self.changes());
        let reader = app.clone();
        self.set_stream_policy(Arc::new(move |instance, table| {
            trigger_reads_table(&reader.plan(), instance, table)
        }));
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A Table Store value as JSON: numbers, strings and booleans as themselves, binary as
/// `{"base64": ...}`.
pub fn value_json(v: &fcemu_tablestore::Value) -> serde_json::Value {
    use base64::Engine;
    use fcemu_tablestore::Value as V;
    match v {
        V::Integer(i) => serde_json::json!(i),
        V::Double(d) => serde_json::json!(d),
        V::Boolean(b) => serde_json::json!(b),
        V::String(s) => serde_json::json!(s),
        V::Binary(b) => {
            serde_json::json!({"base64": base64::engine::general_purpose::STANDARD.encode(b)})
        }
    }
}

/// The Table Store value [`value_json`] made: an integer, a float (DOUBLE), a string, a boolean
/// or `{"base64": ...}`.
pub fn value_from_json(v: &serde_json::Value) -> Result<fcemu_tablestore::Value, String> {
    use base64::Engine;
    use fcemu_tablestore::Value as V;
    use serde_json::Value as J;
    Ok(match v {
        J::Number(n) if n.is_i64() => V::Integer(n.as_i64().unwrap_or_default()),
        J::Number(n) => V::Double(n.as_f64().unwrap_or_default()),
        J::String(s) => V::String(s.clone()),
        J::Bool(b) => V::Boolean(*b),
        J::Object(o) if o.len() == 1 && o.get("base64").is_some_and(J::is_string) => V::Binary(
            base64::engine::general_purpose::STANDARD
                .decode(o["base64"].as_str().unwrap_or_default())
                .map_err(|e| format!("bad base64: {e}"))?,
        ),
        other => {
            return Err(format!(
                "{other} is not a Table Store value: use a number, a string, a boolean or {{\"base64\": ...}}"
            ));
        }
    })
}

/// Creates a declared table unless it exists (an existing table is never changed, but gets a
/// stream when the manifest asks for one).
pub async fn create_table(
    ots: &fcemu_tablestore::Ots,
    name: &str,
    table: &TablePlan,
) -> Result<(), fcemu_tablestore::OtsError> {
    use fcemu_tablestore::model::{PkColumnSchema, TableOptions};
    let primary_key = table
        .primary_key
        .iter()
        .map(|(column, ty)| PkColumnSchema {
            name: column.clone(),
            ty: *ty,
            auto_increment: false,
        })
        .collect();
    let request = fcemu_tablestore::tables::CreateTable {
        name: name.to_string(),
        primary_key,
        defined_columns: Vec::new(),
        reserved_read: 0,
        reserved_write: 0,
        options: TableOptions {
            time_to_live: i32::try_from(table.ttl).unwrap_or(i32::MAX),
            max_versions: i32::try_from(table.max_versions).unwrap_or(i32::MAX),
            ..TableOptions::default()
        },
        stream: table.stream.then_some((true, 0)),
    };
    match ots.create_table(&table.instance, request).await {
        Ok(()) => Ok(()),
        Err(fcemu_tablestore::OtsError::TableAlreadyExist) if table.stream => ots
            .set_stream(&table.instance, name, true, None)
            .await
            .map(|_| ()),
        Err(fcemu_tablestore::OtsError::TableAlreadyExist) => Ok(()),
        Err(e) => Err(e),
    }
}

/// A put of one whole row of `table`: the primary key in `key_order` (the table's schema order),
/// each column's value from `key`, and the attribute `columns` (state imports and `fcemu test`
/// setup rows).
pub fn put_row(
    table: &str,
    key_order: &[&str],
    mut key: impl FnMut(&str) -> Option<Result<fcemu_tablestore::Value, String>>,
    columns: Vec<(String, fcemu_tablestore::Value)>,
) -> Result<fcemu_tablestore::rows::RowWrite, String> {
    use fcemu_tablestore::plainbuffer::PbValue;
    use fcemu_tablestore::rows::{ColumnOp, RowWrite, WriteKind};
    let mut pk = Vec::new();
    for name in key_order {
        let v = key(name).ok_or_else(|| format!("primary key column {name} is missing"))??;
        pk.push((name.to_string(), PbValue::Plain(v)));
    }
    let columns = columns
        .into_iter()
        .map(|(name, value)| ColumnOp::Put {
            name,
            value,
            timestamp: None,
        })
        .collect();
    Ok(RowWrite {
        table: table.to_string(),
        primary_key: pk,
        kind: WriteKind::Put(columns),
        condition: Default::default(),
    })
}
