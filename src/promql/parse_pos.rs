//! Finding where a parse error is: `promql-parser` reports messages without
//! positions, so we locate the problem from the message and, for generic
//! syntax errors, by finding the first token after which no completion of
//! the query parses.

/// Byte offset of the problem described by `message` in `query`.
pub(crate) fn locate(query: &str, message: &str) -> Option<usize> {
    if message.starts_with("unexpected end of input") || message.starts_with("unterminated") {
        if message.starts_with("unterminated quoted string") {
            return last_unclosed_quote(query);
        }
        return Some(query.len());
    }
    if message == "unclosed left parenthesis" {
        return unclosed_paren(query);
    }
    if let Some(c) = quoted_after(message, "unexpected character inside brackets: '") {
        let open = query.find('[')?;
        return query[open..].find(c).map(|p| open + p);
    }
    for prefix in [
        "unknown function with name '",
        "expected type matrix in call to function '",
        "expected type vector in call to function '",
        "expected type scalar in call to function '",
        "expected type string in call to function '",
    ] {
        if let Some(name) = quoted_after(message, prefix) {
            return find_word(query, name);
        }
    }
    if let Some(rest) = message.strip_prefix("bad number or duration syntax: ") {
        return query.find(rest.trim());
    }
    if let Some(rest) = message.strip_prefix("illegal regex for ") {
        return query.find(rest.trim());
    }
    if message == "invalid promql query" {
        return first_bad_token(query);
    }
    None
}

fn quoted_after<'m>(message: &'m str, prefix: &str) -> Option<&'m str> {
    let rest = message.strip_prefix(prefix)?;
    rest.split('\'').next()
}

fn find_word(query: &str, word: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(p) = query[from..].find(word) {
        let at = from + p;
        let before_ok = query[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == ':'));
        if before_ok {
            return Some(at);
        }
        from = at + word.len();
    }
    None
}

fn last_unclosed_quote(query: &str) -> Option<usize> {
    let mut open: Option<(usize, char)> = None;
    let mut chars = query.char_indices();
    while let Some((i, c)) = chars.next() {
        match open {
            Some((_, q)) if c == q => open = None,
            Some((_, q)) if c == '\\' && q != '`' => {
                chars.next();
            }
            Some(_) => {}
            None if c == '"' || c == '\'' || c == '`' => open = Some((i, c)),
            None => {}
        }
    }
    open.map(|(i, _)| i)
}

fn unclosed_paren(query: &str) -> Option<usize> {
    let mut stack = Vec::new();
    for (i, t) in tokens(query) {
        match t {
            "(" => stack.push(i),
            ")" => {
                stack.pop();
            }
            _ => {}
        }
    }
    stack.last().copied()
}

/// A rough PromQL tokenizer: (byte offset, token text).
pub(crate) fn tokens(q: &str) -> Vec<(usize, &str)> {
    let b = q.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if c == b'#' {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'"' || c == b'\'' || c == b'`' {
            i += 1;
            while i < b.len() && b[i] != c {
                if b[i] == b'\\' && c != b'`' {
                    i += 1;
                }
                i += 1;
            }
            i = (i + 1).min(b.len());
        } else if c.is_ascii_alphanumeric()
            || c == b'_'
            || c == b'.'
            || (c == b':'
                && b.get(i + 1)
                    .is_some_and(|n| n.is_ascii_alphabetic() || *n == b'_'))
        {
            // Numbers and durations end at ':' (subquery step); names may contain it.
            let number = c.is_ascii_digit() || c == b'.';
            while i < b.len()
                && (b[i].is_ascii_alphanumeric()
                    || b[i] == b'_'
                    || b[i] == b'.'
                    || (b[i] == b':' && !number))
            {
                i += 1;
            }
        } else if !c.is_ascii() {
            i += 1;
            while i < b.len() && !q.is_char_boundary(i) {
                i += 1;
            }
        } else {
            let two = q.get(i..i + 2).unwrap_or("");
            i += if matches!(two, "==" | "!=" | ">=" | "<=" | "=~" | "!~") {
                2
            } else {
                1
            };
        }
        out.push((start, &q[start..i]));
    }
    out
}

/// Texts that may complete a valid prefix of a query.
const COMPLETIONS: &[&str] = &[
    "", " 1", " x", ")", " 1)", " x)", "))", " 1))", "]", "5m]", "}", "\"\"}", "=\"\"}", " 1)))",
    "5m])", "\"\"})", "=\"\"})", " (x)", " 1m", " 1m)", "(x)", ":1m])", "x)",
];

fn viable(prefix: &str) -> bool {
    COMPLETIONS
        .iter()
        .any(|c| super::parse::safe_parse(&format!("{prefix}{c}")).is_ok())
}

/// The first token after which no completion parses.
fn first_bad_token(query: &str) -> Option<usize> {
    let toks = tokens(query);
    for (k, &(start, text)) in toks.iter().enumerate() {
        let end = start + text.len();
        if !viable(&query[..end]) {
            return Some(start);
        }
        if k > 200 {
            break;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by `make fuzz`: an operator byte followed by a multi-byte character.
    #[test]
    fn operator_before_multibyte_char_does_not_panic() {
        for q in [":>\u{363}", "+[\u{365}", "=\u{e9}", "!\u{1F600}"] {
            assert!(crate::promql::parse(q).is_err(), "{q:?}");
        }
    }

    #[test]
    fn locates_common_errors() {
        assert_eq!(locate("sum(foo", "unclosed left parenthesis"), Some(3));
        assert_eq!(locate("1 +* 2", "invalid promql query"), Some(3));
        assert_eq!(locate("foo bar", "invalid promql query"), Some(4));
        assert_eq!(
            locate("abs(nope(x))", "unknown function with name 'nope'"),
            Some(4)
        );
        assert_eq!(
            locate("foo{a=\"b\"", "unexpected end of input inside braces"),
            Some(9)
        );
        assert_eq!(
            locate("x[5m+1m]", "unexpected character inside brackets: '+'"),
            Some(4)
        );
    }
}
