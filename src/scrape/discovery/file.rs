//! `file_sd_configs`: target groups from JSON and YAML files (Prometheus' `discovery/file`).
//!
//! Each pattern is expanded as a glob; each file is a list of `{targets, labels}` groups, read
//! by its extension (`.json` as JSON, `.yml`/`.yaml` as YAML, unknown keys refused). A group's
//! source is `<path>:<index>` and it gets `__meta_filepath`. A file that fails to read or parse
//! keeps its last good groups (counted in `prometheus_sd_file_read_errors_total`); a file that is
//! gone takes its groups with it. Files above [`MAX_FILE_BYTES`] are refused.

use super::{groups, Outcome, RawGroups, SdMetrics, SharedState, TargetGroup};
use crate::config::FileSdConfig;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};
use tokio_util::sync::CancellationToken;

/// Largest SD file read, as [`super::http::MAX_RESPONSE_BYTES`] (a file of 10,000 targets is
/// well under 1 MiB).
pub const MAX_FILE_BYTES: u64 = 8 << 20;

/// How often file modification times are checked.
const POLL: Duration = Duration::from_secs(1);

/// One file as last seen: modification time and length.
type Stamp = Option<(SystemTime, u64)>;

/// A file SD provider: its files' last good groups and the stamps they were read at.
#[derive(Debug)]
pub struct FileProvider {
    config: FileSdConfig,
    last: BTreeMap<PathBuf, Vec<TargetGroup>>,
    stamps: BTreeMap<PathBuf, Stamp>,
    read_at: Option<Instant>,
}

impl FileProvider {
    /// A provider for `config`, nothing read yet; `previous` are the groups an earlier
    /// provider with the same configuration had (a file that fails to read keeps its own).
    pub fn new(config: FileSdConfig, previous: Vec<TargetGroup>) -> Self {
        let mut last: BTreeMap<PathBuf, Vec<TargetGroup>> = BTreeMap::new();
        for g in previous {
            if let Some(path) = g.labels.get("__meta_filepath") {
                last.entry(PathBuf::from(path)).or_default().push(g);
            }
        }
        Self {
            config,
            last,
            stamps: BTreeMap::new(),
            read_at: None,
        }
    }

    fn list(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for pattern in &self.config.files {
            let Some(text) = pattern.to_str() else {
                continue;
            };
            if let Ok(paths) = glob::glob(text) {
                out.extend(paths.flatten());
            }
        }
        out.sort();
        out.dedup();
        out
    }

    fn stamps(paths: &[PathBuf]) -> BTreeMap<PathBuf, Stamp> {
        paths
            .iter()
            .map(|p| {
                let stamp = std::fs::metadata(p)
                    .ok()
                    .and_then(|m| Some((m.modified().ok()?, m.len())));
                (p.clone(), stamp)
            })
            .collect()
    }

    /// Re-reads the files if any changed or `refresh_interval` passed (always on the first
    /// call). Returns the groups of every file (a failing file keeps its last good ones) and
    /// the errors, or `None` when nothing was re-read.
    pub fn refresh(&mut self, metrics: &SdMetrics) -> Option<Outcome> {
        let paths = self.list();
        let stamps = Self::stamps(&paths);
        let due = self
            .read_at
            .is_none_or(|t| t.elapsed() >= self.config.refresh_interval.0);
        if !due && stamps == self.stamps {
            return None;
        }
        self.stamps = stamps;
        self.read_at = Some(Instant::now());
        let mut next = BTreeMap::new();
        let mut errors = Vec::new();
        for path in paths {
            match read_file(&path) {
                Ok(g) => {
                    next.insert(path, g);
                }
                Err(e) => {
                    metrics.file_read_errors.inc();
                    tracing::error!(path = %path.display(), err = %e, "Error reading file");
                    errors.push(format!("{}: {e}", path.display()));
                    if let Some(old) = self.last.remove(&path) {
                        next.insert(path, old);
                    }
                }
            }
        }
        self.last = next;
        let all = self.last.values().flatten().cloned().collect();
        let error = (!errors.is_empty()).then(|| errors.join("; "));
        Some((Some(all), error))
    }
}

/// Reads one SD file by its extension.
pub fn read_file(path: &Path) -> Result<Vec<TargetGroup>, String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut text = String::new();
    // Read at most one byte past the limit: a file growing while read is still bounded.
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "file is larger than the limit of {MAX_FILE_BYTES} bytes"
        ));
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let raw: RawGroups = match ext.to_ascii_lowercase().as_str() {
        "json" => serde_json::from_str(&text).map_err(|e| e.to_string())?,
        "yml" | "yaml" => serde_saphyr::from_str(&text).map_err(|e| e.to_string())?,
        _ => {
            return Err(format!(
                "retrieval target groups: unknown extension {ext:?}"
            ))
        }
    };
    let name = path.display().to_string();
    groups(raw, &name, ("__meta_filepath", &name))
}

/// Runs a provider until `cancel`: polls for changes, records each refresh into `state` and
/// calls `changed` when the manager should re-sync.
pub async fn run(
    mut provider: FileProvider,
    state: SharedState,
    metrics: SdMetrics,
    cancel: CancellationToken,
    changed: impl Fn(),
) {
    let mut tick = tokio::time::interval(POLL.min(provider.config.refresh_interval.0));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let (p, m) = (provider, metrics.clone());
        let Ok((p, outcome)) = tokio::task::spawn_blocking(move || {
            let mut p = p;
            let outcome = p.refresh(&m);
            (p, outcome)
        })
        .await
        else {
            return;
        };
        provider = p;
        if let Some((groups, error)) = outcome {
            if super::record(&state, groups, error) {
                changed();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PromDuration;

    fn provider(dir: &Path, pattern: &str) -> FileProvider {
        FileProvider::new(
            FileSdConfig {
                files: vec![dir.join(pattern)],
                refresh_interval: PromDuration(Duration::from_secs(300)),
            },
            Vec::new(),
        )
    }

    /// Writes a file with a distinct length so the change is seen without waiting for a new
    /// modification time.
    fn write(path: &Path, text: &str) {
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn json_and_yaml_files_by_glob() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        let b = dir.path().join("b.yml");
        write(
            &a,
            r#"[{"targets": ["h:1", "h:2"], "labels": {"env": "prod"}}]"#,
        );
        write(&b, "- targets: ['y:1']\n- labels: {x: y}\n  targets: []\n");
        write(&dir.path().join("c.txt"), "ignored");
        let mut p = provider(dir.path(), "*.*");
        p.config.files = vec![dir.path().join("*.json"), dir.path().join("*.yml")];
        let (groups, error) = p.refresh(&SdMetrics::default()).unwrap();
        assert_eq!(error, None);
        let groups = groups.unwrap();
        assert_eq!(groups.len(), 3);
        let a_name = a.display().to_string();
        assert_eq!(groups[0].source, format!("{a_name}:0"));
        assert_eq!(groups[0].labels["__meta_filepath"], a_name);
        assert_eq!(groups[0].labels["env"], "prod");
        assert_eq!(groups[0].targets[1]["__address__"], "h:2");
        assert_eq!(groups[1].targets[0]["__address__"], "y:1");
        assert_eq!(groups[2].source, format!("{}:1", b.display()));
        // Nothing changed: nothing re-read.
        assert!(p.refresh(&SdMetrics::default()).is_none());
    }

    #[test]
    fn changes_are_seen_and_a_broken_file_keeps_its_last_groups() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        let b = dir.path().join("b.json");
        write(&a, r#"[{"targets": ["a:1"]}]"#);
        write(&b, r#"[{"targets": ["b:1"]}]"#);
        let metrics = SdMetrics::default();
        let mut p = provider(dir.path(), "*.json");
        let (g, _) = p.refresh(&metrics).unwrap();
        assert_eq!(g.unwrap().len(), 2);
        write(&a, r#"[{"targets": ["a:1", "a:2"]}]"#);
        write(&b, r#"[{"targets": ["b:1"#);
        let (g, error) = p.refresh(&metrics).unwrap();
        let g = g.unwrap();
        assert_eq!(g[0].targets.len(), 2, "the good file's change applies");
        assert_eq!(
            g[1].targets[0]["__address__"], "b:1",
            "the broken file keeps its groups"
        );
        assert!(error.unwrap().contains("b.json"));
        assert_eq!(metrics.file_read_errors.get(), 1);
        std::fs::remove_file(&b).unwrap();
        let (g, error) = p.refresh(&metrics).unwrap();
        assert_eq!(
            (g.unwrap().len(), error),
            (1, None),
            "a removed file takes its groups"
        );
    }

    #[test]
    fn unknown_yaml_keys_and_bad_types_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let y = dir.path().join("x.yaml");
        write(&y, "- targets: ['a:1']\n  label: {a: b}\n");
        assert!(read_file(&y).unwrap_err().contains("label"));
        write(&y, "- targets: 'a:1'\n");
        assert!(read_file(&y).is_err());
        let j = dir.path().join("x.json");
        write(&j, r#"{"targets": []}"#);
        assert!(read_file(&j).is_err());
        let big = format!("[{}]", " ".repeat(MAX_FILE_BYTES as usize));
        write(&j, &big);
        assert_eq!(
            read_file(&j).unwrap_err(),
            "file is larger than the limit of 8388608 bytes"
        );
    }
}
