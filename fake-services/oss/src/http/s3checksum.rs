//! S3 additional checksums (`x-amz-checksum-crc32|crc32c|crc64nvme|sha1|sha256`), as recent
//! boto3 sends them on every upload: in a header, or in the aws-chunked trailer named by
//! `x-amz-trailer`. The body is checked as it streams; a mismatch ends the stream with an error,
//! so nothing is stored (S3 answers `BadDigest`).

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::StreamExt;
use http::HeaderMap;

use super::headers::get;
use crate::checksum::{ALGORITHMS, S3Hasher as Hasher};
use crate::model::{Checksum, ChecksumSlot};
use crate::{Body, OssError};

/// Trailer lines of an aws-chunked body, filled in when the body ends.
pub type Trailers = Arc<Mutex<Vec<(String, String)>>>;

enum Expected {
    Header(String),
    Trailer(String, Trailers),
}

/// Wraps `body` in a check of the checksum the request announces, if any; `slot` gets the
/// checksum once the body has ended and matched it.
pub fn verify(body: Body, h: &HeaderMap, trailers: &Trailers, slot: &ChecksumSlot) -> Body {
    for alg in ALGORITHMS {
        if let Some(v) = get(h, &format!("x-amz-checksum-{alg}")) {
            return wrap(body, alg, Expected::Header(v.to_string()), slot.clone());
        }
    }
    if let Some(name) = get(h, "x-amz-trailer").map(|t| t.trim().to_ascii_lowercase())
        && let Some(alg) = name.strip_prefix("x-amz-checksum-")
    {
        let alg = alg.to_string();
        return wrap(
            body,
            &alg,
            Expected::Trailer(name.clone(), trailers.clone()),
            slot.clone(),
        );
    }
    body
}

fn wrap(body: Body, alg: &str, expected: Expected, slot: ChecksumSlot) -> Body {
    let Some(hasher) = Hasher::new(alg) else {
        return body;
    };
    let alg = alg.to_string();
    let state = (body, Some(hasher), expected);
    futures::stream::unfold(state, move |(mut body, mut hasher, expected)| {
        let (alg, slot) = (alg.clone(), slot.clone());
        async move {
            let h = hasher.as_mut()?;
            match body.next().await {
                Some(Ok(chunk)) => {
                    h.update(&chunk);
                    Some((Ok::<Bytes, OssError>(chunk), (body, hasher, expected)))
                }
                Some(Err(e)) => Some((Err(e), (body, None, expected))),
                None => {
                    let computed = hasher.take()?.finish_b64();
                    let given = match &expected {
                        Expected::Header(v) => Some(v.clone()),
                        Expected::Trailer(name, t) => t
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .iter()
                            .find(|(n, _)| n.eq_ignore_ascii_case(name))
                            .map(|(_, v)| v.clone()),
                    };
                    match given {
                        Some(g) if g.trim() != computed => Some((
                            Err(OssError::ChecksumMismatch {
                                algorithm: alg.to_ascii_uppercase(),
                                given: g,
                                computed,
                            }),
                            (body, None, expected),
                        )),
                        _ => {
                            *slot.lock().unwrap_or_else(|e| e.into_inner()) =
                                Some(Checksum::full(&alg, computed));
                            None
                        }
                    }
                }
            }
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body_from_bytes;

    async fn run(headers: &[(&'static str, &'static str)]) -> Result<Vec<u8>, OssError> {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, v.parse().unwrap());
        }
        let slot = ChecksumSlot::default();
        let mut b = verify(body_from_bytes("hello"), &h, &Trailers::default(), &slot);
        let mut out = Vec::new();
        while let Some(c) = b.next().await {
            out.extend_from_slice(&c?);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn checks_header_checksums() {
        assert_eq!(
            run(&[("x-amz-checksum-crc32", "NhCmhg==")]).await.unwrap(),
            b"hello"
        );
        assert!(run(&[("x-amz-checksum-crc32", "AAAAAA==")]).await.is_err());
        let sha = "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=";
        assert!(run(&[("x-amz-checksum-sha256", sha)]).await.is_ok());
        assert!(run(&[("x-amz-checksum-unknown", "x")]).await.is_ok());
    }
}
