//! The admin API's query strings: a malformed one (`?limit=x`, `?timeout=abc`) is the admin
//! API's JSON error, 400 `InvalidArgument` saying what is wrong, like every other refusal of
//! the API, not axum's plain-text rejection.

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::json;

/// `axum::extract::Query` with the admin API's error.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(e) => {
                let body = json!({"error": "InvalidArgument", "message": e.body_text()});
                Err((StatusCode::BAD_REQUEST, Json(body)).into_response())
            }
        }
    }
}
