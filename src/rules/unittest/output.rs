//! Go formatting of values in `promtool test rules` messages: label sets,
//! `time.Duration`, `%E` floats.

/// A label set as Go's `labels.Labels.String()`: `{a="b", c="d"}`; names
/// that are not legacy-valid are quoted.
pub fn labels_string(pairs: &[(String, String)]) -> String {
    let mut s = String::from("{");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        if legacy_name(k) {
            s.push_str(k);
        } else {
            s.push_str(&go_quote(k));
        }
        s.push('=');
        s.push_str(&go_quote(v));
    }
    s.push('}');
    s
}

fn legacy_name(n: &str) -> bool {
    let mut c = n.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// Go's `strconv.Quote` for the characters label values hold.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `time.Duration.String()` for a millisecond count: `0s`, `500ms`,
/// `1m0s`, `1h2m3.5s`.
pub fn go_duration(ms: i64) -> String {
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

/// Go's `strconv.FormatFloat(v, 'E', -1, 64)`: `1E+00`, `3.0000000000000004E+00`.
pub fn go_float_upper_e(v: f64) -> String {
    crate::rules::api_json::go_float_e(v).replace('e', "E")
}

/// Prefixes every line but the first with `indent`.
pub fn indent_lines(s: &str, indent: &str) -> String {
    s.split('\n')
        .collect::<Vec<_>>()
        .join(&format!("\n{indent}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        let l = vec![
            ("alertname".to_string(), "A".to_string()),
            ("ins-x".to_string(), "a\"b".to_string()),
        ];
        assert_eq!(labels_string(&l), r#"{alertname="A", "ins-x"="a\"b"}"#);
        assert_eq!(labels_string(&[]), "{}");
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(500), "500ms");
        assert_eq!(go_duration(60_000), "1m0s");
        assert_eq!(go_duration(3_723_500), "1h2m3.5s");
        assert_eq!(go_duration(86_400_000), "24h0m0s");
        assert_eq!(go_float_upper_e(1.0), "1E+00");
        assert_eq!(
            go_float_upper_e(3.0000000000000004),
            "3.0000000000000004E+00"
        );
        assert_eq!(indent_lines("a\nb", "  "), "a\n  b");
    }
}
