//! Secrets: passwords and tokens that never show in logs or in the served config.
//!
//! A secret comes inline (`password: ...`) or from a file (`password_file: ...`). Files are read
//! once at load time, relative to the config file's directory, and their content is trimmed of
//! surrounding whitespace as Prometheus does; a missing file is a load error positioned at the
//! `*_file` value. `Debug`, `Display` and `Serialize` print `<secret>`; only
//! [`Secret::expose`] gives the value, for the code that puts it on the wire.

use super::decode::{At, Cx};
use super::error::{ErrorKind, Scope};
use serde::{Serialize, Serializer};
use std::fmt;
use std::path::{Path, PathBuf};

/// What secrets print as.
pub const REDACTED: &str = "<secret>";

/// A secret string; prints as `<secret>`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself; call only where it goes on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when the value is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

/// A secret and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    /// Written in the config file.
    Inline(Secret),
    /// Read from this file (resolved path) at load time.
    File {
        /// The file, resolved against the config file's directory.
        path: PathBuf,
        /// Its trimmed content.
        secret: Secret,
    },
}

impl SecretSource {
    /// The secret value, wherever it came from.
    pub fn secret(&self) -> &Secret {
        match self {
            SecretSource::Inline(secret) | SecretSource::File { secret, .. } => secret,
        }
    }

    /// The file the secret was read from, if any.
    pub fn file(&self) -> Option<&Path> {
        match self {
            SecretSource::Inline(_) => None,
            SecretSource::File { path, .. } => Some(path),
        }
    }
}

/// Resolves `path` against the config directory, as Prometheus' `JoinDir`: absolute and empty
/// paths are kept as they are.
pub fn resolve_path(dir: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if path.is_empty() || p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.join(p)
    }
}

/// Names of an inline/file secret pair, for messages: e.g. `basic_auth.password` and
/// `basic_auth.password_file`.
pub(crate) struct SecretFields {
    pub inline: &'static str,
    pub file: &'static str,
}

/// Builds a secret from its inline and file fields; both set, or an unreadable file, is
/// reported. Returns `None` when neither is set or on error.
pub(crate) fn load_secret(
    inline: Option<At<String>>,
    file: Option<At<String>>,
    fields: &SecretFields,
    scope: &Scope,
    cx: &mut Cx<'_>,
) -> Option<SecretSource> {
    match (inline, file) {
        (Some(_), Some(file)) => {
            let kind = ErrorKind::Conflict {
                first: fields.inline,
                second: fields.file,
                scope: scope.clone(),
            };
            cx.error(file.pos, kind);
            None
        }
        (Some(inline), None) => Some(SecretSource::Inline(Secret::new(inline.value))),
        (None, Some(file)) => {
            let path = resolve_path(cx.dir, &file.value);
            if cx.syntax_only {
                // `check config --syntax-only`: the file is named, not read.
                return Some(SecretSource::File {
                    secret: Secret::new(""),
                    path,
                });
            }
            match std::fs::read_to_string(&path) {
                Ok(content) => Some(SecretSource::File {
                    secret: Secret::new(content.trim()),
                    path,
                }),
                Err(source) => {
                    cx.error(
                        file.pos,
                        ErrorKind::File {
                            field: fields.file,
                            path,
                            source,
                        },
                    );
                    None
                }
            }
        }
        (None, None) => None,
    }
}

/// Writes a secret into a serialized map as Prometheus shows it: `name: <secret>` when inline,
/// `name_file: PATH` when read from a file.
pub(crate) fn serialize_secret<M: serde::ser::SerializeMap>(
    map: &mut M,
    fields: (&str, &str),
    source: Option<&SecretSource>,
) -> Result<(), M::Error> {
    match source {
        Some(SecretSource::Inline(secret)) => map.serialize_entry(fields.0, secret),
        Some(SecretSource::File { path, .. }) => map.serialize_entry(fields.1, path),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::node::Pos;

    fn at(s: &str, line: u32) -> Option<At<String>> {
        Some(At {
            value: s.to_owned(),
            pos: Pos { line, column: 3 },
        })
    }

    const FIELDS: SecretFields = SecretFields {
        inline: "basic_auth.password",
        file: "basic_auth.password_file",
    };

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn never_prints_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), "<secret>");
        assert_eq!(format!("{s:?}"), "<secret>");
        assert_eq!(
            format!("{:?}", SecretSource::Inline(s.clone())),
            "Inline(<secret>)"
        );
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"<secret>\"");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn reads_files_relative_to_the_config_dir() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "  s3cret\n").unwrap();
        let mut cx = Cx::new(Path::new("c.yml"), dir.path(), "", &no_env);
        let scope = Scope::Job("j".into());
        let got = load_secret(None, at("pw", 1), &FIELDS, &scope, &mut cx).unwrap();
        assert_eq!(got.secret().expose(), "s3cret");
        assert_eq!(got.file(), Some(dir.path().join("pw").as_path()));
        let inline = load_secret(at("x", 1), None, &FIELDS, &scope, &mut cx).unwrap();
        assert_eq!(inline.secret().expose(), "x");
        assert!(load_secret(None, None, &FIELDS, &scope, &mut cx).is_none());
        assert!(cx.into_errors().is_empty());
    }

    #[test]
    fn reports_conflicts_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut cx = Cx::new(Path::new("c.yml"), dir.path(), "", &no_env);
        let scope = Scope::Job("j".into());
        assert!(load_secret(at("x", 1), at("pw", 2), &FIELDS, &scope, &mut cx).is_none());
        assert!(load_secret(None, at("missing", 4), &FIELDS, &scope, &mut cx).is_none());
        let errors: Vec<String> = cx.into_errors().iter().map(ToString::to_string).collect();
        assert_eq!(
            errors[0],
            r#"c.yml:2:3: basic_auth.password and basic_auth.password_file are both set in job "j"; set only one"#
        );
        assert!(
            errors[1].starts_with("c.yml:4:3: cannot read basic_auth.password_file \""),
            "{}",
            errors[1]
        );
        assert!(errors[1].contains("missing"), "{}", errors[1]);
    }

    #[test]
    fn paths_resolve_like_prometheus() {
        assert_eq!(
            resolve_path(Path::new("/etc/wf"), "pw"),
            PathBuf::from("/etc/wf/pw")
        );
        assert_eq!(
            resolve_path(Path::new("/etc/wf"), "/abs/pw"),
            PathBuf::from("/abs/pw")
        );
        assert_eq!(resolve_path(Path::new("/etc/wf"), ""), PathBuf::from(""));
    }
}
