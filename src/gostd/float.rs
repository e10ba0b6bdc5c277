//! Go's float formatting (`strconv.FormatFloat` as `fmt` uses it): `%g`
//! with Go's exponent thresholds (`1e+06`, `1.235e+08`), `%e`, `%f`, and
//! `+Inf`/`-Inf`/`NaN`. Digits come from Rust's exact formatting, which
//! rounds half to even on the exact binary value as Go does.

use std::fmt::Write as _;

/// More significant digits than any `f64`'s exact decimal expansion has (767).
const MAX_SIGNIFICANT: usize = 800;

/// More fractional digits than any `f64`'s exact decimal expansion has (1074).
const MAX_FRACTION: usize = 1100;

/// Decimal digits of |v| and the position of the decimal point: the value is
/// `0.d1d2d3... × 10^dp`. `sig` is the number of significant digits, or
/// `None` for the shortest representation that round-trips. Trailing zeros
/// are removed, as Go's `strconv` does.
fn decimal_digits(v: f64, sig: Option<usize>) -> (Vec<u8>, i32) {
    let s = match sig {
        Some(n) => format!("{:.*e}", n.clamp(1, MAX_SIGNIFICANT) - 1, v.abs()),
        None => format!("{:e}", v.abs()),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    while digits.len() > 1 && digits.last() == Some(&b'0') {
        digits.pop();
    }
    if digits == [b'0'] {
        return (digits, 1);
    }
    (digits, exp + 1)
}

/// `d.ddde±XX` with `prec` digits after the point.
fn layout_e(digits: &[u8], dp: i32, prec: usize, upper: bool) -> String {
    let mut s = String::new();
    s.push(digits.first().map_or('0', |&d| d as char));
    if prec > 0 {
        s.push('.');
        for i in 1..=prec {
            s.push(digits.get(i).map_or('0', |&d| d as char));
        }
    }
    let exp = if digits == [b'0'] { 0 } else { dp - 1 };
    s.push(if upper { 'E' } else { 'e' });
    s.push(if exp < 0 { '-' } else { '+' });
    let _ = write!(s, "{:02}", exp.unsigned_abs());
    s
}

/// `ddd.ddd` with `prec` digits after the point, from already rounded digits.
fn layout_f(digits: &[u8], dp: i32, prec: usize) -> String {
    let digit = |i: i32| -> char {
        if i < 0 {
            '0'
        } else {
            digits.get(i as usize).map_or('0', |&d| d as char)
        }
    };
    let mut s = String::new();
    if dp > 0 {
        for i in 0..dp {
            s.push(digit(i));
        }
    } else {
        s.push('0');
    }
    if prec > 0 {
        s.push('.');
        for i in 0..prec as i32 {
            s.push(digit(dp + i));
        }
    }
    s
}

fn special(v: f64) -> Option<&'static str> {
    if v.is_nan() {
        Some("NaN")
    } else if v == f64::INFINITY {
        Some("+Inf")
    } else if v == f64::NEG_INFINITY {
        Some("-Inf")
    } else {
        None
    }
}

fn signed(v: f64, body: String) -> String {
    if v.is_sign_negative() {
        format!("-{body}")
    } else {
        body
    }
}

/// Go's `strconv.FormatFloat(v, 'g', prec, 64)` as `%g`/`%v` use it
/// (`+Inf` for positive infinity, as `fmt` prints it).
pub fn format_g(v: f64, prec: Option<usize>, upper: bool) -> String {
    if let Some(s) = special(v) {
        return s.to_string();
    }
    let prec = prec.map(|p| p.max(1));
    let (digits, dp) = decimal_digits(v, prec);
    let nd = digits.len() as i32;
    let mut eprec = match prec {
        None => 6,
        Some(p) => p as i32,
    };
    if prec.is_some() && eprec > nd && nd >= dp {
        eprec = nd;
    }
    let exp = dp - 1;
    let body = if digits == [b'0'] {
        "0".to_string()
    } else if exp < -4 || exp >= eprec {
        layout_e(&digits, dp, (nd - 1).max(0) as usize, upper)
    } else {
        layout_f(&digits, dp, (nd - dp).max(0) as usize)
    };
    signed(v, body)
}

/// Go's `%e` with `prec` digits after the point.
pub fn format_e(v: f64, prec: usize, upper: bool) -> String {
    if let Some(s) = special(v) {
        return s.to_string();
    }
    let (digits, dp) = decimal_digits(v, Some(prec + 1));
    signed(v, layout_e(&digits, dp, prec, upper))
}

/// Go's `%f` with `prec` digits after the point.
pub fn format_f(v: f64, prec: usize) -> String {
    if let Some(s) = special(v) {
        return s.to_string();
    }
    // Rust panics on precisions above u16::MAX, Go allows up to 1e6: digits
    // past the exact expansion are zeros, so format those by hand.
    let exact = prec.min(MAX_FRACTION);
    let mut s = format!("{:.*}", exact, v.abs());
    s.extend(std::iter::repeat_n('0', prec - exact));
    signed(v, s)
}

/// Go's `fmt` `%v` of a float64: the shortest digits, exponent form below 1e-4 and from
/// 1e21 (`1e-05`, `123456`, `1e+21`), `NaN`, `+Inf`, `-Inf`.
pub fn format_v(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let a = f.abs();
    if a != 0.0 && !(1e-4..1e21).contains(&a) {
        return exponent_two_digits(&format!("{f:e}"));
    }
    format!("{f}")
}

/// Go's `strconv.FormatFloat(v, 'e', -1, 64)`: `1e+00`, `4.25e+01`, `NaN`, `+Inf`.
pub fn format_e_shortest(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    exponent_two_digits(&format!("{v:e}"))
}

/// Go's `strconv.FormatFloat(v, 'E', -1, 64)`: `1E+00`, `3.0000000000000004E+00`.
pub fn format_upper_e_shortest(v: f64) -> String {
    format_e_shortest(v).replace('e', "E")
}

/// Prometheus' API form of a sample value: the shortest decimal that round-trips, in
/// exponent form below 1e-6 and from 1e21 (`1e-07`, `1e+21`), `NaN`, `+Inf`, `-Inf`.
pub fn format_api_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        let a = v.abs();
        if a != 0.0 && !(1e-6..1e21).contains(&a) {
            exponent_two_digits(&format!("{v:e}"))
        } else {
            format!("{v}")
        }
    }
}

/// Rust's `{:e}` (`1e-7`, `1.5e21`) with Go's signed, at least two-digit exponent
/// (`1e-07`, `1.5e+21`).
fn exponent_two_digits(s: &str) -> String {
    let Some((mant, exp)) = s.split_once('e') else {
        return s.to_string();
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mant}e{sign}{:02}", exp.abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_v_matches_go() {
        let v = |f: f64| format_g(f, None, false);
        assert_eq!(v(11.0), "11");
        assert_eq!(v(1.5), "1.5");
        assert_eq!(v(123456.0), "123456");
        assert_eq!(v(1234567.0), "1.234567e+06");
        assert_eq!(v(1353755652.0), "1.353755652e+09");
        assert_eq!(v(0.0001), "0.0001");
        assert_eq!(v(0.00001), "1e-05");
        assert_eq!(v(-9.223372036854776e18), "-9.223372036854776e+18");
        assert_eq!(v(0.0), "0");
        assert_eq!(v(-0.0), "-0");
        assert_eq!(v(f64::INFINITY), "+Inf");
        assert_eq!(v(f64::NAN), "NaN");
        assert_eq!(v(1e21), "1e+21");
        assert_eq!(v(100.0), "100");
    }

    #[test]
    fn huge_precisions_are_exact_and_do_not_panic() {
        let f = format_f(1.5, 1_000_000);
        assert_eq!(f.len(), 1_000_002);
        assert!(f.starts_with("1.5000") && f.ends_with("000"));
        assert_eq!(format_f(5e-324, 1100).trim_end_matches('0').len(), 1076);
        let e = format_e(1.5, 1_000_000, false);
        assert!(e.starts_with("1.5000") && e.ends_with("0e+00"));
        assert_eq!(
            format_g(0.1, Some(1_000_000), false),
            "0.1000000000000000055511151231257827021181583404541015625"
        );
    }

    #[test]
    fn float_prec_g_matches_go() {
        let g = |f: f64| format_g(f, Some(4), false);
        assert_eq!(g(1.234567), "1.235");
        assert_eq!(g(120.0), "120");
        assert_eq!(g(1000.0), "1000");
        assert_eq!(g(12345.0), "1.234e+04");
        assert_eq!(g(12.3), "12.3");
        assert_eq!(g(-22.222), "-22.22");
        assert_eq!(g(123456700.0), "1.235e+08");
        assert_eq!(g(0.0), "0");
        assert_eq!(g(i64::MAX as f64 / 1e18), "9.223");
    }
}
