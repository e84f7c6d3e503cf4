//! The one place a [`BatchError`] becomes an answer: `{"Code", "Message", "RequestId",
//! "HostId"}` with the status of reference batchcompute.md §9 (the request id is filled in by
//! the router's middleware, from the request's context).

use axum::response::{IntoResponse, Response};
use http::StatusCode;

use crate::BatchError;

impl IntoResponse for BatchError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "Code": self.code(),
            "Message": self.to_string(),
            "RequestId": "",
            "HostId": "batchcompute.fcemu",
        });
        (status(&self), axum::Json(body)).into_response()
    }
}

/// The HTTP status of an error (reference batchcompute.md §9).
pub fn status(e: &BatchError) -> StatusCode {
    match e {
        BatchError::NotFound(_) => StatusCode::NOT_FOUND,
        BatchError::StateConflict(_) => StatusCode::CONFLICT,
        BatchError::Forbidden(_) => StatusCode::FORBIDDEN,
        BatchError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        BatchError::NotEmulated(_) => StatusCode::NOT_IMPLEMENTED,
        _ => StatusCode::BAD_REQUEST,
    }
}
