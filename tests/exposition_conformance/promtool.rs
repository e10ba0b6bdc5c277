//! Differential check against Prometheus' own parser through promtool:
//! write each fixture as OpenMetrics, `promtool tsdb create-blocks-from
//! openmetrics` it into a block, `promtool tsdb dump` the block, and compare
//! the (labels, value, timestamp) set with ours.
//!
//! How each fixture becomes OpenMetrics, and what cannot be compared:
//! - Backfilling needs a timestamp on every sample. Files that have one on
//!   every line (the two promtool dump files) are fed verbatim. For the
//!   others each sample line is rewritten as its series text exactly as
//!   written, its value token exactly as written, and a fixed timestamp, so
//!   Prometheus re-reads our series text and our value token.
//! - Text-format series written with blanks inside the braces are not valid
//!   OpenMetrics; those are re-encoded from our decoded labels, so for them
//!   only the value and the decoded labels' round trip are compared.
//! - HELP/TYPE lines are dropped: the dump holds no metadata, and the text
//!   format's `untyped` is not valid OpenMetrics. Without TYPE lines
//!   promtool does not re-format `le`/`quantile` values, which we do (as
//!   Prometheus 3 does after a histogram/summary TYPE); those two labels are
//!   compared as numbers. Exemplars are dropped (we check and discard them).
//! - The Debian promtool is 2.42: it cannot read quoted UTF-8 names; no
//!   fixture has any, and the test says so if one appears.
//! - Labels with empty values are absent on both sides (Prometheus drops them).

use std::collections::BTreeMap;
use std::process::Command;

use super::{parse_all, shared, Decoded, FIXTURES};
use watchfire::scrape::exposition::{Format, Parser};

/// The timestamp given to samples that have none (seconds).
const FIXED_SECONDS: i64 = 1_700_000_000;

type Key = (Vec<(String, String)>, u64, i64);

fn canonical_key(labels: &BTreeMap<String, String>, value: f64, ts: i64) -> Key {
    let labels = labels
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(n, v)| {
            let numeric = (n == "le" || n == "quantile")
                .then(|| v.parse::<f64>().ok())
                .flatten();
            (
                n.clone(),
                numeric.map_or_else(|| v.clone(), |f| format!("{f:?}")),
            )
        })
        .collect();
    let bits = if value.is_nan() {
        f64::NAN.to_bits()
    } else {
        value.to_bits()
    };
    (labels, bits, ts)
}

/// OpenMetrics escaping of a label value.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Builds the OpenMetrics input for promtool and the keys we expect back.
/// Returns (payload, expected keys, number of re-encoded lines).
fn to_openmetrics(bytes: &[u8], format: Format, samples: &[Decoded]) -> (String, Vec<Key>, usize) {
    let verbatim = format == Format::OpenMetrics && samples.iter().all(|s| s.timestamp.is_some());
    if verbatim {
        let keys = samples
            .iter()
            .map(|s| canonical_key(&s.labels, s.value, s.timestamp.unwrap_or(0)));
        return (
            String::from_utf8_lossy(bytes).into_owned(),
            keys.collect(),
            0,
        );
    }
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    let mut rewritten = 0;
    let parser = Parser::new(bytes, format).filter_map(|e| match e {
        Ok(watchfire::scrape::exposition::Entry::Sample(s)) => Some(s),
        _ => None,
    });
    for (s, decoded) in parser.zip(samples) {
        let line = lines
            .get(s.line - 1)
            .copied()
            .unwrap_or_default()
            .trim_start();
        let rest = line.get(s.series.len()..).unwrap_or_default().trim_start();
        let value_token = rest.split([' ', '\t']).next().unwrap_or_default();
        let candidate = format!("{} {value_token} {FIXED_SECONDS}\n", s.series);
        let check = format!("{candidate}# EOF\n");
        let same = parse_all(check.as_bytes(), Format::OpenMetrics)
            .ok()
            .and_then(|v| v.into_iter().next())
            .is_some_and(|(d, _)| {
                canonical_key(&d.labels, 0.0, 0).0 == canonical_key(&decoded.labels, 0.0, 0).0
            });
        if same {
            out.push_str(&candidate);
        } else {
            rewritten += 1;
            let name = &decoded.labels["__name__"];
            let labels: Vec<String> = decoded
                .labels
                .iter()
                .filter(|(n, _)| *n != "__name__")
                .map(|(n, v)| format!("{n}=\"{}\"", escape(v)))
                .collect();
            out.push_str(&format!(
                "{name}{{{}}} {value_token} {FIXED_SECONDS}\n",
                labels.join(",")
            ));
        }
    }
    out.push_str("# EOF\n");
    let keys = samples
        .iter()
        .map(|s| canonical_key(&s.labels, s.value, FIXED_SECONDS * 1000));
    (out, keys.collect(), rewritten)
}

/// Decodes a Go `strconv.Quote`d string (without the quotes).
fn go_unquote(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let hex = |chars: &mut std::str::Chars<'_>, n: usize| -> u32 {
            let digits: String = chars.by_ref().take(n).collect();
            u32::from_str_radix(&digits, 16).unwrap_or(0xfffd)
        };
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('a') => out.push('\u{7}'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('v') => out.push('\u{b}'),
            Some('x') => out.push(char::from_u32(hex(&mut chars, 2)).unwrap_or('\u{fffd}')),
            Some('u') => out.push(char::from_u32(hex(&mut chars, 4)).unwrap_or('\u{fffd}')),
            Some('U') => out.push(char::from_u32(hex(&mut chars, 8)).unwrap_or('\u{fffd}')),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Parses one `promtool tsdb dump` line: `{a="b", c="d"} value ts`.
fn parse_dump_line(line: &str) -> Option<Key> {
    let body = line.strip_prefix('{')?;
    let mut labels = BTreeMap::new();
    let mut rest = body;
    loop {
        rest = rest.trim_start_matches([',', ' ']);
        if let Some(r) = rest.strip_prefix('}') {
            rest = r;
            break;
        }
        let (name, r) = rest.split_once("=\"")?;
        let mut end = 0;
        let bytes = r.as_bytes();
        while end < bytes.len() && bytes[end] != b'"' {
            end += if bytes[end] == b'\\' { 2 } else { 1 };
        }
        labels.insert(name.to_string(), go_unquote(r.get(..end)?));
        rest = r.get(end + 1..)?;
    }
    let mut fields = rest.split_whitespace();
    let value = match fields.next()? {
        "NaN" => f64::NAN,
        v => v.parse().ok()?,
    };
    let ts = fields.next()?.parse().ok()?;
    Some(canonical_key(&labels, value, ts))
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn promtool_reads_every_fixture_like_we_do() {
    let Some(root) = shared() else { return };
    if Command::new("promtool").arg("--version").output().is_err() {
        eprintln!("skipping: promtool not on PATH (Debian: apt-get install prometheus)");
        return;
    }
    for (rel, format) in FIXTURES {
        let bytes = std::fs::read(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let ours: Vec<Decoded> = parse_all(&bytes, *format)
            .unwrap_or_else(|e| panic!("{rel}: {e}"))
            .into_iter()
            .map(|(d, _)| d)
            .collect();
        assert!(
            ours.iter().all(|d| d
                .labels
                .keys()
                .all(|n| n.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_'))),
            "{rel}: quoted UTF-8 names cannot go through promtool 2.42"
        );
        let (payload, mut want, rewritten) = to_openmetrics(&bytes, *format, &ours);
        let dir = tempfile::tempdir().expect("tempdir");
        let input = dir.path().join("input.om");
        std::fs::write(&input, &payload).expect("write input");
        let blocks = dir.path().join("blocks");
        run(Command::new("promtool")
            .args(["tsdb", "create-blocks-from", "openmetrics", "-q"])
            .arg(&input)
            .arg(&blocks))
        .unwrap_or_else(|e| panic!("{rel}: {e}"));
        std::fs::create_dir_all(blocks.join("wal")).expect("wal dir"); // dump opens the WAL too
        let dump = run(Command::new("promtool").args(["tsdb", "dump"]).arg(&blocks))
            .unwrap_or_else(|e| panic!("{rel}: {e}"));
        let mut got: Vec<Key> = dump
            .lines()
            .map(|l| {
                parse_dump_line(l).unwrap_or_else(|| panic!("{rel}: unreadable dump line {l:?}"))
            })
            .collect();
        want.sort();
        want.dedup();
        got.sort();
        let missing: Vec<&Key> = want
            .iter()
            .filter(|k| got.binary_search(k).is_err())
            .take(5)
            .collect();
        let extra: Vec<&Key> = got
            .iter()
            .filter(|k| want.binary_search(k).is_err())
            .take(5)
            .collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{rel}: ours only {missing:?}\npromtool only {extra:?}"
        );
        eprintln!(
            "{rel}: {} samples agree with promtool ({rewritten} lines re-encoded)",
            got.len()
        );
    }
}
