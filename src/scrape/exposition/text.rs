//! The Prometheus text format (0.0.4 and 1.0.0), as the server's
//! `promlex.l`/`promparse.go` read it.
//!
//! Quirks kept on purpose, because Prometheus accepts or refuses exactly
//! these payloads: blanks (spaces, tabs) between any two tokens and before a
//! line; a missing comma between two labels; a trailing comma; any backslash
//! escape other than `\"`, `\\`, `\n` kept literally; raw line feeds and NUL
//! bytes inside label values; help text taken as everything after one byte
//! following the name; a NUL where a line would start read as the end of
//! the payload.

use std::borrow::Cow;

use super::lex::{
    is_label_start, is_metric_start, label_name_end, metric_name_end, skip_blanks, unescape_help,
    QuoteRules,
};
use super::parser::SampleSpans;
use super::{Entry, MetricType, ParseError, ParseErrorKind, Parser, RawStr};

/// Quoted metric and label names: raw line feeds allowed, NUL not.
const NAME: QuoteRules = QuoteRules {
    newline: true,
    nul: false,
};
/// Label values: raw line feeds and NUL bytes allowed.
const VALUE: QuoteRules = QuoteRules {
    newline: true,
    nul: true,
};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Meta {
    Help,
    Type,
}

/// Index of the next line feed at or after `i`, or the input length.
#[inline]
fn line_end(b: &[u8], i: usize) -> usize {
    b.get(i..)
        .and_then(|rest| memchr::memchr(b'\n', rest))
        .map_or(b.len(), |n| i + n)
}

impl<'a> Parser<'a> {
    pub(super) fn next_text(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        loop {
            self.pos = skip_blanks(self.b, self.pos);
            let Some(&c) = self.b.get(self.pos) else {
                return Ok(None);
            };
            match c {
                b'\n' => self.newline(),
                // Upstream's lexer reads a NUL where a token starts as the end.
                0 => return Ok(None),
                b'#' => return self.text_hash(),
                b'{' => return self.text_sample().map(Some),
                c if is_metric_start(c) => return self.text_sample().map(Some),
                _ => return Err(self.unexpected(self.pos, "metric name, '{' or '#'")),
            }
        }
    }

    /// A line starting with `#`: HELP, TYPE or a comment.
    fn text_hash(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        let b = self.b;
        let hash = self.pos;
        let after = skip_blanks(b, hash + 1);
        if after > hash + 1 {
            let rest = &b[after..];
            let meta = if rest.starts_with(b"HELP") {
                Some(Meta::Help)
            } else if rest.starts_with(b"TYPE") {
                Some(Meta::Type)
            } else {
                None
            };
            if let Some(meta) = meta {
                if matches!(b.get(after + 4), Some(b' ' | b'\t')) {
                    return self
                        .text_metadata(meta, skip_blanks(b, after + 4))
                        .map(Some);
                }
            }
            if b.get(after) == Some(&0) {
                return Ok(None); // upstream's comment scanner stops at this NUL
            }
        }
        let eol = line_end(b, hash);
        if after == hash + 1 && memchr::memchr(0, &b[hash..eol]).is_some() {
            return Ok(None); // same, for a comment without a blank after `#`
        }
        let line = self.line;
        self.pos = eol;
        Ok(Some(Entry::Comment {
            text: &b[hash + 1..eol],
            line,
        }))
    }

    /// `# HELP name text` or `# TYPE name type`, from the name at `pos`.
    fn text_metadata(&mut self, meta: Meta, pos: usize) -> Result<Entry<'a>, ParseError> {
        let b = self.b;
        let line = self.line;
        let (name, after_name) = match b.get(pos) {
            Some(b'"') => {
                let (raw, end) = self.quoted(pos, NAME, "metric name")?;
                if raw.raw().is_empty() {
                    return Err(self.err(pos, ParseErrorKind::EmptyName("metric name")));
                }
                (raw.decode(), end)
            }
            Some(&c) if is_metric_start(c) => {
                let end = metric_name_end(b, pos);
                (Cow::Borrowed(self.str_at(pos, end, "metric name")?), end)
            }
            _ => {
                let expected = match meta {
                    Meta::Help => "metric name after HELP",
                    Meta::Type => "metric name after TYPE",
                };
                return Err(self.unexpected(pos, expected));
            }
        };
        let eol = line_end(b, after_name);
        let rest = &b[after_name..eol];
        if rest.first() == Some(&0) {
            return Err(self.unexpected(after_name, "blank or end of line after metric name"));
        }
        // The text is the rest of the line less its first byte (one blank,
        // normally); a rest of blanks only is no text.
        let start = if rest.iter().all(|&c| c == b' ' || c == b'\t') {
            eol
        } else {
            after_name + 1
        };
        self.pos = eol;
        match meta {
            Meta::Help => {
                let help = unescape_help(self.str_at(start, eol, "help text")?);
                Ok(Entry::Help { name, help, line })
            }
            Meta::Type => {
                let word = &b[start..eol];
                let Some(metric_type) = MetricType::from_text_keyword(word) else {
                    let text = String::from_utf8_lossy(word).into_owned();
                    return Err(self.err(start, ParseErrorKind::InvalidMetricType(text)));
                };
                self.metric_type = metric_type;
                Ok(Entry::Type {
                    name,
                    metric_type,
                    line,
                })
            }
        }
    }

    /// A sample line: `name`, `name{labels}` or `{labels}`, a value and an
    /// optional timestamp in milliseconds.
    fn text_sample(&mut self) -> Result<Entry<'a>, ParseError> {
        let b = self.b;
        let line = self.line;
        let start = self.pos;
        self.names.clear();
        let mut name = None;
        let mut series_end = start;
        let mut inner = (start, start);
        if b[start] != b'{' {
            series_end = metric_name_end(b, start);
            name = Some(RawStr::new(
                self.str_at(start, series_end, "metric name")?,
                false,
            ));
            self.pos = skip_blanks(b, series_end);
        }
        if b.get(self.pos) == Some(&b'{') {
            let open = self.pos;
            self.text_labels(&mut name)?;
            inner = (open + 1, self.pos - 1);
            series_end = self.pos;
        }
        let Some(name) = name else {
            return Err(self.err(start, ParseErrorKind::MetricNameNotSet));
        };
        let value_start = skip_blanks(b, self.pos);
        let value_end = b[value_start..]
            .iter()
            .position(|&c| matches!(c, b'{' | b' ' | b'\t' | b'\n' | 0))
            .map_or(b.len(), |n| value_start + n);
        if value_end == value_start {
            return Err(self.unexpected(value_start, "sample value"));
        }
        let value = self.number(value_start, value_end, "sample value")?;
        let mut p = skip_blanks(b, value_end);
        let mut timestamp = None;
        if b.get(p).is_some_and(u8::is_ascii_digit) {
            let end = b[p..]
                .iter()
                .position(|c| !c.is_ascii_digit())
                .map_or(b.len(), |n| p + n);
            let digits = self.str_at(p, end, "timestamp")?;
            timestamp = Some(digits.parse::<i64>().map_err(|_| {
                let kind = ParseErrorKind::InvalidNumber {
                    what: "timestamp",
                    text: digits.to_string(),
                    reason: "value out of range",
                };
                self.err(p, kind)
            })?);
            p = skip_blanks(b, end);
            if !matches!(b.get(p), None | Some(b'\n')) {
                return Err(self.unexpected(p, "end of line after timestamp"));
            }
        } else if !matches!(b.get(p), None | Some(b'\n')) {
            return Err(self.unexpected(p, "timestamp or end of line"));
        }
        self.pos = p;
        self.sample(SampleSpans {
            start,
            series_end,
            inner,
            name,
            value,
            timestamp,
            line,
        })
    }

    /// The label list opening at `self.pos`; leaves `self.pos` after `}`.
    fn text_labels(&mut self, name: &mut Option<RawStr<'a>>) -> Result<(), ParseError> {
        let b = self.b;
        self.pos += 1;
        loop {
            let p = skip_blanks(b, self.pos);
            let (label, quoted, after) = match b.get(p) {
                Some(b'}') => {
                    self.pos = p + 1;
                    return Ok(());
                }
                Some(b'"') => {
                    let (raw, end) = self.quoted(p, NAME, "label name")?;
                    (raw, true, end)
                }
                Some(&c) if is_label_start(c) => {
                    let end = label_name_end(b, p);
                    (
                        RawStr::new(self.str_at(p, end, "label name")?, false),
                        false,
                        end,
                    )
                }
                _ => return Err(self.unexpected(p, "label name or '}'")),
            };
            let q = skip_blanks(b, after);
            if quoted && matches!(b.get(q), Some(b',' | b'}')) {
                if name.is_some() {
                    return Err(self.err(p, ParseErrorKind::MetricNameAlreadySet));
                }
                if label.raw().is_empty() {
                    return Err(self.err(p, ParseErrorKind::EmptyName("metric name")));
                }
                *name = Some(label);
                self.pos = q + 1;
                if b[q] == b'}' {
                    return Ok(());
                }
                continue;
            }
            if b.get(q) != Some(&b'=') {
                return Err(self.unexpected(q, "'=' after label name"));
            }
            if label.raw().is_empty() {
                return Err(self.err(p, ParseErrorKind::EmptyName("label name")));
            }
            let v = skip_blanks(b, q + 1);
            if b.get(v) != Some(&b'"') {
                return Err(self.unexpected(v, "quoted label value"));
            }
            let (value, end) = self.quoted(v, VALUE, "label value")?;
            if !value.raw().is_empty() {
                self.names.push(label);
            }
            let c = skip_blanks(b, end);
            self.pos = if b.get(c) == Some(&b',') { c + 1 } else { c };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::text;

    #[test]
    fn mixed_payload_like_upstream() {
        let input = "# HELP go_gc_duration_seconds A summary of the GC invocation durations.
# \tTYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile=\"0\"} 4.9351e-05
go_gc_duration_seconds{quantile=\"0.25\",} 7.424100000000001e-05
go_gc_duration_seconds{ quantile=\"0.9\", a=\"b\"} 8.3835e-05
# TYPE h_seconds histogram
h_seconds_bucket{handler=\"/\",le=\"1\"} 423
h_seconds_bucket{handler=\"/\",le=\"+Inf\"} 1423
h_seconds_sum{handler=\"/\"} 2000
# Hrandom comment starting with prefix of HELP
#
wind_speed{A=\"2\",c=\"3\"} 12345
# comment with escaped \\n newline
# HELP nohelp1
# HELP nohelp2 \n# HELP  twospaces  x
go_gc_duration_seconds { quantile = \"2.0\" a = \"b\" } 8.3835e-05
some:aggregate:rate5m{a_b=\"c\"}\t1
# TYPE go_goroutines gauge
go_goroutines 33  \t123123
_metric_starting_with_underscore 1
testmetric{label=\"\\\"bar\\\"\"} 1
testmetric{le=\"10\"} 1
testmetric{x=\"a\\tb\\\\c\\nd\"} NaN
# HELP metric foo\x00bar
null_byte_metric{a=\"abc\x00\"} 1
  spaced -Inf
x +Inf";
        let want = r#"1: help "go_gc_duration_seconds" "A summary of the GC invocation durations."
2: type "go_gc_duration_seconds" summary
3: "go_gc_duration_seconds" "quantile"="0.0" = 4.9351e-5
4: "go_gc_duration_seconds" "quantile"="0.25" = 7.424100000000001e-5
5: "go_gc_duration_seconds" "a"="b" "quantile"="0.9" = 8.3835e-5
6: type "h_seconds" histogram
7: "h_seconds_bucket" "handler"="/" "le"="1.0" = 423.0
8: "h_seconds_bucket" "handler"="/" "le"="+Inf" = 1423.0
9: "h_seconds_sum" "handler"="/" = 2000.0
10: comment " Hrandom comment starting with prefix of HELP"
11: comment ""
12: "wind_speed" "A"="2" "c"="3" = 12345.0
13: comment " comment with escaped \\n newline"
14: help "nohelp1" ""
15: help "nohelp2" ""
16: help "twospaces" " x"
17: "go_gc_duration_seconds" "a"="b" "quantile"="2.0" = 8.3835e-5
18: "some:aggregate:rate5m" "a_b"="c" = 1.0
19: type "go_goroutines" gauge
20: "go_goroutines" = 33.0 @123123
21: "_metric_starting_with_underscore" = 1.0
22: "testmetric" "label"="\"bar\"" = 1.0
23: "testmetric" "le"="10" = 1.0
24: "testmetric" "x"="a\\tb\\c\nd" = NaN
25: help "metric" "foo\0bar"
26: "null_byte_metric" "a"="abc\0" = 1.0
27: "spaced" = -inf
28: "x" = inf
"#;
        assert_eq!(text(input), want);
    }

    #[test]
    fn quoted_utf8_names() {
        let input = r#"# HELP "go.gc_duration_seconds" A summary.
# TYPE "go.gc_duration_seconds" summary
{"go.gc_duration_seconds",quantile="0"} 4.9351e-05
{ "go.gc_duration_seconds", quantile= "1.0", a= "b", } 8.3835e-05
{q="0.9","http.status",a="b"} 1
{"go.gc_duration_seconds_count"} 99
{"Heizölrückstoßabdämpfung 10€ metric with \"interesting\" {character\nchoices}","strange©™\n'quoted' \"name\""="6"} 10.0
{"label.name"="v", "my.metric"} 2
"#;
        let want = r#"1: help "go.gc_duration_seconds" "A summary."
2: type "go.gc_duration_seconds" summary
3: "go.gc_duration_seconds" "quantile"="0.0" = 4.9351e-5
4: "go.gc_duration_seconds" "a"="b" "quantile"="1.0" = 8.3835e-5
5: "http.status" "a"="b" "q"="0.9" = 1.0
6: "go.gc_duration_seconds_count" = 99.0
7: "Heizölrückstoßabdämpfung 10€ metric with \"interesting\" {character\nchoices}" "strange©™\n'quoted' \"name\""="6" = 10.0
8: "my.metric" "label.name"="v" = 2.0
"#;
        assert_eq!(text(input), want);
    }

    #[test]
    fn series_text_is_the_cache_key() {
        use super::super::{Entry, Format, Parser};
        let input = "  a{b=\"c\"} 1\nd 2 3\n{\"e.f\"} 4\n";
        let series: Vec<&str> = Parser::new(input.as_bytes(), Format::PrometheusText)
            .filter_map(|e| match e {
                Ok(Entry::Sample(s)) => Some(s.series),
                _ => None,
            })
            .collect();
        assert_eq!(series, ["a{b=\"c\"}", "d", "{\"e.f\"}"]);
    }
}
