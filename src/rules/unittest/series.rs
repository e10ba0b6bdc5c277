//! The expanding series notation of `input_series` (`1+1x3`, `_x2`,
//! `stale`), as Prometheus' `promqltest` `load` command reads it.

use crate::model::STALE_NAN;

/// One position of a value sequence: a value, or no sample.
pub type Point = Option<f64>;

/// Parses a float as Go's `strconv.ParseFloat` does for these files
/// (`Inf`, `+Inf`, `NaN` in any case; no hex).
fn parse_float(s: &str) -> Option<f64> {
    let body = s.trim_start_matches(['+', '-']);
    if body.starts_with("0x") || body.starts_with("0X") || body.is_empty() {
        return None;
    }
    if body.chars().next().is_some_and(|c| c == '_') {
        return None;
    }
    s.parse::<f64>().ok()
}

/// Expands a value sequence into positions.
pub fn parse_values(values: &str) -> Result<Vec<Point>, String> {
    let mut out = Vec::new();
    for item in values.split_whitespace() {
        if item.starts_with("{{") {
            return Err(format!(
                "native histogram values are not supported: {item:?}"
            ));
        }
        if item == "_" {
            out.push(None);
            continue;
        }
        if item == "stale" {
            out.push(Some(STALE_NAN));
            continue;
        }
        if let Some(n) = item.strip_prefix("_x") {
            let n: usize = n
                .parse()
                .map_err(|_| format!("invalid repetition in {item:?}"))?;
            out.extend(std::iter::repeat_n(None, n));
            continue;
        }
        let Some((head, times)) = item.rsplit_once('x') else {
            let v = parse_float(item).ok_or_else(|| format!("invalid value {item:?}"))?;
            out.push(Some(v));
            continue;
        };
        let n: usize = times
            .parse()
            .map_err(|_| format!("invalid repetition in {item:?}"))?;
        if n > 10_000_000 {
            return Err(format!("too many repetitions in {item:?}"));
        }
        let (start, step) = split_step(head).ok_or_else(|| format!("invalid value {item:?}"))?;
        let mut v = start;
        out.push(Some(v));
        for _ in 0..n {
            v += step;
            out.push(Some(v));
        }
    }
    Ok(out)
}

/// Splits `A+B` / `A-B` / `A` into base and step; the sign after the first
/// character (and not after an exponent `e`) starts the step.
fn split_step(s: &str) -> Option<(f64, f64)> {
    let b = s.as_bytes();
    for i in 1..b.len() {
        if (b[i] == b'+' || b[i] == b'-') && !matches!(b[i - 1], b'e' | b'E') {
            let base = parse_float(&s[..i])?;
            let step = parse_float(&s[i..])?;
            return Some((base, step));
        }
    }
    Some((parse_float(s)?, 0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::is_stale_nan;

    fn vals(s: &str) -> Vec<Option<f64>> {
        parse_values(s).unwrap()
    }

    #[test]
    fn expands_like_promqltest() {
        assert_eq!(
            vals("0+10x5"),
            [0., 10., 20., 30., 40., 50.].map(Some).to_vec()
        );
        assert_eq!(vals("1x3"), [1.; 4].map(Some).to_vec());
        assert_eq!(vals("1-2x2"), [1., -1., -3.].map(Some).to_vec());
        assert_eq!(vals("-2+4x1"), [-2., 2.].map(Some).to_vec());
        assert_eq!(vals("1e3 +Inf"), vec![Some(1000.0), Some(f64::INFINITY)]);
        let v = vals("1 _x3 stale _");
        assert_eq!(v.len(), 6);
        assert_eq!(&v[1..4], &[None, None, None]);
        assert!(is_stale_nan(v[4].unwrap()));
        assert_eq!(vals("10+10x2 30+20x5").len(), 9);
        assert!(vals("NaN")[0].unwrap().is_nan());
        assert_eq!(vals("1e-3+1e-3x1"), vec![Some(0.001), Some(0.002)]);
    }

    #[test]
    fn rejects_bad_values() {
        assert_eq!(
            vals("0x10").len(),
            11,
            "0x10 is 0 repeated, as promtool reads it"
        );
        for s in ["abc", "1xa", "{{schema:1}}", "1+x2", "0x1p3"] {
            assert!(parse_values(s).is_err(), "{s:?} accepted");
        }
    }
}
