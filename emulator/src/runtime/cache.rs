//! Compiled code, cached on disk by content hash so a restart with unchanged functions compiles
//! nothing.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::Module;
use wasmtime::component::Component;

/// What kind of wasm binary a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WasmKind {
    /// A core module (wasm32-wasip1).
    Module,
    /// A component (wasm32-wasip2).
    Component,
    /// Not WebAssembly: a Node.js, Python or custom-runtime function run as a process.
    Native,
}

/// Reads the binary's header to tell a core module from a component.
pub fn detect_kind(bytes: &[u8]) -> Option<WasmKind> {
    if bytes.len() < 8 || &bytes[0..4] != b"\0asm" {
        return None;
    }
    match bytes[4..8] {
        [1, 0, 0, 0] => Some(WasmKind::Module),
        [_, _, 1, 0] => Some(WasmKind::Component),
        _ => None,
    }
}

/// Compiled code of either kind.
#[derive(Clone)]
pub enum Compiled {
    /// A core module.
    Module(Module),
    /// A component.
    Component(Component),
}

/// How a [`Compiled`] was obtained, for reload and startup reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheOutcome {
    /// Loaded from the on-disk cache.
    Hit,
    /// Compiled now (and written to the cache).
    Compiled,
}

/// A directory of precompiled artifacts keyed by the wasm's SHA-256 and the engine's settings.
#[derive(Debug, Clone)]
pub struct ModuleCache {
    dir: Option<PathBuf>,
}

impl ModuleCache {
    /// The cache in `FCEMU_CACHE_DIR`, else `$XDG_CACHE_HOME/fcemu/modules`, else
    /// `~/.cache/fcemu/modules`. Without any of these, nothing is cached.
    pub fn from_env() -> Self {
        let dir = std::env::var_os("FCEMU_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("fcemu")))
            .or_else(|| std::env::var_os("HOME").map(|d| PathBuf::from(d).join(".cache/fcemu")))
            .map(|d| d.join("modules"));
        ModuleCache { dir }
    }

    /// A cache in `dir`.
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        ModuleCache {
            dir: Some(dir.into()),
        }
    }

    /// A cache that stores nothing.
    pub fn disabled() -> Self {
        ModuleCache { dir: None }
    }

    /// The artifact compiled earlier from the bytes hashing to `hash`, if there is one.
    pub fn lookup(&self, engine: &Engine, kind: WasmKind, hash: &str) -> Option<Compiled> {
        deserialize(engine, &self.path(engine, hash)?, kind)
    }

    fn path(&self, engine: &Engine, hash: &str) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|d| d.join(format!("{hash}-{}.cwasm", engine_key(engine))))
    }

    /// Compiles `bytes`, or loads the artifact compiled earlier from the same bytes.
    pub fn load(
        &self,
        engine: &Engine,
        bytes: &[u8],
        kind: WasmKind,
        hash: &str,
    ) -> wasmtime::Result<(Compiled, CacheOutcome)> {
        if let Some(compiled) = self.lookup(engine, kind, hash) {
            return Ok((compiled, CacheOutcome::Hit));
        }
        let path = self.path(engine, hash);
        let started = Instant::now();
        let artifact = match kind {
            WasmKind::Module => engine.precompile_module(bytes)?,
            WasmKind::Component => engine.precompile_component(bytes)?,
            WasmKind::Native => wasmtime::bail!("a native function has no WebAssembly to compile"),
        };
        tracing::debug!(hash, ms = started.elapsed().as_millis() as u64, "compiled");
        if let Some(path) = &path
            && let Err(e) = write_atomically(path, &artifact)
        {
            tracing::warn!(path = %path.display(), error = %e, "could not write the module cache");
        }
        let compiled = from_artifact(engine, &artifact, kind)?;
        Ok((compiled, CacheOutcome::Compiled))
    }
}

/// Compiles `bytes` with `engine`, caching nothing.
pub fn compile_uncached(
    engine: &Engine,
    bytes: &[u8],
    kind: WasmKind,
) -> wasmtime::Result<Compiled> {
    Ok(match kind {
        WasmKind::Module => Compiled::Module(Module::new(engine, bytes)?),
        WasmKind::Component => Compiled::Component(Component::new(engine, bytes)?),
        WasmKind::Native => wasmtime::bail!("a native function has no WebAssembly to compile"),
    })
}

/// Hex SHA-256 of `bytes`.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn engine_key(engine: &Engine) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    env!("CARGO_PKG_VERSION").hash(&mut h);
    format!("{:016x}", h.finish())
}

#[allow(unsafe_code)]
fn deserialize(engine: &Engine, path: &Path, kind: WasmKind) -> Option<Compiled> {
    if !path.is_file() || kind == WasmKind::Native {
        return None;
    }
    // SAFETY: the file is an artifact this process family wrote itself with the same engine
    // settings (the key includes the engine's compatibility hash and fcemu's version) and was
    // published by an atomic rename, so it is never partially written. Wasmtime still validates
    // its header and refuses artifacts built for another configuration.
    let result = unsafe {
        match kind {
            WasmKind::Module => Module::deserialize_file(engine, path).map(Compiled::Module),
            WasmKind::Component => {
                Component::deserialize_file(engine, path).map(Compiled::Component)
            }
            WasmKind::Native => return None,
        }
    };
    match result {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::debug!(path = %path.display(), error = %e, "ignoring unusable cache entry");
            None
        }
    }
}

#[allow(unsafe_code)]
fn from_artifact(engine: &Engine, artifact: &[u8], kind: WasmKind) -> wasmtime::Result<Compiled> {
    // SAFETY: `artifact` was produced by `precompile_*` on this very engine a moment ago.
    unsafe {
        Ok(match kind {
            WasmKind::Module => Compiled::Module(Module::deserialize(engine, artifact)?),
            WasmKind::Component => Compiled::Component(Component::deserialize(engine, artifact)?),
            WasmKind::Native => wasmtime::bail!("a native function has no WebAssembly to load"),
        })
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".tmp-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_modules_and_components() {
        assert_eq!(detect_kind(b"\0asm\x01\0\0\0"), Some(WasmKind::Module));
        assert_eq!(detect_kind(b"\0asm\x0d\0\x01\0"), Some(WasmKind::Component));
        assert_eq!(detect_kind(b"hello wo"), None);
        assert_eq!(detect_kind(b"\0as"), None);
    }
}
