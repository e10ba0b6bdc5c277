//! Walks the YAML tree into "raw" sections, collecting every problem with its position.
//!
//! Raw sections (declared with [`yaml_section!`]) hold each field as `Option<At<T>>`: absent or
//! null fields are `None`, and every present value keeps its position for the semantic checks
//! that run afterwards (`validate`, `scrape`). A value that fails to decode is reported and
//! left out, so decoding always goes on to the end of the file.

use super::duration::PromDuration;
use super::env;
use super::error::{ConfigError, ErrorKind};
use super::node::{Node, Pos, Value};
use super::size::ByteSize;
use std::path::Path;

/// A decoded value and the position of its YAML node.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct At<T> {
    pub value: T,
    pub pos: Pos,
}

/// Decoding state: where the file is, how to expand `${VAR}`, and the problems found so far.
pub(crate) struct Cx<'a> {
    /// The config file path, as errors print it.
    pub file: &'a Path,
    /// The directory relative paths in the file are resolved against.
    pub dir: &'a Path,
    source: &'a str,
    env: &'a dyn Fn(&str) -> Option<String>,
    path: Vec<String>,
    errors: Vec<ConfigError>,
    /// Problems in other files this one loads (`scrape_config_files`), in load order, each
    /// file's sorted by position; they follow this file's own.
    other_files: Vec<ConfigError>,
    /// `check config --syntax-only`: files named by the config (secrets, certificates) are not
    /// read, as promtool's flag.
    pub syntax_only: bool,
}

impl<'a> Cx<'a> {
    pub fn new(
        file: &'a Path,
        dir: &'a Path,
        source: &'a str,
        env: &'a dyn Fn(&str) -> Option<String>,
    ) -> Self {
        Cx {
            file,
            dir,
            source,
            env,
            path: Vec::new(),
            errors: Vec::new(),
            other_files: Vec::new(),
            syntax_only: false,
        }
    }

    /// Runs `f` on another document (`text`, read from `file`): its own positions, its own
    /// directory for relative paths, this context's environment and options. Its problems join
    /// this context's, after those of this file.
    pub fn other_file<T>(
        &mut self,
        file: &Path,
        text: &str,
        f: impl FnOnce(&Node, &mut Cx<'_>) -> T,
    ) -> Option<T> {
        let dir = super::config_dir(file);
        let mut cx = Cx::new(file, &dir, text, self.env);
        cx.syntax_only = self.syntax_only;
        let out = match super::node::parse_document(text) {
            Ok(doc) => Some(f(&doc, &mut cx)),
            Err((pos, kind)) => {
                cx.error(pos, kind);
                None
            }
        };
        self.other_files.extend(cx.into_errors());
        out
    }

    /// Records a problem already positioned in another file.
    pub fn error_in(&mut self, error: ConfigError) {
        self.other_files.push(error);
    }

    /// Records a problem at `pos`.
    pub fn error(&mut self, pos: Pos, kind: ErrorKind) {
        self.errors.push(ConfigError {
            file: self.file.to_path_buf(),
            line: pos.line,
            column: pos.column,
            kind,
        });
    }

    /// The problems found so far, sorted by position (stable for equal positions).
    pub fn into_errors(mut self) -> Vec<ConfigError> {
        self.errors.sort_by_key(|e| (e.line, e.column));
        self.errors.append(&mut self.other_files);
        self.errors
    }

    /// The dotted path of the value being decoded, e.g. `scrape_configs[0].scrape_interval`.
    pub fn path(&self) -> String {
        let mut out = String::new();
        for segment in &self.path {
            if !out.is_empty() && !segment.starts_with('[') {
                out.push('.');
            }
            out.push_str(segment);
        }
        out
    }

    /// The path for messages, `the top level` for the document itself.
    fn describe_path(&self) -> String {
        if self.path.is_empty() {
            "the top level".to_owned()
        } else {
            self.path()
        }
    }

    /// Runs `f` with `segment` appended to the path.
    pub fn nested<T>(&mut self, segment: String, f: impl FnOnce(&mut Self) -> T) -> T {
        self.path.push(segment);
        let out = f(self);
        self.path.pop();
        out
    }

    /// Reports a value of the wrong YAML type.
    pub fn wrong_type(&mut self, node: &Node, expected: &'static str) {
        let kind = ErrorKind::WrongType {
            path: self.describe_path(),
            expected,
            found: node.value.describe(),
        };
        self.error(node.pos, kind);
    }

    /// Reports a value that does not parse.
    pub fn invalid(&mut self, pos: Pos, message: impl ToString) {
        let kind = ErrorKind::InvalidValue {
            path: self.describe_path(),
            message: message.to_string(),
        };
        self.error(pos, kind);
    }

    /// The text of a scalar as written (plain numbers and booleans keep their spelling).
    pub(crate) fn raw_text(&self, node: &Node) -> Option<String> {
        let fallback = match &node.value {
            Value::Null => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Str(s) => return Some(s.clone()),
            Value::Seq(_) | Value::Map(_) => return None,
        };
        let spelled = node
            .source
            .and_then(|(start, end)| self.source.get(start..end))
            .map(str::trim)
            .filter(|s| !s.is_empty() && !s.starts_with(['*', '&', '!', '<']));
        Some(spelled.map_or(fallback, str::to_owned))
    }

    /// A mapping key as text; keys are never `${VAR}`-expanded.
    pub fn key(&mut self, key: &Node) -> Option<String> {
        let text = self.raw_text(key);
        if text.is_none() {
            self.wrong_type(key, "a string key");
        }
        text
    }

    /// A scalar as a string, after `${VAR}` expansion of string scalars.
    pub fn string(&mut self, node: &Node, expected: &'static str) -> Option<String> {
        let Value::Str(text) = &node.value else {
            let text = self.raw_text(node);
            if text.is_none() {
                self.wrong_type(node, expected);
            }
            return text;
        };
        match env::expand(text, self.env) {
            Ok(expanded) => Some(expanded),
            Err(source) => {
                self.error(
                    node.pos,
                    ErrorKind::Env {
                        path: self.describe_path(),
                        source,
                    },
                );
                None
            }
        }
    }

    /// The entries of a mapping; null counts as empty; anything else is reported.
    pub fn mapping<'n>(&mut self, node: &'n Node) -> Option<&'n [(Node, Node)]> {
        match &node.value {
            Value::Map(entries) => Some(entries),
            Value::Null => Some(&[]),
            _ => {
                self.wrong_type(node, "a mapping");
                None
            }
        }
    }

    /// Decodes the value of field `name` of the current section; null means absent.
    pub fn field<T: Decode>(&mut self, name: &str, node: &Node) -> Option<At<T>> {
        if matches!(node.value, Value::Null) {
            return None;
        }
        self.nested(name.to_owned(), |cx| T::decode(node, cx))
            .map(|value| At {
                value,
                pos: node.pos,
            })
    }

    /// Reports a key that is not a field of the current section.
    pub fn unknown_field(&mut self, key: &Node, name: &str, known: &'static [&'static str]) {
        let section = self.path();
        let kind = if section.is_empty() && RESERVED_TOP_LEVEL.contains(&name) {
            ErrorKind::NotYetSupported(name.to_owned())
        } else if let Some(reason) = not_supported(&section, name) {
            let path = if section.is_empty() {
                name.to_owned()
            } else {
                format!("{section}.{name}")
            };
            ErrorKind::NotSupported { path, reason }
        } else {
            ErrorKind::UnknownField {
                field: name.to_owned(),
                section: self.describe_path(),
                suggestion: closest(name, known),
            }
        };
        self.error(key.pos, kind);
    }
}

/// Top-level Prometheus sections that watchfire refuses by name: it reads nothing from outside its
/// time window (`remote_read`, `otlp`), exports no traces, and has no Go runtime.
pub(crate) const RESERVED_TOP_LEVEL: &[&str] = &["remote_read", "tracing", "otlp", "runtime"];

/// Keys Prometheus accepts in a section (named by its path without list indexes) that watchfire
/// refuses by name, with the reason printed after the key's path.
const UNSUPPORTED_KEYS: &[(&str, &[&str], &str)] = &[
    (
        "ha.etcd",
        &["tls_config"],
        "TLS to etcd is not supported yet (use http:// endpoints)",
    ),
    (
        "global",
        &["query_log_file"],
        "the query log is not supported",
    ),
    (
        "global",
        &["rule_query_offset"],
        "rule query offsets are not supported",
    ),
    (
        "global|scrape_configs",
        &["scrape_failure_log_file"],
        "scrape failure log files are not supported (failures are logged and shown in \
         /api/v1/targets)",
    ),
    (
        "global|scrape_configs",
        &[
            "metric_name_validation_scheme",
            "metric_name_escaping_scheme",
        ],
        "not supported (watchfire validates names as UTF-8 and asks targets for allow-utf-8, \
         Prometheus' defaults)",
    ),
    (
        "global|scrape_configs",
        &[
            "convert_classic_histograms_to_nhcb",
            "native_histogram_bucket_limit",
            "native_histogram_min_bucket_factor",
        ],
        "native histograms are not supported (watchfire scrapes the text formats, whose \
         histograms are classic)",
    ),
    (
        "scrape_configs|alerting.alertmanagers",
        &["http_headers"],
        "custom HTTP headers are not supported",
    ),
    (
        "remote_write",
        &["sigv4", "azuread", "google_iam"],
        "not supported (use authorization, basic_auth or headers)",
    ),
    (
        "remote_write",
        &["round_robin_dns"],
        "not supported (the system resolver picks the address)",
    ),
    (
        "scrape_configs|alerting.alertmanagers|remote_write",
        &["oauth2"],
        "OAuth 2.0 is not supported (use authorization or basic_auth)",
    ),
    (
        "scrape_configs|alerting.alertmanagers|remote_write",
        &[
            "proxy_url",
            "no_proxy",
            "proxy_from_environment",
            "proxy_connect_header",
        ],
        "HTTP proxies are not supported",
    ),
    (
        "scrape_configs|alerting.alertmanagers|remote_write",
        &["follow_redirects", "enable_http2"],
        "not supported here (watchfire follows up to 10 redirects and negotiates HTTP/2 over \
         TLS); scrape jobs take it",
    ),
    (
        "scrape_configs|alerting.alertmanagers|remote_write",
        &["bearer_token", "bearer_token_file"],
        "not supported (use authorization: {credentials: ...} or credentials_file)",
    ),
    (
        "storage",
        &["tsdb", "exemplars"],
        "not supported (watchfire keeps an in-memory window: see storage.retention and \
         storage.max_series)",
    ),
];

/// Why key `name` of `section` is refused by name, if it is a Prometheus key watchfire does not
/// implement; every `<mechanism>_sd_configs` but the supported ones (which are fields, so never
/// reach this) is one.
fn not_supported(section: &str, name: &str) -> Option<String> {
    let section = strip_indexes(section);
    if let Some(mechanism) = name.strip_suffix("_sd_configs") {
        if !mechanism.is_empty()
            && (section == "scrape_configs" || section.ends_with("alertmanagers"))
        {
            return Some(format!("{mechanism} service discovery is not supported"));
        }
    }
    UNSUPPORTED_KEYS
        .iter()
        .find(|(sections, keys, _)| {
            sections.split('|').any(|s| s == section) && keys.contains(&name)
        })
        .map(|(_, _, reason)| (*reason).to_owned())
}

/// A section path without its list indexes: `scrape_configs[3]` is `scrape_configs`.
fn strip_indexes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut depth = 0usize;
    for c in path.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// The known field within edit distance 2 of `name`, if exactly one is closest.
fn closest(name: &str, known: &'static [&'static str]) -> Option<&'static str> {
    known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let next = (row[j] + 1).min(row[j + 1] + 1).min(prev + cost);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// A type read from a YAML node; problems go to the context and yield `None`.
pub(crate) trait Decode: Sized {
    /// Decodes `node`, reporting problems to `cx`.
    fn decode(node: &Node, cx: &mut Cx<'_>) -> Option<Self>;
}

impl Decode for String {
    fn decode(node: &Node, cx: &mut Cx<'_>) -> Option<Self> {
        cx.string(node, "a string")
    }
}

impl Decode for bool {
    fn decode(node: &Node, cx: &mut Cx<'_>) -> Option<Self> {
        match node.value {
            Value::Bool(b) => Some(b),
            _ => {
                cx.wrong_type(node, "a boolean (true or false)");
                None
            }
        }
    }
}

impl Decode for u64 {
    fn decode(node: &Node, cx: &mut Cx<'_>) -> Option<Self> {
        match node.value {
            Value::Int(i) => match u64::try_from(i) {
                Ok(n) => Some(n),
                Err(_) => {
                    cx.invalid(node.pos, format!("{i} is out of range (0 to {})", u64::MAX));
                    None
                }
            },
            _ => {
                cx.wrong_type(node, "a non-negative integer");
                None
            }
        }
    }
}

impl Decode for i64 {
    fn decode(node: &Node, cx: &mut Cx<'_>) -> Option<Self> {
        match node.value {
            Value::Int(i) => match i64::try_from(i) {
                Ok(n) => Some(n),
                Err(_) => {
                    let range = format!("{} to {}", i64::MIN, i64::MAX);
                    cx.invalid(node.pos, format!("{i} is out of range ({range})"));
                    None
                }
            },
            _ => {
                cx.wrong_type(node, "an integer");
                None
            }
        }
    }
}

impl Decode for PromDuration {
    fn decode(node: &Node, cx: &mut Cx<'_>) -> Option<Self> {
        let text = cx.string(node, "a duration such as 30s or 1m30s")?;
        PromDuration::parse(&text)
            .map_err(|e| cx.invalid(node.pos, e))
            .ok()
    }
}

impl Decode for ByteSize {
    fn decode(node: &Node, cx: &mut Cx<'_>) -> Option<Self> {
        let text = cx.string(node, "a size such as 10MB or 512KiB")?;
        ByteSize::parse(&text)
            .map_err(|e| cx.invalid(node.pos, e))
            .ok()
    }
}

impl<T: Decode> Decode for At<T> {
    fn decode(node: &Node, cx: &mut Cx<'_>) -> Option<Self> {
        T::decode(node, cx).map(|value| At {
            value,
            pos: node.pos,
        })
    }
}

impl<T: Decode> Decode for Vec<T> {
    /// A list; null is an empty list. Bad elements are reported and skipped.
    fn decode(node: &Node, cx: &mut Cx<'_>) -> Option<Self> {
        let items = match &node.value {
            Value::Seq(items) => items.as_slice(),
            Value::Null => &[],
            _ => {
                cx.wrong_type(node, "a list");
                return None;
            }
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            if let Some(value) = cx.nested(format!("[{i}]"), |cx| T::decode(item, cx)) {
                out.push(value);
            }
        }
        Some(out)
    }
}

/// A mapping with free-form keys (labels, params), in file order, keys and values positioned.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Entries<T>(pub Vec<(At<String>, At<T>)>);

impl<T: Decode> Decode for Entries<T> {
    fn decode(node: &Node, cx: &mut Cx<'_>) -> Option<Self> {
        let entries = cx.mapping(node)?;
        let mut out = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let Some(name) = cx.key(key) else { continue };
            let decoded = cx.nested(name.clone(), |cx| match value.value {
                // A null value in a string map is the empty string, as in Prometheus.
                Value::Null => T::decode(
                    &Node {
                        value: Value::Str(String::new()),
                        ..value.clone()
                    },
                    cx,
                ),
                _ => T::decode(value, cx),
            });
            if let Some(v) = decoded {
                out.push((
                    At {
                        value: name,
                        pos: key.pos,
                    },
                    At {
                        value: v,
                        pos: value.pos,
                    },
                ));
            }
        }
        Some(Entries(out))
    }
}

/// Declares a raw config section: a struct whose fields are `Option<At<T>>`, decoded from a YAML
/// mapping whose keys are the field names (or the name after `as`, for keys such as `type` that
/// are Rust keywords). Unknown keys are reported (with a spelling suggestion); null or absent
/// keys leave the field `None`.
///
/// Adding a key to a section, or a section to the file, is one line here.
macro_rules! yaml_section {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident $(as $key:literal)? : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default)]
        $vis struct $name {
            $( $(#[$fmeta])* pub $field: Option<$crate::config::decode::At<$ty>>, )*
            /// The keys present with a non-null value, including values that failed to decode.
            pub present: Vec<&'static str>,
        }

        impl $name {
            /// True when key `key` has a non-null value, even one that failed to decode.
            #[allow(dead_code)]
            pub fn has(&self, key: &str) -> bool {
                self.present.contains(&key)
            }

            /// The keys this section accepts.
            pub const FIELDS: &'static [&'static str] =
                &[$($crate::config::decode::section_key!($field $($key)?)),*];
        }

        impl $crate::config::decode::Decode for $name {
            fn decode(
                node: &$crate::config::node::Node,
                cx: &mut $crate::config::decode::Cx<'_>,
            ) -> Option<Self> {
                let entries = cx.mapping(node)?;
                let mut out = Self::default();
                for (key, value) in entries {
                    let Some(name) = cx.key(key) else { continue };
                    match name.as_str() {
                        $(
                            $crate::config::decode::section_key!($field $($key)?) => {
                                if !matches!(value.value, $crate::config::node::Value::Null) {
                                    out.present.push(
                                        $crate::config::decode::section_key!($field $($key)?),
                                    );
                                }
                                out.$field = cx.field(&name, value)
                            }
                        )*
                        _ => cx.unknown_field(key, &name, Self::FIELDS),
                    }
                }
                Some(out)
            }
        }
    };
}

/// The YAML key of a section field: its name, or the explicit key.
macro_rules! section_key {
    ($field:ident) => {
        stringify!($field)
    };
    ($field:ident $key:literal) => {
        $key
    };
}
pub(crate) use section_key;
pub(crate) use yaml_section;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::node::parse_document;

    yaml_section! {
        /// A section for the tests.
        struct Sample {
            name: String,
            interval: PromDuration,
            count: u64,
            on: bool,
            size: ByteSize,
            tags: Vec<String>,
            labels: Entries<String>,
        }
    }

    fn env(name: &str) -> Option<String> {
        (name == "WHO").then(|| "world".to_owned())
    }

    fn decode(text: &str) -> (Option<Sample>, Vec<String>) {
        let node = parse_document(text).unwrap();
        let mut cx = Cx::new(Path::new("t.yml"), Path::new("."), text, &env);
        let out = Sample::decode(&node, &mut cx);
        (
            out,
            cx.into_errors().iter().map(ToString::to_string).collect(),
        )
    }

    #[test]
    fn decodes_every_kind() {
        let (s, errors) = decode(
            "name: hello-${WHO}\ninterval: 1m30s\ncount: 7\non: true\nsize: 1KB\n\
             tags: [a, 5, 0x10]\nlabels: {a: x, b: ~, 1: y}\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        let s = s.unwrap();
        assert_eq!(s.name.unwrap().value, "hello-world");
        assert_eq!(s.interval.unwrap().value, PromDuration::from_secs(90));
        assert_eq!(s.count.unwrap().value, 7);
        assert!(s.on.unwrap().value);
        assert_eq!(s.size.unwrap().value, ByteSize(1024));
        assert_eq!(s.tags.unwrap().value, ["a", "5", "0x10"]);
        let labels: Vec<_> = s
            .labels
            .unwrap()
            .value
            .0
            .into_iter()
            .map(|(k, v)| (k.value, v.value))
            .collect();
        assert_eq!(
            labels,
            [
                ("a".into(), "x".into()),
                ("b".into(), "".into()),
                ("1".into(), "y".into())
            ]
        );
    }

    #[test]
    fn null_and_absent_fields_are_none() {
        let (s, errors) = decode("name:\ntags: ~\n");
        assert!(errors.is_empty());
        let s = s.unwrap();
        assert!(s.name.is_none() && s.tags.is_none() && s.count.is_none());
        let (s, errors) = decode("");
        assert!(errors.is_empty() && s.is_some());
    }

    #[test]
    fn collects_all_problems_with_positions() {
        let (_, errors) = decode(
            "nmae: x\ninterval: 5x\ncount: -1\non: \"yes\"\nsize: 1024\ntags: {a: b}\n\
             labels: [a]\nname: ${NOPE}\nbogus: 1\n",
        );
        assert_eq!(
            errors,
            [
                r#"t.yml:1:1: unknown field "nmae" in the top level, did you mean "name"?"#,
                r#"t.yml:2:11: interval: unknown unit "x" in duration "5x""#,
                "t.yml:3:8: count: -1 is out of range (0 to 18446744073709551615)",
                "t.yml:4:5: on: expected a boolean (true or false), found a string",
                r#"t.yml:5:7: size: unknown unit "" in size "1024" (expected B, KB, MB, GB, TB, PB, EB or KiB, MiB, ...)"#,
                "t.yml:6:7: tags: expected a list, found a mapping",
                "t.yml:7:9: labels: expected a mapping, found a list",
                r#"t.yml:8:7: name: environment variable "NOPE" is not set"#,
                r#"t.yml:9:1: unknown field "bogus" in the top level"#,
            ]
        );
    }

    #[test]
    fn list_elements_have_indexed_paths() {
        let (_, errors) = decode("tags:\n  - ok\n  - [nested]\n");
        assert_eq!(
            errors,
            ["t.yml:3:5: tags[1]: expected a string, found a list"]
        );
    }

    #[test]
    fn suggestions_need_a_close_spelling() {
        assert_eq!(
            closest("scrape_intervall", &["scrape_interval", "scrape_timeout"]),
            Some("scrape_interval")
        );
        assert_eq!(closest("zzz", &["scrape_interval"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
