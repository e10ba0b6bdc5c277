//! `${VAR}` expansion in string values.
//!
//! Prometheus expands environment variables only in a few places (external labels, behind a
//! feature flag); watchfire expands them in every string value of the config file, before the
//! value is interpreted (so `scrape_interval: ${INTERVAL}` works too). The rules:
//! - `${NAME}` is replaced by the variable's value; `NAME` is `[A-Za-z_][A-Za-z0-9_]*`;
//! - `$$` is a literal `$`;
//! - any other `$` is kept as is (`foo$`, `$1`, `$NAME` without braces);
//! - an unset variable, an unterminated `${` or a bad name inside `${...}` is an error.
//!
//! Expanded text is not expanded again, and mapping keys are never expanded.

/// Why a value could not be expanded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvError {
    /// `${NAME}` names a variable that is not set.
    #[error("environment variable {0:?} is not set")]
    Unset(String),
    /// `${` without its closing `}`.
    #[error("unterminated \"${{\" in {0:?}")]
    Unterminated(String),
    /// `${...}` holding something that is not a variable name.
    #[error("invalid environment variable name {0:?} (use $$ for a literal $)")]
    BadName(String),
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Expands `${NAME}` and `$$` in `input`, looking variables up with `lookup`.
///
/// Text without `$` comes back as it is.
pub fn expand(input: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, EnvError> {
    if !input.contains('$') {
        return Ok(input.to_owned());
    }
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(braced) = after.strip_prefix('{') {
            let Some(close) = braced.find('}') else {
                return Err(EnvError::Unterminated(input.to_owned()));
            };
            let name = &braced[..close];
            if !is_name(name) {
                return Err(EnvError::BadName(name.to_owned()));
            }
            match lookup(name) {
                Some(value) => out.push_str(&value),
                None => return Err(EnvError::Unset(name.to_owned())),
            }
            rest = &braced[close + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Looks a variable up in the process environment; a value that is not valid UTF-8 counts as
/// unset.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("db1".into()),
            "PORT" => Some("9100".into()),
            "EMPTY" => Some(String::new()),
            "NESTED" => Some("${HOST}".into()),
            _ => None,
        }
    }

    fn run(s: &str) -> Result<String, EnvError> {
        expand(s, &env)
    }

    #[test]
    fn expands_braced_names() {
        assert_eq!(run("${HOST}:${PORT}").unwrap(), "db1:9100");
        assert_eq!(run("a${EMPTY}b").unwrap(), "ab");
        assert_eq!(run("plain").unwrap(), "plain");
        assert_eq!(run("").unwrap(), "");
        assert_eq!(run("${NESTED}").unwrap(), "${HOST}", "no second expansion");
    }

    #[test]
    fn escapes_and_lone_dollars() {
        assert_eq!(run("$$").unwrap(), "$");
        assert_eq!(run("$${HOST}").unwrap(), "${HOST}");
        assert_eq!(run("price$$5").unwrap(), "price$5");
        assert_eq!(run("foo$").unwrap(), "foo$");
        assert_eq!(run("$1 and $HOST").unwrap(), "$1 and $HOST");
        assert_eq!(run("$$$${PORT}").unwrap(), "$${PORT}");
        assert_eq!(run("$$${PORT}").unwrap(), "$9100");
        assert_eq!(run("é${HOST}ü").unwrap(), "édb1ü");
    }

    #[test]
    fn errors_name_the_problem() {
        assert_eq!(run("${NOPE}"), Err(EnvError::Unset("NOPE".into())));
        assert_eq!(
            run("${NOPE}").unwrap_err().to_string(),
            r#"environment variable "NOPE" is not set"#
        );
        assert_eq!(
            run("x${HOST"),
            Err(EnvError::Unterminated("x${HOST".into()))
        );
        assert_eq!(run("${}"), Err(EnvError::BadName(String::new())));
        assert_eq!(run("${a-b}"), Err(EnvError::BadName("a-b".into())));
        assert_eq!(run("${1X}"), Err(EnvError::BadName("1X".into())));
    }

    #[test]
    fn process_env_reads_real_variables() {
        // PATH is set in every environment the tests run in.
        assert!(process_env("PATH").is_some());
        assert!(process_env("WATCHFIRE_SURELY_UNSET_VARIABLE_42").is_none());
    }
}
