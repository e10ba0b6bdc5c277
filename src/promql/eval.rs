//! The evaluator core: node dispatch, the per-step driver shared by
//! functions and operators (`range_eval`), step-invariant expansion and
//! subqueries.

use crate::model::{Labels, Sample};
use crate::store::Store;
use std::collections::HashMap;

use super::incremental::WindowCache;
use super::memo::SelectionMemo;
use super::plan::{Kind, Node};
use super::types::{total_points, Matrix, QueryCtx, Series, Val};
use super::{aggregations, binary, functions, selectors, EvalError};

/// One element of a per-step input vector: the index of its series in the
/// input matrix and its value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StepSample {
    pub idx: u32,
    pub v: f64,
}

/// Where the labels of an output sample come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    /// Series `1` of input `0`.
    Arg(usize, u32),
    /// Entry of the node's label table.
    Table(u32),
}

/// One output sample of a per-step call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Out {
    pub key: Key,
    pub v: f64,
    pub drop_name: bool,
}

/// An evaluator over one step range.
#[derive(Clone, Copy)]
pub(crate) struct Evaluator<'a> {
    pub store: &'a Store,
    pub ctx: &'a QueryCtx,
    pub start: i64,
    pub end: i64,
    pub interval: i64,
    pub lookback: i64,
    pub delayed_names: bool,
    /// Selections shared with the other queries of a rule-group evaluation.
    pub memo: Option<&'a SelectionMemo>,
    /// Range-function state carried over between a rule group's evaluations (instant
    /// evaluations only; subqueries do without).
    pub windows: Option<&'a WindowCache>,
}

/// Drops `__name__` (and the type/unit metadata labels) from a label set.
pub(crate) fn drop_metric_labels(l: &Labels) -> Labels {
    if !l
        .iter()
        .any(|x| matches!(&*x.name, "__name__" | "__type__" | "__unit__"))
    {
        return l.clone();
    }
    Labels::from_sorted(
        l.iter()
            .filter(|x| !matches!(&*x.name, "__name__" | "__type__" | "__unit__"))
            .cloned()
            .collect(),
    )
}

/// The error of two series with the same labels in one result.
pub(crate) fn dup_labelset() -> EvalError {
    EvalError::Execution("vector cannot contain metrics with the same labelset".into())
}

/// Collects per-step outputs into series.
pub(crate) struct Accum {
    pub series: Vec<Series>,
    by_arg: Vec<Vec<u32>>,
    by_table: Vec<u32>,
    by_labels: HashMap<Labels, u32>,
    delayed: bool,
    instant: bool,
}

impl Accum {
    pub(crate) fn new(inputs: &[Matrix], delayed: bool, instant: bool) -> Self {
        Self {
            series: Vec::new(),
            by_arg: inputs.iter().map(|m| vec![0; m.len()]).collect(),
            by_table: Vec::new(),
            by_labels: HashMap::new(),
            delayed,
            instant,
        }
    }

    fn slot(&mut self, inputs: &[Matrix], table: &[Labels], out: &Out) -> usize {
        let cached = match out.key {
            Key::Arg(a, i) => self.by_arg[a][i as usize],
            Key::Table(j) => self.by_table.get(j as usize).copied().unwrap_or(0),
        };
        if cached > 0 {
            return cached as usize - 1;
        }
        let labels = match out.key {
            Key::Arg(a, i) => {
                let l = &inputs[a][i as usize].labels;
                if out.drop_name && !self.delayed {
                    drop_metric_labels(l)
                } else {
                    l.clone()
                }
            }
            Key::Table(j) => table[j as usize].clone(),
        };
        let idx = if self.instant {
            // Instant evaluation keeps duplicates apart so that the caller
            // can report them (and keeps the function's output order).
            self.series.push(Series::new(labels, out.drop_name));
            self.series.len() - 1
        } else {
            match self.by_labels.get(&labels) {
                Some(&i) => i as usize,
                None => {
                    self.series.push(Series::new(labels.clone(), out.drop_name));
                    let i = self.series.len() - 1;
                    self.by_labels.insert(labels, i as u32);
                    i
                }
            }
        };
        if !self.instant {
            match out.key {
                Key::Arg(a, i) => self.by_arg[a][i as usize] = idx as u32 + 1,
                Key::Table(j) => {
                    let j = j as usize;
                    if self.by_table.len() <= j {
                        self.by_table.resize(j + 1, 0);
                    }
                    self.by_table[j] = idx as u32 + 1;
                }
            }
        }
        idx
    }

    /// Adds one output sample at `ts`.
    pub(crate) fn push(
        &mut self,
        inputs: &[Matrix],
        table: &[Labels],
        out: &Out,
        ts: i64,
    ) -> Result<(), EvalError> {
        let i = self.slot(inputs, table, out);
        let s = &mut self.series[i];
        if s.points.last().is_some_and(|p| p.t == ts) {
            return Err(dup_labelset());
        }
        s.points.push(Sample { t: ts, v: out.v });
        Ok(())
    }

    /// The collected series; for instant evaluation without delayed name
    /// removal, duplicate label sets are an error (as in Prometheus).
    pub(crate) fn finish(self) -> Result<Matrix, EvalError> {
        if self.instant && !self.delayed && has_duplicates(&self.series) {
            return Err(dup_labelset());
        }
        Ok(self.series)
    }
}

/// Whether two series share a label set (fingerprints first, label
/// comparison only for equal fingerprints).
pub(crate) fn has_duplicates(m: &Matrix) -> bool {
    if m.len() < 2 {
        return false;
    }
    let mut prints: Vec<(u64, usize)> = m
        .iter()
        .enumerate()
        .map(|(i, s)| (s.labels.fingerprint(), i))
        .collect();
    prints.sort_unstable();
    prints
        .windows(2)
        .any(|w| w[0].0 == w[1].0 && m[w[0].1].labels == m[w[1].1].labels)
}

/// Per-step gathering state of one input matrix.
pub(crate) struct Gather {
    cursors: Vec<usize>,
    pub vec: Vec<StepSample>,
}

impl Gather {
    pub(crate) fn new(m: &Matrix) -> Self {
        Self {
            cursors: vec![0; m.len()],
            vec: Vec::with_capacity(m.len()),
        }
    }

    /// Fills `vec` with the points of `m` at `ts`.
    pub(crate) fn step(&mut self, m: &Matrix, ts: i64) {
        self.vec.clear();
        for (i, s) in m.iter().enumerate() {
            let c = self.cursors[i];
            if let Some(p) = s.points.get(c) {
                if p.t == ts {
                    self.vec.push(StepSample {
                        idx: i as u32,
                        v: p.v,
                    });
                    self.cursors[i] = c + 1;
                }
            }
        }
    }
}

/// What a per-step call sees.
pub(crate) struct StepIn<'x> {
    /// Evaluation time of the step.
    pub ts: i64,
    /// The evaluated argument matrices (empty for string arguments).
    pub inputs: &'x [Matrix],
    /// The per-step vectors of each argument.
    pub vecs: &'x [Vec<StepSample>],
}

impl StepIn<'_> {
    /// The labels of series `idx` of argument `a`.
    pub(crate) fn labels(&self, a: usize, idx: u32) -> &Labels {
        &self.inputs[a][idx as usize].labels
    }

    /// Whether series `idx` of argument `a` is marked to drop its name.
    pub(crate) fn drop_name(&self, a: usize, idx: u32) -> bool {
        self.inputs[a][idx as usize].drop_name
    }

    /// The value of scalar argument `a` at this step (NaN when absent).
    pub(crate) fn scalar(&self, a: usize) -> f64 {
        self.vecs[a].first().map_or(f64::NAN, |s| s.v)
    }
}

impl<'a> Evaluator<'a> {
    /// Number of steps.
    pub(crate) fn steps(&self) -> usize {
        (self.end.saturating_sub(self.start) / self.interval) as usize + 1
    }

    /// Whether this is a single-step evaluation.
    pub(crate) fn instant(&self) -> bool {
        self.start == self.end
    }

    /// Iterates the step timestamps.
    pub(crate) fn times(&self) -> impl Iterator<Item = i64> {
        let (s, e, i) = (self.start, self.end, self.interval);
        (0..self.steps() as i64)
            .map(move |k| s + k * i)
            .take_while(move |t| *t <= e)
    }

    /// Evaluates `node` over the evaluator's steps. Afterwards the samples
    /// in memory are those held before plus the node's result (its inputs
    /// are released), as Prometheus counts them.
    pub(crate) fn eval(&self, node: &Node) -> Result<Val, EvalError> {
        self.ctx.check_deadline()?;
        if self.end < self.start {
            return Ok(Val::Matrix(Vec::new()));
        }
        if self.steps() > self.ctx.max_samples {
            // Even a scalar would need more points than allowed.
            return Err(EvalError::TooManySamples("query execution".into()));
        }
        let before = self.ctx.samples();
        let v = super::limits::guarded(|| self.eval_node(node))?;
        if let Val::Matrix(m) = &v {
            self.ctx.set_samples(before + total_points(m));
        }
        Ok(v)
    }

    fn eval_node(&self, node: &Node) -> Result<Val, EvalError> {
        match node {
            Node::Number(v) => {
                let mut s = Series::new(Labels::empty(), false);
                s.points = self.times().map(|t| Sample { t, v: *v }).collect();
                self.ctx.add_samples(s.points.len())?;
                Ok(Val::Matrix(vec![s]))
            }
            Node::Str(s) => Ok(Val::String(s.clone())),
            Node::Vector(sel) => Ok(Val::Matrix(selectors::instant_vector(self, sel, false)?)),
            Node::Matrix { sel, range } => {
                Ok(Val::Matrix(selectors::range_vector(self, sel, *range)?))
            }
            Node::Subquery {
                expr,
                range,
                step,
                offset,
                at,
            } => Ok(Val::Matrix(
                self.subquery(expr, *range, *step, *offset, *at)?,
            )),
            Node::Call { name, args, .. } => functions::eval_call(self, name, args),
            Node::Aggregate {
                op,
                expr,
                param,
                grouping,
                without,
            } => aggregations::eval(self, *op, expr, param.as_deref(), grouping, *without),
            Node::Neg(e) => {
                let mut m = self.eval(e)?.into_matrix();
                for s in &mut m {
                    if !self.delayed_names {
                        s.labels = drop_metric_labels(&s.labels);
                    }
                    s.drop_name = true;
                    for p in &mut s.points {
                        p.v = -p.v;
                    }
                }
                if !self.delayed_names {
                    m = merge_same_labels(m)?;
                }
                Ok(Val::Matrix(m))
            }
            Node::Binary {
                op,
                lhs,
                rhs,
                matching,
                return_bool,
            } => binary::eval(self, *op, lhs, rhs, matching.as_ref(), *return_bool),
            Node::StepInvariant(inner) => self.step_invariant(inner),
        }
    }

    /// Evaluates a step-invariant expression once and repeats its value.
    fn step_invariant(&self, inner: &Node) -> Result<Val, EvalError> {
        let once = Evaluator {
            end: self.start,
            ..*self
        };
        let v = once.eval(inner)?;
        if matches!(inner, Node::Matrix { .. } | Node::Subquery { .. })
            || inner.kind() == Kind::String
            || self.instant()
        {
            return Ok(v);
        }
        let mut m = v.into_matrix();
        let steps = self.steps();
        for s in &mut m {
            let Some(first) = s.points.first().copied() else {
                continue;
            };
            s.points.reserve(steps.saturating_sub(1));
            for t in self.times().skip(1) {
                s.points.push(Sample { t, v: first.v });
            }
            self.ctx.add_samples(steps - 1)?;
        }
        Ok(Val::Matrix(m))
    }

    /// The evaluator of a subquery's inner expression.
    pub(crate) fn subquery_evaluator(
        &self,
        range: i64,
        step: i64,
        offset: i64,
        at: Option<i64>,
    ) -> Evaluator<'a> {
        let (outer_start, outer_end) = match at {
            Some(t) => (t, t),
            None => {
                let aligned =
                    self.start + ((self.end - self.start) / self.interval) * self.interval;
                (self.start, aligned)
            }
        };
        let end = outer_end.saturating_sub(offset);
        let lower = outer_start.saturating_sub(offset).saturating_sub(range);
        let mut start = step.saturating_mul(lower / step);
        if start <= lower {
            start = start.saturating_add(step);
        }
        Evaluator {
            start,
            end,
            interval: step,
            windows: None,
            ..*self
        }
    }

    /// Evaluates a subquery into its matrix (points at the subquery's steps).
    pub(crate) fn subquery(
        &self,
        expr: &Node,
        range: i64,
        step: i64,
        offset: i64,
        at: Option<i64>,
    ) -> Result<Matrix, EvalError> {
        let child = self.subquery_evaluator(range, step, offset, at);
        Ok(child.eval(expr)?.into_matrix())
    }

    /// Runs `call` at every step on the per-step vectors of `args` and
    /// collects the outputs into series. String arguments are passed as
    /// empty matrices (functions read them from the plan).
    pub(crate) fn range_eval<F>(
        &self,
        inputs: Vec<Matrix>,
        table: &mut Vec<Labels>,
        mut call: F,
    ) -> Result<Matrix, EvalError>
    where
        F: FnMut(&StepIn<'_>, &mut Vec<Labels>, &mut Vec<Out>) -> Result<(), EvalError>,
    {
        let before = self.ctx.samples();
        let mut gathers: Vec<Gather> = inputs.iter().map(Gather::new).collect();
        let mut vecs: Vec<Vec<StepSample>> = vec![Vec::new(); inputs.len()];
        let mut acc = Accum::new(&inputs, self.delayed_names, self.instant());
        let mut outs = Vec::new();
        let mut produced = 0usize;
        for ts in self.times() {
            self.ctx.check_deadline()?;
            for (i, g) in gathers.iter_mut().enumerate() {
                g.step(&inputs[i], ts);
                std::mem::swap(&mut vecs[i], &mut g.vec);
            }
            outs.clear();
            {
                let step = StepIn {
                    ts,
                    inputs: &inputs,
                    vecs: &vecs,
                };
                call(&step, table, &mut outs)?;
            }
            for o in &outs {
                acc.push(&inputs, table, o, ts)?;
            }
            produced += outs.len();
            self.ctx.add_samples(outs.len())?;
            for (i, g) in gathers.iter_mut().enumerate() {
                std::mem::swap(&mut vecs[i], &mut g.vec);
            }
        }
        let m = acc.finish()?;
        debug_assert_eq!(produced, total_points(&m));
        self.ctx.set_samples(before + produced);
        Ok(m)
    }
}

/// Merges series that ended up with the same labels (after dropping
/// names); two points at one time are an error.
pub(crate) fn merge_same_labels(m: Matrix) -> Result<Matrix, EvalError> {
    if !has_duplicates(&m) {
        return Ok(m);
    }
    let mut out: Vec<Series> = Vec::with_capacity(m.len());
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for s in m {
        match index.get(&s.labels) {
            Some(&i) => {
                let base = &mut out[i];
                base.points.extend(s.points);
                base.points.sort_by_key(|p| p.t);
                if base.points.windows(2).any(|w| w[0].t == w[1].t) {
                    return Err(dup_labelset());
                }
            }
            None => {
                index.insert(s.labels.clone(), out.len());
                out.push(s);
            }
        }
    }
    Ok(out)
}
