//! Label matchers (`=`, `!=`, `=~`, `!~`) with PromQL's anchored regexes.

use parking_lot::Mutex;
use regex::Regex;
use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

/// A matcher's operator; regex operators carry the compiled, anchored regex.
#[derive(Debug, Clone)]
pub enum MatchOp {
    /// `=`
    Equal(String),
    /// `!=`
    NotEqual(String),
    /// `=~` (the regex must match the whole value)
    Re(Regex),
    /// `!~`
    NotRe(Regex),
}

/// One label matcher. A missing label matches as the empty string, as in PromQL.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// Label name.
    pub name: String,
    /// Operator and operand.
    pub op: MatchOp,
}

/// A regex in a matcher that does not compile.
#[derive(Debug, thiserror::Error)]
#[error("invalid regex {pattern:?} for label {name:?}: {source}")]
pub struct MatcherError {
    /// Label name.
    pub name: String,
    /// The pattern as written.
    pub pattern: String,
    /// The regex engine's complaint.
    #[source]
    pub source: regex::Error,
}

impl Matcher {
    /// `name="value"`.
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            op: MatchOp::Equal(value.into()),
        }
    }

    /// `name!="value"`.
    pub fn not_equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            op: MatchOp::NotEqual(value.into()),
        }
    }

    /// `name=~"pattern"`, anchored at both ends as PromQL does.
    pub fn regex(name: impl Into<String>, pattern: &str) -> Result<Self, MatcherError> {
        let name = name.into();
        Ok(Self {
            op: MatchOp::Re(anchored(&name, pattern)?),
            name,
        })
    }

    /// `name!~"pattern"`, anchored.
    pub fn not_regex(name: impl Into<String>, pattern: &str) -> Result<Self, MatcherError> {
        let name = name.into();
        Ok(Self {
            op: MatchOp::NotRe(anchored(&name, pattern)?),
            name,
        })
    }

    /// Whether a label value (empty when the label is absent) matches.
    pub fn matches(&self, value: &str) -> bool {
        match &self.op {
            MatchOp::Equal(v) => v == value,
            MatchOp::NotEqual(v) => v != value,
            MatchOp::Re(re) => re.is_match(value),
            MatchOp::NotRe(re) => !re.is_match(value),
        }
    }

    /// Whether the matcher matches the empty string (and so series without
    /// the label).
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// The pattern or value as written by the user (regexes without our anchors).
    pub fn value(&self) -> &str {
        match &self.op {
            MatchOp::Equal(v) | MatchOp::NotEqual(v) => v,
            MatchOp::Re(re) | MatchOp::NotRe(re) => unanchor(re.as_str()),
        }
    }

    /// The operator as PromQL writes it.
    pub fn op_str(&self) -> &'static str {
        match self.op {
            MatchOp::Equal(_) => "=",
            MatchOp::NotEqual(_) => "!=",
            MatchOp::Re(_) => "=~",
            MatchOp::NotRe(_) => "!~",
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op_str(), self.value())
    }
}

/// Most compiled regexes kept; the cache is emptied when it is full, so a
/// stream of distinct patterns (hostile API requests) cannot grow memory.
const REGEX_CACHE_CAPACITY: usize = 4096;

/// Compiled anchored regexes by pattern. Rules evaluate the same selectors
/// every interval, and compiling a regex costs far more than matching with
/// it; `Regex` clones share the compiled program.
static REGEX_CACHE: LazyLock<Mutex<HashMap<String, Regex>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Compiles `pattern` anchored at both ends with `.` matching newlines, as
/// PromQL (Go's RE2 with `^(?s:…)$`), reusing earlier compilations.
pub fn anchored_regex(pattern: &str) -> Result<Regex, regex::Error> {
    if let Some(re) = REGEX_CACHE.lock().get(pattern) {
        return Ok(re.clone());
    }
    let re = Regex::new(&format!("^(?s:{pattern})$"))?;
    let mut cache = REGEX_CACHE.lock();
    if cache.len() >= REGEX_CACHE_CAPACITY {
        cache.clear();
    }
    cache.insert(pattern.to_string(), re.clone());
    Ok(re)
}

fn anchored(name: &str, pattern: &str) -> Result<Regex, MatcherError> {
    anchored_regex(pattern).map_err(|source| MatcherError {
        name: name.to_string(),
        pattern: pattern.to_string(),
        source,
    })
}

fn unanchor(s: &str) -> &str {
    s.strip_prefix("^(?s:")
        .and_then(|s| s.strip_suffix(")$"))
        .unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_is_anchored_and_dot_matches_newline() {
        let m = Matcher::regex("job", "api.*").unwrap();
        assert!(m.matches("api-server"));
        assert!(!m.matches("my-api"));
        assert!(Matcher::regex("x", "a.b").unwrap().matches("a\nb"));
        assert_eq!(m.value(), "api.*");
    }

    #[test]
    fn alternation_is_anchored_as_a_whole() {
        let m = Matcher::regex("code", "2..|5..").unwrap();
        assert!(m.matches("500"));
        assert!(!m.matches("1500"));
    }

    #[test]
    fn empty_value_semantics() {
        assert!(Matcher::equal("a", "").matches_empty());
        assert!(!Matcher::not_equal("a", "").matches_empty());
        assert!(Matcher::regex("a", ".*").unwrap().matches_empty());
    }

    #[test]
    fn bad_regex_is_an_error() {
        let e = Matcher::regex("a", "(").unwrap_err();
        assert!(e.to_string().contains("invalid regex"));
    }
}
