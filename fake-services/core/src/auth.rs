//! What every service's signature check shares: HMAC and digests, the encodings signatures are
//! written in, a constant-time comparison, and the key derivation of the V4 family (OSS4, AWS4,
//! SLS4, Table Store's V4). Each service keeps only its canonical request and string to sign.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// HMAC-SHA1 of `data` under `key`.
pub fn hmac_sha1(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length, so this never fails.
    let Ok(mut m) = <Hmac<sha1::Sha1> as Mac>::new_from_slice(key) else {
        return Vec::new();
    };
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let Ok(mut m) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
        return Vec::new();
    };
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// Lower-case hex SHA-256 of `data` (the hashed payloads and canonical requests of V4).
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Standard base64 with padding, as V1/V2 signatures are written.
pub fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Lower-case hex, as V4 signatures are written.
pub fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// Whether a signature a client sent equals the expected one, in time that does not depend on
/// where they differ (a plain `==` lets a client learn a valid signature byte by byte).
pub fn same_signature(given: impl AsRef<[u8]>, expected: impl AsRef<[u8]>) -> bool {
    let (given, expected) = (given.as_ref(), expected.as_ref());
    given.len() == expected.len() && bool::from(given.ct_eq(expected))
}

/// RFC 3986 percent-encoding: everything but `A-Za-z0-9-_.~` (and `/` when `keep_slash`) as
/// `%XX` with upper-case hex — the encoding of V4 canonical URIs and queries.
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A V4 signing key: HMAC-SHA256 of each part of `scope` in turn (date, region, service,
/// terminator, as the client's credential scope names them), starting from `prefix` + `secret`.
pub fn v4_key(prefix: &str, secret: &str, scope: &[&str]) -> Vec<u8> {
    let mut key = format!("{prefix}{secret}").into_bytes();
    for part in scope {
        key = hmac_sha256(&key, part.as_bytes());
    }
    key
}

/// The V4 family's signing key: HMAC-SHA256 chained over the scope, starting from the secret
/// with the family's prefix.
#[derive(Debug, Clone, Copy)]
pub struct V4Scheme {
    /// Put before the secret: `aliyun_v4` (OSS4, SLS4, Table Store) or `AWS4`.
    pub secret_prefix: &'static str,
    /// The scope's last part: `aliyun_v4_request` or `aws4_request`.
    pub terminator: &'static str,
}

impl V4Scheme {
    /// Alibaba Cloud's V4 (OSS4-HMAC-SHA256, SLS4-HMAC-SHA256, Table Store V4).
    pub const ALIYUN: V4Scheme = V4Scheme {
        secret_prefix: "aliyun_v4",
        terminator: "aliyun_v4_request",
    };
    /// AWS Signature Version 4 (the S3 face).
    pub const AWS: V4Scheme = V4Scheme {
        secret_prefix: "AWS4",
        terminator: "aws4_request",
    };

    /// The signing key for `secret` on `date` (`YYYYMMDD`) in `region` for `service`.
    pub fn signing_key(&self, secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
        v4_key(
            self.secret_prefix,
            secret,
            &[date, region, service, self.terminator],
        )
    }

    /// The hex signature of `string_to_sign`.
    pub fn sign(
        &self,
        secret: &str,
        date: &str,
        region: &str,
        service: &str,
        string_to_sign: &str,
    ) -> String {
        let key = self.signing_key(secret, date, region, service);
        hex::encode(hmac_sha256(&key, string_to_sign.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_v4_matches_the_published_example() {
        // AWS's "deriving the signing key" example (secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY).
        let key = V4Scheme::AWS.signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex(&key),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn signatures_compare_by_content() {
        assert!(same_signature("abc", "abc"));
        assert!(!same_signature("abc", "abd"));
        assert!(!same_signature("abc", "abcd"));
        assert!(!same_signature("", "a"));
    }

    #[test]
    fn uri_encoding_is_rfc_3986() {
        assert_eq!(uri_encode("a b/c~d*", false), "a%20b%2Fc~d%2A");
        assert_eq!(uri_encode("a b/c", true), "a%20b/c");
        assert_eq!(uri_encode("é", false), "%C3%A9");
    }
}
