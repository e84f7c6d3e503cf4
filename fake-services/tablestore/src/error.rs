//! The one error type of Table Store. Every operation returns it; `http::error` turns it into
//! the protobuf `Error` body, status and headers in one place.

/// Everything a Table Store operation can fail with, as the client should see it.
#[derive(Debug, thiserror::Error)]
pub enum OtsError {
    /// A request field, header or value is invalid (400 `OTSParameterInvalid`).
    #[error("{0}")]
    ParameterInvalid(String),
    /// The primary key does not match the table's schema (400 `OTSInvalidPK`).
    #[error("{0}")]
    InvalidPk(String),
    /// The table does not exist (404 `OTSObjectNotExist`).
    #[error("Requested table does not exist.")]
    TableNotExist,
    /// The stream does not exist (404 `OTSObjectNotExist`).
    #[error("Requested stream does not exist.")]
    StreamNotExist,
    /// CreateTable on an existing table (409 `OTSObjectAlreadyExist`).
    #[error("Requested table already exists.")]
    TableAlreadyExist,
    /// A row existence or column condition failed (403 `OTSConditionCheckFail`).
    #[error("Condition check failed.")]
    ConditionCheckFail,
    /// Authentication failed (403 `OTSAuthFailed`).
    #[error("{0}")]
    AuthFailed(String),
    /// The request body is over 5 MB (413 `OTSRequestBodyTooLarge`).
    #[error("The size of POST data is too large.")]
    RequestBodyTooLarge,
    /// Not a POST (405 `OTSMethodNotAllowed`).
    #[error("Only POST method for requests is supported.")]
    MethodNotAllowed,
    /// An action the emulator does not implement (400 `OTSUnsupportOperation`).
    #[error("Unsupported operation: '{0}'.")]
    UnsupportedOperation(String),
    /// A shard iterator is unknown or points at trimmed data (404 `OTSTrimmedDataAccess`).
    #[error("Requested stream data is already trimmed or does not exist.")]
    TrimmedDataAccess,
    /// Too many columns in a row (400 `OTSOutOfColumnCountLimit`).
    #[error("{0}")]
    OutOfColumnCountLimit(String),
    /// Something went wrong inside the emulator (500 `OTSInternalServerError`); the cause is
    /// logged, not sent.
    #[error("Internal server error.")]
    Internal(String),
}

impl OtsError {
    /// The `Error.code` string.
    pub fn code(&self) -> &'static str {
        match self {
            OtsError::ParameterInvalid(_) => "OTSParameterInvalid",
            OtsError::InvalidPk(_) => "OTSInvalidPK",
            OtsError::TableNotExist | OtsError::StreamNotExist => "OTSObjectNotExist",
            OtsError::TableAlreadyExist => "OTSObjectAlreadyExist",
            OtsError::ConditionCheckFail => "OTSConditionCheckFail",
            OtsError::AuthFailed(_) => "OTSAuthFailed",
            OtsError::RequestBodyTooLarge => "OTSRequestBodyTooLarge",
            OtsError::MethodNotAllowed => "OTSMethodNotAllowed",
            OtsError::UnsupportedOperation(_) => "OTSUnsupportOperation",
            OtsError::TrimmedDataAccess => "OTSTrimmedDataAccess",
            OtsError::OutOfColumnCountLimit(_) => "OTSOutOfColumnCountLimit",
            OtsError::Internal(_) => "OTSInternalServerError",
        }
    }

    /// Shorthand for [`OtsError::ParameterInvalid`].
    pub fn invalid(msg: impl Into<String>) -> Self {
        OtsError::ParameterInvalid(msg.into())
    }
}

impl From<rusqlite::Error> for OtsError {
    fn from(e: rusqlite::Error) -> Self {
        OtsError::Internal(format!("database: {e}"))
    }
}

impl From<std::io::Error> for OtsError {
    fn from(e: std::io::Error) -> Self {
        OtsError::Internal(format!("io: {e}"))
    }
}

impl From<tokio::task::JoinError> for OtsError {
    fn from(e: tokio::task::JoinError) -> Self {
        OtsError::Internal(format!("blocking task: {e}"))
    }
}

impl From<serde_json::Error> for OtsError {
    fn from(e: serde_json::Error) -> Self {
        OtsError::Internal(format!("stored metadata: {e}"))
    }
}
