//! Pipelines, commands and operands: `$x := .A.B | f "x" (g 1)`.

use std::sync::Arc;

use super::{PResult, Parser, SyntaxError};
use crate::template::ast::{Arg, ArgKind, Cmd, Pipe, Span};
use crate::template::funcs;
use crate::template::lexer::{Tok, Token};

impl Parser<'_> {
    fn use_var(&self, t: &Token) -> PResult<Arc<str>> {
        let name = &self.src[t.start..t.end];
        match self.vars.iter().rev().find(|v| &***v == name) {
            Some(v) => Ok(v.clone()),
            None => self.err(t.start, format!("undefined variable {name:?}")),
        }
    }

    /// Declarations (`$x :=`, `$x =`, `$i, $e :=` in range) and commands up
    /// to `end` (`}}` or `)`), which is consumed.
    pub(super) fn pipeline(&mut self, context: &str, end: Tok) -> PResult<Pipe> {
        let start = self.peek().start;
        let mut var_toks: Vec<Token> = Vec::new();
        let mut is_assign = false;
        let mut declared = false;
        while self.peek().kind == Tok::Variable {
            let v = self.peek().clone();
            let after = self.toks[self.i + 1].kind.clone();
            match after {
                Tok::Declare | Tok::Assign => {
                    self.i += 2;
                    is_assign = after == Tok::Assign;
                    declared = true;
                    var_toks.push(v);
                    break;
                }
                Tok::Char(',') if context == "range" && var_toks.is_empty() => {
                    self.i += 2;
                    var_toks.push(v);
                    if self.peek().kind != Tok::Variable {
                        return self.err(self.peek().start, "range can only initialize variables");
                    }
                }
                Tok::Char(',') => {
                    return self.err(v.start, format!("too many declarations in {context}"));
                }
                _ => break,
            }
        }
        if !declared && !var_toks.is_empty() {
            return self.err(start, "range can only initialize variables");
        }
        let mut decl = Vec::new();
        for v in &var_toks {
            let name = if is_assign {
                self.use_var(v)?
            } else {
                Arc::from(&self.src[v.start..v.end])
            };
            if !is_assign {
                self.vars.push(name.clone());
            }
            decl.push(name);
        }
        let mut cmds = Vec::new();
        loop {
            let t = self.peek().clone();
            if t.kind == end {
                self.next();
                break;
            }
            match t.kind {
                Tok::Bool(_)
                | Tok::CharConst(_)
                | Tok::Dot
                | Tok::Field
                | Tok::Ident
                | Tok::Number
                | Tok::Nil
                | Tok::Str(_)
                | Tok::Variable
                | Tok::LeftParen => cmds.push(self.command()?),
                _ => return self.unexpected(&t, context),
            }
        }
        let span = Span {
            start,
            end: self.toks[self.i.saturating_sub(1)].end,
        };
        if cmds.is_empty() {
            return self.err(start, format!("missing value for {context}"));
        }
        for (n, c) in cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args[0].kind,
                ArgKind::Bool(_)
                    | ArgKind::Dot
                    | ArgKind::Nil
                    | ArgKind::Int(_)
                    | ArgKind::Float(_)
                    | ArgKind::Str(_)
            ) {
                return self.err(
                    c.span.start,
                    format!("non executable command in pipeline stage {}", n + 1),
                );
            }
        }
        Ok(Pipe {
            span,
            is_assign,
            decl,
            cmds,
        })
    }

    fn command(&mut self) -> PResult<Cmd> {
        let start = self.peek().start;
        let mut args = Vec::new();
        loop {
            let got = match self.operand()? {
                Some(a) => {
                    args.push(a);
                    true
                }
                None => false,
            };
            let t = self.peek().clone();
            match t.kind {
                Tok::RightDelim | Tok::RightParen => break,
                Tok::Pipe => {
                    self.next();
                    break;
                }
                _ if got && t.space_before => continue,
                _ => return self.unexpected(&t, "operand"),
            }
        }
        if args.is_empty() {
            return self.err(start, "empty command");
        }
        let end = args.last().map_or(start, |a| a.span.end);
        Ok(Cmd {
            span: Span { start, end },
            args,
        })
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(term) = self.term()? else {
            return Ok(None);
        };
        let mut fields = Vec::new();
        let mut end = term.span.end;
        while self.peek().kind == Tok::Field && !self.peek().space_before {
            let f = self.next();
            fields.push(Arc::from(&self.src[f.start + 1..f.end]));
            end = f.end;
        }
        if fields.is_empty() {
            return Ok(Some(term));
        }
        let span = Span {
            start: term.span.start,
            end,
        };
        let kind = match term.kind {
            ArgKind::Field(mut f) => {
                f.extend(fields);
                ArgKind::Field(f)
            }
            ArgKind::Var(v, mut f) => {
                f.extend(fields);
                ArgKind::Var(v, f)
            }
            ArgKind::Bool(_)
            | ArgKind::Str(_)
            | ArgKind::Int(_)
            | ArgKind::Float(_)
            | ArgKind::Nil
            | ArgKind::Dot => {
                let text = &self.src[term.span.start..term.span.end];
                return self.err(term.span.end, format!("unexpected . after term {text:?}"));
            }
            _ => ArgKind::Chain(Box::new(term), fields),
        };
        Ok(Some(Arg { span, kind }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let t = self.peek().clone();
        let text = &self.src[t.start..t.end];
        let kind = match &t.kind {
            Tok::Ident => match funcs::lookup(self.flavor, text) {
                Some(f) => ArgKind::Func(f),
                None => return self.err(t.start, format!("function {text:?} not defined")),
            },
            Tok::Dot => ArgKind::Dot,
            Tok::Nil => ArgKind::Nil,
            Tok::Variable => ArgKind::Var(self.use_var(&t)?, Vec::new()),
            Tok::Field => ArgKind::Field(vec![Arc::from(&text[1..])]),
            Tok::Bool(b) => ArgKind::Bool(*b),
            Tok::CharConst(c) => ArgKind::Int(*c),
            Tok::Number => number(text).map_err(|m| SyntaxError {
                pos: t.start,
                message: m,
            })?,
            Tok::Str(s) => ArgKind::Str(Arc::from(s.as_str())),
            Tok::LeftParen => {
                self.next();
                self.enter(t.start)?;
                let pipe = self.pipeline("parenthesized pipeline", Tok::RightParen)?;
                self.nesting -= 1;
                let span = Span {
                    start: t.start,
                    end: self.toks[self.i - 1].end,
                };
                return Ok(Some(Arg {
                    span,
                    kind: ArgKind::Pipe(Box::new(pipe)),
                }));
            }
            _ => return Ok(None),
        };
        self.next();
        Ok(Some(Arg {
            span: Span {
                start: t.start,
                end: t.end,
            },
            kind,
        }))
    }
}

/// Go's ideal constants: integer syntax gives an `int`, anything with a
/// fraction or exponent a `float64`.
fn number(text: &str) -> Result<ArgKind, String> {
    let illegal = || format!("illegal number syntax: {text:?}");
    let t = text.replace('_', "");
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, &t[..]),
    };
    let lower = body.to_ascii_lowercase();
    if lower.ends_with('i') || lower.is_empty() {
        return Err(illegal());
    }
    let (radix, digits) = if let Some(h) = lower.strip_prefix("0x") {
        (16, h)
    } else if let Some(o) = lower.strip_prefix("0o") {
        (8, o)
    } else if let Some(b) = lower.strip_prefix("0b") {
        (2, b)
    } else if lower.contains(['.', 'e']) {
        let f: f64 = lower.parse().map_err(|_| illegal())?;
        return Ok(ArgKind::Float(if neg { -f } else { f }));
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, &lower[..])
    };
    if digits.contains(['.', 'p']) {
        return Err(illegal());
    }
    let u = u64::from_str_radix(digits, radix).map_err(|e| match e.kind() {
        std::num::IntErrorKind::PosOverflow => format!("{text} overflows int"),
        _ => illegal(),
    })?;
    let v = if neg { 0i128 - u as i128 } else { u as i128 };
    i64::try_from(v)
        .map(ArgKind::Int)
        .map_err(|_| format!("{text} overflows int"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_go() {
        assert!(matches!(number("42"), Ok(ArgKind::Int(42))));
        assert!(matches!(number("-0x1F"), Ok(ArgKind::Int(-31))));
        assert!(matches!(number("017"), Ok(ArgKind::Int(15))));
        assert!(matches!(number("1_000"), Ok(ArgKind::Int(1000))));
        assert!(matches!(number("1.5e3"), Ok(ArgKind::Float(f)) if f == 1500.0));
        assert!(matches!(number(".5"), Ok(ArgKind::Float(f)) if f == 0.5));
        assert_eq!(
            number("99999999999999999999").unwrap_err(),
            "99999999999999999999 overflows int"
        );
        assert!(number("-").is_err());
        assert!(number("1i").is_err());
    }
}
