//! Prometheus-compatible templates: Go `text/template` semantics for alert
//! rule labels/annotations and notification messages.
//!
//! Our own small engine (lexer → parse tree → evaluator) rather than a Go
//! template crate: `gtmpl` hangs on an unclosed `{{ .x ` and ranges maps in
//! random order; `gotmpl` 0.6 is sound but its value model has no methods on
//! lists and maps (Alertmanager's `.Alerts.Firing`, `.Labels.SortedPairs`
//! next to `.Labels.job`), no output or step budget beyond a range-iteration
//! cap, and needs Rust 1.89 (we declare 1.85).
//!
//! - Parse once at load: [`Template::parse`] reports syntax errors, unknown
//!   functions and undefined variables with line and column.
//! - Execute per alert: [`Template::execute`] against [`Data`] (the dot value
//!   plus the `query` callback, evaluation time and external URL).
//! - Rule templates ([`Flavor::Rule`]) see `$labels`, `$externalLabels`,
//!   `$externalURL`, `$value`, `$threshold`, `$severity`, as if Prometheus'
//!   prelude `{{$labels := .Labels}}...` preceded the text (without shifting
//!   error columns).
//!
//! **Invariant:** execution never hangs or panics: steps, output size and
//! nesting depth are bounded by [`Limits`], and every failure is a
//! [`TemplateError`] value. No I/O happens here; `query` goes through the
//! caller's callback.

mod am_funcs;
mod ast;
mod data;
mod exec;
mod funcs;
mod gofmt;
mod gotime;
mod lexer;
mod methods;
mod parser;
mod prom_funcs;
mod value;

#[cfg(test)]
mod go_tests;
#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod robustness_tests;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

pub use data::{AlertData, AlertStatus, Data, NotificationData, QueryFn, QuerySample, RuleData};
pub use funcs::Flavor;
pub use gotime::GoTime;
/// Prometheus' `humanize`, `humanize1024` and `humanizeDuration`, for the web UI.
pub(crate) use prom_funcs::{humanize, humanize1024, humanize_duration};
pub use value::{ListKind, MapKind, TList, TMap, TRecord, TValue};

use ast::{is_empty_list, Node};

/// A template error. Lines and columns are 1-based; columns count characters.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The text is not a valid template (syntax, unknown function, undefined
    /// variable).
    #[error("template: {template}:{line}:{column}: {message}")]
    Parse {
        /// The template's name.
        template: String,
        /// Line of the error.
        line: usize,
        /// Column of the error.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// Execution failed (a function error, a missing field, a bad comparison).
    #[error(
        "template: {template}:{line}:{column}: executing {executing:?} at <{context}>: {message}"
    )]
    Exec {
        /// The name of the source the failing node is in.
        template: String,
        /// The (possibly `define`d) template being executed.
        executing: String,
        /// Line of the failing node.
        line: usize,
        /// Column of the failing node.
        column: usize,
        /// The failing node's source text.
        context: String,
        /// What went wrong.
        message: String,
    },
    /// Execution hit one of the [`Limits`].
    #[error("template: {template}: {limit}")]
    Limit {
        /// The template's name.
        template: String,
        /// Which limit.
        limit: LimitExceeded,
    },
}

/// Which execution limit was exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitExceeded {
    /// Too many evaluation steps.
    #[error("execution exceeded {0} steps")]
    Steps(u64),
    /// Too much output, or a string value larger than the output limit.
    #[error("output exceeded {0} bytes")]
    Output(usize),
    /// Too deeply nested blocks and `template` calls.
    #[error("execution exceeded nesting depth {0}")]
    Depth(usize),
}

/// Bounds on one execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Evaluation steps (nodes, commands, loop iterations; long strings cost
    /// more). A million steps take well under a second.
    pub max_steps: u64,
    /// Output bytes, also the largest string a function may produce
    /// (capped at 16 MiB).
    pub max_output_bytes: usize,
    /// Nesting of blocks plus `template` calls; bounds recursion.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_steps: 1_000_000,
            max_output_bytes: 4 << 20,
            max_depth: 250,
        }
    }
}

/// Source text kept for error positions.
#[derive(Debug)]
pub(crate) struct Source {
    name: Arc<str>,
    text: Arc<str>,
}

impl Source {
    /// 1-based line and character column of byte offset `pos`.
    fn line_col(&self, pos: usize) -> (usize, usize) {
        let mut pos = pos.min(self.text.len());
        while !self.text.is_char_boundary(pos) {
            pos -= 1;
        }
        let before = &self.text[..pos];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count() + 1)
    }
}

/// A `define`d template and the source it came from.
#[derive(Debug, Clone)]
pub(crate) struct Def {
    body: Arc<Vec<Node>>,
    src: Arc<Source>,
}

/// A parsed template, ready to execute any number of times.
#[derive(Clone)]
pub struct Template {
    name: Arc<str>,
    flavor: Flavor,
    src: Arc<Source>,
    main: Arc<Vec<Node>>,
    defs: HashMap<Arc<str>, Def>,
    escape_html: bool,
    limits: Limits,
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut defs: Vec<&str> = self.defs.keys().map(|k| &**k).collect();
        defs.sort_unstable();
        f.debug_struct("Template")
            .field("name", &self.name)
            .field("flavor", &self.flavor)
            .field("defs", &defs)
            .field("escape_html", &self.escape_html)
            .finish()
    }
}

impl Template {
    /// Parses an alert rule template ([`Flavor::Rule`]).
    pub fn parse(name: &str, text: &str) -> Result<Template, TemplateError> {
        Self::parse_with(name, text, Flavor::Rule)
    }

    /// Parses a template with the functions (and prelude) of `flavor`.
    pub fn parse_with(name: &str, text: &str, flavor: Flavor) -> Result<Template, TemplateError> {
        let src = Arc::new(Source {
            name: Arc::from(name),
            text: Arc::from(text),
        });
        let prelude: Vec<&str> = match flavor {
            Flavor::Rule => data::RULE_PRELUDE.iter().map(|(v, _)| *v).collect(),
            Flavor::Notification => Vec::new(),
        };
        let parsed = parser::parse(text, flavor, &prelude).map_err(|e| {
            let (line, column) = src.line_col(e.pos);
            TemplateError::Parse {
                template: name.to_string(),
                line,
                column,
                message: e.message,
            }
        })?;
        let defs = parsed
            .defs
            .into_iter()
            .map(|(n, body)| {
                (
                    n,
                    Def {
                        body: Arc::new(body),
                        src: src.clone(),
                    },
                )
            })
            .collect();
        Ok(Template {
            name: src.name.clone(),
            flavor,
            src,
            main: Arc::new(parsed.main),
            defs,
            escape_html: false,
            limits: Limits::default(),
        })
    }

    /// Parses `text` with `library`'s flavor and definitions available;
    /// definitions in `text` win over the library's (as Alertmanager parses a
    /// message after its template files).
    pub fn parse_with_library(
        library: &Template,
        name: &str,
        text: &str,
    ) -> Result<Template, TemplateError> {
        let mut t = Self::parse_with(name, text, library.flavor)?;
        let mut merged = library.clone();
        merged.include(&t);
        t.defs = merged.defs;
        t.escape_html = library.escape_html;
        t.limits = library.limits;
        Ok(t)
    }

    /// Adds `later`'s definitions, and its main text under its name, as if
    /// it were parsed after this one into the same Go template set: they
    /// replace same-named definitions unless they are empty.
    pub fn include(&mut self, later: &Template) {
        let main = Def {
            body: later.main.clone(),
            src: later.src.clone(),
        };
        let incoming = later.defs.iter().map(|(n, d)| (n.clone(), d.clone()));
        for (name, def) in incoming.chain(std::iter::once((later.name.clone(), main))) {
            match self.defs.get(&name) {
                Some(old) if is_empty_list(&def.body) && !is_empty_list(&old.body) => {}
                _ if is_empty_list(&def.body) && name == later.name => {}
                _ => {
                    self.defs.insert(name, def);
                }
            }
        }
    }

    /// Escapes every action's output for HTML (as `html/template` does in
    /// text context); values from `safeHtml` pass through.
    pub fn with_html_escaping(mut self) -> Self {
        self.escape_html = true;
        self
    }

    /// Replaces the execution limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The template's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The function set in use.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// Names of the defined templates, sorted.
    pub fn defined(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.defs.keys().map(|k| &**k).collect();
        names.sort_unstable();
        names
    }

    /// Executes the template.
    pub fn execute(&self, data: &Data<'_>) -> Result<String, TemplateError> {
        exec::run(self, None, data)
    }

    /// Executes the defined template `name` with `data` as dot.
    pub fn execute_named(&self, name: &str, data: &Data<'_>) -> Result<String, TemplateError> {
        exec::run(self, Some(name), data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Labels;

    #[test]
    fn rule_annotation_example() {
        let t = Template::parse(
            "summary",
            "{{ $labels.instance }} of {{ $labels.job }} is at {{ $value | humanizePercentage }}",
        )
        .unwrap();
        let rule = RuleData {
            labels: Labels::from_pairs([("instance", "db1:9100"), ("job", "node")]),
            value: 0.8734,
            ..RuleData::default()
        };
        assert_eq!(
            t.execute(&Data::rule(&rule)).unwrap(),
            "db1:9100 of node is at 87.34%"
        );
    }

    #[test]
    fn templates_can_be_shared_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Template>();
        shareable::<TemplateError>();
    }

    #[test]
    fn parse_errors_have_positions() {
        let e = Template::parse("t", "line one\n  {{ $nope }}").unwrap_err();
        assert_eq!(
            e.to_string(),
            "template: t:2:6: undefined variable \"$nope\""
        );
        let e = Template::parse("t", "ab{{ .x ").unwrap_err();
        assert_eq!(e.to_string(), "template: t:1:3: unclosed action");
    }

    #[test]
    fn libraries_and_named_execution() {
        let lib = Template::parse_with(
            "lib.tmpl",
            r#"{{ define "title" }}[{{ .Status | toUpper }}] {{ len .Alerts }}{{ end }}{{ define "x" }}lib{{ end }}"#,
            Flavor::Notification,
        )
        .unwrap();
        let t = Template::parse_with_library(
            &lib,
            "msg",
            r#"{{ template "title" . }} {{ template "x" }}{{ define "x" }}own{{ end }}"#,
        )
        .unwrap();
        let n = NotificationData::default();
        assert_eq!(
            t.execute(&Data::notification(&n)).unwrap(),
            "[RESOLVED] 0 own"
        );
        assert_eq!(
            lib.execute_named("title", &Data::notification(&n)).unwrap(),
            "[RESOLVED] 0"
        );
        assert_eq!(t.defined(), ["msg", "title", "x"]);
    }
}
