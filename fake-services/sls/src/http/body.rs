//! Request and response bodies: reading with a size limit, `x-log-compresstype` (lz4 raw block,
//! zstd frame, deflate = zlib) with `x-log-bodyrawsize`, and choosing a response compression from
//! `Accept-Encoding`.

use std::io::Read;

use bytes::Bytes;
use http::HeaderMap;

use crate::SlsError;

/// Largest uncompressed request body (10 MiB).
pub const MAX_RAW_BODY: u64 = 10 * 1024 * 1024;

/// Reads a request body, refusing more than [`MAX_RAW_BODY`] bytes.
pub async fn read(body: axum::body::Body, headers: &HeaderMap) -> Result<Bytes, SlsError> {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(n) = declared.filter(|n| *n > MAX_RAW_BODY) {
        return Err(SlsError::PostBodyTooLarge(n));
    }
    axum::body::to_bytes(body, MAX_RAW_BODY as usize)
        .await
        .map_err(|_| SlsError::PostBodyTooLarge(declared.unwrap_or(MAX_RAW_BODY + 1)))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The body as the client meant it: decompressed as `x-log-compresstype` says, into exactly
/// `x-log-bodyrawsize` bytes. Without a compression type the body is used as sent.
pub fn decompress(body: Bytes, headers: &HeaderMap) -> Result<Bytes, SlsError> {
    let kind = header(headers, "x-log-compresstype").unwrap_or("");
    if kind.is_empty() {
        return Ok(body);
    }
    let raw = header(headers, "x-log-bodyrawsize").ok_or(SlsError::MissingBodyRawSize)?;
    let raw_size: u64 = raw
        .parse()
        .map_err(|_| SlsError::InvalidBodyRawSize(raw.to_string()))?;
    if raw_size > MAX_RAW_BODY {
        return Err(SlsError::PostBodyTooLarge(raw_size));
    }
    decompress_bytes(&body, kind, raw_size as usize).map(Bytes::from)
}

/// Decompresses `data` (`lz4`, `zstd` or `deflate`) into exactly `raw_size` bytes.
pub fn decompress_bytes(data: &[u8], kind: &str, raw_size: usize) -> Result<Vec<u8>, SlsError> {
    let uncompress_error = |why: String| {
        SlsError::PostBodyUncompressError(format!("cannot decompress the body: {why}"))
    };
    let out = match kind.to_ascii_lowercase().as_str() {
        "lz4" => lz4_flex::block::decompress(data, raw_size)
            .map_err(|e| uncompress_error(e.to_string()))?,
        "zstd" => {
            let mut out = Vec::with_capacity(raw_size.min(1 << 20));
            let mut decoder = zstd::stream::read::Decoder::new(data)
                .map_err(|e| uncompress_error(e.to_string()))?;
            // Bodies are at most 10 MiB: refuse frames that ask for a larger window.
            decoder
                .window_log_max(24)
                .map_err(|e| uncompress_error(e.to_string()))?;
            decoder
                .take(raw_size as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| uncompress_error(e.to_string()))?;
            out
        }
        "deflate" | "gzip" => {
            let mut out = Vec::with_capacity(raw_size.min(1 << 20));
            flate2::read::ZlibDecoder::new(data)
                .take(raw_size as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| uncompress_error(e.to_string()))?;
            out
        }
        other => return Err(SlsError::InvalidCompressType(other.to_string())),
    };
    if out.len() != raw_size {
        return Err(uncompress_error(format!(
            "{} bytes instead of x-log-bodyrawsize {raw_size}",
            out.len()
        )));
    }
    Ok(out)
}

/// How a response body is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// As is; no `x-log-compresstype`.
    Raw,
    /// Raw LZ4 block.
    Lz4,
    /// zlib stream.
    Deflate,
}

impl Encoding {
    /// The encoding for `Accept-Encoding`: lz4 when listed (also for zstd-only clients, which
    /// all read lz4), deflate when only deflate / gzip is, raw when empty or absent.
    pub fn from_accept(headers: &HeaderMap) -> Self {
        let accept = header(headers, "accept-encoding")
            .unwrap_or("")
            .to_ascii_lowercase();
        if accept.contains("lz4") || accept.contains("zstd") {
            Encoding::Lz4
        } else if accept.contains("deflate") || accept.contains("gzip") {
            Encoding::Deflate
        } else {
            Encoding::Raw
        }
    }

    /// The `x-log-compresstype` value, if any.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Encoding::Raw => None,
            Encoding::Lz4 => Some("lz4"),
            Encoding::Deflate => Some("deflate"),
        }
    }

    /// Compresses `data`.
    pub fn compress(self, data: &[u8]) -> Vec<u8> {
        match self {
            Encoding::Raw => data.to_vec(),
            Encoding::Lz4 => lz4_flex::block::compress(data),
            Encoding::Deflate => {
                use std::io::Write;
                let mut enc =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
                // Writing to a Vec cannot fail.
                let _ = enc.write_all(data);
                enc.finish().unwrap_or_default()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lz4_and_deflate_round_trip() {
        let data = b"hello hello hello hello hello".repeat(10);
        for enc in [Encoding::Lz4, Encoding::Deflate] {
            let c = enc.compress(&data);
            let name = enc.name().unwrap();
            assert_eq!(decompress_bytes(&c, name, data.len()).unwrap(), data);
            assert!(matches!(
                decompress_bytes(&c, name, data.len() + 1),
                Err(SlsError::PostBodyUncompressError(_))
            ));
        }
        assert!(matches!(
            decompress_bytes(b"x", "zip", 1),
            Err(SlsError::InvalidCompressType(_))
        ));
        let z = zstd::bulk::compress(&data, 1).unwrap();
        assert_eq!(decompress_bytes(&z, "zstd", data.len()).unwrap(), data);
        assert!(decompress_bytes(&z, "zstd", data.len() - 1).is_err());
        assert!(decompress_bytes(b"not zstd", "zstd", 8).is_err());
    }

    #[test]
    fn reference_lz4_block_is_literal_only() {
        let mut block = vec![0xf0, 0x45];
        block.extend(std::iter::repeat_n(7u8, 84));
        assert_eq!(decompress_bytes(&block, "lz4", 84).unwrap(), vec![7u8; 84]);
    }

    #[test]
    fn headers_decide() {
        let mut h = HeaderMap::new();
        assert_eq!(decompress(Bytes::from_static(b"abc"), &h).unwrap(), "abc");
        h.insert("x-log-compresstype", "lz4".parse().unwrap());
        assert!(matches!(
            decompress(Bytes::from_static(b"abc"), &h),
            Err(SlsError::MissingBodyRawSize)
        ));
        h.insert("x-log-bodyrawsize", "nope".parse().unwrap());
        assert!(matches!(
            decompress(Bytes::from_static(b"abc"), &h),
            Err(SlsError::InvalidBodyRawSize(_))
        ));
        h.insert("x-log-bodyrawsize", "99999999999".parse().unwrap());
        assert!(matches!(
            decompress(Bytes::from_static(b"abc"), &h),
            Err(SlsError::PostBodyTooLarge(_))
        ));
        h.insert("accept-encoding", "".parse().unwrap());
        assert_eq!(Encoding::from_accept(&h), Encoding::Raw);
        h.insert("accept-encoding", "lz4".parse().unwrap());
        assert_eq!(Encoding::from_accept(&h), Encoding::Lz4);
        h.insert("accept-encoding", "gzip, deflate".parse().unwrap());
        assert_eq!(Encoding::from_accept(&h), Encoding::Deflate);
    }
}
