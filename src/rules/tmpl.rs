//! Template expansion for alert labels and annotations, behind two functions
//! ([`check`] at load, [`expand`] at evaluation) so that switching to the
//! crate's Go-compatible `template` engine is one place.
//!
//! Interim engine (until `template` is merged): checks that actions are
//! closed and that every variable is defined, and expands variable and field
//! references (`$labels.x`, `$value`, `.Labels.x`, `$externalLabels.x`,
//! `$externalURL`, `$threshold`, `$severity`) plus the pipeline functions
//! `toUpper`, `toLower` and `humanize`-free printing. Anything else expands
//! to Prometheus' `<error expanding template: …>` text.

use crate::model::Labels;

/// The variables Prometheus defines before the user's text, plus ours.
const PREDEFINED: [&str; 7] = [
    "$",
    "$labels",
    "$externalLabels",
    "$externalURL",
    "$value",
    "$threshold",
    "$severity",
];

/// What a template sees.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TemplateData<'a> {
    /// The result series' labels (metric name included).
    pub labels: &'a Labels,
    /// The global external labels.
    pub external_labels: &'a Labels,
    /// The external URL.
    pub external_url: &'a str,
    /// The sample value.
    pub value: f64,
    /// Threshold rules: the level the value is compared with.
    pub threshold: Option<f64>,
    /// Threshold rules: `warning` or `critical`.
    pub severity: Option<&'a str>,
}

/// One `{{ … }}` action: its inner text and line.
struct Action<'t> {
    body: &'t str,
    line: usize,
}

/// Splits `text` into literal text and actions.
fn lex(text: &str) -> Result<Vec<Result<&str, Action<'_>>>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut consumed = 0;
    while let Some(open) = rest.find("{{") {
        out.push(Ok(&rest[..open]));
        let after = &rest[open + 2..];
        let line = 1 + text[..consumed + open].matches('\n').count();
        let close = find_close(after).ok_or_else(|| format!("{line}: unclosed action"))?;
        let mut body = &after[..close];
        if let Some(b) = body.strip_prefix('-') {
            body = b;
        }
        if let Some(b) = body.strip_suffix('-') {
            body = b;
        }
        out.push(Err(Action {
            body: body.trim(),
            line,
        }));
        let skip = open + 2 + close + 2;
        consumed += skip;
        rest = &rest[skip..];
    }
    out.push(Ok(rest));
    Ok(out)
}

/// Finds the `}}` closing an action, skipping quoted strings and comments.
fn find_close(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
            }
            b'}' if b.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Variables referenced in an action body, and those it declares.
fn variables(body: &str) -> (Vec<&str>, Vec<&str>) {
    let mut used = Vec::new();
    let mut declared = Vec::new();
    let b = body.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' | b'`' => {
                let q = b[i];
                i += 1;
                while i < b.len() && b[i] != q {
                    if q == b'"' && b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'$' => {
                let start = i;
                i += 1;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                let name = &body[start..i];
                let rest = body[i..].trim_start();
                if rest.starts_with(":=") || rest.starts_with(',') {
                    declared.push(name);
                } else {
                    used.push(name);
                }
            }
            _ => i += 1,
        }
    }
    (used, declared)
}

/// Checks that a template parses: actions closed, variables defined.
pub(crate) fn check(text: &str) -> Result<(), String> {
    let mut defined: Vec<&str> = PREDEFINED.to_vec();
    for piece in lex(text)? {
        let Err(action) = piece else { continue };
        if action.body.starts_with("/*") {
            continue;
        }
        let (used, declared) = variables(action.body);
        defined.extend(declared);
        if let Some(bad) = used.iter().find(|v| !defined.contains(v)) {
            return Err(format!("{}: undefined variable {bad:?}", action.line));
        }
    }
    Ok(())
}

/// Expands a template; the error text is what Prometheus puts inside
/// `<error expanding template: …>`.
pub(crate) fn expand(name: &str, text: &str, data: &TemplateData<'_>) -> Result<String, String> {
    let mut out = String::new();
    for piece in lex(text).map_err(|e| format!("template: {name}:{e}"))? {
        match piece {
            Ok(lit) => out.push_str(lit),
            Err(action) if action.body.starts_with("/*") => {}
            Err(action) => {
                let v = eval_pipeline(action.body, data)
                    .map_err(|e| format!("template: {name}:{}: {e}", action.line))?;
                out.push_str(&v);
            }
        }
    }
    Ok(out)
}

fn eval_pipeline(body: &str, data: &TemplateData<'_>) -> Result<String, String> {
    let mut stages = body.split('|').map(str::trim);
    let first = stages.next().unwrap_or_default();
    let mut value = eval_operand(first, data)?;
    for f in stages {
        value = match f {
            "toUpper" => value.to_uppercase(),
            "toLower" => value.to_lowercase(),
            other => return Err(format!("function {other:?} not supported yet")),
        };
    }
    Ok(value)
}

fn eval_operand(op: &str, data: &TemplateData<'_>) -> Result<String, String> {
    if let Some(s) = op.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        return Ok(s.to_string());
    }
    let (root, field) = match op.split_once('.') {
        Some((r, f)) => (r, Some(f)),
        None => (op, None),
    };
    let label_of = |l: &Labels, f: Option<&str>| match f {
        Some(f) => Ok(l.get(f).unwrap_or("").to_string()),
        None => Ok(format_map(l)),
    };
    match (root, field) {
        ("$labels", f) => label_of(data.labels, f),
        ("$externalLabels", f) => label_of(data.external_labels, f),
        ("" | "$", Some(f)) => match f.split_once('.') {
            Some(("Labels", k)) => label_of(data.labels, Some(k)),
            Some(("ExternalLabels", k)) => label_of(data.external_labels, Some(k)),
            None if f == "Value" => Ok(go_float(data.value)),
            None if f == "ExternalURL" => Ok(data.external_url.to_string()),
            _ => Err(format!("can't evaluate field {f}")),
        },
        ("$value", None) => Ok(go_float(data.value)),
        ("$externalURL", None) => Ok(data.external_url.to_string()),
        ("$threshold", None) => Ok(data.threshold.map(go_float).unwrap_or_default()),
        ("$severity", None) => Ok(data.severity.unwrap_or_default().to_string()),
        _ => Err(format!("unsupported expression {op:?}")),
    }
}

/// Go's `map[string]string` printing: `map[a:b c:d]`.
fn format_map(l: &Labels) -> String {
    let inner: Vec<String> = l
        .iter()
        .map(|x| format!("{}:{}", x.name, x.value))
        .collect();
    format!("map[{}]", inner.join(" "))
}

/// Formats a float as Go's `%v` does: shortest digits, exponent form only
/// below 1e-4 or from 1e21.
pub(crate) fn go_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let sci = format!("{v:e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..21).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mant}e{sign}{:02}", exp.abs());
    }
    format!("{v}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data<'a>(labels: &'a Labels, ext: &'a Labels) -> TemplateData<'a> {
        TemplateData {
            labels,
            external_labels: ext,
            external_url: "http://x",
            value: 42.5,
            threshold: Some(5.0),
            severity: Some("critical"),
        }
    }

    #[test]
    fn check_finds_undefined_variables() {
        assert!(check("Instance {{ $labels.instance }} down").is_ok());
        let e = check("Instance {{ $label.foo }} down").unwrap_err();
        assert!(e.contains("undefined variable \"$label\""), "{e}");
        assert!(check("{{ $x := 1 }}{{ $x }}").is_ok());
        assert!(check("{{ range $i, $e := .Labels }}{{ $i }}{{ end }}").is_ok());
        assert!(check("{{ $labels.x ").is_err());
        assert!(check("{{ \"}}\" }}").is_ok());
    }

    #[test]
    fn expands_variables_and_fields() {
        let l = Labels::from_pairs([("instance", "a:1"), ("job", "j")]);
        let e = Labels::from_pairs([("dc", "eu")]);
        let d = data(&l, &e);
        let out = expand(
            "t",
            "{{ $labels.instance }} of {{ .Labels.job }} = {{ $value }}",
            &d,
        );
        assert_eq!(out.unwrap(), "a:1 of j = 42.5");
        let out = expand(
            "t",
            "{{ $externalLabels.dc }} {{ $severity | toUpper }} {{$threshold}}",
            &d,
        );
        assert_eq!(out.unwrap(), "eu CRITICAL 5");
        assert_eq!(expand("t", "{{ $labels.missing }}", &d).unwrap(), "");
        assert!(expand("t", "{{ humanize $value }}", &d).is_err());
    }

    #[test]
    fn go_float_matches_percent_v() {
        assert_eq!(go_float(1.0), "1");
        assert_eq!(go_float(0.5), "0.5");
        assert_eq!(go_float(1234567.0), "1234567");
        assert_eq!(go_float(1e21), "1e+21");
        assert_eq!(go_float(1.5e-5), "1.5e-05");
        assert_eq!(go_float(0.0001), "0.0001");
        assert_eq!(go_float(f64::INFINITY), "+Inf");
    }
}
