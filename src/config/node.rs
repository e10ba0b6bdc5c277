//! The config file as a positioned YAML tree, read with serde-saphyr.
//!
//! serde-saphyr stops at the first serde error, so the typed config is not deserialized
//! directly. Instead the document is read into [`Node`]s (every node carries the line and column
//! serde-saphyr reports through `Spanned`), and `decode` walks the tree, collecting every
//! unknown key, wrong type and bad value with its position. serde-saphyr still does the YAML
//! work: syntax, anchors and aliases, `<<` merge keys, duplicate-key rejection and its budget
//! against alias bombs. Every YAML file we read (configuration, rule and rule-test files) is
//! read with [`yaml_options`], which sets the nesting limit explicitly: [`MAX_YAML_DEPTH`]
//! nested sequences and mappings, beyond which the file is refused with its position, so the
//! recursive reading of the tree (and its drop) stays shallow.

use super::error::ErrorKind;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, MessageFormatter, Spanned, UserMessageFormatter};
use std::fmt;

/// A 1-based line and column (in characters) in the config file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// Line, from 1; 0 when unknown.
    pub line: u32,
    /// Column in characters, from 1; 0 when unknown.
    pub column: u32,
}

impl Pos {
    fn of(location: Location) -> Pos {
        Pos {
            line: u32::try_from(location.line()).unwrap_or(u32::MAX),
            column: u32::try_from(location.column()).unwrap_or(u32::MAX),
        }
    }
}

/// A YAML node and where it is.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    /// Where the node is used (for an alias, the `*alias`).
    pub pos: Pos,
    /// Byte range of the node's text where it is defined, when serde-saphyr knows it; used to
    /// recover the exact spelling of plain scalars such as `0x10` or `1e3`.
    pub source: Option<(usize, usize)>,
    /// The value.
    pub value: Value,
}

/// The value of a [`Node`], as YAML's core schema resolves it.
#[derive(Clone, Debug)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in file order (merged entries after the mapping's own ones).
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// How error messages name this kind of value.
    pub fn describe(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Deepest nesting of sequences and mappings in a YAML file we read (serde-saphyr's default,
/// set here so that it cannot change under us).
pub const MAX_YAML_DEPTH: usize = 64;

/// Stack guaranteed to reading one YAML file: serde-saphyr's deserializer takes about 32 KiB
/// per nesting level in a debug build, so [`MAX_YAML_DEPTH`] levels need about 2 MiB, more
/// than a tokio thread has. The segment is reserved, pages are touched as used.
const YAML_STACK: usize = 16 << 20;

/// Runs a YAML read with [`YAML_STACK`] bytes of stack (on a new segment when less is left).
pub(crate) fn with_yaml_stack<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(YAML_STACK, YAML_STACK, f)
}

/// The serde-saphyr options every YAML file is read with: no snippets in errors, the
/// default budget with the nesting limit [`MAX_YAML_DEPTH`].
pub(crate) fn yaml_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    options.with_snippet = false;
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_YAML_DEPTH;
    options.budget = Some(budget);
    options
}

/// Parses one YAML document into a tree; a syntax error comes back with its position.
pub(crate) fn parse_document(text: &str) -> Result<Node, (Pos, ErrorKind)> {
    let mut options = yaml_options();
    // Config files are small: 100k nodes replayed from aliases is plenty, and it bounds the
    // time an alias bomb can take (serde-saphyr's default allows a million).
    options.alias_limits.max_total_replayed_events = 100_000;
    with_yaml_stack(|| serde_saphyr::from_str_with_options::<Node>(text, options)).map_err(|err| {
        let err = err.without_snippet();
        let pos = err.location().map(Pos::of).unwrap_or_default();
        // The message may quote the file; keep it on one line.
        let message: String = UserMessageFormatter
            .format_message(err)
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        (pos, ErrorKind::Yaml(message))
    })
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(d)?;
        let span = spanned.defined.span();
        let source = match (span.byte_offset(), span.byte_len()) {
            (Some(start), Some(len)) => usize::try_from(start)
                .ok()
                .zip(usize::try_from(len).ok())
                .map(|(s, l)| (s, s.saturating_add(l))),
            _ => None,
        };
        Ok(Node {
            pos: Pos::of(spanned.referenced),
            source,
            value: spanned.value,
        })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        Ok(i128::try_from(v)
            .map(Value::Int)
            .unwrap_or(Value::Float(v as f64)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(node) = seq.next_element::<Node>()? {
            items.push(node);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            let value = map.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(node: &Node) -> &[(Node, Node)] {
        match &node.value {
            Value::Map(entries) => entries,
            other => panic!("not a map: {other:?}"),
        }
    }

    /// Issue 10: deep nesting is refused at the budget, with a position.
    #[test]
    fn nesting_beyond_the_limit_is_refused() {
        let ok = format!(
            "a: {}1{}",
            "[".repeat(MAX_YAML_DEPTH - 1),
            "]".repeat(MAX_YAML_DEPTH - 1)
        );
        assert!(parse_document(&ok).is_ok());
        for text in [
            format!("a: {}1{}", "[".repeat(100_000), "]".repeat(100_000)),
            (0..200)
                .map(|i| format!("{}k:\n", "  ".repeat(i)))
                .collect(),
        ] {
            let (pos, kind) = parse_document(&text).unwrap_err();
            assert!(pos.line >= 1, "{pos:?}");
            assert!(matches!(kind, ErrorKind::Yaml(_)), "{kind:?}");
        }
    }

    #[test]
    fn positions_and_types() {
        let text = "a: 5s\nb:\n  - 12\n  - yes\n  - ~\n  - 1.5\nc: {x: \"q\"}\n";
        let doc = parse_document(text).unwrap();
        let entries = map(&doc);
        assert_eq!(entries.len(), 3);
        let (key, value) = &entries[0];
        assert_eq!(key.pos, Pos { line: 1, column: 1 });
        assert_eq!(value.pos, Pos { line: 1, column: 4 });
        assert!(matches!(&value.value, Value::Str(s) if s == "5s"));
        let Value::Seq(items) = &entries[1].1.value else {
            panic!("b is not a list")
        };
        assert!(matches!(items[0].value, Value::Int(12)));
        assert_eq!(items[0].pos, Pos { line: 3, column: 5 });
        assert_eq!(items[0].source.map(|(s, e)| &text[s..e]), Some("12"));
        assert!(matches!(items[1].value, Value::Bool(true)));
        assert!(matches!(items[2].value, Value::Null));
        assert!(matches!(items[3].value, Value::Float(f) if f == 1.5));
        let inner = map(&entries[2].1);
        assert_eq!(inner[0].1.pos, Pos { line: 7, column: 8 });
    }

    #[test]
    fn aliases_and_merges_resolve() {
        let text = "base: &b {k: 0x10}\nuse: *b\nmerged:\n  <<: *b\n  z: 1\n";
        let doc = parse_document(text).unwrap();
        let entries = map(&doc);
        let used = map(&entries[1].1);
        assert!(matches!(used[0].1.value, Value::Int(16)));
        assert_eq!(used[0].1.source.map(|(s, e)| &text[s..e]), Some("0x10"));
        let merged = map(&entries[2].1);
        let keys: Vec<_> = merged
            .iter()
            .map(|(k, _)| match &k.value {
                Value::Str(s) => s.as_str(),
                _ => "?",
            })
            .collect();
        assert_eq!(keys, ["z", "k"]);
    }

    #[test]
    fn empty_documents_are_null() {
        assert!(matches!(parse_document("").unwrap().value, Value::Null));
        assert!(matches!(
            parse_document("# just a comment\n").unwrap().value,
            Value::Null
        ));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let (pos, kind) = parse_document("a: 1\na: 2\n").unwrap_err();
        assert_eq!(pos, Pos { line: 2, column: 1 });
        assert!(kind.to_string().contains("duplicate mapping key"), "{kind}");
        let (pos, kind) = parse_document("a: [1\n").unwrap_err();
        assert_eq!(pos.line, 1);
        assert!(kind.to_string().starts_with("invalid YAML: "), "{kind}");
        let (pos, _) = parse_document("a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(pos.line, 3);
        assert!(parse_document("a: b: c\n").is_err());
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let (_, kind) = parse_document(&text).unwrap_err();
        assert!(
            kind.to_string().contains("too large or too complex"),
            "{kind}"
        );
    }
}
