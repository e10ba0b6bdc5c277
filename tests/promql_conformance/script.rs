//! The promqltest script format: durations, value sequences, series
//! lines and eval blocks (see ../shared/conformance/promqltest-format.md).

use watchfire::model::{Labels, STALE_NAN};
use watchfire::promql;

/// Parses a duration such as `5m`, `1h30m`, `10s53ms`, `0`.
pub(crate) fn parse_duration(s: &str) -> Result<i64, String> {
    if s == "0" {
        return Ok(0);
    }
    let mut total: i64 = 0;
    let b = s.as_bytes();
    let mut i = 0;
    if b.is_empty() {
        return Err("empty duration".into());
    }
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(format!("bad duration {s:?}"));
        }
        let n: i64 = s[start..i]
            .parse()
            .map_err(|_| format!("bad duration {s:?}"))?;
        let ustart = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let mult = match &s[ustart..i] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            u => return Err(format!("bad duration unit {u:?} in {s:?}")),
        };
        total += n * mult;
    }
    Ok(total)
}

/// Parses a float as the script format allows (no hex).
pub(crate) fn parse_float(s: &str) -> Option<f64> {
    let l = s.to_ascii_lowercase();
    match l.as_str() {
        "inf" | "+inf" => return Some(f64::INFINITY),
        "-inf" => return Some(f64::NEG_INFINITY),
        "nan" | "+nan" | "-nan" => return Some(f64::NAN),
        _ => {}
    }
    if l.contains("inf") || l.contains("nan") || l.starts_with("0x") || l.contains('_') {
        return None;
    }
    s.parse().ok()
}

/// Parses a bare number line (hex allowed).
pub(crate) fn parse_number_line(s: &str) -> Option<f64> {
    let t = s.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let v = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()? as f64
    } else {
        parse_float(body)?
    };
    Some(if neg { -v } else { v })
}

/// One position of a value sequence.
pub(crate) type Slot = Option<f64>;

/// Expands a value sequence. Returns None for native histogram sequences.
pub(crate) fn parse_values(s: &str) -> Result<Option<Vec<Slot>>, String> {
    if s.contains("{{") {
        return Ok(None);
    }
    let mut out = Vec::new();
    for item in s.split_whitespace() {
        if item == "_" {
            out.push(None);
            continue;
        }
        if let Some(n) = item.strip_prefix("_x") {
            let n: usize = n.parse().map_err(|_| format!("bad item {item:?}"))?;
            out.extend(std::iter::repeat_n(None, n));
            continue;
        }
        if item == "stale" {
            out.push(Some(STALE_NAN));
            continue;
        }
        let (body, times) = match item.rsplit_once('x') {
            Some((b, n)) if !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) => (
                b,
                Some(
                    n.parse::<usize>()
                        .map_err(|_| format!("bad item {item:?}"))?,
                ),
            ),
            _ => (item, None),
        };
        // Split A+B / A-B: a sign not at the start and not after an exponent mark.
        let bytes = body.as_bytes();
        let mut split = None;
        for i in 1..bytes.len() {
            if (bytes[i] == b'+' || bytes[i] == b'-') && !matches!(bytes[i - 1], b'e' | b'E') {
                split = Some(i);
                break;
            }
        }
        let (a, step) = match split {
            Some(i) => {
                let a = parse_float(&body[..i]).ok_or(format!("bad value {item:?}"))?;
                let d = parse_float(&body[i + 1..]).ok_or(format!("bad value {item:?}"))?;
                (a, if bytes[i] == b'-' { -d } else { d })
            }
            None => (parse_float(body).ok_or(format!("bad value {item:?}"))?, 0.0),
        };
        match times {
            None => {
                if split.is_some() {
                    return Err(format!("bad item {item:?}"));
                }
                out.push(Some(a));
            }
            Some(n) => {
                let mut v = a;
                out.push(Some(v));
                for _ in 0..n {
                    v += step;
                    out.push(Some(v));
                }
            }
        }
    }
    Ok(Some(out))
}

/// Splits `selector values` into its two parts.
pub(crate) fn split_series_line(line: &str) -> Result<(&str, &str), String> {
    let b = line.as_bytes();
    let mut depth = 0;
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if let Some(q) = quote {
            if c == b'\\' {
                i += 1;
            } else if c == q {
                quote = None;
            }
        } else if c == b'"' || c == b'\'' || c == b'`' {
            quote = Some(c);
        } else if c == b'{' {
            depth += 1;
        } else if c == b'}' {
            depth -= 1;
            if depth == 0 {
                let rest = &line[i + 1..];
                return Ok((&line[..=i], rest));
            }
        } else if depth == 0 && c.is_ascii_whitespace() {
            return Ok((&line[..i], &line[i..]));
        }
        i += 1;
    }
    Err(format!("no values in series line {line:?}"))
}

/// The label set written as a selector.
pub(crate) fn parse_labels(sel: &str) -> Result<Labels, String> {
    let sel = sel.trim();
    if sel == "{}" {
        return Ok(Labels::empty());
    }
    let expr = promql::parse(sel).map_err(|e| format!("bad series {sel:?}: {e}"))?;
    match expr {
        promql::Expr::VectorSelector(vs) => {
            let mut pairs: Vec<(String, String)> = Vec::new();
            if let Some(n) = vs.name {
                pairs.push(("__name__".into(), n));
            }
            for m in vs.matchers.matchers {
                pairs.push((m.name, m.value));
            }
            Ok(Labels::from_pairs(pairs))
        }
        _ => Err(format!("bad series {sel:?}")),
    }
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Expect {
    pub(crate) fail: Option<Option<Matcher>>,
    pub(crate) warn: bool,
    pub(crate) no_warn: bool,
    pub(crate) info: bool,
    pub(crate) no_info: bool,
    pub(crate) ordered: bool,
    pub(crate) range_vector: Option<(i64, i64, i64)>,
    pub(crate) string: Option<String>,
    pub(crate) scalar: Option<f64>,
    pub(crate) series: Vec<(Labels, Vec<Slot>)>,
    /// The expectation uses native histograms.
    pub(crate) histogram: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    Exact(String),
    Regex(String),
}

#[derive(Debug)]
pub(crate) struct Eval {
    pub(crate) line: usize,
    pub(crate) range: Option<(i64, i64, i64)>,
    pub(crate) at: i64,
    pub(crate) expr: String,
    pub(crate) expect: Expect,
}

pub(crate) enum Cmd {
    Clear,
    Load {
        step: i64,
        nhcb: bool,
        lines: Vec<(usize, String)>,
    },
    Eval(Eval),
}

pub(crate) fn parse_script(text: &str) -> Result<Vec<Cmd>, String> {
    let lines: Vec<String> = text
        .split('\n')
        .map(|l| {
            let t = l.trim();
            if t.starts_with('#') {
                String::new()
            } else {
                t.to_string()
            }
        })
        .collect();
    let mut cmds = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = &lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        let word = l
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let lineno = i + 1;
        if word == "clear" {
            cmds.push(Cmd::Clear);
            i += 1;
        } else if word.starts_with("load") {
            let step_s = l.split_whitespace().nth(1).ok_or("load without step")?;
            let step = parse_duration(step_s)?;
            let mut body = Vec::new();
            i += 1;
            while i < lines.len() && !lines[i].is_empty() {
                body.push((i + 1, lines[i].clone()));
                i += 1;
            }
            cmds.push(Cmd::Load {
                step,
                nhcb: word.starts_with("load_with_nhcb"),
                lines: body,
            });
        } else if word.starts_with("eval") {
            let (ev, next) = parse_eval(&lines, i).map_err(|e| format!("line {lineno}: {e}"))?;
            cmds.push(Cmd::Eval(ev));
            i = next;
        } else {
            return Err(format!("line {lineno}: unknown command {l:?}"));
        }
    }
    Ok(cmds)
}

pub(crate) fn parse_matcher(rest: &str) -> Option<Matcher> {
    let rest = rest.trim();
    if let Some(m) = rest.strip_prefix("msg:") {
        return Some(Matcher::Exact(m.trim().to_string()));
    }
    if let Some(m) = rest.strip_prefix("regex:") {
        return Some(Matcher::Regex(m.trim().to_string()));
    }
    None
}

pub(crate) fn parse_eval(lines: &[String], start: usize) -> Result<(Eval, usize), String> {
    let header = &lines[start];
    let mut words = header.splitn(2, char::is_whitespace);
    let cmd = words.next().unwrap_or("");
    let rest = words.next().unwrap_or("").trim();
    let mut expect = Expect::default();
    match cmd {
        "eval" => {}
        "eval_fail" => expect.fail = Some(None),
        "eval_warn" => expect.warn = true,
        "eval_info" => expect.info = true,
        "eval_ordered" => expect.ordered = true,
        other => return Err(format!("unknown eval form {other:?}")),
    }
    let tok: Vec<&str> = rest.split_whitespace().collect();
    let (range, at, expr) = match tok.first().copied() {
        Some("instant") => {
            if tok.get(1) != Some(&"at") {
                return Err("instant eval without 'at'".into());
            }
            let t = parse_duration(tok.get(2).ok_or("missing time")?)?;
            let expr = after_words(rest, 3);
            (None, t, expr)
        }
        Some("range") => {
            if tok.get(1) != Some(&"from")
                || tok.get(3) != Some(&"to")
                || tok.get(5) != Some(&"step")
            {
                return Err("bad range eval header".into());
            }
            let s = parse_duration(tok[2])?;
            let e = parse_duration(tok[4])?;
            let st = parse_duration(tok.get(6).ok_or("missing step")?)?;
            (Some((s, e, st)), s, after_words(rest, 7))
        }
        _ => return Err(format!("bad eval header {header:?}")),
    };
    let mut i = start + 1;
    while i < lines.len() && !lines[i].is_empty() {
        let l = &lines[i];
        i += 1;
        if let Some(m) = l.strip_prefix("expected_fail_message") {
            expect.fail = Some(Some(Matcher::Exact(m.trim().to_string())));
            break;
        }
        if let Some(m) = l.strip_prefix("expected_fail_regexp") {
            expect.fail = Some(Some(Matcher::Regex(m.trim().to_string())));
            break;
        }
        if let Some(r) = l.strip_prefix("expect range vector from ") {
            let t: Vec<&str> = r.split_whitespace().collect();
            if t.len() != 5 || t[1] != "to" || t[3] != "step" {
                return Err(format!("bad range vector expectation {l:?}"));
            }
            expect.range_vector = Some((
                parse_duration(t[0])?,
                parse_duration(t[2])?,
                parse_duration(t[4])?,
            ));
            continue;
        }
        if let Some(r) = l.strip_prefix("expect string ") {
            let r = r.trim();
            let s = if r.len() >= 2 && (r.starts_with('"') || r.starts_with('`')) {
                unquote(r)?
            } else {
                return Err(format!("bad string expectation {l:?}"));
            };
            expect.string = Some(s);
            continue;
        }
        if l.split_whitespace().next() == Some("expect") {
            let body = l["expect".len()..].trim();
            let (kind, rest) = match body.find(|c: char| c.is_whitespace()) {
                Some(p) => (&body[..p], &body[p..]),
                None => (body, ""),
            };
            match kind {
                "fail" => expect.fail = Some(parse_matcher(rest)),
                "warn" => expect.warn = true,
                "no_warn" => expect.no_warn = true,
                "info" => expect.info = true,
                "no_info" => expect.no_info = true,
                "ordered" => expect.ordered = true,
                other => return Err(format!("unknown expectation {other:?}")),
            }
            continue;
        }
        if let Some(v) = parse_number_line(l) {
            expect.scalar = Some(v);
            break;
        }
        let (sel, vals) = split_series_line(l)?;
        let labels = parse_labels(sel)?;
        match parse_values(vals)? {
            Some(v) => expect.series.push((labels, v)),
            None => expect.histogram = true,
        }
    }
    // Skip to the end of the block.
    while i < lines.len() && !lines[i].is_empty() {
        i += 1;
    }
    Ok((
        Eval {
            line: start + 1,
            range,
            at,
            expr,
            expect,
        },
        i,
    ))
}

pub(crate) fn after_words(s: &str, n: usize) -> String {
    let mut rest = s;
    for _ in 0..n {
        rest = rest.trim_start();
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        rest = &rest[end..];
    }
    rest.trim().to_string()
}

pub(crate) fn unquote(s: &str) -> Result<String, String> {
    if let Some(inner) = s.strip_prefix('`').and_then(|r| r.strip_suffix('`')) {
        return Ok(inner.to_string());
    }
    let inner = s
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .ok_or(format!("bad quoted string {s:?}"))?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('\\') => out.push('\\'),
                Some('"') => out.push('"'),
                Some(o) => {
                    out.push('\\');
                    out.push(o);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}
