//! The dynamic value model templates operate on.
//!
//! Go templates reflect over arbitrary Go values; here every value a template
//! can see is a [`TValue`]. The kinds carry enough Go type information to
//! reproduce Go's behaviour where it is visible to users: a missing key in a
//! `map[string]string` is `""` while in a `map[string]any` it is `<no value>`,
//! Alertmanager's `KV` prints as `a=b, c=d` and has `.SortedPairs`, and
//! comparing an `int` with a `float64` is an error.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::gofmt;
use super::gotime::GoTime;
use crate::model::Labels;

/// A value seen by a template.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub enum TValue {
    /// Go's nil: prints as `<no value>`, is false, ranges zero times.
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// A Go `int` (integer literals, lengths, indexes).
    Int(i64),
    /// A Go `float64` (sample values, float literals).
    Float(f64),
    /// A string.
    Str(Arc<str>),
    /// Trusted HTML (`safeHtml`): never escaped in HTML mode.
    Html(Arc<str>),
    /// A point in time (UTC).
    Time(GoTime),
    /// A Go `time.Duration` in nanoseconds.
    Duration(i64),
    /// A slice.
    List(Arc<TList>),
    /// A map with string keys, iterated in key order as Go templates do.
    Map(Arc<TMap>),
    /// A struct with named fields.
    Record(Arc<TRecord>),
}

/// What Go type a [`TList`] stands for; decides its methods and printing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListKind {
    /// `[]interface{}`.
    Any,
    /// Alertmanager's `Strings` (`[]string` with `.Join`).
    Strings,
    /// Alertmanager's `Alerts` (with `.Firing` and `.Resolved`).
    Alerts,
    /// Alertmanager's `Pairs` (with `.Names`, `.Values`, prints `a=b, c=d`).
    Pairs,
    /// Prometheus' query result (a vector of samples).
    QueryResult,
}

/// What Go type a [`TMap`] stands for; decides missing-key results and methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MapKind {
    /// `map[string]interface{}`: a missing key is nil (`<no value>`).
    Any,
    /// `map[string]string` (Prometheus' `.Labels`): a missing key is `""`.
    Strings,
    /// Alertmanager's `KV`: like `Strings`, plus `.SortedPairs`, `.Names`,
    /// `.Values`, `.Remove`, and prints as `a=b, c=d`.
    Kv,
}

/// A slice value.
#[derive(Clone, Debug)]
pub struct TList {
    /// The Go type it stands for.
    pub kind: ListKind,
    /// The elements.
    pub items: Vec<TValue>,
    /// How deep it nests containers (1 + the deepest element's), known at construction so
    /// limits never walk a value (values built in a template may share parts).
    nesting: usize,
}

/// A string-keyed map value.
#[derive(Clone, Debug)]
pub struct TMap {
    /// The Go type it stands for.
    pub kind: MapKind,
    /// The entries, sorted by key.
    pub entries: BTreeMap<Arc<str>, TValue>,
    /// As [`TList`]'s.
    nesting: usize,
}

/// A struct value: a Go type name and its fields in declaration order.
#[derive(Clone, Debug)]
pub struct TRecord {
    /// The Go type name used in error messages (`*T` prints as `&{...}`).
    pub type_name: &'static str,
    /// Field names and values.
    pub fields: Vec<(&'static str, TValue)>,
    /// As [`TList`]'s.
    nesting: usize,
}

impl TRecord {
    /// The value of field `name`.
    pub fn get(&self, name: &str) -> Option<&TValue> {
        self.fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

impl TValue {
    /// A string value.
    pub fn str(s: impl AsRef<str>) -> Self {
        TValue::Str(Arc::from(s.as_ref()))
    }

    /// A list of the given kind.
    pub fn list(kind: ListKind, items: Vec<TValue>) -> Self {
        let nesting = 1 + items.iter().map(TValue::nesting).max().unwrap_or(0);
        TValue::List(Arc::new(TList {
            kind,
            items,
            nesting,
        }))
    }

    /// A map of the given kind.
    pub fn map(kind: MapKind, entries: BTreeMap<Arc<str>, TValue>) -> Self {
        let nesting = 1 + entries.values().map(TValue::nesting).max().unwrap_or(0);
        TValue::Map(Arc::new(TMap {
            kind,
            entries,
            nesting,
        }))
    }

    /// A label set as a map of the given kind ([`MapKind::Strings`] for
    /// Prometheus' `.Labels`, [`MapKind::Kv`] for Alertmanager's).
    /// Shares the label strings.
    pub fn labels(labels: &Labels, kind: MapKind) -> Self {
        let entries = labels
            .iter()
            .map(|l| (l.name.clone(), TValue::Str(l.value.clone())))
            .collect();
        TValue::map(kind, entries)
    }

    /// A struct value.
    pub fn record(type_name: &'static str, fields: Vec<(&'static str, TValue)>) -> Self {
        let nesting = 1 + fields.iter().map(|(_, v)| v.nesting()).max().unwrap_or(0);
        TValue::Record(Arc::new(TRecord {
            type_name,
            fields,
            nesting,
        }))
    }

    /// How deep the value nests lists, maps and records (0 for a scalar); constant time.
    pub fn nesting(&self) -> usize {
        match self {
            TValue::List(l) => l.nesting,
            TValue::Map(m) => m.nesting,
            TValue::Record(r) => r.nesting,
            _ => 0,
        }
    }

    /// The Go type name, as Go's error messages and `%!v(T=...)` show it.
    pub fn type_name(&self) -> &'static str {
        match self {
            TValue::Null => "<nil>",
            TValue::Bool(_) => "bool",
            TValue::Int(_) => "int",
            TValue::Float(_) => "float64",
            TValue::Str(_) => "string",
            TValue::Html(_) => "template.HTML",
            TValue::Time(_) => "time.Time",
            TValue::Duration(_) => "time.Duration",
            TValue::List(l) => match l.kind {
                ListKind::Any => "[]interface {}",
                ListKind::Strings => "template.Strings",
                ListKind::Alerts => "template.Alerts",
                ListKind::Pairs => "template.Pairs",
                ListKind::QueryResult => "template.queryResult",
            },
            TValue::Map(m) => match m.kind {
                MapKind::Any => "map[string]interface {}",
                MapKind::Strings => "map[string]string",
                MapKind::Kv => "template.KV",
            },
            TValue::Record(r) => r.type_name,
        }
    }

    /// Go's notion of truth for `if`, `with`, `and`, `or`, `not`: false for
    /// false, zero, nil and empty strings/slices/maps; structs and times are
    /// true.
    pub fn is_true(&self) -> bool {
        match self {
            TValue::Null => false,
            TValue::Bool(b) => *b,
            TValue::Int(i) => *i != 0,
            TValue::Float(f) => *f != 0.0,
            TValue::Str(s) | TValue::Html(s) => !s.is_empty(),
            TValue::Duration(d) => *d != 0,
            TValue::List(l) => !l.items.is_empty(),
            TValue::Map(m) => !m.entries.is_empty(),
            TValue::Time(_) | TValue::Record(_) => true,
        }
    }

    /// The string inside a string-kinded value (`string`, `template.HTML`).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            TValue::Str(s) | TValue::Html(s) => Some(s),
            _ => None,
        }
    }

    /// Formats the value as Go's `fmt.Sprint` (`%v`) does.
    pub fn to_go_string(&self) -> String {
        self.to_go_string_capped(gofmt::MAX_RENDER)
    }

    /// Like [`TValue::to_go_string`], but stops descending into containers
    /// once the text is longer than `cap` bytes (values may share sub-lists,
    /// so their full text can be exponentially large).
    pub fn to_go_string_capped(&self, cap: usize) -> String {
        let mut out = String::new();
        gofmt::write_value(&mut out, self, 'v', cap);
        out
    }
}

impl From<&str> for TValue {
    fn from(s: &str) -> Self {
        TValue::str(s)
    }
}

impl From<String> for TValue {
    fn from(s: String) -> Self {
        TValue::Str(Arc::from(s))
    }
}

impl From<f64> for TValue {
    fn from(v: f64) -> Self {
        TValue::Float(v)
    }
}

impl From<i64> for TValue {
    fn from(v: i64) -> Self {
        TValue::Int(v)
    }
}

impl From<bool> for TValue {
    fn from(v: bool) -> Self {
        TValue::Bool(v)
    }
}

/// Go's `basicKind` classes used by the comparison functions.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Basic {
    Bool,
    Int,
    Float,
    Str,
}

fn basic(v: &TValue) -> Option<Basic> {
    match v {
        TValue::Bool(_) => Some(Basic::Bool),
        TValue::Int(_) | TValue::Duration(_) => Some(Basic::Int),
        TValue::Float(_) => Some(Basic::Float),
        TValue::Str(_) | TValue::Html(_) => Some(Basic::Str),
        _ => None,
    }
}

fn as_int(v: &TValue) -> i64 {
    match v {
        TValue::Int(i) | TValue::Duration(i) => *i,
        _ => 0,
    }
}

/// How much of a value error messages show.
pub(crate) const SHORT: usize = 200;

/// Go's `eq arg1 arg2`: equality of basic values; comparing different basic
/// kinds (e.g. `int` with `float64`) is an error unless one side is nil.
pub fn go_eq(a: &TValue, b: &TValue) -> Result<bool, String> {
    let (ka, kb) = (basic(a), basic(b));
    if ka != kb {
        if matches!(a, TValue::Null) || matches!(b, TValue::Null) {
            return Ok(false);
        }
        if ka.is_some() && kb.is_some() {
            return Err("incompatible types for comparison".to_string());
        }
    }
    Ok(match (a, b) {
        (TValue::Null, TValue::Null) => true,
        (TValue::Bool(x), TValue::Bool(y)) => x == y,
        (TValue::Float(x), TValue::Float(y)) => x == y,
        _ if ka == Some(Basic::Int) && kb == Some(Basic::Int) => as_int(a) == as_int(b),
        _ if ka == Some(Basic::Str) => a.as_str() == b.as_str(),
        (TValue::Time(x), TValue::Time(y)) => x == y,
        _ => {
            return Err(format!(
                "non-comparable types {}: {}, {}: {}",
                a.to_go_string_capped(SHORT),
                a.type_name(),
                b.type_name(),
                b.to_go_string_capped(SHORT)
            ))
        }
    })
}

/// Go's `lt arg1 arg2` over basic values.
pub fn go_lt(a: &TValue, b: &TValue) -> Result<bool, String> {
    let (ka, kb) = match (basic(a), basic(b)) {
        (Some(x), Some(y)) => (x, y),
        _ => return Err("invalid type for comparison".to_string()),
    };
    if ka != kb {
        return Err("incompatible types for comparison".to_string());
    }
    Ok(match ka {
        Basic::Bool => return Err("invalid type for comparison".to_string()),
        Basic::Int => as_int(a) < as_int(b),
        Basic::Float => match (a, b) {
            (TValue::Float(x), TValue::Float(y)) => x < y,
            _ => false,
        },
        Basic::Str => a.as_str() < b.as_str(),
    })
}

/// Go's `le`: `lt || eq`.
pub fn go_le(a: &TValue, b: &TValue) -> Result<bool, String> {
    Ok(go_lt(a, b)? || go_eq(a, b)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truth_follows_go() {
        assert!(!TValue::Null.is_true());
        assert!(!TValue::str("").is_true());
        assert!(TValue::str("x").is_true());
        assert!(!TValue::Float(0.0).is_true());
        assert!(TValue::Float(f64::NAN).is_true());
        assert!(!TValue::list(ListKind::Any, vec![]).is_true());
        assert!(TValue::record("T", vec![]).is_true());
    }

    #[test]
    fn comparisons_follow_go() {
        assert_eq!(go_eq(&TValue::Int(1), &TValue::Int(1)), Ok(true));
        assert!(go_eq(&TValue::Int(1), &TValue::Float(1.0)).is_err());
        assert_eq!(go_eq(&TValue::Null, &TValue::str("x")), Ok(false));
        assert_eq!(
            go_eq(&TValue::str("a"), &TValue::Html("a".into())),
            Ok(true)
        );
        assert_eq!(go_lt(&TValue::str("a"), &TValue::str("b")), Ok(true));
        assert!(go_lt(&TValue::Bool(true), &TValue::Bool(false)).is_err());
        assert_eq!(
            go_le(&TValue::Float(f64::NAN), &TValue::Float(1.0)),
            Ok(false)
        );
        let l = TValue::list(ListKind::Any, vec![]);
        assert!(go_eq(&l, &l).is_err());
    }

    #[test]
    fn labels_become_string_maps() {
        let l = Labels::from_pairs([("job", "api"), ("instance", "a:1")]);
        let TValue::Map(m) = TValue::labels(&l, MapKind::Strings) else {
            panic!("not a map")
        };
        assert_eq!(m.entries.len(), 2);
        assert_eq!(m.entries.get("job").and_then(|v| v.as_str()), Some("api"));
    }
}
