//! The `anchored` and `smoothed` range modifiers (experimental Prometheus
//! syntax `promql-parser` 0.11 lacks). When a query fails to parse, each
//! modifier keyword is removed and its selector gets a marker matcher that
//! matches every series (`__anchored__=""` / `__smoothed__=""`); the plan
//! turns the marker back into a selector flag.

use super::parse_pos::tokens;

/// Marker label of `anchored` selectors.
pub(crate) const ANCHORED: &str = "__anchored__";
/// Marker label of `smoothed` selectors.
pub(crate) const SMOOTHED: &str = "__smoothed__";

/// Rewrites `anchored`/`smoothed` into marker matchers; None when the query
/// has neither keyword.
pub(crate) fn mark(query: &str) -> Option<String> {
    let toks = tokens(query);
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for (k, &(pos, text)) in toks.iter().enumerate() {
        let marker = match text {
            "anchored" => ANCHORED,
            "smoothed" => SMOOTHED,
            _ => continue,
        };
        // Walk back over `offset <d>` / `@ <t>` modifiers and a range `[...]`.
        let mut j = k;
        loop {
            if j == 0 {
                return None;
            }
            let prev = toks[j - 1].1;
            if prev == "]" {
                j = (0..j - 1).rev().find(|&i| toks[i].1 == "[")?;
                break;
            }
            if j >= 2 && matches!(toks[j - 2].1, "offset" | "@") {
                j -= 2;
                continue;
            }
            if j >= 3
                && matches!(toks[j - 2].1, "-" | "+")
                && matches!(toks[j - 3].1, "offset" | "@")
            {
                j -= 3;
                continue;
            }
            if j >= 4 && toks[j - 1].1 == ")" && toks[j - 2].1 == "(" && toks[j - 4].1 == "@" {
                j -= 4;
                continue;
            }
            break;
        }
        // toks[j - 1] ends the vector selector: `}` or a metric name.
        let end_tok = toks.get(j.checked_sub(1)?)?;
        let insert = if end_tok.1 == "}" {
            (end_tok.0, end_tok.0, format!(", {marker}=\"\""))
        } else {
            let e = end_tok.0 + end_tok.1.len();
            (e, e, format!("{{{marker}=\"\"}}"))
        };
        edits.push(insert);
        let start = if pos > 0 && query.as_bytes()[pos - 1] == b' ' {
            pos - 1
        } else {
            pos
        };
        edits.push((start, pos + text.len(), String::new()));
    }
    if edits.is_empty() {
        return None;
    }
    edits.sort_by_key(|e| (e.0, e.1));
    let mut out = String::with_capacity(query.len() + 32);
    let mut last = 0;
    for (from, to, text) in edits {
        if from < last {
            return None;
        }
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
    fn marks_selectors() {
        assert_eq!(
            mark("increase(metric[1m] anchored)").as_deref(),
            Some("increase(metric{__anchored__=\"\"}[1m])")
        );
        assert_eq!(
            mark("rate(m{a=\"b\"}[5m] smoothed)").as_deref(),
            Some("rate(m{a=\"b\", __smoothed__=\"\"}[5m])")
        );
        assert_eq!(
            mark("metric @ 100 smoothed + 0").as_deref(),
            Some("metric{__smoothed__=\"\"} @ 100 + 0")
        );
        assert_eq!(
            mark("metric offset -100 smoothed").as_deref(),
            Some("metric{__smoothed__=\"\"} offset -100")
        );
        assert_eq!(mark("rate(x[5m])"), None);
    }
}
