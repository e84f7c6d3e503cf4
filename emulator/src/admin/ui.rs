//! `GET /_fcemu/ui`: the dashboard, one page with its script and style embedded in the binary
//! (it works offline). The page reads the admin API and the OSS API of the same port; the
//! process's token is put in the page for its state-changing calls (see [`super::Guard`]).

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::Guard;

const PAGE: &str = include_str!("ui/index.html");
const SCRIPT: &str = include_str!("ui/app.js");
const STYLE: &str = include_str!("ui/style.css");

/// What the page may load and talk to: itself only; no framing by other sites.
const POLICY: &str = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn asset(content_type: &'static str, body: String) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// The page, with this process's token.
pub async fn page(State(guard): State<Guard>) -> Response {
    asset(
        "text/html; charset=utf-8",
        PAGE.replace("{{TOKEN}}", guard.token()),
    )
}

/// Its script.
pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT.to_string())
}

/// Its style.
pub async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE.to_string())
}
