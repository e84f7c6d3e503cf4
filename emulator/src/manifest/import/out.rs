//! The `fcemu.toml` an imported manifest becomes, built up piece by piece and written as TOML
//! (what `fcemu import` prints and what `fcemu up` loads).

use toml::{Table, Value};

/// The manifest under construction.
#[derive(Default)]
pub struct Out {
    /// Top-level keys (`name`, `region`).
    pub top: Table,
    /// `[services.<name>]`.
    pub services: Table,
    /// `[functions.<name>]`, in the order they were found.
    pub functions: Vec<(String, Table)>,
    /// `[tables.<name>]`.
    pub tables: Table,
    /// `[logstores."<project>/<logstore>"]`.
    pub logstores: Table,
}

/// A function's table under construction.
pub struct Function {
    /// Its keys.
    pub table: Table,
    /// Its `[[triggers]]`.
    pub triggers: Vec<Table>,
    /// Its `[async]` keys.
    pub async_invoke: Table,
}

impl Function {
    /// An empty function.
    pub fn new() -> Self {
        Function {
            table: Table::new(),
            triggers: Vec::new(),
            async_invoke: Table::new(),
        }
    }

    /// Sets a string key.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.table.insert(key.into(), Value::String(value.into()));
    }

    /// Sets an integer key.
    pub fn set_int(&mut self, key: &str, value: i64) {
        self.table.insert(key.into(), Value::Integer(value));
    }

    /// The finished table.
    pub fn finish(mut self) -> Table {
        if !self.async_invoke.is_empty() {
            self.table
                .insert("async".into(), Value::Table(self.async_invoke));
        }
        if !self.triggers.is_empty() {
            let t = self.triggers.into_iter().map(Value::Table).collect();
            self.table.insert("triggers".into(), Value::Array(t));
        }
        self.table
    }
}

impl Default for Function {
    fn default() -> Self {
        Self::new()
    }
}

/// A string value.
pub fn s(v: impl Into<String>) -> Value {
    Value::String(v.into())
}

impl Out {
    /// Adds a function. A second resource of the same name (the same function deployed to
    /// another region, say) is merged into the first: its keys win, its triggers are added.
    pub fn function(&mut self, name: String, f: Function) {
        let new = f.finish();
        let Some((_, old)) = self.functions.iter_mut().find(|(n, _)| n == &name) else {
            self.functions.push((name, new));
            return;
        };
        let mut triggers = match old.remove("triggers") {
            Some(Value::Array(t)) => t,
            _ => Vec::new(),
        };
        for (k, v) in new {
            match (k.as_str(), v) {
                ("triggers", Value::Array(t)) => triggers.extend(t),
                (_, v) => {
                    old.insert(k, v);
                }
            }
        }
        if !triggers.is_empty() {
            old.insert("triggers".into(), Value::Array(triggers));
        }
    }

    /// Declares a service with a log configuration.
    pub fn service(&mut self, name: &str, log_project: &str, log_store: &str) {
        let mut t = Table::new();
        if !log_project.is_empty() && !log_store.is_empty() {
            t.insert("log_project".into(), s(log_project));
            t.insert("log_store".into(), s(log_store));
        }
        self.services.insert(name.into(), Value::Table(t));
    }

    /// The tables, with `stream = true` on those a tablestore trigger reads.
    fn tables_with_streams(&self) -> Table {
        let mut tables = self.tables.clone();
        for (_, f) in &self.functions {
            let Some(Value::Array(triggers)) = f.get("triggers") else {
                continue;
            };
            for t in triggers.iter().filter_map(Value::as_table) {
                if t.get("type").and_then(Value::as_str) != Some("tablestore") {
                    continue;
                }
                let name = t.get("table").and_then(Value::as_str).unwrap_or_default();
                if let Some(Value::Table(table)) = tables.get_mut(name) {
                    table.insert("stream".into(), Value::Boolean(true));
                }
            }
        }
        tables
    }

    /// The manifest as TOML, after a comment naming the source and what was left out.
    pub fn render(&self, source: &str, ignored: &[String]) -> String {
        let mut text = format!("# Imported from {source} by `fcemu import`.\n");
        if !ignored.is_empty() {
            text.push_str("# Left out (no local meaning):\n");
            for i in ignored {
                text.push_str(&format!("#   - {i}\n"));
            }
        }
        text.push('\n');
        let mut doc = self.top.clone();
        let tables = self.tables_with_streams();
        for (key, t) in [
            ("services", &self.services),
            ("tables", &tables),
            ("logstores", &self.logstores),
        ] {
            if !t.is_empty() {
                doc.insert(key.into(), Value::Table(t.clone()));
            }
        }
        if !self.functions.is_empty() {
            let mut fns = Table::new();
            for (name, f) in &self.functions {
                fns.insert(name.clone(), Value::Table(f.clone()));
            }
            doc.insert("functions".into(), Value::Table(fns));
        }
        text.push_str(&toml::to_string(&doc).unwrap_or_default());
        text
    }
}
