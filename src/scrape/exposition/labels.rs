//! Borrowed views of a sample's labels.
//!
//! The parser validates a label list once and keeps only the text between
//! the braces; [`LabelSet::iter`] re-reads that text on demand. A scrape loop
//! that finds the series in its cache never iterates, so the common path
//! costs nothing beyond the validating pass.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::lex::{
    format_openmetrics_float, label_name_end, parse_float, scan_quoted, skip_blanks, unescape_into,
    unescape_label, QuoteRules, Unescaped,
};

/// A name or label value as written in the input (between its quotes when
/// quoted), decoded on request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawStr<'a> {
    raw: &'a str,
    escaped: bool,
}

impl<'a> RawStr<'a> {
    pub(super) fn new(raw: &'a str, escaped: bool) -> Self {
        Self { raw, escaped }
    }

    /// The text exactly as written, escapes included.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// Whether the text holds a backslash, so that decoding may change it.
    pub fn has_escapes(&self) -> bool {
        self.escaped
    }

    /// The decoded text (`\"`, `\\` and `\n` replaced; other backslashes kept).
    /// Borrows unless there are escapes.
    pub fn decode(&self) -> Cow<'a, str> {
        if self.escaped {
            unescape_label(self.raw)
        } else {
            Cow::Borrowed(self.raw)
        }
    }

    /// Appends the decoded text to `out`.
    pub fn decode_into(&self, out: &mut String) {
        unescape_into(self.raw, true, out);
    }

    /// Whether the decoded text equals `s`, without allocating.
    pub fn decodes_to(&self, s: &str) -> bool {
        if self.escaped {
            Unescaped::new(self.raw).eq(s.bytes())
        } else {
            self.raw == s
        }
    }

    fn same_decoded(&self, other: &RawStr<'_>) -> bool {
        if self.escaped || other.escaped {
            Unescaped::new(self.raw).eq(Unescaped::new(other.raw))
        } else {
            self.raw == other.raw
        }
    }

    fn cmp_decoded(&self, other: &RawStr<'_>) -> Ordering {
        Unescaped::new(self.raw).cmp(Unescaped::new(other.raw))
    }
}

/// Which label value upstream re-formats as an OpenMetrics float, chosen by
/// the most recent `# TYPE` line: `le` after a histogram, `quantile` after a
/// summary (`le="1"` is stored as `le="1.0"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FloatLabel {
    None,
    Le,
    Quantile,
}

impl FloatLabel {
    fn name(self) -> Option<&'static str> {
        match self {
            FloatLabel::None => None,
            FloatLabel::Le => Some("le"),
            FloatLabel::Quantile => Some("quantile"),
        }
    }
}

/// One label of a sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label<'a> {
    /// The label name as written.
    pub raw_name: RawStr<'a>,
    /// The label value as written.
    pub raw_value: RawStr<'a>,
    normalize: bool,
}

impl<'a> Label<'a> {
    /// The decoded label name.
    pub fn name(&self) -> Cow<'a, str> {
        self.raw_name.decode()
    }

    /// The decoded label value, as Prometheus stores it: escapes decoded and,
    /// for `le` after a histogram TYPE or `quantile` after a summary TYPE, a
    /// float value re-formatted (`"1"` becomes `"1.0"`). Borrows when neither
    /// changes the text.
    pub fn value(&self) -> Cow<'a, str> {
        let decoded = self.raw_value.decode();
        if !self.normalize {
            return decoded;
        }
        match parse_float(&decoded) {
            Ok(f) => {
                let formatted = format_openmetrics_float(f);
                if formatted == decoded {
                    decoded
                } else {
                    Cow::Owned(formatted)
                }
            }
            Err(_) => decoded,
        }
    }

    /// Replaces the contents of `out` with [`Label::value`], reusing its
    /// allocation.
    pub fn value_into(&self, out: &mut String) {
        out.clear();
        if self.normalize {
            out.push_str(&self.value());
        } else {
            self.raw_value.decode_into(out);
        }
    }
}

/// The labels of one sample (without the metric name), borrowed from the
/// input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LabelSet<'a> {
    inner: &'a str,
    float_label: FloatLabel,
}

impl<'a> LabelSet<'a> {
    /// `inner` is the validated text between the braces (empty without braces).
    pub(super) fn new(inner: &'a str, float_label: FloatLabel) -> Self {
        Self { inner, float_label }
    }

    /// The text between the braces, exactly as written (it may include a
    /// quoted metric name).
    pub fn raw(&self) -> &'a str {
        self.inner
    }

    /// Iterates over the labels in input order.
    pub fn iter(&self) -> LabelIter<'a> {
        LabelIter {
            s: self.inner,
            pos: 0,
            float_label: self.float_label,
        }
    }
}

impl<'a> IntoIterator for LabelSet<'a> {
    type Item = Label<'a>;
    type IntoIter = LabelIter<'a>;

    fn into_iter(self) -> LabelIter<'a> {
        self.iter()
    }
}

/// Iterator over a [`LabelSet`].
#[derive(Clone, Debug)]
pub struct LabelIter<'a> {
    s: &'a str,
    pos: usize,
    float_label: FloatLabel,
}

const LENIENT: QuoteRules = QuoteRules {
    newline: true,
    nul: true,
};

impl<'a> LabelIter<'a> {
    /// Reads a quoted or bare name at `i`: (name, index after it).
    fn name_at(&self, i: usize) -> Option<(RawStr<'a>, usize)> {
        let b = self.s.as_bytes();
        if b[i] == b'"' {
            let q = scan_quoted(b, i, LENIENT).ok()?;
            Some((RawStr::new(self.s.get(i + 1..q.end - 1)?, q.escaped), q.end))
        } else {
            let end = label_name_end(b, i);
            if end == i {
                return None;
            }
            Some((RawStr::new(self.s.get(i..end)?, false), end))
        }
    }
}

impl<'a> Iterator for LabelIter<'a> {
    type Item = Label<'a>;

    fn next(&mut self) -> Option<Label<'a>> {
        let b = self.s.as_bytes();
        loop {
            let mut i = self.pos;
            while i < b.len() && matches!(b[i], b' ' | b'\t' | b',') {
                i += 1;
            }
            if i >= b.len() {
                self.pos = i;
                return None;
            }
            // The text was validated by the parser; stop quietly if it is not
            // the shape we expect rather than loop or panic.
            self.pos = b.len();
            let (name, after) = self.name_at(i)?;
            let eq = skip_blanks(b, after);
            if b.get(eq) != Some(&b'=') {
                // A quoted metric name inside the braces.
                self.pos = eq;
                continue;
            }
            let open = skip_blanks(b, eq + 1);
            if b.get(open) != Some(&b'"') {
                return None;
            }
            let q = scan_quoted(b, open, LENIENT).ok()?;
            let value = RawStr::new(self.s.get(open + 1..q.end - 1)?, q.escaped);
            self.pos = q.end;
            let normalize = self.float_label.name().is_some_and(|n| name.decodes_to(n));
            return Some(Label {
                raw_name: name,
                raw_value: value,
                normalize,
            });
        }
    }
}

/// Finds a label name that occurs twice (decoded). `names` holds the names of
/// labels with non-empty values only: Prometheus drops empty labels before it
/// checks for duplicates.
pub(super) fn find_duplicate<'a>(names: &mut [RawStr<'a>]) -> Option<RawStr<'a>> {
    if let Some(n) = names.iter().find(|n| n.decodes_to("__name__")) {
        // The metric name is always present as `__name__`.
        return Some(*n);
    }
    if names.len() <= 16 {
        for i in 1..names.len() {
            if names[..i].iter().any(|n| n.same_decoded(&names[i])) {
                return Some(names[i]);
            }
        }
        return None;
    }
    names.sort_unstable_by(|a, b| a.cmp_decoded(b));
    names
        .windows(2)
        .find(|w| w[0].same_decoded(&w[1]))
        .map(|w| w[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(set: LabelSet<'_>) -> Vec<(String, String)> {
        set.iter()
            .map(|l| (l.name().into_owned(), l.value().into_owned()))
            .collect()
    }

    #[test]
    fn iterates_both_grammars_and_skips_quoted_metric_name() {
        let set = LabelSet::new(
            r#" "my.metric", a = "1" ,"b.c"="x\"y" d="\\n" , "#,
            FloatLabel::None,
        );
        let got = pairs(set);
        let want = [("a", "1"), ("b.c", "x\"y"), ("d", "\\n")];
        assert_eq!(got, want.map(|(a, b)| (a.to_string(), b.to_string())));
        assert!(LabelSet::new("", FloatLabel::None).iter().next().is_none());
        assert!(LabelSet::new(r#""only.name""#, FloatLabel::None)
            .iter()
            .next()
            .is_none());
    }

    #[test]
    fn normalizes_le_and_quantile_by_type() {
        let set = LabelSet::new(r#"le="1",quantile="2",x="3""#, FloatLabel::Le);
        let got: Vec<String> = set.iter().map(|l| l.value().into_owned()).collect();
        assert_eq!(got, ["1.0", "2", "3"]);
        let set = LabelSet::new(r#"le="1",quantile="bla""#, FloatLabel::Quantile);
        let got: Vec<String> = set.iter().map(|l| l.value().into_owned()).collect();
        assert_eq!(got, ["1", "bla"]);
        let mut buf = String::from("junk");
        let first = LabelSet::new(r#""le"="+Inf""#, FloatLabel::Le)
            .iter()
            .next();
        first.unwrap().value_into(&mut buf);
        assert_eq!(buf, "+Inf");
    }

    #[test]
    fn values_borrow_without_escapes() {
        let set = LabelSet::new(r#"a="plain",b="esc\"aped""#, FloatLabel::None);
        let values: Vec<Cow<'_, str>> = set.iter().map(|l| l.value()).collect();
        assert!(matches!(values[0], Cow::Borrowed("plain")));
        assert!(matches!(&values[1], Cow::Owned(s) if s == "esc\"aped"));
    }

    #[test]
    fn duplicates_compare_decoded_names() {
        let r = |s: &'static str| RawStr::new(s, s.contains('\\'));
        assert_eq!(find_duplicate(&mut [r("a"), r("b")]), None);
        assert_eq!(find_duplicate(&mut [r("a"), r("b"), r("a")]), Some(r("a")));
        assert_eq!(find_duplicate(&mut [r("__name__")]), Some(r("__name__")));
        assert_eq!(
            find_duplicate(&mut [r("x\\\"y"), r("x\"y")]),
            Some(r("x\"y"))
        );
        let names: Vec<String> = (0..40).map(|i| format!("l{i}")).collect();
        let mut big: Vec<RawStr<'_>> = names.iter().map(|s| RawStr::new(s, false)).collect();
        assert_eq!(find_duplicate(&mut big), None);
        big.push(RawStr::new("l7", false));
        assert_eq!(find_duplicate(&mut big), Some(RawStr::new("l7", false)));
    }
}
