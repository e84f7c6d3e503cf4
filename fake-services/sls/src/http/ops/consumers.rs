//! Consumer groups: create, list, update, heartbeats, checkpoints.

use axum::response::Response;
use serde_json::{Value, json};

use super::*;
use crate::{ConsumerGroup, Sls, SlsError};

pub(super) async fn create_consumer_group(
    sls: &Sls,
    ctx: &Ctx,
    ls: &str,
) -> Result<Response, SlsError> {
    let body = json_body(ctx)?;
    let group = ConsumerGroup {
        name: body
            .get("consumerGroup")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        timeout: number(body.get("timeout"), "timeout", None)?,
        in_order: flag(body.get("order"), "order")?,
    };
    sls.create_consumer_group(ctx.project()?, ls, group).await?;
    Ok(empty())
}

pub(super) async fn list_consumer_groups(
    sls: &Sls,
    ctx: &Ctx,
    ls: &str,
) -> Result<Response, SlsError> {
    let groups = sls.consumer_groups(ctx.project()?, ls).await?;
    let list: Vec<Value> = groups
        .iter()
        .map(|g| json!({"name": g.name, "timeout": g.timeout, "order": g.in_order}))
        .collect();
    Ok(json_response(&Value::Array(list)))
}

pub(super) async fn update_consumer_group(
    sls: &Sls,
    ctx: &Ctx,
    ls: &str,
    cg: &str,
) -> Result<Response, SlsError> {
    let body = json_body(ctx)?;
    let timeout = body
        .get("timeout")
        .map(|t| number(Some(t), "timeout", None))
        .transpose()?;
    let order = body
        .get("order")
        .map(|o| flag(Some(o), "order"))
        .transpose()?;
    sls.update_consumer_group(ctx.project()?, ls, cg, timeout, order)
        .await?;
    Ok(empty())
}

/// The body (the shards the consumer holds) is not needed: ownership is decided here.
pub(super) async fn heartbeat(
    sls: &Sls,
    ctx: &Ctx,
    ls: &str,
    cg: &str,
) -> Result<Response, SlsError> {
    let consumer = ctx.params.get("consumer").unwrap_or("");
    let shards = sls.heartbeat(ctx.project()?, ls, cg, consumer).await?;
    Ok(json_response(&json!(shards)))
}

pub(super) async fn update_checkpoint(
    sls: &Sls,
    ctx: &Ctx,
    ls: &str,
    cg: &str,
) -> Result<Response, SlsError> {
    let consumer = ctx.params.get("consumer").unwrap_or("");
    let body = json_body(ctx)?;
    let shard = number(body.get("shard"), "shard", None)?;
    let checkpoint = body.get("checkpoint").and_then(Value::as_str).unwrap_or("");
    sls.update_checkpoint(ctx.project()?, ls, cg, consumer, shard, checkpoint)
        .await?;
    Ok(empty())
}

pub(super) async fn get_checkpoints(
    sls: &Sls,
    ctx: &Ctx,
    ls: &str,
    cg: &str,
) -> Result<Response, SlsError> {
    let shard = match ctx.params.get("shard") {
        Some(_) => Some(ctx.params.int("shard", -1)?),
        None => None,
    };
    let list = sls.checkpoints(ctx.project()?, ls, cg, shard).await?;
    let list: Vec<Value> = list
        .iter()
        .map(|c| {
            json!({
                "shard": c.shard,
                "checkpoint": c.checkpoint,
                "updateTime": c.update_us,
                "consumer": c.consumer,
            })
        })
        .collect();
    Ok(json_response(&Value::Array(list)))
}
