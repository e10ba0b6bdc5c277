//! Feeds arbitrary bytes to the exposition parser in both formats and
//! touches every piece of every entry: the parser must never panic.
//!
//! Run with `make fuzz` (all targets, bounded time) from the crate root.

#![no_main]

use libfuzzer_sys::fuzz_target;
use watchfire::scrape::exposition::{Entry, Format, Parser};

fuzz_target!(|data: &[u8]| {
    for format in [Format::PrometheusText, Format::OpenMetrics] {
        let mut buf = String::new();
        for entry in Parser::new(data, format) {
            match entry {
                Ok(Entry::Sample(s)) => {
                    let _ = (s.series, s.metric_name(), s.to_labels());
                    for label in s.labels {
                        label.value_into(&mut buf);
                        let _ = (label.name(), label.value());
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = e.to_string();
                }
            }
        }
    }
});
