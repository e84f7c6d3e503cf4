//! The one place an [`OtsError`] becomes wire bytes: the protobuf `Error {code, message}` and
//! its HTTP status. Headers and the response signature are added by the caller like for any
//! other response.

use http::StatusCode;
use prost::Message;

use super::proto;
use crate::OtsError;

/// The protobuf `Error` message of an error.
pub fn to_proto(e: &OtsError) -> proto::Error {
    proto::Error {
        code: e.code().to_owned(),
        message: Some(e.to_string()),
    }
}

/// Status and body of an error response. Internal causes are logged here, never sent.
pub fn error_response(e: &OtsError, request_id: &str) -> (StatusCode, Vec<u8>) {
    match e {
        OtsError::Internal(cause) => {
            tracing::error!(request_id, cause = %cause, "internal error");
        }
        e => tracing::debug!(request_id, code = e.code(), message = %e, "request failed"),
    }
    (status(e), to_proto(e).encode_to_vec())
}

/// The HTTP status of an error.
pub fn status(e: &OtsError) -> StatusCode {
    match e {
        OtsError::ParameterInvalid(_)
        | OtsError::InvalidPk(_)
        | OtsError::UnsupportedOperation(_)
        | OtsError::OutOfColumnCountLimit(_) => StatusCode::BAD_REQUEST,
        OtsError::TableNotExist | OtsError::StreamNotExist | OtsError::TrimmedDataAccess => {
            StatusCode::NOT_FOUND
        }
        OtsError::TableAlreadyExist => StatusCode::CONFLICT,
        OtsError::ConditionCheckFail | OtsError::AuthFailed(_) => StatusCode::FORBIDDEN,
        OtsError::RequestBodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        OtsError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        OtsError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}
