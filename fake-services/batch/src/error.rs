//! The one error type of BatchCompute: what went wrong and its `Code`; `http/error.rs` maps it
//! to the wire.

/// Everything a BatchCompute call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The body is not a JSON object.
    #[error("The request body has an invalid json format. {0}")]
    InvalidJsonFormat(String),
    /// A required field is absent (`Missing{Field}`).
    #[error("{field} is mandatory for this action. {at}")]
    Missing {
        /// The field, as in the code (`CommandLine`).
        field: String,
        /// Where it is missing.
        at: String,
    },
    /// A field has a value the service refuses (`Invalid{Field}`).
    #[error("Specified parameter {field} is not valid. {why}")]
    Invalid {
        /// The field, as in the code (`InstanceCount`).
        field: String,
        /// What is wrong.
        why: String,
    },
    /// The DAG has a cycle.
    #[error("It is a cyclic dag. {0}")]
    BadDag(String),
    /// No such job, task or instance.
    #[error("Specified resource is not found. {0}")]
    NotFound(String),
    /// The operation is not allowed in the resource's state.
    #[error("User operation is invalid. The current resource state is {0}.")]
    StateConflict(&'static str),
    /// The request is not signed as `--strict-auth` requires.
    #[error("User not authorized to operate on the specified resource. {0}")]
    Forbidden(String),
    /// A path or method fcemu does not serve.
    #[error("Specified url pattern contains some illegal words. {0}")]
    InvalidUrlPattern(String),
    /// An `IdempotentToken` used again with a different body.
    #[error("Specified idempotent token mismatch. {0} was used with another body")]
    IdempotentTokenMismatch(String),
    /// A part of the API fcemu does not emulate (the App API).
    #[error("{0}")]
    NotEmulated(String),
    /// Something broke inside fcemu.
    #[error("The request processing has been failed due to some unknown error. {0}")]
    Internal(String),
}

impl BatchError {
    /// The `Code` of the error document.
    pub fn code(&self) -> String {
        match self {
            BatchError::InvalidJsonFormat(_) => "InvalidJsonFormat".into(),
            BatchError::Missing { field, .. } => format!("Missing{field}"),
            BatchError::Invalid { field, .. } => format!("Invalid{field}"),
            BatchError::BadDag(_) => "BadDAG".into(),
            BatchError::NotFound(_) => "InvalidResource.NotFound".into(),
            BatchError::StateConflict(_) => "StateConflict".into(),
            BatchError::InvalidUrlPattern(_) => "InvalidUrlPattern".into(),
            BatchError::Forbidden(_) => "Forbidden".into(),
            BatchError::NotEmulated(_) => "NotImplemented".into(),
            BatchError::IdempotentTokenMismatch(_) => "IdempotentTokenMismatch".into(),
            BatchError::Internal(_) => "InternalError".into(),
        }
    }

    /// `Missing{field}`, saying where.
    pub fn missing(field: &str, at: impl Into<String>) -> Self {
        BatchError::Missing {
            field: field.into(),
            at: at.into(),
        }
    }

    /// `Invalid{field}` saying why.
    pub fn invalid(field: &str, why: impl Into<String>) -> Self {
        BatchError::Invalid {
            field: field.into(),
            why: why.into(),
        }
    }
}

impl From<rusqlite::Error> for BatchError {
    fn from(e: rusqlite::Error) -> Self {
        BatchError::Internal(format!("database: {e}"))
    }
}

impl From<tokio::task::JoinError> for BatchError {
    fn from(e: tokio::task::JoinError) -> Self {
        BatchError::Internal(format!("task: {e}"))
    }
}
