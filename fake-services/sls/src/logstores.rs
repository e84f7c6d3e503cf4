//! Names and settings: what a valid project or logstore name is, and a logstore's settings in
//! their JSON form (the body of CreateLogStore / UpdateLogStore and of GetLogStore's answer, also
//! how the store keeps them).

use serde_json::{Map, Value, json};

use crate::SlsError;
use crate::model::LogstoreConfig;
use crate::shards::MAX_SHARDS;

/// Project names: 3..=63 of `[a-z0-9-]`, starting and ending with a letter or digit.
pub fn check_project_name(name: &str) -> Result<(), SlsError> {
    let ok = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(SlsError::ParameterInvalid(format!(
            "project name {name} is invalid"
        )))
    }
}

/// Logstore names: `^[0-9a-z][0-9a-z_-]{0,78}[0-9a-z]$`.
pub fn check_logstore_name(name: &str) -> Result<(), SlsError> {
    let b = name.as_bytes();
    let edge = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let ok = (2..=80).contains(&b.len())
        && b.first().is_some_and(edge)
        && b.last().is_some_and(edge)
        && b.iter().all(|c| edge(c) || *c == b'_' || *c == b'-');
    if ok {
        Ok(())
    } else {
        Err(SlsError::LogStoreInfoInvalid(format!(
            "logstore name {name} is invalid"
        )))
    }
}

const KNOWN: &[&str] = &[
    "logstoreName",
    "ttl",
    "shardCount",
    "enable_tracking",
    "autoSplit",
    "maxSplitShard",
    "appendMeta",
    "telemetryType",
    "mode",
    "createTime",
    "lastModifyTime",
];

fn invalid(msg: impl Into<String>) -> SlsError {
    SlsError::LogStoreInfoInvalid(msg.into())
}

fn int(body: &Map<String, Value>, key: &str) -> Result<Option<i64>, SlsError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| invalid(format!("{key} must be an integer"))),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| invalid(format!("{key} must be an integer"))),
        Some(_) => Err(invalid(format!("{key} must be an integer"))),
    }
}

fn boolean(body: &Map<String, Value>, key: &str) -> Result<Option<bool>, SlsError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(invalid(format!("{key} must be a boolean"))),
    }
}

fn string(body: &Map<String, Value>, key: &str) -> Result<Option<String>, SlsError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(format!("{key} must be a string"))),
    }
}

impl LogstoreConfig {
    /// Reads a CreateLogStore body (missing keys take the SDK's defaults) and validates it.
    pub fn from_create_body(body: &Map<String, Value>) -> Result<Self, SlsError> {
        let name = string(body, "logstoreName")?.unwrap_or_default();
        check_logstore_name(&name)?;
        let mut cfg = LogstoreConfig::new(name, 2);
        cfg.apply(body, true)?;
        Ok(cfg)
    }

    /// Applies an UpdateLogStore body: every setting given changes, except the shard count
    /// (which only split / merge change).
    pub fn updated(&self, body: &Map<String, Value>) -> Result<Self, SlsError> {
        let mut cfg = self.clone();
        cfg.apply(body, false)?;
        Ok(cfg)
    }

    fn apply(&mut self, body: &Map<String, Value>, creating: bool) -> Result<(), SlsError> {
        if let Some(ttl) = int(body, "ttl")? {
            if !(1..=3650).contains(&ttl) {
                return Err(invalid("ttl must be within range [1, 3650]"));
            }
            self.ttl = ttl as u32;
        }
        if creating && let Some(n) = int(body, "shardCount")? {
            if !(1..=i64::from(MAX_SHARDS)).contains(&n) {
                return Err(invalid(format!(
                    "shardCount must be within range [1, {MAX_SHARDS}]"
                )));
            }
            self.shard_count = n as u32;
        }
        if let Some(n) = int(body, "maxSplitShard")? {
            if !(1..=256).contains(&n) {
                return Err(invalid("maxSplitShard must be within range [1, 256]"));
            }
            self.max_split_shard = n as u32;
        }
        if let Some(b) = boolean(body, "appendMeta")? {
            self.append_meta = b;
        }
        if let Some(b) = boolean(body, "autoSplit")? {
            self.auto_split = b;
        }
        if let Some(b) = boolean(body, "enable_tracking")? {
            self.enable_tracking = b;
        }
        if let Some(s) = string(body, "telemetryType")? {
            self.telemetry_type = s;
        }
        if let Some(s) = string(body, "mode")? {
            self.mode = s;
        }
        for (k, v) in body {
            if !KNOWN.contains(&k.as_str()) {
                self.extra.insert(k.clone(), v.clone());
            }
        }
        Ok(())
    }

    /// The settings as GetLogStore shows them (without the times).
    pub fn to_json(&self) -> Map<String, Value> {
        let mut m = self.extra.clone();
        let fixed = json!({
            "logstoreName": self.name,
            "ttl": self.ttl,
            "shardCount": self.shard_count,
            "enable_tracking": self.enable_tracking,
            "autoSplit": self.auto_split,
            "maxSplitShard": self.max_split_shard,
            "appendMeta": self.append_meta,
            "telemetryType": self.telemetry_type,
            "mode": self.mode,
        });
        if let Value::Object(fixed) = fixed {
            m.extend(fixed);
        }
        m
    }

    /// Reads settings stored by [`LogstoreConfig::to_json`].
    pub fn from_stored(stored: &Map<String, Value>) -> Self {
        let name = stored
            .get("logstoreName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let shards = stored
            .get("shardCount")
            .and_then(Value::as_u64)
            .unwrap_or(2) as u32;
        let mut cfg = LogstoreConfig::new(name, shards);
        // Stored settings were validated when written; anything odd keeps its default.
        let _ = cfg.apply(stored, false);
        cfg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(s: &str) -> Map<String, Value> {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn names() {
        assert!(check_project_name("proj-1").is_ok());
        for bad in ["ab", "-abc", "abc-", "Abc", "a.bc", "a_bc"] {
            assert!(check_project_name(bad).is_err(), "{bad}");
        }
        assert!(check_logstore_name("store_1-a").is_ok());
        for bad in ["a", "_ab", "ab_", "AB", "a.b", ""] {
            assert!(check_logstore_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn create_update_and_store() {
        let cfg = LogstoreConfig::from_create_body(&body(
            r#"{"logstoreName": "s1", "ttl": 7, "shardCount": 3, "appendMeta": true, "hot_ttl": 5}"#,
        ))
        .unwrap();
        assert_eq!((cfg.ttl, cfg.shard_count, cfg.append_meta), (7, 3, true));
        assert_eq!(cfg.extra["hot_ttl"], 5);
        let up = cfg
            .updated(&body(r#"{"ttl": 9, "shardCount": 10}"#))
            .unwrap();
        assert_eq!((up.ttl, up.shard_count), (9, 3));
        assert_eq!(LogstoreConfig::from_stored(&up.to_json()), up);
        for bad in [
            r#"{"logstoreName": "s1", "ttl": 0}"#,
            r#"{"logstoreName": "s1", "shardCount": 0}"#,
            r#"{"logstoreName": "s1", "maxSplitShard": 300}"#,
            r#"{"logstoreName": "s1", "ttl": "x"}"#,
            r#"{"ttl": 1}"#,
        ] {
            assert!(matches!(
                LogstoreConfig::from_create_body(&body(bad)),
                Err(SlsError::LogStoreInfoInvalid(_))
            ));
        }
    }
}
