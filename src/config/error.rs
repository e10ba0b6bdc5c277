//! Configuration errors: every one names the file, line and column of the offending value.

use super::env::EnvError;
use std::fmt;
use std::io;
use std::path::PathBuf;

/// One problem in a config file, positioned at the value that causes it.
///
/// Displays as `FILE:LINE:COLUMN: MESSAGE` (`FILE: MESSAGE` when the problem has no position,
/// e.g. the file cannot be read). Lines and columns count from 1; columns count characters.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    /// The config file, as given to [`super::load`] or [`super::parse`].
    pub file: PathBuf,
    /// 1-based line, 0 when unknown.
    pub line: u32,
    /// 1-based column in characters, 0 when unknown.
    pub column: u32,
    /// What is wrong.
    #[source]
    pub kind: ErrorKind,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.kind)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.kind
            )
        }
    }
}

/// Where a scrape-related problem is: the global section or one job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The `global` section.
    Global,
    /// The scrape config with this `job_name` (empty when the name is missing).
    Job(String),
    /// Another section, named as messages print it, e.g. `receiver "ops"`.
    Section(String),
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Global => f.write_str("global"),
            Scope::Job(name) => write!(f, "job {name:?}"),
            Scope::Section(name) => f.write_str(name),
        }
    }
}

/// The kinds of problem a config file can have.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file could not be read.
    #[error("cannot read config file: {0}")]
    Read(#[source] io::Error),
    /// The text is not valid YAML (or holds several documents, or exceeds parser limits).
    #[error("invalid YAML: {0}")]
    Yaml(String),
    /// A mapping key that is not a field of its section.
    #[error("unknown field {field:?} in {section}{}", did_you_mean(.suggestion))]
    UnknownField {
        /// The key as written.
        field: String,
        /// The section path, e.g. `scrape_configs[0].basic_auth`.
        section: String,
        /// A known field spelled closely, if any.
        suggestion: Option<&'static str>,
    },
    /// A top-level section of Prometheus/Alertmanager that watchfire does not accept yet.
    #[error("{0:?} is not supported yet")]
    NotYetSupported(String),
    /// A key Prometheus accepts that watchfire does not implement (an unsupported service
    /// discovery mechanism, a native-histogram option, ...), refused by name.
    #[error("{path}: {reason}")]
    NotSupported {
        /// The key's path, e.g. `scrape_configs[2].consul_sd_configs`.
        path: String,
        /// Why, and what to use instead when there is something.
        reason: String,
    },
    /// A job name used twice across the main file and its `scrape_config_files`, worded as
    /// Prometheus words it.
    #[error("found multiple scrape configs with job name {name:?}, first found in {first}")]
    DuplicateJobAcrossFiles {
        /// The repeated name.
        name: String,
        /// `main config file` or the quoted path of the file that has it first.
        first: String,
    },
    /// A value of the wrong YAML type.
    #[error("{path}: expected {expected}, found {found}")]
    WrongType {
        /// Path of the value, e.g. `global.scrape_interval`.
        path: String,
        /// What the field takes.
        expected: &'static str,
        /// What the file has.
        found: &'static str,
    },
    /// A value of the right type that does not parse or is out of range.
    #[error("{path}: {message}")]
    InvalidValue {
        /// Path of the value.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// `${VAR}` expansion failed.
    #[error("{path}: {source}")]
    Env {
        /// Path of the value.
        path: String,
        /// The expansion problem.
        source: EnvError,
    },
    /// A required field is absent or empty.
    #[error("{path} is required")]
    Missing {
        /// Path of the missing field.
        path: String,
    },
    /// Two scrape configs share a `job_name`.
    #[error("duplicate job_name {name:?} (first used at line {first_line})")]
    DuplicateJob {
        /// The repeated name.
        name: String,
        /// Line of the first use.
        first_line: u32,
    },
    /// `scrape_timeout` exceeds `scrape_interval`.
    #[error("scrape_timeout {timeout} is greater than scrape_interval {interval} in {scope}")]
    TimeoutExceedsInterval {
        /// The timeout, as Prometheus prints durations.
        timeout: String,
        /// The interval.
        interval: String,
        /// Global section or job.
        scope: Scope,
    },
    /// A label name outside `[a-zA-Z_][a-zA-Z0-9_]*`.
    #[error("invalid label name {name:?} in {place}")]
    InvalidLabelName {
        /// The name as written.
        name: String,
        /// E.g. `external_labels` or `labels of job "node"`.
        place: String,
    },
    /// A target that is not `host:port`.
    #[error("invalid target {target:?} in {scope}: {reason}")]
    InvalidTarget {
        /// The target as written (after `${VAR}` expansion).
        target: String,
        /// The job.
        scope: Scope,
        /// Why.
        reason: &'static str,
    },
    /// Two fields that exclude each other are both set.
    #[error("{first} and {second} are both set in {scope}; set only one")]
    Conflict {
        /// The first field, e.g. `basic_auth.password`.
        first: &'static str,
        /// The second field, e.g. `basic_auth.password_file`.
        second: &'static str,
        /// The job.
        scope: Scope,
    },
    /// A field that needs another one, e.g. `tls_config.cert_file` without `key_file`.
    #[error("{present} is set without {missing} in {scope}")]
    Requires {
        /// The field that is set.
        present: &'static str,
        /// The field it needs.
        missing: &'static str,
        /// The job.
        scope: Scope,
    },
    /// `scheme` other than `http` or `https`.
    #[error("unknown scheme {scheme:?} in {scope} (expected http or https)")]
    UnknownScheme {
        /// The scheme as written.
        scheme: String,
        /// The job.
        scope: Scope,
    },
    /// `authorization.type: Basic`, which Prometheus forbids.
    #[error("authorization type cannot be {kind:?} in {scope}; use basic_auth instead")]
    BasicAuthorizationType {
        /// The type as written.
        kind: String,
        /// The job.
        scope: Scope,
    },
    /// A file named by the config (`password_file`, `ca_file`, ...) cannot be read.
    #[error("cannot read {field} {path:?}: {source}")]
    File {
        /// The field naming the file.
        field: &'static str,
        /// The path, resolved against the config file's directory.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A relabel rule that Prometheus' validation refuses.
    #[error("{path}: {source}")]
    Relabel {
        /// The rule, e.g. `scrape_configs[0].metric_relabel_configs[1]`.
        path: String,
        /// Why, worded as Prometheus words it.
        source: crate::model::relabel::RelabelError,
    },
    /// A `rule_files` entry that is not a valid glob pattern.
    #[error("invalid rule_files pattern {pattern:?}: {message}")]
    Glob {
        /// The pattern as written.
        pattern: String,
        /// Why it is invalid.
        message: String,
    },
}

fn did_you_mean(s: &Option<&'static str>) -> String {
    match s {
        Some(name) => format!(", did you mean {name:?}?"),
        None => String::new(),
    }
}

/// All problems found in a config file, sorted by position; loading fails when there is any.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The problems, one per element.
    pub fn errors(&self) -> &[ConfigError] {
        &self.0
    }

    /// Each problem rendered as one `FILE:LINE:COLUMN: MESSAGE` line.
    pub fn lines(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }
}

impl fmt::Display for ConfigErrors {
    /// One problem per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(line: u32, kind: ErrorKind) -> ConfigError {
        ConfigError {
            file: "x.yml".into(),
            line,
            column: 5,
            kind,
        }
    }

    #[test]
    fn displays_file_line_column() {
        let e = err(
            12,
            ErrorKind::TimeoutExceedsInterval {
                timeout: "20s".into(),
                interval: "15s".into(),
                scope: Scope::Job("node".into()),
            },
        );
        assert_eq!(
            e.to_string(),
            r#"x.yml:12:5: scrape_timeout 20s is greater than scrape_interval 15s in job "node""#
        );
        let e = err(0, ErrorKind::Read(io::Error::from(io::ErrorKind::NotFound)));
        assert!(
            e.to_string()
                .starts_with("x.yml: cannot read config file: "),
            "{e}"
        );
    }

    #[test]
    fn unknown_field_suggests() {
        let e = ErrorKind::UnknownField {
            field: "scrape_intervall".into(),
            section: "global".into(),
            suggestion: Some("scrape_interval"),
        };
        assert_eq!(
            e.to_string(),
            r#"unknown field "scrape_intervall" in global, did you mean "scrape_interval"?"#
        );
    }

    #[test]
    fn errors_join_lines() {
        let all = ConfigErrors(vec![
            err(
                1,
                ErrorKind::Missing {
                    path: "scrape_configs[0].job_name".into(),
                },
            ),
            err(2, ErrorKind::NotYetSupported("alerting".into())),
        ]);
        assert_eq!(
            all.to_string(),
            "x.yml:1:5: scrape_configs[0].job_name is required\n\
             x.yml:2:5: \"alerting\" is not supported yet"
        );
        assert_eq!(all.lines().len(), 2);
    }
}
