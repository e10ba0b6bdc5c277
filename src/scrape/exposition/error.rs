//! Parse errors with a position.

use thiserror::Error;

/// A payload the parser refuses, with the position of the offending byte.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line {line}, column {column}: {kind}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong.
    pub kind: ParseErrorKind,
}

/// What is wrong with a payload.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The grammar allows something else here; `found` shows the input.
    #[error("expected {expected}, found {found}")]
    Unexpected {
        /// What the grammar allows.
        expected: &'static str,
        /// A short quoted excerpt of the input, `end of line` or `end of input`.
        found: String,
    },
    /// A quoted string without its closing quote.
    #[error("unterminated quoted string")]
    UnterminatedString,
    /// A byte that a quoted string may not hold in this format (a line feed,
    /// a NUL, or a backslash before a line feed).
    #[error("{found} not allowed in quoted string")]
    ForbiddenInString {
        /// The byte, described.
        found: &'static str,
    },
    /// A sample value, timestamp or exemplar value that is not a number.
    #[error("invalid {what} {text:?}: {reason}")]
    InvalidNumber {
        /// `sample value`, `timestamp`, `exemplar value` or `exemplar timestamp`.
        what: &'static str,
        /// The token as written (lossily decoded).
        text: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A `# TYPE` line naming a type this format does not have.
    #[error("invalid metric type {0:?}")]
    InvalidMetricType(String),
    /// Text that must be UTF-8 is not.
    #[error("invalid utf-8 in {0}")]
    InvalidUtf8(&'static str),
    /// The same label name twice in one sample (`__name__` counts).
    #[error("duplicate label name {0:?}")]
    DuplicateLabel(String),
    /// A label list without a metric name, bare or quoted.
    #[error("metric name not set")]
    MetricNameNotSet,
    /// Two metric names in one sample.
    #[error("metric name already set")]
    MetricNameAlreadySet,
    /// A quoted metric or label name with nothing between the quotes.
    #[error("empty {0}")]
    EmptyName(&'static str),
    /// An OpenMetrics `# UNIT` that is not a suffix of the metric name.
    #[error("unit {unit:?} is not a suffix of metric {metric:?}")]
    UnitNotSuffix {
        /// The unit.
        unit: String,
        /// The metric name.
        metric: String,
    },
    /// OpenMetrics input that ends without `# EOF`.
    #[error("data does not end with # EOF")]
    MissingEof,
    /// OpenMetrics input with something after `# EOF`.
    #[error("unexpected data after # EOF")]
    DataAfterEof,
}

/// Describes the input at `pos` for an error message: a short quoted excerpt,
/// `end of line` or `end of input`.
pub(super) fn describe(b: &[u8], pos: usize) -> String {
    match b.get(pos) {
        None => "end of input".to_string(),
        Some(b'\n') => "end of line".to_string(),
        Some(_) => {
            let rest = &b[pos..];
            let mut end = rest
                .iter()
                .position(|&c| matches!(c, b' ' | b'\t' | b'\n'))
                .unwrap_or(rest.len())
                .clamp(1, 24);
            while end < rest.len() && end < 28 && (rest[end] & 0xC0) == 0x80 {
                end += 1; // finish a UTF-8 sequence rather than cut it
            }
            let mut out = String::from("\"");
            for c in String::from_utf8_lossy(&rest[..end]).chars() {
                match c {
                    '"' | '\\' => {
                        out.push('\\');
                        out.push(c);
                    }
                    c if c.is_control() => out.extend(c.escape_default()),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
    }
}

/// 1-based line and character column of byte `at`, given that byte
/// `line_start` begins line `line` (`at` may lie before or after it).
pub(super) fn locate(b: &[u8], at: usize, line: usize, line_start: usize) -> (usize, usize) {
    let at = at.min(b.len());
    let line_start = line_start.min(b.len());
    let line = if at >= line_start {
        line + b[line_start..at].iter().filter(|&&c| c == b'\n').count()
    } else {
        let earlier = b[at..line_start].iter().filter(|&&c| c == b'\n').count();
        line.saturating_sub(earlier).max(1)
    };
    let start = b[..at]
        .iter()
        .rposition(|&c| c == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&b[start..at]).chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_input_briefly() {
        assert_eq!(describe(b"abc def", 0), "\"abc\"");
        assert_eq!(describe(b"a\n", 1), "end of line");
        assert_eq!(describe(b"a", 1), "end of input");
        assert_eq!(describe(b"\x00x", 0), "\"\\u{0}x\"");
        assert_eq!(describe(b"'a\"\\\r", 0), "\"'a\\\"\\\\\\r\"");
        assert_eq!(
            describe("ééééééééééééééééé".as_bytes(), 0),
            "\"éééééééééééé\""
        );
    }

    #[test]
    fn locates_lines_and_columns() {
        let b = "ab\nçd\nef".as_bytes();
        assert_eq!(locate(b, 0, 1, 0), (1, 1));
        assert_eq!(locate(b, 6, 2, 3), (2, 3));
        assert_eq!(locate(b, 1, 3, 7), (1, 2));
        assert_eq!(locate(b, 99, 3, 7), (3, 3));
        assert_eq!(locate(b, 7, 1, 0), (3, 1));
    }

    #[test]
    fn displays_position_and_reason() {
        let e = ParseError {
            line: 3,
            column: 7,
            kind: ParseErrorKind::MetricNameNotSet,
        };
        assert_eq!(e.to_string(), "line 3, column 7: metric name not set");
        let e = ParseErrorKind::Unexpected {
            expected: "label value",
            found: "\"'\"".into(),
        };
        assert_eq!(e.to_string(), "expected label value, found \"'\"");
    }
}
