//! Conditional requests (`If-*` and `x-oss-copy-source-if-*`) and byte ranges.

use time::OffsetDateTime;

use crate::OssError;
use crate::model::ObjectMeta;

/// The four HTTP preconditions, as given (dates already parsed).
#[derive(Clone, Debug, Default)]
pub struct Preconditions {
    /// `If-Match`: comma-separated ETags or `*`.
    pub if_match: Option<String>,
    /// `If-None-Match`.
    pub if_none_match: Option<String>,
    /// `If-Modified-Since`.
    pub if_modified_since: Option<OffsetDateTime>,
    /// `If-Unmodified-Since`.
    pub if_unmodified_since: Option<OffsetDateTime>,
}

/// Whether an `If-Match` / `If-None-Match` list (`"a", "b"` or `*`) names `etag`.
pub fn etag_matches(list: &str, etag: &str) -> bool {
    list.split(',').map(str::trim).any(|t| {
        let t = t.strip_prefix("W/").unwrap_or(t);
        t == "*" || t.trim_matches('"').eq_ignore_ascii_case(etag)
    })
}

impl Preconditions {
    /// Whether none is given.
    pub fn is_empty(&self) -> bool {
        self.if_match.is_none()
            && self.if_none_match.is_none()
            && self.if_modified_since.is_none()
            && self.if_unmodified_since.is_none()
    }

    /// Evaluates them against an object (RFC 9110 order; a date condition is ignored when its
    /// ETag counterpart is present). Times compare at second precision, as HTTP dates carry.
    pub fn check(&self, m: &ObjectMeta) -> Result<(), OssError> {
        let modified = m.last_modified.unix_timestamp();
        if let Some(im) = &self.if_match {
            if !etag_matches(im, &m.etag) {
                return Err(OssError::PreconditionFailed);
            }
        } else if let Some(t) = self.if_unmodified_since
            && modified > t.unix_timestamp()
        {
            return Err(OssError::PreconditionFailed);
        }
        if let Some(inm) = &self.if_none_match {
            if etag_matches(inm, &m.etag) {
                return Err(OssError::NotModified);
            }
        } else if let Some(t) = self.if_modified_since
            && modified <= t.unix_timestamp()
        {
            return Err(OssError::NotModified);
        }
        Ok(())
    }
}

/// A `Range` header, parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeHeader {
    /// `bytes=first-[last]`.
    FromTo(u64, Option<u64>),
    /// `bytes=-n`: the last n bytes.
    Suffix(u64),
    /// More than one range, or a header that is not a byte range.
    Unusable,
}

impl RangeHeader {
    /// Parses a `Range` (or `x-oss-copy-source-range`) value.
    pub fn parse(v: &str) -> Self {
        let Some(spec) = v.trim().strip_prefix("bytes=") else {
            return RangeHeader::Unusable;
        };
        if spec.contains(',') {
            return RangeHeader::Unusable;
        }
        let Some((a, b)) = spec.trim().split_once('-') else {
            return RangeHeader::Unusable;
        };
        let (a, b) = (a.trim(), b.trim());
        let num = |s: &str| -> Option<u64> {
            (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        match (a.is_empty(), b.is_empty()) {
            (true, false) => num(b).map_or(RangeHeader::Unusable, RangeHeader::Suffix),
            (false, true) => num(a).map_or(RangeHeader::Unusable, |a| RangeHeader::FromTo(a, None)),
            (false, false) => match (num(a), num(b)) {
                (Some(a), Some(b)) if a <= b => RangeHeader::FromTo(a, Some(b)),
                _ => RangeHeader::Unusable,
            },
            (true, true) => RangeHeader::Unusable,
        }
    }

    /// The inclusive byte range to send, or `None` for the whole object (200).
    ///
    /// OSS by default ignores a range it cannot satisfy exactly (end or start beyond the object,
    /// several ranges, bad syntax) and sends everything. With `standard` (header
    /// `x-oss-range-behavior: standard`, and for S3 requests) the end is clamped and a start at or
    /// beyond the end is 416 `InvalidRange`.
    pub fn resolve(self, size: u64, standard: bool) -> Result<Option<(u64, u64)>, OssError> {
        match self {
            RangeHeader::Unusable => Ok(None),
            RangeHeader::FromTo(a, b) => {
                if a >= size {
                    return if standard {
                        Err(OssError::InvalidRange { size })
                    } else {
                        Ok(None)
                    };
                }
                match b {
                    Some(b) if b >= size && !standard => Ok(None),
                    Some(b) => Ok(Some((a, b.min(size - 1)))),
                    None => Ok(Some((a, size - 1))),
                }
            }
            RangeHeader::Suffix(n) => {
                if n == 0 || size == 0 {
                    return if standard {
                        Err(OssError::InvalidRange { size })
                    } else {
                        Ok(None)
                    };
                }
                if n > size {
                    return Ok(if standard { Some((0, size - 1)) } else { None });
                }
                Ok(Some((size - n, size - 1)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeHeader::*;

    #[test]
    fn parses_ranges() {
        assert_eq!(RangeHeader::parse("bytes=0-4"), FromTo(0, Some(4)));
        assert_eq!(RangeHeader::parse("bytes=3-"), FromTo(3, None));
        assert_eq!(RangeHeader::parse("bytes=-2"), Suffix(2));
        for bad in [
            "byte=0-1",
            "bytes=0-1,3-4",
            "bytes=5-1",
            "bytes=-",
            "bytes=a-b",
            "bytes=+1-2",
        ] {
            assert_eq!(RangeHeader::parse(bad), Unusable, "{bad}");
        }
    }

    #[test]
    fn oss_default_ignores_unsatisfiable_ranges() {
        assert_eq!(FromTo(0, Some(4)).resolve(10, false).unwrap(), Some((0, 4)));
        assert_eq!(FromTo(5, Some(20)).resolve(10, false).unwrap(), None);
        assert_eq!(FromTo(10, None).resolve(10, false).unwrap(), None);
        assert_eq!(Suffix(3).resolve(10, false).unwrap(), Some((7, 9)));
        assert_eq!(Suffix(11).resolve(10, false).unwrap(), None);
        assert_eq!(Unusable.resolve(10, false).unwrap(), None);
    }

    #[test]
    fn standard_behaviour_clamps_and_rejects() {
        assert_eq!(FromTo(5, Some(20)).resolve(10, true).unwrap(), Some((5, 9)));
        assert!(matches!(
            FromTo(10, None).resolve(10, true),
            Err(OssError::InvalidRange { size: 10 })
        ));
        assert_eq!(Suffix(11).resolve(10, true).unwrap(), Some((0, 9)));
    }

    #[test]
    fn preconditions() {
        let m = ObjectMeta {
            bucket: "b".into(),
            key: "k".into(),
            size: 1,
            etag: "ABC".into(),
            crc64: 0,
            content_md5: None,
            last_modified: OffsetDateTime::from_unix_timestamp(1000).unwrap(),
            object_type: crate::model::ObjectType::Normal,
            attrs: Default::default(),
            symlink_target: None,
        };
        let t = |s| Some(OffsetDateTime::from_unix_timestamp(s).unwrap());
        let p = |im: Option<&str>, inm: Option<&str>, ims, ius| Preconditions {
            if_match: im.map(String::from),
            if_none_match: inm.map(String::from),
            if_modified_since: ims,
            if_unmodified_since: ius,
        };
        assert!(p(Some("\"abc\""), None, None, None).check(&m).is_ok());
        assert!(p(Some("ABC"), None, None, t(10)).check(&m).is_ok());
        assert!(matches!(
            p(Some("x"), None, None, None).check(&m),
            Err(OssError::PreconditionFailed)
        ));
        assert!(matches!(
            p(None, None, None, t(999)).check(&m),
            Err(OssError::PreconditionFailed)
        ));
        assert!(matches!(
            p(None, Some("*"), None, None).check(&m),
            Err(OssError::NotModified)
        ));
        assert!(matches!(
            p(None, None, t(1000), None).check(&m),
            Err(OssError::NotModified)
        ));
        assert!(p(None, None, t(999), t(1000)).check(&m).is_ok());
    }
}
