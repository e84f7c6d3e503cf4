//! Content digests: MD5 (ETags, Content-MD5) and CRC-64/XZ (`x-oss-hash-crc64ecma`), computed
//! incrementally while a body streams to disk.

use base64::Engine;
use md5::{Digest, Md5};
use sha1::Sha1;
use sha2::Sha256;

static CRC64: crc::Crc<u64, crc::Table<16>> = crc::Crc::<u64, crc::Table<16>>::new(&crc::CRC_64_XZ);

/// Extends `prev` (the CRC-64/XZ of some bytes A) to the CRC of A followed by `data`.
/// `crc64_update(0, data)` is the CRC of `data` alone.
pub fn crc64_update(prev: u64, data: &[u8]) -> u64 {
    // The crc crate seeds reflected algorithms with the bit-reversed register; the register that
    // continues from a finished CRC is the CRC with the final XOR undone.
    let mut digest = CRC64.digest_with_initial((!prev).reverse_bits());
    digest.update(data);
    digest.finalize()
}

/// The CRC of A‖B from crc(A), crc(B) and len(B), without the bytes (zlib's crc32_combine,
/// for the reflected ECMA-182 polynomial).
pub fn crc64_combine(crc1: u64, crc2: u64, len2: u64) -> u64 {
    crc64_combine_with(0xC96C_5795_D787_0F42, crc1, crc2, len2)
}

/// [`crc64_combine`] for any reflected CRC-64 with all-ones init and final XOR, given its
/// reflected polynomial (CRC-64/NVME, S3's full-object multipart checksum, is one).
pub fn crc64_combine_with(poly: u64, crc1: u64, crc2: u64, len2: u64) -> u64 {
    if len2 == 0 {
        return crc1;
    }
    fn times(mat: &[u64; 64], mut vec: u64) -> u64 {
        let mut sum = 0;
        let mut i = 0;
        while vec != 0 {
            if vec & 1 != 0 {
                sum ^= mat[i];
            }
            vec >>= 1;
            i += 1;
        }
        sum
    }
    fn square(square: &mut [u64; 64], mat: &[u64; 64]) {
        for n in 0..64 {
            square[n] = times(mat, mat[n]);
        }
    }
    let mut even = [0u64; 64];
    let mut odd = [0u64; 64];
    odd[0] = poly;
    let mut row = 1u64;
    for item in odd.iter_mut().skip(1) {
        *item = row;
        row <<= 1;
    }
    square(&mut even, &odd);
    square(&mut odd, &even);
    let mut crc1 = crc1;
    let mut len2 = len2;
    loop {
        square(&mut even, &odd);
        if len2 & 1 != 0 {
            crc1 = times(&even, crc1);
        }
        len2 >>= 1;
        if len2 == 0 {
            break;
        }
        square(&mut odd, &even);
        if len2 & 1 != 0 {
            crc1 = times(&odd, crc1);
        }
        len2 >>= 1;
        if len2 == 0 {
            break;
        }
    }
    crc1 ^ crc2
}

/// MD5 and CRC-64 of a body, fed in pieces.
#[derive(Clone, Default)]
pub struct Digests {
    md5: Md5,
    crc64: u64,
    len: u64,
}

impl Digests {
    /// Nothing hashed yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next piece.
    pub fn update(&mut self, data: &[u8]) {
        self.md5.update(data);
        self.crc64 = crc64_update(self.crc64, data);
        self.len += data.len() as u64;
    }

    /// The digests of everything fed.
    pub fn finish(self) -> BodyDigest {
        BodyDigest {
            md5: self.md5.finalize().into(),
            crc64: self.crc64,
            len: self.len,
        }
    }
}

/// The digests of a complete body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyDigest {
    /// Raw MD5.
    pub md5: [u8; 16],
    /// CRC-64/XZ.
    pub crc64: u64,
    /// Length in bytes.
    pub len: u64,
}

impl BodyDigest {
    /// Upper-case hex MD5: the ETag of a simple upload, without quotes.
    pub fn etag(&self) -> String {
        hex::encode_upper(self.md5)
    }

    /// base64 MD5, as in Content-MD5.
    pub fn content_md5(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(self.md5)
    }
}

/// The ETag of a completed multipart upload: MD5 over the binary part MD5s, `-<count>`.
pub fn multipart_etag(part_etags: &[String]) -> String {
    let mut md5 = Md5::new();
    for e in part_etags {
        if let Ok(raw) = hex::decode(e) {
            md5.update(raw);
        }
    }
    format!("{}-{}", hex::encode_upper(md5.finalize()), part_etags.len())
}

static S3_CRC32: crc::Crc<u32, crc::Table<16>> =
    crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISO_HDLC);
static S3_CRC32C: crc::Crc<u32, crc::Table<16>> =
    crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISCSI);
static S3_CRC64NVME: crc::Crc<u64, crc::Table<16>> =
    crc::Crc::<u64, crc::Table<16>>::new(&crc::CRC_64_NVME);

/// An S3 additional checksum being computed.
pub enum S3Hasher {
    /// CRC-32 (ISO-HDLC).
    Crc32(crc::Digest<'static, u32, crc::Table<16>>),
    /// CRC-32C (Castagnoli).
    Crc32c(crc::Digest<'static, u32, crc::Table<16>>),
    /// CRC-64/NVME.
    Crc64(crc::Digest<'static, u64, crc::Table<16>>),
    /// SHA-1.
    Sha1(Sha1),
    /// SHA-256.
    Sha256(Sha256),
}

impl S3Hasher {
    /// A hasher for `alg` (`crc32`, ...); `None` for an unknown algorithm.
    pub fn new(alg: &str) -> Option<Self> {
        Some(match alg {
            "crc32" => S3Hasher::Crc32(S3_CRC32.digest()),
            "crc32c" => S3Hasher::Crc32c(S3_CRC32C.digest()),
            "crc64nvme" => S3Hasher::Crc64(S3_CRC64NVME.digest()),
            "sha1" => S3Hasher::Sha1(Sha1::new()),
            "sha256" => S3Hasher::Sha256(Sha256::new()),
            _ => return None,
        })
    }

    /// Feeds the next piece.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            S3Hasher::Crc32(d) | S3Hasher::Crc32c(d) => d.update(data),
            S3Hasher::Crc64(d) => d.update(data),
            S3Hasher::Sha1(d) => d.update(data),
            S3Hasher::Sha256(d) => d.update(data),
        }
    }

    /// The checksum, base64 (of its big-endian bytes for the CRCs).
    pub fn finish_b64(self) -> String {
        let bytes: Vec<u8> = match self {
            S3Hasher::Crc32(d) | S3Hasher::Crc32c(d) => d.finalize().to_be_bytes().to_vec(),
            S3Hasher::Crc64(d) => d.finalize().to_be_bytes().to_vec(),
            S3Hasher::Sha1(d) => d.finalize().to_vec(),
            S3Hasher::Sha256(d) => d.finalize().to_vec(),
        };
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }
}

/// The algorithms of S3's additional checksums, as they appear in header names.
pub const ALGORITHMS: [&str; 5] = ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"];

/// The checksum of `data` with `alg`, base64 (`None` for an unknown algorithm).
pub fn s3_digest_b64(alg: &str, data: &[u8]) -> Option<String> {
    let mut h = S3Hasher::new(alg)?;
    h.update(data);
    Some(h.finish_b64())
}

/// The checksum a multipart object gets from its parts' checksums: CRC-64/NVME combined over
/// the whole content (`FULL_OBJECT`), any other algorithm the checksum of the parts' checksums
/// with `-<parts>` (`COMPOSITE`), as S3 computes them. `None` unless every part has a checksum
/// of one algorithm.
pub fn multipart_checksum(
    parts: &[(Option<&crate::model::Checksum>, u64)],
) -> Option<crate::model::Checksum> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let alg = parts.first()?.0?.algorithm.clone();
    let mut raw = Vec::new();
    let mut crc = 0u64;
    for (c, size) in parts {
        let c = c.filter(|c| c.algorithm == alg && c.kind == "FULL_OBJECT")?;
        let bytes = b64.decode(&c.value).ok()?;
        if alg == "crc64nvme" {
            let part = u64::from_be_bytes(bytes.try_into().ok()?);
            crc = crc64_combine_with(0x9A6C_9329_AC4B_C9B5, crc, part, *size);
        } else {
            raw.extend_from_slice(&bytes);
        }
    }
    if alg == "crc64nvme" {
        return Some(crate::model::Checksum::full(
            &alg,
            b64.encode(crc.to_be_bytes()),
        ));
    }
    Some(crate::model::Checksum {
        value: format!("{}-{}", s3_digest_b64(&alg, &raw)?, parts.len()),
        algorithm: alg,
        kind: "COMPOSITE".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multipart_crc64nvme_is_the_checksum_of_the_whole_content() {
        use crate::model::Checksum;
        let (a, b) = (b"first part ".as_slice(), b"and the second".as_slice());
        let part = |d: &[u8]| Checksum::full("crc64nvme", s3_digest_b64("crc64nvme", d).unwrap());
        let (pa, pb) = (part(a), part(b));
        let whole = multipart_checksum(&[(Some(&pa), a.len() as u64), (Some(&pb), b.len() as u64)])
            .unwrap();
        let all = [a, b].concat();
        assert_eq!(whole, part(&all));
        let c = Checksum::full("crc32", s3_digest_b64("crc32", a).unwrap());
        assert_eq!(multipart_checksum(&[(Some(&pa), 1), (Some(&c), 1)]), None);
        assert_eq!(multipart_checksum(&[(Some(&c), 1), (None, 1)]), None);
    }

    #[test]
    fn crc64_matches_the_oss_vectors() {
        assert_eq!(crc64_update(0, b"123456789"), 11051210869376104954);
        assert_eq!(crc64_update(0, b""), 0);
        assert_eq!(crc64_update(0, b"hello"), 11177612005948864433);
        assert_eq!(crc64_update(0, b"hello world"), 5981764153023615706);
        assert_eq!(
            crc64_update(11177612005948864433, b" world"),
            5981764153023615706
        );
    }

    #[test]
    fn crc64_combine_matches_concatenation() {
        let a = crc64_update(0, b"hello");
        let b = crc64_update(0, b" world");
        assert_eq!(crc64_combine(a, b, 6), 5981764153023615706);
        assert_eq!(crc64_combine(a, 0, 0), a);
        let big: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
        let (x, y) = big.split_at(33_333);
        assert_eq!(
            crc64_combine(crc64_update(0, x), crc64_update(0, y), y.len() as u64),
            crc64_update(0, &big)
        );
    }

    #[test]
    fn digests_of_hello() {
        let mut d = Digests::new();
        d.update(b"he");
        d.update(b"llo");
        let d = d.finish();
        assert_eq!(d.etag(), "5D41402ABC4B2A76B9719D911017C592");
        assert_eq!(d.content_md5(), "XUFAKrxLKna5cZ2REBfFkg==");
        assert_eq!(d.crc64, 11177612005948864433);
        assert_eq!(d.len, 5);
    }
}
