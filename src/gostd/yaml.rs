//! Scalars as `gopkg.in/yaml.v2` (YAML 1.1) resolves them for an `interface{}`: what
//! Alertmanager does to a rendered PagerDuty detail, and to the keys of maps in its config.

/// A plain YAML 1.1 scalar as `yaml.v2` resolves it: null, booleans (`yes`, `on`, ...),
/// integers (with `0x`, `0b`, `0o`, leading-`0` octal, `_`; beyond int64 as uint64), floats,
/// else text (`.inf` and `.nan` too, which Alertmanager could not encode anyway).
/// Timestamps stay text, as `yaml.v2` keeps them for an `interface{}`.
pub fn plain_scalar(t: &str) -> serde_json::Value {
    use serde_json::Value as J;
    match t {
        "" | "~" | "null" | "Null" | "NULL" => return J::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return J::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return J::Bool(false)
        }
        _ => {}
    }
    if let Some(i) = go_parse_int(t) {
        return i;
    }
    static FLOAT: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let float = FLOAT.get_or_init(|| {
        regex::Regex::new(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$").unwrap()
    });
    if float.is_match(t) {
        if let Ok(f) = t.parse::<f64>() {
            if let Some(n) = serde_json::Number::from_f64(f) {
                return J::Number(n);
            }
        }
    }
    J::String(t.to_owned())
}

/// Go's `strconv.ParseInt(s, 0, 64)`, then `ParseUint` for larger ones (with `yaml.v2`'s
/// removal of `_`).
fn go_parse_int(t: &str) -> Option<serde_json::Value> {
    let plain = t.replace('_', "");
    let (neg, digits) = match plain.as_bytes().first()? {
        b'-' => (true, &plain[1..]),
        b'+' => (false, &plain[1..]),
        _ => (false, plain.as_str()),
    };
    let (radix, body) = if let Some(h) = digits.strip_prefix("0x").or(digits.strip_prefix("0X")) {
        (16, h)
    } else if let Some(b) = digits.strip_prefix("0b").or(digits.strip_prefix("0B")) {
        (2, b)
    } else if let Some(o) = digits.strip_prefix("0o").or(digits.strip_prefix("0O")) {
        (8, o)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    if let Ok(v) = i64::from_str_radix(body, radix) {
        return Some(serde_json::Value::from(if neg { -v } else { v }));
    }
    if neg {
        return None;
    }
    u64::from_str_radix(body, radix)
        .ok()
        .map(serde_json::Value::from)
}

#[cfg(test)]
mod tests {
    use super::plain_scalar;
    use serde_json::json;

    #[test]
    fn resolves_as_yaml_v2() {
        assert_eq!(plain_scalar("On"), json!(true));
        assert_eq!(plain_scalar("~"), json!(null));
        assert_eq!(plain_scalar("010"), json!(8));
        assert_eq!(plain_scalar("1_000"), json!(1000));
        assert_eq!(
            plain_scalar("12345678901234567890"),
            json!(12345678901234567890u64)
        );
        assert_eq!(plain_scalar("1.50"), json!(1.5));
        assert_eq!(plain_scalar("2026-01-01"), json!("2026-01-01"));
    }
}
