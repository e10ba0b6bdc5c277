//! Rule files: the validated model and the loader.
//!
//! Loading follows Prometheus' `rulefmt`: strict keys (unless unknown fields
//! are ignored), only the first YAML document, and the same validation
//! (record/alert exclusivity, expression parsing, label and annotation names,
//! templates, duplicate group names). Every problem is collected with its
//! file, line and column before the file is refused.

use super::nodata::NoDataPolicy;
use super::raw::{Pos, RawFile};
use super::threshold::Thresholds;
use super::validate::Validator;
use crate::template::Template;
use promql_parser::parser::Expr;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// Which label and metric names are valid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NameValidation {
    /// Any non-empty UTF-8 name (Prometheus 3 default).
    #[default]
    Utf8,
    /// `[a-zA-Z_][a-zA-Z0-9_]*` labels, `[a-zA-Z_:][a-zA-Z0-9_:]*` metrics.
    Legacy,
}

impl NameValidation {
    /// Whether `n` is a valid label name.
    pub fn label_name_ok(self, n: &str) -> bool {
        match self {
            NameValidation::Utf8 => !n.is_empty(),
            NameValidation::Legacy => legacy_name(n, false),
        }
    }

    /// Whether `n` is a valid metric name.
    pub fn metric_name_ok(self, n: &str) -> bool {
        match self {
            NameValidation::Utf8 => !n.is_empty(),
            NameValidation::Legacy => legacy_name(n, true),
        }
    }
}

fn legacy_name(n: &str, colons: bool) -> bool {
    let ok_first = |c: char| c.is_ascii_alphabetic() || c == '_' || (colons && c == ':');
    let mut chars = n.chars();
    chars.next().is_some_and(ok_first) && chars.all(|c| ok_first(c) || c.is_ascii_digit())
}

/// How to load rule files.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// Name validation scheme.
    pub name_validation: NameValidation,
    /// Accept (and ignore) unknown keys in groups and rules.
    pub ignore_unknown_fields: bool,
}

/// One problem in a rule file, with its position when known.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct RuleFileError {
    /// The file as given.
    pub file: String,
    /// Where, when known.
    pub pos: Option<Pos>,
    /// The group's name, for problems inside a group.
    pub group: Option<String>,
    /// The rule's 1-based index and name, for problems inside a rule.
    pub rule: Option<(usize, String)>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RuleFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(p) = self.pos.filter(|p| p.line > 0) {
            write!(f, ":{p}")?;
        }
        f.write_str(": ")?;
        if let Some(g) = &self.group {
            write!(f, "group {g:?}, ")?;
        }
        if let Some((i, n)) = &self.rule {
            write!(f, "rule {i}, {n:?}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Whether a rule records or alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// `record:`
    Recording,
    /// `alert:`
    Alerting,
}

/// A validated rule.
#[derive(Debug, Clone)]
pub struct RuleSpec {
    /// Recording or alerting.
    pub kind: RuleKind,
    /// The record or alert name.
    pub name: String,
    /// The expression as written.
    pub expr_text: String,
    /// The parsed expression.
    pub expr: Arc<Expr>,
    /// `for`, ms.
    pub for_ms: i64,
    /// `keep_firing_for`, ms.
    pub keep_firing_for_ms: i64,
    /// Group labels merged with the rule's (the rule wins), sorted by name.
    pub labels: Vec<(String, String)>,
    /// Annotations sorted by name.
    pub annotations: Vec<(String, String)>,
    /// The threshold extension.
    pub thresholds: Option<Arc<Thresholds>>,
    /// Alerting rules: the `no_data:` policy (default `keep_state`).
    pub no_data: NoDataPolicy,
    /// Alerting rules: `no_data_for`, ms; when unset `keep_state` holds for
    /// [`DEFAULT_NO_DATA_EVALUATIONS`](super::nodata::DEFAULT_NO_DATA_EVALUATIONS)
    /// evaluation intervals.
    pub no_data_for_ms: Option<i64>,
    /// Alerting rules: parsed templates of `labels`, in the same order (a
    /// group label that does not parse expands to the error text).
    pub label_templates: Vec<Result<Template, String>>,
    /// Alerting rules: parsed templates of `annotations`, in the same order.
    pub annotation_templates: Vec<Template>,
    /// Where the rule starts.
    pub pos: Pos,
}

impl RuleSpec {
    /// Whether two rules have the same definition (state carries over on reload).
    pub fn same_definition(&self, o: &RuleSpec) -> bool {
        self.kind == o.kind
            && self.name == o.name
            && self.expr_text == o.expr_text
            && self.for_ms == o.for_ms
            && self.keep_firing_for_ms == o.keep_firing_for_ms
            && self.labels == o.labels
            && self.annotations == o.annotations
            && format!("{:?}", self.thresholds) == format!("{:?}", o.thresholds)
            && self.no_data == o.no_data
            && self.no_data_for_ms == o.no_data_for_ms
    }
}

/// A validated rule group.
#[derive(Debug, Clone)]
pub struct GroupSpec {
    /// Group name.
    pub name: String,
    /// The file it came from.
    pub file: String,
    /// `interval`, ms, when set.
    pub interval_ms: Option<i64>,
    /// `query_offset`, ms, when set.
    pub query_offset_ms: Option<i64>,
    /// `limit` (0: none).
    pub limit: usize,
    /// When the group evaluates (`evaluation:`, our extension).
    pub evaluation: EvaluationMode,
    /// The group's `labels`.
    pub labels: Vec<(String, String)>,
    /// `datasource:` (our extension, as vmalert's datasource): the name of a configured
    /// datasource the group's queries run on, and where it is written; `None` evaluates
    /// on the local buffer.
    pub datasource: Option<(String, Pos)>,
    /// Rules in file order.
    pub rules: Vec<RuleSpec>,
}

/// When a group evaluates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EvaluationMode {
    /// At a fixed per-group offset every `interval`, as Prometheus does.
    #[default]
    Interval,
    /// Right after a scrape of a target the group reads from lands (at most
    /// once per second), and at least every `interval`.
    OnScrape,
}

impl EvaluationMode {
    /// The name used in rule files and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            EvaluationMode::Interval => "interval",
            EvaluationMode::OnScrape => "on_scrape",
        }
    }
}

/// A loaded rule file.
#[derive(Debug, Clone)]
pub struct RuleFile {
    /// The path as given.
    pub path: String,
    /// Groups in file order.
    pub groups: Vec<GroupSpec>,
    /// Non-fatal notes (a second YAML document was ignored).
    pub warnings: Vec<String>,
}

impl RuleFile {
    /// Number of rules in all groups.
    pub fn rule_count(&self) -> usize {
        self.groups.iter().map(|g| g.rules.len()).sum()
    }
}

/// Reads and validates a rule file.
pub fn load_rule_file(path: &Path, opts: LoadOptions) -> Result<RuleFile, Vec<RuleFileError>> {
    let name = path.display().to_string();
    let content = std::fs::read_to_string(path).map_err(|e| {
        vec![RuleFileError {
            file: name.clone(),
            pos: None,
            group: None,
            rule: None,
            message: e.to_string(),
        }]
    })?;
    parse_rule_file(&name, &content, opts)
}

/// Parses and validates rule file content; `file` names it in errors.
pub fn parse_rule_file(
    file: &str,
    content: &str,
    opts: LoadOptions,
) -> Result<RuleFile, Vec<RuleFileError>> {
    let mut warnings = Vec::new();
    let raw = decode(content, &mut warnings).map_err(|e| {
        let pos = e.location().map(|l| Pos {
            line: l.line(),
            column: l.column(),
        });
        let text = e.without_snippet().to_string();
        let message = match text.rfind(" at line ") {
            Some(i) if pos.is_some() => text[..i].to_string(),
            _ => text,
        };
        vec![RuleFileError {
            file: file.to_string(),
            pos,
            group: None,
            rule: None,
            message,
        }]
    })?;
    let mut v = Validator::new(file, opts);
    let groups = v.groups(raw.groups.unwrap_or_default());
    if !v.errs.is_empty() {
        return Err(v.errs);
    }
    Ok(RuleFile {
        path: file.to_string(),
        groups,
        warnings,
    })
}

/// Decodes the first YAML document; a second one is ignored with a warning.
fn decode(content: &str, warnings: &mut Vec<String>) -> Result<RawFile, serde_saphyr::Error> {
    let opts = crate::config::yaml_options();
    match crate::config::with_yaml_stack(|| {
        serde_saphyr::from_str_with_options::<RawFile>(content, opts)
    }) {
        Err(e)
            if matches!(
                e.without_snippet(),
                serde_saphyr::Error::MultipleDocuments { .. }
            ) =>
        {
            warnings.push(
                "multiple document yaml rules files are not supported, only the first document is processed"
                    .to_string(),
            );
            crate::config::with_yaml_stack(|| {
                let mut reader = content.as_bytes();
                let mut docs = serde_saphyr::read::<_, RawFile>(&mut reader);
                docs.next().unwrap_or(Ok(RawFile { groups: None }))
            })
        }
        other => other,
    }
}

#[cfg(test)]
mod tests;
