//! Manifests users already have: Serverless Devs `s.yaml` (FC 3.0 and FC 2.0 components) and
//! Funcraft `template.yml`, turned into the `fcemu.toml` they mean (reference fc.md §9). The
//! result goes through the same checks as a hand-written `fcemu.toml`; nothing after this
//! module knows which format the user wrote. Problems name the YAML file, line and key.

mod doc;
mod funcraft;
mod out;
mod serverless;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use super::ManifestError;
use doc::Doc;
use out::Out;

/// The files looked for, in order, when there is no `fcemu.toml`.
pub const FOREIGN_FILES: [&str; 4] = ["s.yaml", "s.yml", "template.yml", "template.yaml"];

/// Which kind of file was imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Serverless Devs `s.yaml`.
    ServerlessDevs,
    /// Funcraft `template.yml`.
    Funcraft,
}

/// An imported manifest.
#[derive(Debug, Clone)]
pub struct Imported {
    /// What kind of file it was.
    pub format: Format,
    /// The equivalent `fcemu.toml`.
    pub toml: String,
    /// What was left out, one line each.
    pub ignored: Vec<String>,
}

/// Whether `path` names a YAML manifest (by its extension).
pub fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// The first of [`FOREIGN_FILES`] in `dir`.
pub fn find(dir: &Path) -> Option<PathBuf> {
    FOREIGN_FILES
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
}

fn vars_slot() -> &'static Mutex<Vec<(String, String)>> {
    static VARS: OnceLock<Mutex<Vec<(String, String)>>> = OnceLock::new();
    VARS.get_or_init(Default::default)
}

/// Sets the `--var name=value` values every later import (also on hot reload) uses.
pub fn set_vars(vars: Vec<(String, String)>) {
    *vars_slot().lock().unwrap_or_else(|e| e.into_inner()) = vars;
}

/// Imports the YAML manifest at `path` whose text is `text`, with the `--var` values.
pub fn import(path: &Path, text: &str) -> Result<Imported, ManifestError> {
    let vars = vars_slot()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    import_with(path, text, &vars)
}

/// Imports with these placeholder values.
pub fn import_with(
    path: &Path,
    text: &str,
    vars: &[(String, String)],
) -> Result<Imported, ManifestError> {
    let node = match marked_yaml::parse_yaml(0, text) {
        Ok(n) => n,
        Err(e) => {
            let mut sink = super::error::Sink::new(path, text);
            sink.push(
                None,
                format!("not valid YAML: {e}"),
                "invalid YAML",
                "fix the YAML syntax at the place named",
            );
            return Err(sink.finish().expect_err("a problem was recorded"));
        }
    };
    let mut doc = Doc::new(path, text, &node, vars);
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut out = Out::default();
    let Some(root) = doc.root() else {
        doc.sink.push(
            None,
            "the file is not a YAML mapping",
            "not a manifest",
            "an s.yaml starts with `edition:`, a template.yml with `ROSTemplateFormatVersion:`",
        );
        return Err(doc.sink.finish().expect_err("a problem was recorded"));
    };
    let format = if root.get_node("ROSTemplateFormatVersion").is_some()
        || root.get_node("Transform").is_some()
    {
        funcraft::map(&mut doc, root, dir, &mut out);
        Format::Funcraft
    } else {
        serverless::map(&mut doc, root, dir, &mut out);
        Format::ServerlessDevs
    };
    let Doc { sink, ignored, .. } = doc;
    sink.finish()?;
    let source = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Imported {
        format,
        toml: out.render(&source, &ignored),
        ignored,
    })
}

#[cfg(test)]
mod tests;
