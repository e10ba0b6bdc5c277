//! One batch into a request body: a Remote Write 1.0 or 2.0 message, snappy block-compressed.

use super::super::proto::{Label, RequestV2, Sample, TimeSeries, TimeSeriesV2, WriteRequest};
use crate::config::ProtobufMessage;
use crate::model::Labels;
use prost::Message;
use std::collections::HashMap;
use std::sync::Arc;

/// A sample waiting in a shard, with its series' outgoing labels.
#[derive(Clone, Debug)]
pub(crate) struct Pending {
    pub labels: Arc<Labels>,
    pub t: i64,
    pub v: f64,
}

/// An encoded, compressed request body and what it carries.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Encoded {
    pub body: Vec<u8>,
    pub samples: u32,
    pub highest_ts: i64,
}

/// Encodes `batch` (in append order; a series' samples keep their order) as `format`.
pub(crate) fn encode(batch: &[Pending], format: ProtobufMessage) -> Encoded {
    let highest_ts = batch.iter().map(|p| p.t).max().unwrap_or(0);
    let raw = match format {
        ProtobufMessage::V1 => v1(batch).encode_to_vec(),
        ProtobufMessage::V2 => v2(batch).encode_to_vec(),
    };
    let body = snap::raw::Encoder::new()
        .compress_vec(&raw)
        .unwrap_or_default();
    Encoded {
        body,
        samples: batch.len() as u32,
        highest_ts,
    }
}

/// Groups samples by series (by pointer first: a shard shares one `Arc` per series), keeping
/// the first-seen order of series and the order of samples within each.
fn grouped(batch: &[Pending]) -> Vec<(&Arc<Labels>, Vec<Sample>)> {
    let mut index: HashMap<*const Labels, usize> = HashMap::new();
    let mut out: Vec<(&Arc<Labels>, Vec<Sample>)> = Vec::new();
    for p in batch {
        let key = Arc::as_ptr(&p.labels);
        let i = *index.entry(key).or_insert_with(|| {
            out.push((&p.labels, Vec::new()));
            out.len() - 1
        });
        out[i].1.push(Sample {
            value: p.v,
            timestamp: p.t,
        });
    }
    out
}

fn v1(batch: &[Pending]) -> WriteRequest {
    let timeseries = grouped(batch)
        .into_iter()
        .map(|(labels, samples)| TimeSeries {
            labels: labels
                .iter()
                .map(|l| Label {
                    name: l.name.to_string(),
                    value: l.value.to_string(),
                })
                .collect(),
            samples,
            exemplars: Vec::new(),
            histograms: Vec::new(),
        })
        .collect();
    WriteRequest { timeseries }
}

fn v2(batch: &[Pending]) -> RequestV2 {
    let mut symbols: Vec<String> = vec![String::new()];
    let mut refs: HashMap<Arc<str>, u32> = HashMap::new();
    let mut symbol = |s: &Arc<str>, symbols: &mut Vec<String>| -> u32 {
        *refs.entry(s.clone()).or_insert_with(|| {
            symbols.push(s.to_string());
            (symbols.len() - 1) as u32
        })
    };
    let mut timeseries = Vec::new();
    for (labels, samples) in grouped(batch) {
        let mut labels_refs = Vec::with_capacity(labels.len() * 2);
        for l in labels.iter() {
            labels_refs.push(symbol(&l.name, &mut symbols));
            labels_refs.push(symbol(&l.value, &mut symbols));
        }
        timeseries.push(TimeSeriesV2 {
            labels_refs,
            samples,
            histograms: Vec::new(),
            exemplars: Vec::new(),
            metadata: None,
            created_timestamp: 0,
        });
    }
    RequestV2 {
        symbols,
        timeseries,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> Vec<Pending> {
        let a = Arc::new(Labels::from_pairs([("__name__", "up"), ("job", "a")]));
        let b = Arc::new(Labels::from_pairs([("__name__", "up"), ("job", "b")]));
        vec![
            Pending {
                labels: a.clone(),
                t: 1000,
                v: 1.0,
            },
            Pending {
                labels: b.clone(),
                t: 1000,
                v: 0.0,
            },
            Pending {
                labels: a,
                t: 2000,
                v: 2.0,
            },
            Pending {
                labels: b,
                t: 3000,
                v: 5.0,
            },
        ]
    }

    fn raw(e: &Encoded) -> Vec<u8> {
        snap::raw::Decoder::new().decompress_vec(&e.body).unwrap()
    }

    #[test]
    fn v1_groups_series_and_keeps_sample_order() {
        let e = encode(&batch(), ProtobufMessage::V1);
        assert_eq!((e.samples, e.highest_ts), (4, 3000));
        let req = WriteRequest::decode(raw(&e).as_slice()).unwrap();
        assert_eq!(req.timeseries.len(), 2);
        let a = &req.timeseries[0];
        assert_eq!(a.labels[1].value, "a");
        let ts: Vec<i64> = a.samples.iter().map(|s| s.timestamp).collect();
        assert_eq!(ts, [1000, 2000]);
        assert_eq!(req.timeseries[1].samples[1].value, 5.0);
    }

    #[test]
    fn v2_uses_a_symbol_table_starting_with_the_empty_string() {
        let e = encode(&batch(), ProtobufMessage::V2);
        let req = RequestV2::decode(raw(&e).as_slice()).unwrap();
        assert_eq!(req.symbols, ["", "__name__", "up", "job", "a", "b"]);
        assert_eq!(req.timeseries[0].labels_refs, [1, 2, 3, 4]);
        assert_eq!(req.timeseries[1].labels_refs, [1, 2, 3, 5]);
        assert_eq!(req.timeseries[1].samples.len(), 2);
        // What watchfire's own receiver reads back.
        let store = crate::store::Store::default();
        let out = crate::remote::receive::write_v2(&store, &req, 3000);
        assert_eq!(out.samples_written, 4, "{out:?}");
    }
}
