//! The layers depend one way (ARCHITECTURE.md): this test reads every source file under
//! `src/`, collects which top-level modules each module names (`crate::x`, `use crate::{x, …}`),
//! and fails on an edge the layering does not allow, on a cycle, and on `#[path]` attributes
//! (a module that grows becomes a directory whose file names say what each part does; a test
//! with parts is a directory with `main.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each module and the modules it may use. The order is the layering, bottom first:
/// `gostd`, `model` ← `config` ← `store`/`scrape`/`promql`/`template`/`persist` ← `rules` ←
/// `notify` ← `telemetry` ← `api` ← `ui` ← `engine` ← `cli`.
const ALLOWED: &[(&str, &[&str])] = &[
    ("gostd", &[]),
    ("model", &["gostd"]),
    ("config", &["gostd", "model"]),
    ("store", &["gostd", "model"]),
    ("template", &["gostd", "model"]),
    ("promql", &["gostd", "model", "store"]),
    ("scrape", &["gostd", "model", "config", "store"]),
    ("persist", &["gostd", "model", "store"]),
    ("remote", &["gostd", "model", "config", "store"]),
    (
        "rules",
        &[
            "gostd", "model", "config", "store", "scrape", "promql", "template", "persist",
        ],
    ),
    // `scrape`: the Alertmanager forwarder finds Alertmanagers with the scrape discovery
    // providers (`scrape::discovery`), as Prometheus' notifier shares its SD code.
    (
        "notify",
        &[
            "gostd", "model", "config", "scrape", "template", "persist", "rules",
        ],
    ),
    ("telemetry", &["gostd", "model", "store", "rules"]),
    (
        "api",
        &[
            "gostd",
            "model",
            "config",
            "store",
            "remote",
            "scrape",
            "promql",
            "template",
            "persist",
            "rules",
            "notify",
            "telemetry",
        ],
    ),
    (
        "ui",
        &[
            "gostd",
            "model",
            "config",
            "store",
            "remote",
            "scrape",
            "promql",
            "template",
            "persist",
            "rules",
            "notify",
            "telemetry",
            "api",
        ],
    ),
    (
        "engine",
        &[
            "gostd",
            "model",
            "config",
            "store",
            "remote",
            "scrape",
            "promql",
            "template",
            "persist",
            "rules",
            "notify",
            "telemetry",
            "api",
            "ui",
        ],
    ),
    (
        "cli",
        &[
            "gostd",
            "model",
            "config",
            "store",
            "remote",
            "scrape",
            "promql",
            "template",
            "persist",
            "rules",
            "notify",
            "telemetry",
            "api",
            "ui",
            "engine",
        ],
    ),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file under `src/` belongs to (`None` for `lib.rs`/`main.rs`).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.to_string();
    if rel.components().count() == 1 {
        let stem = first.strip_suffix(".rs")?;
        return (stem != "lib" && stem != "main").then(|| stem.to_string());
    }
    Some(first)
}

/// Top-level modules a source text names through `crate::`.
fn named_modules(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in text.match_indices("crate::") {
        // `watchfire::crate::` never occurs; skip `$crate::` in macros.
        if text[..i].ends_with('$') {
            continue;
        }
        let rest = &text[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `use crate::{a, b::c, d::{e, f}}`: the first segment of each top-level item.
            let mut depth = 0;
            let mut at_item_start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => at_item_start = true,
                    c if at_item_start && !c.is_whitespace() => {
                        at_item_start = false;
                        let name = ident(&group[j..]);
                        if !name.is_empty() {
                            out.insert(name);
                        }
                    }
                    _ => {}
                }
            }
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

/// Whether a line of `text` starts with a `#[path = …]` attribute.
fn has_path_attribute(text: &str) -> bool {
    text.lines().any(|l| l.trim_start().starts_with("#[path"))
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<&str> = ALLOWED.iter().map(|(m, _)| *m).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let Some(module) = module_of(&src, &file) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            !has_path_attribute(&text),
            "{}: #[path] attribute; make the module a directory instead",
            file.display()
        );
        let edges = graph.entry(module.clone()).or_default();
        for used in named_modules(&text) {
            if used != module && modules.contains(used.as_str()) {
                edges.insert(used);
            }
        }
    }
    graph
}

#[test]
fn no_path_attributes_in_tests_benches_or_examples() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["tests", "benches", "examples"] {
        rust_files(&root.join(dir), &mut files);
    }
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            !has_path_attribute(&text),
            "{}: #[path] attribute; a test with parts is a directory with main.rs",
            file.display()
        );
    }
}

#[test]
fn every_module_is_in_the_layering() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let known: BTreeSet<&str> = ALLOWED.iter().map(|(m, _)| *m).collect();
    for module in graph().keys() {
        assert!(
            known.contains(module.as_str()),
            "src/{module} is not in tests/module_graph.rs's layering; add it where it belongs"
        );
    }
    assert!(src.join("lib.rs").exists());
}

#[test]
fn layers_depend_one_way() {
    let allowed: BTreeMap<&str, BTreeSet<&str>> = ALLOWED
        .iter()
        .map(|(m, deps)| (*m, deps.iter().copied().collect()))
        .collect();
    let mut wrong = Vec::new();
    for (module, deps) in graph() {
        for dep in deps {
            let ok = allowed
                .get(module.as_str())
                .is_some_and(|a| a.contains(dep.as_str()));
            if !ok {
                wrong.push(format!("{module} → {dep}"));
            }
        }
    }
    assert!(wrong.is_empty(), "edges against the layering: {wrong:?}");
}

#[test]
fn the_module_graph_has_no_cycle() {
    let graph = graph();
    // Depth-first search with colours; a grey node reached again closes a cycle.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        colour: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match colour.get(node) {
            Some(1) => {
                let start = path.iter().position(|n| n == node).unwrap();
                let mut cycle = path[start..].to_vec();
                cycle.push(node.to_string());
                return Some(cycle);
            }
            Some(2) => return None,
            _ => {}
        }
        colour.insert(node.to_string(), 1);
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, colour, path) {
                return Some(c);
            }
        }
        path.pop();
        colour.insert(node.to_string(), 2);
        None
    }
    let mut colour = BTreeMap::new();
    for node in graph.keys() {
        let mut path = Vec::new();
        if let Some(cycle) = visit(node, &graph, &mut colour, &mut path) {
            panic!("module cycle: {}", cycle.join(" → "));
        }
    }
}

#[test]
fn the_scanner_reads_grouped_uses() {
    let names = named_modules(
        "use crate::{model::Labels, store::{Store, X}, gostd};\nlet x = crate::promql::parse(y);",
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        vec!["gostd", "model", "promql", "store"]
    );
}
