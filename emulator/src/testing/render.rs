//! How what a step caused reads in a snapshot: bodies as structure (JSON, CBOR) or text, and
//! row changes as their primary key and columns by name.

use base64::Engine;
use fcemu_tablestore::{ColumnChangeKind, RowChange};

use crate::services::table_store::value_json;
use serde_json::{Map, Value, json};

/// A body: JSON parsed, UTF-8 text as is, a CBOR map (FC's Table Store events) decoded under
/// `cbor`, else base64 (`encoding` is the record's own when it already is text or base64).
pub fn body_value(bytes: &[u8], encoding: &str) -> Value {
    let decoded;
    let raw = if encoding == "base64" {
        match base64::engine::general_purpose::STANDARD.decode(bytes) {
            Ok(b) => {
                decoded = b;
                &decoded[..]
            }
            Err(_) => return json!({ "base64": String::from_utf8_lossy(bytes) }),
        }
    } else {
        bytes
    };
    if let Ok(v) = serde_json::from_slice::<Value>(raw)
        && (v.is_object() || v.is_array())
    {
        return v;
    }
    if let Ok(s) = std::str::from_utf8(raw) {
        return Value::String(s.to_string());
    }
    if let Some(v) = cbor_map(raw) {
        return json!({ "cbor": v });
    }
    json!({ "base64": base64::engine::general_purpose::STANDARD.encode(raw) })
}

/// `bytes` as JSON when they are exactly one CBOR map.
fn cbor_map(bytes: &[u8]) -> Option<Value> {
    let mut reader = bytes;
    let v: ciborium::Value = ciborium::de::from_reader(&mut reader).ok()?;
    (reader.is_empty() && v.is_map()).then(|| cbor_json(v))
}

fn cbor_json(v: ciborium::Value) -> Value {
    use ciborium::Value as C;
    match v {
        C::Integer(i) => i64::try_from(i)
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(i128::from(i) as f64)),
        C::Bytes(b) => json!({ "base64": base64::engine::general_purpose::STANDARD.encode(b) }),
        C::Float(f) => json!(f),
        C::Text(s) => Value::String(s),
        C::Bool(b) => Value::Bool(b),
        C::Null => Value::Null,
        C::Tag(_, inner) => cbor_json(*inner),
        C::Array(items) => Value::Array(items.into_iter().map(cbor_json).collect()),
        C::Map(entries) => Value::Object(
            entries
                .into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        C::Text(s) => s,
                        other => cbor_json(other).to_string(),
                    };
                    (key, cbor_json(v))
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// A row change: its table, the change, the primary key and the columns written by name, and
/// the columns deleted (`name@version` for one version).
pub fn row_change(c: &RowChange) -> Value {
    let key: Map<String, Value> = c
        .record
        .primary_key
        .iter()
        .map(|(k, v)| (k.clone(), value_json(v)))
        .collect();
    let mut columns = Map::new();
    let mut deleted = Vec::new();
    for col in &c.record.columns {
        match (col.kind, &col.value) {
            (ColumnChangeKind::Put, Some(v)) => {
                columns.insert(col.name.clone(), value_json(v));
            }
            (ColumnChangeKind::DeleteOneVersion, _) => deleted.push(json!(format!(
                "{}@{}",
                col.name,
                col.timestamp.unwrap_or_default()
            ))),
            _ => deleted.push(json!(col.name)),
        }
    }
    let mut out = json!({
        "instance": c.instance,
        "table": c.table,
        "change": serde_json::to_value(c.record.action).unwrap_or_default(),
        "primaryKey": key,
    });
    if !columns.is_empty() {
        out["columns"] = Value::Object(columns);
    }
    if !deleted.is_empty() {
        out["deleted"] = Value::Array(deleted);
    }
    out
}

/// Headers of HTTP messages inside events and results that change run to run.
const VOLATILE_RESULT_HEADERS: &[&str] = &["date", "connection", "keep-alive", "content-length"];

/// Makes an invocation's API Gateway shaped event or result readable and stable: a base64 body
/// is shown decoded (JSON as structure, text as is; `isBase64Encoded` stays), and headers that
/// change run to run (`Date`, `Connection`, ...) are left out.
pub fn tidy_http(v: &mut Value) {
    let Some(obj) = v.as_object_mut() else {
        return;
    };
    if !(obj.contains_key("httpMethod") || obj.contains_key("statusCode")) {
        return;
    }
    if let Some(Value::Object(headers)) = obj.get_mut("headers") {
        headers.retain(|k, _| !VOLATILE_RESULT_HEADERS.contains(&k.to_ascii_lowercase().as_str()));
    }
    if obj.get("isBase64Encoded") == Some(&Value::Bool(true))
        && let Some(Value::String(b64)) = obj.get("body")
        && !b64.is_empty()
        && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b64)
        && std::str::from_utf8(&bytes).is_ok()
    {
        let body = body_value(&bytes, "");
        obj.insert("body".into(), body);
    }
}

/// Replaces every occurrence of each `(text, name)` in the strings of `v` by `<name>`: the
/// emulator's own addresses, whose ports change from run to run.
pub fn replace_addresses(v: &mut Value, addresses: &[(String, &str)]) {
    match v {
        Value::String(s) => {
            for (text, name) in addresses {
                if s.contains(text.as_str()) {
                    *s = s.replace(text.as_str(), &format!("<{name}>"));
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|i| replace_addresses(i, addresses)),
        Value::Object(map) => map
            .values_mut()
            .for_each(|i| replace_addresses(i, addresses)),
        _ => {}
    }
}
