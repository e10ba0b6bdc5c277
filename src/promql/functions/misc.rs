//! Vector plumbing functions: `sort*`, `scalar`, `vector`, `absent`, `pi`,
//! `min_of`/`max_of`, `info` (pass-through: the buffer keeps no info
//! metrics' metadata beyond labels) and `start_timestamp` (no start
//! timestamps are stored).

use crate::model::Labels;
use std::cmp::Ordering;

use super::super::eval::{Evaluator, Key, Out, StepSample};
use super::super::plan::Node;
use super::super::types::Val;
use super::super::EvalError;
use super::range::absent_labels;

fn nan_last(a: f64, b: f64, desc: bool) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ if desc => b.partial_cmp(&a).unwrap_or(Ordering::Equal),
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// Natural order of strings: runs of digits compare as numbers.
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let nx = x.iter().take_while(|c| c.is_ascii_digit()).count();
                let ny = y.iter().take_while(|c| c.is_ascii_digit()).count();
                let (dx, dy) = (&x[..nx], &y[..ny]);
                let tx = dx.iter().skip_while(|c| **c == b'0').count();
                let ty = dy.iter().skip_while(|c| **c == b'0').count();
                let o = tx.cmp(&ty).then_with(|| dx[nx - tx..].cmp(&dy[ny - ty..]));
                if o != Ordering::Equal {
                    return o;
                }
                x = &x[nx..];
                y = &y[ny..];
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(d);
                }
                x = &x[1..];
                y = &y[1..];
            }
        }
    }
}

fn string_args(args: &[Node]) -> Vec<String> {
    args.iter()
        .filter_map(|a| match a {
            Node::Str(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

/// Evaluates the remaining per-step functions.
pub(crate) fn eval(ev: &Evaluator<'_>, name: &str, args: &[Node]) -> Result<Val, EvalError> {
    let inputs = args
        .iter()
        .map(|a| ev.eval(a).map(Val::into_matrix))
        .collect::<Result<Vec<_>, _>>()?;
    let mut table = vec![match (name, args.first()) {
        ("absent", Some(a)) => absent_labels(a),
        _ => Labels::empty(),
    }];
    let label_names = string_args(args);
    let mut buf: Vec<StepSample> = Vec::new();
    let name = name.to_string();
    ev.range_eval(inputs, &mut table, |st, _, out| {
        let one = |v: f64| Out {
            key: Key::Table(0),
            v,
            drop_name: false,
        };
        match name.as_str() {
            "scalar" => {
                let v = if st.vecs[0].len() == 1 {
                    st.vecs[0][0].v
                } else {
                    f64::NAN
                };
                out.push(one(v));
            }
            "vector" => out.push(one(st.scalar(0))),
            "timestamp" => {
                // Samples of a computed vector carry the step time.
                for x in &st.vecs[0] {
                    out.push(Out {
                        key: Key::Arg(0, x.idx),
                        v: st.ts as f64 / 1000.0,
                        drop_name: true,
                    });
                }
            }
            "pi" => out.push(one(std::f64::consts::PI)),
            "absent" => {
                if st.vecs[0].is_empty() {
                    out.push(one(1.0));
                }
            }
            "max_of" | "min_of" => {
                let (a, b) = (st.scalar(0), st.scalar(1));
                let v = if a.is_nan() || b.is_nan() {
                    f64::NAN
                } else if name == "max_of" {
                    a.max(b)
                } else {
                    a.min(b)
                };
                out.push(one(v));
            }
            "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc" | "info" => {
                buf.clear();
                buf.extend_from_slice(&st.vecs[0]);
                match name.as_str() {
                    "sort" => buf.sort_by(|a, b| nan_last(a.v, b.v, false)),
                    "sort_desc" => buf.sort_by(|a, b| nan_last(a.v, b.v, true)),
                    "sort_by_label" | "sort_by_label_desc" => {
                        let desc = name == "sort_by_label_desc";
                        buf.sort_by(|a, b| {
                            let (la, lb) = (st.labels(0, a.idx), st.labels(0, b.idx));
                            for n in &label_names {
                                let (x, y) = (la.get(n).unwrap_or(""), lb.get(n).unwrap_or(""));
                                if x != y {
                                    let o = natural_cmp(x, y);
                                    return if desc { o.reverse() } else { o };
                                }
                            }
                            let o = la.cmp(lb);
                            if desc {
                                o.reverse()
                            } else {
                                o
                            }
                        });
                    }
                    _ => {}
                }
                for x in &buf {
                    out.push(Out {
                        key: Key::Arg(0, x.idx),
                        v: x.v,
                        drop_name: st.drop_name(0, x.idx),
                    });
                }
            }
            _ => {}
        }
        Ok(())
    })
    .map(Val::Matrix)
}

/// `info(v, ...)`: returns `v` unchanged.
pub(crate) fn info(ev: &Evaluator<'_>, args: &[Node]) -> Result<Val, EvalError> {
    match args.first() {
        Some(a) => ev.eval(a),
        None => Ok(Val::Matrix(Vec::new())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        assert_eq!(natural_cmp("a2", "a10"), Ordering::Less);
        assert_eq!(natural_cmp("b", "a10"), Ordering::Greater);
        assert_eq!(natural_cmp("x", "x"), Ordering::Equal);
    }
}
