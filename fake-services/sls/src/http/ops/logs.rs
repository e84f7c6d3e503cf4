//! Writing and reading log groups by position: PutLogs (protobuf, compressed), GetCursor,
//! GetCursorTime and PullLogs (LogGroupList with the cursor headers the SDKs need).

use axum::body::Body;
use axum::response::Response;
use http::{StatusCode, header};
use prost::Message;
use serde_json::json;

use super::*;
use crate::http::body::Encoding;
use crate::model::CursorFrom;
use crate::proto::{LogGroup, encode_group_list};
use crate::{Sls, SlsError};

pub(super) async fn put_logs(
    sls: &Sls,
    ctx: &Ctx,
    ls: &str,
    choice: ShardChoice,
) -> Result<Response, SlsError> {
    let project = ctx.project()?;
    let raw = decompress(ctx.body.clone(), &ctx.headers)?;
    let group = LogGroup::decode(raw.as_ref())
        .map_err(|e| SlsError::PostBodyInvalid(format!("the body is not a valid LogGroup: {e}")))?;
    let origin = crate::Origin {
        client_ip: ctx.client_ip.clone(),
        cause: ctx.cause.clone(),
    };
    sls.put_logs_to(project, ls, choice, group, origin).await?;
    Ok(empty())
}

pub(super) async fn get_cursor(
    sls: &Sls,
    ctx: &Ctx,
    ls: &str,
    shard: i64,
) -> Result<Response, SlsError> {
    let from = match ctx.params.get("from").map(str::trim) {
        Some("begin") => CursorFrom::Begin,
        Some("end") => CursorFrom::End,
        Some(t) => CursorFrom::Time(t.parse().map_err(|_| {
            SlsError::ParameterInvalid(format!("the parameter from is invalid: {t}"))
        })?),
        None => {
            return Err(SlsError::ParameterInvalid(
                "the parameter from is required".into(),
            ));
        }
    };
    let cursor = sls.cursor(ctx.project()?, ls, shard, from).await?;
    Ok(json_response(&json!({ "cursor": cursor })))
}

pub(super) async fn get_cursor_time(
    sls: &Sls,
    ctx: &Ctx,
    ls: &str,
    shard: i64,
) -> Result<Response, SlsError> {
    let cursor = ctx
        .params
        .get("cursor")
        .ok_or_else(|| SlsError::ParameterInvalid("the parameter cursor is required".into()))?;
    let t = sls.cursor_time(ctx.project()?, ls, shard, cursor).await?;
    Ok(json_response(&json!({ "cursor_time": t })))
}

pub(super) async fn pull_logs(
    sls: &Sls,
    ctx: &Ctx,
    ls: &str,
    shard: i64,
) -> Result<Response, SlsError> {
    let cursor = ctx
        .params
        .get("cursor")
        .ok_or_else(|| SlsError::ParameterInvalid("the parameter cursor is required".into()))?;
    let spl = ["query", "processor"]
        .iter()
        .any(|p| ctx.params.get(p).is_some_and(|v| !v.trim().is_empty()));
    if spl {
        return Err(SlsError::ParameterInvalid(
            "fcemu: SPL queries and processors in PullLogs are not supported".into(),
        ));
    }
    let count = ctx.params.int("count", 1000)?;
    let count = u32::try_from(count).unwrap_or(0);
    let end = ctx.params.get("end_cursor").filter(|e| !e.is_empty());
    let pulled = sls
        .pull_logs(ctx.project()?, ls, shard, cursor, count, end)
        .await?;
    let mut b = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/x-protobuf")
        .header("x-log-cursor", &pulled.next_cursor)
        .header("x-log-count", pulled.groups.len());
    if let Some(t) = pulled.cursor_time {
        b = b.header("x-log-cursor-time", t);
    }
    if pulled.groups.is_empty() {
        return Ok(b
            .header("x-log-bodyrawsize", "0")
            .header(header::CONTENT_LENGTH, "0")
            .body(Body::empty())
            .unwrap_or_default());
    }
    let raw = encode_group_list(pulled.groups.iter().map(Vec::as_slice));
    let enc = Encoding::from_accept(&ctx.headers);
    let body = enc.compress(&raw);
    b = b
        .header("x-log-bodyrawsize", raw.len())
        .header(header::CONTENT_LENGTH, body.len());
    if let Some(name) = enc.name() {
        b = b.header("x-log-compresstype", name);
    }
    Ok(b.body(Body::from(body)).unwrap_or_default())
}
