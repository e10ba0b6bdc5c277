//! The evaluator: walks the parse tree as Go's `text/template/exec.go` does,
//! with `missingkey=zero` semantics (Prometheus' and Alertmanager's choice).
//!
//! Invariant: every node, command and loop iteration costs a step, results
//! are charged by size, and nesting is counted, so execution is bounded by
//! [`Limits`] whatever the template and data.

use std::sync::Arc;

use super::ast::{Arg, ArgKind, Branch, Cmd, Node, Pipe, Span};
use super::data::{Data, RULE_PRELUDE};
use super::funcs::{check_arity, html_escape, CallCtx, Flavor, Func, RegexCache};
use super::gofmt::MAX_RENDER;
use super::methods;
use super::value::{TValue, SHORT};
use super::{LimitExceeded, Limits, Source, Template, TemplateError};

type EResult<T> = Result<T, TemplateError>;

/// How a list walk ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    Normal,
    Break,
    Continue,
}

/// Executes `t` (or its definition `entry`) against `data`.
pub(crate) fn run(t: &Template, entry: Option<&str>, data: &Data<'_>) -> EResult<String> {
    let dot = data.dot.clone();
    let mut limits = t.limits;
    limits.max_output_bytes = limits.max_output_bytes.min(MAX_RENDER);
    let mut ex = Exec {
        t,
        data,
        limits,
        out: String::new(),
        vars: vec![(Arc::from("$"), dot.clone())],
        steps: 0,
        depth: 0,
        src: &t.src,
        executing: t.name.clone(),
        regexes: RegexCache::default(),
    };
    let body: &[Node] = match entry {
        None => {
            if t.flavor == Flavor::Rule {
                for (var, field) in RULE_PRELUDE {
                    let v = match &dot {
                        TValue::Record(r) => r.get(field).cloned().unwrap_or_default(),
                        _ => TValue::Null,
                    };
                    ex.vars.push((Arc::from(var), v));
                }
            }
            &t.main
        }
        Some(name) => match t.defs.get(name) {
            Some(def) => {
                ex.src = &def.src;
                ex.executing = Arc::from(name);
                &def.body
            }
            None => {
                return Err(TemplateError::Exec {
                    template: t.name.to_string(),
                    executing: name.to_string(),
                    line: 1,
                    column: 1,
                    context: String::new(),
                    message: format!(
                        "no template {name:?} associated with template {:?}",
                        &*t.name
                    ),
                })
            }
        },
    };
    ex.walk_list(&dot, body)?;
    Ok(ex.out)
}

struct Exec<'t, 'd> {
    t: &'t Template,
    data: &'t Data<'d>,
    limits: Limits,
    out: String,
    vars: Vec<(Arc<str>, TValue)>,
    steps: u64,
    depth: usize,
    src: &'t Source,
    executing: Arc<str>,
    regexes: RegexCache,
}

impl<'t> Exec<'t, '_> {
    fn fail(&self, span: Span, message: impl Into<String>) -> TemplateError {
        let (line, column) = self.src.line_col(span.start);
        let mut context: String = self
            .src
            .text
            .get(span.start..span.end)
            .unwrap_or("")
            .trim()
            .to_string();
        if context.chars().count() > 80 {
            context = context.chars().take(77).collect::<String>() + "...";
        }
        TemplateError::Exec {
            template: self.src.name.to_string(),
            executing: self.executing.to_string(),
            line,
            column,
            context,
            message: message.into(),
        }
    }

    fn limit(&self, limit: LimitExceeded) -> TemplateError {
        TemplateError::Limit {
            template: self.t.name.to_string(),
            limit,
        }
    }

    fn step(&mut self, n: u64) -> EResult<()> {
        self.steps = self.steps.saturating_add(n);
        if self.steps > self.limits.max_steps {
            return Err(self.limit(LimitExceeded::Steps(self.limits.max_steps)));
        }
        Ok(())
    }

    /// Charges a produced value by size; rejects strings over the output limit.
    fn charge(&mut self, v: &TValue) -> EResult<()> {
        let cost = match v {
            TValue::Str(s) | TValue::Html(s) => {
                if s.len() > self.limits.max_output_bytes {
                    return Err(self.limit(LimitExceeded::Output(self.limits.max_output_bytes)));
                }
                s.len() / 256
            }
            TValue::List(l) => l.items.len() / 8,
            TValue::Map(m) => m.entries.len() / 8,
            _ => 0,
        };
        self.step(cost as u64)
    }

    fn enter(&mut self) -> EResult<()> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return Err(self.limit(LimitExceeded::Depth(self.limits.max_depth)));
        }
        Ok(())
    }

    fn write(&mut self, s: &str) -> EResult<()> {
        if self.out.len() + s.len() > self.limits.max_output_bytes {
            return Err(self.limit(LimitExceeded::Output(self.limits.max_output_bytes)));
        }
        self.out.push_str(s);
        Ok(())
    }

    fn print_value(&mut self, v: &TValue) -> EResult<()> {
        let html = self.t.escape_html;
        match v {
            TValue::Null if html => Ok(()),
            TValue::Null => self.write("<no value>"),
            TValue::Html(s) => self.write(s),
            TValue::Str(s) if !html => self.write(s),
            v => {
                let room = self.limits.max_output_bytes.saturating_sub(self.out.len());
                let s = v.to_go_string_capped(room);
                if html {
                    self.write(&html_escape(&s, true))
                } else {
                    self.write(&s)
                }
            }
        }
    }

    fn lookup_var(&self, name: &str, span: Span) -> EResult<TValue> {
        match self.vars.iter().rev().find(|(n, _)| &**n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => Err(self.fail(span, format!("undefined variable: {name}"))),
        }
    }

    fn set_var(&mut self, name: &str, v: TValue, span: Span) -> EResult<()> {
        match self.vars.iter_mut().rev().find(|(n, _)| &**n == name) {
            Some(slot) => {
                slot.1 = v;
                Ok(())
            }
            None => Err(self.fail(span, format!("undefined variable: {name}"))),
        }
    }

    fn walk_list(&mut self, dot: &TValue, list: &'t [Node]) -> EResult<Flow> {
        for node in list {
            let flow = self.walk(dot, node)?;
            if flow != Flow::Normal {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn walk(&mut self, dot: &TValue, node: &'t Node) -> EResult<Flow> {
        self.step(1)?;
        match node {
            Node::Text(t) => self.write(t)?,
            Node::Action(p) => {
                let v = self.eval_pipeline(dot, p)?;
                if p.decl.is_empty() {
                    self.print_value(&v)?;
                }
            }
            Node::If(b) => return self.walk_if_with(dot, b, false),
            Node::With(b) => return self.walk_if_with(dot, b, true),
            Node::Range(b) => return self.walk_range(dot, b),
            Node::Template { span, name, pipe } => {
                self.call_template(dot, *span, name, pipe.as_ref())?
            }
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn walk_if_with(&mut self, dot: &TValue, b: &'t Branch, is_with: bool) -> EResult<Flow> {
        self.enter()?;
        let mark = self.vars.len();
        let v = self.eval_pipeline(dot, &b.pipe)?;
        let flow = if v.is_true() {
            self.walk_list(if is_with { &v } else { dot }, &b.list)?
        } else if let Some(e) = &b.else_list {
            self.walk_list(dot, e)?
        } else {
            Flow::Normal
        };
        self.vars.truncate(mark);
        self.depth -= 1;
        Ok(flow)
    }

    fn walk_range(&mut self, dot: &TValue, b: &'t Branch) -> EResult<Flow> {
        self.enter()?;
        let mark = self.vars.len();
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let mut iterated = false;
        match &val {
            TValue::List(l) => {
                for (i, e) in l.items.iter().enumerate() {
                    iterated = true;
                    if self.iteration(b, TValue::Int(i as i64), e)? {
                        break;
                    }
                }
            }
            TValue::Map(m) => {
                for (k, e) in m.entries.iter() {
                    iterated = true;
                    if self.iteration(b, TValue::Str(k.clone()), e)? {
                        break;
                    }
                }
            }
            TValue::Int(n) => {
                if b.pipe.decl.len() > 1 {
                    let msg = format!("can't use {n} to iterate over more than one variable");
                    return Err(self.fail(b.pipe.span, msg));
                }
                for i in 0..*n {
                    iterated = true;
                    if self.iteration(b, TValue::Int(i), &TValue::Int(i))? {
                        break;
                    }
                }
            }
            TValue::Null => {}
            v => {
                let msg = format!("range can't iterate over {}", v.to_go_string_capped(SHORT));
                return Err(self.fail(b.pipe.span, msg));
            }
        }
        let mut flow = Flow::Normal;
        if !iterated {
            if let Some(e) = &b.else_list {
                flow = self.walk_list(dot, e)?;
            }
        }
        self.vars.truncate(mark);
        self.depth -= 1;
        Ok(flow)
    }

    /// One range iteration; returns whether `{{break}}` ended the loop.
    fn iteration(&mut self, b: &'t Branch, index: TValue, elem: &TValue) -> EResult<bool> {
        self.step(1)?;
        let span = b.pipe.span;
        match b.pipe.decl.as_slice() {
            [v] => self.set_var(v, elem.clone(), span)?,
            [k, v] => {
                self.set_var(k, index, span)?;
                self.set_var(v, elem.clone(), span)?;
            }
            _ => {}
        }
        let mark = self.vars.len();
        let flow = self.walk_list(elem, &b.list)?;
        self.vars.truncate(mark);
        Ok(flow == Flow::Break)
    }

    fn call_template(
        &mut self,
        dot: &TValue,
        span: Span,
        name: &Arc<str>,
        pipe: Option<&'t Pipe>,
    ) -> EResult<()> {
        let t = self.t;
        let (body, src): (&'t [Node], &'t Source) = match t.defs.get(name) {
            Some(def) => (&def.body, &def.src),
            None if *name == t.name => (&t.main, &t.src),
            None => return Err(self.fail(span, format!("no such template {:?}", &**name))),
        };
        let new_dot = match pipe {
            Some(p) => self.eval_pipeline(dot, p)?,
            None => TValue::Null,
        };
        self.enter()?;
        let vars = std::mem::replace(&mut self.vars, vec![(Arc::from("$"), new_dot.clone())]);
        let saved_src = std::mem::replace(&mut self.src, src);
        let executing = std::mem::replace(&mut self.executing, name.clone());
        self.walk_list(&new_dot, body)?;
        self.vars = vars;
        self.src = saved_src;
        self.executing = executing;
        self.depth -= 1;
        Ok(())
    }

    fn eval_pipeline(&mut self, dot: &TValue, p: &'t Pipe) -> EResult<TValue> {
        let mut val = None;
        for cmd in &p.cmds {
            val = Some(self.eval_command(dot, cmd, val)?);
        }
        let v = val.unwrap_or_default();
        for name in &p.decl {
            if p.is_assign {
                self.set_var(name, v.clone(), p.span)?;
            } else {
                self.vars.push((name.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn not_a_function(&self, cmd: &Cmd, last: &Option<TValue>) -> EResult<()> {
        if cmd.args.len() > 1 || last.is_some() {
            let first = cmd.args[0].span;
            let text = self.src.text.get(first.start..first.end).unwrap_or("");
            return Err(self.fail(first, format!("can't give argument to non-function {text}")));
        }
        Ok(())
    }

    fn eval_command(
        &mut self,
        dot: &TValue,
        cmd: &'t Cmd,
        last: Option<TValue>,
    ) -> EResult<TValue> {
        self.step(1)?;
        let first = &cmd.args[0];
        let rest = &cmd.args[1..];
        match &first.kind {
            ArgKind::Field(fields) => {
                self.eval_fields(dot, dot.clone(), first.span, fields, rest, last)
            }
            ArgKind::Chain(inner, fields) => {
                if matches!(inner.kind, ArgKind::Nil) {
                    return Err(self.fail(first.span, "indirection through explicit nil"));
                }
                let recv = self.eval_arg(dot, inner)?;
                self.eval_fields(dot, recv, first.span, fields, rest, last)
            }
            ArgKind::Var(name, fields) => {
                let v = self.lookup_var(name, first.span)?;
                if fields.is_empty() {
                    self.not_a_function(cmd, &last)?;
                    return Ok(v);
                }
                self.eval_fields(dot, v, first.span, fields, rest, last)
            }
            ArgKind::Func(f) => self.eval_function(dot, *f, cmd.span, rest, last),
            ArgKind::Nil => Err(self.fail(first.span, "nil is not a command")),
            _ => {
                self.not_a_function(cmd, &last)?;
                self.eval_arg(dot, first)
            }
        }
    }

    fn eval_arg(&mut self, dot: &TValue, arg: &'t Arg) -> EResult<TValue> {
        Ok(match &arg.kind {
            ArgKind::Dot => dot.clone(),
            ArgKind::Nil => TValue::Null,
            ArgKind::Bool(b) => TValue::Bool(*b),
            ArgKind::Int(i) => TValue::Int(*i),
            ArgKind::Float(f) => TValue::Float(*f),
            ArgKind::Str(s) => TValue::Str(s.clone()),
            ArgKind::Field(fields) => {
                self.eval_fields(dot, dot.clone(), arg.span, fields, &[], None)?
            }
            ArgKind::Var(name, fields) => {
                let v = self.lookup_var(name, arg.span)?;
                if fields.is_empty() {
                    v
                } else {
                    self.eval_fields(dot, v, arg.span, fields, &[], None)?
                }
            }
            ArgKind::Func(f) => self.eval_function(dot, *f, arg.span, &[], None)?,
            ArgKind::Chain(inner, fields) => {
                let recv = self.eval_arg(dot, inner)?;
                self.eval_fields(dot, recv, arg.span, fields, &[], None)?
            }
            ArgKind::Pipe(p) => self.eval_pipeline(dot, p)?,
        })
    }

    /// `recv.F1.F2...`; the last element receives `args` and `last`.
    fn eval_fields(
        &mut self,
        dot: &TValue,
        mut recv: TValue,
        span: Span,
        fields: &[Arc<str>],
        args: &'t [Arg],
        last: Option<TValue>,
    ) -> EResult<TValue> {
        let Some((final_field, path)) = fields.split_last() else {
            return Ok(recv);
        };
        for f in path {
            recv = self.eval_field(dot, recv, f, span, &[], None)?;
        }
        self.eval_field(dot, recv, final_field, span, args, last)
    }

    fn eval_field(
        &mut self,
        dot: &TValue,
        recv: TValue,
        name: &str,
        span: Span,
        args: &'t [Arg],
        last: Option<TValue>,
    ) -> EResult<TValue> {
        if matches!(recv, TValue::Null) {
            return Ok(TValue::Null);
        }
        let has_args = !args.is_empty() || last.is_some();
        let mut vals = Vec::with_capacity(args.len() + 1);
        for a in args {
            vals.push(self.eval_arg(dot, a)?);
        }
        vals.extend(last);
        if let Some(result) = methods::call(&recv, name, &vals) {
            let v = result.map_err(|m| self.fail(span, m))?;
            self.charge(&v)?;
            return Ok(v);
        }
        match &recv {
            TValue::Record(r) => match r.get(name) {
                Some(_) if has_args => Err(self.fail(
                    span,
                    format!("{name} has arguments but cannot be invoked as function"),
                )),
                Some(v) => Ok(v.clone()),
                None => Err(self.fail(
                    span,
                    format!("can't evaluate field {name} in type {}", r.type_name),
                )),
            },
            TValue::Map(_) if has_args => {
                Err(self.fail(span, format!("{name} is not a method but has arguments")))
            }
            TValue::Map(m) => Ok(match m.entries.get(name) {
                Some(v) => v.clone(),
                None if m.kind == super::MapKind::Any => TValue::Null,
                None => TValue::str(""),
            }),
            v => Err(self.fail(
                span,
                format!("can't evaluate field {name} in type {}", v.type_name()),
            )),
        }
    }

    fn eval_function(
        &mut self,
        dot: &TValue,
        f: Func,
        span: Span,
        args: &'t [Arg],
        last: Option<TValue>,
    ) -> EResult<TValue> {
        let native = match f {
            Func::And | Func::Or => {
                let is_and = matches!(f, Func::And);
                if args.is_empty() && last.is_none() {
                    let name = if is_and { "and" } else { "or" };
                    return Err(self.fail(
                        span,
                        format!("wrong number of args for {name}: want at least 1 got 0"),
                    ));
                }
                let mut v = TValue::Null;
                for a in args {
                    v = self.eval_arg(dot, a)?;
                    if v.is_true() != is_and {
                        return Ok(v);
                    }
                }
                return Ok(last.unwrap_or(v));
            }
            Func::Native(n) => n,
        };
        let mut vals = Vec::with_capacity(args.len() + 1);
        for a in args {
            vals.push(self.eval_arg(dot, a)?);
        }
        vals.extend(last);
        check_arity(native, vals.len()).map_err(|m| self.fail(span, m))?;
        let mut ctx = CallCtx {
            data: self.data,
            regexes: &mut self.regexes,
            max_string: self.limits.max_output_bytes,
        };
        let result = (native.f)(&mut ctx, &vals);
        let v =
            result.map_err(|m| self.fail(span, format!("error calling {}: {m}", native.name)))?;
        self.charge(&v)?;
        Ok(v)
    }
}
