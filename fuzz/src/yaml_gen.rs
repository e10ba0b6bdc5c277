//! A YAML grammar for `arbitrary`, and configuration and rule file
//! documents built from it: realistic skeletons (the shapes of
//! `examples/watchfire.yml` and `rules/*.yml`) whose values are generated
//! trees. [`Yaml::Deep`] nests flow and block collections and Alertmanager
//! `routes:` up to [`MAX_REPEAT`] levels, [`Yaml::Long`] makes long
//! sequences and mappings, [`Yaml::Laughs`] builds anchor/alias expansion
//! ("billion laughs"), [`Yaml::Huge`] long scalars; rule files carry
//! generated PromQL and templates.

use crate::{promql_gen, template_gen};
use arbitrary::Arbitrary;
use std::fmt::Write;

/// Most repetitions of one nesting or list.
pub const MAX_REPEAT: u16 = 12_000;

/// Rendering stops growing the text at about this size.
pub const MAX_TEXT: usize = 1 << 20;

/// A YAML value.
#[derive(Arbitrary, Debug, Clone)]
pub enum Yaml {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A plain scalar from a vocabulary of keys, durations, targets, matchers.
    Word(Word),
    /// The same, double-quoted.
    Quoted(Word),
    FlowSeq(Vec<Yaml>),
    FlowMap(Vec<(Word, Yaml)>),
    BlockSeq(Vec<Yaml>),
    BlockMap(Vec<(Word, Yaml)>),
    /// `&aN value`.
    Anchor(u8, Box<Yaml>),
    /// `*aN`.
    Alias(u8),
    /// A `!!tag`ged value.
    Tagged(u8, Box<Yaml>),
    /// A scalar of `len * 64` copies of a character (capped at [`MAX_TEXT`]).
    Huge(u8, u16),
    /// A nesting repeated `n % (MAX_REPEAT + 1)` times around a value.
    Deep(Nest, u16, Box<Yaml>),
    /// A sequence or mapping of `n % (MAX_REPEAT + 1)` copies of a value.
    Long(bool, u16, Box<Yaml>),
    /// Anchors that each repeat the previous one `width` times, `levels` deep.
    Laughs(u8, u8),
}

/// What [`Yaml::Deep`] nests.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Nest {
    FlowSeq,
    FlowMap,
    /// `- - - x`.
    BlockSeq,
    /// Indented `k:` mappings (quadratic in size, so fewer levels fit).
    BlockMap,
    /// Alertmanager's routing tree: `{receiver: r, routes: [ … ]}`.
    Routes,
}

/// Vocabulary for keys and plain scalars.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct Word(pub u8);

const WORDS: &[&str] = &[
    "job_name",
    "targets",
    "labels",
    "scrape_interval",
    "5s",
    "1m",
    "0s",
    "-1s",
    "1y",
    "127.0.0.1:9100",
    "receiver",
    "routes",
    "matchers",
    "group_by",
    "alertname",
    "severity",
    "warning",
    "critical",
    "expr",
    "for",
    "rules",
    "name",
    "alert",
    "record",
    "up",
    "x",
    "source_labels",
    "regex",
    "action",
    "replace",
    "drop",
    "keep",
    "url",
    "http://127.0.0.1:1",
    "thresholds",
    "clear",
    "overrides",
    "match",
    "${HOME}",
    "${NOPE}",
    "~",
    "'",
    "a: b",
    "severity=\"critical\"",
    "[",
    "{",
    "#",
    "&",
    "*",
    "!",
    "|",
    ">",
    "ä",
    "1e400",
    ".inf",
];

impl Word {
    fn get(self) -> &'static str {
        WORDS[self.0 as usize % WORDS.len()]
    }
}

const TAGS: &[&str] = &[
    "!!str", "!!int", "!!map", "!!seq", "!!binary", "!custom", "!!null",
];

fn room(out: &str) -> usize {
    MAX_TEXT.saturating_sub(out.len())
}

fn count(n: u16, each: usize, out: &str) -> usize {
    usize::from(n % (MAX_REPEAT + 1)).min(room(out) / each.max(1))
}

fn write_plain(out: &mut String, w: Word) {
    let s = w.get();
    // Plain scalars that would change the structure are quoted.
    if s.is_empty()
        || s.contains(": ")
        || s.starts_with(['[', '{', '#', '&', '*', '!', '|', '>', '\''])
    {
        let _ = write!(out, "{s:?}");
    } else {
        out.push_str(s);
    }
}

/// Writes a value in flow style (inline).
fn write_flow(out: &mut String, y: &Yaml) {
    if out.len() > MAX_TEXT {
        out.push('x');
        return;
    }
    match y {
        Yaml::Null => out.push_str("null"),
        Yaml::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Yaml::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Yaml::Float(f) => {
            let _ = write!(out, "{f:?}");
        }
        Yaml::Word(w) => write_plain(out, *w),
        Yaml::Quoted(w) => {
            let _ = write!(out, "{:?}", w.get());
        }
        Yaml::FlowSeq(items) | Yaml::BlockSeq(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_flow(out, item);
            }
            out.push(']');
        }
        Yaml::FlowMap(entries) | Yaml::BlockMap(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_plain(out, *k);
                out.push_str(": ");
                write_flow(out, v);
            }
            out.push('}');
        }
        Yaml::Anchor(id, inner) => {
            let _ = write!(out, "&a{} ", id % 8);
            write_flow(out, inner);
        }
        Yaml::Alias(id) => {
            let _ = write!(out, "*a{}", id % 8);
        }
        Yaml::Tagged(t, inner) => {
            out.push_str(TAGS[*t as usize % TAGS.len()]);
            out.push(' ');
            write_flow(out, inner);
        }
        Yaml::Huge(c, len) => {
            let c = ['x', 'ä', ' ', '\\', '"'][*c as usize % 5];
            let n = (usize::from(*len) * 64).min(room(out) / 2);
            out.push('"');
            for _ in 0..n {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        }
        Yaml::Deep(nest, n, inner) => {
            let (pre, post) = match nest {
                Nest::FlowSeq | Nest::BlockSeq => ("[", "]"),
                Nest::FlowMap | Nest::BlockMap => ("{k: ", "}"),
                Nest::Routes => ("{receiver: r, routes: [", "]}"),
            };
            let n = count(*n, pre.len() + post.len(), out);
            for _ in 0..n {
                out.push_str(pre);
            }
            write_flow(out, inner);
            for _ in 0..n {
                out.push_str(post);
            }
        }
        Yaml::Long(map, n, inner) => {
            let mut item = String::new();
            write_flow(&mut item, inner);
            let n = count(*n, item.len() + 10, out);
            out.push(if *map { '{' } else { '[' });
            for i in 0..n {
                if i > 0 {
                    out.push_str(", ");
                }
                if *map {
                    let _ = write!(out, "k{i}: ");
                }
                out.push_str(&item);
            }
            out.push(if *map { '}' } else { ']' });
        }
        Yaml::Laughs(levels, width) => {
            let (levels, width) = (usize::from(*levels % 12) + 1, usize::from(*width % 12) + 1);
            out.push_str("[&l0 \"lol\"");
            for l in 1..=levels {
                let _ = write!(out, ", &l{l} [");
                for w in 0..width {
                    if w > 0 {
                        out.push_str(", ");
                    }
                    let _ = write!(out, "*l{}", l - 1);
                }
                out.push(']');
            }
            out.push(']');
        }
    }
}

/// Writes a value after `key:` or `- ` at block indentation `indent`,
/// ending with a newline.
fn write_value(out: &mut String, y: &Yaml, indent: usize) {
    if out.len() > MAX_TEXT {
        out.push_str(" x\n");
        return;
    }
    let pad = |out: &mut String, n: usize| out.extend(std::iter::repeat_n(' ', n));
    match y {
        Yaml::BlockSeq(items) if !items.is_empty() => {
            out.push('\n');
            for item in items {
                pad(out, indent);
                out.push('-');
                write_value(out, item, indent + 2);
            }
        }
        Yaml::BlockMap(entries) if !entries.is_empty() => {
            out.push('\n');
            for (k, v) in entries {
                pad(out, indent);
                write_plain(out, *k);
                out.push(':');
                write_value(out, v, indent + 2);
            }
        }
        Yaml::Deep(Nest::BlockSeq, n, inner) => {
            let n = count(*n, 2, out);
            out.push('\n');
            pad(out, indent);
            for _ in 0..n {
                out.push_str("- ");
            }
            write_flow(out, inner);
            out.push('\n');
        }
        Yaml::Deep(Nest::BlockMap, n, inner) => {
            // Quadratic: level i is indented by 2 * i.
            let mut n = usize::from(n % (MAX_REPEAT + 1));
            while n > 0 && n * (indent + n + 4) > room(out) {
                n /= 2;
            }
            for i in 0..n {
                out.push('\n');
                pad(out, indent + 2 * i);
                out.push_str("k:");
            }
            write_value(out, inner, indent + 2 * n);
        }
        Yaml::Anchor(id, inner) if matches!(**inner, Yaml::BlockSeq(_) | Yaml::BlockMap(_)) => {
            let _ = write!(out, " &a{}", id % 8);
            write_value(out, inner, indent);
        }
        _ => {
            out.push(' ');
            write_flow(out, y);
            out.push('\n');
        }
    }
}

/// A configuration file: a skeleton with generated values, plus extra keys.
#[derive(Arbitrary, Debug, Clone)]
pub struct ConfigDoc {
    /// Which skeleton.
    pub skeleton: u8,
    /// Values for the skeleton's `@` slots, in order (missing ones: a default).
    pub slots: Vec<Yaml>,
    /// Further top-level keys.
    pub extra: Vec<(TopKey, Yaml)>,
}

/// Top-level keys of the configuration file.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct TopKey(pub u8);

const TOP_KEYS: &[&str] = &[
    "global",
    "scrape_configs",
    "rule_files",
    "route",
    "receivers",
    "inhibit_rules",
    "storage",
    "templates",
    "alerting",
    "remote_write",
    "tls_server_config",
    "basic_auth_users",
    "http_server_config",
    "unknown",
];

const CONFIG_SKELETONS: &[&str] = &[
    "global:
  scrape_interval: @
  evaluation_interval: @
  external_labels: @
rule_files: @
scrape_configs:
  - job_name: demo
    static_configs:
      - targets: @
        labels: @
    relabel_configs: @
    metric_relabel_configs: @
storage:
  retention: @
",
    "route:
  receiver: hook
  group_by: @
  group_wait: @
  routes: @
receivers:
  - name: hook
    webhook_configs: @
  - name: r
inhibit_rules: @
",
    "tls_server_config: @
basic_auth_users: @
http_server_config: @
",
    "@",
];

/// A rule file: a skeleton with a generated expression, template and values.
#[derive(Arbitrary, Debug, Clone)]
pub struct RulesDoc {
    /// Which skeleton.
    pub skeleton: u8,
    /// The rule's expression.
    pub expr: promql_gen::Expr,
    /// An annotation template.
    pub template: template_gen::Template,
    /// Values for the remaining `@` slots.
    pub slots: Vec<Yaml>,
}

const RULE_SKELETONS: &[&str] = &[
    "groups:
  - name: g
    interval: @
    rules:
      - alert: A
        expr: $EXPR
        for: @
        labels: @
        annotations:
          summary: $TEMPLATE
          description: @
      - record: job:x:sum
        expr: $EXPR
",
    "groups:
  - name: t
    evaluation: on_scrape
    rules:
      - alert: T
        expr: $EXPR
        thresholds:
          warning: @
          critical: @
          clear: @
          overrides: @
        annotations:
          summary: $TEMPLATE
",
    "groups: @
",
];

fn fill(skeleton: &str, slots: &[Yaml], out: &mut String) {
    let mut slots = slots.iter();
    for line in skeleton.lines() {
        match line.strip_suffix('@') {
            Some(head) => {
                out.push_str(head.trim_end());
                let indent = head.len() - head.trim_start().len() + 2;
                match slots.next() {
                    Some(y) => write_value(out, y, indent),
                    None => out.push_str(" null\n"),
                }
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
}

impl ConfigDoc {
    /// The document's text.
    pub fn render(&self) -> String {
        let skeleton = CONFIG_SKELETONS[self.skeleton as usize % CONFIG_SKELETONS.len()];
        let mut out = String::new();
        if skeleton == "@" {
            match self.slots.first() {
                Some(y) => write_flow(&mut out, y),
                None => out.push_str("{}"),
            }
            out.push('\n');
            return out;
        }
        fill(skeleton, &self.slots, &mut out);
        for (k, v) in self.extra.iter().take(4) {
            out.push_str(TOP_KEYS[k.0 as usize % TOP_KEYS.len()]);
            out.push(':');
            write_value(&mut out, v, 2);
        }
        out
    }
}

impl RulesDoc {
    /// The document's text.
    pub fn render(&self) -> String {
        let skeleton = RULE_SKELETONS[self.skeleton as usize % RULE_SKELETONS.len()];
        let expr = format!("{:?}", promql_gen::render(&self.expr));
        let template = format!("{:?}", template_gen::render(&self.template));
        let skeleton = skeleton
            .replace("$EXPR", &expr)
            .replace("$TEMPLATE", &template);
        let mut out = String::new();
        fill(&skeleton, &self.slots, &mut out);
        out
    }
}
