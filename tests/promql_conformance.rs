//! Runs Prometheus' own PromQL test scripts (`../shared/conformance/promql`)
//! against our engine, following `../shared/conformance/promqltest-format.md`.
//!
//! Evals on native histograms and experimental features are skipped (each
//! group counted). Every other failing eval must be listed in
//! `tests/data/promql_expected_failures.txt`; an unlisted failure is a
//! regression and a listed eval that now passes must be removed from the
//! list. `PROMQL_CONFORMANCE_WRITE=1` rewrites the list from this run.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use watchfire::model::{is_stale_nan, Labels, STALE_NAN};
use watchfire::promql::{self, Engine, EngineOptions, QueryResult, Value};
use watchfire::store::{Store, StoreOptions};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/conformance/promql");
const INDEX: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/conformance/promql-eval-index.tsv"
);
const EXPECTED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/promql_expected_failures.txt"
);

/// Skip groups, in the order they are checked.
const GROUPS: &[&str] = &[
    "native_histogram",
    "experimental_func",
    "anchored_smoothed",
    "fill_modifier",
    "duration_expr",
    "type_unit_labels",
];

/// Failing evals not tagged in the index whose selectors match series
/// loaded with native histogram samples (which the float-only buffer cannot
/// hold, so their data is incomplete here).
const HIST_DATA: &str = "native_histogram_data";

/// Whether any selector of `expr` matches a series loaded with histograms.
fn selects_histograms(expr: &str, hist: &BTreeSet<Labels>) -> bool {
    use promql::Expr;
    fn walk(e: &Expr, hist: &BTreeSet<Labels>) -> bool {
        let sel = |vs: &promql_parser::parser::VectorSelector| {
            hist.iter().any(|l| {
                vs.name
                    .as_deref()
                    .is_none_or(|n| l.metric_name() == Some(n))
                    && vs
                        .matchers
                        .matchers
                        .iter()
                        .all(|m| m.is_match(l.get(&m.name).unwrap_or("")))
            })
        };
        match e {
            Expr::VectorSelector(vs) => sel(vs),
            Expr::MatrixSelector(m) => sel(&m.vs),
            Expr::Aggregate(a) => walk(&a.expr, hist),
            Expr::Unary(u) => walk(&u.expr, hist),
            Expr::Binary(b) => walk(&b.lhs, hist) || walk(&b.rhs, hist),
            Expr::Paren(p) => walk(&p.expr, hist),
            Expr::Subquery(s) => walk(&s.expr, hist),
            Expr::Call(c) => c.args.args.iter().any(|a| walk(a, hist)),
            _ => false,
        }
    }
    if hist.is_empty() {
        return false;
    }
    promql::parse(expr).is_ok_and(|e| walk(&e, hist))
}

// ---------------------------------------------------------------- parsing

/// Parses a duration such as `5m`, `1h30m`, `10s53ms`, `0`.
fn parse_duration(s: &str) -> Result<i64, String> {
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
fn parse_float(s: &str) -> Option<f64> {
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
fn parse_number_line(s: &str) -> Option<f64> {
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
type Slot = Option<f64>;

/// Expands a value sequence. Returns None for native histogram sequences.
fn parse_values(s: &str) -> Result<Option<Vec<Slot>>, String> {
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
fn split_series_line(line: &str) -> Result<(&str, &str), String> {
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
fn parse_labels(sel: &str) -> Result<Labels, String> {
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

// ---------------------------------------------------------------- model

#[derive(Debug, Default, Clone)]
struct Expect {
    fail: Option<Option<Matcher>>,
    warn: bool,
    no_warn: bool,
    info: bool,
    no_info: bool,
    ordered: bool,
    range_vector: Option<(i64, i64, i64)>,
    string: Option<String>,
    scalar: Option<f64>,
    series: Vec<(Labels, Vec<Slot>)>,
    /// The expectation uses native histograms.
    histogram: bool,
}

#[derive(Debug, Clone)]
enum Matcher {
    Exact(String),
    Regex(String),
}

#[derive(Debug)]
struct Eval {
    line: usize,
    range: Option<(i64, i64, i64)>,
    at: i64,
    expr: String,
    expect: Expect,
}

enum Cmd {
    Clear,
    Load {
        step: i64,
        nhcb: bool,
        lines: Vec<(usize, String)>,
    },
    Eval(Eval),
}

fn parse_script(text: &str) -> Result<Vec<Cmd>, String> {
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

fn parse_matcher(rest: &str) -> Option<Matcher> {
    let rest = rest.trim();
    if let Some(m) = rest.strip_prefix("msg:") {
        return Some(Matcher::Exact(m.trim().to_string()));
    }
    if let Some(m) = rest.strip_prefix("regex:") {
        return Some(Matcher::Regex(m.trim().to_string()));
    }
    None
}

fn parse_eval(lines: &[String], start: usize) -> Result<(Eval, usize), String> {
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

fn after_words(s: &str, n: usize) -> String {
    let mut rest = s;
    for _ in 0..n {
        rest = rest.trim_start();
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        rest = &rest[end..];
    }
    rest.trim().to_string()
}

fn unquote(s: &str) -> Result<String, String> {
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

// ---------------------------------------------------------------- running

/// Go's `almost.Equal` with the harness' epsilon, plus StaleNaN handling.
fn float_eq(a: f64, b: f64) -> bool {
    const MIN_NORMAL: f64 = 2.2250738585072014e-308;
    if is_stale_nan(a) || is_stale_nan(b) {
        return is_stale_nan(a) && is_stale_nan(b);
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < 1e-6 * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < 1e-6
}

fn matches(m: &Matcher, text: &str) -> bool {
    match m {
        Matcher::Exact(s) => s == text,
        Matcher::Regex(r) => regex::Regex::new(r).is_ok_and(|re| re.is_match(text)),
    }
}

fn engine() -> Engine {
    Engine::new(EngineOptions {
        lookback_delta_ms: 5 * 60 * 1000,
        timeout: Duration::from_secs(100),
        max_samples: 50_000_000,
    })
    .with_delayed_name_removal(true)
    .with_default_subquery_step(60_000)
}

fn run_eval(store: &Store, eng: &Engine, ev: &Eval) -> Result<(), String> {
    let ex = &ev.expect;
    let parsed = promql::parse(&ev.expr);
    let res: Result<QueryResult, String> = match parsed {
        Err(e) => Err(e.to_string()),
        Ok(expr) => match ev.range {
            Some((s, e, st)) => eng
                .range_query(store, &expr, s, e, st)
                .map_err(|e| e.to_string()),
            None => {
                let t = ex.range_vector.map_or(ev.at, |(_, b, _)| b);
                eng.instant_query(store, &expr, t)
                    .map_err(|e| e.to_string())
            }
        },
    };
    if let Some(m) = &ex.fail {
        return match res {
            Ok(_) => Err("expected failure, query succeeded".into()),
            Err(e) => match m {
                Some(m) if !matches(m, &e) => Err(format!("error {e:?} does not match {m:?}")),
                _ => Ok(()),
            },
        };
    }
    let r = res.map_err(|e| format!("unexpected error: {e}"))?;
    if ex.warn && r.warnings.is_empty() {
        return Err("expected a warning, got none".into());
    }
    if ex.no_warn && !r.warnings.is_empty() {
        return Err(format!("expected no warning, got {:?}", r.warnings));
    }
    if ex.info && r.infos.is_empty() {
        return Err("expected an info annotation, got none".into());
    }
    if ex.no_info && !r.infos.is_empty() {
        return Err(format!("expected no info annotation, got {:?}", r.infos));
    }
    if let Some(s) = &ex.string {
        return match &r.value {
            Value::String { v, .. } if v == s => Ok(()),
            other => Err(format!("expected string {s:?}, got {other:?}")),
        };
    }
    if let Some(x) = ex.scalar {
        return match r.value {
            Value::Scalar { v, .. } if float_eq(v, x) => Ok(()),
            other => Err(format!("expected scalar {x}, got {other:?}")),
        };
    }
    match &r.value {
        Value::Vector(samples) => {
            if ev.range.is_some() || ex.range_vector.is_some() {
                return Err("expected a matrix, got a vector".into());
            }
            compare_vector(ex, samples)
        }
        Value::Matrix(series) => {
            let (start, step) = match (ev.range, ex.range_vector) {
                (Some((s, _, st)), _) => (s, st),
                (None, Some((a, _, st))) => (a, st),
                (None, None) => return Err("unexpected matrix result for an instant query".into()),
            };
            compare_matrix(ex, series, start, step)
        }
        other => Err(format!("unexpected result {other:?}")),
    }
}

fn compare_vector(ex: &Expect, got: &[promql::InstantSample]) -> Result<(), String> {
    let mut expected: HashMap<&Labels, (usize, f64)> = HashMap::new();
    for (i, (l, vals)) in ex.series.iter().enumerate() {
        if vals.len() != 1 {
            return Err(format!(
                "expected exactly one value for {l} in an instant eval"
            ));
        }
        let Some(v) = vals[0] else {
            return Err(format!("expected value for {l} is blank"));
        };
        expected.insert(l, (i, v));
    }
    if got.len() != expected.len() {
        return Err(format!(
            "expected {} samples, got {}: {}",
            expected.len(),
            got.len(),
            show_vector(got)
        ));
    }
    for (pos, s) in got.iter().enumerate() {
        let Some(&(i, v)) = expected.get(&s.labels) else {
            return Err(format!(
                "unexpected series {} in {}",
                s.labels,
                show_vector(got)
            ));
        };
        if ex.ordered && i != pos {
            return Err(format!(
                "series {} at position {pos}, expected {i}",
                s.labels
            ));
        }
        if !float_eq(v, s.v) {
            return Err(format!("value of {}: expected {v}, got {}", s.labels, s.v));
        }
    }
    Ok(())
}

fn show_vector(got: &[promql::InstantSample]) -> String {
    let items: Vec<String> = got
        .iter()
        .take(8)
        .map(|s| format!("{} => {}", s.labels, s.v))
        .collect();
    format!("[{}]", items.join(", "))
}

fn compare_matrix(
    ex: &Expect,
    got: &[promql::RangeSeries],
    start: i64,
    step: i64,
) -> Result<(), String> {
    if got.windows(2).any(|w| w[0].labels > w[1].labels) {
        return Err("matrix result is not sorted by labels".into());
    }
    let mut expected: BTreeMap<&Labels, Vec<(i64, f64)>> = BTreeMap::new();
    for (l, vals) in &ex.series {
        let pts: Vec<(i64, f64)> = vals
            .iter()
            .enumerate()
            .filter_map(|(k, v)| v.map(|v| (start + k as i64 * step, v)))
            .collect();
        expected.insert(l, pts);
    }
    if got.len() != expected.len() {
        let names: Vec<String> = got.iter().take(8).map(|s| s.labels.to_string()).collect();
        return Err(format!(
            "expected {} series, got {}: {:?}",
            expected.len(),
            got.len(),
            names
        ));
    }
    for s in got {
        let Some(exp) = expected.get(&s.labels) else {
            return Err(format!("unexpected series {}", s.labels));
        };
        if exp.len() != s.samples.len() {
            return Err(format!(
                "series {}: expected {} points, got {}: {:?}",
                s.labels,
                exp.len(),
                s.samples.len(),
                s.samples.iter().map(|p| (p.t, p.v)).collect::<Vec<_>>()
            ));
        }
        for ((t, v), p) in exp.iter().zip(&s.samples) {
            if *t != p.t || !float_eq(*v, p.v) {
                return Err(format!(
                    "series {}: expected ({t}, {v}), got ({}, {})",
                    s.labels, p.t, p.v
                ));
            }
        }
    }
    Ok(())
}

/// Loaded data: label set -> time -> value (kept so that later loads can
/// add samples before earlier ones).
type Data = BTreeMap<Labels, BTreeMap<i64, f64>>;

fn build_store(data: &Data) -> Store {
    let store = Store::new(StoreOptions { retention_ms: None });
    for (l, samples) in data {
        let (s, _) = store.get_or_create(l.clone());
        for (t, v) in samples {
            store.append(&s, *t, *v).expect("samples are in order");
        }
    }
    store
}

fn load(
    data: &mut Data,
    hist: &mut BTreeSet<Labels>,
    nhcb: bool,
    step: i64,
    lines: &[(usize, String)],
) -> Result<(), String> {
    let mut block: BTreeMap<Labels, BTreeMap<i64, f64>> = BTreeMap::new();
    for (n, l) in lines {
        let (sel, vals) = split_series_line(l).map_err(|e| format!("line {n}: {e}"))?;
        if sel.ends_with("@st") || vals.trim_start().starts_with("@st") {
            continue;
        }
        let labels = parse_labels(sel).map_err(|e| format!("line {n}: {e}"))?;
        let Some(values) = parse_values(vals).map_err(|e| format!("line {n}: {e}"))? else {
            hist.insert(labels);
            continue;
        };
        if nhcb && labels.contains("le") {
            if let Some(base) = labels.metric_name().and_then(|n| n.strip_suffix("_bucket")) {
                let mut pairs: Vec<(String, String)> = labels
                    .iter()
                    .filter(|l| &*l.name != "le" && &*l.name != "__name__")
                    .map(|l| (l.name.to_string(), l.value.to_string()))
                    .collect();
                pairs.push(("__name__".into(), base.to_string()));
                hist.insert(Labels::from_pairs(pairs));
            }
        }
        let mut samples = BTreeMap::new();
        for (i, v) in values.iter().enumerate() {
            if let Some(v) = v {
                samples.insert(i as i64 * step, *v);
            }
        }
        block.insert(labels, samples);
    }
    for (l, s) in block {
        data.entry(l).or_default().extend(s);
    }
    Ok(())
}

#[derive(Default)]
struct Counts {
    passed: usize,
    failed: usize,
    skipped: BTreeMap<&'static str, usize>,
}

impl Counts {
    fn skipped(&self) -> usize {
        self.skipped.values().sum()
    }
}

fn read_index() -> HashMap<(String, usize), &'static str> {
    let mut out = HashMap::new();
    let Ok(text) = std::fs::read_to_string(INDEX) else {
        return out;
    };
    for line in text.lines() {
        if line.starts_with('#') || line.starts_with("file\t") {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 8 {
            continue;
        }
        let Ok(n) = cols[1].parse::<usize>() else {
            continue;
        };
        let feats: BTreeSet<&str> = cols[7].split(',').collect();
        let group = if cols[4] == "1" {
            Some(GROUPS[0])
        } else {
            GROUPS[1..].iter().copied().find(|g| feats.contains(g))
        };
        if let Some(g) = group {
            out.insert((cols[0].to_string(), n), g);
        }
    }
    out
}

fn read_expected() -> BTreeSet<String> {
    std::fs::read_to_string(EXPECTED)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn run_file(
    path: &Path,
    skips: &HashMap<(String, usize), &'static str>,
    failures: &mut Vec<(String, String)>,
) -> Counts {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let text = std::fs::read_to_string(path).expect("readable test file");
    let mut counts = Counts::default();
    let cmds = match parse_script(&text) {
        Ok(c) => c,
        Err(e) => panic!("{name}: {e}"),
    };
    let eng = engine();
    let mut data = Data::new();
    let mut hist: BTreeSet<Labels> = BTreeSet::new();
    let mut store = build_store(&data);
    for cmd in cmds {
        match cmd {
            Cmd::Clear => {
                data.clear();
                hist.clear();
                store = build_store(&data);
            }
            Cmd::Load { step, nhcb, lines } => {
                load(&mut data, &mut hist, nhcb, step, &lines)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                store = build_store(&data);
            }
            Cmd::Eval(ev) => {
                if let Some(g) = skips.get(&(name.clone(), ev.line)) {
                    *counts.skipped.entry(g).or_default() += 1;
                    continue;
                }
                if ev.expect.histogram {
                    *counts.skipped.entry(GROUPS[0]).or_default() += 1;
                    continue;
                }

                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run_eval(&store, &eng, &ev)
                }))
                .unwrap_or_else(|_| Err("panicked".into()));
                match outcome {
                    Ok(()) => counts.passed += 1,
                    Err(_) if selects_histograms(&ev.expr, &hist) => {
                        *counts.skipped.entry(HIST_DATA).or_default() += 1;
                    }
                    Err(e) => {
                        counts.failed += 1;
                        failures
                            .push((format!("{name}:{}", ev.line), format!("{} -- {e}", ev.expr)));
                    }
                }
            }
        }
    }
    counts
}

#[test]
fn promql_conformance() {
    let dir = PathBuf::from(DIR);
    if !dir.is_dir() {
        println!("skipping PromQL conformance: {} is absent", dir.display());
        return;
    }
    let skips = read_index();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("readable conformance dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    let only = std::env::var("PROMQL_CONFORMANCE_FILE").ok();
    let mut total = Counts::default();
    let mut failures = Vec::new();
    for f in &files {
        let fname = f.file_name().unwrap().to_string_lossy().to_string();
        if only.as_ref().is_some_and(|o| !fname.contains(o.as_str())) {
            continue;
        }
        let c = run_file(f, &skips, &mut failures);
        let groups: Vec<String> = c.skipped.iter().map(|(g, n)| format!("{g} {n}")).collect();
        println!(
            "{fname}: {} passed, {} failed, {} skipped ({})",
            c.passed,
            c.failed,
            c.skipped(),
            groups.join(", ")
        );
        total.passed += c.passed;
        total.failed += c.failed;
        for (g, n) in c.skipped {
            *total.skipped.entry(g).or_default() += n;
        }
    }
    for g in GROUPS {
        println!(
            "skipped group {g}: {}",
            total.skipped.get(g).copied().unwrap_or(0)
        );
    }
    let expected = read_expected();
    let failed: BTreeSet<String> = failures.iter().map(|(k, _)| k.clone()).collect();
    if std::env::var("PROMQL_CONFORMANCE_VERBOSE").is_ok() {
        for (k, msg) in &failures {
            println!("FAIL {k}: {msg}");
        }
    }
    if std::env::var("PROMQL_CONFORMANCE_WRITE").is_ok() {
        let mut text = String::from(
            "# Evals of ../shared/conformance/promql that fail today (file:line). Generated by\n\
             # PROMQL_CONFORMANCE_WRITE=1 cargo test --test promql_conformance; the list may only shrink.\n",
        );
        for (k, msg) in &failures {
            let short: String = msg.chars().take(150).collect();
            text.push_str(&format!("{k}  # {}\n", short.replace('\n', " ")));
        }
        std::fs::write(EXPECTED, text).expect("writable expected-failures file");
    }
    let regressions: Vec<&(String, String)> = failures
        .iter()
        .filter(|(k, _)| !expected.contains(k))
        .collect();
    let fixed: Vec<&String> = if only.is_some() {
        Vec::new()
    } else {
        expected.iter().filter(|k| !failed.contains(*k)).collect()
    };
    println!(
        "{} passed, {} failed, {} skipped",
        total.passed,
        total.failed,
        total.skipped()
    );
    for (k, msg) in &regressions {
        println!("REGRESSION {k}: {msg}");
    }
    for k in &fixed {
        println!("NOW PASSING (remove from {EXPECTED}): {k}");
    }
    assert!(
        regressions.is_empty() && fixed.is_empty(),
        "{} unlisted failures, {} listed evals now pass",
        regressions.len(),
        fixed.len()
    );
}
