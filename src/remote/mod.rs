//! Prometheus remote write: the wire messages, what watchfire does with a write it
//! receives (`POST /api/v1/write` with `--web.enable-remote-write-receiver`), and the sender
//! of `remote_write:` (`write/`).
//!
//! - `proto.rs`: Remote Write 1.0 (`prometheus.WriteRequest`) and 2.0
//!   (`io.prometheus.write.v2.Request`) as prost messages, written from the published
//!   specification's field numbers (no protoc at build time, no upstream file in the tree).
//! - `receive.rs`: a decoded request into the buffer, with Prometheus' validation: a series
//!   needs `__name__` and valid, unique label names; samples more than 10 minutes in the future,
//!   older than the buffer's window, out of order, or duplicates with another value are refused
//!   and reported. The buffer has no transactions, so both versions follow Remote Write 2.0's
//!   partial-write rule: good samples are kept, a 400 reports the rest (Prometheus rolls a 1.0
//!   request back instead; the sender drops it either way).

pub mod proto;
pub mod receive;
pub mod write;
