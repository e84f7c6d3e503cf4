//! What caused a request: the function invocation that sent it, if any, and how many
//! change-triggered invocations led to it. Services copy it into the change notifications the
//! request causes, so the emulator can cut a trigger loop and link an invocation to the one whose
//! write fired it.
//!
//! Two carriers, because functions reach the services two ways:
//! - the headers [`CHAIN_DEPTH_HEADER`] and [`INVOCATION_HEADER`], which the emulator sets on
//!   requests its WebAssembly functions send;
//! - the security token of the invocation's credentials ([`Cause::token`]), which every SDK in a
//!   Node.js or Python function sends as it is (`x-oss-security-token`, `x-amz-security-token`,
//!   `x-ots-ststoken`, `x-acs-security-token`, `x-fc-security-token`);
//! - the security token of a native instance's environment ([`instance_token`]), for code that
//!   reads `ALIBABA_CLOUD_SECURITY_TOKEN` instead of the context: an instance runs one invocation
//!   at a time, so the invocation running on it while the request arrives ([`running_on`]) is
//!   the one that sent it.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

/// Request header carrying how many change-triggered invocations led to a request.
pub const CHAIN_DEPTH_HEADER: &str = "x-fcemu-chain-depth";

/// Request header carrying the request id of the invocation that sent a request.
pub const INVOCATION_HEADER: &str = "x-fcemu-invocation";

/// The security token every function's credentials carry; an invocation's own token extends it
/// with `:<depth>:<request id>`.
pub const SECURITY_TOKEN: &str = "fcemu-local-security-token";

/// Headers in which the SDKs send a security token.
const TOKEN_HEADERS: &[&str] = &[
    "x-oss-security-token",
    "x-amz-security-token",
    "x-ots-ststoken",
    "x-acs-security-token",
    "x-fc-security-token",
];

/// The invocation behind a request; the default (depth 0, no invocation) is a request from
/// outside.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cause {
    /// Change-triggered invocations in a row that led to the request.
    pub depth: u32,
    /// Request id of the invocation that sent it.
    pub invocation: Option<String>,
}

impl Cause {
    /// A request sent by invocation `request_id` at chain depth `depth`.
    pub fn invocation(depth: u32, request_id: &str) -> Self {
        Cause {
            depth,
            invocation: Some(request_id.to_string()),
        }
    }

    /// The cause of a request: the emulator's headers, else an invocation's security token.
    pub fn of(headers: &http::HeaderMap) -> Self {
        let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(depth) = get(CHAIN_DEPTH_HEADER) {
            return Cause {
                depth: depth.trim().parse().unwrap_or(0),
                invocation: get(INVOCATION_HEADER).map(|s| s.trim().to_string()),
            };
        }
        TOKEN_HEADERS
            .iter()
            .find_map(|h| get(h).and_then(Self::from_token))
            .unwrap_or_default()
    }

    /// The security token that carries this cause.
    pub fn token(&self) -> String {
        match &self.invocation {
            Some(id) => format!("{SECURITY_TOKEN}:{}:{id}", self.depth),
            None => SECURITY_TOKEN.to_string(),
        }
    }

    /// Reads a token made by [`Cause::token`] or [`instance_token`].
    pub fn from_token(token: &str) -> Option<Self> {
        let rest = token.strip_prefix(SECURITY_TOKEN)?.strip_prefix(':')?;
        if let Some(key) = rest.strip_prefix(INSTANCE_PREFIX) {
            let running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
            return Some(running.get(key).cloned().unwrap_or_default());
        }
        let (depth, id) = rest.split_once(':')?;
        Some(Cause {
            depth: depth.parse().ok()?,
            invocation: Some(id.to_string()).filter(|s| !s.is_empty()),
        })
    }
}

const INSTANCE_PREFIX: &str = "instance:";

/// What runs on each native instance now, by the instance's key.
static RUNNING: LazyLock<Mutex<HashMap<String, Cause>>> = LazyLock::new(Default::default);

/// A fresh key for a native instance (random: keys from several emulators in one process never
/// meet).
pub fn instance_key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The security token of the environment of the instance with `key`.
pub fn instance_token(key: &str) -> String {
    format!("{SECURITY_TOKEN}:{INSTANCE_PREFIX}{key}")
}

/// Marks `cause` as running on the instance with `key` until the guard is dropped: requests
/// carrying [`instance_token`]`(key)` are attributed to it.
pub fn running_on(key: &str, cause: Cause) -> Running {
    RUNNING
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key.to_string(), cause);
    Running(key.to_string())
}

/// See [`running_on`].
#[derive(Debug)]
pub struct Running(String);

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.0);
    }
}

/// A request's chain depth ([`Cause::of`]): 0 for requests from outside.
pub fn chain_depth(headers: &http::HeaderMap) -> u32 {
    Cause::of(headers).depth
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_headers_carry_the_cause() {
        let c = Cause::invocation(3, "abc-1");
        assert_eq!(c.token(), "fcemu-local-security-token:3:abc-1");
        assert_eq!(Cause::from_token(&c.token()), Some(c.clone()));
        assert_eq!(Cause::from_token(SECURITY_TOKEN), None);
        assert_eq!(Cause::from_token("someone-else:1:x"), None);

        let mut h = http::HeaderMap::new();
        assert_eq!(Cause::of(&h), Cause::default());
        h.insert("x-ots-ststoken", c.token().parse().unwrap());
        assert_eq!(Cause::of(&h), c);
        h.insert(CHAIN_DEPTH_HEADER, "5".parse().unwrap());
        assert_eq!(
            Cause::of(&h),
            Cause {
                depth: 5,
                invocation: None
            }
        );
        h.insert(INVOCATION_HEADER, "w-2".parse().unwrap());
        assert_eq!(Cause::of(&h), Cause::invocation(5, "w-2"));
        assert_eq!(chain_depth(&h), 5);
    }

    #[test]
    fn an_instance_token_names_what_runs_on_the_instance() {
        let key = instance_key();
        let token = instance_token(&key);
        assert_eq!(Cause::from_token(&token), Some(Cause::default()));
        let running = running_on(&key, Cause::invocation(2, "req-7"));
        assert_eq!(
            Cause::from_token(&token),
            Some(Cause::invocation(2, "req-7"))
        );
        drop(running);
        assert_eq!(Cause::from_token(&token), Some(Cause::default()));
    }
}
