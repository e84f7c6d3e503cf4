//! `Content-Encoding: aws-chunked` (S3 streaming uploads): `<hex>[;chunk-signature=..]\r\n
//! <data>\r\n` repeated, a `0` chunk, trailer lines, an empty line. Decoded incrementally so the
//! payload streams to disk.

use bytes::{Buf, Bytes, BytesMut};
use futures::StreamExt;

use crate::{Body, OssError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Header,
    Data(u64),
    DataEnd,
    Trailers,
    Done,
}

/// Incremental aws-chunked decoder.
#[derive(Debug)]
pub struct AwsChunkedDecoder {
    buf: BytesMut,
    state: State,
    trailers: Vec<(String, String)>,
}

const MAX_LINE: usize = 4096;

fn bad(why: &str) -> OssError {
    OssError::invalid_argument(
        "Content-Encoding",
        "aws-chunked",
        format!("malformed aws-chunked body: {why}"),
    )
}

impl Default for AwsChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl AwsChunkedDecoder {
    /// A decoder at the start of a body.
    pub fn new() -> Self {
        Self {
            buf: BytesMut::new(),
            state: State::Header,
            trailers: Vec::new(),
        }
    }

    fn take_line(&mut self) -> Result<Option<Bytes>, OssError> {
        match self.buf.windows(2).position(|w| w == b"\r\n") {
            Some(i) => {
                let line = self.buf.split_to(i).freeze();
                self.buf.advance(2);
                Ok(Some(line))
            }
            None if self.buf.len() > MAX_LINE => Err(bad("line too long")),
            None => Ok(None),
        }
    }

    /// Feeds raw bytes; returns the payload bytes they complete.
    pub fn push(&mut self, input: &[u8]) -> Result<Vec<Bytes>, OssError> {
        self.buf.extend_from_slice(input);
        let mut out = Vec::new();
        loop {
            match self.state {
                State::Header => {
                    let Some(line) = self.take_line()? else { break };
                    let line = std::str::from_utf8(&line).map_err(|_| bad("chunk header"))?;
                    let size = line.split(';').next().unwrap_or("").trim();
                    let n = u64::from_str_radix(size, 16).map_err(|_| bad("chunk size"))?;
                    self.state = if n == 0 {
                        State::Trailers
                    } else {
                        State::Data(n)
                    };
                }
                State::Data(n) => {
                    if self.buf.is_empty() {
                        break;
                    }
                    let take = (n as usize).min(self.buf.len());
                    out.push(self.buf.split_to(take).freeze());
                    let left = n - take as u64;
                    self.state = if left == 0 {
                        State::DataEnd
                    } else {
                        State::Data(left)
                    };
                }
                State::DataEnd => {
                    if self.buf.len() < 2 {
                        break;
                    }
                    if &self.buf[..2] != b"\r\n" {
                        return Err(bad("missing CRLF after chunk"));
                    }
                    self.buf.advance(2);
                    self.state = State::Header;
                }
                State::Trailers => {
                    let Some(line) = self.take_line()? else { break };
                    if line.is_empty() {
                        self.state = State::Done;
                    } else if let Some((k, v)) = String::from_utf8_lossy(&line).split_once(':')
                        && self.trailers.len() < 16
                    {
                        self.trailers
                            .push((k.trim().to_string(), v.trim().to_string()));
                    }
                }
                State::Done => {
                    self.buf.clear();
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Trailer lines read so far (`x-amz-checksum-crc32: ...`).
    pub fn trailers(&self) -> &[(String, String)] {
        &self.trailers
    }

    /// Checks the body ended where the encoding says it ends. A body cut right after the final
    /// `0` chunk (no trailer section) is accepted.
    pub fn finish(&self) -> Result<(), OssError> {
        match self.state {
            State::Done | State::Trailers => Ok(()),
            _ => Err(bad("truncated body")),
        }
    }
}

/// Wraps a raw body in the decoder; the trailers are stored in `trailers` when the body ends.
pub fn decode_stream(raw: Body, trailers: super::s3checksum::Trailers) -> Body {
    let state = (raw, AwsChunkedDecoder::new(), false);
    futures::stream::unfold(state, move |(mut raw, mut dec, ended)| {
        let trailers = trailers.clone();
        async move {
            if ended {
                return None;
            }
            loop {
                match raw.next().await {
                    Some(Ok(chunk)) => match dec.push(&chunk) {
                        Ok(out) if out.is_empty() => continue,
                        Ok(out) => {
                            let joined: Vec<Result<Bytes, OssError>> =
                                out.into_iter().map(Ok).collect();
                            return Some((futures::stream::iter(joined), (raw, dec, false)));
                        }
                        Err(e) => {
                            return Some((futures::stream::iter(vec![Err(e)]), (raw, dec, true)));
                        }
                    },
                    Some(Err(e)) => {
                        return Some((futures::stream::iter(vec![Err(e)]), (raw, dec, true)));
                    }
                    None => {
                        *trailers.lock().unwrap_or_else(|e| e.into_inner()) =
                            dec.trailers().to_vec();
                        return match dec.finish() {
                            Ok(()) => None,
                            Err(e) => Some((futures::stream::iter(vec![Err(e)]), (raw, dec, true))),
                        };
                    }
                }
            }
        }
    })
    .flatten()
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    const WIRE: &[u8] = b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n";

    #[test]
    fn decodes_whole_and_byte_by_byte() {
        let mut d = AwsChunkedDecoder::new();
        let out: Vec<u8> = d.push(WIRE).unwrap().concat();
        assert_eq!(out, b"hello");
        d.finish().unwrap();
        assert_eq!(
            d.trailers(),
            &[("x-amz-checksum-crc32".to_string(), "NhCmhg==".to_string())]
        );

        let mut d = AwsChunkedDecoder::new();
        let mut out = Vec::new();
        for b in WIRE {
            out.extend(d.push(&[*b]).unwrap().concat());
        }
        assert_eq!(out, b"hello");
        d.finish().unwrap();
    }

    #[test]
    fn signed_chunks_and_errors() {
        let mut d = AwsChunkedDecoder::new();
        let out = d
            .push(b"3;chunk-signature=abc\r\nabc\r\n0;chunk-signature=def\r\n\r\n")
            .unwrap()
            .concat();
        assert_eq!(out, b"abc");
        d.finish().unwrap();
        assert!(AwsChunkedDecoder::new().push(b"zz\r\n").is_err());
        let mut d = AwsChunkedDecoder::new();
        d.push(b"5\r\nhel").unwrap();
        assert!(d.finish().is_err());
    }
}
