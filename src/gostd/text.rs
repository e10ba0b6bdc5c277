//! Go's text forms of strings and durations: `strconv.Quote` and
//! `time.Duration.String()`.

use std::fmt::Write as _;

/// Go's `strconv.Quote` (`ascii_only`: `strconv.QuoteToASCII`, as `%+q` prints).
pub fn quote_with(s: &str, ascii_only: bool) -> String {
    let mut q = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\x07' => q.push_str("\\a"),
            '\x08' => q.push_str("\\b"),
            '\x0c' => q.push_str("\\f"),
            '\n' => q.push_str("\\n"),
            '\r' => q.push_str("\\r"),
            '\t' => q.push_str("\\t"),
            '\x0b' => q.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\x7f' => {
                let _ = write!(q, "\\x{:02x}", c as u32);
            }
            c if c.is_ascii() || (!ascii_only && !c.is_control()) => q.push(c),
            c if (c as u32) < 0x10000 => {
                let _ = write!(q, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(q, "\\U{:08x}", c as u32);
            }
        }
    }
    q.push('"');
    q
}

/// Go's `strconv.Quote`.
pub fn quote(s: &str) -> String {
    quote_with(s, false)
}

/// Appends `s` as Go's `strconv.Quote` writes it.
pub fn quote_into(out: &mut String, s: &str) {
    out.push_str(&quote_with(s, false));
}

/// Go's `time.Duration.String()` for a millisecond count: `0s`, `500ms`,
/// `1m0s`, `1h2m3.5s`.
pub fn duration_ms(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let neg = ms < 0;
    let ms = ms.unsigned_abs();
    let sign = if neg { "-" } else { "" };
    if ms < 1000 {
        return format!("{sign}{ms}ms");
    }
    let h = ms / 3_600_000;
    let m = (ms / 60_000) % 60;
    let s_ms = ms % 60_000;
    let mut secs = format!("{}", s_ms / 1000);
    if s_ms % 1000 != 0 {
        let frac = format!("{:03}", s_ms % 1000);
        secs.push('.');
        secs.push_str(frac.trim_end_matches('0'));
    }
    match (h, m) {
        (0, 0) => format!("{sign}{secs}s"),
        (0, m) => format!("{sign}{m}m{secs}s"),
        (h, m) => format!("{sign}{h}h{m}m{secs}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_as_strconv() {
        assert_eq!(quote("a\"b\\\n\x01\x7f"), "\"a\\\"b\\\\\\n\\x01\\x7f\"");
        assert_eq!(quote_with("é", true), "\"\\u00e9\"");
        assert_eq!(quote("é"), "\"é\"");
    }

    #[test]
    fn durations_as_go_prints_them() {
        assert_eq!(duration_ms(0), "0s");
        assert_eq!(duration_ms(500), "500ms");
        assert_eq!(duration_ms(60_000), "1m0s");
        assert_eq!(duration_ms(3_723_500), "1h2m3.5s");
        assert_eq!(duration_ms(-1500), "-1.5s");
    }
}
