//! The analytic part (`| select ...`): the Log Service's SQL dialect, translated to SQLite's and
//! run by [`crate::analytic`] over the rows the search part selected (table `log`).
//!
//! The translation works on tokens: it renames the functions whose names differ
//! (`approx_distinct(x)` → `count(DISTINCT x)`, `if` → `iif`, `strpos` → `instr`, `try_cast` →
//! `cast`, `json_extract_scalar` → `json_extract`, `arbitrary` → `min`), adds `FROM log` when the
//! query names no table (the dialect allows that) and `LIMIT 100` when it has no limit (the
//! service's default), and refuses, naming it, a function that is neither SQLite's nor one of
//! those fcemu adds (see [`crate::analytic`]).

use crate::SlsError;

/// An analytic query, ready for SQLite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Analytic {
    /// The query in SQLite's dialect, over table `log`.
    pub sql: String,
}

/// Functions SQLite answers itself, by their dialect names.
const NATIVE: &[&str] = &[
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "lower",
    "upper",
    "length",
    "substr",
    "replace",
    "trim",
    "ltrim",
    "rtrim",
    "round",
    "abs",
    "coalesce",
    "nullif",
    "concat",
    "cast",
    "iif",
    "instr",
    "json_extract",
    "typeof",
    "ceil",
    "ceiling",
    "floor",
    "sqrt",
    "pow",
    "power",
    "ln",
    "log10",
    "log2",
    "exp",
    "mod",
    "sign",
    "pi",
    "greatest",
    "least",
];

/// Functions [`crate::analytic`] registers.
pub const ADDED: &[&str] = &[
    "count_if",
    "approx_percentile",
    "histogram",
    "date_trunc",
    "from_unixtime",
    "to_unixtime",
    "date_format",
    "now",
    "split_part",
    "regexp_like",
    "regexp_extract",
    "starts_with",
    "url_extract_host",
    "url_extract_path",
];

/// Dialect names SQLite knows by another name.
const RENAMED: &[(&str, &str)] = &[
    ("if", "iif"),
    ("strpos", "instr"),
    ("try_cast", "cast"),
    ("json_extract_scalar", "json_extract"),
    ("arbitrary", "min"),
    ("greatest", "max"),
    ("least", "min"),
    ("ceiling", "ceil"),
    ("power", "pow"),
];

/// Words that may stand before `(` without being a function.
const KEYWORDS: &[&str] = &[
    "select",
    "from",
    "where",
    "and",
    "or",
    "not",
    "in",
    "exists",
    "on",
    "over",
    "when",
    "then",
    "else",
    "by",
    "having",
    "is",
    "like",
    "between",
    "join",
    "values",
    "as",
    "case",
    "distinct",
    "all",
    "any",
    "union",
    "except",
    "intersect",
    "with",
    "limit",
    "offset",
];

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Str(String),
    Num(String),
    Punct(String),
}

impl Tok {
    fn word(&self) -> Option<String> {
        match self {
            Tok::Word(w) => Some(w.to_ascii_lowercase()),
            _ => None,
        }
    }

    fn is(&self, p: &str) -> bool {
        matches!(self, Tok::Punct(x) if x == p)
    }

    fn text(&self) -> String {
        match self {
            Tok::Word(w) | Tok::Num(w) | Tok::Punct(w) => w.clone(),
            Tok::Quoted(q) => format!("\"{}\"", q.replace('"', "\"\"")),
            Tok::Str(s) => format!("'{}'", s.replace('\'', "''")),
        }
    }
}

fn invalid(why: impl Into<String>) -> SlsError {
    SlsError::ParameterInvalid(why.into())
}

fn tokenize(text: &str) -> Result<Vec<Tok>, SlsError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' || c == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(invalid(format!("unterminated {c} in the SQL: {text}"))),
                    Some(&q) if q == c && chars.get(i + 1) == Some(&c) => {
                        s.push(c);
                        i += 2;
                    }
                    Some(&q) if q == c => {
                        i += 1;
                        break;
                    }
                    Some(&q) => {
                        s.push(q);
                        i += 1;
                    }
                }
            }
            out.push(if c == '\'' {
                Tok::Str(s)
            } else {
                Tok::Quoted(s)
            });
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            out.push(Tok::Num(chars[start..i].iter().collect()));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Word(chars[start..i].iter().collect()));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            if ["||", "<>", "!=", ">=", "<="].contains(&two.as_str()) {
                out.push(Tok::Punct(two));
                i += 2;
            } else if "(),*+-/%<>=.;".contains(c) {
                out.push(Tok::Punct(c.to_string()));
                i += 1;
            } else {
                return Err(invalid(format!(
                    "unexpected character {c:?} in the SQL: {text}"
                )));
            }
        }
    }
    Ok(out)
}

/// Translates the text after the `|`.
pub fn parse(text: &str) -> Result<Analytic, SlsError> {
    let mut toks = tokenize(text)?;
    while toks.last().is_some_and(|t| t.is(";")) {
        toks.pop();
    }
    if toks.iter().any(|t| t.is(";")) {
        return Err(invalid("the analytic part must be one statement"));
    }
    let first = toks.first().and_then(Tok::word);
    if !matches!(first.as_deref(), Some("select" | "with")) {
        return Err(invalid(format!(
            "the analytic part must be a select statement: {text}"
        )));
    }
    let mut out: Vec<String> = Vec::with_capacity(toks.len() + 4);
    let mut depth = 0i32;
    let (mut has_from, mut has_limit) = (false, false);
    let mut insert_from_at: Option<usize> = None;
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        let next_is_paren = toks.get(i + 1).is_some_and(|n| n.is("("));
        // `a.f(` is not a call, nor is a common table's name: `with [recursive] c(x) as`.
        let prev_is_dot = i > 0
            && (toks[i - 1].is(".")
                || matches!(toks[i - 1].word().as_deref(), Some("with" | "recursive")));
        if t.is("(") {
            depth += 1;
        } else if t.is(")") {
            depth -= 1;
            if depth < 0 {
                return Err(invalid(format!(
                    "unbalanced parentheses in the SQL: {text}"
                )));
            }
        }
        if let Some(w) = t.word() {
            if depth == 0 {
                match w.as_str() {
                    "from" => has_from = true,
                    "limit" => has_limit = true,
                    _ => {}
                }
                let clause = matches!(
                    w.as_str(),
                    "where" | "group" | "having" | "order" | "union" | "window" | "limit"
                );
                if clause && !has_from && insert_from_at.is_none() {
                    insert_from_at = Some(out.len());
                }
            }
            if next_is_paren && !prev_is_dot && !KEYWORDS.contains(&w.as_str()) {
                if w == "approx_distinct" {
                    out.push("count".into());
                    out.push("(".into());
                    out.push("DISTINCT".into());
                    depth += 1;
                    i += 2;
                    continue;
                }
                let name = RENAMED
                    .iter()
                    .find(|(from, _)| *from == w)
                    .map_or(w.as_str(), |(_, to)| to);
                if !NATIVE.contains(&name) && !ADDED.contains(&name) {
                    return Err(invalid(format!(
                        "fcemu: function {w} is not supported in the analytic part (supported: {})",
                        supported().join(", ")
                    )));
                }
                out.push(name.to_string());
                i += 1;
                continue;
            }
        }
        out.push(t.text());
        i += 1;
    }
    if depth != 0 {
        return Err(invalid(format!(
            "unbalanced parentheses in the SQL: {text}"
        )));
    }
    if !has_from {
        let at = insert_from_at.unwrap_or(out.len());
        out.insert(at, "FROM log".into());
    }
    if !has_limit {
        out.push("LIMIT 100".into());
    }
    Ok(Analytic { sql: join(&out) })
}

/// Every function name the analytic part accepts.
fn supported() -> Vec<&'static str> {
    let mut all: Vec<&str> = NATIVE
        .iter()
        .chain(ADDED)
        .copied()
        .chain(RENAMED.iter().map(|(from, _)| *from))
        .chain(["approx_distinct"])
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// Joins tokens with spaces, except around `.` and before `(` `)` `,`.
fn join(parts: &[String]) -> String {
    let mut s = String::new();
    for (i, p) in parts.iter().enumerate() {
        let glue = i > 0
            && !matches!(p.as_str(), "(" | ")" | "," | ".")
            && !matches!(parts[i - 1].as_str(), "(" | ".");
        if glue {
            s.push(' ');
        }
        s.push_str(p);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(text: &str) -> String {
        parse(text).unwrap().sql
    }

    #[test]
    fn translations() {
        assert_eq!(sql("select count(*)"), "select count(*) FROM log LIMIT 100");
        assert_eq!(
            sql("SELECT level, count(1) AS pv GROUP BY level ORDER BY pv DESC LIMIT 5"),
            "SELECT level, count(1) AS pv FROM log GROUP BY level ORDER BY pv DESC LIMIT 5"
        );
        assert_eq!(
            sql(
                "select approx_distinct(ip) as uv, if(a > 1, 'x', 'y') from log where \"b.c\" = 'it''s'"
            ),
            "select count(DISTINCT ip) as uv, iif(a > 1, 'x', 'y') from log where \"b.c\" = 'it''s' LIMIT 100"
        );
        assert_eq!(
            sql("select date_trunc('minute', __time__) as t, count_if(status >= 500) group by t;"),
            "select date_trunc('minute', __time__) as t, count_if(status >= 500) FROM log group by t LIMIT 100"
        );
        assert_eq!(
            sql("select try_cast(latency as bigint) limit 10"),
            "select cast(latency as bigint) FROM log limit 10"
        );
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        for (bad, says) in [
            (
                "select time_series(__time__, '1m', '%H:%i', '0')",
                "time_series",
            ),
            ("select *; delete from log", "one statement"),
            ("count(*)", "select statement"),
            ("select (count(*)", "unbalanced"),
            ("select 'open", "unterminated"),
        ] {
            match parse(bad) {
                Err(SlsError::ParameterInvalid(m)) => assert!(m.contains(says), "{bad}: {m}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
