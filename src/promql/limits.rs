//! Limits checked on the query text before `promql-parser` sees it, and the
//! stack budget of the recursive walks that remain.
//!
//! - [`MAX_QUERY_BYTES`] bounds a query's length without whitespace, so every
//!   walk is bounded; [`MAX_QUERY_TEXT_BYTES`] bounds the text with it, as much
//!   as `format_query` may return, so a formatted query always parses again.
//! - [`MAX_DEPTH`] bounds the depth of the expression tree. It is estimated
//!   from tokens, without building the tree: every bracket level counts one,
//!   and every operator token (`+ - * / % ^`, comparisons, `and`/`or`/`unless`/
//!   `atan2`, and `[` of a range or subquery) counts one within its bracket
//!   level and argument, because `a + b + c …` builds a left-deep tree as deep as
//!   the chain is long. The estimate is never below the real depth.
//! - `@ <number>` outside Prometheus' bounds (`|t| >= 2^63` seconds, NaN, ±Inf)
//!   is refused as Prometheus' parser does: "timestamp out of bounds for @
//!   modifier".
//!
//! Stack budget: within these limits the tree is still deep enough that a
//! debug build overflows a 2 MiB thread while evaluating it. Our own walks
//! (`plan::lower`, `plan::mark`, `Evaluator::eval`) call [`guarded`] at each
//! level, which moves onto a fresh heap-allocated stack segment of [`SEGMENT`]
//! bytes whenever less than [`RED_ZONE`] is left; the crate's own recursion
//! (parsing a deep query, pretty printing) runs inside [`deep`], which
//! guarantees [`DEEP_STACK`] bytes. Dropping a tree at the limit needs well
//! under 1 MiB even in a debug build (measured by the unit tests below), so
//! drops are safe on every thread of the process (tokio's threads have 2 MiB).

use super::parse_pos::tokens;

/// Deepest expression tree accepted (estimated as described above).
pub const MAX_DEPTH: usize = 512;

/// Longest query accepted, in bytes other than whitespace (indentation does not
/// grow the tree, and `format_query`'s pretty printing adds a lot of it).
pub const MAX_QUERY_BYTES: usize = 128 * 1024;

/// Longest query text accepted, whitespace included: twice the rendering budget
/// of `format_query`, so whatever it returns parses again.
pub const MAX_QUERY_TEXT_BYTES: usize = 32 * 1024 * 1024;

/// Stack that must be left before one more level of our own recursion.
pub(crate) const RED_ZONE: usize = 256 * 1024;

/// Size of a stack segment added when less than [`RED_ZONE`] is left.
pub(crate) const SEGMENT: usize = 4 * 1024 * 1024;

/// Stack guaranteed to third-party recursion over a tree at [`MAX_DEPTH`]
/// (parsing, pretty printing): a debug build needs about 0.6 MiB for
/// `sum(` × 512; the segment is only reserved, pages are touched as used.
pub(crate) const DEEP_STACK: usize = 16 * 1024 * 1024;

/// Trees no deeper than this are walked on the caller's stack without a check.
pub(crate) const SHALLOW: usize = 64;

/// Runs one level of a recursive walk, on a new stack segment if the current one is nearly used up.
#[inline]
pub(crate) fn guarded<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(RED_ZONE, SEGMENT, f)
}

/// Runs `f` with at least [`DEEP_STACK`] bytes of stack.
pub(crate) fn deep<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(DEEP_STACK, DEEP_STACK, f)
}

/// A query refused before parsing: the message and the byte offset of the problem.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Refused {
    pub message: String,
    pub position: Option<usize>,
}

/// Checks the query text against the limits; returns the estimated depth.
pub(crate) fn check(query: &str) -> Result<usize, Refused> {
    if query.len() > MAX_QUERY_TEXT_BYTES {
        return Err(Refused {
            message: format!(
                "query too long: {} bytes with whitespace (limit {MAX_QUERY_TEXT_BYTES})",
                query.len()
            ),
            position: None,
        });
    }
    let significant = query.bytes().filter(|b| !b.is_ascii_whitespace()).count();
    if significant > MAX_QUERY_BYTES {
        return Err(Refused {
            message: format!("query too long: {significant} bytes (limit {MAX_QUERY_BYTES})"),
            position: None,
        });
    }
    let toks = tokens(query);
    let depth = depth(&toks)?;
    check_at_modifiers(&toks)?;
    Ok(depth)
}

/// One bracket level of the scan.
#[derive(Default)]
struct Level {
    /// Operators in the current argument.
    ops: usize,
    /// Deepest bracket level closed inside the current argument.
    child: usize,
    /// Deepest earlier argument of this level.
    best: usize,
}

fn is_operator(t: &str) -> bool {
    matches!(
        t,
        "+" | "-" | "*" | "/" | "%" | "^" | "==" | "!=" | ">" | "<" | ">=" | "<=" | "["
    ) || ["and", "or", "unless", "atan2"]
        .iter()
        .any(|k| t.eq_ignore_ascii_case(k))
}

fn too_deep(pos: usize) -> Refused {
    Refused {
        message: format!("expression nested too deeply (limit {MAX_DEPTH})"),
        position: Some(pos),
    }
}

/// The estimated tree depth; refuses at the first token that takes it over [`MAX_DEPTH`].
fn depth(toks: &[(usize, &str)]) -> Result<usize, Refused> {
    let mut levels = vec![Level::default()];
    // Operators of all open levels' current arguments.
    let mut open_ops = 0usize;
    let mut deepest = 0usize;
    for &(pos, t) in toks {
        match t {
            "(" | "{" => levels.push(Level::default()),
            "[" => {
                levels.last_mut().expect("root level").ops += 1;
                open_ops += 1;
                levels.push(Level::default());
            }
            ")" | "]" | "}" if levels.len() > 1 => {
                let l = levels.pop().expect("checked");
                open_ops -= l.ops;
                let d = l.best.max(l.ops + l.child) + 1;
                let parent = levels.last_mut().expect("root level");
                parent.child = parent.child.max(d);
            }
            "," => {
                let l = levels.last_mut().expect("root level");
                open_ops -= l.ops;
                l.best = l.best.max(l.ops + l.child);
                l.ops = 0;
                l.child = 0;
            }
            _ if is_operator(t) => {
                levels.last_mut().expect("root level").ops += 1;
                open_ops += 1;
            }
            _ => {}
        }
        let top = levels.last().expect("root level");
        // The levels still open, their operators, and what closed inside the innermost one.
        let path = (levels.len() - 1) + open_ops + top.child.max(top.best);
        deepest = deepest.max(path);
        if deepest > MAX_DEPTH {
            return Err(too_deep(pos));
        }
    }
    Ok(deepest + 1)
}

/// Refuses `@ <number>` outside Prometheus' bounds, at the position of the
/// selector or subquery it modifies, with Prometheus' message.
fn check_at_modifiers(toks: &[(usize, &str)]) -> Result<(), Refused> {
    for (k, &(_, t)) in toks.iter().enumerate() {
        if t != "@" {
            continue;
        }
        let (sign, n) = match toks.get(k + 1) {
            Some(&(_, "-")) => (-1.0, k + 2),
            Some(&(_, "+")) => (1.0, k + 2),
            _ => (1.0, k + 1),
        };
        let Some(v) = number_at(toks, n).map(|v| sign * v) else {
            continue;
        };
        // float64(math.MaxInt64) and float64(math.MinInt64) are ±2^63.
        const BOUND: f64 = 9_223_372_036_854_775_808.0;
        if v.is_nan() || v >= BOUND || v <= -BOUND {
            return Err(Refused {
                message: format!("timestamp out of bounds for @ modifier: {}", go_f(v)),
                position: Some(modified_start(toks, k)),
            });
        }
    }
    Ok(())
}

/// The number literal at token `k`, rejoining an exponent's sign (`1e+400`).
fn number_at(toks: &[(usize, &str)], k: usize) -> Option<f64> {
    let &(_, t) = toks.get(k)?;
    let digits = |i: usize| {
        toks.get(i)
            .filter(|(_, d)| d.bytes().all(|b| b.is_ascii_digit()))
    };
    if t.ends_with(['e', 'E']) && !t.starts_with("0x") {
        if let (Some(&(_, sign @ ("+" | "-"))), Some(&(_, exp))) = (toks.get(k + 1), digits(k + 2))
        {
            return number(&format!("{t}{sign}{exp}"));
        }
    }
    number(t)
}

/// A PromQL number literal's value (decimal, hexadecimal, `Inf`, `NaN`).
fn number(t: &str) -> Option<f64> {
    let lower = t.to_ascii_lowercase();
    if let Some(hex) = lower.strip_prefix("0x") {
        return u128::from_str_radix(hex, 16).ok().map(|n| n as f64);
    }
    if lower == "inf" || lower == "nan" {
        return lower.parse().ok();
    }
    if !t.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return None;
    }
    t.replace('_', "").parse().ok()
}

/// Go's `%f`: six decimals, `+Inf`, `-Inf`, `NaN`.
fn go_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{v:.6}")
    }
}

/// Where the selector or subquery that the `@` at token `at` modifies starts
/// (Prometheus reports the modified expression's position).
fn modified_start(toks: &[(usize, &str)], at: usize) -> usize {
    let mut k = at;
    // `x offset 5m @ t`: skip the offset clause.
    if k >= 2 && toks[k - 2].1.eq_ignore_ascii_case("offset") {
        k -= 2;
    } else if k >= 3 && toks[k - 3].1.eq_ignore_ascii_case("offset") {
        k -= 3;
    }
    while let Some(prev) = k.checked_sub(1) {
        let open = match toks[prev].1 {
            ")" => "(",
            "]" => "[",
            "}" => "{",
            t if t.starts_with(|c: char| c.is_alphabetic() || c == '_' || c == ':') => {
                k = prev;
                break;
            }
            _ => break,
        };
        let close = toks[prev].1;
        let mut nest = 0usize;
        let mut j = prev;
        loop {
            let t = toks[j].1;
            if t == close {
                nest += 1;
            } else if t == open {
                nest -= 1;
                if nest == 0 {
                    break;
                }
            }
            if j == 0 {
                return toks[at].0;
            }
            j -= 1;
        }
        k = j;
        if open == "(" {
            // A call's name or an aggregation's name before its parenthesis.
            if let Some(&(_, name)) = j.checked_sub(1).map(|p| &toks[p]) {
                if name.starts_with(|c: char| c.is_alphabetic() || c == '_') {
                    k = j - 1;
                }
            }
            break;
        }
    }
    toks.get(k).map_or(0, |t| t.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est(q: &str) -> usize {
        check(q).unwrap()
    }

    #[test]
    fn depth_estimates_are_never_below_the_tree() {
        assert_eq!(est("up"), 1);
        assert_eq!(est("(up)"), 2);
        assert_eq!(est("1 + 2 + 3"), 3);
        assert_eq!(est("sum by (job) (rate(x[5m]))"), 5);
        // Arguments are separate: the deepest one counts.
        assert_eq!(est("label_replace(a+b+c, \"x\", \"y\", \"z\", \"w\")"), 4);
        // Strings and comments hide brackets and operators.
        assert_eq!(est("x{a=\"((((+++\"} # ((((\n"), 2);
        assert_eq!(est("x{a='(\\'('} + `((`"), 3);
    }

    #[test]
    fn deep_and_long_chains_are_refused_with_a_position() {
        let limit = format!("expression nested too deeply (limit {MAX_DEPTH})");
        let parens = format!("{}1{}", "(".repeat(2000), ")".repeat(2000));
        let e = check(&parens).unwrap_err();
        assert_eq!(e.message, limit);
        assert_eq!(e.position, Some(MAX_DEPTH));
        let chain = vec!["up"; 5001].join("+");
        let e = check(&chain).unwrap_err();
        assert_eq!(e.message, limit);
        for q in [
            format!("{}up{}", "abs(".repeat(10_000), ")".repeat(10_000)),
            format!("{}up{}", "sum(".repeat(10_000), ")".repeat(10_000)),
            vec!["1"; 20_001].join("+"),
            format!("{}up", "-".repeat(10_000)),
            format!("up{}", "[5m:]".repeat(1000)),
        ] {
            assert_eq!(check(&q).unwrap_err().message, limit, "{}", &q[..20]);
        }
    }

    #[test]
    fn real_queries_pass() {
        // A generated alternation of 400 selectors.
        let alt = (0..400)
            .map(|i| format!("up{{job=\"j{i}\"}}"))
            .collect::<Vec<_>>()
            .join(" or ");
        assert!(est(&alt) <= 402);
        let nested = format!("{}up{}", "abs(".repeat(150), ")".repeat(150));
        assert_eq!(est(&nested), 151);
    }

    /// Queries at the limit parse, plan, evaluate, format and drop on a
    /// 512 KiB thread (a quarter of tokio's), in whatever build the tests run.
    #[test]
    fn walks_at_the_limit_fit_a_small_stack() {
        use crate::promql::{format_query, parse, Engine, EngineOptions};
        use crate::store::{Store, StoreOptions};
        let n = MAX_DEPTH - 2;
        let shapes = [
            format!("{}1{}", "(".repeat(n), ")".repeat(n)),
            format!("{}up{}", "abs(".repeat(n), ")".repeat(n)),
            format!("{}up{}", "sum(".repeat(n), ")".repeat(n)),
            format!("{}up{}", "-".repeat(n), ""),
            vec!["1"; n].join("+"),
            vec!["up"; n].join(" or "),
            format!(
                "{}up{}",
                "max_over_time(".repeat(n / 2),
                "[5m:])".repeat(n / 2)
            ),
        ];
        let worker = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(move || {
                let store = Store::new(StoreOptions { retention_ms: None });
                let engine = Engine::new(EngineOptions::default());
                for q in shapes {
                    let e = parse(&q).unwrap_or_else(|e| panic!("{}: {e}", &q[..20]));
                    assert!(!format_query(&e).is_empty());
                    engine.instant_query(&store, &e, 0).expect("instant");
                    engine
                        .range_query(&store, &e, 0, 60_000, 30_000)
                        .expect("range");
                    drop(e);
                }
            })
            .expect("spawn");
        worker.join().expect("no overflow");
    }

    #[test]
    fn long_queries_are_refused() {
        let q = format!("up{{a=\"{}\"}}", "x".repeat(MAX_QUERY_BYTES));
        let indented = format!("{}up", " \n".repeat(MAX_QUERY_BYTES));
        assert!(check(&indented).is_ok(), "whitespace does not count");
        let e = check(&q).unwrap_err();
        assert!(e.message.starts_with("query too long: "), "{}", e.message);
        assert!(e.message.ends_with(&format!("(limit {MAX_QUERY_BYTES})")));
    }

    #[test]
    fn at_timestamps_follow_prometheus_bounds() {
        let msg = |q: &str| check(q).unwrap_err();
        let e = msg("up @ 1e308");
        assert!(
            e.message
                .starts_with("timestamp out of bounds for @ modifier: 1000000000000000010979"),
            "{}",
            e.message
        );
        assert!(e.message.ends_with(".000000"));
        assert_eq!(e.position, Some(0));
        assert_eq!(
            msg("foo @ +Inf").message,
            "timestamp out of bounds for @ modifier: +Inf"
        );
        assert_eq!(
            msg("foo @ -Inf").message,
            "timestamp out of bounds for @ modifier: -Inf"
        );
        assert_eq!(
            msg("foo @ NaN").message,
            "timestamp out of bounds for @ modifier: NaN"
        );
        assert_eq!(
            msg("foo @ -9223372036854775808").message,
            "timestamp out of bounds for @ modifier: -9223372036854775808.000000"
        );
        assert_eq!(msg("1 + rate(foo{a=\"b\"}[5m] @ 1e19)").position, Some(9));
        assert_eq!(
            msg("1 + max_over_time((x)[5m:] offset 1m @ 1e19)").position,
            Some(18)
        );
        assert_eq!(msg("1 + foo offset -1m @ 1e19").position, Some(4));
        assert_eq!(msg("1 + sum(x) @ 1e19").position, Some(4));
        // Within the bounds.
        assert!(check("up @ 9223372036854774784").is_ok());
        assert!(check("up @ -1e18 + up @ 1700000000.5 + up @ start()").is_ok());
        assert!(check("up{a=\"@ 1e308\"}").is_ok());
        assert_eq!(
            msg("up @ 1e+400").message,
            "timestamp out of bounds for @ modifier: +Inf"
        );
    }
}
