//! `watchfire check rules FILE...`: validate rule files as `promtool check
//! rules` does, reporting every problem per file.

use super::file::{load_rule_file, LoadOptions, RuleFile, RuleFileError};
use std::io::{self, Write};
use std::path::Path;

/// Options for checking.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    /// Loader options.
    pub load: LoadOptions,
    /// Report rules with the same name and labels (promtool's default lint).
    pub lint_duplicates: bool,
    /// Treat lint findings as fatal (exit code 3).
    pub lint_fatal: bool,
}

/// The outcome of checking one file.
#[derive(Debug, Clone)]
pub struct FileCheck {
    /// The path as given.
    pub path: String,
    /// The loaded file, or every problem found.
    pub result: Result<RuleFile, Vec<RuleFileError>>,
    /// Rules whose name and labels appear more than once: (name, labels).
    pub duplicates: Vec<(String, Vec<(String, String)>)>,
}

/// Checks each file, collecting all errors per file.
pub fn check_rule_files<P: AsRef<Path>>(paths: &[P], opts: CheckOptions) -> Vec<FileCheck> {
    paths
        .iter()
        .map(|p| {
            let result = load_rule_file(p.as_ref(), opts.load);
            let duplicates = match (&result, opts.lint_duplicates) {
                (Ok(f), true) => duplicate_rules(f),
                _ => Vec::new(),
            };
            FileCheck {
                path: p.as_ref().display().to_string(),
                result,
                duplicates,
            }
        })
        .collect()
}

/// Rules with the same name and merged labels, each reported once, sorted.
pub fn duplicate_rules(f: &RuleFile) -> Vec<(String, Vec<(String, String)>)> {
    let mut all: Vec<(String, Vec<(String, String)>)> = f
        .groups
        .iter()
        .flat_map(|g| g.rules.iter().map(|r| (r.name.clone(), r.labels.clone())))
        .collect();
    all.sort();
    let mut dups: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for w in all.windows(2) {
        if w[0] == w[1] && dups.last() != Some(&w[1]) {
            dups.push(w[1].clone());
        }
    }
    dups
}

/// Runs the check with promtool's output (`Checking F`, `SUCCESS: N rules
/// found`, `FAILED:` and the errors on `err`); returns the exit code: 0 ok,
/// 1 errors, 3 lint findings with `lint_fatal`.
pub fn check_rules_command<P: AsRef<Path>>(
    paths: &[P],
    opts: CheckOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<i32> {
    let mut has_errors = false;
    let mut lint_failed = false;
    for fc in check_rule_files(paths, opts) {
        writeln!(out, "Checking {}", fc.path)?;
        match &fc.result {
            Err(errs) => {
                has_errors = true;
                writeln!(err, "  FAILED:")?;
                for e in errs {
                    writeln!(err, "{e}")?;
                }
                continue;
            }
            Ok(f) if !fc.duplicates.is_empty() => {
                lint_failed = true;
                let _ = f;
                writeln!(err, "  FAILED:")?;
                writeln!(
                    err,
                    "lint error {} duplicate rule(s) found.",
                    fc.duplicates.len()
                )?;
                for (name, labels) in &fc.duplicates {
                    writeln!(err, "Metric: {name}\nLabel(s):")?;
                    for (k, v) in labels {
                        writeln!(err, "\t{k}: {v}")?;
                    }
                }
                writeln!(err, "Might cause inconsistency while recording expressions")?;
            }
            Ok(f) => writeln!(out, "  SUCCESS: {} rules found", f.rule_count())?,
        }
        writeln!(out)?;
    }
    Ok(match (has_errors, lint_failed && opts.lint_fatal) {
        (true, _) => 1,
        (false, true) => 3,
        _ => 0,
    })
}
