//! OSS triggers: which object changes fire which trigger (event-name patterns with `*`,
//! prefix and suffix filters, and why a change did not fire), and the OSS event JSON
//! (reference/fc.md §2.1).

use serde_json::json;
use time::OffsetDateTime;

/// An object change as a trigger sees it. Built from the object store's notifications, or from
/// flags for synthetic events.
#[derive(Debug, Clone)]
pub struct ObjectEventInput {
    /// Event name without the `oss:` prefix, e.g. `ObjectCreated:PutObject`.
    pub event_name: String,
    /// Bucket.
    pub bucket: String,
    /// Object key.
    pub key: String,
    /// Size after the change.
    pub size: u64,
    /// Size change.
    pub delta_size: i64,
    /// ETag, any case, with or without quotes.
    pub etag: String,
    /// Content type.
    pub content_type: String,
    /// The OSS request id.
    pub request_id: String,
    /// Client address.
    pub source_ip: String,
    /// When it happened.
    pub time: OffsetDateTime,
}

impl From<&fcemu_oss::ObjectChange> for ObjectEventInput {
    fn from(c: &fcemu_oss::ObjectChange) -> Self {
        ObjectEventInput {
            event_name: c.event.name().to_string(),
            bucket: c.bucket.clone(),
            key: c.key.clone(),
            size: c.size,
            delta_size: c.delta_size,
            etag: c.etag.clone(),
            content_type: c.content_type.clone(),
            request_id: c.request_id.clone(),
            source_ip: c.source_ip.clone(),
            time: c.time,
        }
    }
}

/// Why a change in the trigger's bucket did not fire it.
#[derive(Debug, Clone, PartialEq)]
pub enum Miss {
    /// The event name matches none of the trigger's patterns.
    Event(Vec<String>),
    /// The key does not start with the prefix.
    Prefix(String),
    /// The key does not end with the suffix.
    Suffix(String),
}

impl std::fmt::Display for Miss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Miss::Event(patterns) => write!(f, "event is not one of {}", patterns.join(", ")),
            Miss::Prefix(p) => write!(f, "prefix {p:?} does not match"),
            Miss::Suffix(s) => write!(f, "suffix {s:?} does not match"),
        }
    }
}

/// Whether `event_name` (no prefix) matches a config pattern (`oss:ObjectCreated:*`).
pub fn event_matches(pattern: &str, event_name: &str) -> bool {
    let pattern = pattern.strip_prefix("oss:").unwrap_or(pattern);
    match pattern.strip_suffix('*') {
        Some(head) => event_name.starts_with(head),
        None => pattern == event_name,
    }
}

/// Checks a change against a trigger's filters.
pub fn check(
    events: &[String],
    prefix: &str,
    suffix: &str,
    input: &ObjectEventInput,
) -> Result<(), Miss> {
    if !events.iter().any(|p| event_matches(p, &input.event_name)) {
        return Err(Miss::Event(events.to_vec()));
    }
    if !input.key.starts_with(prefix) {
        return Err(Miss::Prefix(prefix.to_string()));
    }
    if !input.key.ends_with(suffix) {
        return Err(Miss::Suffix(suffix.to_string()));
    }
    Ok(())
}

/// `2024-06-10T06:21:35.000Z`: milliseconds always present.
pub fn rfc3339_millis(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// The OSS event FC delivers for one change.
pub fn oss_event(
    input: &ObjectEventInput,
    region: &str,
    account_id: &str,
    rule_id: &str,
) -> Vec<u8> {
    let etag = input.etag.trim_matches('"').to_ascii_uppercase();
    let mut object = json!({
        "deltaSize": input.delta_size,
        "eTag": etag,
        "key": input.key,
    });
    if !input.content_type.is_empty() {
        object["objectMeta"] = json!({ "mimeType": input.content_type });
    }
    object["size"] = json!(input.size);
    let event = json!({
        "events": [{
            "eventName": input.event_name,
            "eventSource": "acs:oss",
            "eventTime": rfc3339_millis(input.time),
            "eventVersion": "1.0",
            "oss": {
                "bucket": {
                    "arn": format!("acs:oss:{region}:{account_id}:{}", input.bucket),
                    "name": input.bucket,
                    "ownerIdentity": account_id,
                    "virtualBucket": "",
                },
                "object": object,
                "ossSchemaVersion": "1.0",
                "ruleId": rule_id,
            },
            "region": region,
            "requestParameters": { "sourceIPAddress": input.source_ip },
            "responseElements": { "requestId": input.request_id },
            "userIdentity": { "principalId": account_id },
        }]
    });
    serde_json::to_vec(&event).unwrap_or_default()
}

/// A stable rule id for a trigger (FC shows a 40-hex-digit id).
pub fn rule_id(function: &str, trigger: &str) -> String {
    crate::runtime::content_hash(format!("{function}/{trigger}").as_bytes())[..40].to_string()
}

/// A synthetic object change: the fields of `{"type": "oss", ...}` (`POST /_fcemu/events`, a
/// test case's `synthetic` step) and the flags of `fcemu events generate oss`.
#[derive(Debug, Clone, serde::Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct OssEventArgs {
    /// Bucket name.
    #[arg(long)]
    pub bucket: String,
    /// Object key.
    #[arg(long)]
    pub key: String,
    /// Event name (default ObjectCreated:PutObject; the `oss:` prefix is optional), e.g.
    /// ObjectRemoved:DeleteObject.
    #[arg(long)]
    #[serde(default)]
    pub event: Option<String>,
    /// Object size in bytes (default 0).
    #[arg(long)]
    #[serde(default)]
    pub size: Option<u64>,
    /// ETag, MD5 hex (default: the MD5 of nothing).
    #[arg(long)]
    #[serde(default)]
    pub etag: Option<String>,
    /// Content type.
    #[arg(long)]
    #[serde(default)]
    pub content_type: Option<String>,
}

/// Object changes in a bucket (manifest `type = "oss"`, as planned).
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct OssTrigger {
    /// Bucket name.
    pub bucket: String,
    /// Event name patterns, e.g. `oss:ObjectCreated:*`.
    pub events: Vec<String>,
    /// Key prefix filter.
    pub prefix: String,
    /// Key suffix filter.
    pub suffix: String,
}

/// The manifest table of a `type = "oss"` trigger, as written.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOssTrigger {
    pub(crate) name: Option<String>,
    pub(crate) bucket: String,
    #[serde(default)]
    pub(crate) events: Vec<String>,
    #[serde(default)]
    pub(crate) prefix: String,
    #[serde(default)]
    pub(crate) suffix: String,
    pub(crate) enable: Option<bool>,
}

impl OssTrigger {
    /// FC's view of the trigger (GetTrigger, ListTriggers): its type, source ARN and config.
    pub fn fc_metadata(
        &self,
        region: &str,
        account: &str,
        _enabled: bool,
    ) -> (&'static str, String, serde_json::Value) {
        (
            "oss",
            format!("acs:oss:{region}:{account}:{}", self.bucket),
            json!({ "events": self.events, "filter": { "key": { "prefix": self.prefix, "suffix": self.suffix } } }),
        )
    }

    /// Plans a `type = "oss"` trigger table of function `check.function`, reporting what is
    /// wrong to `check` (and planning something sensible anyway).
    pub(crate) fn from_manifest(
        o: RawOssTrigger,
        check: &mut crate::manifest::TriggerCheck<'_>,
    ) -> Self {
        let fn_name = check.function;
        let mut events = Vec::new();
        for e in o.events {
            let v = e.as_str();
            let bare = v.strip_prefix("oss:").unwrap_or(v);
            if !(bare.starts_with("ObjectCreated:")
                || bare.starts_with("ObjectRemoved:")
                || bare.starts_with("ObjectModified:")
                || bare.starts_with("ObjectReplication:"))
            {
                check.problem(format!("function `{fn_name}`: {v:?} is not an OSS event name"), "unknown event", "use names such as \"oss:ObjectCreated:*\", \"oss:ObjectCreated:PutObject\" or \"oss:ObjectRemoved:DeleteObject\"");
            }
            events.push(format!("oss:{bare}"));
        }
        if events.is_empty() {
            events.push("oss:ObjectCreated:*".into());
        }
        if !crate::manifest::valid_bucket_name(&o.bucket) {
            check.problem(
                format!(
                    "function `{fn_name}`: bucket name {:?} is not valid",
                    o.bucket
                ),
                "invalid bucket name",
                "bucket names are 3-63 characters of lower-case letters, digits and '-'",
            );
        }
        OssTrigger {
            bucket: o.bucket,
            events,
            prefix: o.prefix,
            suffix: o.suffix,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, key: &str) -> ObjectEventInput {
        ObjectEventInput {
            event_name: name.into(),
            bucket: "uploads".into(),
            key: key.into(),
            size: 29203,
            delta_size: 29203,
            etag: "\"7d73e1052af595535de90994f4c3e6d5\"".into(),
            content_type: "image/jpeg".into(),
            request_id: "62A2E2EFD0DEFE3930847A6E".into(),
            source_ip: "127.0.0.1".into(),
            time: time::macros::datetime!(2024-06-10 06:21:35 UTC),
        }
    }

    #[test]
    fn patterns_prefixes_and_suffixes() {
        let events = vec!["oss:ObjectCreated:*".to_string()];
        assert_eq!(
            check(
                &events,
                "photos/",
                ".jpg",
                &input("ObjectCreated:PutObject", "photos/a.jpg")
            ),
            Ok(())
        );
        assert_eq!(
            check(
                &events,
                "photos/",
                ".jpg",
                &input("ObjectCreated:PutObject", "photos/a.png")
            ),
            Err(Miss::Suffix(".jpg".into()))
        );
        assert_eq!(
            check(
                &events,
                "photos/",
                "",
                &input("ObjectCreated:PutObject", "docs/a.jpg")
            ),
            Err(Miss::Prefix("photos/".into()))
        );
        assert!(matches!(
            check(&events, "", "", &input("ObjectRemoved:DeleteObject", "a")),
            Err(Miss::Event(_))
        ));
        assert!(event_matches(
            "oss:ObjectRemoved:DeleteObject",
            "ObjectRemoved:DeleteObject"
        ));
        assert!(!event_matches(
            "oss:ObjectRemoved:DeleteObject",
            "ObjectRemoved:DeleteObjects"
        ));
    }

    #[test]
    fn event_has_fc_shape_and_order() {
        let e = String::from_utf8(oss_event(
            &input("ObjectCreated:PutObject", "image/a.jpg"),
            "cn-hangzhou",
            "1234567890123456",
            "r",
        ))
        .unwrap();
        assert_eq!(
            e,
            r#"{"events":[{"eventName":"ObjectCreated:PutObject","eventSource":"acs:oss","eventTime":"2024-06-10T06:21:35.000Z","eventVersion":"1.0","oss":{"bucket":{"arn":"acs:oss:cn-hangzhou:1234567890123456:uploads","name":"uploads","ownerIdentity":"1234567890123456","virtualBucket":""},"object":{"deltaSize":29203,"eTag":"7D73E1052AF595535DE90994F4C3E6D5","key":"image/a.jpg","objectMeta":{"mimeType":"image/jpeg"},"size":29203},"ossSchemaVersion":"1.0","ruleId":"r"},"region":"cn-hangzhou","requestParameters":{"sourceIPAddress":"127.0.0.1"},"responseElements":{"requestId":"62A2E2EFD0DEFE3930847A6E"},"userIdentity":{"principalId":"1234567890123456"}}]}"#
        );
    }
}
