//! Naming rules for buckets and keys, and the limits OSS enforces.

use crate::OssError;

/// Most keys DeleteMultipleObjects accepts.
pub const MAX_DELETE_KEYS: usize = 1000;
/// Largest `max-keys`, `max-uploads`, `max-parts`.
pub const MAX_LIST: usize = 1000;
/// Smallest part other than the last (100 KB).
pub const MIN_PART_SIZE: u64 = 100 * 1024;
/// Largest single upload (5 GB).
pub const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Most tags per object.
pub const MAX_TAGS: usize = 10;

/// Most tags on one bucket (OSS allows 20).
pub const MAX_BUCKET_TAGS: usize = 20;

/// Checks a bucket name as either face allows it: 3–63 characters of `a-z 0-9 - .`, starting
/// and ending alphanumeric, no `..`, `.-` or `-.`, not shaped like an IP address. Dots are S3's
/// (the OSS face refuses them: [`check_oss_bucket`]).
pub fn check_bucket(name: &str) -> Result<(), OssError> {
    let ok = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !["..", ".-", "-."].iter().any(|p| name.contains(p))
        && name.parse::<std::net::Ipv4Addr>().is_err();
    if ok {
        Ok(())
    } else {
        Err(OssError::InvalidBucketName {
            bucket: name.to_string(),
        })
    }
}

/// Checks a bucket name as OSS does: [`check_bucket`] without dots.
pub fn check_oss_bucket(name: &str) -> Result<(), OssError> {
    check_bucket(name)?;
    if name.contains('.') {
        return Err(OssError::InvalidBucketName {
            bucket: name.to_string(),
        });
    }
    Ok(())
}

/// Checks an object key as either face allows it: 1–1023 bytes of UTF-8, not starting with `/`.
/// S3 keys may start with `\` (the OSS face refuses them: [`check_oss_key`]).
pub fn check_key(key: &str) -> Result<(), OssError> {
    if key.is_empty() || key.len() > 1023 || key.starts_with('/') {
        return Err(OssError::InvalidObjectName);
    }
    Ok(())
}

/// Checks an object key as OSS does: [`check_key`], and not starting with `\`.
pub fn check_oss_key(key: &str) -> Result<(), OssError> {
    check_key(key)?;
    if key.starts_with('\\') {
        return Err(OssError::InvalidObjectName);
    }
    Ok(())
}

/// Checks an object's tags: [`MAX_TAGS`] at most, key and value lengths, no repeated key.
pub fn check_tags(tags: &[(String, String)]) -> Result<(), OssError> {
    check_tag_set(tags, MAX_TAGS, "An object")
}

/// Checks a tag set against `max` tags (`owner` names what carries them, for the message),
/// key and value lengths, and repeated keys.
pub fn check_tag_set(tags: &[(String, String)], max: usize, owner: &str) -> Result<(), OssError> {
    if tags.len() > max {
        return Err(OssError::InvalidTag(format!(
            "{owner} can have at most {max} tags."
        )));
    }
    for (i, (k, v)) in tags.iter().enumerate() {
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            return Err(OssError::InvalidTag(
                "Tag keys must be 1-128 characters and values at most 256.".into(),
            ));
        }
        // As OSS and S3: letters, digits, spaces and `+ - = . _ : / @`.
        let allowed = |c: char| c.is_alphanumeric() || " +-=._:/@".contains(c);
        if let Some(c) = k.chars().chain(v.chars()).find(|c| !allowed(*c)) {
            return Err(OssError::InvalidTag(format!(
                "The tag {k:?} = {v:?} has the character {c:?}; tags may hold letters, digits, spaces and + - = . _ : / @."
            )));
        }
        if tags[..i].iter().any(|(seen, _)| seen == k) {
            return Err(OssError::InvalidTag(format!(
                "The tag key {k} appears more than once."
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        for ok in [
            "abc",
            "my-bucket-1",
            "a1b",
            "a.b",
            "logs.example.com",
            &"a".repeat(63),
        ] {
            assert!(check_bucket(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "-abc",
            "abc-",
            "ABC",
            "a_b",
            "a..b",
            "a.-b",
            ".ab",
            "192.168.1.1",
            "",
            &"a".repeat(64),
        ] {
            assert!(check_bucket(bad).is_err(), "{bad}");
        }
        assert!(check_oss_bucket("my-bucket").is_ok());
        assert!(check_oss_bucket("a.b").is_err());
    }

    #[test]
    fn keys() {
        assert!(check_key("a/b c").is_ok());
        assert!(check_key("\\x").is_ok());
        assert!(check_oss_key("\\x").is_err());
        assert!(check_key("/x").is_err());
        assert!(check_key("").is_err());
        assert!(check_key(&"k".repeat(1024)).is_err());
    }
}
