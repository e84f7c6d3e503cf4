//! The LogGroup protobuf (proto2) that PutLogs carries and PullLogs returns, derived by hand.
//!
//! Required fields are always encoded (even `Time = 0`, `Value = ""`): Go's decoder rejects a
//! message without them.

use prost::Message;

/// One key/value of a log.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct LogContent {
    /// Field name.
    #[prost(string, required, tag = "1")]
    pub key: String,
    /// Field value.
    #[prost(string, required, tag = "2")]
    pub value: String,
}

/// One log: a time and its fields.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Log {
    /// `__time__`, unix seconds.
    #[prost(uint32, required, tag = "1")]
    pub time: u32,
    /// The fields, in the order they were written.
    #[prost(message, repeated, tag = "2")]
    pub contents: Vec<LogContent>,
    /// Nanosecond part of the time.
    #[prost(fixed32, optional, tag = "4")]
    pub time_ns: Option<u32>,
}

/// One tag of a log group (`__tag__:<key>`).
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct LogTag {
    /// Tag name (without the `__tag__:` prefix).
    #[prost(string, required, tag = "1")]
    pub key: String,
    /// Tag value.
    #[prost(string, required, tag = "2")]
    pub value: String,
}

/// What one PutLogs request writes: logs sharing a topic, source and tags.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct LogGroup {
    /// The logs.
    #[prost(message, repeated, tag = "1")]
    pub logs: Vec<Log>,
    /// Unused (Go calls it `Category`).
    #[prost(string, optional, tag = "2")]
    pub reserved: Option<String>,
    /// `__topic__`.
    #[prost(string, optional, tag = "3")]
    pub topic: Option<String>,
    /// `__source__`.
    #[prost(string, optional, tag = "4")]
    pub source: Option<String>,
    /// The writer's machine id.
    #[prost(string, optional, tag = "5")]
    pub machine_uuid: Option<String>,
    /// Tags shared by every log of the group.
    #[prost(message, repeated, tag = "6")]
    pub log_tags: Vec<LogTag>,
}

/// What PullLogs returns: log groups in shard order.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct LogGroupList {
    /// The groups.
    #[prost(message, repeated, tag = "1")]
    pub log_groups: Vec<LogGroup>,
}

impl Log {
    /// A log at `time` with `contents` as (key, value) pairs.
    pub fn new<K: Into<String>, V: Into<String>>(
        time: u32,
        contents: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            time,
            contents: contents
                .into_iter()
                .map(|(k, v)| LogContent {
                    key: k.into(),
                    value: v.into(),
                })
                .collect(),
            time_ns: None,
        }
    }
}

impl LogGroup {
    /// Sets tag `key` to `value`, replacing an existing tag of that name.
    pub fn set_tag(&mut self, key: &str, value: impl Into<String>) {
        let value = value.into();
        match self.log_tags.iter_mut().find(|t| t.key == key) {
            Some(t) => t.value = value,
            None => self.log_tags.push(LogTag {
                key: key.to_string(),
                value,
            }),
        }
    }
}

/// Concatenates already-encoded LogGroups into an encoded LogGroupList (field 1, one entry each),
/// without decoding them.
pub fn encode_group_list<'a>(groups: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for g in groups {
        prost::encoding::encode_key(1, prost::encoding::WireType::LengthDelimited, &mut out);
        prost::encoding::encode_varint(g.len() as u64, &mut out);
        out.extend_from_slice(g);
    }
    out
}

/// Decodes one LogGroup.
pub fn decode_group(bytes: &[u8]) -> Result<LogGroup, prost::DecodeError> {
    LogGroup::decode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_reference_example() {
        let g = LogGroup {
            logs: vec![Log {
                time: 1_700_000_000,
                contents: vec![
                    LogContent {
                        key: "level".into(),
                        value: "INFO".into(),
                    },
                    LogContent {
                        key: "message".into(),
                        value: "hello".into(),
                    },
                ],
                time_ns: Some(123),
            }],
            topic: Some("demo".into()),
            source: Some("10.0.0.1".into()),
            log_tags: vec![LogTag {
                key: "__pack_id__".into(),
                value: "ABC-0".into(),
            }],
            ..Default::default()
        };
        let bytes = g.encode_to_vec();
        assert_eq!(bytes.len(), 84);
        assert_eq!(
            &bytes[..8],
            &[0x0a, 0x2c, 0x08, 0x80, 0xe2, 0xcf, 0xaa, 0x06]
        );
        assert_eq!(decode_group(&bytes).unwrap(), g);
    }

    #[test]
    fn required_fields_are_encoded_even_when_default() {
        let g = LogGroup {
            logs: vec![Log::new(0, [("k", "")])],
            ..Default::default()
        };
        let bytes = g.encode_to_vec();
        // Logs{ Time=0, Contents{Key="k", Value=""} }
        assert_eq!(
            bytes,
            vec![
                0x0a, 0x09, 0x08, 0x00, 0x12, 0x05, 0x0a, 0x01, b'k', 0x12, 0x00
            ]
        );
    }

    #[test]
    fn group_list_is_field_one_per_group() {
        let a = LogGroup {
            topic: Some("a".into()),
            ..Default::default()
        };
        let b = LogGroup {
            topic: Some("b".into()),
            ..Default::default()
        };
        let list = encode_group_list([a.encode_to_vec().as_slice(), b.encode_to_vec().as_slice()]);
        let decoded = LogGroupList::decode(list.as_slice()).unwrap();
        assert_eq!(decoded.log_groups, vec![a, b]);
    }
}
