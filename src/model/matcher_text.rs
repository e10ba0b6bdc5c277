//! Alertmanager's matcher syntax: `name="value"`, `name=~"regex"`, `name!=value`, lists
//! separated by commas, optionally in braces (`{a="b", c=~"d|e"}`).
//!
//! Parsing follows Alertmanager's classic parser (`pkg/labels/parse.go`): the value may be
//! quoted (then `\"`, `\\` and `\n` are escapes) or bare; surrounding spaces are trimmed;
//! regexes are anchored at both ends. Printing follows `Matchers.String()`, which route keys
//! (and so webhook `groupKey`s) are built from.

use crate::model::{Labels, MatchOp, Matcher};
use std::cmp::Ordering;

/// A matcher that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MatcherParseError {
    /// The text is not `name op value`.
    #[error("bad matcher format: {0}")]
    Format(String),
    /// A double quote in the middle of the value.
    #[error("matcher value contains unescaped double quote: {0}")]
    Quote(String),
    /// The regex does not compile.
    #[error("{0}")]
    Regex(String),
}

/// Parses one or more comma-separated matchers, optionally in braces.
pub fn parse_matchers(text: &str) -> Result<Vec<Matcher>, MatcherParseError> {
    let trimmed = text.trim();
    let inner = trimmed.strip_prefix('{').unwrap_or(trimmed);
    let inner = inner.strip_suffix('}').unwrap_or(inner);
    let mut tokens = Vec::new();
    let mut token = String::new();
    let (mut quoted, mut escaped) = (false, false);
    for c in inner.chars() {
        match c {
            ',' if !quoted => {
                tokens.push(std::mem::take(&mut token));
                continue;
            }
            '"' if !escaped => quoted = !quoted,
            '"' => escaped = false,
            '\\' => escaped = !escaped,
            _ => escaped = false,
        }
        token.push(c);
    }
    if !token.trim().is_empty() {
        tokens.push(token);
    }
    tokens.iter().map(|t| parse_matcher(t)).collect()
}

/// Parses a single matcher such as `severity=~"critical|page"`.
pub fn parse_matcher(text: &str) -> Result<Matcher, MatcherParseError> {
    let s = text.trim();
    let name_len = s
        .char_indices()
        .find(|&(i, c)| {
            !(c == '_' || c == ':' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()))
        })
        .map_or(s.len(), |(i, _)| i);
    let format_error = || MatcherParseError::Format(text.to_owned());
    if name_len == 0 {
        return Err(format_error());
    }
    let name = &s[..name_len];
    let rest = s[name_len..].trim_start();
    let (op, raw) = ["=~", "!=", "!~", "="]
        .iter()
        .find_map(|op| rest.strip_prefix(op).map(|r| (*op, r.trim())))
        .ok_or_else(format_error)?;
    let value = unescape(raw).ok_or_else(|| MatcherParseError::Quote(raw.to_owned()))?;
    let regex_error = |e: crate::model::MatcherError| MatcherParseError::Regex(e.to_string());
    match op {
        "=" => Ok(Matcher::equal(name, value)),
        "!=" => Ok(Matcher::not_equal(name, value)),
        "=~" => Matcher::regex(name, &value).map_err(regex_error),
        _ => Matcher::not_regex(name, &value).map_err(regex_error),
    }
}

/// The value of a matcher as written: quotes removed and escapes decoded; `None` for a stray
/// double quote.
fn unescape(raw: &str) -> Option<String> {
    let (body, mut expect_quote) = match raw.strip_prefix('"') {
        Some(rest) => (rest, true),
        None => (raw, false),
    };
    let mut out = String::with_capacity(body.len());
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if chars.peek().is_some() => {
                let (_, next) = chars.next()?;
                match next {
                    'n' => out.push('\n'),
                    '"' | '\\' => out.push(next),
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
            }
            '"' => {
                if !expect_quote || i + 1 < body.len() {
                    return None;
                }
                expect_quote = false;
            }
            c => out.push(c),
        }
    }
    (!expect_quote).then_some(out)
}

/// Alertmanager's text for one matcher: `name="value"` with `\`, newline and `"` escaped.
pub fn matcher_string(m: &Matcher) -> String {
    let mut out = String::new();
    out.push_str(&m.name);
    out.push_str(m.op_str());
    out.push('"');
    for c in m.value().chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Alertmanager's matcher order: by name, then value, then operator (`=`, `!=`, `=~`, `!~`).
pub fn compare(a: &Matcher, b: &Matcher) -> Ordering {
    let rank = |m: &Matcher| match m.op {
        MatchOp::Equal(_) => 0,
        MatchOp::NotEqual(_) => 1,
        MatchOp::Re(_) => 2,
        MatchOp::NotRe(_) => 3,
    };
    (a.name.as_str(), a.value(), rank(a)).cmp(&(b.name.as_str(), b.value(), rank(b)))
}

/// `{m1,m2}` as Alertmanager's `Matchers.String()` (no spaces).
pub fn matchers_string(ms: &[Matcher]) -> String {
    let mut out = String::from("{");
    for (i, m) in ms.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&matcher_string(m));
    }
    out.push('}');
    out
}

/// Whether every matcher matches `labels` (absent labels match as the empty string).
pub fn matches_all(ms: &[Matcher], labels: &Labels) -> bool {
    ms.iter()
        .all(|m| m.matches(labels.get(&m.name).unwrap_or("")))
}

/// A label set as Prometheus' `model.LabelSet.String()`: `{a="x", b="y"}` with Go quoting.
pub fn label_set_string(labels: &Labels) -> String {
    let mut out = String::from("{");
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&l.name);
        out.push('=');
        crate::gostd::text::quote_into(&mut out, &l.value);
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(text: &str) -> Vec<String> {
        parse_matchers(text)
            .unwrap()
            .iter()
            .map(matcher_string)
            .collect()
    }

    #[test]
    fn parses_alertmanager_forms() {
        assert_eq!(
            strings(r#"severity="critical""#),
            [r#"severity="critical""#]
        );
        assert_eq!(strings("team = db"), [r#"team="db""#]);
        assert_eq!(
            strings(r#"{a=~"x|y", b!="q,r", c!~z}"#),
            [r#"a=~"x|y""#, r#"b!="q,r""#, r#"c!~"z""#]
        );
        assert_eq!(strings(r#"a="say \"hi\"\n""#), [r#"a="say \"hi\"\n""#]);
        let m = parse_matcher(r#"path="C:\temp""#).unwrap();
        assert_eq!(m.value(), r"C:\temp");
        assert!(parse_matchers("").unwrap().is_empty());
    }

    #[test]
    fn regexes_are_anchored() {
        let m = parse_matcher("job=~api.*").unwrap();
        assert!(m.matches("api-1") && !m.matches("my-api"));
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(
            parse_matcher("=x"),
            Err(MatcherParseError::Format(_))
        ));
        assert!(matches!(
            parse_matcher("a~x"),
            Err(MatcherParseError::Format(_))
        ));
        assert!(matches!(
            parse_matcher(r#"a="x"y""#),
            Err(MatcherParseError::Quote(_))
        ));
        assert!(matches!(
            parse_matcher(r#"a="x"#),
            Err(MatcherParseError::Quote(_))
        ));
        assert!(matches!(
            parse_matcher("a=~("),
            Err(MatcherParseError::Regex(_))
        ));
        assert!(parse_matcher("1a=x").is_err());
    }

    #[test]
    fn strings_and_order_as_alertmanager() {
        let mut ms = parse_matchers(r#"team="db", env=~"prod""#).unwrap();
        ms.sort_by(compare);
        assert_eq!(matchers_string(&ms), r#"{env=~"prod",team="db"}"#);
        let l = Labels::from_pairs([("alertname", "Disk\"Full"), ("cluster", "eu1")]);
        assert_eq!(
            label_set_string(&l),
            r#"{alertname="Disk\"Full", cluster="eu1"}"#
        );
        assert!(matches_all(
            &ms,
            &Labels::from_pairs([("env", "prod"), ("team", "db")])
        ));
        assert!(!matches_all(&ms, &Labels::from_pairs([("env", "prod")])));
    }
}
