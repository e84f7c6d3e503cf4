//! Which compiler produced a function's code.

/// The compiler tier of loaded code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Cranelift: optimized code, the normal case (and what the module cache holds).
    Optimized,
    /// Winch, a single-pass compiler: live within milliseconds after an edit, replaced by
    /// optimized code in the background.
    Baseline,
}
