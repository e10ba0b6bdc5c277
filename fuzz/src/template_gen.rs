//! A Go text/template grammar for `arbitrary`: actions, pipelines,
//! `if`/`range`/`with`/`define`/`template`, Prometheus and Alertmanager
//! functions, `query` calls whose argument is a generated PromQL expression,
//! and [`Node::Deep`]/[`Arg::DeepParen`]/[`Pipe::chain`] that nest blocks,
//! parenthesised arguments and pipelines up to [`MAX_REPEAT`] levels.

use crate::promql_gen;
use arbitrary::Arbitrary;
use std::fmt::Write;

/// Most repetitions of one nesting or chain.
pub const MAX_REPEAT: u16 = 12_000;

/// Rendering stops growing the text at about this size.
pub const MAX_TEXT: usize = 1 << 20;

/// A template: a list of nodes.
#[derive(Arbitrary, Debug, Clone)]
pub struct Template(pub Vec<Node>);

/// A template node.
#[derive(Arbitrary, Debug, Clone)]
pub enum Node {
    /// Plain text.
    Text(Word),
    /// `{{ pipeline }}`.
    Action(Pipe),
    /// `{{ if p }}…{{ else }}…{{ end }}`.
    If(Pipe, Vec<Node>, Option<Vec<Node>>),
    /// `{{ range $i, $v := p }}…{{ end }}`.
    Range(Pipe, Vec<Node>),
    /// `{{ with p }}…{{ end }}`.
    With(Pipe, Vec<Node>),
    /// `{{ define "n" }}…{{ end }}` (only valid at top level).
    Define(Name, Vec<Node>),
    /// `{{ template "n" p }}`.
    Call(Name, Option<Pipe>),
    /// `{{ $x := p }}` / `{{ $x = p }}`.
    Assign(bool, Pipe),
    /// A block repeated `n % (MAX_REPEAT + 1)` times around a node.
    Deep(Block, u16, Box<Node>),
    /// `{{/* comment */}}`, trim markers.
    Comment(bool),
}

/// What [`Node::Deep`] repeats.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Block {
    If,
    With,
    Range,
    ElseIf,
    /// `{{ template "self" . }}` recursion through a definition.
    Recurse,
}

/// A pipeline: commands joined by `|`, then `n` more `| f` stages.
#[derive(Arbitrary, Debug, Clone)]
pub struct Pipe {
    /// The first command.
    pub first: Cmd,
    /// Further commands.
    pub rest: Vec<Cmd>,
    /// `n % (MAX_REPEAT + 1)` extra `| printf "%v"`-style stages.
    pub chain: Option<(Func, u16)>,
}

/// A command: an operand or a function call.
#[derive(Arbitrary, Debug, Clone)]
pub enum Cmd {
    Arg(Arg),
    Call(Func, Vec<Arg>),
    /// `query "<generated PromQL>"`, often followed by `first | value`.
    Query(promql_gen::Expr, bool),
}

/// An operand.
#[derive(Arbitrary, Debug, Clone)]
pub enum Arg {
    Dot,
    Field(Name),
    Var(Var),
    Str(Word),
    Num(i16),
    Float(f64),
    Bool(bool),
    Nil,
    Paren(Box<Pipe>),
    /// `n % (MAX_REPEAT + 1)` parentheses around an operand.
    DeepParen(u16, Box<Arg>),
}

/// Variables, with the rule prelude's.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct Var(pub u8);

const VARS: &[&str] = &[
    "$",
    "$labels",
    "$value",
    "$externalLabels",
    "$externalURL",
    "$threshold",
    "$severity",
    "$x",
    "$i",
    "$v",
    "$labels.job",
    "$labels.instance",
];

/// Field and template names.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct Name(pub u8);

const NAMES: &[&str] = &[
    "Labels",
    "Value",
    "Alerts",
    "Status",
    "GroupLabels",
    "CommonLabels",
    "Firing",
    "Resolved",
    "Labels.job",
    "Alerts.Firing",
    "x",
    "self",
];

/// Functions of both flavours (unknown ones are parse errors).
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct Func(pub u8);

const FUNCS: &[&str] = &[
    "printf \"%v\"",
    "print",
    "len",
    "index",
    "not",
    "and",
    "or",
    "eq",
    "ne",
    "lt",
    "humanize",
    "humanize1024",
    "humanizeDuration",
    "humanizePercentage",
    "humanizeTimestamp",
    "title",
    "toUpper",
    "toLower",
    "reReplaceAll \"(.*)\" \"$1$1\"",
    "match \".*\"",
    "label \"job\"",
    "value",
    "first",
    "sortByLabel \"job\"",
    "strvalue",
    "args",
    "safeHtml",
    "stripPort",
    "stripDomain",
    "toTime",
    "parseDuration",
    "join \",\"",
    "trimSpace",
    "toJson",
    "urlquery",
    "html",
    "js",
    "slice",
    "dict \"a\"",
    "list",
    "append",
    "since",
    "tableLink",
    "graphLink",
];

/// Literal text.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct Word(pub u8);

const WORDS: &[&str] = &[
    "a",
    "{{",
    "}}",
    "{",
    "}",
    "\n",
    " ",
    "value is ",
    "ä",
    "%s",
    "%v",
    "\\",
    "\"",
    "",
];

/// Renders a template as text.
pub fn render(t: &Template) -> String {
    let mut out = String::new();
    for n in &t.0 {
        write_node(&mut out, n);
    }
    out
}

fn count(n: u16, each: usize, out: &str) -> usize {
    usize::from(n % (MAX_REPEAT + 1)).min(MAX_TEXT.saturating_sub(out.len()) / each.max(1))
}

fn write_node(out: &mut String, n: &Node) {
    if out.len() > MAX_TEXT {
        return;
    }
    match n {
        Node::Text(w) => out.push_str(WORDS[w.0 as usize % WORDS.len()]),
        Node::Action(p) => {
            out.push_str("{{ ");
            write_pipe(out, p);
            out.push_str(" }}");
        }
        Node::If(p, then, otherwise) => {
            out.push_str("{{ if ");
            write_pipe(out, p);
            out.push_str(" }}");
            then.iter().for_each(|n| write_node(out, n));
            if let Some(o) = otherwise {
                out.push_str("{{ else }}");
                o.iter().for_each(|n| write_node(out, n));
            }
            out.push_str("{{ end }}");
        }
        Node::Range(p, body) => {
            out.push_str("{{ range $i, $v := ");
            write_pipe(out, p);
            out.push_str(" }}");
            body.iter().for_each(|n| write_node(out, n));
            out.push_str("{{ end }}");
        }
        Node::With(p, body) => {
            out.push_str("{{ with ");
            write_pipe(out, p);
            out.push_str(" }}");
            body.iter().for_each(|n| write_node(out, n));
            out.push_str("{{ end }}");
        }
        Node::Define(name, body) => {
            let _ = write!(
                out,
                "{{{{ define {:?} }}}}",
                NAMES[name.0 as usize % NAMES.len()]
            );
            body.iter().for_each(|n| write_node(out, n));
            out.push_str("{{ end }}");
        }
        Node::Call(name, p) => {
            let _ = write!(
                out,
                "{{{{ template {:?}",
                NAMES[name.0 as usize % NAMES.len()]
            );
            if let Some(p) = p {
                out.push(' ');
                write_pipe(out, p);
            }
            out.push_str(" }}");
        }
        Node::Assign(declare, p) => {
            out.push_str(if *declare { "{{ $x := " } else { "{{ $x = " });
            write_pipe(out, p);
            out.push_str(" }}");
        }
        Node::Deep(block, n, inner) => {
            let (pre, post) = match block {
                Block::If => ("{{ if true }}", "{{ end }}"),
                Block::With => ("{{ with . }}", "{{ end }}"),
                Block::Range => ("{{ range $labels }}", "{{ end }}"),
                Block::ElseIf => ("{{ if false }}{{ else if true }}", "{{ end }}"),
                Block::Recurse => (
                    "{{ define \"self\" }}{{ template \"self\" . }}",
                    "{{ end }}",
                ),
            };
            let n = count(*n, pre.len() + post.len(), out);
            for _ in 0..n {
                out.push_str(pre);
            }
            write_node(out, inner);
            for _ in 0..n {
                out.push_str(post);
            }
        }
        Node::Comment(trim) => out.push_str(if *trim {
            "{{- /* c */ -}}"
        } else {
            "{{/* c */}}"
        }),
    }
}

fn write_pipe(out: &mut String, p: &Pipe) {
    write_cmd(out, &p.first);
    for c in p.rest.iter().take(4) {
        out.push_str(" | ");
        write_cmd(out, c);
    }
    if let Some((f, n)) = p.chain {
        let f = FUNCS[f.0 as usize % FUNCS.len()];
        let n = count(n, f.len() + 3, out);
        for _ in 0..n {
            out.push_str(" | ");
            out.push_str(f);
        }
    }
}

fn write_cmd(out: &mut String, c: &Cmd) {
    match c {
        Cmd::Arg(a) => write_arg(out, a),
        Cmd::Call(f, args) => {
            out.push_str(FUNCS[f.0 as usize % FUNCS.len()]);
            for a in args.iter().take(3) {
                out.push(' ');
                write_arg(out, a);
            }
        }
        Cmd::Query(e, first_value) => {
            let q = promql_gen::render(e);
            let _ = write!(out, "query {q:?}");
            if *first_value {
                out.push_str(" | first | value");
            }
        }
    }
}

fn write_arg(out: &mut String, a: &Arg) {
    if out.len() > MAX_TEXT {
        return;
    }
    match a {
        Arg::Dot => out.push('.'),
        Arg::Field(n) => {
            out.push('.');
            out.push_str(NAMES[n.0 as usize % NAMES.len()]);
        }
        Arg::Var(v) => out.push_str(VARS[v.0 as usize % VARS.len()]),
        Arg::Str(w) => {
            let _ = write!(out, "{:?}", WORDS[w.0 as usize % WORDS.len()]);
        }
        Arg::Num(i) => {
            let _ = write!(out, "{i}");
        }
        Arg::Float(f) => {
            let _ = write!(out, "{f:?}");
        }
        Arg::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Arg::Nil => out.push_str("nil"),
        Arg::Paren(p) => {
            out.push('(');
            write_pipe(out, p);
            out.push(')');
        }
        Arg::DeepParen(n, inner) => {
            let n = count(*n, 2, out);
            for _ in 0..n {
                out.push('(');
            }
            write_arg(out, inner);
            for _ in 0..n {
                out.push(')');
            }
        }
    }
}
