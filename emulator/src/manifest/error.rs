//! Manifest errors that name the file, the line, the field and the fix.

use std::ops::Range;
use std::path::{Path, PathBuf};

use miette::{Diagnostic, NamedSource, SourceSpan};

/// Why a manifest could not be used.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    #[diagnostic(
        code(fcemu::manifest::unreadable),
        help("run `fcemu up` in the directory that holds fcemu.toml, or pass --manifest PATH")
    )]
    Unreadable {
        /// The manifest path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file was read but has problems; each one is listed with its place and fix.
    #[error("{} has {} problem{}", path.display(), problems.len(), if problems.len() == 1 { "" } else { "s" })]
    #[diagnostic(code(fcemu::manifest::invalid))]
    Invalid {
        /// The manifest path.
        path: PathBuf,
        /// Every problem found, in file order.
        #[related]
        problems: Vec<Problem>,
    },
}

/// One problem at one place in the manifest.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{location}: {message}")]
pub struct Problem {
    location: String,
    message: String,
    #[source_code]
    src: NamedSource<String>,
    #[label("{label}")]
    span: Option<SourceSpan>,
    label: String,
    #[help]
    help: Option<String>,
}

impl Problem {
    /// What is wrong, without the location.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The suggested fix, if there is one.
    pub fn help(&self) -> Option<&str> {
        self.help.as_deref()
    }
}

impl ManifestError {
    pub(super) fn unreadable(path: &Path, source: std::io::Error) -> Self {
        ManifestError::Unreadable {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(super) fn from_toml(path: &Path, text: &str, err: &toml::de::Error) -> Self {
        let message = err.message().trim().to_string();
        let (label, help) = explain_serde_message(&message);
        let problem = Sink::new(path, text).problem(err.span(), message, label, help);
        ManifestError::Invalid {
            path: path.to_path_buf(),
            problems: vec![problem],
        }
    }

    /// The problems found (empty for an unreadable file).
    pub fn problems(&self) -> &[Problem] {
        match self {
            ManifestError::Unreadable { .. } => &[],
            ManifestError::Invalid { problems, .. } => problems,
        }
    }

    /// Renders the error as plain text with source snippets, the way the CLI shows it without color.
    pub fn render_plain(&self) -> String {
        let mut out = String::new();
        let handler =
            miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
                .with_width(100);
        let _ = handler.render_report(&mut out, self);
        out
    }
}

/// Collects problems found while checking one manifest.
pub(super) struct Sink {
    path: PathBuf,
    text: String,
    problems: Vec<Problem>,
}

impl Sink {
    pub(super) fn new(path: &Path, text: &str) -> Self {
        Sink {
            path: path.to_path_buf(),
            text: text.to_string(),
            problems: Vec::new(),
        }
    }

    fn problem(
        &self,
        span: Option<Range<usize>>,
        message: String,
        label: String,
        help: Option<String>,
    ) -> Problem {
        let (line, col) = span
            .as_ref()
            .map(|s| line_col(&self.text, s.start))
            .unwrap_or((1, 1));
        Problem {
            location: format!("{}:{line}:{col}", self.path.display()),
            message,
            src: NamedSource::new(self.path.display().to_string(), self.text.clone()),
            span: span.map(|s| SourceSpan::from(s.start..s.end.max(s.start))),
            label,
            help,
        }
    }

    /// Records a problem at `span` with a short label and the fix.
    pub(super) fn push(
        &mut self,
        span: Option<Range<usize>>,
        message: impl Into<String>,
        label: impl Into<String>,
        help: impl Into<String>,
    ) {
        let p = self.problem(span, message.into(), label.into(), Some(help.into()));
        self.problems.push(p);
    }

    /// `Ok(())` when nothing was recorded, else the error listing every problem.
    pub(super) fn finish(self) -> Result<(), ManifestError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ManifestError::Invalid {
                path: self.path,
                problems: self.problems,
            })
        }
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Turns serde's messages into a label and a fix: the nearest valid key for an unknown one, the
/// missing key for a missing one.
fn explain_serde_message(message: &str) -> (String, Option<String>) {
    let ticked = |s: &str| -> Vec<String> {
        s.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    for (prefix, what) in [("unknown field", "key"), ("unknown variant", "value")] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let names = ticked(rest);
            let Some((given, valid)) = names.split_first() else {
                continue;
            };
            let help = match nearest(given, valid) {
                Some(best) => format!(
                    "did you mean `{best}`? valid {what}s here: {}",
                    valid.join(", ")
                ),
                None if valid.is_empty() => {
                    format!("remove `{given}`: no {what}s are allowed here")
                }
                None => format!("remove `{given}` or use one of: {}", valid.join(", ")),
            };
            return (format!("unknown {what} `{given}`"), Some(help));
        }
    }
    if let Some(rest) = message.strip_prefix("missing field")
        && let Some(field) = ticked(rest).first()
    {
        return (
            format!("`{field}` is required here"),
            Some(format!("add `{field} = ...` to this table")),
        );
    }
    if message.starts_with("invalid type") {
        return (
            "wrong type".into(),
            Some("check the value's type against the README's manifest reference".into()),
        );
    }
    ("here".into(), None)
}

/// The candidate closest to `given`, if any is close enough to be a likely typo.
pub(super) fn nearest<'a>(given: &str, candidates: &'a [String]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(given, c), c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_nearest_key() {
        let (label, help) = explain_serde_message(
            "unknown field `memroy`, expected one of `service`, `code`, `memory`, `timeout`",
        );
        assert_eq!(label, "unknown key `memroy`");
        assert!(help.unwrap().starts_with("did you mean `memory`?"));
    }

    #[test]
    fn line_and_column_are_one_based() {
        assert_eq!(line_col("a\nbc\n", 3), (2, 2));
        assert_eq!(line_col("abc", 0), (1, 1));
    }
}
