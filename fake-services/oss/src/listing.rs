//! Listing order and grouping: byte order of UTF-8 keys, common prefixes at the first delimiter
//! after the prefix, markers exclusive, `max-keys` counting keys and prefixes together.

use crate::OssError;
use crate::model::ObjectMeta;

/// What to list.
#[derive(Clone, Debug, Default)]
pub struct ListParams {
    /// Only keys starting with this.
    pub prefix: String,
    /// Group keys at the first occurrence of this after the prefix (empty: no grouping).
    pub delimiter: String,
    /// Only entries sorting after this (v1 `marker`, v2 `start-after` or the decoded token).
    pub start_after: Option<String>,
    /// Most entries (keys plus common prefixes) to return.
    pub max: usize,
}

/// One page of a listing.
#[derive(Clone, Debug, Default)]
pub struct ListPage {
    /// Objects, in key order.
    pub contents: Vec<ObjectMeta>,
    /// Common prefixes, in order.
    pub common_prefixes: Vec<String>,
    /// Whether more entries follow.
    pub truncated: bool,
    /// The last entry returned (key or common prefix): the marker for the next page.
    pub last: Option<String>,
}

/// The smallest string after every string starting with `p`, for skipping a common prefix.
fn past_prefix(p: &str) -> String {
    format!("{p}{}", char::MAX)
}

/// Builds a page from `scan(after, limit)`, which returns objects with keys starting with the
/// prefix and sorting after `after` (or all with the prefix when `None`), in order.
pub fn list_page(
    params: &ListParams,
    mut scan: impl FnMut(Option<&str>, usize) -> Result<Vec<ObjectMeta>, OssError>,
) -> Result<ListPage, OssError> {
    const BATCH: usize = 1000;
    let mut page = ListPage::default();
    let mut after = params.start_after.clone();
    let mut count = 0usize;
    'scan: loop {
        let batch = scan(after.as_deref(), BATCH)?;
        if batch.is_empty() {
            return Ok(page);
        }
        let full = batch.len() == BATCH;
        for m in batch {
            after = Some(m.key.clone());
            if !params.delimiter.is_empty()
                && let Some(rest) = m.key.get(params.prefix.len()..)
                && let Some(i) = rest.find(&params.delimiter)
            {
                let cp = &m.key[..params.prefix.len() + i + params.delimiter.len()];
                let seen = params.start_after.as_deref().is_some_and(|s| cp <= s)
                    || page.common_prefixes.last().is_some_and(|l| l == cp);
                if !seen {
                    if count == params.max {
                        page.truncated = true;
                        return Ok(page);
                    }
                    page.common_prefixes.push(cp.to_string());
                    page.last = Some(cp.to_string());
                    count += 1;
                }
                after = Some(past_prefix(cp));
                continue 'scan;
            }
            if count == params.max {
                page.truncated = true;
                return Ok(page);
            }
            page.last = Some(m.key.clone());
            page.contents.push(m);
            count += 1;
        }
        if !full {
            return Ok(page);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ObjectAttrs, ObjectType};

    fn obj(key: &str) -> ObjectMeta {
        ObjectMeta {
            bucket: "b".into(),
            key: key.into(),
            size: 0,
            etag: String::new(),
            crc64: 0,
            content_md5: None,
            last_modified: time::OffsetDateTime::UNIX_EPOCH,
            object_type: ObjectType::Normal,
            attrs: ObjectAttrs::default(),
            symlink_target: None,
        }
    }

    fn run(keys: &[&str], p: &ListParams) -> ListPage {
        let mut sorted: Vec<&str> = keys.to_vec();
        sorted.sort();
        list_page(p, |after, limit| {
            Ok(sorted
                .iter()
                .filter(|k| k.starts_with(&p.prefix))
                .filter(|k| after.is_none_or(|a| **k > a))
                .take(limit)
                .map(|k| obj(k))
                .collect())
        })
        .unwrap()
    }

    fn names(p: &ListPage) -> (Vec<&str>, Vec<&str>) {
        (
            p.contents.iter().map(|m| m.key.as_str()).collect(),
            p.common_prefixes.iter().map(String::as_str).collect(),
        )
    }

    const KEYS: &[&str] = &["a", "b/1", "b/2", "b/c/3", "c", "d/x", "é", "Z"];

    #[test]
    fn orders_by_bytes() {
        let p = run(
            KEYS,
            &ListParams {
                max: 100,
                ..Default::default()
            },
        );
        assert_eq!(
            names(&p).0,
            vec!["Z", "a", "b/1", "b/2", "b/c/3", "c", "d/x", "é"]
        );
        assert!(!p.truncated);
    }

    #[test]
    fn groups_by_delimiter_and_pages_through_prefixes() {
        let params = |after: Option<&str>| ListParams {
            delimiter: "/".into(),
            max: 2,
            start_after: after.map(String::from),
            ..Default::default()
        };
        let mut after = None;
        let mut all = Vec::new();
        loop {
            let p = run(KEYS, &params(after.as_deref()));
            for m in &p.contents {
                all.push(m.key.clone());
            }
            for c in &p.common_prefixes {
                all.push(c.clone());
            }
            if !p.truncated {
                break;
            }
            after = p.last.clone();
        }
        all.sort();
        assert_eq!(all, vec!["Z", "a", "b/", "c", "d/", "é"]);
    }

    #[test]
    fn prefix_and_delimiter() {
        let p = run(
            KEYS,
            &ListParams {
                prefix: "b/".into(),
                delimiter: "/".into(),
                max: 100,
                ..Default::default()
            },
        );
        assert_eq!(names(&p), (vec!["b/1", "b/2"], vec!["b/c/"]));
    }

    #[test]
    fn max_counts_keys_and_prefixes() {
        let p = run(
            KEYS,
            &ListParams {
                delimiter: "/".into(),
                max: 3,
                ..Default::default()
            },
        );
        assert_eq!(names(&p), (vec!["Z", "a"], vec!["b/"]));
        assert!(p.truncated);
        assert_eq!(p.last.as_deref(), Some("b/"));
        let p = run(
            KEYS,
            &ListParams {
                max: 0,
                ..Default::default()
            },
        );
        assert!(p.truncated && p.contents.is_empty());
    }

    #[test]
    fn marker_is_exclusive() {
        let p = run(
            KEYS,
            &ListParams {
                start_after: Some("b/2".into()),
                max: 2,
                ..Default::default()
            },
        );
        assert_eq!(names(&p).0, vec!["b/c/3", "c"]);
        assert!(p.truncated);
    }

    mod model {
        //! Paging through any key set with any prefix, delimiter and page size yields exactly
        //! what a naive model says, in order, each entry once.

        use super::*;
        use proptest::prelude::*;

        fn naive(keys: &[String], prefix: &str, delimiter: &str) -> Vec<String> {
            let mut out: Vec<String> = keys
                .iter()
                .filter(|k| k.starts_with(prefix))
                .map(|k| {
                    let rest = &k[prefix.len()..];
                    match (!delimiter.is_empty())
                        .then(|| rest.find(delimiter))
                        .flatten()
                    {
                        Some(i) => k[..prefix.len() + i + delimiter.len()].to_string(),
                        None => k.clone(),
                    }
                })
                .collect();
            out.sort();
            out.dedup();
            out
        }

        proptest! {
            #[test]
            fn pages_match_the_model(
                keys in proptest::collection::btree_set("[ab/é]{1,5}", 0..30),
                prefix in "[ab/]{0,2}",
                delimiter in prop::sample::select(vec!["", "/", "b", "/a"]),
                max in 1usize..5,
            ) {
                let keys: Vec<String> = keys.into_iter().collect();
                let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
                let mut got = Vec::new();
                let mut after: Option<String> = None;
                for _ in 0..100 {
                    let p = run(&refs, &ListParams {
                        prefix: prefix.clone(),
                        delimiter: delimiter.to_string(),
                        start_after: after.clone(),
                        max,
                    });
                    prop_assert!(p.contents.len() + p.common_prefixes.len() <= max);
                    let mut page: Vec<String> = p.contents.iter().map(|m| m.key.clone()).collect();
                    page.extend(p.common_prefixes.iter().cloned());
                    page.sort();
                    got.extend(page);
                    if !p.truncated {
                        break;
                    }
                    after = p.last.clone();
                }
                prop_assert_eq!(got, naive(&keys, &prefix, delimiter));
            }
        }
    }
}
