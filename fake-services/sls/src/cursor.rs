//! Cursors: standard base64 (padded) of the decimal position of a log group within its shard.
//!
//! Clients do arithmetic on them (`n - 1` = the previous position) and compare them as strings,
//! so each position has exactly one canonical spelling.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

/// The cursor of position `seq`.
pub fn encode(seq: u64) -> String {
    STANDARD.encode(seq.to_string())
}

/// The position a cursor names, or `None` when it is not base64 of a decimal integer.
/// Unpadded base64 is accepted too.
pub fn decode(cursor: &str) -> Option<u64> {
    let cursor = cursor.trim();
    let bytes = STANDARD
        .decode(cursor)
        .or_else(|_| STANDARD_NO_PAD.decode(cursor.trim_end_matches('=')))
        .ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_matches_the_sdk() {
        assert_eq!(encode(0), "MA==");
        assert_eq!(encode(2), "Mg==");
        assert_eq!(
            decode("MTUyNDE1NTM3OTM3MzkwODQ5Ng=="),
            Some(1_524_155_379_373_908_496)
        );
        for n in [0, 1, 9, 10, 99, 12345, u64::MAX] {
            assert_eq!(decode(&encode(n)), Some(n));
        }
        assert_eq!(decode("MA"), Some(0));
    }

    #[test]
    fn rejects_what_is_not_a_position() {
        for bad in ["", "!!!", "YWJj", "LTE=", "MS41", "=="] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}
