//! HTTP requests as events for event functions, and their results as HTTP responses: the API
//! Gateway format (reference/fc.md §2.5) and FC 3.0's HTTP trigger format (§2.6).

use std::collections::BTreeMap;

use crate::manifest::HttpFormat;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

/// An HTTP request as the gateway received it, body read whole.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    /// Upper-case method.
    pub method: String,
    /// Path, percent-decoded.
    pub path: String,
    /// Raw query string, without `?`.
    pub query: Option<String>,
    /// Headers in arrival order, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
    /// Client address.
    pub source_ip: String,
    /// e.g. `HTTP/1.1`.
    pub protocol: String,
}

impl HttpRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Headers with `Title-Case` names; repeated headers joined with `,`.
    fn joined_headers(&self) -> Map<String, Value> {
        let mut out: Map<String, Value> = Map::new();
        for (k, v) in &self.headers {
            let name = title_case(k);
            match out.get_mut(&name) {
                Some(Value::String(existing)) => {
                    existing.push(',');
                    existing.push_str(v);
                }
                _ => {
                    out.insert(name, Value::String(v.clone()));
                }
            }
        }
        out
    }

    /// Query parameters, decoded; repeated keys joined with `,`.
    fn joined_query(&self) -> Map<String, Value> {
        let mut out: Map<String, Value> = Map::new();
        let Some(q) = &self.query else { return out };
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            match out.get_mut(k.as_ref()) {
                Some(Value::String(existing)) => {
                    existing.push(',');
                    existing.push_str(&v);
                }
                _ => {
                    out.insert(k.into_owned(), Value::String(v.into_owned()));
                }
            }
        }
        out
    }

    fn is_textual(&self) -> bool {
        let ct = self
            .header("content-type")
            .unwrap_or("")
            .to_ascii_lowercase();
        let textual_type = ct.is_empty()
            || ct.starts_with("text/")
            || ct.contains("json")
            || ct.contains("xml")
            || ct.contains("x-www-form-urlencoded")
            || ct.contains("javascript");
        textual_type && std::str::from_utf8(&self.body).is_ok()
    }
}

/// `content-type` → `Content-Type`.
pub fn title_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            match c.next() {
                Some(first) => {
                    first.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase()
                }
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The API Gateway event (reference/fc.md §2.5). The body is always base64, as API Gateway
/// sends it.
pub fn apigw_event(req: &HttpRequest, path_params: &BTreeMap<String, String>) -> Vec<u8> {
    let event = json!({
        "path": req.path,
        "httpMethod": req.method,
        "headers": req.joined_headers(),
        "queryParameters": req.joined_query(),
        "pathParameters": path_params,
        "body": B64.encode(&req.body),
        "isBase64Encoded": true,
    });
    serde_json::to_vec(&event).unwrap_or_default()
}

/// What FC 3.0's HTTP trigger event needs besides the request.
#[derive(Debug, Clone)]
pub struct Fc3Context<'a> {
    /// Account id.
    pub account_id: &'a str,
    /// Region.
    pub region: &'a str,
    /// Function name (the domain prefix is derived from it).
    pub function: &'a str,
    /// Request id.
    pub request_id: &'a str,
    /// When the request arrived.
    pub time: OffsetDateTime,
    /// Trigger name.
    pub trigger: &'a str,
}

/// FC 3.0's HTTP trigger event (`version: "v1"`, reference/fc.md §2.6): base64 body only when
/// the body is binary.
pub fn fc3_event(req: &HttpRequest, ctx: &Fc3Context<'_>) -> Vec<u8> {
    let textual = req.is_textual();
    let body = if textual {
        String::from_utf8_lossy(&req.body).into_owned()
    } else {
        B64.encode(&req.body)
    };
    let time = ctx
        .time
        .replace_nanosecond(0)
        .unwrap_or(ctx.time)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let epoch_ms = (ctx.time.unix_timestamp_nanos() / 1_000_000).to_string();
    let prefix = format!(
        "{}-fcemu",
        ctx.function.to_ascii_lowercase().replace('_', "-")
    );
    let event = json!({
        "version": "v1",
        "rawPath": req.path,
        "body": body,
        "isBase64Encoded": !textual,
        "headers": req.joined_headers(),
        "queryParameters": req.joined_query(),
        "requestContext": {
            "accountId": ctx.account_id,
            "domainPrefix": prefix,
            "domainName": format!("{prefix}.{}.fcapp.run", ctx.region),
            "http": {
                "method": req.method,
                "path": req.path,
                "protocol": req.protocol,
                "sourceIp": req.source_ip,
                "userAgent": req.header("user-agent").unwrap_or(""),
            },
            "requestId": ctx.request_id,
            "time": time,
            "timeEpoch": epoch_ms,
            "triggerId": ctx.trigger,
        },
    });
    serde_json::to_vec(&event).unwrap_or_default()
}

/// An HTTP response a function asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpResult {
    /// Status code.
    pub status: u16,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Bytes,
}

/// Reads an API Gateway style result `{statusCode, headers, body, isBase64Encoded}`. The error
/// says what is wrong with it, for the 502 the gateway answers.
pub fn apigw_result(output: &[u8]) -> Result<HttpResult, String> {
    let value: Value = serde_json::from_slice(output).map_err(|e| {
        format!("the function's result is not JSON ({e}); an API Gateway function must return {{\"statusCode\", \"headers\", \"body\", \"isBase64Encoded\"}}")
    })?;
    let Value::Object(obj) = value else {
        return Err("the function's result is not a JSON object; it must be {\"statusCode\", \"headers\", \"body\", \"isBase64Encoded\"}".into());
    };
    result_from_object(&obj)
}

/// Reads an FC 3.0 HTTP trigger result: an object with `statusCode` is a response; anything
/// else is the body of a 200.
pub fn fc3_result(output: &[u8]) -> Result<HttpResult, String> {
    if let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(output)
        && obj.contains_key("statusCode")
    {
        return result_from_object(&obj);
    }
    Ok(HttpResult {
        status: 200,
        headers: Vec::new(),
        body: Bytes::copy_from_slice(output),
    })
}

fn result_from_object(obj: &Map<String, Value>) -> Result<HttpResult, String> {
    let status = match obj.get("statusCode") {
        Some(Value::Number(n)) => n
            .as_u64()
            .filter(|s| (100..=599).contains(s))
            .ok_or_else(|| format!("statusCode {n} is not an HTTP status (100-599)"))?
            as u16,
        Some(Value::String(s)) => s
            .parse::<u16>()
            .ok()
            .filter(|s| (100..=599).contains(s))
            .ok_or_else(|| format!("statusCode {s:?} is not an HTTP status (100-599)"))?,
        Some(other) => return Err(format!("statusCode must be a number, got {other}")),
        None => return Err("the result has no statusCode".into()),
    };
    let mut headers = Vec::new();
    match obj.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(h)) => {
            for (k, v) in h {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Array(items) => items
                        .iter()
                        .map(|i| {
                            i.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| i.to_string())
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                    other => {
                        return Err(format!(
                            "header {k:?} has a value that is not a string: {other}"
                        ));
                    }
                };
                headers.push((k.clone(), v));
            }
        }
        Some(other) => return Err(format!("headers must be an object of strings, got {other}")),
    }
    let base64 = match obj.get("isBase64Encoded") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(format!(
                "isBase64Encoded must be true or false, got {other}"
            ));
        }
    };
    let body = match obj.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(s)) if base64 => Bytes::from(
            B64.decode(s)
                .map_err(|e| format!("isBase64Encoded is true but body is not base64: {e}"))?,
        ),
        Some(Value::String(s)) => Bytes::from(s.clone()),
        Some(other) if !base64 => Bytes::from(other.to_string()),
        Some(other) => {
            return Err(format!(
                "body must be a base64 string when isBase64Encoded is true, got {other}"
            ));
        }
    };
    Ok(HttpResult {
        status,
        headers,
        body,
    })
}

/// A synthetic HTTP request as an event (`{"type": "http", ...}` and `fcemu events generate
/// http`; generated only: the gateway itself is synchronous).
#[derive(Debug, Clone, serde::Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct HttpEventArgs {
    /// Method (default GET).
    #[arg(long)]
    #[serde(default)]
    pub method: Option<String>,
    /// Path (default /).
    #[arg(long)]
    #[serde(default)]
    pub path: Option<String>,
    /// Query string, without `?`.
    #[arg(long)]
    #[serde(default)]
    pub query: Option<String>,
    /// A header, `Name: value`; repeat for more (in JSON: an object of names and values).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    #[serde(default, deserialize_with = "header_map")]
    pub headers: Vec<Header>,
    /// Body text.
    #[arg(long)]
    #[serde(default)]
    pub body: Option<String>,
    /// The event shape: apigw (default) or fc3.
    #[arg(long, value_enum)]
    #[serde(default)]
    pub format: Option<crate::manifest::HttpFormat>,
}

/// One request header of a synthetic HTTP event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header(pub String, pub String);

impl std::str::FromStr for Header {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (k, v) = s
            .split_once(':')
            .ok_or_else(|| format!("a header is `Name: value`, got {s:?}"))?;
        Ok(Header(k.trim().to_string(), v.trim().to_string()))
    }
}

fn header_map<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Header>, D::Error> {
    let map: BTreeMap<String, String> = serde::Deserialize::deserialize(d)?;
    Ok(map.into_iter().map(|(k, v)| Header(k, v)).collect())
}

/// A gateway route (manifest `type = "http"`, as planned).
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct HttpTrigger {
    /// Upper-case methods; empty means any.
    pub methods: Vec<String>,
    /// Path template with `{param}` segments.
    pub path: String,
    /// Event shape handed to event functions.
    pub format: HttpFormat,
    /// Auth type, recorded (`anonymous` or `function`).
    pub auth: String,
    /// A leading part of the path removed before the function sees the request (FC 3.0
    /// functions, each at its own URL in the cloud, answer under `/{name}/` locally); the
    /// function also answers at the host `{name}.localhost`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strip_prefix: Option<String>,
}

/// The manifest table of a `type = "http"` trigger, as written.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHttpTrigger {
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) methods: Vec<String>,
    pub(crate) path: String,
    pub(crate) format: Option<String>,
    pub(crate) auth: Option<String>,
    pub(crate) strip_prefix: Option<String>,
}

impl HttpTrigger {
    /// FC's view of the trigger (GetTrigger, ListTriggers): its type, source ARN and config.
    pub fn fc_metadata(
        &self,
        _region: &str,
        _account: &str,
        _enabled: bool,
    ) -> (&'static str, String, serde_json::Value) {
        let methods = if self.methods.is_empty() {
            ["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"]
                .map(String::from)
                .to_vec()
        } else {
            self.methods.clone()
        };
        (
            "http",
            String::new(),
            serde_json::json!({ "authType": self.auth, "methods": methods }),
        )
    }

    /// Plans a `type = "http"` trigger table of function `check.function`, reporting what is
    /// wrong to `check` (and planning something sensible anyway).
    pub(crate) fn from_manifest(
        h: RawHttpTrigger,
        check: &mut crate::manifest::TriggerCheck<'_>,
    ) -> Self {
        let fn_name = check.function;
        let runtime = check.runtime;
        let custom_runtime = runtime == Some(crate::manifest::NativeRuntime::Custom);
        let mut methods = Vec::new();
        for m in h.methods {
            let upper = m.to_ascii_uppercase();
            const METHODS: [&str; 8] = [
                "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "ANY",
            ];
            if !METHODS.contains(&upper.as_str()) {
                check.problem(
                    format!("function `{fn_name}`: {m:?} is not an HTTP method"),
                    "unknown method",
                    format!("use some of: {}", METHODS.join(", ")),
                );
            }
            if upper != "ANY" {
                methods.push(upper);
            }
        }
        let path = h.path.clone();
        if !path.starts_with('/') {
            check.problem(
                format!("function `{fn_name}`: route path {path:?} does not start with '/'"),
                "must start with '/'",
                format!("write it as \"/{path}\""),
            );
        }
        let format = match h.format.as_deref() {
            None if custom_runtime => HttpFormat::Http,
            None | Some("apigw") => HttpFormat::Apigw,
            Some("fc3") => HttpFormat::Fc3,
            Some("http") if runtime.is_some() => HttpFormat::Http,
            Some(other) => {
                let help = if custom_runtime {
                    "use \"http\" (the request itself, FC 2.0's HTTP trigger: the default for custom runtimes), \"apigw\" (API Gateway event) or \"fc3\" (FC 3.0 HTTP trigger event)"
                } else if runtime.is_some() {
                    "use \"apigw\" (API Gateway event, the default), \"fc3\" (FC 3.0 HTTP trigger event) or \"http\" (FC 2.0's HTTP handler: Node.js (request, response, context), Python WSGI (environ, start_response))"
                } else {
                    "use \"apigw\" (API Gateway event) or \"fc3\" (FC 3.0 HTTP trigger event); a WebAssembly HTTP function is one that exports wasi:http/incoming-handler"
                };
                check.problem(
                    format!("function `{fn_name}`: unknown http event format {other:?}"),
                    "unknown format",
                    help,
                );
                HttpFormat::Apigw
            }
        };
        let auth = match h.auth {
            None => "anonymous".to_string(),
            Some(a) => {
                let v = a.to_ascii_lowercase();
                if v != "anonymous" && v != "function" {
                    check.problem(
                        format!("function `{fn_name}`: unknown auth type {a:?}"),
                        "unknown auth type",
                        "use \"anonymous\" or \"function\"",
                    );
                }
                v
            }
        };
        let strip_prefix = h.strip_prefix.map(|p| {
            let p = format!("/{}", p.trim_matches('/'));
            let literal = path
                .strip_prefix(p.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
            if !literal || p.contains('{') {
                check.problem(format!("function `{fn_name}`: strip_prefix {p:?} does not begin the route path {path:?}"),
                    "not a prefix of the path",
                    format!("use the literal start of the path, e.g. path = \"{p}/{{rest+}}\" with strip_prefix = \"{p}\""),
                );
            }
            p
        });
        HttpTrigger {
            methods,
            path,
            format,
            auth,
            strip_prefix,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> HttpRequest {
        HttpRequest {
            method: "POST".into(),
            path: "/photos/42".into(),
            query: Some("tag=a&tag=b&q=hello+world".into()),
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("x-multi".into(), "1".into()),
                ("x-multi".into(), "2".into()),
            ],
            body: Bytes::from_static(b"{\"k\":\"v\"}"),
            source_ip: "127.0.0.1".into(),
            protocol: "HTTP/1.1".into(),
        }
    }

    #[test]
    fn apigw_event_has_the_documented_shape() {
        let params = BTreeMap::from([("id".to_string(), "42".to_string())]);
        let v: Value = serde_json::from_slice(&apigw_event(&request(), &params)).unwrap();
        assert_eq!(v["path"], "/photos/42");
        assert_eq!(v["httpMethod"], "POST");
        assert_eq!(v["headers"]["Content-Type"], "application/json");
        assert_eq!(v["headers"]["X-Multi"], "1,2");
        assert_eq!(v["queryParameters"]["tag"], "a,b");
        assert_eq!(v["queryParameters"]["q"], "hello world");
        assert_eq!(v["pathParameters"]["id"], "42");
        assert_eq!(v["body"], "eyJrIjoidiJ9");
        assert_eq!(v["isBase64Encoded"], true);
    }

    #[test]
    fn fc3_event_keeps_text_bodies_and_encodes_binary_ones() {
        let ctx = Fc3Context {
            account_id: "1",
            region: "cn-hangzhou",
            function: "api",
            request_id: "r",
            time: fcemu_core::clock::VIRTUAL_EPOCH,
            trigger: "http-1",
        };
        let v: Value = serde_json::from_slice(&fc3_event(&request(), &ctx)).unwrap();
        assert_eq!(v["version"], "v1");
        assert_eq!(v["body"], "{\"k\":\"v\"}");
        assert_eq!(v["isBase64Encoded"], false);
        assert_eq!(v["requestContext"]["timeEpoch"], "1704067200000");
        assert_eq!(v["requestContext"]["time"], "2024-01-01T00:00:00Z");
        let mut bin = request();
        bin.body = Bytes::from_static(&[0xff, 0x00]);
        bin.headers[0].1 = "application/octet-stream".into();
        let v: Value = serde_json::from_slice(&fc3_event(&bin, &ctx)).unwrap();
        assert_eq!(v["isBase64Encoded"], true);
        assert_eq!(v["body"], "/wA=");
    }

    #[test]
    fn results_are_checked_and_explained() {
        let ok = apigw_result(
            br#"{"statusCode":201,"headers":{"x-a":"1"},"body":"aGk=","isBase64Encoded":true}"#,
        )
        .unwrap();
        assert_eq!(ok.status, 201);
        assert_eq!(&ok.body[..], b"hi");
        assert!(apigw_result(b"hello").unwrap_err().contains("not JSON"));
        assert!(
            apigw_result(br#"{"body":"x"}"#)
                .unwrap_err()
                .contains("no statusCode")
        );
        assert!(
            apigw_result(br#"{"statusCode":999}"#)
                .unwrap_err()
                .contains("not an HTTP status")
        );
        assert_eq!(
            fc3_result(b"plain").unwrap().body,
            Bytes::from_static(b"plain")
        );
    }
}
