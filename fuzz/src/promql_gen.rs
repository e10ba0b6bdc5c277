//! A PromQL grammar for `arbitrary`: every generated expression is
//! syntactically plausible (most parse), and two node kinds produce what
//! byte mutation never reaches: [`Expr::Deep`] repeats a wrapper (`(`,
//! `abs(`, `sum by (x) (`, a subquery, `label_replace(…, "$1$1", …)`) up to
//! [`MAX_REPEAT`] times around an expression, and [`Expr::Chain`] joins up to
//! [`MAX_REPEAT`] copies of an expression with a binary operator.

use arbitrary::Arbitrary;
use std::fmt::Write;

/// Most repetitions of one [`Expr::Deep`] wrapper or [`Expr::Chain`] term:
/// well past every nesting that crashed the server (2,000 parentheses,
/// 5,000-term chains), small enough to render and parse quickly.
pub const MAX_REPEAT: u16 = 12_000;

/// Rendering stops growing the text at about this size (the server's request
/// body limit is 1 MiB): chains of chains would otherwise multiply.
pub const MAX_TEXT: usize = 1 << 20;

/// A PromQL expression.
#[derive(Arbitrary, Debug, Clone)]
pub enum Expr {
    /// A number literal.
    Num(Num),
    /// A string literal (valid only in some places).
    Str(Word),
    /// An instant vector selector.
    Sel(Selector),
    /// A range vector selector.
    Range(Selector, Dur),
    /// One wrapper around an expression.
    Wrap(Wrapper, Box<Expr>),
    /// A binary operation.
    Bin(Box<Expr>, BinOp, Modifier, Box<Expr>),
    /// A function call with one to three arguments.
    Call(Func, Vec<Expr>),
    /// An aggregation, with a parameter for the ones that take one.
    Agg(AggOp, Grouping, Box<Expr>, Box<Expr>),
    /// A subquery.
    Subquery(Box<Expr>, Dur, Option<Dur>),
    /// `offset`.
    Offset(Box<Expr>, Dur, bool),
    /// `@`.
    At(Box<Expr>, AtTime),
    /// A wrapper repeated `n % (MAX_REPEAT + 1)` times.
    Deep(Wrapper, u16, Box<Expr>),
    /// `n % (MAX_REPEAT + 1)` copies of an expression joined by an operator.
    Chain(BinOp, u16, Box<Expr>),
}

/// Number literals, including the odd ones.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Num {
    /// A small integer.
    Int(i8),
    /// Any float, printed with `{:?}`.
    Float(f64),
    /// `Inf`, `NaN`, hex, exponent, duration-as-number literals.
    Special(u8),
}

/// A word from a small vocabulary (metric names, label names and values).
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct Word(pub u8);

const WORDS: &[&str] = &[
    "up",
    "req_bucket",
    "x",
    "job",
    "module",
    "le",
    "instance",
    "a",
    "b",
    "api",
    "0.5",
    "",
    "__name__",
    "+Inf",
    "a.b",
    "ä",
];

impl Word {
    fn get(self) -> &'static str {
        WORDS[self.0 as usize % WORDS.len()]
    }
}

/// An instant vector selector.
#[derive(Arbitrary, Debug, Clone)]
pub struct Selector {
    /// The metric name, or none (then a matcher must be non-empty).
    pub name: Option<Word>,
    /// Label matchers.
    pub matchers: Vec<(Word, MatchOp, Word)>,
}

/// A matcher operator.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum MatchOp {
    Eq,
    Ne,
    Re,
    Nre,
}

/// A duration, as PromQL writes it (sometimes zero, negative or odd).
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct Dur(pub u8, pub u8);

/// The `@` modifier's argument.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum AtTime {
    Start,
    End,
    Secs(i32),
    Huge,
}

/// Things that wrap an expression: parentheses, functions, aggregations,
/// subqueries; their repetition makes deep trees.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Wrapper {
    Paren,
    Neg,
    Abs,
    Sum,
    SumBy,
    Topk,
    Vector,
    ClampMin,
    LabelReplace,
    LabelJoin,
    Subquery,
    Offset,
    BoolCmp,
    HistogramQuantile,
}

impl Wrapper {
    fn parts(self) -> (&'static str, &'static str) {
        match self {
            Wrapper::Paren => ("(", ")"),
            Wrapper::Neg => ("-", ""),
            Wrapper::Abs => ("abs(", ")"),
            Wrapper::Sum => ("sum(", ")"),
            Wrapper::SumBy => ("sum by (module) (", ")"),
            Wrapper::Topk => ("topk(1, ", ")"),
            Wrapper::Vector => ("vector(scalar(", "))"),
            Wrapper::ClampMin => ("clamp_min(", ", 0)"),
            Wrapper::LabelReplace => ("label_replace(", ", \"x\", \"$1$1\", \"x\", \"(.*)\")"),
            Wrapper::LabelJoin => ("label_join(", ", \"x\", \"-\", \"x\", \"x\")"),
            Wrapper::Subquery => ("max_over_time((", ")[1m:15s])"),
            Wrapper::Offset => ("last_over_time((", ")[1m:15s] offset 1m)"),
            Wrapper::BoolCmp => ("1 < bool (", ")"),
            Wrapper::HistogramQuantile => ("histogram_quantile(0.9, ", ")"),
        }
    }
}

/// Binary operators.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    And,
    Or,
    Unless,
}

impl BinOp {
    fn text(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Pow => "^",
            BinOp::Atan2 => "atan2",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Gt => ">",
            BinOp::Le => "<=",
            BinOp::Ge => ">=",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::Unless => "unless",
        }
    }
}

/// Binary operator modifiers.
#[derive(Arbitrary, Debug, Clone)]
pub enum Modifier {
    None,
    Bool,
    On(Vec<Word>),
    Ignoring(Vec<Word>),
    GroupLeft(Vec<Word>),
    GroupRight(Vec<Word>),
}

/// Functions, by name; arity errors are fine (they are parse errors).
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct Func(pub u8);

const FUNCS: &[&str] = &[
    "abs",
    "absent",
    "absent_over_time",
    "ceil",
    "changes",
    "clamp",
    "clamp_max",
    "clamp_min",
    "count_over_time",
    "day_of_month",
    "delta",
    "deriv",
    "exp",
    "floor",
    "histogram_quantile",
    "holt_winters",
    "idelta",
    "increase",
    "irate",
    "label_join",
    "label_replace",
    "ln",
    "max_over_time",
    "predict_linear",
    "quantile_over_time",
    "rate",
    "resets",
    "round",
    "scalar",
    "sort",
    "sort_by_label",
    "sqrt",
    "time",
    "timestamp",
    "vector",
    "last_over_time",
    "present_over_time",
    "stddev_over_time",
    "sgn",
    "double_exponential_smoothing",
    "info",
];

/// Aggregation operators.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct AggOp(pub u8);

const AGGS: &[(&str, bool)] = &[
    ("sum", false),
    ("avg", false),
    ("min", false),
    ("max", false),
    ("count", false),
    ("group", false),
    ("stddev", false),
    ("stdvar", false),
    ("topk", true),
    ("bottomk", true),
    ("quantile", true),
    ("count_values", true),
    ("limitk", true),
    ("limit_ratio", true),
];

/// `by`/`without` clauses.
#[derive(Arbitrary, Debug, Clone)]
pub enum Grouping {
    None,
    By(Vec<Word>),
    Without(Vec<Word>),
}

/// Renders an expression as PromQL text.
pub fn render(e: &Expr) -> String {
    let mut out = String::new();
    write_expr(&mut out, e);
    out
}

fn repeat_count(n: u16) -> usize {
    usize::from(n % (MAX_REPEAT + 1))
}

fn write_words(out: &mut String, words: &[Word]) {
    out.push('(');
    for (i, w) in words.iter().take(4).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(label_name(*w));
    }
    out.push(')');
}

fn label_name(w: Word) -> &'static str {
    match w.get() {
        "" | "0.5" | "+Inf" | "a.b" | "ä" => "x",
        s => s,
    }
}

fn write_dur(out: &mut String, d: Dur) {
    const UNITS: &[&str] = &["ms", "s", "m", "h", "d", "w", "y"];
    match d.1 % 16 {
        0 => out.push('0'),
        1 => out.push_str("1m30s"),
        2 => out.push_str("99999999999999y"),
        _ => {
            let _ = write!(out, "{}{}", d.0, UNITS[d.1 as usize % UNITS.len()]);
        }
    }
}

fn write_selector(out: &mut String, s: &Selector) {
    if let Some(name) = s.name {
        out.push_str(label_name(name));
    }
    if s.name.is_none() || !s.matchers.is_empty() {
        out.push('{');
        if s.matchers.is_empty() {
            out.push_str("job=~\".+\"");
        }
        for (i, (name, op, value)) in s.matchers.iter().take(4).enumerate() {
            if i > 0 {
                out.push(',');
            }
            let op = match op {
                MatchOp::Eq => "=",
                MatchOp::Ne => "!=",
                MatchOp::Re => "=~",
                MatchOp::Nre => "!~",
            };
            let _ = write!(out, "{}{op}{:?}", label_name(*name), value.get());
        }
        out.push('}');
    }
}

fn write_expr(out: &mut String, e: &Expr) {
    if out.len() > MAX_TEXT {
        return;
    }
    match e {
        Expr::Num(n) => match n {
            Num::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Num::Float(f) => {
                let _ = write!(out, "{f:?}");
            }
            Num::Special(k) => out.push_str(
                [
                    "Inf", "-Inf", "NaN", "0x1F", "1e308", "1e-320", "0.5", "1_000", "5m", "-0",
                ][*k as usize % 10],
            ),
        },
        Expr::Str(w) => {
            let _ = write!(out, "{:?}", w.get());
        }
        Expr::Sel(s) => write_selector(out, s),
        Expr::Range(s, d) => {
            write_selector(out, s);
            out.push('[');
            write_dur(out, *d);
            out.push(']');
        }
        Expr::Wrap(w, inner) => {
            let (pre, post) = w.parts();
            out.push_str(pre);
            write_expr(out, inner);
            out.push_str(post);
        }
        Expr::Bin(l, op, m, r) => {
            write_expr(out, l);
            out.push(' ');
            out.push_str(op.text());
            match m {
                Modifier::None => {}
                Modifier::Bool => out.push_str(" bool"),
                Modifier::On(w) => {
                    out.push_str(" on");
                    write_words(out, w);
                }
                Modifier::Ignoring(w) => {
                    out.push_str(" ignoring");
                    write_words(out, w);
                }
                Modifier::GroupLeft(w) => {
                    out.push_str(" on(instance) group_left");
                    write_words(out, w);
                }
                Modifier::GroupRight(w) => {
                    out.push_str(" on(instance) group_right");
                    write_words(out, w);
                }
            }
            out.push(' ');
            write_expr(out, r);
        }
        Expr::Call(f, args) => {
            out.push_str(FUNCS[f.0 as usize % FUNCS.len()]);
            out.push('(');
            for (i, a) in args.iter().take(3).enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_expr(out, a);
            }
            out.push(')');
        }
        Expr::Agg(op, g, inner, param) => {
            let (name, takes_param) = AGGS[op.0 as usize % AGGS.len()];
            out.push_str(name);
            match g {
                Grouping::None => {}
                Grouping::By(w) => {
                    out.push_str(" by ");
                    write_words(out, w);
                }
                Grouping::Without(w) => {
                    out.push_str(" without ");
                    write_words(out, w);
                }
            }
            out.push_str(" (");
            if takes_param {
                write_expr(out, param);
                out.push_str(", ");
            }
            write_expr(out, inner);
            out.push(')');
        }
        Expr::Subquery(inner, range, step) => {
            out.push('(');
            write_expr(out, inner);
            out.push_str(")[");
            write_dur(out, *range);
            out.push(':');
            if let Some(step) = step {
                write_dur(out, *step);
            }
            out.push(']');
        }
        Expr::Offset(inner, d, negative) => {
            write_expr(out, inner);
            out.push_str(if *negative { " offset -" } else { " offset " });
            write_dur(out, *d);
        }
        Expr::At(inner, at) => {
            write_expr(out, inner);
            match at {
                AtTime::Start => out.push_str(" @ start()"),
                AtTime::End => out.push_str(" @ end()"),
                AtTime::Secs(s) => {
                    let _ = write!(out, " @ {s}");
                }
                AtTime::Huge => out.push_str(" @ 1e308"),
            }
        }
        Expr::Deep(w, n, inner) => {
            let (pre, post) = w.parts();
            let n = repeat_count(*n).min(MAX_TEXT / (pre.len() + post.len()));
            out.reserve(n * (pre.len() + post.len()));
            for _ in 0..n {
                out.push_str(pre);
            }
            write_expr(out, inner);
            for _ in 0..n {
                out.push_str(post);
            }
        }
        Expr::Chain(op, n, inner) => {
            let mut term = String::new();
            write_expr(&mut term, inner);
            let room = MAX_TEXT.saturating_sub(out.len()) / (term.len() + 3);
            let n = repeat_count(*n).min(room).max(1);
            for i in 0..n {
                if i > 0 {
                    out.push(' ');
                    out.push_str(op.text());
                    out.push(' ');
                }
                out.push_str(&term);
            }
        }
    }
}
