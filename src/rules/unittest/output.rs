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
            s.push_str(&crate::gostd::text::quote(k));
        }
        s.push('=');
        s.push_str(&crate::gostd::text::quote(v));
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
        assert_eq!(crate::gostd::text::duration_ms(0), "0s");
        assert_eq!(crate::gostd::text::duration_ms(500), "500ms");
        assert_eq!(crate::gostd::text::duration_ms(60_000), "1m0s");
        assert_eq!(crate::gostd::text::duration_ms(3_723_500), "1h2m3.5s");
        assert_eq!(crate::gostd::text::duration_ms(86_400_000), "24h0m0s");
        assert_eq!(crate::gostd::float::format_upper_e_shortest(1.0), "1E+00");
        assert_eq!(
            crate::gostd::float::format_upper_e_shortest(3.0000000000000004),
            "3.0000000000000004E+00"
        );
        assert_eq!(indent_lines("a\nb", "  "), "a\n  b");
    }
}
