//! `POST /api/v1/write`: the remote-write receiver (`--web.enable-remote-write-receiver`), so
//! Prometheus agents, vmagent, OpenTelemetry collectors or Alloy can feed the buffer.
//!
//! As Prometheus' handler: the `Content-Type` picks the message (`application/x-protobuf`,
//! with `proto=prometheus.WriteRequest` or none for 1.0, `proto=io.prometheus.write.v2.Request`
//! for 2.0; anything else 415), the body is block-format snappy (`Content-Encoding: snappy` or
//! none; others 415), a body that does not decode is 400, success is 204, and 2.0 answers carry
//! the `X-Prometheus-Remote-Write-*-Written` counts. Refused samples (see `remote::receive`)
//! give a 400 with one line per problem, so the sender does not retry them. Bodies are limited
//! to [`MAX_COMPRESSED_BYTES`] as sent and [`MAX_DECODED_BYTES`] decoded; the write runs on a
//! blocking thread, at most [`MAX_CONCURRENT_WRITES`] at once.

use crate::remote::proto::{RequestV2, WriteRequest};
use crate::remote::receive::{self, Outcome};
use crate::store::Store;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use std::sync::Arc;

/// Largest body accepted as sent (snappy-compressed); larger ones get 413.
pub const MAX_COMPRESSED_BYTES: usize = 32 << 20;
/// Largest body accepted once decompressed; larger ones get 400.
pub const MAX_DECODED_BYTES: usize = 256 << 20;
/// Requests decoded and written at once; further ones wait their turn, so concurrent senders
/// hold at most this many decoded bodies (2 × 256 MiB plus their messages) in memory.
pub const MAX_CONCURRENT_WRITES: usize = 2;

/// The receiver's counters.
#[derive(Clone, Default)]
pub struct RemoteWriteMetrics {
    requests: Family<[(&'static str, &'static str); 2], Counter>,
    samples_written: Counter,
    samples_refused: Counter,
    invalid_labels: Counter,
    histograms_refused: Counter,
}

impl RemoteWriteMetrics {
    /// Registers the families.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "watchfire_remote_write_requests",
            "Remote-write requests received, by protobuf message and HTTP status code",
            self.requests.clone(),
        );
        registry.register(
            "watchfire_remote_write_samples_written",
            "Samples received by remote write and appended to the buffer",
            self.samples_written.clone(),
        );
        registry.register(
            "watchfire_remote_write_samples_refused",
            "Samples received by remote write and refused: out of order, duplicate, out of bounds, or no room for their series",
            self.samples_refused.clone(),
        );
        registry.register(
            "prometheus_api_remote_write_invalid_labels_samples",
            "Samples received by remote write whose series had invalid labels",
            self.invalid_labels.clone(),
        );
        registry.register(
            "watchfire_remote_write_histograms_refused",
            "Native histogram samples received by remote write (the buffer holds floats only)",
            self.histograms_refused.clone(),
        );
    }

    fn record(&self, message: &'static str, code: StatusCode, outcome: Option<&Outcome>) {
        let code: &'static str = match code.as_u16() {
            204 => "204",
            400 => "400",
            413 => "413",
            415 => "415",
            _ => "500",
        };
        self.requests
            .get_or_create(&[("protobuf_message", message), ("code", code)])
            .inc();
        if let Some(o) = outcome {
            self.samples_written.inc_by(o.samples_written);
            self.samples_refused.inc_by(o.samples_refused);
            self.invalid_labels.inc_by(o.invalid_labels_samples);
            self.histograms_refused.inc_by(o.histograms_refused);
        }
    }
}

#[derive(Clone)]
struct Receiver {
    store: Arc<Store>,
    metrics: RemoteWriteMetrics,
    /// [`MAX_CONCURRENT_WRITES`] permits.
    slots: Arc<tokio::sync::Semaphore>,
}

/// The receiver's route, with its own body limit (the API's 1 MiB limit and gzip decoding do
/// not apply: remote write is snappy and batches are larger).
pub fn remote_write_router(store: Arc<Store>, metrics: RemoteWriteMetrics) -> Router {
    Router::new()
        .route("/api/v1/write", post(write))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_COMPRESSED_BYTES,
        ))
        .with_state(Receiver {
            store,
            metrics,
            slots: Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_WRITES)),
        })
}

/// Which message a request holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Message {
    V1,
    V2,
}

impl Message {
    fn name(self) -> &'static str {
        match self {
            Message::V1 => "prometheus.WriteRequest",
            Message::V2 => "io.prometheus.write.v2.Request",
        }
    }

    /// The message named by a `Content-Type`, as Prometheus reads it.
    fn from_content_type(value: &str) -> Result<Message, String> {
        if value.trim().is_empty() {
            return Ok(Message::V1);
        }
        let mut parts = value.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default();
        if !media.eq_ignore_ascii_case("application/x-protobuf") {
            return Err(format!(
                "expected application/x-protobuf as the first (media) part, got {value} content-type"
            ));
        }
        for p in parts {
            let Some((k, v)) = p.split_once('=') else {
                continue;
            };
            if k.trim().eq_ignore_ascii_case("proto") {
                let v = v.trim().trim_matches('"');
                return match v {
                    "prometheus.WriteRequest" => Ok(Message::V1),
                    "io.prometheus.write.v2.Request" => Ok(Message::V2),
                    other => Err(format!("unknown remote write protobuf message {other}, supported: prometheus.WriteRequest, io.prometheus.write.v2.Request")),
                };
            }
        }
        Ok(Message::V1)
    }
}

fn text(code: StatusCode, message: String) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message + "\n",
    )
        .into_response()
}

async fn write(State(rx): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    let header_text = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let message = match Message::from_content_type(header_text(header::CONTENT_TYPE)) {
        Ok(m) => m,
        Err(e) => {
            rx.metrics
                .record("unknown", StatusCode::UNSUPPORTED_MEDIA_TYPE, None);
            return text(StatusCode::UNSUPPORTED_MEDIA_TYPE, e);
        }
    };
    let encoding = header_text(header::CONTENT_ENCODING);
    if !encoding.is_empty() && !encoding.eq_ignore_ascii_case("snappy") {
        rx.metrics
            .record(message.name(), StatusCode::UNSUPPORTED_MEDIA_TYPE, None);
        return text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("{encoding} encoding (compression) is not accepted by this server; only snappy is acceptable"),
        );
    }
    let metrics = rx.metrics.clone();
    // The semaphore is never closed; a permit is held until the write is done.
    let Ok(permit) = rx.slots.clone().acquire_owned().await else {
        return text(StatusCode::SERVICE_UNAVAILABLE, "shutting down".to_owned());
    };
    let job = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let decoded = decode(&body, message)?;
        let now = chrono::Utc::now().timestamp_millis();
        Ok::<_, String>(match decoded {
            Decoded::V1(req) => receive::write_v1(&rx.store, &req, now),
            Decoded::V2(req) => receive::write_v2(&rx.store, &req, now),
        })
    });
    let outcome = match job.await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(e)) => {
            metrics.record(message.name(), StatusCode::BAD_REQUEST, None);
            return text(StatusCode::BAD_REQUEST, e);
        }
        Err(e) => {
            metrics.record(message.name(), StatusCode::INTERNAL_SERVER_ERROR, None);
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("remote write failed: {e}"),
            );
        }
    };
    let (code, mut response) = match outcome.bad_request() {
        Some(problems) => {
            tracing::warn!(problems = %problems, "remote write: samples refused");
            (
                StatusCode::BAD_REQUEST,
                text(StatusCode::BAD_REQUEST, problems),
            )
        }
        None => (
            StatusCode::NO_CONTENT,
            StatusCode::NO_CONTENT.into_response(),
        ),
    };
    metrics.record(message.name(), code, Some(&outcome));
    if message == Message::V2 {
        let h = response.headers_mut();
        h.insert(
            "X-Prometheus-Remote-Write-Samples-Written",
            outcome.samples_written.into(),
        );
        h.insert("X-Prometheus-Remote-Write-Histograms-Written", 0.into());
        h.insert("X-Prometheus-Remote-Write-Exemplars-Written", 0.into());
    }
    response
}

#[derive(Debug)]
enum Decoded {
    V1(WriteRequest),
    V2(RequestV2),
}

/// Snappy, then protobuf; each failure is the 400 text.
fn decode(body: &[u8], message: Message) -> Result<Decoded, String> {
    let len = snap::raw::decompress_len(body).map_err(|e| format!("snappy decode: {e}"))?;
    if len > MAX_DECODED_BYTES {
        return Err(format!(
            "decoded body of {len} bytes is over the limit of {MAX_DECODED_BYTES} bytes"
        ));
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| format!("snappy decode: {e}"))?;
    let what = message.name();
    match message {
        Message::V1 => prost::Message::decode(raw.as_slice()).map(Decoded::V1),
        Message::V2 => prost::Message::decode(raw.as_slice()).map(Decoded::V2),
    }
    .map_err(|e| format!("decoding {what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_pick_the_message_as_prometheus_does() {
        assert_eq!(Message::from_content_type(""), Ok(Message::V1));
        assert_eq!(
            Message::from_content_type("application/x-protobuf"),
            Ok(Message::V1)
        );
        assert_eq!(
            Message::from_content_type("application/x-protobuf;proto=prometheus.WriteRequest"),
            Ok(Message::V1)
        );
        assert_eq!(
            Message::from_content_type(
                "application/x-protobuf; proto=io.prometheus.write.v2.Request"
            ),
            Ok(Message::V2)
        );
        assert!(Message::from_content_type("application/json").is_err());
        assert!(
            Message::from_content_type("application/x-protobuf;proto=foo.Bar")
                .unwrap_err()
                .contains("unknown remote write protobuf message foo.Bar")
        );
    }

    #[test]
    fn bodies_that_do_not_decode_are_refused_with_the_reason() {
        assert!(decode(b"not snappy at all", Message::V1)
            .unwrap_err()
            .starts_with("snappy decode"));
        // A snappy header claiming 1 GiB of output is refused before anything is allocated.
        let mut huge = Vec::new();
        let mut n: u64 = 1 << 30;
        while n >= 0x80 {
            huge.push((n as u8) | 0x80);
            n >>= 7;
        }
        huge.push(n as u8);
        assert!(decode(&huge, Message::V1)
            .unwrap_err()
            .contains("over the limit"));
        let garbage = snap::raw::Encoder::new().compress_vec(&[0xff; 16]).unwrap();
        assert!(decode(&garbage, Message::V2)
            .unwrap_err()
            .starts_with("decoding io.prometheus.write.v2.Request"));
    }
}
