//! The remote-write messages. Field numbers and types follow the Remote Write 1.0 and 2.0
//! specifications; fields watchfire does not store (native histograms, exemplars, 1.0
//! metadata) are kept as raw bytes so they can be counted, or skipped by prost as unknown.

/// `prometheus.WriteRequest` (Remote Write 1.0).
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    /// The series with their samples.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// Name/value pairs.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Float samples, oldest first.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Exemplars, not stored (raw messages).
    #[prost(bytes = "vec", repeated, tag = "3")]
    pub exemplars: Vec<Vec<u8>>,
    /// Native histograms, not stored (raw messages, counted as refused).
    #[prost(bytes = "vec", repeated, tag = "4")]
    pub histograms: Vec<Vec<u8>>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    /// Label name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Label value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample` (also `io.prometheus.write.v2.Sample`: same fields and numbers).
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Sample {
    /// The value.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// `io.prometheus.write.v2.Request` (Remote Write 2.0).
#[derive(Clone, PartialEq, prost::Message)]
pub struct RequestV2 {
    /// The strings label and metadata references point into; starts with "".
    #[prost(string, repeated, tag = "4")]
    pub symbols: Vec<String>,
    /// The series.
    #[prost(message, repeated, tag = "5")]
    pub timeseries: Vec<TimeSeriesV2>,
}

/// `io.prometheus.write.v2.TimeSeries`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeriesV2 {
    /// Name and value references into `symbols`, in pairs.
    #[prost(uint32, repeated, tag = "1")]
    pub labels_refs: Vec<u32>,
    /// Float samples, oldest first.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Native histograms, not stored (raw messages, counted as refused).
    #[prost(bytes = "vec", repeated, tag = "3")]
    pub histograms: Vec<Vec<u8>>,
    /// Exemplars, not stored (raw messages).
    #[prost(bytes = "vec", repeated, tag = "4")]
    pub exemplars: Vec<Vec<u8>>,
    /// Type, help and unit references.
    #[prost(message, optional, tag = "5")]
    pub metadata: Option<MetadataV2>,
    /// Created timestamp in milliseconds (0: unset).
    #[prost(int64, tag = "6")]
    pub created_timestamp: i64,
}

/// `io.prometheus.write.v2.Metadata`.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct MetadataV2 {
    /// The metric type (`METRIC_TYPE_*`, 0 unspecified).
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    /// Reference to the help text in `symbols`.
    #[prost(uint32, tag = "3")]
    pub help_ref: u32,
    /// Reference to the unit in `symbols`.
    #[prost(uint32, tag = "4")]
    pub unit_ref: u32,
}
