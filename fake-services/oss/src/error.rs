//! The one error type of the object store. Every operation returns it; `http::error` turns it into
//! the wire form (OSS or S3 XML) in one place.

/// Everything an object store operation can fail with, as the client should see it.
///
/// Messages are for people; clients match on [`OssError::code`] and the HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum OssError {
    /// The bucket does not exist.
    #[error("The specified bucket does not exist.")]
    NoSuchBucket {
        /// The bucket asked for.
        bucket: String,
    },
    /// The object does not exist.
    #[error("The specified key does not exist.")]
    NoSuchKey {
        /// The key asked for.
        key: String,
    },
    /// The multipart upload id is unknown, completed or aborted.
    #[error(
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
    )]
    NoSuchUpload {
        /// The upload id asked for.
        upload_id: String,
    },
    /// PutBucket on a name that exists.
    #[error("The requested bucket name is not available.")]
    BucketAlreadyExists {
        /// The bucket name.
        bucket: String,
    },
    /// DeleteBucket on a bucket with objects or unfinished uploads.
    #[error("The bucket you tried to delete is not empty.")]
    BucketNotEmpty {
        /// The bucket name.
        bucket: String,
    },
    /// The bucket name breaks the naming rules.
    #[error("The specified bucket is not valid.")]
    InvalidBucketName {
        /// The name given.
        bucket: String,
    },
    /// The object key breaks the naming rules.
    #[error("The specified object is not valid.")]
    InvalidObjectName,
    /// A parameter or header has a value the operation does not accept.
    #[error("{message}")]
    InvalidArgument {
        /// What is wrong.
        message: String,
        /// The parameter's name.
        name: String,
        /// The value given.
        value: String,
    },
    /// A PostObject policy document that cannot be used (S3).
    #[error("{0}")]
    InvalidPolicyDocument(String),
    /// A percent-encoded part of the path is not UTF-8.
    #[error("Couldn't parse the specified URI.")]
    InvalidUri,
    /// The body does not match the S3 additional checksum the request announced.
    #[error("The {algorithm} you specified did not match the calculated checksum.")]
    ChecksumMismatch {
        /// `CRC32`, `CRC32C`, `CRC64NVME`, `SHA1` or `SHA256`.
        algorithm: String,
        /// The checksum the client sent.
        given: String,
        /// The checksum of the body received.
        computed: String,
    },
    /// Content-MD5 is malformed or does not match the body.
    #[error("The Content-MD5 you specified is not valid.")]
    InvalidDigest {
        /// The digest the client sent.
        given: String,
        /// The digest of the body received (empty when the header itself was malformed).
        computed: String,
    },
    /// A request XML body could not be parsed or breaks a limit.
    #[error(
        "The XML you provided was not well-formed or did not validate against our published schema: {0}"
    )]
    MalformedXml(String),
    /// The range cannot be satisfied (only with standard range behaviour).
    #[error("The requested range is not satisfiable")]
    InvalidRange {
        /// The object's size.
        size: u64,
    },
    /// If-Match / If-Unmodified-Since (or their copy-source forms) failed.
    #[error("At least one of the pre-conditions you specified did not hold.")]
    PreconditionFailed,
    /// If-None-Match / If-Modified-Since: the client's copy is current.
    #[error("Not Modified")]
    NotModified,
    /// `x-oss-forbid-overwrite: true` and the object exists.
    #[error("The object you specified already exists and can not be overwritten.")]
    FileAlreadyExists,
    /// AppendObject at a position other than the object's length.
    #[error("Position is not equal to file length")]
    PositionNotEqualToLength {
        /// The object's current length: where the next append must start.
        next: u64,
    },
    /// AppendObject on an object that was not created by AppendObject.
    #[error("The object is not appendable")]
    ObjectNotAppendable,
    /// CompleteMultipartUpload names a part that was not uploaded or whose ETag differs.
    #[error(
        "One or more of the specified parts could not be found or the specified entity tag might not have matched the part's entity tag."
    )]
    InvalidPart,
    /// S3 `GET ?partNumber=` beyond the object's last part.
    #[error(
        "The requested partnumber {number} is not satisfiable: the object has {count} part(s)."
    )]
    PartNumberBeyondLast {
        /// The part asked for.
        number: u32,
        /// How many parts the object has.
        count: u32,
    },
    /// CompleteMultipartUpload parts are not in ascending order.
    #[error(
        "The list of parts was not in ascending order. Parts list must be specified in order by part number."
    )]
    InvalidPartOrder,
    /// A part other than the last is smaller than the minimum, or a form upload is too small.
    #[error("Your proposed upload is smaller than the minimum allowed size.")]
    EntityTooSmall,
    /// The upload exceeds the maximum size.
    #[error("Your proposed upload exceeds the maximum allowed size.")]
    EntityTooLarge,
    /// GetSymlink on an object that is not a symlink.
    #[error("The specified object is not a symlink.")]
    NotSymlink,
    /// Tags break a limit.
    #[error("{0}")]
    InvalidTag(String),
    /// GetBucketTagging on the S3 face for a bucket without tags.
    /// GetBucketTagging on a bucket without tags (S3).
    #[error("The TagSet does not exist")]
    NoSuchTagSet,
    /// GetBucketCors on a bucket without CORS rules.
    #[error("The CORS configuration does not exist.")]
    NoSuchCorsConfiguration,
    /// A cross-origin request the bucket's CORS rules do not allow.
    #[error("{0}")]
    CorsForbidden(String),
    /// A request that cannot be served as sent.
    #[error("{0}")]
    BadRequest(String),
    /// A request whose parts do not go together (S3's InvalidRequest).
    #[error("{0}")]
    InvalidRequest(String),
    /// A sub-resource or feature fcemu does not emulate.
    #[error("{0} is not implemented by fcemu.")]
    NotImplemented(String),
    /// The method is not allowed on this resource.
    #[error("The specified method is not allowed against this resource.")]
    MethodNotAllowed,
    /// A body was expected but neither Content-Length nor chunked encoding was given.
    #[error("You must provide the Content-Length HTTP header.")]
    MissingContentLength,
    /// Access refused (expired URL, anonymous access in strict mode, bad form policy).
    #[error("{0}")]
    AccessDenied(String),
    /// Strict auth: the AccessKeyId is unknown.
    #[error("The OSS Access Key Id you provided does not exist in our records.")]
    InvalidAccessKeyId {
        /// The key id given.
        access_key_id: String,
    },
    /// Strict auth: the signature differs from the one the server computed.
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your key and signing method."
    )]
    SignatureDoesNotMatch {
        /// The key id given.
        access_key_id: String,
        /// The signature given.
        provided: String,
        /// What the server signed (shown to help debugging clients).
        string_to_sign: String,
    },
    /// A PostObject form without exactly one file.
    #[error("POST requires exactly one file upload per request.")]
    IncorrectNumberOfFilesInPostRequest,
    /// A PostObject form that cannot be used (missing key, bad policy, bad form encoding).
    #[error("{0}")]
    InvalidPostRequest(String),
    /// A form field longer than the limit.
    #[error("Your form field is too long.")]
    FieldItemTooLong,
    /// The request body ended early or could not be read (client went away, bad framing).
    #[error("You did not provide the number of bytes specified by the Content-Length HTTP header.")]
    IncompleteBody(String),
    /// Something failed inside the emulator (I/O, database). Logged; the client sees only this.
    #[error("We encountered an internal error. Please try again.")]
    Internal(String),
}

impl OssError {
    /// The wire error code, as OSS spells it.
    pub fn code(&self) -> &'static str {
        use OssError::*;
        match self {
            NoSuchBucket { .. } => "NoSuchBucket",
            NoSuchKey { .. } => "NoSuchKey",
            NoSuchUpload { .. } => "NoSuchUpload",
            BucketAlreadyExists { .. } => "BucketAlreadyExists",
            BucketNotEmpty { .. } => "BucketNotEmpty",
            InvalidBucketName { .. } => "InvalidBucketName",
            InvalidObjectName => "InvalidObjectName",
            InvalidArgument { .. } => "InvalidArgument",
            InvalidDigest { .. } | ChecksumMismatch { .. } => "InvalidDigest",
            MalformedXml(_) => "MalformedXML",
            InvalidRange { .. } => "InvalidRange",
            PreconditionFailed => "PreconditionFailed",
            NotModified => "NotModified",
            FileAlreadyExists => "FileAlreadyExists",
            PositionNotEqualToLength { .. } => "PositionNotEqualToLength",
            ObjectNotAppendable => "ObjectNotAppendable",
            InvalidPart | PartNumberBeyondLast { .. } => "InvalidPart",
            InvalidUri => "InvalidURI",
            InvalidPolicyDocument(_) => "InvalidPolicyDocument",
            InvalidPartOrder => "InvalidPartOrder",
            EntityTooSmall => "EntityTooSmall",
            EntityTooLarge => "EntityTooLarge",
            NotSymlink => "NotSymlink",
            InvalidTag(_) => "InvalidTag",
            NoSuchTagSet => "NoSuchTagSet",
            NoSuchCorsConfiguration => "NoSuchCORSConfiguration",
            CorsForbidden(_) => "AccessForbidden",
            BadRequest(_) => "BadRequest",
            InvalidRequest(_) => "InvalidRequest",
            NotImplemented(_) => "NotImplemented",
            MethodNotAllowed => "MethodNotAllowed",
            MissingContentLength => "MissingContentLength",
            AccessDenied(_) => "AccessDenied",
            InvalidAccessKeyId { .. } => "InvalidAccessKeyId",
            SignatureDoesNotMatch { .. } => "SignatureDoesNotMatch",
            IncorrectNumberOfFilesInPostRequest => "IncorrectNumberOfFilesInPOSTRequest",
            InvalidPostRequest(_) => "InvalidArgument",
            FieldItemTooLong => "FieldItemTooLong",
            IncompleteBody(_) => "IncompleteBody",
            Internal(_) => "InternalError",
        }
    }

    /// An [`OssError::InvalidArgument`] naming the parameter.
    pub fn invalid_argument(name: &str, value: &str, message: impl Into<String>) -> Self {
        OssError::InvalidArgument {
            message: message.into(),
            name: name.to_string(),
            value: value.to_string(),
        }
    }
}

impl From<std::io::Error> for OssError {
    fn from(e: std::io::Error) -> Self {
        OssError::Internal(format!("i/o: {e}"))
    }
}

impl From<rusqlite::Error> for OssError {
    fn from(e: rusqlite::Error) -> Self {
        OssError::Internal(format!("sqlite: {e}"))
    }
}

impl From<tokio::task::JoinError> for OssError {
    fn from(e: tokio::task::JoinError) -> Self {
        OssError::Internal(format!("blocking task: {e}"))
    }
}
