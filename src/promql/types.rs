//! Internal evaluation values: every expression evaluates over the whole
//! step range to a matrix of per-step points (as Prometheus' engine does);
//! scalars are a matrix with one label-less series.

use crate::model::{Labels, Sample};
use std::cell::{Cell, RefCell};
use std::time::Instant;

use super::{CancelFlag, EvalError};

/// What one sample in an intermediate result costs, for the byte budget.
pub(crate) const SAMPLE_BYTES: usize = std::mem::size_of::<Sample>();

/// One series of an intermediate result: one point per step at most.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    /// The series' labels.
    pub labels: Labels,
    /// Points in time order.
    pub points: Vec<Sample>,
    /// The metric name is to be dropped at the end (delayed name removal).
    pub drop_name: bool,
}

impl Series {
    pub(crate) fn new(labels: Labels, drop_name: bool) -> Self {
        Self {
            labels,
            points: Vec::new(),
            drop_name,
        }
    }
}

/// An intermediate result.
pub(crate) type Matrix = Vec<Series>;

/// The value of an evaluated node.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    /// Vectors, scalars (one series) and range vectors.
    Matrix(Matrix),
    /// A string literal.
    String(String),
}

impl Val {
    pub(crate) fn into_matrix(self) -> Matrix {
        match self {
            Val::Matrix(m) => m,
            Val::String(_) => Vec::new(),
        }
    }
}

/// Total points held by a matrix.
pub(crate) fn total_points(m: &Matrix) -> usize {
    m.iter().map(|s| s.points.len()).sum()
}

/// Annotations collected while evaluating, deduplicated.
#[derive(Debug, Default, Clone)]
pub(crate) struct Annotations {
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

impl Annotations {
    pub(crate) fn warn(&mut self, msg: String) {
        let m = format!("PromQL warning: {msg}");
        if !self.warnings.contains(&m) {
            self.warnings.push(m);
        }
    }

    pub(crate) fn info(&mut self, msg: String) {
        let m = format!("PromQL info: {msg}");
        if !self.infos.contains(&m) {
            self.infos.push(m);
        }
    }
}

/// The limits one query runs under.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// The query fails past this instant.
    pub deadline: Instant,
    /// Most samples held in memory at once.
    pub max_samples: usize,
    /// Most bytes: samples held (at [`SAMPLE_BYTES`] each) plus label text created.
    pub max_bytes: usize,
    /// Set by the caller to stop the query (its client went away).
    pub cancel: CancelFlag,
}

/// State shared by all evaluators of one query: limits and annotations.
#[derive(Debug)]
pub(crate) struct QueryCtx {
    pub deadline: Instant,
    pub max_samples: usize,
    pub current: Cell<usize>,
    pub annos: RefCell<Annotations>,
    ticks: Cell<u32>,
    max_bytes: usize,
    label_bytes: Cell<usize>,
    cancel: CancelFlag,
}

impl QueryCtx {
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            deadline: limits.deadline,
            max_samples: limits.max_samples,
            current: Cell::new(0),
            annos: RefCell::new(Annotations::default()),
            ticks: Cell::new(0),
            max_bytes: limits.max_bytes,
            label_bytes: Cell::new(0),
            cancel: limits.cancel,
        }
    }

    /// Fails when the query ran past its deadline or was cancelled; cheap enough to call in
    /// loops.
    #[inline]
    pub(crate) fn tick(&self) -> Result<(), EvalError> {
        let t = self.ticks.get().wrapping_add(1);
        self.ticks.set(t);
        if t % 1024 == 0 {
            self.check_deadline()?;
        }
        Ok(())
    }

    /// Fails when the query ran past its deadline or was cancelled.
    pub(crate) fn check_deadline(&self) -> Result<(), EvalError> {
        if self.cancel.is_cancelled() {
            return Err(EvalError::Canceled("expression evaluation".into()));
        }
        if Instant::now() > self.deadline {
            return Err(EvalError::Timeout("expression evaluation".into()));
        }
        Ok(())
    }

    /// Counts `n` more samples in memory; fails past the sample or the byte limit.
    #[inline]
    pub(crate) fn add_samples(&self, n: usize) -> Result<(), EvalError> {
        let c = self.current.get().saturating_add(n);
        self.current.set(c);
        if c > self.max_samples {
            return Err(EvalError::TooManySamples("query execution".into()));
        }
        self.check_bytes(0, "query execution")
    }

    /// Counts a label value of `n` bytes the query is about to create; fails (before anything
    /// is allocated) when that would take the query past its byte budget. A new value exists
    /// twice for a moment (built, then copied into the series' label set), so it counts twice.
    pub(crate) fn add_label_bytes(&self, n: usize, place: &str) -> Result<(), EvalError> {
        let n = n.saturating_mul(2);
        self.check_bytes(n, place)?;
        self.label_bytes
            .set(self.label_bytes.get().saturating_add(n));
        self.tick()
    }

    /// Bytes the query holds or created: samples in memory plus label text created.
    pub(crate) fn bytes(&self) -> usize {
        self.current
            .get()
            .saturating_mul(SAMPLE_BYTES)
            .saturating_add(self.label_bytes.get())
    }

    fn check_bytes(&self, more: usize, place: &str) -> Result<(), EvalError> {
        if self.bytes().saturating_add(more) > self.max_bytes {
            return Err(EvalError::TooManyBytes {
                place: place.to_string(),
                limit: self.max_bytes,
            });
        }
        Ok(())
    }

    /// Sets the count of samples in memory.
    pub(crate) fn set_samples(&self, n: usize) {
        self.current.set(n);
    }

    /// The count of samples in memory.
    pub(crate) fn samples(&self) -> usize {
        self.current.get()
    }

    pub(crate) fn warn(&self, msg: String) {
        self.annos.borrow_mut().warn(msg);
    }

    pub(crate) fn info(&self, msg: String) {
        self.annos.borrow_mut().info(msg);
    }
}
