//! Prometheus' relabeling: `relabel_configs`, `metric_relabel_configs` and
//! `alert_relabel_configs` rules applied to a label set, as `model/relabel` in Prometheus 3.x.
//!
//! A rule is written as a [`RelabelSpec`] (the YAML fields, with Prometheus' defaults) and
//! compiled once into a [`RelabelConfig`]: the regex is anchored (`^(?:…)$`) and translated from
//! RE2 syntax (Go's `\d`, `\w`, `\s` and `\b` are ASCII-only, `\Q…\E` quotes), and the
//! `target_label` and `replacement` templates are parsed with Go's `Regexp.Expand` rules
//! (`$1x` names the group `1x`, `${1}x` is group 1 then `x`, `$$` is `$`, an unknown group
//! expands to nothing). [`RelabelConfig::new`] applies every check of Prometheus'
//! `relabel.Config.Validate` with its error texts. Label names are validated as Prometheus 3.x
//! does by default (UTF-8: any non-empty name).
//!
//! [`process`] runs rules in order and returns `None` when a rule drops the set; `hashmod` is
//! the last 8 bytes of the MD5 of the joined source values, big-endian, modulo `modulus`.
//!
//! **Invariant:** pure, no I/O. Every regex is compiled under the `regex` crate's size limit,
//! so a hostile pattern is refused instead of growing memory.

use super::labels::{Labels, LabelsBuilder};
use md5::{Digest, Md5};
use std::fmt;
use std::sync::{Arc, LazyLock};

/// What a rule does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Sets `target_label` to the expanded `replacement` when `regex` matches.
    Replace,
    /// Drops the set unless `regex` matches the joined source values.
    Keep,
    /// Drops the set when `regex` matches the joined source values.
    Drop,
    /// Drops the set unless the joined source values equal `target_label`'s value.
    KeepEqual,
    /// Drops the set when the joined source values equal `target_label`'s value.
    DropEqual,
    /// Sets `target_label` to a hash of the joined source values modulo `modulus`.
    HashMod,
    /// Copies every label whose name matches `regex` to the name `replacement` expands to.
    LabelMap,
    /// Removes every label whose name matches `regex`.
    LabelDrop,
    /// Removes every label whose name does not match `regex`.
    LabelKeep,
    /// Sets `target_label` to the joined source values in lower case.
    Lowercase,
    /// Sets `target_label` to the joined source values in upper case.
    Uppercase,
}

impl Action {
    /// Every action, in Prometheus' documentation order.
    pub const ALL: [Action; 11] = [
        Action::Replace,
        Action::Keep,
        Action::Drop,
        Action::KeepEqual,
        Action::DropEqual,
        Action::HashMod,
        Action::LabelMap,
        Action::LabelDrop,
        Action::LabelKeep,
        Action::Lowercase,
        Action::Uppercase,
    ];

    /// The action's name as written in YAML (lower case).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
        }
    }

    /// Parses an action name; case does not matter, as in Prometheus.
    pub fn parse(name: &str) -> Option<Action> {
        let lower = name.to_lowercase();
        Action::ALL.into_iter().find(|a| a.as_str() == lower)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The default `separator`.
pub const DEFAULT_SEPARATOR: &str = ";";
/// The default `regex`.
pub const DEFAULT_REGEX: &str = "(.*)";
/// The default `replacement`.
pub const DEFAULT_REPLACEMENT: &str = "$1";

/// A rule as written, before compiling. [`Default`] is Prometheus' `DefaultRelabelConfig`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelabelSpec {
    /// `source_labels`; `None` when not written (`labeldrop`/`labelkeep` refuse any value).
    pub source_labels: Option<Vec<String>>,
    /// `separator` (default `;`).
    pub separator: String,
    /// `regex` as written; `None` for the default `(.*)`. Written explicitly, even as `(.*)`,
    /// it counts as set for `keepequal`/`dropequal`, as in Prometheus.
    pub regex: Option<String>,
    /// `modulus` (0 when not written).
    pub modulus: u64,
    /// `target_label` (empty when not written).
    pub target_label: String,
    /// `replacement` (default `$1`).
    pub replacement: String,
    /// `action` as written (default `replace`); parsed case-insensitively.
    pub action: String,
}

impl Default for RelabelSpec {
    fn default() -> Self {
        Self {
            source_labels: None,
            separator: DEFAULT_SEPARATOR.to_owned(),
            regex: None,
            modulus: 0,
            target_label: String::new(),
            replacement: DEFAULT_REPLACEMENT.to_owned(),
            action: Action::Replace.as_str().to_owned(),
        }
    }
}

/// Why a rule does not compile; displays as Prometheus words it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RelabelError {
    /// `action` is empty.
    #[error("relabel action cannot be empty")]
    EmptyAction,
    /// `action` names no action.
    #[error("unknown relabel action {0:?}")]
    UnknownAction(String),
    /// A `source_labels` entry is not a valid label name.
    #[error("{0:?} is not a valid label name")]
    SourceLabel(String),
    /// `regex` does not compile.
    #[error("error parsing regexp: {0}")]
    Regex(String),
    /// `hashmod` with `modulus` 0.
    #[error("relabel configuration for hashmod requires non-zero modulus")]
    ZeroModulus,
    /// An action that writes a label without `target_label`.
    #[error("relabel configuration for {0} action requires 'target_label' value")]
    TargetLabelRequired(Action),
    /// `target_label` is not a label name (or template of one).
    #[error("{0:?} is invalid 'target_label' for {1} action")]
    InvalidTargetLabel(String, Action),
    /// `replacement` set for an action that takes none.
    #[error("'replacement' can not be set for {0} action")]
    ReplacementNotAllowed(Action),
    /// `labelmap` with a `replacement` that cannot name a label.
    #[error("{0:?} is invalid 'replacement' for {1} action")]
    InvalidReplacement(String, Action),
    /// `keepequal`/`dropequal` with other fields set.
    #[error("{0} action requires only 'source_labels' and `target_label`, and no other fields")]
    EqualActionFields(Action),
    /// `labeldrop`/`labelkeep` with other fields set.
    #[error("{0} action requires only 'regex', and no other fields")]
    LabelActionFields(Action),
}

/// An anchored regex compiled from RE2 syntax, remembering the pattern as written.
#[derive(Clone, Debug)]
pub struct RelabelRegex {
    source: String,
    re: regex::Regex,
}

impl RelabelRegex {
    /// Compiles `pattern` anchored as Prometheus 3.x does, `^(?s:pattern)$`: `.` matches a
    /// newline too.
    pub fn new(pattern: &str) -> Result<Self, RelabelError> {
        let translated = translate_re2(pattern).map_err(RelabelError::Regex)?;
        let re = regex::RegexBuilder::new(&format!("^(?s:{translated})$"))
            .octal(true)
            .build()
            .map_err(|e| RelabelError::Regex(regex_error_text(&e, pattern)))?;
        Ok(Self {
            source: pattern.to_owned(),
            re,
        })
    }

    /// The pattern as written, without the anchors.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the whole of `text` matches.
    pub fn is_match(&self, text: &str) -> bool {
        self.re.is_match(text)
    }
}

impl PartialEq for RelabelRegex {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// A regex error worded as Go's `regexp` words the common ones (`missing closing )` …);
/// other problems keep the `regex` crate's one-line description.
fn regex_error_text(e: &regex::Error, pattern: &str) -> String {
    let text = match e {
        regex::Error::Syntax(text) => text
            .lines()
            .rfind(|l| l.starts_with("error: "))
            .map_or_else(|| text.clone(), |l| l["error: ".len()..].to_owned()),
        regex::Error::CompiledTooBig(limit) => {
            return format!("expression too large (compiled size over {limit} bytes)")
        }
        other => return other.to_string(),
    };
    // (the crate's wording, Go's, whether Go quotes the whole expression after it)
    const GO_WORDING: [(&str, &str, bool); 8] = [
        ("unclosed group", "missing closing )", true),
        ("unopened group", "unexpected )", true),
        ("unclosed character class", "missing closing ]", false),
        (
            "repetition operator missing expression",
            "missing argument to repetition operator",
            false,
        ),
        (
            "invalid repetition count range",
            "invalid repeat count",
            false,
        ),
        (
            "incomplete escape sequence",
            "trailing backslash at end of expression",
            false,
        ),
        (
            "unrecognized escape sequence",
            "invalid escape sequence",
            false,
        ),
        (
            "invalid character class range",
            "invalid character class range",
            false,
        ),
    ];
    match GO_WORDING
        .iter()
        .find(|(rust, _, _)| text.starts_with(rust))
    {
        Some((_, go, true)) => format!("{go}: `^(?s:{pattern})$`"),
        Some((_, go, false)) => (*go).to_owned(),
        None => text,
    }
}

/// Rewrites RE2 syntax into the `regex` crate's where they differ: Perl classes and word
/// boundaries are ASCII-only in RE2, `\Q…\E` quotes literally, `\<`/`\>` are plain characters,
/// and `[`, `&`, `~` and `-` inside a class are literals (the crate reads nested classes and set
/// operations there).
fn translate_re2(src: &str) -> Result<String, String> {
    const DIGIT: &str = "0-9";
    const WORD: &str = "0-9A-Za-z_";
    const SPACE: &str = r"\t\n\x0C\r ";
    let mut out = String::with_capacity(src.len() + 8);
    let chars: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut in_class = false;
    let mut class_start = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            let e = chars[i + 1];
            i += 2;
            // RE2 has no backreferences: `\1` alone is an error (`\12` is octal).
            let octal_follows = chars.get(i).is_some_and(|d| ('0'..='7').contains(d));
            if matches!(e, '8' | '9') || (('1'..='7').contains(&e) && !octal_follows) {
                return Err(format!("invalid escape sequence: `\\{e}`"));
            }
            let class = match e {
                'd' => Some((DIGIT, false)),
                'D' => Some((DIGIT, true)),
                'w' => Some((WORD, false)),
                'W' => Some((WORD, true)),
                's' => Some((SPACE, false)),
                'S' => Some((SPACE, true)),
                _ => None,
            };
            if let Some((set, negated)) = class {
                out.push('[');
                if negated {
                    out.push('^');
                }
                out.push_str(set);
                out.push(']');
                continue;
            }
            match e {
                'b' | 'B' if !in_class => {
                    out.push_str("(?-u:\\");
                    out.push(e);
                    out.push(')');
                }
                '<' | '>' => out.push(e),
                'Q' if !in_class => {
                    while i < chars.len() {
                        if chars[i] == '\\' && chars.get(i + 1) == Some(&'E') {
                            i += 2;
                            break;
                        }
                        let mut buf = [0u8; 4];
                        out.push_str(&regex::escape(chars[i].encode_utf8(&mut buf)));
                        i += 1;
                    }
                }
                _ => {
                    out.push('\\');
                    out.push(e);
                }
            }
            continue;
        }
        if !in_class {
            out.push(c);
            if c == '[' {
                in_class = true;
                if chars.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                class_start = i + 1;
                // A `]` first in a class is a literal.
                if chars.get(i + 1) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                }
            }
            i += 1;
            continue;
        }
        match c {
            ']' if i > class_start => {
                in_class = false;
                out.push(']');
            }
            '[' if chars.get(i + 1) == Some(&':') => {
                // A POSIX class such as `[:alpha:]`: copy through its closing `:]`.
                let end = (i + 2..chars.len().saturating_sub(1))
                    .find(|&j| chars[j] == ':' && chars[j + 1] == ']');
                match end {
                    Some(j) => {
                        out.extend(&chars[i..j + 2]);
                        i = j + 1;
                    }
                    None => out.push_str("\\["),
                }
            }
            '[' | '&' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '-' if chars.get(i + 1) == Some(&'-') || out.ends_with('-') => out.push_str("\\-"),
            _ => out.push(c),
        }
        i += 1;
    }
    Ok(out)
}

/// One part of a parsed `$` template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Group(usize),
}

/// A `target_label` or `replacement` template, parsed once with Go's `Regexp.Expand` rules.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    fn parse(template: &str, re: &regex::Regex) -> Self {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = template;
        while let Some(at) = rest.find('$') {
            literal.push_str(&rest[..at]);
            rest = &rest[at + 1..];
            if let Some(after) = rest.strip_prefix('$') {
                literal.push('$');
                rest = after;
                continue;
            }
            let Some((name, after)) = group_name(rest) else {
                literal.push('$');
                continue;
            };
            rest = after;
            let index = group_number(name).or_else(|| {
                re.capture_names()
                    .position(|n| n == Some(name))
                    .filter(|_| !name.is_empty())
            });
            if !literal.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(&mut literal)));
            }
            // A number beyond the groups, or an unknown name, expands to nothing.
            if let Some(i) = index.filter(|&i| i < re.captures_len()) {
                pieces.push(Piece::Group(i));
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Self { pieces }
    }

    fn expand(&self, caps: &regex::Captures<'_>, out: &mut String) {
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => out.push_str(text),
                Piece::Group(i) => {
                    if let Some(m) = caps.get(*i) {
                        out.push_str(m.as_str());
                    }
                }
            }
        }
    }
}

/// The name after a `$`: `{name}` or the longest run of letters, digits and `_` (Go's
/// `unicode.IsLetter`, `unicode.IsDigit`), as Go's `extract` reads it; `None` when malformed
/// (the `$` is then literal).
fn group_name(s: &str) -> Option<(&str, &str)> {
    static NAME: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"^[\p{L}\p{Nd}_]+").expect("a valid constant pattern"));
    let (body, braced) = match s.strip_prefix('{') {
        Some(b) => (b, true),
        None => (s, false),
    };
    let len = NAME.find(body)?.end();
    let name = &body[..len];
    let rest = &body[len..];
    if braced {
        let rest = rest.strip_prefix('}')?;
        return Some((name, rest));
    }
    Some((name, rest))
}

/// A group number as Go reads it: ASCII digits, no leading zero, below 10^8.
fn group_number(name: &str) -> Option<usize> {
    if !name.bytes().all(|b| b.is_ascii_digit()) || (name.len() > 1 && name.starts_with('0')) {
        return None;
    }
    name.parse::<usize>().ok().filter(|&n| n < 100_000_000)
}

/// Whether `name` is a valid label name under Prometheus 3.x's default (UTF-8) validation.
pub fn is_valid_label_name(name: &str) -> bool {
    !name.is_empty()
}

/// A compiled rule: [`RelabelSpec`] after Prometheus' validation.
#[derive(Clone, Debug)]
pub struct RelabelConfig {
    spec: RelabelSpec,
    action: Action,
    regex: RelabelRegex,
    /// The regex was left at its default `(.*)`.
    default_regex: bool,
    target: Template,
    replacement: Template,
}

impl PartialEq for RelabelConfig {
    fn eq(&self, other: &Self) -> bool {
        self.spec == other.spec
    }
}

impl RelabelConfig {
    /// Compiles and validates a rule; the first problem is returned, worded as Prometheus
    /// words it.
    pub fn new(spec: RelabelSpec) -> Result<Self, RelabelError> {
        if spec.action.is_empty() {
            return Err(RelabelError::EmptyAction);
        }
        let action =
            Action::parse(&spec.action).ok_or(RelabelError::UnknownAction(spec.action.clone()))?;
        if let Some(bad) = spec
            .source_labels
            .iter()
            .flatten()
            .find(|n| !is_valid_label_name(n))
        {
            return Err(RelabelError::SourceLabel(bad.clone()));
        }
        let regex = RelabelRegex::new(spec.regex.as_deref().unwrap_or(DEFAULT_REGEX))?;
        validate(&spec, action)?;
        let target = Template::parse(&spec.target_label, &regex.re);
        let replacement = Template::parse(&spec.replacement, &regex.re);
        Ok(Self {
            default_regex: spec.regex.is_none(),
            spec,
            action,
            regex,
            target,
            replacement,
        })
    }

    /// The rule as written.
    pub fn spec(&self) -> &RelabelSpec {
        &self.spec
    }

    /// The action.
    pub fn action(&self) -> Action {
        self.action
    }

    /// The compiled regex.
    pub fn regex(&self) -> &RelabelRegex {
        &self.regex
    }

    /// Applies this rule to `lb`; false when the set is dropped.
    fn apply(&self, lb: &mut LabelsBuilder) -> bool {
        let spec = &self.spec;
        let mut val = String::new();
        for (i, name) in spec.source_labels.iter().flatten().enumerate() {
            if i > 0 {
                val.push_str(&spec.separator);
            }
            val.push_str(lb.get(name).unwrap_or(""));
        }
        match self.action {
            Action::Drop => return !self.regex.is_match(&val),
            Action::Keep => return self.regex.is_match(&val),
            Action::DropEqual => return lb.get(&spec.target_label).unwrap_or("") != val,
            Action::KeepEqual => return lb.get(&spec.target_label).unwrap_or("") == val,
            Action::Replace => self.replace(&val, lb),
            Action::Lowercase => {
                lb.set(&spec.target_label, &go_lower(&val));
            }
            Action::Uppercase => {
                lb.set(&spec.target_label, &go_upper(&val));
            }
            Action::HashMod => {
                let hash = Md5::digest(val.as_bytes());
                let mut tail = [0u8; 8];
                tail.copy_from_slice(&hash[8..16]);
                let m = u64::from_be_bytes(tail) % spec.modulus;
                lb.set(&spec.target_label, &m.to_string());
            }
            Action::LabelMap => {
                for l in lb.snapshot() {
                    if let Some(caps) = self.regex.re.captures(&l.name) {
                        let mut name = String::new();
                        self.replacement.expand(&caps, &mut name);
                        if !name.is_empty() {
                            lb.set_shared(Arc::from(name), l.value.clone());
                        }
                    }
                }
            }
            Action::LabelDrop => {
                for l in lb.snapshot() {
                    if self.regex.is_match(&l.name) {
                        lb.del(&l.name);
                    }
                }
            }
            Action::LabelKeep => {
                for l in lb.snapshot() {
                    if !self.regex.is_match(&l.name) {
                        lb.del(&l.name);
                    }
                }
            }
        }
        true
    }

    fn replace(&self, val: &str, lb: &mut LabelsBuilder) {
        let spec = &self.spec;
        // Prometheus' fast path: an empty value with the default regex sets the replacement as
        // written (no `$` anywhere, so no expansion is needed).
        if val.is_empty()
            && self.default_regex
            && !spec.target_label.contains('$')
            && !spec.replacement.contains('$')
        {
            lb.set(&spec.target_label, &spec.replacement);
            return;
        }
        let Some(caps) = self.regex.re.captures(val) else {
            return;
        };
        let mut target = String::new();
        self.target.expand(&caps, &mut target);
        if !is_valid_label_name(&target) {
            return;
        }
        let mut value = String::new();
        self.replacement.expand(&caps, &mut value);
        // An empty value deletes the label.
        lb.set(&target, &value);
    }
}

/// Go's `strings.ToLower`: each character on its own (no final-sigma rule), one character out.
fn go_lower(s: &str) -> String {
    s.chars()
        .map(|c| c.to_lowercase().next().unwrap_or(c))
        .collect()
}

/// Go's `strings.ToUpper`: simple case mapping, so a character whose upper case is several
/// characters (`ß` → `SS`) stays as it is.
fn go_upper(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut up = c.to_uppercase();
            match (up.next(), up.next()) {
                (Some(u), None) => u,
                _ => c,
            }
        })
        .collect()
}

/// Prometheus' `relabel.Config.Validate`, in its order.
fn validate(spec: &RelabelSpec, action: Action) -> Result<(), RelabelError> {
    use Action::*;
    let target = spec.target_label.as_str();
    if spec.modulus == 0 && action == HashMod {
        return Err(RelabelError::ZeroModulus);
    }
    let writes = matches!(
        action,
        Replace | HashMod | Lowercase | Uppercase | KeepEqual | DropEqual
    );
    if writes && target.is_empty() {
        return Err(RelabelError::TargetLabelRequired(action));
    }
    let invalid_target = || RelabelError::InvalidTargetLabel(target.to_owned(), action);
    // Under UTF-8 validation a template such as `${1}` is itself a valid (non-empty) name.
    if action == Replace && !is_valid_label_name(target) {
        return Err(invalid_target());
    }
    let case_or_equal = matches!(action, Lowercase | Uppercase | KeepEqual | DropEqual);
    if case_or_equal && !is_valid_label_name(target) {
        return Err(invalid_target());
    }
    if case_or_equal && spec.replacement != DEFAULT_REPLACEMENT {
        return Err(RelabelError::ReplacementNotAllowed(action));
    }
    if action == LabelMap && !is_valid_label_name(&spec.replacement) {
        return Err(RelabelError::InvalidReplacement(
            spec.replacement.clone(),
            action,
        ));
    }
    if action == HashMod && !is_valid_label_name(target) {
        return Err(invalid_target());
    }
    if matches!(action, KeepEqual | DropEqual)
        && (spec.regex.is_some()
            || spec.modulus != 0
            || spec.separator != DEFAULT_SEPARATOR
            || spec.replacement != DEFAULT_REPLACEMENT)
    {
        return Err(RelabelError::EqualActionFields(action));
    }
    if matches!(action, LabelDrop | LabelKeep)
        && (spec.source_labels.is_some()
            || !target.is_empty()
            || spec.modulus != 0
            || spec.separator != DEFAULT_SEPARATOR
            || spec.replacement != DEFAULT_REPLACEMENT)
    {
        return Err(RelabelError::LabelActionFields(action));
    }
    Ok(())
}

/// Applies `cfgs` in order to `labels`; `None` when a rule drops the set.
pub fn process(labels: Labels, cfgs: &[RelabelConfig]) -> Option<Labels> {
    if cfgs.is_empty() {
        return Some(labels);
    }
    let mut lb = LabelsBuilder::new(&labels);
    process_builder(&mut lb, cfgs).then(|| lb.labels())
}

/// Like [`process`] on a builder the caller owns (e.g. target labels being assembled); false
/// when a rule drops the set, which leaves the builder part-way edited.
pub fn process_builder(lb: &mut LabelsBuilder, cfgs: &[RelabelConfig]) -> bool {
    cfgs.iter().all(|cfg| cfg.apply(lb))
}

#[cfg(test)]
mod tests;
