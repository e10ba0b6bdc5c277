//! Choosing the grammar from the response's `Content-Type`, as Prometheus'
//! `textparse.New` does.

use thiserror::Error;

use super::Format;

/// Why a `Content-Type` does not name a format this parser reads. The scrape
/// loop may then use the target's `fallback_scrape_protocol`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ContentTypeError {
    /// The header is absent or blank.
    #[error("blank content type")]
    Blank,
    /// The header is not a media type (`invalid/`, `/`, a duplicated parameter).
    #[error("cannot parse content type {0:?}")]
    Malformed(String),
    /// A media type this parser does not read (protobuf included).
    #[error("unsupported content type {0:?}")]
    Unsupported(String),
}

/// A token as RFC 7231 defines it (`tchar`).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c))
}

impl Format {
    /// The format for a response's `Content-Type`: `text/plain` is the
    /// Prometheus text format (any version), `application/openmetrics-text`
    /// is OpenMetrics. Parameters (`version`, `charset`, `escaping`) are
    /// checked for syntax only.
    pub fn from_content_type(content_type: &str) -> Result<Format, ContentTypeError> {
        let content_type = content_type.trim();
        if content_type.is_empty() {
            return Err(ContentTypeError::Blank);
        }
        let malformed = || ContentTypeError::Malformed(content_type.to_string());
        let mut parts = content_type.split(';');
        let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let (kind, sub) = essence.split_once('/').ok_or_else(malformed)?;
        if !is_token(kind) || !is_token(sub) {
            return Err(malformed());
        }
        let mut seen: Vec<String> = Vec::new();
        for param in parts {
            let param = param.trim();
            if param.is_empty() {
                continue;
            }
            let (key, value) = param.split_once('=').ok_or_else(malformed)?;
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim();
            let quoted = value.len() >= 2 && value.starts_with('"') && value.ends_with('"');
            if !is_token(&key) || !(quoted || is_token(value)) || seen.contains(&key) {
                return Err(malformed());
            }
            seen.push(key);
        }
        match essence.as_str() {
            "text/plain" => Ok(Format::PrometheusText),
            "application/openmetrics-text" => Ok(Format::OpenMetrics),
            _ => Err(ContentTypeError::Unsupported(content_type.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_parser_like_prometheus() {
        let ok = [
            (
                "text/plain; version=0.0.4; charset=utf-8",
                Format::PrometheusText,
            ),
            (
                "text/plain;version=1.0.0;escaping=allow-utf-8",
                Format::PrometheusText,
            ),
            ("Text/Plain", Format::PrometheusText),
            (
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                Format::OpenMetrics,
            ),
            (
                "application/openmetrics-text;version=\"0.0.1\"",
                Format::OpenMetrics,
            ),
        ];
        for (ct, want) in ok {
            assert_eq!(Format::from_content_type(ct), Ok(want), "{ct}");
        }
        let blank = Format::from_content_type("  ");
        assert_eq!(blank, Err(ContentTypeError::Blank));
        for ct in [
            "invalid/",
            "/",
            "text",
            "text/plain; charset=utf-8; charset=utf-8",
            "a/b; x",
        ] {
            assert!(
                matches!(
                    Format::from_content_type(ct),
                    Err(ContentTypeError::Malformed(_))
                ),
                "{ct}"
            );
        }
        for ct in [
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily",
            "application/json",
        ] {
            assert!(
                matches!(
                    Format::from_content_type(ct),
                    Err(ContentTypeError::Unsupported(_))
                ),
                "{ct}"
            );
        }
        let e = Format::from_content_type("application/json").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unsupported content type \"application/json\""
        );
    }
}
