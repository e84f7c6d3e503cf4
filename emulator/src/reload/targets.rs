//! What the reloader watches, and what a changed path means: the manifest, a function's code
//! file, or a source file of a function that has a build command.
//!
//! Directories are watched rather than files: a file replaced by a rename is a new file, and a
//! watch on the old one would go quiet. Paths are matched exactly as the plan spells them.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

use crate::manifest::AppPlan;

/// The paths that matter for one plan.
#[derive(Debug)]
pub struct Targets {
    manifest: PathBuf,
    root: PathBuf,
    code: BTreeMap<PathBuf, Vec<String>>,
    /// Code directories and layers of native functions: any file under them is their code.
    native: Vec<(PathBuf, String)>,
    sources: Vec<Sources>,
}

#[derive(Debug)]
struct Sources {
    function: String,
    relative: GlobSet,
    absolute: GlobSet,
    /// Directories to watch, and whether recursively.
    bases: Vec<(PathBuf, bool)>,
}

/// A `watch` pattern that is not a valid glob.
#[derive(Debug)]
pub struct BadGlob {
    /// The function declaring it.
    pub function: String,
    /// The pattern.
    pub pattern: String,
    /// Why it is invalid.
    pub error: globset::Error,
}

impl Targets {
    /// The targets of `plan`, loaded from (or waiting for) the manifest at `manifest`.
    /// Invalid `watch` patterns are returned and otherwise ignored.
    pub fn new(manifest: &Path, plan: &AppPlan) -> (Targets, Vec<BadGlob>) {
        let mut code: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
        let mut sources = Vec::new();
        let mut bad = Vec::new();
        let mut native = Vec::new();
        for f in plan.functions.values() {
            if let Some(n) = &f.native {
                native.push((f.code.clone(), f.name.clone()));
                native.extend(n.layers.iter().map(|l| (l.clone(), f.name.clone())));
                continue;
            }
            code.entry(f.code.clone()).or_default().push(f.name.clone());
            if f.build.is_none() || f.watch.is_empty() {
                continue;
            }
            let mut relative = GlobSetBuilder::new();
            let mut absolute = GlobSetBuilder::new();
            let mut bases = Vec::new();
            for pattern in &f.watch {
                match glob(pattern) {
                    Ok(g) => {
                        let (base, recursive) = literal_prefix(pattern);
                        if Path::new(pattern).is_absolute() {
                            absolute.add(g);
                            bases.push((base, recursive));
                        } else {
                            relative.add(g);
                            bases.push((plan.root.join(base), recursive));
                        }
                    }
                    Err(error) => bad.push(BadGlob {
                        function: f.name.clone(),
                        pattern: pattern.clone(),
                        error,
                    }),
                }
            }
            let build = |b: GlobSetBuilder| b.build().unwrap_or_else(|_| GlobSet::empty());
            sources.push(Sources {
                function: f.name.clone(),
                relative: build(relative),
                absolute: build(absolute),
                bases,
            });
        }
        let targets = Targets {
            manifest: manifest.to_path_buf(),
            root: plan.root.clone(),
            code,
            native,
            sources,
        };
        (targets, bad)
    }

    /// Whether `path` is the manifest.
    pub fn is_manifest(&self, path: &Path) -> bool {
        path == self.manifest
    }

    /// The functions whose code file is `path`, or (native functions) whose code directory or
    /// layer holds it, outside `node_modules`, `.git` and `__pycache__`.
    pub fn code_of(&self, path: &Path) -> Vec<String> {
        let mut out = self.code.get(path).cloned().unwrap_or_default();
        for (dir, f) in &self.native {
            let inside = path.strip_prefix(dir).is_ok_and(|rel| {
                !rel.components().any(|c| {
                    matches!(
                        c.as_os_str().to_str(),
                        Some("node_modules" | ".git" | "__pycache__")
                    )
                })
            });
            if inside && !out.contains(f) {
                out.push(f.clone());
            }
        }
        out
    }

    /// The functions (with a build command) one of whose `watch` patterns matches `path`.
    pub fn sources_of(&self, path: &Path) -> Vec<String> {
        let relative = path.strip_prefix(&self.root).ok();
        self.sources
            .iter()
            .filter(|s| {
                s.absolute.is_match(path) || relative.is_some_and(|r| s.relative.is_match(r))
            })
            .map(|s| s.function.clone())
            .collect()
    }

    /// The directories to watch, and whether recursively. A directory that does not exist yet
    /// is replaced by its nearest existing ancestor, watched alone, so its creation is seen.
    pub fn watch_dirs(&self) -> BTreeMap<PathBuf, bool> {
        let mut dirs: BTreeMap<PathBuf, bool> = BTreeMap::new();
        let mut want = |dir: &Path, recursive: bool| {
            let (dir, recursive) = existing(dir, recursive);
            let r = dirs.entry(dir).or_insert(false);
            *r |= recursive;
        };
        if let Some(parent) = self.manifest.parent() {
            want(parent, false);
        }
        for path in self.code.keys() {
            if let Some(parent) = path.parent() {
                want(parent, false);
            }
        }
        for (dir, _) in &self.native {
            want(dir, true);
        }
        for s in &self.sources {
            for (base, recursive) in &s.bases {
                want(base, *recursive);
            }
        }
        dirs
    }
}

fn glob(pattern: &str) -> Result<Glob, globset::Error> {
    GlobBuilder::new(pattern).literal_separator(true).build()
}

/// The leading components of a pattern that hold no glob syntax: the directory to watch, and
/// whether the rest of the pattern reaches into its subdirectories.
fn literal_prefix(pattern: &str) -> (PathBuf, bool) {
    let components: Vec<Component> = Path::new(pattern).components().collect();
    let literal = components
        .iter()
        .take_while(|c| match c {
            Component::Normal(s) => !s.to_string_lossy().contains(['*', '?', '[', '{']),
            _ => true,
        })
        .count();
    // The last component names files even when it holds no glob syntax.
    let literal = literal.min(components.len().saturating_sub(1));
    let base: PathBuf = components[..literal].iter().collect();
    let rest = &components[literal..];
    let recursive = rest.len() > 1 || pattern.contains("**");
    (base, recursive)
}

/// `dir` if it is a directory, else its nearest existing ancestor (watched non-recursively).
fn existing(dir: &Path, recursive: bool) -> (PathBuf, bool) {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    if dir.is_dir() {
        return (dir.to_path_buf(), recursive);
    }
    let mut d = dir;
    while let Some(parent) = d.parent() {
        if parent.is_dir() {
            return (parent.to_path_buf(), false);
        }
        d = parent;
    }
    (dir.to_path_buf(), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(root: &Path, toml: &str) -> AppPlan {
        std::fs::write(root.join("f.wasm"), b"\0asm\x01\0\0\0").unwrap();
        crate::manifest::parse(&root.join("fcemu.toml"), toml).unwrap()
    }

    #[test]
    fn literal_prefix_stops_at_the_first_glob() {
        assert_eq!(literal_prefix("src/**/*.rs"), (PathBuf::from("src"), true));
        assert_eq!(
            literal_prefix("fns/a/src/**"),
            (PathBuf::from("fns/a/src"), true)
        );
        assert_eq!(literal_prefix("*.rs"), (PathBuf::from(""), false));
        assert_eq!(literal_prefix("src/lib.rs"), (PathBuf::from("src"), false));
        assert_eq!(literal_prefix("src/*/lib.rs"), (PathBuf::from("src"), true));
    }

    #[test]
    fn classifies_manifest_code_and_sources() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::path::absolute(dir.path()).unwrap();
        std::fs::create_dir_all(root.join("src/deep")).unwrap();
        let p = plan(
            &root,
            "[functions.a]\ncode = \"f.wasm\"\nbuild = \"true\"\nwatch = [\"src/**/*.rs\", \"Cargo.toml\"]\n\
             [functions.b]\ncode = \"f.wasm\"\n",
        );
        let (t, bad) = Targets::new(&root.join("fcemu.toml"), &p);
        assert!(bad.is_empty());
        assert!(t.is_manifest(&root.join("fcemu.toml")));
        assert_eq!(t.code_of(&root.join("f.wasm")), ["a", "b"]);
        assert_eq!(t.sources_of(&root.join("src/deep/x.rs")), ["a"]);
        assert_eq!(t.sources_of(&root.join("Cargo.toml")), ["a"]);
        assert!(t.sources_of(&root.join("src/x.txt")).is_empty());
        assert!(t.sources_of(&root.join("f.wasm")).is_empty());
        let dirs = t.watch_dirs();
        assert_eq!(dirs.get(&root), Some(&false), "{dirs:?}");
        assert_eq!(dirs.get(&root.join("src")), Some(&true), "{dirs:?}");
    }

    #[test]
    fn a_missing_directory_is_watched_through_its_ancestor() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::path::absolute(dir.path()).unwrap();
        let p = plan(
            &root,
            "[functions.a]\ncode = \"target/out/a.wasm\"\nbuild = \"true\"\n",
        );
        let (t, _) = Targets::new(&root.join("fcemu.toml"), &p);
        let dirs = t.watch_dirs();
        assert_eq!(dirs.len(), 1, "{dirs:?}");
        assert_eq!(dirs.get(&root), Some(&false));
    }

    #[test]
    fn bad_globs_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::path::absolute(dir.path()).unwrap();
        let p = plan(
            &root,
            "[functions.a]\ncode = \"f.wasm\"\nbuild = \"true\"\nwatch = [\"src/[\"]\n",
        );
        let (_, bad) = Targets::new(&root.join("fcemu.toml"), &p);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].pattern, "src/[");
    }
}
