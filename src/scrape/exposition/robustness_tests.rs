//! No-panic checks without a fuzzing engine: every truncation and thousands
//! of byte mutations of the shared fixtures, in both formats, with every
//! accessor of every entry exercised.

use std::path::Path;

use super::{Entry, Format, Parser};

const FORMATS: [Format; 2] = [Format::PrometheusText, Format::OpenMetrics];

/// Bytes that matter to the grammars, to splice in more often than chance.
const INTERESTING: &[u8] = b"{}\"\\=, \t\n#\0\xff\xc3_:.eE+-0123456789";

/// Parses `input` to the end, touching every piece of every entry.
fn exercise(input: &[u8], format: Format) -> usize {
    let mut touched = 0;
    let mut buf = String::new();
    for entry in Parser::new(input, format) {
        match entry {
            Ok(Entry::Sample(s)) => {
                touched += s.series.len() + s.metric_name().len() + s.to_labels().len();
                for l in s.labels {
                    l.value_into(&mut buf);
                    touched += l.name().len() + l.value().len() + buf.len();
                }
            }
            Ok(Entry::Help { help, .. }) => touched += help.len(),
            Ok(_) => touched += 1,
            Err(e) => {
                touched += e.to_string().len();
                assert!(e.line >= 1 && e.column >= 1, "{e}");
            }
        }
    }
    touched
}

/// The fixture files, or `None` (with a message) when the shared folder is absent.
fn fixtures() -> Option<Vec<(String, Vec<u8>)>> {
    // `WATCHFIRE_SHARED` lets a checkout outside the workspace point at the data.
    let root = std::env::var_os("WATCHFIRE_SHARED").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"),
        Into::into,
    );
    let dirs = [
        root.join("fixtures/exposition"),
        root.join("conformance/exposition/prometheus-textparse"),
        root.join("conformance/exposition/prometheus-promtool"),
        root.join("conformance/exposition/common-expfmt/fuzz-corpus"),
    ];
    if !dirs[0].is_dir() {
        eprintln!(
            "skipping: shared fixtures not found at {}",
            dirs[0].display()
        );
        return None;
    }
    let mut out = Vec::new();
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for path in entries.into_iter().filter(|p| p.is_file()) {
            let bytes = std::fs::read(&path).ok()?;
            out.push((path.display().to_string(), bytes));
        }
    }
    Some(out)
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn truncations_never_panic() {
    let Some(files) = fixtures() else { return };
    for (name, bytes) in &files {
        // Every cut in small files, every 29th in big ones. A cut payload is
        // parsed from the start of a line up to 512 bytes before the cut: the
        // lines before that parse the same whatever follows them.
        let step = if bytes.len() <= 4096 { 1 } else { 29 };
        for cut in (0..=bytes.len()).step_by(step) {
            let (lo, hi) = (cut.saturating_sub(1024), cut.saturating_sub(512));
            let from = bytes[lo..hi]
                .iter()
                .rposition(|&c| c == b'\n')
                .map_or(lo, |i| lo + i + 1);
            for format in FORMATS {
                let head = &bytes[from..cut];
                let _ = std::panic::catch_unwind(|| exercise(head, format))
                    .unwrap_or_else(|_| panic!("panic on {name} cut at {cut} as {format:?}"));
                let tail = &bytes[cut..bytes.len().min(cut + 256)];
                let _ = std::panic::catch_unwind(|| exercise(tail, format))
                    .unwrap_or_else(|_| panic!("panic on {name} from {cut} as {format:?}"));
            }
        }
    }
}

#[test]
fn mutations_never_panic() {
    let Some(files) = fixtures() else { return };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for (name, bytes) in &files {
        for round in 0..600 {
            let start = rng.below(bytes.len());
            let mut window = bytes[start..bytes.len().min(start + 768)].to_vec();
            for _ in 0..=rng.below(4) {
                let at = rng.below(window.len());
                let byte = if rng.below(3) == 0 {
                    rng.next() as u8
                } else {
                    INTERESTING[rng.below(INTERESTING.len())]
                };
                match rng.below(3) {
                    0 if !window.is_empty() => window[at] = byte,
                    1 if !window.is_empty() => {
                        window.remove(at);
                    }
                    _ => window.insert(at.min(window.len()), byte),
                }
            }
            for format in FORMATS {
                let input = window.as_slice();
                let _ = std::panic::catch_unwind(|| exercise(input, format)).unwrap_or_else(|_| {
                    panic!(
                        "panic on mutation {round} of {name} as {format:?}: {:?}",
                        String::from_utf8_lossy(input)
                    )
                });
            }
        }
    }
}
