//! Binary operators: arithmetic, comparisons (with and without `bool`),
//! set operators, vector matching (`on`/`ignoring`, `group_left`/
//! `group_right`) with Prometheus' error messages and name-dropping rules.

use crate::model::{Labels, LabelsBuilder, METRIC_NAME};
use std::collections::HashMap;

use super::eval::{Evaluator, Key, Out};
use super::plan::{BinOp, Card, Kind, Matching, Node};
use super::types::{Matrix, Val};
use super::EvalError;

/// Applies `op` to two floats (scalar-scalar and arithmetic).
pub(crate) fn scalar_op(op: BinOp, l: f64, r: f64) -> f64 {
    match op {
        BinOp::Add => l + r,
        BinOp::Sub => l - r,
        BinOp::Mul => l * r,
        BinOp::Div => l / r,
        BinOp::Mod => l % r,
        BinOp::Pow => l.powf(r),
        BinOp::Atan2 => l.atan2(r),
        BinOp::Eq => f64::from(u8::from(l == r)),
        BinOp::Ne => f64::from(u8::from(l != r)),
        BinOp::Gt => f64::from(u8::from(l > r)),
        BinOp::Lt => f64::from(u8::from(l < r)),
        BinOp::Ge => f64::from(u8::from(l >= r)),
        BinOp::Le => f64::from(u8::from(l <= r)),
        BinOp::And | BinOp::Or | BinOp::Unless => f64::NAN,
    }
}

/// Element operation between vector values: (value, keep).
fn elem_op(op: BinOp, l: f64, r: f64) -> (f64, bool) {
    match op {
        BinOp::Eq => (l, l == r),
        BinOp::Ne => (l, l != r),
        BinOp::Gt => (l, l > r),
        BinOp::Lt => (l, l < r),
        BinOp::Ge => (l, l >= r),
        BinOp::Le => (l, l <= r),
        _ => (scalar_op(op, l, r), true),
    }
}

/// Whether the operator changes what the metric means (drops the name).
fn changes_schema(op: BinOp) -> bool {
    matches!(
        op,
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Pow | BinOp::Mod | BinOp::Atan2
    )
}

/// Evaluates a binary expression.
pub(crate) fn eval(
    ev: &Evaluator<'_>,
    op: BinOp,
    lhs: &Node,
    rhs: &Node,
    matching: Option<&Matching>,
    return_bool: bool,
) -> Result<Val, EvalError> {
    let (lk, rk) = (lhs.kind(), rhs.kind());
    let l = ev.eval(lhs)?.into_matrix();
    let r = ev.eval(rhs)?.into_matrix();
    let mut table = vec![Labels::empty()];
    let m = match (lk, rk) {
        (Kind::Scalar, Kind::Scalar) => ev.range_eval(vec![l, r], &mut table, |st, _, out| {
            let v = scalar_op(op, st.scalar(0), st.scalar(1));
            out.push(Out {
                key: Key::Table(0),
                v,
                drop_name: false,
            });
            Ok(())
        }),
        (Kind::Vector, Kind::Scalar) | (Kind::Scalar, Kind::Vector) => {
            let swap = lk == Kind::Scalar;
            let (vi, si) = if swap { (1, 0) } else { (0, 1) };
            ev.range_eval(vec![l, r], &mut table, |st, _, out| {
                let s = st.scalar(si);
                for x in &st.vecs[vi] {
                    let (a, b) = if swap { (s, x.v) } else { (x.v, s) };
                    let (mut v, mut keep) = elem_op(op, a, b);
                    if op.is_comparison() && swap {
                        v = b;
                    }
                    if return_bool {
                        v = f64::from(u8::from(keep));
                        keep = true;
                    }
                    if !keep {
                        continue;
                    }
                    let drop = changes_schema(op) || return_bool || st.drop_name(vi, x.idx);
                    out.push(Out {
                        key: Key::Arg(vi, x.idx),
                        v,
                        drop_name: drop,
                    });
                }
                Ok(())
            })
        }
        _ => {
            let matching = matching.cloned().unwrap_or(Matching {
                on: false,
                labels: Vec::new(),
                card: Card::OneToOne,
                include: Vec::new(),
                fill_lhs: None,
                fill_rhs: None,
            });
            vector_vector(ev, op, l, r, &matching, return_bool, &mut table)
        }
    }?;
    Ok(Val::Matrix(m))
}

/// Computes the join signature ordinal of every series of both sides.
fn signatures(l: &Matrix, r: &Matrix, m: &Matching) -> (Vec<u32>, Vec<u32>, usize) {
    let mut names: Vec<&str> = m.labels.iter().map(String::as_str).collect();
    if !m.on {
        names.push(METRIC_NAME);
    }
    let mut map: HashMap<Vec<u8>, u32> = HashMap::new();
    let mut buf = Vec::new();
    let mut sig = |labels: &Labels, map: &mut HashMap<Vec<u8>, u32>| -> u32 {
        buf.clear();
        for lb in labels.iter() {
            let listed = names.contains(&&*lb.name);
            if listed == m.on {
                buf.extend_from_slice(lb.name.as_bytes());
                buf.push(0xff);
                buf.extend_from_slice(lb.value.as_bytes());
                buf.push(0xfe);
            }
        }
        let n = map.len() as u32;
        *map.entry(buf.clone()).or_insert(n)
    };
    let ls = l.iter().map(|s| sig(&s.labels, &mut map)).collect();
    let rs = r.iter().map(|s| sig(&s.labels, &mut map)).collect();
    (ls, rs, map.len())
}

/// A label set as Go's `labels.Labels.String()` writes it (name inside braces).
fn go_labels(l: &Labels) -> String {
    let parts: Vec<String> = l
        .iter()
        .map(|lb| format!("{}={:?}", lb.name, &*lb.value))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// The labels `on`/`ignoring` match on, as a label set (for error messages).
fn match_labels(l: &Labels, m: &Matching) -> Labels {
    if m.on {
        l.keep(&m.labels)
    } else {
        let mut names: Vec<&str> = m.labels.iter().map(String::as_str).collect();
        names.push(METRIC_NAME);
        l.drop_names(&names)
    }
}

/// The labels of a result sample, as Prometheus' `resultMetric`.
fn result_labels(many: &Labels, one: &Labels, op: BinOp, m: &Matching, drop_name: bool) -> Labels {
    let mut b = LabelsBuilder::new(many);
    if drop_name || changes_schema(op) {
        b.del(METRIC_NAME).del("__type__").del("__unit__");
    }
    if m.card == Card::OneToOne {
        if m.on {
            let keep: Vec<String> = many
                .iter()
                .map(|l| l.name.to_string())
                .filter(|n| !m.labels.contains(n))
                .collect();
            for n in keep {
                b.del(&n);
            }
        } else {
            for n in &m.labels {
                b.del(n);
            }
        }
    }
    for n in &m.include {
        match one.get(n) {
            Some(v) => {
                b.set(n, v);
            }
            None => {
                b.del(n);
            }
        }
    }
    b.labels()
}

#[allow(clippy::too_many_arguments)]
fn vector_vector(
    ev: &Evaluator<'_>,
    op: BinOp,
    l: Matrix,
    r: Matrix,
    m: &Matching,
    return_bool: bool,
    table: &mut Vec<Labels>,
) -> Result<Matrix, EvalError> {
    let (lsig, rsig, nsigs) = signatures(&l, &r, m);
    let mut present = vec![false; nsigs];
    let mut right_by_sig: Vec<(u32, f64)> = vec![(0, 0.0); nsigs];
    let mut matched = vec![false; nsigs];
    let mut matched_sets: Vec<Vec<u32>> = vec![Vec::new(); nsigs];
    let mut touched: Vec<u32> = Vec::new();
    let mut result_cache: HashMap<(u32, u32), u32> = HashMap::new();
    let delayed = ev.delayed_names;
    ev.range_eval(vec![l, r], table, |st, table, out| {
        let (lv, rv) = (&st.vecs[0], &st.vecs[1]);
        for &s in &touched {
            present[s as usize] = false;
            matched[s as usize] = false;
            matched_sets[s as usize].clear();
        }
        touched.clear();
        match op {
            BinOp::And => {
                if lv.is_empty() || rv.is_empty() {
                    return Ok(());
                }
                for x in rv {
                    let s = rsig[x.idx as usize];
                    present[s as usize] = true;
                    touched.push(s);
                }
                for x in lv {
                    if present[lsig[x.idx as usize] as usize] {
                        out.push(Out {
                            key: Key::Arg(0, x.idx),
                            v: x.v,
                            drop_name: st.drop_name(0, x.idx),
                        });
                    }
                }
                return Ok(());
            }
            BinOp::Or => {
                for x in lv {
                    let s = lsig[x.idx as usize];
                    present[s as usize] = true;
                    touched.push(s);
                    out.push(Out {
                        key: Key::Arg(0, x.idx),
                        v: x.v,
                        drop_name: st.drop_name(0, x.idx),
                    });
                }
                for x in rv {
                    if !present[rsig[x.idx as usize] as usize] {
                        out.push(Out {
                            key: Key::Arg(1, x.idx),
                            v: x.v,
                            drop_name: st.drop_name(1, x.idx),
                        });
                    }
                }
                return Ok(());
            }
            BinOp::Unless => {
                for x in rv {
                    let s = rsig[x.idx as usize];
                    present[s as usize] = true;
                    touched.push(s);
                }
                for x in lv {
                    if !present[lsig[x.idx as usize] as usize] {
                        out.push(Out {
                            key: Key::Arg(0, x.idx),
                            v: x.v,
                            drop_name: st.drop_name(0, x.idx),
                        });
                    }
                }
                return Ok(());
            }
            _ => {}
        }
        if m.card == Card::ManyToMany {
            return Err(EvalError::Execution(
                "many-to-many only allowed for set operators".into(),
            ));
        }
        if (lv.is_empty() && rv.is_empty())
            || ((lv.is_empty() || rv.is_empty()) && m.fill_lhs.is_none() && m.fill_rhs.is_none())
        {
            return Ok(());
        }
        // The "one" side goes right; remember to swap values back.
        let swapped = m.card == Card::OneToMany;
        let (many_v, one_v, many_a, one_a, many_sig, one_sig) = if swapped {
            (rv, lv, 1usize, 0usize, &rsig, &lsig)
        } else {
            (lv, rv, 0usize, 1usize, &lsig, &rsig)
        };
        for x in one_v {
            let s = one_sig[x.idx as usize];
            if present[s as usize] {
                let (prev, _) = right_by_sig[s as usize];
                let side = if swapped { "left" } else { "right" };
                let this = st.labels(one_a, x.idx);
                let other = st.labels(one_a, prev);
                let (mut d1, mut d2) = (go_labels(this), go_labels(other));
                if d1 > d2 {
                    std::mem::swap(&mut d1, &mut d2);
                }
                return Err(EvalError::Execution(format!(
                    "found duplicate series for the match group {} on the {side} hand-side of the operation: [{d1}, {d2}];many-to-many matching not allowed: matching labels must be unique on one side",
                    go_labels(&match_labels(this, m))
                )));
            }
            present[s as usize] = true;
            touched.push(s);
            right_by_sig[s as usize] = (x.idx, x.v);
        }
        for x in many_v {
            let s = many_sig[x.idx as usize];
            if !present[s as usize] {
                continue;
            }
            let (oidx, ov) = right_by_sig[s as usize];
            let (lval, rval) = if swapped { (ov, x.v) } else { (x.v, ov) };
            let (mut v, keep) = elem_op(op, lval, rval);
            if return_bool {
                v = f64::from(u8::from(keep));
            }
            let key = (x.idx, oidx);
            let tid = match result_cache.get(&key) {
                Some(&t) => t,
                None => {
                    let lb = result_labels(
                        st.labels(many_a, x.idx),
                        st.labels(one_a, oidx),
                        op,
                        m,
                        !delayed && return_bool,
                    );
                    table.push(lb);
                    let t = table.len() as u32 - 1;
                    result_cache.insert(key, t);
                    t
                }
            };
            if m.card == Card::OneToOne {
                if matched[s as usize] {
                    return Err(EvalError::Execution(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                    ));
                }
                matched[s as usize] = true;
            } else {
                let labels = &table[tid as usize];
                let set = &mut matched_sets[s as usize];
                if set.iter().any(|&o| table[o as usize] == *labels) {
                    return Err(EvalError::Execution(
                        "multiple matches for labels: grouping labels must ensure unique matches"
                            .into(),
                    ));
                }
                set.push(tid);
            }
            if !keep && !return_bool {
                continue;
            }
            out.push(Out {
                key: Key::Table(tid),
                v,
                drop_name: return_bool,
            });
        }
        Ok(())
    })
}
