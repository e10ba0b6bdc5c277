//! The function registry: Go's builtins (`and`, `len`, `printf`, `eq`, ...)
//! plus the functions of each [`Flavor`] — Prometheus' for rule templates,
//! Alertmanager's for notification templates. Unknown names are rejected at
//! parse time.

use std::collections::HashMap;
use std::fmt;

use regex::{Regex, RegexBuilder};

use super::data::Data;
use super::gofmt::{sprint, sprintf, sprintln};
use super::value::{go_eq, go_le, go_lt, ListKind, MapKind, TValue};
use super::{am_funcs, prom_funcs};

/// Which function set (and prelude) a template uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Flavor {
    /// Prometheus alert rule labels/annotations: Prometheus' functions and the
    /// `$labels`, `$value`, ... variables.
    #[default]
    Rule,
    /// Alertmanager-style notification templates: Alertmanager's functions.
    Notification,
}

/// A function implementation: receives the evaluated arguments.
pub(crate) type NativeFn = fn(&mut CallCtx<'_>, &[TValue]) -> Result<TValue, String>;

/// A registered function with its arity.
pub(crate) struct Native {
    pub name: &'static str,
    pub min: usize,
    /// `None` for variadic functions.
    pub max: Option<usize>,
    pub f: NativeFn,
}

/// A function reference in the parse tree.
#[derive(Clone, Copy)]
pub(crate) enum Func {
    /// `and`, evaluated lazily.
    And,
    /// `or`, evaluated lazily.
    Or,
    Native(&'static Native),
}

impl fmt::Debug for Func {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Func::And => f.write_str("and"),
            Func::Or => f.write_str("or"),
            Func::Native(n) => f.write_str(n.name),
        }
    }
}

/// What functions may use during a call.
pub(crate) struct CallCtx<'a> {
    pub data: &'a Data<'a>,
    pub regexes: &'a mut RegexCache,
    /// The largest string a function may produce; rendering stops past it.
    pub max_string: usize,
}

/// Compiled regexes of one execution, so `reReplaceAll` in a `range` compiles
/// its pattern once.
#[derive(Default)]
pub(crate) struct RegexCache(HashMap<String, Result<Regex, String>>);

impl RegexCache {
    const MAX_ENTRIES: usize = 64;

    /// The compiled `pattern`, or Go's style of compile error.
    pub fn get(&mut self, pattern: &str) -> Result<&Regex, String> {
        if !self.0.contains_key(pattern) {
            if self.0.len() >= Self::MAX_ENTRIES {
                self.0.clear();
            }
            let compiled = RegexBuilder::new(pattern)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| format!("error parsing regexp {pattern:?}: {e}"));
            self.0.insert(pattern.to_string(), compiled);
        }
        match self.0.get(pattern) {
            Some(Ok(re)) => Ok(re),
            Some(Err(e)) => Err(e.clone()),
            None => Err("regexp cache failure".to_string()),
        }
    }
}

/// Looks up a function by name for a flavor.
pub(crate) fn lookup(flavor: Flavor, name: &str) -> Option<Func> {
    match name {
        "and" => return Some(Func::And),
        "or" => return Some(Func::Or),
        _ => {}
    }
    let flavored = match flavor {
        Flavor::Rule => prom_funcs::FUNCS,
        Flavor::Notification => am_funcs::FUNCS,
    };
    flavored
        .iter()
        .chain(BUILTINS)
        .find(|n| n.name == name)
        .map(Func::Native)
}

/// Checks a call's argument count as Go's `evalCall` does.
pub(crate) fn check_arity(n: &Native, got: usize) -> Result<(), String> {
    match n.max {
        Some(max) if got < n.min || got > max => Err(format!(
            "wrong number of args for {}: want {} got {got}",
            n.name, n.min
        )),
        None if got < n.min => Err(format!(
            "wrong number of args for {}: want at least {} got {got}",
            n.name, n.min
        )),
        _ => Ok(()),
    }
}

/// The string in argument `i`, or Go's type error.
pub(crate) fn arg_str(args: &[TValue], i: usize) -> Result<&str, String> {
    match args.get(i) {
        Some(v) => v.as_str().ok_or_else(|| wrong_type("string", v)),
        None => Err("missing argument".to_string()),
    }
}

/// Go's message for an argument of the wrong type.
pub(crate) fn wrong_type(want: &str, got: &TValue) -> String {
    match got {
        TValue::Null => format!("invalid value; expected {want}"),
        _ => format!(
            "wrong type for value; expected {want}; got {}",
            got.type_name()
        ),
    }
}

pub(crate) const fn native(
    name: &'static str,
    min: usize,
    max: Option<usize>,
    f: NativeFn,
) -> Native {
    Native { name, min, max, f }
}

static BUILTINS: &[Native] = &[
    native("not", 1, Some(1), |_, a| Ok(TValue::Bool(!a[0].is_true()))),
    native("len", 1, Some(1), builtin_len),
    native("index", 1, None, builtin_index),
    native("slice", 1, None, builtin_slice),
    native("print", 0, None, |c, a| {
        Ok(TValue::from(sprint(a, c.max_string)))
    }),
    native("println", 0, None, |c, a| {
        Ok(TValue::from(sprintln(a, c.max_string)))
    }),
    native("printf", 1, None, |c, a| {
        Ok(TValue::from(sprintf(arg_str(a, 0)?, &a[1..], c.max_string)))
    }),
    native("html", 0, None, |c, a| {
        Ok(TValue::from(html_escape(
            &eval_args(a, c.max_string),
            false,
        )))
    }),
    native("js", 0, None, |c, a| {
        Ok(TValue::from(js_escape(&eval_args(a, c.max_string))))
    }),
    native("urlquery", 0, None, |c, a| {
        Ok(TValue::from(query_escape(&eval_args(a, c.max_string))))
    }),
    native("eq", 1, None, builtin_eq),
    native("ne", 2, Some(2), |_, a| {
        Ok(TValue::Bool(!go_eq(&a[0], &a[1])?))
    }),
    native("lt", 2, Some(2), |_, a| {
        Ok(TValue::Bool(go_lt(&a[0], &a[1])?))
    }),
    native("le", 2, Some(2), |_, a| {
        Ok(TValue::Bool(go_le(&a[0], &a[1])?))
    }),
    native("gt", 2, Some(2), |_, a| {
        Ok(TValue::Bool(!go_le(&a[0], &a[1])?))
    }),
    native("ge", 2, Some(2), |_, a| {
        Ok(TValue::Bool(!go_lt(&a[0], &a[1])?))
    }),
];

fn builtin_eq(_: &mut CallCtx<'_>, a: &[TValue]) -> Result<TValue, String> {
    if a.len() < 2 {
        return Err("missing argument for comparison".to_string());
    }
    for b in &a[1..] {
        if go_eq(&a[0], b)? {
            return Ok(TValue::Bool(true));
        }
    }
    Ok(TValue::Bool(false))
}

fn builtin_len(_: &mut CallCtx<'_>, a: &[TValue]) -> Result<TValue, String> {
    let n = match &a[0] {
        TValue::Str(s) | TValue::Html(s) => s.len(),
        TValue::List(l) => l.items.len(),
        TValue::Map(m) => m.entries.len(),
        TValue::Null => return Err("len of nil pointer".to_string()),
        v => return Err(format!("len of type {}", v.type_name())),
    };
    Ok(TValue::Int(n as i64))
}

fn index_int(v: &TValue) -> Result<i64, String> {
    match v {
        TValue::Int(i) => Ok(*i),
        TValue::Null => Err("cannot index slice/array with nil".to_string()),
        v => Err(format!(
            "cannot index slice/array with type {}",
            v.type_name()
        )),
    }
}

fn builtin_index(_: &mut CallCtx<'_>, a: &[TValue]) -> Result<TValue, String> {
    let mut item = a[0].clone();
    for key in &a[1..] {
        item = match &item {
            TValue::List(l) => {
                let i = index_int(key)?;
                match usize::try_from(i).ok().and_then(|i| l.items.get(i)) {
                    Some(v) => v.clone(),
                    None => return Err(format!("index out of range: {i}")),
                }
            }
            TValue::Str(s) | TValue::Html(s) => {
                let i = index_int(key)?;
                match usize::try_from(i).ok().and_then(|i| s.as_bytes().get(i)) {
                    Some(b) => TValue::Int(*b as i64),
                    None => return Err(format!("index out of range: {i}")),
                }
            }
            TValue::Map(m) => {
                let k = key.as_str().ok_or_else(|| {
                    format!("value has type {}; should be string", key.type_name())
                })?;
                match m.entries.get(k) {
                    Some(v) => v.clone(),
                    None if m.kind == MapKind::Any => TValue::Null,
                    None => TValue::str(""),
                }
            }
            TValue::Null => return Err("index of untyped nil".to_string()),
            v => return Err(format!("can't index item of type {}", v.type_name())),
        };
    }
    Ok(item)
}

fn builtin_slice(_: &mut CallCtx<'_>, a: &[TValue]) -> Result<TValue, String> {
    if a.len() > 4 {
        return Err(format!("too many slice indexes: {}", a.len() - 1));
    }
    let len = match &a[0] {
        TValue::Str(s) => s.len(),
        TValue::List(l) => l.items.len(),
        TValue::Null => return Err("slice of untyped nil".to_string()),
        v => return Err(format!("can't slice item of type {}", v.type_name())),
    };
    if a.len() == 4 && matches!(a[0], TValue::Str(_)) {
        return Err("cannot 3-index slice a string".to_string());
    }
    let mut idx = [0usize, len, len];
    for (n, v) in a[1..].iter().enumerate() {
        let i = index_int(v)?;
        idx[n] = usize::try_from(i).map_err(|_| format!("index out of range: {i}"))?;
    }
    let (lo, hi) = (idx[0], idx[1]);
    if lo > hi || hi > len || (a.len() == 4 && (idx[2] < hi || idx[2] > len)) {
        return Err(format!("invalid slice index: {lo} > {hi}"));
    }
    match &a[0] {
        TValue::Str(s) => s
            .get(lo..hi)
            .map(TValue::str)
            .ok_or_else(|| "slice does not fall on a character boundary".to_string()),
        TValue::List(l) => Ok(TValue::list(l.kind, l.items[lo..hi].to_vec())),
        _ => Err("can't slice".to_string()),
    }
}

/// Go's `evalArgs` for `html`, `js`, `urlquery`: a lone string as is,
/// anything else through `fmt.Sprint`.
fn eval_args(a: &[TValue], cap: usize) -> String {
    match a {
        [v] if v.as_str().is_some() => v.as_str().unwrap_or_default().to_string(),
        _ => sprint(a, cap),
    }
}

/// HTML escaping: `text/template`'s `html` function, or with
/// `html_template` set, `html/template`'s escaper (which also escapes `+`).
pub(crate) fn html_escape(s: &str, html_template: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{FFFD}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '+' if html_template => out.push_str("&#43;"),
            c => out.push(c),
        }
    }
    out
}

fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 || c.is_control() => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A list of strings from a list value, or Go's type error.
pub(crate) fn string_list(v: &TValue) -> Result<Vec<String>, String> {
    match v {
        TValue::List(l) => l
            .items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| wrong_type("[]string", v))
            })
            .collect(),
        v => Err(wrong_type("[]string", v)),
    }
}

/// A list value of strings.
pub(crate) fn strings_value(items: Vec<String>) -> TValue {
    TValue::list(
        ListKind::Strings,
        items.into_iter().map(TValue::from).collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: &[TValue]) -> Result<TValue, String> {
        let Some(Func::Native(n)) = lookup(Flavor::Rule, name) else {
            panic!("no {name}")
        };
        check_arity(n, args.len())?;
        let data = Data::new(TValue::Null);
        let mut regexes = RegexCache::default();
        (n.f)(
            &mut CallCtx {
                data: &data,
                regexes: &mut regexes,
                max_string: 1 << 20,
            },
            args,
        )
    }

    #[test]
    fn builtins_follow_go() {
        let l = TValue::list(
            ListKind::Any,
            vec![TValue::Int(1), TValue::Int(2), TValue::Int(3)],
        );
        assert_eq!(
            call("len", std::slice::from_ref(&l))
                .unwrap()
                .to_go_string(),
            "3"
        );
        assert_eq!(
            call("len", &[TValue::str("héllo")]).unwrap().to_go_string(),
            "6"
        );
        assert_eq!(
            call("index", &[l.clone(), TValue::Int(1)])
                .unwrap()
                .to_go_string(),
            "2"
        );
        assert_eq!(
            call("index", &[l.clone(), TValue::Int(5)]).unwrap_err(),
            "index out of range: 5"
        );
        assert_eq!(
            call("slice", &[l.clone(), TValue::Int(1)])
                .unwrap()
                .to_go_string(),
            "[2 3]"
        );
        assert_eq!(
            call(
                "slice",
                &[TValue::str("hello"), TValue::Int(1), TValue::Int(3)]
            )
            .unwrap()
            .to_go_string(),
            "el"
        );
        assert_eq!(
            call("eq", &[TValue::Int(2), TValue::Int(1), TValue::Int(2)])
                .unwrap()
                .to_go_string(),
            "true"
        );
        assert_eq!(
            call("gt", &[TValue::Float(f64::NAN), TValue::Float(1.0)])
                .unwrap()
                .to_go_string(),
            "true"
        );
        assert_eq!(
            call("lt", &[TValue::Int(1), TValue::Float(2.0)]).unwrap_err(),
            "incompatible types for comparison"
        );
        assert_eq!(
            call("html", &[TValue::str("<a href='x'>&\"")])
                .unwrap()
                .to_go_string(),
            "&lt;a href=&#39;x&#39;&gt;&amp;&#34;"
        );
        assert_eq!(
            call("urlquery", &[TValue::str("a b&c/é")])
                .unwrap()
                .to_go_string(),
            "a+b%26c%2F%C3%A9"
        );
        assert_eq!(
            call("js", &[TValue::str("a'b<")]).unwrap().to_go_string(),
            "a\\'b\\u003C"
        );
        assert_eq!(
            call("not", &[TValue::str("")]).unwrap().to_go_string(),
            "true"
        );
        assert_eq!(
            call("len", &[]).unwrap_err(),
            "wrong number of args for len: want 1 got 0"
        );
        assert_eq!(
            call("printf", &[]).unwrap_err(),
            "wrong number of args for printf: want at least 1 got 0"
        );
        assert_eq!(
            call("len", &[TValue::Int(3)]).unwrap_err(),
            "len of type int"
        );
        assert_eq!(
            call("print", &[TValue::Int(1), TValue::Int(2)])
                .unwrap()
                .to_go_string(),
            "1 2"
        );
    }

    #[test]
    fn lookup_respects_flavor() {
        assert!(lookup(Flavor::Rule, "humanize").is_some());
        assert!(lookup(Flavor::Rule, "query").is_some());
        assert!(lookup(Flavor::Notification, "query").is_none());
        assert!(lookup(Flavor::Notification, "trimSpace").is_some());
        assert!(lookup(Flavor::Rule, "trimSpace").is_none());
        assert!(lookup(Flavor::Rule, "and").is_some());
        assert!(lookup(Flavor::Rule, "nope").is_none());
    }

    #[test]
    fn regex_cache_reports_compile_errors() {
        let mut c = RegexCache::default();
        assert!(c.get("a+").unwrap().is_match("caa"));
        assert!(c
            .get("(")
            .unwrap_err()
            .starts_with("error parsing regexp \"(\""));
    }
}
