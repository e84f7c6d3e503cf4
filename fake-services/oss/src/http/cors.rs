//! CORS on the wire: the `<CORSConfiguration>` document of Put/GetBucketCors, the preflight
//! `OPTIONS` answer, and the `Access-Control-*` headers added to a browser's actual request
//! (one with an `Origin`) when a rule of the bucket allows it.

use axum::response::Response;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};

use super::Ctx;
use super::xml::{self, XmlWriter};
use crate::cors::{CorsConfig, CorsRule, MAX_RULES_OSS, MAX_RULES_S3, requested_headers};
use crate::{Oss, OssError};

/// What a preflight answer varies on.
const VARY: &str = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method";

/// Reads a PutBucketCors body and checks it against the face's limits.
pub(super) fn parse_config(body: &[u8], ctx: &Ctx) -> Result<CorsConfig, OssError> {
    let root = xml::parse(body)?;
    if root.name != "CORSConfiguration" {
        return Err(OssError::MalformedXml(
            "root element must be CORSConfiguration".into(),
        ));
    }
    let texts = |e: &xml::Element, name: &str| -> Vec<String> {
        e.all(name).map(|c| c.text.trim().to_string()).collect()
    };
    let mut config = CorsConfig::default();
    for r in root.all("CORSRule") {
        let max_age_seconds = match r.text_of("MaxAgeSeconds").map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(s.parse::<i64>().map_err(|_| {
                OssError::invalid_argument(
                    "MaxAgeSeconds",
                    s,
                    "MaxAgeSeconds must be a number of seconds.",
                )
            })?),
        };
        config.rules.push(CorsRule {
            id: r.text_of("ID").map(|s| s.trim().to_string()),
            allowed_origins: texts(r, "AllowedOrigin"),
            allowed_methods: texts(r, "AllowedMethod"),
            allowed_headers: texts(r, "AllowedHeader"),
            expose_headers: texts(r, "ExposeHeader"),
            max_age_seconds,
        });
    }
    config.response_vary = match root.text_of("ResponseVary").map(str::trim) {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(v) => {
            return Err(OssError::invalid_argument(
                "ResponseVary",
                v,
                "ResponseVary must be true or false.",
            ));
        }
    };
    config.check(if ctx.s3 { MAX_RULES_S3 } else { MAX_RULES_OSS })?;
    Ok(config)
}

/// The GetBucketCors document.
pub(super) fn config_doc(ctx: &Ctx, config: &CorsConfig) -> String {
    let mut w = XmlWriter::new("CORSConfiguration", ctx.s3);
    for r in &config.rules {
        w.open("CORSRule");
        if let Some(id) = &r.id {
            w.elem("ID", id);
        }
        for (name, values) in [
            ("AllowedOrigin", &r.allowed_origins),
            ("AllowedMethod", &r.allowed_methods),
            ("AllowedHeader", &r.allowed_headers),
            ("ExposeHeader", &r.expose_headers),
        ] {
            for v in values {
                w.elem(name, v);
            }
        }
        if let Some(s) = r.max_age_seconds {
            w.elem("MaxAgeSeconds", s.to_string());
        }
        w.close();
    }
    if !ctx.s3 {
        w.elem(
            "ResponseVary",
            config.response_vary.unwrap_or(false).to_string(),
        );
    }
    w.finish()
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn not_allowed() -> OssError {
    OssError::CorsForbidden(
        "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.".into(),
    )
}

/// Answers a preflight `OPTIONS` for `bucket` (no signature: browsers never sign one).
pub(super) async fn preflight(
    oss: &Oss,
    ctx: &Ctx,
    h: &HeaderMap,
    bucket: Option<&str>,
) -> Result<Response, OssError> {
    let Some(bucket) = bucket else {
        return Err(not_allowed());
    };
    let config = oss.bucket_cors(bucket).await?;
    let origin = header_str(h, "origin").ok_or_else(|| {
        OssError::BadRequest("Insufficient information. Origin request header needed.".into())
    })?;
    let method = header_str(h, "access-control-request-method").ok_or_else(|| {
        OssError::BadRequest("Invalid Access-Control-Request-Method: null".into())
    })?;
    let Some(config) = config else {
        return Err(OssError::CorsForbidden(
            "CORSResponse: CORS is not enabled for this bucket.".into(),
        ));
    };
    let asked = requested_headers(header_str(h, "access-control-request-headers").unwrap_or(""));
    let rule = config
        .find(origin, method, &asked)
        .ok_or_else(not_allowed)?;
    let mut resp = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_LENGTH, "0")
        .body(axum::body::Body::empty())
        .unwrap_or_default();
    let out = resp.headers_mut();
    allow(out, ctx, &config, rule, origin);
    if !asked.is_empty() {
        insert(out, header::ACCESS_CONTROL_ALLOW_HEADERS, &asked.join(", "));
    }
    if let Some(s) = rule.max_age_seconds {
        insert(out, header::ACCESS_CONTROL_MAX_AGE, &s.to_string());
    }
    Ok(resp)
}

/// Adds the `Access-Control-*` headers to the answer of a browser's request from `origin` when
/// a rule of the bucket allows `method` from there; otherwise the answer stays as it is and the
/// browser withholds it from the page.
pub(super) async fn decorate(
    oss: &Oss,
    ctx: &Ctx,
    method: &Method,
    origin: &str,
    bucket: &str,
    resp: &mut Response,
) {
    let Ok(Some(config)) = oss.bucket_cors(bucket).await else {
        return;
    };
    if let Some(rule) = config.find(origin, method.as_str(), &[]) {
        allow(resp.headers_mut(), ctx, &config, rule, origin);
    }
}

fn allow(out: &mut HeaderMap, ctx: &Ctx, config: &CorsConfig, rule: &CorsRule, origin: &str) {
    let any = rule.allowed_origins.iter().any(|o| o == "*");
    if ctx.s3 && any {
        insert(out, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    } else {
        insert(out, header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if ctx.s3 {
            insert(out, header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
        }
    }
    insert(
        out,
        header::ACCESS_CONTROL_ALLOW_METHODS,
        &rule.allowed_methods.join(", "),
    );
    if !rule.expose_headers.is_empty() {
        insert(
            out,
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            &rule.expose_headers.join(", "),
        );
    }
    if ctx.s3 || config.response_vary == Some(true) {
        insert(out, header::VARY, VARY);
    }
}

fn insert(out: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        out.insert(name, v);
    }
}
