//! The parser's state and the helpers both grammars share.

use std::iter::FusedIterator;

use super::error::{describe, locate};
use super::labels::{find_duplicate, FloatLabel, LabelSet, RawStr};
use super::lex::{parse_float, scan_quoted, NumberError, QuoteFail, QuoteRules};
use super::{Entry, Format, MetricType, ParseError, ParseErrorKind, Sample, NORMAL_NAN_BITS};

/// A streaming parser over one payload. Iterate it (or call
/// [`Parser::next_entry`]) to get entries in input order; after the first
/// error it yields nothing more, as a scrape fails on the first error.
#[derive(Debug, Clone)]
pub struct Parser<'a> {
    pub(super) b: &'a [u8],
    /// The whole input when it is valid UTF-8 (almost always): slicing it is
    /// then free, otherwise each piece is checked on its own.
    text: Option<&'a str>,
    format: Format,
    pub(super) pos: usize,
    /// 1-based number of the line that starts at `line_start`.
    pub(super) line: usize,
    pub(super) line_start: usize,
    pub(super) metric_type: MetricType,
    done: bool,
    /// Scratch: label names of the current sample, for the duplicate check.
    pub(super) names: Vec<RawStr<'a>>,
}

/// Where a sample's pieces lie in the input, gathered by either grammar.
pub(super) struct SampleSpans<'a> {
    pub start: usize,
    pub series_end: usize,
    /// The text between the braces (an empty range without braces).
    pub inner: (usize, usize),
    pub name: RawStr<'a>,
    pub value: f64,
    pub timestamp: Option<i64>,
    pub line: usize,
}

impl<'a> Parser<'a> {
    /// A parser over `input` in `format`.
    pub fn new(input: &'a [u8], format: Format) -> Self {
        Self::with_text(input, std::str::from_utf8(input).ok(), format)
    }

    /// A parser over text already known to be UTF-8.
    pub fn new_str(input: &'a str, format: Format) -> Self {
        Self::with_text(input.as_bytes(), Some(input), format)
    }

    fn with_text(b: &'a [u8], text: Option<&'a str>, format: Format) -> Self {
        Self {
            b,
            text,
            format,
            pos: 0,
            line: 1,
            line_start: 0,
            metric_type: MetricType::Unknown,
            done: false,
            names: Vec::new(),
        }
    }

    /// The format this parser reads.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The type of the most recent `# TYPE` line so far.
    pub fn metric_type(&self) -> MetricType {
        self.metric_type
    }

    /// The next entry, `Ok(None)` at the end of the payload.
    pub fn next_entry(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        if self.done {
            return Ok(None);
        }
        let result = match self.format {
            Format::PrometheusText => self.next_text(),
            Format::OpenMetrics => self.next_openmetrics(),
        };
        if !matches!(result, Ok(Some(_))) {
            self.done = true;
        }
        result
    }

    /// An error of `kind` at byte `at`.
    pub(super) fn err(&self, at: usize, kind: ParseErrorKind) -> ParseError {
        let (line, column) = locate(self.b, at, self.line, self.line_start);
        ParseError { line, column, kind }
    }

    /// An "expected X, found <input at `at`>" error.
    pub(super) fn unexpected(&self, at: usize, expected: &'static str) -> ParseError {
        self.err(
            at,
            ParseErrorKind::Unexpected {
                expected,
                found: describe(self.b, at),
            },
        )
    }

    /// The input between `start` and `end` as text; `what` names it in the
    /// error when it is not UTF-8.
    pub(super) fn str_at(
        &self,
        start: usize,
        end: usize,
        what: &'static str,
    ) -> Result<&'a str, ParseError> {
        if let Some(s) = self.text.and_then(|t| t.get(start..end)) {
            return Ok(s);
        }
        let bytes = self.b.get(start..end).unwrap_or_default();
        std::str::from_utf8(bytes)
            .map_err(|e| self.err(start + e.valid_up_to(), ParseErrorKind::InvalidUtf8(what)))
    }

    /// Reads the quoted string opening at `open`: its contents and the index
    /// after the closing quote. Keeps the line count right across raw line
    /// feeds inside the quotes.
    pub(super) fn quoted(
        &mut self,
        open: usize,
        rules: QuoteRules,
        what: &'static str,
    ) -> Result<(RawStr<'a>, usize), ParseError> {
        match scan_quoted(self.b, open, rules) {
            Ok(q) => {
                let raw = self.str_at(open + 1, q.end - 1, what)?;
                if q.newlines > 0 {
                    self.line += q.newlines;
                    self.line_start = q.last_newline + 1;
                }
                Ok((RawStr::new(raw, q.escaped), q.end))
            }
            Err(QuoteFail::Unterminated) => Err(self.err(open, ParseErrorKind::UnterminatedString)),
            Err(QuoteFail::Forbidden(at)) => {
                let found = match self.b.get(at) {
                    Some(b'\n') if self.b.get(at.wrapping_sub(1)) == Some(&b'\\') => {
                        "backslash before line feed"
                    }
                    Some(b'\n') => "line feed",
                    _ => "nul byte",
                };
                Err(self.err(at, ParseErrorKind::ForbiddenInString { found }))
            }
        }
    }

    /// Parses the number token between `start` and `end`.
    pub(super) fn number(
        &self,
        start: usize,
        end: usize,
        what: &'static str,
    ) -> Result<f64, ParseError> {
        let bytes = self.b.get(start..end).unwrap_or_default();
        let parsed = match self.str_at(start, end, what) {
            Ok(s) => parse_float(s),
            Err(_) => Err(NumberError::Syntax),
        };
        parsed.map_err(|e| {
            let reason = match e {
                NumberError::Unsupported => "unsupported character in float",
                NumberError::Syntax => "invalid syntax",
                NumberError::Range => "value out of range",
            };
            let text = String::from_utf8_lossy(bytes).into_owned();
            self.err(start, ParseErrorKind::InvalidNumber { what, text, reason })
        })
    }

    /// Consumes the line feed at `self.pos`.
    pub(super) fn newline(&mut self) {
        self.pos += 1;
        self.line += 1;
        self.line_start = self.pos;
    }

    /// Finishes a sample: checks for duplicate labels and borrows the pieces.
    pub(super) fn sample(&mut self, s: SampleSpans<'a>) -> Result<Entry<'a>, ParseError> {
        if let Some(dup) = find_duplicate(&mut self.names) {
            // Every name borrows from `self.b`: its address gives its offset.
            let at = (dup.raw().as_ptr() as usize).wrapping_sub(self.b.as_ptr() as usize);
            let kind = ParseErrorKind::DuplicateLabel(dup.decode().into_owned());
            return Err(self.err(at.min(self.b.len()), kind));
        }
        let float_label = match self.metric_type {
            MetricType::Histogram => FloatLabel::Le,
            MetricType::Summary => FloatLabel::Quantile,
            _ => FloatLabel::None,
        };
        let value = if s.value.is_nan() {
            f64::from_bits(NORMAL_NAN_BITS)
        } else {
            s.value
        };
        Ok(Entry::Sample(Sample {
            series: self.str_at(s.start, s.series_end, "series")?,
            name: s.name,
            labels: LabelSet::new(self.str_at(s.inner.0, s.inner.1, "labels")?, float_label),
            value,
            timestamp: s.timestamp,
            line: s.line,
            metric_type: self.metric_type,
        }))
    }
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry().transpose()
    }
}

impl FusedIterator for Parser<'_> {}
