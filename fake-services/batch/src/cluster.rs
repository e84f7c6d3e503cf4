//! Clusters as local worker pools (reference batchcompute.md §8): the `DesiredVMCount`s of a
//! cluster's groups add up to the number of its instances that may run at once. A task naming
//! the cluster (`ClusterId`) takes one of those slots per running instance and gets the
//! cluster's `EnvVars`. Images, instance types, disks, networks and spot settings are kept and
//! shown as given; they mean nothing on one machine.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::Notify;

use crate::BatchError;
use crate::job::{self, object, strings};

/// One group of a cluster's "VMs".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// `DesiredVMCount`: slots this group adds to the cluster.
    pub desired: u32,
    /// `InstanceType`.
    pub instance_type: String,
    /// `ResourceType` (`OnDemand`, `Spot`).
    pub resource_type: String,
    /// `SpotStrategy`.
    pub spot_strategy: String,
    /// `SpotPriceLimit`.
    pub spot_price_limit: f64,
    /// `HostnamePrefix`, for the instances' host names.
    pub hostname_prefix: String,
}

/// A cluster as created and modified.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    /// `cls-` and 22 lower-case letters and digits.
    pub id: String,
    /// Creation order.
    pub seq: u64,
    /// `Name`.
    pub name: String,
    /// `Description`.
    pub description: String,
    /// `ImageId`.
    pub image_id: String,
    /// `InstanceType`.
    pub instance_type: String,
    /// When it was created (ms).
    pub created_ms: i64,
    /// `Groups`, by name.
    pub groups: BTreeMap<String, Group>,
    /// `EnvVars`, given to every instance that runs on the cluster.
    pub env_vars: BTreeMap<String, String>,
    /// `UserData`, `InputMapping`, `Configs`, `Notification`: kept and shown as given.
    pub kept: Map<String, Value>,
    /// `OperationLogs`: what was done to it, one line each.
    pub operation_logs: Vec<String>,
}

/// Fields stored and shown as given.
const KEPT: [&str; 4] = ["UserData", "InputMapping", "Configs", "Notification"];

impl Cluster {
    /// The slots it offers: the sum of its groups' `DesiredVMCount`.
    pub fn size(&self) -> usize {
        self.groups.values().map(|g| g.desired as usize).sum()
    }

    /// The id of instance `n` of group `group`.
    pub fn instance_id(&self, group: &str, n: u32) -> String {
        let short = self.id.trim_start_matches("cls-");
        format!("i-{short}-{group}-{n}")
    }
}

fn text(v: &Value, field: &str) -> Result<String, BatchError> {
    Ok(job::text(v, field)?.unwrap_or_default())
}

fn desired(name: &str, g: &Value) -> Result<Option<u32>, BatchError> {
    match g.get("DesiredVMCount") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n @ 0..=1000) => Ok(Some(n as u32)),
            _ => Err(BatchError::invalid(
                "DesiredVMCount",
                format!("group {name}: a whole number in [0, 1000], got {v}"),
            )),
        },
    }
}

fn group(name: &str, g: &Value) -> Result<Group, BatchError> {
    if !g.is_object() {
        return Err(BatchError::invalid(
            "Groups",
            format!("group {name} must be a JSON object"),
        ));
    }
    let desired = desired(name, g)?.ok_or_else(|| {
        BatchError::missing("DesiredVMCount", format!("Groups.{name}.DesiredVMCount"))
    })?;
    let resource_type = match text(g, "ResourceType")?.as_str() {
        "" => "OnDemand".to_string(),
        t @ ("OnDemand" | "Spot") => t.to_string(),
        other => {
            return Err(BatchError::invalid(
                "ResourceType",
                format!("group {name}: OnDemand or Spot, got {other:?}"),
            ));
        }
    };
    Ok(Group {
        desired,
        instance_type: text(g, "InstanceType")?,
        resource_type,
        spot_strategy: text(g, "SpotStrategy")?,
        spot_price_limit: g
            .get("SpotPriceLimit")
            .and_then(Value::as_f64)
            .unwrap_or(0.0),
        hostname_prefix: text(g, "HostnamePrefix")?,
    })
}

fn parse_json(body: &[u8]) -> Result<Value, BatchError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| BatchError::InvalidJsonFormat(e.to_string()))?;
    if !v.is_object() {
        return Err(BatchError::InvalidJsonFormat(
            "the description must be a JSON object".into(),
        ));
    }
    Ok(v)
}

/// Reads a CreateCluster body (the SDK's `ClusterDescription`).
pub fn parse(body: &[u8], id: String, seq: u64, now_ms: i64) -> Result<Cluster, BatchError> {
    let v = parse_json(body)?;
    let image_id = text(&v, "ImageId")?;
    if image_id.is_empty() {
        return Err(BatchError::missing("ImageId", ""));
    }
    let groups = object(&v, "Groups")?
        .filter(|g| !g.is_empty())
        .ok_or_else(|| BatchError::missing("Groups", "a cluster needs at least one group"))?;
    let groups = groups
        .iter()
        .map(|(name, g)| Ok((name.clone(), group(name, g)?)))
        .collect::<Result<_, BatchError>>()?;
    let env_vars = object(&v, "EnvVars")?.map(strings).unwrap_or_default();
    let mut kept = Map::new();
    for field in KEPT {
        if let Some(m) = object(&v, field)? {
            kept.insert(field.into(), Value::Object(m.clone()));
        }
    }
    Ok(Cluster {
        id,
        seq,
        name: text(&v, "Name")?,
        description: text(&v, "Description")?,
        image_id,
        instance_type: text(&v, "InstanceType")?,
        created_ms: now_ms,
        groups,
        env_vars,
        kept,
        operation_logs: Vec::new(),
    })
}

/// Applies a ModifyCluster body (`Groups.{g}.DesiredVMCount`/`SpotStrategy`/`SpotPriceLimit`,
/// `ImageId`, `EnvVars`, `UserData`, `InputMapping`, `Configs`) to `c`, all or nothing.
pub fn modify(c: &Cluster, body: &[u8]) -> Result<Cluster, BatchError> {
    let v = parse_json(body)?;
    let mut next = c.clone();
    if let Some(groups) = object(&v, "Groups")? {
        for (name, g) in groups {
            let Some(have) = next.groups.get_mut(name) else {
                return Err(BatchError::invalid(
                    "Groups",
                    format!("cluster {} has no group {name}", c.id),
                ));
            };
            if let Some(n) = desired(name, g)? {
                have.desired = n;
            }
            if g.get("SpotStrategy").is_some() {
                have.spot_strategy = text(g, "SpotStrategy")?;
            }
            if let Some(p) = g.get("SpotPriceLimit").and_then(Value::as_f64) {
                have.spot_price_limit = p;
            }
        }
    }
    let image = text(&v, "ImageId")?;
    if !image.is_empty() {
        next.image_id = image;
    }
    if let Some(m) = object(&v, "EnvVars")? {
        next.env_vars = strings(m);
    }
    for field in KEPT {
        if let Some(m) = object(&v, field)? {
            next.kept.insert(field.into(), Value::Object(m.clone()));
        }
    }
    Ok(next)
}

/// A cluster's slots: at most `size` instances hold one at once. Resizing takes effect for the
/// next instance to start; closing (the cluster was deleted) fails everyone still waiting.
#[derive(Debug, Default)]
pub struct Pool {
    state: std::sync::Mutex<PoolState>,
    changed: Notify,
}

#[derive(Debug, Default)]
struct PoolState {
    size: usize,
    busy: usize,
    closed: bool,
}

/// One slot of a [`Pool`], given back when dropped.
#[derive(Debug)]
pub struct Slot(Arc<Pool>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.lock().busy -= 1;
        self.0.changed.notify_waiters();
    }
}

impl Pool {
    /// A pool of `size` slots.
    pub fn new(size: usize) -> Arc<Pool> {
        let pool = Pool::default();
        pool.lock().size = size;
        Arc::new(pool)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the number of slots.
    pub fn resize(&self, size: usize) {
        self.lock().size = size;
        self.changed.notify_waiters();
    }

    /// Fails every waiting and future [`Pool::acquire`].
    pub fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_waiters();
    }

    /// Slots held now.
    pub fn busy(&self) -> usize {
        self.lock().busy
    }

    /// Waits for a free slot; `None` once the pool is closed.
    pub async fn acquire(self: &Arc<Self>) -> Option<Slot> {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut s = self.lock();
                if s.closed {
                    return None;
                }
                if s.busy < s.size {
                    s.busy += 1;
                    return Some(Slot(self.clone()));
                }
            }
            changed.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(body: &str) -> Result<Cluster, BatchError> {
        parse(body.as_bytes(), "cls-1".into(), 1, 0)
    }

    #[test]
    fn a_clusters_size_is_its_groups_desired_counts() {
        let c = cluster(
            r#"{"Name": "c", "ImageId": "img-ubuntu", "Groups": {
                "a": {"DesiredVMCount": 2}, "b": {"DesiredVMCount": 3, "ResourceType": "Spot"}}}"#,
        )
        .unwrap();
        assert_eq!(c.size(), 5);
        assert_eq!(c.groups["a"].resource_type, "OnDemand");
        let grown = modify(&c, br#"{"Groups": {"a": {"DesiredVMCount": 4}}}"#).unwrap();
        assert_eq!(grown.size(), 7);
        let e = modify(&c, br#"{"Groups": {"zz": {"DesiredVMCount": 4}}}"#).unwrap_err();
        assert_eq!(e.code(), "InvalidGroups");
    }

    #[test]
    fn bad_cluster_descriptions_are_refused() {
        for (body, code) in [
            (
                r#"{"Groups": {"a": {"DesiredVMCount": 1}}}"#,
                "MissingImageId",
            ),
            (r#"{"ImageId": "img-ubuntu"}"#, "MissingGroups"),
            (
                r#"{"ImageId": "img-ubuntu", "Groups": {"a": {}}}"#,
                "MissingDesiredVMCount",
            ),
            (
                r#"{"ImageId": "img-ubuntu", "Groups": {"a": {"DesiredVMCount": -1}}}"#,
                "InvalidDesiredVMCount",
            ),
            ("[1]", "InvalidJsonFormat"),
        ] {
            assert_eq!(cluster(body).unwrap_err().code(), code, "{body}");
        }
    }

    #[tokio::test]
    async fn a_pool_hands_out_its_slots_and_grows_and_closes() {
        let pool = Pool::new(1);
        let first = pool.acquire().await.unwrap();
        let waiting = tokio::spawn({
            let pool = pool.clone();
            async move { pool.acquire().await.is_some() }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        pool.resize(2);
        assert!(waiting.await.unwrap());
        drop(first);
        assert_eq!(pool.busy(), 0);
        let _a = pool.acquire().await.unwrap();
        let _b = pool.acquire().await.unwrap();
        let blocked = tokio::spawn({
            let pool = pool.clone();
            async move { pool.acquire().await.is_some() }
        });
        tokio::task::yield_now().await;
        pool.close();
        assert!(!blocked.await.unwrap());
    }
}
