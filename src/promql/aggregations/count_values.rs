//! `count_values`: counts series per distinct value, the value becoming a label.

use crate::model::{Labels, LabelsBuilder};
use std::collections::HashMap;

use super::super::eval::{Evaluator, Key, Out};
use super::super::plan::Node;
use super::super::types::Val;
use super::super::EvalError;
use super::{format_value, group_labels};

pub(super) fn count_values(
    ev: &Evaluator<'_>,
    expr: &Node,
    param: Option<&Node>,
    grouping: &[String],
    without: bool,
) -> Result<Val, EvalError> {
    let label = match param {
        Some(Node::Str(s)) => s.clone(),
        _ => {
            return Err(EvalError::BadData(
                "count_values needs a string parameter".into(),
            ))
        }
    };
    if label.is_empty() {
        return Err(EvalError::Execution(format!(
            "invalid label name \"{label}\""
        )));
    }
    let mut grouping: Vec<String> = grouping.to_vec();
    if !without {
        grouping.push(label.clone());
        grouping.sort();
    }
    let input = ev.eval(expr)?.into_matrix();
    let mut table = Vec::new();
    let mut index: HashMap<Labels, u32> = HashMap::new();
    let mut counts: Vec<(u32, f64)> = Vec::new();
    ev.range_eval(vec![input], &mut table, |st, table, out| {
        counts.clear();
        for x in &st.vecs[0] {
            let value = format_value(x.v);
            let mut b = LabelsBuilder::new(st.labels(0, x.idx));
            b.set(&label, &value);
            let l = group_labels(&b.labels(), &grouping, without);
            let tid = match index.get(&l) {
                Some(&t) => t,
                None => {
                    // A new output series: its value label is kept until the end.
                    ev.ctx.add_label_bytes(value.len(), "count_values")?;
                    table.push(l.clone());
                    let t = table.len() as u32 - 1;
                    index.insert(l, t);
                    t
                }
            };
            match counts.iter_mut().find(|c| c.0 == tid) {
                Some(c) => c.1 += 1.0,
                None => counts.push((tid, 1.0)),
            }
        }
        for &(tid, n) in &counts {
            out.push(Out {
                key: Key::Table(tid),
                v: n,
                drop_name: false,
            });
        }
        Ok(())
    })
    .map(Val::Matrix)
}
