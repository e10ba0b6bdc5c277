//! One rule group and its evaluation at one timestamp, as Prometheus'
//! `Group.Eval`: rules run in file order, each sees the output of the rules
//! before it (recording rule output is appended to the store at once),
//! alerting rules write `ALERTS` and `ALERTS_FOR_STATE`, and series a rule
//! stopped producing get a staleness marker.
//!
//! **Invariant:** the evaluation time is a parameter; durations are measured
//! for reporting only.

use super::alert::{AlertSet, AlertState, AlertTransition, Candidate, StateParams, UpdateError};
use super::file::{GroupSpec, RuleKind, RuleSpec};
use super::nodata::{self, DEFAULT_NO_DATA_EVALUATIONS};
use super::tmpl::{self, TemplateData};
use crate::model::{Labels, LabelsBuilder, METRIC_NAME, STALE_NAN};
use crate::promql::{Engine, EvalError, SelectionMemo, Value, WindowCache};
use crate::store::{AppendError, Store};
use parking_lot::Mutex;
use promql_parser::parser::Expr;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Metric name of the synthetic alert series.
pub const ALERTS_METRIC: &str = "ALERTS";
/// Metric name of the series holding an alert's `ActiveAt`.
pub const ALERTS_FOR_STATE_METRIC: &str = "ALERTS_FOR_STATE";

/// A rule's health after its last evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Not evaluated yet.
    Unknown,
    /// Last evaluation succeeded.
    Ok,
    /// Last evaluation failed.
    Err,
}

impl Health {
    /// `unknown`, `ok` or `err`, as Prometheus' API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Ok => "ok",
            Health::Err => "err",
        }
    }
}

/// The runtime state of one rule.
#[derive(Debug, Clone)]
pub struct RuleState {
    /// The rule's definition.
    pub spec: Arc<RuleSpec>,
    /// Health after the last evaluation.
    pub health: Health,
    /// The last error, if the last evaluation failed.
    pub last_error: Option<String>,
    /// Timestamp of the last evaluation, ms.
    pub last_eval_ms: Option<i64>,
    /// How long the last evaluation took.
    pub eval_duration: Duration,
    /// The alerts (alerting rules).
    pub alerts: AlertSet,
    /// Series written by the last successful evaluation.
    prev_series: HashSet<Labels>,
}

impl RuleState {
    fn new(spec: RuleSpec) -> Self {
        Self {
            spec: Arc::new(spec),
            health: Health::Unknown,
            last_error: None,
            last_eval_ms: None,
            eval_duration: Duration::ZERO,
            alerts: AlertSet::new(),
            prev_series: HashSet::new(),
        }
    }

    /// The rule's state as Prometheus reports it: `unknown` before the first
    /// evaluation, else the highest state of its alerts.
    pub fn state_str(&self) -> &'static str {
        if self.last_eval_ms.is_none() {
            return "unknown";
        }
        self.alerts.max_state().as_str()
    }
}

/// The mutable part of a group.
#[derive(Debug, Clone, Default)]
pub struct GroupState {
    /// Rules in file order.
    pub rules: Vec<RuleState>,
    /// Timestamp of the last evaluation, ms.
    pub last_eval_ms: Option<i64>,
    /// How long the last evaluation took.
    pub eval_duration: Duration,
    /// Series of rules removed on reload, to be marked stale once.
    stale_series: Vec<Labels>,
}

/// Runs a rule's query at a time (ms); Prometheus' `QueryFunc`.
pub trait RuleQuerier: Send + Sync {
    /// Evaluates `expr` at `t_ms`.
    fn query(&self, expr: &Expr, t_ms: i64) -> Result<Value, EvalError>;

    /// Evaluates `expr`, written as `text`, at `t_ms`; a remote datasource sends the text as
    /// written. The default evaluates `expr`.
    fn query_text(&self, text: &str, expr: &Expr, t_ms: i64) -> Result<Value, EvalError> {
        let _ = text;
        self.query(expr, t_ms)
    }

    /// A querier for the queries of one group evaluation (`rules`, the rules' expressions run
    /// at `t_ms`, and their templates), dropped when the evaluation ends; it may share work between them as long as results
    /// stay the same, and carry range-function state over between the group's evaluations in
    /// `windows` (the group's own). `None` (the default): use this querier.
    fn for_evaluation<'s>(
        &'s self,
        _rules: &[&Expr],
        _t_ms: i64,
        _windows: &'s WindowCache,
    ) -> Option<Box<dyn RuleQuerier + 's>> {
        None
    }

    /// Tells a querier from [`for_evaluation`](Self::for_evaluation) that these series were
    /// just written, so later queries must see them. The default does nothing.
    fn written(&self, _series: &mut dyn Iterator<Item = &Labels>) {}
}

/// Why a rule's evaluation failed; its text is the rule's `lastError`, as Prometheus words it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// The query failed (bad data, execution error, timeout, too many samples).
    #[error("{0}")]
    Query(#[from] EvalError),
    /// The expression gave a matrix or a string.
    #[error("rule result is not a vector or scalar")]
    NotVectorOrScalar,
    /// Two output series of a recording rule have the same labels.
    #[error("vector contains metrics with the same labelset after applying rule labels")]
    DuplicateSeries,
    /// More output series than the group's `limit`.
    #[error("exceeded limit of {limit} with {count} series")]
    SeriesLimit {
        /// The group's limit.
        limit: usize,
        /// Series produced.
        count: usize,
    },
    /// The alert state machine refused the output.
    #[error("{0}")]
    Alerts(#[from] UpdateError),
    /// Writing the output into the buffer failed.
    #[error("{0}")]
    Append(#[from] AppendError),
}

/// The PromQL engine over the store.
#[derive(Debug, Clone, Copy)]
pub struct EngineQuerier<'a> {
    /// The engine.
    pub engine: &'a Engine,
    /// The buffer it reads.
    pub store: &'a Store,
}

impl<'a> EngineQuerier<'a> {
    /// The querier of one evaluation of a group with these `rules` at `t_ms`: each selection
    /// (matchers and time span) they read more than once is read from the store once and
    /// shared ([`SelectionMemo::for_queries`]), and range functions carry their windows over
    /// from the group's evaluation before in `windows` ([`WindowCache`]).
    pub fn shared(
        self,
        rules: &[&Expr],
        t_ms: i64,
        windows: &'a WindowCache,
    ) -> Box<dyn RuleQuerier + 'a> {
        windows.begin();
        Box::new(SharedSelections {
            engine: self.engine,
            store: self.store,
            memo: self.engine.selection_memo_for(t_ms, rules.iter().copied()),
            windows,
        })
    }
}

impl RuleQuerier for EngineQuerier<'_> {
    fn query(&self, expr: &Expr, t_ms: i64) -> Result<Value, EvalError> {
        self.engine
            .instant_query(self.store, expr, t_ms)
            .map(|r| r.value)
    }

    fn for_evaluation<'s>(
        &'s self,
        rules: &[&Expr],
        t_ms: i64,
        windows: &'s WindowCache,
    ) -> Option<Box<dyn RuleQuerier + 's>> {
        Some(self.shared(rules, t_ms, windows))
    }
}

/// The queries of one group evaluation, sharing the selections they read.
struct SharedSelections<'a> {
    engine: &'a Engine,
    store: &'a Store,
    memo: SelectionMemo,
    windows: &'a WindowCache,
}

impl RuleQuerier for SharedSelections<'_> {
    fn query(&self, expr: &Expr, t_ms: i64) -> Result<Value, EvalError> {
        self.engine
            .instant_query_carried(self.store, expr, t_ms, &self.memo, self.windows)
            .map(|r| r.value)
    }

    fn written(&self, series: &mut dyn Iterator<Item = &Labels>) {
        self.memo.invalidate(series);
    }
}

/// What the evaluation needs from outside.
#[derive(Clone, Copy)]
pub struct EvalContext<'a> {
    /// The buffer written.
    pub store: &'a Store,
    /// Runs the rules' queries.
    pub querier: &'a dyn RuleQuerier,
    /// Global external labels (templates).
    pub external_labels: &'a Labels,
    /// External URL (templates).
    pub external_url: &'a str,
    /// Query offset of groups that set none, ms.
    pub default_query_offset_ms: i64,
}

/// What one group evaluation did.
#[derive(Debug, Clone, Default)]
pub struct EvalOutcome {
    /// Alert transitions, in rule order.
    pub transitions: Vec<AlertTransition>,
    /// Rules evaluated.
    pub evaluations: u64,
    /// Rules that failed.
    pub failures: u64,
    /// Samples the rules produced.
    pub samples: u64,
}

/// A rule group: its definition and runtime state.
#[derive(Debug)]
pub struct Group {
    spec: GroupSpec,
    key: Arc<str>,
    interval_ms: i64,
    state: Mutex<GroupState>,
    /// A datasource group still to restore its `for` state from the datasource.
    remote_restore: std::sync::atomic::AtomicBool,
    /// Range-function state carried from one evaluation to the next.
    windows: WindowCache,
}

impl Group {
    /// A group with fresh state; `default_interval_ms` applies when the group
    /// sets no interval.
    pub fn new(spec: GroupSpec, default_interval_ms: i64) -> Self {
        let rules = spec.rules.iter().cloned().map(RuleState::new).collect();
        let remote = spec.datasource.is_some();
        Self {
            key: Arc::from(group_key(&spec.file, &spec.name)),
            interval_ms: spec.interval_ms.unwrap_or(default_interval_ms).max(1),
            spec,
            remote_restore: std::sync::atomic::AtomicBool::new(remote),
            windows: WindowCache::new(),
            state: Mutex::new(GroupState {
                rules,
                ..Default::default()
            }),
        }
    }

    /// The group's definition.
    pub fn spec(&self) -> &GroupSpec {
        &self.spec
    }

    /// Group name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The file it came from.
    pub fn file(&self) -> &str {
        &self.spec.file
    }

    /// `file;name`, unique across files.
    pub fn key(&self) -> &Arc<str> {
        &self.key
    }

    /// Evaluation interval, ms.
    pub fn interval_ms(&self) -> i64 {
        self.interval_ms
    }

    /// A copy of the runtime state (for the API).
    pub fn snapshot(&self) -> GroupState {
        self.state.lock().clone()
    }

    /// Runs `f` on the runtime state without copying it.
    pub fn with_state<R>(&self, f: impl FnOnce(&GroupState) -> R) -> R {
        f(&self.state.lock())
    }

    /// Whether the definition equals another group's (then a reload keeps it running).
    pub fn same_definition(&self, o: &Group) -> bool {
        let (a, b) = (&self.spec, &o.spec);
        a.name == b.name
            && a.file == b.file
            && self.interval_ms == o.interval_ms
            && a.limit == b.limit
            && a.evaluation == b.evaluation
            && a.query_offset_ms == b.query_offset_ms
            && a.datasource.as_ref().map(|d| &d.0) == b.datasource.as_ref().map(|d| &d.0)
            && a.rules.len() == b.rules.len()
            && a.rules
                .iter()
                .zip(&b.rules)
                .all(|(x, y)| x.same_definition(y))
    }

    /// Takes over alert state and staleness bookkeeping from the previous
    /// version of this group; rules are matched by name and labels, the n-th
    /// duplicate with the n-th. Series of unmatched old rules will be marked
    /// stale at the next evaluation.
    pub fn copy_state_from(&self, old: &Group) {
        self.remote_restore
            .store(false, std::sync::atomic::Ordering::Relaxed);
        let from = old.state.lock();
        let mut to = self.state.lock();
        to.last_eval_ms = from.last_eval_ms;
        to.eval_duration = from.eval_duration;
        let mut used = vec![false; from.rules.len()];
        for r in to.rules.iter_mut() {
            let hit = from.rules.iter().enumerate().position(|(i, o)| {
                !used[i] && o.spec.name == r.spec.name && o.spec.labels == r.spec.labels
            });
            let Some(i) = hit else { continue };
            used[i] = true;
            r.prev_series = from.rules[i].prev_series.clone();
            if r.spec.kind == RuleKind::Alerting && from.rules[i].spec.kind == RuleKind::Alerting {
                r.alerts.carry_over(&from.rules[i].alerts);
            }
        }
        to.stale_series = from.stale_series.clone();
        for (i, o) in from.rules.iter().enumerate() {
            if !used[i] {
                to.stale_series.extend(o.prev_series.iter().cloned());
            }
        }
    }

    /// Puts back alerts of the rule at `rule_index` saved before a restart
    /// (see [`AlertSet::restore`]) and writes their `ALERTS` and
    /// `ALERTS_FOR_STATE` samples at `t_ms` so they are visible before the
    /// first evaluation. Absent from results, they are held until
    /// `hold_until` ms. Returns how many alerts were restored (0 when the
    /// rule is not an alerting rule).
    pub fn restore_alerts(
        &self,
        rule_index: usize,
        alerts: Vec<super::alert::Alert>,
        t_ms: i64,
        hold_until: i64,
        store: &Store,
    ) -> usize {
        let mut st = self.state.lock();
        let Some(rs) = st.rules.get_mut(rule_index) else {
            return 0;
        };
        if rs.spec.kind != RuleKind::Alerting {
            return 0;
        }
        let n = alerts.len();
        for a in alerts {
            rs.alerts.restore(a, hold_until);
        }
        for (labels, t, v) in alert_series(&rs.spec, &rs.alerts, t_ms) {
            let (series, _) = store.get_or_create(labels.clone());
            if store.append(&series, t, v).is_ok() {
                rs.prev_series.insert(labels);
            }
        }
        n
    }

    /// Whether the `for` state is still to be restored from the datasource (true once, for
    /// a datasource group that did not replace an earlier version of itself).
    pub fn take_remote_restore(&self) -> bool {
        self.remote_restore
            .swap(false, std::sync::atomic::Ordering::Relaxed)
    }

    /// Restores the `for` state of pending alerts from `ALERTS_FOR_STATE` as `querier` sees
    /// it at `t_ms` (Prometheus' `RestoreForState`, vmalert's restore): for each alerting
    /// rule with a `for`, `last_over_time(ALERTS_FOR_STATE{alertname="…"}[lookback])`; a
    /// series whose labels (without `__name__`, and without `external` labels the alert
    /// lacks) are a pending alert's moves its `activeAt` back to the series' value. Returns
    /// the alerts moved, or the first query error.
    pub fn restore_for_state(
        &self,
        querier: &dyn RuleQuerier,
        t_ms: i64,
        lookback_ms: i64,
        external: &Labels,
    ) -> Result<usize, EvalError> {
        let rules: Vec<(usize, Arc<RuleSpec>)> = self
            .state
            .lock()
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.spec.kind == RuleKind::Alerting && r.spec.for_ms > 0)
            .map(|(i, r)| (i, r.spec.clone()))
            .collect();
        let mut moved = 0;
        for (i, spec) in rules {
            let name = spec
                .name
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            let text = format!(
                "last_over_time({ALERTS_FOR_STATE_METRIC}{{alertname=\"{name}\"}}[{}s])",
                (lookback_ms / 1000).max(1)
            );
            let expr = crate::promql::parse(&text).map_err(|e| EvalError::BadData(e.message))?;
            let Value::Vector(samples) = querier.query_text(&text, &expr, t_ms)? else {
                continue;
            };
            let mut st = self.state.lock();
            let alerts = &mut st.rules[i].alerts;
            for s in samples {
                let mut b = LabelsBuilder::new(&s.labels);
                b.del(METRIC_NAME);
                let mut labels = b.labels();
                if alerts.get(labels.fingerprint()).is_none() {
                    for l in external.iter() {
                        b.del(&l.name);
                    }
                    labels = b.labels();
                }
                if s.v.is_finite()
                    && alerts.restore_active_at(labels.fingerprint(), s.v as i64 * 1000)
                {
                    moved += 1;
                }
            }
        }
        Ok(moved)
    }

    /// Every series the group's rules wrote last (for marking them stale
    /// when the group is removed).
    pub fn written_series(&self) -> Vec<Labels> {
        let s = self.state.lock();
        s.rules
            .iter()
            .flat_map(|r| r.prev_series.iter().cloned())
            .collect()
    }

    /// The query offset in effect, ms.
    pub fn query_offset_ms(&self, default_ms: i64) -> i64 {
        self.spec.query_offset_ms.unwrap_or(default_ms)
    }

    /// Evaluates every rule at `ts` (ms) in order.
    ///
    /// The group's state lock is held only for short reads and writes of the rules' state,
    /// never while PromQL, a template (which may run `query`) or a store append runs, so
    /// `/api/v1/rules`, `/api/v1/alerts` and `/metrics` never wait on an evaluation.
    /// Evaluations of one group are serialized by the manager, so the state read before
    /// a step is still the state written after it.
    pub fn eval(&self, ts: i64, ctx: &EvalContext<'_>) -> EvalOutcome {
        let exprs: Vec<&Expr> = self.spec.rules.iter().map(|r| &*r.expr).collect();
        let offset = self.query_offset_ms(ctx.default_query_offset_ms);
        let scoped = ctx
            .querier
            .for_evaluation(&exprs, ts - offset, &self.windows);
        let ctx = &EvalContext {
            querier: scoped.as_deref().unwrap_or(ctx.querier),
            ..*ctx
        };
        let started = Instant::now();
        let mut out = EvalOutcome::default();
        let n = self.state.lock().rules.len();
        for i in 0..n {
            let rule_started = Instant::now();
            let spec = self.state.lock().rules[i].spec.clone();
            out.evaluations += 1;
            let result = ctx
                .querier
                .query_text(&spec.expr_text, &spec.expr, ts - offset);
            let produced = match result {
                Err(e) => Err(RuleError::Query(e)),
                Ok(value) => match value {
                    Value::Vector(v) => Ok(v.into_iter().map(|s| (s.labels, s.t, s.v)).collect()),
                    Value::Scalar { t, v } => Ok(vec![(Labels::empty(), t, v)]),
                    _ => Err(RuleError::NotVectorOrScalar),
                },
            }
            .and_then(|samples: Vec<(Labels, i64, f64)>| match spec.kind {
                RuleKind::Recording => record(&spec, samples, self.spec.limit),
                RuleKind::Alerting => {
                    self.alerting(i, &spec, samples, ts, offset, ctx, &mut out.transitions)
                }
            });
            let samples = match produced {
                Err(e) => {
                    let mut st = self.state.lock();
                    let rs = &mut st.rules[i];
                    rs.last_eval_ms = Some(ts);
                    rs.health = Health::Err;
                    rs.last_error = Some(e.to_string());
                    rs.eval_duration = rule_started.elapsed();
                    out.failures += 1;
                    continue;
                }
                Ok(s) => s,
            };
            out.samples += samples.len() as u64;
            let prev_series = std::mem::take(&mut self.state.lock().rules[i].prev_series);
            let mut written = HashSet::with_capacity(samples.len());
            let mut append_err = None;
            for (labels, t, v) in samples {
                let (series, _) = ctx.store.get_or_create(labels.clone());
                match ctx.store.append(&series, t, v) {
                    Ok(()) => {
                        written.insert(labels);
                    }
                    Err(e) => append_err = Some(e),
                }
            }
            for gone in prev_series.difference(&written) {
                let (series, _) = ctx.store.get_or_create(gone.clone());
                // Errors here are expected when another rule writes the series.
                let _ = ctx.store.append(&series, ts - offset, STALE_NAN);
            }
            ctx.querier
                .written(&mut written.iter().chain(prev_series.difference(&written)));
            let mut st = self.state.lock();
            let rs = &mut st.rules[i];
            rs.last_eval_ms = Some(ts);
            rs.prev_series = written;
            match append_err {
                Some(e) => {
                    rs.health = Health::Err;
                    rs.last_error = Some(RuleError::Append(e).to_string());
                    out.failures += 1;
                }
                None => {
                    rs.health = Health::Ok;
                    rs.last_error = None;
                }
            }
            rs.eval_duration = rule_started.elapsed();
        }
        let stale = std::mem::take(&mut self.state.lock().stale_series);
        for labels in stale {
            let (series, _) = ctx.store.get_or_create(labels);
            let _ = ctx.store.append(&series, ts - offset, STALE_NAN);
        }
        let mut st = self.state.lock();
        st.last_eval_ms = Some(ts);
        st.eval_duration = started.elapsed();
        out
    }

    /// An alerting rule (the `i`-th): build alerts, run the state machine, emit transitions
    /// and the `ALERTS` / `ALERTS_FOR_STATE` samples. Templates run without the state lock:
    /// labels first, then (after a short read of which alerts are active, for hysteresis)
    /// annotations; the state machine then runs under the lock.
    #[allow(clippy::too_many_arguments)]
    fn alerting(
        &self,
        i: usize,
        spec: &RuleSpec,
        samples: Out,
        ts: i64,
        offset: i64,
        ctx: &EvalContext<'_>,
        transitions: &mut Vec<AlertTransition>,
    ) -> Result<Out, RuleError> {
        // Label templates, no lock held.
        let labelled: Vec<(Labels, Labels, f64)> = samples
            .into_iter()
            .map(|(series, _, value)| {
                let data = template_data(&series, value, ts, ctx);
                let mut b = LabelsBuilder::new(&series);
                b.del(METRIC_NAME);
                for ((k, _), t) in spec.labels.iter().zip(&spec.label_templates) {
                    let v = match t {
                        Ok(t) => tmpl::expand(t, &data, ctx.querier),
                        Err(e) => format!("<error expanding template: {e}>"),
                    };
                    b.set(k, &v);
                }
                b.set("alertname", &spec.name);
                (b.labels(), series, value)
            })
            .collect();
        // Every alert identity the expression produced, crossing or not.
        let present: HashSet<u64> = labelled.iter().map(|(l, _, _)| l.fingerprint()).collect();
        let active: HashSet<u64> = if spec.thresholds.is_some() {
            let st = self.state.lock();
            let alerts = &st.rules[i].alerts;
            present
                .iter()
                .copied()
                .filter(|fp| alerts.is_active(*fp))
                .collect()
        } else {
            HashSet::new()
        };
        // Crossings and annotation templates, no lock held.
        let mut candidates = Vec::with_capacity(labelled.len());
        for (labels, series, value) in labelled {
            let crossing = match &spec.thresholds {
                None => None,
                Some(t) => {
                    let is_active = active.contains(&labels.fingerprint());
                    match t.classify(t.levels_for(&labels), value, is_active) {
                        None => continue,
                        some => some,
                    }
                }
            };
            let mut data = template_data(&series, value, ts, ctx);
            data.threshold = crossing.map(|c| c.threshold);
            data.severity = crossing.map(|c| c.severity.as_str());
            let annotations = spec
                .annotations
                .iter()
                .zip(&spec.annotation_templates)
                .map(|((k, _), t)| (k.clone(), tmpl::expand(t, &data, ctx.querier)))
                .collect();
            candidates.push(Candidate {
                labels,
                annotations,
                value,
                crossing,
            });
        }
        let params = StateParams {
            hold_ms: spec.for_ms,
            keep_firing_for_ms: spec.keep_firing_for_ms,
            limit: self.spec.limit,
            no_data: spec.no_data,
            no_data_for_ms: spec
                .no_data_for_ms
                .unwrap_or(DEFAULT_NO_DATA_EVALUATIONS * self.interval_ms),
        };
        // Threshold rules: absent from the output is missing data (recovery
        // shows as a value). Plain rules: only when the target is known down.
        let threshold_rule = spec.thresholds.is_some();
        let data_missing = |l: &Labels| {
            !present.contains(&l.fingerprint())
                && (threshold_rule || nodata::target_down(ctx.store, l, ts - offset))
        };
        let mut st = self.state.lock();
        let rs = &mut st.rules[i];
        let changes = rs
            .alerts
            .update_with(candidates, &data_missing, ts, &params)?;
        let rule: Arc<str> = Arc::from(spec.name.as_str());
        for c in changes {
            transitions.push(AlertTransition {
                rule: rule.clone(),
                group: self.key.clone(),
                labels: c.alert.labels.clone(),
                fingerprint: c.fingerprint,
                from: c.from,
                to: c.to,
                state: c.alert.state,
                severity: c.alert.severity,
                value: c.alert.value,
                threshold: c.alert.threshold,
                annotations: c.alert.annotations,
                resolve_reason: c.alert.resolve_reason,
                active_at: c.alert.active_at,
                at: ts,
            });
        }
        Ok(alert_series(spec, &rs.alerts, ts - offset))
    }
}

/// What a rule's templates see for one output sample (before its threshold crossing is known).
fn template_data<'a>(
    series: &'a Labels,
    value: f64,
    ts: i64,
    ctx: &'a EvalContext<'_>,
) -> TemplateData<'a> {
    TemplateData {
        labels: series,
        external_labels: ctx.external_labels,
        external_url: ctx.external_url,
        value,
        threshold: None,
        severity: None,
        ts,
    }
}

/// `file;name`, Prometheus' group key.
pub fn group_key(file: &str, name: &str) -> String {
    format!("{file};{name}")
}

type Out = Vec<(Labels, i64, f64)>;

/// A recording rule: rename, add labels, check duplicates and the limit.
fn record(spec: &RuleSpec, samples: Out, limit: usize) -> Result<Out, RuleError> {
    let mut out = Vec::with_capacity(samples.len());
    let mut seen = HashSet::with_capacity(samples.len());
    for (labels, t, v) in samples {
        let mut b = LabelsBuilder::new(&labels);
        b.set(METRIC_NAME, &spec.name);
        for (k, val) in &spec.labels {
            b.set(k, val);
        }
        let l = b.labels();
        if !seen.insert(l.clone()) {
            return Err(RuleError::DuplicateSeries);
        }
        out.push((l, t, v));
    }
    if limit > 0 && out.len() > limit {
        return Err(RuleError::SeriesLimit {
            limit,
            count: out.len(),
        });
    }
    Ok(out)
}

/// The `ALERTS` and `ALERTS_FOR_STATE` samples of a rule's pending and
/// firing alerts at `t` (ms).
fn alert_series(spec: &RuleSpec, alerts: &AlertSet, t: i64) -> Out {
    let mut out = Vec::new();
    let mut active: Vec<_> = alerts
        .iter()
        .filter(|a| a.state != AlertState::Inactive)
        .collect();
    active.sort_by(|a, b| a.labels.cmp(&b.labels));
    for a in active {
        let mut b = LabelsBuilder::new(&Labels::empty());
        for (k, v) in &spec.labels {
            b.set(k, v);
        }
        for l in a.labels.iter() {
            b.set_shared(l.name.clone(), l.value.clone());
        }
        b.set("alertname", &spec.name);
        b.set(METRIC_NAME, ALERTS_FOR_STATE_METRIC);
        let for_state = b.labels();
        b.set(METRIC_NAME, ALERTS_METRIC);
        b.set("alertstate", a.state.as_str());
        if let Some(s) = a.severity {
            b.set("severity", s.as_str());
        }
        out.push((b.labels(), t, 1.0));
        out.push((for_state, t, a.active_at.div_euclid(1000) as f64));
    }
    out
}

#[cfg(test)]
mod tests;
