//! Snapshots in insta's `.snap` format (a `---` header with `source` and `expression`, then
//! the content as YAML), so `cargo insta review` works on fcemu's files too; redaction by
//! reference (`<name:N>`, equal values get equal names); a readable line diff.

use std::collections::HashMap;

use serde_json::Value;

/// The `.snap` file text for `content` of the case at `source`, named `name`.
pub fn file_text(source: &str, name: &str, content: &Value) -> String {
    format!(
        "---\nsource: {}\nexpression: {}\n---\n{}",
        quote_if_needed(source),
        quote_if_needed(name),
        yaml(content)
    )
}

/// The content of a `.snap` file: what follows its header.
pub fn content_of(file: &str) -> &str {
    let Some(rest) = file.strip_prefix("---\n") else {
        return file;
    };
    match rest.find("\n---\n") {
        Some(i) => &rest[i + 5..],
        None => rest,
    }
}

/// YAML for `v`: block mappings and sequences, strings quoted (JSON escapes are valid YAML).
pub fn yaml(v: &Value) -> String {
    let mut out = String::new();
    write(&mut out, v, 0, false);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => quote_if_needed(s),
        other => other.to_string(),
    }
}

fn quote_if_needed(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./ ".contains(c))
        && !s.starts_with(' ')
        && !s.ends_with(' ')
        && !matches!(s, "true" | "false" | "null" | "~" | "yes" | "no")
        && s.parse::<f64>().is_err();
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_default()
    }
}

fn write(out: &mut String, v: &Value, indent: usize, in_seq: bool) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (i, (k, val)) in m.iter().enumerate() {
                if !(in_seq && i == 0) {
                    out.push_str(&pad);
                }
                out.push_str(&quote_if_needed(k));
                out.push(':');
                block(out, val, indent);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for item in a {
                out.push_str(&pad);
                out.push_str("- ");
                match item {
                    Value::Object(m) if !m.is_empty() => write(out, item, indent + 2, true),
                    Value::Array(inner) if !inner.is_empty() => {
                        out.push('\n');
                        write(out, item, indent + 2, false);
                    }
                    _ => {
                        out.push_str(&scalar_or_empty(item));
                        out.push('\n');
                    }
                }
            }
        }
        other => {
            out.push_str(&pad);
            out.push_str(&scalar_or_empty(other));
            out.push('\n');
        }
    }
}

fn block(out: &mut String, val: &Value, indent: usize) {
    match val {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            write(out, val, indent + 2, false);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            write(out, val, indent + 2, false);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar_or_empty(other));
            out.push('\n');
        }
    }
}

fn scalar_or_empty(v: &Value) -> String {
    match v {
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
        other => scalar(other),
    }
}

/// Replaces the values at each selector (`.a.b`, `[]` for every element, `[N]`) by
/// `<name:N>`: `name` is the selector's last key, `N` numbers distinct values in order of first
/// appearance, and every other occurrence of a redacted value (anywhere) gets the same name.
pub fn redact(v: &mut Value, selectors: &[String]) {
    let mut names: HashMap<String, String> = HashMap::new();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for sel in selectors {
        let parts = parse_selector(sel);
        let name = parts
            .iter()
            .rev()
            .find_map(|p| match p {
                Sel::Key(k) => Some(k.clone()),
                _ => None,
            })
            .unwrap_or_else(|| "value".into());
        let mut found = Vec::new();
        collect(v, &parts, &mut found);
        for text in found {
            if names.contains_key(&text) {
                continue;
            }
            let n = counts.entry(name.clone()).or_insert(0);
            *n += 1;
            names.insert(text, format!("<{name}:{n}>"));
        }
    }
    if !names.is_empty() {
        replace_all(v, &names);
    }
}

#[derive(Debug, Clone)]
enum Sel {
    Key(String),
    All,
    Index(usize),
}

fn parse_selector(s: &str) -> Vec<Sel> {
    let mut out = Vec::new();
    for part in s.split('.').filter(|p| !p.is_empty()) {
        let (key, rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            out.push(Sel::Key(key.to_string()));
        }
        for idx in rest.split('[').filter(|x| !x.is_empty()) {
            let idx = idx.trim_end_matches(']');
            out.push(match idx.parse() {
                Ok(n) => Sel::Index(n),
                Err(_) => Sel::All,
            });
        }
    }
    out
}

fn collect(v: &Value, parts: &[Sel], found: &mut Vec<String>) {
    let Some((first, rest)) = parts.split_first() else {
        found.push(match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        return;
    };
    match (first, v) {
        (Sel::Key(k), Value::Object(m)) => {
            if let Some(x) = m.get(k) {
                collect(x, rest, found);
            }
        }
        (Sel::All, Value::Array(a)) => a.iter().for_each(|x| collect(x, rest, found)),
        (Sel::Index(i), Value::Array(a)) => {
            if let Some(x) = a.get(*i) {
                collect(x, rest, found);
            }
        }
        _ => {}
    }
}

fn replace_all(v: &mut Value, names: &HashMap<String, String>) {
    match v {
        Value::String(s) => {
            if let Some(n) = names.get(s.as_str()) {
                *s = n.clone();
            }
        }
        Value::Number(_) | Value::Bool(_) => {
            if let Some(n) = names.get(&v.to_string()) {
                *v = Value::String(n.clone());
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| replace_all(x, names)),
        Value::Object(m) => m.values_mut().for_each(|x| replace_all(x, names)),
        Value::Null => {}
    }
}

/// A unified line diff of two snapshot contents (`-` expected, `+` actual), colored when
/// `color` is set.
pub fn diff(expected: &str, actual: &str, color: bool) -> String {
    let d = similar::TextDiff::from_lines(expected, actual);
    let mut out = String::new();
    for group in d.grouped_ops(2) {
        for op in group {
            for change in d.iter_changes(&op) {
                let (sign, style) = match change.tag() {
                    similar::ChangeTag::Delete => ("-", "\x1b[31m"),
                    similar::ChangeTag::Insert => ("+", "\x1b[32m"),
                    similar::ChangeTag::Equal => (" ", ""),
                };
                let line = change.to_string_lossy();
                if color && !style.is_empty() {
                    out.push_str(&format!("{style}{sign}{line}\x1b[0m"));
                } else {
                    out.push_str(&format!("{sign}{line}"));
                }
                if !line.ends_with('\n') {
                    out.push('\n');
                }
            }
        }
        out.push_str("...\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_is_block_style_with_quoted_strings() {
        let v = json!({"steps": [{"status": 200, "body": {"a": "x y", "n": [1, 2]}, "logs": []}], "s": "1"});
        insta::assert_snapshot!(yaml(&v), @r#"
        steps:
          - status: 200
            body:
              a: x y
              n:
                - 1
                - 2
            logs: []
        s: "1"
        "#);
    }

    #[test]
    fn redaction_is_by_reference() {
        let mut v = json!({"steps": [{"id": "abc"}, {"id": "def"}, {"id": "abc"}], "other": "def"});
        redact(&mut v, &[".steps[].id".into()]);
        assert_eq!(
            v,
            json!({"steps": [{"id": "<id:1>"}, {"id": "<id:2>"}, {"id": "<id:1>"}], "other": "<id:2>"})
        );
    }

    #[test]
    fn file_text_has_insta_header() {
        let t = file_text("tests/fcemu/a.toml", "a", &json!({"k": 1}));
        assert_eq!(
            t,
            "---\nsource: tests/fcemu/a.toml\nexpression: a\n---\nk: 1\n"
        );
        assert_eq!(content_of(&t), "k: 1\n");
    }
}
