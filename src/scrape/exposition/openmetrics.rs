//! OpenMetrics 1.0 text, as the Prometheus server's
//! `openmetricslex.l`/`openmetricsparse.go` read it.
//!
//! Strict where upstream is strict: exactly one space between tokens, no
//! blank lines or leading spaces, no comments other than HELP, TYPE, UNIT
//! and the final `# EOF`, which must end the payload. Timestamps are float
//! seconds. Exemplars (` # {labels} value [timestamp]`) are checked and
//! dropped. `_created` series are ordinary samples, as in a default
//! Prometheus scrape.

use super::lex::{
    is_label_start, is_metric_start, label_name_end, metric_name_end, unescape_label, QuoteRules,
};
use super::parser::SampleSpans;
use super::{Entry, MetricType, ParseError, ParseErrorKind, Parser, RawStr};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Meta {
    Help,
    Type,
    Unit,
}

/// End of the token starting at `i`: the next space, line feed or NUL.
fn token_end(b: &[u8], i: usize) -> usize {
    b.get(i..)
        .and_then(|rest| rest.iter().position(|&c| matches!(c, b' ' | b'\n' | 0)))
        .map_or(b.len(), |n| i + n)
}

impl<'a> Parser<'a> {
    pub(super) fn next_openmetrics(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        match self.b.get(self.pos) {
            None => Err(self.err(self.pos, ParseErrorKind::MissingEof)),
            Some(b'#') => self.om_hash(),
            Some(b'{') => self.om_sample().map(Some),
            Some(&c) if is_metric_start(c) => self.om_sample().map(Some),
            Some(_) => Err(self.unexpected(self.pos, "metric name, '{' or '#'")),
        }
    }

    /// Ends a line whose line feed is at `at`.
    fn om_end_line(&mut self, at: usize) {
        self.pos = at;
        self.newline();
    }

    /// `# HELP`, `# TYPE`, `# UNIT` or `# EOF`.
    fn om_hash(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        let b = self.b;
        let hash = self.pos;
        let rest = &b[hash..];
        let meta = if rest.starts_with(b"# EOF") {
            let mut end = hash + 5;
            if b.get(end) == Some(&b'\n') {
                end += 1;
            }
            if end < b.len() {
                return Err(self.err(end, ParseErrorKind::DataAfterEof));
            }
            self.pos = end;
            return Ok(None);
        } else if rest.starts_with(b"# HELP ") {
            Meta::Help
        } else if rest.starts_with(b"# TYPE ") {
            Meta::Type
        } else if rest.starts_with(b"# UNIT ") {
            Meta::Unit
        } else {
            return Err(self.unexpected(hash, "'# HELP', '# TYPE', '# UNIT' or '# EOF'"));
        };
        let line = self.line;
        let pos = hash + 7;
        let (name, after_name) = match b.get(pos) {
            Some(b'"') => {
                let rules = QuoteRules { newline: true, nul: false };
                let (raw, end) = self.quoted(pos, rules, "metric name")?;
                if raw.raw().is_empty() {
                    return Err(self.err(pos, ParseErrorKind::EmptyName("metric name")));
                }
                (raw, end)
            }
            Some(&c) if is_metric_start(c) => {
                let end = metric_name_end(b, pos);
                (RawStr::new(self.str_at(pos, end, "metric name")?, false), end)
            }
            _ => return Err(self.unexpected(pos, "metric name")),
        };
        if b.get(after_name) != Some(&b' ') {
            return Err(self.unexpected(after_name, "' ' and text after metric name"));
        }
        let start = after_name + 1;
        let Some(eol) = b[start..].iter().position(|&c| c == b'\n').map(|n| start + n) else {
            return Err(self.err(b.len(), ParseErrorKind::MissingEof));
        };
        self.om_end_line(eol);
        let decoded = name.decode();
        match meta {
            Meta::Help => {
                let help = unescape_label(self.str_at(start, eol, "help text")?);
                Ok(Some(Entry::Help { name: decoded, help, line }))
            }
            Meta::Type => {
                let word = &b[start..eol];
                let Some(metric_type) = MetricType::from_openmetrics_keyword(word) else {
                    let text = String::from_utf8_lossy(word).into_owned();
                    return Err(self.err(start, ParseErrorKind::InvalidMetricType(text)));
                };
                self.metric_type = metric_type;
                Ok(Some(Entry::Type { name: decoded, metric_type, line }))
            }
            Meta::Unit => {
                let unit = self.str_at(start, eol, "unit")?;
                let raw = name.raw();
                let suffix_ok = raw.len() > unit.len()
                    && raw.ends_with(unit)
                    && raw.as_bytes()[raw.len() - unit.len() - 1] == b'_';
                if !unit.is_empty() && !suffix_ok {
                    let kind = ParseErrorKind::UnitNotSuffix {
                        unit: unit.to_string(),
                        metric: raw.to_string(),
                    };
                    return Err(self.err(start, kind));
                }
                Ok(Some(Entry::Unit { name: decoded, unit, line }))
            }
        }
    }

    /// A sample line, its optional timestamp (float seconds) and exemplar.
    fn om_sample(&mut self) -> Result<Entry<'a>, ParseError> {
        let b = self.b;
        let line = self.line;
        let start = self.pos;
        self.names.clear();
        let mut name = None;
        let mut series_end = start;
        let mut inner = (start, start);
        if b[start] != b'{' {
            series_end = metric_name_end(b, start);
            name = Some(RawStr::new(self.str_at(start, series_end, "metric name")?, false));
            self.pos = series_end;
        }
        if b.get(self.pos) == Some(&b'{') {
            let open = self.pos;
            self.om_labels(&mut name, false)?;
            inner = (open + 1, self.pos - 1);
            series_end = self.pos;
        }
        let Some(name) = name else {
            return Err(self.err(start, ParseErrorKind::MetricNameNotSet));
        };
        let (value, mut p) = self.om_number(self.pos, "sample value")?;
        let mut timestamp = None;
        if b.get(p) == Some(&b' ') && !b[p..].starts_with(b" # {") {
            let (seconds, end) = self.om_number(p, "timestamp")?;
            if !seconds.is_finite() {
                return Err(self.om_not_finite(p + 1, end, "timestamp"));
            }
            timestamp = Some((seconds * 1000.0) as i64);
            p = end;
        }
        if b[p..].starts_with(b" # {") {
            p = self.om_exemplar(p + 3)?;
        }
        match b.get(p) {
            None => return Err(self.err(p, ParseErrorKind::MissingEof)),
            Some(b'\n') => self.om_end_line(p),
            Some(_) if timestamp.is_some() => {
                return Err(self.unexpected(p, "end of line or exemplar after timestamp"))
            }
            Some(_) => return Err(self.unexpected(p, "timestamp, exemplar or end of line")),
        }
        self.sample(SampleSpans { start, series_end, inner, name, value, timestamp, line })
    }

    /// A space and a number token at `at`: (the number, index after it).
    fn om_number(&self, at: usize, what: &'static str) -> Result<(f64, usize), ParseError> {
        let start = at + 1;
        let end = token_end(self.b, start);
        if self.b.get(at) != Some(&b' ') || end == start {
            let expected = match what {
                "sample value" => "' ' and sample value",
                "timestamp" => "' ' and timestamp",
                _ => "' ' and exemplar value",
            };
            return Err(self.unexpected(at, expected));
        }
        Ok((self.number(start, end, what)?, end))
    }

    fn om_not_finite(&self, start: usize, end: usize, what: &'static str) -> ParseError {
        let text = String::from_utf8_lossy(&self.b[start..end]).into_owned();
        self.err(start, ParseErrorKind::InvalidNumber { what, text, reason: "must be finite" })
    }

    /// The exemplar whose `{` is at `open`; returns the index after it.
    fn om_exemplar(&mut self, open: usize) -> Result<usize, ParseError> {
        self.pos = open;
        self.om_labels(&mut None, true)?;
        let (_, mut p) = self.om_number(self.pos, "exemplar value")?;
        if self.b.get(p) == Some(&b' ') {
            let (seconds, end) = self.om_number(p, "exemplar timestamp")?;
            if !seconds.is_finite() {
                return Err(self.om_not_finite(p + 1, end, "exemplar timestamp"));
            }
            p = end;
        }
        if !matches!(self.b.get(p), None | Some(b'\n')) {
            return Err(self.unexpected(p, "end of line after exemplar"));
        }
        Ok(p)
    }

    /// The label list opening at `self.pos`, of a sample or an exemplar;
    /// leaves `self.pos` after `}`.
    fn om_labels(&mut self, name: &mut Option<RawStr<'a>>, exemplar: bool) -> Result<(), ParseError> {
        let b = self.b;
        let name_rules = QuoteRules { newline: !exemplar, nul: false };
        let value_rules = QuoteRules { newline: false, nul: !exemplar };
        let mut p = self.pos + 1;
        loop {
            let (label, quoted, after) = match b.get(p) {
                Some(b'}') => {
                    self.pos = p + 1;
                    return Ok(());
                }
                Some(b'"') => {
                    let (raw, end) = self.quoted(p, name_rules, "label name")?;
                    (raw, true, end)
                }
                Some(&c) if is_label_start(c) => {
                    let end = label_name_end(b, p);
                    (RawStr::new(self.str_at(p, end, "label name")?, false), false, end)
                }
                _ => return Err(self.unexpected(p, "label name or '}'")),
            };
            if quoted && matches!(b.get(after), Some(b',' | b'}')) {
                if exemplar {
                    return Err(self.unexpected(after, "'=' after exemplar label name"));
                }
                if name.is_some() {
                    return Err(self.err(p, ParseErrorKind::MetricNameAlreadySet));
                }
                if label.raw().is_empty() {
                    return Err(self.err(p, ParseErrorKind::EmptyName("metric name")));
                }
                *name = Some(label);
                p = after + 1;
                if b[after] == b'}' {
                    self.pos = p;
                    return Ok(());
                }
                continue;
            }
            if b.get(after) != Some(&b'=') {
                return Err(self.unexpected(after, "'=' after label name"));
            }
            if label.raw().is_empty() {
                return Err(self.err(p, ParseErrorKind::EmptyName("label name")));
            }
            if b.get(after + 1) != Some(&b'"') {
                return Err(self.unexpected(after + 1, "quoted label value"));
            }
            let (value, end) = self.quoted(after + 1, value_rules, "label value")?;
            if !exemplar && !value.raw().is_empty() {
                self.names.push(label);
            }
            p = match b.get(end) {
                Some(b',') => end + 1,
                Some(b'}') => end,
                _ => return Err(self.unexpected(end, "',' or '}' after label value")),
            };
        }
    }
}
