//! The one error type of the Log Service. Every operation returns it; `http::error` turns it into
//! the SLS JSON envelope (`{"errorCode", "errorMessage"}`) with its status, in one place.

/// Everything a Log Service operation can fail with, as the client should see it.
///
/// The variant names are the SLS `errorCode`s; the messages are the `errorMessage`s.
#[derive(Debug, thiserror::Error)]
pub enum SlsError {
    /// The project does not exist.
    #[error("The Project does not exist: {0}")]
    ProjectNotExist(String),
    /// CreateProject on a name that exists.
    #[error("Project {0} already exist")]
    ProjectAlreadyExist(String),
    /// The logstore does not exist in the project.
    #[error("logstore {0} does not exist")]
    LogStoreNotExist(String),
    /// CreateLogStore on a name that exists.
    #[error("logstore {0} already exists")]
    LogStoreAlreadyExist(String),
    /// A create / update logstore body is not acceptable.
    #[error("{0}")]
    LogStoreInfoInvalid(String),
    /// The shard id is not one of the logstore's shards.
    #[error("shard {0} does not exist")]
    ShardNotExist(i64),
    /// A cursor that is malformed or outside the shard's range.
    #[error("{0}")]
    InvalidCursor(String),
    /// A bad query parameter, query string or header value.
    #[error("{0}")]
    ParameterInvalid(String),
    /// The body is not valid JSON / protobuf.
    #[error("{0}")]
    PostBodyInvalid(String),
    /// The body could not be decompressed as announced.
    #[error("{0}")]
    PostBodyUncompressError(String),
    /// `x-log-compresstype` names a compression the service does not read.
    #[error("x-log-compresstype {0} is unsupported")]
    InvalidCompressType(String),
    /// A compressed body without `x-log-bodyrawsize`.
    #[error("x-log-bodyrawsize is required for a compressed body")]
    MissingBodyRawSize,
    /// `x-log-bodyrawsize` is not a size.
    #[error("x-log-bodyrawsize {0} is invalid")]
    InvalidBodyRawSize(String),
    /// The (uncompressed) body is larger than a request may be.
    #[error("Body size {0} must little than 10485760")]
    PostBodyTooLarge(u64),
    /// CreateIndex on a logstore that has an index.
    #[error("index config of logstore {0} already exists")]
    IndexAlreadyExist(String),
    /// Get / update / delete index on a logstore without one.
    #[error("logstore without index config: {0}")]
    IndexConfigNotExist(String),
    /// CreateConsumerGroup on a name that exists.
    #[error("consumer group {0} already exists")]
    ConsumerGroupAlreadyExist(String),
    /// The consumer group does not exist in the logstore.
    #[error("consumer group {0} does not exist")]
    ConsumerGroupNotExist(String),
    /// A checkpoint that is not a cursor of the shard.
    #[error("{0}")]
    InvalidShardCheckPoint(String),
    /// A project-scoped request whose Host names no project.
    #[error("{0}")]
    InvalidHost(String),
    /// Strict mode: the signature does not match.
    #[error("Signature {0} not matched.")]
    SignatureNotMatch(String),
    /// Strict mode: no or unknown credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// An API or option the emulator does not offer.
    #[error("fcemu: {0}")]
    NotSupported(String),
    /// A failure of the emulator itself (database, I/O). Logged; clients retry these.
    #[error("internal server error: {0}")]
    Internal(String),
}

impl From<rusqlite::Error> for SlsError {
    fn from(e: rusqlite::Error) -> Self {
        SlsError::Internal(format!("database: {e}"))
    }
}

impl From<std::io::Error> for SlsError {
    fn from(e: std::io::Error) -> Self {
        SlsError::Internal(format!("i/o: {e}"))
    }
}

impl From<tokio::task::JoinError> for SlsError {
    fn from(e: tokio::task::JoinError) -> Self {
        SlsError::Internal(format!("task: {e}"))
    }
}
