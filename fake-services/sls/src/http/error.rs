//! The one place an [`SlsError`] becomes a response: its HTTP status and `errorCode`, and the
//! JSON envelope `{"errorCode": ..., "errorMessage": ...}` every SDK parses. Deterministic
//! failures are 4xx: the SDKs retry 5xx ten times.

use axum::body::Body;
use axum::response::Response;
use http::{StatusCode, header};

use crate::SlsError;

/// The status and `errorCode` of an error.
pub fn status_and_code(e: &SlsError) -> (StatusCode, &'static str) {
    use SlsError::*;
    match e {
        ProjectNotExist(_) => (StatusCode::NOT_FOUND, "ProjectNotExist"),
        ProjectAlreadyExist(_) => (StatusCode::BAD_REQUEST, "ProjectAlreadyExist"),
        LogStoreNotExist(_) => (StatusCode::NOT_FOUND, "LogStoreNotExist"),
        LogStoreAlreadyExist(_) => (StatusCode::BAD_REQUEST, "LogStoreAlreadyExist"),
        LogStoreInfoInvalid(_) => (StatusCode::BAD_REQUEST, "LogStoreInfoInvalid"),
        ShardNotExist(_) => (StatusCode::NOT_FOUND, "ShardNotExist"),
        InvalidCursor(_) => (StatusCode::BAD_REQUEST, "InvalidCursor"),
        ParameterInvalid(_) => (StatusCode::BAD_REQUEST, "ParameterInvalid"),
        PostBodyInvalid(_) => (StatusCode::BAD_REQUEST, "PostBodyInvalid"),
        PostBodyUncompressError(_) => (StatusCode::BAD_REQUEST, "PostBodyUncompressError"),
        InvalidCompressType(_) => (StatusCode::BAD_REQUEST, "InvalidCompressType"),
        MissingBodyRawSize => (StatusCode::BAD_REQUEST, "MissingBodyRawSize"),
        InvalidBodyRawSize(_) => (StatusCode::BAD_REQUEST, "InvalidBodyRawSize"),
        PostBodyTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "PostBodyTooLarge"),
        IndexAlreadyExist(_) => (StatusCode::BAD_REQUEST, "IndexAlreadyExist"),
        IndexConfigNotExist(_) => (StatusCode::BAD_REQUEST, "IndexConfigNotExist"),
        ConsumerGroupAlreadyExist(_) => (StatusCode::BAD_REQUEST, "ConsumerGroupAlreadyExist"),
        ConsumerGroupNotExist(_) => (StatusCode::NOT_FOUND, "ConsumerGroupNotExist"),
        InvalidShardCheckPoint(_) => (StatusCode::BAD_REQUEST, "InvalidShardCheckPoint"),
        InvalidHost(_) => (StatusCode::BAD_REQUEST, "InvalidHost"),
        SignatureNotMatch(_) => (StatusCode::UNAUTHORIZED, "SignatureNotMatch"),
        Unauthorized(_) => (StatusCode::UNAUTHORIZED, "Unauthorized"),
        NotSupported(_) => (StatusCode::BAD_REQUEST, "NotSupported"),
        Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError"),
    }
}

/// The error as the client sees it (the dispatcher adds `x-log-requestid`).
pub fn response(e: &SlsError) -> Response {
    let (status, code) = status_and_code(e);
    let message = match e {
        // Internal causes are logged, not sent.
        SlsError::Internal(_) => "internal server error".to_string(),
        e => e.to_string(),
    };
    let body = serde_json::json!({ "errorCode": code, "errorMessage": message }).to_string();
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, body.len())
        .body(Body::from(body))
        .unwrap_or_default()
}
