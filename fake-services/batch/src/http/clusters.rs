//! Clusters, their instances, images, quotas and the resources on offer on the wire
//! (reference batchcompute.md §3, §8), in the shapes the SDK's `Cluster`, `ClusterInstance`,
//! `Image`, `Quota` and `AvailableResource` read. The App API answers `NotImplemented`.

use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::response::{IntoResponse, Response};
use http::{StatusCode, Uri};
use serde_json::{Value, json};

use super::{created, page, param, query, time_of};
use crate::{Batch, BatchError, Cluster, Image};

/// Instance types offered (and accepted anywhere): names of the cloud's, with this machine's
/// cores and memory, since every instance runs here.
const INSTANCE_TYPES: [&str; 4] = [
    "ecs.sn1.medium",
    "ecs.sn1.large",
    "ecs.sn2.medium",
    "ecs.sn2ne.large",
];

fn owner(batch: &Batch) -> u64 {
    batch.config().ctx.account_id.parse().unwrap_or(0)
}

fn cluster_json(batch: &Batch, c: &Cluster) -> Value {
    let groups: serde_json::Map<String, Value> = c
        .groups
        .iter()
        .map(|(name, g)| {
            let v = json!({
                "DesiredVMCount": g.desired, "ActualVMCount": g.desired,
                "InstanceType": g.instance_type, "ResourceType": g.resource_type,
                "SpotStrategy": g.spot_strategy, "SpotPriceLimit": g.spot_price_limit,
            });
            (name.clone(), v)
        })
        .collect();
    let mut v = json!({
        "Name": c.name, "Id": c.id, "OwnerId": owner(batch), "Description": c.description,
        "CreationTime": time_of(Some(c.created_ms)), "State": "Active",
        "ImageId": c.image_id, "InstanceType": c.instance_type,
        "UserData": {}, "EnvVars": c.env_vars, "InputMapping": {},
        "Groups": groups, "OperationLogs": c.operation_logs,
        "Metrics": {
            "RunningCount": c.size(), "StartingCount": 0, "StoppingCount": 0, "StoppedCount": 0,
        },
    });
    if let Value::Object(doc) = &mut v {
        for (k, kept) in &c.kept {
            doc.insert(k.clone(), kept.clone());
        }
    }
    v
}

fn cluster_instances(c: &Cluster, group: &str) -> Result<Vec<(String, Value)>, BatchError> {
    let g = c
        .groups
        .get(group)
        .ok_or_else(|| BatchError::NotFound(format!("group {group} of cluster {}", c.id)))?;
    let prefix = if g.hostname_prefix.is_empty() {
        "bcs-"
    } else {
        g.hostname_prefix.as_str()
    };
    Ok((0..g.desired)
        .map(|n| {
            let id = c.instance_id(group, n);
            let v = json!({
                "Id": id, "Hint": "", "State": "Running", "IpAddress": "127.0.0.1",
                "HostName": format!("{prefix}{group}-{n}"), "ErrorCode": 0, "ErrorMessage": "",
                "CreationTime": time_of(Some(c.created_ms)), "InstancePassword": "",
            });
            (id, v)
        })
        .collect())
}

fn image_json(batch: &Batch, i: &Image) -> Value {
    let owner = if i.kind() == "System" {
        0
    } else {
        owner(batch)
    };
    json!({
        "Name": i.name, "Id": i.id, "Type": i.kind(), "Description": i.description,
        "EcsImageId": i.ecs_image_id, "OwnerId": owner, "Platform": i.platform,
        "CreationTime": time_of(Some(i.created_ms)),
    })
}

pub(super) async fn create_cluster(
    AxState(batch): AxState<Batch>,
    uri: Uri,
    body: Bytes,
) -> Result<Response, BatchError> {
    created(&batch, &uri, &body, || batch.create_cluster(&body)).await
}

pub(super) async fn list_clusters(
    AxState(batch): AxState<Batch>,
    uri: Uri,
) -> Result<Response, BatchError> {
    let items = batch
        .clusters()
        .await
        .iter()
        .map(|c| (c.id.clone(), cluster_json(&batch, c)))
        .collect();
    page(&query(&uri), items, false)
}

pub(super) async fn get_cluster(
    AxState(batch): AxState<Batch>,
    Path(id): Path<String>,
) -> Result<Response, BatchError> {
    let c = batch.cluster(&id).await?;
    Ok(axum::Json(cluster_json(&batch, &c)).into_response())
}

pub(super) async fn modify_cluster(
    AxState(batch): AxState<Batch>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, BatchError> {
    batch.modify_cluster(&id, &body).await?;
    Ok(StatusCode::OK.into_response())
}

pub(super) async fn delete_cluster(
    AxState(batch): AxState<Batch>,
    Path(id): Path<String>,
) -> Result<Response, BatchError> {
    batch.delete_cluster(&id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn list_cluster_instances(
    AxState(batch): AxState<Batch>,
    Path((id, group)): Path<(String, String)>,
    uri: Uri,
) -> Result<Response, BatchError> {
    let c = batch.cluster(&id).await?;
    page(&query(&uri), cluster_instances(&c, &group)?, false)
}

pub(super) async fn get_cluster_instance(
    AxState(batch): AxState<Batch>,
    Path((id, group, instance)): Path<(String, String, String)>,
) -> Result<Response, BatchError> {
    let c = batch.cluster(&id).await?;
    let (_, v) = cluster_instances(&c, &group)?
        .into_iter()
        .find(|(i, _)| *i == instance)
        .ok_or_else(|| BatchError::NotFound(format!("instance {instance} of cluster {id}")))?;
    Ok(axum::Json(v).into_response())
}

pub(super) async fn delete_cluster_instance(
    AxState(batch): AxState<Batch>,
    Path((id, group, instance)): Path<(String, String, String)>,
) -> Result<Response, BatchError> {
    batch
        .delete_cluster_instance(&id, &group, &instance)
        .await?;
    Ok(StatusCode::OK.into_response())
}

/// A local "VM" is always healthy: recreating one changes nothing.
pub(super) async fn recreate_cluster_instance(
    AxState(batch): AxState<Batch>,
    Path((id, group, instance)): Path<(String, String, String)>,
) -> Result<Response, BatchError> {
    let c = batch.cluster(&id).await?;
    if !cluster_instances(&c, &group)?
        .iter()
        .any(|(i, _)| *i == instance)
    {
        return Err(BatchError::NotFound(format!(
            "instance {instance} of cluster {id}"
        )));
    }
    Ok(StatusCode::CREATED.into_response())
}

pub(super) async fn create_image(
    AxState(batch): AxState<Batch>,
    uri: Uri,
    body: Bytes,
) -> Result<Response, BatchError> {
    created(&batch, &uri, &body, || batch.create_image(&body)).await
}

pub(super) async fn list_images(
    AxState(batch): AxState<Batch>,
    uri: Uri,
) -> Result<Response, BatchError> {
    let q = query(&uri);
    let kind = param(&q, "Type").unwrap_or("").to_string();
    let items = batch
        .images()
        .await
        .iter()
        .filter(|i| kind.is_empty() || i.kind() == kind)
        .map(|i| (i.id.clone(), image_json(&batch, i)))
        .collect();
    page(&q, items, false)
}

pub(super) async fn get_image(
    AxState(batch): AxState<Batch>,
    Path(id): Path<String>,
) -> Result<Response, BatchError> {
    let i = batch.image(&id).await?;
    Ok(axum::Json(image_json(&batch, &i)).into_response())
}

pub(super) async fn delete_image(
    AxState(batch): AxState<Batch>,
    Path(id): Path<String>,
) -> Result<Response, BatchError> {
    batch.delete_image(&id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

const DISK_TYPES: [&str; 3] = ["cloud_efficiency", "cloud_ssd", "cloud"];
const RESOURCE_TYPES: [&str; 2] = ["OnDemand", "Spot"];

pub(super) async fn quotas() -> Response {
    axum::Json(json!({
        "AvailableClusterInstanceType": INSTANCE_TYPES,
        "AvailableClusterInstanceSystemDiskType": DISK_TYPES,
        "AvailableClusterInstanceDataDiskType": DISK_TYPES,
        "AvailableClusterResourceType": RESOURCE_TYPES,
        "AvailableSpotInstanceType": INSTANCE_TYPES,
    }))
    .into_response()
}

/// This machine's memory in GB (rounded down, at least 1).
fn memory_gb() -> u64 {
    let kb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .unwrap_or(0);
    (kb / (1024 * 1024)).max(1)
}

pub(super) async fn available() -> Response {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let memory = memory_gb();
    let types: Vec<Value> = INSTANCE_TYPES
        .iter()
        .map(|t| {
            json!({"InstanceType": t, "CpuCore": cores, "MemorySize": memory,
                   "Network": {"Classic": false, "Vpc": true}})
        })
        .collect();
    axum::Json(json!({
        "AvailableClusterInstanceType": types,
        "AvailableSpotInstanceType": types,
        "AvailablePrepaidInstanceType": [],
        "AvailableResourceType": RESOURCE_TYPES,
        "AvailableSystemDiskType": DISK_TYPES,
        "AvailableDataDiskType": DISK_TYPES,
    }))
    .into_response()
}

/// Any call of the App API.
pub(super) async fn apps() -> BatchError {
    BatchError::NotEmulated(
        "the App API (apps and App jobs) is not emulated by fcemu; describe the work as a DAG job \
         (create_job with a JobDescription)"
            .into(),
    )
}
