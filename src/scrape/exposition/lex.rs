//! Byte-level building blocks shared by both grammars: character classes,
//! quoted strings, escape decoding and number syntax.
//!
//! **Invariant:** nothing here allocates except the explicit decoding
//! functions, and nothing indexes out of bounds on any input.

use std::borrow::Cow;

const METRIC_START: u8 = 1;
const METRIC_CONT: u8 = 2;
const LABEL_START: u8 = 4;
const LABEL_CONT: u8 = 8;

/// Character classes: metric names are `[a-zA-Z_:][a-zA-Z0-9_:]*`, label
/// names `[a-zA-Z_][a-zA-Z0-9_]*`.
static CLASS: [u8; 256] = build_classes();

const fn build_classes() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        table[i] = if c.is_ascii_alphabetic() || c == b'_' {
            METRIC_START | METRIC_CONT | LABEL_START | LABEL_CONT
        } else if c == b':' {
            METRIC_START | METRIC_CONT
        } else if c.is_ascii_digit() {
            METRIC_CONT | LABEL_CONT
        } else {
            0
        };
        i += 1;
    }
    table
}

/// Whether `c` may start a metric name.
#[inline]
pub(super) fn is_metric_start(c: u8) -> bool {
    CLASS[c as usize] & METRIC_START != 0
}

/// Whether `c` may start a label name.
#[inline]
pub(super) fn is_label_start(c: u8) -> bool {
    CLASS[c as usize] & LABEL_START != 0
}

/// End of the metric name starting at `start` (which must be a name start).
#[inline]
pub(super) fn metric_name_end(b: &[u8], start: usize) -> usize {
    let mut i = start;
    while i < b.len() && CLASS[b[i] as usize] & METRIC_CONT != 0 {
        i += 1;
    }
    i
}

/// End of the label name starting at `start` (which must be a name start).
#[inline]
pub(super) fn label_name_end(b: &[u8], start: usize) -> usize {
    let mut i = start;
    while i < b.len() && CLASS[b[i] as usize] & LABEL_CONT != 0 {
        i += 1;
    }
    i
}

/// Index of the first byte at or after `i` that is not a space or a tab.
#[inline]
pub(super) fn skip_blanks(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    i
}

/// Which bytes a quoted string may contain besides ordinary text.
#[derive(Clone, Copy)]
pub(super) struct QuoteRules {
    /// A raw line feed inside the quotes is part of the string.
    pub newline: bool,
    /// A NUL byte inside the quotes is part of the string.
    pub nul: bool,
}

/// A scanned quoted string.
pub(super) struct Quoted {
    /// Index just after the closing quote.
    pub end: usize,
    /// Whether the contents hold a backslash (so decoding may change them).
    pub escaped: bool,
    /// Number of raw line feeds inside the quotes.
    pub newlines: usize,
    /// Index of the last raw line feed inside the quotes (when `newlines > 0`).
    pub last_newline: usize,
}

/// Why a quoted string could not be scanned, and at which byte.
pub(super) enum QuoteFail {
    /// The input ended before the closing quote.
    Unterminated,
    /// A byte the rules forbid (line feed, NUL, or a backslash before a line
    /// feed).
    Forbidden(usize),
}

/// Scans the quoted string whose opening quote is at `open`. A backslash
/// always takes the next byte with it, as upstream's `\"(\\.|[^\\"])*\"`.
pub(super) fn scan_quoted(b: &[u8], open: usize, rules: QuoteRules) -> Result<Quoted, QuoteFail> {
    let mut q = Quoted {
        end: 0,
        escaped: false,
        newlines: 0,
        last_newline: 0,
    };
    let mut i = open + 1;
    while i < b.len() {
        match b[i] {
            b'"' => {
                q.end = i + 1;
                return Ok(q);
            }
            b'\\' => {
                q.escaped = true;
                match b.get(i + 1) {
                    None => return Err(QuoteFail::Unterminated),
                    Some(b'\n') => return Err(QuoteFail::Forbidden(i + 1)),
                    Some(0) if !rules.nul => return Err(QuoteFail::Forbidden(i + 1)),
                    Some(_) => i += 2,
                }
            }
            b'\n' if rules.newline => {
                q.newlines += 1;
                q.last_newline = i;
                i += 1;
            }
            b'\n' => return Err(QuoteFail::Forbidden(i)),
            0 if !rules.nul => return Err(QuoteFail::Forbidden(i)),
            _ => i += 1,
        }
    }
    Err(QuoteFail::Unterminated)
}

/// Decodes `\"`, `\\` and `\n` (label values, quoted names, OpenMetrics help);
/// any other backslash is kept literally, as upstream's replacer does.
pub(super) fn unescape_label(raw: &str) -> Cow<'_, str> {
    unescape(raw, true)
}

/// Decodes `\\` and `\n` only (help text in the Prometheus text format).
pub(super) fn unescape_help(raw: &str) -> Cow<'_, str> {
    unescape(raw, false)
}

fn unescape(raw: &str, quotes: bool) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    unescape_into(raw, quotes, &mut out);
    Cow::Owned(out)
}

/// Appends the decoded form of `raw` to `out`.
pub(super) fn unescape_into(raw: &str, quotes: bool, out: &mut String) {
    let mut rest = raw;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.as_bytes().first() {
            Some(b'\\') => out.push('\\'),
            Some(b'n') => out.push('\n'),
            Some(b'"') if quotes => out.push('"'),
            _ => {
                out.push('\\');
                rest = after;
                continue;
            }
        }
        rest = &after[1..];
    }
    out.push_str(rest);
}

/// The decoded bytes of a label-style escaped string, without allocating.
pub(super) struct Unescaped<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Unescaped<'a> {
    pub(super) fn new(raw: &'a str) -> Self {
        Self {
            b: raw.as_bytes(),
            i: 0,
        }
    }
}

impl Iterator for Unescaped<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let c = *self.b.get(self.i)?;
        if c != b'\\' {
            self.i += 1;
            return Some(c);
        }
        let decoded = match self.b.get(self.i + 1) {
            Some(b'\\') => b'\\',
            Some(b'n') => b'\n',
            Some(b'"') => b'"',
            _ => {
                self.i += 1;
                return Some(b'\\');
            }
        };
        self.i += 2;
        Some(decoded)
    }
}

/// Why a number token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NumberError {
    /// `p`, `P` or `_`: Go 1.13 number syntax, refused by upstream.
    Unsupported,
    /// Not a number at all.
    Syntax,
    /// A finite literal too large for a 64-bit float.
    Range,
}

/// Parses a float as Go's `strconv.ParseFloat(s, 64)` does after upstream's
/// extra check for `p`, `P` and `_`: decimal syntax with an optional exponent,
/// `Inf`/`Infinity` with an optional sign and `NaN` without one (any case).
/// Overflow is an error, not an infinity.
pub(super) fn parse_float(s: &str) -> Result<f64, NumberError> {
    let b = s.as_bytes();
    if !b.is_empty() && b.len() <= 15 && b.iter().all(u8::is_ascii_digit) {
        // Exact: every integer below 10^15 is a float.
        let n = b.iter().fold(0u64, |n, &c| n * 10 + u64::from(c - b'0'));
        return Ok(n as f64);
    }
    if b.iter().any(|&c| matches!(c, b'p' | b'P' | b'_')) {
        return Err(NumberError::Unsupported);
    }
    let v: f64 = s.parse().map_err(|_| NumberError::Syntax)?;
    let signed = matches!(b.first(), Some(b'+' | b'-'));
    if v.is_nan() && signed {
        return Err(NumberError::Syntax);
    }
    if v.is_infinite() {
        let word = if signed { &s[1..] } else { s };
        let is_word = word.eq_ignore_ascii_case("inf") || word.eq_ignore_ascii_case("infinity");
        if !is_word {
            return Err(NumberError::Range);
        }
    }
    Ok(v)
}

/// Formats a float as Prometheus' `FormatOpenMetricsFloat`: Go's shortest
/// `%g`, with `.0` appended to integers, and `NaN`, `+Inf`, `-Inf`.
pub(super) fn format_openmetrics_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    let nd = digits.len() as i32;
    let dp = exp + 1;
    let mut out = String::with_capacity(24);
    if f.is_sign_negative() {
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        out.push(char::from(digits.first().copied().unwrap_or(b'0')));
        if nd > 1 {
            out.push('.');
            out.extend(digits[1..].iter().map(|&d| char::from(d)));
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push('0');
        }
        out.push_str(&e.to_string());
        return out;
    }
    let digit_at = |i: i32| -> char {
        if (0..nd).contains(&i) {
            char::from(digits[i as usize])
        } else {
            '0'
        }
    };
    if dp > 0 {
        (0..dp).for_each(|i| out.push(digit_at(i)));
    } else {
        out.push('0');
    }
    let decimals = (nd - dp).max(0);
    if decimals > 0 {
        out.push('.');
        (0..decimals).for_each(|i| out.push(digit_at(dp + i)));
    } else {
        out.push_str(".0");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_follow_go_parse_float() {
        let ok = [
            ("1", 1.0),
            ("-3e3", -3000.0),
            ("08", 8.0),
            (".5", 0.5),
            ("5.", 5.0),
            ("+Inf", f64::INFINITY),
            ("-inf", f64::NEG_INFINITY),
            ("Infinity", f64::INFINITY),
            ("1e-400", 0.0),
            ("123456789012345678", 123456789012345678.0),
        ];
        for (s, want) in ok {
            assert_eq!(parse_float(s), Ok(want), "{s}");
        }
        assert!(parse_float("NaN").unwrap().is_nan());
        assert!(parse_float("nan").unwrap().is_nan());
        let bad = [
            ("+NaN", NumberError::Syntax),
            ("blubb", NumberError::Syntax),
            ("true", NumberError::Syntax),
            ("", NumberError::Syntax),
            ("1_2", NumberError::Unsupported),
            ("0x1p-3", NumberError::Unsupported),
            ("0x10", NumberError::Syntax),
            ("1e400", NumberError::Range),
            ("infin", NumberError::Syntax),
        ];
        for (s, want) in bad {
            assert_eq!(parse_float(s), Err(want), "{s}");
        }
    }

    #[test]
    fn openmetrics_float_format_matches_go() {
        let cases = [
            (1.0, "1.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (0.25, "0.25"),
            (2.5, "2.5"),
            (100000.0, "100000.0"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-12.34, "-12.34"),
            (1e100, "1e+100"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ];
        for (f, want) in cases {
            assert_eq!(format_openmetrics_float(f), want, "{f}");
        }
    }

    #[test]
    fn escapes_decode_like_upstream_replacers() {
        assert_eq!(unescape_label(r#"a\"b\\c\nd\te"#), "a\"b\\c\nd\\te");
        assert_eq!(unescape_help(r#"a\"b\\c\nd"#), "a\\\"b\\c\nd");
        assert_eq!(unescape_label(r"\\n"), "\\n");
        assert!(matches!(unescape_label("plain"), Cow::Borrowed("plain")));
        let bytes: Vec<u8> = Unescaped::new(r#"x\"\\\n\t"#).collect();
        assert_eq!(bytes, b"x\"\\\n\\t");
    }

    #[test]
    fn quoted_strings_obey_their_rules() {
        let lenient = QuoteRules {
            newline: true,
            nul: true,
        };
        let strict = QuoteRules {
            newline: false,
            nul: false,
        };
        let q = scan_quoted(b"\"a\\\"b\nc\" rest", 0, lenient).ok().unwrap();
        assert_eq!(
            (q.end, q.escaped, q.newlines, q.last_newline),
            (8, true, 1, 5)
        );
        assert!(matches!(
            scan_quoted(b"\"a\nb\"", 0, strict),
            Err(QuoteFail::Forbidden(2))
        ));
        assert!(matches!(
            scan_quoted(b"\"a\0b\"", 0, strict),
            Err(QuoteFail::Forbidden(2))
        ));
        assert!(matches!(
            scan_quoted(b"\"ab", 0, lenient),
            Err(QuoteFail::Unterminated)
        ));
        assert!(matches!(
            scan_quoted(b"\"a\\", 0, lenient),
            Err(QuoteFail::Unterminated)
        ));
        assert!(matches!(
            scan_quoted(b"\"a\\\nb\"", 0, lenient),
            Err(QuoteFail::Forbidden(3))
        ));
    }
}
