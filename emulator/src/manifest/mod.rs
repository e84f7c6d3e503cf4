//! The user's `fcemu.toml`: parsed once, checked once, and resolved into an [`AppPlan`] that the
//! rest of the emulator uses. Nothing past this module sees raw TOML.

mod error;
pub mod import;
pub mod native;
mod plan;
mod raw;
mod stores;
mod validate;

use std::path::{Path, PathBuf};

pub use error::ManifestError;
pub use plan::{
    AppPlan, AsyncPlan, BucketPlan, FunctionPlan, HttpFormat, HttpTrigger, LogTrigger,
    LogstorePlan, NativePlan, NativeRuntime, OssTrigger, ServicePlan, StreamFormat, TablePlan,
    TablestoreTrigger, TimerTrigger, TriggerKind, TriggerPlan,
};
pub use stores::pk_type;
pub(crate) use validate::{TriggerCheck, valid_bucket_name};

/// The file name `fcemu up` looks for.
pub const MANIFEST_FILE: &str = "fcemu.toml";

/// Reads, parses and validates the manifest at `path`: an `fcemu.toml`, or (by its `.yaml` /
/// `.yml` extension) a Serverless Devs `s.yaml` or Funcraft `template.yml`, imported first.
pub fn load(path: &Path) -> Result<AppPlan, ManifestError> {
    let text = std::fs::read_to_string(path).map_err(|e| ManifestError::unreadable(path, e))?;
    parse_file(path, &text)
}

/// Parses and validates the text of the manifest file at `path`, importing it first when it
/// is a YAML manifest (`s.yaml`, `template.yml`).
pub fn parse_file(path: &Path, text: &str) -> Result<AppPlan, ManifestError> {
    if import::is_yaml(path) {
        let imported = import::import(path, text)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Named so that a problem in what the import produced is not taken for the YAML's.
        let as_toml = path.with_file_name(format!("{name} (as fcemu.toml)"));
        return parse(&as_toml, &imported.toml);
    }
    parse(path, text)
}

/// Parses and validates manifest text; `path` names the file in errors and anchors relative paths.
pub fn parse(path: &Path, text: &str) -> Result<AppPlan, ManifestError> {
    let raw: raw::RawManifest =
        toml::from_str(text).map_err(|e| ManifestError::from_toml(path, text, &e))?;
    let root = path
        .parent()
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    let root = std::path::absolute(&root).unwrap_or(root);
    validate::resolve(raw, path, text, &root)
}

/// The plan used when there is no manifest: no functions, default region and account.
pub fn empty(root: &Path) -> AppPlan {
    AppPlan::empty(root)
}

#[cfg(test)]
mod tests;
