//! FC's platform errors, mapped to the wire in one place: FC 2.0 `{"ErrorCode", "ErrorMessage"}`
//! and FC 3.0 `{"Code", "Message", "RequestId"}`, both `application/json` with
//! `x-fc-request-id` (reference/fc.md §5.7, §6.6).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::runtime::InvokeError;

/// Which API's error body to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    /// `2016-08-15` (and the gateway).
    V2,
    /// `2023-03-30`.
    V3,
}

/// A platform error (as opposed to a function error, which is a 200 with `x-fc-error-type`).
#[derive(Debug, Clone)]
pub struct FcError {
    /// HTTP status.
    pub status: StatusCode,
    /// FC error code, e.g. `FunctionNotFound`.
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
    /// Request id echoed in the body (V3) and header.
    pub request_id: String,
    /// Body shape.
    pub version: ApiVersion,
}

impl FcError {
    /// An error with the given status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        FcError {
            status,
            code,
            message: message.into(),
            request_id: String::new(),
            version: ApiVersion::V2,
        }
    }

    /// Sets the request id.
    pub fn with_request_id(mut self, id: &str) -> Self {
        self.request_id = id.to_string();
        self
    }

    /// Sets the body shape.
    pub fn in_version(mut self, version: ApiVersion) -> Self {
        self.version = version;
        self
    }

    /// 404 `ServiceNotFound`.
    pub fn service_not_found(name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ServiceNotFound",
            format!("service '{name}' does not exist"),
        )
    }

    /// 404 `FunctionNotFound`.
    pub fn function_not_found(name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "FunctionNotFound",
            format!("function '{name}' does not exist"),
        )
    }

    /// 404 `TriggerNotFound`.
    pub fn trigger_not_found(name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "TriggerNotFound",
            format!("trigger '{name}' does not exist"),
        )
    }

    /// 400 `InvalidArgument`.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidArgument", message)
    }

    /// 400 `EntityTooLarge` (the gateway answers 413; see [`FcError::with_status`]).
    pub fn entity_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "EntityTooLarge",
            format!("payload size exceeds maximum allowed size ({limit} bytes)"),
        )
    }

    /// 404 `PathNotSupported`.
    pub fn path_not_supported(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "PathNotSupported",
            format!("'{method}' against '{path}' is not supported"),
        )
    }

    /// Overrides the status.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
}

impl From<InvokeError> for FcError {
    fn from(e: InvokeError) -> Self {
        match e {
            InvokeError::Throttled { .. } => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "ResourceThrottled",
                e.to_string(),
            ),
            InvokeError::NotHttp { .. } => Self::invalid_argument(e.to_string()),
            InvokeError::Scratch { .. } => {
                tracing::error!(error = %e, "cannot prepare an instance");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ServiceUnavailable",
                    "the function's instance could not be prepared",
                )
            }
        }
    }
}

impl IntoResponse for FcError {
    fn into_response(self) -> Response {
        let body = match self.version {
            ApiVersion::V2 => json!({"ErrorCode": self.code, "ErrorMessage": self.message}),
            ApiVersion::V3 => {
                json!({"Code": self.code, "Message": self.message, "RequestId": self.request_id})
            }
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Ok(v) = HeaderValue::from_str(&self.request_id) {
            resp.headers_mut().insert("x-fc-request-id", v);
        }
        resp
    }
}
