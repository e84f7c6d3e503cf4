//! Consumer groups: named readers of a logstore that share its shards. Each live consumer
//! (one that sent a heartbeat within the group's timeout) is given a disjoint, balanced set of
//! shards, keeping the shards it already had where balance allows; checkpoints record how far
//! each shard was read.

use std::collections::BTreeMap;

use crate::store::ms;
use crate::{Sls, SlsError, cursor};

/// A consumer group's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerGroup {
    /// Group name.
    pub name: String,
    /// Seconds without a heartbeat after which a consumer loses its shards.
    pub timeout: i64,
    /// Whether shards are consumed in order after splits (stored).
    pub in_order: bool,
}

/// How far a consumer group read one shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Shard id.
    pub shard: u32,
    /// The cursor recorded (empty: none yet).
    pub checkpoint: String,
    /// Who recorded it.
    pub consumer: String,
    /// When, in microseconds since the epoch (0: never).
    pub update_us: i64,
}

/// (project, logstore, group).
pub type GroupKey = (String, String, String);

/// Live consumers of a group and who owns which shard (kept in memory, like heartbeats).
#[derive(Clone, Debug, Default)]
pub struct Membership {
    /// Consumer → last heartbeat (ms).
    pub last_seen: BTreeMap<String, i64>,
    /// Shard → consumer.
    pub owners: BTreeMap<u32, String>,
}

/// A balanced assignment of `shards` shards to `live` consumers (each gets ⌊n/k⌋ or ⌈n/k⌉),
/// keeping previous owners where that stays balanced.
pub fn assign(
    shards: u32,
    live: &[String],
    previous: &BTreeMap<u32, String>,
) -> BTreeMap<u32, String> {
    let mut out = BTreeMap::new();
    if live.is_empty() {
        return out;
    }
    let k = live.len() as u32;
    let (base, mut extra) = (shards / k, shards % k);
    let mut count: BTreeMap<&str, u32> = live.iter().map(|c| (c.as_str(), 0)).collect();
    let owner_of = |s: u32| {
        previous
            .get(&s)
            .filter(|o| count_has(live, o))
            .map(String::as_str)
    };
    // Keep previous owners up to the floor, then up to the ceiling while ceilings remain.
    for pass in 0..2 {
        for s in 0..shards {
            if out.contains_key(&s) {
                continue;
            }
            let Some(o) = owner_of(s) else { continue };
            let Some(n) = count.get_mut(o) else { continue };
            if *n < base || (pass == 1 && *n == base && extra > 0) {
                if *n == base {
                    extra -= 1;
                }
                *n += 1;
                out.insert(s, o.to_string());
            }
        }
    }
    // The rest go to whoever has fewest.
    for s in 0..shards {
        if out.contains_key(&s) {
            continue;
        }
        if let Some((c, n)) = count.iter_mut().min_by_key(|(c, n)| (**n, **c)) {
            *n += 1;
            out.insert(s, c.to_string());
        }
    }
    out
}

fn count_has(live: &[String], c: &str) -> bool {
    live.iter().any(|l| l == c)
}

fn check_name(name: &str) -> Result<(), SlsError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(SlsError::ParameterInvalid(format!(
            "consumer group name {name} is invalid"
        )))
    }
}

fn check_timeout(timeout: i64) -> Result<(), SlsError> {
    if (1..=86400).contains(&timeout) {
        Ok(())
    } else {
        Err(SlsError::ParameterInvalid(format!(
            "timeout {timeout} must be within range [1, 86400]"
        )))
    }
}

impl Sls {
    /// Creates a consumer group.
    pub async fn create_consumer_group(
        &self,
        project: &str,
        logstore: &str,
        group: ConsumerGroup,
    ) -> Result<(), SlsError> {
        check_name(&group.name)?;
        check_timeout(group.timeout)?;
        let (p, l) = (project.to_string(), logstore.to_string());
        self.store()
            .call(move |db| db.create_consumer_group(&p, &l, &group))
            .await
    }

    /// A logstore's consumer groups.
    pub async fn consumer_groups(
        &self,
        project: &str,
        logstore: &str,
    ) -> Result<Vec<ConsumerGroup>, SlsError> {
        let (p, l) = (project.to_string(), logstore.to_string());
        self.store()
            .call(move |db| db.consumer_groups(&p, &l))
            .await
    }

    /// Changes a consumer group's timeout and / or order flag.
    pub async fn update_consumer_group(
        &self,
        project: &str,
        logstore: &str,
        name: &str,
        timeout: Option<i64>,
        in_order: Option<bool>,
    ) -> Result<(), SlsError> {
        if let Some(t) = timeout {
            check_timeout(t)?;
        }
        let (p, l, n) = (project.to_string(), logstore.to_string(), name.to_string());
        self.store()
            .call(move |db| {
                let mut g = db.consumer_group(&p, &l, &n)?;
                g.timeout = timeout.unwrap_or(g.timeout);
                g.in_order = in_order.unwrap_or(g.in_order);
                db.update_consumer_group(&p, &l, &g)
            })
            .await
    }

    /// Deletes a consumer group and its checkpoints.
    pub async fn delete_consumer_group(
        &self,
        project: &str,
        logstore: &str,
        name: &str,
    ) -> Result<(), SlsError> {
        let (p, l, n) = (project.to_string(), logstore.to_string(), name.to_string());
        self.store()
            .call(move |db| db.delete_consumer_group(&p, &l, &n))
            .await
    }

    /// A consumer's heartbeat: marks it live, drops consumers silent for longer than the
    /// group's timeout, rebalances, and returns the shards `consumer` now holds.
    pub async fn heartbeat(
        &self,
        project: &str,
        logstore: &str,
        group: &str,
        consumer: &str,
    ) -> Result<Vec<u32>, SlsError> {
        if consumer.is_empty() {
            return Err(SlsError::ParameterInvalid(
                "the parameter consumer is required".into(),
            ));
        }
        let now = ms(self.config().ctx.clock.now());
        let (p, l, g, c) = (
            project.to_string(),
            logstore.to_string(),
            group.to_string(),
            consumer.to_string(),
        );
        self.store()
            .call(move |db| {
                let cg = db.consumer_group(&p, &l, &g)?;
                let shards = db.logstore(&p, &l)?.config.shard_count;
                let m = db.consumers.entry((p, l, g)).or_default();
                m.last_seen.insert(c.clone(), now);
                let timeout_ms = cg.timeout.saturating_mul(1000);
                m.last_seen.retain(|_, seen| now - *seen <= timeout_ms);
                let live: Vec<String> = m.last_seen.keys().cloned().collect();
                m.owners = assign(shards, &live, &m.owners);
                Ok(m.owners
                    .iter()
                    .filter(|(_, o)| **o == c)
                    .map(|(s, _)| *s)
                    .collect())
            })
            .await
    }

    /// Records how far `consumer` read a shard.
    pub async fn update_checkpoint(
        &self,
        project: &str,
        logstore: &str,
        group: &str,
        consumer: &str,
        shard: i64,
        checkpoint: &str,
    ) -> Result<(), SlsError> {
        if cursor::decode(checkpoint).is_none() {
            return Err(SlsError::InvalidShardCheckPoint(format!(
                "shard checkpoint {checkpoint} is not a cursor"
            )));
        }
        let update_us = self.config().ctx.clock.now().unix_timestamp_nanos() / 1000;
        let (p, l, g) = (project.to_string(), logstore.to_string(), group.to_string());
        let (consumer, checkpoint) = (consumer.to_string(), checkpoint.to_string());
        self.store()
            .call(move |db| {
                db.consumer_group(&p, &l, &g)?;
                let count = db.logstore(&p, &l)?.config.shard_count;
                let shard = u32::try_from(shard)
                    .ok()
                    .filter(|s| *s < count)
                    .ok_or(SlsError::ShardNotExist(shard))?;
                let c = Checkpoint {
                    shard,
                    checkpoint,
                    consumer,
                    update_us: i64::try_from(update_us).unwrap_or(i64::MAX),
                };
                db.set_checkpoint(&p, &l, &g, &c)
            })
            .await
    }

    /// The checkpoints of every shard (or of one), with an empty checkpoint where none was
    /// recorded; a shard that does not exist yields nothing.
    pub async fn checkpoints(
        &self,
        project: &str,
        logstore: &str,
        group: &str,
        shard: Option<i64>,
    ) -> Result<Vec<Checkpoint>, SlsError> {
        let (p, l, g) = (project.to_string(), logstore.to_string(), group.to_string());
        self.store()
            .call(move |db| {
                db.consumer_group(&p, &l, &g)?;
                let count = db.logstore(&p, &l)?.config.shard_count;
                let recorded = db.checkpoints(&p, &l, &g)?;
                let wanted: Vec<u32> = match shard {
                    Some(s) => u32::try_from(s)
                        .ok()
                        .filter(|s| *s < count)
                        .into_iter()
                        .collect(),
                    None => (0..count).collect(),
                };
                Ok(wanted
                    .into_iter()
                    .map(|s| {
                        recorded
                            .iter()
                            .find(|c| c.shard == s)
                            .cloned()
                            .unwrap_or(Checkpoint {
                                shard: s,
                                checkpoint: String::new(),
                                consumer: String::new(),
                                update_us: 0,
                            })
                    })
                    .collect())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn counts(a: &BTreeMap<u32, String>) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for o in a.values() {
            *m.entry(o.clone()).or_default() += 1;
        }
        m
    }

    #[test]
    fn balanced_and_sticky() {
        let one = assign(4, &names(&["a"]), &BTreeMap::new());
        assert_eq!(one.len(), 4);
        assert!(one.values().all(|o| o == "a"));

        let two = assign(4, &names(&["a", "b"]), &one);
        assert_eq!(counts(&two).values().copied().collect::<Vec<_>>(), [2, 2]);
        // a keeps two of its shards; nothing moves without need.
        assert_eq!(two, assign(4, &names(&["a", "b"]), &two));

        let three = assign(5, &names(&["a", "b", "c"]), &two);
        let mut c: Vec<usize> = counts(&three).values().copied().collect();
        c.sort();
        assert_eq!(c, [1, 2, 2]);

        let after_leave = assign(5, &names(&["b"]), &three);
        assert!(after_leave.values().all(|o| o == "b"));
        assert!(assign(3, &[], &three).is_empty());
        assert_eq!(assign(1, &names(&["a", "b"]), &BTreeMap::new()).len(), 1);
    }
}
