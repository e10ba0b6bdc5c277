//! Element-wise math on instant vectors: `abs`, `ceil`, `floor`, `exp`,
//! `sqrt`, `ln`, `log2`, `log10`, trigonometry, `rad`, `deg`, `sgn`,
//! `clamp*`, `round`. All drop the metric name.

use super::super::eval::{Evaluator, Key, Out};
use super::super::plan::Node;
use super::super::types::Val;
use super::super::EvalError;

/// An element-wise function; `p` are the scalar arguments at the step.
pub(crate) type MathFn = fn(f64, &[f64]) -> f64;

fn sgn(v: f64, _: &[f64]) -> f64 {
    if v < 0.0 {
        -1.0
    } else if v > 0.0 {
        1.0
    } else {
        v
    }
}

fn round(v: f64, p: &[f64]) -> f64 {
    let to_nearest = p.first().copied().unwrap_or(1.0);
    let inv = 1.0 / to_nearest;
    (v * inv + 0.5).floor() / inv
}

/// The implementation of a math function, by name.
pub(crate) fn lookup(name: &str) -> Option<MathFn> {
    Some(match name {
        "abs" => |v, _| v.abs(),
        "ceil" => |v, _| v.ceil(),
        "floor" => |v, _| v.floor(),
        "exp" => |v, _| v.exp(),
        "sqrt" => |v, _| v.sqrt(),
        "ln" => |v, _| v.ln(),
        "log2" => |v, _| v.log2(),
        "log10" => |v, _| v.log10(),
        "sin" => |v, _| v.sin(),
        "cos" => |v, _| v.cos(),
        "tan" => |v, _| v.tan(),
        "asin" => |v, _| v.asin(),
        "acos" => |v, _| v.acos(),
        "atan" => |v, _| v.atan(),
        "sinh" => |v, _| v.sinh(),
        "cosh" => |v, _| v.cosh(),
        "tanh" => |v, _| v.tanh(),
        "asinh" => |v, _| v.asinh(),
        "acosh" => |v, _| v.acosh(),
        "atanh" => |v, _| v.atanh(),
        "rad" => |v, _| v * std::f64::consts::PI / 180.0,
        "deg" => |v, _| v * 180.0 / std::f64::consts::PI,
        "sgn" => sgn,
        "round" => round,
        "clamp" => |v, p| go_max(p[0], go_min(p[1], v)),
        "clamp_min" => |v, p| go_max(p[0], go_min(f64::INFINITY, v)),
        "clamp_max" => |v, p| go_max(f64::NEG_INFINITY, go_min(p[0], v)),
        _ => return None,
    })
}

/// Evaluates a math function over its vector argument.
pub(crate) fn eval(ev: &Evaluator<'_>, f: MathFn, args: &[Node]) -> Result<Val, EvalError> {
    let inputs = args
        .iter()
        .map(|a| ev.eval(a).map(Val::into_matrix))
        .collect::<Result<Vec<_>, _>>()?;
    let nparams = args.len().saturating_sub(1);
    let is_clamp = nparams == 2;
    let mut table = Vec::new();
    ev.range_eval(inputs, &mut table, |st, _, out| {
        let mut p = [f64::NAN; 2];
        for (i, slot) in p.iter_mut().enumerate().take(nparams) {
            *slot = st.scalar(i + 1);
        }
        if is_clamp && p[1] < p[0] {
            return Ok(());
        }
        for x in &st.vecs[0] {
            out.push(Out {
                key: Key::Arg(0, x.idx),
                v: f(x.v, &p[..nparams]),
                drop_name: true,
            });
        }
        Ok(())
    })
    .map(Val::Matrix)
}

/// Go's `math.Max`: NaN wins.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Go's `math.Min`: NaN wins.
fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_to_nearest() {
        assert_eq!(round(2.5, &[]), 3.0);
        assert_eq!(round(-2.5, &[]), -2.0);
        assert_eq!(round(7.3, &[5.0]), 5.0);
        assert_eq!(sgn(-3.0, &[]), -1.0);
    }

    #[test]
    fn clamp_bounds() {
        let c = lookup("clamp").unwrap();
        assert_eq!(c(5.0, &[0.0, 3.0]), 3.0);
        assert_eq!(c(-5.0, &[0.0, 3.0]), 0.0);
    }
}
