//! The `thresholds:` extension of alerting rules: warning/critical levels,
//! a direction, optional hysteresis (`clear`) and per-label-set overrides.
//!
//! The rule's `expr` yields values; each output series is compared with its
//! effective levels (first matching override, else the rule's). The alert's
//! identity does not include the severity: severity is an attribute that
//! moves up and down on the same alert.
//!
//! Comparisons are strict: with `direction: above` a level is crossed when
//! the value is greater than it; with `below` when it is smaller. An
//! override is a complete level set (`warning`, `critical`, `clear`), nothing
//! is inherited from the rule's levels.
//!
//! **Invariant:** pure functions, no I/O.

use super::duration::parse_duration;
use super::raw::{Pos, RawLevel, RawThresholds};
use crate::model::{Labels, Matcher};
use serde_saphyr::Spanned;
use std::fmt;

/// How bad an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The warning level is crossed.
    Warning,
    /// The critical level is crossed.
    Critical,
}

impl Severity {
    /// `warning` or `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which side of a level alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Values greater than a level cross it (latency, error rates).
    Above,
    /// Values smaller than a level cross it (throughput, free space).
    Below,
}

impl Direction {
    /// `above` or `below`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Above => "above",
            Direction::Below => "below",
        }
    }

    /// Whether `v` is strictly on the alerting side of `level`.
    pub fn beyond(self, v: f64, level: f64) -> bool {
        match self {
            Direction::Above => v > level,
            Direction::Below => v < level,
        }
    }
}

/// One set of levels. At least one of `warning` and `critical` is set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Levels {
    /// The warning level.
    pub warning: Option<f64>,
    /// The critical level.
    pub critical: Option<f64>,
    /// Hysteresis: an active alert resolves only once the value is past this.
    pub clear: Option<f64>,
}

impl Levels {
    /// The least severe level that is set, with its severity.
    pub fn lowest(&self) -> (Severity, f64) {
        match (self.warning, self.critical) {
            (Some(w), _) => (Severity::Warning, w),
            (None, Some(c)) => (Severity::Critical, c),
            (None, None) => (Severity::Critical, f64::NAN),
        }
    }
}

/// Levels that apply to the series matching all `matchers`.
#[derive(Debug, Clone)]
pub struct Override {
    /// The matchers, parsed.
    pub matchers: Vec<Matcher>,
    /// The matchers as written (for the API).
    pub matcher_texts: Vec<String>,
    /// The levels.
    pub levels: Levels,
}

/// A rule's thresholds.
#[derive(Debug, Clone)]
pub struct Thresholds {
    /// Alerting side.
    pub direction: Direction,
    /// The rule's levels.
    pub levels: Levels,
    /// Per-label-set levels, first match wins.
    pub overrides: Vec<Override>,
}

/// A value classified against levels: the severity and the level crossed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crossing {
    /// The severity reached.
    pub severity: Severity,
    /// The level that was crossed (the value compared with).
    pub threshold: f64,
}

impl Thresholds {
    /// The levels for a series: the first matching override, else the rule's.
    pub fn levels_for(&self, labels: &Labels) -> &Levels {
        self.overrides
            .iter()
            .find(|o| super::selector::matches_all(&o.matchers, labels))
            .map(|o| &o.levels)
            .unwrap_or(&self.levels)
    }

    /// Classifies `value`. `active` says whether the alert for this series is
    /// currently pending or firing (then `clear` keeps it at its lowest level
    /// while the value has not gone past `clear`). `None`: not alerting.
    pub fn classify(&self, levels: &Levels, value: f64, active: bool) -> Option<Crossing> {
        if value.is_nan() {
            return None;
        }
        let d = self.direction;
        if let Some(c) = levels.critical.filter(|c| d.beyond(value, *c)) {
            return Some(Crossing {
                severity: Severity::Critical,
                threshold: c,
            });
        }
        if let Some(w) = levels.warning.filter(|w| d.beyond(value, *w)) {
            return Some(Crossing {
                severity: Severity::Warning,
                threshold: w,
            });
        }
        let clear = levels.clear?;
        if active && d.beyond(value, clear) {
            let (severity, threshold) = levels.lowest();
            return Some(Crossing {
                severity,
                threshold,
            });
        }
        None
    }
}

/// Parses a level written as text: a number (`1.5`), a Prometheus duration
/// (`1m30s`) or a decimal number with one unit (`1.8s`, `0.5m`); durations
/// are in seconds.
fn parse_level_text(s: &str) -> Result<f64, String> {
    let t = s.trim();
    if let Ok(v) = t.parse::<f64>() {
        return Ok(v);
    }
    if let Ok(ms) = parse_duration(t) {
        return Ok(ms as f64 / 1000.0);
    }
    let split = t
        .find(|c: char| c.is_ascii_alphabetic())
        .ok_or_else(|| format!("invalid level {s:?}: not a number or duration"))?;
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid level {s:?}: not a number or duration"))?;
    let mult = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        "w" => 604_800.0,
        "y" => 31_536_000.0,
        _ => return Err(format!("invalid level {s:?}: unknown unit {unit:?}")),
    };
    Ok(n * mult)
}

fn level(raw: &Option<Spanned<RawLevel>>, errs: &mut Vec<(Pos, String)>) -> Option<f64> {
    let r = raw.as_ref()?;
    let v = match &r.value {
        RawLevel::Number(n) => Ok(*n),
        RawLevel::Text(t) => parse_level_text(t),
    };
    match v {
        Ok(v) if v.is_finite() => Some(v),
        Ok(v) => {
            errs.push((
                Pos::of(r),
                format!("invalid level {v}: must be a finite number"),
            ));
            None
        }
        Err(e) => {
            errs.push((Pos::of(r), e));
            None
        }
    }
}

/// Checks one level set against the direction.
fn validate_levels(l: &Levels, d: Direction, pos: Pos, what: &str, errs: &mut Vec<(Pos, String)>) {
    if l.warning.is_none() && l.critical.is_none() {
        errs.push((
            pos,
            format!("{what}: at least one of 'warning' and 'critical' must be set"),
        ));
        return;
    }
    if let (Some(w), Some(c)) = (l.warning, l.critical) {
        if !d.beyond(c, w) {
            errs.push((
                pos,
                format!(
                    "{what}: critical ({c}) must be {} warning ({w})",
                    d.as_str()
                ),
            ));
        }
    }
    if let Some(clear) = l.clear {
        let (sev, lowest) = l.lowest();
        if !d.beyond(lowest, clear) {
            let side = match d {
                Direction::Above => "below",
                Direction::Below => "above",
            };
            errs.push((
                pos,
                format!("{what}: clear ({clear}) must be {side} the {sev} level ({lowest})"),
            ));
        }
    }
}

/// Builds and validates thresholds from the file, collecting all problems.
pub(crate) fn from_raw(raw: &Spanned<RawThresholds>) -> Result<Thresholds, Vec<(Pos, String)>> {
    let mut errs = Vec::new();
    let pos = Pos::of(raw);
    let r = &raw.value;
    let direction = match r.direction.as_ref().map(|d| (d.value.as_str(), Pos::of(d))) {
        None | Some(("above", _)) => Direction::Above,
        Some(("below", _)) => Direction::Below,
        Some((other, p)) => {
            errs.push((
                p,
                format!("invalid direction {other:?}: must be above or below"),
            ));
            Direction::Above
        }
    };
    let levels = Levels {
        warning: level(&r.warning, &mut errs),
        critical: level(&r.critical, &mut errs),
        clear: level(&r.clear, &mut errs),
    };
    let parsed_ok = errs.is_empty();
    if parsed_ok {
        validate_levels(&levels, direction, pos, "thresholds", &mut errs);
    }
    let mut overrides = Vec::new();
    for (i, o) in r.overrides.iter().flatten().enumerate() {
        let opos = Pos::of(o);
        let what = format!("thresholds override {}", i + 1);
        let before = errs.len();
        let mut matchers = Vec::new();
        let mut texts = Vec::new();
        match &o.value.matchers {
            None => errs.push((opos, format!("{what}: 'matchers' must be set"))),
            Some(list) if list.is_empty() => {
                errs.push((opos, format!("{what}: 'matchers' must not be empty")))
            }
            Some(list) => {
                for m in list {
                    match super::selector::parse_matchers(&m.value) {
                        Ok(ms) => matchers.extend(ms),
                        Err(e) => errs.push((Pos::of(m), format!("{what}: invalid matcher: {e}"))),
                    }
                    texts.push(m.value.clone());
                }
            }
        }
        let l = Levels {
            warning: level(&o.value.warning, &mut errs),
            critical: level(&o.value.critical, &mut errs),
            clear: level(&o.value.clear, &mut errs),
        };
        if errs.len() == before {
            validate_levels(&l, direction, opos, &what, &mut errs);
        }
        overrides.push(Override {
            matchers,
            matcher_texts: texts,
            levels: l,
        });
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(Thresholds {
        direction,
        levels,
        overrides,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn above(w: Option<f64>, c: Option<f64>, clear: Option<f64>) -> Thresholds {
        Thresholds {
            direction: Direction::Above,
            levels: Levels {
                warning: w,
                critical: c,
                clear,
            },
            overrides: vec![],
        }
    }

    #[test]
    fn classifies_above() {
        let t = above(Some(2.0), Some(5.0), None);
        let l = t.levels;
        assert_eq!(t.classify(&l, 1.0, false), None);
        assert_eq!(t.classify(&l, 2.0, false), None);
        assert_eq!(
            t.classify(&l, 3.0, false).unwrap().severity,
            Severity::Warning
        );
        let c = t.classify(&l, 6.0, false).unwrap();
        assert_eq!((c.severity, c.threshold), (Severity::Critical, 5.0));
        assert_eq!(t.classify(&l, f64::NAN, true), None);
    }

    #[test]
    fn classifies_below_and_single_level() {
        let t = Thresholds {
            direction: Direction::Below,
            levels: Levels {
                warning: Some(100.0),
                critical: Some(50.0),
                clear: None,
            },
            overrides: vec![],
        };
        let l = t.levels;
        assert_eq!(t.classify(&l, 120.0, false), None);
        assert_eq!(
            t.classify(&l, 80.0, false).unwrap().severity,
            Severity::Warning
        );
        assert_eq!(
            t.classify(&l, 10.0, false).unwrap().severity,
            Severity::Critical
        );
        let only_crit = above(None, Some(5.0), None);
        assert_eq!(only_crit.classify(&only_crit.levels, 4.0, true), None);
        assert_eq!(
            only_crit
                .classify(&only_crit.levels, 6.0, false)
                .unwrap()
                .severity,
            Severity::Critical
        );
    }

    #[test]
    fn clear_holds_active_alerts_only() {
        let t = above(Some(2.0), Some(5.0), Some(1.8));
        let l = t.levels;
        assert_eq!(t.classify(&l, 1.9, false), None);
        let held = t.classify(&l, 1.9, true).unwrap();
        assert_eq!((held.severity, held.threshold), (Severity::Warning, 2.0));
        assert_eq!(t.classify(&l, 1.8, true), None);
    }

    #[test]
    fn overrides_first_match_wins() {
        let mut t = above(Some(2.0), Some(5.0), None);
        for (re, w) in [("batch-.*", 10.0), ("batch-1", 99.0)] {
            t.overrides.push(Override {
                matchers: vec![Matcher::regex("module", re).unwrap()],
                matcher_texts: vec![],
                levels: Levels {
                    warning: Some(w),
                    critical: None,
                    clear: None,
                },
            });
        }
        let batch = Labels::from_pairs([("module", "batch-1")]);
        let web = Labels::from_pairs([("module", "web")]);
        assert_eq!(t.levels_for(&batch).warning, Some(10.0));
        assert_eq!(t.levels_for(&web).warning, Some(2.0));
        assert_eq!(t.classify(t.levels_for(&batch), 6.0, false), None);
    }

    #[test]
    fn parses_level_text() {
        assert_eq!(parse_level_text("2s"), Ok(2.0));
        assert_eq!(parse_level_text("1.8s"), Ok(1.8));
        assert_eq!(parse_level_text("250ms"), Ok(0.25));
        assert_eq!(parse_level_text("1m30s"), Ok(90.0));
        assert_eq!(parse_level_text("100"), Ok(100.0));
        assert!(parse_level_text("fast").is_err());
        assert!(parse_level_text("1.5x").is_err());
    }
}
