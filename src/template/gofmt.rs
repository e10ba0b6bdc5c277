//! Go's `fmt` formatting of template values: `%v` printing, floats in
//! `strconv` style (`%g`, `%e`, `%f`) and `printf` with Go's verbs, flags and
//! its in-band error strings (`%!d(string=x)`, `%!s(MISSING)`).

use std::fmt::Write as _;

use super::gotime::duration_string;
use super::value::{ListKind, MapKind, TValue};
use crate::gostd::float::{format_e, format_f, format_g};
use crate::gostd::text::quote_with;

/// Go refuses widths and precisions above this (`fmt`'s `tooLarge`).
const MAX_WIDTH: usize = 1_000_000;

/// Rendering stops descending into containers past this many bytes: values
/// can share sub-lists (`$l = list $l $l`), so their printed size can grow
/// exponentially with the work spent building them. The output limit is
/// capped at this size, so a cut-short rendering is always rejected.
pub(crate) const MAX_RENDER: usize = 16 << 20;

/// Writes `v` as `fmt.Sprint` would with verb `verb` applied to leaves
/// (`v` or `s` and so on); used for `%v`, printing actions and containers.
/// Stops descending into containers once `out` is longer than `cap`.
pub fn write_value(out: &mut String, v: &TValue, verb: char, cap: usize) {
    let spec = Spec {
        verb,
        cap,
        ..Spec::default()
    };
    write_leaf(out, v, &spec);
}

/// Stringer-style text of values whose Go type has a `String()` method.
fn stringer(v: &TValue) -> Option<String> {
    match v {
        TValue::Time(t) => Some(t.go_string()),
        TValue::Duration(d) => Some(duration_string(*d)),
        TValue::Map(m) if m.kind == MapKind::Kv => Some(super::methods::kv_string(m)),
        TValue::List(l) if l.kind == ListKind::Pairs => Some(super::methods::pairs_string(l)),
        _ => None,
    }
}

#[derive(Clone, Default)]
struct Spec {
    verb: char,
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
    /// Rendering stops descending into containers past this output length.
    cap: usize,
}

fn bad_verb(out: &mut String, v: &TValue, verb: char) {
    match v {
        TValue::Null => {
            let _ = write!(out, "%!{verb}(<nil>)");
        }
        _ => {
            let _ = write!(out, "%!{verb}({}=", v.type_name());
            write_value(out, v, 'v', MAX_RENDER);
            out.push(')');
        }
    }
}

/// Pads `s` to the spec's width (spaces, or zeros after the sign for numbers).
fn pad(out: &mut String, s: &str, spec: &Spec, numeric: bool) {
    let len = s.chars().count();
    let width = spec.width.unwrap_or(0);
    if len >= width {
        out.push_str(s);
        return;
    }
    let fill = width - len;
    if spec.minus {
        out.push_str(s);
        out.extend(std::iter::repeat_n(' ', fill));
    } else if spec.zero && numeric {
        let (sign, digits) = match s.chars().next() {
            Some(c @ ('+' | '-' | ' ')) => (Some(c), &s[1..]),
            _ => (None, s),
        };
        if let Some(c) = sign {
            out.push(c);
        }
        out.extend(std::iter::repeat_n('0', fill));
        out.push_str(digits);
    } else {
        out.extend(std::iter::repeat_n(' ', fill));
        out.push_str(s);
    }
}

fn write_int(out: &mut String, i: i64, spec: &Spec) {
    let u = i.unsigned_abs();
    let mut digits = match spec.verb {
        'd' | 'v' => u.to_string(),
        'x' => format!("{u:x}"),
        'X' => format!("{u:X}"),
        'o' | 'O' => format!("{u:o}"),
        'b' => format!("{u:b}"),
        _ => String::new(),
    };
    if let Some(p) = spec.prec {
        if p == 0 && u == 0 {
            digits.clear();
        }
        if digits.len() < p {
            digits = "0".repeat(p - digits.len()) + &digits;
        }
    }
    let prefix = match (spec.verb, spec.sharp) {
        ('x', true) => "0x",
        ('X', true) => "0X",
        ('o', true) if !digits.starts_with('0') => "0",
        ('O', _) => "0o",
        ('b', true) => "0b",
        _ => "",
    };
    let sign = if i < 0 {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    };
    let s = format!("{sign}{prefix}{digits}");
    let mut sp = spec.clone();
    sp.zero = spec.zero && spec.prec.is_none();
    pad(out, &s, &sp, true);
}

fn write_float(out: &mut String, f: f64, spec: &Spec) {
    let upper = spec.verb.is_ascii_uppercase();
    let body = match spec.verb {
        'v' | 'g' | 'G' => format_g(f, spec.prec, upper),
        'e' | 'E' => format_e(f, spec.prec.unwrap_or(6), upper),
        _ => format_f(f, spec.prec.unwrap_or(6)),
    };
    let mut s = body;
    if !s.starts_with('-') && !s.starts_with('+') && s != "NaN" {
        if spec.plus {
            s.insert(0, '+');
        } else if spec.space {
            s.insert(0, ' ');
        }
    } else if s.starts_with('+') && !spec.plus && s != "+Inf" {
        s.remove(0);
    }
    let numeric = f.is_finite();
    pad(out, &s, spec, numeric);
}

fn write_str(out: &mut String, s: &str, spec: &Spec) {
    match spec.verb {
        'v' | 's' => {
            let s = match spec.prec {
                Some(p) => s.chars().take(p).collect::<String>(),
                None => s.to_string(),
            };
            pad(out, &s, spec, false);
        }
        'q' => pad(out, &quote_with(s, spec.plus), spec, false),
        'x' | 'X' => {
            let mut h = String::new();
            for (i, b) in s.bytes().enumerate() {
                if spec.space && i > 0 {
                    h.push(' ');
                }
                if spec.sharp && (spec.space || i == 0) {
                    h.push_str(if spec.verb == 'x' { "0x" } else { "0X" });
                }
                let _ = if spec.verb == 'x' {
                    write!(h, "{b:02x}")
                } else {
                    write!(h, "{b:02X}")
                };
            }
            pad(out, &h, spec, false);
        }
        _ => bad_verb(out, &TValue::str(s), spec.verb),
    }
}

/// Formats one operand according to `spec`, recursing into containers.
fn write_leaf(out: &mut String, v: &TValue, spec: &Spec) {
    if out.len() > spec.cap {
        return;
    }
    let verb = spec.verb;
    if let Some(s) = stringer(v) {
        if matches!(verb, 'v' | 's' | 'q' | 'x' | 'X') {
            return write_str(out, &s, spec);
        }
    }
    match v {
        TValue::Null => match verb {
            'v' => pad(out, "<nil>", spec, false),
            _ => bad_verb(out, v, verb),
        },
        TValue::Bool(b) => match verb {
            'v' | 't' => pad(out, if *b { "true" } else { "false" }, spec, false),
            _ => bad_verb(out, v, verb),
        },
        TValue::Int(i) | TValue::Duration(i) => match verb {
            'v' | 'd' | 'x' | 'X' | 'o' | 'O' | 'b' => write_int(out, *i, spec),
            'c' => pad(
                out,
                &char::from_u32(*i as u32).unwrap_or('\u{FFFD}').to_string(),
                spec,
                false,
            ),
            'q' => {
                let c = char::from_u32(*i as u32).unwrap_or('\u{FFFD}');
                let q = quote_with(&c.to_string(), spec.plus);
                let inner = q[1..q.len() - 1].replace("\\\"", "\"");
                pad(out, &format!("'{inner}'"), spec, false)
            }
            'U' => pad(out, &format!("U+{:04X}", *i), spec, false),
            _ => bad_verb(out, v, verb),
        },
        TValue::Float(f) => match verb {
            'v' | 'e' | 'E' | 'f' | 'F' | 'g' | 'G' => write_float(out, *f, spec),
            _ => bad_verb(out, v, verb),
        },
        TValue::Str(s) | TValue::Html(s) => write_str(out, s, spec),
        TValue::Time(t) => match verb {
            'v' | 's' => pad(out, &t.go_string(), spec, false),
            _ => bad_verb(out, v, verb),
        },
        TValue::List(l) => {
            out.push('[');
            for (i, item) in l.items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_leaf(out, item, spec);
            }
            out.push(']');
        }
        TValue::Map(m) => {
            out.push_str("map[");
            for (i, (k, item)) in m.entries.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_str(out, k, spec);
                out.push(':');
                write_leaf(out, item, spec);
            }
            out.push(']');
        }
        TValue::Record(r) => {
            if r.type_name.starts_with('*') {
                out.push('&');
            }
            out.push('{');
            for (i, (_, item)) in r.fields.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_leaf(out, item, spec);
            }
            out.push('}');
        }
    }
}

/// Go's `fmt.Sprintf(format, args...)`; containers are rendered up to
/// `cap` bytes of output.
pub fn sprintf(format: &str, args: &[TValue], cap: usize) -> String {
    let mut out = String::new();
    let mut arg_num = 0usize;
    let mut reordered = false;
    let b = format.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i] != b'%' {
            i += 1;
        }
        out.push_str(&format[start..i]);
        if i >= b.len() {
            break;
        }
        i += 1; // the '%'
        let mut spec = Spec {
            cap,
            ..Spec::default()
        };
        while i < b.len() {
            match b[i] {
                b'-' => {
                    spec.minus = true;
                    spec.zero = false;
                }
                b'+' => spec.plus = true,
                b'#' => spec.sharp = true,
                b' ' => spec.space = true,
                b'0' => spec.zero = !spec.minus,
                _ => break,
            }
            i += 1;
        }
        // Argument index, width, precision.
        let mut bad_index = false;
        let mut take_index = |i: &mut usize, arg_num: &mut usize| {
            if *i < b.len() && b[*i] == b'[' {
                reordered = true;
                match format[*i..].find(']') {
                    Some(end) => {
                        match format[*i + 1..*i + end].parse::<usize>() {
                            Ok(n) if n >= 1 && n <= args.len() => *arg_num = n - 1,
                            _ => bad_index = true,
                        }
                        *i += end + 1;
                    }
                    None => {
                        bad_index = true;
                        *i = b.len();
                    }
                }
            }
        };
        take_index(&mut i, &mut arg_num);
        if i < b.len() && b[i] == b'*' {
            i += 1;
            match args.get(arg_num) {
                Some(TValue::Int(n)) if n.unsigned_abs() as usize <= MAX_WIDTH => {
                    if *n < 0 {
                        spec.minus = true;
                        spec.zero = false;
                    }
                    spec.width = Some(n.unsigned_abs() as usize);
                }
                _ => out.push_str("%!(BADWIDTH)"),
            }
            arg_num += 1;
        } else {
            let (n, len) = parse_num(&b[i..]);
            i += len;
            match n {
                Some(n) if n <= MAX_WIDTH => spec.width = Some(n),
                Some(_) => out.push_str("%!(BADWIDTH)"),
                None => {}
            }
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            take_index(&mut i, &mut arg_num);
            if i < b.len() && b[i] == b'*' {
                i += 1;
                match args.get(arg_num) {
                    Some(TValue::Int(n)) if *n >= 0 && (*n as usize) <= MAX_WIDTH => {
                        spec.prec = Some(*n as usize)
                    }
                    _ => out.push_str("%!(BADPREC)"),
                }
                arg_num += 1;
            } else {
                let (n, len) = parse_num(&b[i..]);
                i += len;
                match n {
                    Some(n) if n > MAX_WIDTH => out.push_str("%!(BADPREC)"),
                    n => spec.prec = Some(n.unwrap_or(0)),
                }
            }
        }
        take_index(&mut i, &mut arg_num);
        let Some(verb) = format[i..].chars().next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        i += verb.len_utf8();
        spec.verb = verb;
        if verb == '%' {
            out.push('%');
            continue;
        }
        if bad_index {
            let _ = write!(out, "%!{verb}(BADINDEX)");
            continue;
        }
        let Some(arg) = args.get(arg_num) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        arg_num += 1;
        if spec.verb == 'F' {
            spec.verb = 'f';
        }
        write_leaf(&mut out, arg, &spec);
    }
    if !reordered && arg_num < args.len() {
        out.push_str("%!(EXTRA ");
        for (n, a) in args[arg_num..].iter().enumerate() {
            if n > 0 {
                out.push_str(", ");
            }
            match a {
                TValue::Null => out.push_str("<nil>"),
                _ => {
                    out.push_str(a.type_name());
                    out.push('=');
                    write_value(&mut out, a, 'v', cap);
                }
            }
        }
        out.push(')');
    }
    out
}

fn parse_num(b: &[u8]) -> (Option<usize>, usize) {
    let len = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if len == 0 {
        return (None, 0);
    }
    let n = b[..len].iter().try_fold(0usize, |acc, &d| {
        acc.checked_mul(10)?.checked_add((d - b'0') as usize)
    });
    (Some(n.unwrap_or(usize::MAX)), len)
}

/// Go's `fmt.Sprint`: operands joined, with a space between two operands when
/// neither is a string.
pub fn sprint(args: &[TValue], cap: usize) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = a.as_str().is_some();
        if i > 0 && !is_str && args[i - 1].as_str().is_none() {
            out.push(' ');
        }
        write_value(&mut out, a, 'v', cap);
    }
    out
}

/// Go's `fmt.Sprintln`: operands joined by spaces, plus a newline.
pub fn sprintln(args: &[TValue], cap: usize) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_value(&mut out, a, 'v', cap);
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printf_matches_go() {
        let p = |f: &str, a: &[TValue]| sprintf(f, a, MAX_RENDER);
        assert_eq!(p("%0.2f", &[TValue::Float(3720.01)]), "3720.01");
        assert_eq!(p("%.2f", &[TValue::Float(0.125)]), "0.12");
        assert_eq!(p("%d items", &[TValue::Int(3)]), "3 items");
        assert_eq!(
            p(
                "%5d|%-5d|%05d",
                &[TValue::Int(3), TValue::Int(3), TValue::Int(-3)]
            ),
            "    3|3    |-0003"
        );
        assert_eq!(p("%s", &[TValue::str("x")]), "x");
        assert_eq!(p("%q", &[TValue::str("a\"b\n")]), "\"a\\\"b\\n\"");
        assert_eq!(
            p(
                "%x %X %x",
                &[TValue::Int(255), TValue::Int(255), TValue::str("hi")]
            ),
            "ff FF 6869"
        );
        assert_eq!(
            p("%v %v", &[TValue::Float(1.5), TValue::Bool(true)]),
            "1.5 true"
        );
        assert_eq!(p("%e", &[TValue::Float(1234.5678)]), "1.234568e+03");
        assert_eq!(p("%g", &[TValue::Float(1e6)]), "1e+06");
        assert_eq!(p("%d", &[TValue::str("x")]), "%!d(string=x)");
        assert_eq!(p("%f", &[TValue::Int(1)]), "%!f(int=1)");
        assert_eq!(p("%s %s", &[TValue::str("x")]), "x %!s(MISSING)");
        assert_eq!(
            p("%s", &[TValue::str("x"), TValue::Int(2)]),
            "x%!(EXTRA int=2)"
        );
        assert_eq!(p("100%%", &[]), "100%");
        assert_eq!(p("%", &[]), "%!(NOVERB)");
        assert_eq!(
            p("%[2]s %[1]s", &[TValue::str("a"), TValue::str("b")]),
            "b a"
        );
        assert_eq!(p("%*d", &[TValue::Int(4), TValue::Int(7)]), "   7");
        assert_eq!(p("%.1s", &[TValue::str("héllo")]), "h");
        assert_eq!(p("%+d % d", &[TValue::Int(5), TValue::Int(5)]), "+5  5");
        assert_eq!(p("%s", &[TValue::Null]), "%!s(<nil>)");
        assert_eq!(p("%v", &[TValue::Null]), "<nil>");
        assert_eq!(p("%9999999d", &[TValue::Int(1)]), "%!(BADWIDTH)1");
        assert_eq!(
            p(
                "%8.3f|%-8.2e|",
                &[TValue::Float(1.23456), TValue::Float(31.4)]
            ),
            "   1.235|3.14e+01|"
        );
        assert_eq!(p("%t", &[TValue::Bool(false)]), "false");
        assert_eq!(p("%c%c", &[TValue::Int(72), TValue::Int(105)]), "Hi");
    }

    #[test]
    fn sprint_spacing_matches_go() {
        assert_eq!(sprint(&[TValue::Int(1), TValue::Int(2)], 100), "1 2");
        assert_eq!(
            sprint(&[TValue::str("a"), TValue::Int(2), TValue::str("b")], 100),
            "a2b"
        );
        assert_eq!(
            sprintln(&[TValue::str("a"), TValue::str("b")], 100),
            "a b\n"
        );
    }

    #[test]
    fn containers_print_as_go() {
        let l = TValue::list(ListKind::Any, vec![TValue::Int(1), TValue::str("x")]);
        assert_eq!(l.to_go_string(), "[1 x]");
        let m = TValue::map(
            MapKind::Strings,
            [
                ("b".into(), TValue::str("2")),
                ("a".into(), TValue::str("1")),
            ]
            .into_iter()
            .collect(),
        );
        assert_eq!(m.to_go_string(), "map[a:1 b:2]");
    }
}
