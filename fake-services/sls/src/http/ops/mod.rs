//! One function per operation: read the request's parameters and body, call the domain, shape
//! the JSON / protobuf answer and the headers the SDKs read. Grouped by area: [`resources`],
//! [`logs`], [`queries`], [`consumers`].

mod consumers;
mod logs;
mod queries;
mod resources;

use axum::body::Body;
use axum::response::Response;
use http::{Method, StatusCode, header};
use serde_json::{Map, Value};

use super::Ctx;
use super::body::decompress;
use crate::{LogstoreConfig, ShardChoice, Sls, SlsError};
use consumers::*;
use logs::*;
use queries::*;
use resources::*;

/// Dispatches on method and path.
pub(crate) async fn route(sls: &Sls, ctx: Ctx) -> Result<Response, SlsError> {
    let segs: Vec<&str> = ctx.segments.iter().map(String::as_str).collect();
    let method = ctx.method.clone();
    match (&method, segs.as_slice()) {
        (&Method::GET, []) if ctx.project.is_none() => list_projects(sls, &ctx).await,
        (&Method::GET, []) => get_project(sls, &ctx).await,
        (&Method::POST, []) => create_project(sls, &ctx).await,
        (&Method::PUT, []) => update_project(sls, &ctx).await,
        (&Method::DELETE, []) => {
            sls.delete_project(ctx.project()?).await?;
            Ok(empty())
        }
        (&Method::GET, ["logstores"]) => list_logstores(sls, &ctx).await,
        (&Method::POST, ["logstores"]) => {
            let cfg = LogstoreConfig::from_create_body(&json_body(&ctx)?)?;
            sls.create_logstore(ctx.project()?, cfg).await?;
            Ok(empty())
        }
        (&Method::GET, ["logstores", ls]) => match ctx.params.get("type").unwrap_or("") {
            "" => get_logstore(sls, &ctx, ls).await,
            "log" => get_logs_v1(sls, &ctx, ls).await,
            "histogram" => get_histograms(sls, &ctx, ls).await,
            "topic" => list_topics(sls, &ctx, ls).await,
            other => Err(SlsError::NotSupported(format!(
                "GET /logstores/{ls}?type={other} is not supported"
            ))),
        },
        (&Method::PUT, ["logstores", ls]) => {
            sls.update_logstore(ctx.project()?, ls, json_body(&ctx)?)
                .await?;
            Ok(empty())
        }
        (&Method::DELETE, ["logstores", ls]) => {
            sls.delete_logstore(ctx.project()?, ls).await?;
            Ok(empty())
        }
        (&Method::POST, ["logstores", ls]) => {
            put_logs(sls, &ctx, ls, ShardChoice::LoadBalance).await
        }
        (&Method::POST, ["logstores", ls, "logs"]) => get_logs_v2(sls, &ctx, ls).await,
        (&Method::GET, ["logstores", ls, "shards"]) => list_shards(sls, &ctx, ls).await,
        (&Method::POST, ["logstores", ls, "shards", "lb"]) => {
            put_logs(sls, &ctx, ls, ShardChoice::LoadBalance).await
        }
        (&Method::POST, ["logstores", ls, "shards", "route"]) => {
            let key = ctx.params.get("key").unwrap_or("").to_string();
            put_logs(sls, &ctx, ls, ShardChoice::HashKey(key)).await
        }
        (&Method::POST, ["logstores", ls, "shards", id]) => {
            if ctx.params.get("action").is_some() {
                return Err(SlsError::NotSupported(
                    "shard split / merge is not supported".into(),
                ));
            }
            let id = shard_id(id)?;
            let id = u32::try_from(id).map_err(|_| SlsError::ShardNotExist(id))?;
            put_logs(sls, &ctx, ls, ShardChoice::Id(id)).await
        }
        (&Method::GET, ["logstores", ls, "shards", id]) => {
            let id = shard_id(id)?;
            match ctx.params.get("type").unwrap_or("") {
                "cursor" => get_cursor(sls, &ctx, ls, id).await,
                "cursor_time" => get_cursor_time(sls, &ctx, ls, id).await,
                "log" | "logs" => pull_logs(sls, &ctx, ls, id).await,
                other => Err(SlsError::ParameterInvalid(format!(
                    "the parameter type is invalid: {other}"
                ))),
            }
        }
        (&Method::POST, ["logstores", ls, "index"]) => {
            sls.set_index(ctx.project()?, ls, json_body(&ctx)?, true)
                .await?;
            Ok(empty())
        }
        (&Method::PUT, ["logstores", ls, "index"]) => {
            sls.set_index(ctx.project()?, ls, json_body(&ctx)?, false)
                .await?;
            Ok(empty())
        }
        (&Method::GET, ["logstores", ls, "index"]) => get_index(sls, &ctx, ls).await,
        (&Method::DELETE, ["logstores", ls, "index"]) => {
            sls.delete_index(ctx.project()?, ls).await?;
            Ok(empty())
        }
        (&Method::POST, ["logstores", ls, "consumergroups"]) => {
            create_consumer_group(sls, &ctx, ls).await
        }
        (&Method::GET, ["logstores", ls, "consumergroups"]) => {
            list_consumer_groups(sls, &ctx, ls).await
        }
        (&Method::PUT, ["logstores", ls, "consumergroups", cg]) => {
            update_consumer_group(sls, &ctx, ls, cg).await
        }
        (&Method::DELETE, ["logstores", ls, "consumergroups", cg]) => {
            sls.delete_consumer_group(ctx.project()?, ls, cg).await?;
            Ok(empty())
        }
        (&Method::POST, ["logstores", ls, "consumergroups", cg]) => {
            match ctx.params.get("type").unwrap_or("") {
                "heartbeat" => heartbeat(sls, &ctx, ls, cg).await,
                "checkpoint" => update_checkpoint(sls, &ctx, ls, cg).await,
                other => Err(SlsError::ParameterInvalid(format!(
                    "the parameter type is invalid: {other}"
                ))),
            }
        }
        (&Method::GET, ["logstores", ls, "consumergroups", cg]) => {
            get_checkpoints(sls, &ctx, ls, cg).await
        }
        _ => Err(SlsError::NotSupported(format!(
            "{} /{} is not supported",
            method,
            segs.join("/")
        ))),
    }
}

fn shard_id(s: &str) -> Result<i64, SlsError> {
    s.parse()
        .map_err(|_| SlsError::ParameterInvalid(format!("shard id {s} is invalid")))
}

/// A 200 with no body (what write APIs answer).
fn empty() -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_LENGTH, "0")
        .body(Body::empty())
        .unwrap_or_default()
}

/// A 200 with a JSON body.
fn json_response(v: &Value) -> Response {
    let body = v.to_string();
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, body.len())
        .body(Body::from(body))
        .unwrap_or_default()
}

/// The request body as a JSON object (decompressed if the client compressed it).
fn json_body(ctx: &Ctx) -> Result<Map<String, Value>, SlsError> {
    let raw = decompress(ctx.body.clone(), &ctx.headers)?;
    match serde_json::from_slice::<Value>(&raw) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(SlsError::PostBodyInvalid(
            "The request body is not valid JSON object.".into(),
        )),
    }
}

fn secs(t: time::OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

fn number(v: Option<&Value>, name: &str, default: Option<i64>) -> Result<i64, SlsError> {
    let bad = || SlsError::ParameterInvalid(format!("the parameter {name} is invalid"));
    match v {
        None | Some(Value::Null) => default
            .ok_or_else(|| SlsError::ParameterInvalid(format!("the parameter {name} is required"))),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .ok_or_else(bad),
        Some(Value::String(s)) => s.trim().parse().map_err(|_| bad()),
        Some(_) => Err(bad()),
    }
}

fn flag(v: Option<&Value>, name: &str) -> Result<bool, SlsError> {
    match v {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(SlsError::ParameterInvalid(format!(
            "the parameter {name} is invalid"
        ))),
    }
}
