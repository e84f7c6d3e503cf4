//! The query language: `search [| select ...]` (the search syntax, then analytic SQL).
//!
//! [`parse`] turns text into a [`Query`] ([`lexer`] then [`parser`]); [`matcher`] decides whether
//! a log row matches the search part; [`sql`] reads the analytic part.

pub mod lexer;
pub mod matcher;
pub mod parser;
pub mod sql;

use crate::SlsError;

pub use matcher::Tokenizer;
pub use sql::Analytic;

/// The search part of a query.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// `*` or an empty query: every log.
    All,
    /// A full-text term: some content value has it.
    Text(Term),
    /// `key: term`.
    Field {
        /// Field name (`level`, `__topic__`, `__tag__:k`).
        key: String,
        /// What the field must contain.
        term: Term,
    },
    /// `key: *`: the field exists.
    Exists(String),
    /// `key > n`, `>=`, `<`, `<=`, `=`.
    Compare {
        /// Field name.
        key: String,
        /// Operator.
        op: CompareOp,
        /// Right-hand side.
        value: f64,
    },
    /// `key in [low high)`, brackets choosing inclusive / exclusive ends.
    Range {
        /// Field name.
        key: String,
        /// Lower bound.
        low: f64,
        /// Whether `low` is included (`[`).
        low_inclusive: bool,
        /// Upper bound.
        high: f64,
        /// Whether `high` is included (`]`).
        high_inclusive: bool,
    },
    /// Both.
    And(Box<Expr>, Box<Expr>),
    /// Either.
    Or(Box<Expr>, Box<Expr>),
    /// Not.
    Not(Box<Expr>),
}

/// A numeric comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `=`
    Eq,
}

/// A search term: words to find in a value, possibly with `*` / `?` wildcards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
    /// The text as written (quotes removed).
    pub text: String,
}

/// A parsed query.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    /// The search part.
    pub search: Expr,
    /// The search part's text (`*` when empty).
    pub search_text: String,
    /// The analytic part, if the query has `| select ...`.
    pub analytic: Option<Analytic>,
    /// The analytic part's text (after the `|`).
    pub analytic_text: String,
}

/// Parses a whole query. Errors are `ParameterInvalid` with a message saying what is wrong.
pub fn parse(text: &str) -> Result<Query, SlsError> {
    let (search_text, analytic_text) = split_pipe(text);
    let search_text = search_text.trim();
    let search = parser::parse_search(search_text)?;
    let analytic_text = analytic_text.map(str::trim);
    let analytic = analytic_text.map(sql::parse).transpose()?;
    Ok(Query {
        search,
        search_text: if search_text.is_empty() {
            "*".into()
        } else {
            search_text.into()
        },
        analytic,
        analytic_text: analytic_text.unwrap_or_default().to_string(),
    })
}

/// Splits at the first `|` outside double quotes.
fn split_pipe(text: &str) -> (&str, Option<&str>) {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '|' if !quoted => return (&text[..i], Some(&text[i + 1..])),
            _ => {}
        }
    }
    (text, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_search_and_analytic_parts() {
        let q = parse("level: ERROR | select count(*) as c").unwrap();
        assert_eq!(q.search_text, "level: ERROR");
        assert_eq!(
            q.analytic.map(|a| a.sql),
            Some("select count(*) as c FROM log LIMIT 100".into())
        );
        assert_eq!(q.analytic_text, "select count(*) as c");
        let q = parse("\"a|b\"").unwrap();
        assert!(q.analytic.is_none());
        assert_eq!(parse("").unwrap().search, Expr::All);
        assert_eq!(parse("| select count(1)").unwrap().search, Expr::All);
    }
}
