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
                let rules = QuoteRules {
                    newline: true,
                    nul: false,
                };
                let (raw, end) = self.quoted(pos, rules, "metric name")?;
                if raw.raw().is_empty() {
                    return Err(self.err(pos, ParseErrorKind::EmptyName("metric name")));
                }
                (raw, end)
            }
            Some(&c) if is_metric_start(c) => {
                let end = metric_name_end(b, pos);
                (
                    RawStr::new(self.str_at(pos, end, "metric name")?, false),
                    end,
                )
            }
            _ => return Err(self.unexpected(pos, "metric name")),
        };
        if b.get(after_name) != Some(&b' ') {
            return Err(self.unexpected(after_name, "' ' and text after metric name"));
        }
        let start = after_name + 1;
        let Some(eol) = b[start..]
            .iter()
            .position(|&c| c == b'\n')
            .map(|n| start + n)
        else {
            return Err(self.err(b.len(), ParseErrorKind::MissingEof));
        };
        self.om_end_line(eol);
        let decoded = name.decode();
        match meta {
            Meta::Help => {
                let help = unescape_label(self.str_at(start, eol, "help text")?);
                Ok(Some(Entry::Help {
                    name: decoded,
                    help,
                    line,
                }))
            }
            Meta::Type => {
                let word = &b[start..eol];
                let Some(metric_type) = MetricType::from_openmetrics_keyword(word) else {
                    let text = String::from_utf8_lossy(word).into_owned();
                    return Err(self.err(start, ParseErrorKind::InvalidMetricType(text)));
                };
                self.metric_type = metric_type;
                Ok(Some(Entry::Type {
                    name: decoded,
                    metric_type,
                    line,
                }))
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
                Ok(Some(Entry::Unit {
                    name: decoded,
                    unit,
                    line,
                }))
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
            name = Some(RawStr::new(
                self.str_at(start, series_end, "metric name")?,
                false,
            ));
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
        self.err(
            start,
            ParseErrorKind::InvalidNumber {
                what,
                text,
                reason: "must be finite",
            },
        )
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
    fn om_labels(
        &mut self,
        name: &mut Option<RawStr<'a>>,
        exemplar: bool,
    ) -> Result<(), ParseError> {
        let b = self.b;
        let name_rules = QuoteRules {
            newline: !exemplar,
            nul: false,
        };
        let value_rules = QuoteRules {
            newline: false,
            nul: !exemplar,
        };
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
                    (
                        RawStr::new(self.str_at(p, end, "label name")?, false),
                        false,
                        end,
                    )
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

#[cfg(test)]
mod tests {
    use super::super::testutil::{om, om_error};

    #[test]
    fn families_exemplars_and_created_series() {
        let input = r#"# HELP go_gc_duration_seconds A summary of the GC invocation durations.
# TYPE go_gc_duration_seconds summary
# UNIT go_gc_duration_seconds seconds
go_gc_duration_seconds{quantile="0"} 4.9351e-05
go_gc_duration_seconds{quantile="0.5",a="b"} 8.3835e-05
# HELP nohelp1 
# HELP help2 escape \ \n \\ \" \x chars
# UNIT nounit 
go_gc_duration_seconds_count 99
some:aggregate:rate5m{a_b="c"} 1
# TYPE go_goroutines gauge
go_goroutines 33 123.123
# TYPE hh histogram
hh_bucket{le="+Inf"} 1 # {id="histogram-bucket-test"} 4
hh_bucket{le="10"} 1 # {id="x",xx="yy"} 4 123.123
# TYPE ggh gaugehistogram
ggh_bucket{le="10"} 1 # {"id.thing"="gaugehistogram-bucket-test"} 4 123.123
# TYPE ii info
ii{foo="bar"} 1
# TYPE ss stateset
ss{ss="foo"} 1
# TYPE un unknown
# TYPE foo counter
foo_total 17.0 1520879607.789 # {id="counter-test"} 5
foo_created 1520872607.123
# TYPE nan_summary summary
nan_summary_sum NaN
{"go.gc_duration_seconds_created",a="b"} -1.5
# EOF
"#;
        let want = r#"1: help "go_gc_duration_seconds" "A summary of the GC invocation durations."
2: type "go_gc_duration_seconds" summary
3: unit "go_gc_duration_seconds" "seconds"
4: "go_gc_duration_seconds" "quantile"="0.0" = 4.9351e-5
5: "go_gc_duration_seconds" "a"="b" "quantile"="0.5" = 8.3835e-5
6: help "nohelp1" ""
7: help "help2" "escape \\ \n \\ \" \\x chars"
8: unit "nounit" ""
9: "go_gc_duration_seconds_count" = 99.0
10: "some:aggregate:rate5m" "a_b"="c" = 1.0
11: type "go_goroutines" gauge
12: "go_goroutines" = 33.0 @123123
13: type "hh" histogram
14: "hh_bucket" "le"="+Inf" = 1.0
15: "hh_bucket" "le"="10.0" = 1.0
16: type "ggh" gaugehistogram
17: "ggh_bucket" "le"="10" = 1.0
18: type "ii" info
19: "ii" "foo"="bar" = 1.0
20: type "ss" stateset
21: "ss" "ss"="foo" = 1.0
22: type "un" unknown
23: type "foo" counter
24: "foo_total" = 17.0 @1520879607789
25: "foo_created" = 1520872607.123
26: type "nan_summary" summary
27: "nan_summary_sum" = NaN
28: "go.gc_duration_seconds_created" "a"="b" = -1.5
"#;
        assert_eq!(om(input), want);
    }

    #[test]
    fn eof_is_required_and_final() {
        assert_eq!(om("# EOF"), "");
        assert_eq!(om("m 1\n# EOF"), "1: \"m\" = 1.0\n");
        assert_eq!(om("a{b=\"\0\"} 1\n# EOF"), "1: \"a\" \"b\"=\"\\0\" = 1.0\n");
        let cases: &[(&[u8], &str)] = &[
            (b"", "line 1, column 1: data does not end with # EOF"),
            (
                b"metric 1",
                "line 1, column 9: data does not end with # EOF",
            ),
            (
                b"metric 1\n",
                "line 2, column 1: data does not end with # EOF",
            ),
            (
                b"metric_total 1 # {aa=\"bb\"} 4",
                "line 1, column 29: data does not end with # EOF",
            ),
            (
                b"# EOF\na 1",
                "line 2, column 1: unexpected data after # EOF",
            ),
            (
                b"# EOF\n\n",
                "line 2, column 1: unexpected data after # EOF",
            ),
            (b"# EOFa 1", "line 1, column 6: unexpected data after # EOF"),
        ];
        for (input, want) in cases {
            assert_eq!(
                om_error(input),
                *want,
                "input {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn refuses_what_the_server_parser_refuses() {
        let cases: &[(&[u8], &str)] = &[
            (b"\n", "line 1, column 1: expected metric name, '{' or '#', found end of line"),
            (b"a\n# EOF\n", "line 1, column 2: expected ' ' and sample value, found end of line"),
            (b" a 1\n# EOF\n", "line 1, column 1: expected metric name, '{' or '#', found \" \""),
            (b"# TYPE u untyped\n# EOF\n", "line 1, column 10: invalid metric type \"untyped\""),
            (b"# TYPE c counter \n# EOF\n", "line 1, column 10: invalid metric type \"counter \""),
            (b"# TYPE c  counter\n# EOF\n", "line 1, column 10: invalid metric type \" counter\""),
            (b"#  TYPE c counter\n# EOF\n", "line 1, column 1: expected '# HELP', '# TYPE', '# UNIT' or '# EOF', found \"#\""),
            (b"#\tTYPE c counter\n# EOF\n", "line 1, column 1: expected '# HELP', '# TYPE', '# UNIT' or '# EOF', found \"#\""),
            (b"# a comment\n# EOF\n", "line 1, column 1: expected '# HELP', '# TYPE', '# UNIT' or '# EOF', found \"#\""),
            (b"# TYPE \n# EOF\n", "line 1, column 8: expected metric name, found end of line"),
            (b"# TYPE m\n# EOF\n", "line 1, column 9: expected ' ' and text after metric name, found end of line"),
            (b"# HELP m\n# EOF\n", "line 1, column 9: expected ' ' and text after metric name, found end of line"),
            (b"# UNIT metric suffix\n# EOF\n", "line 1, column 15: unit \"suffix\" is not a suffix of metric \"metric\""),
            (b"# UNIT metricsuffix suffix\n# EOF\n", "line 1, column 21: unit \"suffix\" is not a suffix of metric \"metricsuffix\""),
            (b"# UNIT m suffix\n# EOF\n", "line 1, column 10: unit \"suffix\" is not a suffix of metric \"m\""),
            (b"a\t1\n# EOF\n", "line 1, column 2: expected ' ' and sample value, found \"\\t\""),
            (b"a 1\t2\n# EOF\n", "line 1, column 3: invalid sample value \"1\\t2\": invalid syntax"),
            (b"a 1 2 \n# EOF\n", "line 1, column 6: expected end of line or exemplar after timestamp, found \" \""),
            (b"a 1 2 #\n# EOF\n", "line 1, column 6: expected end of line or exemplar after timestamp, found \" \""),
            (b"a 1 1z\n# EOF\n", "line 1, column 5: invalid timestamp \"1z\": invalid syntax"),
            (b"a 1 1 1\n# EOF\n", "line 1, column 6: expected end of line or exemplar after timestamp, found \" \""),
            (b"a{b='c'} 1\n# EOF\n", "line 1, column 5: expected quoted label value, found \"'c'}\""),
            (b"a{,b=\"c\"} 1\n# EOF\n", "line 1, column 3: expected label name or '}', found \",b=\\\"c\\\"}\""),
            (b"a{b=\"c\"d=\"e\"} 1\n# EOF\n", "line 1, column 8: expected ',' or '}' after label value, found \"d=\\\"e\\\"}\""),
            (b"a{b=\"c\",,d=\"e\"} 1\n# EOF\n", "line 1, column 9: expected label name or '}', found \",d=\\\"e\\\"}\""),
            (b"a{b = \"c\"} 1\n# EOF\n", "line 1, column 4: expected '=' after label name, found \" \""),
            (b"a{b=\"c\\nd\"} 1\n# EOF\n", "ok"),
            (b"a{b=\"c\nd\"} 1\n# EOF\n", "line 1, column 7: line feed not allowed in quoted string"),
            (b"a{b=\"\xff\"} 1\n# EOF\n", "line 1, column 6: invalid utf-8 in label value"),
            (b"a{b=\x00\"ssss\"} 1\n# EOF\n", "line 1, column 5: expected quoted label value, found \"\\u{0}\\\"ssss\\\"}\""),
            (b"a {b=\"c\"} 1\n# EOF\n", "line 1, column 3: invalid sample value \"{b=\\\"c\\\"}\": invalid syntax"),
            (b"{b=\"c\",} 1\n# EOF\n", "line 1, column 1: metric name not set"),
            (b"foo 1_2\n\n# EOF\n", "line 1, column 5: invalid sample value \"1_2\": unsupported character in float"),
            (b"foo 0 1_2\n# EOF\n", "line 1, column 7: invalid timestamp \"1_2\": unsupported character in float"),
            (b"a 1 NaN\n# EOF\n", "line 1, column 5: invalid timestamp \"NaN\": must be finite"),
            (b"a 1 -Inf\n# EOF\n", "line 1, column 5: invalid timestamp \"-Inf\": must be finite"),
            (b"m_total 1 # {aa=bb}\n# EOF\n", "line 1, column 17: expected quoted label value, found \"bb}\""),
            (b"m_total 1 # {aa=\"bb\"}\n# EOF\n", "line 1, column 22: expected ' ' and exemplar value, found end of line"),
            (b"m_total 1 # {bb}\n# EOF\n", "line 1, column 16: expected '=' after label name, found \"}\""),
            (b"m_total 1 # {\"bb\"} 1\n# EOF\n", "line 1, column 18: expected '=' after exemplar label name, found \"}\""),
            (b"m_total 1 # {aa=\"bb\",,cc=\"dd\"} 1\n# EOF\n", "line 1, column 22: expected label name or '}', found \",cc=\\\"dd\\\"}\""),
            (b"m_total 1 # {aa=\"bb\"} 0x1p-3\n# EOF\n", "line 1, column 23: invalid exemplar value \"0x1p-3\": unsupported character in float"),
            (b"m_total 1 # {aa=\"bb\"} true\n# EOF\n", "line 1, column 23: invalid exemplar value \"true\": invalid syntax"),
            (b"m_total 1 # {aa=\"\x00\"} 1\n# EOF\n", "line 1, column 18: nul byte not allowed in quoted string"),
            (b"m_bucket{le=\"+Inf\"} 1 # {aa=\"bb\"} 4 NaN\n# EOF\n", "line 1, column 37: invalid exemplar timestamp \"NaN\": must be finite"),
            (b"m_bucket{le=\"+Inf\"} 1 # {aa=\"bb\"} 4 1 2\n# EOF\n", "line 1, column 38: expected end of line after exemplar, found \" \""),
            (b"a{b=\"1\",b=\"2\"} 1\n# EOF\n", "line 1, column 9: duplicate label name \"b\""),
        ];
        let mut bad = Vec::new();
        for (input, want) in cases {
            let got = om_error(input);
            if got != *want {
                bad.push(format!(
                    "{:?}\n  got  {got:?}\n  want {want:?}",
                    String::from_utf8_lossy(input)
                ));
            }
        }
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    #[test]
    fn quoted_names_and_multiline_positions() {
        let input = "{\"http.status\",q=\"0.9\",a=\"b\"} 8.3835e-05\n\
                     quotedexemplar_count 1 # {\"id.thing\"=\"x\",other=\"hello\"} 4\n\
                     {\"multi\nline\"} 1\n\
                     bad\n# EOF\n";
        let want = "1: \"http.status\" \"a\"=\"b\" \"q\"=\"0.9\" = 8.3835e-5\n\
                    2: \"quotedexemplar_count\" = 1.0\n\
                    3: \"multi\\nline\" = 1.0\n\
                    error: line 5, column 4: expected ' ' and sample value, found end of line\n";
        assert_eq!(om(input), want);
    }
}
