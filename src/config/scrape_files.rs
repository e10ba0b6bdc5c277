//! `scrape_config_files`: more scrape jobs read from other files, as Prometheus does.
//!
//! Each pattern is a glob (a `*` only in the last path element, as Prometheus allows), relative
//! ones resolved against the main file's directory. Each matching file holds one key,
//! `scrape_configs:`, whose jobs take the main file's `global` defaults and resolve their own
//! relative paths (file SD files, `*_file` secrets) against their file's directory. A problem
//! in such a file is reported with that file's path, line and column; a `job_name` used twice
//! anywhere (main file or any of these files) is refused with Prometheus' message. The files are
//! read again at every load and reload, so a reload picks up added and changed files.

use super::decode::{yaml_section, At, Cx, Decode};
use super::error::{ConfigError, ErrorKind};
use super::global::GlobalConfig;
use super::scrape::{self, RawScrapeConfig, ScrapeConfig};
use std::collections::HashMap;
use std::path::PathBuf;

yaml_section! {
    /// A file named by `scrape_config_files`, as written.
    struct RawScrapeConfigFile {
        scrape_configs: Vec<At<RawScrapeConfig>>,
    }
}

/// Whether `pattern` is one Prometheus accepts (its `patRulePath`, `^[^*]*(\*[^/]*)?$`): no
/// `*` before the last path element.
fn is_valid_pattern(pattern: &str) -> bool {
    match pattern.split_once('*') {
        None => true,
        Some((_, rest)) => !rest.contains('/'),
    }
}

/// Checks the `scrape_config_files` patterns; returns the valid ones as written.
pub(crate) fn patterns(raw: Option<At<Vec<At<String>>>>, cx: &mut Cx<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for (i, pattern) in raw
        .map(|r| r.value)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let full = super::glob_in_dir(cx.dir, &pattern.value);
        let problem = if !is_valid_pattern(&pattern.value) {
            Some(format!(
                "invalid scrape config file path {:?}",
                pattern.value
            ))
        } else {
            glob::Pattern::new(&full).err().map(|e| {
                format!(
                    "invalid scrape config file pattern {:?}: {}",
                    pattern.value, e.msg
                )
            })
        };
        match problem {
            None => out.push(pattern.value),
            Some(message) => {
                let kind = ErrorKind::InvalidValue {
                    path: format!("scrape_config_files[{i}]"),
                    message,
                };
                cx.error(pattern.pos, kind);
            }
        }
    }
    out
}

/// The files `patterns` match now: in pattern order, each pattern's matches sorted, without
/// repeats; a pattern matching nothing adds nothing, as in Prometheus.
fn matching_files(patterns: &[String], cx: &mut Cx<'_>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for pattern in patterns {
        let full = super::glob_in_dir(cx.dir, pattern);
        let Ok(paths) = glob::glob(&full) else {
            continue; // reported by `patterns`
        };
        let mut found: Vec<PathBuf> = Vec::new();
        for entry in paths {
            match entry {
                Ok(path) if path.is_file() => found.push(path),
                Ok(_) => {}
                Err(e) => {
                    let file = e.path().to_path_buf();
                    cx.error_in(ConfigError {
                        file,
                        line: 0,
                        column: 0,
                        kind: ErrorKind::Read(e.into()),
                    });
                }
            }
        }
        found.sort();
        for path in found {
            if !out.contains(&path) {
                out.push(path);
            }
        }
    }
    out
}

/// Reads the jobs of every file `patterns` match and appends them to `jobs` (the main file's,
/// already resolved).
pub(crate) fn load(
    patterns: &[String],
    global: &GlobalConfig,
    jobs: &mut Vec<ScrapeConfig>,
    cx: &mut Cx<'_>,
) {
    if patterns.is_empty() {
        return;
    }
    // Where each job name was first used, as Prometheus' message names it.
    let mut first: HashMap<String, String> = jobs
        .iter()
        .map(|j| (j.job_name.clone(), "main config file".to_owned()))
        .collect();
    for path in matching_files(patterns, cx) {
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                cx.error_in(ConfigError {
                    file: path,
                    line: 0,
                    column: 0,
                    kind: ErrorKind::Read(e),
                });
                continue;
            }
        };
        let here = format!("{:?}", path.display().to_string());
        cx.other_file(&path, &text, |doc, cx| {
            let raw = RawScrapeConfigFile::decode(doc, cx).unwrap_or_default();
            let raw_jobs = raw.scrape_configs.map(|s| s.value).unwrap_or_default();
            for (i, raw_job) in raw_jobs.into_iter().enumerate() {
                if let Some(name) = &raw_job.value.job_name {
                    if let Some(earlier) = first.get(&name.value) {
                        let kind = ErrorKind::DuplicateJobAcrossFiles {
                            name: name.value.clone(),
                            first: earlier.clone(),
                        };
                        cx.error(name.pos, kind);
                        continue;
                    }
                    first.insert(name.value.clone(), here.clone());
                }
                jobs.push(scrape::resolve(raw_job, i, global, cx));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{parse_with_env, PromDuration};
    use std::path::Path;

    fn env(_: &str) -> Option<String> {
        None
    }

    fn write(dir: &Path, name: &str, text: &str) {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn errors(main: &str, dir: &Path) -> Vec<String> {
        let e = parse_with_env(main, dir.join("main.yml"), &env).unwrap_err();
        e.lines()
            .into_iter()
            .map(|l| l.replace(&dir.display().to_string(), "DIR"))
            .collect()
    }

    #[test]
    fn jobs_come_from_globbed_files_with_their_own_directory() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(
            d,
            "jobs/b.yml",
            "scrape_configs:\n- job_name: b\n  file_sd_configs: [{files: [sd/*.json]}]\n  \
             authorization: {credentials_file: token}\n",
        );
        write(d, "jobs/token", "s3cret\n");
        write(d, "jobs/a.yml", "scrape_configs:\n- job_name: a\n");
        write(d, "jobs/ignored.txt", "not yaml: [");
        write(d, "extra/c.yml", "scrape_configs: []\n");
        let main = format!(
            "global: {{scrape_interval: 7s, sample_limit: 99}}\nscrape_config_files: \
             ['jobs/*.yml', '{}/extra/c.yml', 'none/*.yml']\nscrape_configs:\n- job_name: main\n",
            d.display()
        );
        let config = parse_with_env(&main, d.join("main.yml"), &env).unwrap();
        let names: Vec<&str> = config
            .scrape_configs
            .iter()
            .map(|j| j.job_name.as_str())
            .collect();
        assert_eq!(names, ["main", "a", "b"]);
        let b = &config.scrape_configs[2];
        assert_eq!(b.scrape_interval, PromDuration::from_secs(7));
        assert_eq!(b.sample_limit, 99);
        assert_eq!(b.file_sd_configs[0].files, [d.join("jobs/sd/*.json")]);
        let token = b.authorization.as_ref().unwrap().credentials.as_ref();
        assert_eq!(token.unwrap().secret().expose(), "s3cret");
        assert_eq!(config.scrape_config_files.len(), 3);
    }

    #[test]
    fn problems_name_the_file_and_duplicates_are_refused_as_prometheus() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(
            d,
            "jobs/1.yml",
            "scrape_configs:\n- job_name: main\n- job_name: x\n  scrape_interval: 5q\n",
        );
        write(
            d,
            "jobs/2.yml",
            "scrape_configs:\n- job_name: x\nbogus: 1\n",
        );
        write(d, "jobs/3.yml", "scrape_configs: [\n");
        let main = "scrape_config_files: ['jobs/*.yml', 'a/*/b.yml', 'x/**.yml']\n\
                    scrape_configs:\n- job_name: main\n  scrape_timeout: 2m\n";
        let got = errors(main, d);
        let want = [
            r#"DIR/main.yml:1:37: scrape_config_files[1]: invalid scrape config file path "a/*/b.yml""#,
            r#"DIR/main.yml:1:50: scrape_config_files[2]: invalid scrape config file pattern "x/**.yml": recursive wildcards must form a single path component"#,
            r#"DIR/main.yml:4:19: scrape_timeout 2m is greater than scrape_interval 1m in job "main""#,
            r#"DIR/jobs/1.yml:2:13: found multiple scrape configs with job name "main", first found in main config file"#,
            r#"DIR/jobs/1.yml:4:20: scrape_configs[1].scrape_interval: unknown unit "q" in duration "5q""#,
            r#"DIR/jobs/2.yml:2:13: found multiple scrape configs with job name "x", first found in "DIR/jobs/1.yml""#,
            r#"DIR/jobs/2.yml:3:1: unknown field "bogus" in the top level"#,
        ];
        assert_eq!(got[..want.len()], want, "{got:#?}");
        assert_eq!(got.len(), want.len() + 1, "{got:#?}");
        assert!(got[want.len()].starts_with("DIR/jobs/3.yml:"), "{got:#?}");
        assert!(got[want.len()].contains("invalid YAML"), "{got:#?}");
    }
}
