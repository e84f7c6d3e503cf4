//! The gateway's route table: http triggers of the current plan, matched by method and path
//! template (`/photos/{id}`, and `{rest+}` or `*` for the remainder of the path).

use std::collections::BTreeMap;

use crate::manifest::HttpTrigger;
use crate::manifest::{AppPlan, HttpFormat, TriggerKind};

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(String),
    Param(String),
    Rest(String),
}

/// One route: an http trigger of a function.
#[derive(Debug, Clone)]
pub struct Route {
    /// Upper-case methods; empty means any.
    pub methods: Vec<String>,
    /// The template as written.
    pub template: String,
    /// Function it invokes.
    pub function: String,
    /// Trigger name.
    pub trigger: String,
    /// Event shape for event functions.
    pub format: HttpFormat,
    /// Removed from the path before the function sees it.
    pub strip_prefix: Option<String>,
    segments: Vec<Segment>,
}

/// A matched route with its path parameters.
#[derive(Debug, Clone)]
pub struct Match<'a> {
    /// The route.
    pub route: &'a Route,
    /// `{param}` values, percent-decoded.
    pub params: BTreeMap<String, String>,
}

/// Why no route matched.
#[derive(Debug, Clone, PartialEq)]
pub enum Miss {
    /// No template matches the path.
    NoPath,
    /// A template matches, but not for this method; the methods it accepts.
    WrongMethod(Vec<String>),
}

/// All routes of a plan, most specific first.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

fn parse(template: &str) -> Vec<Segment> {
    template
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s == "*" {
                Segment::Rest("proxy".into())
            } else if let Some(name) = s.strip_prefix('{').and_then(|s| s.strip_suffix("+}")) {
                Segment::Rest(name.into())
            } else if let Some(name) = s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Segment::Param(name.into())
            } else {
                Segment::Literal(s.into())
            }
        })
        .collect()
}

impl RouteTable {
    /// The routes of every enabled http trigger in `plan`.
    pub fn from_plan(plan: &AppPlan) -> Self {
        let mut routes = Vec::new();
        for f in plan.functions.values() {
            for t in f.triggers.iter().filter(|t| t.enabled) {
                if let TriggerKind::Http(HttpTrigger {
                    methods,
                    path,
                    format,
                    strip_prefix,
                    ..
                }) = &t.kind
                {
                    routes.push(Route {
                        methods: methods.clone(),
                        template: path.clone(),
                        function: f.name.clone(),
                        trigger: t.name.clone(),
                        format: *format,
                        strip_prefix: strip_prefix.clone(),
                        segments: parse(path),
                    });
                }
            }
        }
        // Literal segments beat parameters, parameters beat the rest-of-path wildcard.
        routes.sort_by_key(|r| {
            let rank: Vec<u8> = r
                .segments
                .iter()
                .map(|s| match s {
                    Segment::Literal(_) => 0,
                    Segment::Param(_) => 1,
                    Segment::Rest(_) => 2,
                })
                .collect();
            (rank, std::cmp::Reverse(r.segments.len()))
        });
        RouteTable { routes }
    }

    /// Every route.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The prefixes functions answer under (`strip_prefix`), one per function.
    pub fn prefixes(&self) -> Vec<(&str, &str)> {
        let mut out: Vec<(&str, &str)> = self
            .routes
            .iter()
            .filter_map(|r| Some((r.function.as_str(), r.strip_prefix.as_deref()?)))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The prefix to put before a request's path before matching it: for the host
    /// `{name}.localhost` of a function with a `strip_prefix`, that prefix; when only one
    /// function has one and nothing else matches the path, that one's. The function sees the
    /// path without it again.
    pub fn locate(&self, host: Option<&str>, method: &str, path: &str) -> Option<String> {
        let prefixes = self.prefixes();
        let label = host
            .map(|h| h.rsplit_once(':').map_or(h, |(name, _)| name))
            .and_then(|h| h.strip_suffix(".localhost"));
        if let Some(label) = label
            && let Some((_, p)) = prefixes.iter().find(|(f, _)| *f == label)
        {
            return Some(p.to_string());
        }
        if let [(_, p)] = prefixes.as_slice()
            && self.find(method, path).is_err()
        {
            return Some(p.to_string());
        }
        None
    }

    /// The route for `method` and `path` (percent-decoded).
    pub fn find(&self, method: &str, path: &str) -> Result<Match<'_>, Miss> {
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut methods_seen = Vec::new();
        for route in &self.routes {
            let Some(params) = match_segments(&route.segments, &parts) else {
                continue;
            };
            let method_ok = route.methods.is_empty()
                || route.methods.iter().any(|m| m == method)
                || (method == "HEAD" && route.methods.iter().any(|m| m == "GET"));
            if method_ok {
                return Ok(Match { route, params });
            }
            methods_seen.extend(route.methods.iter().cloned());
        }
        if methods_seen.is_empty() {
            Err(Miss::NoPath)
        } else {
            methods_seen.sort();
            methods_seen.dedup();
            Err(Miss::WrongMethod(methods_seen))
        }
    }
}

/// `prefix` put before `path` (`/` becomes the prefix itself).
pub fn join(prefix: &str, path: &str) -> String {
    if path == "/" {
        prefix.to_string()
    } else {
        format!("{prefix}{path}")
    }
}

/// `path` without the route's `strip_prefix` (`/` when nothing is left).
pub fn stripped(route: &Route, path: &str) -> String {
    let Some(p) = &route.strip_prefix else {
        return path.to_string();
    };
    match path.strip_prefix(p.as_str()) {
        Some("") => "/".to_string(),
        Some(rest) if rest.starts_with('/') => rest.to_string(),
        _ => path.to_string(),
    }
}

fn match_segments(segments: &[Segment], parts: &[&str]) -> Option<BTreeMap<String, String>> {
    let mut params = BTreeMap::new();
    for (i, seg) in segments.iter().enumerate() {
        match seg {
            Segment::Rest(name) => {
                params.insert(name.clone(), parts.get(i..).unwrap_or(&[]).join("/"));
                return Some(params);
            }
            Segment::Literal(lit) => {
                if parts.get(i) != Some(&lit.as_str()) {
                    return None;
                }
            }
            Segment::Param(name) => {
                params.insert(name.clone(), (*parts.get(i)?).to_string());
            }
        }
    }
    (segments.len() == parts.len()).then_some(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(routes: &[(&str, &[&str], &str)]) -> RouteTable {
        let mut t = RouteTable::default();
        for (path, methods, f) in routes {
            t.routes.push(Route {
                methods: methods.iter().map(|m| m.to_string()).collect(),
                template: path.to_string(),
                function: f.to_string(),
                trigger: "t".into(),
                format: HttpFormat::Apigw,
                strip_prefix: None,
                segments: parse(path),
            });
        }
        let plan_order = t.routes.clone();
        let mut sorted = RouteTable { routes: plan_order };
        sorted.routes.sort_by_key(|r| {
            r.segments
                .iter()
                .map(|s| {
                    matches!(s, Segment::Param(_)) as u8 + 2 * matches!(s, Segment::Rest(_)) as u8
                })
                .collect::<Vec<_>>()
        });
        sorted
    }

    #[test]
    fn literal_beats_param_beats_rest() {
        let t = table(&[
            ("/files/{rest+}", &[], "files"),
            ("/photos/{id}", &["GET"], "get"),
            ("/photos/new", &["GET"], "new"),
        ]);
        assert_eq!(t.find("GET", "/photos/new").unwrap().route.function, "new");
        let m = t.find("GET", "/photos/42").unwrap();
        assert_eq!(m.route.function, "get");
        assert_eq!(m.params["id"], "42");
        assert_eq!(
            t.find("GET", "/files/a/b/c").unwrap().params["rest"],
            "a/b/c"
        );
        assert_eq!(
            t.find("POST", "/photos/42").unwrap_err(),
            Miss::WrongMethod(vec!["GET".into()])
        );
        assert_eq!(t.find("GET", "/nothing").unwrap_err(), Miss::NoPath);
        assert_eq!(t.find("HEAD", "/photos/1").unwrap().route.function, "get");
    }
}
