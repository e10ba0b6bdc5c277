//! Methods that Go types expose to templates: Alertmanager's `KV.SortedPairs`,
//! `Pairs.Names`, `Alerts.Firing`, and `time.Time`/`time.Duration` methods
//! such as `.Format "2006-01-02"` and `.Unix`.
//!
//! As in Go, a method wins over a map key or struct field of the same name.

use std::sync::Arc;

use super::gotime::{duration_string, GoTime};
use super::value::{ListKind, MapKind, TList, TMap, TValue};

/// The alert name label, which `KV.SortedPairs` puts first.
const ALERTNAME: &str = "alertname";

/// Calls method `name` on `recv`, or returns `None` if its type has no such
/// method.
pub fn call(recv: &TValue, name: &str, args: &[TValue]) -> Option<Result<TValue, String>> {
    let want = |n: usize| -> Result<(), String> {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!(
                "wrong number of args for {name}: want {n} got {}",
                args.len()
            ))
        }
    };
    let result = match recv {
        TValue::Map(m) if m.kind == MapKind::Kv => match name {
            "SortedPairs" => want(0).map(|_| sorted_pairs(m)),
            "Names" => want(0).map(|_| pair_column(&sorted_pairs(m), 0)),
            "Values" => want(0).map(|_| pair_column(&sorted_pairs(m), 1)),
            "String" => want(0).map(|_| TValue::str(kv_string(m))),
            "Remove" => want(1).and_then(|_| remove(m, &args[0])),
            _ => return None,
        },
        TValue::List(l) => match (l.kind, name) {
            (ListKind::Pairs, "Names") => want(0).map(|_| pair_column(recv, 0)),
            (ListKind::Pairs, "Values") => want(0).map(|_| pair_column(recv, 1)),
            (ListKind::Pairs, "String") => want(0).map(|_| TValue::str(pairs_string(l))),
            (ListKind::Strings, "Join") => want(1).and_then(|_| join(l, &args[0])),
            (ListKind::Alerts, "Firing") => want(0).map(|_| alerts_with_status(l, "firing")),
            (ListKind::Alerts, "Resolved") => want(0).map(|_| alerts_with_status(l, "resolved")),
            _ => return None,
        },
        TValue::Time(t) => return time_method(t, name, args, want),
        TValue::Duration(d) => return duration_method(*d, name, want),
        _ => return None,
    };
    Some(result)
}

fn time_method(
    t: &GoTime,
    name: &str,
    args: &[TValue],
    want: impl Fn(usize) -> Result<(), String>,
) -> Option<Result<TValue, String>> {
    let secs = |f: fn(&GoTime) -> i64| want(0).map(|_| TValue::Int(f(t)));
    let other_time = || match args.first() {
        Some(TValue::Time(o)) => Ok(*o),
        Some(v) => Err(format!(
            "wrong type for value; expected time.Time; got {}",
            v.type_name()
        )),
        None => Err(format!("wrong number of args for {name}: want 1 got 0")),
    };
    Some(match name {
        "Format" => want(1).and_then(|_| match &args[0] {
            TValue::Str(layout) => Ok(TValue::str(t.format(layout))),
            v => Err(format!(
                "wrong type for value; expected string; got {}",
                v.type_name()
            )),
        }),
        "String" => want(0).map(|_| TValue::str(t.go_string())),
        "Unix" => secs(|t| t.secs),
        "UnixMilli" => secs(|t| clamp_i64(t.unix_nanos().div_euclid(1_000_000))),
        "UnixMicro" => secs(|t| clamp_i64(t.unix_nanos().div_euclid(1_000))),
        "UnixNano" => secs(|t| clamp_i64(t.unix_nanos())),
        "UTC" | "Local" | "Round" | "Truncate" if args.is_empty() => Ok(TValue::Time(*t)),
        "IsZero" => want(0).map(|_| TValue::Bool(t.is_zero())),
        "Year" => want(0).map(|_| TValue::Int(t.format("2006").parse().unwrap_or(0))),
        "Day" => want(0).map(|_| TValue::Int(t.format("2").parse().unwrap_or(0))),
        "Hour" => want(0).map(|_| TValue::Int(t.format("15").parse().unwrap_or(0))),
        "Minute" => want(0).map(|_| TValue::Int(t.format("4").parse().unwrap_or(0))),
        "Second" => want(0).map(|_| TValue::Int(t.format("5").parse().unwrap_or(0))),
        "Add" => want(1).and_then(|_| match &args[0] {
            TValue::Duration(d) | TValue::Int(d) => Ok(TValue::Time(t.add_nanos(*d))),
            v => Err(format!(
                "wrong type for value; expected time.Duration; got {}",
                v.type_name()
            )),
        }),
        "Sub" => other_time().map(|o| TValue::Duration(clamp_i64(t.unix_nanos() - o.unix_nanos()))),
        "Before" => other_time().map(|o| TValue::Bool(*t < o)),
        "After" => other_time().map(|o| TValue::Bool(*t > o)),
        "Equal" => other_time().map(|o| TValue::Bool(*t == o)),
        _ => return None,
    })
}

fn duration_method(
    d: i64,
    name: &str,
    want: impl Fn(usize) -> Result<(), String>,
) -> Option<Result<TValue, String>> {
    let split = |unit: i64| (d / unit) as f64 + (d % unit) as f64 / unit as f64;
    let v = match name {
        "String" => TValue::str(duration_string(d)),
        "Seconds" => TValue::Float(split(1_000_000_000)),
        "Minutes" => TValue::Float(split(60_000_000_000)),
        "Hours" => TValue::Float(split(3_600_000_000_000)),
        "Milliseconds" => TValue::Int(d / 1_000_000),
        "Microseconds" => TValue::Int(d / 1_000),
        "Nanoseconds" => TValue::Int(d),
        "Abs" => TValue::Duration(if d == i64::MIN { i64::MAX } else { d.abs() }),
        _ => return None,
    };
    Some(want(0).map(|_| v))
}

fn clamp_i64(v: i128) -> i64 {
    v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// `KV.SortedPairs()`: `alertname` first, then the other keys in order.
fn sorted_pairs(m: &TMap) -> TValue {
    let pair = |k: &Arc<str>, v: &TValue| {
        TValue::record(
            "template.Pair",
            vec![("Name", TValue::Str(k.clone())), ("Value", v.clone())],
        )
    };
    let first = m.entries.get_key_value(ALERTNAME).map(|(k, v)| pair(k, v));
    let rest = m
        .entries
        .iter()
        .filter(|(k, _)| &***k != ALERTNAME)
        .map(|(k, v)| pair(k, v));
    TValue::list(ListKind::Pairs, first.into_iter().chain(rest).collect())
}

/// `Pairs.Names()` (column 0) or `Pairs.Values()` (column 1).
fn pair_column(pairs: &TValue, col: usize) -> TValue {
    let items = match pairs {
        TValue::List(l) => l
            .items
            .iter()
            .filter_map(|p| match p {
                TValue::Record(r) => r.fields.get(col).map(|(_, v)| v.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    TValue::list(ListKind::Strings, items)
}

fn remove(m: &TMap, keys: &TValue) -> Result<TValue, String> {
    let TValue::List(keys) = keys else {
        return Err(format!(
            "wrong type for value; expected []string; got {}",
            keys.type_name()
        ));
    };
    let drop: Vec<&str> = keys.items.iter().filter_map(TValue::as_str).collect();
    let entries = m
        .entries
        .iter()
        .filter(|(k, _)| !drop.contains(&&***k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(TValue::map(MapKind::Kv, entries))
}

fn join(l: &TList, sep: &TValue) -> Result<TValue, String> {
    let sep = sep.as_str().ok_or_else(|| {
        format!(
            "wrong type for value; expected string; got {}",
            sep.type_name()
        )
    })?;
    let parts: Vec<String> = l.items.iter().map(TValue::to_go_string).collect();
    Ok(TValue::str(parts.join(sep)))
}

fn alerts_with_status(l: &TList, status: &str) -> TValue {
    let items = l
        .items
        .iter()
        .filter(|a| match a {
            TValue::Record(r) => r.get("Status").and_then(TValue::as_str) == Some(status),
            _ => false,
        })
        .cloned()
        .collect();
    TValue::list(ListKind::Any, items)
}

/// `KV.String()`: `alertname=X, a=b`.
pub fn kv_string(m: &TMap) -> String {
    match sorted_pairs(m) {
        TValue::List(l) => pairs_string(&l),
        _ => String::new(),
    }
}

/// `Pairs.String()`: `a=b, c=d`.
pub fn pairs_string(l: &TList) -> String {
    let parts: Vec<String> = l
        .items
        .iter()
        .map(|p| match p {
            TValue::Record(r) => {
                let f = |i: usize| {
                    r.fields
                        .get(i)
                        .map(|(_, v)| v.to_go_string())
                        .unwrap_or_default()
                };
                format!("{}={}", f(0), f(1))
            }
            other => other.to_go_string(),
        })
        .collect();
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Labels;

    fn kv() -> TValue {
        TValue::labels(
            &Labels::from_pairs([("b", "2"), ("alertname", "X"), ("a", "1")]),
            MapKind::Kv,
        )
    }

    #[test]
    fn kv_methods_match_alertmanager() {
        let v = kv();
        let pairs = call(&v, "SortedPairs", &[]).unwrap().unwrap();
        assert_eq!(pairs.to_go_string(), "alertname=X, a=1, b=2");
        assert_eq!(
            call(&v, "Names", &[]).unwrap().unwrap().to_go_string(),
            "[alertname a b]"
        );
        assert_eq!(
            call(&v, "Values", &[]).unwrap().unwrap().to_go_string(),
            "[X 1 2]"
        );
        let names = call(&v, "Names", &[]).unwrap().unwrap();
        let joined = call(&names, "Join", &[TValue::str(",")]).unwrap().unwrap();
        assert_eq!(joined.to_go_string(), "alertname,a,b");
        let keys = TValue::list(ListKind::Strings, vec![TValue::str("a")]);
        let removed = call(&v, "Remove", &[keys]).unwrap().unwrap();
        assert_eq!(removed.to_go_string(), "alertname=X, b=2");
        assert!(call(&v, "Nope", &[]).is_none());
        assert!(call(&v, "Names", &[TValue::Int(1)]).unwrap().is_err());
    }

    #[test]
    fn time_and_duration_methods() {
        let t = TValue::Time(GoTime {
            secs: 1353755652,
            nanos: 0,
        });
        let f = call(&t, "Format", &[TValue::str("2006-01-02")])
            .unwrap()
            .unwrap();
        assert_eq!(f.to_go_string(), "2012-11-24");
        assert_eq!(
            call(&t, "UnixMilli", &[]).unwrap().unwrap().to_go_string(),
            "1353755652000"
        );
        let later = call(&t, "Add", &[TValue::Duration(-1_800_000_000_000)])
            .unwrap()
            .unwrap();
        assert_eq!(
            call(&later, "Unix", &[]).unwrap().unwrap().to_go_string(),
            "1353753852"
        );
        let d = TValue::Duration(90_000_000_000);
        assert_eq!(
            call(&d, "Seconds", &[]).unwrap().unwrap().to_go_string(),
            "90"
        );
        assert_eq!(
            call(&d, "String", &[]).unwrap().unwrap().to_go_string(),
            "1m30s"
        );
        assert!(call(&d, "Bogus", &[]).is_none());
    }
}
