//! Constant duration arithmetic (`x[5m * 2]`, `x offset (1h + 30s)`), an
//! experimental Prometheus syntax `promql-parser` 0.11 lacks: when a query
//! fails to parse, constant expressions inside range brackets and in
//! parenthesised offsets are folded into plain durations and the query is
//! parsed again. `step()`/`range()` (query-time values) are not folded. A zero offset
//! (`offset 0s`, valid in Prometheus, refused by the crate as a zero duration) is removed.

use super::parse_pos::tokens;

/// Parses a Prometheus duration (`1h30m`, `500ms`) or a number of seconds.
fn literal_secs(t: &str) -> Option<f64> {
    if let Ok(v) = t.parse::<f64>() {
        return v.is_finite().then_some(v);
    }
    let b = t.as_bytes();
    let (mut i, mut total) = (0, 0.0);
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let n: f64 = t[start..i].parse().ok()?;
        let ustart = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = match &t[ustart..i] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            "w" => 604_800.0,
            "y" => 31_536_000.0,
            _ => return None,
        };
        total += n * unit;
    }
    Some(total)
}

/// A recursive-descent evaluator over tokens.
struct Eval<'t> {
    toks: &'t [&'t str],
    pos: usize,
}

impl<'t> Eval<'t> {
    fn peek(&self) -> Option<&'t str> {
        self.toks.get(self.pos).copied()
    }

    fn expr(&mut self) -> Option<f64> {
        let mut v = self.term()?;
        while let Some(op @ ("+" | "-")) = self.peek() {
            self.pos += 1;
            let r = self.term()?;
            v = if op == "+" { v + r } else { v - r };
        }
        Some(v)
    }

    fn term(&mut self) -> Option<f64> {
        let mut v = self.unary()?;
        while let Some(op @ ("*" | "/" | "%")) = self.peek() {
            self.pos += 1;
            let r = self.unary()?;
            if op != "*" && r == 0.0 {
                return None;
            }
            v = match op {
                "*" => v * r,
                "/" => v / r,
                _ => v % r,
            };
        }
        Some(v)
    }

    fn unary(&mut self) -> Option<f64> {
        match self.peek() {
            Some("-") => {
                self.pos += 1;
                Some(-self.unary()?)
            }
            Some("+") => {
                self.pos += 1;
                self.unary()
            }
            _ => self.power(),
        }
    }

    fn power(&mut self) -> Option<f64> {
        let base = self.atom()?;
        if self.peek() == Some("^") {
            self.pos += 1;
            let exp = self.unary()?;
            return Some(base.powf(exp));
        }
        Some(base)
    }

    fn atom(&mut self) -> Option<f64> {
        let t = self.peek()?;
        self.pos += 1;
        if t == "(" {
            let v = self.expr()?;
            if self.peek() != Some(")") {
                return None;
            }
            self.pos += 1;
            return Some(v);
        }
        literal_secs(t)
    }
}

/// Evaluates a whole token list as a constant duration expression (seconds).
fn eval_tokens(toks: &[&str]) -> Option<f64> {
    let mut e = Eval { toks, pos: 0 };
    let v = e.expr()?;
    (e.pos == toks.len() && v.is_finite()).then_some(v)
}

fn format_ms(secs: f64) -> String {
    format!("{}ms", (secs * 1000.0).round() as i64)
}

/// Rewrites constant duration expressions into literals; None when there
/// was nothing to fold.
pub(crate) fn fold(query: &str) -> Option<String> {
    fold_with(query, None)
}

/// As [`fold`], but a zero offset becomes `offset 1ms` instead of going: the crate then
/// reports what Prometheus reports about the offset's place (`offset may not be set multiple
/// times`), which removing it would hide. None when there is no zero offset.
pub(crate) fn zero_offsets_probed(query: &str) -> Option<String> {
    let probed = fold_with(query, Some("offset 1ms"))?;
    (Some(&probed) != fold(query).as_ref()).then_some(probed)
}

fn fold_with(query: &str, zero: Option<&str>) -> Option<String> {
    let zero = zero.unwrap_or("");
    let toks = tokens(query);
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let (_, t) = toks[i];
        if t == "[" {
            let Some(close) = (i + 1..toks.len()).find(|&j| toks[j].1 == "]") else {
                break;
            };
            let mut part_start = i + 1;
            let mut depth = 0i32;
            for j in i + 1..=close {
                let tj = toks[j].1;
                match tj {
                    "(" => depth += 1,
                    ")" => depth -= 1,
                    _ => {}
                }
                if (tj == ":" && depth == 0) || j == close {
                    let part: Vec<&str> = toks[part_start..j].iter().map(|x| x.1).collect();
                    if part.len() > 1 {
                        if let Some(v) = eval_tokens(&part) {
                            let from = toks[part_start].0;
                            let to = toks[j - 1].0 + toks[j - 1].1.len();
                            edits.push((from, to, format_ms(v)));
                        }
                    }
                    part_start = j + 1;
                }
            }
            i = close + 1;
            continue;
        }
        if t == "offset" {
            let mut k = i + 1;
            let sign = match toks.get(k).map(|x| x.1) {
                Some("-") => {
                    k += 1;
                    -1.0
                }
                Some("+") => {
                    k += 1;
                    1.0
                }
                _ => 1.0,
            };
            // `offset 0s` (any zero duration) means no offset; promql-parser refuses zero
            // durations everywhere, Prometheus only in ranges and steps.
            if let Some(&(at, lit)) = toks.get(k).filter(|t| t.1 != "(") {
                if literal_secs(lit) == Some(0.0) {
                    edits.push((toks[i].0, at + lit.len(), zero.to_string()));
                    i = k + 1;
                    continue;
                }
            }
            if toks.get(k).map(|x| x.1) == Some("(") {
                let mut depth = 0;
                let mut end = None;
                for (j, tok) in toks.iter().enumerate().skip(k) {
                    match tok.1 {
                        "(" => depth += 1,
                        ")" => {
                            depth -= 1;
                            if depth == 0 {
                                end = Some(j);
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                if let Some(end) = end {
                    let inner: Vec<&str> = toks[k + 1..end].iter().map(|x| x.1).collect();
                    if let Some(v) = eval_tokens(&inner) {
                        let to = toks[end].0 + 1;
                        if v == 0.0 {
                            edits.push((toks[i].0, to, zero.to_string()));
                        } else {
                            edits.push((toks[i + 1].0, to, format_ms(sign * v)));
                        }
                    }
                    i = end + 1;
                    continue;
                }
            }
        }
        i += 1;
    }
    if edits.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(query.len());
    let mut last = 0;
    for (from, to, text) in edits {
        out.push_str(&query[last..from]);
        out.push_str(&text);
        last = to;
    }
    out.push_str(&query[last..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_constant_durations() {
        assert_eq!(fold("rate(x[5m*2])").as_deref(), Some("rate(x[600000ms])"));
        assert_eq!(
            fold("x[29s+1s:((((8 - 2) / 3) * 7s) % 4) + 8000ms]").as_deref(),
            Some("x[30000ms:10000ms]")
        );
        assert_eq!(fold("x offset (2 ^ 2)").as_deref(), Some("x offset 4000ms"));
        assert_eq!(fold("x offset -(1m)").as_deref(), Some("x offset -60000ms"));
        assert_eq!(fold("x[1h30m % 1h]").as_deref(), Some("x[1800000ms]"));
        assert_eq!(fold("x[5m]"), None);
        assert_eq!(fold("x[step()]"), None);
        assert_eq!(fold("x[1h/0]"), None);
    }

    #[test]
    fn a_zero_offset_is_no_offset() {
        assert_eq!(fold("x offset 0s").as_deref(), Some("x "));
        assert_eq!(fold("x offset -0m @ 10").as_deref(), Some("x  @ 10"));
        assert_eq!(
            fold("x[5m:1m] offset (1m - 60s)").as_deref(),
            Some("x[5m:1m] ")
        );
        assert_eq!(fold("x offset 1s"), None);
        assert_eq!(
            zero_offsets_probed("x offset 1m offset 0s").as_deref(),
            Some("x offset 1m offset 1ms")
        );
        assert_eq!(zero_offsets_probed("x offset 1s"), None);
        assert_eq!(zero_offsets_probed("x[1m+1m]"), None);
    }
}
