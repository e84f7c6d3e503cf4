//! Projects, logstores, shards and index configs: JSON in, JSON out.

use axum::response::Response;
use serde_json::{Value, json};

use super::*;
use crate::{Sls, SlsError};

pub(super) async fn create_project(sls: &Sls, ctx: &Ctx) -> Result<Response, SlsError> {
    let body = json_body(ctx)?;
    let from_body = body.get("projectName").and_then(Value::as_str);
    let name = match (&ctx.project, from_body) {
        (Some(p), _) => p.clone(),
        (None, Some(b)) => b.to_string(),
        (None, None) => ctx.project()?.to_string(),
    };
    let description = body
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("");
    sls.create_project(&name, description).await?;
    Ok(empty())
}

pub(super) async fn update_project(sls: &Sls, ctx: &Ctx) -> Result<Response, SlsError> {
    let body = json_body(ctx)?;
    let description = body
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("");
    sls.update_project(ctx.project()?, description).await?;
    Ok(empty())
}

pub(super) fn project_json(sls: &Sls, p: &crate::Project) -> Value {
    json!({
        "projectName": p.name,
        "description": p.description,
        "status": "Normal",
        "region": sls.config().ctx.region,
        "owner": sls.config().ctx.account_id,
        "createTime": secs(p.created).to_string(),
        "lastModifyTime": secs(p.modified).to_string(),
        "resourceGroupId": "",
        "dataRedundancyType": "LRS",
    })
}

pub(super) async fn get_project(sls: &Sls, ctx: &Ctx) -> Result<Response, SlsError> {
    let p = sls.project(ctx.project()?).await?;
    Ok(json_response(&project_json(sls, &p)))
}

/// `offset` (≥ 0) and `size` (`-1` or absent: all).
pub(super) fn paging(ctx: &Ctx) -> Result<(u64, u64), SlsError> {
    let offset = ctx.params.int("offset", 0)?;
    let size = ctx.params.int("size", 500)?;
    if offset < 0 {
        return Err(SlsError::ParameterInvalid(
            "the parameter offset must not be negative".into(),
        ));
    }
    let size = if size < 0 { u64::MAX } else { size as u64 };
    Ok((offset as u64, size))
}

pub(super) async fn list_projects(sls: &Sls, ctx: &Ctx) -> Result<Response, SlsError> {
    let (offset, size) = paging(ctx)?;
    let filter = ctx.params.get("projectName").unwrap_or("");
    let (projects, total) = sls.list_projects(filter, offset, size).await?;
    let list: Vec<Value> = projects.iter().map(|p| project_json(sls, p)).collect();
    Ok(json_response(&json!({
        "count": list.len(),
        "total": total,
        "projects": list,
    })))
}

pub(super) async fn list_logstores(sls: &Sls, ctx: &Ctx) -> Result<Response, SlsError> {
    let (offset, size) = paging(ctx)?;
    let filter = ctx.params.get("logstoreName").unwrap_or("");
    let (names, total) = sls
        .list_logstores(ctx.project()?, filter, offset, size)
        .await?;
    Ok(json_response(&json!({
        "count": names.len(),
        "total": total,
        "logstores": names,
    })))
}

pub(super) async fn get_logstore(sls: &Sls, ctx: &Ctx, ls: &str) -> Result<Response, SlsError> {
    let store = sls.logstore(ctx.project()?, ls).await?;
    let mut m = store.config.to_json();
    m.insert("createTime".into(), json!(secs(store.created)));
    m.insert("lastModifyTime".into(), json!(secs(store.modified)));
    Ok(json_response(&Value::Object(m)))
}

pub(super) async fn list_shards(sls: &Sls, ctx: &Ctx, ls: &str) -> Result<Response, SlsError> {
    let (store, ranges) = sls.list_shards(ctx.project()?, ls).await?;
    let created = secs(store.created);
    let list: Vec<Value> = ranges
        .iter()
        .map(|r| {
            json!({
                "shardID": r.id,
                "status": "readwrite",
                "inclusiveBeginKey": r.begin,
                "exclusiveEndKey": r.end,
                "createTime": created,
            })
        })
        .collect();
    Ok(json_response(&Value::Array(list)))
}

pub(super) async fn get_index(sls: &Sls, ctx: &Ctx, ls: &str) -> Result<Response, SlsError> {
    let (store, index) = sls.index(ctx.project()?, ls).await?;
    let mut m = index.doc;
    m.insert("ttl".into(), json!(store.config.ttl));
    m.insert("lastModifyTime".into(), json!(secs(index.modified)));
    Ok(json_response(&Value::Object(m)))
}
