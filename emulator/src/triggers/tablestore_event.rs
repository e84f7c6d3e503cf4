//! The Table Store trigger's event (reference/fc.md §2.4): `Sync-v1` records of row changes,
//! CBOR as FC delivers it (binary values as CBOR byte strings), or JSON on request (binary values
//! as base64 strings).

use crate::manifest::StreamFormat;
use base64::Engine;
use ciborium::Value as Cbor;
use fcemu_tablestore::model::{ColumnChangeKind, RowAction, StreamRecord, Value};

/// Records delivered in one invocation at most (FC batches a stream's records the same way).
pub const MAX_RECORDS: usize = 100;

/// The event for `records`.
pub fn event(records: &[StreamRecord], cbor: bool) -> Vec<u8> {
    let doc = map(vec![
        ("Version", Cbor::Text("Sync-v1".into())),
        ("Records", Cbor::Array(records.iter().map(record).collect())),
    ]);
    if cbor {
        let mut out = Vec::new();
        let _ = ciborium::into_writer(&doc, &mut out);
        out
    } else {
        serde_json::to_vec(&to_json(&doc)).unwrap_or_default()
    }
}

fn record(r: &StreamRecord) -> Cbor {
    let kind = match r.action {
        RowAction::PutRow => "PutRow",
        RowAction::UpdateRow => "UpdateRow",
        RowAction::DeleteRow => "DeleteRow",
    };
    let primary_key = r
        .primary_key
        .iter()
        .map(|(name, v)| {
            map(vec![
                ("ColumnName", Cbor::Text(name.clone())),
                ("Value", value(v)),
            ])
        })
        .collect();
    let columns = r
        .columns
        .iter()
        .map(|c| {
            let kind = match c.kind {
                ColumnChangeKind::Put => "Put",
                ColumnChangeKind::DeleteOneVersion => "DeleteOneVersion",
                ColumnChangeKind::DeleteAllVersions => "DeleteAllVersions",
            };
            let mut fields = vec![
                ("Type", Cbor::Text(kind.into())),
                ("ColumnName", Cbor::Text(c.name.clone())),
            ];
            if let Some(v) = &c.value {
                fields.push(("Value", value(v)));
            }
            if let Some(ts) = c.timestamp {
                fields.push(("Timestamp", Cbor::Integer(ts.into())));
            }
            map(fields)
        })
        .collect();
    map(vec![
        ("Type", Cbor::Text(kind.into())),
        (
            "Info",
            map(vec![(
                "Timestamp",
                Cbor::Integer(r.sequence.timestamp_us.into()),
            )]),
        ),
        ("PrimaryKey", Cbor::Array(primary_key)),
        ("Columns", Cbor::Array(columns)),
    ])
}

fn value(v: &Value) -> Cbor {
    match v {
        Value::Integer(i) => Cbor::Integer((*i).into()),
        Value::Double(d) => Cbor::Float(*d),
        Value::Boolean(b) => Cbor::Bool(*b),
        Value::String(s) => Cbor::Text(s.clone()),
        Value::Binary(b) => Cbor::Bytes(b.clone()),
    }
}

fn map(fields: Vec<(&str, Cbor)>) -> Cbor {
    Cbor::Map(
        fields
            .into_iter()
            .map(|(k, v)| (Cbor::Text(k.into()), v))
            .collect(),
    )
}

fn to_json(v: &Cbor) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Cbor::Integer(i) => i64::try_from(*i).map_or(J::Null, J::from),
        Cbor::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Cbor::Bool(b) => J::Bool(*b),
        Cbor::Text(s) => J::String(s.clone()),
        Cbor::Bytes(b) => J::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Cbor::Array(items) => J::Array(items.iter().map(to_json).collect()),
        Cbor::Map(fields) => J::Object(
            fields
                .iter()
                .filter_map(|(k, v)| Some((k.as_text()?.to_string(), to_json(v))))
                .collect(),
        ),
        _ => J::Null,
    }
}

/// Synthetic row changes of a Table Store table: `{"type": "tablestore", ...}` and `fcemu
/// events generate tablestore`.
#[derive(Debug, Clone, serde::Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct TablestoreEventArgs {
    /// Instance.
    #[arg(long)]
    pub instance: String,
    /// Table.
    #[arg(long)]
    pub table: String,
    /// Records in the decoded `Sync-v1` shape (default: one PutRow; JSON only).
    #[arg(skip)]
    #[serde(default)]
    pub records: Option<Vec<serde_json::Value>>,
    /// Print the decoded JSON form instead of CBOR (the command line only).
    #[arg(long)]
    #[serde(skip)]
    pub json: bool,
}

/// Row changes in a Table Store table with a stream (manifest `type = "tablestore"`, as planned).
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct TablestoreTrigger {
    /// Instance name.
    pub instance: String,
    /// Table name.
    pub table: String,
    /// Event encoding.
    pub format: StreamFormat,
}

/// The manifest table of a `type = "tablestore"` trigger, as written.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTablestoreTrigger {
    pub(crate) name: Option<String>,
    pub(crate) instance: String,
    pub(crate) table: String,
    pub(crate) format: Option<String>,
    pub(crate) enable: Option<bool>,
}

impl TablestoreTrigger {
    /// FC's view of the trigger (GetTrigger, ListTriggers): its type, source ARN and config.
    pub fn fc_metadata(
        &self,
        region: &str,
        account: &str,
        _enabled: bool,
    ) -> (&'static str, String, serde_json::Value) {
        (
            "tablestore",
            format!(
                "acs:ots:{region}:{account}:instance/{}/table/{}",
                self.instance, self.table
            ),
            serde_json::json!({}),
        )
    }

    /// Plans a `type = "tablestore"` trigger table of function `check.function`, reporting what is
    /// wrong to `check` (and planning something sensible anyway).
    pub(crate) fn from_manifest(
        t: RawTablestoreTrigger,
        check: &mut crate::manifest::TriggerCheck<'_>,
    ) -> Self {
        let fn_name = check.function;
        let format = match t.format.as_deref() {
            None | Some("cbor") => StreamFormat::Cbor,
            Some("json") => StreamFormat::Json,
            Some(other) => {
                check.problem(
                    format!("function `{fn_name}`: unknown tablestore event format {other:?}"),
                    "unknown format",
                    "use \"cbor\" (as FC delivers) or \"json\"",
                );
                StreamFormat::Cbor
            }
        };
        TablestoreTrigger {
            instance: t.instance,
            table: t.table,
            format,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fcemu_tablestore::model::{ColumnChange, SequenceInfo};

    fn sample() -> StreamRecord {
        StreamRecord {
            action: RowAction::UpdateRow,
            primary_key: vec![
                ("id".into(), Value::String("a".into())),
                ("bin".into(), Value::Binary(vec![1, 2])),
            ],
            columns: vec![
                ColumnChange {
                    kind: ColumnChangeKind::Put,
                    name: "n".into(),
                    value: Some(Value::Integer(7)),
                    timestamp: Some(1_700_000_000_000),
                },
                ColumnChange {
                    kind: ColumnChangeKind::DeleteAllVersions,
                    name: "gone".into(),
                    value: None,
                    timestamp: None,
                },
            ],
            sequence: SequenceInfo {
                epoch: 0,
                timestamp_us: 1_700_000_000_000_123,
                row_index: 0,
            },
        }
    }

    #[test]
    fn cbor_keeps_binary_as_bytes_and_json_as_base64() {
        let bytes = event(&[sample()], true);
        let doc: Cbor = ciborium::from_reader(&bytes[..]).unwrap();
        let json = to_json(&doc);
        assert_eq!(json["Version"], "Sync-v1");
        let r = &json["Records"][0];
        assert_eq!(r["Type"], "UpdateRow");
        assert_eq!(r["Info"]["Timestamp"], 1_700_000_000_000_123_i64);
        assert_eq!(r["PrimaryKey"][1]["ColumnName"], "bin");
        assert_eq!(r["Columns"][0]["Value"], 7);
        assert!(r["Columns"][1].get("Value").is_none());
        assert!(r["Columns"][1].get("Timestamp").is_none());
        let Cbor::Map(top) = doc else { panic!() };
        let records = &top[1].1;
        let Cbor::Array(records) = records else {
            panic!()
        };
        let Cbor::Map(rec) = &records[0] else {
            panic!()
        };
        let Cbor::Array(pk) = &rec[2].1 else { panic!() };
        let Cbor::Map(bin) = &pk[1] else { panic!() };
        assert_eq!(bin[1].1, Cbor::Bytes(vec![1, 2]));

        let json: serde_json::Value = serde_json::from_slice(&event(&[sample()], false)).unwrap();
        assert_eq!(json["Records"][0]["PrimaryKey"][1]["Value"], "AQI=");
    }
}
