//! `--shard=I/N`: shorthand for Prometheus' hashmod sharding recipe. Every scrape job gets,
//! after its own `relabel_configs`,
//!
//! ```yaml
//! - source_labels: [__address__]
//!   modulus: N
//!   target_label: __tmp_hash
//!   action: hashmod
//! - source_labels: [__tmp_hash]
//!   regex: I
//!   action: keep
//! ```
//!
//! so shard `I` of `N` keeps exactly the targets the written recipe keeps, and `N` shards
//! with the same target lists cover every target once. The rules are appended to the loaded
//! configuration (at start and at every reload) and show in `/api/v1/status/config`.

use crate::config::Config;
use crate::model::relabel::{RelabelConfig, RelabelSpec};
use std::fmt;
use std::str::FromStr;

/// Shard `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This instance's shard, `0..count`.
    pub index: u64,
    /// How many shards share the targets.
    pub count: u64,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid shard {s:?}: want I/N with 0 <= I < N, e.g. 0/3");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u64 = i.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// The two relabeling rules of the recipe.
    pub fn rules(self) -> [RelabelConfig; 2] {
        let hash = RelabelSpec {
            source_labels: Some(vec!["__address__".to_owned()]),
            modulus: self.count,
            target_label: "__tmp_hash".to_owned(),
            action: "hashmod".to_owned(),
            ..RelabelSpec::default()
        };
        let keep = RelabelSpec {
            source_labels: Some(vec!["__tmp_hash".to_owned()]),
            regex: Some(self.index.to_string()),
            action: "keep".to_owned(),
            ..RelabelSpec::default()
        };
        // Both compile for any modulus >= 1 and any decimal regex.
        [hash, keep].map(|spec| RelabelConfig::new(spec).expect("the shard recipe compiles"))
    }

    /// Appends the recipe to every scrape job of `cfg`.
    pub fn apply(self, cfg: &mut Config) {
        for job in &mut cfg.scrape_configs {
            job.relabel_configs.extend(self.rules());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::relabel::process;
    use crate::model::Labels;

    #[test]
    fn parses_index_and_count() {
        assert_eq!("1/3".parse::<Shard>(), Ok(Shard { index: 1, count: 3 }));
        assert_eq!("0/1".parse::<Shard>().unwrap().to_string(), "0/1");
        for bad in ["3/3", "0/0", "1", "a/2", "-1/2", "1/2/3", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn shards_partition_targets() {
        let n = 3;
        for port in 9000..9100 {
            let labels = Labels::from_pairs([("__address__", format!("host:{port}"))]);
            let keeping: Vec<u64> = (0..n)
                .filter(|i| {
                    let shard = Shard {
                        index: *i,
                        count: n,
                    };
                    process(labels.clone(), &shard.rules()).is_some()
                })
                .collect();
            assert_eq!(keeping.len(), 1, "{labels:?} kept by {keeping:?}");
        }
    }
}
