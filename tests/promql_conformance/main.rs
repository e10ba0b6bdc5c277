//! Runs Prometheus' own PromQL test scripts (`../shared/conformance/promql`)
//! against our engine, following `../shared/conformance/promqltest-format.md`,
//! including the Go harness' extra checks (every instant eval is re-run with
//! all selectors pinned `@` the eval time at other times, and as a range
//! query around the eval time), twice through a selection memo as rule groups run it, and
//! with range-function windows carried over from two earlier evaluations.
//!
//! Evals on native histograms and experimental features are skipped (each
//! group counted). Every other failing eval must be listed in
//! `tests/data/promql_expected_failures.txt`; an unlisted failure is a
//! regression and a listed eval that now passes must be removed from the
//! list.
//!
//! Environment switches: `PROMQL_CONFORMANCE_WRITE=1` rewrites the list from
//! this run; `PROMQL_CONFORMANCE_VERBOSE=1` prints every failure;
//! `PROMQL_CONFORMANCE_ALL=1` also runs the skipped groups and reports their
//! pass counts; `PROMQL_CONFORMANCE_FILE=<name>` runs one file;
//! `PROMQL_CONFORMANCE_IMMEDIATE_NAMES=1` evaluates without delayed
//! `__name__` removal (the upstream scripts assume it, so some evals fail).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use promql_parser::parser::AtModifier;

mod compare;
mod script;

use compare::{check_result, matches};
use script::{parse_labels, parse_script, parse_values, split_series_line, Cmd, Eval};
use watchfire::model::Labels;
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

fn engine() -> Engine {
    Engine::new(EngineOptions {
        lookback_delta_ms: 5 * 60 * 1000,
        timeout: Duration::from_secs(100),
        max_samples: 50_000_000,
        ..EngineOptions::default()
    })
    .with_delayed_name_removal(std::env::var("PROMQL_CONFORMANCE_IMMEDIATE_NAMES").is_err())
    .with_default_subquery_step(60_000)
}

/// Functions whose value depends on the evaluation time.
const AT_UNSAFE: &[&str] = watchfire::promql::TIME_DEPENDENT_FUNCTIONS;

/// Pins every selector and subquery outside a pinned subquery to `@ at`;
/// returns false when the expression calls a time-dependent function.
fn pin(e: &mut promql::Expr, at: &AtModifier) -> bool {
    use promql::Expr;
    match e {
        Expr::VectorSelector(vs) => {
            if vs.at.is_none() {
                vs.at = Some(at.clone());
            }
            true
        }
        Expr::MatrixSelector(m) => {
            if m.vs.at.is_none() {
                m.vs.at = Some(at.clone());
            }
            true
        }
        Expr::Subquery(sq) => {
            if sq.at.is_none() {
                sq.at = Some(at.clone());
            }
            true
        }
        Expr::Aggregate(a) => {
            let ok = a.param.as_mut().is_none_or(|p| pin(p, at));
            pin(&mut a.expr, at) && ok
        }
        Expr::Unary(u) => pin(&mut u.expr, at),
        Expr::Binary(b) => {
            let l = pin(&mut b.lhs, at);
            pin(&mut b.rhs, at) && l
        }
        Expr::Paren(p) => pin(&mut p.expr, at),
        Expr::Call(c) => {
            let mut ok = !AT_UNSAFE.contains(&c.func.name);
            for a in c.args.args.iter_mut() {
                ok = pin(a, at) && ok;
            }
            ok
        }
        _ => true,
    }
}

fn at_time(ms: i64) -> AtModifier {
    let d = Duration::from_millis(ms.unsigned_abs());
    AtModifier::At(if ms >= 0 {
        SystemTime::UNIX_EPOCH + d
    } else {
        SystemTime::UNIX_EPOCH - d
    })
}

fn run_eval(store: &Store, eng: &Engine, ev: &Eval) -> Result<(), String> {
    let ex = &ev.expect;
    let expr = match promql::parse(&ev.expr) {
        Ok(e) => e,
        Err(e) => {
            let e = e.to_string();
            return match &ex.fail {
                Some(Some(m)) if !matches(m, &e) => {
                    Err(format!("error {e:?} does not match {m:?}"))
                }
                Some(_) => Ok(()),
                None => Err(format!("parse error: {e}")),
            };
        }
    };
    if let Some((s, e, st)) = ev.range {
        let res = eng
            .range_query(store, &expr, s, e, st)
            .map_err(|e| e.to_string());
        return check_result(ex, res, Some((s, st)));
    }
    let t = ex.range_vector.map_or(ev.at, |(_, b, _)| b);
    run_instant(store, eng, ev, &expr, t, "")?;
    // Step-invariance variants: every selector pinned to `@ t`.
    let mut pinned = expr.clone();
    if pin(&mut pinned, &at_time(t)) {
        let times: Vec<i64> = if t == 0 {
            vec![-1000, 0, 1000]
        } else {
            vec![-10 * t, 0, t / 5, t, 10 * t]
        };
        for et in times {
            run_instant(store, eng, ev, &pinned, et, " (@-pinned variant)")?;
        }
    }
    Ok(())
}

fn run_instant(
    store: &Store,
    eng: &Engine,
    ev: &Eval,
    expr: &promql::Expr,
    t: i64,
    variant: &str,
) -> Result<(), String> {
    let ex = &ev.expect;
    let res = eng.instant_query(store, expr, t).map_err(|e| e.to_string());
    // Rule groups read through a selection memo: the same answer when the memo is filled by
    // this query and when it serves every selection.
    let memo = eng.selection_memo();
    for pass in ["filling", "served by"] {
        let shared = eng
            .instant_query_shared(store, expr, t, &memo)
            .map_err(|e| e.to_string());
        if format!("{shared:?}") != format!("{res:?}") {
            return Err(format!(
                "{pass} a selection memo{variant} at {t}: {shared:?}, without: {res:?}"
            ));
        }
    }
    // Rule groups also carry range-function windows between evaluations: evaluated at two
    // earlier times first, the window moved on must give the same answer.
    let windows = promql::WindowCache::new();
    for at in [t.saturating_sub(60_000), t.saturating_sub(15_000), t] {
        windows.begin();
        let carried = eng
            .instant_query_carried(store, expr, at, &eng.selection_memo(), &windows)
            .map_err(|e| e.to_string());
        if at == t && format!("{carried:?}") != format!("{res:?}") {
            return Err(format!(
                "carried windows{variant} at {t}: {carried:?}, without: {res:?}"
            ));
        }
    }
    let range_start = ex.range_vector.map(|(a, _, st)| (a, st));
    let scalar_result = matches!(
        res,
        Ok(QueryResult {
            value: Value::Scalar { .. },
            ..
        })
    );
    check_result(ex, res, range_start).map_err(|e| format!("{e}{variant} at {t}"))?;
    if ex.fail.is_some() || ex.range_vector.is_some() || ex.string.is_some() {
        return Ok(());
    }
    static CONTEXT_FNS: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = CONTEXT_FNS
        .get_or_init(|| regex::Regex::new(r"(start|end|range|step)\(\)").expect("valid regex"));
    if re.is_match(&ev.expr) {
        return Ok(());
    }
    let r = eng
        .range_query(store, expr, t - 60_000, t + 60_000, 60_000)
        .map_err(|e| format!("range mode{variant} at {t}: {e}"))?;
    if ex.ordered {
        return Ok(());
    }
    let Value::Matrix(m) = r.value else {
        return Err(format!("range mode{variant}: result is not a matrix"));
    };
    if m.windows(2).any(|w| w[0].labels > w[1].labels) {
        return Err(format!(
            "range mode{variant}: matrix result is not sorted by labels"
        ));
    }
    let vec: Vec<promql::InstantSample> = m
        .iter()
        .filter_map(|s| {
            s.samples
                .iter()
                .find(|p| p.t == t)
                .map(|p| promql::InstantSample {
                    labels: s.labels.clone(),
                    t,
                    v: p.v,
                })
        })
        .collect();
    let value = if scalar_result {
        match vec.first() {
            Some(s) => Value::Scalar { t, v: s.v },
            None => return Err(format!("range mode{variant}: no point at {t}")),
        }
    } else {
        Value::Vector(vec)
    };
    let as_result = QueryResult {
        value,
        warnings: Vec::new(),
        infos: Vec::new(),
    };
    let mut relaxed = ex.clone();
    relaxed.warn = false;
    relaxed.info = false;
    relaxed.no_warn = false;
    relaxed.no_info = false;
    check_result(&relaxed, Ok(as_result), None)
        .map_err(|e| format!("range mode{variant} at {t}: {e}"))
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
    /// With PROMQL_CONFORMANCE_ALL: (passed, failed) of skipped evals per group.
    skipped_passing: BTreeMap<&'static str, (usize, usize)>,
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
    let run_skipped = std::env::var("PROMQL_CONFORMANCE_ALL").is_ok();
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
                let group = skips
                    .get(&(name.clone(), ev.line))
                    .copied()
                    .or(ev.expect.histogram.then_some(GROUPS[0]));
                if let Some(g) = group {
                    *counts.skipped.entry(g).or_default() += 1;
                    if run_skipped {
                        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            run_eval(&store, &eng, &ev)
                        }))
                        .unwrap_or_else(|_| Err("panicked".into()));
                        let e = counts.skipped_passing.entry(g).or_default();
                        match r {
                            Ok(()) => e.0 += 1,
                            Err(msg) => {
                                e.1 += 1;
                                if std::env::var("PROMQL_CONFORMANCE_VERBOSE").is_ok() {
                                    println!(
                                        "SKIPPED-FAIL [{g}] {name}:{}: {} -- {msg}",
                                        ev.line, ev.expr
                                    );
                                }
                            }
                        }
                    }
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
        for (g, (p, f)) in c.skipped_passing {
            let e = total.skipped_passing.entry(g).or_default();
            e.0 += p;
            e.1 += f;
        }
    }
    for g in GROUPS.iter().chain(&[HIST_DATA]) {
        let extra = match total.skipped_passing.get(g) {
            Some((p, f)) => format!(" (run anyway: {p} pass, {f} fail)"),
            None => String::new(),
        };
        println!(
            "skipped group {g}: {}{extra}",
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
