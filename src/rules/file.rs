//! Rule files: the validated model and the loader.
//!
//! Loading follows Prometheus' `rulefmt`: strict keys (unless unknown fields
//! are ignored), only the first YAML document, and the same validation
//! (record/alert exclusivity, expression parsing, label and annotation names,
//! templates, duplicate group names). Every problem is collected with its
//! file, line and column before the file is refused.

use super::raw::{Pos, RawFile, RawGroup, RawMap, RawRule};
use super::threshold::{self, Thresholds};
use super::{duration::parse_duration, tmpl};
use crate::model::METRIC_NAME;
use crate::template::Template;
use promql_parser::parser::Expr;
use serde_saphyr::Spanned;
use std::collections::HashSet;
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
    /// The group's `labels`.
    pub labels: Vec<(String, String)>,
    /// Rules in file order.
    pub rules: Vec<RuleSpec>,
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
    let mut v = Validator {
        file,
        opts,
        errs: Vec::new(),
    };
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
    let opts = serde_saphyr::options! { with_snippet: false };
    match serde_saphyr::from_str_with_options::<RawFile>(content, opts) {
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
            let mut reader = content.as_bytes();
            let mut docs = serde_saphyr::read::<_, RawFile>(&mut reader);
            docs.next().unwrap_or(Ok(RawFile { groups: None }))
        }
        other => other,
    }
}

struct Validator<'a> {
    file: &'a str,
    opts: LoadOptions,
    errs: Vec<RuleFileError>,
}

impl Validator<'_> {
    fn err(
        &mut self,
        pos: Option<Pos>,
        group: Option<&str>,
        rule: Option<(usize, &str)>,
        message: String,
    ) {
        self.errs.push(RuleFileError {
            file: self.file.to_string(),
            pos,
            group: group.map(str::to_string),
            rule: rule.map(|(i, n)| (i, n.to_string())),
            message,
        });
    }

    fn duration(
        &mut self,
        d: &Option<Spanned<String>>,
        what: &str,
        g: &str,
        rule: Option<(usize, &str)>,
    ) -> Option<i64> {
        let d = d.as_ref()?;
        match parse_duration(&d.value) {
            Ok(ms) => Some(ms),
            Err(e) => {
                self.err(
                    Some(Pos::of(d)),
                    Some(g),
                    rule,
                    format!("invalid '{what}': {e}"),
                );
                None
            }
        }
    }

    fn labels(&mut self, map: &RawMap, g: &str, rule: Option<(usize, &str)>) {
        for (k, _) in map {
            if !self.opts.name_validation.label_name_ok(&k.value) || k.value == METRIC_NAME {
                self.err(
                    Some(Pos::of(k)),
                    Some(g),
                    rule,
                    format!("invalid label name: {}", k.value),
                );
            }
        }
    }

    fn groups(&mut self, raw: Vec<Spanned<RawGroup>>) -> Vec<GroupSpec> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for rg in raw {
            let pos = Pos::of(&rg);
            let g = rg.value;
            let name = g.name.as_ref().map(|n| n.value.clone()).unwrap_or_default();
            if name.is_empty() {
                self.err(
                    Some(pos),
                    None,
                    None,
                    "Groupname must not be empty".to_string(),
                );
            }
            if !seen.insert(name.clone()) {
                self.err(
                    Some(pos),
                    None,
                    None,
                    format!("groupname: {name:?} is repeated in the same file"),
                );
            }
            self.unknown(&g.unknown, "group", &name, None);
            let labels = g.labels.unwrap_or_default();
            self.labels(&labels, &name, None);
            let interval_ms = self.duration(&g.interval, "interval", &name, None);
            let query_offset_ms = self.duration(&g.query_offset, "query_offset", &name, None);
            let group_labels: Vec<(String, String)> = labels
                .iter()
                .map(|(k, v)| (k.value.clone(), v.clone()))
                .collect();
            let mut rules = Vec::new();
            for (i, rr) in g.rules.unwrap_or_default().into_iter().enumerate() {
                if let Some(r) = self.rule(i + 1, rr, &name, &group_labels) {
                    rules.push(r);
                }
            }
            out.push(GroupSpec {
                name,
                file: self.file.to_string(),
                interval_ms: interval_ms.filter(|ms| *ms > 0),
                query_offset_ms,
                limit: g.limit.map(|l| l.value.max(0) as usize).unwrap_or(0),
                labels: group_labels,
                rules,
            });
        }
        out
    }

    fn unknown(
        &mut self,
        keys: &[super::raw::UnknownKey],
        what: &str,
        g: &str,
        rule: Option<(usize, &str)>,
    ) {
        if self.opts.ignore_unknown_fields {
            return;
        }
        for k in keys {
            let group = (what != "group").then_some(g);
            self.err(
                Some(k.pos),
                group,
                rule,
                format!("field {} not found in type {what}", k.name),
            );
        }
    }

    fn rule(
        &mut self,
        idx: usize,
        rr: Spanned<RawRule>,
        g: &str,
        group_labels: &[(String, String)],
    ) -> Option<RuleSpec> {
        let pos = Pos::of(&rr);
        let r = rr.value;
        let record = r.record.as_ref().filter(|s| !s.value.is_empty());
        let alert = r.alert.as_ref().filter(|s| !s.value.is_empty());
        let name = alert
            .or(record)
            .map(|s| s.value.clone())
            .unwrap_or_default();
        let id = Some((idx, name.as_str()));
        let before = self.errs.len();
        let name_pos = alert.or(record).map(Pos::of).or(Some(pos));
        match (record, alert) {
            (Some(_), Some(_)) => self.err(
                name_pos,
                Some(g),
                id,
                "only one of 'record' and 'alert' must be set".into(),
            ),
            (None, None) => self.err(
                Some(pos),
                Some(g),
                id,
                "one of 'record' or 'alert' must be set".into(),
            ),
            _ => {}
        }
        self.unknown(&r.unknown, "rule", g, id);
        let mut parsed = None;
        match r.expr.as_ref().filter(|e| !e.value.is_empty()) {
            None => self.err(
                r.expr.as_ref().map(Pos::of).or(Some(pos)),
                Some(g),
                id,
                "field 'expr' must be set in rule".into(),
            ),
            Some(e) => match crate::promql::parse(&e.value) {
                Ok(x) => parsed = Some(x),
                Err(err) => self.err(
                    Some(Pos::of(e)),
                    Some(g),
                    id,
                    format!("could not parse expression: {}", err.message),
                ),
            },
        }
        let for_ms = self.duration(&r.for_, "for", g, id).unwrap_or(0);
        let kff_ms = self
            .duration(&r.keep_firing_for, "keep_firing_for", g, id)
            .unwrap_or(0);
        let rule_labels = r.labels.unwrap_or_default();
        let annotations = r.annotations.unwrap_or_default();
        if let Some(rec) = record {
            let rp = Some(Pos::of(rec));
            if !annotations.is_empty() {
                self.err(
                    rp,
                    Some(g),
                    id,
                    "invalid field 'annotations' in recording rule".into(),
                );
            }
            if for_ms != 0 {
                self.err(
                    rp,
                    Some(g),
                    id,
                    "invalid field 'for' in recording rule".into(),
                );
            }
            if kff_ms != 0 {
                self.err(
                    rp,
                    Some(g),
                    id,
                    "invalid field 'keep_firing_for' in recording rule".into(),
                );
            }
            if r.thresholds.is_some() {
                self.err(
                    rp,
                    Some(g),
                    id,
                    "invalid field 'thresholds' in recording rule".into(),
                );
            }
            if !self.opts.name_validation.metric_name_ok(&rec.value) {
                self.err(
                    rp,
                    Some(g),
                    id,
                    format!("invalid recording rule name: {}", rec.value),
                );
            }
            if rec.value.contains(['{', '}']) {
                self.err(
                    rp,
                    Some(g),
                    id,
                    format!(
                        "braces present in the recording rule name; should it be in expr?: {}",
                        rec.value
                    ),
                );
            }
        }
        self.labels(&rule_labels, g, id);
        for (k, _) in &annotations {
            if !self.opts.name_validation.label_name_ok(&k.value) {
                self.err(
                    Some(Pos::of(k)),
                    Some(g),
                    id,
                    format!("invalid annotation name: {}", k.value),
                );
            }
        }
        if alert.is_some() {
            for (what, map) in [("label", &rule_labels), ("annotation", &annotations)] {
                for (k, v) in map {
                    if let Err(e) = tmpl::parse(&name, v) {
                        self.err(
                            Some(Pos::of(k)),
                            Some(g),
                            id,
                            format!("{what} {:?}: {e}", k.value),
                        );
                    }
                }
            }
        }
        let mut labels: Vec<(String, String)> = group_labels.to_vec();
        for (k, v) in &rule_labels {
            labels.retain(|(n, _)| *n != k.value);
            labels.push((k.value.clone(), v.clone()));
        }
        labels.sort();
        let mut thresholds = None;
        if let (Some(t), Some(_)) = (&r.thresholds, alert) {
            if labels.iter().any(|(k, _)| k == "severity") {
                self.err(Some(Pos::of(t)), Some(g), id, "a rule with thresholds must not set the label 'severity' (it is set from the level crossed)".into());
            }
            match threshold::from_raw(t) {
                Ok(th) => thresholds = Some(Arc::new(th)),
                Err(es) => {
                    for (p, m) in es {
                        self.err(Some(p), Some(g), id, m);
                    }
                }
            }
        }
        if self.errs.len() > before {
            return None;
        }
        let mut annotations: Vec<(String, String)> =
            annotations.into_iter().map(|(k, v)| (k.value, v)).collect();
        annotations.sort();
        let (label_templates, annotation_templates) = if alert.is_some() {
            let lt = labels.iter().map(|(_, v)| tmpl::parse(&name, v)).collect();
            let at = annotations
                .iter()
                .map(|(_, v)| tmpl::parse(&name, v).ok())
                .collect::<Option<Vec<_>>>()?;
            (lt, at)
        } else {
            (Vec::new(), Vec::new())
        };
        let expr_text = r.expr.map(|e| e.value).unwrap_or_default();
        Some(RuleSpec {
            kind: if alert.is_some() {
                RuleKind::Alerting
            } else {
                RuleKind::Recording
            },
            name,
            expr_text,
            expr: Arc::new(parsed?),
            for_ms,
            keep_firing_for_ms: kff_ms,
            labels,
            annotations,
            thresholds,
            label_templates,
            annotation_templates,
            pos,
        })
    }
}

#[cfg(test)]
#[path = "file_tests.rs"]
mod tests;
