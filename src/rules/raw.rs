//! The rule file as written: serde types with source positions, before
//! validation. Unknown keys are collected (not fatal here) so that the
//! loader can report all of them, or ignore them when asked to.

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::fmt;

/// A line/column position in a rule file (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// Line, 1-based (0 when unknown).
    pub line: u64,
    /// Column, 1-based (0 when unknown).
    pub column: u64,
}

impl Pos {
    pub(crate) fn of<T>(s: &Spanned<T>) -> Pos {
        Pos {
            line: s.referenced.line(),
            column: s.referenced.column(),
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A top-level rule file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    #[serde(default)]
    pub groups: Option<Vec<Spanned<RawGroup>>>,
}

/// A key that is not part of the format, with its position.
#[derive(Debug, Clone)]
pub(crate) struct UnknownKey {
    pub name: String,
    pub pos: Pos,
}

/// A string-to-string map with null values read as empty (as Go's YAML does),
/// in file order.
pub(crate) type RawMap = Vec<(Spanned<String>, String)>;

/// One rule group.
#[derive(Debug, Default)]
pub(crate) struct RawGroup {
    pub name: Option<Spanned<String>>,
    pub interval: Option<Spanned<String>>,
    pub query_offset: Option<Spanned<String>>,
    pub limit: Option<Spanned<i64>>,
    pub labels: Option<RawMap>,
    pub evaluation: Option<Spanned<String>>,
    pub datasource: Option<Spanned<String>>,
    pub rules: Option<Vec<Spanned<RawRule>>>,
    pub unknown: Vec<UnknownKey>,
}

/// One rule.
#[derive(Debug, Default)]
pub(crate) struct RawRule {
    pub record: Option<Spanned<String>>,
    pub alert: Option<Spanned<String>>,
    pub expr: Option<Spanned<String>>,
    pub for_: Option<Spanned<String>>,
    pub keep_firing_for: Option<Spanned<String>>,
    pub labels: Option<RawMap>,
    pub annotations: Option<RawMap>,
    pub thresholds: Option<Spanned<RawThresholds>>,
    pub no_data: Option<Spanned<String>>,
    pub no_data_for: Option<Spanned<String>>,
    pub unknown: Vec<UnknownKey>,
}

/// A threshold level as written: a number or a duration string.
#[derive(Debug, Clone)]
pub(crate) enum RawLevel {
    Number(f64),
    Text(String),
}

impl<'de> Deserialize<'de> for RawLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawLevel;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a duration")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawLevel, E> {
                Ok(RawLevel::Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawLevel, E> {
                Ok(RawLevel::Number(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawLevel, E> {
                Ok(RawLevel::Number(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawLevel, E> {
                Ok(RawLevel::Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// The `thresholds:` extension of an alerting rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawThresholds {
    pub warning: Option<Spanned<RawLevel>>,
    pub critical: Option<Spanned<RawLevel>>,
    pub direction: Option<Spanned<String>>,
    pub clear: Option<Spanned<RawLevel>>,
    pub overrides: Option<Vec<Spanned<RawOverride>>>,
}

/// One per-label-set override of threshold levels.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOverride {
    pub matchers: Option<Vec<Spanned<String>>>,
    pub warning: Option<Spanned<RawLevel>>,
    pub critical: Option<Spanned<RawLevel>>,
    pub clear: Option<Spanned<RawLevel>>,
}

/// Reads a mapping of strings whose values may be null.
fn read_map<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<RawMap>, A::Error> {
    Ok(map.next_value::<Option<MapAsVec>>()?.map(|m| m.0))
}

/// A YAML mapping read into an ordered list of pairs.
struct MapAsVec(Vec<(Spanned<String>, String)>);

impl<'de> Deserialize<'de> for MapAsVec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MapAsVec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<MapAsVec, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = m.next_key::<Spanned<String>>()? {
                    let v: Option<String> = m.next_value()?;
                    out.push((k, v.unwrap_or_default()));
                }
                Ok(MapAsVec(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Reads a struct-like mapping key by key; `field` handles known keys and
/// returns false for unknown ones, which are skipped and recorded.
fn read_struct<'de, A, T>(
    mut map: A,
    out: &mut T,
    unknown: fn(&mut T) -> &mut Vec<UnknownKey>,
    mut field: impl FnMut(&str, &mut A, &mut T) -> Result<bool, A::Error>,
) -> Result<(), A::Error>
where
    A: MapAccess<'de>,
{
    while let Some(k) = map.next_key::<Spanned<String>>()? {
        if !field(&k.value, &mut map, out)? {
            map.next_value::<IgnoredAny>()?;
            unknown(out).push(UnknownKey {
                name: k.value.clone(),
                pos: Pos::of(&k),
            });
        }
    }
    Ok(())
}

/// Stores a field read as optional (YAML null counts as absent). The first
/// occurrence wins (the parser rejects duplicate keys; merge keys resolve
/// before fields reach us).
fn put<T>(slot: &mut Option<T>, v: Option<T>) {
    if slot.is_none() {
        *slot = v;
    }
}

impl<'de> Deserialize<'de> for RawGroup {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawGroup;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a rule group")
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<RawGroup, A::Error> {
                let mut g = RawGroup::default();
                read_struct(
                    m,
                    &mut g,
                    |g| &mut g.unknown,
                    |k, m, g| {
                        match k {
                            "name" => put(&mut g.name, m.next_value()?),
                            "interval" => put(&mut g.interval, m.next_value()?),
                            "query_offset" => put(&mut g.query_offset, m.next_value()?),
                            "limit" => put(&mut g.limit, m.next_value()?),
                            "labels" => put(&mut g.labels, read_map(m)?),
                            "evaluation" => put(&mut g.evaluation, m.next_value()?),
                            "datasource" => put(&mut g.datasource, m.next_value()?),
                            "rules" => put(&mut g.rules, m.next_value()?),
                            _ => return Ok(false),
                        }
                        Ok(true)
                    },
                )?;
                Ok(g)
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for RawRule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawRule;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a rule")
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<RawRule, A::Error> {
                let mut r = RawRule::default();
                read_struct(
                    m,
                    &mut r,
                    |r| &mut r.unknown,
                    |k, m, r| {
                        match k {
                            "record" => put(&mut r.record, m.next_value()?),
                            "alert" => put(&mut r.alert, m.next_value()?),
                            "expr" => put(&mut r.expr, m.next_value()?),
                            "for" => put(&mut r.for_, m.next_value()?),
                            "keep_firing_for" => put(&mut r.keep_firing_for, m.next_value()?),
                            "labels" => put(&mut r.labels, read_map(m)?),
                            "annotations" => put(&mut r.annotations, read_map(m)?),
                            "thresholds" => put(&mut r.thresholds, m.next_value()?),
                            "no_data" => put(&mut r.no_data, m.next_value()?),
                            "no_data_for" => put(&mut r.no_data_for, m.next_value()?),
                            _ => return Ok(false),
                        }
                        Ok(true)
                    },
                )?;
                Ok(r)
            }
        }
        d.deserialize_map(V)
    }
}
