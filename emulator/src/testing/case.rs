//! A case file of `fcemu test`: the state before the first step, the steps, and what to redact.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// One case, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// The manifest (default: the nearest `fcemu.toml` above the case file).
    pub manifest: Option<String>,
    /// A state document (`fcemu state export`) loaded before `setup`, relative to the case.
    pub import: Option<String>,
    /// State before the first step.
    #[serde(default)]
    pub setup: Setup,
    /// What to do, in order.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// Values replaced in the snapshot.
    #[serde(default)]
    pub redact: Redact,
}

/// State before the first step.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// Objects written first.
    #[serde(default)]
    pub objects: Vec<Object>,
    /// Rows of the manifest's tables.
    #[serde(default)]
    pub rows: Vec<Row>,
    /// Logs appended to logstores.
    #[serde(default)]
    pub logs: Vec<Logs>,
}

/// A row of a table the manifest declares (its instance is known).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    /// Table name.
    pub table: String,
    /// Primary-key columns (put in the table's key order).
    pub primary_key: BTreeMap<String, toml::Value>,
    /// Attribute columns.
    #[serde(default)]
    pub columns: BTreeMap<String, toml::Value>,
}

/// Logs appended to one logstore, each a table of fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Logs {
    /// Project.
    pub project: String,
    /// Logstore.
    pub logstore: String,
    /// `__topic__`.
    pub topic: Option<String>,
    /// The logs.
    pub logs: Vec<BTreeMap<String, toml::Value>>,
}

/// An object and its body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Object {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// The body as text.
    pub body: Option<String>,
    /// The body from a file, relative to the case file.
    pub body_file: Option<String>,
    /// The body as base64.
    pub body_base64: Option<String>,
    /// Content-Type.
    pub content_type: Option<String>,
}

/// One step: exactly one of its keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Call a function synchronously with `event`.
    pub invoke: Option<String>,
    /// The event of `invoke`: a string as is, a table as JSON.
    pub event: Option<toml::Value>,
    /// The event from a file.
    pub event_file: Option<String>,
    /// An HTTP request to the gateway.
    pub request: Option<Request>,
    /// A real object write (triggers fire).
    pub put_object: Option<Object>,
    /// A synthetic trigger event, as `POST /_fcemu/events` takes it.
    pub synthetic: Option<toml::Value>,
    /// Move the virtual clock (`1h`, `90s`).
    pub advance: Option<String>,
}

/// An HTTP request to the gateway.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Method (default GET).
    pub method: Option<String>,
    /// Path and query.
    pub path: String,
    /// Body text.
    pub body: Option<String>,
    /// The body from a file, relative to the case file.
    pub body_file: Option<String>,
    /// The body as base64.
    pub body_base64: Option<String>,
    /// Headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// Selectors whose values are replaced by `<name:N>`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redact {
    /// Paths like `.steps[].invocations[].result.createdAt`.
    #[serde(default)]
    pub paths: Vec<String>,
}

/// A case that could not be read, with where and how to fix it.
#[derive(Debug)]
pub struct CaseError(pub String);

impl std::fmt::Display for CaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads and checks a case file.
pub fn load(path: &Path) -> Result<Case, CaseError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CaseError(format!("{}: cannot read: {e}", path.display())))?;
    let case: Case = toml::from_str(&text).map_err(|e| {
        let (line, col) = e.span().map(|s| line_col(&text, s.start)).unwrap_or((1, 1));
        CaseError(format!(
            "{}:{line}:{col}: {}",
            path.display(),
            e.message().trim()
        ))
    })?;
    for (i, step) in case.steps.iter().enumerate() {
        let kinds = [
            step.invoke.is_some(),
            step.request.is_some(),
            step.put_object.is_some(),
            step.synthetic.is_some(),
            step.advance.is_some(),
        ]
        .iter()
        .filter(|k| **k)
        .count();
        if kinds != 1 {
            return Err(CaseError(format!(
                "{}: step {} must have exactly one of invoke, request, put_object, synthetic, advance (it has {kinds})",
                path.display(),
                i + 1
            )));
        }
    }
    Ok(case)
}

/// The manifest a case runs against: its `manifest` key, or the nearest `fcemu.toml` (or
/// `s.yaml`) above it.
pub fn manifest_of(case_path: &Path, case: &Case) -> Result<PathBuf, CaseError> {
    let dir = case_path.parent().unwrap_or(Path::new("."));
    if let Some(m) = &case.manifest {
        return Ok(dir.join(m));
    }
    let mut at = Some(dir);
    while let Some(d) = at {
        let toml = d.join(crate::manifest::MANIFEST_FILE);
        if toml.is_file() {
            return Ok(toml);
        }
        if let Some(y) = crate::manifest::import::find(d) {
            return Ok(y);
        }
        at = d.parent();
    }
    Err(CaseError(format!(
        "{}: no fcemu.toml above the case file: add `manifest = \"path/to/fcemu.toml\"`",
        case_path.display()
    )))
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}
