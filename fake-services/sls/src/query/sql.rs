//! The analytic part (`| select ...`). Only `select count(*)` / `count(1)` (with an optional
//! alias and `from log`) is answered; anything else is `ParameterInvalid` saying so.

use crate::SlsError;

/// An analytic query the service can answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Analytic {
    /// `select count(*) [as alias]`: one row, one column.
    Count {
        /// Column name (`_col0` when not given).
        alias: String,
    },
}

fn unsupported(text: &str) -> SlsError {
    SlsError::ParameterInvalid(format!(
        "fcemu: unsupported SQL (only `select count(*) [as name]` is answered): {text}"
    ))
}

/// Parses the text after the `|`.
pub fn parse(text: &str) -> Result<Analytic, SlsError> {
    let words: Vec<String> = text
        .replace("count (", "count(")
        .split_whitespace()
        .map(|w| w.to_ascii_lowercase())
        .collect();
    let mut it = words.iter().map(String::as_str).peekable();
    if it.next() != Some("select") {
        return Err(unsupported(text));
    }
    match it.next() {
        Some("count(*)") | Some("count(1)") => {}
        _ => return Err(unsupported(text)),
    }
    let mut alias = "_col0".to_string();
    match it.peek() {
        Some(&"as") => {
            it.next();
            alias = it.next().ok_or_else(|| unsupported(text))?.to_string();
        }
        Some(&w) if w != "from" => {
            alias = w.to_string();
            it.next();
        }
        _ => {}
    }
    if it.peek() == Some(&"from") {
        it.next();
        if it.next() != Some("log") {
            return Err(unsupported(text));
        }
    }
    if it.next().is_some() {
        return Err(unsupported(text));
    }
    let alias = alias.trim_matches('"').to_string();
    if alias.is_empty() || !alias.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return Err(unsupported(text));
    }
    Ok(Analytic::Count { alias })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_forms() {
        let c = |a: &str| Analytic::Count { alias: a.into() };
        assert_eq!(parse("select count(*)").unwrap(), c("_col0"));
        assert_eq!(parse("SELECT COUNT(1) AS pv").unwrap(), c("pv"));
        assert_eq!(parse("select count(*) c from log").unwrap(), c("c"));
        assert_eq!(parse("select count (*) as \"n\"").unwrap(), c("n"));
        for bad in [
            "select level, count(*) group by level",
            "select *",
            "count(*)",
            "select count(*) as",
            "select count(*) from other",
        ] {
            assert!(
                matches!(parse(bad), Err(SlsError::ParameterInvalid(_))),
                "{bad}"
            );
        }
    }
}
