//! Request bodies a handler may leave unread.
//!
//! A server that answers before reading the request body (an error found from the headers:
//! no such bucket, wrong append position) and then closes the connection with the unread bytes
//! still queued makes the kernel reset it, and the reset can destroy the response before the
//! client reads it: the client sees a broken connection instead of the error. So the body is
//! read on a task of its own, which keeps reading (and dropping) whatever the handler leaves.

use axum::body::Body;
use axum::extract::Request;
use bytes::Bytes;
use http::header;
use http_body_util::{BodyExt, StreamBody};

/// Bytes read and dropped after the handler let go of a body; past this the connection is
/// closed instead (a client streaming gigabytes to a failed upload).
pub const DRAIN_LIMIT: u64 = 64 << 20;

/// `req` with its body read on a background task. Unchanged: requests without a body, and
/// those with `Expect: 100-continue`, whose client sends the body only once told to go on (an
/// early answer then leaves nothing unread, and reading would tell the client to send a body
/// the server has already given up on: it would arrive where the next request should).
pub fn read_in_background(req: Request) -> Request {
    let expects_continue = req
        .headers()
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if expects_continue {
        return req;
    }
    let has_body = req.headers().contains_key(header::TRANSFER_ENCODING)
        || req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v != "0");
    if !has_body {
        return req;
    }
    let (parts, mut body) = req.into_parts();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<http_body::Frame<Bytes>, axum::Error>>(2);
    tokio::spawn(async move {
        let mut reader = Some(tx);
        let mut dropped = 0u64;
        while let Some(frame) = body.frame().await {
            if let Some(tx) = &reader {
                match tx.send(frame).await {
                    Ok(()) => continue,
                    Err(unsent) => {
                        reader = None;
                        dropped += data_len(&unsent.0);
                    }
                }
            } else {
                dropped += data_len(&frame);
            }
            if dropped > DRAIN_LIMIT {
                break;
            }
        }
    });
    let frames = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|frame| (frame, rx))
    });
    Request::from_parts(parts, Body::new(StreamBody::new(frames)))
}

fn data_len(frame: &Result<http_body::Frame<Bytes>, axum::Error>) -> u64 {
    frame
        .as_ref()
        .ok()
        .and_then(|f| f.data_ref())
        .map_or(0, |d| d.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_handler_reads_the_body_and_the_rest_is_drained() {
        let req = Request::builder()
            .header(header::CONTENT_LENGTH, "5")
            .body(Body::from("hello"))
            .unwrap();
        let body = read_in_background(req).into_body();
        assert_eq!(&body.collect().await.unwrap().to_bytes()[..], b"hello");

        let req = Request::builder().body(Body::from("ignored")).unwrap();
        let unchanged = read_in_background(req).into_body();
        assert_eq!(
            &unchanged.collect().await.unwrap().to_bytes()[..],
            b"ignored"
        );
    }
}
