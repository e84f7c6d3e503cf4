//! Funcraft `template.yml` (`Transform: Aliyun::Serverless-2018-04-03`): services with their
//! functions and `Events`, TableStore instances with tables, Log projects with logstores. A
//! function's `Properties` and `Events` are FC 2.0's settings with capitalised keys, so they are
//! rewritten as an FC 2.0 `s.yaml` resource (positions kept) and mapped as one.

use std::path::Path;

use marked_yaml::Node;
use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode, MarkedSequenceNode};
use toml::{Table, Value};

use super::doc::Doc;
use super::out::{Out, s};
use super::serverless;

/// Maps every resource of a `template.yml`.
pub fn map(doc: &mut Doc<'_>, root: &MarkedMappingNode, dir: &Path, out: &mut Out) {
    let Some(resources) = root.get_mapping("Resources") else {
        let span = *root.span();
        doc.problem(
            &span,
            "no `Resources:` section".into(),
            "nothing to start",
            "Funcraft templates list services and functions under `Resources:`".into(),
        );
        return;
    };
    for (name, resource) in resources.iter() {
        let name = name.as_str();
        let Some(resource) = resource.as_mapping() else {
            continue;
        };
        let kind = resource
            .get_scalar("Type")
            .map(|t| t.as_str().to_string())
            .unwrap_or_default();
        match kind.as_str() {
            "Aliyun::Serverless::Service" => service(doc, name, resource, dir, out),
            "Aliyun::Serverless::TableStore" => tables(doc, name, resource, out),
            "Aliyun::Serverless::Log" => logstores(doc, name, resource, out),
            other => doc.ignore(format!("resource {name} ({other})")),
        }
    }
}

/// A service and each function in it.
fn service(doc: &mut Doc<'_>, name: &str, resource: &MarkedMappingNode, dir: &Path, out: &mut Out) {
    let span = *resource.span();
    let key = |k: &str| MarkedScalarNode::new(span, k.to_string());
    let mut svc = MarkedMappingNode::new_empty(span);
    svc.insert(
        key("name"),
        Node::Scalar(MarkedScalarNode::new(span, name.to_string())),
    );
    if let Some(props) = resource.get_mapping("Properties") {
        for (k, v) in props.iter() {
            match k.as_str() {
                "LogConfig" => {
                    svc.insert(key("logConfig"), lower_keys(v));
                }
                "Description" => {}
                other => doc.ignore(format!("service {name}: {other}")),
            }
        }
    }
    for (fname, f) in resource.iter() {
        let Some(f) = f.as_mapping() else { continue };
        if f.get_scalar("Type").map(|t| t.as_str()) != Some("Aliyun::Serverless::Function") {
            continue;
        }
        let fspan = *f.span();
        let mut func = match f.get_node("Properties").map(lower_keys) {
            Some(Node::Mapping(m)) => m,
            _ => MarkedMappingNode::new_empty(fspan),
        };
        func.insert(
            key("name"),
            Node::Scalar(MarkedScalarNode::new(fspan, fname.as_str().to_string())),
        );
        let mut triggers = MarkedSequenceNode::new_empty(fspan);
        if let Some(events) = f.get_mapping("Events") {
            for (ename, e) in events.iter() {
                let Some(e) = e.as_mapping() else { continue };
                let espan = *e.span();
                let mut t = MarkedMappingNode::new_empty(espan);
                t.insert(
                    key("name"),
                    Node::Scalar(MarkedScalarNode::new(espan, ename.as_str().to_string())),
                );
                let kind = e
                    .get_scalar("Type")
                    .map(|k| k.as_str().to_ascii_lowercase())
                    .unwrap_or_default();
                let tspan = e.get_scalar("Type").map_or(espan, |k| *k.span());
                t.insert(
                    key("type"),
                    Node::Scalar(MarkedScalarNode::new(tspan, kind)),
                );
                if let Some(p) = e.get_node("Properties") {
                    t.insert(key("config"), lower_keys(p));
                }
                triggers.push(Node::Mapping(t));
            }
        }
        let mut props = MarkedMappingNode::new_empty(span);
        props.insert(key("service"), Node::Mapping(svc.clone()));
        props.insert(key("function"), Node::Mapping(func));
        props.insert(key("triggers"), Node::Sequence(triggers));
        serverless::fc2_resource(doc, name, &props, dir, out);
    }
}

/// `Aliyun::Serverless::TableStore` and its `::Table`s.
fn tables(doc: &mut Doc<'_>, instance: &str, resource: &MarkedMappingNode, out: &mut Out) {
    for (table, t) in resource.iter() {
        let Some(t) = t.as_mapping() else { continue };
        if t.get_scalar("Type").map(|k| k.as_str()) != Some("Aliyun::Serverless::TableStore::Table")
        {
            continue;
        }
        let mut keys = Vec::new();
        if let Some(list) = t
            .get_mapping("Properties")
            .and_then(|p| p.get_sequence("PrimaryKeyList"))
        {
            for pk in list.iter() {
                let Some(pk) = pk.as_mapping() else { continue };
                let name = doc
                    .string(pk, "Name", None)
                    .map(|v| v.0)
                    .unwrap_or_default();
                let kind = doc
                    .string(pk, "Type", None)
                    .map(|v| v.0)
                    .unwrap_or_default();
                keys.push(Value::Array(vec![s(name), s(kind.to_ascii_uppercase())]));
            }
        }
        let mut out_t = Table::new();
        out_t.insert("instance".into(), s(instance));
        out_t.insert("primary_key".into(), Value::Array(keys));
        out.tables
            .insert(table.as_str().to_string(), Value::Table(out_t));
    }
}

/// `Aliyun::Serverless::Log` and its `::Logstore`s.
fn logstores(doc: &mut Doc<'_>, project: &str, resource: &MarkedMappingNode, out: &mut Out) {
    for (store, l) in resource.iter() {
        let Some(l) = l.as_mapping() else { continue };
        if l.get_scalar("Type").map(|k| k.as_str()) != Some("Aliyun::Serverless::Log::Logstore") {
            continue;
        }
        let mut t = Table::new();
        if let Some(p) = l.get_mapping("Properties") {
            if let Some(n) = serverless::int(doc, p, "ShardCount", None) {
                t.insert("shards".into(), Value::Integer(n));
            }
            if let Some(n) = serverless::int(doc, p, "TTL", None) {
                t.insert("ttl".into(), Value::Integer(n));
            }
        }
        out.logstores
            .insert(format!("{project}/{}", store.as_str()), Value::Table(t));
    }
}

/// A copy of `node` with the first letter of every key lower-cased (`CodeUri` → `codeUri`),
/// except inside `EnvironmentVariables`, whose names are the user's.
fn lower_keys(node: &Node) -> Node {
    match node {
        Node::Mapping(m) => {
            let mut copy = MarkedMappingNode::new_empty(*m.span());
            for (k, v) in m.iter() {
                let mut chars = k.as_str().chars();
                let lowered = match chars.next() {
                    Some(c) => c.to_ascii_lowercase().to_string() + chars.as_str(),
                    None => String::new(),
                };
                let value = if k.as_str() == "EnvironmentVariables" {
                    v.clone()
                } else {
                    lower_keys(v)
                };
                copy.insert(MarkedScalarNode::new(*k.span(), lowered), value);
            }
            Node::Mapping(copy)
        }
        Node::Sequence(seq) => {
            let mut copy = MarkedSequenceNode::new_empty(*seq.span());
            for item in seq.iter() {
                copy.push(lower_keys(item));
            }
            Node::Sequence(copy)
        }
        Node::Scalar(_) => node.clone(),
    }
}
