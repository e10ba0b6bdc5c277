//! Alertmanager's default template functions (`template/template.go`
//! `DefaultFuncs`) for notification templates.
//!
//! Not provided: `toDate`/`mustToDate` (Go layout parsing) and `tz` for zones
//! other than UTC (no time zone database is bundled).

use std::fmt::Write as _;

use base64::Engine as _;

use super::funcs::{arg_str, native, string_list, strings_value, wrong_type, CallCtx, Native};
use super::gotime::GoTime;
use super::prom_funcs::{humanize_duration, re_match, re_replace_all, title, to_float};
use super::value::{ListKind, MapKind, TValue};
use crate::gostd::float::format_g;

/// Alertmanager's functions.
pub(crate) static FUNCS: &[Native] = &[
    native("toUpper", 1, Some(1), |_, a| {
        Ok(TValue::from(arg_str(a, 0)?.to_uppercase()))
    }),
    native("toLower", 1, Some(1), |_, a| {
        Ok(TValue::from(arg_str(a, 0)?.to_lowercase()))
    }),
    native("title", 1, Some(1), |_, a| {
        Ok(TValue::from(title(arg_str(a, 0)?, true)))
    }),
    native("trimSpace", 1, Some(1), |_, a| {
        Ok(TValue::from(arg_str(a, 0)?.trim()))
    }),
    native("join", 2, Some(2), |_, a| {
        Ok(TValue::from(string_list(&a[1])?.join(arg_str(a, 0)?)))
    }),
    native("match", 2, Some(2), re_match),
    native("safeHtml", 1, Some(1), |_, a| {
        Ok(TValue::Html(arg_str(a, 0)?.into()))
    }),
    native("safeUrl", 1, Some(1), |_, a| {
        Ok(TValue::Html(arg_str(a, 0)?.into()))
    }),
    native("urlUnescape", 1, Some(1), |_, a| {
        url_unescape(arg_str(a, 0)?).map(TValue::from)
    }),
    native("reReplaceAll", 3, Some(3), re_replace_all),
    native("stringSlice", 0, None, |_, a| {
        let items = a.iter().map(|v| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| wrong_type("string", v))
        });
        Ok(strings_value(items.collect::<Result<_, _>>()?))
    }),
    native("date", 2, Some(2), |_, a| {
        Ok(TValue::from(time_arg(&a[1])?.format(arg_str(a, 0)?)))
    }),
    native("tz", 2, Some(2), tz),
    native("now", 0, Some(0), |c, _| {
        Ok(TValue::Time(GoTime::from_unix_millis(c.data.now_ms)))
    }),
    native("since", 1, Some(1), |c, a| {
        let now = GoTime::from_unix_millis(c.data.now_ms).unix_nanos();
        let d = (now - time_arg(&a[0])?.unix_nanos()).clamp(i64::MIN as i128, i64::MAX as i128);
        Ok(TValue::Duration(d as i64))
    }),
    native("humanizeDuration", 1, Some(1), |_, a| {
        Ok(TValue::from(humanize_duration(to_float(&a[0])?)))
    }),
    native("toJson", 1, Some(1), |c, a| {
        let mut out = String::new();
        write_json(&mut out, &a[0], 0, c.max_string)?;
        Ok(TValue::from(out))
    }),
    native("base64encode", 1, Some(1), |_, a| {
        Ok(TValue::from(
            base64::engine::general_purpose::URL_SAFE.encode(arg_str(a, 0)?),
        ))
    }),
    native("base64decode", 1, Some(1), |_, a| {
        let bytes = base64::engine::general_purpose::URL_SAFE
            .decode(arg_str(a, 0)?)
            .map_err(|e| format!("illegal base64 data: {e}"))?;
        Ok(TValue::from(String::from_utf8_lossy(&bytes).into_owned()))
    }),
    native("list", 0, None, |_, a| {
        check_nesting("list", a)?;
        Ok(TValue::list(ListKind::Any, a.to_vec()))
    }),
    native("append", 1, None, |_, a| match &a[0] {
        TValue::List(l) => {
            check_nesting("append", a)?;
            let mut items = l.items.clone();
            items.extend_from_slice(&a[1..]);
            Ok(TValue::list(ListKind::Any, items))
        }
        v => Err(wrong_type("[]interface {}", v)),
    }),
    native("dict", 0, None, dict),
];

fn time_arg(v: &TValue) -> Result<GoTime, String> {
    match v {
        TValue::Time(t) => Ok(*t),
        v => Err(wrong_type("time.Time", v)),
    }
}

fn tz(_: &mut CallCtx<'_>, a: &[TValue]) -> Result<TValue, String> {
    let name = arg_str(a, 0)?;
    let t = time_arg(&a[1])?;
    match name {
        "" | "UTC" => Ok(TValue::Time(t)),
        _ => Err(format!("unknown time zone {name}")),
    }
}

/// Deepest value `list`, `append` and `dict` may build: a pipeline such as
/// `"a" | dict "a" | dict "a" | …` would otherwise nest values as deep as it is long, and
/// every walk over the value (printing, ranging, dropping) recurses that deep.
pub(crate) const MAX_VALUE_NESTING: usize = 64;

/// Refuses a new container whose elements nest [`MAX_VALUE_NESTING`] deep already.
fn check_nesting(name: &str, args: &[TValue]) -> Result<(), String> {
    if args.iter().any(|v| v.nesting() >= MAX_VALUE_NESTING) {
        return Err(format!(
            "{name}: value nested too deeply (limit {MAX_VALUE_NESTING})"
        ));
    }
    Ok(())
}

fn dict(_: &mut CallCtx<'_>, a: &[TValue]) -> Result<TValue, String> {
    check_nesting("dict", a)?;
    if a.len() % 2 != 0 {
        return Err("dict requires an even number of arguments".to_string());
    }
    let mut entries = std::collections::BTreeMap::new();
    for kv in a.chunks(2) {
        let TValue::Str(k) = &kv[0] else {
            return Err("dict keys must be strings".to_string());
        };
        entries.insert(k.clone(), kv[1].clone());
    }
    Ok(TValue::map(MapKind::Any, entries))
}

/// Go's `url.QueryUnescape`.
fn url_unescape(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s
                    .get(i + 1..i + 3)
                    .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()));
                let Some(hex) = hex else {
                    let bad: String = s[i..].chars().take(3).collect();
                    return Err(format!("invalid URL escape {bad:?}"));
                };
                out.push(u8::from_str_radix(hex, 16).map_err(|e| e.to_string())?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// JSON as Go's `encoding/json` writes it: `<`, `>`, `&` escaped, struct
/// fields of Alertmanager's types under their JSON names.
fn write_json(out: &mut String, v: &TValue, depth: usize, cap: usize) -> Result<(), String> {
    if depth > 64 {
        return Err("json: value nested too deeply".to_string());
    }
    if out.len() > cap {
        return Err("json: value too large".to_string());
    }
    match v {
        TValue::Null => out.push_str("null"),
        TValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        TValue::Int(i) | TValue::Duration(i) => {
            let _ = write!(out, "{i}");
        }
        TValue::Float(f) => {
            if !f.is_finite() {
                return Err(format!(
                    "json: unsupported value: {}",
                    format_g(*f, None, false)
                ));
            }
            out.push_str(&json_float(*f));
        }
        TValue::Str(s) | TValue::Html(s) => crate::gostd::json::string(out, s),
        TValue::Time(t) => {
            crate::gostd::json::string(out, &t.format("2006-01-02T15:04:05.999999999Z07:00"))
        }
        TValue::List(l) => {
            out.push('[');
            for (i, item) in l.items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item, depth + 1, cap)?;
            }
            out.push(']');
        }
        TValue::Map(m) => {
            out.push('{');
            for (i, (k, item)) in m.entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                crate::gostd::json::string(out, k);
                out.push(':');
                write_json(out, item, depth + 1, cap)?;
            }
            out.push('}');
        }
        TValue::Record(r) => {
            let tagged = matches!(r.type_name, "template.Data" | "template.Alert");
            out.push('{');
            for (i, (k, item)) in r.fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let name = if tagged {
                    lower_first(k)
                } else {
                    k.to_string()
                };
                crate::gostd::json::string(out, &name);
                out.push(':');
                write_json(out, item, depth + 1, cap)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or_else(String::new, |f| f.to_lowercase().chain(c).collect())
}

/// Go's JSON float format: `%f`-like unless the exponent is below -6 or at
/// least 21, then `%e` with a short exponent.
fn json_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        // Go's encoder shortens `e-07` to `e-7`; positive exponents are >= 21.
        return if e < 0 {
            format!("{m}e-{}", e.unsigned_abs())
        } else {
            format!("{m}e+{e}")
        };
    }
    format!("{f}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_matches_go() {
        let mut out = String::new();
        let m = TValue::map(
            MapKind::Any,
            [
                ("a".into(), TValue::str("<x>")),
                ("b".into(), TValue::Float(1.5)),
            ]
            .into_iter()
            .collect(),
        );
        write_json(&mut out, &m, 0, 1000).unwrap();
        assert_eq!(out, r#"{"a":"\u003cx\u003e","b":1.5}"#);
        assert_eq!(json_float(1e21), "1e+21");
        assert_eq!(json_float(1e-7), "1e-7");
        assert_eq!(json_float(1.5e-12), "1.5e-12");
        assert_eq!(json_float(100.0), "100");
        assert!(write_json(&mut String::new(), &TValue::Float(f64::NAN), 0, 1000).is_err());
    }

    #[test]
    fn url_unescape_matches_go() {
        assert_eq!(url_unescape("a+b%2Fc").unwrap(), "a b/c");
        assert_eq!(
            url_unescape("%zz").unwrap_err(),
            "invalid URL escape \"%zz\""
        );
    }
}
