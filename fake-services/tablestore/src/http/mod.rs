//! The wire layer: `POST /<Action>` with a protobuf body, answered with a protobuf body and the
//! `x-ots-*` headers plus `Authorization` signature that the SDKs verify (reference §1).
//!
//! [`auth`] checks requests and signs responses, [`proto`] declares the messages, [`convert`]
//! turns PlainBuffer and protobuf into domain types, [`ops`] runs one action, [`error`] makes
//! the `Error` body.

pub mod auth;
pub mod convert;
pub mod error;
pub mod ops;
pub mod proto;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::response::Response;
use http::{Method, StatusCode};
use time::OffsetDateTime;
use time::format_description::well_known::Iso8601;
use tracing::Instrument;

use crate::{Ots, OtsError};

/// Largest request body accepted (5 MB).
pub const MAX_BODY: usize = 5 << 20;

/// The router: every path is an action name (its last segment).
pub fn router(ots: Ots) -> axum::Router {
    let ids = ots.config().ctx.ids.clone();
    axum::Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::disable())
        .layer(fcemu_core::RequestContextLayer::new(ids, REQUEST_ID))
        .with_state(ots)
}

/// Table Store request ids: lower-case UUIDs.
const REQUEST_ID: fcemu_core::RequestIdStyle = fcemu_core::RequestIdStyle::Uuid;

/// `x-ots-date` of a response. The SDKs reject a date more than 15 minutes from their own
/// clock, so it is the request's own `x-ots-date` when that is well formed (the client's clock,
/// also when it is a virtual one, as in a function of a deterministic run), else the host's UTC
/// time — never the emulator's virtual clock.
fn response_date(request_date: Option<&str>) -> String {
    if let Some(d) = request_date
        && d.len() >= 20
        && d.ends_with('Z')
        && d.as_bytes().get(10) == Some(&b'T')
        && d.is_ascii()
    {
        return d.to_string();
    }
    let now = OffsetDateTime::now_utc();
    let base = now
        .format(&Iso8601::DATE_TIME)
        .unwrap_or_default()
        .chars()
        .take(19)
        .collect::<String>();
    format!("{base}.{:06}Z", now.microsecond())
}

async fn handle(State(ots): State<Ots>, req: Request) -> Response {
    let rc = fcemu_core::RequestContext::of(&req, &ots.config().ctx.ids, REQUEST_ID);
    let (parts, body) = req.into_parts();
    let action = parts
        .uri
        .path()
        .rsplit('/')
        .find(|s| !s.is_empty())
        .unwrap_or("")
        .to_owned();
    let request_id = rc.request_id;
    let instance = parts
        .headers
        .get("x-ots-instancename")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let cause = rc.cause;
    let span = tracing::debug_span!("ots", %action, %instance, %request_id);
    crate::rows::CAUSE
        .scope(
            cause,
            serve(ots, parts, body, action, instance, request_id).instrument(span),
        )
        .await
}

async fn serve(
    ots: Ots,
    parts: http::request::Parts,
    body: Body,
    action: String,
    instance: String,
    request_id: String,
) -> Response {
    let body = axum::body::to_bytes(body, MAX_BODY).await;
    let mut key = None;
    let result: Result<Vec<u8>, OtsError> = async {
        let body = body.map_err(|e| {
            if e.into_inner().is::<http_body_util::LengthLimitError>() {
                OtsError::RequestBodyTooLarge
            } else {
                OtsError::invalid("The request body could not be read.")
            }
        })?;
        if parts.method != Method::POST {
            return Err(OtsError::MethodNotAllowed);
        }
        key = auth::authenticate(ots.config(), &action, &parts.headers, &body)?;
        if instance.is_empty() {
            return Err(OtsError::invalid("Missing header: x-ots-instancename."));
        }
        ops::dispatch(&ots, &action, &instance, &body).await
    }
    .await;
    let (status, body) = match result {
        Ok(b) => (StatusCode::OK, b),
        Err(e) => {
            // The SDKs skip the signature of 403 OTSAuthFailed; do not sign with an unknown key.
            if matches!(e, OtsError::AuthFailed(_)) {
                key = None;
            }
            error::error_response(&e, &request_id)
        }
    };
    let request_date = parts
        .headers
        .get("x-ots-date")
        .and_then(|v| v.to_str().ok());
    respond(
        status,
        body,
        key.as_ref(),
        &action,
        &request_id,
        request_date,
    )
}

fn respond(
    status: StatusCode,
    body: Vec<u8>,
    key: Option<&auth::ResponseKey>,
    action: &str,
    request_id: &str,
    request_date: Option<&str>,
) -> Response {
    let md5 = auth::content_md5(&body);
    let date = response_date(request_date);
    let ots_headers = [
        ("x-ots-contentmd5", md5.as_str()),
        ("x-ots-requestid", request_id),
        ("x-ots-date", date.as_str()),
        ("x-ots-contenttype", "protocol buffer"),
    ];
    let mut b = Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/x-protobuf");
    for (n, v) in ots_headers {
        b = b.header(n, v);
    }
    if let Some(k) = key {
        b = b.header(
            http::header::AUTHORIZATION,
            auth::response_authorization(k, action, &ots_headers),
        );
    }
    b.body(Body::from(body)).unwrap_or_else(|_| {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}
