//! `info(v, [data-label-selector])` (experimental): adds the data labels of
//! info metrics (`target_info` by default) that share `instance`/`job` with
//! each series of `v`, as Prometheus' promql/info.go does.

use crate::model::{Labels, LabelsBuilder, MatchOp, Matcher, METRIC_NAME};
use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::super::eval::{Evaluator, Gather, Key, Out};
use super::super::plan::{Node, Selector};
use super::super::selectors::instant_vector;
use super::super::types::Val;
use super::super::EvalError;
use crate::model::anchored_regex;

/// Labels that identify the target an info metric belongs to.
const IDENTIFYING: [&str; 2] = ["instance", "job"];

/// Offset and `@` of the first selector of the argument (outermost
/// subqueries add their offsets until one has an `@`).
fn timing(node: &Node) -> Option<(i64, Option<i64>)> {
    match node {
        Node::Vector(s) | Node::Matrix { sel: s, .. } => Some((s.offset, s.at)),
        Node::Subquery {
            expr, offset, at, ..
        } => timing(expr).map(|(o, a)| match a {
            Some(a) => (o, Some(a)),
            None => (o + offset, *at),
        }),
        Node::Call { args, .. } => args.iter().find_map(timing),
        Node::Aggregate { expr, param, .. } => {
            timing(expr).or_else(|| param.as_deref().and_then(timing))
        }
        Node::Neg(e) | Node::StepInvariant(e) => timing(e),
        Node::Binary { lhs, rhs, .. } => timing(lhs).or_else(|| timing(rhs)),
        Node::Number(_) | Node::Str(_) => None,
    }
}

fn effective_name_matchers(ms: &[Matcher]) -> Vec<Matcher> {
    if ms
        .iter()
        .any(|m| matches!(m.op, MatchOp::Equal(_) | MatchOp::Re(_)))
    {
        return ms.to_vec();
    }
    if !ms.is_empty() {
        let mut v = vec![Matcher {
            name: METRIC_NAME.into(),
            op: MatchOp::Re(anchored_regex(".+_info").expect("valid regex")),
        }];
        v.extend(ms.iter().cloned());
        return v;
    }
    vec![Matcher::equal(METRIC_NAME, "target_info")]
}

/// Go's labels string with the name inside the braces.
fn go_labels(l: &Labels) -> String {
    let parts: Vec<String> = l
        .iter()
        .map(|lb| format!("{}={:?}", lb.name, &*lb.value))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// The join signature of a label set for info metric `name`.
fn signature(name: &str, l: &Labels) -> String {
    let mut s = String::from(name);
    for id in IDENTIFYING {
        if let Some(v) = l.get(id) {
            s.push('\u{ff}');
            s.push_str(id);
            s.push('=');
            s.push_str(v);
        }
    }
    s
}

/// Evaluates `info()`.
pub(crate) fn info(ev: &Evaluator<'_>, args: &[Node]) -> Result<Val, EvalError> {
    let Some(arg) = args.first() else {
        return Ok(Val::Matrix(Vec::new()));
    };
    let (offset, at) = timing(arg).unwrap_or((0, None));
    let base = ev.eval(arg)?.into_matrix();
    let mut data: BTreeMap<String, Vec<Matcher>> = BTreeMap::new();
    let mut name_matchers: Vec<Matcher> = Vec::new();
    match args.get(1) {
        Some(Node::Vector(sel)) => {
            for m in &sel.matchers {
                data.entry(m.name.clone()).or_default().push(m.clone());
                if m.name == METRIC_NAME {
                    name_matchers.push(m.clone());
                }
            }
        }
        _ => name_matchers.push(Matcher::equal(METRIC_NAME, "target_info")),
    }
    let effective = effective_name_matchers(&name_matchers);
    let ignored: Vec<bool> = base
        .iter()
        .map(|s| {
            let n = s.labels.metric_name().unwrap_or("");
            effective.iter().all(|m| m.matches(n))
        })
        .collect();
    // Identifying label values of the series to enrich.
    let mut ids: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (s, ign) in base.iter().zip(&ignored) {
        if *ign {
            continue;
        }
        for id in IDENTIFYING {
            if let Some(v) = s.labels.get(id) {
                ids.entry(id).or_default().insert(v);
            }
        }
    }
    let data_names: Vec<Matcher> = data
        .values()
        .flatten()
        .filter(|m| m.name == METRIC_NAME)
        .cloned()
        .collect();
    data.retain(|n, _| n != METRIC_NAME);
    let info_mat = if ids.is_empty() {
        Vec::new()
    } else {
        let mut matchers = Vec::new();
        for (name, vals) in &ids {
            let pattern = vals
                .iter()
                .map(|v| regex::escape(v))
                .collect::<Vec<_>>()
                .join("|");
            let re =
                anchored_regex(&pattern).map_err(|e| EvalError::Execution(format!("info: {e}")))?;
            matchers.push(Matcher {
                name: (*name).to_string(),
                op: MatchOp::Re(re),
            });
        }
        matchers.extend(data.values().flatten().cloned());
        matchers.extend(effective_name_matchers(&data_names));
        let sel = Selector {
            matchers,
            or_groups: Vec::new(),
            offset,
            at,
            ext: Default::default(),
        };
        // Values become the samples' timestamps (seconds): the newest wins.
        instant_vector(ev, &sel, true)?
    };
    let info_names: BTreeSet<String> = info_mat
        .iter()
        .filter_map(|s| s.labels.metric_name().map(str::to_string))
        .collect();
    let base_sigs: Vec<Vec<(String, String)>> = base
        .iter()
        .map(|s| {
            info_names
                .iter()
                .map(|n| (n.clone(), signature(n, &s.labels)))
                .collect()
        })
        .collect();
    let info_sigs: Vec<String> = info_mat
        .iter()
        .map(|s| signature(s.labels.metric_name().unwrap_or(""), &s.labels))
        .collect();
    let all_match_empty = data.values().flatten().all(|m| m.matches(""));
    let mut bg = Gather::new(&base);
    let mut ig = Gather::new(&info_mat);
    let mut index: HashMap<Labels, u32> = HashMap::new();
    let mut table: Vec<Labels> = Vec::new();
    let inputs = vec![base, info_mat];
    let mut acc = super::super::eval::Accum::new(&inputs, ev.delayed_names, ev.instant());
    for ts in ev.times() {
        ev.ctx.check_deadline()?;
        bg.step(&inputs[0], ts);
        ig.step(&inputs[1], ts);
        let mut by_sig: HashMap<&str, (u32, f64)> = HashMap::new();
        for x in &ig.vec {
            let sig = info_sigs[x.idx as usize].as_str();
            match by_sig.get(sig) {
                Some(&(_, t)) if t > x.v => {}
                Some(&(prev, t)) if t == x.v => {
                    return Err(EvalError::Execution(format!(
                        "found duplicate series for info metric: existing {} @ {}, new {} @ {}",
                        go_labels(&inputs[1][prev as usize].labels),
                        (t * 1000.0) as i64,
                        go_labels(&inputs[1][x.idx as usize].labels),
                        (x.v * 1000.0) as i64
                    )));
                }
                _ => {
                    by_sig.insert(sig, (x.idx, x.v));
                }
            }
        }
        for x in &bg.vec {
            let i = x.idx as usize;
            let drop_name = inputs[0][i].drop_name;
            if ignored[i] {
                let o = Out {
                    key: Key::Arg(0, x.idx),
                    v: x.v,
                    drop_name,
                };
                acc.push(&inputs, &table, &o, ts)?;
                continue;
            }
            let base_labels = &inputs[0][i].labels;
            let mut extra = LabelsBuilder::new(&Labels::empty());
            let mut seen = 0;
            for (_, sig) in &base_sigs[i] {
                let Some(&(idx, _)) = by_sig.get(sig.as_str()) else {
                    continue;
                };
                seen += 1;
                for l in inputs[1][idx as usize].labels.iter() {
                    if &*l.name == METRIC_NAME || (!data.is_empty() && !data.contains_key(&*l.name))
                    {
                        continue;
                    }
                    if let Some(v) = extra.get(&l.name) {
                        if v != &*l.value {
                            return Err(EvalError::Execution(format!(
                                "conflicting label: {}",
                                l.name
                            )));
                        }
                    }
                    if base_labels.contains(&l.name) {
                        continue;
                    }
                    extra.set(&l.name, &l.value);
                }
            }
            if seen == 0 && !all_match_empty {
                continue;
            }
            let mut b = LabelsBuilder::new(base_labels);
            for l in extra.labels().iter() {
                b.set(&l.name, &l.value);
            }
            let labels = b.labels();
            let tid = match index.get(&labels) {
                Some(&t) => t,
                None => {
                    table.push(labels.clone());
                    let t = table.len() as u32 - 1;
                    index.insert(labels, t);
                    t
                }
            };
            let o = Out {
                key: Key::Table(tid),
                v: x.v,
                drop_name,
            };
            acc.push(&inputs, &table, &o, ts)?;
        }
    }
    Ok(Val::Matrix(acc.finish()?))
}
