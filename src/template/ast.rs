//! The parse tree of a template, as Go's `text/template/parse` nodes.

use std::sync::Arc;

use super::funcs::Func;

/// A byte range in the template source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: usize,
    pub end: usize,
}

/// A node of a list.
#[derive(Debug)]
pub(crate) enum Node {
    /// Literal text.
    Text(Box<str>),
    /// `{{pipeline}}`: prints the value unless the pipeline declares variables.
    Action(Pipe),
    /// `{{if}}`.
    If(Branch),
    /// `{{range}}`.
    Range(Branch),
    /// `{{with}}`.
    With(Branch),
    /// `{{template "name" pipeline}}` (also the call half of `{{block}}`).
    Template {
        span: Span,
        name: Arc<str>,
        pipe: Option<Pipe>,
    },
    /// `{{break}}`.
    Break,
    /// `{{continue}}`.
    Continue,
}

/// The parts of `if`, `range` and `with`.
#[derive(Debug)]
pub(crate) struct Branch {
    pub pipe: Pipe,
    pub list: Vec<Node>,
    pub else_list: Option<Vec<Node>>,
}

/// A pipeline with optional variable declarations: `$x := cmd | cmd`.
#[derive(Debug)]
pub(crate) struct Pipe {
    pub span: Span,
    /// `=` rather than `:=`.
    pub is_assign: bool,
    pub decl: Vec<Arc<str>>,
    pub cmds: Vec<Cmd>,
}

/// One stage of a pipeline: a function, method or value with arguments.
#[derive(Debug)]
pub(crate) struct Cmd {
    pub span: Span,
    pub args: Vec<Arg>,
}

/// An operand.
#[derive(Debug)]
pub(crate) struct Arg {
    pub span: Span,
    pub kind: ArgKind,
}

/// Operand kinds.
#[derive(Debug)]
pub(crate) enum ArgKind {
    Dot,
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Arc<str>),
    /// `.A.B`: fields of dot.
    Field(Vec<Arc<str>>),
    /// `$x.A.B`.
    Var(Arc<str>, Vec<Arc<str>>),
    /// A function name.
    Func(Func),
    /// `(pipeline).A.B` or `func.A`.
    Chain(Box<Arg>, Vec<Arc<str>>),
    /// `(pipeline)`.
    Pipe(Box<Pipe>),
}

/// Whether a list holds nothing but whitespace (Go's `IsEmptyTree`); an empty
/// definition does not replace an existing one.
pub(crate) fn is_empty_list(list: &[Node]) -> bool {
    list.iter()
        .all(|n| matches!(n, Node::Text(t) if t.trim().is_empty()))
}
