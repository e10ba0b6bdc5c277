//! `watchfire test rules FILE...`: rule unit tests in the `promtool test
//! rules` format (see `conformance/promtool-test-format.md`), with the same
//! pass/fail, messages and exit codes. Extension: `exp_labels` may carry
//! `severity` for threshold rules.

mod format;
mod output;
mod runner;
pub mod series;

use crate::rules::duration::parse_duration;
use crate::rules::file::{load_rule_file, LoadOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Options of `test rules`.
#[derive(Debug, Clone, Default)]
pub struct TestOptions {
    /// `--run` regexes (ORed): only test groups whose name matches run.
    pub run: Vec<String>,
    /// Accept unknown keys in rule files (not in test files).
    pub ignore_unknown_fields: bool,
    /// Loader options for rule files.
    pub load: LoadOptions,
}

/// The outcome of one test file.
#[derive(Debug, Clone)]
pub struct FileOutcome {
    /// The file as given.
    pub path: String,
    /// Error texts, empty when every test group passed.
    pub errors: Vec<String>,
    /// Warnings (rule file patterns without a match).
    pub warnings: Vec<String>,
}

impl FileOutcome {
    /// Whether every test group passed.
    pub fn passed(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Runs the tests of one file.
pub fn run_test_file(path: &Path, opts: &TestOptions) -> FileOutcome {
    let mut out = FileOutcome {
        path: path.display().to_string(),
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    out.errors = match run_inner(path, opts, &mut out.warnings) {
        Ok(errs) => errs,
        Err(e) => vec![e],
    };
    out
}

fn run_inner(
    path: &Path,
    opts: &TestOptions,
    warnings: &mut Vec<String>,
) -> Result<Vec<String>, String> {
    let content = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let file = format::parse_test_file(&content)?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut rule_files: Vec<PathBuf> = Vec::new();
    for rf in file.rule_files.iter().flatten() {
        let full = if rf.is_empty() || Path::new(rf).is_absolute() {
            PathBuf::from(rf)
        } else {
            base.join(rf)
        };
        let pattern = full.to_string_lossy().to_string();
        let found: Vec<PathBuf> = glob::glob(&pattern)
            .map_err(|e| e.to_string())?
            .filter_map(Result::ok)
            .collect();
        if found.is_empty() {
            warnings.push(format!("no file match pattern {pattern}"));
        }
        rule_files.extend(found);
    }
    let eval_interval_ms = match file.evaluation_interval.as_deref() {
        None => 60_000,
        Some(s) => match parse_duration(s)? {
            0 => 60_000,
            ms => ms,
        },
    };
    let order = file.group_eval_order.unwrap_or_default();
    for (i, n) in order.iter().enumerate() {
        if order[..i].contains(n) {
            return Err(format!("group name repeated in evaluation order: {n}"));
        }
    }
    let run: Option<regex::Regex> = if opts.run.is_empty() {
        None
    } else {
        Some(regex::Regex::new(&opts.run.join("|")).map_err(|e| e.to_string())?)
    };
    let load = LoadOptions {
        ignore_unknown_fields: opts.ignore_unknown_fields,
        ..opts.load
    };
    let mut groups = Vec::new();
    let mut load_errors = Vec::new();
    for f in &rule_files {
        match load_rule_file(f, load) {
            Ok(rf) => groups.extend(rf.groups),
            Err(es) => load_errors.extend(es.iter().map(ToString::to_string)),
        }
    }
    let rank = |name: &str| order.iter().position(|n| n == name).unwrap_or(0);
    groups.sort_by_key(|g| rank(&g.name));
    let fs = runner::FileSettings {
        eval_interval_ms,
        groups: &groups,
        fuzzy_compare: file.fuzzy_compare.unwrap_or(false),
    };
    let mut errs = Vec::new();
    for tg in file.tests.iter().flatten() {
        let name = tg.name.clone().unwrap_or_default();
        if run.as_ref().is_some_and(|r| !r.is_match(&name)) {
            continue;
        }
        if !load_errors.is_empty() {
            errs.extend(load_errors.iter().cloned());
            continue;
        }
        errs.extend(runner::run_group(tg, &fs));
    }
    Ok(errs)
}

/// Runs every file with promtool's output (`  SUCCESS` on stdout, or
/// `  FAILED:` and the errors on stderr) and returns the exit code: 0 when
/// every file passed, 1 otherwise.
pub fn test_rules_command<P: AsRef<Path>>(
    paths: &[P],
    opts: &TestOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<i32> {
    let mut failed = false;
    for p in paths {
        let res = run_test_file(p.as_ref(), opts);
        for w in &res.warnings {
            writeln!(err, "  WARNING: {w}")?;
        }
        if res.passed() {
            writeln!(out, "  SUCCESS")?;
        } else {
            failed = true;
            writeln!(err, "  FAILED:")?;
            for e in &res.errors {
                writeln!(err, "{e}")?;
                writeln!(out)?;
            }
        }
        writeln!(out)?;
    }
    Ok(i32::from(failed))
}
