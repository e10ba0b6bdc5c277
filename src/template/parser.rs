//! Parser from tokens to the tree in [`super::ast`], following Go's
//! `text/template/parse/parse.go`: variables must be declared before use,
//! functions must exist, `break`/`continue` only inside `range`, `define`
//! only at top level.
//!
//! Invariant: recursion depth is bounded by [`MAX_NESTING`], so hostile input
//! cannot overflow the stack.

use std::sync::Arc;

mod pipeline;

use super::ast::{is_empty_list, Branch, Node, Span};
use super::funcs::Flavor;
use super::lexer::{lex, Kw, Tok, Token};

/// Maximum nesting of blocks and parentheses.
pub(crate) const MAX_NESTING: usize = 100;

/// A parse error at byte offset `pos`.
#[derive(Debug, PartialEq)]
pub(crate) struct SyntaxError {
    pub pos: usize,
    pub message: String,
}

/// A parsed source: the main list and the `define`d templates.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub main: Vec<Node>,
    pub defs: Vec<(Arc<str>, Vec<Node>)>,
}

type PResult<T> = Result<T, SyntaxError>;

/// Parses `src`; `predeclared` variables (besides `$`) are visible in the
/// main list only.
pub(crate) fn parse(src: &str, flavor: Flavor, predeclared: &[&str]) -> PResult<Parsed> {
    let toks = lex(src).map_err(|e| SyntaxError {
        pos: e.pos,
        message: e.message,
    })?;
    let mut vars = vec![Arc::from("$")];
    vars.extend(predeclared.iter().map(|v| Arc::from(*v)));
    let mut p = Parser {
        src,
        toks,
        i: 0,
        flavor,
        vars,
        range_depth: 0,
        nesting: 0,
        defs: Vec::new(),
    };
    let main = p.top()?;
    Ok(Parsed { main, defs: p.defs })
}

/// How an item list ended.
enum Stop {
    End,
    /// `{{else}}`; `Some` if followed by `if`/`with` (an `else if` chain).
    Else(Option<Kw>),
    Eof(usize),
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    i: usize,
    flavor: Flavor,
    vars: Vec<Arc<str>>,
    range_depth: usize,
    nesting: usize,
    defs: Vec<(Arc<str>, Vec<Node>)>,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.toks[self.i.min(self.toks.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }

    fn err<T>(&self, pos: usize, message: impl Into<String>) -> PResult<T> {
        Err(SyntaxError {
            pos,
            message: message.into(),
        })
    }

    /// Go's rendering of a token in "unexpected X" messages.
    fn describe(&self, t: &Token) -> String {
        match &t.kind {
            Tok::Eof => "EOF".to_string(),
            Tok::Keyword(k) => format!("<{}>", kw_name(*k)),
            _ => format!("{:?}", &self.src[t.start..t.end]),
        }
    }

    fn unexpected<T>(&self, t: &Token, context: &str) -> PResult<T> {
        self.err(
            t.start,
            format!("unexpected {} in {context}", self.describe(t)),
        )
    }

    fn expect_right_delim(&mut self, context: &str) -> PResult<()> {
        let t = self.next();
        if t.kind != Tok::RightDelim {
            return self.unexpected(&t, context);
        }
        Ok(())
    }

    fn enter(&mut self, pos: usize) -> PResult<()> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return self.err(pos, format!("nesting deeper than {MAX_NESTING} levels"));
        }
        Ok(())
    }

    fn top(&mut self) -> PResult<Vec<Node>> {
        let mut list = Vec::new();
        loop {
            let t = self.peek().clone();
            match t.kind {
                Tok::Eof => return Ok(list),
                Tok::LeftDelim if self.toks[self.i + 1].kind == Tok::Keyword(Kw::Define) => {
                    self.i += 2;
                    self.definition(t.start)?;
                }
                _ => match self.item()? {
                    Ok(node) => list.push(node),
                    Err(Stop::End) => return self.err(t.start, "unexpected {{end}}"),
                    Err(Stop::Else(_)) => return self.err(t.start, "unexpected {{else}}"),
                    Err(Stop::Eof(_)) => return Ok(list),
                },
            }
        }
    }

    fn definition(&mut self, pos: usize) -> PResult<()> {
        let t = self.next();
        let Tok::Str(name) = t.kind else {
            return self.unexpected(&t, "define clause");
        };
        self.expect_right_delim("define clause")?;
        let body = self.body(pos, "define clause")?;
        self.add_def(Arc::from(name), body, pos)
    }

    /// A `define`/`block` body with a fresh variable scope.
    fn body(&mut self, pos: usize, context: &str) -> PResult<Vec<Node>> {
        let saved_vars = std::mem::replace(&mut self.vars, vec![Arc::from("$")]);
        let saved_range = std::mem::replace(&mut self.range_depth, 0);
        self.enter(pos)?;
        let (list, end) = self.item_list()?;
        self.nesting -= 1;
        self.vars = saved_vars;
        self.range_depth = saved_range;
        match end {
            Stop::End => Ok(list),
            Stop::Else(_) => self.err(pos, format!("unexpected {{{{else}}}} in {context}")),
            Stop::Eof(at) => self.err(at, "unexpected EOF"),
        }
    }

    fn add_def(&mut self, name: Arc<str>, body: Vec<Node>, pos: usize) -> PResult<()> {
        match self.defs.iter_mut().find(|(n, _)| *n == name) {
            None => self.defs.push((name, body)),
            Some((_, old)) if is_empty_list(old) => *old = body,
            Some(_) if is_empty_list(&body) => {}
            Some(_) => return self.err(pos, format!("multiple definition of template {name:?}")),
        }
        Ok(())
    }

    /// Nodes until `{{end}}`, `{{else}}` or the end of input.
    fn item_list(&mut self) -> PResult<(Vec<Node>, Stop)> {
        let mut list = Vec::new();
        loop {
            match self.item()? {
                Ok(node) => list.push(node),
                Err(end) => return Ok((list, end)),
            }
        }
    }

    /// One text or action node, or the terminator that ends a list.
    fn item(&mut self) -> PResult<Result<Node, Stop>> {
        let t = self.next();
        match t.kind {
            Tok::Text => Ok(Ok(Node::Text(self.src[t.start..t.end].into()))),
            Tok::LeftDelim => self.action(t.start),
            Tok::Eof => Ok(Err(Stop::Eof(t.start))),
            _ => self.unexpected(&t, "input"),
        }
    }

    fn action(&mut self, pos: usize) -> PResult<Result<Node, Stop>> {
        let t = self.peek().clone();
        let Tok::Keyword(kw) = t.kind else {
            let pipe = self.pipeline("command", Tok::RightDelim)?;
            return Ok(Ok(Node::Action(pipe)));
        };
        self.next();
        let node = match kw {
            Kw::End => {
                self.expect_right_delim("end")?;
                return Ok(Err(Stop::End));
            }
            Kw::Else => {
                let chained = match self.peek().kind {
                    Tok::Keyword(k @ (Kw::If | Kw::With)) => Some(k),
                    _ => {
                        self.expect_right_delim("else")?;
                        None
                    }
                };
                return Ok(Err(Stop::Else(chained)));
            }
            Kw::If => Node::If(self.control(pos, "if")?),
            Kw::With => Node::With(self.control(pos, "with")?),
            Kw::Range => Node::Range(self.control(pos, "range")?),
            Kw::Break | Kw::Continue => {
                let name = kw_name(kw);
                if self.range_depth == 0 {
                    return self.err(t.start, format!("{{{{{name}}}}} outside {{{{range}}}}"));
                }
                self.expect_right_delim(&format!("{{{{{name}}}}}"))?;
                if kw == Kw::Break {
                    Node::Break
                } else {
                    Node::Continue
                }
            }
            Kw::Template | Kw::Block => self.template(pos, kw)?,
            Kw::Define => return self.unexpected(&t, "command"),
        };
        Ok(Ok(node))
    }

    fn template(&mut self, pos: usize, kw: Kw) -> PResult<Node> {
        let context = if kw == Kw::Block {
            "block clause"
        } else {
            "template clause"
        };
        let t = self.next();
        let Tok::Str(name) = t.kind else {
            return self.unexpected(&t, context);
        };
        let name: Arc<str> = Arc::from(name);
        let span = Span {
            start: pos,
            end: t.end,
        };
        let pipe = if kw == Kw::Block {
            let pipe = self.pipeline(context, Tok::RightDelim)?;
            let body = self.body(pos, context)?;
            self.add_def(name.clone(), body, pos)?;
            Some(pipe)
        } else if self.peek().kind == Tok::RightDelim {
            self.next();
            None
        } else {
            Some(self.pipeline(context, Tok::RightDelim)?)
        };
        Ok(Node::Template { span, name, pipe })
    }

    /// `if`, `with`, `range`: pipeline, list, optional else (with Go's
    /// `else if`/`else with` chaining).
    fn control(&mut self, pos: usize, context: &str) -> PResult<Branch> {
        self.enter(pos)?;
        let mark = self.vars.len();
        let pipe = self.pipeline(context, Tok::RightDelim)?;
        let is_range = context == "range";
        self.range_depth += usize::from(is_range);
        let (list, end) = self.item_list()?;
        self.range_depth -= usize::from(is_range);
        let else_list = match end {
            Stop::End => None,
            Stop::Eof(at) => return self.err(at, "unexpected EOF"),
            Stop::Else(Some(k))
                if (k == Kw::If && context == "if") || (k == Kw::With && context == "with") =>
            {
                let at = self.next().start;
                let inner = self.control(at, context)?;
                Some(vec![if k == Kw::If {
                    Node::If(inner)
                } else {
                    Node::With(inner)
                }])
            }
            Stop::Else(Some(_)) => return self.unexpected(&self.peek().clone(), "input"),
            Stop::Else(None) => {
                let (list, end) = self.item_list()?;
                match end {
                    Stop::End => Some(list),
                    Stop::Eof(at) => return self.err(at, "unexpected EOF"),
                    Stop::Else(_) => return self.err(pos, "expected end; found {{else}}"),
                }
            }
        };
        self.vars.truncate(mark);
        self.nesting -= 1;
        Ok(Branch {
            pipe,
            list,
            else_list,
        })
    }
}

fn kw_name(k: Kw) -> &'static str {
    match k {
        Kw::Block => "block",
        Kw::Break => "break",
        Kw::Continue => "continue",
        Kw::Define => "define",
        Kw::Else => "else",
        Kw::End => "end",
        Kw::If => "if",
        Kw::Range => "range",
        Kw::Template => "template",
        Kw::With => "with",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perr(src: &str) -> String {
        parse(src, Flavor::Rule, &["$labels"]).unwrap_err().message
    }

    #[test]
    fn parses_control_structures() {
        let p = parse(
            "{{if .a}}x{{else if .b}}y{{else}}z{{end}}{{range $i, $e := .l}}{{$i}}{{break}}{{end}}",
            Flavor::Rule,
            &[],
        )
        .unwrap();
        assert_eq!(p.main.len(), 2);
        let Node::If(b) = &p.main[0] else {
            panic!("not an if")
        };
        let else_list = b.else_list.as_ref().unwrap();
        assert!(matches!(&else_list[0], Node::If(inner) if inner.else_list.is_some()));
        let Node::Range(r) = &p.main[1] else {
            panic!("not a range")
        };
        assert_eq!(r.pipe.decl.len(), 2);
    }

    #[test]
    fn parses_definitions_and_blocks() {
        let p = parse(
            r#"{{define "a"}}A{{end}}{{block "b" .}}B{{end}}{{template "a"}}"#,
            Flavor::Rule,
            &[],
        )
        .unwrap();
        let names: Vec<&str> = p.defs.iter().map(|(n, _)| &**n).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(p.main.len(), 2);
    }

    #[test]
    fn syntax_errors_match_go_wording() {
        assert_eq!(perr("{{ $label.foo }}"), "undefined variable \"$label\"");
        assert_eq!(
            perr("{{ $labels.foo }}{{ nope 1 }}"),
            "function \"nope\" not defined"
        );
        assert_eq!(perr("{{ end }}"), "unexpected {{end}}");
        assert_eq!(perr("{{ else }}"), "unexpected {{else}}");
        assert_eq!(perr("{{ if 1 }}x"), "unexpected EOF");
        assert_eq!(perr("{{ if }}x{{end}}"), "missing value for if");
        assert_eq!(perr("{{ }}"), "missing value for command");
        assert_eq!(perr("{{ break }}"), "{{break}} outside {{range}}");
        assert_eq!(
            perr("{{ 1 | 2 }}"),
            "non executable command in pipeline stage 2"
        );
        assert_eq!(
            perr("{{ \"x\".y }}"),
            "unexpected . after term \"\\\"x\\\"\""
        );
        assert_eq!(
            perr("{{ if 1 }}{{ define \"x\" }}{{ end }}{{ end }}"),
            "unexpected <define> in command"
        );
        assert_eq!(
            perr("{{ template .x }}"),
            "unexpected \".x\" in template clause"
        );
        assert_eq!(
            perr("{{ $x, $y := 1 }}"),
            "too many declarations in command"
        );
        assert_eq!(perr("{{ $x = 1 }}"), "undefined variable \"$x\"");
        assert_eq!(perr("{{ 1 , }}"), "unexpected \",\" in operand");
        assert_eq!(
            perr("{{define \"a\"}}x{{end}}{{define \"a\"}}y{{end}}"),
            "multiple definition of template \"a\""
        );
        assert_eq!(
            perr("{{ if 1 }}{{ else }}{{ else }}{{ end }}"),
            "expected end; found {{else}}"
        );
        let deep = "{{if 1}}".repeat(MAX_NESTING + 1);
        assert_eq!(
            perr(&deep),
            format!("nesting deeper than {MAX_NESTING} levels")
        );
        let parens = format!("{{{{ {}1{} }}}}", "(".repeat(500), ")".repeat(500));
        assert_eq!(
            perr(&parens),
            format!("nesting deeper than {MAX_NESTING} levels")
        );
    }

    #[test]
    fn variables_are_scoped() {
        assert!(parse(
            "{{ if 1 }}{{ $x := 1 }}{{ end }}{{ $x }}",
            Flavor::Rule,
            &[]
        )
        .is_err());
        assert!(parse(
            "{{ $x := 1 }}{{ if 1 }}{{ $x = 2 }}{{ end }}{{ $x }}",
            Flavor::Rule,
            &[]
        )
        .is_ok());
        assert!(parse(
            "{{ range $k, $v := . }}{{ $k }}{{ $v }}{{ end }}",
            Flavor::Rule,
            &[]
        )
        .is_ok());
        assert!(parse(
            "{{ define \"a\" }}{{ $labels }}{{ end }}",
            Flavor::Rule,
            &["$labels"]
        )
        .is_err());
        assert!(parse(
            "{{ with $x := 1 }}{{ $x }}{{ else }}{{ $x }}{{ end }}",
            Flavor::Rule,
            &[]
        )
        .is_ok());
    }
}
