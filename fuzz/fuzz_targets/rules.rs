//! Loads arbitrary text as a rule file (PromQL, templates, thresholds
//! included): errors are fine, panics are not.

#![no_main]

use libfuzzer_sys::fuzz_target;
use watchfire::rules::{parse_rule_file, LoadOptions};

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    if let Err(errors) = parse_rule_file("fuzz.yml", text, LoadOptions::default()) {
        for e in errors {
            let _ = e.to_string();
        }
    }
});
