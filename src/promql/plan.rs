//! The evaluation plan: `promql-parser`'s AST lowered into our own tree with
//! times in milliseconds, compiled matchers, `@ start()`/`@ end()` and
//! `start()`/`end()`/`range()`/`step()` resolved, and step-invariant parts
//! marked (as Prometheus' `PreprocessExpr` does).

use crate::model::Matcher;
use promql_parser::parser::token::{self, TokenId};
use promql_parser::parser::value::ValueType;
use promql_parser::parser::{self as pp, AtModifier, Expr, LabelModifier, Offset};
use std::time::{Duration, SystemTime};

use super::EvalError;

/// A value type of an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Scalar,
    Vector,
    Matrix,
    String,
}

fn kind_of(t: ValueType) -> Kind {
    match t {
        ValueType::Scalar => Kind::Scalar,
        ValueType::Vector => Kind::Vector,
        ValueType::Matrix => Kind::Matrix,
        ValueType::String => Kind::String,
    }
}

/// A series selector.
#[derive(Debug, Clone)]
pub(crate) struct Selector {
    /// Matchers that must all hold (metric name included).
    pub matchers: Vec<Matcher>,
    /// Alternative matcher sets (`{a="1" or b="2"}`); a series matching any set is selected.
    pub or_groups: Vec<Vec<Matcher>>,
    /// Offset in ms (negative for `offset -5m`).
    pub offset: i64,
    /// `@` time in ms.
    pub at: Option<i64>,
    /// `anchored`/`smoothed` modifier.
    pub ext: Ext,
}

/// The experimental range modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Ext {
    /// Plain selector.
    #[default]
    None,
    /// `anchored`: windows extended back to the last sample before the range.
    Anchored,
    /// `smoothed`: values interpolated at the window edges.
    Smoothed,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    And,
    Or,
    Unless,
}

impl BinOp {
    pub(crate) fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::Ne | BinOp::Gt | BinOp::Lt | BinOp::Ge | BinOp::Le
        )
    }

    pub(crate) fn is_set(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or | BinOp::Unless)
    }
}

/// Vector matching of a binary operation.
#[derive(Debug, Clone)]
pub(crate) struct Matching {
    /// `on(...)` (true) or `ignoring(...)` (false).
    pub on: bool,
    /// The `on`/`ignoring` labels.
    pub labels: Vec<String>,
    /// Cardinality.
    pub card: Card,
    /// `group_left`/`group_right` extra labels.
    pub include: Vec<String>,
    /// Fill values (experimental `fill()` modifiers).
    pub fill_lhs: Option<f64>,
    pub fill_rhs: Option<f64>,
}

/// Matching cardinality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Card {
    OneToOne,
    ManyToOne,
    OneToMany,
    ManyToMany,
}

/// Aggregation operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AggOp {
    Sum,
    Avg,
    Count,
    Min,
    Max,
    Group,
    Stddev,
    Stdvar,
    Topk,
    Bottomk,
    CountValues,
    Quantile,
    Limitk,
    LimitRatio,
}

/// A node of the plan.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Number(f64),
    Str(String),
    Vector(Selector),
    Matrix {
        sel: Selector,
        range: i64,
    },
    Subquery {
        expr: Box<Node>,
        range: i64,
        step: i64,
        offset: i64,
        at: Option<i64>,
    },
    Call {
        name: &'static str,
        ret: Kind,
        args: Vec<Node>,
    },
    Aggregate {
        op: AggOp,
        expr: Box<Node>,
        param: Option<Box<Node>>,
        grouping: Vec<String>,
        without: bool,
    },
    Neg(Box<Node>),
    Binary {
        op: BinOp,
        lhs: Box<Node>,
        rhs: Box<Node>,
        matching: Option<Matching>,
        return_bool: bool,
    },
    StepInvariant(Box<Node>),
}

impl Node {
    /// The value type of the node.
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Node::Number(_) => Kind::Scalar,
            Node::Str(_) => Kind::String,
            Node::Vector(_) => Kind::Vector,
            Node::Matrix { .. } | Node::Subquery { .. } => Kind::Matrix,
            Node::Call { ret, .. } => *ret,
            Node::Aggregate { .. } => Kind::Vector,
            Node::Neg(e) | Node::StepInvariant(e) => e.kind(),
            Node::Binary { lhs, rhs, .. } => {
                if lhs.kind() == Kind::Scalar && rhs.kind() == Kind::Scalar {
                    Kind::Scalar
                } else {
                    Kind::Vector
                }
            }
        }
    }
}

/// Query-wide times used while lowering.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlanTimes {
    pub start: i64,
    pub end: i64,
    pub step: i64,
    /// Resolution of subqueries without a step.
    pub default_subquery_step: i64,
}

fn ms(d: &Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

pub(crate) fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        None => 0,
        Some(Offset::Pos(d)) => ms(d),
        Some(Offset::Neg(d)) => -ms(d),
    }
}

fn system_time_ms(t: &SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => ms(&d),
        Err(e) => -ms(&e.duration()),
    }
}

pub(crate) fn at_ms(at: &Option<AtModifier>, times: &PlanTimes) -> Option<i64> {
    at.as_ref().map(|a| match a {
        AtModifier::Start => times.start,
        AtModifier::End => times.end,
        AtModifier::At(t) => system_time_ms(t),
    })
}

fn bad(msg: impl Into<String>) -> EvalError {
    EvalError::BadData(msg.into())
}

fn matcher_error(e: crate::model::MatcherError) -> EvalError {
    bad(e.to_string())
}

fn selector(vs: &pp::VectorSelector, times: &PlanTimes) -> Result<Selector, EvalError> {
    let mut sets = super::matchers::selector_matchers(vs).map_err(matcher_error)?;
    let mut matchers = sets.remove(0);
    let or_groups = sets;
    let mut ext = Ext::None;
    matchers.retain(|m| match m.name.as_str() {
        super::extended::ANCHORED => {
            ext = Ext::Anchored;
            false
        }
        super::extended::SMOOTHED => {
            ext = Ext::Smoothed;
            false
        }
        _ => true,
    });
    Ok(Selector {
        matchers,
        or_groups,
        offset: offset_ms(&vs.offset),
        at: at_ms(&vs.at, times),
        ext,
    })
}

fn bin_op(id: TokenId) -> Result<BinOp, EvalError> {
    Ok(match id {
        token::T_ADD => BinOp::Add,
        token::T_SUB => BinOp::Sub,
        token::T_MUL => BinOp::Mul,
        token::T_DIV => BinOp::Div,
        token::T_MOD => BinOp::Mod,
        token::T_POW => BinOp::Pow,
        token::T_ATAN2 => BinOp::Atan2,
        token::T_EQLC => BinOp::Eq,
        token::T_NEQ => BinOp::Ne,
        token::T_GTR => BinOp::Gt,
        token::T_LSS => BinOp::Lt,
        token::T_GTE => BinOp::Ge,
        token::T_LTE => BinOp::Le,
        token::T_LAND => BinOp::And,
        token::T_LOR => BinOp::Or,
        token::T_LUNLESS => BinOp::Unless,
        other => return Err(bad(format!("unsupported binary operator {}", other))),
    })
}

fn agg_op(id: TokenId) -> Result<AggOp, EvalError> {
    Ok(match id {
        token::T_SUM => AggOp::Sum,
        token::T_AVG => AggOp::Avg,
        token::T_COUNT => AggOp::Count,
        token::T_MIN => AggOp::Min,
        token::T_MAX => AggOp::Max,
        token::T_GROUP => AggOp::Group,
        token::T_STDDEV => AggOp::Stddev,
        token::T_STDVAR => AggOp::Stdvar,
        token::T_TOPK => AggOp::Topk,
        token::T_BOTTOMK => AggOp::Bottomk,
        token::T_COUNT_VALUES => AggOp::CountValues,
        token::T_QUANTILE => AggOp::Quantile,
        token::T_LIMITK => AggOp::Limitk,
        token::T_LIMIT_RATIO => AggOp::LimitRatio,
        other => return Err(bad(format!("unsupported aggregation {}", other))),
    })
}

/// Lowers a parsed expression into a plan for a query over `times`.
pub(crate) fn lower(expr: &Expr, times: &PlanTimes) -> Result<Node, EvalError> {
    super::limits::guarded(|| lower_node(expr, times))
}

fn lower_node(expr: &Expr, times: &PlanTimes) -> Result<Node, EvalError> {
    Ok(match expr {
        Expr::NumberLiteral(n) => Node::Number(n.val),
        Expr::StringLiteral(s) => Node::Str(s.val.clone()),
        Expr::Paren(p) => lower(&p.expr, times)?,
        Expr::VectorSelector(vs) => Node::Vector(selector(vs, times)?),
        Expr::MatrixSelector(m) => Node::Matrix {
            sel: selector(&m.vs, times)?,
            range: ms(&m.range),
        },
        Expr::Subquery(s) => {
            let range = ms(&s.range);
            let step = match &s.step {
                Some(d) if !d.is_zero() => ms(d),
                _ => times.default_subquery_step,
            };
            Node::Subquery {
                expr: Box::new(lower(&s.expr, times)?),
                range,
                step,
                offset: offset_ms(&s.offset),
                at: at_ms(&s.at, times),
            }
        }
        Expr::Unary(u) => Node::Neg(Box::new(lower(&u.expr, times)?)),
        Expr::Binary(b) => lower_binary(b, times)?,
        Expr::Aggregate(a) => {
            let op = agg_op(a.op.id())?;
            let (mut grouping, without) = match &a.modifier {
                None => (Vec::new(), false),
                Some(LabelModifier::Include(l)) => (l.labels.clone(), false),
                Some(LabelModifier::Exclude(l)) => (l.labels.clone(), true),
            };
            grouping.sort();
            grouping.dedup();
            let param = match &a.param {
                Some(p) => Some(Box::new(lower(p, times)?)),
                None => None,
            };
            Node::Aggregate {
                op,
                expr: Box::new(lower(&a.expr, times)?),
                param,
                grouping,
                without,
            }
        }
        Expr::Call(c) => {
            let name = c.func.name;
            let secs = |ms: i64| ms as f64 / 1000.0;
            match name {
                "start" => Node::Number(secs(times.start)),
                "end" => Node::Number(secs(times.end)),
                "range" => Node::Number(secs(times.end - times.start)),
                "step" => Node::Number(if times.start == times.end {
                    0.0
                } else {
                    secs(times.step)
                }),
                _ => {
                    let args = c
                        .args
                        .args
                        .iter()
                        .map(|a| lower(a, times))
                        .collect::<Result<Vec<_>, _>>()?;
                    Node::Call {
                        name,
                        ret: kind_of(c.func.return_type),
                        args,
                    }
                }
            }
        }
        Expr::Extension(_) => return Err(bad("unsupported extension expression")),
    })
}

fn lower_binary(b: &pp::BinaryExpr, times: &PlanTimes) -> Result<Node, EvalError> {
    let op = bin_op(b.op.id())?;
    let lhs = lower(&b.lhs, times)?;
    let rhs = lower(&b.rhs, times)?;
    let return_bool = b.modifier.as_ref().is_some_and(|m| m.return_bool);
    let both_vectors = lhs.kind() == Kind::Vector && rhs.kind() == Kind::Vector;
    let matching = if both_vectors {
        let m = b.modifier.as_ref();
        let (on, labels) = match m.and_then(|m| m.matching.as_ref()) {
            Some(LabelModifier::Include(l)) => (true, l.labels.clone()),
            Some(LabelModifier::Exclude(l)) => (false, l.labels.clone()),
            None => (false, Vec::new()),
        };
        let (card, include) = if op.is_set() {
            (Card::ManyToMany, Vec::new())
        } else {
            match m.map(|m| &m.card) {
                Some(pp::VectorMatchCardinality::ManyToOne(l)) => {
                    (Card::ManyToOne, l.labels.clone())
                }
                Some(pp::VectorMatchCardinality::OneToMany(l)) => {
                    (Card::OneToMany, l.labels.clone())
                }
                Some(pp::VectorMatchCardinality::ManyToMany) => (Card::ManyToMany, Vec::new()),
                _ => (Card::OneToOne, Vec::new()),
            }
        };
        Some(Matching {
            on,
            labels,
            card,
            include,
            fill_lhs: m.and_then(|m| m.fill_values.lhs),
            fill_rhs: m.and_then(|m| m.fill_values.rhs),
        })
    } else {
        None
    };
    Ok(Node::Binary {
        op,
        lhs: Box::new(lhs),
        rhs: Box::new(rhs),
        matching,
        return_bool,
    })
}

/// Functions whose value depends on the evaluation time, so a call to them
/// is never step invariant (also what the conformance harness must not pin with `@`).
pub const AT_UNSAFE: &[&str] = &[
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "end",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "range",
    "start",
    "step",
    "time",
    "timestamp",
];

fn wrap(n: Node) -> Node {
    Node::StepInvariant(Box::new(n))
}

fn take(n: &mut Node) -> Node {
    std::mem::replace(n, Node::Number(0.0))
}

/// Marks step-invariant subtrees, as Prometheus' preprocessing does.
pub(crate) fn preprocess(node: Node) -> Node {
    let mut node = node;
    let (_, should_wrap) = mark(&mut node);
    if should_wrap {
        wrap(node)
    } else {
        node
    }
}

/// Returns (is step invariant, should be wrapped).
fn mark(node: &mut Node) -> (bool, bool) {
    super::limits::guarded(|| mark_node(node))
}

fn mark_node(node: &mut Node) -> (bool, bool) {
    match node {
        Node::Vector(sel) => (sel.at.is_some(), sel.at.is_some()),
        Node::Aggregate { expr, .. } => mark(expr),
        Node::Binary { lhs, rhs, .. } => {
            let (il, wl) = mark(lhs);
            let (ir, wr) = mark(rhs);
            if il && ir {
                return (true, true);
            }
            if wl {
                **lhs = wrap(take(lhs));
            }
            if wr {
                **rhs = wrap(take(rhs));
            }
            (false, false)
        }
        Node::Call { name, args, .. } => {
            let mut invariant = !AT_UNSAFE.contains(name);
            let mut timestamp_safe = *name == "timestamp";
            let mut wraps = Vec::with_capacity(args.len());
            for a in args.iter_mut() {
                let (ia, wa) = mark(a);
                invariant = invariant && ia;
                if !ia || !matches!(a, Node::Vector(_)) {
                    timestamp_safe = false;
                }
                wraps.push(wa);
            }
            if invariant || timestamp_safe {
                return (true, true);
            }
            for (a, w) in args.iter_mut().zip(wraps) {
                if w {
                    *a = wrap(take(a));
                }
            }
            (false, false)
        }
        Node::Matrix { sel, .. } => (sel.at.is_some(), false),
        Node::Subquery { expr, at, .. } => {
            let (inner, _) = mark(expr);
            if inner {
                **expr = wrap(take(expr));
            }
            (at.is_some(), false)
        }
        Node::Neg(e) => mark(e),
        Node::Number(_) | Node::Str(_) => (true, false),
        Node::StepInvariant(_) => (true, false),
    }
}
