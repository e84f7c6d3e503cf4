//! S3 additional checksums (`x-amz-checksum-crc32|crc32c|crc64nvme|sha1|sha256`), as recent
//! boto3 sends them on every upload: in a header, or in the aws-chunked trailer named by
//! `x-amz-trailer`. The body is checked as it streams; a mismatch ends the stream with an error,
//! so nothing is stored (S3 answers `BadDigest`).

use std::sync::{Arc, Mutex};

use base64::Engine;
use bytes::Bytes;
use futures::StreamExt;
use http::HeaderMap;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::headers::get;
use crate::{Body, OssError};

static CRC32: crc::Crc<u32, crc::Table<16>> =
    crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISO_HDLC);
static CRC32C: crc::Crc<u32, crc::Table<16>> =
    crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISCSI);
static CRC64NVME: crc::Crc<u64, crc::Table<16>> =
    crc::Crc::<u64, crc::Table<16>>::new(&crc::CRC_64_NVME);

/// Trailer lines of an aws-chunked body, filled in when the body ends.
pub type Trailers = Arc<Mutex<Vec<(String, String)>>>;

enum Hasher {
    Crc32(crc::Digest<'static, u32, crc::Table<16>>),
    Crc32c(crc::Digest<'static, u32, crc::Table<16>>),
    Crc64(crc::Digest<'static, u64, crc::Table<16>>),
    Sha1(Sha1),
    Sha256(Sha256),
}

impl Hasher {
    fn new(alg: &str) -> Option<Self> {
        Some(match alg {
            "crc32" => Hasher::Crc32(CRC32.digest()),
            "crc32c" => Hasher::Crc32c(CRC32C.digest()),
            "crc64nvme" => Hasher::Crc64(CRC64NVME.digest()),
            "sha1" => Hasher::Sha1(Sha1::new()),
            "sha256" => Hasher::Sha256(Sha256::new()),
            _ => return None,
        })
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Crc32(d) | Hasher::Crc32c(d) => d.update(data),
            Hasher::Crc64(d) => d.update(data),
            Hasher::Sha1(d) => d.update(data),
            Hasher::Sha256(d) => d.update(data),
        }
    }

    fn finish_b64(self) -> String {
        let bytes: Vec<u8> = match self {
            Hasher::Crc32(d) | Hasher::Crc32c(d) => d.finalize().to_be_bytes().to_vec(),
            Hasher::Crc64(d) => d.finalize().to_be_bytes().to_vec(),
            Hasher::Sha1(d) => d.finalize().to_vec(),
            Hasher::Sha256(d) => d.finalize().to_vec(),
        };
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }
}

enum Expected {
    Header(String),
    Trailer(String, Trailers),
}

/// Wraps `body` in a check of the checksum the request announces, if any.
pub fn verify(body: Body, h: &HeaderMap, trailers: &Trailers) -> Body {
    for alg in ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"] {
        if let Some(v) = get(h, &format!("x-amz-checksum-{alg}")) {
            return wrap(body, alg, Expected::Header(v.to_string()));
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
        );
    }
    body
}

fn wrap(body: Body, alg: &str, expected: Expected) -> Body {
    let Some(hasher) = Hasher::new(alg) else {
        return body;
    };
    let state = (body, Some(hasher), expected);
    futures::stream::unfold(state, |(mut body, mut hasher, expected)| async move {
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
                        Err(OssError::InvalidDigest { given: g, computed }),
                        (body, None, expected),
                    )),
                    _ => None,
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
        let mut b = verify(body_from_bytes("hello"), &h, &Trailers::default());
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
