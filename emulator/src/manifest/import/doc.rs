//! A YAML manifest being imported: its nodes with their places in the file, the values of its
//! variables (`${vars.x}`, `${this.props.x}`, `${env('X')}`, `${config('AccountID')}`,
//! `{{ placeholder }}`) resolved the way Serverless Devs resolves them, and the problems found,
//! reported like `fcemu.toml`'s.

use std::ops::Range;
use std::path::Path;

use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode};
use marked_yaml::{Node, Span};

use crate::manifest::error::Sink;

/// fcemu's account id, what `${config('AccountID')}` gives.
pub const ACCOUNT_ID: &str = "1234567890123456";

/// What `${default-suffix}` in a start template's parameter defaults becomes.
const DEFAULT_SUFFIX: &str = "local";

/// The file being imported and what is known to resolve its variables.
pub struct Doc<'a> {
    text: &'a str,
    root: &'a Node,
    /// `--var name=value` values.
    vars: &'a [(String, String)],
    /// Defaults of `{{ placeholders }}` from the template's `publish.yaml`.
    defaults: Vec<(String, String)>,
    /// Problems found, with their places.
    pub sink: Sink,
    /// What has no local meaning and was left out, one line each.
    pub ignored: Vec<String>,
}

impl<'a> Doc<'a> {
    /// Opens `root` (parsed from `text`, read from `path`) with the `--var` values and the
    /// `publish.yaml` defaults beside it or in its parent directory.
    pub fn new(path: &Path, text: &'a str, root: &'a Node, vars: &'a [(String, String)]) -> Self {
        Doc {
            text,
            root,
            vars,
            defaults: publish_defaults(path),
            sink: Sink::new(path, text),
            ignored: Vec::new(),
        }
    }

    /// The top-level mapping.
    pub fn root(&self) -> Option<&'a MarkedMappingNode> {
        self.root.as_mapping()
    }

    /// The byte range of a node in the file.
    pub fn span(&self, span: &Span) -> Option<Range<usize>> {
        let to_byte = |chars: usize| {
            self.text
                .char_indices()
                .nth(chars)
                .map_or(self.text.len(), |(b, _)| b)
        };
        let start = to_byte(span.start()?.character());
        let end = span.end().map_or(start, |m| to_byte(m.character()));
        Some(start..end.max(start))
    }

    /// Records a problem at `span`.
    pub fn problem(&mut self, span: &Span, message: String, label: &str, help: String) {
        let range = self.span(span);
        self.sink.push(range, message, label, help);
    }

    /// Notes something left out because it has no local meaning.
    pub fn ignore(&mut self, what: String) {
        if !self.ignored.contains(&what) {
            self.ignored.push(what);
        }
    }

    /// The scalar at `key` of `map`, variables resolved, with its span.
    pub fn string(
        &mut self,
        map: &MarkedMappingNode,
        key: &str,
        this: Option<&MarkedMappingNode>,
    ) -> Option<(String, Span)> {
        let node = get(map, key)?;
        match node {
            Node::Scalar(s) => Some((self.resolve(s, this), *s.span())),
            _ => {
                let span = *node.span();
                self.problem(
                    &span,
                    format!("`{key}` must be a single value"),
                    "not a value",
                    format!("write `{key}` as a string or a number"),
                );
                None
            }
        }
    }

    /// The mapping at `key`, also when it is given as a variable naming one (`${vars.service}`).
    pub fn mapping<'m>(
        &mut self,
        map: &'m MarkedMappingNode,
        key: &str,
        this: Option<&MarkedMappingNode>,
    ) -> Option<&'m MarkedMappingNode>
    where
        'a: 'm,
    {
        match get(map, key)? {
            Node::Mapping(m) => Some(m),
            Node::Scalar(s) => {
                let expr = s.as_str().trim();
                let inner = expr.strip_prefix("${")?.strip_suffix('}')?;
                let _ = this;
                self.lookup(inner.trim(), None)?.as_mapping()
            }
            Node::Sequence(_) => None,
        }
    }

    /// Resolves every `${...}` and `{{ ... }}` in a scalar.
    pub fn resolve(&mut self, s: &MarkedScalarNode, this: Option<&MarkedMappingNode>) -> String {
        let text = s.as_str();
        let mut out = String::new();
        let mut rest = text;
        while let Some(i) = rest.find(['$', '{']) {
            let (before, at) = rest.split_at(i);
            out.push_str(before);
            if let Some(body) = at.strip_prefix("${")
                && let Some(end) = closing(body)
            {
                let expr = &body[..end];
                out.push_str(&self.expression(expr.trim(), s, this));
                rest = &body[end + 1..];
            } else if let Some(body) = at.strip_prefix("{{")
                && let Some(end) = body.find("}}")
            {
                let name = body[..end].trim();
                out.push_str(&self.placeholder(name, s));
                rest = &body[end + 2..];
            } else {
                out.push_str(&at[..1]);
                rest = &at[1..];
            }
        }
        out.push_str(rest);
        out
    }

    fn placeholder(&mut self, name: &str, at: &MarkedScalarNode) -> String {
        if let Some((_, v)) = self.vars.iter().find(|(k, _)| k == name) {
            return v.clone();
        }
        if let Some((_, v)) = self.defaults.iter().find(|(k, _)| k == name) {
            return v.replace("${default-suffix}", DEFAULT_SUFFIX);
        }
        self.problem(
            at.span(),
            format!("template placeholder `{{{{ {name} }}}}` has no value"),
            "no value",
            format!("pass `--var {name}=VALUE`, or give it a default in publish.yaml (Parameters.properties.{name}.default)"),
        );
        String::new()
    }

    /// Evaluates one `${...}` expression.
    fn expression(
        &mut self,
        expr: &str,
        at: &MarkedScalarNode,
        this: Option<&MarkedMappingNode>,
    ) -> String {
        if let Some(args) = call(expr, "env") {
            let name = args.first().cloned().unwrap_or_default();
            return std::env::var(&name)
                .ok()
                .or_else(|| args.get(1).cloned())
                .unwrap_or_default();
        }
        if let Some(args) = call(expr, "config") {
            return match args.first().map(String::as_str) {
                Some("AccountID") => ACCOUNT_ID.to_string(),
                Some("Region") => self.region_hint(),
                _ => String::new(),
            };
        }
        if let Some(args) = call(expr, "path").or_else(|| call(expr, "regex")) {
            return args.first().cloned().unwrap_or_default();
        }
        if expr == "default-suffix" {
            return DEFAULT_SUFFIX.to_string();
        }
        match self.lookup(expr, this) {
            Some(Node::Scalar(s)) => {
                let s = s.clone();
                self.resolve(&s, this)
            }
            Some(_) => {
                self.problem(
                    at.span(),
                    format!("`${{{expr}}}` is not a single value here"),
                    "not a value",
                    "use a variable that names a string or a number".into(),
                );
                String::new()
            }
            None => {
                let help = if expr.contains(".output.") {
                    "outputs of deployed resources are not known locally: give the value directly or as `--var`".to_string()
                } else {
                    format!(
                        "define it (e.g. under `vars:`), or replace `${{{expr}}}` with the value"
                    )
                };
                self.problem(
                    at.span(),
                    format!("variable `${{{expr}}}` has no value"),
                    "unknown variable",
                    help,
                );
                String::new()
            }
        }
    }

    /// The node a dotted variable path names: `vars.x.y`, `this.props.x`, `resources.r.props.x`.
    fn lookup(&self, path: &str, this: Option<&MarkedMappingNode>) -> Option<&'a Node> {
        let mut parts = path.split('.');
        let first = parts.next()?;
        let root = self.root.as_mapping()?;
        let mut node: &Node = match first {
            "vars" => get(root, "vars")?,
            "this" => {
                let this = this?;
                // `this` is the resource: its `props` are `this.props`.
                let resource = find_resource(root, this)?;
                parts.next().filter(|p| *p == "props")?;
                let mut node: &Node = resource.get_node("props")?;
                for p in parts {
                    node = node.as_mapping()?.get_node(p)?;
                }
                return Some(node);
            }
            "resources" | "services" => get(root, first)?,
            _ => return None,
        };
        for p in parts {
            node = node.as_mapping()?.get_node(p)?;
        }
        Some(node)
    }

    fn region_hint(&self) -> String {
        self.root
            .as_mapping()
            .and_then(|r| r.get_mapping("vars"))
            .and_then(|v| v.get_scalar("region"))
            .map(|s| s.as_str().to_string())
            .filter(|r| !r.contains('{'))
            .unwrap_or_else(|| "cn-hangzhou".into())
    }
}

/// The value at `key`.
pub fn get<'n>(map: &'n MarkedMappingNode, key: &str) -> Option<&'n Node> {
    map.get_node(key)
}

/// The resource (in `resources:` or `services:`) whose `props` is `props`.
fn find_resource<'n>(
    root: &'n MarkedMappingNode,
    props: &MarkedMappingNode,
) -> Option<&'n MarkedMappingNode> {
    for section in ["resources", "services"] {
        let Some(resources) = root.get_mapping(section) else {
            continue;
        };
        for (_, r) in resources.iter() {
            if let Some(r) = r.as_mapping()
                && r.get_mapping("props")
                    .is_some_and(|p| std::ptr::eq(p, props))
            {
                return Some(r);
            }
        }
    }
    None
}

/// The index of the `}` closing an expression, allowing nested parentheses and quotes.
fn closing(body: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (i, c) in body.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => depth = depth.saturating_sub(1),
            (None, '}') if depth == 0 => return Some(i),
            _ => {}
        }
    }
    None
}

/// The arguments of `name(...)`, unquoted: `env('X', 'd')`, `env(X)`, `config("AccountID")`.
fn call(expr: &str, name: &str) -> Option<Vec<String>> {
    let inner = expr.strip_prefix(name)?.trim_start().strip_prefix('(')?;
    let inner = inner.strip_suffix(')')?;
    let mut args = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    for c in inner.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => {
                depth += 1;
                current.push(c);
            }
            (None, ')') => {
                depth = depth.saturating_sub(1);
                current.push(c);
            }
            (None, ',') if depth == 0 => args.push(std::mem::take(&mut current).trim().to_string()),
            (None, c) => current.push(c),
        }
    }
    if !current.trim().is_empty() || !args.is_empty() {
        args.push(current.trim().to_string());
    }
    Some(args)
}

/// `Parameters.properties.<name>.default` of the `publish.yaml` beside `path` or in its parent
/// directory (start templates keep `s.yaml` in `src/`).
fn publish_defaults(path: &Path) -> Vec<(String, String)> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let candidates = [dir.join("publish.yaml"), dir.join("../publish.yaml")];
    let Some(text) = candidates
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
    else {
        return Vec::new();
    };
    let Ok(node) = marked_yaml::parse_yaml(1, &text) else {
        return Vec::new();
    };
    let props = node
        .as_mapping()
        .and_then(|m| m.get_mapping("Parameters"))
        .and_then(|p| p.get_mapping("properties"));
    let Some(props) = props else {
        return Vec::new();
    };
    props
        .iter()
        .filter_map(|(k, v)| {
            let default = v.as_mapping()?.get_scalar("default")?;
            Some((k.as_str().to_string(), default.as_str().to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_take_quoted_and_bare_arguments() {
        assert_eq!(
            call("env('X', 'd')", "env"),
            Some(vec!["X".into(), "d".into()])
        );
        assert_eq!(call("env(X)", "env"), Some(vec!["X".into()]));
        assert_eq!(
            call("config(\"AccountID\")", "config"),
            Some(vec!["AccountID".into()])
        );
        assert_eq!(
            call("env('v', path('../../'))", "env"),
            Some(vec!["v".into(), "path(../../)".into()])
        );
        assert_eq!(call("vars.x", "env"), None);
    }
}
