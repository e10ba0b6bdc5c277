//! Validation of a decoded rule file, as Prometheus' `rulefmt.Validate`
//! plus the threshold extension; every problem is collected with its position.

use super::file::{EvaluationMode, GroupSpec, LoadOptions, RuleFileError, RuleKind, RuleSpec};
use super::nodata::NoDataPolicy;
use super::raw::{Pos, RawGroup, RawMap, RawRule, UnknownKey};
use super::threshold;
use super::{duration::parse_duration, tmpl};
use crate::model::METRIC_NAME;
use serde_saphyr::Spanned;
use std::collections::HashSet;
use std::sync::Arc;

pub(crate) struct Validator<'a> {
    file: &'a str,
    opts: LoadOptions,
    pub(crate) errs: Vec<RuleFileError>,
}

impl<'a> Validator<'a> {
    pub(crate) fn new(file: &'a str, opts: LoadOptions) -> Self {
        Self {
            file,
            opts,
            errs: Vec::new(),
        }
    }

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

    pub(crate) fn groups(&mut self, raw: Vec<Spanned<RawGroup>>) -> Vec<GroupSpec> {
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
            let evaluation = match &g.evaluation {
                None => EvaluationMode::Interval,
                Some(e) => match e.value.as_str() {
                    "interval" => EvaluationMode::Interval,
                    "on_scrape" => EvaluationMode::OnScrape,
                    other => {
                        self.err(
                            Some(Pos::of(e)),
                            Some(&name),
                            None,
                            format!(
                                "invalid 'evaluation': {other:?} (expected \"interval\" or \"on_scrape\")"
                            ),
                        );
                        EvaluationMode::Interval
                    }
                },
            };
            if let (EvaluationMode::OnScrape, Some(d)) = (evaluation, &g.datasource) {
                self.err(
                    Some(Pos::of(d)),
                    Some(&name),
                    None,
                    "'evaluation: on_scrape' follows local scrapes; a group with 'datasource' evaluates at its interval".to_string(),
                );
            }
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
                evaluation,
                datasource: g.datasource.map(|d| {
                    let pos = Pos::of(&d);
                    (d.value, pos)
                }),
                labels: group_labels,
                rules,
            });
        }
        out
    }

    /// The `no_data` policy and `no_data_for` bound of an alerting rule.
    fn no_data(
        &mut self,
        policy: &Option<Spanned<String>>,
        bound: &Option<Spanned<String>>,
        g: &str,
        rule: Option<(usize, &str)>,
    ) -> (NoDataPolicy, Option<i64>) {
        let mut out = NoDataPolicy::default();
        if let Some(p) = policy {
            match NoDataPolicy::parse(&p.value) {
                Some(x) => out = x,
                None => self.err(
                    Some(Pos::of(p)),
                    Some(g),
                    rule,
                    format!(
                        "invalid 'no_data': {:?} is not one of keep_state, resolve, alert",
                        p.value
                    ),
                ),
            }
        }
        let ms = self.duration(bound, "no_data_for", g, rule);
        let Some(b) = bound else {
            return (out, None);
        };
        if ms.is_some_and(|ms| ms <= 0) {
            self.err(
                Some(Pos::of(b)),
                Some(g),
                rule,
                "invalid 'no_data_for': must be greater than 0 (use 'no_data: resolve' to resolve at once)".into(),
            );
        }
        if out != NoDataPolicy::KeepState {
            self.err(
                Some(Pos::of(b)),
                Some(g),
                rule,
                format!("'no_data_for' applies only to 'no_data: keep_state', not {out}"),
            );
        }
        (out, ms)
    }

    fn unknown(&mut self, keys: &[UnknownKey], what: &str, g: &str, rule: Option<(usize, &str)>) {
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
            for (key, set) in [
                ("thresholds", r.thresholds.is_some()),
                ("no_data", r.no_data.is_some()),
                ("no_data_for", r.no_data_for.is_some()),
            ] {
                if set {
                    self.err(
                        rp,
                        Some(g),
                        id,
                        format!("invalid field '{key}' in recording rule"),
                    );
                }
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
        let (no_data, no_data_for_ms) = if alert.is_some() {
            self.no_data(&r.no_data, &r.no_data_for, g, id)
        } else {
            (NoDataPolicy::default(), None)
        };
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
            no_data,
            no_data_for_ms,
            label_templates,
            annotation_templates,
            pos,
        })
    }
}
