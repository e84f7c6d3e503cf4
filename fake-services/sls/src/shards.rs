//! The MD5 hash space and how a logstore's shards split it evenly.

use md5::{Digest, Md5};

/// Most shards a logstore may have.
pub const MAX_SHARDS: u32 = 256;

/// One shard's part of the hash space, `[begin, end)` (the last shard ends at `ffff...`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardRange {
    /// Shard id.
    pub id: u32,
    /// Inclusive first key, 32 lower-case hex digits.
    pub begin: String,
    /// Exclusive end key (`ffff...ffff` for the last shard).
    pub end: String,
}

fn step(count: u32) -> Option<u128> {
    let n = u128::from(count.max(1));
    // floor(2^128 / n) without overflowing; None for a single shard (the whole space).
    (n > 1).then(|| u128::MAX / n + (u128::MAX % n + 1) / n)
}

/// The ranges of `count` shards.
pub fn ranges(count: u32) -> Vec<ShardRange> {
    let count = count.max(1);
    let step = step(count);
    (0..count)
        .map(|i| {
            let begin = step.map_or(0, |s| s * u128::from(i));
            let end = match step {
                Some(s) if i + 1 < count => format!("{:032x}", s * u128::from(i + 1)),
                _ => "f".repeat(32),
            };
            ShardRange {
                id: i,
                begin: format!("{begin:032x}"),
                end,
            }
        })
        .collect()
}

/// The shard that owns `key`: a 32-hex-digit hash key as given, anything else hashed with MD5.
pub fn shard_for_key(key: &str, count: u32) -> u32 {
    let count = count.max(1);
    let value = if key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit()) {
        u128::from_str_radix(key, 16).unwrap_or(0)
    } else if !key.is_empty() && key.len() < 32 && key.bytes().all(|b| b.is_ascii_hexdigit()) {
        // A short hex prefix: pad on the right, as the hash space is ordered by prefix.
        u128::from_str_radix(&format!("{key:0<32}"), 16).unwrap_or(0)
    } else {
        u128::from_be_bytes(Md5::digest(key.as_bytes()).into())
    };
    match step(count) {
        Some(s) => ((value / s) as u32).min(count - 1),
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_shards_split_at_eight() {
        let r = ranges(2);
        assert_eq!(r[0].begin, "0".repeat(32));
        assert_eq!(r[0].end, format!("8{}", "0".repeat(31)));
        assert_eq!(r[1].begin, format!("8{}", "0".repeat(31)));
        assert_eq!(r[1].end, "f".repeat(32));
        assert_eq!(ranges(1)[0].end, "f".repeat(32));
        assert_eq!(ranges(3).len(), 3);
    }

    #[test]
    fn keys_land_in_their_range() {
        assert_eq!(shard_for_key(&"0".repeat(32), 2), 0);
        assert_eq!(shard_for_key(&format!("7{}", "f".repeat(31)), 2), 0);
        assert_eq!(shard_for_key(&format!("8{}", "0".repeat(31)), 2), 1);
        assert_eq!(shard_for_key(&"f".repeat(32), 2), 1);
        assert_eq!(shard_for_key(&"f".repeat(32), 3), 2);
        assert_eq!(shard_for_key("not hex at all", 1), 0);
        assert!(shard_for_key("not hex at all", 4) < 4);
        assert_eq!(shard_for_key("8", 2), 1);
    }
}
