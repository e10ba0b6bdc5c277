//! The parse wrapper: `promql-parser` for syntax, plus error positions
//! (the crate reports none) and pretty printing. The query text is first
//! checked against the length, depth and `@` limits of [`super::limits`], so
//! the crate's recursive parser and pretty printer only see bounded input.

use super::Expr;

/// A parse error with the byte position of the problem, when it could be found.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// What is wrong, as the parser said it, with position when known
    /// (`1:5: ...`, as Prometheus writes it).
    pub message: String,
    /// Byte offset of the problem in the query, when known.
    pub position: Option<usize>,
}

/// Parses a PromQL expression; constant duration arithmetic in ranges and
/// offsets is folded first when the plain query does not parse. Never panics: `promql-parser` 0.11 panics on
/// some inputs (`x offset NaN`), which become errors here.
pub fn parse(query: &str) -> Result<Expr, ParseError> {
    let depth =
        super::limits::check(query).map_err(|r| positioned(query, r.message, r.position))?;
    if depth > super::limits::SHALLOW {
        return super::limits::deep(|| parse_checked(query));
    }
    parse_checked(query)
}

fn parse_checked(query: &str) -> Result<Expr, ParseError> {
    let first = safe_parse(query);
    if first.is_err() {
        // Experimental syntax the crate lacks: `anchored`/`smoothed` and
        // constant duration arithmetic.
        let marked = super::extended::mark(query);
        let text = marked.as_deref().unwrap_or(query);
        let folded = super::duration_expr::fold(text);
        if marked.is_some() || folded.is_some() {
            if let Ok(e) = safe_parse(folded.as_deref().unwrap_or(text)) {
                // A zero offset removed must not hide an error of its place.
                if let Some(probe) = super::duration_expr::zero_offsets_probed(text) {
                    if let Err(message) = safe_parse(&probe) {
                        let position = super::parse_pos::locate(query, &message);
                        return Err(positioned(query, message, position));
                    }
                }
                return Ok(e);
            }
        }
    }
    first.map_err(|message| {
        let position = super::parse_pos::locate(query, &message);
        positioned(query, message, position)
    })
}

/// A parse error with Prometheus' `line:col: parse error: ` prefix when the position is known.
fn positioned(query: &str, message: String, position: Option<usize>) -> ParseError {
    let message = match position {
        Some(p) => {
            let (line, col) = line_col(query, p);
            format!("{line}:{col}: parse error: {message}")
        }
        None => format!("parse error: {message}"),
    };
    ParseError { message, position }
}

/// `promql_parser::parser::parse` with its panics turned into errors.
pub(crate) fn safe_parse(query: &str) -> Result<Expr, String> {
    std::panic::catch_unwind(|| promql_parser::parser::parse(query))
        .unwrap_or_else(|_| Err("invalid number or duration in query".to_string()))
}

/// 1-based line and column (in characters) of byte offset `pos`.
pub(crate) fn line_col(s: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(s.len());
    let before = &s[..s.floor_char_boundary_compat(pos)];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

trait FloorBoundary {
    fn floor_char_boundary_compat(&self, i: usize) -> usize;
}

impl FloorBoundary for str {
    fn floor_char_boundary_compat(&self, mut i: usize) -> usize {
        while i > 0 && !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}

/// Formats a query as Prometheus' `/api/v1/format_query` does (pretty
/// printed, split over lines when long). The crate's printer recurses, so it
/// runs with the stack a tree at the depth limit needs. Its cost grows with
/// depth × length (every level renders its whole subtree and copies its
/// children's indented lines), so a query whose estimated cost is over
/// `FORMAT_BUDGET` is returned normalised on one line instead, in linear time.
pub fn format_query(expr: &Expr) -> String {
    super::limits::deep(|| {
        if format_cost(expr, 0) > FORMAT_BUDGET {
            expr.to_string()
        } else {
            expr.prettify()
        }
    })
}

/// Most bytes the pretty printer may render and copy for one query (estimated
/// by [`format_cost`]); about 0.1 s in a debug build.
pub const FORMAT_BUDGET: u64 = 16 << 20;

/// Estimated bytes the pretty printer renders and copies: each node's own
/// text and indented line is rendered or copied once by each of its ancestors.
fn format_cost(expr: &Expr, depth: u64) -> u64 {
    super::limits::guarded(|| {
        let labels = |l: &[String]| l.iter().map(|s| s.len() as u64 + 2).sum::<u64>();
        let (own, children): (u64, Vec<&Expr>) = match expr {
            Expr::Aggregate(a) => {
                let grouping = match &a.modifier {
                    Some(promql_parser::parser::LabelModifier::Include(l))
                    | Some(promql_parser::parser::LabelModifier::Exclude(l)) => labels(&l.labels),
                    None => 0,
                };
                let mut c = vec![a.expr.as_ref()];
                c.extend(a.param.as_deref());
                (16 + grouping, c)
            }
            Expr::Unary(u) => (2, vec![u.expr.as_ref()]),
            Expr::Binary(b) => {
                let matching = match b.modifier.as_ref().and_then(|m| m.matching.as_ref()) {
                    Some(promql_parser::parser::LabelModifier::Include(l))
                    | Some(promql_parser::parser::LabelModifier::Exclude(l)) => labels(&l.labels),
                    None => 0,
                };
                (24 + matching, vec![b.lhs.as_ref(), b.rhs.as_ref()])
            }
            Expr::Paren(p) => (2, vec![p.expr.as_ref()]),
            Expr::Subquery(s) => (32, vec![s.expr.as_ref()]),
            Expr::Call(c) => (
                c.func.name.len() as u64 + 2,
                c.args.args.iter().map(|a| a.as_ref()).collect(),
            ),
            // Literals and selectors are escaped character by character: slower per byte.
            leaf => (4 * leaf.to_string().len() as u64, Vec::new()),
        };
        let mut cost = (depth + 1) * (2 * depth + own + 1);
        for c in children {
            cost = cost.saturating_add(format_cost(c, depth + 1));
            if cost > FORMAT_BUDGET {
                break;
            }
        }
        cost
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_positions() {
        let e = parse("sum(rate(x[5m])").unwrap_err();
        assert_eq!(e.position, Some(3));
        assert!(e.message.starts_with("1:4: parse error: "), "{}", e.message);
        let e = parse("foo{a=\"b\"} +* 2").unwrap_err();
        assert_eq!(e.position, Some(12), "{}", e.message);
        let e = parse("up\n  and on() nope(x)").unwrap_err();
        assert!(e.message.starts_with("2:12: "), "{}", e.message);
    }

    #[test]
    fn zero_offsets_parse_as_no_offset_and_zero_ranges_stay_errors() {
        for q in [
            "up offset 0s",
            "up offset 0",
            "rate(up[5m] offset 0m)",
            "up[5m:1m] offset 0s",
        ] {
            let e = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
            let text = e.to_string();
            assert!(
                !text.contains("offset") || text.contains("offset 0s"),
                "{q} → {e}"
            );
        }
        assert!(parse("up[0s]").is_err());
        for q in [
            "up offset 1m offset 0s",
            "up offset 0s offset 1m",
            "up offset 0s offset -0s",
        ] {
            let e = parse(q).unwrap_err();
            assert!(
                e.message.contains("offset may not be set multiple times"),
                "{q}: {}",
                e.message
            );
        }
        for q in [
            "up offset -0s",
            "up @ 0",
            "up @ 0 offset 0s",
            "up offset 0m0s",
        ] {
            assert!(parse(q).is_ok(), "{q}");
        }
    }

    #[test]
    fn crate_panics_become_errors() {
        assert!(parse("x offset NaN").is_err());
        assert!(parse("x offset 1e309").is_err());
    }

    /// Random token soup: parsing and evaluating must never panic.
    #[test]
    fn hostile_queries_never_panic() {
        use crate::model::Labels;
        use crate::promql::{Engine, EngineOptions};
        use crate::store::{Store, StoreOptions};
        const TOKENS: &[&str] = &[
            "sum",
            "(",
            ")",
            "x",
            "{",
            "}",
            "a",
            "=",
            "\"b\"",
            "[",
            "5m",
            "]",
            ":",
            "1m",
            "offset",
            "-",
            "@",
            "start()",
            "by",
            "on",
            "group_left",
            "bool",
            "+",
            "*",
            "/",
            "^",
            "%",
            "1",
            "0x1f",
            "1e309",
            "NaN",
            "Inf",
            "9223372036854775807",
            "rate",
            "histogram_quantile",
            "topk",
            "count_values",
            "label_replace",
            "\"(.*\"",
            "quantile_over_time",
            "predict_linear",
            "or",
            "and",
            "unless",
            ">",
            "==",
            ",",
            "[999999999y]",
            "[5m:0s]",
            "[1ms:1ms]",
            "@ 1e18",
            "@ -1e18",
            "offset 100000000d",
            "offset -100000000d",
            "absent",
            "timestamp",
            "scalar",
            "vector",
            "sort",
        ];
        let store = Store::new(StoreOptions { retention_ms: None });
        let (s, _) = store.get_or_create(Labels::from_pairs([("__name__", "x"), ("a", "b")]));
        for i in 0..20 {
            store.append(&s, i * 60_000, i as f64).unwrap();
        }
        let engine = Engine::new(EngineOptions {
            max_samples: 100_000,
            ..EngineOptions::default()
        });
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..3000 {
            let n = 1 + (next() % 9) as usize;
            let q: Vec<&str> = (0..n)
                .map(|_| TOKENS[(next() % TOKENS.len() as u64) as usize])
                .collect();
            let q = q.join(" ");
            if let Ok(e) = parse(&q) {
                let _ = engine.instant_query(&store, &e, 600_000);
                let _ = engine.range_query(&store, &e, 0, 1_200_000, 60_000);
            }
        }
    }

    #[test]
    fn parses_and_formats() {
        let e = parse("sum by (job) (rate(http_requests_total[5m]))").unwrap();
        assert_eq!(
            format_query(&e),
            "sum by (job) (rate(http_requests_total[5m]))"
        );
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }

    /// The pretty printer's cost grows with depth × length: past the budget the
    /// query comes back normalised on one line.
    #[test]
    fn format_cost_is_bounded() {
        let nested = |n: usize| format!("{}up{}", "abs(".repeat(n), ")".repeat(n));
        let pretty = format_query(&parse(&nested(30)).unwrap());
        assert!(pretty.lines().count() > 5, "{pretty}");
        let deep = parse(&nested(500)).unwrap();
        assert!(format_cost(&deep, 0) > FORMAT_BUDGET);
        assert_eq!(format_query(&deep), nested(500));
        let wide = format!(
            "{}label_join(x, \"d\", \",\"{}){}",
            "abs(".repeat(100),
            ", \"a\"".repeat(20_000),
            ")".repeat(100)
        );
        let e = parse(&wide).unwrap();
        assert_eq!(format_query(&e).lines().count(), 1);
    }
}
