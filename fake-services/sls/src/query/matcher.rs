//! Whether a log row matches a search [`Expr`]: values are split into tokens at delimiters (the
//! index's, else the Go SDK's default full-text delimiters) and compared case-insensitively unless
//! the index says otherwise. A term that itself contains delimiters is a phrase: its tokens must
//! follow each other in one value. `*` and `?` in a term are wildcards within one token.

use serde_json::{Map, Value};

use super::{CompareOp, Expr, Term};

/// Go SDK `CreateDefaultIndex` delimiters.
const DEFAULT_DELIMITERS: &str = " \n\t\r,;[]{}()&^*#@~=<>/\\?:'\"";

/// How values and terms are split into tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tokenizer {
    delimiters: Vec<char>,
    case_sensitive: bool,
}

impl Default for Tokenizer {
    fn default() -> Self {
        Self {
            delimiters: DEFAULT_DELIMITERS.chars().collect(),
            case_sensitive: false,
        }
    }
}

impl Tokenizer {
    /// The tokenizer an index config (`line` or `keys.<k>`) describes; defaults where absent.
    pub fn from_index(section: Option<&Map<String, Value>>) -> Self {
        let mut t = Self::default();
        let Some(section) = section else { return t };
        if let Some(tokens) = section.get("token").and_then(Value::as_array) {
            let delims: Vec<char> = tokens
                .iter()
                .filter_map(Value::as_str)
                .flat_map(str::chars)
                .collect();
            if !delims.is_empty() {
                t.delimiters = delims;
            }
        }
        if let Some(cs) = section.get("caseSensitive").and_then(Value::as_bool) {
            t.case_sensitive = cs;
        }
        t
    }

    fn normalize(&self, s: &str) -> String {
        if self.case_sensitive {
            s.to_string()
        } else {
            s.to_lowercase()
        }
    }

    fn tokens(&self, s: &str, keep_wildcards: bool) -> Vec<String> {
        let norm = self.normalize(s);
        norm.split(|c: char| {
            self.delimiters.contains(&c) && !(keep_wildcards && (c == '*' || c == '?'))
        })
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
    }

    /// Whether `value` contains `term` (a token, a wildcard token, or a phrase of tokens).
    pub fn contains(&self, value: &str, term: &Term) -> bool {
        let wanted = self.tokens(&term.text, true);
        if wanted.is_empty() {
            // A term made only of delimiters: compare literally.
            return self.normalize(value).contains(&self.normalize(&term.text));
        }
        let have = self.tokens(value, false);
        if wanted.len() > have.len() {
            return false;
        }
        have.windows(wanted.len())
            .any(|w| w.iter().zip(&wanted).all(|(h, p)| glob(p, h)))
    }
}

/// Where a row's tokenizers come from: the logstore's index, or the defaults.
#[derive(Clone, Debug, Default)]
pub struct Tokenizers {
    line: Tokenizer,
    keys: Vec<(String, Tokenizer)>,
}

impl Tokenizers {
    /// Tokenizers for an index document (`None`: defaults everywhere).
    pub fn from_index(doc: Option<&Map<String, Value>>) -> Self {
        let Some(doc) = doc else {
            return Self::default();
        };
        let line = Tokenizer::from_index(doc.get("line").and_then(Value::as_object));
        let keys = doc
            .get("keys")
            .and_then(Value::as_object)
            .map(|keys| {
                keys.iter()
                    .filter_map(|(k, v)| {
                        let section = v.as_object()?;
                        section
                            .contains_key("token")
                            .then(|| (k.clone(), Tokenizer::from_index(Some(section))))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self { line, keys }
    }

    fn for_key(&self, key: &str) -> &Tokenizer {
        self.keys
            .iter()
            .find(|(k, _)| k == key)
            .map_or(&self.line, |(_, t)| t)
    }
}

/// `*` (any run) and `?` (one character) over characters.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

fn field<'a>(row: &'a [(String, String)], key: &str) -> Option<&'a str> {
    row.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn number(row: &[(String, String)], key: &str) -> Option<f64> {
    field(row, key)?.trim().parse::<f64>().ok()
}

/// Whether `row` (as GetLogs shows it) matches `expr`. Full-text terms look at content values
/// (keys not starting with `__`).
pub fn matches(expr: &Expr, row: &[(String, String)], tk: &Tokenizers) -> bool {
    match expr {
        Expr::All => true,
        Expr::Text(term) => row
            .iter()
            .filter(|(k, _)| !k.starts_with("__"))
            .any(|(_, v)| tk.line.contains(v, term)),
        Expr::Field { key, term } => {
            field(row, key).is_some_and(|v| tk.for_key(key).contains(v, term))
        }
        Expr::Exists(key) => field(row, key).is_some(),
        Expr::Compare { key, op, value } => number(row, key).is_some_and(|n| match op {
            CompareOp::Gt => n > *value,
            CompareOp::Ge => n >= *value,
            CompareOp::Lt => n < *value,
            CompareOp::Le => n <= *value,
            CompareOp::Eq => n == *value,
        }),
        Expr::Range {
            key,
            low,
            low_inclusive,
            high,
            high_inclusive,
        } => number(row, key).is_some_and(|n| {
            (if *low_inclusive { n >= *low } else { n > *low })
                && (if *high_inclusive {
                    n <= *high
                } else {
                    n < *high
                })
        }),
        Expr::And(a, b) => matches(a, row, tk) && matches(b, row, tk),
        Expr::Or(a, b) => matches(a, row, tk) || matches(b, row, tk),
        Expr::Not(a) => !matches(a, row, tk),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parser::parse_search;

    fn row() -> Vec<(String, String)> {
        [
            ("__time__", "100"),
            ("__topic__", "FCLogs:my-fn"),
            ("__tag__:host", "h1"),
            ("level", "INFO"),
            ("message", "GET /api/users took 35ms"),
            ("latency", "35"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn m(q: &str) -> bool {
        matches(&parse_search(q).unwrap(), &row(), &Tokenizers::default())
    }

    #[test]
    fn full_text_fields_and_logic() {
        assert!(m("*"));
        assert!(m("users"));
        assert!(m("USERS"));
        assert!(!m("user"));
        assert!(m("use*"));
        assert!(m("u?ers"));
        assert!(m("\"api/users\""));
        assert!(!m("\"users api\""));
        assert!(m("level: info"));
        assert!(!m("level: error"));
        assert!(m("level: info and users"));
        assert!(m("level: error or users"));
        assert!(m("users not level: error"));
        assert!(!m("not users"));
        assert!(m("__topic__: \"FCLogs:my-fn\""));
        assert!(m("__tag__:host: h1"));
        assert!(!m("h1"), "tags are not full text");
        assert!(m("latency > 30 and latency <= 35"));
        assert!(m("latency in [35 36)"));
        assert!(!m("latency in (35 36)"));
        assert!(m("latency: *"));
        assert!(!m("missing: *"));
    }

    #[test]
    fn index_tokens_and_case() {
        let doc: Map<String, Value> = serde_json::from_str(
            r#"{"line": {"token": [" "], "caseSensitive": true}, "keys": {"level": {"type": "text", "token": [" "], "caseSensitive": false}}}"#,
        )
        .unwrap();
        let tk = Tokenizers::from_index(Some(&doc));
        let r = row();
        let q = |s: &str| matches(&parse_search(s).unwrap(), &r, &tk);
        assert!(q("GET"));
        assert!(!q("get"));
        assert!(q("level: info"));
        assert!(q("/api/users"));
    }

    #[test]
    fn glob_matches() {
        assert!(glob("a*c", "abbbc"));
        assert!(glob("*", ""));
        assert!(!glob("a?c", "ac"));
        assert!(glob("a*b*c", "axxbyyc"));
    }
}
