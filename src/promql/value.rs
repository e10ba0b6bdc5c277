//! PromQL values.

use crate::model::{Labels, Sample};

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct InstantSample {
    /// The series' labels.
    pub labels: Labels,
    /// Timestamp (ms).
    pub t: i64,
    /// Value.
    pub v: f64,
}

/// One series of a range vector (matrix).
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    /// The series' labels.
    pub labels: Labels,
    /// Samples in time order.
    pub samples: Vec<Sample>,
}

/// A PromQL value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar at a time (ms).
    Scalar { t: i64, v: f64 },
    /// A string at a time (ms).
    String { t: i64, v: String },
    /// An instant vector.
    Vector(Vec<InstantSample>),
    /// A range vector.
    Matrix(Vec<RangeSeries>),
}
