//! fcemu's object store: the OSS and S3 REST APIs over SQLite metadata and blob files.

/// The object store's wire protocol router (to be filled in).
pub fn router() -> axum::Router {
    axum::Router::new()
}
