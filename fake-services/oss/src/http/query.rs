//! Query strings as both clients send them: `+` is a space, `acl` and `acl=` are the same
//! sub-resource, repeated keys keep their order, and empty list parameters mean "not given".

use percent_encoding::percent_decode_str;

/// A parsed query string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// Decoded `(key, value)` pairs in order; a key without `=` has an empty value.
    pub pairs: Vec<(String, String)>,
}

fn decode(s: &str) -> String {
    let plus = s.replace('+', " ");
    percent_decode_str(&plus).decode_utf8_lossy().into_owned()
}

impl Query {
    /// Parses a raw query string (without the `?`).
    pub fn parse(raw: &str) -> Self {
        let pairs = raw
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (decode(k), decode(v)),
                None => (decode(p), String::new()),
            })
            .collect();
        Self { pairs }
    }

    /// Whether `key` is present (with or without a value).
    pub fn has(&self, key: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == key)
    }

    /// The first value of `key`, even when empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `key` when present and non-empty.
    pub fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_client_styles() {
        let q = Query::parse("acl=&prefix=a+b%2Fc&delete&marker=");
        assert!(q.has("acl") && q.has("delete"));
        assert_eq!(q.get("prefix"), Some("a b/c"));
        assert_eq!(q.non_empty("marker"), None);
        assert_eq!(q.get("marker"), Some(""));
        assert!(Query::parse("").pairs.is_empty());
    }
}
