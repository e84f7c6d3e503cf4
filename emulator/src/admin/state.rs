//! `GET /_fcemu/state` (the whole state as one document, see [`crate::state`]) and
//! `POST /_fcemu/state` (import one: checked whole before anything is written).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::BrowseState;

/// The state document.
pub async fn export(State(s): State<BrowseState>) -> Response {
    match crate::state::export(&s.stores).await {
        Ok(state) => Json(state).into_response(),
        Err(e) => failed("ExportFailed", format!("{e:#}")),
    }
}

/// Imports the body.
pub async fn import(State(s): State<BrowseState>, body: String) -> Response {
    let state = match crate::state::parse(&body) {
        Ok(state) => state,
        Err(e) => {
            let body = json!({"error": "InvalidArgument", "message": format!("{e:#}; nothing was imported")});
            return (StatusCode::BAD_REQUEST, Json(body)).into_response();
        }
    };
    match crate::state::import(&s.stores, &state).await {
        Ok(done) => Json(json!({ "imported": done })).into_response(),
        Err(e) => failed("ImportFailed", format!("{e:#}")),
    }
}

fn failed(code: &str, message: String) -> Response {
    let body = json!({"error": code, "message": message});
    (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
}
